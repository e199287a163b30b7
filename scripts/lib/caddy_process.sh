# shellcheck shell=bash
# Sourced by the benchmark scripts (from the repository root): their
# temporary directory, every process they start, and Caddy processes on free
# loopback ports.
#
#   need_tools TOOL...               # fails, naming the script and the tool, unless every TOOL is on PATH
#   bench_workdir                    # makes $work; on any exit, stops every recorded process and removes it
#   build_caddy                      # $work/caddy from ./cmd/caddy
#   port=$(start_caddy NAME SITE)    # a Caddy whose site block holds SITE, pinned to $caddy_cpu when set;
#                                    # with $caddy_admin set, its admin endpoint (and /debug/pprof) on that port;
#                                    # $caddy_global_options, when set, go into its global options
#   caddy_pid NAME                   # that Caddy's process id
#   track_pid PID                    # any other process the cleanup must stop
#
# Every process started is recorded in $work/pids, never only in a variable:
# start_caddy runs in a command substitution (a subshell), whose variables
# the cleanup never sees.

need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "$(basename "$0") needs $tool" >&2; exit 1; }
	done
}

bench_workdir() {
	work=$(mktemp -d)
	trap bench_cleanup EXIT
	# A signal ends the script through exit, so the EXIT trap runs.
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

track_pid() { echo "$1" >>"$work/pids"; }

# bench_cleanup stops every recorded process (SIGTERM, SIGKILL after 10 s)
# and removes $work.
bench_cleanup() {
	local p deadline
	if [[ -f "$work/pids" ]]; then
		while read -r p; do kill "$p" 2>/dev/null || true; done <"$work/pids"
		deadline=$((SECONDS + 10))
		while read -r p; do
			while kill -0 "$p" 2>/dev/null; do
				if ((SECONDS >= deadline)); then
					kill -KILL "$p" 2>/dev/null || true
					break
				fi
				sleep 0.1
			done
		done <"$work/pids"
	fi
	rm -rf "$work"
}

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

build_caddy() { go build -o "$work/caddy" ./cmd/caddy; }

# start_caddy NAME SITE: runs $work/caddy with SITE as the body of an
# http://127.0.0.1:<port> site (its data and config under $work/NAME), waits
# until it answers, and prints the port.
start_caddy() {
	local name=$1 site=$2 port pid pin=() deadline admin
	port=$(freeport)
	admin=off
	if [[ -n ${caddy_admin:-} ]]; then admin=127.0.0.1:$caddy_admin; fi
	mkdir -p "$work/$name"
	cat >"$work/$name/Caddyfile" <<CADDY
{
	admin $admin
	http_port $port
	default_bind 127.0.0.1
	skip_install_trust
	log {
		level ERROR
	}
	${caddy_global_options:-}
}
http://127.0.0.1:$port {
$site
}
CADDY
	if [[ -n ${caddy_cpu:-} ]]; then pin=(taskset -c "$caddy_cpu"); fi
	XDG_DATA_HOME="$work/$name/data" XDG_CONFIG_HOME="$work/$name/config" HOME="$work/$name" \
		"${pin[@]}" "$work/caddy" run --config "$work/$name/Caddyfile" --adapter caddyfile >"$work/$name/log" 2>&1 &
	pid=$!
	track_pid "$pid"
	echo "$pid" >"$work/$name/pid"
	deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
		if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
			echo "$port"
			return 0
		fi
		sleep 0.1
	done
	echo "start_caddy $name: Caddy did not answer on port $port; its log:" >&2
	cat "$work/$name/log" >&2
	return 1
}

caddy_pid() { cat "$work/$1/pid"; }
