#!/bin/sh
# Issue 15.6 in the edit form at 80x24: the IPv6 keys (internal_ip6, ipv6) are fields of the form
# and an IPv6 CIDR goes into allow, each checked as typed with the core's messages (as `portpilot
# check` says them), saved, and listed as the CLI lists them.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

tui_new_form
check "80x24: the internal_ip6 field is on the screen" screen_has "internal_ip6"
check "80x24: the ipv6 field is on the screen" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -Eq '^  ipv6( |$)'"
check "80x24: the hints line is still the last" sh -c "tmux -L $PP_SOCK capture-pane -p -t t | sed -n 24p | grep -q 'Tab/Up/Down'"
type_text "cam-6"; keys Tab Tab Tab
type_text "8085"; keys Tab; type_text "192.168.2.103"; keys Tab Tab
type_text "192.168.2.0/24,2001:db8:100::/129"
check "a bad IPv6 CIDR in allow: the core's message" wait_screen "the prefix length must be 0 to 128"
keys BSpace BSpace BSpace; type_text "64"
check "a mixed allow list is accepted" wait_gone "prefix length"
# internal_ip6 is the last field but nat66: Up from the name wraps to them.
keys Up Up Up Up Up Up Up Up; type_text "2001:db8::zz"
check "a bad internal_ip6 is named, as check names it" wait_screen "'2001:db8::zz' is not an IPv6 address"
keys Enter
check "not accepted" wait_screen "Not accepted: internal_ip6"
keys C-u; type_text "2001:db8:1::1:103"
check "a global address is accepted" wait_gone "is not an IPv6 address"
keys Up; type_text "maybe"
check "a bad ipv6 value is named" wait_screen "'maybe' is not yes, no or only"
keys BSpace BSpace BSpace BSpace BSpace; type_text "yes"
check "ipv6 = yes accepted" wait_gone "is not yes, no or only"
keys Enter
check "added" wait_screen "Added cam-6"
check "the row is marked +v6" screen_has "192.168.2.103:8085 +v6"
keys w
check "saved" wait_screen "Saved m.ini"
check "the file holds internal_ip6" file_has '^internal_ip6 *= *2001:db8:1::1:103$'
check "the file holds ipv6 = yes" file_has '^ipv6 *= *yes$'
check "the file holds the mixed allow list" file_has '^allow *= *192.168.2.0/24,2001:db8:100::/64$'
check "list --json: the mapping's IPv6 side as the CLI lists it" \
	sh -c "'$PORTPILOT' -f '$pp_tmp/m.ini' list --json | jq -e '.mappings[] | select(.name==\"cam-6\") | .ipv6 == \"yes\" and .internal_ip6 == \"2001:db8:1::1:103\"' >/dev/null"
keys q
check "quits" wait_for 5 exit_is 0
pp_done
