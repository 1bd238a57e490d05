/*
 * sampan_sim.h - C ABI of the Verilator simulation of the sampan RTL.
 *
 * The shared library build/libsampan_sim.so implements this header around
 * the Verilated sampan_axi_top (AXI4-Lite control, AXI4 master to a model
 * of card DRAM) and around small unit models (PE, array, requantizer) used
 * by the RTL unit tests. The driver's "sim" backend loads the library with
 * dlopen() and resolves these symbols by name, so every function here is
 * plain C. All functions return 0 on success and a negative value on
 * failure unless documented otherwise; a failure leaves a message that
 * ssim_error() returns.
 */
#ifndef SAMPAN_SIM_H
#define SAMPAN_SIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; the driver checks it after dlopen. */
#define SSIM_ABI_VERSION 2

int ssim_abi_version(void);

/* ------------------------------------------------------------ full device */

/* Settings of the simulated card. Zero fields take the defaults. */
struct ssim_config {
	uint64_t mem_bytes;           /* card memory size (default 256 MiB) */
	unsigned mem_latency;         /* cycles from address accept to first data (default 40) */
	unsigned mem_bytes_per_cycle; /* memory bandwidth in bytes/cycle (default 64 = 512-bit) */
	unsigned mem_outstanding;     /* read bursts accepted before AR stalls (default 8) */
	const char *trace_path;       /* FST waveform file; NULL: no trace */
	/* Fault injection and slave options of the memory model (0: off). */
	uint64_t fault_read_beat;  /* the Nth R beat since creation (1-based, any ID) answers
	                              fault_resp */
	uint64_t fault_write_resp; /* the Nth B response since creation answers fault_resp */
	unsigned fault_resp;       /* 2 SLVERR (default) or 3 DECERR */
	unsigned aw_wait_w; /* 1: AWREADY only while WVALID is high and no burst waits for data */
};

/* What the memory model has answered since the card was created. */
struct ssim_mem_stats {
	uint64_t r_beats;    /* R beats handed over (every ID) */
	uint64_t b_resps;    /* B responses handed over */
	int fault_fired;     /* the injected fault has been answered */
	int fault_write;     /* 1: it was a B response; 0: an R beat */
	uint64_t fault_addr; /* R: card address of the failed beat; B: start address of the failed
	                        burst */
};

struct ssim;

/* Creates a simulated card, holds it in reset for a few cycles and
 * releases it. Returns NULL on failure (message in ssim_error(NULL)). */
struct ssim *ssim_create(const struct ssim_config *cfg);
void ssim_destroy(struct ssim *sim);

/* Message of the last failure on @sim. With NULL: of the last ssim_create
 * or unit-model call (ssim_pe_*, ssim_array_*, ssim_requant_*) that failed
 * in the calling thread; the unit handles have no message of their own. */
const char *ssim_error(const struct ssim *sim);

/* AXI4-Lite register access: runs the bus transaction on the model, which
 * advances the clock by a few cycles. */
int ssim_reg_write(struct ssim *sim, uint32_t offset, uint32_t value);
int ssim_reg_read(struct ssim *sim, uint32_t offset, uint32_t *value);

/* Backdoor access to card memory (no simulated time passes). Fails when
 * the range falls outside the memory. */
int ssim_mem_write(struct ssim *sim, uint64_t addr, const void *src, size_t n);
int ssim_mem_read(struct ssim *sim, uint64_t addr, void *dst, size_t n);

/* Counts of the memory model and where an injected fault fired. */
int ssim_mem_stats(const struct ssim *sim, struct ssim_mem_stats *stats);

/* Advances the clock by @cycles. */
void ssim_step(struct ssim *sim, uint64_t cycles);

/* Advances until the kernel's interrupt output is high or @max_cycles have
 * passed. Returns 1 if the interrupt is high, 0 on timeout. The driver
 * enables GIE and IER.done before starting so that the interrupt line
 * means ap_done. */
