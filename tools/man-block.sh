#!/bin/sh
# Rewrites one generated block of man/portpilot.8, the lines between its "BLOCK: begin" and
# "BLOCK: end" comments, with what the built binary prints for ARGS.
# Usage: sh tools/man-block.sh BLOCK PORTPILOT ARGS...   (tools/man-causes.sh, tools/man-synopsis.sh)
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
block=$1 pp=$2
shift 2
man=$top/man/portpilot.8
list=$(mktemp)
trap 'rm -f "$list" "$man.new"' EXIT
"$pp" "$@" >"$list"
grep -q "^\\.\\\\\" $block: begin" "$man" && grep -q "^\\.\\\\\" $block: end" "$man" ||
	{ echo "man-block: $man has no '$block: begin' / '$block: end' comments" >&2; exit 1; }
# Keep the comment lines of the block, put the list in place of what lay between them.
awk -v list="$list" -v begin="^\\\\.\\\\\\\\\" $block: begin" -v end="^\\\\.\\\\\\\\\" $block: end" '
	$0 ~ begin { inblock = 1; print; next }
	inblock && /^\.\\"/ && $0 !~ end { print; next }
	inblock && $0 !~ end { if (!done) { while ((getline l < list) > 0) print l; done = 1 } next }
	$0 ~ end { if (!done) { while ((getline l < list) > 0) print l; done = 1 } inblock = 0 }
	{ print }
' "$man" >"$man.new"
mv "$man.new" "$man"
trap 'rm -f "$list"' EXIT
