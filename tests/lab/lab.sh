# Network-namespace lab of the seed site: internet host, router, LAN servers.
#
# Source it after tests/lib.sh (its at_exit is used when present):
#     . "$PP_TOP/tests/lib.sh"; . "$PP_TOP/tests/lab/lab.sh"
#     lab_need_root            # exit 77 when namespaces cannot be made here
#     lab_up [udp] [outside2] [cgnat] [noforward]
#     ... tests ...
#     (lab_down runs on exit, also on failure; call it yourself to tear down early)
#
# Topology (every namespace is "pp-$LAB_ID-<role>", LAB_ID defaults to $$):
#
#   inet 203.0.113.10 ──eth0── router ──eth1── sw (bridge) ── srv1 192.168.2.101
#     │ (forwards)        WAN 203.0.113.1/24   LAN 192.168.2.1/24  ├─ srv2 192.168.2.102
#   inet2 198.51.100.10 (outside2)                                 ├─ srv3 192.168.2.103
#                                                                  └─ lanhost 192.168.2.50
#   with cgnat: inet ── cgn (203.0.113.1 public, masquerades) ── router WAN 100.64.0.2/10
#
# Servers: HTTP on port 80, any path answers "srv-101\n" (-102, -103: its own
# name); with "udp" each also echoes UDP on $LAB_UDP_PORT as "srv-101 <data>".
# The router's interfaces are named eth0 (WAN) and eth1 (LAN), like the seed
# example, so examples/seed-site.ini applies unchanged. ip_forward is 1 on the
# router unless "noforward" is given.
#
# Variables set by lab_up (exported): LAB_ID LAB_DIR
#   namespaces: LAB_ROUTER LAB_INET LAB_INET2 LAB_CGN LAB_SW LAB_SRV1 LAB_SRV2
#               LAB_SRV3 LAB_LANHOST (LAB_INET2/LAB_CGN empty unless asked)
#   addresses:  LAB_PUBLIC_IP (what the internet connects to) LAB_WAN_IP
#               LAB_LAN_IP LAB_INET_IP LAB_INET2_IP LAB_SRV1_IP LAB_SRV2_IP
#               LAB_SRV3_IP LAB_LANHOST_IP LAB_LAN_SUBNET
#   names:      LAB_WAN_IF LAB_LAN_IF LAB_UDP_PORT
# Helpers: lab_begin [OPTIONS] (need_root + lab_up + T S R for a test), body_is NS URL TEXT,
#   no_answer NS URL, lab_ns NS CMD... (run inside NS), lab_http NS URL (prints the body),
#   lab_serve NS PORT NAME (another HTTP listener answering NAME),
#   lab_tcp_listen NS PORT [BANNER] (a bare TCP listener; prints its pid),
#   lab_udp NS IP PORT TEXT (prints the reply), lab_seed_table FILE (writes the
#   seed table with this lab's interface names), lab_down.
# Several labs in one script: set LAB_ID (and LAB_DIR="") before each lab_up
# and register at_exit "LAB_DIR=$LAB_DIR lab_down" after it (bench/dataplane.sh).
# Note: lib.sh's check and wait_for share the variables n, t, i; call wait_for
# in a subshell inside check (waits() ( wait_for "$@" )) and avoid those names.

LAB_WAN_IF=eth0
LAB_LAN_IF=eth1
LAB_UDP_PORT=5005
LAB_LAN_SUBNET=192.168.2.0/24
LAB_LAN_IP=192.168.2.1
LAB_INET_IP=203.0.113.10
LAB_INET2_IP=198.51.100.10
LAB_SRV1_IP=192.168.2.101
LAB_SRV2_IP=192.168.2.102
LAB_SRV3_IP=192.168.2.103
LAB_LANHOST_IP=192.168.2.50
LAB_PY=/usr/bin/python3
[ -x "$LAB_PY" ] || LAB_PY=python3
# What [site] backend = auto (or no key) means in the lab suites: iptables, whose rules they read
# and edit; PP_BACKEND=nftables runs them on the other backend (a table's own key still wins).
export PORTPILOT_BACKEND="${PP_BACKEND:-iptables}"

lab_need_root() {
	if [ "$(id -u)" != 0 ]; then echo "# lab: needs root (network namespaces)"; exit 77; fi
	if ! ip netns add "pp-$$-nscheck" 2>/dev/null; then echo "# lab: cannot create network namespaces"; exit 77; fi
	ip netns del "pp-$$-nscheck"
	for c in iptables iptables-restore curl; do
		command -v $c >/dev/null || { echo "# lab: $c missing"; exit 77; }
	done
}

