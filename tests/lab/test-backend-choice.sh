#!/bin/sh
# Issue 12 item 4: [site] backend = auto | iptables | nftables. A bad value is a finding with
# file:line and the fix; a backend named but not usable here is an error that names the file
# and line, never a silent fallback; apply and status say which backend was picked and why.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
unset PORTPILOT_BACKEND   # lab.sh pins what auto means: this test wants the real auto
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
lab_seed_table "$T"
line=$(grep -n '^hairpin' "$T" | cut -d: -f1)
sed -i "${line}a backend       = nft" "$T"
bl=$((line + 1))
"$PORTPILOT" -f "$T" check >"$pp_tmp/out" 2>&1
check "a bad backend value fails check" test $? = 1
check "naming file:line and the key" grep -qF "$T:$bl: error: [site] backend: 'nft' is not valid here" "$pp_tmp/out"
check "and the fix" grep -qF "fix: write auto, iptables or nftables" "$pp_tmp/out"
check "apply refuses it too" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"

sed -i "${bl}s/.*/backend       = nftables/" "$T"
pp apply --dry-run >"$pp_tmp/out" 2>&1
rc=$?
# With the nftables backend built it must be the one used; without it, a clear error. Never iptables.
if grep -q '^backend: nftables' "$pp_tmp/out"; then
	check "backend = nftables: nftables does the apply" test $rc = 0
else
	check "backend = nftables without that backend: apply fails" test $rc = 1
	check "naming file:line and what to do" grep -qF "$T:$bl: [site] backend: backend nftables: this portpilot was built without the nftables backend; set [site] backend = iptables (or auto)" "$pp_tmp/out"
fi
check "never a silent fallback to iptables" sh -c "! grep -q '^backend: iptables' $pp_tmp/out"
check "nothing written to the kernel" sh -c "! ip netns exec $R iptables-save | grep -q PP-"

sed -i "${bl}s/.*/backend       = iptables/" "$T"
pp apply >"$pp_tmp/out" 2>&1
check "backend = iptables: apply" test $? = 0
check "apply says the backend and why" grep -q '^backend: iptables (\(nft\|legacy\)): \[site\] backend = iptables$' "$pp_tmp/out"
check "the mapping works from outside" body_is "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/" srv-101
pp status >"$pp_tmp/out" 2>&1
check "status says it too" grep -q '^backend: iptables (\[site\] backend = iptables)$' "$pp_tmp/out"
check "status --json: backend and why" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | jq -e '.backend == \"iptables\" and .backend_why == \"[site] backend = iptables\"' >/dev/null"
check "the applied record names its backend" sh -c "head -1 $S/applied.rules | grep -qx '# portpilot backend=iptables'"

sed -i "${bl}s/.*/backend       = auto/" "$T"
pp apply --dry-run --json >"$pp_tmp/out" 2>&1
check "auto: apply --json says what it picked and why" jqe '(.backend == "iptables" or .backend == "nftables") and (.backend_why | startswith("[site] backend = auto: "))' "$pp_tmp/out"
# The mappings are live in iptables now: auto keeps them there, even where nftables could run
# (an upgrade or a new default never moves a site's rules by itself).
if ip netns exec "$R" "$PORTPILOT" nft show >/dev/null 2>&1; then
	check "auto with the mappings live in iptables: stays on iptables" jqe '.backend == "iptables"' "$pp_tmp/out"
	check "  and says why, and how to move them" jqe '.backend_why | contains("mappings are live in iptables") and contains("backend = nftables")' "$pp_tmp/out"
	pp apply >/dev/null 2>&1
	check "  an apply with auto leaves no nftables table" sh -c "! ip netns exec $R nft list table inet portpilot >/dev/null 2>&1"
	check "  and the mapping still works from outside" body_is "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/" srv-101
	# auto asks the kernel for its table list (core/nft-ops.c): only table inet portpilot is ours
	ip netns exec "$R" nft add table ip portpilot
	pp apply --dry-run --json >"$pp_tmp/out" 2>&1
	check "auto: a table ip portpilot is not ours (iptables stays)" jqe '.backend == "iptables"' "$pp_tmp/out"
	ip netns exec "$R" nft delete table ip portpilot
	ip netns exec "$R" nft add table inet portpilot
	pp apply --dry-run --json >"$pp_tmp/out" 2>&1
	check "auto: table inet portpilot present wins over the iptables layout" jqe '.backend == "nftables"' "$pp_tmp/out"
	ip netns exec "$R" nft delete table inet portpilot
fi
sed -i "${bl}d" "$T"
pp status --json >"$pp_tmp/out" 2>/dev/null
check "no key: auto, and status says so" jqe '.backend_why | startswith("[site] backend not set (auto): ")' "$pp_tmp/out"
pp_done
