#!/bin/sh
# Issue 14 item 15: add/set/del/enable/disable say in one line what changed (an object with
# --json); new key lines line up with the file's '=' column; an empty table is warned about;
# list spells "from anywhere" one way.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
T=$pp_tmp/m.ini
cp "$PP_TOP/examples/seed-site.ini" "$T"
out=$pp_tmp/out

$P -f "$T" set web-1 internal_ip=192.168.2.111 >"$out" 2>&1
check "set: one line naming mapping, key, old and new value" sh -c "[ \"\$(cat $out)\" = 'web-1: internal_ip 192.168.2.101 -> 192.168.2.111' ]"
$P -f "$T" set web-1 owner= >"$out" 2>&1
check "set KEY=: says the key was removed" sh -c "[ \"\$(cat $out)\" = 'web-1: owner Li Wei -> (removed)' ]"
$P -f "$T" set web-1 protocol=tcp >"$out" 2>&1
check "set to the same value: says nothing changed" grep -q '^web-1: nothing changed' "$out"
$P -f "$T" disable web-2 >"$out" 2>&1
check "disable: says enabled yes -> no" sh -c "[ \"\$(cat $out)\" = 'web-2: enabled yes -> no' ]"
$P -f "$T" enable web-2 >"$out" 2>&1
check "enable: says enabled no -> yes" sh -c "[ \"\$(cat $out)\" = 'web-2: enabled no -> yes' ]"
$P -f "$T" add cam-1 protocol=udp public_port=9000 internal_ip=192.168.2.20 >"$out" 2>&1
check "add: one line with the keys it wrote" sh -c "[ \"\$(cat $out)\" = 'cam-1: added with protocol udp, public_port 9000, internal_ip 192.168.2.20' ]"
check "add: new lines use the file's '=' column" sh -c "grep -A3 '^\[cam-1\]' $T | tail -3 | tr '\n' '|' | grep -qx 'protocol      = udp|public_port   = 9000|internal_ip   = 192.168.2.20|'"
$P -f "$T" set web-3 expires=2030-01-01 >/dev/null 2>&1
check "set: a new key in a section lines up with the section" grep -q '^expires       = 2030-01-01$' "$T"
$P --json -f "$T" set web-3 owner=Chen >"$out" 2>/dev/null
check "set --json: one object with mapping and old/new" sh -c "jq -e '.mapping==\"web-3\" and .command==\"set\" and .changes==[{\"key\":\"owner\",\"old\":\"Zhang Min\",\"new\":\"Chen\"}]' $out >/dev/null"
$P -f "$T" del cam-1 >"$out" 2>&1
check "del: says deleted" sh -c "[ \"\$(cat $out)\" = 'cam-1: deleted' ]"
$P --json -f "$T" del web-3 >"$out" 2>/dev/null
check "del --json: an object" sh -c "jq -e '.command==\"del\" and .mapping==\"web-3\"' $out >/dev/null"

# A file written with one blank around '=': new lines follow it.
printf '[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\n' >"$pp_tmp/n.ini"
$P -f "$pp_tmp/n.ini" add a public_port=80 internal_ip=192.168.2.5 >/dev/null 2>&1
check "add: a file written 'key = value' gets 'key = value'" sh -c "grep -A2 '^\[a\]' $pp_tmp/n.ini | tail -2 | tr '\n' '|' | grep -qx 'public_port = 80|internal_ip = 192.168.2.5|'"

# Empty table
printf '[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\n' >"$pp_tmp/e.ini"
$P -f "$pp_tmp/e.ini" check >"$out" 2>&1
check "empty table: check does not pass silently (exit 1)" [ $? = 1 ]
check "empty table: the warning says so and how to add one" sh -c "grep -q 'warning: the table has no mappings; apply would forward nothing' $out && grep -q 'fix: add one: portpilot add NAME' $out"

# One spelling for "from anywhere"
cp "$PP_TOP/examples/seed-site.ini" "$T"
$P -f "$T" set web-2 allow=0.0.0.0/0 >/dev/null 2>&1
check "list: allow = 0.0.0.0/0 and no allow both read 'any'" sh -c "$P -f $T list | awk '/^web-[12] /{print \$6}' | tr '\n' ' ' | grep -qx 'any any '"
check "list --json: allow_any for both" sh -c "[ \"\$($P -f $T list --json | jq -c '[.mappings[0,1].allow_any]')\" = '[true,true]' ]"
pp_done
