/*
 * backend_xrt.c - the `xrt` device: a sampan kernel on a Xilinx Alveo card
 * (rtl/vitis/), driven through XRT's C API.
 *
 * Device name: xrt[:INDEX|BDF][,xclbin=PATH][,kernel=NAME][,mem=MiB]
 *   INDEX      XRT device index (default 0), or BDF, e.g. 0000:65:00.1
 *   xclbin     the xclbin to program (default $SAMPAN_XCLBIN; when neither
 *              is given, the xclbin already on the card is used, e.g. one
 *              programmed with `xbutil program`)
 *   kernel     kernel name in the xclbin (default "sampan"; the XRT syntax
 *              "sampan:{sampan_1}" picks one compute unit)
 *   mem        card memory for the driver, in MiB (default 256)
 *
 * XRT is not linked: libxrt_coreutil.so.2 is loaded with dlopen() when a
 * device is opened ($SAMPAN_XRT_LIB names another file, for the test
 * double tests/fake_xrt.c), so that libsampan builds and runs without it.
 *
 * Mapping onto the backend contract (backend.h), with the same register
 * and buffer semantics as the `sim` backend:
 *   - card memory: one buffer object (BO) of `mem` MiB in the memory bank
 *     of the kernel's gmem port; the window is [xrtBOAddress, +size).
 *     mem_write = xrtBOWrite + xrtBOSync(to device) of the range, mem_read
 *     = xrtBOSync(from device) + xrtBORead.
 *   - registers: the compute unit is opened exclusively, and every access
 *     is xrtKernelReadRegister / xrtKernelWriteRegister, except where XRT
 *     owns the ap_ctrl handshake (0x00-0x0C): writing ap_start starts an
 *     XRT run (its arguments cmd_addr and cmd_count taken from the values
 *     last written to CMD_ADDR_LO/HI and CMD_COUNT), wait_done waits for
 *     that run, and XRT's scheduler reads ap_done and acknowledges the
 *     interrupt itself; so CTRL reads are answered from the run's state
 *     (a driver read must never clear the ap_done XRT waits for) and
 *     writes to GIE, IER and ISR are left to XRT.
 *   - the card is locked per process (devlock.h) before it is touched.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devlock.h"
#include "internal.h"
#include "isa.h"

#define XRT_LIB "libxrt_coreutil.so.2"
#define XRT_OPTIONS "INDEX|BDF, xclbin=PATH, kernel=NAME, mem=MiB"
#define XRT_DEFAULT_KERNEL "sampan"
#define XRT_DEFAULT_MEM_MIB 256
#define XRT_MAX_PROBE 16 /* device indices enumerate() tries */

/* Libraries tried in order when $SAMPAN_XRT_LIB is unset: the loader's
 * path (setup.sh puts /opt/xilinx/xrt/lib on LD_LIBRARY_PATH), then the
 * default install location, then the unversioned development name. */
static const char *const xrt_lib_names[] = {
    XRT_LIB,
    "/opt/xilinx/xrt/lib/" XRT_LIB,
    "libxrt_coreutil.so",
};

/* ================================================================ XRT's C API */

/* Handles and constants of XRT's public headers (xrt/xrt_device.h,
 * xrt/xrt_kernel.h, xrt/xrt_bo.h, ert.h), declared here so that the build
 * needs no XRT. Every handle is an opaque pointer. */
typedef void *xrt_device_h;
typedef void *xrt_kernel_h;
typedef void *xrt_run_h;
typedef void *xrt_bo_h;
typedef unsigned char xrt_uuid[16];

enum {
	XRT_BO_SYNC_TO_DEVICE = 0,   /* XCL_BO_SYNC_BO_TO_DEVICE */
	XRT_BO_SYNC_FROM_DEVICE = 1, /* XCL_BO_SYNC_BO_FROM_DEVICE */
};

/* enum ert_cmd_state */
enum {
	XRT_STATE_NEW = 1,
	XRT_STATE_QUEUED = 2,
	XRT_STATE_RUNNING = 3,
	XRT_STATE_COMPLETED = 4,
	XRT_STATE_ERROR = 5,
	XRT_STATE_ABORT = 6,
	XRT_STATE_SUBMITTED = 7,
	XRT_STATE_TIMEOUT = 8,
	XRT_STATE_NORESPONSE = 9,
};

