#!/usr/bin/env bash
# Token auth req/s through a real Caddy with each store: bolt, one redis
# server, redis behind Sentinel (a master, two replicas, three sentinels)
# and a 3-master Redis Cluster, measured in one run with wrk on loopback.
# Needs go, redis-server, redis-cli, curl, python3; installs wrk with apt-get
# when it is missing.
#
#   scripts/bench-token-wrk.sh [duration-seconds] [rounds]
#
# Each round runs wrk against each Caddy in turn (alternating, so that load
# from elsewhere on the machine hits all alike), and the script prints every
# result and each store's median relative to bolt's. Every process it starts
# is stopped however it ends (scripts/lib/caddy_process.sh).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
rounds=${2:-3}
source scripts/lib/caddy_process.sh
need_tools go redis-server redis-cli curl python3
source scripts/lib/credentials.sh
source scripts/lib/redis_server.sh
source scripts/lib/wrk_measurement.sh
need_wrk
bench_workdir
build_caddy

# One server.
rport=$(freeport)
start_redis redis "$rport"

# Sentinel: a master, two replicas, three sentinels.
mport=$(freeport)
start_redis sentinel-master "$mport" --repl-diskless-sync-delay 0
for i in 1 2; do
	start_redis "sentinel-replica-$i" "$(freeport)" --replicaof 127.0.0.1 "$mport" --repl-diskless-sync-delay 0
done
sentinels=()
for i in 1 2 3; do
	port=$(freeport)
	mkdir -p "$work/sentinel-$i"
	printf 'sentinel monitor mymaster 127.0.0.1 %s 2\nsentinel down-after-milliseconds mymaster 1000\n' "$mport" \
		>"$work/sentinel-$i/sentinel.conf"
	start_redis "sentinel-$i" "$port" "$work/sentinel-$i/sentinel.conf" --sentinel
	sentinels+=("127.0.0.1:$port")
done

# Cluster: three masters, each with a bus port of its own.
nodes=()
for i in 1 2 3; do
	port=$(freeport)
	start_redis "cluster-$i" "$port" --cluster-enabled yes --cluster-config-file "$work/cluster-$i/nodes.conf" \
		--cluster-port "$(freeport)"
	nodes+=("127.0.0.1:$port")
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$work/cluster-create.log" 2>&1
for _ in $(seq 100); do
	redis-cli -p "${nodes[0]#*:}" cluster info | grep -q cluster_state:ok && break
	sleep 0.1
done

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

stores=(bolt redis sentinel cluster)
declare -A port key results
port[bolt]=$(start_caddy bolt "$(site "store bolt $work/bolt/restauth.db")")
port[redis]=$(start_caddy redis-caddy "$(site "store redis {
			address 127.0.0.1:$rport
		}")")
port[sentinel]=$(start_caddy sentinel-caddy "$(site "store redis {
			sentinel mymaster ${sentinels[*]}
			wait_replicas 1
		}")")
port[cluster]=$(start_caddy cluster-caddy "$(site "store redis {
			cluster ${nodes[*]}
		}")")
for s in "${stores[@]}"; do
	key[$s]=$(new_token "${port[$s]}")
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token ${key[$s]}" "http://127.0.0.1:${port[$s]}/api")
	[ "$code" = 200 ] || { echo "token check with $s on port ${port[$s]}: HTTP $code" >&2; exit 1; }
done

run() { # run <port> <key> [seconds]: prints req/s
	wrk_run -t2 -c32 -d"${3:-$duration}s" -H "Authorization: Token $2" "http://127.0.0.1:$1/api"
	echo "$wrk_rps"
}
for s in "${stores[@]}"; do run "${port[$s]}" "${key[$s]}" 2 >/dev/null; done # warm up
for r in $(seq "$rounds"); do
	line="round $r:"
	for s in "${stores[@]}"; do
		x=$(run "${port[$s]}" "${key[$s]}")
		results[$s]+="$x "
		line+=" $s $x req/s,"
	done
	echo "${line%,}"
done
# shellcheck disable=SC2086 # the results are space-separated numbers
mb=$(median ${results[bolt]})
line="median:"
for s in "${stores[@]}"; do
	# shellcheck disable=SC2086
	m=$(median ${results[$s]})
	line+=" $s $m req/s ($(awk -v a="$m" -v b="$mb" 'BEGIN {printf "%.0f%%", 100*a/b}') of bolt),"
done
echo "${line%,}"
