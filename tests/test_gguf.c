/*
 * test_gguf.c - the GGUF reader (host/llm/gguf.c) against files written by
 * host/llm/gguf_write.c: round trips of every metadata type and tensor type,
 * dequantization against blocks worked out by hand, and refusals of every
 * kind of corrupt file (each with a message naming the file).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm/gguf.h"
#include "llm/gguf_write.h"
#include "util.h"

#define NAME "t.gguf"

static uint8_t *bytes_of(struct gguf_writer *w, size_t *n)
{
	uint8_t *b = NULL;
	char err[256];

	cr_assert_eq(gguf_writer_bytes(w, &b, n, err, sizeof(err)), 0, "%s", err);
	gguf_writer_destroy(w);
	return b;
}

static struct gguf *open_ok(const uint8_t *b, size_t n)
{
	struct gguf *g = NULL;
	char err[512] = "";

	cr_assert_eq(gguf_open_memory(b, n, NAME, &g, err, sizeof(err)), 0, "%s", err);
	return g;
}

/* Refused, with a message that names the file and contains @what. */
static void refused(const uint8_t *b, size_t n, const char *what)
{
	struct gguf *g = NULL;
	char err[512] = "";

	cr_assert_eq(gguf_open_memory(b, n, NAME, &g, err, sizeof(err)), -1,
	             "accepted (expected '%s')", what);
	cr_assert_null(g);
	cr_assert(strncmp(err, NAME ": ", strlen(NAME) + 2) == 0,
	          "message '%s' does not name the file", err);
	if (what)
		cr_assert(strstr(err, what), "message '%s' lacks '%s'", err, what);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------ metadata */

static const char *const strs[] = {"", "hello", "香港 咗嘅唔佢啲", "\xf0\x9f\x98\x80", "▁a"};

static struct gguf_writer *all_types_writer(void)
{
	struct gguf_writer *w = gguf_writer_create();
	uint8_t a_u8[] = {0, 1, 255};
	int8_t a_i8[] = {-128, 0, 127};
	uint16_t a_u16[] = {0, 65535};
	int16_t a_i16[] = {-32768, 32767};
	uint32_t a_u32[] = {0, 4000000000u};
	int32_t a_i32[] = {INT32_MIN, -1, INT32_MAX};
	uint64_t a_u64[] = {0, UINT64_MAX};
	int64_t a_i64[] = {INT64_MIN, INT64_MAX};
	float a_f32[] = {-1.5f, 0.0f, 3.25e10f};
	double a_f64[] = {-2.5, 1e300};
	uint8_t a_bool[] = {1, 0, 1};

	cr_assert_not_null(w);
	gguf_w_u8(w, "k.u8", 200);
	gguf_w_i8(w, "k.i8", -100);
	gguf_w_u16(w, "k.u16", 60000);
	gguf_w_i16(w, "k.i16", -30000);
	gguf_w_u32(w, "k.u32", 4000000000u);
	gguf_w_i32(w, "k.i32", -2000000000);
	gguf_w_u64(w, "k.u64", 0xfedcba9876543210ull);
	gguf_w_i64(w, "k.i64", -5000000000ll);
	gguf_w_f32(w, "k.f32", 1e-6f);
	gguf_w_f64(w, "k.f64", 3.141592653589793);
	gguf_w_bool(w, "k.true", 1);
	gguf_w_bool(w, "k.false", 0);
	gguf_w_str(w, "k.str", "香港 Hong Kong");
	gguf_w_strn(w, "k.nul", "a\0b", 3);
	gguf_w_str(w, "k.empty", "");
	gguf_w_arr(w, "a.u8", GGUF_VT_U8, a_u8, 3);
	gguf_w_arr(w, "a.i8", GGUF_VT_I8, a_i8, 3);
	gguf_w_arr(w, "a.u16", GGUF_VT_U16, a_u16, 2);
	gguf_w_arr(w, "a.i16", GGUF_VT_I16, a_i16, 2);
	gguf_w_arr(w, "a.u32", GGUF_VT_U32, a_u32, 2);
	gguf_w_arr(w, "a.i32", GGUF_VT_I32, a_i32, 3);
	gguf_w_arr(w, "a.u64", GGUF_VT_U64, a_u64, 2);
	gguf_w_arr(w, "a.i64", GGUF_VT_I64, a_i64, 2);
	gguf_w_arr(w, "a.f32", GGUF_VT_F32, a_f32, 3);
	gguf_w_arr(w, "a.f64", GGUF_VT_F64, a_f64, 2);
	gguf_w_arr(w, "a.bool", GGUF_VT_BOOL, a_bool, 3);
	gguf_w_arr(w, "a.empty", GGUF_VT_U32, a_u32, 0);
	gguf_w_arr_str(w, "a.str", strs, 5);
	gguf_w_arr_str(w, "a.str0", strs, 0);
	return w;
}

static int arr_eq(const struct gguf *g, const char *key, enum gguf_vtype t, const void *v, size_t n,
                  size_t es)
{
	const struct gguf_kv *kv = gguf_find(g, key);

	return kv && kv->type == GGUF_VT_ARRAY && kv->v.arr.type == t && kv->v.arr.n == n &&
	       (n == 0 || memcmp(kv->v.arr.data, v, n * es) == 0); /* little-endian host */
}

Test(gguf, metadata_round_trip)
{
	size_t n;
	uint8_t *b = bytes_of(all_types_writer(), &n);
	struct gguf *g = open_ok(b, n);
	const struct gguf_kv *kv;
	uint64_t u;
	double f;
	int bo;
	struct gguf_str s;

	cr_assert_eq(g->version, 3);
	cr_assert_eq(g->n_kv, 29);
	cr_assert_eq(g->n_tensors, 0);
	cr_assert_eq(g->alignment, 32);
	cr_assert_str_eq(g->path, NAME);

	cr_assert_eq(gguf_find(g, "k.u8")->type, GGUF_VT_U8);
	cr_assert_eq(gguf_find(g, "k.u8")->v.u, 200);
	cr_assert_eq(gguf_find(g, "k.i8")->v.i, -100);
	cr_assert_eq(gguf_find(g, "k.u16")->v.u, 60000);
	cr_assert_eq(gguf_find(g, "k.i16")->v.i, -30000);
	cr_assert_eq(gguf_find(g, "k.u32")->v.u, 4000000000u);
	cr_assert_eq(gguf_find(g, "k.i32")->v.i, -2000000000);
	cr_assert_eq(gguf_find(g, "k.u64")->v.u, 0xfedcba9876543210ull);
	cr_assert_eq(gguf_find(g, "k.i64")->v.i, -5000000000ll);
	cr_assert_eq(gguf_find(g, "k.f32")->v.f, (double)1e-6f);
	cr_assert_eq(gguf_find(g, "k.f64")->v.f, 3.141592653589793);
	cr_assert_eq(gguf_find(g, "k.true")->type, GGUF_VT_BOOL);
	cr_assert_null(gguf_find(g, "k.missing"));
	cr_assert_null(gguf_find(g, "k.u"), "a key prefix is not the key");

	/* typed look-ups: integers of any width and sign, in range */
	cr_assert_eq(gguf_get_uint(g, "k.u8", &u), 0);
	cr_assert_eq(u, 200);
	cr_assert_eq(gguf_get_uint(g, "k.u32", &u), 0);
	cr_assert_eq(u, 4000000000u);
	cr_assert_eq(gguf_get_uint(g, "k.u64", &u), 0);
	cr_assert_eq(u, 0xfedcba9876543210ull);
	cr_assert_eq(gguf_get_uint(g, "k.i8", &u), -1, "negative is not a uint");
	cr_assert_eq(gguf_get_uint(g, "k.f32", &u), -1);
	cr_assert_eq(gguf_get_uint(g, "k.str", &u), -1);
	cr_assert_eq(gguf_get_uint(g, "k.missing", &u), -1);
	cr_assert_eq(gguf_get_float(g, "k.f32", &f), 0);
	cr_assert_eq(f, (double)1e-6f);
	cr_assert_eq(gguf_get_float(g, "k.f64", &f), 0);
	cr_assert_eq(f, 3.141592653589793);
	cr_assert_eq(gguf_get_float(g, "k.u8", &f), -1);
	cr_assert_eq(gguf_get_bool(g, "k.true", &bo), 0);
	cr_assert_eq(bo, 1);
	cr_assert_eq(gguf_get_bool(g, "k.false", &bo), 0);
	cr_assert_eq(bo, 0);
	cr_assert_eq(gguf_get_bool(g, "k.u8", &bo), -1);
	cr_assert_eq(gguf_get_str(g, "k.str", &s), 0);
	cr_assert(s.len == strlen("香港 Hong Kong") && !memcmp(s.p, "香港 Hong Kong", s.len));
	cr_assert_eq(gguf_get_str(g, "k.nul", &s), 0);
	cr_assert(s.len == 3 && !memcmp(s.p, "a\0b", 3));
	cr_assert_eq(gguf_get_str(g, "k.empty", &s), 0);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(gguf_get_str(g, "k.u8", &s), -1);

	{
		uint8_t a_u8[] = {0, 1, 255};
		int8_t a_i8[] = {-128, 0, 127};
		uint16_t a_u16[] = {0, 65535};
		int16_t a_i16[] = {-32768, 32767};
		uint32_t a_u32[] = {0, 4000000000u};
		int32_t a_i32[] = {INT32_MIN, -1, INT32_MAX};
		uint64_t a_u64[] = {0, UINT64_MAX};
		int64_t a_i64[] = {INT64_MIN, INT64_MAX};
		float a_f32[] = {-1.5f, 0.0f, 3.25e10f};
		double a_f64[] = {-2.5, 1e300};
		uint8_t a_bool[] = {1, 0, 1};

		cr_assert(arr_eq(g, "a.u8", GGUF_VT_U8, a_u8, 3, 1));
		cr_assert(arr_eq(g, "a.i8", GGUF_VT_I8, a_i8, 3, 1));
		cr_assert(arr_eq(g, "a.u16", GGUF_VT_U16, a_u16, 2, 2));
		cr_assert(arr_eq(g, "a.i16", GGUF_VT_I16, a_i16, 2, 2));
		cr_assert(arr_eq(g, "a.u32", GGUF_VT_U32, a_u32, 2, 4));
		cr_assert(arr_eq(g, "a.i32", GGUF_VT_I32, a_i32, 3, 4));
		cr_assert(arr_eq(g, "a.u64", GGUF_VT_U64, a_u64, 2, 8));
		cr_assert(arr_eq(g, "a.i64", GGUF_VT_I64, a_i64, 2, 8));
		cr_assert(arr_eq(g, "a.f32", GGUF_VT_F32, a_f32, 3, 4));
		cr_assert(arr_eq(g, "a.f64", GGUF_VT_F64, a_f64, 2, 8));
		cr_assert(arr_eq(g, "a.bool", GGUF_VT_BOOL, a_bool, 3, 1));
		cr_assert(arr_eq(g, "a.empty", GGUF_VT_U32, a_u32, 0, 4));
	}
	kv = gguf_find(g, "a.str");
	cr_assert(kv && kv->type == GGUF_VT_ARRAY && kv->v.arr.type == GGUF_VT_STRING);
	cr_assert_eq(kv->v.arr.n, 5);
	for (int i = 4; i >= 0; i--) { /* any order: random access */
		struct gguf_str e = gguf_arr_str(kv, (uint64_t)i);

		cr_assert(e.len == strlen(strs[i]) && !memcmp(e.p, strs[i], e.len), "element %d",
		          i);
	}
	kv = gguf_find(g, "a.str0");
	cr_assert(kv && kv->v.arr.n == 0);
	gguf_close(g);
	free(b);
}

/* Arrays of strings that are all empty (no element offsets to keep):
 * found by fuzz_gguf (an offset applied to a null pointer, which clang's
 * UBSan reports and gcc's does not). */
Test(gguf, empty_string_arrays_only)
{
	struct gguf_writer *w = gguf_writer_create();
	const char *none[1] = {""};
	size_t n;
	uint8_t *b;
	struct gguf *g;

	gguf_w_arr_str(w, "a", none, 0);
	gguf_w_arr_str(w, "b", none, 0);
	b = bytes_of(w, &n);
	g = open_ok(b, n);
	cr_assert_eq(gguf_find(g, "b")->v.arr.n, 0);
	gguf_close(g);
	free(b);
}

/* Integer keys written as u32 or u64 read alike, as the spec's u64 and
 * gguf-py's u32 for llama.context_length. */
Test(gguf, integer_keys_any_width)
{
	struct gguf_writer *w = gguf_writer_create();
	size_t n;
	uint8_t *b;
	struct gguf *g;
	uint64_t u;

	gguf_w_u32(w, "llama.context_length", 2048);
	gguf_w_u64(w, "qwen2.context_length", 4096);
	gguf_w_i32(w, "x.block_count", 12);
	gguf_w_u16(w, "x.head_count", 8);
	b = bytes_of(w, &n);
	g = open_ok(b, n);
	cr_assert(gguf_get_uint(g, "llama.context_length", &u) == 0 && u == 2048);
	cr_assert(gguf_get_uint(g, "qwen2.context_length", &u) == 0 && u == 4096);
	cr_assert(gguf_get_uint(g, "x.block_count", &u) == 0 && u == 12);
	cr_assert(gguf_get_uint(g, "x.head_count", &u) == 0 && u == 8);
	gguf_close(g);
	free(b);
}

/* ------------------------------------------------------------ tensors */

/* IEEE half to float, by the formula (an independent decoder). */
static float half_ref(uint16_t h)
{
	int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
	double v;

	if (e == 31)
		return m ? NAN : (s ? -INFINITY : INFINITY);
	v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
	return (float)(s ? -v : v);
}

/* Every half value survives f16 -> file -> gguf_row_to_f32, and the
 * writer's f32 -> f16 rounds to nearest, ties to even. */
Test(gguf, f16_every_value)
{
	static float x[65536], y[65536];
	uint16_t *h = malloc(65536 * 2);
	struct gguf_writer *w = gguf_writer_create();
	uint64_t ne[1] = {65536};
	size_t n;
	uint8_t *b;
	struct gguf *g;
	const struct gguf_tensor *t;

	for (uint32_t i = 0; i < 65536; i++)
		h[i] = (uint16_t)i;
	gguf_w_tensor_raw(w, "h", GGUF_TT_F16, 1, ne, h);
	b = bytes_of(w, &n);
	g = open_ok(b, n);
	t = gguf_tensor(g, "h");
	cr_assert_not_null(t);
	gguf_row_to_f32(t, 0, y);
	for (uint32_t i = 0; i < 65536; i++) {
		float r = half_ref((uint16_t)i);

		x[i] = r;
		if (isnan(r))
			cr_assert(isnan(y[i]), "half %04x", i);
		else
			cr_assert(y[i] == r && signbit(y[i]) == signbit(r), "half %04x: %g != %g",
			          i, y[i], r);
		/* back: exact for every non-NaN half */
		if (!isnan(r))
			cr_assert_eq(gguf_f32_to_f16(r), (uint16_t)i, "half %04x", i);
	}
	/* rounding: the midpoint between 1 and 1+2^-10 goes to even (1),
	 * just above it goes up; past 65504 + half an ulp: infinity */
	cr_assert_eq(gguf_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
	cr_assert_eq(gguf_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
	cr_assert_eq(gguf_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
	cr_assert_eq(gguf_f32_to_f16(65519.0f), 0x7bff);
	cr_assert_eq(gguf_f32_to_f16(65520.0f), 0x7c00);
	cr_assert_eq(gguf_f32_to_f16(0x1p-25f), 0x0000, "half the least subnormal: to even, 0");
	cr_assert_eq(gguf_f32_to_f16(0x1p-25f * 1.5f), 0x0001);
	cr_assert_eq(gguf_f32_to_f16(-0x1p-24f * 2.5f), 0x8002);
	cr_assert_eq(gguf_f32_to_f16(1e-30f), 0x0000);
	(void)x;
	gguf_close(g);
	free(b);
	free(h);
}

/* Q8_0 and Q4_0 blocks written by hand: layout and dequantization. */
Test(gguf, quant_blocks_by_hand)
{
	uint8_t q8[2 * 34], q4[18];
	struct gguf_writer *w = gguf_writer_create();
	uint64_t ne8[1] = {64}, ne4[1] = {32};
	float y[64];
	size_t n;
	uint8_t *b;
	struct gguf *g;

	/* Q8_0: d = 0.5 (0x3800) then qs = -128..-97; d = -2 (0xc000), qs = 0..31 */
	q8[0] = 0x00;
	q8[1] = 0x38;
	for (int j = 0; j < 32; j++)
		q8[2 + j] = (uint8_t)(int8_t)(-128 + j);
	q8[34] = 0x00;
	q8[35] = 0xc0;
	for (int j = 0; j < 32; j++)
		q8[36 + j] = (uint8_t)j;
	/* Q4_0: d = 0.25 (0x3400); byte j = low nibble j % 16, high nibble 15 - j */
	q4[0] = 0x00;
	q4[1] = 0x34;
	for (int j = 0; j < 16; j++)
		q4[2 + j] = (uint8_t)(j | (15 - j) << 4);
	gguf_w_tensor_raw(w, "q8", GGUF_TT_Q8_0, 1, ne8, q8);
	gguf_w_tensor_raw(w, "q4", GGUF_TT_Q4_0, 1, ne4, q4);
	b = bytes_of(w, &n);
	g = open_ok(b, n);
	cr_assert_eq(gguf_tensor(g, "q8")->bytes, 68);
	cr_assert_eq(gguf_tensor(g, "q4")->bytes, 18);
	gguf_row_to_f32(gguf_tensor(g, "q8"), 0, y);
	for (int j = 0; j < 32; j++) {
		cr_assert_eq(y[j], 0.5f * (float)(-128 + j));
		cr_assert_eq(y[32 + j], -2.0f * (float)j);
	}
	gguf_row_to_f32(gguf_tensor(g, "q4"), 0, y);
	for (int j = 0; j < 16; j++) {
		cr_assert_eq(y[j], 0.25f * (float)(j - 8), "element %d", j);
		cr_assert_eq(y[16 + j], 0.25f * (float)(15 - j - 8), "element %d", 16 + j);
	}
	gguf_close(g);
	free(b);
}

/* Random tensors of every type and rank through the writer and reader:
 * F32 exact, F16 to the nearest half, Q8_0 and Q4_0 as the reference
 * quantizers' rules give (checked by their error bounds and by exact
 * values recomputed from the stored scale). */
Test(gguf, tensors_round_trip)
{
	struct rng r;
	enum gguf_ttype types[] = {GGUF_TT_F32, GGUF_TT_F16, GGUF_TT_Q8_0, GGUF_TT_Q4_0};
	uint64_t shapes[][4] = {{32, 1, 1, 1}, {64, 3, 1, 1}, {96, 2, 2, 1}, {32, 2, 1, 3}};
	uint32_t ndims[] = {1, 2, 3, 4};
	float *x[16];
	struct gguf_writer *w = gguf_writer_create();
	size_t n;
	uint8_t *b;
	struct gguf *g;
	int k = 0;

	rng_init(&r, test_seed("gguf tensors_round_trip"));
	gguf_w_alignment(w, 64);
	for (int ti = 0; ti < 4; ti++)
		for (int si = 0; si < 4; si++, k++) {
			uint64_t ne = shapes[si][0] * shapes[si][1] * shapes[si][2] * shapes[si][3];
			char name[32];

			x[k] = xmalloc(ne * sizeof(float));
			for (uint64_t i = 0; i < ne; i++)
				x[k][i] = (float)rng_range(&r, -100000, 100000) / 1000.0f;
			if (si == 1) /* a zero block and a block of one value */
				for (int j = 0; j < 64; j++)
					x[k][j] = j < 32 ? 0.0f : -3.0f;
			snprintf(name, sizeof(name), "t.%d.%d", ti, si);
			gguf_w_tensor(w, name, types[ti], ndims[si], shapes[si], x[k]);
		}
	b = bytes_of(w, &n);
	g = open_ok(b, n);
	cr_assert_eq(g->alignment, 64);
	cr_assert_eq(g->n_tensors, 16);
	k = 0;
	for (int ti = 0; ti < 4; ti++)
		for (int si = 0; si < 4; si++, k++) {
			char name[32];
			const struct gguf_tensor *t;
			float y[96];

			snprintf(name, sizeof(name), "t.%d.%d", ti, si);
			t = gguf_tensor(g, name);
			cr_assert_not_null(t, "%s", name);
			cr_assert_eq(t->type, types[ti]);
			cr_assert_eq(t->n_dims, ndims[si]);
			for (int d = 0; d < 4; d++)
				cr_assert_eq(t->ne[d], shapes[si][d]);
			cr_assert_eq(t->nelem,
			             shapes[si][0] * shapes[si][1] * shapes[si][2] * shapes[si][3]);
			cr_assert_eq(t->bytes, gguf_type_bytes(t->type, t->nelem));
			cr_assert_eq(((const uint8_t *)t->data - g->map) % 64, 0, "%s aligned",
			             name);
			for (uint64_t row = 0; row < t->nelem / t->ne[0]; row++) {
				const float *xr = x[k] + row * t->ne[0];
				const uint8_t *raw = (const uint8_t *)t->data +
				                     row * gguf_type_bytes(t->type, t->ne[0]);

				gguf_row_to_f32(t, row, y);
				for (uint64_t i = 0; i < t->ne[0]; i++) {
					uint64_t blk = i / 32, j = i % 32;
					float d, want;

					switch (t->type) {
					case GGUF_TT_F32:
						want = xr[i];
						break;
					case GGUF_TT_F16: {
						float h = half_ref(gguf_f32_to_f16(xr[i]));
						/* nearest: within half an ulp of the half */
						cr_assert(fabsf(h - xr[i]) <=
						          fabsf(xr[i]) * 0x1p-11f + 0x1p-25f);
						want = h;
						break;
					}
					case GGUF_TT_Q8_0: {
						float amax = 0;

						for (int m = 0; m < 32; m++)
							amax = fmaxf(amax, fabsf(xr[blk * 32 + m]));
						d = half_ref((uint16_t)(raw[blk * 34] |
						                        raw[blk * 34 + 1] << 8));
						cr_assert_eq(
						    d, half_ref(gguf_f32_to_f16(amax / 127.0f)));
						want = (float)(int8_t)raw[blk * 34 + 2 + j] * d;
						cr_assert(fabsf(want - xr[i]) <=
						              0.5f * d * 1.01f + amax * 0.002f,
						          "%s[%llu] %g vs %g", name,
						          (unsigned long long)i, want, xr[i]);
						break;
					}
					default: {
						int nib = j < 16 ? raw[blk * 18 + 2 + j] & 15
						                 : raw[blk * 18 + 2 + j - 16] >> 4;
						float amax = 0;

						for (int m = 0; m < 32; m++)
							amax = fmaxf(amax, fabsf(xr[blk * 32 + m]));
						d = half_ref((uint16_t)(raw[blk * 18] |
						                        raw[blk * 18 + 1] << 8));
						cr_assert_eq(fabsf(d), half_ref(gguf_f32_to_f16(
						                           amax / 8.0f)));
						want = (float)(nib - 8) * d;
						/* nibble 15 may be clamped: the far
						 * end of the range is 7 steps, not 8 */
						cr_assert(fabsf(want - xr[i]) <=
						              (nib == 15 ? 1.01f : 0.505f) *
						                      fabsf(d) +
						                  amax * 0.002f,
						          "%s[%llu] %g vs %g", name,
						          (unsigned long long)i, want, xr[i]);
						break;
					}
					}
					cr_assert_eq(y[i], want, "%s[%llu][%llu]", name,
					             (unsigned long long)row,
					             (unsigned long long)i);
				}
			}
		}
	for (k = 0; k < 16; k++)
		free(x[k]);
	gguf_close(g);
	free(b);
}

/* Every power-of-two alignment from 1 to 4096 places every tensor on it. */
Test(gguf, alignments)
{
	for (uint32_t a = 1; a <= 4096; a *= 2) {
		struct gguf_writer *w = gguf_writer_create();
		float v[64] = {1.0f};
		uint64_t ne1[1] = {3}, ne2[1] = {64};
		size_t n;
		uint8_t *b;
		struct gguf *g;

		gguf_w_alignment(w, a);
		gguf_w_str(w, "general.name", "x");
		gguf_w_tensor(w, "a", GGUF_TT_F32, 1, ne1, v);
		gguf_w_tensor(w, "b", GGUF_TT_Q8_0, 1, ne2, v);
		gguf_w_tensor(w, "c", GGUF_TT_F16, 1, ne1, v);
		b = bytes_of(w, &n);
		g = open_ok(b, n);
		cr_assert_eq(g->alignment, a);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(((const uint8_t *)g->tensors[i].data - g->map) % a, 0);
		cr_assert_eq(g->tensors[1].bytes, 68);
		gguf_close(g);
		free(b);
	}
}

/* From a file: mmap'd; and the file-level refusals. */
Test(gguf, open_file)
{
	char dir[] = "/tmp/test_gguf.XXXXXX", path[128], empty[128], err[512];
	struct gguf_writer *w = gguf_writer_create();
	float v[4] = {1, 2, 3, 4};
	uint64_t ne[2] = {2, 2};
	struct gguf *g = NULL;
	float y[2];
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.gguf", dir);
	snprintf(empty, sizeof(empty), "%s/empty.gguf", dir);
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_tensor(w, "w", GGUF_TT_F32, 2, ne, v);
	cr_assert_eq(gguf_writer_save(w, path, err, sizeof(err)), 0, "%s", err);
	gguf_writer_destroy(w);
	cr_assert_eq(gguf_open(path, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(g->path, path);
	gguf_row_to_f32(gguf_tensor(g, "w"), 1, y);
	cr_assert(y[0] == 3 && y[1] == 4);
	cr_assert_null(gguf_tensor(g, "x"));
	gguf_close(g);

	g = NULL;
	cr_assert_eq(gguf_open(dir, &g, err, sizeof(err)), -1);
	cr_assert(strstr(err, dir) && strstr(err, "directory"), "%s", err);
	f = fopen(empty, "w");
	fclose(f);
	cr_assert_eq(gguf_open(empty, &g, err, sizeof(err)), -1);
	cr_assert(strstr(err, empty) && strstr(err, "empty"), "%s", err);
	snprintf(path, sizeof(path), "%s/absent.gguf", dir);
	cr_assert_eq(gguf_open(path, &g, err, sizeof(err)), -1);
	cr_assert(strstr(err, path) && strstr(err, "No such file"), "%s", err);
	cr_assert_null(g);
	unlink(empty);
	snprintf(path, sizeof(path), "%s/m.gguf", dir);
	unlink(path);
	rmdir(dir);
}

/* ------------------------------------------------------------ corruption */

/* A valid file with metadata of every type and three tensors. */
static uint8_t *good_file(size_t *n)
{
	struct gguf_writer *w = all_types_writer();
	float v[128];
	uint64_t ne_a[2] = {4, 3}, ne_b[1] = {64}, ne_c[2] = {32, 2};

	for (int i = 0; i < 128; i++)
		v[i] = (float)i - 60.0f;
	gguf_w_tensor(w, "a", GGUF_TT_F32, 2, ne_a, v);
	gguf_w_tensor(w, "bb", GGUF_TT_Q8_0, 1, ne_b, v);
	gguf_w_tensor(w, "ccc", GGUF_TT_Q4_0, 2, ne_c, v);
	return bytes_of(w, n);
}

/* Where tensor @name's info fields are in @b: n_dims, then ne[], type, offset. */
static size_t tinfo_pos(const uint8_t *b, size_t n, const char *name)
{
	struct gguf *g = open_ok(b, n);
	const struct gguf_tensor *t = gguf_tensor(g, name);
	size_t pos;

	cr_assert_not_null(t);
	pos = (size_t)((const uint8_t *)t->name.p - g->map) + t->name.len;
	gguf_close(g);
	return pos;
}

/* Where key @key's type field is in @b. */
static size_t kv_pos(const uint8_t *b, size_t n, const char *key)
{
	struct gguf *g = open_ok(b, n);
	const struct gguf_kv *kv = gguf_find(g, key);
	size_t pos;

	cr_assert_not_null(kv);
	pos = (size_t)((const uint8_t *)kv->key.p - g->map) + kv->key.len;
	gguf_close(g);
	return pos;
}

/* Every proper prefix of a valid file is refused (so every header field,
 * key, value, tensor info and the data cut anywhere). */
Test(gguf, truncated_anywhere)
{
	size_t n;
	uint8_t *b = good_file(&n);

	for (size_t len = 0; len < n; len++) {
		uint8_t *c = malloc(len ? len : 1); /* a heap copy: ASan sees overreads */

		memcpy(c, b, len);
		refused(c, len, NULL);
		free(c);
	}
	free(b);
}

Test(gguf, header_fields)
{
	size_t n;
	uint8_t *b = good_file(&n), *c = malloc(n);

#define FRESH() memcpy(c, b, n)
	FRESH();
	c[0] = 'g';
	refused(c, n, "magic");
	FRESH();
	put32(c + 4, 1);
	refused(c, n, "version 1");
	FRESH();
	put32(c + 4, 4);
	refused(c, n, "version 4");
	FRESH();
	put32(c + 4, 2); /* v2 has the same layout: accepted */
	gguf_close(open_ok(c, n));
	FRESH();
	put64(c + 8, UINT64_MAX);
	refused(c, n, "tensor count");
	FRESH();
	put64(c + 8, 1000);
	refused(c, n, "tensor count");
	FRESH();
	put64(c + 16, UINT64_MAX);
	refused(c, n, "metadata count");
	FRESH();
	put64(c + 16, n / 13);
	refused(c, n, NULL);
	FRESH();
	put64(c + 8, 4); /* one tensor more than written: the data is read as infos */
	refused(c, n, NULL);
	FRESH();
	put64(c + 24, UINT64_MAX); /* the first key's length */
	refused(c, n, "past the end");
#undef FRESH
	free(c);
	free(b);
}

Test(gguf, metadata_values)
{
	size_t n;
	uint8_t *b = good_file(&n), *c = malloc(n);
	size_t p;

#define FRESH() memcpy(c, b, n)
	FRESH();
	put32(c + kv_pos(b, n, "k.u8"), 13);
	refused(c, n, "unknown value type 13");
	FRESH();
	put32(c + kv_pos(b, n, "k.u8"), 0xffffffffu);
	refused(c, n, "unknown value type");
	FRESH();
	p = kv_pos(b, n, "k.true");
	c[p + 4] = 2;
	refused(c, n, "not a bool");
	FRESH();
	p = kv_pos(b, n, "a.bool");
	c[p + 4 + 4 + 8 + 1] = 7;
	refused(c, n, "not a bool");
	FRESH();
	p = kv_pos(b, n, "k.str");
	put64(c + p + 4, n);
	refused(c, n, "past the end");
	FRESH();
	put64(c + p + 4, UINT64_MAX - 3);
	refused(c, n, "past the end");
	FRESH();
	p = kv_pos(b, n, "a.u32");
	put32(c + p + 4, 13);
	refused(c, n, "array of unknown type");
	FRESH();
	put32(c + p + 4, GGUF_VT_ARRAY);
	refused(c, n, "arrays of arrays");
	FRESH();
	put64(c + p + 8, UINT64_MAX / 2);
	refused(c, n, "past the end");
	FRESH();
	put64(c + p + 8, n / 4);
	refused(c, n, NULL);
	FRESH();
	p = kv_pos(b, n, "a.str");
	put64(c + p + 8, UINT64_MAX);
	refused(c, n, "past the end");
	FRESH();
	put64(c + p + 8, 6); /* one string more than written */
	refused(c, n, NULL);
	FRESH();
	put64(c + p + 8 + 8 + 8, UINT64_MAX); /* the second string's length ("" is first) */
	refused(c, n, "past the end");
	FRESH();
	/* a value type changed to another of the same size: wrong-typed but readable */
	put32(c + kv_pos(b, n, "k.u32"), GGUF_VT_F32);
	{
		struct gguf *g = open_ok(c, n);
		uint64_t u;

		cr_assert_eq(gguf_get_uint(g, "k.u32", &u), -1, "an f32 is not a uint");
		gguf_close(g);
	}
	/* duplicate keys: rename k.i8 to k.u8 */
	FRESH();
	p = kv_pos(b, n, "k.i8");
	c[p - 2] = 'u';
	refused(c, n, "duplicate metadata key 'k.u8'");
#undef FRESH
	free(c);
	free(b);
}

static uint8_t *aligned_file(size_t *n, enum gguf_vtype type, uint64_t value)
{
	struct gguf_writer *w = gguf_writer_create();
	float v[4] = {0};
	uint64_t ne[1] = {4};

	if (type == GGUF_VT_U32)
		gguf_w_u32(w, "general.alignment", (uint32_t)value);
	else if (type == GGUF_VT_U64)
		gguf_w_u64(w, "general.alignment", value);
	else if (type == GGUF_VT_U8)
		gguf_w_u8(w, "general.alignment", (uint8_t)value);
	else
		gguf_w_str(w, "general.alignment", "32");
	gguf_w_tensor(w, "t", GGUF_TT_F32, 1, ne, v);
	return bytes_of(w, n);
}

Test(gguf, alignment_values)
{
	size_t n;
	uint8_t *b;

	b = aligned_file(&n, GGUF_VT_U32, 0);
	refused(b, n, "general.alignment 0");
	free(b);
	b = aligned_file(&n, GGUF_VT_U32, 48);
	refused(b, n, "general.alignment 48");
	free(b);
	b = aligned_file(&n, GGUF_VT_U32, 0x80000000u);
	refused(b, n, "power of two");
	free(b);
	b = aligned_file(&n, GGUF_VT_U64, 1ull << 40);
	refused(b, n, "power of two");
	free(b);
	b = aligned_file(&n, GGUF_VT_U8, 32);
	refused(b, n, "general.alignment is of type u8");
	free(b);
	b = aligned_file(&n, GGUF_VT_STRING, 0);
	refused(b, n, "general.alignment is of type string");
	free(b);
	/* u64 and a legal value: accepted */
	b = aligned_file(&n, GGUF_VT_U64, 16);
	{
		struct gguf *g = open_ok(b, n);

		cr_assert_eq(g->alignment, 16);
		gguf_close(g);
	}
	free(b);
}

Test(gguf, tensor_infos)
{
	size_t n;
	uint8_t *b = good_file(&n), *c = malloc(n);
	size_t pa, pb, pc;

	pa = tinfo_pos(b, n, "a");   /* n_dims 2: ne at +4, +12; type +20; offset +24 */
	pb = tinfo_pos(b, n, "bb");  /* n_dims 1: ne +4; type +12; offset +16 */
	pc = tinfo_pos(b, n, "ccc"); /* n_dims 2: type +20; offset +24 */
#define FRESH() memcpy(c, b, n)
	FRESH();
	put32(c + pa, 0);
	refused(c, n, "tensor 'a': 0 dimensions");
	FRESH();
	put32(c + pa, 5);
	refused(c, n, "tensor 'a': 5 dimensions");
	FRESH();
	put32(c + pa, 0xffffffffu);
	refused(c, n, "dimensions");
	FRESH();
	put64(c + pa + 4, 0);
	refused(c, n, "tensor 'a': dimension 0 is 0");
	FRESH();
	put64(c + pa + 12, 1ull << 63);
	refused(c, n, "dimension 1 is");
	FRESH();
	put64(c + pa + 4, 1ull << 32);
	put64(c + pa + 12, 1ull << 32);
	refused(c, n, "tensor 'a': the product of its dimensions overflows");
	FRESH();
	put64(c + pa + 4, 1ull << 31);
	put64(c + pa + 12, 1ull << 32);
	refused(c, n, "overflows"); /* 2^63: past INT64_MAX */
	FRESH();
	put64(c + pa + 4, (1ull << 62) + 1); /* 2^62 + 1 values, 2^64 + 4 bytes */
	put64(c + pa + 12, 1);
	refused(c, n, "tensor 'a': its size in bytes overflows"); /* found by fuzz_gguf */
	FRESH();
	put64(c + pa + 4, 1ull << 20);
	refused(c, n, "tensor 'a': data at offset 0"); /* 16 MiB of data the file lacks */
	FRESH();
	put64(c + pa + 4, 1ull << 30);
	put64(c + pa + 12, 1ull << 30);
	refused(c, n, "runs past the end");
	FRESH();
	put32(c + pa + 20, 3);
	refused(c, n, "tensor 'a': type 3 (Q4_1) is not supported");
	FRESH();
	put32(c + pa + 20, 12);
	refused(c, n, "type 12 (Q4_K)");
	FRESH();
	put32(c + pa + 20, 0xffffffffu);
	refused(c, n, "type 4294967295 (unknown)");
	FRESH();
	put32(c + pa + 20, GGUF_TT_Q8_0); /* rows of 4 values are not Q8_0 blocks */
	refused(c, n, "not whole blocks of 32");
	FRESH();
	put64(c + pb + 4, 48);
	refused(c, n, "tensor 'bb': Q8_0 rows of 48 values");
	FRESH();
	put32(c + pb + 12, GGUF_TT_F32); /* 64 floats = 256 bytes: overlaps ccc, or past the end */
	refused(c, n, NULL);
	FRESH();
	put32(c + pc + 20, GGUF_TT_F32); /* 64 floats past the end of the file */
	refused(c, n, "tensor 'ccc': data at offset");
	FRESH();
	put64(c + pb + 16, get32(c + pb + 16) + 1);
	refused(c, n, "tensor 'bb': offset 65 is not a multiple of the alignment 32");
	FRESH();
	put64(c + pb + 16, (n + 31) & ~(size_t)31);
	refused(c, n, "tensor 'bb': data at offset");
	FRESH();
	put64(c + pb + 16, UINT64_MAX & ~31ull);
	refused(c, n, "runs past the end");
	FRESH();
	put64(c + pc + 24, 0); /* ccc on a */
	refused(c, n, "tensors 'a' and 'ccc' overlap");
	FRESH();
	put64(c + pc + 24, get32(c + pb + 16)); /* ccc on bb */
	refused(c, n, "overlap");
#undef FRESH
	free(c);
	free(b);
}

Test(gguf, duplicate_tensor_names)
{
	struct gguf_writer *w = gguf_writer_create();
	float v[4] = {0};
	uint64_t ne[1] = {4};
	size_t n;
	uint8_t *b;

	gguf_w_tensor(w, "blk.0.attn_q.weight", GGUF_TT_F32, 1, ne, v);
	gguf_w_tensor(w, "blk.0.attn_k.weight", GGUF_TT_F32, 1, ne, v);
	gguf_w_tensor(w, "blk.0.attn_q.weight", GGUF_TT_F32, 1, ne, v);
	b = bytes_of(w, &n);
	refused(b, n, "duplicate tensor name 'blk.0.attn_q.weight'");
	free(b);
}

/* A hostile key or name is shown printable and cut short in messages. */
Test(gguf, messages_printable)
{
	struct gguf_writer *w = gguf_writer_create();
	char name[200];
	float v[4] = {0};
	uint64_t ne[1] = {4};
	size_t n;
	uint8_t *b;
	struct gguf *g = NULL;
	char err[512];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	name[3] = '\n';
	name[4] = '\x1b';
	gguf_w_tensor(w, name, GGUF_TT_F32, 1, ne, v);
	gguf_w_tensor(w, name, GGUF_TT_F32, 1, ne, v);
	b = bytes_of(w, &n);
	cr_assert_eq(gguf_open_memory(b, n, NAME, &g, err, sizeof(err)), -1);
	cr_assert(strstr(err, "duplicate tensor name 'xxx??xxx"), "%s", err);
	cr_assert(strstr(err, "...'"), "%s", err);
	cr_assert(strlen(err) < 120, "%s", err);
	cr_assert_null(strchr(err, '\n'));
	free(b);
}

/* Random byte flips of a valid file: opened or refused with a message;
 * never a crash (ASan/UBSan in SANITIZE=1 builds). */
Test(gguf, random_corruption)
{
	struct rng r;
	size_t n;
	uint8_t *b = good_file(&n), *c = malloc(n);
	int accepted = 0;

	rng_init(&r, test_seed("gguf random_corruption"));
	for (int it = 0; it < 20000; it++) {
		struct gguf *g = NULL;
		char err[512] = "";
		int flips = (int)rng_range(&r, 1, 4);

		memcpy(c, b, n);
		for (int f = 0; f < flips; f++)
			c[rng_range(&r, 0, (int64_t)n - 1)] ^= (uint8_t)(1u << rng_range(&r, 0, 7));
		if (gguf_open_memory(c, n, NAME, &g, err, sizeof(err)) == 0) {
			float y[64];

			accepted++;
			for (uint64_t i = 0; i < g->n_tensors; i++)
				if (g->tensors[i].ne[0] <= 64)
					gguf_row_to_f32(&g->tensors[i], 0, y);
			gguf_close(g);
		} else {
			cr_assert(strncmp(err, NAME ": ", strlen(NAME) + 2) == 0, "%s", err);
		}
	}
	cr_log_info("random_corruption: %d of 20000 flipped files still valid", accepted);
	free(c);
	free(b);
}
