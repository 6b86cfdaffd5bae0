#!/bin/sh
# make demo: the seed site in namespaces; break it on purpose and watch portpilot's probe find the fault.
#
#   demo.sh                 with a terminal: the TUI on the lab, then the menu (TUI, probe, a fault to build); without one:
#                           build and apply the seed lab, show traffic and status, tear down
#   demo.sh faults          the menu, read from stdin (a terminal or piped lines)
#   demo.sh --fault CAUSE   build that fault, probe, show the verdict, restore and probe again;
#                           repeatable; exit 1 when a verdict is not the fault's cause
#   demo.sh --list          the faults
#   demo.sh --relay         the cgnat fault, then fixed with the relay through an edge host
# Everything the demo builds (namespaces, servers, reflector, /etc/netns entry) goes on exit.
PP_TOP=$(cd "$(dirname "$0")/../.." && pwd)
export PP_TOP
. "$PP_TOP/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"

# cause|what the demo breaks (the menu's order).
FAULTS='not_listening|the web server behind web-1 (192.168.2.101:80) is stopped
host_unreachable|192.168.2.101 is unplugged (its link is down)
host_firewall|192.168.2.101 runs a firewall that drops port 80
server_gateway|192.168.2.101 uses 192.168.2.254 as default gateway, not the router
ip_forward_off|net.ipv4.ip_forward = 0 on the router
forward_blocked|another tool drops forwarded traffic (FORWARD DROP before portpilot)
rule_missing|the table was never applied: no DNAT rule in the kernel
disabled|web-1 is switched off in the table (enabled = no)
expired|web-1 had a maintenance window that ended (expires in the past)
source_not_allowed|web-1 allows only 198.51.100.0/24; the reflector is 203.0.113.10
wrong_protocol|a client sends UDP to the TCP-only mapping (watch, 3 s)
hairpin_missing|hairpin off; a LAN client uses the public address (watch, 3 s)
public_ip_mismatch|the DDNS name site3.example.net still resolves to an old address
cgnat|the router sits behind a carrier NAT (WAN 100.64.0.2)
double_nat|the router sits behind another home router (WAN 192.168.100.2)
upstream_blocked|the carrier drops port 8080 before it reaches the site
udp_not_listening|game (both tcp+udp 5006): TCP answers, nothing listens on UDP
udp_host_firewall|game (both tcp+udp 5005): the server rejects UDP (icmp-admin-prohibited)'

list_faults() {
	_i=1
	printf '%s\n' "$FAULTS" | while IFS='|' read -r c d; do
		printf '  %2d  %-19s %s\n' "$_i" "$c" "$d"
		_i=$((_i + 1))
	done
}
# fault_name WORD: a menu number or a cause name -> the cause, empty if unknown.
fault_name() {
	printf '%s\n' "$FAULTS" | awk -F'|' -v w="$1" 'NR == w || $1 == w { print $1; exit }'
}
# The cause a scenario's probe must name (the udp_* scenarios end in the plain cause).
want_cause() { echo "${1#udp_}"; }

if [ "${1:-}" = --list ]; then list_faults; exit 0; fi
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root to build network namespaces (sudo make demo)" >&2
	exit 1
fi
echo "== demo: namespaces pp-${LAB_ID:=$$}-*, files in $pp_tmp (all removed on exit)"

# demo_probe: probe (or watch) the scenario's mapping as the engineer would, live on the screen.
# Sets VERDICT to the cause the probe named. With "quiet", only the verdict line is shown.
demo_probe() {
	_name=${PROBE_NAME:-web-1}
	: >"$pp_tmp/demo.out"
	if [ -z "$PROBE_CLIENT" ]; then
		echo "\$ portpilot probe $_name $PROBE_ARGS"
		# shellcheck disable=SC2086
		lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe "$_name" $PROBE_ARGS \
			>"$pp_tmp/demo.out" 2>&1 &
		_w=$!
	else
		echo "\$ portpilot watch $_name --seconds 3     (meanwhile a client tries: $PROBE_CLIENT)"
		lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" watch "$_name" --seconds 3 \
			>"$pp_tmp/demo.out" 2>&1 &
		_w=$!
		$PROBE_CLIENT &
		_c=$!
	fi
	# Show the output as it comes (watch prints every packet live); tail ends after the probe.
	if [ "${1:-}" = quiet ]; then
		tail -s 0.1 --pid=$_w -n +1 -f "$pp_tmp/demo.out" | sed -n "s/^probe $_name: /  probe $_name: /p" &
	else
		tail -s 0.1 --pid=$_w -n +1 -f "$pp_tmp/demo.out" | sed 's/^/  /' &
	fi
	_t=$!
	wait $_w
	[ -n "$PROBE_CLIENT" ] && { kill $_c 2>/dev/null; wait $_c 2>/dev/null; }
	wait $_t
	VERDICT=$(sed -n "s/^probe $_name: //p" "$pp_tmp/demo.out" | head -n 1)
}

