/*
 * test_image.c - the PNG reader (host/data/image.c) against PNG files that
 * this test writes itself with an encoder of its own (below): every colour
 * type and bit depth, each of the five row filters, Adam7 interlacing,
 * image data split over many IDAT chunks; colour to grey (BT.601 luma) and
 * to three planes; and malformed files (bad CRC, every truncation, bad
 * IHDR, decompression bombs, corrupt zlib data, misplaced chunks), which
 * must fail with a message naming the file. Finally `sampan run` on a PNG
 * gives the same classes as on the PGM it was made from.
 *
 * The random images take their seed from SAMPAN_TEST_SEED when set.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "data/image.h"
#include "onnx/onnx_model.h"
#include "sampan.h"
#include "spawn.h"
#include "util.h"

TestSuite(png, .timeout = 60);
TestSuite(png_cli, .timeout = 120);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))
#define ERR_SIZE 1024

/* ---------------------------------------------------------------- random */

/* One generator per test process (tests/util.c), seeded per test. */
static struct rng test_rng;

static void rng_seed(const char *test)
{
	char what[64];

	snprintf(what, sizeof(what), "png::%s", test);
	rng_init(&test_rng, test_seed(what));
}

static uint32_t rng(void)
{
	return (uint32_t)(rng_u64(&test_rng) >> 32);
}

/* ---------------------------------------------------------- PNG encoder */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put32(struct buf *b, uint32_t v)
{
	uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	put(b, be, 4);
}

/* Appends a chunk with a correct CRC. */
static void put_chunk(struct buf *b, const char *type, const void *data, size_t n)
{
	uint32_t crc;

	put32(b, (uint32_t)n);
	put(b, type, 4);
	put(b, data, n);
	crc = (uint32_t)crc32(0, (const Bytef *)type, 4);
	if (n) /* crc32() of a NULL buffer is its initial value, 0 */
		crc = (uint32_t)crc32(crc, data, (uInt)n);
	put32(b, crc);
}

static void put_signature(struct buf *b)
{
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

	put(b, sig, 8);
}

static void put_ihdr(struct buf *b, uint32_t w, uint32_t h, int depth, int ctype, int interlace)
{
	uint8_t d[13] = {(uint8_t)(w >> 24),
	                 (uint8_t)(w >> 16),
	                 (uint8_t)(w >> 8),
	                 (uint8_t)w,
	                 (uint8_t)(h >> 24),
	                 (uint8_t)(h >> 16),
	                 (uint8_t)(h >> 8),
	                 (uint8_t)h,
	                 (uint8_t)depth,
	                 (uint8_t)ctype,
	                 0,
	                 0,
	                 (uint8_t)interlace};

	put_chunk(b, "IHDR", d, sizeof(d));
}

/* zlib-compresses @n bytes. */
static uint8_t *deflate_all(const void *d, size_t n, size_t *out_len)
{
	uLongf len = compressBound((uLong)n);
	uint8_t *z = malloc(len);

	cr_assert_not_null(z);
	cr_assert_eq(compress2(z, &len, d, (uLong)n, 9), Z_OK);
	*out_len = len;
	return z;
}

struct png_opts {
	uint32_t w, h;
	int depth, ctype, interlace;
	int filter; /* 0 to 4, or -1: row y of a pass uses filter y % 5 */
	const uint8_t *palette;
	int n_palette;
	size_t idat_split; /* bytes per IDAT chunk; 0: one chunk */
};

static int samples_per_pixel(int ctype)
{
	static const int spp[7] = {1, 0, 3, 1, 2, 0, 4};

	return spp[ctype];
}

static uint8_t ref_paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Packs and filters the rows of the (pw, ph) sub-image of @s at columns
 * x0 + i * dx, rows y0 + j * dy. */
