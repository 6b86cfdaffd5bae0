#!/usr/bin/env python3
"""A local stand-in for DDNS providers and echo services, for portpilot's tests.

One server speaks dyndns2 (/nic/update, Basic auth), DuckDNS (/update),
Cloudflare API v4 (/client/v4/...), Gandi LiveDNS v5 (/v5/livedns/...),
a custom template endpoint (/custom)
and echo services (/echo/a, /echo/b; echo_a=peer makes one answer the
requester's address, like a real one, for labs with NAT on the way). Every request is appended to the log
file as one JSON line. /_ctl changes behaviour (forced answers, echo
addresses, records); /_state returns the records as JSON.

Listens on 127.0.0.1 (or --bind) only; HTTPS with --cert/--key. With
--nsupdate SERVER:PORT --tsig FILE, accepted dyndns2 updates are pushed into
a real DNS server (like a provider publishing to its authoritative servers);
/_ctl?propagate=0 stops that, to play a provider whose DNS lags; propagate=1
publishes what was held back.
"""
import argparse
import base64
import json
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

USER, PASSWORD, TOKEN = "site3", "s3cret-pass", "tok-123456"
ZONE, ZONE_ID = "example.net", "zone0001"

lock = threading.Lock()
state = {
    "records": {},          # host -> address (A)
    "records6": {},         # host -> address (AAAA)
    "known": ["site3.example.net", "www.example.net", "home.example.net"],
    "force": [],            # queued forced dyndns2 bodies / HTTP statuses: {"body":..,"status":..}
    "echo": {"a": "198.51.100.7", "b": "198.51.100.7"},
    "propagate": True,
    "proxied": False,       # Cloudflare records proxied (orange cloud)
    "ttl": {},              # Gandi: "host TYPE" -> rrset_ttl of the last PUT
}
NSUPDATE = {}               # "server", "port", "tsig" when --nsupdate is given


