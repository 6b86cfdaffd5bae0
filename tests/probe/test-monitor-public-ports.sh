#!/bin/sh
# The monitor's public path on a port list: the reflector is asked for every element in turn,
# so a list whose middle port is broken only from outside (its DNAT skipped) goes down from
# the internet naming that port, and up again once it is fixed; its LAN state stays up.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab_begin
lab_monitor_dir
lab_seed_table "$T"
for p in 7001 7002 7003; do
	lab_tcp_listen "$LAB_SRV1" $p >/dev/null || not_ok "server on $p listens"
done
"$PORTPILOT" -f "$T" add trio public_port=7001,7002,7003 internal_ip=$LAB_SRV1_IP >/dev/null || not_ok "add trio"
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$M/apply.log" 2>&1 || { not_ok "apply"; cat "$M/apply.log"; }
lab_reflector
{ lab_public_conf; cat <<EOF2
fail_after      = 2
recover_after   = 2
public_interval = 1
reflector_rate  = 60
EOF2
} >"$M/portpilot.conf"
lab_monitor "$M/portpilot.conf"
st() { jqe "$1" "$S/monitor-state.json"; }
asked() { grep -q "port $1 " "$M/pub.seen" 2>/dev/null; }
# Every element asked for: the public detail names each port in turn.
seen() { jq -r '.mappings[] | select(.name == "trio") | .public_detail' "$S/monitor-state.json" >>"$M/pub.seen" 2>/dev/null
	asked 7001 && asked 7002 && asked 7003; }
check "public: the reflector is asked for each of trio's three ports" wait_for 60 seen
check "public: trio up from the internet" wait_for 30 st '.mappings[] | select(.name == "trio") | .public == "up"'

# Outside only: packets to 7002 skip the DNAT (the router itself answers with a reset).
lab_ns "$R" iptables -t nat -I PREROUTING 1 -p tcp --dport 7002 -j RETURN
events() { jq -c "select(.mapping == \"$1\" and .scope == \"$2\" and .state == \"$3\")" "$S/monitor-history.jsonl" 2>/dev/null | wc -l; }
has() { [ "$(events "$@")" -ge 1 ]; }
check "public: trio down from the internet when only its middle port is cut" wait_for 60 has trio public down
check "public: the event names port 7002" \
	jqe 'select(.mapping == "trio" and .scope == "public" and .state == "down") | .detail | test("7002")' "$S/monitor-history.jsonl"
check "public: trio's LAN state stays up" test "$(events trio lan down)" = 0
lab_ns "$R" iptables -t nat -D PREROUTING 1
check "public: trio up again from the internet" wait_for 60 has trio public up
pp_done
