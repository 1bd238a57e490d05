/*
 * onnx_model.h - the graph IR that the ONNX importer builds and the
 * runtime executes, and tensors (values of that graph).
 *
 * The importer (onnx_import.c) reads a .onnx file with the protobuf-c
 * bindings generated at build time from Debian's onnx.proto, checks it
 * completely (opset, element types, attributes, references, cycles,
 * supported ops) and keeps only what the runtime needs: a model that loads
 * can run, and every problem is reported at load time with the file name
 * and the node or tensor at fault.
 */
#ifndef SAMPAN_HOST_ONNX_MODEL_H
#define SAMPAN_HOST_ONNX_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Element types, numbered as TensorProto.DataType. */
enum onnx_dtype {
	ONNX_DT_UNKNOWN = 0,
	ONNX_DT_FLOAT = 1,
	ONNX_DT_UINT8 = 2,
	ONNX_DT_INT8 = 3,
	ONNX_DT_INT32 = 6,
	ONNX_DT_INT64 = 7,
};

#define ONNX_MAX_DIMS 8
/* Largest .onnx or TensorProto file read. */
#define ONNX_MAX_FILE_BYTES ((size_t)256 << 20)
/* Most elements of one tensor (initializer, input or intermediate); the
 * fuzz build (tests/fuzz/fuzz.mk) lowers it. */
#ifndef ONNX_MAX_ELEMENTS
#define ONNX_MAX_ELEMENTS ((int64_t)1 << 28)
#endif
/* Opsets of the default domain accepted. Each node runs with the semantics
 * of its op's version in the model's opset (onnx_node.version); an op that
 * does not exist yet in that opset (the quantized ops before 10) is refused
 * with its name. */
#define ONNX_OPSET_MIN 7
#define ONNX_OPSET_MAX 21

/* A tensor value. */
struct onnx_tensor {
	enum onnx_dtype dtype;
	int ndim;                    /* 0 for a scalar */
	int64_t dims[ONNX_MAX_DIMS]; /* each >= 1 */
	size_t count;                /* product of dims, <= ONNX_MAX_ELEMENTS */
	void *data;                  /* count elements, C order, host byte order */
};

/* Name of an element type ("uint8", ...) or "unknown". */
const char *onnx_dtype_name(int dtype);

/* Bytes per element of a supported type, 0 otherwise. */
size_t onnx_dtype_size(int dtype);

/* Creates a zero-filled tensor. Returns SAMPAN_OK, SAMPAN_ERROR_INVALID
 * (bad rank or dims, too many elements) or SAMPAN_ERROR_NO_MEM. */
int onnx_tensor_create(struct onnx_tensor **t, enum onnx_dtype dtype, int ndim,
                       const int64_t *dims);

/* NULL is a no-op. */
void onnx_tensor_destroy(struct onnx_tensor *t);

/* Formats the shape as "[1, 3, 224, 224]" into @buf. */
const char *onnx_shape_str(int ndim, const int64_t *dims, char *buf, size_t size);

/* Element @i of @t as int64 (a float truncated toward zero). */
static inline int64_t onnx_tensor_i64(const struct onnx_tensor *t, size_t i)
{
	switch (t->dtype) {
	case ONNX_DT_UINT8:
		return ((const uint8_t *)t->data)[i];
	case ONNX_DT_INT8:
		return ((const int8_t *)t->data)[i];
	case ONNX_DT_INT32:
		return ((const int32_t *)t->data)[i];
	case ONNX_DT_INT64:
		return ((const int64_t *)t->data)[i];
	default:
		return (int64_t)((const float *)t->data)[i];
	}
}

/* Element @i of @t as double (int64 beyond 2^53 rounded). */
static inline double onnx_tensor_f64(const struct onnx_tensor *t, size_t i)
{
	if (t->dtype == ONNX_DT_FLOAT)
		return ((const float *)t->data)[i];
	return (double)onnx_tensor_i64(t, i);
}

/* Reads a serialized TensorProto file (the test data format of the ONNX
 * backend tests). @name, if not NULL, receives the tensor's name (malloc'd,
 * "" when it has none). Returns a sampan_error; on failure @err holds a
 * message naming @path. */
int onnx_tensor_read_pb(const char *path, struct onnx_tensor **t, char **name, char *err,
                        size_t err_size);

/* ------------------------------------------------------------------ graph */

/* The operators the runtime executes. */
enum onnx_op {
	ONNX_OP_QLINEARMATMUL,
	ONNX_OP_MATMULINTEGER,
	ONNX_OP_QLINEARCONV,
	ONNX_OP_CONVINTEGER,
	ONNX_OP_QUANTIZELINEAR,
	ONNX_OP_DEQUANTIZELINEAR,
	/* Host ops (host_ops.c). */
	ONNX_OP_MAXPOOL,
	ONNX_OP_AVERAGEPOOL,
	ONNX_OP_GLOBALAVERAGEPOOL,
	ONNX_OP_ADD,
	ONNX_OP_CONCAT,
	ONNX_OP_FLATTEN,
	ONNX_OP_RESHAPE,
	ONNX_OP_RELU,
	ONNX_OP_CLIP,
	ONNX_OP_SOFTMAX,
	ONNX_OP_GEMM,
	ONNX_OP_MATMUL,
	ONNX_OP_CONV,
	ONNX_OP_BATCHNORM,
	ONNX_OP_REDUCEMEAN,
};

/* Most inputs of one node (Concat is variadic). */
#define ONNX_MAX_NODE_INPUTS 64

