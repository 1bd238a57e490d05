/*
 * test_cli.c - the `sampan` command as a user runs it: exit codes (0 ok,
 * 1 failure, 2 usage), --json output, .npy operands and results checked
 * against ref.c, and clear errors on bad input. The binary's path comes
 * from the Makefile as SAMPAN_CLI.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "npyio.h"
#include "ref.h"
#include "spawn.h"
#include "util.h"

/* No test may hang the suite: a bound for those without their own. */
TestSuite(cli, .timeout = 120);

#ifndef SAMPAN_CLI
#error "build with -DSAMPAN_CLI=\"path/to/sampan\""
#endif
#ifndef TEST_ROWS
#define TEST_ROWS 16
#endif
#ifndef TEST_COLS
#define TEST_COLS 16
#endif

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))
#define CLI_TIMEOUT 300

/* Runs the CLI with @args (NULL-terminated, without argv[0]) and extra
 * environment @env (may be NULL); fails the test on a timeout. */
static void cli(struct spawn_result *res, const char *const *args, char *const *env)
{
	char *argv[48];
	size_t n = 0;
	char cmdline[1024];
	size_t used = 0;

	argv[n++] = SAMPAN_CLI;
	for (size_t i = 0; args[i] && n < COUNT(argv) - 1; i++) {
		argv[n++] = (char *)args[i];
		used += (size_t)snprintf(cmdline + used, sizeof(cmdline) - used, " %s", args[i]);
		if (used >= sizeof(cmdline))
			used = sizeof(cmdline) - 1;
	}
	argv[n] = NULL;
	spawn_run(argv, env, CLI_TIMEOUT, res);
	cr_assert_neq(res->status, -1, "sampan%s: timed out after %d s or could not start", cmdline,
	              CLI_TIMEOUT);
	cr_assert_lt(res->status, 128, "sampan%s: killed by signal %d; stderr:\n%s", cmdline,
	             res->status - 128, res->err);
}

/* A scratch directory, removed with its files at the end of the test. */
static char scratch[64];

static void scratch_make(void)
{
	strcpy(scratch, "/tmp/sampan-cli-XXXXXX");
	cr_assert_not_null(mkdtemp(scratch), "mkdtemp failed");
}

static void scratch_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	cr_expect_eq(system(cmd), 0);
}

static const char *path_in(const char *name)
{
	static char paths[32][128];
	static int next;
	char *p = paths[next++ % 32];

	snprintf(p, 128, "%s/%s", scratch, name);
	return p;
}

static double json_num(const struct spawn_result *res, const char *key)
{
	double v = 0;

	cr_assert_eq(json_member(res->out, key, &v, NULL, 0), 1, "no number '%s' in %s", key,
	             res->out);
	return v;
}

/* ------------------------------------------------------- gemm --check */

Test(cli, gemm_sim_check_json, .timeout = 600)
{
	const char *args[] = {"gemm", "-d", "sim", "-m",      "37",     "-k",
	                      "300",  "-n", "53",  "--check", "--json", NULL};
	struct spawn_result res;
	char dev[32] = "";
	double util;

	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_assert(json_valid(res.out), "stdout is not one JSON value:\n%s", res.out);
	cr_expect_eq(json_member(res.out, "device", NULL, dev, sizeof(dev)), 2);
	cr_expect_not_null(strstr(dev, "sim"), "device '%s'", dev);
	cr_expect_eq(json_num(&res, "m"), 37);
	cr_expect_eq(json_num(&res, "k"), 300);
	cr_expect_eq(json_num(&res, "n"), 53);
	cr_expect_eq(json_num(&res, "mismatches"), 0);
	cr_expect_eq(json_num(&res, "macs"), 37.0 * 300 * 53);
	cr_expect_gt(json_num(&res, "cycles"), 0);
	util = json_num(&res, "utilization");
	cr_expect(util > 0 && util <= 1, "utilization %g", util);
	cr_expect_geq(json_num(&res, "wall_seconds"), 0);
	spawn_result_free(&res);
}

Test(cli, gemm_cpu_check, .timeout = 300)
{
	char seed[32];
	const char *plain[] = {"gemm", "-d", "cpu",     "-m",     "100", "-k", "1500",
	                       "-n",   "33", "--check", "--seed", seed,  NULL};
	const char *raw[] = {"gemm", "-d",  "cpu",   "-m",      "1",      "-k", "1",
	                     "-n",   "300", "--raw", "--check", "--json", NULL};
	struct spawn_result res;

	snprintf(seed, sizeof(seed), "%llu",
	         (unsigned long long)(test_seed("cli::gemm_cpu_check") % 1000000007u));

	cli(&res, plain, NULL);
	cr_expect_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	spawn_result_free(&res);
	cli(&res, raw, NULL);
	cr_expect_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(json_valid(res.out), "not JSON:\n%s", res.out);
	cr_expect_eq(json_num(&res, "mismatches"), 0);
	cr_expect_eq(json_num(&res, "macs"), 300);
	spawn_result_free(&res);
}

