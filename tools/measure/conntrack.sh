#!/bin/sh
# The conntrack flush and listing, 72510dd (/proc text + `conntrack -D` per flow) against this
# tree (libnetfilter_conntrack), side by side in one run, inside pp-measure-$$ namespaces.
# Needs root, libnetfilter-conntrack-dev, the conntrack tool (the old code's), and an old build:
#   git archive 72510dd | tar -x -C /tmp/old && make -C /tmp/old -j2 build/portpilot
# Usage, from the top of the tree after `make`: sh tools/measure/conntrack.sh OLD-TREE [SIZES]
set -eu
OLD=$1
SIZES=${2:-"10000 50000"}
B=build
T=$(mktemp -d)
NS=pp-measure-$$
trap 'ip netns del $NS 2>/dev/null; rm -rf "$T"' EXIT
L="-liniparser -lcurl -lpcap -lssl -lcrypto -lncursesw -lnftables -lnetfilter_conntrack -lnfnetlink"
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -o "$T/new" tools/measure/ct-bench.c \
	-Wl,--start-group $B/libppmod.a $B/libppcore.a -Wl,--end-group $L
cc -O2 -std=c11 -D_GNU_SOURCE -DOLD -I"$OLD/include" -o "$T/old" tools/measure/ct-bench.c \
	-Wl,--start-group "$OLD/build/libppmod.a" "$OLD/build/libppcore.a" -Wl,--end-group $L
run() { # N K WHO WHAT: a fresh namespace with N entries, K on port 8080; time WHAT there
	ip netns del $NS 2>/dev/null || true
	ip netns add $NS
	ip netns exec $NS "$T/new" fill "$1" "$2"
	printf '%-6s %-5s N=%-6s K=%-5s ' "$3" "$4" "$1" "$2"
	ip netns exec $NS timeout 600 "$T/$3" "$4" || echo "(over 600 s)"
}
echo "# what: ms, entries (list: listed; flush: removed)"
for n in $SIZES; do
	k=$((n / 100))
	for who in old new; do run "$n" "$k" $who list; done
	for who in old new; do run "$n" "$k" $who flush; done
done
echo "# code: lines of the flush (old: backend-host.c + rules-render6.c parts; new: + conntrack.c)"
git diff --stat 72510dd -- core/backend-host.c core/rules-render6.c core/conntrack.c include/portpilot/conntrack.h | tail -1
echo "# size (text of the objects; the binary; the libraries it now loads)"
size "$OLD/build/core/backend-host.o" "$OLD/build/core/rules-render6.o" $B/core/backend-host.o \
	$B/core/rules-render6.o $B/core/conntrack.o
ls -l "$OLD/build/portpilot" $B/portpilot | awk '{ print $9, $5, "bytes" }'
for l in libnetfilter_conntrack.so.3 libnfnetlink.so.0 libmnl.so.0; do
	ls -lL "/usr/lib/$(gcc -dumpmachine)/$l" | awk -v l=$l '{ print l, $5, "bytes" }'
done
