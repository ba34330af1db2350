// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * JSON lines. yajl renders every key (once, at start) and every string
 * that came from outside hdrlog (interface and list names), so escaping
 * and UTF-8 checks are yajl's. Numbers and the ASCII text hdrlog makes
 * itself (addresses, timestamps, keywords) need no escaping and are put
 * in directly: a generic generator costs ~75 ns per field here, which
 * would cap the output far below the ring buffer's rate.
 *
 * --schema ecs writes the same values under Elastic Common Schema names,
 * nested: the plan made at start (ecs_plan_make()) lists every ECS name
 * sorted by its path, so the names of one object follow each other, and
 * a record is written in one walk of it, opening and closing objects as
 * the path changes. No sorting or string building per record; the
 * default schema's walk is the one it always was.
 *
 * The output collects lines in the file writer's buffer (rotate.h) that
 * goes out with one write(2) when it fills or on flush, so a burst costs
 * few system calls; a terminal gets each line at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "json.h"
#include "log.h"
#include "rotate.h"
#include "sink.h"

/* Bounded output: every put checks room, so a record never overruns. */
struct out {
	char *p;
	char *end;
};

static int put(struct out *o, const void *s, size_t n)
{
	if ((size_t)(o->end - o->p) < n) {
		o->p = o->end + 1;	/* mark overflow; checked at the end */
		return -1;
	}
	memcpy(o->p, s, n);
	o->p += n;
	return 0;
}

/* yajl renders str; if it is not UTF-8, its non-ASCII bytes become '?'. */
static int render_string(yajl_gen g, const char *str, size_t n,
			 const unsigned char **out, size_t *out_len)
{
	char clean[FIELD_TEXT_MAX];

	yajl_gen_clear(g);
	yajl_gen_reset(g, NULL);
	if (yajl_gen_string(g, (const unsigned char *)str, n) != yajl_gen_status_ok) {
		n = n < sizeof(clean) ? n : sizeof(clean);
		for (size_t i = 0; i < n; i++)
			clean[i] = (unsigned char)str[i] < 0x80 ? str[i] : '?';
		yajl_gen_reset(g, NULL);
		if (yajl_gen_string(g, (const unsigned char *)clean, n) !=
		    yajl_gen_status_ok)
			return -1;
	}
	return yajl_gen_get_buf(g, out, out_len) == yajl_gen_status_ok ? 0 : -1;
}

/*
 * A foreign string rendered by yajl, through a few renderings kept by
 * their input bytes: records of a burst name the same interface (and
 * process, lists) again and again, and yajl took about 650 instructions
 * for an interface name. Same bytes in, same rendering out.
 */
static void put_foreign(struct json_writer *w, struct out *o, const char *str,
			size_t n)
{
	struct json_rendered *c;
	const unsigned char *r;
	size_t len;

	for (unsigned int i = 0; i < JSON_RENDERED_KEPT; i++) {
		c = &w->rendered[i];
		if (c->in_len == n && c->out_len && !memcmp(c->in, str, n)) {
			put(o, c->out, c->out_len);
			return;
		}
	}
	if (render_string(w->esc, str, n, &r, &len)) {
		put(o, "\"\"", 2);
		return;
	}
	put(o, r, len);
	if (n > sizeof(c->in) || len > sizeof(c->out))
		return;
	c = &w->rendered[w->rendered_next++ % JSON_RENDERED_KEPT];
	memcpy(c->in, str, n);
	c->in_len = n;
	memcpy(c->out, r, len);
	c->out_len = len;
}

/*
 * A key (,"name": or ,"name":{), without its comma when first. A short
 * one (every default name, most ECS ones) as 32 bytes, two vector moves
 * and no memcpy call per field, where the output has the room: the
 * bytes past the key are written over by what follows.
 */
#define KEY_COPY	32
static inline void put_key(struct out *o, const struct json_key *k,
			   bool first)
{
	if (k->len - first > KEY_COPY || o->end - o->p < KEY_COPY) {
		put(o, k->text + first, k->len - first);
		return;
	}
	memcpy(o->p, k->text + first, KEY_COPY);
	o->p += k->len - first;
}

