#!/bin/sh
# IPv6 and port lists (issue 15): a mapping with public_port = 80,443,9000-9001 published over
# IPv6 opens a pinhole for every element (real TCP over 2001:db8::/32 from outside) and nothing
# else; a deleted element is drift; taking one element out of the list cuts only that element's
# running flows, and an unchanged NAT66 mapping (a list too) keeps its held-open TCP connection
# through that apply. Runs on the backend PP_BACKEND names (lab.sh).
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
lab6_begin

# echo6 NS NAME PORT...: a TCP line echo on [::]:PORT for each PORT, answering "NAME:PORT:LINE".
cat >"$pp_tmp/echo6.py" <<'EOF'
import socket, sys, threading
name = sys.argv[1]
def talk(c, port):
    for line in c.makefile("rb"):
        c.sendall(("%s:%d:%s\n" % (name, port, line.decode().strip())).encode())
def serve(port):
    l = socket.socket(socket.AF_INET6)
    l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("::", port)); l.listen(16)
    while True:
        c = l.accept()[0]
        threading.Thread(target=talk, args=(c, port), daemon=True).start()
for p in sys.argv[2:-1]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
serve(int(sys.argv[-1]))
EOF
# hold.py TAG,IP,PORT...: one TCP connection each, held open; sends "1", then every line of stdin,
# on each, printing "TAG REPLY" (REPLY "dead" when the connection is gone or silent for 3 s).
cat >"$pp_tmp/hold.py" <<'EOF'
import socket, sys
conns = []
for a in sys.argv[1:]:
    tag, ip, port = a.split(",")
    try:
        conns.append([tag, socket.create_connection((ip, int(port)), timeout=3)])
    except OSError:
        conns.append([tag, None])
def round(word):
    for c in conns:
        r = ""
        if c[1]:
            try:
                c[1].sendall((word + "\n").encode()); r = c[1].recv(256).decode().strip()
            except OSError:
                pass
            if not r:
                c[1].close(); c[1] = None
        print(c[0], r or "dead", flush=True)
round("1")
for line in sys.stdin:
    round(line.strip())
EOF
echo6() {
	_ns=$1 _name=$2; shift 2
	ip netns exec "$_ns" "$LAB_PY" "$pp_tmp/echo6.py" "$_name" "$@" >>"$LAB_DIR/server.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	for _p in "$@"; do wait_for 10 _lab_listening "$_ns" "$_p" || return 1; done
}
# tcp6 NS IP PORT: the reply to one line over a new connection, "dead" when none.
tcp6() { ip netns exec "$1" "$LAB_PY" "$pp_tmp/hold.py" "x,$2,$3" </dev/null | sed 's/^x //'; }
reply_is() { [ "$(tcp6 "$1" "$2" "$3")" = "$4" ]; }
closed6() { reply_is "$1" "$2" "$3" dead; }
state_is() { pp status --json 2>/dev/null | grep -q "\"name\":\"$1\",\"state\":\"$2\""; }

echo6 "$LAB_SRV1" srv1 80 443 9000 9001 9002 || { not_ok "echo servers on srv1"; pp_done; }
echo6 "$LAB_SRV2" srv2 8080 8081 || { not_ok "echo servers on srv2"; pp_done; }

# web-list: a port list as pinholes to srv1; web-66: a NAT66 list (8443,8444 -> 8080,8081) to srv2.
table() {
	{ lab6_site; cat <<EOT
[web-list]
public_port   = $1
internal_ip6  = ::1:101
ipv6          = only

[web-66]
public_port   = 8443,8444
internal_port = 8080,8081
internal_ip6  = $SRV2_6
ipv6          = only
EOT
	} >"$T"
}
table 80,443,9000-9001
check "the LAN host reaches [srv1]:9002 (the path itself works)" reply_is "$LAB_LANHOST" "$SRV1_6" 9002 srv1:9002:1
check "before apply: [srv1]:443 is closed from outside" closed6 "$LAB_INET" "$SRV1_6" 443
check "check: clean" ppq check
check "apply" ppq apply
for p in 80 443 9000 9001; do
	check "TCP from outside to [srv1]:$p, element of the list, through its pinhole" \
		reply_is "$LAB_INET" "$SRV1_6" $p "srv1:$p:1"
done
check "[srv1]:9002, outside the list, stays closed" closed6 "$LAB_INET" "$SRV1_6" 9002
check "NAT66 list: [router WAN]:8443 -> [srv2]:8080" reply_is "$LAB_INET" "$LAB_WAN6" 8443 srv2:8080:1
check "NAT66 list: [router WAN]:8444 -> [srv2]:8081" reply_is "$LAB_INET" "$LAB_WAN6" 8444 srv2:8081:1
check "status: web-list in sync" state_is web-list in_sync
check "status: web-66 in sync" state_is web-66 in_sync

# Drift: the 9000-9001 element deleted by hand.
if lab_nft; then
	ip netns exec "$R" nft delete element inet portpilot pin6 "{ ::/0 . $SRV1_6 . tcp . 9000-9001 }" 2>/dev/null
else
	rule=$(ip netns exec "$R" ip6tables -S PP-PIN | grep -- '--dport 9000:9001' | sed 's/^-A /-D /')
	[ -n "$rule" ] && eval "ip netns exec $R ip6tables $rule"
fi
check "a deleted element: [srv1]:9000 closed" closed6 "$LAB_INET" "$SRV1_6" 9000
check "a deleted element: status says web-list drifted" state_is web-list drifted
check "  and web-66 still in sync" state_is web-66 in_sync
check "apply puts it back" ppq apply
check "  [srv1]:9001 reachable again" reply_is "$LAB_INET" "$SRV1_6" 9001 srv1:9001:1
check "  status in sync" state_is web-list in_sync

# Held-open connections across an apply that takes 443 out of web-list. With loose pickup off, a
# flow whose conntrack entry was removed is dead (no mid-stream pickup), so "kept" means kept.
ip netns exec "$R" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
mkfifo "$pp_tmp/hold.in"
ip netns exec "$LAB_INET" "$LAB_PY" "$pp_tmp/hold.py" "p80,$SRV1_6,80" "p443,$SRV1_6,443" \
	"n66,$LAB_WAN6,8443" <"$pp_tmp/hold.in" >"$pp_tmp/hold.out" 2>&1 &
hold=$!
at_exit "kill $hold 2>/dev/null"
exec 3>"$pp_tmp/hold.in"
held() { grep -qx "$1" "$pp_tmp/hold.out"; }
check "held: [srv1]:80 answers" waits 10 held "p80 srv1:80:1"
check "held: [srv1]:443 answers" waits 10 held "p443 srv1:443:1"
check "held: NAT66 [router WAN]:8443 answers" waits 10 held "n66 srv2:8080:1"
table 80,9000-9001
check "apply without 443" ppq apply
echo 2 >&3
check "after the apply: the held 80 flow (element kept) still answers" waits 10 held "p80 srv1:80:2"
check "after the apply: the held 443 flow (element taken out) is cut" waits 10 held "p443 dead"
check "after the apply: the unchanged NAT66 mapping's held flow still answers" waits 10 held "n66 srv2:8080:2"
exec 3>&-
check "a new connection to [srv1]:443 is refused now" closed6 "$LAB_INET" "$SRV1_6" 443
check "  and [srv1]:80 still opens" reply_is "$LAB_INET" "$SRV1_6" 80 srv1:80:1
check "status: web-list in sync after the change" state_is web-list in_sync
check "status: web-66 in sync after the change" state_is web-66 in_sync
sed 's/^/# hold: /' "$pp_tmp/hold.out"
pp_done