lab_ns() { _n=$1; shift; ip netns exec "$_n" "$@"; }

# lab_begin [lab_up OPTIONS]: the start of a lab test: skip without root, build the lab (a
# failure ends the test) and set T (a table), S (a state dir), both in $pp_tmp, and R (the router).
lab_begin() {
	lab_need_root
	lab_up "$@" || { not_ok "lab builds"; pp_done; }
	T=$pp_tmp/mappings.ini S=$pp_tmp/state R=$LAB_ROUTER
}

# body_is NS URL TEXT: the GET's body is TEXT; no_answer NS URL: nothing answers.
body_is() { [ "$(lab_http "$1" "$2")" = "$3" ]; }
no_answer() { [ -z "$(lab_http "$1" "$2")" ]; }

# lab_http NS URL: the body of a GET, empty on failure (2 s bound).
lab_http() { ip netns exec "$1" curl -s --connect-timeout 2 --max-time 3 "$2" 2>/dev/null; }

# lab_udp NS IP PORT TEXT: send one datagram, print the first reply (1 s bound).
lab_udp() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
try: print(s.recvfrom(2048)[0].decode())
except OSError: sys.exit(1)' "$2" "$3" "$4"
}

_lab_mkns() {
	ip netns add "$1" || return 1
	echo "$1" >>"$LAB_DIR/ns"
	ip -n "$1" link set lo up
}

# _lab_link NS1 IF1 NS2 IF2: a veth pair made inside NS1 (the host sees nothing).
_lab_link() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" &&
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

_lab_server() { # NS NAME UDP(0|1) [HTTP_PORT]
	ip netns exec "$1" "$LAB_PY" "$LAB_DIR/server.py" "$2" "$LAB_UDP_PORT" "$3" ${4:-80} \
		>>"$LAB_DIR/server.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
}

_lab_write_server() {
	cat >"$LAB_DIR/server.py" <<'EOF'
# Lab server: HTTP answering its name on port 80, optional UDP echo.
import http.server, socket, socketserver, sys, threading
name, udp_port, udp = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
http_port = int(sys.argv[4]) if len(sys.argv) > 4 else 80
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True; request_queue_size = 128
def echo():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", udp_port))
    while True:
        d, a = u.recvfrom(2048); u.sendto((name + " ").encode() + d, a)
if udp: threading.Thread(target=echo, daemon=True).start()
S(("0.0.0.0", http_port), H).serve_forever()
EOF
}

_lab_listening() { # NS PORT
	ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q LISTEN
}

