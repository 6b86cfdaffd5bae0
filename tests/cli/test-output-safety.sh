#!/bin/sh
# Hostile table values: list, check, export md/csv never pass a control byte or invalid UTF-8
# through, export json and list --json are always valid JSON in valid UTF-8.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
command -v python3 >/dev/null || { echo "# needs python3"; exit 77; }
P=$PORTPILOT
T=$pp_tmp/evil.ini
# ESC sequences (title set, clear screen, colour, cursor up), BEL, a one-byte CSI (U+009B
# as UTF-8), DEL, and invalid UTF-8: a lone 0xff, an overlong '/', a cut sequence.
printf '[site]\nname = Evil\033]2;pwned\007 site\nwan_interface = eth0\nlan_subnet = 192.168.2.0/24\n\n' >"$T"
printf '[web-1]\ndescription = Web \033[2J\033[31mred \377\376 bad \300\257 cut \342\202\n' >>"$T"
printf 'protocol = tcp\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_port = 80\n' >>"$T"
printf 'owner = Mall\351ry \033[1A\302\2332J\npurpose = test \177 x\n\n' >>"$T"
# A section name with an ESC: check reports it, list shows it.
printf '[w\033[31mx]\nprotocol = tcp\npublic_port = 8081\ninternal_ip = 192.168.2.102\ninternal_port = 80\n' >>"$T"

