/*
 * labels.h - class names of a classifier: a text file with one name a
 * line, line N naming class N (the convention of image-classification
 * tools, e.g. ImageNet's synset lists and torchvision's).
 */
#ifndef SAMPAN_HOST_LABELS_H
#define SAMPAN_HOST_LABELS_H

#include <stddef.h>
#include <stdint.h>

/* Most names and longest name (bytes) accepted. */
#define LABELS_MAX 100000
#define LABELS_NAME_MAX 256

struct labels {
	int n;
	char **names; /* (n) */
};

/* Reads @path: UTF-8 text, lines ended by "\n" or "\r\n" (the last may
 * lack it), surrounding blanks trimmed; a name may not be empty. Returns a
 * sampan_error; on failure @err names @path, and the line at fault. */
int labels_read(const char *path, struct labels **l, char *err, size_t err_size);

/* NULL is a no-op. */
void labels_destroy(struct labels *l);

/* The name of class @cls, or NULL when @l is NULL or has no such line. */
const char *labels_name(const struct labels *l, int64_t cls);

#endif /* SAMPAN_HOST_LABELS_H */