lab_up() {
	_udp=0 _out2=0 _cgn=0 _fwd=1
	for _o in "$@"; do
		case $_o in udp) _udp=1;; outside2) _out2=1;; cgnat) _cgn=1;; noforward) _fwd=0;;
		*) echo "lab_up: unknown option $_o" >&2; return 2;; esac
	done
	: "${LAB_ID:=$$}"
	LAB_DIR=$(mktemp -d /tmp/pp-lab.XXXXXX)
	: >"$LAB_DIR/ns"; : >"$LAB_DIR/pids"
	if command -v at_exit >/dev/null 2>&1; then at_exit lab_down; else trap 'lab_down' EXIT; trap 'lab_down; exit 1' INT TERM HUP; fi
	_p="pp-$LAB_ID"
	LAB_ROUTER=$_p-router LAB_INET=$_p-inet LAB_SW=$_p-sw LAB_SRV1=$_p-srv1 LAB_SRV2=$_p-srv2
	LAB_SRV3=$_p-srv3 LAB_LANHOST=$_p-lanhost LAB_INET2="" LAB_CGN=""
	LAB_PUBLIC_IP=203.0.113.1 LAB_WAN_IP=203.0.113.1
	for _n in $LAB_ROUTER $LAB_INET $LAB_SW $LAB_SRV1 $LAB_SRV2 $LAB_SRV3 $LAB_LANHOST; do
		_lab_mkns "$_n" || return 1
	done
	ip netns exec "$LAB_INET" sysctl -qw net.ipv4.ip_forward=1
	# WAN side.
	if [ $_cgn = 1 ]; then
		LAB_CGN=$_p-cgn LAB_WAN_IP=100.64.0.2
		_lab_mkns "$LAB_CGN" || return 1
		_lab_link "$LAB_CGN" eth0 "$LAB_INET" eth0 && _lab_link "$LAB_CGN" eth1 "$LAB_ROUTER" eth0 || return 1
		ip -n "$LAB_CGN" addr add 203.0.113.1/24 dev eth0
		ip -n "$LAB_CGN" addr add 100.64.0.1/10 dev eth1
		ip -n "$LAB_CGN" route add default via $LAB_INET_IP
		ip netns exec "$LAB_CGN" sysctl -qw net.ipv4.ip_forward=1
		ip netns exec "$LAB_CGN" iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
		ip -n "$LAB_ROUTER" addr add 100.64.0.2/10 dev eth0
		ip -n "$LAB_ROUTER" route add default via 100.64.0.1
	else
		_lab_link "$LAB_ROUTER" eth0 "$LAB_INET" eth0 || return 1
		ip -n "$LAB_ROUTER" addr add 203.0.113.1/24 dev eth0
		ip -n "$LAB_ROUTER" route add default via $LAB_INET_IP
	fi
	ip -n "$LAB_INET" addr add $LAB_INET_IP/24 dev eth0
	if [ $_out2 = 1 ]; then
		LAB_INET2=$_p-inet2
		_lab_mkns "$LAB_INET2" || return 1
		_lab_link "$LAB_INET" eth1 "$LAB_INET2" eth0 || return 1
		ip -n "$LAB_INET" addr add 198.51.100.1/24 dev eth1
		ip -n "$LAB_INET2" addr add $LAB_INET2_IP/24 dev eth0
		ip -n "$LAB_INET2" route add default via 198.51.100.1
	fi
	# LAN side: a bridge in its own namespace, so the router's eth1 is a plain interface.
	ip -n "$LAB_SW" link add br0 type bridge && ip -n "$LAB_SW" link set br0 up || return 1
	_lab_link "$LAB_SW" p-router "$LAB_ROUTER" eth1 || return 1
	ip -n "$LAB_SW" link set p-router master br0
	ip -n "$LAB_ROUTER" addr add $LAB_LAN_IP/24 dev eth1
	for _s in "$LAB_SRV1 $LAB_SRV1_IP 101" "$LAB_SRV2 $LAB_SRV2_IP 102" \
	         "$LAB_SRV3 $LAB_SRV3_IP 103" "$LAB_LANHOST $LAB_LANHOST_IP 50"; do
		set -- $_s
		_lab_link "$LAB_SW" "p-$3" "$1" eth0 || return 1
		ip -n "$LAB_SW" link set "p-$3" master br0
		ip -n "$1" addr add "$2/24" dev eth0
		ip -n "$1" route add default via $LAB_LAN_IP
	done
	ip netns exec "$LAB_ROUTER" sysctl -qw net.ipv4.ip_forward=$_fwd
	_lab_write_server
	_lab_server "$LAB_SRV1" srv-101 $_udp
	_lab_server "$LAB_SRV2" srv-102 $_udp
	_lab_server "$LAB_SRV3" srv-103 $_udp
	for _n in $LAB_SRV1 $LAB_SRV2 $LAB_SRV3; do
		wait_for 10 _lab_listening "$_n" 80 || { echo "lab_up: server in $_n did not start" >&2; cat "$LAB_DIR/server.log" >&2; return 1; }
	done
	export LAB_ID LAB_DIR LAB_ROUTER LAB_INET LAB_INET2 LAB_CGN LAB_SW LAB_SRV1 LAB_SRV2 \
		LAB_SRV3 LAB_LANHOST LAB_PUBLIC_IP LAB_WAN_IP LAB_LAN_IP LAB_INET_IP LAB_INET2_IP \
		LAB_SRV1_IP LAB_SRV2_IP LAB_SRV3_IP LAB_LANHOST_IP LAB_LAN_SUBNET LAB_WAN_IF \
		LAB_LAN_IF LAB_UDP_PORT
}

# lab_serve NS PORT NAME: one more HTTP listener answering NAME (waits until it listens).
lab_serve() {
	_lab_server "$1" "$3" 0 "$2"
	wait_for 10 _lab_listening "$1" "$2"
}

# lab_reset_server NS ADDR PORT: a TCP listener that accepts, then resets at once (SO_LINGER 0),
# in a process of its own so the RST follows the handshake closely. Waits until it listens.
lab_reset_server() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, _ = s.accept(); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
' "$2" "$3" >/dev/null 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	wait_for 10 _lab_listening "$1" "$3"
}

# lab_tcp_listen NS PORT [BANNER]: a TCP listener that accepts (sends BANNER when given) and
# closes, in a process of its own whose pid is printed (to stop one server alone). Waits until
# it listens.
lab_tcp_listen() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    if len(sys.argv) > 2: c.sendall(sys.argv[2].encode())
    c.close()' "$2" ${3:+"$3"} >/dev/null 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	echo $!
	wait_for 10 _lab_listening "$1" "$2"
}

