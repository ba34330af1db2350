/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Named CIDR lists: read from files, merged into one set of prefixes whose
 * value is the mask of every list covering that prefix. ranges.h cuts
 * them into the kernel's tables.
 */
#ifndef HDRLOG_LISTS_H
#define HDRLOG_LISTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_LISTS	64	/* one bit each in a 64-bit mask */
#define LIST_NAME_MAX	64
#define LIST_PATH_MAX	4096
/*
 * The longest line of a list file, '\r' included, '\n' not: far longer
 * than any address with a comment, short enough that a file that is no
 * list cannot fill memory one line at a time.
 */
#define LIST_LINE_MAX	4096

enum list_kind {
	LIST_BLOCK,
	LIST_TAG,
	LIST_ALLOW,
};

/* A list as named on the command line. */
struct list_spec {
	char name[LIST_NAME_MAX];
	char path[LIST_PATH_MAX];	/* a copy: ":any" is cut off arg */
	enum list_kind kind;
	bool any;		/* block list: also drop on a destination match */
};

/*
 * A prefix and the lists covering it, in host order with its host bits
 * clear. mask has bit i set for list i and for every list of a shorter
 * prefix covering this one, so the longest match carries them all.
 */
struct entry_v4 {
	uint32_t addr;
	uint32_t len;
	uint64_t mask;
};

struct entry_v6 {
	uint64_t hi, lo;	/* the address's first and last 8 bytes */
	uint64_t mask;
	uint32_t len;
};

struct list_set {
	int n_lists;
	struct list_spec lists[MAX_LISTS];	/* bit i of a mask is lists[i] */
	uint8_t by_name[MAX_LISTS];		/* list indices sorted by name */
	struct entry_v4 *v4;			/* sorted, one per distinct prefix */
	size_t n_v4;
	struct entry_v6 *v6;
	size_t n_v6;
};

/*
 * Parse "[NAME=]FILE" (and ":any" at the end for a block list) into *spec.
 * NAME defaults to FILE's base name without its extension. Returns 0, or
 * -1 with a message printed.
 */
/* "block", "tag" or "allow". */
const char *list_kind_name(enum list_kind kind);
int list_spec_parse(struct list_spec *spec, enum list_kind kind,
		    const char *arg);

/* list_set_load() gave up because *stop was set; no message printed. */
#define LIST_LOAD_STOPPED	(-2)

/*
 * Read every list's file and build the merged set. Only regular files are
 * read. A bad line (unparsable, longer than LIST_LINE_MAX, or holding a
 * NUL) is an error that names file:line and the text; nothing is
 * half-built on error. *set is overwritten (free a loaded one first) and
 * is always left freeable. stop, if not NULL, is looked at before each
 * read of at most 1 MiB: once it is non-zero the load stops with
 * LIST_LOAD_STOPPED, so a signal handler's flag ends a long read quickly.
 * Returns 0, LIST_LOAD_STOPPED, or -1 with a message printed.
 */
int list_set_load(struct list_set *set, const struct list_spec *specs,
		  int n_specs, const volatile sig_atomic_t *stop);

void list_set_free(struct list_set *set);

/* The names of the lists in mask, sorted by name, for a record. */
int list_set_names(const struct list_set *set, uint64_t mask,
		   const char **names, int max);

#endif
