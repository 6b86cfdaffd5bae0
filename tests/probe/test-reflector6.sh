#!/bin/sh
# The reflector over IPv6 (issue 15): it listens on an IPv6 address beside its IPv4 one, tests
# an IPv6 target only inside the requester's own /64, and counts its rate limit and connection
# cap per /64 (one host holds 2^64 addresses). Every refusal is asserted; real traffic in the
# lab's 2001:db8::/32.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
lab_need_root
command -v ip6tables >/dev/null || { echo "# ip6tables missing"; exit 77; }
lab_up || { not_ok "lab up"; pp_done; }
lab_ipv6
SRV1_6=$LAB_PREFIX6::1:101
LAN6=$LAB_PREFIX6::1
# The reflector is tested, not the router's firewall: let IPv6 through.
ip netns exec "$LAB_ROUTER" ip6tables -P FORWARD ACCEPT
# More addresses of the router inside its LAN's /64, and one in another /64 (its WAN's).
for a in a1 a2 a3 a4 b1 b2 b3; do ip -n "$LAB_ROUTER" -6 addr add "$LAB_PREFIX6::$a/64" dev eth1 nodad; done

ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9443,[$LAB_INET6]:9443" \
	--rate 100 >"$pp_tmp/refl.log" 2>&1 &
rpid=$!
at_exit "kill $rpid 2>/dev/null"
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "[$LAB_INET6]:9444" --rate 3 \
	>"$pp_tmp/refl2.log" 2>&1 &
rpid2=$!
at_exit "kill $rpid2 2>/dev/null"
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "[$LAB_INET6]:9445" --per-address 2 \
	--rate 100 >"$pp_tmp/refl3.log" 2>&1 &
rpid3=$!
at_exit "kill $rpid3 2>/dev/null"
R6="http://[$LAB_INET6]:9443"

# get SRC URL -> "BODY STATUS", the request sent from the router's address SRC.
get() { lab_ns "$LAB_ROUTER" curl -s --max-time 8 --interface "$1" -w ' %{http_code}' "$2" | tr -d '\n'; }
has() { printf '%s\n' "$out" | grep -q -- "$1"; }
passes() { _name=$1; shift; if "$@"; then ok "$_name"; else not_ok "$_name"; fi; }
up() { lab_ns "$LAB_ROUTER" curl -s -o /dev/null --max-time 1 "$1/v1/whoami"; }
passes "the reflector listens on IPv4 and IPv6 at once" wait_for 10 up "$R6"
passes "  (its IPv4 address too)" wait_for 10 up "http://$LAB_INET_IP:9443"
passes "  and the other two" wait_for 10 sh -c "ip netns exec $LAB_ROUTER curl -s -o /dev/null --max-time 1 'http://[$LAB_INET6]:9444/v1/whoami' &&
	ip netns exec $LAB_ROUTER curl -s -o /dev/null --max-time 1 'http://[$LAB_INET6]:9445/v1/whoami'"
lab_serve6 "$LAB_SRV1" 8080 srv-101-v6 || not_ok "IPv6 server"

out=$(get "$LAN6" "$R6/v1/whoami")
check "whoami over IPv6 sees the requester's IPv6 address" has "\"ip\":\"$LAN6\".* 200$"
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=8080&ip=$SRV1_6")
check "a server inside the requester's /64: connected" has "\"ip\":\"$SRV1_6\".*\"from\":\"$LAB_INET6\".*\"result\":\"connected\".* 200$"
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=8081&ip=$SRV1_6")
check "  a closed port there: refused" has '"result":"refused"'
out=$(get "$LAN6" "$R6/v1/check?proto=udp&port=8080&ip=$SRV1_6")
check "  UDP to its echo: reply" has '"result":"reply"'
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=9443")
check "no ip=: the requester itself (refused: nothing listens on 9443 there)" has "\"ip\":\"$LAN6\".*\"result\":\"refused\""

# Refusals: the target must be inside the requester's own /64.
out=$(get "$LAB_WAN6" "$R6/v1/check?proto=tcp&port=8080&ip=$SRV1_6")
check "from another /64 (the router's WAN address): 403, the /64 rule named" \
	has "inside the requester's own /64 (you are $LAB_WAN6).* 403$"
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=22&ip=2001:db8:100::10")
check "a third party elsewhere on the internet: 403" has ' 403$'
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=22&ip=2001:db8:1:1::1")
check "  a /64 neighbour that shares the first 48 bits only: 403" has ' 403$'
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=22&ip=192.168.2.101")
check "an IPv4 target asked over IPv6: 403" has ' 403$'
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=22&ip=2001:db8:1::1:101%25eth0")
check "a scoped or malformed address: 403" has ' 403$'
out=$(get "$LAN6" "$R6/v1/check?proto=tcp&port=9444&ip=$LAB_INET6")
check "its own IPv6 address without a token: 403 naming --token-file" has 'start it with --token-file.* 403$'
check "no refused check reached the reflector's connect-back (no 200 for port 22)" \
	sh -c "! grep -q 'port=22.*-> 200' '$pp_tmp/refl.log'"
