// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket (see control.h). A socket rather than the block map
 * pinned in bpffs: the running hdrlog itself takes a block out, so the
 * unblock record is written and the state file kept true; it needs no
 * bpffs (not there inside `ip netns exec`, nor in the unit's sandbox);
 * and --top is answered from the counters without a second reader of
 * the kernel's maps. A path, not an abstract name: abstract names belong
 * to a network namespace, and file modes say who may ask.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "log.h"

#define PENDING_MAX	4
#define PENDING_NS	1000000000ull

struct control {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char made_dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct {
		int fd;
		uint64_t since;
	} pending[PENDING_MAX];
};

static int addr_of(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

struct control *control_open(const char *path)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	const char *why = NULL;
	char dir[sizeof(sa.sun_path)], *slash;
	mode_t old;
	int probe;

	if (!c)
		return NULL;
	for (int i = 0; i < PENDING_MAX; i++)
		c->pending[i].fd = -1;
	if (addr_of(path, &sa)) {
		why = "the path is too long";
		goto fail;
	}
	strcpy(c->path, path);
	/* /run/hdrlog outside systemd (the unit's RuntimeDirectory makes it) */
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (!mkdir(dir, 0700)) {
			strcpy(c->made_dir, dir);	/* removed at exit */
		} else if (errno != EEXIST) {
			why = strerror(errno);
			goto fail;
		}
	}
	/* A socket nobody answers on is a stale one: an earlier hdrlog's. */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (!connect(probe, (struct sockaddr *)&sa, sizeof(sa))) {
			close(probe);
			why = "another hdrlog answers there (give each its own --control PATH)";
			goto fail;
		}
		if (errno == ECONNREFUSED)
			unlink(path);
		close(probe);
	}
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		why = strerror(errno);
		goto fail;
	}
	old = umask(0177);	/* 0600 from the start: no window */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		why = strerror(errno);
		umask(old);
		close(c->fd);
		goto fail;
	}
	umask(old);
	if (listen(c->fd, 8)) {
		why = strerror(errno);
		close(c->fd);
		unlink(path);
		goto fail;
	}
	return c;
fail:
	if (c->made_dir[0])
		rmdir(c->made_dir);
	pr_warn("--control %s: cannot listen: %s; hdrlog --blocks and --top cannot reach this hdrlog",
		path, why);
	free(c);
	return NULL;
}

int control_fd(const struct control *c)
{
	return c ? c->fd : -1;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	for (int i = 0; i < PENDING_MAX; i++)
		if (c->pending[i].fd >= 0)
			close(c->pending[i].fd);
	close(c->fd);
	unlink(c->path);
	/* hdrlog's own, not the unit's: gone with it unless others use it */
	if (c->made_dir[0])
		rmdir(c->made_dir);
	free(c);
}

bool control_pending(const struct control *c)
{
	if (c)
		for (int i = 0; i < PENDING_MAX; i++)
			if (c->pending[i].fd >= 0)
				return true;
	return false;
}

/* true: done with this connection (answered, or given up on). */
static bool answer(int fd, control_handler handle, void *ctx)
{
	static char reply[CONTROL_REPLY_MAX];
	char req[CONTROL_REQUEST_MAX + 1];
	ssize_t n = recv(fd, req, CONTROL_REQUEST_MAX, MSG_DONTWAIT);
	size_t len;
	int r;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n <= 0)
		return true;
	req[n] = '\0';
	req[strcspn(req, "\n")] = '\0';
	r = handle(ctx, req, reply + 6, sizeof(reply) - 6);
	memcpy(reply, r ? "error\n" : "ok\n\0\0\0", 6);
	len = strlen(reply + 6) + 6;
	if (!r) {	/* "ok\n" is 3 bytes: close the gap */
		memmove(reply + 3, reply + 6, len - 6);
		len -= 3;
	}
	/* a client that does not read gets nothing: never wait for it */
	send(fd, reply, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return true;
}

