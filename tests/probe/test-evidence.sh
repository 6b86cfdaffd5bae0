#!/bin/sh
# The evidence file of --write: mode 0600, packet headers only (a client's Authorization and
# Cookie headers, a UDP datagram's text never land in it), never written through a link or
# over another user's file; the file still replays.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
command -v tcpdump >/dev/null || { echo "# needs tcpdump"; exit 77; }

plab_up udp && plab_apply || not_ok "lab"
"$PORTPILOT" -f "$PT" add game protocol=udp public_port=7000 internal_ip=192.168.2.101 \
	internal_port="$LAB_UDP_PORT" >/dev/null && plab_apply || not_ok "udp mapping"

SECRET_AUTH="Basic cHAtdXNlcjpwcC1wYXNzd29yZC03MzE5"   # pp-user:pp-password-7319
SECRET_COOKIE="pp_session=cookie-secret-5521"
SECRET_UDP="udp-secret-payload-8842"
F=$pp_tmp/w.pcap

# watch_with_client NAME FILE CLIENT: watch NAME for 3 s saving to FILE, run CLIENT once armed.
watch_with_client() {
	ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" watch "$1" --seconds 3 \
		--write "$2" >"$pp_tmp/watch.txt" 2>&1 &
	w=$!
	# The capture is armed once the process has left root (it drops right after opening).
	dropped() { _u=$(sed -n 's/^Uid:[[:space:]]*//p' "/proc/$w/status" 2>/dev/null); [ -n "$_u" ] && [ "${_u%%[[:space:]]*}" != 0 ]; }
	wait_for 10 dropped
	"$3"
	wait $w
}
http_client() {
	i=0
	while [ $i -lt 3 ]; do
		ip netns exec "$LAB_INET" curl -s --connect-timeout 2 --max-time 3 -H "Authorization: $SECRET_AUTH" \
			-H "Cookie: $SECRET_COOKIE" "http://203.0.113.1:8080/path-secret-1234?q=secret-query" \
			>>"$pp_tmp/body" 2>/dev/null
		i=$((i + 1))
	done
}
: >"$pp_tmp/body"
watch_with_client web-1 "$F" http_client
check "the client was answered through the mapping (the request crossed)" test -s "$pp_tmp/body"
check "watch says the file holds headers only, mode 0600" \
	grep -q "saving to $F (mode 0600): packet headers only" "$pp_tmp/watch.txt"
check "--write file is mode 0600 (got $(stat -c %a "$F"))" test "$(stat -c %a "$F")" = 600
check "--write file is owned by root, who wrote it" test "$(stat -c %u "$F")" = 0
tcpdump -nn -r "$F" >"$pp_tmp/dump.txt" 2>/dev/null
check "the file is a pcap tcpdump reads, with the client's SYN" \
	grep -q '203.0.113.10.[0-9]* > 203.0.113.1.8080: Flags \[S\]' "$pp_tmp/dump.txt"
# tcpdump prints the original length: a packet that carried the request is in the file, cut.
check "the request's packet is recorded (original length kept)" \
	grep -q '203.0.113.10.[0-9]* > 203.0.113.1.8080: Flags \[P.\].* length [1-9]' "$pp_tmp/dump.txt"
for s in "Authorization" "$SECRET_AUTH" "cHAtdXNlcjpwcC1wYXNzd29yZC03MzE5" "Cookie" "cookie-secret-5521" \
	"path-secret-1234" "secret-query" "HTTP/1"; do
	check "the file does not hold '$s'" sh -c "! grep -aqF -- '$s' '$F'"
done

# UDP: the datagram's text is payload too.
udp_client() { lab_udp "$LAB_INET" 203.0.113.1 7000 "$SECRET_UDP" >"$pp_tmp/udp.out"; }
watch_with_client game "$pp_tmp/u.pcap" udp_client
check "the UDP client was answered" grep -q "$SECRET_UDP" "$pp_tmp/udp.out"
check "udp: the datagram is recorded" sh -c \
	"tcpdump -nn -r '$pp_tmp/u.pcap' 2>/dev/null | grep -q '203.0.113.10.[0-9]* > 203.0.113.1.7000: '"
check "udp: the file does not hold the datagram's text" sh -c "! grep -aqF '$SECRET_UDP' '$pp_tmp/u.pcap'"

# An ICMP error keeps the header it quotes (the probe reads its ports), not the quoted payload.
"$PORTPILOT" -f "$PT" add dead protocol=udp public_port=7001 internal_ip=192.168.2.101 \
	internal_port=5999 >/dev/null && plab_apply || not_ok "dead udp mapping"
