#!/bin/sh
# The monitor's public path: the [probe] reflector connects back to every mapping's public
# port, spaced so the reflector's rate limit is never reached. A path broken only from outside
# (the DNAT skipped) turns the public state down with one event while the LAN check stays up;
# fixed, one up event; a reflector that goes away changes no state and stops nothing.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v jq >/dev/null || { echo "# jq missing"; exit 77; }
lab_begin
lab_monitor_dir
lab_seed_table "$T"
lab_ns "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$M/apply.log" 2>&1 || { not_ok "apply"; cat "$M/apply.log"; }
# The reflector allows 90 requests a minute from the site; the monitor is told 60.
lab_reflector
REFL=$LAB_REFL
{ lab_public_conf; cat <<EOF2
fail_after      = 2
recover_after   = 2
public_interval = 1
reflector_rate  = 60
EOF2
} >"$M/portpilot.conf"
start=$(date +%s)
lab_monitor "$M/portpilot.conf"
MON=$LAB_MON
st() { jqe "$1" "$S/monitor-state.json"; }
check "public: every mapping reachable from outside" wait_for 30 st '[.mappings[] | select(.public == "up")] | length == 3'

# Outside only: packets to 8090 skip the DNAT (the router itself answers with a reset).
lab_ns "$R" iptables -t nat -I PREROUTING 1 -p tcp --dport 8090 -j RETURN
events() { jq -c "select(.mapping == \"$1\" and .scope == \"$2\" and .state == \"$3\")" "$S/monitor-history.jsonl" 2>/dev/null | wc -l; }
has() { [ "$(events "$@")" -ge 1 ]; }
check "public: web-2 down from the internet (event scope public)" wait_for 40 has web-2 public down
check "public: the event says so, with the reflector's result" \
	jqe 'select(.mapping == "web-2" and .scope == "public" and .state == "down") | (.message | test("^web-2 DOWN from the internet since ")) and (.detail | test("refused"))' "$S/monitor-history.jsonl"
check "public: diagnosed with the probe's outside test (budget reserved for it)" \
	jqe 'select(.mapping == "web-2" and .scope == "public" and .state == "down") | (.cause | length > 0) and .cause != "ok" and (.summary | test("not tested from outside") | not)' "$S/monitor-history.jsonl"
check "public: the LAN check of web-2 stays up (no lan event)" sh -c "[ $(events web-2 lan down) = 0 ] && jq -e '.mappings[] | select(.name == \"web-2\") | .state == \"up\"' $S/monitor-state.json >/dev/null"
lab_ns "$R" "$PORTPILOT" --state-dir "$S" health web-2 >"$M/health.txt"
check "health: exit 1 when only the public path is down" test $? = 1
check "health: says public DOWN" grep -q '^web-2 *up .*public DOWN' "$M/health.txt"
lab_ns "$R" iptables -t nat -D PREROUTING 1
check "public: web-2 up again from the internet" wait_for 40 has web-2 public up

# The reflector goes away: no state changes, the monitor goes on.
kill $REFL
wait $REFL 2>/dev/null
said() { grep -q '^monitor: public check of .*: ' "$M/monitor.err"; }
check "reflector gone: the monitor says so" wait_for 20 said
n_ev=$(wc -l <"$S/monitor-history.jsonl")
lab_ns "$R" "$PORTPILOT" --state-dir "$S" health >/dev/null
check "reflector gone: the public states stay up (a missing reflector is no verdict)" \
	sh -c "jq -e '[.mappings[] | select(.public == \"up\")] | length == 3' $S/monitor-state.json >/dev/null"
kill $MON
wait $MON
rc=$?
end=$(date +%s)
check "monitor: SIGTERM ends it with exit 0" test $rc = 0
check "exactly one down and one up public event, nothing more" \
	sh -c "[ $(events web-2 public down) = 1 ] && [ $(events web-2 public up) = 1 ] && [ $n_ev = 2 ]"
# Requests the reflector served, against what 60 a minute allows over the run (+2: the
# probe's outside test, whoami and check, has its two slots reserved).
reqs=$(grep -c ' /v1/' "$M/refl.log")
allowed=$(( (end - start) + 2 ))
check "rate: $reqs reflector requests in $((end - start)) s (at most $allowed)" test "$reqs" -le "$allowed"
check "rate: the reflector never refused one (no 429)" sh -c "! grep -q -- '-> 429' $M/refl.log"
check "rate: it was used (more than 10 requests)" test "$reqs" -gt 10
pp_done
