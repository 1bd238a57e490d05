/*
 * test_rtl_q8.c - ISA 1.1 in the full core (rtl/ARCHITECTURE.md,
 * "Block-scaled numerics"): LOAD_S, block-scaled (q) COMPUTE and the float
 * STORE, driven by hand-built command lists through the sim C ABI, bit for
 * bit against a block GEMM computed here with the independent float
 * reference of fref.c. Also the FEATURES and VERSION registers, the new
 * legality checks, K chunks continuing the float chain, scale-bank hazards
 * and integer tiles beside q tiles.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fref.h"
#include "ref.h"
#include "sampan_sim.h"
#include "simdev.h"
#include "util.h"

TestSuite(q8, .timeout = 300);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))
#define MAX_CYCLES 4000000
#define OP_LOAD_S 6
#define ADDR_SA0 0xC0000
#define ADDR_SW0 0xC8000
#define ADDR_SA1 0xD0000
#define ADDR_SW1 0xD8000
#define ADDR_OUT3 0xE0000
#define ADDR_OUT4 0xF0000

/* ----------------------------------------------------------- commands */

static struct cmd cmd_load_s(unsigned bank, unsigned operand, unsigned nb, uint64_t addr)
{
	struct cmd c = {{OP_LOAD_S | (bank & 1) << 8 | (operand & 1) << 9 | (nb & 0xffff) << 16,
	                 (uint32_t)addr, (uint32_t)(addr >> 32), 0}};
	return c;
}

static struct cmd cmd_qcompute(unsigned a_bank, unsigned w_bank, int first, unsigned slot,
                               unsigned k_len, unsigned m, unsigned n, unsigned a_off,
                               unsigned w_off)
{
	struct cmd c = cmd_compute(a_bank, w_bank, first, slot, k_len, 0, m, n);

	c.w[0] |= 1u << 11;
	c.w[2] = (a_off & 0xffff) | (w_off & 0xffff) << 16;
	return c;
}

/* STORE of mode 0 int8, 1 raw, 2 float, 3 (illegal). */
static struct cmd cmd_store_mode(unsigned mode, unsigned slot, unsigned entry, uint64_t addr)
{
	struct cmd c = cmd_store(0, slot, entry, addr, 0, -128, 127);

	c.w[0] |= (mode & 3) << 8;
	return c;
}

/* ------------------------------------------------------- the operands */

/* A block-scaled problem for one tile: all ROWS x COLS outputs are
 * computed and checked (padding rows hold random data too). */
struct qtile {
	unsigned rows, cols, nb, k; /* k = 32 * nb */
	int8_t *a, *w;              /* (rows, k), (cols, k) */
	uint16_t *sa, *sw;          /* (rows, nb), (cols, nb) fp16 */
	uint32_t bias[64];          /* fp32 bits */
};

enum scale_kind {
	SC_TYPICAL, /* Q8_0-like: small positive scales */
	SC_ANY,     /* any finite fp16, both signs, zeros and subnormals included */
	SC_SPECIAL, /* mostly typical, some zero, subnormal, max, Inf and NaN */
};

static uint16_t rand_scale(struct rng *r, enum scale_kind kind)
{
	static const uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF,
	                                   0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01};
	uint16_t sign = (uint16_t)(rng_range(r, 0, 1) << 15);

	switch (kind) {
	case SC_TYPICAL:
		return (uint16_t)rng_range(r, 0x1000, 0x2C00);
	case SC_ANY:
		return sign | (uint16_t)rng_range(r, 0, 0x7BFF);
	default:
		if (rng_range(r, 0, 15) == 0)
			return special[rng_range(r, 0, COUNT(special) - 1)];
		return sign | (uint16_t)rng_range(r, 0x0400, 0x7BFF);
	}
}

static void qtile_random(struct qtile *t, const struct simdev *d, struct rng *r, unsigned nb,
                         enum scale_kind kind, enum fill_pattern fill)
{
	t->rows = d->rows;
	t->cols = d->cols;
	t->nb = nb;
	t->k = 32 * nb;
	t->a = xmalloc((size_t)t->rows * t->k);
	t->w = xmalloc((size_t)t->cols * t->k);
	t->sa = xmalloc(sizeof(*t->sa) * t->rows * nb);
	t->sw = xmalloc(sizeof(*t->sw) * t->cols * nb);
	fill_i8(r, t->a, (size_t)t->rows * t->k, fill);
	fill_i8(r, t->w, (size_t)t->cols * t->k, fill);
	for (size_t i = 0; i < (size_t)t->rows * nb; i++)
		t->sa[i] = rand_scale(r, kind);
	for (size_t i = 0; i < (size_t)t->cols * nb; i++)
		t->sw[i] = rand_scale(r, kind);
	for (unsigned c = 0; c < 64; c++) {
		uint32_t u = (uint32_t)rng_u64(r);

		switch (rng_range(r, 0, 5)) {
		case 0:
			t->bias[c] = 0;
			break;
		case 1:
			t->bias[c] = 0x80000000u;
			break;
		case 2:
			t->bias[c] = u & 0x807FFFFFu; /* subnormal: reads as zero */
			break;
		default:
			t->bias[c] = (u & 0x807FFFFFu) | (uint32_t)rng_range(r, 100, 150) << 23;
			break;
		}
	}
}

