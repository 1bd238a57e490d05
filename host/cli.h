/*
 * cli.h - what the commands of the `sampan` CLI share: exit codes,
 * messages, option and number parsing, a JSON writer, a seeded random
 * generator and device opening.
 */
#ifndef SAMPAN_HOST_CLI_H
#define SAMPAN_HOST_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sampan.h"

/* Exit status of every command. */
enum cli_exit {
	CLI_EXIT_OK = 0,    /* success */
	CLI_EXIT_FAIL = 1,  /* runtime error, bad input data, or --check mismatch */
	CLI_EXIT_USAGE = 2, /* unknown command or option, bad or missing value */
};

/* A command: argv[0] is its name. Returns an enum cli_exit. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gemm(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);

/* ---------------------------------------------------------------- messages */

/* Prints "sampan: " and the message, and a newline, to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a usage error of command @cmd (NULL: none) to stderr, with a hint
 * to its --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ----------------------------------------------------------------- options */

/* One option of a command. */
struct cli_option {
	const char *name; /* long name without "--" */
	char short_name;  /* 0: none */
	bool has_value;
	int id; /* returned by cli_next_option; > 0 */
};

/* Walks the arguments of a command (argv[0] is the command name). */
struct cli_parser {
	const char *cmd;
	int argc;
	char **argv;
	int index;
};

#define CLI_OPT_END 0    /* no more arguments */
#define CLI_OPT_ERROR -1 /* usage error, already reported */

void cli_parser_init(struct cli_parser *p, int argc, char **argv);

/* Returns the id of the next option of @opts (terminated by an entry with
 * a NULL name) and its value in @value (NULL for flags), CLI_OPT_END, or
 * CLI_OPT_ERROR after reporting an unknown option, a missing value, or a
 * positional argument. Accepts "--name VALUE", "--name=VALUE", "-x VALUE"
 * and "-xVALUE"; "--" ends the options. */
int cli_next_option(struct cli_parser *p, const struct cli_option *opts, const char **value);

/* The same for a command with one operand (a model file) among its
 * options: the first argument that does not start with '-' goes to
 * *@operand while that is still NULL; a second one is a usage error. */
int cli_next_arg(struct cli_parser *p, const struct cli_option *opts, const char **value,
                 const char **operand);

/* Parses @text as a decimal integer in [min, max] (the whole string, no
 * blanks). On failure reports a usage error naming @what and returns
 * false; @out is written only on success. */
bool cli_parse_int(const char *cmd, const char *what, const char *text, int64_t min, int64_t max,
                   int64_t *out);

/* -------------------------------------------------------------------- JSON */

/* Writes one indented JSON value to a stream. Keys are given for members
 * of objects and NULL for array elements and the top value. */
struct json {
	FILE *f;
	int depth;
	bool first; /* no member written yet at this depth */
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *value);
void json_int(struct json *j, const char *key, int64_t value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
/* A number, or null when @value is not finite. */
void json_double(struct json *j, const char *key, double value);
/* Ends the top value with a newline. */
void json_finish(struct json *j);

/* ------------------------------------------------------------------ random */

/* splitmix64: a seed gives the same sequence on every host. */
struct cli_rng {
	uint64_t state;
};

void cli_rng_seed(struct cli_rng *r, uint64_t seed);
uint64_t cli_rng_next(struct cli_rng *r);
/* Uniform in [lo, hi], hi - lo < 2^32. */
int64_t cli_rng_range(struct cli_rng *r, int64_t lo, int64_t hi);

/* ----------------------------------------------------------------- devices */

/* Monotonic time in seconds. */
double cli_now(void);

/* Opens @name (NULL: the default device) and reads its info. On failure
 * reports the library's message and returns CLI_EXIT_USAGE for a malformed
 * name or option, CLI_EXIT_FAIL otherwise. */
int cli_open_device(const char *name, struct sampan_device **dev, struct sampan_info *info);

/* Reports a failed library call @what with the library's detail message;
 * returns CLI_EXIT_FAIL. */
int cli_library_error(const char *what, int err);

#endif /* SAMPAN_HOST_CLI_H */
