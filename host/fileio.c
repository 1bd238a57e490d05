/*
 * fileio.c - whole-file reads and atomic writes (see fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sampan.h"

int file_read_all(const char *path, size_t max, uint8_t **data, size_t *len, char *err,
                  size_t err_size)
{
	struct stat st;
	uint8_t *buf;
	FILE *f;
	int ret;

	f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
		return SAMPAN_ERROR_IO;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "%s: not a regular file", path);
		ret = SAMPAN_ERROR_IO;
		goto err_close;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, err_size, "%s: %lld bytes, larger than the %zu MiB limit", path,
		         (long long)st.st_size, max >> 20);
		ret = SAMPAN_ERROR_INVALID;
		goto err_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, err_size, "%s: out of memory", path);
		ret = SAMPAN_ERROR_NO_MEM;
		goto err_close;
	}
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		snprintf(err, err_size, "%s: read error", path);
		free(buf);
		ret = SAMPAN_ERROR_IO;
		goto err_close;
	}
	buf[st.st_size] = 0;
	fclose(f);
	*data = buf;
	*len = (size_t)st.st_size;
	return SAMPAN_OK;

err_close:
	fclose(f);
	return ret;
}

int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_size)
{
	char *tmp;
	mode_t mask;
	FILE *f;
	int fd;

	tmp = malloc(strlen(path) + sizeof(".XXXXXX"));
	if (!tmp) {
		snprintf(err, err_size, "%s: out of memory", path);
		return SAMPAN_ERROR_NO_MEM;
	}
	sprintf(tmp, "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, err_size, "%s: cannot create a temporary file: %s", path,
		         strerror(errno));
		free(tmp);
		return SAMPAN_ERROR_IO;
	}
	/* mkstemp makes the file 0600; give it the mode fopen() would. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0) {
		snprintf(err, err_size, "%s: chmod: %s", tmp, strerror(errno));
		close(fd);
		goto err_unlink;
	}
	f = fdopen(fd, "wb");
	if (!f) {
		snprintf(err, err_size, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto err_unlink;
	}
	if ((len && fwrite(data, 1, len, f) != len) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, err_size, "%s: write error: %s", path, strerror(errno));
		fclose(f);
		goto err_unlink;
	}
	if (fclose(f) != 0) {
		snprintf(err, err_size, "%s: write error: %s", path, strerror(errno));
		goto err_unlink;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, err_size, "%s: cannot rename %s over it: %s", path, tmp,
		         strerror(errno));
		goto err_unlink;
	}
	free(tmp);
	return SAMPAN_OK;

err_unlink:
	unlink(tmp);
	free(tmp);
	return SAMPAN_ERROR_IO;
}
