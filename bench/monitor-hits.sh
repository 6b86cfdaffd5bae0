#!/bin/sh
# What one read of the kernel's hit counters costs the monitor's loop (its metrics read them
# through the same calls as `portpilot status`): `portpilot status` on 2,000 applied mappings
# in a lab router, three times. The monitor reads them every 30 s, or every 500x this time.
# Usage: sh bench/monitor-hits.sh   (root: it builds a lab namespace; not part of make bench)
PP_TOP=$(cd "$(dirname "$0")/.." && pwd)
export PP_TOP
: "${PORTPILOT:=$PP_TOP/build/portpilot}"
. "$PP_TOP/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
if [ "$(id -u)" != 0 ]; then echo "monitor-hits: skipped (needs root)"; exit 0; fi
lab_begin
lab_seed_table "$T"
i=0
while [ $i -lt 2000 ]; do
	printf '\n[m%d]\npublic_port = %d\ninternal_ip = %s\ninternal_port = 80\n' $i $((20000 + i)) "$LAB_SRV1_IP"
	i=$((i + 1))
done >>"$T"
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$pp_tmp/apply.log" 2>&1 ||
	{ echo "monitor-hits: apply failed"; cat "$pp_tmp/apply.log"; exit 1; }
for k in 1 2 3; do
	t0=$(date +%s%N)
	lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" status >/dev/null 2>&1
	t1=$(date +%s%N)
	echo "status with $(grep -c '^\[' "$T") sections (the backend read and the status read): $(( (t1 - t0) / 1000000 )) ms"
done
pp_done