/* A field's value text straight into the output, quoted or not. */
static void put_text(struct out *o, const struct event *e, enum field_id id,
		     int quoted)
{
	char *p = o->p;
	int n;

	if (o->end - o->p < FIELD_TEXT_MAX + 2) {
		o->p = o->end + 1;
		return;
	}
	if (quoted)
		*p++ = '"';
	n = field_text(e, id, 0, p);
	p += n > 0 ? n : 0;
	if (quoted)
		*p++ = '"';
	o->p = p;
}

static void put_array(struct json_writer *w, struct out *o,
		      const struct event *e, enum field_id id,
		      enum field_kind kind)
{
	char text[FIELD_TEXT_MAX];
	int n;

	put(o, "[", 1);
	for (unsigned int i = 0; (n = field_text(e, id, i, text)) >= 0; i++) {
		if (i)
			put(o, ",", 1);
		if (kind == FK_NUMBER_ARRAY)
			put(o, text, n);
		else
			put_foreign(w, o, text, n);
	}
	put(o, "]", 1);
}

/* Kept out of line: inlined, it made the default schema's walk slower. */
static __attribute__((noinline)) size_t
ecs_record(const struct ecs_plan *p, struct json_writer *w,
	   const struct event *e, field_mask mask, char *out, size_t size);

size_t json_writer_record(struct json_writer *w, const struct event *e,
			  field_mask mask, char *out, size_t size)
{
	struct out o = { out, out + size };
	char text[FIELD_TEXT_MAX];
	int first = 1;
	unsigned int at = 0;	/* the object open: w->obj_keys[at]; 0 none */

	if (w->ecs)
		return ecs_record(w->ecs, w, e, mask, out, size);
	mask &= e->present;
	put(&o, "{", 1);
	while (mask) {
		enum field_id id = field_mask_pop(&mask);
		const struct json_key *k = &w->keys[id];
		enum field_kind kind = w->kinds[id];
		int n;

		if (w->objs[id] != at) {	/* "flow":{...}: names in a row */
			if (at)
				put(&o, "}", 1);
			at = w->objs[id];
			if (at) {
				put_key(&o, &w->obj_keys[at], first);
				first = 1;
			}
		}
		put_key(&o, k, first);
		first = 0;
		switch (kind) {
		case FK_NUMBER:
			/*
			 * A member as it is: no call, no switch. The room
			 * put_text() asks, so that a record near the end of
			 * out is cut where it always was.
			 */
			if (w->sizes[id] && o.end - o.p >= FIELD_TEXT_MAX + 2)
				o.p += uint_text(field_uint(e, w->members[id],
							    w->sizes[id]), o.p);
			else
				put_text(&o, e, id, 0);
			break;
		case FK_STRING:
			put_text(&o, e, id, 1);
			break;
		case FK_FOREIGN_STRING:
			n = field_text(e, id, 0, text);
			put_foreign(w, &o, text, n > 0 ? n : 0);
			break;
		case FK_BOOL:
			field_text(e, id, 0, text);
			if (text[0] == 't')
				put(&o, "true", 4);
			else
				put(&o, "false", 5);
			break;
		case FK_NUMBER_ARRAY:
		case FK_FOREIGN_STRING_ARRAY:
		case FK_STRING_ARRAY:
			put_array(w, &o, e, id, kind);
			break;
		}
	}
	if (at)
		put(&o, "}", 1);
	put(&o, "}", 1);
	return o.p > o.end ? 0 : (size_t)(o.p - out);
}

/* --- ECS names: nested objects ------------------------------------------ */

#define ECS_NODES_MAX	32	/* objects: event, observer.ingress, ... */
#define ECS_DEPTH_MAX	6	/* the record, then up to 5 levels of objects */
#define ECS_STEPS_MAX	(F_COUNT * ECS_LEAVES_MAX + 1)
/* bit F_COUNT of a mask stands for ecs.version: fields.h asserts room */

/* An object a name sits in; node 0 is the record itself. */
struct ecs_node {
	struct json_key key;	/* ,"name":{ */
	char path[64];		/* "observer.ingress", for ecs_plan_make() */
	unsigned int depth;	/* the record 0, "observer" 1, ... */
	unsigned int up[ECS_DEPTH_MAX];	/* up[d]: its ancestor at depth d */
};

