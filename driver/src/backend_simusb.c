/*
 * backend_simusb.c - the `sim-usb` device: the stream-shell RTL simulated by
 * Verilator (libsampan_simusb.so, C ABI sim/usb/sampan_simusb.h) behind a
 * simulated USB link, driven by the same framing code as the `usb` backend
 * (usb_proto.c).
 *
 * The simulated link can inject faults, for the tests: dropped, duplicated
 * and corrupted bytes and stalls in either direction, and a device reset in
 * the middle of a transfer, each at random with a seed (options below).
 *
 * The library is $SAMPAN_SIMUSB_LIB when set; otherwise libsampan_simusb.so
 * in the directory of $SAMPAN_SIM_LIB (when set), then the search of
 * simlib.h shared with the `sim` device (next to libsampan, then
 * SAMPAN_SIM_LIBDIR).
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "simlib.h"
#include "usb/sampan_simusb.h"
#include "usb_proto.h"
#include "usb_sim.h"

#define SIMUSB_LIB "libsampan_simusb.so"
#define SIMUSB_OPTIONS                                                                             \
	"link=MB_PER_S (1..100, default 40), faults=drop+dup+corrupt+stall+reset, "                \
	"every=BYTES (mean bytes between faults), seed=N"
#define SIMUSB_CLOCK_MHZ 100 /* the simulated core clock */
#define SIMUSB_QUIET_US 300  /* > the RTL's FRAME_TIMEOUT (200 us) */
#define SIMUSB_BASE_TIMEOUT_US 100

/* The entry points of the library, resolved by name. */
struct simusb_api {
	int (*abi_version)(void);
	struct ssimusb *(*create)(const struct ssimusb_config *cfg);
	void (*destroy)(struct ssimusb *sim);
	const char *(*error)(const struct ssimusb *sim);
	int (*push)(struct ssimusb *sim, const void *src, size_t n);
	size_t (*pull)(struct ssimusb *sim, void *dst, size_t max);
	size_t (*pending)(const struct ssimusb *sim);
	int64_t (*step)(struct ssimusb *sim, uint64_t max_cycles, size_t want_out);
	int (*reset)(struct ssimusb *sim);
	uint64_t (*cycles)(const struct ssimusb *sim);
};

enum { F_DROP = 1, F_DUP = 2, F_CORRUPT = 4, F_STALL = 8, F_RESET = 16 };

struct simusb_ctx {
	void *lib;
	struct simusb_api api;
	struct ssimusb *sim;
	unsigned rate;       /* link bytes per 1000 cycles */
	unsigned faults;     /* F_* enabled */
	uint64_t fault_rate; /* mean bytes between faults */
	uint64_t rng;        /* xorshift64 state */
	struct usb_sim_link injected;
	struct usb_proto proto;
};

/* ================================================================ library */

/* libsampan_simusb.so along the shared search of simlib.h, after the
 * directory of $SAMPAN_SIM_LIB. */
static int find_library(char *path, size_t path_len, char *tried, size_t tried_len)
{
	return drv_simlib_find(SIMUSB_LIB, "SAMPAN_SIMUSB_LIB", "SAMPAN_SIM_LIB", path, path_len,
	                       tried, tried_len);
}

static int load_library(struct simusb_ctx *c)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
	    {"ssimusb_abi_version", offsetof(struct simusb_api, abi_version)},
	    {"ssimusb_create", offsetof(struct simusb_api, create)},
	    {"ssimusb_destroy", offsetof(struct simusb_api, destroy)},
	    {"ssimusb_error", offsetof(struct simusb_api, error)},
	    {"ssimusb_push", offsetof(struct simusb_api, push)},
	    {"ssimusb_pull", offsetof(struct simusb_api, pull)},
	    {"ssimusb_pending", offsetof(struct simusb_api, pending)},
	    {"ssimusb_step", offsetof(struct simusb_api, step)},
	    {"ssimusb_reset", offsetof(struct simusb_api, reset)},
	    {"ssimusb_cycles", offsetof(struct simusb_api, cycles)},
	};
	char path[PATH_MAX], tried[4096];

	if (find_library(path, sizeof(path), tried, sizeof(tried)) < 0)
		return drv_error(SAMPAN_ERROR_LIBRARY,
		                 "device 'sim-usb': " SIMUSB_LIB " not found (tried %s); "
		                 "`make sim` builds it",
		                 tried);
	c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!c->lib)
		return drv_error(SAMPAN_ERROR_LIBRARY, "device 'sim-usb': cannot load %s: %s", path,
		                 dlerror());
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(c->lib, syms[i].name);

		if (!p)
			return drv_error(SAMPAN_ERROR_LIBRARY,
			                 "device 'sim-usb': %s lacks symbol %s", path,
			                 syms[i].name);
		/* POSIX: function pointers and void * share a representation. */
		memcpy((char *)&c->api + syms[i].off, &p, sizeof(p));
	}
	if (c->api.abi_version() != SSIMUSB_ABI_VERSION)
		return drv_error(SAMPAN_ERROR_LIBRARY,
		                 "device 'sim-usb': %s has ABI version %d, the driver needs %d; "
		                 "rebuild with `make sim`",
		                 path, c->api.abi_version(), SSIMUSB_ABI_VERSION);
	return SAMPAN_OK;
}

