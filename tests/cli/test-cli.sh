#!/bin/sh
# The table commands as a user meets them: exit codes, messages, JSON, comment-preserving edits.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
ex=$PP_TOP/examples
T=$pp_tmp/mappings.ini
cp "$ex/seed-site.ini" "$T"

rc() { "$@" >"$pp_tmp/out" 2>"$pp_tmp/err"; echo $?; }

check "check: seed example exits 0" [ "$(rc $P -f $ex/seed-site.ini check)" = 0 ]
for f in "$ex"/*.ini; do
	check "check: $(basename $f) is clean" [ "$(rc $P -f $f check)" = 0 ]
done
check "check: bad table exits 1" [ "$(rc $P -f $PP_TOP/tests/cli/bad-site.ini check)" = 1 ]
out=$pp_tmp/out
check "check: conflict named with file:line" grep -q "bad-site.ini:11: error: \[web-2\] public_port: tcp port 8080 is also claimed by \[web-1\]" $out
check "check: bad port named with file:line" grep -q "bad-site.ini:15: error: \[cam\] public_port: '70000' is not a port" $out
check "check: open SSH warned with the fix" sh -c "grep -q 'bad-site.ini:18: warning: \[ssh-admin\] allow: SSH is reachable from any address' $out && grep -q 'fix: set allow' $out"
check "check: missing file exits 2 naming it" sh -c "$P -f $pp_tmp/nope.ini check >/dev/null 2>$pp_tmp/e; [ \$? = 2 ] && grep -q 'nope.ini: cannot read' $pp_tmp/e"
# libcurl (and its 32 libraries) is loaded by the first HTTP call, not at every start (core/http.c).
if command -v ldd >/dev/null 2>&1; then
	check "start: portpilot does not link libcurl (loaded on first use)" sh -c "! ldd $P | grep -q libcurl"
fi
check "usage: unknown command exits 2" [ "$(rc $P bogus)" = 2 ]
check "usage: unknown option exits 2" [ "$(rc $P --bogus check)" = 2 ]
check "usage: no command and no terminal exits 2" [ "$(rc $P -f $T </dev/null)" = 2 ]
check "usage: -h before the command is portpilot's help" sh -c "$P -f $T -h list | head -1 | grep -q '^usage: portpilot \\[-f TABLE\\]' && $P -h list | grep -q '^commands:'"
check "usage: -f after the command is the command's error, named" sh -c "[ \$($P list -f $T 2>$pp_tmp/e; echo \$?) = 2 ] && grep -qx 'portpilot list: unknown option -f; a global option goes before the command: portpilot -f TABLE list (portpilot list --help)' $pp_tmp/e"
for c in check list export add set del enable disable; do
	check "help: $c --help lists --json (it has JSON output)" sh -c "$P $c --help | grep -q '^  --json '"
done
for c in check list export add set del enable disable; do
	check "help: $c --help exits 0 with usage" sh -c "$P $c --help | grep -q '^usage: portpilot'"
done

# JSON parsed back
$P -f $PP_TOP/tests/cli/bad-site.ini check --json >$pp_tmp/j.json
check "json: check output parses, 2 errors 1 warning" \
	sh -c "[ \"\$(jq -r '[.errors,.warnings]|@csv' $pp_tmp/j.json)\" = '2,1' ]"
check "json: finding carries line, mapping and field" \
	sh -c "jq -e '.findings[] | select(.line==15 and .mapping==\"cam\" and .field==\"public_port\" and .severity==\"error\")' $pp_tmp/j.json >/dev/null"
$P -f $T list --json >$pp_tmp/l.json
check "json: list gives the seed's three mappings" \
	sh -c "[ \"\$(jq -r '[.mappings[] | \"\(.name)=\(.internal_ip):\(.public_port_first)\"] | join(\" \")' $pp_tmp/l.json)\" = 'web-1=192.168.2.101:8080 web-2=192.168.2.102:8090 web-3=192.168.2.103:8091' ]"
$P -f $T export --format json >$pp_tmp/x.json
check "json: export record has the documentation fields" \
	sh -c "jq -e '.mappings[1] | .service==\"Video platform web console\" and .public_port==\"8090\" and .internal_ip==\"192.168.2.102\" and .internal_port==\"80\" and .protocol==\"tcp\" and .owner==\"Li Wei\" and (.purpose|length>0) and (.public_ip|length>0)' $pp_tmp/x.json >/dev/null"
check "export: csv has a header and one row per mapping" sh -c "[ \$($P -f $T export --format csv | wc -l) = 4 ] && $P -f $T export --format csv | head -1 | grep -q '\"Service\",\"Mapping\",\"Public IP\"'"
check "export: md is a table" sh -c "$P -f $T export --format md | grep -q '^| Project portal | .* | 8080 | 192.168.2.101 | 80 | tcp |'"
check "export: -o writes a file" sh -c "$P -f $T export --format md -o $pp_tmp/doc.md && grep -q 'Acceptance test page' $pp_tmp/doc.md"
check "export: unknown format exits 2" [ "$(rc $P -f $T export --format xml)" = 2 ]

# Editing keeps every comment byte for byte except the changed value
check "set: exits 0" [ "$(rc $P -f $T set web-2 public_port=8092)" = 0 ]
sed 's/^public_port   = 8090$/public_port   = 8092/' "$ex/seed-site.ini" >$pp_tmp/want
check "set: only the value changed, byte for byte" cmp -s "$T" $pp_tmp/want
check "set: previous version kept as .bak" cmp -s "$T.bak" "$ex/seed-site.ini"
check "set: a value with an inline comment keeps the comment" sh -c "$P -f $T set web-3 owner='Wang Fang' && grep -q '^owner         = Wang Fang     ; site engineer$' $T"
cp "$T" $pp_tmp/before
check "set: bad value exits 2, file untouched" sh -c "[ \$($P -f $T set web-2 public_port=99999 2>$pp_tmp/e; echo \$?) = 2 ] && cmp -s $T $pp_tmp/before && grep -q 'not a port' $pp_tmp/e"
check "set: a conflict is refused with exit 1, file untouched" sh -c "[ \$($P -f $T set web-3 public_port=8080 2>$pp_tmp/e; echo \$?) = 1 ] && cmp -s $T $pp_tmp/before && grep -q 'nothing was saved' $pp_tmp/e"
check "set: unknown mapping exits 2" [ "$(rc $P -f $T set nope owner=x)" = 2 ]
check "set: unknown key exits 2" [ "$(rc $P -f $T set web-1 colour=red)" = 2 ]
check "add: new mapping appended" sh -c "$P -f $T add cam-1 protocol=udp public_port=9000 internal_ip=192.168.2.20 owner=Chen && $P -f $T list | grep -q '^cam-1 .*udp *9000 *192.168.2.20:9000'"
check "add: sensitive service warns but saves" sh -c "$P -f $T add ssh-1 public_port=2201 internal_ip=192.168.2.9 internal_port=22 2>$pp_tmp/e && grep -q 'SSH is reachable' $pp_tmp/e && grep -q '^\[ssh-1\]' $T"
check "add: existing name exits 2" [ "$(rc $P -f $T add web-1 public_port=1)" = 2 ]
check "add: missing required field exits 1, nothing saved" sh -c "cp $T $pp_tmp/b2; [ \$($P -f $T add half public_port=1234 2>/dev/null; echo \$?) = 1 ] && cmp -s $T $pp_tmp/b2"
check "disable: sets enabled = no in place" sh -c "$P -f $T disable web-1 && grep -A8 '^\[web-1\]' $T | grep -q '^enabled       = no$' && $P -f $T list | grep -q '^web-1 *disabled'"
check "enable: back to yes" sh -c "$P -f $T enable web-1 && grep -A8 '^\[web-1\]' $T | grep -q '^enabled       = yes$'"
check "del: removes the section only" sh -c "$P -f $T del ssh-1 && ! grep -q 'ssh-1' $T && grep -q '^; --- web servers' $T"
check "del: the table is clean afterwards" [ "$(rc $P -f $T check)" = 0 ]
check "set KEY=: removes the key line" sh -c "$P -f $T set web-1 allow= && ! grep -A9 '^\[web-1\]' $T | grep -q '^allow'"

# A second editor holding the lock: the save waits, then refuses; nothing lost
# The holder execs into sleep, so its PID owns the lock and killing it frees the lock.
(exec 9>"$T.lock"; flock 9; exec sleep 30) &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_for 5 sh -c "! flock -n '$T.lock' true"
cp "$T" $pp_tmp/b3
check "lock: a held lock refuses the save with exit 1" sh -c "[ \$($P -f $T set web-1 owner=x 2>$pp_tmp/e; echo \$?) = 1 ] && grep -q 'another editor holds the lock' $pp_tmp/e && cmp -s $T $pp_tmp/b3"
kill $holder; wait $holder 2>/dev/null
check "lock: released lock lets the save through" [ "$(rc $P -f $T set web-1 owner=x)" = 0 ]
# Hostile input (issue 11). Each case is bounded: timeout for what could hang, ulimit -v for what could grow.
# (An ASan build reserves terabytes of address space: it gets the time bound only.)
lim='ulimit -v 1000000'
grep -qa __asan_init "$P" && lim=:
printf '#!/bin/sh\n%s\nexec timeout 20 "$@"\n' "$lim" >"$pp_tmp/bounded"; chmod +x "$pp_tmp/bounded"
bounded=$pp_tmp/bounded
mkfifo "$pp_tmp/fifo.ini"
check "input: -f FIFO check is refused at once (exit 2, names a FIFO)" sh -c "[ \$($bounded $P -f $pp_tmp/fifo.ini check 2>$pp_tmp/e >/dev/null; echo \$?) = 2 ] && grep -q 'fifo.ini: cannot read: it is a FIFO' $pp_tmp/e"
check "input: -f FIFO set is refused at once" sh -c "[ \$($bounded $P -f $pp_tmp/fifo.ini set web-1 owner=x 2>$pp_tmp/e >/dev/null; echo \$?) = 2 ] && grep -q 'not a regular file' $pp_tmp/e"
check "input: -f /dev/zero check is refused, no unbounded read" sh -c "[ \$($bounded $P -f /dev/zero check 2>$pp_tmp/e >/dev/null; echo \$?) = 2 ] && grep -q 'character device, not a regular file' $pp_tmp/e"
ln -s /dev/zero "$pp_tmp/zero.ini"
check "input: a link to /dev/zero is judged by what is read" sh -c "[ \$($bounded $P -f $pp_tmp/zero.ini check 2>$pp_tmp/e >/dev/null; echo \$?) = 2 ] && grep -q 'character device' $pp_tmp/e"
check "input: -c /dev/zero ddns status is refused, no unbounded read" sh -c "$bounded $P -c /dev/zero --state-dir $pp_tmp/st ddns status >/dev/null 2>$pp_tmp/e; grep -q '/dev/zero: cannot read: it is a character device' $pp_tmp/e"
truncate -s 70M "$pp_tmp/huge.ini"
check "input: a 70 MB table is refused with the cap named" sh -c "[ \$($bounded $P -f $pp_tmp/huge.ini check 2>$pp_tmp/e >/dev/null; echo \$?) = 2 ] && grep -q 'larger than 64 MiB' $pp_tmp/e"
truncate -s 2M "$pp_tmp/huge.conf"
check "input: a 2 MB portpilot.conf is refused with the cap named" sh -c "$bounded $P -c $pp_tmp/huge.conf --state-dir $pp_tmp/st ddns status >/dev/null 2>$pp_tmp/e; grep -q 'larger than 1 MiB' $pp_tmp/e"

# Interface names go into iptables rules: validated by check and set, and apply refuses them
I=$pp_tmp/iface.ini
for v in '!eth0' '"eth0 -m comment --comment x"' '"eth0 -j ACCEPT"' abcdefghijklmnopqrstuvwxyz0123456789 'eth+'; do
	sed "s/^wan_interface .*/wan_interface = $v/" "$ex/seed-site.ini" >"$I"
	line=$(grep -n '^wan_interface' "$I" | cut -d: -f1)
	check "iface: check finds wan_interface = $v at its line" sh -c "[ \$($P -f $I check >$pp_tmp/o 2>&1; echo \$?) = 1 ] && grep -q \"iface.ini:$line: error: \[site\] wan_interface: .* is not an interface name\" $pp_tmp/o && grep -q 'fix: write the name of the one internet-facing interface' $pp_tmp/o"
	check "iface: apply refuses wan_interface = $v" sh -c "[ \$($bounded $P -f $I --state-dir $pp_tmp/st apply --dry-run >$pp_tmp/o 2>&1; echo \$?) = 1 ] && grep -q 'nothing applied' $pp_tmp/o"
