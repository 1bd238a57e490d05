/*
 * test_rtl_float.c - the float units of the block-scaled path
 * (rtl/sampan_fh2f.v, sampan_fscale.v, sampan_fmul.v, sampan_fadd.v)
 * through the sim C ABI, bit for bit against the independent double-based
 * reference of the float rules in fref.c, on every fp16 value, edge pairs
 * and random inputs.
 */
#include <criterion/criterion.h>
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fref.h"
#include "sampan_sim.h"
#include "util.h"

TestSuite(float_units, .timeout = 300);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))
#define F32_NAN 0x7FC00000u

/* ----------------------------------------------------------- the checks */

static struct ssim_float *fu_new(void)
{
	struct ssim_float *f = ssim_float_create();

	cr_assert_not_null(f, "ssim_float_create: %s", ssim_error(NULL));
	cr_assert_eq(fegetround(), FE_TONEAREST, "the reference needs round-to-nearest");
	return f;
}

/* Runs the unit on n pairs and compares every result; returns mismatches
 * (the first few are printed). */
static size_t check_scale(struct ssim_float *f, const uint16_t *a, const uint16_t *b, size_t n)
{
	uint32_t *out = xmalloc(n * sizeof(*out));
	size_t bad = 0;

	cr_assert_eq(ssim_float_scale(f, a, b, out, n), 0, "%s", ssim_error(NULL));
	for (size_t i = 0; i < n; i++) {
		uint32_t want = fref_scale(a[i], b[i]);

		if (out[i] != want && bad++ < 8)
			cr_log_error("scale(0x%04x, 0x%04x) = 0x%08x, want 0x%08x", a[i], b[i],
			             out[i], want);
	}
	free(out);
	return bad;
}

static size_t check_mul(struct ssim_float *f, const int32_t *a, const uint32_t *b, size_t n)
{
	uint32_t *out = xmalloc(n * sizeof(*out));
	size_t bad = 0;

	cr_assert_eq(ssim_float_mul(f, a, b, out, n), 0, "%s", ssim_error(NULL));
	for (size_t i = 0; i < n; i++) {
		uint32_t want = fref_mul(a[i], b[i]);

		if (out[i] != want && bad++ < 8)
			cr_log_error("mul(%d, 0x%08x) = 0x%08x, want 0x%08x", a[i], b[i], out[i],
			             want);
	}
	free(out);
	return bad;
}

static size_t check_add(struct ssim_float *f, const uint32_t *a, const uint32_t *b, size_t n)
{
	uint32_t *out = xmalloc(n * sizeof(*out));
	size_t bad = 0;

	cr_assert_eq(ssim_float_add(f, a, b, out, n), 0, "%s", ssim_error(NULL));
	for (size_t i = 0; i < n; i++) {
		uint32_t want = fref_add(a[i], b[i]);

		if (out[i] != want && bad++ < 8)
			cr_log_error("add(0x%08x, 0x%08x) = 0x%08x, want 0x%08x", a[i], b[i],
			             out[i], want);
	}
	free(out);
	return bad;
}