/* ONNX name of an op ("QLinearConv"). */
const char *onnx_op_name(enum onnx_op op);

/* A named value of the graph: graph input, initializer or node output. */
struct onnx_value {
	char *name;
	enum onnx_dtype dtype;       /* ONNX_DT_UNKNOWN when not declared */
	int ndim;                    /* -1 when the shape is not declared */
	int64_t dims[ONNX_MAX_DIMS]; /* -1 for a symbolic dimension */
	struct onnx_tensor *init;    /* the initializer's data, or NULL */
	int producer;                /* index of the node computing it, or -1 */
};

/* Whether @t agrees with the type and fixed dimensions @v declares. */
bool onnx_value_matches(const struct onnx_value *v, const struct onnx_tensor *t);

/* Convolution and pooling attributes (2-D). */
enum onnx_auto_pad { ONNX_PAD_NOTSET, ONNX_PAD_SAME_UPPER, ONNX_PAD_SAME_LOWER, ONNX_PAD_VALID };

struct onnx_conv_attrs {
	int64_t kernel[2]; /* 0 when not given (taken from W) */
	int64_t strides[2];
	int64_t dilations[2];
	int64_t pads[4]; /* begin H, begin W, end H, end W */
	int64_t group;
	enum onnx_auto_pad auto_pad;
};

struct onnx_node {
	char *name; /* the node's name, or "#INDEX" if it has none */
	enum onnx_op op;
	int n_inputs;
	int *inputs; /* value indices; -1 for an omitted optional input */
	int n_outputs;
	int *outputs;                /* value indices */
	int64_t axis;                /* Q/DQ, Concat, Flatten, Softmax */
	struct onnx_conv_attrs conv; /* convolutions and pools */
	int64_t ceil_mode;           /* pools: output size rounded up */
	int64_t count_include_pad;   /* AveragePool: padding counts as taps */
	int64_t trans_a, trans_b;    /* Gemm; trans_b also a folded QLinearMatMul */
	float alpha, beta;           /* Gemm */
	float epsilon;               /* BatchNormalization */
	int version;                 /* the op's version in the model's opset ("since" version) */
	int softmax_2d;              /* Softmax before opset 13: rows of the 2-D view at axis */
	int clip_attrs;              /* Clip before opset 11: bounds from clip_min, clip_max */
	float clip_min, clip_max;    /* (attributes, default -FLT_MAX and FLT_MAX) */
	int n_axes;                  /* ReduceMean's axes attribute (before 18); -1: absent */
	int64_t axes[ONNX_MAX_DIMS];
	int64_t keepdims;             /* ReduceMean */
	int64_t noop_with_empty_axes; /* ReduceMean (18+) */
	enum onnx_dtype q_dtype;      /* QuantizeLinear's output_dtype (21+), or UNKNOWN */
	int fused_relu;               /* folded QLinear op: a Relu before the output's Q */
	int folded;                   /* QLinear op folded from a QDQ pattern (see below) */
};

/*
 * QDQ folding. At load time the importer rewrites
 *
 *   DequantizeLinear(x) -> Conv | MatMul | Gemm [-> Relu] -> QuantizeLinear
 *
 * with DequantizeLinear'd weights (an int8 or uint8 initializer, scales
 * per tensor or per output channel) and an optional DequantizeLinear'd
 * int32 bias (zero point 0, scale = x scale * weight scale, bit for bit)
 * into one QLinearConv or QLinearMatMul node, which runs on the device. A
 * folded QLinearMatMul may carry the bias as a ninth input (int32, N) and
 * a transposed weight (trans_b: (N, K), from Gemm's transB); fused_relu
 * clamps the output from below at its zero point, which is exactly
 * Relu-then-quantize (a Clip with min 0 folds like a Relu when the
 * QuantizeLinear saturates at or below its max). Likewise
 *
 *   DequantizeLinear -> MaxPool | Flatten | Reshape -> QuantizeLinear
 *
 * with the same per-tensor scale and zero point on both sides becomes the
 * MaxPool, Flatten or Reshape alone on the 8-bit values (exact: those ops
 * only pick or move values). Patterns that do not fit are left as they
 * are and run as float ops, with the same results up to float rounding.
 */

struct onnx_model {
	char *path;    /* file it was loaded from */
	int64_t opset; /* of the default domain */
	int n_values;
	struct onnx_value *values;
	int n_nodes;
	struct onnx_node *nodes; /* in topological order */
	int n_inputs;
	int *inputs; /* graph inputs to feed (initializers excluded) */
	int n_outputs;
	int *outputs;
};

/* Loads and checks a model file (at most ONNX_MAX_FILE_BYTES). Returns
 * SAMPAN_OK, SAMPAN_ERROR_IO (cannot read), SAMPAN_ERROR_INVALID (malformed
 * or inconsistent model), SAMPAN_ERROR_NOT_SUPPORTED (valid ONNX this
 * runtime cannot run: op, opset, type, attribute) or SAMPAN_ERROR_NO_MEM;
 * on failure @err holds a message that starts with @path and names the node
 * or tensor at fault, and @model is untouched. */
int onnx_model_load(const char *path, struct onnx_model **model, char *err, size_t err_size);

/* The same from a serialized ModelProto in memory; @name stands for the
 * file name in messages. */
int onnx_model_load_buffer(const void *data, size_t len, const char *name,
                           struct onnx_model **model, char *err, size_t err_size);

/* NULL is a no-op. */
void onnx_model_destroy(struct onnx_model *model);

#endif /* SAMPAN_HOST_ONNX_MODEL_H */
