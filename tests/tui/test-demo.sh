#!/bin/sh
# `make demo` as a newcomer meets it, in a real terminal: the TUI opens on the lab's seed site,
# the internet host's connections count up as hits, a mapping added in the form is applied
# with confirm and reached from the internet, q leads to the fault menu, and q there tears
# everything down.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
B=$(basename "$(dirname "$PORTPILOT")")
id=dm$$
at_exit "for n in \$(ip netns list | awk '/^pp-$id-/ { print \$1 }'); do ip netns del \$n; done"
inet=pp-$id-inet
tm kill-server
PP_SOCK="pp-$$-demo"
tm new-session -d -x 100 -y 30 -s t -c "$pp_tmp" \
	"env -u NO_COLOR TERM=screen LANG=C.UTF-8 LC_ALL=C.UTF-8 LAB_ID=$id make -s -C '$PP_TOP' B=$B demo; echo PP_EXIT=\$?; exec sleep 600"

# hits NAME: the Hits column of NAME's row (found by its title), empty without the row.
# (awk counts bytes: the sort arrow in the titles is one column, so one byte there.)
hits() { screen | awk -v n=" $1 " 'NR == 3 { gsub(/↑|↓/, "^"); p = index($0, " Hits") + 1 } p > 1 && index($0, n) { split(substr($0, p), a, " "); print a[1]; exit }'; }
# health NAME: NAME's row holds TEXT in the Health column (after State, before the name).
health_is() { screen | grep " $1 " | grep -q "^. [a-z -]\{7\} $2"; }
hits_above() { h=$(hits "$1"); [ -n "$h" ] && [ "$h" -gt "$2" ] 2>/dev/null; }
reach() { [ "$(ip netns exec "$inet" curl -s --max-time 3 "http://203.0.113.1:$1/")" = "$2" ]; }

check "make demo opens the TUI on the lab's seed site" wait_screen "Plant 3 video platform (lab)" 60
check "the three seed mappings are shown" wait_for 10 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -c ' web-[123] ' | grep -qx 3"
check "the kernel holds the saved table" wait_screen "kernel in sync" 10
# The monitor the demo started in the router: its state in the Health column.
check "the Health column is shown" wait_for 10 line_has 3 "State   Health"
check "the monitor has web-1 up" wait_for 15 health_is web-1 "up "
check "the monitor has web-3 up" wait_for 5 health_is web-3 "up "
check "the status line says how to make hits" wait_screen "ip netns exec $inet curl"
h0=$(hits web-2); h0=${h0:-0}
for i in 1 2 3; do reach 8090 srv-102; done
check "internet connections to web-2 count up as hits" wait_for 15 hits_above web-2 "$h0"

# A new mapping, saved, applied with confirm, reached from the internet.
keys g
keys a; type_text "cam-1"; keys Tab Tab Tab; type_text "8095"; keys Tab
type_text "192.168.2.103"; keys Tab; type_text "80"; keys Enter
check "the form adds cam-1" wait_screen "Added cam-1"
keys A
wait_screen "Apply works from the saved file"
keys s
check "the diff shows cam-1's rule" wait_screen "pp:cam-1"
keys a
check "apply shows the confirm countdown" wait_screen "Rollback in"
keys c
check "c confirms" wait_screen "Confirmed: the ruleset stays"
keys Enter
check "the internet reaches cam-1 (.103)" reach 8095 srv-103
check "cam-1's hits count up" wait_for 15 hits_above cam-1 0

keys q
check "q in the TUI leads to the fault menu" wait_screen "demo>" 10
# A fault: its web server stopped, the TUI opened on the broken lab shows web-1 DOWN and why.
keys 1 Enter
check "fault 1 (not_listening) is found by the probe" wait_screen "== verdict: not_listening" 60
check "the demo offers the TUI on the broken lab" wait_screen "The lab stays broken" 10
keys t Enter
check "the TUI on the broken lab" wait_screen "Plant 3 video platform (lab)" 20
check "the Health column has web-1 DOWN" wait_for 20 health_is web-1 "DOWN"
check "web-2 is still up" health_is web-2 "up "
keys g
status_down() { screen_line 29 | grep -q "^web-1 DOWN since [0-2][0-9]:[0-5][0-9]: not_listening: nothing listens on 192.168.2.101 "; }
check "the status line gives web-1's cause and summary" wait_for 10 status_down
keys i
wait_screen "[web-1]  (line"
keys PgDn
check "web-1's detail view: its last events, with their cause" wait_screen "DOWN: not_listening: nothing listens" 10
keys q q
check "the lab is restored after the TUI" wait_screen "verdict after restoring: ok" 60
keys q Enter
check "q at the menu tears the lab down and exits 0" wait_for 30 exit_is 0
check "no namespace of the demo is left" sh -c "! ip netns list | grep -q '^pp-$id-'"
pp_done
