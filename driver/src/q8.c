/*
 * q8.c - host-side pieces of the block-scaled format: IEEE binary16
 * conversions and ggml's Q8_0 activation quantizer.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "internal.h"

float sampan_fp16_to_fp32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
	uint32_t u;
	float f;

	if (exp == 0x1F) {
		u = sign | 0x7F800000u | man << 13 | (man ? 0x00400000u : 0); /* Inf, quiet NaN */
	} else if (exp == 0) {
		/* zero or subnormal: man * 2^-24, exact in float */
		f = (float)man * 0x1p-24f;
		return sign ? -f : f;
	} else {
		u = sign | (exp + 112) << 23 | man << 13;
	}
	memcpy(&f, &u, sizeof(f));
	return f;
}

uint16_t sampan_fp32_to_fp16(float f)
{
	uint32_t u, sign, exp, man;
	int e;

	memcpy(&u, &f, sizeof(u));
	sign = (u >> 16) & 0x8000u;
	exp = (u >> 23) & 0xFFu;
	man = u & 0x7FFFFFu;
	if (exp == 0xFF)
		return (uint16_t)(sign | 0x7C00u | (man ? 0x200u | man >> 13 : 0));
	if (exp == 0)
		return (uint16_t)sign; /* zero or fp32 subnormal: far below fp16's range */
	e = (int)exp - 127;
	man |= 0x800000u; /* 24-bit significand, value man * 2^(e - 23) */
	{
		/* fp16 keeps 11 bits for normals (e >= -14), fewer below. */
		int drop = e >= -14 ? 13 : 13 + (-14 - e);
		uint32_t q, rem, half;

		if (drop > 24)
			return (uint16_t)sign; /* below half the smallest subnormal */
		q = man >> drop;
		rem = man & ((1u << drop) - 1);
		half = 1u << (drop - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		if (e >= -14) {
			/* q in [2^10, 2^11]; a carry to 2^11 bumps the exponent */
			int he = e + 15;

			if (q == 0x800u) {
				q = 0x400u;
				he++;
			}
			if (he >= 31)
				return (uint16_t)(sign | 0x7C00u);
			return (uint16_t)(sign | (uint32_t)he << 10 | (q & 0x3FFu));
		}
		/* subnormal: q counts 2^-24; q == 0x400 is the smallest normal */
		return (uint16_t)(sign | q);
	}
}

int sampan_quantize_q8_0(const float *x, int64_t k, int8_t *q, uint16_t *d)
{
	if (!x || !q || !d)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_quantize_q8_0: NULL argument");
	if (k < 1 || k % SAMPAN_QBLOCK)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_quantize_q8_0: k = %" PRId64
		                 " must be a positive multiple of %d",
		                 k, SAMPAN_QBLOCK);
	for (int64_t b = 0; b < k / SAMPAN_QBLOCK; b++) {
		const float *xb = x + b * SAMPAN_QBLOCK;
		float amax = 0.0f, dv, id;

		/* ggml's MAX(amax, v): a NaN in the last place wins */
		for (int j = 0; j < SAMPAN_QBLOCK; j++) {
			float v = fabsf(xb[j]);
			amax = amax > v ? amax : v;
		}
		dv = amax / 127.0f;
		id = dv != 0.0f ? 1.0f / dv : 0.0f;
		d[b] = sampan_fp32_to_fp16(dv);
		for (int j = 0; j < SAMPAN_QBLOCK; j++) {
			float r = roundf(xb[j] * id);

			/* Finite inputs give |r| <= 127; a NaN (Inf * 0) gives 0 and
			 * anything else saturates rather than convert out of range. */
			q[b * SAMPAN_QBLOCK + j] = r != r        ? 0
			                           : r > 127.0f  ? 127
			                           : r < -128.0f ? -128
			                                         : (int8_t)r;
		}
	}
	return SAMPAN_OK;
}
