/*
 * onnx_import.c - reads .onnx files into the graph IR of onnx_model.h:
 * the op table (versions, inputs, attributes), the checks, the node order;
 * then the QDQ folding rewrite (qdq_fold.c). Tensors are in tensor.c.
 *
 * Parsing is protobuf-c's, on bindings generated at build time from the
 * onnx.proto of Debian's python3-onnx. Everything after parsing is checked
 * here: element types, shapes and sizes of initializers, attributes, that
 * every input refers to something (no dangling names), that the graph has
 * no cycle, and that every op is one the runtime executes, so that a model
 * that loads can run.
 */
#include "onnx/onnx_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "onnx.pb-c.h"
#include "sampan.h"

static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats a message into @err and returns @code. */
static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return code;
}

/* Reads a whole regular file of at most ONNX_MAX_FILE_BYTES. */
static int read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t err_size)
{
	return file_read_all(path, ONNX_MAX_FILE_BYTES, data, len, err, err_size);
}

/* ------------------------------------------------------------------- ops */

#define T_FLOAT (1u << ONNX_DT_FLOAT)
#define T_U8 (1u << ONNX_DT_UINT8)
#define T_I8 (1u << ONNX_DT_INT8)
#define T_I32 (1u << ONNX_DT_INT32)
#define T_Q (T_U8 | T_I8)
#define T_I64 (1u << ONNX_DT_INT64)
#define T_F T_FLOAT
#define T_ALL (T_FLOAT | T_U8 | T_I8 | T_I32 | T_I64)

/* 1 + the index of an input, for the fields below where 0 means none. */
#define INPUT(i) ((i) + 1)

/* What the importer knows of an op: inputs with their allowed types, and
 * where the output's type comes from. */
struct op_input {
	const char *name;
	unsigned types; /* mask of 1 << dtype */
	int same_as;    /* INPUT(i) of an input whose type this one shares, or 0 */
	bool optional;
};

/* Attributes each op takes, as " name name ... " (see parse_attr); which
 * of them exist in which version of the op is in attr_versions[]. */
#define A_CONV " kernel_shape strides dilations pads group auto_pad "
#define A_POOL " kernel_shape strides pads auto_pad ceil_mode "

/* Most "since" versions of one op up to ONNX_OPSET_MAX. */
#define OP_MAX_VERSIONS 8

struct op_desc {
	const char *name;
	enum onnx_op op;
	/* The op's versions ("since" opsets) up to ONNX_OPSET_MAX, ascending;
	 * a node runs with the last one not above the model's opset. */
	int versions[OP_MAX_VERSIONS];
	int n_in;
	struct op_input in[9];
	const char *attrs;         /* accepted attributes */
	int out_from;              /* INPUT(i) whose type the output has, or 0 */
	enum onnx_dtype out_dtype; /* otherwise (or when that input is omitted) */
	bool variadic;             /* the last input repeats (Concat) */
};

