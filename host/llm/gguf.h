/*
 * gguf.h - reader of GGUF v3 files (ggml's docs/gguf.md): metadata and
 * tensor directory, checked whole against the file before anything is used;
 * tensor data mapped read-only from the file.
 */
#ifndef SAMPAN_GGUF_H
#define SAMPAN_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* Metadata value types (the file's numbering). */
enum gguf_vtype {
	GGUF_VT_U8 = 0,
	GGUF_VT_I8 = 1,
	GGUF_VT_U16 = 2,
	GGUF_VT_I16 = 3,
	GGUF_VT_U32 = 4,
	GGUF_VT_I32 = 5,
	GGUF_VT_F32 = 6,
	GGUF_VT_BOOL = 7,
	GGUF_VT_STRING = 8,
	GGUF_VT_ARRAY = 9,
	GGUF_VT_U64 = 10,
	GGUF_VT_I64 = 11,
	GGUF_VT_F64 = 12,
};

/* Tensor types this reader accepts (ggml's numbering). */
enum gguf_ttype { GGUF_TT_F32 = 0, GGUF_TT_F16 = 1, GGUF_TT_Q4_0 = 2, GGUF_TT_Q8_0 = 8 };

/* A string inside the mapped file: not NUL-terminated. */
struct gguf_str {
	const char *p;
	uint64_t len;
};

/* One metadata value. Scalars are widened: u (unsigned types and bool), i
 * (signed types), f (F32, F64). An array keeps its element type, count and
 * a pointer to its first element in the file (strings: use gguf_arr_str). */
struct gguf_kv {
	struct gguf_str key;
	enum gguf_vtype type;
	union {
		uint64_t u;
		int64_t i;
		double f;
		struct gguf_str s;
		struct {
			enum gguf_vtype type;
			uint64_t n;
			const uint8_t *data; /* first element */
			/* Arrays of strings: offset of each element from data,
			 * built at open (what makes gguf_arr_str O(1)). */
			const uint64_t *str_off;
		} arr;
	} v;
};

struct gguf_tensor {
	struct gguf_str name;
	uint32_t n_dims;
	uint64_t ne[4]; /* ne[0] is the contiguous dimension; unused dims are 1 */
	enum gguf_ttype type;
	uint64_t nelem;   /* product of ne */
	uint64_t bytes;   /* size of the data in the file */
	const void *data; /* in the mapped file, aligned to general.alignment */
};

struct gguf {
	uint32_t version;
	uint64_t n_kv, n_tensors;
	struct gguf_kv *kv;          /* n_kv */
	struct gguf_tensor *tensors; /* n_tensors */
	uint64_t alignment;
	const uint8_t *map; /* the whole file */
	uint64_t size;
	char *path;
};

/* Opens and checks @path. On failure returns -1 and writes a message that
 * names the file and what is wrong to @err (never crashes on any input). */
int gguf_open(const char *path, struct gguf **out, char *err, size_t err_len);
/* Same, on a buffer the caller keeps alive (fuzzing, tests); @name is used
 * in messages. */
int gguf_open_memory(const void *data, size_t size, const char *name, struct gguf **out, char *err,
                     size_t err_len);
void gguf_close(struct gguf *g);

/* Metadata by key; NULL when absent. */
const struct gguf_kv *gguf_find(const struct gguf *g, const char *key);
/* Typed look-ups: 0 and *out written when @key exists and converts
 * (integers of any width and sign, in range; f32/f64 for floats), -1
 * otherwise. */
int gguf_get_uint(const struct gguf *g, const char *key, uint64_t *out);
int gguf_get_float(const struct gguf *g, const char *key, double *out);
int gguf_get_bool(const struct gguf *g, const char *key, int *out);
int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out);
/* Element @i of an array of strings (i < kv->v.arr.n, checked at open). */
struct gguf_str gguf_arr_str(const struct gguf_kv *kv, uint64_t i);

/* Tensor by name; NULL when absent. */
const struct gguf_tensor *gguf_tensor(const struct gguf *g, const char *name);

/* Bytes of @nelem values of @type (nelem a multiple of the block size), or
 * 0 for an unknown type. */
uint64_t gguf_type_bytes(enum gguf_ttype type, uint64_t nelem);
const char *gguf_type_name(enum gguf_ttype type);

/* Converts row @row of tensor @t (ne[0] values) to floats in @out. */
void gguf_row_to_f32(const struct gguf_tensor *t, uint64_t row, float *out);

#endif /* SAMPAN_GGUF_H */
