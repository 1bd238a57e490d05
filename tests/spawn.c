/*
 * spawn.c - fork/exec with captured output and a deadline (see spawn.h).
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A growing capture buffer. */
struct sink {
	char *data;
	size_t len, cap;
};

static int sink_read(struct sink *s, int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : 0;
	if (s->len + (size_t)n + 1 > s->cap) {
		size_t cap = (s->cap ? s->cap * 2 : 8192) + (size_t)n;
		char *p = realloc(s->data, cap);

		if (!p)
			return 0;
		s->data = p;
		s->cap = cap;
	}
	memcpy(s->data + s->len, buf, (size_t)n);
	s->len += (size_t)n;
	s->data[s->len] = '\0';
	return 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int spawn_run(char *const argv[], char *const env[], int timeout_s, struct spawn_result *res)
{
	int out_pipe[2], err_pipe[2], wstatus = 0;
	struct sink sinks[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
	double deadline = now() + timeout_s;
	int open_fds = 2, timed_out = 0;
	pid_t pid;

	res->status = -1;
	res->out = NULL;
	res->err = NULL;
	if (pipe(out_pipe) || pipe(err_pipe))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(devnull, 0);
		dup2(out_pipe[1], 1);
		dup2(err_pipe[1], 2);
		close(out_pipe[0]);
		close(err_pipe[0]);
		for (size_t i = 0; env && env[i]; i++) {
			if (strchr(env[i], '='))
				putenv(env[i]);
			else
				unsetenv(env[i]);
		}
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);

	struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
	while (open_fds > 0) {
		double left = deadline - now();

		if (left <= 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(fds, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				if (!sink_read(&sinks[i], fds[i].fd)) {
					close(fds[i].fd);
					fds[i].fd = -1;
					open_fds--;
				}
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	res->out = sinks[0].data ? sinks[0].data : strdup("");
	res->err = sinks[1].data ? sinks[1].data : strdup("");
	if (timed_out)
		res->status = -1;
	else if (WIFEXITED(wstatus))
		res->status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		res->status = 128 + WTERMSIG(wstatus);
	return res->status;
}

void spawn_result_free(struct spawn_result *res)
{
	free(res->out);
	free(res->err);
	res->out = NULL;
	res->err = NULL;
}
