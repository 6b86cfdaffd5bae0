#!/bin/sh
# Issue 14.13 with real traffic: port lists in one mapping (public_port = 8090,8443 reaches both
# ports; internal_port left out means the same ports) and hairpin per mapping (hairpin = no on
# one mapping of a hairpin site: a LAN client at the public address fails for it only; hairpin =
# yes on one mapping of a site without: it alone works from the LAN). Runs on either backend
# (PP_BACKEND=nftables: tests/lab/test-nft-suites.sh).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
pub=http://$LAB_PUBLIC_IP
lab_serve "$LAB_SRV2" 8443 srv-102-8443
lab_serve "$LAB_SRV3" 8091 srv-103-8091
lab_serve "$LAB_SRV3" 9000 srv-103-9000
cat >"$T" <<EOT
[site]
wan_interface = $LAB_WAN_IF
lan_interface = $LAB_LAN_IF
lan_subnet    = $LAB_LAN_SUBNET
public_ip     = auto
hairpin       = yes

[web-1]
public_port   = 8080
internal_ip   = $LAB_SRV1_IP
internal_port = 80
hairpin       = no

[web-2]
public_port   = 8090,8443
internal_ip   = $LAB_SRV2_IP
internal_port = 80,8443

[web-3]
public_port   = 8091,9000
internal_ip   = $LAB_SRV3_IP
EOT
check "check: the lists are valid" ppq check
check "apply" ppq apply
insync() { pp status --json | jq -e '[.mappings[].state] == ["in_sync","in_sync","in_sync"] and .ruleset == "in_sync"' >/dev/null; }
check "status: every mapping in sync with its own rules" insync

check "outside: web-2's first port (8090 -> 80)" body_is "$LAB_INET" "$pub:8090/" srv-102
check "outside: web-2's second port (8443 -> 8443)" body_is "$LAB_INET" "$pub:8443/" srv-102-8443
check "outside: web-3, internal_port left out: 8091 -> 8091" body_is "$LAB_INET" "$pub:8091/" srv-103-8091
check "outside: web-3, internal_port left out: 9000 -> 9000" body_is "$LAB_INET" "$pub:9000/" srv-103-9000
check "outside: a port in no list (8444) does not answer" no_answer "$LAB_INET" "$pub:8444/"
check "outside: web-1 (hairpin = no changes nothing outside)" body_is "$LAB_INET" "$pub:8080/" srv-101

check "LAN via the public address: web-1 (hairpin = no) fails" no_answer "$LAB_LANHOST" "$pub:8080/"
if lab_nft; then
	# nftables: a list is one element per port, the hairpin = no mapping's ports in @hairpin_off
	check "nftables: web-2's list is an element per port" \
		sh -c "ip netns exec $R nft list map inet portpilot dnat_to | grep -q 'tcp . 8443 .*pp:web-2.* : $LAB_SRV2_IP . 8443' && ip netns exec $R nft list map inet portpilot dnat_to | grep -q 'tcp . 8090 .*pp:web-2.* : $LAB_SRV2_IP . 80'"
	check "nftables: web-1 alone in @hairpin_off" \
		sh -c "ip netns exec $R nft list set inet portpilot hairpin_off | grep -q 'tcp . 8080 comment \"pp:web-1\"' && ! ip netns exec $R nft list set inet portpilot hairpin_off | grep -q 'web-[23]'"
fi
check "LAN via the public address: web-2 (site hairpin) works, both ports" \
	sh -c ". $PP_TOP/tests/lab/lab.sh; body_is $LAB_LANHOST $pub:8090/ srv-102 && body_is $LAB_LANHOST $pub:8443/ srv-102-8443"
check "LAN via the public address: web-3 works" body_is "$LAB_LANHOST" "$pub:9000/" srv-103-9000
check "LAN: web-1's server itself still answers directly" body_is "$LAB_LANHOST" "http://$LAB_SRV1_IP/" srv-101

