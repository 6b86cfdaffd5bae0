#!/bin/sh
# The probe's router-advertisement evidence (issue 15, item 5): one Router Solicitation on the LAN,
# every RA that answers. Real RAs in the lab's 2001:db8::/32 from this router and a second router's
# namespace on the LAN; the server learns (or not) its IPv6 default route from them. The verdict
# names the other router when it advertises itself as default, never one with router lifetime 0.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab6_begin
lab_router2 || { not_ok "second router's namespace"; pp_done; }
# Says why when it fails: the summary and the RA evidence.
jcheck() {
	if j "$2"; then ok "$1"; else not_ok "$1"
		jq -r '.summary, (.evidence[] | select(startswith("ra ")))' "$pp_tmp/out.json" 2>/dev/null | sed 's/^/#   /'
	fi
}
lab6_serve "$LAB_SRV1" 8080 srv-101-v6
{ lab6_site; cat <<EOT
[web-6]
public_port   = 8080
internal_ip6  = ::1:101
ipv6          = only
EOT
} >"$T"
lab_apply_or_die
ll() { ip -n "$1" -6 addr show dev "$2" scope link | sed -n 's/.*inet6 \(fe80[^/]*\).*/\1/p' | head -n 1; }
mac() { ip netns exec "$1" cat "/sys/class/net/$2/address"; }
# The server's route to the outside host, by which next hop.
via() { ip -n "$LAB_SRV1" -6 route get "$LAB_INET6" 2>/dev/null | grep -q "via $1 "; }
nodefault() { ! ip -n "$LAB_SRV1" -6 route show default | grep -q .; }
flush_default() { while ip -n "$LAB_SRV1" -6 route del default 2>/dev/null; do :; done; }
RTR_LL=$(ll "$R" "$LAB_LAN_IF")
RTR2_LL=$(ll "$LAB_RTR2" eth0)
RTR2_MAC=$(mac "$LAB_RTR2" eth0)

# 1. Only this router advertises (its RA daemon: lifetime 1800, medium, the LAN's prefix).
RA_SELF=$(lab_ra6 "$R" "$LAB_LAN_IF" 1800 medium "$LAB_PREFIX6::/64") || not_ok "this router's RA sender"
check "control: outside reaches [srv1]:8080" waits 10 outside6
probe6 web-6
expect6 "only this router advertises" ok
jcheck "  the RA check saw this router's advertisement" \
	'.checks[] | select(.id == "ipv6_ra" and (.text | test("1 router advertisement.*1 default router.*this router among them")))'
jcheck "  the evidence lists it with its address, lifetime, preference and prefix" \
	".evidence[] | select(test(\"^ra $LAB_LAN_IF: $RTR_LL \\\\([0-9a-f:]+, this router\\\\): default router for 1800 s, preference medium, prefix $LAB_PREFIX6::/64 \\\\(on-link, autonomous\"))"
# The TUI's probe screen lists the same evidence (tmux only: without it this part is skipped).
if command -v tmux >/dev/null 2>&1; then
	. "$PP_TOP/tests/tui/tui-lib.sh"
	TUI_WRAP="ip netns exec $R"
	tui_start 200 80 C.UTF-8 -- -f "$T" -c "$pp_tmp/none.conf" --state-dir "$S"
	if wait_screen web-6 10; then
		keys p
		check "TUI: the probe of web-6 ends in ok" wait_screen "cause: ok" 20
		check "TUI: its evidence lists this router's advertisement" \
			wait_screen "ra $LAB_LAN_IF: $RTR_LL ($(mac "$R" "$LAB_LAN_IF"), this router): default router for 1800 s" 5
	else
		not_ok "TUI: the table screen with web-6"
	fi
	tm kill-server
fi

