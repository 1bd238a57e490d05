/*
 * ref.c - naive reference GEMM (see ref.h).
 */
#include "ref.h"

#include <math.h>
#include <string.h>

void ref_gemm(const struct sampan_gemm *g, void *out)
{
	for (int64_t m = 0; m < g->m; m++) {
		for (int64_t n = 0; n < g->n; n++) {
			const int8_t *a = g->a + m * g->k; /* row m of (M, K) */
			const int8_t *w = g->w + n * g->k; /* row n of (N, K) */
			/* int32 wraparound, computed in uint32_t to stay defined. */
			uint32_t acc = g->bias ? (uint32_t)g->bias[n] : 0;
			int32_t value;

			for (int64_t k = 0; k < g->k; k++)
				acc += (uint32_t)(((int32_t)a[k] - g->za) * (int32_t)w[k]);
			value = (int32_t)acc;
			if (g->raw)
				((int32_t *)out)[m * g->n + n] = value;
			else
				((int8_t *)out)[m * g->n + n] = sampan_requantize(
				    value, g->mult[n], g->shift[n], g->zo, g->lo, g->hi);
		}
	}
}

/* ---------------------------------------------------------- block-scaled */

#define Q8_NAN 0x7FC00000u

static float from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint32_t to_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* binary16 to float: sign * significand * 2^exponent, exact. */
static float half_value(uint16_t h)
{
	int e = (h >> 10) & 0x1F, frac = h & 0x3FF;
	double v;

	if (e == 31)
		return frac ? from_bits(Q8_NAN) : (h & 0x8000 ? -INFINITY : INFINITY);
	v = e ? ldexp(1024 + frac, e - 25) : ldexp(frac, -24);
	return (float)(h & 0x8000 ? -v : v);
}

/* A subnormal float reads as a zero of its sign. */
static float read_operand(float x)
{
	return fpclassify(x) == FP_SUBNORMAL ? copysignf(0.0f, x) : x;
}

/*
 * Rounds @x, the exact result (or, for a sum of floats far apart, one
 * that rounds the same), to float: nearest even on 24 bits whatever the
 * exponent, then a flush below 2^-126 and the canonical NaN. Below 2^-126
 * the value is scaled by 2^64 first, where float rounding is the unbounded
 * one; it reached 2^-126 only if it rounds to 2^-62 there.
 */
static float round_rules(double x)
{
	if (isnan(x))
		return from_bits(Q8_NAN);
	if (x != 0.0 && fabs(x) < 0x1p-126) {
		float r = (float)ldexp(x, 64);

		return fabsf(r) >= 0x1p-62f ? copysignf(0x1p-126f, (float)x)
		                            : copysignf(0.0f, (float)x);
	}
	return (float)x;
}

static float rule_mul(float a, float b)
{
	a = read_operand(a);
	b = read_operand(b);
	return round_rules((double)a * (double)b); /* exact: 48 bits */
}

static float rule_add(float a, float b)
{
	a = read_operand(a);
	b = read_operand(b);
	return round_rules((double)a + (double)b);
}

void ref_gemm_q8(const struct sampan_gemm_q8 *g, uint32_t *out)
{
	int64_t nb = g->k / 32;

	for (int64_t m = 0; m < g->m; m++) {
		for (int64_t n = 0; n < g->n; n++) {
			float acc = 0.0f;

			for (int64_t b = 0; b < nb; b++) {
				const int8_t *a = g->a + m * g->k + b * 32,
				             *w = g->w + n * g->k + b * 32;
				int32_t isum = 0;
				float s;

				for (int j = 0; j < 32; j++)
					isum += (int32_t)a[j] * (int32_t)w[j];
				s = rule_mul(half_value(g->w_scale[n * nb + b]),
				             half_value(g->a_scale[m * nb + b]));
				acc = rule_add(acc, rule_mul((float)isum, s));
			}
			out[m * g->n + n] = to_bits(rule_add(acc, g->bias ? g->bias[n] : 0.0f));
		}
	}
}