Test(cli, gemm_seed_is_reproducible, .timeout = 300)
{
	const char *args[] = {"gemm", "-d", "cpu",    "-m", "9",     "-k", "21",
	                      "-n",   "5",  "--seed", "77", "--out", NULL, NULL};
	struct npyt_array y1, y2;
	struct spawn_result res;
	char err[256];

	scratch_make();
	args[12] = path_in("y1.npy");
	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "%s", res.err);
	spawn_result_free(&res);
	args[12] = path_in("y2.npy");
	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "%s", res.err);
	spawn_result_free(&res);
	cr_assert_eq(npyt_read(path_in("y1.npy"), &y1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(npyt_read(path_in("y2.npy"), &y2, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(y1.bytes, 45);
	cr_expect_eq(y1.bytes, y2.bytes);
	cr_expect_arr_eq(y1.data, y2.data, y1.bytes, "same seed, different results");
	free(y1.data);
	free(y2.data);
	scratch_remove();
}

/* ------------------------------------------------------- .npy round trip */

struct npy_case {
	char dev[8];
	int raw;
};

ParameterizedTestParameters(cli, npy_round_trip)
{
	static struct npy_case cases[] = {{"cpu", 0}, {"cpu", 1}, {"sim", 0}, {"sim", 1}};

	return cr_make_param_array(struct npy_case, cases, COUNT(cases));
}

/* Operands written by the test, the result read back by the test and
 * compared with the reference. */
ParameterizedTest(struct npy_case *p, cli, npy_round_trip, .timeout = 600)
{
	uint64_t seed = test_seed("cli::npy_round_trip");
	const long m = 19, k = 45, n = 23;
	int8_t a[19 * 45], w[23 * 45];
	int32_t bias[23], mult[23], shift[23];
	const int32_t za = -7, zo = 3, lo = -100, hi = 90;
	union {
		int8_t i8[19 * 23];
		int32_t i32[19 * 23];
	} want;
	long sa[2] = {m, k}, sw[2] = {n, k}, sn[1] = {n};
	struct rng r;
	struct npyt_array y;
	struct spawn_result res;
	char err[256];

	rng_init(&r, seed);
	fill_i8(&r, a, sizeof(a), FILL_RANDOM);
	fill_i8(&r, w, sizeof(w), FILL_RANDOM);
	a[0] = -128;
	w[0] = -128;
	for (long j = 0; j < n; j++) {
		bias[j] = (int32_t)rng_range(&r, -50000, 50000);
		mult[j] = (int32_t)rng_range(&r, 1 << 30, INT32_MAX);
		shift[j] = (int32_t)rng_range(&r, -14, -6);
	}
	bias[1] = INT32_MAX;
	ref_gemm(m, k, n, a, w, bias, mult, shift, za, zo, lo, hi, p->raw, &want);

	scratch_make();
	cr_assert_eq(npyt_write(path_in("a.npy"), "|i1", 2, sa, a, sizeof(a)), 0);
	cr_assert_eq(npyt_write(path_in("w.npy"), "|i1", 2, sw, w, sizeof(w)), 0);
	cr_assert_eq(npyt_write(path_in("bias.npy"), "<i4", 1, sn, bias, sizeof(bias)), 0);
	cr_assert_eq(npyt_write(path_in("mult.npy"), "<i4", 1, sn, mult, sizeof(mult)), 0);
	cr_assert_eq(npyt_write(path_in("shift.npy"), "<i4", 1, sn, shift, sizeof(shift)), 0);

	const char *req[] = {"gemm",
	                     "-d",
	                     p->dev,
	                     "--a",
	                     path_in("a.npy"),
	                     "--w",
	                     path_in("w.npy"),
	                     "--bias",
	                     path_in("bias.npy"),
	                     "--mult",
	                     path_in("mult.npy"),
	                     "--shift",
	                     path_in("shift.npy"),
	                     "--za",
	                     "-7",
	                     "--zo",
	                     "3",
	                     "--lo",
	                     "-100",
	                     "--hi",
	                     "90",
	                     "--out",
	                     path_in("y.npy"),
	                     "--check",
	                     NULL};
	const char *raw[] = {"gemm",
	                     "-d",
	                     p->dev,
	                     "--a",
	                     path_in("a.npy"),
	                     "--w",
	                     path_in("w.npy"),
	                     "--bias",
	                     path_in("bias.npy"),
	                     "--za",
	                     "-7",
	                     "--raw",
	                     "--out",
	                     path_in("y.npy"),
	                     "--check",
	                     NULL};
	cli(&res, p->raw ? raw : req, NULL);
	cr_assert_eq(res.status, 0, "%s: exit %d; stderr:\n%s", p->dev, res.status, res.err);
	spawn_result_free(&res);

	cr_assert_eq(npyt_read(path_in("y.npy"), &y, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(y.ndim, 2);
	cr_expect_eq(y.shape[0], m);
	cr_expect_eq(y.shape[1], n);
	cr_expect_eq(y.fortran, 0);
	if (p->raw) {
		cr_expect_str_eq(y.descr, "<i4");
		cr_assert_eq(y.bytes, sizeof(want.i32), "%zu data bytes", y.bytes);
		cr_expect_arr_eq(y.data, want.i32, sizeof(want.i32),
		                 "raw result differs from the reference (seed %llu)",
		                 (unsigned long long)seed);
	} else {
		cr_expect(!strcmp(y.descr, "|i1") || !strcmp(y.descr, "<i1"), "descr %s", y.descr);
		cr_assert_eq(y.bytes, sizeof(want.i8), "%zu data bytes", y.bytes);
		cr_expect_arr_eq(y.data, want.i8, sizeof(want.i8),
		                 "requantized result differs from the reference (seed %llu)",
		                 (unsigned long long)seed);
	}
	free(y.data);
	scratch_remove();
}

/* ------------------------------------------------------- usage errors */

Test(cli, usage_errors_exit_2)
{
	static const char *const cases[][16] = {
	    {"gemm", "-d", "cpu", "-m", "0", "-k", "4", "-n", "4", NULL},
	    {"gemm", "-d", "cpu", "-m", "-3", "-k", "4", "-n", "4", NULL},
	    {"gemm", "-d", "cpu", "-m", "abc", "-k", "4", "-n", "4", NULL},
	    {"gemm", "-d", "cpu", "-m", "4", "-k", "4", "-n", "4x", NULL},
	    {"gemm", "-d", "cpu", "-m", "4", "-k", "4", "-n", "4", "--bogus", NULL},
	    {"gemm", "-d", "cpu", "-m", "4", "-k", "4", "-n", "4", "--za", "128", NULL},
	    {"gemm", "-d", "cpu", "-m", "4", "-k", "4", "-n", "4", "--lo", "5", "--hi", "4"},
	    {"gemm", "-d", "cpu", "-m", "4", "-k", "4", "-n", NULL},
	    {"frobnicate", NULL},
	    {NULL},
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		struct spawn_result res;
		char line[256] = "";

		for (size_t j = 0; j < 16 && cases[i][j]; j++)
			strncat(line, cases[i][j], sizeof(line) - strlen(line) - 2),
			    strcat(line, " ");
		cli(&res, (const char *const *)cases[i], NULL);
		cr_expect_eq(res.status, 2, "'sampan %s': exit %d, want 2; stderr:\n%s", line,
		             res.status, res.err);
		cr_expect_neq(res.err[0], '\0', "'sampan %s': no message on stderr", line);
		spawn_result_free(&res);
	}
}

/* ------------------------------------------------------- runtime errors */

Test(cli, unknown_device_names_accepted)
{
	const char *args[] = {"gemm", "-d", "nonesuch", "-m", "2", "-k", "2", "-n", "2", NULL};
	struct spawn_result res;

	cli(&res, args, NULL);
	cr_expect(res.status == 1 || res.status == 2, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(strstr(res.err, "sim") && strstr(res.err, "cpu"),
	          "message does not name the accepted devices:\n%s", res.err);
	spawn_result_free(&res);
}

Test(cli, missing_simulator_library_exits_1)
{
	const char *args[] = {"gemm", "-d", "sim", "-m", "2", "-k", "2", "-n", "2", NULL};
	char env0[] = "SAMPAN_SIM_LIB=/nonexistent/lib.so";
	char *env[] = {env0, NULL};
	struct spawn_result res;

	cli(&res, args, env);
	cr_expect_eq(res.status, 1, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect_not_null(strstr(res.err, "/nonexistent/lib.so"), "stderr:\n%s", res.err);
	spawn_result_free(&res);
}

/* A malformed --a file: the CLI must exit 1 (or 2 where the file only
 * contradicts a flag) and name the file. */
struct bad_npy {
	char what[40];
	int usage_ok; /* 2 is acceptable too */
};

ParameterizedTestParameters(cli, malformed_npy)
{
	static struct bad_npy cases[] = {
	    {"bad magic", 0},
	    {"truncated data", 0},
	    {"truncated header", 0},
	    {"wrong dtype", 0},
	    {"wrong ndim", 0},
	    {"fortran order", 0},
	    {"shape disagrees with -m", 1},
	    {"missing file", 0},
	    {"empty file", 0},
	    {"header length past end", 0},
	    {"garbage header", 0},
	};

	return cr_make_param_array(struct bad_npy, cases, COUNT(cases));
}

ParameterizedTest(struct bad_npy *b, cli, malformed_npy, .timeout = 120)
{
	int8_t a[4 * 6] = {1, 2, 3}, w[5 * 6] = {1};
	long sa[2] = {4, 6}, sw[2] = {5, 6}, s1[1] = {24};
	size_t size;
	unsigned char *img = npyt_image("|i1", 2, sa, a, sizeof(a), &size);
	struct spawn_result res;
	const char *m = "4";

	cr_assert_not_null(img);
	scratch_make();
	cr_assert_eq(npyt_write(path_in("w.npy"), "|i1", 2, sw, w, sizeof(w)), 0);
	if (!strcmp(b->what, "bad magic")) {
		img[1] = 'X';
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), img, size), 0);
	} else if (!strcmp(b->what, "truncated data")) {
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), img, size - 5), 0);
	} else if (!strcmp(b->what, "truncated header")) {
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), img, 30), 0);
	} else if (!strcmp(b->what, "wrong dtype")) {
		float f[24] = {0};

		cr_assert_eq(npyt_write(path_in("a.npy"), "<f4", 2, sa, f, sizeof(f)), 0);
	} else if (!strcmp(b->what, "wrong ndim")) {
		cr_assert_eq(npyt_write(path_in("a.npy"), "|i1", 1, s1, a, sizeof(a)), 0);
	} else if (!strcmp(b->what, "fortran order")) {
		size_t at = 10;

		while (at + 5 < size && memcmp(img + at, "False", 5))
			at++;
		cr_assert_lt(at + 5, size, "no fortran_order in the header");
		memcpy(img + at, "True ", 5);
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), img, size), 0);
	} else if (!strcmp(b->what, "shape disagrees with -m")) {
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), img, size), 0);
		m = "5";
	} else if (!strcmp(b->what, "empty file")) {
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), "", 0), 0);
	} else if (!strcmp(b->what, "header length past end")) {
		img[8] = 0xff;
		img[9] = 0x7f;
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), img, size), 0);
	} else if (!strcmp(b->what, "garbage header")) {
		memset(img + 10, '{', 40);
		cr_assert_eq(npyt_write_bytes(path_in("a.npy"), img, size), 0);
	} /* missing file: a.npy is never written */
	free(img);

	const char *args[] = {"gemm",
	                      "-d",
	                      "cpu",
	                      "-m",
	                      m,
	                      "--a",
	                      path_in("a.npy"),
	                      "--w",
	                      path_in("w.npy"),
	                      "--raw",
	                      "--out",
	                      path_in("y.npy"),
	                      NULL};
	cli(&res, args, NULL);
	cr_expect(res.status == 1 || (b->usage_ok && res.status == 2), "%s: exit %d; stderr:\n%s",
	          b->what, res.status, res.err);
	cr_expect_not_null(strstr(res.err, "a.npy"), "%s: message does not name the file:\n%s",
	                   b->what, res.err);
	cr_expect_neq(access(path_in("y.npy"), F_OK), 0, "%s: an output was written", b->what);
	spawn_result_free(&res);
	scratch_remove();
}

