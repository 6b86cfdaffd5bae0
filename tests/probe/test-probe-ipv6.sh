#!/bin/sh
# The probe on the IPv6 path (issue 15), real traffic in the lab's 2001:db8::/32: a healthy pinhole
# (control), the pinhole missing, the server listening on IPv4 only; each named from what the
# router observes (the backend's live rules, the server's answer to the router's own connection).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab6_begin
lab6_serve "$LAB_SRV1" 8080 srv-101-v6
lab6_web2_table
check "control: outside reaches [srv1]:8080 through the pinhole" waits 10 outside6

probe6 web-6
expect6 "healthy IPv6 path" ok
check "  exit 0" [ "$PRC" = 0 ]
check "  the ipv6 verdict names the server's address" j '.ipv6.summary | test("\\[2001:db8:1::1:101\\]:8080 is in place")'
check "  the pinhole check passes, asked of the backend" j '.checks[] | select(.id == "ipv6_pinhole" and .state == "pass")'

# The pinholes flushed behind portpilot's back.
if lab_nft; then ip netns exec "$R" nft flush set inet portpilot pin6; else ip netns exec "$R" ip6tables -F PP-PIN; fi
probe6 web-6
expect6 "pinhole missing" ipv6_pinhole_missing
check "  exit 1" [ "$PRC" = 1 ]
check "  and outside indeed no longer gets in" sh -c "! ip netns exec $LAB_INET curl -s --connect-timeout 2 --max-time 3 'http://[$SRV1_6]:8080/' | grep -q srv-101"
check "  the fix is portpilot apply" j '.fix | test("^portpilot apply")'
probe6 web-2
check "ipv6 = yes: the IPv4 verdict stands apart" sh -c "[ \"\$(jq -r .cause $pp_tmp/out.json)\" != ipv6_pinhole_missing ]"
check "  and the ipv6 verdict names the missing pinhole" j '.ipv6.cause == "ipv6_pinhole_missing"'
pp apply >"$pp_tmp/apply.log" 2>&1

# The server listens on IPv4 only: its IPv6 server gone, an IPv4 one on the same port.
for p in $(ip netns pids "$LAB_SRV1"); do kill "$p"; done
up6() { ip netns exec "$LAB_SRV1" ss -Hltn6 "sport = :8080" | grep -q LISTEN; }
gone6() { ! up6; }
wait_for 5 gone6
lab_serve "$LAB_SRV1" 8080 srv-101-v4 2>/dev/null
probe6 web-6
expect6 "server not listening on IPv6" ipv6_not_listening
check "  the summary says the reset came from the server's IPv6 address" j '.summary | test("\\[2001:db8:1::1:101\\]:8080 refused")'
check "  the pinhole check still passes (not the router's fault)" j '.checks[] | select(.id == "ipv6_pinhole" and .state == "pass")'
lab_serve6 "$LAB_SRV1" 8080 srv-101-v6
wait_for 10 up6    # lab_serve6 waits for the port, which the IPv4 server holds already
probe6 web-6
expect6 "repaired (control)" ok
check "  the return path from the router's WAN address was tested" j '.checks[] | select(.id == "ipv6_return" and .state == "pass")'

# The server's IPv6 default route via another router (as a second router's advertisements make
# it): it answers the router on its link, nothing comes back to an address off it.
ip -n "$LAB_SRV1" -6 route replace default via "$LAB_PREFIX6::254"
probe6 web-6
expect6 "server's IPv6 default route via another router" server_gateway
check "  the summary says the route leads to another router" j '.summary | test("IPv6 default route leads to another router")'
check "  outside indeed gets no answer" sh -c "! ip netns exec $LAB_INET curl -s --connect-timeout 2 --max-time 3 'http://[$SRV1_6]:8080/' | grep -q srv-101"
ip -n "$LAB_SRV1" -6 route replace default via "$LAB_PREFIX6::1"
# Not to be mistaken for it: the server's firewall admitting its own /64 only (its route is right).
ip netns exec "$LAB_SRV1" ip6tables -A INPUT -p tcp --dport 8080 ! -s "$LAB_PREFIX6::/64" -j DROP
probe6 web-6
expect6 "server's IPv6 firewall scoped to its link (route fine)" host_firewall
ip netns exec "$LAB_SRV1" ip6tables -F INPUT
probe6 web-6
expect6 "both repaired (control)" ok

# A new delegated prefix, the rules not re-applied: the pinhole is there, to the old address.
lab_prefix6 2001:db8:1 2001:db8:2
probe6 web-6
expect6 "pinhole to the old prefix's address only" ipv6_pinhole_missing
check "  the summary names the server's new address" j '.summary | test("no pinhole to \\[2001:db8:2::1:101\\]:8080")'
pp apply >"$pp_tmp/apply.log" 2>&1
probe6 web-6
expect6 "re-applied for the new prefix (control)" ok

# Behind a carrier NAT for IPv4 (100.64.0.0/10) with IPv6 routed: the IPv4 verdict is cgnat, and
# the summary says what the IPv6 path showed (tested from the router; the outside path is not).
lab_down
lab_begin cgnat
lab_ipv6
lab_serve6 "$LAB_SRV1" 8080 srv-101-v6 || not_ok "IPv6 server behind CGNAT"
sed -i "s|^wan_interface.*|wan_interface = $LAB_WAN_IF|" "$T"
cat >>"$T" <<EOT

[web-1]
public_port   = 8080
internal_ip   = $LAB_SRV1_IP
internal_ip6  = ::1:101
EOT
sed -i '/^\[web-6\]/,/^$/d; /^\[web-2\]/,/^$/d' "$T"
pp apply >"$pp_tmp/apply.log" 2>&1 || { not_ok "apply behind CGNAT"; sed 's/^/#   /' "$pp_tmp/apply.log"; }
# The first connection across the fresh routes may wait on neighbour discovery at each hop.
check "CGNAT: outside reaches [srv1]:8080 over IPv6 (the lab's own test)" waits 10 outside6
probe6 web-1
expect6 "behind CGNAT" cgnat
check "  the summary says what IPv6 found instead" j '.summary | test("Over IPv6 instead \\(from the router.s inside checks only, not tested from outside\\): the pinhole to \\[2001:db8:1::1:101\\]:8080 is in place and the server accepts the router.s connections over IPv6, from off its link too")'
check "  and that the outside path over IPv6 was not tested" j '.summary | test("from outside over IPv6 was not tested")'
check "  the ipv6 verdict is ok" j '.ipv6.cause == "ok"'
pp_done
