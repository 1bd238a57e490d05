/*
 * cmd_gemm.c - `sampan gemm`: one GEMM on a device, operands from .npy
 * files or a seed, optionally checked against the CLI's own reference.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gemm_data.h"
#include "npy.h"
#include "ref.h"

static const char gemm_help[] =
    "usage: sampan gemm [-d DEV] [--format int8|q8_0] -m M -k K -n N [options]\n"
    "\n"
    "Runs one GEMM on a device and prints its cycles, MACs and array\n"
    "utilization. int8 (the default):\n"
    "  acc[m][n] = bias[n] + sum_k (A[m][k] - za) * W[n][k]      (int32)\n"
    "  Y[m][n]   = clamp(MBQM(acc, mult[n], shift[n]) + zo, lo, hi)  (int8)\n"
    "q8_0 (GGUF block-scaled: blocks of 32 along K, each with an fp16 scale;\n"
    "float rules in rtl/ARCHITECTURE.md):\n"
    "  Y[m][n]   = bias[n] + sum_b isum_b * (sw[n][b] * sa[m][b])  (float32)\n"
    "\n"
    "  -d, --device DEV   device to use (default: sim); see 'sampan devices'\n"
    "      --format F     int8 or q8_0 (K a multiple of 32)\n"
    "      --a-scale FILE q8_0: A's scales, float16 (M, K/32) .npy\n"
    "      --w-scale FILE q8_0: W's scales, float16 (N, K/32) .npy\n"
    "  -m, -k, -n N       shape: A is M x K, W is N x K, Y is M x N\n"
    "                     (optional when operand files give them)\n"
    "      --a FILE       A, int8 (M, K) .npy\n"
    "      --w FILE       W, int8 (N, K) .npy, output-channel major\n"
    "      --bias FILE    bias, int32 (N) .npy (q8_0: float32 (N))\n"
    "      --mult FILE    Q31 multipliers, int32 (N) .npy\n"
    "      --shift FILE   shifts in [-31, 31], int32 (N) .npy\n"
    "      --za Z         activation zero point, -128..127\n"
    "      --zo Z         output zero point, -128..127\n"
    "      --lo L, --hi H output clamp (default -128, 127)\n"
    "      --seed S       seed of the operands not given (default 1)\n"
    "      --raw          return the int32 accumulators, no requantization\n"
    "      --out FILE     write Y to a .npy file (int8, or int32 with --raw,\n"
    "                     float32 with q8_0)\n"
    "      --check        compare with the CLI's naive reference; exit 1 on\n"
    "                     any mismatch\n"
    "      --json         print one JSON object on stdout\n"
    "  -h, --help         this help\n"
    "\n"
    "Without --a/--w, operands are random from the seed: A, W over all of\n"
    "int8, bias, mult in [2^30, 2^31-1], shifts scaled to K, za, zo over\n"
    "int8. With them, --a and --w go together, bias and zero points not\n"
    "given are 0, and requantizing needs --mult and --shift.\n"
    "With q8_0, random operands are rows of random floats quantized as\n"
    "ggml's quantize_row_q8_0_ref does, and a random float bias; operand\n"
    "files --a, --a-scale, --w, --w-scale go together (no bias unless\n"
    "--bias); --raw, --mult, --shift, --za, --zo, --lo, --hi do not apply.\n"
    "Exit status: 0 ok, 1 failure or mismatch, 2 usage error.\n";

enum {
	OPT_HELP = 1,
	OPT_DEVICE,
	OPT_M,
	OPT_K,
	OPT_N,
	OPT_A,
	OPT_W,
	OPT_BIAS,
	OPT_MULT,
	OPT_SHIFT,
	OPT_ZA,
	OPT_ZO,
	OPT_LO,
	OPT_HI,
	OPT_SEED,
	OPT_RAW,
	OPT_OUT,
	OPT_CHECK,
	OPT_JSON,
	OPT_FORMAT,
	OPT_A_SCALE,
	OPT_W_SCALE,
};

static const struct cli_option gemm_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"device", 'd', true, OPT_DEVICE},
    {"m", 'm', true, OPT_M},
    {"k", 'k', true, OPT_K},
    {"n", 'n', true, OPT_N},
    {"a", 0, true, OPT_A},
    {"w", 0, true, OPT_W},
    {"bias", 0, true, OPT_BIAS},
    {"mult", 0, true, OPT_MULT},
    {"shift", 0, true, OPT_SHIFT},
    {"za", 0, true, OPT_ZA},
    {"zo", 0, true, OPT_ZO},
    {"lo", 0, true, OPT_LO},
    {"hi", 0, true, OPT_HI},
    {"seed", 0, true, OPT_SEED},
    {"raw", 0, false, OPT_RAW},
    {"out", 0, true, OPT_OUT},
    {"check", 0, false, OPT_CHECK},
    {"json", 0, false, OPT_JSON},
    {"format", 0, true, OPT_FORMAT},
    {"a-scale", 0, true, OPT_A_SCALE},
    {"w-scale", 0, true, OPT_W_SCALE},
    {NULL, 0, false, 0},
};

/* Mismatches listed one by one on stderr before the count. */
#define SHOWN_MISMATCHES 10

