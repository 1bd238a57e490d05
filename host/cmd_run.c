/*
 * cmd_run.c - `sampan run`: one inference of an ONNX model on a device,
 * inputs from .npy files or PGM images, the output tensor to a .npy file,
 * the top classes on stdout.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"
#include "input.h"
#include "data/labels.h"
#include "data/profile.h"
#include "onnx/onnx_model.h"
#include "runtime/runtime.h"

static const char run_help[] =
    "usage: sampan run MODEL.onnx [-d DEV] [--input [NAME=]FILE]... [options]\n"
    "\n"
    "Runs an ONNX model once on a device: the int8 products (QLinearMatMul,\n"
    "MatMulInteger, QLinearConv, ConvInteger, and QDQ Conv/MatMul/Gemm folded\n"
    "into them) on the array, the rest on the host. A model with an op this\n"
    "runtime does not execute is refused before anything runs, naming the op.\n"
    "\n"
    "  -d, --device DEV        device to use (default: sim); see 'sampan devices'\n"
    "  -i, --input [NAME=]FILE a graph input as .npy (uint8, int8, int32 or\n"
    "                          float32, of the type the model declares) or as an\n"
    "                          image (PGM P5 8/16-bit, PNG); once per input, in\n"
    "                          the model's order or by NAME. A .npy with N in\n"
    "                          the leading dimension where the model declares 1\n"
    "                          is a batch: the N images run as one (M = N rows\n"
    "                          per device product)\n"
    "      --pixel-max V       an image feeds a float input as pixel / V\n"
    "                          (default 255: pixels in [0, 1]); uint8 inputs\n"
    "                          get the pixels as they are\n"
    "  -k, --top K             print the K highest scores of the first output,\n"
    "                          per image of a batch (default 5 when an input is\n"
    "                          an image, else 0)\n"
    "      --labels FILE       class names, one a line (line N names class N),\n"
    "                          printed beside the class numbers\n"
    "  -o, --out FILE          write the (first) output tensor to a .npy file,\n"
    "                          with its ONNX element type and shape\n"
    "      --profile           print per layer (node) where it ran, device jobs,\n"
    "                          MACs, cycles, utilization and wall time, and where\n"
    "                          the time went (with --json: \"layers\" and \"time\")\n"
    "      --json              print one JSON object on stdout\n"
    "  -h, --help              this help\n"
    "\n"
    "Prints each output's type and shape and the device figures: GEMM jobs,\n"
    "cycles, MACs, utilization, bytes moved between host and card (the layers'\n"
    "weights stay on the card: uploaded once, counted apart).\n"
    "Exit status: 0 ok, 1 failure (bad model, input or device), 2 usage error.\n";

enum {
	OPT_HELP = 1,
	OPT_DEVICE,
	OPT_INPUT,
	OPT_OUT,
	OPT_JSON,
	OPT_PIXEL_MAX,
	OPT_TOP,
	OPT_PROFILE,
	OPT_LABELS
};

static const struct cli_option run_options[] = {
    {"help", 'h', false, OPT_HELP},  {"device", 'd', true, OPT_DEVICE},
    {"input", 'i', true, OPT_INPUT}, {"out", 'o', true, OPT_OUT},
    {"json", 0, false, OPT_JSON},    {"pixel-max", 0, true, OPT_PIXEL_MAX},
    {"top", 'k', true, OPT_TOP},     {"profile", 0, false, OPT_PROFILE},
    {"labels", 0, true, OPT_LABELS}, {NULL, 0, false, 0},
};

/* Most classes --top prints. */
#define RUN_MAX_TOP 100

#define RUN_MAX_INPUTS 16

struct run_args {
	const char *model;
	const char *device;
	const char *inputs[RUN_MAX_INPUTS];
	int n_inputs;
	const char *out;
	const char *labels;
	bool json;
	bool profile;
	float pixel_max; /* 0: not given (255) */
	int top;         /* -1: not given */
};

