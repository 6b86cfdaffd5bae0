#!/bin/sh
# The health monitor in the lab: a stopped server goes down within interval x fail_after with
# one event carrying the probe's cause, the hook, the webhook and the journal each get it once,
# it comes back up once, a flapping service never alerts, an unreachable webhook stops nothing,
# and health / monitor --once answer with the right exit codes and JSON.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab_begin
M=$pp_tmp/mon
mkdir -p "$M"
lab_seed_table "$T"
# web-4: a service that answers 200 and 500 in turns (a flapping one), on srv3 port 81.
"$PORTPILOT" -f "$T" add web-4 public_port=8092 internal_ip=$LAB_SRV3_IP internal_port=81 \
	check=http >/dev/null || not_ok "add web-4"
ip netns exec "$LAB_SRV3" "$LAB_PY" -c '
import http.server, sys
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global n
        code = 200 if n % 2 == 0 else 500
        n += 1
        open(sys.argv[1], "w").write(str(n))
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", 81), H).serve_forever()' "$M/flap.count" >/dev/null 2>&1 &
echo $! >>"$LAB_DIR/pids"
wait_for 10 _lab_listening "$LAB_SRV3" 81 || not_ok "flapping server listens"
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$M/apply.log" 2>&1 || { not_ok "apply"; cat "$M/apply.log"; }

