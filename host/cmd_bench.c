/*
 * cmd_bench.c - `sampan bench`: a list of GEMM shapes on one device, with
 * the measured utilization next to the best the architecture allows.
 *
 * The bound of a shape is a roofline. Compute: the array needs at least
 * ceil(M/R) * ceil(N/C) * K cycles (one k-step per cycle per output tile);
 * a device with the matrix-vector engine, in tiles of
 * MV_ROWS rows, ceil(M/MV_ROWS) * ceil(N/C) * K / KW (KW = bus/C steps a
 * cycle), whichever is less. Memory: the bytes the job must move (A and W
 * once, unpadded; Q8_0 scales; the per-channel parameters; the outputs
 * written) at bus_bytes per cycle, reads and writes sharing the bus as in
 * card DRAM. util_bound is macs / (max(both floors) * R * C), util_bound_mem
 * the same with the memory floor alone (both capped at 1); of_bound and
 * of_mem_bound are the floors over the measured cycles: how close the run
 * came to the roofline and to the memory-bandwidth bound.
 *
 * Shapes are int8 (requantized) GEMMs, or block-scaled ones with a ":q8_0"
 * suffix (sampan_gemm_q8, weights sent with the job).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gemm_data.h"

static const char bench_help[] =
    "usage: sampan bench [-d DEV] [--json] [--shapes MxKxN[:q8_0],...]\n"
    "\n"
    "Runs random GEMMs of each shape (seed 1), requantized int8 or, with the\n"
    "suffix :q8_0, block-scaled, and prints cycles, MACs, array utilization,\n"
    "its bound (roofline of compute and memory bandwidth), the fraction of\n"
    "the memory-bandwidth bound reached (bytes the job must move / bus bytes\n"
    "per cycle, over the cycles), the stall breakdown and wall time.\n"
    "\n"
    "  -d, --device DEV     device to use (default: sim)\n"
    "      --shapes LIST    comma-separated shapes (default:\n"
    "                       64x64x64,256x16x256,256x64x256,256x256x256,\n"
    "                       16x4096x16,1x1024x1024,1000x1000x1000,\n"
    "                       1024x1024x1024,1x4096x4096,1x1024x1024:q8_0,\n"
    "                       1x4096x4096:q8_0,16x4096x4096:q8_0,\n"
    "                       64x1024x1024:q8_0)\n"
    "      --json           one JSON object on stdout:\n"
    "                       {\"device\", \"rows\", \"cols\", \"results\": [...]};\n"
    "                       the table then goes to stderr as progress\n"
    "  -h, --help           this help\n";

static const char default_shapes[] =
    "64x64x64,256x16x256,256x64x256,256x256x256,16x4096x16,1x1024x1024,1000x1000x1000,"
    "1024x1024x1024,1x4096x4096,1x1024x1024:q8_0,1x4096x4096:q8_0,16x4096x4096:q8_0,"
    "64x1024x1024:q8_0";

enum { OPT_HELP = 1, OPT_DEVICE, OPT_JSON, OPT_SHAPES };

static const struct cli_option bench_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"device", 'd', true, OPT_DEVICE},
    {"json", 0, false, OPT_JSON},
    {"shapes", 0, true, OPT_SHAPES},
    {NULL, 0, false, 0},
};

/* One shape and what it measured. */
struct bench_result {
	int64_t m, k, n;
	bool q8; /* block-scaled */
	struct sampan_stats st;
	uint64_t compute_floor, mem_floor; /* cycles */
	uint64_t mem_bytes;                /* bytes the job must move */
	double wall;
};

