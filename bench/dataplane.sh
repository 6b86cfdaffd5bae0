#!/bin/sh
# New-connection rate through the lab router with 1, 2,000 and 20,000 mappings (target last),
# portpilot's layout on each backend (iptables: the port tree; nftables: the maps) against one
# plain linear DNAT chain, all measured side by side in one run.
# Usage: sh bench/dataplane.sh [DATAPLANE_BINARY]   (make bench runs it)
# DATAPLANE_ROUNDS (default 15) x DATAPLANE_SLICE_MS (default 200) per configuration.
PP_TOP=$(cd "$(dirname "$0")/.." && pwd)
export PP_TOP
BIN=${1:-$PP_TOP/build/bench/dataplane}
: "${PORTPILOT:=$(cd "$(dirname "$BIN")/.." && pwd)/portpilot}"
. "$PP_TOP/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
if [ "$(id -u)" != 0 ] || ! ip netns add "pp-$$-try" 2>/dev/null; then
	echo "dataplane: skipped (needs root and network namespaces)"
	exit 0
fi
ip netns del "pp-$$-try"
ROUNDS=${DATAPLANE_ROUNDS:-15}
SLICE=${DATAPLANE_SLICE_MS:-200}
BENCH_PORT=9000

# table N FILE: N tcp mappings on 10000.., the last one to the bench server.
table() {
	awk -v n="$1" 'BEGIN {
		print "[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = yes\n"
		for (i = 0; i < n; i++) {
			last = i == n - 1
			printf "[m%d]\npublic_port = %d\ninternal_ip = 192.168.2.%s\ninternal_port = %d\n\n", i, 10000 + i, last ? "101" : "102", last ? 9000 : 80
		}
	}' >"$2"
}

# linear N: the same DNAT rules in one chain, nothing else.
linear() {
	awk -v n="$1" 'BEGIN {
		print "*nat\n:BENCH-LINEAR - [0:0]\n-A PREROUTING -i eth0 -j BENCH-LINEAR"
		for (i = 0; i < n; i++)
			printf "-A BENCH-LINEAR -p tcp -m tcp --dport %d -j DNAT --to-destination 192.168.2.%s:%d\n", 10000 + i, i == n - 1 ? "101" : "102", i == n - 1 ? 9000 : 80
		print "COMMIT"
	}'
}

configs=""
k=0
# Loop variables avoid n, t, i: tests/lib.sh's wait_for uses those names.
for size in 1 2000 20000; do
	for layout in portpilot nftables linear; do
		k=$((k + 1))
		LAB_ID=$$-$k
		LAB_DIR=""
		lab_up >/dev/null || { echo "dataplane: lab $k did not come up" >&2; exit 1; }
		at_exit "LAB_DIR=$LAB_DIR lab_down"
		ip netns exec "$LAB_SRV1" "$BIN" --server $BENCH_PORT &
		echo $! >>"$LAB_DIR/pids"
		if [ $layout != linear ]; then
			be=iptables
			[ $layout = nftables ] && be=nftables
			table $size "$pp_tmp/t$k.ini"
			ip netns exec "$LAB_ROUTER" env PORTPILOT_BACKEND=$be "$PORTPILOT" -f "$pp_tmp/t$k.ini" --state-dir "$pp_tmp/s$k" apply \
				>"$pp_tmp/apply$k.log" 2>&1 || { echo "dataplane: apply failed:" >&2; tail -n 3 "$pp_tmp/apply$k.log" >&2; exit 1; }
		else
			linear $size | ip netns exec "$LAB_ROUTER" iptables-restore --noflush || exit 1
		fi
		eval "inet_$k=$LAB_INET; router_$k=$LAB_ROUTER; name_$k='$layout $size'; ok_$k=0; sec_$k=0"
		configs="$configs $k"
		# Wait for the server, then check the target really answers through the router.
		port=$((10000 + size - 1))
		wait_for 5 sh -c "ip netns exec $LAB_INET $BIN --client $LAB_PUBLIC_IP $port 50 | awk '{exit !(\$1 > 0)}'" ||
			{ echo "dataplane: $layout $size: the target does not answer" >&2; exit 1; }
		eval "port_$k=$port"
	done
done

echo "iptables: $(ip netns exec "$LAB_ROUTER" iptables -V); nftables: $(nft --version 2>/dev/null)"
echo "rounds: $ROUNDS x ${SLICE} ms per configuration, interleaved in a fresh random order" \
	"each round; median of the slices"
round=0
while [ $round -lt "$ROUNDS" ]; do
	# A random order, and an empty conntrack table after each slice: the kernel's
	# conntrack clean-up of one slice must not slow down whichever slice runs next.
	for k in $(printf '%s\n' $configs | shuf); do
		eval "ns=\$inet_$k; port=\$port_$k; router=\$router_$k"
		ip netns exec "$ns" "$BIN" --client "$LAB_PUBLIC_IP" "$port" "$SLICE" |
			awk '$3 > 0 { printf "%.1f %d\n", $1 / $3, $2 }' >>"$pp_tmp/rates$k"
		ip netns exec "$router" conntrack -F >/dev/null 2>&1
	done
	round=$((round + 1))
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-10s %9s %12s %14s %9s\n' layout mappings "conn/s" "vs 1 mapping" failures
for k in $configs; do
	eval "set -- \$name_$k"
	rate=$(median "$pp_tmp/rates$k")
	fails=$(awk '{ f += $2 } END { print f + 0 }' "$pp_tmp/rates$k")
	eval "rate_$1_$2=$rate"
	[ "$2" = 1 ] && eval "base_$1=$rate"
	eval "base=\$base_$1"
	printf '%-10s %9s %12.0f %14.3f %9s\n' "$1" "$2" "$rate" "$(echo "$rate / $base" | bc -l)" "$fails"
done
printf 'portpilot (iptables) vs linear at 20000 mappings: %.2fx\n' "$(echo "$rate_portpilot_20000 / $rate_linear_20000" | bc -l)"
printf 'portpilot (nftables) vs linear at 20000 mappings: %.2fx\n' "$(echo "$rate_nftables_20000 / $rate_linear_20000" | bc -l)"
