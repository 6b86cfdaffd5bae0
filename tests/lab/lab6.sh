# IPv6 for the lab (issue 15): source after tests/lab/lab.sh, call lab_ipv6 after lab_up.
# lab_ipv6 (after lab_up): IPv6 from 2001:db8::/32 only, no NAT. The ISP side (inet) routes the
# delegated prefix LAB_PREFIX6 (2001:db8:1::/64, on the router's eth1) to the router's WAN
# 2001:db8:ffff::1; servers take host ids ::1:101, ::1:102, ::1:103 on it, the lanhost ::50.
# inet 2001:db8:ffff::10 (and inet2 2001:db8:100::10 with outside2). With cgnat the carrier's box
# routes IPv6 (no NAT): the router's WAN is then 2001:db8:fffe::2. The router forwards IPv6
# with ip6tables FORWARD policy DROP, as a router's firewall does: only pinholes let traffic in.
# Addresses are added without duplicate address detection (nodad): usable at once.
# lab_prefix6 OLD NEW (e.g. 2001:db8:1 2001:db8:2): renumber the LAN as a new delegation would.
LAB_INET6=2001:db8:ffff::10
LAB_INET2_6=2001:db8:100::10
LAB_WAN6=2001:db8:ffff::1
lab_ipv6() {
	LAB_PREFIX6=2001:db8:1
	for _n in $LAB_ROUTER $LAB_INET; do ip netns exec "$_n" sysctl -qw net.ipv6.conf.all.forwarding=1; done
	ip -n "$LAB_INET" -6 addr add $LAB_INET6/64 dev eth0 nodad
	_up6=$LAB_INET6 _wan6=$LAB_WAN6
	if [ -n "$LAB_CGN" ]; then
		# Behind the carrier's NAT for IPv4, IPv6 is routed as ever (the carrier's box has
		# 2001:db8:ffff::2 towards inet, 2001:db8:fffe::1 towards the router): no NAT, no filter.
		LAB_WAN6=2001:db8:fffe::2 _up6=2001:db8:fffe::1 _wan6=2001:db8:ffff::2
		ip netns exec "$LAB_CGN" sysctl -qw net.ipv6.conf.all.forwarding=1
		ip -n "$LAB_CGN" -6 addr add $_wan6/64 dev eth0 nodad
		ip -n "$LAB_CGN" -6 addr add $_up6/64 dev eth1 nodad
		ip -n "$LAB_CGN" -6 route add 2001:db8:1::/48 via $LAB_WAN6
		ip -n "$LAB_CGN" -6 route add 2001:db8:2::/48 via $LAB_WAN6
		ip -n "$LAB_INET" -6 route add 2001:db8:fffe::/64 via $_wan6
	fi
	ip -n "$LAB_ROUTER" -6 addr add $LAB_WAN6/64 dev eth0 nodad
	ip -n "$LAB_ROUTER" -6 route add default via $_up6
	ip -n "$LAB_INET" -6 route add 2001:db8:1::/48 via $_wan6
	ip -n "$LAB_INET" -6 route add 2001:db8:2::/48 via $_wan6
	if [ -n "$LAB_INET2" ]; then
		ip -n "$LAB_INET" -6 addr add 2001:db8:100::1/64 dev eth1 nodad
		ip -n "$LAB_INET2" -6 addr add $LAB_INET2_6/64 dev eth0 nodad
		ip -n "$LAB_INET2" -6 route add default via 2001:db8:100::1
	fi
	ip netns exec "$LAB_ROUTER" ip6tables -P FORWARD DROP
	ip -n "$LAB_ROUTER" -6 addr add $LAB_PREFIX6::1/64 dev eth1 nodad
	for _s in "$LAB_SRV1 1:101" "$LAB_SRV2 1:102" "$LAB_SRV3 1:103" "$LAB_LANHOST 50"; do
		set -- $_s
		ip -n "$1" -6 addr add "$LAB_PREFIX6::$2/64" dev eth0 nodad
		ip -n "$1" -6 route add default via $LAB_PREFIX6::1
	done
	export LAB_PREFIX6 LAB_INET6 LAB_INET2_6 LAB_WAN6
}

