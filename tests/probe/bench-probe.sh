#!/bin/sh
# Probe benchmark (not part of make check): time to a verdict on the healthy lab and on every
# fault scenario (goal < 3 s healthy, < 10 s failing), and what a running capture costs the
# forwarding throughput, measured side by side in one run.
# Usage: sh tests/probe/bench-probe.sh    (root; PORTPILOT=path to the binary)
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root

# PP_BENCH=throughput skips the verdict timings.
[ "${PP_BENCH:-}" = throughput ] || echo "time to verdict (s), goal < 3 healthy, < 10 failing:"
[ "${PP_BENCH:-}" = throughput ] || for cause in ok disabled expired rule_missing ip_forward_off forward_blocked not_listening \
	host_unreachable host_firewall server_gateway wrong_protocol source_not_allowed \
	hairpin_missing public_ip_mismatch cgnat double_nat upstream_blocked; do
	plab_scenario $cause || { echo "  $cause: lab failed"; continue; }
	plab_diagnose
	got=$(jq -r .cause "$pp_tmp/out.json" 2>/dev/null)
	t=$(jq -r .elapsed_s "$pp_tmp/out.json" 2>/dev/null)
	mode=probe; [ -n "$PROBE_CLIENT" ] && mode="watch 3 s"
	printf '  %-20s %6s s  (%s, verdict %s)\n' "$cause" "$t" "$mode" "$got"
done

# Throughput through the DNAT path: 64 MiB from the internet host to a sink on srv1, without and
# with `watch` capturing that very port on both sides.
plab_up && "$PORTPILOT" -f "$PT" add bulk public_port=9000 internal_ip=192.168.2.101 internal_port=9000 \
	>/dev/null && plab_apply || { echo "lab failed"; exit 1; }
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
send() { # prints MiB/s for 64 MiB through 203.0.113.1:9000
	lab_ns "$LAB_INET" "$LAB_PY" -c '
import socket, time
b = b"x" * (1 << 20); s = socket.create_connection(("203.0.113.1", 9000))
t = time.time()
for i in range(64): s.sendall(b)
s.shutdown(socket.SHUT_WR); s.recv(16)
print("%.0f" % (64 / (time.time() - t)))'
}
capturing() { lab_ns "$LAB_ROUTER" ss -Hp -f link 2>/dev/null | grep -q portpilot; }
# Rounds alternate plain and captured runs so a busy machine's drift hits both alike.
plain=0 captured=0 active=yes
for round in 1 2 3 4 5; do
	v=$(send); [ "$v" -gt "$plain" ] && plain=$v
	ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" watch bulk --seconds 60 >/dev/null 2>&1 &
	w=$!
	wait_for 5 capturing || active=no
	v=$(send); [ "$v" -gt "$captured" ] && captured=$v
	kill $w 2>/dev/null; wait $w 2>/dev/null
done
echo "forwarding throughput, best of 5 alternating rounds x 64 MiB: $plain MiB/s plain, $captured MiB/s while watch captures" \
	"($(awk "BEGIN { printf \"%.0f\", 100 * $captured / $plain }")% of plain; capture sockets open: $active)"
