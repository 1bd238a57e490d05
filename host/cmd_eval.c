/*
 * cmd_eval.c - `sampan eval`: accuracy, speed and per-layer device figures
 * of a classifier on a labelled image set (by default the Fashion-MNIST
 * test split of Debian's dataset-fashion-mnist).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data/idx.h"
#include "data/labels.h"
#include "data/profile.h"
#include "onnx/onnx_model.h"
#include "runtime/runtime.h"

#define EVAL_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define EVAL_IMAGES EVAL_DATA_DIR "/t10k-images-idx3-ubyte.gz"
#define EVAL_LABELS EVAL_DATA_DIR "/t10k-labels-idx1-ubyte.gz"
/* Most classes of a model evaluated (idx labels are bytes). */
#define EVAL_MAX_CLASSES 256

static const char eval_help[] =
    "usage: sampan eval MODEL.onnx [-d DEV] [--data DIR | --images F --labels F] [options]\n"
    "\n"
    "Classifies a labelled image set with an ONNX model on a device and prints\n"
    "the accuracy, the speed, the device cycles and array utilization per image,\n"
    "and per layer where it ran and what it cost. The class of an image is the\n"
    "highest score of the model's first output (one score per class).\n"
    "\n"
    "  -d, --device DEV        device to use (default: sim); see 'sampan devices'\n"
    "      --data DIR          a directory holding t10k-images-idx3-ubyte[.gz] and\n"
    "                          t10k-labels-idx1-ubyte[.gz], or images named\n"
    "                          <index>_<label>.pgm or .png (as host/models/samples)\n"
    "      --images F          an idx images file (gzip or plain), with --labels\n"
    "      --labels F          its idx labels file (told by its content: gzip or\n"
    "                          idx), or class names, one a line (line N names\n"
    "                          class N), printed beside the class numbers; may be\n"
    "                          given twice, once of each kind\n"
    "                          (default data: the Fashion-MNIST test split,\n"
    "                          " EVAL_DATA_DIR ")\n"
    "  -n, --limit N           only the first N images\n"
    "  -b, --batch N           N images per run (default 1): each device product\n"
    "                          of the model gets N times the rows, the figures\n"
    "                          stay per image; the model must batch (a leading\n"
    "                          dimension of 1 on its input and outputs)\n"
    "      --pixel-max V       a float input gets pixel / V (default 255); a uint8\n"
    "                          input gets the pixels as they are\n"
    "  -p, --predictions FILE  write the predicted class of each image, one a line\n"
    "  -l, --list              print each image's class and label\n"
    "  -q, --quiet             no progress on stderr\n"
    "      --json              print one JSON object on stdout\n"
    "  -h, --help              this help\n"
    "\n"
    "Progress goes to stderr: a bar on a terminal, a line every 10% otherwise\n"
    "(for sets of 500 images or more).\n"
    "Exit status: 0 ok, 1 failure (bad model, data or device), 2 usage error.\n";

enum {
	OPT_HELP = 1,
	OPT_DEVICE,
	OPT_DATA,
	OPT_IMAGES,
	OPT_LABELS,
	OPT_LIMIT,
	OPT_PIXEL_MAX,
	OPT_PREDICTIONS,
	OPT_LIST,
	OPT_QUIET,
	OPT_JSON,
	OPT_BATCH,
};

static const struct cli_option eval_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"device", 'd', true, OPT_DEVICE},
    {"data", 0, true, OPT_DATA},
    {"images", 0, true, OPT_IMAGES},
    {"labels", 0, true, OPT_LABELS},
    {"limit", 'n', true, OPT_LIMIT},
    {"pixel-max", 0, true, OPT_PIXEL_MAX},
    {"predictions", 'p', true, OPT_PREDICTIONS},
    {"list", 'l', false, OPT_LIST},
    {"quiet", 'q', false, OPT_QUIET},
    {"json", 0, false, OPT_JSON},
    {"batch", 'b', true, OPT_BATCH},
    {NULL, 0, false, 0},
};

