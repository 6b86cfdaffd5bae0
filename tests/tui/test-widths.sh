#!/bin/sh
# The width there is (issue 14 item 11): at 140 columns a port range, an
# owner and a description are whole (the spare width goes to the cut
# columns, not all to the first); at 80x24 the usual columns; at 60x15 (an
# SSH client on a phone) the TUI runs with name, public port, internal
# address and state, the rest hidden, and its dialogs wrap inside their
# frame instead of cutting the text. Below 60x15 it says what it needs.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

cat >"$pp_tmp/m.ini" <<'INI'
[site]
name = Plant 3 video platform
wan_interface = eth0
lan_interface = eth1
lan_subnet = 192.168.2.0/24

[web-1]
description = Project portal
public_port = 8080
internal_ip = 192.168.2.101
internal_port = 80
owner = Li Wei

[rtp-recorders]
description = NVR recorders' RTP
protocol = udp
public_port = 20000-20100
internal_ip = 192.168.2.120
internal_port = 20000-20100
allow = 198.51.100.0/24
owner = Maximilian Schmidt

[cam-gate]
description = North gate camera
public_port = 8554
internal_ip = 192.168.2.110
internal_port = 554
owner = Zhang Min
INI
row() { screen | grep -F " $1 "; }
row_has() { row "$1" | grep -qF -- "$2"; }
titles_have() { for _w in "$@"; do line_has 3 "$_w" || return 1; done; }
titles_lack() { for _w in "$@"; do ! line_has 3 "$_w" || return 1; done; }
no_ellipsis() { ! screen | sed -n '3,6p' | grep -qF "…"; }

# 140x40: every value of the range's row whole.
tui_start 140 40 C.UTF-8 -- -f m.ini tui --offline
check "140x40: opens" wait_screen "3 mappings"
check "140x40: all the columns but Finding (no row has one)" \
	wait_for 5 titles_have State Name Proto Public Internal Allow Hits Owner "Last hit" Description
check "140x40: the public port range whole" row_has rtp-recorders " 20000-20100 "
check "140x40: the internal address and range whole" row_has rtp-recorders "192.168.2.120:20000-20100"
check "140x40: the allow list whole" row_has rtp-recorders "198.51.100.0/24"
check "140x40: the owner whole" row_has rtp-recorders "Maximilian Schmidt"
check "140x40: the description whole" row_has rtp-recorders "NVR recorders' RTP"
check "140x40: no value cut (no ellipsis in the rows)" no_ellipsis
keys q
wait_for 5 exit_is 0

# 80x24: the columns of old; what does not fit ends in an ellipsis, never silently.
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
check "80x24: opens" wait_screen "3 mappings"
check "80x24: state, name, proto, public, internal, allow, hits" \
	wait_for 5 titles_have State Name Proto Public Internal Allow Hits
check "80x24: owner and description give way" titles_lack Owner Description
check "80x24: the range's public port whole" row_has rtp-recorders " 20000-20100 "
check "80x24: a cut value ends in an ellipsis" sh -c \
	"tmux -L $PP_SOCK capture-pane -p -t t | grep ' rtp-recorders ' | grep -q ' 192\.168\.2\.120:20000-[0-9]*… '"
keys q
wait_for 5 exit_is 0

# 60x15: usable, the four columns that matter most.
tui_start 60 15 C.UTF-8 -- -f m.ini tui --offline
check "60x15: opens (not 'too small')" wait_screen "3 mappings"
check "60x15: no 'too small'" screen_lacks "Terminal too small"
check "60x15: name, public port, internal address, state" wait_for 5 titles_have State Name Public Internal
check "60x15: the rest hidden" titles_lack Proto Allow Hits Owner
check "60x15: rows show their public port and internal address" row_has web-1 "8080        192.168.2.101:80"
check "60x15: the key hints on the last line, whole pairs only" wait_for 5 sh -c \
	"tmux -L $PP_SOCK capture-pane -p -t t | sed -n 15p | grep -q 'F1/? help.*w save\$'"
# A dialog fits its frame: both borders on every row (text never runs over them).
keys j d
check "60x15: delete asks" wait_screen "Delete mapping"
frame_ok() {
	screen | awk '/┌/ { f = 1; next } /└/ { f = 0 } f { n++; if (gsub("│", "|") != 2) bad = 1 }
		END { exit !(n >= 3 && !bad) }'
}
check "60x15: the dialog's frame holds its text" frame_ok
check "60x15: the question whole" screen_has "Delete mapping rtp-recorders (NVR recorders' RTP)?"
check "60x15: ... and the answers whole" screen_has "n keep it    y delete it"
keys n
wait_gone "Delete mapping"
# The edit form and the help are usable too.
keys e
check "60x15: the edit form opens" wait_screen "edit mapping rtp-recorders"
check "60x15: its fields show" screen_has "20000-20100"
# No room below the fields at 15 rows: a wrong value's message takes the status line.
keys Tab Tab Tab C-u; type_text "999999"
check "60x15: a wrong value's message on the status line" wait_for 5 line_has 14 "internal_ip: '999999' is not an IPv4 address"
keys Escape
wait_screen "3 mappings"
keys '?'
check "60x15: the help wraps its rows at 60 columns" wait_screen "filter as you type (Enter keeps it,"
keys q
wait_screen "3 mappings"
# Smaller than 60x15: says what it needs, and comes back.
tm resize-window -t t -x 50 -y 12
check "50x12: says too small and the minimum" wait_screen "Terminal too small: 50x12, need 60x15"
tm resize-window -t t -x 60 -y 15
check "back to 60x15: the table again" wait_screen "3 mappings"
keys q
check "60x15: quits" wait_for 5 exit_is 0

# A prompt whose text is wider than its frame used to be cut ("drops your ed"):
# save after the file changed on disk; at 60 columns it wraps.
for size in "80 24" "60 15"; do
	set -- $size
	cp "$pp_tmp/m.ini" "$pp_tmp/d.ini"
	tui_start "$1" "$2" C.UTF-8 -- -f d.ini tui --offline
	wait_screen "3 mappings"
	keys t
	wait_screen "[modified]"
	echo "; changed by someone else" >>"$pp_tmp/d.ini"
	keys w
	check "$1x$2: the changed-on-disk question" wait_screen "File changed on disk"
	check "$1x$2: its frame holds its text" frame_ok
	if [ "$1" = 80 ]; then
		check "$1x$2: its last answer whole on one row" screen_has "r reload from disk (drops your edits)"
	else
		check "$1x$2: its last answer wrapped, its end on the next row" screen_has "│ your edits)"
	fi
	keys c
	wait_gone "File changed on disk"
	keys q d
	check "$1x$2: quits" wait_for 5 exit_is 0
done
pp_done
