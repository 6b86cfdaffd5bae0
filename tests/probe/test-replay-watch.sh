#!/bin/sh
# Evidence kept and replayed (--write/--read), watch's live report, UDP mappings, usage errors.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root

plab_up udp && plab_apply && plab_reflector "$LAB_INET" "$LAB_INET_IP" || not_ok "lab"

# Healthy, saved; the saved file replays to the same verdict without any network.
plab_probe web-1 --reflector "$REFL" --write "$pp_tmp/ok.pcap"
expect_cause "healthy probe with --write" ok
check "the saved capture is a pcap file tcpdump reads" \
	sh -c "tcpdump -nn -r '$pp_tmp/ok.pcap' 2>/dev/null | grep -q '203.0.113.10.* > 203.0.113.1.8080'"
"$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json --read "$pp_tmp/ok.pcap" \
	>"$pp_tmp/out.json" 2>"$pp_tmp/err"
PRC=$?
expect_cause "replay of the healthy capture" ok
if jq -e '.attempts[] | select(.wan_in and .lan_out and .wan_out and .answer == "syn-ack")' \
	"$pp_tmp/out.json" >/dev/null; then
	ok "replay: the outside attempt is traced end to end"
else
	not_ok "replay: the outside attempt is traced end to end"
	jq -c '.attempts[]' "$pp_tmp/out.json" | sed 's/^/#   /'
	tcpdump -nn -r "$pp_tmp/ok.pcap" 2>&1 | sed 's/^/#   pcap: /'
fi

lab_ns "$LAB_ROUTER" iptables -I FORWARD 1 -j DROP
plab_probe web-1 --reflector "$REFL" --write "$pp_tmp/fwd.pcap"
expect_cause "FORWARD drop with --write (a foreign DROP ahead of portpilot's accept)" foreign_drop
lab_ns "$LAB_ROUTER" iptables -D FORWARD 1
"$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json --read "$pp_tmp/fwd.pcap" \
	>"$pp_tmp/out.json" 2>"$pp_tmp/err"
PRC=$?
expect_cause "replay of the FORWARD-drop capture (on a healthy router)" forward_blocked
"$PORTPILOT" -f "$PT" probe web-1 --read "$pp_tmp/missing.pcap" >/dev/null 2>"$pp_tmp/err"
rc=$?
check "replay of a missing file: exit 2 (bad input), error naming it" \
	sh -c "[ $rc -eq 2 ] && grep -q missing.pcap '$pp_tmp/err'"
# A failure while running is exit 1, not a usage error: the evidence cannot be saved there.
plab_probe web-1 --write "$pp_tmp/no/such/dir/x.pcap"
check "--write to an unwritable path: exit 1, error naming it" \
	sh -c "[ $PRC -eq 1 ] && grep -q 'write $pp_tmp/no/such/dir/x.pcap' '$pp_tmp/err'"