/* One dimension of the shape and what fixed it ("-m 5", "--a A.npy"). */
struct dim {
	const char *name; /* "M", "K", "N" */
	int64_t value;    /* 0: not known yet */
	char source[256];
};

/* What the command line asked for. */
struct gemm_args {
	const char *device;
	const char *path_a, *path_w, *path_bias, *path_mult, *path_shift, *path_out;
	const char *path_a_scale, *path_w_scale;
	bool q8; /* --format q8_0 */
	struct dim m, k, n;
	int64_t seed;
	bool check, json;
	bool lo_set, hi_set;
};

/* Records that @source gives @value for @d; a usage error naming both
 * sources if an earlier one gave another value. */
static bool set_dim(struct dim *d, int64_t value, const char *source)
{
	if (d->value && d->value != value) {
		cli_usage_error("gemm", "%s mismatch: %s gives %s=%lld but %s gives %s=%lld",
		                d->name, d->source, d->name, (long long)d->value, source, d->name,
		                (long long)value);
		return false;
	}
	if (!d->value) {
		d->value = value;
		snprintf(d->source, sizeof(d->source), "%s", source);
	}
	return true;
}

static bool parse_dim(struct dim *d, const char *flag, const char *text)
{
	char source[256];
	int64_t v;

	if (!cli_parse_int("gemm", flag, text, 1, GEMM_MAX_DIM, &v))
		return false;
	snprintf(source, sizeof(source), "%s %lld", flag, (long long)v);
	return set_dim(d, v, source);
}

static bool parse_int8_value(const char *flag, const char *text, int32_t *out)
{
	int64_t v;

	if (!cli_parse_int("gemm", flag, text, -128, 127, &v))
		return false;
	*out = (int32_t)v;
	return true;
}

/* Parses the options into @args and the scalar fields of @d; returns an
 * exit code, CLI_EXIT_OK to go on, or -1 after printing the help. */
