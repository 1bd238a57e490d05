/*
 * test_rtl_units.c - the RTL units through the sim C ABI: one processing
 * element cycle by cycle, the systolic array at several sizes, the
 * requantizer lane, and the whole core driven by hand-built command lists
 * (registers, one tile, K chunks, counters). Every result is compared
 * with the naive reference in ref.c.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "sampan_sim.h"
#include "simdev.h"
#include "util.h"

/* No test may hang the suite: a bound for those without their own. */
TestSuite(pe, .timeout = 120);
TestSuite(array, .timeout = 120);
TestSuite(requant, .timeout = 120);
TestSuite(core, .timeout = 120);

#ifndef TEST_ROWS
#define TEST_ROWS 16
#endif
#ifndef TEST_COLS
#define TEST_COLS 16
#endif

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

/* ------------------------------------------------------------------- PE */

/* One clock edge of the PE with the given inputs; checks the registered
 * pass-through of the flags and operands, and returns the outputs. */
static struct ssim_pe_io pe_step(struct ssim_pe *pe, int valid, int last, int32_t a, int32_t w)
{
	struct ssim_pe_io io = {.rst = 0, .in_valid = valid, .in_last = last, .in_a = a, .in_w = w};

	ssim_pe_cycle(pe, &io);
	cr_assert_eq(io.out_valid, valid, "out_valid %d after in_valid %d", io.out_valid, valid);
	if (valid) {
		cr_assert_eq(io.out_a, a, "out_a %d, want %d", io.out_a, a);
		cr_assert_eq(io.out_w, w, "out_w %d, want %d", io.out_w, w);
		cr_assert_eq(io.out_last, last, "out_last %d, want %d", io.out_last, last);
	}
	cr_assert_eq(io.res_valid, valid && last, "res_valid %d on valid %d last %d", io.res_valid,
	             valid, last);
	return io;
}

static struct ssim_pe *pe_new(void)
{
	struct ssim_pe *pe = ssim_pe_create();
	struct ssim_pe_io io = {.rst = 1};

	cr_assert_not_null(pe, "ssim_pe_create failed");
	for (int i = 0; i < 2; i++)
		ssim_pe_cycle(pe, &io);
	return pe;
}

/* Streams one tile of @k steps and returns the shadow register. */
static int32_t pe_tile(struct ssim_pe *pe, const int32_t *a, const int32_t *w, long k)
{
	struct ssim_pe_io io = {0};

	for (long i = 0; i < k; i++)
		io = pe_step(pe, 1, i == k - 1, a[i], w[i]);
	return io.res;
}

static int32_t dot_i32(const int32_t *a, const int32_t *w, long k)
{
	int64_t acc = 0;

	for (long i = 0; i < k; i++)
		acc = ref_wrap32(acc + (int64_t)a[i] * w[i]);
	return (int32_t)acc;
}

Test(pe, accumulate)
{
	struct ssim_pe *pe = pe_new();
	int32_t a[] = {3, -7, 100, 255, -256}, w[] = {5, 9, -3, 127, -128};

	for (long k = 1; k <= (long)COUNT(a); k++)
		cr_expect_eq(pe_tile(pe, a, w, k), dot_i32(a, w, k), "k=%ld", k);
	ssim_pe_destroy(pe);
}

Test(pe, restart_from_zero)
{
	struct ssim_pe *pe = pe_new();
	int32_t a1[] = {200, 200, 200}, w1[] = {100, 100, 100};
	int32_t a2[] = {-1, 2}, w2[] = {3, 4};

	cr_expect_eq(pe_tile(pe, a1, w1, 3), 60000);
	/* back to back: the next tile starts on the edge after last */
	cr_expect_eq(pe_tile(pe, a2, w2, 2), 5);
	cr_expect_eq(pe_tile(pe, a2, w2, 1), -3);
	ssim_pe_destroy(pe);
}

