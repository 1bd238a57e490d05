/*
 * test_gemm_q8.c - block-scaled (GGUF Q8_0) GEMMs and resident weights.
 *
 * The integer-only reference of tests/ref.c is first checked against
 * values worked out by hand; then the driver's fp16 conversions and Q8_0
 * quantizer against it, and every device's block-scaled GEMMs bit for bit:
 * random and ragged shapes, K across bank chunks, zero, extreme,
 * subnormal, NaN and Inf scales and biases, on the array and on the
 * matrix-vector engine. Resident weights (int8 and Q8_0): many products
 * against one upload with only activations moving, card memory accounting,
 * splitting, and the errors (destroyed or foreign handles, too large,
 * K % 32, a core without the commands).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "sampan.h"
#include "util.h"

TestSuite(q8ref, .timeout = 60);
TestSuite(gemm_q8, .timeout = 300);
TestSuite(weights, .timeout = 300);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

struct dev_param {
	char dev[64];
};

static struct sampan_device *open_dev(const char *name)
{
	struct sampan_device *dev = NULL;
	int err = sampan_open(&dev, name);

	cr_assert_eq(err, SAMPAN_OK, "sampan_open(%s): %s: %s", name, sampan_strerror(err),
	             sampan_last_error());
	return dev;
}

static int has_block(struct sampan_device *dev)
{
	struct sampan_info info;

	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	return (info.features & SAMPAN_FEATURE_BLOCK_SCALED) != 0;
}

/* ============================================================ the reference by hand */

Test(q8ref, h2f_by_hand)
{
	static const struct {
		uint16_t h;
		uint32_t f;
	} t[] = {
	    {0x0000, 0x00000000}, {0x8000, 0x80000000}, /* signed zeros */
	    {0x3C00, 0x3F800000},                       /* 1 */
	    {0xC000, 0xC0000000},                       /* -2 */
	    {0x3555, 0x3EAAA000},                       /* 0.333251953125 */
	    {0x7BFF, 0x477FE000},                       /* 65504, the largest */
	    {0x0400, 0x38800000},                       /* 2^-14, the smallest normal */
	    {0x0001, 0x33800000},                       /* 2^-24, the smallest subnormal */
	    {0x03FF, 0x387FC000},                       /* 1023 * 2^-24 */
	    {0x8200, 0xB8000000},                       /* -2^-15 */
	    {0x7C00, 0x7F800000}, {0xFC00, 0xFF800000}, /* infinities */
	    {0x7E00, 0x7FC00000}, {0x7C01, 0x7FC00000}, /* NaNs -> canonical */
	    {0xFFFF, 0x7FC00000},
	};

	for (size_t i = 0; i < COUNT(t); i++)
		cr_expect_eq(ref_h2f(t[i].h), t[i].f, "h2f(0x%04x) = 0x%08x, want 0x%08x", t[i].h,
		             ref_h2f(t[i].h), t[i].f);
}

Test(q8ref, f2h_by_hand)
{
	static const struct {
		uint32_t f;
		uint16_t h;
	} t[] = {
	    {0x3F800000, 0x3C00}, /* 1 */
	    {0x3F801000, 0x3C00}, /* 1 + 2^-11: a tie, to even (down) */
	    {0x3F803000, 0x3C02}, /* 1 + 3 * 2^-11: a tie, to even (up) */
	    {0x3F801001, 0x3C01}, /* just above the tie */
	    {0x477FE000, 0x7BFF}, /* 65504 */
	    {0x477FF000, 0x7C00}, /* 65520: the tie above the largest -> Inf */
	    {0x477FEFFF, 0x7BFF}, /* just below it */
	    {0x33800000, 0x0001}, /* 2^-24 */
	    {0x33000000, 0x0000}, /* 2^-25: a tie to even zero */
	    {0x33000001, 0x0001}, /* above it */
	    {0x33C00000, 0x0002}, /* 1.5 * 2^-24: a tie, to even 2 */
	    {0x38800000, 0x0400}, /* 2^-14 */
	    {0x387FE000, 0x0400}, /* (1 - 2^-11) * 2^-14 rounds up to the normal */
	    {0xBF800000, 0xBC00}, /* -1 */
	    {0x80000000, 0x8000}, /* -0 */
	    {0x00000001, 0x0000}, /* fp32 subnormal */
	    {0x7F800000, 0x7C00}, /* Inf */
	    {0x3E2AAAAB, 0x3155}, /* 1/6 */
	};

	for (size_t i = 0; i < COUNT(t); i++)
		cr_expect_eq(ref_f2h(t[i].f), t[i].h, "f2h(0x%08x) = 0x%04x, want 0x%04x", t[i].f,
		             ref_f2h(t[i].f), t[i].h);
	cr_expect_eq(ref_f2h(0x7FC00000) & 0x7C00, 0x7C00);
	cr_expect_neq(ref_f2h(0x7FC00000) & 0x03FF, 0);
}

Test(q8ref, fmul_by_hand)
{
	static const struct {
		uint32_t a, b, r;
		const char *why;
	} t[] = {
	    {0x3FC00000, 0x3FC00000, 0x40100000, "1.5 * 1.5 = 2.25"},
	    {0x3F800800, 0x3F800800, 0x3F801000, "(1+2^-12)^2: tie, lsb even, down"},
	    {0x40400000, 0x3F800001, 0x40400002, "3 * (1+2^-23): 1.5 ulp, tie to 2"},
	    {0x40400000, 0x3F800003, 0x40400004, "3 * (1+3*2^-23): 4.5 ulp, tie to 4"},
	    {0x40400000, 0x3F800005, 0x40400008, "3 * (1+5*2^-23): 7.5 ulp, tie to 8"},
	    {0x3F800001, 0x3F800001, 0x3F800002, "(1+2^-23)^2: below the tie"},
	    {0x20000000, 0x20000000, 0x00800000, "2^-63 * 2^-63 = 2^-126, normal"},
	    {0x1F800000, 0x20000000, 0x00000000, "2^-127 flushes"},
	    {0x9F800000, 0x20000000, 0x80000000, "-2^-127 flushes to -0"},
	    {0x1FFFFFFF, 0x20000000, 0x00000000,
	     "2^-126 - 2^-150 is exact unbounded: flushes (IEEE would give 2^-126)"},
	    {0x20000001, 0x1FFFFFFE, 0x00800000,
	     "2^-126 - 2^-172 rounds up to 2^-126 before the flush"},
	    {0x5F800000, 0x5F800000, 0x7F800000, "2^64 * 2^64 overflows"},
	    {0x7F7FFFFF, 0x3F800000, 0x7F7FFFFF, "max * 1"},
	    {0x7F7FFFFF, 0x3F800001, 0x7F800000, "max * (1+2^-23) rounds past max"},
	    {0x7F800000, 0x00000000, REF_QNAN, "Inf * 0"},
	    {0x80000000, 0xFF800000, REF_QNAN, "-0 * -Inf"},
	    {0xFF800000, 0x40000000, 0xFF800000, "-Inf * 2"},
	    {0xFFC00001, 0x3F800000, REF_QNAN, "NaN * 1 is the canonical NaN"},
	    {0x00000001, 0x7F000000, 0x00000000, "a subnormal operand reads as +0"},
	    {0x80400000, 0x3F800000, 0x80000000, "a negative subnormal reads as -0"},
	    {0x00400000, 0x7F800000, REF_QNAN, "subnormal * Inf is 0 * Inf"},
	    {0x80000000, 0x3F800000, 0x80000000, "-0 * 1"},
	    {0xC0000000, 0xC0400000, 0x40C00000, "-2 * -3 = 6"},
	};

	for (size_t i = 0; i < COUNT(t); i++)
		cr_expect_eq(ref_fmul(t[i].a, t[i].b), t[i].r, "%s: 0x%08x, want 0x%08x", t[i].why,
		             ref_fmul(t[i].a, t[i].b), t[i].r);
}

