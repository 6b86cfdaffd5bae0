#!/bin/sh
# The router's own switches and other tools' rules, each fault in several forms, on ONE lab: break
# it, send real traffic from outside, ask status and the probe, restore. Every row must get the
# outside answer, the status state of the mapping and the probe's cause right.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
plab_up udp || { not_ok "lab builds"; pp_done; }
# Rows named udp-* probe voice, a udp mapping to the lab's echo on srv2; the others web-1.
plab_add_voice
R=$LAB_ROUTER
ipt() { ip netns exec "$R" iptables "$@"; }
sys() { ip netns exec "$R" sysctl -qw "$@"; }
jqt() { jq -e "$@" >/dev/null 2>&1; }
check "apply the seed table" plab_apply
plab_reflector "$LAB_INET" "$LAB_INET_IP" || { not_ok "reflector starts"; pp_done; }

# A second path between the router and the internet host (eth2, 198.51.100.0/24): a route to the
# reflector through it makes the path asymmetric (attempts arrive on eth0, the route back leaves
# by eth2), as on a site with two uplinks.
_lab_link "$R" eth2 "$LAB_INET" eth2
ip -n "$R" addr add 198.51.100.2/24 dev eth2
ip -n "$LAB_INET" addr add 198.51.100.1/24 dev eth2
asym() { ip -n "$R" route add "$LAB_INET_IP/32" via 198.51.100.1 dev eth2 src "$LAB_WAN_IP"; }

ip netns exec "$R" iptables-save >"$pp_tmp/clean.rules"
restore() {
	for tb in raw mangle; do ipt -t $tb -F; ipt -t $tb -X; done
	ip netns exec "$R" iptables-restore <"$pp_tmp/clean.rules"
	for ifc in all eth0 eth1; do sys net.ipv4.conf.$ifc.rp_filter=0; done
	sys net.ipv4.conf.eth0.forwarding=1 net.ipv4.conf.eth1.forwarding=1
	ip -n "$R" route del "$LAB_INET_IP/32" 2>/dev/null
	for t in blackhole unreachable unicast; do ip -n "$R" route del $t 192.168.2.101/32 2>/dev/null; done
	# Flows of the last scenario must not stand for the next one's.
	ip netns exec "$R" conntrack -F >/dev/null 2>&1
	return 0
}

# name | cause the probe must name | what the outside gets (curl, or the udp echo; - nothing) |
# status of the mapping | the fault. web-1 is tcp 8080 -> 192.168.2.101:80, voice udp 6000 ->
# 192.168.2.102:5005, on WAN eth0, LAN eth1.
cat >"$pp_tmp/scenarios" <<'EOF'
dnat-prerouting      | foreign_dnat   | srv-103 | shadowed | ipt -t nat -I PREROUTING 1 -p tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80
dnat-docker-chain    | foreign_dnat   | srv-102 | shadowed | ipt -t nat -N DOCKER && ipt -t nat -A DOCKER -i docker0 -j RETURN && ipt -t nat -A DOCKER ! -i docker0 -p tcp --dport 8080 -j DNAT --to-destination 192.168.2.102:80 && ipt -t nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -j DOCKER
dnat-range-wan-only  | foreign_dnat   | srv-103 | shadowed | ipt -t nat -I PREROUTING 1 -i eth0 -p tcp -m multiport --dports 8000:8085,9000 -j DNAT --to-destination 192.168.2.103:80
redirect-to-router   | foreign_dnat   | -       | shadowed | ipt -t nat -I PREROUTING 1 -i eth0 -p tcp --dport 8080 -j REDIRECT --to-ports 8999
notrack-raw          | foreign_dnat   | -       | shadowed | ipt -t raw -I PREROUTING 1 -p tcp --dport 8080 -j CT --notrack
drop-forward         | foreign_drop   | -       | blocked  | ipt -I FORWARD 1 -d 192.168.2.101 -p tcp --dport 80 -j DROP
reject-forward-rst   | foreign_drop   | -       | blocked  | ipt -I FORWARD 1 -p tcp --dport 80 -j REJECT --reject-with tcp-reset
reject-forward-icmp  | foreign_drop   | -       | blocked  | ipt -I FORWARD 1 -o eth1 -j REJECT --reject-with icmp-host-prohibited
drop-forward-chain   | foreign_drop   | -       | blocked  | ipt -N fw-lan && ipt -A fw-lan -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT && ipt -A fw-lan -o eth1 -j DROP && ipt -I FORWARD 1 -j fw-lan
drop-replies         | foreign_drop   | -       | blocked  | ipt -I FORWARD 1 -s 192.168.2.101 -p tcp --sport 80 -j DROP
drop-raw             | foreign_drop   | -       | blocked  | ipt -t raw -I PREROUTING 1 -p tcp --dport 8080 -j DROP
drop-mangle          | foreign_drop   | -       | blocked  | ipt -t mangle -I PREROUTING 1 -i eth0 -p tcp --dport 8080 -j DROP
drop-mangle-forward  | foreign_drop   | -       | blocked  | ipt -t mangle -I FORWARD 1 -d 192.168.2.101 -j DROP
forwarding-off-wan   | ip_forward_off | -       | in_sync  | sys net.ipv4.conf.eth0.forwarding=0
forwarding-off-lan   | ip_forward_off | -       | in_sync  | sys net.ipv4.conf.eth1.forwarding=0
rp-strict-wan-asym   | rp_filter      | -       | in_sync  | asym && sys net.ipv4.conf.eth0.rp_filter=1
rp-strict-all-asym   | rp_filter      | -       | in_sync  | asym && sys net.ipv4.conf.all.rp_filter=1
route-blackhole      | lan_route      | -       | in_sync  | ip -n "$R" route add blackhole 192.168.2.101/32
route-unreachable    | lan_route      | -       | in_sync  | ip -n "$R" route add unreachable 192.168.2.101/32
route-via-wan        | lan_route      | -       | in_sync  | ip -n "$R" route add 192.168.2.101/32 via 203.0.113.10 dev eth0
control-healthy      | ok             | srv-101 | in_sync  | true
control-route-lan    | ok             | srv-101 | in_sync  | ip -n "$R" route add 192.168.2.101/32 dev eth1
control-dnat-other   | ok             | srv-101 | in_sync  | ipt -t nat -I PREROUTING 1 -p tcp --dport 8081 -j DNAT --to-destination 192.168.2.103:80
control-drop-behind  | ok             | srv-101 | in_sync  | ipt -A FORWARD -j DROP && ipt -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80
control-rp-strict    | ok             | srv-101 | in_sync  | sys net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1 net.ipv4.conf.eth1.rp_filter=1
control-rp-loose     | ok             | srv-101 | in_sync  | asym && sys net.ipv4.conf.all.rp_filter=2
udp-dnat-prerouting  | foreign_dnat   | srv-103 hi | shadowed | ipt -t nat -I PREROUTING 1 -i eth0 -p udp --dport 6000 -j DNAT --to-destination 192.168.2.103:5005
udp-drop-raw         | foreign_drop   | -       | blocked  | ipt -t raw -I PREROUTING 1 -p udp -m multiport --dports 5000:6100 -j DROP
udp-reject-forward   | foreign_drop   | -       | blocked  | ipt -I FORWARD 1 -d 192.168.2.102 -p udp -j REJECT
udp-forwarding-off-lan | ip_forward_off | -     | in_sync  | sys net.ipv4.conf.eth1.forwarding=0
udp-control-healthy  | ok             | srv-102 hi | in_sync | true
EOF

