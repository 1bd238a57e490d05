/*
 * runtime.h - executes an imported ONNX graph (onnx_model.h) on a sampan
 * device.
 *
 * The int8 products (QLinearMatMul, MatMulInteger, QLinearConv through
 * im2col, ConvInteger) run on the device with sampan_gemm in raw int32
 * mode; what the device's contract does not cover is done exactly on the
 * host around it:
 *
 *  - uint8 tensors are mapped to int8 by subtracting 128 from the data and
 *    from their zero points; (a - za) is unchanged, so the int32
 *    accumulation is exact.
 *  - The device's weights are symmetric. A weight zero point zw (per
 *    tensor or per output channel) is applied with the row-sum
 *    correction sum_k (a - za)(w - zw) = sum_k (a - za) w - zw sum_k (a - za),
 *    in wrapping int32 like the device.
 *  - ONNX requantizes with a float multiplier, not TFLite's fixed-point
 *    one: y = saturate(rint(acc * (float)(sa * sb / sy)) + zy), rounding
 *    half to even, as the ONNX reference does; so that part is on the host.
 *  - QuantizeLinear and DequantizeLinear are float ops on the host:
 *    y = saturate(rint(x / scale) + zp) and y = (x - zp) * scale in float.
 *    NaN quantizes to the zero point.
 */
#ifndef SAMPAN_HOST_RUNTIME_H
#define SAMPAN_HOST_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "onnx/onnx_model.h"
#include "sampan.h"

/* What one run cost, summed over its device jobs. */
struct rt_stats {
	uint64_t gemms;          /* device jobs */
	uint64_t cycles;         /* device cycles (0 on the functional model) */
	uint64_t macs;           /* multiply-accumulates on the device */
	uint64_t host_bytes_in;  /* host -> card bytes of those jobs */
	uint64_t host_bytes_out; /* card -> host bytes */
	int64_t batch;           /* images in the run (the inputs' leading dimension) */
	double device_seconds;   /* wall time inside sampan_gemm / sampan_matmul */
	double total_seconds;    /* wall time of the whole run */
};

/* Runs @model on @dev. @inputs[i] (borrowed) feeds model->inputs[i] and
 * must have the element type and the fixed dimensions it declares. On
 * success @outputs[i] receives a new tensor for model->outputs[i] (the
 * caller destroys it) and @stats, if not NULL, the run's figures. Returns a
 * sampan_error; on failure @err names the node or input at fault and
 * @outputs is untouched. */
int rt_run(const struct onnx_model *model, struct sampan_device *dev,
           struct onnx_tensor *const *inputs, struct onnx_tensor **outputs, struct rt_stats *stats,
           char *err, size_t err_size);

/* What one node cost in a run (rt_run_ex adds to these). */
struct rt_node_stats {
	uint64_t gemms, cycles, macs;
	double device_seconds; /* inside sampan_gemm */
	double seconds;        /* the whole node, host work included */
};

/* Optional observers of a run. */
struct rt_hooks {
	/* Called with every graph input and every node output as soon as it
	 * is known (@value indexes model->values; @t is borrowed, valid only
	 * during the call). A non-zero return stops the run with that code. */
	int (*on_value)(void *user, int value, const struct onnx_tensor *t);
	void *user;
	/* If not NULL, model->n_nodes entries that each node's figures are
	 * added to (zero them before the first run to accumulate over runs). */
	struct rt_node_stats *node_stats;
};

/* rt_run with observers; @hooks may be NULL. */
int rt_run_ex(const struct onnx_model *model, struct sampan_device *dev,
              struct onnx_tensor *const *inputs, struct onnx_tensor **outputs,
              struct rt_stats *stats, const struct rt_hooks *hooks, char *err, size_t err_size);

/* ----------------------------------------------------------------- sessions */

/*
 * A model loaded on a device: the constant weights of every device product
 * (QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger with an
 * initializer as weights; one sampan_weights per group or weight matrix)
 * are uploaded to card memory once, at creation, and stay there for the
 * session's life, so that a run moves only activations. A model whose
 * weights do not fit the card fails here, with the bytes needed and free.
 *
 * Batching: with rt_session_set_batch(), inputs may have any leading
 * dimension N where the model declares 1 (the same N for every input);
 * the graph then runs once on the N images, each device product with
 * M = N times the rows of one image, and every output whose declared
 * leading dimension is 1 must come out with N (else the model does not
 * batch, and the run fails saying so).
 */
struct rt_session;

int rt_session_create(const struct onnx_model *model, struct sampan_device *dev,
                      struct rt_session **s, char *err, size_t err_size);
/* NULL is a no-op. Destroy it before closing the device. */
void rt_session_destroy(struct rt_session *s);
/* Card memory the resident weights take, and the number of handles. */
uint64_t rt_session_weight_bytes(const struct rt_session *s);
int rt_session_weight_count(const struct rt_session *s);
/* Allows batched inputs (see above); off by default. */
void rt_session_set_batch(struct rt_session *s, int on);
/* rt_run_ex on the session's model and device. */
int rt_session_run(struct rt_session *s, struct onnx_tensor *const *inputs,
                   struct onnx_tensor **outputs, struct rt_stats *stats,
                   const struct rt_hooks *hooks, char *err, size_t err_size);

/* ------------------------------------------------------------- internals */

/* State of a run, shared with the op implementations (ops.c). */
struct rt_ctx {
	struct sampan_device *dev;
	const struct onnx_node *node; /* the node being executed */
	/* Its resident weights (see rt_node_weights), or none. */
	struct sampan_weights *const *wts;
	int n_wts;
	struct rt_stats stats;
	char *err;
	size_t err_size;
};

/* Executes ctx->node: @in holds its inputs (NULL for omitted optional
 * ones), @out receives a new output tensor. Returns a sampan_error with a
 * message in ctx->err. */
int rt_op_run(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out);

/* rt_op_run for the quantized ops (ops.c): the int8 products on the
 * device, QuantizeLinear and DequantizeLinear. */
int rt_device_op_run(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out);

/* The same for the ops that run on the host only (host_ops.c): pools,
 * elementwise and shape ops, and the float reference ops. */
int rt_host_op_run(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out);

/* Uploads the constant weights of device node @node of @m, if it has
 * them: *@n handles (per group of a convolution, per matrix of a batched
 * weight) into a new array *@wts, which the caller destroys; *@n = 0 and
 * NULL for other nodes. Returns a sampan_error with a message. */
int rt_node_weights(struct rt_ctx *ctx, const struct onnx_model *m, const struct onnx_node *node,
                    struct sampan_weights ***wts, int *n);

/* Formats "node 'NAME' (Op): message" into ctx->err; returns @code. */
int rt_fail(struct rt_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shape of a 2-D convolution. */
struct rt_conv_geom {
	int64_t n, c, h, w;     /* input (N, C, H, W) */
	int64_t m, kh, kw;      /* weights (M, C / group, KH, KW) */
	int64_t oh, ow;         /* output (N, M, OH, OW) */
	int64_t sh, sw, dh, dw; /* strides, dilations */
	int64_t ph, pw;         /* padding before */
	int64_t group, cg, mg;  /* groups, channels per group in and out */
};

/* Checks a 2-D convolution of @x (N, C, H, W) by @w (M, C / group, KH, KW)
 * with ctx->node's attributes and fills @g. Returns a sampan_error. */
int rt_conv_geometry(struct rt_ctx *ctx, const struct onnx_tensor *x, const struct onnx_tensor *w,
                     struct rt_conv_geom *g);

#endif /* SAMPAN_HOST_RUNTIME_H */
