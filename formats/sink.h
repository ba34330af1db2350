/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one interface every output implements: open, write, flush, reopen,
 * close. Outputs only format: records arrive decoded (struct event).
 */
#ifndef HDRLOG_SINK_H
#define HDRLOG_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fields.h"

struct event;
struct iface_table;

enum syslog_format {
	SYSLOG_RFC5424,
	SYSLOG_RFC3164,
};

/* --kafka-property may be given this many times. */
#define SINK_KAFKA_PROPS_MAX	64

/* What the command line says about outputs, shared by all of them. */
struct sink_config {
	field_mask fields;		/* FIELD_BIT(enum field_id) to write */
	enum field_schema schema;	/* --schema: JSON records' names */
	const struct iface_table *ifaces;
	uint32_t snaplen;		/* frame bytes records carry */
	uint64_t rotate_bytes;		/* -C: start a new file past this; 0 never */
	uint32_t rotate_seconds;	/* -G: start a new file this often; 0 never */
	uint32_t rotate_count;		/* -W: keep at most this many files; 0 all */
	enum syslog_format syslog_format;
	bool syslog_lf_framing;		/* TCP: newline instead of octet counts */
	bool syslog_cee;		/* "@cee:" before the JSON body */
	/* The Kafka output (formats/kafka.c checks these at open/--check). */
	const char *kafka_key;		/* --kafka-key: a field, "none"; NULL:
					 * community_id */
	uint32_t kafka_queue;		/* --kafka-queue: records; 0 default */
	const char *kafka_props[SINK_KAFKA_PROPS_MAX];	/* "key=value" */
	int n_kafka_props;
	/* syslog:tls:// (transport.c); NULL when not given */
	const char *tls_ca;		/* PEM CAs; NULL: the system's store */
	const char *tls_cert;		/* client certificate chain, PEM */
	const char *tls_key;		/* its key; NULL: in tls_cert's file */
	const char *tls_server_name;	/* verified name; NULL: the host */
	/* The IPFIX output (formats/ipfix.c) */
	uint32_t ipfix_domain;		/* --ipfix-domain: Observation Domain ID */
	uint32_t ipfix_rate;		/* --ipfix-rate: records a second; 0
					 * default */
};

struct sink {
	const struct sink_ops *ops;
	const char *target;	/* what the user named, for messages */
	const struct sink_config *cfg;
	uint64_t records;	/* records handed to it (sink_write()) */
	uint64_t written;	/* records written */
	uint64_t failed;	/* records lost: write errors, full queues */
	uint64_t cut;		/* records shortened to fit (syslog over UDP) */
	uint64_t skipped;	/* records this output has no place for (socket
				 * events in a capture file, packets in IPFIX) */
	uint64_t stats;		/* of records: stats records (--stats-interval) */
	void *priv;		/* the output's own state */
	/* write errors, see sink_write_failed() */
	bool write_failing;
	bool write_worked;
	uint64_t last_fail_ns;
};

/* What an output is, for what is decided before any output is opened. */
enum sink_flags {
	SINK_FILE = 1 << 0,	/* the target is a path; none or "-": stdout */
	SINK_FRAMES = 1 << 1,	/* writes frame bytes: records must carry them */
	SINK_ROTATES = 1 << 2,	/* -C, -G and -W start new files */
};

struct sink_ops {
	const char *name;
	unsigned int flags;	/* enum sink_flags */
	/* Returns 0, or a negative errno with a message already printed. */
	int (*open)(struct sink *s);
	/*
	 * Take one record. Never blocks capture for long: an output that
	 * cannot write counts the loss (s->failed) and goes on.
	 */
	int (*write)(struct sink *s, const struct event *e);
	/*
	 * Take a stats record (--stats-interval): json is its JSON object
	 * (no newline), made once for every output (metrics.c); e says its
	 * time and event_type ("stats"), and no other field. Counted as
	 * any record: written, failed or cut. NULL: the output has no place
	 * for one (pcap, pcapng); it is not handed one and counts nothing.
	 */
	int (*write_stats)(struct sink *s, const struct event *e,
			   const char *json, size_t len);
	/* Push out what is buffered; called at least every 50 ms. */
	int (*flush)(struct sink *s);
	/* SIGHUP: reopen files (log rotation), reconnect sockets. */
	int (*reopen)(struct sink *s);
	void (*close)(struct sink *s);
	/*
	 * --check: whether open() would work, without opening, creating or
	 * sending anything. 0; 1 with a warning printed (it would start,
	 * and lose records until the receiver is there); or a negative
	 * errno with a message. File outputs have none: sink_check() does
	 * what sink_open_file() would.
	 */
	int (*check)(const struct sink *s);
};

/* The output an -o argument names, or NULL with a message. */
const struct sink_ops *sink_type(const char *spec);
/*
 * Every record goes to an output through here, so that for each output
 * records = written + failed + skipped once its queue is written out.
 */
