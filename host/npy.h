/*
 * npy.h - reading and writing NumPy .npy files, the operand and result
 * format of `sampan gemm`.
 *
 * Only what the CLI needs: int8 ('|i1'), little-endian int32 ('<i4'),
 * float16 ('<f2', the block scales of `sampan gemm --format q8_0') and
 * float32 ('<f4') and, for model tensors (`sampan run`), uint8 ('|u1')
 * arrays of up to NPY_MAX_DIMS dimensions in C order, format
 * versions 1.0, 2.0 and 3.0. Every field of a file is validated; a malformed file of any
 * content fails with a message, never a crash.
 */
#ifndef SAMPAN_HOST_NPY_H
#define SAMPAN_HOST_NPY_H

#include <stddef.h>
#include <stdint.h>

enum npy_dtype {
	NPY_INT8,    /* '|i1' */
	NPY_INT32,   /* '<i4' */
	NPY_UINT8,   /* '|u1' */
	NPY_FLOAT32, /* '<f4' */
	NPY_FLOAT16, /* '<f2': IEEE binary16 bit patterns as uint16_t */
};

#define NPY_MAX_DIMS 8

/* An array read from a file. data holds count elements of dtype in C
 * order, in host representation. */
struct npy_array {
	enum npy_dtype dtype;
	int ndim;
	int64_t shape[NPY_MAX_DIMS];
	size_t count; /* product of shape */
	void *data;   /* int8_t, uint8_t, int32_t, uint16_t or float [count]; malloc'd */
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

/* Reads @path whatever its dtype (one of enum npy_dtype) and number of
 * dimensions (0 to NPY_MAX_DIMS, none of them zero); otherwise as
 * npy_read. */
int npy_read_any(const char *path, struct npy_array *arr, char *err, size_t err_size);

/* Releases what npy_read allocated. NULL is a no-op. */
void npy_array_destroy(struct npy_array *arr);

/* Writes @data (C order, host representation, product of @shape elements
 * of @dtype, 0 to NPY_MAX_DIMS dimensions) to @path as a .npy file. The file is written under a
 * temporary name in the same directory and renamed into place, so @path
 * either keeps its old content or gets the whole new one. Returns
 * SAMPAN_OK, SAMPAN_ERROR_IO or SAMPAN_ERROR_INVALID with a message in
 * @err. */
int npy_write(const char *path, enum npy_dtype dtype, int ndim, const int64_t *shape,
              const void *data, char *err, size_t err_size);

#endif /* SAMPAN_HOST_NPY_H */
