#!/bin/sh
# The updater behind a real carrier NAT hop (tests/lab/lab.sh "cgnat"): the echo service and the
# provider live on the internet host and see what the carrier's NAT makes of the router's traffic.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/ddns/common.sh"

lab_need_root
lab_up cgnat || exit 1
CGN_PUBLIC=203.0.113.1           # the carrier NAT's outside address (lab.sh)

PROVIDER_ARGS="--bind 0.0.0.0" start_provider prov http "$LAB_INET" || exit 1
ctl prov "echo_a=peer&echo_b=peer" "$LAB_INET"
url=http://$LAB_INET_IP:$prov_port
creds "$D/dyn.secret" "username = site3
password = s3cret-pass"
conf() { # FILE IP_SOURCE
	cat >"$1" <<EOF
[ddns site]
provider = dyndns2
server = $url
hostname = site3.example.net
credentials_file = $D/dyn.secret
interface = $LAB_WAN_IF
ip_source = $2
checkip = $url/echo/a, $url/echo/b
EOF
}
conf "$D/auto.conf" auto
conf "$D/web.conf" web
once() { lab_ns "$LAB_ROUTER" "$PORTPILOT" -c "$1" --state-dir "$2" ddns --once >"$D/out" 2>"$D/err"; }
# The addresses the echo service saw portpilot's requests come from, one a line.
echo_clients() {
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["path"].startswith("/echo/") and e["client"] != "127.0.0.1": print(e["client"])' "$D/prov.log"
}

# The lab is what the test claims: the internet sees the carrier's address, not the WAN one.
seen=$(lab_http "$LAB_ROUTER" "$url/echo/a")
check "lab: the router's WAN is $LAB_WAN_IP (100.64.0.0/10)" \
	sh -c "ip -n '$LAB_ROUTER' -4 addr show dev $LAB_WAN_IF | grep -q 'inet $LAB_WAN_IP/10'"
check "lab: the echo sees the carrier NAT's $CGN_PUBLIC, not the WAN address" test "$seen" = "$CGN_PUBLIC"
: >"$D/prov.log"

for src in auto web; do
	once "$D/$src.conf" "$D/s-$src"; rc=$?
	check "CGNAT ($src): --once exits 1" test $rc = 1
	check "CGNAT ($src): carrier-grade NAT said in plain words, naming the WAN address" \
		grep -q "carrier-grade NAT: the WAN interface $LAB_WAN_IF has $LAB_WAN_IP" "$D/err"
	check "CGNAT ($src): says forwarding cannot work and what to ask the carrier for" sh -c \
		"grep -q 'port forwarding cannot work from outside' '$D/err' &&
		 grep -q 'Ask the carrier for a public IPv4 address' '$D/err'"
	check "CGNAT ($src): status shows it" sh -c "ip netns exec '$LAB_ROUTER' \
		'$PORTPILOT' -c '$D/$src.conf' --state-dir '$D/s-$src' ddns status | grep -q 'carrier-grade NAT'"
done
check "CGNAT: zero update requests reached the provider" test "$(requests prov /nic/update)" = 0
# The carrier's shared address would be wrong to publish, so asking the echo is pointless.
check "CGNAT: the echo services were not asked either" test "$(requests prov /echo/)" = 0

# Double NAT: the carrier NAT readdressed as a home router, the site's WAN is private
# (probe-lab.sh's double_nat fault). The address the internet sees is published, with a warning.
ip -n "$LAB_CGN" addr flush dev eth1 && ip -n "$LAB_CGN" addr add 192.168.100.1/24 dev eth1 &&
ip -n "$LAB_ROUTER" addr flush dev eth0 && ip -n "$LAB_ROUTER" addr add 192.168.100.2/24 dev eth0 &&
ip -n "$LAB_ROUTER" route replace default via 192.168.100.1 || exit 1
once "$D/auto.conf" "$D/s-dnat"; rc=$?
check "double NAT: --once succeeds" test $rc = 0
check "double NAT: said in plain words" grep -q \
	"double NAT: the WAN interface $LAB_WAN_IF has the private address 192.168.100.2 and the internet sees $CGN_PUBLIC" "$D/err"
check "double NAT: says the upstream router must forward too" grep -q 'upstream router forwards them' "$D/err"
check "double NAT: the echo services saw the upstream NAT's address" \
	test "$(echo_clients | sort -u)" = "$CGN_PUBLIC"
check "double NAT: a second echo service confirmed it before publishing" test "$(requests prov /echo/)" = 2
check "double NAT: exactly one update" test "$(requests prov /nic/update)" = 1
check "double NAT: the address the internet sees is published" \
	test "$(record prov site3.example.net "$LAB_INET")" = "$CGN_PUBLIC"
check "double NAT: the private address is never sent" sh -c "! grep -q 'myip=192\\.168' '$D/prov.log'"
pp_done