def publish(host, ip):
    """Push host's A (AAAA for an IPv6 ip) record to the DNS server, as a provider's backend would."""
    if not NSUPDATE or not state["propagate"]:
        return
    typ = "AAAA" if ":" in ip else "A"
    script = (f"server {NSUPDATE['server']} {NSUPDATE['port']}\nzone {ZONE}\n"
              f"update delete {host}. {typ}\nupdate add {host}. 60 {typ} {ip}\nsend\n")
    subprocess.run(["nsupdate", "-k", NSUPDATE["tsig"], "-t", "5"], input=script.encode(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15, check=False)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def record(self, status):
        auth = self.headers.get("Authorization", "")
        entry = {
            "method": self.command,
            "path": urlsplit(self.path).path,
            "query": urlsplit(self.path).query,
            "ua": self.headers.get("User-Agent", ""),
            "auth": auth.split(" ")[0] if auth else "",
            "status": status,
            "client": self.client_address[0],
        }
        with open(self.server.logfile, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def basic_ok(self):
        a = self.headers.get("Authorization", "")
        if not a.startswith("Basic "):
            return False
        return base64.b64decode(a[6:]).decode() == f"{USER}:{PASSWORD}"

    def forced(self):
        with lock:
            return state["force"].pop(0) if state["force"] else None

    def do_GET(self):
        self.route("GET")

    def do_PATCH(self):
        self.route("PATCH")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        body = b""
        if "Content-Length" in self.headers:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        if u.path == "/_ctl":
            return self.ctl(q)
        if u.path == "/_state":
            with lock:
                return self.send(200, json.dumps(state), "application/json")
        if u.path.startswith("/echo/"):
            seen = state["echo"].get(u.path[6:], "")
            if seen == "peer":      # a real echo service: the address the request came from
                seen = self.client_address[0]
            return self.send(200, seen + "\n")
        f = self.forced()
        if f and "big" in f:
            return self.big(f["big"], f["length"])
        if f and "status" in f:
            return self.send(f["status"], f.get("body", ""))
        if u.path == "/nic/update":
            return self.dyndns2(q, f)
        if u.path == "/update":
            return self.duckdns(q)
        if u.path == "/custom":
            return self.custom(q)
        if u.path.startswith("/client/v4/"):
            return self.cloudflare(method, u.path[len("/client/v4"):], q, body)
        if u.path.startswith("/v5/livedns/"):
            return self.gandi(method, u.path[len("/v5/livedns"):], body)
        self.send(404, "not found")

    def big(self, n, length):
        """An answer of n bytes ("good 1.2.3.4" then padding), with or without Content-Length."""
        self.record(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if length:
            self.send_header("Content-Length", str(n))
        else:
            self.send_header("Connection", "close")   # the end of the body is the end of the stream
            self.close_connection = True
        self.end_headers()
        chunk = b"good 198.51.100.7\n" + b"x" * 65518 + b"\n"
        try:
            while n > 0:
                self.wfile.write(chunk[:n])
                n -= min(n, len(chunk))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True         # the client stopped reading, as it should

    def ctl(self, q):
        with lock:
            if "force" in q:           # e.g. force=911 (dyndns2 body) or force=http:503
                for item in q["force"].split(","):
                    if item.startswith("big:") or item.startswith("bigstream:"):
                        # big:N answers N bytes with Content-Length, bigstream:N without
                        state["force"].append({"big": int(item.split(":")[1]),
                                               "length": item.startswith("big:")})
                    elif item.startswith("http:"):
                        state["force"].append({"status": int(item[5:]), "body": "error"})
                    else:
                        state["force"].append({"body": item})
            for k in ("a", "b"):
                if "echo_" + k in q:
                    state["echo"][k] = q["echo_" + k]
            if "proxied" in q:
                state["proxied"] = q["proxied"] == "1"
            if "propagate" in q:
                state["propagate"] = q["propagate"] == "1"
                # A lagging backend catches up: everything accepted reaches the DNS.
                for recs in ("records", "records6"):
                    for h, a in state[recs].items():
                        publish(h, a)
            if "set" in q:             # set=host=addr
                h, a = q["set"].split("=", 1)
                state["records"][h] = a
        self.send(200, "ok\n")

    def dyndns2(self, q, f):
        if not self.basic_ok():
            return self.send(401, "badauth\n")
        if f:
            return self.send(200, f["body"].replace(";", "\n") + "\n")
        # Dyn's protocol: myip is "IPV4", "IPV6" or "IPV4,IPV6"; the answer echoes it.
        # myipv6= (Dynu, INWX) is taken too, so that a test can tell which form came.
        myip = q.get("myip", "")
        ips = myip.split(",") if myip else [""]
        ip = next((a for a in ips if ":" not in a), "")
        ip6 = next((a for a in ips if ":" in a), q.get("myipv6"))
        if len(ips) > 2 or ips.count(ip) > 1 or (len(ips) == 2 and not (ip and ip6)):
            return self.send(200, "dnserr\n")      # not an address list the protocol knows
        lines = []
        with lock:
            for h in q.get("hostname", "").split(","):
                if h not in state["known"]:
                    lines.append("nohost")
                    continue
                same = state["records"].get(h) == ip if ip else True
                same = same and ip6 in (None, state["records6"].get(h))
                for a in (ip, ip6):
                    if a:
                        publish(h, a)
                if not same:
                    if ip:
                        state["records"][h] = ip
                    if ip6:
                        state["records6"][h] = ip6
                lines.append(("nochg " if same else "good ") + myip)
        self.send(200, "\n".join(lines) + "\n")

    def duckdns(self, q):
        if q.get("token") != TOKEN:
            return self.send(200, "KO")
        with lock:
            for d in q.get("domains", "").split(","):
                state["records"][d + ".duckdns.org"] = q.get("ip", "")
        self.send(200, "OK")

    def custom(self, q):
        if q.get("key") != TOKEN:
            return self.send(403, "forbidden")
        # Like many such endpoints: an unknown host still gets HTTP 200, with "KO".
        if q.get("host", "").startswith("ko."):
            return self.send(200, "KO")
        with lock:
            state["records"][q.get("host", "")] = q.get("ip", "")
        self.send(200, "updated")

    def cf(self, status, result, success=True):
        self.send(status, json.dumps({"success": success, "errors": [], "result": result}),
                  "application/json")

    def cloudflare(self, method, path, q, body):
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.send(403, json.dumps({"success": False, "errors": [{"code": 9109}]}))
        if path == "/zones":
            return self.cf(200, [{"id": ZONE_ID, "name": ZONE}] if q.get("name") == ZONE else [])
        prefix = f"/zones/{ZONE_ID}/dns_records"
        if path == prefix and method == "GET":
            name, typ = q.get("name"), q.get("type", "A")
            recs = state["records"] if typ == "A" else state["records6"]
            if name not in state["known"]:
                return self.cf(200, [])
            rid = ("A-" if typ == "A" else "AAAA-") + name
            return self.cf(200, [{"id": rid, "type": typ, "name": name,
                                  "content": recs.get(name, "192.0.2.1"),
                                  "proxied": state["proxied"]}])
        if path.startswith(prefix + "/") and method == "PATCH":
            rid = path[len(prefix) + 1:]
            typ, name = rid.split("-", 1)
            content = json.loads(body or b"{}").get("content")
            with lock:
                (state["records"] if typ == "A" else state["records6"])[name] = content
            return self.cf(200, {"id": rid, "name": name, "content": content})
        self.send(404, json.dumps({"success": False}))


    def gandi(self, method, path, body):
        """LiveDNS: PUT /domains/ZONE/records/NAME/TYPE {"rrset_values": [...], "rrset_ttl": N}."""
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.send(403, json.dumps({"code": 403, "message": "Access was denied"}),
                             "application/json")
        parts = path.strip("/").split("/")
        if method != "PUT" or len(parts) != 5 or parts[0] != "domains" or parts[2] != "records":
            return self.send(400, json.dumps({"code": 400, "message": "bad request"}), "application/json")
        zone, name, typ = parts[1], parts[3], parts[4]
        if zone != ZONE:
            return self.send(404, json.dumps({"code": 404, "message": "Domain not found"}),
                             "application/json")
        req = json.loads(body or b"{}")
        vals, ttl = req.get("rrset_values"), req.get("rrset_ttl", 10800)
        if typ not in ("A", "AAAA") or not isinstance(vals, list) or len(vals) != 1 or ttl < 300:
            return self.send(400, json.dumps({"code": 400, "message": "invalid rrset"}), "application/json")
        host = zone if name == "@" else name + "." + zone
        with lock:
            (state["records"] if typ == "A" else state["records6"])[host] = vals[0]
            state["ttl"][host + " " + typ] = ttl
        self.send(201, json.dumps({"message": "DNS Record Created"}), "application/json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True, help="written with the port once listening")
    ap.add_argument("--nsupdate", help="SERVER:PORT of a DNS server to publish accepted updates to")
    ap.add_argument("--tsig", help="TSIG key file (tsig-keygen format) for --nsupdate")
    a = ap.parse_args()
    if a.nsupdate:
        NSUPDATE["server"], NSUPDATE["port"] = a.nsupdate.rsplit(":", 1)
        NSUPDATE["tsig"] = a.tsig
    srv = ThreadingHTTPServer((a.bind, a.port), Handler)
    srv.logfile = a.log
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
