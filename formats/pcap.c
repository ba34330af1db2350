// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Classic pcap, written here: Ethernet link type, the snap length,
 * microsecond timestamps, numbers in the host's byte order (the magic
 * tells readers, as libpcap's own files do); each record keeps the wire
 * length beside the bytes it carries. The buffering, rotation and
 * SIGHUP rules are the capture file writer's (rotate.h), shared with
 * pcapng.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "rotate.h"
#include "sink.h"

#define PCAP_OUT_BUF_SIZE	(1024 * 1024)
#define PCAP_MAGIC_US		0xa1b2c3d4u
#define PCAP_VERSION_MAJOR	2
#define PCAP_VERSION_MINOR	4
#define LINKTYPE_ETHERNET	1
#define MAXIMUM_SNAPLEN		262144	/* libpcap's, for "no limit" */
#define REC_HDR_LEN		16

/* The file header and the record header, as they are on disk. */
struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec;
	uint32_t ts_usec;
	uint32_t caplen;
	uint32_t len;
};

struct pcap_sink {
	struct capfile c;
	struct pcap_file_hdr hdr;
};

/*
 * A file at PATH on SIGHUP is gone on with only if its header is ours in
 * every field: magic (so byte order and time unit), version, snap length
 * and link type. Anything else would make the records after it wrong.
 */
static enum capfile_append pcap_append(const struct capfile *c,
				       const uint8_t *head, size_t n)
{
	return n >= c->hdr_len && !memcmp(head, c->hdr, c->hdr_len) ?
	       CAPFILE_CONTINUE : CAPFILE_REFUSE;
}

static int pcap_write_sink(struct sink *s, const struct event *e)
{
	struct pcap_sink *p = s->priv;
	size_t n = REC_HDR_LEN + e->cap_len;
	struct pcap_rec_hdr h;
	uint8_t *out;

	if (!e->data) {		/* a socket event: no frame to write */
		s->skipped++;
		return 0;
	}
	out = capfile_reserve(s, &p->c, n, e->time_ns);
	if (!out) {
		s->failed++;
		return -EIO;
	}
	h.ts_sec = e->time_ns / 1000000000;
	h.ts_usec = e->time_ns % 1000000000 / 1000;
	h.caplen = e->cap_len;
	h.len = e->pkt_len > e->cap_len ? e->pkt_len : e->cap_len;
	memcpy(out, &h, REC_HDR_LEN);
	memcpy(out + REC_HDR_LEN, e->data, e->cap_len);
	capfile_commit(&p->c, n);
	return 0;
}

static int pcap_flush_sink(struct sink *s)
{
	struct pcap_sink *p = s->priv;

	return capfile_flush(s, &p->c);
}

static int pcap_reopen_sink(struct sink *s)
{
	struct pcap_sink *p = s->priv;

	return capfile_reopen(s, &p->c);
}

static int pcap_open_sink(struct sink *s)
{
	struct pcap_sink *p = calloc(1, sizeof(*p));
	uint32_t snaplen = s->cfg->snaplen;
	int err;

	if (!p) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	p->hdr = (struct pcap_file_hdr){
		.magic = PCAP_MAGIC_US,
		.version_major = PCAP_VERSION_MAJOR,
		.version_minor = PCAP_VERSION_MINOR,
		.snaplen = snaplen ? snaplen : MAXIMUM_SNAPLEN,
		.linktype = LINKTYPE_ETHERNET,
	};
	p->c.hdr = (const uint8_t *)&p->hdr;
	p->c.hdr_len = sizeof(p->hdr);
	p->c.append = pcap_append;
	err = capfile_open(s, &p->c, PCAP_OUT_BUF_SIZE);
	if (err) {
		free(p);
		return err;
	}
	s->priv = p;
	return 0;
}

static void pcap_close_sink(struct sink *s)
{
	struct pcap_sink *p = s->priv;

	capfile_close(s, &p->c);
	free(p);
}

const struct sink_ops pcap_sink_ops = {
	.name = "pcap",
	.flags = SINK_FILE | SINK_FRAMES | SINK_ROTATES,
	.open = pcap_open_sink,
	.write = pcap_write_sink,
	.flush = pcap_flush_sink,
	.reopen = pcap_reopen_sink,
	.close = pcap_close_sink,
};