Test(q8ref, fadd_by_hand)
{
	static const struct {
		uint32_t a, b, r;
		const char *why;
	} t[] = {
	    {0x3F800000, 0x3F800000, 0x40000000, "1 + 1"},
	    {0x3F800000, 0x33800000, 0x3F800000, "1 + 2^-24: tie, to even 1"},
	    {0x3F800000, 0x34400000, 0x3F800002, "1 + 1.5 ulp: tie, to 2 ulp"},
	    {0x3F800001, 0x33800000, 0x3F800002, "odd + half ulp: tie, up"},
	    {0x3F800000, 0xBF800000, 0x00000000, "1 - 1 = +0"},
	    {0x80000000, 0x80000000, 0x80000000, "-0 + -0 = -0"},
	    {0x80000000, 0x00000000, 0x00000000, "-0 + +0 = +0"},
	    {0x00000000, 0x80000000, 0x00000000, "+0 + -0 = +0"},
	    {0x80000000, 0x40400000, 0x40400000, "-0 + 3"},
	    {0x01000000, 0x80FFFFFF, 0x00000000, "2^-125 - (2^-125 - 2^-149): flushes"},
	    {0x81000000, 0x00FFFFFF, 0x80000000, "the same, negative: -0"},
	    {0x00800000, 0x00800000, 0x01000000, "2^-126 + 2^-126 = 2^-125"},
	    {0x00400000, 0x00400000, 0x00000000, "subnormal operands read as zero"},
	    {0x80400000, 0x80000001, 0x80000000, "negative subnormals: -0 + -0"},
	    {0x3F800000, 0x00400000, 0x3F800000, "1 + subnormal"},
	    {0x71800000, 0x3F800000, 0x71800000, "2^100 + 1"},
	    {0x71800000, 0xBF800000, 0x71800000, "2^100 - 1 (below by far less than ulp)"},
	    {0x4B800000, 0x3F800000, 0x4B800000, "2^24 + 1: tie, to even"},
	    {0x4B800000, 0x40400000, 0x4B800002, "2^24 + 3: tie, up to 2^24 + 4"},
	    {0x4B800000, 0xBF800000, 0x4B7FFFFF, "2^24 - 1 exact"},
	    {0x4B800000, 0xB0800000, 0x4B800000, "2^24 - 2^-30 rounds back up"},
	    {0x4B800001, 0x30800000, 0x4B800001, "2^24 + 2 + 2^-30 rounds down"},
	    {0x4B800001, 0x3F800000, 0x4B800002, "2^24 + 2 + 1: tie, to 2^24 + 4"},
	    {0x7F7FFFFF, 0x7F7FFFFF, 0x7F800000, "max + max overflows"},
	    {0x7F7FFFFF, 0x73000000, 0x7F800000, "max + half ulp: tie rounds past max"},
	    {0x7F7FFFFF, 0x72FFFFFF, 0x7F7FFFFF, "max + just under half ulp"},
	    {0x7F800000, 0xFF800000, REF_QNAN, "Inf - Inf"},
	    {0x7F800000, 0x7F800000, 0x7F800000, "Inf + Inf"},
	    {0xFF800000, 0x7F7FFFFF, 0xFF800000, "-Inf + max"},
	    {0x7FC00000, 0x3F800000, REF_QNAN, "NaN + 1"},
	    {0x3F800000, 0xFF800001, REF_QNAN, "1 + NaN"},
	    {0xC1200000, 0x40A00000, 0xC0A00000, "-10 + 5 = -5"},
	};

	for (size_t i = 0; i < COUNT(t); i++) {
		cr_expect_eq(ref_fadd(t[i].a, t[i].b), t[i].r, "%s: 0x%08x, want 0x%08x", t[i].why,
		             ref_fadd(t[i].a, t[i].b), t[i].r);
		cr_expect_eq(ref_fadd(t[i].b, t[i].a), t[i].r, "%s (swapped): 0x%08x", t[i].why,
		             ref_fadd(t[i].b, t[i].a));
	}
}

Test(q8ref, i2f_by_hand)
{
	cr_expect_eq(ref_i2f(0), 0x00000000u);
	cr_expect_eq(ref_i2f(1), 0x3F800000u);
	cr_expect_eq(ref_i2f(-96), 0xC2C00000u);
	cr_expect_eq(ref_i2f(524288), 0x49000000u);   /* 2^19 */
	cr_expect_eq(ref_i2f(-524287), 0xC8FFFFE0u);  /* -(2^19 - 1) */
	cr_expect_eq(ref_i2f(16777217), 0x4B800000u); /* 2^24 + 1: tie, to even */
}

/* K = 64, one row and one column, worked by hand. */
Test(q8ref, gemm_by_hand)
{
	int8_t a[64], w[64];
	/* sw = 0.5, 2; sa = 1, 0.25: s = 0.5 and 0.5 */
	const uint16_t sw[2] = {0x3800, 0x4000}, sa[2] = {0x3C00, 0x3400};
	const uint32_t bias = 0x3F000000; /* 0.5 */
	uint32_t out;

	for (int i = 0; i < 32; i++) {
		a[i] = 1; /* isum_0 = 32 * 1 * 2 = 64 */
		w[i] = 2;
		a[32 + i] = -1; /* isum_1 = 32 * -1 * 3 = -96 */
		w[32 + i] = 3;
	}
	/* 64 * 0.5 + -96 * 0.5 + 0.5 = -15.5 */
	ref_gemm_q8(1, 64, 1, a, sa, w, sw, &bias, &out);
	cr_expect_eq(out, 0xC1780000u, "0x%08x", out);
	/* No bias: -16; a zero scale on block 1: 32 */
	ref_gemm_q8(1, 64, 1, a, sa, w, sw, NULL, &out);
	cr_expect_eq(out, 0xC1800000u, "0x%08x", out);
	{
		const uint16_t sw0[2] = {0x3800, 0x0000};
		ref_gemm_q8(1, 64, 1, a, sa, w, sw0, NULL, &out);
		cr_expect_eq(out, 0x42000000u, "0x%08x", out);
	}
	/* An Inf scale on block 0 with isum 64: +Inf, then + -48 stays Inf */
	{
		const uint16_t swi[2] = {0x7C00, 0x4000};
		ref_gemm_q8(1, 64, 1, a, sa, w, swi, NULL, &out);
		cr_expect_eq(out, 0x7F800000u, "0x%08x", out);
	}
}

