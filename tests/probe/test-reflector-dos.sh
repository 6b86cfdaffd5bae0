#!/bin/sh
# The reflector under attack from one address (the router, 203.0.113.1): a slow-client attack
# and a flood, over HTTP and HTTPS, while an honest client at 198.51.100.10 (inet2) asks N
# times. Its answer rate must stay >= 95% of the rate it got without the attack in this run.
# Also: one trickling connection is cut within 4 s, and the server runs without root.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
lab_need_root

# Bad options: refused before binding, with the fix.
refl_err() { "$PORTPILOT" reflector --listen 127.0.0.1:1 "$@" >/dev/null 2>"$pp_tmp/err"; }
refl_err --user no-such-user-pp
check "--user of no account: refused, named" \
	sh -c "[ $? -ne 0 ] && grep -q -- '--user no-such-user-pp: no such account' '$pp_tmp/err' && ! grep -q listening '$pp_tmp/err'"
refl_err --user root
check "--user root: refused (root's uid)" \
	sh -c "[ $? -ne 0 ] && grep -q -- \"--user root: that account has root's uid\" '$pp_tmp/err'"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTPILOT" reflector --listen 127.0.0.1:1 \
	--user nobody >/dev/null 2>"$pp_tmp/err"
check "--user when not root: refused (only root can change user)" \
	sh -c "[ $? -ne 0 ] && grep -q 'only root can change user' '$pp_tmp/err'"
refl_err --max-conns 5000
check "--max-conns 5000: refused" sh -c "[ $? -ne 0 ] && grep -q -- '--max-conns 5000: at most 4096' '$pp_tmp/err'"

lab_up outside2 || { not_ok "lab up"; pp_done; }
ATTACK="$PP_TOP/tests/probe/reflector-attack.py"
N=${PP_DOS_N:-40}     # honest requests per phase

ssl() { openssl "$@" >>"$pp_tmp/openssl.log" 2>&1; }
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
# shellcheck disable=SC2086
ssl req -x509 $ec -keyout "$pp_tmp/ca.key" -out "$pp_tmp/ca.pem" -subj /CN=pp-test-ca &&
	ssl req $ec -keyout "$pp_tmp/srv.key" -out "$pp_tmp/srv.csr" -subj "/CN=$LAB_INET_IP" &&
	printf 'subjectAltName=IP:%s\n' "$LAB_INET_IP" >"$pp_tmp/san.ext" &&
	ssl x509 -req -in "$pp_tmp/srv.csr" -CA "$pp_tmp/ca.pem" -CAkey "$pp_tmp/ca.key" \
		-CAcreateserial -days 1 -extfile "$pp_tmp/san.ext" -out "$pp_tmp/srv.pem" ||
	{ not_ok "openssl: test certificates"; pp_done; }
chmod 600 "$pp_tmp/srv.key"

# --rate 400: the honest client's 3*N requests a phase set stay under it, the attackers go over.
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9443" --rate 400 \
	>"$pp_tmp/http.log" 2>&1 &
hpid=$!
at_exit "kill $hpid 2>/dev/null"
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9444" --rate 400 \
	--cert "$pp_tmp/srv.pem" --key "$pp_tmp/srv.key" >"$pp_tmp/https.log" 2>&1 &
spid=$!
at_exit "kill $spid 2>/dev/null"
listening() { lab_ns "$LAB_INET" ss -Hlnt "sport = :$1" | grep -q LISTEN; }
wait_for 10 listening 9443 && wait_for 10 listening 9444 || { not_ok "reflectors started"; pp_done; }