dead_client() { lab_udp "$LAB_INET" 203.0.113.1 7001 "$SECRET_UDP" >/dev/null; }
watch_with_client dead "$pp_tmp/d.pcap" dead_client
check "icmp: the port unreachable is recorded with the quoted ports" sh -c \
	"tcpdump -nn -r '$pp_tmp/d.pcap' 2>/dev/null | grep -q 'ICMP 203.0.113.1 udp port 7001 unreachable'"
check "icmp: the quoted datagram's text is not in the file" sh -c "! grep -aqF '$SECRET_UDP' '$pp_tmp/d.pcap'"
"$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe dead --json --read "$pp_tmp/d.pcap" >"$pp_tmp/out.json" 2>"$pp_tmp/err"
check "icmp: the replay parses the cut ICMP error back to the outside attempt" sh -c \
	"jq -r '.evidence[]' '$pp_tmp/out.json' | grep -q 'ICMP unreachable from 192.168.2.101 (code 3) about udp 203.0.113.10:[0-9]* > 192.168.2.101:5999'"

# The headers-only file still replays to the same verdict.
"$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json --read "$F" >"$pp_tmp/out.json" 2>"$pp_tmp/err"
PRC=$?
check "replay of the headers-only file traces the outside attempts end to end" sh -c \
	"jq -e '[.attempts[] | select(.wan_in and .lan_out and .wan_out and .answer == \"syn-ack\")] | length > 0' '$pp_tmp/out.json' >/dev/null"

# An existing file of root's own, mode 0644: replaced, and 0600 afterwards.
printf 'old evidence\n' >"$pp_tmp/own.pcap"
chmod 644 "$pp_tmp/own.pcap"
plab_probe web-1 --write "$pp_tmp/own.pcap"
check "own existing file: replaced (exit $PRC)" sh -c "! grep -q 'old evidence' '$pp_tmp/own.pcap' && tcpdump -r '$pp_tmp/own.pcap' >/dev/null 2>&1"
check "own existing file: mode 0600 now" test "$(stat -c %a "$pp_tmp/own.pcap")" = 600

# A symbolic link: refused, its target untouched.
printf 'precious\n' >"$pp_tmp/target"
chmod 644 "$pp_tmp/target"
ln -s "$pp_tmp/target" "$pp_tmp/link.pcap"
plab_probe web-1 --write "$pp_tmp/link.pcap"
check "symlink: exit 1" test "$PRC" = 1
check "symlink: the error names it and says why" grep -q -- "--write $pp_tmp/link.pcap: is a symbolic link" "$pp_tmp/err"
check "symlink: the target is untouched" sh -c "[ \"\$(cat '$pp_tmp/target')\" = precious ] && [ \$(stat -c %a '$pp_tmp/target') = 644 ]"
# A dangling link (the classic /tmp attack: make root create a file elsewhere): refused too.
ln -s "$pp_tmp/created-by-root" "$pp_tmp/dangling.pcap"
plab_probe web-1 --write "$pp_tmp/dangling.pcap"
check "dangling symlink: exit 1, nothing created" sh -c "[ $PRC = 1 ] && [ ! -e '$pp_tmp/created-by-root' ]"

# Another user's file: refused, untouched.
printf 'theirs\n' >"$pp_tmp/theirs.pcap"
chown nobody "$pp_tmp/theirs.pcap"
plab_probe web-1 --write "$pp_tmp/theirs.pcap"
check "another user's file: exit 1, error says whose files it replaces" sh -c \
	"[ $PRC = 1 ] && grep -q 'the capture replaces only its own files' '$pp_tmp/err'"
check "another user's file: untouched" grep -q theirs "$pp_tmp/theirs.pcap"
# A second name of a file (a hard link) and a FIFO: refused, without hanging.
printf 'linked\n' >"$pp_tmp/orig"
ln "$pp_tmp/orig" "$pp_tmp/hard.pcap"
plab_probe web-1 --write "$pp_tmp/hard.pcap"
check "hard link: exit 1, the file untouched" sh -c "[ $PRC = 1 ] && grep -q linked '$pp_tmp/orig'"
mkfifo "$pp_tmp/fifo.pcap"
# Bounded: a writer that opens a FIFO with no reader waits for ever (124 is timeout's exit).
lab_ns "$LAB_ROUTER" timeout 30 "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json \
	--write "$pp_tmp/fifo.pcap" >"$pp_tmp/out.json" 2>"$pp_tmp/err"
PRC=$?
check "FIFO: exit 1 at once (no hang; got $PRC)" test "$PRC" = 1
pp_done
