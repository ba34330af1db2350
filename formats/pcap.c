// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Classic pcap through libpcap's dump API: Ethernet link type, the snap
 * length, microsecond timestamps; each record keeps the wire length
 * beside the bytes it carries.
 *
 * libpcap writes into a stdio stream with a big buffer of our own. The
 * stream is flushed here, before it would fill, so a flush always ends
 * on a record boundary: a failed one loses exactly the records in it,
 * and in a file of ours the half written is cut off again, so the file
 * stays readable and writing goes on after it when space comes back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "clock.h"
#include "event.h"
#include "log.h"
#include "rotate.h"
#include "sink.h"

#define PCAP_OUT_BUF_SIZE	(1024 * 1024)
#define FILE_HDR_LEN	24	/* struct pcap_file_header */
#define REC_HDR_LEN	16	/* the on-disk record header */

struct pcap_sink {
	struct rotate rot;
	pcap_t *dead;		/* link type and snap length for the dumper */
	pcap_dumper_t *d;
	FILE *f;
	int fd;
	bool cut_back;		/* our regular file: undo partial writes */
	size_t buffered;	/* bytes in f's buffer */
	uint64_t pending;	/* records in it */
	uint64_t on_disk;	/* bytes of whole records in the file */
	char *buf;		/* f's buffer, reused by every file */
};

/*
 * A stream on fd with our buffer, and the file header; 0, or -errno with
 * fd closed.
 */
static int start_file(struct pcap_sink *p, int fd)
{
	struct stat st;
	FILE *f = fdopen(fd, "w");

	if (!f) {
		int err = errno;

		pr_err("cannot write %s: %s", p->rot.path, strerror(err));
		close(fd);
		return -err;
	}
	setvbuf(f, p->buf, _IOFBF, PCAP_OUT_BUF_SIZE);
	__fsetlocking(f, FSETLOCKING_BYCALLER);	/* one thread writes */
	p->f = f;
	p->fd = fd;
	p->cut_back = !p->rot.is_stdout && !fstat(fd, &st) &&
		      S_ISREG(st.st_mode);
	p->d = pcap_dump_fopen(p->dead, f);
	if (!p->d) {
		pr_err("cannot write %s: %s", p->rot.path, pcap_geterr(p->dead));
		fclose(f);
		p->f = NULL;
		return -EIO;
	}
	p->buffered = FILE_HDR_LEN;
	p->on_disk = 0;
	p->rot.bytes = FILE_HDR_LEN;
	return 0;
}

static int push(struct sink *s)
{
	struct pcap_sink *p = s->priv;
	int err;

	if (!p->buffered || !p->f) {
		sink_write_worked(s, p->rot.path, false);
		return 0;
	}
	if (!fflush(p->f)) {
		sink_write_worked(s, p->rot.path, true);
		p->on_disk += p->buffered;
		s->written += p->pending;
		p->buffered = 0;
		p->pending = 0;
		return 0;
	}
	/* glibc drops a buffer it failed to write and marks the stream. */
	err = errno;
	clearerr(p->f);
	sink_write_failed(s, p->rot.path, err);
	s->failed += p->pending;
	p->pending = 0;
	p->buffered = 0;
	if (p->cut_back && (ftruncate(p->fd, p->on_disk) ||
			    lseek(p->fd, p->on_disk, SEEK_SET) < 0))
		p->cut_back = false;
	if (!p->on_disk && pcap_dump_fopen(p->dead, p->f))
		p->buffered = FILE_HDR_LEN;	/* the header went too */
	p->rot.bytes = p->on_disk + p->buffered;
	return -err;
}

/* Rotation and SIGHUP: what is buffered goes to the file before. */
static int next_file(struct sink *s, uint64_t now_ns)
{
	struct pcap_sink *p = s->priv;
	int fd;

	push(s);
	if (p->rot.is_stdout)
		return 0;
	fd = rotate_open(&p->rot, now_ns);
	if (fd < 0)
		return fd;
	/* Close the stream before the next one takes over buf. */
	if (p->d)
		pcap_dump_close(p->d);
	p->d = NULL;
	p->f = NULL;
	return start_file(p, fd);
}

static int pcap_write_sink(struct sink *s, const struct event *e)
{
	struct pcap_sink *p = s->priv;
	size_t n = REC_HDR_LEN + e->cap_len;
	struct pcap_pkthdr h;

	if (!e->data) {		/* a socket event: no frame to write */
		s->skipped++;
		return 0;
	}
	if (!p->d) {
		s->failed++;
		return -EINVAL;
	}
	if (rotate_due(&p->rot, n, e->time_ns)) {
		next_file(s, e->time_ns);
		if (!p->d) {
			s->failed++;
			return -EIO;
		}
	}
	if (p->buffered + n > PCAP_OUT_BUF_SIZE)
		push(s);
	h.ts.tv_sec = e->time_ns / 1000000000;
	h.ts.tv_usec = e->time_ns % 1000000000 / 1000;
	h.caplen = e->cap_len;
	h.len = e->pkt_len > e->cap_len ? e->pkt_len : e->cap_len;
	pcap_dump((u_char *)p->d, &h, e->data);
	p->buffered += n;
	p->pending++;
	p->rot.bytes += n;
	p->rot.records++;
	return 0;
}

static int pcap_flush_sink(struct sink *s)
{
	struct pcap_sink *p = s->priv;
	uint64_t now;

	if (rotate_due_at_flush(&p->rot, &now))
		return next_file(s, now);
	return p->d ? push(s) : 0;
}

static int pcap_reopen_sink(struct sink *s)
{
	return next_file(s, clock_real_ns());
}

static void pcap_free_sink(struct pcap_sink *p)
{
	if (p->d)
		pcap_dump_close(p->d);
	if (p->dead)
		pcap_close(p->dead);
	rotate_free(&p->rot);
	free(p->buf);
	free(p);
}

static int pcap_open_sink(struct sink *s)
{
	struct pcap_sink *p = calloc(1, sizeof(*p));
	int fd, err;

	if (!p) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	s->priv = p;
	err = rotate_init(&p->rot, s->target, s->cfg);
	if (err)
		goto fail;
	p->buf = malloc(PCAP_OUT_BUF_SIZE);
	p->dead = pcap_open_dead(DLT_EN10MB, s->cfg->snaplen);
	if (!p->buf || !p->dead) {
		pr_err("out of memory");
		err = -ENOMEM;
		goto fail;
	}
	/* stdout: a stream of its own on a copy, so closing it is harmless. */
	fd = p->rot.is_stdout ? dup(STDOUT_FILENO) :
				rotate_open(&p->rot, clock_real_ns());
	if (fd < 0) {
		err = p->rot.is_stdout ? -errno : fd;
		if (p->rot.is_stdout)
			pr_err("cannot write to standard output: %s",
			       strerror(-err));
		goto fail;
	}
	err = start_file(p, fd);
	if (err)
		goto fail;
	return 0;
fail:
	pcap_free_sink(p);
	s->priv = NULL;
	return err;
}

static void pcap_close_sink(struct sink *s)
{
	struct pcap_sink *p = s->priv;

	if (p->d)
		push(s);
	pcap_free_sink(p);
}

const struct sink_ops pcap_sink_ops = {
	.name = "pcap",
	.open = pcap_open_sink,
	.write = pcap_write_sink,
	.flush = pcap_flush_sink,
	.reopen = pcap_reopen_sink,
	.close = pcap_close_sink,
};
