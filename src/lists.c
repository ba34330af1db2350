// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Named CIDR lists. Every file is parsed into one flat array per family
 * (a list index with each prefix), sorted, merged per distinct prefix and
 * swept once so that each prefix's mask also holds the lists of every
 * shorter prefix covering it: the kernel's lookup (ranges.c builds its
 * tables) finds only the longest match, so that match must carry them all.
 * Addresses are host-order numbers throughout.
 *
 * Lists can hold millions of lines and are read on the way to attaching,
 * so the hot paths avoid stdio, inet_pton for IPv4 and comparison sorts
 * for IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lists.h"
#include "log.h"

#define READ_CHUNK	(1u << 20)	/* > LIST_LINE_MAX: a line always fits */
#define ERR_TEXT_MAX	120	/* of a bad line, quoted in the message */

#define STR_(x)		#x
#define STR(x)		STR_(x)

_Static_assert(READ_CHUNK > LIST_LINE_MAX, "a whole line fits the buffer");

const char *list_kind_name(enum list_kind kind)
{
	switch (kind) {
	case LIST_BLOCK:
		return "block";
	case LIST_TAG:
		return "tag";
	case LIST_ALLOW:
		return "allow";
	}
	return "?";
}

static bool name_ok(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len >= LIST_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

int list_spec_parse(struct list_spec *spec, enum list_kind kind,
		    const char *arg)
{
	const char *file = arg, *eq, *slash, *base, *dot, *name;
	size_t len = strlen(arg), file_len, name_len;
	char q[LOG_ESCAPE_SIZE(LIST_NAME_MAX)], q2[LIST_PATH_MAX];

	memset(spec, 0, sizeof(*spec));
	spec->kind = kind;

	if (len >= 4 && !strcmp(arg + len - 4, ":any")) {
		if (kind != LIST_BLOCK) {
			pr_err("':any' applies only to block lists, not to %s list '%s'",
			       list_kind_name(kind),
			       log_escape(q2, sizeof(q2), arg, len));
			return -1;
		}
		spec->any = true;
		len -= 4;
	}

	/* A name cannot hold '/', so an '=' after one is part of the path. */
	eq = memchr(arg, '=', len);
	slash = memchr(arg, '/', len);
	if (eq && (!slash || eq < slash))
		file = eq + 1;
	file_len = len - (file - arg);
	if (!file_len) {
		pr_err("no file given in %s list '%s'", list_kind_name(kind),
		       log_escape(q2, sizeof(q2), arg, strlen(arg)));
		return -1;
	}
	if (file_len >= LIST_PATH_MAX) {
		pr_err("path too long in %s list '%s'", list_kind_name(kind),
		       log_escape(q, sizeof(q), arg, strlen(arg)));
		return -1;
	}
	memcpy(spec->path, file, file_len);
	spec->path[file_len] = '\0';

	if (file != arg) {
		name = arg;
		name_len = eq - arg;
		if (!name_ok(name, name_len)) {
			pr_err("bad list name '%s': use 1 to %d letters, digits, '_', '-' or '.'",
			       log_escape(q, sizeof(q), name, name_len),
			       LIST_NAME_MAX - 1);
			return -1;
		}
	} else {
		base = strrchr(spec->path, '/');
		base = base ? base + 1 : spec->path;
		dot = strrchr(base, '.');
		/* ".hidden" has no extension to drop */
		name = base;
		name_len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
		if (!name_ok(name, name_len)) {
			pr_err("cannot name a list '%s' after '%s'; give a name with NAME=FILE (letters, digits, '_', '-' or '.', at most %d)",
			       log_escape(q, sizeof(q), name, name_len),
			       log_escape(q2, sizeof(q2), spec->path,
					  file_len),
			       LIST_NAME_MAX - 1);
			return -1;
		}
	}
	memcpy(spec->name, name, name_len);
	spec->name[name_len] = '\0';
	return 0;
}

typedef unsigned __int128 u128;

/* One line's prefix: bits is 32 (IPv4) or 128 (IPv6), addr host order. */
struct prefix {
	unsigned int bits;
	unsigned int len;
	u128 addr;
};

/* A v4 prefix and its list as one sortable key: addr | len | list. */
#define V4_KEY(addr, len, list) \
	((uint64_t)(addr) << 12 | (uint64_t)(len) << 6 | (list))
#define V4_KEY_BITS	44

/*
 * Sorted by (address, length), the prefixes covering one are exactly the
 * chain of enclosing prefixes still open before it, so a stack of them
 * (at most one per length) gives each prefix its inherited lists.
 */
struct open_prefixes {
	int sp;
	struct { u128 addr; unsigned int len; uint64_t mask; } st[129];
};

/* Everything one list_set_load() has read so far. */
struct list_reader {
	uint64_t *v4;			/* V4_KEY()s */
	size_t n_v4, cap_v4;
	struct entry_v6 *v6;		/* each with its one list's bit */
	size_t n_v6, cap_v6;
	const volatile sig_atomic_t *stop;	/* set: give up, quietly */
	char *buf;			/* READ_CHUNK bytes */
	/* the file being read */
	const char *path;
	char path_text[LIST_PATH_MAX];	/* path, escaped, for messages */
	unsigned int list;
	unsigned int lineno;
	unsigned int masked, first_masked;
	struct open_prefixes open;	/* for build_v4() and build_v6() */
};

/* The network part of a prefix of len of bits bits. */
static inline u128 net_mask(unsigned int bits, unsigned int len)
{
	return len ? ~(u128)0 << (bits - len) : 0;
}

static inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Dotted quad, strictly decimal: a leading zero is refused as inet_pton
 * does, since some parsers read "010" as octal and the list's author may
 * have meant either.
 */
static const char *parse_v4(const char *s, const char *e, uint32_t *out)
{
	uint32_t addr = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned int v;

		if (i) {
			if (s == e || *s != '.')
				return NULL;
			s++;
		}
		if (s == e || !is_digit(*s))
			return NULL;
		v = *s++ - '0';
		if (s < e && is_digit(*s)) {
			if (!v)
				return NULL;
			v = v * 10 + (*s++ - '0');
			if (s < e && is_digit(*s))
				v = v * 10 + (*s++ - '0');
		}
		if (v > 255 || (s < e && is_digit(*s)))
			return NULL;
		addr = addr << 8 | v;
	}
	*out = addr;
	return s;
}