Test(pe, valid_gaps_hold_state)
{
	struct ssim_pe *pe = pe_new();
	struct ssim_pe_io io = {0};

	pe_step(pe, 1, 0, 10, 10);
	/* invalid steps carry garbage that must be ignored */
	for (int i = 0; i < 5; i++)
		pe_step(pe, 0, i & 1, 255, 127);
	pe_step(pe, 1, 0, -20, 3);
	pe_step(pe, 0, 1, -256, -128);
	io = pe_step(pe, 1, 1, 7, 7);
	cr_expect_eq(io.res, 100 - 60 + 49);
	/* the shadow register holds its value through idle cycles */
	for (int i = 0; i < 3; i++) {
		io = pe_step(pe, 0, 0, 1, 1);
		cr_expect_eq(io.res, 89, "res changed to %d on an idle cycle", io.res);
	}
	ssim_pe_destroy(pe);
}

Test(pe, reset_clears_accumulator)
{
	struct ssim_pe *pe = pe_new();
	struct ssim_pe_io rst = {.rst = 1};
	int32_t a[] = {2}, w[] = {3};

	pe_step(pe, 1, 0, 100, 100);
	ssim_pe_cycle(pe, &rst);
	cr_expect_eq(rst.res_valid, 0, "res_valid during reset");
	cr_expect_eq(pe_tile(pe, a, w, 1), 6, "accumulator survived reset");
	ssim_pe_destroy(pe);
}

Test(pe, operand_extremes)
{
	static const int32_t as[] = {-256, -255, -129, -128, -1, 0, 1, 127, 128, 254, 255};
	static const int32_t ws[] = {-128, -127, -1, 0, 1, 126, 127};
	struct ssim_pe *pe = pe_new();

	for (size_t i = 0; i < COUNT(as); i++)
		for (size_t j = 0; j < COUNT(ws); j++) {
			int32_t a2[2] = {as[i], as[COUNT(as) - 1 - i]};
			int32_t w2[2] = {ws[j], ws[j]};

			cr_expect_eq(pe_tile(pe, &a2[0], &w2[0], 1), as[i] * ws[j], "a=%d w=%d",
			             as[i], ws[j]);
			cr_expect_eq(pe_tile(pe, a2, w2, 2), dot_i32(a2, w2, 2), "a=%d,%d w=%d",
			             a2[0], a2[1], ws[j]);
		}
	ssim_pe_destroy(pe);
}

Test(pe, random_tiles)
{
	uint64_t seed = test_seed("pe::random_tiles");
	struct rng r;
	struct ssim_pe *pe = pe_new();
	int32_t a[64], w[64];

	rng_init(&r, seed);
	for (int t = 0; t < 500; t++) {
		long k = rng_range(&r, 1, 64);

		for (long i = 0; i < k; i++) {
			a[i] = (int32_t)rng_range(&r, -256, 255);
			w[i] = (int32_t)rng_range(&r, -128, 127);
		}
		cr_assert_eq(pe_tile(pe, a, w, k), dot_i32(a, w, k), "seed %llu tile %d k %ld",
		             (unsigned long long)seed, t, k);
	}
	ssim_pe_destroy(pe);
}

Test(pe, accumulator_wraps)
{
	struct ssim_pe *pe = pe_new();
	struct ssim_pe_io io = {0};
	const long k = 70000; /* 70000 * 32768 > 2^31 */

	for (long i = 0; i < k; i++)
		io = pe_step(pe, 1, i == k - 1, -256, -128);
	cr_expect_eq(io.res, ref_wrap32((int64_t)k * 32768), "res %d", io.res);
	for (long i = 0; i < k; i++)
		io = pe_step(pe, 1, i == k - 1, 255, -128);
	cr_expect_eq(io.res, ref_wrap32((int64_t)k * -32640), "res %d", io.res);
	ssim_pe_destroy(pe);
}

/* ----------------------------------------------------------------- array */

struct array_size {
	unsigned rows, cols;
};

ParameterizedTestParameters(array, random_tiles)
{
	static struct array_size sizes[] = {{4, 4}, {8, 16}, {16, 16}};

	return cr_make_param_array(struct array_size, sizes, COUNT(sizes));
}

/* Runs one tile on @arr and compares every output with the naive dot
 * product; a: (k, rows) as int16, w: (k, cols). */
