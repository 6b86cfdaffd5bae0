#!/bin/sh
# Installs the Debian packages portpilot builds and tests with; does nothing when all are present.
set -eu
PKGS="make gcc clang pkg-config libncurses-dev libcurl4-openssl-dev libpcap-dev
libiniparser-dev libcmocka-dev libssl-dev iptables iproute2 tmux conntrack jq
python3 procps psmisc util-linux netcat-openbsd curl bind9 bind9-dnsutils tcpdump bc openssl"
# the nftables backend: libnftables to build, nft for the lab tests.
PKGS="$PKGS libnftables-dev nftables"
# the conntrack flush of changed ports (core/conntrack.c); the conntrack tool stays for the tests.
PKGS="$PKGS libnetfilter-conntrack-dev"
# its one-mapping element updates: one netlink batch through libnftnl and libmnl
PKGS="$PKGS libnftnl-dev libmnl-dev"
# make deb and its test (tests/cli/test-deb.sh): debhelper brings dpkg-dev.
PKGS="$PKGS debhelper lintian"
# The relay (tests/lab/test-relay.sh): wg, and wireguard-go where the kernel has no WireGuard.
PKGS="$PKGS wireguard-tools wireguard-go"
# clang's fuzzer runtime lives in libclang-rt-N-dev, N being the installed clang's
# major version (14 on Debian 12, 18 on Ubuntu 24.04, 19 on Debian 13).
rt_pkg() {
	v=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
	[ -n "$v" ] && echo "libclang-rt-$v-dev"
}
rt=$(rt_pkg) || true
PKGS="$PKGS $rt"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root (or: sudo apt-get install -y$missing)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Packages such as bind9 would start system services; the tests start their own
# copies inside network namespaces, so keep the host's services untouched.
prc=/usr/sbin/policy-rc.d
made_prc=""
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod +x "$prc" && made_prc=1
fi
trap '[ -n "$made_prc" ] && rm -f "$prc"' EXIT
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# On a fresh box clang came with this install: its runtime can only be named now.
if [ -z "$rt" ] && rt=$(rt_pkg); then
	apt-get install -y -qq --no-install-recommends "$rt" >/dev/null
fi
