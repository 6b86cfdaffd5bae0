#!/bin/sh
# Issue 12.4: switching backends moves the mappings in one apply, and a rollback restores the old
# backend's rules exactly. iptables -> nftables with apply --confirm from a session that is then
# killed before it confirms: the timer puts the iptables rules back byte for byte and removes
# table inet portpilot. Real traffic from the lab's internet host at every step.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v nft >/dev/null || { echo "# nft missing (tools/deps.sh installs nftables)"; exit 77; }
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
waits() ( wait_for "$@" )
pub=http://$LAB_PUBLIC_IP
# The whole iptables state (every table, not only portpilot's chains), counters left out.
rules() { ip netns exec "$R" iptables-save | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//'; }
same_as_before() { rules >"$pp_tmp/now" && cmp -s "$pp_tmp/ipt-before" "$pp_tmp/now"; }
has_nft_table() { ip netns exec "$R" nft list table inet portpilot >/dev/null 2>&1; }
no_nft_table() { ! has_nft_table; }
pp_chains() { ip netns exec "$R" iptables-save | grep -c '^:PP-'; }
set_backend() { sed -i "s/^backend .*/backend       = $1/" "$T"; }
at_exit "kill_timer '$S' 2>/dev/null"

lab_seed_table "$T"
sed -i "/^hairpin/a backend       = iptables" "$T"
check "iptables: apply" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
check "iptables: 8080 reaches .101 from outside" body_is "$LAB_INET" "$pub:8080/" srv-101
check "iptables: 8090 reaches .102" body_is "$LAB_INET" "$pub:8090/" srv-102
check "iptables: no nftables table" no_nft_table
rules >"$pp_tmp/ipt-before"
check "iptables: portpilot's chains are there" test "$(pp_chains)" -gt 0

# The move, with web-2 pointed elsewhere too, so the traffic shows which rules are in force.
set_backend nftables
sed -i "/^\[web-2\]/,/^\[/ s/^internal_ip .*/internal_ip   = $LAB_SRV3_IP/" "$T"
pp apply --dry-run >"$pp_tmp/dry" 2>&1
check "dry run says the mappings move from iptables to nftables" grep -q '^moving the mappings from iptables to nftables' "$pp_tmp/dry"
check "and changes nothing" same_as_before
# The session: apply --confirm in its own session and process group, killed once the apply is
# done and before anyone confirms (an SSH link lost after the apply).
ip netns exec "$R" setsid sh -c "$PORTPILOT -f $T --state-dir $S apply --confirm 12 >$pp_tmp/apply 2>&1; echo done >$pp_tmp/applied; exec sleep 60" &
sess=$!   # ip netns exec and setsid exec in place: this pid is the session's shell, then its sleep
at_exit "kill -9 $sess 2>/dev/null"
waits 30 test -s "$pp_tmp/applied"
check "apply --confirm 12 (nftables) finished" grep -q '^backend: nftables' "$pp_tmp/apply"
check "it said it moves the mappings" grep -q '^moving the mappings from iptables to nftables' "$pp_tmp/apply"
check "nftables: table inet portpilot in place" has_nft_table
check "nftables: portpilot's iptables chains are gone" test "$(pp_chains)" = 0
check "nftables: 8080 reaches .101 from outside" body_is "$LAB_INET" "$pub:8080/" srv-101
check "nftables: 8090 reaches .103 (the change)" body_is "$LAB_INET" "$pub:8090/" srv-103
check "the snapshot names the old backend" sh -c "head -1 $S/snapshot.rules | grep -qx '# portpilot backend=iptables'"
check "the applied record names the new one" sh -c "head -1 $S/applied.rules | grep -qx '# portpilot backend=nftables'"
check "the session is still there, unconfirmed" kill -0 "$sess"
kill -9 "$sess"
wait "$sess" 2>/dev/null
check "the session is gone, nobody confirms" sh -c "! kill -0 $sess 2>/dev/null"
check "the rollback timer lives on" is_timer "$(timer_pid "$S")"

check "by the deadline the iptables rules are back exactly" waits 25 same_as_before
check "and table inet portpilot is gone" waits 5 no_nft_table
check "rolled back: 8080 reaches .101" body_is "$LAB_INET" "$pub:8080/" srv-101
check "rolled back: 8090 reaches .102 again" body_is "$LAB_INET" "$pub:8090/" srv-102
check "nothing pending" waits 5 test ! -e "$S/pending"
pp status >"$pp_tmp/st" 2>&1
check "status: the table asks for nftables, the last apply (the rollback) holds iptables" \
	grep -q '^the last apply wrote with iptables: the table asks for nftables' "$pp_tmp/st"

# And the move kept for good: confirm, then back to iptables the same way (no rollback).
check "apply --confirm 30 again (nftables)" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --confirm 30 >/dev/null 2>&1"
check "confirm" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S confirm >/dev/null 2>&1"
check "confirmed on nftables: 8090 reaches .103" body_is "$LAB_INET" "$pub:8090/" srv-103
check "status on nftables: every mapping in sync" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status >$pp_tmp/st2 2>&1"
set_backend iptables
check "back to iptables in one apply" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
check "iptables again: no nftables table" no_nft_table
check "iptables again: 8090 reaches .103" body_is "$LAB_INET" "$pub:8090/" srv-103
check "status on iptables: every mapping in sync" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status >/dev/null 2>&1"

# Killed in the middle of the move: nftables has committed, iptables' rules are not removed yet
# (an iptables-*-restore wrapper kills the apply, its parent, when the removal starts; one shot).
# The timer must still take the nftables table out and leave iptables as it was.
rules >"$pp_tmp/ipt-before"
bin=$pp_tmp/bin
mkdir -p "$bin"
cat >"$bin/wrap" <<EOT
#!/bin/sh
real=/usr/sbin/\$(basename "\$0")
case " \$* " in *" --test "*) exec "\$real" "\$@";; esac
mv "$pp_tmp/mode" "$pp_tmp/mode.\$\$" 2>/dev/null || exec "\$real" "\$@"
kill -9 \$PPID; exit 1
EOT
chmod +x "$bin/wrap"
for v in nft legacy; do ln -s wrap "$bin/iptables-$v-restore"; done
set_backend nftables
echo kill >"$pp_tmp/mode"
ip netns exec "$R" env PATH="$bin:$PATH" "$PORTPILOT" -f "$T" --state-dir "$S" apply --confirm 8 >/dev/null 2>&1
check "mid-move: the apply was killed when it came to remove iptables' rules" test ! -e "$pp_tmp/mode"
check "mid-move: nftables had committed" has_nft_table
check "mid-move: iptables' rules still there" test "$(pp_chains)" -gt 0
check "mid-move: traffic still flows" body_is "$LAB_INET" "$pub:8090/" srv-103
check "mid-move: a rollback is armed, naming the backend it undoes" grep -qx 'backend=nftables' "$S/pending"
# iptables' rules were never removed: wait for the rollback itself (its record goes), not for them.
check "mid-move: the timer rolls back at the deadline" waits 25 test ! -e "$S/pending"
check "mid-move: iptables is as before" same_as_before
check "mid-move: and the nftables table is gone too" no_nft_table
check "mid-move: 8080 reaches .101" body_is "$LAB_INET" "$pub:8080/" srv-101
pp_done
