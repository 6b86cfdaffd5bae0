#!/bin/sh
# portpilot log: new connections to the mappings, with allow's verdict, read from NFLOG:
# recorded (--record, then the history), and live (--follow). PP_BACKEND=nftables: the same on
# the nftables backend (its copies in table inet portpilot_log).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
plab_up outside2 && plab_set web-2 allow=198.51.100.0/24 && plab_apply || not_ok "lab"

ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" --json log --follow --seconds 4 >"$pp_tmp/log.json" 2>"$pp_tmp/log.err" &
lp=$!
if lab_nft; then
	# nftables: the copies live in table inet portpilot_log, chains per NFLOG group
	logging() { lab_ns "$LAB_ROUTER" nft list table inet portpilot_log 2>/dev/null | grep -q 'log prefix "pp-acc"'; }
	no_log_rule() { ! lab_ns "$LAB_ROUTER" nft list table inet portpilot_log 2>/dev/null | grep -q 'log prefix'; }
else
	logging() { lab_ns "$LAB_ROUTER" iptables-save -t mangle | grep -q -- '-j PP-LOG'; }
	no_log_rule() { ! lab_ns "$LAB_ROUTER" iptables-save -t mangle | grep -q PP-LOG; }
fi
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

ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" log web-1 --follow --seconds 60 >"$pp_tmp/log.txt" 2>&1 &
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
# ---- recording: the history of every mapping, kept in the state dir ----
ST=$pp_tmp/state
recorder() {
	ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" --state-dir "$ST" log --record "$@" >"$pp_tmp/rec.out" 2>&1 &
	rp=$!
	if lab_nft; then
		recording() { lab_ns "$LAB_ROUTER" nft list chain inet portpilot_log post_8 2>/dev/null | grep -q 'group 8'; }
	else
		recording() { lab_ns "$LAB_ROUTER" iptables-save -t mangle | grep -q -- '-j PP-LOG-8'; }
	fi
	wait_for 5 recording || not_ok "log --record installed its NFLOG rule"
}
stop_recorder() {
	kill -TERM $rp
	wait $rp
	_rc=$?
	check "log --record: exits 0 on SIGTERM" [ $_rc -eq 0 ]
	check "log --record: its NFLOG rule is removed on exit" no_log_rule
}
nlines() { cat "$ST/access.log.1" "$ST/access.log" 2>/dev/null | wc -l; }
lines_ge() { [ "$(nlines)" -ge "$1" ]; }

# The verdict is the kernel's: web-3 is applied open to 203.0.113.0/24 only, and web-1's allow
# edited in the table but not applied, so the kernel still forwards web-1 from anywhere.
plab_set web-3 allow=203.0.113.0/24 && plab_apply && plab_set web-1 allow=198.51.100.0/24 || not_ok "lab: allow lists"
recorder
reader_nobody() { ps -o user= --ppid $rp | grep -qx nobody && ps -o user= -p $rp | grep -qx root; }
check "log --record: reads as nobody, the parent stays root to remove the rules" wait_for 5 reader_nobody
lab_http "$LAB_INET" http://203.0.113.1:8080/ >/dev/null
lab_http "$LAB_INET" http://203.0.113.1:8080/a >/dev/null
lab_http "$LAB_INET" http://203.0.113.1:8090/ >/dev/null
lab_http "$LAB_INET2" http://203.0.113.1:8090/ >/dev/null
lab_http "$LAB_INET2" http://203.0.113.1:8091/ >/dev/null
lab_udp "$LAB_INET" 203.0.113.1 8080 x >/dev/null
wait_for 5 lines_ge 5 || not_ok "5 attempts recorded"
stop_recorder
check "log --record: the log is root's, mode 0600" sh -c "[ \"\$(stat -c %U:%a '$ST/access.log')\" = root:600 ]"

"$PORTPILOT" -f "$PT" --state-dir "$ST" log web-1 >"$pp_tmp/h1.txt" 2>"$pp_tmp/h1.err"
check "log NAME: exits 0" [ $? -eq 0 ]
check "log NAME: exactly web-1's two attempts, with time, source, protocol, the kernel's verdict" sh -c "
	[ \$(wc -l <'$pp_tmp/h1.txt') -eq 2 ] &&
	[ \$(grep -Ec '^20[0-9-]{8}T[0-9:]{8}[+-][0-9]{4}  web-1 +tcp 203\.0\.113\.10:[0-9]+ -> 8080  accepted\$' '$pp_tmp/h1.txt') -eq 2 ]"
