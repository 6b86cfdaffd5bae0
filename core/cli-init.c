/* `portpilot init`: a first, commented table from the router's own routes and addresses. */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "portpilot/cli.h"
#include "portpilot/cli-opts.h"
#include "portpilot/table.h"
#include "portpilot/util.h"

#define MAX_CANDS 32

/* An interface address that could be the LAN. */
struct cand {
	char ifname[IF_NAMESIZE];
	uint32_t net;          /* host order, masked */
	uint8_t len;
	uint32_t addr;         /* the router's own address on it */
	int rank;              /* lower is a likelier LAN */
	unsigned index;
};

static void
init_more(FILE *f)
{
	fputs("An existing file is never overwritten (exit 2): edit it with portpilot set, or remove it.\n"
	      "Exit 0 written, 1 nothing could be detected (give --wan/--lan), 2 usage or the file exists.\n", f);
}

static const struct pp_opt init_opts[] = {
	{ "wan", 0, "IF", "the WAN interface (default: the interface of the default route)" },
	{ "lan", 0, "IF", "the LAN interface (default: the interface with a private IPv4 subnet\n"
	                  "that is not the WAN; the others found are listed in the file's comments)" },
	PP_OPT_JSON,
	{ 0 },
};
const struct pp_cmd_spec pp_spec_init = {
	.globals = "[-f TABLE]", .opts = init_opts, .more = init_more,
	.doc = "Writes a first mapping table (default " PP_DEFAULT_TABLE ") with a [site] section\n"
	       "and a commented example mapping, then says what to run next.\n",
};

/* The interface of the IPv4 default route with the lowest metric, from /proc/net/route
   (no netlink dump or `ip` needed for one route). */
static int
default_route(char out[IF_NAMESIZE])
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[512], ifname[IF_NAMESIZE];
	unsigned long dest, gw, mask;
	unsigned flags, refcnt, use, metric, best = UINT_MAX;

	*out = '\0';
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%15s %lx %lx %x %u %u %u %lx", ifname, &dest, &gw, &flags, &refcnt, &use,
		           &metric, &mask) == 8 &&
		    dest == 0 && mask == 0 && (flags & 1u /* RTF_UP */) && metric < best) {
			best = metric;
			memcpy(out, ifname, IF_NAMESIZE);
		}
	fclose(f);
	return *out ? 0 : -1;
}

static bool
private_v4(uint32_t a)
{
	return (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168);
}

static bool
is_bridge(const char *ifname)
{
	char p[64 + IF_NAMESIZE];

	snprintf(p, sizeof p, "/sys/class/net/%s/bridge", ifname);
	return access(p, F_OK) == 0;
}

/* Every IPv4 subnet on an interface other than the WAN and lo, likeliest LAN first: a
   running interface before one down; a bridge (br-lan, br0: how routers join LAN ports)
   before a plain port; a point-to-point tunnel (VPN) last; then private before public,
   then kernel order (eth1 before eth2). */
static size_t
candidates(const char *wan, struct cand *c, size_t max)
{
	struct ifaddrs *ifs, *i;
	size_t n = 0;

	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && n < max; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask ||
		    (i->ifa_flags & IFF_LOOPBACK) || strcmp(i->ifa_name, wan) == 0)
			continue;
		uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		uint32_t m = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		struct cand *x = &c[n++];
		snprintf(x->ifname, sizeof x->ifname, "%s", i->ifa_name);
		x->addr = a;
		x->net = a & m;
		x->len = (uint8_t)__builtin_popcount(m);
		x->index = if_nametoindex(i->ifa_name);
		x->rank = (!(i->ifa_flags & IFF_RUNNING)) * 8 + (i->ifa_flags & IFF_POINTOPOINT ? 4 : 0) +
		          !is_bridge(i->ifa_name) * 2 + !private_v4(a);
	}
	freeifaddrs(ifs);
	/* Insertion sort: a handful of entries, and a stable order keeps kernel order for ties. */
	for (size_t j = 1; j < n; j++)
		for (size_t k = j; k > 0 && (c[k].rank < c[k - 1].rank ||
		                             (c[k].rank == c[k - 1].rank && c[k].index < c[k - 1].index)); k--) {
			struct cand t = c[k];
			c[k] = c[k - 1];
			c[k - 1] = t;
		}
	return n;
}

/* The host name as a table value: no comment characters, not empty. */
static void
site_name(char *out, size_t n)
{
	if (gethostname(out, n) < 0 || *out == '\0')
		snprintf(out, n, "my site");
	out[n - 1] = '\0';
	for (char *p = out; *p; p++)
		if (*p == ';' || *p == '#' || *p == '\n' || *p == '\r')
			*p = '-';
}

/* An address inside the LAN for the example mapping: .10 when the subnet has room. */
static void
example_host(const struct cand *lan, char out[16])
{
	uint32_t size = lan && lan->len < 32 ? 1u << (32 - lan->len) : 0;
	uint32_t h = size > 12 ? 10 : 1;

	pp_format_ipv4(lan && size > 2 ? lan->net + h : (192u << 24 | 168u << 16 | 2u << 8 | 10u), out);
}

