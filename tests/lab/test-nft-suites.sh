#!/bin/sh
# The key lab and probe suites once more on the nftables backend (make check runs them on iptables by
# default): each suite is run whole with PP_BACKEND=nftables and must pass every check.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
command -v nft >/dev/null || { echo "# nft missing (tools/deps.sh installs nftables)"; exit 77; }
ip netns add "pp-$$-nft" 2>/dev/null || { echo "# cannot try nftables here"; exit 77; }
ip netns exec "pp-$$-nft" "$PORTPILOT" nft show >/dev/null 2>&1
have=$?
ip netns del "pp-$$-nft" 2>/dev/null
[ $have = 0 ] || { echo "# this portpilot has no nftables backend or the kernel no nf_tables"; exit 77; }
for s in \
	lab/test-lab \
	lab/test-lifecycle \
	lab/test-expire \
	lab/test-masquerade \
	lab/test-counters-kept \
	lab/test-udp-allow-range \
	lab/test-foreign-dnat \
	lab/test-timer-gone \
	lab/test-apply-kill \
	probe/test-faults \
	probe/test-access-log \
	probe/test-access-log6 \
	lab/test-hairpin-ports \
	lab/test-status-plan \
	lab/test-relay \
	lab/test-ipv6 \
	lab/test-ipv6-lists \
	lab/test-ddns6 \
	probe/test-probe-ipv6 \
	probe/test-probe-ra6 \
	lab/test-ipv6-nat66 \
	probe/test-probe-outside6 \
	probe/test-monitor-ipv6 \
	tui/test-apply-memo; do
	f=$PP_TOP/tests/$s.sh
	[ -f "$f" ] || { not_ok "nftables: $s.sh is missing"; continue; }
	log=$pp_tmp/$(basename "$s").log
	PP_BACKEND=nftables sh "$f" >"$log" 2>&1
	rc=$?
	n_ok=$(grep -c '^ok ' "$log")
	n_bad=$(grep -c '^not ok ' "$log")
	if [ $rc = 0 ] && [ "$n_bad" = 0 ] && [ "$n_ok" -gt 0 ]; then
		ok "nftables: $s.sh ($n_ok checks)"
	else
		not_ok "nftables: $s.sh (exit $rc, $n_ok ok, $n_bad failed)"
		grep '^not ok ' "$log" | sed 's/^/#   /'
	fi
done
pp_done
