#!/bin/sh
# What no single row shows, in the lab router namespace: an unconfirmed apply
# whose rollback timer died, the ruleset leading to the mappings changed by
# hand, and mappings left in the kernel after their section was deleted.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
lab_up || { not_ok "lab builds"; pp_done; }

S=$pp_tmp/state
pp_cli() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$pp_tmp/m.ini" --state-dir "$S" "$@" >/dev/null 2>&1; }
in_kernel() { ip netns exec "$LAB_ROUTER" iptables-save | grep -q "pp:$1"; }
lab_seed_table "$pp_tmp/m.ini"
TUI_WRAP="ip netns exec $LAB_ROUTER"

# 1. The rollback timer is gone: no countdown for a timer that no longer exists.
check "an apply awaits confirmation" pp_cli apply --confirm 120
tui_start 80 24 C.UTF-8 -- -f m.ini --state-dir "$S"
check "TUI opens in the router namespace" wait_screen "3 mappings"
# The core's deadline read right: well over 100 s left, not 0.
countdown() { screen_line 1 | grep -Eq 'CONFIRM in 1[0-2][0-9]s'; }
check "a live timer: the header counts down from the core's deadline" wait_for 10 countdown
check "its rollback timer is killed" kill_timer "$S"
check "status line: the timer is gone, confirm or roll back" wait_screen "rollback timer gone: confirm or roll back" 10
check "header names the keys instead of a countdown" line_has 1 "TIMER GONE (C/U)"
check "no countdown anywhere" screen_lacks "CONFIRM in"
keys A
check "A refuses a second apply and names both keys" wait_screen "C confirms it, U rolls it back"
keys U
check "U rolls the apply back" wait_screen "Rolled back: the kernel holds the rules from before"
check "the rules left the kernel" sh -c '! ip netns exec "$0" iptables-save | grep -q pp:web-1' "$LAB_ROUTER"
check "nothing pending any more" test ! -e "$S/pending"
check "the timer notice is gone" wait_gone "TIMER GONE"
keys q
check "quits with 0" wait_for 5 exit_is 0

# The same when C keeps the change.
check "another apply awaits confirmation" pp_cli apply --confirm 120
check "its timer is killed too" kill_timer "$S"
tui_start 200 50 C.UTF-8 -- -f m.ini --state-dir "$S"
check "200 columns: the header says it in words" wait_for 10 line_has 1 "rollback timer gone: C confirm, U roll back"
keys C
check "C confirms with the timer gone" wait_screen "Confirmed: the ruleset stays"
check "the rules stay" in_kernel web-1
check "the header turns in sync" wait_for 10 line_has 1 "kernel in sync"

# 2. The ruleset drifts: the jump into portpilot's FORWARD chain deleted by hand.
check "the hand deletes FORWARD -j PP-FWD" ip netns exec "$LAB_ROUTER" iptables -D FORWARD -j PP-FWD
keys g   # a key clears the confirm message from the status line
check "the header: the kernel differs, not in sync" wait_for 10 line_has 1 "kernel differs (ruleset)"
# The rows say what an apply would do to each mapping (the dry run's plan): nothing; the line below says the rest.
insync() { [ "$(screen | sed 1d | grep -c '^. in sync ')" -eq 3 ]; }
check "the rows read in_sync, as the dry run changes no mapping" wait_for 5 insync
check "the status line names the missing jump" wait_screen "ruleset drifted: filter: missing -A FORWARD -j PP-FWD"
keys i
check "the detail pager lists the drift" wait_screen "missing -A FORWARD -j PP-FWD"
keys q
check "the CLI's apply repairs it" pp_cli apply
check "the header turns in sync again" wait_for 10 line_has 1 "kernel in sync"
check "the drift line is gone" wait_gone "ruleset drifted"

# 3. An orphan: web-3 deleted from the table by the CLI, not applied.
check "web-3 deleted from the file only" pp_cli del web-3
check "web-3 still in the kernel" in_kernel web-3
keys R
check "reloaded" wait_screen "2 mappings"
keys g
check "the header counts the orphan" wait_for 10 line_has 1 "kernel differs (1 orphan)"
check "the status line names it" wait_screen "orphan in the kernel, not in the table: web-3"
keys i
check "the detail pager names it too" wait_screen "orphan: web-3 has rules in the kernel"
keys q q
check "quits with 0 again" wait_for 5 exit_is 0
pp_done