static const struct op_desc op_table[] = {
    {
        .name = "QLinearMatMul",
        .op = ONNX_OP_QLINEARMATMUL,
        .versions = {10, 21},
        .n_in = 8,
        .in = {{"a", T_Q},
               {"a_scale", T_FLOAT},
               {"a_zero_point", T_Q, INPUT(0)},
               {"b", T_Q},
               {"b_scale", T_FLOAT},
               {"b_zero_point", T_Q, INPUT(3)},
               {"y_scale", T_FLOAT},
               {"y_zero_point", T_Q}},
        .attrs = "",
        .out_from = INPUT(7),
    },
    {
        .name = "MatMulInteger",
        .op = ONNX_OP_MATMULINTEGER,
        .versions = {10},
        .n_in = 4,
        .in = {{"A", T_Q},
               {"B", T_Q},
               {"a_zero_point", T_Q, INPUT(0), true},
               {"b_zero_point", T_Q, INPUT(1), true}},
        .attrs = "",
        .out_dtype = ONNX_DT_INT32,
    },
    {
        .name = "QLinearConv",
        .op = ONNX_OP_QLINEARCONV,
        .versions = {10},
        .n_in = 9,
        .in = {{"x", T_Q},
               {"x_scale", T_FLOAT},
               {"x_zero_point", T_Q, INPUT(0)},
               {"w", T_Q},
               {"w_scale", T_FLOAT},
               {"w_zero_point", T_Q, INPUT(3)},
               {"y_scale", T_FLOAT},
               {"y_zero_point", T_Q},
               {"B", T_I32, 0, true}},
        .attrs = A_CONV,
        .out_from = INPUT(7),
    },
    {
        .name = "ConvInteger",
        .op = ONNX_OP_CONVINTEGER,
        .versions = {10},
        .n_in = 4,
        .in = {{"x", T_Q},
               {"w", T_Q},
               {"x_zero_point", T_Q, INPUT(0), true},
               {"w_zero_point", T_Q, INPUT(1), true}},
        .attrs = A_CONV,
        .out_dtype = ONNX_DT_INT32,
    },
    {
        .name = "QuantizeLinear",
        .op = ONNX_OP_QUANTIZELINEAR,
        .versions = {10, 13, 19, 21},
        .n_in = 3,
        .in = {{"x", T_FLOAT}, {"y_scale", T_FLOAT}, {"y_zero_point", T_Q, 0, true}},
        .attrs = " axis saturate block_size output_dtype ",
        .out_from = INPUT(2),
        .out_dtype = ONNX_DT_UINT8,
    },
    {
        .name = "DequantizeLinear",
        .op = ONNX_OP_DEQUANTIZELINEAR,
        .versions = {10, 13, 19, 21},
        .n_in = 3,
        .in = {{"x", T_Q | T_I32},
               {"x_scale", T_FLOAT},
               {"x_zero_point", T_Q | T_I32, INPUT(0), true}},
        .attrs = " axis block_size ",
        .out_dtype = ONNX_DT_FLOAT,
    },
    {
        .name = "MaxPool",
        .op = ONNX_OP_MAXPOOL,
        .versions = {1, 8, 10, 11, 12},
        .n_in = 1,
        .in = {{"X", T_F | T_Q}},
        .attrs = A_POOL "dilations storage_order ",
        .out_from = INPUT(0),
    },
    {
        .name = "AveragePool",
        .op = ONNX_OP_AVERAGEPOOL,
        .versions = {1, 7, 10, 11, 19},
        .n_in = 1,
        .in = {{"X", T_F}},
        .attrs = A_POOL "count_include_pad dilations ",
        .out_from = INPUT(0),
    },
    {
        .name = "GlobalAveragePool",
        .op = ONNX_OP_GLOBALAVERAGEPOOL,
        .versions = {1},
        .n_in = 1,
        .in = {{"X", T_F}},
        .attrs = "",
        .out_from = INPUT(0),
    },
    {
        .name = "Add",
        .op = ONNX_OP_ADD,
        .versions = {1, 6, 7, 13, 14},
        .n_in = 2,
        .in = {{"A", T_ALL}, {"B", T_ALL, INPUT(0)}},
        .attrs = "",
        .out_from = INPUT(0),
    },
    {
        .name = "Concat",
        .op = ONNX_OP_CONCAT,
        .versions = {1, 4, 11, 13},
        .n_in = 1,
        .in = {{"inputs", T_ALL, INPUT(0)}},
        .attrs = " axis ",
        .out_from = INPUT(0),
        .variadic = true,
    },
    {
        .name = "Flatten",
        .op = ONNX_OP_FLATTEN,
        .versions = {1, 9, 11, 13, 21},
        .n_in = 1,
        .in = {{"input", T_ALL}},
        .attrs = " axis ",
        .out_from = INPUT(0),
    },
    {
        .name = "Reshape",
        .op = ONNX_OP_RESHAPE,
        .versions = {1, 5, 13, 14, 19, 21},
        .n_in = 2,
        .in = {{"data", T_ALL}, {"shape", T_I64}},
        .attrs = " allowzero ",
        .out_from = INPUT(0),
    },
    {
        .name = "Relu",
        .op = ONNX_OP_RELU,
        .versions = {1, 6, 13, 14},
        .n_in = 1,
        .in = {{"X", T_F | T_I8 | T_I32 | T_I64}},
        .attrs = "",
        .out_from = INPUT(0),
    },
    {
        .name = "Clip",
        .op = ONNX_OP_CLIP,
        .versions = {1, 6, 11, 12, 13},
        .n_in = 3,
        .in = {{"input", T_F | T_Q | T_I32 | T_I64},
               {"min", T_F | T_Q | T_I32 | T_I64, INPUT(0), true},
               {"max", T_F | T_Q | T_I32 | T_I64, INPUT(0), true}},
        .attrs = " min max ",
        .out_from = INPUT(0),
    },
    {
        .name = "Softmax",
        .op = ONNX_OP_SOFTMAX,
        .versions = {1, 11, 13},
        .n_in = 1,
        .in = {{"input", T_F}},
        .attrs = " axis ",
        .out_from = INPUT(0),
    },
    {
        .name = "Gemm",
        .op = ONNX_OP_GEMM,
        .versions = {1, 6, 7, 9, 11, 13},
        .n_in = 3,
        .in = {{"A", T_F}, {"B", T_F}, {"C", T_F, 0, true}},
        .attrs = " alpha beta transA transB ",
        .out_from = INPUT(0),
    },
    {
        .name = "MatMul",
        .op = ONNX_OP_MATMUL,
        .versions = {1, 9, 13},
        .n_in = 2,
        .in = {{"A", T_F}, {"B", T_F}},
        .attrs = "",
        .out_from = INPUT(0),
    },
    {
        .name = "Conv",
        .op = ONNX_OP_CONV,
        .versions = {1, 11},
        .n_in = 3,
        .in = {{"X", T_F}, {"W", T_F}, {"B", T_F, 0, true}},
        .attrs = A_CONV,
        .out_from = INPUT(0),
    },
    {
        .name = "BatchNormalization",
        .op = ONNX_OP_BATCHNORM,
        .versions = {1, 6, 7, 9, 14, 15},
        .n_in = 5,
        .in = {{"X", T_F}, {"scale", T_F}, {"B", T_F}, {"input_mean", T_F}, {"input_var", T_F}},
        .attrs = " epsilon momentum training_mode spatial ",
        .out_from = INPUT(0),
    },
    {
        .name = "ReduceMean",
        .op = ONNX_OP_REDUCEMEAN,
        .versions = {1, 11, 13, 18},
        .n_in = 2,
        .in = {{"data", T_F}, {"axes", T_I64, 0, true}},
        .attrs = " axes keepdims noop_with_empty_axes ",
        .out_from = INPUT(0),
    },
};

#define N_OPS (sizeof(op_table) / sizeof(op_table[0]))

const char *onnx_op_name(enum onnx_op op)
{
	for (size_t i = 0; i < N_OPS; i++)
		if (op_table[i].op == op)
			return op_table[i].name;
	return "?";
}

/*
 * What changed between versions of an op, beyond what the runtime reads
 * from onnx_node.version: attributes that exist only in some versions, and
 * input types added by a version. Version ranges are of "since" versions,
 * inclusive.
 */
struct attr_version {
	enum onnx_op op;
	const char *attr;
	int first, last;
};

static const struct attr_version attr_versions[] = {
    {ONNX_OP_MAXPOOL, "storage_order", 8, ONNX_OPSET_MAX},
    {ONNX_OP_MAXPOOL, "ceil_mode", 10, ONNX_OPSET_MAX},
    {ONNX_OP_MAXPOOL, "dilations", 10, ONNX_OPSET_MAX},
    {ONNX_OP_AVERAGEPOOL, "count_include_pad", 7, ONNX_OPSET_MAX},
    {ONNX_OP_AVERAGEPOOL, "ceil_mode", 10, ONNX_OPSET_MAX},
    {ONNX_OP_AVERAGEPOOL, "dilations", 19, ONNX_OPSET_MAX},
    {ONNX_OP_RESHAPE, "allowzero", 14, ONNX_OPSET_MAX},
    {ONNX_OP_CLIP, "min", 1, 6},
    {ONNX_OP_CLIP, "max", 1, 6},
    {ONNX_OP_BATCHNORM, "spatial", 1, 7},
    {ONNX_OP_BATCHNORM, "training_mode", 14, ONNX_OPSET_MAX},
    {ONNX_OP_QUANTIZELINEAR, "axis", 13, ONNX_OPSET_MAX},
    {ONNX_OP_QUANTIZELINEAR, "saturate", 19, ONNX_OPSET_MAX},
    {ONNX_OP_QUANTIZELINEAR, "block_size", 21, ONNX_OPSET_MAX},
    {ONNX_OP_QUANTIZELINEAR, "output_dtype", 21, ONNX_OPSET_MAX},
    {ONNX_OP_DEQUANTIZELINEAR, "axis", 13, ONNX_OPSET_MAX},
    {ONNX_OP_DEQUANTIZELINEAR, "block_size", 21, ONNX_OPSET_MAX},
    {ONNX_OP_REDUCEMEAN, "axes", 1, 13},
    {ONNX_OP_REDUCEMEAN, "noop_with_empty_axes", 18, ONNX_OPSET_MAX},
};

