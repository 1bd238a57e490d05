/*
 * backend_sim.c - the `sim` device: the RTL simulated by Verilator, loaded at
 * run time from libsampan_sim.so (C ABI: sim/sampan_sim.h).
 *
 * The library is $SAMPAN_SIM_LIB when that is set (and nothing else);
 * otherwise it is looked up as simlib.h describes (next to libsampan, then
 * the installed SAMPAN_SIM_LIBDIR). With trace=FILE the trace build
 * libsampan_sim_trace.so is loaded from the directory of that library.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "isa.h"
#include "sampan_sim.h"
#include "simlib.h"

#define SIM_LIB "libsampan_sim.so"
#define SIM_TRACE_LIB "libsampan_sim_trace.so"
#define SIM_OPTIONS                                                                                \
	"trace=FILE.fst, latency=CYCLES, bw=BYTES_PER_CYCLE, mem=MiB, rderr=N (the Nth read "      \
	"beat answers an error), wrerr=N (the Nth write response), resp=slverr|decerr, "           \
	"awwait=0|1 (AWREADY only after WVALID)"
#define SIM_DEFAULT_MEM_MIB 256

/* The entry points of the library, resolved by name. */
struct sim_api {
	int (*abi_version)(void);
	struct ssim *(*create)(const struct ssim_config *cfg);
	void (*destroy)(struct ssim *sim);
	const char *(*error)(const struct ssim *sim);
	int (*reg_write)(struct ssim *sim, uint32_t offset, uint32_t value);
	int (*reg_read)(struct ssim *sim, uint32_t offset, uint32_t *value);
	int (*mem_write)(struct ssim *sim, uint64_t addr, const void *src, size_t n);
	int (*mem_read)(struct ssim *sim, uint64_t addr, void *dst, size_t n);
	int (*wait_irq)(struct ssim *sim, uint64_t max_cycles);
	uint64_t (*cycles)(const struct ssim *sim);
	int (*trace_open)(struct ssim *sim, const char *path);
	void (*trace_close)(struct ssim *sim);
};

struct sim_ctx {
	void *lib; /* dlopen handle */
	struct sim_api api;
	struct ssim *sim;
	int tracing;
};

/* ================================================================ library lookup */

/* libsampan_sim.so along the shared search of simlib.h. */
static int find_library(char *path, size_t path_len, char *tried, size_t tried_len)
{
	return drv_simlib_find(SIM_LIB, "SAMPAN_SIM_LIB", NULL, path, path_len, tried, tried_len);
}

/* Resolves every entry point of the ABI from the open library @path. */
static int resolve(struct sim_ctx *c, const char *path)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
	    {"ssim_abi_version", offsetof(struct sim_api, abi_version)},
	    {"ssim_create", offsetof(struct sim_api, create)},
	    {"ssim_destroy", offsetof(struct sim_api, destroy)},
	    {"ssim_error", offsetof(struct sim_api, error)},
	    {"ssim_reg_write", offsetof(struct sim_api, reg_write)},
	    {"ssim_reg_read", offsetof(struct sim_api, reg_read)},
	    {"ssim_mem_write", offsetof(struct sim_api, mem_write)},
	    {"ssim_mem_read", offsetof(struct sim_api, mem_read)},
	    {"ssim_wait_irq", offsetof(struct sim_api, wait_irq)},
	    {"ssim_cycles", offsetof(struct sim_api, cycles)},
	    {"ssim_trace_open", offsetof(struct sim_api, trace_open)},
	    {"ssim_trace_close", offsetof(struct sim_api, trace_close)},
	};
	int abi;

	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(c->lib, syms[i].name);

		if (!p)
			return drv_error(SAMPAN_ERROR_LIBRARY, "device 'sim': %s lacks symbol %s",
			                 path, syms[i].name);
		/* POSIX: function pointers and void * share a representation. */
		memcpy((char *)&c->api + syms[i].off, &p, sizeof(p));
	}
	abi = c->api.abi_version();
	if (abi != SSIM_ABI_VERSION)
		return drv_error(SAMPAN_ERROR_LIBRARY,
		                 "device 'sim': %s has ABI version %d, the driver needs %d; "
		                 "rebuild with `make sim`",
		                 path, abi, SSIM_ABI_VERSION);
	return SAMPAN_OK;
}