/*
 * One name written, with the field whose value it carries. Small, and its
 * key apart: a record walks every step, and writes few of them.
 */
struct ecs_step {
	const struct ecs_leaf *leaf;
	uint8_t id;		/* enum field_id; F_COUNT: ecs.version (its bit) */
	uint8_t kind;		/* enum field_kind */
	uint8_t node;		/* the object it is in */
	bool same_as_prev;	/* the previous step's name too: one of them */
	bool direct;		/* the field's own number or ASCII text */
};

struct ecs_plan {
	unsigned int n_steps;
	unsigned int n_nodes;
	struct ecs_step steps[ECS_STEPS_MAX];
	struct json_key keys[ECS_STEPS_MAX];	/* ,"leaf": of steps[i] */
	struct ecs_node nodes[ECS_NODES_MAX];
};

/* The value whose text (element 0 of an array) is made already. */
static void ecs_put_value(struct json_writer *w, struct out *o,
			  const struct event *e, const struct ecs_step *s,
			  const char *text, int n)
{
	char more[FIELD_TEXT_MAX];

	switch ((enum field_kind)s->kind) {
	case FK_NUMBER:
		put(o, text, n);
		break;
	case FK_STRING:
		put(o, "\"", 1);
		put(o, text, n);
		put(o, "\"", 1);
		break;
	case FK_FOREIGN_STRING:
		put_foreign(w, o, text, n);
		break;
	case FK_BOOL:
		if (text[0] == 't')
			put(o, "true", 4);
		else
			put(o, "false", 5);
		break;
	case FK_NUMBER_ARRAY:
	case FK_FOREIGN_STRING_ARRAY:
	case FK_STRING_ARRAY:
		put(o, "[", 1);
		for (unsigned int i = 0; n >= 0;
		     n = ecs_text(e, s->id, s->leaf, ++i, more), text = more) {
			if (i)
				put(o, ",", 1);
			if (s->kind == FK_NUMBER_ARRAY) {
				put(o, text, n);
			} else if (s->kind == FK_STRING_ARRAY) {
				put(o, "\"", 1);
				put(o, text, n);
				put(o, "\"", 1);
			} else {
				put_foreign(w, o, text, n);
			}
		}
		put(o, "]", 1);
		break;
	}
}

static size_t ecs_record(const struct ecs_plan *p, struct json_writer *w,
			 const struct event *e, field_mask mask, char *out,
			 size_t size)
{
	struct out o = { out, out + size };
	char text[FIELD_TEXT_MAX];
	unsigned int at = 0;	/* the object open now: nodes[at] */
	bool first = true, prev_written = false;

	mask &= e->present;
	mask |= FIELD_BIT(F_COUNT);	/* ecs.version's */
	put(&o, "{", 1);
	for (unsigned int i = 0; i < p->n_steps; i++) {
		const struct ecs_step *s = &p->steps[i];
		const struct ecs_node *to = &p->nodes[s->node];
		int n;

		if (s->same_as_prev && prev_written)
			continue;
		prev_written = false;
		if (!((mask >> s->id) & 1))
			continue;
		/*
		 * The value first: a leaf with none opens no object. A
		 * field's own number or text always has one, and goes
		 * straight to the output, as in the default schema.
		 */
		n = 0;
		if (!s->direct) {
			n = ecs_text(e, s->id, s->leaf, 0, text);
			if (n < 0)
				continue;
		}
		/* close objects up to the one both paths share ... */
		while (p->nodes[at].depth > to->depth ||
		       to->up[p->nodes[at].depth] != at) {
			put(&o, "}", 1);
			at = p->nodes[at].up[p->nodes[at].depth - 1];
			first = false;
		}
		/* ... and open the ones down to this leaf's */
		while (at != s->node) {
			at = to->up[p->nodes[at].depth + 1];
			put_key(&o, &p->nodes[at].key, first);
			first = true;
		}
		put_key(&o, &p->keys[i], first);
		first = false;
		if (s->direct)
			put_text(&o, e, s->id, s->kind == FK_STRING);
		else
			ecs_put_value(w, &o, e, s, text, n);
		prev_written = true;
	}
	for (; at; at = p->nodes[at].up[p->nodes[at].depth - 1])
		put(&o, "}", 1);
	put(&o, "}", 1);
	return o.p > o.end ? 0 : (size_t)(o.p - out);
}

