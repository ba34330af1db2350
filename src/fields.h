/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one table of record fields. Every output derives its field names,
 * order and value text from here; the man page documents each entry.
 */
#ifndef HDRLOG_FIELDS_H
#define HDRLOG_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum field_id {
	F_TIMESTAMP,
	F_EVENT_TYPE,
	F_EVENT,
	F_IN_IFACE,
	F_OUT_IFACE,
	F_IFINDEX,
	F_PID,
	F_TID,
	F_COMM,
	F_UID,
	F_CGROUP_ID,
	F_NETNS,
	F_SRC_MAC,
	F_DEST_MAC,
	F_VLAN,
	F_ETHER_TYPE,
	F_IP_V,
	F_SRC_IP,
	F_DEST_IP,
	F_PROTO,
	F_IP_PROTO,
	F_TTL,
	F_TOS,
	F_IP_LEN,
	F_IP_ID,
	F_FLOW_LABEL,
	F_FRAG_OFFSET,
	F_MORE_FRAGMENTS,
	F_SRC_PORT,
	F_DEST_PORT,
	F_DIRECTION,
	F_TCP_STATE,
	F_TCP_FLAGS,
	F_TCP_SEQ,
	F_TCP_ACK,
	F_TCP_WIN,
	F_ICMP_TYPE,
	F_ICMP_CODE,
	F_PKT_LEN,
	F_TRUNCATED,
	F_DURATION_MS,
	F_BYTES_SENT,
	F_BYTES_RECEIVED,
	F_COMMUNITY_ID,
	F_SRC_LISTS,
	F_DEST_LISTS,
	F_ACTION,
	F_WOULD_DROP,
	F_COUNT
};

/* How a value is written: JSON uses the kind, text outputs the text. */
enum field_kind {
	FK_NUMBER,
	FK_STRING,		/* printable ASCII hdrlog made: needs no escaping */
	FK_FOREIGN_STRING,	/* text from outside (names): escape it */
	FK_BOOL,
	FK_NUMBER_ARRAY,
	FK_FOREIGN_STRING_ARRAY,
};

struct event;

struct field {
	const char *name;
	unsigned int name_len;
	enum field_kind kind;
	const char *doc;	/* one line, for --fields help and tests */
};

extern const struct field field_table[F_COUNT];

#define FIELD_TEXT_MAX 64

/*
 * The value of a scalar field as text (numbers in decimal); for an array
 * field, element i. Returns the length, or -1 when there is no element i.
 */
int field_text(const struct event *e, enum field_id id, unsigned int i,
	       char *buf);

/* v in decimal and a NUL at buf (up to 21 bytes); returns the length. */
int uint_text(uint64_t v, char *buf);

/* Parse "a,b,c" into a mask of field ids; -1 and *bad names the unknown. */
int fields_parse(const char *list, uint64_t *mask, const char **bad,
		 size_t *bad_len);

/* IANA keyword for an IP protocol number, as Suricata writes it, or NULL. */
const char *ip_proto_name(uint8_t proto);

#endif