/* ============================================================ host conversions */

/* Every fp16 pattern converts exactly (NaN stays NaN). */
Test(q8ref, driver_fp16_to_fp32_exhaustive)
{
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = sampan_fp16_to_fp32((uint16_t)h);
		uint32_t bits, want = ref_h2f((uint16_t)h);

		memcpy(&bits, &f, sizeof(bits));
		if (want == REF_QNAN)
			cr_expect(isnan(f), "0x%04x is not NaN", h);
		else
			cr_expect_eq(bits, want, "0x%04x -> 0x%08x, want 0x%08x", h, bits, want);
	}
}

Test(q8ref, driver_fp32_to_fp16)
{
	uint64_t seed = test_seed("q8ref::driver_fp32_to_fp16");
	struct rng r;

	rng_init(&r, seed);
	for (int i = 0; i < 2000000; i++) {
		/* half the draws near fp16's range, where the rounding is */
		uint32_t u = (uint32_t)rng_u64(&r);
		float f;
		uint16_t got, want;

		if (i & 1)
			u = (u & 0x807FFFFFu) | (uint32_t)rng_range(&r, 96, 145) << 23;
		memcpy(&f, &u, sizeof(f));
		got = sampan_fp32_to_fp16(f);
		want = ref_f2h(u);
		if ((want & 0x7C00) == 0x7C00 && (want & 0x3FF)) {
			cr_expect((got & 0x7C00) == 0x7C00 && (got & 0x3FF), "0x%08x: not NaN", u);
			continue;
		}
		if (got != want) {
			cr_expect_eq(got, want, "0x%08x -> 0x%04x, want 0x%04x", u, got, want);
			break;
		}
	}
}

static void fill_floats(struct rng *r, float *x, long k, int kind)
{
	for (long i = 0; i < k; i++) {
		double u = (double)rng_range(r, -1000000, 1000000) / 1000000.0;

		switch (kind) {
		case 0:
			x[i] = (float)(u * 4.0);
			break;
		case 1:
			x[i] = (i / 32) % 2 ? 0.0f : (float)u;
			break; /* zero blocks */
		case 2:
			x[i] = (float)(u * 1e-6);
			break; /* tiny: d subnormal in fp16 */
		case 3:
			x[i] = (float)(u * 60000.0);
			break; /* near fp16's top */
		default:
			x[i] = (float)(u * 1e-9);
			break; /* d flushes to 0 in fp16 */
		}
	}
}

Test(q8ref, driver_quantize_matches_ggml_ref)
{
	uint64_t seed = test_seed("q8ref::driver_quantize_matches_ggml_ref");
	struct rng r;
	const long k = 32 * 64;
	float *x = xmalloc(k * sizeof(float));
	int8_t *q = xmalloc(k), *qw = xmalloc(k);
	uint16_t *d = xmalloc(k / 32 * 2), *dw = xmalloc(k / 32 * 2);

	rng_init(&r, seed);
	for (int kind = 0; kind < 5; kind++) {
		for (int rep = 0; rep < 20; rep++) {
			fill_floats(&r, x, k, kind);
			/* exact halves, to exercise half-away-from-zero */
			x[5] = 127.0f;
			x[6] = -63.5f;
			x[7] = 0.5f * (float)(rep + 1);
			ref_quantize_q8_0(x, k, qw, dw);
			cr_assert_eq(sampan_quantize_q8_0(x, k, q, d), SAMPAN_OK);
			cr_expect_eq(memcmp(q, qw, k), 0, "kind %d rep %d: q differs", kind, rep);
			cr_expect_eq(memcmp(d, dw, k / 32 * 2), 0, "kind %d rep %d: d differs",
			             kind, rep);
		}
	}
	cr_expect_eq(sampan_quantize_q8_0(x, 33, q, d), SAMPAN_ERROR_INVALID);
	cr_expect_eq(sampan_quantize_q8_0(NULL, 32, q, d), SAMPAN_ERROR_INVALID);
	free(x);
	free(q);
	free(qw);
	free(d);
	free(dw);
}

/* ============================================================ device GEMMs */

enum scale_kind {
	SC_NORMAL,  /* typical Q8_0 scales, 2^-14 .. 2^-4 */
	SC_WIDE,    /* any finite fp16, subnormals included */
	SC_ZERO,    /* all +0 or -0 */
	SC_EXTREME, /* 65504, 2^-24 and their negatives */
	SC_SPECIAL, /* mostly normal, a few NaN and Inf */
	SC_BITS,    /* any 16-bit pattern */
	SC_KINDS
};

static const char *const scale_names[] = {"normal", "wide", "zero", "extreme", "special", "bits"};

static uint16_t draw_scale(struct rng *r, enum scale_kind kind)
{
	static const uint16_t extreme[] = {0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x0400, 0x3C00};
	static const uint16_t special[] = {0x7C00, 0xFC00, 0x7E00, 0xFE01};
	uint16_t sign = rng_range(r, 0, 1) ? 0x8000 : 0;

	switch (kind) {
	case SC_NORMAL:
		return (uint16_t)(sign | rng_range(r, 0x0400, 0x2C00));
	case SC_WIDE:
		return (uint16_t)(sign | rng_range(r, 0, 0x7BFF));
	case SC_ZERO:
		return sign;
	case SC_EXTREME:
		return extreme[rng_range(r, 0, COUNT(extreme) - 1)];
	case SC_SPECIAL:
		if (rng_range(r, 0, 15) == 0)
			return special[rng_range(r, 0, COUNT(special) - 1)];
		return (uint16_t)(sign | rng_range(r, 0x0400, 0x2C00));
	default:
		return (uint16_t)rng_range(r, 0, 0xFFFF);
	}
}

/* One block-scaled problem with its arrays and expected output. */
struct q8_case {
	long m, k, n;
	int8_t *a, *w;
	uint16_t *sa, *sw;
	uint32_t *bias; /* fp32 bits, or NULL */
	uint32_t *want, *out;
	char desc[160];
};

static void q8_case_make(struct q8_case *c, struct rng *r, long m, long k, long n,
                         enum scale_kind ka, enum scale_kind kw, int bias_kind)
{
	static const uint32_t special_bias[] = {0x00000001, 0x80400000, 0x7F800000,
	                                        0xFF800000, 0x7FC00000, 0x80000000};
	long nb = k / 32;

