#!/bin/sh
# The IPv6 keys of a mapping (issue 15 item 1): internal_ip6 (an address or a host id on the LAN's
# prefix), ipv6 = yes|no|only, IPv6 networks in allow. Every mistake is an error (or, for a
# sensitive service open to any IPv6 source, a warning) with file:line, mapping, field and fix;
# apply refuses a table with errors. A table that fits gives no finding.
. "$(dirname "$0")/../lib.sh"
T=$pp_tmp/t.ini
out=$pp_tmp/out
cat >"$T" <<'EOF'
[site]
wan_interface = eth0
lan_interface = lo
lan_subnet    = 192.168.2.0/24

[web]
public_port   = 8080
internal_ip   = 192.168.2.101
internal_ip6  = 2001:db8:1::1:101
allow         = 198.51.100.0/24, 2001:db8:100::/64

[cam]
public_port   = 8081
internal_ip6  = 2001:db8:1::1:103
ipv6          = only
allow         = 2001:db8:100::/64
EOF
chk() { "$PORTPILOT" -f "$T" check >"$out" 2>&1; }
has() { grep -qF -- "$1" "$out"; }
check "a table that fits: check exits 0" chk
check "and says nothing about IPv6" sh -c "! grep -qi 'ipv6\|internal_ip6' $out"

# Each broken table on its own, its line and words asserted.
case_of() { # NAME KEYS...: a [site] and one mapping with these keys
	_n=$1; shift
	{ printf '[site]\nwan_interface = eth0\nlan_interface = lo\n\n[%s]\npublic_port = 8080\ninternal_ip = 192.168.2.101\n' "$_n"
	  for kv in "$@"; do printf '%s\n' "$kv"; done; } >"$T"
	! chk
}
check "bad address: refused" case_of a "internal_ip6 = 2001:db8::zz"
check "  at its line, naming field and fix" has "t.ini:8: error: [a] internal_ip6: '2001:db8::zz' is not an IPv6 address"
check "  with an example of both forms" has "2001:db8:2::101) or a host id on the LAN's prefix (e.g. ::1:101)"
check "link-local address: refused" case_of b "internal_ip6 = fe80::1"
check "  as not reachable from the internet" has "t.ini:8: error: [b] internal_ip6: 'fe80::1' is not a global unicast address"
check "a host id with no prefix on the LAN interface: refused" case_of c "internal_ip6 = ::1:101"
check "  saying which interface lacks it" has "t.ini:8: error: [c] internal_ip6: ::1:101 is a host id but lo has no global IPv6 prefix now"
check "  fix" has "write the server's full address"
check "ipv6 = maybe: refused" case_of d "ipv6 = maybe"
check "  at its line" has "t.ini:8: error: [d] ipv6: 'maybe' is not yes, no or only"
check "ipv6 = yes without internal_ip6: refused" case_of e "ipv6 = yes"
check "  naming the missing key" has "t.ini:8: error: [e] internal_ip6: ipv6 = yes but internal_ip6 is missing"
check "IPv6 network with host bits: refused" case_of f "internal_ip6 = 2001:db8:1::5" "allow = 2001:db8:1::1/48"
check "  with the network to write" has "t.ini:9: error: [f] allow: '2001:db8:1::1/48' has host bits set"
check "  fix" has "write the network 2001:db8:1::/48, or 2001:db8:1::1/128 for one host"
check "an allow of IPv4 sources only, with IPv6 on: refused (it says nothing of IPv6 sources)" \
	case_of g "internal_ip6 = 2001:db8:1::5" "allow = 198.51.100.0/24"
check "  at allow's line" has "t.ini:9: error: [g] allow: allow lists only IPv4 sources"
check "an allow of IPv6 sources only, ipv6 = yes: refused (it says nothing of IPv4)" \
	case_of h "internal_ip6 = 2001:db8:1::5" "allow = 2001:db8:100::/64"
check "  at allow's line" has "t.ini:9: error: [h] allow: allow lists only IPv6 sources"
# public port != internal port over IPv6 is NAT66 (a DNAT on the router's IPv6 address), on both backends.
printf '[site]\nwan_interface = eth0\n\n[i]\npublic_port = 8080\ninternal_port = 80\ninternal_ip = 192.168.2.101\ninternal_ip6 = 2001:db8:1::5\n' >"$T"
check "NAT66 (public port != internal port over IPv6): check clean" chk
check "  and no longer 'not supported'" sh -c "! grep -q 'not supported' $out"
check "nat66 = maybe: refused" case_of j "internal_ip6 = 2001:db8:1::5" "nat66 = maybe"
check "  at its line, with what it does" has "t.ini:9: error: [j] nat66: 'maybe' is not yes or no (nat66 = yes: over IPv6 the router's own address"
check "nat66 = yes on a mapping not published over IPv6: refused" case_of k "nat66 = yes"
check "  saying so" has "t.ini:8: error: [k] nat66: nat66 = yes but the mapping is not published over IPv6"
printf '[site]\nwan_interface = eth0\n\n[l]\npublic_port = 8080\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\nnat66 = yes\n' >"$T"
check "nat66 = yes with the same port: check clean" chk
# NAT66 claims the router's public port: two of them on one port conflict, one beside a
# pinhole to the same server port does not.
{ printf '[site]\nwan_interface = eth0\n\n[a]\npublic_port = 8443\ninternal_port = 8080\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\n'
  printf '\n[b]\npublic_port = 8080\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\nnat66 = yes\n'
  printf '\n[c]\npublic_port = 8080\ninternal_ip6 = 2001:db8:1::6\nipv6 = only\nnat66 = yes\n'
  printf '\n[d]\npublic_port = 8080\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\n'; } >"$T"
