#!/bin/sh
# The updater on a router namespace (pp-ddns-$$) with a WAN interface: netlink events, signals,
# CGNAT and double NAT detection, IPv6 stable address. Provider and echo run inside the namespace.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

[ "$(id -u)" = 0 ] || { echo "# needs root for network namespaces"; exit 77; }
NS=pp-ddns-$$
ip netns add $NS || exit 77
at_exit "ip netns del $NS"
INET=pp-ddns-$$i
ip netns add $INET || exit 77
at_exit "ip netns del $INET"
in_ns ip link set lo up
in_ns ip link add wan0 type veth peer name wanp netns $INET
in_ns ip link set wan0 up
ip netns exec $INET ip link set lo up
ip netns exec $INET ip link set wanp up
ip netns exec $INET ip addr add 203.0.113.10/24 dev wanp
in_ns ip addr add 203.0.113.5/24 dev wan0

start_provider prov http $NS || exit 1
creds "$D/dyn.secret" "username = site3
password = s3cret-pass"
cat >"$D/run.conf" <<EOF
[ddns site]
provider = dyndns2
server = $prov_url
hostname = site3.example.net
credentials_file = $D/dyn.secret
interface = wan0
ip_source = auto
checkip = $prov_url/echo/a, $prov_url/echo/b
interval = 3600
EOF
S=$D/state
rec() { record prov "$1" $NS; }
has_rec() { [ "$(rec "$1")" = "$2" ]; }

ip netns exec $NS "$PORTPILOT" -c "$D/run.conf" --state-dir "$S" ddns run 2>"$D/run.err" &
RUN=$!
at_exit "kill $RUN 2>/dev/null; wait $RUN 2>/dev/null"
check "run: public WAN address published at start" within 10 has_rec site3.example.net 203.0.113.5
check "run: public WAN needs no echo service" test "$(requests prov /echo/)" = 0

# Address change on the WAN interface: the netlink event triggers a check (interval is 1 h).
t0=$(date +%s)
in_ns ip addr del 203.0.113.5/24 dev wan0
in_ns ip addr add 203.0.113.6/24 dev wan0
check "netlink: new WAN address published within 5 s" within 5 has_rec site3.example.net 203.0.113.6
echo "# netlink: address change to published in $(( $(date +%s) - t0 )) s (interval 3600 s)"
check "netlink: exactly two updates so far" test "$(requests prov /nic/update)" = 2

# SIGUSR1 forces a refresh; nochg after a forced refresh is not an error.
kill -USR1 $RUN
check "SIGUSR1: a forced update goes out" within 5 sh -c "[ \$(python3 -c 'import sys;print(sum(1 for l in open(sys.argv[1]) if \"/nic/update\" in l))' '$D/prov.log') = 3 ]"
check "SIGUSR1: host stays ok after nochg" within 5 sh -c \
	"grep -q 'nochg, published 203.0.113.6' '$D/run.err'"

# SIGHUP reloads: a new host name gets published.
sed -i 's/^hostname = .*/hostname = site3.example.net, www.example.net/' "$D/run.conf"
kill -HUP $RUN
check "SIGHUP: reloaded configuration publishes the new host" within 5 has_rec www.example.net 203.0.113.6
check "SIGHUP: the unchanged host is not re-sent" test "$(requests prov /nic/update)" = 4

# A broken configuration on reload is refused and the daemon keeps running.
printf '[ddns site]\nprovider = nope\n' >"$D/broken.conf"
cp "$D/run.conf" "$D/run.conf.good"; cp "$D/broken.conf" "$D/run.conf"
kill -HUP $RUN
check "SIGHUP with a broken file: refused with file:line" within 5 grep -q "run.conf:2:" "$D/run.err"
check "SIGHUP with a broken file: daemon still running" kill -0 $RUN
cp "$D/run.conf.good" "$D/run.conf"
kill -TERM $RUN
if within 5 grep -q '^stopping' "$D/run.err"; then wait $RUN; rc=$?; else rc=timeout; fi
check "SIGTERM: exits cleanly (status 0)" test "$rc" = 0

