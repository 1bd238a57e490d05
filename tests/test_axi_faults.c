/*
 * test_axi_faults.c - AXI error responses in the middle of a run, and a
 * memory that holds AWREADY back until it sees WVALID (rtl/ARCHITECTURE.md,
 * "Errors"; sim/ssim_mem.h, fault injection).
 *
 * The same source is built twice: test_axi_faults links the full card
 * (build/libsampan_sim.so), test_axi_faults_lite (TEST_LITE=1) the lite core
 * behind the same memory model (build/sim/lite/libsampan_sim.so). A clean
 * run of an 11-command list counts its R beats and B responses; then every
 * one of them in turn, from the first to the last, answers SLVERR or DECERR
 * on a fresh card. Each run must raise ap_done within a bound (the core
 * never hangs), report STATUS 4 (read) or 5 (write) and, as ERR_INDEX, the
 * command the failed beat belongs to, found from its card address: the
 * load that reads it, the STORE that writes the burst, or for a command
 * fetch the first command the beat carries. The card must then run the
 * list again correctly.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "gemm_case.h"
#include "ref.h"
#include "sampan.h"
#include "simdev.h"
#include "util.h"

#ifndef TEST_LITE
#define TEST_LITE 0
#endif
#define SUITE_NAME (TEST_LITE ? "axi_faults_lite" : "axi_faults")

#define ADDR_OUT3 0xC0000
#define ADDR_OUT4 0xD0000
#define MEM_BYTES (16u << 20)
#define K_STEPS 64
#define MAX_CYCLES 400000 /* a clean run takes under 20000 on either core */
#define N_CMDS 11

enum { STATUS_AXI_RD = 4, STATUS_AXI_WR = 5 };
enum { RESP_SLVERR = 2, RESP_DECERR = 3 };

/* Two tiles, each loaded into its own banks and stored raw and requantized
 * from its own slot: later loads and stores are in flight while earlier
 * ones still stream on the full core. */
static size_t run_commands(const struct simdev *d, struct cmd *c)
{
	size_t n = 0;

	c[n++] = cmd_load(OP_LOAD_A, 0, K_STEPS, ADDR_A0);
	c[n++] = cmd_load(OP_LOAD_W, 0, K_STEPS, ADDR_W0);
	c[n++] = cmd_load_p(0, 1, ADDR_P);
	c[n++] = cmd_compute(0, 0, 1, 0, K_STEPS, 0, d->rows, d->cols);
	c[n++] = cmd_store(1, 0, 0, ADDR_OUT, 0, -128, 127);
	c[n++] = cmd_store(0, 0, 0, ADDR_OUT2, 0, -128, 127);
	c[n++] = cmd_load(OP_LOAD_A, 1, K_STEPS, ADDR_A1);
	c[n++] = cmd_load(OP_LOAD_W, 1, K_STEPS, ADDR_W1);
	c[n++] = cmd_compute(1, 1, 1, 1, K_STEPS, 0, d->rows, d->cols);
	c[n++] = cmd_store(1, 1, 0, ADDR_OUT3, 0, -128, 127);
	c[n++] = cmd_store(0, 1, 0, ADDR_OUT4, 0, -128, 127);
	return n;
}

/* The card's memory regions and the command that owns each. */
struct region {
	uint64_t base, bytes;
	int index; /* -1: the command list (index from the address) */
	const char *what;
};

static size_t regions(const struct simdev *d, struct region *r)
{
	uint64_t a = (uint64_t)K_STEPS * d->rows, w = (uint64_t)K_STEPS * d->cols;
	uint64_t raw = 4ull * d->rows * d->cols, q = (uint64_t)d->rows * d->cols;
	size_t n = 0;

	r[n++] = (struct region){ADDR_CMDS, 16 * N_CMDS, -1, "command fetch"};
	r[n++] = (struct region){ADDR_A0, a, 0, "LOAD_A bank 0"};
	r[n++] = (struct region){ADDR_W0, w, 1, "LOAD_W bank 0"};
	r[n++] = (struct region){ADDR_P, 3ull * d->bus, 2, "LOAD_P"};
	r[n++] = (struct region){ADDR_OUT, raw, 4, "STORE raw slot 0"};
	r[n++] = (struct region){ADDR_OUT2, q, 5, "STORE requantized slot 0"};
	r[n++] = (struct region){ADDR_A1, a, 6, "LOAD_A bank 1"};
	r[n++] = (struct region){ADDR_W1, w, 7, "LOAD_W bank 1"};
	r[n++] = (struct region){ADDR_OUT3, raw, 9, "STORE raw slot 1"};
	r[n++] = (struct region){ADDR_OUT4, q, 10, "STORE requantized slot 1"};
	return n;
}

