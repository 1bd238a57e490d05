/*
 * gguf.c - GGUF v3 reader (see gguf.h).
 *
 * File layout (ggml's docs/gguf.md), little-endian:
 *   "GGUF", u32 version, u64 tensor count, u64 metadata count,
 *   metadata: { string key, u32 value type, value } ...
 *   tensor infos: { string name, u32 n_dims, u64 ne[n_dims], u32 type,
 *                   u64 offset from the start of the data section } ...
 *   padding to general.alignment (default 32), the data section.
 * A string is a u64 length and that many bytes; an array is a u32 element
 * type, a u64 count and the elements.
 *
 * Everything is checked against the file's size before anything is
 * allocated from a count or read from an offset: a count may only ask for
 * as many records as the bytes left could hold.
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_DEFAULT_ALIGNMENT 32
/* Largest general.alignment accepted (a power of two). */
#define GGUF_MAX_ALIGNMENT (1u << 30)

/* What gguf_open hands out: the public part first. */
struct gguf_priv {
	struct gguf pub;
	int mapped;         /* map came from mmap (unmap at close) */
	uint64_t *str_offs; /* every string array's element offsets */
};

/* ------------------------------------------------------------ little helpers */

static uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ld64(const uint8_t *p)
{
	return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

static float ldf32(const uint8_t *p)
{
	uint32_t u = ld32(p);
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* IEEE half to float, exactly (subnormals, infinities, NaN). */
static float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
	float f;

	if (exp == 0x1f) {
		u = sign | 0x7f800000u | man << 13;
	} else if (exp == 0) {
		/* zero or subnormal: man * 2^-24 */
		f = ldexpf((float)man, -24);
		return sign ? -f : f;
	} else {
		u = sign | (exp + 112) << 23 | man << 13;
	}
	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Block size in values and bytes per block of a tensor type (0: unknown). */
static void type_block(enum gguf_ttype type, uint64_t *vals, uint64_t *bytes)
{
	switch (type) {
	case GGUF_TT_F32:
		*vals = 1;
		*bytes = 4;
		return;
	case GGUF_TT_F16:
		*vals = 1;
		*bytes = 2;
		return;
	case GGUF_TT_Q4_0:
		*vals = 32;
		*bytes = 18;
		return;
	case GGUF_TT_Q8_0:
		*vals = 32;
		*bytes = 34;
		return;
	}
	*vals = 0;
	*bytes = 0;
}

uint64_t gguf_type_bytes(enum gguf_ttype type, uint64_t nelem)
{
	uint64_t vals, bytes;

	type_block(type, &vals, &bytes);
	if (!vals)
		return 0;
	return nelem / vals * bytes;
}

const char *gguf_type_name(enum gguf_ttype type)
{
	/* ggml's numbering: named here so that a refusal names the type. */
	static const char *const names[] = {
	    "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
	    "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
	    "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
	    "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16",
	};

	if ((unsigned)type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "unknown";
}

static const char *vtype_name(uint32_t t)
{
	static const char *const names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
	                                    "bool", "string", "array", "u64", "i64", "f64"};

	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

/* Size of a scalar value type; 0 for string, array and unknown types. */
static uint64_t vtype_size(uint32_t t)
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
	}
	return 0;
}

/* A key or name for a message: at most 48 bytes, non-printables as '?'. */
static const char *show(char *buf, size_t n, struct gguf_str s)
{
	size_t k = 0;

	for (uint64_t i = 0; i < s.len && k + 4 < n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (i == 48) {
			memcpy(buf + k, "...", 3);
			k += 3;
			break;
		}
		buf[k++] = (c >= 0x20 && c != 0x7f) ? (char)c : '?';
	}
	buf[k] = '\0';
	return buf;
}

static int str_eq(struct gguf_str s, const char *z)
{
	size_t n = strlen(z);

	return s.len == n && memcmp(s.p, z, n) == 0;
}

/* ------------------------------------------------------------ the reader */

struct rd {
	const uint8_t *base;
	uint64_t size, pos;
	const char *name;
	char *err;
	size_t err_len;
};

static int fail(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME: message" into the error buffer; returns -1. */
static int fail(struct rd *r, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->err && r->err_len)
		snprintf(r->err, r->err_len, "%s: %s", r->name, msg);
	return -1;
}

static uint64_t left(const struct rd *r)
{
	return r->size - r->pos;
}

static int need(struct rd *r, uint64_t n, const char *what)
{
	if (left(r) < n)
		return fail(r, "truncated: %s at offset %llu needs %llu bytes, %llu left", what,
		            (unsigned long long)r->pos, (unsigned long long)n,
		            (unsigned long long)left(r));
	return 0;
}

static int rd_u32(struct rd *r, uint32_t *v, const char *what)
{
	if (need(r, 4, what))
		return -1;
	*v = ld32(r->base + r->pos);
	r->pos += 4;
	return 0;
}

static int rd_u64(struct rd *r, uint64_t *v, const char *what)
{
	if (need(r, 8, what))
		return -1;
	*v = ld64(r->base + r->pos);
	r->pos += 8;
	return 0;
}

static int rd_str(struct rd *r, struct gguf_str *s, const char *what)
{
	uint64_t len;

	if (need(r, 8, what))
		return -1;
	len = ld64(r->base + r->pos);
	if (len > left(r) - 8)
		return fail(r, "%s at offset %llu: length %llu runs past the end of the file", what,
		            (unsigned long long)r->pos, (unsigned long long)len);
	s->p = (const char *)r->base + r->pos + 8;
	s->len = len;
	r->pos += 8 + len;
	return 0;
}

/* Reads one metadata value of type @t into @kv (which has its key); with
 * @str_off_next, records the offsets of an array's strings there. */
static int rd_value(struct rd *r, struct gguf_kv *kv, uint32_t t, uint64_t **str_off_next)
{
	char kb[64];
	const char *k = show(kb, sizeof(kb), kv->key);
	const uint8_t *p;

	if (t > GGUF_VT_F64)
		return fail(r, "key '%s': unknown value type %u", k, t);
	kv->type = (enum gguf_vtype)t;
	if (t == GGUF_VT_STRING)
		return rd_str(r, &kv->v.s, "a string value");
	if (t == GGUF_VT_ARRAY) {
		uint32_t et;
		uint64_t n, es;

		if (rd_u32(r, &et, "an array's element type"))
			return -1;
		if (et > GGUF_VT_F64)
			return fail(r, "key '%s': array of unknown type %u", k, et);
		if (et == GGUF_VT_ARRAY)
			return fail(r, "key '%s': arrays of arrays are not supported", k);
		if (rd_u64(r, &n, "an array's count"))
			return -1;
		kv->v.arr.type = (enum gguf_vtype)et;
		kv->v.arr.n = n;
		kv->v.arr.data = r->base + r->pos;
		kv->v.arr.str_off = NULL;
		if (et == GGUF_VT_STRING) {
			uint64_t start = r->pos;

			/* every string needs at least its 8-byte length */
			if (n > left(r) / 8)
				return fail(r,
				            "key '%s': array of %llu strings runs past the end of "
				            "the file",
				            k, (unsigned long long)n);
			if (str_off_next)
				kv->v.arr.str_off = *str_off_next;
			for (uint64_t i = 0; i < n; i++) {
				struct gguf_str s;

				if (str_off_next)
					(*str_off_next)[i] = r->pos - start;
				if (rd_str(r, &s, "an array string"))
					return -1;
			}
			if (str_off_next && n)
				*str_off_next += n;
			return 0;
		}
		es = vtype_size(et);
		if (n > left(r) / es)
			return fail(r, "key '%s': array of %llu %s runs past the end of the file",
			            k, (unsigned long long)n, vtype_name(et));
		if (et == GGUF_VT_BOOL) {
			for (uint64_t i = 0; i < n; i++)
				if (r->base[r->pos + i] > 1)
					return fail(r, "key '%s': element %llu is not a bool (%u)",
					            k, (unsigned long long)i, r->base[r->pos + i]);
		}
		r->pos += n * es;
		return 0;
	}
	if (need(r, vtype_size(t), "a metadata value"))
		return -1;
	p = r->base + r->pos;
	switch (t) {
	case GGUF_VT_U8:
		kv->v.u = p[0];
		break;
	case GGUF_VT_I8:
		kv->v.i = (int8_t)p[0];
		break;
	case GGUF_VT_U16:
		kv->v.u = ld16(p);
		break;
	case GGUF_VT_I16:
		kv->v.i = (int16_t)ld16(p);
		break;
	case GGUF_VT_U32:
		kv->v.u = ld32(p);
		break;
	case GGUF_VT_I32:
		kv->v.i = (int32_t)ld32(p);
		break;
	case GGUF_VT_F32:
		kv->v.f = ldf32(p);
		break;
	case GGUF_VT_BOOL:
		if (p[0] > 1)
			return fail(r, "key '%s': not a bool (%u)", k, p[0]);
		kv->v.u = p[0];
		break;
	case GGUF_VT_U64:
		kv->v.u = ld64(p);
		break;
	case GGUF_VT_I64:
		kv->v.i = (int64_t)ld64(p);
		break;
	case GGUF_VT_F64: {
		uint64_t u = ld64(p);
		double d;

		memcpy(&d, &u, sizeof(d));
		kv->v.f = d;
		break;
	}
	}
	r->pos += vtype_size(t);
	return 0;
}

static int cmp_str(struct gguf_str a, struct gguf_str b)
{
	uint64_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;

	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

static int cmp_kv_ptr(const void *a, const void *b)
{
	return cmp_str((*(const struct gguf_kv *const *)a)->key,
	               (*(const struct gguf_kv *const *)b)->key);
}

static int cmp_t_name(const void *a, const void *b)
{
	return cmp_str((*(const struct gguf_tensor *const *)a)->name,
	               (*(const struct gguf_tensor *const *)b)->name);
}

static int cmp_t_off(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;
	uintptr_t px = (uintptr_t)x->data, py = (uintptr_t)y->data;

	return px < py ? -1 : px > py;
}

/* Duplicate keys and tensor names, overlapping tensor data. */
static int check_sets(struct rd *r, struct gguf *g)
{
	uint64_t n = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
	const void **v;
	char b[64];
	int ret = 0;

	if (n == 0)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return fail(r, "out of memory");
	for (uint64_t i = 0; i < g->n_kv; i++)
		v[i] = &g->kv[i];
	qsort(v, g->n_kv, sizeof(*v), cmp_kv_ptr);
	for (uint64_t i = 1; i < g->n_kv && !ret; i++)
		if (cmp_kv_ptr(&v[i - 1], &v[i]) == 0)
			ret = fail(r, "duplicate metadata key '%s'",
			           show(b, sizeof(b), ((const struct gguf_kv *)v[i])->key));
	for (uint64_t i = 0; i < g->n_tensors && !ret; i++)
		v[i] = &g->tensors[i];
	if (!ret)
		qsort(v, g->n_tensors, sizeof(*v), cmp_t_name);
	for (uint64_t i = 1; i < g->n_tensors && !ret; i++)
		if (cmp_t_name(&v[i - 1], &v[i]) == 0)
			ret = fail(r, "duplicate tensor name '%s'",
			           show(b, sizeof(b), ((const struct gguf_tensor *)v[i])->name));
	if (!ret)
		qsort(v, g->n_tensors, sizeof(*v), cmp_t_off);
	for (uint64_t i = 1; i < g->n_tensors && !ret; i++) {
		const struct gguf_tensor *a = v[i - 1], *c = v[i];

		if ((const uint8_t *)a->data + a->bytes > (const uint8_t *)c->data) {
			char b2[64];

			ret = fail(r, "tensors '%s' and '%s' overlap", show(b, sizeof(b), a->name),
			           show(b2, sizeof(b2), c->name));
		}
	}
	free(v);
	return ret;
}

/* Reads the tensor infos (at r->pos); data pointers are set by the caller
 * once the data section's start is known (offsets kept in ->data as
 * integers until then). */
static int rd_tensor_info(struct rd *r, struct gguf_tensor *t, uint64_t *offset)
{
	char b[64];
	const char *nm;
	uint32_t nd, type;
	uint64_t nelem = 1, vals, bsz;

	if (rd_str(r, &t->name, "a tensor name"))
		return -1;
	nm = show(b, sizeof(b), t->name);
	if (t->name.len == 0)
		return fail(r, "a tensor has an empty name");
	if (rd_u32(r, &nd, "a tensor's dimension count"))
		return -1;
	if (nd < 1 || nd > 4)
		return fail(r, "tensor '%s': %u dimensions (1 to 4 supported)", nm, nd);
	t->n_dims = nd;
	for (int d = 0; d < 4; d++)
		t->ne[d] = 1;
	for (uint32_t d = 0; d < nd; d++) {
		if (rd_u64(r, &t->ne[d], "a tensor dimension"))
			return -1;
		if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX)
			return fail(r, "tensor '%s': dimension %u is %llu", nm, d,
			            (unsigned long long)t->ne[d]);
		if (__builtin_mul_overflow(nelem, t->ne[d], &nelem) || nelem > (uint64_t)INT64_MAX)
			return fail(r, "tensor '%s': the product of its dimensions overflows", nm);
	}
	if (rd_u32(r, &type, "a tensor type"))
		return -1;
	type_block((enum gguf_ttype)type, &vals, &bsz);
	if (!vals)
		return fail(r, "tensor '%s': type %u (%s) is not supported (F32, F16, Q4_0, Q8_0)",
		            nm, type, gguf_type_name((enum gguf_ttype)type));
	t->type = (enum gguf_ttype)type;
	if (t->ne[0] % vals)
		return fail(r, "tensor '%s': %s rows of %llu values are not whole blocks of %llu",
		            nm, gguf_type_name(t->type), (unsigned long long)t->ne[0],
		            (unsigned long long)vals);
	t->nelem = nelem;
	if (__builtin_mul_overflow(nelem / vals, bsz, &t->bytes))
		return fail(r, "tensor '%s': its size in bytes overflows", nm);
	if (rd_u64(r, offset, "a tensor offset"))
		return -1;
	return 0;
}

static void free_priv(struct gguf_priv *gp)
{
	if (!gp)
		return;
	if (gp->mapped && gp->pub.map)
		munmap((void *)gp->pub.map, gp->pub.size);
	free(gp->pub.kv);
	free(gp->pub.tensors);
	free(gp->pub.path);
	free(gp->str_offs);
	free(gp);
}

/* Parses @gp->pub.map (size bytes) into @gp. */
static int parse(struct gguf_priv *gp, const char *name, char *err, size_t err_len)
{
	struct gguf *g = &gp->pub;
	struct rd r = {.base = g->map,
	               .size = g->size,
	               .pos = 0,
	               .name = name,
	               .err = err,
	               .err_len = err_len};
	uint64_t kv_start, n_str = 0, *str_next, *offsets = NULL, data_start, data_size;
	uint32_t version;
	char b[64];

	if (g->size < 4 || memcmp(g->map, "GGUF", 4) != 0)
		return fail(&r, "not a GGUF file (no GGUF magic)");
	r.pos = 4;
	if (rd_u32(&r, &version, "the version"))
		return -1;
	if (version != 2 && version != 3)
		return fail(&r, "GGUF version %u is not supported (2 and 3 are)", version);
	g->version = version;
	if (rd_u64(&r, &g->n_tensors, "the tensor count") ||
	    rd_u64(&r, &g->n_kv, "the metadata count"))
		return -1;
	/* a key/value needs at least 8 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 8 + 4 + 8 */
	if (g->n_kv > left(&r) / 13)
		return fail(&r, "metadata count %llu runs past the end of the file",
		            (unsigned long long)g->n_kv);
	if (g->n_tensors > left(&r) / 33)
		return fail(&r, "tensor count %llu runs past the end of the file",
		            (unsigned long long)g->n_tensors);

	/* first pass over the metadata: checks it and counts array strings */
	kv_start = r.pos;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		struct gguf_kv kv;
		uint32_t t;

		if (rd_str(&r, &kv.key, "a metadata key") || rd_u32(&r, &t, "a value type"))
			return -1;
		if (rd_value(&r, &kv, t, NULL))
			return -1;
		if (t == GGUF_VT_ARRAY && kv.v.arr.type == GGUF_VT_STRING)
			n_str += kv.v.arr.n;
	}
	if (g->n_kv) {
		g->kv = calloc(g->n_kv, sizeof(*g->kv));
		if (!g->kv)
			return fail(&r, "out of memory");
	}
	if (n_str) {
		gp->str_offs = malloc(n_str * sizeof(*gp->str_offs));
		if (!gp->str_offs)
			return fail(&r, "out of memory");
	}
	str_next = gp->str_offs;
	r.pos = kv_start;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		struct gguf_kv *kv = &g->kv[i];
		uint32_t t;

		if (rd_str(&r, &kv->key, "a metadata key") || rd_u32(&r, &t, "a value type") ||
		    rd_value(&r, kv, t, &str_next))
			return -1;
	}

	g->alignment = GGUF_DEFAULT_ALIGNMENT;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const struct gguf_kv *kv = &g->kv[i];

		if (!str_eq(kv->key, "general.alignment"))
			continue;
		if (kv->type != GGUF_VT_U32 && kv->type != GGUF_VT_U64)
			return fail(&r, "general.alignment is of type %s (u32 expected)",
			            vtype_name(kv->type));
		if (kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)) || kv->v.u > GGUF_MAX_ALIGNMENT)
			return fail(&r, "general.alignment %llu is not a power of two up to 2^30",
			            (unsigned long long)kv->v.u);
		g->alignment = kv->v.u;
	}

	if (g->n_tensors) {
		g->tensors = calloc(g->n_tensors, sizeof(*g->tensors));
		offsets = malloc(g->n_tensors * sizeof(*offsets));
		if (!g->tensors || !offsets) {
			free(offsets);
			return fail(&r, "out of memory");
		}
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		if (rd_tensor_info(&r, &g->tensors[i], &offsets[i])) {
			free(offsets);
			return -1;
		}
	}
	/* the data section starts at the next multiple of the alignment */
	data_start = r.pos + (g->alignment - r.pos % g->alignment) % g->alignment;
	if (data_start > g->size) {
		if (g->n_tensors) {
			free(offsets);
			r.pos = g->size;
			return fail(&r,
			            "truncated: the data section (offset %llu) starts past the end "
			            "of the file",
			            (unsigned long long)data_start);
		}
		data_start = g->size;
	}
	data_size = g->size - data_start;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct gguf_tensor *t = &g->tensors[i];

		if (offsets[i] % g->alignment) {
			fail(&r, "tensor '%s': offset %llu is not a multiple of the alignment %llu",
			     show(b, sizeof(b), t->name), (unsigned long long)offsets[i],
			     (unsigned long long)g->alignment);
			free(offsets);
			return -1;
		}
		if (offsets[i] > data_size || t->bytes > data_size - offsets[i]) {
			fail(&r,
			     "tensor '%s': data at offset %llu (%llu bytes) runs past the end of "
			     "the file (data section of %llu bytes)",
			     show(b, sizeof(b), t->name), (unsigned long long)offsets[i],
			     (unsigned long long)t->bytes, (unsigned long long)data_size);
			free(offsets);
			return -1;
		}
		t->data = g->map + data_start + offsets[i];
	}
	free(offsets);
	return check_sets(&r, g);
}

