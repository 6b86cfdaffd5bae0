#!/bin/sh
# apply --confirm arms its rollback before the kernel changes: killed (-9) or hung up at any
# point, the old rules are back by the deadline, and status/confirm say what happened. The
# rollback timer never loses to apply.lock, and a dry run takes no lock.
# PP_SWEEP=N runs N kill -9 tries at random points instead of the default 12 (PP_SWEEP_SIG=HUP:
# hang-ups instead).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
ppq() { pp "$@" >/dev/null 2>&1; }
waits() ( wait_for "$@" )   # a subshell: lib.sh's check and wait_for share a variable
pub=http://$LAB_PUBLIC_IP
if lab_nft; then
	rules() { ip netns exec "$R" nft list ruleset | sed 's/counter packets [0-9]* bytes [0-9]*/counter/g'; }
else
	rules() { ip netns exec "$R" iptables-save | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//'; }
fi
same_as_a() { rules >"$pp_tmp/now" && cmp -s "$pp_tmp/state-A" "$pp_tmp/now"; }
point() { sed -i "/^\[web-1\]/,/^internal_ip/s/^internal_ip .*/internal_ip   = $1/" "$T"; }
lab_seed_table "$T"
check "a confirmed baseline" ppq apply
rules >"$pp_tmp/state-A"
point "$LAB_SRV2_IP"

# iptables-*-restore wrappers: the first commit (not --test) of an armed mode does MODE to its
# parent, the apply, just before or just after handing the ruleset to the real one. One shot:
# the mode file is taken by rename, so the rollback timer's own restore runs untouched.
bin=$pp_tmp/bin
mkdir -p "$bin"
cat >"$bin/wrap" <<EOF
#!/bin/sh
real=/usr/sbin/\$(basename "\$0")
case " \$* " in *" --test "*) exec "\$real" "\$@";; esac
mv "$pp_tmp/mode" "$pp_tmp/mode.\$\$" 2>/dev/null || exec "\$real" "\$@"
mode=\$(cat "$pp_tmp/mode.\$\$")
case \$mode in
before-kill) kill -9 \$PPID; exit 1;;
after-kill) "\$real" "\$@"; rc=\$?; kill -9 \$PPID; exit \$rc;;
after-hup) "\$real" "\$@"; rc=\$?; kill -HUP \$PPID; exit \$rc;;
fail) cat >/dev/null; echo "iptables-restore: line 2 failed" >&2; exit 1;;
esac
exec "\$real" "\$@"
EOF
chmod +x "$bin/wrap"
for v in nft legacy; do ln -s wrap "$bin/iptables-$v-restore"; done
# nftables commits in the process (libnftables): its one-shot fault file does what the wrappers do
if lab_nft; then
	wpp() { ip netns exec "$R" env PORTPILOT_NFT_FAULT_FILE="$pp_tmp/mode" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
else
	wpp() { ip netns exec "$R" env PATH="$bin:$PATH" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
fi
deadline() { sed -n 's/^deadline=//p' "$S/pending"; }
past() { [ "$(date +%s)" -ge "$1" ]; }
at_exit "kill_timer '$S' 2>/dev/null"

# 1. Killed the moment the kernel took the new ruleset.
echo after-kill >"$pp_tmp/mode"
# Deadlines leave room for the checks before them on a loaded box (ASan, 2 cores shared).
wpp apply --confirm 8 >/dev/null 2>&1
check "the apply was killed after the commit" test ! -e "$pp_tmp/mode"
check "the new rules are in force" body_is "$LAB_INET" "$pub:8080/" srv-102
check "a pending record was left" test -s "$S/pending"
pp status >"$pp_tmp/st" 2>&1
check "status says the apply did not finish and when the rules come back" \
	grep -q 'did not finish.*restores the rules from before it at' "$pp_tmp/st"
pp confirm >"$pp_tmp/cf" 2>&1; rc=$?
check "confirm of an unfinished apply is refused" test $rc = 1
check "and says why" grep -q 'did not finish' "$pp_tmp/cf"
check "the old rules are back by the deadline" waits 15 same_as_a
check "8080 reaches .101 again" body_is "$LAB_INET" "$pub:8080/" srv-101
check "nothing is left pending" waits 3 test ! -e "$S/pending"
check "status then says the timer rolled back" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -q 'rolled back: the last apply was not confirmed'"

# 2. Killed just before the commit: the kernel never changed, and the timer's rollback is a no-op.
echo before-kill >"$pp_tmp/mode"
wpp apply --confirm 2 >/dev/null 2>&1
check "killed before the commit" test ! -e "$pp_tmp/mode"
check "the rules are as before" same_as_a
check "still as before after the deadline, nothing pending" waits 8 sh -c "test ! -e '$S/pending'"
check "and the rules are unchanged" same_as_a

# 3. The session hangs up while the kernel commits: the apply finishes, the timer rolls back.
echo after-hup >"$pp_tmp/mode"
wpp apply --confirm 8 >/dev/null 2>&1
check "the hang-up came during the commit" test ! -e "$pp_tmp/mode"
# The hang-up waits until the apply has recorded what it wrote, then ends it.
new_rec='192.168.2.102:80'
lab_nft && new_rec='192.168.2.102 . 80'
check "the apply recorded the new ruleset before the hang-up ended it" grep -q "$new_rec" "$S/applied.rules"
check "the record is complete (not armed)" sh -c "! grep -q armed '$S/pending'"
check "the change is in force" body_is "$LAB_INET" "$pub:8080/" srv-102
check "the change rolls back by the deadline" waits 15 same_as_a
check "nothing is left pending after the hang-up" waits 3 test ! -e "$S/pending"

# 3b. The kernel refuses the commit: the armed rollback is disarmed, nothing is left behind.
echo fail >"$pp_tmp/mode"
wpp apply --confirm 30 >"$pp_tmp/refused" 2>&1; rc=$?
check "a refused commit fails the apply" test $rc = 1
check "and leaves no pending record" test ! -e "$S/pending"
check "nor a timer" waits 3 sh -c "! pgrep -f -- 'state-dir $S rollback [-]-timer' >/dev/null"
check "the rules are as before the refused apply" same_as_a

# 4. kill -9 at random points of apply --confirm 1: the old rules by the deadline, every time.
tries=${PP_SWEEP:-12} bad=0 i=0 hit=0
while [ $i -lt "$tries" ]; do
	i=$((i + 1))
	us=$(( $(od -An -N2 -tu2 /dev/urandom) * ${PP_SWEEP_SCALE:-4} ))   # 0 .. 262 ms into the apply by default
	# Not the pp function: backgrounded, it is a subshell, and killing that would leave the
	# apply running on its own (ip netns exec becomes portpilot, so $! is the apply itself).
	ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply --confirm 1 >/dev/null 2>&1 &
	job=$!
	sleep "$(printf '0.%06d' "$us")"
	kill -"${PP_SWEEP_SIG:-KILL}" $job 2>/dev/null
	wait $job 2>/dev/null
	[ $? -gt 128 ] && hit=$((hit + 1))   # killed while it ran (else it had finished)
	if ! ( wait_for 6 same_as_a ); then
		bad=$((bad + 1)); echo "# try $i (${us} us): the rules are not back"; diff "$pp_tmp/state-A" "$pp_tmp/now" | head -5
	fi
	# Killed before it started its timer: a record nobody acts on, which status must name.
	if [ -e "$S/pending" ] && ! ( wait_for 3 test ! -e "$S/pending" ); then
		if pp status 2>&1 | grep -q 'is gone.*not rolled back'; then ppq rollback
		else bad=$((bad + 1)); echo "# try $i: pending left and status does not say so"; fi
	fi
done
check "kill -${PP_SWEEP_SIG:-KILL} sweep: the old rules came back $((tries - bad))/$tries times ($hit killed mid-apply)" test $bad = 0

# 5. The rollback timer waits for apply.lock as long as it takes, and status says who holds it.
# From a quiet state: the sweep's last try may leave its timer finishing a rollback (it holds
# apply.lock until it has written its records), which would make this apply wait or refuse.
check "the sweep left no rollback timer running and nothing pending" waits 15 sh -c \
	"! pgrep -f -- 'state-dir $S rollback [-]-timer' >/dev/null && test ! -e '$S/pending'"
# The holder must take apply.lock before the deadline, or the timer rolls back first.
if pp apply --confirm 6 >"$pp_tmp/apply5" 2>&1; then ok "apply --confirm 6"; else
	not_ok "apply --confirm 6"; sed 's/^/#   /' "$pp_tmp/apply5"; pp status 2>&1 | sed 's/^/#   status: /'; fi
dl=$(deadline)
tpid=$(timer_pid "$S")
flock "$S/apply.lock" sh -c "echo \$\$ >'$pp_tmp/holder'; until [ -e '$pp_tmp/release' ]; do sleep 0.1; done" &
holder_job=$!
at_exit "touch '$pp_tmp/release'; wait $holder_job 2>/dev/null"
check "a process holds apply.lock" waits 3 test -s "$pp_tmp/holder"
check "a dry run does not wait for the lock" sh -c "timeout 5 ip netns exec $R $PORTPILOT -f $T --state-dir $S apply --dry-run >/dev/null 2>&1"
check "the deadline passes" waits 10 past "$((dl + 1))"
check "status says the timer waits for the lock, held by whom" \
	waits 5 sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S status 2>&1 | grep -q 'waiting to roll back: apply.lock has been held by pid [0-9]* (flock'"
pp status >/dev/null 2>&1; rc=$?
check "status exits 1 while the rollback is overdue" test $rc = 1
check "status --json names the state and the holder" sh -c \
	"ip netns exec $R $PORTPILOT -f $T --state-dir $S status --json | jq -e '.pending_confirm.state == \"waiting_for_lock\" and .pending_confirm.lock_holder > 1' >/dev/null"
# The old timer gave up after 10 s of waiting: wait beyond that (a span of time is the point here).
sleep 11
check "the timer still waits after 11 s" is_timer "$tpid"
check "the change is still in force while it waits" body_is "$LAB_INET" "$pub:8080/" srv-102
touch "$pp_tmp/release"
check "the rollback runs once the lock is free" waits 5 same_as_a
check "and clears the record" waits 3 test ! -e "$S/pending"
check "the timer is done" waits 3 timer_gone "$tpid"
pp_done