/* Returns an exit code, or -1 after printing the help. */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	struct cli_parser p;
	const char *v;
	int id = CLI_OPT_END;

	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_arg(&p, run_options, &v, &a->model)) > 0) {
		switch (id) {
		case OPT_HELP:
			fputs(run_help, stdout);
			return -1;
		case OPT_DEVICE:
			a->device = v;
			break;
		case OPT_INPUT:
			if (a->n_inputs == RUN_MAX_INPUTS)
				return cli_usage_error("run", "more than %d --input",
				                       RUN_MAX_INPUTS);
			a->inputs[a->n_inputs++] = v;
			break;
		case OPT_OUT:
			a->out = v;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_PROFILE:
			a->profile = true;
			break;
		case OPT_LABELS:
			a->labels = v;
			break;
		case OPT_PIXEL_MAX: {
			char *end;
			double d = strtod(v, &end);

			if (end == v || *end || !(d > 0 && d < 1e30))
				return cli_usage_error("run",
				                       "--pixel-max %s: expected a positive "
				                       "number",
				                       v);
			a->pixel_max = (float)d;
			break;
		}
		case OPT_TOP: {
			char *end;
			long k = strtol(v, &end, 10);

			if (end == v || *end || k < 0 || k > RUN_MAX_TOP)
				return cli_usage_error("run", "--top %s: expected 0 to %d", v,
				                       RUN_MAX_TOP);
			a->top = (int)k;
			break;
		}
		}
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	if (!a->model)
		return cli_usage_error("run", "no model given");
	return CLI_EXIT_OK;
}

/* Reads one .npy file or image, for graph input @decl, into a tensor;
 * exit code. */
static int read_input(const char *path, const struct onnx_value *decl, const struct run_args *a,
                      struct onnx_tensor **t)
{
	char err[512];

