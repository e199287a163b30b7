# shellcheck shell=bash
# Sourced by the scripts that load one Caddy at a time with wrk, each on a
# CPU of its own (bench-http.sh, bench-profile.sh): the helpers they use,
# and their setup.
#
#   pinned_wrk_bench_setup   # tools checked (wrk installed when missing),
#                            # $work made (removed at exit), CPUs picked
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
}
