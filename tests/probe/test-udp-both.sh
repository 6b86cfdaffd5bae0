#!/bin/sh
# protocol = both: the probe tests UDP too, from the router and from outside through the
# reflector (reply, ICMP port unreachable, ICMP prohibited, silence), and names the UDP fault.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
j() { jq -e "$1" "$pp_tmp/out.json" >/dev/null; }

plab_scenario udp_ok && plab_diagnose
expect_cause "both, TCP and UDP served" ok
check "healthy: the reflector's UDP got the server's reply" j '.reflector_udp.result == "reply"'
check "healthy: the UDP attempt is traced WAN in, LAN out, UDP answer, WAN out" \
	j '.attempts[] | select(.proto == "udp" and (.router_own | not) and .wan_in and .lan_out and .lan_reply and .wan_out and .answer == "udp")'
check "healthy: the router's own UDP test got an answer" j '.checks[] | select(.id == "service_udp" and .state == "pass")'
check "healthy: under 3 s" j '.elapsed_s < 3'

plab_scenario udp_not_listening && plab_diagnose
expect_cause "nothing on UDP, TCP answers" not_listening
check "not_listening: the summary says UDP" j '.summary | test("UDP port 5005")'
check "not_listening: the reflector's datagram came back as ICMP port unreachable" \
	j '.reflector_udp.result == "refused" and (.attempts[] | select(.proto == "udp" and .wan_in and .lan_out and .answer == "icmp"))'

plab_scenario udp_host_firewall && plab_diagnose
expect_cause "server rejects UDP (icmp-admin-prohibited)" host_firewall
check "host_firewall: the server's ICMP code 13 is in the evidence" j '.evidence[] | select(test("ICMP unreachable from 192.168.2.101 \\(code 13\\)"))'

plab_scenario udp_host_firewall_drop && plab_diagnose
expect_cause "server drops UDP from non-LAN sources" host_firewall
check "host_firewall (drop): told apart from a gateway fault by TCP from the same source" \
	j '.summary | test("while TCP from that source works")'

plab_scenario udp_ok && lab_ns "$LAB_SRV1" iptables -A INPUT -p udp -s "$LAB_INET_IP" -j DROP && plab_diagnose
expect_cause "server drops the reflector's UDP only (seen on the LAN, unanswered)" host_firewall
check "reflector-only drop: the summary says the reflector's datagrams" j '.summary | test("not the reflector")'

# A UDP service that answers nobody (many ignore unknown data): silence is not blamed on anyone.
silent_udp() {
	ip netns exec "$LAB_SRV1" "$LAB_PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5005))
while True: s.recvfrom(2048)' &
	echo $! >>"$LAB_DIR/pids"
	_bound() { lab_ns "$LAB_SRV1" ss -Hlun "sport = :5005" | grep -q 5005; }
	wait_for 5 _bound
}
plab_scenario udp_not_listening && silent_udp && plab_diagnose
expect_cause "silent UDP service (no answer to anyone)" ok
check "silent service: the verdict says UDP got no answer" j '.summary | test("UDP: no answer")'

plab_scenario udp_upstream_blocked && plab_diagnose
expect_cause "carrier drops UDP only" upstream_blocked
check "upstream_blocked: no UDP attempt reached the WAN" j '[.attempts[] | select(.proto == "udp" and (.router_own | not))] | length == 0'
check "failing verdicts under 10 s" j '.elapsed_s < 10'

# protocol = udp alone: the return route is tested with a datagram from the router's WAN address,
# so the inside checks find a server whose default gateway is elsewhere, no reflector needed.
plab_scenario udp_only_ok && plab_probe game
expect_cause "udp-only mapping, healthy, inside checks" ok
check "udp-only healthy: the return route passes" j '.checks[] | select(.id == "return_route" and .state == "pass" and (.text | test("^udp .* answered$")))'
plab_scenario udp_only_server_gateway && plab_probe game
expect_cause "udp-only mapping, server's default gateway elsewhere, inside checks" server_gateway
check "udp-only server_gateway: the datagram from the WAN address got no answer" \
	j '.checks[] | select(.id == "return_route" and .state == "fail" and (.text | test("^udp 192\\.168\\.2\\.101:5005 from a non-LAN source \\(203\\.0\\.113\\.1\\)")))'
check "udp-only server_gateway: the summary names the gateway it uses (its ARP)" j '.summary | test("go to 192\\.168\\.2\\.254")'
plab_diagnose
expect_cause "udp-only server_gateway, with the reflector too" server_gateway

# A tcp-only mapping is not asked about UDP.
plab_scenario ok && plab_diagnose
check "tcp mapping: no UDP checks" j '[.checks[] | select(.id | test("udp"))] | length == 0'
pp_done