static int parse_args(int argc, char **argv, struct gemm_args *args, struct gemm_data *d)
{
	struct cli_parser p;
	const char *v;
	int id;

	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_option(&p, gemm_options, &v)) > 0) {
		bool ok = true;

		switch (id) {
		case OPT_HELP:
			fputs(gemm_help, stdout);
			return -1;
		case OPT_DEVICE:
			args->device = v;
			break;
		case OPT_M:
			ok = parse_dim(&args->m, "-m", v);
			break;
		case OPT_K:
			ok = parse_dim(&args->k, "-k", v);
			break;
		case OPT_N:
			ok = parse_dim(&args->n, "-n", v);
			break;
		case OPT_A:
			args->path_a = v;
			break;
		case OPT_W:
			args->path_w = v;
			break;
		case OPT_BIAS:
			args->path_bias = v;
			break;
		case OPT_MULT:
			args->path_mult = v;
			break;
		case OPT_SHIFT:
			args->path_shift = v;
			break;
		case OPT_ZA:
			ok = parse_int8_value("--za", v, &d->za);
			d->za_set = true;
			break;
		case OPT_ZO:
			ok = parse_int8_value("--zo", v, &d->zo);
			d->zo_set = true;
			break;
		case OPT_LO:
			ok = parse_int8_value("--lo", v, &d->lo);
			args->lo_set = true;
			break;
		case OPT_HI:
			ok = parse_int8_value("--hi", v, &d->hi);
			args->hi_set = true;
			break;
		case OPT_SEED:
			ok = cli_parse_int("gemm", "--seed", v, 0, INT64_MAX, &args->seed);
			break;
		case OPT_RAW:
			d->raw = true;
			break;
		case OPT_OUT:
			args->path_out = v;
			break;
		case OPT_CHECK:
			args->check = true;
			break;
		case OPT_JSON:
			args->json = true;
			break;
		case OPT_FORMAT:
			if (strcmp(v, "q8_0") && strcmp(v, "int8"))
				return cli_usage_error(
				    "gemm", "--format %s: accepted are int8 and q8_0", v);
			args->q8 = strcmp(v, "q8_0") == 0;
			break;
		case OPT_A_SCALE:
			args->path_a_scale = v;
			break;
		case OPT_W_SCALE:
			args->path_w_scale = v;
			break;
		}
		if (!ok)
			return CLI_EXIT_USAGE;
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	if (args->q8) {
		const char *useless = d->raw             ? "--raw"
		                      : args->path_mult  ? "--mult"
		                      : args->path_shift ? "--shift"
		                      : d->za_set        ? "--za"
		                      : d->zo_set        ? "--zo"
		                      : args->lo_set     ? "--lo"
		                      : args->hi_set     ? "--hi"
		                                         : NULL;
		const char *given[4] = {args->path_a, args->path_a_scale, args->path_w,
		                        args->path_w_scale};
		static const char *const names[4] = {"--a", "--a-scale", "--w", "--w-scale"};
		int count = 0;

		if (useless)
			return cli_usage_error("gemm", "%s does not apply to --format q8_0",
			                       useless);
		for (int i = 0; i < 4; i++)
			count += given[i] != NULL;
		for (int i = 0; count && i < 4; i++)
			if (!given[i])
				return cli_usage_error(
				    "gemm", "q8_0 operand files go together: %s is missing",
				    names[i]);
		return CLI_EXIT_OK;
	}
	if (args->path_a_scale || args->path_w_scale)
		return cli_usage_error("gemm", "%s needs --format q8_0",
		                       args->path_a_scale ? "--a-scale" : "--w-scale");
	if (d->raw) {
		const char *useless = args->path_mult    ? "--mult"
		                      : args->path_shift ? "--shift"
		                      : d->zo_set        ? "--zo"
		                      : args->lo_set     ? "--lo"
		                      : args->hi_set     ? "--hi"
		                                         : NULL;
		if (useless)
			return cli_usage_error("gemm", "%s has no effect with --raw", useless);
	}
	if (d->lo > d->hi)
		return cli_usage_error("gemm", "--lo %d is above --hi %d", d->lo, d->hi);
	/* Operand files are the user's data: nothing of it is made up. */
	if (args->path_a || args->path_w) {
		if (!args->path_a || !args->path_w)
			return cli_usage_error("gemm", "%s needs %s too",
			                       args->path_a ? "--a" : "--w",
			                       args->path_a ? "--w" : "--a");
		if (!d->raw && (!args->path_mult || !args->path_shift))
			return cli_usage_error("gemm",
			                       "requantizing operand files needs --mult and "
			                       "--shift (or --raw)");
		d->from_files = true;
	}
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ operands */

/* Reads the operand file of option @flag; returns an exit code. */
static int read_operand(const char *flag, const char *path, enum npy_dtype dtype, int ndim,
                        struct npy_array *arr)
{
	char err[512];

	if (npy_read(path, dtype, ndim, arr, err, sizeof(err)) != SAMPAN_OK) {
		cli_error("%s %s", flag, err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* Reads the operand files into @d and settles the shape; returns an exit
 * code. */
static int load_operands(struct gemm_args *args, struct gemm_data *d)
{
	struct {
		const char *flag, *path;
		enum npy_dtype dtype;
		int ndim;
		struct dim *dim0, *dim1; /* what shape[0] and shape[1] give */
		void **dst;
	} files[] = {
	    {"--a", args->path_a, NPY_INT8, 2, &args->m, &args->k, (void **)&d->a},
	    {"--w", args->path_w, NPY_INT8, 2, &args->n, &args->k, (void **)&d->w},
	    {"--bias", args->path_bias, NPY_INT32, 1, &args->n, NULL, (void **)&d->bias},
	    {"--mult", args->path_mult, NPY_INT32, 1, &args->n, NULL, (void **)&d->mult},
	    {"--shift", args->path_shift, NPY_INT32, 1, &args->n, NULL, (void **)&d->shift},
	};
	const struct dim *dims[] = {&args->m, &args->k, &args->n};
	const char *dim_flags[] = {"-m", "-k", "-n"};
	uint64_t bytes_a, bytes_w;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct npy_array arr;
		char source[256];
		int ret;

		if (!files[i].path)
			continue;
		ret =
		    read_operand(files[i].flag, files[i].path, files[i].dtype, files[i].ndim, &arr);
		if (ret != CLI_EXIT_OK)
			return ret;
		*files[i].dst = arr.data;
		snprintf(source, sizeof(source), "%s %s", files[i].flag, files[i].path);
		if (!set_dim(files[i].dim0, arr.shape[0], source) ||
		    (files[i].dim1 && !set_dim(files[i].dim1, arr.shape[1], source)))
			return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!dims[i]->value)
			return cli_usage_error("gemm",
			                       "%s is not known: give %s or an operand file",
			                       dims[i]->name, dim_flags[i]);
		if (dims[i]->value > GEMM_MAX_DIM)
			return cli_usage_error("gemm", "%s=%lld (from %s) is above the limit %lld",
			                       dims[i]->name, (long long)dims[i]->value,
			                       dims[i]->source, (long long)GEMM_MAX_DIM);
	}
	d->m = args->m.value;
	d->k = args->k.value;
	d->n = args->n.value;
	bytes_a = (uint64_t)d->m * (uint64_t)d->k;
	bytes_w = (uint64_t)d->n * (uint64_t)d->k;
	if (bytes_a > GEMM_MAX_BYTES || bytes_w > GEMM_MAX_BYTES ||
	    gemm_out_bytes(d->m, d->n, d->raw) > GEMM_MAX_BYTES)
		return cli_usage_error("gemm",
		                       "shape %lldx%lldx%lld is too large: A, W and Y must each "
		                       "fit in %llu bytes",
		                       (long long)d->m, (long long)d->k, (long long)d->n,
		                       (unsigned long long)GEMM_MAX_BYTES);
	if (d->shift) {
		for (int64_t i = 0; i < d->n; i++) {
			if (d->shift[i] < -31 || d->shift[i] > 31) {
				cli_error("--shift %s: shift[%lld] = %d is outside [-31, 31]",
				          args->path_shift, (long long)i, d->shift[i]);
				return CLI_EXIT_FAIL;
			}
		}
	}
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- check */

/* Compares d->out with the reference; lists the first mismatches on stderr
 * and returns their count, or -1 if out of memory. */
static int64_t check_result(const struct gemm_data *d)
{
	struct sampan_gemm g = gemm_data_desc(d);
	size_t count = (size_t)d->m * (size_t)d->n;
	void *expect = malloc((size_t)gemm_out_bytes(d->m, d->n, d->raw));
	int64_t mismatches = 0;

	if (!expect)
		return -1;
	ref_gemm(&g, expect);
	for (size_t i = 0; i < count; i++) {
		int32_t want = d->raw ? ((int32_t *)expect)[i] : ((int8_t *)expect)[i];
		int32_t got = d->raw ? ((int32_t *)d->out)[i] : ((int8_t *)d->out)[i];

		if (want == got)
			continue;
		if (mismatches < SHOWN_MISMATCHES)
			cli_error("mismatch at [%zu][%zu]: expected %d, got %d", i / (size_t)d->n,
			          i % (size_t)d->n, want, got);
		mismatches++;
	}
	if (mismatches)
		cli_error("%lld of %zu outputs differ from the reference", (long long)mismatches,
		          count);
	free(expect);
	return mismatches;
}

/* --------------------------------------------------------------- report */

/* The part of the JSON report that both formats share: the counters, the
 * check and the wall time; closes the object. */
static void json_tail(struct json *j, const struct gemm_args *args, const struct sampan_info *info,
                      const struct sampan_stats *st, int64_t mismatches, double wall)
{
	json_uint(j, "cycles", st->cycles);
	json_uint(j, "macs", st->macs);
	if (st->cycles)
		json_double(j, "utilization", sampan_utilization(st, info));
	else
		json_null(j, "utilization");
	json_uint(j, "busy_cycles", st->busy_cycles);
	json_uint(j, "stall_mem", st->stall_mem);
	json_uint(j, "stall_dep", st->stall_dep);
	json_uint(j, "dev_bytes_read", st->dev_bytes_read);
	json_uint(j, "dev_bytes_written", st->dev_bytes_written);
	json_uint(j, "host_bytes_in", st->host_bytes_in);
	json_uint(j, "host_bytes_out", st->host_bytes_out);
	json_uint(j, "commands", st->commands);
	if (args->check)
		json_int(j, "mismatches", mismatches);
	else
		json_null(j, "mismatches");
	json_double(j, "wall_seconds", wall);
	json_object_end(j);
	json_finish(j);
}

static void print_device(const struct sampan_info *info)
{
	printf("device       %s (%s, %ux%u array", info->name, info->backend, info->rows,
	       info->cols);
	if (info->clock_mhz)
		printf(", %u MHz", info->clock_mhz);
	printf(")\n");
}

/* The human report's lines after the GEMM's own: cycles, MACs,
 * utilization, the check of @outputs values (@how they match) and the wall
 * time. */
static void print_tail(const struct gemm_args *args, const struct sampan_info *info,
                       const struct sampan_stats *st, int64_t outputs, const char *how,
                       int64_t mismatches, double wall)
{
	if (st->cycles) {
		printf("cycles       %llu", (unsigned long long)st->cycles);
		if (info->clock_mhz)
			printf(" (%.3f ms at %u MHz)", (double)st->cycles / (info->clock_mhz * 1e3),
			       info->clock_mhz);
		printf("\n");
	} else {
		printf("cycles       n/a (no clock: functional model)\n");
	}
	printf("MACs         %llu\n", (unsigned long long)st->macs);
	if (st->cycles)
		printf("utilization  %.1f%% (busy %llu, stall mem %llu, stall dep %llu cycles)\n",
		       100.0 * sampan_utilization(st, info), (unsigned long long)st->busy_cycles,
		       (unsigned long long)st->stall_mem, (unsigned long long)st->stall_dep);
	else
		printf("utilization  n/a\n");
	if (!args->check)
		printf("check        not run (--check)\n");
	else if (mismatches == 0)
		printf("check        ok, %lld outputs match the reference%s\n", (long long)outputs,
		       how);
	else
		printf("check        FAILED, %lld of %lld outputs differ\n", (long long)mismatches,
		       (long long)outputs);
	printf("wall time    %.3f s\n", wall);
}

static void print_json(const struct gemm_args *args, const struct gemm_data *d,
                       const struct sampan_info *info, const struct sampan_stats *st,
                       int64_t mismatches, double wall)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "device", info->name);
	json_string(&j, "backend", info->backend);
	json_string(&j, "format", "int8");
	json_uint(&j, "rows", info->rows);
	json_uint(&j, "cols", info->cols);
	json_int(&j, "m", d->m);
	json_int(&j, "k", d->k);
	json_int(&j, "n", d->n);
	json_bool(&j, "raw", d->raw);
	json_int(&j, "seed", args->seed);
	json_int(&j, "za", d->za);
	if (!d->raw) {
		json_int(&j, "zo", d->zo);
		json_int(&j, "lo", d->lo);
		json_int(&j, "hi", d->hi);
	}
	json_tail(&j, args, info, st, mismatches, wall);
}

static void print_human(const struct gemm_args *args, const struct gemm_data *d,
                        const struct sampan_info *info, const struct sampan_stats *st,
                        int64_t mismatches, double wall)
{
	print_device(info);
	printf("gemm         M=%lld K=%lld N=%lld, %s, za %d", (long long)d->m, (long long)d->k,
	       (long long)d->n, d->raw ? "raw int32" : "requantized int8", d->za);
	if (!d->raw)
		printf(", zo %d, clamp [%d, %d]", d->zo, d->lo, d->hi);
	printf(", seed %lld\n", (long long)args->seed);
	print_tail(args, info, st, d->m * d->n, "", mismatches, wall);
}

/* ------------------------------------------------------------ q8_0 */

/* The operands and result of a block-scaled GEMM, all malloc'd. */
struct q8_data {
	int64_t m, k, n;
	int8_t *a, *w;     /* (M, K), (N, K) */
	uint16_t *sa, *sw; /* (M, K/32), (N, K/32) fp16 */
	float *bias;       /* (N) or NULL */
	float *out;        /* (M, N) */
};

static void q8_release(struct q8_data *q)
{
	free(q->a);
	free(q->w);
	free(q->sa);
	free(q->sw);
	free(q->bias);
	free(q->out);
}

/* Rows of random floats (a spread of magnitudes per row), quantized as
 * ggml does. Returns false when out of memory. */
static bool q8_random_rows(struct cli_rng *r, int64_t rows, int64_t k, int8_t **q, uint16_t **d)
{
	float *x = malloc((size_t)k * sizeof(*x));

	*q = malloc((size_t)(rows * k));
	*d = malloc((size_t)(rows * (k / 32)) * sizeof(**d));
	if (!x || !*q || !*d) {
		free(x);
		return false;
	}
	for (int64_t i = 0; i < rows; i++) {
		double scale = ldexp(1.0, (int)cli_rng_range(r, -8, 4));

		for (int64_t j = 0; j < k; j++)
			x[j] = (float)(scale * (double)cli_rng_range(r, -1000000, 1000000) / 1e6);
		sampan_quantize_q8_0(x, k, *q + i * k, *d + i * (k / 32));
	}
	free(x);
	return true;
}

/* Reads the q8_0 operand files or draws random ones; settles the shape.
 * Returns an exit code. */
static int q8_load(struct gemm_args *args, struct q8_data *q)
{
	struct {
		const char *flag, *path;
		enum npy_dtype dtype;
		int ndim;
		struct dim *dim0, *dim1;
		void **dst;
		int blocks; /* dim1 counts blocks of 32 */
	} files[] = {
	    {"--a", args->path_a, NPY_INT8, 2, &args->m, &args->k, (void **)&q->a, 0},
	    {"--w", args->path_w, NPY_INT8, 2, &args->n, &args->k, (void **)&q->w, 0},
	    {"--a-scale", args->path_a_scale, NPY_FLOAT16, 2, &args->m, &args->k, (void **)&q->sa,
	     1},
	    {"--w-scale", args->path_w_scale, NPY_FLOAT16, 2, &args->n, &args->k, (void **)&q->sw,
	     1},
	    {"--bias", args->path_bias, NPY_FLOAT32, 1, &args->n, NULL, (void **)&q->bias, 0},
	};
	const struct dim *dims[] = {&args->m, &args->k, &args->n};
	const char *dim_flags[] = {"-m", "-k", "-n"};
	struct cli_rng root, r[3];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct npy_array arr;
		char source[256];
		int ret;

		if (!files[i].path)
			continue;
		ret =
		    read_operand(files[i].flag, files[i].path, files[i].dtype, files[i].ndim, &arr);
		if (ret != CLI_EXIT_OK)
			return ret;
		*files[i].dst = arr.data;
		snprintf(source, sizeof(source), "%s %s", files[i].flag, files[i].path);
		if (files[i].blocks && arr.shape[1] > GEMM_MAX_DIM / 32)
			return cli_usage_error("gemm", "%s: %lld blocks is above the limit", source,
			                       (long long)arr.shape[1]);
		if (!set_dim(files[i].dim0, arr.shape[0], source) ||
		    (files[i].dim1 &&
		     !set_dim(files[i].dim1, arr.shape[1] * (files[i].blocks ? 32 : 1), source)))
			return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!dims[i]->value)
			return cli_usage_error("gemm",
			                       "%s is not known: give %s or an operand file",
			                       dims[i]->name, dim_flags[i]);
		if (dims[i]->value > GEMM_MAX_DIM)
			return cli_usage_error("gemm", "%s=%lld (from %s) is above the limit %lld",
			                       dims[i]->name, (long long)dims[i]->value,
			                       dims[i]->source, (long long)GEMM_MAX_DIM);
	}
	q->m = args->m.value;
	q->k = args->k.value;
	q->n = args->n.value;
	if (q->k % 32)
		return cli_usage_error("gemm",
		                       "K=%lld (from %s) is not a multiple of 32: q8_0 works in "
		                       "blocks of 32 (pad K with zero blocks)",
		                       (long long)q->k, args->k.source);
	if ((uint64_t)q->m * (uint64_t)q->k > GEMM_MAX_BYTES ||
	    (uint64_t)q->n * (uint64_t)q->k > GEMM_MAX_BYTES ||
	    (uint64_t)q->m * (uint64_t)q->n * 4 > GEMM_MAX_BYTES)
		return cli_usage_error("gemm",
		                       "shape %lldx%lldx%lld is too large: A, W and Y must each "
		                       "fit in %llu bytes",
		                       (long long)q->m, (long long)q->k, (long long)q->n,
		                       (unsigned long long)GEMM_MAX_BYTES);
	cli_rng_seed(&root, (uint64_t)args->seed);
	for (int i = 0; i < 3; i++)
		cli_rng_seed(&r[i], cli_rng_next(&root));
	if (!q->a && (!q8_random_rows(&r[0], q->m, q->k, &q->a, &q->sa) ||
	              !q8_random_rows(&r[1], q->n, q->k, &q->w, &q->sw)))
		goto err_no_mem;
	if (!q->bias && !args->path_a) {
		q->bias = malloc((size_t)q->n * sizeof(*q->bias));
		if (!q->bias)
			goto err_no_mem;
		for (int64_t i = 0; i < q->n; i++)
			q->bias[i] = (float)((double)cli_rng_range(&r[2], -1000000, 1000000) / 1e6);
	}
	q->out = malloc((size_t)(q->m * q->n) * sizeof(*q->out));
	if (!q->out)
		goto err_no_mem;
	return CLI_EXIT_OK;

