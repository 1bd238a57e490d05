/*
 * idx.h - the idx files of the MNIST family of data sets (MNIST,
 * Fashion-MNIST), gzip-compressed or plain, and labelled image sets built
 * from them or from a directory of PGM images.
 *
 * idx format: a magic "00 00 TT NN" (TT = 0x08, unsigned bytes, the only
 * type read here; NN = number of dimensions), NN big-endian uint32
 * dimensions, then prod(dims) bytes row-major, and nothing after.
 */
#ifndef SAMPAN_HOST_DATA_IDX_H
#define SAMPAN_HOST_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#define IDX_MAX_DIMS 4
/* Most items (first dimension) of a file read. */
#define IDX_MAX_ITEMS 1000000u
/* Most data bytes of a file read (the training split of MNIST is 47 MB). */
#define IDX_MAX_BYTES ((uint64_t)256 << 20)
/* Largest image side of a labelled set. */
#define IDX_MAX_SIDE 4096u

/* The contents of one idx file. */
struct idx_array {
	int ndim;
	uint32_t dims[IDX_MAX_DIMS]; /* each >= 1 */
	size_t size;                 /* prod(dims) */
	uint8_t *data;               /* size bytes, row-major */
};

/* Reads the idx file @path (gzip-compressed or plain, told by its first
 * bytes) of unsigned bytes with @ndim dimensions. Refuses a bad magic, a
 * type other than unsigned byte, another number of dimensions, a zero
 * dimension, more than IDX_MAX_ITEMS items or IDX_MAX_BYTES bytes (before
 * allocating anything), a file that ends early and one with bytes after
 * the data. Returns a sampan_error; on failure @err names @path and what
 * is wrong, and @a is untouched. */
int idx_read(const char *path, int ndim, struct idx_array *a, char *err, size_t err_size);

/* Frees the data of @a (zeroed struct: no-op). */
void idx_array_free(struct idx_array *a);

/* A labelled set of 8-bit grey images, all of one size. */
struct idx_dataset {
	size_t n;         /* images */
	uint32_t h, w;    /* image size */
	uint8_t *pixels;  /* (n, h, w) row-major, as stored (0 = background) */
	uint8_t *labels;  /* (n) */
	char **names;     /* (n) file names of a directory set, else NULL */
	char source[512]; /* where it came from, for reports */
};

/* Loads an images file (3 dimensions: n, h, w) and a labels file (1
 * dimension: n) with idx_read; the counts must agree. Returns a
 * sampan_error with a message in @err; @ds is written only on success. */
int idx_dataset_load(const char *images, const char *labels, struct idx_dataset **ds, char *err,
                     size_t err_size);

/* Loads the directory @dir: its test split in idx files
 * (t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, with or without
 * .gz) if it has them, else its images named <index>_<label>.pgm or
 * <index>_<label>.png (binary PGM or PNG, as host/models/samples), in the
 * order of index, each read as one grey plane (data/image.h); other files
 * are ignored. Returns a sampan_error with a message in @err;
 * @ds is written only on success. */
int idx_dataset_load_dir(const char *dir, struct idx_dataset **ds, char *err, size_t err_size);

/* Keeps the first @n images of @ds (no-op if it has fewer). */
void idx_dataset_truncate(struct idx_dataset *ds, size_t n);

/* NULL is a no-op. */
void idx_dataset_destroy(struct idx_dataset *ds);

#endif /* SAMPAN_HOST_DATA_IDX_H */
