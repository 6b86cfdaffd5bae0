#!/bin/sh
# After an HTTP-provider update, portpilot checks the record at the zone's authoritative
# servers, found through the NS records the namespace's resolver (/etc/netns/NS/resolv.conf)
# gives: a real BIND9, authoritative for example.net on 198.51.100.53 inside a pp- namespace.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

bind_ns ac
in_ns ip link set lo up &&
in_ns ip link add d0 type veth peer name d1 &&
in_ns ip addr add $DNS/24 dev d0 &&
in_ns ip link set d0 up && in_ns ip link set d1 up || { echo "# cannot build the namespace"; exit 1; }
# `ip netns exec` bind-mounts this file over /etc/resolv.conf for whatever runs inside.
mkdir -p /etc/netns/$NS
at_exit "rm -rf /etc/netns/$NS"
echo "nameserver $DNS" >/etc/netns/$NS/resolv.conf

bind_zone "ns1 IN A $DNS" "site3 IN A 192.0.2.1"
bind_start $DNS 53 $NS || { echo "# named did not start"; tail -5 "$N/log"; exit 1; }
lookup() { in_ns dig +short +time=2 +tries=1 @$DNS "$1" A; }

# The provider publishes what it accepts into BIND9, like a real provider's backend.
PROVIDER_ARGS="--nsupdate $DNS:53 --tsig $N/key.conf" start_provider prov http $NS || exit 1
creds "$D/dyn.secret" "username = site3
password = s3cret-pass"
conf() {   # conf FILE HOST
	cat >"$1" <<EOF
[ddns lab]
provider = dyndns2
server = $prov_url
hostname = $2
credentials_file = $D/dyn.secret
ip_source = web
checkip = $prov_url/echo/a, $prov_url/echo/b
EOF
}
# ppn CONF STATE ARGS...: portpilot ddns inside the namespace, with its resolver.
ppn() {
	c=$1 s=$2; shift 2
	ip netns exec $NS env PORTPILOT_RESOLV_CONF= "$PORTPILOT" -c "$c" --state-dir "$s" ddns "$@" \
		>"$D/out" 2>"$D/err"
	rc_=$?
	[ $rc_ -ne 0 ] && sed 's/^/# /' "$D/err"
	return $rc_
}
updates() { requests prov /nic/update; }
echo_new() {   # echo_new ADDR STATE_DIR: the next check asks the echo services again and sees ADDR
	ctl prov "echo_a=$1&echo_b=$1" $NS
	sed -i 's/^asked=.*/asked=1/' "$2/echo-services.state"
}
reason_has() { field "$1" "$2" lab "$3" reason | grep -q "$4"; }   # reason_has CONF STATE HOST TEXT
retry_due() { sed -i 's/^next_attempt=.*/next_attempt=1/' "$1"; }

conf "$D/a.conf" site3.example.net
S=$D/state
check "zone starts with the old address" test "$(lookup site3.example.net)" = 192.0.2.1
check "update: --once succeeds" ppn "$D/a.conf" "$S" --once
check "provider published into BIND9" test "$(lookup site3.example.net)" = 198.51.100.7
check "verified at the authoritative server found through NS" \
	grep -q "verified: ns1.example.net ($DNS), authoritative for example.net, serves 198.51.100.7" "$D/err"
check "status ok, no reason" test "$(field "$D/a.conf" "$S" lab site3.example.net status)/$(field "$D/a.conf" "$S" lab site3.example.net reason)" = "ok/"

# The provider says good but its DNS lags: propagation, re-checked, never re-sent in the window.
ctl prov "propagate=0" $NS
echo_new 198.51.100.30 "$S"
ppn "$D/a.conf" "$S" --once; rc=$?
check "lagging DNS: the update itself succeeds" test $rc = 0
check "lagging DNS: BIND9 still has the old address" test "$(lookup site3.example.net)" = 198.51.100.7
check "lagging DNS: status propagating" test "$(field "$D/a.conf" "$S" lab site3.example.net status)" = propagating
check "lagging DNS: the accepted address stays published" \
	test "$(field "$D/a.conf" "$S" lab site3.example.net published)" = 198.51.100.30
check "lagging DNS: reason names the server, what it answers, and the wait" sh -c \
	"'$PORTPILOT' -c '$D/a.conf' --state-dir '$S' ddns status | grep -q 'reason: provider accepted the update but ns1.example.net ($DNS), authoritative for example.net, answers 198.51.100.7; waiting for it to propagate'"
check "lagging DNS: a re-check is scheduled" test -n "$(field "$D/a.conf" "$S" lab site3.example.net next_attempt)"
n=$(updates)
ppn "$D/a.conf" "$S" --once
retry_due "$S/ddns-lab.state"
ppn "$D/a.conf" "$S" --once
check "lagging DNS: re-checks send nothing" test "$(updates)" = "$n"
check "lagging DNS: still propagating, not stopped" \
	test "$(field "$D/a.conf" "$S" lab site3.example.net status)" = propagating
