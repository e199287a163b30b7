# shellcheck shell=bash disable=SC2034,SC2154 # sets wrk_* for the sourcing script; $work is from caddy_process.sh
# Sourced by the benchmark scripts (after caddy_process.sh): one wrk run and
# its numbers, and the median of several.
#
#   wrk_run WRK-ARGUMENTS...   # sets wrk_requests, wrk_seconds, wrk_rps, wrk_busy; fails on any response >= 400
#   median NUMBERS...
#
# wrk runs in the background, recorded for the cleanup, pinned to $wrk_cpu
# when set; its whole output is in $wrk_output. wrk_busy is the % of one CPU
# that wrk used: near 100, the client, not the server, set the pace.
wrk_run() {
	local pin=() pid socket_errors non2xx
	if [[ -n ${wrk_cpu:-} ]]; then pin=(taskset -c "$wrk_cpu"); fi
	wrk_output="$work/wrk.out"
	# `times` in this shell: the CPU time of its waited-for children, wrk
	# alone between these two calls.
	times >"$work/times.before"
	"${pin[@]}" wrk "$@" >"$wrk_output" 2>&1 &
	pid=$!
	track_pid "$pid"
	if ! wait "$pid"; then
		cat "$wrk_output" >&2
		return 1
	fi
	times >"$work/times.after"
	# "  123456 requests in 8.00s, 12.34MB read" (or "in 1.00m,")
	read -r wrk_requests wrk_seconds < <(awk '/ requests in / {
		t = $4; sub(/,$/, "", t); f = (t ~ /m$/) ? 60 : 1; sub(/[ms]+$/, "", t); print $1, t * f
	}' "$wrk_output")
	wrk_rps=$(awk '/^Requests\/sec:/ {print $2}' "$wrk_output")
	# The second line of `times`: children's user and system time, "1m2.345s 0m0.678s".
	wrk_busy=$(awk -v s="$wrk_seconds" 'FNR == 2 {
		for (i = 1; i <= 2; i++) { split($i, t, "m"); n += (FILENAME ~ /after$/ ? 1 : -1) * (t[1] * 60 + t[2]) }
	} END { printf "%.0f", 100 * n / s }' "$work/times.before" "$work/times.after")
	if [[ -z ${wrk_requests:-} || -z ${wrk_rps:-} || $wrk_requests -eq 0 ]]; then
		echo "wrk_run: no requests completed:" >&2
		cat "$wrk_output" >&2
		return 1
	fi
	# wrk counts the responses with a status >= 400 as "Non-2xx or 3xx".
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$wrk_output")
	if [[ -n $non2xx ]]; then
		echo "wrk_run: $non2xx of $wrk_requests responses were not 200 (wrk $*)" >&2
		return 1
	fi
	socket_errors=$(awk '/Socket errors:/' "$wrk_output")
	if [[ -n $socket_errors ]]; then
		echo "warning: wrk${socket_errors}" >&2
	fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
