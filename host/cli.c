/*
 * cli.c - shared helpers of the `sampan` commands (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- messages */

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sampan: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("sampan: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'sampan %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
	return CLI_EXIT_USAGE;
}

/* ----------------------------------------------------------------- options */

void cli_parser_init(struct cli_parser *p, int argc, char **argv)
{
	p->cmd = argv[0];
	p->argc = argc;
	p->argv = argv;
	p->index = 1;
}

/* The option named by @arg ("--name" or "--name=value" without the dashes,
 * or a short letter); NULL if none. */
static const struct cli_option *find_long(const struct cli_option *opts, const char *arg,
                                          size_t len)
{
	for (; opts->name; opts++)
		if (strlen(opts->name) == len && strncmp(opts->name, arg, len) == 0)
			return opts;
	return NULL;
}

static const struct cli_option *find_short(const struct cli_option *opts, char c)
{
	for (; opts->name; opts++)
		if (opts->short_name && opts->short_name == c)
			return opts;
	return NULL;
}

int cli_next_option(struct cli_parser *p, const struct cli_option *opts, const char **value)
{
	const struct cli_option *opt;
	const char *arg, *inline_value = NULL;

	if (p->index >= p->argc)
		return CLI_OPT_END;
	arg = p->argv[p->index++];
	if (strcmp(arg, "--") == 0) {
		if (p->index < p->argc) {
			cli_usage_error(p->cmd, "unexpected argument '%s'", p->argv[p->index]);
			return CLI_OPT_ERROR;
		}
		return CLI_OPT_END;
	}
	if (arg[0] != '-' || arg[1] == '\0') {
		cli_usage_error(p->cmd, "unexpected argument '%s'", arg);
		return CLI_OPT_ERROR;
	}
	if (arg[1] == '-') {
		const char *eq = strchr(arg + 2, '=');
		size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);

		opt = find_long(opts, arg + 2, len);
		if (!opt) {
			cli_usage_error(p->cmd, "unknown option '%.*s'", (int)len + 2, arg);
			return CLI_OPT_ERROR;
		}
		if (eq && !opt->has_value) {
			cli_usage_error(p->cmd, "option '--%s' takes no value", opt->name);
			return CLI_OPT_ERROR;
		}
		if (eq)
			inline_value = eq + 1;
	} else {
		opt = find_short(opts, arg[1]);
		if (!opt) {
			cli_usage_error(p->cmd, "unknown option '-%c'", arg[1]);
			return CLI_OPT_ERROR;
		}
		if (arg[2] != '\0') {
			if (!opt->has_value) {
				cli_usage_error(p->cmd, "unknown option '%s'", arg);
				return CLI_OPT_ERROR;
			}
			inline_value = arg + 2;
		}
	}
	*value = NULL;
	if (!opt->has_value)
		return opt->id;
	if (inline_value) {
		*value = inline_value;
	} else if (p->index < p->argc) {
		*value = p->argv[p->index++];
	} else {
		cli_usage_error(p->cmd, "option '%s' needs a value", arg);
		return CLI_OPT_ERROR;
	}
	return opt->id;
}

int cli_next_arg(struct cli_parser *p, const struct cli_option *opts, const char **value,
                 const char **operand)
{
	if (p->index < p->argc && p->argv[p->index][0] != '-' && !*operand) {
		*operand = p->argv[p->index++];
		if (p->index >= p->argc)
			return CLI_OPT_END;
	}
	return cli_next_option(p, opts, value);
}

bool cli_parse_int(const char *cmd, const char *what, const char *text, int64_t min, int64_t max,
                   int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (text[0] == '\0' || *end != '\0' ||
	    (text[0] != '-' && (text[0] < '0' || text[0] > '9'))) {
		cli_usage_error(cmd, "%s: '%s' is not an integer", what, text);
		return false;
	}
	if (errno == ERANGE || v < min || v > max) {
		cli_usage_error(cmd, "%s: %s is out of range [%lld, %lld]", what, text,
		                (long long)min, (long long)max);
		return false;
	}
	*out = v;
	return true;
}

/* -------------------------------------------------------------------- JSON */

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first = true;
}

static void json_raw_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Separator, indentation and key of the next member. */
static void json_member(struct json *j, const char *key)
{
	if (j->depth > 0) {
		fputs(j->first ? "\n" : ",\n", j->f);
		fprintf(j->f, "%*s", 2 * j->depth, "");
	}
	j->first = false;
	if (key) {
		json_raw_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *key, char c)
{
	json_member(j, key);
	fputc(c, j->f);
	j->depth++;
	j->first = true;
}

static void json_close(struct json *j, char c)
{
	j->depth--;
	if (!j->first)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	fputc(c, j->f);
	j->first = false;
}

void json_object_begin(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void json_object_end(struct json *j)
{
	json_close(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

void json_array_end(struct json *j)
{
	json_close(j, ']');
}

void json_string(struct json *j, const char *key, const char *value)
{
	json_member(j, key);
	json_raw_string(j->f, value);
}

void json_int(struct json *j, const char *key, int64_t value)
{
	json_member(j, key);
	fprintf(j->f, "%lld", (long long)value);
}

void json_uint(struct json *j, const char *key, uint64_t value)
{
	json_member(j, key);
	fprintf(j->f, "%llu", (unsigned long long)value);
}

void json_bool(struct json *j, const char *key, bool value)
{
	json_member(j, key);
	fputs(value ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_member(j, key);
	fputs("null", j->f);
}

void json_double(struct json *j, const char *key, double value)
{
	json_member(j, key);
	if (isfinite(value))
		fprintf(j->f, "%.9g", value);
	else
		fputs("null", j->f);
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

/* ------------------------------------------------------------------ random */

void cli_rng_seed(struct cli_rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t cli_rng_next(struct cli_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int64_t cli_rng_range(struct cli_rng *r, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)(hi - lo) + 1;

	return lo + (int64_t)(((cli_rng_next(r) >> 32) * span) >> 32);
}

/* ----------------------------------------------------------------- devices */

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_open_device(const char *name, struct sampan_device **dev, struct sampan_info *info)
{
	const char *shown = name && name[0] ? name : "sim";
	int err;

	err = sampan_open(dev, name);
	if (err != SAMPAN_OK) {
		cli_error("cannot open device '%s': %s", shown,
		          sampan_last_error()[0] ? sampan_last_error() : sampan_strerror(err));
		return err == SAMPAN_ERROR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
	}
	err = sampan_get_info(*dev, info);
	if (err != SAMPAN_OK) {
		cli_library_error("cannot read the device info", err);
		sampan_close(*dev);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int cli_library_error(const char *what, int err)
{
	const char *detail = sampan_last_error();

	if (detail[0])
		cli_error("%s: %s (%s)", what, detail, sampan_strerror(err));
	else
		cli_error("%s: %s", what, sampan_strerror(err));
	return CLI_EXIT_FAIL;
}
