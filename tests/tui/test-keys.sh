#!/bin/sh
# The man page's TUI keys agree with the TUI (issue 14 item 9): the key rows of
# the help screen's "Table screen" and "Apply screen" groups (each drawn from
# the bindings table its screen dispatches keys with) equal, row for row, the man page's
# "Table screen keys" and "Apply screen keys" lists. A key added, renamed or
# described differently on one side fails here.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

man="$PP_TOP/man/portpilot.8"
seed_copy
# Tall enough for the whole help on one page, wide enough that few rows wrap.
tui_start 200 160 C -- -f m.ini tui --offline
wait_screen "3 mappings"
keys '?'
check "help open" wait_screen "q or Esc leaves this page"
screen >"$pp_tmp/help"
keys q q
wait_for 5 exit_is 0

# "KEYS<TAB>TEXT" per key row of one help group: the key column is 20 wide
# after two spaces (the pager draws from column 1), wrapped text continues
# under the text column.
help_rows() {
	python3 - "$pp_tmp/help" "$1" <<'PY'
import sys
lines = [l[1:] for l in open(sys.argv[1], encoding="utf-8").read().split("\n")]
rows, inside = [], False
for l in lines:
    if not inside:
        inside = l.startswith(sys.argv[2])
        continue
    if l.strip() == "":
        break
    if l.startswith(" " * 23) and rows:
        rows[-1][1] += " " + l.strip()
    elif l.startswith("  ") and l[2] != " " and l[22:23] == " ":
        rows.append([l[2:22].rstrip(), l[23:].strip()])
    else:
        rows.append(["?", l.strip()])     # not a key row: shows up in the diff
for k, t in rows:
    print(k + "\t" + t)
PY
}
# The same from the man page: one ".TP" / ".B \"KEYS\"" / text per row under ".SS \"TITLE\"".
man_rows() {
	python3 - "$man" "$1" <<'PY'
import re, sys
src = open(sys.argv[1], encoding="utf-8").read().split("\n")
def plain(s):
    s = re.sub(r"\\f[BIRP]", "", s)
    return s.replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'").replace("\\&", "")
rows, inside, key = [], False, None
for l in src:
    if not inside:
        inside = l == '.SS "%s"' % sys.argv[2]
        continue
    if l.startswith(".SS") or l.startswith(".SH"):
        break
    if l == ".TP":
        key = ""
        continue
    m = re.match(r'^\.B "(.*)"$', l)
    if key == "" and m:
        key = plain(m.group(1))
        rows.append([key, ""])
        continue
    if l.startswith(".") or not rows:
        continue
    rows[-1][1] = (rows[-1][1] + " " + plain(l)).strip()
for k, t in rows:
    print(k + "\t" + t)
PY
}
for g in "Table screen:Table screen keys" "Apply screen (A):Apply screen keys"; do
	h=${g%%:*} m=${g#*:}
	help_rows "$h" >"$pp_tmp/help.rows"
	man_rows "$m" >"$pp_tmp/man.rows"
	check "help group '$h' has key rows" [ "$(wc -l <"$pp_tmp/help.rows")" -ge 5 ]
	check "man page section '$m' has key rows" [ "$(wc -l <"$pp_tmp/man.rows")" -ge 5 ]
	if diff -u "$pp_tmp/help.rows" "$pp_tmp/man.rows" >"$pp_tmp/diff"; then
		ok "man page '$m' equals the help's '$h' row for row"
	else
		sed 's/^/# /' "$pp_tmp/diff"
		not_ok "man page '$m' equals the help's '$h' row for row"
	fi
done
# The keys that were wrong: confirm is C and roll back is U on the table screen.
check "man page: C confirms" grep -q '^\.B "C"$' "$man"
check "man page: U rolls back" grep -q '^\.B "U"$' "$man"
pp_done
