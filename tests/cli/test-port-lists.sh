#!/bin/sh
# Issue 14.13 from the CLI: add/set take port lists and hairpin, say what changed, refuse bad
# shapes with the field and the fix (nothing saved), and list/export/--json show the lists.
. "$(dirname "$0")/../lib.sh"
T=$pp_tmp/m.ini
cp "$PP_TOP/examples/seed-site.ini" "$T"
pp() { "$PORTPILOT" -f "$T" "$@"; }
check "add: a two-port mapping with hairpin off" sh -c "'$PORTPILOT' -f '$T' add tls-1 public_port=8081,8443 internal_ip=192.168.2.104 internal_port=80,443 hairpin=no > '$pp_tmp/out'"
check "add says what it wrote" grep -qF "tls-1: added with public_port 8081,8443, internal_ip 192.168.2.104, internal_port 80,443, hairpin no" "$pp_tmp/out"
check "check: clean" sh -c "'$PORTPILOT' -f '$T' check >/dev/null"
check "list: both ports, both internal ports" sh -c "'$PORTPILOT' -f '$T' list | grep '^tls-1 ' | grep -q '8081,8443 *192.168.2.104:80,443 '"
check "list --json: the lists and the hairpin in force" \
	sh -c "'$PORTPILOT' -f '$T' list --json | jq -e '.mappings[] | select(.name==\"tls-1\") | .public_ports == \"8081,8443\" and .internal_ports == \"80,443\" and .hairpin == false' >/dev/null"
check "list --json: a mapping without hairpin = has the site's" \
	sh -c "'$PORTPILOT' -f '$T' list --json | jq -e '[.mappings[] | select(.name==\"web-1\") | .hairpin] == [true]' >/dev/null"
check "export: the lists in the record" sh -c "'$PORTPILOT' -f '$T' export --json | jq -e '.mappings[] | select(.mapping==\"tls-1\") | .public_port == \"8081,8443\" and .internal_port == \"80,443\"' >/dev/null"
cp "$T" "$pp_tmp/before.ini"
# A single internal_port for the list: refused, named, nothing saved.
pp set tls-1 internal_port=80 >"$pp_tmp/out" 2>"$pp_tmp/err"; rc=$?
check "set internal_port=80 on a list: exit 1" [ "$rc" = 1 ]
# The error names the file and internal_port's line, as check does.
names_line() { grep -qE "^$T:[0-9]+: error: \[tls-1\] internal_port: public_port lists 2 element\(s\) but internal_port 1$" "$pp_tmp/err"; }
check "... names file:line, the mapping, the field and the fix" names_line
check "... the fix says what to write" grep -qF "fix: leave internal_port out to use the same ports (8081,8443), or list 2 internal ports" "$pp_tmp/err"
check "... and the file is unchanged" cmp -s "$T" "$pp_tmp/before.ini"
pp set tls-1 public_port=8081,8081 >"$pp_tmp/out" 2>"$pp_tmp/err"; rc=$?
check "set public_port with a port twice: refused (exit 2), the overlap named" \
	sh -c "[ $rc = 2 ] && grep -qF \"'8081' and '8081' overlap\" '$pp_tmp/err'"
pp set tls-1 hairpin=perhaps >"$pp_tmp/out" 2>"$pp_tmp/err"; rc=$?
check "set hairpin=perhaps: refused with the values it takes" \
	sh -c "[ $rc = 2 ] && grep -qF \"hairpin: 'perhaps' is not yes or no\" '$pp_tmp/err'"
check "... nothing saved" cmp -s "$T" "$pp_tmp/before.ini"
check "set hairpin= removes it: the site's default again" sh -c "'$PORTPILOT' -f '$T' set tls-1 hairpin= >/dev/null && ! grep -q '^hairpin *= *no' '$T'"
# Another mapping's port inside a list is a conflict.
check "add a mapping on 8443: the conflict is an error, nothing saved" \
	sh -c "! '$PORTPILOT' -f '$T' add other public_port=8443 internal_ip=192.168.2.105 2>'$pp_tmp/err' && grep -qF 'tcp port 8443 is also claimed by [tls-1]' '$pp_tmp/err' && ! grep -q '^\[other\]' '$T'"
check "add --help lists hairpin and the list form" sh -c "'$PORTPILOT' add --help | grep -q 'public_port=80,443 maps both' && '$PORTPILOT' add --help | grep -q 'hairpin'"
pp_done
