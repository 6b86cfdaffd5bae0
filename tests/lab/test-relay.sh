#!/bin/sh
# The relay: a site behind carrier NAT (100.64.0.2) published through an edge host (198.51.100.10) over
# WireGuard (kernel where present, else wireguard-go): HTTP and UDP from the internet reach .101 with the
# client's own address, a second site on the same edge stays apart, only the edge's configured ports
# pass, and the site's carrier address changing mid-stream keeps the relay working.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"

. "$PP_TOP/tests/lab/relay-lab.sh"

relay_lab_up
check "keygen: the edge's public key printed (44 base64 characters)" sh -c "echo '$E_PUB' | grep -Eq '^[A-Za-z0-9+/]{43}=\$'"
check "keygen: the key file is 0600" test "$(stat -c %a "$D/s1/relay.key")" = 600
check "keygen: the printed key is the public one, not the private key" sh -c \
	"[ -n '$S1_PUB' ] && [ '$S1_PUB' = \"\$(wg pubkey <'$D/s1/relay.key')\" ] && ! grep -qF '$S1_PUB' '$D/s1/relay.key'"
again=$(pp "$R" --state-dir "$D/s1" relay keygen)
check "keygen again: the same key, not a new one" test -n "$again" -a "$again" = "$S1_PUB"

check "check: the relay keys of [site] are valid" sh -c "ip netns exec '$R' '$PORTPILOT' -f '$D/site1.ini' check >/dev/null"
check "edge up" sh -c "grep -q 'edge up' '$D/edge-up.out' || { cat '$D/edge-up.err'; false; }"
if lab_nft; then
	check "site 1: apply takes the public ports from the tunnel interface too" sh -c \
		"ip netns exec '$R' nft list chain inet portpilot prerouting | grep -q -- 'iifname \"$IF1\" .* jump map_in'"
else
	check "site 1: apply takes the public ports from the tunnel interface too" sh -c \
		"ip netns exec '$R' iptables -t nat -S PP-PRE | grep -q -- '-i $IF1 -m addrtype --dst-type LOCAL -j PP-MARK\\|-i $IF1 -m addrtype --dst-type LOCAL -g PP-MARK'"
fi
check "site 1: relay up made the tunnel" sh -c "ip -n '$R' link show $IF1 >/dev/null"
check "edge status: site 1 connected (a handshake through the carrier NAT)" wait_for 10 relay_connected plant3
check "edge status: site 2 connected" wait_for 10 relay_connected depot

# The client speaks from 203.0.113.10 (its other address, 198.51.100.1, faces the edge's network).
body() { ip netns exec "$CLIENT" curl -s --interface "$CLIENT_IP" --connect-timeout 2 --max-time 3 "http://$EDGE_IP:$1/"; }
udp() { # PORT TEXT: one datagram from the client's address, the first reply
	ip netns exec "$CLIENT" "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0); s.bind((sys.argv[1], 0))
s.sendto(sys.argv[4].encode(), (sys.argv[2], int(sys.argv[3])))
try: print(s.recvfrom(2048)[0].decode())
except OSError: sys.exit(1)' "$CLIENT_IP" "$EDGE_IP" "$1" "$2"
}
check "HTTP from the internet reaches .101 through the edge, which sees the client's own address" \
	test "$(body 8080)" = "srv-101 $CLIENT_IP"
big=$(ip netns exec "$CLIENT" curl -s --interface "$CLIENT_IP" --max-time 10 "http://$EDGE_IP:8080/big" | wc -c)
check "a 2 MB answer through the tunnel arrives whole (full-size segments, MTU 1420)" test "$big" = 2000000
out=$(udp 5005 hello)
check "UDP from the internet reaches .101 and back, the client's address kept" test "$out" = "srv-101 $CLIENT_IP hello"
check "site 2's port on the same edge reaches site 2's server (same LAN addresses)" \
	test "$(body 9090)" = "site2-101 $CLIENT_IP"

# The probe: through a healthy tunnel the carrier NAT is no fault (the edge is the public face).
probe() { ip netns exec "$R" "$PORTPILOT" -f "$D/site1.ini" -c "$D/none.conf" --state-dir "$D/s1" probe "$1" --json \
	>"$D/probe.json" 2>"$D/probe.err"; }