"$PORTPILOT" -f "$PT" --state-dir "$ST" --json log >"$pp_tmp/h.json" 2>"$pp_tmp/h.err"
check "log --json: every line is an object" jq -s -e 'length == 5 and all(.[]; .time and .proto and .port)' "$pp_tmp/h.json" >/dev/null
hj() { jq -s -e "any(.[]; $1)" "$pp_tmp/h.json" >/dev/null; }
check "log --json: web-2 from outside its allow list is rejected" hj '.mapping == "web-2" and .source == "203.0.113.10" and (.verdict | startswith("rejected"))'
check "log --json: web-3 from outside2, not in its allow list, is rejected" hj '.mapping == "web-3" and .source == "198.51.100.10" and .port == 8091 and .verdict == "rejected (not in allow)"'
check "log --json: web-2 from its allowed network is accepted" hj '.mapping == "web-2" and .source == "198.51.100.10" and .verdict == "accepted"'
check "log: UDP to a TCP-only mapping is no attempt on it" sh -c "! jq -e 'select(.proto == \"udp\")' '$pp_tmp/h.json' >/dev/null"
"$PORTPILOT" -f "$PT" --state-dir "$ST" log nosuch >/dev/null 2>"$pp_tmp/h.err"
check "log NAME: an unknown mapping is bad input (exit 2), named" sh -c "[ $? -eq 2 ] && grep -q nosuch '$pp_tmp/h.err'"
printf 'garbage\n' >>"$ST/access.log"
"$PORTPILOT" -f "$PT" --state-dir "$ST" log >/dev/null 2>"$pp_tmp/h.err"
check "log: a damaged line is skipped and named by file:line" grep -q "access.log:6: not an access-log line" "$pp_tmp/h.err"

# Bounded: at --max-kb the log moves to access.log.1 and the history keeps every line.
rm -f "$ST"/access.log*
recorder --max-kb 1
_i=0
while [ $_i -lt 20 ]; do lab_http "$LAB_INET" http://203.0.113.1:8080/ >/dev/null; _i=$((_i + 1)); done
wait_for 5 lines_ge 20 || not_ok "20 attempts recorded"
stop_recorder
check "log --record: rotated to access.log.1 at the limit" sh -c "[ -s '$ST/access.log.1' ] && [ \$(stat -c %s '$ST/access.log') -le 1024 ]"
check "log: the history still holds all 20 attempts" sh -c "[ \$('$PORTPILOT' -f '$PT' --state-dir '$ST' log web-1 | wc -l) -eq 20 ]"
# Hairpin: a LAN client using the public address is logged too, forwarded or not.
rm -f "$ST"/access.log*
plab_set web-1 allow=0.0.0.0/0 && plab_apply || not_ok "lab: web-1 open again"
recorder
lab_http "$LAB_LANHOST" http://203.0.113.1:8080/ | grep -q srv-101 || not_ok "lanhost reaches web-1 by the public address"
wait_for 5 lines_ge 1
stop_recorder
plab_site hairpin no && plab_apply || not_ok "lab: hairpin = no"
recorder
lab_http "$LAB_LANHOST" http://203.0.113.1:8080/ >/dev/null
wait_for 5 lines_ge 2
stop_recorder
"$PORTPILOT" -f "$PT" --state-dir "$ST" --json log web-1 >"$pp_tmp/hp.json" 2>/dev/null
hp() { jq -s -e "$1" "$pp_tmp/hp.json" >/dev/null; }
check "log: hairpin = yes, a LAN client on the public address is logged, accepted" \
	hp '.[0].source == "192.168.2.50" and .[0].port == 8080 and .[0].verdict == "accepted"'
check "log: hairpin = no, it is logged as rejected" \
	hp 'length == 2 and .[1].source == "192.168.2.50" and .[1].verdict == "rejected (hairpin = no)"'
# The recorder follows the table: a mapping added while it runs is logged (as rejected until applied).
# (The reader is nobody: let it reach the table, as it reaches /etc/portpilot.)
rm -f "$ST"/access.log*
chmod 711 "$pp_tmp" && chmod 644 "$PT"
recorder
"$PORTPILOT" -f "$PT" add cam public_port=8554 internal_ip=192.168.2.103 internal_port=80 >/dev/null 2>&1 ||
	not_ok "add cam"
cam_seen() { lab_http "$LAB_INET" http://203.0.113.1:8554/ >/dev/null; grep -q cam "$ST/access.log"; }
check "log --record: a mapping added while it runs is recorded" wait_for 5 cam_seen
stop_recorder
pp_done
