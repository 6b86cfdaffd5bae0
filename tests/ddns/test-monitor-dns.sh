#!/bin/sh
# The monitor's published-address check (issue 13 item 1) against a real BIND9: the hosts of a
# [ddns NAME] section must resolve to the site's address (here the WAN interface's, public).
# A name that gives an old address is an event naming the name, what it resolves to and the
# WAN address; one that does not exist is named too; the DDNS updater (nsupdate, TSIG) fixing
# the zone brings it back up; the DDNS state shows in the metrics; a dead DNS server changes no
# state and stops no check.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/ddns/common.sh"

bind_ns md
WAN=203.0.113.1
in_ns ip link set lo up &&
in_ns ip link add d0 type veth peer name d1 &&
in_ns ip addr add $DNS/24 dev d0 &&
in_ns ip link set d0 up && in_ns ip link set d1 up &&
in_ns ip link add wan0 type veth peer name wan1 && in_ns ip addr add $WAN/24 dev wan0 &&
	in_ns ip link set wan0 up && in_ns ip link set wan1 up ||
	{ echo "# cannot build the namespace"; exit 1; }
# `ip netns exec` bind-mounts this over /etc/resolv.conf: the monitor's resolver is BIND9.
mkdir -p /etc/netns/$NS
at_exit "rm -rf /etc/netns/$NS"
echo "nameserver $DNS" >/etc/netns/$NS/resolv.conf
# Bind-mounted too, at the monitor's start: written in place later, it stands for a resolver
# that still has an old answer cached while the zone's servers serve the new one.
echo "127.0.0.1 localhost" >/etc/netns/$NS/hosts

bind_zone "ns1 IN A $DNS" "site3 IN A 203.0.113.77"
bind_start $DNS 53 $NS || { echo "# named did not start"; tail -5 "$N/log"; exit 1; }
lookup() { in_ns dig +short +time=2 +tries=1 @$DNS "$1" A; }

tsig_creds "$D/tsig.secret"
cat >"$D/pp.conf" <<EOF
[ddns lab]
provider = nsupdate
server = $DNS:53
hostname = site3.example.net, cam.example.net
credentials_file = $D/tsig.secret
ip_source = interface
interface = wan0
ttl = 60

[monitor]
interval = 1
dns_interval = 1
fail_after = 2
recover_after = 1
metrics_file = $D/metrics.prom
EOF
# A table whose only mapping has no check (UDP without check_send): the names are the test.
cat >"$D/t.ini" <<EOF
[site]
wan_interface = wan0
lan_interface = d0
lan_subnet    = 192.168.2.0/24

[game]
protocol    = udp
public_port = 27015
internal_ip = 192.168.2.50
EOF
S=$D/state
old_addr() { [ "$(lookup site3.example.net)" = 203.0.113.77 ]; }
# (one dig, one try: awaited, a loaded machine may drop the first answer)
check "the zone starts with an old address" wait_for 10 old_addr
# PORTPILOT_RESOLV_CONF empty: the authoritative servers are found through the namespace's resolver.
PORTPILOT_RESOLV_CONF= PORTPILOT_JOURNAL_SOCKET=$D/none.sock ip netns exec $NS "$PORTPILOT" -f "$D/t.ini" -c "$D/pp.conf" \
	--state-dir "$S" monitor --no-diagnose >"$D/mon.out" 2>"$D/mon.err" &
MON=$!
at_exit "kill $MON 2>/dev/null; wait $MON 2>/dev/null"
health() { ip netns exec $NS "$PORTPILOT" --state-dir "$S" health "$@" 2>/dev/null; }
has_event() { grep -q "$1" "$D/mon.err"; }
count() { grep -c "$1" "$D/mon.err"; }

check "an old address: one DOWN event with the name, what it resolves to and the WAN address" \
	wait_for 15 has_event "^dns:site3.example.net DOWN since [0-9:]*: public_ip_mismatch: site3.example.net resolves to 203.0.113.77, but the site's address is $WAN (the WAN address (wan0))"
check "... and what the zone's authoritative server serves" has_event "^dns:site3.example.net DOWN .*; ns1.example.net ($DNS), authoritative for example.net, answers 203.0.113.77"
check "... and the fix names the DDNS section" has_event "fix: the record must say $WAN: portpilot ddns status shows whether the updater of \[ddns lab\] runs"
check "a name with no record: DOWN, name_unresolved" \
	wait_for 15 has_event "^dns:cam.example.net DOWN since [0-9:]*: name_unresolved: cam.example.net does not resolve"