: >"$D/none.conf"
jqf() { jq -e "$1" "$2" >/dev/null; }
probe web
check "probe: a relayed mapping behind the carrier NAT with the tunnel up is ok, not cgnat" \
	jqf '.cause == "ok"' "$D/probe.json"
check "probe: the relay check says the last handshake" jqf \
	'.checks[] | select(.id == "relay") | .text | test("relay tunnel .* last handshake [0-9]+ s ago")' "$D/probe.json"
probe lan-only
check "  control: a mapping the relay does not carry still meets the carrier NAT (cgnat)" \
	jqf '.cause == "cgnat" and (.fix | startswith("relay available"))' "$D/probe.json"

# allow sees the real client through the relay: 8081 admits 198.51.100.0/24 only.
check "allow through the relay: a client outside the allowed network is kept out" test -z "$(body 8081)"
who=$(ip netns exec "$CLIENT" curl -s --interface 198.51.100.1 --connect-timeout 2 --max-time 3 "http://$EDGE_IP:8081/")
check "allow through the relay: a client inside it is let in, seen with its own address" \
	test "$who" = "srv-101 198.51.100.1"

# Only what the edge lists: 8090 is relayed by the site but not configured on the edge.
check "a port the edge does not list is not forwarded (8090)" test -z "$(body 8090)"
check "  control: the site itself serves 8090 from the tunnel (the edge is what refuses it)" \
	body_is "$EDGE" "http://10.77.0.2:8090/" srv-102
check "the site takes from the tunnel only the mappings it relays (8091 is not one)" \
	no_answer "$EDGE" "http://10.77.0.2:8091/"

# Isolation: site 1 sends into its tunnel toward site 2 and toward the internet: the edge drops both.
ip -n "$R" route add 10.77.0.3/32 dev $IF1
check "site 1 cannot reach site 2 through the edge" no_answer "$R" "http://10.77.0.3:8000/"
check "  control: the edge itself reaches site 2's tunnel address" body_is "$EDGE" "http://10.77.0.3:9090/" \
	"site2-101 10.77.0.1"
ip -n "$R" route del 10.77.0.3/32 dev $IF1
lab_serve "$CLIENT" 8088 inet-web
check "  control: site 1 reaches the internet host the ordinary way" body_is "$R" "http://$CLIENT_IP:8088/" inet-web
ip -n "$R" route add $CLIENT_IP/32 dev $IF1
check "the edge is no open proxy: site 1's tunnel does not reach the internet" no_answer "$R" "http://$CLIENT_IP:8088/"
ip -n "$R" route del $CLIENT_IP/32 dev $IF1
lab_serve "$EDGE" 8089 edge-web
ip -n "$R" route add 10.77.0.1/32 dev $IF1
check "the edge's own services are closed to the tunnel" no_answer "$R" "http://10.77.0.1:8089/"
# Site 1 posing as site 2 (its tunnel address as the source): WireGuard's cryptokey routing (each
# peer's allowed-ips is its own /32) drops it before any rule of the edge sees it.
drops() { ip netns exec "$EDGE" iptables -L PPEDGE-IN -v -x -n | awk '$3 == "DROP" { print $1 }'; }
ip -n "$R" addr add 10.77.0.3/32 dev lo
d0=$(drops)
ip netns exec "$R" curl -s --interface 10.77.0.3 --connect-timeout 1 "http://10.77.0.1:8089/" >/dev/null 2>&1
d1=$(drops)
ip netns exec "$R" curl -s --interface 10.77.0.2 --connect-timeout 1 "http://10.77.0.1:8089/" >/dev/null 2>&1
d2=$(drops)
check "site 1 cannot send as site 2: WireGuard drops it before the edge's rules" test "$d1" = "$d0"
check "  control: site 1's own tunnel address does reach the edge (and PPEDGE-IN drops it)" test "$d2" -gt "$d1"
ip -n "$R" addr del 10.77.0.3/32 dev lo
ip -n "$R" route del 10.77.0.1/32 dev $IF1
check "  control: the edge's service answers the internet" body_is "$CLIENT" "http://$EDGE_IP:8089/" edge-web