# The health monitor in the router namespace, as it runs on a router: the TUI's Health column
# reads its state. Fast on purpose (a check every 2 s, down after 2 failures); LAN checks only:
# the demo's probe has the reflector's budget for itself. A new lab is new namespaces (lab_down
# ends every process in the old ones), so each scenario starts its own monitor.
MON_ARGS="--interval 2 --timeout 1 --fail-after 2 --recover-after 1"
monitor_start() {
	# shellcheck disable=SC2086
	# its events go to its log, shown below, not to the host's journal: the demo leaves nothing
	PORTPILOT_JOURNAL_SOCKET=$pp_tmp/no-journal lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" \
		-c "$pp_tmp/none.conf" --state-dir "$pp_tmp/state" monitor $MON_ARGS >>"$pp_tmp/monitor.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
}
# mon_health NAME: the monitor's word on NAME, as `portpilot health` prints it.
mon_health() { "$PORTPILOT" --state-dir "$pp_tmp/state" health "$1" 2>/dev/null; }
mon_down() { mon_health "$1" | grep -q " DOWN .*since .*  [a-z_]*$"; }
mon_known() { mon_health "$1" | grep -q " \(up\|DOWN\) "; }
# The faults a check from the router sees (the others are on the way from the internet, or
# leave the mapping switched off, which the monitor does not check).
MON_SEES=" not_listening host_unreachable host_firewall "
# monitor_says NAME CAUSE: what the monitor made of the fault: DOWN with its cause, or up.
monitor_says() {
	case $MON_SEES in
	*" $2 "*) wait_for 40 mon_down "$1" ||
		echo "demo: the monitor did not see $1 go down (log: $pp_tmp/monitor.log)" >&2;;
	*) wait_for 10 mon_known "$1";;     # its first check: up, or down after fail_after
	esac
	echo "\$ portpilot health $1      (the monitor, running in the router since the fault)"
	mon_health "$1" | sed 's/^/  /'
	case $MON_SEES in
	*" $2 "*) echo "  its event: $(grep "^$1 DOWN since" "$pp_tmp/monitor.log" | tail -n 1)";;
	*) echo "  (its check from the router passes: this fault is on the way from the internet, or" \
		"the mapping is off; [probe] reflector in portpilot.conf gives the monitor that path too)";;
	esac
}

healthy() {
	echo "== building the healthy seed lab"
	plab_scenario ok || { echo "demo: the lab did not come up" >&2; return 1; }
	monitor_start
	for p in 8080 8090 8091; do
		printf 'internet -> %s:%s  answers: %s\n' "$LAB_PUBLIC_IP" "$p" \
			"$(lab_http "$LAB_INET" "http://$LAB_PUBLIC_IP:$p/" || true)"
	done
}

# break_and_probe CAUSE: build the fault, probe, compare. 0 when the verdict names the cause.
break_and_probe() {
	_want=$(want_cause "$1")
	echo
	echo "== fault: $1 — $(printf '%s\n' "$FAULTS" | awk -F'|' -v c="$1" '$1 == c { print $2 }')"
	plab_scenario "$1" || { echo "demo: could not build $1" >&2; return 1; }
	monitor_start
	demo_probe
	monitor_says "${PROBE_NAME:-web-1}" "$1"
	if [ "$VERDICT" = "$_want" ]; then
		echo "== verdict: $VERDICT (the fault that was built)"
		return 0
	fi
	echo "== verdict: ${VERDICT:-none}, but the fault was $_want"
	return 1
}

restore() {
	echo "== restoring the healthy lab"
	plab_scenario ok || return 1
	monitor_start
	demo_probe quiet
	echo "== verdict after restoring: ${VERDICT:-none}"
	[ "$VERDICT" = ok ]
}

tui() {
	if [ ! -t 0 ] || [ ! -t 1 ]; then echo "(the TUI needs a terminal)"; return; fi
	_hint="For hits: ip netns exec $LAB_INET curl http://$LAB_PUBLIC_IP:8080/"
	echo "== TUI: $_hint (from another terminal)"
	PORTPILOT_HINT=$_hint ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" --state-dir "$pp_tmp/state"
}

menu_help() {
	cat <<EOF

Break the lab and watch the probe find it. Faults (number or name):
$(list_faults)
   t  open the TUI in the router namespace on the lab's table
   p  probe web-1 on the lab as it is now
   r  restore the healthy lab
   q  quit (tears the lab down)
From another terminal: ip netns exec $LAB_INET curl http://$LAB_PUBLIC_IP:8080/
EOF
}

