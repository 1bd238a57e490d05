/*
 * test_eval.c - the idx data-set reader (host/data/idx.c) on good and bad
 * files, gzip-compressed and plain, and directories of labelled PGM
 * images; and `sampan eval`: predictions of a small integer model built
 * here (on the device) against a direct reference on cpu and sim, the same
 * on both, accuracy counting, the JSON report and its per-layer figures,
 * the demo model on the sample images, and errors.
 *
 * The fixtures (idx files, images, models) are written by the tests into
 * a temporary directory. Random pixels and weights take their seed from
 * SAMPAN_TEST_SEED (printed when a test fails).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "data/idx.h"
#include "json.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_model.h"
#include "sampan.h"
#include "spawn.h"
#include "util.h"

#define ERR_SIZE 1024
#define SAMPLES_DIR TEST_SRCDIR "/../host/models/samples"
#define LABELS_FILE TEST_SRCDIR "/../host/models/fmnist_labels.txt"
#define FLOAT_MODEL TEST_SRCDIR "/../host/models/fmnist_cnn.onnx"

TestSuite(idx, .timeout = 60);
TestSuite(eval_cli, .timeout = 120);

/* ------------------------------------------------------------ fixtures */

static char tmpdir[64];

/* A fresh temporary directory for the test; removed by cleanup(). */
static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sampan-eval-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

/* Removes the temporary directory and the files in it (it holds no
 * subdirectories). */
static void cleanup(void)
{
	DIR *d = tmpdir[0] ? opendir(tmpdir) : NULL;
	struct dirent *de;
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
			remove(path);
		}
	closedir(d);
	rmdir(tmpdir);
}

/* @name inside the temporary directory (a static buffer, reused after
 * 64 calls: keep a copy of a path needed longer). */
static const char *tmp(const char *name)
{
	static char bufs[64][256];
	static int next;
	char *b = bufs[next++ % 64];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
	return b;
}

/* One generator per test process (tests/util.c). */
static struct rng test_rng;

static void seed_rng(void)
{
	rng_init(&test_rng, test_seed("test_eval"));
}

static uint64_t rnd(void)
{
	return rng_u64(&test_rng);
}

/* Writes @len bytes to @path, gzip-compressed if @gz. */
static void write_file(const char *path, bool gz, const void *data, size_t len)
{
	if (gz) {
		gzFile f = gzopen(path, "wb");

		cr_assert_not_null(f, "%s", path);
		cr_assert_eq(gzwrite(f, data, (unsigned)len), (int)len);
		cr_assert_eq(gzclose(f), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");

		cr_assert_not_null(f, "%s", path);
		cr_assert_eq(fwrite(data, 1, len, f), len);
		cr_assert_eq(fclose(f), 0);
	}
}

/* Builds an idx file in a new buffer: magic 00 00 @type @ndim, the dims,
 * then @data_len bytes of @data; its length in @len. */
static uint8_t *idx_bytes(uint8_t type, int ndim, const uint32_t *dims, const uint8_t *data,
                          size_t data_len, size_t *len)
{
	uint8_t *b = malloc(4 + 4 * (size_t)ndim + data_len);
	size_t o = 0;

	cr_assert_not_null(b);
	b[o++] = 0;
	b[o++] = 0;
	b[o++] = type;
	b[o++] = (uint8_t)ndim;
	for (int d = 0; d < ndim; d++) {
		b[o++] = (uint8_t)(dims[d] >> 24);
		b[o++] = (uint8_t)(dims[d] >> 16);
		b[o++] = (uint8_t)(dims[d] >> 8);
		b[o++] = (uint8_t)dims[d];
	}
	if (data_len)
		memcpy(b + o, data, data_len);
	*len = o + data_len;
	return b;
}

/* Writes a well-formed idx file of @ndim dims holding @data. */
static void write_idx(const char *path, bool gz, int ndim, const uint32_t *dims,
                      const uint8_t *data)
{
	size_t n = 1, len;
	uint8_t *b;

	for (int d = 0; d < ndim; d++)
		n *= dims[d];
	b = idx_bytes(0x08, ndim, dims, data, n, &len);
	write_file(path, gz, b, len);
	free(b);
}

/* Writes an images file (n, h, w) and a labels file (n) in the temporary
 * directory, as images.idx[.gz] and labels.idx[.gz]. */
static void write_set(bool gz, uint32_t n, uint32_t h, uint32_t w, const uint8_t *pixels,
                      const uint8_t *labels)
{
	const uint32_t idims[3] = {n, h, w}, ldims[1] = {n};

	write_idx(tmp(gz ? "images.idx.gz" : "images.idx"), gz, 3, idims, pixels);
	write_idx(tmp(gz ? "labels.idx.gz" : "labels.idx"), gz, 1, ldims, labels);
}

/* Expects idx_read(@path, @ndim) to fail with @code and a message naming
 * the file and containing @needle. */
static void expect_bad(const char *path, int ndim, int code, const char *needle)
{
	struct idx_array a = {0};
	char err[ERR_SIZE] = "";
	int ret = idx_read(path, ndim, &a, err, sizeof(err));

	cr_assert_eq(ret, code, "%s: got %d (%s), expected %d", path, ret, err, code);
	cr_assert_null(a.data);
	cr_assert(strstr(err, path) != NULL, "message does not name the file: %s", err);
	cr_assert(strstr(err, needle) != NULL, "message lacks '%s': %s", needle, err);
}

/* ------------------------------------------------------------ idx reader */

static void good_file(bool gz)
{
	const uint32_t dims[3] = {3, 2, 5};
	uint8_t data[30];
	struct idx_array a = {0};
	char err[ERR_SIZE];
	const char *path = tmp("good");

	for (int i = 0; i < 30; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	write_idx(path, gz, 3, dims, data);
	cr_assert_eq(idx_read(path, 3, &a, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(a.ndim, 3);
	cr_assert_eq(a.dims[0], 3);
	cr_assert_eq(a.dims[1], 2);
	cr_assert_eq(a.dims[2], 5);
	cr_assert_eq(a.size, 30);
	cr_assert_arr_eq(a.data, data, 30);
	idx_array_free(&a);
	cr_assert_null(a.data);
}

Test(idx, good_plain, .init = setup, .fini = cleanup)
{
	good_file(false);
}

Test(idx, good_gz, .init = setup, .fini = cleanup)
{
	good_file(true);
}

/* Each defect, plain and compressed. */
static void bad_files(bool gz)
{
	const uint32_t dims[3] = {2, 3, 3}, ldims[1] = {2};
	uint8_t data[19] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
	const char *path = tmp(gz ? "bad.gz" : "bad");
	size_t len;
	uint8_t *b;

	/* Bad magic: not 00 00. */
	b = idx_bytes(0x08, 3, dims, data, 18, &len);
	b[0] = 0x1f;
	b[1] = 0x00;
	write_file(path, gz, b, len);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "not an idx file");
	free(b);

	/* Element type other than unsigned byte (0x0D: float). */
	b = idx_bytes(0x0D, 3, dims, data, 18, &len);
	write_file(path, gz, b, len);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "element type 0x0d");
	free(b);

	/* A labels file where images are expected, and the reverse. */
	b = idx_bytes(0x08, 1, ldims, data, 2, &len);
	write_file(path, gz, b, len);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "1 dimensions, expected 3");
	free(b);
	b = idx_bytes(0x08, 3, dims, data, 18, &len);
	write_file(path, gz, b, len);
	expect_bad(path, 1, SAMPAN_ERROR_INVALID, "3 dimensions, expected 1");
	free(b);

	/* A zero dimension. */
	b = idx_bytes(0x08, 3, (const uint32_t[]){2, 0, 3}, data, 0, &len);
	write_file(path, gz, b, len);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "dimension 1 is 0");
	free(b);

	/* A header announcing 4e9 bytes: refused before reading on. */
	b = idx_bytes(0x08, 3, (const uint32_t[]){1000000, 65536, 65536}, data, 18, &len);
	write_file(path, gz, b, len);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "too large");
	free(b);
	/* Too many items, though few bytes each. */
	b = idx_bytes(0x08, 1, (const uint32_t[]){IDX_MAX_ITEMS + 1}, data, 18, &len);
	write_file(path, gz, b, len);
	expect_bad(path, 1, SAMPAN_ERROR_INVALID, "too large");
	free(b);

	/* Truncated: in the header, in the dimensions, in the data. */
	b = idx_bytes(0x08, 3, dims, data, 18, &len);
	write_file(path, gz, b, 3);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "truncated");
	write_file(path, gz, b, 9);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "truncated");
	write_file(path, gz, b, len - 1);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "truncated: the data has 17 of 18 bytes");
	free(b);

	/* Trailing garbage: one byte more than the header announces. */
	b = idx_bytes(0x08, 3, dims, data, 19, &len);
	write_file(path, gz, b, len);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "bytes after the 18 bytes of data");
	free(b);

	/* Empty file. */
	write_file(path, false, "", 0);
	expect_bad(path, 3, SAMPAN_ERROR_INVALID, "truncated");
}

