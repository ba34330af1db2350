# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The host's verdict on a guest's TAP, shared by run.sh and boot-root.sh
# (both source this file). A guest passes only if it printed its plan
# (1..N), N results numbered 1..N, no `not ok`, and the final
# HDRLOG-VM-DONE line, and was not killed by timeout.

# tap_judge LOG STATUS TIMEOUT: STATUS is timeout(1)'s exit status for the
# guest. Sets TAP_RESULTS (the result lines), TAP_PASSED, TAP_FAILED
# (failures plus missing results), TAP_SKIPPED and TAP_PROBLEMS (array).
tap_judge() {
	local log=$1 qrc=$2 timeout=$3 plan done_line total failed missing want got
	TAP_RESULTS=$(grep -E '^(not )?ok [0-9]+( |$)' "$log")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$log" | tail -1)
	done_line=$(grep '^HDRLOG-VM-DONE' "$log" | tail -1)
	total=$(printf '%s\n' "$TAP_RESULTS" | grep -c .)
	failed=$(printf '%s\n' "$TAP_RESULTS" | grep -c '^not ok')
	TAP_SKIPPED=$(printf '%s\n' "$TAP_RESULTS" | grep -ci '^ok [0-9]* [^#]*# *skip')
	TAP_PASSED=$((total - failed - TAP_SKIPPED))
	TAP_PROBLEMS=()
	[ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ] &&
		TAP_PROBLEMS+=("the guest was killed after ${timeout}s")
	[ -n "$done_line" ] ||
		TAP_PROBLEMS+=("the guest did not finish (no HDRLOG-VM-DONE line)")
	if [ -z "$plan" ]; then
		TAP_PROBLEMS+=("no TAP plan from the guest")
	elif [ "$total" -ne "$plan" ]; then
		TAP_PROBLEMS+=("plan 1..$plan but $total results")
	elif [ "$total" -gt 0 ]; then
		want=$(seq 1 "$plan" | tr '\n' ' ')
		got=$(printf '%s\n' "$TAP_RESULTS" |
			sed 's/^\(not \)\{0,1\}ok \([0-9]*\).*/\2/' | tr '\n' ' ')
		[ "$want" = "$got" ] || TAP_PROBLEMS+=("results not numbered 1..$plan")
	fi
	missing=$(( ${plan:-0} > total ? ${plan:-0} - total : 0 ))
	# a problem with nothing failed or missing still counts as a failure
	[ ${#TAP_PROBLEMS[@]} -gt 0 ] && [ "$failed" -eq 0 ] && [ "$missing" -eq 0 ] &&
		missing=1
	TAP_FAILED=$((failed + missing))
}

# tap_summary: the failed results, the problems and "P passed, F failed,
# S skipped"; succeeds only if tap_judge found nothing wrong.
tap_summary() {
	local p
	printf '%s\n' "$TAP_RESULTS" | grep '^not ok' | sed 's/^/FAIL: /'
	for p in "${TAP_PROBLEMS[@]}"; do echo "problem: $p"; done
	echo "$TAP_PASSED passed, $TAP_FAILED failed, $TAP_SKIPPED skipped"
	[ ${#TAP_PROBLEMS[@]} -eq 0 ] && [ "$TAP_FAILED" -eq 0 ]
}
