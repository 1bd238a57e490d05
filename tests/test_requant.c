/*
 * test_requant.c - the requantization arithmetic: the independent
 * reference (ref.c) against values worked out by hand from the TFLite
 * formulas, then libsampan's sampan_mbqm()/sampan_requantize() against the
 * reference on edge cases and a random sweep.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>

#include "ref.h"
#include "sampan.h"
#include "util.h"

/* No test may hang the suite: a bound for those without their own. */
TestSuite(requant, .timeout = 120);

#define Q30 (INT32_C(1) << 30)

/* ------------------------------------------------------ reference by hand */

Test(requant, ref_srdhm_by_hand)
{
	static const struct {
		int32_t a, b, want;
	} cases[] = {
	    {INT32_MIN, INT32_MIN, INT32_MAX}, /* the one saturating case */
	    {INT32_MAX, INT32_MAX, 2147483646},
	    {INT32_MIN, INT32_MAX, -2147483647},
	    {INT32_MAX, INT32_MIN, -2147483647},
	    {INT32_MIN, Q30, -1073741824},
	    {100, Q30, 50},
	    {1, Q30, 1},   /* +0.5 -> 1 */
	    {-1, Q30, 0},  /* -0.5 -> 0 (nudge 1 - 2^30) */
	    {3, Q30, 2},   /* +1.5 -> 2 */
	    {-3, Q30, -1}, /* -1.5 -> -1 */
	    {INT32_MAX, 1, 1},
	    {INT32_MIN, 1, -1},
	    {Q30, 1, 1},  /* +0.5 */
	    {-Q30, 1, 0}, /* -0.5 */
	    {Q30 - 1, 1, 0},
	    {-Q30 - 1, 1, -1},
	    {12345, 0, 0},
	    {0, INT32_MIN, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(ref_srdhm(cases[i].a, cases[i].b), cases[i].want,
		             "srdhm(%d, %d) = %d, want %d", cases[i].a, cases[i].b,
		             ref_srdhm(cases[i].a, cases[i].b), cases[i].want);
}

Test(requant, ref_rdbpot_by_hand)
{
	static const struct {
		int32_t x;
		int e;
		int32_t want;
	} cases[] = {
	    {7, 0, 7},
	    {-7, 0, -7},
	    {1, 1, 1}, /* 0.5 -> 1 */
	    {-1, 1, -1},
	    /* -0.5 -> -1 */ {3, 1, 2},
	    {-3, 1, -2},
	    {5, 2, 1},
	    {-5, 2, -1},
	    {6, 2, 2},
	    {-6, 2, -2},
	    {INT32_MAX, 31, 1},
	    {INT32_MIN, 31, -1},
	    {Q30, 31, 1},
	    /* 0.5 */ {-Q30, 31, -1}, /* -0.5 */
	    {Q30 - 1, 31, 0},
	    {-Q30 + 1, 31, 0},
	    {INT32_MAX, 1, 1073741824},
	    {INT32_MIN, 1, -1073741824},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(ref_rdbpot(cases[i].x, cases[i].e), cases[i].want,
		             "rdbpot(%d, %d) = %d, want %d", cases[i].x, cases[i].e,
		             ref_rdbpot(cases[i].x, cases[i].e), cases[i].want);
}

/* Hand-computed MBQM cases, shared by the reference and driver tests. */
static const struct {
	int32_t x, mult;
	int shift;
	int32_t want;
} mbqm_cases[] = {
    {100, Q30, 0, 50},
    {INT32_MAX, INT32_MAX, 0, 2147483646},
    {INT32_MIN, INT32_MIN, 0, INT32_MAX},
    {INT32_MIN, INT32_MIN, -31, 1},
    {INT32_MIN, INT32_MAX, -31, -1},
    {INT32_MIN, INT32_MAX, 0, -2147483647},
    {INT32_MAX, INT32_MAX, -31, 1},
    {999, 0, 5, 0},
    {1, Q30, 31, -1073741824}, /* 1 << 31 wraps to INT32_MIN */
    {3, Q30, 31, -1073741824},
    {-1, Q30, 31, -1073741824},
    {2, Q30, 31, 0}, /* 2 << 31 wraps to 0 */
    {1, 1, 31, -1},
    {1, INT32_MAX, 30, 1073741824},
    {5, Q30, 1, 5},
    {5, Q30, -1, 2},   /* 2.5 -> 3, then 1.5 -> 2: double rounding */
    {-5, Q30, -1, -1}, /* -2.5 -> -2, then -1 */
    {1000, 1518500250, -3, 88},
    {12345, Q30, -2, 1543},
};

Test(requant, ref_mbqm_by_hand)
{
	for (size_t i = 0; i < sizeof(mbqm_cases) / sizeof(mbqm_cases[0]); i++)
		cr_expect_eq(ref_mbqm(mbqm_cases[i].x, mbqm_cases[i].mult, mbqm_cases[i].shift),
		             mbqm_cases[i].want, "ref_mbqm(%d, %d, %d) = %d, want %d",
		             mbqm_cases[i].x, mbqm_cases[i].mult, mbqm_cases[i].shift,
		             ref_mbqm(mbqm_cases[i].x, mbqm_cases[i].mult, mbqm_cases[i].shift),
		             mbqm_cases[i].want);
}

static const struct {
	int32_t acc, mult;
	int shift;
	int32_t zo, lo, hi, want;
} requant_cases[] = {
    {100, Q30, 0, 0, -128, 127, 50},
    {1000, Q30, 0, 0, -128, 127, 127},   /* saturate high */
    {-1000, Q30, 0, 0, -128, 127, -128}, /* saturate low */
    {100, Q30, 0, 127, -128, 127, 127},
    {-100, Q30, 0, -128, -128, 127, -128},
    {0, Q30, 0, -128, -128, 127, -128},
    {0, Q30, 0, 127, -128, 127, 127},
    {INT32_MIN, INT32_MIN, 0, 127, -128, 127, 127}, /* INT32_MAX + 127, no wrap */
    {INT32_MIN, INT32_MAX, 0, -128, -128, 127, -128},
    {-100, Q30, 0, 10, 10, 127, 10}, /* ReLU: lo = zo */
    {200, Q30, 0, 10, 10, 60, 60},   /* ReLU6-like */
    {40, Q30, 0, 10, 10, 60, 30},
    {5, Q30, -1, -3, -128, 127, -1},
    {123456, Q30, 3, 0, 7, 7, 7}, /* lo == hi */
    {-123456, Q30, -3, 0, -7, -7, -7},
};

Test(requant, ref_requantize_by_hand)
{
	for (size_t i = 0; i < sizeof(requant_cases) / sizeof(requant_cases[0]); i++) {
		int32_t got = ref_requantize(requant_cases[i].acc, requant_cases[i].mult,
		                             requant_cases[i].shift, requant_cases[i].zo,
		                             requant_cases[i].lo, requant_cases[i].hi);
		cr_expect_eq(got, requant_cases[i].want, "case %zu: ref_requantize = %d, want %d",
		             i, got, requant_cases[i].want);
	}
}

Test(requant, ref_dot_wraps)
{
	int8_t a[3] = {-128, -128, -128}, w[3] = {-128, -128, -128};

	/* (-128 - 127) * -128 = 32640 per term */
	cr_expect_eq(ref_dot(a, 1, w, 1, 3, 127, 0), 3 * 32640);
	cr_expect_eq(ref_dot(a, 1, w, 1, 1, 127, INT32_MAX), INT32_MIN + 32640 - 1);
	cr_expect_eq(ref_dot(a, 1, w, 1, 0, 127, -5), -5);
	/* a - za = 0 makes the bias pass through */
	cr_expect_eq(ref_dot(a, 1, w, 1, 3, -128, INT32_MIN), INT32_MIN);
}

/* ------------------------------------------------------ driver vs ref */

Test(requant, driver_mbqm_by_hand)
{
	for (size_t i = 0; i < sizeof(mbqm_cases) / sizeof(mbqm_cases[0]); i++)
		cr_expect_eq(sampan_mbqm(mbqm_cases[i].x, mbqm_cases[i].mult, mbqm_cases[i].shift),
		             mbqm_cases[i].want, "sampan_mbqm(%d, %d, %d) = %d, want %d",
		             mbqm_cases[i].x, mbqm_cases[i].mult, mbqm_cases[i].shift,
		             sampan_mbqm(mbqm_cases[i].x, mbqm_cases[i].mult, mbqm_cases[i].shift),
		             mbqm_cases[i].want);
}

Test(requant, driver_requantize_by_hand)
{
	for (size_t i = 0; i < sizeof(requant_cases) / sizeof(requant_cases[0]); i++) {
		int32_t got = sampan_requantize(requant_cases[i].acc, requant_cases[i].mult,
		                                requant_cases[i].shift, requant_cases[i].zo,
		                                requant_cases[i].lo, requant_cases[i].hi);
		cr_expect_eq(got, requant_cases[i].want,
		             "case %zu: sampan_requantize = %d, want %d", i, got,
		             requant_cases[i].want);
	}
}

static const int32_t edge_values[] = {
    INT32_MIN, INT32_MIN + 1, -Q30 - 1, -Q30,  -Q30 + 1, -65536,  -32768, -256,    -129,
    -128,      -127,          -3,       -2,    -1,       0,       1,      2,       3,
    127,       128,           255,      32767, 32768,    Q30 - 1, Q30,    Q30 + 1, INT32_MAX - 1,
    INT32_MAX,
};
static const int edge_shifts[] = {-31, -30, -16, -2, -1, 0, 1, 2, 16, 30, 31};
#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

Test(requant, driver_mbqm_edges)
{
	size_t bad = 0;

	for (size_t i = 0; i < COUNT(edge_values); i++)
		for (size_t j = 0; j < COUNT(edge_values); j++)
			for (size_t s = 0; s < COUNT(edge_shifts); s++) {
				int32_t x = edge_values[i], m = edge_values[j];
				int sh = edge_shifts[s];
				int32_t want = ref_mbqm(x, m, sh), got = sampan_mbqm(x, m, sh);

				if (got != want && bad++ < 10)
					cr_log_error("sampan_mbqm(%d, %d, %d) = %d, want %d", x, m,
					             sh, got, want);
			}
	cr_assert_eq(bad, 0, "%zu edge cases differ from the reference", bad);
}

Test(requant, driver_requantize_edges)
{
	static const int32_t zos[] = {-128, -1, 0, 1, 127};
	static const int32_t ranges[][2] = {{-128, 127},  {0, 127},   {0, 6},
	                                    {-128, -128}, {127, 127}, {-5, 5}};
	size_t bad = 0;

	for (size_t i = 0; i < COUNT(edge_values); i++)
		for (size_t j = 0; j < COUNT(edge_values); j++)
			for (size_t s = 0; s < COUNT(edge_shifts); s++)
				for (size_t z = 0; z < COUNT(zos); z++)
					for (size_t r = 0; r < COUNT(ranges); r++) {
						int32_t acc = edge_values[i], m = edge_values[j];
						int sh = edge_shifts[s];
						int32_t zo = zos[z], lo = ranges[r][0],
						        hi = ranges[r][1];
						int32_t want =
						    ref_requantize(acc, m, sh, zo, lo, hi);
						int32_t got =
						    sampan_requantize(acc, m, sh, zo, lo, hi);

						if (got != want && bad++ < 10)
							cr_log_error(
							    "sampan_requantize(%d, %d, %d, %d, %d, "
							    "%d) = %d, want %d",
							    acc, m, sh, zo, lo, hi, got, want);
					}
	cr_assert_eq(bad, 0, "%zu edge cases differ from the reference", bad);
}

Test(requant, driver_random_sweep)
{
	uint64_t seed = test_seed("requant::driver_random_sweep");
	struct rng r;
	size_t bad = 0;

	rng_init(&r, seed);
	for (long i = 0; i < 2000000; i++) {
		int32_t acc = rng_i32_edgy(&r), m = rng_i32_edgy(&r);
		int sh = (int)rng_range(&r, -31, 31);
		int32_t zo = (int32_t)rng_range(&r, -128, 127);
		int32_t lo = (int32_t)rng_range(&r, -128, 127);
		int32_t hi = (int32_t)rng_range(&r, lo, 127);
		int32_t want_m = ref_mbqm(acc, m, sh), got_m = sampan_mbqm(acc, m, sh);
		int32_t want = ref_requantize(acc, m, sh, zo, lo, hi);
		int32_t got = sampan_requantize(acc, m, sh, zo, lo, hi);

		if ((got_m != want_m || got != want) && bad++ < 10)
			cr_log_error("seed %llu: acc %d mult %d shift %d zo %d [%d, %d]: mbqm %d "
			             "want %d, requantize %d want %d",
			             (unsigned long long)seed, acc, m, sh, zo, lo, hi, got_m,
			             want_m, got, want);
	}
	cr_assert_eq(bad, 0, "%zu random cases differ from the reference (seed %llu)", bad,
	             (unsigned long long)seed);
}