Test(idx, bad_plain, .init = setup, .fini = cleanup)
{
	bad_files(false);
}

Test(idx, bad_gz, .init = setup, .fini = cleanup)
{
	bad_files(true);
}

/* A gzip stream cut short (its end and checksum missing). */
Test(idx, gz_stream_cut, .init = setup, .fini = cleanup)
{
	const uint32_t dims[3] = {4, 16, 16};
	uint8_t data[1024];
	size_t len;
	uint8_t *whole;
	FILE *f;

	seed_rng();
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rnd();
	write_idx(tmp("cut.gz"), true, 3, dims, data);
	f = fopen(tmp("cut.gz"), "rb");
	cr_assert_not_null(f);
	whole = malloc(4096);
	cr_assert_not_null(whole);
	len = fread(whole, 1, 4096, f);
	fclose(f);
	cr_assert_gt(len, 40);
	write_file(tmp("cut.gz"), false, whole, len / 2);
	free(whole);
	expect_bad(tmp("cut.gz"), 3, SAMPAN_ERROR_INVALID, "");
}

Test(idx, missing_and_not_regular, .init = setup, .fini = cleanup)
{
	expect_bad(tmp("nothing-here"), 3, SAMPAN_ERROR_IO, "No such file");
	expect_bad(tmpdir, 3, SAMPAN_ERROR_IO, "not a regular file");
}

