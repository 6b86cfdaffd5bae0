#!/bin/sh
# The health monitor over IPv6 (issue 15), real servers in the lab's 2001:db8::/32: an ipv6 = only
# mapping is checked at the server's IPv6 address (a host id on the LAN's prefix, or a full
# address), up and then down with the reason when its server stops; ipv6 = yes is checked on both
# families and is down, naming IPv6, when only IPv4 answers; a port list on both families; the
# HTTP Host header in brackets; UDP, SIP (URI and Via) and HTTPS over IPv6; a renumbered LAN;
# the prefix gone: down with that reason, still listed.
# The rules are applied (the probe diagnosing a change reads them): run on both backends.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v jq >/dev/null && command -v openssl >/dev/null || { echo "# jq or openssl missing"; exit 77; }
lab_begin
lab_ipv6
lab_monitor_dir
: >"$M/none.conf"
lab_serve6 "$LAB_SRV1" 8080 srv-101-v6 || { not_ok "IPv6 server on srv1"; pp_done; }
SRV1_PID=$(tail -n 1 "$LAB_DIR/pids")
lab_serve6 "$LAB_SRV1" 8081 srv-101-v6b || { not_ok "IPv6 server on srv1 8081"; pp_done; }
lab_serve6 "$LAB_SRV2" 80 srv-102-v6 || { not_ok "IPv6 server on srv2"; pp_done; }
# srv3, IPv6 only, port 8082: answers with the Host header it was sent (is it [addr]:port?).
ip netns exec "$LAB_SRV3" "$LAB_PY" -c '
import http.server, socket
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("host=" + str(self.headers.get("Host")) + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6; allow_reuse_address = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); super().server_bind()
S(("::", 8082), H).serve_forever()' >>"$LAB_DIR/server.log" 2>&1 &
echo $! >>"$LAB_DIR/pids"
wait_for 10 _lab_listening "$LAB_SRV3" 8082 || not_ok "Host-echo server on srv3"

# srv2: SIP over UDP on [::]:5060 (keeps the request: its Via); srv3: HTTPS on [::]:8443.
ip netns exec "$LAB_SRV2" "$LAB_PY" -c '
import socket, sys
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::", 5060))
while True:
    d, a = u.recvfrom(4096); open(sys.argv[1], "wb").write(d)
    if d.startswith(b"OPTIONS "): u.sendto(b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", a)' "$M/sip6.req" \
	>>"$LAB_DIR/server.log" 2>&1 &
echo $! >>"$LAB_DIR/pids"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$M/key.pem" -out "$M/cert.pem" -days 2 \
	-subj /CN=srv-103 >/dev/null 2>&1 || not_ok "self-signed certificate"
ip netns exec "$LAB_SRV3" "$LAB_PY" -c '
import http.server, socket, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"secure " + self.path.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6
h = S(("::", 8443), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1], sys.argv[2])
h.socket = c.wrap_socket(h.socket, server_side=True); h.serve_forever()' "$M/cert.pem" "$M/key.pem" \
	>>"$LAB_DIR/server.log" 2>&1 &
echo $! >>"$LAB_DIR/pids"
sip_bound() { ip netns exec "$LAB_SRV2" ss -Hlun6 "sport = :5060" | grep -q .; }
wait_for 10 sip_bound || not_ok "SIP server on srv2"
wait_for 10 _lab_listening "$LAB_SRV3" 8443 || not_ok "HTTPS server on srv3"

cat >"$T" <<EOT
[site]
wan_interface = $LAB_WAN_IF
lan_interface = $LAB_LAN_IF
lan_subnet    = $LAB_LAN_SUBNET

[web-6]
public_port   = 8080
internal_ip6  = ::1:101
ipv6          = only
check_expect  = srv-101-v6

[host-6]
public_port   = 8082
internal_ip6  = $LAB_PREFIX6::1:103
ipv6          = only
check         = http
check_expect  = host=[2001:db8:1::1:103]:8082

