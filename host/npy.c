/*
 * npy.c - NumPy .npy reader and writer (see npy.h).
 *
 * File layout (NumPy's format documentation, versions 1.0 to 3.0):
 *   "\x93NUMPY", major, minor,
 *   header length (uint16 LE in 1.0, uint32 LE in 2.0 and 3.0),
 *   header: a Python dict literal with exactly the keys 'descr',
 *   'fortran_order' and 'shape', padded with spaces and ended by '\n',
 *   then the raw array data.
 */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "sampan.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* Longest header we accept: real files have about 128 bytes. */
#define NPY_HEADER_MAX (1u << 20)

/* Most dimensions a shape tuple may list before we stop reading it. */
#define NPY_PARSE_DIMS 32

const char *npy_dtype_name(enum npy_dtype dtype)
{
	switch (dtype) {
	case NPY_INT8:
		return "|i1";
	case NPY_UINT8:
		return "|u1";
	case NPY_FLOAT32:
		return "<f4";
	case NPY_FLOAT16:
		return "<f2";
	default:
		return "<i4";
	}
}

static size_t dtype_size(enum npy_dtype dtype)
{
	return dtype == NPY_INT8 || dtype == NPY_UINT8 ? 1 : dtype == NPY_FLOAT16 ? 2 : 4;
}

/* How a dtype is named in messages. */
static const char *dtype_word(enum npy_dtype dtype)
{
	switch (dtype) {
	case NPY_INT8:
		return "int8";
	case NPY_UINT8:
		return "uint8";
	case NPY_FLOAT32:
		return "little-endian float32";
	case NPY_FLOAT16:
		return "little-endian float16";
	default:
		return "little-endian int32";
	}
}

static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats a message into @err and returns @code. */
static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return code;
}

/* ------------------------------------------------------------ header dict */

/* What the header dict says. */
struct npy_header {
	char descr[16];
	bool fortran_order;
	int ndim;
	int64_t shape[NPY_PARSE_DIMS];
};

/* A cursor over the header text; msg is set on the first syntax error. */
struct parser {
	const char *p, *end;
	const char *msg;
};

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Consumes @c (after blanks) if it is next; returns whether it was. */
static bool accept(struct parser *ps, char c)
{
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return true;
	}
	return false;
}

static bool expect(struct parser *ps, char c, const char *msg)
{
	if (accept(ps, c))
		return true;
	ps->msg = msg;
	return false;
}

/* A quoted string without escapes into @out (truncation is an error). */
static bool parse_string(struct parser *ps, char *out, size_t out_size)
{
	size_t len = 0;
	char quote;

	skip_space(ps);
	if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) {
		ps->msg = "expected a quoted string";
		return false;
	}
	quote = *ps->p++;
	while (ps->p < ps->end && *ps->p != quote) {
		if (*ps->p == '\\' || len + 1 >= out_size) {
			ps->msg = "unsupported string";
			return false;
		}
		out[len++] = *ps->p++;
	}
	if (ps->p >= ps->end) {
		ps->msg = "unterminated string";
		return false;
	}
	ps->p++;
	out[len] = '\0';
	return true;
}

static bool parse_word(struct parser *ps, const char *word)
{
	size_t len = strlen(word);

	skip_space(ps);
	if ((size_t)(ps->end - ps->p) >= len && memcmp(ps->p, word, len) == 0) {
		ps->p += len;
		return true;
	}
	return false;
}

static bool parse_bool(struct parser *ps, bool *value)
{
	if (parse_word(ps, "True"))
		*value = true;
	else if (parse_word(ps, "False"))
		*value = false;
	else {
		ps->msg = "expected True or False";
		return false;
	}
	return true;
}

/* A non-negative decimal integer (Python 2 files may append 'L'). */
static bool parse_dim(struct parser *ps, int64_t *value)
{
	int64_t v = 0;

	skip_space(ps);
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
		ps->msg = "expected a non-negative integer in 'shape'";
		return false;
	}
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		int digit = *ps->p++ - '0';

		if (v > (INT64_MAX - digit) / 10) {
			ps->msg = "a dimension in 'shape' is too large";
			return false;
		}
		v = v * 10 + digit;
	}
	if (ps->p < ps->end && *ps->p == 'L')
		ps->p++;
	*value = v;
	return true;
}

