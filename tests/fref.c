/*
 * fref.c - an independent reference of the float rules of
 * rtl/ARCHITECTURE.md ("Block-scaled numerics"), for the RTL tests: double
 * arithmetic, whose results here are exact or rounded once to 53 bits
 * (innocuous before the final rounding to 24 bits: 53 >= 2*24 + 2), then
 * rounded to 24 bits by nearbyint() on the scaled significand with the
 * exponent unbounded, followed by the flush to zero and the overflow to
 * Inf. It shares no code with the RTL or with the driver's cpu model.
 */
#include <math.h>
#include <stdint.h>

#include "fref.h"

#define F32_NAN 0x7FC00000u

/* Rounds a double (finite) to binary32 bits: nearest, ties to even, the
 * exponent unbounded, then |r| < 2^-126 -> zero of its sign and |r| >=
 * 2^128 -> Inf. */
uint32_t fref_round(double x)
{
	uint32_t sign = signbit(x) ? 0x80000000u : 0;
	int e;
	double m, q;
	long be;

	if (x == 0.0)
		return sign;
	m = frexp(fabs(x), &e);      /* |x| = m * 2^e, m in [0.5, 1) */
	q = nearbyint(ldexp(m, 24)); /* significand, 2^23 .. 2^24 */
	if (q == 16777216.0) {
		q = 8388608.0;
		e++;
	}
	be = (long)e + 126; /* |x| = 1.f * 2^(e-1) */
	if (be <= 0)
		return sign;
	if (be >= 255)
		return sign | 0x7F800000u;
	return sign | (uint32_t)be << 23 | ((uint32_t)q - 0x800000u);
}

enum fclass { F_ZERO, F_FINITE, F_INF, F_NAN };

/* Decodes binary32 bits; a subnormal reads as zero of its sign. */
static enum fclass ref_f32(uint32_t b, double *v)
{
	unsigned e = (b >> 23) & 0xFF;
	double s = (b >> 31) ? -1.0 : 1.0;

	if (e == 0xFF) {
		*v = s * INFINITY;
		return (b & 0x7FFFFF) ? F_NAN : F_INF;
	}
	if (e == 0) {
		*v = s * 0.0;
		return F_ZERO;
	}
	*v = s * ldexp((double)(0x800000u | (b & 0x7FFFFF)), (int)e - 150);
	return F_FINITE;
}

/* Decodes binary16 bits exactly (subnormals are values here). */
static enum fclass ref_f16(uint16_t h, double *v)
{
	unsigned e = (h >> 10) & 0x1F, m = h & 0x3FF;
	double s = (h >> 15) ? -1.0 : 1.0;

	if (e == 31) {
		*v = s * INFINITY;
		return m ? F_NAN : F_INF;
	}
	if (e == 0) {
		*v = s * ldexp((double)m, -24);
		return m ? F_FINITE : F_ZERO;
	}
	*v = s * ldexp((double)(1024 + m), (int)e - 25);
	return F_FINITE;
}

uint32_t fref_h2f(uint16_t h)
{
	double v;
	enum fclass c = ref_f16(h, &v);

	if (c == F_NAN)
		return F32_NAN;
	if (c == F_INF)
		return (h >> 15) ? 0xFF800000u : 0x7F800000u;
	return fref_round(v); /* exact: at most 11 significant bits */
}

/* fmul of two products with the specials: a, b decoded values. */
static uint32_t ref_mul_special(enum fclass ca, double a, enum fclass cb, double b, int *done)
{
	uint32_t sign = (signbit(a) != 0) != (signbit(b) != 0) ? 0x80000000u : 0;

	*done = 1;
	if (ca == F_NAN || cb == F_NAN)
		return F32_NAN;
	if ((ca == F_INF && cb == F_ZERO) || (cb == F_INF && ca == F_ZERO))
		return F32_NAN;
	if (ca == F_INF || cb == F_INF)
		return sign | 0x7F800000u;
	*done = 0;
	return 0;
}

/* fmul(h2f(a), h2f(b)): the product of two 11-bit significands is exact
 * in double. */
uint32_t fref_scale(uint16_t ha, uint16_t hb)
{
	double a, b;
	enum fclass ca = ref_f16(ha, &a), cb = ref_f16(hb, &b);
	int done;
	uint32_t r = ref_mul_special(ca, a, cb, b, &done);

	return done ? r : fref_round(a * b);
}

/* fmul((float)isum, s): 20 x 24 bits, exact in double. (float)0 is +0. */
uint32_t fref_mul(int32_t isum, uint32_t s)
{
	double a = (double)isum, b;
	enum fclass ca = isum ? F_FINITE : F_ZERO, cb = ref_f32(s, &b);
	int done;
	uint32_t r = ref_mul_special(ca, a, cb, b, &done);

	return done ? r : fref_round(a * b);
}

/* fadd(a, b): the double sum is rounded once to 53 bits. */
uint32_t fref_add(uint32_t ua, uint32_t ub)
{
	double a, b;
	enum fclass ca = ref_f32(ua, &a), cb = ref_f32(ub, &b);

	if (ca == F_NAN || cb == F_NAN)
		return F32_NAN;
	if (ca == F_INF && cb == F_INF)
		return (ua >> 31) == (ub >> 31) ? ua : F32_NAN;
	if (ca == F_INF)
		return ua;
	if (cb == F_INF)
		return ub;
	/* -0 + -0 = -0, +0 + -0 = +0 and x + (-x) = +0 in double too. */
	return fref_round(a + b);
}
