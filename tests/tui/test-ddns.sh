#!/bin/sh
# The DDNS panel (D): per host the published address, status, last result,
# reason, next attempt and the CGNAT message, from the state files the updater
# writes (ddns/store.c's format); the header's "name resolves to the public IP"
# (✓/✗, ASCII ok/NO) looked up in a child so a slow resolver never blocks keys.
# Names resolve through a hosts file bind-mounted in a private mount namespace.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null || { echo "# skip: needs root and unshare"; exit 77; }

D=$pp_tmp
seed_copy
sed -i 's/^public_ip *= *auto/public_ip     = 203.0.113.7/' "$D/m.ini"
printf 'username=site3\npassword=SECRETPW99\n' >"$D/home.secret"
chmod 600 "$D/home.secret"
mkdir -p "$D/state"
cat >"$D/pp.conf" <<EOF
[ddns home]
provider         = dyndns2
server           = http://127.0.0.1:9
hostname         = site3.example.net, cam.example.net
credentials_file = $D/home.secret
ip_source        = interface
interface        = eth0

[ddns carrier]
provider         = duckdns
server           = http://127.0.0.1:9
hostname         = cg.example.net
credentials_file = $D/home.secret
EOF
# host_state NAME STATUS CODE PUBLISHED REASON [NEXT FAILURES]
host_state() {
	printf '[host %s]\npublished=%s\npublished_at=%s\nlast_attempt=1795000000\nnext_attempt=%s\n' \
		"$1" "$4" "$([ -n "$4" ] && echo 1795000000 || echo 0)" "${6:-0}"
	printf 'failures=%s\nnochg=0\nstatus=%s\nlast_code=%s\nstop_hash=0000000000000001\nreason=%s\n' \
		"${7:-0}" "$2" "$3" "$5"
}
echo_state() { printf '[echo]\naddr=%s\nwan=%s\nverdict=%s\n' "$1" "$2" "$3"; }
write_home() {
	{ echo_state "" "" ""
	  host_state site3.example.net ok good 203.0.113.7 ""
	  host_state cam.example.net "$@"; } >"$D/state/ddns-home.state.new"
	mv "$D/state/ddns-home.state.new" "$D/state/ddns-home.state"
}
write_home stopped badauth "" "the provider refused the credentials (badauth); fix the credentials file"
cgnat="carrier-grade NAT: the WAN interface eth0 has 100.64.0.9 (100.64.0.0/10), an address shared behind the carrier's NAT. Nothing is published: port forwarding cannot work from outside. Ask the carrier for a public IPv4 address (or use IPv6)."
{ echo_state "" 100.64.0.9 "$cgnat"; host_state cg.example.net new none "" ""; } >"$D/state/ddns-carrier.state"

# The names: site3 is the public IP, cam an old address, cg.example.net unknown.
printf '127.0.0.1 localhost\n203.0.113.7 site3.example.net\n198.51.100.20 cam.example.net\n' >"$D/hosts"
printf 'hosts: files\n' >"$D/nsswitch.conf"
cat >"$D/ns.sh" <<EOF
#!/bin/sh
mount --bind "$D/hosts" /etc/hosts && mount --bind "$D/nsswitch.conf" /etc/nsswitch.conf || exit 9
[ -f "$D/resolv.conf" ] && { mount --bind "$D/resolv.conf" /etc/resolv.conf || exit 9; }
exec "\$@"
EOF
chmod +x "$D/ns.sh"
TUI_WRAP="unshare -m $D/ns.sh"
ARGS="-f m.ini -c $D/pp.conf --state-dir $D/state tui --offline"

tui_start 80 24 C.UTF-8 -- $ARGS
wait_screen "3 mappings"
check "header: DDNS name resolves to the public IP (✓)" wait_screen "DDNS site3.example.net ✓"
keys D
check "D opens the DDNS panel" wait_screen "portpilot  DDNS"
check "panel: the section with provider and server" wait_screen "[ddns home]  dyndns2  server http://127.0.0.1:9"
check "panel: published address" wait_screen "published    203.0.113.7 (since 2026-"
check "panel: status ok and last result" sh -c "tmux -L $PP_SOCK capture-pane -p -t t | grep -A2 'status       ok' | grep -q 'last result  good'"
check "panel: next attempt of an ok host" wait_screen "next try     when the address changes; refresh by"
check "panel: ✓ the name resolves to the public IP" wait_screen "✓ resolves to 203.0.113.7, the public IP (fixed in [site])"
check "panel: stopped host" wait_screen "status       stopped"
check "panel: its fatal result" wait_screen "last result  badauth"
check "panel: its reason in plain words" wait_screen "the provider refused the credentials (badauth)"
check "panel: a stopped host has no next attempt" wait_screen "none: stopped until its configuration or credentials change"
check "panel: ✗ a name at an old address" wait_screen "✗ resolves to 198.51.100.20, but the public IP is"
check "panel: the public IP it should be (wrapped at 80 columns)" wait_screen "                 203.0.113.7 (fixed in [site])"
check "panel title: name and mark" wait_for 5 line_has 1 "DDNS  site3.example.net ✓"
keys End
check "panel: CGNAT message in plain words" wait_screen "carrier-grade NAT: the WAN interface eth0 has"
check "panel: the CGNAT message says what to ask for" wait_screen "Ask the carrier for a public IPv4"
check "panel: a name that does not resolve" wait_screen "✗ does not resolve"
check "panel: never-updated host is new" wait_screen "status       new"
screen_clean() { ! screen | grep -q "SECRETPW99\|s3cret-pass\|\.secret"; }
check "panel: no credentials on screen" screen_clean

