#!/bin/sh
# apply/confirm/rollback: foreign rules untouched, rollback exact, the timer survives a hang-up,
# confirm keeps, failed applies change nothing, mixed iptables variants refused, boot restore.
# Both backends: PP_BACKEND=nftables compares nft's whole ruleset instead of iptables-save.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@" >>"$pp_tmp/log" 2>&1; }
waits() ( wait_for "$@" )   # a subshell: lib.sh's check and wait_for share a variable
pub=http://$LAB_PUBLIC_IP
# The kernel's rules without counters and dates; "foreign" drops portpilot's lines.
if lab_nft; then
	rules() { ip netns exec "$R" nft list ruleset | sed 's/counter packets [0-9]* bytes [0-9]*/counter/g'; }
	# without portpilot's tables and its accept in DOCKER-USER
	foreign() { rules | awk '/^table inet portpilot(_log)? [{]/ { skip = 1 } !skip { print } skip && /^[}]/ { skip = 0 }' | grep -v -e 'pp:forward' -e 'ct mark and 0x10000000 == 0x10000000 ct status dnat  *counter accept'; }
else
	rules() { ip netns exec "$R" iptables-save | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//'; }
	foreign() { rules | grep -v 'PP-'; }
fi
lab_seed_table "$T"

# Rules that were there before: a fake Docker (with DOCKER-USER) and the user's own.
ip netns exec "$R" iptables-restore --noflush <<'EOF'
*filter
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A DOCKER-USER -j RETURN
COMMIT
*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
EOF
ip netns exec "$R" iptables-save >"$pp_tmp/docker.rules"
# nftables: Docker's FORWARD policy drop too, which an accept in portpilot's own table cannot undo
lab_nft && ip netns exec "$R" iptables -P FORWARD DROP
rules >"$pp_tmp/before"
check "apply next to foreign rules" pp apply
foreign >"$pp_tmp/after"
check "foreign rules are byte-identical after apply" cmp -s "$pp_tmp/before" "$pp_tmp/after"
if lab_nft; then
	check "DOCKER-USER accepts portpilot's flows" sh -c "ip netns exec $R iptables -S DOCKER-USER | grep -q -- '--ctstate DNAT -m comment --comment .*pp:forward.* -j ACCEPT'"
else
	check "DOCKER-USER jumps to portpilot too" sh -c "ip netns exec $R iptables -S DOCKER-USER | grep -q -- '-j PP-FWD'"
fi
check "mappings work next to Docker's rules" body_is "$LAB_INET" "$pub:8080/" srv-101
rules >"$pp_tmp/state-A"

# A failed apply (iptables-restore rejects the ruleset) leaves everything as it was.
# (check refuses every value it knows iptables would reject, so an iptables-restore that
# refuses everything stands in for one.)
cp "$T" "$pp_tmp/good.ini"
sed -i 's/^internal_ip *= 192.168.2.101/internal_ip = 192.168.2.102/' "$T"
mkdir -p "$pp_tmp/failbin"
printf '#!/bin/sh\ncat >/dev/null; echo "iptables-restore: line 3 failed" >&2; exit 1\n' >"$pp_tmp/failbin/wrap"
chmod +x "$pp_tmp/failbin/wrap"
for v in nft legacy; do ln -s wrap "$pp_tmp/failbin/iptables-$v-restore"; done
if lab_nft; then
	check "a transaction the kernel refuses fails the apply" sh -c "! ip netns exec $R env PORTPILOT_NFT_FAULT=commit $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/fail 2>&1"
	check "the failure says why" grep -q 'the transaction was refused, nothing changed' "$pp_tmp/fail"
else
	check "a ruleset iptables rejects fails the apply" sh -c "! ip netns exec $R env PATH=$pp_tmp/failbin:\$PATH $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/fail 2>&1"
	check "the failure says why" grep -q 'rejected the ruleset' "$pp_tmp/fail"
fi
rules >"$pp_tmp/after-fail"
check "the old rules are in place, unchanged" cmp -s "$pp_tmp/state-A" "$pp_tmp/after-fail"
check "and still forward" body_is "$LAB_INET" "$pub:8080/" srv-101
cp "$pp_tmp/good.ini" "$T"

# A ruleset the kernel itself rejects (parsing and --test pass): a user's rule makes
# PP-DNAT reachable from POSTROUTING, where DNAT is not allowed. (iptables only: no other
# nftables table can jump into portpilot's; the fault above is the kernel's refusal there.)
if ! lab_nft; then
S3=$pp_tmp/state3
printf '[site]\nwan_interface = eth0\nlan_interface = eth1\n' >"$pp_tmp/empty.ini"
ip netns exec "$R" "$PORTPILOT" -f "$pp_tmp/empty.ini" --state-dir "$S3" apply >/dev/null 2>&1
ip netns exec "$R" iptables -t nat -A POSTROUTING -s 10.99.0.0/16 -j PP-DNAT
rules >"$pp_tmp/k-before"
check "a ruleset the kernel rejects fails the apply" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S3 apply >$pp_tmp/kfail 2>&1"
rules >"$pp_tmp/k-after"
check "after the kernel's refusal the rules are exactly as before" cmp -s "$pp_tmp/k-before" "$pp_tmp/k-after"
check "the user's rule into portpilot's chain is untouched" sh -c "ip netns exec $R iptables -t nat -S POSTROUTING | grep -q -- '-s 10.99.0.0/16 -j PP-DNAT'"
ip netns exec "$R" iptables -t nat -D POSTROUTING -s 10.99.0.0/16 -j PP-DNAT
check "without it the same apply works" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S3 apply >/dev/null 2>&1"
check "and forwards" body_is "$LAB_INET" "$pub:8080/" srv-101
ip netns exec "$R" iptables-restore <"$pp_tmp/state-A"
rm -rf "$S3"
fi

# apply --confirm 5 from a session that then hangs up: the timer rolls back on time.
sed -i 's/^internal_ip *= 192.168.2.101/internal_ip = 192.168.2.102/' "$T"
# An apply --confirm writes its record before it starts the timer, and the timer's pid only
# once it is known: read the moment it appears, the record never says pid=0 (a reader's
# "kill 0" would signal its own process group) and, once the apply returns, holds the pid.
first_reads_no_zero_pid() {
	for _i in 1 2 3; do
		ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply --confirm 30 >/dev/null 2>&1 &
		_job=$!
		while [ ! -s "$S/pending" ] && kill -0 $_job 2>/dev/null; do :; done
		_first=$(cat "$S/pending" 2>/dev/null)
		wait $_job && [ -n "$(timer_pid "$S")" ] && pp rollback || return 1
		printf '%s\n' "$_first" | grep -q '^id=' || return 1
		printf '%s\n' "$_first" | grep '^pid=' | grep -qv '^pid=[1-9][0-9]*$' && return 1
	done
	return 0
}
check "a pending record never holds a pid that is not its timer's" first_reads_no_zero_pid
rules >"$pp_tmp/after-first"
check "and its rollbacks left the rules exactly" cmp -s "$pp_tmp/state-A" "$pp_tmp/after-first"
t0=$(date +%s)
# The sh in the new session writes its own pid: that pid leads the session and its group.
ip netns exec "$R" setsid sh -c "echo \$\$ >$pp_tmp/session; $PORTPILOT -f $T --state-dir $S apply --confirm 5 >$pp_tmp/confirm-out 2>&1; exec sleep 60" &
# The record comes before the timer's pid is known: wait for the pid.
check "apply --confirm arms a timer" waits 5 grep -q '^pid=[1-9]' "$S/pending"
tpid=$(timer_pid "$S")
session=$(cat "$pp_tmp/session" 2>/dev/null)
# the timer is armed before the commit: wait for the commit, not just the pid
check "the change is live" waits 5 body_is "$LAB_INET" "$pub:8080/" srv-102
# Signal that group only while it is a session of its own that is not this test's (nor make's).
own_session() {
	case "$session" in '' | *[!0-9]* | 0 | 1) return 1;; esac
	[ "$(ps -o sid= -p "$session" | tr -d ' ')" = "$session" ] &&
		[ "$(ps -o pgid= -p $$ | tr -d ' ')" != "$session" ] && [ "$(ps -o sid= -p $$ | tr -d ' ')" != "$session" ]
}
at_exit "own_session && kill -KILL -$session 2>/dev/null; is_timer '$tpid' && kill '$tpid'"
check "the apply runs in its own session" waits 5 own_session
own_session && kill -HUP "-$session"
[ -n "$tpid" ] && kill -HUP "$tpid"
check "the session died of the hang-up" waits 3 sh -c "! kill -0 $session 2>/dev/null"
check "the timer lives in its own session" sh -c "[ \$(ps -o sid= -p $tpid | tr -d ' ') != $session ]"
check "the timer survived SIGHUP" kill -0 "$tpid"
check "still changed before the deadline" body_is "$LAB_INET" "$pub:8080/" srv-102
check "rolled back after the deadline" waits 12 body_is "$LAB_INET" "$pub:8080/" srv-101
t1=$(date +%s)
check "on time (4..10 s after apply, took $((t1 - t0)) s)" test $((t1 - t0)) -ge 4 -a $((t1 - t0)) -le 10
check "the rollback clears the pending confirm" waits 3 test ! -e "$S/pending"
rules >"$pp_tmp/after-timer"
check "the rollback restored the rules exactly" cmp -s "$pp_tmp/state-A" "$pp_tmp/after-timer"
check "the timer exited" waits 3 sh -c "! kill -0 $tpid 2>/dev/null"
check "status tells whoever comes back that the timer rolled back" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status | grep -q 'rolled back: the last apply was not confirmed in time'"
check "status --json: timer_rollback holds the time" \
	sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | jq -e '.timer_rollback >= $t0' >/dev/null"

