/*
 * backend.h - the table of operations that every transport (sim, cpu, and
 * later xrt, usb, sim-usb) implements.
 *
 * A sampan card is memory-mapped: a 32-bit register file (rtl/ARCHITECTURE.md)
 * and a window of card memory [mem_base, mem_base + mem_size) that the core
 * reads and writes through its bus master. The driver owns the allocation of
 * that window, writes operands and the command list into it, programs the
 * registers, waits, and reads results back. A backend only moves bytes and
 * register values; it knows nothing about GEMMs.
 *
 * Hook contracts. Every hook that returns int returns SAMPAN_OK or a negative
 * enum sampan_error; on failure it has set the thread's last error (through
 * drv_error()) with a message naming the backend and what it saw (errno,
 * library message, ...).
 *
 * enumerate(out, max, count)   optional. Writes up to @max descriptions of
 *     the devices this backend can open to @out and their total to @count.
 *     NULL means one device named after the backend, always available.
 * open(options, ctx, mem_base, mem_size)
 *     Opens the device. @options is the text after "NAME:" ("" if none),
 *     comma-separated key=value pairs: unknown keys fail with
 *     SAMPAN_ERROR_INVALID and a message listing options_help. On success
 *     writes an opaque context and the card-memory window.
 * close(ctx)
 *     Releases everything open() acquired. The device is idle.
 * mem_write(ctx, addr, src, n), mem_read(ctx, addr, dst, n)
 *     Copies @n bytes between host memory and card memory at absolute
 *     device address @addr; the range lies inside the window (the driver
 *     checks). No alignment is required.
 * reg_read(ctx, off, val), reg_write(ctx, off, val)
 *     One 32-bit register access at byte offset @off, with the hardware's
 *     side effects (clear-on-read ap_done, ISR toggle, ap_start).
 * wait_done(ctx, max_cycles, timeout_ms)
 *     Returns SAMPAN_OK once the kernel has raised ap_done (the driver set
 *     GIE and IER.done before ap_start), with the interrupt acknowledged:
 *     ap_done read (cleared) and ISR.done toggled back to 0. Gives up with
 *     SAMPAN_ERROR_TIMEOUT after @max_cycles device cycles (backends with a
 *     clock) or @timeout_ms of wall-clock time (> 0), whichever comes
 *     first; the device may then still be running. Never blocks forever.
 */
#ifndef SAMPAN_BACKEND_H
#define SAMPAN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "sampan.h"

struct backend_ops {
	const char *name;         /* device name before the colon */
	const char *description;  /* one line for sampan_list_devices() */
	const char *options_help; /* accepted options, e.g. "mem=MiB, rows=N" */
	int (*enumerate)(struct sampan_device_desc *out, size_t max, size_t *count);
	int (*open)(const char *options, void **ctx, uint64_t *mem_base, uint64_t *mem_size);
	void (*close)(void *ctx);
	int (*mem_write)(void *ctx, uint64_t addr, const void *src, size_t n);
	int (*mem_read)(void *ctx, uint64_t addr, void *dst, size_t n);
	int (*reg_read)(void *ctx, uint32_t off, uint32_t *val);
	int (*reg_write)(void *ctx, uint32_t off, uint32_t val);
	int (*wait_done)(void *ctx, uint64_t max_cycles, int timeout_ms);
};

extern const struct backend_ops sim_backend;
extern const struct backend_ops cpu_backend;
extern const struct backend_ops simusb_backend;
extern const struct backend_ops usb_backend;
extern const struct backend_ops xrt_backend;

#endif /* SAMPAN_BACKEND_H */
