#!/bin/sh
# NAT66 beyond the WAN (issue 15 item 2), on the backend PP_BACKEND names: the router's own
# connections to its public IPv6 address reach the server (nat output, as IPv4's); a LAN client
# at that address reaches it too and gets the replies (hairpin: its source masqueraded, while an
# outside client's is kept), not for a mapping with hairpin = no; a pinhole needs nothing for the
# LAN. A deleted hairpin or output rule is drift. When the last NAT66 mapping goes nothing of it
# stays (no empty ip6 nat table, no nat6/own6/hp6 left), a foreign ip6 nat rule survives, and a
# rollback puts the rules back exactly as they were.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v conntrack >/dev/null || { echo "# conntrack missing"; exit 77; }
lab6_begin outside2
ip6t() { ip netns exec "$R" ip6tables "$@"; }
LAN6=$LAB_PREFIX6::50 ROUTER_LAN6=$LAB_PREFIX6::1
lab6_servers
# Everything of the router's packet filtering, counters left out: nft's whole ruleset (which
# iptables-nft's tables are part of) and ip6tables-save, so nothing can hide from the compare.
rules_all() {
	ip netns exec "$R" nft list ruleset 2>/dev/null | sed 's/counter packets [0-9]* bytes [0-9]*//'
	ip netns exec "$R" ip6tables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}