err_no_mem:
	cli_error("out of memory for a %lldx%lldx%lld GEMM", (long long)q->m, (long long)q->k,
	          (long long)q->n);
	return CLI_EXIT_FAIL;
}

/* Compares q->out bit for bit with the reference; returns the mismatch
 * count or -1 when out of memory. */
static int64_t q8_check(const struct q8_data *q, const struct sampan_gemm_q8 *g)
{
	size_t count = (size_t)(q->m * q->n);
	uint32_t *want = malloc(count * sizeof(*want));
	int64_t mismatches = 0;

	if (!want)
		return -1;
	ref_gemm_q8(g, want);
	for (size_t i = 0; i < count; i++) {
		uint32_t got;

		memcpy(&got, &q->out[i], sizeof(got));
		if (got == want[i])
			continue;
		if (mismatches < SHOWN_MISMATCHES)
			cli_error("mismatch at [%zu][%zu]: expected 0x%08x, got 0x%08x",
			          i / (size_t)q->n, i % (size_t)q->n, want[i], got);
		mismatches++;
	}
	if (mismatches)
		cli_error("%lld of %zu outputs differ from the reference", (long long)mismatches,
		          count);
	free(want);
	return mismatches;
}

static void q8_print(const struct gemm_args *args, const struct q8_data *q,
                     const struct sampan_info *info, const struct sampan_stats *st,
                     int64_t mismatches, double wall)
{
	if (args->json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "device", info->name);
		json_string(&j, "backend", info->backend);
		json_string(&j, "format", "q8_0");
		json_uint(&j, "rows", info->rows);
		json_uint(&j, "cols", info->cols);
		json_int(&j, "m", q->m);
		json_int(&j, "k", q->k);
		json_int(&j, "n", q->n);
		json_int(&j, "seed", args->seed);
		json_bool(&j, "bias", q->bias != NULL);
		json_tail(&j, args, info, st, mismatches, wall);
		return;
	}
	print_device(info);
	printf("gemm         M=%lld K=%lld N=%lld, q8_0 (float32 out%s), seed %lld\n",
	       (long long)q->m, (long long)q->k, (long long)q->n, q->bias ? ", bias" : "",
	       (long long)args->seed);
	print_tail(args, info, st, q->m * q->n, " bit for bit", mismatches, wall);
}