static void array_check(struct ssim_array *arr, const struct array_size *s, const int16_t *a,
                        const int8_t *w, unsigned k, const char *what)
{
	int32_t *out = xmalloc(sizeof(*out) * s->rows * s->cols);
	long cycles;
	size_t bad = 0;

	memset(out, 0x5a, sizeof(*out) * s->rows * s->cols);
	cycles = ssim_array_run(arr, a, w, k, out);
	cr_assert_geq(cycles, (long)k, "%s: ssim_array_run returned %ld for k_len %u", what, cycles,
	              k);
	for (unsigned r = 0; r < s->rows; r++)
		for (unsigned c = 0; c < s->cols; c++) {
			int64_t acc = 0;

			for (unsigned i = 0; i < k; i++)
				acc = ref_wrap32(acc +
				                 (int64_t)a[i * s->rows + r] * w[i * s->cols + c]);
			if (out[r * s->cols + c] != acc && bad++ < 5)
				cr_log_error("%s %ux%u k_len %u: out[%u][%u] = %d, want %d", what,
				             s->rows, s->cols, k, r, c, out[r * s->cols + c],
				             (int32_t)acc);
		}
	free(out);
	cr_assert_eq(bad, 0, "%s %ux%u k_len %u: %zu outputs wrong", what, s->rows, s->cols, k,
	             bad);
}

ParameterizedTest(struct array_size *s, array, random_tiles, .timeout = 300)
{
	static const unsigned k_lens[] = {1, 2, 3, 7, 64, 255, 3000};
	uint64_t seed = test_seed("array::random_tiles");
	struct ssim_array *arr = ssim_array_create(s->rows, s->cols);
	struct rng r;
	char what[64];

	cr_assert_not_null(arr, "ssim_array_create(%u, %u) failed", s->rows, s->cols);
	rng_init(&r, seed);
	for (size_t i = 0; i < COUNT(k_lens); i++) {
		for (int pattern = 0; pattern < 3; pattern++) {
			unsigned k = k_lens[i];
			int16_t *a = xmalloc(sizeof(*a) * k * s->rows);
			int8_t *w = xmalloc((size_t)k * s->cols);

			for (size_t j = 0; j < (size_t)k * s->rows; j++)
				a[j] = pattern == 0   ? (int16_t)rng_range(&r, -256, 255)
				       : pattern == 1 ? (int16_t)(rng_range(&r, 0, 1) ? 255 : -256)
				                      : (int16_t)((j & 1) ? 255 : -256);
			fill_i8(&r, w, (size_t)k * s->cols,
			        pattern == 0   ? FILL_RANDOM
			        : pattern == 1 ? FILL_EXTREMES
			                       : FILL_MIN);
			snprintf(what, sizeof(what), "seed %llu pattern %d",
			         (unsigned long long)seed, pattern);
			array_check(arr, s, a, w, k, what);
			free(a);
			free(w);
		}
	}
	ssim_array_destroy(arr);
}

ParameterizedTestParameters(array, accumulator_wraps)
{
	static struct array_size sizes[] = {{4, 4}, {16, 16}};

	return cr_make_param_array(struct array_size, sizes, COUNT(sizes));
}

ParameterizedTest(struct array_size *s, array, accumulator_wraps, .timeout = 300)
{
	const unsigned k = 70000;
	struct ssim_array *arr = ssim_array_create(s->rows, s->cols);
	int16_t *a = xmalloc(sizeof(*a) * k * s->rows);
	int8_t *w = xmalloc((size_t)k * s->cols);

	cr_assert_not_null(arr);
	for (size_t j = 0; j < (size_t)k * s->rows; j++)
		a[j] = (j % s->rows) & 1 ? 255 : -256;
	memset(w, 0x80, (size_t)k * s->cols); /* -128 */
	array_check(arr, s, a, w, k, "wrap");
	free(a);
	free(w);
	ssim_array_destroy(arr);
}

Test(array, unsupported_size_fails)
{
	struct ssim_array *arr = ssim_array_create(3, 5);

	if (arr) {
		int16_t a[3] = {0};
		int8_t w[5] = {0};
		int32_t out[15];

		cr_expect_lt(ssim_array_run(arr, a, w, 1, out), 0, "a 3x5 array ran");
		ssim_array_destroy(arr);
	}
}