# apply --confirm then confirm: the change stays past the deadline and is persisted.
check "apply --confirm 3" pp apply --confirm 3
tpid=$(timer_pid "$S")
deadline=$(sed -n 's/^deadline=//p' "$S/pending")
check "a second apply is refused while one awaits confirmation" sh -c "! ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
check "confirm" pp confirm
check "confirm stops the timer" waits 3 sh -c "! kill -0 $tpid 2>/dev/null"
check "the deadline passes" waits 6 sh -c "[ \$(date +%s) -gt $((deadline + 1)) ]"
check "the confirmed change stays" body_is "$LAB_INET" "$pub:8080/" srv-102
if lab_nft; then
	check "it is persisted for boot" grep -q '192.168.2.102 . 80' "$S/confirmed.rules"
else
	check "it is persisted for boot" grep -q '192.168.2.102:80' "$S/confirmed.rules"
fi
check "a new apply clears the rollback news" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | jq -e '.timer_rollback == 0' >/dev/null"
check "confirm with nothing pending fails" sh -c "! ip netns exec $R $PORTPILOT --state-dir $S confirm 2>/dev/null"

# rollback (no timer) restores the previous ruleset exactly, and the persisted one follows.
check "rollback" pp rollback
rules >"$pp_tmp/after-rollback"
check "rollback restores the previous rules exactly" cmp -s "$pp_tmp/state-A" "$pp_tmp/after-rollback"
check "8080 is back on .101" body_is "$LAB_INET" "$pub:8080/" srv-101