# Kill what the lab started (by PID), then delete its namespaces. Idempotent.
lab_down() {
	[ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] || return 0
	while read -r pid; do kill "$pid" 2>/dev/null; done <"$LAB_DIR/pids"
	while read -r n; do
		# Processes a test left inside (rollback timers, servers) die with their namespace.
		for pid in $(ip netns pids "$n" 2>/dev/null); do kill "$pid" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done <"$LAB_DIR/ns"
	rm -rf "$LAB_DIR"
	LAB_DIR=""
}

# lab_seed_table FILE: the seed example (8080/8090/8091 to .101/.102/.103)
# with this lab's interface names.
lab_seed_table() {
	cat >"$1" <<EOF
[site]
name          = Plant 3 video platform (lab)
wan_interface = $LAB_WAN_IF
lan_interface = $LAB_LAN_IF
lan_subnet    = $LAB_LAN_SUBNET
public_ip     = auto
hairpin       = yes

[web-1]
description   = Project portal
protocol      = tcp
public_port   = 8080
internal_ip   = $LAB_SRV1_IP
internal_port = 80

[web-2]
description   = Camera archive
protocol      = tcp
public_port   = 8090
internal_ip   = $LAB_SRV2_IP
internal_port = 80

[web-3]
description   = Monitoring
protocol      = tcp
public_port   = 8091
internal_ip   = $LAB_SRV3_IP
internal_port = 80
EOF
}

# lab_site_ini: the [site] section of a test's own table (the lab's WAN and LAN, hairpin off),
# then its mappings: { lab_site_ini; cat <<EOT ... EOT; } >"$T".
lab_site_ini() { printf '[site]\nwan_interface = %s\nlan_interface = %s\nhairpin = no\n\n' "$LAB_WAN_IF" "$LAB_LAN_IF"; }

# lab_path_without TOOL DIR: fill DIR with links to every command on the usual PATH but TOOL;
# PATH=DIR is then a box that never installed TOOL.
lab_path_without() {
	mkdir -p "$2"
	for _d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
		for _f in "$_d"/*; do
			_b=${_f##*/}
			[ "$_b" = "$1" ] || [ -e "$2/$_b" ] || ln -s "$_f" "$2/$_b"
		done
	done
}

# lab_nft: the suite runs on the nftables backend (PP_BACKEND=nftables, exported above as
# PORTPILOT_BACKEND); tests/lab/test-nft-suites.sh runs the key suites that way.
lab_nft() { [ "$PORTPILOT_BACKEND" = nftables ]; }

# ---- the monitor suites' scaffolding (tests/probe/test-monitor-*.sh) ----
# lab_monitor_dir: M=$pp_tmp/mon, made; the monitor's files go there.
lab_monitor_dir() { M=$pp_tmp/mon; mkdir -p "$M"; }
# lab_reflector: the reflector on the internet side ($LAB_INET_IP:9443, 90 requests a minute
# from one address), its pid in LAB_REFL (killed on exit), waited for until the router gets an
# answer from it. Log: $M/refl.log.
lab_refl_up() { lab_ns "$R" curl -s -o /dev/null --max-time 1 "http://$LAB_INET_IP:9443/v1/whoami"; }
lab_reflector() {
	ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9443" --rate 90 >"$M/refl.log" 2>&1 &
	LAB_REFL=$!
	echo $LAB_REFL >>"$LAB_DIR/pids"
	wait_for 10 lab_refl_up || not_ok "reflector answers"
}
# lab_public_conf: the head of the monitor's portpilot.conf for a public check through
# lab_reflector's reflector ([probe] reflector, then [monitor]); the caller's keys follow it.
lab_public_conf() { printf '[probe]\nreflector = http://%s:9443\n\n[monitor]\n' "$LAB_INET_IP"; }
# lab_monitor CONF: the monitor on the router, a pass every second (no journald: the socket
# is a dead path), its pid in LAB_MON (killed on exit). Output: $M/monitor.out, .err.
lab_monitor() {
	PORTPILOT_JOURNAL_SOCKET=$M/none.sock ip netns exec "$R" "$PORTPILOT" -f "$T" -c "$1" \
		--state-dir "$S" monitor --interval 1 >"$M/monitor.out" 2>"$M/monitor.err" &
	LAB_MON=$!
	echo $LAB_MON >>"$LAB_DIR/pids"
}