/* Types of an op's input (and of the inputs sharing its type) that only
 * versions from @since accept. */
struct type_version {
	enum onnx_op op;
	int input;
	unsigned types;
	int since;
};

static const struct type_version type_versions[] = {
    {ONNX_OP_ADD, 0, T_Q, 14},
    {ONNX_OP_RELU, 0, T_I8 | T_I32 | T_I64, 14},
    {ONNX_OP_MAXPOOL, 0, T_Q, 12},
    {ONNX_OP_CLIP, 0, T_Q | T_I32 | T_I64, 12},
    {ONNX_OP_FLATTEN, 0, T_ALL & ~T_F, 9},
};

/* ----------------------------------------------------------------- loader */

struct loader {
	const char *path;
	char *err;
	size_t err_size;
	struct onnx_model *m;
	int value_cap;
	int *table; /* open-addressing hash of value names -> index, -1 empty */
	size_t table_mask;
};

static int lfail(struct loader *ld, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats "PATH: message" into the loader's error buffer; returns @code. */
static int lfail(struct loader *ld, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ld->err, ld->err_size, "%s: ", ld->path);
	if (n < 0 || (size_t)n >= ld->err_size)
		return code;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->err_size - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* Index of the value named @name, or -1. */
static int find_value(const struct loader *ld, const char *name)
{
	for (size_t i = hash_name(name) & ld->table_mask;; i = (i + 1) & ld->table_mask) {
		int v = ld->table[i];

		if (v < 0)
			return -1;
		if (strcmp(ld->m->values[v].name, name) == 0)
			return v;
	}
}

/* Adds a value named @name (which must be new); returns its index or a
 * negative error. */
static int add_value(struct loader *ld, const char *name)
{
	struct onnx_value *v;
	size_t i;

	if (ld->m->n_values >= ld->value_cap)
		return lfail(ld, SAMPAN_ERROR_INVALID, "internal: value table full");
	v = &ld->m->values[ld->m->n_values];
	memset(v, 0, sizeof(*v));
	v->name = strdup(name);
	if (!v->name)
		return lfail(ld, SAMPAN_ERROR_NO_MEM, "out of memory");
	v->ndim = -1;
	v->producer = -1;
	for (i = hash_name(name) & ld->table_mask; ld->table[i] >= 0; i = (i + 1) & ld->table_mask)
		;
	ld->table[i] = ld->m->n_values;
	return ld->m->n_values++;
}

/* Reads the declared type of a graph input or output into @v. */
static int read_value_info(struct loader *ld, const Onnx__ValueInfoProto *vi, struct onnx_value *v,
                           const char *kind)
{
	const Onnx__TypeProto__Tensor *tt;
	const Onnx__TensorShapeProto *shape;

	if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
	    !vi->type->tensor_type)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED, "%s '%s' is not a tensor", kind,
		             vi->name);
	tt = vi->type->tensor_type;
	if (!tt->has_elem_type || onnx_dtype_size(tt->elem_type) == 0)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "%s '%s': element type %d is not supported", kind, vi->name,
		             tt->has_elem_type ? (int)tt->elem_type : 0);
	v->dtype = (enum onnx_dtype)tt->elem_type;
	shape = tt->shape;
	if (!shape)
		return SAMPAN_OK;
	if (shape->n_dim > ONNX_MAX_DIMS)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "%s '%s': %zu dimensions (at most %d are supported)", kind, vi->name,
		             shape->n_dim, ONNX_MAX_DIMS);
	v->ndim = (int)shape->n_dim;
	for (size_t i = 0; i < shape->n_dim; i++) {
		const Onnx__TensorShapeProto__Dimension *d = shape->dim[i];

		if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
			if (d->dim_value < 1 || d->dim_value > ONNX_MAX_ELEMENTS)
				return lfail(ld, SAMPAN_ERROR_INVALID,
				             "%s '%s': dimension %zu is %lld", kind, vi->name, i,
				             (long long)d->dim_value);
			v->dims[i] = d->dim_value;
		} else {
			v->dims[i] = -1;
		}
	}
	return SAMPAN_OK;
}

bool onnx_value_matches(const struct onnx_value *v, const struct onnx_tensor *t)
{
	if (v->dtype != ONNX_DT_UNKNOWN && v->dtype != t->dtype)
		return false;
	if (v->ndim < 0)
		return true;
	if (v->ndim != t->ndim)
		return false;
	for (int i = 0; i < t->ndim; i++)
		if (v->dims[i] >= 0 && v->dims[i] != t->dims[i])
			return false;
	return true;
}

/* ------------------------------------------------------------- attributes */

/* Copies an INTS attribute of exactly @n values, each in [lo, hi]. */
static int attr_ints(struct loader *ld, const struct onnx_node *node, const Onnx__AttributeProto *a,
                     size_t n, int64_t lo, int64_t hi, int64_t *out)
{
	if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s': attribute '%s' is not a list of ints", node->name,
		             a->name);
	if (a->n_ints != n)
		return lfail(
		    ld, SAMPAN_ERROR_NOT_SUPPORTED,
		    "node '%s' (%s): attribute '%s' has %zu values, expected %zu (only 2-D "
		    "convolutions and pools are supported)",
		    node->name, onnx_op_name(node->op), a->name, a->n_ints, n);
	for (size_t i = 0; i < n; i++) {
		if (a->ints[i] < lo || a->ints[i] > hi)
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "node '%s': attribute '%s' value %lld is outside [%lld, %lld]",
			             node->name, a->name, (long long)a->ints[i], (long long)lo,
			             (long long)hi);
		out[i] = a->ints[i];
	}
	return SAMPAN_OK;
}

