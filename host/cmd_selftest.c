/*
 * cmd_selftest.c - `sampan selftest`: the device conformance suite, for
 * hardware-in-the-loop CI. The same checks run against any device (sim,
 * sim-usb, cpu, xrt, usb): identity, register and memory access, random
 * GEMMs and requantizer corners against the CLI's own reference (ref.c),
 * error recovery and timeouts.
 *
 * Register offsets, opcodes and status codes are written here from
 * rtl/ARCHITECTURE.md, not taken from the driver, so that the suite checks
 * the driver and the hardware against the document.
 *
 * Exit status: 0 all passed, 1 a check failed, 2 usage, 77 the device is
 * absent (no board, no XRT, library missing): the automake "skipped" code
 * that CI runners understand.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ref.h"

#define SELFTEST_EXIT_SKIP 77

static const char selftest_help[] =
    "usage: sampan selftest [-d DEV] [--junit FILE] [--tap FILE] [--json] [--seed S]\n"
    "\n"
    "Runs the conformance suite against a device: identity and shape\n"
    "registers, register read-back, card memory at the window edges, random\n"
    "GEMMs and requantizer corners against the CLI's reference, error\n"
    "status and recovery after illegal commands, and a job wait that times\n"
    "out and resumes. Progress goes to stderr.\n"
    "\n"
    "  -d, --device DEV     device to test (default: sim)\n"
    "      --junit FILE     write JUnit XML results to FILE\n"
    "      --tap FILE       write TAP version 13 results to FILE\n"
    "      --json           one JSON object on stdout: {\"device\", \"seed\",\n"
    "                       \"passed\", \"failed\", \"skipped\", \"tests\": [...]}\n"
    "      --seed S         seed of the random data (default: from the clock;\n"
    "                       $SAMPAN_SELFTEST_SEED overrides the default)\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 all passed, 1 a check failed, 2 usage error, 77 device\n"
    "absent (skipped; result files then record one skipped test).\n";

enum { OPT_HELP = 1, OPT_DEVICE, OPT_JUNIT, OPT_TAP, OPT_JSON, OPT_SEED };

static const struct cli_option selftest_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"device", 'd', true, OPT_DEVICE},
    {"junit", 0, true, OPT_JUNIT},
    {"tap", 0, true, OPT_TAP},
    {"json", 0, false, OPT_JSON},
    {"seed", 0, true, OPT_SEED},
    {NULL, 0, false, 0},
};

/* ---------------------------------------------------- the register map */

#define REG_CTRL 0x00
#define REG_CMD_ADDR_LO 0x10
#define REG_CMD_ADDR_HI 0x14
#define REG_CMD_COUNT 0x18
#define REG_ID 0x40
#define REG_VERSION 0x44
#define REG_SHAPE 0x48
#define REG_K_DEPTH 0x4C
#define REG_SLOTS 0x50
#define REG_BUS_BYTES 0x54
#define REG_CLOCK_MHZ 0x58
#define REG_CMDS 0xB8
#define CTRL_IDLE 0x04u
#define HW_ID 0x4E504D53u
#define CMD_BYTES 16
#define OP_LOAD_A 1
#define OP_COMPUTE 4
#define STATUS_OPCODE 1
#define STATUS_RANGE 2
#define STATUS_ALIGN 3

/* ---------------------------------------------------- suite state */

#define MSG_LEN 512

struct st {
	const char *device;
	struct sampan_device *dev;
	struct sampan_info info;
	struct cli_rng rng;
	char note[MSG_LEN]; /* what a passing check observed, printed after it */
};

/* A check: returns true on success; on failure writes why to @msg. */
typedef bool (*check_fn)(struct st *s, char *msg);

struct st_case {
	const char *name; /* group.check */
	check_fn fn;
};

struct st_result {
	const char *name;
	bool pass;
	double seconds;
	char msg[MSG_LEN];
};

/* Writes a failure message; returns false for `return fail(...)`. */
static bool fail(char *msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(char *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, MSG_LEN, fmt, ap);
	va_end(ap);
	return false;
}

/* A failed library call, with its detail. */
static bool lib_fail(char *msg, const char *what, int err)
{
	return fail(msg, "%s: %s (%s)", what, sampan_last_error(), sampan_strerror(err));
}

/* ---------------------------------------------------- identity, registers */

