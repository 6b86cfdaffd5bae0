#!/bin/sh
# The edit form and saving: add a mapping with a validation error first, then
# fixed; save; the file keeps its comments; edit, toggle, duplicate, delete;
# unsaved-changes prompt; a file changed on disk is noticed and reloaded.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed="$PP_TOP/examples/seed-site.ini"
# Every line of the seed is still in the file, in order (only additions).
kept_seed() { diff "$seed" "$pp_tmp/m.ini" | grep -q '^<' && return 1; return 0; }
cli() { "$PORTPILOT" -f "$pp_tmp/m.ini" "$@" >/dev/null 2>&1; }

add_cam() {   # the form, with a wrong port first
	keys a
	wait_screen "new mapping" || return 1
	type_text "cam-1"; keys Tab; type_text "RTSP camera"; keys Tab Tab
	type_text "80800"
	wait_screen "'80800' is not a port" || return 1
	keys Enter
	wait_screen "Not accepted: public_port" || return 1
	keys BSpace BSpace BSpace BSpace BSpace; type_text "8554"
	wait_gone "is not a port" || return 1
	keys Tab; type_text "192.168.2.110"; keys Tab; type_text "554"; keys Enter
	wait_screen "Added cam-1"
}

for combo in "80 24 C.UTF-8" "200 50 C NO_COLOR=1" "80 24 C NO_COLOR=1" "200 50 C.UTF-8"; do
	set -- $combo
	tag="$1x$2 $3${4:+ $4}"
	seed_copy
	tui_start "$@" -- -f m.ini tui --offline
	wait_screen "3 mappings"
	check "$tag: add through the form, error shown then fixed" add_cam
	check "$tag: new row is pending, table modified" \
		sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep cam-1 | grep -q pending"
	check "$tag: header says modified" wait_for 5 screen_has "[modified]"
	keys w
	check "$tag: w saves" wait_screen "Saved m.ini"
	check "$tag: file keeps every seed line and comment" kept_seed
	check "$tag: file has the new section" file_has '^\[cam-1\]'
	check "$tag: file has the new port" file_has '^public_port *= *8554'
	check "$tag: portpilot check accepts the saved file" cli check
	keys q
	check "$tag: quits after saving without a prompt" wait_for 5 exit_is 0
done

# Edit, toggle, duplicate and delete, then save once.
seed_copy
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "3 mappings"
keys / ; type_text "web-3"; keys Enter Enter
check "edit: Enter opens the form on web-3" wait_screen "edit mapping web-3"
keys Tab Tab C-u; type_text "8092"; keys Enter
check "edit: change accepted" wait_screen "Changed web-3"
keys Space
check "toggle: Space disables web-3" wait_for 5 line_has 4 "off"
keys Escape g c
check "duplicate: c opens the form as web-1-copy" wait_screen "web-1-copy"
keys Tab Tab Tab C-u; type_text "8081"; keys Enter
check "duplicate: added" wait_screen "Added web-1-copy"
keys / ; type_text "web-2"; keys Enter d
check "delete: asks first" wait_screen "Delete mapping web-2"
keys n
check "delete: n keeps it" wait_for 5 line_has 4 "web-2"
keys d y
check "delete: y deletes it" wait_screen "Deleted web-2"
keys w
check "save after edits" wait_screen "Saved m.ini"
check "edited port on disk, comment kept" file_has '^public_port *= *8092'
check "comment of web-3's owner kept" file_has '^owner *= *Zhang Min *; site engineer'
check "toggle on disk" sh -c "sed -n '/^\[web-3\]/,/^\[/p' '$pp_tmp/m.ini' | grep -Eq '^enabled *= *no'"
check "duplicate on disk" file_has '^\[web-1-copy\]'
check "delete on disk" sh -c "! grep -q '^\[web-2\]' '$pp_tmp/m.ini'"
check "file comments kept" file_has '^; --- web servers'

# Unsaved changes: q asks; c stays; d quits and leaves the file alone.
cp "$pp_tmp/m.ini" "$pp_tmp/before.ini"
keys Escape g Space
wait_screen "[modified]"
keys q
check "quit with changes asks" wait_screen "Unsaved changes"
keys c
check "c cancels the quit" wait_gone "Unsaved changes"
check "still running a second after c" stays_for 1 sh -c "! tmux -L $PP_SOCK capture-pane -p -t t | grep -q PP_EXIT="
keys C-c
check "^C asks too (raw mode: no signal, no lost edits)" wait_screen "Unsaved changes"
keys c
wait_gone "Unsaved changes"
keys q d
check "d discards and quits with 0" wait_for 5 exit_is 0
check "discarded: file unchanged" cmp -s "$pp_tmp/m.ini" "$pp_tmp/before.ini"

# Another editor changes the file: the header says so; saving offers a reload.
seed_copy
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "3 mappings"
keys g Space
wait_screen "[modified]"
"$PORTPILOT" -f "$pp_tmp/m.ini" add ext-1 public_port=9000 internal_ip=192.168.2.50 >/dev/null 2>&1
check "header notices the change on disk" wait_screen "changed on disk"
keys w
check "save refuses and offers reload" wait_screen "File changed on disk"
keys r
check "reload shows the other editor's mapping" wait_screen "ext-1"
check "reload drops the local change (web-1 not off)" \
	sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep ' web-1 ' | grep -vq ' off '"
check "reload leaves the table unmodified" screen_lacks "[modified]"

# Sensitive service open to all: the core's warning shows in the form.
keys a; type_text "ssh-1"; keys Tab Tab Tab; type_text "22"; keys Tab; type_text "192.168.2.20"
check "form warns about SSH open to everyone" wait_screen "SSH is reachable from any address"
keys Tab Tab Tab Tab Tab Tab +
check "expires: + sets tomorrow" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -q '^  expires *[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T'"
keys Escape
check "Esc cancels the form" wait_screen "4 mappings"

# The protocol picker: Space cycles tcp -> udp; the file says so.
seed_copy
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "3 mappings"
keys g Enter
wait_screen "edit mapping web-1"
keys Tab   # the form opens on the description: one Tab to the protocol
check "protocol field shows tcp" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -Eq '^  protocol +< tcp >'"
keys Space
check "Space picks udp" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -Eq '^  protocol +< udp >'"
keys Enter
check "the row shows udp" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep ' web-1 ' | grep -q ' udp '"
keys w
wait_screen "Saved m.ini"
check "saved file: web-1 has protocol = udp" \
	sh -c "sed -n '/^\[web-1\]/,/^\[/p' '$pp_tmp/m.ini' | grep -Eq '^protocol *= *udp'"
keys q
wait_for 5 exit_is 0

# A mapping whose expires time has passed shows as expired (no kernel needed).
seed_copy
cli set web-2 expires=2020-01-01T00:00
check "the CLI set a past expires" file_has '^expires *= *2020-01-01T00:00'
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "3 mappings"
check "state column: web-2 expired" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep ' web-2 ' | grep -q 'expired'"
check "state column: web-1 not expired" sh -c "! tmux -L $PP_SOCK capture-pane -p -t t | grep ' web-1 ' | grep -q 'expired'"
keys q
wait_for 5 exit_is 0
pp_done
