#!/bin/sh
# Files portpilot reads that are not the table or portpilot.conf (issue 11 item 5's siblings): a FIFO
# or device where a certificate or the access log should be is refused at once, never read.
. "${PP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
cd "$pp_tmp" || exit 1
mkfifo cert.pem
printf 'junk\n' >key.pem && chmod 600 key.pem
timeout 10 "$PORTPILOT" reflector --listen 127.0.0.1:0 --cert cert.pem --key key.pem >out 2>err; rc=$?
check "reflector --cert FIFO: refused at once (exit $rc), not hung" test $rc = 1 -o $rc = 2
check "and the message names the FIFO" grep -q 'cert.pem: cannot read: it is a FIFO' err
mkdir st && mkfifo st/access.log
timeout 10 "$PORTPILOT" --state-dir st -f "$PP_TOP/examples/seed-site.ini" log >out 2>err; rc=$?
check "log with a FIFO for access.log: refused at once (exit $rc), not hung" test $rc = 1
check "and says it must be a regular file" grep -q 'access.log.*must be a regular file' err
pp_done