/* A tuple of dimensions: "()", "(3,)", "(3, 4)", "(3, 4,)". */
static bool parse_shape(struct parser *ps, struct npy_header *h)
{
	bool comma = false;

	h->ndim = 0;
	if (!expect(ps, '(', "'shape' is not a tuple"))
		return false;
	if (accept(ps, ')'))
		return true;
	for (;;) {
		if (h->ndim == NPY_PARSE_DIMS) {
			ps->msg = "'shape' has too many dimensions";
			return false;
		}
		if (!parse_dim(ps, &h->shape[h->ndim]))
			return false;
		h->ndim++;
		comma = false;
		if (accept(ps, ')'))
			break;
		if (!expect(ps, ',', "expected ',' or ')' in 'shape'"))
			return false;
		comma = true;
		if (accept(ps, ')'))
			break;
	}
	/* "(3)" is the integer 3 in Python, not a tuple. */
	if (h->ndim == 1 && !comma) {
		ps->msg = "'shape' is not a tuple";
		return false;
	}
	return true;
}

/* Parses the whole dict; returns NULL or a message. */
static const char *parse_header(const char *text, size_t len, struct npy_header *h)
{
	struct parser ps = {.p = text, .end = text + len, .msg = NULL};
	bool seen_descr = false, seen_fortran = false, seen_shape = false;

	if (!expect(&ps, '{', "header is not a dict"))
		return ps.msg;
	while (!accept(&ps, '}')) {
		char key[32];

		if (!parse_string(&ps, key, sizeof(key)))
			return ps.msg;
		if (!expect(&ps, ':', "expected ':' after a key"))
			return ps.msg;
		if (strcmp(key, "descr") == 0 && !seen_descr) {
			seen_descr = true;
			if (!parse_string(&ps, h->descr, sizeof(h->descr)))
				return "'descr' is not a simple dtype string";
		} else if (strcmp(key, "fortran_order") == 0 && !seen_fortran) {
			seen_fortran = true;
			if (!parse_bool(&ps, &h->fortran_order))
				return ps.msg;
		} else if (strcmp(key, "shape") == 0 && !seen_shape) {
			seen_shape = true;
			if (!parse_shape(&ps, h))
				return ps.msg;
		} else {
			return "header has an unknown or repeated key";
		}
		if (accept(&ps, '}'))
			break;
		if (!expect(&ps, ',', "expected ',' or '}' in the header"))
			return ps.msg;
	}
	skip_space(&ps);
	if (ps.p != ps.end)
		return "text after the header dict";
	if (!seen_descr || !seen_fortran || !seen_shape)
		return "header lacks one of 'descr', 'fortran_order', 'shape'";
	return NULL;
}

/* The dtype a descr string names, or -1. */
static int descr_dtype(const char *descr)
{
	if (strcmp(descr, "|i1") == 0 || strcmp(descr, "<i1") == 0 || strcmp(descr, "i1") == 0)
		return NPY_INT8;
	if (strcmp(descr, "|u1") == 0 || strcmp(descr, "<u1") == 0 || strcmp(descr, "u1") == 0)
		return NPY_UINT8;
	if (strcmp(descr, "<i4") == 0)
		return NPY_INT32;
	if (strcmp(descr, "<f4") == 0)
		return NPY_FLOAT32;
	if (strcmp(descr, "<f2") == 0)
		return NPY_FLOAT16;
	return -1;
}

/* ------------------------------------------------------------------ read */

static uint32_t load_le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static const char *ndim_word(int ndim)
{
	return ndim == 1 ? "a vector" : "a matrix";
}

