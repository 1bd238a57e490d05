/*
 * ref.h - an independent, naive reference of sampan's numeric contract
 * (README.md, "Numerics"; the block-scaled rules in rtl/ARCHITECTURE.md,
 * "Float rules"), written from the TFLite formulas and deliberately sharing
 * no code with the driver. Every test compares a
 * device or a library function against these.
 *
 * Nothing here relies on signed overflow, on the result of shifting a
 * negative value, or on converting an out-of-range value to a signed type:
 * wrapping is done on uint64_t and mapped back explicitly.
 */
#ifndef SAMPAN_TEST_REF_H
#define SAMPAN_TEST_REF_H

#include <stdint.h>

/* Maps the low 32 bits of @v to int32 (two's complement). */
int32_t ref_wrap32(int64_t v);

/* SaturatingRoundingDoublingHighMul: round(a * b / 2^31) with TFLite's
 * nudge (2^30, or 1 - 2^30 for a negative product) and a division that
 * truncates toward zero; INT32_MIN * INT32_MIN saturates to INT32_MAX. */
int32_t ref_srdhm(int32_t a, int32_t b);

/* RoundingDivideByPOT: x / 2^exponent rounded half away from zero, through
 * TFLite's mask/remainder/threshold formulation. exponent in [0, 31]. */
int32_t ref_rdbpot(int32_t x, int exponent);

/* MultiplyByQuantizedMultiplier: x * 2^shift (wrapping modulo 2^32) when
 * shift > 0, then ref_srdhm by mult, then ref_rdbpot by -shift when
 * shift < 0. shift in [-31, 31]. */
int32_t ref_mbqm(int32_t x, int32_t mult, int shift);

/* clamp(ref_mbqm(acc, mult, shift) + zo, lo, hi), the addition exact. */
int32_t ref_requantize(int32_t acc, int32_t mult, int shift, int32_t zo, int32_t lo, int32_t hi);

/* acc = bias + sum_k (a[k] - za) * w[k] over @k terms, @stride_a and
 * @stride_w apart, in wrapping int32. */
int32_t ref_dot(const int8_t *a, long stride_a, const int8_t *w, long stride_w, long k, int32_t za,
                int32_t bias);

/* A whole GEMM: A (M, K), W (N, K) row-major, bias (N) or NULL.
 * raw: out is int32 (M, N) acc; otherwise int8 (M, N) requantized with
 * mult (N), shift (N), zo, lo, hi. */
void ref_gemm(long m, long k, long n, const int8_t *a, const int8_t *w, const int32_t *bias,
              const int32_t *mult, const int32_t *shift, int32_t za, int32_t zo, int32_t lo,
              int32_t hi, int raw, void *out);

/* ------------------------------------------------------ block-scaled */

/*
 * The float rules of rtl/ARCHITECTURE.md ("Block-scaled numerics") on bit
 * patterns, with integer arithmetic only (no C float operation), so that
 * they share nothing with the driver's or the cpu model's use of the C
 * float unit: round to nearest even with an unbounded exponent, then flush
 * below 2^-126 to a zero of the result's sign and overflow to Inf;
 * subnormal operands read as zero; every NaN result is 0x7FC00000.
 */
#define REF_QNAN 0x7FC00000u

/* IEEE binary16 -> binary32, exact; NaN -> REF_QNAN. */
uint32_t ref_h2f(uint16_t h);
/* IEEE binary32 -> binary16, round to nearest even (not part of the
 * device rules: the host's fp16 conversion, subnormals kept). */
uint16_t ref_f2h(uint32_t f);
/* An integer of magnitude < 2^31 as binary32 bits (exact below 2^24). */
uint32_t ref_i2f(int32_t v);
uint32_t ref_fmul(uint32_t a, uint32_t b);
uint32_t ref_fadd(uint32_t a, uint32_t b);

/*
 * A whole block-scaled GEMM: A (M, K) int8 with fp16 scales sa (M, K/32),
 * W (N, K) with sw (N, K/32), bias (N) fp32 bits or NULL; out (M, N) fp32
 * bits: acc = +0, acc = fadd(acc, fmul(i2f(isum_b), fmul(h2f(sw), h2f(sa))))
 * for b = 0, 1, ..., out = fadd(acc, bias).
 */
void ref_gemm_q8(long m, long k, long n, const int8_t *a, const uint16_t *sa, const int8_t *w,
                 const uint16_t *sw, const uint32_t *bias, uint32_t *out);

/* ggml's quantize_row_q8_0_ref on @k floats (k % 32 == 0): per block
 * d = amax / 127, id = d ? 1/d : 0, q = roundf(x * id), d as fp16 through
 * ref_f2h. */
void ref_quantize_q8_0(const float *x, long k, int8_t *q, uint16_t *d);

#endif /* SAMPAN_TEST_REF_H */
