#!/bin/sh
# Issue 14 item 14: the export record says who may reach what: the mapping's name and its
# allowed sources, in md, csv and json.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
T=$pp_tmp/m.ini
cp "$PP_TOP/examples/seed-site.ini" "$T"
$P -f "$T" set web-2 allow=203.0.113.0/24,198.51.100.7 >/dev/null 2>&1
$P -f "$T" set web-3 allow=0.0.0.0/0 >/dev/null 2>&1

$P -f "$T" export --format json >"$pp_tmp/x.json"
check "json: each record has the mapping name" sh -c "[ \"\$(jq -r '[.mappings[].mapping]|join(\" \")' $pp_tmp/x.json)\" = 'web-1 web-2 web-3' ]"
check "json: the allow list of a restricted mapping" sh -c "[ \"\$(jq -r '.mappings[1].allow' $pp_tmp/x.json)\" = '203.0.113.0/24,198.51.100.7/32' ]"
check "json: no allow key reads 'any'" sh -c "[ \"\$(jq -r '.mappings[0].allow' $pp_tmp/x.json)\" = any ]"
check "json: allow = 0.0.0.0/0 reads 'any' too" sh -c "[ \"\$(jq -r '.mappings[2].allow' $pp_tmp/x.json)\" = any ]"
$P -f "$T" export --format csv >"$pp_tmp/x.csv"
check "csv: header names Mapping and Allowed sources" sh -c "head -1 $pp_tmp/x.csv | grep -q '^\"Service\",\"Mapping\",\"Public IP\",.*\"Protocol\",\"Allowed sources\",\"Purpose\"'"
check "csv: the row carries name and allow list" grep -q '^"Video platform web console","web-2",.*,"tcp","203.0.113.0/24,198.51.100.7/32",' "$pp_tmp/x.csv"
$P -f "$T" export --format md >"$pp_tmp/x.md"
check "md: the row carries name and allow list" grep -q '^| Video platform web console | web-2 | .* | tcp | 203.0.113.0/24,198.51.100.7/32 | ' "$pp_tmp/x.md"
check "md: the separator has one cell per column" sh -c "[ \"\$(sed -n 's/^\(|---\)*|$/&/p' $pp_tmp/x.md | tr -cd '|' | wc -c)\" = \"\$(grep '^| Service' $pp_tmp/x.md | tr -cd '|' | wc -c)\" ]"
pp_done