# The updater writes new state: the panel follows without a key.
write_home retry http-5xx "" "the provider had a server error (HTTP 5xx); retrying later" 1795003600 2
check "panel: state change shown without a key" wait_for 8 screen_has "status       retry"
check "panel: next attempt of a host backing off" wait_screen "2026-11-18T12:06 (backing off after 2 failures)"
check "panel: credentials still never shown" screen_clean
keys q
check "q returns to the table" wait_screen "3 mappings"
keys q
check "quit" wait_for 5 exit_is 0

# 200x50: the whole panel on one page, the CGNAT message unwrapped.
tui_start 200 50 C.UTF-8 -- $ARGS
wait_screen "3 mappings"
keys D
check "200x50: first and last section on one page" wait_screen "cg.example.net"
check "200x50: [ddns home] on the same page" screen_has "[ddns home]"
check "200x50: the CGNAT message on one line" screen_has "address shared behind the carrier's NAT. Nothing is published: port forwarding cannot work"
keys q q
check "200x50: quit" wait_for 5 exit_is 0

# ASCII locale: ok / NO instead of ✓ / ✗.
tui_start 80 24 C -- $ARGS
wait_screen "3 mappings"
check "LANG=C: header says ok" wait_screen "DDNS site3.example.net ok"
keys D
check "LANG=C: NO for the old address" wait_screen "NO resolves to 198.51.100.20"
keys q q
check "LANG=C: quit" wait_for 5 exit_is 0

command -v python3 >/dev/null || { pp_done; }
# State written by the real updater: portpilot ddns --once against the fake dyndns2
# provider on 127.0.0.1 (as tests/ddns does); the public IP is what the echo services say.
. "$PP_TOP/tests/ddns/common.sh"
start_provider prov || { not_ok "fake provider starts"; pp_done; }
seed_copy m2.ini
mkdir -p "$D/state2"
creds "$D/real.secret" "username = site3
password = s3cret-pass"
cat >"$D/real.conf" <<EOF
[ddns real]
provider         = dyndns2
server           = $prov_url
hostname         = site3.example.net
credentials_file = $D/real.secret
ip_source        = web
checkip          = $prov_url/echo/a, $prov_url/echo/b
EOF
check "ddns --once publishes through the fake provider" \
	"$PORTPILOT" -c "$D/real.conf" --state-dir "$D/state2" ddns --once >"$D/once.log" 2>&1
TUI_WRAP="unshare -m $D/ns.sh"
tui_start 80 24 C.UTF-8 -- -f m2.ini -c "$D/real.conf" --state-dir "$D/state2" tui --offline
wait_screen "3 mappings"
keys D
check "updater state: the published address" wait_screen "published    198.51.100.7 (since"
check "updater state: last result good" wait_screen "last result  good"
check "updater state: public IP from the echo services, the name elsewhere (✗)" \
	wait_screen "✗ resolves to 203.0.113.7, but the public IP is 198.51.100.7"
check "updater state: where the public IP comes from" wait_screen "(seen by the echo services)"
check "updater state: header mark ✗" wait_for 5 line_has 1 "site3.example.net ✗"
check "updater state: no credentials on screen" screen_clean
keys q q
check "updater state: quit" wait_for 5 exit_is 0

# A resolver that never answers: the lookup runs in a child, keys stay immediate.
NS="pp-tui$$"
ip netns add "$NS" && at_exit "ip netns del $NS 2>/dev/null"
ip netns exec "$NS" ip link set lo up
printf 'hosts: dns\n' >"$D/nsswitch.conf"
printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n' >"$D/resolv.conf"
ip netns exec "$NS" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53)); s.settimeout(1)
open("'"$D"'/dns-ready", "w").close()
end = time.time() + 60
while time.time() < end:
    try: s.recvfrom(512); open("'"$D"'/dns-asked", "w").close()
    except OSError: pass
' &
dns_pid=$!
at_exit "kill $dns_pid 2>/dev/null"
wait_for 10 test -e "$D/dns-ready" || not_ok "slow DNS: the silent resolver starts"
TUI_WRAP="ip netns exec $NS unshare -m $D/ns.sh"
tui_start 80 24 C.UTF-8 -- $ARGS
wait_screen "3 mappings"
check "slow DNS: the lookup was asked" wait_for 10 test -e "$D/dns-asked"
check "slow DNS: header shows the lookup pending" wait_screen "DDNS site3.example.net …"
t0=$(date +%s%N)
keys D
wait_screen "portpilot  DDNS" 2
t1=$(date +%s%N)
echo "# D answered in $(( (t1 - t0) / 1000000 )) ms while the resolver hangs"
check "slow DNS: D answers within 1 s while the lookup hangs" [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
check "slow DNS: the panel says it is looking up" wait_screen "looking it up"
keys q q
check "slow DNS: quit does not wait for the lookup" wait_for 3 exit_is 0
pp_done