# CGNAT: the WAN address is in 100.64.0.0/10. No IPv4 is published, whatever the source.
in_ns ip addr flush dev wan0
in_ns ip addr add 100.64.1.2/10 dev wan0
cnt=$(requests prov /nic/update)
in_ns "$PORTPILOT" -c "$D/run.conf" --state-dir "$D/s-cgnat" ddns --once >"$D/out" 2>"$D/err"; rc=$?
check "CGNAT: --once exits 1" test $rc = 1
check "CGNAT: said in plain words, with what to ask the carrier" \
	sh -c "grep -q 'carrier-grade NAT' '$D/err' && grep -q 'Ask the carrier for a public IPv4' '$D/err'"
check "CGNAT: nothing sent to the provider" test "$(requests prov /nic/update)" = "$cnt"
sed 's/^ip_source = auto/ip_source = web/' "$D/run.conf" >"$D/web.conf"
in_ns "$PORTPILOT" -c "$D/web.conf" --state-dir "$D/s-cgnat2" ddns --once >"$D/out" 2>"$D/err"
check "CGNAT with ip_source=web: still nothing published" test "$(requests prov /nic/update)" = "$cnt"
check "CGNAT: ddns status shows the problem" sh -c \
	"ip netns exec $NS '$PORTPILOT' -c '$D/run.conf' --state-dir '$D/s-cgnat' ddns status | grep -q 'carrier-grade NAT'"

# Double NAT: a private WAN address; the echoed public address is published with a warning.
in_ns ip addr flush dev wan0
in_ns ip addr add 192.168.2.50/24 dev wan0
in_ns "$PORTPILOT" -c "$D/run.conf" --state-dir "$D/s-dnat" ddns --once >"$D/out" 2>"$D/err"; rc=$?
check "double NAT: reported in plain words" grep -q 'double NAT: the WAN interface wan0 has the private address 192.168.2.50' "$D/err"
check "double NAT: the echoed address is published" has_rec site3.example.net 198.51.100.7
check "double NAT: the private address never is" sh -c "! grep -q 'myip=192.168' '$D/prov.log'"

# Public WAN but the internet sees another address: an upstream NAT.
in_ns ip addr flush dev wan0
in_ns ip addr add 203.0.113.5/24 dev wan0
in_ns "$PORTPILOT" -c "$D/web.conf" --state-dir "$D/s-mism" ddns --once >"$D/out" 2>"$D/err"
check "WAN differs from echoed address: reported" grep -q 'another NAT sits upstream' "$D/err"

# ip_source = reflector: the portpilot reflector on the "internet" host says what it sees.
ip netns exec $INET "$PORTPILOT" reflector --listen 203.0.113.10:9443 >"$D/refl.log" 2>&1 &
REFL=$!
at_exit "kill $REFL 2>/dev/null; wait $REFL 2>/dev/null"
sed -e 's/^ip_source = auto/ip_source = reflector/' -e 's/^hostname = .*/hostname = home.example.net/' \
	"$D/run.conf" >"$D/refl.conf"
printf '[probe]\nreflector = http://203.0.113.10:9443\n' >>"$D/refl.conf"
within 5 sh -c "ip netns exec $NS curl -fs http://203.0.113.10:9443/v1/whoami >/dev/null"
check "reflector source: --once succeeds" sh -c \
	"ip netns exec $NS '$PORTPILOT' -c '$D/refl.conf' --state-dir '$D/s-refl' ddns --once 2>'$D/err'"
check "reflector source: the address it saw is published" has_rec home.example.net 203.0.113.5
check "reflector source: asked once (plus the readiness probe)" test "$(grep -c whoami "$D/refl.log")" = 2

