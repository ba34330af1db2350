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
#include <string.h>

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
	/*
	 * Flow records (issue 13), Suricata eve's names: a name "a.b" is
	 * b in object a, in every schema's JSON (json.c nests them); the
	 * fields of one object follow each other here.
	 */
	F_FLOW_PKTS_TOSERVER,
	F_FLOW_PKTS_TOCLIENT,
	F_FLOW_BYTES_TOSERVER,
	F_FLOW_BYTES_TOCLIENT,
	F_FLOW_START,
	F_FLOW_END,
	F_FLOW_AGE,
	F_FLOW_STATE,
	F_FLOW_REASON,
	F_FLOW_MIN_TTL,
	F_FLOW_MAX_TTL,
	F_FLOW_DROPPED,
	F_FLOW_TCP_FLAGS,
	F_FLOW_TCP_FLAGS_TS,
	F_FLOW_TCP_FLAGS_TC,
	/*
	 * Response records (--respond, issue 14): alert, block, unblock.
	 * "alert" is Suricata eve's object; "respond" hdrlog's own.
	 */
	F_ALERT_ACTION,
	F_ALERT_SIGNATURE,
	F_ALERT_CATEGORY,
	F_ALERT_SEVERITY,
	F_RESPOND_DETECTOR,
	F_RESPOND_VALUE,
	F_RESPOND_THRESHOLD,
	F_RESPOND_WINDOW,
	F_RESPOND_PREFIX,
	F_RESPOND_TTL,
	F_RESPOND_EXPIRES,
	F_RESPOND_RESULT,
	F_RESPOND_DROPPED,
	F_COUNT
};

/*
 * A set of fields: bit id stands for enum field_id id (record fields
 * present, --fields, a sink's selection). 128 bits: F_COUNT is past 63,
 * and json.c uses bit F_COUNT for ecs.version. unsigned __int128 rather
 * than an array of words: a mask stays a value the compiler keeps in two
 * registers, constant masks (event.c) stay constant expressions, and
 * &, |, ~ and "m &= m - 1" keep working; lists.c needs the type anyway.
 */
typedef unsigned __int128 field_mask;
#define FIELD_BIT(id)	((field_mask)1 << (id))
#define FIELD_MASK_ALL	(FIELD_BIT(F_COUNT) - 1)
_Static_assert(F_COUNT < 128, "a field_mask has 128 bits, one is ecs.version's");

/*
 * The lowest field in a non-empty mask, taken out of it. Word by word:
 * the JSON writer calls this per field, and a 128-bit "m &= m - 1" costs
 * a borrow chain (callgrind: 16 instructions, this 6).
 */
static inline enum field_id field_mask_pop(field_mask *m)
{
	uint64_t lo = (uint64_t)*m, hi = (uint64_t)(*m >> 64);

	if (lo) {
		*m = (field_mask)hi << 64 | (lo & (lo - 1));
		return (enum field_id)__builtin_ctzll(lo);
	}
	*m = (field_mask)(hi & (hi - 1)) << 64;
	return (enum field_id)(64 + __builtin_ctzll(hi));
}

/* How a value is written: JSON uses the kind, text outputs the text. */
enum field_kind {
	FK_NUMBER,
	FK_STRING,		/* printable ASCII hdrlog made: needs no escaping */
	FK_FOREIGN_STRING,	/* text from outside (names): escape it */
	FK_BOOL,
	FK_NUMBER_ARRAY,
	FK_FOREIGN_STRING_ARRAY,
	FK_STRING_ARRAY,	/* ASCII hdrlog made (ECS event.type) */
};

/* --schema: the names JSON records use. */
enum field_schema {
	SCHEMA_DEFAULT,		/* hdrlog's own, flat: the names below */
	SCHEMA_ECS,		/* Elastic Common Schema, nested objects */
};

/* The ECS version records say they conform to (ecs.version). */
#define ECS_VERSION "8.17.0"

/*
 * How an ECS leaf's value is made from its field's. ECS wants some
 * values in its own spelling (lower case, "ingress", MACs with hyphens,
 * numbers that it types keyword as strings); the table says which.
 */
