#!/bin/sh
# The health monitor watches the relay's tunnel (issue 17 item 2): for a site with [site] relay
# it is a state of its own, relay:IFNAME, shown by health and in the metrics. The tunnel gone
# (relay down) and the edge no longer answering (the site's peer removed from the edge: the
# handshake grows old) each give one DOWN event with cause relay_down and the probe's summary
# and fix; back, one UP event. Site 2, on the same edge and as old a handshake, is the control:
# its monitor, with the same limit, stays up all along.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/relay-lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }

relay_lab_up
both() { ( wait_for 10 relay_connected plant3 ) && ( wait_for 10 relay_connected depot ); }
check "both sites connected to the edge" both

# Limit 135 s, the smallest that holds a healthy tunnel with margin: with the sites' 1 s keepalive
# the site rekeys 120-121 s after a handshake. (Default 200.)
for s in s1 s2; do
	cat >"$D/mon-$s.conf" <<EOF
[monitor]
fail_after = 2
recover_after = 1
timeout = 1
relay_handshake_max = 135
metrics_file = $D/$s/metrics.prom
EOF
done
# The events go to the history file only: nothing of this test into the host's journal.
PORTPILOT_JOURNAL_SOCKET=$D/none.sock ip netns exec "$R" "$PORTPILOT" -f "$D/site1.ini" -c "$D/mon-s1.conf" \
	--state-dir "$D/s1" monitor --interval 1 >"$D/mon1.out" 2>"$D/mon1.err" &
m1=$!
echo $m1 >>"$LAB_DIR/pids"
PORTPILOT_JOURNAL_SOCKET=$D/none.sock ip netns exec "$R2" "$PORTPILOT" -f "$D/site2.ini" -c "$D/mon-s2.conf" \
	--state-dir "$D/s2" monitor --interval 1 >"$D/mon2.out" 2>"$D/mon2.err" &
m2=$!
echo $m2 >>"$LAB_DIR/pids"
H1=$D/s1/monitor-history.jsonl H2=$D/s2/monitor-history.jsonl RL=relay:$IF1
jqf() { jq -e "$1" "$2" >/dev/null 2>&1; }
jqs() { jq -s -e "$1" "$2" >/dev/null 2>&1; }     # over all the history's lines at once
state() { # NS STATE-DIR NAME STATE: health --json shows NAME in STATE
	_h=$(ip netns exec "$1" "$PORTPILOT" --state-dir "$2" health --json 2>/dev/null)
	# jq -e passes on no input at all: an empty answer is no state
	[ -n "$_h" ] && printf '%s\n' "$_h" | jq -e ".mappings[] | select(.name == \"$3\") | .state == \"$4\"" >/dev/null 2>&1
}
events() { # HISTORY NAME STATE: how many such events (grep: cheap enough to poll)
	_ev=$(grep -c "^{\"mapping\":\"$2\",\"state\":\"$3\"" "$1" 2>/dev/null)
	echo "${_ev:-0}"
}
check "monitor: the tunnel is a state of its own, up" wait_for 15 state "$R" "$D/s1" "$RL" up
check "monitor: it says which tunnel it watches and the limit" grep -q "relay tunnel $IF1 to $EDGE_IP:51820, down when its last handshake is older than 135 s" "$D/mon1.err"
ip netns exec "$R" "$PORTPILOT" --state-dir "$D/s1" health >"$D/health.txt" 2>&1
check "health: the relay row, up" grep -Eq "^$RL +up" "$D/health.txt"
metrics() { grep -q "^portpilot_relay_up{interface=\"$IF1\",edge=\"$EDGE_IP:51820\"} $1\$" "$D/s1/metrics.prom" 2>/dev/null; }
age_metric() { ( wait_for 10 metrics 1 ) &&
	grep -Eq "^portpilot_relay_handshake_age_seconds\\{interface=\"$IF1\"\\} [0-9]+\$" "$D/s1/metrics.prom"; }
check "metrics: portpilot_relay_up 1 and the handshake age" age_metric
check "the first look at a tunnel that is up is no event" test "$(events "$H1" "$RL" up)" = 0