Test(idx, dataset_pairs, .init = setup, .fini = cleanup)
{
	uint8_t pixels[5 * 4 * 3], labels[5] = {3, 1, 4, 1, 5};
	struct idx_dataset *ds = NULL;
	char err[ERR_SIZE];

	for (size_t i = 0; i < sizeof(pixels); i++)
		pixels[i] = (uint8_t)(255 - i);
	write_set(true, 5, 4, 3, pixels, labels);
	cr_assert_eq(
	    idx_dataset_load(tmp("images.idx.gz"), tmp("labels.idx.gz"), &ds, err, sizeof(err)),
	    SAMPAN_OK, "%s", err);
	cr_assert_eq(ds->n, 5);
	cr_assert_eq(ds->h, 4);
	cr_assert_eq(ds->w, 3);
	cr_assert_null(ds->names);
	cr_assert_arr_eq(ds->pixels, pixels, sizeof(pixels));
	cr_assert_arr_eq(ds->labels, labels, 5);
	idx_dataset_truncate(ds, 2);
	cr_assert_eq(ds->n, 2);
	idx_dataset_truncate(ds, 10);
	cr_assert_eq(ds->n, 2);
	idx_dataset_destroy(ds);

	/* Counts that disagree. */
	write_idx(tmp("labels4.idx"), false, 1, (const uint32_t[]){4}, labels);
	ds = NULL;
	cr_assert_eq(
	    idx_dataset_load(tmp("images.idx.gz"), tmp("labels4.idx"), &ds, err, sizeof(err)),
	    SAMPAN_ERROR_INVALID);
	cr_assert_null(ds);
	cr_assert(strstr(err, "has 5 images but") && strstr(err, "has 4 labels"), "%s", err);

	/* Images and labels swapped. */
	cr_assert_eq(
	    idx_dataset_load(tmp("labels4.idx"), tmp("images.idx.gz"), &ds, err, sizeof(err)),
	    SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "1 dimensions, expected 3"), "%s", err);

	/* A directory with the test-split names, one plain and one gz. */
	rename(tmp("images.idx.gz"), tmp("t10k-images-idx3-ubyte.gz"));
	write_idx(tmp("t10k-labels-idx1-ubyte"), false, 1, (const uint32_t[]){5}, labels);
	cr_assert_eq(idx_dataset_load_dir(tmpdir, &ds, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(ds->n, 5);
	cr_assert_arr_eq(ds->labels, labels, 5);
	idx_dataset_destroy(ds);
}

/* Writes a binary PGM of @h x @w pixels. */
static void write_pgm(const char *path, int h, int w, const uint8_t *px)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "P5\n%d %d\n255\n", w, h);
	uint8_t *b = malloc((size_t)n + (size_t)(h * w));

	cr_assert_not_null(b);
	memcpy(b, head, (size_t)n);
	memcpy(b + n, px, (size_t)(h * w));
	write_file(path, false, b, (size_t)n + (size_t)(h * w));
	free(b);
}

/* Appends a PNG chunk (length, type, data, CRC) to @b at @o; new @o. */
static size_t png_chunk(uint8_t *b, size_t o, const char *type, const uint8_t *data, size_t len)
{
	uLong crc;

	b[o++] = (uint8_t)(len >> 24);
	b[o++] = (uint8_t)(len >> 16);
	b[o++] = (uint8_t)(len >> 8);
	b[o++] = (uint8_t)len;
	memcpy(b + o, type, 4);
	if (len)
		memcpy(b + o + 4, data, len);
	crc = crc32(crc32(0L, Z_NULL, 0), b + o, (uInt)(len + 4));
	o += 4 + len;
	b[o++] = (uint8_t)(crc >> 24);
	b[o++] = (uint8_t)(crc >> 16);
	b[o++] = (uint8_t)(crc >> 8);
	b[o++] = (uint8_t)crc;
	return o;
}

/* Writes an 8-bit grey PNG of @h x @w pixels (filter 0 on every row). */
static void write_png(const char *path, int h, int w, const uint8_t *px)
{
	uint8_t ihdr[13] = {0, 0, 0, (uint8_t)w, 0, 0, 0, (uint8_t)h, 8, 0, 0, 0, 0};
	uint8_t raw[256], z[512], b[1024];
	uLongf zlen = sizeof(z);
	size_t o = 8;

	cr_assert_leq((size_t)(h * (w + 1)), sizeof(raw));
	for (int y = 0; y < h; y++) {
		raw[y * (w + 1)] = 0;
		memcpy(raw + y * (w + 1) + 1, px + y * w, (size_t)w);
	}
	cr_assert_eq(compress(z, &zlen, raw, (uLong)(h * (w + 1))), Z_OK);
	memcpy(b, "\x89PNG\r\n\x1a\n", 8);
	o = png_chunk(b, o, "IHDR", ihdr, sizeof(ihdr));
	o = png_chunk(b, o, "IDAT", z, zlen);
	o = png_chunk(b, o, "IEND", NULL, 0);
	write_file(path, false, b, o);
}