out=$(get "$LAB_ROUTER_IP" "http://$LAB_INET_IP:9443/v1/check?proto=tcp&port=8080&ip=$SRV1_6")
check "over IPv4, an IPv6 ip=: 403 (the requester's address only)" has ' 403$'

# Rate limit per /64: 3 a minute; four addresses of one /64 share it, another /64 has its own.
codes=""
for a in a1 a2 a3 a4; do codes="$codes $(get "$LAB_PREFIX6::$a" "http://[$LAB_INET6]:9444/v1/whoami" | awk '{print $NF}')"; done
check "rate limit keyed on the /64: 3 answered, the 4th address of the /64 gets 429 ($codes)" \
	[ "$codes" = " 200 200 200 429" ]
out=$(get "$LAB_WAN6" "http://[$LAB_INET6]:9444/v1/whoami")
check "  another /64 is still answered" has ' 200$'
out=$(get "$LAB_PREFIX6::b1" "http://[$LAB_INET6]:9444/v1/whoami")
check "  the 429 says per /64" has 'per /64.* 429$'

# Connections at once per /64: two idle connections from two addresses of the /64 fill its
# share (--per-address 2); a third address of it is refused at once, another /64 is served.
ip netns exec "$LAB_ROUTER" "$LAB_PY" -c '
import socket, sys, time
pfx, refl, wan = sys.argv[1], sys.argv[2], sys.argv[3]
def conn(src):
    s = socket.socket(socket.AF_INET6); s.settimeout(3); s.bind((src, 0)); s.connect((refl, 9445)); return s
held = [conn(pfx + "::a1"), conn(pfx + "::a2")]
c = conn(pfx + "::a3"); c.sendall(b"GET /v1/whoami HTTP/1.0\r\n\r\n")
print("third:", c.recv(600).decode(errors="replace").split("\r\n")[0])
o = conn(wan); o.sendall(b"GET /v1/whoami HTTP/1.0\r\n\r\n")
print("other:", o.recv(600).decode(errors="replace").split("\r\n")[0])
' "$LAB_PREFIX6" "$LAB_INET6" "$LAB_WAN6" >"$pp_tmp/cap.out" 2>&1
check "connection cap keyed on the /64: a third address of it is refused (429)" grep -q 'third: HTTP/1.1 429' "$pp_tmp/cap.out"
check "  while another /64 is served (200)" grep -q 'other: HTTP/1.1 200' "$pp_tmp/cap.out"
sed 's/^/#   /' "$pp_tmp/cap.out"
kill $rpid3
passes "  the refusal summary names the /64, not one address" wait_for 5 grep -q "the last from $LAB_PREFIX6::/64" "$pp_tmp/refl3.log"

# A loopback requester's /64 is ::/64, which holds ::ffff:a.b.c.d: an IPv4 host by another name.
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "[::1]:9446" >"$pp_tmp/refl4.log" 2>&1 &
rpid4=$!
at_exit "kill $rpid4 2>/dev/null"
lo() { lab_ns "$LAB_INET" curl -s --max-time 8 -w ' %{http_code}' "http://[::1]:9446$1" | tr -d '\n'; }
up4() { [ "$(lo /v1/whoami | awk '{print $NF}')" = 200 ]; }
passes "a reflector on [::1] starts" wait_for 10 up4
out=$(lo "/v1/check?proto=tcp&port=9443&ip=::ffff:$LAB_INET_IP")
check "an IPv4-mapped target inside ::/64 (the loopback's): 403" has ' 403$'
out=$(lo "/v1/check?proto=tcp&port=9443&ip=::$LAB_INET_IP")
check "  an IPv4-compatible one: 403" has ' 403$'

"$PORTPILOT" reflector --listen "[2001:db8::1:9443" >/dev/null 2>"$pp_tmp/bad.err"
check "--listen with an unclosed bracket: a usage error naming the form" grep -q 'in brackets, e.g. \[::\]:9443' "$pp_tmp/bad.err"
kill $rpid
passes "reflector stops on SIGTERM" wait_for 5 sh -c "! kill -0 $rpid 2>/dev/null"
pp_done
