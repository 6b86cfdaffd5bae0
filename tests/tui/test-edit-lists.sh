#!/bin/sh
# Issue 14.13 in the edit form at 80x24: a port list and a per-mapping hairpin are typed in,
# checked as typed by the core's validator (a single internal_port for a two-port list is
# refused, naming the fix), saved, and listed as the CLI lists them.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

tui_new_form
check "80x24: the hairpin field is on the screen" screen_has "hairpin"
type_text "tls-1"; keys Tab Tab Tab
type_text "8081,8443"; keys Tab; type_text "192.168.2.104"; keys Tab; type_text "80"
check "a single internal_port for a two-port list: the core's message" \
	wait_screen "public_port lists 2 element(s) but internal_port 1"
keys Enter
check "not accepted" wait_screen "Not accepted: internal_port"
keys C-u; type_text "80,443"
check "a list as long: accepted as typed" wait_gone "element(s)"
# hairpin is the fourth key from the end (ipv6, internal_ip6, nat66 follow): from internal_port, Up
# wraps back to it through the name.
keys Up Up Up Up Up Up Up Up Up; type_text "maybe"
check "a bad hairpin value is named" wait_screen "'maybe' is not yes or no"
keys BSpace BSpace BSpace BSpace BSpace; type_text "no"
check "hairpin = no accepted" wait_gone "is not yes or no"
keys Enter
check "added" wait_screen "Added tls-1"
check "the row shows both public ports" screen_has "8081,8443"
keys w
check "saved" wait_screen "Saved m.ini"
check "the file holds the list" file_has '^public_port *= *8081,8443$'
check "the file holds internal_port's list" file_has '^internal_port *= *80,443$'
check "the file holds hairpin = no" file_has '^hairpin *= *no$'
check "list --json: the mapping's hairpin is off, its ports both listed" \
	sh -c "'$PORTPILOT' -f '$pp_tmp/m.ini' list --json | jq -e '.mappings[] | select(.name==\"tls-1\") | .hairpin == false and .public_ports == \"8081,8443\" and .internal_ports == \"80,443\"' >/dev/null"
keys q
check "quits" wait_for 5 exit_is 0
pp_done
