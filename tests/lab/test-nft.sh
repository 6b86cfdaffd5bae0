#!/bin/sh
# The nftables backend with real traffic: table inet portpilot, maps, allow sets, hairpin, masquerade,
# counters, a one-mapping change as element updates only, other tables left alone, forward blockers.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
PP_BACKEND=nftables   # lab.sh: what auto means here
. "$PP_TOP/tests/lab/lab.sh"
command -v nft >/dev/null || { echo "# nft missing (tools/deps.sh installs nftables)"; exit 77; }
lab_begin udp outside2
pp() { ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
pub=http://$LAB_PUBLIC_IP
waits() ( wait_for "$@" )
write_table() { # WEB2_TARGET_IP
	cat >"$T" <<EOT
[site]
wan_interface = $LAB_WAN_IF
lan_interface = $LAB_LAN_IF
lan_subnet = $LAB_LAN_SUBNET
hairpin = yes

[web-1]
public_port = 8080
internal_ip = $LAB_SRV1_IP
internal_port = 80

[web-2]
public_port = 8090
internal_ip = $1
internal_port = 80

[only-inet]
public_port = 8091
internal_ip = $LAB_SRV3_IP
internal_port = 80
allow = $LAB_INET_IP/32

[stream]
protocol = udp
public_port = 6000
internal_ip = $LAB_SRV2_IP
internal_port = $LAB_UDP_PORT

[range]
protocol = both
public_port = 7000-7009
internal_ip = $LAB_SRV2_IP
internal_port = 20000-20009

[masq]
public_port = 7100
internal_ip = $LAB_SRV3_IP
internal_port = 7101
masquerade = yes

[plain]
public_port = 7200
internal_ip = $LAB_SRV3_IP
internal_port = 7101
EOT
}
# peer_seen NS PORT: a TCP listener in NS that answers each client with the client's address.
peer_seen() {
	ip netns exec "$1" "$LAB_PY" -c '
import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4)
while True:
    c, a = s.accept(); c.sendall(a[0].encode()); c.close()' "$2" >/dev/null 2>&1 &
	echo $! >>"$LAB_DIR/pids"
	wait_for 5 _lab_listening "$1" "$2"
}
said() { [ "$(ip netns exec "$1" curl -s --http0.9 --max-time 2 "$2")" = "$3" ]; }
lab_serve "$LAB_SRV2" 20003 range-20003
lab_serve "$LAB_SRV2" 20009 range-20009
peer_seen "$LAB_SRV3" 7101

# Another tool's table: it must come through every apply byte for byte.
ip netns exec "$R" nft -f - <<'EOF'
table ip othertool {
	set keep { type ipv4_addr; elements = { 198.51.100.99 } }
	chain pre {
		type nat hook prerouting priority dstnat - 10; policy accept;
		ip saddr @keep counter
	}
}
EOF
ip netns exec "$R" nft list table ip othertool >"$pp_tmp/other.before"
check "another tool's table is there to start with" grep -q 'ip saddr @keep' "$pp_tmp/other.before"

write_table "$LAB_SRV2_IP"
check "apply writes the whole table" sh -c "$(command -v ip) netns exec $R $PORTPILOT -f $T nft apply >$pp_tmp/a1 2>&1 && grep -q '^whole table' $pp_tmp/a1"
check "the table is inet portpilot" sh -c "ip netns exec $R nft list tables | grep -qx 'table inet portpilot'"
check "read back, the live table is what was rendered (no drift)" sh -c "ip netns exec $R $PORTPILOT -f $T nft apply | grep -qx 'nothing to change'"
check "tcp: 8080 reaches srv-101" body_is "$LAB_INET" "$pub:8080/" srv-101
check "tcp: 8090 reaches srv-102" body_is "$LAB_INET" "$pub:8090/" srv-102
check "udp: a datagram goes in and the answer comes back" \
	sh -c "[ \"\$(. $PP_TOP/tests/lab/lab.sh; lab_udp $LAB_INET $LAB_PUBLIC_IP 6000 ping)\" = 'srv-102 ping' ]"
