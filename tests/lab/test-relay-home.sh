#!/bin/sh
# The relay behind a second (home) router instead of a carrier NAT (issue 17 item 4): the site's
# router has its WAN on the home router's LAN (198.51.100.130/25, an address range allowed in
# this lab), the home router masquerades to 203.0.113.1 and forwards no port. HTTP and UDP from
# an internet host reach .101 through the edge, the server seeing the client's own address.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/relay-lab.sh"

relay_lab_up home one

# The lab is what it claims: a NAT router in front of the site, its LAN the site's WAN.
check "the site's WAN is on the home router's LAN (198.51.100.130/25)" sh -c \
	"ip -n '$R' -4 addr show eth0 | grep -q 'inet 198.51.100.130/25' && ip -n '$R' route show default | grep -q 'via 198.51.100.129'"
check "the home router masquerades the site to its one public address" sh -c \
	"ip netns exec '$UPSTREAM' iptables -t nat -S POSTROUTING | grep -q -- '-o eth0 -j MASQUERADE' &&
	 ip -n '$UPSTREAM' -4 addr show eth0 | grep -q 'inet 203.0.113.1/'"
check "edge up" grep -q 'edge up' "$D/edge-up.out"
check "edge status: the site connected through the home router" wait_for 10 relay_connected plant3
from_home() { pp "$EDGE" edge status --config "$D/edge.ini" --json |
	jq -e -n 'input | .sites[] | select(.name == "plant3") | .endpoint | startswith("203.0.113.1:")' >/dev/null; }
check "  the edge sees it at the home router's address (203.0.113.1), not its WAN one" from_home

body() { ip netns exec "$CLIENT" curl -s --interface "$CLIENT_IP" --connect-timeout 2 --max-time 3 "http://$1:$2/"; }
udp() { # IP PORT TEXT: one datagram from the client's address, the first reply
	ip netns exec "$CLIENT" "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0); s.bind((sys.argv[1], 0))
s.sendto(sys.argv[4].encode(), (sys.argv[2], int(sys.argv[3])))
try: print(s.recvfrom(2048)[0].decode())
except OSError: sys.exit(1)' "$CLIENT_IP" "$1" "$2" "$3"
}
check "  control: the home router's public address forwards nothing (8080 there is dead)" \
	test -z "$(body 203.0.113.1 8080)"
check "HTTP from the internet reaches .101 through the edge, with the client's own address" \
	test "$(body "$EDGE_IP" 8080)" = "srv-101 $CLIENT_IP"
big=$(ip netns exec "$CLIENT" curl -s --interface "$CLIENT_IP" --max-time 10 "http://$EDGE_IP:8080/big" | wc -c)
check "a 2 MB answer through the tunnel and the home router arrives whole" test "$big" = 2000000
check "UDP from the internet reaches .101 and back, the client's address kept" \
	test "$(udp "$EDGE_IP" 5005 hello)" = "srv-101 $CLIENT_IP hello"
who=$(ip netns exec "$CLIENT" curl -s --interface 198.51.100.1 --connect-timeout 2 --max-time 3 "http://$EDGE_IP:8081/")
check "allow through the relay: the allowed client is let in, seen with its own address" \
	test "$who" = "srv-101 198.51.100.1"
check "  and one outside the allowed network kept out" test -z "$(body "$EDGE_IP" 8081)"
pp_done