/* Largest kernel, stride, dilation or pad accepted. */
#define CONV_ATTR_MAX 65536

/* Whether @a is an INT attribute; reports it otherwise. */
static int attr_int(struct loader *ld, const struct onnx_node *node, const Onnx__AttributeProto *a,
                    int64_t lo, int64_t hi, int64_t *out)
{
	if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT || a->i < lo || a->i > hi)
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s' (%s): attribute '%s' must be an int in [%lld, %lld]",
		             node->name, onnx_op_name(node->op), a->name, (long long)lo,
		             (long long)hi);
	*out = a->i;
	return SAMPAN_OK;
}

static int attr_float(struct loader *ld, const struct onnx_node *node,
                      const Onnx__AttributeProto *a, float *out)
{
	if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT || !isfinite(a->f))
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s' (%s): attribute '%s' must be a finite float", node->name,
		             onnx_op_name(node->op), a->name);
	*out = a->f;
	return SAMPAN_OK;
}

/* An attribute that must keep its default: anything else is refused. */
static int attr_default_only(struct loader *ld, const struct onnx_node *node,
                             const Onnx__AttributeProto *a, int64_t def)
{
	int64_t v = def;
	int ret = attr_int(ld, node, a, INT64_MIN, INT64_MAX, &v);

	if (ret)
		return ret;
	if (v != def)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "node '%s' (%s): attribute '%s' = %lld is not supported (only %lld)",
		             node->name, onnx_op_name(node->op), a->name, (long long)v,
		             (long long)def);
	return SAMPAN_OK;
}

/* Parses attribute @a, one the op accepts (checked by the caller). */
static int parse_attr(struct loader *ld, struct onnx_node *node, const Onnx__AttributeProto *a)
{
	struct onnx_conv_attrs *c = &node->conv;
	int64_t ignored_int;
	float ignored;

	if (strcmp(a->name, "kernel_shape") == 0)
		return attr_ints(ld, node, a, 2, 1, CONV_ATTR_MAX, c->kernel);
	if (strcmp(a->name, "strides") == 0)
		return attr_ints(ld, node, a, 2, 1, CONV_ATTR_MAX, c->strides);
	if (strcmp(a->name, "dilations") == 0)
		return attr_ints(ld, node, a, 2, 1, CONV_ATTR_MAX, c->dilations);
	if (strcmp(a->name, "pads") == 0)
		return attr_ints(ld, node, a, 4, 0, CONV_ATTR_MAX, c->pads);
	if (strcmp(a->name, "group") == 0)
		return attr_int(ld, node, a, 1, CONV_ATTR_MAX, &c->group);
	if (strcmp(a->name, "axis") == 0)
		return attr_int(ld, node, a, -ONNX_MAX_DIMS, ONNX_MAX_DIMS, &node->axis);
	if (strcmp(a->name, "ceil_mode") == 0)
		return attr_int(ld, node, a, 0, 1, &node->ceil_mode);
	if (strcmp(a->name, "count_include_pad") == 0)
		return attr_int(ld, node, a, 0, 1, &node->count_include_pad);
	if (strcmp(a->name, "transA") == 0)
		return attr_int(ld, node, a, 0, 1, &node->trans_a);
	if (strcmp(a->name, "transB") == 0)
		return attr_int(ld, node, a, 0, 1, &node->trans_b);
	if (strcmp(a->name, "alpha") == 0)
		return attr_float(ld, node, a, &node->alpha);
	if (strcmp(a->name, "beta") == 0)
		return attr_float(ld, node, a, &node->beta);
	if (strcmp(a->name, "epsilon") == 0)
		return attr_float(ld, node, a, &node->epsilon);
	if (strcmp(a->name, "momentum") == 0) /* training only */
		return attr_float(ld, node, a, &ignored);
	if (strcmp(a->name, "min") == 0) /* Clip before 11 */
		return attr_float(ld, node, a, &node->clip_min);
	if (strcmp(a->name, "max") == 0)
		return attr_float(ld, node, a, &node->clip_max);
	if (strcmp(a->name, "keepdims") == 0)
		return attr_int(ld, node, a, 0, 1, &node->keepdims);
	if (strcmp(a->name, "noop_with_empty_axes") == 0)
		return attr_int(ld, node, a, 0, 1, &node->noop_with_empty_axes);
	if (strcmp(a->name, "axes") == 0) {
		if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS ||
		    a->n_ints > ONNX_MAX_DIMS)
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "node '%s' (%s): attribute 'axes' must be a list of at most "
			             "%d ints",
			             node->name, onnx_op_name(node->op), ONNX_MAX_DIMS);
		node->n_axes = (int)a->n_ints;
		return attr_ints(ld, node, a, a->n_ints, -ONNX_MAX_DIMS, ONNX_MAX_DIMS - 1,
		                 node->axes);
	}
	/* Saturation only differs for float8 outputs, which are not supported. */
	if (strcmp(a->name, "saturate") == 0)
		return attr_int(ld, node, a, 0, 1, &ignored_int);
	if (strcmp(a->name, "output_dtype") == 0) {
		int64_t t = 0;
		int ret = attr_int(ld, node, a, 0, INT32_MAX, &t);

		if (ret)
			return ret;
		if (t != 0 && t != ONNX_DT_UINT8 && t != ONNX_DT_INT8)
			return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
			             "node '%s' (%s): output_dtype %lld is not supported (uint8 "
			             "and int8 are)",
			             node->name, onnx_op_name(node->op), (long long)t);
		node->q_dtype = (enum onnx_dtype)t;
		return SAMPAN_OK;
	}
	/* Blocked quantization (21) is not supported: only whole axes. */
	if (strcmp(a->name, "block_size") == 0)
		return attr_default_only(ld, node, a, 0);
	if (strcmp(a->name, "spatial") == 0) /* BatchNormalization before 9 */
		return attr_default_only(ld, node, a, 1);
	/* A shape of 0 would make an empty tensor, which the runtime has not. */
	if (strcmp(a->name, "allowzero") == 0 || strcmp(a->name, "storage_order") == 0 ||
	    strcmp(a->name, "training_mode") == 0)
		return attr_default_only(ld, node, a, 0);
	if (strcmp(a->name, "auto_pad") == 0) {
		static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

		if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "node '%s': attribute 'auto_pad' is not a string", node->name);
		for (int i = 0; i < 4; i++) {
			if (a->s.len == strlen(names[i]) &&
			    memcmp(a->s.data, names[i], a->s.len) == 0) {
				c->auto_pad = (enum onnx_auto_pad)i;
				return SAMPAN_OK;
			}
		}
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s': auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID",
		             node->name);
	}
	return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
	             "node '%s' (%s): attribute '%s' is not supported", node->name,
	             onnx_op_name(node->op), a->name);
}

