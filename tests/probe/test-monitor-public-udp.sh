#!/bin/sh
# The public path of UDP-only mappings (issue 13 item 5): the reflector sends its datagram to
# the public port. A reply is up; an ICMP error (nothing listens behind the DNAT) is down, one
# event; silence is no result: the public state stays unknown and the state file says why,
# never a made-up up.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab_begin udp
lab_monitor_dir
cat >"$T" <<EOF
[site]
name          = udp lab
wan_interface = $LAB_WAN_IF
lan_interface = $LAB_LAN_IF
lan_subnet    = $LAB_LAN_SUBNET

; srv-101 echoes UDP: it answers the reflector's datagram
[echo]
protocol      = udp
public_port   = 5005
internal_ip   = $LAB_SRV1_IP
internal_port = $LAB_UDP_PORT
check_send    = ping
check_expect  = srv-101

; nothing listens on srv-102 port 5999: its kernel answers ICMP port unreachable
[closed]
protocol      = udp
public_port   = 5006
internal_ip   = $LAB_SRV2_IP
internal_port = 5999

; srv-103 drops it: silence
[silent]
protocol      = udp
public_port   = 5007
internal_ip   = $LAB_SRV3_IP
internal_port = 5998
EOF
lab_ns "$LAB_SRV3" iptables -A INPUT -p udp --dport 5998 -j DROP
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$M/apply.log" 2>&1 || { not_ok "apply"; cat "$M/apply.log"; }
lab_reflector
{ lab_public_conf; cat <<EOF2
fail_after      = 2
recover_after   = 1
timeout         = 1
public_interval = 1
reflector_rate  = 60
EOF2
} >"$M/portpilot.conf"
lab_monitor "$M/portpilot.conf"
MON=$LAB_MON
st() { jqe "$1" "$S/monitor-state.json"; }
events() { jq -c "select(.mapping == \"$1\" and .scope == \"public\" and .state == \"$2\")" "$S/monitor-history.jsonl" 2>/dev/null | wc -l; }
check "udp echo: up from the internet (the reflector's datagram answered)" \
	wait_for 30 st '.mappings[] | select(.name == "echo") | .public == "up"'
check "udp closed port: down from the internet, one event" wait_for 30 sh -c "[ \$(jq -c 'select(.mapping == \"closed\" and .scope == \"public\" and .state == \"down\")' '$S/monitor-history.jsonl' 2>/dev/null | wc -l) = 1 ]"
check "... its detail names the ICMP answer" st '.mappings[] | select(.name == "closed") | .public_detail | test("refused to UDP port 5006")'
check "... its LAN state stays unknown (no check_send: nothing to ask it)" st '.mappings[] | select(.name == "closed") | .state == "unknown"'
sil_checked() { st '.mappings[] | select(.name == "silent") | .public_checks >= 3'; }
check "udp silence: asked three times" wait_for 30 sil_checked
check "udp silence: the public state stays unknown" st '.mappings[] | select(.name == "silent") | .public == "unknown"'
check "... and the state file says why" st '.mappings[] | select(.name == "silent") | .public_detail | test("no reply to its UDP datagram on port 5007 .*cannot be told")'
check "... and no event for it" test "$(jq -c 'select(.mapping == "silent")' "$S/monitor-history.jsonl" 2>/dev/null | wc -l)" = 0
check "no public event for the echo either (unknown -> up is not an alert)" test "$(events echo down)" = 0
kill $MON; wait $MON
check "SIGTERM: exit 0" test $? = 0
[ $pp_failed = 0 ] || { sed 's/^/#   /' "$M/monitor.err"; sed 's/^/#   /' "$S/monitor-state.json"; }
pp_done
