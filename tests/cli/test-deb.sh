#!/bin/sh
# make deb: the package builds out of the tree, holds what Debian users expect, lintian
# finds no error, and installs, runs, removes (conffiles kept) and purges (state gone).
#
# The dpkg -i / -r / -P cycle never touches this machine's root: it runs in a chroot onto
# an overlay of / whose writes land in a tmpfs, both mounted in a private mount namespace
# (unshare --mount). When the namespace's last process ends, the overlay, its dpkg
# database and every installed file are gone; nothing needs undoing, also after a crash.
# The chroot has no /run/systemd/system, so the maintainer scripts start no service.
. "$PP_TOP/tests/lib.sh"
[ "$(id -u)" = 0 ] || { echo "# skip: needs root (mount namespace, chroot)"; exit 77; }
for c in dpkg-buildpackage dh lintian unshare chroot; do
	command -v $c >/dev/null || { echo "# skip: $c missing (tools/deps.sh installs it)"; exit 77; }
done
B=$(basename "$(dirname "$PORTPILOT")")
D=$pp_tmp/deb

# -- build, out of tree ------------------------------------------------------------------
before=$(cd "$PP_TOP" && git status --porcelain 2>/dev/null)
t0=$(date +%s)
make -s -C "$PP_TOP" B="$B" deb DEB_DIR="$D" >"$pp_tmp/build.out" 2>&1
rc=$?
t1=$(date +%s)
echo "# make deb: $((t1 - t0)) s"
check "deb: make deb exits 0" [ $rc = 0 ]
[ $rc = 0 ] || { sed 's/^/# /' "$pp_tmp/build.out" | tail -n 30; pp_done; }
DEB=$(ls "$D"/portpilot_*.deb | head -n 1)
check "deb: one portpilot_VERSION_ARCH.deb" [ -f "$DEB" ]
check "deb: the work tree is as it was (built in DEB_DIR)" [ "$(cd "$PP_TOP" && git status --porcelain 2>/dev/null)" = "$before" ]

# -- payload and control -----------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $1, $NF }' >"$pp_tmp/list"
in_deb() { grep -q " \./$1\$" "$pp_tmp/list" || { echo "# not in the package: $1"; return 1; }; }
for f in usr/sbin/portpilot usr/share/man/man8/portpilot.8.gz etc/portpilot/portpilot.conf \
         usr/share/doc/portpilot/examples/seed-site.ini usr/share/doc/portpilot/examples/portpilot.conf \
         usr/share/doc/portpilot/copyright usr/share/bash-completion/completions/portpilot \
         lib/systemd/system/portpilot-restore.service lib/systemd/system/portpilot-expire.timer \
         lib/systemd/system/portpilot-expire.service lib/systemd/system/portpilot-ddns.service \
         lib/systemd/system/portpilot-log.service var/lib/portpilot/; do
	check "deb: ships $f" in_deb "$f"
done
check "deb: the binary is 0755 root" grep -q '^-rwxr-xr-x \./usr/sbin/portpilot$' "$pp_tmp/list"
check "deb: no path from the build machine" sh -c "! dpkg-deb --fsys-tarfile $DEB | tar -xO ./lib/systemd/system/portpilot-restore.service | grep -q '$PP_TOP\|/usr/local'"
check "deb: the units run /usr/sbin/portpilot" sh -c "dpkg-deb --fsys-tarfile $DEB | tar -xO ./lib/systemd/system/portpilot-ddns.service | grep -q '^ExecStart=/usr/sbin/portpilot ddns run'"
check "deb: the conffile is /etc/portpilot/portpilot.conf" [ "$(dpkg-deb -I "$DEB" conffiles)" = /etc/portpilot/portpilot.conf ]
check "deb: depends on iptables and the shared libraries (libcurl4 by name: it is loaded on first use, not linked)" sh -c "dpkg-deb -f $DEB Depends | grep -q 'iptables' && dpkg-deb -f $DEB Depends | grep -q 'libpcap' && dpkg-deb -f $DEB Depends | grep -q 'libcurl4'"

# -- lintian -----------------------------------------------------------------------------
lintian -I --tag-display-limit 0 "$DEB" >"$pp_tmp/lintian" 2>&1
grep -v 'running with root privileges' "$pp_tmp/lintian" | sed 's/^/# lintian: /'
check "deb: lintian reports no error" sh -c "! grep -q '^E:' $pp_tmp/lintian"
check "deb: lintian reports no warning" sh -c "! grep -q '^W:' $pp_tmp/lintian"

# -- install, use, remove, purge in a throwaway root -------------------------------------
O=$pp_tmp/ovl
mkdir -p "$O"
cp "$DEB" "$pp_tmp/pp.deb"
cat >"$pp_tmp/cycle.sh" <<'EOF'
# Runs inside `unshare --mount`: every mount below is private to this namespace.
set -eu
O=$1 DEB=$2
mount -t tmpfs pp-deb-test "$O"
mkdir "$O/upper" "$O/work" "$O/root"
mount -t overlay pp-deb-test -o "lowerdir=/,upperdir=$O/upper,workdir=$O/work" "$O/root"
R=$O/root
# Refuse to go on unless R really is the overlay: dpkg must never run on the real root.
[ "$(stat -f -c %T "$R")" = overlayfs ] || { echo "R not an overlay"; exit 1; }
mount -t tmpfs pp-deb-dev "$R/dev"
for d in null zero random urandom; do : >"$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
mount --bind /proc "$R/proc"
mount -t tmpfs pp-deb-run "$R/run"
mount -t tmpfs pp-deb-tmp "$R/tmp"
cp "$DEB" "$R/tmp/pp.deb"
inr() { chroot "$R" "$@"; }
say() { echo "R $1=$2"; }
st() { inr dpkg-query -W -f='${Status}' portpilot 2>/dev/null || echo none; }

