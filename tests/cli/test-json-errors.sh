#!/bin/sh
# Issue 14 item 10: with --json every outcome, errors included, is one JSON object on stdout,
# and the exit code is the README's: 0 ok, 1 findings or failure, 2 usage or bad input.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
T=$pp_tmp/m.ini
cp "$PP_TOP/examples/seed-site.ini" "$T"
mkdir "$pp_tmp/dir" "$pp_tmp/state"
printf '[ddns home]\nprovider = bogus\n' >"$pp_tmp/bad.conf"
chmod 600 "$pp_tmp/bad.conf"
G="-c $pp_tmp/none.conf --state-dir $pp_tmp/state"

# exit code | what | arguments (word-split; no spaces inside an argument)
cases="
2|missing table: check|-f $pp_tmp/none.ini check
2|missing table: list|-f $pp_tmp/none.ini list
2|missing table: export|-f $pp_tmp/none.ini export
2|missing table: set|-f $pp_tmp/none.ini set web-1 owner=x
2|missing table: del|-f $pp_tmp/none.ini del web-1
2|missing table: enable|-f $pp_tmp/none.ini enable web-1
2|missing table: disable|-f $pp_tmp/none.ini disable web-1
2|missing table: apply --dry-run|-f $pp_tmp/none.ini apply --dry-run
2|missing table: probe|-f $pp_tmp/none.ini probe web-1
2|directory as table: list|-f $pp_tmp/dir list
2|bad table: check unexpected argument|-f $T check extra
2|list: unexpected argument|-f $T list extra
2|export: unknown option|-f $T export --bogus
2|add: missing arguments|-f $T add
2|add: existing name|-f $T add web-1 public_port=1
2|add: unknown key|-f $T add web-9 pubic_port=9000
2|set: no '='|-f $T set web-1 internal_port 80
2|set: bad value|-f $T set web-1 public_port=99999
2|set: unknown mapping|-f $T set nope owner=x
2|set: bad relative expiry|-f $T set web-1 expires=+4x
1|set: a conflict (findings)|-f $T set web-3 public_port=8080
1|add: missing required field (findings)|-f $T add half public_port=1234
2|del: unknown mapping|-f $T del nope
2|enable: missing name|-f $T enable
2|disable: unexpected argument|-f $T disable web-1 extra
2|apply: unknown option|-f $T apply --bogus
2|status: unknown option|-f $T status --bogus
2|probe: no name|-f $T probe
2|watch: no name|-f $T watch
2|log: unknown option|-f $T log --bogus
2|ddns: no mode|-f $T ddns
2|ddns status: no portpilot.conf|-f $T ddns status
2|ddns status: invalid portpilot.conf|-f $T -c $pp_tmp/bad.conf ddns status
2|init: unknown option|-f $T init --bogus
2|init: existing table|-f $T init
2|confirm: unexpected argument|-f $T confirm extra
2|rollback: unexpected argument|-f $T rollback extra
2|unknown command|-f $T bogus
2|global: unknown option|--bogus list
2|global: -f without a value|-f
2|global: a mistyped option|--stat-dir x list
2|watch6 has no JSON output|-f $T watch6
2|the editor has no JSON output|-f $T tui
0|help: the help as JSON (commands, usage, options)|help
2|no command, no terminal (the editor)|-f $T
0|check --help (text wrapped)|check --help
0|set: success|-f $T set web-2 owner=Chen
0|check: clean table|-f $T check
"
printf '%s\n' "$cases" | while IFS='|' read -r want what args; do
	[ -n "$want" ] || continue
	# $G first: the global options stand before the command
	$P $G --json $args >"$pp_tmp/out" 2>"$pp_tmp/err" </dev/null
	rc=$?
	check "$what: exit $want" [ "$rc" = "$want" ]
	check "$what: stdout is one JSON object" sh -c "[ \"\$(jq -s length $pp_tmp/out 2>/dev/null)\" = 1 ] && jq -e 'type == \"object\"' $pp_tmp/out >/dev/null"
	if [ "$want" != 0 ] && ! grep -q '"findings"' "$pp_tmp/out"; then
		check "$what: the object says the error and the exit code" sh -c "jq -e '.error != null and (.error|length) > 0 and .exit_code == $want' $pp_tmp/out >/dev/null"
	fi
	check "$what: stderr still has the message for a person" sh -c "[ $want = 0 ] || [ -s $pp_tmp/err ]"
done
# The error object carries the message a person would read.
$P --json -f "$pp_tmp/none.ini" list >"$pp_tmp/out" 2>/dev/null
check "missing table: the error names the file and the cause" sh -c "jq -e '.error | test(\"none.ini: cannot read: not found\")' $pp_tmp/out >/dev/null"
check "missing table: the object names the file" sh -c "jq -e '.file == \"$pp_tmp/none.ini\"' $pp_tmp/out >/dev/null"
$P --json -f "$T" set web-1 internal_port 80 >"$pp_tmp/out" 2>/dev/null
check "set no '=': the error is the hint, not the '(see ...)' line" sh -c "jq -e '.error | test(\"^.web-1. internal_port: no .=. between key and value\")' $pp_tmp/out >/dev/null"
$P --json -f "$T" </dev/null >"$pp_tmp/out" 2>/dev/null
check "no terminal: the error is the whole sentence, continuation line included" sh -c "jq -e '.error | test(\"needs a terminal.*in scripts use the commands instead\")' $pp_tmp/out >/dev/null"
# A command without JSON output says so and the fix, not text where JSON was asked for.
$P --json -f "$T" watch6 </dev/null >"$pp_tmp/out" 2>"$pp_tmp/err"
check "watch6 --json: the object says it has none, and to drop --json" sh -c "jq -e '.error == \"--json: watch6 has no JSON output; drop --json (portpilot watch6 --help)\"' $pp_tmp/out >/dev/null"
check "watch6 --json: stderr says it too" grep -qx "portpilot watch6: --json: watch6 has no JSON output; drop --json (portpilot watch6 --help)" "$pp_tmp/err"
# --json anywhere on the line, for the commands that have it.
for at in "--json -f $T list" "-f $T --json list" "-f $T list --json"; do
	check "--json at '$at': list's own object" sh -c "$P $at | jq -e '.mappings | length == 3' >/dev/null"
done
$P --json --stat-dir x list >"$pp_tmp/out" 2>/dev/null
check "a mistyped global option: the object names it and the nearest one" sh -c "jq -e '.error | test(\"unknown option --stat-dir; did you mean --state-dir\")' $pp_tmp/out >/dev/null"
# A findings result keeps its own JSON (not wrapped).
$P --json -f "$PP_TOP/tests/cli/bad-site.ini" check >"$pp_tmp/out" 2>/dev/null
rc=$?
check "check with findings: its own object, exit 1" sh -c "[ $rc = 1 ] && jq -e '.errors == 2 and (.findings|length) == 3' $pp_tmp/out >/dev/null"
pp_done
