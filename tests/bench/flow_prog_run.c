// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flow_prog_run PROG_ID FLOWS: the kernel's cost per frame of an XDP
 * program over FLOWS distinct UDP flows (198.51.100.0/24 sources times
 * source ports, to 198.51.100.1:53), by BPF_PROG_RUN, one run a frame
 * (the kernel times each run; the syscall is not in the figure). Three
 * passes: every flow's first frame (a new flow each), then every flow
 * again in the same order (a known flow; in order, as a replayed capture
 * brings them), then again in a shuffled order. Prints "new N
 * known-inorder N known-random N", mean ns a frame of each pass.
 * Built and run by flow_table_cost.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "udp4_frame.h"

#define FRAME_LEN	UDP4_FRAME_LEN

static void make_frame(uint8_t *f, uint32_t i)
{
	const uint8_t src[4] = { 198, 51, 100, 2 + i % 253 };
	const uint8_t dst[4] = { 198, 51, 100, 1 };

	udp4_frame(f, src, dst, 1024 + i / 253, 53);
}

int main(int argc, char **argv)
{
	static const char *const pass_name[] = {
		"new", "known-inorder", "known-random"
	};
	uint64_t x = 88172645463325252ull;
	uint32_t n, *order;
	uint8_t f[FRAME_LEN];
	int fd;

	if (argc != 3 || !(n = strtoul(argv[2], NULL, 10)) ||
	    n > 253u * 64512) {
		fprintf(stderr, "usage: flow_prog_run PROG_ID FLOWS (at most %u)\n",
			253u * 64512);
		return 2;
	}
	fd = bpf_prog_get_fd_by_id(strtoul(argv[1], NULL, 10));
	order = malloc(n * sizeof(*order));
	if (fd < 0 || !order) {
		perror("flow_prog_run");
		return 1;
	}
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	for (int pass = 0; pass < 3; pass++) {
		uint64_t sum = 0;

		if (pass == 2)	/* Fisher-Yates, xorshift64 */
			for (uint32_t i = n - 1; i > 0; i--) {
				uint32_t j, t;

				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				j = x % (i + 1);
				t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		for (uint32_t q = 0; q < n; q++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
				    .data_size_in = FRAME_LEN, .repeat = 1);

			make_frame(f, order[q]);
			if (bpf_prog_test_run_opts(fd, &o)) {
				perror("flow_prog_run: BPF_PROG_RUN");
				return 1;
			}
			sum += o.duration;
		}
		printf("%s%s %.1f", pass ? " " : "", pass_name[pass],
		       (double)sum / n);
	}
	printf("\n");
	return 0;
}