lab_prefix6() {
	_lp_old=$1 _lp_new=$2
	ip -n "$LAB_ROUTER" -6 addr add "$_lp_new::1/64" dev eth1 nodad
	ip -n "$LAB_ROUTER" -6 addr del "$_lp_old::1/64" dev eth1
	for _s in "$LAB_SRV1 1:101" "$LAB_SRV2 1:102" "$LAB_SRV3 1:103" "$LAB_LANHOST 50"; do
		set -- $_s
		ip -n "$1" -6 addr add "$_lp_new::$2/64" dev eth0 nodad
		ip -n "$1" -6 route replace default via "$_lp_new::1"
		ip -n "$1" -6 addr del "$_lp_old::$2/64" dev eth0
	done
	LAB_PREFIX6=$_lp_new
}

# lab_serve6 NS PORT NAME: TCP (HTTP answering NAME) and UDP echo ("NAME data") on [::]:PORT,
# IPv6 only. Waits until it listens.
lab_serve6() {
	ip netns exec "$1" "$LAB_PY" -c '
import http.server, socket, socketserver, sys, threading
port, name = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6; daemon_threads = True; allow_reuse_address = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); super().server_bind()
def echo():
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); u.bind(("::", port))
    while True:
        d, a = u.recvfrom(2048); u.sendto((name + " ").encode() + d, a)
threading.Thread(target=echo, daemon=True).start()
S(("::", port), H).serve_forever()
' "$2" "$3" >>"$LAB_DIR/server.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	wait_for 10 _lab_listening "$1" "$2"
}

# lab_udp6 NS IP PORT TEXT: one IPv6 datagram, the first reply (1 s bound).
lab_udp6() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(1.0)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
try: print(s.recvfrom(2048)[0].decode())
except OSError: sys.exit(1)' "$2" "$3" "$4"
}

# For the probe's IPv6 suites (the test defines pp, running portpilot in the router): probe6 NAME
# probes, JSON in $pp_tmp/out.json, exit code in PRC; expect6 WHAT CAUSE says ok when the cause is
# CAUSE, else not ok with the summary, checks and evidence.
probe6() { pp -c "$pp_tmp/none.conf" probe "$1" --json >"$pp_tmp/out.json" 2>"$pp_tmp/err"; PRC=$?; }
expect6() {
	_got=$(jq -r .cause "$pp_tmp/out.json" 2>/dev/null)
	if [ "$_got" = "$2" ]; then ok "$1: cause $2 ($(jq -r .elapsed_s "$pp_tmp/out.json") s)"; else
		not_ok "$1: expected $2, got '${_got:-none}' (exit $PRC)"
		jq -r '.summary, .checks[].text, .evidence[]' "$pp_tmp/out.json" 2>/dev/null | sed 's/^/#   /'
		sed 's/^/#   /' "$pp_tmp/err"
	fi
}

# lab_router2: a second router's namespace on the LAN (LAB_RTR2, eth0 on the switch, its link-local
# address only, no duplicate address detection), to send router advertisements with lab_ra6.
lab_router2() {
	LAB_RTR2=pp-$LAB_ID-rtr2
	_lab_mkns "$LAB_RTR2" || return 1
	ip netns exec "$LAB_RTR2" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.all.forwarding=1
	_lab_link "$LAB_SW" p-rtr2 "$LAB_RTR2" eth0 || return 1
	ip -n "$LAB_SW" link set p-rtr2 master br0
	export LAB_RTR2
}

# lab_ra6 NS IF LIFETIME PREF [PREFIX/LEN[,FLAGS]]...: a minimal RA sender on NS's IF (from its
# link-local address, hop limit 255, a source link-layer option): one advertisement to ff02::1 when
# it starts, then one for every Router Solicitation it hears. LIFETIME: router lifetime in s (0: not
# a default router); PREF high|medium|low; FLAGS of a prefix: L (on-link) and/or A (autonomous),
# LA by default. Prints its pid (kill it to stop advertising); waits until the first one went out.
lab_ra6() {
	_ra_ready=$(mktemp -u "$LAB_DIR/ra.XXXXXX") _ra_ns=$1 _ra_if=$2 _ra_life=$3 _ra_pref=$4
	shift 4
	ip netns exec "$_ra_ns" "$LAB_PY" -c '
import socket, struct, sys, time
ready, ifname, life, pref = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
idx = socket.if_nametoindex(ifname)
mac = bytes.fromhex(open("/sys/class/net/%s/address" % ifname).read().strip().replace(":", ""))
prf = {"high": 1, "medium": 0, "low": 3}[pref]
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, prf << 3, life, 0, 0) + struct.pack("!BB6s", 1, 1, mac)
for p in sys.argv[5:]:
    net, _, fl = p.partition(",")
    addr, plen = net.split("/")
    fl = fl or "LA"
    bits = (0x80 if "L" in fl else 0) | (0x40 if "A" in fl else 0)
    ra += struct.pack("!BBBBIII16s", 3, 4, int(plen), bits, 86400, 14400, 0,
                      socket.inet_pton(socket.AF_INET6, addr))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,   # all-routers: the solicitations
             socket.inet_pton(socket.AF_INET6, "ff02::2") + struct.pack("@I", idx))