chk
check "two NAT66 mappings on one public port: a conflict" has "t.ini:18: error: [c] internal_ip6: tcp [router]:8080 over IPv6 is also opened by [b] (line 10)"
check "  and the only one" sh -c "grep -c 'also opened by' $out | grep -qx 1"
printf '[site]\nwan_interface = eth0\n\n[ssh]\npublic_port = 22\nipv6 = only\ninternal_ip6 = 2001:db8:1::22\n' >"$T"
chk
check "SSH open to any IPv6 source: a warning" has "t.ini:4: warning: [ssh] allow: SSH is open to any IPv6 source"
check "  fix" has "set allow = the IPv6 networks that need it"
check "ipv6 = only needs no internal_ip" sh -c "! grep -q 'internal_ip is missing' $out"
# A port list (public_port = 80,443) opens every element over IPv6: each one claims its port.
{ printf '[site]\nwan_interface = eth0\n\n[a]\npublic_port = 80,443\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\n'
  printf '\n[b]\npublic_port = 443\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\n'
  printf '\n[n]\npublic_port = 8443,8444\ninternal_port = 8080,8081\ninternal_ip6 = 2001:db8:1::6\nipv6 = only\n'
  printf '\n[m]\npublic_port = 8444\ninternal_port = 9000\ninternal_ip6 = 2001:db8:1::7\nipv6 = only\n'
  printf '\n[s]\npublic_port = 8080,22\ninternal_ip6 = 2001:db8:1::22\nipv6 = only\n'; } >"$T"
chk
check "a list's second element and another pinhole: a conflict" has "t.ini:11: error: [b] internal_ip6: tcp [2001:db8:1::5]:443 over IPv6 is also opened by [a] (line 4)"
check "a NAT66 list's second public port and another NAT66: a conflict" has "t.ini:23: error: [m] internal_ip6: tcp [router]:8444 over IPv6 is also opened by [n] (line 14)"
check "  and no other" sh -c "grep -c 'also opened by' $out | grep -qx 2"
check "SSH as a list's second element, open to any IPv6 source: a warning" has "t.ini:26: warning: [s] allow: SSH is open to any IPv6 source"
{ printf '[site]\nwan_interface = eth0\n\n[a]\npublic_port = 8080\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\n'
  printf '\n[b]\npublic_port = 8080\ninternal_ip6 = 2001:db8:1::5\nipv6 = only\n'
  printf '\n[c]\npublic_port = 8080\ninternal_ip = 192.168.2.7\n'; } >"$T"
chk
check "two pinholes to one address and port: a conflict" has "t.ini:11: error: [b] internal_ip6: tcp [2001:db8:1::5]:8080 over IPv6 is also opened by [a] (line 4)"
check "an ipv6 = only mapping claims no IPv4 public port" sh -c "! grep -q 'also claimed by' $out"
printf '[site]\nwan_interface = eth0\n\n[a]\npublic_port = 8080\ninternal_ip = 192.168.2.7\nallow = 2001:db8:100::/64, 198.51.100.7\nipv6 = no\n' >"$T"
chk
check "IPv6 sources on a mapping with ipv6 = no: a warning that nothing is opened for them" \
	has "t.ini:7: warning: [a] allow: allow lists IPv6 sources but the mapping is not published over IPv6"
printf '[site]\nwan_interface = eth0\n\n[a]\npublic_port = 8080\ninternal_ip = 192.168.2.7\nallow = 2001:db8:100::/64\n' >"$T"
! chk
check "ipv6 = no and allow of IPv6 sources only: an error (IPv4 would be open to all)" \
	has "t.ini:7: error: [a] allow: allow lists only IPv6 sources, so it says nothing about who may connect over IPv4"

