#!/bin/sh
# The apply flow in the lab router namespace: diff first, apply with a confirm
# countdown, confirm with one key, states turn "in sync", hits count up when
# the internet host connects; a new mapping added in the form is applied and
# rolled back on request, then rolled back by the timer when not confirmed.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
lab_up || { not_ok "lab builds"; pp_done; }

reach() { [ "$(lab_http "$LAB_INET" "http://$LAB_PUBLIC_IP:$1/")" = "$2" ]; }
in_kernel() { ip netns exec "$LAB_ROUTER" iptables-save | grep -q "pp:$1"; }
not_in_kernel() { ! in_kernel "$1"; }
# Rows only: the header's "kernel in sync" is not a row.
n_in_sync() { [ "$(screen | sed 1d | grep -c '^. in sync ')" -ge "$1" ]; }
# row_hits NAME [STATE-WORD]: the row is there, (its state's last word is STATE-WORD) and hits >= 1.
row_hits() {
	screen | awk -v n=" $1 " -v st="${2:-}" 'index($0, n) { f = 1; ok = $NF >= 1 && (st == "" || $2 == st) }
		END { exit !(f && ok) }'
}
web1_hits() { row_hits web-1; }
log_complete() {
	s=$(screen)
	echo "$s" | grep -q 'confirmed' && echo "$s" | grep -q 'rolled back on request' &&
		echo "$s" | grep -q 'rolled back by the timer'
}
lab_seed_table "$pp_tmp/m.ini"
TUI_WRAP="ip netns exec $LAB_ROUTER"
tui_start 80 24 C.UTF-8 -- -f m.ini --state-dir "$pp_tmp/state"
check "TUI opens in the router namespace" wait_screen "3 mappings"
check "kernel read: rows are pending before any apply" wait_for 10 line_has 4 "pending"
check "header: kernel differs" wait_screen "kernel differs (3)"
check "header: WAN interface and its address" wait_screen "WAN eth0 $LAB_WAN_IP"
check "header at 80 columns: the public IP is the WAN address" wait_for 5 line_has 1 "WAN eth0 $LAB_WAN_IP  public = WAN"

keys A
check "A shows the diff first" wait_screen "dry run"
check "diff names the mapping's rules" wait_screen "pp:web-1"
# The screen formats the engine's report itself: the mappings changed by name and the backend
# "because" its reason are its own words, the CLI prints a count and "backend: NAME (VARIANT): why".
keys PgDn PgDn PgDn PgDn
check "the screen's own report: the changed mappings by name" wait_screen "Mappings changed: web-1"
backend_why() { screen_has "Backend iptables (" && screen_has ", because "; }
check "the screen's own report: the backend and why" wait_for 5 backend_why
keys PgUp PgUp PgUp PgUp
check "diff: nothing applied yet" not_in_kernel web-1
keys a
check "apply: countdown shown" wait_screen "Rollback in"
check "apply: rules in the kernel" in_kernel web-1
keys c
check "c confirms" wait_screen "Confirmed: the ruleset stays"
# The screen words the engine's report itself: the CLI's "confirmed: ..." names no backend.
check "the confirm message is the screen's own, with the backend kept" wait_screen "persisted for boot (backend iptables)."
keys Enter
check "states turn in sync" wait_for 10 n_in_sync 3
check "after c the countdown is gone from the header" wait_gone "CONFIRM in"
check "... and the rows stay in sync (no rollback)" stays_for 3 n_in_sync 3
check "header: kernel in sync" wait_screen "kernel in sync"
check "internet reaches web-1 through the mapping" reach 8080 srv-101
check "hits of web-1 count up" wait_for 10 web1_hits

# A new mapping through the form, saved, applied, rolled back on request.
keys a; type_text "web-4"; keys Tab Tab Tab; type_text "8092"; keys Tab
type_text "192.168.2.101"; keys Tab; type_text "80"; keys Enter
check "form adds web-4" wait_screen "Added web-4"
keys A
check "apply asks to save first" wait_screen "Apply works from the saved file"
keys s
check "diff after saving shows web-4" wait_screen "pp:web-4"
keys a
check "web-4 applied with countdown" wait_screen "Rollback in"
check "internet reaches web-4" reach 8092 srv-101
keys r
check "r rolls back now" wait_screen "Rolled back: the kernel holds the rules from before"
check "web-4 gone from the kernel" not_in_kernel web-4
check "web-1 still there" in_kernel web-1
keys Enter

# Not confirmed: the timer rolls back and the screen says so.
keys A
wait_screen "pp:web-4"
keys - - - - - a
check "apply with a 10 s countdown" wait_screen "Rollback in"
keys Escape
check "header shows the countdown on the table" wait_screen "CONFIRM in"
header_whole() { line_has 1 "kernel " && line_has 1 "CONFIRM in" && line_has 1 "DDNS" &&
	line_has 1 "WAN eth0 $LAB_WAN_IP" && line_has 1 "public = WAN"; }
check "header at 80 columns during the countdown: every live field whole" wait_for 5 header_whole
check "timer rolls back; the screen says so" wait_screen "not confirmed in time" 30
check "web-4 gone after the timer" not_in_kernel web-4

# An apply that armed its rollback but did not record what it wrote (killed in between, the state
# test-apply-kill makes for real): the screen refuses the confirm in its own words, U rolls back.
keys A
wait_screen "pp:web-4"
keys a
check "web-4 applied again with countdown" wait_screen "Rollback in"
check "the pending record marked unfinished" sh -c "echo armed=1 >> '$pp_tmp/state/pending'"
keys c
check "confirm refused in the screen's words (not the CLI's)" wait_screen "Not confirmed: the apply did not finish recording its rules. U rolls"
check "... and nothing was kept: the record stays" test -e "$pp_tmp/state/pending"
keys Enter
keys U
check "U rolls it back; the message names the backend restored" wait_screen "from before the apply (iptables)."
check "web-4 gone after U" not_in_kernel web-4

# The demo's story: the new mapping applied with confirm, its hits count up.
keys A
wait_screen "pp:web-4"
keys a
wait_screen "Rollback in"
keys c
check "web-4 confirmed" wait_screen "Confirmed: the ruleset stays"
keys Enter
check "internet reaches web-4 after confirm" reach 8092 srv-101
web4_hits() { row_hits web-4 sync; }
check "web-4 in sync and its hits count up" wait_for 10 web4_hits
keys L
check "session log lists apply, confirm and rollbacks" wait_for 5 log_complete
keys q q
check "quits with 0" wait_for 5 exit_is 0

# At 200 columns the header has room for the site name and the public IP written out.
tui_start 200 50 C.UTF-8 -- -f m.ini --state-dir "$pp_tmp/state"
check "200x50: header with site name, kernel state and WAN" wait_for 10 line_has 1 "portpilot  Plant 3 video platform (lab)  kernel in sync"
check "200x50: header shows the known public IP" wait_for 5 line_has 1 "WAN eth0 $LAB_WAN_IP  public $LAB_WAN_IP"
# web-4 was hit before this TUI started (the rollbacks reset web-1's counters): not "never".
row_of() { screen | grep " $1 "; }
web4_before() { row_of web-4 | grep -q "before [0-2][0-9]:[0-5][0-9]" && ! row_of web-4 | grep -q never; }
check "200x50: web-4 hit before the session: last hit 'before HH:MM', not never" wait_for 10 web4_before
check "200x50: a row without hits still says never" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep ' web-2 ' | grep -q never"

# A rule changed by hand in the kernel: web-1's DNAT now points elsewhere.
drift_web1() {
	ip netns exec "$LAB_ROUTER" sh -c '
		r=$(iptables-save -t nat | grep -- "pp:web-1" | grep -- "-j DNAT" | head -n 1)
		[ -n "$r" ] || exit 1
		echo "$r" | sed "s/^-A/-D/" | xargs iptables -t nat &&
		echo "$r" | sed "s/192\.168\.2\.101/192.168.2.99/" | xargs iptables -t nat'
}
check "web-1's DNAT rule changed by hand" drift_web1
check "web-1's state turns drifted" wait_for 15 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep ' web-1 ' | grep -q drifted"
check "header: kernel differs" wait_for 5 line_has 1 "kernel differs (1)"
keys q
wait_for 5 exit_is 0

# The engineer loses the session while an apply awaits confirmation: on return the TUI says so.
pp_cli() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$pp_tmp/m.ini" --state-dir "$pp_tmp/state" "$@" >/dev/null 2>&1; }
pp_cli disable web-2
check "an apply left unconfirmed" pp_cli apply --confirm 2
check "the timer rolls it back" wait_for 15 sh -c "! test -e '$pp_tmp/state/pending'"
tui_start 80 24 C.UTF-8 -- -f m.ini --state-dir "$pp_tmp/state"
check "on return the TUI says the timer rolled the apply back" wait_screen "While you were away" 10
keys L
check "and the session log records it" wait_screen "confirm timer had rolled back"
keys q q
check "quits with 0 again" wait_for 5 exit_is 0

# The table's own findings in the diff, in the screen's words from the report (the CLI prints
# "m.ini:LINE: warning: [NAME] allow: ..." on stderr, which the screen used to show captured).
cat >>"$pp_tmp/m.ini" <<EOF

[ssh-1]
protocol      = tcp
public_port   = 2222
internal_ip   = $LAB_SRV1_IP
internal_port = 22
EOF
tui_start 80 24 C.UTF-8 -- -f m.ini --state-dir "$pp_tmp/state"
wait_screen "4 mappings"
keys A
check "the table's finding in the screen's words" wait_screen "Warning (ssh-1): SSH is reachable from any"
no_cli_finding() { ! screen_has "m.ini:" && ! screen_has "warning: [ssh-1]"; }
check "... not the CLI's line" no_cli_finding
keys Escape q q
check "quits with 0 after the dry run" wait_for 5 exit_is 0
pp_done
