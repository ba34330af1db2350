// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flow_race PROG_ID FLOWS REPEAT: run the XDP program PROG_ID
 * (BPF_PROG_RUN) on FLOWS different UDP frames 203.0.113.10:1024+i ->
 * 203.0.113.30:9, REPEAT times each, from two threads on two CPUs in
 * step: both wait at a spinning barrier before each frame, so that both
 * CPUs make the same new flow within the same microseconds (the race
 * test_flows.py checks for: a flow's records add up to what was run).
 * A spinning barrier, not a blocking one: a thread woken by the kernel
 * comes microseconds after the other, and the insert is over by then.
 * Exit 0 when every run was made; 2 on bad arguments; 1 otherwise.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "udp4_frame.h"

#define FRAME_LEN	UDP4_FRAME_LEN

static int prog_fd;
static uint32_t flows, repeat;
static unsigned int arrived;	/* the barrier: threads that reached it */
static int failed;

static void make_frame(uint8_t *f, uint32_t i)
{
	const uint8_t src[4] = { 203, 0, 113, 10 };
	const uint8_t dst[4] = { 203, 0, 113, 30 + i / 60000 };

	udp4_frame(f, src, dst, 1024 + i % 60000, 9);
}

/* Both threads here before either goes on; generation g counts them. */
static void barrier(unsigned int g)
{
	__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&arrived, __ATOMIC_ACQUIRE) < 2 * g &&
	       !__atomic_load_n(&failed, __ATOMIC_RELAXED))
		;
}

static void *run(void *arg)
{
	cpu_set_t set;
	uint8_t f[FRAME_LEN];

	CPU_ZERO(&set);
	CPU_SET((int)(intptr_t)arg, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "flow_race: not pinned to CPU %d\n",
			(int)(intptr_t)arg);
	for (uint32_t i = 0; i < flows; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
			    .data_size_in = FRAME_LEN, .repeat = repeat);

		make_frame(f, i);
		barrier(i + 1);
		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			perror("flow_race: BPF_PROG_RUN");
			__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	int cpus[2], n = 0;
	cpu_set_t set;

	if (argc != 4 || !(flows = strtoul(argv[2], NULL, 10)) ||
	    !(repeat = strtoul(argv[3], NULL, 10))) {
		fprintf(stderr, "usage: flow_race PROG_ID FLOWS REPEAT\n");
		return 2;
	}
	prog_fd = bpf_prog_get_fd_by_id(strtoul(argv[1], NULL, 10));
	if (prog_fd < 0) {
		perror("flow_race: program");
		return 1;
	}
	/* the first two CPUs this process may use */
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	if (n < 2) {
		fprintf(stderr, "flow_race: one CPU\n");
		return 1;
	}
	for (int k = 0; k < 2; k++)
		if (pthread_create(&t[k], NULL, run, (void *)(intptr_t)cpus[k]))
			return 1;
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	return failed;
}