# Root only to bind: every id of the serving process is nobody's, and it has no groups.
unprivileged() {
	awk '/^Uid:|^Gid:/ { for (i = 2; i <= 5; i++) if ($i == 0) bad = 1; n++ }
	     /^Groups:/ { if (NF > 1) bad = 1; n++ }
	     END { exit !(n == 3 && !bad) }' "/proc/$1/status"
}
for p in "http $hpid" "https $spid"; do
	set -- $p
	if wait_for 5 unprivileged "$2"; then
		ok "$1 reflector serves without root ($(grep '^Uid:' "/proc/$2/status" | tr -s '\t ' ' '))"
	else
		not_ok "$1 reflector serves without root ($(grep -h '^Uid:\|^Groups:' "/proc/$2/status" | tr -s '\t\n' '  '))"
	fi
done
check "  and says so in its log" grep -q 'serving as nobody (uid 65534' "$pp_tmp/http.log"

# honest URL CURL-OPTS...: N requests from inet2, one every 150 ms or more (the pace of a
# client, so that the run spans several of the slow attacker's 2.5 s cycles); prints
# "ANSWERED MS" (the time the N requests took, pauses included).
honest() {
	_url=$1; shift
	_i=0 _a=0 _t0=$(date +%s%N)
	while [ $_i -lt "$N" ]; do
		_c=$(lab_ns "$LAB_INET2" curl -s -o /dev/null --max-time 3 -w '%{http_code}' "$@" "$_url/v1/whoami")
		[ "$_c" = 200 ] && _a=$((_a + 1))
		_i=$((_i + 1))
		sleep 0.15
	done
	echo "$_a $((($(date +%s%N) - _t0) / 1000000))"
}

# attack NAME MODE PORT [ARGS...]: runs MODE from the router until the honest client is done;
# sets $under ("ANSWERED MS" during the attack) and $under_cpu (the CPU ms the server $_srv
# used meanwhile) and leaves the attacker's summary in $pp_tmp/NAME.json.
attack() {
	_n=$1 _m=$2 _p=$3; shift 3
	rm -f "$pp_tmp/$_n.stop" "$pp_tmp/$_n.ready"
	ip netns exec "$LAB_ROUTER" "$LAB_PY" "$ATTACK" "$_m" "$LAB_INET_IP" "$_p" --seconds 60 \
		--stop "$pp_tmp/$_n.stop" --ready "$pp_tmp/$_n.ready" "$@" >"$pp_tmp/$_n.json" &
	_apid=$!
	echo "$_apid" >>"$LAB_DIR/pids"
	wait_for 10 test -e "$pp_tmp/$_n.ready" || not_ok "$_n: the attacker started"
	_c0=$(cpu_ms "$_srv")
	under=$(honest "$_url" $_curl)
	under_cpu=$(($(cpu_ms "$_srv") - _c0))
	touch "$pp_tmp/$_n.stop"
	wait "$_apid"
}
# cpu_ms PID: the user and system CPU time the process has used.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }
jget() { jq -r "$2" "$pp_tmp/$1.json" 2>/dev/null; }

