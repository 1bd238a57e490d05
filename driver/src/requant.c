/*
 * requant.c - the scalar reference of the requantizer (public API).
 *
 * TFLite's MultiplyByQuantizedMultiplier, with the cases TFLite leaves
 * undefined fixed: the left shift wraps modulo 2^32 and the zero point is
 * added exactly before the clamp. No signed overflow anywhere.
 */
#include <stdint.h>

#include "sampan.h"

/* SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties away from
 * zero, saturating the one overflowing case INT32_MIN * INT32_MIN. */
static int32_t srdhm(int32_t a, int32_t b)
{
	int64_t ab, nudge;

	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	ab = (int64_t)a * b;
	nudge = ab >= 0 ? (INT64_C(1) << 30) : 1 - (INT64_C(1) << 30);
	/* C division truncates toward zero, as gemmlowp's does. */
	return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

/* RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from
 * zero; exponent in [0, 31]. */
static int32_t rounding_divide_by_pot(int32_t x, int exponent)
{
	int64_t mask = (INT64_C(1) << exponent) - 1;
	int64_t remainder = (int64_t)x & mask;
	int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);

	/* >> of a negative value is an arithmetic shift on every compiler we
	 * support (implementation-defined, not undefined). */
	return (int32_t)(((int64_t)x >> exponent) + (remainder > threshold ? 1 : 0));
}

int32_t sampan_mbqm(int32_t x, int32_t mult, int shift)
{
	int left, right;
	int32_t shifted;

	/* The hardware clamps shift to [-31, 31]; so does the reference. */
	if (shift > 31)
		shift = 31;
	if (shift < -31)
		shift = -31;
	left = shift > 0 ? shift : 0;
	right = shift > 0 ? 0 : -shift;
	/* x * 2^left modulo 2^32, done unsigned to stay defined. */
	shifted = (int32_t)((uint32_t)x << left);
	return rounding_divide_by_pot(srdhm(shifted, mult), right);
}

int8_t sampan_requantize(int32_t acc, int32_t mult, int shift, int32_t zo, int32_t lo, int32_t hi)
{
	int64_t y = (int64_t)sampan_mbqm(acc, mult, shift) + zo;

	if (y < lo)
		y = lo;
	if (y > hi)
		y = hi;
	/* lo and hi are int8 by contract; saturate anyway so that the result
	 * is always representable. */
	if (y < INT8_MIN)
		y = INT8_MIN;
	if (y > INT8_MAX)
		y = INT8_MAX;
	return (int8_t)y;
}
