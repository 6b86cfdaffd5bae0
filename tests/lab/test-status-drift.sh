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
# agree: status and apply --dry-run tell one story: the mappings status does not call in_sync
# (missing, drifted, stale) are the dry run's "changed", and status's ruleset drift lines are the
# dry run's layout lines, in order.
agree() {
	pp status --json >"$pp_tmp/st.json" 2>/dev/null
	pp apply --dry-run --json >"$pp_tmp/dry.json" 2>/dev/null || return 1
	pp apply --dry-run >"$pp_tmp/dry.txt" 2>/dev/null || return 1
	a=$(jq -r '[.mappings[] | select(.state=="missing" or .state=="drifted" or .state=="stale") | .name] | sort | join(",")' "$pp_tmp/st.json")
	b=$(jq -r '.changed | sort | join(",")' "$pp_tmp/dry.json")
	c=$(jq -r '.ruleset_drift[]' "$pp_tmp/st.json")
	d=$(sed -n 's/^    \(nat\|filter\): /\1: /p' "$pp_tmp/dry.txt")
	e=$(jq -r '.layout[]' "$pp_tmp/dry.json")
	[ -n "$(cat "$pp_tmp/st.json")" ] && [ "$a" = "$b" ] && [ "$c" = "$d" ] && [ "$c" = "$e" ] ||
		{ echo "# status: [$a] [$c]; dry run: [$b] [$d] --json layout [$e]"; return 1; }
}
lab_seed_table "$T"
check "apply" ppq apply
check "status: clean after apply" clean

ipt -t nat -D PREROUTING -j PP-PRE
check "a deleted PREROUTING hook is ruleset drift" status_has "ruleset drifted"
check "naming the missing hook" status_has "  nat: missing -A PREROUTING -j PP-PRE"
# The rows are the plan's: apply --dry-run rewrites no mapping's rules here, only the hook.
check "every mapping reads in_sync, as the dry run changes none of them" sh -c "[ \$(ip netns exec $R $PORTPILOT -f $T --state-dir $S status | grep -c ' in_sync ') = 3 ]"
check "status and apply --dry-run agree (hook deleted)" agree
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
# Issue 14.6: a [site] change alone (public_ip, hairpin) changes the layout, no mapping's rules:
# status must not call every mapping drifted while the dry run changes none (9f8e31a did).
lab_seed_table "$T"
ppq apply
check "seed applied again: clean" clean
check "status and apply --dry-run agree (in sync)" agree
sed -i "s/^public_ip .*/public_ip     = $LAB_PUBLIC_IP/" "$T"
rows_in_sync() { [ "$(pp status | grep -c ' in_sync ')" = 3 ]; }
check "public_ip changed: no mapping reads drifted" rows_in_sync
check "public_ip changed: status names the hairpin entry to be written" \
	status_has "  nat: missing -A PP-PRE -s $LAB_LAN_SUBNET -d $LAB_PUBLIC_IP/32 -i $LAB_LAN_IF -g PP-MARK"
check "public_ip changed: the dry run changes no mapping" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run --json | jq -e '.changed == [] and .chains_written == 1' >/dev/null"
check "status and apply --dry-run agree (public_ip)" agree
check "status exits 1 until applied" exits1
sed -i "s/^hairpin .*/hairpin       = no/" "$T"
check "hairpin off too: no mapping reads drifted" rows_in_sync
check "status and apply --dry-run agree (hairpin off)" agree
# A mapping change on top: exactly that mapping, in both.
sed -i "/^\[web-2\]/,/^\[/s/^internal_port .*/internal_port = 81/" "$T"
check "web-2 changed too: status calls only web-2 drifted" sh -c "[ \"\$(ip netns exec $R $PORTPILOT -f $T --state-dir $S status | grep -v ' in_sync ' | grep -c '^web-')\" = 1 ] && ip netns exec $R $PORTPILOT -f $T --state-dir $S status | grep -q '^web-2  *drifted '"
check "status and apply --dry-run agree (web-2 and the site)" agree
check "apply" ppq apply
check "status: clean after the site change is applied" clean
check "status and apply --dry-run agree (applied)" agree
pp_done
