# shellcheck shell=bash disable=SC2034 # caddy_cpu and wrk_cpu are for the other files
# Sourced by the benchmark scripts: where Caddy and wrk run.
#
#   pin_cpus    # sets caddy_cpu and wrk_cpu: the first two CPUs this script may use
#
# start_caddy (caddy_process.sh) and wrk_run (wrk_measurement.sh) pin their
# process with taskset when the variable is set. With a single CPU, or
# without taskset, pin_cpus warns and leaves them unset: everything then
# shares the CPUs, and the numbers are the worse for it.
pin_cpus() {
	local cpus
	read -ra cpus < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')
	caddy_cpu="" wrk_cpu=""
	if ! command -v taskset >/dev/null; then
		echo "warning: taskset not found (util-linux): Caddy and wrk are not pinned to their own CPUs" >&2
	elif ((${#cpus[@]} < 2)); then
		echo "warning: only one CPU: Caddy and wrk share it, so wrk's work is counted against every request" >&2
	else
		caddy_cpu=${cpus[0]} wrk_cpu=${cpus[1]}
	fi
}