done
cp "$ex/seed-site.ini" "$I"
check "iface: set refuses lan_interface=eth1 -j ACCEPT, file untouched" sh -c "[ \$($P -f $I set site 'lan_interface=eth1 -j ACCEPT' 2>$pp_tmp/e; echo \$?) = 2 ] && cmp -s $I $ex/seed-site.ini && grep -q 'is not an interface name' $pp_tmp/e"

# Symlinks: a lock link is not followed; a linked table is edited in its target; no chmod through a link
L=$pp_tmp/ln
mkdir -p "$L/etc" "$L/git"
cp "$ex/seed-site.ini" "$L/git/mappings.ini"
echo precious >"$L/victim"
ln -s "$L/victim" "$L/git/mappings.ini.lock"
check "symlink: a link at TABLE.lock is refused, its target keeps its bytes" sh -c "[ \$($P -f $L/git/mappings.ini set web-1 owner=x 2>$pp_tmp/e; echo \$?) = 1 ] && [ \"\$(cat $L/victim)\" = precious ] && grep -q 'is a symbolic link' $pp_tmp/e && cmp -s $L/git/mappings.ini $ex/seed-site.ini"
rm "$L/git/mappings.ini.lock"
ln -s ../git/mappings.ini "$L/etc/mappings.ini"
check "symlink: set through a linked table changes the real file, the link stays" sh -c "$P -f $L/etc/mappings.ini set web-1 owner=Linked && [ -L $L/etc/mappings.ini ] && grep -q '= Linked' $L/git/mappings.ini && cmp -s $L/git/mappings.ini.bak $ex/seed-site.ini"

