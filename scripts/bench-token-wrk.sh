#!/usr/bin/env bash
# Token auth req/s through a real Caddy, bolt store vs redis store, measured
# in one run with wrk on loopback. Needs go, wrk, redis-server, curl.
#
#   scripts/bench-token-wrk.sh [duration-seconds] [rounds]
#
# Each round runs wrk against the bolt Caddy, then against the redis Caddy
# (alternating, so that load from elsewhere on the machine hits both alike),
# and the script prints every result and the redis/bolt ratio of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
rounds=${2:-3}
work=$(mktemp -d)
# Every process started is recorded in $work/pids: start_caddy runs in a
# command substitution (a subshell), whose variables the cleanup never sees.
cleanup() {
	if [[ -f "$work/pids" ]]; then
		while read -r p; do kill "$p" 2>/dev/null || true; done <"$work/pids"
		while read -r p; do
			while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
		done <"$work/pids"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

go build -o "$work/caddy" ./cmd/caddy

rport=$(freeport)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
echo $! >>"$work/pids"

# start_caddy <name> <store block>: runs Caddy, prints its port.
start_caddy() {
	local name=$1 store=$2 port
	port=$(freeport)
	mkdir -p "$work/$name"
	cat >"$work/$name/Caddyfile" <<CADDY
{
	admin off
	http_port $port
	default_bind 127.0.0.1
	skip_install_trust
	log {
		level ERROR
	}
}
http://127.0.0.1:$port {
	rest_auth {
		users_file $PWD/integration/testdata/users.json
		token
		$store
	}
	respond "ok" 200
}
CADDY
	XDG_DATA_HOME="$work/$name/data" XDG_CONFIG_HOME="$work/$name/config" HOME="$work/$name" \
		"$work/caddy" run --config "$work/$name/Caddyfile" --adapter caddyfile >"$work/$name/log" 2>&1 &
	echo $! >>"$work/pids"
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
		sleep 0.1
	done
	echo "$port"
}

# new_token <port>: provisions a token for alice and prints its key.
new_token() {
	curl -fsS -X POST "http://127.0.0.1:$1/@tokens" -H 'Content-Type: application/json' \
		-d "{\"username\": \"alice\", \"password\": \"$ALICE_PASSWORD\"}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}

ALICE_PASSWORD=$(grep -o 'AlicePassword *= *"[^"]*"' internal/testusers/testusers.go | head -1 | sed 's/.*"\(.*\)"/\1/')
bolt_port=$(start_caddy bolt "store bolt $work/bolt/restauth.db")
redis_port=$(start_caddy redis "store redis {
			address 127.0.0.1:$rport
		}")
bolt_key=$(new_token "$bolt_port")
redis_key=$(new_token "$redis_port")
for p in "$bolt_port:$bolt_key" "$redis_port:$redis_key"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token ${p#*:}" "http://127.0.0.1:${p%%:*}/api")
	[ "$code" = 200 ] || { echo "token check on port ${p%%:*}: HTTP $code" >&2; exit 1; }
done

run() { # run <port> <key>: prints req/s
	wrk -t2 -c32 -d"${duration}s" -H "Authorization: Token $2" "http://127.0.0.1:$1/api" |
		awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "non-2xx responses: " $0 > "/dev/stderr"; exit 1}'
}
wrk -t2 -c32 -d2s -H "Authorization: Token $bolt_key" "http://127.0.0.1:$bolt_port/api" >/dev/null
wrk -t2 -c32 -d2s -H "Authorization: Token $redis_key" "http://127.0.0.1:$redis_port/api" >/dev/null
bolt=() redis=()
for r in $(seq "$rounds"); do
	b=$(run "$bolt_port" "$bolt_key"); bolt+=("$b")
	x=$(run "$redis_port" "$redis_key"); redis+=("$x")
	echo "round $r: bolt $b req/s, redis $x req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mb=$(median "${bolt[@]}") mr=$(median "${redis[@]}")
echo "median: bolt $mb req/s, redis $mr req/s, redis/bolt $(awk -v a="$mr" -v b="$mb" 'BEGIN {printf "%.0f%%", 100*a/b}')"
