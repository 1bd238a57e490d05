/*
 * sampan.h - public API of libsampan, the host driver of the sampan int8
 * matrix engine.
 *
 * A device is opened by name, GEMMs are submitted to it and waited for. The
 * five backends: "sim" (the RTL under Verilator), "cpu" (a functional model
 * of the same hardware), "sim-usb" (the stream shell's USB framing into the
 * simulated RTL), "usb" (a board on a USB bridge, libusb) and "xrt" (an
 * Alveo card, XRT); options follow a colon, e.g. "sim:trace=out.fst".
 * Every action function returns a sampan_error code (SAMPAN_OK or a
 * negative value); out-parameters are written only on success.
 * sampan_last_error() gives a human-readable detail of the last failure in
 * the calling thread.
 *
 * Numerics (bit-exact on every device), TFLite int8 per-channel:
 *   acc[m][n] = bias[n] + sum_k (A[m][k] - za) * W[n][k]   (int32, wrapping)
 *   raw:        out[m][n] = acc[m][n]                         (int32)
 *   requant:    out[m][n] = clamp(MBQM(acc, mult[n], shift[n]) + zo, lo, hi)
 *
 * Block-scaled int8 (GGUF Q8_0), output float32 (rtl/ARCHITECTURE.md,
 * "Block-scaled numerics", fixes every float rule):
 *   out[m][n] = fadd(acc_f, bias[n]),  acc_f = +0.0 then for b = 0, 1, ...:
 *   acc_f = fadd(acc_f, fmul((float)isum_b, f16(sw[n][b]) * f16(sa[m][b])))
 *   isum_b = sum_{k in block b} A[m][k] * W[n][k]   (exact integer)
 */
#ifndef SAMPAN_H
#define SAMPAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SAMPAN_VERSION_MAJOR 0
#define SAMPAN_VERSION_MINOR 1
#define SAMPAN_VERSION_PATCH 0

/* Error codes. */
enum sampan_error {
	SAMPAN_OK = 0,
	SAMPAN_ERROR_IO = -1,            /* transport or I/O failure */
	SAMPAN_ERROR_INVALID = -2,       /* invalid argument: device name, option, shape */
	SAMPAN_ERROR_NO_DEVICE = -3,     /* a known device that is not present */
	SAMPAN_ERROR_NO_MEM = -4,        /* host memory allocation failed */
	SAMPAN_ERROR_DEVICE_MEM = -5,    /* device (card) memory exhausted */
	SAMPAN_ERROR_TIMEOUT = -6,       /* the device did not finish in time */
	SAMPAN_ERROR_DEVICE = -7,        /* the device reported an error status */
	SAMPAN_ERROR_NOT_SUPPORTED = -8, /* operation not supported by backend */
	SAMPAN_ERROR_BUSY = -9,          /* device in use by another process */
	SAMPAN_ERROR_LIBRARY = -10,      /* a runtime library could not be loaded */
};

/* Short description of an error code; never NULL. */
const char *sampan_strerror(int err);

/* Detail of the last failure in the calling thread ("" if none); never NULL. */
const char *sampan_last_error(void);

/* ---------------------------------------------------------------- devices */

struct sampan_device;

#define SAMPAN_NAME_MAX 64

/* One entry of sampan_list_devices(). */
struct sampan_device_desc {
	char name[SAMPAN_NAME_MAX]; /* name to pass to sampan_open() */
	char description[128];
	int available; /* 1: can be opened now */
};

/* Lists the devices known to this build: one entry for each backend without
 * enumeration (sim, cpu, sim-usb), and one for each board or card that the
 * usb and xrt backends find attached (none when there are none). Writes up to @max entries to @out
 * and the total to @count. */
int sampan_list_devices(struct sampan_device_desc *out, size_t max, size_t *count);

/* Opens a device by name (see the top of this file; "sim" when @name is NULL
 * or ""), with options after a colon, e.g. "sim:trace=out.fst,latency=40".
 * Unknown names and options fail with SAMPAN_ERROR_INVALID and a message
 * listing what is accepted; a known device whose hardware (board, card,
 * simulator library) is absent fails with SAMPAN_ERROR_NO_DEVICE, or
 * SAMPAN_ERROR_LIBRARY when a runtime library cannot be loaded. */