static void put_pass(struct buf *raw, const struct png_opts *o, const uint16_t *s, uint32_t x0,
                     uint32_t y0, uint32_t dx, uint32_t dy)
{
	int spp = samples_per_pixel(o->ctype), bits = spp * o->depth;
	int bpp = bits >= 8 ? bits / 8 : 1;
	uint32_t pw = o->w > x0 ? (o->w - x0 + dx - 1) / dx : 0;
	uint32_t ph = o->h > y0 ? (o->h - y0 + dy - 1) / dy : 0;
	size_t rb = ((size_t)pw * (size_t)bits + 7) / 8;
	uint8_t *prev = calloc(rb + 1, 1), *cur = calloc(rb + 1, 1), *out = malloc(rb + 1);

	cr_assert(prev && cur && out);
	if (!pw || !ph)
		goto done;
	for (uint32_t j = 0; j < ph; j++) {
		int f = o->filter >= 0 ? o->filter : (int)(j % 5);

		memset(cur, 0, rb);
		for (uint32_t i = 0; i < pw; i++) {
			for (int c = 0; c < spp; c++) {
				size_t at =
				    (((size_t)(y0 + j * dy) * o->w + x0 + i * dx) * (size_t)spp +
				     (size_t)c);
				unsigned v = s[at];
				size_t bit =
				    ((size_t)i * (size_t)spp + (size_t)c) * (size_t)o->depth;

				if (o->depth == 16) {
					cur[bit / 8] = (uint8_t)(v >> 8);
					cur[bit / 8 + 1] = (uint8_t)v;
				} else {
					cur[bit / 8] |= (uint8_t)(v << (8 - o->depth - bit % 8));
				}
			}
		}
		out[0] = (uint8_t)f;
		for (size_t k = 0; k < rb; k++) {
			int a = k >= (size_t)bpp ? cur[k - bpp] : 0, b = prev[k];
			int c = k >= (size_t)bpp ? prev[k - bpp] : 0;
			int pred = f == 1   ? a
			           : f == 2 ? b
			           : f == 3 ? (a + b) / 2
			           : f == 4 ? ref_paeth(a, b, c)
			                    : 0;

			out[1 + k] = (uint8_t)(cur[k] - pred);
		}
		put(raw, out, rb + 1);
		memcpy(prev, cur, rb);
	}
done:
	free(prev);
	free(cur);
	free(out);
}