/* The reference itself on values whose answer is known by hand. */
Test(float_units, reference_sanity)
{
	cr_expect_eq(fref_h2f(0x3C00), 0x3F800000u); /* 1.0 */
	cr_expect_eq(fref_h2f(0x0001), 0x33800000u); /* 2^-24 */
	cr_expect_eq(fref_h2f(0x7BFF), 0x477FE000u); /* 65504 */
	cr_expect_eq(fref_h2f(0x8000), 0x80000000u); /* -0 */
	cr_expect_eq(fref_h2f(0x7C01), F32_NAN);
	cr_expect_eq(fref_add(0x3F800000u, 0x33800000u), 0x3F800000u); /* 1 + 2^-24: tie to even */
	cr_expect_eq(fref_add(0x3F800001u, 0x33800000u), 0x3F800002u); /* tie to even, up */
	cr_expect_eq(fref_add(0x00800001u, 0x80800000u), 0x00000000u); /* 2^-149: flushed */
	cr_expect_eq(fref_add(0x80800000u, 0x00800001u), 0x00000000u); /* +2^-149: +0 */
	cr_expect_eq(fref_add(0x80800001u, 0x00800000u), 0x80000000u); /* -2^-149: -0 */
	cr_expect_eq(fref_add(0x7F7FFFFFu, 0x73000000u), 0x7F800000u); /* max + half ulp: Inf */
	cr_expect_eq(fref_add(0x80000000u, 0x80000000u), 0x80000000u);
	cr_expect_eq(fref_add(0x00000000u, 0x80000000u), 0x00000000u);
	cr_expect_eq(fref_add(0x3F800000u, 0xBF800000u), 0x00000000u);
	cr_expect_eq(fref_add(0x7F800000u, 0xFF800000u), F32_NAN);
	cr_expect_eq(fref_mul(0, 0xBF800000u), 0x80000000u); /* +0 * -1 = -0 */
	cr_expect_eq(fref_mul(3, 0x3F800001u), 0x40400002u); /* 3 * (1 + 2^-23): tie, up to even */
	cr_expect_eq(fref_mul(2, 0x7F7FFFFFu), 0x7F800000u);
	cr_expect_eq(fref_mul(5, 0x00400000u), 0x00000000u); /* subnormal s reads as 0 */
	cr_expect_eq(fref_mul(0, 0x7F800000u), F32_NAN);
	cr_expect_eq(fref_scale(0x0001, 0x0001), 0x27800000u); /* 2^-48 */
	cr_expect_eq(fref_scale(0x7C00, 0x8000), F32_NAN);
}

/* Every binary16 value. */
Test(float_units, h2f_exhaustive)
{
	struct ssim_float *f = fu_new();
	uint16_t *h = xmalloc(65536 * sizeof(*h));
	uint32_t *out = xmalloc(65536 * sizeof(*out));
	size_t bad = 0;

	for (unsigned i = 0; i < 65536; i++)
		h[i] = (uint16_t)i;
	cr_assert_eq(ssim_float_h2f(f, h, out, 65536), 0, "%s", ssim_error(NULL));
	for (unsigned i = 0; i < 65536; i++)
		if (out[i] != fref_h2f(h[i]) && bad++ < 8)
			cr_log_error("h2f(0x%04x) = 0x%08x, want 0x%08x", i, out[i],
			             fref_h2f(h[i]));
	cr_expect_eq(bad, 0, "%zu of 65536 conversions differ", bad);
	free(h);
	free(out);
	ssim_float_destroy(f);
}

static const uint16_t f16_edges[] = {
    0x0000, 0x8000, 0x0001, 0x8001, 0x0002, 0x03FF, 0x83FF, 0x0200, 0x0400, 0x8400,
    0x0401, 0x3BFF, 0x3C00, 0xBC00, 0x3C01, 0x3555, 0x7BFF, 0xFBFF, 0x7BFE, 0x7C00,
    0xFC00, 0x7C01, 0x7E00, 0xFE00, 0x7FFF, 0xFFFF, 0x1400, 0x2E66,
};

Test(float_units, scale_edges)
{
	struct ssim_float *f = fu_new();
	const size_t n = COUNT(f16_edges) * COUNT(f16_edges);
	uint16_t *a = xmalloc(n * sizeof(*a)), *b = xmalloc(n * sizeof(*b));
	size_t k = 0, bad;

	for (size_t i = 0; i < COUNT(f16_edges); i++)
		for (size_t j = 0; j < COUNT(f16_edges); j++, k++) {
			a[k] = f16_edges[i];
			b[k] = f16_edges[j];
		}
	bad = check_scale(f, a, b, n);
	cr_expect_eq(bad, 0, "%zu of %zu edge products differ", bad, n);
	free(a);
	free(b);
	ssim_float_destroy(f);
}