static void qtile_free(struct qtile *t)
{
	free(t->a);
	free(t->w);
	free(t->sa);
	free(t->sw);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32u(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes blocks [b0, b0 + nb) of A, W and their scales in the LOAD_A,
 * LOAD_W and LOAD_S layouts. */
static void qtile_write(struct simdev *d, const struct qtile *t, unsigned b0, unsigned nb,
                        uint64_t a_addr, uint64_t w_addr, uint64_t sa_addr, uint64_t sw_addr)
{
	unsigned k0 = 32 * b0, kl = 32 * nb;
	uint8_t *a = xmalloc((size_t)kl * t->rows), *w = xmalloc((size_t)kl * t->cols);
	uint8_t *sa = xmalloc((size_t)2 * nb * t->rows), *sw = xmalloc((size_t)2 * nb * t->cols);

	for (unsigned k = 0; k < kl; k++) {
		for (unsigned r = 0; r < t->rows; r++)
			a[k * t->rows + r] = (uint8_t)t->a[(size_t)r * t->k + k0 + k];
		for (unsigned c = 0; c < t->cols; c++)
			w[k * t->cols + c] = (uint8_t)t->w[(size_t)c * t->k + k0 + k];
	}
	for (unsigned j = 0; j < nb; j++) {
		for (unsigned r = 0; r < t->rows; r++)
			put16(sa + 2 * (j * t->rows + r), t->sa[(size_t)r * t->nb + b0 + j]);
		for (unsigned c = 0; c < t->cols; c++)
			put16(sw + 2 * (j * t->cols + c), t->sw[(size_t)c * t->nb + b0 + j]);
	}
	cr_assert_eq(ssim_mem_write(d->sim, a_addr, a, (size_t)kl * t->rows), 0);
	cr_assert_eq(ssim_mem_write(d->sim, w_addr, w, (size_t)kl * t->cols), 0);
	cr_assert_eq(ssim_mem_write(d->sim, sa_addr, sa, (size_t)2 * nb * t->rows), 0);
	cr_assert_eq(ssim_mem_write(d->sim, sw_addr, sw, (size_t)2 * nb * t->cols), 0);
	free(a);
	free(w);
	free(sa);
	free(sw);
}

/* Parameter entry @entry at ADDR_P: the bias beat holds @bias (fp32 bits,
 * or zeros when NULL); mult and shift beats hold junk that a float STORE
 * must ignore. */
static void write_fparams(struct simdev *d, const uint32_t *bias, unsigned entry)
{
	uint8_t *p = xmalloc(3 * (size_t)d->bus);

	memset(p, 0x5A, 3 * (size_t)d->bus);
	for (unsigned c = 0; c < d->cols; c++)
		put32u(p + 4 * c, bias ? bias[c] : 0);
	cr_assert_eq(ssim_mem_write(d->sim, ADDR_P + 3 * (uint64_t)d->bus * entry, p, 3 * d->bus),
	             0);
	free(p);
}

/* The float chain over blocks [b0, b0 + nb) of the tile, continuing from
 * @acc (rows x cols fp32 bits). */
static void qref_chain(const struct qtile *t, unsigned b0, unsigned nb, uint32_t *acc)
{
	for (unsigned r = 0; r < t->rows; r++)
		for (unsigned c = 0; c < t->cols; c++) {
			uint32_t v = acc[r * t->cols + c];

			for (unsigned b = b0; b < b0 + nb; b++) {
				int32_t isum = 0;

				for (unsigned j = 0; j < 32; j++)
					isum += t->a[(size_t)r * t->k + 32 * b + j] *
					        t->w[(size_t)c * t->k + 32 * b + j];
				v = fref_add(
				    v, fref_mul(isum, fref_scale(t->sw[(size_t)c * t->nb + b],
				                                 t->sa[(size_t)r * t->nb + b])));
			}
			acc[r * t->cols + c] = v;
		}
}

/* Compares rows x cols fp32 words at @addr with @want (plus @bias per
 * column unless NULL). */
static void qcheck(struct simdev *d, uint64_t addr, const uint32_t *want, const uint32_t *bias,
                   const char *what)
{
	size_t n = (size_t)d->rows * d->cols, bad = 0;
	uint8_t *got = xmalloc(4 * n);

	cr_assert_eq(ssim_mem_read(d->sim, addr, got, 4 * n), 0);
	for (unsigned r = 0; r < d->rows; r++)
		for (unsigned c = 0; c < d->cols; c++) {
			size_t i = (size_t)r * d->cols + c;
			uint32_t g = (uint32_t)got[4 * i] | (uint32_t)got[4 * i + 1] << 8 |
			             (uint32_t)got[4 * i + 2] << 16 |
			             (uint32_t)got[4 * i + 3] << 24;
			uint32_t w = bias ? fref_add(want[i], bias[c]) : want[i];

			if (g != w && bad++ < 6)
				cr_log_error("%s: [%u][%u] 0x%08x, want 0x%08x", what, r, c, g, w);
		}
	free(got);
	cr_assert_eq(bad, 0, "%s: %zu of %zu outputs wrong", what, bad, n);
}

static void core_open(struct simdev *d)
{
	char err[256];

	cr_assert_eq(simdev_open(d, 16u << 20, err, sizeof(err)), 0, "%s", err);
	if (!(simdev_reg(d, 0x5C) & 1))
		cr_skip_test("this core has no block-scaled commands (FEATURES 0x%x)",
		             simdev_reg(d, 0x5C));
}

static void run_ok(struct simdev *d, const struct cmd *cmds, size_t n, const char *what)
{
	uint32_t status = 99, index = 99;

	cr_assert_eq(simdev_run(d, ADDR_CMDS, cmds, n, MAX_CYCLES, &status, &index), 1,
	             "%s: no ap_done within %d cycles", what, MAX_CYCLES);
	cr_assert_eq(status, 0, "%s: STATUS %u at command %u", what, status, index);
}

/* One q tile of nb blocks in bank 0: float STORE (bias) to ADDR_OUT and
 * raw STORE of the slot with a zero bias to ADDR_OUT2. */
static void one_qtile(struct simdev *d, struct qtile *t, unsigned slot, const char *what)
{
	size_t n = (size_t)d->rows * d->cols;
	uint32_t *acc = calloc(n, sizeof(*acc));

	cr_assert(acc);
	qtile_write(d, t, 0, t->nb, ADDR_A0, ADDR_W0, ADDR_SA0, ADDR_SW0);
	write_fparams(d, t->bias, 1);
	write_fparams(d, NULL, 2);
	struct cmd cmds[] = {
	    cmd_load(OP_LOAD_A, 0, t->k, ADDR_A0),
	    cmd_load_s(0, 0, t->nb, ADDR_SA0),
	    cmd_load(OP_LOAD_W, 0, t->k, ADDR_W0),
	    cmd_load_s(0, 1, t->nb, ADDR_SW0),
	    cmd_load_p(1, 2, ADDR_P + 3 * (uint64_t)d->bus),
	    cmd_qcompute(0, 0, 1, slot, t->k, d->rows, d->cols, 0, 0),
	    cmd_store_mode(2, slot, 1, ADDR_OUT),
	    cmd_store_mode(1, slot, 2, ADDR_OUT2),
	};
	run_ok(d, cmds, COUNT(cmds), what);
	qref_chain(t, 0, t->nb, acc);
	qcheck(d, ADDR_OUT2, acc, NULL, what);
	qcheck(d, ADDR_OUT, acc, t->bias, what);
	cr_expect_eq(simdev_reg64(d, REG_MACS), (uint64_t)t->k * d->rows * d->cols, "%s: MACS %llu",
	             what, (unsigned long long)simdev_reg64(d, REG_MACS));
	free(acc);
}

/* ---------------------------------------------------------------- tests */

Test(q8, registers)
{
	struct simdev d;
	char err[256];

	cr_assert_eq(simdev_open(&d, 16u << 20, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(simdev_reg(&d, REG_VERSION), 0x00010100u);
	/* The full core at the tested sizes has the block-scaled commands. */
	cr_expect_eq(simdev_reg(&d, 0x5C) & 1, 1, "FEATURES 0x%x", simdev_reg(&d, 0x5C));
	simdev_close(&d);
}

Test(q8, one_block)
{
	uint64_t seed = test_seed("q8::one_block");
	struct simdev d;
	struct qtile t;
	struct rng r;

	core_open(&d);
	rng_init(&r, seed);
	qtile_random(&t, &d, &r, 1, SC_TYPICAL, FILL_RANDOM);
	one_qtile(&d, &t, 0, "one block");
	qtile_free(&t);
	simdev_close(&d);
}

Test(q8, random_lengths_and_scales)
{
	uint64_t seed = test_seed("q8::random_lengths_and_scales");
	struct simdev d;
	struct rng r;
	char what[96];

	core_open(&d);
	rng_init(&r, seed);
	for (int i = 0; i < 6; i++) {
		struct qtile t;
		unsigned nb = (unsigned)rng_range(&r, 1, i == 0 ? d.k_depth / 32 : 12);
		enum scale_kind kind = (enum scale_kind)(i % 3);
		enum fill_pattern fill = i == 4 ? FILL_MIN : i == 5 ? FILL_EXTREMES : FILL_RANDOM;

		qtile_random(&t, &d, &r, nb, kind, fill);
		snprintf(what, sizeof(what), "seed %llu case %d nb %u scales %d fill %d",
		         (unsigned long long)seed, i, nb, (int)kind, (int)fill);
		one_qtile(&d, &t, (unsigned)i % d.slots, what);
		qtile_free(&t);
	}
	simdev_close(&d);
}

/* Scales that are all zero, all subnormal, the largest, Inf, NaN. */
Test(q8, special_scales)
{
	static const uint16_t fixed[][2] = {
	    {0x0000, 0x2C00}, {0x8000, 0x2C00}, {0x0001, 0x0001}, {0x03FF, 0x8200},
	    {0x7BFF, 0x7BFF}, {0xFBFF, 0x7BFF}, {0x7C00, 0x2C00}, {0x7C00, 0x0000},
	    {0xFC00, 0x3C00}, {0x7E00, 0x3C00},
	};
	uint64_t seed = test_seed("q8::special_scales");
	struct simdev d;
	struct rng r;
	char what[96];

	core_open(&d);
	rng_init(&r, seed);
	for (size_t i = 0; i < COUNT(fixed); i++) {
		struct qtile t;

		qtile_random(&t, &d, &r, 3, SC_TYPICAL, i & 1 ? FILL_MIN : FILL_RANDOM);
		/* Block 1 of every row/column gets the fixed pair. */
		for (unsigned x = 0; x < t.rows; x++)
			t.sa[x * t.nb + 1] = fixed[i][0];
		for (unsigned x = 0; x < t.cols; x++)
			t.sw[x * t.nb + 1] = fixed[i][1];
		snprintf(what, sizeof(what), "seed %llu scales 0x%04x 0x%04x",
		         (unsigned long long)seed, fixed[i][0], fixed[i][1]);
		one_qtile(&d, &t, 1, what);
		qtile_free(&t);
	}
	/* Inf in one block and -Inf in another: Inf - Inf is NaN. */
	{
		struct qtile t;

		qtile_random(&t, &d, &r, 2, SC_TYPICAL, FILL_MAX);
		for (unsigned x = 0; x < t.rows; x++) {
			t.sa[x * t.nb] = 0x7C00;
			t.sa[x * t.nb + 1] = 0xFC00;
		}
		one_qtile(&d, &t, 0, "Inf then -Inf");
		qtile_free(&t);
	}
	simdev_close(&d);
}

/* A K split into chunks: first = 1 then first = 0 continue the chain, from
 * an offset inside one bank and from the other bank; a_off != w_off. */
Test(q8, k_chunks_continue_chain)
{
	uint64_t seed = test_seed("q8::k_chunks_continue_chain");
	struct simdev d;
	struct qtile t;
	struct rng r;
	size_t n;
	uint32_t *acc;

	core_open(&d);
	rng_init(&r, seed);
	n = (size_t)d.rows * d.cols;
	acc = calloc(n, sizeof(*acc));
	cr_assert(acc);
	qtile_random(&t, &d, &r, 7, SC_ANY, FILL_RANDOM);
	/* Bank 0: A blocks 0..3 at steps 0..127; W blocks 0..3 at steps 64..191
	 * (two junk blocks first). Bank 1: blocks 4..6 of both. */
	{
		struct qtile junk;

		qtile_random(&junk, &d, &r, 2, SC_ANY, FILL_RANDOM);
		qtile_write(&d, &junk, 0, 2, ADDR_OUT3, ADDR_W0, ADDR_OUT3 + 0x4000, ADDR_SW0);
		qtile_free(&junk);
	}
	qtile_write(&d, &t, 0, 4, ADDR_A0, ADDR_W0 + 64 * (uint64_t)d.cols, ADDR_SA0,
	            ADDR_OUT3 + 0x8000);
	{
		/* W scales of blocks 0..3 after two junk blocks in the W scale bank. */
		uint8_t *sw = xmalloc((size_t)2 * 4 * d.cols);

		for (unsigned j = 0; j < 4; j++)
			for (unsigned c = 0; c < d.cols; c++)
				put16(sw + 2 * (j * d.cols + c), t.sw[(size_t)c * t.nb + j]);
		cr_assert_eq(ssim_mem_write(d.sim, ADDR_SW0 + 4 * (uint64_t)d.cols, sw, 8 * d.cols),
		             0);
		free(sw);
	}
	qtile_write(&d, &t, 4, 3, ADDR_A1, ADDR_W1, ADDR_SA1, ADDR_SW1);
	write_fparams(&d, t.bias, 0);
	write_fparams(&d, NULL, 1);
	struct cmd cmds[] = {
	    cmd_load_p(0, 2, ADDR_P),
	    cmd_load(OP_LOAD_A, 0, 128, ADDR_A0),
	    cmd_load(OP_LOAD_W, 0, 192, ADDR_W0),
	    cmd_load_s(0, 0, 4, ADDR_SA0),
	    cmd_load_s(0, 1, 6, ADDR_SW0),
	    cmd_load(OP_LOAD_A, 1, 96, ADDR_A1),
	    cmd_load(OP_LOAD_W, 1, 96, ADDR_W1),
	    cmd_load_s(1, 0, 3, ADDR_SA1),
	    cmd_load_s(1, 1, 3, ADDR_SW1),
	    cmd_qcompute(0, 0, 1, 2 % d.slots, 64, d.rows, d.cols, 0, 64),
	    cmd_qcompute(0, 0, 0, 2 % d.slots, 64, d.rows, d.cols, 64, 128),
	    cmd_qcompute(1, 1, 0, 2 % d.slots, 96, d.rows, d.cols, 0, 0),
	    cmd_store_mode(2, 2 % d.slots, 0, ADDR_OUT),
	    cmd_store_mode(1, 2 % d.slots, 1, ADDR_OUT2),
	};
	run_ok(&d, cmds, COUNT(cmds), "K chunks");
	qref_chain(&t, 0, 7, acc);
	qcheck(&d, ADDR_OUT2, acc, NULL, "K chunks (slot)");
	qcheck(&d, ADDR_OUT, acc, t.bias, "K chunks (float store)");
	free(acc);
	qtile_free(&t);
	simdev_close(&d);
}

/* Reloading the scale bank a q COMPUTE reads: the second COMPUTE must see
 * the new scales, the first the old ones. Integer tiles run before, between
 * and after, into other slots. */
Test(q8, scale_hazard_and_integer_tiles)
{
	uint64_t seed = test_seed("q8::scale_hazard_and_integer_tiles");
	struct simdev d;
	struct qtile t1, t2;
	struct tile it;
	struct rng r;
	size_t n;
	uint32_t *acc1, *acc2;

	core_open(&d);
	cr_assert_geq(d.slots, 4);
	rng_init(&r, seed);
	n = (size_t)d.rows * d.cols;
	acc1 = calloc(n, sizeof(*acc1));
	acc2 = calloc(n, sizeof(*acc2));
	cr_assert(acc1 && acc2);
	qtile_random(&t1, &d, &r, 2, SC_TYPICAL, FILL_RANDOM);
	qtile_random(&t2, &d, &r, 2, SC_ANY, FILL_RANDOM);
	memcpy(t2.a, t1.a, (size_t)t1.rows * t1.k); /* same int8 data, new scales */
	memcpy(t2.w, t1.w, (size_t)t1.cols * t1.k);
	tile_random(&it, &d, &r, d.rows, d.cols, 64);
	tile_write_operands(&d, &it, 0, 64, ADDR_A1, ADDR_W1);
	tile_write_params(&d, &it, 0);
	qtile_write(&d, &t1, 0, 2, ADDR_A0, ADDR_W0, ADDR_SA0, ADDR_SW0);
	qtile_write(&d, &t2, 0, 2, ADDR_OUT3, ADDR_OUT3 + 0x2000, ADDR_SA1, ADDR_SW1);
	write_fparams(&d, NULL, 1);
	struct cmd cmds[] = {
	    cmd_load_p(0, 2, ADDR_P),
	    cmd_load(OP_LOAD_A, 1, 64, ADDR_A1),
	    cmd_load(OP_LOAD_W, 1, 64, ADDR_W1),
	    cmd_load(OP_LOAD_A, 0, 64, ADDR_A0),
	    cmd_load(OP_LOAD_W, 0, 64, ADDR_W0),
	    cmd_load_s(0, 0, 2, ADDR_SA0),
	    cmd_load_s(0, 1, 2, ADDR_SW0),
	    cmd_compute(1, 1, 1, 0, 64, it.za, d.rows, d.cols),
	    cmd_qcompute(0, 0, 1, 1, 64, d.rows, d.cols, 0, 0),
	    cmd_load_s(0, 0, 2, ADDR_SA1), /* waits for the q COMPUTE above to drain */
	    cmd_load_s(0, 1, 2, ADDR_SW1),
	    cmd_qcompute(0, 0, 1, 2, 64, d.rows, d.cols, 0, 0),
	    cmd_compute(1, 1, 1, 3, 64, it.za, d.rows, d.cols),
	    cmd_store_mode(1, 1, 1, ADDR_OUT),
	    cmd_store_mode(1, 2, 1, ADDR_OUT2),
	    cmd_store(1, 0, 0, ADDR_OUT4, 0, -128, 127),
	    cmd_store(0, 3, 0, ADDR_OUT4 + 0x4000, it.zo, it.lo, it.hi),
	};
	run_ok(&d, cmds, COUNT(cmds), "scale hazard");
	qref_chain(&t1, 0, 2, acc1);
	qref_chain(&t2, 0, 2, acc2);
	qcheck(&d, ADDR_OUT, acc1, NULL, "q tile before the reload");
	qcheck(&d, ADDR_OUT2, acc2, NULL, "q tile after the reload");
	tile_check_at(&d, &it, ADDR_OUT4, ADDR_OUT4 + 0x4000, "integer tiles beside q tiles");
	cr_expect_eq(simdev_reg64(&d, REG_MACS), (uint64_t)4 * 64 * d.rows * d.cols);
	tile_free(&it);
	qtile_free(&t1);
	qtile_free(&t2);
	free(acc1);
	free(acc2);
	simdev_close(&d);
}

/* The new legality checks: each list fails at its last command. */
Test(q8, illegal_commands)
{
	struct simdev d;
	struct bad_case {
		struct cmd c;
		uint32_t status;
		const char *what;
	} cases[6];
	size_t nc = 0;

	core_open(&d);
	cases[nc++] = (struct bad_case){cmd_qcompute(0, 0, 1, 0, 48, 1, 1, 0, 0), 2, "k_len 48"};
	cases[nc++] = (struct bad_case){cmd_qcompute(0, 0, 1, 0, 32, 1, 1, 16, 0), 2, "a_off 16"};
	cases[nc++] = (struct bad_case){cmd_qcompute(0, 0, 1, 0, 32, 1, 1, 0, 8), 2, "w_off 8"};
	cases[nc++] = (struct bad_case){cmd_load_s(0, 1, 0, ADDR_SA0), 2, "LOAD_S of 0 blocks"};
	cases[nc++] = (struct bad_case){cmd_load_s(1, 0, d.k_depth / 32 + 1, ADDR_SA0), 2,
	                                "LOAD_S past the bank"};
	cases[nc++] = (struct bad_case){cmd_store_mode(3, 0, 0, ADDR_OUT), 2, "STORE mode 3"};
	for (size_t i = 0; i < nc; i++) {
		struct cmd cmds[2] = {cmd_load_s(0, 0, 1, ADDR_SA0), cases[i].c};
		uint32_t status = 99, index = 99;

		cr_assert_eq(simdev_run(&d, ADDR_CMDS, cmds, 2, MAX_CYCLES, &status, &index), 1,
		             "%s: no ap_done", cases[i].what);
		cr_expect_eq(status, cases[i].status, "%s: STATUS %u", cases[i].what, status);
		cr_expect_eq(index, 1, "%s: ERR_INDEX %u", cases[i].what, index);
	}
	{
		struct cmd cmds[1] = {cmd_load_s(0, 0, 1, ADDR_SA0 + 4)};
		uint32_t status = 99, index = 99;

		cr_assert_eq(simdev_run(&d, ADDR_CMDS, cmds, 1, MAX_CYCLES, &status, &index), 1);
		cr_expect_eq(status, 3, "unaligned LOAD_S: STATUS %u", status);
	}
	simdev_close(&d);
}

/* ---------------------------------------------------- the wide engine */

static unsigned mv_rows_of(struct simdev *d)
{
	uint32_t f = simdev_reg(d, 0x5C);

	if (!(f & 2))
		cr_skip_test("this core has no matrix-vector engine (FEATURES 0x%x)", f);
	return (f >> 8) & 0xFF;
}

static struct cmd with_wide(struct cmd c)
{
	c.w[3] |= 1;
	return c;
}

/* Integer wide COMPUTEs: the first MV_ROWS rows equal the array's result
 * (raw and requantized), K chunks across banks and offsets included. */
Test(q8, wide_integer)
{
	uint64_t seed = test_seed("q8::wide_integer");
	struct simdev d;
	struct rng r;
	unsigned mv, kw;

	core_open(&d);
	mv = mv_rows_of(&d);
	kw = d.bus / d.cols;
	rng_init(&r, seed);
	for (int i = 0; i < 4; i++) {
		struct tile t;
		unsigned m = (unsigned)rng_range(&r, 1, mv), k0, k1;
		char what[64];

		k0 = kw * (unsigned)rng_range(&r, 1, i == 0 ? d.k_depth / kw : 40);
		k1 = kw * (unsigned)rng_range(&r, 1, 20);
		tile_random(&t, &d, &r, m, (unsigned)rng_range(&r, 1, d.cols), k0 + k1);
		t.za = i == 1 ? 0 : t.za;
		tile_write_operands(&d, &t, 0, k0, ADDR_A0, ADDR_W0);
		/* chunk 1 at bank offset kw (A) and 2*kw (W) */
		tile_write_operands(&d, &t, k0, k1, ADDR_A1 + (uint64_t)kw * d.rows,
		                    ADDR_W1 + 2ull * kw * d.cols);
		tile_write_params(&d, &t, 0);
		struct cmd c1 = with_wide(cmd_compute(0, 0, 1, 1, k0, t.za, t.m, t.n));
		struct cmd c2 = with_wide(cmd_compute(1, 1, 0, 1, k1, t.za, t.m, t.n));

		c2.w[2] = kw | (2 * kw) << 16;
		struct cmd cmds[] = {
		    cmd_load_p(0, 1, ADDR_P),
		    cmd_load(OP_LOAD_A, 0, k0, ADDR_A0),
		    cmd_load(OP_LOAD_W, 0, k0, ADDR_W0),
		    cmd_load(OP_LOAD_A, 1, k1 + kw, ADDR_A1),
		    cmd_load(OP_LOAD_W, 1, k1 + 2 * kw, ADDR_W1),
		    c1,
		    c2,
		    cmd_store(1, 1, 0, ADDR_OUT, 0, -128, 127),
		    cmd_store(0, 1, 0, ADDR_OUT2, t.zo, t.lo, t.hi),
		};
		snprintf(what, sizeof(what), "seed %llu case %d m %u k %u+%u",
		         (unsigned long long)seed, i, m, k0, k1);
		run_ok(&d, cmds, COUNT(cmds), what);
		tile_check(&d, &t, what);
		cr_expect_eq(simdev_reg64(&d, REG_MACS), (uint64_t)(k0 + k1) * t.m * t.n);
		tile_free(&t);
	}
	simdev_close(&d);
}

/* Compares rows [0, rows) only (the wide engine leaves the others). */
static void qcheck_rows(struct simdev *d, uint64_t addr, const uint32_t *want, const uint32_t *bias,
                        unsigned rows, const char *what)
{
	size_t n = (size_t)d->rows * d->cols, bad = 0;
	uint8_t *got = xmalloc(4 * n);

	cr_assert_eq(ssim_mem_read(d->sim, addr, got, 4 * n), 0);
	for (unsigned r = 0; r < rows; r++)
		for (unsigned c = 0; c < d->cols; c++) {
			size_t i = (size_t)r * d->cols + c;
			uint32_t g = (uint32_t)got[4 * i] | (uint32_t)got[4 * i + 1] << 8 |
			             (uint32_t)got[4 * i + 2] << 16 |
			             (uint32_t)got[4 * i + 3] << 24;
			uint32_t w = bias ? fref_add(want[i], bias[c]) : want[i];

			if (g != w && bad++ < 6)
				cr_log_error("%s: [%u][%u] 0x%08x, want 0x%08x", what, r, c, g, w);
		}
	free(got);
	cr_assert_eq(bad, 0, "%s: %zu outputs wrong", what, bad);
}

/* Block-scaled wide COMPUTEs, two chunks continuing the chain. */
Test(q8, wide_block_scaled)
{
	uint64_t seed = test_seed("q8::wide_block_scaled");
	struct simdev d;
	struct rng r;
	unsigned mv;

	core_open(&d);
	mv = mv_rows_of(&d);
	rng_init(&r, seed);
	for (int i = 0; i < 3; i++) {
		struct qtile t;
		unsigned nb0 = (unsigned)rng_range(&r, 1, i == 0 ? d.k_depth / 32 : 6);
		unsigned nb1 = (unsigned)rng_range(&r, 1, 4);
		size_t n = (size_t)d.rows * d.cols;
		uint32_t *acc = calloc(n, sizeof(*acc));
		char what[64];

		cr_assert(acc);
		qtile_random(&t, &d, &r, nb0 + nb1, (enum scale_kind)i,
		             i == 2 ? FILL_MIN : FILL_RANDOM);
		qtile_write(&d, &t, 0, nb0, ADDR_A0, ADDR_W0, ADDR_SA0, ADDR_SW0);
		qtile_write(&d, &t, nb0, nb1, ADDR_A1, ADDR_W1, ADDR_SA1, ADDR_SW1);
		write_fparams(&d, t.bias, 0);
		write_fparams(&d, NULL, 1);
		struct cmd cmds[] = {
		    cmd_load_p(0, 2, ADDR_P),
		    cmd_load(OP_LOAD_A, 0, 32 * nb0, ADDR_A0),
		    cmd_load(OP_LOAD_W, 0, 32 * nb0, ADDR_W0),
		    cmd_load_s(0, 0, nb0, ADDR_SA0),
		    cmd_load_s(0, 1, nb0, ADDR_SW0),
		    cmd_load(OP_LOAD_A, 1, 32 * nb1, ADDR_A1),
		    cmd_load(OP_LOAD_W, 1, 32 * nb1, ADDR_W1),
		    cmd_load_s(1, 0, nb1, ADDR_SA1),
		    cmd_load_s(1, 1, nb1, ADDR_SW1),
		    with_wide(cmd_qcompute(0, 0, 1, 3 % d.slots, 32 * nb0, mv, d.cols, 0, 0)),
		    with_wide(cmd_qcompute(1, 1, 0, 3 % d.slots, 32 * nb1, mv, d.cols, 0, 0)),
		    cmd_store_mode(2, 3 % d.slots, 0, ADDR_OUT),
		    cmd_store_mode(1, 3 % d.slots, 1, ADDR_OUT2),
		};
		snprintf(what, sizeof(what), "seed %llu case %d nb %u+%u", (unsigned long long)seed,
		         i, nb0, nb1);
		run_ok(&d, cmds, COUNT(cmds), what);
		qref_chain(&t, 0, nb0 + nb1, acc);
		qcheck_rows(&d, ADDR_OUT2, acc, NULL, mv, what);
		qcheck_rows(&d, ADDR_OUT, acc, t.bias, mv, what);
		free(acc);
		qtile_free(&t);
	}
	simdev_close(&d);
}

/* The wide checks: m_valid above MV_ROWS, k_len or offsets not multiples
 * of KW. */
Test(q8, wide_illegal)
{
	struct simdev d;
	unsigned mv, kw;

	core_open(&d);
	mv = mv_rows_of(&d);
	kw = d.bus / d.cols;
	struct cmd c_rows = with_wide(cmd_compute(0, 0, 1, 0, kw, 0, mv + 1, 1));
	struct cmd c_len = with_wide(cmd_compute(0, 0, 1, 0, kw + 1, 0, 1, 1));
	struct cmd c_off = with_wide(cmd_compute(0, 0, 1, 0, kw, 0, 1, 1));
	struct cmd *cases[] = {&c_rows, &c_len, &c_off};

	c_off.w[2] = 1;
	for (size_t i = 0; i < COUNT(cases); i++) {
		uint32_t status = 99, index = 99;

		if (i == 0 && mv + 1 > d.rows)
			continue;
		cr_assert_eq(simdev_run(&d, ADDR_CMDS, cases[i], 1, MAX_CYCLES, &status, &index),
		             1);
		cr_expect_eq(status, 2, "case %zu: STATUS %u", i, status);
	}
	simdev_close(&d);
}

/* ------------------------------------------- matrix-vector streaming */

/*
 * 1 x K x N through the wide engine by a hand-built command list, the way
 * a driver would stream a matrix-vector product: A (and its scales) loaded
 * once per K chunk, W tiles double-buffered, four N tiles in flight (one
 * per slot) so that a K larger than a bank reloads A only once per four W
 * tiles, requantized (or float) STOREs. Checks row 0 of every output bit
 * for bit and prints the cycle count against the memory-bandwidth bound
 * (weight bytes / bus bytes per cycle): a figure, not an assertion.
 */
static void wide_stream(unsigned K, unsigned N, int q)
{
	struct simdev d;
	char err[256];
	struct rng r;
	uint64_t seed = test_seed(q ? "q8::wide_stream(q)" : "q8::wide_stream");
	unsigned kc_n, kt, nt, groups, nb;
	int8_t *a, *w;
	uint16_t *sa, *sw;
	struct cmd *cmds;
	size_t nc = 0, cap;
	uint32_t status = 99, index = 99;
	int32_t bias[64], mult[64], shift[64];
	uint32_t fbias[64];
	const int32_t za = 0, zo = 3, lo = -128, hi = 127;
	uint64_t addr_a = 0x100000, addr_w = 0x400000, addr_sa = 0x200000, addr_sw = 0x300000;
	uint64_t addr_out = 0x180000, addr_cmds = 0x10000;

	cr_assert_eq(simdev_open(&d, 64u << 20, err, sizeof(err)), 0, "%s", err);
	if (!(simdev_reg(&d, 0x5C) & 2))
		cr_skip_test("no matrix-vector engine");
	if (q && !(simdev_reg(&d, 0x5C) & 1))
		cr_skip_test("no block-scaled commands");
	rng_init(&r, seed);
	kt = d.k_depth < K ? d.k_depth : K;
	kc_n = K / kt;
	nt = N / d.cols;
	groups = (nt + d.slots - 1) / d.slots;
	nb = kt / 32;
	cr_assert(K % kt == 0 && N % d.cols == 0);
	a = xmalloc(K);
	w = xmalloc((size_t)N * K);
	sa = xmalloc(sizeof(*sa) * (K / 32));
	sw = xmalloc(sizeof(*sw) * (size_t)N * (K / 32));
	fill_i8(&r, a, K, FILL_RANDOM);
	fill_i8(&r, w, (size_t)N * K, FILL_RANDOM);
	for (unsigned i = 0; i < K / 32; i++)
		sa[i] = rand_scale(&r, SC_TYPICAL);
	for (size_t i = 0; i < (size_t)N * (K / 32); i++)
		sw[i] = rand_scale(&r, SC_TYPICAL);
	for (unsigned c = 0; c < d.cols; c++) {
		bias[c] = (int32_t)rng_range(&r, -1000, 1000);
		mult[c] = (int32_t)rng_range(&r, 1 << 29, (1 << 30) - 1);
		shift[c] = -(int32_t)rng_range(&r, 8, 14);
		fbias[c] = 0x3F000000u + (uint32_t)rng_range(&r, 0, 1 << 20);
	}
	/* Card memory: A chunk kc (rows 1.. zero) at addr_a + kc * kt * R, its
	 * scales at addr_sa + kc * 2 * nb * R; W tile (t, kc) at addr_w +
	 * ((t * kc_n) + kc) * kt * C, its scales at addr_sw likewise. */
	{
		uint8_t *buf = xmalloc((size_t)kt * d.rows);

		for (unsigned kc = 0; kc < kc_n; kc++) {
			memset(buf, 0, (size_t)kt * d.rows);
			for (unsigned k = 0; k < kt; k++)
				buf[k * d.rows] = (uint8_t)a[kc * kt + k];
			cr_assert_eq(ssim_mem_write(d.sim, addr_a + (uint64_t)kc * kt * d.rows, buf,
			                            (size_t)kt * d.rows),
			             0);
			memset(buf, 0, (size_t)2 * nb * d.rows);
			for (unsigned j = 0; j < nb; j++)
				put16(buf + 2 * j * d.rows, sa[kc * nb + j]);
			cr_assert_eq(ssim_mem_write(d.sim, addr_sa + (uint64_t)kc * 2 * nb * d.rows,
			                            buf, (size_t)2 * nb * d.rows),
			             0);
		}
		free(buf);
		buf = xmalloc((size_t)kt * d.cols);
		for (unsigned t = 0; t < nt; t++)
			for (unsigned kc = 0; kc < kc_n; kc++) {
				uint64_t tile = (uint64_t)t * kc_n + kc;

				for (unsigned k = 0; k < kt; k++)
					for (unsigned c = 0; c < d.cols; c++)
						buf[k * d.cols + c] = (uint8_t)
						    w[(size_t)(t * d.cols + c) * K + kc * kt + k];
				cr_assert_eq(ssim_mem_write(d.sim, addr_w + tile * kt * d.cols, buf,
				                            (size_t)kt * d.cols),
				             0);
				for (unsigned j = 0; j < nb; j++)
					for (unsigned c = 0; c < d.cols; c++)
						put16(buf + 2 * (j * d.cols + c),
						      sw[(size_t)(t * d.cols + c) * (K / 32) +
						         kc * nb + j]);
				cr_assert_eq(ssim_mem_write(d.sim, addr_sw + tile * 2 * nb * d.cols,
				                            buf, (size_t)2 * nb * d.cols),
				             0);
			}
		free(buf);
		buf = xmalloc(3 * (size_t)d.bus);
		memset(buf, 0, 3 * (size_t)d.bus);
		for (unsigned c = 0; c < d.cols; c++) {
			put32u(buf + 4 * c, q ? fbias[c] : (uint32_t)bias[c]);
			put32u(buf + d.bus + 4 * c, (uint32_t)mult[c]);
			put32u(buf + 2 * d.bus + 4 * c, (uint32_t)shift[c]);
		}
		cr_assert_eq(ssim_mem_write(d.sim, ADDR_P, buf, 3 * d.bus), 0);
		free(buf);
	}
	cap = 8 + (size_t)groups * kc_n * (2 + 3 * d.slots) + 2 * (size_t)nt;
	cmds = xmalloc(sizeof(*cmds) * cap);
	cmds[nc++] = cmd_load_p(0, 1, ADDR_P);
	{
		unsigned wb = 0;
		int in_bank[2] = {-1, -1}; /* A chunk held by each A bank */

		for (unsigned g = 0; g < groups; g++)
			for (unsigned i = 0; i < kc_n; i++) {
				/* Integer sums may take the K chunks in any order: odd groups
				 * run them backwards and find the last two chunks still in
				 * the A banks. The float chain must go in block order. */
				unsigned kc = (!q && (g & 1)) ? kc_n - 1 - i : i;
				unsigned ab = kc & 1;

				if (in_bank[0] == (int)kc)
					ab = 0;
				else if (in_bank[1] == (int)kc)
					ab = 1;
				else {
					cmds[nc++] = cmd_load(OP_LOAD_A, ab, kt,
					                      addr_a + (uint64_t)kc * kt * d.rows);
					if (q)
						cmds[nc++] = cmd_load_s(ab, 0, nb,
						                        addr_sa + (uint64_t)kc * 2 *
						                                      nb * d.rows);
					in_bank[ab] = (int)kc;
				}
				for (unsigned j = 0; j < d.slots && g * d.slots + j < nt; j++) {
					unsigned t = g * d.slots + j;
					uint64_t tile = (uint64_t)t * kc_n + kc;
					struct cmd c;

					/* The W scales first: a short load that lands while the
					 * weights still stream, so the COMPUTE (which waits for its
					 * scales) never holds the command stream. */
					if (q)
						cmds[nc++] = cmd_load_s(
						    wb, 1, nb, addr_sw + tile * 2 * nb * d.cols);
					cmds[nc++] = cmd_load(OP_LOAD_W, wb, kt,
					                      addr_w + tile * kt * d.cols);
					if (q) {
						c = cmd_qcompute(ab, wb, kc == 0, j, kt, 1, d.cols,
						                 0, 0);
					} else {
						c = cmd_compute(ab, wb, i == 0, j, kt, za, 1,
						                d.cols);
					}
					cmds[nc++] = with_wide(c);
					if (i == kc_n - 1) {
						struct cmd s =
						    q ? cmd_store_mode(2, j, 0,
						                       addr_out + (uint64_t)t * 4 *
						                                      d.rows *
						                                      d.cols)
						      : cmd_store(0, j, 0,
						                  addr_out +
						                      (uint64_t)t * d.rows * d.cols,
						                  zo, lo, hi);
						cmds[nc++] = s;
					}
					wb ^= 1;
				}
			}
	}
	cr_assert_leq(nc, cap);
	cr_assert_eq(simdev_run(&d, addr_cmds, cmds, nc, 50000000, &status, &index), 1,
	             "no ap_done");
	cr_assert_eq(status, 0, "STATUS %u at command %u", status, index);
	/* Row 0 of every output against the reference. */
	{
		size_t per = q ? 4 * (size_t)d.rows * d.cols : (size_t)d.rows * d.cols, bad = 0;
		uint8_t *out = xmalloc(per);

		for (unsigned t = 0; t < nt; t++) {
			cr_assert_eq(ssim_mem_read(d.sim, addr_out + t * per, out, per), 0);
			for (unsigned c = 0; c < d.cols; c++) {
				const int8_t *wr = w + (size_t)(t * d.cols + c) * K;

				if (q) {
					uint32_t acc = 0, got = (uint32_t)out[4 * c] |
					                        (uint32_t)out[4 * c + 1] << 8 |
					                        (uint32_t)out[4 * c + 2] << 16 |
					                        (uint32_t)out[4 * c + 3] << 24;

					for (unsigned b = 0; b < K / 32; b++) {
						int32_t isum = 0;

						for (unsigned j = 0; j < 32; j++)
							isum += a[32 * b + j] * wr[32 * b + j];
						acc = fref_add(
						    acc,
						    fref_mul(
						        isum,
						        fref_scale(
						            sw[(size_t)(t * d.cols + c) * (K / 32) +
						               b],
						            sa[b])));
					}
					acc = fref_add(acc, fbias[c]);
					if (got != acc && bad++ < 5)
						cr_log_error("n %u: 0x%08x want 0x%08x",
						             t * d.cols + c, got, acc);
				} else {
					int32_t acc = ref_dot(a, 1, wr, 1, K, za, bias[c]);
					int32_t want =
					    ref_requantize(acc, mult[c], shift[c], zo, lo, hi);

					if ((int8_t)out[c] != want && bad++ < 5)
						cr_log_error("n %u: %d want %d", t * d.cols + c,
						             (int8_t)out[c], want);
				}
			}
		}
		free(out);
		cr_assert_eq(bad, 0, "%zu outputs wrong", bad);
	}
	{
		uint64_t cycles = simdev_reg64(&d, REG_CYCLES), bound = (uint64_t)K * N / d.bus;

		fprintf(stderr,
		        "wide stream 1x%ux%u %s: %llu cycles, bandwidth bound %llu (weights / %u B "
		        "per cycle): %.3f of the bound; busy %llu, stall_mem %llu, stall_dep %llu, "
		        "bytes read %llu\n",
		        K, N, q ? "q8_0" : "int8", (unsigned long long)cycles,
		        (unsigned long long)bound, d.bus, (double)bound / (double)cycles,
		        (unsigned long long)simdev_reg64(&d, REG_BUSY),
		        (unsigned long long)simdev_reg64(&d, REG_STALL_MEM),
		        (unsigned long long)simdev_reg64(&d, REG_STALL_DEP),
		        (unsigned long long)simdev_reg64(&d, REG_BYTES_RD));
		cr_expect_eq(simdev_reg64(&d, REG_MACS), (uint64_t)K * N);
	}
	free(cmds);
	free(a);
	free(w);
	free(sa);
	free(sw);
	simdev_close(&d);
}

Test(q8, wide_stream_1x1024x1024)
{
	wide_stream(1024, 1024, 0);
}
Test(q8, wide_stream_1x4096x4096)
{
	wide_stream(4096, 4096, 0);
}
Test(q8, wide_stream_q_1x1024x1024)
{
	wide_stream(1024, 1024, 1);
}
Test(q8, wide_stream_q_1x4096x4096)
{
	wide_stream(4096, 4096, 1);
}
