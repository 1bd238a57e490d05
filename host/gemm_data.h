/*
 * gemm_data.h - the operands and result of one GEMM as the CLI holds them:
 * read from .npy files or generated from a seed, then handed to libsampan
 * and to the reference.
 */
#ifndef SAMPAN_HOST_GEMM_DATA_H
#define SAMPAN_HOST_GEMM_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "sampan.h"

/* Largest dimension and largest single buffer the CLI accepts. */
#define GEMM_MAX_DIM (INT64_C(1) << 24)
#define GEMM_MAX_BYTES (UINT64_C(1) << 31)

/* One GEMM; every buffer is malloc'd and owned (NULL until read or
 * generated). */
struct gemm_data {
	int64_t m, k, n;
	int8_t *a;           /* (M, K) row-major */
	int8_t *w;           /* (N, K) row-major */
	int32_t *bias;       /* (N) */
	int32_t *mult;       /* (N) Q31 */
	int32_t *shift;      /* (N) in [-31, 31] */
	int32_t za, zo;      /* zero points, -128..127 */
	int32_t lo, hi;      /* output clamp */
	bool za_set, zo_set; /* given by the user; otherwise drawn from the seed */
	bool raw;            /* int32 accumulators out instead of requantized int8 */
	bool from_files;     /* A and W came from files: defaults are 0, not random */
	void *out;           /* (M, N) row-major: int32_t if raw, else int8_t */
};

/* Bytes of the result for a shape with dimensions <= GEMM_MAX_DIM. */
uint64_t gemm_out_bytes(int64_t m, int64_t n, bool raw);

/* Fills every operand still NULL (and za, zo unless set) with random
 * values from @seed, or with zeros when d->from_files, and allocates out. Each operand has its own
 * stream, so an operand's values depend only on the seed and the shape, not on which others came
 * from files. Returns SAMPAN_OK or SAMPAN_ERROR_NO_MEM. */
int gemm_data_fill(struct gemm_data *d, uint64_t seed);

/* The libsampan description of @d, writing into d->out. */
struct sampan_gemm gemm_data_desc(const struct gemm_data *d);

/* Frees every buffer. */
void gemm_data_release(struct gemm_data *d);

#endif /* SAMPAN_HOST_GEMM_DATA_H */
