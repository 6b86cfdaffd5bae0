#!/bin/sh
# portpilot init on a router: detects WAN (default route) and LAN (private subnet), writes a
# table that check, add and apply accept, never overwrites, and says what it cannot detect.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_begin
pp() { ip netns exec "$LAB_ROUTER" "$PORTPILOT" -f "$T" --state-dir "$S" "$@"; }
has() { grep -q "^$1 *= *$2\$" "$T"; }

# umask 077 would give 0600 to a file made with the process's mode: init sets 0644 itself.
( umask 077; pp init >"$pp_tmp/out" 2>"$pp_tmp/err" )
check "init: exits 0 in the router" [ $? = 0 ]
check "init: WAN is the default route's interface" has wan_interface "$LAB_WAN_IF"
check "init: LAN is the private subnet's interface" has lan_interface "$LAB_LAN_IF"
check "init: LAN subnet detected" has lan_subnet "$LAB_LAN_SUBNET"
check "init: public_ip = auto, hairpin = yes" sh -c "grep -q '^public_ip *= auto' $T && grep -q '^hairpin *= yes' $T"
check "init: a commented example mapping inside the LAN" grep -q '^;internal_ip   = 192\.168\.2\.10$' "$T"
check "init: mode 0644 whatever the umask" [ "$(stat -c %a "$T")" = 644 ]
check "init: says what it wrote and what to run next" sh -c "grep -q 'WAN eth0, LAN eth1 192.168.2.0/24' $pp_tmp/out && grep -q 'next: .*add' $pp_tmp/out"
check "init: no temporary file left" [ "$(ls -A "$pp_tmp" | grep -c portpilot-init)" = 0 ]
pp check --json >"$pp_tmp/c.json" 2>&1
check "init: the new table has no errors in check" sh -c "[ \"\$(jq -r .errors $pp_tmp/c.json)\" = 0 ]"

cp "$T" "$pp_tmp/first"
pp init >"$pp_tmp/out" 2>"$pp_tmp/err"
check "init again: exits 2" [ $? = 2 ]
check "init again: says the file exists and is kept" grep -q 'already exists; init never overwrites' "$pp_tmp/err"
check "init again: the table is untouched" cmp -s "$T" "$pp_tmp/first"

check "add on the new table" pp add web-1 public_port=8080 internal_ip="$LAB_SRV1_IP" internal_port=80
check "apply the new table" pp apply
check "the mapping forwards from the internet" body_is "$LAB_INET" "http://$LAB_PUBLIC_IP:8080/" srv-101

# The default path: /etc/portpilot is made when missing (only inside a private mount
# namespace whose /etc is an empty copy, so the host's /etc is never touched).
host_etc=$(ls -la /etc/portpilot 2>&1)
mkdir -p "$pp_tmp/etc" && cp /etc/ld.so.cache "$pp_tmp/etc/" 2>/dev/null
ip netns exec "$LAB_ROUTER" unshare --mount sh -c \
	"mount --bind '$pp_tmp/etc' /etc && '$PORTPILOT' init >/dev/null && stat -c '%a %F' /etc/portpilot /etc/portpilot/mappings.ini" \
	>"$pp_tmp/etc.out" 2>&1
check "init: the default path creates /etc/portpilot" sh -c "[ \"\$(cat $pp_tmp/etc.out)\" = '755 directory
644 regular file' ]"
check "init: the host's /etc/portpilot is untouched" [ "$(ls -la /etc/portpilot 2>&1)" = "$host_etc" ]

check "init: a missing directory is named, exit 2" sh -c "ip netns exec $LAB_ROUTER $PORTPILOT -f $pp_tmp/nodir/m.ini init 2>$pp_tmp/e; [ \$? = 2 ] && grep -q 'the directory $pp_tmp/nodir does not exist' $pp_tmp/e"

# Another router: no default route, then several candidate LANs (all inside a namespace
# this test makes, with lab addresses only).
N=pp-$LAB_ID-init
_lab_mkns "$N"
# veth pairs inside N (this kernel may lack the dummy module); a pair is running when both
# ends are up, so down1, whose peer stays down, has no carrier.
pair() { ip -n "$N" link add "$1" type veth peer name "$1-p" && ip -n "$N" link set "$1" up &&
	{ [ "$2" = down ] || ip -n "$N" link set "$1-p" up; }; }
pair wan0 && ip -n "$N" addr add 203.0.113.5/24 dev wan0
pair port1 && ip -n "$N" addr add 192.168.2.193/26 dev port1
ip -n "$N" link add br-lan type bridge && pair lanport && ip -n "$N" link set lanport master br-lan &&
	ip -n "$N" link set br-lan up && ip -n "$N" addr add 192.168.2.1/25 dev br-lan
pair down1 down && ip -n "$N" addr add 192.168.2.129/27 dev down1
T2=$pp_tmp/two.ini
ip netns exec "$N" "$PORTPILOT" -f "$T2" init >"$pp_tmp/out" 2>"$pp_tmp/err"
check "no default route: exits 1 and asks for --wan" sh -c "[ $? = 1 ] && grep -q 'give it with --wan IF' $pp_tmp/err && ! [ -e $T2 ]"
ip -n "$N" route add default via 203.0.113.10
wait_for 5 sh -c "ip netns exec $N bridge link show dev lanport | grep -q forwarding"
ip netns exec "$N" "$PORTPILOT" -f "$T2" init >"$pp_tmp/out" 2>"$pp_tmp/err"
check "several LANs: exits 0" [ $? = 0 ]
check "several LANs: the running bridge is the LAN" sh -c "grep -q '^lan_interface = br-lan$' $T2 && grep -q '^lan_subnet    = 192.168.2.0/25$' $T2"
check "several LANs: WAN from the default route" grep -q '^wan_interface = wan0$' "$T2"
check "several LANs: the others are listed in comments" sh -c "grep -q '^;   port1 *192.168.2.192/26$' $T2 && grep -q '^;   down1 *192.168.2.128/27$' $T2"
check "several LANs: the running port before the one down" sh -c "[ \"\$(grep -n '^;   \(port1\|down1\)' $T2 | cut -d: -f1 | tr '\n' ' ')\" = \"\$(grep -n '^;   port1' $T2 | cut -d: -f1) \$(grep -n '^;   down1' $T2 | cut -d: -f1) \" ]"
rm -f "$T2"
ip netns exec "$N" "$PORTPILOT" -f "$T2" init --wan port1 --lan down1 >"$pp_tmp/out" 2>"$pp_tmp/err"
check "--wan/--lan override detection" sh -c "grep -q '^wan_interface = port1$' $T2 && grep -q '^lan_interface = down1$' $T2 && grep -q '^lan_subnet    = 192.168.2.128/27$' $T2"
check "--lan equal to the WAN is refused" sh -c "ip netns exec $N $PORTPILOT -f $pp_tmp/three.ini init --lan wan0 2>/dev/null; [ \$? = 2 ] && ! [ -e $pp_tmp/three.ini ]"
pp_done
