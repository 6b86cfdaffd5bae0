#!/bin/sh
# The Health column and the detail view's history, read from the monitor's state and history
# files in the state directory (the TUI runs no checks): up / DOWN since HH:MM / -, a stale
# file shown as such, a rewritten file picked up, 80x24 and 60x15 kept.
# The files are written here in the monitor's format (probe/monitor-files.c, -notify.c); the
# real monitor writing them for the TUI is tests/tui/test-demo.sh's part.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed_copy
S=$pp_tmp/state
mkdir -p "$S"
# A process of ours stands in for the running monitor (the TUI looks whether its pid lives).
sleep 600 &
mon=$!
at_exit "kill $mon 2>/dev/null"
now=$(date +%s)
down_at=$((now - 120))
hm=$(date -d "@$down_at" +%H:%M)
# state_file UPDATED PID WEB2STATE: web-1 up, web-2 as given, web-3 not in the file.
state_file() {
	cat >"$S/monitor-state.json.tmp" <<EOF
{"updated":$1,"pid":$2,"interval":30,"history":"$S/monitor-history.jsonl","mappings":[
{"name":"web-1","state":"up","since":null,"since_epoch":$((now - 3600)),"cause":null,"summary":null,"fix":null,"check":"http","detail":"HTTP 200","latency_ms":1.2,"last_check":null,"checks":9,"failures":0},
{"name":"web-2","state":"$3","since":null,"since_epoch":$down_at,"cause":"not_listening","summary":"nothing listens on 192.168.2.102 port 80 (TCP reset)","fix":"start the service on 192.168.2.102","check":"http","detail":"connect refused","latency_ms":0.4,"last_check":null,"checks":9,"failures":4}${4:-}
]}
EOF
	mv "$S/monitor-state.json.tmp" "$S/monitor-state.json"
}
cat >"$S/monitor-history.jsonl" <<EOF
{"mapping":"web-2","state":"down","scope":"lan","previous":"up","since":"x","since_epoch":$((now - 7200)),"detail":"connect refused","cause":"host_firewall","summary":"192.168.2.102 answers the LAN but drops outside sources","fix":"f","message":"m"}
{"mapping":"web-2","state":"up","scope":"lan","previous":"down","since":"x","since_epoch":$((now - 3600)),"detail":"HTTP 200","cause":null,"summary":null,"fix":null,"message":"m"}
{"mapping":"web-1","state":"down","scope":"lan","previous":"up","since":"x","since_epoch":$((now - 1800)),"detail":"timeout","cause":"host_unreachable","summary":"web-1's own event","fix":null,"message":"m"}
{"mapping":"web-2","state":"down","scope":"lan","previous":"up","since":"x","since_epoch":$down_at,"detail":"connect refused","cause":"not_listening","summary":"nothing listens on 192.168.2.102 port 80 (TCP reset)","fix":"start it","message":"m"}
EOF
row() { screen | grep " $1 "; }
row_has() { row "$1" | grep -qF -- "$2"; }
row_lacks() { ! row_has "$@"; }

# No monitor state: no column (not one full of dashes), the screen as before.
tui_start 80 24 C.UTF-8 -- -f m.ini --state-dir "$pp_tmp/empty" -c "$pp_tmp/none.conf" tui --offline
wait_screen "3 mappings"
check "no monitor state: no Health column" wait_screen_is seed-80x24.utf8

state_file "$now" "$mon" down
tui_start 80 24 C.UTF-8 -- -f m.ini --state-dir "$S" -c "$pp_tmp/none.conf" tui --offline
wait_screen "3 mappings"
check "80x24: the Health column is shown" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | sed -n 3p | grep -q 'State   Health'"
check "80x24: web-1 up" wait_for 5 row_has web-1 " up "
check "80x24: web-2 DOWN and its time (the short form: Hits keeps its place)" row_has web-2 "DOWN $hm"
check "80x24: web-3, not in the monitor's state, is -" sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep ' web-3 ' | grep -q '^  -       -  '"
check "80x24: name, public port and internal address still shown" row_has web-2 "8090        192.168.2.102:80"
check "80x24: a fresh file is not called stale" screen_lacks "health as of"
check "80x24: Hits still shown" sh -c "tmux -L $PP_SOCK capture-pane -p -t t | sed -n 3p | grep -q 'Internal  *Hits'"

