#!/bin/sh
# The nftables backend's whole-table transaction as one netlink batch (core/nft-batch.c, issue 12):
# a layout change with counted IPv4 and IPv6 connections goes through the batch (PORTPILOT_NFT_BATCH=only
# fails what it does not take) and leaves the table byte for byte as libnftables leaves it from the
# same start (PORTPILOT_NFT_BATCH=off): elements, their comments, their carried counters, the IPv6
# sets. A batch the kernel refuses (PORTPILOT_NFT_FAULT=batch) changes nothing; a rollback (a
# restore of the snapshot listing, also a whole table) goes through the batch too.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
PP_BACKEND=nftables   # lab.sh: what auto means here
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/lab/lab6.sh"
command -v nft >/dev/null || { echo "# nft missing (tools/deps.sh installs nftables)"; exit 77; }
lab6_begin outside2
pub=http://$LAB_PUBLIC_IP
lab6_serve "$LAB_SRV1" 8080 srv-101-v6
listing() { ip netns exec "$R" nft list table inet portpilot; }
# the JSON listing without handles (a new table's handles differ from run to run)
listing_json() { ip netns exec "$R" nft -j list table inet portpilot | sed 's/"handle": *[0-9]*//g'; }
# write_table EXTRA: the site and its mappings, EXTRA (a mapping) appended
write_table() {
	{ lab6_site "hairpin       = yes"; cat <<EOT
[web-6]
protocol = both
public_port = 8080
internal_ip = $LAB_SRV1_IP
internal_ip6 = ::1:101

[web-2]
public_port = 8090
internal_ip = $LAB_SRV2_IP
internal_port = 80

[only-inet]
public_port = 8091
internal_ip = $LAB_SRV3_IP
internal_port = 80
allow = $LAB_INET_IP/32

[range]
protocol = both
public_port = 7000-7009
internal_ip = $LAB_SRV2_IP
internal_port = 20000-20009
masquerade = yes
$1
EOT
	} >"$T"
}

write_table ""
check "apply (a new table: the batch takes it)" sh -c "PORTPILOT_NFT_BATCH=only ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/a1 2>&1"
check "tcp: 8090 reaches srv-102" body_is "$LAB_INET" "$pub:8090/" srv-102
check "IPv6: TCP through web-6's pinhole" sh -c "[ \"\$(ip netns exec $LAB_INET curl -s --max-time 3 http://[$SRV1_6]:8080/)\" = srv-101-v6 ]"
for k in 1 2 3; do lab_http "$LAB_INET" "$pub:8090/" >/dev/null; done
ctr() { listing | grep -F "$1" | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | head -n 1; }
c90=$(ctr 'tcp . 8090 ')
c6=$(listing | sed -n '/set pin6/,/^	}/p' | grep -F "$SRV1_6 . tcp . 8080" | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
check "dnat_to counts 8090's connections (>= 4)" test "${c90:-0}" -ge 4
check "pin6 counts web-6's IPv6 connection (>= 1)" test "${c6:-0}" -ge 1
listing >"$pp_tmp/l0"
cp -r "$S" "$pp_tmp/s0"

# A layout change (hairpin = no on a hairpin site adds hairpin_off and its rule): a whole table.
write_table "
[no-hp]
public_port = 8092
internal_ip = $LAB_SRV3_IP
internal_port = 80
hairpin = no"
PORTPILOT_NFT_FAULT=batch ip netns exec "$R" "$PORTPILOT" -f "$T" --state-dir "$S" apply >"$pp_tmp/af" 2>&1
rc=$?
check "a batch the kernel refuses fails the apply" test $rc -ne 0
check "  and leaves the old table as it was (counters too)" sh -c "listing() { ip netns exec $R nft list table inet portpilot; }; listing | cmp -s - $pp_tmp/l0"
check "  and no hairpin_off set" sh -c "! ip netns exec $R nft list table inet portpilot | grep -q hairpin_off"
rm -rf "$S" && cp -r "$pp_tmp/s0" "$S"
check "the layout change through the batch" sh -c "PORTPILOT_NFT_BATCH=only ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >$pp_tmp/a2 2>&1"
check "  it replaced the table whole" grep -q 'the table is replaced whole' "$pp_tmp/a2"
listing >"$pp_tmp/l1"
listing_json >"$pp_tmp/j1"
check "  hairpin_off is there" grep -q 'set hairpin_off' "$pp_tmp/l1"
check "  8090's counter carried" grep -q "tcp . 8090 counter packets $c90 bytes [1-9][0-9]* comment \"pp:web-2\" : $LAB_SRV2_IP . 80" "$pp_tmp/l1"
check "  pin6's counter carried" sh -c "grep -F '$SRV1_6 . tcp . 8080' $pp_tmp/l1 | grep -q 'counter packets $c6 '"
check "  every dnat_to element has its comment" sh -c "[ \$(sed -n '/map dnat_to/,/^	}/p' $pp_tmp/l1 | grep -c ' : [0-9]') = \$(sed -n '/map dnat_to/,/^	}/p' $pp_tmp/l1 | grep -c 'comment \"pp:') ]"
check "  dnat_to holds all 25 ports" test "$(sed -n '/map dnat_to/,/^	}/p' "$pp_tmp/l1" | grep -c ' : [0-9]')" = 25

# The same change from the same start through libnftables: the same table.
ip netns exec "$R" nft -f - <<EOF
table inet portpilot
delete table inet portpilot
$(cat "$pp_tmp/l0")
EOF
rm -rf "$S" && cp -r "$pp_tmp/s0" "$S"
check "the same change through libnftables" sh -c "PORTPILOT_NFT_BATCH=off ip netns exec $R $PORTPILOT -f $T --state-dir $S apply >/dev/null 2>&1"
listing >"$pp_tmp/l2"
listing_json >"$pp_tmp/j2"
check "  the listing is the batch's, byte for byte" cmp -s "$pp_tmp/l1" "$pp_tmp/l2"
check "  and so is nft -j list (handles aside)" cmp -s "$pp_tmp/j1" "$pp_tmp/j2"
check "status: in sync" ppq status
check "tcp: 8090 still reaches srv-102" body_is "$LAB_INET" "$pub:8090/" srv-102
check "IPv6: the pinhole still works" sh -c "[ \"\$(ip netns exec $LAB_INET curl -s --max-time 3 http://[$SRV1_6]:8080/)\" = srv-101-v6 ]"

# Rollback: the snapshot listing (a whole table) through the batch.
check "rollback through the batch" sh -c "PORTPILOT_NFT_BATCH=only ip netns exec $R $PORTPILOT -f $T --state-dir $S rollback >$pp_tmp/rb 2>&1"
check "  hairpin_off is gone again" sh -c "! ip netns exec $R nft list table inet portpilot | grep -q hairpin_off"
check "  8090's element is back with its comment and a counter at least the old one" sh -c "
	n=\$(ip netns exec $R nft list table inet portpilot | grep -F 'tcp . 8090 ' | sed -n 's/.*counter packets \([0-9]*\) .*comment \"pp:web-2\".*/\1/p'); [ \"\${n:-0}\" -ge $c90 ]"
pp_done
