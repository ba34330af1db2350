// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Named CIDR lists. Every file is parsed into one flat array per family
 * (a list index with each prefix), sorted, merged per distinct prefix and
 * swept once so that each prefix's mask also holds the lists of every
 * shorter prefix covering it: the kernel's LPM lookup returns only the
 * longest match, so that match must carry them all.
 *
 * Lists can hold millions of lines and are read on the way to attaching,
 * so the hot paths avoid stdio, inet_pton for IPv4 and comparison sorts
 * for IPv4.
 */
#include <arpa/inet.h>
#include <assert.h>
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

static const char *kind_name(enum list_kind kind)
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
			       kind_name(kind),
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
		pr_err("no file given in %s list '%s'", kind_name(kind),
		       log_escape(q2, sizeof(q2), arg, strlen(arg)));
		return -1;
	}
	if (file_len >= LIST_PATH_MAX) {
		pr_err("path too long in %s list '%s'", kind_name(kind),
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

/* One line's prefix: in v4, or in hi:lo if is_v6; host byte order. */
struct prefix {
	bool is_v6;
	uint8_t len;
	uint32_t v4;
	uint64_t hi, lo;
};

/* A v4 prefix and its list as one sortable key: addr | len | list. */
#define V4_KEY(addr, len, list) \
	((uint64_t)(addr) << 12 | (uint64_t)(len) << 6 | (list))
#define V4_KEY_BITS	44

struct raw6 {
	uint64_t hi, lo;
	uint64_t mask;
	uint32_t len;
};

/* Everything one load has read so far. */
struct loader {
	uint64_t *v4;
	size_t n_v4, cap_v4;
	struct raw6 *v6;
	size_t n_v6, cap_v6;
	const volatile sig_atomic_t *stop;	/* set: give up, quietly */
	char *buf;			/* READ_CHUNK bytes */
	/* the file being read */
	const char *path;
	char path_text[LIST_PATH_MAX];	/* path, escaped, for messages */
	unsigned int list;
	unsigned int lineno;
	unsigned int masked, first_masked;
};

static inline uint32_t mask32(unsigned int len)
{
	return len ? ~0u << (32 - len) : 0;
}

static inline uint64_t mask64(unsigned int len)
{
	return len ? ~0ull << (64 - len) : 0;
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

static const char *parse_v6(const char *s, const char *e, uint64_t *hi,
			    uint64_t *lo)
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
	*hi = *lo = 0;
	for (i = 0; i < 8; i++) {
		*hi = *hi << 8 | a[i];
		*lo = *lo << 8 | a[i + 8];
	}
	return t;
}

/* Parses s..e (trimmed, not empty); NULL or the reason it is bad. */
static const char *parse_prefix(const char *s, const char *e,
				struct prefix *p)
{
	unsigned int max, len;
	const char *t;

	memset(p, 0, sizeof(*p));
	p->is_v6 = memchr(s, ':', e - s) != NULL;
	if (p->is_v6) {
		s = parse_v6(s, e, &p->hi, &p->lo);
		if (!s)
			return "bad IPv6 address";
		max = 128;
	} else {
		s = parse_v4(s, e, &p->v4);
		if (!s || (s < e && *s != '/' && !is_space(*s)))
			return "bad IPv4 address";
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

/* Note a line whose host bits were set, for one warning per file. */
static inline void host_bits(struct loader *ld)
{
	if (!ld->masked++)
		ld->first_masked = ld->lineno;
}

static int add_v4(struct loader *ld, uint32_t addr, unsigned int len)
{
	uint32_t m = mask32(len);

	if (addr & ~m) {
		host_bits(ld);
		addr &= m;
	}
	if (ld->n_v4 == ld->cap_v4 &&
	    grow((void **)&ld->v4, &ld->cap_v4, sizeof(*ld->v4)))
		return -1;
	ld->v4[ld->n_v4++] = V4_KEY(addr, len, ld->list);
	return 0;
}

static int add_v6(struct loader *ld, uint64_t hi, uint64_t lo,
		  unsigned int len)
{
	uint64_t mh = len >= 64 ? ~0ull : mask64(len);
	uint64_t ml = len <= 64 ? 0 : mask64(len - 64);
	struct raw6 *r;

	if ((hi & ~mh) || (lo & ~ml)) {
		host_bits(ld);
		hi &= mh;
		lo &= ml;
	}
	/*
	 * An IPv4-mapped prefix (within ::ffff:0:0/96) is an IPv4 one: the
	 * kernel looks IPv4 traffic up in the IPv4 trie only. A shorter v6
	 * prefix covering ::ffff:0:0/96 (::/0, ::/64...) stays v6: it is
	 * about IPv6 traffic, and turning it into 0.0.0.0/0 would make it
	 * match every IPv4 packet, which nobody listing "::/0" means.
	 */
	if (len >= 96 && hi == 0 && lo >> 32 == 0xffff)
		return add_v4(ld, (uint32_t)lo, len - 96);
	if (ld->n_v6 == ld->cap_v6 &&
	    grow((void **)&ld->v6, &ld->cap_v6, sizeof(*ld->v6)))
		return -1;
	r = &ld->v6[ld->n_v6++];
	r->hi = hi;
	r->lo = lo;
	r->len = len;
	r->mask = 1ull << ld->list;
	return 0;
}

/*
 * "file:line: reason: 'text'", the text escaped and cut after about
 * ERR_TEXT_MAX characters: a whole line of LIST_LINE_MAX is no help.
 */
static void bad_line(const struct loader *ld, const char *reason,
		     const char *s, size_t n)
{
	char q[ERR_TEXT_MAX + sizeof("...")];

	pr_err("%s:%u: %s: '%s'", ld->path_text, ld->lineno, reason,
	       log_escape(q, sizeof(q), s, n));
}

/*
 * What no list line may be: longer than LIST_LINE_MAX (a file that is
 * not a list, /dev/zero's like, would otherwise fill memory), or holding
 * a NUL (text after it would be read by some parsers and not by others).
 * s..e is a line or its start; nul is the first NUL at or after s, or NULL.
 */
static int check_line(const struct loader *ld, const char *s, const char *e,
		      const char *nul)
{
	if (nul && nul < e) {
		bad_line(ld, "NUL byte in the line", s, e - s);
		return -1;
	}
	if (e - s > LIST_LINE_MAX) {
		bad_line(ld, "line longer than " STR(LIST_LINE_MAX) " bytes",
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
static int load_line(struct loader *ld, const char *s, const char *e)
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
		bad_line(ld, reason, s, e - s);
		return -1;
	}
	if (p.is_v6)
		return add_v6(ld, p.hi, p.lo, p.len);
	return add_v4(ld, p.v4, p.len);
}

/*
 * Only a regular file is read: a FIFO would block start-up until a writer
 * came, and a device such as /dev/zero never ends. O_NONBLOCK keeps the
 * open itself from waiting for a FIFO's writer; the type is checked on
 * the opened descriptor, so a file swapped in after a check cannot slip by.
 */
static int open_list(struct loader *ld)
{
	struct stat st;
	int fd;

	fd = open(ld->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		pr_err("%s: %s", ld->path_text, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		pr_err("%s: %s", ld->path_text, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s: %s, not a list file: lists are read from regular files only",
		       ld->path_text, file_type(st.st_mode));
		close(fd);
		return -1;
	}
	return fd;
}

static int load_file(struct loader *ld)
{
	char *buf = ld->buf;
	size_t have = 0;
	int fd, ret = -1;
	ssize_t n;

	log_escape(ld->path_text, sizeof(ld->path_text), ld->path,
		   strlen(ld->path));
	fd = open_list(ld);
	if (fd < 0)
		return -1;
	ld->lineno = 0;
	ld->masked = 0;
	for (;;) {
		char *s, *nl, *end, *nul;

		/* a signal on the way: every 1 MiB read, well under 10 ms */
		if (ld->stop && *ld->stop) {
			pr_debug("%s: reading stopped", ld->path_text);
			ret = LIST_LOAD_STOPPED;
			goto out;
		}
		n = read(fd, buf + have, READ_CHUNK - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: %s", ld->path_text, strerror(errno));
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
			ld->lineno++;
			if (check_line(ld, s, nl, nul) || load_line(ld, s, nl))
				goto out;
			s = nl + 1;
		}
		have = end - s;
		/* the line begun: its end may be far off, or never come */
		if (have > LIST_LINE_MAX || (nul && nul >= s)) {
			ld->lineno++;
			check_line(ld, s, end, nul);
			goto out;
		}
		memmove(buf, s, have);
	}
	if (have) {
		/* the last line had no '\n' */
		ld->lineno++;
		if (load_line(ld, buf, buf + have))
			goto out;
	}
	/*
	 * Host bits set (10.1.2.3/8) are masked rather than refused: such
	 * lines turn up in published lists, and the prefix meant is plain.
	 * A warning per line would flood the terminal for a sloppy list of a
	 * million lines, so there is one per file, with the first line and
	 * a count.
	 */
	if (ld->masked)
		pr_warn("%s:%u: host bits set after the prefix length, masked (%u line%s in this file)",
			ld->path_text, ld->first_masked, ld->masked,
			ld->masked == 1 ? "" : "s");
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

static int cmp_raw6(const void *pa, const void *pb)
{
	const struct raw6 *a = pa, *b = pb;

	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return (a->len > b->len) - (a->len < b->len);
}

/*
 * Sorted by (address, length), the prefixes covering one are exactly the
 * chain of enclosing prefixes still open before it, so a stack of them
 * (at most one per length) gives each prefix its inherited lists.
 */
static int build_v4(struct list_set *set, uint64_t *keys, size_t n)
{
	uint32_t st_addr[33], st_len[33];
	uint64_t st_mask[33];
	size_t i = 0, n_out = 0;
	struct entry_v4 *out;
	int sp = 0;

	if (!n)
		return 0;
	if (sort_v4(keys, n))
		return -1;
	out = malloc(n * sizeof(*out));
	if (!out) {
		pr_err("out of memory merging lists");
		return -1;
	}
	while (i < n) {
		uint64_t k = keys[i] >> 6, mask = 0;
		uint32_t addr = k >> 6, be;
		unsigned int len = k & 63;

		for (; i < n && keys[i] >> 6 == k; i++)
			mask |= 1ull << (keys[i] & 63);
		while (sp && (addr & mask32(st_len[sp - 1])) != st_addr[sp - 1])
			sp--;
		if (sp)
			mask |= st_mask[sp - 1];
		st_addr[sp] = addr;
		st_len[sp] = len;
		st_mask[sp++] = mask;

		out[n_out].key.prefixlen = len;
		be = htonl(addr);
		memcpy(out[n_out].key.addr, &be, sizeof(be));
		out[n_out++].mask = mask;
	}
	set->v4 = realloc(out, n_out * sizeof(*out)) ?: out;
	set->n_v4 = n_out;
	return 0;
}

static inline bool covers6(const struct raw6 *p, const struct raw6 *r)
{
	uint64_t mh = p->len >= 64 ? ~0ull : mask64(p->len);
	uint64_t ml = p->len <= 64 ? 0 : mask64(p->len - 64);

	return (r->hi & mh) == p->hi && (r->lo & ml) == p->lo;
}

/* As build_v4, in place over the raw array before copying out. */
static int build_v6(struct list_set *set, struct raw6 *r, size_t n)
{
	size_t i = 0, j, n_out = 0, st[129];
	struct entry_v6 *out;
	int sp = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), cmp_raw6);
	while (i < n) {
		struct raw6 cur = r[i];

		for (i++; i < n && r[i].hi == cur.hi && r[i].lo == cur.lo &&
			  r[i].len == cur.len; i++)
			cur.mask |= r[i].mask;
		/* a covering prefix is shorter, so never the current one */
		while (sp && !covers6(&r[st[sp - 1]], &cur))
			sp--;
		if (sp)
			cur.mask |= r[st[sp - 1]].mask;
		st[sp++] = n_out;
		r[n_out++] = cur;
	}
	out = malloc(n_out * sizeof(*out));
	if (!out) {
		pr_err("out of memory merging lists");
		return -1;
	}
	for (i = 0; i < n_out; i++) {
		out[i].key.prefixlen = r[i].len;
		for (j = 0; j < 8; j++) {
			out[i].key.addr[j] = r[i].hi >> (56 - 8 * j);
			out[i].key.addr[j + 8] = r[i].lo >> (56 - 8 * j);
		}
		out[i].mask = r[i].mask;
	}
	set->v6 = out;
	set->n_v6 = n_out;
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
	struct loader *ld;
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
	ld = calloc(1, sizeof(*ld));
	if (ld) {
		ld->stop = stop;
		ld->buf = malloc(READ_CHUNK);
	}
	if (!ld || !ld->buf) {
		pr_err("out of memory reading lists");
		goto out;
	}
	for (i = 0; i < n_specs; i++) {
		ld->path = specs[i].path;
		ld->list = i;
		ret = load_file(ld);
		if (ret)
			goto out;
		pr_debug("list %s: %s read, %zu IPv4 and %zu IPv6 prefixes so far",
			 specs[i].name, ld->path_text, ld->n_v4, ld->n_v6);
	}
	ret = -1;
	if (build_v4(set, ld->v4, ld->n_v4) || build_v6(set, ld->v6, ld->n_v6))
		goto out;
	memcpy(set->lists, specs, (unsigned int)n_specs * sizeof(*specs));
	set->n_lists = n_specs;
	sort_names(set);
	ret = 0;
out:
	if (ld) {
		free(ld->buf);
		free(ld->v4);
		free(ld->v6);
	}
	free(ld);
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

/*
 * The range tables. Sorted by (address, length), each prefix lies inside
 * the innermost still open one or after it has ended, so a stack of open
 * prefixes knows, at every boundary, the longest prefix covering what
 * follows: entering a prefix starts its mask (already the union of every
 * list covering it), leaving one restores its parent's, or 0. Each prefix
 * adds at most two boundaries, so a set of n makes at most 2n + 1 ranges.
 *
 * The table is built as a step function: emitting (start, mask) sets the
 * mask from start on. A boundary at the last one's start (a prefix and a
 * nested one starting together, or several ending together) overwrites
 * it rather than adding an empty range, and an unchanged mask adds
 * nothing, so no two neighbours share a mask.
 */
typedef unsigned __int128 u128;

#define MAX_RANGES	(1u << HDRLOG_SEARCH_STEPS)

static inline void emit_v4(struct hdrlog_range_v4 *out, size_t *n,
			   uint32_t start, uint64_t mask)
{
	size_t i = *n;

	if (out[i - 1].start == start) {
		if (i >= 2 && out[i - 2].mask == mask)
			*n = i - 1;
		else
			out[i - 1].mask = mask;
	} else if (out[i - 1].mask != mask) {
		out[i].start = start;
		out[i].pad = 0;
		out[i].mask = mask;
		*n = i + 1;
	}
}

static inline void emit_v6(struct hdrlog_range_v6 *out, size_t *n,
			   u128 start, uint64_t mask)
{
	uint64_t hi = start >> 64, lo = (uint64_t)start;
	size_t i = *n;

	if (out[i - 1].start_hi == hi && out[i - 1].start_lo == lo) {
		if (i >= 2 && out[i - 2].mask == mask)
			*n = i - 1;
		else
			out[i - 1].mask = mask;
	} else if (out[i - 1].mask != mask) {
		out[i].start_hi = hi;
		out[i].start_lo = lo;
		out[i].mask = mask;
		*n = i + 1;
	}
}

static inline u128 entry6_addr(const struct entry_v6 *e)
{
	u128 a = 0;
	int i;

	for (i = 0; i < 16; i++)
		a = a << 8 | e->key.addr[i];
	return a;
}

static void too_many_ranges(const char *family, size_t n)
{
	pr_err("the lists cut the %s space into %zu ranges, more than the %u the kernel's lookup can search; use fewer or less scattered prefixes",
	       family, n, MAX_RANGES - 1);
}

static int ranges_v4(struct list_ranges *r, const struct list_set *set)
{
	struct { uint32_t end; uint64_t mask; } st[33];	/* one per length */
	struct hdrlog_range_v4 *out;
	size_t i, n = 1;
	int sp = 0;

	out = malloc((2 * set->n_v4 + 1) * sizeof(*out));
	if (!out)
		return -1;
	memset(&out[0], 0, sizeof(out[0]));
	for (i = 0; i < set->n_v4; i++) {
		const struct entry_v4 *e = &set->v4[i];
		uint32_t start, be;

		memcpy(&be, e->key.addr, sizeof(be));
		start = ntohl(be);
		while (sp && st[sp - 1].end < start) {
			sp--;
			emit_v4(out, &n, st[sp].end + 1,
				sp ? st[sp - 1].mask : 0);
		}
		emit_v4(out, &n, start, e->mask);
		st[sp].end = start | ~mask32(e->key.prefixlen);
		st[sp++].mask = e->mask;
	}
	/* one ending at the top of the space ends its parents there too */
	while (sp && st[sp - 1].end != UINT32_MAX) {
		sp--;
		emit_v4(out, &n, st[sp].end + 1, sp ? st[sp - 1].mask : 0);
	}
	r->v4 = realloc(out, n * sizeof(*out)) ?: out;
	r->n_v4 = n;
	return 0;
}

static int ranges_v6(struct list_ranges *r, const struct list_set *set)
{
	struct { u128 end; uint64_t mask; } st[129];
	struct hdrlog_range_v6 *out;
	size_t i, n = 1;
	int sp = 0;

	out = malloc((2 * set->n_v6 + 1) * sizeof(*out));
	if (!out)
		return -1;
	memset(&out[0], 0, sizeof(out[0]));
	for (i = 0; i < set->n_v6; i++) {
		const struct entry_v6 *e = &set->v6[i];
		u128 start = entry6_addr(e);
		uint32_t len = e->key.prefixlen;

		while (sp && st[sp - 1].end < start) {
			sp--;
			emit_v6(out, &n, st[sp].end + 1,
				sp ? st[sp - 1].mask : 0);
		}
		emit_v6(out, &n, start, e->mask);
		st[sp].end = start | (len < 128 ? ~(u128)0 >> len : 0);
		st[sp++].mask = e->mask;
	}
	while (sp && st[sp - 1].end != ~(u128)0) {
		sp--;
		emit_v6(out, &n, st[sp].end + 1, sp ? st[sp - 1].mask : 0);
	}
	r->v6 = realloc(out, n * sizeof(*out)) ?: out;
	r->n_v6 = n;
	return 0;
}

/*
 * chunks[c], the range holding chunk c's first address, is the number of
 * ranges after the first that start at or before it: a count per chunk of
 * the range starts rounding up to it, summed, without the unpredictable
 * branch of walking ranges and chunks side by side. A start past the last
 * chunk's base counts into the sentinel's slot, which is then set. A
 * lookup searches chunks[c]..chunks[c + 1], never more than all n ranges,
 * which n < MAX_RANGES keeps within the kernel's HDRLOG_SEARCH_STEPS.
 */
static uint32_t *chunks_sum(uint32_t *ch, size_t n)
{
	uint32_t c;

	for (c = 1; c < HDRLOG_CHUNKS - 1; c++) {
		ch[c] += ch[c - 1];
		assert(ch[c] + 1 - ch[c - 1] < MAX_RANGES);
	}
	ch[c] = n - 1;
	return ch;
}

static uint32_t *chunks_v4(const struct hdrlog_range_v4 *rg, size_t n)
{
	const unsigned int shift = 32 - HDRLOG_CHUNK_BITS;
	uint32_t *ch = calloc(HDRLOG_CHUNKS, sizeof(*ch));
	size_t i;

	if (!ch)
		return NULL;
	for (i = 1; i < n; i++)
		ch[((uint64_t)rg[i].start + (1u << shift) - 1) >> shift]++;
	return chunks_sum(ch, n);
}

static uint32_t *chunks_v6(const struct hdrlog_range_v6 *rg, size_t n)
{
	const unsigned int shift = 64 - HDRLOG_CHUNK_BITS;
	const uint64_t in_chunk = (1ull << shift) - 1;
	uint32_t *ch = calloc(HDRLOG_CHUNKS, sizeof(*ch));
	size_t i;

	if (!ch)
		return NULL;
	for (i = 1; i < n; i++)
		ch[(rg[i].start_hi >> shift) +
		   !!((rg[i].start_hi & in_chunk) | rg[i].start_lo)]++;
	return chunks_sum(ch, n);
}

int list_ranges_build(struct list_ranges *r, const struct list_set *set)
{
	memset(r, 0, sizeof(*r));
	if (ranges_v4(r, set) || ranges_v6(r, set))
		goto nomem;
	if (r->n_v4 >= MAX_RANGES) {
		too_many_ranges("IPv4", r->n_v4);
		goto fail;
	}
	if (r->n_v6 >= MAX_RANGES) {
		too_many_ranges("IPv6", r->n_v6);
		goto fail;
	}
	r->v4_chunks = chunks_v4(r->v4, r->n_v4);
	r->v6_chunks = chunks_v6(r->v6, r->n_v6);
	if (!r->v4_chunks || !r->v6_chunks)
		goto nomem;
	return 0;
nomem:
	pr_err("out of memory building the lists' range tables");
fail:
	list_ranges_free(r);
	return -1;
}

void list_ranges_free(struct list_ranges *r)
{
	free(r->v4);
	free(r->v4_chunks);
	free(r->v6);
	free(r->v6_chunks);
	memset(r, 0, sizeof(*r));
}

/*
 * As the kernel searches: the largest i in [chunks[c], chunks[c + 1]]
 * with start[i] <= addr, start[chunks[c]] <= addr holding always.
 */
uint64_t list_ranges_lookup_v4(const struct list_ranges *r,
			       uint32_t addr_host)
{
	uint32_t c = addr_host >> (32 - HDRLOG_CHUNK_BITS);
	uint32_t lo = r->v4_chunks[c], hi = r->v4_chunks[c + 1] + 1, mid;
	int step;

	for (step = 0; step < HDRLOG_SEARCH_STEPS && hi - lo > 1; step++) {
		mid = lo + (hi - lo) / 2;
		if (r->v4[mid].start <= addr_host)
			lo = mid;
		else
			hi = mid;
	}
	return r->v4[lo].mask;
}

uint64_t list_ranges_lookup_v6(const struct list_ranges *r,
			       const uint8_t addr[16])
{
	uint64_t hi_a = 0, lo_a = 0;
	uint32_t c, lo, hi, mid;
	int i, step;

	for (i = 0; i < 8; i++) {
		hi_a = hi_a << 8 | addr[i];
		lo_a = lo_a << 8 | addr[i + 8];
	}
	c = hi_a >> (64 - HDRLOG_CHUNK_BITS);
	lo = r->v6_chunks[c];
	hi = r->v6_chunks[c + 1] + 1;
	for (step = 0; step < HDRLOG_SEARCH_STEPS && hi - lo > 1; step++) {
		const struct hdrlog_range_v6 *m;

		mid = lo + (hi - lo) / 2;
		m = &r->v6[mid];
		if (m->start_hi < hi_a ||
		    (m->start_hi == hi_a && m->start_lo <= lo_a))
			lo = mid;
		else
			hi = mid;
	}
	return r->v6[lo].mask;
}
