#!/bin/sh
# Fault lab: every cause of the fixed list built in the lab; the real binary must name each one
# (and exit 0 only for ok).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root

for cause in ok disabled expired rule_missing ip_forward_off forward_blocked not_listening \
	host_unreachable host_firewall server_gateway wrong_protocol source_not_allowed \
	hairpin_missing public_ip_mismatch cgnat double_nat upstream_blocked; do
	if plab_scenario $cause; then
		plab_diagnose
		expect_cause "$cause scenario" $cause
	else
		not_ok "$cause scenario: lab"
	fi
done
pp_done
