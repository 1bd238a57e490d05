/*
 * gguf_write.h - a small GGUF v3 writer for tests and tools: metadata of
 * every value type, tensors F32/F16/Q8_0/Q4_0 (quantized here from floats
 * with ggml's reference rounding, or given as raw bytes), the data section
 * aligned to general.alignment.
 *
 * Usage: w = gguf_writer_create(); gguf_w_*(w, ...) in file order;
 * gguf_writer_save(w, path, ...) or gguf_writer_bytes(w, &buf, &size);
 * gguf_writer_destroy(w). Errors (out of memory, a bad argument) are sticky:
 * the calls after one do nothing and save/bytes return -1.
 */
#ifndef SAMPAN_GGUF_WRITE_H
#define SAMPAN_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

struct gguf_writer;

struct gguf_writer *gguf_writer_create(void);
void gguf_writer_destroy(struct gguf_writer *w);

/* Metadata, in the order written. */
void gguf_w_u8(struct gguf_writer *w, const char *key, uint8_t v);
void gguf_w_i8(struct gguf_writer *w, const char *key, int8_t v);
void gguf_w_u16(struct gguf_writer *w, const char *key, uint16_t v);
void gguf_w_i16(struct gguf_writer *w, const char *key, int16_t v);
void gguf_w_u32(struct gguf_writer *w, const char *key, uint32_t v);
void gguf_w_i32(struct gguf_writer *w, const char *key, int32_t v);
void gguf_w_u64(struct gguf_writer *w, const char *key, uint64_t v);
void gguf_w_i64(struct gguf_writer *w, const char *key, int64_t v);
void gguf_w_f32(struct gguf_writer *w, const char *key, float v);
void gguf_w_f64(struct gguf_writer *w, const char *key, double v);
void gguf_w_bool(struct gguf_writer *w, const char *key, int v);
void gguf_w_str(struct gguf_writer *w, const char *key, const char *v);
/* A string of @len bytes (may hold NULs or any bytes). */
void gguf_w_strn(struct gguf_writer *w, const char *key, const char *v, uint64_t len);
/* An array of @n scalars of @type (not string or array), @data packed as
 * the host's little-endian values of that type (bool: one byte each). */
void gguf_w_arr(struct gguf_writer *w, const char *key, enum gguf_vtype type, const void *data,
                uint64_t n);
/* An array of @n NUL-terminated strings. */
void gguf_w_arr_str(struct gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* general.alignment as u32 (a power of two), used for the data section.
 * Default 32 (and the key is then not written). */
void gguf_w_alignment(struct gguf_writer *w, uint32_t alignment);

/* A tensor of @n_dims (1..4) dimensions @ne (ne[0] contiguous) from
 * nelem floats @x, stored as @type (Q8_0 and Q4_0: ne[0] a multiple of
 * 32). */
void gguf_w_tensor(struct gguf_writer *w, const char *name, enum gguf_ttype type, uint32_t n_dims,
                   const uint64_t *ne, const float *x);
/* The same from the raw bytes of the stored type (gguf_type_bytes of them). */
void gguf_w_tensor_raw(struct gguf_writer *w, const char *name, enum gguf_ttype type,
                       uint32_t n_dims, const uint64_t *ne, const void *data);

/* The file as bytes (malloc'd, the caller frees), or written to @path
 * (whole or not at all: a temporary file renamed). 0, or -1 and a message. */
int gguf_writer_bytes(struct gguf_writer *w, uint8_t **out, size_t *size, char *err,
                      size_t err_len);
int gguf_writer_save(struct gguf_writer *w, const char *path, char *err, size_t err_len);

/* ggml's reference quantizers of one row of @n floats (n a multiple of 32)
 * into @out (gguf_type_bytes bytes), and float to IEEE half (round to
 * nearest even). */
void gguf_quantize_q8_0(const float *x, uint64_t n, uint8_t *out);
void gguf_quantize_q4_0(const float *x, uint64_t n, uint8_t *out);
uint16_t gguf_f32_to_f16(float f);

#endif /* SAMPAN_GGUF_WRITE_H */
