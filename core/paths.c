/* Where the shipped examples are: beside the running binary, installed or in the source tree. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/cli.h"

/* PREFIX/sbin/portpilot finds PREFIX/share/doc/portpilot/examples (make install, the
   package); build/portpilot finds examples/ of its source tree. Looked up at run time, so
   a binary built once and installed under any PREFIX names the right file. */
const char *
pp_example_conf(void)
{
	static char found[PATH_MAX];
	static const char *const rel[] = {
		"/../share/doc/portpilot/examples/portpilot.conf",
		"/../examples/portpilot.conf",
	};
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof path, "%s%s", exe, rel[i]) >= sizeof path)
			continue;
		if (access(path, R_OK) == 0 && realpath(path, found))
			return found;
	}
	return NULL;
}