/* Encodes (h, w, samples per pixel) samples @s as a PNG file. */
static struct buf png_encode(const struct png_opts *o, const uint16_t *s)
{
	static const uint32_t adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
	                                     {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
	struct buf raw = {0}, png = {0};
	uint8_t *z;
	size_t zlen;

	if (o->interlace)
		for (int p = 0; p < 7; p++)
			put_pass(&raw, o, s, adam7[p][0], adam7[p][1], adam7[p][2], adam7[p][3]);
	else
		put_pass(&raw, o, s, 0, 0, 1, 1);
	z = deflate_all(raw.p, raw.len, &zlen);
	put_signature(&png);
	put_ihdr(&png, o->w, o->h, o->depth, o->ctype, o->interlace);
	if (o->palette)
		put_chunk(&png, "PLTE", o->palette, (size_t)o->n_palette * 3);
	put_chunk(&png, "tEXt", "Comment\0test", 12);
	for (size_t at = 0; at < zlen;) {
		size_t n = o->idat_split && zlen - at > o->idat_split ? o->idat_split : zlen - at;

		put_chunk(&png, "IDAT", z + at, n);
		at += n;
	}
	put_chunk(&png, "IEND", NULL, 0);
	free(z);
	free(raw.p);
	return png;
}

/* Random samples below 2^depth for a (h, w) image of @ctype; palette
 * indices below @n_palette. */
static uint16_t *random_samples(const struct png_opts *o)
{
	size_t n = (size_t)o->w * o->h * (size_t)samples_per_pixel(o->ctype);
	uint16_t *s = malloc(n * sizeof(*s) + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (uint16_t)(o->palette ? rng() % (uint32_t)o->n_palette
		                             : rng() & ((1u << o->depth) - 1));
	return s;
}

/* A sample as the reader must give it to a uint8 input: a 16-bit v is the
 * level v / 257 of the 8-bit scale rounded to the nearest (65535 = 255 *
 * 257), sub-byte levels are scaled up. */
static uint8_t to8(unsigned v, int depth)
{
	if (depth == 16)
		return (uint8_t)lround((double)v / 257.0);
	return (uint8_t)(v * 255 / ((1u << depth) - 1));
}

/* The expected R, G, B (or grey in [0]) of pixel @i. */
static void expect_rgb(const struct png_opts *o, const uint16_t *s, size_t i, uint8_t rgb[3])
{
	int spp = samples_per_pixel(o->ctype);
	const uint16_t *p = s + i * (size_t)spp;

	if (o->palette) {
		memcpy(rgb, o->palette + 3 * p[0], 3);
	} else if (o->ctype == 0 || o->ctype == 4) {
		rgb[0] = rgb[1] = rgb[2] = to8(p[0], o->depth);
	} else {
		for (int c = 0; c < 3; c++)
			rgb[c] = to8(p[c], o->depth);
	}
}

static const struct onnx_value decl_grey = {
    .name = (char *)"x", .dtype = ONNX_DT_UINT8, .ndim = 4, .dims = {1, 1, -1, -1}};
static const struct onnx_value decl_rgb = {
    .name = (char *)"x", .dtype = ONNX_DT_UINT8, .ndim = 4, .dims = {-1, 3, -1, -1}};

/* Decodes @png for @decl, which must succeed. */
static struct onnx_tensor *decode_ok(const struct buf *png, const struct onnx_value *decl,
                                     const char *what)
{
	struct onnx_tensor *t = NULL;
	char err[ERR_SIZE] = "";

	cr_assert_eq(
	    onnx_image_decode(png->p, png->len, "t.png", decl, 255.0f, &t, err, sizeof(err)),
	    SAMPAN_OK, "%s: %s", what, err);
	cr_assert_not_null(t);
	return t;
}

/* Encodes a random image with @o, decodes it as grey and as three planes
 * and checks every pixel. */
static void check_roundtrip(struct png_opts *o)
{
	char what[160];
	uint16_t *s = random_samples(o);
	struct buf png = png_encode(o, s);
	size_t plane = (size_t)o->w * o->h;
	struct onnx_tensor *grey, *rgb;

	snprintf(what, sizeof(what), "%ux%u depth %d colour type %d interlace %d filter %d", o->w,
	         o->h, o->depth, o->ctype, o->interlace, o->filter);
	grey = decode_ok(&png, &decl_grey, what);
	rgb = decode_ok(&png, &decl_rgb, what);
	cr_assert_eq(grey->ndim, 4, "%s", what);
	cr_assert(grey->dims[0] == 1 && grey->dims[1] == 1 && grey->dims[2] == o->h &&
	              grey->dims[3] == o->w,
	          "%s", what);
	cr_assert(rgb->dims[1] == 3 && rgb->count == 3 * plane, "%s", what);
	for (size_t i = 0; i < plane; i++) {
		uint8_t e[3];
		const uint8_t *g = grey->data, *c = rgb->data;

		expect_rgb(o, s, i, e);
		if (o->depth == 16 && !o->palette) {
			/* Grey from the 16-bit samples, then to 8 bits. */
			const uint16_t *p = s + i * (size_t)samples_per_pixel(o->ctype);
			bool colour = o->ctype == 2 || o->ctype == 6;
			unsigned y =
			    colour ? (299u * p[0] + 587u * p[1] + 114u * p[2] + 500) / 1000 : p[0];

			cr_assert_eq(g[i], to8(y, 16), "%s: grey pixel %zu", what, i);
		} else {
			cr_assert_eq(g[i],
			             (uint8_t)((299 * e[0] + 587 * e[1] + 114 * e[2] + 500) / 1000),
			             "%s: grey pixel %zu", what, i);
		}
		for (int k = 0; k < 3; k++)
			cr_assert_eq(c[(size_t)k * plane + i], e[k], "%s: pixel %zu channel %d",
			             what, i, k);
	}
	onnx_tensor_destroy(grey);
	onnx_tensor_destroy(rgb);
	free(png.p);
	free(s);
}

/* ------------------------------------------------------------- good files */

Test(png, grey_every_depth_filter_and_interlace)
{
	static const int depths[] = {1, 2, 4, 8, 16};
	static const uint32_t sizes[][2] = {{1, 1}, {13, 7}, {3, 17}, {9, 1}, {1, 9}};

	rng_seed("grey_every_depth_filter_and_interlace");
	for (size_t d = 0; d < COUNT(depths); d++)
		for (int il = 0; il < 2; il++)
			for (int f = -1; f <= 4; f++)
				for (size_t z = 0; z < COUNT(sizes); z++) {
					struct png_opts o = {.w = sizes[z][0],
					                     .h = sizes[z][1],
					                     .depth = depths[d],
					                     .ctype = 0,
					                     .interlace = il,
					                     .filter = f};

					check_roundtrip(&o);
				}
}

Test(png, colour_types)
{
	static const struct {
		int ctype, depth;
	} kinds[] = {{2, 8},  {2, 16}, {6, 8}, {6, 16}, {4, 8},
	             {4, 16}, {3, 1},  {3, 2}, {3, 4},  {3, 8}};
	uint8_t palette[256 * 3];

	rng_seed("colour_types");
	for (size_t i = 0; i < sizeof(palette); i++)
		palette[i] = (uint8_t)rng();
	for (size_t k = 0; k < COUNT(kinds); k++)
		for (int il = 0; il < 2; il++)
			for (int f = -1; f <= 4; f += 5) {
				struct png_opts o = {.w = 11,
				                     .h = 10,
				                     .depth = kinds[k].depth,
				                     .ctype = kinds[k].ctype,
				                     .interlace = il,
				                     .filter = f};

				if (o.ctype == 3) {
					o.palette = palette;
					/* Not always a full palette. */
					o.n_palette = (1 << o.depth) - (o.depth > 1 ? 1 : 0);
				}
				check_roundtrip(&o);
			}
}

/* Image data spread over one-byte IDAT chunks; a float input gets pixel /
 * pixel_max; a (H, W) input takes the image too. */
Test(png, split_idat_float_and_2d)
{
	struct png_opts o = {.w = 5, .h = 4, .depth = 8, .ctype = 0, .filter = -1, .idat_split = 1};
	struct onnx_value decl = {
	    .name = (char *)"x", .dtype = ONNX_DT_FLOAT, .ndim = 2, .dims = {4, 5}};
	struct onnx_tensor *t = NULL;
	char err[ERR_SIZE];
	uint16_t *s;
	struct buf png;

	rng_seed("split_idat_float_and_2d");
	s = random_samples(&o);
	png = png_encode(&o, s);
	cr_assert_eq(onnx_image_decode(png.p, png.len, "t.png", &decl, 2.0f, &t, err, sizeof(err)),
	             SAMPAN_OK, "%s", err);
	cr_assert_eq(t->ndim, 2);
	for (size_t i = 0; i < 20; i++)
		cr_assert_eq(((float *)t->data)[i], (float)s[i] / 2.0f, "pixel %zu", i);
	onnx_tensor_destroy(t);

	/* Undeclared shape: (1, 1, H, W). */
	decl.ndim = -1;
	cr_assert_eq(
	    onnx_image_decode(png.p, png.len, "t.png", &decl, 255.0f, &t, err, sizeof(err)),
	    SAMPAN_OK, "%s", err);
	cr_assert(t->ndim == 4 && t->dims[0] == 1 && t->dims[1] == 1 && t->dims[2] == 4 &&
	          t->dims[3] == 5);
	onnx_tensor_destroy(t);
	free(png.p);
	free(s);
}

/* 16-bit samples are scaled, not cut to their high byte: a float input
 * gets (v / 257) / pixel_max, every 16 bits counting; an 8-bit image saved
 * at 16 bits (v = b * 257) gives exactly the 8-bit image's tensor; edge
 * samples (0, 1, 128, 129, 65406 and 65407 around 254.5 * 257, 65535) by
 * hand. */
Test(png, sixteen_bit_scaled)
{
	struct png_opts o16 = {.w = 6, .h = 5, .depth = 16, .ctype = 0, .filter = -1};
	struct png_opts o8 = {.w = 6, .h = 5, .depth = 8, .ctype = 0, .filter = -1};
	struct onnx_value fdecl = {.name = (char *)"x", .dtype = ONNX_DT_FLOAT, .ndim = -1};
	struct onnx_value udecl = {.name = (char *)"x", .dtype = ONNX_DT_UINT8, .ndim = -1};
	static const struct {
		uint16_t v;
		uint8_t u8;
	} edges[] = {{0, 0},        {1, 0},       {128, 0},     {129, 1},    {0x8180, 129},
	             {0x80ff, 128}, {65406, 254}, {65407, 255}, {65535, 255}};
	struct onnx_tensor *t16, *t8, *u;
	uint16_t *s16, *s8;
	struct buf p16, p8;
	char err[ERR_SIZE];

	rng_seed("sixteen_bit_scaled");
	s16 = random_samples(&o16);
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		s16[i] = edges[i].v;
	p16 = png_encode(&o16, s16);
	cr_assert_eq(
	    onnx_image_decode(p16.p, p16.len, "t.png", &fdecl, 255.0f, &t16, err, sizeof(err)),
	    SAMPAN_OK, "%s", err);
	cr_assert_eq(
	    onnx_image_decode(p16.p, p16.len, "t.png", &udecl, 255.0f, &u, err, sizeof(err)),
	    SAMPAN_OK, "%s", err);
	for (size_t i = 0; i < 30; i++) {
		float want = s16[i] % 257 ? (float)((double)s16[i] / 257.0 / 255.0)
		                          : (float)(s16[i] / 257) / 255.0f;

		cr_assert_eq(((float *)t16->data)[i], want, "float pixel %zu (%u)", i, s16[i]);
		cr_assert_eq(((uint8_t *)u->data)[i], (uint8_t)lround(s16[i] / 257.0),
		             "uint8 pixel %zu (%u)", i, s16[i]);
		if (i < sizeof(edges) / sizeof(edges[0]))
			cr_assert_eq(((uint8_t *)u->data)[i], edges[i].u8, "edge %u", edges[i].v);
	}
	/* The high byte alone would make 0x8180 128.5 / 255 into 129 / 255. */
	cr_assert_neq(((float *)t16->data)[4], 129.0f / 255.0f);
	onnx_tensor_destroy(t16);
	onnx_tensor_destroy(u);
	free(p16.p);

	/* The same levels at 8 and at 16 bits: identical tensors. */
	s8 = random_samples(&o8);
	for (size_t i = 0; i < 30; i++)
		s16[i] = (uint16_t)(s8[i] * 257);
	p16 = png_encode(&o16, s16);
	p8 = png_encode(&o8, s8);
	cr_assert_eq(
	    onnx_image_decode(p16.p, p16.len, "a.png", &fdecl, 255.0f, &t16, err, sizeof(err)),
	    SAMPAN_OK, "%s", err);
	cr_assert_eq(
	    onnx_image_decode(p8.p, p8.len, "b.png", &fdecl, 255.0f, &t8, err, sizeof(err)),
	    SAMPAN_OK, "%s", err);
	cr_assert(memcmp(t16->data, t8->data, 30 * sizeof(float)) == 0);
	onnx_tensor_destroy(t16);
	onnx_tensor_destroy(t8);
	free(p16.p);
	free(p8.p);
	free(s16);
	free(s8);
}

/* ------------------------------------------------------------- bad files */

/* A PNG of the given header whose image data is @raw (filter bytes
 * included, compressed here), with an optional chunk @extra_type before
 * the data and an optional IEND. */
static struct buf build_png(uint32_t w, uint32_t h, int depth, int ctype, int interlace,
                            const void *raw, size_t raw_len, const char *extra_type,
                            const void *extra, size_t extra_len, bool iend)
{
	struct buf b = {0};
	size_t zlen;
	uint8_t *z = deflate_all(raw, raw_len, &zlen);

	put_signature(&b);
	put_ihdr(&b, w, h, depth, ctype, interlace);
	if (extra_type)
		put_chunk(&b, extra_type, extra, extra_len);
	put_chunk(&b, "IDAT", z, zlen);
	if (iend)
		put_chunk(&b, "IEND", NULL, 0);
	free(z);
	return b;
}

/* Decoding @png must fail with @code and a message naming the file and
 * holding @needle. */
static void expect_bad(const struct buf *png, int code, const char *needle, const char *what)
{
	struct onnx_tensor *t = NULL;
	char err[ERR_SIZE] = "";
	int ret = onnx_image_decode(png->p, png->len, "bad.png", &decl_grey, 255.0f, &t, err,
	                            sizeof(err));

	cr_assert_eq(ret, code, "%s: returned %d (%s)", what, ret, err);
	cr_assert_null(t, "%s", what);
	cr_assert(strncmp(err, "bad.png: ", 9) == 0 && strstr(err, needle), "%s: %s", what, err);
}

Test(png, every_truncation_fails)
{
	static const uint8_t raw[3 * 5] = {0, 1, 2, 3, 4, 1, 5, 6, 7, 8, 2, 9, 10, 11, 12};
	struct buf png = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, true);

	for (size_t cut = 0; cut < png.len; cut++) {
		struct buf part = {png.p, cut, cut};
		char what[32];

		snprintf(what, sizeof(what), "cut at %zu", cut);
		expect_bad(&part, SAMPAN_ERROR_INVALID, cut < 8 ? "not an image" : "truncated PNG",
		           what);
	}
	free(png.p);
}

Test(png, bad_crc_and_chunks)
{
	static const uint8_t raw[3 * 5] = {0, 1, 2, 3, 4, 1, 5, 6, 7, 8, 2, 9, 10, 11, 12};
	static const uint8_t plte[6] = {1, 2, 3, 4, 5, 6};
	struct buf png = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, true);
	struct buf b;