# watch, human output: every attempt from outside shows up as it happens.
ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" watch web-1 --seconds 3 >"$pp_tmp/watch.txt" 2>&1 &
w=$!
client() { i=0; while [ $i -lt 20 ]; do lab_http "$LAB_INET" http://203.0.113.1:8080/ >/dev/null; i=$((i + 1)); done; }
# The capture is armed once the process has left root (it drops right after opening the handles).
status() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$w/status"; }
dropped() { _u=$(status Uid); [ -n "$_u" ] && [ "${_u%%[[:space:]]*}" != 0 ]; }
wait_for 10 dropped
uid=$(status Uid) gid=$(status Gid) groups=$(status Groups) caps="$(status CapEff) $(status CapPrm)"
no_root() { [ -n "$1" ] && ! printf '%s\n' "$1" | grep -qw 0; }
check "watch: left root after opening the capture (Uid $uid)" no_root "$uid"
check "watch: left root's groups (Gid $gid, Groups '$groups')" no_root "$gid $groups"
check "watch: no capability left (CapEff CapPrm: $caps)" [ "$caps" = "0000000000000000 0000000000000000" ]
client
wait $w; rc=$?
check "watch: exit 0 on a working mapping" [ $rc -eq 0 ]
check "watch: the report says it ran on as nobody" grep -q 'privileges.*running on as uid 65534' "$pp_tmp/watch.txt"
check "watch: the client's SYN on WAN is reported" grep -q '#.*wan tcp 203.0.113.10:[0-9]* > 203.0.113.1:8080 SYN$' "$pp_tmp/watch.txt"
check "watch: the server's SYN-ACK on LAN is reported" grep -q '#.*lan tcp 192.168.2.101:80 > 203.0.113.10:[0-9]* SYN-ACK' "$pp_tmp/watch.txt"
check "watch: ends with the verdict" grep -q '^cause: ok' "$pp_tmp/watch.txt"

# A drop that fails is reported at once and in the report: in a user namespace root cannot
# change groups (setgroups is denied), so the drop to nobody fails.
ip netns exec "$LAB_ROUTER" unshare --user --map-root-user "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" \
	watch web-1 --seconds 1 >"$pp_tmp/nodrop.txt" 2>&1
check "failed drop: warned on stderr at once" grep -q '^portpilot: warning: cannot drop privileges to nobody' "$pp_tmp/nodrop.txt"
check "failed drop: a failed check in the report" grep -q '\[fail\] privileges .*runs on with root' "$pp_tmp/nodrop.txt"

# UDP mapping to the lab's echo service; then to a port where nothing listens.
"$PORTPILOT" -f "$PT" add game protocol=udp public_port=7000 internal_ip=192.168.2.101 \
	internal_port="$LAB_UDP_PORT" >/dev/null && "$PORTPILOT" -f "$PT" add dead protocol=udp \
	public_port=7001 internal_ip=192.168.2.101 internal_port=5999 >/dev/null && plab_apply
plab_probe game --reflector "$REFL"
expect_cause "udp mapping with an echo service" ok
plab_probe dead --reflector "$REFL"
expect_cause "udp mapping, nothing listening (ICMP port unreachable)" not_listening

# [probe] in portpilot.conf: reflector URL and token file, with a reflector that needs the token.
printf 'token=lab-token-1\n' >"$pp_tmp/refl.token"
chmod 600 "$pp_tmp/refl.token"
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9450" --token-file "$pp_tmp/refl.token" \
	--insecure-http >>"$pp_tmp/reflector.log" 2>&1 &
echo $! >>"$LAB_DIR/pids"
printf '[probe]\nreflector = http://%s:9450\ntoken_file = %s\n' "$LAB_INET_IP" "$pp_tmp/refl.token" \
	>"$pp_tmp/pp.conf"
tok_up() { [ "$(lab_ns "$LAB_ROUTER" curl -s -o /dev/null -w '%{http_code}' "http://$LAB_INET_IP:9450/v1/whoami")" = 401 ]; }
wait_for 10 tok_up
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/pp.conf" probe web-1 --json >"$pp_tmp/out.json" 2>"$pp_tmp/err"
PRC=$?
expect_cause "reflector and token from [probe] in portpilot.conf" ok
check "conf: the outside test ran" sh -c "jq -e '.outside_tested' '$pp_tmp/out.json' >/dev/null"
check "conf: the token is not printed" sh -c "! grep -q lab-token-1 '$pp_tmp/out.json' '$pp_tmp/err'"
check "conf: a token sent to an http:// reflector draws a warning" \
	grep -q 'warning: the reflector token goes to http://.* in clear' "$pp_tmp/err"
printf 'token=wrong\n' >"$pp_tmp/refl.token"
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/pp.conf" probe web-1 >"$pp_tmp/out.txt" 2>&1
check "conf: a wrong token is reported as the reflector's 401" grep -q 'answered 401' "$pp_tmp/out.txt"

"$PORTPILOT" -f "$PT" probe nosuch >/dev/null 2>"$pp_tmp/err"
check "unknown mapping: exit 2" [ $? -eq 2 ]
check "unknown mapping: the error names it and the table" grep -q "$PT: no mapping named 'nosuch'" "$pp_tmp/err"
"$PORTPILOT" -f "$PT" probe >/dev/null 2>&1
check "no mapping named: exit 2" [ $? -eq 2 ]
"$PORTPILOT" reflector >/dev/null 2>&1
check "reflector without --listen: exit 2" [ $? -eq 2 ]
pp_done
