#!/usr/bin/env bash
# rest_auth's own CPU per request in a live Caddy (issue 18): a CPU profile
# of a built Caddy while wrk sends one credential, split at the handler.
#
#   scripts/bench-profile.sh [profile-seconds]     # default: 10
#
# Needs go, curl and python3; installs wrk with apt-get when it is missing
# (as bench-http.sh does). Builds ./cmd/caddy, starts one Caddy with its
# admin endpoint on a free loopback port (for /debug/pprof) and rest_auth in
# front of `respond "ok" 200` (the same site as bench-http.sh), pinned to
# one CPU and wrk -t1 -c32 to another. For each credential (a JWT, an API
# token, a session cookie, Basic with a cached password, and a new JWT each
# request: tokens minted offline by scripts/jwtbatch as bench-http.sh does,
# each sent once by scripts/lib/wrk_header_lines.lua), wrk runs while
# /debug/pprof/profile is taken for <profile-seconds>; then the samples
# under rest_auth's ServeHTTP less those of the handler after it, divided
# by the requests answered during the profile (wrk's rate × its length),
# are rest_auth's own CPU per request, printed as a markdown table.
# Sampling puts a few % of noise on it; the server's other costs (the HTTP
# stack, the GC) are not counted. Every process it starts is stopped, and
# its temporary directory removed, however it ends. With
# BENCH_PROFILE_KEEP=<dir>, the profiles (0.prof … 4.prof, in the order
# above) and the Caddy binary they belong to are copied there first, to
# read with `go tool pprof <dir>/caddy <dir>/2.prof`.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
max_rate=${BENCH_PROFILE_MAX_RATE:-50000}
if ! [[ $seconds =~ ^[1-9][0-9]*$ && $max_rate =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 [profile-seconds]   (BENCH_PROFILE_MAX_RATE: a positive integer)" >&2
	exit 2
fi
source scripts/lib/pinned_wrk_bench.sh
pinned_wrk_bench_setup
build_caddy
go build -o "$work/jwtbatch" ./scripts/jwtbatch
export_jwt_secret
caddy_admin=$(freeport)
port=$(start_caddy rest_auth "$(restauth_site)")
url="http://127.0.0.1:$port/api"

jwt=$(new_jwt "$port")
labels=("JWT, the same token" "API token" "session cookie" "Basic, cached" "JWT, a new token each request")
headers=(
	"Authorization: Bearer $jwt"
	"Authorization: Token $(new_token "$port")"
	"Cookie: sessionid=$(new_session "$port")"
	"Authorization: $(basic_credentials)"
	"" # from the token file
)
unique=4
# Never-seen tokens for the whole wrk run at up to BENCH_PROFILE_MAX_RATE
# requests/s (default 50 000; the run fails if they run out), about 300
# bytes each in the temporary directory: 210 MB for 10 s profiles. One more,
# minted apart, is the one the check below sends.
"$work/jwtbatch" -template "$jwt" -n "$(((seconds + 4) * max_rate))" -files 1 -out "$work/tokens"
"$work/jwtbatch" -template "$jwt" -n 1 -files 1 -out "$work/tokens.sample"
headers[unique]="Authorization: $(cat "$work/tokens.sample.1")"
load_before=$(uptime | sed 's/.*load average: //')
rows=()
for c in "${!labels[@]}"; do
	got=$(curl -s -o /dev/null -w '%{http_code}' -H "${headers[$c]}" "$url")
	if [[ $got != 200 ]]; then
		echo "${labels[$c]}: HTTP $got, want 200" >&2
		exit 1
	fi
	targs=(-H "${headers[$c]}" "$url")
	if ((c == unique)); then
		targs=(-s scripts/lib/wrk_header_lines.lua "$url" -- Authorization "$work/tokens")
	fi
	wrk_start profile -t1 -c32 -d"$((seconds + 4))s" "${targs[@]}"
	sleep 2 # warm
	curl -fsS -o "$work/$c.prof" "http://127.0.0.1:$caddy_admin/debug/pprof/profile?seconds=$seconds"
	wrk_wait profile
	if ((c == unique)) && ! grep -q '^header lines reused: 0$' "$work/wrk.profile.out"; then
		echo "the token file ran out ($wrk_rps req/s): raise BENCH_PROFILE_MAX_RATE above $max_rate" >&2
		exit 1
	fi
	if [[ -n ${BENCH_PROFILE_KEEP:-} ]]; then
		mkdir -p "$BENCH_PROFILE_KEEP"
		cp "$work/$c.prof" "$work/caddy" "$BENCH_PROFILE_KEEP/"
	fi
	# The handler's cumulative samples and those of the handler after it
	# (respond), in seconds.
	read -r own < <(go tool pprof -peek 'restauth\.\(\*Handler\)\.ServeHTTP$' "$work/caddy" "$work/$c.prof" 2>/dev/null | awk '
		function secs(v) { if (v ~ /ms$/) { sub(/ms$/, "", v); return v / 1000 } sub(/s$/, "", v); return v }
		/\| github.com\/caddy-restauth\/caddy-restauth\.\(\*Handler\)\.ServeHTTP$/ { cum = secs($4) }
		/caddyhttp\.HandlerFunc\.ServeHTTP$/ { next_ = secs($1) }
		END { print cum - next_ }')
	rows+=("$(awk -v label="${labels[$c]}" -v rps="$wrk_rps" -v own="$own" -v s="$seconds" 'BEGIN {
		printf "| %s | %.0f | %.2f µs |", label, rps, own / (rps * s) * 1e6 }')")
	echo "${rows[-1]}" >&2
done

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), ${seconds} s profiles, wrk -t1 -c32 on CPU ${wrk_cpu:-any}, Caddy on CPU ${caddy_cpu:-any};" \
	"load average at start $load_before, at end $(uptime | sed 's/.*load average: //')."
echo
echo "| credential | req/s during the profile | rest_auth's own CPU per request |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
