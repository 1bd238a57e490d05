/*
 * ref.h - the CLI's own reference GEMM, written from the numeric contract
 * alone (DESIGN.md), to check what a device returns.
 */
#ifndef SAMPAN_HOST_REF_H
#define SAMPAN_HOST_REF_H

#include "sampan.h"

/* Computes the GEMM @g describes into @out ((M, N) row-major, int32_t if
 * g->raw, else int8_t), ignoring g->out: a plain triple loop over the
 * wrapping int32 accumulation, then sampan_requantize() per element. */
void ref_gemm(const struct sampan_gemm *g, void *out);

#endif /* SAMPAN_HOST_REF_H */
