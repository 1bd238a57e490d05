/*
 * device.c - opening devices by name, what they report about themselves,
 * card-memory buffers, and error reporting.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "isa.h"

/* Every transport this build knows, in the order sampan_list_devices()
 * reports them. */
static const struct backend_ops *const backends[] = {
    &sim_backend, &simusb_backend, &cpu_backend, &xrt_backend, &usb_backend,
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* A region of card memory owned by the caller. */
struct sampan_buffer {
	struct sampan_device *dev; /* NULL once the device is closed */
	uint64_t addr, size;
	struct sampan_buffer *next;
};

/* ================================================================ errors */

static _Thread_local char last_error[512];

int drv_error(int err, const char *fmt, ...)
{
	char msg[sizeof(last_error)];
	va_list ap;

	/* Format aside first: an argument may be last_error itself. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(last_error, msg, sizeof(msg));
	return err;
}

const char *sampan_last_error(void)
{
	return last_error;
}

const char *sampan_strerror(int err)
{
	switch (err) {
	case SAMPAN_OK:
		return "success";
	case SAMPAN_ERROR_IO:
		return "input/output error";
	case SAMPAN_ERROR_INVALID:
		return "invalid argument";
	case SAMPAN_ERROR_NO_DEVICE:
		return "no such device";
	case SAMPAN_ERROR_NO_MEM:
		return "out of host memory";
	case SAMPAN_ERROR_DEVICE_MEM:
		return "out of device memory";
	case SAMPAN_ERROR_TIMEOUT:
		return "device timed out";
	case SAMPAN_ERROR_DEVICE:
		return "device reported an error";
	case SAMPAN_ERROR_NOT_SUPPORTED:
		return "operation not supported";
	case SAMPAN_ERROR_BUSY:
		return "device busy";
	case SAMPAN_ERROR_LIBRARY:
		return "runtime library could not be loaded";
	default:
		return "unknown error";
	}
}

/* ================================================================ options */

int drv_opt_next(const char *backend, const char **cursor, char *key, size_t key_len, char *val,
                 size_t val_len)
{
	const char *p = *cursor, *end, *eq;
	size_t klen, vlen;

	while (*p == ',')
		p++;
	if (*p == '\0')
		return 0;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	eq = memchr(p, '=', (size_t)(end - p));
	if (!eq || eq == p)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device '%s': option '%.*s' is not key=value", backend,
		                 (int)(end - p), p);
	klen = (size_t)(eq - p);
	vlen = (size_t)(end - eq - 1);
	if (klen >= key_len || vlen >= val_len)
		return drv_error(SAMPAN_ERROR_INVALID, "device '%s': option '%.*s' is too long",
		                 backend, (int)(end - p), p);
	memcpy(key, p, klen);
	key[klen] = '\0';
	memcpy(val, eq + 1, vlen);
	val[vlen] = '\0';
	*cursor = end;
	return 1;
}

int drv_opt_unknown(const char *backend, const char *key, const char *help)
{
	return drv_error(SAMPAN_ERROR_INVALID, "device '%s': unknown option '%s'; accepted: %s",
	                 backend, key, help);
}

int drv_opt_uint(const char *backend, const char *key, const char *val, uint64_t min, uint64_t max,
                 uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (val[0] < '0' || val[0] > '9' || *end != '\0' || errno || v < min || v > max)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device '%s': option %s=%s: expected an integer in [%" PRIu64
		                 ", %" PRIu64 "]",
		                 backend, key, val, min, max);
	*out = v;
	return SAMPAN_OK;
}

/* ================================================================ devices */

static const struct backend_ops *find_backend(const char *name, size_t len)
{
	for (size_t i = 0; i < N_BACKENDS; i++)
		if (strlen(backends[i]->name) == len && !memcmp(backends[i]->name, name, len))
			return backends[i];
	return NULL;
}

static int unknown_device(const char *name, size_t len)
{
	char names[2048] = "";
	size_t used = 0;

	for (size_t i = 0; i < N_BACKENDS && used < sizeof(names); i++)
		used +=
		    (size_t)snprintf(names + used, sizeof(names) - used, "%s%s[:%s]", i ? ", " : "",
		                     backends[i]->name, backends[i]->options_help);
	return drv_error(SAMPAN_ERROR_INVALID, "unknown device '%.*s'; accepted: %s", (int)len,
	                 name, names);
}

int sampan_list_devices(struct sampan_device_desc *out, size_t max, size_t *count)
{
	size_t total = 0;

	if (!count || (max && !out))
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_list_devices: NULL argument");
	for (size_t i = 0; i < N_BACKENDS; i++) {
		const struct backend_ops *ops = backends[i];
		size_t room = total < max ? max - total : 0;
		size_t n = 1;

		if (ops->enumerate) {
			int err = ops->enumerate(room ? out + total : NULL, room, &n);
			if (err < 0)
				return err;
		} else if (room) {
			struct sampan_device_desc *d = &out[total];
			memset(d, 0, sizeof(*d));
			snprintf(d->name, sizeof(d->name), "%s", ops->name);
			snprintf(d->description, sizeof(d->description), "%s", ops->description);
			d->available = 1;
		}
		total += n;
	}
	*count = total;
	return SAMPAN_OK;
}

/* Reads what the hardware reports and checks that the driver can drive it. */
static int read_info(struct sampan_device *dev, const char *name)
{
	struct sampan_info *info = &dev->info;
	uint32_t id, version, shape, k_depth, slots, bus, clock, features = 0;
	int err;

	if ((err = dev->ops->reg_read(dev->ctx, ISA_REG_ID, &id)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_VERSION, &version)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_SHAPE, &shape)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_K_DEPTH, &k_depth)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_SLOTS, &slots)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_BUS_BYTES, &bus)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_CLOCK_MHZ, &clock)) < 0)
		return err;
	if (id != ISA_ID)
		return drv_error(SAMPAN_ERROR_NO_DEVICE,
		                 "device '%s': ID register reads 0x%08" PRIx32
		                 ", not a sampan core (0x%08" PRIx32 ")",
		                 name, id, (uint32_t)ISA_ID);
	if (ISA_VERSION_MAJOR(version) != ISA_VERSION_MAJOR(ISA_VERSION))
		return drv_error(SAMPAN_ERROR_NOT_SUPPORTED,
		                 "device '%s': hardware version 0x%08" PRIx32
		                 " is not supported (driver speaks major version %u)",
		                 name, version, (unsigned)ISA_VERSION_MAJOR(ISA_VERSION));

	memset(info, 0, sizeof(*info));
	snprintf(info->backend, sizeof(info->backend), "%s", dev->ops->name);
	snprintf(info->name, sizeof(info->name), "%s", name);
	info->hw_version = version;
	info->rows = shape & 0xFFFFu;
	info->cols = shape >> 16;
	info->k_depth = k_depth;
	info->acc_slots = slots & 0xFFFFu;
	info->param_entries = slots >> 16;
	info->bus_bytes = bus;
	info->clock_mhz = clock;
	info->mem_bytes = dev->mem_size;
	/* ISA 1.1 added the FEATURES register; 1.0 cores have none of them. */
	if (version >= ISA_VERSION_1_1 &&
	    (err = dev->ops->reg_read(dev->ctx, ISA_REG_FEATURES, &features)) < 0)
		return err;
	info->features = features & (ISA_FEATURE_BLOCK | ISA_FEATURE_WIDE);
	info->mv_rows = info->features & ISA_FEATURE_WIDE ? ISA_FEATURE_MV_ROWS(features) : 0;
	if (!info->mv_rows)
		info->features &= ~ISA_FEATURE_WIDE;

	/* The command fields bound what the encoder can address. */
	if (info->rows < 1 || info->rows > 64 || info->cols < 1 || info->cols > 64 ||
	    info->k_depth < 1 || info->k_depth > 0xFFFF || info->acc_slots < 1 ||
	    info->acc_slots > 16 || info->param_entries < 1 || info->param_entries > 256 ||
	    info->bus_bytes < ISA_CMD_BYTES || info->bus_bytes % ISA_CMD_BYTES)
		return drv_error(SAMPAN_ERROR_NOT_SUPPORTED,
		                 "device '%s': unsupported configuration: %ux%u array, K_DEPTH %u, "
		                 "%u slots, %u parameter entries, %u-byte bus",
		                 name, info->rows, info->cols, info->k_depth, info->acc_slots,
		                 info->param_entries, info->bus_bytes);
	return SAMPAN_OK;
}