	/* Every byte of a chunk's type, data and CRC is covered by the CRC. */
	for (size_t at = 12; at < 33; at++) {
		char what[32];

		snprintf(what, sizeof(what), "byte %zu flipped", at);
		png.p[at] ^= 0x20;
		expect_bad(&png, SAMPAN_ERROR_INVALID, "", what);
		png.p[at] ^= 0x20;
	}
	png.p[29] ^= 1; /* the IHDR CRC */
	expect_bad(&png, SAMPAN_ERROR_INVALID, "CRC mismatch in chunk IHDR", "bad CRC");
	free(png.p);

	b = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), "ABCD", "x", 1, true);
	expect_bad(&b, SAMPAN_ERROR_NOT_SUPPORTED, "critical and not supported", "ABCD");
	free(b.p);
	b = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), "abCd", "x", 1, true);
	{
		struct onnx_tensor *t = decode_ok(&b, &decl_grey, "ancillary chunk");

		cr_assert(memcmp(t->data, (const uint8_t[]){1, 2, 3, 4, 5, 11, 18, 26}, 8) == 0,
		          "Sub filter of row 1");
		onnx_tensor_destroy(t);
	}
	free(b.p);
	b = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), "PLTE", plte, 6, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "grey image with a PLTE", "PLTE in grey");
	free(b.p);
	b = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, false);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "no IEND", "no IEND");
	free(b.p);

	/* IDAT, then another chunk, then IDAT again. */
	b = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, false);
	put_chunk(&b, "tEXt", "a\0b", 3);
	put_chunk(&b, "IDAT", "", 0);
	put_chunk(&b, "IEND", NULL, 0);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "not consecutive", "split IDAT");
	free(b.p);

	/* Bytes after the end of the zlib stream. */
	b = build_png(4, 3, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, false);
	put_chunk(&b, "IDAT", "junk", 4);
	put_chunk(&b, "IEND", NULL, 0);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "after the end of the zlib stream", "junk");
	free(b.p);

	/* No IDAT; IHDR not first. */
	b = (struct buf){0};
	put_signature(&b);
	put_ihdr(&b, 4, 3, 8, 0, 0);
	put_chunk(&b, "IEND", NULL, 0);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "no IDAT", "no IDAT");
	free(b.p);
	b = (struct buf){0};
	put_signature(&b);
	put_chunk(&b, "gAMA", "\0\0\0\1", 4);
	put_ihdr(&b, 4, 3, 8, 0, 0);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "not IHDR", "gAMA first");
	free(b.p);

	/* Corrupt zlib data. */
	b = (struct buf){0};
	put_signature(&b);
	put_ihdr(&b, 4, 3, 8, 0, 0);
	put_chunk(&b, "IDAT", "\x78\x9c\xff\xff\xff\xff", 6);
	put_chunk(&b, "IEND", NULL, 0);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "corrupt image data", "bad zlib");
	free(b.p);
}

