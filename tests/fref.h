/*
 * fref.h - an independent reference of the project's float rules
 * (rtl/ARCHITECTURE.md, "Float rules"), in double arithmetic; see fref.c.
 * Values are IEEE bit patterns. Needs the default rounding mode
 * (FE_TONEAREST).
 */
#ifndef SAMPAN_TEST_FREF_H
#define SAMPAN_TEST_FREF_H

#include <stdint.h>

/* A finite double rounded to binary32: nearest, ties to even, exponent
 * unbounded; then |r| < 2^-126 flushes to a zero of its sign and |r| >=
 * 2^128 becomes Inf. */
uint32_t fref_round(double x);
/* h2f: binary16 to binary32, exact; every NaN becomes 0x7FC00000. */
uint32_t fref_h2f(uint16_t h);
/* fmul(h2f(a), h2f(b)). */
uint32_t fref_scale(uint16_t a, uint16_t b);
/* fmul((float)isum, s). */
uint32_t fref_mul(int32_t isum, uint32_t s);
/* fadd(a, b). */
uint32_t fref_add(uint32_t a, uint32_t b);

#endif /* SAMPAN_TEST_FREF_H */
