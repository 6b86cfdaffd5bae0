#!/bin/sh
# Issue 14 item 3: a table (and a portpilot.conf) saved by Notepad starts with a UTF-8 BOM.
# It is read as if it were not there (libiniparser too) and kept byte for byte on save.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
T=$pp_tmp/bom.ini
# [site] on the first line: the BOM glued to the header is what broke the whole file.
printf '\357\273\277' >"$T"
sed -n '/^\[site\]/,$p' "$PP_TOP/examples/seed-site.ini" | sed 's/$/\r/' >>"$T"
cp "$T" "$pp_tmp/orig"

$P -f "$T" check >"$pp_tmp/out" 2>&1
check "bom: check exits 0" [ $? = 0 ]
check "bom: no findings, 3 mappings" grep -q ': 3 mappings, 0 errors, 0 warnings$' "$pp_tmp/out"
$P -f "$T" list --json >"$pp_tmp/l.json"
check "bom: [site] keys are read (name)" sh -c "[ \"\$(jq -r .site.name $pp_tmp/l.json)\" = 'Plant 3 video platform' ]"
check "bom: every mapping's values are read" sh -c "[ \"\$(jq -r '[.mappings[].internal_ip]|join(\" \")' $pp_tmp/l.json)\" = '192.168.2.101 192.168.2.102 192.168.2.103' ]"

$P -f "$T" set site hairpin=no >/dev/null 2>&1
check "bom: set site exits 0" [ $? = 0 ]
check "bom: the BOM is kept on save" sh -c "[ \"\$(head -c 3 $T | od -An -tx1 | tr -d ' ')\" = efbbbf ]"
sed '/^hairpin/s/= yes /= no /' "$pp_tmp/orig" >"$pp_tmp/want"
check "bom: only the changed line differs" cmp -s "$T" "$pp_tmp/want"

# A mapping on line 1 that is deleted: the BOM stays with the file.
printf '\357\273\277[first]\nprotocol = tcp\npublic_port = 8000\ninternal_ip = 192.168.2.5\n\n' >"$pp_tmp/d.ini"
sed -n '/^\[site\]/,$p' "$PP_TOP/examples/seed-site.ini" >>"$pp_tmp/d.ini"
check "bom: a BOM before a mapping header reads clean" sh -c "$P -f $pp_tmp/d.ini check >/dev/null 2>&1"
$P -f "$pp_tmp/d.ini" del first >/dev/null 2>&1
check "bom: del of the first mapping keeps the BOM" sh -c "[ \"\$(head -c 3 $pp_tmp/d.ini | od -An -tx1 | tr -d ' ')\" = efbbbf ] && ! grep -q first $pp_tmp/d.ini && $P -f $pp_tmp/d.ini check >/dev/null"

# No [site] yet: the new [site] goes after the BOM, not before it.
printf '\357\273\277; a comment\n[x]\npublic_port = 8000\ninternal_ip = 192.168.2.5\n' >"$pp_tmp/n.ini"
$P -f "$pp_tmp/n.ini" set site wan_interface=eth0 >/dev/null 2>&1
check "bom: a new [site] goes after the BOM" sh -c "[ \"\$(head -c 9 $pp_tmp/n.ini | od -An -c | tr -d ' ')\" = '357273277[site]' ]"

# portpilot.conf: the same.
printf '\357\273\277[probe]\nreflector = https://198.51.100.7:8443\n' >"$pp_tmp/c.conf"
$P -c "$pp_tmp/c.conf" ddns status >"$pp_tmp/out" 2>&1
check "bom: portpilot.conf with a BOM loads (ddns status exit 0)" [ $? = 0 ]
check "bom: portpilot.conf with a BOM: no syntax error" sh -c "! grep -q 'expected' $pp_tmp/out"
printf '\357\273\277[ddns home]\nprovider = duckdns\nhostname = x.duckdns.org\ntoken = abc\n' >"$pp_tmp/d.conf"
chmod 600 "$pp_tmp/d.conf"
$P -c "$pp_tmp/d.conf" --state-dir "$pp_tmp" ddns status --json >"$pp_tmp/d.json" 2>/dev/null
check "bom: the section on the BOM line is read" sh -c "jq -e '.hosts // .entries // . | tostring | test(\"home\")' $pp_tmp/d.json >/dev/null"
pp_done