# The detail view: the state now with cause and fix, then the last events, newest first.
keys g j i
wait_screen "[web-2]  (line"
keys PgDn
check "detail: the Health section" wait_screen "Health (portpilot monitor)"
check "detail: LAN check DOWN with since" screen_has "LAN check DOWN since $(date -d "@$down_at" +%Y-%m-%dT%H:%M)"
check "detail: the cause and summary" screen_has "not_listening: nothing listens on 192.168.2.102 port 80"
check "detail: the fix" screen_has "fix: start the service on 192.168.2.102"
check "detail: the last events, with their cause" screen_has "DOWN: host_firewall: 192.168.2.102 answers the LAN"
newest_first() { [ "$(screen | grep -o 'DOWN: \(not_listening\|host_firewall\)' | tr '\n' ' ')" = "DOWN: not_listening DOWN: host_firewall " ]; }
check "detail: newest first" newest_first
check "detail: an up event shown" screen_has "$(date -d "@$((now - 3600))" +%Y-%m-%dT%H:%M) up"
check "detail: another mapping's events are not" screen_lacks "web-1's own event"
keys q
check "table: the status line gives the selected DOWN mapping's cause" \
	wait_for 5 line_has 23 "web-2 DOWN since $hm: not_listening: nothing listens on 192.168.2.102"
keys k
check "table: an up mapping's row has no such line" wait_for 5 sh -c "! tmux -L $PP_SOCK capture-pane -p -t t | sed -n 23p | grep -q DOWN"
keys j

# The monitor rewrites the file: the TUI follows it without a key.
state_file "$(date +%s)" "$mon" up
check "a rewritten state file is picked up: web-2 up" wait_for 10 row_has web-2 " up "

# Its monitor gone: the same file shows the past, and says so.
kill "$mon"; wait "$mon" 2>/dev/null
check "stale: the file line says the monitor is not running" wait_for 10 screen_has "the monitor is not running"
check "stale: the cells carry a ?" wait_for 5 row_has web-1 " up? "
keys q

# A file nobody rewrote for a long time (and no pid to look at): its age is named.
state_file $((now - 1000)) 0 down
tui_start 110 24 C.UTF-8 -- -f m.ini --state-dir "$S" -c "$pp_tmp/none.conf" tui --offline
check "old: the file line names its age" wait_for 5 screen_has "old, monitor stalled?"
check "old (110 columns): web-2 DOWN? since its time" wait_for 5 row_has web-2 "DOWN? since $hm"
keys q

# A published name the monitor has down: said on the file line (it has no row of its own).
dns=',
{"name":"dns:site3.example.net","state":"down","since":null,"since_epoch":'$down_at',"cause":"public_ip_mismatch","summary":"site3.example.net resolves to 203.0.113.77, but the site'"'"'s address is 203.0.113.1","fix":null,"check":"dns","detail":"x","resolves_to":"203.0.113.77","site_address":"203.0.113.1","checks":3,"failures":3}'
state_file "$(date +%s)" $$ up "$dns"
tui_start 110 24 C.UTF-8 -- -f m.ini --state-dir "$S" -c "$pp_tmp/none.conf" tui --offline
check "a published name down: on the file line" wait_for 5 line_has 2 "DNS site3.example.net -> 203.0.113.77, not 203.0.113.1"
check "... and no row of its own" screen_lacks "dns:site3"
check "... the mappings' rows as before" row_has web-2 " up "
keys q

# 60x15: the column is the first to go; the narrow layout stays as it was.
state_file "$(date +%s)" $$ down
tui_start 60 15 C.UTF-8 -- -f m.ini --state-dir "$S" -c "$pp_tmp/none.conf" tui --offline
wait_screen "3 mappings"
check "60x15: no Health column" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | sed -n 3p | grep -q 'Name' && ! tmux -L $PP_SOCK capture-pane -p -t t | grep -q Health"
check "60x15: name, public and internal shown" row_has web-2 "8090        192.168.2.102:80"
keys g j i
wait_screen "[web-2]  (line"
keys PgDn PgDn
check "60x15: the detail view has the Health section" wait_screen "Health (portpilot monitor)"
keys q
# 76 columns: room for it at its short width only.
tui_start 76 15 C.UTF-8 -- -f m.ini --state-dir "$S" -c "$pp_tmp/none.conf" tui --offline
check "76x15: the short form DOWN HH:MM" wait_for 5 row_has web-2 "DOWN $hm"
keys q
pp_done
