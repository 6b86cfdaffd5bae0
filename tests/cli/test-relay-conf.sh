#!/bin/sh
# The relay's settings without a network: edge.ini and [site] relay keys are checked with file, line,
# field and fix; the rules up would write (--dry-run) hold only what is configured; keys are 0600.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
D=$pp_tmp
K1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
K2=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=

edge() { # TEXT: write it as edge.ini, run edge up --dry-run; output in $D/out, errors in $D/err
	printf '%s\n' "$1" >"$D/edge.ini"
	$P edge up --dry-run --config "$D/edge.ini" >"$D/out" 2>"$D/err"
}
good="[edge]
interface = pp-edge
address = 10.77.0.1/24

[site a]
public_key = $K1
address = 10.77.0.2
ports = tcp/8080, udp/5005, udp/10000-10009

[site b]
public_key = $K2
address = 10.77.0.3
ports = tcp/9090"
edge "$good"
check "edge: a good edge.ini renders (exit 0)" test $? = 0
check "edge: site a's tcp 8080, udp 5005 and udp 10000-10009 go to its tunnel address" sh -c "
	grep -q -- '-p tcp -m multiport --dports 8080 .*-g PPEDGE-S0\$' '$D/out' &&
	grep -q -- '-p udp -m multiport --dports 5005,10000:10009 .*-g PPEDGE-S0\$' '$D/out' &&
	grep -q -- '-A PPEDGE-S0 -m comment --comment \"pp:a\" -j DNAT --to-destination 10.77.0.2\$' '$D/out'"
check "edge: exactly the configured ports are DNATed, nothing else (three rules, site b's 9090 to S1)" sh -c \
	"test \"\$(grep -c -- '^-A PPEDGE-PRE .*-g PPEDGE-S' '$D/out')\" = 3 && grep -q -- '-A PPEDGE-PRE .*-p tcp -m multiport --dports 9090 .*-g PPEDGE-S1\$' '$D/out'"
check "edge: the edge's own connections to the same ports take the same way (nat OUTPUT), no others" sh -c \
	"test \"\$(grep -c -- '^-A PPEDGE-OUT .*-g PPEDGE-S' '$D/out')\" = 3 && grep -q -- '-A PPEDGE-OUT .*-p tcp -m multiport --dports 9090 .*-g PPEDGE-S1\$' '$D/out' &&
	 test \"\$(grep -c -- '-g PPEDGE-S' '$D/out')\" = 6"
check "edge: no SNAT or MASQUERADE anywhere (the client's address is kept)" sh -c "! grep -Eq 'SNAT|MASQUERADE' '$D/out'"
check "edge: tunnel to tunnel is dropped before anything is accepted" sh -c \
	"grep -n -- '-A PPEDGE-FWD' '$D/out' | head -n 1 | grep -q -- '-i pp-edge -o pp-edge -j DROP'"
check "edge: other forwarding is dropped by default (no open router)" grep -q -- '-A PPEDGE-FWD -j DROP$' "$D/out"
check "edge: forged tunnel sources from outside are never DNATed" grep -q -- '-A PPEDGE-PRE -s 10.77.0.0/24 -j RETURN' "$D/out"
check "edge: no chain named PP-* in nat/filter (those are the apply engine's)" sh -c "! grep -q '^:PP-' '$D/out'"
edge "$(printf '%s\n[edge]\nforward_other = yes' "$good")"
check "edge: [edge] twice is fine, forward_other = yes leaves other forwarding alone" sh -c \
	"! grep -q -- '-A PPEDGE-FWD -j DROP$' '$D/out'"

edge "$(printf '%s\n[edge]\npublic_interface = eth0' "$good")"
check "edge: public_interface = eth0 DNATs only what arrives there" grep -q -- '-A PPEDGE-PRE ! -i eth0 -j RETURN$' "$D/out"

bad() { # NAME TEXT PATTERN: edge.ini TEXT is refused (exit 1) with a message matching PATTERN
	edge "$2"; rc=$?
	check "edge refuses $1 (exit 1)" test $rc = 1
	check "edge refuses $1: says where and what to do" grep -Eq "$3" "$D/err"
}
bad "a port of two sites" "$(printf '%s' "$good" | sed 's|tcp/9090|tcp/9000-9100, udp/5005|')" \
	"edge.ini:10: \\[site b\\] ports: udp/5005 is also \\[site a\\]'s \\(line 5\\): one public port goes to one site"
bad "one key for two sites" "$(printf '%s' "$good" | sed "s|$K2|$K1|")" \
	"edge.ini:10: \\[site b\\] has the same public_key as \\[site a\\] \\(line 5\\)"
