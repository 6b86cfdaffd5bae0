#!/bin/sh
# Probe benchmark (make bench runs it through build/bench/probe): time to a verdict on the healthy
# lab and on every fault scenario (goal < 3 s healthy, < 10 s failing), and what a running capture
# costs the forwarding throughput, measured side by side in interleaved rounds, bounded in time.
# Usage: sh tests/probe/bench-probe.sh    (root; PORTPILOT=path to the binary)
#   PP_BENCH=verdicts|throughput runs one half; PP_BENCH_SECONDS bounds the throughput rounds (40).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
now_ms() { echo $(($(date +%s%N) / 1000000)); }

verdicts() {
	echo "time to verdict (goal < 3 s healthy, < 10 s failing); probe = inside pp_probe_run, wall = whole command"
	printf '  %-24s %7s %7s  %-10s %-18s %s\n' scenario probe wall mode verdict goal
	miss=0
	for sc in ok disabled expired rule_missing ip_forward_off forward_blocked not_listening \
		host_unreachable host_firewall server_gateway wrong_protocol source_not_allowed \
		hairpin_missing public_ip_mismatch cgnat double_nat upstream_blocked \
		udp_ok udp_not_listening udp_host_firewall udp_host_firewall_drop udp_upstream_blocked; do
		plab_scenario $sc || { echo "  $sc: lab failed"; miss=$((miss + 1)); continue; }
		t0=$(now_ms)
		plab_diagnose
		wall=$(($(now_ms) - t0))
		got=$(jq -r .cause "$pp_tmp/out.json" 2>/dev/null)
		t=$(jq -r .elapsed_s "$pp_tmp/out.json" 2>/dev/null)
		mode=probe; [ -n "$PROBE_CLIENT" ] && mode="watch 3 s"
		goal=10; case $sc in ok|udp_ok) goal=3;; esac
		want=${sc#udp_}; want=${want%_drop}
		verdict=$got; [ "$got" = "$want" ] || verdict="$got (WRONG)"
		met=yes; awk "BEGIN { exit !($wall / 1000 < $goal) }" || { met=NO; miss=$((miss + 1)); }
		printf '  %-24s %6ss %6.2fs  %-10s %-18s < %ss %s\n' "$sc" "$t" "$(awk "BEGIN { print $wall / 1000 }")" \
			"$mode" "$verdict" "$goal" "$met"
	done
	echo "  scenarios over their goal or failed: $miss"
}

# Throughput through the DNAT path: 256 MiB from the internet host to a sink on srv1, without and
# with `watch` capturing that very port on both sides (every packet matches the filter: worst case).
throughput() {
	plab_up && "$PORTPILOT" -f "$PT" add bulk public_port=9000 internal_ip=192.168.2.101 internal_port=9000 \
		>/dev/null && plab_apply || { echo "lab failed"; return 1; }
	lab_ns "$LAB_SRV1" "$LAB_PY" -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(4)
while True:
    c, _ = s.accept()
    while c.recv(1 << 20): pass
    c.sendall(b"done"); c.close()' &
	echo $! >>"$LAB_DIR/pids"
	sink() { lab_ns "$LAB_SRV1" ss -Hltn "sport = :9000" | grep -q LISTEN; }
	wait_for 5 sink
	send() { # prints MiB/s for 256 MiB through 203.0.113.1:9000, 0 on failure (30 s bound)
		lab_ns "$LAB_INET" "$LAB_PY" -c '
import socket, time
MIB = 256
try:
    b = b"x" * (1 << 20); s = socket.create_connection(("203.0.113.1", 9000), timeout=30)
    t = time.time()
    for i in range(MIB): s.sendall(b)
    s.shutdown(socket.SHUT_WR); s.recv(16)
    print("%.0f" % (MIB / (time.time() - t)))
except OSError:
    print(0)'
	}
	capturing() { lab_ns "$LAB_ROUTER" ss -Hp -f link 2>/dev/null | grep -q portpilot; }
	captured_send() {
		ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" watch bulk --seconds 120 >/dev/null 2>&1 &
		_w=$!
		wait_for 5 capturing || : >"$pp_tmp/inactive"
		send
		kill $_w 2>/dev/null; wait $_w 2>/dev/null
	}
	# Rounds alternate which runs first, so a busy machine's drift hits both alike; they stop
	# after 9 rounds or PP_BENCH_SECONDS.
	limit=${PP_BENCH_SECONDS:-40} start=$(now_ms) round=0
	: >"$pp_tmp/plain"; : >"$pp_tmp/captured"; : >"$pp_tmp/ratio"
	while [ $round -lt 9 ] && [ $(($(now_ms) - start)) -lt $((limit * 1000)) ]; do
		round=$((round + 1))
		if [ $((round % 2)) = 1 ]; then
			p=$(send); c=$(captured_send)
		else
			c=$(captured_send); p=$(send)
		fi
		echo "$p" >>"$pp_tmp/plain"; echo "$c" >>"$pp_tmp/captured"
		awk "BEGIN { print $p ? 100 * $c / $p : 0 }" >>"$pp_tmp/ratio"
		echo "  round $round: plain $p MiB/s, capturing $c MiB/s"
	done
	med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
	mp=$(med "$pp_tmp/plain") mc=$(med "$pp_tmp/captured") active=yes
	[ -e "$pp_tmp/inactive" ] && active="no (some rounds did not capture)"
	echo "forwarding throughput, median of $round interleaved rounds x 256 MiB: $mp MiB/s plain," \
		"$mc MiB/s while watch captures ($(awk "BEGIN { printf \"%.0f\", $mp ? 100 * $mc / $mp : 0 }")% of plain;" \
		"capture sockets seen open: $active)"
	echo "capture overhead: median of the per-round ratios (each pair run back to back): $(med "$pp_tmp/ratio" |
		awk '{ printf "%.0f", $1 }')% of plain throughput while capturing"
}

[ "${PP_BENCH:-}" = throughput ] || verdicts
[ "${PP_BENCH:-}" = verdicts ] || throughput
