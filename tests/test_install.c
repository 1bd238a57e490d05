/*
 * test_install.c - the installed project as a user gets it: tests.mk runs
 * `make install DESTDIR=$SAMPAN_TEST_DESTDIR PREFIX=/usr` before the tests;
 * here a small program is compiled out of tree with `pkg-config --cflags
 * --libs sampan` (pointed into the DESTDIR) and run on the simulated
 * device, which it must find through the installed layout alone.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref.h"
#include "spawn.h"

/* No test may hang the suite: a bound for those without their own. */
TestSuite(install, .timeout = 120);

#ifndef TEST_SRCDIR
#error "build with -DTEST_SRCDIR=\"absolute path of tests/\""
#endif

static const char *destdir(void)
{
	const char *d = getenv("SAMPAN_TEST_DESTDIR");

	cr_assert(d && *d == '/',
	          "SAMPAN_TEST_DESTDIR must name the install tree (set by tests.mk)");
	return d;
}

static int run_sh(const char *cmd, char *const *env, struct spawn_result *res)
{
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};

	return spawn_run(argv, env, 300, res);
}

Test(install, layout)
{
	static const char *const files[] = {"usr/include/sampan.h",
	                                    "usr/lib/libsampan.so",
	                                    "usr/lib/libsampan.a",
	                                    "usr/lib/pkgconfig/sampan.pc",
	                                    "usr/lib/sampan/libsampan_sim.so",
	                                    "usr/bin/sampan"};
	char path[4096];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", destdir(), files[i]);
		cr_expect_eq(access(path, R_OK), 0, "%s is not installed", files[i]);
	}
}

Test(install, pkg_config_program_runs_on_sim, .timeout = 600)
{
	const char *d = destdir();
	char pc_path[4200], sysroot[4200], ld_path[4200], cmd[8192], exe[4200];
	char *env_build[] = {pc_path, sysroot, NULL};
	char unset_sim[] = "SAMPAN_SIM_LIB";
	char *env_run[] = {ld_path, unset_sim, NULL};
	struct spawn_result res;
	char want[256] = "";
	int8_t a[15], w[20];
	int32_t bias[4] = {1000, -1000, 2147483647, 0}, y[12];

	snprintf(pc_path, sizeof(pc_path), "PKG_CONFIG_PATH=%s/usr/lib/pkgconfig", d);
	snprintf(sysroot, sizeof(sysroot), "PKG_CONFIG_SYSROOT_DIR=%s", d);
	snprintf(ld_path, sizeof(ld_path), "LD_LIBRARY_PATH=%s/usr/lib", d);
	snprintf(exe, sizeof(exe), "%s/install_probe", d);

	run_sh("pkg-config --exists sampan && pkg-config --cflags --libs sampan", env_build, &res);
	cr_assert_eq(res.status, 0, "pkg-config does not find sampan.pc: %s", res.err);
	cr_expect_not_null(strstr(res.out, "-lsampan"), "pkg-config --libs: %s", res.out);
	cr_expect_not_null(strstr(res.out, d), "-I/-L not under the DESTDIR: %s", res.out);
	spawn_result_free(&res);

	snprintf(cmd, sizeof(cmd),
	         "cc -std=c11 -Wall -Wextra -Werror %s/install_probe.c -o '%s' "
	         "$(pkg-config --cflags --libs sampan)",
	         TEST_SRCDIR, exe);
	run_sh(cmd, env_build, &res);
	cr_assert_eq(res.status, 0, "compiling against the installed library failed:\n%s%s",
	             res.out, res.err);
	spawn_result_free(&res);

	run_sh(exe, env_run, &res);
	cr_assert_eq(res.status, 0, "the program failed (exit %d):\n%s", res.status, res.err);

	for (int i = 0; i < 15; i++)
		a[i] = (int8_t)(i * 17 - 120);
	for (int i = 0; i < 20; i++)
		w[i] = (int8_t)(100 - i * 11);
	ref_gemm(3, 5, 4, a, w, bias, NULL, NULL, -3, 0, -128, 127, 1, y);
	for (int m = 0; m < 3; m++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%d %d %d %d\n",
		         (int)y[4 * m], (int)y[4 * m + 1], (int)y[4 * m + 2], (int)y[4 * m + 3]);
	cr_expect_str_eq(res.out, want, "installed program printed:\n%swant:\n%s", res.out, want);
	spawn_result_free(&res);
}

Test(install, installed_cli_runs, .timeout = 300)
{
	const char *d = destdir();
	char cli[4200], ld_path[4200], unset_sim[] = "SAMPAN_SIM_LIB";
	char *argv[] = {cli,  "gemm", "-d", "sim", "-m",      "5",
	                "-k", "40",   "-n", "7",   "--check", NULL};
	char *env[] = {ld_path, unset_sim, NULL};
	struct spawn_result res;

	snprintf(cli, sizeof(cli), "%s/usr/bin/sampan", d);
	snprintf(ld_path, sizeof(ld_path), "LD_LIBRARY_PATH=%s/usr/lib", d);
	spawn_run(argv, env, 300, &res);
	cr_expect_eq(res.status, 0, "installed sampan gemm -d sim: exit %d\n%s", res.status,
	             res.err);
	spawn_result_free(&res);
}