	c->m = m;
	c->k = k;
	c->n = n;
	c->a = xmalloc((size_t)(m * k));
	c->w = xmalloc((size_t)(n * k));
	c->sa = xmalloc((size_t)(m * nb) * 2);
	c->sw = xmalloc((size_t)(n * nb) * 2);
	c->want = xmalloc((size_t)(m * n) * 4);
	c->out = xmalloc((size_t)(m * n) * 4);
	c->bias = NULL;
	fill_i8(r, c->a, (size_t)(m * k), (enum fill_pattern)rng_range(r, 0, FILL_PATTERNS - 1));
	fill_i8(r, c->w, (size_t)(n * k), (enum fill_pattern)rng_range(r, 0, FILL_PATTERNS - 1));
	for (long i = 0; i < m * nb; i++)
		c->sa[i] = draw_scale(r, ka);
	for (long i = 0; i < n * nb; i++)
		c->sw[i] = draw_scale(r, kw);
	if (bias_kind) {
		c->bias = xmalloc((size_t)n * 4);
		for (long i = 0; i < n; i++) {
			if (bias_kind == 2 && rng_range(r, 0, 3) == 0)
				c->bias[i] = special_bias[rng_range(r, 0, COUNT(special_bias) - 1)];
			else
				c->bias[i] = (uint32_t)rng_range(r, 0, 1) << 31 |
				             (uint32_t)rng_range(r, 100, 150) << 23 |
				             (uint32_t)rng_range(r, 0, 0x7FFFFF);
		}
	}
	snprintf(c->desc, sizeof(c->desc), "%ldx%ldx%ld scales a %s w %s bias %d", m, k, n,
	         scale_names[ka], scale_names[kw], bias_kind);
	ref_gemm_q8(m, k, n, c->a, c->sa, c->w, c->sw, c->bias, c->want);
	memset(c->out, 0xA5, (size_t)(m * n) * 4);
}

static void q8_case_free(struct q8_case *c)
{
	free(c->a);
	free(c->w);
	free(c->sa);
	free(c->sw);
	free(c->bias);
	free(c->want);
	free(c->out);
}

static size_t q8_mismatches(const struct q8_case *c, const uint32_t *out, const char *tag)
{
	size_t bad = 0;

	for (long i = 0; i < c->m * c->n; i++) {
		if (out[i] != c->want[i]) {
			if (bad < 4)
				fprintf(stderr, "%s %s: [%ld][%ld] = 0x%08x, want 0x%08x\n", tag,
				        c->desc, i / c->n, i % c->n, out[i], c->want[i]);
			bad++;
		}
	}
	return bad;
}

/* Runs @c with sampan_gemm_q8; returns the number of mismatches. */
static size_t q8_run(struct sampan_device *dev, struct q8_case *c, const char *tag)
{
	struct sampan_gemm_q8 g = {.m = c->m,
	                           .k = c->k,
	                           .n = c->n,
	                           .a = c->a,
	                           .a_scale = c->sa,
	                           .w = c->w,
	                           .w_scale = c->sw,
	                           .bias = (const float *)c->bias,
	                           .out = (float *)c->out};
	int err = sampan_gemm_q8(dev, &g);

	if (err != SAMPAN_OK) {
		fprintf(stderr, "%s %s: sampan_gemm_q8: %s: %s\n", tag, c->desc,
		        sampan_strerror(err), sampan_last_error());
		return 1;
	}
	return q8_mismatches(c, c->out, tag);
}

/* Devices of the sweeps: the defaults, the array alone, small and oddly
 * shaped functional models, and the RTL (skipped with a note while it
 * lacks the block-scaled commands, which must then be refused). */
static const char *const q8_devices[] = {
    "cpu",
    "cpu:mv_rows=0",
    "cpu:rows=4,cols=4,k_depth=256,slots=2",
    "cpu:rows=8,cols=16,k_depth=512,entries=1,mv_rows=2",
    "sim",
    "sim-usb",
};

