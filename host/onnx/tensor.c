/*
 * tensor.c - tensors (values of the graph): element types, creation, shapes
 * as text, and TensorProto decoding (initializers and the .pb files of the
 * ONNX backend tests).
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "onnx/onnx_internal.h"
#include "sampan.h"

/* ---------------------------------------------------------------- tensors */

const char *onnx_dtype_name(int dtype)
{
	switch (dtype) {
	case ONNX_DT_FLOAT:
		return "float";
	case ONNX_DT_UINT8:
		return "uint8";
	case ONNX_DT_INT8:
		return "int8";
	case ONNX_DT_INT32:
		return "int32";
	case ONNX_DT_INT64:
		return "int64";
	default:
		return "unknown";
	}
}

size_t onnx_dtype_size(int dtype)
{
	switch (dtype) {
	case ONNX_DT_FLOAT:
		return 4;
	case ONNX_DT_UINT8:
		return 1;
	case ONNX_DT_INT8:
		return 1;
	case ONNX_DT_INT32:
		return 4;
	case ONNX_DT_INT64:
		return 8;
	default:
		return 0;
	}
}

int onnx_tensor_create(struct onnx_tensor **t, enum onnx_dtype dtype, int ndim, const int64_t *dims)
{
	struct onnx_tensor *p;
	int64_t count = 1;

	if (ndim < 0 || ndim > ONNX_MAX_DIMS || onnx_dtype_size(dtype) == 0)
		return SAMPAN_ERROR_INVALID;
	for (int i = 0; i < ndim; i++) {
		if (dims[i] < 1 || dims[i] > ONNX_MAX_ELEMENTS / count)
			return SAMPAN_ERROR_INVALID;
		count *= dims[i];
	}
	p = malloc(sizeof(*p));
	if (!p)
		return SAMPAN_ERROR_NO_MEM;
	p->data = calloc((size_t)count, onnx_dtype_size(dtype));
	if (!p->data) {
		free(p);
		return SAMPAN_ERROR_NO_MEM;
	}
	p->dtype = dtype;
	p->ndim = ndim;
	for (int i = 0; i < ONNX_MAX_DIMS; i++)
		p->dims[i] = i < ndim ? dims[i] : 1;
	p->count = (size_t)count;
	*t = p;
	return SAMPAN_OK;
}

void onnx_tensor_destroy(struct onnx_tensor *t)
{
	if (!t)
		return;
	free(t->data);
	free(t);
}