/* `sampan gemm --format q8_0`. */
static int gemm_q8_main(struct gemm_args *args)
{
	struct q8_data q = {0};
	struct sampan_device *dev;
	struct sampan_info info;
	struct sampan_stats st;
	struct sampan_gemm_q8 g;
	int64_t mismatches = 0;
	double t0, wall;
	int ret, err;

	ret = q8_load(args, &q);
	if (ret != CLI_EXIT_OK)
		goto out_release;
	ret = cli_open_device(args->device, &dev, &info);
	if (ret != CLI_EXIT_OK)
		goto out_release;
	g = (struct sampan_gemm_q8){q.m, q.k, q.n, q.a, q.sa, q.w, q.sw, q.bias, q.out};
	t0 = cli_now();
	err = sampan_gemm_q8(dev, &g);
	wall = cli_now() - t0;
	if (err != SAMPAN_OK) {
		ret = cli_library_error("gemm failed", err);
		goto out_close;
	}
	if ((err = sampan_get_stats(dev, &st)) != SAMPAN_OK) {
		ret = cli_library_error("cannot read the job statistics", err);
		goto out_close;
	}
	if (args->check && (mismatches = q8_check(&q, &g)) < 0) {
		cli_error("out of memory for the reference result");
		ret = CLI_EXIT_FAIL;
		goto out_close;
	}
	if (args->path_out) {
		int64_t shape[2] = {q.m, q.n};
		char msg[512];

		if (npy_write(args->path_out, NPY_FLOAT32, 2, shape, q.out, msg, sizeof(msg)) !=
		    SAMPAN_OK) {
			cli_error("%s", msg);
			ret = CLI_EXIT_FAIL;
			goto out_close;
		}
	}
	q8_print(args, &q, &info, &st, mismatches, wall);
	ret = mismatches ? CLI_EXIT_FAIL : CLI_EXIT_OK;

out_close:
	sampan_close(dev);
out_release:
	q8_release(&q);
	return ret;
}

