/*
 * test_gemm.c - GEMMs through libsampan on every device with no board
 * (cpu, the functional model, and sim, the RTL in Verilator), each result
 * bit-exact against the naive reference; plus asynchronous jobs, the
 * statistics, the device info and card-memory buffers.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm_case.h"
#include "sampan.h"
#include "util.h"

/* No test may hang the suite: a bound for those without their own. */
TestSuite(gemm, .timeout = 120);
TestSuite(buffer, .timeout = 120);

#ifndef TEST_ROWS
#define TEST_ROWS 16
#endif
#ifndef TEST_COLS
#define TEST_COLS 16
#endif

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

/* A parameter: the device name and which slice of a sweep to run. The
 * name is stored inline because Criterion copies parameters into the test
 * process. */
struct dev_param {
	char dev[48];
	int part;
};

static struct sampan_device *open_dev(const char *name)
{
	struct sampan_device *dev = NULL;
	int err = sampan_open(&dev, name);

	cr_assert_eq(err, SAMPAN_OK, "sampan_open(%s): %s: %s", name, sampan_strerror(err),
	             sampan_last_error());
	cr_assert_not_null(dev);
	return dev;
}

static int is_sim(const char *name)
{
	return strncmp(name, "sim", 3) == 0;
}

/* ------------------------------------------------------- random shapes */

#define PARTS 4
#define CASES_PER_PART 50

/* Devices of the random sweep: the two defaults four slices each (200
 * problems per device), plus one slice on a functional model shaped to
 * stress the tiling (small array, short banks, few slots) and one on the
 * RTL behind slow, narrow memory. */
static const char *const sweep_devices[][2] = {
    {"cpu", "4"},
    {"sim", "4"},
    {"cpu:rows=4,cols=4,k_depth=64,slots=2", "1"},
    {"cpu:rows=8,cols=16,k_depth=128,entries=1", "1"},
    {"sim:latency=300,bw=8", "1"},
};

ParameterizedTestParameters(gemm, random_shapes)
{
	static struct dev_param params[2 * PARTS + 3];
	size_t n = 0;

	for (size_t d = 0; d < COUNT(sweep_devices); d++)
		for (int i = 0; i < atoi(sweep_devices[d][1]); i++) {
			snprintf(params[n].dev, sizeof(params[n].dev), "%s", sweep_devices[d][0]);
			params[n++].part = i;
		}
	return cr_make_param_array(struct dev_param, params, n);
}

/* 50 random problems per slice, 4 slices per device: 200 per device. */
ParameterizedTest(struct dev_param *p, gemm, random_shapes, .timeout = 900)
{
	/* The functional model is fast: full sizes and K across chunks. The
	 * RTL simulation gets smaller problems, a few K chunks included. */
	const struct gemm_limits lim =
	    is_sim(p->dev)
	        ? (struct gemm_limits){.max_dim = 300, .max_macs = 12000000, .long_k = 2100}
	        : (struct gemm_limits){.max_dim = 300, .max_macs = 6000000, .long_k = 3000};
	char tag[96];
	uint64_t seed;
	struct rng r;
	struct sampan_device *dev;
	size_t failed = 0;

	snprintf(tag, sizeof(tag), "gemm::random_shapes %s part %d", p->dev, p->part);
	seed = test_seed(tag);
	rng_init(&r, seed);
	dev = open_dev(p->dev);
	for (int i = 0; i < CASES_PER_PART; i++) {
		struct gemm_case c;
		int err;

		gemm_case_random(&c, &r, &lim);
		err = sampan_gemm(dev, &c.g);
		if (err != SAMPAN_OK) {
			fprintf(stderr, "%s case %d: %s: sampan_gemm: %s: %s\n", tag, i, c.desc,
			        sampan_strerror(err), sampan_last_error());
			failed++;
		} else if (gemm_case_mismatches(&c, tag)) {
			fprintf(stderr, "%s (seed %llu) case %d differs\n", tag,
			        (unsigned long long)seed, i);
			failed++;
		}
		gemm_case_free(&c);
	}
	sampan_close(dev);
	cr_assert_eq(failed, 0, "%s: %zu of %d problems wrong (SAMPAN_TEST_SEED=%llu)", tag, failed,
	             CASES_PER_PART, (unsigned long long)seed);
}

