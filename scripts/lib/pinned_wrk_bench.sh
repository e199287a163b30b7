# shellcheck shell=bash disable=SC2034 # sets cpu_us, busy, threads, ... for the sourcing script
# Sourced by the scripts that load one Caddy at a time with wrk, each on a
# CPU of its own (bench-http.sh, bench-http-floor.sh, bench-profile.sh): the
# helpers they use, and their setup.
#
#   pinned_wrk_bench_setup   # tools checked (wrk installed when missing),
#                            # $work made (removed at exit), CPUs picked;
#                            # threads, connections and warmup (wrk -t1 -c32,
#                            # 2 s) and load_before set, the load printed
#   cpu_ticks PID            # the CPU time (utime + stime) of a process, in clock ticks
#   per_request TICKS        # cpu_us: CPU µs per request of the last wrk run, in
#                            # which the Caddy process used TICKS; busy: the % of
#                            # one CPU that it used
# shellcheck source-path=SCRIPTDIR/../..
source scripts/lib/caddy_process.sh
source scripts/lib/cpu_placement.sh
source scripts/lib/credentials.sh
source scripts/lib/wrk_measurement.sh

pinned_wrk_bench_setup() {
	need_tools go curl python3
	need_wrk
	bench_workdir
	pin_cpus
	threads=1 connections=32 warmup=2
	load_before=$(uptime | sed 's/.*load average: //')
	echo "load average at start: $load_before"
}

clk_tck=$(getconf CLK_TCK)

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

per_request() {
	cpu_us=$(awk -v d="$1" -v hz="$clk_tck" -v n="$wrk_requests" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
	busy=$(awk -v d="$1" -v hz="$clk_tck" -v s="$wrk_seconds" 'BEGIN {printf "%.0f", 100 * d / hz / s}')
}