/* The entry points used, resolved by name. */
struct xrt_api {
	xrt_device_h (*device_open)(unsigned index);
	xrt_device_h (*device_open_bdf)(const char *bdf);
	int (*device_close)(xrt_device_h dev);
	int (*load_xclbin_file)(xrt_device_h dev, const char *path);
	int (*get_xclbin_uuid)(xrt_device_h dev, xrt_uuid out);
	xrt_kernel_h (*kernel_open_excl)(xrt_device_h dev, const xrt_uuid id, const char *name);
	int (*kernel_close)(xrt_kernel_h k);
	int (*kernel_arg_group)(xrt_kernel_h k, int argno);
	int (*kernel_read_reg)(xrt_kernel_h k, uint32_t off, uint32_t *val);
	int (*kernel_write_reg)(xrt_kernel_h k, uint32_t off, uint32_t val);
	xrt_bo_h (*bo_alloc)(xrt_device_h dev, size_t size, uint32_t flags, uint32_t group);
	xrt_bo_h (*bo_sub_alloc)(xrt_bo_h parent, size_t size, size_t offset);
	int (*bo_free)(xrt_bo_h bo);
	uint64_t (*bo_address)(xrt_bo_h bo);
	int (*bo_write)(xrt_bo_h bo, const void *src, size_t size, size_t seek);
	int (*bo_read)(xrt_bo_h bo, void *dst, size_t size, size_t skip);
	int (*bo_sync)(xrt_bo_h bo, int dir, size_t size, size_t offset);
	xrt_run_h (*run_open)(xrt_kernel_h k);
	int (*run_set_arg)(xrt_run_h run, int index, ...);
	int (*run_start)(xrt_run_h run);
	int (*run_wait_for)(xrt_run_h run, unsigned timeout_ms);
	int (*run_state)(xrt_run_h run);
	int (*run_close)(xrt_run_h run);
};

struct xrt_ctx {
	void *lib;
	struct xrt_api api;
	struct drv_devlock *lock;
	char name[SAMPAN_NAME_MAX]; /* "xrt:..." for messages */
	xrt_device_h dev;
	xrt_kernel_h kernel;
	xrt_bo_h bo;   /* the card-memory window */
	uint64_t base; /* its device address */
	uint64_t size;
	xrt_run_h run;                      /* reused for every start */
	xrt_bo_h cmd_bo;                    /* sub-buffer holding the running command list */
	int running;                        /* a run was started and not yet waited for */
	uint32_t cmd_lo, cmd_hi, cmd_count; /* argument registers as written */
};

/* Loads XRT and resolves the API. On failure sets the error that tells
 * the user what to install. */
static int load_xrt(struct xrt_ctx *c)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
	    {"xrtDeviceOpen", offsetof(struct xrt_api, device_open)},
	    {"xrtDeviceOpenByBDF", offsetof(struct xrt_api, device_open_bdf)},
	    {"xrtDeviceClose", offsetof(struct xrt_api, device_close)},
	    {"xrtDeviceLoadXclbinFile", offsetof(struct xrt_api, load_xclbin_file)},
	    {"xrtDeviceGetXclbinUUID", offsetof(struct xrt_api, get_xclbin_uuid)},
	    {"xrtPLKernelOpenExclusive", offsetof(struct xrt_api, kernel_open_excl)},
	    {"xrtKernelClose", offsetof(struct xrt_api, kernel_close)},
	    {"xrtKernelArgGroupId", offsetof(struct xrt_api, kernel_arg_group)},
	    {"xrtKernelReadRegister", offsetof(struct xrt_api, kernel_read_reg)},
	    {"xrtKernelWriteRegister", offsetof(struct xrt_api, kernel_write_reg)},
	    {"xrtBOAlloc", offsetof(struct xrt_api, bo_alloc)},
	    {"xrtBOSubAlloc", offsetof(struct xrt_api, bo_sub_alloc)},
	    {"xrtBOFree", offsetof(struct xrt_api, bo_free)},
	    {"xrtBOAddress", offsetof(struct xrt_api, bo_address)},
	    {"xrtBOWrite", offsetof(struct xrt_api, bo_write)},
	    {"xrtBORead", offsetof(struct xrt_api, bo_read)},
	    {"xrtBOSync", offsetof(struct xrt_api, bo_sync)},
	    {"xrtRunOpen", offsetof(struct xrt_api, run_open)},
	    {"xrtRunSetArg", offsetof(struct xrt_api, run_set_arg)},
	    {"xrtRunStart", offsetof(struct xrt_api, run_start)},
	    {"xrtRunWaitFor", offsetof(struct xrt_api, run_wait_for)},
	    {"xrtRunState", offsetof(struct xrt_api, run_state)},
	    {"xrtRunClose", offsetof(struct xrt_api, run_close)},
	};
	const char *env = getenv("SAMPAN_XRT_LIB");
	const char *used = env;

	if (env && *env) {
		c->lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
		if (!c->lib)
			return drv_error(SAMPAN_ERROR_LIBRARY,
			                 "device 'xrt': cannot load $SAMPAN_XRT_LIB (%s): %s", env,
			                 dlerror());
	} else {
		for (size_t i = 0; !c->lib && i < sizeof(xrt_lib_names) / sizeof(xrt_lib_names[0]);
		     i++) {
			used = xrt_lib_names[i];
			c->lib = dlopen(used, RTLD_NOW | RTLD_LOCAL);
		}
		if (!c->lib)
			return drv_error(SAMPAN_ERROR_LIBRARY,
			                 "XRT runtime not found (" XRT_LIB "): install Xilinx XRT "
			                 "(xrt package from Xilinx) and source "
			                 "/opt/xilinx/xrt/setup.sh");
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(c->lib, syms[i].name);

		if (!p)
			return drv_error(SAMPAN_ERROR_LIBRARY,
			                 "device 'xrt': %s lacks %s: XRT 2.12 or newer is needed",
			                 used, syms[i].name);
		/* POSIX: function pointers and void * share a representation. */
		memcpy((char *)&c->api + syms[i].off, &p, sizeof(p));
	}
	return SAMPAN_OK;
}