int gguf_open_memory(const void *data, size_t size, const char *name, struct gguf **out, char *err,
                     size_t err_len)
{
	struct gguf_priv *gp = calloc(1, sizeof(*gp));

	if (!name)
		name = "(memory)";
	if (!gp || !(gp->pub.path = strdup(name))) {
		free(gp);
		snprintf(err, err_len, "%s: out of memory", name);
		return -1;
	}
	gp->pub.map = data;
	gp->pub.size = size;
	if (parse(gp, name, err, err_len)) {
		free_priv(gp);
		return -1;
	}
	*out = &gp->pub;
	return 0;
}

int gguf_open(const char *path, struct gguf **out, char *err, size_t err_len)
{
	struct gguf_priv *gp;
	struct stat st;
	void *map;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: %s", path,
		         S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(err, err_len, "%s: empty file (not a GGUF file)", path);
		close(fd);
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, err_len, "%s: cannot map: %s", path, strerror(errno));
		return -1;
	}
	gp = calloc(1, sizeof(*gp));
	if (!gp || !(gp->pub.path = strdup(path))) {
		free(gp);
		munmap(map, (size_t)st.st_size);
		snprintf(err, err_len, "%s: out of memory", path);
		return -1;
	}
	gp->mapped = 1;
	gp->pub.map = map;
	gp->pub.size = (uint64_t)st.st_size;
	if (parse(gp, path, err, err_len)) {
		free_priv(gp);
		return -1;
	}
	*out = &gp->pub;
	return 0;
}

