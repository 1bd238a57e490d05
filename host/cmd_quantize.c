/*
 * cmd_quantize.c - `sampan quantize`: post-training int8 quantization of a
 * float ONNX model into a standard QDQ model (host/quant/quant.h),
 * calibrated on a directory of sample inputs run on a device.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "fileio.h"
#include "input.h"
#include "onnx/onnx_model.h"
#include "quant/quant.h"

static const char quantize_help[] =
    "usage: sampan quantize MODEL.onnx --calib DIR -o OUT.onnx [options]\n"
    "\n"
    "Quantizes a float ONNX model to int8 after training and writes it as a\n"
    "standard QDQ model (QuantizeLinear/DequantizeLinear around float ops),\n"
    "which other tools open and this runtime folds onto the device:\n"
    "BatchNormalization folded into the Conv before it; Relu and Clip(0, max)\n"
    "after a Conv, Gemm or MatMul fused into its output range; weights int8\n"
    "per output channel (symmetric); biases int32; activations int8 per tensor\n"
    "(asymmetric), their ranges calibrated by running the sample inputs.\n"
    "\n"
    "      --calib DIR         calibration inputs: the .npy, .pgm and .png files\n"
    "                          of DIR, in name order (a model with one input)\n"
    "  -o, --out OUT.onnx      the quantized model (written whole or not at all;\n"
    "                          never the input file)\n"
    "  -d, --device DEV        device the calibration runs on (default: cpu)\n"
    "  -m, --method M          range of each activation: minmax (smallest to\n"
    "                          largest value seen), percentile (default), entropy\n"
    "                          (least KL divergence, TensorRT's method)\n"
    "      --percentile P      percentile method: keep P%% at either end (default\n"
    "                          99.99, from 50 to 100)\n"
    "  -n, --limit N           use the first N calibration files only\n"
    "      --pixel-max V       an image feeds a float input as pixel / V (default 255)\n"
    "      --json              print one JSON object on stdout\n"
    "  -h, --help              this help\n"
    "\n"
    "Prints the quantization parameters of every tensor (range, scale, zero\n"
    "point; weights per channel) and how many products run on the device.\n"
    "Exit status: 0 ok, 1 failure (bad model, inputs or device), 2 usage error.\n";

enum {
	OPT_HELP = 1,
	OPT_CALIB,
	OPT_OUT,
	OPT_DEVICE,
	OPT_METHOD,
	OPT_PERCENTILE,
	OPT_LIMIT,
	OPT_PIXEL_MAX,
	OPT_JSON,
};

static const struct cli_option quantize_options[] = {
    {"help", 'h', false, OPT_HELP},    {"calib", 0, true, OPT_CALIB},
    {"out", 'o', true, OPT_OUT},       {"device", 'd', true, OPT_DEVICE},
    {"method", 'm', true, OPT_METHOD}, {"percentile", 0, true, OPT_PERCENTILE},
    {"limit", 'n', true, OPT_LIMIT},   {"pixel-max", 0, true, OPT_PIXEL_MAX},
    {"json", 0, false, OPT_JSON},      {NULL, 0, false, 0},
};

/* Most calibration files read. */
#define QUANTIZE_MAX_FILES 100000

struct quantize_args {
	const char *model, *calib, *out, *device;
	enum quant_method method;
	double percentile;
	int64_t limit; /* 0: all */
	float pixel_max;
	bool json;
};

