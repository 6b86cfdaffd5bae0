#!/bin/sh
# DDNS messages that must say what happened: a huge answer is "too large", not "unreachable";
# the summary counts a host a fatal answer just stopped; a secret bound for http:// is warned of.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

make_certs || { echo "# openssl failed"; exit 77; }
start_provider prov tls || exit 1
start_provider plain http || exit 1

PASS=s3cret-pass TOKEN=tok-123456
creds "$D/dyn.secret" "username = site3
password = $PASS"
creds "$D/tok.secret" "token = $TOKEN"
creds "$D/wrong.secret" "username = site3
password = wrong"

# conf FILE PROVIDER-URL SECTION-BODY: one [ddns home] section, echo services on that provider.
conf() {
	cat >"$1" <<EOF
[ddns home]
ip_source = web
checkip   = $2/echo/a, $2/echo/b
ca_file   = $D/ca.pem
$3
EOF
}
dyn() { conf "$1" "$2" "provider = dyndns2
server = $2
hostname = site3.example.net
credentials_file = $3"; }

# ---- an answer of 100 MB, announced by Content-Length, then streamed without one ----
MB100=104857600
for how in big bigstream; do
	S=$D/state-$how
	dyn "$D/$how.conf" "$prov_url" "$D/dyn.secret"
	ctl prov "force=$how:$MB100"
	t0=$(date +%s)
	pp "$D/$how.conf" "$S" --once
	t1=$(date +%s)
	check "$how answer of 100 MB: result toolarge" \
		test "$(field "$D/$how.conf" "$S" home site3.example.net last_result)" = toolarge
	check "$how answer of 100 MB: the log says 'answer too large (over 65536 bytes)'" \
		grep -q 'answer too large (over 65536 bytes)' "$D/err"
	check "$how answer of 100 MB: not called unreachable" sh -c "! grep -q unreachable '$D/err'"
	check "$how answer of 100 MB: status gives the reason" sh -c \
		"'$PORTPILOT' -c '$D/$how.conf' --state-dir '$S' ddns status | grep -q 'reason: answer too large (over 65536 bytes)'"
	check "$how answer of 100 MB: retried later, not stopped" \
		test "$(field "$D/$how.conf" "$S" home site3.example.net status)" = retry
	check "$how answer of 100 MB: given up at once ($((t1 - t0)) s)" test $((t1 - t0)) -le 5
done
# An answer just under the cap is read and understood.
ctl prov "force=big:65536"
dyn "$D/edge.conf" "$prov_url" "$D/dyn.secret"
pp "$D/edge.conf" "$D/state-edge" --once
check "answer of exactly 65536 bytes is read (not too large)" \
	test "$(field "$D/edge.conf" "$D/state-edge" home site3.example.net last_result)" != toolarge

# ---- the summary counts the host badauth just stopped ----
dyn "$D/auth.conf" "$prov_url" "$D/wrong.secret"
pp "$D/auth.conf" "$D/state-auth" --once; rc=$?
check "badauth: exit 1" test $rc = 1
check "badauth: host stopped" test "$(field "$D/auth.conf" "$D/state-auth" home site3.example.net status)" = stopped
check "badauth: the summary says 1 stopped, 0 failed" grep -q '0 failed, 1 stopped' "$D/err"
pp "$D/auth.conf" "$D/state-auth" --once
check "badauth, next run: still 1 stopped" grep -q '0 failed, 1 stopped' "$D/err"
# A retry answer is a failure, not a stop.
ctl prov "force=911"
dyn "$D/911.conf" "$prov_url" "$D/dyn.secret"
pp "$D/911.conf" "$D/state-911" --once
check "911: the summary says 1 failed, 0 stopped" grep -q '1 failed, 0 stopped' "$D/err"

# ---- a secret bound for http:// ----
dyn "$D/clear.conf" "$plain_url" "$D/dyn.secret"
pp "$D/clear.conf" "$D/state-clear" --once
check "http:// dyndns2: the update still goes out" \
	test "$(field "$D/clear.conf" "$D/state-clear" home site3.example.net status)" = ok
check "http:// dyndns2: ddns --once warns the password goes in clear" \
	grep -q "warning: the password (HTTP Basic auth) goes to $plain_url in clear.*write https:// in server of the section at $D/clear.conf:1" "$D/err"
"$PORTPILOT" -c "$D/clear.conf" --state-dir "$D/state-clear" ddns status >"$D/st" 2>"$D/st.err"
check "http:// dyndns2: ddns status warns too" grep -q "warning: \[ddns home\]: the password (HTTP Basic auth) goes to $plain_url in clear" "$D/st.err"
check "http:// dyndns2: the password is never printed" no_secret "$PASS" "$D/err" "$D/st" "$D/st.err"
dyn "$D/tls.conf" "$prov_url" "$D/dyn.secret"
pp "$D/tls.conf" "$D/state-tls" --once
check "https:// dyndns2: no warning" sh -c "! grep -q 'in clear' '$D/err'"
conf "$D/duck.conf" "$plain_url" "provider = duckdns
server = $plain_url
hostname = site3.duckdns.org
credentials_file = $D/tok.secret"
pp "$D/duck.conf" "$D/state-duck" --once
check "http:// duckdns: the token in clear is warned of" grep -q "warning: the token (in the URL) goes to $plain_url in clear" "$D/err"
conf "$D/custom.conf" "$plain_url" "provider = custom
url = $plain_url/custom?host={hostname}&ip={ip}&key={token}
hostname = custom.example.net
credentials_file = $D/tok.secret"
pp "$D/custom.conf" "$D/state-custom" --once
check "http:// custom url with {token}: warned" grep -q "warning: the credentials in url goes to $plain_url in clear.*in url" "$D/err"
check "http:// custom url: the token is never printed" no_secret "$TOKEN" "$D/err"
conf "$D/custom2.conf" "$plain_url" "provider = custom
url = $plain_url/custom?host={hostname}&ip={ip}&key=
hostname = custom.example.net"
pp "$D/custom2.conf" "$D/state-custom2" --once
check "http:// custom url without a secret: no warning" sh -c "! grep -q 'in clear' '$D/err'"

# A section name with an escape sequence: status and the run's log show it as text.
printf '[ddns ev\033[31mil]\nprovider = dyndns2\nserver = %s\nhostname = site3.example.net\ncredentials_file = %s\nip_source = web\ncheckip = %s/echo/a, %s/echo/b\n' \
	"$plain_url" "$D/dyn.secret" "$plain_url" "$plain_url" >"$D/esc.conf"
pp "$D/esc.conf" "$D/state-esc" --once
"$PORTPILOT" -c "$D/esc.conf" --state-dir "$D/state-esc" ddns status >"$D/st" 2>&1
esc=$(printf '\033')
check "section name with ESC: the run's log has no raw ESC" sh -c "grep -q 'ev.x1b.31mil' '$D/err' && ! grep -q '$esc' '$D/err'"
check "section name with ESC: status has no raw ESC" sh -c "grep -q '^ev.x1b.31mil ' '$D/st' && ! grep -q '$esc' '$D/st'"
pp_done
