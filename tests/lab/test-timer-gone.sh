#!/bin/sh
# apply --confirm whose rollback timer is gone (killed, OOM, reboot): status, apply and
# confirm say so plainly; past the deadline they roll back; confirm never persists a
# ruleset the kernel does not hold.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
waits() ( wait_for "$@" )   # a subshell: lib.sh's check and wait_for share a variable
pub=http://$LAB_PUBLIC_IP
deadline() { sed -n 's/^deadline=//p' "$S/pending"; }
past() { [ "$(date +%s)" -ge "$1" ]; }
# point web-1 (8080) at HOST's server
point() { sed -i "/^\[web-1\]/,/^internal_ip/s/^internal_ip .*/internal_ip   = $1/" "$T"; }
lab_seed_table "$T"
check "a confirmed baseline" ppq apply
check "8080 reaches .101" body_is "$LAB_INET" "$pub:8080/" srv-101

# 1. Timer killed before the deadline.
point "$LAB_SRV2_IP"
check "apply --confirm 60" ppq apply --confirm 60
check "8080 now reaches .102" body_is "$LAB_INET" "$pub:8080/" srv-102
check "the timer is killed" kill_timer "$S"
pp status >"$pp_tmp/st" 2>&1; rc=$?
check "status says the rollback timer is gone" grep -q 'rollback timer (pid [0-9]*) is gone' "$pp_tmp/st"
check "status tells what to run" grep -q 'portpilot confirm.*portpilot rollback' "$pp_tmp/st"
check "status exits 1" test $rc = 1
check "status --json: timer gone" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -q '\"pending_confirm\":{\"deadline\":[0-9]*,\"timer\":\"gone\"'"
pp apply >"$pp_tmp/out" 2>&1; rc=$?
check "apply is refused while the change is unconfirmed" test $rc = 1
check "apply says the timer is gone and what to run" grep -q 'rollback timer (pid [0-9]*) .*is gone.*portpilot confirm to keep' "$pp_tmp/out"

# Someone changes portpilot's rules meanwhile: confirm must not persist what is not in force.
if lab_nft; then
	ip netns exec "$R" nft delete element inet portpilot dnat_to '{ tcp . 8080 }'
else
	ip netns exec "$R" iptables -t nat -D PP-DT-1-65535 1
fi
cp "$S/confirmed.rules" "$pp_tmp/confirmed-before"
pp confirm >"$pp_tmp/out" 2>&1; rc=$?
check "confirm of a ruleset the kernel lost is refused" test $rc = 1
check "and says why and what to run" grep -q 'kernel no longer holds.*portpilot rollback' "$pp_tmp/out"
check "nothing was persisted" cmp -s "$pp_tmp/confirmed-before" "$S/confirmed.rules"
check "rollback works with the timer gone" ppq rollback
check "8080 reaches .101 again" body_is "$LAB_INET" "$pub:8080/" srv-101
check "nothing pending any more" test ! -e "$S/pending"

# 2. Timer killed, the kernel intact, before the deadline: confirm keeps it.
check "apply --confirm 60 again" ppq apply --confirm 60
check "the timer is killed again" kill_timer "$S"
pp confirm >"$pp_tmp/out" 2>&1; rc=$?
check "confirm with the timer gone keeps what the kernel holds" test $rc = 0
check "and says the timer was gone" grep -q 'rollback timer (pid [0-9]*) was gone' "$pp_tmp/out"
check "confirmed.rules is what was applied" cmp -s "$S/applied.rules" "$S/confirmed.rules"
check "8080 still reaches .102" body_is "$LAB_INET" "$pub:8080/" srv-102

# 3. Timer killed and the deadline passed: confirm rolls back instead.
point "$LAB_SRV3_IP"
check "apply --confirm 3" ppq apply --confirm 3
check "the timer is killed before its deadline" kill_timer "$S"
check "8080 reaches .103 (unconfirmed)" body_is "$LAB_INET" "$pub:8080/" srv-103
dl=$(deadline)
check "the deadline passes" waits 8 past $((dl + 1))
check "status: deadline passed, run rollback" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -q 'deadline passed.*portpilot rollback'"
pp confirm >"$pp_tmp/out" 2>&1; rc=$?
check "a late confirm is refused" test $rc = 1
check "it says it rolls back" grep -q 'is gone.*deadline passed at.*rolling back' "$pp_tmp/out"
check "8080 is back on .102 (the confirmed rules)" body_is "$LAB_INET" "$pub:8080/" srv-102
check "status reports the rollback" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -q '^rolled back'"

# 4. The same found by the next apply: it rolls back first, then applies.
check "apply --confirm 3 once more" ppq apply --confirm 3
check "the timer is killed once more" kill_timer "$S"
dl=$(deadline)
check "the deadline passes again" waits 8 past $((dl + 1))
point "$LAB_SRV1_IP"
pp apply >"$pp_tmp/out" 2>&1; rc=$?
check "the next apply succeeds" test $rc = 0
check "after rolling back the stale change" grep -q 'is gone.*rolling back' "$pp_tmp/out"
check "8080 reaches .101 (the new apply)" body_is "$LAB_INET" "$pub:8080/" srv-101
check "nothing pending" test ! -e "$S/pending"
# 5. An apply stopped after writing its record but before its timer had a pid: the record
# has no pid line. Until the deadline the timer counts as starting; after it, as gone.
point "$LAB_SRV2_IP"
check "apply --confirm 3 a last time" ppq apply --confirm 3
check "its timer is killed" kill_timer "$S"
sed -i '/^pid=/d' "$S/pending"
check "a record without a pid is not gone before its deadline" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -q 'is gone'"
dl=$(deadline)
check "its deadline passes" waits 8 past $((dl + 1))
check "then status names a timer that never started" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -q 'rollback timer (never started) is gone.*deadline passed'"
check "and rollback works" ppq rollback
check "8080 reaches .101 again, once more" body_is "$LAB_INET" "$pub:8080/" srv-101
pp_done