check "allow: the listed outside host gets in" body_is "$LAB_INET" "$pub:8091/" srv-103
check "allow: another outside host does not" no_answer "$LAB_INET2" "$pub:8091/"
check "allow: the other host still reaches an open mapping" body_is "$LAB_INET2" "$pub:8080/" srv-101
check "range: 7003 lands on 20003" body_is "$LAB_INET" "$pub:7003/" range-20003
check "range: 7009 lands on 20009" body_is "$LAB_INET" "$pub:7009/" range-20009
check "range: 7010 is outside the range" no_answer "$LAB_INET" "$pub:7010/"
check "hairpin: a LAN client reaches the public address" body_is "$LAB_LANHOST" "$pub:8080/" srv-101
check "hairpin: even with an allow list (the LAN stays admitted)" body_is "$LAB_LANHOST" "$pub:8091/" srv-103
check "the router itself reaches a mapping (nat output)" body_is "$R" "$pub:8090/" srv-102
check "masquerade = yes: the server sees the router's LAN address" said "$LAB_INET" "$pub:7100/" "$LAB_LAN_IP"
check "the same server port by another mapping without masquerade sees the client" said "$LAB_INET" "$pub:7200/" "$LAB_INET_IP"

# Counters: one named counter per mapping, counting new connections.
for k in 1 2 3; do lab_http "$LAB_INET" "$pub:8090/" >/dev/null; done
count() { pp nft counters | awk -v m="$1" '$1 == m { print $2 }'; }
c2=$(count web-2)
check "counter: web-2 counted its connections (>= 4: 1 + 3 + the router's)" test "${c2:-0}" -ge 4
c1=$(count web-1)

# One changed mapping: element updates, nothing else rewritten (handles of table, chains, rules,
# counters, sets unchanged), and nft monitor sees element and counter events only.
handles() { ip netns exec "$R" nft -a list table inet portpilot | grep -o '# handle [0-9]*' | sort; }
# rules and objects with their handles, without the elements (which change) and counters values
shape() { ip netns exec "$R" nft -a list table inet portpilot | grep -E '^	(	[a-z]|[a-z])' | grep -v -E 'elements|packets|^			'; }
shape >"$pp_tmp/shape.before"
ip netns exec "$R" nft monitor >"$pp_tmp/monitor" 2>&1 &
mpid=$!
echo $mpid >>"$LAB_DIR/pids"
sleep 0.3 # nft monitor has no ready signal; its subscription happens at start
write_table "$LAB_SRV3_IP"
check "a one-mapping change is an element update" sh -c "ip netns exec $R $PORTPILOT -f $T nft apply >$pp_tmp/a2 2>&1 && grep -qx 'element update: 1 element(s) added, 1 deleted' $pp_tmp/a2"
shape >"$pp_tmp/shape.after"
check "table, chains, rules and sets keep their handles" cmp -s "$pp_tmp/shape.before" "$pp_tmp/shape.after"
moni() { grep -q 'element inet portpilot dnat_to' "$pp_tmp/monitor"; }
check "nft monitor saw the element events" waits 3 moni
kill $mpid 2>/dev/null
check "nft monitor saw no table, chain or rule event" sh -c "! grep -E '^(add|delete) (table|chain|rule|set|map) ' $pp_tmp/monitor"
check "after the change 8090 reaches srv-103" body_is "$LAB_INET" "$pub:8090/" srv-103
check "the other mappings still work" body_is "$LAB_INET" "$pub:8080/" srv-101
check "web-1's counter survived the change" test "$(count web-1)" -ge "${c1:-1}"
check "web-2's counter survived its own change" test "$(count web-2)" -ge "$c2"

# A renamed mapping: its element is replaced (the comment carries the name), its count carried over.
sed -i 's/^\[web-2\]$/[web-9]/' "$T"
check "rename: one element replaced" sh -c "ip netns exec $R $PORTPILOT -f $T nft apply | grep -qx 'element update: 1 element(s) added, 1 deleted'"
check "rename: the element carries the new name" sh -c "ip netns exec $R nft list map inet portpilot dnat_to | grep -q 'tcp . 8090 counter packets [1-9][0-9]* bytes [0-9]* comment \"pp:web-9\"'"
check "rename: the new name has the old count" test "$(count web-9)" -ge "$c2"
# A mapping deleted: its elements go, the others stay.
sed -i 's/^\[range\]$/[range]\nenabled = no/' "$T"
check "disable: 20 element(s) deleted" sh -c "ip netns exec $R $PORTPILOT -f $T nft apply | grep -qx 'element update: 0 element(s) added, 20 deleted'"
check "disable: the range no longer answers" no_answer "$LAB_INET" "$pub:7003/"