static const char *parse_v6(const char *s, const char *e, u128 *out)
{
	char buf[INET6_ADDRSTRLEN];
	const char *t = s;
	uint8_t a[16];
	int i;

	while (t < e && *t != '/' && !is_space(*t))
		t++;
	if ((size_t)(t - s) >= sizeof(buf))
		return NULL;
	memcpy(buf, s, t - s);
	buf[t - s] = '\0';
	if (inet_pton(AF_INET6, buf, a) != 1)
		return NULL;
	*out = 0;
	for (i = 0; i < 16; i++)
		*out = *out << 8 | a[i];
	return t;
}

/* Parses s..e (trimmed, not empty); NULL or the reason it is bad. */
static const char *parse_prefix(const char *s, const char *e,
				struct prefix *p)
{
	unsigned int max, len;
	uint32_t v4;
	const char *t;

	if (memchr(s, ':', e - s)) {
		s = parse_v6(s, e, &p->addr);
		if (!s)
			return "bad IPv6 address";
		max = 128;
	} else {
		s = parse_v4(s, e, &v4);
		if (!s || (s < e && *s != '/' && !is_space(*s)))
			return "bad IPv4 address";
		p->addr = v4;
		max = 32;
	}
	len = max;
	if (s < e && *s == '/') {
		t = ++s;
		len = 0;
		while (s < e && is_digit(*s)) {
			if (len <= 128)
				len = len * 10 + (*s - '0');
			s++;
		}
		if (s == t || (s < e && !is_space(*s)))
			return "bad prefix length";
		if (len > max)
			return "prefix length out of range";
	}
	if (s < e)
		return "unexpected text after the prefix";
	p->bits = max;
	p->len = len;
	return NULL;
}

static int grow(void **arr, size_t *cap, size_t size)
{
	size_t n = *cap ? *cap * 2 : 4096;
	void *a = realloc(*arr, n * size);

	if (!a) {
		pr_err("out of memory reading lists");
		return -1;
	}
	*arr = a;
	*cap = n;
	return 0;
}

