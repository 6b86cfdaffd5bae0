#!/usr/bin/env python3
"""Hostile clients against the reflector, for test-reflector-dos.sh: bounded in count and time.

usage: reflector-attack.py MODE HOST PORT [--tls] [--conns N] [--seconds S] [--max M]
                           [--per-second R] [--from A,B,...] [--stop FILE] [--ready FILE]
  slow      N connections that each send one byte every 2 s, reopened 1 s after the server
            cuts them; with --tls half finish the handshake and trickle the request inside
            it, half trickle bytes at the handshake itself.
  flood     N threads sending whole requests back to back (a TLS handshake each with --tls).
  one-slow  one connection trickling a byte every 2 s (inside TLS with --tls, into the
            handshake with --tls --stall): prints the seconds until the server cut it and
            the status it answered, if any.
--from spreads the threads over several source addresses; --per-second paces the
connections of all threads together. Ends after S seconds (default 30, at most 120), M
connections in all (default 20000), or when FILE exists; touches the --ready file once every
thread has tried its first connection. Prints a JSON summary on stdout.
"""
import argparse
import json
import os
import socket
import ssl
import threading
import time

REQ = b"GET /v1/whoami HTTP/1.1\r\nHost: reflector\r\nX-Pad: " + b"a" * 8000
# A TLS record header announcing a 16 KB handshake record, then its body byte by byte: the
# server's handshake waits for the whole record.
STALL = b"\x16\x03\x01\x3f\xff\x01\x00\x3f\xfb\x03\x03" + b"\x00" * 8000


class Attack:
    def __init__(self, a):
        self.a = a
        self.t_end = time.monotonic() + a.seconds
        self.lock = threading.Lock()
        self.stats = {"opened": 0, "connect_failed": 0, "cut": 0, "cut_at_once": 0,
                      "max_life_s": 0.0, "codes": {}}
        self.started = 0
        self.next_t = 0.0
        self.ctx = None
        if a.tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    def done(self):
        if time.monotonic() >= self.t_end or self.stats["opened"] >= self.a.max:
            return True
        return bool(self.a.stop) and os.path.exists(self.a.stop)

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def code(self, c):
        with self.lock:
            self.stats["codes"][c] = self.stats["codes"].get(c, 0) + 1

    def first_try(self):
        with self.lock:
            self.started += 1
            if self.started == self.a.conns and self.a.ready:
                open(self.a.ready, "w").close()

    def pace(self):
        """At most --per-second connections a second over all threads."""
        if not self.a.per_second:
            return
        with self.lock:
            t = max(self.next_t, time.monotonic())
            self.next_t = t + 1.0 / self.a.per_second
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)

    def connect(self, i=0):
        self.pace()
        src = (self.a.sources[i % len(self.a.sources)], 0) if self.a.sources else None
        try:
            s = socket.create_connection((self.a.host, self.a.port), timeout=3, source_address=src)
        except OSError:
            self.count("connect_failed")
            return None
        self.count("opened")
        return s

    def trickle(self, s, how):
        """One byte every 2 s until the server closes; the seconds it lasted, the status seen.
        how: plain (an HTTP request), inside (the request after a TLS handshake) or stall
        (a TLS handshake record)."""
        t0 = time.monotonic()
        status = None
        data = STALL if how == "stall" else REQ
        try:
            if how == "inside":
                s = self.ctx.wrap_socket(s)
            s.settimeout(2.0)
            k = 0
            while not self.done() and k < len(data):
                s.send(data[k:k + 1])
                k += 1
                try:
                    d = s.recv(4096)
                except socket.timeout:
                    continue
                if not d:
                    break
                if status is None and d.startswith(b"HTTP/1.1 "):
                    status = d[9:12].decode()
        except (OSError, ssl.SSLError):
            pass
        finally:
            s.close()
        life = time.monotonic() - t0
        with self.lock:
            self.stats["cut"] += 1
            self.stats["cut_at_once"] += life < 0.5
            self.stats["max_life_s"] = max(self.stats["max_life_s"], round(life, 2))
        return life, status

    def slow(self, i):
        first = True
        while not self.done():
            s = self.connect(i)
            if first:
                self.first_try()
                first = False
            if s:
                # With TLS, even threads complete the handshake, odd ones stall it.
                self.trickle(s, "plain" if not self.ctx else "inside" if i % 2 == 0 else "stall")
            time.sleep(1)

    def flood(self, i):
        first = True
        while not self.done():
            s = self.connect(i)
            if first:
                self.first_try()
                first = False
            if not s:
                continue
            got = b""
            try:
                if self.ctx:
                    s = self.ctx.wrap_socket(s)
                s.sendall(b"GET /v1/whoami HTTP/1.1\r\nHost: reflector\r\n\r\n")
                while len(got) < 4096:
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
            except (OSError, ssl.SSLError):
                pass
            finally:
                s.close()
            self.code(got[9:12].decode() if got.startswith(b"HTTP/1.1 ") else "closed")

    def run(self, target):
        ts = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(self.a.conns)]
        for t in ts:
            t.start()
        t0 = time.monotonic()
        for t in ts:
            t.join(max(0.1, self.t_end - time.monotonic() + 5))
        self.stats["seconds"] = round(time.monotonic() - t0, 1)
        return self.stats


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["slow", "flood", "one-slow"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--stall", action="store_true", help="one-slow --tls: stall the handshake")
    p.add_argument("--conns", type=int, default=40)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--max", type=int, default=20000)
    p.add_argument("--stop")
    p.add_argument("--ready")
    p.add_argument("--per-second", type=float, default=0, help="connections a second, 0: no pause")
    p.add_argument("--from", dest="sources", type=lambda v: v.split(","),
                   help="ADDR,ADDR...: thread i connects from address i mod count")
    a = p.parse_args()
    a.conns = max(1, min(a.conns, 200))
    a.seconds = min(a.seconds, 120)
    at = Attack(a)
    if a.mode == "one-slow":
        s = at.connect()
        how = "plain" if not a.tls else "stall" if a.stall else "inside"
        life, status = at.trickle(s, how) if s else (None, None)
        print(json.dumps({"cut_after_s": None if life is None else round(life, 2),
                          "status": status}))
        return
    stats = at.run(at.slow if a.mode == "slow" else at.flood)
    print(json.dumps(stats, sort_keys=True))


if __name__ == "__main__":
    main()