/* Paths compared name by name, so that an object's names stay together. */
static int path_cmp(const char *a, const char *b)
{
	for (;;) {
		size_t na = strcspn(a, "."), nb = strcspn(b, ".");
		int c = strncmp(a, b, na < nb ? na : nb);

		if (c)
			return c;
		if (na != nb)
			return na < nb ? -1 : 1;
		if (!a[na] || !b[nb])	/* a leaf before an object's names */
			return a[na] ? 1 : b[nb] ? -1 : 0;
		a += na + 1;
		b += nb + 1;
	}
}

static int step_cmp(const void *x, const void *y)
{
	const struct ecs_step *a = x, *b = y;
	int c = path_cmp(a->leaf->path, b->leaf->path);

	/* equal names keep table order: which one the record writes */
	return c ? c : (int)a->id - (int)b->id;
}

/* key becomes ,"name" and then tail; -1 when it does not fit. */
static int make_key(yajl_gen g, struct json_key *key, const char *name,
		    size_t n, const char *tail)
{
	const unsigned char *r;
	size_t len, tlen = strlen(tail);

	if (render_string(g, name, n, &r, &len) ||
	    len + tlen + 1 > sizeof(key->text))
		return -1;
	key->text[0] = ',';
	memcpy(key->text + 1, r, len);
	memcpy(key->text + 1 + len, tail, tlen);
	key->len = len + tlen + 1;
	return 0;
}

/* The node for the object path[0..n), made with its parents if new. */
static int ecs_node(struct ecs_plan *p, yajl_gen g, const char *path,
		    size_t n)
{
	const char *dot;
	struct ecs_node *node;
	int parent;

	if (!n)
		return 0;
	for (unsigned int i = 1; i < p->n_nodes; i++)
		if (strlen(p->nodes[i].path) == n &&
		    !strncmp(p->nodes[i].path, path, n))
			return i;
	dot = memrchr(path, '.', n);
	parent = ecs_node(p, g, path, dot ? (size_t)(dot - path) : 0);
	if (parent < 0 || p->n_nodes == ECS_NODES_MAX ||
	    n >= sizeof(node->path) ||
	    p->nodes[parent].depth + 1 >= ECS_DEPTH_MAX)
		return -1;
	node = &p->nodes[p->n_nodes];
	dot = dot ? dot + 1 : path;
	if (make_key(g, &node->key, dot, path + n - dot, ":{"))
		return -1;
	memcpy(node->path, path, n);
	node->path[n] = '\0';
	node->depth = p->nodes[parent].depth + 1;
	memcpy(node->up, p->nodes[parent].up, sizeof(node->up));
	node->up[node->depth] = p->n_nodes;
	return p->n_nodes++;
}

static void ecs_add_step(struct ecs_plan *p, enum field_id id,
			 const struct ecs_leaf *l)
{
	struct ecs_step *s = &p->steps[p->n_steps++];

	s->leaf = l;
	s->id = id;
	s->kind = id == F_COUNT ? l->kind : ecs_kind(id, l);
	s->direct = l->how == EV_SAME &&
		    (s->kind == FK_NUMBER || s->kind == FK_STRING);
}

/* Every ECS name in the order written, and the objects they sit in. */
static struct ecs_plan *ecs_plan_make(yajl_gen g)
{
	struct ecs_plan *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->n_nodes = 1;		/* the record: depth 0, its own ancestor */
	ecs_add_step(p, F_COUNT, &ecs_version_leaf);
	for (int id = 0; id < F_COUNT; id++)
		for (int k = 0; k < ECS_LEAVES_MAX && field_table[id].ecs[k].path; k++)
			ecs_add_step(p, id, &field_table[id].ecs[k]);
	qsort(p->steps, p->n_steps, sizeof(p->steps[0]), step_cmp);
	for (unsigned int i = 0; i < p->n_steps; i++) {
		struct ecs_step *s = &p->steps[i];
		const char *path = s->leaf->path, *dot = strrchr(path, '.');
		int node = ecs_node(p, g, path, dot ? (size_t)(dot - path) : 0);

		dot = dot ? dot + 1 : path;
		if (node < 0 || make_key(g, &p->keys[i], dot, strlen(dot), ":")) {
			pr_err("cannot make the ECS name %s", path);
			free(p);
			return NULL;
		}
		s->node = node;
		s->same_as_prev = i && !strcmp(path, p->steps[i - 1].leaf->path);
	}
	return p;
}