/* ------------------------------------------------------- devices, info */

Test(cli, devices_json)
{
	const char *args[] = {"devices", "--json", NULL};
	const char *plain[] = {"devices", NULL};
	struct spawn_result res;

	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(json_valid(res.out), "not JSON:\n%s", res.out);
	cr_expect(strstr(res.out, "\"sim\"") && strstr(res.out, "\"cpu\""),
	          "sim and cpu not listed:\n%s", res.out);
	spawn_result_free(&res);
	cli(&res, plain, NULL);
	cr_expect_eq(res.status, 0);
	cr_expect(strstr(res.out, "sim") && strstr(res.out, "cpu"), "%s", res.out);
	spawn_result_free(&res);
}

ParameterizedTestParameters(cli, info_json)
{
	static struct npy_case devs[] = {{"sim", 0}, {"cpu", 0}};

	return cr_make_param_array(struct npy_case, devs, COUNT(devs));
}

ParameterizedTest(struct npy_case *p, cli, info_json, .timeout = 120)
{
	const char *args[] = {"info", "-d", p->dev, "--json", NULL};
	struct spawn_result res;

	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_assert(json_valid(res.out), "not JSON:\n%s", res.out);
	if (!strcmp(p->dev, "sim")) {
		/* the simulated RTL is the array this tree was built with */
		cr_expect_eq(json_num(&res, "rows"), TEST_ROWS);
		cr_expect_eq(json_num(&res, "cols"), TEST_COLS);
	} else {
		cr_expect_gt(json_num(&res, "rows"), 0);
		cr_expect_gt(json_num(&res, "cols"), 0);
	}
	spawn_result_free(&res);
}