# IPv6: the stable global address, never the deprecated one, goes with the A record.
in_ns ip -6 addr add 2001:db8::6/64 dev wan0 nodad preferred_lft 0
in_ns ip -6 addr add 2001:db8::5/64 dev wan0 nodad
printf 'ipv6 = yes\n' >>"$D/run.conf"
sed -i 's/^hostname = .*/hostname = home.example.net/' "$D/run.conf"
cnt=$(requests prov /nic/update)
in_ns "$PORTPILOT" -c "$D/run.conf" --state-dir "$D/s-v6" ddns --once >"$D/out" 2>"$D/err"; rc=$?
check "IPv6 dyndns2: --once succeeds (the answer echoes both addresses)" test $rc = 0
check "IPv6 dyndns2: one request for A and AAAA" test "$(requests prov /nic/update)" = $((cnt + 1))
check "IPv6 dyndns2: both in myip, comma-separated (Dyn's form), no myipv6" sh -c \
	"tail -1 '$D/prov.log' | grep -q 'myip=203.0.113.5,2001:db8::5\"' && ! tail -1 '$D/prov.log' | grep -q myipv6"
check "IPv6 dyndns2: the provider holds both records" sh -c \
	"ip netns exec $NS curl -fsS '$prov_url/_state' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"records\"][\"home.example.net\"] == \"203.0.113.5\" and d[\"records6\"][\"home.example.net\"] == \"2001:db8::5\", d'"
check "IPv6: deprecated address not used" sh -c "! grep -q '2001:db8::6' '$D/prov.log'"
check "IPv6: status shows both addresses" test "$(field "$D/run.conf" "$D/s-v6" site home.example.net published)" = "203.0.113.5,2001:db8::5"
creds "$D/tok.secret" "token = tok-123456"
cat >"$D/cf6.conf" <<EOF
[ddns cf]
provider = cloudflare
server = $prov_url/client/v4
hostname = www.example.net
credentials_file = $D/tok.secret
interface = wan0
ipv6 = yes
EOF
in_ns "$PORTPILOT" -c "$D/cf6.conf" --state-dir "$D/s-cf6" ddns --once >"$D/out" 2>"$D/err"
check "IPv6 with Cloudflare: A and AAAA records patched together" sh -c \
	"ip netns exec $NS curl -fsS '$prov_url/_state' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"records\"][\"www.example.net\"] == \"203.0.113.5\" and d[\"records6\"][\"www.example.net\"] == \"2001:db8::5\", d'"

# IPv6 only: behind CGNAT with a stable global IPv6, the AAAA is published alone.
in_ns ip -4 addr flush dev wan0
in_ns ip addr add 100.64.1.2/10 dev wan0
cnt=$(requests prov /nic/update)
in_ns "$PORTPILOT" -c "$D/run.conf" --state-dir "$D/s-v6only" ddns --once >"$D/out" 2>"$D/err"; rc=$?
check "IPv6 only: --once succeeds" test $rc = 0
check "IPv6 only: one update" test "$(requests prov /nic/update)" = $((cnt + 1))
check "IPv6 only: it carries the IPv6 address alone" sh -c \
	"tail -1 '$D/prov.log' | grep -q 'myip=2001:db8::5\"' && ! tail -1 '$D/prov.log' | grep -q myipv6"
check "IPv6 only: the CGNAT address is never sent" sh -c "! grep -q 'myip=100\\.64' '$D/prov.log'"
check "IPv6 only: said in plain words" grep -q 'IPv6 only: 2001:db8::5 (the stable global address of wan0) is published as the AAAA record alone' "$D/err"
check "IPv6 only: status shows the IPv6 address alone" \
	test "$(field "$D/run.conf" "$D/s-v6only" site home.example.net published)" = 2001:db8::5
sed 's/^ipv6 = yes/ipv6 = no/' "$D/run.conf" >"$D/v4.conf"
in_ns "$PORTPILOT" -c "$D/v4.conf" --state-dir "$D/s-v4only" ddns --once >"$D/out" 2>"$D/err"; rc=$?
check "ipv6 = no behind CGNAT: exits 1" test $rc = 1
check "ipv6 = no behind CGNAT: nothing sent" test "$(requests prov /nic/update)" = $((cnt + 1))
pp_done