/* Returns an exit code, or -1 after printing the help. */
static int parse_args(int argc, char **argv, struct quantize_args *a)
{
	struct cli_parser p;
	const char *v;
	int id = CLI_OPT_END;

	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_arg(&p, quantize_options, &v, &a->model)) > 0) {
		switch (id) {
		case OPT_HELP:
			fputs(quantize_help, stdout);
			return -1;
		case OPT_CALIB:
			a->calib = v;
			break;
		case OPT_OUT:
			a->out = v;
			break;
		case OPT_DEVICE:
			a->device = v;
			break;
		case OPT_METHOD:
			if (!quant_method_parse(v, &a->method))
				return cli_usage_error(
				    "quantize",
				    "--method %s: expected minmax, percentile or "
				    "entropy",
				    v);
			break;
		case OPT_PERCENTILE: {
			char *end;
			double d = strtod(v, &end);

			if (end == v || *end || !(d >= 50 && d <= 100))
				return cli_usage_error("quantize",
				                       "--percentile %s: expected a number from 50 "
				                       "to 100",
				                       v);
			a->percentile = d;
			break;
		}
		case OPT_LIMIT:
			if (!cli_parse_int("quantize", "--limit", v, 1, QUANTIZE_MAX_FILES,
			                   &a->limit))
				return CLI_EXIT_USAGE;
			break;
		case OPT_PIXEL_MAX: {
			char *end;
			double d = strtod(v, &end);

			if (end == v || *end || !(d > 0 && d < 1e30))
				return cli_usage_error(
				    "quantize", "--pixel-max %s: expected a positive number", v);
			a->pixel_max = (float)d;
			break;
		}
		case OPT_JSON:
			a->json = true;
			break;
		}
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	if (!a->model)
		return cli_usage_error("quantize", "no model given");
	if (!a->calib)
		return cli_usage_error("quantize", "no --calib DIR given");
	if (!a->out)
		return cli_usage_error("quantize", "no -o OUT.onnx given");
	return CLI_EXIT_OK;
}

