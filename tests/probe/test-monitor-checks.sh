#!/bin/sh
# Every kind of monitor check against real servers in the lab: HTTP with body text, HTTPS,
# TLS, RTSP OPTIONS, SIP OPTIONS over UDP and TCP, UDP request/answer, a TCP banner, and
# for each the failure it must tell (wrong text, nothing listening, another protocol).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null && command -v openssl >/dev/null || { echo "# jq or openssl missing"; exit 77; }
lab_begin udp
M=$pp_tmp/mon
mkdir -p "$M"
lab_seed_table "$T"

# bg NS SCRIPT ARGS...: a python server in NS, killed with the lab.
bg() { _ns=$1; shift; ip netns exec "$_ns" "$LAB_PY" -c "$@" >>"$M/servers.log" 2>&1 & echo $! >>"$LAB_DIR/pids"; }
# RTSP and SIP-over-TCP: answer the first request, and keep it for the test to read.
bg "$LAB_SRV1" '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept(); d = c.recv(4096)
    open(sys.argv[2], "wb").write(d)
    c.sendall(sys.argv[3].encode().decode("unicode_escape").encode()); c.close()' 554 "$M/rtsp.req" 'RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n'
bg "$LAB_SRV2" '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5062)); s.listen(8)
while True:
    c, _ = s.accept(); d = c.recv(4096); open(sys.argv[1], "wb").write(d)
    c.sendall(b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"); c.sendall(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"); c.close()' "$M/siptcp.req"
# SIP over UDP: a 200 to every OPTIONS, to the address it came from.
bg "$LAB_SRV2" '
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5060))
while True:
    d, a = u.recvfrom(4096); open(sys.argv[1], "wb").write(d)
    if d.startswith(b"OPTIONS "): u.sendto(b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", a)' "$M/sipudp.req"
# HTTPS (and so TLS) with a self-signed certificate, as LAN servers have them.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$M/key.pem" -out "$M/cert.pem" -days 2 \
	-subj /CN=srv-103 >/dev/null 2>&1 || not_ok "self-signed certificate"
bg "$LAB_SRV3" '
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"secure " + self.path.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
h = http.server.HTTPServer(("0.0.0.0", 443), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1], sys.argv[2])
h.socket = c.wrap_socket(h.socket, server_side=True); h.serve_forever()' "$M/cert.pem" "$M/key.pem"
# A TCP service with a banner (like SSH).
bg "$LAB_SRV3" '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 2222)); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n"); c.close()'
for p in "$LAB_SRV1 554" "$LAB_SRV2 5062" "$LAB_SRV3 443" "$LAB_SRV3 2222"; do
	set -- $p
	wait_for 10 _lab_listening "$1" "$2" || not_ok "server on $1 port $2 listens"
done
udp_bound() { lab_ns "$LAB_SRV2" ss -Hlun "sport = :5060" | grep -q .; }
wait_for 10 udp_bound || not_ok "SIP UDP server"

add() { "$PORTPILOT" -f "$T" add "$@" >>"$M/add.log" 2>&1 || { not_ok "add $1"; cat "$M/add.log"; }; }
add body-ok public_port=9001 internal_ip=$LAB_SRV1_IP internal_port=80 'check_expect=200 srv-101'
add body-bad public_port=9002 internal_ip=$LAB_SRV1_IP internal_port=80 'check_expect=2xx nope'
add status-bad public_port=9003 internal_ip=$LAB_SRV1_IP internal_port=80 'check_expect=204'
add cam public_port=9004 internal_ip=$LAB_SRV1_IP internal_port=554 check_path=/stream1
add cam-wrong public_port=9005 internal_ip=$LAB_SRV1_IP internal_port=80 check=rtsp
add sip-udp protocol=udp public_port=5060 internal_ip=$LAB_SRV2_IP
add sip-tcp public_port=9006 internal_ip=$LAB_SRV2_IP internal_port=5062 check=sip
add sip-none protocol=udp public_port=9007 internal_ip=$LAB_SRV3_IP internal_port=5060 check=sip 'check_timing=timeout=500ms'
add https public_port=9443 internal_ip=$LAB_SRV3_IP internal_port=443 check_path=/health 'check_expect=200 secure /health'
add tls public_port=9444 internal_ip=$LAB_SRV3_IP internal_port=443 check=tls
add tls-wrong public_port=9445 internal_ip=$LAB_SRV1_IP internal_port=80 check=tls
add echo protocol=udp public_port=5005 internal_ip=$LAB_SRV1_IP 'check_send=ping\n' 'check_expect=srv-101 ping'
add echo-bad protocol=udp public_port=9008 internal_ip=$LAB_SRV2_IP internal_port=5999 check=udp check_send=x
add ssh public_port=2222 internal_ip=$LAB_SRV3_IP check_expect=SSH-2.0
add closed public_port=9009 internal_ip=$LAB_SRV3_IP internal_port=2223
add quiet protocol=udp public_port=9010 internal_ip=$LAB_SRV3_IP internal_port=7000

lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/none.conf" --state-dir "$S" monitor --once --json \
	--timeout 2 >"$M/once.json" 2>"$M/once.err"
rc=$?
check "--once: exit 1 (some checks fail on purpose)" test $rc = 1
st() { # NAME STATE CHECK DETAIL-REGEX
	_jq=$(jq -e --arg n "$1" --arg s "$2" --arg c "$3" --arg d "$4" \
		'.mappings[] | select(.name == $n) | .state == $s and .check == $c and (.detail | test($d))' \
		"$M/once.json" 2>/dev/null)
	# jq 1.6 -e passes on an empty file: the answer must be there, and true.
	if [ $? = 0 ] && [ "$_jq" = true ]; then ok "$1: $2 ($3: $4)"
	else not_ok "$1: expected $2 ($3: $4), got $(jq -c --arg n "$1" '.mappings[] | select(.name == $n)' "$M/once.json")"; fi
}
st web-1 up http '^status 200$'
st body-ok up http 'body as expected'
st body-bad down http 'lacks the expected text'
st status-bad down http '^status 200$'
st cam up rtsp '^status 200$'
check "cam: RTSP OPTIONS for the check_path" grep -q "^OPTIONS rtsp://$LAB_SRV1_IP:554/stream1 RTSP/1.0" "$M/rtsp.req"
st cam-wrong down rtsp 'not a RTSP answer'
st sip-udp up sip '^status 200$'
check "sip-udp: a SIP OPTIONS over UDP with a Via" sh -c "grep -q '^OPTIONS sip:$LAB_SRV2_IP:5060 SIP/2.0' $M/sipudp.req && grep -q '^Via: SIP/2.0/UDP 192.168.2.1:' $M/sipudp.req"
st sip-tcp up sip '^status 200$'
check "sip-tcp: over TCP, the final answer after 100 Trying" grep -q '^Via: SIP/2.0/TCP ' "$M/siptcp.req"
st sip-none down sip 'refused|no reply'
st https up https 'body as expected'
st tls up tls 'TLS handshake done'
st tls-wrong down tls 'TLS handshake failed'
st echo up udp 'answered as expected'
st echo-bad down udp 'refused'
st ssh up tcp 'answered as expected'
st closed down tcp 'refused'
st quiet unknown none "not checked \\(check = none; a UDP service needs check = udp"

# A check key that does not fit the mapping: refused before anything runs, with file:line.
# The CLI refuses to write it (portpilot check finds it: tests/cli/test-check-keys.sh); by hand:
"$PORTPILOT" -f "$T" add bad-udp protocol=tcp public_port=9011 internal_ip=$LAB_SRV3_IP check=udp >"$M/add.err" 2>&1
check "add refuses a check key that does not fit" grep -q "bad-udp\] check: check = udp on a tcp mapping" "$M/add.err"
printf '\n[bad-udp]\nprotocol = tcp\npublic_port = 9011\ninternal_ip = %s\ncheck = udp\n' "$LAB_SRV3_IP" >>"$T"
lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/none.conf" --state-dir "$S" monitor --once >"$M/bad.out" 2>"$M/bad.err"
rc=$?
line=$(grep -n '^\[bad-udp\]' "$T" | cut -d: -f1)
check "check = udp on a tcp mapping: exit 2 with FILE:LINE, field and fix" sh -c "[ $rc = 2 ] &&
	grep -q '$T:$((line + 4)): \[bad-udp\] check: check = udp on a tcp mapping; set protocol = udp' $M/bad.err"
pp_done
