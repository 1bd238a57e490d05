/*
 * gguf_write.c - a small GGUF v3 writer (see gguf_write.h).
 *
 * The metadata and tensor infos are appended to one growing buffer, the
 * tensor data to another; the file is header + padding + data.
 */
#include "gguf_write.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct buf {
	uint8_t *p;
	size_t n, cap;
};

struct gguf_writer {
	struct buf kv;   /* the key/value records */
	struct buf ti;   /* the tensor infos */
	struct buf data; /* the data section */
	uint64_t n_kv, n_tensors;
	uint32_t alignment;
	int failed;
	char why[128];
};

static void wfail(struct gguf_writer *w, const char *why)
{
	if (!w->failed) {
		w->failed = 1;
		snprintf(w->why, sizeof(w->why), "%s", why);
	}
}

static void put(struct gguf_writer *w, struct buf *b, const void *p, size_t n)
{
	if (w->failed)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *q;

		while (cap < b->n + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q) {
			wfail(w, "out of memory");
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_u32(struct gguf_writer *w, struct buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	put(w, b, x, 4);
}

static void put_u64(struct gguf_writer *w, struct buf *b, uint64_t v)
{
	put_u32(w, b, (uint32_t)v);
	put_u32(w, b, (uint32_t)(v >> 32));
}

static void put_str(struct gguf_writer *w, struct buf *b, const char *s, uint64_t len)
{
	put_u64(w, b, len);
	put(w, b, s, (size_t)len);
}

struct gguf_writer *gguf_writer_create(void)
{
	struct gguf_writer *w = calloc(1, sizeof(*w));

	if (w)
		w->alignment = 32;
	return w;
}

void gguf_writer_destroy(struct gguf_writer *w)
{
	if (!w)
		return;
	free(w->kv.p);
	free(w->ti.p);
	free(w->data.p);
	free(w);
}

/* ------------------------------------------------------------ metadata */

static void key(struct gguf_writer *w, const char *k, enum gguf_vtype t)
{
	put_str(w, &w->kv, k, strlen(k));
	put_u32(w, &w->kv, t);
	w->n_kv++;
}

/* Little-endian bytes of a scalar of @size bytes from its host value. */
static void put_scalar(struct gguf_writer *w, struct buf *b, const void *v, size_t size)
{
	uint8_t x[8];
	uint64_t u = 0;

	memcpy(&u, v, size); /* little-endian host assumed below; made explicit here */
	for (size_t i = 0; i < size; i++)
		x[i] = (uint8_t)(u >> (8 * i));
	put(w, b, x, size);
}

void gguf_w_u8(struct gguf_writer *w, const char *k, uint8_t v)
{
	key(w, k, GGUF_VT_U8);
	put_scalar(w, &w->kv, &v, 1);
}

void gguf_w_i8(struct gguf_writer *w, const char *k, int8_t v)
{
	key(w, k, GGUF_VT_I8);
	put_scalar(w, &w->kv, &v, 1);
}

void gguf_w_u16(struct gguf_writer *w, const char *k, uint16_t v)
{
	key(w, k, GGUF_VT_U16);
	put_scalar(w, &w->kv, &v, 2);
}

void gguf_w_i16(struct gguf_writer *w, const char *k, int16_t v)
{
	key(w, k, GGUF_VT_I16);
	put_scalar(w, &w->kv, &v, 2);
}

void gguf_w_u32(struct gguf_writer *w, const char *k, uint32_t v)
{
	key(w, k, GGUF_VT_U32);
	put_scalar(w, &w->kv, &v, 4);
}

void gguf_w_i32(struct gguf_writer *w, const char *k, int32_t v)
{
	key(w, k, GGUF_VT_I32);
	put_scalar(w, &w->kv, &v, 4);
}

void gguf_w_u64(struct gguf_writer *w, const char *k, uint64_t v)
{
	key(w, k, GGUF_VT_U64);
	put_scalar(w, &w->kv, &v, 8);
}

void gguf_w_i64(struct gguf_writer *w, const char *k, int64_t v)
{
	key(w, k, GGUF_VT_I64);
	put_scalar(w, &w->kv, &v, 8);
}

void gguf_w_f32(struct gguf_writer *w, const char *k, float v)
{
	key(w, k, GGUF_VT_F32);
	put_scalar(w, &w->kv, &v, 4);
}

void gguf_w_f64(struct gguf_writer *w, const char *k, double v)
{
	key(w, k, GGUF_VT_F64);
	put_scalar(w, &w->kv, &v, 8);
}

void gguf_w_bool(struct gguf_writer *w, const char *k, int v)
{
	uint8_t b = v != 0;

	key(w, k, GGUF_VT_BOOL);
	put(w, &w->kv, &b, 1);
}

void gguf_w_strn(struct gguf_writer *w, const char *k, const char *v, uint64_t len)
{
	key(w, k, GGUF_VT_STRING);
	put_str(w, &w->kv, v, len);
}

void gguf_w_str(struct gguf_writer *w, const char *k, const char *v)
{
	gguf_w_strn(w, k, v, strlen(v));
}

static size_t scalar_size(enum gguf_vtype t)
{
	switch (t) {
	case GGUF_VT_U8:
	case GGUF_VT_I8:
	case GGUF_VT_BOOL:
		return 1;
	case GGUF_VT_U16:
	case GGUF_VT_I16:
		return 2;
	case GGUF_VT_U32:
	case GGUF_VT_I32:
	case GGUF_VT_F32:
		return 4;
	case GGUF_VT_U64:
	case GGUF_VT_I64:
	case GGUF_VT_F64:
		return 8;
	default:
		return 0;
	}
}

void gguf_w_arr(struct gguf_writer *w, const char *k, enum gguf_vtype type, const void *data,
                uint64_t n)
{
	size_t es = scalar_size(type);

	if (!es) {
		wfail(w, "gguf_w_arr: element type must be a scalar");
		return;
	}
	key(w, k, GGUF_VT_ARRAY);
	put_u32(w, &w->kv, type);
	put_u64(w, &w->kv, n);
	for (uint64_t i = 0; i < n; i++)
		put_scalar(w, &w->kv, (const uint8_t *)data + i * es, es);
}

void gguf_w_arr_str(struct gguf_writer *w, const char *k, const char *const *v, uint64_t n)
{
	key(w, k, GGUF_VT_ARRAY);
	put_u32(w, &w->kv, GGUF_VT_STRING);
	put_u64(w, &w->kv, n);
	for (uint64_t i = 0; i < n; i++)
		put_str(w, &w->kv, v[i], strlen(v[i]));
}

void gguf_w_alignment(struct gguf_writer *w, uint32_t alignment)
{
	if (alignment == 0 || (alignment & (alignment - 1))) {
		wfail(w, "gguf_w_alignment: not a power of two");
		return;
	}
	if (w->n_tensors) {
		wfail(w, "gguf_w_alignment: must come before the tensors");
		return;
	}
	w->alignment = alignment;
	gguf_w_u32(w, "general.alignment", alignment);
}

/* ------------------------------------------------------------ quantizers */

uint16_t gguf_f32_to_f16(float f)
{
	uint32_t u, sign, exp, man;

	memcpy(&u, &f, sizeof(u));
	sign = (u >> 16) & 0x8000;
	exp = (u >> 23) & 0xff;
	man = u & 0x7fffff;
	if (exp == 0xff) /* inf or NaN (kept quiet) */
		return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
	if (exp > 142) /* |f| >= 2^16: beyond half's range */
		return (uint16_t)(sign | 0x7c00);
	if (exp < 113) {
		/* a half subnormal (or zero): round man' * 2^(exp-150) to units of 2^-24 */
		uint32_t shift, m, q, rem, halfway;

		if (exp < 102) /* below half of the smallest subnormal */
			return (uint16_t)sign;
		m = man | 0x800000;
		shift = 126 - exp; /* 14..24 */
		q = m >> shift;
		rem = m & ((1u << shift) - 1);
		halfway = 1u << (shift - 1);
		if (rem > halfway || (rem == halfway && (q & 1)))
			q++;
		return (uint16_t)(sign | q);
	}
	{
		uint32_t h = ((exp - 112) << 10) | (man >> 13), rem = man & 0x1fff;

		if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
			h++; /* may carry into the exponent, up to inf: right */
		return (uint16_t)(sign | h);
	}
}

static void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void gguf_quantize_q8_0(const float *x, uint64_t n, uint8_t *out)
{
	for (uint64_t b = 0; b < n / 32; b++, x += 32, out += 34) {
		float amax = 0.0f, d, id;

		for (int j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		d = amax / 127.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		st16(out, gguf_f32_to_f16(d));
		for (int j = 0; j < 32; j++)
			out[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
	}
}

void gguf_quantize_q4_0(const float *x, uint64_t n, uint8_t *out)
{
	for (uint64_t b = 0; b < n / 32; b++, x += 32, out += 18) {
		float amax = 0.0f, max = 0.0f, d, id;

		/* the value of largest magnitude, with its sign, maps to -8 */
		for (int j = 0; j < 32; j++) {
			if (fabsf(x[j]) > amax) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		d = max / -8.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		st16(out, gguf_f32_to_f16(d));
		for (int j = 0; j < 16; j++) {
			float a = x[j] * id + 8.5f, c = x[16 + j] * id + 8.5f;
			int lo = a < 15.0f ? (int)a : 15, hi = c < 15.0f ? (int)c : 15;

			out[2 + j] = (uint8_t)(lo | hi << 4);
		}
	}
}

/* ------------------------------------------------------------ tensors */

static uint64_t block_vals(enum gguf_ttype t)
{
	return t == GGUF_TT_Q8_0 || t == GGUF_TT_Q4_0 ? 32 : 1;
}

/* The tensor info and padding before its data; returns the byte count or
 * 0 on a bad argument. */
static uint64_t tensor_info(struct gguf_writer *w, const char *name, enum gguf_ttype type,
                            uint32_t n_dims, const uint64_t *ne)
{
	uint64_t nelem = 1, bytes;
	static const uint8_t zeros[64];

	if (n_dims < 1 || n_dims > 4 || gguf_type_bytes(type, block_vals(type)) == 0 ||
	    ne[0] % block_vals(type)) {
		wfail(w, "gguf_w_tensor: bad dimensions or type");
		return 0;
	}
	for (uint32_t d = 0; d < n_dims; d++)
		nelem *= ne[d];
	bytes = gguf_type_bytes(type, nelem);
	/* pad the data section to the alignment */
	while (!w->failed && w->data.n % w->alignment) {
		size_t pad = w->alignment - w->data.n % w->alignment;

		put(w, &w->data, zeros, pad < sizeof(zeros) ? pad : sizeof(zeros));
	}
	put_str(w, &w->ti, name, strlen(name));
	put_u32(w, &w->ti, n_dims);
	for (uint32_t d = 0; d < n_dims; d++)
		put_u64(w, &w->ti, ne[d]);
	put_u32(w, &w->ti, type);
	put_u64(w, &w->ti, w->data.n);
	w->n_tensors++;
	return bytes;
}

void gguf_w_tensor_raw(struct gguf_writer *w, const char *name, enum gguf_ttype type,
                       uint32_t n_dims, const uint64_t *ne, const void *data)
{
	uint64_t bytes = tensor_info(w, name, type, n_dims, ne);

	if (bytes)
		put(w, &w->data, data, (size_t)bytes);
}

void gguf_w_tensor(struct gguf_writer *w, const char *name, enum gguf_ttype type, uint32_t n_dims,
                   const uint64_t *ne, const float *x)
{
	uint64_t bytes = tensor_info(w, name, type, n_dims, ne), nelem, row_bytes;
	uint8_t *q;

	if (!bytes || w->failed)
		return;
	nelem = bytes / gguf_type_bytes(type, block_vals(type)) * block_vals(type);
	row_bytes = gguf_type_bytes(type, ne[0]);
	q = malloc(bytes);
	if (!q) {
		wfail(w, "out of memory");
		return;
	}
	for (uint64_t r = 0; r < nelem / ne[0]; r++) {
		const float *xr = x + r * ne[0];
		uint8_t *qr = q + r * row_bytes;

		switch (type) {
		case GGUF_TT_F32:
			for (uint64_t i = 0; i < ne[0]; i++)
				put_scalar(w, &w->data, &xr[i], 4);
			break;
		case GGUF_TT_F16:
			for (uint64_t i = 0; i < ne[0]; i++)
				st16(qr + 2 * i, gguf_f32_to_f16(xr[i]));
			break;
		case GGUF_TT_Q8_0:
			gguf_quantize_q8_0(xr, ne[0], qr);
			break;
		case GGUF_TT_Q4_0:
			gguf_quantize_q4_0(xr, ne[0], qr);
			break;
		}
	}
	if (type != GGUF_TT_F32)
		put(w, &w->data, q, (size_t)bytes);
	free(q);
}

/* ------------------------------------------------------------ output */

int gguf_writer_bytes(struct gguf_writer *w, uint8_t **out, size_t *size, char *err, size_t err_len)
{
	struct buf f = {0};
	static const uint8_t zeros[64];

	put(w, &f, "GGUF", 4);
	put_u32(w, &f, 3);
	put_u64(w, &f, w->n_tensors);
	put_u64(w, &f, w->n_kv);
	put(w, &f, w->kv.p, w->kv.n);
	put(w, &f, w->ti.p, w->ti.n);
	if (w->n_tensors)
		while (!w->failed && f.n % w->alignment) {
			size_t pad = w->alignment - f.n % w->alignment;

			put(w, &f, zeros, pad < sizeof(zeros) ? pad : sizeof(zeros));
		}
	put(w, &f, w->data.p, w->data.n);
	if (w->failed) {
		free(f.p);
		snprintf(err, err_len, "gguf writer: %s", w->why);
		return -1;
	}
	*out = f.p;
	*size = f.n;
	return 0;
}

int gguf_writer_save(struct gguf_writer *w, const char *path, char *err, size_t err_len)
{
	uint8_t *b;
	size_t n;
	char tmp[4096];
	FILE *f;

	if (gguf_writer_bytes(w, &b, &n, err, err_len))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f) {
		int ok = fwrite(b, 1, n, f) == n;

		ok = (fclose(f) == 0) && ok;
		if (!ok || rename(tmp, path) != 0) {
			snprintf(err, err_len, "%s: cannot write: %s", path, strerror(errno));
			unlink(tmp);
			free(b);
			return -1;
		}
	} else {
		snprintf(err, err_len, "%s: cannot write: %s", path, strerror(errno));
		free(b);
		return -1;
	}
	free(b);
	return 0;
}
