// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcapng, written here (libpcap reads pcapng but cannot write it):
 * a Section Header Block, one Interface Description Block per interface
 * captured on, in the order of the interface table, then one Enhanced
 * Packet Block per record. Layouts and option codes follow
 * draft-ietf-opsawg-pcapng; numbers are in the host's byte order, which
 * the SHB's byte-order magic tells readers.
 *
 * Each EPB carries nanosecond timestamps (if_tsresol 9), the wire length
 * beside the bytes kept, epb_flags inbound or outbound (the record's
 * direction), with lists an epb_verdict of type Linux XDP or Linux tc
 * (the hook that decided) holding that hook's action,
 * and on list hits a comment naming the lists.
 *
 * Blocks are built in place in the capture file writer's buffer
 * (rotate.h, shared with pcap): a record costs a few stores and the copy
 * of its frame bytes. On SIGHUP a pcapng file found at PATH gets a new
 * section (SHB and IDBs again) after what it holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <linux/bpf.h>

#include "config.h"
#include "event.h"
#include "iface.h"
#include "log.h"
#include "rotate.h"
#include "sink.h"

#define BT_SHB			0x0a0d0d0au
#define BT_IDB			0x00000001u
#define BT_EPB			0x00000006u
#define BYTE_ORDER_MAGIC	0x1a2b3c4du
#define LINKTYPE_ETHERNET	1

#define OPT_ENDOFOPT		0
#define OPT_COMMENT		1
#define SHB_OS			3
#define SHB_USERAPPL		4
#define IF_NAME			2
#define IF_TSRESOL		9
#define EPB_FLAGS		2
#define EPB_VERDICT		7

#define TSRESOL_NS		9	/* 10^-9 s */
#define EPB_INBOUND		0x00000001u
#define EPB_OUTBOUND		0x00000002u
#define VERDICT_LINUX_TC	1
#define VERDICT_LINUX_XDP	2
#define TC_ACT_OK_		0	/* linux/pkt_cls.h */
#define TC_ACT_SHOT_		2

#define EPB_HEAD	28	/* type .. original length */
#define EPB_FLAGS_LEN	8
#define EPB_VERDICT_LEN	16	/* 4 + type octet + 8-byte action + 3 pad */
#define EPB_TAIL	8	/* end of options, trailing length */

/* Far above the largest block: 64 KiB of frame and 128 list names. */
#define PCAPNG_BUF_SIZE	(1024 * 1024)
#define NO_ID		UINT32_MAX

struct pcapng_sink {
	struct capfile c;
	bool warned_iface;
	uint32_t n_ifaces;
	uint32_t last_ifindex;	/* the last lookup, for runs from one interface */
	uint32_t last_id;
	uint32_t ifindex[MAX_IFACES];	/* EPB interface id -> ifindex */
	uint8_t *hdr;		/* SHB and IDBs, the start of every section */
};

/* The buffer holds blocks at 4-byte offsets; memcpy keeps C happy. */
static inline void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static uint8_t *put_opt(uint8_t *p, uint16_t code, const void *v, size_t n)
{
	put16(p, code);
	put16(p + 2, n);
	memcpy(p + 4, v, n);
	memset(p + 4 + n, 0, pad4(n) - n);
	return p + 4 + pad4(n);
}

