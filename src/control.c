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

/* --top's terminal and signals; a one-shot ask has none. */
struct top {
	bool keys;		/* stdin is a terminal, read a key at a time */
	sigset_t waitmask;	/* the signal mask while waiting */
	struct termios saved, raw;
};

static volatile sig_atomic_t top_stop, top_tstp, top_cont;

static void on_top_signal(int sig)
{
	if (sig == SIGTSTP)
		top_tstp = 1;
	else if (sig == SIGCONT)
		top_cont = 1;
	else
		top_stop = sig;
}

static void top_keymode(const struct top *t, bool raw)
{
	if (t->keys)
		tcsetattr(STDIN_FILENO, TCSANOW, raw ? &t->raw : &t->saved);
}

enum top_wake { WAKE_FD, WAKE_TIME, WAKE_QUIT, WAKE_REDRAW };

/*
 * Wait until deadline (clock_mono_ns()) for fd (-1: none) to be readable
 * and, with t, for a key or a signal: WAKE_QUIT on q, Q or an interrupt;
 * WAKE_REDRAW after a stop (^Z) and its SIGCONT. The signals are blocked
 * but while waiting here, so one that comes while a view is asked for or
 * drawn ends the wait that follows, and none is lost between the check
 * and the wait. ^Z puts the terminal back, stops, and takes the key mode
 * again after. It stops by SIGSTOP, not the default SIGTSTP: the kernel
 * discards that in an orphaned process group, and --top would run on
 * with the terminal as the shell has it.
 */
static enum top_wake top_wait(int fd, uint64_t deadline, struct top *t)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = t && t->keys ? STDIN_FILENO : -1,
			  .events = POLLIN },
		};
		uint64_t now = clock_mono_ns();
		struct timespec ts;
		char c[64];
		ssize_t n;

		if (t && top_stop)
			return WAKE_QUIT;
		if (t && top_tstp) {
			top_tstp = 0;
			top_keymode(t, false);
			raise(SIGSTOP);
			top_keymode(t, true);	/* SIGCONT redraws */
		}
		if (t && top_cont) {
			top_cont = 0;
			top_keymode(t, true);	/* stopped by someone else */
			return WAKE_REDRAW;
		}
		if (now >= deadline)
			return WAKE_TIME;
		ts = (struct timespec){ .tv_sec = (deadline - now) / 1000000000ull,
					.tv_nsec = (deadline - now) % 1000000000ull };
		if (ppoll(p, 2, &ts, t ? &t->waitmask : NULL) <= 0)
			continue;	/* a signal, or the time */
		if (p[0].revents)
			return WAKE_FD;
		if (!p[1].revents)
			continue;
		n = p[1].revents & POLLIN ? read(STDIN_FILENO, c, sizeof(c)) : -1;
		if (n <= 0) {
			t->keys = false;	/* hung up, or the end of its input */
			continue;
		}
		if (memchr(c, 'q', n) || memchr(c, 'Q', n))
			return WAKE_QUIT;
	}
}

enum ask_result { ASKED, ASK_FAILED, ASK_BUSY, ASK_QUIT };

/*
 * One request, one reply; ASK_FAILED with a message. The connect does
 * not wait: a full listen queue (an hdrlog stuck, clients queued behind
 * it) is ASK_BUSY, with a message unless t (--top shows it instead).
 * With t, the wait for the reply takes keys and signals (ASK_QUIT).
 */