/* Without SAMPAN_SIM_LIB the CLI finds the simulator next to itself, as
 * after `make` (build/sampan, build/san/sampan -> build/libsampan_sim.so). */
Test(cli, finds_simulator_without_env, .timeout = 120)
{
	const char *args[] = {"gemm", "-d", "sim", "-m",      "3", "-k",
	                      "70",   "-n", "20",  "--check", NULL};
	char unset_sim[] = "SAMPAN_SIM_LIB";
	char *env[] = {unset_sim, NULL};
	struct spawn_result res;

	cli(&res, args, env);
	cr_expect_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	spawn_result_free(&res);
}

Test(cli, bench_json, .timeout = 300)
{
	const char *args[] = {"bench", "-d", "sim", "--json", "--shapes", "16x32x16,5x7x3", NULL};
	struct spawn_result res;

	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(json_valid(res.out), "not JSON:\n%s", res.out);
	cr_expect_eq(json_member(res.out, "results", NULL, NULL, 0), 3, "no results in:\n%s",
	             res.out);
	cr_expect_eq(json_num(&res, "rows"), TEST_ROWS);
	spawn_result_free(&res);
}

/* ------------------------------------------------------- more inputs */

/* Operands in .npy format 2.0 (4-byte header length) are read too. */
Test(cli, npy_format_2, .timeout = 120)
{
	int8_t a[3 * 4] = {1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -128};
	int8_t w[2 * 4] = {127, 0, -1, 2, -128, 3, 4, 5};
	int32_t want[3 * 2], bias[2] = {0, -7};
	long sa[2] = {3, 4}, sw[2] = {2, 4}, sn[1] = {2};
	size_t size, size2;
	unsigned char *img = npyt_image("|i1", 2, sa, a, sizeof(a), &size), *v2;
	struct npyt_array y;
	struct spawn_result res;
	char err[256];

	cr_assert_not_null(img);
	v2 = npyt_to_v2(img, size, &size2);
	cr_assert_not_null(v2);
	scratch_make();
	cr_assert_eq(npyt_write_bytes(path_in("a.npy"), v2, size2), 0);
	cr_assert_eq(npyt_write(path_in("w.npy"), "|i1", 2, sw, w, sizeof(w)), 0);
	/* operands not given are random (see `sampan gemm --help`) */
	cr_assert_eq(npyt_write(path_in("b.npy"), "<i4", 1, sn, bias, sizeof(bias)), 0);
	free(img);
	free(v2);
	const char *args[] = {"gemm",
	                      "-d",
	                      "cpu",
	                      "--a",
	                      path_in("a.npy"),
	                      "--w",
	                      path_in("w.npy"),
	                      "--bias",
	                      path_in("b.npy"),
	                      "--raw",
	                      "--za",
	                      "2",
	                      "--out",
	                      path_in("y.npy"),
	                      NULL};
	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	spawn_result_free(&res);
	cr_assert_eq(npyt_read(path_in("y.npy"), &y, err, sizeof(err)), 0, "%s", err);
	ref_gemm(3, 4, 2, a, w, bias, NULL, NULL, 2, 0, -128, 127, 1, want);
	cr_assert_eq(y.bytes, sizeof(want));
	cr_expect_arr_eq(y.data, want, sizeof(want));
	free(y.data);
	scratch_remove();
}

