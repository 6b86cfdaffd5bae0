#!/bin/sh
# The seed site's forwarding suite again on a router whose system iptables is the legacy
# variant (xtables-legacy): portpilot must detect it from the PATH and drive it alike.
# The namespaces' legacy tables are their own: nothing of the host's is touched.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
command -v iptables-legacy-restore >/dev/null 2>&1 || { echo "# skip: iptables-legacy is not installed"; exit 77; }
bin=$pp_tmp/bin
mkdir -p "$bin"
for t in iptables iptables-save iptables-restore; do
	ln -s "$(command -v "${t%%-*}-legacy${t#iptables}")" "$bin/$t"
done
check "the shim makes iptables the legacy variant" sh -c "PATH=$bin:\$PATH iptables -V | grep -q legacy"
PATH=$bin:$PATH sh "$PP_TOP/tests/lab/test-forward.sh" >"$pp_tmp/out" 2>&1
rc=$?
sed 's/^ok - /ok - legacy: /; s/^not ok - /not ok - legacy: /' "$pp_tmp/out"
[ $rc = 77 ] && exit 77
check "legacy: the forwarding suite exits 0" [ $rc = 0 ]
check "legacy: it really ran (more than 20 cases)" [ "$(grep -c '^ok ' "$pp_tmp/out")" -gt 20 ]
pp_done