# A packet from outside with a tunnel address as its source is forged: DNATed, its reply would be
# steered into a tunnel. The edge must not pass it to the site at all.
ip -n "$CLIENT" addr add 10.77.0.99/32 dev lo
ip netns exec "$CLIENT" curl -s --interface 10.77.0.99 --connect-timeout 1 --max-time 2 "http://$EDGE_IP:8080/" >/dev/null 2>&1
check "a forged tunnel source from the internet never reaches the site" sh -c \
	"! ip netns exec '$R' conntrack -L -s 10.77.0.99 2>/dev/null | grep -q ."
ip -n "$CLIENT" addr del 10.77.0.99/32 dev lo

# Roaming: a UDP stream runs while the carrier gives the site a new public address.
cat >"$D/stream.py" <<'EOF'
import os, socket, sys, time
src, ip, port, mark, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.1); s.bind((src, 0))
after, end, i = 0, time.time() + 40, 0
with open(log, "w", buffering=1) as f:
    while time.time() < end and after < 10:
        i += 1; s.sendto(b"n%d" % i, (ip, port))
        try:
            d = s.recvfrom(2048)[0].decode()
            moved = os.path.exists(mark)
            after += moved
            f.write(("after " if moved else "before ") + d + "\n")
        except OSError: pass
        time.sleep(0.05)
EOF
ip netns exec "$CLIENT" "$LAB_PY" "$D/stream.py" "$CLIENT_IP" "$EDGE_IP" 5005 "$D/moved" "$D/stream.log" &
spid=$!
echo $spid >>"$LAB_DIR/pids"
replies() { _c=$(grep -c "^$1 srv-101 $CLIENT_IP n" "$D/stream.log" 2>/dev/null); [ "${_c:-0}" -ge "$2" ]; }
check "roaming: the stream flows before the move" wait_for 10 replies before 5
# And a TCP download at 400 kB/s (2 MB: 5 s) runs across the move.
ip netns exec "$CLIENT" curl -s --interface "$CLIENT_IP" --limit-rate 400k --max-time 30 \
	-o "$D/slow.out" "http://$EDGE_IP:8080/big" &
cpid=$!
echo $cpid >>"$LAB_DIR/pids"
started() { [ -s "$D/slow.out" ]; }
wait_for 5 started
ip -n "$LAB_CGN" addr add 203.0.113.2/24 dev eth0
ip netns exec "$LAB_CGN" iptables -t nat -R POSTROUTING 1 -o eth0 -j SNAT --to-source 203.0.113.2
ip netns exec "$LAB_CGN" conntrack -F >/dev/null 2>&1
touch "$D/moved"
check "roaming: the same stream flows again after the carrier address changed" wait_for 20 replies after 10
endpoint() { pp "$EDGE" edge status --config "$D/edge.ini" --json | jq -e ".sites[] | select(.name == \"plant3\") | .endpoint | startswith(\"203.0.113.2:\")" >/dev/null; }
check "roaming: the edge now sees site 1 at its new carrier address" endpoint
wait $spid 2>/dev/null
wait $cpid 2>/dev/null
check "roaming: a TCP download running across the move completes whole" \
	test "$(wc -c <"$D/slow.out" 2>/dev/null)" = 2000000
check "roaming: HTTP works too after the move" test "$(body 8080)" = "srv-101 $CLIENT_IP"

pp "$EDGE" edge status --config "$D/edge.ini" >"$D/status" 2>&1
check "edge status: per site connected, last handshake and bytes" sh -c \
	"grep -Eq '^plant3: connected, last handshake [0-9]+ s ago, from 203.0.113.2:[0-9]+, received [1-9][0-9]* bytes, sent [1-9][0-9]* bytes' '$D/status' &&
	 grep -q '^depot: connected' '$D/status'"
pp "$EDGE" edge status --config "$D/edge.ini" --json >"$D/estatus.json"
check "edge status --json: up, rules in place, 2 of 2 connected, bytes counted" jqf \
	'.up and .rules and .connected_sites == 2 and ([.sites[] | select(.rx_bytes > 0 and .tx_bytes > 0 and .last_handshake_s >= 0)] | length == 2)' \
	"$D/estatus.json"