int sampan_open(struct sampan_device **dev, const char *name);

/* Closes a device; waits for a job in flight. NULL is a no-op. */
void sampan_close(struct sampan_device *dev);

/* What the hardware reports about itself. */
struct sampan_info {
	char backend[16];           /* "sim", "cpu", ... */
	char name[SAMPAN_NAME_MAX]; /* the name it was opened with */
	uint32_t hw_version;
	unsigned rows, cols;    /* systolic array size */
	unsigned k_depth;       /* k-steps per operand bank */
	unsigned acc_slots;     /* accumulator tiles */
	unsigned param_entries; /* requantizer parameter entries */
	unsigned bus_bytes;     /* card-memory bus width in bytes */
	unsigned clock_mhz;     /* nominal clock (0: no clock, functional model) */
	uint64_t mem_bytes;     /* card memory size */
	uint64_t mem_used;      /* card memory allocated now (buffers, weights, jobs) */
	unsigned features;      /* SAMPAN_FEATURE_* bits the hardware reports */
	unsigned mv_rows;       /* rows of the matrix-vector engine (0: none) */
};

/* sampan_info.features */
#define SAMPAN_FEATURE_BLOCK_SCALED 0x1u /* block-scaled Q8_0 commands */
#define SAMPAN_FEATURE_MATVEC 0x2u       /* the wide matrix-vector engine */

int sampan_get_info(struct sampan_device *dev, struct sampan_info *info);

/* ---------------------------------------------------------------- buffers */

/* A region of card memory. */
struct sampan_buffer;

int sampan_buffer_create(struct sampan_device *dev, size_t bytes, struct sampan_buffer **buf);
void sampan_buffer_destroy(struct sampan_buffer *buf);
int sampan_buffer_write(struct sampan_buffer *buf, size_t offset, const void *src, size_t n);
int sampan_buffer_read(struct sampan_buffer *buf, size_t offset, void *dst, size_t n);
/* Device address of the buffer (as the hardware sees it). */
uint64_t sampan_buffer_address(const struct sampan_buffer *buf);

/* ---------------------------------------------------------------- GEMM */

/* One GEMM. Shapes are int64_t so that negative values are caught. */
struct sampan_gemm {
	int64_t m, k, n;      /* each >= 1 */
	const int8_t *a;      /* (M, K) row-major */
	const int8_t *w;      /* (N, K) row-major, output-channel major */
	const int32_t *bias;  /* (N); NULL means zeros */
	const int32_t *mult;  /* (N) Q31 multipliers; requantized mode only */
	const int32_t *shift; /* (N) in [-31, 31]; requantized mode only */
	int32_t za;           /* activation zero point, -128..127 */
	int32_t zo;           /* output zero point, -128..127 */
	int32_t lo, hi;       /* output clamp, -128 <= lo <= hi <= 127 */
	int raw;              /* 1: out is int32 acc; 0: out is requantized int8 */
	void *out;            /* (M, N) row-major: int32_t if raw, else int8_t */
};

/* ------------------------------------------------------ block-scaled GEMM */

/* Elements per scale block along K (GGUF Q8_0). */
#define SAMPAN_QBLOCK 32

/* One block-scaled GEMM (GGUF Q8_0 weights times Q8_0 activations).
 * K must be a multiple of SAMPAN_QBLOCK (other K are refused with
 * SAMPAN_ERROR_INVALID: pad with zero blocks). Scales are IEEE binary16
 * bit patterns. */
struct sampan_gemm_q8 {
	int64_t m, k, n;         /* each >= 1, k % 32 == 0 */
	const int8_t *a;         /* (M, K) row-major */
	const uint16_t *a_scale; /* (M, K/32) fp16 */
	const int8_t *w;         /* (N, K) row-major */
	const uint16_t *w_scale; /* (N, K/32) fp16 */
	const float *bias;       /* (N); NULL means +0.0 */
	float *out;              /* (M, N) row-major */
};

