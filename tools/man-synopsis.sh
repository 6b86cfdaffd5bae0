#!/bin/sh
# Rewrites the commands' lines of the SYNOPSIS in man/portpilot.8 (between its "synopsis: begin"
# and "synopsis: end" comments) from the command table (core/cli-commands.c and each command's
# spec), as the built binary prints it: portpilot help --man.
# Usage: sh tools/man-synopsis.sh [PORTPILOT]   (default build/portpilot); tests/cli/test-synopsis.sh
# fails until the man page and the table agree.
top=$(cd "$(dirname "$0")/.." && pwd)
exec sh "$top/tools/man-block.sh" synopsis "${1:-$top/build/portpilot}" help --man