void gguf_close(struct gguf *g)
{
	free_priv((struct gguf_priv *)g);
}

/* ------------------------------------------------------------ look-ups */

const struct gguf_kv *gguf_find(const struct gguf *g, const char *key)
{
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (str_eq(g->kv[i].key, key))
			return &g->kv[i];
	return NULL;
}

int gguf_get_uint(const struct gguf *g, const char *key, uint64_t *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);

	if (!kv)
		return -1;
	switch (kv->type) {
	case GGUF_VT_U8:
	case GGUF_VT_U16:
	case GGUF_VT_U32:
	case GGUF_VT_U64:
		*out = kv->v.u;
		return 0;
	case GGUF_VT_I8:
	case GGUF_VT_I16:
	case GGUF_VT_I32:
	case GGUF_VT_I64:
		if (kv->v.i < 0)
			return -1;
		*out = (uint64_t)kv->v.i;
		return 0;
	default:
		return -1;
	}
}

int gguf_get_float(const struct gguf *g, const char *key, double *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);

	if (!kv || (kv->type != GGUF_VT_F32 && kv->type != GGUF_VT_F64))
		return -1;
	*out = kv->v.f;
	return 0;
}

int gguf_get_bool(const struct gguf *g, const char *key, int *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);

	if (!kv || kv->type != GGUF_VT_BOOL)
		return -1;
	*out = kv->v.u != 0;
	return 0;
}

