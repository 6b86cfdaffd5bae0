#!/bin/sh
# Help at 80x24: every key group, nothing cut off, rows aligned by display width;
# the function keys F1..F10 do what their letters do.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed_copy
# Every page of the help, scrolled with PgDn until the last line shows.
help_text() {
	: >"$pp_tmp/help"
	_i=0
	while [ $_i -lt 12 ]; do
		screen >>"$pp_tmp/help"
		screen_has "q or Esc leaves this page" && return 0
		_before=$(screen)
		keys PgDn
		wait_for 5 sh -c "[ \"\$(tmux -L $PP_SOCK capture-pane -p -t t)\" != \"\$1\" ]" _ "$_before" || return 1
		_i=$((_i + 1))
	done
	return 1
}
help_has() { grep -qF -- "$1" "$pp_tmp/help"; }
# The column where TEXT starts on its line, a wide glyph counted as one column.
col_of() { sed 's/✓/x/; s/✗/x/; s/…/x/' "$pp_tmp/help" | awk -v s="$1" 'i = index($0, s) { print i; exit }'; }

for loc in C C.UTF-8; do
	tui_start 80 24 $loc -- -f m.ini tui --offline
	wait_screen "3 mappings"
	keys '?'
	wait_screen "Table screen"
	check "$loc: the help pages through to its end" help_text
	for g in "Table screen" "Filter line" "Edit form" "[site] form" "Apply screen (A)" \
		"Pages: help, details" "Probe, watch and access log" "Questions" "DDNS marks" \
		"Marks and states"; do
		check "$loc: help has the group '$g'" help_has "$g"
	done
	for k in "a Enter F5" "c C F2" "roll back now" "PgUp b  PgDn f Space" "F1 ^T" \
		"t u b  y n" "Esc q ^C F10"; do
		check "$loc: help lists the keys '$k'" help_has "$k"
	done
	# The longest row wraps under itself instead of being cut at 80 columns.
	check "$loc: a long row wraps instead of being cut" help_has "narrows the rows as you type (name,"
	check "$loc: ... its end on the next line, under the text" help_has "                        owner, description)"
	check "$loc: DDNS glyph rows line up with the ? row" \
		[ "$(col_of 'the name resolves')" = "$(col_of 'the public IP is not known')" ]
	check "$loc: the ✗ row too" [ "$(col_of 'it resolves elsewhere')" = "$(col_of 'the public IP is not known')" ]
	keys q q
	check "$loc: quits" wait_for 5 exit_is 0
done

# The edit form's help without function keys.
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "3 mappings"
keys e
wait_screen "Tab/Up/Down"
keys C-t
check "^T in the form opens the help" wait_screen "Table screen"
keys q
check "q goes back to the form" wait_screen "Tab/Up/Down"
keys Escape q
wait_for 5 exit_is 0

# Each function key does what its letter does.
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "3 mappings"
keys F3; type_text "8091"
check "F3 filters like /" wait_screen "1 shown"
keys Enter Escape
wait_gone "1 shown"
keys F6
check "F6 sorts by the next column like o" wait_screen "Proto↑"
keys F4
check "F4 edits the row like e" wait_screen "Tab/Up/Down"
keys F10
check "F10 cancels the form like Esc" wait_gone "Tab/Up/Down"
keys F7
check "F7 adds like a" wait_screen "Tab/Up/Down"
keys F10
wait_gone "Tab/Up/Down"
keys F9
check "F9 shows the details like i" wait_screen "export"
keys q
wait_screen "3 mappings"
keys F8
check "F8 deletes like d (asks first)" wait_screen "Delete mapping"
keys n
wait_gone "Delete mapping"
keys F5
check "F5 applies like A (offline: says why not)" wait_screen "Apply is not possible here"
keys t
check "t switches a mapping off: the table is modified" wait_screen "[modified]"
keys F2
check "F2 saves like w" wait_gone "[modified]"
check "the saved file has the change" grep -q "enabled *= *no" "$pp_tmp/m.ini"
keys F1
check "F1 opens the help like ?" wait_screen "Table screen"
keys F10
check "F10 leaves the help like q" wait_screen "3 mappings"
keys F10
check "F10 quits like q" wait_for 5 exit_is 0
pp_done
