#!/bin/sh
# The reflector over HTTPS: the probe's verdict through it, a private CA from [probe] ca_file or
# --reflector-ca, an untrusted certificate refused before anything is sent, key file modes,
# and a token refused over plain HTTP.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root
j() { jq -e "$1" "$pp_tmp/out.json" >/dev/null; }
passes() { _name=$1; shift; if "$@"; then ok "$_name"; else not_ok "$_name"; fi; }

# A throwaway CA, a server certificate it signed for the reflector's address, and a self-signed
# impostor for the same address.
ssl() { openssl "$@" >>"$pp_tmp/openssl.log" 2>&1; }
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
# shellcheck disable=SC2086
ssl req -x509 $ec -keyout "$pp_tmp/ca.key" -out "$pp_tmp/ca.pem" -subj /CN=pp-test-ca &&
	ssl req $ec -keyout "$pp_tmp/srv.key" -out "$pp_tmp/srv.csr" -subj "/CN=$LAB_INET_IP" &&
	printf 'subjectAltName=IP:%s\n' "$LAB_INET_IP" >"$pp_tmp/san.ext" &&
	ssl x509 -req -in "$pp_tmp/srv.csr" -CA "$pp_tmp/ca.pem" -CAkey "$pp_tmp/ca.key" \
		-CAcreateserial -days 1 -extfile "$pp_tmp/san.ext" -out "$pp_tmp/srv.pem" &&
	ssl req -x509 $ec -keyout "$pp_tmp/rogue.key" -out "$pp_tmp/rogue.pem" -subj "/CN=$LAB_INET_IP" \
		-addext "subjectAltName=IP:$LAB_INET_IP" || { not_ok "openssl: test certificates"; pp_done; }
chmod 600 "$pp_tmp/srv.key" "$pp_tmp/rogue.key"
printf 'token=tls-token-1\n' >"$pp_tmp/tok"
chmod 600 "$pp_tmp/tok"

# Refusals at start, before listening (no network needed).
cp "$pp_tmp/srv.key" "$pp_tmp/open.key"
chmod 644 "$pp_tmp/open.key"
"$PORTPILOT" reflector --listen 127.0.0.1:1 --cert "$pp_tmp/srv.pem" --key "$pp_tmp/open.key" \
	>/dev/null 2>"$pp_tmp/err"
check "a key file with mode 0644 is refused (exit 2)" [ $? -eq 2 ]
check "  the error names the key file and the chmod fix" \
	grep -q "key file $pp_tmp/open.key may be read by others (mode 0644): chmod 600 $pp_tmp/open.key" "$pp_tmp/err"
"$PORTPILOT" reflector --listen 127.0.0.1:1 --cert "$pp_tmp/srv.pem" --key "$pp_tmp/rogue.key" \
	>/dev/null 2>"$pp_tmp/err"
check "a key that does not belong to the certificate is refused (exit 2)" \
	sh -c "[ $? -eq 2 ] && grep -q 'does not belong to the certificate' '$pp_tmp/err'"
"$PORTPILOT" reflector --listen 127.0.0.1:1 --token-file "$pp_tmp/tok" >/dev/null 2>"$pp_tmp/err"
check "a token over plain HTTP is refused without --insecure-http (exit 2)" \
	sh -c "[ $? -eq 2 ] && grep -q -- '--cert FILE --key FILE' '$pp_tmp/err' && grep -q -- '--insecure-http' '$pp_tmp/err'"
"$PORTPILOT" reflector --listen 127.0.0.1:1 --cert "$pp_tmp/srv.pem" >/dev/null 2>&1
check "--cert without --key: exit 2" [ $? -eq 2 ]

plab_up && plab_apply || { not_ok "lab"; pp_done; }
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9443" --token-file "$pp_tmp/tok" \
	--cert "$pp_tmp/srv.pem" --key "$pp_tmp/srv.key" >"$pp_tmp/refl.log" 2>&1 &
echo $! >>"$LAB_DIR/pids"
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9444" \
	--cert "$pp_tmp/rogue.pem" --key "$pp_tmp/rogue.key" >"$pp_tmp/rogue.log" 2>&1 &
