#!/bin/sh
# The lab library itself: topology, servers, options, and that it leaves nothing behind.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
mine() { ip netns list | grep -c "^pp-$1-" ; }
# peer_seen NS PORT: a one-shot TCP listener in NS that answers with the client's address.
peer_seen() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); s.settimeout(5)
c, a = s.accept(); c.sendall(a[0].encode()); c.close()' "$2" &
	echo $! >>"$LAB_DIR/pids"
	wait_for 5 _lab_listening "$1" "$2"
}
said() { [ "$(ip netns exec "$1" curl -s --http0.9 --max-time 2 "$2")" = "$3" ]; }

# A lab in a child shell that fails half-way through its test still cleans up.
id=$$-x
( LAB_ID=$id; . "$PP_TOP/tests/lib.sh"; . "$PP_TOP/tests/lab/lab.sh"; lab_up udp outside2 cgnat >/dev/null; exit 3 )
check "a failing test leaves no namespace" test "$(mine "$id")" = 0

lab_up udp outside2 >/dev/null || { not_ok "lab builds"; pp_done; }
check "every namespace is named pp-$LAB_ID-..." test "$(mine "$LAB_ID")" = 8
check "LAN servers answer with their names" sh -c "[ \"\$(ip netns exec $LAB_LANHOST curl -s --max-time 2 http://$LAB_SRV2_IP/)\" = srv-102 ]"
check "the UDP echo answers" sh -c ". $PP_TOP/tests/lab/lab.sh; [ \"\$(lab_udp $LAB_LANHOST $LAB_SRV3_IP $LAB_UDP_PORT hi)\" = 'srv-103 hi' ]"
peer_seen "$LAB_ROUTER" 8001
check "the second outside host reaches the router's WAN unNATed" said "$LAB_INET2" "http://$LAB_WAN_IP:8001/" "$LAB_INET2_IP"
check "the router forwards (ip_forward=1)" test "$(ip netns exec "$LAB_ROUTER" sysctl -n net.ipv4.ip_forward)" = 1
check "the router's interfaces are eth0 (WAN) and eth1 (LAN)" sh -c "ip -n $LAB_ROUTER -4 addr show eth0 | grep -q 203.0.113.1/24 && ip -n $LAB_ROUTER -4 addr show eth1 | grep -q 192.168.2.1/24"
lab_down
check "lab_down removes everything" test "$(mine "$LAB_ID")" = 0

# Carrier NAT: the router's WAN is 100.64.0.2, the internet sees the carrier's 203.0.113.1.
LAB_ID=$$-c
lab_up cgnat >/dev/null || { not_ok "cgnat lab builds"; pp_done; }
peer_seen "$LAB_INET" 8000
check "cgnat: the router's WAN address is carrier space" test "$LAB_WAN_IP" = 100.64.0.2
check "cgnat: the internet sees the carrier's address" said "$LAB_ROUTER" "http://$LAB_INET_IP:8000/" 203.0.113.1
pp_done