Test(png, bad_header)
{
	static const uint8_t raw[64] = {0};
	static const struct {
		uint32_t w, h;
		int depth, ctype, interlace;
		const char *needle;
	} cases[] = {
	    {0, 3, 8, 0, 0, "image size 0x3"},
	    {4, 0, 8, 0, 0, "image size 4x0"},
	    {0x80000000u, 1, 8, 0, 0, "image size"},
	    {4, 3, 3, 0, 0, "bit depth 3"},
	    {4, 3, 16, 3, 0, "bit depth 16 is not allowed with colour type 3"},
	    {4, 3, 4, 2, 0, "bit depth 4 is not allowed with colour type 2"},
	    {4, 3, 8, 5, 0, "colour type 5"},
	    {4, 3, 8, 7, 0, "colour type 7"},
	    {4, 3, 8, 0, 2, "interlace method 2"},
	    {5000, 5000, 8, 0, 0, "larger than 16777216 pixels"},
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		struct buf b = build_png(cases[i].w, cases[i].h, cases[i].depth, cases[i].ctype,
		                         cases[i].interlace, raw, sizeof(raw), NULL, NULL, 0, true);

		expect_bad(&b, SAMPAN_ERROR_INVALID, cases[i].needle, cases[i].needle);
		free(b.p);
	}
	{
		/* IHDR of the wrong length; compression method 1. */
		struct buf b = {0};
		uint8_t ihdr[14] = {0, 0, 0, 4, 0, 0, 0, 3, 8, 0, 0, 0, 0, 0};

		put_signature(&b);
		put_chunk(&b, "IHDR", ihdr, 14);
		expect_bad(&b, SAMPAN_ERROR_INVALID, "IHDR has 14 bytes", "long IHDR");
		b.len = 0;
		put_signature(&b);
		ihdr[10] = 1;
		put_chunk(&b, "IHDR", ihdr, 13);
		expect_bad(&b, SAMPAN_ERROR_INVALID, "compression method 1", "compression 1");
		free(b.p);
	}
}

