/*
 * fake_xrt.c - a TEST DOUBLE of the part of XRT's C API (libxrt_coreutil)
 * that the driver's xrt backend uses, built as build/tests/libfake_xrt.so
 * and loaded through $SAMPAN_XRT_LIB. Never shipped or installed.
 *
 * Behind it is a simulated card: the RTL in Verilator (libsampan_sim.so,
 * sim/sampan_sim.h), so that the xrt backend runs real GEMMs end to end in
 * CI. It keeps the contracts of XRT that the backend depends on, and
 * fails where XRT would:
 *   - one card, index 0 or BDF 0000:65:00.1; others fail with ENODEV;
 *   - an xclbin must be loaded (a file starting with the "xclbin2" magic),
 *     or be on the card already ($FAKE_XRT_PRELOADED=1), before a kernel
 *     opens; the UUID passed must be the loaded one;
 *   - kernel "sampan" (or "sampan:{sampan_1}") opens exclusively once;
 *   - buffer objects live in bank 0 at card addresses from 4 GiB up (so
 *     that CMD_ADDR_HI is exercised); writes and reads touch host backing
 *     storage only, xrtBOSync moves the bytes to or from the card;
 *   - a run takes argument 0 as a buffer handle (the pointer argument
 *     cmd_addr) and argument 1 as an unsigned (cmd_count); starting it
 *     writes the argument registers and ap_start, as XRT's scheduler does,
 *     and waiting acknowledges ap_done and the interrupt; a wait that runs
 *     out returns ERT_CMD_STATE_TIMEOUT while the run goes on, as XRT's does.
 * Errors return -errno or NULL with errno set, as XRT's C API does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampan_sim.h"

#define FX_BDF "0000:65:00.1"
#define FX_BO_BASE (4ull << 30)   /* first BO address */
#define FX_MEM_BYTES (8ull << 30) /* simulated card memory (lazily allocated) */
#define FX_REG_RANGE 0x1000       /* s_axi_control range (kernel.xml) */

enum { ST_NEW = 1, ST_RUNNING = 3, ST_COMPLETED = 4, ST_ERROR = 5, ST_TIMEOUT = 8 };

struct fx_device {
	struct ssim *sim;
	int loaded;         /* an xclbin with kernel sampan is on the card */
	int kernel_open;    /* the one compute unit is opened */
	uint64_t next_addr; /* bump allocator for BOs */
};

struct fx_kernel {
	struct fx_device *dev;
};

struct fx_bo {
	struct fx_device *dev;
	uint64_t addr, size;
	uint8_t *host; /* backing storage */
	int sub;       /* a sub-buffer: host points into its parent's */
};

struct fx_run {
	struct fx_kernel *k;
	uint64_t cmd_addr;
	uint32_t cmd_count;
	int have_addr, state;
};

/* The uuid of "the" sampan xclbin. */
static const unsigned char fx_uuid[16] = "sampan-fake-xrt";

/* ---------------------------------------------------------------- device */

static struct fx_device *fx_open(void)
{
	struct ssim_config cfg = {.mem_bytes = FX_MEM_BYTES};
	struct fx_device *d = calloc(1, sizeof(*d));
	const char *pre = getenv("FAKE_XRT_PRELOADED");

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->sim = ssim_create(&cfg);
	if (!d->sim) {
		fprintf(stderr, "fake_xrt: %s\n", ssim_error(NULL));
		free(d);
		errno = EIO;
		return NULL;
	}
	d->loaded = pre && !strcmp(pre, "1");
	d->next_addr = FX_BO_BASE;
	return d;
}

void *xrtDeviceOpen(unsigned int index)
{
	if (index != 0) {
		errno = ENODEV;
		return NULL;
	}
	return fx_open();
}

void *xrtDeviceOpenByBDF(const char *bdf)
{
	if (!bdf || strcmp(bdf, FX_BDF)) {
		errno = ENODEV;
		return NULL;
	}
	return fx_open();
}

int xrtDeviceClose(void *dhdl)
{
	struct fx_device *d = dhdl;

	if (!d)
		return -EINVAL;
	ssim_destroy(d->sim);
	free(d);
	return 0;
}

