/* The DDNS log: one line of text a message on stderr, with its journald priority under systemd. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ddns-internal.h"

bool ddns_quiet;

void
ddns_log(int prio, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (ddns_quiet)
		return;
	/* Under systemd, stderr goes to the journal, which reads "<N>" as the priority. */
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>", prio);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	/* Messages quote what servers said and the configuration: one line of text, always. */
	pp_fputs_safe(msg ? msg : "(out of memory)", stderr);
	free(msg);
	fputc('\n', stderr);
	fflush(stderr);
}