void control_serve(struct control *c, control_handler handle, void *ctx)
{
	uint64_t now = clock_mono_ns();
	int fd;

	if (!c)
		return;
	for (int i = 0; i < PENDING_MAX; i++) {
		if (c->pending[i].fd < 0)
			continue;
		if (answer(c->pending[i].fd, handle, ctx) ||
		    now - c->pending[i].since > PENDING_NS) {
			close(c->pending[i].fd);
			c->pending[i].fd = -1;
		}
	}
	while ((fd = accept4(c->fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int i;

		if (answer(fd, handle, ctx)) {
			close(fd);
			continue;
		}
		for (i = 0; i < PENDING_MAX && c->pending[i].fd >= 0; i++)
			;
		if (i == PENDING_MAX) {
			close(fd);	/* too many slow clients: they retry */
			continue;
		}
		c->pending[i].fd = fd;
		c->pending[i].since = now;
	}
}

/* One request, one reply; 0, or 1 with a message. */
static int ask(const char *path, const char *request, char *reply,
	       size_t size, bool *ok)
{
	struct sockaddr_un sa;
	struct pollfd p;
	ssize_t n;
	int fd;

	if (addr_of(path, &sa)) {
		fprintf(stderr, "hdrlog: --control %s: the path is too long\n", path);
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "hdrlog: no running hdrlog answers at %s (%s): is one running with --respond? Give its --control PATH, its -i IF or its --config FILE\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "hdrlog: --control %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 5000) <= 0) {
		fprintf(stderr, "hdrlog: the hdrlog at %s did not answer within 5 s\n", path);
		close(fd);
		return 1;
	}
	n = recv(fd, reply, size - 1, 0);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "hdrlog: the hdrlog at %s closed without an answer\n", path);
		return 1;
	}
	reply[n] = '\0';
	*ok = !strncmp(reply, "ok\n", 3);
	if (!*ok && strncmp(reply, "error\n", 6)) {
		fprintf(stderr, "hdrlog: %s does not answer as hdrlog does\n", path);
		return 1;
	}
	return 0;
}

static volatile sig_atomic_t top_stop;

static void on_top_signal(int sig)
{
	top_stop = sig;
}

/*
 * Wait until next (clock_mono_ns()) for a key or a signal; true: quit
 * (q, Q, an interrupt). The signals are blocked but while waiting here,
 * so one that comes while a view is asked for or drawn ends the wait
 * that follows, and none is lost between the check and the wait.
 */
static bool top_wait(uint64_t next, bool keys, const sigset_t *waitmask)
{
	for (;;) {
		struct pollfd p = { .fd = keys ? STDIN_FILENO : -1,
				    .events = POLLIN };
		uint64_t now = clock_mono_ns();
		struct timespec ts;
		char c[64];
		ssize_t n;

		if (top_stop)
			return true;
		if (now >= next)
			return false;
		ts = (struct timespec){ .tv_sec = (next - now) / 1000000000ull,
					.tv_nsec = (next - now) % 1000000000ull };
		if (ppoll(&p, 1, &ts, waitmask) <= 0)
			continue;	/* a signal, or the time */
		n = p.revents & POLLIN ? read(STDIN_FILENO, c, sizeof(c)) : -1;
		if (n <= 0) {
			keys = false;	/* hung up, or the end of its input */
			continue;
		}
		if (memchr(c, 'q', n) || memchr(c, 'Q', n))
			return true;
	}
}

/*
 * --top on a terminal: a view each second, after clearing the screen,
 * until q, an interrupt (SIGINT, SIGTERM, SIGHUP: exit status 0) or the
 * hdrlog asked going away (1). Keys are read a key at a time, unechoed;
 * the terminal is put back as it was on every way out.
 */
static int top_loop(const char *path, const char *request, char *reply,
		    size_t size)
{
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_top_signal };
	sigset_t block, waitmask;
	struct termios saved, raw;
	bool keys = isatty(STDIN_FILENO) &&
		    !tcgetattr(STDIN_FILENO, &saved);
	int ret = 0;
	bool ok;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	if (keys) {
		raw = saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	for (;;) {
		uint64_t next = clock_mono_ns() + 1000000000ull;

		if (ask(path, request, reply, size, &ok)) {
			ret = 1;
			break;
		}
		if (!ok) {
			fprintf(stderr, "hdrlog: %s", reply + 6);
			ret = 1;
			break;
		}
		/* as top does: home, clear, the frame */
		fputs("\033[H\033[2J", stdout);
		fputs(reply + 3, stdout);
		if (fflush(stdout)) {	/* the terminal is gone */
			ret = 1;
			break;
		}
		if (top_wait(next, keys, &waitmask))
			break;
	}
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sigprocmask(SIG_SETMASK, &waitmask, NULL);
	return ret;
}

int control_command(const char *path, const char *request, bool top,
		    bool once)
{
	static char reply[CONTROL_REPLY_MAX + 1];
	bool ok;

	/* a pipe or a file gets one view, without screen codes: as --once */
	if (top && !once && isatty(STDOUT_FILENO))
		return top_loop(path, request, reply, sizeof(reply));
	if (ask(path, request, reply, sizeof(reply), &ok))
		return 1;
	if (!ok) {
		fprintf(stderr, "hdrlog: %s", reply + 6);
		return 1;
	}
	fputs(reply + 3, stdout);
	fflush(stdout);
	return 0;
}