/* npy_read with @dtype -1 or @ndim -1 meaning any. */
static int read_array(const char *path, int want_dtype, int ndim, struct npy_array *arr, char *err,
                      size_t err_size)
{
	unsigned char pre[12];
	struct npy_header h;
	struct stat st;
	const char *msg;
	char *text = NULL;
	unsigned char *data = NULL;
	size_t pre_len, hdr_len, count = 1, bytes, item;
	enum npy_dtype dtype;
	uint64_t remaining;
	FILE *f;
	int ret;

	f = fopen(path, "rb");
	if (!f)
		return fail(err, err_size, SAMPAN_ERROR_IO, "%s: cannot open: %s", path,
		            strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		ret = fail(err, err_size, SAMPAN_ERROR_IO, "%s: not a regular file", path);
		goto err_close;
	}
	if (fread(pre, 1, 8, f) != 8 || memcmp(pre, npy_magic, sizeof(npy_magic)) != 0) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: not a .npy file (bad magic)",
		           path);
		goto err_close;
	}
	if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
		           "%s: unsupported .npy format version %u.%u (1.0, 2.0, 3.0 are read)",
		           path, pre[6], pre[7]);
		goto err_close;
	}
	pre_len = pre[6] == 1 ? 10 : 12;
	if (fread(pre + 8, 1, pre_len - 8, f) != pre_len - 8) {
		ret =
		    fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: truncated .npy preamble", path);
		goto err_close;
	}
	hdr_len = pre[6] == 1 ? (size_t)(pre[8] | pre[9] << 8) : load_le32(pre + 8);
	if (hdr_len > NPY_HEADER_MAX || hdr_len > (uint64_t)st.st_size - pre_len) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
		           "%s: header length %zu is beyond the file or too long", path, hdr_len);
		goto err_close;
	}
	text = malloc(hdr_len + 1);
	if (!text) {
		ret = fail(err, err_size, SAMPAN_ERROR_NO_MEM, "%s: out of memory", path);
		goto err_close;
	}
	if (fread(text, 1, hdr_len, f) != hdr_len) {
		ret = fail(err, err_size, SAMPAN_ERROR_IO, "%s: read error in the header", path);
		goto err_free_text;
	}
	text[hdr_len] = '\0';
	if (memchr(text, '\0', hdr_len)) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: NUL byte in the header", path);
		goto err_free_text;
	}
	memset(&h, 0, sizeof(h));
	msg = parse_header(text, hdr_len, &h);
	if (msg) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: malformed header: %s", path,
		           msg);
		goto err_free_text;
	}
	if (want_dtype >= 0 && descr_dtype(h.descr) != want_dtype) {
		ret =
		    fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: dtype '%s', expected %s ('%s')",
		         path, h.descr, dtype_word(want_dtype), npy_dtype_name(want_dtype));
		goto err_free_text;
	}
	if (descr_dtype(h.descr) < 0) {
		ret = fail(
		    err, err_size, SAMPAN_ERROR_INVALID,
		    "%s: dtype '%s' is not supported (int8, uint8, int32, float16, float32 are)",
		    path, h.descr);
		goto err_free_text;
	}
	dtype = (enum npy_dtype)descr_dtype(h.descr);
	item = dtype_size(dtype);
	if (h.fortran_order) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
		           "%s: Fortran-order arrays are not supported (save in C order)", path);
		goto err_free_text;
	}
	if (ndim < 0 && h.ndim > NPY_MAX_DIMS) {
		ret =
		    fail(err, err_size, SAMPAN_ERROR_INVALID,
		         "%s: %d dimensions, at most %d are supported", path, h.ndim, NPY_MAX_DIMS);
		goto err_free_text;
	}
	if (ndim >= 0 && h.ndim != ndim) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
		           "%s: %d-dimensional array, expected %s (%d dimension%s)", path, h.ndim,
		           ndim_word(ndim), ndim, ndim == 1 ? "" : "s");
		goto err_free_text;
	}
	for (int i = 0; i < h.ndim; i++) {
		if (h.shape[i] == 0) {
			ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
			           "%s: empty array (dimension %d is 0)", path, i);
			goto err_free_text;
		}
		if ((uint64_t)h.shape[i] > SIZE_MAX / item / count) {
			ret =
			    fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: shape too large", path);
			goto err_free_text;
		}
		count *= (size_t)h.shape[i];
	}
	bytes = count * item;
	remaining = (uint64_t)st.st_size - pre_len - hdr_len;
	if (remaining != bytes) {
		ret = fail(err, err_size, SAMPAN_ERROR_INVALID,
		           "%s: %s: the shape needs %zu data bytes, the file has %llu", path,
		           remaining < bytes ? "truncated" : "trailing bytes", bytes,
		           (unsigned long long)remaining);
		goto err_free_text;
	}
	data = malloc(bytes);
	if (!data) {
		ret = fail(err, err_size, SAMPAN_ERROR_NO_MEM, "%s: out of memory (%zu bytes)",
		           path, bytes);
		goto err_free_text;
	}
	if (fread(data, 1, bytes, f) != bytes) {
		ret = fail(err, err_size, SAMPAN_ERROR_IO, "%s: read error in the data", path);
		goto err_free_data;
	}
	if (item == 4) {
		for (size_t i = 0; i < count; i++) {
			int32_t v = (int32_t)load_le32(data + 4 * i);

			memcpy(data + 4 * i, &v, 4);
		}
	} else if (item == 2) {
		for (size_t i = 0; i < count; i++) {
			uint16_t v = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);

			memcpy(data + 2 * i, &v, 2);
		}
	}
	free(text);
	fclose(f);
	arr->dtype = dtype;
	arr->ndim = h.ndim;
	for (int i = 0; i < NPY_MAX_DIMS; i++)
		arr->shape[i] = i < h.ndim ? h.shape[i] : 1;
	arr->count = count;
	arr->data = data;
	return SAMPAN_OK;

