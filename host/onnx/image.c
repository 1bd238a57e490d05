/*
 * image.c - binary PGM images as graph inputs (see image.h).
 */
#include "onnx/image.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampan.h"

bool onnx_image_is_pgm(const char *path)
{
	char magic[2];
	FILE *f = fopen(path, "rb");
	bool pgm;

	if (!f)
		return false;
	pgm = fread(magic, 1, 2, f) == 2 && magic[0] == 'P' && magic[1] == '5';
	fclose(f);
	return pgm;
}

/* Reads one decimal header field of at most 9 digits after whitespace and
 * '#' comments; -1 if there is none. */
static long header_field(FILE *f)
{
	long v = 0;
	int c, digits = 0;

	for (;;) {
		c = fgetc(f);
		if (c == '#')
			while (c != '\n' && c != EOF)
				c = fgetc(f);
		else if (!isspace(c))
			break;
	}
	for (; c != EOF && isdigit(c) && digits < 9; c = fgetc(f), digits++)
		v = v * 10 + (c - '0');
	/* The field ends at one whitespace character (the last one before
	 * the pixels). */
	if (digits == 0 || digits == 9 || !isspace(c))
		return -1;
	return v;
}

/* The tensor shape for an (h, w) image fed to @decl, or false. */
static bool image_shape(const struct onnx_value *decl, long h, long w, int *ndim, int64_t *dims)
{
	if (decl->ndim < 0) {
		*ndim = 4;
		dims[0] = dims[1] = 1;
		dims[2] = h;
		dims[3] = w;
		return true;
	}
	if (decl->ndim < 2)
		return false;
	*ndim = decl->ndim;
	for (int d = 0; d < decl->ndim - 2; d++) {
		if (decl->dims[d] > 1)
			return false;
		dims[d] = 1;
	}
	dims[decl->ndim - 2] = h;
	dims[decl->ndim - 1] = w;
	return (decl->dims[decl->ndim - 2] < 0 || decl->dims[decl->ndim - 2] == h) &&
	       (decl->dims[decl->ndim - 1] < 0 || decl->dims[decl->ndim - 1] == w);
}

int onnx_image_read_pgm(const char *path, const struct onnx_value *decl, float pixel_max,
                        struct onnx_tensor **t, char *err, size_t err_size)
{
	struct onnx_tensor *img;
	int64_t dims[ONNX_MAX_DIMS];
	long w, h, maxval;
	char shape[96];
	uint8_t *pix;
	int ndim, ret;
	FILE *f;

	if (decl->dtype != ONNX_DT_FLOAT && decl->dtype != ONNX_DT_UINT8) {
		snprintf(err, err_size, "%s: an image can feed a float or uint8 input, '%s' is %s",
		         path, decl->name, onnx_dtype_name(decl->dtype));
		return SAMPAN_ERROR_INVALID;
	}
	if (decl->dtype == ONNX_DT_FLOAT && !(pixel_max > 0.0f)) {
		snprintf(err, err_size, "%s: the pixel scale must be positive", path);
		return SAMPAN_ERROR_INVALID;
	}
	f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
		return SAMPAN_ERROR_IO;
	}
	if (fgetc(f) != 'P' || fgetc(f) != '5') {
		snprintf(err, err_size, "%s: not a binary PGM image (no P5 magic)", path);
		ret = SAMPAN_ERROR_INVALID;
		goto out_close;
	}
	w = header_field(f);
	h = header_field(f);
	maxval = header_field(f);
	if (w < 1 || h < 1 || maxval < 1 || w > ONNX_IMAGE_MAX_PIXELS / h) {
		snprintf(err, err_size,
		         "%s: bad PGM header (width, height and maxval must be "
		         "positive numbers, at most %lld pixels)",
		         path, (long long)ONNX_IMAGE_MAX_PIXELS);
		ret = SAMPAN_ERROR_INVALID;
		goto out_close;
	}
	if (maxval > 255) {
		snprintf(err, err_size, "%s: 16-bit PGM (maxval %ld) is not supported, only 8-bit",
		         path, maxval);
		ret = SAMPAN_ERROR_NOT_SUPPORTED;
		goto out_close;
	}
	if (!image_shape(decl, h, w, &ndim, dims)) {
		snprintf(err, err_size, "%s: a %ldx%ld image does not fit input '%s' %s", path, h,
		         w, decl->name,
		         onnx_shape_str(decl->ndim, decl->dims, shape, sizeof(shape)));
		ret = SAMPAN_ERROR_INVALID;
		goto out_close;
	}
	ret = onnx_tensor_create(&img, decl->dtype, ndim, dims);
	if (ret) {
		snprintf(err, err_size, "%s: out of memory", path);
		goto out_close;
	}
	pix = malloc((size_t)(w * h));
	if (!pix) {
		snprintf(err, err_size, "%s: out of memory", path);
		ret = SAMPAN_ERROR_NO_MEM;
		goto err_destroy;
	}
	if (fread(pix, 1, (size_t)(w * h), f) != (size_t)(w * h)) {
		snprintf(err, err_size, "%s: truncated (%ldx%ld pixels expected)", path, w, h);
		ret = SAMPAN_ERROR_INVALID;
		goto err_free;
	}
	for (size_t i = 0; i < img->count; i++) {
		if (pix[i] > maxval) {
			snprintf(err, err_size, "%s: pixel %zu (%d) is above maxval %ld", path, i,
			         pix[i], maxval);
			ret = SAMPAN_ERROR_INVALID;
			goto err_free;
		}
		if (img->dtype == ONNX_DT_FLOAT)
			((float *)img->data)[i] = (float)pix[i] / pixel_max;
		else
			((uint8_t *)img->data)[i] = pix[i];
	}
	free(pix);
	fclose(f);
	*t = img;
	return SAMPAN_OK;

err_free:
	free(pix);
err_destroy:
	onnx_tensor_destroy(img);
out_close:
	fclose(f);
	return ret;
}
