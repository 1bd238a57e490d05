/*
 * internal.h - what the files of libsampan share and users do not see:
 * the device object, error reporting, option parsing and the card-memory
 * allocator.
 */
#ifndef SAMPAN_INTERNAL_H
#define SAMPAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "sampan.h"

/* One allocated range of card memory. */
struct drv_block {
	uint64_t addr, size;
	struct drv_block *next;
};

struct sampan_device {
	const struct backend_ops *ops;
	void *ctx;                      /* backend context */
	struct sampan_info info;        /* read from the hardware at open */
	uint64_t mem_base, mem_size;    /* card-memory window */
	struct drv_block *used;         /* allocated ranges, sorted by address */
	struct sampan_buffer *buffers;  /* live buffers, detached at close */
	struct sampan_job *inflight;    /* started and not yet waited for */
	struct sampan_weights *weights; /* live resident weights, freed at close */
	struct sampan_stats last_stats;
	int have_stats;
};

/* ------------------------------------------------------------ errors */

/* Records a printf-style detail as the thread's last error; returns @err. */
int drv_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ options */

/*
 * Takes the next "key=value" pair off *@cursor (comma-separated). Returns 1
 * with @key and @val filled, 0 when none is left, or SAMPAN_ERROR_INVALID
 * (with a message naming @backend) when a pair is malformed or too long.
 */
int drv_opt_next(const char *backend, const char **cursor, char *key, size_t key_len, char *val,
                 size_t val_len);

/* Fails with SAMPAN_ERROR_INVALID: unknown option @key, accepted @help. */
int drv_opt_unknown(const char *backend, const char *key, const char *help);

/* Parses a decimal integer option in [@min, @max] into @out. */
int drv_opt_uint(const char *backend, const char *key, const char *val, uint64_t min, uint64_t max,
                 uint64_t *out);

/* ------------------------------------------------------------ card memory */

/* Allocates @size bytes of card memory aligned to the bus width; on
 * SAMPAN_ERROR_DEVICE_MEM the message says what was asked and what is free. */
int drv_mem_alloc(struct sampan_device *dev, uint64_t size, const char *what, uint64_t *addr);
void drv_mem_free(struct sampan_device *dev, uint64_t addr);

/* Bytes of card memory allocated now, and the largest free range. */
uint64_t drv_mem_used(const struct sampan_device *dev);
uint64_t drv_mem_largest_free(const struct sampan_device *dev);

/* Reads a 64-bit counter (low word at @off, high word at @off + 4). */
int drv_reg_read64(struct sampan_device *dev, uint32_t off, uint64_t *val);

/* ------------------------------------------------------------ jobs */

/* Called by sampan_close(): completes @job if it can and detaches it from
 * its device, which is going away; the job stays valid for its owner. */
void drv_job_detach(struct sampan_job *job);

/* Called by sampan_close(): frees every resident weights handle of @dev
 * (later sampan_weights_destroy() calls on them are no-ops). */
void drv_weights_release_all(struct sampan_device *dev);

#endif /* SAMPAN_INTERNAL_H */
