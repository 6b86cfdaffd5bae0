#!/bin/sh
# A short libFuzzer run of both targets (table loader+validator, DDNS answer parsers) as
# part of make check: no crash, no leak, no disagreement of the oracles. FUZZ_SECONDS each.
. "$PP_TOP/tests/lib.sh"
command -v clang >/dev/null 2>&1 || { echo "# skip: clang is not installed"; exit 77; }
B=$(basename "$(dirname "$PORTPILOT")")
make -s -C "$PP_TOP" B="$B" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}" >"$pp_tmp/out" 2>&1
rc=$?
sed 's/^/# /' "$pp_tmp/out" | tail -n 20
check "fuzz: both targets ran clean" [ $rc = 0 ]
for t in fuzz-table fuzz-ddns; do
	check "fuzz: $t executed inputs" grep -q '^Done [1-9][0-9]* runs' "$PP_TOP/$B/fuzz/$t.log"
done
pp_done