Test(idx, pgm_directory, .init = setup, .fini = cleanup)
{
	uint8_t px[3][6] = {
	    {1, 2, 3, 4, 5, 6}, {10, 20, 30, 40, 50, 60}, {7, 100, 200, 255, 0, 33}};
	struct idx_dataset *ds = NULL;
	char err[ERR_SIZE];

	/* Index order, not name order; other files ignored. */
	write_pgm(tmp("12_7.pgm"), 2, 3, px[0]);
	write_pgm(tmp("3_1.pgm"), 2, 3, px[1]);
	write_png(tmp("100_0.png"), 2, 3, px[2]);
	write_file(tmp("notes.txt"), false, "x", 1);
	write_file(tmp("5_x.pgm"), false, "x", 1);
	cr_assert_eq(idx_dataset_load_dir(tmpdir, &ds, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(ds->n, 3);
	cr_assert_eq(ds->h, 2);
	cr_assert_eq(ds->w, 3);
	cr_assert_str_eq(ds->names[0], "3_1.pgm");
	cr_assert_str_eq(ds->names[1], "12_7.pgm");
	cr_assert_str_eq(ds->names[2], "100_0.png");
	cr_assert_arr_eq(ds->labels, ((uint8_t[]){1, 7, 0}), 3);
	cr_assert_arr_eq(ds->pixels, px[1], 6);
	cr_assert_arr_eq(ds->pixels + 6, px[0], 6);
	cr_assert_arr_eq(ds->pixels + 12, px[2], 6);
	idx_dataset_truncate(ds, 1);
	idx_dataset_destroy(ds);

	/* An image of another size. */
	write_pgm(tmp("200_2.pgm"), 3, 2, px[0]);
	ds = NULL;
	cr_assert_eq(idx_dataset_load_dir(tmpdir, &ds, err, sizeof(err)), SAMPAN_ERROR_INVALID);
	cr_assert_null(ds);
	cr_assert(strstr(err, "200_2.pgm") && strstr(err, "a 3x2 image among 2x3"), "%s", err);

	/* A broken one. */
	remove(tmp("200_2.pgm"));
	write_file(tmp("7_3.pgm"), false, "P5\n2 3\n255\n\1", 12);
	cr_assert_neq(idx_dataset_load_dir(tmpdir, &ds, err, sizeof(err)), SAMPAN_OK);
	cr_assert(strstr(err, "7_3.pgm"), "%s", err);
}

Test(idx, empty_directory, .init = setup, .fini = cleanup)
{
	struct idx_dataset *ds = NULL;
	char err[ERR_SIZE];

	cr_assert_eq(idx_dataset_load_dir(tmpdir, &ds, err, sizeof(err)), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "no labelled images"), "%s", err);
	cr_assert_eq(idx_dataset_load_dir(tmp("absent"), &ds, err, sizeof(err)), SAMPAN_ERROR_IO);
	cr_assert_null(ds);
}

/* ------------------------------------------------- a small integer model */

/*
 * x float (1, 1, H, W) -> QuantizeLinear(1/255, uint8 0) -> Flatten ->
 * MatMulInteger(W int8 (H*W, C)) -> y int32 (1, C): the pixels times W
 * on the device, exactly, so that the class of an image is known here.
 */
struct tiny_model {
	Onnx__ModelProto model;
	Onnx__OperatorSetIdProto opset, *opsets[1];
	Onnx__GraphProto graph;
	Onnx__ValueInfoProto vi[2], *vi_ptrs[2];
	Onnx__TypeProto type[2];
	Onnx__TypeProto__Tensor tt[2];
	Onnx__TensorShapeProto shape[2];
	Onnx__TensorShapeProto__Dimension dim[2][4], *dim_ptrs[2][4];
	Onnx__TensorProto init[3], *init_ptrs[3];
	int64_t init_dims[3][2];
	Onnx__NodeProto nodes[3], *node_ptrs[3];
	char *node_in[3][3], *node_out[3][1];
	float xs;
	uint8_t xz;
};

static void tiny_value(struct tiny_model *b, int i, const char *name, int type, int ndim,
                       const int64_t *dims)
{
	onnx__value_info_proto__init(&b->vi[i]);
	onnx__type_proto__init(&b->type[i]);
	onnx__type_proto__tensor__init(&b->tt[i]);
	onnx__tensor_shape_proto__init(&b->shape[i]);
	for (int d = 0; d < ndim; d++) {
		onnx__tensor_shape_proto__dimension__init(&b->dim[i][d]);
		b->dim[i][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
		b->dim[i][d].dim_value = dims[d];
		b->dim_ptrs[i][d] = &b->dim[i][d];
	}
	b->shape[i].n_dim = (size_t)ndim;
	b->shape[i].dim = b->dim_ptrs[i];
	b->tt[i].has_elem_type = 1;
	b->tt[i].elem_type = type;
	b->tt[i].shape = &b->shape[i];
	b->type[i].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	b->type[i].tensor_type = &b->tt[i];
	b->vi[i].name = (char *)name;
	b->vi[i].type = &b->type[i];
	b->vi_ptrs[i] = &b->vi[i];
}

static void tiny_init(struct tiny_model *b, int i, const char *name, int type, int ndim, int64_t d0,
                      int64_t d1, void *data, size_t len)
{
	onnx__tensor_proto__init(&b->init[i]);
	b->init_dims[i][0] = d0;
	b->init_dims[i][1] = d1;
	b->init[i].name = (char *)name;
	b->init[i].has_data_type = 1;
	b->init[i].data_type = type;
	b->init[i].n_dims = (size_t)ndim;
	b->init[i].dims = b->init_dims[i];
	b->init[i].has_raw_data = 1;
	b->init[i].raw_data.len = len;
	b->init[i].raw_data.data = data;
	b->init_ptrs[i] = &b->init[i];
}

static void tiny_node(struct tiny_model *b, int n, const char *op, int n_in, const char *in0,
                      const char *in1, const char *in2, const char *out)
{
	Onnx__NodeProto *node = &b->nodes[n];

	onnx__node_proto__init(node);
	node->op_type = (char *)op;
	node->name = (char *)out;
	b->node_in[n][0] = (char *)in0;
	b->node_in[n][1] = (char *)in1;
	b->node_in[n][2] = (char *)in2;
	b->node_out[n][0] = (char *)out;
	node->n_input = (size_t)n_in;
	node->input = b->node_in[n];
	node->n_output = 1;
	node->output = b->node_out[n];
	b->node_ptrs[n] = node;
}

/* Writes the model with input (1, 1, @h, @w), @c classes (output declared
 * as (1, @c_declared)) and weights @w8 (h * w, c) to @path. */
static void write_tiny_model(const char *path, int h, int w, int c, int c_declared, int8_t *w8)
{
	struct tiny_model b;
	const int64_t xdims[4] = {1, 1, h, w}, ydims[2] = {1, c_declared};
	size_t len;
	uint8_t *buf;

	memset(&b, 0, sizeof(b));
	onnx__model_proto__init(&b.model);
	onnx__operator_set_id_proto__init(&b.opset);
	onnx__graph_proto__init(&b.graph);
	b.opset.domain = (char *)"";
	b.opset.has_version = 1;
	b.opset.version = 13;
	b.opsets[0] = &b.opset;
	b.model.has_ir_version = 1;
	b.model.ir_version = 8;
	b.model.n_opset_import = 1;
	b.model.opset_import = b.opsets;
	b.model.graph = &b.graph;
	b.graph.name = (char *)"tiny";
	tiny_value(&b, 0, "x", ONNX_DT_FLOAT, 4, xdims);
	tiny_value(&b, 1, "y", ONNX_DT_INT32, 2, ydims);
	b.xs = 1.0f / 255.0f;
	b.xz = 0;
	tiny_init(&b, 0, "xs", ONNX_DT_FLOAT, 0, 0, 0, &b.xs, sizeof(b.xs));
	tiny_init(&b, 1, "xz", ONNX_DT_UINT8, 0, 0, 0, &b.xz, 1);
	tiny_init(&b, 2, "w", ONNX_DT_INT8, 2, (int64_t)h * w, c, w8, (size_t)(h * w * c));
	tiny_node(&b, 0, "QuantizeLinear", 3, "x", "xs", "xz", "xq");
	tiny_node(&b, 1, "Flatten", 1, "xq", NULL, NULL, "xf");
	tiny_node(&b, 2, "MatMulInteger", 3, "xf", "w", "xz", "y");
	b.graph.n_input = 1;
	b.graph.input = &b.vi_ptrs[0];
	b.graph.n_output = 1;
	b.graph.output = &b.vi_ptrs[1];
	b.graph.n_initializer = 3;
	b.graph.initializer = b.init_ptrs;
	b.graph.n_node = 3;
	b.graph.node = b.node_ptrs;
	len = onnx__model_proto__get_packed_size(&b.model);
	buf = malloc(len);
	cr_assert_not_null(buf);
	onnx__model_proto__pack(&b.model, buf);
	write_file(path, false, buf, len);
	free(buf);
}

/* The class the tiny model gives image @px: argmax of px . W, ties low. */
static int tiny_class(const uint8_t *px, int hw, int c, const int8_t *w8)
{
	int64_t best = INT64_MIN;
	int cls = 0;

	for (int j = 0; j < c; j++) {
		int64_t s = 0;

		for (int k = 0; k < hw; k++)
			s += (int64_t)px[k] * w8[k * c + j];
		if (s > best) {
			best = s;
			cls = j;
		}
	}
	return cls;
}

/* ------------------------------------------------------------- the CLI */

/* Runs the CLI with @args (NULL-terminated). */
static int run_cli(const char *const *args, struct spawn_result *res)
{
	char *argv[40];
	int n = 0;

	argv[n++] = (char *)SAMPAN_CLI;
	for (; *args && n < 39; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	return spawn_run(argv, NULL, 110, res);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 1 << 20);

	cr_assert_not_null(f, "%s", path);
	cr_assert_not_null(buf);
	fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

#define TINY_N 24
#define TINY_H 12
#define TINY_W 10
#define TINY_C 10

/* Fixture of the tiny model: an idx set whose even images are labelled
 * with the class the model gives them and odd ones with another. */
struct tiny_fixture {
	int8_t w8[TINY_H * TINY_W * TINY_C];
	uint8_t px[TINY_N * TINY_H * TINY_W];
	uint8_t labels[TINY_N];
	int want[TINY_N];
};

static void tiny_fixture(struct tiny_fixture *f)
{
	seed_rng();
	for (size_t i = 0; i < sizeof(f->w8); i++)
		f->w8[i] = (int8_t)(rnd() % 255 - 127);
	for (size_t i = 0; i < sizeof(f->px); i++)
		f->px[i] = (uint8_t)rnd();
	for (int i = 0; i < TINY_N; i++) {
		f->want[i] =
		    tiny_class(f->px + i * TINY_H * TINY_W, TINY_H * TINY_W, TINY_C, f->w8);
		f->labels[i] = (uint8_t)(i % 2 ? (f->want[i] + 1) % TINY_C : f->want[i]);
	}
	write_tiny_model(tmp("tiny.onnx"), TINY_H, TINY_W, TINY_C, TINY_C, f->w8);
	write_set(true, TINY_N, TINY_H, TINY_W, f->px, f->labels);
}

/* The device result: predictions equal to the reference on cpu and sim
 * (so equal to each other), accuracy counted, JSON figures. */
Test(eval_cli, tiny_model_cpu_and_sim, .init = setup, .fini = cleanup)
{
	static const char *const devs[] = {"cpu", "sim"};
	struct tiny_fixture f;
	char *preds[2];

	tiny_fixture(&f);
	for (int d = 0; d < 2; d++) {
		const char *pfile = tmp(d ? "pred-sim.txt" : "pred-cpu.txt");
		const char *args[] = {"eval",
		                      tmp("tiny.onnx"),
		                      "-d",
		                      devs[d],
		                      "--images",
		                      tmp("images.idx.gz"),
		                      "--labels",
		                      tmp("labels.idx.gz"),
		                      "--predictions",
		                      pfile,
		                      "--json",
		                      NULL};
		struct spawn_result res;
		double v;
		char s[64];

		cr_assert_eq(run_cli(args, &res), 0, "%s: exit %d: %s", devs[d], res.status,
		             res.err);
		cr_assert(json_valid(res.out), "%s", res.out);
		cr_assert_eq(json_member(res.out, "device", NULL, s, sizeof(s)), 2);
		cr_assert_str_eq(s, devs[d]);
		cr_assert_eq(json_member(res.out, "images", &v, NULL, 0), 1);
		cr_assert_eq(v, TINY_N);
		cr_assert_eq(json_member(res.out, "correct", &v, NULL, 0), 1);
		cr_assert_eq(v, TINY_N / 2);
		cr_assert_eq(json_member(res.out, "accuracy", &v, NULL, 0), 1);
		cr_assert_float_eq(v, 0.5, 1e-9);
		cr_assert_eq(json_member(res.out, "gemms_per_image", &v, NULL, 0), 1);
		cr_assert_eq(v, 1);
		cr_assert_eq(json_member(res.out, "macs_per_image", &v, NULL, 0), 1);
		cr_assert_eq(v, TINY_H * TINY_W * TINY_C);
		cr_assert_eq(json_member(res.out, "cycles_per_image", &v, NULL, 0), 1);
		if (d == 1) {
			cr_assert_gt(v, 0, "sim counts cycles");
			cr_assert_eq(json_member(res.out, "utilization", &v, NULL, 0), 1);
			cr_assert(v > 0 && v <= 1, "utilization %g", v);
		} else {
			cr_assert_eq(v, 0, "the functional model has no clock");
			cr_assert(strstr(res.out, "\"utilization\": null"), "%s", res.out);
		}
		for (const char *const *k =
		         (const char *const[]){"images_per_second", "wall_seconds",
		                               "device_seconds", "host_seconds", "per_class",
		                               "confusion", "layers", "time", NULL};
		     *k; k++)
			cr_assert_neq(json_member(res.out, *k, NULL, NULL, 0), 0, "no '%s'", *k);
		/* The MatMulInteger node ran on the device, the others on the host. */
		cr_assert(strstr(res.out, "\"op\": \"MatMulInteger\",\n      \"on\": \"device\""),
		          "%s", res.out);
		cr_assert(strstr(res.out, "\"op\": \"Flatten\",\n      \"on\": \"host\""), "%s",
		          res.out);
		spawn_result_free(&res);
		preds[d] = read_text(pfile);
		char *line = preds[d];
		for (int i = 0; i < TINY_N; i++) {
			char *end;
			long p = strtol(line, &end, 10);

			cr_assert(end != line && *end == '\n', "line %d of %s", i, pfile);
			cr_assert_eq(p, f.want[i], "%s: image %d: class %ld, expected %d", devs[d],
			             i, p, f.want[i]);
			line = end + 1;
		}
		cr_assert_eq(*line, '\0', "%s: more than %d lines", pfile, TINY_N);
	}
	cr_assert_str_eq(preds[0], preds[1]);
	free(preds[0]);
	free(preds[1]);
}

/* Text report: accuracy line, per-layer table, --limit, --list. */
Test(eval_cli, text_report_and_limit, .init = setup, .fini = cleanup)
{
	struct tiny_fixture f;
	const char *args[] = {"eval",   tmp("tiny.onnx"), "-d",      "sim",
	                      "--data", tmpdir,           "--limit", "5",
	                      "--list", "--quiet",        NULL};
	struct spawn_result res;
	char line[128];

	tiny_fixture(&f);
	/* As a directory with the test-split names. */
	rename(tmp("images.idx.gz"), tmp("t10k-images-idx3-ubyte.gz"));
	rename(tmp("labels.idx.gz"), tmp("t10k-labels-idx1-ubyte.gz"));
	cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
	cr_assert(strstr(res.out, "accuracy  60.00% (3 of 5 correct)"), "%s", res.out);
	cr_assert(strstr(res.out, ": 5 of 24 images, 12x10"), "%s", res.out);
	for (int i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "image %d          class %d  label %d  %s", i,
		         f.want[i], f.labels[i], i % 2 ? "WRONG" : "ok");
		cr_assert(strstr(res.out, line), "no '%s' in\n%s", line, res.out);
	}
	cr_assert(strstr(res.out, "MatMulInteger      device     1"), "%s", res.out);
	cr_assert(strstr(res.out, "where the time goes"), "%s", res.out);
	cr_assert(strstr(res.out, "device cycles (5 of 5 jobs): array busy"), "%s", res.out);
	cr_assert_str_eq(res.err, "", "--quiet, and no tty: nothing on stderr");
	spawn_result_free(&res);
}

/* The demo model on the ten samples, float on the host: all right. */
Test(eval_cli, samples_float_model)
{
	const char *args[] = {"eval",      FLOAT_MODEL, "-d",     "cpu", "--data",
	                      SAMPLES_DIR, "--json",    "--list", NULL};
	struct spawn_result res;
	double v;

	cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
	cr_assert(json_valid(res.out), "%s", res.out);
	cr_assert_eq(json_member(res.out, "images", &v, NULL, 0), 1);
	cr_assert_eq(v, 10);
	cr_assert_eq(json_member(res.out, "correct", &v, NULL, 0), 1);
	cr_assert_eq(v, 10);
	cr_assert_eq(json_member(res.out, "classes", &v, NULL, 0), 1);
	cr_assert_eq(v, 10);
	cr_assert(strstr(res.out, "\"file\": \"19_0.pgm\""), "%s", res.out);
	cr_assert(strstr(res.out, "\"op\": \"Conv\",\n      \"on\": \"host\""), "%s", res.out);
	spawn_result_free(&res);
}

/* Expects exit @status and @needle on stderr, nothing on stdout. */
static void expect_cli_error(const char *const *args, int status, const char *needle)
{
	struct spawn_result res;
	int got = run_cli(args, &res);

	cr_assert_eq(got, status, "%s %s: exit %d, expected %d: %s", args[0], args[1], got, status,
	             res.err);
	cr_assert(strstr(res.err, needle), "stderr lacks '%s': %s", needle, res.err);
	cr_assert_str_eq(res.out, "", "stdout: %s", res.out);
	spawn_result_free(&res);
}

Test(eval_cli, errors, .init = setup, .fini = cleanup)
{
	struct tiny_fixture f;
	char im[256], lb[256];

	tiny_fixture(&f);
	snprintf(im, sizeof(im), "%s", tmp("images.idx.gz"));
	snprintf(lb, sizeof(lb), "%s", tmp("labels.idx.gz"));
	expect_cli_error((const char *[]){"eval", NULL}, 2, "no model given");
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "--images", im, NULL}, 2,
	                 "--images and --labels go together");
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "--data", tmpdir, "--images",
	                                  im, "--labels", lb, NULL},
	                 2, "not both");
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "--limit", "0", NULL}, 2,
	                 "--limit");
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "--bogus", NULL}, 2, "--bogus");
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "-d", "nodev", "--images", im,
	                                  "--labels", lb, NULL},
	                 2, "unknown device 'nodev'");
	/* A model file that is not one. */
	expect_cli_error((const char *[]){"eval", im, "--images", im, "--labels", lb, NULL}, 1, im);
	/* Images of another size than the model takes. */
	expect_cli_error(
	    (const char *[]){"eval", tmp("tiny.onnx"), "-d", "cpu", "--data", SAMPLES_DIR, NULL}, 1,
	    "the images are 28x28, which it does not take");
	/* Labels beyond the model's classes (declared 10 wide, labels to 9;
	 * a model of 7 classes). */
	uint8_t nines[TINY_N];

	memset(nines, 9, sizeof(nines));
	write_idx(tmp("nines.idx"), false, 1, (const uint32_t[]){TINY_N}, nines);
	write_tiny_model(tmp("seven.onnx"), TINY_H, TINY_W, 7, 7, f.w8);
	expect_cli_error((const char *[]){"eval", tmp("seven.onnx"), "-d", "cpu", "--images", im,
	                                  "--labels", tmp("nines.idx"), NULL},
	                 1, "has 7 classes, but image 0");
	/* An output declared 10 wide that computes 7: refused at run time,
	 * before any result. */
	write_tiny_model(tmp("liar.onnx"), TINY_H, TINY_W, 7, 10, f.w8);
	expect_cli_error((const char *[]){"eval", tmp("liar.onnx"), "-d", "cpu", "--images", im,
	                                  "--labels", lb, NULL},
	                 1, "image 0");
	/* Bad data files. */
	write_file(tmp("junk"), false, "junk", 4);
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "-d", "cpu", "--images",
	                                  tmp("junk"), "--labels", lb, NULL},
	                 1, "not an idx file");
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "-d", "cpu", "--images", lb,
	                                  "--labels", im, NULL},
	                 1, "1 dimensions, expected 3");
	expect_cli_error(
	    (const char *[]){"eval", tmp("tiny.onnx"), "-d", "cpu", "--data", tmp("nowhere"), NULL},
	    1, "nowhere");
	/* A predictions file that cannot be written. */
	expect_cli_error((const char *[]){"eval", tmp("tiny.onnx"), "-d", "cpu", "--images", im,
	                                  "--labels", lb, "--predictions", tmp("no/such/file"),
	                                  NULL},
	                 1, "no/such/file");
}