ParameterizedTestParameters(gemm_q8, random_shapes)
{
	static struct dev_param params[COUNT(q8_devices)];

	for (size_t i = 0; i < COUNT(q8_devices); i++)
		snprintf(params[i].dev, sizeof(params[i].dev), "%s", q8_devices[i]);
	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* Random shapes (ragged, size 1, K across chunks) and scale kinds. */
ParameterizedTest(struct dev_param *p, gemm_q8, random_shapes, .timeout = 900)
{
	int sim = strncmp(p->dev, "sim", 3) == 0;
	int cases = sim ? 40 : 150;
	long max_dim = sim ? 80 : 200, max_blocks = sim ? 40 : 100;
	char tag[96];
	uint64_t seed;
	struct rng r;
	struct sampan_device *dev = open_dev(p->dev);
	size_t failed = 0;

	snprintf(tag, sizeof(tag), "gemm_q8::random_shapes %s", p->dev);
	if (!has_block(dev)) {
		int8_t a[32] = {0};
		uint16_t s[1] = {0};
		float out[1];
		struct sampan_gemm_q8 g = {1, 32, 1, a, s, a, s, NULL, out};

		cr_log_warn("%s: the device has no block-scaled commands: only the refusal "
		            "is tested",
		            p->dev);
		cr_expect_eq(sampan_gemm_q8(dev, &g), SAMPAN_ERROR_NOT_SUPPORTED);
		sampan_close(dev);
		return;
	}
	seed = test_seed(tag);
	rng_init(&r, seed);
	for (int i = 0; i < cases; i++) {
		struct q8_case c;
		long m = rng_range(&r, 0, 3) == 0 ? rng_range(&r, 1, 5) : rng_range(&r, 1, max_dim);
		long n = rng_range(&r, 0, 7) == 0 ? 1 : rng_range(&r, 1, max_dim);
		long nb = rng_range(&r, 0, 7) == 0 ? rng_range(&r, 33, sim ? 70 : 110)
		                                   : rng_range(&r, 1, max_blocks);
		enum scale_kind ka = (enum scale_kind)(
		    rng_range(&r, 0, 3) ? SC_NORMAL : rng_range(&r, 0, SC_KINDS - 1));
		enum scale_kind kw = (enum scale_kind)(
		    rng_range(&r, 0, 3) ? SC_NORMAL : rng_range(&r, 0, SC_KINDS - 1));

		while (m * n * nb * 32 > (sim ? 3000000 : 20000000))
			m = (m + 1) / 2;
		q8_case_make(&c, &r, m, nb * 32, n, ka, kw, (int)rng_range(&r, 0, 2));
		if (q8_run(dev, &c, tag)) {
			fprintf(stderr, "%s (seed %llu) case %d differs\n", tag,
			        (unsigned long long)seed, i);
			failed++;
		}
		q8_case_free(&c);
	}
	cr_expect_eq(failed, 0, "%zu of %d cases failed", failed, cases);
	sampan_close(dev);
}

ParameterizedTestParameters(gemm_q8, edge_cases)
{
	static struct dev_param params[COUNT(q8_devices)];

	for (size_t i = 0; i < COUNT(q8_devices); i++)
		snprintf(params[i].dev, sizeof(params[i].dev), "%s", q8_devices[i]);
	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* Every scale kind on both operands, at the shapes where tiling has edges:
 * one element, one block, one row (the matrix-vector engine), a ragged
 * tile, and K across bank chunks. */
ParameterizedTest(struct dev_param *p, gemm_q8, edge_cases, .timeout = 900)
{
	static const long shapes[][3] = {
	    {1, 32, 1}, {1, 64, 16},   {1, 1056, 17}, {4, 96, 33},
	    {5, 32, 3}, {17, 160, 16}, {3, 2080, 5},
	};
	char tag[96];
	uint64_t seed;
	struct rng r;
	struct sampan_device *dev = open_dev(p->dev);
	size_t failed = 0;

	if (!has_block(dev)) {
		cr_log_warn("%s: no block-scaled commands", p->dev);
		sampan_close(dev);
		return;
	}
	snprintf(tag, sizeof(tag), "gemm_q8::edge_cases %s", p->dev);
	seed = test_seed(tag);
	rng_init(&r, seed);
	for (size_t s = 0; s < COUNT(shapes); s++)
		for (int ka = 0; ka < SC_KINDS; ka++)
			for (int kw = 0; kw < SC_KINDS; kw += (ka == kw ? 1 : 2)) {
				struct q8_case c;

				q8_case_make(&c, &r, shapes[s][0], shapes[s][1], shapes[s][2],
				             (enum scale_kind)ka, (enum scale_kind)kw,
				             (int)((s + (size_t)ka) % 3));
				failed += q8_run(dev, &c, tag) != 0;
				q8_case_free(&c);
			}
	cr_expect_eq(failed, 0, "%zu edge cases failed (seed %llu)", failed,
	             (unsigned long long)seed);
	sampan_close(dev);
}

/* Products that reach the rules' corners, checked for the expected bits
 * as well as against the reference: an Inf scale times a zero block sum is
 * NaN; a flushed product; a -0 result. */
Test(gemm_q8, documented_specials_on_cpu)
{
	struct sampan_device *dev = open_dev("cpu");
	int8_t a[64] = {0}, w[64] = {0};
	uint16_t sa[2] = {0x3C00, 0x3C00}, sw[2] = {0x7C00, 0x3C00};
	uint32_t out, bias = 0x80000000;
	struct sampan_gemm_q8 g = {1, 64, 1, a, sa, w, sw, NULL, (float *)&out};

	/* isum_0 = 0, s_0 = Inf: 0 * Inf = NaN */
	cr_assert_eq(sampan_gemm_q8(dev, &g), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(out, REF_QNAN, "0x%08x", out);
	/* tiny scales: 2^-24 * 2^-24 * 1 = 2^-48, normal; stays */
	sw[0] = 0x0001;
	sa[0] = 0x0001;
	a[0] = 1;
	w[0] = 1;
	cr_assert_eq(sampan_gemm_q8(dev, &g), SAMPAN_OK);
	cr_expect_eq(out, 0x27800000u, "0x%08x", out);
	/* a negative zero product chain with a -0 bias stays -0 */
	a[0] = 0;
	sw[0] = 0x8000;
	sw[1] = 0x8000;
	g.bias = (const float *)&bias;
	cr_assert_eq(sampan_gemm_q8(dev, &g), SAMPAN_OK);
	/* acc = +0 + (0 * -0 = -0) = +0; + -0 = +0 */
	cr_expect_eq(out, 0x00000000u, "0x%08x", out);
	sampan_close(dev);
}

/* ============================================================ refusals */

Test(gemm_q8, k_not_multiple_of_32_refused)
{
	struct sampan_device *dev = open_dev("cpu");
	int8_t a[64] = {0};
	uint16_t s[2] = {0};
	float out[1];
	struct sampan_gemm_q8 g = {1, 48, 1, a, s, a, s, NULL, out};
	struct sampan_weights_desc d = {
	    .format = SAMPAN_FORMAT_Q8_0, .n = 1, .k = 40, .w = a, .w_scale = s, .name = "odd"};
	struct sampan_weights *wt = NULL;

	cr_expect_eq(sampan_gemm_q8(dev, &g), SAMPAN_ERROR_INVALID);
	cr_expect(strstr(sampan_last_error(), "multiple of 32"), "message: %s",
	          sampan_last_error());
	cr_expect_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_ERROR_INVALID);
	cr_expect(strstr(sampan_last_error(), "multiple of 32"), "message: %s",
	          sampan_last_error());
	cr_expect_null(wt);
	g.k = 0;
	cr_expect_eq(sampan_gemm_q8(dev, &g), SAMPAN_ERROR_INVALID);
	g.k = 32;
	g.a_scale = NULL;
	cr_expect_eq(sampan_gemm_q8(dev, &g), SAMPAN_ERROR_INVALID);
	g.a_scale = s;
	cr_expect_eq(sampan_gemm_q8(dev, &g), SAMPAN_OK, "%s", sampan_last_error());
	sampan_close(dev);
}

/* Little-endian 16-byte command from four words. */
static void put_cmd(uint8_t *p, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
	const uint32_t w[4] = {w0, w1, w2, w3};

	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 4; b++)
			p[4 * i + b] = (uint8_t)(w[i] >> (8 * b));
}

/* Runs one command (after a LOAD_A/LOAD_W/LOAD_P prologue, so that a
 * COMPUTE or STORE has what it needs) and returns STATUS. A command with
 * an address (LOAD_S, STORE: w1 == w2 == 0) gets a valid one. */
static uint32_t run_one_cmd(struct sampan_device *dev, uint32_t w0, uint32_t w1, uint32_t w2,
                            uint32_t w3)
{
	int addr = (w0 & 0xFF) == 6 || (w0 & 0xFF) == 5;
	struct sampan_buffer *buf;
	uint8_t cmds[5 * 16];
	uint64_t base;
	uint32_t status = 99, index = 99;
	uint32_t lo, hi;

	cr_assert_eq(sampan_buffer_create(dev, 8192, &buf), SAMPAN_OK);
	base = sampan_buffer_address(buf);
	lo = (uint32_t)(base + 4096);
	hi = (uint32_t)((base + 4096) >> 32);
	put_cmd(cmds, 1u | 64u << 16, lo, hi, 0);      /* LOAD_A bank 0, 64 steps */
	put_cmd(cmds + 16, 2u | 64u << 16, lo, hi, 0); /* LOAD_W bank 0, 64 steps */
	put_cmd(cmds + 32, 3u | 1u << 16, lo, hi, 0);  /* LOAD_P entry 0 */
	put_cmd(cmds + 48, w0, addr ? lo : w1, addr ? hi : w2, w3);
	cr_assert_eq(sampan_buffer_write(buf, 0, cmds, 64), SAMPAN_OK);
	cr_assert_eq(sampan_run_commands(dev, base, 4, 0, &status, &index), SAMPAN_OK, "%s",
	             sampan_last_error());
	if (status)
		cr_expect_eq(index, 3, "ERR_INDEX %u", index);
	sampan_buffer_destroy(buf);
	return status;
}

/* A core without the block-scaled commands answers each with status 6,
 * one without the wide engine a wide COMPUTE; the device keeps working. */
Test(gemm_q8, status_6_without_the_feature)
{
	struct sampan_device *dev = open_dev("cpu:block=0");
	struct sampan_device *nw = open_dev("cpu:mv_rows=0");
	struct sampan_info info;
	const uint32_t compute = 4u | 32u << 16, valid = 1u << 8 | 1u << 16;
	int8_t a[32] = {0};
	uint16_t s[1] = {0};
	float out[1];
	struct sampan_gemm_q8 g = {1, 32, 1, a, s, a, s, NULL, out};
	int32_t iout[1];
	struct sampan_gemm ig = {
	    .m = 1, .k = 32, .n = 1, .a = a, .w = a, .lo = -128, .hi = 127, .raw = 1, .out = iout};

	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	cr_expect_eq(info.hw_version, 0x00010100u);
	cr_expect_eq(info.features & SAMPAN_FEATURE_BLOCK_SCALED, 0u);
	cr_expect_eq(run_one_cmd(dev, 6u | 1u << 16, 0, 0, 0), 6u, "LOAD_S");
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 10 | 1u << 11, valid, 0, 0), 6u, "q COMPUTE");
	cr_expect_eq(run_one_cmd(dev, 5u | 2u << 8, 0, 0, 0), 6u, "float STORE");
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 10, valid, 0, 0), 0u, "int8 COMPUTE");
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 10, valid, 0, 1), 0u, "wide COMPUTE");
	cr_expect_eq(sampan_gemm_q8(dev, &g), SAMPAN_ERROR_NOT_SUPPORTED);
	cr_expect(strstr(sampan_last_error(), "block-scaled"), "%s", sampan_last_error());
	cr_expect_eq(sampan_gemm(dev, &ig), SAMPAN_OK, "%s", sampan_last_error());

	cr_assert_eq(sampan_get_info(nw, &info), SAMPAN_OK);
	cr_expect_eq(info.features, SAMPAN_FEATURE_BLOCK_SCALED);
	cr_expect_eq(info.mv_rows, 0u);
	cr_expect_eq(run_one_cmd(nw, compute | 1u << 10, valid, 0, 1), 6u, "wide COMPUTE");
	cr_expect_eq(run_one_cmd(nw, 6u | 1u << 16, 0, 0, 0), 0u, "LOAD_S");
	cr_expect_eq(sampan_gemm_q8(nw, &g), SAMPAN_OK, "%s", sampan_last_error());
	sampan_close(dev);
	sampan_close(nw);
}

