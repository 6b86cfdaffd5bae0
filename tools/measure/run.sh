#!/bin/sh
# Measures portpilot's hand-written JSON and DNS code against the Debian libraries the
# issue names (jansson, json-c, ldns, c-ares): speed per call and answers on valid input.
# Not part of the build: it needs libjansson-dev libjson-c-dev libldns-dev libc-ares-dev,
# which portpilot itself does not use (see the ddns notes for the figures and the verdict).
# Usage, from the top of the tree after `make`: sh tools/measure/run.sh [BUILD-DIR]
set -eu
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
L="-Wl,--start-group $B/libppmod.a $B/libppcore.a -Wl,--end-group -liniparser -lcurl -lpcap -lssl -lcrypto -lncursesw"
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -o "$T/json-j" tools/measure/json-libs.c $L -ljansson
cc -O2 -std=c11 -D_GNU_SOURCE -DJC -Iinclude -o "$T/json-c" tools/measure/json-libs.c $L -ljson-c
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -o "$T/dns" tools/measure/dns-libs.c $L -lldns -lcares
"$T/json-j" | cat -v
"$T/json-c" | grep json-c
"$T/dns"
size "$B/ddns/dnscheck.o" "$B/ddns/cf-answer.o" "$B/core/util.o"
for l in libjansson.so.4 libjson-c.so.5 libldns.so.3 libcares.so.2; do
	ls -lL "/usr/lib/$(gcc -dumpmachine)/$l" | awk -v l=$l '{ print l, $5, "bytes" }'
done
