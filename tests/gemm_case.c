/*
 * gemm_case.c - random GEMM problems and their check (see gemm_case.h).
 */
#include "gemm_case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

/* A dimension in [1, max]: often a size that is ragged against the array
 * (primes, tile edges +-1), often tiny, sometimes uniform. */
static long pick_dim(struct rng *r, long max)
{
	static const long special[] = {1,  2,  3,  5,  7,   13,  15,  16,  17,  31,  32,
	                               33, 61, 64, 97, 127, 128, 129, 251, 255, 256, 257};
	long d;

	switch (rng_range(r, 0, 7)) {
	case 0:
	case 1:
	case 2:
		d = special[rng_range(r, 0, COUNT(special) - 1)];
		break;
	case 3:
	case 4:
		d = rng_range(r, 1, 20);
		break;
	case 5:
		d = 1;
		break;
	default:
		d = rng_range(r, 1, max);
		break;
	}
	return d > max ? rng_range(r, 1, max) : d;
}

static int32_t pick_zero_point(struct rng *r)
{
	static const int32_t fixed[] = {-128, 0, 127};

	return rng_range(r, 0, 1) ? fixed[rng_range(r, 0, 2)] : (int32_t)rng_range(r, -128, 127);
}

/* Fills everything but the shape, which c->g already holds. */
static void fill_content(struct gemm_case *c, struct rng *r, int raw)
{
	struct sampan_gemm *g = &c->g;
	size_t mk = (size_t)(g->m * g->k), nk = (size_t)(g->n * g->k), n = (size_t)g->n;
	int pa = (int)rng_range(r, 0, FILL_PATTERNS - 1),
	    pw = (int)rng_range(r, 0, FILL_PATTERNS - 1);
	int bias_kind = (int)rng_range(r, 0, 7);
	int range_kind = (int)rng_range(r, 0, 3);

	c->a = xmalloc(mk);
	c->w = xmalloc(nk);
	c->bias = xmalloc(n * sizeof(int32_t));
	c->mult = xmalloc(n * sizeof(int32_t));
	c->shift = xmalloc(n * sizeof(int32_t));
	/* Mostly random operands: uniform patterns on both sides would make
	 * every output the same. */
	fill_i8(r, c->a, mk, rng_range(r, 0, 2) ? FILL_RANDOM : (enum fill_pattern)pa);
	fill_i8(r, c->w, nk, rng_range(r, 0, 2) ? FILL_RANDOM : (enum fill_pattern)pw);
	for (size_t j = 0; j < n; j++) {
		switch (bias_kind) {
		case 0:
			c->bias[j] = rng_range(r, 0, 1) ? INT32_MAX : INT32_MIN;
			break;
		case 1:
			c->bias[j] = rng_i32_edgy(r);
			break;
		default:
			c->bias[j] = (int32_t)rng_range(r, -200000, 200000);
			break;
		}
		/* Usual multipliers are Q31 in [0.5, 1); shifts near the
		 * accumulator's scale keep outputs off the rails, the rest
		 * probes the edges. */
		if (rng_range(r, 0, 7)) {
			c->mult[j] = (int32_t)rng_range(r, INT32_C(1) << 30, INT32_MAX);
			c->shift[j] = (int32_t)rng_range(r, -18, -2);
		} else {
			c->mult[j] = rng_i32_edgy(r);
			c->shift[j] = (int32_t)rng_range(r, -31, 31);
		}
	}
	g->a = c->a;
	g->w = c->w;
	g->bias = bias_kind == 7 ? NULL : c->bias;
	g->mult = c->mult;
	g->shift = c->shift;
	g->za = pick_zero_point(r);
	g->zo = pick_zero_point(r);
	switch (range_kind) {
	case 0: /* ReLU */
		g->lo = g->zo;
		g->hi = 127;
		break;
	case 1:
		g->lo = (int32_t)rng_range(r, -128, 127);
		g->hi = (int32_t)rng_range(r, g->lo, 127);
		break;
	default:
		g->lo = -128;
		g->hi = 127;
		break;
	}
	g->raw = raw;
	c->out_bytes = (size_t)(g->m * g->n) * (raw ? sizeof(int32_t) : 1);
	c->out = xmalloc(c->out_bytes);
	c->want = xmalloc(c->out_bytes);
	g->out = c->out;
	snprintf(c->desc, sizeof(c->desc),
	         "M=%lld K=%lld N=%lld %s za=%d zo=%d lo=%d hi=%d bias=%s patterns a%d w%d",
	         (long long)g->m, (long long)g->k, (long long)g->n, raw ? "raw" : "requant",
	         (int)g->za, (int)g->zo, (int)g->lo, (int)g->hi,
	         g->bias ? (bias_kind == 0 ? "extreme" : "random") : "NULL", pa, pw);
	gemm_case_reference(c);
}

void gemm_case_shape(struct gemm_case *c, struct rng *r, long m, long k, long n, int raw)
{
	memset(c, 0, sizeof(*c));
	c->g.m = m;
	c->g.k = k;
	c->g.n = n;
	fill_content(c, r, raw);
}

void gemm_case_random(struct gemm_case *c, struct rng *r, const struct gemm_limits *lim)
{
	long m, k, n;

	do {
		m = pick_dim(r, lim->max_dim);
		n = pick_dim(r, lim->max_dim);
		if (lim->long_k > 1024 && rng_range(r, 0, 7) == 0)
			k = rng_range(r, 1025, lim->long_k);
		else
			k = pick_dim(r, lim->max_dim);
	} while (m * n * k > lim->max_macs);
	gemm_case_shape(c, r, m, k, n, rng_range(r, 0, 2) == 0);
}

void gemm_case_reference(struct gemm_case *c)
{
	const struct sampan_gemm *g = &c->g;

	ref_gemm((long)g->m, (long)g->k, (long)g->n, g->a, g->w, g->bias, g->mult, g->shift, g->za,
	         g->zo, g->lo, g->hi, g->raw, c->want);
	memset(c->out, 0xa5, c->out_bytes);
}

size_t gemm_case_mismatches(const struct gemm_case *c, const char *tag)
{
	const struct sampan_gemm *g = &c->g;
	size_t bad = 0, count = (size_t)(g->m * g->n);

	for (size_t i = 0; i < count; i++) {
		int32_t got = g->raw ? ((const int32_t *)c->out)[i] : ((const int8_t *)c->out)[i];
		int32_t want =
		    g->raw ? ((const int32_t *)c->want)[i] : ((const int8_t *)c->want)[i];

		if (got != want && bad++ < 5)
			fprintf(stderr, "%s: %s: out[%zu][%zu] = %d, want %d\n", tag, c->desc,
			        i / (size_t)g->n, i % (size_t)g->n, got, want);
	}
	return bad;
}

void gemm_case_free(struct gemm_case *c)
{
	free(c->a);
	free(c->w);
	free(c->bias);
	free(c->mult);
	free(c->shift);
	free(c->out);
	free(c->want);
	memset(c, 0, sizeof(*c));
}
