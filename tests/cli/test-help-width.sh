#!/bin/sh
# The help is read on 80-column terminals: no line of `portpilot help`, of `portpilot --help`
# or of any command's help (help CMD, CMD --help) is wider than 80 columns, and a folded usage
# line goes on under the options, not past the edge. `portpilot --json help` is the same help as
# one JSON object a script can read: every command with its usage, text and options.
. "$(dirname "$0")/../lib.sh"
P=$PORTPILOT
out=$pp_tmp/out
wide() { awk -v w=80 'length($0) > w { print FILENAME ": " length($0) ": " $0; n++ } END { exit n > 0 }' "$@"; }

"$P" help >"$out"
check "portpilot help: no line over 80 columns" wide "$out"
"$P" --help >"$out"
check "portpilot --help: no line over 80 columns" wide "$out"
check "  the global usage line is folded, its options go on under it" \
	sh -c "head -1 $out | grep -q '^usage: portpilot ' && sed -n 2p $out | grep -q '^       \['"
cmds=$("$P" complete commands)
check "the commands are listed" [ -n "$cmds" ]
for c in $cmds; do
	"$P" help "$c" >"$out" 2>&1
	check "help $c: no line over 80 columns" wide "$out"
	"$P" "$c" --help >"$pp_tmp/out2" 2>&1
	check "$c --help: the same text" cmp -s "$out" "$pp_tmp/out2"
done
# A folded text line goes on with the next one: no word left alone on a line before it.
"$P" help apply >"$out"
check "help apply: a folded sentence is joined with its next line" \
	grep -qx "applies it in one iptables-restore transaction over portpilot's own chains." "$out"

"$P" --json help >"$out"
check "--json help: exit 0, one JSON object" jqe 'type == "object"' "$out"
printf '%s\n' $cmds | grep -vx help | sort >"$pp_tmp/want"
jq -r '.commands[].name' "$out" | grep -vx help | sort >"$pp_tmp/got"
check "  every listed command is in it" cmp -s "$pp_tmp/want" "$pp_tmp/got"
check "  each with its usage, unfolded" jqe '(.commands | length) as $n | [.commands[] | select(.usage | test("^portpilot [^\n]*$"))] | length == $n' "$out"
check "  apply's options, with their arguments" \
	jqe '.commands[] | select(.name == "apply") | .options | map(select(.name == "confirm" and .arg == "SECONDS")) | length == 1' "$out"
check "  the global options" jqe '.program.options | map(.letter // .name) | index("f") != null and index("state-dir") != null' "$out"
"$P" --json help check >"$out"
check "--json help check: that command's object" jqe '.name == "check" and (.usage == "portpilot [-f TABLE] check [--json]")' "$out"
"$P" help check --json >"$pp_tmp/out2"
check "help check --json: the same" cmp -s "$out" "$pp_tmp/out2"
pp_done
