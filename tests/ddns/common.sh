# Helpers for the DDNS suites: a test CA, the fake provider, config and credentials files.
# Source after tests/lib.sh. Everything listens on 127.0.0.1 (or inside a pp- namespace).
D=$pp_tmp
FAKE="$PP_TOP/tests/ddns/fake-provider.py"
command -v python3 >/dev/null && command -v openssl >/dev/null || { echo "# need python3 and openssl"; exit 77; }
[ -x "$PORTPILOT" ] || { echo "# $PORTPILOT not built"; exit 77; }
# After an update portpilot asks the zone's authoritative servers, found through the
# resolver. Suites without a DNS lab give it none, so no query leaves for the host's
# resolver; test-authcheck.sh sets up its own in a namespace.
export PORTPILOT_RESOLV_CONF="${PORTPILOT_RESOLV_CONF-/dev/null}"

# A CA, a server certificate it signed for 127.0.0.1, and a self-signed impostor.
make_certs() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=portpilot test CA" \
		-keyout "$D/ca.key" -out "$D/ca.pem" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$D/srv.key" -out "$D/srv.csr" 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$D/san.ext" &&
	openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
		-days 2 -extfile "$D/san.ext" -out "$D/srv.pem" 2>/dev/null &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$D/bad.key" -out "$D/bad.pem" 2>/dev/null
}

# start_provider NAME [tls|bad] [netns]: sets ${NAME}_port and ${NAME}_url; killed at exit.
start_provider() {
	name=$1 mode=${2:-http} ns=${3:-}
	set -- --log "$D/$name.log" --port-file "$D/$name.port"
	[ "$mode" = tls ] && set -- "$@" --cert "$D/srv.pem" --key "$D/srv.key"
	[ "$mode" = bad ] && set -- "$@" --cert "$D/bad.pem" --key "$D/bad.key"
	set -- "$@" ${PROVIDER_ARGS:-}         # e.g. --nsupdate SERVER:PORT --tsig FILE
	: >"$D/$name.log"
	if [ -n "$ns" ]; then
		ip netns exec "$ns" python3 "$FAKE" "$@" &
	else
		python3 "$FAKE" "$@" &
	fi
	pid=$!
	at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	wait_for 10 test -s "$D/$name.port" || { echo "# fake provider $name did not start"; return 1; }
	port=$(cat "$D/$name.port")
	scheme=http; [ "$mode" != http ] && scheme=https
	eval "${name}_port=$port ${name}_url=$scheme://127.0.0.1:$port"
}

# ctl NAME QUERY [netns]: change the fake provider's behaviour.
ctl() {
	eval "u=\$${1}_url"
	if [ -n "${3:-}" ]; then
		ip netns exec "$3" curl -fsS --cacert "$D/ca.pem" "$u/_ctl?$2" >/dev/null
	else
		curl -fsS --cacert "$D/ca.pem" "$u/_ctl?$2" >/dev/null
	fi
}

# record NAME HOST [netns]: the A record the fake provider holds for HOST.
record() {
	eval "u=\$${1}_url"
	if [ -n "${3:-}" ]; then
		ip netns exec "$3" curl -fsS --cacert "$D/ca.pem" "$u/_state"
	else
		curl -fsS --cacert "$D/ca.pem" "$u/_state"
	fi | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"].get(sys.argv[1], ""))' "$2"
}

# requests NAME PATH: how many requests the fake provider got on PATH (prefix).
requests() {
	python3 - "$D/$1.log" "$2" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    if json.loads(line)["path"].startswith(sys.argv[2]):
        n += 1
print(n)
EOF
}

# creds FILE CONTENT: a credentials file with mode 0600.
creds() {
	(umask 077; printf '%s\n' "$2" >"$1")
}

# tsig_creds FILE: bind_zone's TSIG key (pp-ddns-key, the secret in SECRET) as a credentials file.
tsig_creds() {
	creds "$1" "key_name = pp-ddns-key
key_algorithm = hmac-sha256
key_secret = $SECRET"
}

# nsupdate_section NAME HOST: the start of an nsupdate [ddns NAME] section publishing HOST at the
# server $DNS with tsig_creds' $D/tsig.secret; the caller's keys follow it.
nsupdate_section() {
	printf '[ddns %s]\nprovider = nsupdate\nserver = %s\nhostname = %s\ncredentials_file = %s\n' \
		"$1" "$DNS" "$2" "$D/tsig.secret"
}

