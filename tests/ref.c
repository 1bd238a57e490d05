/*
 * ref.c - the naive reference of the numeric contract (see ref.h).
 */
#include "ref.h"

#include <stddef.h>

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
			int32_t acc = ref_dot(a + i * k, 1, w + j * k, 1, k, za, bias ? bias[j] : 0);

			if (raw)
				((int32_t *)out)[i * n + j] = acc;
			else
				((int8_t *)out)[i * n + j] = (int8_t)ref_requantize(
					acc, mult[j], shift[j], zo, lo, hi);
		}
	}
}