# raw_controls FILE: true when FILE holds a C0 control other than newline, DEL, or a C1 (as UTF-8 or raw).
raw_controls() {
	python3 - "$1" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
bad = [c for c in b if (c < 0x20 and c != 0x0a) or c == 0x7f]
t = b.decode("utf-8", "replace")
bad += [c for c in t if 0x80 <= ord(c) <= 0x9f]
sys.exit(0 if bad else 1)
EOF
}
valid_utf8() { python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$1" 2>/dev/null; }
valid_json() { python3 -m json.tool "$1" >/dev/null 2>&1; }

"$P" -f "$T" list >"$pp_tmp/list.txt" 2>&1
if raw_controls "$pp_tmp/list.txt"; then not_ok "list: no raw ESC or other control byte"; else ok "list: no raw ESC or other control byte"; fi
check "list: the row is there, ESC shown as \\x1b" grep -q '^web-1 .*Mall\\xe9ry \\x1b\[1A\\xc2\\x9b2J$' "$pp_tmp/list.txt"
check "list: a section name's ESC is shown as text" grep -q '^w\\x1b\[31mx ' "$pp_tmp/list.txt"
check "list: valid UTF-8" valid_utf8 "$pp_tmp/list.txt"

"$P" -f "$T" check >"$pp_tmp/check.txt" 2>&1
check "check: the finding quoting the bad name has no raw ESC" grep -q "'w\\\\x1b\[31mx' is not a usable mapping name" "$pp_tmp/check.txt"
if raw_controls "$pp_tmp/check.txt"; then not_ok "check: no raw control byte"; else ok "check: no raw control byte"; fi

for fmt in md csv; do
	"$P" -f "$T" export --format $fmt >"$pp_tmp/x.$fmt" 2>&1
	if raw_controls "$pp_tmp/x.$fmt"; then not_ok "export $fmt: no raw control byte"; else ok "export $fmt: no raw control byte"; fi
	check "export $fmt: valid UTF-8" valid_utf8 "$pp_tmp/x.$fmt"
	check "export $fmt: the description is there as text" grep -q 'Web \\x1b\[2J\\x1b\[31mred \\xff\\xfe bad \\xc0\\xaf' "$pp_tmp/x.$fmt"
done
check "export md: the site title shown as text" grep -q '^# Evil\\x1b\]2' "$pp_tmp/x.md"

"$P" -f "$T" export --format json >"$pp_tmp/x.json" 2>&1
check "export json: passes python3 -m json.tool" valid_json "$pp_tmp/x.json"
check "export json: valid UTF-8" valid_utf8 "$pp_tmp/x.json"
if raw_controls "$pp_tmp/x.json"; then not_ok "export json: no raw control byte"; else ok "export json: no raw control byte"; fi
check "export json: ESC kept as \\u001b, invalid bytes as U+FFFD, valid UTF-8 kept" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = d["mappings"][0]
assert m["service"] == "Web \x1b[2J\x1b[31mred \ufffd\ufffd bad \ufffd\ufffd cut \ufffd\ufffd", m["service"]
assert m["owner"] == "Mall\ufffdry \x1b[1A\x9b2J", m["owner"]
assert m["purpose"] == "test \x7f x", m["purpose"]
assert d["site"].startswith("Evil\x1b]2"), d["site"]' "$pp_tmp/x.json"

"$P" -f "$T" list --json >"$pp_tmp/l.json" 2>&1
check "list --json: valid JSON" valid_json "$pp_tmp/l.json"
check "list --json: valid UTF-8" valid_utf8 "$pp_tmp/l.json"
"$P" -f "$T" check --json >"$pp_tmp/c.json" 2>&1
check "check --json: valid JSON" valid_json "$pp_tmp/c.json"

# CSV injection: a cell a spreadsheet would run as a formula is written as text.
cp "$pp_tmp/evil.ini" "$pp_tmp/formula.ini"
"$P" -f "$pp_tmp/formula.ini" set web-1 "owner==HYPERLINK(\"http://evil.example/\";\"x\")" \
	"purpose=@SUM(1+1)" "description=-2+3" >/dev/null 2>&1
"$P" -f "$pp_tmp/formula.ini" export --format csv >"$pp_tmp/f.csv"
check "export csv: a leading = + - @ is made text with a quote" sh -c \
	"grep -qF '\"'\''-2+3\"' '$pp_tmp/f.csv' && grep -qF '\"'\''@SUM(1+1)\"' '$pp_tmp/f.csv' && grep -qF '\"'\''=HYPERLINK(\"\"http' '$pp_tmp/f.csv'"
check "export json: the same values as they are" sh -c \
	"'$P' -f '$pp_tmp/formula.ini' export --format json | python3 -c 'import json,sys; m = json.load(sys.stdin)[\"mappings\"][0]; assert m[\"purpose\"] == \"@SUM(1+1)\" and m[\"service\"] == \"-2+3\"'"

# export -o never writes through a link, nor into a FIFO (bounded: no hang).
printf 'precious\n' >"$pp_tmp/target"
ln -s "$pp_tmp/target" "$pp_tmp/link.md"
"$P" -f "$T" export -o "$pp_tmp/link.md" 2>"$pp_tmp/err"; rc=$?
check "export -o a symlink: exit 1, error says why" sh -c "[ $rc = 1 ] && grep -q 'link.md: it is a symbolic link' '$pp_tmp/err'"
check "export -o a symlink: the target is untouched" grep -qx precious "$pp_tmp/target"
mkfifo "$pp_tmp/fifo.md"
timeout 10 "$P" -f "$T" export -o "$pp_tmp/fifo.md" 2>"$pp_tmp/err"; rc=$?
check "export -o a FIFO: exit 1 at once (got $rc)" test $rc = 1
printf 'old\n' >"$pp_tmp/doc.md"
"$P" -f "$T" export -o "$pp_tmp/doc.md"
check "export -o an existing file: replaced" sh -c "! grep -q old '$pp_tmp/doc.md' && grep -q '^| Service' '$pp_tmp/doc.md'"

# A value in proper UTF-8 is not mangled.
printf '[site]\nwan_interface = eth0\nlan_subnet = 192.168.2.0/24\n\n[web-1]\nprotocol = tcp\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_port = 80\nowner = Zoë Ł. 李伟\n' >"$pp_tmp/good.ini"
check "list: proper UTF-8 shown as is" sh -c "'$P' -f '$pp_tmp/good.ini' list | grep -q 'Zoë Ł. 李伟\$'"
check "export json: proper UTF-8 kept" sh -c "'$P' -f '$pp_tmp/good.ini' export --format json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"mappings\"][0][\"owner\"] == \"Zoë Ł. 李伟\"'"
pp_done
