/*
 * sampan_simusb.h - C ABI of the Verilator simulation of the sampan stream
 * shell (rtl/stream/sampan_stream_top.v): the `sim-usb` device.
 *
 * The shared library build/libsampan_simusb.so wraps the Verilated stream
 * top (frame engine, core, on-chip card memory) behind a byte-stream link
 * with a rate model: bytes queued with ssimusb_push() enter the RTL at the
 * link rate as the clock advances, and bytes the RTL sends are delivered to
 * ssimusb_pull() at the same rate. The frames on the link are those of
 * rtl/stream/README.md; the driver's `sim-usb` backend speaks them with the
 * same code as its `usb` backend. Functions returning int return 0 on
 * success and a negative value with a message in ssimusb_error() on failure.
 */
#ifndef SAMPAN_SIMUSB_H
#define SAMPAN_SIMUSB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; the driver checks it after dlopen. */
#define SSIMUSB_ABI_VERSION 1

int ssimusb_abi_version(void);

/* Settings of the simulated board. Zero fields take the defaults. */
struct ssimusb_config {
	/* Link rate in bytes per 1000 core cycles, each direction (default
	 * 400: an FT232H sync FIFO at ~40 MB/s against a 100 MHz core). At
	 * most 1000 (the byte stream carries one byte per cycle). */
	unsigned link_bytes_per_kcycle;
};

struct ssimusb;

/* Creates a board, holds it in reset for a few cycles and releases it.
 * Returns NULL on failure (message in ssimusb_error(NULL)). */
struct ssimusb *ssimusb_create(const struct ssimusb_config *cfg);
void ssimusb_destroy(struct ssimusb *sim);

/* Message of the last failure on @sim (or of ssimusb_create with NULL). */
const char *ssimusb_error(const struct ssimusb *sim);

/* Queues @n bytes toward the device (host to device side of the link). */
int ssimusb_push(struct ssimusb *sim, const void *src, size_t n);

/* Moves up to @max bytes that the device has sent into @dst; returns how
 * many (0 when none has arrived). */
size_t ssimusb_pull(struct ssimusb *sim, void *dst, size_t max);

/* Bytes queued toward the device that it has not taken yet. */
size_t ssimusb_pending(const struct ssimusb *sim);

/* Advances the clock by up to @max_cycles, stopping early once at least
 * @want_out bytes wait to be pulled (0: never early). Returns the number of
 * cycles simulated, or a negative value on failure. */
int64_t ssimusb_step(struct ssimusb *sim, uint64_t max_cycles, size_t want_out);

/* Resets the RTL (rst high for a few cycles), as a board reset would:
 * memory contents survive, registers and the frame engine do not. Bytes in
 * flight on the link are kept. */
int ssimusb_reset(struct ssimusb *sim);

/* Cycles simulated since creation. */
uint64_t ssimusb_cycles(const struct ssimusb *sim);

/* On-chip card memory size in bytes (MEM_BYTES of the build). */
uint64_t ssimusb_mem_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* SAMPAN_SIMUSB_H */
