#!/bin/sh
# The probe tests the IPv6 way in from outside (issue 15): the reflector, on the internet side's
# IPv6 address, connects to the server's IPv6 address while the router captures on WAN and LAN.
# The verdict comes from where the attempt stopped: healthy; a carrier CPE that drops inbound new
# IPv6 connections (ip6tables) or rejects them (nftables, a reset: built differently); the
# router's own firewall dropping it before the pinhole; and behind a carrier NAT for IPv4 the
# cgnat verdict says the service is reachable over IPv6, tested from outside.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab6_begin cgnat
# probe6 NAME: probe from the router with both reflectors, JSON in out.json.
probe6() {
	_n=$1; shift
	pp -c "$pp_tmp/none.conf" probe "$_n" "$@" --reflector "http://$LAB_INET_IP:9443" \
		--reflector6 "http://[$LAB_INET6]:9443" --json >"$pp_tmp/out.json" 2>"$pp_tmp/err"
	PRC=$?
}
# expect6 NAME JQ-PATH CAUSE
expect6() {
	_got=$(jq -r "$2" "$pp_tmp/out.json" 2>/dev/null)
	if [ "$_got" = "$3" ]; then ok "$1: $2 is $3 ($(jq -r .elapsed_s "$pp_tmp/out.json") s)"; else
		not_ok "$1: expected $2 $3, got '${_got:-none}' (exit $PRC)"
		jq -r '.summary, .ipv6.summary, .checks[].text' "$pp_tmp/out.json" 2>/dev/null | sed 's/^/#   /'
		sed 's/^/#   /' "$pp_tmp/err"
	fi
}
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9443,[$LAB_INET6]:9443" \
	--rate 1000 >"$pp_tmp/refl.log" 2>&1 &
rpid=$!
at_exit "kill $rpid 2>/dev/null"
lab_serve6 "$LAB_SRV1" 8080 srv-101-v6 || not_ok "IPv6 server"
lab_serve "$LAB_SRV2" 8090 srv-102-v4 2>/dev/null || not_ok "IPv4 server"
lab_serve6 "$LAB_SRV2" 8090 srv-102-v6 || not_ok "IPv6 server 2"
lab6_web2_table
up() { lab_ns "$LAB_ROUTER" curl -s -o /dev/null --max-time 1 "http://[$LAB_INET6]:9443/v1/whoami"; }
check "control: outside reaches [srv1]:8080 over IPv6 (the lab's own test)" waits 10 outside6
check "the reflector answers over IPv6" waits 10 up

probe6 web-6
expect6 "healthy from outside" .cause ok
check "  the summary says reachable over IPv6 from outside, tested" j '.summary | test("reachable over IPv6 from outside: the reflector 2001:db8:ffff::10 connected")'
check "  the outside6 check passes, asked from the router's LAN address" j '.checks[] | select(.id == "outside6" and .state == "pass") | .text | test("asked from 2001:db8:1::1")'
check "  the capture saw it on the WAN, the LAN and the answer" j '.checks[] | select(.id == "outside6") | .text | test("seen on the WAN, on the LAN, and the server.s answer")'
check "  the IPv6 verdict no longer says 'not tested'" j '.ipv6.summary | test("not tested") | not'
check "  the JSON records the outside test" j '.ipv6.outside_tested == true and .ipv6.reflector.result == "connected"'

# The evidence kept (--write) and replayed (--read), IPv6 packets among it; watch shows them live.
probe6 web-6 --write "$pp_tmp/ok6.pcap"
expect6 "healthy, saved with --write" .cause ok
check "  the saved capture holds the IPv6 attempt (tcpdump reads it)" \
	sh -c "tcpdump -nn -r '$pp_tmp/ok6.pcap' 2>/dev/null | grep -q '$LAB_INET6\.[0-9]* > $SRV1_6\.8080: Flags \[S\]'"
check "  the verdict's evidence shows it on the WAN and the LAN, addresses in brackets" \
	j '[.evidence[] | select(test("packet .* (wan|lan) tcp \\[2001:db8:ffff::10\\]:[0-9]+ > \\[2001:db8:1::1:101\\]:8080 SYN"))] | length >= 2'
pp -c "$pp_tmp/none.conf" probe web-6 --read "$pp_tmp/ok6.pcap" --json >"$pp_tmp/out.json" 2>"$pp_tmp/err"
check "replay: the IPv6 packets are read back (wan SYN, lan SYN-ACK)" \
	j '([.evidence[] | select(test("wan tcp \\[2001:db8:ffff::10\\]:[0-9]+ > \\[2001:db8:1::1:101\\]:8080 SYN$"))] | length >= 1) and ([.evidence[] | select(test("lan tcp \\[2001:db8:1::1:101\\]:8080 > \\[2001:db8:ffff::10\\]:[0-9]+ SYN-ACK"))] | length >= 1)'
ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" -c "$pp_tmp/none.conf" watch web-6 --seconds 3 \
	>"$pp_tmp/watch.txt" 2>&1 &
