#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the libFuzzer harnesses with clang (ASan + UBSan, no recovery) and
# run each for a bounded time over its committed corpus. Prints one
# "PASS: name" or "FAIL: name" line per harness and a last line
# "N passed, N failed"; exits non-zero if any harness failed to build or
# found a crash, a leak, a timeout or an out-of-memory.
#
# usage: tests/fuzz/run.sh [SECONDS_EACH] [HARNESS...]
# env:   CLANG (clang), FUZZ_BUILD (./build-fuzz: objects, binaries, logs,
#        the corpus grown by this run, crash inputs), CONFIG_DIR (where a
#        configured build's config.h is; default: the source tree, then
#        the current directory). `make fuzz` sets them.
#
# The committed corpus (tests/fuzz/corpus/NAME) is only read; what a run
# finds goes to FUZZ_BUILD/corpus/NAME. To refresh the seeds after a long
# run: NAME -merge=1 tests/fuzz/corpus/NAME FUZZ_BUILD/corpus/NAME.
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-20}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_lists fuzz_spec fuzz_config fuzz_decode fuzz_strings \
	fuzz_state)
cc=${CLANG:-clang}
out=${FUZZ_BUILD:-$PWD/build-fuzz}
conf=${CONFIG_DIR:-}
if [ -z "$conf" ]; then
	if [ -f "$src/config.h" ]; then conf=$src; else conf=$PWD; fi
fi
if [ ! -f "$conf/config.h" ]; then
	echo "FAIL: fuzz build: no config.h in $conf (run configure, or make fuzz)"
	echo "0 passed, 1 failed"
	exit 1
fi

mkdir -p "$out/obj" "$out/corpus"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-g -O1 -fno-omit-frame-pointer $san -Wall -Wextra -Werror \
-Wno-unused-function -D_GNU_SOURCE -I$src/src -I$src/formats -I$src/bpf \
-I$conf $(pkg-config --cflags yajl libsystemd libpcap rdkafka gnutls relp libbpf 2>/dev/null)"
libs="$(pkg-config --libs yajl libsystemd libpcap rdkafka gnutls relp libbpf) -lm -lpthread"

# What each harness links besides itself.
core="src/lists.c src/ranges.c src/log.c"
formats="$core src/event.c src/fields.c src/clock.c src/community_id.c \
src/sha1.c src/iface.c formats/json.c formats/message.c formats/sink.c \
formats/pcap.c formats/pcapng.c formats/rotate.c formats/journal.c \
formats/syslog.c formats/syslog_fmt.c formats/transport.c formats/kafka.c formats/relp.c \
formats/ipfix.c"
declare -A sources=(
	[fuzz_lists]=$core
	[fuzz_spec]=$core
	[fuzz_config]="$formats src/options.c src/metrics.c src/stats.c src/respond.c src/mapwalk.c"
	[fuzz_decode]=$formats
	[fuzz_strings]=$formats
	[fuzz_state]="$formats src/respond.c src/mapwalk.c"
)
# Inputs long enough for a list line past LIST_LINE_MAX (4096).
declare -A max_len=(
	[fuzz_lists]=12000
	[fuzz_spec]=5000
	[fuzz_config]=6000
	[fuzz_decode]=2048
	[fuzz_strings]=2048
	[fuzz_state]=4096
)

build() {
	local name=$1 objs=() f o
	for f in ${sources[$name]}; do
		o=$out/obj/$(echo "$f" | tr / _).o
		if [ ! -f "$o" ] || [ "$src/$f" -nt "$o" ] ||
		   [ -n "$(find "$src/src" "$src/formats" "$src/bpf" -name '*.h' -newer "$o" 2>/dev/null | head -1)" ]; then
			$cc $cflags -fsanitize=fuzzer-no-link -c "$src/$f" -o "$o" || return 1
		fi
		objs+=("$o")
	done
	$cc $cflags -fsanitize=fuzzer "$src/tests/fuzz/$name.c" "${objs[@]}" \
		$libs -o "$out/$name"
}

pass=0 fail=0
for name in "${harnesses[@]}"; do
	if [ -z "${sources[$name]:-}" ]; then
		echo "FAIL: $name: no such harness"
		fail=$((fail + 1))
		continue
	fi
	log=$out/$name.log
	if ! build "$name" >"$log" 2>&1; then
		echo "FAIL: $name (build)"
		tail -30 "$log"
		fail=$((fail + 1))
		continue
	fi
	mkdir -p "$out/corpus/$name"
	seeds=$src/tests/fuzz/corpus/$name
	# -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a
	# bound on memory, which an unbounded list line would break.
	if "$out/$name" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len="${max_len[$name]}" \
		-print_final_stats=1 -artifact_prefix="$out/$name-" \
		"$out/corpus/$name" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} \
		>>"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		echo "PASS: $name (${runs:-?} runs, ${cov:-cov: ?}, ${secs} s)"
		pass=$((pass + 1))
	else
		echo "FAIL: $name (log: $log)"
		grep -A40 -m1 'ERROR: \|runtime error\|==ERROR\|deadly signal' "$log" | head -60
		ls "$out/$name"-* 2>/dev/null | sed 's/^/  input: /'
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
