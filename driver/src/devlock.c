/*
 * devlock.c - per-device lock files (see devlock.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devlock.h"
#include "internal.h"

struct drv_devlock {
	int fd;
};

/* Directory of the lock files: $XDG_RUNTIME_DIR when it is a directory,
 * else /tmp. */
static const char *lock_dir(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (xdg && *xdg && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
		return xdg;
	return "/tmp";
}

/* The PID recorded in an open lock file, or 0 if unreadable. */
static long lock_owner(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	if (n <= 0)
		return 0;
	text[n] = '\0';
	return strtol(text, NULL, 10);
}

int drv_devlock_acquire(const char *name, struct drv_devlock **lockp)
{
	char safe[SAMPAN_NAME_MAX], path[PATH_MAX], pid[32];
	struct drv_devlock *lock;
	size_t i;
	int fd, n, err;

	for (i = 0; name[i] && i < sizeof(safe) - 1; i++) {
		char ch = name[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		         (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
		safe[i] = ok ? ch : '_';
	}
	safe[i] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/sampan-%s.lock", lock_dir(), safe) >=
	    sizeof(path))
		return drv_error(SAMPAN_ERROR_IO, "device '%s': lock file path too long", name);

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return drv_error(SAMPAN_ERROR_IO, "device '%s': cannot open lock file %s: %s", name,
		                 path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		long owner;

		if (errno != EWOULDBLOCK) {
			err = drv_error(SAMPAN_ERROR_IO, "device '%s': cannot lock %s: %s", name,
			                path, strerror(errno));
			goto err_close_fd;
		}
		owner = lock_owner(fd);
		if (owner == (long)getpid())
			err = drv_error(SAMPAN_ERROR_BUSY,
			                "device %s is in use by process %ld (this process: it is "
			                "already open; lock %s)",
			                name, owner, path);
		else if (owner > 0)
			err = drv_error(SAMPAN_ERROR_BUSY,
			                "device %s is in use by process %ld (lock %s)", name, owner,
			                path);
		else
			err = drv_error(SAMPAN_ERROR_BUSY,
			                "device %s is in use by another process (lock %s)", name,
			                path);
		goto err_close_fd;
	}
	/* Ours now: record the PID for the message of the next opener. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		err = drv_error(SAMPAN_ERROR_IO, "device '%s': cannot write lock file %s: %s", name,
		                path, strerror(errno));
		goto err_close_fd;
	}
	lock = malloc(sizeof(*lock));
	if (!lock) {
		err = drv_error(SAMPAN_ERROR_NO_MEM, "device '%s': out of memory", name);
		goto err_close_fd;
	}
	lock->fd = fd;
	*lockp = lock;
	return SAMPAN_OK;

err_close_fd:
	close(fd);
	return err;
}

void drv_devlock_release(struct drv_devlock *lock)
{
	if (!lock)
		return;
	/* The file stays: removing it would race with a concurrent opener
	 * that has it open but not yet locked. */
	close(lock->fd);
	free(lock);
}
