#!/bin/sh
# ip_source = relay (issue 17 item 1): a site published through the relay has the edge as its
# public face, so its DDNS name says the edge's address, read from the table's [site] relay,
# with no echo service asked, against the local fake provider.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

make_certs || { echo "# openssl failed"; exit 77; }
start_provider prov tls || exit 1
creds "$D/dyn.secret" "username = site3
password = s3cret-pass"
S=$D/state
# The echo services would say another address: the test sees which one is published.
ctl prov "echo_a=198.51.100.7&echo_b=198.51.100.7"
# A valid WireGuard public key (base64 of 32 bytes) for the edge.
EKEY=$(printf '%032d' 0 | base64)
table() { # FILE RELAY-LINES...
	f=$1; shift
	{ printf '[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\n'
	  for l in "$@"; do printf '%s\n' "$l"; done
	  printf '\n[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_port = 8000\n'
	  printf '\n[cam]\npublic_port = 8081\ninternal_ip = 192.168.2.102\ninternal_port = 80\n'; } >"$f"
}
relay() { table "$1" "relay = $2" "relay_public_key = $EKEY" "relay_address = 10.77.0.2" ${3:+"$3"}; }
conf() { # FILE [EXTRA-LINE]
	cat >"$1" <<EOF
[ddns home]
provider = dyndns2
server = $prov_url
hostname = site3.example.net
credentials_file = $D/dyn.secret
ca_file = $D/ca.pem
ip_source = relay
checkip = $prov_url/echo/a, $prov_url/echo/b
${2:-}
EOF
}
once() { "$PORTPILOT" -f "$1" -c "$2" --state-dir "$3" ddns --once >"$D/out" 2>"$D/err"; }
conf "$D/relay.conf"

relay "$D/t1.ini" 198.51.100.10:51820
check "check: the table's relay keys are valid" sh -c "\"$PORTPILOT\" -f \"$D/t1.ini\" check >/dev/null"
once "$D/t1.ini" "$D/relay.conf" "$S"
check "ip_source = relay publishes the edge's address" test "$(record prov site3.example.net)" = 198.51.100.10
check "  no echo service asked (the site's own address does not matter)" test "$(requests prov /echo/)" = 0
check "  status: published, no problem reported" sh -c \
	"test \"\$('$PORTPILOT' -f '$D/t1.ini' -c '$D/relay.conf' --state-dir '$S' --json ddns status |
	 jq -r '.ddns[0] | .published + \" \" + (.public_address_problem // \"none\")')\" = '198.51.100.10 none'"

# The edge moves (a new VPS): the name follows on the next pass.
relay "$D/t2.ini" 198.51.100.20
once "$D/t2.ini" "$D/relay.conf" "$S"
check "the edge moved: the name follows" test "$(record prov site3.example.net)" = 198.51.100.20
check "  with one more update" test "$(requests prov /nic/update)" = 2
once "$D/t2.ini" "$D/relay.conf" "$S"
check "  unchanged: no further update" test "$(requests prov /nic/update)" = 2

# A relay of some mappings only: published, and the status says which mappings answer there.
relay "$D/t3.ini" 198.51.100.20 "relay_mappings = web"
once "$D/t3.ini" "$D/relay.conf" "$S"
check "relay_mappings = web: the status says only web answers at the edge's address" \
	grep -q "the edge's address 198.51.100.20 is published (\[site\] relay); only the relayed mappings (web) answer there" "$D/err"

# Nothing sure to publish: nothing is published, and the reason says what to do.
S2=$D/state2
table "$D/none.ini"
once "$D/none.ini" "$D/relay.conf" "$S2"
said() { grep -q "$1" "$D/err" && test "$(requests prov /nic/update)" = 2; }   # and nothing sent
check "a table without [site] relay: nothing published, the fix named" \
	said "ip_source = relay, but $D/none.ini has no \[site\] relay: nothing is published; set \[site\] relay"
