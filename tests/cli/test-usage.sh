#!/bin/sh
# A mistyped command is named with the nearest commands, exit 2; with --json the error is JSON.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
rc() { "$@" >"$pp_tmp/out" 2>"$pp_tmp/err"; echo $?; }

check "lsit: exit 2" [ "$(rc $P lsit)" = 2 ]
check "lsit: did you mean list?" grep -qx "portpilot: unknown command 'lsit': did you mean list?" "$pp_tmp/err"
check "lsit: nothing on stdout without --json" [ ! -s "$pp_tmp/out" ]
for typo in ad:add chekc:check staus:status aply:apply dissable:disable stat:status ddn:ddns; do
	rc $P "${typo%%:*}" >/dev/null
	check "${typo%%:*}: did you mean ${typo#*:}?" grep -q "did you mean ${typo#*:}?\$" "$pp_tmp/err"
done
rc $P det >/dev/null
check "det: both nearest commands named" grep -q "did you mean set or del?" "$pp_tmp/err"
check "xyzzy: no suggestion, the usage instead" sh -c "[ \$($P xyzzy 2>$pp_tmp/e; echo \$?) = 2 ] && ! grep -q 'did you mean' $pp_tmp/e && grep -q '^usage: portpilot' $pp_tmp/e"
check "--json lsit: exit 2" [ "$(rc $P --json lsit)" = 2 ]
check "--json lsit: one JSON object on stdout with the hint" \
	sh -c "jq -e '.error == \"unknown command '\"'lsit'\"': did you mean list?\" and .exit_code == 2' $pp_tmp/out >/dev/null"
check "the hidden completion helper is not offered" sh -c "! $P --help | grep -q '^  complete'"
check "init is in the help" sh -c "$P --help | grep -q '^  init '"
# The global options come from their spec (core/cli-commands.c), parsed by the one parser.
check "--stat-dir: exit 2" [ "$(rc $P --stat-dir /x list)" = 2 ]
check "--stat-dir: the option, the nearest one and where the help is" \
	grep -qx "portpilot: unknown option --stat-dir; did you mean --state-dir? (portpilot --help)" "$pp_tmp/err"
check "-c without a value: the form it needs" sh -c "[ \$($P -c 2>$pp_tmp/e; echo \$?) = 2 ] && grep -qx 'portpilot: -c needs a value: -c CONF (portpilot --help)' $pp_tmp/e"
check "--state-dir=DIR is taken too" sh -c "$P --state-dir=$pp_tmp/s health --json | jq -e 'type == \"object\"' >/dev/null"
check "the usage line names every global option of the help" sh -c "$P --help | sed -n '1h;1d;/^       /{H;d;};x;s/\\n */ /g;p;q' | grep -q -- '^usage: portpilot \\[-f TABLE\\] \\[-c CONF\\] \\[--state-dir DIR\\] \\[--json\\] \\[--help\\] \\[--version\\]'"
check "-h after the command is the command's help" sh -c "$P list -h | head -1 | grep -q '^usage: portpilot \\[-f TABLE\\] list'"
check "--version before the command: the version, nothing run" sh -c "[ \"\$($P --version bogus)\" = 'portpilot 0.1.0' ]"
pp_done
