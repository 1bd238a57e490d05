/*
 * spawn.h - running a program as a test would from a shell: arguments,
 * extra environment, captured stdout and stderr, and a time limit.
 */
#ifndef SAMPAN_TEST_SPAWN_H
#define SAMPAN_TEST_SPAWN_H

#include <stddef.h>

/* What a run produced. */
struct spawn_result {
	int status; /* exit code; 128 + signal if killed by one; -1 on timeout or spawn failure */
	char *out;  /* captured stdout, NUL-terminated (never NULL after spawn_run) */
	char *err;  /* captured stderr, likewise */
};

/* Runs @argv (argv[0] is the program path, NULL-terminated) with the
 * current environment changed by @env (NULL-terminated, may be NULL):
 * "NAME=value" sets a variable, a bare "NAME" removes it; standard input from /dev/null, for at
 * most @timeout_s seconds (then killed). Returns the exit status as in spawn_result. */
int spawn_run(char *const argv[], char *const env[], int timeout_s, struct spawn_result *res);

void spawn_result_free(struct spawn_result *res);

#endif /* SAMPAN_TEST_SPAWN_H */