w=$!
status() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$w/status"; }
dropped() { _u=$(status Uid); [ -n "$_u" ] && [ "${_u%%[[:space:]]*}" != 0 ]; }
wait_for 10 dropped
i=0; while [ $i -lt 5 ]; do lab_http "$LAB_INET" "http://[$SRV1_6]:8080/" >/dev/null; i=$((i + 1)); done
wait $w
check "watch: the outside host's IPv6 attempts show up as they happen" \
	grep -q "wan tcp \[$LAB_INET6\]:[0-9]* > \[$SRV1_6\]:8080 SYN" "$pp_tmp/watch.txt"

probe6 web-2
expect6 "behind the carrier NAT for IPv4" .cause cgnat
check "  the cgnat summary says reachable over IPv6, tested from outside" j '.summary | test("Over IPv6 instead \\(tested from outside\\): \\[2001:db8:1::1:102\\]:8090 is reachable over IPv6 from outside")'

# The carrier's CPE drops inbound new IPv6 connections (its replies to ours pass): ip6tables.
ip netns exec "$LAB_CGN" ip6tables -A FORWARD -i eth0 -o eth1 -m conntrack --ctstate NEW -j DROP
blocked6() { ! outside6; }
check "control: the outside host no longer gets in over IPv6" blocked6
probe6 web-6
expect6 "carrier CPE drops inbound IPv6" .cause upstream_blocked
check "  the summary says it never arrived on the WAN, IPv6 words" j '.summary | test("could not reach \\[2001:db8:1::1:101\\]:8080 over IPv6 \\(timeout\\) and its attempt never arrived on the router.s WAN.*drops inbound IPv6")'
check "  the fix names the CPE" j '.fix | test("CPE")'
check "  the outside6 check says never seen on the WAN" j '.checks[] | select(.id == "outside6" and .state == "fail") | .text | test("never seen on the WAN")'
probe6 web-2
expect6 "  behind CGNAT too" .cause cgnat
check "  the cgnat summary says IPv6 is blocked upstream, tested from outside" j '.summary | test("Over IPv6 instead \\(tested from outside\\): .*never arrived.*\\(upstream_blocked\\)")'
check "  and its ipv6 verdict is upstream_blocked" j '.ipv6.cause == "upstream_blocked"'
ip netns exec "$LAB_CGN" ip6tables -F FORWARD

# Built differently: nftables in the CPE, a reset to every new inbound TCP over IPv6 (a REJECT:
# the reflector sees "refused", as from a closed port, yet nothing reached the router).
if ip netns exec "$LAB_CGN" nft -f - <<'NFT'
table inet cpe {
	chain forward_in {
		type filter hook forward priority 0; policy accept;
		iifname "eth0" meta nfproto ipv6 ct state new meta l4proto tcp reject with tcp reset
	}
}
NFT
then
	probe6 web-6
	expect6 "CPE rejects inbound IPv6 with a reset (nftables)" .cause upstream_blocked
	check "  the summary says refused, never arrived, rejects" j '.summary | test("\\(refused\\) and its attempt never arrived on the router.s WAN.*rejects inbound IPv6")'
	ip netns exec "$LAB_CGN" nft delete table inet cpe
else
	not_ok "nft in the CPE namespace"
fi

# The router's own firewall drops the reflector before the pinhole (a rule above portpilot's):
# the attempt arrives on the WAN, never leaves on the LAN.
ip netns exec "$R" ip6tables -I FORWARD 1 -s "$LAB_INET6" -j DROP
probe6 web-6
expect6 "a rule on the router drops it before the pinhole" .cause foreign_drop
check "  the summary says seen on the WAN, never on the LAN" j '.summary | test("arrived on the router.s WAN but never left on the LAN")'
ip netns exec "$R" ip6tables -D FORWARD 1

# The server's firewall drops the reflector's address only (it answers the router, on and off
# its link): the attempt reaches the LAN, no answer.
ip netns exec "$LAB_SRV1" ip6tables -A INPUT -s "$LAB_INET6" -p tcp --dport 8080 -j DROP
probe6 web-6
expect6 "the server's firewall drops outside clients" .cause host_firewall
check "  the summary says it reached the LAN and the server never answered" j '.summary | test("reached \\[2001:db8:1::1:101\\]:8080 on the LAN, and the server never answered")'
ip netns exec "$LAB_SRV1" ip6tables -F INPUT

probe6 web-6
expect6 "repaired (control)" .cause ok
# [probe] reflector6 in portpilot.conf, as the command line's --reflector6.
printf '[probe]\nreflector6 = http://[%s]:9443\n' "$LAB_INET6" >"$pp_tmp/p6.conf"
pp -c "$pp_tmp/p6.conf" probe web-6 --json >"$pp_tmp/out.json" 2>"$pp_tmp/err"
check "[probe] reflector6 in the configuration: the outside test runs and passes" \
	j '.checks[] | select(.id == "outside6" and .state == "pass")'
kill $rpid
pp_done