/* The inflated data must be exactly what the header implies. */
Test(png, decompression_bomb_and_short_data)
{
	size_t big = (size_t)8 << 20;
	uint8_t *zeros = calloc(big, 1);
	struct buf b;

	cr_assert_not_null(zeros);
	/* A 1x1 image (2 bytes inflated) whose data inflates to 8 MiB. */
	b = build_png(1, 1, 8, 0, 0, zeros, big, NULL, NULL, 0, true);
	cr_assert_lt(b.len, 20000u);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "inflates to more than the 2 bytes", "bomb");
	free(b.p);
	/* One byte too many. */
	b = build_png(4, 3, 8, 0, 0, zeros, 16, NULL, NULL, 0, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "more than the 15 bytes", "one byte more");
	free(b.p);
	/* One byte short. */
	b = build_png(4, 3, 8, 0, 0, zeros, 14, NULL, NULL, 0, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "inflates to 14 of 15 bytes", "one byte short");
	free(b.p);
	/* A 4096x4096 RGBA 16-bit header (128 MiB) in a file of a few bytes
	 * is refused before anything that size is allocated. */
	b = build_png(4096, 4096, 16, 6, 0, zeros, 100, NULL, NULL, 0, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "cannot fit in", "huge header");
	free(b.p);
	free(zeros);
}