/* A device that fails during the run (the simulated USB board reset by
 * the link's fault injection): a clear error that says how far it got,
 * exit 1, no report on stdout. */
Test(eval_cli, device_failure_mid_run, .init = setup, .fini = cleanup)
{
	const char *devs[] = {"devices", NULL};
	struct tiny_fixture f;
	struct spawn_result res;
	char im[256], lb[256];
	bool have;

	cr_assert_eq(run_cli(devs, &res), 0);
	have = strstr(res.out, "\nsim-usb ") && strstr(strstr(res.out, "\nsim-usb "), " yes ");
	spawn_result_free(&res);
	if (!have)
		cr_skip_test("sim-usb is not in this build");
	tiny_fixture(&f);
	snprintf(im, sizeof(im), "%s", tmp("images.idx.gz"));
	snprintf(lb, sizeof(lb), "%s", tmp("labels.idx.gz"));
	const char *args[] = {"eval",     tmp("tiny.onnx"),
	                      "-d",       "sim-usb:faults=reset,every=3000,seed=7",
	                      "--images", im,
	                      "--labels", lb,
	                      "--json",   NULL};
	cr_assert_eq(run_cli(args, &res), 1, "exit %d: %s", res.status, res.err);
	cr_assert(strstr(res.err, "failed: ") && strstr(res.err, "reset"), "%s", res.err);
	cr_assert(strstr(res.err, "stopped after ") || strstr(res.err, "stopped at the first of"),
	          "%s", res.err);
	cr_assert_str_eq(res.out, "", "%s", res.out);
	spawn_result_free(&res);
}