# phase PROTO URL CURL-OPTS SERVER-PID: baseline, then a slow-client attack and a flood.
phase() {
	_proto=$1 _url=$2 _curl=$3 _srv=$4 _tls=""
	[ "$_proto" = https ] && _tls=--tls
	_port=${_url##*:}
	base=$(honest "$_url" $_curl)
	set -- $base
	b_ans=$1
	echo "# $_proto baseline: $1 of $N answered in $2 ms"
	check "$_proto baseline: the honest client is answered ($1 of $N)" [ "$1" -ge $((N * 95 / 100)) ]

	attack "$_proto-slow" slow "$_port" --conns 40 $_tls
	set -- $under
	echo "# $_proto slow-client attack (40 connections, a byte every 2 s): $1 of $N answered in $2 ms," \
		"server CPU $under_cpu ms; attacker: $(cat "$pp_tmp/$_proto-slow.json")"
	check "$_proto slow-client attack: honest answer rate $1/$N >= 95% of baseline $b_ans/$N" \
		[ $(($1 * 100)) -ge $((b_ans * 95)) ]
	check "  the attack ran (>= 40 connections opened)" [ "$(jget "$_proto-slow" .opened)" -ge 40 ]
	# 4 held at once: of 40 that each live 2.5 s at most, the rest are closed at once.
	check "  one address holds 4 at once: $(jget "$_proto-slow" .cut_at_once) of $(jget "$_proto-slow" .cut) closed at once" \
		[ "$(jget "$_proto-slow" .cut_at_once)" -ge $(($(jget "$_proto-slow" .cut) * 3 / 4)) ]
	check "  no slow connection lasted over 4 s ($(jget "$_proto-slow" .max_life_s) s)" \
		awk "BEGIN { exit !($(jget "$_proto-slow" .max_life_s) <= 4) }"

	# 3000 connections a second, 60000 at most: a flood to the server, yet it leaves this
	# shared box some CPU for the honest client.
	attack "$_proto-flood" flood "$_port" --conns 8 --per-second 3000 --max 60000 $_tls
	set -- $under
	echo "# $_proto flood (8 threads, 3000 connections/s): $1 of $N answered in $2 ms," \
		"server CPU $under_cpu ms; attacker: $(cat "$pp_tmp/$_proto-flood.json")"
	check "$_proto flood: honest answer rate $1/$N >= 95% of baseline $b_ans/$N" \
		[ $(($1 * 100)) -ge $((b_ans * 95)) ]
	check "  the flood ran (>= 400 connections, so the rate limit was reached)" \
		[ "$(jget "$_proto-flood" .opened)" -ge 400 ]
	check "  and lasted as long as the honest client ($(jget "$_proto-flood" .seconds) s)" \
		awk "BEGIN { exit !($(jget "$_proto-flood" .seconds) * 1000 >= $2 - 500) }"
}

# One trickling connection, before any limit is reached: cut after ~2.5 s in all, not per byte.
one_slow() { ip netns exec "$LAB_ROUTER" "$LAB_PY" "$ATTACK" one-slow "$LAB_INET_IP" "$@" --seconds 20; }
out=$(one_slow 9443)
cut=$(printf '%s' "$out" | jq -r .cut_after_s)
check "http: a byte every 2 s is cut within 4 s (after $cut s) with a 408" \
	sh -c "printf '%s' '$out' | jq -e '.cut_after_s <= 4 and .status == \"408\"' >/dev/null"
out=$(one_slow 9444 --tls)
check "https: a request trickled inside TLS is cut within 4 s (after $(printf '%s' "$out" | jq -r .cut_after_s) s)" \
	sh -c "printf '%s' '$out' | jq -e '.cut_after_s <= 4' >/dev/null"
out=$(one_slow 9444 --tls --stall)
check "https: a trickled handshake is cut within 4 s (after $(printf '%s' "$out" | jq -r .cut_after_s) s)" \
	sh -c "printf '%s' '$out' | jq -e '.cut_after_s <= 4' >/dev/null"

phase http "http://$LAB_INET_IP:9443" "" "$hpid"
phase https "https://$LAB_INET_IP:9444" "--cacert $pp_tmp/ca.pem" "$spid"

# Over its rate an HTTPS client is closed before the handshake: no Server Hello, no TLS work.
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9446" --rate 2 \
	--cert "$pp_tmp/srv.pem" --key "$pp_tmp/srv.key" >"$pp_tmp/rate.log" 2>&1 &
rrpid=$!
at_exit "kill $rrpid 2>/dev/null"
if wait_for 10 listening 9446; then
	hello=""
	for i in 1 2 3; do
		lab_ns "$LAB_INET2" curl -sv -o /dev/null --max-time 3 --cacert "$pp_tmp/ca.pem" \
			"https://$LAB_INET_IP:9446/v1/whoami" 2>"$pp_tmp/curl.$i"
		hello="$hello $?:$(grep -c 'Server hello' "$pp_tmp/curl.$i")"
	done
	check "https over the rate (--rate 2): answered, answered, then closed before the Server Hello ($hello)" \
		[ "$hello" = " 0:1 0:1 35:0" ]
else
	not_ok "reflector with --rate 2 started"
fi

# Many addresses against a small pool: 8 of the router's addresses trickle 6 connections each
# (4 held per address, 32 wanted) at a reflector with 16 slots and no rate limit in reach. A
# waiting client from the address holding the most gives way to each new one.
srcs=""
for i in 21 22 23 24 25 26 27 28; do
	ip -n "$LAB_ROUTER" addr add "203.0.113.$i/24" dev eth0 || not_ok "address 203.0.113.$i"
	srcs="$srcs${srcs:+,}203.0.113.$i"
done
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9445" --rate 5000 \
	--max-conns 16 >"$pp_tmp/pool.log" 2>&1 &
ppid=$!
at_exit "kill $ppid 2>/dev/null"
if wait_for 10 listening 9445; then
	_url="http://$LAB_INET_IP:9445" _curl="" _srv=$ppid
	# shellcheck disable=SC2046 # "ANSWERED MS" into $1 $2
	set -- $(honest "$_url")
	b_ans=$1
	echo "# pool baseline (--max-conns 16): $1 of $N answered in $2 ms"
	attack pool-slow slow 9445 --conns 48 --from "$srcs"
	set -- $under
	echo "# pool: 8 addresses x 6 slow connections: $1 of $N answered in $2 ms," \
		"server CPU $under_cpu ms; attacker: $(cat "$pp_tmp/pool-slow.json")"
	check "8 slow addresses, 16 slots: honest answer rate $1/$N >= 95% of baseline $b_ans/$N" \
		[ $(($1 * 100)) -ge $((b_ans * 95)) ]
else
	not_ok "reflector with --max-conns 16 started ($(head -c 300 "$pp_tmp/pool.log"))"
fi

# Out of descriptors (ulimit -n 12: 8 free, the pool's floor is 8 slots of 2), accept fails with
# EMFILE and the listener stays readable: the loop must pause, not spin, for 3 s of 16 slow
# connections from one address (--per-address 16, so the cap is not what stops them).
ip netns exec "$LAB_INET" sh -c 'ulimit -n 12 && exec "$0" reflector --listen "$1" --per-address 16 --rate 5000' \
	"$PORTPILOT" "$LAB_INET_IP:9447" >"$pp_tmp/fd.log" 2>&1 &
fpid=$!
at_exit "kill $fpid 2>/dev/null"
if wait_for 10 listening 9447; then
	c0=$(cpu_ms "$fpid")
	ip netns exec "$LAB_ROUTER" "$LAB_PY" "$ATTACK" slow "$LAB_INET_IP" 9447 --conns 16 --seconds 3 \
		>"$pp_tmp/fd.json"
	c1=$(cpu_ms "$fpid")
	check "out of descriptors: accept pauses, no busy loop (server CPU $((c1 - c0)) ms in 3 s)" \
		[ $((c1 - c0)) -lt 600 ]
	check "  the log says the open-files limit bounds the pool" \
		grep -q 'at most 8 connections at once, not 512: the open-files limit is 12' "$pp_tmp/fd.log"
else
	not_ok "reflector with ulimit -n 12 started ($(head -c 300 "$pp_tmp/fd.log"))"
fi

kill "$hpid" "$spid" "$ppid" "$rrpid" "$fpid"
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_for 5 gone "$hpid" && wait_for 5 gone "$spid" && wait_for 5 gone "$ppid" ||
	not_ok "the reflectors stop on SIGTERM"
check "the refusals are summed up in the log, not a line each" \
	grep -q 'reflector: refused [0-9]* connections' "$pp_tmp/http.log"
check "  the pool was full: waiting connections were closed to make room" \
	grep -q 'closed [1-9][0-9]* waiting connections' "$pp_tmp/pool.log"
pp_done
