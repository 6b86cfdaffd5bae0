#!/bin/sh
# make demo: the seed site in namespaces, applied, then portpilot's TUI inside the router.
# Without a terminal: build, apply, show status and traffic, tear down.
PP_TOP=$(cd "$(dirname "$0")/../.." && pwd)
export PP_TOP
. "$PP_TOP/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root to build network namespaces (sudo make demo)" >&2
	exit 1
fi
lab_up udp outside2 || { echo "demo: the lab did not come up" >&2; exit 1; }
T=$pp_tmp/seed-site.ini
S=$pp_tmp/state
# The example's interface names (eth0 WAN, eth1 LAN) are the lab router's.
cp "$PP_TOP/examples/seed-site.ini" "$T"
pp() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
echo "== lab up: router $LAB_ROUTER (WAN $LAB_WAN_IF $LAB_PUBLIC_IP, LAN $LAB_LAN_IF $LAB_LAN_IP)"
echo "== portpilot apply (examples/seed-site.ini)"
pp apply || echo "demo: apply failed" >&2
for p in 8080 8090 8091; do
	printf 'internet -> %s:%s  answers: %s\n' "$LAB_PUBLIC_IP" "$p" \
		"$(lab_http "$LAB_INET" "http://$LAB_PUBLIC_IP:$p/" || true)"
done
if [ -t 0 ] && [ -t 1 ]; then
	cat <<EOF

The TUI opens inside the router namespace on a copy of the seed table.
From another terminal, try the mappings from the internet host:
  ip netns exec $LAB_INET curl http://$LAB_PUBLIC_IP:8080/
  ip netns exec $LAB_INET2 curl http://$LAB_PUBLIC_IP:8090/
Leave the TUI to tear the lab down. Press Enter to start.
EOF
	read -r _ || true
	ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$T" --state-dir "$S"
else
	echo "== portpilot status"
	pp status || true
fi
echo "== tearing the lab down"
exit 0