/* Whether attribute @name exists in the node's version of its op. */
static int check_attr_version(struct loader *ld, const struct onnx_node *node,
                              const struct op_desc *desc, const char *name)
{
	for (size_t i = 0; i < sizeof(attr_versions) / sizeof(attr_versions[0]); i++) {
		const struct attr_version *av = &attr_versions[i];

		if (av->op != node->op || strcmp(av->attr, name) != 0)
			continue;
		if (node->version < av->first || node->version > av->last)
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "node '%s' (%s-%d, opset %lld): attribute '%s' does not exist "
			             "in this version of the op",
			             node->name, desc->name, node->version, (long long)ld->m->opset,
			             name);
	}
	return SAMPAN_OK;
}

static int parse_attrs(struct loader *ld, struct onnx_node *node, const struct op_desc *desc,
                       const Onnx__NodeProto *np)
{
	bool has_axis = false;
	char key[80];

	node->conv = (struct onnx_conv_attrs){
	    .strides = {1, 1}, .dilations = {1, 1}, .group = 1, .auto_pad = ONNX_PAD_NOTSET};
	node->axis = 1;
	node->alpha = 1.0f;
	node->beta = 1.0f;
	node->epsilon = 1e-5f;
	node->clip_attrs = node->op == ONNX_OP_CLIP && node->version < 11;
	node->clip_min = -FLT_MAX;
	node->clip_max = FLT_MAX;
	node->n_axes = -1;
	node->keepdims = 1;
	if (node->op == ONNX_OP_SOFTMAX) {
		node->softmax_2d = node->version < 13;
		node->axis = node->softmax_2d ? 1 : -1;
	}
	for (size_t i = 0; i < np->n_attribute; i++) {
		const Onnx__AttributeProto *a = np->attribute[i];
		int ret;

		if (!a->name || a->ref_attr_name)
			return lfail(ld, SAMPAN_ERROR_INVALID, "node '%s': malformed attribute",
			             node->name);
		snprintf(key, sizeof(key), " %.64s ", a->name);
		if (!strstr(desc->attrs, key))
			return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
			             "node '%s' (%s): attribute '%s' is not supported", node->name,
			             desc->name, a->name);
		ret = check_attr_version(ld, node, desc, a->name);
		if (ret)
			return ret;
		ret = parse_attr(ld, node, a);
		if (ret)
			return ret;
		has_axis |= strcmp(a->name, "axis") == 0;
	}
	if (node->op == ONNX_OP_CONCAT && !has_axis)
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s' (Concat): attribute 'axis' is required", node->name);
	if ((node->op == ONNX_OP_MAXPOOL || node->op == ONNX_OP_AVERAGEPOOL) &&
	    node->conv.kernel[0] == 0)
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s' (%s): attribute 'kernel_shape' is required", node->name,
		             desc->name);
	return SAMPAN_OK;
}

/* ------------------------------------------------------------------ nodes */

static const struct op_desc *find_op(const char *op_type)
{
	for (size_t i = 0; i < N_OPS; i++)
		if (strcmp(op_table[i].name, op_type) == 0)
			return &op_table[i];
	return NULL;
}

/* The version of @desc's op in @opset (its last "since" version not above
 * it), or 0 if the op does not exist yet. */
static int op_version(const struct op_desc *desc, int64_t opset)
{
	int v = 0;

	for (int i = 0; i < OP_MAX_VERSIONS && desc->versions[i]; i++)
		if (desc->versions[i] <= opset)
			v = desc->versions[i];
	return v;
}

/* Writes the names of the ops the runtime executes, comma separated. */
static const char *supported_ops(char *list, size_t size)
{
	size_t len = 0;

	list[0] = 0;
	for (size_t i = 0; i < N_OPS && len < size; i++)
		len += (size_t)snprintf(list + len, size - len, "%s%s", i ? ", " : "",
		                        op_table[i].name);
	return list;
}

