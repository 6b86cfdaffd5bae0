#!/bin/sh
# Temporary access ends on time: apply --expire (the expire timer's command) drops only what expired.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$T" --state-dir "$S" "$@" >>"$pp_tmp/log" 2>&1; }
waits() ( wait_for "$@" )
pub=http://$LAB_PUBLIC_IP
lab_seed_table "$T"
check "expire with nothing persisted is a no-op" pp apply --expire
ends=$(date -d '+3 seconds' +%Y-%m-%dT%H:%M:%S)
end_s=$(date -d "$ends" +%s)
sed -i "/^\[web-1\]/a expires = $ends" "$T"
check "apply a mapping that expires in 3 s" pp apply
check "it works before it expires" body_is "$LAB_INET" "$pub:8080/" srv-101
# An edit the engineer has not applied yet must not be applied by the timer.
sed -i 's/^internal_ip *= 192.168.2.102/internal_ip = 192.168.2.103/' "$T"
check "time passes the expiry" waits 6 sh -c "[ \$(date +%s) -ge $end_s ]"
check "apply --expire" pp apply --expire
check "the expired mapping is cut" no_answer "$LAB_INET" "$pub:8080/"
check "the unapplied edit stays unapplied" body_is "$LAB_INET" "$pub:8090/" srv-102
check "the others still work" body_is "$LAB_INET" "$pub:8091/" srv-103
check "the persisted ruleset lost it" sh -c "! grep -q 'pp:web-1' $S/confirmed.rules"
pp_done
