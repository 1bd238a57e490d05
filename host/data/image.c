/*
 * image.c - PGM and PNG images as graph inputs (see image.h).
 *
 * Both decoders work on the whole file in memory and produce a raw image
 * of 8-bit samples, one (grey) or three (R, G, B) per pixel, which is then
 * laid out as the tensor the graph input declares.
 */
#include "data/image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fileio.h"
#include "sampan.h"

/* A decoded image: (h, w, channels) samples, channels 1 or 3; 8-bit
 * samples (0..255), or with @wide 16-bit ones (0..65535). */
struct raw_image {
	int64_t w, h;
	int channels;
	bool wide;
	uint16_t *pix;
};

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

__attribute__((format(printf, 5, 6))) static int fail(char *err, size_t err_size, int code,
                                                      const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, err_size, "%s: ", name);
	if (n >= 0 && (size_t)n < err_size) {
		va_start(ap, fmt);
		vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

enum onnx_image_format onnx_image_format_of(const void *data, size_t len)
{
	const uint8_t *d = data;

	if (len >= 2 && d[0] == 'P' && d[1] == '5')
		return ONNX_IMAGE_PGM;
	if (len >= sizeof(png_signature) && memcmp(d, png_signature, sizeof(png_signature)) == 0)
		return ONNX_IMAGE_PNG;
	return ONNX_IMAGE_NONE;
}

enum onnx_image_format onnx_image_file_format(const char *path)
{
	uint8_t head[sizeof(png_signature)];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return ONNX_IMAGE_NONE;
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	return onnx_image_format_of(head, n);
}

bool onnx_image_is_pgm(const char *path)
{
	return onnx_image_file_format(path) == ONNX_IMAGE_PGM;
}

/* ------------------------------------------------------------------ PGM */

/* Reads one decimal header field of at most 8 digits at *@pos after
 * whitespace and '#' comments, and the one whitespace byte that ends it;
 * -1 if there is none. */
static long pgm_field(const uint8_t *d, size_t n, size_t *pos)
{
	size_t p = *pos;
	long v = 0;
	int digits = 0;

	for (;;) {
		if (p >= n)
			return -1;
		if (d[p] == '#') {
			while (p < n && d[p] != '\n')
				p++;
		} else if (d[p] == ' ' || (d[p] >= '\t' && d[p] <= '\r')) {
			p++;
		} else {
			break;
		}
	}
	for (; p < n && d[p] >= '0' && d[p] <= '9' && digits < 9; p++, digits++)
		v = v * 10 + (d[p] - '0');
	/* The field ends at one whitespace byte (the last one before the
	 * pixels). */
	if (digits == 0 || digits == 9 || p >= n ||
	    !(d[p] == ' ' || (d[p] >= '\t' && d[p] <= '\r')))
		return -1;
	*pos = p + 1;
	return v;
}

static int pgm_decode(const uint8_t *d, size_t n, const char *name, struct raw_image *im, char *err,
                      size_t err_size)
{
	size_t pos = 2;
	long w, h, maxval;

	if (onnx_image_format_of(d, n) != ONNX_IMAGE_PGM)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "not a binary PGM image (no P5 magic)");
	w = pgm_field(d, n, &pos);
	h = w < 0 ? -1 : pgm_field(d, n, &pos);
	maxval = h < 0 ? -1 : pgm_field(d, n, &pos);
	if (w < 1 || h < 1 || maxval < 1 || w > ONNX_IMAGE_MAX_PIXELS / h)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PGM header (width, height and maxval must be positive numbers, "
		            "at most %lld pixels)",
		            (long long)ONNX_IMAGE_MAX_PIXELS);
	if (maxval > 255)
		return fail(err, err_size, SAMPAN_ERROR_NOT_SUPPORTED, name,
		            "16-bit PGM (maxval %ld) is not supported, only 8-bit", maxval);
	if (n - pos < (size_t)(w * h))
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "truncated (%ldx%ld pixels expected)", w, h);
	for (size_t i = 0; i < (size_t)(w * h); i++)
		if (d[pos + i] > maxval)
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "pixel %zu (%d) is above maxval %ld", i, d[pos + i], maxval);
	im->pix = malloc((size_t)(w * h) * sizeof(*im->pix));
	if (!im->pix)
		return fail(err, err_size, SAMPAN_ERROR_NO_MEM, name, "out of memory");
	for (size_t i = 0; i < (size_t)(w * h); i++)
		im->pix[i] = d[pos + i];
	im->w = w;
	im->h = h;
	im->channels = 1;
	return SAMPAN_OK;
}