/* Builds node @idx from @np: op, inputs (resolved later), attributes. */
static int read_node(struct loader *ld, int idx, const Onnx__NodeProto *np)
{
	struct onnx_node *node = &ld->m->nodes[idx];
	const struct op_desc *desc;
	char name[32], ops[512];
	int n_in, max_in;

	snprintf(name, sizeof(name), "#%d", idx);
	node->name = strdup(np->name && np->name[0] ? np->name : name);
	if (!node->name)
		return lfail(ld, SAMPAN_ERROR_NO_MEM, "out of memory");
	if (!np->op_type)
		return lfail(ld, SAMPAN_ERROR_INVALID, "node '%s' has no op_type", node->name);
	if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx") != 0)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "node '%s': unsupported op '%s' of domain '%s'", node->name,
		             np->op_type, np->domain);
	desc = find_op(np->op_type);
	if (!desc)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "node '%s': unsupported op '%s' (this runtime executes %s)",
		             node->name, np->op_type, supported_ops(ops, sizeof(ops)));
	node->op = desc->op;
	node->version = op_version(desc, ld->m->opset);
	if (!node->version)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "node '%s': op '%s' does not exist in opset %lld (it was added in "
		             "opset %d)",
		             node->name, desc->name, (long long)ld->m->opset, desc->versions[0]);
	max_in = desc->n_in;
	/* Clip's bounds and ReduceMean's axes were attributes before. */
	if ((node->op == ONNX_OP_CLIP && node->version < 11) ||
	    (node->op == ONNX_OP_REDUCEMEAN && node->version < 18))
		max_in = 1;
	n_in = desc->variadic ? (int)np->n_input : max_in;
	if (np->n_input > (size_t)(desc->variadic ? ONNX_MAX_NODE_INPUTS : max_in) || n_in < 1)
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s' (%s-%d): %zu inputs, expected 1 to %d", node->name,
		             desc->name, node->version, np->n_input,
		             desc->variadic ? ONNX_MAX_NODE_INPUTS : max_in);
	if (np->n_output < 1 || !np->output[0] || !np->output[0][0])
		return lfail(ld, SAMPAN_ERROR_INVALID, "node '%s' (%s): expected a named output",
		             node->name, desc->name);
	for (size_t o = 1; o < np->n_output; o++)
		if (np->output[o][0])
			return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
			             "node '%s' (%s): output %zu ('%s') is not supported (only the "
			             "first output is computed)",
			             node->name, desc->name, o, np->output[o]);
	node->n_inputs = n_in;
	node->inputs = malloc(sizeof(*node->inputs) * (size_t)n_in);
	node->outputs = malloc(sizeof(*node->outputs));
	if (!node->inputs || !node->outputs)
		return lfail(ld, SAMPAN_ERROR_NO_MEM, "out of memory");
	node->n_outputs = 1;
	for (int i = 0; i < n_in; i++) {
		const struct op_input *spec = &desc->in[i < desc->n_in ? i : desc->n_in - 1];
		const char *in = (size_t)i < np->n_input ? np->input[i] : "";

		if (!in[0]) {
			if (!spec->optional)
				return lfail(ld, SAMPAN_ERROR_INVALID,
				             "node '%s' (%s): required input '%s' is missing",
				             node->name, desc->name, spec->name);
			node->inputs[i] = -1;
			continue;
		}
		node->inputs[i] = find_value(ld, in);
		if (node->inputs[i] < 0)
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "node '%s' (%s): input '%s' is not a graph input, initializer "
			             "or node output",
			             node->name, desc->name, in);
	}
	/* Gemm's C is optional from 11. */
	if (node->op == ONNX_OP_GEMM && node->version < 11 && node->inputs[2] < 0)
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "node '%s' (Gemm-%d, opset %lld): input 'C' is required before "
		             "opset 11",
		             node->name, node->version, (long long)ld->m->opset);
	return parse_attrs(ld, node, desc, np);
}

/* Orders the nodes so that each follows the producers of its inputs
 * (Kahn's algorithm over a consumer list); a cycle is an error naming a
 * node on it. */
static int sort_nodes(struct loader *ld)
{
	struct onnx_model *m = ld->m;
	size_t nn = (size_t)m->n_nodes + 1, n_edges = 0;
	int *pending, *order, *first, *edges;
	struct onnx_node *sorted;
	int head = 0, tail = 0, ret = SAMPAN_OK;

	for (int c = 0; c < m->n_nodes; c++)
		n_edges += (size_t)m->nodes[c].n_inputs;
	pending = calloc(nn, sizeof(*pending));
	order = calloc(nn, sizeof(*order));
	first = calloc(nn + 1, sizeof(*first));
	edges = calloc(n_edges + 1, sizeof(*edges));
	sorted = calloc(nn, sizeof(*sorted));
	if (!pending || !order || !first || !edges || !sorted) {
		ret = lfail(ld, SAMPAN_ERROR_NO_MEM, "out of memory");
		goto out;
	}
	/* first[p] .. first[p + 1]: the consumers of node p's outputs (one
	 * entry per consuming input). */
	for (int c = 0; c < m->n_nodes; c++) {
		for (int i = 0; i < m->nodes[c].n_inputs; i++) {
			int v = m->nodes[c].inputs[i];

			if (v >= 0 && m->values[v].producer >= 0) {
				first[m->values[v].producer + 1]++;
				pending[c]++;
			}
		}
	}
	for (int p = 0; p < m->n_nodes; p++)
		first[p + 1] += first[p];
	for (int c = 0; c < m->n_nodes; c++) {
		for (int i = 0; i < m->nodes[c].n_inputs; i++) {
			int v = m->nodes[c].inputs[i];

			if (v >= 0 && m->values[v].producer >= 0)
				edges[first[m->values[v].producer] +
				      order[m->values[v].producer]++] = c;
		}
	}
	memset(order, 0, nn * sizeof(*order));
	for (int c = 0; c < m->n_nodes; c++)
		if (pending[c] == 0)
			order[tail++] = c;
	while (head < tail) {
		int p = order[head++];

		for (int e = first[p]; e < first[p + 1]; e++)
			if (--pending[edges[e]] == 0)
				order[tail++] = edges[e];
	}
	if (tail < m->n_nodes) {
		for (int c = 0; c < m->n_nodes; c++) {
			if (pending[c]) {
				ret = lfail(ld, SAMPAN_ERROR_INVALID,
				            "the graph has a cycle through node '%s'",
				            m->nodes[c].name);
				goto out;
			}
		}
	}
	/* Renumber: values' producers follow the nodes to their new places. */
	for (int i = 0; i < m->n_nodes; i++) {
		sorted[i] = m->nodes[order[i]];
		pending[order[i]] = i;
	}
	for (int v = 0; v < m->n_values; v++)
		if (m->values[v].producer >= 0)
			m->values[v].producer = pending[m->values[v].producer];
	free(m->nodes);
	m->nodes = sorted;
	sorted = NULL;
out:
	free(sorted);
	free(edges);
	free(first);
	free(order);
	free(pending);
	return ret;
}

/* Types of input @i of @node that its op's version accepts. */
static unsigned version_types(const struct onnx_node *node, const struct op_desc *desc, int i)
{
	const struct op_input *spec = &desc->in[i < desc->n_in ? i : desc->n_in - 1];
	unsigned types = spec->types;
	int base = spec->same_as ? spec->same_as - 1 : i;

	for (size_t t = 0; t < sizeof(type_versions) / sizeof(type_versions[0]); t++)
		if (type_versions[t].op == node->op && type_versions[t].input == base &&
		    node->version < type_versions[t].since)
			types &= ~type_versions[t].types;
	return types;
}

