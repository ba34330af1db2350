// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Dynamic blocks (src/respond.c) through its public API, with real BPF
 * maps (created here: no hdrlog program is loaded, and the block filter
 * is an array of the test's) and a clock the test moves: blocks go in as
 * hdrlog puts them there at start, from a --respond-state file, and
 * respond_poll() is called at the times the test picks.
 *
 * - expiry takes out exactly the expired blocks, each with an unblock
 *   record, and at shutdown every block left;
 * - the block filter: never a bit cleared for a live block; made again
 *   at most once a second, and not at all above 16384 blocks (it was
 *   made again after every poll that took a block out);
 * - a source that crosses a policy after its block ended but before the
 *   sweep took it out is blocked again (it was answered "already" and
 *   went unblocked until its next window);
 * - a state file write that failed is tried again a second later (the
 *   blocks were not written until they changed again);
 * - --blocks with 32 long policy names and 20-digit counts keeps room
 *   for the whole drops table;
 * - the kernel's notice thresholds: the lowest distinct ones, ascending.
 *
 * Creating maps needs CAP_BPF (root): without it the tests are skipped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "respond.h"

#define SCRATCH_NAME "respond-blocks"
#include "scratch.h"

#define NS		1000000000ull
#define MS		1000000ull
#define GOT_MAX		64

static const struct clock_map clk;	/* times are compared, not shown */
static const struct decode_ctx ctx = { .clock = &clk };

struct got {
	enum event_type type;
	enum respond_result result;
	uint8_t ip[16];
};

static struct got got[GOT_MAX];
static int n_got;

static void emit(void *arg, struct event *e)
{
	(void)arg;
	if (n_got < GOT_MAX) {
		got[n_got].type = e->event_type;
		got[n_got].result = e->respond.result;
		memcpy(got[n_got].ip, e->src_ip, 16);
	}
	n_got++;
}

struct rig {
	struct respond_config c;
	struct respond_fds fds;
	__u64 filter[HDRLOG_BLOCK_FILTER_WORDS];
	struct respond *r;
	char state[128];
	uint64_t t0;		/* clock_mono_ns() just after the load */
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The maps, the config (conf_extra before its policy), r. */
static void rig_up(struct rig *g, const char *conf_extra, bool load_state)
{
	char conf[128], text[4096];

	memset(g, 0, sizeof(*g));
	g->fds.blocks = bpf_map_create(BPF_MAP_TYPE_HASH, "t_blocks",
				       sizeof(struct hdrlog_src_key),
				       sizeof(struct hdrlog_block), 65536, NULL);
	if (g->fds.blocks < 0 && (errno == EPERM || errno == EACCES))
		skip();		/* not root: no maps */
	assert_true(g->fds.blocks >= 0);
	g->fds.sources = bpf_map_create(BPF_MAP_TYPE_HASH, "t_sources",
					sizeof(struct hdrlog_src_key),
					sizeof(struct hdrlog_src), 1024, NULL);
	g->fds.hot = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "t_hot", 0, 0,
				    sysconf(_SC_PAGESIZE), NULL);
	g->fds.counters = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "t_ctrs",
					 sizeof(__u32),
					 sizeof(struct hdrlog_respond_counters),
					 1, NULL);
	assert_true(g->fds.sources >= 0 && g->fds.hot >= 0 &&
		    g->fds.counters >= 0);
	g->fds.block_filter = g->filter;
	snprintf(conf, sizeof(conf), "%s/respond.conf", scratch_dir);
	snprintf(text, sizeof(text), "max-blocks = 65536\n%s"
		 "[policy syn-flood]\ndetector = syn\nthreshold = 100/s\n"
		 "action = block\nttl = 60s\n", conf_extra);
	write_file(conf, text);
	assert_int_equal(respond_config_load(&g->c, conf), 0);
	assert_int_equal(respond_config_bind(&g->c, NULL, 0), 0);
	g->r = respond_new(&g->c, &g->fds, false);
	assert_non_null(g->r);
	snprintf(g->state, sizeof(g->state), "%s/blocks.state", scratch_dir);
	n_got = 0;
	if (load_state)
		assert_int_equal(respond_state_load(g->r, g->state, &ctx, emit,
						    NULL), 0);
	g->t0 = clock_mono_ns();
}

