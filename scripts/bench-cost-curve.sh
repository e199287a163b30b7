#!/usr/bin/env bash
# The cost curve of issue 18: API tokens, sessions and revoked JWT ids in the
# bolt and the redis store at each size, measured by BenchmarkCostCurve
# (store/costcurve_bench_test.go, which says what each column measures).
# Needs go, redis-server, redis-cli, python3.
#
#   scripts/bench-cost-curve.sh [sizes...]        default: 1000 100000 1000000
#   COSTCURVE_BENCH=bolt/session scripts/bench-cost-curve.sh 1000   # a subset
#
# It builds ./cmd/caddy and the store tests, starts a redis-server of its own
# on a free loopback port, rebuilds every data set in a temporary directory,
# prints the benchmark's lines and then the tables of BENCHMARKS.md, and
# stops everything it started and removes the directory however it ends
# (scripts/lib/caddy_process.sh; the benchmark stops its Caddy processes,
# which also die with it).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 100000 1000000)
source scripts/lib/caddy_process.sh
need_tools go redis-server redis-cli python3
source scripts/lib/redis_server.sh
bench_workdir
build_caddy
go test -c -o "$work/store.test" ./store
rport=$(freeport)
start_redis redis "$rport"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load at start:$(uptime | sed 's/.*load average://')"
start=$(date +%s)
# The benchmark finds ../integration/testdata and ../cmd/caddy from store/.
(cd store && TMPDIR="$work" RESTAUTH_COSTCURVE_SIZES="${sizes[*]}" RESTAUTH_COSTCURVE_CADDY="$work/caddy" \
	RESTAUTH_COSTCURVE_REDIS="127.0.0.1:$rport" \
	"$work/store.test" -test.run '^$' -test.bench "CostCurve/${COSTCURVE_BENCH:-}" -test.benchtime 1x -test.timeout 60m) |
	tee "$work/raw.txt"
echo "# took $(($(date +%s) - start)) s, load at end:$(uptime | sed 's/.*load average://')"
echo

# Two tables, one row per benchmark line; metric units name the columns.
awk '
function v(u, fmt) { return (u in m) ? sprintf(fmt, m[u]) : "–" }
function size(n) { return n >= 1000000 ? n / 1000000 "M" : n >= 1000 ? n / 1000 "k" : n }
function hold() {
	if (back == "redis") return m["hold-max-ms"] == 0 ? "< 1 (expire cycle)" : sprintf("%.0f (expire cycle)", m["hold-max-ms"])
	return sprintf("%.1f (p99 %.1f; deleting ≤ %.1f)", m["hold-max-ms"], m["hold-p99-ms"], m["delete-max-ms"])
}
BEGIN { kinds["token"] = "API tokens"; kinds["session"] = "sessions"; kinds["revocation"] = "revoked JWT ids" }
/^BenchmarkCostCurve\// {
	split($1, p, "/"); back = p[2]; kind = p[3]; n = p[4]; sub(/-[0-9]+$/, "", n)
	delete m
	for (i = 5; i < NF; i += 2) m[$(i + 1)] = $i
	row = sprintf("| %s | %s %s ", back, size(n), kinds[kind])
	a = a row sprintf("| %s | %s / %s | %s / %s | %s | %s (%s) | %s / %s | %s → %s (%s / %s) |\n",
		v("load-s", "%.2f"), v("api-p50-us", "%.1f"), v("api-p99-us", "%.1f"),
		v("http-p50-us", "%.0f"), v("http-p99-us", "%.0f"), v("store-MB", "%.1f"),
		v("start-ms", "%.0f"), v("start-empty-ms", "%.0f"), v("caddy-heap-MB", "%.1f"), v("caddy-rss-MB", "%.0f"),
		v("scrape-ms", "%.0f"), v("scrape-rss-MB", "%.0f"), v("scrape-tokens", "%d"), v("scrape-sessions", "%d"))
	e = e row sprintf("| %s | %s | %s | %s / %s | %s (%s) | %s |\n", v("sweep-s", "%.2f"),
		back == "redis" ? "–" : sprintf("%d (%d)", m["transactions"], m["slow-transactions"]), hold(),
		v("alone-write-max-ms", "%.1f"), v("sweep-write-max-ms", "%.1f"), v("sweep-writes", "%d"), v("sweep-slow-writes", "%d"),
		("sweep-wait-max-ms" in m) ? sprintf("%.1f (%d)", m["sweep-wait-max-ms"], m["sweep-slow-waits"]) : "–")
	if ("index-s" in m)
		x = x sprintf("| %s | %s | %s | %s | %s (%s) |\n", size(n), v("index-s", "%.2f"),
			m["index-cmd-max-ms"] == 0 ? "< 1" : v("index-cmd-max-ms", "%.0f"), v("index-write-max-ms", "%.1f"),
			v("index-writes", "%d"), v("index-slow-writes", "%d"))
}
END {
	print "| backend | records | load s | store API p50 / p99 µs | HTTP p50 / p99 µs | file / used_memory MB | Caddy start ms (empty store) | Caddy heap / RSS MB | /metrics scrape ms → RSS MB (tokens / sessions counted) |"
	print "|---|---|---|---|---|---|---|---|---|"
	printf "%s", a
	print ""
	print "| backend | records | expiry s | write transactions (over 10 ms) | longest write hold ms | write max ms: alone / during expiry | writes during expiry (over 10 ms) | longest wait for the writer lock ms (waits over 10 ms) |"
	print "|---|---|---|---|---|---|---|---|"
	printf "%s", e
	if (x != "") {
		print ""
		print "| redis tokens expired | first listing s (cleans the index) | longest Redis command ms | write max ms during it | writes during it (over 10 ms) |"
		print "|---|---|---|---|---|"
		printf "%s", x
	}
}' "$work/raw.txt"
