/*
 * fileio.h - whole-file reads and atomic writes, shared by the whole host
 * (models, tensors, images, label files, .npy outputs).
 */
#ifndef SAMPAN_HOST_FILEIO_H
#define SAMPAN_HOST_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Reads the whole regular file @path, of at most @max bytes, into a new
 * buffer (one zero byte past its end, not counted in @len). Returns
 * SAMPAN_OK, SAMPAN_ERROR_IO (cannot open or read, not a regular file),
 * SAMPAN_ERROR_INVALID (larger than @max) or SAMPAN_ERROR_NO_MEM; on
 * failure @err starts with @path. */
int file_read_all(const char *path, size_t max, uint8_t **data, size_t *len, char *err,
                  size_t err_size);

/* Writes @len bytes to @path atomically: a temporary file beside it,
 * flushed and renamed over @path, so that @path holds the old contents or
 * the new, never a part; created with the mode fopen() would give (0666
 * less the umask). Returns SAMPAN_OK or SAMPAN_ERROR_IO (or NO_MEM); on
 * failure nothing is left behind and @err starts with @path. */
int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_size);

#endif /* SAMPAN_HOST_FILEIO_H */
