/*
 * ssim_gemm.c - runs int8 GEMMs on the simulated card through any build of
 * the simulation library (loaded with dlopen, as the driver does), with a
 * command stream encoded here from rtl/ARCHITECTURE.md, and checks the
 * result bit-exactly against a naive reference of the numeric contract.
 *
 * It is the simulator's own test and workload tool (sim-check, coverage,
 * simspeed); the product path is libsampan and the sampan CLI.
 *
 *   ssim_gemm [--lib SO] [-m M] [-k K] [-n N] [--seed S] [--raw]
 *             [--latency L] [--bw BYTES] [--outstanding O] [--repeat R]
 *             [--trace FILE] [--fault KIND] [--quiet] [--json]
 *
 * --fault appends one illegal command to the list and expects the card to
 * stop with the matching STATUS code instead of checking the output:
 * opcode (1), range (2, a COMPUTE with k_len 0), align (3, an unaligned
 * LOAD_A), rderr (4, a LOAD_A past the end of card memory), wrerr (5, a
 * STORE past the end).
 *
 * Exit status: 0 match (or the expected fault), 1 mismatch or failure,
 * 2 usage error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampan_sim.h"

/* ---------------------------------------------------------- the library */

struct lib {
	void *handle;
	int (*abi_version)(void);
	struct ssim *(*create)(const struct ssim_config *);
	void (*destroy)(struct ssim *);
	const char *(*error)(const struct ssim *);
	int (*reg_write)(struct ssim *, uint32_t, uint32_t);
	int (*reg_read)(struct ssim *, uint32_t, uint32_t *);
	int (*mem_write)(struct ssim *, uint64_t, const void *, size_t);
	int (*mem_read)(struct ssim *, uint64_t, void *, size_t);
	int (*wait_irq)(struct ssim *, uint64_t);
	uint64_t (*cycles)(const struct ssim *);
};

static int lib_open(struct lib *l, const char *path)
{
	l->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!l->handle) {
		fprintf(stderr, "ssim_gemm: %s\n", dlerror());
		return -1;
	}
#define SYM(field, name)                                                                           \
	do {                                                                                       \
		*(void **)(&l->field) = dlsym(l->handle, name);                                    \
		if (!l->field) {                                                                   \
			fprintf(stderr, "ssim_gemm: %s: no symbol %s\n", path, name);              \
			goto err_close;                                                            \
		}                                                                                  \
	} while (0)
	SYM(abi_version, "ssim_abi_version");
	SYM(create, "ssim_create");
	SYM(destroy, "ssim_destroy");
	SYM(error, "ssim_error");
	SYM(reg_write, "ssim_reg_write");
	SYM(reg_read, "ssim_reg_read");
	SYM(mem_write, "ssim_mem_write");
	SYM(mem_read, "ssim_mem_read");
	SYM(wait_irq, "ssim_wait_irq");
	SYM(cycles, "ssim_cycles");
#undef SYM
	if (l->abi_version() != SSIM_ABI_VERSION) {
		fprintf(stderr, "ssim_gemm: %s: ABI version %d, expected %d\n", path,
		        l->abi_version(), SSIM_ABI_VERSION);
		goto err_close;
	}
	return 0;
err_close:
	dlclose(l->handle);
	return -1;
}

/* ------------------------------------------------- registers and opcodes */

enum {
	REG_CTRL = 0x00,
	REG_GIE = 0x04,
	REG_IER = 0x08,
	REG_ISR = 0x0C,
	REG_CMD_LO = 0x10,
	REG_CMD_HI = 0x14,
	REG_CMD_COUNT = 0x18,
	REG_ID = 0x40,
	REG_SHAPE = 0x48,
	REG_K_DEPTH = 0x4C,
	REG_SLOTS = 0x50,
	REG_BUS_BYTES = 0x54,
	REG_STATUS = 0x60,
	REG_ERR_INDEX = 0x64,
	REG_CYCLES = 0x80,
	REG_BUSY = 0x88,
	REG_MACS = 0x90,
	REG_STALL_MEM = 0x98,
	REG_STALL_DEP = 0xA0,
	REG_CMDS = 0xB8,
};
enum { OP_LOAD_A = 1, OP_LOAD_W = 2, OP_LOAD_P = 3, OP_COMPUTE = 4, OP_STORE = 5 };
#define HW_ID 0x4E504D53u