check "health: the name is down, with its cause, exit 1" sh -c \
	"ip netns exec $NS '$PORTPILOT' --state-dir '$S' health dns:site3.example.net | grep -q '^dns:site3.example.net  *DOWN .*public_ip_mismatch'; [ \$? = 0 ] && ! ip netns exec $NS '$PORTPILOT' --state-dir '$S' health >/dev/null 2>&1"
check "the state file says what it resolves to and the site's address" \
	jqe '.mappings[] | select(.name == "dns:site3.example.net") | .resolves_to == "203.0.113.77" and .site_address == "'$WAN'"' "$S/monitor-state.json"
check "the history holds the event with its cause" \
	jqe -s '[.[] | select(.mapping == "dns:site3.example.net" and .state == "down" and .cause == "public_ip_mismatch")] | length == 1' "$S/monitor-history.jsonl"
metric() { grep -q "^$1" "$D/metrics.prom" 2>/dev/null; }
check "metrics: the name is down" wait_for 10 metric 'portpilot_dns_name_up{ddns="lab",host="site3.example.net"} 0'
check "metrics: the DDNS host reads 0 before its first update" metric 'portpilot_ddns_host_ok{ddns="lab",host="site3.example.net"} 0'

# The DDNS updater publishes the WAN address into BIND9: the names come back up.
ip netns exec $NS env PORTPILOT_RESOLV_CONF= "$PORTPILOT" -c "$D/pp.conf" --state-dir "$S" ddns --once \
	>"$D/ddns.out" 2>"$D/ddns.err"
new_addr() { [ "$(lookup site3.example.net)" = $WAN ]; }
check "ddns --once (nsupdate, TSIG) publishes $WAN" wait_for 10 new_addr
check "the name is up again: one UP event" wait_for 15 has_event "^dns:site3.example.net UP since"
check "the missing name, created, is up too" wait_for 15 has_event "^dns:cam.example.net UP since"
check "one DOWN and one UP event per name (no repeats)" \
	sh -c "[ \$(grep -c '^dns:site3.example.net DOWN' '$D/mon.err') = 1 ] && [ \$(grep -c '^dns:site3.example.net UP' '$D/mon.err') = 1 ]"
check "metrics: the DDNS host ok, with the time of its last update" \
	wait_for 10 sh -c "grep -q '^portpilot_ddns_host_ok{ddns=\"lab\",host=\"site3.example.net\"} 1' '$D/metrics.prom' &&
		grep -q '^portpilot_ddns_last_update_timestamp_seconds{ddns=\"lab\",host=\"site3.example.net\"} [1-9]' '$D/metrics.prom'"
check "metrics: its status and the provider's last answer" \
	metric 'portpilot_ddns_host_status{ddns="lab",host="site3.example.net",status="ok",last_answer="good"} 1'
check "metrics: the name is up" wait_for 10 metric 'portpilot_dns_name_up{ddns="lab",host="site3.example.net"} 1'

# A resolver with the old answer (here /etc/hosts) while the zone serves the new one: down, and
# the fix says it is a cache, not the record.
echo "203.0.113.99 site3.example.net" >>/etc/netns/$NS/hosts
check "a stale resolver answer: DOWN again" wait_for 15 has_event "^dns:site3.example.net DOWN .*resolves to 203.0.113.99, but the site's address is $WAN"
check "... the authoritative server serves the right address" has_event "^dns:site3.example.net DOWN .*resolves to 203.0.113.99.*authoritative for example.net, serves $WAN"
check "... and the fix says the resolvers have it cached" has_event "fix: the zone's servers already serve $WAN: the resolvers still have the old answer cached"
echo "127.0.0.1 localhost" >/etc/netns/$NS/hosts
check "the cache gone: up again" wait_for 15 sh -c "[ \$(grep -c '^dns:site3.example.net UP' '$D/mon.err') = 2 ]"

# DNS unreachable: no state change, no event, the monitor goes on and says why.
kill $NAMED_PID; wait $NAMED_PID 2>/dev/null
n_events=$(grep -c '^dns:' "$D/mon.err")
check "a dead DNS server is logged" wait_for 40 has_event "site3.example.net: the resolver gave no answer"
check "... and changes no state: still up" sh -c "ip netns exec $NS '$PORTPILOT' --state-dir '$S' health dns:site3.example.net | grep -q ' up '"
check "... and sends no event" test "$(grep -c '^dns:' "$D/mon.err")" = "$n_events"
check "the monitor still runs and writes its state" sh -c "kill -0 $MON && [ \$(( \$(date +%s) - \$(jq .updated '$S/monitor-state.json') )) -le 5 ]"
kill $MON; wait $MON; rc=$?
check "SIGTERM: exit 0" test $rc = 0
[ $pp_failed = 0 ] || { sed 's/^/#   /' "$D/mon.err"; sed 's/^/#   /' "$S/monitor-history.jsonl"; }
pp_done