/* ================================================================ the link */

static uint64_t rng_next(struct simusb_ctx *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* The fault to apply to the next byte (0: none), among those enabled and
 * meaningful in this direction. */
static unsigned draw_fault(struct simusb_ctx *c, unsigned allowed)
{
	unsigned kinds[5], n = 0, f = c->faults & allowed;

	if (!f || rng_next(c) % c->fault_rate)
		return 0;
	for (unsigned k = F_DROP; k <= F_RESET; k <<= 1)
		if (f & k)
			kinds[n++] = k;
	return kinds[rng_next(c) % n];
}

static int sim_fail(struct simusb_ctx *c, const char *what)
{
	return drv_error(SAMPAN_ERROR_IO, "device 'sim-usb': %s failed: %s", what,
	                 c->api.error(c->sim));
}

/* Runs the link until the bytes queued toward the device have gone in. */
static int drain_to_device(struct simusb_ctx *c)
{
	/* The device always takes bytes eventually (its frame timeout ends any
	 * frame), so a few rounds of the expected time are enough. */
	for (int round = 0; round < 4 && c->api.pending(c->sim); round++) {
		uint64_t need = (uint64_t)c->api.pending(c->sim) * 1000 / c->rate + 64;

		if (c->api.step(c->sim, need, 0) < 0)
			return sim_fail(c, "step");
	}
	return SAMPAN_OK;
}

/* A stall of 10 to 1000 us of link time. */
static int stall(struct simusb_ctx *c)
{
	uint64_t cycles = (10 + rng_next(c) % 991) * SIMUSB_CLOCK_MHZ;

	c->injected.stalls++;
	return c->api.step(c->sim, cycles, 0) < 0 ? sim_fail(c, "step") : SAMPAN_OK;
}

static int link_send(void *ctx, const uint8_t *src, size_t n)
{
	struct simusb_ctx *c = ctx;
	uint8_t buf[256];
	size_t len = 0;
	int err;

	for (size_t i = 0; i < n; i++) {
		unsigned f = draw_fault(c, F_DROP | F_DUP | F_CORRUPT | F_STALL | F_RESET);
		uint8_t b = src[i];

		if (f == F_STALL || f == F_RESET || len + 2 > sizeof(buf)) {
			if (c->api.push(c->sim, buf, len) < 0)
				return sim_fail(c, "push");
			len = 0;
		}
		switch (f) {
		case F_DROP:
			c->injected.dropped++;
			continue;
		case F_DUP:
			c->injected.duplicated++;
			buf[len++] = b;
			break;
		case F_CORRUPT:
			c->injected.corrupted++;
			b ^= (uint8_t)(1 + rng_next(c) % 255);
			break;
		case F_STALL:
			if ((err = drain_to_device(c)) < 0 || (err = stall(c)) < 0)
				return err;
			break;
		case F_RESET:
			if ((err = drain_to_device(c)) < 0)
				return err;
			c->injected.resets++;
			if (c->api.reset(c->sim) < 0)
				return sim_fail(c, "reset");
			break;
		default:
			break;
		}
		buf[len++] = b;
	}
	if (c->api.push(c->sim, buf, len) < 0)
		return sim_fail(c, "push");
	return SAMPAN_OK;
}

static int link_recv(void *ctx, uint8_t *dst, size_t max, size_t *got, uint64_t timeout_us)
{
	struct simusb_ctx *c = ctx;
	uint8_t buf[256];
	size_t n, out = 0, lim = max / 2 < sizeof(buf) ? max / 2 : sizeof(buf);
	int64_t r;
	int err;

	if (lim == 0)
		lim = 1;
	n = c->api.pull(c->sim, buf, lim);
	if (n == 0) {
		r = c->api.step(c->sim, timeout_us * SIMUSB_CLOCK_MHZ, 1);
		if (r < 0)
			return sim_fail(c, "step");
		n = c->api.pull(c->sim, buf, lim);
	}
	/* Faults on the way back (@lim leaves room to duplicate bytes). */
	for (size_t i = 0; i < n; i++) {
		switch (draw_fault(c, F_DROP | F_DUP | F_CORRUPT | F_STALL)) {
		case F_DROP:
			c->injected.dropped++;
			break;
		case F_DUP:
			c->injected.duplicated++;
			dst[out++] = buf[i];
			if (out < max)
				dst[out++] = buf[i];
			break;
		case F_CORRUPT:
			c->injected.corrupted++;
			dst[out++] = buf[i] ^ (uint8_t)(1 + rng_next(c) % 255);
			break;
		case F_STALL: /* the bytes after this one arrive late */
			if ((err = stall(c)) < 0)
				return err;
			dst[out++] = buf[i];
			break;
		default:
			dst[out++] = buf[i];
		}
	}
	*got = out;
	return SAMPAN_OK;
}

static int link_purge(void *ctx)
{
	struct simusb_ctx *c = ctx;
	uint8_t junk[256];

	while (c->api.pull(c->sim, junk, sizeof(junk)))
		;
	return SAMPAN_OK;
}

static uint64_t link_now_us(void *ctx)
{
	struct simusb_ctx *c = ctx;

	return c->api.cycles(c->sim) / SIMUSB_CLOCK_MHZ;
}

static const struct usb_link_ops simusb_link = {
    .send = link_send,
    .recv = link_recv,
    .purge = link_purge,
    .now_us = link_now_us,
};

/* ================================================================ hooks */

static int simusb_enumerate(struct sampan_device_desc *out, size_t max, size_t *count)
{
	char path[PATH_MAX], tried[4096];

	*count = 1;
	if (max < 1)
		return SAMPAN_OK;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "sim-usb");
	out->available = find_library(path, sizeof(path), tried, sizeof(tried)) == 0;
	snprintf(out->description, sizeof(out->description), "%s",
	         out->available
	             ? "the stream-shell RTL behind a simulated USB link"
	             : "the stream-shell RTL behind a simulated USB link (not built: make sim)");
	return SAMPAN_OK;
}

