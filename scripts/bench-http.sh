#!/usr/bin/env bash
# rest_auth over real HTTP against a bare Caddy (issue 18): for each kind of
# credential, the req/s of a Caddy with rest_auth relative to a bare Caddy
# (`respond "ok" 200`) that receives the same header(s), and the server CPU
# per request of both, measured in the same run with wrk on loopback.
#
#   scripts/bench-http.sh [duration-seconds] [rounds]     # default: 8 3
#
# Needs go, curl and python3; installs wrk with apt-get when it is missing.
# Builds ./cmd/caddy once and starts two Caddy processes pinned to one CPU
# (taskset; wrk -t1 -c32 pinned to another): the bare one, and one with
# rest_auth (users_file integration/testdata/users.json, jwt with an hs256
# key, token, session, a bolt store in the temporary data dir). Then, for
# each credential, a 2 s warm-up and <rounds> rounds of <duration> s.
#
# BENCH_HTTP_MODE=alternate (the default) runs one wrk at a time, against
# each Caddy in turn (alternating which goes first); the ratio is of their
# req/s. BENCH_HTTP_MODE=together loads both Caddys at once, each with its
# own wrk, sharing Caddy's CPU, so that load from elsewhere on the machine
# slows both alike; the kernel does not split the CPU evenly between two
# servers that wait for the network, so there the ratio is of their
# requests per CPU second (CPU µs/request bare ÷ rest_auth). The
# credentials:
#
#   1. JWT, the same token every request (from POST /@login)
#   2. API token (Authorization: Token, from POST /@tokens)
#   3. session cookie (Cookie: sessionid=, from POST /@session; GET, so no CSRF)
#   4. Basic, cached (the same user:password every request)
#   5. JWT, a new token each request: for every round, duration × $BENCH_HTTP_MAX_RATE
#      (default 60000) tokens are minted offline by scripts/jwtbatch from
#      the @login token (its header and claims, a new jti, signed with the
#      same secret), and scripts/lib/wrk_header_lines.lua sends each once;
#      the bare Caddy receives the same tokens.
#
# Server CPU per request is the utime + stime of the Caddy process
# (/proc/<pid>/stat) over the run, divided by the requests wrk completed.
# Every response of a measured run must be a 200 (wrk's count of statuses
# >= 400 must be absent), and no never-seen token may be sent twice; else
# the script fails. It prints a line per round (with the % of its CPU that
# Caddy and wrk each used: Caddy well below 100 % with wrk not near it means
# something else held Caddy's CPU) and a markdown table of the
# medians (ratio and CPU difference: medians of the per-round pairs) beside
# the targets of issue 18. Every process it starts is stopped, and its
# temporary directory removed, however it ends.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-8}
rounds=${2:-3}
max_rate=${BENCH_HTTP_MAX_RATE:-60000}
mode=${BENCH_HTTP_MODE:-alternate}
if [[ $mode != together && $mode != alternate ]]; then
	echo "BENCH_HTTP_MODE must be together or alternate" >&2
	exit 2
fi
for n in "$duration" "$rounds" "$max_rate"; do
	if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
		echo "usage: $0 [duration-seconds] [rounds]   (BENCH_HTTP_MAX_RATE: a positive integer)" >&2
		exit 2
	fi
done
source scripts/lib/pinned_wrk_bench.sh
pinned_wrk_bench_setup

build_caddy
go build -o "$work/jwtbatch" ./scripts/jwtbatch
export_jwt_secret

declare -A port
port[bare]=$(start_caddy bare $'\trespond "ok" 200')
port[rest_auth]=$(start_caddy rest_auth "$(restauth_site)")

# status SIDE [curl options...]: the status of GET /api on that Caddy.
status() {
	local side=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' "$@" "http://127.0.0.1:${port[$side]}/api"
}
# expect CODE SIDE WHAT [curl options...]: fails unless GET /api answers CODE.
expect() {
	local code=$1 side=$2 what=$3 got
	shift 3
	got=$(status "$side" "$@")
	if [[ $got != "$code" ]]; then
		echo "check failed: $what on $side: HTTP $got, want $code" >&2
		exit 1
	fi
}
expect 401 rest_auth "no credential"
expect 200 bare "no credential"