static bool check_identity(struct st *s, char *msg)
{
	uint32_t id, version;
	int err;

	if ((err = sampan_reg_read(s->dev, REG_ID, &id)) < 0 ||
	    (err = sampan_reg_read(s->dev, REG_VERSION, &version)) < 0)
		return lib_fail(msg, "reading ID/VERSION", err);
	if (id != HW_ID)
		return fail(msg, "ID reads 0x%08" PRIx32 ", want 0x%08" PRIx32, id, HW_ID);
	if (version >> 16 != 1 || version != s->info.hw_version)
		return fail(msg,
		            "VERSION 0x%08" PRIx32 " (info says 0x%08" PRIx32 "), want major 1",
		            version, s->info.hw_version);
	return true;
}

static bool check_shape(struct st *s, char *msg)
{
	const struct sampan_info *i = &s->info;
	uint32_t shape, kd, slots, bus, clock;
	int err;

	if ((err = sampan_reg_read(s->dev, REG_SHAPE, &shape)) < 0 ||
	    (err = sampan_reg_read(s->dev, REG_K_DEPTH, &kd)) < 0 ||
	    (err = sampan_reg_read(s->dev, REG_SLOTS, &slots)) < 0 ||
	    (err = sampan_reg_read(s->dev, REG_BUS_BYTES, &bus)) < 0 ||
	    (err = sampan_reg_read(s->dev, REG_CLOCK_MHZ, &clock)) < 0)
		return lib_fail(msg, "reading the shape registers", err);
	if ((shape & 0xFFFF) != i->rows || shape >> 16 != i->cols || kd != i->k_depth ||
	    (slots & 0xFFFF) != i->acc_slots || slots >> 16 != i->param_entries ||
	    bus != i->bus_bytes || clock != i->clock_mhz)
		return fail(msg,
		            "registers (SHAPE 0x%08" PRIx32 " K_DEPTH %" PRIu32
		            " SLOTS 0x%08" PRIx32 " BUS %" PRIu32 " CLOCK %" PRIu32
		            ") disagree with sampan_get_info",
		            shape, kd, slots, bus, clock);
	/* The legal combinations of ARCHITECTURE.md. */
	if (i->rows < 1 || i->rows > 64 || i->cols < 1 || i->cols > 64 || bus % i->rows ||
	    bus % (4 * i->cols) || i->k_depth % (bus / i->rows) || i->k_depth % (bus / i->cols))
		return fail(msg, "illegal configuration: %ux%u array, K_DEPTH %u, %u-byte bus",
		            i->rows, i->cols, i->k_depth, bus);
	/* Boards keep card memory on chip (the Arty A7-35T: 64 KiB); the
	 * suite's GEMMs and memory spans fit in that. */
	if (i->mem_bytes < (1u << 16))
		return fail(msg, "card memory of %" PRIu64 " bytes is below 64 KiB", i->mem_bytes);
	return true;
}

static bool check_readback(struct st *s, char *msg)
{
	static const uint32_t pats[] = {0x00000000u, 0xFFFFFFC0u, 0xA5A5A5C0u, 0x5A5A5A40u};
	static const uint32_t regs[] = {REG_CMD_ADDR_LO, REG_CMD_ADDR_HI, REG_CMD_COUNT};
	uint32_t v, ctrl;
	int err;

	if ((err = sampan_reg_read(s->dev, REG_CTRL, &ctrl)) < 0)
		return lib_fail(msg, "reading CTRL", err);
	if (!(ctrl & CTRL_IDLE))
		return fail(msg, "CTRL 0x%02" PRIx32 ": the core is not idle", ctrl);
	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		for (size_t r = 0; r < sizeof(regs) / sizeof(regs[0]); r++)
			if ((err = sampan_reg_write(s->dev, regs[r], pats[p] ^ (uint32_t)r)) < 0)
				return lib_fail(msg, "writing an argument register", err);
		for (size_t r = 0; r < sizeof(regs) / sizeof(regs[0]); r++) {
			if ((err = sampan_reg_read(s->dev, regs[r], &v)) < 0)
				return lib_fail(msg, "reading an argument register", err);
			if (v != (pats[p] ^ (uint32_t)r))
				return fail(msg,
				            "register 0x%02" PRIx32 " reads 0x%08" PRIx32
				            " after writing 0x%08" PRIx32,
				            regs[r], v, pats[p] ^ (uint32_t)r);
		}
	}
	for (size_t r = 0; r < sizeof(regs) / sizeof(regs[0]); r++)
		if ((err = sampan_reg_write(s->dev, regs[r], 0)) < 0)
			return lib_fail(msg, "clearing an argument register", err);
	return true;
}

