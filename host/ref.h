/*
 * ref.h - the CLI's own reference GEMM, written from the numeric contract
 * alone (README.md, "Numerics", and the top of driver/include/sampan.h), to
 * check what a device returns.
 */
#ifndef SAMPAN_HOST_REF_H
#define SAMPAN_HOST_REF_H

#include "sampan.h"

/* Computes the GEMM @g describes into @out ((M, N) row-major, int32_t if
 * g->raw, else int8_t), ignoring g->out: a plain triple loop over the
 * wrapping int32 accumulation, then sampan_requantize() per element. */
void ref_gemm(const struct sampan_gemm *g, void *out);

/* The block-scaled GEMM @g describes (rtl/ARCHITECTURE.md, "Block-scaled
 * numerics") into @out ((M, N) float32 bit patterns), ignoring g->out:
 * per block the exact integer sum, then the float rules' fmul and fadd
 * evaluated in double and rounded to float by hand. */
void ref_gemm_q8(const struct sampan_gemm_q8 *g, uint32_t *out);

#endif /* SAMPAN_HOST_REF_H */
