# tmux helpers for the TUI suites: a private tmux server per test, keys, screens.
# Source after tests/lib.sh. Every test uses its own socket (-L pp-PID) and
# kills only that server on exit.
command -v tmux >/dev/null 2>&1 || { echo "# skip: tmux is not installed"; exit 77; }
[ -x "$PORTPILOT" ] || { echo "# skip: $PORTPILOT is not built"; exit 77; }
PP_SOCK="pp-$$-0"
tui_n=0
PP_EXPECT="$PP_TOP/tests/tui/expect"
at_exit 'tmux -L "$PP_SOCK" kill-server 2>/dev/null'
# lib.sh's check keeps the name in $n, which its wait_for overwrites: keep it apart.
check() { _tui_cn=$1; shift; if "$@"; then ok "$_tui_cn"; else not_ok "$_tui_cn"; fi; }
tm() { tmux -L "$PP_SOCK" -f /dev/null "$@" 2>/dev/null; }

# tui_start COLS ROWS LANG [ENV=VALUE...] -- [portpilot ARGS...]
# TUI_WRAP, when set, prefixes the command (e.g. "ip netns exec NS").
# Runs portpilot in $pp_tmp (so the file line shows a short relative path),
# then prints PP_EXIT=CODE and keeps the pane open for inspection.
tui_start() {
	_c=$1 _r=$2 _l=$3; shift 3
	_env=""
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do _env="$_env $1"; shift; done
	[ "${1:-}" = "--" ] && shift
	# A fresh server (and socket) per start: no race with the previous one exiting.
	tm kill-server
	tui_n=$((tui_n + 1)); PP_SOCK="pp-$$-$tui_n"
	tm new-session -d -x "$_c" -y "$_r" -s t -c "$pp_tmp" \
		"${TUI_WRAP:-} env -u NO_COLOR TERM=screen LANG=$_l LC_ALL=$_l $_env $PORTPILOT $*; echo PP_EXIT=\$?; exec sleep 600"
}
keys() { tm send-keys -t t "$@"; }
# Literal text, not key names.
type_text() { tm send-keys -t t -l -- "$1"; }
screen() { tm capture-pane -p -t t; }
screen_has() { screen | grep -qF -- "$1"; }
screen_lacks() { ! screen_has "$1"; }
wait_screen() { wait_for "${2:-5}" screen_has "$1"; }
# stays_for SECONDS CMD...: CMD holds at every poll for the whole time (bounded, not one look).
stays_for() {
	_sf_i=0; _sf_n=$(($1 * 20)); shift
	while [ $_sf_i -lt $_sf_n ]; do "$@" || return 1; sleep 0.05; _sf_i=$((_sf_i + 1)); done
}
wait_gone() { wait_for "${2:-5}" screen_lacks "$1"; }
# The PID of portpilot inside the pane (the pane's shell's child).
tui_pid() { pgrep -P "$(tm display -p -t t '#{pane_pid}')" portpilot; }
tui_exited() { screen_has "PP_EXIT="; }
exit_code() { screen | sed -n 's/^PP_EXIT=\([0-9]*\).*/\1/p' | tail -n 1; }
alt_screen() { tm display -p -t t '#{alternate_on}'; }
exit_is() { [ "$(exit_code)" = "$1" ]; }
restored() { [ "$(alt_screen)" = 0 ] && [ "$(tm display -p -t t '#{cursor_flag}')" = 1 ]; }
no_colour() { ! screen_has_colour; }
# line_has N TEXT: screen line N contains TEXT.
line_has() { screen_line "$1" | grep -qF -- "$2"; }
# Line N (1-based) of the screen.
screen_line() { screen | sed -n "${1}p"; }
# Compare the screen with tests/tui/expect/NAME; on a difference show it.
# PP_TUI_BLESS=1 writes the expected screen instead (review it before committing).
screen_is() {
	screen >"$pp_tmp/screen.$1"
	if [ -n "${PP_TUI_BLESS:-}" ]; then mkdir -p "$PP_EXPECT"; cp "$pp_tmp/screen.$1" "$PP_EXPECT/$1"; fi
	if diff -u "$PP_EXPECT/$1" "$pp_tmp/screen.$1" >"$pp_tmp/diff.$1"; then return 0; fi
	sed 's/^/# /' "$pp_tmp/diff.$1"
	return 1
}
# Wait until the screen equals the expected one (it may still be drawing).
wait_screen_is() {
	[ -n "${PP_TUI_BLESS:-}" ] && { sleep 0.5; screen_is "$1"; return; }
	wait_for "${2:-5}" sh -c "tmux -L $PP_SOCK capture-pane -p -t t 2>/dev/null | cmp -s - '$PP_EXPECT/$1'" || screen_is "$1"
}
# Escape sequences of colours in the pane (capture -e keeps attributes).
screen_has_colour() { tm capture-pane -p -e -t t | grep -Eq '\[(3[0-7]|4[0-7]|38;|48;|9[0-7])[m;]|;(3[0-7]|4[0-7])[m;]'; }
seed_copy() { cp "$PP_TOP/examples/seed-site.ini" "$pp_tmp/${1:-m.ini}"; }
# file_has ERE: the copy of seed_copy (m.ini) has a line matching ERE (what the editor saved).
file_has() { grep -qE -- "$1" "$pp_tmp/m.ini"; }
# tui_new_form: the editor at 80x24 on a copy of the seed table (m.ini), its new-mapping form
# opened with `a` (one check: "the form opens").
tui_new_form() {
	seed_copy
	tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
	wait_screen "3 mappings"
	keys a
	check "the form opens" wait_screen "new mapping"
}
