#!/bin/sh
# DDNS providers against a local fake (HTTP and HTTPS with a test CA) on 127.0.0.1:
# dyndns2, DuckDNS, Cloudflare, custom; echo services; credentials rules; answer classes.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

make_certs || { echo "# openssl failed"; exit 77; }
start_provider prov tls || exit 1
start_provider impostor bad || exit 1

PASS=s3cret-pass TOKEN=tok-123456
creds "$D/dyn.secret" "username = site3
password = $PASS"
creds "$D/tok.secret" "token = $TOKEN"

# conf FILE SECTION-BODY: one [ddns home] section, echo services on the fake provider.
conf() {
	cat >"$1" <<EOF
[ddns home]
ip_source = web
checkip   = $prov_url/echo/a, $prov_url/echo/b
ca_file   = $D/ca.pem
$2
EOF
}

S=$D/state
conf "$D/dyn.conf" "provider = dyndns2
server = $prov_url
hostname = site3.example.net, www.example.net
credentials_file = $D/dyn.secret"

check "dyndns2 over HTTPS (test CA) publishes the echoed address" pp "$D/dyn.conf" "$S" --once
check "record holds 198.51.100.7" test "$(record prov site3.example.net)" = 198.51.100.7
check "both hosts updated in one request" test "$(requests prov /nic/update)" = 1
check "status says good for each host" \
	test "$(field "$D/dyn.conf" "$S" home www.example.net last_result)" = good
check "User-Agent is portpilot/VERSION with a contact" \
	grep -q '"ua": "portpilot/0\.1\.0 (.*contact' "$D/prov.log"
check "first echo answer confirmed by a second service" test "$(requests prov /echo/)" = 2

check "unchanged address: second run succeeds" pp "$D/dyn.conf" "$S" --once
check "unchanged address: no request to the provider" test "$(requests prov /nic/update)" = 1
check "echo services asked at most once per 10 minutes" test "$(requests prov /echo/)" = 2

# Echo services that disagree: nothing changes, no update, no flapping.
ctl prov "echo_a=198.51.100.8&echo_b=198.51.100.9"
sed -i 's/^asked=.*/asked=1/' "$S/echo-services.state"     # 10 minutes have passed
pp "$D/dyn.conf" "$S" --once
check "disagreeing echo services: no update" test "$(requests prov /nic/update)" = 1
check "disagreeing echo services: reported in plain words" grep -q 'echo services disagree' "$D/err"
check "disagreeing echo services: record keeps 198.51.100.7" test "$(record prov site3.example.net)" = 198.51.100.7

# Both agree on a new address: one update.
ctl prov "echo_a=198.51.100.8&echo_b=198.51.100.8"
sed -i 's/^asked=.*/asked=1/' "$S/echo-services.state"
check "confirmed change is published" pp "$D/dyn.conf" "$S" --once
check "record follows to 198.51.100.8" test "$(record prov site3.example.net)" = 198.51.100.8
check "one more request for the change" test "$(requests prov /nic/update)" = 2

# --force re-sends unchanged addresses as a refresh: nochg is fine, not a stop.
check "--force refresh answered nochg is success" pp "$D/dyn.conf" "$S" --once --force
check "after refresh: status ok" test "$(field "$D/dyn.conf" "$S" home site3.example.net status)" = ok
check "no secret in output, logs or state" no_secret "$PASS" "$D/out" "$D/err" "$S"

# Credentials must be 0600.
chmod 644 "$D/dyn.secret"
cnt=$(requests prov /nic/update)
pp "$D/dyn.conf" "$S" --once; rc=$?
check "credentials readable by others: refused (exit 1)" test $rc = 1
check "refusal says how to fix it" grep -q "chmod 600 $D/dyn.secret" "$D/err"
check "refusal sends nothing" test "$(requests prov /nic/update)" = "$cnt"
chmod 600 "$D/dyn.secret"

# A certificate not signed by a trusted CA is refused.
S2=$D/state-bad
conf "$D/bad.conf" "provider = dyndns2
server = $impostor_url
hostname = site3.example.net
credentials_file = $D/dyn.secret"
pp "$D/bad.conf" "$S2" --once; rc=$?
check "bad certificate: run fails" test $rc = 1
check "bad certificate: no HTTP request reached the impostor" test "$(requests impostor /)" = 0
check "bad certificate: network class, retry later" \
	test "$(field "$D/bad.conf" "$S2" home site3.example.net last_result)" = network
check "bad certificate: status retry with a next attempt" \
	test -n "$(field "$D/bad.conf" "$S2" home site3.example.net next_attempt)"

