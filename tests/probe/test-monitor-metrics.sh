#!/bin/sh
# monitor --metrics ADDR:PORT in the lab (issue 13 item 4): the Prometheus text over HTTP on
# the router's loopback, the same as the metrics file, with each mapping's DNAT hit counter as
# portpilot status reads it; a non-loopback address refused unless asked for; clients that
# hold connections open, never finish their request, never read the answer or flood the port
# cost the checks nothing: a stopped server still goes down in time.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
command -v curl >/dev/null || { echo "# curl missing"; exit 77; }
lab_begin
M=$pp_tmp/mon
mkdir -p "$M"
lab_seed_table "$T"
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$M/apply.log" 2>&1 || { not_ok "apply"; cat "$M/apply.log"; }
lab_ns "$R" ip link set lo up
printf '[monitor]\nfail_after = 2\nrecover_after = 1\ntimeout = 1\nmetrics_file = %s\n' "$M/metrics.prom" >"$M/pp.conf"
PORT=9469

# A non-loopback address: refused, with what to do.
lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/pp.conf" --state-dir "$S" monitor --metrics "$LAB_PUBLIC_IP:$PORT" \
	>"$M/refused.out" 2>&1
rc=$?
check "--metrics on the WAN address: refused (exit 2)" test $rc = 2
check "... saying why and what to do" grep -q "is not a loopback address.*use 127.0.0.1:PORT.*--metrics-remote" "$M/refused.out"
printf '[monitor]\nmetrics_listen = 0.0.0.0:%s\n' $PORT >"$M/any.conf"
lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/any.conf" --state-dir "$S" monitor >"$M/any.out" 2>&1
check "[monitor] metrics_listen = 0.0.0.0: refused with FILE:LINE" grep -q "$M/any.conf:2: \[monitor\] metrics_listen: .*not a loopback address" "$M/any.out"
lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/pp.conf" --state-dir "$S" monitor --metrics "nohost:x" >"$M/bad.out" 2>&1
check "a malformed address: refused with an example" grep -q "write ADDR:PORT with an IP address, e.g. 127.0.0.1:9469" "$M/bad.out"

PORTPILOT_JOURNAL_SOCKET=$M/none.sock ip netns exec "$R" "$PORTPILOT" -f "$T" -c "$M/pp.conf" \
	--state-dir "$S" monitor --interval 1 --no-diagnose --metrics 127.0.0.1:$PORT >"$M/monitor.out" 2>"$M/monitor.err" &
MON=$!
echo $MON >>"$LAB_DIR/pids"
scrape() { lab_ns "$R" curl -s --max-time 3 "http://127.0.0.1:$PORT/metrics" >"$M/scrape" 2>/dev/null && grep -q '^portpilot_mapping_up' "$M/scrape"; }
check "the metrics are served on 127.0.0.1:$PORT/metrics" wait_for 20 scrape
check "the start line says where" grep -q "metrics on http://127.0.0.1:$PORT/metrics" "$M/monitor.err"
check "the content type is Prometheus text 0.0.4" sh -c "ip netns exec $R curl -s -o /dev/null -w '%{content_type}' http://127.0.0.1:$PORT/metrics | grep -q 'text/plain; version=0.0.4'"
check "not reachable from the internet" sh -c "! ip netns exec $LAB_INET curl -s --max-time 2 http://$LAB_PUBLIC_IP:$PORT/metrics >/dev/null"
check "another path: 404" sh -c "[ \$(ip netns exec $R curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/secret) = 404 ]"
check "a POST: 405" sh -c "[ \$(ip netns exec $R curl -s -o /dev/null -w '%{http_code}' -d x http://127.0.0.1:$PORT/metrics) = 405 ]"

# Hit counters: the same numbers portpilot status reads, and they count connections.
hits() { sed -n "s/^portpilot_mapping_hits_total{mapping=\"$1\"} //p" "$M/scrape"; }
status_pkts() { lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" status --json | jq -r ".mappings[] | select(.name == \"$1\") | .packets"; }
# The counters come from a child's read (iptables-save); the text has them once it is back.
three() { scrape && [ "$(grep -c '^portpilot_mapping_hits_total{' "$M/scrape")" = 3 ]; }
check "hits: one counter per mapping" wait_for 15 three
h0=$(hits web-2)
check "hits: the read of the kernel worked" grep -q '^portpilot_hits_read_success 1' "$M/scrape"
for i in 1 2 3 4; do lab_http "$LAB_INET" "http://$LAB_PUBLIC_IP:8090/" >/dev/null; done
grew() { scrape && [ "$(hits web-2)" -ge $((${h0:-0} + 4)) ] 2>/dev/null; }
check "hits: four connections to web-2 count up (read every 30 s)" wait_for 45 grew
check "hits: the value is portpilot status's packet counter" test "$(hits web-2)" = "$(status_pkts web-2)"
check "hits: the file and the HTTP text are the same metrics" sh -c "grep '^portpilot_mapping_hits_total' '$M/metrics.prom' | cut -d' ' -f1 | sort | tr '\n' ' ' | grep -q 'web-1.*web-2.*web-3'"

# Hostile clients, all at once, from the router itself (the only place that reaches it):
# 40 connections that send half a request and wait, 4 that send a request and never read,
# and one 64 KiB request line.
base=$(ls /proc/$MON/fd | wc -l)
lab_ns "$R" "$LAB_PY" -c '
import socket, sys, time
port = int(sys.argv[1]); held = []
for i in range(40):
    s = socket.create_connection(("127.0.0.1", port)); s.send(b"GET /metr"); held.append(s)
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.send(b"GET /metrics HTTP/1.0\r\n\r\n"); held.append(s)
try:
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET /" + b"a" * 65536); held.append(s)
except OSError:
    pass
open(sys.argv[2], "w").write("holding\n")
time.sleep(30)' $PORT "$M/hostile.state" >/dev/null 2>&1 &
HOSTILE=$!
echo $HOSTILE >>"$LAB_DIR/pids"
wait_for 10 test -s "$M/hostile.state"
held=$(ls /proc/$MON/fd | wc -l)
check "the hostile clients hold descriptors, at most 16 ($base before, $held now)" \
	sh -c "[ $held -gt $((base + 8)) ] && [ $held -le $((base + 16)) ]"
t0=$(date +%s)
kill "$(sed -n 2p "$LAB_DIR/pids")"      # srv-102: web-2's server stops
down() { lab_ns "$R" "$PORTPILOT" --state-dir "$S" health web-2 >/dev/null 2>&1; [ $? = 1 ]; }
check "under hostile clients: a stopped server still goes down" wait_for 15 down
t1=$(date +%s)
check "... within interval x fail_after and a little ($((t1 - t0)) s <= 5)" test $((t1 - t0)) -le 5
web2_down() { lab_ns "$R" curl -s --max-time 3 "http://127.0.0.1:$PORT/metrics" | grep -q '^portpilot_mapping_up{mapping="web-2",check="http"} 0'; }
check "under hostile clients: a scraper still gets the metrics, web-2 down (text rebuilt every 5 s)" wait_for 10 web2_down
check "the monitor is still running" kill -0 $MON
check "the held connections are closed by their deadlines (5 s, 15 s sending)" wait_for 20 sh -c "[ \$(ls /proc/$MON/fd | wc -l) -le $((base + 1)) ]"
kill $HOSTILE 2>/dev/null
kill $MON; wait $MON; rc=$?
check "SIGTERM: exit 0" test $rc = 0
[ $pp_failed = 0 ] || sed 's/^/#   /' "$M/monitor.err"
pp_done