int sampan_open(struct sampan_device **devp, const char *name)
{
	const struct backend_ops *ops;
	struct sampan_device *dev;
	const char *colon;
	size_t len;
	int err;

	if (!devp)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_open: NULL device pointer");
	if (!name || !*name)
		name = "sim";
	if (strlen(name) >= SAMPAN_NAME_MAX)
		return drv_error(SAMPAN_ERROR_INVALID, "device name '%.40s...' is longer than %d",
		                 name, SAMPAN_NAME_MAX - 1);
	colon = strchr(name, ':');
	len = colon ? (size_t)(colon - name) : strlen(name);
	ops = find_backend(name, len);
	if (!ops)
		return unknown_device(name, len);

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return drv_error(SAMPAN_ERROR_NO_MEM, "sampan_open: out of memory");
	dev->ops = ops;
	err = ops->open(colon ? colon + 1 : "", &dev->ctx, &dev->mem_base, &dev->mem_size);
	if (err < 0)
		goto err_free_device;
	err = read_info(dev, name);
	if (err < 0)
		goto err_close_backend;
	*devp = dev;
	return SAMPAN_OK;

err_close_backend:
	ops->close(dev->ctx);
err_free_device:
	free(dev);
	return err;
}

void sampan_close(struct sampan_device *dev)
{
	if (!dev)
		return;
	if (dev->inflight)
		drv_job_detach(dev->inflight);
	drv_weights_release_all(dev);
	for (struct sampan_buffer *b = dev->buffers; b; b = b->next)
		b->dev = NULL;
	while (dev->used) {
		struct drv_block *b = dev->used;
		dev->used = b->next;
		free(b);
	}
	dev->ops->close(dev->ctx);
	free(dev);
}