# The provider's DNS catches up: the next re-check sees it; still no request.
ctl prov "propagate=1" $NS
retry_due "$S/ddns-lab.state"
check "caught up: re-check succeeds" ppn "$D/a.conf" "$S" --once
check "caught up: verified at the authoritative server" grep -q "verified: .* serves 198.51.100.30" "$D/err"
check "caught up: no request sent" test "$(updates)" = "$n"
check "caught up: status ok" test "$(field "$D/a.conf" "$S" lab site3.example.net status)" = ok
check "caught up: BIND9 serves the new address" test "$(lookup site3.example.net)" = 198.51.100.30

# Still wrong after the propagation window: a real mismatch, sent again once after a backoff.
ctl prov "propagate=0" $NS
echo_new 198.51.100.31 "$S"
ppn "$D/a.conf" "$S" --once
sed -i "s/^published_at=.*/published_at=$(($(date +%s) - 3700))/" "$S/ddns-lab.state"
retry_due "$S/ddns-lab.state"
ppn "$D/a.conf" "$S" --once; rc=$?
check "window over: run reports failure" test $rc = 1
check "window over: status retry" test "$(field "$D/a.conf" "$S" lab site3.example.net status)" = retry
check "window over: nothing counted as published" test -z "$(field "$D/a.conf" "$S" lab site3.example.net published)"
check "window over: reason says it is sent again" \
	reason_has "$D/a.conf" "$S" site3.example.net "sending it again after the backoff"
n=$(updates)
ppn "$D/a.conf" "$S" --once
check "window over: no request before the backoff" test "$(updates)" = "$n"
ctl prov "propagate=1" $NS
retry_due "$S/ddns-lab.state"
check "after the backoff: update sent again" ppn "$D/a.conf" "$S" --once
check "after the backoff: exactly one more request" test "$(updates)" = $((n + 1))
check "after the backoff: BIND9 serves the new address" test "$(lookup site3.example.net)" = 198.51.100.31
check "after the backoff: verified, status ok" test "$(field "$D/a.conf" "$S" lab site3.example.net status)" = ok
check "after the backoff: published" test "$(field "$D/a.conf" "$S" lab site3.example.net published)" = 198.51.100.31

# A name the provider accepts but the zone does not have yet: NXDOMAIN is propagation first.
ctl prov "propagate=0" $NS
conf "$D/w.conf" www.example.net
check "NXDOMAIN: the update itself succeeds" ppn "$D/w.conf" "$D/state-w" --once
check "NXDOMAIN: status propagating" test "$(field "$D/w.conf" "$D/state-w" lab www.example.net status)" = propagating
check "NXDOMAIN: said in the reason" reason_has "$D/w.conf" "$D/state-w" www.example.net NXDOMAIN
n=$(updates)
ppn "$D/w.conf" "$D/state-w" --once
check "NXDOMAIN: no second request" test "$(updates)" = "$n"

# ipv6 = yes: the AAAA is checked at the authoritative servers too, and its lag is propagation.
ctl prov "propagate=1" $NS
in_ns ip -6 addr add 2001:db8::53/64 dev d0 nodad
conf "$D/6.conf" home.example.net
printf 'interface = d0\nipv6 = yes\n' >>"$D/6.conf"
check "AAAA: --once succeeds" ppn "$D/6.conf" "$D/state-6" --once
check "AAAA: BIND9 serves it" test "$(in_ns dig +short +time=2 +tries=1 @$DNS home.example.net AAAA)" = 2001:db8::53
check "AAAA: verified at the authoritative server" grep -q "serves 2001:db8::53" "$D/err"
check "AAAA: status ok" test "$(field "$D/6.conf" "$D/state-6" lab home.example.net status)" = ok
ctl prov "propagate=0" $NS
in_ns ip -6 addr add 2001:db8::54/64 dev d0 nodad
in_ns ip -6 addr del 2001:db8::53/64 dev d0
ppn "$D/6.conf" "$D/state-6" --once
check "AAAA lagging, A current: propagating" \
	test "$(field "$D/6.conf" "$D/state-6" lab home.example.net status)" = propagating
check "AAAA lagging: the reason names the AAAA answer" \
	reason_has "$D/6.conf" "$D/state-6" home.example.net "answers 2001:db8::53"

# No authoritative answer at all (BIND9 gone): said in status, published, no retry loop.
kill $NAMED_PID; wait $NAMED_PID 2>/dev/null
ctl prov "propagate=0" $NS
conf "$D/h.conf" home.example.net
check "no authoritative answer: the update itself succeeds" ppn "$D/h.conf" "$D/state-h" --once
check "no authoritative answer: status ok" test "$(field "$D/h.conf" "$D/state-h" lab home.example.net status)" = ok
check "no authoritative answer: said in the reason" \
	reason_has "$D/h.conf" "$D/state-h" home.example.net "published, but not verified: the resolver $DNS did not answer"
n=$(updates)
ppn "$D/h.conf" "$D/state-h" --once
check "no authoritative answer: next check sends nothing" test "$(updates)" = "$n"
pp_done