	if (input_read(path, decl, a->pixel_max > 0 ? a->pixel_max : 255.0f, t, err, sizeof(err)) !=
	    SAMPAN_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* Lists the model's inputs on stderr, for usage errors. */
static void list_inputs(const struct onnx_model *m)
{
	char shape[128];

	for (int i = 0; i < m->n_inputs; i++) {
		const struct onnx_value *v = &m->values[m->inputs[i]];

		fprintf(stderr, "  input %d: %s, %s %s\n", i, v->name, onnx_dtype_name(v->dtype),
		        v->ndim < 0 ? "(any shape)"
		                    : onnx_shape_str(v->ndim, v->dims, shape, sizeof(shape)));
	}
}

/* Matches the --input arguments to the model's inputs: NAME=FILE by name
 * (when NAME is one of them), the others in order. Fills @files; returns
 * an exit code. */
static int bind_inputs(const struct onnx_model *m, const struct run_args *a, const char **files)
{
	int next = 0;

	for (int i = 0; i < a->n_inputs; i++) {
		const char *arg = a->inputs[i], *eq = strchr(arg, '=');
		int slot = -1;

		for (int j = 0; eq && j < m->n_inputs; j++) {
			const char *name = m->values[m->inputs[j]].name;

			if (strlen(name) == (size_t)(eq - arg) &&
			    strncmp(name, arg, (size_t)(eq - arg)) == 0)
				slot = j;
		}
		if (slot >= 0) {
			arg = eq + 1;
		} else {
			while (next < m->n_inputs && files[next])
				next++;
			slot = next;
		}
		if (slot >= m->n_inputs || files[slot]) {
			cli_usage_error("run",
			                "%s: the model has %d input%s, --input '%s' is one too "
			                "many or names one twice",
			                m->path, m->n_inputs, m->n_inputs == 1 ? "" : "s",
			                a->inputs[i]);
			list_inputs(m);
			return CLI_EXIT_USAGE;
		}
		files[slot] = arg;
	}
	for (int j = 0; j < m->n_inputs; j++) {
		if (!files[j]) {
			cli_usage_error("run", "%s: no --input for graph input '%s'", m->path,
			                m->values[m->inputs[j]].name);
			list_inputs(m);
			return CLI_EXIT_USAGE;
		}
	}
	return CLI_EXIT_OK;
}

/* Writes @t to a .npy file; exit code. */
static int write_output(const char *path, const struct onnx_tensor *t)
{
	enum npy_dtype d;
	char err[512];

	switch (t->dtype) {
	case ONNX_DT_INT8:
		d = NPY_INT8;
		break;
	case ONNX_DT_UINT8:
		d = NPY_UINT8;
		break;
	case ONNX_DT_INT32:
		d = NPY_INT32;
		break;
	case ONNX_DT_FLOAT:
		d = NPY_FLOAT32;
		break;
	default:
		cli_error("%s: cannot write a %s tensor as .npy", path, onnx_dtype_name(t->dtype));
		return CLI_EXIT_FAIL;
	}
	if (npy_write(path, d, t->ndim, t->dims, t->data, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* One of the highest scores. */
struct top_entry {
	int64_t cls;
	double score;
};

/* The @k highest scores of row @row of @t (rows along its last
 * dimension), highest first, ties to the lower class; returns how many
 * there are. */
static int top_k(const struct onnx_tensor *t, int64_t row, int k, struct top_entry *top)
{
	int64_t n = t->ndim ? t->dims[t->ndim - 1] : 1;
	int have = 0;

	for (int64_t c = 0; c < n; c++) {
		double s = onnx_tensor_f64(t, (size_t)(row * n + c));
		int pos = have;

		while (pos > 0 && s > top[pos - 1].score)
			pos--;
		if (pos >= k)
			continue;
		if (have < k)
			have++;
		memmove(&top[pos + 1], &top[pos], (size_t)(have - 1 - pos) * sizeof(*top));
		top[pos] = (struct top_entry){.cls = c, .score = s};
	}
	return have;
}

/* Rows of scores in @t: one per image of the batch. */
static int64_t score_rows(const struct onnx_tensor *t)
{
	int64_t n = t->ndim ? t->dims[t->ndim - 1] : 1;

	return (int64_t)t->count / n;
}

/* The top @k of row @row of @t as a JSON array (named @key). */
static void json_top(struct json *j, const char *key, const struct onnx_tensor *t, int64_t row,
                     int k, const struct labels *labels)
{
	struct top_entry top[RUN_MAX_TOP];
	int n_top = top_k(t, row, k, top);

	json_array_begin(j, key);
	for (int i = 0; i < n_top; i++) {
		const char *name = labels_name(labels, top[i].cls);

		json_object_begin(j, NULL);
		json_int(j, "class", top[i].cls);
		if (name)
			json_string(j, "label", name);
		json_double(j, "score", top[i].score);
		json_object_end(j);
	}
	json_array_end(j);
}

static void print_result(const struct run_args *a, const struct onnx_model *m,
                         const struct sampan_info *info, struct onnx_tensor **outs,
                         const struct rt_stats *st, const struct profile *prof,
                         const struct labels *labels, uint64_t weight_bytes)
{
	struct top_entry top[RUN_MAX_TOP];
	int64_t rows = a->top > 0 ? score_rows(outs[0]) : 0;
	double util =
	    st->cycles ? (double)st->macs / ((double)st->cycles * info->rows * info->cols) : 0;
	int64_t batch = st->batch > 0 ? st->batch : 1;
	char shape[128];

	if (!a->json) {
		for (int o = 0; o < m->n_outputs; o++)
			printf("output %s: %s %s\n", m->values[m->outputs[o]].name,
			       onnx_dtype_name(outs[o]->dtype),
			       onnx_shape_str(outs[o]->ndim, outs[o]->dims, shape, sizeof(shape)));
		printf("device %s: %llu GEMM jobs, %llu MACs, %llu cycles, utilization %.1f%%\n",
		       info->name, (unsigned long long)st->gemms, (unsigned long long)st->macs,
		       (unsigned long long)st->cycles, 100.0 * util);
		printf("moved: %llu bytes to the card, %llu back (%.0f per image, batch %lld); "
		       "weights resident: %llu bytes\n",
		       (unsigned long long)st->host_bytes_in,
		       (unsigned long long)st->host_bytes_out,
		       (double)(st->host_bytes_in + st->host_bytes_out) / (double)batch,
		       (long long)batch, (unsigned long long)weight_bytes);
		printf("time: %.3f s (device %.3f s)\n", st->total_seconds, st->device_seconds);
		for (int64_t r = 0; r < rows; r++) {
			int n_top = top_k(outs[0], r, a->top, top);

			if (rows > 1)
				printf("image %lld: top %d of output %s:\n", (long long)r, n_top,
				       m->values[m->outputs[0]].name);
			else
				printf("top %d of output %s:\n", n_top,
				       m->values[m->outputs[0]].name);
			for (int i = 0; i < n_top; i++) {
				const char *name = labels_name(labels, top[i].cls);

				printf("  %d. class %lld%s%s%s  score %.6g\n", i + 1,
				       (long long)top[i].cls, name ? " (" : "", name ? name : "",
				       name ? ")" : "", top[i].score);
			}
		}
		if (prof)
			profile_print(prof, info, stdout);
		return;
	}
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "model", m->path);
	json_string(&j, "device", info->name);
	json_int(&j, "opset", m->opset);
	json_int(&j, "nodes", m->n_nodes);
	json_array_begin(&j, "outputs");
	for (int o = 0; o < m->n_outputs; o++) {
		json_object_begin(&j, NULL);
		json_string(&j, "name", m->values[m->outputs[o]].name);
		json_string(&j, "dtype", onnx_dtype_name(outs[o]->dtype));
		json_array_begin(&j, "shape");
		for (int d = 0; d < outs[o]->ndim; d++)
			json_int(&j, NULL, outs[o]->dims[d]);
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_int(&j, "batch", batch);
	json_uint(&j, "gemms", st->gemms);
	json_uint(&j, "macs", st->macs);
	json_uint(&j, "cycles", st->cycles);
	json_double(&j, "utilization", util);
	json_uint(&j, "host_bytes_in", st->host_bytes_in);
	json_uint(&j, "host_bytes_out", st->host_bytes_out);
	json_double(&j, "bytes_per_image",
	            (double)(st->host_bytes_in + st->host_bytes_out) / (double)batch);
	json_uint(&j, "weight_bytes", weight_bytes);
	json_double(&j, "device_seconds", st->device_seconds);
	json_double(&j, "wall_seconds", st->total_seconds);
	/* "top": the first image's; with a batch, "images": each one's. */
	if (rows > 0)
		json_top(&j, "top", outs[0], 0, a->top, labels);
	if (rows > 1) {
		json_array_begin(&j, "images");
		for (int64_t r = 0; r < rows; r++)
			json_top(&j, NULL, outs[0], r, a->top, labels);
		json_array_end(&j);
	}
	if (prof)
		profile_json(prof, info, &j);
	json_object_end(&j);
	json_finish(&j);
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = {.top = -1};
	struct onnx_model *m = NULL;
	struct onnx_tensor *ins[RUN_MAX_INPUTS] = {0}, **outs = NULL;
	const char *files[RUN_MAX_INPUTS] = {0};
	struct sampan_device *dev = NULL;
	struct sampan_info info;
	struct rt_stats st;
	struct profile *prof = NULL;
	struct rt_session *sess = NULL;
	struct labels *labels = NULL;
	struct rt_hooks hooks;
	char err[1024];
	int ret;

	ret = parse_args(argc, argv, &a);
	if (ret)
		return ret < 0 ? CLI_EXIT_OK : ret;
	if (a.labels && labels_read(a.labels, &labels, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (onnx_model_load(a.model, &m, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		labels_destroy(labels);
		return CLI_EXIT_FAIL;
	}
	if (m->n_inputs > RUN_MAX_INPUTS) {
		cli_error("%s: %d graph inputs, at most %d are supported", a.model, m->n_inputs,
		          RUN_MAX_INPUTS);
		ret = CLI_EXIT_FAIL;
		goto out_model;
	}
	ret = bind_inputs(m, &a, files);
	if (ret)
		goto out_model;
	for (int i = 0; i < m->n_inputs; i++) {
		ret = read_input(files[i], &m->values[m->inputs[i]], &a, &ins[i]);
		if (ret)
			goto out_inputs;
		if (a.top < 0 && input_is_image(files[i]))
			a.top = 5;
	}
	outs = calloc((size_t)m->n_outputs, sizeof(*outs));
	if (!outs) {
		cli_error("out of memory");
		ret = CLI_EXIT_FAIL;
		goto out_inputs;
	}
	ret = cli_open_device(a.device, &dev, &info);
	if (ret)
		goto out_inputs;
	if (a.profile) {
		if (profile_create(m, dev, &prof) != SAMPAN_OK) {
			cli_error("out of memory");
			ret = CLI_EXIT_FAIL;
			goto out_close;
		}
		profile_hooks(prof, &hooks);
	}
	if (rt_session_create(m, dev, &sess, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s: %s", a.model, err);
		ret = CLI_EXIT_FAIL;
		goto out_close;
	}
	rt_session_set_batch(sess, 1);
	if (rt_session_run(sess, ins, outs, &st, prof ? &hooks : NULL, err, sizeof(err)) !=
	    SAMPAN_OK) {
		cli_error("%s: %s", a.model, err);
		ret = CLI_EXIT_FAIL;
		goto out_close;
	}
	if (a.out) {
		ret = write_output(a.out, outs[0]);
		if (ret)
			goto out_outputs;
	}
	if (prof)
		profile_add_run(prof, &st);
	print_result(&a, m, &info, outs, &st, prof, labels, rt_session_weight_bytes(sess));
out_outputs:
	for (int o = 0; o < m->n_outputs; o++)
		onnx_tensor_destroy(outs[o]);
out_close:
	rt_session_destroy(sess);
	profile_destroy(prof);
	sampan_close(dev);
out_inputs:
	free(outs);
	for (int i = 0; i < m->n_inputs; i++)
		onnx_tensor_destroy(ins[i]);
out_model:
	labels_destroy(labels);
	onnx_model_destroy(m);
	return ret;
}
