/*
 * fuzz_onnx.c - libFuzzer harness of the ONNX importer: any bytes given to
 * onnx_model_load_buffer load or fail with a message, never crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "onnx/onnx_model.h"
#include "sampan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct onnx_model *m = NULL;
	char err[512];
	int ret;

	err[0] = '\0';
	ret = onnx_model_load_buffer(data, size, "fuzz.onnx", &m, err, sizeof(err));
	if (ret == SAMPAN_OK) {
		onnx_model_destroy(m);
	} else if (m != NULL || strncmp(err, "fuzz.onnx", 9) != 0) {
		/* The contract: @model untouched, a message naming the file. */
		__builtin_trap();
	}
	return 0;
}