/*
 * Send h on the hot ring as the kernel does: a ring buffer takes no
 * writes from userspace, so a small program (run once by BPF_PROG_RUN)
 * copies h from an array into it with bpf_ringbuf_output().
 */
static void hot_send(struct rig *g, const struct hdrlog_hot *h)
{
	__u32 zero = 0;
	int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_hot_in", sizeof(__u32),
				 sizeof(*h), 1, NULL);
	struct bpf_insn prog[] = {
		/* *(u32 *)(r10 - 4) = 0; r0 = lookup(arr, r10 - 4) */
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10,
		  .off = -4 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = arr }, { 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2,
		  .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2,
		  .imm = -4 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		/* if (!r0) return 1 */
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0,
		  .off = 7 },
		/* return bpf_ringbuf_output(hot, r0, sizeof(*h), 0) */
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = g->fds.hot }, { 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2,
		  .src_reg = BPF_REG_0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3,
		  .imm = sizeof(*h) },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_ringbuf_output },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char frame[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame,
		    .data_size_in = sizeof(frame));
	int fd;

	assert_true(arr >= 0);
	assert_int_equal(bpf_map_update_elem(arr, &zero, h, BPF_ANY), 0);
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "t_hot_send", "GPL",
			   prog, sizeof(prog) / sizeof(prog[0]), NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_prog_test_run_opts(fd, &run), 0);
	assert_int_equal(run.retval, 0);	/* in the ring */
	close(fd);
	close(arr);
}

static void rig_down(struct rig *g)
{
	char tmp[160];

	respond_free(g->r);
	close(g->fds.blocks);
	close(g->fds.sources);
	close(g->fds.hot);
	close(g->fds.counters);
	unlink(g->state);
	snprintf(tmp, sizeof(tmp), "%s.tmp", g->state);
	rmdir(tmp);
}

static struct hdrlog_src_key key4(const char *a)
{
	struct hdrlog_src_key k = { .ip_v = 4 };

	assert_int_equal(inet_pton(AF_INET, a, k.addr), 1);
	return k;
}

static bool bit_set(const struct rig *g, const struct hdrlog_src_key *k)
{
	__u32 bit = hdrlog_block_filter_bit(k);

	return g->filter[bit >> 6] >> (bit & 63) & 1;
}

static bool in_list(const struct rig *g, const struct hdrlog_src_key *k,
		    struct hdrlog_block *b)
{
	return !bpf_map_lookup_elem(g->fds.blocks, k, b);
}

static void poll_at(struct rig *g, uint64_t ns_after_t0, bool shutdown)
{
	respond_poll(g->r, g->t0 + ns_after_t0, shutdown, &ctx, emit, NULL);
}

/* A state file's line for IPv4 a, ending at unix time ns (to the ms). */
static void saved_block(FILE *f, const char *a, uint64_t ns)
{
	fprintf(f, "%s/32 syn-flood %llu.%03llu syn\n", a,
		(unsigned long long)(ns / NS),
		(unsigned long long)(ns % NS / MS));
}

/*
 * 10 live blocks and two that expire about 2 s and 2.5 s after t0 (the
 * file's times less the load), each key on a filter bit of its own.
 */