relay "$D/priv.ini" 192.168.2.9
once "$D/priv.ini" "$D/relay.conf" "$S2"
check "an edge with a private address: nothing published" said 'the edge 192.168.2.9 is 192.168.2.9, not a public address'
relay "$D/name.ini" localhost
once "$D/name.ini" "$D/relay.conf" "$S2"
check "an edge given by name is resolved (localhost: 127.0.0.1, not public)" \
	grep -q 'the edge localhost is 127.0.0.1, not a public address' "$D/err"
relay "$D/bad.ini" 198.51.100.10
sed -i '/^relay_public_key/d' "$D/bad.ini"
once "$D/bad.ini" "$D/relay.conf" "$S2"
check "a table whose relay keys are incomplete: its error, nothing published" said 'ip_source = relay: .*relay_public_key'

# ipv6 = yes would publish the site's own AAAA beside the edge: refused with the line.
conf "$D/v6.conf" "ipv6 = yes"
once "$D/t1.ini" "$D/v6.conf" "$S2"
rc=$?
check "ip_source = relay with ipv6 = yes: refused, FILE:LINE and the fix" sh -c \
	"test $rc != 0 && grep -q '$D/v6.conf:[0-9]*: .*ipv6.*ip_source = relay publishes the edge' '$D/err'"
# Control: the same section with ip_source = web publishes what the echo services say.
sed 's/^ip_source = relay/ip_source = web/' "$D/relay.conf" >"$D/web.conf"
once "$D/t1.ini" "$D/web.conf" "$D/state3"
check "  control: ip_source = web publishes the echoed address instead" \
	test "$(record prov site3.example.net)" = 198.51.100.7

# The monitor's published-address check follows the same source: the name must say the edge's
# address. Its resolver, in a namespace of this test, answers from a hosts file.
if [ "$(id -u)" = 0 ] && ip netns add pp-rs$$ 2>/dev/null; then
	NS=pp-rs$$
	at_exit "ip netns del $NS 2>/dev/null; rm -rf /etc/netns/$NS"
	mkdir -p /etc/netns/$NS
	printf '127.0.0.1 localhost\n198.51.100.10 site3.example.net\n' >/etc/netns/$NS/hosts
	: >/etc/netns/$NS/resolv.conf
	{ cat "$D/relay.conf"; printf '[monitor]\ninterval = 1\ndns_interval = 1\nfail_after = 1\nrecover_after = 1\n'; } >"$D/mon.conf"
	dnsstate() { # STATE-DIR STATE: the name's row is in STATE, its detail naming the edge
		_row=$(grep '"name":"dns:site3.example.net"' "$1/monitor-state.json" 2>/dev/null) &&   # jq -e passes on no input
		printf '%s\n' "${_row%,}" | jq -e ".state == \"$2\" and (.detail | test(\"edge\"))" >/dev/null 2>&1
	}
	monitor_until() { # TABLE STATE: a monitor on TABLE until the name is in STATE (15 s at most)
		PORTPILOT_JOURNAL_SOCKET=$D/none.sock ip netns exec $NS "$PORTPILOT" -f "$D/$1.ini" -c "$D/mon.conf" \
			--state-dir "$D/m-$1" monitor >"$D/m-$1.out" 2>&1 &
		_mp=$!
		wait_for 15 dnsstate "$D/m-$1" "$2"; _r=$?
		kill $_mp; wait $_mp 2>/dev/null
		cp "$D/m-$1/monitor-state.json" "$D/m-$1.state" 2>/dev/null
		return $_r
	}
	check "monitor: the name resolving to the edge's address (198.51.100.10) is up" monitor_until t1 up
	check "  control: with the edge at 198.51.100.20 the same answer is down" monitor_until t2 down
	check "  the state says the answer and the edge's address" grep -q \
		"site3.example.net resolves to 198.51.100.10, but the site's address is 198.51.100.20 (the edge's address" \
		"$D/m-t2.state"
fi
pp_done
