/*
 * json.h - just enough JSON for the CLI tests: a strict validator and a
 * look-up of a top-level member of an object.
 */
#ifndef SAMPAN_TEST_JSON_H
#define SAMPAN_TEST_JSON_H

#include <stddef.h>

/* 1 if @text is exactly one JSON value (RFC 8259) with optional
 * surrounding white space, else 0. */
int json_valid(const char *text);

/* Finds member @key of the top-level object in @text (valid JSON). For a
 * number, writes it to @num and returns 1; for a string, copies it
 * (escapes left as they are) to @str (@str_size bytes) and returns 2;
 * other values return 3; a missing key or a non-object returns 0. @num
 * and @str may be NULL. */
int json_member(const char *text, const char *key, double *num, char *str, size_t str_size);

#endif /* SAMPAN_TEST_JSON_H */