/* A parsed line into the reader's array of its family. */
static int add_prefix(struct list_reader *rd, struct prefix p)
{
	u128 m = net_mask(p.bits, p.len);
	struct entry_v6 *e;

	/* one warning per file: see load_file() */
	if (p.addr & ~m) {
		if (!rd->masked++)
			rd->first_masked = rd->lineno;
		p.addr &= m;
	}
	/*
	 * An IPv4-mapped prefix (within ::ffff:0:0/96) is an IPv4 one: the
	 * kernel looks IPv4 traffic up in the IPv4 table only. A shorter v6
	 * prefix covering ::ffff:0:0/96 (::/0, ::/64...) stays v6: it is
	 * about IPv6 traffic, and turning it into 0.0.0.0/0 would make it
	 * match every IPv4 packet, which nobody listing "::/0" means.
	 */
	if (p.bits == 128 && p.len >= 96 && p.addr >> 32 == 0xffff) {
		p.bits = 32;
		p.len -= 96;
		p.addr = (uint32_t)p.addr;
	}
	if (p.bits == 32) {
		if (rd->n_v4 == rd->cap_v4 &&
		    grow((void **)&rd->v4, &rd->cap_v4, sizeof(*rd->v4)))
			return -1;
		rd->v4[rd->n_v4++] = V4_KEY((uint32_t)p.addr, p.len, rd->list);
		return 0;
	}
	if (rd->n_v6 == rd->cap_v6 &&
	    grow((void **)&rd->v6, &rd->cap_v6, sizeof(*rd->v6)))
		return -1;
	e = &rd->v6[rd->n_v6++];
	e->hi = p.addr >> 64;
	e->lo = (uint64_t)p.addr;
	e->len = p.len;
	e->mask = 1ull << rd->list;
	return 0;
}

/*
 * "file:line: reason: 'text'", the text escaped and cut after about
 * ERR_TEXT_MAX characters: a whole line of LIST_LINE_MAX is no help.
 */
static void bad_line(const struct list_reader *rd, const char *reason,
		     const char *s, size_t n)
{
	char q[ERR_TEXT_MAX + sizeof("...")];

	pr_err("%s:%u: %s: '%s'", rd->path_text, rd->lineno, reason,
	       log_escape(q, sizeof(q), s, n));
}

/*
 * What no list line may be: longer than LIST_LINE_MAX (a file that is
 * not a list, /dev/zero's like, would otherwise fill memory), or holding
 * a NUL (text after it would be read by some parsers and not by others).
 * s..e is a line or its start; nul is the first NUL at or after s, or NULL.
 */
static int check_line(const struct list_reader *rd, const char *s, const char *e,
		      const char *nul)
{
	if (nul && nul < e) {
		bad_line(rd, "NUL byte in the line", s, e - s);
		return -1;
	}
	if (e - s > LIST_LINE_MAX) {
		bad_line(rd, "line longer than " STR(LIST_LINE_MAX) " bytes",
			 s, e - s);
		return -1;
	}
	return 0;
}

static const char *file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* One line, without its '\n'. */
static int load_line(struct list_reader *rd, const char *s, const char *e)
{
	const char *c, *reason;
	struct prefix p;

	for (c = s; c < e; c++)
		if (*c == '#' || *c == ';')
			break;
	e = c;
	while (s < e && is_space(*s))
		s++;
	while (e > s && is_space(e[-1]))
		e--;
	if (s == e)
		return 0;

	reason = parse_prefix(s, e, &p);
	if (reason) {
		bad_line(rd, reason, s, e - s);
		return -1;
	}
	return add_prefix(rd, p);
}

/*
 * Only a regular file is read: a FIFO would block start-up until a writer
 * came, and a device such as /dev/zero never ends. O_NONBLOCK keeps the
 * open itself from waiting for a FIFO's writer; the type is checked on
 * the opened descriptor, so a file swapped in after a check cannot slip by.
 */
