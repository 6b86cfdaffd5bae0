#!/bin/sh
# The conntrack flush of apply: running TCP flows of the re-targeted port are cut, those of the
# unchanged one keep going, and it needs no conntrack tool (ctnetlink; 72510dd ran `conntrack -D`
# per flow and, with the tool missing, skipped the flush in silence).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
command -v conntrack >/dev/null || { echo "# conntrack tool missing (the test reads the table with it)"; exit 77; }
lab_begin
write_table() { # WEB1_TARGET_IP
	{ lab_site_ini; cat <<EOT
[web-1]
public_port = 8080
internal_ip = $1
internal_port = 80

[web-2]
public_port = 8090
internal_ip = $LAB_SRV2_IP
internal_port = 80
EOT
	} >"$T"
}
# A PATH like the host's without conntrack: the router as a box that never installed the tool.
lab_path_without conntrack "$pp_tmp/bin"
write_table "$LAB_SRV1_IP"
check "apply" sh -c "ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/a1 2>&1"

# Two held connections to each port; on "go" each sends its GET and writes "PORT ANSWER".
ip netns exec "$LAB_INET" "$LAB_PY" -c '
import os, socket, sys, time
ip, out = sys.argv[1], sys.argv[2]
conns = []
for port in (8080, 8080, 8090, 8090):
    s = socket.create_connection((ip, port), timeout=3); conns.append((port, s))
open(out + ".open", "w").close()
end = time.time() + 60
while not os.path.exists(out + ".go") and time.time() < end: time.sleep(0.05)
for port, s in conns:
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n"); d = b""
        while True:
            b = s.recv(4096)
            if not b: break
            d += b
        d = d.decode()
        a = d.split("\r\n\r\n", 1)[1].strip() if "\r\n\r\n" in d else "cut"
    except OSError: a = "cut"
    with open(out, "a") as f: f.write("%d %s\n" % (port, a))
open(out + ".done", "w").close()' "$LAB_PUBLIC_IP" "$pp_tmp/res" 2>>"$pp_tmp/holder.err" &
hpid=$!
at_exit "kill $hpid 2>/dev/null"
waits() ( wait_for "$@" )
flows() { # PORT: established flows to the public PORT in the router's table
	ip netns exec "$R" conntrack -L -p tcp --orig-port-dst "$1" 2>/dev/null | grep -c ESTABLISHED
}
has_flows() { [ "$(flows "$1")" = "$2" ]; }
check "four TCP flows are held open" waits 10 test -e "$pp_tmp/res.open"
check "  8080: 2 established" waits 5 has_flows 8080 2
check "  8090: 2 established" waits 5 has_flows 8090 2

write_table "$LAB_SRV3_IP"
check "re-target web-1 with no conntrack tool on PATH" \
	sh -c "env PATH=$pp_tmp/bin ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/a2 2>&1"
check "apply says it removed the two flows of web-1" \
	grep -q '^conntrack: 2 running flow(s) of changed mappings removed' "$pp_tmp/a2"
check "apply gives no conntrack warning" sh -c "! grep -q '^warning:.*conntrack' $pp_tmp/a2"
check "no flow to 8080 is left in the table" has_flows 8080 0
check "both flows to 8090 are still there" has_flows 8090 2
touch "$pp_tmp/res.go"
check "the held connections report back" waits 20 test -e "$pp_tmp/res.done"
check "the cut flows to 8080 no longer reach srv-101" \
	sh -c "[ \$(grep -c '^8080 cut$' $pp_tmp/res) = 2 ]"
check "the flows to 8090 still reach srv-102 on their old connection" \
	sh -c "[ \$(grep -c '^8090 srv-102$' $pp_tmp/res) = 2 ]"
check "a new connection to 8080 reaches srv-103" body_is "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/" srv-103
[ $pp_failed = 0 ] || { cat "$pp_tmp/a2" "$pp_tmp/res" "$pp_tmp/holder.err"; } 2>/dev/null | sed 's/^/# /'
pp_done
