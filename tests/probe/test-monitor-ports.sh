#!/bin/sh
# The monitor checks every element of a port list against real servers in the lab: a
# three-port mapping whose middle server stops goes down naming that port, and up when it is
# back; a control list with all its ports up stays up; an http check lands on the element
# whose port chooses it, the other element gets a TCP connect; a range is checked on its first
# port. The state file and the metrics keep one row a mapping, with the elements beside it.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab_begin
lab_monitor_dir
lab_seed_table "$T"

lab_tcp_listen "$LAB_SRV1" 7001 >/dev/null || not_ok "server on 7001 listens"
MID=$(lab_tcp_listen "$LAB_SRV1" 7002) || not_ok "server on 7002 listens"
lab_tcp_listen "$LAB_SRV1" 7003 >/dev/null || not_ok "server on 7003 listens"
lab_tcp_listen "$LAB_SRV2" 7101 >/dev/null || not_ok "server on 7101 listens"
lab_tcp_listen "$LAB_SRV2" 7102 >/dev/null || not_ok "server on 7102 listens"   # 7103, the range's second port, has none
lab_tcp_listen "$LAB_SRV3" 2222 "SSH-2.0-not-http\r\n" >/dev/null || not_ok "server on 2222 listens"

"$PORTPILOT" -f "$T" add trio public_port=7001,7002,7003 internal_ip=$LAB_SRV1_IP >/dev/null || not_ok "add trio"
"$PORTPILOT" -f "$T" add ctl public_port=7101,7102-7103 internal_ip=$LAB_SRV2_IP >/dev/null || not_ok "add ctl"
"$PORTPILOT" -f "$T" add app public_port=9101,9102 internal_port=2222,80 internal_ip=$LAB_SRV3_IP \
	check=http >/dev/null || not_ok "add app"
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$M/apply.log" 2>&1 || { not_ok "apply"; cat "$M/apply.log"; }
cat >"$M/portpilot.conf" <<EOF2
[monitor]
fail_after    = 2
recover_after = 2
timeout       = 1
metrics_file  = $M/metrics.prom
EOF2

lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/portpilot.conf" --state-dir "$S" monitor --once --json \
	>"$M/once.json" 2>"$M/once.err"
check "--once: exit 0 while every port of every list answers" test $? = 0
check "--once: trio's detail names its three ports" \
	jqe '.mappings[] | select(.name == "trio") | .state == "up" and (.detail | test("7001: connected; 7002: connected; 7003: connected"))' "$M/once.json"
check "--once: app's http check is on port 80, a connect on 2222 (its banner is not HTTP)" \
	jqe '.mappings[] | select(.name == "app") | .state == "up" and .check == "http" and (.detail | test("2222: connected; 80: status 200"))' "$M/once.json"

lab_ns "$R" "$PORTPILOT" -f "$T" -c "$M/portpilot.conf" --state-dir "$S" monitor --interval 1 \
	>"$M/monitor.out" 2>"$M/monitor.err" &
echo $! >>"$LAB_DIR/pids"

row() { grep "^{\"name\":\"$1\"" "$S/monitor-state.json" 2>/dev/null | sed 's/,$//'; }   # one line, one object
state_is() { row "$1" | jqe ".state == \"$2\""; }
all_up() { state_is trio up && state_is ctl up && state_is app up; }
check "monitor: trio, ctl and app up" wait_for 15 all_up
trio_fine() { [ "$(grep -c '^{"name":"trio"' "$S/monitor-state.json")" = 1 ] &&
	row trio | jqe '.ports == "7001,7002,7003" and .ports_down == ""'; }
check "state file: one line for trio, its ports beside it, none down" trio_fine
ctl_fine() { row ctl | jqe '.ports == "7101,7102" and .ports_down == ""'; }
check "state file: ctl's range checked on its first port (7102, not 7103)" ctl_fine

events() { jq -c "select(.mapping == \"$1\" and .state == \"$2\")" "$S/monitor-history.jsonl" 2>/dev/null | wc -l; }
has_event() { [ "$(events "$1" "$2")" -ge 1 ]; }

# Stop the middle port's server.
kill "$MID"
check "middle server stopped: trio goes down (event in the history)" wait_for 20 has_event trio down
check "the event's detail names port 7002 first, refused" \
	jqe 'select(.mapping == "trio" and .state == "down") | .detail | test("^7002: connect: refused")' "$S/monitor-history.jsonl"
trio_down() { row trio | jqe '.state == "down" and .ports_down == "7002" and (.port_detail | test("7001: connected")) and (.port_detail | test("7003: connected"))'; }
check "state file: trio down, ports_down 7002, the others still connected" wait_for 10 trio_down
m_rows() { grep -qx 'portpilot_mapping_up{mapping="trio",check="tcp"} 0' "$M/metrics.prom" 2>/dev/null &&
	grep -qx 'portpilot_mapping_port_check_success{mapping="trio",port="7002",check="tcp"} 0' "$M/metrics.prom" &&
	grep -qx 'portpilot_mapping_port_check_success{mapping="trio",port="7001",check="tcp"} 1' "$M/metrics.prom"; }
check "metrics: trio down in its one mapping_up row, port 7002 failing in the per-port rows" wait_for 15 m_rows
check "metrics: one portpilot_mapping_up row per mapping" \
	sh -c "[ \$(grep -c '^portpilot_mapping_up{mapping=\"trio\"' $M/metrics.prom) = 1 ]"
check "metrics: app's elements carry their own check (http on 80, tcp on 2222)" \
	sh -c "grep -qx 'portpilot_mapping_port_check_success{mapping=\"app\",port=\"80\",check=\"http\"} 1' $M/metrics.prom &&
	grep -qx 'portpilot_mapping_port_check_success{mapping=\"app\",port=\"2222\",check=\"tcp\"} 1' $M/metrics.prom"
lab_ns "$R" "$PORTPILOT" --state-dir "$S" health trio >"$M/health.txt"
check "health trio: exit 1 while its middle port is down" test $? = 1

# Start it again.
lab_tcp_listen "$LAB_SRV1" 7002 >/dev/null
check "middle server back: trio comes up (event in the history)" wait_for 20 has_event trio up
trio_up() { row trio | jqe '.state == "up" and .ports_down == ""'; }
check "state file: trio up, no port down" wait_for 10 trio_up
check "control list ctl never went down" test "$(events ctl down)" = 0
check "app never went down" test "$(events app down)" = 0
check "the monitor logged no error" sh -c "! grep -qi 'error\|refused to start' $M/monitor.err"
pp_done
