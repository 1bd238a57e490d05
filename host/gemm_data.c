/*
 * gemm_data.c - operand generation for the CLI (see gemm_data.h).
 *
 * Random operands: A and W uniform over all of int8; bias uniform in
 * +-2^L and the shift around 5 - L, where 2^L is the typical size of an
 * accumulator for this K (about 2^13 * sqrt(K)), so that requantized
 * outputs spread over the int8 range instead of saturating; mult uniform
 * in [2^30, 2^31 - 1] (a Q31 multiplier in [0.5, 1)); za and zo uniform
 * over int8.
 */
#include "gemm_data.h"

#include <stdlib.h>

#include "cli.h"

/* Indices of the per-operand random streams. */
enum stream { S_ZERO_POINTS, S_A, S_W, S_BIAS, S_MULT, S_SHIFT, S_COUNT };

uint64_t gemm_out_bytes(int64_t m, int64_t n, bool raw)
{
	return (uint64_t)m * (uint64_t)n * (raw ? 4 : 1);
}

/* log2 of the typical accumulator magnitude for @k: 13..25 for K up to
 * GEMM_MAX_DIM, so shifts drawn from [4 - l, 6 - l] stay in [-21, -7]. */
static int acc_log2(int64_t k)
{
	int lg = 0;

	while ((INT64_C(1) << lg) < k)
		lg++;
	return 13 + (lg + 1) / 2;
}

static int8_t *random_int8(struct cli_rng *r, size_t count)
{
	int8_t *p = malloc(count);

	if (p)
		for (size_t i = 0; i < count; i++)
			p[i] = (int8_t)cli_rng_range(r, -128, 127);
	return p;
}

static int32_t *random_int32(struct cli_rng *r, size_t count, int64_t lo, int64_t hi)
{
	int32_t *p = malloc(count * sizeof(*p));

	if (p)
		for (size_t i = 0; i < count; i++)
			p[i] = (int32_t)cli_rng_range(r, lo, hi);
	return p;
}

int gemm_data_fill(struct gemm_data *d, uint64_t seed)
{
	struct cli_rng root, r[S_COUNT];
	int l = acc_log2(d->k);
	size_t n = (size_t)d->n;

	cli_rng_seed(&root, seed);
	for (int i = 0; i < S_COUNT; i++)
		cli_rng_seed(&r[i], cli_rng_next(&root));
	if (d->from_files) {
		d->bias = d->bias ? d->bias : calloc(n ? n : 1, sizeof(*d->bias));
		if (!d->bias)
			return SAMPAN_ERROR_NO_MEM;
		d->za_set = d->zo_set = true; /* 0 unless given */
	}
	if (!d->za_set)
		d->za = (int32_t)cli_rng_range(&r[S_ZERO_POINTS], -128, 127);
	if (!d->zo_set)
		d->zo = (int32_t)cli_rng_range(&r[S_ZERO_POINTS], -128, 127);
	if (!d->a && !(d->a = random_int8(&r[S_A], (size_t)d->m * (size_t)d->k)))
		return SAMPAN_ERROR_NO_MEM;
	if (!d->w && !(d->w = random_int8(&r[S_W], (size_t)d->n * (size_t)d->k)))
		return SAMPAN_ERROR_NO_MEM;
	if (!d->bias &&
	    !(d->bias = random_int32(&r[S_BIAS], n, -(INT64_C(1) << l), INT64_C(1) << l)))
		return SAMPAN_ERROR_NO_MEM;
	if (!d->raw) {
		if (!d->mult &&
		    !(d->mult = random_int32(&r[S_MULT], n, INT64_C(1) << 30, INT32_MAX)))
			return SAMPAN_ERROR_NO_MEM;
		if (!d->shift && !(d->shift = random_int32(&r[S_SHIFT], n, 4 - l, 6 - l)))
			return SAMPAN_ERROR_NO_MEM;
	}
	d->out = malloc((size_t)gemm_out_bytes(d->m, d->n, d->raw));
	return d->out ? SAMPAN_OK : SAMPAN_ERROR_NO_MEM;
}

struct sampan_gemm gemm_data_desc(const struct gemm_data *d)
{
	struct sampan_gemm g = {
	    .m = d->m,
	    .k = d->k,
	    .n = d->n,
	    .a = d->a,
	    .w = d->w,
	    .bias = d->bias,
	    .mult = d->mult,
	    .shift = d->shift,
	    .za = d->za,
	    .zo = d->zo,
	    .lo = d->lo,
	    .hi = d->hi,
	    .raw = d->raw,
	    .out = d->out,
	};
	return g;
}

void gemm_data_release(struct gemm_data *d)
{
	free(d->a);
	free(d->w);
	free(d->bias);
	free(d->mult);
	free(d->shift);
	free(d->out);
	d->a = d->w = NULL;
	d->bias = d->mult = d->shift = NULL;
	d->out = NULL;
}