static inline int sink_write(struct sink *s, const struct event *e)
{
	s->records++;
	return s->ops->write(s, e);
}

/*
 * Hand one record to every output, in order. Outputs that send the same
 * rendering of it (the JSON record: json and syslog) make it once for all
 * of them: see sink_record_id() and json_render().
 */
void sink_write_all(struct sink *const *sinks, int n, const struct event *e);
/* A stats record to every output that has a place for one. */
void sink_write_stats_all(struct sink *const *sinks, int n,
			  const struct event *e, const char *json, size_t len);
/*
 * Which record e is while sink_write_all() hands it out: a number that
 * changes with every record, so a rendering made for one output may be
 * reused by the next; 0 for any other event (nothing may be reused).
 */
uint64_t sink_record_id(const struct event *e);

/* What messages call the target: "standard output" for "" and "-". */
const char *sink_target_name(const struct sink *s);
/*
 * The output as messages and the summary name it: "json (standard
 * output)", "pcap:/var/log/x.pcap" (escaped), "journal".
 */
const char *sink_describe(const struct sink *s, char *buf, size_t size);
#define SINK_DESCRIBE_SIZE	1100

/*
 * Set when writing to standard output failed with EPIPE: the reader is
 * gone (hdrlog | head), so the run ends, as tcpdump's does.
 */
extern volatile int sink_stdout_closed;
/*
 * Set by the main loop once capture is over: the exit's sweep of open
 * flows, whatever their reason (shutdown, or fin and rst for those that
 * had ended), and the close follow. An output may wait then, holding up
 * only the exit (the IPFIX output's pace).
 */
extern bool sink_capture_over;
/*
 * Set by a stop signal that comes while hdrlog stops (a second SIGINT or
 * SIGTERM): an output's exit waits (the IPFIX pace, Kafka's and the
 * stream transports' acknowledgements) end at once, counting what is left
 * lost, as their bound does. Written by the main thread's signal handler.
 */
extern volatile int sink_stop_now;
/* Why an output's exit count of what it lost came early, when it did. */
#define SINK_STOP_NOW_WHY	"when a second stop signal ended the wait"
/* An output saw EPIPE on standard output: say so once, end the run. */
void sink_stdout_gone(const struct sink *s);
/* Whether fd is standard output, also when opened as /dev/stdout. */
bool sink_fd_is_stdout(int fd);

/*
 * Open (O_CREAT, mode 0640) an output file for every file output. A
 * symbolic link as the last component is followed unless it sits in a
 * sticky world-writable directory (/tmp) and belongs to neither the
 * caller nor the directory's owner: what fs.protected_symlinks refuses,
 * done here because the sysctl may be off and hdrlog runs as root.
 * Returns the descriptor, or a negative errno; a refused link is
 * explained in a message of its own.
 */
int sink_open_file(const char *path, int flags);

/*
 * A new file at tmp (PATH.tmp, written whole and then renamed over PATH:
 * --respond-state's files, the --metrics file), opened O_WRONLY with
 * mode (less the umask). Whatever was at tmp is removed first, never
 * opened: one that was not a regular file is said, with who (e.g.
 * "--metrics") first; a directory stays (-EISDIR). Returns the
 * descriptor, or a negative errno.
 */
int sink_create_tmp(const char *tmp, mode_t mode, const char *who);

/*
 * --check an -o argument as sink_create() would open it, creating and
 * truncating nothing: a file's directory must exist and take new files,
 * and an existing file (the same symbolic link rule as sink_open_file())
 * must be a regular file or a device that may be written. desc gets what
 * sink_describe() would say (SINK_DESCRIBE_SIZE). Returns as ops->check.
 */
int sink_check(const char *spec, const struct sink_config *cfg, char *desc,
	       size_t size);

/*
 * Create a sink from an -o argument: "json[:PATH]", "pcap:PATH",
 * "pcapng:PATH", "journal", "syslog[:URL]", "kafka://BROKERS/TOPIC",
 * "ipfix://HOST[:PORT]". cfg must outlive the sink.
 * Returns NULL with a message printed and errno set on error: EINVAL
 * for an argument that is wrong in itself (a bad command line).
 */
struct sink *sink_create(const char *spec, const struct sink_config *cfg);
/* Write out and close; the counts stay readable until sink_destroy(). */
void sink_close(struct sink *s);
void sink_destroy(struct sink *s);

/*
 * Write errors of file outputs, one message each time they start and end.
 * "works again" comes only after a second without errors: on a nearly
 * full disk small writes fit and big ones fail, and each would print.
 * what names the file.
 */
void sink_write_failed(struct sink *s, const char *what, int err);
void sink_write_worked(struct sink *s, const char *what, bool wrote);

#endif