jwt=$(new_jwt "${port[rest_auth]}")
labels=("JWT, the same token" "API token" "session cookie" "Basic, cached" "JWT, a new token each request")
headers=(
	"Authorization: Bearer $jwt"
	"Authorization: Token $(new_token "${port[rest_auth]}")"
	"Cookie: sessionid=$(new_session "${port[rest_auth]}")"
	"Authorization: $(basic_credentials)"
	"" # from the token files
)
unique=4
# Targets of issue 18: minimum req/s ratio, maximum CPU µs/request over bare.
target_ratio=(0.97 0.97 0.97 0.97 0.85)
target_cpu=(1.5 1.5 1.5 1.5 10)
for c in "${!headers[@]}"; do
	if ((c != unique)); then
		for side in bare rest_auth; do expect 200 "$side" "${labels[$c]}" -H "${headers[$c]}"; done
	fi
done

# mint PREFIX COUNT: COUNT never-seen tokens, dealt into PREFIX.1 … PREFIX.<threads>.
mint() {
	rm -f "$work"/tokens.*
	"$work/jwtbatch" -template "$jwt" -n "$2" -files "$threads" -out "$1"
}
mint "$work/tokens.sample" 3
while read -r value; do
	for side in bare rest_auth; do expect 200 "$side" "a minted token" -H "Authorization: $value"; done
done <"$work/tokens.sample.1"
echo "every credential answers 200 on both; rest_auth answers 401 without one"

# wrk_target C SIDE: sets targs, the wrk arguments that send config C's
# header(s) to that Caddy.
wrk_target() {
	local url="http://127.0.0.1:${port[$2]}/api"
	if (($1 == unique)); then
		targs=(-s scripts/lib/wrk_header_lines.lua "$url" -- Authorization "$work/tokens")
	else
		targs=(-H "${headers[$1]}" "$url")
	fi
}


# reused_lines SIDE: fails when wrk sent a never-seen token twice.
check_unused() {
	local reused
	reused=$(awk '/^header lines reused:/ {print $NF}' "$work/wrk.$1.out")
	if [[ $reused != 0 ]]; then
		echo "the token files ran out ($1, $wrk_rps req/s): raise BENCH_HTTP_MAX_RATE above $max_rate" >&2
		exit 1
	fi
}

# measure C SIDE SECONDS: one wrk run; sets rps, cpu_us (server CPU per
# request) and busy (% of its CPU the Caddy process used; wrk's: wrk_busy).
measure() {
	local c=$1 side=$2 seconds=$3 pid t0 t1
	pid=$(caddy_pid "$side")
	wrk_target "$c" "$side"
	t0=$(cpu_ticks "$pid")
	wrk_run -t"$threads" -c"$connections" -d"${seconds}s" "${targs[@]}"
	t1=$(cpu_ticks "$pid")
	if ((c == unique)); then check_unused run; fi
	rps=$wrk_rps
	per_request $((t1 - t0))
}

# measure_together C SECONDS: both Caddys at once, each loaded by its own
# wrk, sharing Caddy's CPU; sets rps_of, cpu_of and busy_of by side.
measure_together() {
	local c=$1 seconds=$2 side
	declare -A t0 pid
	for side in bare rest_auth; do
		pid[$side]=$(caddy_pid "$side")
		t0[$side]=$(cpu_ticks "${pid[$side]}")
	done
	for side in bare rest_auth; do
		wrk_target "$c" "$side"
		wrk_start "$side" -t"$threads" -c"$connections" -d"${seconds}s" "${targs[@]}"
	done
	for side in bare rest_auth; do
		wrk_wait "$side"
		if ((c == unique)); then check_unused "$side"; fi
		per_request $(($(cpu_ticks "${pid[$side]}") - t0[$side]))
		rps_of[$side]=$wrk_rps cpu_of[$side]=$cpu_us busy_of[$side]=$busy
	done
}
declare -A rps_of cpu_of busy_of

