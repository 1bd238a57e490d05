/*
 * input.c - graph inputs from .npy files and images (see input.h).
 */
#include "input.h"

#include <stdio.h>
#include <string.h>

#include "npy.h"
#include "onnx/image.h"
#include "sampan.h"

bool input_is_image(const char *path)
{
	return onnx_image_file_format(path) != ONNX_IMAGE_NONE;
}

/* The ONNX element type of a .npy dtype. */
static enum onnx_dtype onnx_type_of(enum npy_dtype d)
{
	switch (d) {
	case NPY_INT8:
		return ONNX_DT_INT8;
	case NPY_UINT8:
		return ONNX_DT_UINT8;
	case NPY_FLOAT32:
		return ONNX_DT_FLOAT;
	default:
		return ONNX_DT_INT32;
	}
}

int input_read(const char *path, const struct onnx_value *decl, float pixel_max,
               struct onnx_tensor **t, char *err, size_t err_size)
{
	struct npy_array arr;
	int ret;

	if (input_is_image(path))
		return onnx_image_read(path, decl, pixel_max, t, err, err_size);
	ret = npy_read_any(path, &arr, err, err_size);
	if (ret)
		return ret;
	if (arr.dtype == NPY_FLOAT16) {
		snprintf(err, err_size, "%s: float16 inputs are not supported (save as float32)",
		         path);
		npy_array_destroy(&arr);
		return SAMPAN_ERROR_INVALID;
	}
	ret = onnx_tensor_create(t, onnx_type_of(arr.dtype), arr.ndim, arr.shape);
	if (ret)
		snprintf(err, err_size, "%s: %s", path,
		         ret == SAMPAN_ERROR_NO_MEM ? "out of memory" : "too large");
	else
		memcpy((*t)->data, arr.data, (*t)->count * onnx_dtype_size((*t)->dtype));
	npy_array_destroy(&arr);
	return ret;
}
