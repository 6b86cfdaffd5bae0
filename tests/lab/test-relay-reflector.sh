#!/bin/sh
# The probe tests a relayed mapping from outside (issue 17 item 2, "the reflector's connect-back
# through the edge"): a reflector on the edge is asked to connect to the edge's own public
# address and port, which the edge's DNAT (nat OUTPUT as well as PREROUTING) sends through the
# tunnel to the site. A port the edge does not pass is named (upstream_blocked, edge.ini's fix);
# a reflector elsewhere is never made to connect to a third party.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/relay-lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }

relay_lab_up one
check "the site connected to the edge" wait_for 10 relay_connected plant3
# The edge's reflector requires a token: only then does it connect to its own address.
printf 'edge-token\n' >"$D/token"
chmod 600 "$D/token"
refl() { # NS ADDR [ARGS]: a reflector there on ADDR:9443
	_ns=$1 _ad=$2; shift 2
	ip netns exec "$_ns" "$PORTPILOT" reflector --listen "$_ad:9443" --rate 90 "$@" >>"$D/refl-$_ns.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	wait_for 10 _lab_listening "$_ns" 9443
}
refl "$EDGE" "$EDGE_IP" --token-file "$D/token" --insecure-http || not_ok "the reflector on the edge starts"
refl "$CLIENT" "$CLIENT_IP" || not_ok "the reflector on the internet host starts"
printf '[probe]\nreflector = http://%s:9443\ntoken_file = %s\n' "$EDGE_IP" "$D/token" >"$D/edge-refl.conf"
printf '[probe]\nreflector = http://%s:9443\n' "$CLIENT_IP" >"$D/inet-refl.conf"
probe() { # CONF MAPPING
	ip netns exec "$R" "$PORTPILOT" -f "$D/site1.ini" -c "$1" --state-dir "$D/s1" probe "$2" --json \
		>"$D/probe.json" 2>"$D/probe.err"
}
jqf() { jq -e "$1" "$2" >/dev/null 2>&1; }

probe "$D/edge-refl.conf" web
check "probe web with the reflector on the edge: outside passes through the tunnel" jqf \
	'.checks[] | select(.id == "outside") | .state == "pass" and (.text | test("reflector on the edge 198.51.100.10 tcp to its port 8080, through the tunnel to this site: connected"))' \
	"$D/probe.json"
check "  and the verdict is ok" jqf '.cause == "ok"' "$D/probe.json"

# web-2 (8090): relayed by the site, but the edge does not list it.
probe "$D/edge-refl.conf" web-2
check "a port the edge does not pass: outside fails, cause upstream_blocked naming the edge" jqf \
	'.cause == "upstream_blocked" and (.summary | test("reflector on the edge connecting to its public port 8090 got refused: the edge does not pass that port")) and (.fix | test("ports = tcp/8090"))' \
	"$D/probe.json"

# Control: the edge's own connections take its DNAT only through the nat OUTPUT hook.
ip netns exec "$EDGE" iptables -t nat -D OUTPUT -j PPEDGE-OUT
probe "$D/edge-refl.conf" web
check "  control: without the edge's OUTPUT hook the same connect-back fails" jqf \
	'.checks[] | select(.id == "outside") | .state == "fail"' "$D/probe.json"
pp "$EDGE" --state-dir "$D/se" edge up --config "$D/edge.ini" >"$D/out" 2>&1 || cat "$D/out"
check "  edge up puts the hook back, once" test "$(ip netns exec "$EDGE" iptables -t nat -S OUTPUT | grep -c PPEDGE-OUT)" = 1
probe "$D/edge-refl.conf" web
check "  and it passes again" jqf '.checks[] | select(.id == "outside") | .state == "pass"' "$D/probe.json"
check "the edge's own loopback stays its own (no DNAT for 127.0.0.1)" sh -c \
	"ip netns exec '$EDGE' iptables -t nat -S PPEDGE-OUT | head -2 | grep -q -- '-d 127.0.0.0/8 -j RETURN'"

# A reflector that is not on the edge: asked to connect to the edge, it refuses (a third party).
probe "$D/inet-refl.conf" web
check "a reflector elsewhere: the outside test is skipped, said why" jqf \
	'.checks[] | select(.id == "outside") | .state == "skip" and (.text | test("run portpilot reflector on the edge"))' \
	"$D/probe.json"
code=$(ip netns exec "$R" curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer edge-token" "http://$EDGE_IP:9443/v1/check?proto=tcp&port=80&ip=$CLIENT_IP")
check "the reflector still connects to no third party (403)" test "$code" = 403
code=$(ip netns exec "$R" curl -s -o "$D/self.json" -w '%{http_code}' -H 'Authorization: Bearer edge-token' \
	"http://$EDGE_IP:9443/v1/check?proto=tcp&port=8080&ip=$EDGE_IP")
check "  but to its own address, with its token, yes (200, connected through the tunnel)" sh -c \
	"test $code = 200 && jq -e '.result == \"connected\" and .ip == \"$EDGE_IP\"' '$D/self.json' >/dev/null"

# The monitor's public checks do the same: web up through the edge, web-2 down (not on the edge).
cat >"$D/mon.conf" <<EOF
[probe]
reflector = http://$EDGE_IP:9443
token_file = $D/token

[monitor]
interval = 1
timeout = 1
fail_after = 1
recover_after = 1
public_interval = 2
reflector_rate = 60
diagnose = no
EOF
PORTPILOT_JOURNAL_SOCKET=$D/none.sock ip netns exec "$R" "$PORTPILOT" -f "$D/site1.ini" -c "$D/mon.conf" \
	--state-dir "$D/ms" monitor >"$D/mon.out" 2>"$D/mon.err" &
mp=$!
echo $mp >>"$LAB_DIR/pids"
pubstate() { # NAME STATE: the mapping's public state, its detail naming the edge's connect-back
	_row=$(grep "^{\"name\":\"$1\"" "$D/ms/monitor-state.json" 2>/dev/null) &&
	printf '%s\n' "${_row%,}" | jq -e ".public == \"$2\"" >/dev/null 2>&1
}
check "monitor: web's public path, through the edge, is up" wait_for 20 pubstate web up
check "  its detail: the edge's connect-back connected" sh -c \
	"grep '^{\"name\":\"web\"' '$D/ms/monitor-state.json' | grep -q 'reflector $EDGE_IP: connected to port 8080'"
check "monitor: web-2's public path is down (the edge does not pass 8090)" wait_for 20 pubstate web-2 down
kill $mp
wait $mp 2>/dev/null
pp_done