static enum ask_result ask(const char *path, const char *request,
			   char *reply, size_t size, bool *ok, struct top *t)
{
	struct sockaddr_un sa;
	enum top_wake w;
	ssize_t n;
	int fd;

	if (addr_of(path, &sa)) {
		fprintf(stderr, "hdrlog: --control %s: the path is too long\n", path);
		return ASK_FAILED;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(fd);
		fd = -1;
		errno = err;
	}
	if (fd < 0 && errno == EAGAIN) {
		if (!t)
			fprintf(stderr, "hdrlog: the hdrlog at %s is busy: its control socket's queue is full; try again later\n",
				path);
		return ASK_BUSY;
	}
	if (fd < 0) {
		fprintf(stderr, "hdrlog: no running hdrlog answers at %s (%s): is one running with --respond? Give its --control PATH, its -i IF or its --config FILE\n",
			path, strerror(errno));
		return ASK_FAILED;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "hdrlog: --control %s: %s\n", path, strerror(errno));
		close(fd);
		return ASK_FAILED;
	}
	do
		w = top_wait(fd, clock_mono_ns() + 5000000000ull, t);
	while (w == WAKE_REDRAW);
	if (w == WAKE_QUIT) {
		close(fd);
		return ASK_QUIT;
	}
	if (w == WAKE_TIME) {
		fprintf(stderr, "hdrlog: the hdrlog at %s did not answer within 5 s\n", path);
		close(fd);
		return ASK_FAILED;
	}
	n = recv(fd, reply, size - 1, 0);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "hdrlog: the hdrlog at %s closed without an answer\n", path);
		return ASK_FAILED;
	}
	reply[n] = '\0';
	*ok = !strncmp(reply, "ok\n", 3);
	if (!*ok && strncmp(reply, "error\n", 6)) {
		fprintf(stderr, "hdrlog: %s does not answer as hdrlog does\n", path);
		return ASK_FAILED;
	}
	return ASKED;
}

/*
 * --top on a terminal: a view each second, after clearing the screen,
 * until q, an interrupt (SIGINT, SIGTERM, SIGHUP, SIGQUIT: exit status
 * 0) or the hdrlog asked going away (1). A busy hdrlog (its listen queue
 * full) is said on the screen and asked again at the next refresh: it
 * may be a moment's, and q still quits. Keys are read a key at a time,
 * unechoed; the terminal is put back as it was on every way out, and
 * while stopped (^Z).
 */
static int top_loop(const char *path, const char *request, char *reply,
		    size_t size)
{
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP,
			     SIGCONT };
	struct sigaction sa = { .sa_handler = on_top_signal };
	struct top t = { .keys = isatty(STDIN_FILENO) };
	enum ask_result r;
	sigset_t block;
	int ret = 0;
	bool ok;

	t.keys = t.keys && !tcgetattr(STDIN_FILENO, &t.saved);
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &t.waitmask);
	if (t.keys) {
		t.raw = t.saved;
		t.raw.c_lflag &= ~(ICANON | ECHO);
		t.raw.c_cc[VMIN] = 1;
		t.raw.c_cc[VTIME] = 0;
		top_keymode(&t, true);
	}
	for (;;) {
		uint64_t next = clock_mono_ns() + 1000000000ull;

		r = ask(path, request, reply, size, &ok, &t);
		if (r == ASK_QUIT)
			break;
		if (r == ASK_FAILED) {
			ret = 1;
			break;
		}
		if (r == ASKED && !ok) {
			fprintf(stderr, "hdrlog: %s", reply + 6);
			ret = 1;
			break;
		}
		/* as top does: home, clear, the frame */
		fputs("\033[H\033[2J", stdout);
		if (r == ASK_BUSY)
			printf("the hdrlog at %s is busy: its control socket's queue is full; asking again each second (q quits)\n",
			       path);
		else
			fputs(reply + 3, stdout);
		if (fflush(stdout)) {	/* the terminal is gone */
			ret = 1;
			break;
		}
		if (top_wait(-1, next, &t) == WAKE_QUIT)
			break;
	}
	top_keymode(&t, false);
	sigprocmask(SIG_SETMASK, &t.waitmask, NULL);
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
	if (ask(path, request, reply, sizeof(reply), &ok, NULL) != ASKED)
		return 1;
	if (!ok) {
		fprintf(stderr, "hdrlog: %s", reply + 6);
		return 1;
	}
	fputs(reply + 3, stdout);
	fflush(stdout);
	return 0;
}
