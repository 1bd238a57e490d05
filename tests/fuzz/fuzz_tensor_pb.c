/*
 * fuzz_tensor_pb.c - libFuzzer harness of the TensorProto reader
 * (onnx_tensor_read_pb, the data format of the ONNX backend tests), which
 * reads from a path: the bytes go to an in-memory file (memfd) read through
 * /proc/self/fd.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "onnx/onnx_model.h"
#include "sampan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct onnx_tensor *t = NULL;
	char path[64], err[512], *name = NULL;
	int fd, ret;

	fd = memfd_create("fuzz.pb", 0);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err[0] = '\0';
	ret = onnx_tensor_read_pb(path, &t, &name, err, sizeof(err));
	if (ret == SAMPAN_OK) {
		if (!t || !name || (t->count && !t->data))
			__builtin_trap();
		onnx_tensor_destroy(t);
		free(name);
	} else if (t != NULL || strstr(err, path) == NULL) {
		__builtin_trap(); /* @t untouched, a message naming the file */
	}
	close(fd);
	return 0;
}