/* Opens and resolves the simulation library, or with @trace the trace
 * build libsampan_sim_trace.so from the same directory. */
static int load_library(struct sim_ctx *c, int trace)
{
	char path[PATH_MAX], tried[2048];

	if (find_library(path, sizeof(path), tried, sizeof(tried)) < 0)
		return drv_error(
		    SAMPAN_ERROR_LIBRARY,
		    "device 'sim': " SIM_LIB " not found (tried %s); `make sim` builds it", tried);
	if (trace) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", path);
		if ((size_t)snprintf(path, sizeof(path), "%s/" SIM_TRACE_LIB, dirname(dir)) >=
		        sizeof(path) ||
		    access(path, R_OK) != 0)
			return drv_error(SAMPAN_ERROR_LIBRARY,
			                 "device 'sim': tracing needs %s, which is missing; "
			                 "`make sim` builds it",
			                 path);
	}
	c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!c->lib)
		return drv_error(SAMPAN_ERROR_LIBRARY, "device 'sim': cannot load %s: %s", path,
		                 dlerror());
	return resolve(c, path);
}

/* ================================================================ hooks */

static int sim_enumerate(struct sampan_device_desc *out, size_t max, size_t *count)
{
	char path[PATH_MAX], tried[2048];

	*count = 1;
	if (max < 1)
		return SAMPAN_OK;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "sim");
	if (find_library(path, sizeof(path), tried, sizeof(tried)) == 0) {
		snprintf(out->description, sizeof(out->description),
		         "the RTL simulated by Verilator (%.80s)", path);
		out->available = 1;
	} else {
		snprintf(out->description, sizeof(out->description),
		         "the RTL simulated by Verilator (not built: make sim)");
	}
	return SAMPAN_OK;
}

/* A failure of the library, with its message. */
static int sim_fail(struct sim_ctx *c, const char *what)
{
	return drv_error(SAMPAN_ERROR_IO, "device 'sim': %s failed: %s", what,
	                 c->api.error(c->sim));
}

static void sim_close(void *ctx)
{
	struct sim_ctx *c = ctx;

	if (!c)
		return;
	if (c->sim) {
		if (c->tracing)
			c->api.trace_close(c->sim);
		c->api.destroy(c->sim);
	}
	if (c->lib)
		dlclose(c->lib);
	free(c);
}

static int sim_open(const char *options, void **ctx, uint64_t *mem_base, uint64_t *mem_size)
{
	struct ssim_config cfg = {.mem_bytes = (uint64_t)SIM_DEFAULT_MEM_MIB << 20};
	char key[32], val[PATH_MAX], trace[PATH_MAX] = "";
	const char *cur = options;
	struct sim_ctx *c;
	uint64_t v = 0;
	int more, err = SAMPAN_OK;

	while ((more = drv_opt_next("sim", &cur, key, sizeof(key), val, sizeof(val))) > 0) {
		if (!strcmp(key, "trace")) {
			snprintf(trace, sizeof(trace), "%s", val);
		} else if (!strcmp(key, "latency")) {
			err = drv_opt_uint("sim", key, val, 1, 1000000, &v);
			cfg.mem_latency = (unsigned)v;
		} else if (!strcmp(key, "bw")) {
			err = drv_opt_uint("sim", key, val, 1, 4096, &v);
			cfg.mem_bytes_per_cycle = (unsigned)v;
		} else if (!strcmp(key, "mem")) {
			err = drv_opt_uint("sim", key, val, 1, 65536, &v);
			cfg.mem_bytes = v << 20;
		} else if (!strcmp(key, "rderr")) {
			err = drv_opt_uint("sim", key, val, 1, UINT64_MAX >> 1, &v);
			cfg.fault_read_beat = v;
		} else if (!strcmp(key, "wrerr")) {
			err = drv_opt_uint("sim", key, val, 1, UINT64_MAX >> 1, &v);
			cfg.fault_write_resp = v;
		} else if (!strcmp(key, "resp")) {
			if (!strcmp(val, "slverr"))
				cfg.fault_resp = 2;
			else if (!strcmp(val, "decerr"))
				cfg.fault_resp = 3;
			else
				err = drv_error(
				    SAMPAN_ERROR_INVALID,
				    "device 'sim': resp=%s: accepted are slverr, decerr", val);
		} else if (!strcmp(key, "awwait")) {
			err = drv_opt_uint("sim", key, val, 0, 1, &v);
			cfg.aw_wait_w = (unsigned)v;
		} else {
			err = drv_opt_unknown("sim", key, SIM_OPTIONS);
		}
		if (err < 0)
			return err;
	}
	if (more < 0)
		return more;

	c = calloc(1, sizeof(*c));
	if (!c)
		return drv_error(SAMPAN_ERROR_NO_MEM, "device 'sim': out of memory");
	err = load_library(c, trace[0] != '\0');
	if (err < 0)
		goto err_close;
	c->sim = c->api.create(&cfg);
	if (!c->sim) {
		err = drv_error(SAMPAN_ERROR_IO, "device 'sim': cannot create the simulation: %s",
		                c->api.error(NULL));
		goto err_close;
	}
	if (trace[0]) {
		if (c->api.trace_open(c->sim, trace) < 0) {
			err = drv_error(SAMPAN_ERROR_IO, "device 'sim': cannot trace to %s: %s",
			                trace, c->api.error(c->sim));
			goto err_close;
		}
		c->tracing = 1;
	}
	*ctx = c;
	*mem_base = 0;
	*mem_size = cfg.mem_bytes;
	return SAMPAN_OK;

err_close:
	sim_close(c);
	return err;
}