# Leftovers and contention
C=$pp_tmp/conc.ini
cp "$ex/seed-site.ini" "$C"
(exit 0) & dead=$!; wait $dead
echo half >"$C.tmp-$dead-aB3xYz"
check "temp: a killed save's temporary file (dead pid) is removed by the next save" sh -c "$P -f $C set web-1 owner=x && [ ! -e $C.tmp-$dead-aB3xYz ]"
pairs_failed=0
for i in $(seq 1 100); do
	$P -f "$C" set web-1 owner="a$i" 2>>"$pp_tmp/conc.err" & p1=$!
	$P -f "$C" set web-2 owner="b$i" 2>>"$pp_tmp/conc.err" & p2=$!
	wait $p1 || pairs_failed=$((pairs_failed + 1))
	wait $p2 || pairs_failed=$((pairs_failed + 1))
	grep -A12 '^\[web-1\]' "$C" | grep -q "^owner *= a$i\$" && grep -A12 '^\[web-2\]' "$C" | grep -q "^owner *= b$i" || pairs_failed=$((pairs_failed + 1))
done
check "contention: 100 pairs of concurrent sets on two mappings all succeed, both values kept ($pairs_failed failed)" [ $pairs_failed = 0 ]
# A save that finds the file changed while it waited for the lock: other keys merge, the same key is refused.
# The holder keeps the lock until the editor has loaded the table and waits for the lock (its fd is open).
waits_for_lock() { ls -l /proc/$1/fd 2>/dev/null | grep -q "$2.lock"; }
race() { # KEY_THEIRS VALUE_THEIRS: set web-1 owner=mine while another writer sets KEY_THEIRS in between
	(exec 9>"$C.lock"; flock 9; exec sleep 30) & h=$!
	wait_for 5 sh -c "! flock -n '$C.lock' true"
	$P -f "$C" set web-1 owner=mine >/dev/null 2>"$pp_tmp/race.err" & e=$!
	wait_for 5 waits_for_lock $e "$C"
	sed -i "/^\[web-1\]/,/^\[/s/^$1 .*/$1 = $2/" "$C"
	kill $h; wait $h 2>/dev/null
	wait $e
}
cp "$ex/seed-site.ini" "$C"
race purpose theirs
check "merge: a change to another key while waiting is kept with this edit" sh -c "[ $? = 0 ] && grep -A12 '^\[web-1\]' $C | grep -q '^owner *= mine' && grep -A12 '^\[web-1\]' $C | grep -q '^purpose = theirs'"
race owner theirs
check "merge: the same key changed meanwhile is refused, theirs kept" sh -c "[ $? = 1 ] && grep -q 'owner was changed there too' $pp_tmp/race.err && grep -A12 '^\[web-1\]' $C | grep -q '^owner = theirs'"
rm -f "$C.bak"; mkdir "$C.bak"
check "bak: a directory at TABLE.bak is named with what to do" sh -c "[ \$($P -f $C set web-1 owner=y 2>$pp_tmp/e; echo \$?) = 1 ] && grep -q 'conc.ini.bak is a directory, where portpilot keeps the previous version' $pp_tmp/e && grep -q 'mv ' $pp_tmp/e"
rmdir "$C.bak"

# CR-only line endings: said as such, in the table and in portpilot.conf
printf '[site]\rwan_interface = eth0\r[a]\rpublic_port = 80\rinternal_ip = 192.168.2.9\r' >"$pp_tmp/mac.ini"
check "cr: a CR-only table is reported as old Mac line endings, not a long line" sh -c "$P -f $pp_tmp/mac.ini check >$pp_tmp/o; grep -q 'mac.ini:1: error: .*old Mac (CR-only) line endings' $pp_tmp/o && ! grep -q 'longer than' $pp_tmp/o"
printf '[ddns home]\rprovider = duckdns\rhostname = a.example.net\r' >"$pp_tmp/mac.conf"
check "cr: a CR-only portpilot.conf is reported as old Mac line endings" sh -c "$P -c $pp_tmp/mac.conf --state-dir $pp_tmp/st ddns status >/dev/null 2>$pp_tmp/e; grep -q 'mac.conf:1: .*old Mac' $pp_tmp/e"
pp_done
