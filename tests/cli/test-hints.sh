#!/bin/sh
# Issue 14 item 4: an unreadable table says what is wrong, and suggests -f only when it was not
# given; an unknown key in add/set gets a did-you-mean; "KEY VALUE" without '=' names the mapping,
# the key and the right form.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
T=$pp_tmp/m.ini
cp "$PP_TOP/examples/seed-site.ini" "$T"
err=$pp_tmp/err

for c in check list export "set web-1 owner=x"; do
	$P -f "$pp_tmp/nope.ini" $c >/dev/null 2>"$err"
	check "missing -f file ($c): exit 2" [ $? = 2 ]
	check "missing -f file ($c): says not found" grep -q 'nope.ini: cannot read: not found' "$err"
	check "missing -f file ($c): no 'give the table with -f'" sh -c "! grep -q 'with -f FILE' $err"
done
check "missing -f file: offers init for that path" grep -q "portpilot -f $pp_tmp/nope.ini init" "$err"

mkdir "$pp_tmp/dir"
$P -f "$pp_tmp/dir" list >/dev/null 2>"$err"
check "directory: exit 2" [ $? = 2 ]
check "directory: says it is a directory and to name the file" grep -q 'dir: cannot read: it is a directory, not a table file; name the file itself' "$err"
check "directory: no -f hint" sh -c "! grep -q 'with -f FILE' $err"

if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	cp "$T" "$pp_tmp/ro.ini"
	chmod 600 "$pp_tmp/ro.ini"
	chmod 755 "$pp_tmp"
	setpriv --reuid=65534 --regid=65534 --clear-groups $P -f "$pp_tmp/ro.ini" list >/dev/null 2>"$err"
	check "permission: exit 2" [ $? = 2 ]
	check "permission: says permission denied: run as root" grep -q 'ro.ini: cannot read: permission denied; run as root' "$err"
	check "permission: no -f hint" sh -c "! grep -q 'with -f FILE' $err"
else
	ok "permission: skipped (needs root and setpriv) # SKIP"
fi

# The default path (no -f): here the -f hint is right. Only when this box has no table there.
if ! [ -e /etc/portpilot/mappings.ini ]; then
	$P list >/dev/null 2>"$err"
	check "default path missing: suggests init and -f" sh -c "grep -q 'mappings.ini: cannot read: not found; start a table with .portpilot init., or give the table with -f FILE' $err"
else
	ok "default path missing: skipped (/etc/portpilot/mappings.ini exists) # SKIP"
fi

cp "$T" "$pp_tmp/before"
$P -f "$T" add web-9 pubic_port=9000 internal_ip=192.168.2.9 >/dev/null 2>"$err"
check "add unknown key: exit 2" [ $? = 2 ]
check "add unknown key: did you mean public_port" grep -q "\[web-9\]: unknown key 'pubic_port'; did you mean 'public_port'?" "$err"
check "add unknown key: nothing saved" cmp -s "$T" "$pp_tmp/before"
$P -f "$T" set web-1 interal_ip=192.168.2.9 >/dev/null 2>"$err"
check "set unknown key: did you mean internal_ip" grep -q "\[web-1\]: unknown key 'interal_ip'; did you mean 'internal_ip'?" "$err"
$P -f "$T" set site wan_interfce=eth0 >/dev/null 2>"$err"
check "set site unknown key: did you mean wan_interface" grep -q "\[site\]: unknown key 'wan_interfce'; did you mean 'wan_interface'?" "$err"
$P -f "$T" set web-1 colour=red >/dev/null 2>"$err"
check "set far-off key: the list of keys, no guess" sh -c "grep -q \"unknown key 'colour'; mapping keys are: description, protocol\" $err && ! grep -q 'did you mean' $err"

$P -f "$T" set web-1 internal_port 80 >/dev/null 2>"$err"
check "no '=': exit 2" [ $? = 2 ]
check "no '=': names mapping and key, shows the form" grep -q "\[web-1\] internal_port: no '=' between key and value; write internal_port=80 (portpilot set web-1 internal_port=80)" "$err"
$P -f "$T" add web-9 public_port 9000 >/dev/null 2>"$err"
check "no '=' in add: names the new mapping" grep -q "\[web-9\] public_port: no '=' between key and value; write public_port=9000" "$err"
$P -f "$T" set web-1 bogus >/dev/null 2>"$err"
check "not KEY=VALUE: names the mapping" grep -q "\[web-1\]: 'bogus' is not KEY=VALUE" "$err"
check "no '=': nothing saved" cmp -s "$T" "$pp_tmp/before"
pp_done
