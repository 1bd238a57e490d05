/*
 * npyio.h - the tests' own small .npy writer and reader (format 1.0 out;
 * 1.0, 2.0 and 3.0 in), independent of host/npy.c, so that the CLI's
 * reader and writer are checked against a second implementation.
 */
#ifndef SAMPAN_TEST_NPYIO_H
#define SAMPAN_TEST_NPYIO_H

#include <stddef.h>

/* Builds a .npy image: header for @descr (e.g. "|i1", "<i4") and @ndim
 * dimensions of @shape, then @data_bytes of @data. Returns a malloc'd
 * buffer and its size in @size. */
unsigned char *npyt_image(const char *descr, int ndim, const long *shape, const void *data,
                          size_t data_bytes, size_t *size);

/* Rewrites a format 1.0 image from npyt_image as format 2.0 (4-byte
 * header length), keeping the header end 64-aligned. Returns a new
 * malloc'd buffer and its size, or NULL. */
unsigned char *npyt_to_v2(const unsigned char *img, size_t size, size_t *new_size);

/* Writes @n bytes to @path; 0 on success. */
int npyt_write_bytes(const char *path, const void *bytes, size_t n);

/* npyt_image + npyt_write_bytes. */
int npyt_write(const char *path, const char *descr, int ndim, const long *shape, const void *data,
               size_t data_bytes);

/* A parsed file. */
struct npyt_array {
	char descr[16];
	int ndim;
	long shape[4];
	int fortran;
	void *data;   /* malloc'd */
	size_t bytes; /* data bytes after the header */
};

/* Reads @path; 0 on success, -1 with a message in @err otherwise. */
int npyt_read(const char *path, struct npyt_array *arr, char *err, size_t err_size);

#endif /* SAMPAN_TEST_NPYIO_H */