/* ------------------------------------------------------------------ PNG */

enum { PNG_GREY = 0, PNG_RGB = 2, PNG_PALETTE = 3, PNG_GREY_ALPHA = 4, PNG_RGBA = 6 };

/* Most bytes one deflate stream can inflate to per compressed byte (1032
 * for long runs of one dynamic-Huffman match), with margin. */
#define PNG_MAX_INFLATE_RATIO 1040

struct png_header {
	uint32_t w, h;
	int depth, ctype, interlace;
	int samples; /* per pixel, alpha included */
	int bits;    /* per pixel */
};

/* The Adam7 passes: first column and row, column and row step. */
static const int adam7[7][4] = {
    {0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
    {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bytes of one filtered row of @w pixels, filter byte excluded. */
static uint64_t png_row_bytes(const struct png_header *hd, uint64_t w)
{
	return (w * (uint64_t)hd->bits + 7) / 8;
}

/* Width and height of Adam7 pass @p (the whole image without interlace). */
static void png_pass_size(const struct png_header *hd, int p, uint64_t *pw, uint64_t *ph)
{
	if (!hd->interlace) {
		*pw = hd->w;
		*ph = hd->h;
		return;
	}
	*pw = hd->w > (uint32_t)adam7[p][0]
	          ? (hd->w - (uint32_t)adam7[p][0] + (uint32_t)adam7[p][2] - 1) /
	                (uint32_t)adam7[p][2]
	          : 0;
	*ph = hd->h > (uint32_t)adam7[p][1]
	          ? (hd->h - (uint32_t)adam7[p][1] + (uint32_t)adam7[p][3] - 1) /
	                (uint32_t)adam7[p][3]
	          : 0;
}

/* Size of the inflated image data: every row of every pass with its
 * filter byte (an empty pass has no rows). */
static uint64_t png_raw_size(const struct png_header *hd)
{
	uint64_t total = 0, pw, ph;

	for (int p = 0; p < (hd->interlace ? 7 : 1); p++) {
		png_pass_size(hd, p, &pw, &ph);
		if (pw && ph)
			total += ph * (1 + png_row_bytes(hd, pw));
	}
	return total;
}

static int png_parse_ihdr(const uint8_t *c, uint32_t len, const char *name, struct png_header *hd,
                          char *err, size_t err_size)
{
	static const char ok_depths[7][6] = {
	    [PNG_GREY] = {1, 2, 4, 8, 16}, [PNG_RGB] = {8, 16},  [PNG_PALETTE] = {1, 2, 4, 8},
	    [PNG_GREY_ALPHA] = {8, 16},    [PNG_RGBA] = {8, 16},
	};
	static const int samples[7] = {
	    [PNG_GREY] = 1, [PNG_RGB] = 3, [PNG_PALETTE] = 1, [PNG_GREY_ALPHA] = 2, [PNG_RGBA] = 4};
	bool depth_ok = false;

	if (len != 13)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PNG: IHDR has %u bytes, not 13", len);
	hd->w = be32(c);
	hd->h = be32(c + 4);
	hd->depth = c[8];
	hd->ctype = c[9];
	hd->interlace = c[12];
	if (hd->w == 0 || hd->h == 0 || hd->w > INT32_MAX || hd->h > INT32_MAX)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PNG: image size %ux%u (width and height from 1 to 2^31-1)", hd->w,
		            hd->h);
	if (hd->ctype > 6 || samples[hd->ctype] == 0)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name, "bad PNG: colour type %d",
		            hd->ctype);
	for (int i = 0; i < 6 && ok_depths[hd->ctype][i]; i++)
		depth_ok |= ok_depths[hd->ctype][i] == hd->depth;
	if (!depth_ok)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PNG: bit depth %d is not allowed with colour type %d", hd->depth,
		            hd->ctype);
	if (c[10] != 0 || c[11] != 0)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PNG: compression method %d, filter method %d (both must be 0)",
		            c[10], c[11]);
	if (hd->interlace > 1)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PNG: interlace method %d", hd->interlace);
	if ((int64_t)hd->w > ONNX_IMAGE_MAX_PIXELS / (int64_t)hd->h)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "%ux%u image is larger than %lld pixels", hd->w, hd->h,
		            (long long)ONNX_IMAGE_MAX_PIXELS);
	hd->samples = samples[hd->ctype];
	hd->bits = hd->samples * hd->depth;
	return SAMPAN_OK;
}

