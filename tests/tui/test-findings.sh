#!/bin/sh
# Findings counted once (issue 14 item 8): the file line's error and warning
# counts equal `portpilot check --json`'s, and a mapping's details list each
# of its findings once (parse findings are part of pp_table_check's too).
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

# Parse findings (unknown key, a line that is no key = value) and check
# findings (a bad port, an expired mapping: a warning) in one file.
cat >"$pp_tmp/m.ini" <<'INI'
[site]
name = findings
wan_interface = eth0
lan_interface = eth1
lan_subnet = 192.168.2.0/24

[web-1]
public_port = 8080
internal_ip = 192.168.2.101
internal_port = 80
colour = blue
this line has no equals

[web-2]
public_port = 99999
internal_ip = 192.168.2.102

[web-3]
public_port = 8091
internal_ip = 192.168.2.103
expires = 2020-01-01 00:00
INI
"$PORTPILOT" -f "$pp_tmp/m.ini" check --json >"$pp_tmp/check.json" 2>/dev/null
counts=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["errors"], d["warnings"])' "$pp_tmp/check.json")
nerr=${counts% *} nwarn=${counts#* }
check "check --json counts errors and warnings" [ "${nerr:-0}" -ge 3 ] && [ "${nwarn:-0}" -ge 1 ]
plural() { [ "$1" = 1 ] && echo "$1 $2" || echo "$1 ${2}s"; }
want="$(plural "$nerr" error) $(plural "$nwarn" warning)"

tui_start 100 30 C.UTF-8 -- -f m.ini tui --offline
check "TUI opens" wait_screen "3 mappings"
check "file line: the counts of check --json ($want)" wait_for 5 line_has 2 "3 mappings  $want"
# Details of web-1: its unknown key once, not once per pass.
keys g i
check "details of web-1 open" wait_screen "Findings"
check "details: the unknown key listed once" \
	[ "$(screen | grep -c "unknown key 'colour'")" = 1 ]
keys q
wait_screen "3 mappings"
keys q
check "quits" wait_for 5 exit_is 0
pp_done
