#!/bin/sh
# The relay against the direct path, side by side in one lab: new-connection rate (bench/dataplane's
# client and server) and one TCP stream's throughput, from the internet host to .101, once to the
# router's public address and once through the edge (198.51.100.10) and the WireGuard tunnel.
# Usage: sh bench/relay.sh [DATAPLANE_BINARY]   (needs root; wireguard-tools and wireguard-go)
# RELAY_ROUNDS (default 7) x RELAY_SLICE_MS (default 500) per path, interleaved; medians printed.
PP_TOP=$(cd "$(dirname "$0")/.." && pwd)
export PP_TOP
BIN=${1:-$PP_TOP/build/bench/dataplane}
: "${PORTPILOT:=$(cd "$(dirname "$BIN")/.." && pwd)/portpilot}"
. "$PP_TOP/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
if [ "$(id -u)" != 0 ] || ! ip netns add "pp-$$-try" 2>/dev/null; then
	echo "relay bench: skipped (needs root and network namespaces)"; exit 0
fi
ip netns del "pp-$$-try"
for c in wg wireguard-go; do command -v $c >/dev/null || { echo "relay bench: skipped ($c missing)"; exit 0; }; done
[ -x "$BIN" ] || { echo "relay bench: build $BIN first (make build-all)"; exit 1; }
ROUNDS=${RELAY_ROUNDS:-7}
SLICE=${RELAY_SLICE_MS:-500}
D=$pp_tmp
IFR=ppb$$r IFE=ppb$$e
at_exit "rm -f /var/run/wireguard/$IFR.sock /var/run/wireguard/$IFE.sock"

lab_up outside2 >/dev/null || { echo "relay bench: lab did not come up" >&2; exit 1; }
EDGE=$LAB_INET2 R=$LAB_ROUTER C=$LAB_INET
ip netns exec "$LAB_SRV1" "$BIN" --server 9000 &
echo $! >>"$LAB_DIR/pids"
# The stream: the server sends as fast as it can until the client closes.
cat >"$D/stream.py" <<'EOF'
import socket, sys, time
if sys.argv[1] == "serve":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 9001)); s.listen(8); buf = b"x" * 65536
    while True:
        c, _ = s.accept()
        try:
            while True: c.sendall(buf)
        except OSError: c.close()
else:
    ip, ms = sys.argv[2], int(sys.argv[3])
    s = socket.create_connection((ip, 9001), timeout=3); n = 0
    t0 = time.monotonic(); end = t0 + ms / 1000
    while time.monotonic() < end:
        d = s.recv(262144)
        if not d: break
        n += len(d)
    print("%d %.6f" % (n, time.monotonic() - t0)); s.close()
EOF
ip netns exec "$LAB_SRV1" "$LAB_PY" "$D/stream.py" serve >/dev/null 2>&1 &
echo $! >>"$LAB_DIR/pids"

EPUB=$(ip netns exec "$EDGE" "$PORTPILOT" --state-dir "$D/se" edge keygen)
SPUB=$(ip netns exec "$R" "$PORTPILOT" --state-dir "$D/ss" relay keygen)
cat >"$D/edge.ini" <<EOF
[edge]
interface = $IFE
address = 10.77.0.1/24
[site bench]
public_key = $SPUB
address = 10.77.0.2
ports = tcp/9000-9001
EOF
cat >"$D/t.ini" <<EOF
[site]
wan_interface = eth0
lan_interface = eth1
lan_subnet = 192.168.2.0/24
relay = $LAB_INET2_IP
relay_public_key = $EPUB
relay_address = 10.77.0.2
relay_interface = $IFR

[conn]
public_port = 9000
internal_ip = 192.168.2.101
[stream]
public_port = 9001
internal_ip = 192.168.2.101
EOF
ip netns exec "$EDGE" "$PORTPILOT" --state-dir "$D/se" edge up --config "$D/edge.ini" >"$D/log" 2>&1 &&
ip netns exec "$R" "$PORTPILOT" -f "$D/t.ini" --state-dir "$D/ss" apply >>"$D/log" 2>&1 &&
ip netns exec "$R" "$PORTPILOT" -f "$D/t.ini" --state-dir "$D/ss" relay up >>"$D/log" 2>&1 ||
	{ echo "relay bench: setup failed:" >&2; tail -n 5 "$D/log" >&2; exit 1; }
answers() { ip netns exec "$C" "$BIN" --client "$1" 9000 50 | awk '{exit !($1 > 0)}'; }
for ip in "$LAB_PUBLIC_IP" "$LAB_INET2_IP"; do
	wait_for 10 answers "$ip" || { echo "relay bench: $ip:9000 does not answer" >&2; exit 1; }
done
userspace=kernel
[ -S "/var/run/wireguard/$IFR.sock" ] && userspace=wireguard-go
echo "relay bench: WireGuard: $userspace; $ROUNDS rounds x $SLICE ms per path and measure, interleaved"

: >"$D/direct.conn"; : >"$D/relay.conn"; : >"$D/direct.bytes"; : >"$D/relay.bytes"
round=0
while [ $round -lt "$ROUNDS" ]; do
	for p in direct relay; do
		ip=$LAB_PUBLIC_IP; [ $p = relay ] && ip=$LAB_INET2_IP
		ip netns exec "$C" "$BIN" --client "$ip" 9000 "$SLICE" | awk '{printf "%.1f\n", $1 / $3}' >>"$D/$p.conn"
		ip netns exec "$C" timeout 10 "$LAB_PY" "$D/stream.py" get "$ip" "$SLICE" |
			awk '{printf "%.1f\n", $1 / $2 / 1e6}' >>"$D/$p.bytes"
		# Conntrack of one slice must not slow the next one down.
		for ns in "$R" "$EDGE"; do ip netns exec "$ns" conntrack -F >/dev/null 2>&1; done
	done
	round=$((round + 1))
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }
dc=$(median "$D/direct.conn") rc=$(median "$D/relay.conn")
db=$(median "$D/direct.bytes") rb=$(median "$D/relay.bytes")
printf '%-28s %14s %14s %8s\n' "" direct relay ratio
printf '%-28s %14s %14s %8s\n' "new connections / s" "$dc" "$rc" "$(echo "scale=3; $rc / $dc" | bc)"
printf '%-28s %14s %14s %8s\n' "one TCP stream, MB/s" "$db" "$rb" "$(echo "scale=3; $rb / $db" | bc)"
ip netns exec "$R" "$PORTPILOT" -f "$D/t.ini" relay down >/dev/null 2>&1
ip netns exec "$EDGE" "$PORTPILOT" edge down --config "$D/edge.ini" >/dev/null 2>&1
pp_done
