#!/bin/sh
# Fault matrix: many real-site forms of each fault, built one after the other in ONE lab (break,
# probe, restore), each with the cause the probe must name. It prints
# `diagnosis: N/M scenarios named right`, the misses, and the time per verdict.
#
# The table below is plain: one scenario a line, `name expect mapping setup...`; the setup is
# shell run in this script (helpers below), mx_restore puts the lab back after each one, so
# scenarios can be appended in any order. expect is a cause, or `a~b` where the network
# evidence cannot tell a from b (the probe must name one of them first and the other as an
# alternative, never anything else and never ok). Mappings: web-1 (tcp 8080 -> srv1:80),
# voice (udp 5006 -> srv2:5010, a UDP echo that outlives send errors), game (both 5005 ->
# srv1:5005, TCP and UDP served).
# PP_MATRIX=REGEX runs the scenarios whose name matches only.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root

MATRIX='
ok_tcp                  ok                           web-1  :
ok_udp                  ok                           voice  :
ok_both                 ok                           game   :
ok_server_stealth       ok                           web-1  s1 iptables -A INPUT -p tcp --dport 80 -j ACCEPT && s1 iptables -A INPUT -p tcp -j DROP && s1 iptables -A INPUT -p icmp -j DROP
ok_ping_dropped_wan     ok                           web-1  s1 iptables -A INPUT -p icmp -s 203.0.113.1 -j DROP
fw_drop_all             host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 -j DROP
fw_icmp_port_all        host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
fw_icmp_admin_all       host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 -j REJECT --reject-with icmp-admin-prohibited
fw_rst_all              not_listening~host_firewall  web-1  s1 iptables -A INPUT -p tcp --dport 80 -j REJECT --reject-with tcp-reset
fw_drop_nonlan          host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 ! -s 192.168.2.0/24 -j DROP
fw_rst_nonlan           host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 ! -s 192.168.2.0/24 -j REJECT --reject-with tcp-reset
fw_icmp_nonlan          host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 ! -s 192.168.2.0/24 -j REJECT --reject-with icmp-port-unreachable
fw_admin_nonlan         host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 ! -s 192.168.2.0/24 -j REJECT --reject-with icmp-host-prohibited
fw_windows_scope        host_firewall~server_gateway web-1  mx_windows_scope "$LAB_SRV1"
fw_drop_all_nonlan      server_gateway~host_firewall web-1  s1 iptables -A INPUT ! -s 192.168.2.0/24 -j DROP
fw_allow_router_only    host_firewall~server_gateway web-1  s1 iptables -A INPUT -p tcp --dport 80 -s 203.0.113.1 -j ACCEPT && s1 iptables -A INPUT -p tcp --dport 80 ! -s 192.168.2.0/24 -j DROP
fw_rst_outside_only     host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 -s 203.0.113.1 -j ACCEPT && s1 iptables -A INPUT -p tcp --dport 80 ! -s 192.168.2.0/24 -j REJECT --reject-with tcp-reset
fw_icmp_outside_only    host_firewall                web-1  s1 iptables -A INPUT -p tcp --dport 80 -s 203.0.113.1 -j ACCEPT && s1 iptables -A INPUT -p tcp --dport 80 ! -s 192.168.2.0/24 -j REJECT --reject-with icmp-port-unreachable
fw_udp_drop_nonlan      host_firewall                voice  s2 iptables -A INPUT -p udp --dport 5010 ! -s 192.168.2.0/24 -j DROP
fw_udp_admin_all        host_firewall                voice  s2 iptables -A INPUT -p udp --dport 5010 -j REJECT --reject-with icmp-admin-prohibited
fw_both_udp_drop_nonlan host_firewall                game   s1 iptables -A INPUT -p udp --dport 5005 ! -s 192.168.2.0/24 -j DROP
fw_both_tcp_rst_nonlan  host_firewall                game   s1 iptables -A INPUT -p tcp --dport 5005 ! -s 192.168.2.0/24 -j REJECT --reject-with tcp-reset
nl_other_port           not_listening                web-1  mx_set web-1 internal_port=82
nl_loopback_bind        not_listening                web-1  mx_listen "$LAB_SRV1" 127.0.0.1 83 && mx_set web-1 internal_port=83
nl_other_addr_bind      not_listening                web-1  s1 ip addr add 192.168.2.201/24 dev eth0 && mx_listen "$LAB_SRV1" 192.168.2.201 84 && mx_set web-1 internal_port=84
nl_udp_closed           not_listening                voice  mx_set voice internal_port=5007
hu_down_nocache         host_unreachable             web-1  ip -n "$LAB_SRV1" link set eth0 down && rt ip neigh flush dev eth1
hu_unplugged_cached     host_unreachable             web-1  mx_cache "$LAB_SRV1_IP" && ip -n "$LAB_SW" link set p-101 down
hu_wrong_ip             host_unreachable             web-1  mx_set web-1 internal_ip=192.168.2.150
hu_stale_entry          host_unreachable             web-1  mx_set web-1 internal_ip=192.168.2.150 && rt ip neigh replace 192.168.2.150 lladdr 02:00:00:00:01:50 dev eth1 nud stale
hu_udp_cached           host_unreachable             voice  mx_cache "$LAB_SRV2_IP" && ip -n "$LAB_SW" link set p-102 down
gw_missing              server_gateway               web-1  ip -n "$LAB_SRV1" route replace default via 192.168.2.254
gw_none                 server_gateway~host_firewall web-1  ip -n "$LAB_SRV1" route del default
gw_second_router        server_gateway               web-1  mx_gw2 && ip -n "$LAB_SRV1" route replace default via 192.168.2.254
gw_second_router_known  server_gateway~host_firewall web-1  mx_gw2 && ip -n "$LAB_SRV1" route replace default via 192.168.2.254 && mx_srv1_knows_gw2
gw_udp_missing          server_gateway               voice  ip -n "$LAB_SRV2" route replace default via 192.168.2.254
gw_udp_none             server_gateway~host_firewall voice  ip -n "$LAB_SRV2" route del default
gw_both_missing         server_gateway               game   ip -n "$LAB_SRV1" route replace default via 192.168.2.254
up_drop_in              upstream_blocked             web-1  inet iptables -A FORWARD -p tcp --dport 8080 -j DROP
up_drop_replies         upstream_blocked             web-1  inet iptables -A FORWARD -p tcp --sport 8080 -j DROP
up_rst_in               upstream_blocked             web-1  inet iptables -A FORWARD -p tcp --dport 8080 -j REJECT --reject-with tcp-reset
up_icmp_in              upstream_blocked             web-1  inet iptables -A FORWARD -p tcp --dport 8080 -j REJECT --reject-with icmp-port-unreachable
up_udp_drop_in          upstream_blocked             voice  inet iptables -A FORWARD -p udp --dport 5006 -j DROP
up_udp_drop_replies     upstream_blocked             voice  inet iptables -A FORWARD -p udp --sport 5006 -j DROP
up_both_udp_drop_in     upstream_blocked             game   inet iptables -A FORWARD -p udp --dport 5005 -j DROP
'

