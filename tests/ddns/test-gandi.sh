#!/bin/sh
# provider = gandi (LiveDNS API v5) against the local fake over HTTPS with a test CA: the rrset
# PUT per host (apex as @), the token in the Authorization header only, the answers' classes,
# and the section checks of its row (ttl minimum, hosts outside the zone).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

make_certs || { echo "# openssl failed"; exit 77; }
start_provider prov tls || exit 1
start_provider plain http || exit 1

TOKEN=tok-123456
creds "$D/tok.secret" "token = $TOKEN"
creds "$D/bad.secret" "token = nope"

# conf FILE SECTION-BODY [URL]: one [ddns home] section, provider = gandi, the API and the
# echo services on the fake at URL (default: the HTTPS one).
conf() {
	u=${3:-$prov_url}
	cat >"$1" <<EOF2
[ddns home]
provider  = gandi
server    = $u/v5/livedns
ip_source = web
checkip   = $u/echo/a, $u/echo/b
ca_file   = $D/ca.pem
$2
EOF2
}
state_of() {
	curl -fsS --cacert "$D/ca.pem" "$prov_url/_state" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

conf "$D/g.conf" "hostname = example.net, home.example.net
zone = example.net
credentials_file = $D/tok.secret"
check "gandi: update succeeds" pp "$D/g.conf" "$D/s1" --once
check "gandi: the apex's A rrset holds the echoed address" test "$(record prov example.net)" = 198.51.100.7
check "gandi: the subdomain's A rrset too" test "$(record prov home.example.net)" = 198.51.100.7
check "gandi: one PUT per host, to records/@/A and records/home/A" sh -c \
	"[ \"\$(grep -c '\"PUT\", \"path\": \"/v5/livedns/domains/example.net/records/@/A\"' $D/prov.log)\" = 1 ] &&
	 [ \"\$(grep -c '\"PUT\", \"path\": \"/v5/livedns/domains/example.net/records/home/A\"' $D/prov.log)\" = 1 ]"
check "gandi: rrset_ttl is the section's ttl (default 300)" test "$(state_of 'd["ttl"]["home.example.net A"]')" = 300
check "gandi: bearer token in the Authorization header" sh -c "grep '/v5/livedns' $D/prov.log | grep -q '\"auth\": \"Bearer\"'"
check "gandi: status ok, provider gandi" sh -c "'$PORTPILOT' -c '$D/g.conf' --state-dir '$D/s1' --json ddns status |
	python3 -c 'import json,sys; d=json.load(sys.stdin)[\"ddns\"]; assert len(d) == 2 and all(r[\"status\"] == \"ok\" and r[\"provider\"] == \"gandi\" for r in d), d'"
check "gandi: the log names the PUT and its answer" grep -q 'PUT https://127.0.0.1:[0-9]*/v5/livedns/domains/example.net/records/home/A -> HTTP 201' "$D/err"
check "gandi: token never printed" no_secret "$TOKEN" "$D/out" "$D/err" "$D/s1"

# The zone defaults to the host name's parent.
conf "$D/g2.conf" "hostname = www.example.net
credentials_file = $D/tok.secret
ttl = 3600"
check "gandi: without zone, the parent is the zone" pp "$D/g2.conf" "$D/s2" --once
check "gandi: www's rrset set" test "$(record prov www.example.net)" = 198.51.100.7
check "gandi: with the section's ttl 3600" test "$(state_of 'd["ttl"]["www.example.net A"]')" = 3600

# A refused token (403) is badauth: stopped, nothing more is sent.
conf "$D/bad.conf" "hostname = site3.example.net
credentials_file = $D/bad.secret"
pp "$D/bad.conf" "$D/s3" --once
cnt=$(requests prov /v5/livedns)
check "gandi: 403 is badauth" test "$(field "$D/bad.conf" "$D/s3" home site3.example.net last_result)" = badauth
check "gandi: badauth stops the host" test "$(field "$D/bad.conf" "$D/s3" home site3.example.net status)" = stopped
pp "$D/bad.conf" "$D/s3" --once
check "gandi: a stopped host sends nothing" test "$(requests prov /v5/livedns)" = "$cnt"

# A domain that is not on LiveDNS (404) is nohost.
conf "$D/nz.conf" "hostname = site3.example.org
credentials_file = $D/tok.secret"
pp "$D/nz.conf" "$D/s4" --once
check "gandi: unknown domain (404) is nohost" test "$(field "$D/nz.conf" "$D/s4" home site3.example.org last_result)" = nohost

# The row's own checks, when the file is read: nothing is sent.
cnt=$(requests prov /v5/livedns)
conf "$D/ttl.conf" "hostname = site3.example.net
credentials_file = $D/tok.secret
ttl = 120"
"$PORTPILOT" -c "$D/ttl.conf" --state-dir "$D/s5" ddns --once >/dev/null 2>"$D/e5"; rc=$?
check "gandi: ttl under 300 refused (configuration error, exit 2)" test $rc = 2
check "gandi: the refusal names file, line, key and the minimum" grep -q "ttl.conf:9: \[ddns home\] ttl: 120 is under Gandi's minimum; write ttl = 300 or more" "$D/e5"
conf "$D/zone.conf" "hostname = site3.example.net, other.example.org
zone = example.net
credentials_file = $D/tok.secret"
"$PORTPILOT" -c "$D/zone.conf" --state-dir "$D/s6" ddns --once >/dev/null 2>"$D/e6"; rc=$?
check "gandi: a host outside zone refused (configuration error, exit 2)" test $rc = 2
check "gandi: the refusal names the host and the zone" grep -q "zone.conf:7: \[ddns home\] hostname: other.example.org is not in zone example.net" "$D/e6"
check "gandi: refused sections send nothing" test "$(requests prov /v5/livedns)" = "$cnt"
conf "$D/nocred.conf" "hostname = site3.example.net"
"$PORTPILOT" -c "$D/nocred.conf" --state-dir "$D/s7" ddns --once >/dev/null 2>"$D/e7"
check "gandi: credentials_file is required" grep -q "credentials_file: missing" "$D/e7"

# The token over http:// is warned about, naming what goes in clear.
conf "$D/clear.conf" "hostname = site3.example.net
credentials_file = $D/tok.secret" "$plain_url"
pp "$D/clear.conf" "$D/s8" --once
check "gandi over http://: warned that the token goes in clear" \
	grep -q "the personal access token (Authorization header) goes to $plain_url in clear" "$D/err"
check "gandi over http://: still published (a warning, not a refusal)" test "$(record plain site3.example.net)" = 198.51.100.7
pp_done