/* Checks input types along the sorted graph and derives output types. */
static int check_types(struct loader *ld)
{
	struct onnx_model *m = ld->m;

	for (int n = 0; n < m->n_nodes; n++) {
		struct onnx_node *node = &m->nodes[n];
		const struct op_desc *desc = find_op(onnx_op_name(node->op));
		struct onnx_value *out = &m->values[node->outputs[0]];

		for (int i = 0; i < node->n_inputs; i++) {
			const struct op_input *spec =
			    &desc->in[i < desc->n_in ? i : desc->n_in - 1];
			int v = node->inputs[i];
			enum onnx_dtype t;

			if (v < 0)
				continue;
			t = m->values[v].dtype;
			if (t == ONNX_DT_UNKNOWN)
				continue;
			if (!(spec->types & (1u << t)))
				return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
				             "node '%s' (%s): input '%s' ('%s') has type %s, which "
				             "is not supported here",
				             node->name, desc->name, spec->name, m->values[v].name,
				             onnx_dtype_name(t));
			if (!(version_types(node, desc, i) & (1u << t)))
				return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
				             "node '%s' (%s-%d, opset %lld): input '%s' ('%s') has "
				             "type %s, which this version of the op does not take",
				             node->name, desc->name, node->version,
				             (long long)m->opset, spec->name, m->values[v].name,
				             onnx_dtype_name(t));
			if (spec->same_as && node->inputs[spec->same_as - 1] >= 0) {
				enum onnx_dtype o =
				    m->values[node->inputs[spec->same_as - 1]].dtype;

				if (o != ONNX_DT_UNKNOWN && o != t)
					return lfail(
					    ld, SAMPAN_ERROR_INVALID,
					    "node '%s' (%s): input '%s' is %s but '%s' is %s",
					    node->name, desc->name, spec->name, onnx_dtype_name(t),
					    desc->in[spec->same_as - 1].name, onnx_dtype_name(o));
			}
		}
		out->dtype = desc->out_dtype;
		if (desc->out_from && node->inputs[desc->out_from - 1] >= 0)
			out->dtype = m->values[node->inputs[desc->out_from - 1]].dtype;
		if (node->op == ONNX_OP_QUANTIZELINEAR && node->q_dtype != ONNX_DT_UNKNOWN) {
			if (node->inputs[2] >= 0 && out->dtype != node->q_dtype)
				return lfail(ld, SAMPAN_ERROR_INVALID,
				             "node '%s' (QuantizeLinear): output_dtype %s differs "
				             "from the zero point's type %s",
				             node->name, onnx_dtype_name(node->q_dtype),
				             onnx_dtype_name(out->dtype));
			out->dtype = node->q_dtype;
		}
	}
	return SAMPAN_OK;
}

/* Finds the default-domain opset and checks it is one we run. */
static int check_opset(struct loader *ld, const Onnx__ModelProto *mp)
{
	bool found = false;

	for (size_t i = 0; i < mp->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *o = mp->opset_import[i];

		if (o->domain && o->domain[0] && strcmp(o->domain, "ai.onnx") != 0)
			continue;
		found = true;
		ld->m->opset = o->has_version ? o->version : 0;
	}
	if (!found)
		return lfail(ld, SAMPAN_ERROR_INVALID,
		             "no opset_import for the default ONNX domain");
	if (ld->m->opset < ONNX_OPSET_MIN || ld->m->opset > ONNX_OPSET_MAX)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "opset %lld is not supported (%d to %d are)", (long long)ld->m->opset,
		             ONNX_OPSET_MIN, ONNX_OPSET_MAX);
	return SAMPAN_OK;
}

/* Values: graph inputs, initializers (which may also be inputs), node
 * outputs; then nodes, graph outputs, order and types. */