static uint8_t paeth(uint8_t a, uint8_t b, uint8_t c)
{
	int p = (int)a + b - c;
	int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	if (pa <= pb && pa <= pc)
		return a;
	return pb <= pc ? b : c;
}

/* Undoes the filters of @ph rows of @rb bytes (each after its filter byte)
 * in place; @bpp is the filter's byte distance. */
static int png_unfilter(uint8_t *rows, uint64_t ph, uint64_t rb, int bpp, const char *name,
                        char *err, size_t err_size)
{
	const uint8_t *prev = NULL;

	for (uint64_t y = 0; y < ph; y++) {
		uint8_t *r = rows + y * (rb + 1);
		uint8_t *x = r + 1;
		int type = r[0];

		for (uint64_t i = 0; i < rb; i++) {
			uint8_t a = i >= (uint64_t)bpp ? x[i - bpp] : 0;
			uint8_t b = prev ? prev[i] : 0;
			uint8_t c = prev && i >= (uint64_t)bpp ? prev[i - bpp] : 0;

			switch (type) {
			case 0:
				break;
			case 1:
				x[i] = (uint8_t)(x[i] + a);
				break;
			case 2:
				x[i] = (uint8_t)(x[i] + b);
				break;
			case 3:
				x[i] = (uint8_t)(x[i] + ((a + b) >> 1));
				break;
			case 4:
				x[i] = (uint8_t)(x[i] + paeth(a, b, c));
				break;
			default:
				return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
				            "bad PNG: row filter type %d", type);
			}
		}
		prev = x;
	}
	return SAMPAN_OK;
}

/* Sample @s (0-based within the row) of a row of @depth-bit samples:
 * sub-byte grey levels scaled to 0..255 unless @index (palette), 16-bit
 * ones whole (big-endian, 0..65535). */
static uint16_t png_sample(const uint8_t *row, uint64_t s, int depth, bool index)
{
	unsigned v, max;

	switch (depth) {
	case 8:
		return row[s];
	case 16:
		return (uint16_t)(row[2 * s] << 8 | row[2 * s + 1]);
	default:
		max = (1u << depth) - 1;
		v = (row[s * (uint64_t)depth / 8] >> (8 - depth - (int)(s * (uint64_t)depth % 8))) &
		    max;
		return (uint8_t)(index ? v : v * 255 / max);
	}
}

