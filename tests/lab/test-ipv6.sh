#!/bin/sh
# IPv6 (issue 15): pinholes to the servers' own global addresses (2001:db8::/32, no NAT), real TCP
# and UDP from outside; allow with an IPv6 CIDR admits one outside host and not the other; a
# mapping that did not ask for IPv6 stays closed over IPv6; status drift; rollback of a lost
# session removes the pinholes it added. Runs on the backend PP_BACKEND names (lab.sh).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v ip6tables >/dev/null || { echo "# ip6tables missing"; exit 77; }
lab_begin outside2
lab_ipv6
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
waits() ( wait_for "$@" )   # a subshell: lib.sh's check and wait_for share a variable
ip6t() { ip netns exec "$R" ip6tables "$@"; }
SRV1_6=$LAB_PREFIX6::1:101 SRV2_6=$LAB_PREFIX6::1:102 SRV3_6=$LAB_PREFIX6::1:103
for s in "$LAB_SRV1 srv-101" "$LAB_SRV2 srv-102" "$LAB_SRV3 srv-103"; do
	set -- $s
	lab_serve6 "$1" 8080 "$2-v6" || { not_ok "IPv6 server in $1"; pp_done; }
done
# The nftables backend opens no pinholes yet: it must refuse the table, not drop its IPv6 side.
if [ "$PORTPILOT_BACKEND" = nftables ]; then
	printf '[site]\nwan_interface = %s\nlan_interface = %s\n\n[web-6]\npublic_port = 8080\ninternal_ip = %s\ninternal_ip6 = ::1:101\n' \
		"$LAB_WAN_IF" "$LAB_LAN_IF" "$LAB_SRV1_IP" >"$T"
	check "nftables: apply of a mapping with IPv6 is refused" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/o 2>&1"
	check "  naming file:line, the mapping and the fix" grep -qF "mappings.ini:5: [web-6] ipv6: the nftables backend does not open IPv6 pinholes yet; set [site] backend = iptables" "$pp_tmp/o"
	check "  and nothing was written" sh -c "! ip netns exec $R nft list table inet portpilot >/dev/null 2>&1"
	pp_done
fi
http6() { lab_http "$1" "http://[$2]:8080/"; }
body6() { [ "$(http6 "$1" "$2")" = "$3" ]; }
none6() { [ -z "$(http6 "$1" "$2")" ]; }
udp6_is() { [ "$(lab_udp6 "$1" "$2" 8080 ping)" = "$3 ping" ]; }
# udp6_from NS SPORT IP TEXT: one datagram from a fixed source port (one conntrack flow), the reply.
udp6_from() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(1.0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", int(sys.argv[1])))
s.sendto(sys.argv[3].encode(), (sys.argv[2], 8080))
try: print(s.recvfrom(2048)[0].decode())
except OSError: sys.exit(1)' "$2" "$3" "$4"
}
flow_is() { [ "$(udp6_from "$1" "$2" "$3" ping)" = "$4 ping" ]; }
flow_none() { ! udp6_from "$1" "$2" "$3" ping >/dev/null; }
udp6_none() { ! lab_udp6 "$1" "$2" 8080 ping >/dev/null; }

# web-6: both protocols, the host id on the LAN's prefix; cam: only inet2's IPv6 network;
# web-2 asks for nothing over IPv6, web-3 has internal_ip6 but ipv6 = no.
cat >"$T" <<EOT
[site]
wan_interface = $LAB_WAN_IF
lan_interface = $LAB_LAN_IF
lan_subnet    = $LAB_LAN_SUBNET

[web-6]
protocol      = both
public_port   = 8080
internal_ip   = $LAB_SRV1_IP
internal_ip6  = ::1:101

[web-2]
public_port   = 8090
internal_ip   = $LAB_SRV2_IP
internal_port = 80

[web-3]
public_port   = 8091
internal_ip   = $LAB_SRV3_IP
internal_port = 8091
internal_ip6  = $SRV3_6
ipv6          = no

[cam]
public_port   = 8080
internal_ip6  = $SRV3_6
ipv6          = only
allow         = 2001:db8:100::/64
EOT

