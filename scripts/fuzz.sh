#!/usr/bin/env bash
# Runs every native Go fuzz target (func FuzzXxx in any package) for the
# given number of seconds each, one after another, and exits non-zero when
# any of them fails. Targets are discovered with `go test -list`, so a new
# one is picked up without editing this script.
#
#   scripts/fuzz.sh        # 5 s per target
#   scripts/fuzz.sh 60     # 60 s per target
#
# A failing input is written by Go to testdata/fuzz/FuzzXxx/ of its package;
# keep it there as a seed once the bug is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-5}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 [seconds per target]" >&2
	exit 2
fi

# `go test -list` prints a package's matching names, then "ok <package> ...".
targets=$(go test -run '^$' -list '^Fuzz' ./... | awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok/   { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
')
if [[ -z "$targets" ]]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 1
fi

failed=()
while read -r pkg name; do
	echo "=== $name ($pkg, ${seconds}s)"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${seconds}s" "$pkg"; then
		failed+=("$name ($pkg)")
	fi
done <<<"$targets"

if ((${#failed[@]} > 0)); then
	printf 'fuzz.sh: FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz.sh: every target ran ${seconds}s without a failure"