#define LIVE	10
static void test_expire_and_filter(void **state)
{
	struct hdrlog_src_key live[LIVE], e1, e2, *all[LIVE + 2];
	char a[LIVE + 2][32];
	uint64_t real = clock_real_ns();
	struct hdrlog_block b;
	struct rig g;
	FILE *f;
	int n = 0;

	(void)state;
	for (int i = 0; i < LIVE; i++)
		all[i] = &live[i];
	all[LIVE] = &e1;
	all[LIVE + 1] = &e2;
	for (int i = 1; n < LIVE + 2; i++) {
		bool shared = false;

		assert_true(i < 255);
		snprintf(a[n], sizeof(a[n]), "198.51.100.%d", i);
		*all[n] = key4(a[n]);
		for (int j = 0; j < n; j++)
			shared |= hdrlog_block_filter_bit(all[j]) ==
				  hdrlog_block_filter_bit(all[n]);
		n += !shared;
	}
	snprintf(g.state, sizeof(g.state), "%s/blocks.state", scratch_dir);
	f = fopen(g.state, "w");
	assert_non_null(f);
	for (int i = 0; i < LIVE; i++)
		saved_block(f, a[i], real + 3600 * NS);
	saved_block(f, a[LIVE], real + 2000 * MS);
	saved_block(f, a[LIVE + 1], real + 2500 * MS);
	fclose(f);
	rig_up(&g, "", true);
	assert_int_equal(n_got, 0);
	for (int i = 0; i < LIVE + 2; i++)
		assert_true(bit_set(&g, all[i]));

	poll_at(&g, 100 * MS, false);		/* nothing due */
	assert_int_equal(n_got, 0);

	/* e1 has expired, e2 not yet: e1 out, and its bit cleared */
	poll_at(&g, 2100 * MS, false);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].type, EVENT_UNBLOCK);
	assert_int_equal(got[0].result, RESULT_EXPIRED);
	assert_memory_equal(got[0].ip, e1.addr, 4);
	assert_false(in_list(&g, &e1, &b));
	assert_false(bit_set(&g, &e1));
	for (int i = 0; i < LIVE; i++)
		assert_true(in_list(&g, &live[i], &b) && bit_set(&g, &live[i]));

	/* e2 out; the filter not made again within a second: its bit stays */
	poll_at(&g, 2600 * MS, false);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].result, RESULT_EXPIRED);
	assert_memory_equal(got[1].ip, e2.addr, 4);
	assert_false(in_list(&g, &e2, &b));
	assert_true(bit_set(&g, &e2));
	for (int i = 0; i < LIVE; i++)
		assert_true(bit_set(&g, &live[i]));

	/* a second after the last: made again without it */
	poll_at(&g, 3200 * MS, false);
	assert_int_equal(n_got, 2);
	assert_false(bit_set(&g, &e2));
	for (int i = 0; i < LIVE; i++)
		assert_true(in_list(&g, &live[i], &b) && bit_set(&g, &live[i]));

	/* shutdown: every block left, each with an unblock record */
	poll_at(&g, 3300 * MS, true);
	assert_int_equal(n_got, 2 + LIVE);
	for (int i = 2; i < n_got; i++)
		assert_int_equal(got[i].result, RESULT_SHUTDOWN);
	for (int i = 0; i < LIVE; i++)
		assert_false(in_list(&g, &live[i], &b));
	rig_down(&g);
}

/*
 * 20,000 blocks: nearly every filter bit is set; a block's end does not
 * make the filter again (a walk of the whole list for under 1% of bits).
 */
static void test_filter_not_rebuilt_when_full(void **state)
{
	__u64 want[HDRLOG_BLOCK_FILTER_WORDS] = { 0 };
	uint64_t real = clock_real_ns() / NS;
	uint32_t x = 2463534242u;
	int clear = 0;
	struct rig g;
	FILE *f;

	(void)state;
	snprintf(g.state, sizeof(g.state), "%s/blocks.state", scratch_dir);
	f = fopen(g.state, "w");
	assert_non_null(f);
	for (int i = 0; i < 20000; i++) {
		struct hdrlog_src_key k = { .ip_v = 6 };
		__u32 bit;

		/* not consecutive: Fibonacci hashing spreads those evenly */
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		fprintf(f, "2001:db8:%x:%x::/64 syn-flood %llu.000 syn\n",
			x >> 16, x & 0xffff,
			(unsigned long long)real + (i == 77 ? 2 : 3600));
		k.addr[0] = htonl(0x20010db8);
		k.addr[1] = htonl(x);
		bit = hdrlog_block_filter_bit(&k);
		if (i != 77)
			want[bit >> 6] |= 1ULL << (bit & 63);
	}
	fclose(f);
	for (int i = 0; i < HDRLOG_BLOCK_FILTER_WORDS; i++)
		clear += want[i] != ~0ULL;
	assert_true(clear > 0);		/* or the test could not tell */
	rig_up(&g, "", true);
	/* a rebuild would clear the bits no block has (about 30) */
	memset(g.filter, 0xff, sizeof(g.filter));
	poll_at(&g, 2100 * MS, false);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].result, RESULT_EXPIRED);
	poll_at(&g, 3200 * MS, false);
	for (int i = 0; i < HDRLOG_BLOCK_FILTER_WORDS; i++)
		assert_true(g.filter[i] == ~0ULL);
	rig_down(&g);
}