/* ------------------------------------------------------------- requant */

static int32_t rq_expected(const struct ssim_requant_in *in)
{
	int32_t acc = ref_wrap32((int64_t)in->acc + in->bias);
	int shift = in->shift < -31 ? -31 : in->shift > 31 ? 31 : in->shift;

	if (in->raw)
		return acc;
	return ref_requantize(acc, in->mult, shift, in->zo, in->lo, in->hi);
}

/* Runs @n lane inputs and reports the first mismatches. */
static void rq_check(const struct ssim_requant_in *in, size_t n, const char *what)
{
	struct ssim_requant *rq = ssim_requant_create();
	int32_t *out = xmalloc(sizeof(*out) * n);
	size_t bad = 0;

	cr_assert_not_null(rq, "ssim_requant_create failed");
	cr_assert_eq(ssim_requant_run(rq, in, out, n), 0, "ssim_requant_run failed");
	for (size_t i = 0; i < n; i++) {
		int32_t want = rq_expected(&in[i]);

		if (out[i] != want && bad++ < 10)
			cr_log_error("%s: #%zu acc %d bias %d mult %d shift %d zo %d [%d, %d] raw "
			             "%d: got %d, want %d",
			             what, i, in[i].acc, in[i].bias, in[i].mult, in[i].shift,
			             in[i].zo, in[i].lo, in[i].hi, in[i].raw, out[i], want);
	}
	free(out);
	ssim_requant_destroy(rq);
	cr_assert_eq(bad, 0, "%s: %zu of %zu outputs wrong", what, bad, n);
}

static const int32_t rq_edges[] = {
    INT32_MIN,
    INT32_MIN + 1,
    -(1 << 30) - 1,
    -(1 << 30),
    -(1 << 30) + 1,
    -32768,
    -129,
    -128,
    -3,
    -2,
    -1,
    0,
    1,
    2,
    3,
    127,
    128,
    32767,
    (1 << 30) - 1,
    1 << 30,
    (1 << 30) + 1,
    INT32_MAX - 1,
    INT32_MAX,
};

Test(requant, rtl_edges, .timeout = 120)
{
	static const int shifts[] = {-31, -30, -2, -1, 0, 1, 2, 30, 31};
	static const int32_t outs[][3] = {
	    {0, -128, 127}, {-128, -128, 127}, {127, -128, 127}, {5, 5, 127}, {-3, -10, 10}};
	size_t n = COUNT(rq_edges) * COUNT(rq_edges) * COUNT(shifts) * COUNT(outs), i = 0;
	struct ssim_requant_in *in = xmalloc(sizeof(*in) * n);

	for (size_t a = 0; a < COUNT(rq_edges); a++)
		for (size_t m = 0; m < COUNT(rq_edges); m++)
			for (size_t s = 0; s < COUNT(shifts); s++)
				for (size_t o = 0; o < COUNT(outs); o++)
					in[i++] = (struct ssim_requant_in){.acc = rq_edges[a],
					                                   .bias = 0,
					                                   .mult = rq_edges[m],
					                                   .shift = shifts[s],
					                                   .zo = outs[o][0],
					                                   .lo = outs[o][1],
					                                   .hi = outs[o][2],
					                                   .raw = 0};
	rq_check(in, n, "edges");
	free(in);
}

Test(requant, rtl_raw_adds_bias_wrapping)
{
	struct ssim_requant_in in[COUNT(rq_edges) * COUNT(rq_edges)];
	size_t i = 0;

	for (size_t a = 0; a < COUNT(rq_edges); a++)
		for (size_t b = 0; b < COUNT(rq_edges); b++)
			in[i++] = (struct ssim_requant_in){.acc = rq_edges[a],
			                                   .bias = rq_edges[b],
			                                   .mult = 12345,
			                                   .shift = 3,
			                                   .zo = 1,
			                                   .lo = -2,
			                                   .hi = 2,
			                                   .raw = 1};
	rq_check(in, i, "raw");
}