# The layout changes (hairpin off): the whole table again, counters carried over.
c1=$(count web-1)
sed -i 's/^hairpin = yes$/hairpin = no/' "$T"
check "a layout change replaces the whole table" sh -c "ip netns exec $R $PORTPILOT -f $T nft apply | grep -q '^whole table'"
check "hairpin off: the LAN client no longer reaches the public address" no_answer "$LAB_LANHOST" "$pub:8080/"
check "the counters were carried over the replacement" test "$(count web-1)" -ge "$c1"
ip netns exec "$R" nft list table ip othertool >"$pp_tmp/other.after"
check "another tool's table is untouched" cmp -s "$pp_tmp/other.before" "$pp_tmp/other.after"

# Coexistence: a drop in another table's forward base chain still drops what portpilot accepts.
ip netns exec "$R" nft -f - <<'EOF'
table ip filter {
	chain FORWARD { type filter hook forward priority filter; policy drop; }
	chain DOCKER-USER { }
}
EOF
check "a foreign forward policy drop blocks the mapping" no_answer "$LAB_INET" "$pub:8080/"
check "blockers: the chain is named, with its policy" sh -c "ip netns exec $R $PORTPILOT nft blockers | grep -q '^ip filter FORWARD: forward hook, priority 0, policy drop, 0 drop rule(s): iptables-nft.s FORWARD (Docker.s)'"
check "blockers: portpilot's own forward chain is not one" sh -c "! ip netns exec $R $PORTPILOT nft blockers | grep -q '^inet portpilot'"
ip netns exec "$R" nft delete table ip filter

