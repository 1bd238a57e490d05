/*
 * fuzz_npy.c - libFuzzer harness of the .npy reader (npy_read_any), which
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

#include "npy.h"
#include "sampan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct npy_array arr;
	char path[64], err[512];
	int fd, ret;

	fd = memfd_create("fuzz.npy", 0);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&arr, 0, sizeof(arr));
	err[0] = '\0';
	ret = npy_read_any(path, &arr, err, sizeof(err));
	if (ret == SAMPAN_OK) {
		if (arr.count && !arr.data)
			__builtin_trap();
		npy_array_destroy(&arr);
	} else if (err[0] == '\0') {
		__builtin_trap();
	}
	close(fd);
	return 0;
}
