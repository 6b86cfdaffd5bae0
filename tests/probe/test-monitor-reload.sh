#!/bin/sh
# SIGHUP reloads the monitor's table and [monitor]: a new mapping is checked, a kept one keeps
# its state, and a broken file (conf or table) is refused with FILE:LINE while the old
# configuration goes on checking.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab_begin
lab_monitor_dir
lab_seed_table "$T"
printf '[monitor]\nfail_after = 2\nrecover_after = 2\ndiagnose = no\n' >"$M/portpilot.conf"
lab_monitor "$M/portpilot.conf"
MON=$LAB_MON
state() { lab_ns "$R" "$PORTPILOT" --state-dir "$S" health --json >"$M/h.json" 2>/dev/null; jqe "$1" "$M/h.json"; }
check "three mappings up" wait_for 10 state '(.mappings | length) == 3 and all(.mappings[]; .state == "up")'
# The monitor's own state file: since_epoch and the check counter tell a kept state from a new one.
web1() { jq -r ".mappings[] | select(.name == \"web-1\") | .$1" "$S/monitor-state.json" 2>/dev/null; }
checked() { [ "$(web1 checks)" -ge 3 ] 2>/dev/null; }
wait_for 10 checked || not_ok "web-1 checked three times"
since1=$(web1 since_epoch) checks1=$(web1 checks)

# A new mapping: checked after the HUP; web-1 keeps its state and since.
"$PORTPILOT" -f "$T" add web-4 public_port=8092 internal_ip=$LAB_SRV3_IP internal_port=80 >/dev/null
kill -HUP $MON
reloaded() { grep -q '^monitor: reloaded: 4 mappings' "$M/monitor.err"; }
check "HUP: reloaded with the new mapping" wait_for 10 reloaded
check "HUP: the new mapping is checked and up" wait_for 10 state '.mappings[] | select(.name == "web-4") | .state == "up"'
check "HUP: a kept mapping keeps its state, since and check count" \
	sh -c "[ '$(web1 state)' = up ] && [ '$(web1 since_epoch)' = '$since1' ] && [ '$(web1 checks)' -ge '$checks1' ]"

# A broken [monitor]: refused, named by file and line; the old configuration goes on.
cp "$M/portpilot.conf" "$M/good.conf"
printf '[monitor]\nfail_after = 2\n\ninterval = often\n' >"$M/portpilot.conf"
kill -HUP $MON
refused() { grep -q "^monitor: reload refused, the running configuration is kept: $1" "$M/monitor.err"; }
check "HUP with a broken conf: refused with FILE:LINE" wait_for 10 refused "$M/portpilot.conf:4: \[monitor\] interval: 'often'"
# A broken table: refused too.
cp "$M/good.conf" "$M/portpilot.conf"
cp "$T" "$M/good.ini"
sed -i '/^\[web-2\]/a check = udp' "$T"     # by hand: portpilot set refuses it
kill -HUP $MON
line=$(grep -n '^check *= *udp' "$T" | cut -d: -f1)
check "HUP with a table that does not fit: refused with FILE:LINE" wait_for 10 refused "$T:$line: \[web-2\] check: check = udp on a tcp mapping"
cp "$M/good.ini" "$T"
# Still checking with the old configuration: a stopped server still goes down.
kill "$(sed -n 2p "$LAB_DIR/pids")"
check "after the refused reloads: web-2 still watched, goes down" \
	wait_for 15 state '.mappings[] | select(.name == "web-2") | .state == "down"'
check "after the refused reloads: still four mappings (the last good table)" state '(.mappings | length) == 4'
kill $MON
wait $MON
check "monitor: SIGTERM ends it with exit 0" test $? = 0
pp_done