/* Unfilters the inflated data @raw and writes its pixels into @im. */
static int png_pixels(const struct png_header *hd, uint8_t *raw, const uint8_t *palette,
                      int n_palette, const char *name, struct raw_image *im, char *err,
                      size_t err_size)
{
	int bpp = hd->bits >= 8 ? hd->bits / 8 : 1;
	uint64_t pw, ph, rb;
	int ret;

	for (int p = 0; p < (hd->interlace ? 7 : 1); p++) {
		uint64_t x0 = hd->interlace ? (uint64_t)adam7[p][0] : 0;
		uint64_t y0 = hd->interlace ? (uint64_t)adam7[p][1] : 0;
		uint64_t dx = hd->interlace ? (uint64_t)adam7[p][2] : 1;
		uint64_t dy = hd->interlace ? (uint64_t)adam7[p][3] : 1;

		png_pass_size(hd, p, &pw, &ph);
		if (!pw || !ph)
			continue;
		rb = png_row_bytes(hd, pw);
		ret = png_unfilter(raw, ph, rb, bpp, name, err, err_size);
		if (ret)
			return ret;
		for (uint64_t y = 0; y < ph; y++) {
			const uint8_t *row = raw + y * (rb + 1) + 1;

			for (uint64_t x = 0; x < pw; x++) {
				uint16_t *o =
				    im->pix + ((y0 + y * dy) * (uint64_t)im->w + x0 + x * dx) *
				                  (uint64_t)im->channels;
				uint64_t s = x * (uint64_t)hd->samples;

				if (hd->ctype == PNG_PALETTE) {
					uint16_t i = png_sample(row, s, hd->depth, true);

					if (i >= n_palette)
						return fail(
						    err, err_size, SAMPAN_ERROR_INVALID, name,
						    "bad PNG: palette index %d, the palette "
						    "has %d entries",
						    i, n_palette);
					for (int c = 0; c < 3; c++)
						o[c] = palette[3 * i + c];
				} else {
					for (int c = 0; c < im->channels; c++)
						o[c] = png_sample(row, s + (uint64_t)c, hd->depth,
						                  false);
				}
			}
		}
		raw += ph * (rb + 1);
	}
	return SAMPAN_OK;
}

/* What the chunk walk has seen. */
struct png_state {
	struct png_header hd;
	bool have_header, have_palette, in_idat, idat_done, stream_end;
	uint8_t palette[256 * 3];
	int n_palette;
	z_stream z;
	bool z_open;
	uint8_t *raw;      /* png_raw_size + 1 bytes (the extra one catches excess) */
	uint64_t raw_size; /* expected inflated size */
};

/* Feeds one IDAT chunk to the inflater. */
static int png_idat(struct png_state *st, const uint8_t *c, uint32_t len, size_t file_len,
                    const char *name, char *err, size_t err_size)
{
	if (!st->z_open) {
		st->raw_size = png_raw_size(&st->hd);
		/* A file this short cannot hold the data: refuse before
		 * allocating what its header claims. */
		if (st->raw_size / PNG_MAX_INFLATE_RATIO > file_len)
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "truncated PNG: a %ux%u image cannot fit in %zu bytes",
			            st->hd.w, st->hd.h, file_len);
		st->raw = malloc((size_t)st->raw_size + 1);
		if (!st->raw)
			return fail(err, err_size, SAMPAN_ERROR_NO_MEM, name, "out of memory");
		memset(&st->z, 0, sizeof(st->z));
		if (inflateInit(&st->z) != Z_OK)
			return fail(err, err_size, SAMPAN_ERROR_NO_MEM, name,
			            "cannot start zlib's inflate");
		st->z_open = true;
		st->z.next_out = st->raw;
		st->z.avail_out = (uInt)(st->raw_size + 1);
	}
	if (st->stream_end) {
		if (len == 0)
			return SAMPAN_OK;
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PNG: image data after the end of the zlib stream");
	}
	st->z.next_in = (Bytef *)c;
	st->z.avail_in = len;
	while (st->z.avail_in > 0) {
		int zr = inflate(&st->z, Z_NO_FLUSH);

		if (st->z.total_out > st->raw_size)
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "bad PNG: the image data inflates to more than the %llu bytes "
			            "a %ux%u image has",
			            (unsigned long long)st->raw_size, st->hd.w, st->hd.h);
		if (zr == Z_STREAM_END) {
			st->stream_end = true;
			if (st->z.avail_in > 0)
				return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
				            "bad PNG: image data after the end of the zlib stream");
			break;
		}
		if (zr != Z_OK)
			return fail(err, err_size,
			            zr == Z_MEM_ERROR ? SAMPAN_ERROR_NO_MEM : SAMPAN_ERROR_INVALID,
			            name, "bad PNG: corrupt image data (zlib: %s)",
			            st->z.msg ? st->z.msg : zError(zr));
	}
	return SAMPAN_OK;
}