check "before apply: the router's IPv6 firewall drops the way in" none6 "$LAB_INET" "$SRV1_6"
check "the LAN host reaches srv1 over IPv6 (the path itself works)" body6 "$LAB_LANHOST" "$SRV1_6" srv-101-v6
check "check: clean" ppq check
ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=0
check "apply warns when IPv6 forwarding is off" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run 2>&1 | grep -q 'IPv6 forwarding is off'"
ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
check "  and not when it is on" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run 2>&1 | grep -q 'IPv6 forwarding is off'"
ip6t -P FORWARD ACCEPT
check "apply warns when ip6 FORWARD accepts everything by policy" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run 2>&1 | grep -q 'ip6tables filter FORWARD accepts everything by policy'"
ip6t -P FORWARD DROP
check "apply --dry-run shows the pinholes as ip6 filter lines" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run 2>&1 | grep -qF '    + ip6 filter -s 2001:db8:100::/64 -d $SRV3_6/128 -p tcp -m tcp --dport 8080 -m comment --comment \"pp:cam\" -j PP-OK'"
check "apply" ppq apply
check "TCP from outside to [srv1]:8080 through the pinhole" body6 "$LAB_INET" "$SRV1_6" srv-101-v6
check "UDP from outside to [srv1]:8080 through the pinhole" udp6_is "$LAB_INET" "$SRV1_6" srv-101-v6
check "web-2 asked for nothing over IPv6: [srv2]:8080 stays closed" none6 "$LAB_INET" "$SRV2_6"
check "the pinholes name no srv2 address" sh -c "! ip netns exec $R ip6tables-save | grep -q -- '$SRV2_6'"
check "web-3 (internal_ip6 but ipv6 = no) has no pinhole" sh -c "! ip netns exec $R ip6tables-save | grep -q 'pp:web-3'"
check "cam: an IPv6 CIDR in allow admits inet2" body6 "$LAB_INET2" "$SRV3_6" srv-103-v6
check "cam: and not inet" none6 "$LAB_INET" "$SRV3_6"
check "cam: UDP is not opened (protocol tcp)" udp6_none "$LAB_INET2" "$SRV3_6"
check "cam (ipv6 = only) writes no IPv4 DNAT" sh -c "! ip netns exec $R iptables-save -t nat | grep -q 'pp:cam'"
check "status: in sync" ppq status
check "status --json: cam in_sync" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -q '\"name\":\"cam\",\"state\":\"in_sync\"'"
check "status counts the pinhole's connections" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -Eq '\"name\":\"cam\",[^}]*\"packets\":[1-9]'"

# The IPv6 side in status (issue 15 item 6): the pinhole's address:port, its own state, counters.
ip netns exec $R $PORTPILOT -f $T --state-dir $S status >$pp_tmp/st 2>&1
ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json >$pp_tmp/stj 2>&1
check "status: web-6's IPv6 row names its pinhole on the LAN prefix, in sync" grep -Eq "^  ipv6  \\[$SRV1_6\\]:8080 in_sync, [0-9]+ packets" "$pp_tmp/st"
check "status: cam's IPv6 row counts its connections" grep -Eq "^  ipv6  \\[$SRV3_6\\]:8080 in_sync, [1-9][0-9]* packets, [1-9][0-9]* bytes" "$pp_tmp/st"
check "status: web-2 (no IPv6) has no IPv6 row" sh -c "grep -A1 '^web-2 ' $pp_tmp/st | grep -q '^web-3 '"
check "status: web-3 (ipv6 = no) has no IPv6 row" sh -c "! grep -A1 '^web-3 ' $pp_tmp/st | grep -q '^  ipv6'"
check "status: every line fits 80 columns" sh -c "! awk 'length > 80' $pp_tmp/st | grep -q ."
check "status --json: cam's ipv6 object, in sync, with packets" grep -Eq "\"name\":\"cam\",[^{]*\"ipv6\":\\{\"address\":\"$SRV3_6\",\"pinhole\":\"\\[$SRV3_6\\]:8080\",\"host_id\":false,\"state\":\"in_sync\",\"packets\":[1-9]" "$pp_tmp/stj"
check "status --json: web-6's ipv6 follows the prefix (host_id)" grep -q "\"name\":\"web-6\",[^{]*\"ipv6\":{\"address\":\"$SRV1_6\",[^}]*\"host_id\":true" "$pp_tmp/stj"
check "status --json: web-2 has \"ipv6\":null" grep -q '"name":"web-2",[^{]*"ipv6":null}' "$pp_tmp/stj"

# Drift: a pinhole deleted by hand.
rule=$(ip6t -S PP-PIN | grep 'pp:cam' | head -1 | sed 's/^-A /-D /')
eval "ip6t $rule"
check "a deleted pinhole: status says cam missing" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -q '\"name\":\"cam\",\"state\":\"missing\"'"
check "status exits 1 on drift" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S status >/dev/null 2>&1"
check "  and cam's IPv6 row says missing" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -Eq '^  ipv6  \\[$SRV3_6\\]:8080 missing'"
check "  while web-6's stays in sync" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -q '\"name\":\"web-6\",[^{]*\"ipv6\":{[^}]*\"state\":\"in_sync\"'"
check "apply puts it back" ppq apply
check "inet2 reaches cam again" body6 "$LAB_INET2" "$SRV3_6" srv-103-v6
ip6t -D FORWARD -j PP-FWD
check "a deleted ip6 FORWARD hook is ruleset drift" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -qF 'ip6 filter: missing -A FORWARD -j PP-FWD'"
check "apply repairs the hook" ppq apply
check "outside reaches srv1 again" body6 "$LAB_INET" "$SRV1_6" srv-101-v6