/*
 * A block that has ended, not yet taken out (the sweep is every 100 ms,
 * and judging comes first in a poll), and its source floods again: an
 * unblock record for the old block, then a new block.
 */
static void test_lapsed_block_replaced(void **state)
{
	struct hdrlog_src_key k = key4("203.0.113.9");
	uint64_t real = clock_real_ns() / NS, now;
	struct hdrlog_src s = { 0 };
	struct hdrlog_hot h = { .key = k, .measure = HDRLOG_M_SYNS };
	struct hdrlog_block b;
	struct rig g;
	char text[128];

	(void)state;
	snprintf(g.state, sizeof(g.state), "%s/blocks.state", scratch_dir);
	snprintf(text, sizeof(text), "203.0.113.9/32 syn-flood %llu.000 syn\n",
		 (unsigned long long)real + 2);
	write_file(g.state, text);
	rig_up(&g, "", true);
	poll_at(&g, 100 * MS, false);		/* the last sweep: 100 ms */
	assert_int_equal(n_got, 0);

	now = g.t0 + 2050 * MS;		/* past its end, 1.95 s after the sweep */
	s.window = h.window = now / NS;		/* window = 1s */
	s.cur.n[HDRLOG_M_SYNS] = 1000;
	assert_int_equal(bpf_map_update_elem(g.fds.sources, &k, &s, BPF_ANY), 0);
	hot_send(&g, &h);
	respond_poll(g.r, now, false, &ctx, emit, NULL);

	assert_int_equal(n_got, 3);
	assert_int_equal(got[0].type, EVENT_UNBLOCK);
	assert_int_equal(got[0].result, RESULT_EXPIRED);
	assert_int_equal(got[1].type, EVENT_ALERT);
	assert_int_equal(got[1].result, RESULT_BLOCKED);
	assert_int_equal(got[2].type, EVENT_BLOCK);
	assert_true(in_list(&g, &k, &b));
	assert_true(b.expires_ns == now + 60 * NS);
	assert_true(bit_set(&g, &k));
	rig_down(&g);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* FILE.tmp a directory: the write fails; once it can, a second on, it is made. */
static void test_state_write_retried(void **state)
{
	char tmp[160];
	struct rig g;
	uint64_t t;

	(void)state;
	rig_up(&g, "", false);
	snprintf(tmp, sizeof(tmp), "%s.tmp", g.state);
	assert_int_equal(mkdir(tmp, 0700), 0);
	/* no file: an empty one, and written at once */
	assert_int_equal(respond_state_load(g.r, g.state, &ctx, emit, NULL), 0);
	t = clock_mono_ns();
	respond_state_save(g.r, t, false, &ctx);
	assert_false(exists(g.state));
	assert_int_equal(rmdir(tmp), 0);
	respond_state_save(g.r, t + 500 * MS, false, &ctx);
	assert_false(exists(g.state));		/* not more than once a second */
	respond_state_save(g.r, t + 1100 * MS, false, &ctx);
	assert_true(exists(g.state));
	rig_down(&g);
}

/*
 * --blocks: 32 policies named with 31 characters and 20-digit drop
 * counts, and more blocks than the reply holds: the rows that fit, then
 * the summary and every policy's row of the drops table whole.
 */
static void test_blocks_text_reserve(void **state)
{
	static char text[65536];
	char extra[16384] = "", name[40], conf[128], row[160];
	int ncpu = libbpf_num_possible_cpus();
	struct hdrlog_respond_counters *pc;
	uint64_t real = clock_real_ns() / NS;
	size_t len = 0, n;
	__u32 zero = 0;
	struct rig g;
	FILE *f;

	(void)state;
	assert_true(ncpu > 0);
	snprintf(g.state, sizeof(g.state), "%s/blocks.state", scratch_dir);
	f = fopen(g.state, "w");
	assert_non_null(f);
	for (int i = 0; i < 2000; i++)
		fprintf(f, "2001:db8:%x:%x::/64 syn-flood %llu.000 syn\n",
			i >> 8, i & 0xff, (unsigned long long)real + 3600);
	fclose(f);
	for (int p = 0; p < HDRLOG_RESPOND_POLICIES - 1; p++)
		len += snprintf(extra + len, sizeof(extra) - len,
				"[policy p%02d-a-long-policy-name-of-31ch]\n"
				"detector = syn\nthreshold = 100/s\n", p);
	/* the policies go after the globals: the rig's config is reread */
	rig_up(&g, "", false);
	respond_free(g.r);
	snprintf(conf, sizeof(conf), "%s/respond.conf", scratch_dir);
	f = fopen(conf, "a");
	assert_non_null(f);
	fputs(extra, f);
	fclose(f);
	assert_int_equal(respond_config_load(&g.c, conf), 0);
	assert_int_equal(g.c.n_policies, HDRLOG_RESPOND_POLICIES);
	assert_int_equal(respond_config_bind(&g.c, NULL, 0), 0);
	g.r = respond_new(&g.c, &g.fds, false);
	assert_non_null(g.r);
	assert_int_equal(respond_state_load(g.r, g.state, &ctx, emit, NULL), 0);

	pc = calloc(ncpu, sizeof(*pc));
	assert_non_null(pc);
	for (int p = 0; p < HDRLOG_RESPOND_POLICIES; p++)
		pc[0].dropped[p] = 12345678901234567890ull;
	assert_int_equal(bpf_map_update_elem(g.fds.counters, &zero, pc, 0), 0);
	free(pc);

	n = respond_blocks_text(g.r, clock_mono_ns(), text, sizeof(text));
	assert_true(n < sizeof(text));
	assert_non_null(strstr(text, "2000 active blocks"));
	assert_non_null(strstr(text, "... and "));
	for (int p = 0; p < HDRLOG_RESPOND_POLICIES - 1; p++) {
		snprintf(name, sizeof(name), "p%02d-a-long-policy-name-of-31ch", p);
		snprintf(row, sizeof(row), "\n%-20s %8d %8d %8d %12s\n", name,
			 0, 0, 0, "12345678901234567890");
		assert_non_null(strstr(text, row));
	}
	rig_down(&g);
}

/*
 * The kernel's notice thresholds (hot_at): per measure the lowest
 * distinct ones, ascending, 0 after them; the kernel stops at the first
 * it is below or at a 0, so an unsorted or repeated one would leave a
 * policy to the 50 ms poll.
 */
static void test_hot_levels(void **state)
{
	char conf[128];
	struct respond_config c;
	static const uint64_t pkts[HDRLOG_HOT_LEVELS] = { 100, 500, 1000, 2000 };

	(void)state;
	snprintf(conf, sizeof(conf), "%s/levels.conf", scratch_dir);
	write_file(conf,
		   "window = 1s\n"
		   "[policy a]\ndetector = packet-rate\nthreshold = 1000/s\n"
		   "[policy b]\ndetector = baseline\nmin = 100/s\n"
		   "[policy c]\ndetector = packet-rate\nthreshold = 1000/s\n"
		   "[policy d]\ndetector = packet-rate\nthreshold = 5000/s\n"
		   "[policy e]\ndetector = packet-rate\nthreshold = 2000/s\n"
		   "[policy f]\ndetector = packet-rate\nthreshold = 500/s\n"
		   "[policy g]\ndetector = syn\nthreshold = 200/s\n");
	assert_int_equal(respond_config_load(&c, conf), 0);
	assert_int_equal(respond_config_bind(&c, NULL, 0), 0);
	/* 5000 is the fifth: judged by the poll of the watched source */
	assert_memory_equal(c.hot_at[HDRLOG_M_PKTS], pkts, sizeof(pkts));
	assert_true(c.hot_at[HDRLOG_M_SYNS][0] == 200 &&
		    !c.hot_at[HDRLOG_M_SYNS][1]);
	assert_true(!c.hot_at[HDRLOG_M_BYTES][0] &&
		    !c.hot_at[HDRLOG_M_PORT_BITS][0]);
	unlink(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expire_and_filter),
		cmocka_unit_test(test_filter_not_rebuilt_when_full),
		cmocka_unit_test(test_lapsed_block_replaced),
		cmocka_unit_test(test_state_write_retried),
		cmocka_unit_test(test_blocks_text_reserve),
		cmocka_unit_test(test_hot_levels),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
