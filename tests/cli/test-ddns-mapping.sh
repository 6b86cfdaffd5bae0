#!/bin/sh
# A [ddns NAME] mapping = must name a mapping of the table (issue 15 review): check reports it at
# the conf's file:line with the field and the fix (the nearest mapping's name when one is close),
# and apply and every save show it. A warning: a DNS entry never stops the firewall changing. Without -c (or with a conf that names real
# mappings) nothing changes.
. "$(dirname "$0")/../lib.sh"
T=$pp_tmp/t.ini
C=$pp_tmp/pp.conf
out=$pp_tmp/out
cat >"$T" <<'EOF'
[site]
wan_interface = eth0
lan_interface = lo
lan_subnet    = 192.168.2.0/24

[cam1]
public_port   = 8081
internal_ip   = 192.168.2.103
internal_ip6  = 2001:db8:1::1:103

[web]
public_port   = 8080
internal_ip   = 192.168.2.101
EOF
cat >"$C" <<'EOF'
[ddns cam]
provider   = nsupdate
server     = 198.51.100.53
hostname   = cam.example.net
credentials_file = /nonexistent/key
# the camera's AAAA
mapping    = cam2
EOF
P="$PORTPILOT -f $T -c $C --state-dir $pp_tmp/st"
has() { grep -qF -- "$1" "$out"; }
status_is() { [ "$1" = "$2" ]; }

rc=0; $P check >"$out" 2>&1 || rc=$?
check "check: a mapping = the table lacks is a warning (exit 1, as for any finding)" status_is "$rc" 1
check "  at the conf's file:line, naming section and field" \
	has "pp.conf:7: warning: [ddns cam] mapping: $T has no [cam2]"
check "  the fix names the nearest mapping" has "fix: write mapping = cam1 (the nearest mapping of $T)"
check "  and the summary counts it" has "$T: 2 mappings, 0 errors, 1 warning"
$P check --json >"$out" 2>&1
check "check --json: the finding carries the conf's file and line" \
	jqe '.errors == 0 and .warnings == 1 and (.findings[] | select(.field == "mapping") | .line == 7 and (.file | endswith("pp.conf")))' "$out"

# No name close: the fix says what to write instead.
sed -i 's/^mapping .*/mapping = printer/' "$C"
$P check >"$out" 2>&1
check "no close name: the fix says to name a [NAME] of the table" \
	has "fix: write mapping = the NAME of a [NAME] of $T, add [printer] to the table, or remove the line"

rc=0; $P apply --dry-run >"$out" 2>&1 || rc=$?
check "apply --dry-run is not stopped by it" sh -c "! grep -q 'nothing applied' $out"
check "  and shows the same finding" has "pp.conf:7: warning: [ddns cam] mapping: $T has no [printer]"

# A save that leaves a [ddns] naming nothing goes through (an exposed mapping must be removable
# at once) and says so.
sed -i 's/^mapping .*/mapping = cam1/' "$C"
$P check >"$out" 2>&1
check "a conf naming a real mapping: check is clean" has "$T: 2 mappings, 0 errors, 0 warnings"
cp "$T" "$pp_tmp/before"
rc=0; $P del cam1 >"$out" 2>&1 || rc=$?
check "del of the mapping a [ddns] names saves (exit 0)" status_is "$rc" 0
check "  and warns, naming the conf's line and the fix" has "pp.conf:7: warning: [ddns cam] mapping: $T has no [cam1]"
check "  the mapping is gone" sh -c "! grep -q '^\[cam1\]' '$T'"
check "an unrelated edit still saves" sh -c "$P set web public_port=8082 >/dev/null 2>&1"
cp "$pp_tmp/before" "$T"
rc=0; "$PORTPILOT" -f "$T" -c "$pp_tmp/none.conf" --state-dir "$pp_tmp/st" del cam1 >"$out" 2>&1 || rc=$?
check "without that conf, del cam1 saves, with no warning of it" sh -c "[ $rc = 0 ] && ! grep -q 'ddns' '$out'"
pp_done