# Rollback of a lost session: srv2 gains a pinhole in an apply --confirm that nobody confirms
# (the session that ran it is gone); the timer puts back the snapshot, IPv6 part included.
rules6() { ip netns exec "$R" ip6tables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
rules6 >"$pp_tmp/v6-before"
cat >>"$T" <<EOT

[srv2-6]
protocol      = both
public_port   = 8080
internal_ip6  = $SRV2_6
ipv6          = only
EOT
at_exit "kill_timer '$S' 2>/dev/null"
check "apply --confirm 3 (never confirmed)" ppq apply --confirm 3
check "srv2 is reachable over IPv6 meanwhile" body6 "$LAB_INET" "$SRV2_6" srv-102-v6
check "a UDP flow to srv2 from inet port 40001 runs" flow_is "$LAB_INET" 40001 "$SRV2_6" srv-102-v6
check "after the deadline the timer closed srv2's pinhole" waits 12 none6 "$LAB_INET" "$SRV2_6"
check "the rollback is complete" waits 3 test ! -e "$S/pending"
check "the running UDP flow to srv2 was cut too (its conntrack entry removed)" flow_none "$LAB_INET" 40001 "$SRV2_6"
check "no conntrack entry to srv2 is left" sh -c "! ip netns exec $R conntrack -L -f ipv6 -d $SRV2_6 2>/dev/null | grep -q dport=8080"
rules6 >"$pp_tmp/v6-after"
check "ip6tables holds exactly what it held before the apply" cmp -s "$pp_tmp/v6-before" "$pp_tmp/v6-after"
check "srv1's pinhole survived the rollback" body6 "$LAB_INET" "$SRV1_6" srv-101-v6

# The delegated prefix changes (2001:db8:1::/64 -> 2001:db8:2::/64): watch6 moves web-6's
# pinhole (a host id) to srv1's new address, with no command typed. srv2-6 leaves the table first.
sed -i '/^\[srv2-6\]/,$d' "$T"
ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" watch6 >"$pp_tmp/w6.log" 2>&1 &
w6=$!
at_exit "kill $w6 2>/dev/null"
check "watch6 starts, naming the prefix" waits 5 grep -q "watching eth1: prefix 2001:db8:1::/64" "$pp_tmp/w6.log"
NEW1=2001:db8:2::1:101
pin_for() { ip netns exec "$R" ip6tables-save | grep -q -- "-d $1/128 .*pp:web-6"; }
t0=$(date +%s%N)
lab_prefix6 2001:db8:1 2001:db8:2
check "the pinhole moves to srv1's new address" wait_for 10 pin_for "$NEW1"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "# prefix change followed in $ms ms (router's address change to the new pinhole in ip6tables, polled every 50 ms)"
check "within 3 s ($ms ms)" test "$ms" -lt 3000
check "no pinhole for the old address is left" sh -c "! ip netns exec $R ip6tables-save | grep -q -- '-d $SRV1_6/128'"
check "outside reaches srv1 at its new address" body6 "$LAB_INET" "$NEW1" srv-101-v6
check "UDP too" udp6_is "$LAB_INET" "$NEW1" srv-101-v6
check "watch6 logged the change and its time" grep -q "prefix 2001:db8:2::/64 followed: rules in place [0-9]* ms after the first address event" "$pp_tmp/w6.log"
sed -n 's/^.*watch6: \(prefix .* followed.*\)/# watch6: \1/p' "$pp_tmp/w6.log"
check "status: in sync after the move" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -q '\"name\":\"web-6\",\"state\":\"in_sync\"'"
kill $w6 2>/dev/null

# Boot: the kernel lost portpilot's ip6tables chains; apply --restore brings back the persisted
# (confirmed) pinholes, the IPv6 part of the record included.
ip6t -D FORWARD -j PP-FWD
for c in PP-FWD PP-PIN PP-OK; do ip6t -F $c; done
for c in PP-FWD PP-PIN PP-OK; do ip6t -X $c; done
check "with the chains gone srv1 is closed" none6 "$LAB_INET" "$NEW1"
check "apply --restore" ppq apply --restore
check "the pinhole is back after the restore" body6 "$LAB_INET" "$NEW1" srv-101-v6

# Nothing over IPv6 at all: no chain, no hook, not even an empty one.
sed -i '/^internal_ip6/d; /^ipv6/d; /^allow/d' "$T"
sed -i '/^\[cam\]/,$d' "$T"
check "apply of a table without IPv6" ppq apply
check "ip6tables: no portpilot chain or hook left" sh -c "! ip netns exec $R ip6tables-save | grep -q 'PP-'"
check "srv1 closed over IPv6 again" none6 "$LAB_INET" "$SRV1_6"
check "IPv4 still forwards web-2" body_is "$LAB_INET" "http://$LAB_PUBLIC_IP:8090/" srv-102
pp_done