static char *
render(const char *wan, bool wan_detected, const char *lanif, const struct cand *lan,
       const struct cand *all, size_t n)
{
	struct pp_buf b = { 0 };
	char host[256], net[16], ex[16], when[20];
	bool others = false;

	site_name(host, sizeof host);
	pp_format_datetime(time(NULL), when);
	example_host(lan, ex);
	pp_buf_printf(&b,
	              "; portpilot mapping table, written by `portpilot init` on %s at %s.\n"
	              "; [site] describes the router; every other section is one mapping.\n"
	              "; portpilot check validates it, portpilot add/set edit it (comments stay),\n"
	              "; portpilot apply --confirm 120 puts it into netfilter. See portpilot(8), THE TABLE.\n\n",
	              host, when);
	pp_buf_printf(&b, "[site]\nname          = %s\n", host);
	pp_buf_printf(&b, "; %s\n", wan_detected ? "detected: the interface of the default route"
	                                       : "given with --wan");
	pp_buf_printf(&b, "wan_interface = %s\n", wan);
	if (lan) {
		pp_format_ipv4(lan->net, net);
		pp_buf_printf(&b, "; %s (the router is %u.%u.%u.%u on it)\n",
		              lanif ? "given with --lan" : "detected: a private IPv4 subnet that is not the WAN",
		              lan->addr >> 24, lan->addr >> 16 & 255, lan->addr >> 8 & 255, lan->addr & 255);
		pp_buf_printf(&b, "lan_interface = %s\nlan_subnet    = %s/%u\n", lan->ifname, net, lan->len);
	} else {
		pp_buf_printf(&b, "; given with --lan; it has no IPv4 address now, so lan_subnet is read from\n"
		              "; it when portpilot runs (or write lan_subnet = NETWORK/LEN)\n"
		              "lan_interface = %s\n", lanif);
	}
	for (size_t i = 0; i < n; i++) {
		if (lan && &all[i] == lan)
			continue;
		if (!others)
			pp_buf_addstr(&b, "; other subnets on this router (to use one, change lan_interface and"
			              " lan_subnet):\n");
		others = true;
		pp_format_ipv4(all[i].net, net);
		pp_buf_printf(&b, ";   %-15s %s/%u\n", all[i].ifname, net, all[i].len);
	}
	pp_buf_addstr(&b, "; auto: the WAN interface's address; or write the fixed public address\n"
	              "public_ip     = auto\n"
	              "; yes: LAN clients may use the public address (and port) too\n"
	              "hairpin       = yes\n\n");
	pp_buf_printf(&b,
	              "; An example mapping: remove the ';' in front of its lines to use it, or run\n"
	              ";   portpilot add web-1 public_port=8080 internal_ip=%s internal_port=80\n"
	              ";[web-1]\n"
	              ";description   = Project portal\n"
	              ";protocol      = tcp               ; tcp | udp | both\n"
	              ";public_port   = 8080              ; or a range 10000-10099\n"
	              ";internal_ip   = %s\n"
	              ";internal_port = 80                ; same length as public_port when a range\n"
	              ";allow         = 198.51.100.0/24   ; who may connect: IPv4 CIDRs, default any\n"
	              ";enabled       = yes\n"
	              ";owner         = the engineer to ask\n"
	              ";purpose       = why it is open\n"
	              ";expires       = 2030-12-31T18:00  ; optional, local time: temporary access\n",
	              ex, ex);
	return b.data;
}

static int
exists_error(struct pp_cli *cli, const char *path)
{
	fprintf(cli->err, "portpilot init: %s already exists; init never overwrites a table: edit it with "
	        "portpilot set/add, or move it away and run init again\n", path);
	return PP_EXIT_USAGE;
}

/* The whole file appears at once with mode 0644, or not at all: written to a temporary
   file beside it, then moved into place only if nothing is there (no clobbering). */
