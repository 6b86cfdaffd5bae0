#!/bin/sh
# The seed site through a real router: forwards, hairpin on/off, disable cuts, status and dry-run.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
pub=http://$LAB_PUBLIC_IP
lab_seed_table "$T"

check "nothing forwards before apply" no_answer "$LAB_INET" "$pub:8080/"
pp apply --dry-run >"$pp_tmp/dry" 2>&1
check "dry-run shows the three mappings" grep -q '^+ web-3' "$pp_tmp/dry"
check "dry-run leaves the kernel alone" sh -c "! ip netns exec $LAB_ROUTER iptables-save | grep -q PP-"
check "apply succeeds" pp apply
check "8080 reaches .101" body_is "$LAB_INET" "$pub:8080/" srv-101
check "8090 reaches .102" body_is "$LAB_INET" "$pub:8090/" srv-102
check "8091 reaches .103" body_is "$LAB_INET" "$pub:8091/" srv-103
check "other ports are not forwarded" no_answer "$LAB_INET" "$pub:8081/"
check "the router itself reaches a mapping (nat OUTPUT)" body_is "$LAB_ROUTER" "$pub:8090/" srv-102
check "hairpin: a LAN host uses the public address" body_is "$LAB_LANHOST" "$pub:8091/" srv-103
check "status: all in sync" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S status --json | grep -o 'state.:.in_sync' | wc -l | grep -qx 3"
check "status counts the connections" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S status --json | grep -q '\"name\":\"web-1\",\"state\":\"in_sync\",\"packets\":[1-9]'"
check "re-apply changes nothing" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S apply | grep -q 'nothing to change'"

# Someone edits a live rule: status says drifted, apply repairs it.
ip netns exec "$LAB_ROUTER" iptables -t nat -R PP-DT-1-65535 1 -p tcp --dport 8080 \
	-m comment --comment pp:web-1 -j DNAT --to-destination 192.168.2.102:80
check "a hand-edited rule shows as drifted" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S status | grep -q '^web-1 *drifted'"
PORTPILOT_TIMING=1 pp apply >"$pp_tmp/out" 2>&1
check "apply repairs the drift" grep -q '^applied: 1 mapping' "$pp_tmp/out"
check "a foreign change makes apply read the kernel again" grep -q '^timing: read-kernel' "$pp_tmp/out"
check "8080 reaches .101 again" body_is "$LAB_INET" "$pub:8080/" srv-101

sed -i 's/^hairpin *=.*/hairpin = no/' "$T"
check "apply without hairpin" pp apply
check "no hairpin: the LAN host cannot use the public address" no_answer "$LAB_LANHOST" "$pub:8091/"
check "no hairpin: the internet still can" body_is "$LAB_INET" "$pub:8091/" srv-103
sed -i 's/^hairpin *=.*/hairpin = yes/' "$T"

sed -i '/^\[web-1\]/a enabled = no' "$T"
check "apply with web-1 disabled" pp apply
check "disabling web-1 cuts it" no_answer "$LAB_INET" "$pub:8080/"
check "web-2 still works" body_is "$LAB_INET" "$pub:8090/" srv-102
check "status: web-1 inactive" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S status | grep -q '^web-1 *inactive'"
sed -i '/^enabled = no$/d' "$T"
check "re-enable and apply" pp apply
check "web-1 is back" body_is "$LAB_INET" "$pub:8080/" srv-101

# ip_forward is checked, never changed silently.
ip netns exec "$LAB_ROUTER" sysctl -qw net.ipv4.ip_forward=0
sed -i 's/^public_port *= 8091/public_port = 8092/' "$T"
pp apply >"$pp_tmp/out" 2>&1
check "ip_forward=0 is reported" grep -q 'ip_forward is 0' "$pp_tmp/out"
check "ip_forward stays 0 without --enable-forwarding" sh -c "[ \$(ip netns exec $LAB_ROUTER sysctl -n net.ipv4.ip_forward) = 0 ]"
check "--enable-forwarding sets it" pp apply --enable-forwarding
check "ip_forward is 1" sh -c "[ \$(ip netns exec $LAB_ROUTER sysctl -n net.ipv4.ip_forward) = 1 ]"
check "the moved mapping answers on 8092" body_is "$LAB_INET" "$pub:8092/" srv-103

# A foreign rule ahead of portpilot's jump catches 8090: status names it.
ip netns exec "$LAB_ROUTER" iptables -t nat -I PREROUTING 1 -p tcp --dport 8090 -j DNAT --to-destination "$LAB_SRV3_IP:80"
check "the foreign rule really wins" body_is "$LAB_INET" "$pub:8090/" srv-103
ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$T" --state-dir "$S" status >"$pp_tmp/st" 2>&1
check "status: web-2 shadowed by the foreign rule" grep -q 'shadowed by.*--dport 8090 -j DNAT' "$pp_tmp/st"
check "status --json: shadowed_by" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S status --json | grep -q '\"name\":\"web-2\".*\"shadowed_by\":\"-A PREROUTING'"
ip netns exec "$LAB_ROUTER" iptables -t nat -D PREROUTING 1

# FORWARD policy DROP: portpilot's accept carries the mappings; a DROP ahead of it is reported.
ip netns exec "$LAB_ROUTER" iptables -P FORWARD DROP
check "FORWARD policy DROP: mappings still work" body_is "$LAB_INET" "$pub:8080/" srv-101
check "FORWARD policy DROP: hairpin too" body_is "$LAB_LANHOST" "$pub:8080/" srv-101
ip netns exec "$LAB_ROUTER" iptables -I FORWARD 1 -p tcp -j DROP
pp apply >"$pp_tmp/out" 2>&1
check "a DROP ahead of portpilot's accept is reported" grep -q 'FORWARD policy is DROP and "-A FORWARD -p tcp -j DROP"' "$pp_tmp/out"
# Nothing changed since: the next apply trusts its record of the kernel (applied.gen) and still warns.
PORTPILOT_TIMING=1 pp apply >"$pp_tmp/out" 2>&1
check "an apply from the record of the kernel warns too" grep -q 'FORWARD policy is DROP and "-A FORWARD -p tcp -j DROP"' "$pp_tmp/out"
# Only nf_tables has a generation counter to prove the record current; legacy reads the kernel.
if iptables -V | grep -q nf_tables; then
	check "and it did use the record, not iptables-save" grep -q '^timing: read-cached' "$pp_tmp/out"
else
	check "legacy has no generation to trust: it read the kernel" grep -q '^timing: read-kernel' "$pp_tmp/out"
fi
ip netns exec "$LAB_ROUTER" iptables -D FORWARD 1
ip netns exec "$LAB_ROUTER" iptables -P FORWARD ACCEPT
ip netns exec "$LAB_ROUTER" sysctl -qw net.ipv4.conf.all.rp_filter=1
pp apply >"$pp_tmp/out" 2>&1
check "strict rp_filter is reported" grep -q 'rp_filter=1' "$pp_tmp/out"
ip netns exec "$LAB_ROUTER" sysctl -qw net.ipv4.conf.all.rp_filter=0

# Bad tables stop before the kernel.
printf '[broken]\npublic_port = 99999\ninternal_ip = 192.168.2.101\n' >>"$T"
check "a table with errors is refused" sh -c "! ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
check "and the rules stay" body_is "$LAB_INET" "$pub:8080/" srv-101
pp_done