# The receivers: a webhook listener on the router's loopback, a journal socket, a hook script.
lab_ns "$R" "$LAB_PY" -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        b = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(b.replace(b"\n", b" ") + b"\n")
        with open(sys.argv[3], "a") as f:
            f.write(str(self.headers.get("Authorization")) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' 9477 "$M/webhook.out" "$M/webhook.auth" \
	>/dev/null 2>&1 &
echo $! >>"$LAB_DIR/pids"
"$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
while True:
    d = s.recv(65536)
    with open(sys.argv[2], "ab") as f:
        f.write(d.replace(b"\n", b"|") + b"\n")' "$M/journal.sock" "$M/journal.out" >/dev/null 2>&1 &
echo $! >>"$LAB_DIR/pids"
wait_for 10 lab_ns "$R" sh -c 'ss -Hltn "sport = :9477" | grep -q LISTEN' || not_ok "webhook listener"
wait_for 10 test -S "$M/journal.sock" || not_ok "journal socket"
cat >"$M/hook.sh" <<EOS
#!/bin/sh
# stdin: the event's JSON; the environment: its values.
cat >>"$M/hook.json"
printf '%s|%s|%s|%s\n' "\$PP_MAPPING" "\$PP_STATE" "\$PP_PREVIOUS" "\$PP_CAUSE" >>"$M/hook.env"
EOS
printf 'token=s3cr3t-hook-token\n' >"$M/webhook.secret"
chmod 600 "$M/webhook.secret"
cat >"$M/portpilot.conf" <<EOF2
[monitor]
fail_after    = 2
recover_after = 2
timeout       = 1
hook          = sh $M/hook.sh
webhook       = http://127.0.0.1:9477/notify
webhook_body  = {"text":"{message}","state":"{state}"}
secret_file   = $M/webhook.secret
metrics_file  = $M/metrics.prom
EOF2

# Other monitors in this test leave the flapping web-4 alone: a check of theirs would break its turns.
cp "$T" "$M/t2.ini"
"$PORTPILOT" -f "$M/t2.ini" del web-4 >/dev/null || not_ok "del web-4"

# --once: every mapping's state, exit 0 while all answer.
lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/portpilot.conf" --state-dir "$S" monitor --once --json \
	>"$M/once.json" 2>"$M/once.err"
check "--once: exit 0 with every service up" test $? = 0
check "--once --json: four mappings, web-1..3 up with an http check" \
	jqe '(.mappings | length) == 4 and ([.mappings[] | select(.name != "web-4" and .state == "up" and .check == "http")] | length) == 3' "$M/once.json"

PORTPILOT_JOURNAL_SOCKET=$M/journal.sock ip netns exec "$R" "$PORTPILOT" -f "$T" -c "$M/portpilot.conf" \
	--state-dir "$S" monitor --interval 1 --json >"$M/monitor.out" 2>"$M/monitor.err" &
MON=$!
echo $MON >>"$LAB_DIR/pids"

all_up() { lab_ns "$R" "$PORTPILOT" --state-dir "$S" health --json >"$M/h.json" 2>/dev/null && jqe 'all(.mappings[]; .state == "up")' "$M/h.json"; }
check "health: exit 0 once the monitor saw every service up" wait_for 10 all_up
lab_ns "$R" "$PORTPILOT" --state-dir "$S" health --json >"$M/health.json"
check "health --json: a mappings list of {name,state,since,cause}" \
	jqe '.mappings | length == 4 and all(has("name") and has("state") and has("since") and has("cause"))' "$M/health.json"

events() { # NAME STATE: how many such events the history holds
	jq -c "select(.mapping == \"$1\" and .state == \"$2\")" "$S/monitor-history.jsonl" 2>/dev/null | wc -l
}
has_event() { [ "$(events "$1" "$2")" -ge 1 ]; }

# Stop web-2's server.
t0=$(date +%s)
kill "$(sed -n 2p "$LAB_DIR/pids")"
check "stopped server: web-2 goes down (event in the history)" wait_for 20 has_event web-2 down
since=$(jq -r 'select(.mapping == "web-2" and .state == "down") | .since_epoch' "$S/monitor-history.jsonl" | head -1)
# interval 1 s x fail_after 2, plus a second for the clock's rounding.
check "stopped server: down within interval x fail_after ($((${since:-0} - t0)) s)" \
	sh -c "[ -n '$since' ] && [ $((${since:-0} - t0)) -ge 0 ] && [ $((${since:-0} - t0)) -le 3 ]"
check "stopped server: the event carries the probe's cause not_listening and its fix" \
	jqe 'select(.mapping == "web-2" and .state == "down") | .cause == "not_listening" and (.summary | test("192.168.2.102")) and (.fix | length > 0) and (.message | test("^web-2 DOWN since [0-9]{2}:[0-9]{2}: not_listening: "))' "$S/monitor-history.jsonl"
hook_has() { [ "$(grep -c "^$1" "$M/hook.env" 2>/dev/null)" -ge "${2:-1}" ]; }
check "hook: run with the event in its environment" wait_for 10 hook_has 'web-2|down|up|not_listening'
check "hook: the event's JSON on its stdin" jqe 'select(.mapping == "web-2") | .state == "down" and .cause == "not_listening"' "$M/hook.json"
hook_n() { grep -c "$1" "$M/hook.env" 2>/dev/null; }
web_n() { grep -c "$1" "$M/webhook.out" 2>/dev/null; }
web_has() { [ "$(web_n "$1")" -ge 1 ]; }
check "webhook: the body template filled in" wait_for 10 web_has '"text":"web-2 DOWN since [0-9:]*: not_listening: '
check "webhook: the secret goes as a bearer token" grep -qx 'Bearer s3cr3t-hook-token' "$M/webhook.auth"
check "the secret is never printed" sh -c "! grep -q s3cr3t $M/monitor.out $M/monitor.err $S/monitor-history.jsonl $S/monitor-state.json"
j_has() { grep -q "MAPPING=web-2|STATE=down|.*CAUSE=not_listening|" "$M/journal.out" 2>/dev/null; }
check "journal: MAPPING, STATE and CAUSE as fields" wait_for 10 j_has
check "monitor --json: the event as a JSON line on stdout" \
	jqe 'select(.mapping == "web-2" and .state == "down" and .cause == "not_listening")' "$M/monitor.out"
m_down() { grep -qx 'portpilot_mapping_up{mapping="web-2",check="http"} 0' "$M/metrics.prom" 2>/dev/null; }
check "metrics: web-2 down in the textfile" wait_for 10 m_down
check "metrics: web-1 up, with latency and counters" sh -c "grep -qx 'portpilot_mapping_up{mapping=\"web-1\",check=\"http\"} 1' $M/metrics.prom &&
	grep -q '^portpilot_mapping_check_latency_seconds{mapping=\"web-1\",check=\"http\"} 0\.[0-9]*$' $M/metrics.prom &&
	grep -q '^portpilot_mapping_check_failures_total{mapping=\"web-2\",check=\"http\"} [1-9]' $M/metrics.prom &&
	grep -q '^# TYPE portpilot_mapping_checks_total counter$' $M/metrics.prom"
check "metrics: written whole (no temporary file left behind)" sh -c "[ -s $M/metrics.prom ] && [ ! -e $M/metrics.prom.tmp ]"
lab_ns "$R" "$PORTPILOT" --state-dir "$S" health web-2 >"$M/health.txt"
check "health web-2: exit 1 while it is down" test $? = 1
check "health web-2: DOWN with its cause" grep -q '^web-2 *DOWN *since .*not_listening' "$M/health.txt"
lab_ns "$R" "$PORTPILOT" --state-dir "$S" health web-1 >/dev/null
check "health web-1: exit 0 (only web-1 is asked about)" test $? = 0
lab_ns "$R" "$PORTPILOT" --state-dir "$S" health --json >"$M/health.json"
check "health --json: web-2 down, cause not_listening, with since" \
	jqe '.mappings[] | select(.name == "web-2") | .state == "down" and .cause == "not_listening" and (.since | length > 0)' "$M/health.json"
lab_ns "$R" "$PORTPILOT" -f "$M/t2.ini" -c "$M/portpilot.conf" --state-dir "$M/once-state" monitor --once >"$M/once.txt" 2>&1
check "--once: exit 1 while web-2 is down, and says so" sh -c "test $? = 1 && grep -q '^web-2 *DOWN' $M/once.txt"

# A second monitor whose webhook nobody answers keeps checking and retries with backoff (the
# hook is left to the first one).
sed -e 's|^webhook .*|webhook = http://127.0.0.1:1/nobody|' -e '/^hook/d' "$M/portpilot.conf" >"$M/dead-webhook.conf"
PORTPILOT_JOURNAL_SOCKET=$M/none.sock ip netns exec "$R" "$PORTPILOT" -f "$M/t2.ini" -c "$M/dead-webhook.conf" --state-dir "$M/s2" monitor \
	--interval 1 --no-diagnose >"$M/mon2.out" 2>"$M/mon2.err" &
MON2=$!
echo $MON2 >>"$LAB_DIR/pids"
retried() { grep -q 'webhook failed for web-2 down (.*); again in 2 s' "$M/mon2.err" 2>/dev/null; }
check "dead webhook: the failure is retried with backoff" wait_for 15 retried

# Start web-2 again.
lab_serve "$LAB_SRV2" 80 srv-102
check "restarted server: one up event" wait_for 20 has_event web-2 up
check "dead webhook: the second monitor still checks (it sees web-2 up)" \
	wait_for 20 jqe 'select(.mapping == "web-2" and .state == "up")' "$M/s2/monitor-history.jsonl"
kill "$MON2"
# The flapping service is checked once a second: its count is the monitor's clock.
flaps() { _f=$(cat "$M/flap.count" 2>/dev/null); echo "${_f:-0}"; }   # empty while rewritten
more_flaps() { [ "$(flaps)" -ge "$1" ]; }
check "a few more checks after the up event" wait_for 10 more_flaps $(($(flaps) + 3))
check "exactly one down and one up event for web-2" sh -c "test $(events web-2 down) = 1 && test $(events web-2 up) = 1"
check "hook: each event once" sh -c "test $(hook_n 'web-2|down') = 1 && test $(hook_n 'web-2|up|down') = 1"
check "webhook: each event once" sh -c "test $(web_n 'web-2 DOWN') = 1 && test $(web_n 'web-2 UP') = 1"
check "health: exit 0 again" all_up

check "the flapping service was checked many times" wait_for 15 more_flaps 8
check "flapping: no alert storm (not a single event for web-4)" test "$(events web-4 down)$(events web-4 up)" = 00

kill "$MON"
wait "$MON"
check "monitor: SIGTERM ends it with exit 0" test $? = 0
check "monitor: its log holds the two events and no error" \
	sh -c "! grep -v -e '^monitor: 4 mappings' -e '^web-2 DOWN since' -e '^web-2 UP since' $M/monitor.err | grep -q ."
pp_done