/* Handles the chunk of @type with @len bytes at @c. */
static int png_chunk(struct png_state *st, const uint8_t *type, const uint8_t *c, uint32_t len,
                     size_t file_len, const char *name, char *err, size_t err_size)
{
	bool is_idat = memcmp(type, "IDAT", 4) == 0;

	if (!st->have_header && memcmp(type, "IHDR", 4) != 0)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "bad PNG: the first chunk is %.4s, not IHDR", (const char *)type);
	if (st->in_idat && !is_idat) {
		st->in_idat = false;
		st->idat_done = true;
	}
	if (memcmp(type, "IHDR", 4) == 0) {
		if (st->have_header)
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "bad PNG: a second IHDR chunk");
		st->have_header = true;
		return png_parse_ihdr(c, len, name, &st->hd, err, err_size);
	}
	if (memcmp(type, "PLTE", 4) == 0) {
		if (st->have_palette || st->in_idat || st->idat_done)
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "bad PNG: PLTE chunk repeated or after the image data");
		if (st->hd.ctype == PNG_GREY || st->hd.ctype == PNG_GREY_ALPHA)
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "bad PNG: a grey image with a PLTE chunk");
		if (len == 0 || len % 3 || len / 3 > 256 ||
		    (st->hd.ctype == PNG_PALETTE && len / 3 > 1u << st->hd.depth))
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "bad PNG: PLTE chunk of %u bytes", len);
		st->have_palette = true;
		memcpy(st->palette, c, len);
		st->n_palette = (int)(len / 3);
		return SAMPAN_OK;
	}
	if (is_idat) {
		if (st->idat_done)
			return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			            "bad PNG: IDAT chunks are not consecutive");
		if (st->hd.ctype == PNG_PALETTE && !st->have_palette)
			return fail(
			    err, err_size, SAMPAN_ERROR_INVALID, name,
			    "bad PNG: a palette image without a PLTE chunk before its data");
		st->in_idat = true;
		return png_idat(st, c, len, file_len, name, err, err_size);
	}
	if (!(type[0] & 0x20))
		return fail(err, err_size, SAMPAN_ERROR_NOT_SUPPORTED, name,
		            "PNG chunk %.4s is critical and not supported", (const char *)type);
	return SAMPAN_OK; /* ancillary chunks (tRNS, gAMA, text, ...) ignored */
}

static int png_decode(const uint8_t *d, size_t n, const char *name, struct raw_image *im, char *err,
                      size_t err_size)
{
	struct png_state *st;
	size_t pos = sizeof(png_signature);
	bool end = false;
	int ret = SAMPAN_OK;

	if (onnx_image_format_of(d, n) != ONNX_IMAGE_PNG)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "not a PNG image (no PNG signature)");
	st = calloc(1, sizeof(*st));
	if (!st)
		return fail(err, err_size, SAMPAN_ERROR_NO_MEM, name, "out of memory");
	while (!end) {
		const uint8_t *type;
		uint32_t len;

		if (n - pos < 12) {
			ret = fail(err, err_size, SAMPAN_ERROR_INVALID, name, "truncated PNG: %s",
			           pos == n ? "no IEND chunk" : "partial chunk");
			goto out;
		}
		len = be32(d + pos);
		type = d + pos + 4;
		if (len > INT32_MAX || len > n - pos - 12) {
			ret =
			    fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			         "truncated PNG: chunk of %u bytes at offset %zu goes past the end",
			         len, pos);
			goto out;
		}
		for (int i = 0; i < 4; i++) {
			if (!((type[i] >= 'A' && type[i] <= 'Z') ||
			      (type[i] >= 'a' && type[i] <= 'z'))) {
				ret =
				    fail(err, err_size, SAMPAN_ERROR_INVALID, name,
				         "bad PNG: chunk type with non-letters at offset %zu", pos);
				goto out;
			}
		}
		if (crc32(0, type, len + 4) != be32(type + 4 + len)) {
			ret = fail(err, err_size, SAMPAN_ERROR_INVALID, name,
			           "bad PNG: CRC mismatch in chunk %.4s at offset %zu",
			           (const char *)type, pos);
			goto out;
		}
		if (memcmp(type, "IEND", 4) == 0) {
			if (!st->have_header) {
				ret = fail(err, err_size, SAMPAN_ERROR_INVALID, name,
				           "bad PNG: the first chunk is IEND, not IHDR");
				goto out;
			}
			end = true;
		} else {
			ret = png_chunk(st, type, type + 4, len, n, name, err, err_size);
			if (ret)
				goto out;
		}
		pos += 12 + (size_t)len;
	}
	if (!st->z_open) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID, name, "bad PNG: no IDAT chunk");
		goto out;
	}
	if (!st->stream_end || st->z.total_out != st->raw_size) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		           "truncated PNG: the image data inflates to %lu of %llu bytes%s",
		           st->z.total_out, (unsigned long long)st->raw_size,
		           st->stream_end ? "" : " and the zlib stream is unfinished");
		goto out;
	}
	im->w = st->hd.w;
	im->h = st->hd.h;
	im->channels = st->hd.ctype == PNG_GREY || st->hd.ctype == PNG_GREY_ALPHA ? 1 : 3;
	im->wide = st->hd.depth == 16;
	im->pix = malloc((size_t)(im->w * im->h * im->channels) * sizeof(*im->pix));
	if (!im->pix) {
		ret = fail(err, err_size, SAMPAN_ERROR_NO_MEM, name, "out of memory");
		goto out;
	}
	ret = png_pixels(&st->hd, st->raw, st->palette, st->n_palette, name, im, err, err_size);
	if (ret) {
		free(im->pix);
		im->pix = NULL;
	}
