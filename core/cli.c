/* The usage error every subcommand shares (their options: core/cli-opts.c). */
#include <stdarg.h>
#include <string.h>

#include "portpilot/cli.h"

int
pp_cli_usage(struct pp_cli *cli, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(cli->err, "portpilot %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(cli->err, fmt, ap);
	va_end(ap);
	fprintf(cli->err, "\n(see: portpilot %s --help)\n", cmd);
	return PP_EXIT_USAGE;
}
