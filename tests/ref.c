/*
 * ref.c - the naive reference of the numeric contract (see ref.h).
 */
#include "ref.h"

#include <stddef.h>
#include <string.h>

#define TWO_31 ((int64_t)1 << 31)
#define TWO_32 ((int64_t)1 << 32)

int32_t ref_wrap32(int64_t v)
{
	int64_t low = (int64_t)((uint64_t)v & 0xffffffffu); /* 0 .. 2^32-1 */

	return (int32_t)(low >= TWO_31 ? low - TWO_32 : low);
}

int32_t ref_srdhm(int32_t a, int32_t b)
{
	int64_t ab, nudge;

	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	ab = (int64_t)a * (int64_t)b;
	nudge = ab >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);
	/* C division truncates toward zero, as the contract wants; the
	 * quotient lies in [-2^31 + 1, 2^31 - 1] once the saturating case
	 * is out. */
	return (int32_t)((ab + nudge) / TWO_31);
}

int32_t ref_rdbpot(int32_t x, int exponent)
{
	int64_t mask = ((int64_t)1 << exponent) - 1;
	int64_t remainder = (int64_t)x & mask; /* x mod 2^exponent, in [0, mask] */
	int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
	/* Arithmetic shift right == floor division, done exactly. */
	int64_t floor_div = ((int64_t)x - remainder) / ((int64_t)1 << exponent);

	return (int32_t)(floor_div + (remainder > threshold ? 1 : 0));
}

int32_t ref_mbqm(int32_t x, int32_t mult, int shift)
{
	int left = shift > 0 ? shift : 0;
	int right = shift > 0 ? 0 : -shift;
	int32_t shifted = ref_wrap32((int64_t)((uint64_t)(uint32_t)x << left));

	return ref_rdbpot(ref_srdhm(shifted, mult), right);
}

int32_t ref_requantize(int32_t acc, int32_t mult, int shift, int32_t zo, int32_t lo, int32_t hi)
{
	int64_t y = (int64_t)ref_mbqm(acc, mult, shift) + zo;

	if (y < lo)
		y = lo;
	if (y > hi)
		y = hi;
	return (int32_t)y;
}

int32_t ref_dot(const int8_t *a, long stride_a, const int8_t *w, long stride_w, long k, int32_t za,
                int32_t bias)
{
	uint64_t acc = (uint64_t)(int64_t)bias;

	for (long i = 0; i < k; i++)
		acc += (uint64_t)((int64_t)(a[i * stride_a] - za) * w[i * stride_w]);
	return ref_wrap32((int64_t)(acc & 0xffffffffu));
}

void ref_gemm(long m, long k, long n, const int8_t *a, const int8_t *w, const int32_t *bias,
              const int32_t *mult, const int32_t *shift, int32_t za, int32_t zo, int32_t lo,
              int32_t hi, int raw, void *out)
{
	for (long i = 0; i < m; i++) {
		for (long j = 0; j < n; j++) {
			int32_t acc =
			    ref_dot(a + i * k, 1, w + j * k, 1, k, za, bias ? bias[j] : 0);

			if (raw)
				((int32_t *)out)[i * n + j] = acc;
			else
				((int8_t *)out)[i * n + j] =
				    (int8_t)ref_requantize(acc, mult[j], shift[j], zo, lo, hi);
		}
	}
}

/* ------------------------------------------------------ block-scaled */

/* Sign, biased exponent and fraction of binary32 bits. */
#define F_SIGN(u) ((u) >> 31)
#define F_EXP(u) (((u) >> 23) & 0xFFu)
#define F_FRAC(u) ((u)&0x7FFFFFu)
#define F_INF 0x7F800000u

uint32_t ref_h2f(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
	int lead = 9;

	if (e == 0x1F)
		return m ? REF_QNAN : sign | F_INF;
	if (e)
		return sign | (e - 15 + 127) << 23 | m << 13;
	if (!m)
		return sign;
	/* subnormal m * 2^-24: leading bit at lead, value 1.f * 2^(lead - 24) */
	while (!(m >> lead))
		lead--;
	return sign | (uint32_t)(lead - 24 + 127) << 23 | ((m << (23 - lead)) & 0x7FFFFFu);
}