Test(requant, rtl_shift_clamped)
{
	static const int32_t shifts[] = {32, 40, INT32_MAX, -32, -100, INT32_MIN};
	struct ssim_requant_in in[COUNT(shifts) * 4];
	size_t i = 0;

	for (size_t s = 0; s < COUNT(shifts); s++)
		for (int v = 0; v < 4; v++)
			in[i++] = (struct ssim_requant_in){.acc = v == 0   ? 1
			                                          : v == 1 ? INT32_MIN
			                                          : v == 2 ? INT32_MAX
			                                                   : -12345,
			                                   .mult = v & 1 ? INT32_MAX : 1 << 30,
			                                   .shift = shifts[s],
			                                   .zo = 0,
			                                   .lo = -128,
			                                   .hi = 127};
	rq_check(in, i, "shift clamp");
}

Test(requant, rtl_random_sweep, .timeout = 300)
{
	uint64_t seed = test_seed("requant::rtl_random_sweep");
	const size_t n = 100000;
	struct ssim_requant_in *in = xmalloc(sizeof(*in) * n);
	struct rng r;
	char what[64];

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++) {
		int32_t lo = (int32_t)rng_range(&r, -128, 127);

		in[i] = (struct ssim_requant_in){
		    .acc = rng_i32_edgy(&r),
		    .bias = rng_range(&r, 0, 3) ? (int32_t)rng_range(&r, -100000, 100000)
		                                : rng_i32_edgy(&r),
		    .mult = rng_i32_edgy(&r),
		    .shift = (int32_t)rng_range(&r, -31, 31),
		    .zo = (int32_t)rng_range(&r, -128, 127),
		    .lo = lo,
		    .hi = (int32_t)rng_range(&r, lo, 127),
		    .raw = rng_range(&r, 0, 9) == 0,
		};
	}
	snprintf(what, sizeof(what), "seed %llu", (unsigned long long)seed);
	rq_check(in, n, what);
	free(in);
}

/* ---------------------------------------------------------------- core */

#define MAX_CYCLES 2000000

static void core_open(struct simdev *d)
{
	char err[256];

	cr_assert_eq(simdev_open(d, 16u << 20, err, sizeof(err)), 0, "%s", err);
}

Test(core, id_and_shape_registers)
{
	struct simdev d;

	core_open(&d);
	cr_expect_eq(simdev_reg(&d, REG_ID), 0x4E504D53u);
	cr_expect_eq(simdev_reg(&d, REG_VERSION), 0x00010100u);
	cr_expect_eq(d.rows, TEST_ROWS, "SHAPE rows %u, built with ROWS=%d", d.rows, TEST_ROWS);
	cr_expect_eq(d.cols, TEST_COLS, "SHAPE cols %u, built with COLS=%d", d.cols, TEST_COLS);
	cr_expect_gt(d.k_depth, 0);
	cr_expect_gt(d.slots, 0);
	cr_expect_gt(d.params, 0);
	cr_expect(d.bus > 0 && d.bus % d.rows == 0 && d.bus % (4 * d.cols) == 0,
	          "BUS_BYTES %u illegal for %ux%u", d.bus, d.rows, d.cols);
	cr_expect_eq(simdev_reg(&d, REG_CTRL) & 4, 4, "ap_idle not set after reset");
	simdev_close(&d);
}

Test(core, empty_command_list_finishes)
{
	struct simdev d;
	struct cmd none[1];
	uint32_t status, index;

	core_open(&d);
	memset(none, 0, sizeof(none));
	cr_assert_eq(simdev_run(&d, 0, none, 0, 10000, &status, &index), 1,
	             "CMD_COUNT 0 did not finish");
	cr_expect_eq(status, 0);
	cr_expect_eq(simdev_reg64(&d, REG_CMDS), 0);
	simdev_close(&d);
}

