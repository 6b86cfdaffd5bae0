#!/bin/sh
# Issue 14 item 12: temporary access from the CLI: expires=+4h (+90s, +30m, +2d) and
# --for 4h on add/set/enable, as firewall-cmd --timeout. The file holds the absolute local
# time it means; a bad duration names the field.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
T=$pp_tmp/m.ini
cp "$PP_TOP/examples/seed-site.ini" "$T"
export TZ=UTC
# expires_of NAME: the epoch of the mapping's expires as written in the file
expires_of() { date -d "$(sed -n "/^\[$1\]/,/^\[/s/^expires *= *\([^ ;]*\).*/\1/p" "$T" | tr T ' ')" +%s; }
# near A B SLACK: |A - B| <= SLACK
near() { d=$(($1 - $2)); [ ${d#-} -le $3 ]; }

t0=$(date +%s)
$P -f "$T" set web-1 expires=+4h >"$pp_tmp/out" 2>&1
check "set expires=+4h: exit 0" [ $? = 0 ]
check "set expires=+4h: an absolute time in the file" grep -Eq '^expires *= 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}$' "$T"
check "set expires=+4h: 4 hours from now (rounded up to the minute)" near "$(expires_of web-1)" $((t0 + 14400 + 30)) 95
check "set expires=+4h: the report shows the absolute time" grep -Eq '^web-1: expires \(unset\) -> 20[0-9-]{8}T[0-9:]{5}$' "$pp_tmp/out"
t0=$(date +%s)
$P -f "$T" set web-1 expires=+90s >/dev/null 2>&1
check "set expires=+90s: to the second" sh -c "grep -Eq '^expires *= [0-9-]{10}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?\$' $T"
check "set expires=+90s: 90 s from now" near "$(expires_of web-1)" $((t0 + 90)) 5
$P -f "$T" set web-2 expires=+30m >/dev/null 2>&1
check "set expires=+30m" near "$(expires_of web-2)" $((t0 + 1800 + 30)) 95
$P -f "$T" set web-3 expires=+2d >/dev/null 2>&1
check "set expires=+2d" near "$(expires_of web-3)" $((t0 + 172800 + 30)) 95
$P -f "$T" set web-3 expires=+1h30m >/dev/null 2>&1
check "set expires=+1h30m: a sum" near "$(expires_of web-3)" $((t0 + 5400 + 30)) 95

$P -f "$T" set web-2 --for 4h >/dev/null 2>&1
check "set --for 4h" near "$(expires_of web-2)" $((t0 + 14400 + 30)) 95
$P -f "$T" add tmp-1 public_port=9100 internal_ip=192.168.2.30 --for 2d >/dev/null 2>&1
check "add --for 2d: exit 0 and expires written" near "$(expires_of tmp-1)" $((t0 + 172800 + 30)) 95
$P -f "$T" disable tmp-1 >/dev/null 2>&1
$P -f "$T" enable tmp-1 --for 30m >"$pp_tmp/out" 2>&1
check "enable --for 30m: enabled and expires in 30 min" sh -c "grep -q 'enabled no -> yes' $pp_tmp/out && $P -f $T list | grep -q '^tmp-1 *enabled'"
check "enable --for 30m: the expiry" near "$(expires_of tmp-1)" $((t0 + 1800 + 30)) 95
$P -f "$T" enable tmp-1 --for=1h >/dev/null 2>&1
check "enable --for=1h" near "$(expires_of tmp-1)" $((t0 + 3600 + 30)) 95
check "the table stays clean" sh -c "$P -f $T check >/dev/null"

cp "$T" "$pp_tmp/before"
for bad in +4x + +0h +-3h 4 +99999d; do
	$P -f "$T" set web-1 "expires=$bad" >/dev/null 2>"$pp_tmp/err"
	rc=$?
	check "expires=$bad: exit 2 naming the mapping and the field" sh -c "[ $rc = 2 ] && grep -q '\[web-1\] expires: .* is not a time from now; write e.g. expires=+4h' $pp_tmp/err"
done
$P -f "$T" set web-1 --for soon >/dev/null 2>"$pp_tmp/err"
rc=$?
check "--for soon: exit 2 naming the field" sh -c "[ $rc = 2 ] && grep -q 'expires: .* is not a time from now' $pp_tmp/err"
check "bad durations saved nothing" cmp -s "$T" "$pp_tmp/before"
$P -f "$T" disable web-1 --for 4h >/dev/null 2>"$pp_tmp/err"
rc=$?
check "disable --for: refused, exit 2" sh -c "[ $rc = 2 ] && grep -q -- '--for is for add, set and enable' $pp_tmp/err"
$P -f "$T" set web-1 expires=2030-06-01T12:00 >/dev/null 2>&1
check "an absolute time is still written as given" grep -q '^expires *= 2030-06-01T12:00$' "$T"
pp_done
