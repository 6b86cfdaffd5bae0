#!/bin/sh
# status sees what no single mapping shows: hooks and tree jumps deleted or added by hand
# (ruleset drift), and mappings still in the kernel that the table no longer has (orphans).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
ipt() { ip netns exec "$R" iptables "$@"; }
# status_has TEXT: plain status output holds TEXT (fixed string); st_rc: its exit code.
status_has() { pp status 2>&1 | grep -qF -- "$1"; }
json_has() { pp status --json 2>&1 | grep -qF -- "$1"; }
exits1() { ! ppq status; }
clean() { ppq status && json_has '"ruleset":"in_sync","ruleset_drift":[],"orphans":[]'; }
lab_seed_table "$T"
check "apply" ppq apply
check "status: clean after apply" clean

ipt -t nat -D PREROUTING -j PP-PRE
check "a deleted PREROUTING hook is ruleset drift" status_has "ruleset drifted"
check "naming the missing hook" status_has "  nat: missing -A PREROUTING -j PP-PRE"
check "every mapping reads drifted, not in_sync" sh -c "[ \$(ip netns exec $R $PORTPILOT -f $T --state-dir $S status | grep -c ' drifted ') = 3 ]"
check "status exits 1" exits1
check "status --json: ruleset drifted" json_has '"ruleset":"drifted","ruleset_drift":["nat: missing -A PREROUTING -j PP-PRE"]'
check "apply repairs it" ppq apply
check "status: clean again" clean

ipt -D FORWARD -j PP-FWD
check "a deleted FORWARD hook is ruleset drift" status_has "  filter: missing -A FORWARD -j PP-FWD"
ppq apply
ipt -t nat -D PP-DNAT -p tcp -g PP-DT-1-65535
check "a deleted tree jump is ruleset drift" status_has "  nat: missing -A PP-DNAT -p tcp -g PP-DT-1-65535"
ppq apply
ipt -I PP-FWD 1 -j ACCEPT
check "a rule added to portpilot's chain is ruleset drift" status_has "  filter: unexpected -A PP-FWD -j ACCEPT"
check "apply removes it" ppq apply
check "status: clean once more" clean

# web-3 taken out of the table without an apply: its rules are still live.
sed -i '/^\[web-3\]/,$d' "$T"
check "a mapping gone from the table but still in the kernel is an orphan" \
	status_has "orphan: web-3 has rules in the kernel but no section in the table"
check "status --json: orphans" json_has '"orphans":["web-3"]'
check "status exits 1 with an orphan" exits1
check "apply removes the orphan's rules" ppq apply
check "status: clean at the end" clean

# Another tool's rules ahead of portpilot's: the mapping's own rules are exact, yet it does not work.
ipt -t nat -I PREROUTING 1 -p tcp --dport 8080 -j DNAT --to-destination "$LAB_SRV3_IP:80"
check "a foreign DNAT ahead: outside curl reaches the other server" body_is "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/" srv-103
check "status: web-1 shadowed" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status | grep -q '^web-1  *shadowed '"
check "naming the rule and where it sends the traffic" \
	status_has 'shadowed by a rule ahead of portpilot'"'"'s: nat PREROUTING: "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80"'
check "status exits 1 with a shadowed mapping" exits1
ipt -t nat -D PREROUTING 1
ipt -I FORWARD 1 -d "$LAB_SRV2_IP" -p tcp --dport 80 -j REJECT
check "a foreign REJECT ahead of portpilot's accept: status says web-2 blocked" \
	json_has '"name":"web-2","state":"blocked"'
check "status exits 1 with a blocked mapping" exits1
ipt -D FORWARD 1
check "status: clean once the foreign rules are gone" clean
pp_done