struct eval_args {
	const char *model;
	const char *device;
	const char *data, *images, *labels;
	const char *names; /* class names file */
	int64_t limit;     /* 0: all */
	int64_t batch;     /* 0: 1 */
	float pixel_max;
	const char *predictions;
	bool list, quiet, json;
};

/* Whether @path begins with the gzip or the idx magic (an unreadable file
 * counts as idx, so that the idx reader reports it). */
static bool is_idx_or_gzip(const char *path)
{
	unsigned char b[4] = {0};
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return true;
	n = fread(b, 1, sizeof(b), f);
	fclose(f);
	return (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) ||
	       (n == 4 && b[0] == 0 && b[1] == 0 && b[2] == 8);
}

/* Returns an exit code, or -1 after printing the help. */
static int parse_args(int argc, char **argv, struct eval_args *a)
{
	struct cli_parser p;
	const char *v;
	int id = CLI_OPT_END;

	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_arg(&p, eval_options, &v, &a->model)) > 0) {
		switch (id) {
		case OPT_HELP:
			fputs(eval_help, stdout);
			return -1;
		case OPT_DEVICE:
			a->device = v;
			break;
		case OPT_DATA:
			a->data = v;
			break;
		case OPT_IMAGES:
			a->images = v;
			break;
		case OPT_LABELS:
			/* An idx labels file starts with gzip's or idx's magic
			 * (0x1f 0x8b, 0 0 8 1), never with text. */
			if (is_idx_or_gzip(v)) {
				if (a->labels)
					return cli_usage_error("eval", "two idx --labels files");
				a->labels = v;
			} else {
				if (a->names)
					return cli_usage_error("eval", "two --labels name files");
				a->names = v;
			}
			break;
		case OPT_BATCH:
			if (!cli_parse_int("eval", "--batch", v, 1, 4096, &a->batch))
				return CLI_EXIT_USAGE;
			break;
		case OPT_LIMIT:
			if (!cli_parse_int("eval", "--limit", v, 1, IDX_MAX_ITEMS, &a->limit))
				return CLI_EXIT_USAGE;
			break;
		case OPT_PIXEL_MAX: {
			char *end;
			double d = strtod(v, &end);

			if (end == v || *end || !(d > 0 && d < 1e30))
				return cli_usage_error(
				    "eval", "--pixel-max %s: expected a positive number", v);
			a->pixel_max = (float)d;
			break;
		}
		case OPT_PREDICTIONS:
			a->predictions = v;
			break;
		case OPT_LIST:
			a->list = true;
			break;
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		}
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	if (!a->model)
		return cli_usage_error("eval", "no model given");
	if (!a->images != !a->labels)
		return cli_usage_error("eval", "--images and --labels go together");
	if (a->data && a->images)
		return cli_usage_error("eval", "--data or --images/--labels, not both");
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------- the model */

/* What eval needs of the model, checked before anything runs. */
struct eval_model {
	const struct onnx_value *in, *out;
	int ndim;
	int64_t dims[ONNX_MAX_DIMS]; /* of the input tensor fed */
	int64_t classes;             /* 0: known after the first run */
};

/* Checks that @m takes one @h x @w grey image (float or uint8, every
 * dimension but the last two 1) and that its first output, if declared,
 * is one score per class. Exit code. */
static int check_model(const struct onnx_model *m, const struct idx_dataset *ds,
                       struct eval_model *em)
{
	char shape[128];

	if (m->n_inputs != 1) {
		cli_error("%s: %d graph inputs; eval feeds models with one image input", m->path,
		          m->n_inputs);
		return CLI_EXIT_FAIL;
	}
	if (m->n_outputs < 1) {
		cli_error("%s: no graph output", m->path);
		return CLI_EXIT_FAIL;
	}
	em->in = &m->values[m->inputs[0]];
	em->out = &m->values[m->outputs[0]];
	if (em->in->dtype != ONNX_DT_FLOAT && em->in->dtype != ONNX_DT_UINT8) {
		cli_error("%s: input '%s' is %s; eval feeds images to float or uint8 inputs",
		          m->path, em->in->name, onnx_dtype_name(em->in->dtype));
		return CLI_EXIT_FAIL;
	}
	if (em->in->ndim < 0) {
		em->ndim = 4;
		em->dims[0] = em->dims[1] = 1;
		em->dims[2] = ds->h;
		em->dims[3] = ds->w;
	} else {
		const int64_t *d = em->in->dims;
		int nd = em->in->ndim;
		bool ok = nd >= 2 && (d[nd - 2] < 0 || d[nd - 2] == ds->h) &&
		          (d[nd - 1] < 0 || d[nd - 1] == ds->w);

		for (int i = 0; ok && i < nd - 2; i++)
			ok = d[i] <= 1;
		if (!ok) {
			cli_error("%s: input '%s' is %s; the images are %ux%u, which it does not "
			          "take (it must end in (%u, %u), the other dimensions 1)",
			          m->path, em->in->name,
			          onnx_shape_str(nd, d, shape, sizeof(shape)), ds->h, ds->w, ds->h,
			          ds->w);
			return CLI_EXIT_FAIL;
		}
		em->ndim = nd;
		for (int i = 0; i < nd - 2; i++)
			em->dims[i] = 1;
		em->dims[nd - 2] = ds->h;
		em->dims[nd - 1] = ds->w;
	}
	if (em->out->ndim > 0 && em->out->dims[em->out->ndim - 1] > 0)
		em->classes = em->out->dims[em->out->ndim - 1];
	return CLI_EXIT_OK;
}

/* Checks the number of classes against the labels: exit code. */
static int check_classes(const struct onnx_model *m, const struct eval_model *em,
                         const struct idx_dataset *ds)
{
	size_t worst = 0;

	for (size_t i = 1; i < ds->n; i++)
		if (ds->labels[i] > ds->labels[worst])
			worst = i;
	if (em->classes < 2 || em->classes > EVAL_MAX_CLASSES) {
		cli_error("%s: output '%s' has %lld scores per image; eval needs a classifier of "
		          "2 to %d classes",
		          m->path, em->out->name, (long long)em->classes, EVAL_MAX_CLASSES);
		return CLI_EXIT_FAIL;
	}
	if (ds->labels[worst] >= em->classes) {
		cli_error("%s: output '%s' has %lld classes, but image %zu of %s has label %u",
		          m->path, em->out->name, (long long)em->classes, worst, ds->source,
		          ds->labels[worst]);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* Writes image @i of @ds into slot @slot of the batch @t (the model's
 * input). */
static void fill_input(struct onnx_tensor *t, size_t slot, const struct idx_dataset *ds, size_t i,
                       float pmax)
{
	size_t size = (size_t)ds->h * ds->w;
	const uint8_t *px = ds->pixels + i * size;

	if (t->dtype == ONNX_DT_UINT8) {
		memcpy((uint8_t *)t->data + slot * size, px, size);
		return;
	}
	for (size_t k = 0; k < size; k++)
		((float *)t->data)[slot * size + k] = (float)px[k] / pmax;
}

/* The index of the highest of the @n scores of row @row of @t, ties to the
 * lower class; NaN never wins. */
static int64_t argmax(const struct onnx_tensor *t, size_t row, size_t n)
{
	int64_t best = 0;
	double bs = -INFINITY;

	for (size_t c = 0; c < n; c++) {
		double s = onnx_tensor_f64(t, row * n + c);

		if (s > bs) {
			bs = s;
			best = (int64_t)c;
		}
	}
	return best;
}

/* ------------------------------------------------------------- progress */

struct progress {
	bool tty, lines; /* a bar on a terminal; else a line every 10% */
	double t0, last;
	int last_decile;
};

static void progress_init(struct progress *pr, const struct eval_args *a, size_t n)
{
	memset(pr, 0, sizeof(*pr));
	if (a->quiet)
		return;
	pr->tty = isatty(STDERR_FILENO);
	pr->lines = !pr->tty && n >= 500;
	pr->t0 = pr->last = cli_now();
}

static void progress_update(struct progress *pr, size_t done, size_t n, size_t correct)
{
	double now, rate;

	if (!pr->tty && !pr->lines)
		return;
	now = cli_now();
	rate = now > pr->t0 ? (double)done / (now - pr->t0) : 0;
	if (pr->tty) {
		char bar[31];
		size_t fill = done * 30 / n;

		if (done != n && now - pr->last < 0.1)
			return;
		pr->last = now;
		for (size_t k = 0; k < 30; k++)
			bar[k] = k < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r[%s] %zu/%zu %5.1f%%  %.0f images/s  accuracy %.2f%%\033[K", bar,
		        done, n, 100.0 * (double)done / (double)n, rate,
		        100.0 * (double)correct / (double)done);
		if (done == n)
			fputs("\r\033[K", stderr);
		fflush(stderr);
		return;
	}
	int decile = (int)(done * 10 / n);

	if (decile > pr->last_decile) {
		pr->last_decile = decile;
		fprintf(stderr, "eval: %zu/%zu images, %.0f images/s, accuracy so far %.2f%%\n",
		        done, n, rate, 100.0 * (double)correct / (double)done);
	}
}

/* ------------------------------------------------------------- the run */

struct eval_result {
	size_t done, correct;
	double wall;
	uint64_t *confusion; /* (classes, classes): [label][predicted] */
	int64_t *pred;       /* (n) */
};

/* " (NAME)" of class @c when @names has it, else "". */
static const char *name_of(const struct labels *names, int64_t c, char *buf, size_t size)
{
	const char *n = labels_name(names, c);

	if (!n)
		return "";
	snprintf(buf, size, " (%s)", n);
	return buf;
}

static void print_text(const struct eval_args *a, const struct onnx_model *m,
                       const struct idx_dataset *ds, size_t total, const struct eval_model *em,
                       const struct sampan_info *info, const struct profile *prof,
                       const struct eval_result *r, const struct labels *names,
                       uint64_t weight_bytes)
{
	char nb1[LABELS_NAME_MAX + 4], nb2[LABELS_NAME_MAX + 4];
	double n = (double)r->done;
	const struct rt_stats *t = &prof->total;
	double util =
	    t->cycles ? (double)t->macs / ((double)t->cycles * info->rows * info->cols) : NAN;
	char ustr[48];

	if (a->list)
		for (size_t i = 0; i < r->done; i++) {
			char idx[32];

			snprintf(idx, sizeof(idx), "image %zu", i);
			printf("%-16s class %lld%s  label %u%s  %s\n",
			       ds->names ? ds->names[i] : idx, (long long)r->pred[i],
			       name_of(names, r->pred[i], nb1, sizeof(nb1)), ds->labels[i],
			       name_of(names, ds->labels[i], nb2, sizeof(nb2)),
			       r->pred[i] == ds->labels[i] ? "ok" : "WRONG");
		}
	printf("model     %s\n", m->path);
	printf("data      %s: %zu of %zu images, %ux%u\n", ds->source, r->done, total, ds->h,
	       ds->w);
	if (info->clock_mhz)
		printf("device    %s (%s): %ux%u array at %u MHz\n", info->name, info->backend,
		       info->rows, info->cols, info->clock_mhz);
	else
		printf("device    %s (%s): %ux%u array, no clock\n", info->name, info->backend,
		       info->rows, info->cols);
	printf("accuracy  %.2f%% (%zu of %zu correct)\n", 100.0 * (double)r->correct / n,
	       r->correct, r->done);
	printf("speed     %.1f images/s (%.3f s wall: %.3f s in device calls, %.3f s on the "
	       "host)\n",
	       n / r->wall, r->wall, t->device_seconds, r->wall - t->device_seconds);
	if (isnan(util))
		snprintf(ustr, sizeof(ustr), "no utilization (no cycles counted)");
	else
		snprintf(ustr, sizeof(ustr), "utilization %.1f%%", 100.0 * util);
	printf("per image %.4g device jobs, %.0f cycles, %.0f MACs: %s\n", (double)t->gemms / n,
	       (double)t->cycles / n, (double)t->macs / n, ustr);
	printf("moved     %.0f bytes per image between host and card (%.0f in, %.0f out; "
	       "batch %lld); weights resident on the card: %llu bytes\n",
	       (double)(t->host_bytes_in + t->host_bytes_out) / n, (double)t->host_bytes_in / n,
	       (double)t->host_bytes_out / n, (long long)(a->batch > 1 ? a->batch : 1),
	       (unsigned long long)weight_bytes);
	printf("per class");
	for (int64_t c = 0; c < em->classes; c++) {
		uint64_t images = 0;

		for (int64_t p = 0; p < em->classes; p++)
			images += r->confusion[c * em->classes + p];
		if (images)
			printf(" %lld%s:%.1f%%", (long long)c, name_of(names, c, nb1, sizeof(nb1)),
			       100.0 * (double)r->confusion[c * em->classes + c] / (double)images);
	}
	printf("\n");
	profile_print(prof, info, stdout);
}

static void print_json(const struct eval_args *a, const struct onnx_model *m,
                       const struct idx_dataset *ds, size_t total, const struct eval_model *em,
                       const struct sampan_info *info, const struct profile *prof,
                       const struct eval_result *r, const struct labels *names,
                       uint64_t weight_bytes)
{
	double n = (double)r->done;
	const struct rt_stats *t = &prof->total;
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "model", m->path);
	json_string(&j, "device", info->name);
	json_string(&j, "backend", info->backend);
	json_uint(&j, "rows", info->rows);
	json_uint(&j, "cols", info->cols);
	json_uint(&j, "clock_mhz", info->clock_mhz);
	json_string(&j, "data", ds->source);
	json_uint(&j, "data_images", total);
	json_uint(&j, "images", r->done);
	json_uint(&j, "correct", r->correct);
	json_double(&j, "accuracy", (double)r->correct / n);
	json_int(&j, "classes", em->classes);
	json_double(&j, "images_per_second", n / r->wall);
	json_double(&j, "wall_seconds", r->wall);
	json_double(&j, "device_seconds", t->device_seconds);
	json_double(&j, "host_seconds", r->wall - t->device_seconds);
	json_double(&j, "gemms_per_image", (double)t->gemms / n);
	json_double(&j, "cycles_per_image", (double)t->cycles / n);
	json_double(&j, "macs_per_image", (double)t->macs / n);
	json_int(&j, "batch", a->batch > 1 ? a->batch : 1);
	json_double(&j, "host_bytes_in_per_image", (double)t->host_bytes_in / n);
	json_double(&j, "host_bytes_out_per_image", (double)t->host_bytes_out / n);
	json_double(&j, "bytes_per_image", (double)(t->host_bytes_in + t->host_bytes_out) / n);
	json_uint(&j, "weight_bytes", weight_bytes);
	/* null without cycles (the functional model has no clock). */
	json_double(&j, "utilization",
	            t->cycles ? (double)t->macs / ((double)t->cycles * info->rows * info->cols)
	                      : NAN);
	json_array_begin(&j, "per_class");
	for (int64_t c = 0; c < em->classes; c++) {
		uint64_t images = 0;

		for (int64_t p = 0; p < em->classes; p++)
			images += r->confusion[c * em->classes + p];
		json_object_begin(&j, NULL);
		json_int(&j, "class", c);
		if (labels_name(names, c))
			json_string(&j, "name", labels_name(names, c));
		json_uint(&j, "images", images);
		json_uint(&j, "correct", r->confusion[c * em->classes + c]);
		json_object_end(&j);
	}
	json_array_end(&j);
	/* Rows: label; columns: predicted class. */
	json_array_begin(&j, "confusion");
	for (int64_t c = 0; c < em->classes; c++) {
		json_array_begin(&j, NULL);
		for (int64_t p = 0; p < em->classes; p++)
			json_uint(&j, NULL, r->confusion[c * em->classes + p]);
		json_array_end(&j);
	}
	json_array_end(&j);
	profile_json(prof, info, &j);
	if (a->list) {
		json_array_begin(&j, "results");
		for (size_t i = 0; i < r->done; i++) {
			json_object_begin(&j, NULL);
			json_uint(&j, "index", i);
			if (ds->names)
				json_string(&j, "file", ds->names[i]);
			json_uint(&j, "label", ds->labels[i]);
			json_int(&j, "class", r->pred[i]);
			if (labels_name(names, r->pred[i]))
				json_string(&j, "name", labels_name(names, r->pred[i]));
			json_object_end(&j);
		}
		json_array_end(&j);
	}
	json_object_end(&j);
	json_finish(&j);
}

/* Loads the data set the arguments name: exit code. */
static int load_data(const struct eval_args *a, struct idx_dataset **ds)
{
	char err[1024];
	int ret;

	if (a->data)
		ret = idx_dataset_load_dir(a->data, ds, err, sizeof(err));
	else if (a->images)
		ret = idx_dataset_load(a->images, a->labels, ds, err, sizeof(err));
	else
		ret = idx_dataset_load(EVAL_IMAGES, EVAL_LABELS, ds, err, sizeof(err));
	if (ret) {
		cli_error("%s%s", err,
		          !a->data && !a->images && ret == SAMPAN_ERROR_IO
		              ? " (the default data set is Debian's dataset-fashion-mnist; or give "
		                "--data or --images/--labels)"
		              : "");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* Runs every image of @ds, a->batch at a time, on session @sess; exit
 * code. On a failure the message says how far it got. */
static int run_all(const struct eval_args *a, const struct onnx_model *m,
                   const struct idx_dataset *ds, struct eval_model *em, struct rt_session *sess,
                   struct profile *prof, FILE *pf, struct eval_result *r)
{
	struct onnx_tensor *in = NULL, *out = NULL;
	size_t batch = a->batch > 1 ? (size_t)a->batch : 1;
	struct rt_hooks hooks;
	struct progress pr;
	char err[1024];
	int ret = CLI_EXIT_FAIL;
	double t0;

	if (batch > 1 && em->ndim < 3) {
		cli_error("%s: input '%s' has no batch dimension (it is %d-D); run with --batch 1",
		          m->path, em->in->name, em->ndim);
		return CLI_EXIT_FAIL;
	}
	rt_session_set_batch(sess, batch > 1);
	profile_hooks(prof, &hooks);
	progress_init(&pr, a, ds->n);
	t0 = cli_now();
	for (size_t i = 0; i < ds->n; i += batch) {
		size_t nb = ds->n - i < batch ? ds->n - i : batch;
		struct rt_stats st;

		if (!in || (size_t)in->dims[0] != nb) {
			int64_t dims[ONNX_MAX_DIMS];

			memcpy(dims, em->dims, sizeof(dims));
			if (batch > 1)
				dims[0] = (int64_t)nb;
			onnx_tensor_destroy(in);
			in = NULL;
			if (onnx_tensor_create(&in, em->in->dtype, em->ndim, dims) != SAMPAN_OK) {
				cli_error("out of memory");
				goto out;
			}
		}
		for (size_t k = 0; k < nb; k++)
			fill_input(in, k, ds, i + k, a->pixel_max > 0 ? a->pixel_max : 255.0f);
		if (rt_session_run(sess, &in, &out, &st, &hooks, err, sizeof(err)) != SAMPAN_OK) {
			if (pr.tty)
				fputs("\r\033[K", stderr);
			if (nb > 1)
				cli_error("%s: images %zu to %zu failed: %s", m->path, i,
				          i + nb - 1, err);
			else
				cli_error("%s: image %zu%s%s failed: %s", m->path, i,
				          ds->names ? " " : "", ds->names ? ds->names[i] : "", err);
			if (i)
				cli_error("stopped after %zu of %zu images (%zu correct, %.2f%%)",
				          i, ds->n, r->correct,
				          100.0 * (double)r->correct / (double)i);
			else
				cli_error("stopped at the first of %zu images", ds->n);
			goto out;
		}
		if (!em->classes) {
			em->classes = out->ndim ? out->dims[out->ndim - 1] : 1;
			if (check_classes(m, em, ds))
				goto out_tensor;
		}
		if ((int64_t)out->count != em->classes * (int64_t)nb) {
			cli_error("%s: image %zu: output '%s' has %zu values, expected one score "
			          "per class (%lld)%s",
			          m->path, i, em->out->name, out->count, (long long)em->classes,
			          nb > 1 ? " per image" : "");
			goto out_tensor;
		}
		profile_add_run(prof, &st);
		for (size_t k = 0; k < nb; k++) {
			int64_t pred = argmax(out, k, (size_t)em->classes);
			size_t idx = i + k;

			r->pred[idx] = pred;
			r->confusion[ds->labels[idx] * em->classes + pred]++;
			r->correct += pred == ds->labels[idx];
			r->done = idx + 1;
			if (pf && fprintf(pf, "%lld\n", (long long)pred) < 0) {
				cli_error("%s: cannot write", a->predictions);
				goto out_tensor;
			}
		}
		onnx_tensor_destroy(out);
		out = NULL;
		progress_update(&pr, r->done, ds->n, r->correct);
	}
	r->wall = cli_now() - t0;
	ret = CLI_EXIT_OK;
out_tensor:
	onnx_tensor_destroy(out);
out:
	onnx_tensor_destroy(in);
	return ret;
}

int cmd_eval(int argc, char **argv)
{
	struct eval_args a = {0};
	struct onnx_model *m = NULL;
	struct idx_dataset *ds = NULL;
	struct sampan_device *dev = NULL;
	struct sampan_info info;
	struct eval_model em = {0};
	struct eval_result r = {0};
	struct profile *prof = NULL;
	struct rt_session *sess = NULL;
	struct labels *names = NULL;
	FILE *pf = NULL;
	char err[1024];
	size_t total;
	int ret;

	ret = parse_args(argc, argv, &a);
	if (ret)
		return ret < 0 ? CLI_EXIT_OK : ret;
	if (a.names && labels_read(a.names, &names, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (onnx_model_load(a.model, &m, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s", err);
		labels_destroy(names);
		return CLI_EXIT_FAIL;
	}
	ret = load_data(&a, &ds);
	if (ret)
		goto out_model;
	total = ds->n;
	if (a.limit)
		idx_dataset_truncate(ds, (size_t)a.limit);
	ret = check_model(m, ds, &em);
	if (ret)
		goto out_data;
	if (em.classes) {
		ret = check_classes(m, &em, ds);
		if (ret)
			goto out_data;
	}
	r.pred = calloc(ds->n, sizeof(*r.pred));
	r.confusion = calloc((size_t)EVAL_MAX_CLASSES * EVAL_MAX_CLASSES, sizeof(*r.confusion));
	if (!r.pred || !r.confusion) {
		cli_error("out of memory");
		ret = CLI_EXIT_FAIL;
		goto out_result;
	}
	if (a.predictions) {
		pf = fopen(a.predictions, "w");
		if (!pf) {
			cli_error("%s: %s", a.predictions, strerror(errno));
			ret = CLI_EXIT_FAIL;
			goto out_result;
		}
	}
	ret = cli_open_device(a.device, &dev, &info);
	if (ret)
		goto out_pred;
	if (profile_create(m, dev, &prof) != SAMPAN_OK) {
		cli_error("out of memory");
		ret = CLI_EXIT_FAIL;
		goto out_close;
	}
	if (rt_session_create(m, dev, &sess, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s: uploading the weights to the device failed: %s", a.model, err);
		cli_error("stopped at the first of %zu images", ds->n);
		ret = CLI_EXIT_FAIL;
		goto out_profile;
	}
	ret = run_all(&a, m, ds, &em, sess, prof, pf, &r);
	if (ret)
		goto out_profile;
	if (a.json)
		print_json(&a, m, ds, total, &em, &info, prof, &r, names,
		           rt_session_weight_bytes(sess));
	else
		print_text(&a, m, ds, total, &em, &info, prof, &r, names,
		           rt_session_weight_bytes(sess));
out_profile:
	rt_session_destroy(sess);
	profile_destroy(prof);
out_close:
	sampan_close(dev);
out_pred:
	if (pf && fclose(pf) != 0 && ret == CLI_EXIT_OK) {
		cli_error("%s: cannot write: %s", a.predictions, strerror(errno));
		ret = CLI_EXIT_FAIL;
	}
out_result:
	free(r.pred);
	free(r.confusion);
out_data:
	idx_dataset_destroy(ds);
out_model:
	labels_destroy(names);
	onnx_model_destroy(m);
	return ret;
}