static int open_list(struct list_reader *rd)
{
	struct stat st;
	int fd;

	fd = open(rd->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		pr_err("%s: %s", rd->path_text, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		pr_err("%s: %s", rd->path_text, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s: %s, not a list file: lists are read from regular files only",
		       rd->path_text, file_type(st.st_mode));
		close(fd);
		return -1;
	}
	return fd;
}

static int load_file(struct list_reader *rd)
{
	char *buf = rd->buf;
	size_t have = 0;
	int fd, ret = -1;
	ssize_t n;

	log_escape(rd->path_text, sizeof(rd->path_text), rd->path,
		   strlen(rd->path));
	fd = open_list(rd);
	if (fd < 0)
		return -1;
	rd->lineno = 0;
	rd->masked = 0;
	for (;;) {
		char *s, *nl, *end, *nul;

		/* a signal on the way: every 1 MiB read, well under 10 ms */
		if (rd->stop && *rd->stop) {
			pr_debug("%s: reading stopped", rd->path_text);
			ret = LIST_LOAD_STOPPED;
			goto out;
		}
		n = read(fd, buf + have, READ_CHUNK - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: %s", rd->path_text, strerror(errno));
			goto out;
		}
		if (!n)
			break;
		/* the partial line kept from before holds no NUL */
		nul = memchr(buf + have, '\0', n);
		have += n;
		s = buf;
		end = buf + have;
		while ((nl = memchr(s, '\n', end - s))) {
			rd->lineno++;
			if (check_line(rd, s, nl, nul) || load_line(rd, s, nl))
				goto out;
			s = nl + 1;
		}
		have = end - s;
		/* the line begun: its end may be far off, or never come */
		if (have > LIST_LINE_MAX || (nul && nul >= s)) {
			rd->lineno++;
			check_line(rd, s, end, nul);
			goto out;
		}
		memmove(buf, s, have);
	}
	if (have) {
		/* the last line had no '\n' */
		rd->lineno++;
		if (load_line(rd, buf, buf + have))
			goto out;
	}
	/*
	 * Host bits set (10.1.2.3/8) are masked rather than refused: such
	 * lines turn up in published lists, and the prefix meant is plain.
	 * A warning per line would flood the terminal for a sloppy list of a
	 * million lines, so there is one per file, with the first line and
	 * a count.
	 */
	if (rd->masked)
		pr_warn("%s:%u: host bits set after the prefix length, masked (%u line%s in this file)",
			rd->path_text, rd->first_masked, rd->masked,
			rd->masked == 1 ? "" : "s");
	ret = 0;
out:
	close(fd);
	return ret;
}

/* LSD radix sort of keys of V4_KEY_BITS bits, 11 bits a pass. */
static int sort_v4(uint64_t *a, size_t n)
{
	enum { BITS = 11, PASSES = (V4_KEY_BITS + BITS - 1) / BITS };
	size_t (*count)[1 << BITS], i;
	uint64_t *tmp, *src = a, *dst;
	int p;

	if (n < 2)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	count = calloc(PASSES, sizeof(*count));
	if (!tmp || !count) {
		free(tmp);
		free(count);
		pr_err("out of memory sorting lists");
		return -1;
	}
	for (i = 0; i < n; i++)
		for (p = 0; p < PASSES; p++)
			count[p][a[i] >> (p * BITS) & ((1 << BITS) - 1)]++;
	dst = tmp;
	for (p = 0; p < PASSES; p++) {
		size_t *c = count[p], sum = 0, t;
		unsigned int shift = p * BITS;

		/* every key has the same digit here: nothing to move */
		if (c[src[0] >> shift & ((1 << BITS) - 1)] == n)
			continue;
		for (i = 0; i < 1 << BITS; i++) {
			t = c[i];
			c[i] = sum;
			sum += t;
		}
		for (i = 0; i < n; i++)
			dst[c[src[i] >> shift & ((1 << BITS) - 1)]++] = src[i];
		dst = src;
		src = src == a ? tmp : a;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	free(count);
	free(tmp);
	return 0;
}

static int cmp_v6(const void *pa, const void *pb)
{
	const struct entry_v6 *a = pa, *b = pb;

	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return (a->len > b->len) - (a->len < b->len);
}

/* The next prefix in order, with its own lists; returns all of them. */
static inline uint64_t inherit(struct open_prefixes *o, unsigned int bits,
			       u128 addr, unsigned int len, uint64_t mask)
{
	int sp = o->sp;

	/* a covering prefix is shorter, so never an equal one */
	while (sp && (addr & net_mask(bits, o->st[sp - 1].len)) !=
		     o->st[sp - 1].addr)
		sp--;
	if (sp)
		mask |= o->st[sp - 1].mask;
	o->st[sp].addr = addr;
	o->st[sp].len = len;
	o->st[sp++].mask = mask;
	o->sp = sp;
	return mask;
}

/* The reader's keys, sorted, into one entry per distinct prefix. */
static int build_v4(struct list_set *set, struct list_reader *rd)
{
	const uint64_t *keys = rd->v4;
	size_t i = 0, n = rd->n_v4, n_out = 0;
	struct entry_v4 *out;

	if (!n)
		return 0;
	if (sort_v4(rd->v4, n))
		return -1;
	out = malloc(n * sizeof(*out));
	if (!out) {
		pr_err("out of memory merging lists");
		return -1;
	}
	rd->open.sp = 0;
	while (i < n) {
		uint64_t k = keys[i] >> 6, mask = 0;
		uint32_t addr = k >> 6;
		unsigned int len = k & 63;

		for (; i < n && keys[i] >> 6 == k; i++)
			mask |= 1ull << (keys[i] & 63);
		out[n_out].addr = addr;
		out[n_out].len = len;
		out[n_out++].mask = inherit(&rd->open, 32, addr, len, mask);
	}
	set->v4 = realloc(out, n_out * sizeof(*out)) ?: out;
	set->n_v4 = n_out;
	return 0;
}

/* As build_v4, in place: the set takes over the reader's array. */
static int build_v6(struct list_set *set, struct list_reader *rd)
{
	struct entry_v6 *r = rd->v6;
	size_t i = 0, n = rd->n_v6, n_out = 0;

	if (!n)
		return 0;
	rd->open.sp = 0;
	qsort(r, n, sizeof(*r), cmp_v6);
	while (i < n) {
		struct entry_v6 cur = r[i];

		for (i++; i < n && r[i].hi == cur.hi && r[i].lo == cur.lo &&
			  r[i].len == cur.len; i++)
			cur.mask |= r[i].mask;
		cur.mask = inherit(&rd->open, 128, (u128)cur.hi << 64 | cur.lo,
				   cur.len, cur.mask);
		r[n_out++] = cur;
	}
	set->v6 = realloc(r, n_out * sizeof(*r)) ?: r;
	set->n_v6 = n_out;
	rd->v6 = NULL;
	rd->n_v6 = 0;
	return 0;
}

static void sort_names(struct list_set *set)
{
	int i, j;

	for (i = 0; i < set->n_lists; i++) {
		uint8_t x = i;

		for (j = i; j > 0 && strcmp(set->lists[set->by_name[j - 1]].name,
					    set->lists[x].name) > 0; j--)
			set->by_name[j] = set->by_name[j - 1];
		set->by_name[j] = x;
	}
}

int list_set_load(struct list_set *set, const struct list_spec *specs,
		  int n_specs, const volatile sig_atomic_t *stop)
{
	struct list_reader *rd;
	int i, j, ret = -1;

	memset(set, 0, sizeof(*set));
	if ((unsigned int)n_specs > MAX_LISTS) {
		pr_err("too many lists: %d, at most %d", n_specs, MAX_LISTS);
		return -1;
	}
	for (i = 0; i < n_specs; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(specs[i].name, specs[j].name)) {
				char a[LIST_PATH_MAX], b[LIST_PATH_MAX];

				/* names are checked: only paths need escaping */
				pr_err("two lists are named '%s' (%s and %s); name one with NAME=FILE",
				       specs[i].name,
				       log_escape(a, sizeof(a), specs[j].path,
						  strlen(specs[j].path)),
				       log_escape(b, sizeof(b), specs[i].path,
						  strlen(specs[i].path)));
				return -1;
			}
	if (!n_specs)
		return 0;

	/* on the heap: a worker thread's stack may be small */
	rd = calloc(1, sizeof(*rd));
	if (rd) {
		rd->stop = stop;
		rd->buf = malloc(READ_CHUNK);
	}
	if (!rd || !rd->buf) {
		pr_err("out of memory reading lists");
		goto out;
	}
	for (i = 0; i < n_specs; i++) {
		rd->path = specs[i].path;
		rd->list = i;
		ret = load_file(rd);
		if (ret)
			goto out;
		pr_debug("list %s: %s read, %zu IPv4 and %zu IPv6 prefixes so far",
			 specs[i].name, rd->path_text, rd->n_v4, rd->n_v6);
	}
	ret = -1;
	if (build_v4(set, rd) || build_v6(set, rd))
		goto out;
	memcpy(set->lists, specs, (unsigned int)n_specs * sizeof(*specs));
	set->n_lists = n_specs;
	sort_names(set);
	ret = 0;
out:
	if (rd) {
		free(rd->buf);
		free(rd->v4);
		free(rd->v6);
	}
	free(rd);
	if (ret)
		list_set_free(set);
	return ret;
}

void list_set_free(struct list_set *set)
{
	free(set->v4);
	free(set->v6);
	memset(set, 0, sizeof(*set));
}

int list_set_names(const struct list_set *set, uint64_t mask,
		   const char **names, int max)
{
	int i, n = 0;

	for (i = 0; mask && i < set->n_lists && n < max; i++) {
		uint64_t bit = 1ull << set->by_name[i];

		if (mask & bit) {
			names[n++] = set->lists[set->by_name[i]].name;
			mask &= ~bit;
		}
	}
	return n;
}
