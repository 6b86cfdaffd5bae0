#!/bin/sh
# RFC 2136 with TSIG through nsupdate against a real BIND9 started here on 127.0.0.1 (high port).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

for t in named nsupdate dig tsig-keygen; do
	command -v $t >/dev/null || { echo "# $t missing (bind9, bind9-dnsutils)"; exit 77; }
done

bind_zone "ns1 IN A 203.0.113.53" "site3 IN A 192.0.2.1"
# start_named: on a free high port of 127.0.0.1; sets NS_PORT.
start_named() {
	for try in 1 2 3 4 5; do
		NS_PORT=$(( 20000 + ($$ * 7 + try * 131) % 30000 ))
		bind_start 127.0.0.1 $NS_PORT "" && return 0
	done
	return 1
}
start_named || { echo "# named did not start"; tail -5 "$N/log"; exit 77; }
start_provider echo http || exit 1

lookup() { dig +short +time=2 +tries=1 -p $NS_PORT @127.0.0.1 "$1" "${2:-A}"; }

tsig_creds "$D/tsig.secret"
cat >"$D/ns.conf" <<EOF
[ddns dns]
provider = nsupdate
server = 127.0.0.1:$NS_PORT
hostname = site3.example.net, new.example.net
credentials_file = $D/tsig.secret
ip_source = web
checkip = $echo_url/echo/a, $echo_url/echo/b
ttl = 120
EOF
S=$D/state
check "zone starts with the old address" test "$(lookup site3.example.net)" = 192.0.2.1
check "nsupdate with TSIG: --once succeeds" pp "$D/ns.conf" "$S" --once
check "update verified at the server that took it" grep -q "verified: 127.0.0.1:$NS_PORT serves 198.51.100.7" "$D/err"
check "BIND9 serves the new A record" test "$(lookup site3.example.net)" = 198.51.100.7
check "a name that did not exist is created" test "$(lookup new.example.net)" = 198.51.100.7
check "TTL is the configured one" sh -c "dig +noall +answer -p $NS_PORT @127.0.0.1 site3.example.net A | grep -q '	120	'"
check "status: good" test "$(field "$D/ns.conf" "$S" dns site3.example.net last_result)" = good
check "TSIG secret never printed or stored" no_secret "$SECRET" "$D/out" "$D/err" "$S"

# Wrong key: BIND answers NOTAUTH/BADSIG; fatal, stopped, zone untouched.
creds "$D/bad.secret" "key_name = pp-ddns-key
key_algorithm = hmac-sha256
key_secret = $(printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')"
sed "s|$D/tsig.secret|$D/bad.secret|" "$D/ns.conf" >"$D/bad.conf"
curl -fsS "$echo_url/_ctl?echo_a=198.51.100.30&echo_b=198.51.100.30" >/dev/null
pp "$D/bad.conf" "$D/state-bad" --once; rc=$?
check "wrong TSIG key: run fails" test $rc = 1
check "wrong TSIG key: badauth, stopped" \
	test "$(field "$D/bad.conf" "$D/state-bad" dns site3.example.net status)" = stopped
check "wrong TSIG key: zone unchanged" test "$(lookup site3.example.net)" = 198.51.100.7

# Name outside the zone the server is primary for: the server refuses; fatal.
cat >"$D/other.conf" <<EOF
[ddns other]
provider = nsupdate
server = 127.0.0.1:$NS_PORT
hostname = site3.example.org
credentials_file = $D/tsig.secret
ip_source = web
checkip = $echo_url/echo/a, $echo_url/echo/b
EOF
pp "$D/other.conf" "$D/state-other" --once
check "zone not served: stopped" \
	test "$(field "$D/other.conf" "$D/state-other" other site3.example.org status)" = stopped
check "zone not served: nohost (not blamed on the key)" \
	test "$(field "$D/other.conf" "$D/state-other" other site3.example.org last_result)" = nohost

# Address change: the good key publishes the new address.
sed -i 's/^asked=.*/asked=1/' "$S/echo-services.state"
check "changed address updates the zone" pp "$D/ns.conf" "$S" --once
check "BIND9 serves 198.51.100.30" test "$(lookup site3.example.net)" = 198.51.100.30
pp_done