err_free_data:
	free(data);
err_free_text:
	free(text);
err_close:
	fclose(f);
	return ret;
}

int npy_read(const char *path, enum npy_dtype dtype, int ndim, struct npy_array *arr, char *err,
             size_t err_size)
{
	return read_array(path, (int)dtype, ndim, arr, err, err_size);
}

int npy_read_any(const char *path, struct npy_array *arr, char *err, size_t err_size)
{
	return read_array(path, -1, -1, arr, err, err_size);
}

void npy_array_destroy(struct npy_array *arr)
{
	if (!arr)
		return;
	free(arr->data);
	arr->data = NULL;
}

/* ----------------------------------------------------------------- write */

/* Writes the data of @count elements, wider ones as little-endian. */
/* Stores @count elements of @dtype at @data into @out, little-endian. */
static void put_data(unsigned char *out, enum npy_dtype dtype, const void *data, size_t count)
{
	const unsigned char *v = data;
	size_t size = dtype_size(dtype);

	for (size_t i = 0; i < count; i++) {
		uint32_t u = 0;

		memcpy(&u, v + size * i, size);
		for (size_t k = 0; k < size; k++)
			out[size * i + k] = (unsigned char)(u >> (8 * k));
	}
}

int npy_write(const char *path, enum npy_dtype dtype, int ndim, const int64_t *shape,
              const void *data, char *err, size_t err_size)
{
	char hdr[512], dims[256];
	size_t count = 1, dlen = 0, bytes;
	unsigned char *buf;
	int len, ret;

	if (ndim < 0 || ndim > NPY_MAX_DIMS)
		return fail(err, err_size, SAMPAN_ERROR_INVALID, "%s: cannot write %d dimensions",
		            path, ndim);
	dims[0] = '\0';
	for (int i = 0; i < ndim; i++) {
		count *= (size_t)shape[i];
		dlen += (size_t)snprintf(dims + dlen, sizeof(dims) - dlen, "%s%lld%s", i ? " " : "",
		                         (long long)shape[i], i + 1 < ndim || ndim == 1 ? "," : "");
	}

	/* Version 1.0: the dict of at most NPY_MAX_DIMS dimensions always
	 * fits its 16-bit length. Pad so that the data starts 64-byte
	 * aligned. */
	len = snprintf(hdr + 10, sizeof(hdr) - 10,
	               "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
	               npy_dtype_name(dtype), dims);
	while ((10 + len + 1) % 64 != 0)
		hdr[10 + len++] = ' ';
	hdr[10 + len++] = '\n';
	memcpy(hdr, npy_magic, sizeof(npy_magic));
	hdr[6] = 1;
	hdr[7] = 0;
	hdr[8] = (char)(len & 0xff);
	hdr[9] = (char)(len >> 8);

	/* The whole file in memory, then one atomic write (fileio.h). */
	bytes = (size_t)(10 + len) + count * dtype_size(dtype);
	buf = malloc(bytes);
	if (!buf)
		return fail(err, err_size, SAMPAN_ERROR_NO_MEM, "%s: out of memory", path);
	memcpy(buf, hdr, (size_t)(10 + len));
	put_data(buf + 10 + len, dtype, data, count);
	ret = file_write_atomic(path, buf, bytes, err, err_size);
	free(buf);
	return ret;
}