s1() { lab_ns "$LAB_SRV1" "$@"; }
s2() { lab_ns "$LAB_SRV2" "$@"; }
rt() { lab_ns "$LAB_ROUTER" "$@"; }
inet() { lab_ns "$LAB_INET" "$@"; }
# mx_set NAME KEY=VALUE...: change a mapping and apply (mx_restore puts the base table back).
mx_set() { plab_set "$@" && plab_apply; }
# mx_listen NS ADDR PORT: a TCP listener bound to ADDR only (killed by mx_restore).
mx_listen() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True: s.accept()[0].close()' "$2" "$3" >/dev/null 2>&1 &
	echo $! >>"$pp_tmp/mx-pids"
	echo $! >>"$LAB_DIR/pids"
	wait_for 10 _lab_listening "$1" "$3"
}
# mx_cache IP: the router's neighbour cache holds a fresh entry for IP (it just talked to it).
mx_cache() { rt curl -s -o /dev/null --max-time 1 "http://$1/"; rt ip neigh show "$1" | grep -q REACHABLE; }
# mx_gw2: a second router on the LAN at 192.168.2.254, forwarding to an uplink of its own that
# leads nowhere (its own carrier line; the replies the server sends it never reach the client).
mx_gw2() {
	_g=pp-$LAB_ID-gw2
	ip netns add "$_g" && echo "$_g" >>"$LAB_DIR/ns" && echo "$_g" >>"$pp_tmp/mx-ns" &&
	ip -n "$_g" link set lo up &&
	_lab_link "$LAB_SW" p-254 "$_g" eth0 && ip -n "$LAB_SW" link set p-254 master br0 &&
	ip -n "$_g" addr add 192.168.2.254/24 dev eth0 &&
	ip -n "$_g" link add up0 type veth peer name up1 && ip -n "$_g" link set up0 up &&
	ip -n "$_g" link set up1 up && ip -n "$_g" addr add 100.64.99.2/30 dev up0 &&
	ip -n "$_g" route add default via 100.64.99.1 &&
	lab_ns "$_g" sysctl -qw net.ipv4.ip_forward=1
}
# The server has just talked to the second router: its ARP entry is cached, no ARP in the probe.
mx_srv1_knows_gw2() {
	s1 curl -s -o /dev/null --max-time 1 http://192.168.2.254:1/
	s1 ip neigh show 192.168.2.254 | grep -q REACHABLE
}
# mx_windows_scope NS: the Windows firewall's shape: inbound blocked unless a rule allows it,
# the service's rule and ping scoped to the local subnet; closed ports silent (stealth).
mx_windows_scope() {
	lab_ns "$1" iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
	lab_ns "$1" iptables -A INPUT -i lo -j ACCEPT &&
	lab_ns "$1" iptables -A INPUT -s 192.168.2.0/24 -p tcp --dport 80 -j ACCEPT &&
	lab_ns "$1" iptables -A INPUT -s 192.168.2.0/24 -p icmp -j ACCEPT &&
	lab_ns "$1" iptables -P INPUT DROP
}