[udp-6]
protocol      = udp
public_port   = 5080
internal_port = 8080
internal_ip6  = ::1:101
ipv6          = only
check         = udp
check_send    = ping
check_expect  = srv-101-v6 ping

[sip-6]
protocol      = udp
public_port   = 5060
internal_ip6  = ::1:102
ipv6          = only
check         = sip

[https-6]
public_port   = 8443
internal_ip6  = ::1:103
ipv6          = only
check         = https
check_expect  = 200 secure /

[both-ok]
public_port   = 8090
internal_port = 80
internal_ip   = $LAB_SRV2_IP
internal_ip6  = ::1:102
ipv6          = yes

[both-v4only]
public_port   = 80
internal_ip   = $LAB_SRV3_IP
internal_ip6  = ::1:103
ipv6          = yes

[list-both]
public_port   = 8085,8081
internal_port = 80,8081
internal_ip   = $LAB_SRV1_IP
internal_ip6  = ::1:101
ipv6          = yes
check         = tcp
EOT
lab_ns "$R" "$PORTPILOT" -f "$T" check >"$M/check.out" 2>&1 || { not_ok "the table checks"; sed 's/^/#   /' "$M/check.out"; }

# Applied, so the probe's diagnosis of a change can blame the server, not a missing pinhole.
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$M/apply.log" 2>&1 ||
	{ not_ok "apply"; sed 's/^/#   /' "$M/apply.log"; }

once() { # FILE: one pass, JSON in FILE
	PORTPILOT_JOURNAL_SOCKET=$M/none.sock lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/none.conf" \
		--state-dir "$S" monitor --once --json --timeout 2 >"$1" 2>"$M/once.err"
	echo $? >"$1.rc"
}
st() { # FILE NAME STATE FAMILY DETAIL-REGEX
	_jq=$(jq -e --arg n "$2" --arg s "$3" --arg f "$4" --arg d "$5" \
		'.mappings[] | select(.name == $n) | .state == $s and .family == $f and (.detail | test($d))' \
		"$1" 2>/dev/null)
	if [ $? = 0 ] && [ "$_jq" = true ]; then ok "$2: $3 ($4: $5)"
	else not_ok "$2: expected $3 ($4: $5), got $(jq -c --arg n "$2" '.mappings[] | select(.name == $n)' "$1" 2>/dev/null || cat "$1")"; fi
}
A=2001:db8:1::1
once "$M/a.json"
check "every mapping is listed, the ipv6 = only ones too" \
	test "$(jq '.mappings | length' "$M/a.json" 2>/dev/null)" = 8
st "$M/a.json" web-6 up ipv6 "^IPv6 \\[$A:101\\]:8080: status 200, body as expected"
st "$M/a.json" host-6 up ipv6 "^IPv6 \\[$A:103\\]:8082: status 200, body as expected"
st "$M/a.json" udp-6 up ipv6 "^IPv6 \\[$A:101\\]:8080: answered as expected"
st "$M/a.json" sip-6 up ipv6 "^IPv6 \\[$A:102\\]:5060: status 200"
check "sip-6: OPTIONS to the bracketed address, a Via with the router's IPv6 address" sh -c "
	grep -q '^OPTIONS sip:\\[$A:102\\]:5060 SIP/2.0' '$M/sip6.req' && grep -q '^Via: SIP/2.0/UDP \\[2001:db8:1::1\\]:[0-9]' '$M/sip6.req'"