Test(core, one_tile_with_counters, .timeout = 120)
{
	uint64_t seed = test_seed("core::one_tile_with_counters");
	struct simdev d;
	struct tile t;
	struct rng r;
	uint32_t status = 99, index = 99;
	unsigned k = 37, m, n;

	core_open(&d);
	rng_init(&r, seed);
	m = d.rows > 1 ? d.rows - 1 : 1; /* ragged: one padded row */
	n = d.cols;
	tile_random(&t, &d, &r, m, n, k);
	tile_write_operands(&d, &t, 0, k, ADDR_A0, ADDR_W0);
	tile_write_params(&d, &t, 2);
	struct cmd cmds[] = {
	    cmd_load(OP_LOAD_A, 0, k, ADDR_A0),
	    cmd_load(OP_LOAD_W, 0, k, ADDR_W0),
	    cmd_load_p(2, 1, ADDR_P + 6 * (uint64_t)d.bus),
	    cmd_compute(0, 0, 1, 1, k, t.za, m, n),
	    cmd_store(1, 1, 2, ADDR_OUT, 0, -128, 127),
	    cmd_store(0, 1, 2, ADDR_OUT2, t.zo, t.lo, t.hi),
	};
	cr_assert_eq(simdev_run(&d, ADDR_CMDS, cmds, COUNT(cmds), MAX_CYCLES, &status, &index), 1,
	             "no ap_done within %d cycles", MAX_CYCLES);
	cr_assert_eq(status, 0, "STATUS %u at command %u", status, index);
	tile_check(&d, &t, "one tile");

	uint64_t cycles = simdev_reg64(&d, REG_CYCLES), busy = simdev_reg64(&d, REG_BUSY);
	uint64_t smem = simdev_reg64(&d, REG_STALL_MEM), sdep = simdev_reg64(&d, REG_STALL_DEP);

	cr_expect_eq(simdev_reg64(&d, REG_MACS), (uint64_t)k * m * n, "MACS %llu",
	             (unsigned long long)simdev_reg64(&d, REG_MACS));
	cr_expect_eq(simdev_reg64(&d, REG_CMDS), COUNT(cmds));
	cr_expect_gt(cycles, 0);
	cr_expect_geq(busy, k, "BUSY %llu < k_len", (unsigned long long)busy);
	cr_expect_leq(busy + smem + sdep, cycles, "busy %llu + stalls %llu + %llu > cycles %llu",
	              (unsigned long long)busy, (unsigned long long)smem, (unsigned long long)sdep,
	              (unsigned long long)cycles);
	cr_expect_geq(simdev_reg64(&d, REG_BYTES_RD), (uint64_t)k * (d.rows + d.cols));
	cr_expect_geq(simdev_reg64(&d, REG_BYTES_WR), (uint64_t)5 * d.rows * d.cols);
	tile_free(&t);
	simdev_close(&d);
}

Test(core, k_chunks_accumulate, .timeout = 120)
{
	uint64_t seed = test_seed("core::k_chunks_accumulate");
	struct simdev d;
	struct tile t;
	struct rng r;
	uint32_t status = 99, index = 99;
	unsigned k0, k1;

	core_open(&d);
	rng_init(&r, seed);
	k0 = d.k_depth;
	k1 = 5;
	tile_random(&t, &d, &r, d.rows, d.cols > 2 ? d.cols - 2 : 1, k0 + k1);
	tile_write_operands(&d, &t, 0, k0, ADDR_A0, ADDR_W0);
	tile_write_operands(&d, &t, k0, k1, ADDR_A1, ADDR_W1);
	tile_write_params(&d, &t, 0);
	struct cmd cmds[] = {
	    cmd_load_p(0, 1, ADDR_P),
	    cmd_load(OP_LOAD_A, 0, k0, ADDR_A0),
	    cmd_load(OP_LOAD_W, 0, k0, ADDR_W0),
	    cmd_load(OP_LOAD_A, 1, k1, ADDR_A1),
	    cmd_load(OP_LOAD_W, 1, k1, ADDR_W1),
	    cmd_compute(0, 0, 1, 0, k0, t.za, t.m, t.n),
	    cmd_compute(1, 1, 0, 0, k1, t.za, t.m, t.n),
	    cmd_store(1, 0, 0, ADDR_OUT, 0, -128, 127),
	    cmd_store(0, 0, 0, ADDR_OUT2, t.zo, t.lo, t.hi),
	};
	cr_assert_eq(simdev_run(&d, ADDR_CMDS, cmds, COUNT(cmds), MAX_CYCLES, &status, &index), 1,
	             "no ap_done within %d cycles", MAX_CYCLES);
	cr_assert_eq(status, 0, "STATUS %u at command %u", status, index);
	tile_check(&d, &t, "two K chunks");
	cr_expect_eq(simdev_reg64(&d, REG_MACS), (uint64_t)(k0 + k1) * t.m * t.n);
	tile_free(&t);
	simdev_close(&d);
}

