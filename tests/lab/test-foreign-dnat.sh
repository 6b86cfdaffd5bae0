#!/bin/sh
# portpilot's FORWARD accept exposes its mappings and nothing else: a DNAT made by
# someone else (the user's own rule, another tool) still meets the user's FORWARD rules.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin udp
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
udp_is() { [ "$(lab_udp "$1" "$2" "$3" "$4")" = "$5" ]; }
udp_silent() { ! lab_udp "$1" "$2" "$3" "$4" >/dev/null; }
pub=http://$LAB_PUBLIC_IP
lab_seed_table "$T"
cat >>"$T" <<EOF

[voice]
protocol      = udp
public_port   = 6000
internal_ip   = $LAB_SRV2_IP
internal_port = $LAB_UDP_PORT
EOF

# The user's own forward of 9000 and 6001 to .103, which their FORWARD rules block.
ip netns exec "$R" iptables -t nat -A PREROUTING -i "$LAB_WAN_IF" -p tcp --dport 9000 \
	-j DNAT --to-destination "$LAB_SRV3_IP:80"
ip netns exec "$R" iptables -t nat -A PREROUTING -i "$LAB_WAN_IF" -p udp --dport 6001 \
	-j DNAT --to-destination "$LAB_SRV3_IP:$LAB_UDP_PORT"
ip netns exec "$R" iptables -A FORWARD -d "$LAB_SRV3_IP" -p tcp --dport 80 -j DROP
ip netns exec "$R" iptables -A FORWARD -d "$LAB_SRV3_IP" -p udp --dport "$LAB_UDP_PORT" -j DROP
check "before apply: the user's DROP blocks their own forward (tcp)" no_answer "$LAB_INET" "$pub:9000/"
check "before apply: and (udp)" udp_silent "$LAB_INET" "$LAB_PUBLIC_IP" 6001 hi

check "apply" ppq apply
check "after apply: the foreign tcp forward stays blocked" no_answer "$LAB_INET" "$pub:9000/"
check "after apply: the foreign udp forward stays blocked" udp_silent "$LAB_INET" "$LAB_PUBLIC_IP" 6001 hi
check "portpilot's mappings work (8080 to .101)" body_is "$LAB_INET" "$pub:8080/" srv-101
check "a mapping to the host the user blocks works: portpilot accepts its own" body_is "$LAB_INET" "$pub:8091/" srv-103
check "a udp mapping carries datagrams both ways" udp_is "$LAB_INET" "$LAB_PUBLIC_IP" 6000 hi "srv-102 hi"
check "hairpin still passes FORWARD" body_is "$LAB_LANHOST" "$pub:8090/" srv-102
check "status: all four in sync" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | grep -o 'state.:.in_sync' | wc -l | grep -qx 4"

# A foreign DNAT to a mapping's own target from another public port is not portpilot's either.
ip netns exec "$R" iptables -t nat -A PREROUTING -i "$LAB_WAN_IF" -p tcp --dport 9001 \
	-j DNAT --to-destination "$LAB_SRV1_IP:80"
ip netns exec "$R" iptables -A FORWARD -d "$LAB_SRV1_IP" -p tcp --dport 80 \
	-m conntrack --ctorigdstport 9001 -j DROP
check "a foreign DNAT to a mapped target, from another port, stays blocked" no_answer "$LAB_INET" "$pub:9001/"
check "while the mapping to that target works" body_is "$LAB_INET" "$pub:8080/" srv-101
pp_done