int ssim_wait_irq(struct ssim *sim, uint64_t max_cycles);

/* Cycles simulated since creation. */
uint64_t ssim_cycles(const struct ssim *sim);

/* Starts or stops an FST waveform (the library must be the trace build:
 * returns -1 with a message otherwise). */
int ssim_trace_open(struct ssim *sim, const char *path);
void ssim_trace_close(struct ssim *sim);

/* ------------------------------------------------------------ unit models */

/* One processing element (rtl/sampan_pe.v). Inputs are applied, one rising
 * clock edge is simulated, and the registered outputs are read back. */
struct ssim_pe_io {
	/* inputs */
	int rst;
	int in_valid, in_last;
	int32_t in_a; /* 9-bit signed (a - za) */
	int32_t in_w; /* 8-bit signed */
	/* outputs after the edge */
	int out_valid, out_last;
	int32_t out_a, out_w;
	int res_valid; /* shadow register written at this edge */
	int32_t res;   /* shadow register (tile result) */
};
struct ssim_pe;
struct ssim_pe *ssim_pe_create(void);
void ssim_pe_destroy(struct ssim_pe *pe);
void ssim_pe_cycle(struct ssim_pe *pe, struct ssim_pe_io *io);

/* The array (rtl/sampan_array.v) at a size chosen at build time: the
 * library contains the array at 4x4, 8x16 and 16x16. Steps are fed
 * unskewed; ssim_array_run() streams k_len steps (a: (k_len, rows) int9
 * values as int16_t, w: (k_len, cols) int8) as one tile, clocks until the
 * tile's results are in the shadow registers and returns them as (rows,
 * cols) int32. Returns the number of cycles from the first step to the
 * last result, or a negative value on error (unsupported size). */
struct ssim_array;
struct ssim_array *ssim_array_create(unsigned rows, unsigned cols);
void ssim_array_destroy(struct ssim_array *arr);
long ssim_array_run(struct ssim_array *arr, const int16_t *a, const int8_t *w, unsigned k_len,
                    int32_t *out);

/* One requantizer lane (rtl/sampan_requant.v), pipelined. Feeds @n inputs
 * back to back and collects @n outputs. raw: out = acc + bias; otherwise
 * out = clamp(MBQM(acc + bias, mult, shift) + zo, lo, hi). */
struct ssim_requant_in {
	int32_t acc, bias, mult, shift;
	int32_t zo, lo, hi;
	int raw;
};
struct ssim_requant;
struct ssim_requant *ssim_requant_create(void);
void ssim_requant_destroy(struct ssim_requant *rq);
int ssim_requant_run(struct ssim_requant *rq, const struct ssim_requant_in *in, int32_t *out,
                     size_t n);

/* The float units of the block-scaled path (rtl/sampan_f*.v), each fed
 * @n inputs back to back (the pipelined ones) and read back in order:
 *   h2f:   out = h2f(h)                     binary16 -> binary32 bits
 *   scale: out = fmul(h2f(a), h2f(b))       exact, two fp16 scales
 *   mul:   out = fmul((float)isum, s)       |isum| < 2^20, rounded once
 *   add:   out = fadd(a, b)
 * under the float rules of rtl/ARCHITECTURE.md. */
struct ssim_float;
struct ssim_float *ssim_float_create(void);
void ssim_float_destroy(struct ssim_float *f);
int ssim_float_h2f(struct ssim_float *f, const uint16_t *h, uint32_t *out, size_t n);
int ssim_float_scale(struct ssim_float *f, const uint16_t *a, const uint16_t *b, uint32_t *out,
                     size_t n);
int ssim_float_mul(struct ssim_float *f, const int32_t *isum, const uint32_t *s, uint32_t *out,
                   size_t n);
int ssim_float_add(struct ssim_float *f, const uint32_t *a, const uint32_t *b, uint32_t *out,
                   size_t n);

#ifdef __cplusplus
}
#endif

#endif /* SAMPAN_SIM_H */