int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);

	if (!kv || kv->type != GGUF_VT_STRING)
		return -1;
	*out = kv->v.s;
	return 0;
}

struct gguf_str gguf_arr_str(const struct gguf_kv *kv, uint64_t i)
{
	const uint8_t *p = kv->v.arr.data + kv->v.arr.str_off[i];
	struct gguf_str s = {.p = (const char *)p + 8, .len = ld64(p)};

	return s;
}

const struct gguf_tensor *gguf_tensor(const struct gguf *g, const char *name)
{
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (str_eq(g->tensors[i].name, name))
			return &g->tensors[i];
	return NULL;
}

/* ------------------------------------------------------------ dequantization */

void gguf_row_to_f32(const struct gguf_tensor *t, uint64_t row, float *out)
{
	uint64_t n = t->ne[0];
	const uint8_t *p = (const uint8_t *)t->data + row * gguf_type_bytes(t->type, n);

	switch (t->type) {
	case GGUF_TT_F32:
		for (uint64_t i = 0; i < n; i++)
			out[i] = ldf32(p + 4 * i);
		break;
	case GGUF_TT_F16:
		for (uint64_t i = 0; i < n; i++)
			out[i] = f16_to_f32(ld16(p + 2 * i));
		break;
	case GGUF_TT_Q8_0:
		for (uint64_t b = 0; b < n / 32; b++, p += 34) {
			float d = f16_to_f32(ld16(p));

			for (int j = 0; j < 32; j++)
				out[32 * b + j] = (float)(int8_t)p[2 + j] * d;
		}
		break;
	case GGUF_TT_Q4_0:
		for (uint64_t b = 0; b < n / 32; b++, p += 18) {
			float d = f16_to_f32(ld16(p));

			for (int j = 0; j < 16; j++) {
				out[32 * b + j] = (float)((p[2 + j] & 0xf) - 8) * d;
				out[32 * b + 16 + j] = (float)((p[2 + j] >> 4) - 8) * d;
			}
		}
		break;
	}
}
