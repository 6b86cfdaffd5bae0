#!/bin/sh
# Issue 15.6 at 80x24: the table screen marks the mappings with an IPv6 way in (+v6, or the IPv6
# address for ipv6 = only), and the detail screen shows the IPv6 side: the pinhole's address and
# port, its sources, and its state (unknown offline), and NAT66's; the export record's IPv6 cells. A
# mapping without IPv6 shows none of it.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

cat >"$pp_tmp/m.ini" <<'EOT'
[site]
wan_interface = pp-nowan0
lan_interface = pp-nolan0
lan_subnet    = 192.168.2.0/24

[a-web6]
public_port   = 8080
internal_ip   = 192.168.2.101
internal_ip6  = 2001:db8:1::1:101

[b-web2]
public_port   = 8090
internal_ip   = 192.168.2.102
internal_port = 80

[c-cam]
public_port   = 8081
internal_ip6  = 2001:db8:1::1:103
ipv6          = only
allow         = 2001:db8:100::/64

[d-n66]
public_port   = 8443
internal_port = 8080
internal_ip6  = 2001:db8:1::1:102
ipv6          = only
allow         = 2001:db8:100::/64
EOT
tui_start 80 24 C.UTF-8 -- -f m.ini tui --offline
wait_screen "4 mappings"
check "table: a-web6 marked +v6" wait_for 5 sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -q 'a-web6 .*192.168.2.101:8080 +v6'"
check "table: c-cam (ipv6 = only) shows its IPv6 address (cut to the column)" screen_has "[2001:db8:1::1:103]:8"
check "table: b-web2 has no IPv6 mark" sh -c "! tmux -L $PP_SOCK capture-pane -p -t t | grep 'b-web2' | grep -q 'v6'"
keys g i
check "detail of a-web6" wait_screen "[a-web6]  (line"
check "detail: the IPv6 section" wait_screen "IPv6 (as well as IPv4)"
check "detail: the pinhole's address and port" screen_has "pinhole [2001:db8:1::1:101]:8080"
check "detail: open to any IPv6 source (no allow)" screen_has "from any IPv6 source"
check "detail: the pinhole's state, unknown offline" screen_has "pinhole state unknown (offline)"
keys q Down i
check "detail of b-web2" wait_screen "[b-web2]  (line"
check "detail: no IPv6 section for a mapping without IPv6" screen_lacks "IPv6 ("
keys q Down i
check "detail of c-cam" wait_screen "[c-cam]  (line"
check "detail: ipv6 = only said" wait_screen "IPv6 (only: no IPv4 forward)"
check "detail: its IPv6 allow list, under the pinhole" sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -A1 'pinhole \\[2001:db8:1::1:103\\]:8081' | grep -q 'from 2001:db8:100::/64'"
keys q Down i
check "detail of d-n66" wait_screen "[d-n66]  (line"
check "detail: NAT66, to the server's address and port" screen_has "NAT66 to [2001:db8:1::1:102]:8080"
keys End
check "detail: the export record's IPv6 cells (way in, mode, address, sources)" \
	wait_screen "IPv6 nat66 (only): [2001:db8:1::1:102]:8080 (NAT66 from the router's port"
keys q q
check "quits" wait_for 5 exit_is 0
pp_done