/* `sampan run --profile`: the same per-layer figures for one inference. */
Test(eval_cli, run_profile, .init = setup, .fini = cleanup)
{
	struct tiny_fixture f;
	struct spawn_result res;
	char pgm[256], want[64];
	double v;

	tiny_fixture(&f);
	snprintf(pgm, sizeof(pgm), "%s", tmp("3_0.pgm"));
	write_pgm(pgm, TINY_H, TINY_W, f.px + 3 * TINY_H * TINY_W);
	const char *args[] = {"run", tmp("tiny.onnx"), "-d",     "sim", "--input",
	                      pgm,   "--profile",      "--json", NULL};
	cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
	cr_assert(json_valid(res.out), "%s", res.out);
	cr_assert_eq(json_member(res.out, "layers", NULL, NULL, 0), 3);
	cr_assert_eq(json_member(res.out, "time", NULL, NULL, 0), 3);
	cr_assert(strstr(res.out, "\"op\": \"MatMulInteger\",\n      \"on\": \"device\",\n      "
	                          "\"jobs\": 1,\n      \"macs\": 1200"),
	          "%s", res.out);
	cr_assert_eq(json_member(res.out, "cycles", &v, NULL, 0), 1);
	cr_assert_gt(v, 0);
	/* The first class listed is the top one. */
	snprintf(want, sizeof(want), "\"class\": %d,", f.want[3]);
	cr_assert(strstr(res.out, "\"class\": ") == strstr(res.out, want), "top class not %d: %s",
	          f.want[3], res.out);
	spawn_result_free(&res);

	const char *text[] = {"run", tmp("tiny.onnx"), "-d", "cpu", "--input",
	                      pgm,   "--profile",      NULL};
	cr_assert_eq(run_cli(text, &res), 0, "exit %d: %s", res.status, res.err);
	cr_assert(strstr(res.out, "per layer, per inference (cpu"), "%s", res.out);
	cr_assert(strstr(res.out, "where the time goes"), "%s", res.out);
	spawn_result_free(&res);
}

