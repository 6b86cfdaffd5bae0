#!/bin/sh
# Fault lab, beyond one cause each: the evidence behind verdicts, variants, and controls that
# show a check passes once the fault is repaired.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
j() { jq -e "$1" "$pp_tmp/out.json" >/dev/null; }

plab_scenario ok && plab_diagnose
expect_cause "healthy" ok
check "healthy: the reflector's attempt is traced WAN in, LAN out, SYN-ACK, WAN out" \
	j '.attempts[] | select(.wan_in and .lan_out and .lan_reply and .wan_out and .answer == "syn-ack")'
check "healthy: the verdict comes in under 3 s" j '.elapsed_s < 3'
check "healthy: conntrack shows the reflector's connection DNATed and answered (ASSURED)" \
	j '.evidence[] | select(test("^conntrack: tcp 203\\.0\\.113\\.10:[0-9]+ -> 203\\.0\\.113\\.1:8080 DNAT to 192\\.168\\.2\\.101:80, [A-Z_]+ \\[ASSURED\\]$"))'
check "healthy: no conntrack entry of the mapping is UNREPLIED" j '[.conntrack[] | select(test("UNREPLIED"))] | length == 0'

plab_scenario server_gateway && plab_diagnose
expect_cause "server_gateway" server_gateway
check "server_gateway: the fix names the router's LAN address" j '.fix | test("default gateway to 192.168.2.1,")'
check "server_gateway: the summary names the gateway the server uses (its ARP)" j '.summary | test("go to 192.168.2.254")'
check "server_gateway: the outside SYN is seen forwarded and unanswered" \
	j '.attempts[] | select(.wan_in and .lan_out and (.lan_reply | not))'
check "server_gateway: conntrack shows the reflector's connection SYN_SENT [UNREPLIED]" \
	j '.evidence[] | select(test("^conntrack: tcp 203\\.0\\.113\\.10:[0-9]+ -> 203\\.0\\.113\\.1:8080 DNAT to 192\\.168\\.2\\.101:80, SYN_SENT \\[UNREPLIED\\]$"))'
check "server_gateway: the summary cites conntrack" j '.summary | test("conntrack: no connection DNATed to it was ever answered")'
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" watch web-1 --seconds 1 --json \
	>"$pp_tmp/out.json" 2>"$pp_tmp/err"
PRC=$?
expect_cause "server_gateway found by watch too (no reflector)" server_gateway
ip -n "$LAB_SRV1" route replace default via 192.168.2.1 && plab_diagnose
expect_cause "server_gateway repaired (control)" ok

# The text report carries the conntrack evidence as well.
plab_scenario host_firewall && lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 \
	--reflector "$REFL" >"$pp_tmp/out.txt" 2>&1
check "host_firewall (text): conntrack evidence line with UNREPLIED" \
	grep -Eq '^  conntrack: tcp 203\.0\.113\.10:[0-9]+ -> 203\.0\.113\.1:8080 DNAT to 192\.168\.2\.101:80, SYN_SENT \[UNREPLIED\]$' "$pp_tmp/out.txt"
check "host_firewall (text): the conntrack check counts it" grep -q '\[info\] conntrack .* 1 never answered (UNREPLIED), 0 answered' "$pp_tmp/out.txt"
plab_scenario host_firewall && lab_ns "$LAB_SRV1" iptables -F INPUT &&
	lab_ns "$LAB_SRV1" iptables -A INPUT -p tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable &&
	plab_diagnose
expect_cause "host firewall rejecting with ICMP (not a closed port)" host_firewall
plab_scenario host_firewall && lab_ns "$LAB_SRV1" iptables -F INPUT &&
	lab_ns "$LAB_SRV1" iptables -A INPUT -p tcp --dport 80 -j REJECT --reject-with icmp-admin-prohibited &&
	plab_diagnose
expect_cause "host firewall rejecting with icmp-admin-prohibited (the host is up, not unreachable)" host_firewall

plab_scenario forward_blocked && plab_diagnose
check "forward_blocked: the SYN arrived on WAN and never left on the LAN" \
	j '.attempts[] | select(.wan_in and (.lan_out | not))'

plab_scenario source_not_allowed && plab_diagnose
check "source_not_allowed: the fix names the source" j '.fix | test("203.0.113.10")'

