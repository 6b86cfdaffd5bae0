#!/bin/sh
# Findings next to the rows, the detail screen, export to a file, the session
# log, the help listing every key with its letter, the DDNS panel without a
# config, and the probe refused offline.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed_copy
cat >>"$pp_tmp/m.ini" <<'EOF'

[ssh-1]
public_port   = 2222
internal_ip   = 192.168.2.20
internal_port = 22

[bad-1]
public_port   = 8080
internal_ip   = 10.0.0.5
EOF
row() { screen | grep " $1 "; }
row_has() { row "$1" | grep -qF -- "$2"; }

tui_start 80 24 C.UTF-8 -- -f m.ini -c "$pp_tmp/none.conf" tui --offline
wait_screen "5 mappings"
check "header counts the findings" wait_for 5 screen_has "1 error 2 warnings"
check "error row marked ! with state error" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -q '^! error   bad-1'"
check "warning row marked *" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -q '^\* -       ssh-1'"
keys g
check "status line: the selected row's error and fix" \
	wait_screen "public_port error: tcp port 8080 is also claimed by [web-1]"
keys n
check "n: next row with a finding, its warning shown" wait_screen "SSH is reachable from any address"

keys g i
check "i: detail screen of bad-1" wait_screen "[bad-1]  (line"
check "detail: every field listed" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -q 'internal_ip *= 10.0.0.5'"
keys PgDn
# The TUI draws the core's record struct in its own words: the same cells export --json gives.
check "detail: the export record, the cells portpilot export prints" \
	wait_screen "$("$PORTPILOT" -f "$pp_tmp/m.ini" export --json | jq -r '.mappings[] | select(.mapping == "bad-1") | "\(.service) (\(.mapping)): \(.public_ip):\(.public_port)"')"
check "detail: the record's allow list" wait_screen "10.0.0.5:8080 tcp, from any"
check "detail: the record's purpose, owner and state" \
	wait_screen "purpose -, owner -, state $("$PORTPILOT" -f "$pp_tmp/m.ini" export --json | jq -r '.mappings[] | select(.mapping == "bad-1") | .state')"
keys G
check "detail: findings with their fix" wait_screen "fix: give [web-1] or [bad-1] another public port"
keys q

keys x
check "x asks for the export file" wait_screen "File to write"
keys C-u; type_text "$pp_tmp/doc.md"; keys Enter
check "export written" wait_for 5 test -s "$pp_tmp/doc.md"
check "export lists the mappings" grep -q "Project portal" "$pp_tmp/doc.md"
check "export confirmed on screen" wait_screen "Exported the table (md)"
# A failed export: the engine's error (with its fix) in the screen's words, not the CLI's stderr.
ln -s "$pp_tmp/link-target" "$pp_tmp/link.md"
keys x
wait_screen "File to write"
keys C-u; type_text "$pp_tmp/link.md"; keys Enter
check "export through a link refused in the screen's words" wait_screen "Not exported: cannot write $pp_tmp/link.md: it is a symbolic"
no_cli_words() { ! screen_has "portpilot export:"; }
check "... not the CLI's stderr" no_cli_words
check "... and nothing written through the link" test ! -e "$pp_tmp/link-target"

keys L
check "L: session log shows the export" wait_screen "exported md to"
keys q

keys '?'
wait_screen "Table screen"
# Every function key of the table screen also has a letter.
help_letters() {
	screen >"$pp_tmp/help"
	keys PgDn
	wait_for 5 screen_has "Filter line" || return 1
	screen >>"$pp_tmp/help"
	keys End
	wait_for 5 screen_has "Marks and states" || return 1
	screen >>"$pp_tmp/help"
	for f in "F1 ? h" "F2 w" "F3 /" "F4 Enter e" "F5 A" "F6 o" "F7 Ins a" "F8 Del d" "F9 i" "F10 q"; do
		grep -qF -- "$f" "$pp_tmp/help" || { echo "# help lacks $f"; return 1; }
	done
}
check "help: every F-key listed with its letter" help_letters
keys q

keys D
check "D: DDNS panel says nothing is configured" wait_screen "No [ddns NAME] section: nothing is published."
keys q
keys p
check "p: offline, the probe says how to run it" wait_screen "portpilot probe"
keys 4
check "4: sort by public port (2222 first)" wait_for 5 line_has 4 "ssh-1"
keys 4
check "4 again: reverse (8091 first)" wait_for 5 line_has 4 "web-3"

# [site] form: a wrong public_ip is refused with the core's message, then fixed and saved.
keys S
check "S opens the [site] form" wait_screen "site settings [site]"
keys Down Down Down Down C-u; type_text "203.0.113.300"
check "site: wrong public_ip explained" wait_screen "public_ip"
check "site: the value is flagged" wait_screen "203.0.113.300' is not"
keys BSpace BSpace BSpace; type_text "7"
check "site: message gone when fixed" wait_gone "203.0.113.300"
keys Enter
check "site: accepted" wait_screen "Changed [site]"
keys w
wait_screen "Saved m.ini"
check "site: public_ip saved" grep -Eq '^public_ip *= *203\.0\.113\.7' "$pp_tmp/m.ini"
check "site: other comments kept" grep -q '^hairpin *= *yes *; LAN clients' "$pp_tmp/m.ini"
keys q
check "quit" wait_for 5 exit_is 0
pp_done