/* The new legality checks on a core that has both features. */
Test(gemm_q8, new_field_checks)
{
	struct sampan_device *dev = open_dev("cpu");
	struct sampan_info info;
	const uint32_t compute = 4u | 1u << 10, valid1 = 1u << 8 | 1u << 16;

	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	cr_expect_eq(info.features, SAMPAN_FEATURE_BLOCK_SCALED | SAMPAN_FEATURE_MATVEC);
	cr_expect_eq(info.mv_rows, 4u);
	/* q: k_len, a_off, w_off multiples of 32 */
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 11 | 32u << 16, valid1, 0, 0), 0u);
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 11 | 31u << 16, valid1, 0, 0), 2u);
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 11 | 32u << 16, valid1, 16u << 16, 0), 2u);
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 11 | 32u << 16, valid1, 16u, 0), 2u);
	cr_expect_eq(run_one_cmd(dev, compute | 1u << 11 | 32u << 16, valid1, 32u | 32u << 16, 0),
	             0u);
	/* wide: m_valid <= MV_ROWS, k_len and offsets multiples of KW = 4 */
	cr_expect_eq(run_one_cmd(dev, compute | 8u << 16, 4u << 8 | 1u << 16, 0, 1), 0u);
	cr_expect_eq(run_one_cmd(dev, compute | 8u << 16, 5u << 8 | 1u << 16, 0, 1), 2u);
	cr_expect_eq(run_one_cmd(dev, compute | 6u << 16, valid1, 0, 1), 2u);
	cr_expect_eq(run_one_cmd(dev, compute | 8u << 16, valid1, 2u << 16, 1), 2u);
	cr_expect_eq(run_one_cmd(dev, compute | 8u << 16, valid1, 2u << 16, 0), 0u);
	/* LOAD_S: 1 .. KT/32 blocks */
	cr_expect_eq(run_one_cmd(dev, 6u | 0u << 16, 0, 0, 0), 2u);
	cr_expect_eq(run_one_cmd(dev, 6u | 1u << 9 | 32u << 16, 0, 0, 0), 0u);
	cr_expect_eq(run_one_cmd(dev, 6u | 33u << 16, 0, 0, 0), 2u);
	/* STORE mode 3 */
	cr_expect_eq(run_one_cmd(dev, 5u | 3u << 8, 0, 0, 0), 2u);
	sampan_close(dev);
}

/* ============================================================ resident weights */