/* ---------------------------------------------------- card memory */

/* Writes @n pattern bytes at @off of @buf and reads them back. */
static bool round_trip(struct sampan_buffer *buf, size_t off, size_t n, uint8_t seed, char *msg)
{
	uint8_t *out = malloc(n), *in = malloc(n);
	bool ok = false;
	int err;

	if (!out || !in) {
		fail(msg, "out of host memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(seed + i * 167u + ((i & 8) ? 1u << (i % 8) : 0));
	if ((err = sampan_buffer_write(buf, off, out, n)) < 0 ||
	    (err = sampan_buffer_read(buf, off, in, n)) < 0) {
		lib_fail(msg, "card memory access", err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (in[i] != out[i]) {
			fail(msg, "byte %zu of the window reads 0x%02x, wrote 0x%02x", off + i,
			     in[i], out[i]);
			goto out;
		}
	}
	ok = true;
out:
	free(out);
	free(in);
	return ok;
}

/* The whole window as one buffer: its first and last bytes, unaligned
 * spans, and a span across a 4 KiB page boundary. */
static bool check_memory(struct st *s, char *msg)
{
	size_t size = (size_t)s->info.mem_bytes, span = size < 65536 ? size / 4 : 16384;
	struct sampan_buffer *buf;
	bool ok;
	int err;

	if ((err = sampan_buffer_create(s->dev, size, &buf)) < 0)
		return lib_fail(msg, "a buffer over the whole card memory", err);
	ok = round_trip(buf, 0, span, 1, msg) && round_trip(buf, size - span, span, 2, msg) &&
	     round_trip(buf, size - 1, 1, 3, msg) && round_trip(buf, 0, 1, 6, msg) &&
	     (size < 16384 ||
	      (round_trip(buf, 4093, 7, 4, msg) && round_trip(buf, size / 2 + 1, 4095, 5, msg)));
	sampan_buffer_destroy(buf);
	return ok;
}

/* ---------------------------------------------------- GEMMs */

/* One GEMM's operands, filled by gemm_alloc(). */
struct gemm_data {
	struct sampan_gemm g;
	int8_t *a, *w;
	int32_t *bias, *mult, *shift;
	void *out, *want;
};

static void gemm_free(struct gemm_data *d)
{
	free(d->a);
	free(d->w);
	free(d->bias);
	free(d->mult);
	free(d->shift);
	free(d->out);
	free(d->want);
}

/* Allocates an M x K x N GEMM with random operands and requantizer
 * parameters; false when out of memory. */
static bool gemm_alloc(struct st *s, struct gemm_data *d, int64_t m, int64_t k, int64_t n, int raw)
{
	size_t esz = raw ? 4 : 1;

	memset(d, 0, sizeof(*d));
	d->a = malloc((size_t)(m * k));
	d->w = malloc((size_t)(n * k));
	d->bias = malloc((size_t)n * 4);
	d->mult = malloc((size_t)n * 4);
	d->shift = malloc((size_t)n * 4);
	d->out = malloc((size_t)(m * n) * esz);
	d->want = malloc((size_t)(m * n) * esz);
	if (!d->a || !d->w || !d->bias || !d->mult || !d->shift || !d->out || !d->want)
		return false;
	for (int64_t i = 0; i < m * k; i++)
		d->a[i] = (int8_t)cli_rng_range(&s->rng, -128, 127);
	for (int64_t i = 0; i < n * k; i++)
		d->w[i] = (int8_t)cli_rng_range(&s->rng, -128, 127);
	for (int64_t i = 0; i < n; i++) {
		d->bias[i] = (int32_t)cli_rng_range(&s->rng, -100000, 100000);
		d->mult[i] = (int32_t)cli_rng_range(&s->rng, 1 << 30, INT32_MAX);
		d->shift[i] = (int32_t)cli_rng_range(&s->rng, -14, 2);
	}
	d->g = (struct sampan_gemm){
	    .m = m,
	    .k = k,
	    .n = n,
	    .a = d->a,
	    .w = d->w,
	    .bias = d->bias,
	    .mult = d->mult,
	    .shift = d->shift,
	    .za = (int32_t)cli_rng_range(&s->rng, -128, 127),
	    .zo = (int32_t)cli_rng_range(&s->rng, -20, 20),
	    .lo = -128,
	    .hi = 127,
	    .raw = raw,
	    .out = d->out,
	};
	return true;
}

/* Compares the device's result with the reference; counts MACs too. */
static bool gemm_compare(struct st *s, struct gemm_data *d, char *msg)
{
	const struct sampan_gemm *g = &d->g;
	struct sampan_stats st;
	int err;

	ref_gemm(g, d->want);
	for (int64_t i = 0; i < g->m * g->n; i++) {
		int64_t got = g->raw ? ((int32_t *)d->out)[i] : ((int8_t *)d->out)[i];
		int64_t want = g->raw ? ((int32_t *)d->want)[i] : ((int8_t *)d->want)[i];

		if (got != want)
			return fail(msg,
			            "%" PRId64 "x%" PRId64 "x%" PRId64 " %s: out[%" PRId64
			            "][%" PRId64 "] = %" PRId64 ", reference %" PRId64,
			            g->m, g->k, g->n, g->raw ? "raw" : "requantized", i / g->n,
			            i % g->n, got, want);
	}
	if ((err = sampan_get_stats(s->dev, &st)) < 0)
		return lib_fail(msg, "sampan_get_stats", err);
	if (st.macs != (uint64_t)(g->m * g->k * g->n))
		return fail(msg,
		            "%" PRId64 "x%" PRId64 "x%" PRId64 ": MACS counter %" PRIu64
		            ", want %" PRId64,
		            g->m, g->k, g->n, st.macs, g->m * g->k * g->n);
	return true;
}

/* Runs one random GEMM of the given shape and checks it. */
static bool gemm_case(struct st *s, int64_t m, int64_t k, int64_t n, int raw, char *msg)
{
	struct gemm_data d;
	bool ok;
	int err;

	if (!gemm_alloc(s, &d, m, k, n, raw)) {
		gemm_free(&d);
		return fail(msg, "out of host memory");
	}
	err = sampan_gemm(s->dev, &d.g);
	ok = err < 0 ? lib_fail(msg, "sampan_gemm", err) : gemm_compare(s, &d, msg);
	gemm_free(&d);
	return ok;
}

static bool check_gemm_random(struct st *s, char *msg)
{
	for (int i = 0; i < 8; i++) {
		int64_t m = cli_rng_range(&s->rng, 1, 40), k = cli_rng_range(&s->rng, 1, 300);
		int64_t n = cli_rng_range(&s->rng, 1, 40);

		if (!gemm_case(s, m, k, n, i & 1, msg))
			return false;
	}
	return true;
}

/* Shapes one off the array's tile size and the bank depth. */
static bool check_gemm_edges(struct st *s, char *msg)
{
	int64_t r = s->info.rows, c = s->info.cols, kd = s->info.k_depth;
	const int64_t shapes[][3] = {
	    {1, 1, 1},
	    {r, 1, c},
	    {r + 1, 3, c - 1 > 0 ? c - 1 : 1},
	    {r - 1 > 0 ? r - 1 : 1, 5, c + 1},
	    {2, kd, 3},
	    {3, kd + 1, 2},
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (!gemm_case(s, shapes[i][0], shapes[i][1], shapes[i][2], (int)(i & 1), msg))
			return false;
	return true;
}

/*
 * Requantizer corners: K = 1 and W = 1, so acc = bias[n] + (A[m] - za):
 * every channel holds one accumulator corner (INT32_MIN/MAX, wrapping
 * past them, ties of the rounding shift, zero) and one (mult, shift)
 * corner (shift -31 and 31, mult INT32_MIN/MAX, 1), and each row moves it
 * by a small signed offset; three output ranges (none, ReLU6-like,
 * saturating zero point).
 */
static bool check_requant_corners(struct st *s, char *msg)
{
	static const int32_t accs[] = {INT32_MIN, INT32_MAX, 0,          -1,
	                               1,         1 << 30,   -(1 << 15), 3 << 20};
	static const int32_t mults[] = {INT32_MAX, INT32_MIN, 1 << 30, 1, 1518500250};
	static const int32_t shifts[] = {-31, 31, 0, -1, 1, -8};
	static const int8_t offsets[] = {0, 1, -1, 127, -128, 64};
	static const int32_t ranges[][3] = {{0, -128, 127}, {-128, -128, -122}, {127, -128, 127}};
	enum {
		NA = sizeof(accs) / sizeof(accs[0]),
		NM = sizeof(mults) / sizeof(mults[0]),
		NS = sizeof(shifts) / sizeof(shifts[0]),
		N = NA * NM * NS,
		M = sizeof(offsets) / sizeof(offsets[0]),
	};
	int8_t a[M], w[N], out[M * N], want[M * N];
	int32_t bias[N], mult[N], shift[N];
	int err;

	for (int i = 0; i < N; i++) {
		w[i] = 1;
		bias[i] = accs[i % NA];
		mult[i] = mults[(i / NA) % NM];
		shift[i] = shifts[i / (NA * NM)];
	}
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		struct sampan_gemm g = {
		    .m = M,
		    .k = 1,
		    .n = N,
		    .a = a,
		    .w = w,
		    .bias = bias,
		    .mult = mult,
		    .shift = shift,
		    .za = 0,
		    .zo = ranges[r][0],
		    .lo = ranges[r][1],
		    .hi = ranges[r][2],
		    .raw = 0,
		    .out = out,
		};

		for (int i = 0; i < M; i++)
			a[i] = offsets[i];
		if ((err = sampan_gemm(s->dev, &g)) < 0)
			return lib_fail(msg, "sampan_gemm", err);
		ref_gemm(&g, want);
		for (int i = 0; i < M * N; i++) {
			int n = i % N;
			if (out[i] != want[i])
				return fail(msg,
				            "acc %" PRId32 "%+d, mult %" PRId32 ", shift %" PRId32
				            ", zo %" PRId32 " [%" PRId32 ", %" PRId32
				            "]: device %d, "
				            "reference %d",
				            bias[n], offsets[i / N], mult[n], shift[n], g.zo, g.lo,
				            g.hi, out[i], want[i]);
		}
	}
	return true;
}

/* ---------------------------------------------------- errors, recovery */

/* Little-endian 16-byte command from four words. */
static void put_cmd(uint8_t *p, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
	const uint32_t w[4] = {w0, w1, w2, w3};

	for (int i = 0; i < 16; i++)
		p[i] = (uint8_t)(w[i / 4] >> (8 * (i % 4)));
}

/*
 * Command lists the core must refuse, each after one legal LOAD_A so the
 * error index is checked too: an unknown opcode, a COMPUTE with k_len 0,
 * a LOAD_A from an unaligned address. After each: the status and index
 * reported, the core idle again, and a GEMM that still comes out right.
 */
static bool check_errors(struct st *s, char *msg)
{
	const uint32_t bus = s->info.bus_bytes;
	struct sampan_buffer *buf;
	uint8_t list[2 * CMD_BYTES];
	uint64_t base, data;
	uint32_t status, index, ctrl;
	bool ok = false;
	int err;
	const struct {
		const char *what;
		uint32_t w0;
		int addr_off; /* < 0: no address; else w1/w2 = data + addr_off */
		uint32_t want;
	} bad[] = {
	    {"unknown opcode 0x0f", 0x0F, -1, STATUS_OPCODE},
	    {"COMPUTE with k_len 0", OP_COMPUTE, -1, STATUS_RANGE},
	    {"LOAD_A from an unaligned address", OP_LOAD_A | 1u << 16, 1, STATUS_ALIGN},
	};

	if ((err = sampan_buffer_create(s->dev, 4 * bus, &buf)) < 0)
		return lib_fail(msg, "sampan_buffer_create", err);
	base = sampan_buffer_address(buf);
	data = base + 2 * bus; /* command list at base, data two beats on */
	if (base % bus) {
		fail(msg, "buffer at 0x%" PRIx64 " is not %" PRIu32 "-byte aligned", base, bus);
		goto out;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t addr = bad[i].addr_off < 0 ? 0 : data + (uint64_t)bad[i].addr_off;
		uint32_t w1 = (uint32_t)addr, w2 = (uint32_t)(addr >> 32);

		put_cmd(list, OP_LOAD_A | 1u << 16, (uint32_t)data, (uint32_t)(data >> 32), 0);
		put_cmd(list + CMD_BYTES, bad[i].w0, w1, w2, 0);
		if ((err = sampan_buffer_write(buf, 0, list, sizeof(list))) < 0 ||
		    (err = sampan_run_commands(s->dev, base, 2, 0, &status, &index)) < 0) {
			lib_fail(msg, bad[i].what, err);
			goto out;
		}
		if (status != bad[i].want || index != 1) {
			fail(msg,
			     "%s: STATUS %" PRIu32 " at command %" PRIu32 ", want %" PRIu32
			     " at command 1",
			     bad[i].what, status, index, bad[i].want);
			goto out;
		}
		if ((err = sampan_reg_read(s->dev, REG_CTRL, &ctrl)) < 0) {
			lib_fail(msg, "reading CTRL", err);
			goto out;
		}
		if (!(ctrl & CTRL_IDLE)) {
			fail(msg, "%s: core not idle afterwards (CTRL 0x%02" PRIx32 ")",
			     bad[i].what, ctrl);
			goto out;
		}
		if (!gemm_case(s, 5, 40, 7, (int)(i & 1), msg)) {
			char why[MSG_LEN];

			snprintf(why, sizeof(why), "%s", msg);
			fail(msg, "GEMM after %s: %s", bad[i].what, why);
			goto out;
		}
	}
	/* An empty list finishes at once and cleanly. */
	if ((err = sampan_run_commands(s->dev, base, 0, 0, &status, &index)) < 0) {
		lib_fail(msg, "an empty command list", err);
		goto out;
	}
	if (status != 0) {
		fail(msg, "an empty command list ends with STATUS %" PRIu32, status);
		goto out;
	}
	ok = true;
out:
	sampan_buffer_destroy(buf);
	return ok;
}

/*
 * A job waited for with a 1 ms limit: a device still running must say
 * SAMPAN_ERROR_TIMEOUT and then complete correctly on a second wait; a
 * device that is done within 1 ms (the functional model, a fast card)
 * must have the right result.
 */
static bool check_timeout(struct st *s, char *msg)
{
	int64_t m = 4 * s->info.rows, n = 4 * s->info.cols, k = s->info.k_depth;
	struct sampan_job *job = NULL;
	struct gemm_data d;
	bool ok = false;
	int err;

	if (!gemm_alloc(s, &d, m, k, n, 1)) {
		fail(msg, "out of host memory");
		goto out;
	}
	if ((err = sampan_gemm_submit(s->dev, &d.g, &job)) < 0) {
		lib_fail(msg, "sampan_gemm_submit", err);
		goto out;
	}
	err = sampan_job_wait(job, 1);
	snprintf(s->note, sizeof(s->note), "%" PRId64 "x%" PRId64 "x%" PRId64 " %s", m, k, n,
	         err == SAMPAN_ERROR_TIMEOUT ? "timed out after 1 ms, then completed"
	                                     : "completed within the 1 ms wait");
	if (err == SAMPAN_ERROR_TIMEOUT)
		err = sampan_job_wait(job, -1);
	if (err < 0) {
		lib_fail(msg, "sampan_job_wait", err);
		goto out;
	}
	ok = gemm_compare(s, &d, msg);
out:
	sampan_job_destroy(job);
	gemm_free(&d);
	return ok;
}

static const struct st_case cases[] = {
    {"info.identity", check_identity},          {"info.shape", check_shape},
    {"regs.readback", check_readback},          {"mem.window_edges", check_memory},
    {"gemm.random", check_gemm_random},         {"gemm.tile_edges", check_gemm_edges},
    {"requant.corners", check_requant_corners}, {"errors.recovery", check_errors},
    {"timeout.resume", check_timeout},
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* ---------------------------------------------------- reports */

/* Writes @text with XML's five special characters escaped. */
static void xml_text(FILE *f, const char *text)
{
	for (; *text; text++) {
		switch (*text) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			if ((unsigned char)*text >= 0x20 || *text == '\n' || *text == '\t')
				fputc(*text, f);
		}
	}
}

/* Writes @text as a YAML double-quoted scalar (TAP 13 diagnostics). */
static void yaml_text(FILE *f, const char *text)
{
	fputc('"', f);
	for (; *text; text++) {
		if (*text == '"' || *text == '\\')
			fprintf(f, "\\%c", *text);
		else if (*text == '\n')
			fputs("\\n", f);
		else if ((unsigned char)*text >= 0x20)
			fputc(*text, f);
	}
	fputc('"', f);
}

/* Opens a report file; false after reporting why. */
static bool report_open(const char *path, FILE **f)
{
	*f = fopen(path, "w");
	if (!*f)
		cli_error("selftest: cannot write %s: %m", path);
	return *f != NULL;
}

static bool report_close(const char *path, FILE *f)
{
	bool ok = !ferror(f);

	if (fclose(f) != 0 || !ok) {
		cli_error("selftest: error writing %s", path);
		return false;
	}
	return true;
}

/* JUnit XML: one suite named after the device; @skip_msg (not NULL) makes
 * it one skipped test. */
static bool write_junit(const char *path, const char *device, const struct st_result *res, size_t n,
                        const char *skip_msg)
{
	size_t failed = 0;
	double total = 0;
	FILE *f;

	if (!report_open(path, &f))
		return false;
	for (size_t i = 0; i < n; i++) {
		failed += !res[i].pass;
		total += res[i].seconds;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
	        "<testsuites name=\"sampan selftest\" tests=\"%zu\" failures=\"%zu\" "
	        "time=\"%.3f\">\n",
	        skip_msg ? 1 : n, failed, total);
	fprintf(f, "  <testsuite name=\"selftest.");
	xml_text(f, device);
	fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%d\" time=\"%.3f\">\n",
	        skip_msg ? 1 : n, failed, skip_msg ? 1 : 0, total);
	if (skip_msg) {
		fprintf(f, "    <testcase classname=\"selftest\" name=\"device\" time=\"0\">\n"
		           "      <skipped message=\"");
		xml_text(f, skip_msg);
		fprintf(f, "\"/>\n    </testcase>\n");
	}
	for (size_t i = 0; i < n; i++) {
		const char *dot = strchr(res[i].name, '.');

		fprintf(f, "    <testcase classname=\"selftest.%.*s\" name=\"%s\" time=\"%.3f\"",
		        (int)(dot - res[i].name), res[i].name, dot + 1, res[i].seconds);
		if (res[i].pass) {
			fprintf(f, "/>\n");
			continue;
		}
		fprintf(f, ">\n      <failure message=\"");
		xml_text(f, res[i].msg);
		fprintf(f, "\"/>\n    </testcase>\n");
	}
	fprintf(f, "  </testsuite>\n</testsuites>\n");
	return report_close(path, f);
}

/* TAP version 13, with a YAML block for each failure. */
static bool write_tap(const char *path, const struct st_result *res, size_t n, const char *skip_msg)
{
	FILE *f;

	if (!report_open(path, &f))
		return false;
	fprintf(f, "TAP version 13\n");
	if (skip_msg) {
		fprintf(f, "1..0 # SKIP ");
		for (const char *p = skip_msg; *p; p++)
			fputc(*p == '\n' ? ' ' : *p, f);
		fputc('\n', f);
		return report_close(path, f);
	}
	fprintf(f, "1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%sok %zu - %s\n", res[i].pass ? "" : "not ", i + 1, res[i].name);
		if (!res[i].pass) {
			fprintf(f, "  ---\n  message: ");
			yaml_text(f, res[i].msg);
			fprintf(f, "\n  duration_ms: %.1f\n  ...\n", res[i].seconds * 1e3);
		}
	}
	return report_close(path, f);
}

static void write_json(const char *device, uint64_t seed, const struct st_result *res, size_t n,
                       const char *skip_msg)
{
	size_t failed = 0;
	struct json j;

	for (size_t i = 0; i < n; i++)
		failed += !res[i].pass;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "device", device);
	json_uint(&j, "seed", seed);
	json_uint(&j, "passed", n - failed);
	json_uint(&j, "failed", failed);
	json_uint(&j, "skipped", skip_msg ? 1 : 0);
	if (skip_msg)
		json_string(&j, "skip_reason", skip_msg);
	json_array_begin(&j, "tests");
	for (size_t i = 0; i < n; i++) {
		json_object_begin(&j, NULL);
		json_string(&j, "name", res[i].name);
		json_string(&j, "result", res[i].pass ? "pass" : "fail");
		json_double(&j, "seconds", res[i].seconds);
		if (!res[i].pass)
			json_string(&j, "message", res[i].msg);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

/* Writes every report asked for; false if one could not be written. */
static bool write_reports(const char *junit, const char *tap, bool json, const char *device,
                          uint64_t seed, const struct st_result *res, size_t n, const char *skip)
{
	bool ok = true;

	if (junit)
		ok &= write_junit(junit, device, res, n, skip);
	if (tap)
		ok &= write_tap(tap, res, n, skip);
	if (json)
		write_json(device, seed, res, n, skip);
	return ok;
}

/* ---------------------------------------------------- command */

/* Errors of sampan_open() that mean "no such device here": skip. An XRT
 * card that is there but busy, or broken, is a failure instead. */
static bool device_absent(int err)
{
	return err == SAMPAN_ERROR_NO_DEVICE || err == SAMPAN_ERROR_LIBRARY;
}

int cmd_selftest(int argc, char **argv)
{
	const char *device = "sim", *junit = NULL, *tap = NULL, *value, *env;
	struct st_result res[N_CASES];
	struct cli_parser p;
	struct st s = {0};
	bool json = false;
	uint64_t seed;
	size_t failed = 0;
	int64_t v;
	int id, err;

	env = getenv("SAMPAN_SELFTEST_SEED");
	seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)(cli_now() * 1e6);
	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_option(&p, selftest_options, &value)) > 0) {
		switch (id) {
		case OPT_HELP:
			fputs(selftest_help, stdout);
			return CLI_EXIT_OK;
		case OPT_DEVICE:
			device = value;
			break;
		case OPT_JUNIT:
			junit = value;
			break;
		case OPT_TAP:
			tap = value;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_SEED:
			if (!cli_parse_int("selftest", "--seed", value, 0, INT64_MAX, &v))
				return CLI_EXIT_USAGE;
			seed = (uint64_t)v;
			break;
		}
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;

	s.device = device;
	err = sampan_open(&s.dev, device);
	if (err < 0) {
		const char *why =
		    sampan_last_error()[0] ? sampan_last_error() : sampan_strerror(err);
		char skip[600];

		/* A name no backend knows (SAMPAN_ERROR_INVALID) is a typo, not
		 * an absent board: it must not pass CI as a skip. */
		if (err == SAMPAN_ERROR_INVALID) {
			cli_error("selftest: %s", why);
			return CLI_EXIT_USAGE;
		}
		if (!device_absent(err)) {
			cli_error("selftest: cannot open device '%s': %s", device, why);
			return CLI_EXIT_FAIL;
		}
		snprintf(skip, sizeof(skip), "device '%s' absent: %s", device, why);
		fprintf(stderr, "[ SKIP ] %s\n", skip);
		return write_reports(junit, tap, json, device, seed, res, 0, skip)
		           ? SELFTEST_EXIT_SKIP
		           : CLI_EXIT_FAIL;
	}
	if ((err = sampan_get_info(s.dev, &s.info)) < 0) {
		sampan_close(s.dev);
		return cli_library_error("cannot read the device info", err);
	}
	cli_rng_seed(&s.rng, seed);
	fprintf(stderr, "selftest: device %s (%s backend, %ux%u array), seed %" PRIu64 "\n", device,
	        s.info.backend, s.info.rows, s.info.cols, seed);

	for (size_t i = 0; i < N_CASES; i++) {
		double t0 = cli_now();

		fprintf(stderr, "[ RUN  ] %s\n", cases[i].name);
		res[i].name = cases[i].name;
		res[i].msg[0] = '\0';
		s.note[0] = '\0';
		res[i].pass = cases[i].fn(&s, res[i].msg);
		res[i].seconds = cli_now() - t0;
		failed += !res[i].pass;
		if (res[i].pass && s.note[0])
			fprintf(stderr, "[ PASS ] %s (%.3f s): %s\n", cases[i].name, res[i].seconds,
			        s.note);
		else if (res[i].pass)
			fprintf(stderr, "[ PASS ] %s (%.3f s)\n", cases[i].name, res[i].seconds);
		else
			fprintf(stderr, "[ FAIL ] %s (%.3f s): %s\n", cases[i].name, res[i].seconds,
			        res[i].msg);
	}
	sampan_close(s.dev);
	fprintf(stderr, "selftest: %s: %zu passed, %zu failed (seed %" PRIu64 ")\n", device,
	        N_CASES - failed, failed, seed);
	if (!write_reports(junit, tap, json, device, seed, res, N_CASES, NULL))
		return CLI_EXIT_FAIL;
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