out:
	if (st->z_open)
		inflateEnd(&st->z);
	free(st->raw);
	free(st);
	return ret;
}

/* ------------------------------------------------------------ to a tensor */

/* The tensor shape for an (h, w) image fed to @decl and the channels it
 * takes (1 or 3), or 0. */
static int image_shape(const struct onnx_value *decl, int64_t h, int64_t w, int *ndim,
                       int64_t *dims)
{
	int channels = 1, lead;

	if (decl->ndim < 0) {
		*ndim = 4;
		dims[0] = dims[1] = 1;
		dims[2] = h;
		dims[3] = w;
		return 1;
	}
	if (decl->ndim < 2)
		return 0;
	*ndim = decl->ndim;
	lead = decl->ndim - 2;
	if (lead >= 1 && decl->dims[lead - 1] == 3) {
		channels = 3;
		dims[--lead] = 3;
	}
	for (int d = 0; d < lead; d++) {
		if (decl->dims[d] > 1)
			return 0;
		dims[d] = 1;
	}
	dims[decl->ndim - 2] = h;
	dims[decl->ndim - 1] = w;
	if ((decl->dims[decl->ndim - 2] >= 0 && decl->dims[decl->ndim - 2] != h) ||
	    (decl->dims[decl->ndim - 1] >= 0 && decl->dims[decl->ndim - 1] != w))
		return 0;
	return channels;
}

