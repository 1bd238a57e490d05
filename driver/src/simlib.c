/*
 * simlib.c - the search for the simulator libraries (see simlib.h).
 */
#define _GNU_SOURCE /* dladdr */
#include "simlib.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CANDS 8

/* Directory of the file holding this code: libsampan.so, or the executable
 * that libsampan.a is linked into. Returns 0 on success. */
static int code_dir(char *dir, size_t len)
{
	char path[PATH_MAX];
	Dl_info dl;
	ssize_t n;

	if (dladdr((const void *)&drv_simlib_find, &dl) && dl.dli_fname &&
	    strchr(dl.dli_fname, '/') && realpath(dl.dli_fname, path)) {
		/* found */
	} else if ((n = readlink("/proc/self/exe", path, sizeof(path) - 1)) > 0) {
		path[n] = '\0';
	} else {
		return -1;
	}
	if ((size_t)snprintf(dir, len, "%s", dirname(path)) >= len)
		return -1;
	return 0;
}

/* Appends "@dir/@rel@name" to the candidates unless it does not fit. */
static void add(char cands[][PATH_MAX], size_t *n, const char *dir, const char *rel,
                const char *name)
{
	if (*n < MAX_CANDS &&
	    (size_t)snprintf(cands[*n], PATH_MAX, "%s/%s%s", dir, rel, name) < PATH_MAX)
		(*n)++;
}

int drv_simlib_find(const char *name, const char *env, const char *sibling_env, char *path,
                    size_t path_len, char *tried, size_t tried_len)
{
	static const char *const rel[] = {"", "../", "../lib/sampan/", "sampan/"};
	char cands[MAX_CANDS][PATH_MAX], dir[PATH_MAX];
	const char *e = getenv(env), *sib = sibling_env ? getenv(sibling_env) : NULL;
	size_t n = 0, used = 0;

	if (e && *e) {
		snprintf(cands[n++], PATH_MAX, "%s", e);
	} else {
		if (sib && *sib) {
			snprintf(dir, sizeof(dir), "%s", sib);
			add(cands, &n, dirname(dir), "", name);
		}
		if (code_dir(dir, sizeof(dir)) == 0)
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
				add(cands, &n, dir, rel[i], name);
		add(cands, &n, SAMPAN_SIM_LIBDIR, "", name);
	}

	if (tried_len)
		tried[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (access(cands[i], R_OK) == 0) {
			char tmp[PATH_MAX];

			/* dlopen() of a name without a slash would search the
			 * system paths instead. */
			if (!realpath(cands[i], tmp))
				snprintf(tmp, sizeof(tmp), "%s", cands[i]);
			snprintf(path, path_len, "%s", tmp);
			return 0;
		}
		if (used < tried_len)
			used += (size_t)snprintf(tried + used, tried_len - used, "%s%s",
			                         i ? ", " : "", cands[i]);
	}
	return -1;
}