menu() {
	healthy || return 1
	if [ "${1:-}" = tui ]; then
		echo "== opening the TUI on the lab's table (q comes back to the fault menu)"
		tui
	fi
	menu_help
	while printf 'demo> ' && read -r choice; do
		case $choice in
		'') continue;;
		q|quit|exit) break;;
		t) tui;;
		p) demo_probe;;
		r) restore;;
		'?'|h|help) menu_help;;
		*) c=$(fault_name "$choice")
		   if [ -z "$c" ]; then echo "no fault '$choice' (? lists them)"; continue; fi
		   break_and_probe "$c"
		   if [ -t 0 ]; then
		       printf 'The lab stays broken: t opens the TUI on it, Enter restores. '
		       read -r again || break
		       [ "$again" = t ] && tui
		   fi
		   restore;;
		esac
	done
	echo
}

# relay_demo: the cgnat fault built, probed, then fixed with the relay through an edge host
# (198.51.100.10, the reflector's VPS in real life): the same mapping answers through the edge.
relay_demo() {
	echo
	echo "== fault: cgnat — the router sits behind a carrier NAT (WAN 100.64.0.2)"
	plab_up cgnat outside2 && plab_apply && plab_reflector "$LAB_INET" "$LAB_INET_IP" || return 1
	PROBE_NAME=web-1 PROBE_CLIENT="" PROBE_ARGS="--reflector $REFL"
	demo_probe
	echo "== verdict: ${VERDICT:-none}"
	[ "$VERDICT" = cgnat ] || return 1
	_ifr=ppd$$r _ife=ppd$$e
	at_exit "rm -f /var/run/wireguard/$_ifr.sock /var/run/wireguard/$_ife.sock"
	echo "== fixing it with the relay through the edge host $LAB_INET2_IP"
	_e() { echo "  [edge]\$ portpilot $*"; ip netns exec "$LAB_INET2" "$PORTPILOT" --state-dir "$pp_tmp/edge" "$@"; }
	_r() { echo "  [site]\$ portpilot $*"; ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" --state-dir "$pp_tmp/state" "$@"; }
	_epub=$(_e edge keygen | tail -n 1) && _spub=$(_r relay keygen | tail -n 1) || return 1
	echo "  edge key $_epub, site key $_spub (the private keys stay in their 0600 files)"
	printf '[edge]\ninterface = %s\naddress = 10.77.0.1/24\n\n[site plant3]\npublic_key = %s\naddress = 10.77.0.2\nports = tcp/8080\n' \
		"$_ife" "$_spub" >"$pp_tmp/edge.ini"
	sed 's/^/  edge.ini: /' "$pp_tmp/edge.ini"
	_e edge up --config "$pp_tmp/edge.ini" | sed 's/^/  /' &&
	_r set site relay="$LAB_INET2_IP:51820" relay_public_key="$_epub" relay_address=10.77.0.2 \
		relay_interface="$_ifr" relay_keepalive=5 relay_mappings=web-1 | sed 's/^/  /' &&
	_r apply >"$pp_tmp/apply.log" 2>&1 && _r relay up | sed 's/^/  /' || return 1
	_up() { ip netns exec "$LAB_INET2" "$PORTPILOT" edge status --config "$pp_tmp/edge.ini" | grep -q '^plant3: connected'; }
	wait_for 10 _up || { echo "demo: the tunnel did not come up" >&2; return 1; }
	_e edge status --config "$pp_tmp/edge.ini" | sed 's/^/  /'
	_got=$(lab_http "$LAB_INET" "http://$LAB_INET2_IP:8080/")
	printf 'internet -> %s:8080 (the edge)  answers: %s\n' "$LAB_INET2_IP" "${_got:-nothing}"
	demo_probe
	echo "== verdict after the relay: ${VERDICT:-none}"
	[ "$_got" = srv-101 ] && [ "$VERDICT" = ok ]
}

case ${1:-} in
--relay)
	relay_demo; rc=$?
	echo "== tearing the lab down"
	exit $rc;;
faults)
	menu
	echo "== tearing the lab down"
	exit 0;;
--fault)
	rc=0
	while [ "${1:-}" = --fault ] && [ -n "${2:-}" ]; do
		c=$(fault_name "$2")
		if [ -z "$c" ]; then echo "demo: no fault '$2' (demo.sh --list)" >&2; exit 2; fi
		break_and_probe "$c" || rc=1
		restore || rc=1
		shift 2
	done
	[ $# -eq 0 ] || { echo "usage: demo.sh [faults | --fault CAUSE... | --list | --relay]" >&2; exit 2; }
	echo "== tearing the lab down"
	exit $rc;;
'') ;;
*) echo "usage: demo.sh [faults | --fault CAUSE... | --list | --relay]" >&2; exit 2;;
esac

if [ -t 0 ] && [ -t 1 ]; then
	menu tui
	echo "== tearing the lab down"
	exit 0
fi

# Without a terminal: the seed example applied as is, its traffic and status.
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
echo "== portpilot status"
pp status || true
echo "== to break the lab and watch the probe: sh tests/lab/demo.sh faults  (or --fault CAUSE; --list)"
echo "== tearing the lab down"
exit 0
