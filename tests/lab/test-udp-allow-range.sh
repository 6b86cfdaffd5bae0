#!/bin/sh
# UDP both ways and a running stream moved by a re-target, allow-lists, port ranges with a shift.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin udp outside2
pp() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$T" --state-dir "$S" "$@" >>"$pp_tmp/log" 2>&1; }
pub=http://$LAB_PUBLIC_IP
write_table() { # UDP_TARGET_IP
	{ lab_site_ini; cat <<EOT
[web-1]
public_port = 8080
internal_ip = $LAB_SRV1_IP
internal_port = 80
allow = $LAB_INET_IP/32

[stream]
protocol = udp
public_port = 6000
internal_ip = $1
internal_port = $LAB_UDP_PORT

[range]
protocol = both
public_port = 7000-7009
internal_ip = $LAB_SRV2_IP
internal_port = 20000-20009
EOT
	} >"$T"
}
lab_serve "$LAB_SRV2" 20003 range-20003
lab_serve "$LAB_SRV2" 20009 range-20009
write_table "$LAB_SRV2_IP"
check "apply" pp apply

check "udp: a datagram goes in and the answer comes back" \
	sh -c "[ \"\$(. $PP_TOP/tests/lab/lab.sh; lab_udp $LAB_INET $LAB_PUBLIC_IP 6000 ping)\" = 'srv-102 ping' ]"
check "allow: the listed outside host gets in" body_is "$LAB_INET" "$pub:8080/" srv-101
check "allow: another outside host does not" no_answer "$LAB_INET2" "$pub:8080/"
check "range: 7003 lands on 20003" body_is "$LAB_INET" "$pub:7003/" range-20003
check "range: 7009 lands on 20009" body_is "$LAB_INET" "$pub:7009/" range-20009
check "range: 7010 is outside the range" no_answer "$LAB_INET" "$pub:7010/"
if lab_nft; then
	check "range: udp too (protocol both)" \
		sh -c "ip netns exec $LAB_ROUTER nft list map inet portpilot dnat_to | grep -q 'udp . 7009 .*: $LAB_SRV2_IP . 20009'"
else
	check "range: udp too (protocol both)" \
		sh -c "ip netns exec $LAB_ROUTER iptables-save -t nat | grep -q -- '-p udp -m udp --dport 7000:7009 .*20000-20009/7000'"
fi

# A running UDP stream (same source port throughout) follows a re-target:
# without the conntrack flush it would stay on the old server for minutes.
ip netns exec "$LAB_INET" "$LAB_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.05); s.bind(("0.0.0.0", 40123))
end = time.time() + 25
while time.time() < end:
    s.sendto(b"tick", (sys.argv[1], 6000))
    try:
        d = s.recv(2048).decode()
        with open(sys.argv[2], "a") as f: f.write(d + "\n")
    except OSError: pass
    time.sleep(0.05)' "$LAB_PUBLIC_IP" "$pp_tmp/stream" &
spid=$!
at_exit "kill $spid 2>/dev/null"
# wait_for in a subshell: check and wait_for share the variable n in lib.sh.
waits() ( wait_for "$@" )
last_is() { [ "$(tail -n 1 "$pp_tmp/stream" 2>/dev/null)" = "$1 tick" ]; }
check "stream: flows to .102" waits 5 last_is srv-102
write_table "$LAB_SRV3_IP"
check "apply the re-target" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/re 2>&1"
check "apply says it moved the running flow" grep -q '^conntrack: [1-9][0-9]* running flow(s) of changed mappings removed' "$pp_tmp/re"
check "stream: the same flow now reaches .103" waits 5 last_is srv-103
kill $spid 2>/dev/null
pp_done
