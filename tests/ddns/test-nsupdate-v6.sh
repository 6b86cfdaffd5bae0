#!/bin/sh
# RFC 2136 dual stack: A and AAAA in one TSIG-signed update to a real BIND9, inside a pp- namespace
# whose WAN interface holds a stable global IPv6 beside a temporary and a deprecated one.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

bind_ns n6
# Privacy extensions (use_tempaddr = 2) make the kernel add a temporary address beside every
# mngtmpaddr one; no DAD, so addresses are usable at once. Sysctls of this namespace only.
in_ns ip link set lo up &&
in_ns ip addr add $DNS/32 dev lo &&
in_ns ip link add wan0 type veth peer name wanp &&
in_ns sysctl -qw net.ipv6.conf.wan0.use_tempaddr=2 net.ipv6.conf.wan0.accept_dad=0 &&
in_ns ip link set wan0 up && in_ns ip link set wanp up &&
in_ns ip addr add 203.0.113.5/24 dev wan0 || { echo "# cannot build the namespace"; exit 1; }

bind_zone "ns1 IN A $DNS" "home IN A 192.0.2.1" "home IN AAAA 2001:db8:ffff::1"
bind_start $DNS 53 $NS || { echo "# named did not start"; tail -5 "$N/log"; exit 1; }
lookup() { in_ns dig +short +time=2 +tries=1 @$DNS "$1" "${2:-A}"; }
serial() { lookup example.net SOA | cut -d' ' -f3; }

# skipped_first STABLE: wan0's temporary and deprecated addresses are listed before STABLE in
# /proc/net/if_inet6, the order portpilot reads it in, so a missing filter would publish one.
skipped_first() {
	in_ns python3 - "$1" <<'EOF'
import ipaddress, sys
want, seen = ipaddress.ip_address(sys.argv[1]).exploded.replace(":", ""), 0
for line in open("/proc/net/if_inet6"):
    a, _, _, scope, flags, dev = line.split()
    if dev != "wan0":
        continue
    if a == want:
        sys.exit(0 if seen == 3 else 1)
    if scope == "00":
        seen |= (1 if int(flags, 16) & 0x01 else 0) | (2 if int(flags, 16) & 0x20 else 0)
sys.exit(1)
EOF
}
# v6_setup NET: a stable 2001:db8:NET::K (in $STABLE) with its temporary, plus a deprecated
# 2001:db8:dNET::K. The listing order follows a per-namespace hash of each address: remake
# them, K another each time, until the skipped ones come first.
v6_setup() {
	k=0
	while [ $k -lt 30 ]; do
		k=$((k + 1)) STABLE=2001:db8:$1::$((k + 4))
		in_ns ip -6 addr add $STABLE/64 dev wan0 nodad mngtmpaddr
		in_ns ip -6 addr add 2001:db8:d$1::$k/64 dev wan0 nodad preferred_lft 0
		wait_for 5 sh -c "ip -n $NS -6 addr show dev wan0 temporary | grep -q 2001:db8:$1:" &&
			skipped_first $STABLE && return 0
		in_ns ip -6 addr del $STABLE/64 dev wan0
		in_ns ip -6 addr del 2001:db8:d$1::$k/64 dev wan0
	done
	return 1
}
# not_published ADDR...: none of these is in BIND9's AAAA answer or its update log.
not_published() {
	for a; do
		lookup home.example.net AAAA | grep -qx "$a" && return 1
		grep -q "AAAA $a" "$N/log" && return 1
	done
	return 0
}
skipped() { in_ns ip -6 -o addr show dev wan0 scope global | awk '/temporary|deprecated/ { sub("/.*", "", $4); print $4 }'; }

check "setup: a temporary and a deprecated IPv6 are listed before the stable one" v6_setup 1
S1=$STABLE
check "setup: zone starts with the old A and AAAA" \
	test "$(lookup home.example.net)/$(lookup home.example.net AAAA)" = 192.0.2.1/2001:db8:ffff::1

tsig_creds "$D/tsig.secret"
{ nsupdate_section dns home.example.net; cat <<EOF
interface = wan0
ip_source = auto
ipv6 = yes
ttl = 120
EOF
} >"$D/ns.conf"
S=$D/state
ppn() {   # ppn CONF STATE: portpilot ddns --once inside the namespace; stderr shown on failure
	ip netns exec $NS "$PORTPILOT" -c "$1" --state-dir "$2" ddns --once >"$D/out" 2>"$D/err" ||
		{ sed 's/^/# /' "$D/err"; return 1; }
}

s0=$(serial)
check "dual stack: --once succeeds" ppn "$D/ns.conf" "$S"
check "dual stack: BIND9 serves the WAN IPv4 as A" test "$(lookup home.example.net)" = 203.0.113.5
check "dual stack: BIND9 serves the stable IPv6 as AAAA" test "$(lookup home.example.net AAAA)" = $S1
check "dual stack: A and AAAA went in one update (zone serial +1)" test "$(serial)" = $((s0 + 1))
check "dual stack: both verified at the server" \
	grep -q "verified: $DNS serves 203.0.113.5, verified: $DNS serves $S1" "$D/err"
check "dual stack: the temporary and deprecated IPv6 are never published" not_published $(skipped)
check "dual stack: status shows both addresses" \
	test "$(field "$D/ns.conf" "$S" dns home.example.net published)" = 203.0.113.5,$S1
check "TSIG secret never printed or stored" no_secret "$SECRET" "$D/out" "$D/err" "$S"

# Nothing changed: nothing is sent.
s0=$(serial)
ppn "$D/ns.conf" "$S"
check "unchanged: no update sent" test "$(serial)" = "$s0"

# The IPv6 prefix changes (a new delegation): the AAAA follows, the A stays.
old_skipped=$(skipped)
in_ns ip -6 addr del $S1/64 dev wan0
check "change: the new stable IPv6 is listed after the skipped ones" v6_setup 2
S2=$STABLE
s0=$(serial)
check "change: --once succeeds" ppn "$D/ns.conf" "$S"
check "change: BIND9 serves the new stable IPv6 as AAAA" test "$(lookup home.example.net AAAA)" = $S2
check "change: the A record is unchanged" test "$(lookup home.example.net)" = 203.0.113.5
check "change: one update (zone serial +1)" test "$(serial)" = $((s0 + 1))
check "change: no temporary or deprecated IPv6 ever published" not_published $old_skipped $(skipped)
pp_done