static void simusb_close(void *ctx)
{
	struct simusb_ctx *c = ctx;

	if (!c)
		return;
	if (c->sim)
		c->api.destroy(c->sim);
	if (c->lib)
		dlclose(c->lib);
	free(c);
}

/* Parses "drop+dup+..." into F_* bits. */
static int parse_faults(const char *val, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"drop", F_DROP},
	             {"dup", F_DUP},
	             {"corrupt", F_CORRUPT},
	             {"stall", F_STALL},
	             {"reset", F_RESET},
	             {"none", 0},
	             {"all", F_DROP | F_DUP | F_CORRUPT | F_STALL | F_RESET}};
	unsigned f = 0;

	for (const char *p = val; *p;) {
		size_t len = strcspn(p, "+");
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && !strncmp(p, names[i].name, len))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return drv_error(
			    SAMPAN_ERROR_INVALID,
			    "device 'sim-usb': unknown fault '%.*s' in faults=%s; accepted: "
			    "drop, dup, corrupt, stall, reset, all, none (joined with +)",
			    (int)len, p, val);
		f |= names[i].bit;
		p += len + (p[len] == '+');
	}
	*out = f;
	return SAMPAN_OK;
}

static int simusb_open(const char *options, void **ctx, uint64_t *mem_base, uint64_t *mem_size)
{
	char key[32], val[128];
	const char *cur = options;
	struct ssimusb_config cfg = {0};
	struct simusb_ctx *c;
	uint64_t link = 40, rate = 5000, seed = 1;
	unsigned faults = 0;
	int more, err = SAMPAN_OK;

	while ((more = drv_opt_next("sim-usb", &cur, key, sizeof(key), val, sizeof(val))) > 0) {
		if (!strcmp(key, "link"))
			err = drv_opt_uint("sim-usb", key, val, 1, 100, &link);
		else if (!strcmp(key, "faults"))
			err = parse_faults(val, &faults);
		else if (!strcmp(key, "every"))
			err = drv_opt_uint("sim-usb", key, val, 1, UINT32_MAX, &rate);
		else if (!strcmp(key, "seed"))
			err = drv_opt_uint("sim-usb", key, val, 0, UINT64_MAX, &seed);
		else
			err = drv_opt_unknown("sim-usb", key, SIMUSB_OPTIONS);
		if (err < 0)
			return err;
	}
	if (more < 0)
		return more;

	c = calloc(1, sizeof(*c));
	if (!c)
		return drv_error(SAMPAN_ERROR_NO_MEM, "device 'sim-usb': out of memory");
	/* MB/s at 100 MHz: bytes per 1000 cycles = 10 * MB/s. */
	c->rate = (unsigned)(link * 1000 / SIMUSB_CLOCK_MHZ);
	c->faults = faults;
	c->fault_rate = rate;
	c->rng = seed * 0x9E3779B97F4A7C15ull + 1;
	cfg.link_bytes_per_kcycle = c->rate;
	if ((err = load_library(c)) < 0)
		goto err_close;
	c->sim = c->api.create(&cfg);
	if (!c->sim) {
		err =
		    drv_error(SAMPAN_ERROR_IO, "device 'sim-usb': cannot create the simulation: %s",
		              c->api.error(NULL));
		goto err_close;
	}
	usb_proto_init(&c->proto, &simusb_link, c, "sim-usb", link * 1000000,
	               SIMUSB_BASE_TIMEOUT_US, SIMUSB_QUIET_US);
	if ((err = usb_proto_hello(&c->proto)) < 0)
		goto err_close;
	*ctx = c;
	*mem_base = 0;
	*mem_size = c->proto.mem_bytes;
	return SAMPAN_OK;

err_close:
	simusb_close(c);
	return err;
}