/* Reuse of one bank, one slot and one parameter entry by two tiles in a
 * single list: the result must be that of sequential execution (each
 * load waits for the COMPUTE reading the old contents, the second COMPUTE
 * for the STOREs of the first tile, LOAD_P for the stores using the old
 * parameters, and the later STOREs see the new ones). */
Test(core, hazards_reuse_bank_slot_entry, .timeout = 120)
{
	uint64_t seed = test_seed("core::hazards_reuse_bank_slot_entry");
	const uint64_t out1 = ADDR_OUT, out1q = ADDR_OUT + 0x4000;
	const uint64_t out2 = ADDR_OUT2, out2q = ADDR_OUT2 + 0x4000;
	struct simdev d;
	struct tile t1, t2;
	struct rng r;
	uint32_t status = 99, index = 99;
	uint64_t p2;

	core_open(&d);
	rng_init(&r, seed);
	tile_random(&t1, &d, &r, d.rows, d.cols, 50);
	tile_random(&t2, &d, &r, d.rows > 3 ? d.rows - 3 : 1, d.cols, 70);
	t2.zo = -t1.zo - 1;
	t2.lo = -128;
	t2.hi = 5;
	tile_write_operands(&d, &t1, 0, t1.k, ADDR_A0, ADDR_W0);
	tile_write_operands(&d, &t2, 0, t2.k, ADDR_A1, ADDR_W1);
	tile_write_params(&d, &t1, 0);
	tile_write_params(&d, &t2, 10); /* loaded into entry 0 later */
	p2 = ADDR_P + 30 * (uint64_t)d.bus;
	struct cmd cmds[] = {
	    cmd_load_p(0, 1, ADDR_P),
	    cmd_load(OP_LOAD_A, 0, t1.k, ADDR_A0),
	    cmd_load(OP_LOAD_W, 0, t1.k, ADDR_W0),
	    cmd_compute(0, 0, 1, 0, t1.k, t1.za, t1.m, t1.n),
	    cmd_load(OP_LOAD_A, 0, t2.k, ADDR_A1), /* overwrites the bank being read */
	    cmd_load(OP_LOAD_W, 0, t2.k, ADDR_W1),
	    cmd_store(1, 0, 0, out1, 0, -128, 127),
	    cmd_store(0, 0, 0, out1q, t1.zo, t1.lo, t1.hi),
	    cmd_compute(0, 0, 1, 0, t2.k, t2.za, t2.m, t2.n), /* overwrites the slot */
	    cmd_load_p(0, 1, p2),                             /* overwrites the entry */
	    cmd_store(1, 0, 0, out2, 0, -128, 127),
	    cmd_store(0, 0, 0, out2q, t2.zo, t2.lo, t2.hi),
	};
	cr_assert_eq(simdev_run(&d, ADDR_CMDS, cmds, COUNT(cmds), MAX_CYCLES, &status, &index), 1,
	             "no ap_done within %d cycles", MAX_CYCLES);
	cr_assert_eq(status, 0, "STATUS %u at command %u", status, index);
	tile_check_at(&d, &t1, out1, out1q, "first tile");
	tile_check_at(&d, &t2, out2, out2q, "second tile");
	cr_expect_eq(simdev_reg64(&d, REG_MACS),
	             (uint64_t)t1.k * t1.m * t1.n + (uint64_t)t2.k * t2.m * t2.n);
	tile_free(&t1);
	tile_free(&t2);
	simdev_close(&d);
}