# ca_file is an extra CA: the system's CAs stay trusted. Here the "system" bundle is the
# test CA (PORTPILOT_SYSTEM_CA) and ca_file another CA; the provider's certificate is the test CA's.
sed "s|^ca_file .*|ca_file = $D/bad.pem|" "$D/dyn.conf" >"$D/extra.conf"
(export PORTPILOT_SYSTEM_CA="$D/ca.pem"; pp "$D/extra.conf" "$D/state-extra" --once); rc=$?
check "ca_file is extra: the system CAs still verify the provider" test $rc = 0
check "ca_file is extra: published" test "$(field "$D/extra.conf" "$D/state-extra" home site3.example.net status)" = ok
(export PORTPILOT_SYSTEM_CA=/dev/null; pp "$D/extra.conf" "$D/state-extra2" --once); rc=$?
check "ca_file is extra: without the system CA the same certificate is refused" test $rc = 1
sed "s|^ca_file .*|ca_file = $D/missing.pem|" "$D/dyn.conf" >"$D/missing.conf"
pp "$D/missing.conf" "$D/state-missing" --once
check "ca_file missing: the error names the file" grep -q "ca_file $D/missing.pem: cannot read" "$D/err"

# Fatal answer: badauth stops updates, across runs, until credentials change.
S3=$D/state-auth
creds "$D/wrong.secret" "username = site3
password = wrong"
conf "$D/auth.conf" "provider = dyndns2
server = $prov_url
hostname = site3.example.net
credentials_file = $D/wrong.secret"
ctl prov "echo_a=198.51.100.20&echo_b=198.51.100.20"
pp "$D/auth.conf" "$S3" --once
cnt=$(requests prov /nic/update)
check "badauth: host stopped" test "$(field "$D/auth.conf" "$S3" home site3.example.net status)" = stopped
check "badauth: reason says fix the credentials" grep -q 'fix the credentials' "$D/err"
pp "$D/auth.conf" "$S3" --once
pp "$D/auth.conf" "$S3" --once
check "badauth: later runs send nothing" test "$(requests prov /nic/update)" = "$cnt"
"$PORTPILOT" -c "$D/auth.conf" --state-dir "$S3" ddns status >"$D/st" 2>&1; rc=$?
check "status exits 1 and shows the reason" sh -c "test $rc = 1 && grep -q 'reason: provider refused' '$D/st'"
creds "$D/wrong.secret" "username = site3
password = $PASS"
check "credentials fixed: update goes out and succeeds" pp "$D/auth.conf" "$S3" --once
check "credentials fixed: record published" test "$(record prov site3.example.net)" = 198.51.100.20

# 911: retry not before 30 minutes; nothing sent meanwhile.
S4=$D/state-911
conf "$D/911.conf" "provider = dyndns2
server = $prov_url
hostname = www.example.net
credentials_file = $D/dyn.secret"
ctl prov "echo_a=198.51.100.21&echo_b=198.51.100.21"
ctl prov "force=911"
pp "$D/911.conf" "$S4" --once
cnt=$(requests prov /nic/update)
next=$(field "$D/911.conf" "$S4" home www.example.net next_attempt_unix)
check "911: status retry" test "$(field "$D/911.conf" "$S4" home www.example.net status)" = retry
check "911: next attempt at least 30 minutes away" test "$next" -ge $(( $(date +%s) + 1790 ))
pp "$D/911.conf" "$S4" --once
check "911: second run sends nothing" test "$(requests prov /nic/update)" = "$cnt"

# HTTP 503: retry class with a short backoff; nohost: fatal for that host only.
S5=$D/state-5xx
conf "$D/5xx.conf" "provider = dyndns2
server = $prov_url
hostname = home.example.net, nothere.example.net
credentials_file = $D/dyn.secret"
ctl prov "force=http:503"
pp "$D/5xx.conf" "$S5" --once
check "HTTP 503: retry" test "$(field "$D/5xx.conf" "$S5" home home.example.net last_result)" = http-5xx
sed -i 's/^next_attempt=.*/next_attempt=0/' "$S5/ddns-home.state"     # backoff has passed
pp "$D/5xx.conf" "$S5" --once
check "per-host answers: known host good" \
	test "$(field "$D/5xx.conf" "$S5" home home.example.net last_result)" = good
check "per-host answers: unknown host nohost and stopped" \
	test "$(field "$D/5xx.conf" "$S5" home nothere.example.net status)" = stopped

# DuckDNS: token in the URL, redacted in logs.
S6=$D/state-duck
conf "$D/duck.conf" "provider = duckdns
server = $prov_url
hostname = site3.duckdns.org
credentials_file = $D/tok.secret"
check "duckdns: OK" pp "$D/duck.conf" "$S6" --once
check "duckdns: record set" test "$(record prov site3.duckdns.org)" = 198.51.100.21
check "duckdns: token redacted in the log line" sh -c "grep -q 'token=\*\*\*' '$D/err'"
check "duckdns: token never printed" no_secret "$TOKEN" "$D/out" "$D/err" "$S6"
creds "$D/badtok.secret" "token = nope"
S7=$D/state-duck2
conf "$D/duck2.conf" "provider = duckdns
server = $prov_url
hostname = other.duckdns.org
credentials_file = $D/badtok.secret"
pp "$D/duck2.conf" "$S7" --once
check "duckdns: KO stops the host" test "$(field "$D/duck2.conf" "$S7" home other.duckdns.org status)" = stopped

