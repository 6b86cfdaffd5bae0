#!/bin/sh
# Rewrites the list of causes in man/portpilot.8 (between its "causes: begin" and "causes: end"
# comments) from the table in probe/causes.c, as the built binary prints it.
# Usage: sh tools/man-causes.sh [PORTPILOT]   (default build/portpilot); tests/cli/test-causes.sh
# fails until the man page and the table agree.
top=$(cd "$(dirname "$0")/.." && pwd)
exec sh "$top/tools/man-block.sh" causes "${1:-$top/build/portpilot}" probe --list-causes=man