# An apply right after another skips reading the kernel (applied.gen proves nothing else
# committed since): its snapshot is the record, and the rollback is exact all the same.
check "apply (reads the kernel)" pp apply
rules >"$pp_tmp/state-B"
web1_to() { sed -i "/^\[web-1\]/,/^\[web-2\]/ s/^internal_ip *=.*/internal_ip = $1/" "$T"; }
web1_to 192.168.2.103
PORTPILOT_TIMING=1 ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$pp_tmp/cached" 2>&1
check "the next apply works from the record" grep -q '^timing: read-cached' "$pp_tmp/cached"
check "and changes the kernel" body_is "$LAB_INET" "$pub:8080/" srv-103
check "rollback after it" pp rollback
rules >"$pp_tmp/after-cached-rollback"
check "restores the rules exactly" cmp -s "$pp_tmp/state-B" "$pp_tmp/after-cached-rollback"
check "8080 is back on .102" body_is "$LAB_INET" "$pub:8080/" srv-102
web1_to 192.168.2.102

# Back to before portpilot's first apply: rolling back the first apply leaves no trace.
S2=$pp_tmp/state2
if lab_nft; then
	ip netns exec "$R" nft flush ruleset
	ip netns exec "$R" iptables-restore <"$pp_tmp/docker.rules"
else
	ip netns exec "$R" iptables-restore <"$pp_tmp/before"
fi
rules >"$pp_tmp/before2"
check "first apply (fresh state dir)" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S2 apply >/dev/null 2>&1"
check "rollback of a first apply" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S2 rollback >/dev/null 2>&1"
rules >"$pp_tmp/after2"
check "everything byte-identical to before portpilot" cmp -s "$pp_tmp/before2" "$pp_tmp/after2"

# Boot: the kernel lost everything; apply --restore brings back the confirmed ruleset.
check "apply (persisted)" pp apply
if lab_nft; then
	ip netns exec "$R" nft flush ruleset
else
	ip netns exec "$R" sh -c 'iptables -t nat -F; iptables -t nat -X; iptables -F; iptables -X'
fi
check "after a 'reboot' nothing forwards" sh -c "[ -z \"\$(ip netns exec $LAB_INET curl -s --max-time 2 $pub:8080/)\" ]"
check "apply --restore" pp apply --restore
check "the persisted ruleset forwards again" body_is "$LAB_INET" "$pub:8080/" srv-102

# Rules in both iptables variants: refuse, touch nothing. (iptables only.)
lab_nft && pp_done
other=legacy
ip netns exec "$R" iptables -V | grep -q legacy && other=nft
ip netns exec "$R" "iptables-$other" -A INPUT -p tcp --dport 23 -j DROP
rules >"$pp_tmp/mixed-before"
ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$pp_tmp/mixed" 2>&1
check "mixed nft/legacy rules: apply refuses" test $? = 1
check "the refusal names both variants" grep -q "both iptables-.* hold rules" "$pp_tmp/mixed"
rules >"$pp_tmp/mixed-after"
check "and changes nothing" cmp -s "$pp_tmp/mixed-before" "$pp_tmp/mixed-after"
pp_done