# Cloudflare v4: find zone and record, PATCH.
S8=$D/state-cf
conf "$D/cf.conf" "provider = cloudflare
server = $prov_url/client/v4
hostname = home.example.net
credentials_file = $D/tok.secret"
ctl prov "set=home.example.net=198.51.100.99"     # the record holds an old address
check "cloudflare: update succeeds" pp "$D/cf.conf" "$S8" --once
check "cloudflare: record content patched" test "$(record prov home.example.net)" = 198.51.100.21
check "cloudflare: one PATCH" test "$(grep -c "\"PATCH\"" "$D/prov.log")" = 1
check "cloudflare: unchanged record is not patched again" pp "$D/cf.conf" "$D/state-cf-fresh" --once
check "cloudflare: still one PATCH (found content equal: nochg)" test "$(grep -c '"PATCH"' "$D/prov.log")" = 1
check "cloudflare: bearer token, never printed" no_secret "$TOKEN" "$D/out" "$D/err" "$S8"
S9=$D/state-cf2
conf "$D/cf2.conf" "provider = cloudflare
server = $prov_url/client/v4
hostname = missing.example.net
credentials_file = $D/tok.secret"
pp "$D/cf2.conf" "$S9" --once
check "cloudflare: unknown record is nohost, stopped" \
	test "$(field "$D/cf2.conf" "$S9" home missing.example.net last_result)" = nohost
S10=$D/state-cf3
conf "$D/cf3.conf" "provider = cloudflare
server = $prov_url/client/v4
hostname = home.example.net
credentials_file = $D/badtok.secret"
pp "$D/cf3.conf" "$S10" --once
check "cloudflare: bad token (403) is badauth" \
	test "$(field "$D/cf3.conf" "$S10" home home.example.net last_result)" = badauth
# A proxied record: public DNS shows Cloudflare's addresses, so no authoritative check.
ctl prov "proxied=1&set=home.example.net=198.51.100.98"
pp "$D/cf.conf" "$D/state-cf-proxied" --once
check "cloudflare: proxied record updated, status ok" \
	test "$(field "$D/cf.conf" "$D/state-cf-proxied" home home.example.net status)" = ok
check "cloudflare: proxied record not checked at DNS, said so" sh -c \
	"'$PORTPILOT' -c '$D/cf.conf' --state-dir '$D/state-cf-proxied' ddns status | grep -q 'record is proxied by Cloudflare'"
ctl prov "proxied=0"

# Custom URL template: secrets substituted, shown as *** in logs.
S11=$D/state-custom
conf "$D/custom.conf" "provider = custom
url = $prov_url/custom?host={hostname}&ip={ip}&key={token}
hostname = custom.example.net
credentials_file = $D/tok.secret"
check "custom: update succeeds" pp "$D/custom.conf" "$S11" --once
check "custom: record set" test "$(record prov custom.example.net)" = 198.51.100.21
check "custom: URL logged with key=***" grep -q 'key=\*\*\*' "$D/err"
check "custom: token never printed" no_secret "$TOKEN" "$D/out" "$D/err" "$S11"
# success = the line a real success holds: HTTP 200 with "KO" is then no success.
conf "$D/custom-ok.conf" "provider = custom
url = $prov_url/custom?host={hostname}&ip={ip}&key={token}
success = updated
hostname = custom2.example.net, ko.example.net
credentials_file = $D/tok.secret"
pp "$D/custom-ok.conf" "$D/state-custom-ok" --once
check "custom success=: the host whose answer holds the line is ok" \
	test "$(field "$D/custom-ok.conf" "$D/state-custom-ok" home custom2.example.net status)" = ok
check "custom success=: HTTP 200 with KO is not ok" \
	test "$(field "$D/custom-ok.conf" "$D/state-custom-ok" home ko.example.net status)" != ok
check "custom success=: the log says the success line was missing" grep -q 'without the success line' "$D/err"
conf "$D/custom-bad.conf" "provider = dyndns2
server = $prov_url
success = good
hostname = x.example.net
credentials_file = $D/tok.secret"
"$PORTPILOT" -c "$D/custom-bad.conf" --state-dir "$D/s-bad" ddns --once >/dev/null 2>"$D/berr"
check "success= outside provider = custom is refused, naming file, line and key" \
	grep -q "custom-bad.conf:[0-9]*: .*success: only provider = custom reads it" "$D/berr"

# Under systemd (JOURNAL_STREAM set) every log line carries its journald priority.
JOURNAL_STREAM=8:1 "$PORTPILOT" -c "$D/custom.conf" --state-dir "$D/s-journal" ddns --once 2>"$D/jerr" >/dev/null
check "journald: lines start with a <priority> prefix" sh -c "grep -q '^<5>ddns\[home\] custom.example.net: ' '$D/jerr' && ! grep -qv '^<[0-7]>' '$D/jerr'"
check "--once --json prints the status as JSON" sh -c \
	"'$PORTPILOT' -c '$D/custom.conf' --state-dir '$D/s-journal' --json ddns --once 2>/dev/null | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"ddns\"][0][\"status\"] == \"ok\"'"
check "ddns status --json is valid JSON with every host" sh -c \
	"'$PORTPILOT' -c '$D/dyn.conf' --state-dir '$S' --json ddns status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"ddns\"]) == 2'"
pp_done
