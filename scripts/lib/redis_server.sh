# shellcheck shell=bash
# Sourced by the benchmark scripts, after caddy_process.sh (whose $work and
# track_pid it uses):
#
#   start_redis NAME PORT [redis-server args...]   # a redis-server on loopback, stopped by the cleanup

# start_redis NAME PORT [redis-server args...]: runs a redis-server without
# persistence in $work/NAME and waits until it answers.
# shellcheck disable=SC2154 # $work is set by bench_workdir (caddy_process.sh)
start_redis() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$work/$name"
	redis-server "$@" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work/$name" \
		>"$work/$name/log" 2>&1 &
	track_pid $!
	for _ in $(seq 100); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "redis-server $name on port $port did not start" >&2
	exit 1
}