echo $! >>"$LAB_DIR/pids"
listening() { lab_ns "$LAB_INET" ss -Hlnt "sport = :$1" | grep -q LISTEN; }
wait_for 10 listening 9443 && wait_for 10 listening 9444 || not_ok "reflectors started"
check "the reflector says it serves https" grep -q "listening on $LAB_INET_IP:9443 (https) (token required)" "$pp_tmp/refl.log"

# The probe through the https reflector, the CA from [probe] ca_file.
printf '[probe]\nreflector = https://%s:9443\ntoken_file = %s\nca_file = %s\n' "$LAB_INET_IP" \
	"$pp_tmp/tok" "$pp_tmp/ca.pem" >"$pp_tmp/pp.conf"
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/pp.conf" probe web-1 --json >"$pp_tmp/out.json" 2>"$pp_tmp/err"
PRC=$?
expect_cause "probe through an https reflector ([probe] ca_file)" ok
check "  the outside test ran over https" j '.outside_tested and .reflector.seen_ip == "203.0.113.1"'
check "  the reflector answered whoami and check" \
	sh -c "grep -q '/v1/whoami -> 200' '$pp_tmp/refl.log' && grep -q '/v1/check?.* -> 200' '$pp_tmp/refl.log'"
check "  the token is printed nowhere" sh -c "! grep -q tls-token-1 '$pp_tmp/out.json' '$pp_tmp/err' '$pp_tmp/refl.log'"

# Without the private CA the same reflector is not trusted.
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json \
	--reflector "https://$LAB_INET_IP:9443" --token-file "$pp_tmp/tok" >"$pp_tmp/out.json" 2>"$pp_tmp/err"
check "without the CA the reflector's certificate is refused" \
	j '.checks[] | select(.id == "outside_address" and (.text | test("certificate is not trusted.*nothing was sent.*--reflector-ca")))'

# An impostor with a self-signed certificate for the same address: refused, nothing sent.
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json \
	--reflector "https://$LAB_INET_IP:9444" --reflector-ca "$pp_tmp/ca.pem" --token-file "$pp_tmp/tok" \
	>"$pp_tmp/out.json" 2>"$pp_tmp/err"
check "a self-signed certificate not in --reflector-ca is refused with a clear message" \
	j '.checks[] | select(.id == "outside_address" and (.text | test("https://203\\.0\\.113\\.10:9444: its certificate is not trusted")))'
check "  the outside test did not run" j '.outside_tested | not'
passes "  the impostor saw handshakes fail" wait_for 5 grep -q 'TLS handshake failed' "$pp_tmp/rogue.log"
check "  and no request at all (the token never left)" sh -c "! grep -q '/v1/' '$pp_tmp/rogue.log'"

# Over its rate an https reflector closes before the handshake; the probe says what that may mean.
ip netns exec "$LAB_INET" "$PORTPILOT" reflector --listen "$LAB_INET_IP:9445" --rate 1 \
	--cert "$pp_tmp/srv.pem" --key "$pp_tmp/srv.key" >"$pp_tmp/rate.log" 2>&1 &
echo $! >>"$LAB_DIR/pids"
wait_for 10 listening 9445 || not_ok "reflector with --rate 1 started"
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json \
	--reflector "https://$LAB_INET_IP:9445" --reflector-ca "$pp_tmp/ca.pem" >"$pp_tmp/out.json" 2>"$pp_tmp/err"
check "an https reflector over its rate: whoami answered, the check refused before the handshake" \
	j '.outside_tested | not'
jq -r '.checks[] | select(.id == "outside") | "# probe: " + .text' "$pp_tmp/out.json"
check "  and the probe names the rate limit as the likely cause" \
	j '.checks[] | select(.id == "outside" and (.text | test("over its rate limit")))'

# A plain-HTTP client against the https port gets nothing useful and the token is not logged.
lab_ns "$LAB_ROUTER" curl -s --max-time 3 -H "Authorization: Bearer tls-token-1" \
	"http://$LAB_INET_IP:9443/v1/whoami" >"$pp_tmp/plain.out" 2>&1
check "plain HTTP to the https reflector gets no answer" sh -c "! grep -q '\"ip\"' '$pp_tmp/plain.out'"
pp_done
