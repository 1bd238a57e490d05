/*
 * npy.h - reading and writing NumPy .npy files, the operand and result
 * format of `sampan gemm`.
 *
 * Only what the CLI needs: little-endian int8 ('|i1', '<i1') and int32
 * ('<i4') arrays of one or two dimensions in C order, format versions 1.0,
 * 2.0 and 3.0. Every field of a file is validated; a malformed file of any
 * content fails with a message, never a crash.
 */
#ifndef SAMPAN_HOST_NPY_H
#define SAMPAN_HOST_NPY_H

#include <stddef.h>
#include <stdint.h>

enum npy_dtype {
	NPY_INT8,  /* '|i1' */
	NPY_INT32, /* '<i4' */
};

#define NPY_MAX_DIMS 2

/* An array read from a file. data holds count elements of dtype in C
 * order, in host representation. */
struct npy_array {
	enum npy_dtype dtype;
	int ndim;
	int64_t shape[NPY_MAX_DIMS];
	size_t count; /* product of shape */
	void *data;   /* int8_t or int32_t [count]; malloc'd */
};

/* Name of a dtype as written in a header ("|i1", "<i4"). */
const char *npy_dtype_name(enum npy_dtype dtype);

/* Reads @path, which must hold an array of @dtype with @ndim dimensions,
 * none of them zero, into @arr (released with npy_array_destroy).
 * Returns SAMPAN_OK, SAMPAN_ERROR_IO (cannot open or read),
 * SAMPAN_ERROR_INVALID (malformed file, other dtype or ndim) or
 * SAMPAN_ERROR_NO_MEM; on failure @err receives a message naming the
 * file, and @arr is untouched. */
int npy_read(const char *path, enum npy_dtype dtype, int ndim, struct npy_array *arr, char *err,
	     size_t err_size);

/* Releases what npy_read allocated. NULL is a no-op. */
void npy_array_destroy(struct npy_array *arr);

/* Writes @data (C order, host representation, product of @shape elements
 * of @dtype) to @path as a .npy file. The file is written under a
 * temporary name in the same directory and renamed into place, so @path
 * either keeps its old content or gets the whole new one. Returns
 * SAMPAN_OK, SAMPAN_ERROR_IO or SAMPAN_ERROR_INVALID with a message in
 * @err. */
int npy_write(const char *path, enum npy_dtype dtype, int ndim, const int64_t *shape,
	      const void *data, char *err, size_t err_size);

#endif /* SAMPAN_HOST_NPY_H */