/* ------------------------------------------------------- chosen shapes */

ParameterizedTestParameters(gemm, edge_shapes)
{
	static struct dev_param params[] = {{"cpu", 0},
	                                    {"sim", 0},
	                                    {"cpu:rows=4,cols=4,k_depth=64,slots=2", 0},
	                                    {"cpu:rows=16,cols=8,k_depth=1024,entries=1", 0},
	                                    /* a bus width the memory cannot fill in whole beats */
	                                    {"sim:bw=3,latency=7", 0}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* Degenerate and tile-edge shapes, each raw and requantized. */
ParameterizedTest(struct dev_param *p, gemm, edge_shapes, .timeout = 900)
{
	static const long shapes[][3] = {
	    {1, 1, 1},    {1, 300, 1},   {300, 1, 1},   {1, 1, 300},  {15, 15, 15}, {16, 16, 16},
	    {17, 17, 17}, {16, 1, 16},   {33, 7, 31},   {255, 3, 2},  {2, 3, 257},  {256, 1, 16},
	    {7, 1025, 5}, {17, 1100, 3}, {3, 2049, 17}, {64, 64, 64},
	};
	uint64_t seed = test_seed("gemm::edge_shapes");
	struct sampan_device *dev = open_dev(p->dev);
	struct rng r;
	size_t failed = 0;

	rng_init(&r, seed);
	for (size_t i = 0; i < COUNT(shapes); i++)
		for (int raw = 0; raw < 2; raw++) {
			struct gemm_case c;
			int err;

			gemm_case_shape(&c, &r, shapes[i][0], shapes[i][1], shapes[i][2], raw);
			err = sampan_gemm(dev, &c.g);
			if (err != SAMPAN_OK) {
				fprintf(stderr, "%s: %s: %s: %s\n", p->dev, c.desc,
				        sampan_strerror(err), sampan_last_error());
				failed++;
			} else if (gemm_case_mismatches(&c, p->dev)) {
				failed++;
			}
			gemm_case_free(&c);
		}
	sampan_close(dev);
	cr_assert_eq(failed, 0, "%s: %zu problems wrong (SAMPAN_TEST_SEED=%llu)", p->dev, failed,
	             (unsigned long long)seed);
}

ParameterizedTestParameters(gemm, saturation_and_extremes)
{
	static struct dev_param params[] = {{"cpu", 0}, {"sim", 0}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* Everything at the rails at once: operands all -128 or 127, zero points
 * at both ends, bias at INT32_MIN/INT32_MAX (so that acc wraps), outputs
 * saturating at lo and hi. */
ParameterizedTest(struct dev_param *p, gemm, saturation_and_extremes, .timeout = 600)
{
	static const int8_t vals[] = {-128, 127};
	static const int32_t zas[] = {-128, 0, 127};
	static const int32_t biases[] = {INT32_MIN, INT32_MAX, 0};
	struct sampan_device *dev = open_dev(p->dev);
	struct rng r;
	size_t failed = 0, runs = 0;

	rng_init(&r, test_seed("gemm::saturation_and_extremes"));
	for (size_t va = 0; va < 2; va++)
		for (size_t vw = 0; vw < 2; vw++)
			for (size_t z = 0; z < COUNT(zas); z++)
				for (size_t b = 0; b < COUNT(biases); b++) {
					struct gemm_case c;

					gemm_case_shape(&c, &r, 5, 40, 19, (int)((va + z + b) & 1));
					memset(c.a, (uint8_t)vals[va], 5 * 40);
					memset(c.w, (uint8_t)vals[vw], 19 * 40);
					for (int j = 0; j < 19; j++) {
						c.bias[j] = biases[b] + (biases[b] ? 0 : j - 9);
						c.mult[j] = j & 1 ? INT32_MAX : INT32_MIN;
						c.shift[j] = j % 3 == 0 ? 31 : j % 3 == 1 ? -31 : 0;
					}
					c.g.bias = c.bias;
					c.g.za = zas[z];
					c.g.zo = zas[(z + 1) % COUNT(zas)];
					c.g.lo = -128 + (int32_t)z;
					c.g.hi = 127 - (int32_t)b;
					snprintf(
					    c.desc, sizeof(c.desc),
					    "5x40x19 %s a=%d w=%d za=%d zo=%d bias=%d lo=%d hi=%d",
					    c.g.raw ? "raw" : "requant", vals[va], vals[vw],
					    (int)c.g.za, (int)c.g.zo, (int)biases[b], (int)c.g.lo,
					    (int)c.g.hi);
					gemm_case_reference(&c);
					runs++;
					if (sampan_gemm(dev, &c.g) != SAMPAN_OK) {
						fprintf(stderr, "%s: %s: %s\n", p->dev, c.desc,
						        sampan_last_error());
						failed++;
					} else if (gemm_case_mismatches(&c, p->dev)) {
						failed++;
					}
					gemm_case_free(&c);
				}
	sampan_close(dev);
	cr_assert_eq(failed, 0, "%s: %zu of %zu extreme problems wrong", p->dev, failed, runs);
}

/* ------------------------------------------------------- jobs and stats */

ParameterizedTestParameters(gemm, async_two_jobs)
{
	static struct dev_param params[] = {{"cpu", 0}, {"sim", 0}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* Two jobs in flight from the caller's view: the second submit completes
 * the first; both results and both jobs' statistics must be right, waited
 * for in either order. */
ParameterizedTest(struct dev_param *p, gemm, async_two_jobs, .timeout = 300)
{
	uint64_t seed = test_seed("gemm::async_two_jobs");
	struct sampan_device *dev = open_dev(p->dev);
	struct gemm_case c1, c2;
	struct sampan_job *j1 = NULL, *j2 = NULL;
	struct sampan_stats s1, s2;
	struct rng r;
	int err;

	rng_init(&r, seed);
	for (int order = 0; order < 2; order++) {
		gemm_case_shape(&c1, &r, 23, 70, 41, 0);
		gemm_case_shape(&c2, &r, 9, 130, 18, 1);
		err = sampan_gemm_submit(dev, &c1.g, &j1);
		cr_assert_eq(err, SAMPAN_OK, "submit 1: %s", sampan_last_error());
		err = sampan_gemm_submit(dev, &c2.g, &j2);
		cr_assert_eq(err, SAMPAN_OK, "submit 2: %s", sampan_last_error());
		if (order == 0) {
			cr_assert_eq(sampan_job_wait(j2, -1), SAMPAN_OK, "wait 2: %s",
			             sampan_last_error());
			cr_assert_eq(sampan_job_wait(j1, -1), SAMPAN_OK, "wait 1: %s",
			             sampan_last_error());
		} else {
			cr_assert_eq(sampan_job_wait(j1, -1), SAMPAN_OK, "wait 1: %s",
			             sampan_last_error());
			cr_assert_eq(sampan_job_wait(j2, -1), SAMPAN_OK, "wait 2: %s",
			             sampan_last_error());
		}
		cr_expect_eq(gemm_case_mismatches(&c1, "job 1"), 0, "job 1 wrong (order %d)",
		             order);
		cr_expect_eq(gemm_case_mismatches(&c2, "job 2"), 0, "job 2 wrong (order %d)",
		             order);
		cr_assert_eq(sampan_job_stats(j1, &s1), SAMPAN_OK);
		cr_assert_eq(sampan_job_stats(j2, &s2), SAMPAN_OK);
		cr_expect_eq(s1.macs, 23u * 70 * 41, "job 1 macs %llu",
		             (unsigned long long)s1.macs);
		cr_expect_eq(s2.macs, 9u * 130 * 18, "job 2 macs %llu",
		             (unsigned long long)s2.macs);
		sampan_job_destroy(j1);
		sampan_job_destroy(j2);
		gemm_case_free(&c1);
		gemm_case_free(&c2);
	}
	sampan_close(dev);
}

ParameterizedTestParameters(gemm, stats_and_info)
{
	static struct dev_param params[] = {{"cpu", 0}, {"sim", 0}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

ParameterizedTest(struct dev_param *p, gemm, stats_and_info, .timeout = 300)
{
	static const long shapes[][3] = {{37, 300, 53}, {1, 1, 1}, {16, 64, 16}};
	struct sampan_device *dev = open_dev(p->dev);
	struct sampan_info info;
	struct rng r;

	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_str_eq(info.backend, p->dev);
	cr_expect_gt(info.rows, 0);
	cr_expect_gt(info.cols, 0);
	if (is_sim(p->dev)) {
		cr_expect_eq(info.rows, TEST_ROWS, "rows %u, built with ROWS=%d", info.rows,
		             TEST_ROWS);
		cr_expect_eq(info.cols, TEST_COLS, "cols %u, built with COLS=%d", info.cols,
		             TEST_COLS);
		cr_expect_eq(info.hw_version, 0x00010100u, "hw_version 0x%x", info.hw_version);
		cr_expect(info.features & SAMPAN_FEATURE_BLOCK_SCALED, "features 0x%x",
		          info.features);
		cr_expect_gt(info.clock_mhz, 0);
	}
	cr_expect_gt(info.k_depth, 0);
	cr_expect_gt(info.acc_slots, 0);
	cr_expect_gt(info.param_entries, 0);
	cr_expect_gt(info.bus_bytes, 0);
	cr_expect_gt(info.mem_bytes, 0);

	rng_init(&r, test_seed("gemm::stats_and_info"));
	for (size_t i = 0; i < COUNT(shapes); i++) {
		struct gemm_case c;
		struct sampan_stats s;
		double util;
		uint64_t macs = (uint64_t)(shapes[i][0] * shapes[i][1] * shapes[i][2]);

		gemm_case_shape(&c, &r, shapes[i][0], shapes[i][1], shapes[i][2], 0);
		cr_assert_eq(sampan_gemm(dev, &c.g), SAMPAN_OK, "%s", sampan_last_error());
		cr_expect_eq(gemm_case_mismatches(&c, p->dev), 0);
		cr_assert_eq(sampan_get_stats(dev, &s), SAMPAN_OK, "%s", sampan_last_error());
		util = sampan_utilization(&s, &info);
		cr_expect_eq(s.macs, macs, "%s: macs %llu, want %llu", c.desc,
		             (unsigned long long)s.macs, (unsigned long long)macs);
		cr_expect_geq(s.wall_seconds, 0.0);
		if (is_sim(p->dev)) {
			cr_expect_gt(s.cycles, 0, "%s: no cycles", c.desc);
			cr_expect_gt(s.commands, 0);
			cr_expect_gt(s.dev_bytes_read, 0);
			cr_expect_gt(s.dev_bytes_written, 0);
			cr_expect_gt(util, 0.0, "%s: utilization %g", c.desc, util);
		}
		if (s.cycles)
			cr_expect_leq(
			    s.busy_cycles + s.stall_mem + s.stall_dep, s.cycles,
			    "%s: busy %llu + stalls %llu + %llu > cycles %llu", c.desc,
			    (unsigned long long)s.busy_cycles, (unsigned long long)s.stall_mem,
			    (unsigned long long)s.stall_dep, (unsigned long long)s.cycles);
		cr_expect_leq(util, 1.0, "%s: utilization %g", c.desc, util);
		if (s.cycles == 0)
			cr_expect_eq(util, 0.0, "utilization %g without cycles", util);
		else
			cr_expect_eq(util,
			             (double)s.macs / ((double)s.cycles * info.rows * info.cols));
		gemm_case_free(&c);
	}
	sampan_close(dev);
}

/* ------------------------------------------------------------- buffers */

ParameterizedTestParameters(buffer, round_trip)
{
	static struct dev_param params[] = {{"cpu", 0}, {"sim", 0}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

ParameterizedTest(struct dev_param *p, buffer, round_trip)
{
	struct sampan_device *dev = open_dev(p->dev);
	struct sampan_buffer *b1 = NULL, *b2 = NULL;
	uint8_t src[5000], dst[5000];
	uint64_t a1, a2;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 37 + 11);
	cr_assert_eq(sampan_buffer_create(dev, sizeof(src), &b1), SAMPAN_OK, "%s",
	             sampan_last_error());
	cr_assert_eq(sampan_buffer_create(dev, 100, &b2), SAMPAN_OK, "%s", sampan_last_error());
	a1 = sampan_buffer_address(b1);
	a2 = sampan_buffer_address(b2);
	cr_expect(a1 + sizeof(src) <= a2 || a2 + 100 <= a1, "buffers overlap: 0x%llx and 0x%llx",
	          (unsigned long long)a1, (unsigned long long)a2);

	cr_assert_eq(sampan_buffer_write(b1, 0, src, sizeof(src)), SAMPAN_OK);
	cr_assert_eq(sampan_buffer_write(b2, 0, src + 1000, 100), SAMPAN_OK);
	memset(dst, 0, sizeof(dst));
	cr_assert_eq(sampan_buffer_read(b1, 0, dst, sizeof(dst)), SAMPAN_OK);
	cr_expect_arr_eq(dst, src, sizeof(src), "whole buffer differs");
	/* an unaligned window in the middle */
	cr_assert_eq(sampan_buffer_write(b1, 1237, "sampan", 6), SAMPAN_OK);
	cr_assert_eq(sampan_buffer_read(b1, 1235, dst, 10), SAMPAN_OK);
	cr_expect_arr_eq(dst + 2, "sampan", 6);
	cr_expect_eq(dst[0], src[1235]);
	cr_expect_eq(dst[9], src[1244]);
	/* the other buffer was not touched */
	cr_assert_eq(sampan_buffer_read(b2, 0, dst, 100), SAMPAN_OK);
	cr_expect_arr_eq(dst, src + 1000, 100);
	/* out of range */
	cr_expect_neq(sampan_buffer_write(b2, 90, src, 11), SAMPAN_OK, "write past the end");
	cr_expect_neq(sampan_buffer_read(b2, 101, dst, 1), SAMPAN_OK, "read past the end");
	cr_expect_neq(sampan_buffer_read(b2, SIZE_MAX, dst, 2), SAMPAN_OK, "offset overflow");
	sampan_buffer_destroy(b2);
	sampan_buffer_destroy(b1);
	sampan_close(dev);
}

/* ------------------------------------------------------- job lifetime */

/* A wait that times out leaves the job valid: a second wait completes it
 * with the right result. */
Test(gemm, wait_timeout_then_complete, .timeout = 300)
{
	uint64_t seed = test_seed("gemm::wait_timeout_then_complete");
	struct sampan_device *dev = open_dev("sim");
	struct sampan_job *job = NULL;
	struct gemm_case c;
	struct rng r;
	int err;

	rng_init(&r, seed);
	gemm_case_shape(&c, &r, 200, 900, 150, 0);
	cr_assert_eq(sampan_gemm_submit(dev, &c.g, &job), SAMPAN_OK, "%s", sampan_last_error());
	err = sampan_job_wait(job, 0);
	cr_expect(err == SAMPAN_OK || err == SAMPAN_ERROR_TIMEOUT, "wait(0): %s: %s",
	          sampan_strerror(err), sampan_last_error());
	if (err == SAMPAN_ERROR_TIMEOUT)
		cr_expect_neq(sampan_last_error()[0], '\0', "timeout without a message");
	cr_assert_eq(sampan_job_wait(job, -1), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(gemm_case_mismatches(&c, "after a timed-out wait"), 0);
	sampan_job_destroy(job);
	gemm_case_free(&c);
	sampan_close(dev);
}

ParameterizedTestParameters(gemm, abandoned_job)
{
	static struct dev_param params[] = {{"cpu", 0}, {"sim", 0}};

	return cr_make_param_array(struct dev_param, params, COUNT(params));
}

/* A job destroyed without a wait must not disturb the next one (and, under
 * SANITIZE=1, must not leak or touch freed memory). */
ParameterizedTest(struct dev_param *p, gemm, abandoned_job, .timeout = 300)
{
	struct sampan_device *dev = open_dev(p->dev);
	struct sampan_job *job = NULL;
	struct gemm_case c1, c2;
	struct rng r;

	rng_init(&r, test_seed("gemm::abandoned_job"));
	gemm_case_shape(&c1, &r, 40, 300, 40, 0);
	gemm_case_shape(&c2, &r, 17, 33, 9, 1);
	cr_assert_eq(sampan_gemm_submit(dev, &c1.g, &job), SAMPAN_OK, "%s", sampan_last_error());
	sampan_job_destroy(job);
	cr_assert_eq(sampan_gemm(dev, &c2.g), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(gemm_case_mismatches(&c2, p->dev), 0);
	/* and one left in flight when the device closes */
	cr_assert_eq(sampan_gemm_submit(dev, &c1.g, &job), SAMPAN_OK, "%s", sampan_last_error());
	sampan_job_destroy(job);
	sampan_close(dev);
	gemm_case_free(&c1);
	gemm_case_free(&c2);
}

/* ------------------------------------------------------- devices */

Test(gemm, list_devices)
{
	struct sampan_device_desc descs[16];
	size_t count = 0, none = 0;
	int sim = 0, cpu = 0;

	cr_assert_eq(sampan_list_devices(descs, COUNT(descs), &count), SAMPAN_OK, "%s",
	             sampan_last_error());
	cr_assert_geq(count, 2);
	for (size_t i = 0; i < count && i < COUNT(descs); i++) {
		cr_expect_neq(descs[i].name[0], '\0', "entry %zu has no name", i);
		cr_expect_neq(descs[i].description[0], '\0', "%s has no description",
		              descs[i].name);
		sim += !strcmp(descs[i].name, "sim") && descs[i].available;
		cpu += !strcmp(descs[i].name, "cpu") && descs[i].available;
	}
	cr_expect_eq(sim, 1, "sim listed %d times as available", sim);
	cr_expect_eq(cpu, 1, "cpu listed %d times as available", cpu);
	/* counting only */
	cr_assert_eq(sampan_list_devices(NULL, 0, &none), SAMPAN_OK);
	cr_expect_eq(none, count);
}

/* sim:trace=FILE writes an FST waveform of the run. */
Test(gemm, sim_trace_writes_fst, .timeout = 300)
{
	char dir[] = "/tmp/sampan-trace-XXXXXX", name[96], path[64];
	struct sampan_device *dev;
	struct gemm_case c;
	struct rng r;
	unsigned char head[8] = {0};
	FILE *f;
	long size;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run.fst", dir);
	snprintf(name, sizeof(name), "sim:trace=%s", path);
	dev = open_dev(name);
	rng_init(&r, test_seed("gemm::sim_trace_writes_fst"));
	gemm_case_shape(&c, &r, 5, 20, 6, 0);
	cr_assert_eq(sampan_gemm(dev, &c.g), SAMPAN_OK, "%s", sampan_last_error());
	cr_expect_eq(gemm_case_mismatches(&c, "traced"), 0);
	sampan_close(dev);
	gemm_case_free(&c);

	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s was not written", path);
	cr_expect_eq(fread(head, 1, sizeof(head), f), sizeof(head));
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	/* an FST file starts with its header block, type 0 */
	cr_expect_eq(head[0], 0, "not an FST file (first byte %u)", head[0]);
	cr_expect_gt(size, 100, "trace of %ld bytes", size);
	remove(path);
	rmdir(dir);
}
