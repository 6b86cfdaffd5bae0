# The relay's lab, shared by the relay suites. Source it after tests/lib.sh and tests/lab/lab.sh:
#     relay_lab_up [home] [one]
# builds, with the seed lab's servers:
#   client 203.0.113.10 (also 198.51.100.1) ── edge 198.51.100.10 (portpilot edge up, tunnel $IFE)
#   site 1: its router behind a carrier NAT (WAN 100.64.0.2/10, the carrier's public 203.0.113.1),
#           or with "home" behind a home router instead (WAN 198.51.100.130 on the home router's
#           LAN 198.51.100.128/25, its public 203.0.113.1); relays web (tcp 8080 -> .101:8000), echo
#           (udp 5005 -> .101:8001), web-2 (8090), partners (8081, allow 198.51.100.0/24); lan-only
#           (8091) is not relayed. Tunnel $IF1, tunnel address 10.77.0.2.
#   site 2 (not with "one"): router 100.65.0.2 (behind the client's eth2), its own LAN with the
#           same addresses, app (9090 -> .101:8000); tunnel $IF2, address 10.77.0.3.
# then edge up, apply and relay up on each site (their output in $D/edge-up.out/.err and
# $D/up-s1.out, $D/up-s2.out). Sets EDGE EDGE_IP CLIENT CLIENT_IP R R2 S2 IF1 IF2 IFE D E_PUB
# S1_PUB S2_PUB UPSTREAM (the namespace of the NAT in front of site 1), the files $D/edge.ini
# $D/site1.ini $D/site2.ini, the state directories $D/se $D/s1 $D/s2, and the helpers
# pp NS ARGS... (portpilot in NS) and whoami NS NAME (HTTP 8000 and UDP 8001, answering
# "NAME CLIENT-ADDRESS"). A lab that cannot be built fails the test (not_ok + pp_done).

relay_lab_need() {
	lab_need_root
	for c in wg wireguard-go conntrack; do
		command -v $c >/dev/null || { echo "# relay: $c missing (tools/deps.sh installs it)"; exit 77; }
	done
	[ -c /dev/net/tun ] || { echo "# relay: no /dev/net/tun for wireguard-go"; exit 77; }
}

pp() { ns=$1; shift; ip netns exec "$ns" "$PORTPILOT" "$@"; }

whoami() { # NS NAME
	ip netns exec "$1" "$LAB_PY" "$D/whoami.py" "$2" >/dev/null 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	wait_for 10 _lab_listening "$1" 8000
}

relay_lab_up() {
	_rl_home=0 _rl_one=0
	for _o in "$@"; do
		case $_o in home) _rl_home=1;; one) _rl_one=1;;
		*) echo "relay_lab_up: unknown option $_o" >&2; return 2;; esac
	done
	relay_lab_need
	lab_up cgnat outside2 || { not_ok "lab builds"; pp_done; }
	EDGE=$LAB_INET2 EDGE_IP=$LAB_INET2_IP CLIENT=$LAB_INET CLIENT_IP=$LAB_INET_IP R=$LAB_ROUTER
	UPSTREAM=$LAB_CGN
	if [ $_rl_home = 1 ]; then
		# The carrier NAT becomes a home router: the same masquerade to 203.0.113.1, but its LAN
		# is the site router's WAN, 198.51.100.128/25 (an address range allowed in this lab; the
		# probe, asking a reflector, would name it double_nat: the outside sees another address).
		ip -n "$UPSTREAM" addr flush dev eth1
		ip -n "$R" addr flush dev eth0
		ip -n "$UPSTREAM" addr add 198.51.100.129/25 dev eth1
		ip -n "$R" addr add 198.51.100.130/25 dev eth0
		ip -n "$R" route add default via 198.51.100.129 || { not_ok "home router builds"; pp_done; }
		LAB_WAN_IP=198.51.100.130
	fi
	# Interface names are global to wireguard-go's sockets (/var/run/wireguard): this run's own.
	IF1=ppr$$a IF2=ppr$$b IFE=ppe$$
	D=$pp_tmp
	# A wireguard-go killed with its namespace (a failed run) leaves its socket behind.
	at_exit "rm -f /var/run/wireguard/$IF1.sock /var/run/wireguard/$IF2.sock /var/run/wireguard/$IFE.sock"

	# A server that says who it is and whom it sees: HTTP on 8000, UDP on 8001.
	cat >"$D/whoami.py" <<'EOF'
import http.server, socket, socketserver, sys, threading
name = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s\n" % (name, self.client_address[0])).encode()
        if self.path == "/big": body = b"x" * 2000000
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 8001))
    while True:
        d, a = u.recvfrom(2048); u.sendto(("%s %s " % (name, a[0])).encode() + d, a)
