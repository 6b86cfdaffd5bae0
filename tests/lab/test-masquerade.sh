#!/bin/sh
# masquerade = yes: a server whose default gateway is not this router (or that has none) answers
# outside clients through it, because it sees the router's LAN address as the client. Proven by
# real traffic, and the probe's advice names it.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
plab_up udp || { not_ok "lab builds"; pp_done; }
plab_add_voice
R=$LAB_ROUTER
pp() { ip netns exec "$R" "$PORTPILOT" -f "$PT" --state-dir "$pp_tmp/state" "$@"; }
j() { jq -e "$1" "$pp_tmp/out.json" >/dev/null; }
web1() { body_is "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/" srv-101; }
voice() { [ "$(lab_udp "$LAB_INET" "$LAB_PUBLIC_IP" 6000 hi)" = "srv-102 hi" ]; }
check "apply" plab_apply
plab_reflector "$LAB_INET" "$LAB_INET_IP" || { not_ok "reflector starts"; pp_done; }
check "healthy: outside reaches web-1" web1
check "healthy: outside reaches voice (udp)" voice

# web-1's server has no default route at all (a camera); voice's sends its replies to another
# router. (A UDP server without any route would see its reply fail and the lab's echo stop.)
ip -n "$LAB_SRV1" route del default
ip -n "$LAB_SRV2" route replace default via 192.168.2.254
check "no gateway: outside curl to web-1 fails" no_answer "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/"
udp_silent() { ! lab_udp "$LAB_INET" "$LAB_PUBLIC_IP" 6000 hi >/dev/null; }
check "wrong gateway: the udp answer never comes back" udp_silent
check "LAN clients still reach the server directly (the fault is the return path)" \
	body_is "$LAB_LANHOST" "http://$LAB_SRV1_IP/" srv-101
plab_probe web-1 --reflector "$REFL"
expect_cause "no gateway" server_gateway
check "the fix names the portpilot command" j '.fix | test("portpilot set web-1 masquerade=yes")'
check "and its trade-off" j '.fix | test("sees the router, not the client")'

check "set masquerade=yes on both" sh -c "'$PORTPILOT' -f '$PT' set web-1 masquerade=yes >/dev/null && '$PORTPILOT' -f '$PT' set voice masquerade=yes >/dev/null"
check "list --json shows it" sh -c "'$PORTPILOT' -f '$PT' list --json | jq -e '.mappings[] | select(.name == \"web-1\") | .masquerade == true' >/dev/null"
check "apply" plab_apply
check "masquerade: outside curl to web-1 works though the server has no gateway" web1
check "masquerade: udp to a server with a wrong gateway is answered" voice
check "masquerade: the server saw the router's LAN address as the client" \
	sh -c "ip netns exec $R conntrack -L -p tcp --orig-port-dst 8080 2>/dev/null | grep -q 'src=$LAB_SRV1_IP dst=$LAB_LAN_IP sport=80'"
check "masquerade: a hairpin client still works" body_is "$LAB_LANHOST" "http://$LAB_PUBLIC_IP:8080/" srv-101
check "status: in sync with the masquerade rules" sh -c "ip netns exec $R '$PORTPILOT' -f '$PT' --state-dir '$pp_tmp/state' status >/dev/null"
plab_probe web-1 --reflector "$REFL"
expect_cause "masquerade on, still no gateway" ok
# Another mapping to the same server without masquerade gets no SNAT: only web-1's flows.
"$PORTPILOT" -f "$PT" add web-1b public_port=8088 internal_ip="$LAB_SRV1_IP" internal_port=80 >/dev/null
check "apply web-1b" plab_apply
check "a second mapping to the same server:port without masquerade is not masqueraded" \
	no_answer "$LAB_INET" "http://$LAB_PUBLIC_IP:8088/"
check "while web-1 still is" web1

# The allow list still holds: it matches before the address is rewritten.
check "allow list of another network" sh -c "'$PORTPILOT' -f '$PT' set web-1 allow=198.51.100.0/24 >/dev/null"
check "apply" plab_apply
check "masquerade does not open web-1 to a source outside its allow list" no_answer "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/"
check "allow list back to any" sh -c "'$PORTPILOT' -f '$PT' set web-1 allow=0.0.0.0/0 masquerade=no >/dev/null"
check "apply" plab_apply
check "masquerade off again: web-1 fails again without a gateway (control)" no_answer "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/"
check "no masquerade rule of web-1 left in PP-POST" sh -c "! ip netns exec $R iptables -t nat -S PP-POST | grep -q 'pp:web-1\"'"
pp_done
