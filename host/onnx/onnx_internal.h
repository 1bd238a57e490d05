/*
 * onnx_internal.h - what the importer's files share (onnx_import.c,
 * tensor.c, qdq_fold.c); not for the rest of the host.
 */
#ifndef SAMPAN_HOST_ONNX_INTERNAL_H
#define SAMPAN_HOST_ONNX_INTERNAL_H

#include <stddef.h>

#include "onnx.pb-c.h"
#include "onnx/onnx_model.h"

/* Decodes a TensorProto into a new tensor. Messages (without a file name)
 * name the tensor as @what. Returns a sampan_error. */
int onnx_tensor_decode(const Onnx__TensorProto *tp, const char *what, struct onnx_tensor **out,
                       char *err, size_t err_size);

/* Folds every QDQ pattern of @m (see onnx_model.h), then drops the nodes
 * whose outputs nothing reads any more (the weights' DequantizeLinear
 * nodes and the like). Returns SAMPAN_OK or SAMPAN_ERROR_NO_MEM. */
int onnx_fold_qdq(struct onnx_model *m);

#endif /* SAMPAN_HOST_ONNX_INTERNAL_H */