static int sim_mem_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
	struct sim_ctx *c = ctx;

	return c->api.mem_write(c->sim, addr, src, n) < 0 ? sim_fail(c, "memory write") : SAMPAN_OK;
}

static int sim_mem_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
	struct sim_ctx *c = ctx;

	return c->api.mem_read(c->sim, addr, dst, n) < 0 ? sim_fail(c, "memory read") : SAMPAN_OK;
}

static int sim_reg_read(void *ctx, uint32_t off, uint32_t *val)
{
	struct sim_ctx *c = ctx;

	return c->api.reg_read(c->sim, off, val) < 0 ? sim_fail(c, "register read") : SAMPAN_OK;
}

static int sim_reg_write(void *ctx, uint32_t off, uint32_t val)
{
	struct sim_ctx *c = ctx;

	return c->api.reg_write(c->sim, off, val) < 0 ? sim_fail(c, "register write") : SAMPAN_OK;
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) * 1e-6;
}

static int sim_wait_done(void *ctx, uint64_t max_cycles, int timeout_ms)
{
	/* Simulate in slices, to check the wall clock between them. */
	const uint64_t slice = 8192; /* about 0.1 s of simulation */
	struct sim_ctx *c = ctx;
	uint64_t start = c->api.cycles(c->sim), used;
	uint32_t ctrl, isr;
	struct timespec t0;
	int irq, err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		used = c->api.cycles(c->sim) - start;
		if (used >= max_cycles)
			return drv_error(SAMPAN_ERROR_TIMEOUT,
			                 "no ap_done within %" PRIu64 " simulated cycles", used);
		irq =
		    c->api.wait_irq(c->sim, max_cycles - used < slice ? max_cycles - used : slice);
		if (irq < 0)
			return sim_fail(c, "wait for interrupt");
		if (irq)
			break;
		if (timeout_ms > 0 && elapsed_ms(&t0) >= timeout_ms)
			return drv_error(SAMPAN_ERROR_TIMEOUT,
			                 "no ap_done within %d ms (%" PRIu64 " cycles simulated)",
			                 timeout_ms, c->api.cycles(c->sim) - start);
	}
	/* Acknowledge: reading CTRL clears ap_done, writing 1 toggles ISR.done. */
	if ((err = sim_reg_read(c, ISA_REG_CTRL, &ctrl)) < 0 ||
	    (err = sim_reg_read(c, ISA_REG_ISR, &isr)) < 0)
		return err;
	if (isr & ISA_IRQ_DONE)
		return sim_reg_write(c, ISA_REG_ISR, ISA_IRQ_DONE);
	return SAMPAN_OK;
}

const struct backend_ops sim_backend = {
    .name = "sim",
    .description = "the RTL simulated by Verilator",
    .options_help = SIM_OPTIONS,
    .enumerate = sim_enumerate,
    .open = sim_open,
    .close = sim_close,
    .mem_write = sim_mem_write,
    .mem_read = sim_mem_read,
    .reg_read = sim_reg_read,
    .reg_write = sim_reg_write,
    .wait_done = sim_wait_done,
};