/* The ERR_INDEX that rtl/ARCHITECTURE.md ("Errors") prescribes for a fault
 * at card address @addr; -1 if no command owns it. */
static int expected_index(const struct simdev *d, uint64_t addr, const char **what)
{
	struct region r[16];
	size_t n = regions(d, r);

	for (size_t i = 0; i < n; i++) {
		if (addr < r[i].base || addr >= r[i].base + r[i].bytes)
			continue;
		*what = r[i].what;
		/* A fetch beat (bus-aligned) carries the commands from
		 * (addr - base) / 16 on: the first of them fails. */
		return r[i].index >= 0 ? r[i].index : (int)((addr - r[i].base) / 16);
	}
	*what = "nothing";
	return -1;
}

/* A card with the memory options @cfg; reads its shape like simdev_open. */
static void card_open(struct simdev *d, struct ssim_config *cfg)
{
	uint32_t shape, slots;

	memset(d, 0, sizeof(*d));
	cr_assert_eq(ssim_abi_version(), SSIM_ABI_VERSION, "sim ABI %d, tests built for %d",
	             ssim_abi_version(), SSIM_ABI_VERSION);
	cfg->mem_bytes = MEM_BYTES;
	d->sim = ssim_create(cfg);
	cr_assert(d->sim, "ssim_create: %s", ssim_error(NULL));
	shape = simdev_reg(d, REG_SHAPE);
	slots = simdev_reg(d, REG_SLOTS);
	d->rows = shape & 0xffff;
	d->cols = shape >> 16;
	d->k_depth = simdev_reg(d, REG_K_DEPTH);
	d->slots = slots & 0xffff;
	d->params = slots >> 16;
	d->bus = simdev_reg(d, REG_BUS_BYTES);
	if (TEST_LITE)
		cr_assert_eq(d->rows * 100 + d->cols, 402, "the lite library is 4x2, this is %ux%u",
		             d->rows, d->cols);
	cr_assert_geq(d->slots, 2);
}

/* Operands of the two tiles, written where run_commands() reads them. */
static void card_fill(struct simdev *d, struct tile *t0, struct tile *t1, uint64_t seed)
{
	struct rng r;

	rng_init(&r, seed);
	tile_random(t0, d, &r, d->rows, d->cols, K_STEPS);
	tile_random(t1, d, &r, d->rows, d->cols, K_STEPS);
	/* the second tile shares parameter entry 0 and stores with zo 0 */
	memcpy(t1->bias, t0->bias, sizeof(t0->bias));
	memcpy(t1->mult, t0->mult, sizeof(t0->mult));
	memcpy(t1->shift, t0->shift, sizeof(t0->shift));
	t0->za = t1->za = 0;
	t0->zo = t1->zo = 0;
	t0->lo = t1->lo = -128;
	t0->hi = t1->hi = 127;
	tile_write_operands(d, t0, 0, K_STEPS, ADDR_A0, ADDR_W0);
	tile_write_operands(d, t1, 0, K_STEPS, ADDR_A1, ADDR_W1);
	tile_write_params(d, t0, 0);
}

/* Runs the list from a clean output area and checks both tiles. */
static void run_clean(struct simdev *d, const struct tile *t0, const struct tile *t1,
                      const char *what)
{
	static const uint64_t outs[] = {ADDR_OUT, ADDR_OUT2, ADDR_OUT3, ADDR_OUT4};
	uint8_t junk[4096];
	struct cmd c[N_CMDS];
	uint32_t status = 99, index = 99;
	size_t n = run_commands(d, c);

	memset(junk, 0x5a, sizeof(junk));
	for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
		cr_assert_eq(ssim_mem_write(d->sim, outs[i], junk, 4u * d->rows * d->cols), 0);
	cr_assert_eq(simdev_run(d, ADDR_CMDS + 0x1000, c, n, MAX_CYCLES, &status, &index), 1,
	             "%s: a clean run did not finish within %u cycles", what, MAX_CYCLES);
	cr_assert_eq(status, 0, "%s: clean run STATUS %u (ERR_INDEX %u)", what, status, index);
	tile_check_at(d, t0, ADDR_OUT, ADDR_OUT2, what);
	tile_check_at(d, t1, ADDR_OUT3, ADDR_OUT4, what);
}

