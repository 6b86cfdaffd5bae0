#!/bin/sh
# Terminal manners: no tty refused, SIGTERM restores the terminal, resize at
# any moment, the 60x15 minimum, --ascii, UTF-8 names aligned by display
# width (and shown as '?' in the C locale), 20,000 rows scroll and filter.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed_copy
# Not a terminal: a clear message, exit 2, nothing drawn.
"$PORTPILOT" -f "$pp_tmp/m.ini" </dev/null >"$pp_tmp/out" 2>"$pp_tmp/err"; rc=$?
check "no tty: exit 2" [ "$rc" = 2 ]
check "no tty: says it needs a terminal" grep -q "needs a terminal" "$pp_tmp/err"
check "no tty: prints no escape sequences" sh -c "! grep -q \"\$(printf '\\033')\" '$pp_tmp/out'"

# SIGTERM: the terminal comes back (normal screen, cursor shown), exit 1.
# The default entry (no command) opens the TUI; as root, inside a private
# network namespace so only its empty ruleset is read.
if [ "$(id -u)" = 0 ] && ip netns add "pp-$$-tui" 2>/dev/null; then
	at_exit "ip netns del pp-$$-tui"
	TUI_WRAP="ip netns exec pp-$$-tui"
fi
tui_start 80 24 C.UTF-8 -- -f m.ini --state-dir "$pp_tmp/state"
check "no command opens the TUI" wait_screen "3 mappings"
TUI_WRAP=""
keys g Space
wait_screen "[modified]"
kill -TERM "$(tui_pid)"
check "SIGTERM: exits 1" wait_for 5 exit_is 1
check "SIGTERM: terminal restored" restored
check "SIGTERM: says unsaved changes were dropped" screen_has "unsaved changes were dropped"

# Resize: too small, back, larger; also while the form is open.
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "3 mappings"
tm resize-window -t t -x 70 -y 20
check "resize to 70x20: still the table (60x15 is the minimum)" wait_screen "3 mappings"
tm resize-window -t t -x 59 -y 15
check "resize to 59x15: says too small" wait_screen "Terminal too small: 59x15, need 60x15"
tm resize-window -t t -x 60 -y 14
check "resize to 60x14: says too small" wait_screen "Terminal too small: 60x14, need 60x15"
tm resize-window -t t -x 80 -y 24
check "resize back to 80x24: table again" wait_screen_is seed-80x24.utf8
tm resize-window -t t -x 200 -y 50
check "resize to 200x50: wide columns appear" wait_screen "Description"
keys a
wait_screen "new mapping"
tm resize-window -t t -x 80 -y 24
check "resize with the form open keeps the form" wait_for 5 sh -c \
	"tmux -L $PP_SOCK capture-pane -p -t t | grep -q 'new mapping' && [ \$(tmux -L $PP_SOCK display -p -t t '#{window_width}') = 80 ]"
keys Escape q
check "quit after resizes" wait_for 5 exit_is 0

# --ascii in a UTF-8 locale: ASCII lines and marks, UTF-8 text still shown.
cat >"$pp_tmp/u.ini" <<'EOF'
[site]
name = Werk 3 Süd
wan_interface = eth0
lan_interface = eth1
lan_subnet = 192.168.2.0/24

[cam-1]
description = 摄像头 東門 camera
public_port = 8554
internal_ip = 192.168.2.110
internal_port = 554
owner = 李伟

[cam-2]
description = Café entrance
public_port = 8555
internal_ip = 192.168.2.111
internal_port = 554
owner = Zoë Müller
EOF
tui_start 80 24 C.UTF-8 -- -f u.ini tui --ascii --offline
wait_screen "2 mappings"
check "--ascii: ASCII sort mark" wait_for 5 screen_has "Name^"
keys '?'
check "--ascii: ASCII line under the title" wait_for 5 line_has 2 "--------"
keys q
check "--ascii: UTF-8 text still UTF-8" wait_screen "Werk 3 Süd"
wait_screen "cam-2"
check "--ascii: no '??' substitutes" screen_lacks "??"
keys q

# Display-width alignment: the Description column starts at the same screen
# column on every row, with wide (CJK) and accented owners before it.
aligned() {
	screen >"$pp_tmp/shot"
	python3 - "$pp_tmp/shot" <<'PY'
import sys, unicodedata
def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
head = next(l for l in lines if "Description" in l)
col = width(head[:head.index("Description")])
rows = [l for l in lines if " cam-" in l]
want = {"cam-1": "摄像头", "cam-2": "Café"}
ok = len(rows) == 2
for l in rows:
    name = "cam-1" if " cam-1" in l else "cam-2"
    ok = ok and want[name] in l and width(l[:l.index(want[name])]) == col
sys.exit(0 if ok else 1)
PY
}
for loc in C.UTF-8 C; do
	tui_start 200 50 $loc -- -f u.ini tui --offline
	wait_screen "2 mappings"
	if [ $loc = C ]; then
		check "C locale: non-ASCII shown as '?'" wait_for 5 screen_has "Zo?? M??ller"
		check "C locale: columns aligned" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | awk '/Description/{c=index(\$0,\"Description\")} / cam-1 /{a=index(\$0,\"?????????\")} / cam-2 /{b=index(\$0,\"Caf??\")} END{exit !(c>0 && a==c && b==c)}'"
	else
		check "UTF-8: wide and accented names aligned by display width" wait_for 5 aligned
	fi
done

# 20,000 rows: end, page, filter to one row, clear.
python3 - "$pp_tmp/big.ini" <<'PY'
import sys
out = ["[site]", "name = big", "wan_interface = eth0", "lan_interface = eth1",
       "lan_subnet = 192.168.0.0/16", ""]
for i in range(20000):
    out += ["[m%05d]" % i, "public_port = %d" % (10000 + i),
            "internal_ip = 192.168.%d.%d" % (2 + i // 250, 1 + i % 250), "internal_port = 80", ""]
open(sys.argv[1], "w").write("\n".join(out))
PY
tui_start 80 24 C.UTF-8 -- -f big.ini tui --offline
check "20k: opens" wait_screen "20000 mappings" 20
keys G
check "20k: End shows the last row" wait_for 5 line_has 22 "m19999"
keys g PgDn
check "20k: PgDn moves one page (19 rows)" wait_for 5 line_has 4 "m00019"
keys PgUp
check "20k: PgUp moves back" wait_for 5 line_has 4 "m00000"
keys /; type_text "m12345"
check "20k: filter to one row" wait_screen "1 shown"
keys Escape
check "20k: Esc shows all again" wait_gone "shown"
keys q
check "20k: quits" wait_for 10 exit_is 0
pp_done