ParameterizedTestParameters(weights, q8_many_products)
{
	static struct dev_param params[] = {{"cpu"}, {"cpu:mv_rows=0"}, {"sim"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* One upload, many products of different M against it, each bit-exact;
 * per call only the activations (and the command list) move, the same
 * bytes for the same M, far fewer than the weights; card memory in use
 * grows by the weights and returns after destroy. */
ParameterizedTest(struct dev_param *p, weights, q8_many_products, .timeout = 600)
{
	const long k = 1024, n = 96, ms[] = {1, 1, 3, 17, 40, 2, 1};
	struct sampan_device *dev = open_dev(p->dev);
	struct sampan_info before, during, after;
	struct sampan_weights *wt = NULL;
	uint64_t seed, in_m1 = 0;
	struct rng r;
	struct q8_case c;

	if (!has_block(dev)) {
		cr_log_warn("%s: no block-scaled commands", p->dev);
		sampan_close(dev);
		return;
	}
	seed = test_seed("weights::q8_many_products");
	rng_init(&r, seed);
	cr_assert_eq(sampan_get_info(dev, &before), SAMPAN_OK);
	q8_case_make(&c, &r, 40, k, n, SC_NORMAL, SC_NORMAL, 1);
	{
		struct sampan_weights_desc d = {.format = SAMPAN_FORMAT_Q8_0,
		                                .n = n,
		                                .k = k,
		                                .w = c.w,
		                                .w_scale = c.sw,
		                                .fbias = (const float *)c.bias,
		                                .name = "blk.0.ffn_up.weight"};

		cr_assert_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_OK, "%s",
		             sampan_last_error());
	}
	/* The caller's copy may go: the card holds the weights now. */
	memset(c.w, 0x55, (size_t)(n * k));
	cr_assert_eq(sampan_get_info(dev, &during), SAMPAN_OK);
	cr_expect_geq(sampan_weights_bytes(wt), (uint64_t)(n * k + n * k / 16));
	cr_expect_eq(during.mem_used, before.mem_used + sampan_weights_bytes(wt),
	             "mem_used %llu -> %llu, weights %llu", (unsigned long long)before.mem_used,
	             (unsigned long long)during.mem_used,
	             (unsigned long long)sampan_weights_bytes(wt));
	for (size_t i = 0; i < COUNT(ms); i++) {
		long m = ms[i];
		uint32_t *out = xmalloc((size_t)(m * n) * 4);
		struct sampan_matmul x = {.m = m, .a = c.a, .a_scale = c.sa, .out = out};
		struct sampan_stats st;
		struct q8_case sub = c;

		cr_assert_eq(sampan_matmul(dev, wt, &x), SAMPAN_OK, "%s", sampan_last_error());
		sub.m = m; /* the first m rows of the reference */
		cr_expect_eq(q8_mismatches(&sub, out, "weights::q8_many_products"), 0,
		             "m=%ld differs (seed %llu)", m, (unsigned long long)seed);
		cr_assert_eq(sampan_get_stats(dev, &st), SAMPAN_OK);
		cr_expect_eq(st.macs, (uint64_t)(m * k * n), "macs %llu",
		             (unsigned long long)st.macs);
		/* activations (padded to whole tiles) and their scales, the
		 * command list: never the weights */
		cr_expect_lt(st.host_bytes_in, (uint64_t)((m + 15) / 16 * 16 * k * 9 / 8 + 16384),
		             "m=%ld: %llu bytes in", m, (unsigned long long)st.host_bytes_in);
		if (m <= 3)
			cr_expect_lt(st.host_bytes_in, sampan_weights_bytes(wt) / 4,
			             "m=%ld: %llu bytes in, weights %llu", m,
			             (unsigned long long)st.host_bytes_in,
			             (unsigned long long)sampan_weights_bytes(wt));
		if (m == 1) {
			if (in_m1)
				cr_expect_eq(st.host_bytes_in, in_m1, "m=1 moved %llu then %llu",
				             (unsigned long long)in_m1,
				             (unsigned long long)st.host_bytes_in);
			in_m1 = st.host_bytes_in;
		}
		free(out);
	}
	sampan_weights_destroy(wt);
	cr_assert_eq(sampan_get_info(dev, &after), SAMPAN_OK);
	cr_expect_eq(after.mem_used, before.mem_used);
	q8_case_free(&c);
	sampan_close(dev);
}

ParameterizedTestParameters(weights, int8_many_products)
{
	static struct dev_param params[] = {{"cpu"}, {"cpu:rows=8,cols=16,k_depth=128"}, {"sim"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* int8 weights with bias, mult and shift: raw and requantized products of
 * several M against one upload, against ref_gemm. */
ParameterizedTest(struct dev_param *p, weights, int8_many_products, .timeout = 600)
{
	const long k = 300, n = 37, mmax = 33;
	struct sampan_device *dev = open_dev(p->dev);
	int8_t *a = xmalloc(mmax * k), *w = xmalloc(n * k);
	int32_t bias[37], mult[37], shift[37];
	int32_t *out = xmalloc(mmax * n * 4), *want = xmalloc(mmax * n * 4);
	struct sampan_weights *wt = NULL;
	uint64_t seed = test_seed("weights::int8_many_products");
	struct rng r;

	rng_init(&r, seed);
	fill_i8(&r, a, (size_t)(mmax * k), FILL_RANDOM);
	fill_i8(&r, w, (size_t)(n * k), FILL_RANDOM);
	for (long i = 0; i < n; i++) {
		bias[i] = (int32_t)rng_range(&r, -100000, 100000);
		mult[i] = (int32_t)rng_range(&r, 1 << 30, INT32_MAX);
		shift[i] = (int32_t)rng_range(&r, -12, 2);
	}
	{
		struct sampan_weights_desc d = {.format = SAMPAN_FORMAT_INT8,
		                                .n = n,
		                                .k = k,
		                                .w = w,
		                                .bias = bias,
		                                .mult = mult,
		                                .shift = shift,
		                                .name = "fc1"};

		cr_assert_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_OK, "%s",
		             sampan_last_error());
	}
	for (long m = 1; m <= mmax; m += 4) {
		for (int raw = 0; raw < 2; raw++) {
			int32_t za = (int32_t)rng_range(&r, -128, 127),
			        zo = (int32_t)rng_range(&r, -20, 20);
			struct sampan_matmul x = {.m = m,
			                          .a = a,
			                          .za = za,
			                          .zo = zo,
			                          .lo = -128,
			                          .hi = 100,
			                          .raw = raw,
			                          .out = out};
			size_t es = raw ? 4 : 1;

			ref_gemm(m, k, n, a, w, bias, mult, shift, za, zo, -128, 100, raw, want);
			cr_assert_eq(sampan_matmul(dev, wt, &x), SAMPAN_OK, "%s",
			             sampan_last_error());
			cr_expect_eq(memcmp(out, want, (size_t)(m * n) * es), 0,
			             "m=%ld raw=%d differs (seed %llu)", m, raw,
			             (unsigned long long)seed);
		}
	}
	sampan_weights_destroy(wt);
	/* Weights without mult/shift give raw outputs only. */
	{
		struct sampan_weights_desc d = {
		    .format = SAMPAN_FORMAT_INT8, .n = n, .k = k, .w = w};
		struct sampan_matmul x = {.m = 2, .a = a, .lo = -128, .hi = 127, .out = out};

		cr_assert_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_OK);
		cr_expect_eq(sampan_matmul(dev, wt, &x), SAMPAN_ERROR_INVALID);
		x.raw = 1;
		cr_expect_eq(sampan_matmul(dev, wt, &x), SAMPAN_OK, "%s", sampan_last_error());
		ref_gemm(2, k, n, a, w, NULL, NULL, NULL, 0, 0, -128, 127, 1, want);
		cr_expect_eq(memcmp(out, want, (size_t)(2 * n) * 4), 0);
		sampan_weights_destroy(wt);
	}
	free(a);
	free(w);
	free(out);
	free(want);
	sampan_close(dev);
}

/* Destroyed handles, another device's handle, a handle after its device
 * closed: refused, and both devices keep working. */
Test(weights, foreign_and_destroyed_handles)
{
	struct sampan_device *d1 = open_dev("cpu"), *d2 = open_dev("cpu");
	int8_t w[64 * 32] = {0}, a[64] = {1};
	uint16_t sw[64] = {0x3C00}, sa[2] = {0x3C00};
	float out[64];
	struct sampan_weights_desc d = {
	    .format = SAMPAN_FORMAT_Q8_0, .n = 64, .k = 32, .w = w, .w_scale = sw, .name = "wq"};
	struct sampan_weights *wt = NULL, *wt2 = NULL;
	struct sampan_matmul x = {.m = 1, .a = a, .a_scale = sa, .out = out};

	w[0] = 3;
	cr_assert_eq(sampan_weights_create(d1, &d, &wt), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(sampan_matmul(d2, wt, &x), SAMPAN_ERROR_INVALID);
	cr_expect(strstr(sampan_last_error(), "belong"), "%s", sampan_last_error());
	cr_expect_eq(sampan_matmul(d1, wt, &x), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(out[0], 3.0f);
	sampan_weights_destroy(wt);
	cr_expect_eq(sampan_matmul(d1, wt, &x), SAMPAN_ERROR_INVALID);
	cr_expect(strstr(sampan_last_error(), "not live"), "%s", sampan_last_error());
	cr_expect_eq(sampan_weights_bytes(wt), 0u);
	sampan_weights_destroy(wt); /* twice: a no-op */
	/* close frees what is left; a later destroy is a no-op */
	cr_assert_eq(sampan_weights_create(d2, &d, &wt2), SAMPAN_OK);
	sampan_close(d2);
	cr_expect_eq(sampan_matmul(d1, wt2, &x), SAMPAN_ERROR_INVALID);
	sampan_weights_destroy(wt2);
	/* d1 still works */
	cr_assert_eq(sampan_weights_create(d1, &d, &wt), SAMPAN_OK);
	cr_expect_eq(sampan_matmul(d1, wt, &x), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(out[0], 3.0f);
	sampan_weights_destroy(wt);
	cr_expect_eq(sampan_matmul(d1, NULL, &x), SAMPAN_ERROR_INVALID);
	sampan_close(d1);
}

ParameterizedTestParameters(weights, card_memory)
{
	static struct dev_param params[] = {{"cpu:mem=1"}, {"sim:mem=1"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* 1 MiB of card memory: weights larger than the card fail at create with
 * the bytes needed and free; a product whose activations and outputs do
 * not fit beside resident weights, and a plain GEMM larger than the card,
 * run in several device runs with the exact result; the device keeps
 * working throughout. */
ParameterizedTest(struct dev_param *p, weights, card_memory, .timeout = 900)
{
	struct sampan_device *dev = open_dev(p->dev);
	struct sampan_weights *wt = NULL, *big = NULL;
	struct sampan_info info;
	struct sampan_stats st;
	uint64_t seed = test_seed("weights::card_memory");
	struct rng r;
	struct q8_case c;

	rng_init(&r, seed);
	if (!has_block(dev)) {
		cr_log_warn("%s: no block-scaled commands", p->dev);
		sampan_close(dev);
		return;
	}
	/* too large: 1024 x 1088 int8 plus scales > 1 MiB */
	{
		int8_t *w = xmalloc(1024 * 1088);
		uint16_t *sw = xmalloc(1024 * 34 * 2);
		struct sampan_weights_desc d = {.format = SAMPAN_FORMAT_Q8_0,
		                                .n = 1024,
		                                .k = 1088,
		                                .w = w,
		                                .w_scale = sw,
		                                .name = "token_embd.weight"};

		memset(w, 1, 1024 * 1088);
		memset(sw, 0, 1024 * 34 * 2);
		cr_expect_eq(sampan_weights_create(dev, &d, &big), SAMPAN_ERROR_DEVICE_MEM);
		cr_expect(strstr(sampan_last_error(), "token_embd.weight") &&
		              strstr(sampan_last_error(), "needs") &&
		              strstr(sampan_last_error(), "free"),
		          "message: %s", sampan_last_error());
		cr_expect_null(big);
		free(w);
		free(sw);
	}
	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	cr_expect_eq(info.mem_used, 0u, "mem_used %llu after a failed create",
	             (unsigned long long)info.mem_used);

	/* resident 64 x 2048 (~140 KB), then M = 300: A alone ~600 KB plus
	 * outputs: more than is left, so several runs */
	q8_case_make(&c, &r, 300, 2048, 64, SC_NORMAL, SC_NORMAL, 1);
	{
		struct sampan_weights_desc d = {.format = SAMPAN_FORMAT_Q8_0,
		                                .n = c.n,
		                                .k = c.k,
		                                .w = c.w,
		                                .w_scale = c.sw,
		                                .fbias = (const float *)c.bias};
		struct sampan_matmul x = {.m = c.m, .a = c.a, .a_scale = c.sa, .out = c.out};
		/* a buffer takes most of the rest, so the product must split */
		struct sampan_buffer *hog = NULL;

		cr_assert_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_OK, "%s",
		             sampan_last_error());
		cr_assert_eq(sampan_buffer_create(dev, 400 << 10, &hog), SAMPAN_OK);
		cr_assert_eq(sampan_matmul(dev, wt, &x), SAMPAN_OK, "%s", sampan_last_error());
		cr_expect_eq(q8_mismatches(&c, c.out, "weights::card_memory split"), 0);
		cr_assert_eq(sampan_get_stats(dev, &st), SAMPAN_OK);
		cr_expect_eq(st.macs, (uint64_t)(c.m * c.k * c.n));
		sampan_buffer_destroy(hog);
		sampan_weights_destroy(wt);
	}
	q8_case_free(&c);

	/* a plain GEMM of 1.5 MB of weights: split over N and M */
	q8_case_make(&c, &r, 20, 2048, 700, SC_NORMAL, SC_WIDE, 0);
	cr_expect_eq(q8_run(dev, &c, "weights::card_memory gemm"), 0);
	cr_assert_eq(sampan_get_stats(dev, &st), SAMPAN_OK);
	cr_expect_eq(st.macs, (uint64_t)(c.m * c.k * c.n));
	cr_expect_gt(st.host_bytes_in, (uint64_t)(c.n * c.k));
	q8_case_free(&c);
	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	cr_expect_eq(info.mem_used, 0u);
	sampan_close(dev);
}

Test(weights, bad_descriptions)
{
	struct sampan_device *dev = open_dev("cpu");
	struct sampan_device *nb = open_dev("cpu:block=0");
	int8_t w[64] = {0};
	uint16_t sw[2] = {0};
	int32_t shift[2] = {40, 0}, mult[2] = {1, 1};
	struct sampan_weights *wt = NULL;
	struct sampan_weights_desc d = {
	    .format = SAMPAN_FORMAT_Q8_0, .n = 2, .k = 32, .w = w, .w_scale = NULL};

	cr_expect_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_ERROR_INVALID, "no w_scale");
	d.w_scale = sw;
	d.n = 0;
	cr_expect_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_ERROR_INVALID, "n = 0");
	d.n = 2;
	d.format = (enum sampan_format)7;
	cr_expect_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_ERROR_INVALID, "format 7");
	d.format = SAMPAN_FORMAT_Q8_0;
	cr_expect_eq(sampan_weights_create(nb, &d, &wt), SAMPAN_ERROR_NOT_SUPPORTED, "block=0");
	d.format = SAMPAN_FORMAT_INT8;
	d.mult = mult;
	cr_expect_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_ERROR_INVALID, "mult alone");
	d.shift = shift;
	cr_expect_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_ERROR_INVALID, "shift 40");
	cr_expect_null(wt);
	cr_expect_eq(sampan_weights_create(dev, NULL, &wt), SAMPAN_ERROR_INVALID);
	shift[0] = 0;
	cr_expect_eq(sampan_weights_create(nb, &d, &wt), SAMPAN_OK, "int8 on block=0: %s",
	             sampan_last_error());
	sampan_weights_destroy(wt);
	sampan_close(dev);
	sampan_close(nb);
}
