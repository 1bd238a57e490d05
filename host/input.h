/*
 * input.h - reads a file given for a graph input: a .npy tensor or an
 * image (see data/image.h), shared by `sampan run`, `quantize` and `eval`.
 */
#ifndef SAMPAN_HOST_INPUT_H
#define SAMPAN_HOST_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "onnx/onnx_model.h"

/* Whether @path is an image the readers know (by its first bytes). */
bool input_is_image(const char *path);

/* Reads @path, an image or a .npy file, for graph input @decl into a new
 * tensor. An image feeds a float input as pixel / @pixel_max, a uint8 input
 * as the pixels; a .npy file keeps its own element type and shape (rt_run
 * checks them against @decl). Returns a sampan_error; on failure @err names
 * @path and what is wrong, and @t is untouched. */
int input_read(const char *path, const struct onnx_value *decl, float pixel_max,
               struct onnx_tensor **t, char *err, size_t err_size);

#endif /* SAMPAN_HOST_INPUT_H */
