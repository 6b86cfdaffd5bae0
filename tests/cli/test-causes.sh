#!/bin/sh
# Issue 16: the probe's causes come from one table (probe/causes.c). probe --list-causes prints
# it, probe --help names every cause from it, and man/portpilot.8 holds exactly the list that
# probe --list-causes=man prints: a cause in the table but not in the man page, or the other way
# round, fails here by name.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
MAN=$PP_TOP/man/portpilot.8
out=$pp_tmp/out

# The man page's list: the lines between its "causes: begin" and "causes: end" comments.
man_block() { sed -n '/^\.\\" causes: begin/,/^\.\\" causes: end/p' "$1" | grep -v '^\.\\"'; }
man_names() { man_block "$1" | sed -n 's/^\.B \([a-z_0-9]*\)$/\1/p'; }
# The table has its 21 causes (more as causes are added), and a count matches it.
count_is() { [ "$n" -ge 21 ] && [ "$1" = "$n" ]; }
lacks() { ! man_names "$1" | grep -qx "$2"; }
# Names in one list and not in the other, in words; false when there is any.
compare() {
	man_names "$1" | sort >"$pp_tmp/man.names"
	sort "$pp_tmp/table.names" >"$pp_tmp/table.sorted"
	comm -23 "$pp_tmp/table.sorted" "$pp_tmp/man.names" | sed 's/$/ is in the table but not in the man page/'
	comm -13 "$pp_tmp/table.sorted" "$pp_tmp/man.names" | sed 's/$/ is in the man page but not in the table/'
	cmp -s "$pp_tmp/table.sorted" "$pp_tmp/man.names"
}

$P --json probe --list-causes >"$out"
check "--list-causes --json: exit 0" [ $? = 0 ]
jq -r '.causes[].name' "$out" >"$pp_tmp/table.names"
n=$(wc -l <"$pp_tmp/table.names")
check "--list-causes --json: the table, ok first, every row with summary and fix" \
	jqe '(.causes | length) > 20 and .causes[0].name == "ok" and
	     all(.causes[]; (.summary | length) > 10 and (.fix | length) > 5)' "$out"
check "--list-causes --json: names unique" count_is "$(sort -u "$pp_tmp/table.names" | wc -l)"

compare "$MAN" >"$pp_tmp/diff"
check "man page lists every cause of the table and no other" [ $? = 0 ]
[ -s "$pp_tmp/diff" ] && sed 's/^/# /' "$pp_tmp/diff"
man_block "$MAN" >"$pp_tmp/man.block"
$P probe --list-causes=man >"$pp_tmp/gen.block"
check "man page's list is what probe --list-causes=man prints (sh tools/man-causes.sh rewrites it)" \
	cmp -s "$pp_tmp/man.block" "$pp_tmp/gen.block"
check "man page's list has as many causes as the table" count_is "$(man_names "$MAN" | wc -l)"

# The comparison fails, by name, when the two part: one cause dropped from the man page, one added.
sed '/^\.\\" causes: begin/,/^\.\\" causes: end/{/^\.B lan_route$/d}' "$MAN" >"$pp_tmp/short.8"
sed '/^\.\\" causes: end/i .TP\n.B made_up_cause\nA cause the table does not have.' "$MAN" >"$pp_tmp/long.8"
check "control: the shortened copy lacks lan_route in its list" lacks "$pp_tmp/short.8" lan_route
has() { ! lacks "$@"; }
check "control: the longer copy has made_up_cause in its list" has "$pp_tmp/long.8" made_up_cause
compare "$pp_tmp/short.8" >"$pp_tmp/diff"
check "a cause missing from the man page fails" [ $? != 0 ]
check "... and is named" grep -qx 'lan_route is in the table but not in the man page' "$pp_tmp/diff"
compare "$pp_tmp/long.8" >"$pp_tmp/diff"
check "a cause only in the man page fails" [ $? != 0 ]
check "... and is named" grep -qx 'made_up_cause is in the man page but not in the table' "$pp_tmp/diff"

$P probe --list-causes >"$out"
check "--list-causes: exit 0" [ $? = 0 ]
check "--list-causes: every cause at the start of a line" count_is "$(grep -c '^[a-z_0-9][a-z_0-9]* ' "$out")"
check "--list-causes: every cause with its fix" count_is "$(grep -c '^  *fix: ' "$out")"
sed -n 's/^\([a-z_0-9][a-z_0-9]*\) .*/\1/p' "$out" >"$pp_tmp/text.names"
same_names() { count_is "$(wc -l <"$1")" && cmp -s "$1" "$2"; }
check "--list-causes: the same names as --json, in the same order" same_names "$pp_tmp/text.names" "$pp_tmp/table.names"

$P probe --help >"$out"
missing=$(while read -r c; do grep -qE "(^| )$c(,|$)" "$out" || echo "$c"; done <"$pp_tmp/table.names")
none_missing() { count_is "$n" && [ -z "$missing" ]; }
check "probe --help names every cause of the table${missing:+ (missing: $missing)}" none_missing
check "probe --help shows --list-causes" grep -q 'probe --list-causes' "$out"

$P probe web-1 --list-causes >/dev/null 2>"$out"
check "--list-causes with a mapping: exit 2" [ $? = 2 ]
check "--list-causes with a mapping: says why" grep -q -- '--list-causes takes no mapping or other option' "$out"
$P --json probe --list-causes=man >"$out" 2>/dev/null
check "--list-causes=man with --json: exit 2, a JSON error" jqe '.exit_code == 2' "$out"
pp_done