/* The demo CNN quantized by `sampan quantize` (as `make run` does): on the
 * sample images `sim` gives the same classes as `cpu`, with its int8
 * products on the device. */
Test(eval_cli, fmnist_int8_sim_matches_cpu, .init = setup, .fini = cleanup)
{
	static const char *const devs[] = {"cpu", "sim"};
	char model[256], *preds[2];
	struct spawn_result res;
	const char *q[] = {"quantize", FLOAT_MODEL, "--calib", TEST_SRCDIR "/../host/models/calib",
	                   "-o",       model,       NULL};
	double v;

	snprintf(model, sizeof(model), "%s", tmp("int8.onnx"));
	cr_assert_eq(run_cli(q, &res), 0, "quantize: exit %d: %s", res.status, res.err);
	spawn_result_free(&res);
	for (int d = 0; d < 2; d++) {
		char pfile[256];

		snprintf(pfile, sizeof(pfile), "%s", tmp(d ? "sim.txt" : "cpu.txt"));
		const char *args[] = {"eval",      model, "-d",  devs[d],  "--data",
		                      SAMPLES_DIR, "-p",  pfile, "--json", NULL};
		cr_assert_eq(run_cli(args, &res), 0, "%s: exit %d: %s", devs[d], res.status,
		             res.err);
		cr_assert_eq(json_member(res.out, "images", &v, NULL, 0), 1);
		cr_assert_eq(v, 10);
		cr_assert_eq(json_member(res.out, "gemms_per_image", &v, NULL, 0), 1);
		cr_assert_gt(v, 0, "no int8 product ran on the device");
		spawn_result_free(&res);
		preds[d] = read_text(pfile);
	}
	cr_assert_str_eq(preds[0], preds[1], "cpu:\n%s\nsim:\n%s", preds[0], preds[1]);
	cr_assert_eq(strlen(preds[0]), 20, "ten one-digit lines: %s", preds[0]);

	/* Batches of 4 (4, 4 and 2 images) on sim: the same classes, fewer
	 * device jobs per image; the class names beside the classes. */
	{
		char pfile[256], *batched;
		const char *args[] = {"eval",      model,       "-d",     "sim", "--data",
		                      SAMPLES_DIR, "--batch",   "4",      "-p",  pfile,
		                      "--labels",  LABELS_FILE, "--list", NULL};

		snprintf(pfile, sizeof(pfile), "%s", tmp("sim4.txt"));
		cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
		cr_assert(strstr(res.out,
		                 "0_9.pgm          class 9 (Ankle boot)  label 9 (Ankle boot)  ok"),
		          "%s", res.out);
		cr_assert(strstr(res.out, "per image 1.2 device jobs"), "%s", res.out);
		cr_assert(strstr(res.out, "batch 4); weights resident on the card: "), "%s",
		          res.out);
		spawn_result_free(&res);
		batched = read_text(pfile);
		cr_assert_str_eq(preds[0], batched, "batch 1:\n%s\nbatch 4:\n%s", preds[0],
		                 batched);
		free(batched);
	}
	/* `sampan run --labels`: the name beside the class. */
	{
		const char *args[] = {
		    "run",   model, "-d",       "cpu",       "--input", SAMPLES_DIR "/0_9.pgm",
		    "--top", "1",   "--labels", LABELS_FILE, NULL};

		cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
		cr_assert(strstr(res.out, "  1. class 9 (Ankle boot)  score "), "%s", res.out);
		spawn_result_free(&res);
	}
	free(preds[0]);
	free(preds[1]);
}