plab_scenario hairpin_missing && plab_site hairpin yes && plab_apply && plab_diagnose
expect_cause "hairpin enabled (control)" ok
check "hairpin control: the LAN client's attempts were seen" j '[.attempts[] | select(.from_lan)] | length > 0'

plab_scenario public_ip_mismatch &&
	echo "203.0.113.1 site3.example.net" >"/etc/netns/$LAB_ROUTER/hosts" && plab_diagnose
expect_cause "DDNS name current (control)" ok
plab_site public_ip 203.0.113.78 && plab_diagnose
expect_cause "[site] public_ip is an old address" public_ip_mismatch

plab_scenario cgnat && plab_diagnose
check "cgnat: the reflector's view of the site is reported" j '.reflector.seen_ip == "203.0.113.1"'
check "cgnat: the fix offers the relay (issue 17)" j '.fix | startswith("relay available: portpilot relay up")'
plab_scenario double_nat && plab_diagnose
check "double_nat: the fix offers the relay too" j '.cause == "double_nat" and (.fix | contains("relay available where neither is possible: portpilot relay up"))'

plab_scenario upstream_blocked && lab_ns "$LAB_INET" iptables -D FORWARD -p tcp --dport 8080 -j DROP &&
	plab_diagnose
expect_cause "carrier filter removed (control)" ok

# Another tool's SNAT on the way to the server, to an address the router does not own: the server
# answers that address (nobody, here), not the router. Named from conntrack, whoever wrote it.
plab_scenario ok || not_ok "lab"
lab_ns "$LAB_ROUTER" iptables -t nat -I POSTROUTING -o "$LAB_LAN_IF" -d "$LAB_SRV1_IP" -p tcp --dport 80 \
	-j SNAT --to-source 192.168.2.50 && plab_diagnose
expect_cause "a SNAT (iptables) to a LAN address not the router's" foreign_snat
check "foreign_snat: the summary names the address and the conntrack entry" \
	j '(.summary | test("rewrites the source of the connections to 192\\.168\\.2\\.101:80 to 192\\.168\\.2\\.50")) and (.summary | test("dst=192\\.168\\.2\\.50"))'
check "foreign_snat: the fix says where to look and what to narrow" j '.fix | test("nat POSTROUTING") and test("-o eth0")'
lab_ns "$LAB_ROUTER" iptables -t nat -R POSTROUTING 1 -o "$LAB_LAN_IF" -d "$LAB_SRV1_IP" -p tcp --dport 80 \
	-j SNAT --to-source 192.168.2.1 && plab_diagnose
expect_cause "a SNAT to the router's own LAN address (control: the replies come back)" ok
lab_ns "$LAB_ROUTER" iptables -t nat -D POSTROUTING 1
# The same fault written in another nftables table, which the iptables rule reader never sees.
plab_scenario ok || not_ok "lab"
printf 'table ip pp_other_nat {\n\tchain post { type nat hook postrouting priority 100; ip daddr %s tcp dport 80 snat to 192.168.2.50; }\n}\n' \
	"$LAB_SRV1_IP" >"$pp_tmp/other.nft"
lab_ns "$LAB_ROUTER" nft -f "$pp_tmp/other.nft" && plab_diagnose
expect_cause "a SNAT in another nftables table" foreign_snat
lab_ns "$LAB_ROUTER" nft delete table ip pp_other_nat

# A server that accepts, then resets (SO_LINGER 0): its SYN-ACK is the answer, the RST only the
# connection's end. The trace used to take the last answer, and named such an attempt refused.
plab_scenario ok || not_ok "lab"
lab_reset_server "$LAB_SRV1" 0.0.0.0 81 && plab_set web-1 internal_port=81 && plab_apply || not_ok "reset server"
PROBE_ARGS="$PROBE_ARGS --write $pp_tmp/rst.pcap" && plab_diagnose
expect_cause "server that resets after accepting" ok
check "reset after accept: the server's RST is in the capture" \
	sh -c "tcpdump -nn -r '$pp_tmp/rst.pcap' 2>/dev/null | grep -q '192.168.2.101.81 > 203.0.113.10.*Flags \\[R'"
check "reset after accept: the attempt's answer is the SYN-ACK, not the RST" \
	j '.attempts[] | select(.wan_in and .lan_out and .lan_reply and .wan_out and .answer == "syn-ack")'
pp_done