/* Parses one "MxKxN" of @len bytes into @r; false after a usage error. */
static bool parse_shape(const char *text, size_t len, struct bench_result *r)
{
	int64_t *dst[3] = {&r->m, &r->k, &r->n};
	char buf[64], what[80], *dims[3], *x = buf;

	if (len >= sizeof(buf)) {
		cli_usage_error("bench", "--shapes: '%.*s' is not of the form MxKxN", (int)len,
		                text);
		return false;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	x = strchr(buf, ':');
	if (x) {
		if (strcmp(x, ":q8_0") && strcmp(x, ":int8")) {
			cli_usage_error("bench",
			                "--shapes: '%.*s': the format suffix is :q8_0 or :int8",
			                (int)len, text);
			return false;
		}
		r->q8 = strcmp(x, ":q8_0") == 0;
		*x = '\0';
	}
	x = buf;
	for (int d = 0; d < 3; d++) {
		dims[d] = x;
		x = strchr(x, 'x');
		if ((x == NULL) != (d == 2)) {
			cli_usage_error("bench", "--shapes: '%.*s' is not of the form MxKxN",
			                (int)len, text);
			return false;
		}
		if (x)
			*x++ = '\0';
	}
	snprintf(what, sizeof(what), "--shapes %.*s", (int)len, text);
	for (int d = 0; d < 3; d++)
		if (!cli_parse_int("bench", what, dims[d], 1, GEMM_MAX_DIM, dst[d]))
			return false;
	if (r->q8 && r->k % 32) {
		cli_usage_error("bench", "--shapes %.*s: q8_0 needs K a multiple of 32", (int)len,
		                text);
		return false;
	}
	if ((uint64_t)r->m * (uint64_t)r->k > GEMM_MAX_BYTES ||
	    (uint64_t)r->n * (uint64_t)r->k > GEMM_MAX_BYTES ||
	    gemm_out_bytes(r->m, r->n, false) > GEMM_MAX_BYTES) {
		cli_usage_error("bench", "--shapes: %.*s is too large", (int)len, text);
		return false;
	}
	return true;
}

/* Parses "MxKxN,..." into a malloc'd array; returns the count, or -1 after
 * a usage error. */
static int parse_shapes(const char *text, struct bench_result **out)
{
	size_t count = 1, i = 0;
	struct bench_result *r;

	for (const char *p = text; *p; p++)
		count += *p == ',';
	r = calloc(count, sizeof(*r));
	if (!r) {
		cli_error("out of memory");
		return -1;
	}
	for (const char *p = text;; i++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!parse_shape(p, len, &r[i])) {
			free(r);
			return -1;
		}
		if (!end)
			break;
		p = end + 1;
	}
	*out = r;
	return (int)count;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/* The compute and memory floors of @r on @info (see the file comment). */
static void set_floors(struct bench_result *r, const struct sampan_info *info)
{
	uint64_t m = (uint64_t)r->m, k = (uint64_t)r->k, n = (uint64_t)r->n;
	uint64_t m_tiles = ceil_div(m, info->rows), n_tiles = ceil_div(n, info->cols);
	uint64_t bytes = (m + n) * k;

	if (r->q8)
		bytes += 2 * (m + n) * (k / 32) + 4 * n + 4 * m * n; /* scales, bias, fp32 out */
	else
		bytes += 12 * n + m * n; /* bias, mult, shift; int8 out */
	r->mem_bytes = bytes;
	r->compute_floor = m_tiles * n_tiles * k;
	if ((info->features & SAMPAN_FEATURE_MATVEC) && info->mv_rows && info->cols &&
	    info->bus_bytes >= info->cols) {
		uint64_t kw = info->bus_bytes / info->cols;
		uint64_t wide = ceil_div(m, info->mv_rows) * n_tiles * ceil_div(k, kw);

		if (wide < r->compute_floor)
			r->compute_floor = wide;
	}
	r->mem_floor = info->bus_bytes ? ceil_div(bytes, info->bus_bytes) : 0;
}

static uint64_t floor_cycles(const struct bench_result *r)
{
	return r->compute_floor > r->mem_floor ? r->compute_floor : r->mem_floor;
}

/* The utilization the device would reach in @floor cycles, at most 1. */
static double util_bound(const struct bench_result *r, const struct sampan_info *info,
                         uint64_t floor)
{
	double u = (double)r->st.macs / ((double)floor * info->rows * info->cols);

	return u < 1.0 ? u : 1.0;
}

/* Runs one block-scaled shape: random int8 operands with scales around
 * 2^-8; returns an exit code. */
static int run_shape_q8(struct sampan_device *dev, const struct sampan_info *info,
                        struct bench_result *r)
{
	size_t ma = (size_t)(r->m * r->k), mw = (size_t)(r->n * r->k);
	size_t sa_n = (size_t)(r->m * (r->k / 32)), sw_n = (size_t)(r->n * (r->k / 32));
	int8_t *a = malloc(ma), *w = malloc(mw);
	uint16_t *sa = malloc(sa_n * 2), *sw = malloc(sw_n * 2);
	float *bias = malloc((size_t)r->n * sizeof(float));
	float *out = malloc((size_t)(r->m * r->n) * sizeof(float));
	struct cli_rng rng;
	struct sampan_gemm_q8 g = {r->m, r->k, r->n, a, sa, w, sw, bias, out};
	double t0;
	int err, ret = CLI_EXIT_FAIL;

	if (!a || !w || !sa || !sw || !bias || !out) {
		cli_error("out of memory for %lldx%lldx%lld", (long long)r->m, (long long)r->k,
		          (long long)r->n);
		goto out_free;
	}
	cli_rng_seed(&rng, 1);
	for (size_t i = 0; i < ma; i++)
		a[i] = (int8_t)cli_rng_range(&rng, -127, 127);
	for (size_t i = 0; i < mw; i++)
		w[i] = (int8_t)cli_rng_range(&rng, -127, 127);
	for (size_t i = 0; i < sa_n; i++)
		sa[i] = (uint16_t)cli_rng_range(&rng, 0x1C00, 0x2000); /* 2^-8 .. 2^-7 */
	for (size_t i = 0; i < sw_n; i++)
		sw[i] = (uint16_t)cli_rng_range(&rng, 0x1C00, 0x2000);
	for (int64_t i = 0; i < r->n; i++)
		bias[i] = (float)cli_rng_range(&rng, -100, 100) / 64.0f;
	t0 = cli_now();
	err = sampan_gemm_q8(dev, &g);
	r->wall = cli_now() - t0;
	if (err != SAMPAN_OK) {
		cli_library_error("gemm failed", err);
		goto out_free;
	}
	err = sampan_get_stats(dev, &r->st);
	if (err != SAMPAN_OK) {
		cli_library_error("cannot read the job statistics", err);
		goto out_free;
	}
	set_floors(r, info);
	ret = CLI_EXIT_OK;
out_free:
	free(a);
	free(w);
	free(sa);
	free(sw);
	free(bias);
	free(out);
	return ret;
}

/* Runs one shape; returns an exit code. */
static int run_shape(struct sampan_device *dev, const struct sampan_info *info,
                     struct bench_result *r)
{
	struct gemm_data d = {.m = r->m, .k = r->k, .n = r->n, .lo = -128, .hi = 127};
	struct sampan_gemm g;
	double t0;
	int err, ret = CLI_EXIT_FAIL;

	if (r->q8)
		return run_shape_q8(dev, info, r);
	if (gemm_data_fill(&d, 1) != SAMPAN_OK) {
		cli_error("out of memory for %lldx%lldx%lld", (long long)r->m, (long long)r->k,
		          (long long)r->n);
		goto out_release;
	}
	g = gemm_data_desc(&d);
	t0 = cli_now();
	err = sampan_gemm(dev, &g);
	r->wall = cli_now() - t0;
	if (err != SAMPAN_OK) {
		cli_library_error("gemm failed", err);
		goto out_release;
	}
	err = sampan_get_stats(dev, &r->st);
	if (err != SAMPAN_OK) {
		cli_library_error("cannot read the job statistics", err);
		goto out_release;
	}
	set_floors(r, info);
	ret = CLI_EXIT_OK;
out_release:
	gemm_data_release(&d);
	return ret;
}

/* ---------------------------------------------------------------- report */

static void print_header(FILE *f, const struct sampan_info *info)
{
	fprintf(f, "device %s (%s, %ux%u array, %u bytes/cycle bus", info->name, info->backend,
	        info->rows, info->cols, info->bus_bytes);
	if (info->clock_mhz)
		fprintf(f, ", %u MHz", info->clock_mhz);
	fprintf(f, ")\n%-22s %12s %12s %7s %7s %-7s %7s %6s %6s %6s %9s\n", "shape", "cycles",
	        "MACs", "util", "bound", "by", "of_mem", "busy", "st_mem", "st_dep", "wall_s");
}

static void print_row(FILE *f, const struct bench_result *r, const struct sampan_info *info)
{
	const struct sampan_stats *st = &r->st;
	char shape[64];

	snprintf(shape, sizeof(shape), "%lldx%lldx%lld%s", (long long)r->m, (long long)r->k,
	         (long long)r->n, r->q8 ? ":q8_0" : "");
	fprintf(f, "%-22s ", shape);
	if (st->cycles)
		fprintf(f, "%12llu %12llu %6.1f%% ", (unsigned long long)st->cycles,
		        (unsigned long long)st->macs, 100.0 * sampan_utilization(st, info));
	else
		fprintf(f, "%12s %12llu %7s ", "-", (unsigned long long)st->macs, "-");
	fprintf(f, "%6.1f%% %-7s ", 100.0 * util_bound(r, info, floor_cycles(r)),
	        r->mem_floor > r->compute_floor ? "memory" : "compute");
	if (st->cycles)
		fprintf(f, "%6.1f%% ", 100.0 * (double)r->mem_floor / (double)st->cycles);
	else
		fprintf(f, "%7s ", "-");
	if (st->cycles)
		fprintf(f, "%5.1f%% %5.1f%% %5.1f%% ", 100.0 * (double)st->busy_cycles / st->cycles,
		        100.0 * (double)st->stall_mem / st->cycles,
		        100.0 * (double)st->stall_dep / st->cycles);
	else
		fprintf(f, "%6s %6s %6s ", "-", "-", "-");
	fprintf(f, "%9.3f\n", r->wall);
	fflush(f);
}

static void print_json(const struct bench_result *r, int count, const struct sampan_info *info)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "device", info->name);
	json_string(&j, "backend", info->backend);
	json_uint(&j, "rows", info->rows);
	json_uint(&j, "cols", info->cols);
	json_uint(&j, "bus_bytes", info->bus_bytes);
	json_uint(&j, "clock_mhz", info->clock_mhz);
	json_uint(&j, "mv_rows", info->mv_rows);
	json_array_begin(&j, "results");
	for (int i = 0; i < count; i++) {
		json_object_begin(&j, NULL);
		json_string(&j, "format", r[i].q8 ? "q8_0" : "int8");
		json_int(&j, "m", r[i].m);
		json_int(&j, "k", r[i].k);
		json_int(&j, "n", r[i].n);
		json_uint(&j, "cycles", r[i].st.cycles);
		json_uint(&j, "macs", r[i].st.macs);
		if (r[i].st.cycles)
			json_double(&j, "utilization", sampan_utilization(&r[i].st, info));
		else
			json_null(&j, "utilization");
		json_double(&j, "util_bound", util_bound(&r[i], info, floor_cycles(&r[i])));
		json_double(&j, "util_bound_mem", util_bound(&r[i], info, r[i].mem_floor));
		json_string(&j, "bound_by",
		            r[i].mem_floor > r[i].compute_floor ? "memory" : "compute");
		json_uint(&j, "floor_cycles", floor_cycles(&r[i]));
		json_uint(&j, "compute_floor_cycles", r[i].compute_floor);
		json_uint(&j, "mem_floor_cycles", r[i].mem_floor);
		json_uint(&j, "mem_bytes", r[i].mem_bytes);
		if (r[i].st.cycles) {
			json_double(&j, "of_bound",
			            (double)floor_cycles(&r[i]) / (double)r[i].st.cycles);
			json_double(&j, "of_mem_bound",
			            (double)r[i].mem_floor / (double)r[i].st.cycles);
		} else {
			json_null(&j, "of_bound");
			json_null(&j, "of_mem_bound");
		}
		json_uint(&j, "busy_cycles", r[i].st.busy_cycles);
		json_uint(&j, "stall_mem", r[i].st.stall_mem);
		json_uint(&j, "stall_dep", r[i].st.stall_dep);
		json_uint(&j, "dev_bytes_read", r[i].st.dev_bytes_read);
		json_uint(&j, "dev_bytes_written", r[i].st.dev_bytes_written);
		json_uint(&j, "host_bytes_in", r[i].st.host_bytes_in);
		json_uint(&j, "commands", r[i].st.commands);
		json_double(&j, "wall_seconds", r[i].wall);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

/* ------------------------------------------------------------------ main */

int cmd_bench(int argc, char **argv)
{
	const char *device = NULL, *shapes = default_shapes, *v;
	struct bench_result *results;
	struct sampan_device *dev;
	struct sampan_info info;
	struct cli_parser p;
	bool json = false;
	FILE *table;
	int id, count, ret;

	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_option(&p, bench_options, &v)) > 0) {
		if (id == OPT_HELP) {
			fputs(bench_help, stdout);
			return CLI_EXIT_OK;
		}
		if (id == OPT_DEVICE)
			device = v;
		else if (id == OPT_SHAPES)
			shapes = v;
		else
			json = true;
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	count = parse_shapes(shapes, &results);
	if (count < 0)
		return CLI_EXIT_USAGE;
	ret = cli_open_device(device, &dev, &info);
	if (ret != CLI_EXIT_OK)
		goto out_free;

	/* The default list leaves out block-scaled shapes on a device without
	 * the commands (a 1.0 or lite core); asked for by name, they fail. */
	if (shapes == default_shapes && !(info.features & SAMPAN_FEATURE_BLOCK_SCALED)) {
		int kept = 0;

		for (int i = 0; i < count; i++)
			if (!results[i].q8)
				results[kept++] = results[i];
		if (kept < count)
			cli_error("note: device '%s' has no block-scaled commands: the q8_0 shapes "
			          "are left out",
			          info.name);
		count = kept;
	}
	/* With --json, stdout holds only the JSON; the table is progress. */
	table = json ? stderr : stdout;
	print_header(table, &info);
	for (int i = 0; i < count; i++) {
		ret = run_shape(dev, &info, &results[i]);
		if (ret != CLI_EXIT_OK)
			goto out_close;
		print_row(table, &results[i], &info);
	}
	if (json)
		print_json(results, count, &info);

out_close:
	sampan_close(dev);
out_free:
	free(results);
	return ret;
}