/* Runs a block-scaled GEMM synchronously (weights are sent with it; see
 * sampan_weights for weights that stay on the card). */
int sampan_gemm_q8(struct sampan_device *dev, const struct sampan_gemm_q8 *g);

/* ggml's quantize_row_q8_0_ref: for each block of 32 values of @x (K
 * floats, K % 32 == 0) d = amax / 127, q = round-half-away(x / d) (0 where
 * d == 0), d stored as fp16 (round to nearest even). Writes @q (K) and @d
 * (K/32). */
int sampan_quantize_q8_0(const float *x, int64_t k, int8_t *q, uint16_t *d);

/* IEEE binary16 <-> binary32 (round to nearest even; NaN stays NaN). */
float sampan_fp16_to_fp32(uint16_t h);
uint16_t sampan_fp32_to_fp16(float f);

/* ---------------------------------------------------------- resident weights */

/* A layer's weights and parameters, uploaded to card memory once and used by
 * any number of sampan_matmul() calls on the same device, with only the
 * activations moving per call. Created and destroyed in pairs; destroy it
 * before closing its device (sampan_close() frees what is left). */
struct sampan_weights;

enum sampan_format {
	SAMPAN_FORMAT_INT8 = 0, /* TFLite per-channel int8 (struct sampan_gemm) */
	SAMPAN_FORMAT_Q8_0 = 1, /* block-scaled (struct sampan_gemm_q8) */
};

/* What sampan_weights_create() uploads. The arrays are copied: the caller
 * may free them on return. */
struct sampan_weights_desc {
	enum sampan_format format;
	int64_t n, k;            /* output channels, inner dimension (Q8_0: k % 32 == 0) */
	const int8_t *w;         /* (N, K) row-major */
	const uint16_t *w_scale; /* Q8_0: (N, K/32) fp16; INT8: unused */
	const int32_t *bias;     /* INT8: (N) or NULL (zeros) */
	const int32_t *mult;     /* INT8: (N) Q31 multipliers, or NULL (raw outputs only) */
	const int32_t *shift;    /* INT8: (N) in [-31, 31], or NULL (raw outputs only) */
	const float *fbias;      /* Q8_0: (N) or NULL (+0.0) */
	const char *name;        /* for messages ("blk.3.attn_q.weight"); may be NULL */
};

/* Uploads the weights. Fails with SAMPAN_ERROR_DEVICE_MEM, and a message
 * naming @desc->name and the bytes needed and free, when they do not fit. */
int sampan_weights_create(struct sampan_device *dev, const struct sampan_weights_desc *desc,
                          struct sampan_weights **wt);
void sampan_weights_destroy(struct sampan_weights *wt);
/* Card memory the weights occupy, in bytes. */
uint64_t sampan_weights_bytes(const struct sampan_weights *wt);

/* The activations of one sampan_matmul() call; out = A x W^T (+ bias). */
struct sampan_matmul {
	int64_t m;               /* rows of A, >= 1 */
	const int8_t *a;         /* (M, K) row-major */
	const uint16_t *a_scale; /* Q8_0: (M, K/32) fp16 */
	int32_t za, zo, lo, hi;  /* INT8: as in struct sampan_gemm */
	int raw;                 /* INT8: 1 int32 out, 0 requantized int8 out */
	void *out;               /* (M, N): float (Q8_0), int32_t (raw) or int8_t */
};

/* Runs A x W^T against resident weights synchronously. A product larger
 * than the card memory left free is split into several device runs. Using
 * weights of another device, or destroyed ones, is SAMPAN_ERROR_INVALID. */
int sampan_matmul(struct sampan_device *dev, const struct sampan_weights *wt,
                  const struct sampan_matmul *x);

