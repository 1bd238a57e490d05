/*
 * test_selftest.c - `sampan selftest`, the hardware-in-the-loop suite, on
 * the devices this machine has (sim, cpu; sim-usb when built), its exit
 * codes and result files; and the per-device lock of the board backends.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sampan.h"
#include "spawn.h"
#include "util.h"
/* The lock is internal to libsampan (linked statically here). */
#include "../driver/src/devlock.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Runs the CLI with @args (NULL-terminated) and extra environment @env. */
static void cli(struct spawn_result *res, const char *const *args, char *const *env)
{
	char *argv[24];
	size_t n = 0;

	argv[n++] = SAMPAN_CLI;
	for (size_t i = 0; args[i] && n < COUNT(argv) - 1; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	spawn_run(argv, env, 600, res);
}

/* Reads a whole file; NULL if it cannot. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = malloc((size_t)len + 1);
	if (text && fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		text = NULL;
	}
	if (text)
		text[len] = '\0';
	fclose(f);
	return text;
}

static size_t count_of(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* Minimal parse of a TAP 13 file: header, plan "1..N", then N lines
 * "ok I - ..." or "not ok I - ..." numbered in order. Returns N, or -1. */
static long tap_parse(const char *text, long *failures)
{
	const char *p = text;
	long plan, seen = 0;

	*failures = 0;
	if (strncmp(p, "TAP version 13\n", 15))
		return -1;
	p += 15;
	if (sscanf(p, "1..%ld", &plan) != 1)
		return -1;
	for (p = strchr(p, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		long num;
		const char *line = p + 1;

		if (!strncmp(line, "not ok ", 7)) {
			(*failures)++;
			line += 4;
		}
		if (!strncmp(line, "ok ", 3)) {
			if (sscanf(line + 3, "%ld", &num) != 1 || num != ++seen)
				return -1;
		}
	}
	return seen == plan ? plan : -1;
}

/* Minimal check of the JUnit XML: declaration, one <testsuites> element
 * closed at the end, <testcase> elements each closed; returns their count
 * or -1. */
static long junit_parse(const char *text)
{
	long cases, closed;

	if (strncmp(text, "<?xml version=\"1.0\"", 19) || !strstr(text, "<testsuites ") ||
	    !strstr(text, "</testsuites>\n") || count_of(text, "<testsuite ") != 1 ||
	    count_of(text, "</testsuite>") != 1)
		return -1;
	cases = (long)count_of(text, "<testcase ");
	closed = (long)(count_of(text, "</testcase>") + count_of(text, "\"/>\n"));
	/* Every testcase ends either as <testcase .../> or with </testcase>;
	 * a failure or skipped element inside adds one "/>" more. */
	if (closed < cases)
		return -1;
	return cases;
}

/* --------------------------------------------------------- on devices */

struct dev_case {
	char name[16];
};

ParameterizedTestParameters(selftest, passes_with_reports)
{
	static struct dev_case devs[] = {{"sim"}, {"cpu"}};

	return cr_make_param_array(struct dev_case, devs, COUNT(devs));
}

ParameterizedTest(struct dev_case *p, selftest, passes_with_reports, .timeout = 300)
{
	char junit[256], tap[256];
	const char *args[] = {"selftest", "-d", p->name, "--junit", junit, "--tap", tap, NULL};
	struct spawn_result res;
	char *jtext, *ttext;
	long n, fails;

	snprintf(junit, sizeof(junit), "/tmp/sampan-selftest-%d-%s.xml", (int)getpid(), p->name);
	snprintf(tap, sizeof(tap), "/tmp/sampan-selftest-%d-%s.tap", (int)getpid(), p->name);
	cli(&res, args, NULL);
	cr_expect_eq(res.status, 0, "selftest -d %s: exit %d; stderr:\n%s", p->name, res.status,
	             res.err);
	cr_expect(strstr(res.err, "[ PASS ] gemm.random"), "no progress on stderr:\n%s", res.err);
	jtext = slurp(junit);
	ttext = slurp(tap);
	cr_assert(jtext && ttext, "result files missing");
	n = tap_parse(ttext, &fails);
	cr_expect(n >= 9, "TAP does not parse or has too few tests:\n%s", ttext);
	cr_expect_eq(fails, 0, "TAP reports failures:\n%s", ttext);
	cr_expect_eq(junit_parse(jtext), n, "JUnit does not parse or disagrees with TAP:\n%s",
	             jtext);
	cr_expect(strstr(jtext, "failures=\"0\""), "JUnit reports failures:\n%s", jtext);
	free(jtext);
	free(ttext);
	unlink(junit);
	unlink(tap);
	spawn_result_free(&res);
}

/* The suite's JSON names every test and its result. */
Test(selftest, json_summary, .timeout = 120)
{
	char seed[32];
	const char *args[] = {"selftest", "-d", "cpu", "--json", "--seed", seed, NULL};
	struct spawn_result res;

	snprintf(seed, sizeof(seed), "%llu",
	         (unsigned long long)(test_seed("selftest::json_summary") % 1000000007u));

	char want_json[48], want_err[48];

	snprintf(want_json, sizeof(want_json), "\"seed\": %s,", seed);
	snprintf(want_err, sizeof(want_err), "seed %s", seed);
	cli(&res, args, NULL);
	cr_expect_eq(res.status, 0, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(strstr(res.out, want_json) && strstr(res.out, "\"failed\": 0") &&
	              strstr(res.out, "\"requant.corners\""),
	          "unexpected JSON:\n%s", res.out);
	cr_expect(strstr(res.err, want_err), "seed not printed:\n%s", res.err);
	spawn_result_free(&res);
}

/* sim-usb lands with the USB path: run the suite on it once it exists. */
Test(selftest, sim_usb_when_built, .timeout = 600)
{
	const char *args[] = {"selftest", "-d", "sim-usb", NULL};
	struct spawn_result res;

	cli(&res, args, NULL);
	if (res.status == 2 && strstr(res.err, "unknown device")) {
		spawn_result_free(&res);
		cr_skip_test("sim-usb is not in this build");
	}
	cr_expect_eq(res.status, 0, "selftest -d sim-usb: exit %d; stderr:\n%s", res.status,
	             res.err);
	spawn_result_free(&res);
}

/* No XRT on this machine: the suite skips with 77 and says why, in the
 * result files too. */
Test(selftest, xrt_absent_skips, .timeout = 60)
{
	char junit[256], taps[256];
	const char *args[] = {"selftest", "-d", "xrt", "--junit", junit, "--tap", taps, NULL};
	char *env[] = {"SAMPAN_XRT_LIB", "LD_LIBRARY_PATH", NULL};
	struct spawn_result res;
	char *jtext, *ttext;

	if (access("/opt/xilinx/xrt", F_OK) == 0)
		cr_skip_test("XRT is installed here");
	snprintf(junit, sizeof(junit), "/tmp/sampan-selftest-%d-xrt.xml", (int)getpid());
	snprintf(taps, sizeof(taps), "/tmp/sampan-selftest-%d-xrt.tap", (int)getpid());
	cli(&res, args, env);
	cr_expect_eq(res.status, 77, "exit %d, want 77; stderr:\n%s", res.status, res.err);
	cr_expect(strstr(res.err, "XRT runtime not found") && strstr(res.err, "setup.sh"),
	          "message does not say what to install:\n%s", res.err);
	jtext = slurp(junit);
	ttext = slurp(taps);
	cr_assert(jtext && ttext, "result files missing");
	cr_expect(!strncmp(ttext, "TAP version 13\n1..0 # SKIP", 26), "TAP:\n%s", ttext);
	cr_expect(junit_parse(jtext) == 1 && strstr(jtext, "skipped=\"1\"") &&
	              strstr(jtext, "<skipped message="),
	          "JUnit:\n%s", jtext);
	free(jtext);
	free(ttext);
	unlink(junit);
	unlink(taps);
	spawn_result_free(&res);
}

Test(selftest, usage_errors, .timeout = 60)
{
	const char *unknown[] = {"selftest", "-d", "nonesuch", NULL};
	const char *option[] = {"selftest", "--bogus", NULL};
	const char *seed[] = {"selftest", "--seed", "x", NULL};
	const char *const *cases[] = {unknown, option, seed};
	struct spawn_result res;

	for (size_t i = 0; i < COUNT(cases); i++) {
		cli(&res, cases[i], NULL);
		cr_expect_eq(res.status, 2, "'selftest %s': exit %d, want 2; stderr:\n%s",
		             cases[i][1], res.status, res.err);
		spawn_result_free(&res);
	}
}

/* --------------------------------------------------------- device lock */

static char lock_dir[64];

/* Removes the private lock directory and the lock files left in it. */
static void remove_lock_dir(void)
{
	DIR *d = opendir(lock_dir);
	struct dirent *e;
	char path[sizeof(lock_dir) + 256];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", lock_dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(lock_dir);
}

/* A private lock directory, so that runs in parallel do not meet; it goes
 * when the test process exits. */
static void private_lock_dir(void)
{
	snprintf(lock_dir, sizeof(lock_dir), "/tmp/sampan-locktest-%d", (int)getpid());
	mkdir(lock_dir, 0700);
	setenv("XDG_RUNTIME_DIR", lock_dir, 1);
	atexit(remove_lock_dir);
}

/* Two processes: while the parent holds the lock the child gets BUSY with
 * the parent's PID in the message; once it is released the child gets it.
 * The child is forked before the lock is taken, so that it does not
 * inherit the parent's lock file descriptor. */
Test(devlock, second_process_is_busy, .timeout = 30)
{
	struct drv_devlock *lock;
	int to_child[2], from_child[2], status;
	char go = 0, msg[512] = "", want[64];
	ssize_t got;
	pid_t pid;

	private_lock_dir();
	cr_assert(pipe(to_child) == 0 && pipe(from_child) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct drv_devlock *mine = NULL;
		int first, second;

		if (read(to_child[0], &go, 1) != 1)
			_exit(10);
		first = drv_devlock_acquire("xrt-0", &mine);
		if (write(from_child[1], sampan_last_error(), strlen(sampan_last_error()) + 1) <
		        0 ||
		    read(to_child[0], &go, 1) != 1)
			_exit(10);
		second = drv_devlock_acquire("xrt-0", &mine);
		drv_devlock_release(mine);
		_exit(first == SAMPAN_ERROR_BUSY ? (second == SAMPAN_OK ? 0 : 2) : 1);
	}
	cr_assert_eq(drv_devlock_acquire("xrt-0", &lock), SAMPAN_OK, "%s", sampan_last_error());
	cr_assert(write(to_child[1], &go, 1) == 1);
	got = read(from_child[0], msg, sizeof(msg) - 1);
	cr_expect(got > 0);
	snprintf(want, sizeof(want), "in use by process %d", (int)getpid());
	cr_expect(strstr(msg, want) && strstr(msg, "xrt-0"),
	          "child's message does not name the holder: %s", msg);
	drv_devlock_release(lock);
	cr_assert(write(to_child[1], &go, 1) == 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "child: status 0x%x (1: not busy while held, 2: not free after release)", status);
}

/* A second open in the same process is refused too, and a lock is gone
 * with the process that held it. */
Test(devlock, same_process_and_crash, .timeout = 30)
{
	struct drv_devlock *a, *b = NULL;
	int status;
	pid_t pid;

	private_lock_dir();
	cr_assert_eq(drv_devlock_acquire("usb:0403:6010", &a), SAMPAN_OK, "%s",
	             sampan_last_error());
	cr_expect_eq(drv_devlock_acquire("usb:0403:6010", &b), SAMPAN_ERROR_BUSY);
	cr_expect(strstr(sampan_last_error(), "this process"), "%s", sampan_last_error());
	drv_devlock_release(a);

	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct drv_devlock *held;

		if (drv_devlock_acquire("usb:0403:6010", &held) != SAMPAN_OK)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFSIGNALED(status), "child did not die as planned: 0x%x", status);
	cr_expect_eq(drv_devlock_acquire("usb:0403:6010", &b), SAMPAN_OK,
	             "lock of a killed process still held: %s", sampan_last_error());
	drv_devlock_release(b);
}

/* --------------------------------------------------------- xrt backend */
/* The xrt backend end to end, against tests/fake_xrt.c: XRT's C API over
 * the simulated card. */

/* Environment for a CLI run on the fake card. */
static char *fake_env[] = {"SAMPAN_XRT_LIB=" TEST_FAKE_XRT, "FAKE_XRT_PRELOADED=1", NULL};

static void use_fake_xrt(void)
{
	private_lock_dir();
	setenv("SAMPAN_XRT_LIB", TEST_FAKE_XRT, 1);
	setenv("FAKE_XRT_PRELOADED", "1", 1);
}

Test(xrt_fake, selftest_passes, .timeout = 300)
{
	const char *args[] = {"selftest", "-d", "xrt", NULL};
	struct spawn_result res;

	private_lock_dir();
	cli(&res, args, fake_env);
	cr_expect_eq(res.status, 0, "selftest -d xrt on the fake XRT: exit %d; stderr:\n%s",
	             res.status, res.err);
	spawn_result_free(&res);
}

/* Programming an xclbin by path, a card picked by BDF; a file that is not
 * an xclbin and a card with no xclbin fail clearly (selftest: 1, a card
 * that is there but unusable), a missing card is skipped (77). */
Test(xrt_fake, xclbin_and_bdf, .timeout = 300)
{
	char good[64], bad[64], dev_good[160], dev_bad[160];
	const char *gemm[] = {"gemm", "-d", dev_good, "-m",      "37", "-k",
	                      "300",  "-n", "53",     "--check", NULL};
	const char *gemm_bad[] = {"gemm", "-d", dev_bad, "-m", "2", "-k", "2", "-n", "2", NULL};
	const char *unprogrammed[] = {"selftest", "-d", "xrt", NULL};
	const char *missing[] = {"selftest", "-d", "xrt:1", NULL};
	char *env[] = {"SAMPAN_XRT_LIB=" TEST_FAKE_XRT, "FAKE_XRT_PRELOADED", "SAMPAN_XCLBIN",
	               NULL};
	struct spawn_result res;
	FILE *f;

	private_lock_dir();
	snprintf(good, sizeof(good), "/tmp/sampan-test-%d.xclbin", (int)getpid());
	snprintf(bad, sizeof(bad), "/tmp/sampan-test-%d.bin", (int)getpid());
	cr_assert((f = fopen(good, "wb")) && fwrite("xclbin2\0rest", 1, 12, f) == 12 && !fclose(f));
	cr_assert((f = fopen(bad, "wb")) && fwrite("not an xclbin", 1, 13, f) == 13 && !fclose(f));
	snprintf(dev_good, sizeof(dev_good), "xrt:0000:65:00.1,xclbin=%s", good);
	snprintf(dev_bad, sizeof(dev_bad), "xrt:0,xclbin=%s", bad);

	cli(&res, gemm, env);
	cr_expect_eq(res.status, 0, "gemm on %s: exit %d; stderr:\n%s", dev_good, res.status,
	             res.err);
	spawn_result_free(&res);

	cli(&res, gemm_bad, env);
	cr_expect_eq(res.status, 1, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(strstr(res.err, "loading the xclbin failed"), "%s", res.err);
	spawn_result_free(&res);

	cli(&res, unprogrammed, env);
	cr_expect_eq(res.status, 1, "exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(strstr(res.err, "program the card"), "%s", res.err);
	spawn_result_free(&res);

	cli(&res, missing, env);
	cr_expect_eq(res.status, 77, "no card 1: exit %d; stderr:\n%s", res.status, res.err);
	spawn_result_free(&res);
	unlink(good);
	unlink(bad);
}

/* A second process opening the card gets a clear busy error naming the
 * holder, and the holder's GEMM is unharmed; once closed, the card opens. */
Test(xrt_fake, second_process_busy, .timeout = 300)
{
	const char *args[] = {"info", "-d", "xrt", NULL};
	int8_t a[3 * 5], w[4 * 5];
	int32_t out[3 * 4];
	struct sampan_gemm g = {
	    .m = 3, .k = 5, .n = 4, .a = a, .w = w, .raw = 1, .out = out, .lo = -128, .hi = 127};
	struct sampan_device *dev;
	struct spawn_result res;
	char want[64];

	use_fake_xrt();
	for (int i = 0; i < 15; i++)
		a[i] = (int8_t)(i - 7);
	for (int i = 0; i < 20; i++)
		w[i] = (int8_t)(3 * i - 30);
	cr_assert_eq(sampan_open(&dev, "xrt"), SAMPAN_OK, "%s", sampan_last_error());

	cli(&res, args, NULL);
	snprintf(want, sizeof(want), "in use by process %d", (int)getpid());
	cr_expect_eq(res.status, 1, "second opener: exit %d; stderr:\n%s", res.status, res.err);
	cr_expect(strstr(res.err, want), "message does not name the holder:\n%s", res.err);
	spawn_result_free(&res);

	cr_assert_eq(sampan_gemm(dev, &g), SAMPAN_OK, "%s", sampan_last_error());
	for (int m = 0; m < 3; m++)
		for (int n = 0; n < 4; n++) {
			int32_t acc = 0;
			for (int k = 0; k < 5; k++)
				acc += a[m * 5 + k] * w[n * 5 + k];
			cr_expect_eq(out[m * 4 + n], acc, "out[%d][%d]", m, n);
		}
	sampan_close(dev);

	cli(&res, args, NULL);
	cr_expect_eq(res.status, 0, "after close: exit %d; stderr:\n%s", res.status, res.err);
	spawn_result_free(&res);
}