/* An XRT call that failed: its errno-style code (XRT returns -errno or
 * sets errno) in the message. */
static int xrt_fail(const struct xrt_ctx *c, int err, const char *what, int code)
{
	int e = code < 0 ? -code : code ? code : errno;

	return drv_error(err, "device '%s': %s failed: %s (%d)", c->name, what,
	                 e ? strerror(e) : "unknown error", e);
}

static const char *state_name(int state)
{
	switch (state) {
	case XRT_STATE_NEW:
		return "new";
	case XRT_STATE_QUEUED:
		return "queued";
	case XRT_STATE_RUNNING:
		return "running";
	case XRT_STATE_COMPLETED:
		return "completed";
	case XRT_STATE_ERROR:
		return "error";
	case XRT_STATE_ABORT:
		return "aborted";
	case XRT_STATE_SUBMITTED:
		return "submitted";
	case XRT_STATE_TIMEOUT:
		return "still running";
	case XRT_STATE_NORESPONSE:
		return "no response";
	default:
		return "unknown state";
	}
}

/* ================================================================ hooks */

/* Lists the cards XRT can open, as xrt:INDEX; nothing without XRT. */
static int xrt_enumerate(struct sampan_device_desc *out, size_t max, size_t *count)
{
	struct xrt_ctx c = {0};
	size_t n = 0;

	if (load_xrt(&c) < 0) {
		/* No XRT, no cards: not an error for a listing. */
		drv_error(SAMPAN_OK, "%s", "");
		*count = 0;
		return SAMPAN_OK;
	}
	for (unsigned i = 0; i < XRT_MAX_PROBE; i++) {
		xrt_device_h d = c.api.device_open(i);

		if (!d)
			break;
		c.api.device_close(d);
		if (n < max) {
			memset(&out[n], 0, sizeof(out[n]));
			snprintf(out[n].name, sizeof(out[n].name), "xrt:%u", i);
			snprintf(out[n].description, sizeof(out[n].description),
			         "Alveo card %u through XRT", i);
			out[n].available = 1;
		}
		n++;
	}
	/* XRT keeps state that does not survive unloading: the library stays. */
	*count = n;
	return SAMPAN_OK;
}

static void xrt_close(void *ctx)
{
	struct xrt_ctx *c = ctx;

	if (!c)
		return;
	if (c->run) {
		if (c->running)
			c->api.run_wait_for(c->run, 1000);
		c->api.run_close(c->run);
	}
	if (c->cmd_bo)
		c->api.bo_free(c->cmd_bo);
	if (c->bo)
		c->api.bo_free(c->bo);
	if (c->kernel)
		c->api.kernel_close(c->kernel);
	if (c->dev)
		c->api.device_close(c->dev);
	/* c->lib stays loaded: XRT's static state does not survive dlclose. */
	drv_devlock_release(c->lock);
	free(c);
}

