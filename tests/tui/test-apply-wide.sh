#!/bin/sh
# The apply diff shows every rule whole (issue 14 item 7): destinations first,
# one line per changed mapping ("web-1 tcp 8080 -> 192.168.2.101:80"), then
# the rule text wrapped with a continuation mark instead of cut at the screen
# width, scrolled with Up/Down and PgUp/PgDn; at 80x24 and at 60x15. In a private network namespace
# (only its empty ruleset is read; the dry run changes nothing).
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"
[ "$(id -u)" = 0 ] || { echo "# skip: needs root (a network namespace)"; exit 77; }
command -v iptables-restore >/dev/null 2>&1 || { echo "# skip: no iptables"; exit 77; }
ns="pp-$$-aw"
ip netns add "$ns" || { echo "# skip: cannot create a network namespace"; exit 77; }
at_exit "ip netns del $ns"
TUI_WRAP="ip netns exec $ns"

seed_copy
cat >>"$pp_tmp/m.ini" <<'EOF2'

[rtp-range-for-the-recorders]
description = RTP media from the recorders
protocol = udp
public_port = 20000-20100
internal_ip = 192.168.2.120
internal_port = 20000-20100
allow = 198.51.100.0/24
EOF2

# Rows as the engineer reads them: a row starting with the continuation mark
# (after its indent) goes on the line above.
logical() {
	screen | awk '{ l = $0; sub(/^ +/, "", l) }
		l ~ /^> / { sub(/^> /, "", l); line = line " " l; next }
		{ if (NR > 1) print line; line = $0 } END { print line }'
}
has_logical() { logical | grep -qF -- "$1"; }
has_logical_re() { logical | grep -qE -- "$1"; }
rule() { echo "--comment \"pp:$1\" -j DNAT --to-destination $2"; }

for size in "80 24" "60 15"; do
	set -- $size
	tui_start "$1" "$2" C -- -f m.ini --state-dir "$pp_tmp/state"
	check "$1x$2: TUI opens" wait_screen "mappings"
	keys A
	check "$1x$2: A shows the destinations first" wait_screen "Destinations"
	check "$1x$2: summary line of web-1: protocol, public port, internal address" \
		wait_for 5 has_logical_re "^   \+ web-1 +tcp 8080 -> 192\.168\.2\.101:80 from 0\.0\.0\.0/0\$"
	check "$1x$2: summary of the range with its allow list" has_logical_re \
		"^   \+ rtp-range-for-the-recorders +udp 20000-20100 -> 192\.168\.2\.120:20000-20100 from 198\.51\.100\.0/24\$"
	check "$1x$2: a wrapped row carries the continuation mark" wait_for 5 sh -c \
		"tmux -L $PP_SOCK capture-pane -p -t t | grep -q '^ *> '"
	# Down one row at a time to the end: each rule is whole in some window.
	: >"$pp_tmp/seen"
	_i=0
	while [ $_i -lt 100 ]; do
		logical >>"$pp_tmp/seen"
		screen_has "dry run:" && break
		_before=$(screen)
		keys Down
		wait_for 5 sh -c "[ \"\$(tmux -L $PP_SOCK capture-pane -p -t t)\" != \"\$1\" ]" _ "$_before" || break
		_i=$((_i + 1))
	done
	check "$1x$2: Down scrolls to the dry run's last line" screen_has "dry run:"
	check "$1x$2: web-1's DNAT rule whole, its destination included" \
		grep -qF -- "$(rule web-1 192.168.2.101:80)" "$pp_tmp/seen"
	check "$1x$2: the range's DNAT rule whole" \
		grep -qF -- "$(rule rtp-range-for-the-recorders 192.168.2.120)" "$pp_tmp/seen"
	keys PgUp PgUp PgUp PgUp PgUp PgUp PgUp PgUp
	check "$1x$2: PgUp back to the top" wait_screen "Destinations"
	check "$1x$2: still nothing in the kernel" sh -c "! ip netns exec $ns iptables-save | grep -q pp:"
	keys Escape
	wait_screen "mappings"
	keys q
	check "$1x$2: quits" wait_for 5 exit_is 0
done

# The countdown takes the table screen's keys too: U rolls back, C confirms.
tui_start 80 24 C -- -f m.ini --state-dir "$pp_tmp/state"
wait_screen "mappings"
keys A
wait_screen "Destinations"
keys a
check "apply: the countdown" wait_screen "Rollback in" 10
check "apply: the rules in the kernel" sh -c "ip netns exec $ns iptables-save | grep -q pp:web-1"
keys U
check "U in the countdown rolls back" wait_screen "Rolled back: the kernel holds the rules from before" 10
check "... the kernel as before" sh -c "! ip netns exec $ns iptables-save | grep -q pp:"
keys Enter
wait_screen "mappings"
keys A
wait_screen "Destinations"
keys a
wait_screen "Rollback in" 10
keys C
check "C in the countdown confirms" wait_screen "Confirmed: the ruleset stays" 10
keys Enter
wait_screen "mappings"
keys A
check "after the confirm: nothing left to change" wait_screen "nothing to change"
check "... and no destinations listed" screen_lacks "Destinations"
keys Escape
wait_screen "mappings"
# Switched off: its rules go, and the summary says where they led and why.
keys g t
wait_screen "[modified]"
keys A
wait_screen "Apply works from the saved file"
keys s
check "a mapping switched off: listed as removed" wait_screen "Destinations"
check "... with its destination and why" has_logical_re \
	"^   - rtp-range-for-the-recorders +udp 20000-20100 -> 192\.168\.2\.120:20000-20100 from 198\.51\.100\.0/24  \(off\)\$"
keys Escape
wait_screen "mappings"
keys q
check "quits after the apply" wait_for 5 exit_is 0
pp_done