Test(cli, bad_shift_file_and_unwritable_out, .timeout = 120)
{
	int8_t a[2 * 3] = {0}, w[2 * 3] = {0};
	int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {0, 40};
	long s23[2] = {2, 3}, s2[1] = {2};
	struct spawn_result res;

	scratch_make();
	cr_assert_eq(npyt_write(path_in("a.npy"), "|i1", 2, s23, a, sizeof(a)), 0);
	cr_assert_eq(npyt_write(path_in("w.npy"), "|i1", 2, s23, w, sizeof(w)), 0);
	cr_assert_eq(npyt_write(path_in("m.npy"), "<i4", 1, s2, mult, sizeof(mult)), 0);
	cr_assert_eq(npyt_write(path_in("s.npy"), "<i4", 1, s2, shift, sizeof(shift)), 0);
	const char *bad_shift[] = {"gemm",
	                           "-d",
	                           "cpu",
	                           "--a",
	                           path_in("a.npy"),
	                           "--w",
	                           path_in("w.npy"),
	                           "--mult",
	                           path_in("m.npy"),
	                           "--shift",
	                           path_in("s.npy"),
	                           NULL};
	cli(&res, bad_shift, NULL);
	cr_expect_eq(res.status, 1, "shift 40: exit %d; stderr:\n%s", res.status, res.err);
	cr_expect_not_null(strstr(res.err, "s.npy"), "message does not name the file:\n%s",
	                   res.err);
	spawn_result_free(&res);

	const char *bad_out[] = {
	    "gemm", "-d", "cpu", "-m", "2", "-k", "3", "-n", "2", "--out", "/nonexistent-dir/y.npy",
	    NULL};
	cli(&res, bad_out, NULL);
	cr_expect_eq(res.status, 1, "unwritable --out: exit %d; stderr:\n%s", res.status, res.err);
	cr_expect_not_null(strstr(res.err, "/nonexistent-dir/y.npy"), "stderr:\n%s", res.err);
	spawn_result_free(&res);
	scratch_remove();
}

