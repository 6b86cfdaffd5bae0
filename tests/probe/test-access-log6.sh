#!/bin/sh
# portpilot log over IPv6 (issue 15): real connections from outside hosts through a pinhole (no NAT,
# the server's own address) and a NAT66 mapping (the router's WAN address, another port) are
# recorded with their IPv6 source, the mapping, the server's address and the kernel's verdict; a
# NAT66 attempt from outside the allow list reaches the router untranslated and is rejected; IPv4
# beside it as before; after the LAN is renumbered the recorder matches the host id's new address.
# PP_BACKEND=nftables: the same on the nftables backend.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab6_begin outside2
lab6_servers
lab_serve "$LAB_SRV1" 8080 srv-101 || not_ok "IPv4 server on srv1:8080"
# web-6: a pinhole to srv1's host id on the LAN prefix, any source, and IPv4 too; cam6: a pinhole
# to srv3's full address for inet2's network only, TCP and UDP; web-66: NAT66, [router]:8443 ->
# [srv2]:8080, for inet2's network only.
{ lab6_site; cat <<EOT
[web-6]
public_port   = 8080
internal_ip   = $LAB_SRV1_IP
internal_ip6  = ::1:101

[cam6]
protocol      = both
public_port   = 8080
internal_ip6  = $SRV3_6
ipv6          = only
allow         = 2001:db8:100::/64

[web-66]
public_port   = 8443
internal_port = 8080
internal_ip6  = $SRV2_6
ipv6          = only
allow         = 2001:db8:100::/64
EOT
} >"$T"
lab_apply_or_die
pp status --json >"$pp_tmp/st.json" 2>&1
ways() { jq -e '[.mappings[] | {(.name): .ipv6.way}] | add == {"web-6": "pinhole", "cam6": "pinhole", "web-66": "nat66"}' \
	"$pp_tmp/st.json" >/dev/null; }
check "status: the IPv6 way in of each mapping, as export's" ways
pp status >"$pp_tmp/st.txt" 2>&1
check "status: NAT66's row names the router's port" grep -q "ipv6  \[$SRV2_6\]:8080 (NAT66 from the router's port 8443)" "$pp_tmp/st.txt"
waits() ( wait_for "$@" )   # a subshell: check and wait_for share variables
reaches() { [ "$(lab_http "$1" "$2")" = "$3" ]; }
# The first connection after an apply may outlast curl's 2 s on a loaded box (neighbour
# discovery): awaited, as are the other paths, before the recorder's one-shot connections.
check "lab: inet2 reaches srv3 through cam6's pinhole" waits 10 reaches "$LAB_INET2" "http://[$SRV3_6]:8080/" srv-103-v6
waits 10 reaches "$LAB_INET" "http://[$SRV1_6]:8080/" srv-101-v6
waits 10 reaches "$LAB_INET2" "http://[$LAB_WAN6]:8443/" srv-102-v6
waits 10 reaches "$LAB_INET" "http://203.0.113.1:8080/" srv-101

if lab_nft; then
	recording() { lab_ns "$R" nft list chain inet portpilot_log post_8 2>/dev/null | grep -q 'nfproto ipv6'; }
	no_log_rule() { ! lab_ns "$R" nft list table inet portpilot_log 2>/dev/null | grep -q 'log prefix'; }
else
	recording() { lab_ns "$R" ip6tables-save -t mangle | grep -q -- '-j PP-LOG-8'; }
	no_log_rule() { ! lab_ns "$R" ip6tables-save -t mangle | grep -q PP-LOG; }