Test(float_units, scale_random)
{
	uint64_t seed = test_seed("float_units::scale_random");
	struct rng r;
	struct ssim_float *f = fu_new();
	const size_t n = 200000;
	uint16_t *a = xmalloc(n * sizeof(*a)), *b = xmalloc(n * sizeof(*b));
	size_t bad;

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++) {
		a[i] = (uint16_t)rng_u64(&r);
		b[i] = (uint16_t)rng_u64(&r);
	}
	bad = check_scale(f, a, b, n);
	cr_expect_eq(bad, 0, "seed %llu: %zu of %zu products differ", (unsigned long long)seed, bad,
	             n);
	free(a);
	free(b);
	ssim_float_destroy(f);
}

static const uint32_t f32_edges[] = {
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00400000, 0x00800000,
    0x80800000, 0x00800001, 0x80800001, 0x00FFFFFF, 0x01000000, 0x3F800000, 0xBF800000, 0x3F800001,
    0xBF800001, 0x3FFFFFFF, 0x3F7FFFFF, 0x33800000, 0x34000000, 0xB3800000, 0x7F7FFFFF, 0xFF7FFFFF,
    0x7F7FFFFE, 0x7F000000, 0xFF000000, 0x73000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
    0xFFC00000, 0xFFFFFFFF, 0x4B000000, 0x4B7FFFFF, 0xCB000001, 0x27800000, 0x1F000000,
};

Test(float_units, mul_edges)
{
	static const int32_t isums[] = {
	    0,       1,       -1,       2,       -2,       3,       -3,
	    5,       127,     -128,     16383,   -16384,   65535,   262143,
	    -262143, 524287,  -524287,  524288,  -524288,  3 << 17, -(3 << 17),
	    0x55555, 1048575, -1048575, 1044480, -1044480, 3 << 18, -(3 << 18),
	};
	struct ssim_float *f = fu_new();
	const size_t n = COUNT(isums) * COUNT(f32_edges) + 8 * 18 * 6;
	int32_t *a = xmalloc(n * sizeof(*a));
	uint32_t *b = xmalloc(n * sizeof(*b));
	size_t k = 0, bad;

	for (size_t i = 0; i < COUNT(isums); i++)
		for (size_t j = 0; j < COUNT(f32_edges); j++, k++) {
			a[k] = isums[i];
			b[k] = f32_edges[j];
		}
	/* Ties: 3 * 2^t * (2^23 + m) drops exactly a half ulp for odd m. */
	for (int m = 0; m < 8; m++)
		for (int t = 0; t < 18; t++)
			for (int v = 0; v < 6; v++, k++) {
				static const int32_t base[] = {3, -3, 5, 7, 9, -11};

				a[k] = base[v] * (1 << t);
				if (a[k] >= 1048576 || a[k] <= -1048576)
					a[k] = base[v];
				b[k] = 0x3F800000u + (uint32_t)m + ((uint32_t)(t * 5) << 23);
			}
	cr_assert_eq(k, n);
	bad = check_mul(f, a, b, n);
	cr_expect_eq(bad, 0, "%zu of %zu edge products differ", bad, n);
	free(a);
	free(b);
	ssim_float_destroy(f);
}

/* A random scale: any bits, or an exponent near the ends of the range. */
static uint32_t rand_f32(struct rng *r)
{
	uint32_t u = (uint32_t)rng_u64(r);

	switch (rng_range(r, 0, 3)) {
	case 0:
		return u;
	case 1: /* near 2^-126 */
		return (u & 0x807FFFFFu) | (uint32_t)rng_range(r, 0, 24) << 23;
	case 2: /* near 2^128 */
		return (u & 0x807FFFFFu) | (uint32_t)rng_range(r, 220, 255) << 23;
	default: /* few significant bits: ties */
		return (u & 0xFF800000u) | ((u >> 9) & 0x7u);
	}
}

Test(float_units, mul_random)
{
	uint64_t seed = test_seed("float_units::mul_random");
	struct rng r;
	struct ssim_float *f = fu_new();
	const size_t n = 200000;
	int32_t *a = xmalloc(n * sizeof(*a));
	uint32_t *b = xmalloc(n * sizeof(*b));
	size_t bad;

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++) {
		int bits = (int)rng_range(&r, 0, 20);

		a[i] = (int32_t)rng_range(&r, 1 - (1 << bits), (1 << bits) - 1);
		b[i] = rand_f32(&r);
	}
	bad = check_mul(f, a, b, n);
	cr_expect_eq(bad, 0, "seed %llu: %zu of %zu products differ", (unsigned long long)seed, bad,
	             n);
	free(a);
	free(b);
	ssim_float_destroy(f);
}

