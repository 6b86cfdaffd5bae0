/* Errors as values: a message that names where, what, and how to fix it. */
#ifndef PORTPILOT_ERROR_H
#define PORTPILOT_ERROR_H

#include <stddef.h>

struct pp_error {
	char msg[1024];
};

/* Fill err (may be NULL) with a printf-style message; always returns -1. */
int pp_error_set(struct pp_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
