#!/bin/sh
# The reflector: whoami, connect-back over TCP and UDP, token, third-party refusal, rate limit.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
lab_up udp || { not_ok "lab up"; pp_done; }

R=http://$LAB_INET_IP:9443
# Background jobs use ip netns exec itself (it execs in place), so $! is the real process.
tok=$pp_tmp/token
printf 's3cret-token\n' >"$tok"
chmod 600 "$tok"
# Plain HTTP with a token only with --insecure-http (test-reflector-tls.sh covers HTTPS).
# (--rate 100: the reset case below asks 20 times; the rate limit is tested on :9444.)
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9443" --token-file "$tok" \
	--insecure-http --rate 100 >"$pp_tmp/refl.log" 2>&1 &
rpid=$!
at_exit "kill $rpid 2>/dev/null"
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9444" --rate 3 \
	>"$pp_tmp/refl2.log" 2>&1 &
rpid2=$!
at_exit "kill $rpid2 2>/dev/null"

# A listener on the router's WAN address plays the site's published port.
ip netns exec "$LAB_ROUTER" "$LAB_PY" -c '
import socket, threading
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("203.0.113.1", 8080)); t.listen(16)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("203.0.113.1", 5005))
def echo():
    while True:
        d, a = u.recvfrom(2048); u.sendto(d, a)
threading.Thread(target=echo, daemon=True).start()
while True:
    c, _ = t.accept(); c.close()' &
lpid=$!
at_exit "kill $lpid 2>/dev/null"

get() { # NS URL [TOKEN] -> "STATUS BODY"
	if [ -n "${3:-}" ]; then h="Authorization: Bearer $3"; else h="X-None: 1"; fi
	lab_ns "$1" curl -s --max-time 8 -H "$h" -w ' %{http_code}' "$2" | tr -d '\n'
}
# has PATTERN: the last answer ($out) matches.
has() { printf '%s\n' "$out" | grep -q -- "$1"; }
# passes NAME CMD...: like check, for commands that use wait_for (which reuses check's variables).
passes() { _name=$1; shift; if "$@"; then ok "$_name"; else not_ok "$_name"; fi; }
up() { lab_ns "$LAB_ROUTER" curl -s -o /dev/null --max-time 1 "$R/v1/whoami"; }
wait_for 10 up || not_ok "reflector started"
check "--insecure-http with a token: a warning that it travels in clear" \
	grep -q 'warning: --insecure-http: the token crosses the network in clear' "$pp_tmp/refl.log"
# Port 8082 accepts, then resets at once.
wait_for 10 _lab_listening "$LAB_ROUTER" 8080 && lab_reset_server "$LAB_ROUTER" 203.0.113.1 8082 ||
	not_ok "listeners in the router"

out=$(get "$LAB_ROUTER" "$R/v1/whoami")
check "no token: refused with 401" has ' 401$'
out=$(get "$LAB_ROUTER" "$R/v1/whoami" wrong-token)
check "wrong token: refused with 401" has ' 401$'
out=$(get "$LAB_ROUTER" "$R/v1/whoami" s3cret-token)
check "whoami sees the requester's address" has '"ip":"203.0.113.1".* 200$'

out=$(get "$LAB_ROUTER" "$R/v1/check?proto=tcp&port=8080" s3cret-token)
check "tcp connect-back to an open port: connected" has '"result":"connected"'
out=$(get "$LAB_ROUTER" "$R/v1/check?proto=tcp&port=8081" s3cret-token)
check "tcp connect-back to a closed port: refused" has '"result":"refused"'
# The handshake on 8082 proves the port answers, whether the RST comes before the reflector
# looks or after. The RST won about 1 time in 7 on an idle box before the fix (more under
# load), so 20 tries, all of which must say connected.
n=0 got=""
while [ $n -lt 20 ]; do
	n=$((n + 1))
	out=$(get "$LAB_ROUTER" "$R/v1/check?proto=tcp&port=8082" s3cret-token)
	has '"result":"connected"' || got="$got $(printf '%s' "$out" | sed -n 's/.*"result":"\([a-z_]*\)".*/\1/p')"
done
if [ -z "$got" ]; then
	ok "tcp connect-back to a port that accepts, then resets: connected, 20 of 20"
