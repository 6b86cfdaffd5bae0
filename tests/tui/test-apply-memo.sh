#!/bin/sh
# One process applying again and again (the TUI): each apply starts from the state it committed
# last, kept in memory (core/apply-memo.c), but only while the kernel and the state directory are
# provably where it left them. A rule deleted by hand, a change another process applied: the
# TUI's next apply sees each. Its own last apply: it plans from memory, not applied.rules, and
# what it committed is exactly the table (a fresh CLI finds nothing to change). In the lab
# router namespace, on both backends (tests/lab/test-nft-suites.sh runs it on nftables).
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
lab_up || { not_ok "lab builds"; pp_done; }

S=$pp_tmp/state
reach() { [ "$(lab_http "$LAB_INET" "http://$LAB_PUBLIC_IP:$1/")" = "$2" ]; }
unreachable() { ! reach "$@"; }
pp_cli() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$pp_tmp/m.ini" --state-dir "$S" "$@"; }
# A (the dry run), its report at the bottom, then back to the top.
tui_dry() { keys A; wait_screen "dry run" 10 && keys PgDn PgDn PgDn PgDn; }
# a, c: applied with a countdown, then confirmed; Enter back to the table.
tui_apply() {
	keys PgUp PgUp PgUp PgUp a
	wait_screen "Rollback in" 10 || return 1
	keys c
	wait_screen "Confirmed: the ruleset stays" 10 || return 1
	keys Enter
}
# web-1's DNAT taken out by hand, as the backend wrote it.
if lab_nft; then
	cut_web1() { ip netns exec "$LAB_ROUTER" nft delete element inet portpilot dnat_to '{ tcp . 8080 }'; }
else
	cut_web1() {
		ip netns exec "$LAB_ROUTER" sh -c '
			r=$(iptables-save -t nat | grep -- "pp:web-1" | grep -- "-j DNAT" | head -n 1)
			[ -n "$r" ] && echo "$r" | sed "s/^-A/-D/" | xargs iptables -t nat'
	}
fi
lab_seed_table "$pp_tmp/m.ini"
TUI_WRAP="ip netns exec $LAB_ROUTER"
tui_start 100 30 C.UTF-8 -- -f m.ini --state-dir "$S"
check "TUI opens in the router namespace" wait_screen "3 mappings"
tui_dry
check "the first dry run: every mapping to add" wait_screen "3 mapping(s) change"
check "the first apply from the TUI" tui_apply
check "internet reaches web-1" wait_for 10 reach 8080 srv-101

# 1. The kernel changed by hand since the TUI's apply: its next apply must not trust its memory.
check "web-1's DNAT deleted by hand" cut_web1
check "web-1 is cut off" unreachable 8080 srv-101
tui_dry
check "the TUI's next dry run sees the deletion: web-1 changes" wait_screen "Mappings changed: web-1" 10
check "and only web-1" wait_screen "dry run: 1 mapping(s) change"
check "the apply puts it back" tui_apply
check "internet reaches web-1 again" wait_for 10 reach 8080 srv-101

# 2. Another process applied a change meanwhile (the kernel and applied.rules both moved on).
cli_change() { pp_cli set web-2 "internal_ip=$LAB_SRV3_IP" >/dev/null && pp_cli apply >/dev/null 2>&1; }
check "the CLI points web-2 at srv3 and applies it" cli_change
check "internet reaches srv3 on 8090" wait_for 10 reach 8090 srv-103
keys R
tui_dry
check "the TUI's dry run plans from the kernel the CLI left: nothing to change" \
	wait_screen "nothing to change: the kernel already holds this ruleset" 10
keys q

# 3. The TUI's own last apply: the next one plans from memory. applied.rules is rewritten in
# place (same inode, size and time) with web-3's tag garbled: read back, web-3 would differ.
cli_back() { pp_cli set web-2 "internal_ip=$LAB_SRV2_IP" >/dev/null; }
check "the CLI points web-2 back at srv2 (not applied)" cli_back
keys R
tui_dry
check "the TUI's dry run: web-2 changes" wait_screen "Mappings changed: web-2" 10
check "the TUI applies it" tui_apply
check "internet reaches srv2 on 8090 again" wait_for 10 reach 8090 srv-102
garble() {
	python3 - "$S/applied.rules" <<-'EOF'
	import os, sys
	p = sys.argv[1]
	st = os.stat(p)
	with open(p, 'r+b') as f:
	    d = f.read()
	    if d.count(b'pp:web-3') < 1:
	        sys.exit(1)
	    f.seek(0)
	    f.write(d.replace(b'pp:web-3', b'pp:web-X'))
	os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
	EOF
}
check "applied.rules garbled in place (inode, size and mtime kept)" garble
tui_dry
check "the TUI's next dry run plans from its memory: nothing to change" \
	wait_screen "nothing to change: the kernel already holds this ruleset" 10
keys q
keys q
check "quits with 0" wait_for 5 exit_is 0
# What the TUI committed is the table exactly: a fresh process reading the kernel agrees.
fresh_dry() {
	ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$pp_tmp/m.ini" --state-dir "$pp_tmp/fresh" apply --dry-run 2>&1 |
		grep -q 'nothing to change'
}
check "a fresh CLI reading the kernel: nothing to change" fresh_dry
pp_done