/* The help names every device kind of the contract, and `run --help`
 * every input format. */
Test(cli, help_names_devices_and_formats, .timeout = 60)
{
	static const char *const kinds[] = {"\n  sim[", "\n  sim-usb[", "\n  cpu[", "\n  xrt[",
	                                    "\n  usb["};
	const char *top[] = {"--help", NULL}, *run[] = {"run", "--help", NULL};
	struct spawn_result res;

	cli(&res, top, NULL);
	cr_assert_eq(res.status, 0);
	for (size_t i = 0; i < COUNT(kinds); i++)
		cr_expect(strstr(res.out, kinds[i]), "no '%s' in:\n%s", kinds[i] + 3, res.out);
	spawn_result_free(&res);
	cli(&res, run, NULL);
	cr_assert_eq(res.status, 0);
	cr_expect(strstr(res.out, "PNG") && strstr(res.out, "PGM") && strstr(res.out, ".npy") &&
	              strstr(res.out, "--labels"),
	          "%s", res.out);
	spawn_result_free(&res);
}

/* ------------------------------------------------------- block-scaled */

Test(cli, gemm_q8_random_check_json, .timeout = 300)
{
	const char *args[] = {"gemm", "-d", "cpu", "--format", "q8_0", "-m",      "5",      "-k",
	                      "320",  "-n", "37",  "--seed",   "9",    "--check", "--json", NULL};
	struct spawn_result res;
	char fmt[16] = "";

	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_assert(json_valid(res.out), "not JSON:\n%s", res.out);
	cr_expect_eq(json_member(res.out, "format", NULL, fmt, sizeof(fmt)), 2);
	cr_expect_str_eq(fmt, "q8_0");
	cr_expect_eq(json_num(&res, "macs"), 5.0 * 320 * 37);
	cr_expect_eq(json_num(&res, "mismatches"), 0);
	cr_expect_gt(json_num(&res, "host_bytes_in"), 37.0 * 320);
	spawn_result_free(&res);
}

/* .npy operands with float16 scales (special values included) and a
 * float32 bias; the float32 result read back and compared bit for bit
 * with tests/ref.c. */
