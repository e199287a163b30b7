# shellcheck shell=bash disable=SC2034,SC2154 # sets wrk_* for the sourcing script; $work is from caddy_process.sh
# Sourced by the benchmark scripts (after caddy_process.sh): wrk runs and
# their numbers, and the median of several.
#
#   need_wrk                   # installs wrk with apt-get when it is missing
#   wrk_run WRK-ARGUMENTS...   # sets wrk_requests, wrk_seconds, wrk_rps, wrk_busy; fails on any response >= 400
#   wrk_start NAME WRK-ARGUMENTS...   # starts a wrk run in the background, its output in $work/wrk.NAME.out
#   wrk_wait NAME                     # waits for it and sets wrk_requests, wrk_seconds, wrk_rps as wrk_run does
#   median NUMBERS...
#
# wrk runs in the background, recorded for the cleanup, pinned to $wrk_cpu
# when set; the whole output of wrk_run is in $wrk_output. wrk_busy is the %
# of one CPU that wrk used: near 100, the client, not the server, set the
# pace. Several runs started with wrk_start go on at the same time.

declare -A wrk_pids

need_wrk() {
	local sudo=()
	command -v wrk >/dev/null && return
	echo "wrk not found: installing it with apt-get" >&2
	((EUID == 0)) || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get install -y -qq wrk || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq wrk; }
}

wrk_start() {
	local name=$1 pin=()
	shift
	if [[ -n ${wrk_cpu:-} ]]; then pin=(taskset -c "$wrk_cpu"); fi
	"${pin[@]}" wrk "$@" >"$work/wrk.$name.out" 2>&1 &
	wrk_pids[$name]=$!
	track_pid "$!"
}

wrk_wait() {
	local name=$1 out="$work/wrk.$1.out" socket_errors non2xx
	if ! wait "${wrk_pids[$name]}"; then
		cat "$out" >&2
		return 1
	fi
	# "  123456 requests in 8.00s, 12.34MB read" (or "in 1.00m,")
	read -r wrk_requests wrk_seconds < <(awk '/ requests in / {
		t = $4; sub(/,$/, "", t); f = (t ~ /m$/) ? 60 : 1; sub(/[ms]+$/, "", t); print $1, t * f
	}' "$out")
	wrk_rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	if [[ -z ${wrk_requests:-} || -z ${wrk_rps:-} || $wrk_requests -eq 0 ]]; then
		echo "wrk: no requests completed:" >&2
		cat "$out" >&2
		return 1
	fi
	# wrk counts the responses with a status >= 400 as "Non-2xx or 3xx".
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	if [[ -n $non2xx ]]; then
		echo "wrk: $non2xx of $wrk_requests responses were not 200 ($name)" >&2
		return 1
	fi
	socket_errors=$(awk '/Socket errors:/' "$out")
	if [[ -n $socket_errors ]]; then
		echo "warning: wrk${socket_errors}" >&2
	fi
}

wrk_run() {
	# `times` in this shell: the CPU time of its waited-for children, wrk
	# alone between these two calls.
	times >"$work/times.before"
	wrk_start run "$@"
	wrk_wait run
	times >"$work/times.after"
	wrk_output="$work/wrk.run.out"
	# The second line of `times`: children's user and system time, "1m2.345s 0m0.678s".
	wrk_busy=$(awk -v s="$wrk_seconds" 'FNR == 2 {
		for (i = 1; i <= 2; i++) { split($i, t, "m"); n += (FILENAME ~ /after$/ ? 1 : -1) * (t[1] * 60 + t[2]) }
	} END { printf "%.0f", 100 * n / s }' "$work/times.before" "$work/times.after")
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
