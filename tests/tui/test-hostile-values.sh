#!/bin/sh
# Table values with escape sequences and invalid UTF-8: the full-screen editor draws them
# as '?' (never hands ESC, BEL or a C1 control to the terminal), in UTF-8 and C locales.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

T=$pp_tmp/m.ini
printf '[site]\nname = Evil\033]2;title-pwned\007site\nwan_interface = eth0\nlan_subnet = 192.168.2.0/24\n\n' >"$T"
printf '[web-1]\ndescription = Web \033[2J\033[31mred \377 bad\nprotocol = tcp\npublic_port = 8080\n' >>"$T"
printf 'internal_ip = 192.168.2.101\ninternal_port = 80\nowner = "Mall\351ry\033]2;title-pwned\007\302\2332Jend"\n' >>"$T"

for loc in C.UTF-8 C; do
	tui_start 200 50 "$loc" -- -f m.ini -c "$pp_tmp/none.conf" tui --offline
	wait_screen "1 mapping"
	check "$loc: the row is drawn" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -q 'web-1'"
	check "$loc: owner and description show their controls as ?" wait_for 5 sh -c \
		"tmux -L $PP_SOCK capture-pane -p -t t | grep -q 'Mall?ry?\]2;titl.*Web ?\[2J?\[31mred ? bad'"
	check "$loc: no escape set the terminal's title" sh -c \
		"! tmux -L $PP_SOCK display -p -t t '#{pane_title}' | grep -q pwned"
	check "$loc: no escape cleared the screen (the header is still there)" screen_has "1 mapping"
	keys Enter
	check "$loc: the detail screen shows the whole owner, controls as ?" wait_for 5 sh -c \
		"tmux -L $PP_SOCK capture-pane -p -t t | grep -q 'Mall?ry?\]2;title-pwned??*2Jend'"
	check "$loc: still no title set" sh -c "! tmux -L $PP_SOCK display -p -t t '#{pane_title}' | grep -q pwned"
	keys Escape q
	check "$loc: q quits with 0" wait_for 5 exit_is 0
done
pp_done