inr dpkg -i /tmp/pp.deb >"$R/tmp/i.log" 2>&1 && say install 0 || { say install $?; cat "$R/tmp/i.log"; }
say status_installed "$(st)"
say version "$(inr portpilot --version)"
inr portpilot -f /usr/share/doc/portpilot/examples/seed-site.ini check >/dev/null 2>&1 && say check 0 || say check $?
inr portpilot -c /etc/portpilot/portpilot.conf ddns status >/dev/null 2>&1 && say conf 0 || say conf $?
say example "$(inr portpilot ddns --help | tr '\n' ' ' | tr -s ' ' | sed -n 's/.*a commented example of each provider: \([^ ]*\).*/\1/p')"
w=/etc/systemd/system
say restore_enabled "$([ -L $R$w/multi-user.target.wants/portpilot-restore.service ] && echo yes || echo no)"
say timer_enabled "$([ -L $R$w/timers.target.wants/portpilot-expire.timer ] && echo yes || echo no)"
say ddns_enabled "$([ -e $R$w/multi-user.target.wants/portpilot-ddns.service ] && echo yes || echo no)"
say log_enabled "$([ -e $R$w/multi-user.target.wants/portpilot-log.service ] && echo yes || echo no)"
say completion "$(inr bash --norc -c '. /usr/share/bash-completion/completions/portpilot && complete -p portpilot')"
inr portpilot init --wan eth0 --lan eth1 >/dev/null 2>&1 && say init 0 || say init $?
echo 'state' >"$R/var/lib/portpilot/ddns-home.state"
echo '; edited by the admin' >>"$R/etc/portpilot/portpilot.conf"

inr dpkg -r portpilot >"$R/tmp/r.log" 2>&1 && say remove 0 || { say remove $?; cat "$R/tmp/r.log"; }
say status_removed "$(st)"
say binary_after_remove "$([ -e $R/usr/sbin/portpilot ] && echo yes || echo no)"
say conf_after_remove "$(tail -n 1 $R/etc/portpilot/portpilot.conf 2>/dev/null)"
say table_after_remove "$([ -s $R/etc/portpilot/mappings.ini ] && echo yes || echo no)"
say state_after_remove "$(cat $R/var/lib/portpilot/ddns-home.state 2>/dev/null)"

inr dpkg -P portpilot >"$R/tmp/p.log" 2>&1 && say purge 0 || { say purge $?; cat "$R/tmp/p.log"; }
say status_purged "$(st)"
say etc_after_purge "$([ -e $R/etc/portpilot ] && echo yes || echo no)"
say state_after_purge "$([ -e $R/var/lib/portpilot ] && echo yes || echo no)"
say units_after_purge "$(ls $R/lib/systemd/system/ | grep -c portpilot || true)"
say links_after_purge "$(find $R$w -name 'portpilot*' | wc -l)"
EOF
host_status=$(dpkg-query -W -f='${Status}' portpilot 2>/dev/null || echo none)
unshare --mount --propagation private sh "$pp_tmp/cycle.sh" "$O" "$pp_tmp/pp.deb" >"$pp_tmp/cycle" 2>&1
rc=$?
grep -v '^R ' "$pp_tmp/cycle" | sed 's/^/# /'
r() { sed -n "s/^R $1=//p" "$pp_tmp/cycle"; }
is() { [ "$(r "$1")" = "$2" ] || { echo "# $1: '$(r "$1")', want '$2'"; return 1; }; }
check "cycle: ran to its end" [ $rc = 0 ]
check "install: dpkg -i exits 0" is install 0
check "install: dpkg says installed" is status_installed "install ok installed"
check "install: the installed binary runs" is version "portpilot 0.1.0"
check "install: check passes on the installed example table" is check 0
check "install: the installed conffile loads" is conf 0
check "install: ddns --help names the installed example" is example /usr/share/doc/portpilot/examples/portpilot.conf
check "install: portpilot-restore.service enabled (confirmed rules at boot)" is restore_enabled yes
check "install: portpilot-expire.timer enabled" is timer_enabled yes
check "install: portpilot-ddns.service not enabled (needs configuring)" is ddns_enabled no
check "install: portpilot-log.service not enabled (optional)" is log_enabled no
check "install: bash completion loads" is completion "complete -F _portpilot portpilot"
check "install: init writes /etc/portpilot/mappings.ini" is init 0
check "remove: dpkg -r exits 0" is remove 0
check "remove: dpkg keeps the config files" is status_removed "deinstall ok config-files"
check "remove: the binary is gone" is binary_after_remove no
check "remove: the edited conffile is kept" is conf_after_remove "; edited by the admin"
check "remove: the table is kept" is table_after_remove yes
check "remove: the state is kept" is state_after_remove state
check "purge: dpkg -P exits 0" is purge 0
check "purge: dpkg knows nothing of it" sh -c "r() { sed -n \"s/^R \$1=//p\" $pp_tmp/cycle; }; case \"\$(r status_purged)\" in none|'unknown ok not-installed'|*not-installed) exit 0;; esac; exit 1"
check "purge: /etc/portpilot is gone" is etc_after_purge no
check "purge: /var/lib/portpilot (state) is gone" is state_after_purge no
check "purge: no unit left" is units_after_purge 0
check "purge: no enablement link left" is links_after_purge 0
check "the host's dpkg database is untouched" [ "$(dpkg-query -W -f='${Status}' portpilot 2>/dev/null || echo none)" = "$host_status" ]
check "the host has no /usr/sbin/portpilot from the test" sh -c "[ -n \"\$(dpkg-query -S /usr/sbin/portpilot 2>/dev/null)\" ] || [ ! -e /usr/sbin/portpilot ]"
pp_done
