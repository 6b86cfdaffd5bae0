#!/bin/sh
# The health-check keys against each other, reported by `portpilot check` with file:line, field
# and fix (issue 13 item 5), not only by `portpilot monitor` at start: the same rules, the same
# words. Tables that fit give no finding.
. "$(dirname "$0")/../lib.sh"
T=$pp_tmp/t.ini
cat >"$T" <<'EOF'
[site]
wan_interface = eth0
lan_interface = eth1
lan_subnet    = 192.168.2.0/24

[game]
protocol    = udp
public_port = 27015
internal_ip = 192.168.2.50
check       = udp

[portal]
public_port   = 8443
internal_ip   = 192.168.2.51
internal_port = 443
check         = tls
check_expect  = hello

[cam]
public_port   = 8554
internal_ip   = 192.168.2.52
internal_port = 554
check_expect  = 200 OPTIONS ok

[ssh]
public_port   = 2222
internal_ip   = 192.168.2.53
internal_port = 22
allow         = 198.51.100.0/24
check_path    = /health

[voice]
protocol      = udp
public_port   = 5061
internal_ip   = 192.168.2.54
internal_port = 5061
check         = http

[db]
public_port   = 5432
internal_ip   = 192.168.2.55
internal_port = 5432
allow         = 198.51.100.0/24
check         = udp
check_send    = ping
EOF
"$PORTPILOT" -f "$T" check >"$pp_tmp/out" 2>&1
rc=$?
"$PORTPILOT" -f "$T" check --json >"$pp_tmp/out.json" 2>/dev/null
has() { grep -qF -- "$1" "$pp_tmp/out"; }
check "misfits are errors: exit 1" [ $rc = 1 ]
check "check = udp without check_send: file:line, field, fix" has "$T:10: error: [game] check: check = udp needs check_send"
check "... and what to do" has "fix: add check_send, or use check = none"
check "check_expect on a tls check: its own line" has "$T:17: error: [portal] check_expect: a tls or none check has no answer to compare"
check "text in an rtsp check_expect (the default check for 554)" has "$T:23: error: [cam] check_expect: rtsp and sip checks compare status codes only"
check "check_path on a tcp check" has "$T:30: error: [ssh] check_path: check_path is for http, https and rtsp checks"
check "an http check on a udp mapping" has "$T:37: error: [voice] check: this check needs TCP but the mapping is udp"
check "check = udp on a tcp mapping" has "$T:44: error: [db] check: check = udp on a tcp mapping"
check "--json: the same findings, with line and field" \
	jqe '[.findings[] | select(.field == "check" and .mapping == "game" and .line == 10)] | length == 1' "$pp_tmp/out.json"
check "every misfit counted once" has "6 mappings, 6 errors"

# monitor refuses the same table in the same words (one rule set).
"$PORTPILOT" -f "$T" -c "$pp_tmp/none.conf" --state-dir "$pp_tmp/s" monitor --once >"$pp_tmp/mon.out" 2>&1
mrc=$?
check "monitor refuses it: exit 2" [ $mrc = 2 ]
check "monitor names the first misfit as check does" grep -qF "$T:10: [game] check: check = udp needs check_send" "$pp_tmp/mon.out"

# Check keys that fit: no finding.
cat >"$T" <<'EOF'
[site]
wan_interface = eth0
lan_interface = eth1
lan_subnet    = 192.168.2.0/24

[game]
protocol     = udp
public_port  = 27015
internal_ip  = 192.168.2.50
check_send   = \xff\xff\xff\xffTSource Engine Query\x00
check_expect = I

[cam]
public_port   = 8554
internal_ip   = 192.168.2.52
internal_port = 554
check_expect  = 200,2xx
check_path    = /stream1

[voip]
protocol      = both
public_port   = 5060
internal_ip   = 192.168.2.56
check_expect  = 200

[smtp]
public_port   = 2525
internal_ip   = 192.168.2.57
internal_port = 25
allow         = 198.51.100.0/24
check_expect  = 220

[quiet]
protocol    = udp
public_port = 40000
internal_ip = 192.168.2.58
EOF
"$PORTPILOT" -f "$T" check >"$pp_tmp/out" 2>&1
rc=$?
check "keys that fit: exit 0" [ $rc = 0 ]
check "keys that fit: no check-key finding" sh -c "! grep -q 'check' '$pp_tmp/out'"
[ $pp_failed = 0 ] || sed 's/^/#   /' "$pp_tmp/out"
pp_done
