#!/bin/sh
# A reflector that answers with terminal escape sequences (a hostile one, or anyone on an
# http:// path): the probe's report shows them as text, its JSON stays valid.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$PP_TOP/tests/lab/lab.sh"
. "$PP_TOP/tests/probe/probe-lab.sh"
lab_need_root

plab_up && plab_apply || not_ok "lab"
# The fake answers whoami and check with ESC, BEL and invalid UTF-8 inside its JSON strings;
# MODE=deny answers 403 with such an error text.
cat >"$pp_tmp/evil.py" <<'EOF'
import http.server, sys
mode = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "big":
            st, body = 200, b'{"ip":"203.0.113.10","pad":"' + b"x" * 1000000 + b'"}'
        elif mode == "deny":
            st, body = 403, b'{"error":"go away \x1b[2J\x1b]0;pwned\x07 \xff"}'
        elif self.path.startswith("/v1/whoami"):
            st, body = 200, b'{"ip":"203.0.113.10\x1b[31m"}'
        else:
            st, body = 200, b'{"ip":"203.0.113.10","from":"\x1b[1A203.0.113.10","result":"\x1b]0;x\x07connected","ms":3}'
        self.send_response(st); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer((sys.argv[1], {"ok": 9555, "deny": 9556, "big": 9557}[mode]), H).serve_forever()
EOF
for mode in ok deny big; do
	ip netns exec "$LAB_INET" python3 "$pp_tmp/evil.py" "$LAB_INET_IP" $mode >>"$pp_tmp/evil.log" 2>&1 &
	echo $! >>"$LAB_DIR/pids"
done
up() { lab_ns "$LAB_ROUTER" curl -s -o /dev/null --max-time 1 "http://$LAB_INET_IP:$1/v1/whoami"; }
wait_for 10 up 9555 && wait_for 10 up 9556 && wait_for 10 up 9557 || not_ok "fake reflectors did not start"

# raw_controls FILE: true when FILE holds ESC, BEL or another control besides newline and tab.
raw_controls() { python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); sys.exit(0 if any((c < 0x20 and c not in (9, 10)) or c == 0x7f for c in b) else 1)' "$1"; }

for mode in ok deny; do
	port=9555; [ $mode = deny ] && port=9556
	lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 \
		--reflector "http://$LAB_INET_IP:$port" >"$pp_tmp/out.txt" 2>&1
	check "$mode reflector: the report quotes it (so the test saw its answer)" \
		grep -q "reflector.*\(203.0.113.10\|answered 403\)" "$pp_tmp/out.txt"
	if raw_controls "$pp_tmp/out.txt"; then
		not_ok "$mode reflector: no raw control byte in the report"
		cat -v "$pp_tmp/out.txt" | grep reflector | sed 's/^/#   /'
	else
		ok "$mode reflector: no raw control byte in the report"
	fi
	lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 --json \
		--reflector "http://$LAB_INET_IP:$port" >"$pp_tmp/out.json" 2>/dev/null
	check "$mode reflector: --json is valid JSON" sh -c "python3 -m json.tool '$pp_tmp/out.json' >/dev/null"
done

# An answer of 1 MB: said to be too large, not a network failure.
lab_ns "$LAB_ROUTER" "$PORTPILOT" -f "$PT" -c "$pp_tmp/none.conf" probe web-1 \
	--reflector "http://$LAB_INET_IP:9557" >"$pp_tmp/out.txt" 2>&1
check "1 MB reflector answer: 'answer too large (over 65536 bytes)'" \
	grep -q "reflector http://$LAB_INET_IP:9557: answer too large (over 65536 bytes)" "$pp_tmp/out.txt"
pp_done
