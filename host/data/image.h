/*
 * image.h - images as graph inputs: binary PGM (P5) and PNG.
 *
 * PNG: every standard colour type (grey, grey + alpha, RGB, RGBA,
 * palette), bit depths 1, 2, 4, 8 and 16, all five row filters, Adam7
 * interlacing. A 16-bit sample v is the level v / 257 of the 8-bit scale
 * (65535 = 255 * 257): a float input gets (v / 257) / pixel_max in double
 * rounded once to float, a uint8 input the nearest level, (v + 128) / 257;
 * an 8-bit image saved as 16-bit (every v a multiple of 257) gives the
 * same tensor as the 8-bit file. Grey from 16-bit colour is taken before
 * the scaling.
 * Every chunk's CRC is checked, IHDR is validated, unknown critical chunks
 * are refused, the image data must inflate to exactly the size the header
 * implies (no more: a decompression bomb stops there; no less: truncated).
 * Alpha and tRNS are ignored: the colour samples are taken as they are.
 *
 * Channels: an input declared with 3 channels ((..., 3, H, W), every other
 * leading dimension 1) receives the R, G and B planes (a grey image fills
 * all three). Any other input receives one grey plane; a colour image is
 * made grey with the ITU-R BT.601 luma weights in integers,
 * Y = (299 R + 587 G + 114 B + 500) / 1000.
 */
#ifndef SAMPAN_HOST_ONNX_IMAGE_H
#define SAMPAN_HOST_ONNX_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "onnx/onnx_model.h"

/* Largest image read, in pixels. */
#define ONNX_IMAGE_MAX_PIXELS ((int64_t)1 << 24)
/* Largest image file read. */
#define ONNX_IMAGE_MAX_FILE_BYTES ((size_t)256 << 20)

/* Image file formats, told apart by their first bytes. */
enum onnx_image_format {
	ONNX_IMAGE_NONE, /* not an image the readers know */
	ONNX_IMAGE_PGM,  /* "P5" */
	ONNX_IMAGE_PNG,  /* the 8-byte PNG signature */
};

/* The format of the @len bytes at @data. */
enum onnx_image_format onnx_image_format_of(const void *data, size_t len);

/* The format of the file @path (ONNX_IMAGE_NONE if it cannot be read). */
enum onnx_image_format onnx_image_file_format(const char *path);

/* Whether the file @path starts like a binary PGM ("P5"). */
bool onnx_image_is_pgm(const char *path);

/* Decodes the PGM or PNG image in the @len bytes at @data as the graph
 * input @decl; @name stands for the file name in messages. A float input
 * receives pixel / @pixel_max (in float), a uint8 input the pixels
 * themselves. The tensor has @decl's shape, which must end in (H, W) or
 * (3, H, W) (see above) with every other dimension 1 (symbolic ones count
 * as 1); without a declared shape it is (1, 1, H, W). A binary PGM has a
 * maxval of 1 to 255 and '#' comments in its header; its pixels are taken
 * as they are (not scaled to 255). Returns a sampan_error; on failure @err
 * starts with @name and says what is wrong, and @t is untouched. */
int onnx_image_decode(const void *data, size_t len, const char *name, const struct onnx_value *decl,
                      float pixel_max, struct onnx_tensor **t, char *err, size_t err_size);

/* Reads the PGM or PNG file @path (at most ONNX_IMAGE_MAX_FILE_BYTES) as
 * onnx_image_decode does. */
int onnx_image_read(const char *path, const struct onnx_value *decl, float pixel_max,
                    struct onnx_tensor **t, char *err, size_t err_size);

/* onnx_image_read for a file that must be a binary PGM. */
int onnx_image_read_pgm(const char *path, const struct onnx_value *decl, float pixel_max,
                        struct onnx_tensor **t, char *err, size_t err_size);

#endif /* SAMPAN_HOST_ONNX_IMAGE_H */