right=0 total=0 misses=""
# rcheck NAME CMD...: check, and the row is a miss when it fails.
rcheck() { _rn=$1; shift; if "$@"; then ok "$_rn"; else not_ok "$_rn"; row=0; fi; }
while IFS='|' read -r name cause body state setup <&3; do
	name=$(echo $name) cause=$(echo $cause) body=$(echo $body) state=$(echo $state)
	total=$((total + 1)) row=1
	if ! eval "$setup"; then
		not_ok "$name: the fault could not be built: $setup"
		misses="$misses $name"
		restore
		continue
	fi
	case $name in udp-*) map=voice;; *) map=web-1;; esac
	if [ $map = voice ]; then
		got=$(lab_udp "$LAB_INET" "$LAB_PUBLIC_IP" 6000 hi)
	else
		got=$(lab_http "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/")
	fi
	[ "$body" = - ] && body=""
	rcheck "$name: the outside gets '${body:-nothing}'" [ "$got" = "$body" ]
	ip netns exec "$R" "$PORTPILOT" -f "$PT" --state-dir "$pp_tmp/state" status --json >"$pp_tmp/st.json" 2>&1
	src=$?
	st=$(jq -r --arg m $map '.mappings[] | select(.name == $m) | .state' "$pp_tmp/st.json" 2>/dev/null)
	if [ "$state" = in_sync ]; then want_src=0; else want_src=1; fi
	rcheck "$name: status says $map $state (exit $want_src)" [ "$st" = "$state" -a "$src" = "$want_src" ]
	if [ "$state" != in_sync ]; then
		rcheck "$name: status names the rule" jqt --arg m $map '.mappings[] | select(.name == $m) | (.shadowed_by | test("^-A ")) and (.shadow | test("^(raw|mangle|nat|filter) [A-Z]"))' "$pp_tmp/st.json"
	fi
	plab_probe $map --reflector "$REFL"
	expect_cause "$name" "$cause"
	want_rc=1
	[ "$cause" = ok ] && want_rc=0
	[ "$(jq -r .cause "$pp_tmp/out.json" 2>/dev/null)" = "$cause" ] && [ "$PRC" = $want_rc ] || row=0
	case $cause in
	foreign_dnat|foreign_drop) rcheck "$name: the summary quotes the rule and its table" \
		jqt '.summary | test("\"-A [^ ]+ ") and test("(raw|mangle|nat|filter) [A-Z]")' "$pp_tmp/out.json";;
	ip_forward_off) rcheck "$name: the summary and fix name the interface's sysctl" \
		jqt '(.summary | test("net\\.ipv4\\.conf\\.eth[01]\\.forwarding is 0")) and (.fix | test("sysctl -w net\\.ipv4\\.conf\\.eth[01]\\.forwarding=1"))' "$pp_tmp/out.json";;
	rp_filter) rcheck "$name: the summary names the asymmetric route" \
		jqt '.summary | test("leaves by eth2")' "$pp_tmp/out.json";;
	lan_route) rcheck "$name: the summary says what the route is, the fix how to see it" \
		jqt '(.summary | test("route to 192\\.168\\.2\\.101 (is a reject route|leaves by the WAN)")) and (.fix | test("ip route get 192\\.168\\.2\\.101"))' "$pp_tmp/out.json";;
	esac
	if [ $row = 1 ]; then
		right=$((right + 1))
	else
		misses="$misses $name"
	fi
	restore
done 3<"$pp_tmp/scenarios" </dev/null
# Without a reflector every inside check passes, yet the port is another rule's: never ok.
ipt -t nat -I PREROUTING 1 -p tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80
plab_probe web-1
expect_cause "dnat-prerouting, probed without a reflector" foreign_dnat
restore
echo "# diagnosis: $right/$total scenarios named right"
[ -n "$misses" ] && echo "# misses:$misses"
check "diagnosis: $right/$total scenarios named right" [ "$right" = "$total" ]
pp_done