# pp CONF STATE ARGS...: run portpilot ddns; stdout in $D/out, stderr in $D/err, returns its status.
pp() {
	c=$1 s=$2; shift 2
	"$PORTPILOT" -c "$c" --state-dir "$s" ddns "$@" >"$D/out" 2>"$D/err"
	rc_=$?
	[ $rc_ -ne 0 ] && sed 's/^/# /' "$D/err"
	return $rc_
}

# field STATE NAME HOST KEY: a value from `ddns status --json`.
field() {
	"$PORTPILOT" -c "$1" --state-dir "$2" --json ddns status 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin)["ddns"]:
    if r["name"] == sys.argv[1] and r["host"] == sys.argv[2]:
        v = r[sys.argv[3]]
        print("" if v is None else v)' "$3" "$4" "$5"
}

# no_secret STRING FILES...: true when STRING appears in none of FILES (nor the state dir).
no_secret() {
	s=$1; shift
	! grep -rqF -- "$s" "$@" 2>/dev/null
}

# within SECONDS CMD...: like wait_for, with its own variables, so it can run under check
# (lib.sh's check and wait_for share the variable n).
within() {
	w_end=$(( $1 * 20 )) w_i=0; shift
	while [ $w_i -lt $w_end ]; do "$@" && return 0; sleep 0.05; w_i=$((w_i + 1)); done
	return 1
}

# ---- a real BIND9 for example.net, updates signed with a TSIG key ----
# bind_ns TAG: for a BIND9 test in its own namespace NS=pp-TAG$$ (removed at exit), DNS the
# server's address in it, in_ns CMD... runs there; skips (77) without root or the tools.
bind_ns() {
	[ "$(id -u)" = 0 ] || { echo "# needs root (network namespace)"; exit 77; }
	for _t in named nsupdate dig tsig-keygen ip; do
		command -v $_t >/dev/null || { echo "# $_t missing (bind9, bind9-dnsutils, iproute2)"; exit 77; }
	done
	NS=pp-$1$$
	DNS=198.51.100.53
	ip netns add $NS || exit 77
	at_exit "ip netns del $NS 2>/dev/null"
}
in_ns() { ip netns exec $NS "$@"; }
# bind_zone RECORDS...: under N=$D/named, the key (SECRET holds its secret) and the zone
# file: SOA, NS ns1.example.net and one line per RECORDS argument ("ns1 IN A 198.51.100.53").
bind_zone() {
	N=$D/named
	mkdir -p "$N"
	tsig-keygen -a hmac-sha256 pp-ddns-key >"$N/key.conf"
	SECRET=$(sed -n 's/.*secret "\(.*\)";/\1/p' "$N/key.conf")
	{ printf '$TTL 60\n@ IN SOA ns1.example.net. hostmaster.example.net. 1 3600 600 86400 60\n'
	  printf '@ IN NS ns1.example.net.\n'; printf '%s\n' "$@"; } >"$N/example.net.db"
}
# bind_start ADDR PORT NS: named serving the zone on ADDR:PORT, in namespace NS (empty: here),
# answering queries from anyone; NAMED_PID is killed at exit. 1 when it does not answer in 10 s.
bind_start() {
	cat >"$N/named.conf" <<NAMEDCONF
options {
	directory "$N";
	pid-file "$N/named.pid";
	listen-on port $2 { $1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	allow-query { any; };
};
include "$N/key.conf";
controls { };
zone "example.net" {
	type primary;
	file "$N/example.net.db";
	update-policy { grant pp-ddns-key zonesub ANY; };
};
NAMEDCONF
	# $! must be named itself (ip netns exec execs it), so that kill reaches it.
	if [ -n "$3" ]; then
		ip netns exec "$3" named -g -c "$N/named.conf" >"$N/log" 2>&1 &
	else
		named -g -c "$N/named.conf" >"$N/log" 2>&1 &
	fi
	NAMED_PID=$!
	_bs_in=${3:+ip netns exec $3}
	if wait_for 10 sh -c "$_bs_in dig +short +time=1 +tries=1 -p $2 @$1 ns1.example.net A | grep -q ."; then
		at_exit "kill $NAMED_PID 2>/dev/null; wait $NAMED_PID 2>/dev/null"
		return 0
	fi
	kill $NAMED_PID 2>/dev/null; wait $NAMED_PID 2>/dev/null
	return 1
}