static int
create_file(struct pp_cli *cli, const char *path, const char *text)
{
	char *copy = pp_xstrdup(path), *dir = dirname(copy);
	char *tmp = pp_xasprintf("%s/.portpilot-init.XXXXXX", dir);
	struct stat st;
	int fd, rc = PP_EXIT_FAIL;

	/* /etc/portpilot on a new router; another directory is the user's to make. */
	if (stat(dir, &st) < 0 && errno == ENOENT && strcmp(path, PP_DEFAULT_TABLE) == 0 &&
	    mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(cli->err, "portpilot init: cannot create the directory %s: %s%s\n", dir, strerror(errno),
		        errno == EACCES || errno == EPERM ? "; run as root" : "");
		goto out;
	}
	const char *why = stat(dir, &st) < 0 ? (errno == ENOENT ? "does not exist" : strerror(errno))
	                  : !S_ISDIR(st.st_mode) ? "is not a directory" : NULL;
	if (why) {
		fprintf(cli->err, "portpilot init: %s: the directory %s %s; create it, or give another "
		        "path with -f FILE\n", path, dir, why);
		rc = PP_EXIT_USAGE;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(cli->err, "portpilot init: cannot create a file in %s: %s%s\n", dir, strerror(errno),
		        errno == EACCES ? "; run as root" : "");
		goto out;
	}
	if (fchmod(fd, 0644) < 0 || pp_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		fprintf(cli->err, "portpilot init: cannot write %s: %s; nothing was written\n", tmp,
		        strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	/* link() fails with EEXIST instead of replacing: the no-overwrite check and the
	   creation are one step, so a table made meanwhile by someone else survives. */
	if (link(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		if (e == EEXIST)
			rc = exists_error(cli, path);
		else
			fprintf(cli->err, "portpilot init: cannot create %s: %s; nothing was written\n", path,
			        strerror(e));
		goto out;
	}
	unlink(tmp);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	rc = PP_EXIT_OK;
out:
	free(tmp);
	free(copy);
	return rc;
}

int
pp_cmd_init(struct pp_cli *cli, int argc, char **argv)
{
	char wan[IF_NAMESIZE] = "", net[16] = "";
	const char *wan_opt = NULL, *lan_opt = NULL;
	struct cand c[MAX_CANDS];
	const struct cand *lan = NULL;
	size_t n;
	char *text;
	int rc;

	(void)argc, (void)argv;
	wan_opt = pp_opt(cli, "wan");
	lan_opt = pp_opt(cli, "lan");
	for (int i = 0; i < 2; i++) {
		const char *v = i ? lan_opt : wan_opt;
		if (v && (*v == '\0' || strlen(v) >= IF_NAMESIZE || strpbrk(v, " \t;#=/")))
			return pp_cli_usage(cli, "init", "'%s' is not an interface name", v);
	}
	if (access(cli->table_path, F_OK) == 0)
		return exists_error(cli, cli->table_path);
	if (wan_opt)
		snprintf(wan, sizeof wan, "%s", wan_opt);
	else if (default_route(wan) < 0) {
		fprintf(cli->err, "portpilot init: no IPv4 default route here, so the WAN interface is unknown; "
		        "give it with --wan IF (see ip -4 route)\n");
		return PP_EXIT_FAIL;
	}
	if (lan_opt && strcmp(lan_opt, wan) == 0)
		return pp_cli_usage(cli, "init", "--lan %s is also the WAN interface; give two interfaces", lan_opt);
	n = candidates(wan, c, MAX_CANDS);
	for (size_t i = 0; i < n && !lan; i++)
		if (lan_opt ? strcmp(c[i].ifname, lan_opt) == 0 : private_v4(c[i].net))
			lan = &c[i];
	if (!lan && !lan_opt) {
		fprintf(cli->err, "portpilot init: no interface other than the WAN %s has a private IPv4 subnet; "
		        "give the LAN with --lan IF\n", wan);
		return PP_EXIT_FAIL;
	}
	if (wan_opt && if_nametoindex(wan_opt) == 0)
		fprintf(cli->err, "portpilot init: warning: there is no interface %s here (written as given)\n", wan_opt);
	if (lan_opt && if_nametoindex(lan_opt) == 0)
		fprintf(cli->err, "portpilot init: warning: there is no interface %s here (written as given)\n", lan_opt);
	text = render(wan, wan_opt == NULL, lan_opt, lan, c, n);
	rc = create_file(cli, cli->table_path, text);
	free(text);
	if (rc != PP_EXIT_OK)
		return rc;
	if (lan)
		pp_format_ipv4(lan->net, net);
	if (cli->json) {
		fputs("{\"file\":", cli->out);
		pp_json_str(cli->out, cli->table_path);
		fputs(",\"wan_interface\":", cli->out);
		pp_json_str(cli->out, wan);
		fputs(",\"lan_interface\":", cli->out);
		pp_json_str(cli->out, lan ? lan->ifname : lan_opt);
		fputs(",\"lan_subnet\":", cli->out);
		if (lan)
			fprintf(cli->out, "\"%s/%u\"", net, lan->len);
		else
			fputs("null", cli->out);
		fputs("}\n", cli->out);
		return PP_EXIT_OK;
	}
	fprintf(cli->out, "wrote %s: WAN %s, LAN %s", cli->table_path, wan, lan ? lan->ifname : lan_opt);
	if (lan)
		fprintf(cli->out, " %s/%u", net, lan->len);
	char *pp = strcmp(cli->table_path, PP_DEFAULT_TABLE) ? pp_xasprintf("portpilot -f %s", cli->table_path)
	                                                     : pp_xstrdup("portpilot");
	fprintf(cli->out, "\nnext: %s add NAME public_port=PORT internal_ip=ADDRESS, then %s apply --confirm 120\n",
	        pp, pp);
	free(pp);
	return PP_EXIT_OK;
}