/* Splits the options: an optional leading INDEX or BDF, then key=value
 * pairs. Writes the selector ("" if none) and the rest. */
static int split_selector(const char *options, char *sel, size_t sel_len, const char **rest)
{
	const char *end = strchr(options, ',');
	size_t len = end ? (size_t)(end - options) : strlen(options);

	sel[0] = '\0';
	*rest = options;
	if (len == 0 || memchr(options, '=', len))
		return SAMPAN_OK;
	if (len >= sel_len)
		return drv_error(SAMPAN_ERROR_INVALID, "device 'xrt': '%.*s' is too long", (int)len,
		                 options);
	memcpy(sel, options, len);
	sel[len] = '\0';
	*rest = options + len;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdefABCDEF:.", sel[i]))
			return drv_error(
			    SAMPAN_ERROR_INVALID,
			    "device 'xrt:%s': expected a device index (0, 1, ...) or a "
			    "PCIe BDF (0000:65:00.1); accepted: " XRT_OPTIONS,
			    sel);
	return SAMPAN_OK;
}

/* Opens the card @sel (index or BDF), programs @xclbin if given, opens
 * the kernel exclusively and allocates the card-memory window. */
static int open_card(struct xrt_ctx *c, const char *sel, const char *xclbin, const char *kernel,
                     uint64_t mem_bytes)
{
	xrt_uuid uuid;
	int rc, group;

	if (sel[0] && strpbrk(sel, ":.")) {
		c->dev = c->api.device_open_bdf(sel);
	} else {
		char *end;
		unsigned long index = sel[0] ? strtoul(sel, &end, 10) : 0;

		if (sel[0] && *end)
			return drv_error(SAMPAN_ERROR_INVALID,
			                 "device 'xrt:%s': not a decimal device index", sel);
		c->dev = c->api.device_open((unsigned)index);
	}
	if (!c->dev)
		return drv_error(SAMPAN_ERROR_NO_DEVICE,
		                 "device '%s': XRT cannot open the card (%s); `xbutil examine` "
		                 "lists the cards",
		                 c->name, errno ? strerror(errno) : "no such card");

	if (xclbin[0]) {
		if (access(xclbin, R_OK) != 0)
			return drv_error(SAMPAN_ERROR_INVALID, "device '%s': xclbin %s: %s",
			                 c->name, xclbin, strerror(errno));
		if ((rc = c->api.load_xclbin_file(c->dev, xclbin)) != 0)
			return xrt_fail(c, SAMPAN_ERROR_IO, "loading the xclbin", rc);
	}
	if ((rc = c->api.get_xclbin_uuid(c->dev, uuid)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "reading the xclbin UUID", rc);

	/* A card without the sampan kernel is there but unusable: an I/O
	 * error, so that hardware-in-the-loop CI fails instead of skipping. */
	errno = 0;
	c->kernel = c->api.kernel_open_excl(c->dev, uuid, kernel);
	if (!c->kernel)
		return drv_error(errno == EBUSY ? SAMPAN_ERROR_BUSY : SAMPAN_ERROR_IO,
		                 "device '%s': cannot open kernel '%s' exclusively (XRT: %s): %s",
		                 c->name, kernel, errno ? strerror(errno) : "not found",
		                 xclbin[0] ? "is it in the xclbin?"
		                           : "program the card with the sampan xclbin "
		                             "(xclbin=PATH or $SAMPAN_XCLBIN)");

	group = c->api.kernel_arg_group(c->kernel, 0);
	if (group < 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "looking up the memory bank of cmd_addr",
		                group);
	c->bo = c->api.bo_alloc(c->dev, mem_bytes, 0, (uint32_t)group);
	if (!c->bo)
		return drv_error(SAMPAN_ERROR_DEVICE_MEM,
		                 "device '%s': cannot allocate %" PRIu64
		                 " MiB of card memory in bank %d (%s); try mem=MiB",
		                 c->name, mem_bytes >> 20, group, strerror(errno));
	c->base = c->api.bo_address(c->bo);
	c->size = mem_bytes;
	c->run = c->api.run_open(c->kernel);
	if (!c->run)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtRunOpen", 0);
	return SAMPAN_OK;
}

static int xrt_open(const char *options, void **ctx, uint64_t *mem_base, uint64_t *mem_size)
{
	char sel[48], key[32], val[4096], xclbin[4096] = "", kernel[128] = XRT_DEFAULT_KERNEL;
	char lock_name[64];
	const char *cur, *env = getenv("SAMPAN_XCLBIN");
	uint64_t mem_mib = XRT_DEFAULT_MEM_MIB, v;
	struct xrt_ctx *c;
	int more, err;

	if ((err = split_selector(options, sel, sizeof(sel), &cur)) < 0)
		return err;
	if (env)
		snprintf(xclbin, sizeof(xclbin), "%s", env);
	while ((more = drv_opt_next("xrt", &cur, key, sizeof(key), val, sizeof(val))) > 0) {
		if (!strcmp(key, "xclbin")) {
			snprintf(xclbin, sizeof(xclbin), "%s", val);
		} else if (!strcmp(key, "kernel")) {
			if (strlen(val) >= sizeof(kernel))
				return drv_error(SAMPAN_ERROR_INVALID,
				                 "device 'xrt': kernel name too long");
			snprintf(kernel, sizeof(kernel), "%s", val);
		} else if (!strcmp(key, "mem")) {
			if ((err = drv_opt_uint("xrt", key, val, 1, 65536, &v)) < 0)
				return err;
			mem_mib = v;
		} else {
			return drv_opt_unknown("xrt", key, XRT_OPTIONS);
		}
	}
	if (more < 0)
		return more;

	c = calloc(1, sizeof(*c));
	if (!c)
		return drv_error(SAMPAN_ERROR_NO_MEM, "device 'xrt': out of memory");
	snprintf(c->name, sizeof(c->name), "xrt%s%s", sel[0] ? ":" : "", sel);
	if ((err = load_xrt(c)) < 0)
		goto err_close;
	/* One lock per card selector: xrt:0 and its BDF are told apart here,
	 * and XRT's exclusive kernel open catches that case. */
	snprintf(lock_name, sizeof(lock_name), "xrt-%s", sel[0] ? sel : "0");
	if ((err = drv_devlock_acquire(lock_name, &c->lock)) < 0)
		goto err_close;
	if ((err = open_card(c, sel, xclbin, kernel, mem_mib << 20)) < 0)
		goto err_close;
	*ctx = c;
	*mem_base = c->base;
	*mem_size = c->size;
	return SAMPAN_OK;

err_close:
	xrt_close(c);
	return err;
}

static int xrt_mem_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
	struct xrt_ctx *c = ctx;
	size_t off = (size_t)(addr - c->base);
	int rc;

	if ((rc = c->api.bo_write(c->bo, src, n, off)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtBOWrite", rc);
	if ((rc = c->api.bo_sync(c->bo, XRT_BO_SYNC_TO_DEVICE, n, off)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtBOSync to the card", rc);
	return SAMPAN_OK;
}

static int xrt_mem_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
	struct xrt_ctx *c = ctx;
	size_t off = (size_t)(addr - c->base);
	int rc;

	if ((rc = c->api.bo_sync(c->bo, XRT_BO_SYNC_FROM_DEVICE, n, off)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtBOSync from the card", rc);
	if ((rc = c->api.bo_read(c->bo, dst, n, off)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtBORead", rc);
	return SAMPAN_OK;
}

static int xrt_reg_read(void *ctx, uint32_t off, uint32_t *val)
{
	struct xrt_ctx *c = ctx;
	int rc;

	if (off == ISA_REG_CTRL) {
		/* XRT's scheduler owns the handshake (reading CTRL clears
		 * ap_done): CTRL is answered from the state of our run. */
		if (!c->running)
			*val = ISA_CTRL_IDLE;
		else if (c->api.run_state(c->run) == XRT_STATE_COMPLETED)
			*val = ISA_CTRL_DONE | ISA_CTRL_IDLE;
		else
			*val = 0;
		return SAMPAN_OK;
	}
	if ((rc = c->api.kernel_read_reg(c->kernel, off, val)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtKernelReadRegister", rc);
	return SAMPAN_OK;
}

/* Starts an XRT run on the command list the argument registers name. The
 * list must lie inside the window: it is passed as a sub-buffer of it. */
static int start_run(struct xrt_ctx *c)
{
	uint64_t addr = (uint64_t)c->cmd_hi << 32 | c->cmd_lo;
	uint64_t bytes = (uint64_t)c->cmd_count * ISA_CMD_BYTES;
	int rc;

	if (addr < c->base || addr - c->base > c->size || bytes > c->size - (addr - c->base))
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device '%s': command list at 0x%" PRIx64
		                 " lies outside the card-memory window",
		                 c->name, addr);
	if (c->cmd_bo)
		c->api.bo_free(c->cmd_bo);
	/* A zero-length sub-buffer is not allowed; 0 commands still need an
	 * argument. */
	c->cmd_bo = c->api.bo_sub_alloc(c->bo, bytes ? (size_t)bytes : ISA_CMD_BYTES,
	                                (size_t)(addr - c->base));
	if (!c->cmd_bo)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtBOSubAlloc of the command list", 0);
	if ((rc = c->api.run_set_arg(c->run, 0, c->cmd_bo)) != 0 ||
	    (rc = c->api.run_set_arg(c->run, 1, (unsigned)c->cmd_count)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtRunSetArg", rc);
	if ((rc = c->api.run_start(c->run)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtRunStart", rc);
	c->running = 1;
	return SAMPAN_OK;
}

static int xrt_reg_write(void *ctx, uint32_t off, uint32_t val)
{
	struct xrt_ctx *c = ctx;
	int rc;

	switch (off) {
	case ISA_REG_CTRL:
		return val & ISA_CTRL_START ? start_run(c) : SAMPAN_OK;
	case ISA_REG_GIE:
	case ISA_REG_IER:
	case ISA_REG_ISR:
		/* XRT's scheduler enables and acknowledges the interrupt. */
		return SAMPAN_OK;
	case ISA_REG_CMD_ADDR_LO:
		c->cmd_lo = val;
		break;
	case ISA_REG_CMD_ADDR_HI:
		c->cmd_hi = val;
		break;
	case ISA_REG_CMD_COUNT:
		c->cmd_count = val;
		break;
	default:
		break;
	}
	if ((rc = c->api.kernel_write_reg(c->kernel, off, val)) != 0)
		return xrt_fail(c, SAMPAN_ERROR_IO, "xrtKernelWriteRegister", rc);
	return SAMPAN_OK;
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) * 1e-6;
}

static int xrt_wait_done(void *ctx, uint64_t max_cycles, int timeout_ms)
{
	const unsigned slice_ms = 100; /* how often CYCLES is checked */
	struct xrt_ctx *c = ctx;
	struct timespec t0;
	int state;

	if (!c->running)
		return drv_error(SAMPAN_ERROR_INVALID, "device '%s': no run was started", c->name);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		double left = timeout_ms > 0 ? timeout_ms - elapsed_ms(&t0) : slice_ms;
		uint32_t lo, hi;

		state = c->api.run_wait_for(
		    c->run, left < slice_ms ? (left > 1 ? (unsigned)left : 1) : slice_ms);
		if (state == XRT_STATE_COMPLETED)
			break;
		/* xrtRunWaitFor says TIMEOUT when its own wait ran out: the run
		 * is still going. Anything else past RUNNING ended it. */
		if (state >= XRT_STATE_ERROR && state != XRT_STATE_SUBMITTED &&
		    state != XRT_STATE_TIMEOUT) {
			c->running = 0;
			return drv_error(SAMPAN_ERROR_IO,
			                 "device '%s': XRT run ended %s (state %d)", c->name,
			                 state_name(state), state);
		}
		/* The cycle counter runs until ap_done: bound the wait by it too. */
		if (c->api.kernel_read_reg(c->kernel, ISA_REG_CYCLES, &lo) == 0 &&
		    c->api.kernel_read_reg(c->kernel, ISA_REG_CYCLES + 4, &hi) == 0 &&
		    ((uint64_t)hi << 32 | lo) >= max_cycles)
			return drv_error(SAMPAN_ERROR_TIMEOUT,
			                 "no ap_done within %" PRIu64 " device cycles", max_cycles);
		if (timeout_ms > 0 && elapsed_ms(&t0) >= timeout_ms)
			return drv_error(SAMPAN_ERROR_TIMEOUT,
			                 "no ap_done within %d ms (XRT run %s)", timeout_ms,
			                 state_name(state));
	}
	/* XRT has read ap_done and acknowledged the interrupt. */
	c->running = 0;
	return SAMPAN_OK;
}

const struct backend_ops xrt_backend = {
    .name = "xrt",
    .description = "Alveo card through XRT",
    .options_help = XRT_OPTIONS,
    .enumerate = xrt_enumerate,
    .open = xrt_open,
    .close = xrt_close,
    .mem_write = xrt_mem_write,
    .mem_read = xrt_mem_read,
    .reg_read = xrt_reg_read,
    .reg_write = xrt_reg_write,
    .wait_done = xrt_wait_done,
};
