#!/bin/sh
# Reading interface addresses: getifaddrs, portpilot's own rtnetlink dump, libmnl and libnl,
# side by side, in a pp-measure-$$ namespace whose veth LAN carries A IPv6 addresses.
# Needs root, libmnl-dev, libnl-route-3-dev (portpilot itself does not link them).
# Usage, from the top of the tree after `make`: sh tools/measure/addr.sh [A] [ROUNDS]
set -eu
A=${1:-200}
R=${2:-200}
B=build
T=$(mktemp -d)
NS=pp-measure-$$
trap 'ip netns del $NS 2>/dev/null; rm -rf "$T"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags libnl-route-3.0) -o "$T/addr" \
	tools/measure/addr-bench.c -Wl,--start-group $B/libppmod.a $B/libppcore.a -Wl,--end-group \
	-liniparser -lcurl -lpcap -lssl -lcrypto -lncursesw -lnftables -lnetfilter_conntrack -lnfnetlink \
	-lmnl $(pkg-config --libs libnl-route-3.0)
ip netns add $NS
ip -n $NS link add lan0 type veth peer name lan1
ip -n $NS link set lan0 up && ip -n $NS link set lan1 up
i=1
while [ $i -le "$A" ]; do
	printf 'address add 2001:db8:1::%x/64 dev lan0 nodad\n' $i
	i=$((i + 1))
done | ip -n $NS -batch -
ip netns exec $NS "$T/addr" lan0 "$R"
for l in libmnl.so.0 libnl-3.so.200 libnl-route-3.so.200; do
	ls -lL "/usr/lib/$(gcc -dumpmachine)/$l" | awk -v l=$l '{ print l, $5, "bytes" }'
done