bad "a site outside the tunnel network" "$(printf '%s' "$good" | sed 's|10.77.0.3|10.78.0.3|')" \
	"edge.ini:10: \\[site b\\] address: it must be a host of the tunnel network"
bad "the edge's own address for a site" "$(printf '%s' "$good" | sed 's|10.77.0.3|10.77.0.1|')" \
	"edge.ini:10: \\[site b\\] address"
bad "an unknown key" "$(printf '%s\nport = 1' "$good")" "edge.ini:14: \\[site b\\] has no key 'port': the keys are public_key, address, ports"
bad "a bad port" "$(printf '%s' "$good" | sed 's|tcp/9090|tcp/99999|')" \
	"edge.ini:13: \\[site b\\] ports: 'tcp/99999' is not valid: a port is a number 1-65535"
bad "a protocol other than tcp/udp" "$(printf '%s' "$good" | sed 's|tcp/9090|sctp/9090|')" "the protocol is tcp or udp"
bad "a bad key" "$(printf '%s' "$good" | sed "s|$K2|nope|")" \
	"edge.ini:11: \\[site b\\] public_key: 'nope' is not valid: write the site's public key"
bad "a site without ports" "$(printf '%s' "$good" | sed '/tcp\/9090/d')" "edge.ini:10: \\[site b\\] needs public_key, address and ports"
bad "no tunnel address" "$(printf '%s' "$good" | sed '/10.77.0.1\/24/d')" "\\[edge\\] address is missing: write the edge's tunnel address"
bad "the network address as the edge's" "$(printf '%s' "$good" | sed 's|10.77.0.1/24|10.77.0.0/24|')" \
	"\\[edge\\] address: the network's own or broadcast address is no host"
bad "an unknown section" "$(printf '%s\n[sites x]' "$good")" "edge.ini:14: unknown section \\[sites x\\]"

# The site's [site] keys.
site() { # EXTRA [site] LINES: the table in $D/t.ini
	cat >"$D/t.ini" <<EOF
[site]
wan_interface = eth0
lan_interface = eth1
lan_subnet = 192.168.2.0/24
$1

[web]
public_port = 8080
internal_ip = 192.168.2.101
internal_port = 80

[cam]
protocol = udp
public_port = 5000-5009
internal_ip = 192.168.2.102

[admin]
public_port = 2222
internal_ip = 192.168.2.103
internal_port = 22
allow = 192.168.2.0/24
EOF
}
site "relay = 198.51.100.20:51820
relay_public_key = $K1
relay_address = 10.77.0.2
relay_mappings = web, cam"
$P -f "$D/t.ini" check >"$D/out" 2>&1
check "site: a good relay passes check" test $? = 0
$P -f "$D/t.ini" relay up --dry-run >"$D/out" 2>"$D/err"
check "site: relay up --dry-run renders (exit 0)" test $? = 0
check "site: new connections from the tunnel only to the relayed ports (web tcp 8080, cam udp 5000-5009)" sh -c "
	test \"\$(grep -c -- '-g PP-RELAY-ACC' '$D/out')\" = 2 &&
	grep -q -- '-A PP-RELAY-IN -p tcp -m multiport --dports 8080 .*--ctstate NEW -g PP-RELAY-ACC' '$D/out' &&
	grep -q -- '-A PP-RELAY-IN -p udp -m multiport --dports 5000:5009 .*--ctstate NEW -g PP-RELAY-ACC' '$D/out'"
check "site: everything else from the tunnel is dropped" grep -q -- '-A PP-RELAY-IN -j DROP$' "$D/out"
check "site: packets of the other interfaces meet two rules (the tunnel's go to PP-RELAY-IN)" sh -c \
	"test \"\$(grep -c -- '^-A PP-RELAY ' '$D/out')\" = 2 && grep -q -- '^-A PP-RELAY -i pp-relay -g PP-RELAY-IN\$' '$D/out'"
check "site: replies (only) of the tunnel's connections get the fwmark" \
	grep -q -- '-A PP-RELAY -m connmark --mark 0x20000000/0x20000000 -m conntrack --ctdir REPLY -j MARK --set-xmark 0x20000000/0x20000000' "$D/out"
check "site: SYNs through the tunnel announce at most MSS 1380 (its MTU is 1420)" sh -c \
	"grep -q -- '-A PP-RELAY-MSS -i pp-relay -p tcp .*-j TCPMSS --set-mss 1380' '$D/out' &&
	 grep -q -- '-A PP-RELAY-MSS -o pp-relay -p tcp .*-j TCPMSS --set-mss 1380' '$D/out'"