/* Whether @a and @b name the same existing file. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Reads a whole file of at most ONNX_MAX_FILE_BYTES; exit code. */
static int read_model_file(const char *path, void **data, size_t *len)
{
	char err[1024];
	uint8_t *buf;

	if (file_read_all(path, ONNX_MAX_FILE_BYTES, &buf, len, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	*data = buf;
	return CLI_EXIT_OK;
}

static bool has_ext(const char *name, const char *ext)
{
	size_t n = strlen(name), e = strlen(ext);

	return n > e && strcasecmp(name + n - e, ext) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The calibration files of @dir (full paths, sorted by name), at most
 * @limit (0: all); exit code. */
static int list_calib(const char *dir, int64_t limit, char ***files, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	int k = 0;

	if (!d) {
		cli_error("--calib %s: %s", dir, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	while ((e = readdir(d))) {
		char **nv;
		size_t len;

		if (e->d_name[0] == '.' ||
		    !(has_ext(e->d_name, ".npy") || has_ext(e->d_name, ".pgm") ||
		      has_ext(e->d_name, ".png")))
			continue;
		if (k == QUANTIZE_MAX_FILES) {
			cli_error("--calib %s: more than %d input files", dir, QUANTIZE_MAX_FILES);
			goto err;
		}
		nv = realloc(v, ((size_t)k + 1) * sizeof(*v));
		if (!nv)
			goto err_mem;
		v = nv;
		len = strlen(dir) + strlen(e->d_name) + 2;
		v[k] = malloc(len);
		if (!v[k])
			goto err_mem;
		snprintf(v[k++], len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (!k) {
		cli_error("--calib %s: no .npy, .pgm or .png files in it", dir);
		free(v);
		return CLI_EXIT_FAIL;
	}
	qsort(v, (size_t)k, sizeof(*v), cmp_str);
	if (limit > 0 && limit < k) {
		for (int i = (int)limit; i < k; i++)
			free(v[i]);
		k = (int)limit;
	}
	*files = v;
	*n = k;
	return CLI_EXIT_OK;
err_mem:
	cli_error("out of memory");
err:
	closedir(d);
	for (int i = 0; i < k; i++)
		free(v[i]);
	free(v);
	return CLI_EXIT_FAIL;
}

static const char *kind_name(enum quant_entry_kind k)
{
	return k == QUANT_ACT ? "activation" : k == QUANT_WEIGHT ? "weight" : "bias";
}

static void print_text(const struct quantize_args *a, const char *device, int n_samples,
                       size_t bytes, const struct quant_report *r)
{
	printf("%s -> %s: %zu bytes, opset %lld\n", a->model, a->out, bytes, (long long)r->opset);
	printf("calibration: %d input%s on %s, method %s", n_samples, n_samples == 1 ? "" : "s",
	       device, quant_method_name(a->method));
	if (a->method == QUANT_PERCENTILE)
		printf(" %g", a->percentile);
	printf("\n");
	printf("BatchNormalization folded: %d, Relu/Clip fused: %d, Q/DQ pairs: %d\n", r->bn_folded,
	       r->act_fused, r->qdq_pairs);
	printf("products on the device: %d of %d Conv/Gemm/MatMul\n", r->cores_device, r->cores);
	printf("%-10s %-36s %-25s %s\n", "kind", "tensor", "range", "scale, zero point");
	for (int i = 0; i < r->n_entries; i++) {
		const struct quant_entry *e = &r->entries[i];
		char range[64];

		snprintf(range, sizeof(range), "[%.6g, %.6g]", (double)e->lo, (double)e->hi);
		printf("%-10s %-36s %-25s ", kind_name(e->kind), e->tensor, range);
		if (e->kind == QUANT_ACT)
			printf("%.6g, %d\n", (double)e->scale, e->zero_point);
		else if (e->channels > 1)
			printf("%.6g .. %.6g over %lld channels%s\n", (double)e->scale,
			       (double)e->scale_max, (long long)e->channels,
			       e->saturated ? " (saturated)" : "");
		else
			printf("%.6g%s\n", (double)e->scale, e->saturated ? " (saturated)" : "");
	}
}

static void print_json(const struct quantize_args *a, const char *device, int n_samples,
                       size_t bytes, const struct quant_report *r)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "model", a->model);
	json_string(&j, "output", a->out);
	json_uint(&j, "bytes", bytes);
	json_int(&j, "opset", r->opset);
	json_string(&j, "device", device);
	json_string(&j, "method", quant_method_name(a->method));
	if (a->method == QUANT_PERCENTILE)
		json_double(&j, "percentile", a->percentile);
	else
		json_null(&j, "percentile");
	json_int(&j, "calibration_inputs", n_samples);
	json_int(&j, "bn_folded", r->bn_folded);
	json_int(&j, "activations_fused", r->act_fused);
	json_int(&j, "qdq_pairs", r->qdq_pairs);
	json_int(&j, "products", r->cores);
	json_int(&j, "products_on_device", r->cores_device);
	json_array_begin(&j, "tensors");
	for (int i = 0; i < r->n_entries; i++) {
		const struct quant_entry *e = &r->entries[i];

		json_object_begin(&j, NULL);
		json_string(&j, "kind", kind_name(e->kind));
		json_string(&j, "tensor", e->tensor);
		json_string(&j, "node", e->node);
		json_double(&j, "min", e->lo);
		json_double(&j, "max", e->hi);
		json_double(&j, "scale", e->scale);
		if (e->kind == QUANT_ACT) {
			json_int(&j, "zero_point", e->zero_point);
		} else {
			json_double(&j, "scale_max", e->scale_max);
			json_int(&j, "channels", e->channels);
		}
		if (e->kind == QUANT_BIAS)
			json_bool(&j, "saturated", e->saturated);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

/* Reads calibration file @path for the model's one input and runs it for
 * pass @pass; exit code. */
static int calib_one(const struct quantize_args *a, const struct onnx_model *m,
                     struct quant_calib *cal, struct sampan_device *dev, int pass, const char *path)
{
	const struct onnx_value *decl = &m->values[m->inputs[0]];
	struct onnx_tensor *t = NULL;
	char err[1024];

	if (input_read(path, decl, a->pixel_max > 0 ? a->pixel_max : 255.0f, &t, err,
	               sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (!onnx_value_matches(decl, t)) {
		char want[128], got[128];

		cli_error(
		    "%s: a %s %s tensor, but input '%s' of %s is %s %s", path,
		    onnx_dtype_name(t->dtype), onnx_shape_str(t->ndim, t->dims, got, sizeof(got)),
		    decl->name, a->model, onnx_dtype_name(decl->dtype),
		    decl->ndim < 0 ? "(any shape)"
		                   : onnx_shape_str(decl->ndim, decl->dims, want, sizeof(want)));
		onnx_tensor_destroy(t);
		return CLI_EXIT_FAIL;
	}
	if (quant_calib_run(cal, dev, pass, &t, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s: calibration input %s: %s", a->model, path, err);
		onnx_tensor_destroy(t);
		return CLI_EXIT_FAIL;
	}
	onnx_tensor_destroy(t);
	return CLI_EXIT_OK;
}

int cmd_quantize(int argc, char **argv)
{
	struct quantize_args a = {.method = QUANT_PERCENTILE, .percentile = 99.99};
	struct onnx_model *m = NULL;
	struct quant_calib *cal = NULL;
	struct quant_report *rep = NULL;
	struct sampan_device *dev = NULL;
	struct sampan_info info;
	struct quant_options opt;
	char **files = NULL;
	int n_files = 0, ret;
	void *data = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	char err[1024];

	ret = parse_args(argc, argv, &a);
	if (ret)
		return ret < 0 ? CLI_EXIT_OK : ret;
	if (same_file(a.model, a.out))
		return cli_usage_error("quantize", "-o %s is the input model; name a new file",
		                       a.out);
	ret = read_model_file(a.model, &data, &len);
	if (ret)
		return ret;
	ret = CLI_EXIT_FAIL;
	if (onnx_model_load_buffer(data, len, a.model, &m, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		goto out;
	}
	if (m->n_inputs != 1) {
		cli_error("%s: %d graph inputs; calibration from a directory needs a model with "
		          "exactly one",
		          a.model, m->n_inputs);
		goto out;
	}
	if (m->values[m->inputs[0]].dtype != ONNX_DT_FLOAT) {
		cli_error("%s: graph input '%s' is %s, not float: nothing to calibrate", a.model,
		          m->values[m->inputs[0]].name,
		          onnx_dtype_name(m->values[m->inputs[0]].dtype));
		goto out;
	}
	if (list_calib(a.calib, a.limit, &files, &n_files))
		goto out;
	ret = cli_open_device(a.device ? a.device : "cpu", &dev, &info);
	if (ret)
		goto out;
	ret = CLI_EXIT_FAIL;
	if (quant_calib_create(m, &cal) != SAMPAN_OK) {
		cli_error("out of memory");
		goto out;
	}
	/* The files are read again for each pass: a large set needs no more
	 * memory than one input. */
	for (int pass = 1; pass <= (a.method == QUANT_MINMAX ? 1 : 2); pass++)
		for (int i = 0; i < n_files; i++)
			if (calib_one(&a, m, cal, dev, pass, files[i]))
				goto out;
	opt = (struct quant_options){.method = a.method, .percentile = a.percentile};
	if (quant_model(data, len, a.model, m, cal, &opt, &out, &out_len, &rep, err, sizeof(err)) !=
	    SAMPAN_OK) {
		cli_error("%s", err);
		goto out;
	}
	if (quant_write_file(a.out, out, out_len, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		goto out;
	}
	for (int i = 0; i < rep->n_entries; i++)
		if (rep->entries[i].saturated)
			cli_error("warning: bias '%s' of node '%s' does not fit in int32 at its "
			          "scale: saturated",
			          rep->entries[i].tensor, rep->entries[i].node);
	if (a.json)
		print_json(&a, info.name, n_files, out_len, rep);
	else
		print_text(&a, info.name, n_files, out_len, rep);
	ret = CLI_EXIT_OK;
out:
	quant_report_destroy(rep);
	free(out);
	quant_calib_destroy(cal);
	sampan_close(dev);
	for (int i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	onnx_model_destroy(m);
	free(data);
	return ret;
}
