/*
 * fuzz_onnx_run.c - libFuzzer harness of the importer and the runtime: a
 * model that loads is run once on the functional model (device "cpu") with
 * zero-filled inputs of its declared types and shapes (symbolic dimensions
 * 1). Models whose inputs exceed FUZZ_MAX_INPUT_ELEMENTS or whose types an
 * input cannot have are only loaded. A run may fail (hostile shapes), but
 * with a message and no crash, leak or undefined behaviour.
 *
 * The fuzz build lowers the runtime's work limits (ONNX_MAX_ELEMENTS,
 * HOST_MAX_WORK, see fuzz.mk) so that one run stays well under a second.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_model.h"
#include "runtime/runtime.h"
#include "sampan.h"

#define FUZZ_MAX_INPUT_ELEMENTS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sampan_device *fuzz_device(void)
{
	static struct sampan_device *dev;

	if (!dev && sampan_open(&dev, "cpu") != SAMPAN_OK)
		abort();
	return dev;
}

/* A zero tensor for input @v, or NULL if the harness does not feed it. */
static struct onnx_tensor *zero_input(const struct onnx_value *v)
{
	int64_t dims[ONNX_MAX_DIMS], count = 1;
	struct onnx_tensor *t;
	int ndim = v->ndim < 0 ? 0 : v->ndim;

	if (onnx_dtype_size(v->dtype) == 0)
		return NULL;
	for (int d = 0; d < ndim; d++) {
		dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
		if (dims[d] > FUZZ_MAX_INPUT_ELEMENTS / count)
			return NULL;
		count *= dims[d];
	}
	if (onnx_tensor_create(&t, v->dtype, ndim, dims) != SAMPAN_OK)
		return NULL;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct onnx_tensor **ins = NULL, **outs = NULL;
	struct onnx_model *m = NULL;
	char err[512];
	int i, fed = 0;

	if (onnx_model_load_buffer(data, size, "fuzz.onnx", &m, err, sizeof(err)) != SAMPAN_OK)
		return 0;
	ins = calloc((size_t)m->n_inputs + 1, sizeof(*ins));
	outs = calloc((size_t)m->n_outputs + 1, sizeof(*outs));
	if (!ins || !outs)
		goto out;
	for (i = 0; i < m->n_inputs; i++) {
		ins[i] = zero_input(&m->values[m->inputs[i]]);
		if (!ins[i])
			goto out;
		fed++;
	}
	err[0] = '\0';
	if (rt_run(m, fuzz_device(), ins, outs, NULL, err, sizeof(err)) == SAMPAN_OK) {
		for (i = 0; i < m->n_outputs; i++) {
			if (!outs[i])
				__builtin_trap();
			onnx_tensor_destroy(outs[i]);
		}
	} else if (err[0] == '\0') {
		__builtin_trap(); /* a failed run says why */
	}
out:
	for (i = 0; i < fed; i++)
		onnx_tensor_destroy(ins[i]);
	free(ins);
	free(outs);
	onnx_model_destroy(m);
	return 0;
}
