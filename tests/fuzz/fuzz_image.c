/*
 * fuzz_image.c - libFuzzer harness of the image readers (binary PGM and
 * PNG): any bytes decode or fail with a message, never crash. The first
 * byte picks the input the image feeds (float or uint8, grey or 3
 * channels, declared shape or none), the rest is the file.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "data/image.h"
#include "sampan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct onnx_value decl = {.name = (char *)"x"};
	struct onnx_tensor *t = NULL;
	char err[512];
	uint8_t mode;
	int ret;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	decl.dtype = mode & 1 ? ONNX_DT_UINT8 : ONNX_DT_FLOAT;
	switch (mode >> 1 & 3) {
	case 0: /* no declared shape */
		decl.ndim = -1;
		break;
	case 1: /* (N, 1, H, W), all symbolic but C */
		decl.ndim = 4;
		decl.dims[0] = decl.dims[2] = decl.dims[3] = -1;
		decl.dims[1] = 1;
		break;
	case 2: /* (N, 3, H, W) */
		decl.ndim = 4;
		decl.dims[0] = decl.dims[2] = decl.dims[3] = -1;
		decl.dims[1] = 3;
		break;
	default: /* (H, W) */
		decl.ndim = 2;
		decl.dims[0] = decl.dims[1] = -1;
		break;
	}
	err[0] = '\0';
	ret = onnx_image_decode(data, size, "fuzz.img", &decl, 255.0f, &t, err, sizeof(err));
	if (ret == SAMPAN_OK) {
		if (!t || t->count == 0)
			__builtin_trap();
		onnx_tensor_destroy(t);
	} else if (t != NULL || strncmp(err, "fuzz.img: ", 10) != 0) {
		__builtin_trap();
	}
	return 0;
}