uint16_t ref_f2h(uint32_t f)
{
	uint16_t sign = (uint16_t)((f >> 16) & 0x8000u);
	int e = (int)F_EXP(f) - 127;
	uint32_t sig = F_FRAC(f) | 0x800000u, q, rem, half;
	int drop;

	if (F_EXP(f) == 0xFF)
		return (uint16_t)(sign | (F_FRAC(f) ? 0x7E00u : 0x7C00u));
	if (F_EXP(f) == 0 || e < -26)
		return sign; /* below a quarter of the smallest fp16 subnormal */
	/* Keep the bits down to 2^-24 (subnormal) or 11 significant bits. */
	drop = e >= -14 ? 13 : 13 + (-14 - e);
	q = sig >> drop;
	rem = sig & ((1u << drop) - 1u);
	half = 1u << (drop - 1);
	if (rem > half || (rem == half && (q & 1u)))
		q++;
	if (e < -14)
		return (uint16_t)(sign | q); /* 0x400 is the smallest normal */
	if (q >> 11) {
		q >>= 1;
		e++;
	}
	if (e > 15)
		return (uint16_t)(sign | 0x7C00u);
	return (uint16_t)(sign | (uint32_t)(e + 15) << 10 | (q & 0x3FFu));
}

/*
 * Rounds sign * x * 2^e (x > 0) to binary32 under the device rules: 24
 * significant bits, nearest even, exponent unbounded while rounding; then
 * flush or overflow.
 */
static uint32_t round_pack(uint32_t sign, uint64_t x, int e)
{
	int h = 63, shift;
	uint64_t q;
	int be;

	while (!(x >> h))
		h--;
	shift = h - 23;
	if (shift > 0) {
		uint64_t rem = x & (((uint64_t)1 << shift) - 1), half = (uint64_t)1 << (shift - 1);

		q = x >> shift;
		if (rem > half || (rem == half && (q & 1)))
			q++;
		if (q >> 24) {
			q >>= 1;
			shift++;
		}
	} else {
		q = x << -shift;
	}
	/* value = q * 2^(e + shift), q in [2^23, 2^24) */
	be = e + shift + 23 + 127;
	if (be >= 255)
		return sign << 31 | F_INF;
	if (be <= 0)
		return sign << 31; /* below 2^-126: flushed */
	return sign << 31 | (uint32_t)be << 23 | (uint32_t)(q & 0x7FFFFFu);
}

uint32_t ref_i2f(int32_t v)
{
	uint32_t sign = v < 0;
	uint64_t mag = v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v;

	return mag ? round_pack(sign, mag, 0) : 0;
}

/* Kinds of an operand after reading subnormals as zero. */
enum fkind { F_ZERO, F_NORMAL, F_INFINITE, F_NAN };

static enum fkind kind(uint32_t u)
{
	if (F_EXP(u) == 0xFF)
		return F_FRAC(u) ? F_NAN : F_INFINITE;
	return F_EXP(u) ? F_NORMAL : F_ZERO;
}

/* A normal operand as sig * 2^exp with a 24-bit integer sig. */
static uint64_t sig_of(uint32_t u)
{
	return F_FRAC(u) | 0x800000u;
}

static int exp_of(uint32_t u)
{
	return (int)F_EXP(u) - 127 - 23;
}

uint32_t ref_fmul(uint32_t a, uint32_t b)
{
	enum fkind ka = kind(a), kb = kind(b);
	uint32_t sign = F_SIGN(a) ^ F_SIGN(b);

	if (ka == F_NAN || kb == F_NAN)
		return REF_QNAN;
	if (ka == F_INFINITE || kb == F_INFINITE)
		return ka == F_ZERO || kb == F_ZERO ? REF_QNAN : sign << 31 | F_INF;
	if (ka == F_ZERO || kb == F_ZERO)
		return sign << 31;
	/* 24 x 24 bits: the exact product fits 48 bits */
	return round_pack(sign, sig_of(a) * sig_of(b), exp_of(a) + exp_of(b));
}