/* SHB and one IDB per interface, made once: every file starts so. */
static int build_header(struct pcapng_sink *g, const struct sink_config *cfg)
{
	const char *appl = "hdrlog " PACKAGE_VERSION;
	char os[2 * sizeof(((struct utsname *)0)->release) + 2] = "Linux";
	const struct iface_table *t = cfg->ifaces;
	struct utsname u;
	size_t size;
	uint8_t *p, *blk;

	if (!uname(&u))
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	size = 24 + 4 + pad4(strlen(os)) + 4 + pad4(strlen(appl)) + 8;
	for (int i = 0; i < t->n; i++)
		size += 16 + 4 + pad4(strlen(t->v[i].name)) + 8 + 8;
	g->hdr = p = calloc(1, size);
	if (!p) {
		pr_err("out of memory");
		return -ENOMEM;
	}

	blk = p;
	put32(p, BT_SHB);
	put32(p + 8, BYTE_ORDER_MAGIC);
	put16(p + 12, 1);		/* version 1.0 */
	put16(p + 14, 0);
	memset(p + 16, 0xff, 8);	/* section length: not given */
	p = put_opt(p + 24, SHB_OS, os, strlen(os));
	p = put_opt(p, SHB_USERAPPL, appl, strlen(appl));
	put32(p, OPT_ENDOFOPT);
	put32(p + 4, p + 8 - blk);
	put32(blk + 4, p + 8 - blk);
	p += 8;

	for (int i = 0; i < t->n; i++) {
		uint8_t tsresol = TSRESOL_NS;

		blk = p;
		put32(p, BT_IDB);
		put16(p + 8, LINKTYPE_ETHERNET);
		put16(p + 10, 0);
		put32(p + 12, cfg->snaplen);
		p = put_opt(p + 16, IF_NAME, t->v[i].name,
			    strlen(t->v[i].name));
		p = put_opt(p, IF_TSRESOL, &tsresol, 1);
		put32(p, OPT_ENDOFOPT);
		put32(p + 4, p + 8 - blk);
		put32(blk + 4, p + 8 - blk);
		p += 8;
		g->ifindex[i] = t->v[i].ifindex;
	}
	g->n_ifaces = t->n;
	g->last_ifindex = g->ifindex[0];
	g->last_id = 0;
	g->c.hdr = g->hdr;
	g->c.hdr_len = p - g->hdr;
	return 0;
}

/*
 * A file at PATH on SIGHUP gets a new section if it is pcapng in our byte
 * order: a reader takes any number of sections one after another.
 */
static enum capfile_append pcapng_append(const struct capfile *c,
					 const uint8_t *head, size_t n)
{
	uint32_t type, magic;

	(void)c;
	if (n < 12)
		return CAPFILE_REFUSE;
	memcpy(&type, head, 4);
	memcpy(&magic, head + 8, 4);
	return type == BT_SHB && magic == BYTE_ORDER_MAGIC ? CAPFILE_SECTION :
							     CAPFILE_REFUSE;
}

static uint32_t iface_id(struct pcapng_sink *g, uint32_t ifindex)
{
	if (ifindex == g->last_ifindex)
		return g->last_id;
	for (uint32_t i = 0; i < g->n_ifaces; i++) {
		if (g->ifindex[i] == ifindex) {
			g->last_ifindex = ifindex;
			g->last_id = i;
			return i;
		}
	}
	return NO_ID;
}

static size_t names_len(const char *const *names, unsigned int n)
{
	size_t len = n - 1;	/* commas */

	for (unsigned int i = 0; i < n; i++)
		len += strnlen(names[i], LIST_NAME_MAX - 1);
	return len;
}

/* Hits only: the counts are valid only with their field present. */
static inline unsigned int n_src(const struct event *e)
{
	return event_has(e, F_SRC_LISTS) ? e->n_src_lists : 0;
}

static inline unsigned int n_dest(const struct event *e)
{
	return event_has(e, F_DEST_LISTS) ? e->n_dest_lists : 0;
}

static size_t comment_len(const struct event *e)
{
	size_t len = sizeof("lists:") - 1;

	if (n_src(e))
		len += 5 + names_len(e->src_lists, n_src(e));
	if (n_dest(e))
		len += 6 + names_len(e->dest_lists, n_dest(e));
	return len;
}

static uint8_t *put_names(uint8_t *p, const char *const *names,
			  unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		size_t len = strnlen(names[i], LIST_NAME_MAX - 1);

		if (i)
			*p++ = ',';
		memcpy(p, names[i], len);
		p += len;
	}
	return p;
}

/* opt_comment "lists: src=a,b dest=c", len bytes as comment_len() said. */
static uint8_t *put_comment(uint8_t *p, const struct event *e, size_t len)
{
	uint8_t *t = p + 4;

	put16(p, OPT_COMMENT);
	put16(p + 2, len);
	memcpy(t, "lists:", 6);
	t += 6;
	if (n_src(e)) {
		memcpy(t, " src=", 5);
		t = put_names(t + 5, e->src_lists, n_src(e));
	}
	if (n_dest(e)) {
		memcpy(t, " dest=", 6);
		t = put_names(t + 6, e->dest_lists, n_dest(e));
	}
	while ((t - p) & 3)
		*t++ = 0;
	return t;
}

