#!/bin/sh
# examples/portpilot.conf: loads as shipped and with its examples uncommented, and names the
# same [ddns NAME] and [probe] keys as the reader (core/conf.c), the man page and ddns --help.
. "$PP_TOP/tests/lib.sh"
P=$PORTPILOT
X=$PP_TOP/examples/portpilot.conf
S=$pp_tmp/state

check "example: exists" [ -s "$X" ]
check "example: as shipped it loads (ddns status exits 0)" sh -c "$P -c $X --state-dir $S ddns status >$pp_tmp/o 2>&1"
check "example: as shipped it configures nothing" grep -q 'no \[ddns NAME\] section' "$pp_tmp/o"
check "example: as shipped every line is a comment or blank" sh -c "! grep -v '^;' $X | grep -q '[^[:space:]]'"

# Uncomment the example lines (';' directly followed by a key or a [section]); [monitor]
# stays commented: it is read by portpilot monitor, not by this build's conf reader.
sed 's/^;\([a-z[]\)/\1/' "$X" | awk '/^\[/ { m = ($0 == "[monitor]") } { print (m && /^[a-z[]/) ? ";" $0 : $0 }' >"$pp_tmp/u.conf"
check "example uncommented: every [ddns] example loads" sh -c "$P -c $pp_tmp/u.conf --state-dir $S ddns status --json >$pp_tmp/u.json 2>$pp_tmp/e"
[ -s "$pp_tmp/e" ] && sed 's/^/# /' "$pp_tmp/e"
# 6 providers, and two LAN servers' AAAA (hostid6, mapping) on nsupdate and cloudflare.
check "example uncommented: one section per provider, two for LAN servers" sh -c "[ \"\$(grep -c '^provider' $pp_tmp/u.conf)\" = 8 ] && for p in dyndns2 duckdns cloudflare custom nsupdate gandi; do grep -q \"^provider *= \$p\$\" $pp_tmp/u.conf || exit 1; done"

# Keys of each section of the example (uncommented), of the reader, of the man page.
example_keys() { awk -v want="$1" '/^\[/ { s = $0; sub(/^\[/, "", s); sub(/[ \]].*/, "", s) } s == want && /^[a-z_0-9]+ *=/ { sub(/ *=.*/, ""); print }' "$pp_tmp/u.conf" | sort -u; }
example_keys ddns >"$pp_tmp/ex-ddns"
example_keys probe >"$pp_tmp/ex-probe"
sed -n '/^static const char \*const ddns_keys\[\]/,/};/p' "$PP_TOP/ddns/conf-ddns.c" | grep -o '"[a-z_0-9]*"' | tr -d '"' | sort -u >"$pp_tmp/code-ddns"
sed -n 's/.*iniparser_getstring(d, "probe:\([a-z0-9_]*\)".*/\1/p' "$PP_TOP/core/conf.c" | sort -u >"$pp_tmp/code-probe"
man_keys() { sed -n "/$1/,/^\.PP/p" "$PP_TOP/man/portpilot.8" | grep -o '\\fB[a-z_0-9]*\\fR' | sed 's/\\fB//; s/\\fR//' | sort -u; }
man_keys '^Keys of a \\fB\[ddns' >"$pp_tmp/man-ddns"
man_keys '^Keys of \\fB\[probe\]' | grep -v -x -e reflector-ca -e portpilot >"$pp_tmp/man-probe.all"
grep -x -f "$pp_tmp/code-probe" "$pp_tmp/man-probe.all" >"$pp_tmp/man-probe"
same() { if cmp -s "$1" "$2"; then return 0; fi; diff "$1" "$2" | sed 's/^/# /'; return 1; }
check "keys: the reader knows 17 ddns keys (this test reads them right)" [ "$(wc -l <"$pp_tmp/code-ddns")" = 17 ]
check "keys: example [ddns] sections use every ddns key the reader knows, and no other" same "$pp_tmp/code-ddns" "$pp_tmp/ex-ddns"
check "keys: the man page's DDNS key list is the reader's" same "$pp_tmp/code-ddns" "$pp_tmp/man-ddns"
check "keys: example [probe] has every probe key the reader knows" same "$pp_tmp/code-probe" "$pp_tmp/ex-probe"
check "keys: the man page lists every [probe] key" same "$pp_tmp/code-probe" "$pp_tmp/man-probe"
check "keys: [monitor] placeholder lists its keys" sh -c "for k in interval fail_after recover_after hook webhook; do grep -q \"^;\$k *=\" $X || exit 1; done && grep -q 'used by .portpilot monitor' $X"
$P ddns --help >"$pp_tmp/help"
check "ddns --help names every ddns key" sh -c "while read -r k; do grep -qw \"\$k\" $pp_tmp/help || { echo \"# missing \$k\"; exit 1; }; done <$pp_tmp/code-ddns"
check "ddns --help points at the example beside the binary" sh -c "tr '\n' ' ' <$pp_tmp/help | tr -s ' ' | grep -q 'example of each provider: $(cd "$PP_TOP" && pwd -P)/examples/portpilot.conf'"
pp_done