/* ------------------------------------------------------------ the sweep */

struct sweep {
	int write; /* 0: R beats, 1: B responses */
	unsigned resp;
	int aw_wait; /* the memory also holds AWREADY until WVALID */
};

ParameterizedTestParameters(axi_faults, every_beat)
{
	static struct sweep s[] = {
	    {0, RESP_SLVERR, 0},
	    {0, RESP_DECERR, 0},
	    {1, RESP_SLVERR, 0},
	    {1, RESP_DECERR, 1},
	};

	return cr_make_param_array(struct sweep, s, sizeof(s) / sizeof(s[0]));
}

/* Every R beat (or B response) of the run in turn fails; the first, the
 * middle and the last are among them. */
ParameterizedTest(struct sweep *s, axi_faults, every_beat, .timeout = 600)
{
	uint64_t seed = test_seed("axi_faults::every_beat");
	struct ssim_config cfg = {0};
	struct ssim_mem_stats st;
	struct simdev d;
	struct tile t0, t1;
	struct cmd c[N_CMDS];
	uint64_t total, n_fail = 0;
	size_t n;
	char what[160];

	/* the clean run: how many beats or responses it has */
	cfg.aw_wait_w = (unsigned)s->aw_wait;
	card_open(&d, &cfg);
	card_fill(&d, &t0, &t1, seed);
	n = run_commands(&d, c);
	{
		uint32_t status = 99, index = 99;

		cr_assert_eq(simdev_run(&d, ADDR_CMDS, c, n, MAX_CYCLES, &status, &index), 1,
		             "clean run: no ap_done within %u cycles", MAX_CYCLES);
		cr_assert_eq(status, 0, "clean run: STATUS %u", status);
	}
	tile_check_at(&d, &t0, ADDR_OUT, ADDR_OUT2, "clean run");
	tile_check_at(&d, &t1, ADDR_OUT3, ADDR_OUT4, "clean run");
	cr_assert_eq(ssim_mem_stats(d.sim, &st), 0);
	cr_assert_not(st.fault_fired);
	total = s->write ? st.b_resps : st.r_beats;
	cr_log_info("%s: %llu %s in the run", SUITE_NAME, (unsigned long long)total,
	            s->write ? "B responses" : "R beats");
	cr_assert_gt(total, 2);
	simdev_close(&d);
	tile_free(&t0);
	tile_free(&t1);

	for (uint64_t k = 1; k <= total; k++) {
		uint32_t status = 99, index = 99;
		const char *owner;
		int want;

		memset(&cfg, 0, sizeof(cfg));
		cfg.fault_resp = s->resp;
		cfg.aw_wait_w = (unsigned)s->aw_wait;
		if (s->write)
			cfg.fault_write_resp = k;
		else
			cfg.fault_read_beat = k;
		card_open(&d, &cfg);
		card_fill(&d, &t0, &t1, seed);
		cr_assert_eq(simdev_run(&d, ADDR_CMDS, c, n, MAX_CYCLES, &status, &index), 1,
		             "%s %s %llu of %llu: no ap_done within %u cycles (hang)", SUITE_NAME,
		             s->write ? "B response" : "R beat", (unsigned long long)k,
		             (unsigned long long)total, MAX_CYCLES);
		cr_assert_eq(ssim_mem_stats(d.sim, &st), 0);
		cr_assert(st.fault_fired, "fault %llu never fired", (unsigned long long)k);
		cr_assert_eq(st.fault_write, s->write);
		want = expected_index(&d, st.fault_addr, &owner);
		snprintf(what, sizeof(what), "%s %s %llu of %llu at 0x%llx (%s)", SUITE_NAME,
		         s->write ? "B response" : "R beat", (unsigned long long)k,
		         (unsigned long long)total, (unsigned long long)st.fault_addr, owner);
		cr_assert_geq(want, 0, "%s: no command owns this address", what);
		cr_expect_eq(status, s->write ? STATUS_AXI_WR : STATUS_AXI_RD, "%s: STATUS %u",
		             what, status);
		cr_expect_eq(index, (uint32_t)want, "%s: ERR_INDEX %u, want %d", what, index, want);
		if (status != (s->write ? STATUS_AXI_WR : STATUS_AXI_RD) || index != (uint32_t)want)
			n_fail++;
		/* the card runs the whole list correctly afterwards */
		run_clean(&d, &t0, &t1, what);
		simdev_close(&d);
		tile_free(&t0);
		tile_free(&t1);
	}
	cr_assert_eq(n_fail, 0, "%llu of %llu faults reported wrongly", (unsigned long long)n_fail,
	             (unsigned long long)total);
}