static int simusb_mem_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
	struct simusb_ctx *c = ctx;

	return usb_proto_mem_write(&c->proto, addr, src, n);
}

static int simusb_mem_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
	struct simusb_ctx *c = ctx;

	return usb_proto_mem_read(&c->proto, addr, dst, n);
}

static int simusb_reg_read(void *ctx, uint32_t off, uint32_t *val)
{
	struct simusb_ctx *c = ctx;

	return usb_proto_reg_read(&c->proto, off, val);
}

static int simusb_reg_write(void *ctx, uint32_t off, uint32_t val)
{
	struct simusb_ctx *c = ctx;

	return usb_proto_reg_write(&c->proto, off, val);
}

static int simusb_wait_done(void *ctx, uint64_t max_cycles, int timeout_ms)
{
	struct simusb_ctx *c = ctx;

	return usb_proto_wait_done(&c->proto, max_cycles / SIMUSB_CLOCK_MHZ + 1, timeout_ms);
}

int usb_sim_counters(struct sampan_device *dev, struct usb_proto_stats *proto,
                     struct usb_sim_link *link)
{
	struct simusb_ctx *c;

	if (!dev || dev->ops != &simusb_backend)
		return drv_error(SAMPAN_ERROR_INVALID, "usb_sim_counters: not a sim-usb device");
	c = dev->ctx;
	if (proto)
		*proto = c->proto.stats;
	if (link) {
		*link = c->injected;
		link->cycles = c->api.cycles(c->sim);
		link->clock_mhz = SIMUSB_CLOCK_MHZ;
		link->link_bytes_per_s = (uint64_t)c->rate * SIMUSB_CLOCK_MHZ * 1000;
	}
	return SAMPAN_OK;
}

const struct backend_ops simusb_backend = {
    .name = "sim-usb",
    .description = "the stream-shell RTL behind a simulated USB link",
    .options_help = SIMUSB_OPTIONS,
    .enumerate = simusb_enumerate,
    .open = simusb_open,
    .close = simusb_close,
    .mem_write = simusb_mem_write,
    .mem_read = simusb_mem_read,
    .reg_read = simusb_reg_read,
    .reg_write = simusb_reg_write,
    .wait_done = simusb_wait_done,
};
