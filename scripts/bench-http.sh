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
# each credential, a 2 s warm-up of both and <rounds> rounds of a
# <duration> s wrk run against each, alternating which goes first, so that
# load from elsewhere on the machine hits both alike:
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
for n in "$duration" "$rounds" "$max_rate"; do
	if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
		echo "usage: $0 [duration-seconds] [rounds]   (BENCH_HTTP_MAX_RATE: a positive integer)" >&2
		exit 2
	fi
done
for tool in go curl python3; do
	command -v "$tool" >/dev/null || { echo "bench-http.sh needs $tool" >&2; exit 1; }
done
if ! command -v wrk >/dev/null; then
	echo "wrk not found: installing it with apt-get" >&2
	sudo=()
	((EUID == 0)) || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get install -y -qq wrk || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq wrk; }
fi

source scripts/lib/caddy_process.sh
source scripts/lib/cpu_placement.sh
source scripts/lib/credentials.sh
source scripts/lib/wrk_measurement.sh

bench_workdir
pin_cpus
threads=1 connections=32 warmup=2
clk_tck=$(getconf CLK_TCK)
load_before=$(uptime | sed 's/.*load average: //')
echo "load average at start: $load_before"

build_caddy
go build -o "$work/jwtbatch" ./scripts/jwtbatch
RESTAUTH_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
export RESTAUTH_JWT_SECRET

declare -A port
port[bare]=$(start_caddy bare $'\trespond "ok" 200')
port[rest_auth]=$(start_caddy rest_auth "$(
	cat <<SITE
	rest_auth {
		users_file $PWD/integration/testdata/users.json
		jwt {
			key hs256 {env.RESTAUTH_JWT_SECRET}
		}
		token
		session
		store bolt
	}
	respond "ok" 200
SITE
)")

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

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# measure C SIDE SECONDS: one wrk run; sets rps, cpu_us (server CPU per
# request) and busy (% of its CPU the Caddy process used; wrk's: wrk_busy).
measure() {
	local c=$1 side=$2 seconds=$3 pid t0 t1 reused
	pid=$(caddy_pid "$side")
	wrk_target "$c" "$side"
	t0=$(cpu_ticks "$pid")
	wrk_run -t"$threads" -c"$connections" -d"${seconds}s" "${targs[@]}"
	t1=$(cpu_ticks "$pid")
	if ((c == unique)); then
		reused=$(awk '/^header lines reused:/ {print $NF}' "$wrk_output")
		if [[ $reused != 0 ]]; then
			echo "the token files ran out ($side, $wrk_rps req/s): raise BENCH_HTTP_MAX_RATE above $max_rate" >&2
			exit 1
		fi
	fi
	rps=$wrk_rps
	cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$wrk_requests" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
	busy=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v s="$wrk_seconds" 'BEGIN {printf "%.0f", 100 * d / hz / s}')
}

rows=() busies=() wrk_busies=()
for c in "${!labels[@]}"; do
	echo "== ${labels[$c]}"
	if ((c == unique)); then mint "$work/tokens" $((warmup * max_rate)); fi
	for side in bare rest_auth; do measure "$c" "$side" "$warmup"; done
	bare_rps=() auth_rps=() ratios=() bare_cpu=() auth_cpu=() diffs=()
	for r in $(seq "$rounds"); do
		if ((c == unique)); then mint "$work/tokens" $((duration * max_rate)); fi
		order=(bare rest_auth)
		((r % 2)) || order=(rest_auth bare)
		line=""
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
		ratios+=("$(awk -v a="${auth_rps[-1]}" -v b="${bare_rps[-1]}" 'BEGIN {printf "%.3f", a / b}')")
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
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $rounds rounds × $duration s, wrk -t$threads -c$connections," \
	"Caddy on CPU ${caddy_cpu:-any}, wrk on CPU ${wrk_cpu:-any}; load average at start $load_before, at end $load_after." \
	"Medians of the rounds; ratio and difference are medians of the per-round pairs." \
	"In the measured runs Caddy used $(range "${busies[@]}") % of its CPU and wrk $(range "${wrk_busies[@]}") % of its own" \
	"(Caddy below about 95 % and wrk not near 100 %: something else held Caddy's CPU)."
echo
echo "| credential | req/s bare | req/s rest_auth | ratio (target) | CPU µs/req bare | CPU µs/req rest_auth | difference (target) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