st "$M/a.json" https-6 up ipv6 "^IPv6 \\[$A:103\\]:8443: status 200"
st "$M/a.json" both-ok up both "IPv6 \\[$A:102\\]:80: status 200.*; IPv4 $LAB_SRV2_IP:80: status 200|IPv4 $LAB_SRV2_IP:80: status 200; IPv6 \\[$A:102\\]:80: status 200"
st "$M/a.json" both-v4only down both "^IPv6 \\[$A:103\\]:80: connect: refused; IPv4 $LAB_SRV3_IP:80: status 200"
# The list on both families: srv1 has IPv4 80 and IPv6 8081 only; the failed ones first.
st "$M/a.json" list-both down both "^IPv4 $LAB_SRV1_IP:8081: connect: refused; IPv6 \\[$A:101\\]:80: connect: refused; IPv4 $LAB_SRV1_IP:80: connected; IPv6 \\[$A:101\\]:8081: connected$"
check "--once exits 1 (some are down on purpose)" test "$(cat "$M/a.json.rc")" = 1
# The running monitor (its loop and thresholds): the state file names the family of each.
lab_monitor "$M/none.conf"
jrow() { jq -e --arg n "$1" ".mappings[] | select(.name == \$n) | $2" "$S/monitor-state.json" >/dev/null 2>&1; }
list_row() { jrow list-both '.state == "down" and .family == "both" and .ports == "80,8081,80/ipv6,8081/ipv6" and .ports_down == "8081,80/ipv6"'; }
check "state file: the list's elements by family, IPv4 8081 and IPv6 80 down" wait_for 20 list_row
web6_row() { jrow web-6 '.state == "up" and .family == "ipv6" and (.detail | test("^IPv6 \\[2001:db8:1::1:101\\]:8080: status 200"))'; }
check "state file: web-6 up, family ipv6" wait_for 20 web6_row
both_row() { jrow both-v4only '.state == "down" and (.detail | test("^IPv6 .*refused; IPv4 .*status 200"))'; }
check "state file: both-v4only down, naming IPv6" wait_for 20 both_row
# Its diagnosis is the probe's IPv6 verdict (IPv4 is fine there: its verdict would say ok).
both_cause() { jrow both-v4only '.cause == "ipv6_not_listening"'; }
check "state file: both-v4only's cause is the probe's IPv6 one" wait_for 40 both_cause
jq -c '.mappings[] | select(.name == "both-v4only") | {cause, summary}' "$S/monitor-state.json" 2>/dev/null | sed 's/^/# /'
kill "$LAB_MON"
wait "$LAB_MON" 2>/dev/null

# web-6's server stops: down, with the reason, at its IPv6 address.
kill "$SRV1_PID"
gone() { ! _lab_listening "$LAB_SRV1" 8080; }
wait_for 10 gone || not_ok "srv1's IPv6 server stopped"
once "$M/b.json"
st "$M/b.json" web-6 down ipv6 "^IPv6 \\[$A:101\\]:8080: connect: refused$"
st "$M/b.json" host-6 up ipv6 "status 200"

# Renumbered (a new delegation): a host id follows the prefix the interface has now, each round;
# a full address does not (host-6's server lost it).
lab_prefix6 2001:db8:1 2001:db8:2
once "$M/r.json"
st "$M/r.json" both-ok up both "IPv6 \\[2001:db8:2::1:102\\]:80: status 200"
st "$M/r.json" host-6 down ipv6 "^IPv6 \\[$A:103\\]:8082: "

# The LAN's prefix gone (the delegation lost): host ids cannot be placed; still listed, down with
# that reason. The full address (host-6) is still checked (and unreachable: no route).
ip -n "$R" -6 addr del "$LAB_PREFIX6::1/64" dev "$LAB_LAN_IF"
once "$M/c.json"
check "the prefix gone: still every mapping listed" test "$(jq '.mappings | length' "$M/c.json" 2>/dev/null)" = 8
st "$M/c.json" web-6 down ipv6 "^IPv6 \\[::1:101\\]:8080: ::1:101 is a host id but $LAB_LAN_IF has no global IPv6 prefix now"
st "$M/c.json" both-ok down both "^IPv6 \\[::1:102\\]:80: ::1:102 is a host id but .*no global IPv6 prefix.*; IPv4 $LAB_SRV2_IP:80: status 200"
pp_done