static int pcapng_write(struct sink *s, const struct event *e)
{
	struct pcapng_sink *g = s->priv;
	uint32_t cap = e->cap_len;
	uint32_t id = iface_id(g, e->ifindex);
	bool verdict = event_has(e, F_ACTION);
	size_t clen = 0, size;
	uint8_t *blk, *p;

	if (!e->data) {		/* a socket event: no frame to write */
		s->skipped++;
		return 0;
	}
	if (id == NO_ID) {
		if (!g->warned_iface && id == NO_ID)
			pr_warn("a record from interface index %u, which is not captured on, is not written to %s",
				e->ifindex, sink_target_name(s));
		g->warned_iface |= id == NO_ID;
		s->failed++;
		return -EINVAL;
	}
	size = EPB_HEAD + pad4(cap) + EPB_FLAGS_LEN + EPB_TAIL;
	if (verdict)
		size += EPB_VERDICT_LEN;
	if (n_src(e) || n_dest(e)) {
		clen = comment_len(e);
		size += 4 + pad4(clen);
	}
	blk = capfile_reserve(s, &g->c, size, e->time_ns);
	if (!blk) {
		s->failed++;
		return -EIO;
	}
	put32(blk, BT_EPB);
	put32(blk + 4, size);
	put32(blk + 8, id);
	put32(blk + 12, e->time_ns >> 32);
	put32(blk + 16, (uint32_t)e->time_ns);
	put32(blk + 20, cap);
	put32(blk + 24, e->pkt_len > cap ? e->pkt_len : cap);
	p = blk + EPB_HEAD;
	if (cap & 3)
		put32(p + (cap & ~3u), 0);	/* padding, before the copy */
	memcpy(p, e->data, cap);
	p += pad4(cap);

	put16(p, EPB_FLAGS);
	put16(p + 2, 4);
	put32(p + 4, e->direction == HDRLOG_DIR_OUTBOUND ? EPB_OUTBOUND :
							  EPB_INBOUND);
	p += EPB_FLAGS_LEN;
	if (verdict) {
		uint64_t action = e->tc ? (e->dropped ? TC_ACT_SHOT_ : TC_ACT_OK_) :
				  (e->dropped ? XDP_DROP : XDP_PASS);

		put16(p, EPB_VERDICT);
		put16(p + 2, 9);
		p[4] = e->tc ? VERDICT_LINUX_TC : VERDICT_LINUX_XDP;
		memcpy(p + 5, &action, 8);
		memset(p + 13, 0, 3);
		p += EPB_VERDICT_LEN;
	}
	if (clen)
		p = put_comment(p, e, clen);
	put32(p, OPT_ENDOFOPT);
	put32(p + 4, size);

	capfile_commit(&g->c, size);
	return 0;
}

static int pcapng_flush(struct sink *s)
{
	struct pcapng_sink *g = s->priv;

	return capfile_flush(s, &g->c);
}

static int pcapng_reopen(struct sink *s)
{
	struct pcapng_sink *g = s->priv;

	return capfile_reopen(s, &g->c);
}

static int pcapng_open(struct sink *s)
{
	struct pcapng_sink *g;
	int err;

	if (!s->cfg->ifaces || !s->cfg->ifaces->n) {
		pr_err("pcapng output %s: no interfaces to describe",
		       sink_target_name(s));
		return -EINVAL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	err = build_header(g, s->cfg);
	if (!err) {
		g->c.append = pcapng_append;
		err = capfile_open(s, &g->c, PCAPNG_BUF_SIZE);
	}
	if (err) {
		free(g->hdr);
		free(g);
		return err;
	}
	s->priv = g;
	return 0;
}

static void pcapng_close(struct sink *s)
{
	struct pcapng_sink *g = s->priv;

	capfile_close(s, &g->c);
	free(g->hdr);
	free(g);
}

const struct sink_ops pcapng_sink_ops = {
	.name = "pcapng",
	.flags = SINK_FILE | SINK_FRAMES | SINK_ROTATES,
	.open = pcapng_open,
	.write = pcapng_write,
	.flush = pcapng_flush,
	.reopen = pcapng_reopen,
	.close = pcapng_close,
};