Test(cli, gemm_q8_npy_round_trip, .timeout = 300)
{
	enum { M = 3, K = 96, N = 5, NB = K / 32 };
	int8_t a[M * K], w[N * K];
	uint16_t sa[M * NB], sw[N * NB];
	uint32_t bias[N], want[M * N];
	long s_a[2] = {M, K}, s_w[2] = {N, K}, s_sa[2] = {M, NB}, s_sw[2] = {N, NB}, s_b[1] = {N};
	struct npyt_array y;
	struct spawn_result res;
	struct rng r;
	char err[256];

	rng_init(&r, test_seed("cli::gemm_q8_npy_round_trip"));
	fill_i8(&r, a, sizeof(a), FILL_RANDOM);
	fill_i8(&r, w, sizeof(w), FILL_RANDOM);
	for (int i = 0; i < M * NB; i++)
		sa[i] = (uint16_t)rng_range(&r, 0x0400, 0x3000);
	for (int i = 0; i < N * NB; i++)
		sw[i] = (uint16_t)rng_range(&r, 0, 0xBBFF);
	sw[0] = 0x7C00; /* Inf */
	sw[4] = 0x0001; /* the smallest subnormal */
	sa[2] = 0x8000; /* -0 */
	for (int i = 0; i < N; i++)
		bias[i] = 0x3F000000u + (uint32_t)i; /* ~0.5 */
	bias[3] = 0x00000005u;                       /* subnormal: read as +0 */
	ref_gemm_q8(M, K, N, a, sa, w, sw, bias, want);

	scratch_make();
	cr_assert_eq(npyt_write(path_in("a.npy"), "|i1", 2, s_a, a, sizeof(a)), 0);
	cr_assert_eq(npyt_write(path_in("w.npy"), "|i1", 2, s_w, w, sizeof(w)), 0);
	cr_assert_eq(npyt_write(path_in("sa.npy"), "<f2", 2, s_sa, sa, sizeof(sa)), 0);
	cr_assert_eq(npyt_write(path_in("sw.npy"), "<f2", 2, s_sw, sw, sizeof(sw)), 0);
	cr_assert_eq(npyt_write(path_in("b.npy"), "<f4", 1, s_b, bias, sizeof(bias)), 0);
	const char *args[] = {"gemm",
	                      "-d",
	                      "cpu",
	                      "--format",
	                      "q8_0",
	                      "--a",
	                      path_in("a.npy"),
	                      "--a-scale",
	                      path_in("sa.npy"),
	                      "--w",
	                      path_in("w.npy"),
	                      "--w-scale",
	                      path_in("sw.npy"),
	                      "--bias",
	                      path_in("b.npy"),
	                      "--out",
	                      path_in("y.npy"),
	                      "--check",
	                      NULL};
	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	spawn_result_free(&res);
	cr_assert_eq(npyt_read(path_in("y.npy"), &y, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(y.descr, "<f4");
	cr_expect_eq(y.ndim, 2);
	cr_expect(y.shape[0] == M && y.shape[1] == N, "shape (%ld, %ld)", y.shape[0], y.shape[1]);
	cr_assert_eq(y.bytes, sizeof(want));
	cr_expect_arr_eq(y.data, want, sizeof(want));
	free(y.data);

	/* the shape comes from the files; a contradicting -k is a usage error */
	const char *clash[] = {"gemm",
	                       "-d",
	                       "cpu",
	                       "--format",
	                       "q8_0",
	                       "-k",
	                       "64",
	                       "--a",
	                       path_in("a.npy"),
	                       "--a-scale",
	                       path_in("sa.npy"),
	                       "--w",
	                       path_in("w.npy"),
	                       "--w-scale",
	                       path_in("sw.npy"),
	                       NULL};
	cli(&res, clash, NULL);
	cr_expect_eq(res.status, 2, "exit %d; stderr:\n%s", res.status, res.err);
	spawn_result_free(&res);
	scratch_remove();
}

/* Malformed block-scaled invocations and files: exit 2 for usage, 1 for
 * bad files or a device without the commands, each with a message. */
Test(cli, gemm_q8_bad_inputs, .timeout = 300)
{
	int8_t a[2 * 64] = {0};
	uint16_t s[2 * 3] = {0};
	float f[2 * 2] = {0};
	long s_a[2] = {2, 64}, s_s2[2] = {2, 2}, s_s3[2] = {2, 3};
	static const struct {
		const char *argv[20];
		int status;
		const char *says;
	} cases[] = {
	    {{"gemm", "-d", "cpu", "--format", "q8_0", "-m", "2", "-k", "48", "-n", "3"},
	     2,
	     "multiple of 32"},
	    {{"gemm", "-d", "cpu", "--format", "q4_0", "-m", "2", "-k", "64", "-n", "3"},
	     2,
	     "q8_0"},
	    {{"gemm", "-d", "cpu", "--format", "q8_0", "-m", "2", "-k", "64", "-n", "3", "--raw"},
	     2,
	     "--raw"},
	    {{"gemm", "-d", "cpu", "--format", "q8_0", "-m", "2", "-k", "64", "-n", "3", "--za",
	      "3"},
	     2,
	     "--za"},
	    {{"gemm", "-d", "cpu", "-m", "2", "-k", "64", "-n", "3", "--a-scale", "x.npy"},
	     2,
	     "--format q8_0"},
	    {{"gemm", "-d", "cpu:block=0", "--format", "q8_0", "-m", "2", "-k", "64", "-n", "3"},
	     1,
	     "block-scaled"},
	};
	struct spawn_result res;

	for (size_t i = 0; i < COUNT(cases); i++) {
		cli(&res, cases[i].argv, NULL);
		cr_expect_eq(res.status, cases[i].status, "case %zu: exit %d; stderr:\n%s", i,
		             res.status, res.err);
		cr_expect(strstr(res.err, cases[i].says), "case %zu: stderr lacks '%s':\n%s", i,
		          cases[i].says, res.err);
		spawn_result_free(&res);
	}

	scratch_make();
	cr_assert_eq(npyt_write(path_in("a.npy"), "|i1", 2, s_a, a, sizeof(a)), 0);
	cr_assert_eq(npyt_write(path_in("s2.npy"), "<f2", 2, s_s2, s, 2 * 2 * 2), 0);
	cr_assert_eq(npyt_write(path_in("s3.npy"), "<f2", 2, s_s3, s, sizeof(s)), 0);
	cr_assert_eq(npyt_write(path_in("f32.npy"), "<f4", 2, s_s2, f, sizeof(f)), 0);
	cr_assert_eq(npyt_write(path_in("short.npy"), "<f2", 2, s_s2, s, 2 * 2 * 2 - 1), 0);
	{
		/* --w missing; scales of 3 blocks for K = 64; float32 scales; a
		 * truncated file */
		const char *missing[] = {"gemm",
		                         "-d",
		                         "cpu",
		                         "--format",
		                         "q8_0",
		                         "--a",
		                         path_in("a.npy"),
		                         "--a-scale",
		                         path_in("s2.npy"),
		                         "--w-scale",
		                         path_in("s2.npy"),
		                         NULL};
		const char *blocks[] = {"gemm",
		                        "-d",
		                        "cpu",
		                        "--format",
		                        "q8_0",
		                        "--a",
		                        path_in("a.npy"),
		                        "--a-scale",
		                        path_in("s3.npy"),
		                        "--w",
		                        path_in("a.npy"),
		                        "--w-scale",
		                        path_in("s2.npy"),
		                        NULL};
		const char *dtype[] = {"gemm",
		                       "-d",
		                       "cpu",
		                       "--format",
		                       "q8_0",
		                       "--a",
		                       path_in("a.npy"),
		                       "--a-scale",
		                       path_in("f32.npy"),
		                       "--w",
		                       path_in("a.npy"),
		                       "--w-scale",
		                       path_in("s2.npy"),
		                       NULL};
		const char *trunc[] = {"gemm",
		                       "-d",
		                       "cpu",
		                       "--format",
		                       "q8_0",
		                       "--a",
		                       path_in("a.npy"),
		                       "--a-scale",
		                       path_in("short.npy"),
		                       "--w",
		                       path_in("a.npy"),
		                       "--w-scale",
		                       path_in("s2.npy"),
		                       NULL};
		const char *good[] = {"gemm",
		                      "-d",
		                      "cpu",
		                      "--format",
		                      "q8_0",
		                      "--a",
		                      path_in("a.npy"),
		                      "--a-scale",
		                      path_in("s2.npy"),
		                      "--w",
		                      path_in("a.npy"),
		                      "--w-scale",
		                      path_in("s2.npy"),
		                      "--check",
		                      NULL};

		cli(&res, missing, NULL);
		cr_expect_eq(res.status, 2, "missing --w: exit %d: %s", res.status, res.err);
		cr_expect(strstr(res.err, "--w"), "%s", res.err);
		spawn_result_free(&res);
		cli(&res, blocks, NULL);
		cr_expect_eq(res.status, 2, "3 blocks: exit %d: %s", res.status, res.err);
		cr_expect(strstr(res.err, "mismatch"), "%s", res.err);
		spawn_result_free(&res);
		cli(&res, dtype, NULL);
		cr_expect_eq(res.status, 1, "float32 scales: exit %d: %s", res.status, res.err);
		cr_expect(strstr(res.err, "float16"), "%s", res.err);
		spawn_result_free(&res);
		cli(&res, trunc, NULL);
		cr_expect_eq(res.status, 1, "truncated: exit %d: %s", res.status, res.err);
		cr_expect(strstr(res.err, "truncated"), "%s", res.err);
		spawn_result_free(&res);
		cli(&res, good, NULL);
		cr_expect_eq(res.status, 0, "good: exit %d: %s", res.status, res.err);
		spawn_result_free(&res);
	}
	scratch_remove();
}

Test(cli, info_reports_memory_and_features, .timeout = 120)
{
	const char *args[] = {"info", "-d", "cpu", "--json", NULL};
	const char *none[] = {"info", "-d", "cpu:block=0,mv_rows=0", NULL};
	struct spawn_result res;

	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_assert(json_valid(res.out), "not JSON:\n%s", res.out);
	cr_expect_eq(json_num(&res, "mem_used"), 0);
	cr_expect_eq(json_num(&res, "mv_rows"), 4);
	cr_expect_eq(json_member(res.out, "features", NULL, NULL, 0), 3);
	cr_expect(strstr(res.out, "\"block_scaled\"") && strstr(res.out, "\"matvec\""), "%s",
	          res.out);
	spawn_result_free(&res);
	cli(&res, none, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(strstr(res.out, "features       none"), "%s", res.out);
	cr_expect(strstr(res.out, "mem_used       0"), "%s", res.out);
	spawn_result_free(&res);
}

Test(cli, bench_q8_shapes_and_bounds, .timeout = 300)
{
	const char *args[] = {
	    "bench", "-d", "cpu", "--json", "--shapes", "1x64x32:q8_0,2x32x3,3x32x4:int8", NULL};
	const char *bad[] = {"bench", "-d", "cpu", "--shapes", "1x48x32:q8_0", NULL};
	const char *bad2[] = {"bench", "-d", "cpu", "--shapes", "1x64x32:q4", NULL};
	struct spawn_result res;

	cli(&res, args, NULL);
	cr_assert_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(json_valid(res.out), "not JSON:\n%s", res.out);
	cr_expect_eq(json_member(res.out, "results", NULL, NULL, 0), 3);
	/* 1x64x32 q8_0: A 64 + W 2048 + scales 2*(1+32)*2 + bias 128 + out 128 */
	cr_expect(strstr(res.out, "\"mem_bytes\": 2500"), "%s", res.out);
	cr_expect(strstr(res.out, "\"format\": \"q8_0\""), "%s", res.out);
	/* 2x32x3 int8: 64 + 96 + 36 + 6 */
	cr_expect(strstr(res.out, "\"mem_bytes\": 202"), "%s", res.out);
	spawn_result_free(&res);
	cli(&res, bad, NULL);
	cr_expect_eq(res.status, 2, "exit %d: %s", res.status, res.err);
	spawn_result_free(&res);
	cli(&res, bad2, NULL);
	cr_expect_eq(res.status, 2, "exit %d: %s", res.status, res.err);
	spawn_result_free(&res);
}