# 1. The tunnel gone: relay down on the site.
pp "$R" -f "$D/site1.ini" relay down >"$D/out" 2>&1 || cat "$D/out"
down1() { [ "$(events "$H1" "$RL" down)" -ge 1 ]; }
check "tunnel gone: one relay DOWN event" wait_for 10 down1
check "  with cause relay_down and the probe's summary and fix" jqf \
	"select(.mapping == \"$RL\" and .state == \"down\") | .cause == \"relay_down\" and (.summary | test(\"relay tunnel $IF1 to the edge $EDGE_IP:51820 is not there or down\")) and (.fix | test(\"portpilot relay up\"))" "$H1"
# The event goes out at once, the state file within 200 ms after it: health reads the file.
wait_for 10 state "$R" "$D/s1" "$RL" down
ip netns exec "$R" "$PORTPILOT" --state-dir "$D/s1" health "$RL" >"$D/health.txt" 2>&1; rc=$?
check "health: the relay row DOWN with relay_down, exit 1" sh -c "test $rc = 1 && grep -Eq '^$RL +DOWN .*relay_down' '$D/health.txt'"
check "metrics: portpilot_relay_up 0" wait_for 10 metrics 0
pp "$R" -f "$D/site1.ini" --state-dir "$D/s1" relay up >"$D/out" 2>&1 || cat "$D/out"
check "tunnel back (relay up): one UP event" wait_for 15 state "$R" "$D/s1" "$RL" up
check "  exactly one down and one up so far" test "$(events "$H1" "$RL" down) $(events "$H1" "$RL" up)" = "1 1"

# 2. The edge stops answering this site: its peer removed from the edge (edge.ini without it).
# The site's interface stays up; only the handshake's age tells.
sed '/^\[site plant3\]/,/^$/d' "$D/edge.ini" >"$D/edge-no1.ini"
pp "$EDGE" --state-dir "$D/se" edge up --config "$D/edge-no1.ini" >"$D/out" 2>&1 || cat "$D/out"
check "  the edge no longer has site 1's peer" sh -c "! ip netns exec '$EDGE' wg show $IFE peers | grep -qF '$S1_PUB'"
down2() { [ "$(events "$H1" "$RL" down)" -ge 2 ]; }
check "edge stops answering: a second relay DOWN event within the limit (135 s) + a few checks" wait_for 170 down2
check "  cause relay_down, the handshake's age and the edge's fix" jqs \
	"[.[] | select(.mapping == \"$RL\" and .state == \"down\")][1] | .cause == \"relay_down\" and (.summary | test(\"last handshake with the edge $EDGE_IP:51820 was [0-9]+ s ago \\\\(more than 135 s\")) and (.fix | test(\"portpilot edge up\"))" \
	"$H1"
check "  while the interface was up all along (it is the handshake that told)" sh -c "ip -n '$R' link show $IF1 | grep -q UP"
check "control: site 2, whose handshake is as old, stayed up with the same limit (it rekeyed)" sh -c \
	"ip netns exec '$R2' '$PORTPILOT' --state-dir '$D/s2' health --json | jq -e -n 'input | .mappings[] | select(.name == \"relay:$IF2\") | .state == \"up\"' >/dev/null &&
	 ! grep -q '\"mapping\":\"relay:' '$H2' 2>/dev/null"
pp "$EDGE" --state-dir "$D/se" edge up --config "$D/edge.ini" >"$D/out" 2>&1 || cat "$D/out"
up2() { [ "$(events "$H1" "$RL" up)" -ge 2 ]; }
check "edge answers again: one UP event (the site's handshake retries get through)" wait_for 30 up2
check "  in all: two down, two up, in turns" test "$(jq -r "select(.mapping == \"$RL\") | .state" "$H1" | tr '\n' ' ')" = "down up down up "
check "  HTTP through the edge works again" sh -c \
	"ip netns exec '$CLIENT' curl -s --interface '$CLIENT_IP' --max-time 3 http://$EDGE_IP:8080/ | grep -q '^srv-101 $CLIENT_IP'"

kill $m1 $m2
wait $m1
check "monitor: SIGTERM ends it with exit 0" test $? = 0
wait $m2
check "monitor: no error in its log" sh -c "! grep -v -e '^monitor: ' -e '^$RL DOWN since' -e '^$RL UP since' '$D/mon1.err' | grep -q ."
pp_done