# Through the engine: portpilot apply / status on the nftables backend.
eng() { ip netns exec "$R" env PORTPILOT_BACKEND=nftables "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
st_has() { eng status 2>&1 | grep -qF -- "$1"; }
clean() { eng status >/dev/null 2>&1 && eng status --json | grep -qF '"ruleset":"in_sync","ruleset_drift":[],"orphans":[]'; }
check "engine: apply" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/e1 2>&1"
check "engine: apply names the backend" grep -q '^backend: nftables' "$pp_tmp/e1"
check "engine: status clean" clean
h=$(ip netns exec "$R" nft -a list chain inet portpilot forward | sed -n 's/.*ct status dnat accept # handle \([0-9]*\)$/\1/p')
ip netns exec "$R" nft delete rule inet portpilot forward handle "$h"
check "a rule deleted by hand is ruleset drift" st_has "ruleset drifted"
check "naming it" st_has "table inet portpilot: missing chain forward: ct mark & 0x10000000 == 0x10000000 ct status dnat accept"
check "status exits 1" sh -c "! ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S status >/dev/null 2>&1"
check "apply repairs it" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
check "status clean again" clean
ip netns exec "$R" nft delete element inet portpilot dnat_to '{ tcp . 8080 }'
ip netns exec "$R" nft add element inet portpilot dnat_to '{ tcp . 8080 comment "pp:web-1" : 192.168.2.103 . 80 }'
ip netns exec "$R" nft add element inet portpilot dnat_to '{ tcp . 5555 comment "pp:gone" : 192.168.2.50 . 22 }'
check "an element edited by hand: its mapping drifted" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S status | grep -q '^web-1  *drifted '"
check "an element of no mapping: an orphan" st_has "orphan: gone has rules in the kernel but no section in the table"
check "dry run: the diff shows the mapping's elements" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S apply --dry-run 2>&1 | grep -A2 '^~ web-1' | grep -q '^    + dnat_to: tcp . 8080 comment \"pp:web-1\" : 192.168.2.101 . 80'"
check "dry run: nothing changed" sh -c "ip netns exec $R nft list map inet portpilot dnat_to | grep -q '5555'"
check "apply repairs the element and removes the orphan" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1 && ! ip netns exec $R nft list map inet portpilot dnat_to | grep -q 5555"
check "and 8080 reaches srv-101 again" body_is "$LAB_INET" "$pub:8080/" srv-101
check "status clean after the repair" clean

# Another table's DNAT that runs before portpilot's (priority below dstnat - 1): shadowed.
ip netns exec "$R" nft -f - <<'EOF2'
table ip early {
	chain pre {
		type nat hook prerouting priority -150; policy accept;
		tcp dport 8080 dnat to 192.168.2.103:80
	}
}
EOF2
check "a foreign DNAT ahead takes the port (srv-103 answers)" body_is "$LAB_INET" "$pub:8080/" srv-103
check "status: web-1 shadowed" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S status | grep -q '^web-1  *shadowed '"
check "naming the rule and where it sends the traffic" st_has 'ip early pre: "tcp dport 8080 dnat to 192.168.2.103:80" sends it to 192.168.2.103:80'
ip netns exec "$R" nft delete table ip early
# A DNAT at dstnat (iptables-nft's nat PREROUTING) runs after portpilot's: not in its way.
ip netns exec "$R" iptables -t nat -I PREROUTING 1 -p tcp --dport 8080 -j DNAT --to-destination "$LAB_SRV3_IP:80"
check "iptables-nft's DNAT at dstnat does not take portpilot's port" body_is "$LAB_INET" "$pub:8080/" srv-101
check "status: not shadowed by it" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S status | grep -q '^web-1  *in_sync '"
ip netns exec "$R" iptables -t nat -D PREROUTING 1
# A reject in another table's forward chain: blocked, and it does block.
ip netns exec "$R" iptables -I FORWARD 1 -d "$LAB_SRV1_IP" -p tcp --dport 80 -j REJECT
check "a foreign REJECT on the forward hook blocks the mapping" no_answer "$LAB_INET" "$pub:8080/"
check "status: web-1 blocked, naming the rule" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S status | grep -A1 '^web-1  *blocked ' | grep -q 'ip filter FORWARD: \"ip daddr 192.168.2.101 tcp dport 80 counter reject\"'"
check "status: web-2 is not" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S status | grep -q '^web-9  *in_sync '"
ip netns exec "$R" iptables -D FORWARD 1

# Docker (through iptables-nft): FORWARD policy drop, DOCKER-USER consulted first.
ip netns exec "$R" iptables -N DOCKER-USER
ip netns exec "$R" iptables -A DOCKER-USER -j RETURN
ip netns exec "$R" iptables -A FORWARD -j DOCKER-USER
ip netns exec "$R" iptables -P FORWARD DROP
check "Docker's policy drop blocks what portpilot's table accepts" no_answer "$LAB_INET" "$pub:8080/"
check "status says blocked by the policy" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S status | grep -A1 '^web-1  *blocked ' | grep -q 'FORWARD: \"policy drop\"'"
check "apply handles it through DOCKER-USER, and says so" sh -c "ip netns exec $R env PORTPILOT_BACKEND=nftables $PORTPILOT -f $T --state-dir $S apply 2>&1 | grep -q 'the apply puts an accept for portpilot.s flows at its top and into DOCKER-USER'"
check "the accept is in DOCKER-USER (iptables-nft's form: iptables still reads the table)" sh -c "ip netns exec $R iptables -S DOCKER-USER | grep -q -- '--ctstate DNAT -m comment --comment .*pp:forward.* -j ACCEPT'"
check "and at the top of FORWARD, as the iptables backend's hook" sh -c "ip netns exec $R iptables -S FORWARD | grep -m1 -- '^-A FORWARD' | grep -q 'pp:forward.* -j ACCEPT'"
check "mappings work again next to Docker's policy" body_is "$LAB_INET" "$pub:8080/" srv-101
check "status: in_sync, not blocked" clean
# Back to no table: portpilot's accepts leave iptables-nft's chains too.
printf '[site]\nwan_interface = eth0\nlan_interface = eth1\n' >"$pp_tmp/none.ini"
ip netns exec "$R" env PORTPILOT_BACKEND=iptables "$PORTPILOT" -f "$pp_tmp/none.ini" --state-dir "$S" apply >"$pp_tmp/sw" 2>&1
check "switching to iptables removes table inet portpilot" sh -c "! ip netns exec $R nft list tables | grep -q 'inet portpilot$'"
check "and portpilot's accepts from FORWARD and DOCKER-USER" sh -c "! ip netns exec $R iptables -S | grep -q 'pp:forward'"
pp_done