int json_writer_init(struct json_writer *w, enum field_schema schema)
{
	/* before anything can fail: json_writer_free() frees it */
	w->ecs = NULL;
	w->esc = yajl_gen_alloc(NULL);
	if (!w->esc) {
		pr_err("out of memory");
		return -1;
	}
	yajl_gen_config(w->esc, yajl_gen_validate_utf8, 1);
	/* none kept yet: w may be a stack or reused writer's bytes */
	memset(w->rendered, 0, sizeof(w->rendered));
	w->rendered_next = 0;
	/* ,"name": for every field, rendered by yajl once. */
	memset(w->objs, 0, sizeof(w->objs));
	unsigned int n_objs = 1;
	for (int i = 0; i < F_COUNT; i++) {
		const struct field *f = &field_table[i];
		struct json_key *k = &w->keys[i];
		const char *name = f->name, *dot = strchr(name, '.');
		size_t name_len = f->name_len;
		const unsigned char *r;
		size_t len;

		if (dot) {	/* "flow.start": "start" in object "flow" */
			unsigned int j;

			for (j = 1; j < n_objs; j++)
				if (w->obj_keys[j].len == (size_t)(dot - name) + 5 &&
				    !memcmp(w->obj_keys[j].text + 2, name,
					    dot - name))
					break;
			if (j == n_objs) {
				if (n_objs == sizeof(w->obj_keys) / sizeof(w->obj_keys[0]) ||
				    make_key(w->esc, &w->obj_keys[j], name,
					     dot - name, ":{")) {
					json_writer_free(w);
					pr_err("cannot render the JSON key %s", name);
					return -1;
				}
				n_objs++;
			}
			w->objs[i] = j;
			name = dot + 1;
			name_len -= dot - f->name + 1;
		}
		if (render_string(w->esc, name, name_len, &r, &len) ||
		    len + 2 > sizeof(k->text)) {
			json_writer_free(w);
			pr_err("cannot render the JSON key %s", f->name);
			return -1;
		}
		k->text[0] = ',';
		memcpy(k->text + 1, r, len);
		k->text[len + 1] = ':';
		k->len = len + 2;
		w->kinds[i] = f->kind;
		w->members[i] = f->member;
		w->sizes[i] = f->member_size;
	}
	if (schema == SCHEMA_ECS) {
		w->ecs = ecs_plan_make(w->esc);
		if (!w->ecs) {
			json_writer_free(w);
			return -1;
		}
	}
	return 0;
}

void json_writer_free(struct json_writer *w)
{
	if (w->esc)
		yajl_gen_free(w->esc);
	w->esc = NULL;
	free(w->ecs);
	w->ecs = NULL;
}

/* --- one rendering per record, shared ----------------------------------- */

static struct json_render {
	int users;
	struct json_writer w;
	uint64_t id;		/* sink_record_id() of what buf holds; 0 none */
	field_mask mask;
	size_t len;
	char buf[JSON_RECORD_MAX];
} *render;

int json_render_get(const struct sink_config *cfg)
{
	if (render) {
		render->users++;
		return 0;
	}
	render = calloc(1, sizeof(*render));
	if (!render) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	if (json_writer_init(&render->w, cfg->schema)) {
		free(render);
		render = NULL;
		return -ENOMEM;
	}
	render->users = 1;
	return 0;
}

void json_render_put(void)
{
	if (!render || --render->users)
		return;
	json_writer_free(&render->w);
	free(render);
	render = NULL;
}

int json_render_users(void)
{
	return render ? render->users : 0;
}

struct json_writer *json_render_writer(void)
{
	return &render->w;
}

