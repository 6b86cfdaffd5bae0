#!/bin/sh
# Issue 14.6 on either backend (PP_BACKEND=nftables: tests/lab/test-nft-suites.sh): status and
# apply --dry-run come from one plan. The mappings status does not call in_sync are exactly the
# dry run's "changed", and status's ruleset drift lines are exactly the dry run's layout lines
# (--json "layout", and the same lines in its text), in states made by hand and by the table:
# a layout rule deleted, one mapping's rule deleted, public_ip, [site] hairpin, a mapping's own
# hairpin, a port list, applied.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
rx() { ip netns exec "$R" "$@"; }

agree() {
	pp status --json >"$pp_tmp/st.json" 2>/dev/null
	pp apply --dry-run --json >"$pp_tmp/dry.json" 2>/dev/null || return 1
	pp apply --dry-run >"$pp_tmp/dry.txt" 2>/dev/null || return 1
	a=$(jq -r '[.mappings[] | select(.state=="missing" or .state=="drifted" or .state=="stale") | .name] | sort | join(",")' "$pp_tmp/st.json")
	b=$(jq -r '.changed | sort | join(",")' "$pp_tmp/dry.json")
	c=$(jq -r '.ruleset_drift[]' "$pp_tmp/st.json")
	d=$(jq -r '.layout[]' "$pp_tmp/dry.json")
	e=$(sed -n 's/^    \(nat: \|filter: \|table inet portpilot: \)/\1/p' "$pp_tmp/dry.txt")
	[ -n "$a$b$c$d$e" ] || [ "$1" = clean ] || { echo "# nothing differs where something should"; return 1; }
	[ "$a" = "$b" ] && [ "$c" = "$d" ] && [ "$c" = "$e" ] ||
		{ echo "# status: [$a] [$c]; dry run: [$b] [$d] text [$e]"; return 1; }
}
states() { pp status --json | jq -r '[.mappings[].state] | join(",")'; }
rows() { [ "$(states)" = "$1" ] || { echo "# rows: $(states), want $1"; return 1; }; }
ruleset_drifted() { pp status --json | jq -e '.ruleset == "drifted" and (.ruleset_drift | length) > 0' >/dev/null; }

lab_seed_table "$T"
# Never applied: every mapping missing, and the dry run writes them all.
check "never applied: rows missing" rows missing,missing,missing
check "never applied: status and the dry run agree" agree
check "apply" ppq apply
check "in sync: rows" rows in_sync,in_sync,in_sync
check "in sync: status and the dry run agree" agree clean

# A layout rule deleted by hand: the rows stay in sync (the dry run rewrites no mapping), the
# ruleset line says what is missing.
if lab_nft; then
	rx nft flush chain inet portpilot forward
else
	rx iptables -D FORWARD -j PP-FWD
fi
check "layout rule deleted: rows in sync" rows in_sync,in_sync,in_sync
check "layout rule deleted: ruleset drifted" ruleset_drifted
check "layout rule deleted: the dry run changes no mapping" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run --json | jq -e '.changed == [] and (.layout | length) > 0' >/dev/null"
check "layout rule deleted: status and the dry run agree" agree
check "apply repairs it" ppq apply
check "repaired: agree" agree clean

# One mapping's own rule deleted by hand (its only one: an open single port): that mapping alone, missing.
if lab_nft; then
	rx nft delete element inet portpilot dnat_to '{ tcp . 8090 }'
else
	rx sh -c "iptables-save -t nat | grep -- '-A PP-D.*pp:web-2' | head -1 | sed 's/^-A/-D/' | xargs iptables -t nat"
fi
check "web-2's rule deleted: web-2 alone missing" rows in_sync,missing,in_sync
check "web-2's rule deleted: status and the dry run agree" agree
ppq apply
# web-1's rule re-targeted by hand: web-1 alone, drifted.
if lab_nft; then
	rx nft delete element inet portpilot dnat_to '{ tcp . 8080 }'
	rx nft add element inet portpilot dnat_to "{ tcp . 8080 comment \"pp:web-1\" : $LAB_SRV3_IP . 80 }"
else
	rx sh -c "iptables-save -t nat | grep -- '-A PP-D.*pp:web-1' | head -1 | sed 's/^-A/-D/' | xargs iptables -t nat"
	rx sh -c "iptables-save -t nat | grep -- '-A PP-D.*pp:web-2' | head -1 | sed 's/pp:web-2/pp:web-1/; s/$LAB_SRV2_IP/$LAB_SRV3_IP/' | xargs iptables -t nat"
fi
check "web-1 re-targeted: web-1 alone drifted" rows drifted,in_sync,in_sync
check "web-1 re-targeted: status and the dry run agree" agree
ppq apply

# Site changes: layout only, the rows follow the plan.
sed -i "s/^public_ip .*/public_ip     = $LAB_PUBLIC_IP/" "$T"
check "public_ip: rows in sync" rows in_sync,in_sync,in_sync
check "public_ip: ruleset drifted" ruleset_drifted
check "public_ip: agree" agree
sed -i "s/^hairpin .*/hairpin       = no/" "$T"
check "[site] hairpin off: agree" agree
# A mapping's own hairpin and a port list: those mappings, in both.
sed -i "/^\[web-2\]/a hairpin = yes" "$T"
sed -i "/^\[web-3\]/,\$s/^public_port .*/public_port   = 8091,9001/; /^\[web-3\]/,\$s/^internal_port .*/internal_port = 80,81/" "$T"
check "web-2 hairpin = yes, web-3 a list: those two drifted" rows in_sync,drifted,drifted
check "web-2 hairpin = yes, web-3 a list: agree" agree
check "apply" ppq apply
check "applied: rows in sync" rows in_sync,in_sync,in_sync
check "applied: agree" agree clean
check "applied: status exits 0" ppq status
pp_done
