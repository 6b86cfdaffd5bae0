#!/bin/sh
# Rewrites the list of causes in man/portpilot.8 (between its "causes: begin" and "causes: end"
# comments) from the table in probe/causes.c, as the built binary prints it.
# Usage: sh tools/man-causes.sh [PORTPILOT]   (default build/portpilot); tests/cli/test-causes.sh
# fails until the man page and the table agree.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
pp=${1:-$top/build/portpilot}
man=$top/man/portpilot.8
list=$(mktemp)
trap 'rm -f "$list" "$man.new"' EXIT
"$pp" probe --list-causes=man >"$list"
grep -q '^\.\\" causes: begin' "$man" && grep -q '^\.\\" causes: end' "$man" ||
	{ echo "man-causes: $man has no 'causes: begin' / 'causes: end' comments" >&2; exit 1; }
# Keep the comment lines of the block, put the list in place of what lay between them.
awk -v list="$list" '
	/^\.\\" causes: begin/ { inblock = 1; print; next }
	inblock && /^\.\\"/ && !/causes: end/ { print; next }
	inblock && !/causes: end/ { if (!done) { while ((getline l < list) > 0) print l; done = 1 } next }
	/^\.\\" causes: end/ { if (!done) { while ((getline l < list) > 0) print l; done = 1 } inblock = 0 }
	{ print }
' "$man" >"$man.new"
mv "$man.new" "$man"
trap 'rm -f "$list"' EXIT