/* Statistics of one job, from the device's own counters. */
struct sampan_stats {
	uint64_t cycles;            /* device cycles from start to done (0: no clock) */
	uint64_t busy_cycles;       /* cycles the array streamed */
	uint64_t macs;              /* useful multiply-accumulates */
	uint64_t stall_mem;         /* array idle waiting on memory */
	uint64_t stall_dep;         /* array idle waiting on a dependency */
	uint64_t dev_bytes_read;    /* card memory read by the device */
	uint64_t dev_bytes_written; /* card memory written by the device */
	uint64_t host_bytes_in;     /* host -> card bytes */
	uint64_t host_bytes_out;    /* card -> host bytes */
	uint64_t commands;          /* commands executed */
	double wall_seconds;        /* host time from submit to completion */
};

/* utilization = macs / (cycles * rows * cols); 0 when cycles is 0. */
double sampan_utilization(const struct sampan_stats *s, const struct sampan_info *info);

/* Runs a GEMM synchronously. One that does not fit in the free card memory
 * is split into several device runs (halves of M in whole tiles, then of N)
 * and its stats are their sum; SAMPAN_ERROR_DEVICE_MEM only when even one
 * M tile of it does not fit. */
int sampan_gemm(struct sampan_device *dev, const struct sampan_gemm *g);

/* Asynchronous GEMM: submit validates, packs and starts the device and
 * returns (always one device run: SAMPAN_ERROR_DEVICE_MEM when it does
 * not fit); wait completes it and writes g->out. The caller keeps g and the
 * arrays it points to alive until the job is waited for. One job runs at a
 * time per device: submitting while one is in flight first completes it. */
struct sampan_job;

int sampan_gemm_submit(struct sampan_device *dev, const struct sampan_gemm *g,
                       struct sampan_job **job);
/* Waits up to @timeout_ms (< 0: the backend's default limit). The job
 * stays valid (and must be destroyed) whatever the result. */
int sampan_job_wait(struct sampan_job *job, int timeout_ms);
int sampan_job_stats(const struct sampan_job *job, struct sampan_stats *stats);
void sampan_job_destroy(struct sampan_job *job);

/* Statistics of the last completed job on the device; sampan_gemm_q8() and
 * sampan_matmul() record the sum over the device runs they made. */
int sampan_get_stats(struct sampan_device *dev, struct sampan_stats *stats);

/* ------------------------------------------------------------ diagnostics */

/* Low-level access for conformance tests and board bring-up (`sampan
 * selftest`), below the GEMM API: they bypass the driver's bookkeeping, so
 * use them only while no job is in flight (else SAMPAN_ERROR_BUSY). */

/* One 32-bit register at byte offset @off of the register map
 * (rtl/ARCHITECTURE.md), with the hardware's side effects. */
int sampan_reg_read(struct sampan_device *dev, uint32_t off, uint32_t *val);
int sampan_reg_write(struct sampan_device *dev, uint32_t off, uint32_t val);

/* Runs @count raw 16-byte commands that the caller wrote at device address
 * @cmd_addr (e.g. sampan_buffer_address() of a buffer) and waits up to
 * @timeout_ms (<= 0: 10 s). Returns SAMPAN_OK once the core has finished,
 * whatever it reports, and writes its STATUS error code (0 = ok) and
 * ERR_INDEX; SAMPAN_ERROR_TIMEOUT if it has not finished in time. */
int sampan_run_commands(struct sampan_device *dev, uint64_t cmd_addr, uint32_t count,
                        int timeout_ms, uint32_t *status, uint32_t *err_index);

/* ---------------------------------------------------------------- reference */

/* TFLite MultiplyByQuantizedMultiplier (SaturatingRoundingDoublingHighMul,
 * then RoundingDivideByPOT); a left shift wraps modulo 2^32. shift in
 * [-31, 31]. */
int32_t sampan_mbqm(int32_t x, int32_t mult, int shift);

/* Requantizes one accumulator: clamp(MBQM(acc, mult, shift) + zo, lo, hi),
 * the addition done without overflow. */
int8_t sampan_requantize(int32_t acc, int32_t mult, int shift, int32_t zo, int32_t lo, int32_t hi);

#ifdef __cplusplus
}
#endif

#endif /* SAMPAN_H */
