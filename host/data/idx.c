/*
 * idx.c - idx files and labelled image sets (see idx.h).
 */
#include "data/idx.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/image.h"
#include "onnx/onnx_model.h"
#include "sampan.h"

/* ---------------------------------------------------------------- idx files */

/* Reads exactly @n bytes; 0 on success, else -1 with a message in @err. */
static int gz_read_all(gzFile f, const char *path, void *dst, size_t n, const char *what, char *err,
                       size_t err_size)
{
	uint8_t *p = dst;
	size_t got = 0;

	while (got < n) {
		unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
		int r = gzread(f, p + got, chunk);

		if (r < 0) {
			int code;
			const char *msg = gzerror(f, &code);

			snprintf(err, err_size, "%s: cannot read the %s: %s", path, what,
			         code == Z_ERRNO ? strerror(errno) : msg);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {
		snprintf(err, err_size, "%s: truncated: the %s has %zu of %zu bytes", path, what,
		         got, n);
		return -1;
	}
	return 0;
}

int idx_read(const char *path, int ndim, struct idx_array *a, char *err, size_t err_size)
{
	struct idx_array r = {.ndim = ndim};
	uint8_t head[4], dimb[4 * IDX_MAX_DIMS], extra;
	uint64_t size = 1;
	gzFile f;
	int ret = SAMPAN_ERROR_INVALID, n;
	struct stat st;

	if (ndim < 1 || ndim > IDX_MAX_DIMS) {
		snprintf(err, err_size, "%s: %d dimensions asked for, 1 to %d are read", path, ndim,
		         IDX_MAX_DIMS);
		return SAMPAN_ERROR_INVALID;
	}
	/* gzopen opens a directory or a FIFO without complaint. */
	if (stat(path, &st) != 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return SAMPAN_ERROR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "%s: not a regular file", path);
		return SAMPAN_ERROR_IO;
	}
	f = gzopen(path, "rb");
	if (!f) {
		snprintf(err, err_size, "%s: %s", path, errno ? strerror(errno) : "cannot open");
		return SAMPAN_ERROR_IO;
	}
	gzbuffer(f, 1u << 16);
	if (gz_read_all(f, path, head, sizeof(head), "idx header", err, err_size))
		goto out;
	if (head[0] != 0 || head[1] != 0) {
		snprintf(err, err_size,
		         "%s: not an idx file (magic %02x %02x %02x %02x, expected 00 00 08 %02x)",
		         path, head[0], head[1], head[2], head[3], ndim);
		goto out;
	}
	if (head[2] != 0x08) {
		snprintf(err, err_size,
		         "%s: idx element type 0x%02x; only 0x08 (unsigned byte) is read", path,
		         head[2]);
		goto out;
	}
	if (head[3] != ndim) {
		snprintf(err, err_size, "%s: %d dimensions, expected %d (%s)", path, head[3], ndim,
		         ndim == 1   ? "a labels file"
		         : ndim == 3 ? "an images file"
		                     : "as asked");
		goto out;
	}
	if (gz_read_all(f, path, dimb, 4 * (size_t)ndim, "idx dimensions", err, err_size))
		goto out;
	for (int d = 0; d < ndim; d++) {
		const uint8_t *b = &dimb[4 * d];

		r.dims[d] =
		    (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		if (r.dims[d] == 0) {
			snprintf(err, err_size, "%s: dimension %d is 0", path, d);
			goto out;
		}
		size *= r.dims[d];
		if (size > IDX_MAX_BYTES)
			break;
	}
	if (r.dims[0] > IDX_MAX_ITEMS || size > IDX_MAX_BYTES) {
		snprintf(err, err_size,
		         "%s: too large: %u items and %s bytes announced, at most %u items and "
		         "%llu bytes are read",
		         path, r.dims[0], size > IDX_MAX_BYTES ? "more than that many" : "few",
		         IDX_MAX_ITEMS, (unsigned long long)IDX_MAX_BYTES);
		goto out;
	}
	r.size = (size_t)size;
	r.data = malloc(r.size);
	if (!r.data) {
		snprintf(err, err_size, "%s: out of memory for %zu bytes", path, r.size);
		ret = SAMPAN_ERROR_NO_MEM;
		goto out;
	}
	if (gz_read_all(f, path, r.data, r.size, "data", err, err_size))
		goto out_free;
	n = gzread(f, &extra, 1);
	if (n != 0) {
		if (n > 0)
			snprintf(err, err_size,
			         "%s: bytes after the %zu bytes of data the header announces", path,
			         r.size);
		else
			snprintf(err, err_size, "%s: cannot read: %s", path, gzerror(f, &n));
		goto out_free;
	}
	*a = r;
	ret = SAMPAN_OK;
	goto out;
out_free:
	free(r.data);
out:
	gzclose(f);
	return ret;
}

void idx_array_free(struct idx_array *a)
{
	free(a->data);
	a->data = NULL;
}

/* ------------------------------------------------------------- labelled sets */

int idx_dataset_load(const char *images, const char *labels, struct idx_dataset **ds, char *err,
                     size_t err_size)
{
	struct idx_array im = {0}, lb = {0};
	struct idx_dataset *d;
	int ret;

	ret = idx_read(images, 3, &im, err, err_size);
	if (ret)
		return ret;
	ret = idx_read(labels, 1, &lb, err, err_size);
	if (ret)
		goto err_images;
	ret = SAMPAN_ERROR_INVALID;
	if (im.dims[0] != lb.dims[0]) {
		snprintf(err, err_size, "%s has %u images but %s has %u labels", images, im.dims[0],
		         labels, lb.dims[0]);
		goto err_labels;
	}
	if (im.dims[1] > IDX_MAX_SIDE || im.dims[2] > IDX_MAX_SIDE) {
		snprintf(err, err_size, "%s: images of %ux%u, at most %ux%u are read", images,
		         im.dims[1], im.dims[2], IDX_MAX_SIDE, IDX_MAX_SIDE);
		goto err_labels;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, err_size, "out of memory");
		ret = SAMPAN_ERROR_NO_MEM;
		goto err_labels;
	}
	d->n = im.dims[0];
	d->h = im.dims[1];
	d->w = im.dims[2];
	d->pixels = im.data;
	d->labels = lb.data;
	snprintf(d->source, sizeof(d->source), "%s", images);
	*ds = d;
	return SAMPAN_OK;
err_labels:
	idx_array_free(&lb);
err_images:
	idx_array_free(&im);
	return ret;
}

/* One <index>_<label>.pgm or .png file of a directory. */
struct pgm_entry {
	unsigned long index;
	unsigned label;
	char *name;
};

/* Parses "<index>_<label>.pgm" or ".png" (decimal, label 0 to 255). */
static int parse_pgm_name(const char *name, struct pgm_entry *e)
{
	unsigned long index = 0, label = 0;
	const char *p = name;
	int digits = 0;

	for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
		index = index * 10 + (unsigned long)(*p - '0');
	if (!digits || *p++ != '_')
		return 0;
	for (digits = 0; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		label = label * 10 + (unsigned long)(*p - '0');
	if (!digits || label > 255 || (strcmp(p, ".pgm") != 0 && strcmp(p, ".png") != 0))
		return 0;
	e->index = index;
	e->label = (unsigned)label;
	return 1;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct pgm_entry *x = a, *y = b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Whether @dir/@base or @dir/@base.gz exists; the path found in @out. */
static int find_idx(const char *dir, const char *base, char *out, size_t size)
{
	static const char *const suffixes[] = {".gz", ""};

	for (int i = 0; i < 2; i++) {
		struct stat st;

		snprintf(out, size, "%s/%s%s", dir, base, suffixes[i]);
		if (stat(out, &st) == 0)
			return 1;
	}
	return 0;
}

/* Reads the images of @e (@n of them) from @dir into a new set, as one
 * grey plane each (colour made grey as data/image.h says). */
static int load_images(const char *dir, struct pgm_entry *e, size_t n, struct idx_dataset **ds,
                       char *err, size_t err_size)
{
	const struct onnx_value raw = {.name = "image", .dtype = ONNX_DT_UINT8, .ndim = -1};
	struct idx_dataset *d = calloc(1, sizeof(*d));
	char path[4096];
	int ret = SAMPAN_ERROR_NO_MEM;

	if (!d)
		goto err_nomem;
	d->names = calloc(n, sizeof(*d->names));
	d->labels = malloc(n);
	if (!d->names || !d->labels)
		goto err_nomem;
	for (size_t i = 0; i < n; i++) {
		struct onnx_tensor *t = NULL;
		int64_t h, w;

		snprintf(path, sizeof(path), "%s/%s", dir, e[i].name);
		ret = onnx_image_read(path, &raw, 255.0f, &t, err, err_size);
		if (ret)
			goto err_free;
		h = t->dims[2];
		w = t->dims[3];
		if (i == 0) {
			if (h > IDX_MAX_SIDE || w > IDX_MAX_SIDE) {
				snprintf(err, err_size, "%s: an image of %lldx%lld, at most %ux%u",
				         path, (long long)h, (long long)w, IDX_MAX_SIDE,
				         IDX_MAX_SIDE);
				ret = SAMPAN_ERROR_INVALID;
			} else {
				d->h = (uint32_t)h;
				d->w = (uint32_t)w;
				d->pixels = malloc(n * (size_t)h * (size_t)w);
				if (!d->pixels)
					ret = SAMPAN_ERROR_NO_MEM;
			}
		} else if (h != d->h || w != d->w) {
			snprintf(err, err_size, "%s: a %lldx%lld image among %ux%u ones", path,
			         (long long)h, (long long)w, d->h, d->w);
			ret = SAMPAN_ERROR_INVALID;
		}
		if (ret == SAMPAN_OK)
			memcpy(d->pixels + i * (size_t)d->h * d->w, t->data, t->count);
		onnx_tensor_destroy(t);
		if (ret == SAMPAN_ERROR_NO_MEM)
			goto err_nomem;
		if (ret)
			goto err_free;
		d->labels[i] = (uint8_t)e[i].label;
		d->names[i] = e[i].name;
		e[i].name = NULL;
		d->n = i + 1;
	}
	snprintf(d->source, sizeof(d->source), "%s", dir);
	*ds = d;
	return SAMPAN_OK;
err_nomem:
	snprintf(err, err_size, "%s: out of memory", dir);
	ret = SAMPAN_ERROR_NO_MEM;
err_free:
	idx_dataset_destroy(d);
	return ret;
}

int idx_dataset_load_dir(const char *dir, struct idx_dataset **ds, char *err, size_t err_size)
{
	char images[4096], labels[4096];
	struct pgm_entry *e = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dp;
	int ret;

	if (find_idx(dir, "t10k-images-idx3-ubyte", images, sizeof(images)) &&
	    find_idx(dir, "t10k-labels-idx1-ubyte", labels, sizeof(labels)))
		return idx_dataset_load(images, labels, ds, err, err_size);
	dp = opendir(dir);
	if (!dp) {
		snprintf(err, err_size, "%s: %s", dir, strerror(errno));
		return SAMPAN_ERROR_IO;
	}
	ret = SAMPAN_ERROR_NO_MEM;
	while ((de = readdir(dp))) {
		struct pgm_entry one;

		if (!parse_pgm_name(de->d_name, &one))
			continue;
		if (n == IDX_MAX_ITEMS) {
			snprintf(err, err_size, "%s: more than %u images", dir, IDX_MAX_ITEMS);
			ret = SAMPAN_ERROR_INVALID;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct pgm_entry *ne = realloc(e, ncap * sizeof(*e));

			if (!ne)
				goto err_nomem;
			e = ne;
			cap = ncap;
		}
		one.name = strdup(de->d_name);
		if (!one.name)
			goto err_nomem;
		e[n++] = one;
	}
	if (n == 0) {
		snprintf(err, err_size,
		         "%s: no labelled images: expected t10k-images-idx3-ubyte[.gz] and "
		         "t10k-labels-idx1-ubyte[.gz], or images named <index>_<label>.pgm or "
		         ".png",
		         dir);
		ret = SAMPAN_ERROR_INVALID;
		goto out;
	}
	qsort(e, n, sizeof(*e), cmp_entry);
	ret = load_images(dir, e, n, ds, err, err_size);
	goto out;
err_nomem:
	snprintf(err, err_size, "%s: out of memory", dir);
out:
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
	closedir(dp);
	return ret;
}

void idx_dataset_truncate(struct idx_dataset *ds, size_t n)
{
	if (n >= ds->n)
		return;
	if (ds->names)
		for (size_t i = n; i < ds->n; i++) {
			free(ds->names[i]);
			ds->names[i] = NULL;
		}
	ds->n = n;
}

void idx_dataset_destroy(struct idx_dataset *ds)
{
	if (!ds)
		return;
	if (ds->names) {
		for (size_t i = 0; i < ds->n; i++)
			free(ds->names[i]);
		free(ds->names);
	}
	free(ds->pixels);
	free(ds->labels);
	free(ds);
}
