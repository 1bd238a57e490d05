/*
 * npyio.c - the tests' .npy writer and reader (see npyio.h).
 */
#include "npyio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *npyt_image(const char *descr, int ndim, const long *shape, const void *data,
                          size_t data_bytes, size_t *size)
{
	char dict[256], shp[96] = "";
	size_t used = 0, dict_len, header_len, total;
	unsigned char *img;

	for (int i = 0; i < ndim; i++)
		used += (size_t)snprintf(shp + used, sizeof(shp) - used, "%ld,%s", shape[i],
		                         i + 1 < ndim ? " " : "");
	if (ndim > 1)
		shp[used - 1] = '\0'; /* (3, 4) but (3,) */
	snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
	         descr, shp);
	dict_len = strlen(dict);
	/* magic (6) + version (2) + length (2) + dict + padding + '\n', a
	 * multiple of 64 as NumPy writes it */
	header_len = (10 + dict_len + 1 + 63) / 64 * 64;
	total = header_len + data_bytes;
	img = malloc(total);
	if (!img)
		return NULL;
	memcpy(img, "\x93NUMPY\x01\x00", 8);
	img[8] = (unsigned char)((header_len - 10) & 0xff);
	img[9] = (unsigned char)((header_len - 10) >> 8);
	memset(img + 10, ' ', header_len - 10);
	memcpy(img + 10, dict, dict_len);
	img[header_len - 1] = '\n';
	if (data_bytes)
		memcpy(img + header_len, data, data_bytes);
	*size = total;
	return img;
}

unsigned char *npyt_to_v2(const unsigned char *img, size_t size, size_t *new_size)
{
	size_t old_len = img[8] | (size_t)img[9] << 8;      /* dict + padding + '\n' */
	size_t data = 10 + old_len, new_len = old_len + 62; /* 12 + new_len == 64 * m */
	unsigned char *out = malloc(size + 64);

	if (!out)
		return NULL;
	memcpy(out, "\x93NUMPY\x02\x00", 8);
	out[8] = (unsigned char)(new_len & 0xff);
	out[9] = (unsigned char)(new_len >> 8);
	out[10] = 0;
	out[11] = 0;
	memcpy(out + 12, img + 10, old_len - 1); /* dict and its padding */
	memset(out + 12 + old_len - 1, ' ', 62); /* more padding */
	out[12 + new_len - 1] = '\n';
	memcpy(out + 12 + new_len, img + data, size - data);
	*new_size = size + 64;
	return out;
}

int npyt_write_bytes(const char *path, const void *bytes, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(bytes, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int npyt_write(const char *path, const char *descr, int ndim, const long *shape, const void *data,
               size_t data_bytes)
{
	size_t size;
	unsigned char *img = npyt_image(descr, ndim, shape, data, data_bytes, &size);
	int rc;

	if (!img)
		return -1;
	rc = npyt_write_bytes(path, img, size);
	free(img);
	return rc;
}

/* Finds 'key': in the header dictionary; returns the text after the colon
 * and the spaces, or NULL. */
static const char *dict_value(const char *dict, const char *key)
{
	char quoted[32];
	const char *p;

	snprintf(quoted, sizeof(quoted), "'%s'", key);
	p = strstr(dict, quoted);
	if (!p)
		return NULL;
	p += strlen(quoted);
	while (*p == ' ')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ')
		p++;
	return p;
}

int npyt_read(const char *path, struct npyt_array *arr, char *err, size_t err_size)
{
	FILE *f = fopen(path, "rb");
	unsigned char pre[12];
	size_t header_len, pre_len;
	char *dict = NULL;
	const char *v;
	long file_end;
	int rc = -1;

	memset(arr, 0, sizeof(*arr));
	if (!f) {
		snprintf(err, err_size, "%s: cannot open", path);
		return -1;
	}
	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
		snprintf(err, err_size, "%s: not a .npy file", path);
		goto out;
	}
	if (pre[6] == 1) {
		header_len = pre[8] | (size_t)pre[9] << 8;
		pre_len = 10;
	} else if (pre[6] == 2 || pre[6] == 3) {
		if (fread(pre + 10, 1, 2, f) != 2)
			goto truncated;
		header_len =
		    pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
		pre_len = 12;
	} else {
		snprintf(err, err_size, "%s: format version %d", path, pre[6]);
		goto out;
	}
	if ((pre_len + header_len) % 16) {
		snprintf(err, err_size, "%s: header end %zu not 16-aligned", path,
		         pre_len + header_len);
		goto out;
	}
	dict = calloc(1, header_len + 1);
	if (!dict || fread(dict, 1, header_len, f) != header_len)
		goto truncated;
	if (!(v = dict_value(dict, "descr")) || *v != '\'' ||
	    sscanf(v + 1, "%15[^']", arr->descr) != 1) {
		snprintf(err, err_size, "%s: no descr in '%s'", path, dict);
		goto out;
	}
	if (!(v = dict_value(dict, "fortran_order"))) {
		snprintf(err, err_size, "%s: no fortran_order", path);
		goto out;
	}
	arr->fortran = !strncmp(v, "True", 4);
	if (!(v = dict_value(dict, "shape")) || *v++ != '(') {
		snprintf(err, err_size, "%s: no shape", path);
		goto out;
	}
	while (*v != ')') {
		char *end;

		while (*v == ' ' || *v == ',')
			v++;
		if (*v == ')')
			break;
		if (arr->ndim == 4) {
			snprintf(err, err_size, "%s: too many dimensions", path);
			goto out;
		}
		arr->shape[arr->ndim++] = strtol(v, &end, 10);
		if (end == v) {
			snprintf(err, err_size, "%s: bad shape", path);
			goto out;
		}
		v = end;
	}
	file_end = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
	if (file_end < 0 || (size_t)file_end < pre_len + header_len)
		goto truncated;
	arr->bytes = (size_t)file_end - pre_len - header_len;
	arr->data = malloc(arr->bytes ? arr->bytes : 1);
	if (!arr->data || fseek(f, (long)(pre_len + header_len), SEEK_SET) ||
	    fread(arr->data, 1, arr->bytes, f) != arr->bytes)
		goto truncated;
	rc = 0;
	goto out;
truncated:
	snprintf(err, err_size, "%s: truncated", path);
out:
	if (rc) {
		free(arr->data);
		arr->data = NULL;
	}
	free(dict);
	fclose(f);
	return rc;
}
