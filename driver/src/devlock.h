/*
 * devlock.h - one process at a time per physical device.
 *
 * A board (xrt, usb) is a single resource: two processes driving its
 * registers would corrupt each other's jobs. Its backend takes an advisory
 * lock (flock) on a file named after the device, in $XDG_RUNTIME_DIR or
 * else /tmp, e.g. /tmp/sampan-xrt-0.lock, before touching the hardware, and
 * holds it until close. The lock dies with the process, so a crash never
 * leaves a device locked; the file keeps the owner's PID for the message.
 * A child forked while the lock is held shares it until it exits or execs
 * (the descriptor is close-on-exec), as with any flock.
 *
 * Simulated devices (sim, sim-usb) and the functional model (cpu) are not
 * locked: each process builds its own private card in its own memory, so
 * there is nothing to share and nothing to protect.
 */
#ifndef SAMPAN_DEVLOCK_H
#define SAMPAN_DEVLOCK_H

struct drv_devlock;

/*
 * Locks device @name (any text; characters outside [A-Za-z0-9._-] become
 * '_' in the file name) for the calling process. Returns SAMPAN_OK and a
 * lock to release, SAMPAN_ERROR_BUSY ("device X is in use by process PID")
 * when another process, or another open in this one, holds it, or
 * SAMPAN_ERROR_IO when the lock file cannot be created.
 */
int drv_devlock_acquire(const char *name, struct drv_devlock **lock);

/* Releases a lock; NULL is a no-op. */
void drv_devlock_release(struct drv_devlock *lock);

#endif /* SAMPAN_DEVLOCK_H */