enum ecs_value {
	EV_SAME,		/* the field's own value (and kind) */
	EV_KEYWORD,		/* a number, as a string */
	EV_LOWER,		/* lower case: network.transport */
	EV_MAC,			/* RFC 7042: 02-AB-00-10-FF-0E */
	EV_ELEMENT_0,		/* array element 0 (outer VLAN), as a string */
	EV_ELEMENT_1,		/* element 1 (inner VLAN), as a string */
	EV_NETWORK_TYPE,	/* ip_v 4 -> "ipv4" */
	EV_DIRECTION,		/* in -> "ingress", out -> "egress" */
	EV_IF_IN,		/* ifindex as a string, direction in only */
	EV_IF_OUT,		/* ... direction out only */
	EV_NANOSECONDS,		/* duration in ns (event.duration) */
	EV_EVENT_KIND,		/* "event" */
	EV_EVENT_CATEGORY,	/* ["network"] */
	EV_EVENT_TYPE,		/* ["connection", "start"/"end"/"denied"...] */
	EV_ECS_VERSION,		/* ECS_VERSION: ecs_version_leaf only */
	EV_FLOW_PACKETS,	/* both ways' packets (network.packets) */
	EV_FLOW_BYTES,		/* both ways' bytes (network.bytes) */
};

/* One ECS name of a field; a field has one to ECS_LEAVES_MAX. */
struct ecs_leaf {
	const char *path;	/* dotted: "observer.ingress.interface.name" */
	enum field_kind kind;	/* how JSON writes it */
	enum ecs_value how;
};

#define ECS_LEAVES_MAX 4

struct event;

struct field {
	const char *name;
	unsigned int name_len;
	enum field_kind kind;
	const char *doc;	/* one line, for --fields help and tests */
	/* --schema ecs: its names there; path NULL ends the list */
	struct ecs_leaf ecs[ECS_LEAVES_MAX];
	/*
	 * A number kept in struct event as it is written: the unsigned
	 * member at offset member, member_size bytes (field_uint()); 0
	 * for a value field_text() makes.
	 */
	uint16_t member;
	uint8_t member_size;
};

extern const struct field field_table[F_COUNT];
/* ecs.version, which ECS requires in every record: of no field. */
extern const struct ecs_leaf ecs_version_leaf;

#define FIELD_TEXT_MAX 64

/*
 * The value of a scalar field as text (numbers in decimal); for an array
 * field, element i. Returns the length, or -1 when there is no element i.
 */
int field_text(const struct event *e, enum field_id id, unsigned int i,
	       char *buf);

/*
 * The value of ECS leaf l of field id as text, as field_text() (element
 * i of an array leaf). -1 also when the leaf has no value for this
 * record (EV_IF_IN for an outgoing frame, EV_ELEMENT_1 with one tag).
 */
int ecs_text(const struct event *e, enum field_id id,
	     const struct ecs_leaf *l, unsigned int i, char *buf);
/* How JSON writes leaf l of field id (EV_SAME: as the field). */
enum field_kind ecs_kind(enum field_id id, const struct ecs_leaf *l);

/* A field's unsigned member (struct field's member, member_size) of e. */
static inline uint64_t field_uint(const void *e, unsigned int member,
				  unsigned int size)
{
	const char *p = (const char *)e + member;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (size) {
	case 1:
		memcpy(&v8, p, 1);
		return v8;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

/* "00" to "99": two digits a division, for uint_text() */
extern const char digit_pairs[201];

static inline unsigned int decimal_digits(uint64_t v)
{
	unsigned int n = 1;

	for (;;) {
		if (v < 10)
			return n;
		if (v < 100)
			return n + 1;
		if (v < 1000)
			return n + 2;
		if (v < 10000)
			return n + 3;
		v /= 10000;
		n += 4;
	}
}

/*
 * v in decimal and a NUL at buf (up to 21 bytes); returns the length.
 * Without printf (formatting numbers is the outputs' hot path): its
 * length first, then written from the end two digits at a time.
 */
static inline int uint_text(uint64_t v, char *buf)
{
	unsigned int len = decimal_digits(v);
	char *p = buf + len;

	*p = '\0';
	while (v >= 100) {
		unsigned int r = v % 100;

		v /= 100;
		p -= 2;
		memcpy(p, digit_pairs + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(p - 2, digit_pairs + 2 * v, 2);
	else
		p[-1] = '0' + v;
	return len;
}

/* Parse "a,b,c" into a mask of field ids; -1 and *bad names the unknown. */
int fields_parse(const char *list, field_mask *mask, const char **bad,
		 size_t *bad_len);

/* IANA keyword for an IP protocol number, as Suricata writes it, or NULL. */
const char *ip_proto_name(uint8_t proto);

#endif
