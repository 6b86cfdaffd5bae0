#!/bin/sh
# `make install` as a packager runs it: PREFIX and DESTDIR honoured, units point at the
# installed binary, and systemd accepts the units.
. "$PP_TOP/tests/lib.sh"
B=$(basename "$(dirname "$PORTPILOT")")
D=$pp_tmp/dest
make -s -C "$PP_TOP" B="$B" install PREFIX=/opt/pp DESTDIR="$D" >"$pp_tmp/out" 2>&1
check "install: exits 0" [ $? = 0 ]
for f in sbin/portpilot share/man/man8/portpilot.8 share/doc/portpilot/examples/seed-site.ini \
         lib/systemd/system/portpilot-restore.service lib/systemd/system/portpilot-expire.timer \
         lib/systemd/system/portpilot-expire.service lib/systemd/system/portpilot-ddns.service \
         lib/systemd/system/portpilot-log.service share/doc/portpilot/examples/portpilot.conf \
         share/bash-completion/completions/portpilot; do
	check "install: DESTDIR/PREFIX/$f" [ -s "$D/opt/pp/$f" ]
done
check "install: DESTDIR/PREFIX/lib/systemd/system/portpilot-monitor.service" \
	grep -q '^ExecStart=/opt/pp/sbin/portpilot monitor$' "$D/opt/pp/lib/systemd/system/portpilot-monitor.service"
check "install: nothing outside DESTDIR/PREFIX" [ "$(ls "$D")/$(ls "$D/opt")" = opt/pp ]
check "install: the binary runs" sh -c "'$D/opt/pp/sbin/portpilot' check --help >/dev/null"
check "install: units name the PREFIX binary, no placeholder left" sh -c \
	"grep -h '^ExecStart=' '$D'/opt/pp/lib/systemd/system/*.service | grep -v -q '^ExecStart=/opt/pp/sbin/portpilot ' && exit 1
	 ! grep -q '@SBINDIR@' '$D'/opt/pp/lib/systemd/system/*"
check "install: the installed binary names the installed example conf" sh -c \
	"'$D/opt/pp/sbin/portpilot' ddns --help | tr '\\n' ' ' | tr -s ' ' | grep -q 'example of each provider: $D/opt/pp/share/doc/portpilot/examples/portpilot.conf'"
check "install: the restore unit runs after network-pre" grep -q '^After=network-pre.target' \
	"$D/opt/pp/lib/systemd/system/portpilot-restore.service"
# systemd-analyze checks that ExecStart exists: install once more without DESTDIR into a
# private prefix so that the paths in the units are real.
if command -v systemd-analyze >/dev/null 2>&1; then
	P2=$pp_tmp/prefix
	make -s -C "$PP_TOP" B="$B" install PREFIX="$P2" >/dev/null 2>&1
	( cd "$P2/lib/systemd/system" && systemd-analyze verify --man=no ./*.service ./*.timer ) >"$pp_tmp/v" 2>&1
	check "install: systemd-analyze verify accepts every unit" [ $? = 0 ]
	[ -s "$pp_tmp/v" ] && sed 's/^/# /' "$pp_tmp/v"
fi
pp_done
