#!/bin/sh
# make demo's fault menu, driven without a terminal: faults built, the probe's verdict shown, the
# lab restored, and nothing of the demo left behind (namespaces, processes, files, /etc/netns).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root
DEMO=$PP_TOP/tests/lab/demo.sh
# Every process the demo starts inherits this mark (only the demo gets it, not this script):
# a leftover is found by it, whatever it is.
mark=dt$$

# demo ID ARGS... < input: run the demo with lab id ID; output in $pp_tmp/ID.out, exit in $DRC.
demo() {
	_id=$1; shift
	PP_DEMO_MARK=$mark LAB_ID=$_id sh "$DEMO" "$@" >"$pp_tmp/$_id.out" 2>&1
	DRC=$?
}
has() { grep -q -- "$2" "$pp_tmp/$1.out"; }
show() { sed 's/^/#   /' "$pp_tmp/$1.out" | tail -n 40; }
# Nothing of lab ID remains: namespaces, /etc/netns entry, the demo's files, marked processes.
clean() {
	_dir=$(sed -n 's/.*files in \(\/tmp\/pp-test\.[A-Za-z0-9]*\) .*/\1/p' "$pp_tmp/$1.out")
	[ -n "$_dir" ] && [ ! -e "$_dir" ] || { echo "# left: ${_dir:-no work dir printed}"; return 1; }
	! ip netns list | grep -q "^pp-$1-" || { echo "# left: namespaces"; ip netns list | grep "^pp-$1-"; return 1; }
	[ ! -e "/etc/netns/pp-$1-router" ] || { echo "# left: /etc/netns/pp-$1-router"; return 1; }
	_left=$(grep -l "PP_DEMO_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null)
	[ -z "$_left" ] || { for _p in $_left; do echo "# left: $(tr '\0' ' ' <"${_p%environ}cmdline")"; done; return 1; }
}
# Our own leftovers, should a case fail half-way.
at_exit "for n in \$(ip netns list | awk '/^pp-(a|b|c)$$-/ { print \$1 }'); do ip netns del \$n; done"

# --fault: each fault built, the verdict named, the lab restored and healthy again.
demo a$$ --fault not_listening --fault public_ip_mismatch --fault udp_host_firewall </dev/null
check "--fault: exit 0 when every verdict names its fault" [ "$DRC" = 0 ]
check "--fault not_listening: verdict shown" has a$$ "== verdict: not_listening (the fault that was built)"
check "--fault not_listening: the probe's fix is shown" has a$$ "start the service on 192.168.2.101"
# The monitor the demo runs in the router sees the fault too, and names its cause.
check "--fault not_listening: the monitor has web-1 DOWN with its cause" has a$$ "^  web-1  *DOWN  *since .*  not_listening$"
check "--fault not_listening: the monitor's event gives cause and summary" has a$$ "its event: web-1 DOWN since [0-2][0-9]:[0-5][0-9]: not_listening: nothing listens on 192.168.2.101 "
check "--fault public_ip_mismatch: the monitor's LAN check stays up, and says why" has a$$ "^  web-1  *up  *since "
check "--fault public_ip_mismatch: verdict shown" has a$$ "== verdict: public_ip_mismatch"
check "--fault udp_host_firewall: verdict host_firewall" has a$$ "== verdict: host_firewall"
check "--fault: the lab is healthy again after each" [ "$(grep -c '^== verdict after restoring: ok$' "$pp_tmp/a$$.out")" = 3 ]
check "--fault: nothing left behind (namespaces, /etc/netns, files, processes)" clean a$$
[ $pp_failed = 0 ] || show a$$

# The menu from piped input: by number and by name, a wrong choice, then quit.
printf '6\nbogus\nwrong_protocol\nq\n' | demo b$$ faults
check "menu: lists the faults" has b$$ "upstream_blocked"
check "menu: fault 6 (forward_blocked) found" has b$$ "== verdict: forward_blocked (the fault that was built)"
check "menu: a watch fault by name found" has b$$ "== verdict: wrong_protocol (the fault that was built)"
check "menu: an unknown choice is refused" has b$$ "no fault 'bogus'"
check "menu: exit 0 and torn down" [ "$DRC" = 0 ]
check "menu: nothing left behind" clean b$$
[ $pp_failed = 0 ] || show b$$

# No terminal, no arguments: the seed example applied, traffic and status, then teardown.
demo c$$ </dev/null
check "no tty: the seed example is applied and answers" has c$$ "203.0.113.1:8080  answers: srv-101"
check "no tty: status shown, exit 0" [ "$DRC" = 0 ]
check "no tty: nothing left behind" clean c$$
[ $pp_failed = 0 ] || show c$$
demo d$$ --fault no_such_fault </dev/null
check "an unknown --fault is a usage error (exit 2)" [ "$DRC" = 2 ]
pp_done