int xrtDeviceLoadXclbinFile(void *dhdl, const char *path)
{
	struct fx_device *d = dhdl;
	char magic[8] = {0};
	FILE *f;

	if (!d || !path)
		return -EINVAL;
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) || memcmp(magic, "xclbin2", 8)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	if (d->kernel_open)
		return -EBUSY; /* XRT refuses to reprogram a card in use */
	d->loaded = 1;
	return 0;
}

int xrtDeviceGetXclbinUUID(void *dhdl, unsigned char out[16])
{
	struct fx_device *d = dhdl;

	if (!d)
		return -EINVAL;
	if (d->loaded)
		memcpy(out, fx_uuid, 16);
	else
		memset(out, 0, 16); /* no xclbin: the null UUID */
	return 0;
}

/* ---------------------------------------------------------------- kernel */

void *xrtPLKernelOpenExclusive(void *dhdl, const unsigned char uuid[16], const char *name)
{
	struct fx_device *d = dhdl;
	struct fx_kernel *k;

	if (!d || !name || !d->loaded || memcmp(uuid, fx_uuid, 16) ||
	    (strcmp(name, "sampan") && strcmp(name, "sampan:{sampan_1}"))) {
		errno = ENOENT;
		return NULL;
	}
	if (d->kernel_open) {
		errno = EBUSY;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		errno = ENOMEM;
		return NULL;
	}
	k->dev = d;
	d->kernel_open = 1;
	return k;
}

int xrtKernelClose(void *khdl)
{
	struct fx_kernel *k = khdl;

	if (!k)
		return -EINVAL;
	k->dev->kernel_open = 0;
	free(k);
	return 0;
}

int xrtKernelArgGroupId(void *khdl, int argno)
{
	/* Only the pointer argument has a memory bank. */
	return khdl && argno == 0 ? 0 : -EINVAL;
}

int xrtKernelReadRegister(void *khdl, uint32_t offset, uint32_t *datap)
{
	struct fx_kernel *k = khdl;

	if (!k || !datap || offset % 4 || offset >= FX_REG_RANGE)
		return -EINVAL;
	return ssim_reg_read(k->dev->sim, offset, datap) < 0 ? -EIO : 0;
}

int xrtKernelWriteRegister(void *khdl, uint32_t offset, uint32_t data)
{
	struct fx_kernel *k = khdl;

	if (!k || offset % 4 || offset >= FX_REG_RANGE)
		return -EINVAL;
	return ssim_reg_write(k->dev->sim, offset, data) < 0 ? -EIO : 0;
}

/* ---------------------------------------------------------------- buffers */

