#!/usr/bin/env bash
# What the over-HTTP comparison of scripts/bench-http.sh makes of a handler
# whose cost is known (issue 18): a bare Caddy (`respond "ok" 200`) against
# the same Caddy with one more handler in the route, bench_spin, that keeps
# the CPU busy for a set time per request and does nothing else
# (scripts/spincaddy; with 0, a handler that only calls the next one), and
# against rest_auth with a known JWT. Every Caddy
# receives the same JWT header. For each, the req/s relative to the bare
# Caddy and the server CPU per request over it, measured as bench-http.sh
# does (one Caddy at a time pinned to one CPU, wrk -t1 -c32 on another).
#
#   scripts/bench-http-floor.sh [duration-seconds] [rounds] [spin durations...]
#                                             # default: 5 3 0 500ns 1us 2us
#
# Needs go, curl and python3; installs wrk with apt-get when it is missing.
# Each round runs every Caddy once, starting with a different one each
# round. It prints a line per round and a markdown table of medians: the
# ratio, the CPU difference, and the difference divided by the time the
# spin handler adds (what one µs spent in a handler costs per request over
# HTTP). Every process it starts is stopped, and its temporary directory
# removed, however it ends.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5}
rounds=${2:-3}
shift $(($# < 2 ? $# : 2))
spins=("$@")
if ((${#spins[@]} == 0)); then spins=(0 500ns 1us 2us); fi
for n in "$duration" "$rounds"; do
	if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
		echo "usage: $0 [duration-seconds] [rounds] [spin durations, e.g. 500ns 1us]" >&2
		exit 2
	fi
done
for s in "${spins[@]}"; do
	if ! [[ $s =~ ^(0|[0-9]+(\.[0-9]+)?(ns|us|µs|ms))$ ]]; then
		echo "$0: spin duration $s: want 0 or a number with ns, us or ms (e.g. 500ns, 1.5us)" >&2
		exit 2
	fi
done
source scripts/lib/pinned_wrk_bench.sh
pinned_wrk_bench_setup

go build -o "$work/caddy" ./scripts/spincaddy
export_jwt_secret

# spin_us DURATION: DURATION (as bench_spin takes it) in µs.
spin_us() {
	awk -v d="$1" 'BEGIN {
		n = d; sub(/(ns|us|µs|ms)$/, "", n)
		f = (d ~ /ns$/) ? 0.001 : (d ~ /ms$/) ? 1000 : 1
		printf "%g", n * f
	}'
}

names=(bare) labels=("bare Caddy") added=("")
declare -A port
caddy_global_options="order bench_spin before respond"
port[bare]=$(start_caddy bare $'\trespond "ok" 200')
for i in "${!spins[@]}"; do
	names+=("spin$i") labels+=("bare + bench_spin ${spins[$i]}") added+=("$(spin_us "${spins[$i]}")")
	if [[ ${spins[$i]} == 0 ]]; then labels[-1]="bare + a no-op handler (bench_spin 0)"; fi
	port[spin$i]=$(start_caddy "spin$i" $'\tbench_spin '"${spins[$i]}"$'\n\trespond "ok" 200')
done
names+=(rest_auth) labels+=("rest_auth, a known JWT") added+=("")
port[rest_auth]=$(start_caddy rest_auth "$(restauth_site)")
header="Authorization: Bearer $(new_jwt "${port[rest_auth]}")"
for name in "${names[@]}"; do
	got=$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "http://127.0.0.1:${port[$name]}/api")
	if [[ $got != 200 ]]; then
		echo "check failed: the JWT on $name: HTTP $got, want 200" >&2
		exit 1
	fi
done


# measure NAME SECONDS: one wrk run; sets rps, cpu_us and busy.
measure() {
	local pid t0 t1
	pid=$(caddy_pid "$1")
	t0=$(cpu_ticks "$pid")
	wrk_run -t"$threads" -c"$connections" -d"$2s" -H "$header" "http://127.0.0.1:${port[$1]}/api"
	t1=$(cpu_ticks "$pid")
	rps=$wrk_rps
	per_request $((t1 - t0))
}

for name in "${names[@]}"; do measure "$name" "$warmup"; done
declare -A ratios diffs
for r in $(seq "$rounds"); do
	# Rotate the order: each Caddy goes first in some round.
	order=("${names[@]:$(((r - 1) % ${#names[@]}))}" "${names[@]:0:$(((r - 1) % ${#names[@]}))}")
	declare -A rps_of cpu_of
	line=""
	for name in "${order[@]}"; do
		measure "$name" "$duration"
		rps_of[$name]=$rps cpu_of[$name]=$cpu_us
		line+="$name $(printf '%.0f' "$rps") req/s $cpu_us µs/req (Caddy $busy%, wrk $wrk_busy%); "
	done
	for name in "${names[@]:1}"; do
		ratios[$name]+=" $(awk -v a="${rps_of[$name]}" -v b="${rps_of[bare]}" 'BEGIN {printf "%.3f", a / b}')"
		diffs[$name]+=" $(awk -v a="${cpu_of[$name]}" -v b="${cpu_of[bare]}" 'BEGIN {printf "%+.2f", a - b}')"
	done
	bare_cpus+=("${cpu_of[bare]}")
	echo "round $r: $line"
done

load_after=$(uptime | sed 's/.*load average: //')
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $rounds rounds × $duration s, wrk -t$threads -c$connections, one Caddy at a time" \
	"on CPU ${caddy_cpu:-any}, wrk on CPU ${wrk_cpu:-any}; load average at start $load_before, at end $load_after." \
	"Bare Caddy: $(median "${bare_cpus[@]}") µs of CPU per request. Medians of the per-round pairs."
echo
echo "| Caddy | req/s × bare | CPU µs/req over bare | over bare ÷ time added |"
echo "|---|---|---|---|"
for i in "${!names[@]}"; do
	((i == 0)) && continue
	name=${names[$i]}
	# shellcheck disable=SC2086 # the lists are space-separated numbers
	ratio=$(median ${ratios[$name]}) diff=$(median ${diffs[$name]})
	per="—"
	if [[ -n ${added[$i]} && ${added[$i]} != 0 ]]; then per=$(awk -v d="$diff" -v a="${added[$i]}" 'BEGIN {printf "%.1f ×", d / a}'); fi
	echo "| ${labels[$i]} | $ratio | $diff | $per |"
done
