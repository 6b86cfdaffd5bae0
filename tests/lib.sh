# Shared helpers for shell tests: results, bounded waits, temp dirs.
# Source it: . "$PP_TOP/tests/lib.sh"
: "${PP_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${PORTPILOT:=$PP_TOP/build/portpilot}"
# What [site] backend = auto (or no key) means in the suites: iptables, whose rules they read;
# PP_BACKEND=nftables runs them on the other backend (a table's own key still wins). lab.sh again.
export PORTPILOT_BACKEND="${PP_BACKEND:-iptables}"
pp_failed=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; pp_failed=1; }
# check NAME CMD...: one case, passes when CMD succeeds.
check() { _ck_name=$1; shift; if "$@"; then ok "$_ck_name"; else not_ok "$_ck_name"; fi; }
# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds; 1 on timeout.
wait_for() {
	_wf_i=0; _wf_n=$(($1 * 20)); shift
	while [ $_wf_i -lt $_wf_n ]; do "$@" && return 0; sleep 0.05; _wf_i=$((_wf_i + 1)); done
	return 1
}
pp_tmp=$(mktemp -d /tmp/pp-test.XXXXXX)
pp_exit_hooks=""
# at_exit "CMD": run CMD when the test ends, also on failure or interrupt (last added first).
at_exit() { pp_exit_hooks="$1
$pp_exit_hooks"; }
pp_cleanup() {
	trap - EXIT INT TERM HUP PIPE
	printf '%s\n' "$pp_exit_hooks" | while IFS= read -r c; do [ -n "$c" ] && eval "$c"; done
	rm -rf "$pp_tmp"
}
trap 'pp_cleanup' EXIT
trap 'pp_cleanup; exit 1' INT TERM HUP
# A reader that goes away (| head) must not leave namespaces behind: stdout is gone, clean up quietly.
trap 'exec >/dev/null 2>&1; pp_cleanup; exit 1' PIPE
# timer_pid STATE_DIR: the rollback timer's pid in the pending record, once there is one,
# and only a number above 1 ("kill 0" would signal this test's own process group).
timer_pid() { sed -n 's/^pid=\([1-9][0-9]*\)$/\1/p' "$1/pending" 2>/dev/null; }
# is_timer PID: PID is still a portpilot rollback timer (not a reused pid; a zombie is not).
is_timer() { grep -q -- --timer "/proc/$1/cmdline" 2>/dev/null; }
timer_gone() { ! is_timer "$1"; }
# kill_timer STATE_DIR: the test started the timer (through apply), so it ends it by its pid.
kill_timer() {
	_kt_pid=$(timer_pid "$1")
	[ -n "$_kt_pid" ] && kill -9 "$_kt_pid" && ( wait_for 5 timer_gone "$_kt_pid" )
}
# jqe ARGS...: jq -e that also fails on an empty file (jq 1.6 -e passes when there is no input).
jqe() { _jq=$(jq -e "$@" 2>/dev/null) && [ -n "$_jq" ]; }
pp_done() { exit $pp_failed; }