static int build_graph(struct loader *ld, const Onnx__GraphProto *g)
{
	struct onnx_model *m = ld->m;
	size_t cap = g->n_input + g->n_initializer, slots = 16;
	char msg[512];
	int ret;

	for (size_t i = 0; i < g->n_node; i++)
		cap += g->node[i]->n_output;
	if (cap > (size_t)1 << 24 || g->n_node > (size_t)1 << 20)
		return lfail(ld, SAMPAN_ERROR_INVALID, "too many tensors or nodes");
	if (g->n_sparse_initializer)
		return lfail(ld, SAMPAN_ERROR_NOT_SUPPORTED,
		             "sparse initializers are not supported");
	while (slots < 2 * cap)
		slots *= 2;
	ld->value_cap = (int)cap;
	ld->table = malloc(slots * sizeof(*ld->table));
	m->values = calloc(cap + 1, sizeof(*m->values));
	m->nodes = calloc(g->n_node + 1, sizeof(*m->nodes));
	m->inputs = calloc(g->n_input + 1, sizeof(*m->inputs));
	m->outputs = calloc(g->n_output + 1, sizeof(*m->outputs));
	if (!ld->table || !m->values || !m->nodes || !m->inputs || !m->outputs)
		return lfail(ld, SAMPAN_ERROR_NO_MEM, "out of memory");
	memset(ld->table, 0xff, slots * sizeof(*ld->table));
	ld->table_mask = slots - 1;

	for (size_t i = 0; i < g->n_input; i++) {
		const Onnx__ValueInfoProto *vi = g->input[i];
		int v;

		if (!vi->name || !vi->name[0])
			return lfail(ld, SAMPAN_ERROR_INVALID, "graph input %zu has no name", i);
		if (find_value(ld, vi->name) >= 0)
			return lfail(ld, SAMPAN_ERROR_INVALID, "graph input '%s' is declared twice",
			             vi->name);
		v = add_value(ld, vi->name);
		if (v < 0)
			return v;
		ret = read_value_info(ld, vi, &m->values[v], "graph input");
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < g->n_initializer; i++) {
		const Onnx__TensorProto *tp = g->initializer[i];
		char what[300];
		int v;

		if (!tp->name || !tp->name[0])
			return lfail(ld, SAMPAN_ERROR_INVALID, "initializer %zu has no name", i);
		snprintf(what, sizeof(what), "initializer '%.256s'", tp->name);
		v = find_value(ld, tp->name);
		if (v < 0)
			v = add_value(ld, tp->name);
		if (v < 0)
			return v;
		if (m->values[v].init)
			return lfail(ld, SAMPAN_ERROR_INVALID, "%s is given twice", what);
		ret = onnx_tensor_decode(tp, what, &m->values[v].init, msg, sizeof(msg));
		if (ret)
			return lfail(ld, ret, "%s", msg);
		if (!onnx_value_matches(&m->values[v], m->values[v].init))
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "%s does not match the type or shape its graph input declares",
			             what);
		m->values[v].dtype = m->values[v].init->dtype;
		m->values[v].ndim = m->values[v].init->ndim;
		memcpy(m->values[v].dims, m->values[v].init->dims, sizeof(m->values[v].dims));
	}
	for (size_t n = 0; n < g->n_node; n++) {
		const Onnx__NodeProto *np = g->node[n];

		for (size_t o = 0; o < np->n_output; o++) {
			int v;

			if (!np->output[o][0])
				continue;
			if (find_value(ld, np->output[o]) >= 0)
				return lfail(ld, SAMPAN_ERROR_INVALID,
				             "tensor '%s' is produced twice (node %zu '%s')",
				             np->output[o], n, np->name ? np->name : "");
			v = add_value(ld, np->output[o]);
			if (v < 0)
				return v;
			m->values[v].producer = (int)n;
		}
	}
	for (size_t n = 0; n < g->n_node; n++) {
		m->n_nodes = (int)n + 1; /* so that destroy frees what read_node made */
		ret = read_node(ld, (int)n, g->node[n]);
		if (ret)
			return ret;
		m->nodes[n].outputs[0] = find_value(ld, g->node[n]->output[0]);
	}
	if (g->n_output == 0)
		return lfail(ld, SAMPAN_ERROR_INVALID, "the graph has no output");
	for (size_t i = 0; i < g->n_output; i++) {
		const Onnx__ValueInfoProto *vi = g->output[i];
		struct onnx_value decl = {.ndim = -1};
		int v = vi->name ? find_value(ld, vi->name) : -1;

		if (v < 0)
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "graph output '%s' is not computed by any node or given",
			             vi->name ? vi->name : "");
		ret = read_value_info(ld, vi, &decl, "graph output");
		if (ret)
			return ret;
		if (m->values[v].producer >= 0) {
			m->values[v].ndim = decl.ndim;
			memcpy(m->values[v].dims, decl.dims, sizeof(decl.dims));
		}
		m->values[v].dtype = m->values[v].dtype ? m->values[v].dtype : decl.dtype;
		m->outputs[m->n_outputs++] = v;
	}
	for (size_t i = 0; i < g->n_input; i++) {
		int v = find_value(ld, g->input[i]->name);

		if (!m->values[v].init)
			m->inputs[m->n_inputs++] = v;
	}
	ret = sort_nodes(ld);
	if (ret)
		return ret;
	ret = check_types(ld);
	if (ret)
		return ret;
	ret = onnx_fold_qdq(m);
	if (ret)
		return lfail(ld, ret, "out of memory");
	/* Declared output types must agree with what the ops produce. */
	for (size_t i = 0; i < g->n_output; i++) {
		const Onnx__TypeProto *tp = g->output[i]->type;
		int v = m->outputs[i];

		if (tp->tensor_type->elem_type != (int)m->values[v].dtype &&
		    m->values[v].dtype != ONNX_DT_UNKNOWN)
			return lfail(ld, SAMPAN_ERROR_INVALID,
			             "graph output '%s' is declared %s but computed as %s",
			             m->values[v].name, onnx_dtype_name(tp->tensor_type->elem_type),
			             onnx_dtype_name(m->values[v].dtype));
	}
	return SAMPAN_OK;
}

int onnx_model_load_buffer(const void *data, size_t len, const char *name,
                           struct onnx_model **model, char *err, size_t err_size)
{
	struct loader ld = {.path = name, .err = err, .err_size = err_size};
	Onnx__ModelProto *mp;
	int ret;

	if (len > ONNX_MAX_FILE_BYTES)
		return fail(err, err_size, SAMPAN_ERROR_INVALID,
		            "%s: larger than the %zu MiB limit", name, ONNX_MAX_FILE_BYTES >> 20);
	mp = onnx__model_proto__unpack(NULL, len, data);
	if (!mp)
		return fail(err, err_size, SAMPAN_ERROR_INVALID,
		            "%s: not an ONNX model (malformed or truncated protobuf)", name);
	ld.m = calloc(1, sizeof(*ld.m));
	if (!ld.m) {
		ret = fail(err, err_size, SAMPAN_ERROR_NO_MEM, "%s: out of memory", name);
		goto out_free_proto;
	}
	ld.m->path = strdup(name);
	if (!ld.m->path) {
		ret = lfail(&ld, SAMPAN_ERROR_NO_MEM, "out of memory");
		goto err_destroy;
	}
	if (!mp->graph) {
		ret = lfail(&ld, SAMPAN_ERROR_INVALID, "the model has no graph");
		goto err_destroy;
	}
	ret = check_opset(&ld, mp);
	if (ret)
		goto err_destroy;
	ret = build_graph(&ld, mp->graph);
	if (ret)
		goto err_destroy;
	*model = ld.m;
	goto out_free_table;

err_destroy:
	onnx_model_destroy(ld.m);
out_free_table:
	free(ld.table);
out_free_proto:
	onnx__model_proto__free_unpacked(mp, NULL);
	return ret;
}

int onnx_model_load(const char *path, struct onnx_model **model, char *err, size_t err_size)
{
	uint8_t *data;
	size_t len;
	int ret;

	ret = read_file(path, &data, &len, err, err_size);
	if (ret)
		return ret;
	ret = onnx_model_load_buffer(data, len, path, model, err, err_size);
	free(data);
	return ret;
}

void onnx_model_destroy(struct onnx_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_values; i++) {
		free(m->values[i].name);
		onnx_tensor_destroy(m->values[i].init);
	}
	for (int i = 0; i < m->n_nodes; i++) {
		free(m->nodes[i].name);
		free(m->nodes[i].inputs);
		free(m->nodes[i].outputs);
	}
	free(m->values);
	free(m->nodes);
	free(m->inputs);
	free(m->outputs);
	free(m->path);
	free(m);
}