uint32_t ref_fadd(uint32_t a, uint32_t b)
{
	enum fkind ka = kind(a), kb = kind(b);
	uint64_t xa, xb, x;
	int ea, eb, d;
	uint32_t sign;

	if (ka == F_NAN || kb == F_NAN)
		return REF_QNAN;
	if (ka == F_INFINITE && kb == F_INFINITE)
		return F_SIGN(a) == F_SIGN(b) ? a : REF_QNAN;
	if (ka == F_INFINITE)
		return a;
	if (kb == F_INFINITE)
		return b;
	if (ka == F_ZERO && kb == F_ZERO)
		return (F_SIGN(a) & F_SIGN(b)) << 31;
	if (ka == F_ZERO)
		return b;
	if (kb == F_ZERO)
		return a;
	/* Order by magnitude: a the larger. */
	if ((a & 0x7FFFFFFFu) < (b & 0x7FFFFFFFu)) {
		uint32_t t = a;
		a = b;
		b = t;
	}
	ea = exp_of(a);
	eb = exp_of(b);
	d = ea - eb;
	/*
	 * Align on b's exponent. Past 39 bits of distance b is below a
	 * quarter of a's last place and only decides the rounding as a
	 * sticky bit, so it is replaced by 1 at 2^(ea - 39), which rounds the
	 * same way (never a tie, never across a's neighbours).
	 */
	if (d > 39) {
		xa = sig_of(a) << 39;
		xb = 1;
		eb = ea - 39;
	} else {
		xa = sig_of(a) << d;
		xb = sig_of(b);
	}
	sign = F_SIGN(a);
	if (F_SIGN(a) == F_SIGN(b)) {
		x = xa + xb;
	} else {
		x = xa - xb; /* |a| >= |b| */
		if (!x)
			return 0; /* x - x = +0 */
	}
	return round_pack(sign, x, eb);
}

void ref_gemm_q8(long m, long k, long n, const int8_t *a, const uint16_t *sa, const int8_t *w,
                 const uint16_t *sw, const uint32_t *bias, uint32_t *out)
{
	long nb = k / 32;

	for (long i = 0; i < m; i++) {
		for (long j = 0; j < n; j++) {
			uint32_t acc = 0;

			for (long b = 0; b < nb; b++) {
				int32_t isum = 0;
				uint32_t s;

				for (long t = 0; t < 32; t++)
					isum +=
					    (int32_t)a[i * k + b * 32 + t] * w[j * k + b * 32 + t];
				s = ref_fmul(ref_h2f(sw[j * nb + b]), ref_h2f(sa[i * nb + b]));
				acc = ref_fadd(acc, ref_fmul(ref_i2f(isum), s));
			}
			out[i * n + j] = ref_fadd(acc, bias ? bias[j] : 0);
		}
	}
}

void ref_quantize_q8_0(const float *x, long k, int8_t *q, uint16_t *d)
{
	for (long b = 0; b < k / 32; b++) {
		float amax = 0.0f, dv, id;
		uint32_t bits;

		for (long j = 0; j < 32; j++) {
			float v = x[b * 32 + j] < 0 ? -x[b * 32 + j] : x[b * 32 + j];
			amax = amax > v ? amax : v;
		}
		dv = amax / 127;
		id = dv != 0.0f ? 1.0f / dv : 0.0f;
		memcpy(&bits, &dv, sizeof(bits));
		d[b] = ref_f2h(bits);
		for (long j = 0; j < 32; j++) {
			float v = x[b * 32 + j] * id, av = v < 0 ? -v : v;
			/* roundf, half away from zero: |v| <= 127, so av - t is exact */
			long t = (long)av;
			long r = t + (av - (float)t >= 0.5f);
			q[b * 32 + j] = (int8_t)(v < 0 ? -r : r);
		}
	}
}