static int image_to_tensor(const struct raw_image *im, const char *name,
                           const struct onnx_value *decl, float pixel_max, struct onnx_tensor **t,
                           char *err, size_t err_size)
{
	int64_t dims[ONNX_MAX_DIMS];
	size_t plane = (size_t)(im->w * im->h);
	struct onnx_tensor *img;
	char shape[96];
	int ndim, channels, ret;

	channels = image_shape(decl, im->h, im->w, &ndim, dims);
	if (!channels)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "a %lldx%lld image does not fit input '%s' %s", (long long)im->h,
		            (long long)im->w, decl->name,
		            onnx_shape_str(decl->ndim, decl->dims, shape, sizeof(shape)));
	ret = onnx_tensor_create(&img, decl->dtype, ndim, dims);
	if (ret)
		return fail(err, err_size, ret, name, "%s",
		            ret == SAMPAN_ERROR_NO_MEM ? "out of memory"
		                                       : "the image is too large for a tensor");
	for (int c = 0; c < channels; c++) {
		for (size_t i = 0; i < plane; i++) {
			const uint16_t *p = im->pix + i * (size_t)im->channels;
			size_t o = (size_t)c * plane + i;
			uint32_t v;

			if (im->channels == 1)
				v = p[0];
			else if (channels == 3)
				v = p[c];
			else
				v = (299u * p[0] + 587u * p[1] + 114u * p[2] + 500) / 1000;
			if (im->wide && v % 257 != 0) {
				/* A 16-bit sample v stands for the 8-bit level v / 257
				 * (65535 = 255 * 257), kept whole for a float input and
				 * rounded to the nearest level for a uint8 one (257 is
				 * odd: never a tie). */
				if (img->dtype == ONNX_DT_FLOAT)
					((float *)img->data)[o] =
					    (float)((double)v / 257.0 / (double)pixel_max);
				else
					((uint8_t *)img->data)[o] = (uint8_t)((v + 128) / 257);
				continue;
			}
			/* 8-bit, or a 16-bit sample of an 8-bit level (b * 257): the
			 * same tensor as the 8-bit image. */
			if (im->wide)
				v /= 257;
			if (img->dtype == ONNX_DT_FLOAT)
				((float *)img->data)[o] = (float)v / pixel_max;
			else
				((uint8_t *)img->data)[o] = (uint8_t)v;
		}
	}
	*t = img;
	return SAMPAN_OK;
}

int onnx_image_decode(const void *data, size_t len, const char *name, const struct onnx_value *decl,
                      float pixel_max, struct onnx_tensor **t, char *err, size_t err_size)
{
	struct raw_image im = {0};
	int ret;

	if (decl->dtype != ONNX_DT_FLOAT && decl->dtype != ONNX_DT_UINT8)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "an image can feed a float or uint8 input, '%s' is %s", decl->name,
		            onnx_dtype_name(decl->dtype));
	if (decl->dtype == ONNX_DT_FLOAT && !(pixel_max > 0.0f))
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "the pixel scale must be positive");
	switch (onnx_image_format_of(data, len)) {
	case ONNX_IMAGE_PGM:
		ret = pgm_decode(data, len, name, &im, err, err_size);
		break;
	case ONNX_IMAGE_PNG:
		ret = png_decode(data, len, name, &im, err, err_size);
		break;
	default:
		return fail(err, err_size, SAMPAN_ERROR_INVALID, name,
		            "not an image the readers know (binary PGM or PNG)");
	}
	if (ret)
		return ret;
	ret = image_to_tensor(&im, name, decl, pixel_max, t, err, err_size);
	free(im.pix);
	return ret;
}

/* Reads the whole of @path into @data (malloc'd, at least one byte). */
static int read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t err_size)
{
	return file_read_all(path, ONNX_IMAGE_MAX_FILE_BYTES, data, len, err, err_size);
}

/* Reads @path; @want is the format it must have, or NONE for any. */
static int image_read(const char *path, enum onnx_image_format want, const struct onnx_value *decl,
                      float pixel_max, struct onnx_tensor **t, char *err, size_t err_size)
{
	uint8_t *data;
	size_t len;
	int ret;

	ret = read_file(path, &data, &len, err, err_size);
	if (ret)
		return ret;
	if (want == ONNX_IMAGE_PGM && onnx_image_format_of(data, len) != ONNX_IMAGE_PGM &&
	    (decl->dtype == ONNX_DT_FLOAT || decl->dtype == ONNX_DT_UINT8))
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID, path,
		           "not a binary PGM image (no P5 magic)");
	else
		ret = onnx_image_decode(data, len, path, decl, pixel_max, t, err, err_size);
	free(data);
	return ret;
}

int onnx_image_read(const char *path, const struct onnx_value *decl, float pixel_max,
                    struct onnx_tensor **t, char *err, size_t err_size)
{
	return image_read(path, ONNX_IMAGE_NONE, decl, pixel_max, t, err, err_size);
}

int onnx_image_read_pgm(const char *path, const struct onnx_value *decl, float pixel_max,
                        struct onnx_tensor **t, char *err, size_t err_size)
{
	return image_read(path, ONNX_IMAGE_PGM, decl, pixel_max, t, err, err_size);
}
