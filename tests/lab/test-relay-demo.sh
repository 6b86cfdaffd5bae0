#!/bin/sh
# make demo's relay part (demo.sh --relay): the CGNAT fault is built and named, then fixed with the
# relay: the mapping answers through the edge and the probe says ok.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
for c in wg wireguard-go; do command -v $c >/dev/null || { echo "# relay demo: $c missing"; exit 77; }; done
out=$pp_tmp/demo.out
timeout 120 sh "$PP_TOP/tests/lab/demo.sh" --relay >"$out" 2>&1; rc=$?
check "demo --relay: exit 0" test $rc = 0
check "demo --relay: the fault is named cgnat first, with the relay as the fix" sh -c \
	"grep -q '^== verdict: cgnat' '$out' && grep -q 'relay available: portpilot relay up' '$out'"
check "demo --relay: the mapping answers through the edge" grep -q '^internet -> 198.51.100.10:8080 (the edge)  answers: srv-101$' "$out"
check "demo --relay: the probe says ok after the relay" grep -q '^== verdict after the relay: ok$' "$out"
check "demo --relay: the reflector's test of the carrier's address is skipped for the relayed mapping" \
	grep -q '\[skip\] outside .*not tested through the edge 198.51.100.10: .*(run portpilot reflector on the edge, with --token-file, to test the relayed path from outside)' "$out"
check "  and the summary says the outside test could not run (a reflector was given), not to give one" sh -c \
	"grep -q 'the outside test could not run' '$out' && ! grep -q 'give --reflector URL' '$out'"
check "demo --relay: no private key in the output" sh -c "! grep -qi 'private key:' '$out'"
[ $rc = 0 ] || tail -n 30 "$out"
pp_done
