/*
 * image.h - images as graph inputs: binary PGM (P5, 8-bit grey).
 */
#ifndef SAMPAN_HOST_ONNX_IMAGE_H
#define SAMPAN_HOST_ONNX_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "onnx/onnx_model.h"

/* Largest image read, in pixels. */
#define ONNX_IMAGE_MAX_PIXELS ((int64_t)1 << 24)

/* Whether the file @path starts like a binary PGM ("P5"). */
bool onnx_image_is_pgm(const char *path);

/* Reads the binary PGM @path (maxval 1 to 255, '#' comments in the
 * header) as the graph input @decl: a float input receives pixel /
 * @pixel_max (in float), a uint8 input the pixels themselves. The tensor
 * has @decl's shape, which must end in (H, W) with every other dimension
 * 1 (symbolic ones count as 1); without a declared shape it is
 * (1, 1, H, W). Returns a sampan_error; on failure @err names @path and
 * what is wrong, and @t is untouched. */
int onnx_image_read_pgm(const char *path, const struct onnx_value *decl, float pixel_max,
                        struct onnx_tensor **t, char *err, size_t err_size);

#endif /* SAMPAN_HOST_ONNX_IMAGE_H */
