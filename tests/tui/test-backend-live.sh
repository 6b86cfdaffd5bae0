#!/bin/sh
# The TUI reads the kernel through the backend the table names: it opens one before it has a
# table (auto), and with [site] backend = nftables applied its rows must read in sync, not
# pending (issue 12.4). In the lab router namespace.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v nft >/dev/null || { echo "# nft missing (tools/deps.sh installs nftables)"; exit 77; }
lab_need_root
lab_up || { not_ok "lab builds"; pp_done; }
S=$pp_tmp/state
lab_seed_table "$pp_tmp/m.ini"
sed -i "/^hairpin/a backend       = nftables" "$pp_tmp/m.ini"
pp_cli() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$pp_tmp/m.ini" --state-dir "$S" "$@"; }
if ! pp_cli apply --dry-run 2>&1 | grep -q '^backend: nftables'; then
	echo "# this build has no nftables backend"; exit 77
fi
check "apply with nftables" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $pp_tmp/m.ini --state-dir $S apply >/dev/null 2>&1"
check "the CLI's status: every mapping in sync" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $pp_tmp/m.ini --state-dir $S status >/dev/null 2>&1"
# What auto means here is iptables (tests/lib.sh): the TUI's first open picks that one.
TUI_WRAP="ip netns exec $LAB_ROUTER"
tui_start 100 24 C.UTF-8 -- -f m.ini --state-dir "$S"
check "TUI opens" wait_screen "3 mappings"
check "the rows read the nftables rules: the kernel is in sync" wait_screen "in sync" 10
check "nothing reads pending" screen_lacks "pending"
check "no 'kernel differs'" screen_lacks "kernel differs"
keys q
check "quits with 0" wait_for 5 exit_is 0
pp_done