void *xrtBOAlloc(void *dhdl, size_t size, uint32_t flags, uint32_t grp)
{
	struct fx_device *d = dhdl;
	struct fx_bo *b;

	if (!d || size == 0 || flags != 0 || grp != 0 || d->next_addr > FX_MEM_BYTES ||
	    size > FX_MEM_BYTES - d->next_addr) {
		errno = d && size ? ENOMEM : EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b || !(b->host = calloc(1, size))) {
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	b->dev = d;
	b->addr = d->next_addr;
	b->size = size;
	d->next_addr += (size + 4095) & ~(uint64_t)4095;
	return b;
}

void *xrtBOSubAlloc(void *parent, size_t size, size_t offset)
{
	struct fx_bo *p = parent, *b;

	if (!p || size == 0 || offset > p->size || size > p->size - offset) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->dev = p->dev;
	b->addr = p->addr + offset;
	b->size = size;
	b->host = p->host + offset;
	b->sub = 1;
	return b;
}

int xrtBOFree(void *bhdl)
{
	struct fx_bo *b = bhdl;

	if (!b)
		return -EINVAL;
	if (!b->sub)
		free(b->host);
	free(b);
	return 0;
}

uint64_t xrtBOAddress(void *bhdl)
{
	struct fx_bo *b = bhdl;

	return b ? b->addr : UINT64_MAX;
}

int xrtBOWrite(void *bhdl, const void *src, size_t size, size_t seek)
{
	struct fx_bo *b = bhdl;

	if (!b || seek > b->size || size > b->size - seek)
		return -EINVAL;
	memcpy(b->host + seek, src, size);
	return 0;
}

int xrtBORead(void *bhdl, void *dst, size_t size, size_t skip)
{
	struct fx_bo *b = bhdl;

	if (!b || skip > b->size || size > b->size - skip)
		return -EINVAL;
	memcpy(dst, b->host + skip, size);
	return 0;
}

/* dir: 0 to the device, 1 from it (xclBOSyncDirection). */
int xrtBOSync(void *bhdl, int dir, size_t size, size_t offset)
{
	struct fx_bo *b = bhdl;
	int rc;

	if (!b || offset > b->size || size > b->size - offset || (dir != 0 && dir != 1))
		return -EINVAL;
	if (dir == 0)
		rc = ssim_mem_write(b->dev->sim, b->addr + offset, b->host + offset, size);
	else
		rc = ssim_mem_read(b->dev->sim, b->addr + offset, b->host + offset, size);
	return rc < 0 ? -EIO : 0;
}

/* ---------------------------------------------------------------- runs */

void *xrtRunOpen(void *khdl)
{
	struct fx_run *r;

	if (!khdl) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->k = khdl;
	r->state = ST_NEW;
	return r;
}

int xrtRunSetArg(void *rhdl, int index, ...)
{
	struct fx_run *r = rhdl;
	va_list ap;
	int rc = 0;

	if (!r)
		return -EINVAL;
	va_start(ap, index);
	if (index == 0) {
		struct fx_bo *b = va_arg(ap, struct fx_bo *);

		if (b && b->dev == r->k->dev) {
			r->cmd_addr = b->addr;
			r->have_addr = 1;
		} else {
			rc = -EINVAL;
		}
	} else if (index == 1) {
		r->cmd_count = va_arg(ap, unsigned);
	} else {
		rc = -EINVAL;
	}
	va_end(ap);
	return rc;
}

int xrtRunStart(void *rhdl)
{
	struct fx_run *r = rhdl;
	struct ssim *sim;

	if (!r || !r->have_addr || r->state == ST_RUNNING)
		return -EINVAL;
	sim = r->k->dev->sim;
	if (ssim_reg_write(sim, 0x10, (uint32_t)r->cmd_addr) < 0 ||
	    ssim_reg_write(sim, 0x14, (uint32_t)(r->cmd_addr >> 32)) < 0 ||
	    ssim_reg_write(sim, 0x18, r->cmd_count) < 0 || ssim_reg_write(sim, 0x04, 1) < 0 ||
	    ssim_reg_write(sim, 0x08, 1) < 0 || ssim_reg_write(sim, 0x00, 1) < 0)
		return -EIO;
	r->state = ST_RUNNING;
	return 0;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

int xrtRunWaitFor(void *rhdl, unsigned int timeout_ms)
{
	struct fx_run *r = rhdl;
	double end = now_ms() + timeout_ms;
	struct ssim *sim;
	uint32_t ctrl, isr;

	if (!r)
		return ST_ERROR;
	if (r->state != ST_RUNNING)
		return r->state;
	sim = r->k->dev->sim;
	for (;;) {
		int irq = ssim_wait_irq(sim, 8192);

		if (irq < 0)
			return r->state = ST_ERROR;
		if (irq)
			break;
		/* As XRT's xrtRunWaitFor: TIMEOUT when the wait runs out while
		 * the run goes on (xrtRunState still says RUNNING). */
		if (now_ms() >= end)
			return ST_TIMEOUT;
	}
	/* The scheduler's acknowledgement: ap_done cleared on read, ISR
	 * toggled back. */
	if (ssim_reg_read(sim, 0x00, &ctrl) < 0 || ssim_reg_read(sim, 0x0C, &isr) < 0 ||
	    ((isr & 1) && ssim_reg_write(sim, 0x0C, 1) < 0))
		return r->state = ST_ERROR;
	return r->state = ST_COMPLETED;
}

int xrtRunState(void *rhdl)
{
	struct fx_run *r = rhdl;

	return r ? r->state : ST_ERROR;
}

int xrtRunClose(void *rhdl)
{
	free(rhdl);
	return 0;
}