const char *json_render(const struct event *e, field_mask mask, size_t *len)
{
	uint64_t id = sink_record_id(e);

	if (!id || id != render->id || mask != render->mask) {
		render->len = json_writer_record(&render->w, e, mask, render->buf,
						 sizeof(render->buf));
		render->id = id;
		render->mask = mask;
	}
	*len = render->len;
	return render->buf;
}

/* --- the JSON lines output ------------------------------------------- */

/*
 * Lines go through the file writer (rotate.h) shared with the capture
 * outputs: appended to PATH (never truncated), batched, a failed batch cut
 * off again, SIGHUP keeping what is there.
 */
/*
 * 256 KiB: a batch and the kernel's copy of it (into fresh tmpfs or page
 * cache pages) fit in the L2 cache together, so the next batch is written
 * into lines still cached. With 1 MiB, 1M flow records at exit cost
 * 0.96 s of CPU against 0.80 (tests/bench/flows_export.sh, 3 runs
 * interleaved); a write() per ~1000 lines is still few.
 */
#define JSON_BUF_SIZE	(256 * 1024)

struct json_sink {
	struct capfile c;
	bool tty;		/* a terminal gets each line at once */
};

/* Anything at PATH on SIGHUP is appended to: lines need no header. */
static enum capfile_append json_append(const struct capfile *c,
				       const uint8_t *head, size_t n)
{
	(void)c;
	(void)head;
	(void)n;
	return CAPFILE_CONTINUE;
}

static int json_flush(struct sink *s)
{
	struct json_sink *j = s->priv;

	return capfile_flush(s, &j->c);
}

static int json_write(struct sink *s, const struct event *e)
{
	struct json_sink *j = s->priv;
	uint8_t *out;
	size_t n;

	out = capfile_reserve(s, &j->c, JSON_RECORD_MAX + 1, e->time_ns);
	if (!out) {
		s->failed++;
		return -EIO;
	}
	if (json_render_users() > 1) {
		/* another output sends the same text: render it once */
		const char *r = json_render(e, s->cfg->fields, &n);

		memcpy(out, r, n);
	} else {
		n = json_writer_record(json_render_writer(), e, s->cfg->fields,
				       (char *)out, JSON_RECORD_MAX);
	}
	if (!n) {
		s->failed++;	/* cannot happen with bounded names */
		return -E2BIG;
	}
	out[n++] = '\n';
	capfile_commit(&j->c, n);
	if (j->tty)
		return capfile_push(s, &j->c);
	return 0;
}

/* A stats record: a line like any other (sink.h). */
static int json_write_stats(struct sink *s, const struct event *e,
			    const char *json, size_t len)
{
	struct json_sink *j = s->priv;
	uint8_t *out = capfile_reserve(s, &j->c, len + 1, e->time_ns);

	if (!out) {
		s->failed++;
		return -EIO;
	}
	memcpy(out, json, len);
	out[len] = '\n';
	capfile_commit(&j->c, len + 1);
	if (j->tty)
		return capfile_push(s, &j->c);
	return 0;
}

static int json_open(struct sink *s)
{
	struct json_sink *j = calloc(1, sizeof(*j));
	int err;

	if (!j) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	if (json_render_get(s->cfg)) {
		free(j);
		return -ENOMEM;
	}
	j->c.append_only = true;
	j->c.append = json_append;
	err = capfile_open(s, &j->c, JSON_BUF_SIZE);
	if (err) {
		json_render_put();
		free(j);
		return err;
	}
	j->tty = isatty(j->c.fd);
	s->priv = j;
	return 0;
}

static int json_reopen(struct sink *s)
{
	struct json_sink *j = s->priv;

	return capfile_reopen(s, &j->c);
}

static void json_close(struct sink *s)
{
	struct json_sink *j = s->priv;

	capfile_close(s, &j->c);
	json_render_put();
	free(j);
}

const struct sink_ops json_sink_ops = {
	.name = "json",
	.flags = SINK_FILE,
	.open = json_open,
	.write = json_write,
	.write_stats = json_write_stats,
	.flush = json_flush,
	.reopen = json_reopen,
	.close = json_close,
};
