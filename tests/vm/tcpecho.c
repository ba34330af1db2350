// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcpecho: one TCP connection with known byte counts, for the socket-event
 * cases of tests/vm/guest.sh. Built static by tests/vm/run.sh.
 *
 *   tcpecho -l [-n NAME] ADDR PORT SEND RECV	server: accept one connection
 *	on ADDR:PORT, read RECV bytes, write SEND bytes, read until the peer
 *	closes, close
 *   tcpecho [-n NAME] ADDR PORT SEND RECV	client: connect to ADDR:PORT,
 *	write SEND bytes, read RECV bytes, close first (active close)
 *   tcpecho -u [-n NAME] ADDR PORT N M	UDP: from one unconnected socket,
 *	sendto(2) N one-byte datagrams to ADDR:PORT, then M to ADDR:PORT+1
 *	(nobody need listen: a refusal is not an error)
 *
 * ADDR is IPv4 or IPv6. -n sets the command name (prctl PR_SET_NAME) first,
 * so it may hold characters a shell would not pass in argv[0].
 * "\n" and "\"" in NAME stand for a newline and a double quote.
 * On stdout, flushed line by line:
 *   pid PID
 *   listening			(server, once it listens)
 *   peer ADDR PORT		(once connected or accepted)
 *   done sent=S received=R	(before closing)
 *   local PORT			(-u: the sending socket's port)
 * Exit status 0 only if every byte went as asked. Gives up after 20 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static void print_peer(const struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)ss;

		inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
		port = ntohs(in4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		port = ntohs(in6->sin6_port);
	}
	printf("peer %s %d\n", text, port);
}

/* The byte at offset i of what each side sends. */
static unsigned char pattern(long i)
{
	return (unsigned char)(i % 251);
}

static long send_all(int fd, long n)
{
	unsigned char buf[4096];
	long done = 0;

	while (done < n) {
		size_t chunk = sizeof(buf);
		ssize_t w;

		if (n - done < (long)chunk)
			chunk = n - done;

		for (size_t i = 0; i < chunk; i++)
			buf[i] = pattern(done + i);
		w = write(fd, buf, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			perror("tcpecho: write");
			break;
		}
		done += w;
	}
	return done;
}

/* Read exactly n bytes (n < 0: until end of file); -1 on a bad byte. */
static long recv_all(int fd, long n)
{
	unsigned char buf[4096];
	long done = 0;

	while (n < 0 || done < n) {
		size_t want = sizeof(buf);
		ssize_t r;

		if (n >= 0 && n - done < (long)want)
			want = n - done;
		r = read(fd, buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("tcpecho: read");
			break;
		}
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] != pattern(done + i)) {
				fprintf(stderr, "tcpecho: bad byte at %ld\n", done + i);
				return -1;
			}
		}
		done += r;
	}
	return done;
}

/* "\n" and "\"" in a -n argument stand for a newline and a quote. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*d++ = '\n';
			s++;
		} else if (s[0] == '\\' && s[1] == '"') {
			*d++ = '"';
			s++;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

static void usage(void)
{
	fprintf(stderr, "usage: tcpecho [-l|-u] [-n NAME] ADDR PORT SEND RECV\n");
	exit(2);
}

/* -u: n datagrams to ss, then m to the next port; 0 if all were sent. */
static int udp_send(struct sockaddr_storage *ss, socklen_t len, long n, long m)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	int fd = socket(ss->ss_family, SOCK_DGRAM, 0);
	long sent = 0;

	if (fd < 0) {
		perror("tcpecho: socket");
		return 1;
	}
	for (long i = 0; i < n + m; i++) {
		if (i == n) {
			if (ss->ss_family == AF_INET)
				in4->sin_port = htons(ntohs(in4->sin_port) + 1);
			else
				in6->sin6_port = htons(ntohs(in6->sin6_port) + 1);
		}
		/* a port unreachable from an earlier one may refuse a send */
		while (sendto(fd, "x", 1, 0, (struct sockaddr *)ss, len) < 0) {
			if (errno != ECONNREFUSED && errno != EINTR) {
				perror("tcpecho: sendto");
				return 1;
			}
		}
		sent++;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		printf("local %d\n", ntohs(local.ss_family == AF_INET ?
				((struct sockaddr_in *)&local)->sin_port :
				((struct sockaddr_in6 *)&local)->sin6_port));
	printf("done sent=%ld received=0\n", sent);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen = sizeof(peer);
	int listen_mode = 0, udp_mode = 0, fd, c, one = 1;
	long nsend, nrecv, sent, received, extra = 0;

	while ((c = getopt(argc, argv, "lun:")) != -1) {
		switch (c) {
		case 'l':
			listen_mode = 1;
			break;
		case 'u':
			udp_mode = 1;
			break;
		case 'n':
			unescape(optarg);
			if (prctl(PR_SET_NAME, optarg, 0, 0, 0)) {
				perror("tcpecho: prctl");
				return 1;
			}
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 4)
		usage();
	nsend = atol(argv[optind + 2]);
	nrecv = atol(argv[optind + 3]);
	if (parse_addr(argv[optind], atoi(argv[optind + 1]), &ss, &len)) {
		fprintf(stderr, "tcpecho: bad address %s\n", argv[optind]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(20);
	printf("pid %d\n", (int)getpid());
	if (udp_mode)
		return udp_send(&ss, len, nsend, nrecv);

	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("tcpecho: socket");
		return 1;
	}
	if (listen_mode) {
		int lfd = fd;

		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1)) {
			perror("tcpecho: bind/listen");
			return 1;
		}
		printf("listening\n");
		fd = accept(lfd, (struct sockaddr *)&peer, &plen);
		if (fd < 0) {
			perror("tcpecho: accept");
			return 1;
		}
		close(lfd);
		print_peer(&peer);
		received = recv_all(fd, nrecv);
		sent = received == nrecv ? send_all(fd, nsend) : 0;
		/* then wait for the client's FIN: it closes first */
		if (sent == nsend)
			extra = recv_all(fd, -1);
	} else {
		if (connect(fd, (struct sockaddr *)&ss, len)) {
			perror("tcpecho: connect");
			return 1;
		}
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
			print_peer(&peer);
		sent = send_all(fd, nsend);
		received = sent == nsend ? recv_all(fd, nrecv) : 0;
	}
	printf("done sent=%ld received=%ld\n", sent, received);
	if (close(fd)) {
		perror("tcpecho: close");
		return 1;
	}
	return sent == nsend && received == nrecv && extra == 0 ? 0 : 1;
}
