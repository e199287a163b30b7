#!/usr/bin/env bash
# Token auth req/s through a real Caddy, bolt store vs redis store, measured
# in one run with wrk on loopback. Needs go, wrk, redis-server, curl, python3.
#
#   scripts/bench-token-wrk.sh [duration-seconds] [rounds]
#
# Each round runs wrk against the bolt Caddy, then against the redis Caddy
# (alternating, so that load from elsewhere on the machine hits both alike),
# and the script prints every result and the redis/bolt ratio of the medians.
# Every process it starts is stopped however it ends (scripts/lib/caddy_process.sh).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
rounds=${2:-3}
source scripts/lib/caddy_process.sh
source scripts/lib/credentials.sh
source scripts/lib/wrk_measurement.sh
bench_workdir
build_caddy

rport=$(freeport)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
track_pid $!

# site <store block>: the site of a Caddy with token auth on that store.
site() {
	cat <<SITE
	rest_auth {
		users_file $PWD/integration/testdata/users.json
		token
		$1
	}
	respond "ok" 200
SITE
}
bolt_port=$(start_caddy bolt "$(site "store bolt $work/bolt/restauth.db")")
redis_port=$(start_caddy redis "$(site "store redis {
			address 127.0.0.1:$rport
		}")")
bolt_key=$(new_token "$bolt_port")
redis_key=$(new_token "$redis_port")
for p in "$bolt_port:$bolt_key" "$redis_port:$redis_key"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token ${p#*:}" "http://127.0.0.1:${p%%:*}/api")
	[ "$code" = 200 ] || { echo "token check on port ${p%%:*}: HTTP $code" >&2; exit 1; }
done

run() { # run <port> <key> [seconds]: prints req/s
	wrk_run -t2 -c32 -d"${3:-$duration}s" -H "Authorization: Token $2" "http://127.0.0.1:$1/api"
	echo "$wrk_rps"
}
run "$bolt_port" "$bolt_key" 2 >/dev/null
run "$redis_port" "$redis_key" 2 >/dev/null
bolt=() redis=()
for r in $(seq "$rounds"); do
	b=$(run "$bolt_port" "$bolt_key"); bolt+=("$b")
	x=$(run "$redis_port" "$redis_key"); redis+=("$x")
	echo "round $r: bolt $b req/s, redis $x req/s"
done
mb=$(median "${bolt[@]}") mr=$(median "${redis[@]}")
echo "median: bolt $mb req/s, redis $mr req/s, redis/bolt $(awk -v a="$mr" -v b="$mb" 'BEGIN {printf "%.0f%%", 100*a/b}')"