# udp6_from NS SPORT IP PORT: one datagram from a fixed source port (one conntrack flow), the reply.
udp6_from() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(1.0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", int(sys.argv[1])))
s.sendto(b"ping", (sys.argv[2], int(sys.argv[3])))
try: print(s.recvfrom(2048)[0].decode())
except OSError: sys.exit(1)' "$2" "$3" "$4"
}
get_is() { [ "$(lab_http "$1" "http://[$2]:$3/")" = "$4" ]; }
get_none() { [ -z "$(lab_http "$1" "http://[$2]:$3/")" ]; }
udp_is() { [ "$(udp6_from "$1" "$2" "$3" "$4")" = "$5 ping" ]; }
# ct_reply_to SPORT DST: the router's conntrack entry of the UDP flow from port SPORT to 8443 is
# answered to DST (its reply tuple's destination): the client itself, or the router when masqueraded.
ct_reply_to() {
	ip netns exec "$R" conntrack -L -f ipv6 -p udp --dport 8443 2>/dev/null |
		grep "sport=$1 dport=8443 " | grep -q "src=$SRV2_6 dst=$2 sport=8080 dport=$1"
}
# same_rules FILE: FILE holds what "before" does; else the difference, as comments.
same_rules() { cmp -s "$pp_tmp/before" "$1" || { diff "$pp_tmp/before" "$1" | sed 's/^/# /'; false; }; }
status_json() { pp status --json 2>/dev/null; }
state_is() { status_json | grep -q "\"name\":\"$1\",\"state\":\"$2\""; }

{ lab6_site "hairpin       = yes"; cat <<EOT
[pin]
public_port   = 8080
internal_ip6  = ::1:101
ipv6          = only
EOT
} >"$T"
check "apply: a pinhole only" ppq apply
rules_all >"$pp_tmp/before"
check "  (it makes no ip6 nat table)" sh -c "! ip netns exec $R nft list table ip6 nat >/dev/null 2>&1"

cat >>"$T" <<EOT

[web-66]
protocol      = both
public_port   = 8443
internal_port = 8080
internal_ip6  = $SRV2_6
ipv6          = only
allow         = 2001:db8:100::/64

[web-66n]
public_port   = 8444
internal_port = 8080
internal_ip6  = $SRV3_6
ipv6          = only
hairpin       = no
EOT
cp "$T" "$pp_tmp/with66.ini"
check "apply: two NAT66 mappings" ppq apply

# 1. The router's own connections, to its public address and port (no allow list, as IPv4's).
# (the first connection after an apply may meet a cold neighbour cache on a loaded machine: bounded retries)
check "the router itself reaches [WAN]:8443 -> srv2 over TCP" waits 8 get_is "$R" "$LAB_WAN6" 8443 srv-102-v6
check "  and over UDP" udp_is "$R" 40010 "$LAB_WAN6" 8443 srv-102-v6
check "  and web-66n's [WAN]:8444 -> srv3 (hairpin = no holds the LAN only)" get_is "$R" "$LAB_WAN6" 8444 srv-103-v6
check "status counts the router's own connections as web-66n's (none came from outside yet)" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -Eq '\"name\":\"web-66n\",[^}]*\"packets\":[1-9]'"
# 2. Hairpin: a LAN client at the router's public address.
check "the outside (inet2, allowed) reaches [WAN]:8443" get_is "$LAB_INET2" "$LAB_WAN6" 8443 srv-102-v6
check "hairpin: the LAN host reaches [WAN]:8443 -> srv2 over TCP" get_is "$LAB_LANHOST" "$LAB_WAN6" 8443 srv-102-v6
hp_pk() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" status --json | sed -n 's/.*"name":"web-66",[^}]*"ipv6":{[^}]*"packets":\([0-9]*\).*/\1/p'; }
pk0=$(hp_pk)
check "hairpin: and over UDP, a flow from port 40020" udp_is "$LAB_LANHOST" 40020 "$LAB_WAN6" 8443 srv-102-v6
check "hairpin: that flow is masqueraded (srv2 answers the router's LAN address)" ct_reply_to 40020 "$ROUTER_LAN6"
check "status counts the hairpin flow as web-66's IPv6 connection (${pk0:-?} before)" sh -c "[ \$(ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | sed -n 's/.*\"name\":\"web-66\",[^}]*\"ipv6\":{[^}]*\"packets\":\([0-9]*\).*/\1/p') -gt ${pk0:-0} ]"
check "outside UDP flow from inet2 port 40021" udp_is "$LAB_INET2" 40021 "$LAB_WAN6" 8443 srv-102-v6
check "  is not masqueraded (srv2 answers inet2 itself)" ct_reply_to 40021 "$LAB_INET2_6"
check "hairpin = no: the LAN host does not reach web-66n at [WAN]:8444" get_none "$LAB_LANHOST" "$LAB_WAN6" 8444
check "  while inet does (web-66n is open to any source)" get_is "$LAB_INET" "$LAB_WAN6" 8444 srv-103-v6
check "the router's LAN address is not a way in ([LAN side]:8443 stays the router's)" get_none "$LAB_LANHOST" "$ROUTER_LAN6" 8443
check "a pinhole needs nothing for the LAN: the LAN host reaches [srv1]:8080" get_is "$LAB_LANHOST" "$SRV1_6" 8080 srv-101-v6
check "  and the router's public address is no way to srv1 (no NAT66 for a pinhole)" get_none "$LAB_LANHOST" "$LAB_WAN6" 8080
check "status: in sync" ppq status
check "status --json: web-66 in sync" state_is web-66 in_sync
check "status --json: web-66's IPv6 side in sync too, counting its connections" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -Eq '\"name\":\"web-66\",[^}]*\"ipv6\":\\{[^}]*\"state\":\"in_sync\",\"packets\":[1-9]'"

# 4. Drift: the hairpin way in, the router's own way, the masquerade of hairpin flows.
if lab_nft; then
	ip netns exec "$R" nft delete element inet portpilot hp6 "{ tcp . 8443 }"
else
	rule=$(ip6t -t nat -S PP-PRE | grep 'limit-iface-in.*pp:web-66".*-p tcp\|-p tcp.*limit-iface-in.*pp:web-66"' | grep DNAT | sed 's/^-A /-D /')
	eval "ip6t -t nat $rule"
fi
check "a deleted hairpin rule: web-66 reads drifted" state_is web-66 drifted
check "  web-66n stays in sync" state_is web-66n in_sync
check "  status exits 1" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S status >/dev/null 2>&1"
check "  the LAN host no longer reaches [WAN]:8443 over TCP" get_none "$LAB_LANHOST" "$LAB_WAN6" 8443
check "apply puts it back" ppq apply
check "  the LAN host reaches [WAN]:8443 again" get_is "$LAB_LANHOST" "$LAB_WAN6" 8443 srv-102-v6
if lab_nft; then
	ip netns exec "$R" nft delete element inet portpilot own6 "{ tcp . 8444 }"
else
	rule=$(ip6t -t nat -S PP-OUT | grep 'pp:web-66n"' | sed 's/^-A /-D /')
	eval "ip6t -t nat $rule"
fi
check "a deleted rule for the router's own connections: web-66n reads drifted" state_is web-66n drifted
check "apply puts it back" ppq apply
check "  the router reaches [WAN]:8444 again" get_is "$R" "$LAB_WAN6" 8444 srv-103-v6
if lab_nft; then
	h=$(ip netns exec "$R" nft -a list chain inet portpilot postrouting | sed -n 's/.*meta nfproto ipv6 ct mark .*masquerade # handle \([0-9]*\)$/\1/p')
	ip netns exec "$R" nft delete rule inet portpilot postrouting handle "$h"
	layout="table inet portpilot: missing chain postrouting: oifname \"$LAB_LAN_IF\" meta nfproto ipv6"
else
	ip6t -t nat -F PP-POST
	layout="ip6 nat: chain PP-POST differs"
fi
check "a deleted masquerade of hairpin flows is ruleset drift" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -qF '$layout'"
check "  (and hairpin over TCP really breaks: srv2 answers the client straight)" get_none "$LAB_LANHOST" "$LAB_WAN6" 8443
check "apply repairs it" ppq apply
check "  hairpin works again" udp_is "$LAB_LANHOST" 40022 "$LAB_WAN6" 8443 srv-102-v6

# Built otherwise: the site without hairpin and web-66 asking for it alone; a LAN client whose
# address is on a second on-link prefix, none of the router's own (the entry interface says
# "LAN", not a prefix, so it is hairpinned as well).
sed -i 's/^hairpin       = yes$/hairpin       = no/' "$T"
sed -i '/^\[web-66\]/a hairpin       = yes' "$T"
check "apply: site hairpin = no, web-66 hairpin = yes" ppq apply
check "  the LAN host reaches web-66 at [WAN]:8443" get_is "$LAB_LANHOST" "$LAB_WAN6" 8443 srv-102-v6
check "  and still not web-66n at [WAN]:8444" get_none "$LAB_LANHOST" "$LAB_WAN6" 8444
ip -n "$LAB_LANHOST" -6 addr add 2001:db8:3::50/64 dev eth0 nodad
ip -n "$R" -6 route add 2001:db8:3::/64 dev "$LAB_LAN_IF"
from_other() { [ "$(ip netns exec "$LAB_LANHOST" curl -s --connect-timeout 2 --max-time 3 --interface 2001:db8:3::50 "http://[$LAB_WAN6]:8443/" 2>/dev/null)" = srv-102-v6 ]; }
check "a LAN client from another on-link prefix (2001:db8:3::50) is hairpinned too" from_other
check "status: in sync" ppq status

# 3. The last NAT66 mapping goes: nothing of NAT66 stays behind (the site as it was before).
cp "$pp_tmp/with66.ini" "$T"
sed -i '/^\[web-66\]/,$d' "$T"
sed -i '$ { /^$/d }' "$T"
check "apply: NAT66 mappings removed" ppq apply
rules_all >"$pp_tmp/after"
check "the rules are exactly what they were before NAT66 (no empty ip6 nat table)" same_rules "$pp_tmp/after"
lab_nft && check "  no nat6, own6, hp6, map6_in, hp6_in left in table inet portpilot" \
	sh -c "! ip netns exec $R nft list table inet portpilot | grep -q 'nat6\|own6\|hp6\|map6_in'"
check "  the pinhole still works" get_is "$LAB_INET" "$SRV1_6" 8080 srv-101-v6
check "  the router's own connection to [WAN]:8443 no longer reaches srv2" get_none "$R" "$LAB_WAN6" 8443

# A rollback: NAT66 applied and never confirmed; the timer puts back exactly what was there.
cp "$pp_tmp/with66.ini" "$T"
at_exit "kill_timer '$S' 2>/dev/null"
check "apply --confirm 6 with NAT66 (never confirmed)" ppq apply --confirm 6
check "  the router reaches [WAN]:8443 meanwhile" get_is "$R" "$LAB_WAN6" 8443 srv-102-v6
check "after the deadline the rollback is complete" waits 20 test ! -e "$S/pending"
rules_all >"$pp_tmp/rolled"
check "  the rules are exactly what they were before" same_rules "$pp_tmp/rolled"
sed -i '/^\[web-66\]/,$d' "$T"
sed -i '$ { /^$/d }' "$T"

# Someone else's ip6 nat rule: it stays, and so does its table; portpilot's own chains go.
ip6t -t nat -A POSTROUTING -s 2001:db8:1::/64 -d 2001:db8:ffff::99/128 -j ACCEPT
cp "$pp_tmp/with66.ini" "$T"
check "apply NAT66 next to a foreign ip6 nat rule" ppq apply
check "  hairpin works" get_is "$LAB_LANHOST" "$LAB_WAN6" 8443 srv-102-v6
sed -i '/^\[web-66\]/,$d' "$T"
sed -i '$ { /^$/d }' "$T"
check "apply: NAT66 removed again" ppq apply
check "the foreign ip6 nat rule survives" sh -c "ip netns exec $R ip6tables -t nat -S POSTROUTING | grep -q -- '-d 2001:db8:ffff::99/128 -j ACCEPT'"
check "  and no portpilot chain or jump is left in ip6 nat" sh -c "! ip netns exec $R ip6tables-save -t nat | grep -q 'PP-'"
pp_done