# Back to the healthy lab: every server unfiltered, cabled, routed through the router; the base
# table applied; the carrier clean; extra namespaces and listeners gone.
mx_restore() {
	if [ -s "$pp_tmp/mx-pids" ]; then
		while read -r _p; do kill "$_p" 2>/dev/null; done <"$pp_tmp/mx-pids"
		: >"$pp_tmp/mx-pids"
	fi
	if [ -s "$pp_tmp/mx-ns" ]; then
		while read -r _n; do ip netns del "$_n" 2>/dev/null; done <"$pp_tmp/mx-ns"
		: >"$pp_tmp/mx-ns"
		ip -n "$LAB_SW" link del p-254 2>/dev/null
	fi
	for _s in "$LAB_SRV1 101" "$LAB_SRV2 102" "$LAB_SRV3 103"; do
		set -- $_s
		lab_ns "$1" iptables -P INPUT ACCEPT
		lab_ns "$1" iptables -F
		ip -n "$1" link set eth0 up
		ip -n "$LAB_SW" link set "p-$2" up
		ip -n "$1" addr del 192.168.2.201/24 dev eth0 2>/dev/null
		ip -n "$1" route replace default via "$LAB_LAN_IP"
		ip -n "$1" neigh flush dev eth0
	done
	inet iptables -F FORWARD
	rt ip neigh flush dev eth1
	# The last scenario's connections must not speak for this one.
	rt conntrack -F >/dev/null 2>&1
	cp "$pp_tmp/base.ini" "$PT" && plab_apply
}

# One lab for all: the seed table plus voice and game, a UDP-serving lab, the reflector behind
# the carrier (inet forwards between inet2 and the site, so the carrier can filter).
: >"$pp_tmp/mx-pids"
: >"$pp_tmp/mx-ns"
plab_up udp outside2 || { not_ok "matrix lab builds"; pp_done; }
# voice's echo keeps serving when a reply cannot be sent (a server without a route).
ip netns exec "$LAB_SRV2" "$LAB_PY" -c '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5010))
while True:
    d, a = u.recvfrom(2048)
    try: u.sendto(b"voice " + d, a)
    except OSError: pass' >/dev/null 2>&1 &
echo $! >>"$LAB_DIR/pids"
_udp_up() { ip netns exec "$LAB_SRV2" ss -Hlun "sport = :5010" | grep -q 5010; }
wait_for 10 _udp_up &&
"$PORTPILOT" -f "$PT" add voice protocol=udp public_port=5006 internal_ip=$LAB_SRV2_IP \
	internal_port=5010 >/dev/null &&
	"$PORTPILOT" -f "$PT" add game protocol=both public_port=5005 internal_ip=$LAB_SRV1_IP \
	internal_port=5005 >/dev/null && lab_serve "$LAB_SRV1" 5005 srv-101-tcp &&
	cp "$PT" "$pp_tmp/base.ini" && plab_apply &&
	PLAB_REFLECTOR_ARGS="--rate 1000" plab_reflector "$LAB_INET2" "$LAB_INET2_IP" ||
	{ not_ok "matrix lab: table, listeners, reflector"; pp_done; }