/* Class-name files: a name a line; an empty name, a missing file or a
 * binary file are refused, naming the file (and the line). */
Test(eval_cli, labels_files, .init = setup, .fini = cleanup)
{
	struct spawn_result res;
	static const struct {
		const char *text;
		const char *needle;
	} bad[] = {
	    {"a\n\nb\n", "line 2: empty name"},
	    {"", "no names"},
	    {"a\nb\001\000c\n", "line 2: a NUL byte"}, /* 7 bytes */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = tmp("names.txt");
		const char *args[] = {"run",      FLOAT_MODEL, "-d",
		                      "cpu",      "--input",   SAMPLES_DIR "/0_9.pgm",
		                      "--labels", path,        NULL};

		write_file(path, false, bad[i].text, i == 2 ? 7 : strlen(bad[i].text));
		cr_assert_eq(run_cli(args, &res), 1, "%zu: exit %d", i, res.status);
		cr_assert(strstr(res.err, path) && strstr(res.err, bad[i].needle), "%zu: %s", i,
		          res.err);
		spawn_result_free(&res);
	}
	{
		const char *args[] = {"run",      FLOAT_MODEL, "-d",
		                      "cpu",      "--input",   SAMPLES_DIR "/0_9.pgm",
		                      "--labels", "/no/such",  NULL};

		cr_assert_eq(run_cli(args, &res), 1);
		cr_assert(strstr(res.err, "/no/such: cannot open"), "%s", res.err);
		spawn_result_free(&res);
	}
	/* Names with CRLF line ends and blanks around them; fewer names than
	 * classes: the rest unnamed. */
	{
		const char *path = tmp("names.txt");
		const char *text = "  zero \r\none\r\ntwo";
		const char *args[] = {
		    "run",   FLOAT_MODEL, "-d",       "cpu", "--input", SAMPLES_DIR "/19_0.pgm",
		    "--top", "10",        "--labels", path,  NULL};

		write_file(path, false, text, strlen(text));
		cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
		cr_assert(strstr(res.out, "class 0 (zero)  score"), "%s", res.out);
		cr_assert(strstr(res.out, "class 9  score"), "%s", res.out);
		spawn_result_free(&res);
	}
}
