/* Helpers every subcommand shares: help detection and usage errors. */
#include <stdarg.h>
#include <string.h>

#include "portpilot/cli.h"

bool
pp_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

int
pp_cli_help(struct pp_cli *cli, const char *text)
{
	fputs(text, cli->out);
	return PP_EXIT_OK;
}

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
