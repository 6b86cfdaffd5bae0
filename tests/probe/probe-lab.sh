# Helpers for the probe's fault-lab suites: apply a table, run a reflector, probe, expect a cause.
# Source after tests/lib.sh and tests/lab/lab.sh.

PT=$pp_tmp/mappings.ini

# plab_up [lab options]: a fresh lab with the seed table written to $PT and applied.
plab_up() {
	rm -f "$pp_tmp/out.json"
	lab_down
	lab_up "$@" || return 1
	lab_seed_table "$PT"
}

# plab_set NAME KEY=VALUE...: edit the table through the CLI (the engineer's way).
plab_set() { "$PORTPILOT" -f "$PT" set "$@" >"$pp_tmp/set.log" 2>&1 || { cat "$pp_tmp/set.log"; return 1; }; }
# plab_site KEY VALUE: edit [site] in place.
plab_site() { sed -i "s|^$1 *=.*|$1 = $2|" "$PT"; }

# Render the table into the router's netfilter. Uses `portpilot apply` when the binary has it,
# else the same layout written by hand (DNAT on the WAN side, FORWARD accept for DNAT, hairpin).
plab_apply() {
	if "$PORTPILOT" --help 2>&1 | grep -q '^  apply '; then
		# PORTPILOT_APPLY: another build for apply (e.g. the probe under ASan, apply not).
		lab_ns "$LAB_ROUTER" "${PORTPILOT_APPLY:-$PORTPILOT}" -f "$PT" --state-dir "$pp_tmp/state" apply >"$pp_tmp/apply.log" 2>&1
		return
	fi
	"$PORTPILOT" -f "$PT" list --json >"$pp_tmp/list.json" || return 1
	jq -r --arg wan "$LAB_WAN_IF" --arg lan "$LAB_LAN_IF" --arg net "$LAB_LAN_SUBNET" '
	  (.site.hairpin == "yes") as $hp |
	  "*nat", "-A PREROUTING -i \($wan) -m addrtype --dst-type LOCAL -j PP-PRE",
	  (if $hp then "-A PREROUTING -i \($lan) -s \($net) ! -d \($net) -m addrtype --dst-type LOCAL -j PP-PRE",
	     "-A POSTROUTING -s \($net) -d \($net) -o \($lan) -m conntrack --ctstate DNAT -j MASQUERADE" else empty end),
	  (.mappings[] | select(.state == "enabled") | . as $m |
	   (if .protocol == "both" then ("tcp", "udp") else .protocol end) as $p |
	   (if ((.allow // []) | length) > 0 then .allow[] else "0.0.0.0/0" end) as $a |
	   "-A PP-PRE -s \($a) -p \($p) -m \($p) --dport \($m.public_port_first) -j DNAT --to-destination \($m.internal_ip):\($m.internal_port_first)"),
	  "COMMIT", "*filter",
	  "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
	  (.mappings[] | select(.state == "enabled") | . as $m |
	   (if .protocol == "both" then ("tcp", "udp") else .protocol end) as $p |
	   "-A FORWARD -d \($m.internal_ip)/32 -p \($p) -m \($p) --dport \($m.internal_port_first) -m conntrack --ctstate DNAT -j ACCEPT"),
	  "COMMIT"' "$pp_tmp/list.json" >"$pp_tmp/rules" || return 1
	lab_ns "$LAB_ROUTER" iptables -t nat -N PP-PRE 2>/dev/null
	lab_ns "$LAB_ROUTER" iptables -t nat -F PP-PRE
	lab_ns "$LAB_ROUTER" iptables-restore --noflush <"$pp_tmp/rules"
}

# plab_reflector NS IP: start a reflector there; sets REFL. (Background jobs use ip netns exec
# itself, which execs in place, so $! is the process and lab_down kills the right one.)
# PLAB_REFLECTOR_ARGS: more options for it (the fault matrix probes faster than --rate's 30/min).
plab_reflector() {
	# shellcheck disable=SC2086
	ip netns exec "$1" "$PORTPILOT" reflector --listen "$2:9443" ${PLAB_REFLECTOR_ARGS:-} >>"$pp_tmp/reflector.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	REFL=http://$2:9443
	_refl_up() { lab_ns "$1" curl -s -o /dev/null --max-time 1 "$REFL/v1/whoami"; }
	wait_for 10 _refl_up "$1"
}

# plab_probe NAME ARGS...: probe from the router; JSON in $pp_tmp/out.json, exit code in $PRC.
plab_probe() {
	_n=$1; shift
	lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe "$_n" --json "$@" \
		>"$pp_tmp/out.json" 2>"$pp_tmp/err"
	PRC=$?
}

# expect_cause NAME CAUSE: the last probe named CAUSE and exited 0 exactly when CAUSE is ok.
expect_cause() {
	_got=$(jq -r .cause "$pp_tmp/out.json" 2>/dev/null)
	_want_rc=1
	[ "$2" = ok ] && _want_rc=0
	if [ "$_got" = "$2" ] && [ "$PRC" = "$_want_rc" ]; then
		ok "$1: cause $2 ($(jq -r .elapsed_s "$pp_tmp/out.json") s)"
	else
		not_ok "$1: expected cause $2, got '${_got:-none}' (exit $PRC)"
		jq -r '.summary, .checks[].text, .evidence[]' "$pp_tmp/out.json" 2>/dev/null | sed 's/^/#   /'
		sed 's/^/#   /' "$pp_tmp/err"
	fi
}

# ---- the fault scenarios, one per cause (also for a demo: build one, then probe) ----

# Traffic of clients that get it wrong, run while watch listens.
plab_udp_client() {
	lab_ns "$LAB_INET" "$LAB_PY" -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(40):
    s.sendto(b"hello", ("203.0.113.1", 8080)); time.sleep(0.1)' 2>/dev/null
}
plab_lan_client() {
	_i=0
	while [ $_i -lt 20 ]; do
		lab_ns "$LAB_LANHOST" curl -s -o /dev/null --max-time 0.3 http://203.0.113.1:8080/
		_i=$((_i + 1))
	done
}

# plab_scenario CAUSE: a fresh lab with the fault behind CAUSE built in, the seed table applied
# and a reflector outside. Sets PROBE_NAME (the mapping to probe), PROBE_ARGS (for probe) or
# PROBE_CLIENT (run it during watch).
# udp_* scenarios probe "game" (protocol = both, 5005 -> 192.168.2.101:5005, TCP and UDP served):
# udp_ok, udp_not_listening (no UDP there), udp_host_firewall (the server REJECTs UDP with
# icmp-admin-prohibited), udp_host_firewall_drop (it drops UDP from non-LAN sources),
# udp_upstream_blocked (the carrier drops UDP 5005). udp_only_* probe "game" as protocol = udp
# (5005 -> the UDP echo on 192.168.2.101): udp_only_ok, udp_only_server_gateway (its default
# gateway is 192.168.2.254).
plab_scenario() {
	PROBE_ARGS="" PROBE_CLIENT="" PROBE_NAME=web-1
	_opts="" _rns="" _rip=""
	case $1 in cgnat|double_nat) _opts=cgnat;; upstream_blocked) _opts=outside2;;
	udp_not_listening) ;; udp_upstream_blocked) _opts="udp outside2";; udp_*) _opts=udp;; esac
	plab_up $_opts || return 1
	case $1 in
	upstream_blocked|udp_upstream_blocked) _rns=$LAB_INET2 _rip=$LAB_INET2_IP;;
	*) _rns=$LAB_INET _rip=$LAB_INET_IP;;
	esac
	case $1 in
	udp_only_*) PROBE_NAME=game
		"$PORTPILOT" -f "$PT" add game protocol=udp public_port=5005 internal_ip=$LAB_SRV1_IP \
			internal_port=5005 >"$pp_tmp/set.log" 2>&1;;
	udp_*) PROBE_NAME=game
		"$PORTPILOT" -f "$PT" add game protocol=both public_port=5005 internal_ip=$LAB_SRV1_IP \
			internal_port=5005 >"$pp_tmp/set.log" 2>&1 && lab_serve "$LAB_SRV1" 5005 srv-101-tcp;;
	disabled) plab_set web-1 enabled=no;;
	expired) plab_set web-1 expires=2020-01-01T00:00;;
	source_not_allowed) plab_set web-1 allow=198.51.100.0/24;;
	hairpin_missing) plab_site hairpin no;;
	esac || return 1
	[ "$1" = rule_missing ] || plab_apply || return 1
	plab_reflector "$_rns" "$_rip" || return 1
	PROBE_ARGS="--reflector $REFL"
	case $1 in
	ok|disabled|expired|rule_missing|source_not_allowed) ;;
	ip_forward_off) lab_ns "$LAB_ROUTER" sysctl -qw net.ipv4.ip_forward=0;;
	# FORWARD drops it with no rule to name: policy DROP, and portpilot's accept never reached
	# (its hook gone). A rule that drops before the accept is foreign_drop (test-rules-faults.sh).
	# nftables: another table's policy drop is enough, portpilot's own accept does not count there
	forward_blocked) if lab_nft; then lab_ns "$LAB_ROUTER" iptables -P FORWARD DROP; else
		lab_ns "$LAB_ROUTER" iptables -D FORWARD -j PP-FWD &&
		lab_ns "$LAB_ROUTER" iptables -P FORWARD DROP; fi;;
	not_listening) for _p in $(ip netns pids "$LAB_SRV1"); do kill "$_p"; done
		_gone() { ! lab_ns "$LAB_SRV1" ss -Hltn "sport = :80" | grep -q LISTEN; }
		wait_for 5 _gone;;
	host_unreachable) ip -n "$LAB_SRV1" link set eth0 down;;
	host_firewall) lab_ns "$LAB_SRV1" iptables -A INPUT -p tcp --dport 80 -j DROP;;
	server_gateway) ip -n "$LAB_SRV1" route replace default via 192.168.2.254;;
	wrong_protocol) PROBE_CLIENT=plab_udp_client;;
	hairpin_missing) PROBE_CLIENT=plab_lan_client;;
	cgnat) ;;
	# The carrier NAT readdressed as a home router: the site's WAN is private.
	double_nat) ip -n "$LAB_CGN" addr flush dev eth1 && ip -n "$LAB_CGN" addr add 192.168.100.1/24 dev eth1 &&
		ip -n "$LAB_ROUTER" addr flush dev eth0 && ip -n "$LAB_ROUTER" addr add 192.168.100.2/24 dev eth0 &&
		ip -n "$LAB_ROUTER" route replace default via 192.168.100.1;;
	# The DDNS name still gives an old address (ip netns exec reads /etc/netns/NS/hosts).
	public_ip_mismatch) { [ -d /etc/netns ] || at_exit "rmdir /etc/netns 2>/dev/null"; } &&
		mkdir -p "/etc/netns/$LAB_ROUTER" && at_exit "rm -rf /etc/netns/$LAB_ROUTER" &&
		echo "203.0.113.77 site3.example.net" >"/etc/netns/$LAB_ROUTER/hosts" &&
		PROBE_ARGS="$PROBE_ARGS --hostname site3.example.net";;
	# The carrier filters the port between the internet and the site.
	upstream_blocked) lab_ns "$LAB_INET" iptables -A FORWARD -p tcp --dport 8080 -j DROP;;
	udp_ok|udp_not_listening|udp_only_ok) ;;
	udp_only_server_gateway) ip -n "$LAB_SRV1" route replace default via 192.168.2.254;;
	udp_host_firewall) lab_ns "$LAB_SRV1" iptables -A INPUT -p udp --dport 5005 -j REJECT \
		--reject-with icmp-admin-prohibited;;
	udp_host_firewall_drop) lab_ns "$LAB_SRV1" iptables -A INPUT -p udp --dport 5005 \
		! -s "$LAB_LAN_SUBNET" -j DROP;;
	udp_upstream_blocked) lab_ns "$LAB_INET" iptables -A FORWARD -p udp --dport 5005 -j DROP;;
	*) echo "plab_scenario: no scenario for $1" >&2; return 2;;
	esac
}

# plab_diagnose: probe web-1 (or watch it while PROBE_CLIENT runs) as the scenario says.
plab_diagnose() {
	if [ -z "$PROBE_CLIENT" ]; then
		# shellcheck disable=SC2086
		plab_probe "${PROBE_NAME:-web-1}" $PROBE_ARGS
		return
	fi
	ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" watch "${PROBE_NAME:-web-1}" --seconds 3 --json \
		>"$pp_tmp/out.json" 2>"$pp_tmp/err" &
	_w=$!
	$PROBE_CLIENT &
	_c=$!
	wait $_w; PRC=$?
	kill $_c 2>/dev/null; wait $_c 2>/dev/null
}

# plab_add_voice: a udp mapping "voice", public 6000 to the lab's UDP echo on srv2.
plab_add_voice() {
	printf '\n[voice]\nprotocol      = udp\npublic_port   = 6000\ninternal_ip   = %s\ninternal_port = %s\n' \
		"$LAB_SRV2_IP" "$LAB_UDP_PORT" >>"$PT"
}