/* Hardware shape read from the card. */
struct hw {
	unsigned rows, cols, kt, slots, pentries, bus;
};

/* ----------------------------------------------------- numeric contract */

static int32_t wrap_add(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* TFLite MultiplyByQuantizedMultiplier (SaturatingRoundingDoublingHighMul
 * then RoundingDivideByPOT), shift clamped to [-31, 31] as the hardware does. */
static int32_t mbqm(int32_t x, int32_t mult, int32_t shift)
{
	if (shift > 31)
		shift = 31;
	if (shift < -31)
		shift = -31;
	int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
	int32_t a = (int32_t)((uint32_t)x << left);
	int32_t high;
	if (a == INT32_MIN && mult == INT32_MIN) {
		high = INT32_MAX;
	} else {
		int64_t ab = (int64_t)a * mult;
		int64_t nudge = ab >= 0 ? (1ll << 30) : (1 - (1ll << 30));
		high = (int32_t)((ab + nudge) / (1ll << 31));
	}
	int32_t mask = (int32_t)((1ll << right) - 1);
	int32_t rem = high & mask;
	int32_t thr = (mask >> 1) + (high < 0 ? 1 : 0);
	return (high >> right) + (rem > thr ? 1 : 0);
}

/* ---------------------------------------------------------------- job */

struct gemm {
	int64_t m, k, n;
	int8_t *a;                    /* (M, K) */
	int8_t *w;                    /* (N, K) */
	int32_t *bias, *mult, *shift; /* (N) */
	int32_t za, zo, lo, hi;
	int raw;
};

static uint64_t rng_state;
static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}
static int32_t rng_range(int32_t lo, int32_t hi)
{
	return lo + (int32_t)(rng() % (uint32_t)(hi - lo + 1));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Command list builder. */
struct cmds {
	uint32_t *w; /* (count, 4) */
	size_t count, cap;
};

static int cmd_push(struct cmds *c, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
	if (c->count == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		uint32_t *p = realloc(c->w, cap * 4 * sizeof(*p));
		if (!p)
			return -1;
		c->w = p;
		c->cap = cap;
	}
	uint32_t *d = c->w + 4 * c->count++;
	d[0] = w0;
	d[1] = w1;
	d[2] = w2;
	d[3] = w3;
	return 0;
}

struct layout {
	uint64_t cmd, params, a, w, out;
	uint64_t a_tile, w_tile, out_tile; /* bytes per tile, B-aligned */
	int64_t mt, nt, kc;                /* tile counts */
};

struct opts {
	const char *lib;
	int64_t m, k, n;
	uint64_t seed;
	int raw, json, quiet;
	unsigned latency, bw, outstanding, repeat;
	const char *trace;
	int fault; /* expected STATUS code, 0: none */
};

static const char *const fault_names[] = {NULL, "opcode", "range", "align", "rderr", "wrerr"};
#define MEM_BYTES (256ull << 20) /* the library's default card memory */

/* Runs the command list once; returns 0 with the card's counters and its
 * STATUS and ERR_INDEX. */
static int run_once(struct lib *l, struct ssim *s, const struct layout *lay, size_t ncmds,
                    uint64_t ctr[6], uint32_t *status, uint32_t *index)
{
	static const uint32_t regs[6] = {REG_CYCLES,    REG_BUSY,      REG_MACS,
	                                 REG_STALL_MEM, REG_STALL_DEP, REG_CMDS};
	uint32_t v, lo, hi;
	if (l->reg_write(s, REG_GIE, 1) || l->reg_write(s, REG_IER, 1) ||
	    l->reg_write(s, REG_CMD_LO, (uint32_t)lay->cmd) ||
	    l->reg_write(s, REG_CMD_HI, (uint32_t)(lay->cmd >> 32)) ||
	    l->reg_write(s, REG_CMD_COUNT, (uint32_t)ncmds) || l->reg_write(s, REG_CTRL, 1))
		goto err_sim;
	int r = l->wait_irq(s, 2000000000ull);
	if (r < 0)
		goto err_sim;
	if (r == 0) {
		fprintf(stderr, "ssim_gemm: no interrupt after 2e9 cycles\n");
		return -1;
	}
	if (l->reg_read(s, REG_CTRL, &v) || l->reg_write(s, REG_ISR, 1) ||
	    l->reg_read(s, REG_STATUS, status) || l->reg_read(s, REG_ERR_INDEX, index))
		goto err_sim;
	if (!(v & 2)) {
		fprintf(stderr, "ssim_gemm: interrupt without ap_done (CTRL 0x%x)\n", v);
		return -1;
	}
	for (int i = 0; i < 6; i++) {
		if (l->reg_read(s, regs[i], &lo) || (i < 5 && l->reg_read(s, regs[i] + 4, &hi)))
			goto err_sim;
		ctr[i] = i < 5 ? ((uint64_t)hi << 32 | lo) : lo;
	}
	return 0;
err_sim:
	fprintf(stderr, "ssim_gemm: %s\n", l->error(s));
	return -1;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Packs operands, builds the commands, runs them and checks the output. */
static int run_gemm(struct lib *l, struct ssim *s, const struct hw *hw, const struct gemm *g,
                    const struct opts *o)
{
	const unsigned R = hw->rows, C = hw->cols, B = hw->bus;
	struct layout lay;
	struct cmds cl = {0};
	uint8_t *tile = NULL, *outbuf = NULL;
	int rc = -1;
	size_t esz = g->raw ? 4 : 1;
	int64_t mismatches = 0;

	lay.mt = (g->m + R - 1) / R;
	lay.nt = (g->n + C - 1) / C;
	lay.kc = (g->k + hw->kt - 1) / hw->kt;
	lay.a_tile = align_up((uint64_t)hw->kt * R, B);
	lay.w_tile = align_up((uint64_t)hw->kt * C, B);
	lay.out_tile = align_up((uint64_t)R * C * esz, B);

	/* Commands: per group of P_ENTRIES n-tiles one LOAD_P; per output
	 * tile, LOAD_A/LOAD_W/COMPUTE per K chunk (banks alternate), then
	 * STORE (slots rotate). */
	unsigned bank = 0, slot = 0;
	uint64_t size_cmds = 0;
	for (int pass = 0; pass < 2; pass++) {
		/* pass 0 counts the commands to place the data after them */
		cl.count = 0;
		lay.cmd = 0;
		lay.params = align_up((size_cmds + 1) * 16, B); /* room for --fault */
		lay.a = lay.params + align_up((uint64_t)lay.nt * 3 * B, B);
		lay.w = lay.a + (uint64_t)(lay.mt * lay.kc) * lay.a_tile;
		lay.out = lay.w + (uint64_t)(lay.nt * lay.kc) * lay.w_tile;
		bank = slot = 0;
		for (int64_t ng = 0; ng < lay.nt; ng += hw->pentries) {
			int64_t cnt = lay.nt - ng < hw->pentries ? lay.nt - ng : hw->pentries;
			uint64_t pa = lay.params + (uint64_t)ng * 3 * B;
			if (cmd_push(&cl, OP_LOAD_P | (uint32_t)cnt << 16, (uint32_t)pa,
			             (uint32_t)(pa >> 32), 0))
				goto err_nomem;
			for (int64_t nt = ng; nt < ng + cnt; nt++) {
				for (int64_t mt = 0; mt < lay.mt; mt++) {
					uint32_t mv =
					    (uint32_t)(g->m - mt * R < R ? g->m - mt * R : R);
					uint32_t nv =
					    (uint32_t)(g->n - nt * C < C ? g->n - nt * C : C);
					for (int64_t kc = 0; kc < lay.kc; kc++) {
						uint32_t klen =
						    (uint32_t)(g->k - kc * hw->kt < hw->kt
						                   ? g->k - kc * hw->kt
						                   : hw->kt);
						uint64_t aa = lay.a + (uint64_t)(mt * lay.kc + kc) *
						                          lay.a_tile;
						uint64_t wa = lay.w + (uint64_t)(nt * lay.kc + kc) *
						                          lay.w_tile;
						if (cmd_push(
						        &cl, OP_LOAD_A | bank << 8 | klen << 16,
						        (uint32_t)aa, (uint32_t)(aa >> 32), 0) ||
						    cmd_push(
						        &cl, OP_LOAD_W | bank << 8 | klen << 16,
						        (uint32_t)wa, (uint32_t)(wa >> 32), 0) ||
						    cmd_push(&cl,
						             OP_COMPUTE | bank << 8 | bank << 9 |
						                 (kc == 0) << 10 | slot << 12 |
						                 klen << 16,
						             (uint8_t)g->za | mv << 8 | nv << 16, 0,
						             0))
							goto err_nomem;
						bank ^= 1;
					}
					uint64_t oa =
					    lay.out + (uint64_t)(mt * lay.nt + nt) * lay.out_tile;
					if (cmd_push(&cl,
					             OP_STORE | (uint32_t)(g->raw != 0) << 8 |
					                 slot << 12 | (uint32_t)(nt - ng) << 16,
					             (uint32_t)oa, (uint32_t)(oa >> 32),
					             (uint8_t)g->zo |
					                 (uint32_t)(uint8_t)g->lo << 8 |
					                 (uint32_t)(uint8_t)g->hi << 16))
						goto err_nomem;
					slot = (slot + 1) % hw->slots;
				}
			}
		}
		size_cmds = cl.count;
	}
	uint32_t fault_w[6][4] = {
	    {0},
	    {0xFF, 0, 0, 0},
	    {OP_COMPUTE, (uint8_t)g->za | 1u << 8 | 1u << 16, 0, 0},
	    {OP_LOAD_A | 1u << 16, (uint32_t)lay.a + 1, (uint32_t)(lay.a >> 32), 0},
	    {OP_LOAD_A | hw->kt << 16, (uint32_t)(MEM_BYTES - B), (uint32_t)((MEM_BYTES - B) >> 32),
	     0},
	    {OP_STORE | 1u << 8, (uint32_t)(MEM_BYTES - B), (uint32_t)((MEM_BYTES - B) >> 32),
	     0x7F8000},
	};
	if (o->fault && cmd_push(&cl, fault_w[o->fault][0], fault_w[o->fault][1],
	                         fault_w[o->fault][2], fault_w[o->fault][3]))
		goto err_nomem;

	/* Operands, laid out as rtl/ARCHITECTURE.md says; padding is zero. */
	size_t tbytes = lay.a_tile > lay.w_tile ? lay.a_tile : lay.w_tile;
	if (tbytes < 3 * (size_t)B)
		tbytes = 3 * (size_t)B;
	tile = malloc(tbytes);
	outbuf = malloc(lay.out_tile);
	if (!tile || !outbuf)
		goto err_nomem;
	if (l->mem_write(s, lay.cmd, cl.w, cl.count * 16))
		goto err_sim;
	for (int64_t nt = 0; nt < lay.nt; nt++) {
		const int32_t *src[3] = {g->bias, g->mult, g->shift};
		memset(tile, 0, 3 * (size_t)B);
		for (int b = 0; b < 3; b++)
			for (int64_t c = 0; c < C && nt * C + c < g->n; c++)
				memcpy(tile + (size_t)b * B + 4 * c, &src[b][nt * C + c], 4);
		if (l->mem_write(s, lay.params + (uint64_t)nt * 3 * B, tile, 3 * (size_t)B))
			goto err_sim;
	}
	for (int64_t kc = 0; kc < lay.kc; kc++) {
		for (int64_t mt = 0; mt < lay.mt; mt++) {
			memset(tile, 0, lay.a_tile);
			for (int64_t k = kc * hw->kt; k < g->k && k < (kc + 1) * hw->kt; k++)
				for (int64_t r = 0; r < R && mt * R + r < g->m; r++)
					tile[(k - kc * hw->kt) * R + r] =
					    (uint8_t)g->a[(mt * R + r) * g->k + k];
			if (l->mem_write(s, lay.a + (uint64_t)(mt * lay.kc + kc) * lay.a_tile, tile,
			                 lay.a_tile))
				goto err_sim;
		}
		for (int64_t nt = 0; nt < lay.nt; nt++) {
			memset(tile, 0, lay.w_tile);
			for (int64_t k = kc * hw->kt; k < g->k && k < (kc + 1) * hw->kt; k++)
				for (int64_t c = 0; c < C && nt * C + c < g->n; c++)
					tile[(k - kc * hw->kt) * C + c] =
					    (uint8_t)g->w[(nt * C + c) * g->k + k];
			if (l->mem_write(s, lay.w + (uint64_t)(nt * lay.kc + kc) * lay.w_tile, tile,
			                 lay.w_tile))
				goto err_sim;
		}
	}

	uint64_t ctr[6] = {0};
	uint32_t status = 0, index = 0;
	uint64_t c0 = l->cycles(s);
	double t0 = now_seconds();
	for (unsigned i = 0; i < o->repeat; i++) {
		if (run_once(l, s, &lay, cl.count, ctr, &status, &index))
			goto out;
		if (status != (uint32_t)o->fault) {
			fprintf(stderr, "ssim_gemm: card STATUS %u at command %u, expected %d\n",
			        status, index, o->fault);
			goto out;
		}
	}
	double wall = now_seconds() - t0;
	uint64_t sim_cycles = l->cycles(s) - c0;
	if (o->fault) {
		if (!o->quiet)
			printf("fault %s: STATUS %u at command %u of %zu, as expected\n",
			       fault_names[o->fault], status, index, cl.count);
		rc = 0;
		goto out;
	}

	for (int64_t mt = 0; mt < lay.mt; mt++) {
		for (int64_t nt = 0; nt < lay.nt; nt++) {
			if (l->mem_read(s, lay.out + (uint64_t)(mt * lay.nt + nt) * lay.out_tile,
			                outbuf, lay.out_tile))
				goto err_sim;
			for (int64_t r = 0; r < R && mt * R + r < g->m; r++) {
				for (int64_t c = 0; c < C && nt * C + c < g->n; c++) {
					int64_t m = mt * R + r, n = nt * C + c;
					int32_t acc = g->bias[n], got, want;
					for (int64_t k = 0; k < g->k; k++)
						acc = wrap_add(acc, (g->a[m * g->k + k] - g->za) *
						                        g->w[n * g->k + k]);
					if (g->raw) {
						memcpy(&got, outbuf + 4 * (r * C + c), 4);
						want = acc;
					} else {
						got = (int8_t)outbuf[r * C + c];
						want = wrap_add(mbqm(acc, g->mult[n], g->shift[n]),
						                g->zo);
						want = want < g->lo   ? g->lo
						       : want > g->hi ? g->hi
						                      : want;
					}
					if (got != want && mismatches++ < 5 && !o->quiet)
						fprintf(stderr,
						        "ssim_gemm: out[%" PRId64 "][%" PRId64
						        "] = %d, want %d\n",
						        m, n, got, want);
				}
			}
		}
	}

	double cps = wall > 0 ? sim_cycles / wall : 0;
	if (o->json)
		printf("{\"m\": %" PRId64 ", \"k\": %" PRId64 ", \"n\": %" PRId64
		       ", \"raw\": %d, \"commands\": %zu, "
		       "\"repeat\": %u, \"cycles\": %" PRIu64 ", \"busy\": %" PRIu64
		       ", \"macs\": %" PRIu64 ", \"stall_mem\": %" PRIu64
		       ", \"stall_dep\": %" PRIu64 ", \"cmds\": %" PRIu64
		       ", \"mismatches\": %" PRId64 ", \"sim_cycles\": %" PRIu64
		       ", \"wall_seconds\": %.6f, "
		       "\"cycles_per_second\": %.0f}\n",
		       g->m, g->k, g->n, g->raw, cl.count, o->repeat, ctr[0], ctr[1], ctr[2],
		       ctr[3], ctr[4], ctr[5], mismatches, sim_cycles, wall, cps);
	else if (!o->quiet)
		printf("gemm %" PRId64 "x%" PRId64 "x%" PRId64 " %s: %s, %zu commands, %" PRIu64
		       " cycles (busy %" PRIu64 ", stall mem %" PRIu64 ", dep %" PRIu64
		       "), utilization %.3f, %" PRId64 " mismatches; %.0f simulated cycles/s\n",
		       g->m, g->k, g->n, g->raw ? "raw" : "requant", mismatches ? "MISMATCH" : "ok",
		       cl.count, ctr[0], ctr[1], ctr[3], ctr[4],
		       ctr[0] ? (double)ctr[2] / ((double)ctr[0] * R * C) : 0.0, mismatches, cps);
	rc = mismatches ? -1 : 0;
	goto out;

err_nomem:
	fprintf(stderr, "ssim_gemm: out of memory\n");
	goto out;
err_sim:
	fprintf(stderr, "ssim_gemm: %s\n", l->error(s));
out:
	free(outbuf);
	free(tile);
	free(cl.w);
	return rc;
}

/* ---------------------------------------------------------------- main */

static int read_hw(struct lib *l, struct ssim *s, struct hw *hw)
{
	uint32_t id, shape, kt, slots, bus;
	if (l->reg_read(s, REG_ID, &id) || l->reg_read(s, REG_SHAPE, &shape) ||
	    l->reg_read(s, REG_K_DEPTH, &kt) || l->reg_read(s, REG_SLOTS, &slots) ||
	    l->reg_read(s, REG_BUS_BYTES, &bus)) {
		fprintf(stderr, "ssim_gemm: %s\n", l->error(s));
		return -1;
	}
	hw->rows = shape & 0xFFFF;
	hw->cols = shape >> 16;
	hw->kt = kt;
	hw->slots = slots & 0xFFFF;
	hw->pentries = slots >> 16;
	hw->bus = bus;
	if (id != HW_ID || !hw->rows || !hw->cols || !hw->kt || !hw->slots || !hw->pentries ||
	    !hw->bus || (hw->bus & (hw->bus - 1))) {
		fprintf(stderr,
		        "ssim_gemm: implausible card: ID 0x%08x SHAPE 0x%08x K_DEPTH %u SLOTS "
		        "0x%08x BUS %u\n",
		        id, shape, kt, slots, bus);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: ssim_gemm [--lib SO] [-m M] [-k K] [-n N] [--seed S] [--raw] [--latency L]\n"
	    "                 [--bw BYTES] [--outstanding O] [--repeat R] [--trace FILE]\n"
	    "                 [--fault opcode|range|align|rderr|wrerr] [--quiet] [--json]\n");
}

/* Parses a decimal in [lo, hi]; returns -1 on error. */
static int parse_num(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = s ? strtoll(s, &end, 10) : 0;
	if (!s || errno || *end || end == s || x < lo || x > hi) {
		fprintf(stderr,
		        "ssim_gemm: %s: expected an integer in [%" PRId64 ", %" PRId64
		        "], got '%s'\n",
		        opt, lo, hi, s ? s : "");
		return -1;
	}
	*v = x;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .lib = "build/libsampan_sim.so", .m = 16, .k = 64, .n = 16, .seed = 1, .repeat = 1};
	struct lib l;
	struct gemm g = {0};
	struct hw hw;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t x;
		if (!strcmp(a, "--raw")) {
			o.raw = 1;
		} else if (!strcmp(a, "--json")) {
			o.json = 1;
		} else if (!strcmp(a, "--quiet")) {
			o.quiet = 1;
		} else if (!strcmp(a, "--lib") && v) {
			o.lib = v;
			i++;
		} else if (!strcmp(a, "--fault") && v) {
			for (o.fault = 1; o.fault <= 5 && strcmp(v, fault_names[o.fault]);
			     o.fault++)
				;
			if (o.fault > 5) {
				fprintf(stderr, "ssim_gemm: --fault: one of opcode, range, align, "
				                "rderr, wrerr\n");
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--trace") && v) {
			o.trace = v;
			i++;
		} else if (!strcmp(a, "-m") || !strcmp(a, "-k") || !strcmp(a, "-n")) {
			if (parse_num(a, v, 1, 1 << 16, &x))
				return 2;
			*(a[1] == 'm' ? &o.m : a[1] == 'k' ? &o.k : &o.n) = x;
			i++;
		} else if (!strcmp(a, "--seed")) {
			if (parse_num(a, v, 0, INT64_MAX, &x))
				return 2;
			o.seed = (uint64_t)x;
			i++;
		} else if (!strcmp(a, "--latency") || !strcmp(a, "--bw") ||
		           !strcmp(a, "--outstanding") || !strcmp(a, "--repeat")) {
			if (parse_num(a, v, 1, 100000, &x))
				return 2;
			*(!strcmp(a, "--latency")  ? &o.latency
			  : !strcmp(a, "--bw")     ? &o.bw
			  : !strcmp(a, "--repeat") ? &o.repeat
			                           : &o.outstanding) = (unsigned)x;
			i++;
		} else {
			usage();
			return 2;
		}
	}
	if ((uint64_t)o.m * o.k + (uint64_t)o.n * o.k > (1ull << 28)) {
		fprintf(stderr, "ssim_gemm: operands larger than 256 MiB\n");
		return 2;
	}

	if (lib_open(&l, o.lib))
		return 1;
	struct ssim_config cfg = {.mem_latency = o.latency,
	                          .mem_bytes_per_cycle = o.bw,
	                          .mem_outstanding = o.outstanding,
	                          .trace_path = o.trace};
	struct ssim *s = l.create(&cfg);
	if (!s) {
		fprintf(stderr, "ssim_gemm: ssim_create: %s\n", l.error(NULL));
		goto err_close_lib;
	}
	if (read_hw(&l, s, &hw))
		goto err_destroy;

	rng_state = o.seed;
	g.m = o.m;
	g.k = o.k;
	g.n = o.n;
	g.raw = o.raw;
	g.a = malloc((size_t)(g.m * g.k));
	g.w = malloc((size_t)(g.n * g.k));
	g.bias = malloc((size_t)g.n * sizeof(*g.bias));
	g.mult = malloc((size_t)g.n * sizeof(*g.mult));
	g.shift = malloc((size_t)g.n * sizeof(*g.shift));
	if (!g.a || !g.w || !g.bias || !g.mult || !g.shift) {
		fprintf(stderr, "ssim_gemm: out of memory\n");
		goto err_free;
	}
	for (int64_t i = 0; i < g.m * g.k; i++)
		g.a[i] = (int8_t)rng();
	for (int64_t i = 0; i < g.n * g.k; i++)
		g.w[i] = (int8_t)rng();
	for (int64_t i = 0; i < g.n; i++) {
		g.bias[i] = rng_range(-(1 << 20), 1 << 20);
		g.mult[i] = rng_range(1 << 30, INT32_MAX);
		g.shift[i] = rng_range(-24, 4);
	}
	g.za = rng_range(-128, 127);
	g.zo = rng_range(-128, 127);
	g.lo = rng_range(-128, 0);
	g.hi = rng_range(g.lo, 127);

	if (!run_gemm(&l, s, &hw, &g, &o))
		rc = 0;
err_free:
	free(g.a);
	free(g.w);
	free(g.bias);
	free(g.mult);
	free(g.shift);
err_destroy:
	l.destroy(s);
err_close_lib:
	dlclose(l.handle);
	return rc;
}