total=0 right=0 ambiguous=0 misses="" worst_ok=0 worst_fail=0
while read -r name expect map setup; do
	[ -n "$name" ] || continue
	case $name in \#*) continue;; esac
	if [ -n "${PP_MATRIX:-}" ] && ! echo "$name" | grep -Eq "$PP_MATRIX"; then continue; fi
	total=$((total + 1))
	mx_restore
	if ! eval "$setup"; then
		not_ok "$name: the fault could not be built ($setup)"
		misses="$misses $name(setup)"
		continue
	fi
	plab_probe "$map" --reflector "$REFL"
	got=$(jq -r .cause "$pp_tmp/out.json" 2>/dev/null)
	# A scenario the reflector did not test (rate limit, reflector down) proves nothing.
	jq -e .outside_tested "$pp_tmp/out.json" >/dev/null 2>&1 || got="$got(not tested from outside)"
	alts=$(jq -r '[.alternatives[]?.cause] | join(",")' "$pp_tmp/out.json" 2>/dev/null)
	el=$(jq -r .elapsed_s "$pp_tmp/out.json" 2>/dev/null)
	good=no
	case $expect in
	*~*) _a=${expect%~*} _b=${expect#*~}
		# Either may come first; the other must be named beside it.
		if { [ "$got" = "$_a" ] && echo ",$alts," | grep -q ",$_b,"; } ||
		   { [ "$got" = "$_b" ] && echo ",$alts," | grep -q ",$_a,"; }; then good=yes; fi
		[ "$PRC" = 1 ] || good=no
		;;
	*) [ "$got" = "$expect" ] && good=yes
		_want_rc=1; [ "$expect" = ok ] && _want_rc=0
		[ "$PRC" = "$_want_rc" ] || good=no
		;;
	esac
	if [ "$expect" = ok ]; then
		awk "BEGIN { exit !(${el:-99} > $worst_ok) }" && worst_ok=$el
	else
		awk "BEGIN { exit !(${el:-99} > $worst_fail) }" && worst_fail=$el
	fi
	if [ $good = yes ]; then
		right=$((right + 1))
		case $expect in *~*) ambiguous=$((ambiguous + 1));; esac
		ok "$name: $got${alts:+ (then $alts)} ($el s)"
	else
		misses="$misses $name"
		not_ok "$name: expected $expect, got '${got:-none}'${alts:+ (then $alts)} (exit $PRC, $el s)"
		jq -r '.summary, (.checks[] | "[\(.state)] \(.id) \(.text)")' "$pp_tmp/out.json" 2>/dev/null | sed 's/^/#   /'
		sed 's/^/#   /' "$pp_tmp/err"
	fi
done <<EOF
$MATRIX
EOF
# The text report as the engineer reads it: both causes of an ambiguous case, the test that
# separates them, and the portpilot command among the fixes.
mx_restore && ip -n "$LAB_SRV1" route del default &&
	rt "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --reflector "$REFL" >"$pp_tmp/out.txt" 2>&1
check "text report: the alternative and the test that tells them apart" \
	sh -c "grep -q '^also possible (the evidence cannot rule it out):' '$pp_tmp/out.txt' &&
	       grep -q '^  host_firewall: ' '$pp_tmp/out.txt' && grep -q '^    to tell them apart: on 192.168.2.101, ip route' '$pp_tmp/out.txt'"
check "text report: the fix names portpilot set web-1 masquerade=yes" grep -q 'portpilot set web-1 masquerade=yes' "$pp_tmp/out.txt"
check "text report: the closed-port and ping tests from both sources" \
	sh -c "grep -q '\\[info\\] closed_port .* from the LAN: refused the connection (TCP reset); from 203.0.113.1: did not answer' '$pp_tmp/out.txt' &&
	       grep -q '\\[info\\] ping .* from the LAN: echo reply; from 203.0.113.1: no answer' '$pp_tmp/out.txt'"
echo "# diagnosis: $right/$total scenarios named right ($ambiguous of them where the evidence cannot separate two causes: both named, ranked)"
[ -z "$misses" ] || echo "# misses:$misses"
echo "# slowest verdict: healthy ${worst_ok} s, failing ${worst_fail} s"
check "diagnosis: $right/$total scenarios named right" [ "$right" = "$total" ]
check "every healthy verdict under 3 s (slowest ${worst_ok} s)" awk "BEGIN { exit !($worst_ok < 3) }"
check "every failing verdict under 10 s (slowest ${worst_fail} s)" awk "BEGIN { exit !($worst_fail < 10) }"
pp_done