threading.Thread(target=udp, daemon=True).start()
S(("0.0.0.0", 8000), H).serve_forever()
EOF
	whoami "$LAB_SRV1" srv-101 || { not_ok "whoami server starts"; pp_done; }

	R2="" S2=""
	if [ $_rl_one = 0 ]; then
		# Site 2: its own carrier address (100.65.0.2, routed by the internet host) and its own LAN
		# with the same addresses as site 1's, as two customers' sites would have.
		R2=pp-$LAB_ID-r2 S2=pp-$LAB_ID-s2srv
		for n in $R2 $S2; do _lab_mkns $n || { not_ok "site 2 builds"; pp_done; }; done
		_lab_link "$CLIENT" eth2 $R2 eth0 && _lab_link $R2 eth1 $S2 eth0 || { not_ok "site 2 links"; pp_done; }
		ip -n "$CLIENT" addr add 100.65.0.1/16 dev eth2
		ip -n $R2 addr add 100.65.0.2/16 dev eth0 && ip -n $R2 route add default via 100.65.0.1
		ip -n $R2 addr add 192.168.2.1/24 dev eth1
		ip -n $S2 addr add 192.168.2.101/24 dev eth0 && ip -n $S2 route add default via 192.168.2.1
		ip netns exec $R2 sysctl -qw net.ipv4.ip_forward=1
		whoami $S2 site2-101 || { not_ok "site 2's server starts"; pp_done; }
	fi

	# Keys: made once, 0600, only the public half printed.
	E_PUB=$(pp "$EDGE" --state-dir "$D/se" edge keygen 2>"$D/err") || cat "$D/err"
	S1_PUB=$(pp "$R" --state-dir "$D/s1" relay keygen)
	if [ -n "$R2" ]; then
		S2_PUB=$(pp $R2 --state-dir "$D/s2" relay keygen)
	else
		S2_PUB=$(wg genkey | wg pubkey)      # a configured site that never connects
	fi

cat >"$D/edge.ini" <<EOF
[edge]
interface = $IFE
listen_port = 51820
address = 10.77.0.1/24

[site plant3]
public_key = $S1_PUB
address = 10.77.0.2
ports = tcp/8080, udp/5005, tcp/8081

[site depot]
public_key = $S2_PUB
address = 10.77.0.3
ports = tcp/9090
EOF
# Site 1 relays four mappings; the edge carries only two of them (8090 is not on the edge).
cat >"$D/site1.ini" <<EOF
[site]
wan_interface = eth0
lan_interface = eth1
lan_subnet = 192.168.2.0/24
relay = $EDGE_IP:51820
relay_public_key = $E_PUB
relay_address = 10.77.0.2
relay_keepalive = 1
relay_interface = $IF1
relay_mappings = web, echo, web-2, partners

[web]
public_port = 8080
internal_ip = 192.168.2.101
internal_port = 8000

[echo]
protocol = udp
public_port = 5005
internal_ip = 192.168.2.101
internal_port = 8001

[web-2]
public_port = 8090
internal_ip = 192.168.2.102
internal_port = 80

[partners]
public_port = 8081
internal_ip = 192.168.2.101
internal_port = 8000
allow = 198.51.100.0/24

[lan-only]
public_port = 8091
internal_ip = 192.168.2.103
internal_port = 80
EOF
cat >"$D/site2.ini" <<EOF
[site]
wan_interface = eth0
lan_interface = eth1
lan_subnet = 192.168.2.0/24
relay = $EDGE_IP
relay_public_key = $E_PUB
relay_address = 10.77.0.3
relay_keepalive = 1
relay_interface = $IF2

[app]
public_port = 9090
internal_ip = 192.168.2.101
internal_port = 8000
EOF

	pp "$EDGE" --state-dir "$D/se" edge up --config "$D/edge.ini" >"$D/edge-up.out" 2>"$D/edge-up.err"
	pp "$R" -f "$D/site1.ini" --state-dir "$D/s1" apply >"$D/up-s1.out" 2>&1 || cat "$D/up-s1.out"
	pp "$R" -f "$D/site1.ini" --state-dir "$D/s1" relay up >>"$D/up-s1.out" 2>&1 || cat "$D/up-s1.out"
	if [ -n "$R2" ]; then
		pp $R2 -f "$D/site2.ini" --state-dir "$D/s2" apply >"$D/up-s2.out" 2>&1 || cat "$D/up-s2.out"
		pp $R2 -f "$D/site2.ini" --state-dir "$D/s2" relay up >>"$D/up-s2.out" 2>&1 || cat "$D/up-s2.out"
	fi
}

# relay_connected NAME: edge status says the edge's site NAME is connected.
relay_connected() {
	pp "$EDGE" edge status --config "$D/edge.ini" --json | jq -e -n "input | .sites[] | select(.name == \"$1\") | .connected" >/dev/null
}
