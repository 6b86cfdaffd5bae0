#!/bin/sh
# The DDNS panel with no [ddns NAME] section points at the shipped example portpilot.conf.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed_copy
# The shipped example as the config: it loads and configures nothing.
cp "$PP_TOP/examples/portpilot.conf" "$pp_tmp/portpilot.conf"
tui_start 100 30 C.UTF-8 -- -f m.ini -c "$pp_tmp/portpilot.conf" tui --offline
wait_screen "web-1" || { not_ok "TUI starts"; pp_done; }
keys D
check "D: no section, and nothing is published" wait_screen "No [ddns NAME] section: nothing is published."
check "D: points at the example shipped beside the binary" wait_screen "$(cd "$PP_TOP" && pwd -P)/examples/portpilot.conf"
check "D: says where to copy a section" wait_screen "Copy a section into $pp_tmp/portpilot.conf"
keys q
pp_done
