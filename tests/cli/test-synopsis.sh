#!/bin/sh
# Issue 16: every command's options live in one table (core/cli-commands.c, each command's spec).
# The man page's SYNOPSIS holds exactly what `portpilot help --man` prints from it (a command or
# an option in one and not the other fails here by name), and each command's --help usage line
# names the same options.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
MAN=$PP_TOP/man/portpilot.8

man_block() { sed -n '/^\.\\" synopsis: begin/,/^\.\\" synopsis: end/p' "$1" | grep -v '^\.\\"'; }
# The difference of the two, in words; false when there is any.
same() {
	man_block "$1" >"$pp_tmp/man.syn"
	$P help --man >"$pp_tmp/table.syn"
	diff "$pp_tmp/table.syn" "$pp_tmp/man.syn" | sed -n 's/^< /# in the table, not in the man page: /p; s/^> /# in the man page, not in the table: /p'
	cmp -s "$pp_tmp/table.syn" "$pp_tmp/man.syn"
}
# The commands of the man page's synopsis, and of portpilot --help.
man_cmds() { man_block "$MAN" | sed -n 's/^\\fBportpilot \\fR\\fB\([a-z0-9]*\)\\fR.*/\1/p'; }
help_cmds() { $P --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9]*\) .*/\1/p'; }
# The --options of a command's --help usage line(s) and of its man line, sorted.
# (the usage line's global options, before the command's name, are not the command's)
usage_opts() { $P "$1" --help | sed -n '1,/^[^ u]/p' | sed '$d; 1s/.* '"$1"' //' | grep -o -- '\[--[a-z0-9-]*' | tr -d '[' | sort; }
man_opts() { man_block "$MAN" | awk -v c="$1" '/^\.br/ { on = 0 } $0 ~ "^\\\\fBportpilot \\\\fR\\\\fB" c "\\\\fR" { on = 1 } on' |
	sed -n 's/^\[\\fB\(\\-\\-[a-z0-9\\-]*\)\\fR.*/\1/p' | sed 's/\\-/-/g' | sort; }

check "help --man: exit 0, a line for each command" sh -c "[ \$($P help --man | grep -c '^\.br') -ge 24 ]"
check "the man page's SYNOPSIS is what help --man prints (sh tools/man-synopsis.sh rewrites it)" same "$MAN"
help_cmds | sort >"$pp_tmp/help.cmds"
man_cmds | sort >"$pp_tmp/man.cmds"
check "every command of --help is in the man page's synopsis, and no other" cmp -s "$pp_tmp/help.cmds" "$pp_tmp/man.cmds"
for c in apply probe watch6 ddns monitor edge; do
	usage_opts "$c" >"$pp_tmp/u"
	man_opts "$c" >"$pp_tmp/m"
	check "$c: its --help usage and its man line name the same options ($(wc -l <"$pp_tmp/u"))" \
		sh -c "[ -s $pp_tmp/u ] && cmp -s $pp_tmp/u $pp_tmp/m"
done
# The comparison catches a drift: a man page without apply's --restore differs, by name.
sed '/synopsis: begin/,/synopsis: end/{/^\[\\fB\\-\\-restore\\fR\]$/d}' "$MAN" >"$pp_tmp/drift.8"
check "a man page missing an option of the table fails the comparison" sh -c "! cmp -s '$MAN' '$pp_tmp/drift.8'"
same "$pp_tmp/drift.8" >"$pp_tmp/said"
check "... and says which line" grep -q 'in the table, not in the man page: \[\\fB\\-\\-restore\\fR\]' "$pp_tmp/said"
# The global part: the man page's first line and the usage line of --help name the same options.
man_global() { man_block "$MAN" | sed -n '2,/^\.br/p' | sed -n 's/^\[\\fB\(\\-[a-z\\-]*\)\\fR.*/\1/p' | sed 's/\\-/-/g'; }
help_global() { $P --help | sed -n '1h;1d;/^       /{H;d;};x;s/\n */ /g;p;q' | grep -o -- '\[-[-a-z]*' | tr -d '['; }
man_global >"$pp_tmp/mg"
help_global >"$pp_tmp/hg"
check "the man page's global options are --help's ($(wc -l <"$pp_tmp/hg"), -f to --version)" \
	sh -c "[ \$(wc -l <$pp_tmp/hg) -ge 6 ] && cmp -s $pp_tmp/hg $pp_tmp/mg && head -1 $pp_tmp/mg | grep -qx -- -f && tail -1 $pp_tmp/mg | grep -qx -- --version"
# help CMD is CMD --help.
check "help apply is apply --help" sh -c "[ \"\$($P help apply)\" = \"\$($P apply --help)\" ]"
check "help of no command: exit 2, named" sh -c "$P help nosuch 2>$pp_tmp/e >/dev/null; [ \$? = 2 ] && grep -q \"no command 'nosuch'\" $pp_tmp/e"
pp_done