def linklocal():   # once it is no longer tentative (flag 0x40)
    for line in open("/proc/net/if_inet6"):
        f = line.split()
        if f[5] == ifname and f[0].startswith("fe80") and not int(f[4], 16) & 0x40:
            return ":".join(f[0][i:i + 4] for i in range(0, 32, 4))
for _ in range(200):
    ll = linklocal()
    if ll: break
    time.sleep(0.05)
s.bind((ll, 0, 0, idx))
s.sendto(ra, ("ff02::1", 0, 0, idx))
open(ready, "w").close()
while True:
    d, a = s.recvfrom(1500)
    if d and d[0] == 133:
        s.sendto(ra, ("ff02::1", 0, 0, idx))
' "$_ra_ready" "$_ra_if" "$_ra_life" "$_ra_pref" "$@" >>"$LAB_DIR/server.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	_ra_pid=$!
	wait_for 10 test -e "$_ra_ready" || return 1
	echo "$_ra_pid"
}

# The start of an IPv6 lab suite: lab6_begin [lab_up OPTIONS] skips without ip6tables, runs lab_begin
# and lab_ipv6 and sets SRV1_6..SRV3_6, the servers' addresses on the LAN's prefix. pp runs portpilot
# in the router on the test's table and state, ppq quietly; waits is wait_for in a subshell (lib.sh's
# check and wait_for share a variable).
lab6_begin() {
	command -v ip6tables >/dev/null || { echo "# ip6tables missing"; exit 77; }
	lab_begin "$@"
	lab_ipv6
	SRV1_6=$LAB_PREFIX6::1:101 SRV2_6=$LAB_PREFIX6::1:102 SRV3_6=$LAB_PREFIX6::1:103
}
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
waits() ( wait_for "$@" )
# lab6_serve NS PORT NAME: lab_serve6, or the test ends (not ok); lab6_servers: srv-101-v6,
# srv-102-v6 and srv-103-v6 on port 8080 of the three servers.
lab6_serve() { lab_serve6 "$@" || { not_ok "IPv6 server $3 in $1"; pp_done; }; }
lab6_servers() { lab6_serve "$LAB_SRV1" 8080 srv-101-v6; lab6_serve "$LAB_SRV2" 8080 srv-102-v6; lab6_serve "$LAB_SRV3" 8080 srv-103-v6; }
# lab6_site [LINE]...: the [site] section of a test's table (the lab's WAN, LAN and LAN subnet), LINEs
# (e.g. "hairpin       = yes") after them, then an empty line: { lab6_site; cat <<EOT ... EOT; } >"$T".
lab6_site() {
	printf '[site]\nwan_interface = %s\nlan_interface = %s\nlan_subnet    = %s\n' "$LAB_WAN_IF" "$LAB_LAN_IF" "$LAB_LAN_SUBNET"
	for _l in "$@"; do printf '%s\n' "$_l"; done
	echo
}
# lab_apply_or_die: pp apply (output in $pp_tmp/apply.log), or the test ends with not ok and the output.
lab_apply_or_die() { pp apply >"$pp_tmp/apply.log" 2>&1 || { not_ok "apply"; sed 's/^/#   /' "$pp_tmp/apply.log"; pp_done; }; }
# j JQ: $pp_tmp/out.json (a probe's JSON) satisfies JQ. outside6: the outside host gets srv-101-v6
# from [srv1]:8080 (lab6_serve "$LAB_SRV1" 8080 srv-101-v6 serves it).
j() { jq -e "$1" "$pp_tmp/out.json" >/dev/null; }
outside6() { body_is "$LAB_INET" "http://[$SRV1_6]:8080/" srv-101-v6; }
# lab6_web2_table: the table of the probe's IPv6 suites, applied (lab_apply_or_die): web-6, IPv6
# only, port 8080 to srv1's host id on the LAN's prefix; web-2, both families, port 8090 to srv2.
lab6_web2_table() {
	{ lab6_site; cat <<EOT
[web-6]
public_port   = 8080
internal_ip6  = ::1:101
ipv6          = only

[web-2]
public_port   = 8090
internal_ip   = $LAB_SRV2_IP
internal_ip6  = ::1:102
EOT
	} >"$T"
	lab_apply_or_die
}
