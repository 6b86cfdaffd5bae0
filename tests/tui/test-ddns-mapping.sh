#!/bin/sh
# The editor names a [ddns NAME] mapping = that the table lacks as check does (core/table-ddns.c):
# at the conf's file:line with the section, not as a line of the table.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed_copy
cat >"$pp_tmp/pp.conf" <<'EOF'
[ddns web]
provider   = nsupdate
server     = 198.51.100.53
hostname   = web.example.net
credentials_file = /nonexistent/key
mapping    = web-1
EOF
tui_start 120 30 C.UTF-8 -- -f m.ini -c pp.conf tui --offline
check "the editor opens on the table" wait_screen "m.ini  3 mappings"
check "  a mapping = naming a mapping of it: no error" screen_lacks "error"
sed -i 's/^mapping .*/mapping    = web-9/' "$pp_tmp/pp.conf"
tui_start 120 30 C.UTF-8 -- -f m.ini -c pp.conf tui --offline
check "a mapping = the table lacks: one warning, no error" wait_screen "3 mappings  0 errors 1 warning"
check "  shown at the conf's file:line with its section and the fix" \
	wait_screen "pp.conf:6: [ddns web] mapping warning: m.ini has no [web-9]: no AAAA record would be published for it; write"
pp_done