const char *onnx_shape_str(int ndim, const int64_t *dims, char *buf, size_t size)
{
	size_t len = 0;

	len += (size_t)snprintf(buf, size, "[");
	for (int i = 0; i < ndim && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "",
		                        (long long)dims[i]);
	if (len < size)
		snprintf(buf + len, size - len, "]");
	return buf;
}

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

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int onnx_tensor_decode(const Onnx__TensorProto *tp, const char *what, struct onnx_tensor **out,
                       char *err, size_t err_size)
{
	struct onnx_tensor *t;
	int64_t dims[ONNX_MAX_DIMS];
	size_t item;
	int ret;

	if (!tp->has_data_type)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: no element type", what);
	item = onnx_dtype_size(tp->data_type);
	if (item == 0)
		return fail(
		    err, err_size, SAMPAN_ERROR_NOT_SUPPORTED,
		    "%s: element type %d is not supported (float, uint8, int8, int32, int64 are)",
		    what, (int)tp->data_type);
	if (tp->has_data_location &&
	    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return fail(err, err_size, SAMPAN_ERROR_NOT_SUPPORTED,
		            "%s: external data is not supported", what);
	if (tp->segment)
		return fail(err, err_size, SAMPAN_ERROR_NOT_SUPPORTED,
		            "%s: segmented tensors are not supported", what);
	if (tp->n_dims > ONNX_MAX_DIMS)
		return fail(err, err_size, SAMPAN_ERROR_NOT_SUPPORTED,
		            "%s: %zu dimensions (at most %d are supported)", what, tp->n_dims,
		            ONNX_MAX_DIMS);
	for (size_t i = 0; i < tp->n_dims; i++) {
		if (tp->dims[i] < 0)
			return fail(err, err_size, SAMPAN_ERROR_INVALID,
			            "%s: negative dimension %lld", what, (long long)tp->dims[i]);
		if (tp->dims[i] == 0)
			return fail(err, err_size, SAMPAN_ERROR_NOT_SUPPORTED,
			            "%s: empty tensors are not supported", what);
		dims[i] = tp->dims[i];
	}
	ret = onnx_tensor_create(&t, (enum onnx_dtype)tp->data_type, (int)tp->n_dims, dims);
	if (ret == SAMPAN_ERROR_INVALID)
		return fail(err, err_size, ret, "%s: more than %lld elements", what,
		            (long long)ONNX_MAX_ELEMENTS);
	if (ret)
		return fail(err, err_size, ret, "%s: out of memory", what);

	if (tp->has_raw_data) {
		const uint8_t *raw = tp->raw_data.data;

		if (tp->n_float_data || tp->n_int32_data || tp->n_int64_data) {
			ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
			           "%s: both raw_data and typed data", what);
			goto err_destroy;
		}
		if (tp->raw_data.len != t->count * item) {
			ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
			           "%s: raw_data has %zu bytes, the shape needs %zu", what,
			           tp->raw_data.len, t->count * item);
			goto err_destroy;
		}
		for (size_t i = 0; i < t->count; i++) {
			uint64_t v = load_le(raw + i * item, item);

			if (item == 1)
				((uint8_t *)t->data)[i] = (uint8_t)v;
			else if (item == 4)
				((uint32_t *)t->data)[i] = (uint32_t)v;
			else
				((uint64_t *)t->data)[i] = v;
		}
	} else if (t->dtype == ONNX_DT_FLOAT) {
		if (tp->n_float_data != t->count)
			goto err_count;
		memcpy(t->data, tp->float_data, t->count * sizeof(float));
	} else if (t->dtype == ONNX_DT_INT64) {
		if (tp->n_int64_data != t->count)
			goto err_count;
		memcpy(t->data, tp->int64_data, t->count * sizeof(int64_t));
	} else {
		/* uint8, int8 and int32 travel in int32_data. */
		int32_t lo = t->dtype == ONNX_DT_INT8    ? -128
		             : t->dtype == ONNX_DT_UINT8 ? 0
		                                         : INT32_MIN;
		int32_t hi = t->dtype == ONNX_DT_INT8    ? 127
		             : t->dtype == ONNX_DT_UINT8 ? 255
		                                         : INT32_MAX;

		if (tp->n_int32_data != t->count)
			goto err_count;
		for (size_t i = 0; i < t->count; i++) {
			int32_t v = tp->int32_data[i];

			if (v < lo || v > hi) {
				ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
				           "%s: element %zu (%d) is out of range for %s", what, i,
				           (int)v, onnx_dtype_name(t->dtype));
				goto err_destroy;
			}
			if (t->dtype == ONNX_DT_INT32)
				((int32_t *)t->data)[i] = v;
			else if (t->dtype == ONNX_DT_INT8)
				((int8_t *)t->data)[i] = (int8_t)v;
			else
				((uint8_t *)t->data)[i] = (uint8_t)v;
		}
	}
	*out = t;
	return SAMPAN_OK;

err_count:
	ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
	           "%s: %zu data elements, the shape needs %zu", what,
	           t->dtype == ONNX_DT_FLOAT   ? tp->n_float_data
	           : t->dtype == ONNX_DT_INT64 ? tp->n_int64_data
	                                       : tp->n_int32_data,
	           t->count);
err_destroy:
	onnx_tensor_destroy(t);
	return ret;
}

/* Reads a whole regular file of at most ONNX_MAX_FILE_BYTES. */
static int read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t err_size)
{
	return file_read_all(path, ONNX_MAX_FILE_BYTES, data, len, err, err_size);
}

int onnx_tensor_read_pb(const char *path, struct onnx_tensor **t, char **name, char *err,
                        size_t err_size)
{
	Onnx__TensorProto *tp;
	char what[512], msg[512];
	char *copy = NULL;
	uint8_t *data;
	size_t len;
	int ret;

	ret = read_file(path, &data, &len, err, err_size);
	if (ret)
		return ret;
	tp = onnx__tensor_proto__unpack(NULL, len, data);
	free(data);
	if (!tp)
		return fail(err, err_size, SAMPAN_ERROR_INVALID,
		            "%s: not a TensorProto (malformed or truncated protobuf)", path);
	snprintf(what, sizeof(what), "tensor '%s'", tp->name ? tp->name : "");
	if (name) {
		copy = strdup(tp->name ? tp->name : "");
		if (!copy) {
			ret = fail(err, err_size, SAMPAN_ERROR_NO_MEM, "%s: out of memory", path);
			goto out;
		}
	}
	ret = onnx_tensor_decode(tp, what, t, msg, sizeof(msg));
	if (ret) {
		fail(err, err_size, ret, "%s: %s", path, msg);
		free(copy);
		goto out;
	}
	if (name)
		*name = copy;
out:
	onnx__tensor_proto__free_unpacked(tp, NULL);
	return ret;
}