# list shows the IPv6 side: the address (host id resolved), only-mappings, mixed allow lists.
printf '[site]\nwan_interface = eth0\nlan_interface = lo\n\n[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_ip6 = 2001:db8:1::1:101\nallow = 198.51.100.0/24, 2001:db8:100::/64\n\n[cam]\npublic_port = 8081\nipv6 = only\ninternal_ip6 = 2001:db8:1::1:103\nallow = 2001:db8:100::/64\n\n[old]\npublic_port = 9000\ninternal_ip = 192.168.2.7\n\n[n66]\npublic_port = 8443\ninternal_port = 8080\nipv6 = only\ninternal_ip6 = 2001:db8:1::1:102\nallow = 2001:db8:100::/64\n' >"$T"
"$PORTPILOT" -f "$T" list >"$out" 2>&1
check "list: the pinhole's address and port under the mapping" grep -Eq '^ +ipv6 +8080 +\[2001:db8:1::1:101\]:8080$' "$out"
check "list: a mixed allow list shown whole" grep -q '^web .*198.51.100.0/24,2001:db8:100::/64' "$out"
check "list: ipv6 = only is enabled, IPv6 only, its IPv6 sources (not any)" grep -Eq '^cam +enabled .*\(IPv6 only\) +2001:db8:100::/64' "$out"
check "list: a mapping without IPv6 has no ipv6 line" sh -c "[ \$(grep -c ' ipv6 ' $out) = 3 ]"
check "list: NAT66 shows the router's public port and the server's" grep -Eq '^ +ipv6 +8443 +\[2001:db8:1::1:102\]:8080 \(NAT66\)$' "$out"
"$PORTPILOT" -f "$T" --json list >"$out" 2>&1
jqe() { jq -e "$@" >/dev/null; }
check "list --json: ipv6, internal_ip6, allow6" grep -qF '"ipv6":"only","internal_ip6":"2001:db8:1::1:103","allow6":["2001:db8:100::/64"]' "$out"
check "list --json: an IPv6-only allow list is not allow_any" jq -e '[.mappings[] | select(.ipv6 == "only")] | length > 0 and all(.allow_any == false)' "$out"
check "list --json: no IPv6: ipv6 no, internal_ip6 null" grep -qF '"ipv6":"no","internal_ip6":null,"allow6":[],"ipv6_way":null' "$out"
check "list --json: ipv6_way pinhole or nat66" jqe '[.mappings[] | .ipv6_way] == ["pinhole", "pinhole", null, "nat66"]' "$out"
"$PORTPILOT" -f "$T" export --format csv >"$out" 2>&1
check "export: the IPv6 columns last" sh -c "head -1 $out | grep -q ',\"State\",\"IPv6 (server address)\",\"IPv6 mode\",\"Internal IPv6\",\"IPv6 host id\",\"IPv6 way in\",\"IPv6 allowed sources\"\$'"
check "export: the pinhole's address and port, mode, way in, IPv6 sources" \
	grep -q '^"web",.*,"\[2001:db8:1::1:101\]:8080","yes","2001:db8:1::1:101","","pinhole","2001:db8:100::/64"$' "$out"
check "export: ipv6 = only has no IPv4 public address, and says so" grep -q '^"cam","cam","","8081",.*"\[2001:db8:1::1:103\]:8081 (IPv6 only)","only",' "$out"
check "export: no IPv6: mode no, the other IPv6 cells empty" grep -q '^"old",.*,"enabled","","no","","","",""$' "$out"
check "export: NAT66: the router's port, the server's, way in nat66, its IPv6 sources" \
	grep -q "^\"n66\",.*,\"\\[2001:db8:1::1:102\\]:8080 (NAT66 from the router's port 8443) (IPv6 only)\",\"only\",\"2001:db8:1::1:102\",\"\",\"nat66\",\"2001:db8:100::/64\"\$" "$out"
"$PORTPILOT" -f "$T" export --format json >"$out" 2>&1
check "export --format json: \"ipv6\" per mapping" grep -qF '"state":"enabled","ipv6":"[2001:db8:1::1:101]:8080","ipv6_mode":"yes"' "$out"
check "export --format json: the IPv6 allow list apart from the mixed one" \
	jqe '.mappings[0].allow == "198.51.100.0/24,2001:db8:100::/64" and .mappings[0].allow6 == "2001:db8:100::/64"' "$out"
check "export --format json: the NAT66 mapping's way in" jqe '.mappings[3].ipv6_way == "nat66" and .mappings[3].internal_ip6 == "2001:db8:1::1:102"' "$out"
# A host id: as written, and its address only when the LAN has a prefix (lo has none).
printf '[site]\nwan_interface = eth0\nlan_interface = lo\n\n[hid]\npublic_port = 8090\ninternal_ip6 = ::1:104\nipv6 = only\nallow = 2001:db8:100::/64\n' >"$T"
"$PORTPILOT" -f "$T" export --format json >"$out" 2>&1
check "export: a host id without a LAN prefix: the id, no address, says so" \
	jqe '.mappings[0] | .ipv6_host_id == "::1:104" and .internal_ip6 == "" and (.ipv6 | test("no LAN prefix"))' "$out"
case_of z "internal_ip6 = zz"
check "apply refuses a table with an IPv6 error" sh -c "! $PORTPILOT -f $T --state-dir $pp_tmp/st apply --dry-run >$out 2>&1"
check "  naming the error count" has "error(s): fix them first"
pp_done
