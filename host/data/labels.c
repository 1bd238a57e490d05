/*
 * labels.c - class-name files (see labels.h).
 */
#include "data/labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "sampan.h"

void labels_destroy(struct labels *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l);
}

const char *labels_name(const struct labels *l, int64_t cls)
{
	return l && cls >= 0 && cls < l->n ? l->names[cls] : NULL;
}

int labels_read(const char *path, struct labels **out, char *err, size_t err_size)
{
	struct labels *l;
	uint8_t *data;
	size_t len, pos = 0;
	int ret, line = 0;

	ret = file_read_all(path, (size_t)LABELS_MAX * (LABELS_NAME_MAX + 2), &data, &len, err,
	                    err_size);
	if (ret)
		return ret;
	l = calloc(1, sizeof(*l));
	if (!l || !(l->names = calloc(LABELS_MAX, sizeof(*l->names)))) {
		snprintf(err, err_size, "%s: out of memory", path);
		ret = SAMPAN_ERROR_NO_MEM;
		goto err;
	}
	while (pos < len) {
		size_t end = pos, a, b;

		while (end < len && data[end] != '\n')
			end++;
		line++;
		a = pos;
		b = end;
		while (a < b && (data[a] == ' ' || data[a] == '\t'))
			a++;
		while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r'))
			b--;
		if (memchr(data + pos, 0, end - pos)) {
			snprintf(err, err_size,
			         "%s: line %d: a NUL byte (not a text file of names)", path, line);
			ret = SAMPAN_ERROR_INVALID;
			goto err;
		}
		if (a == b) {
			snprintf(err, err_size, "%s: line %d: empty name", path, line);
			ret = SAMPAN_ERROR_INVALID;
			goto err;
		}
		if (b - a > LABELS_NAME_MAX || l->n == LABELS_MAX) {
			snprintf(err, err_size, "%s: line %d: %s", path, line,
			         l->n == LABELS_MAX ? "too many names" : "name too long");
			ret = SAMPAN_ERROR_INVALID;
			goto err;
		}
		l->names[l->n] = strndup((const char *)data + a, b - a);
		if (!l->names[l->n]) {
			snprintf(err, err_size, "%s: out of memory", path);
			ret = SAMPAN_ERROR_NO_MEM;
			goto err;
		}
		l->n++;
		pos = end + 1;
	}
	if (l->n == 0) {
		snprintf(err, err_size, "%s: no names", path);
		ret = SAMPAN_ERROR_INVALID;
		goto err;
	}
	free(data);
	*out = l;
	return SAMPAN_OK;

err:
	free(data);
	labels_destroy(l);
	return ret;
}
