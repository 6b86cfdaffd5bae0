#!/bin/sh
# Issue 14.5: an apply keeps the hit counters of the mappings it did not change. web-1 takes
# real connections from outside; then web-2 changes (same leaf chain as web-1, so that chain is
# rewritten): web-1's packets must stay, through the cached read (applied.gen) and a full one,
# while the changed mapping starts again from zero.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
# pkts NAME: the packets status counts for the mapping (its DNAT rules: connections).
pkts() { pp status --json 2>/dev/null | jq -r --arg n "$1" '.mappings[] | select(.name == $n) | .packets'; }
# connect N URL: N connections from outside, each answered by the server named in $3.
connect() { _i=0; while [ $_i -lt "$1" ]; do body_is "$LAB_INET" "$2" "$3" || return 1; _i=$((_i + 1)); done; }
pub=http://$LAB_PUBLIC_IP
lab_seed_table "$T"
check "apply" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
check "5 connections to web-1 from outside" connect 5 "$pub:8080/" srv-101
check "1 connection to web-2" connect 1 "$pub:8090/" srv-102
check "status counts web-1's 5" test "$(pkts web-1)" = 5
check "and web-2's 1" test "$(pkts web-2)" = 1

# web-2 moves to .103: its leaf chain, shared with web-1, is written again.
sed -i "/^\[web-2\]/,/^\[/ s/^internal_ip .*/internal_ip   = $LAB_SRV3_IP/" "$T"
ip netns exec "$R" env PORTPILOT_TIMING=1 "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$pp_tmp/out" 2>&1
check "apply the change to web-2" grep -q '^~ web-2' "$pp_tmp/out"
check "from the record of the kernel (no full read)" grep -q '^timing: read-cached' "$pp_tmp/out"
check "web-2 now reaches .103" body_is "$LAB_INET" "$pub:8090/" srv-103
check "web-1 kept its 5 connections" test "$(pkts web-1)" = 5
check "web-3 (unchanged, never used) still 0" test "$(pkts web-3)" = 0
check "web-2 changed: its counter started again (1 since)" test "$(pkts web-2)" = 1
check "web-1 counts on" connect 2 "$pub:8080/" srv-101
check "to 7" test "$(pkts web-1)" = 7

# The same without the record: the apply reads the kernel, counters included.
rm -f "$S/applied.gen"
sed -i "/^\[web-3\]/,\$ s/^public_port .*/public_port   = 8092/" "$T"
ip netns exec "$R" env PORTPILOT_TIMING=1 "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$pp_tmp/out" 2>&1
check "apply a change to web-3" grep -q '^~ web-3' "$pp_tmp/out"
check "reading the kernel this time" grep -q '^timing: read-kernel' "$pp_tmp/out"
check "web-1 still at 7" test "$(pkts web-1)" = 7
check "web-2 still at 1" test "$(pkts web-2)" = 1
check "web-3 moved to 8092" body_is "$LAB_INET" "$pub:8092/" srv-103

# A rollback restores the old rules with the counters they have now, not zeros.
check "apply --confirm 30 of a change to web-3" sh -c "sed -i '/^\[web-3\]/,\$ s/^public_port .*/public_port   = 8093/' $T && ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --confirm 30 >/dev/null 2>&1"
check "rollback" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S rollback >/dev/null 2>&1"
check "web-1 still at 7 after the rollback" test "$(pkts web-1)" = 7
pp_done