# 2. A second router advertises itself as default with a higher preference, and the server (its
# routes from advertisements only) takes its route: named, with its address and MAC.
flush_default
RA2=$(lab_ra6 "$LAB_RTR2" eth0 1800 high 2001:db8:77::/64,L) || not_ok "the second router's RA sender"
check "lab: the server's route to outside leads via the second router ($RTR2_LL)" waits 10 via "$RTR2_LL"
check "lab: and outside indeed gets no answer" sh -c "! ip netns exec $LAB_INET curl -s --connect-timeout 2 --max-time 3 'http://[$SRV1_6]:8080/' | grep -q srv-101"
probe6 web-6
expect6 "a second router advertising itself as default" server_gateway
jcheck "  the summary names the second router's address" ".summary | test(\"likely $RTR2_LL on $LAB_LAN_IF, which advertises itself as the default router\")"
jcheck "  with its MAC, lifetime and preference" ".summary | test(\"$RTR2_MAC, another router\\\\): default router for 1800 s, preference high\")"
jcheck "  above this router's preference" '.summary | test("above this router.s preference")'
jcheck "  the fix names the router whose advertisements to stop" ".fix | test(\"stop the router advertisements of $RTR2_LL\")"
jcheck "  the evidence lists both routers" "[.evidence[] | select(startswith(\"ra \"))] | length == 2"

# 3. The second router advertises another prefix with router lifetime 0 (not a default router),
# and the server's route leads elsewhere by a static route: the second router is not blamed.
kill "$RA2"
flush_default
ip netns exec "$LAB_SRV1" sysctl -qw net.ipv6.conf.eth0.accept_ra=0
ip -n "$LAB_SRV1" -6 route add default via "$LAB_PREFIX6::254"
RA2=$(lab_ra6 "$LAB_RTR2" eth0 0 high 2001:db8:77::/64) || not_ok "the second router's RA sender (lifetime 0)"
probe6 web-6
expect6 "a static route elsewhere, a second router with lifetime 0" server_gateway
jcheck "  the second router is not named in the summary" ".summary | test(\"$RTR2_LL\") | not"
jcheck "  the summary says only this router advertises itself: a static route is likelier" \
	'.summary | test("only this router advertises itself as default router on eth1 \\(lifetime 1800 s, preference medium\\): more likely a static route")'
jcheck "  the evidence shows the second router's advertisement (lifetime 0, its prefix)" \
	".evidence[] | select(test(\"^ra $LAB_LAN_IF: $RTR2_LL .*router lifetime 0 \\\\(not a default router\\\\), prefix 2001:db8:77::/64\"))"
ip -n "$LAB_SRV1" -6 route replace default via "$LAB_PREFIX6::1"
probe6 web-6
expect6 "repaired, the lifetime-0 router still there (control)" ok

# 4. This router sends no advertisement at all, and the server takes its route from
# advertisements: it has none. Then this router advertises again, and the server is reached.
kill "$RA_SELF" "$RA2"
flush_default
ip netns exec "$LAB_SRV1" sysctl -qw net.ipv6.conf.eth0.accept_ra=1
check "lab: the server has no IPv6 default route" nodefault
probe6 web-6
expect6 "this router sends no RA" server_gateway
jcheck "  the summary says this router sends no router advertisement" \
	'.summary | test("this router sends no router advertisement on eth1")'
jcheck "  the fix is an RA daemon or a static route" '.fix | test("radvd, or dnsmasq enable-ra.*ip -6 route replace default")'
jcheck "  the evidence says no advertisement answered" '.evidence[] | select(test("^ra eth1: no router advertisement answered"))'
RA_SELF=$(lab_ra6 "$R" "$LAB_LAN_IF" 1800 medium "$LAB_PREFIX6::/64") || not_ok "this router's RA sender"
check "lab: the server takes its route from this router's advertisement" waits 10 via "$RTR_LL"
check "lab: outside reaches [srv1]:8080 again" waits 10 outside6
probe6 web-6
expect6 "this router advertises again (control)" ok
pp_done