# Many relayed mappings: ports merged and packed 15 to a rule, not a rule each.
awk 'BEGIN { print "[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nrelay = 198.51.100.20"
	print "relay_public_key = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nrelay_address = 10.77.0.2\n"
	for (i = 0; i < 100; i++) printf "[s%d]\npublic_port = %d\ninternal_ip = 192.168.2.10\n\n", i, 20000 + 2 * i
	for (i = 0; i < 50; i++) printf "[c%d]\npublic_port = %d\ninternal_ip = 192.168.2.11\n\n", i, 30000 + i }' >"$D/many.ini"
$P -f "$D/many.ini" relay up --dry-run >"$D/out" 2>"$D/err"
check "site: 100 sparse ports and 50 contiguous ones: 7 accept rules (15 slots each, the range packed in)" \
	test "$(grep -c -- '-g PP-RELAY-ACC' "$D/out")" = 7
check "site: the contiguous ones are one range, the sparse ones all there" sh -c \
	"grep -q -- '30000:30049' '$D/out' && test \"\$(grep -o -- '--dports [0-9,:]*' '$D/out' | sed 's/--dports //' | tr ',' '\n' | grep -c '^2')\" = 100"

sbad() { # NAME LINES PATTERN [FIX-PATTERN]
	site "$2"
	$P -f "$D/t.ini" check >"$D/out" 2>&1; rc=$?
	check "site refuses $1 (check exit 1)" test $rc = 1
	check "site refuses $1: says where and what to do" sh -c "grep -Eq \"\$1\" '$D/out' && grep -Eq \"\$2\" '$D/out'" \
		- "$3" "${4:-.}"
}
sbad "relay without its key" "relay = 198.51.100.20
relay_address = 10.77.0.2" "relay is set but relay_public_key is missing"
sbad "a bad edge key" "relay = 198.51.100.20
relay_public_key = abc
relay_address = 10.77.0.2" "t.ini:6: error: \\[site\\] relay_public_key: 'abc' is not valid" "fix: .*portpilot edge keygen"
sbad "a bad edge host" "relay = 198.51.100.20:99999
relay_public_key = $K1
relay_address = 10.77.0.2" "t.ini:5: error: \\[site\\] relay: '198.51.100.20:99999'" "fix: write the edge host and its WireGuard port"
sbad "a mapping name that is not there" "relay = 198.51.100.20
relay_public_key = $K1
relay_address = 10.77.0.2
relay_mappings = web, wbe" "relay_mappings: no mapping is named 'wbe'"
sbad "relay = yes (no edge named)" "relay = yes
relay_public_key = $K1
relay_address = 10.77.0.2" "t.ini:5: error: \\[site\\] relay: 'yes'" "write the edge host"
sbad "the WAN interface as the tunnel's name (relay down would delete it)" "relay = 198.51.100.20
relay_public_key = $K1
relay_address = 10.77.0.2
relay_interface = eth0" "relay_interface: 'eth0' is the wan_interface: the tunnel needs a name of its own"
site "relay = no"
$P -f "$D/t.ini" apply --dry-run >"$D/out" 2>&1
check "site: relay = no renders no tunnel rule" sh -c "! grep -q pp-relay '$D/out'"

# Keys: 0600, public half only; a key others can read is refused.
pub=$($P --state-dir "$D/st" relay keygen)
check "keygen: a 0600 key file in a 0700 state dir" sh -c \
	"test \"\$(stat -c %a '$D/st/relay.key')\" = 600 && test \"\$(stat -c %a '$D/st')\" = 700"
check "keygen: prints a public key, not the file's" sh -c \
	"echo '$pub' | grep -Eq '^[A-Za-z0-9+/]{43}=\$' && ! grep -qF '$pub' '$D/st/relay.key'"
if command -v wg >/dev/null; then
	check "keygen: the public key is the private key's (wg pubkey agrees)" test "$pub" = "$(wg pubkey <"$D/st/relay.key")"
fi
chmod 644 "$D/st/relay.key"
$P --state-dir "$D/st" relay keygen >"$D/out" 2>"$D/err"; rc=$?
check "keygen: a key others may read is refused" sh -c "test $rc = 1 && grep -q 'chmod 600' '$D/err' && ! test -s '$D/out'"
jqf() { jq -e "$1" "$2" >/dev/null; }
# --json: keygen says the public key (only), an edge error is an object naming no table.
$P --json --state-dir "$D/j" edge keygen >"$D/out"
check "--json edge keygen: public key, created, the key file" jqf \
	'(.public_key | test("^[A-Za-z0-9+/]{43}=$")) and .created == true and (.key_file | endswith("/edge.key")) and (keys | length == 3)' "$D/out"
$P --json edge status --config "$D/nope.ini" >"$D/out" 2>/dev/null
check "--json edge with a missing edge.ini: an error object without the table's file" jqf \
	'(.error | test("nope.ini: cannot read")) and .exit_code == 1 and (has("file") | not)' "$D/out"
pp_done