Test(float_units, add_edges)
{
	struct ssim_float *f = fu_new();
	const size_t n = COUNT(f32_edges) * COUNT(f32_edges);
	uint32_t *a = xmalloc(n * sizeof(*a)), *b = xmalloc(n * sizeof(*b));
	size_t k = 0, bad;

	for (size_t i = 0; i < COUNT(f32_edges); i++)
		for (size_t j = 0; j < COUNT(f32_edges); j++, k++) {
			a[k] = f32_edges[i];
			b[k] = f32_edges[j];
		}
	bad = check_add(f, a, b, n);
	cr_expect_eq(bad, 0, "%zu of %zu edge sums differ", bad, n);
	free(a);
	free(b);
	ssim_float_destroy(f);
}

Test(float_units, add_random)
{
	uint64_t seed = test_seed("float_units::add_random");
	struct rng r;
	struct ssim_float *f = fu_new();
	const size_t n = 300000;
	uint32_t *a = xmalloc(n * sizeof(*a)), *b = xmalloc(n * sizeof(*b));
	size_t bad;

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++) {
		a[i] = rand_f32(&r);
		switch (rng_range(&r, 0, 3)) {
		case 0: /* independent */
			b[i] = rand_f32(&r);
			break;
		case 1: /* cancellation: nearly -a */
			b[i] = (a[i] ^ 0x80000000u) + (uint32_t)rng_range(&r, -3, 3);
			break;
		case 2: /* exponents a few apart: alignment, guard bits, ties */
			b[i] = (a[i] & 0x807FFFFFu) ^ ((uint32_t)rng_u64(&r) & 0x8000000Fu);
			b[i] |=
			    (uint32_t)((((a[i] >> 23) & 0xFF) + (uint32_t)rng_range(&r, 0, 30)) &
			               0xFF)
			    << 23;
			break;
		default: /* far apart */
			b[i] = (a[i] & 0xFF800000u) - ((uint32_t)rng_range(&r, 20, 40) << 23) +
			       ((uint32_t)rng_u64(&r) & 0x807FFFFFu);
			break;
		}
	}
	bad = check_add(f, a, b, n);
	cr_expect_eq(bad, 0, "seed %llu: %zu of %zu sums differ", (unsigned long long)seed, bad, n);
	free(a);
	free(b);
	ssim_float_destroy(f);
}

/* A chain of adds, like the accumulation over blocks. */
Test(float_units, mul_add_chain)
{
	uint64_t seed = test_seed("float_units::mul_add_chain");
	struct rng r;
	struct ssim_float *f = fu_new();
	enum { N = 4096 };
	int32_t isum[N];
	uint16_t sa[N], sw[N];
	uint32_t s[N], p[N], acc = 0, out;

	rng_init(&r, seed);
	for (int i = 0; i < N; i++) {
		isum[i] = (int32_t)rng_range(&r, 1 - (1 << 20), (1 << 20) - 1);
		sa[i] = (uint16_t)(rng_range(&r, 0x0001, 0x7BFF) | (rng_range(&r, 0, 1) << 15));
		sw[i] = (uint16_t)(rng_range(&r, 0x0001, 0x7BFF) | (rng_range(&r, 0, 1) << 15));
	}
	cr_assert_eq(ssim_float_scale(f, sw, sa, s, N), 0);
	cr_assert_eq(ssim_float_mul(f, isum, s, p, N), 0);
	for (int i = 0; i < N; i++) {
		uint32_t want = fref_add(acc, fref_mul(isum[i], fref_scale(sw[i], sa[i])));

		cr_assert_eq(ssim_float_add(f, &acc, &p[i], &out, 1), 0);
		cr_assert_eq(out, want, "seed %llu step %d: 0x%08x, want 0x%08x",
		             (unsigned long long)seed, i, out, want);
		acc = out;
	}
	ssim_float_destroy(f);
}