else
	not_ok "tcp connect-back to a port that accepts, then resets: got$got"
fi
out=$(get "$LAB_ROUTER" "$R/v1/check?proto=udp&port=5005" s3cret-token)
check "udp connect-back with an echo: reply" has '"result":"reply"'
out=$(get "$LAB_ROUTER" "$R/v1/check?proto=udp&port=5006" s3cret-token)
check "udp connect-back to a closed port: refused (ICMP)" has '"result":"refused"'

# A third party: the reflector must refuse to connect anywhere but the requester.
out=$(get "$LAB_ROUTER" "$R/v1/check?proto=tcp&port=80&ip=192.168.2.101" s3cret-token)
check "connect-back to another address: refused with 403" has ' 403$'
out=$(get "$LAB_ROUTER" "$R/v1/check?proto=tcp&port=80&target=198.51.100.10" s3cret-token)
check "unknown target parameter: refused with 403" has ' 403$'
check "the reflector never contacted the third party" \
	sh -c "! grep -q 'port=80&.*-> 200' '$pp_tmp/refl.log'"
out=$(get "$LAB_ROUTER" "$R/v1/check?proto=tcp&port=8080&ip=203.0.113.1" s3cret-token)
check "ip= equal to the requester is accepted" has '"result":"connected"'
check "the token never appears in the log" sh -c "! grep -q s3cret '$pp_tmp/refl.log'"

# Rate limit: 3 a minute on the second instance.
codes=""
for i in 1 2 3 4 5; do codes="$codes $(get "$LAB_ROUTER" "http://$LAB_INET_IP:9444/v1/whoami" | awk '{print $NF}')"; done
check "rate limit: 3 answered, then 429 ($codes)" [ "$codes" = " 200 200 200 429 429" ]

# The credentials-style token file (token=...) works too.
printf 'token=other-token\n' >"$tok.2"
chmod 644 "$tok.2"
"$PORTPILOT" reflector --listen 127.0.0.1:1 --token-file "$tok.2" --insecure-http >/dev/null 2>"$pp_tmp/mode.err"
check "a token file others may read is refused (exit 2)" sh -c "[ $? -eq 2 ] && grep -q 'chmod 600' '$pp_tmp/mode.err'"
chmod 600 "$tok.2"
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9445" --token-file "$tok.2" \
	--insecure-http >"$pp_tmp/refl3.log" 2>&1 &
rpid3=$!
at_exit "kill $rpid3 2>/dev/null"
up3() { [ "$(get "$LAB_ROUTER" "http://$LAB_INET_IP:9445/v1/whoami" other-token | awk '{print $NF}')" = 200 ]; }
passes "token file with token= line" wait_for 10 up3

# ip= naming the reflector's own address (an edge testing its DNAT into a relay's tunnel):
# only when a token is required, or anyone could scan the reflector host's own ports through it.
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9446" --rate 100 \
	>"$pp_tmp/refl4.log" 2>&1 &
rpid4=$!
at_exit "kill $rpid4 2>/dev/null"
up4() { [ "$(get "$LAB_ROUTER" "http://$LAB_INET_IP:9446/v1/whoami" | awk '{print $NF}')" = 200 ]; }
passes "a reflector without a token starts" wait_for 10 up4
out=$(get "$LAB_ROUTER" "http://$LAB_INET_IP:9446/v1/check?proto=tcp&port=9443&ip=$LAB_INET_IP")
check "no token: connecting to its own address is refused with 403, naming --token-file" \
	sh -c "printf '%s' '$out' | grep -q 'only when it requires a token: start it with --token-file.* 403\$'"
check "  and it made no connection (the log has no answered check)" \
	sh -c "! grep -q '/v1/check -> 200' '$pp_tmp/refl4.log'"
out=$(get "$LAB_ROUTER" "http://$LAB_INET_IP:9445/v1/check?proto=tcp&port=9443&ip=$LAB_INET_IP" other-token)
check "with a token: its own address is accepted (connected to its own listener)" \
	has '"result":"connected".* 200$'

kill $rpid
passes "reflector stops on SIGTERM" wait_for 5 sh -c "! kill -0 $rpid 2>/dev/null"
pp_done