Test(png, bad_pixels_and_palette)
{
	static const uint8_t raw[2 * 3] = {0, 1, 0, 5, 0, 0};
	static const uint8_t plte[6] = {10, 20, 30, 40, 50, 60};
	struct buf b;

	b = build_png(2, 2, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "row filter type 5", "filter 5");
	free(b.p);
	/* Palette index 5 of a two-entry palette (row 0 is fine). */
	b = build_png(2, 2, 8, 3, 0, (const uint8_t[]){0, 1, 0, 0, 5, 0}, 6, "PLTE", plte, 6, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "palette index 5, the palette has 2", "index");
	free(b.p);
	b = build_png(2, 2, 8, 3, 0, (const uint8_t[]){0, 1, 0, 0, 1, 0}, 6, NULL, NULL, 0, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "without a PLTE", "no PLTE");
	free(b.p);
	/* A 1-bit palette has at most two entries; PLTE needs whole entries. */
	b = build_png(2, 2, 1, 3, 0, (const uint8_t[]){0, 0, 0, 0}, 4, "PLTE", plte, 5, true);
	expect_bad(&b, SAMPAN_ERROR_INVALID, "PLTE chunk of 5 bytes", "PLTE 5");
	free(b.p);
	{
		uint8_t p3[9] = {0};

		b = build_png(2, 2, 1, 3, 0, (const uint8_t[]){0, 0, 0, 0}, 4, "PLTE", p3, 9, true);
		expect_bad(&b, SAMPAN_ERROR_INVALID, "PLTE chunk of 9 bytes", "PLTE 3 entries");
		free(b.p);
	}
}

Test(png, input_mismatch)
{
	static const uint8_t raw[2 * 3] = {0, 1, 2, 0, 3, 4};
	struct buf b = build_png(2, 2, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, true);
	struct onnx_value decl = {
	    .name = (char *)"img", .dtype = ONNX_DT_FLOAT, .ndim = 4, .dims = {1, 1, 3, 2}};
	struct onnx_tensor *t = NULL;
	char err[ERR_SIZE];

	cr_assert_eq(onnx_image_decode(b.p, b.len, "t.png", &decl, 255.0f, &t, err, sizeof(err)),
	             SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "a 2x2 image does not fit input 'img' [1, 1, 3, 2]"), "%s", err);
	decl.dims[1] = 2; /* two channels: neither grey nor RGB */
	decl.dims[2] = 2;
	cr_assert_eq(onnx_image_decode(b.p, b.len, "t.png", &decl, 255.0f, &t, err, sizeof(err)),
	             SAMPAN_ERROR_INVALID);
	decl.dims[1] = 1;
	decl.dtype = ONNX_DT_INT8;
	cr_assert_eq(onnx_image_decode(b.p, b.len, "t.png", &decl, 255.0f, &t, err, sizeof(err)),
	             SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "float or uint8"), "%s", err);
	cr_assert_null(t);
	cr_assert_eq(
	    onnx_image_decode("GIF89a", 6, "t.gif", &decl_grey, 255.0f, &t, err, sizeof(err)),
	    SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "t.gif: not an image the readers know"), "%s", err);
	free(b.p);
}