fi
ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" log --record >"$pp_tmp/rec.out" 2>&1 &
rp=$!
wait_for 5 recording || not_ok "log --record installed its IPv6 log rules"
nlines() { cat "$S/access.log" 2>/dev/null | wc -l; }
lines_ge() { [ "$(nlines)" -ge "$1" ]; }
lab_http "$LAB_INET" "http://[$SRV1_6]:8080/" >"$pp_tmp/b1"          # web-6 pinhole, from inet
lab_http "$LAB_INET2" "http://[$SRV3_6]:8080/" >"$pp_tmp/b2"         # cam6 pinhole, from inet2
lab_udp6 "$LAB_INET2" "$SRV3_6" 8080 ping >"$pp_tmp/b3"              # cam6 over UDP
lab_http "$LAB_INET2" "http://[$LAB_WAN6]:8443/" >"$pp_tmp/b4"       # web-66 NAT66, from inet2
lab_http "$LAB_INET" "http://[$LAB_WAN6]:8443/" >"$pp_tmp/b5"        # web-66 from outside its allow
lab_http "$LAB_INET" "http://[$LAB_WAN6]:8080/" >/dev/null            # the router's address: no pinhole's
lab_http "$LAB_INET" "http://203.0.113.1:8080/" >"$pp_tmp/b6"         # web-6 over IPv4
went() { [ "$(cat "$pp_tmp/b1" "$pp_tmp/b2" "$pp_tmp/b3" "$pp_tmp/b4" "$pp_tmp/b6")" = "srv-101-v6
srv-103-v6
srv-103-v6 ping
srv-102-v6
srv-101" ] && [ ! -s "$pp_tmp/b5" ]; }
check "lab: the connections went where the table says" went
wait_for 5 lines_ge 6 || not_ok "6 attempts recorded ($(nlines))"
kill -TERM $rp
wait $rp
check "log --record: exits 0 on SIGTERM" [ $? -eq 0 ]
check "log --record: its IPv6 log rules are removed on exit" no_log_rule

pp --json log >"$pp_tmp/h.json" 2>"$pp_tmp/h.err"
check "log --json: exits 0" [ $? -eq 0 ]
hj() { jq -s -e "any(.[]; $1)" "$pp_tmp/h.json" >/dev/null; }
hall() { jq -s -e "$1" "$pp_tmp/h.json" >/dev/null; }
check "log: a pinhole connection from inet is accepted, with its IPv6 source and srv1's address" \
	hj ".mapping == \"web-6\" and .family == 6 and .source == \"$LAB_INET6\" and .port == 8080 and .internal_ip == \"$SRV1_6\" and .verdict == \"accepted\""
check "log: cam6's pinhole from inet2, over TCP" \
	hj ".mapping == \"cam6\" and .proto == \"tcp\" and .source == \"$LAB_INET2_6\" and .internal_ip == \"$SRV3_6\" and .verdict == \"accepted\""
check "log: and over UDP" hj ".mapping == \"cam6\" and .proto == \"udp\" and .source == \"$LAB_INET2_6\" and .verdict == \"accepted\""
check "log: NAT66 from inet2: the public port 8443, the server after DNAT" \
	hj ".mapping == \"web-66\" and .source == \"$LAB_INET2_6\" and .port == 8443 and .internal_ip == \"$SRV2_6\" and .verdict == \"accepted\""
check "log: NAT66 from inet, outside its allow list, is rejected" \
	hj ".mapping == \"web-66\" and .source == \"$LAB_INET6\" and .port == 8443 and .verdict == \"rejected (not in allow)\""
check "log: IPv4 beside it as before" \
	hj ".mapping == \"web-6\" and .family == 4 and .source == \"203.0.113.10\" and .internal_ip == \"$LAB_SRV1_IP\" and .verdict == \"accepted\""
check "log: the router's IPv6 address on a pinhole's port is no attempt on that mapping" \
	sh -c "[ \$(jq -s '[.[] | select(.mapping == \"web-6\" and .family == 6)] | length' '$pp_tmp/h.json') -eq 1 ]"
check "log: every line an attempt on a mapping (6)" sh -c "[ \$(jq -s length '$pp_tmp/h.json') -eq 6 ]"
pp log web-66 >"$pp_tmp/h.txt" 2>&1
check "log NAME: an IPv6 source in brackets, [addr]:port" \
	grep -Eq "^20[0-9-]{8}T[0-9:]{8}[+-][0-9]{4}  web-66 +tcp \[$LAB_INET2_6\]:[0-9]+ -> 8443  accepted\$" "$pp_tmp/h.txt"
# A line of an older recorder (7 fields, no internal address) still reads.
printf '2026-01-01T00:00:00+0000\tweb-6\ttcp\t2001:db8:ffff::10\t40000\t8080\taccepted\n' >>"$S/access.log"
pp --json log web-6 >"$pp_tmp/old.json" 2>"$pp_tmp/old.err"
check "log: a 7-field line of an older recorder still reads" sh -c "[ ! -s '$pp_tmp/old.err' ] &&
	jq -s -e 'any(.[]; .source_port == 40000 and .internal_ip == null and .family == 6)' '$pp_tmp/old.json' >/dev/null"

# Renumbering while the recorder runs (a new delegated prefix): the host id's new address is
# matched without a restart of the recorder, and a connection to the old one is no longer web-6's.
rm -f "$S"/access.log*
ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" log --record >"$pp_tmp/rec2.out" 2>&1 &
rp=$!
wait_for 5 recording || not_ok "log --record installed its IPv6 log rules again"
lab_prefix6 2001:db8:1 2001:db8:2
NEW1=2001:db8:2::1:101
pp apply >"$pp_tmp/apply2.out" 2>&1 || not_ok "apply after the renumbering"
lab_http "$LAB_INET" "http://[$NEW1]:8080/" >"$pp_tmp/b7"
check "lab: outside reaches srv1 at its new address" grep -qx srv-101-v6 "$pp_tmp/b7"
wait_for 5 lines_ge 1 || not_ok "the connection after renumbering recorded"
kill -TERM $rp
wait $rp
pp --json log web-6 >"$pp_tmp/h.json" 2>&1
check "log: after renumbering, web-6 at srv1's new address, the recorder never restarted" \
	hall "length == 1 and .[0].internal_ip == \"$NEW1\" and .[0].source == \"$LAB_INET6\" and .[0].verdict == \"accepted\""
pp_done