ip netns exec "$EDGE" iptables -D FORWARD -j PPEDGE-FWD
pp "$EDGE" edge status --config "$D/edge.ini" >"$D/out" 2>&1; rc=$?
check "edge status: a missing hook is said loudly, exit 1" sh -c "test $rc = 1 && grep -q 'RULES MISSING' '$D/out'"
pp "$EDGE" --state-dir "$D/se" edge up --config "$D/edge.ini" >/dev/null 2>&1
check "edge up again puts it back, once" test "$(ip netns exec "$EDGE" iptables -S FORWARD | grep -c PPEDGE-FWD)" = 1
pp "$R" -f "$D/site1.ini" relay status --json >"$D/rstatus.json"
check "relay status --json: up, routing in place, the edge connected" jqf \
	'.up and .routing and .edge.connected and .edge.rx_bytes > 0' "$D/rstatus.json"
pp "$R" -f "$D/site1.ini" relay status >"$D/rstatus" 2>&1
check "relay status on the site: the edge connected, rules and routing in place" sh -c \
	"grep -q '^edge $EDGE_IP:51820: connected' '$D/rstatus' && grep -q 'rules and policy routing in place' '$D/rstatus'"
check "no output ever held a private key" sh -c "! cat '$D'/*.log '$D/status' '$D/rstatus' '$D/out' '$D/err' 2>/dev/null |
	grep -qF -e \"\$(cat '$D/s1/relay.key')\" -e \"\$(cat '$D/se/edge.key')\""

# The tunnel going down is named as such.
ip -n "$R" link set $IF1 down
probe web
check "probe: the tunnel down is named relay_down, with the fix" jqf \
	'.cause == "relay_down" and (.summary | test("relay tunnel .* not there or down")) and (.fix | test("portpilot relay up"))' \
	"$D/probe.json"

# Down: everything the relay made goes, and the edge stops forwarding to a site that is down.
pp "$R" -f "$D/site1.ini" relay down >"$D/out" 2>&1
check "relay down: tunnel, PP-RELAY chains and the policy rule are gone" sh -c \
	"! ip -n '$R' link show $IF1 2>/dev/null && ! ip netns exec '$R' iptables -t mangle -S | grep -q PP-RELAY &&
	 ! ip -n '$R' rule | grep -q 'lookup 5207'"
check "relay down: site 1 is no longer reachable through the edge" test -z "$(body 8080)"
check "  while site 2 still is" test "$(body 9090)" = "site2-101 $CLIENT_IP"
# A site taken out of edge.ini is out at once: its port, its peer, its chain.
sed '/^\[site depot\]/,$d' "$D/edge.ini" >"$D/edge1.ini"
pp "$EDGE" --state-dir "$D/se" edge up --config "$D/edge1.ini" >"$D/out" 2>&1 || cat "$D/out"
check "a site removed from edge.ini: its port is no longer forwarded" test -z "$(body 9090)"
check "a site removed from edge.ini: its peer and its chain are gone" sh -c \
	"! ip netns exec '$EDGE' wg show $IFE peers | grep -qF '$S2_PUB' && ! ip netns exec '$EDGE' iptables-save -t nat | grep -q PPEDGE-S1"
pp "$EDGE" edge down --config "$D/edge.ini" >"$D/out" 2>&1
check "edge down: the tunnel and the PPEDGE chains are gone" sh -c \
	"! ip -n '$EDGE' link show $IFE 2>/dev/null && ! ip netns exec '$EDGE' iptables-save | grep -q PPEDGE"
pp $R2 -f "$D/site2.ini" relay down >/dev/null 2>&1
# An interface of the router's own under the tunnel's name is never taken nor deleted.
ip -n $R2 link add ppx$$ type veth peer name ppy$$
sed "s/^relay_interface = .*/relay_interface = ppx$$/" "$D/site2.ini" >"$D/site2x.ini"
pp $R2 -f "$D/site2x.ini" --state-dir "$D/s2" relay up >"$D/out" 2>&1; rc=$?
check "relay up refuses an interface that is not WireGuard" sh -c "test $rc = 1 && grep -q 'not a WireGuard one' '$D/out'"
pp $R2 -f "$D/site2x.ini" relay down >"$D/out" 2>&1
check "relay down leaves a non-WireGuard interface alone" sh -c "ip -n $R2 link show ppx$$ >/dev/null"
pp_done