/* ------------------------------------------------ AWREADY after WVALID */

/* A slave may hold AWREADY low until the master raises WVALID (AXI4
 * A3.3.1): the store must offer its data without waiting for the AW
 * handshake, or the run deadlocks. */
Test(axi_faults, aw_waits_for_w, .timeout = 300)
{
	struct ssim_config cfg = {.aw_wait_w = 1};
	struct simdev d;
	struct tile t0, t1;

	card_open(&d, &cfg);
	card_fill(&d, &t0, &t1, test_seed("axi_faults::aw_waits_for_w"));
	run_clean(&d, &t0, &t1, "AWREADY only after WVALID");
	run_clean(&d, &t0, &t1, "AWREADY only after WVALID, second run");
	simdev_close(&d);
	tile_free(&t0);
	tile_free(&t1);
}

/* The model's own options are checked. */
Test(axi_faults, bad_memory_options)
{
	struct ssim_config cfg = {.fault_read_beat = 1, .fault_resp = 1};

	cr_assert_null(ssim_create(&cfg), "fault_resp 1 accepted");
	cr_assert(strstr(ssim_error(NULL), "fault_resp"), "message: %s", ssim_error(NULL));
	cfg.fault_resp = 0;
	cfg.aw_wait_w = 2;
	cr_assert_null(ssim_create(&cfg), "aw_wait_w 2 accepted");
	cr_assert(strstr(ssim_error(NULL), "aw_wait_w"), "message: %s", ssim_error(NULL));
}

#if !TEST_LITE
/* -------------------------------------------- through the driver options */

/* `sim:rderr=N,resp=...` and `sim:wrerr=N`: the GEMM fails with a device
 * error that names the code, once; the next one on the same device is
 * right. With awwait=1 GEMMs are right too. */
struct drv_case {
	char dev[64];
	int fails; /* the first GEMM must fail */
};

ParameterizedTestParameters(axi_faults, driver_options)
{
	static struct drv_case c[] = {
	    {"sim:rderr=1", 1},  {"sim:rderr=30,resp=decerr", 1}, {"sim:wrerr=2,resp=slverr", 1},
	    {"sim:awwait=1", 0}, {"sim:awwait=1,wrerr=1", 1},
	};

	return cr_make_param_array(struct drv_case, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct drv_case *p, axi_faults, driver_options, .timeout = 300)
{
	uint64_t seed = test_seed("axi_faults::driver_options");
	struct sampan_device *dev = NULL;
	struct gemm_case gc;
	struct rng r;
	int err;

	rng_init(&r, seed);
	gemm_case_shape(&gc, &r, 40, 70, 36, 0);
	cr_assert_eq(sampan_open(&dev, p->dev), SAMPAN_OK, "%s: %s", p->dev, sampan_last_error());
	err = sampan_gemm(dev, &gc.g);
	if (p->fails) {
		cr_expect_eq(err, SAMPAN_ERROR_DEVICE, "%s: first GEMM returned %d (%s)", p->dev,
		             err, sampan_strerror(err));
	} else {
		cr_expect_eq(err, SAMPAN_OK, "%s: %s", p->dev, sampan_last_error());
		cr_expect_eq(gemm_case_mismatches(&gc, p->dev), 0);
	}
	gemm_case_reference(&gc); /* poisons out */
	err = sampan_gemm(dev, &gc.g);
	cr_expect_eq(err, SAMPAN_OK, "%s: second GEMM: %s", p->dev, sampan_last_error());
	cr_expect_eq(gemm_case_mismatches(&gc, p->dev), 0, "%s: second GEMM wrong", p->dev);
	sampan_close(dev);
	gemm_case_free(&gc);
}

Test(axi_faults, driver_rejects_bad_options)
{
	static const char *const bad[] = {"sim:rderr=0", "sim:resp=okay", "sim:awwait=2",
	                                  "sim:wrerr=x"};
	struct sampan_device *dev = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = sampan_open(&dev, bad[i]);

		cr_expect_eq(err, SAMPAN_ERROR_INVALID, "%s: %d", bad[i], err);
		if (err == SAMPAN_OK)
			sampan_close(dev);
	}
}
#endif