# The other way round: the site without hairpin, web-2 alone asks for it.
sed -i "s/^hairpin       = yes/hairpin       = no/; /^\[web-1\]/,/^\[/{/^hairpin/d}" "$T"
sed -i "/^\[web-2\]/a hairpin = yes" "$T"
check "set: site hairpin off, web-2 hairpin on" sh -c "grep -c '^hairpin' $T | grep -qx 2"
check "the dry run changes web-1 (its RETURN goes) and web-2 (its LAN entry comes), not web-3" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run --json | jq -e '(.changed | sort) == [\"web-1\",\"web-2\"]' >/dev/null"
check "status names the same two drifted, web-3 in sync" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | jq -e '[.mappings[].state] == [\"drifted\",\"drifted\",\"in_sync\"]' >/dev/null"
check "apply" ppq apply
check "status: in sync again" insync
if lab_nft; then
	check "nftables: web-2's ports alone in @hairpin_on, no @hairpin_off left" \
		sh -c "[ \$(ip netns exec $R nft list set inet portpilot hairpin_on | grep -o 'pp:web-[0-9]' | sort -u) = pp:web-2 ] && ! ip netns exec $R nft list set inet portpilot hairpin_off >/dev/null 2>&1"
fi
check "LAN via the public address: web-2 (hairpin = yes) works" body_is "$LAB_LANHOST" "$pub:8443/" srv-102-8443
check "LAN via the public address: web-3 (site default now no) fails" no_answer "$LAB_LANHOST" "$pub:9000/"
check "LAN via the public address: web-1 (site default now no) fails" no_answer "$LAB_LANHOST" "$pub:8080/"
check "outside: web-3 still works" body_is "$LAB_INET" "$pub:9000/" srv-103-9000

# A fixed public_ip renders the per-mapping entry with the address.
sed -i "s/^public_ip .*/public_ip     = $LAB_PUBLIC_IP/" "$T"
check "apply with a fixed public_ip" ppq apply
check "LAN via the fixed public address: web-2 works" body_is "$LAB_LANHOST" "$pub:8090/" srv-102
check "LAN via the fixed public address: web-3 fails" no_answer "$LAB_LANHOST" "$pub:8091/"
check "status: in sync with a fixed public_ip" insync

# Another tool's DNAT ahead on the list's second port: status names web-2 shadowed (the probe's
# words), not in_sync, though its own rules are exact.
# (nftables: another table's nat chain ahead of portpilot's, priority below dstnat - 1)
if lab_nft; then
	ip netns exec "$R" nft -f - <<EOF2
table ip early {
	chain pre {
		type nat hook prerouting priority -150; policy accept;
		tcp dport 8443 dnat to $LAB_SRV3_IP:8091
	}
}
EOF2
else
	ip netns exec "$R" iptables -t nat -I PREROUTING 1 -p tcp --dport 8443 -j DNAT --to-destination "$LAB_SRV3_IP:8091"
fi
check "a foreign DNAT on 8443: outside reaches the other server" body_is "$LAB_INET" "$pub:8443/" srv-103-8091
check "status: web-2 shadowed on its second port" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | jq -e '.mappings[1].state == \"shadowed\"' >/dev/null"
check "apply --dry-run warns: web-2 shadowed (its second port)" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run 2>&1 | grep -q 'warning: \[web-2\].*shadowed: '"
if lab_nft; then
	ip netns exec "$R" nft delete table ip early
else
	ip netns exec "$R" iptables -t nat -D PREROUTING 1
fi
check "status: in sync once it is gone" insync

# Bad lists are findings with file:line, field and fix; nothing is applied.
cp "$T" "$pp_tmp/good.ini"
sed -i "/^\[web-3\]/a internal_port = 80" "$T"
line=$(grep -n '^internal_port = 80$' "$T" | cut -d: -f1)
check "a list with a single internal_port: file:line, mapping, field" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S check 2>&1 | grep -qF '$T:$line: error: [web-3] internal_port: public_port lists 2 element(s) but internal_port 1'"
check "apply refuses it" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
check "and the kernel still answers on web-3" body_is "$LAB_INET" "$pub:9000/" srv-103-9000
pp_done
