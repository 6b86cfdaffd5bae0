#!/bin/sh
# Runs every suite and ends with one line "check: N passed, N failed".
# Usage: tests/run.sh BUILD_DIR UNIT_BINARIES...   PP_ONLY=unit,cli,... limits the suites.
# Shell suites are tests/<suite>/test-*.sh; they print "ok - NAME" / "not ok - NAME"
# per case (see tests/lib.sh) and exit 77 when they cannot run here (skipped).
# PP_NO_SKIP=1 (set by .ci/run) turns a skipped suite into a failure: CI runs as root
# and must run the lab, TUI, DDNS and probe suites, not pass without them.
B=$1; shift
top=$(cd "$(dirname "$0")/.." && pwd)
export PORTPILOT="$top/$B/portpilot" PP_TOP="$top"
passed=0 failed=0 skipped=0
want() { [ -z "${PP_ONLY:-}" ] && return 0; case ",$PP_ONLY," in *",$1,"*) return 0;; esac; return 1; }
log=$(mktemp); trap 'rm -f "$log"' EXIT

if want unit; then
	for t in "$@"; do
		echo "== unit: $t"
		"$top/$t" >"$log" 2>&1; rc=$?
		cat "$log"
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
		[ $rc -ne 0 ] && [ -z "$f" ] && failed=$((failed + 1))
	done
fi
for suite in cli fuzz lab tui ddns probe; do
	want "$suite" || continue
	for s in "$top"/tests/$suite/test-*.sh; do
		[ -f "$s" ] || continue
		echo "== $suite: ${s#$top/}"
		sh "$s" >"$log" 2>&1; rc=$?
		cat "$log"
		p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
		if [ $rc -eq 77 ]; then
			if [ "${PP_NO_SKIP:-0}" = 1 ]; then
				echo "not ok - ${s#$top/} skipped, and PP_NO_SKIP=1 forbids it"; failed=$((failed + 1))
			else
				skipped=$((skipped + 1))
			fi
			continue
		fi
		passed=$((passed + p)); failed=$((failed + f))
		[ $rc -ne 0 ] && [ "$f" -eq 0 ] && { echo "not ok - ${s#$top/} exited $rc"; failed=$((failed + 1)); }
	done
done
echo "check: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