/* ------------------------------------------------------------------- CLI */

static const char *write_temp(const void *data, size_t len, const char *suffix)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/sampan-image-XXXXXX%s", suffix);
	fd = mkstemps(path, (int)strlen(suffix));
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static int run_cli(const char *model, const char *input, struct spawn_result *res)
{
	char *argv[] = {(char *)SAMPAN_CLI, "run",         (char *)model, "-d", "cpu",
	                "--input",          (char *)input, NULL};

	return spawn_run(argv, NULL, 120, res);
}

/* The demo model classifies a sample image the same from the PGM and from
 * PNG copies of it (RGB interlaced with R = G = B, and 8-bit grey). */
Test(png_cli, run_png_like_pgm)
{
	static const char model[] = TEST_SRCDIR "/../host/models/fmnist_cnn.onnx";
	static const char sample[] = TEST_SRCDIR "/../host/models/samples";
	struct onnx_value decl = {
	    .name = (char *)"x", .dtype = ONNX_DT_UINT8, .ndim = 2, .dims = {28, 28}};
	struct spawn_result pgm_res, png_res;
	struct onnx_tensor *t = NULL;
	char pgm[512], png_path[2][64], err[ERR_SIZE];
	const char *top_pgm;
	uint16_t s[28 * 28 * 3];
	FILE *ls;

	/* The first sample image, whatever its name. */
	snprintf(pgm, sizeof(pgm), "ls %s/*.pgm | head -1", sample);
	ls = popen(pgm, "r");
	cr_assert_not_null(ls);
	cr_assert_not_null(fgets(pgm, sizeof(pgm), ls), "no sample image in %s", sample);
	pclose(ls);
	pgm[strcspn(pgm, "\n")] = '\0';
	cr_assert_eq(onnx_image_read(pgm, &decl, 255.0f, &t, err, sizeof(err)), SAMPAN_OK, "%s",
	             err);
	for (int k = 0; k < 2; k++) {
		struct png_opts o = {.w = 28,
		                     .h = 28,
		                     .depth = 8,
		                     .ctype = k ? 0 : 2,
		                     .interlace = !k,
		                     .filter = -1,
		                     .idat_split = 100};
		struct buf b;

		for (size_t i = 0; i < 28 * 28; i++)
			for (int c = 0; c < (k ? 1 : 3); c++)
				s[i * (k ? 1 : 3) + (size_t)c] = ((uint8_t *)t->data)[i];
		b = png_encode(&o, s);
		snprintf(png_path[k], sizeof(png_path[k]), "%s", write_temp(b.p, b.len, ".png"));
		free(b.p);
	}
	onnx_tensor_destroy(t);

	cr_assert_eq(run_cli(model, pgm, &pgm_res), 0, "%s", pgm_res.err);
	top_pgm = strstr(pgm_res.out, "top 5 of output");
	cr_assert_not_null(top_pgm, "%s", pgm_res.out);
	for (int k = 0; k < 2; k++) {
		const char *top_png;

		cr_assert_eq(run_cli(model, png_path[k], &png_res), 0, "%s", png_res.err);
		top_png = strstr(png_res.out, "top 5 of output");
		cr_assert(top_png && strcmp(top_png, top_pgm) == 0, "PGM:\n%s\nPNG:\n%s",
		          pgm_res.out, png_res.out);
		spawn_result_free(&png_res);
		unlink(png_path[k]);
	}
	spawn_result_free(&pgm_res);
}

/* A damaged PNG stops `sampan run` with exit 1 and a message. */
Test(png_cli, run_bad_png)
{
	static const char model[] = TEST_SRCDIR "/../host/models/fmnist_cnn.onnx";
	uint8_t raw[28 * 29] = {0};
	struct spawn_result res;
	struct buf b = build_png(28, 28, 8, 0, 0, raw, sizeof(raw), NULL, NULL, 0, true);
	char path[64];

	b.p[b.len - 20] ^= 1; /* in the IDAT chunk's data */
	snprintf(path, sizeof(path), "%s", write_temp(b.p, b.len, ".png"));
	free(b.p);
	cr_assert_eq(run_cli(model, path, &res), 1, "%s", res.err);
	cr_assert(strstr(res.err, path) && strstr(res.err, "CRC mismatch in chunk IDAT"), "%s",
	          res.err);
	spawn_result_free(&res);
	unlink(path);
}
