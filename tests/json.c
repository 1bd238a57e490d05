/*
 * json.c - a strict JSON validator and top-level member look-up (see
 * json.h). Recursive descent over a NUL-terminated string; nesting is
 * bounded so that hostile input cannot exhaust the stack.
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Each parser returns the position after the value, or NULL. */
static const char *parse_value(const char *p, int depth);

static const char *parse_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL; /* includes the terminating NUL */
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!is_hex(p[i]))
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *parse_digits(const char *p)
{
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *parse_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!(p = parse_digits(p)))
		return NULL;
	if (*p == '.' && !(p = parse_digits(p + 1)))
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(p = parse_digits(p)))
			return NULL;
	}
	return p;
}

static const char *parse_container(const char *p, int depth, char close, int object)
{
	p = skip_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if (!(p = parse_string(p)))
				return NULL;
			p = skip_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if (!(p = parse_value(p, depth + 1)))
			return NULL;
		p = skip_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = skip_ws(p);
	}
}

static const char *parse_value(const char *p, int depth)
{
	if (depth > MAX_DEPTH)
		return NULL;
	p = skip_ws(p);
	switch (*p) {
	case '{':
		return parse_container(p, depth, '}', 1);
	case '[':
		return parse_container(p, depth, ']', 0);
	case '"':
		return parse_string(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		return parse_number(p);
	}
}

int json_valid(const char *text)
{
	const char *end = parse_value(text, 0);

	return end && *skip_ws(end) == '\0';
}

int json_member(const char *text, const char *key, double *num, char *str, size_t str_size)
{
	const char *p = skip_ws(text);
	size_t key_len = strlen(key);

	if (*p != '{')
		return 0;
	p = skip_ws(p + 1);
	while (*p == '"') {
		const char *name = p + 1, *end = parse_string(p), *value;

		if (!end)
			return 0;
		p = skip_ws(end);
		if (*p++ != ':')
			return 0;
		value = skip_ws(p);
		if (!(p = parse_value(value, 1)))
			return 0;
		if ((size_t)(end - 1 - name) == key_len && !memcmp(name, key, key_len)) {
			if (*value == '"') {
				size_t n = (size_t)(p - value - 2);

				if (str && str_size) {
					n = n < str_size - 1 ? n : str_size - 1;
					memcpy(str, value + 1, n);
					str[n] = '\0';
				}
				return 2;
			}
			if (*value == '-' || (*value >= '0' && *value <= '9')) {
				if (num)
					*num = strtod(value, NULL);
				return 1;
			}
			return 3;
		}
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return 0;
}