int sampan_get_info(struct sampan_device *dev, struct sampan_info *info)
{
	if (!dev || !info)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_get_info: NULL argument");
	*info = dev->info;
	info->mem_used = drv_mem_used(dev);
	return SAMPAN_OK;
}

int sampan_get_stats(struct sampan_device *dev, struct sampan_stats *stats)
{
	if (!dev || !stats)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_get_stats: NULL argument");
	if (!dev->have_stats)
		return drv_error(SAMPAN_ERROR_INVALID, "device '%s': no job has completed yet",
		                 dev->info.name);
	*stats = dev->last_stats;
	return SAMPAN_OK;
}

int drv_reg_read64(struct sampan_device *dev, uint32_t off, uint64_t *val)
{
	uint32_t lo, hi;
	int err;

	if ((err = dev->ops->reg_read(dev->ctx, off, &lo)) < 0 ||
	    (err = dev->ops->reg_read(dev->ctx, off + 4, &hi)) < 0)
		return err;
	*val = (uint64_t)hi << 32 | lo;
	return SAMPAN_OK;
}

/* ================================================================ card memory */

int drv_mem_alloc(struct sampan_device *dev, uint64_t size, const char *what, uint64_t *addr)
{
	uint64_t align = dev->info.bus_bytes, end = dev->mem_base + dev->mem_size;
	uint64_t prev_end = dev->mem_base, free_bytes = dev->mem_size;
	struct drv_block **link = &dev->used, *b;

	for (b = dev->used; b; b = b->next)
		free_bytes -= b->size;
	if (size == 0 || size > dev->mem_size)
		goto err_no_room;
	for (;; link = &(*link)->next) {
		uint64_t start = (prev_end + align - 1) / align * align;
		uint64_t limit = *link ? (*link)->addr : end;

		if (start <= limit && limit - start >= size) {
			b = malloc(sizeof(*b));
			if (!b)
				return drv_error(SAMPAN_ERROR_NO_MEM, "out of host memory");
			b->addr = start;
			b->size = size;
			b->next = *link;
			*link = b;
			*addr = start;
			return SAMPAN_OK;
		}
		if (!*link)
			break;
		prev_end = (*link)->addr + (*link)->size;
	}
err_no_room:
	return drv_error(SAMPAN_ERROR_DEVICE_MEM,
	                 "device '%s': %s needs %" PRIu64
	                 " bytes of card memory; the card has %" PRIu64 " (%" PRIu64 " free)",
	                 dev->info.name, what, size, dev->mem_size, free_bytes);
}

