/*
 * gemm_case.h - random GEMM problems for the device tests: shapes biased
 * toward the small and ragged, extreme operands, zero points and
 * requantization parameters; and their check against ref.c.
 */
#ifndef SAMPAN_TEST_GEMM_CASE_H
#define SAMPAN_TEST_GEMM_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "sampan.h"
#include "util.h"

/* One problem with the arrays it owns. */
struct gemm_case {
	struct sampan_gemm g;
	int8_t *a, *w;                /* (M, K), (N, K) */
	int32_t *bias, *mult, *shift; /* (N) each; bias may be NULL in g */
	void *out, *want;             /* (M, N), int32 if raw, else int8 */
	size_t out_bytes;
	char desc[160]; /* what it is, for failure messages */
};

/* Limits of a random draw. */
struct gemm_limits {
	long max_dim;  /* M and N at most this (and K but for long_k) */
	long max_macs; /* M * N * K at most this */
	long long_k;   /* when > 0: K drawn above 1024 up to this, one time in 8 */
};

/* Draws a random problem; the reference result is computed into want. */
void gemm_case_random(struct gemm_case *c, struct rng *r, const struct gemm_limits *lim);

/* A problem of the given shape with otherwise random content. */
void gemm_case_shape(struct gemm_case *c, struct rng *r, long m, long k, long n, int raw);

/* Computes c->want from the reference and poisons c->out. */
void gemm_case_reference(struct gemm_case *c);

/* Number of output elements that differ from the reference; logs the first
 * few with @tag. */
size_t gemm_case_mismatches(const struct gemm_case *c, const char *tag);

void gemm_case_free(struct gemm_case *c);

#endif /* SAMPAN_TEST_GEMM_CASE_H */