rows=() busies=() wrk_busies=()
for c in "${!labels[@]}"; do
	echo "== ${labels[$c]}"
	if ((c == unique)); then mint "$work/tokens" $((warmup * max_rate)); fi
	if [[ $mode == together ]]; then
		measure_together "$c" "$warmup"
	else
		for side in bare rest_auth; do measure "$c" "$side" "$warmup"; done
	fi
	bare_rps=() auth_rps=() ratios=() bare_cpu=() auth_cpu=() diffs=()
	for r in $(seq "$rounds"); do
		if ((c == unique)); then mint "$work/tokens" $((duration * max_rate)); fi
		line=""
		if [[ $mode == together ]]; then
			measure_together "$c" "$duration"
			bare_rps+=("${rps_of[bare]}") bare_cpu+=("${cpu_of[bare]}")
			auth_rps+=("${rps_of[rest_auth]}") auth_cpu+=("${cpu_of[rest_auth]}")
			busies+=("$((busy_of[bare] + busy_of[rest_auth]))")
			for side in bare rest_auth; do
				line+="$side $(printf '%.0f' "${rps_of[$side]}") req/s ${cpu_of[$side]} µs/req (CPU: Caddy ${busy_of[$side]}%); "
			done
		else
			order=(bare rest_auth)
			((r % 2)) || order=(rest_auth bare)
			for side in "${order[@]}"; do
				measure "$c" "$side" "$duration"
				if [[ $side == bare ]]; then
					bare_rps+=("$rps") bare_cpu+=("$cpu_us")
				else
					auth_rps+=("$rps") auth_cpu+=("$cpu_us")
				fi
				busies+=("$busy") wrk_busies+=("$wrk_busy")
				line+="$side $(printf '%.0f' "$rps") req/s ${cpu_us} µs/req (CPU: Caddy ${busy}%, wrk ${wrk_busy}%); "
			done
		fi
		if [[ $mode == together ]]; then
			# The kernel does not split the CPU evenly between them: their
			# throughput per CPU second is the comparison.
			ratios+=("$(awk -v a="${auth_cpu[-1]}" -v b="${bare_cpu[-1]}" 'BEGIN {printf "%.3f", b / a}')")
		else
			ratios+=("$(awk -v a="${auth_rps[-1]}" -v b="${bare_rps[-1]}" 'BEGIN {printf "%.3f", a / b}')")
		fi
		diffs+=("$(awk -v a="${auth_cpu[-1]}" -v b="${bare_cpu[-1]}" 'BEGIN {printf "%+.2f", a - b}')")
		echo "round $r: ${line}ratio ${ratios[-1]}, ${diffs[-1]} µs/req"
	done
	rows+=("$(awk -v label="${labels[$c]}" -v br="$(median "${bare_rps[@]}")" -v ar="$(median "${auth_rps[@]}")" \
		-v ratio="$(median "${ratios[@]}")" -v tr="${target_ratio[$c]}" \
		-v bc="$(median "${bare_cpu[@]}")" -v ac="$(median "${auth_cpu[@]}")" \
		-v diff="$(median "${diffs[@]}")" -v tc="${target_cpu[$c]}" 'BEGIN {
		printf "| %s | %.0f | %.0f | **%.2f** (≥ %s %s) | %.1f | %.1f | **%+.1f** (≤ +%s %s) |",
			label, br, ar, ratio, tr, (ratio >= tr ? "✓" : "✗"), bc, ac, diff, tc, (diff <= tc ? "✓" : "✗")
	}')")
done
rm -f "$work"/tokens.*

range() { printf '%s\n' "$@" | sort -n | sed -n '1p;$p' | uniq | paste -sd-; }
load_after=$(uptime | sed 's/.*load average: //')
echo
if [[ $mode == together ]]; then
	placement="both Caddys at once on CPU ${caddy_cpu:-any}, each loaded by its own wrk on CPU ${wrk_cpu:-any}"
	busy_note="In the measured runs the two Caddys used $(range "${busies[@]}") % of their CPU together (below about 95 %: something else held it)."
else
	placement="one Caddy at a time on CPU ${caddy_cpu:-any}, wrk on CPU ${wrk_cpu:-any}"
	busy_note="In the measured runs Caddy used $(range "${busies[@]}") % of its CPU and wrk $(range "${wrk_busies[@]}") % of its own (Caddy below about 95 % and wrk not near 100 %: something else held Caddy's CPU)."
fi
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $rounds rounds × $duration s, wrk -t$threads -c$connections," \
	"$placement; load average at start $load_before, at end $load_after." \
	"Medians of the rounds; ratio and difference are medians of the per-round pairs. $busy_note"
echo
echo "| credential | req/s bare | req/s rest_auth | ratio (target) | CPU µs/req bare | CPU µs/req rest_auth | difference (target) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