uint64_t drv_mem_used(const struct sampan_device *dev)
{
	uint64_t used = 0;

	for (const struct drv_block *b = dev->used; b; b = b->next)
		used += b->size;
	return used;
}

uint64_t drv_mem_largest_free(const struct sampan_device *dev)
{
	uint64_t align = dev->info.bus_bytes, prev_end = dev->mem_base, best = 0;
	const struct drv_block *b = dev->used;

	for (;;) {
		uint64_t start = (prev_end + align - 1) / align * align;
		uint64_t limit = b ? b->addr : dev->mem_base + dev->mem_size;

		if (limit > start && limit - start > best)
			best = limit - start;
		if (!b)
			return best;
		prev_end = b->addr + b->size;
		b = b->next;
	}
}

void drv_mem_free(struct sampan_device *dev, uint64_t addr)
{
	for (struct drv_block **link = &dev->used; *link; link = &(*link)->next) {
		if ((*link)->addr == addr) {
			struct drv_block *b = *link;
			*link = b->next;
			free(b);
			return;
		}
	}
}

/* ================================================================ buffers */

int sampan_buffer_create(struct sampan_device *dev, size_t bytes, struct sampan_buffer **bufp)
{
	struct sampan_buffer *buf;
	int err;

	if (!dev || !bufp)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_buffer_create: NULL argument");
	if (bytes == 0)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_buffer_create: size 0");
	buf = malloc(sizeof(*buf));
	if (!buf)
		return drv_error(SAMPAN_ERROR_NO_MEM, "sampan_buffer_create: out of memory");
	err = drv_mem_alloc(dev, bytes, "a buffer", &buf->addr);
	if (err < 0)
		goto err_free_buffer;
	buf->dev = dev;
	buf->size = bytes;
	buf->next = dev->buffers;
	dev->buffers = buf;
	*bufp = buf;
	return SAMPAN_OK;

err_free_buffer:
	free(buf);
	return err;
}

void sampan_buffer_destroy(struct sampan_buffer *buf)
{
	if (!buf)
		return;
	if (buf->dev) {
		struct sampan_buffer **link = &buf->dev->buffers;
		while (*link != buf)
			link = &(*link)->next;
		*link = buf->next;
		drv_mem_free(buf->dev, buf->addr);
	}
	free(buf);
}

/* Checks a buffer access of @n bytes at @offset. */
static int check_access(const struct sampan_buffer *buf, size_t offset, const void *p, size_t n,
                        const char *fn)
{
	if (!buf || (n && !p))
		return drv_error(SAMPAN_ERROR_INVALID, "%s: NULL argument", fn);
	if (!buf->dev)
		return drv_error(SAMPAN_ERROR_NO_DEVICE, "%s: the buffer's device is closed", fn);
	if (offset > buf->size || n > buf->size - offset)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "%s: %zu bytes at offset %zu exceed the %" PRIu64 "-byte buffer",
		                 fn, n, offset, buf->size);
	return SAMPAN_OK;
}

int sampan_buffer_write(struct sampan_buffer *buf, size_t offset, const void *src, size_t n)
{
	int err = check_access(buf, offset, src, n, "sampan_buffer_write");

	if (err < 0 || n == 0)
		return err;
	return buf->dev->ops->mem_write(buf->dev->ctx, buf->addr + offset, src, n);
}

int sampan_buffer_read(struct sampan_buffer *buf, size_t offset, void *dst, size_t n)
{
	int err = check_access(buf, offset, dst, n, "sampan_buffer_read");

	if (err < 0 || n == 0)
		return err;
	return buf->dev->ops->mem_read(buf->dev->ctx, buf->addr + offset, dst, n);
}

uint64_t sampan_buffer_address(const struct sampan_buffer *buf)
{
	return buf ? buf->addr : 0;
}
