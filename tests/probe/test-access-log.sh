#!/bin/sh
# portpilot log: new connections to the mappings, with allow's verdict, read from NFLOG.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
plab_up outside2 && plab_set web-2 allow=198.51.100.0/24 && plab_apply || not_ok "lab"

ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" --json log --seconds 4 >"$pp_tmp/log.json" 2>"$pp_tmp/log.err" &
lp=$!
logging() { lab_ns "$LAB_ROUTER" iptables-save -t mangle | grep -q -- '-j PP-LOG'; }
no_log_rule() { ! lab_ns "$LAB_ROUTER" iptables-save -t mangle | grep -q PP-LOG; }
wait_for 5 logging || not_ok "log installed its NFLOG rule"
lab_http "$LAB_INET" http://203.0.113.1:8080/ >/dev/null
lab_http "$LAB_INET" http://203.0.113.1:8090/ >/dev/null
lab_http "$LAB_INET2" http://203.0.113.1:8090/ | grep -q srv-102 || not_ok "inet2 reaches web-2"
lab_http "$LAB_INET" http://203.0.113.1:9999/ >/dev/null
wait $lp
check "log: exits 0 after --seconds" [ $? -eq 0 ]
has() { jq -s -e "any(.[]; $1)" "$pp_tmp/log.json" >/dev/null; }
check "log: allowed connection to web-1 is accepted" has '.mapping == "web-1" and .source == "203.0.113.10" and .verdict == "accepted"'
check "log: web-2 from outside its allow list is rejected" has '.mapping == "web-2" and .source == "203.0.113.10" and .verdict == "rejected (not in allow)"'
check "log: web-2 from its allowed network is accepted" has '.mapping == "web-2" and .source == "198.51.100.10" and .verdict == "accepted"'
check "log: ports of no mapping are not logged" sh -c "! grep -q 9999 '$pp_tmp/log.json'"
check "log: its NFLOG rule is removed on exit" no_log_rule

ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" log web-1 --seconds 60 >"$pp_tmp/log.txt" 2>&1 &
lp=$!
wait_for 5 logging
lab_http "$LAB_INET" http://203.0.113.1:8080/ >/dev/null
lab_http "$LAB_INET" http://203.0.113.1:8090/ >/dev/null
stopped() { ! kill -0 $lp 2>/dev/null; }
# The verdict lines are written as they come: wait for them, then stop it like Ctrl-C would.
seen() { grep -q 'web-1 ' "$pp_tmp/log.txt"; }
wait_for 5 seen
kill -INT $lp
if wait_for 5 stopped; then ok "log: stops on SIGINT"; else not_ok "log: stops on SIGINT"; fi
wait $lp
check "log NAME: only that mapping, in words" sh -c "grep -q 'web-1 .*tcp 203.0.113.10:[0-9]* -> 8080  accepted' '$pp_tmp/log.txt' && ! grep -q web-2 '$pp_tmp/log.txt'"
check "log: Ctrl-C removes the rule too" no_log_rule
pp_done