/* ------------------------------------------------------------------ main */

int cmd_gemm(int argc, char **argv)
{
	struct gemm_args args = {
	    .m = {.name = "M"}, .k = {.name = "K"}, .n = {.name = "N"}, .seed = 1};
	struct gemm_data d = {.lo = -128, .hi = 127};
	struct sampan_device *dev;
	struct sampan_info info;
	struct sampan_stats st;
	struct sampan_gemm g;
	int64_t mismatches = 0;
	double t0, wall;
	int ret, err;

	ret = parse_args(argc, argv, &args, &d);
	if (ret < 0)
		return CLI_EXIT_OK;
	if (ret != CLI_EXIT_OK)
		return ret;
	if (args.q8)
		return gemm_q8_main(&args);
	ret = load_operands(&args, &d);
	if (ret != CLI_EXIT_OK)
		goto out_release;
	if (gemm_data_fill(&d, (uint64_t)args.seed) != SAMPAN_OK) {
		cli_error("out of memory for a %lldx%lldx%lld GEMM", (long long)d.m, (long long)d.k,
		          (long long)d.n);
		ret = CLI_EXIT_FAIL;
		goto out_release;
	}
	ret = cli_open_device(args.device, &dev, &info);
	if (ret != CLI_EXIT_OK)
		goto out_release;

	g = gemm_data_desc(&d);
	t0 = cli_now();
	err = sampan_gemm(dev, &g);
	wall = cli_now() - t0;
	if (err != SAMPAN_OK) {
		ret = cli_library_error("gemm failed", err);
		goto out_close;
	}
	err = sampan_get_stats(dev, &st);
	if (err != SAMPAN_OK) {
		ret = cli_library_error("cannot read the job statistics", err);
		goto out_close;
	}
	if (args.check) {
		mismatches = check_result(&d);
		if (mismatches < 0) {
			cli_error("out of memory for the reference result");
			ret = CLI_EXIT_FAIL;
			goto out_close;
		}
	}
	if (args.path_out) {
		int64_t shape[2] = {d.m, d.n};
		char msg[512];

		if (npy_write(args.path_out, d.raw ? NPY_INT32 : NPY_INT8, 2, shape, d.out, msg,
		              sizeof(msg)) != SAMPAN_OK) {
			cli_error("%s", msg);
			ret = CLI_EXIT_FAIL;
			goto out_close;
		}
	}
	if (args.json)
		print_json(&args, &d, &info, &st, mismatches, wall);
	else
		print_human(&args, &d, &info, &st, mismatches, wall);
	ret = mismatches ? CLI_EXIT_FAIL : CLI_EXIT_OK;

out_close:
	sampan_close(dev);
out_release:
	gemm_data_release(&d);
	return ret;
}
