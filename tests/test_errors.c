/*
 * test_errors.c - failures are reported, never crashes or hangs: invalid
 * GEMM arguments, card memory exhausted, unknown devices and options, a
 * missing simulator library, and illegal commands reaching the simulated
 * core (which must stop, report and then run the next list normally).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "sampan.h"
#include "simdev.h"
#include "util.h"

/* No test may hang the suite: a bound for those without their own. */
TestSuite(errors, .timeout = 120);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

struct dev_param {
	char dev[16];
};

static struct sampan_device *open_dev(const char *name)
{
	struct sampan_device *dev = NULL;
	int err = sampan_open(&dev, name);

	cr_assert_eq(err, SAMPAN_OK, "sampan_open(%s): %s: %s", name, sampan_strerror(err),
	             sampan_last_error());
	return dev;
}

/* Asserts that @err is @want and that a message was left. */
#define EXPECT_ERROR(err, want, what)                                                              \
	do {                                                                                       \
		int e_ = (err);                                                                    \
		cr_expect_eq(e_, (want), "%s: got %d (%s), want %s; message '%s'", (what), e_,     \
		             sampan_strerror(e_), #want, sampan_last_error());                     \
		cr_expect_neq(sampan_last_error()[0], '\0', "%s: no message", (what));             \
	} while (0)

/* ------------------------------------------------------- bad arguments */

enum {
	BAD_M0,
	BAD_K0,
	BAD_N0,
	BAD_M_NEG,
	BAD_K_NEG,
	BAD_N_MIN,
	BAD_A_NULL,
	BAD_W_NULL,
	BAD_OUT_NULL,
	BAD_MULT_NULL,
	BAD_SHIFT_NULL,
	BAD_SHIFT_HIGH,
	BAD_SHIFT_LOW,
	BAD_LO_GT_HI,
	BAD_LO_LOW,
	BAD_HI_HIGH,
	BAD_ZA_HIGH,
	BAD_ZA_LOW,
	BAD_ZO_HIGH,
	BAD_ZO_LOW,
	BAD_COUNT
};

static const char *const bad_names[BAD_COUNT] = {
    "m=0",     "k=0",      "n=0",       "m=-1",       "k=-5",        "n=INT64_MIN",  "a=NULL",
    "w=NULL",  "out=NULL", "mult=NULL", "shift=NULL", "shift[3]=32", "shift[0]=-32", "lo>hi",
    "lo=-129", "hi=128",   "za=128",    "za=-129",    "zo=128",      "zo=-129",
};

ParameterizedTestParameters(errors, invalid_gemm_arguments)
{
	static struct dev_param params[] = {{"cpu"}, {"sim"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

ParameterizedTest(struct dev_param *p, errors, invalid_gemm_arguments)
{
	int8_t a[4 * 6] = {1, 2, 3}, w[5 * 6] = {4, 5, 6};
	int32_t bias[5] = {0}, mult[5] = {1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30};
	int32_t shift[5] = {0};
	int8_t out[4 * 5];
	struct sampan_device *dev = open_dev(p->dev);
	const struct sampan_gemm good = {.m = 4,
	                                 .k = 6,
	                                 .n = 5,
	                                 .a = a,
	                                 .w = w,
	                                 .bias = bias,
	                                 .mult = mult,
	                                 .shift = shift,
	                                 .za = 0,
	                                 .zo = 0,
	                                 .lo = -128,
	                                 .hi = 127,
	                                 .raw = 0,
	                                 .out = out};

	/* the unmodified problem is fine */
	cr_assert_eq(sampan_gemm(dev, &good), SAMPAN_OK, "%s", sampan_last_error());
	for (int bad = 0; bad < BAD_COUNT; bad++) {
		struct sampan_gemm g = good;
		int32_t s[5] = {0};

		g.shift = s;
		switch (bad) {
		case BAD_M0:
			g.m = 0;
			break;
		case BAD_K0:
			g.k = 0;
			break;
		case BAD_N0:
			g.n = 0;
			break;
		case BAD_M_NEG:
			g.m = -1;
			break;
		case BAD_K_NEG:
			g.k = -5;
			break;
		case BAD_N_MIN:
			g.n = INT64_MIN;
			break;
		case BAD_A_NULL:
			g.a = NULL;
			break;
		case BAD_W_NULL:
			g.w = NULL;
			break;
		case BAD_OUT_NULL:
			g.out = NULL;
			break;
		case BAD_MULT_NULL:
			g.mult = NULL;
			break;
		case BAD_SHIFT_NULL:
			g.shift = NULL;
			break;
		case BAD_SHIFT_HIGH:
			s[3] = 32;
			break;
		case BAD_SHIFT_LOW:
			s[0] = -32;
			break;
		case BAD_LO_GT_HI:
			g.lo = 10;
			g.hi = 9;
			break;
		case BAD_LO_LOW:
			g.lo = -129;
			break;
		case BAD_HI_HIGH:
			g.hi = 128;
			break;
		case BAD_ZA_HIGH:
			g.za = 128;
			break;
		case BAD_ZA_LOW:
			g.za = -129;
			break;
		case BAD_ZO_HIGH:
			g.zo = 128;
			break;
		case BAD_ZO_LOW:
			g.zo = -129;
			break;
		}
		memset(out, 0x77, sizeof(out));
		EXPECT_ERROR(sampan_gemm(dev, &g), SAMPAN_ERROR_INVALID, bad_names[bad]);
		for (size_t i = 0; i < sizeof(out); i++)
			cr_expect_eq(out[i], 0x77, "%s: out written on failure", bad_names[bad]);
		/* the asynchronous path validates the same way */
		struct sampan_job *job = NULL;
		EXPECT_ERROR(sampan_gemm_submit(dev, &g, &job), SAMPAN_ERROR_INVALID,
		             bad_names[bad]);
		cr_expect_null(job, "%s: job written on failure", bad_names[bad]);
	}
	/* the device still works after all that */
	cr_expect_eq(sampan_gemm(dev, &good), SAMPAN_OK, "%s", sampan_last_error());
	sampan_close(dev);
}

Test(errors, raw_mode_needs_no_requant_arrays)
{
	int8_t a[3] = {1, 2, 3}, w[3] = {4, 5, 6};
	int32_t out[1] = {0};
	struct sampan_device *dev = open_dev("cpu");
	struct sampan_gemm g = {.m = 1,
	                        .k = 3,
	                        .n = 1,
	                        .a = a,
	                        .w = w,
	                        .za = 1,
	                        .lo = -128,
	                        .hi = 127,
	                        .raw = 1,
	                        .out = out};

	cr_assert_eq(sampan_gemm(dev, &g), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(out[0], 0 * 4 + 1 * 5 + 2 * 6);
	sampan_close(dev);
}

Test(errors, null_handles)
{
	struct sampan_device *dev = open_dev("cpu");
	struct sampan_gemm g;
	struct sampan_info info;
	struct sampan_stats stats;
	struct sampan_job *job = NULL;
	struct sampan_buffer *buf = NULL;

	memset(&g, 0, sizeof(g));
	EXPECT_ERROR(sampan_open(NULL, "cpu"), SAMPAN_ERROR_INVALID, "open(NULL)");
	EXPECT_ERROR(sampan_gemm(NULL, &g), SAMPAN_ERROR_INVALID, "gemm(NULL dev)");
	EXPECT_ERROR(sampan_gemm(dev, NULL), SAMPAN_ERROR_INVALID, "gemm(NULL g)");
	EXPECT_ERROR(sampan_get_info(NULL, &info), SAMPAN_ERROR_INVALID, "get_info(NULL)");
	EXPECT_ERROR(sampan_get_info(dev, NULL), SAMPAN_ERROR_INVALID, "get_info(dev, NULL)");
	EXPECT_ERROR(sampan_get_stats(dev, NULL), SAMPAN_ERROR_INVALID, "get_stats(dev, NULL)");
	EXPECT_ERROR(sampan_get_stats(NULL, &stats), SAMPAN_ERROR_INVALID, "get_stats(NULL)");
	EXPECT_ERROR(sampan_gemm_submit(dev, &g, NULL), SAMPAN_ERROR_INVALID, "submit(NULL job)");
	EXPECT_ERROR(sampan_job_wait(NULL, 0), SAMPAN_ERROR_INVALID, "job_wait(NULL)");
	EXPECT_ERROR(sampan_job_stats(NULL, &stats), SAMPAN_ERROR_INVALID, "job_stats(NULL)");
	sampan_job_destroy(job); /* NULL is a no-op */
	EXPECT_ERROR(sampan_buffer_create(dev, 16, NULL), SAMPAN_ERROR_INVALID,
	             "buffer_create(NULL out)");
	EXPECT_ERROR(sampan_buffer_create(dev, 0, &buf), SAMPAN_ERROR_INVALID,
	             "buffer_create(0 bytes)");
	cr_expect_null(buf);
	cr_expect_eq(sampan_list_devices(NULL, 4, NULL) < 0, 1, "list_devices(NULL)");
	sampan_close(NULL); /* a no-op */
	sampan_close(dev);
}

Test(errors, strerror_never_null)
{
	for (int e = -20; e <= 5; e++) {
		cr_assert_not_null(sampan_strerror(e));
		cr_expect_neq(sampan_strerror(e)[0], '\0', "empty string for %d", e);
	}
	cr_expect_neq(
	    strcmp(sampan_strerror(SAMPAN_ERROR_INVALID), sampan_strerror(SAMPAN_ERROR_DEVICE_MEM)),
	    0);
}

/* ------------------------------------------------------- card memory */

ParameterizedTestParameters(errors, card_memory_exhausted)
{
	static struct dev_param params[] = {{"cpu:mem=1"}, {"sim:mem=1"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* 1 MiB of card memory cannot hold a 2000 x 1000 A: sampan_gemm splits the
 * product into runs that fit, with the same result bit for bit; the async
 * submit (one run) and a product of which even one M tile does not fit
 * fail, and the device keeps working for problems that fit. */
ParameterizedTest(struct dev_param *p, errors, card_memory_exhausted, .timeout = 300)
{
	const long m = 2000, k = 1000, n = 8;
	int8_t *a = calloc((size_t)m * k, 1), *w = calloc((size_t)16 * 40000, 1);
	int32_t *out = calloc((size_t)m * n, sizeof(int32_t));
	int32_t *want = calloc((size_t)m * n, sizeof(int32_t));
	struct sampan_device *dev = open_dev(p->dev);
	struct sampan_info info;
	struct sampan_buffer *buf = NULL;
	struct sampan_job *job = NULL;
	struct sampan_stats st;
	struct rng r;
	struct sampan_gemm g = {
	    .m = m, .k = k, .n = n, .a = a, .w = w, .lo = -128, .hi = 127, .raw = 1, .out = out};

	cr_assert(a && w && out && want);
	rng_init(&r, test_seed("errors::card_memory_exhausted"));
	fill_i8(&r, a, (size_t)m * k, FILL_RANDOM);
	fill_i8(&r, w, (size_t)n * k, FILL_EXTREMES);
	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	cr_expect_eq(info.mem_bytes, 1u << 20, "mem_bytes %llu with mem=1",
	             (unsigned long long)info.mem_bytes);
	cr_assert_eq(sampan_gemm(dev, &g), SAMPAN_OK, "2000x1000x8 in 1 MiB, split: %s",
	             sampan_last_error());
	ref_gemm(m, k, n, a, w, NULL, NULL, NULL, 0, 0, -128, 127, 1, want);
	cr_expect_arr_eq(out, want, (size_t)m * n * sizeof(int32_t), "split GEMM differs");
	cr_assert_eq(sampan_get_stats(dev, &st), SAMPAN_OK);
	cr_expect_eq(st.macs, (uint64_t)m * k * n, "stats are the sum of the runs: %llu MACs",
	             (unsigned long long)st.macs);
	EXPECT_ERROR(sampan_gemm_submit(dev, &g, &job), SAMPAN_ERROR_DEVICE_MEM,
	             "one async run of 2000x1000x8 in 1 MiB");
	cr_expect_null(job);
	g.m = 16;
	g.k = 40000;
	g.n = 16;
	EXPECT_ERROR(sampan_gemm(dev, &g), SAMPAN_ERROR_DEVICE_MEM,
	             "16x40000x16: one tile of A and W is 1.28 MB");
	EXPECT_ERROR(sampan_buffer_create(dev, 2u << 20, &buf), SAMPAN_ERROR_DEVICE_MEM,
	             "2 MiB buffer in 1 MiB");
	cr_expect_null(buf);

	memset(a, 0, 16);
	memset(w, 0, 16);
	g.m = 3;
	g.k = 5;
	g.n = 2;
	a[1] = 2;
	w[1] = 3;
	w[5 + 1] = -1;
	cr_assert_eq(sampan_gemm(dev, &g), SAMPAN_OK, "small GEMM after the failure: %s",
	             sampan_last_error());
	cr_expect_eq(out[0], 6);
	cr_expect_eq(out[1], -2);
	sampan_close(dev);
	free(a);
	free(w);
	free(out);
	free(want);
}

/* ------------------------------------------------------- names */

Test(errors, unknown_device_lists_accepted)
{
	static const char *const names[] = {"nonesuch", "simx", "cp", "xyz:mem=1"};

	for (size_t i = 0; i < COUNT(names); i++) {
		struct sampan_device *dev = (struct sampan_device *)&dev;
		int err = sampan_open(&dev, names[i]);

		cr_expect_eq(err, SAMPAN_ERROR_INVALID, "'%s': got %d (%s)", names[i], err,
		             sampan_last_error());
		cr_expect_eq(dev, (struct sampan_device *)&dev, "'%s': handle written on failure",
		             names[i]);
		cr_expect(strstr(sampan_last_error(), "sim") && strstr(sampan_last_error(), "cpu"),
		          "'%s': message does not list sim and cpu: '%s'", names[i],
		          sampan_last_error());
	}
}

Test(errors, unknown_option_lists_accepted)
{
	static const struct {
		const char *name, *accepted;
	} cases[] = {
	    {"cpu:bogus=1", "mem"},        {"sim:bogus=1", "trace"}, {"cpu:mem=abc", "mem"},
	    {"sim:latency=-4", "latency"}, {"cpu:mem", "mem"},       {"sim:mem=0", "mem"},
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		struct sampan_device *dev = NULL;
		int err = sampan_open(&dev, cases[i].name);

		cr_expect_eq(err, SAMPAN_ERROR_INVALID, "'%s': got %d (%s)", cases[i].name, err,
		             sampan_last_error());
		cr_expect_null(dev, "'%s' opened", cases[i].name);
		cr_expect_not_null(strstr(sampan_last_error(), cases[i].accepted),
		                   "'%s': message '%s' does not mention '%s'", cases[i].name,
		                   sampan_last_error(), cases[i].accepted);
		sampan_close(dev);
	}
}

Test(errors, missing_simulator_library)
{
	struct sampan_device *dev = NULL;

	cr_assert_eq(setenv("SAMPAN_SIM_LIB", "/nonexistent/lib.so", 1), 0);
	EXPECT_ERROR(sampan_open(&dev, "sim"), SAMPAN_ERROR_LIBRARY, "SAMPAN_SIM_LIB=/nonexistent");
	cr_expect_null(dev);
	cr_expect_not_null(strstr(sampan_last_error(), "/nonexistent/lib.so"),
	                   "message does not name the library: '%s'", sampan_last_error());
	/* the functional model does not need it */
	dev = open_dev("cpu");
	sampan_close(dev);
}

/* ------------------------------------------------------- illegal commands */

/* An illegal command list: which command breaks, and how. */
struct bad_list {
	char what[48];
	unsigned index;  /* the failing command's position */
	uint32_t status; /* the error code STATUS must hold */
};

enum { STATUS_OPCODE = 1, STATUS_RANGE = 2, STATUS_ALIGN = 3 };

ParameterizedTestParameters(errors, illegal_command)
{
	static struct bad_list lists[] = {
	    {"opcode 0", 0, STATUS_OPCODE},
	    {"opcode 9 after two loads", 2, STATUS_OPCODE},
	    {"opcode 255", 1, STATUS_OPCODE},
	    {"LOAD_A k_len 0", 0, STATUS_RANGE},
	    {"LOAD_W k_len KT+1", 1, STATUS_RANGE},
	    {"LOAD_P count 0", 0, STATUS_RANGE},
	    {"LOAD_P past the entries", 0, STATUS_RANGE},
	    {"COMPUTE slot ACC_SLOTS", 2, STATUS_RANGE},
	    {"COMPUTE m_valid 0", 2, STATUS_RANGE},
	    {"COMPUTE n_valid COLS+1", 2, STATUS_RANGE},
	    {"COMPUTE k_len 0", 2, STATUS_RANGE},
	    {"COMPUTE a_off + k_len past the bank", 2, STATUS_RANGE},
	    {"COMPUTE w_off + k_len past the bank", 2, STATUS_RANGE},
	    {"STORE lo > hi", 3, STATUS_RANGE},
	    {"STORE entry P_ENTRIES", 3, STATUS_RANGE},
	    {"STORE slot ACC_SLOTS", 3, STATUS_RANGE},
	    {"LOAD_A unaligned", 0, STATUS_ALIGN},
	    {"LOAD_P unaligned", 1, STATUS_ALIGN},
	    {"STORE unaligned", 3, STATUS_ALIGN},
	};

	return cr_make_param_array(struct bad_list, lists, COUNT(lists));
}

/* Builds the list named by @b: legal commands up to b->index, then the bad
 * one. */
static size_t bad_commands(const struct simdev *d, const struct bad_list *b, struct cmd *c)
{
	const unsigned k = 8;
	size_t n = 0;

	c[n++] = cmd_load(OP_LOAD_A, 0, k, ADDR_A0);
	c[n++] = cmd_load(OP_LOAD_W, 0, k, ADDR_W0);
	c[n++] = cmd_compute(0, 0, 1, 0, k, 0, d->rows, d->cols);
	c[n++] = cmd_store(1, 0, 0, ADDR_OUT, 0, -128, 127);
	if (!strcmp(b->what, "opcode 0"))
		c[0] = (struct cmd){{0, 0, 0, 0}};
	else if (!strcmp(b->what, "opcode 9 after two loads"))
		c[2].w[0] = (c[2].w[0] & ~0xffu) | 9;
	else if (!strcmp(b->what, "opcode 255"))
		c[1].w[0] |= 0xff;
	else if (!strcmp(b->what, "LOAD_A k_len 0"))
		c[0] = cmd_load(OP_LOAD_A, 0, 0, ADDR_A0);
	else if (!strcmp(b->what, "LOAD_W k_len KT+1"))
		c[1] = cmd_load(OP_LOAD_W, 0, d->k_depth + 1, ADDR_W0);
	else if (!strcmp(b->what, "LOAD_P count 0"))
		c[0] = cmd_load_p(0, 0, ADDR_P);
	else if (!strcmp(b->what, "LOAD_P past the entries"))
		c[0] = cmd_load_p(d->params - 1, 2, ADDR_P);
	else if (!strcmp(b->what, "COMPUTE slot ACC_SLOTS"))
		c[2] = cmd_compute(0, 0, 1, d->slots, k, 0, d->rows, d->cols);
	else if (!strcmp(b->what, "COMPUTE m_valid 0"))
		c[2] = cmd_compute(0, 0, 1, 0, k, 0, 0, d->cols);
	else if (!strcmp(b->what, "COMPUTE n_valid COLS+1"))
		c[2] = cmd_compute(0, 0, 1, 0, k, 0, d->rows, d->cols + 1);
	else if (!strcmp(b->what, "COMPUTE k_len 0"))
		c[2] = cmd_compute(0, 0, 1, 0, 0, 0, d->rows, d->cols);
	else if (!strcmp(b->what, "COMPUTE a_off + k_len past the bank"))
		c[2].w[2] = d->k_depth - k + 1;
	else if (!strcmp(b->what, "COMPUTE w_off + k_len past the bank"))
		c[2].w[2] = (d->k_depth - k + 1) << 16;
	else if (!strcmp(b->what, "STORE lo > hi"))
		c[3] = cmd_store(0, 0, 0, ADDR_OUT, 0, 5, 4);
	else if (!strcmp(b->what, "STORE entry P_ENTRIES"))
		c[3] = cmd_store(1, 0, d->params, ADDR_OUT, 0, -128, 127);
	else if (!strcmp(b->what, "STORE slot ACC_SLOTS"))
		c[3] = cmd_store(1, d->slots, 0, ADDR_OUT, 0, -128, 127);
	else if (!strcmp(b->what, "LOAD_A unaligned"))
		c[0] = cmd_load(OP_LOAD_A, 0, k, ADDR_A0 + d->bus / 2);
	else if (!strcmp(b->what, "LOAD_P unaligned"))
		c[1] = cmd_load_p(0, 1, ADDR_P + 4);
	else if (!strcmp(b->what, "STORE unaligned"))
		c[3] = cmd_store(1, 0, 0, ADDR_OUT + 1, 0, -128, 127);
	else
		cr_assert_fail("unknown case '%s'", b->what);
	return n;
}

/* The core must stop within a bound, report the code and the index, and
 * then run a correct list from a clean state. */
ParameterizedTest(struct bad_list *b, errors, illegal_command, .timeout = 120)
{
	uint64_t seed = test_seed("errors::illegal_command");
	struct simdev d;
	struct tile t;
	struct cmd cmds[8];
	struct rng r;
	char err[256];
	uint32_t status = 99, index = 99;
	size_t n;

	cr_assert_eq(simdev_open(&d, 16u << 20, err, sizeof(err)), 0, "%s", err);
	rng_init(&r, seed);
	/* legal operand and parameter data for every address used */
	tile_random(&t, &d, &r, d.rows, d.cols, 8);
	tile_write_operands(&d, &t, 0, 8, ADDR_A0, ADDR_W0);
	tile_write_params(&d, &t, 0);

	n = bad_commands(&d, b, cmds);
	cr_assert_eq(simdev_run(&d, ADDR_CMDS, cmds, n, 200000, &status, &index), 1,
	             "%s: no ap_done within 200000 cycles", b->what);
	cr_expect_eq(status, b->status, "%s: STATUS %u, want %u", b->what, status, b->status);
	cr_expect_eq(index, b->index, "%s: ERR_INDEX %u, want %u", b->what, index, b->index);
	cr_expect_leq(simdev_reg64(&d, REG_CMDS), b->index, "%s: %llu commands ran", b->what,
	              (unsigned long long)simdev_reg64(&d, REG_CMDS));

	/* then a correct list, from a different address, runs normally */
	n = tile_commands(&d, &t, cmds);
	cr_assert_eq(simdev_run(&d, ADDR_CMDS + 0x1000, cmds, n, 200000, &status, &index), 1,
	             "%s: the next list did not finish", b->what);
	cr_expect_eq(status, 0, "%s: STATUS %u on a correct list (index %u)", b->what, status,
	             index);
	tile_check(&d, &t, b->what);
	tile_free(&t);
	simdev_close(&d);
}

/* ------------------------------------------------------- huge shapes */

ParameterizedTestParameters(errors, huge_shapes_fail_cleanly)
{
	static struct dev_param params[] = {{"cpu"}, {"sim"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* Shapes whose products overflow or dwarf any memory must be refused
 * before anything is read from the (small) operand arrays. */
ParameterizedTest(struct dev_param *p, errors, huge_shapes_fail_cleanly)
{
	static const int64_t shapes[][3] = {
	    {INT64_MAX, 1, 1},
	    {1, INT64_MAX, 1},
	    {1, 1, INT64_MAX},
	    {(int64_t)1 << 32, (int64_t)1 << 32, 1},
	    {(int64_t)1 << 21, 1 << 21, 1 << 21},
	    {3037000500, 3037000500, 1}, /* m * k just over INT64_MAX */
	};
	int8_t a[16] = {0}, w[16] = {0};
	int32_t out[16];
	struct sampan_device *dev = open_dev(p->dev);

	for (size_t i = 0; i < COUNT(shapes); i++) {
		struct sampan_gemm g = {.m = shapes[i][0],
		                        .k = shapes[i][1],
		                        .n = shapes[i][2],
		                        .a = a,
		                        .w = w,
		                        .lo = -128,
		                        .hi = 127,
		                        .raw = 1,
		                        .out = out};
		int err = sampan_gemm(dev, &g);

		cr_expect(err == SAMPAN_ERROR_INVALID || err == SAMPAN_ERROR_DEVICE_MEM ||
		              err == SAMPAN_ERROR_NO_MEM,
		          "%lldx%lldx%lld: %d (%s): %s", (long long)g.m, (long long)g.k,
		          (long long)g.n, err, sampan_strerror(err), sampan_last_error());
		cr_expect_neq(sampan_last_error()[0], '\0');
	}
	sampan_close(dev);
}

/* ------------------------------------------------------- many devices */

/* Two simulated cards in one process are independent, and opening and
 * closing many in a row leaks nothing (checked under SANITIZE=1). */
Test(errors, two_sim_cards_at_once, .timeout = 300)
{
	int8_t a[2][6 * 9], w[2][7 * 9];
	int32_t out[2][6 * 7], want[2][6 * 7];
	struct sampan_device *d0 = open_dev("sim"), *d1 = open_dev("sim:latency=100");
	struct sampan_device *devs[2] = {d0, d1};
	struct rng r;

	rng_init(&r, test_seed("errors::two_sim_cards_at_once"));
	for (int round = 0; round < 3; round++) {
		for (int d = 0; d < 2; d++) {
			struct sampan_gemm g = {.m = 6,
			                        .k = 9,
			                        .n = 7,
			                        .a = a[d],
			                        .w = w[d],
			                        .za = d,
			                        .lo = -128,
			                        .hi = 127,
			                        .raw = 1,
			                        .out = out[d]};

			fill_i8(&r, a[d], sizeof(a[d]), FILL_RANDOM);
			fill_i8(&r, w[d], sizeof(w[d]), FILL_RANDOM);
			for (int m = 0; m < 6; m++)
				for (int n = 0; n < 7; n++)
					want[d][m * 7 + n] =
					    ref_dot(a[d] + m * 9, 1, w[d] + n * 9, 1, 9, d, 0);
			cr_assert_eq(sampan_gemm(devs[d], &g), SAMPAN_OK, "%s",
			             sampan_last_error());
		}
		for (int d = 0; d < 2; d++)
			cr_expect_arr_eq(out[d], want[d], sizeof(want[d]), "card %d round %d", d,
			                 round);
	}
	sampan_close(d0);
	sampan_close(d1);
	for (int i = 0; i < 20; i++)
		sampan_close(open_dev(i & 1 ? "sim" : "cpu"));
}

/* ------------------------------------------------------- threads */

struct worker {
	char dev[16];
	uint64_t seed;
	int wrong;    /* problems with a wrong result or an error */
	int error_ok; /* the thread's own error was reported to it */
};

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct sampan_device *dev = NULL;
	struct rng r;
	int8_t a[9 * 33], w[13 * 33];
	int32_t out[9 * 13], bias[13];
	struct sampan_gemm g = {.m = 9,
	                        .k = 33,
	                        .n = 13,
	                        .a = a,
	                        .w = w,
	                        .bias = bias,
	                        .lo = -128,
	                        .hi = 127,
	                        .raw = 1,
	                        .out = out};

	if (sampan_open(&dev, wk->dev) != SAMPAN_OK) {
		wk->wrong = -1;
		return NULL;
	}
	rng_init(&r, wk->seed);
	for (int i = 0; i < 20; i++) {
		fill_i8(&r, a, sizeof(a), FILL_RANDOM);
		fill_i8(&r, w, sizeof(w), FILL_RANDOM);
		for (int n = 0; n < 13; n++)
			bias[n] = (int32_t)rng_range(&r, -1000, 1000);
		g.za = (int32_t)rng_range(&r, -128, 127);
		if (sampan_gemm(dev, &g) != SAMPAN_OK) {
			wk->wrong++;
			continue;
		}
		for (int m = 0; m < 9; m++)
			for (int n = 0; n < 13; n++)
				if (out[m * 13 + n] !=
				    ref_dot(a + m * 33, 1, w + n * 33, 1, 33, g.za, bias[n])) {
					wk->wrong++;
					m = 9;
					break;
				}
	}
	g.m = 0;
	wk->error_ok = sampan_gemm(dev, &g) == SAMPAN_ERROR_INVALID && sampan_last_error()[0];
	sampan_close(dev);
	return NULL;
}

/* Devices used from several threads at once, one per thread, give right
 * results; sampan_last_error() is per thread. */
Test(errors, one_device_per_thread, .timeout = 300)
{
	struct worker wk[4] = {
	    {"sim", 1, 0, 0}, {"cpu", 2, 0, 0}, {"sim", 3, 0, 0}, {"cpu", 4, 0, 0}};
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, worker_main, &wk[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(wk[i].wrong, 0, "thread %d (%s): %d problems wrong", i, wk[i].dev,
		             wk[i].wrong);
		cr_expect(wk[i].error_ok, "thread %d (%s): its error was not reported", i,
		          wk[i].dev);
	}
	cr_expect_str_eq(sampan_last_error(), "", "the main thread sees another thread's error");
}

/* ------------------------------------------------------- ISA 1.1 */

ParameterizedTestParameters(errors, block_scaled_on_a_core_without_it)
{
	static struct dev_param params[] = {{"cpu:block=0"}, {"sim"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* A core without the block-scaled commands (a 1.0 core, a lite core, or
 * cpu:block=0) refuses them cleanly: the driver before sending anything,
 * the core with status 1 (1.0) or 6 (1.1) for a raw LOAD_S; afterwards
 * the device runs int8 GEMMs as before. A core that has them runs one. */
ParameterizedTest(struct dev_param *p, errors, block_scaled_on_a_core_without_it, .timeout = 300)
{
	struct sampan_device *dev = open_dev(p->dev);
	struct sampan_info info;
	int8_t a[64], w[64];
	uint16_t s[2] = {0x3C00, 0x3C00};
	float out[1];
	int32_t iout[1];
	struct sampan_gemm_q8 g = {1, 64, 1, a, s, w, s, NULL, out};
	struct sampan_gemm ig = {
	    .m = 1, .k = 64, .n = 1, .a = a, .w = w, .lo = -128, .hi = 127, .raw = 1, .out = iout};
	struct sampan_weights *wt = NULL;
	struct sampan_weights_desc d = {
	    .format = SAMPAN_FORMAT_Q8_0, .n = 1, .k = 64, .w = w, .w_scale = s};

	for (int i = 0; i < 64; i++) {
		a[i] = (int8_t)(i - 32);
		w[i] = (int8_t)(3 - i % 7);
	}
	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	if (info.features & SAMPAN_FEATURE_BLOCK_SCALED) {
		uint32_t want;

		ref_gemm_q8(1, 64, 1, a, s, w, s, NULL, &want);
		cr_expect_eq(sampan_gemm_q8(dev, &g), SAMPAN_OK, "%s", sampan_last_error());
		cr_expect_eq(memcmp(out, &want, 4), 0);
	} else {
		struct sampan_buffer *buf;
		uint8_t cmd[16] = {6, 0, 1, 0}; /* LOAD_S A bank 0, 1 block */
		uint32_t status = 0, index = 99;
		uint64_t addr;

		EXPECT_ERROR(sampan_gemm_q8(dev, &g), SAMPAN_ERROR_NOT_SUPPORTED, "gemm_q8");
		cr_expect(strstr(sampan_last_error(), "block-scaled"), "%s", sampan_last_error());
		EXPECT_ERROR(sampan_weights_create(dev, &d, &wt), SAMPAN_ERROR_NOT_SUPPORTED,
		             "weights_create");
		cr_expect_null(wt);
		cr_assert_eq(sampan_buffer_create(dev, 4096, &buf), SAMPAN_OK);
		addr = sampan_buffer_address(buf) + 1024;
		for (int i = 0; i < 8; i++)
			cmd[4 + i] = (uint8_t)(addr >> (8 * i));
		cr_assert_eq(sampan_buffer_write(buf, 0, cmd, sizeof(cmd)), SAMPAN_OK);
		cr_assert_eq(
		    sampan_run_commands(dev, sampan_buffer_address(buf), 1, 0, &status, &index),
		    SAMPAN_OK, "%s", sampan_last_error());
		cr_expect_eq(status, info.hw_version >= 0x00010100u ? 6u : 1u,
		             "STATUS %u on hardware 0x%08x", status, info.hw_version);
		cr_expect_eq(index, 0u);
		sampan_buffer_destroy(buf);
	}
	cr_expect_eq(sampan_gemm(dev, &ig), SAMPAN_OK, "%s", sampan_last_error());
	{
		int32_t want;

		ref_gemm(1, 64, 1, a, w, NULL, NULL, NULL, 0, 0, -128, 127, 1, &want);
		cr_expect_eq(iout[0], want);
	}
	sampan_close(dev);
}

ParameterizedTestParameters(errors, weights_handles)
{
	static struct dev_param params[] = {{"cpu"}, {"sim"}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* Resident int8 weights: a destroyed handle and one of another device are
 * refused with SAMPAN_ERROR_INVALID, nothing runs, and both devices then
 * compute correct products. */
ParameterizedTest(struct dev_param *p, errors, weights_handles, .timeout = 300)
{
	struct sampan_device *dev = open_dev(p->dev), *other = open_dev("cpu");
	int8_t a[2 * 40], w[3 * 40];
	int32_t out[2 * 3], want[2 * 3];
	struct sampan_weights *wt = NULL, *wo = NULL;
	struct sampan_weights_desc d = {.format = SAMPAN_FORMAT_INT8, .n = 3, .k = 40, .w = w};
	struct sampan_matmul x = {.m = 2, .a = a, .lo = -128, .hi = 127, .raw = 1, .out = out};
	struct sampan_stats before, after;

	for (int i = 0; i < 80; i++)
		a[i] = (int8_t)(i * 7 - 100);
	for (int i = 0; i < 120; i++)
		w[i] = (int8_t)(50 - i);
	ref_gemm(2, 40, 3, a, w, NULL, NULL, NULL, 0, 0, -128, 127, 1, want);
	cr_assert_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_OK, "%s", sampan_last_error());
	cr_assert_eq(sampan_weights_create(other, &d, &wo), SAMPAN_OK, "%s", sampan_last_error());
	cr_assert_eq(sampan_matmul(dev, wt, &x), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_arr_eq(out, want, sizeof(want));
	cr_assert_eq(sampan_get_stats(dev, &before), SAMPAN_OK);
	EXPECT_ERROR(sampan_matmul(dev, wo, &x), SAMPAN_ERROR_INVALID, "other device's weights");
	EXPECT_ERROR(sampan_matmul(other, wt, &x), SAMPAN_ERROR_INVALID, "weights of @dev");
	sampan_weights_destroy(wt);
	EXPECT_ERROR(sampan_matmul(dev, wt, &x), SAMPAN_ERROR_INVALID, "destroyed weights");
	cr_assert_eq(sampan_get_stats(dev, &after), SAMPAN_OK);
	cr_expect_eq(after.commands, before.commands, "a refused call ran a job");
	memset(out, 0, sizeof(out));
	cr_expect_eq(sampan_matmul(other, wo, &x), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_arr_eq(out, want, sizeof(want));
	cr_assert_eq(sampan_weights_create(dev, &d, &wt), SAMPAN_OK);
	memset(out, 0, sizeof(out));
	cr_expect_eq(sampan_matmul(dev, wt, &x), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_arr_eq(out, want, sizeof(want));
	sampan_weights_destroy(wt);
	sampan_weights_destroy(wo);
	sampan_close(other);
	sampan_close(dev);
}
