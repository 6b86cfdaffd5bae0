/* WireGuard for the relay: keys (OpenSSL X25519), the interface (kernel or wireguard-go), and its peers. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "portpilot/backend.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"

/* The public key of a raw 32-byte private key, base64. */
static int
public_of(const unsigned char priv[32], char pub[PP_WG_KEY_LEN + 1])
{
	unsigned char raw[32];
	size_t n = sizeof raw;
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	int ok = k && EVP_PKEY_get_raw_public_key(k, raw, &n) == 1 && n == 32;
	EVP_PKEY_free(k);
	if (ok)
		EVP_EncodeBlock((unsigned char *)pub, raw, 32);
	return ok ? 0 : -1;
}

int
pp_wg_key_public(const char *path, char pub[PP_WG_KEY_LEN + 1], struct pp_error *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return pp_error_set(err, "%s: cannot read the private key: %s%s", path, strerror(errno),
		                    errno == ENOENT ? " (make one with `portpilot relay keygen` or `portpilot edge keygen`)"
		                                    : "");
	struct stat st;
	char text[128];
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & 077))
		n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0) {
		bool reg = S_ISREG(st.st_mode);
		return pp_error_set(err, "%s: the private key must be a regular file of mode 0600: %s", path,
		                    !reg ? "it is not a regular file" : "others may read it: chmod 600 it, and make a new "
		                    "key if anyone could have read this one");
	}
	text[n] = '\0';
	pp_trim(text);
	unsigned char raw[48];
	int ok = pp_wg_key_valid(text) && EVP_DecodeBlock(raw, (unsigned char *)text, PP_WG_KEY_LEN) >= 32 &&
	         public_of(raw, pub) == 0;
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(text, sizeof text);
	if (!ok)
		return pp_error_set(err, "%s: not a WireGuard private key (44 base64 characters): remove the file and "
		                    "make a new key with keygen", path);
	return 0;
}

int
pp_wg_key_ensure(const char *dir, const char *name, char pub[PP_WG_KEY_LEN + 1], bool *created,
                 struct pp_error *err)
{
	char *path = pp_xasprintf("%s/%s", dir, name);
	*created = false;
	if (access(path, F_OK) == 0 || errno != ENOENT) {
		int rc = pp_wg_key_public(path, pub, err);
		free(path);
		return rc;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		pp_error_set(err, "%s: cannot make the state directory: %s", dir, strerror(errno));
		free(path);
		return -1;
	}
	unsigned char raw[32];
	char text[PP_WG_KEY_LEN + 2];
	size_t n = sizeof raw;
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	int ok = ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &k) == 1 &&
	         EVP_PKEY_get_raw_private_key(k, raw, &n) == 1 && n == 32 && public_of(raw, pub) == 0;
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	EVP_EncodeBlock((unsigned char *)text, raw, 32);
	OPENSSL_cleanse(raw, sizeof raw);
	text[PP_WG_KEY_LEN] = '\n';
	/* A temporary file linked into place: a crash leaves no half key, a second keygen no overwrite. */
	char *tmp = pp_xasprintf("%s.tmp-%ld", path, (long)getpid());
	int fd = ok ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	int rc = -1;
	if (!ok)
		pp_error_set(err, "cannot make a WireGuard key: OpenSSL has no X25519 here");
	else if (fd < 0)
		pp_error_set(err, "%s: cannot write the private key: %s", tmp, strerror(errno));
	else if (fchmod(fd, 0600) < 0 || pp_write_all(fd, text, PP_WG_KEY_LEN + 1) < 0 || fsync(fd) < 0)
		pp_error_set(err, "%s: cannot write the private key: %s", tmp, strerror(errno));
	else if (link(tmp, path) < 0)
		pp_error_set(err, "%s: cannot put the private key in place: %s", path, strerror(errno));
	else
		rc = 0, *created = true;
	OPENSSL_cleanse(text, sizeof text);
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(path);
	return rc;
}

bool
pp_wg_link_exists(const char *ifname)
{
	return if_nametoindex(ifname) != 0;
}

/* An interface wg can talk to (kernel or wireguard-go): never take a plain one (the WAN) for ours. */
static bool
is_wg(const char *ifname)
{
	char *argv[] = { "wg", "show", (char *)ifname, "public-key", NULL };
	return pp_run(argv, NULL, NULL, NULL) == 0;
}

/* Run argv; on failure err names the command and what it said. */
static int
run(char *const argv[], struct pp_error *err)
{
	char *e = NULL;
	int rc = pp_run(argv, NULL, NULL, &e);
	if (rc != 0) {
		pp_error_set(err, "%s %s failed: %.300s", argv[0], argv[1] ? argv[1] : "", e && *e ? pp_trim(e)
		             : rc < 0 ? "cannot start it (is it installed? apt-get install wireguard-tools wireguard-go)"
		             : "no message");
		rc = -1;
	}
	free(e);
	return rc;
}

int
pp_wg_link_up(const char *ifname, bool *userspace, struct pp_error *err)
{
	*userspace = false;
	if (pp_wg_link_exists(ifname))
		return is_wg(ifname) ? 0 : pp_error_set(err, "%s is an interface but not a WireGuard one: name the "
		                                        "relay's own interface (relay_interface / [edge] interface), "
		                                        "e.g. pp-relay", ifname);
	/* Kernel WireGuard first: faster, and it needs no process of its own. */
	char *kern[] = { "ip", "link", "add", (char *)ifname, "type", "wireguard", NULL };
	if (pp_run(kern, NULL, NULL, NULL) == 0)
		return 0;
	/* wireguard-go forks itself into the background once the interface exists. */
	char *go[] = { "wireguard-go", (char *)ifname, NULL };
	if (run(go, err) < 0)
		return pp_error_set(err, "%s: cannot make the WireGuard interface: the kernel has no WireGuard and "
		                    "wireguard-go failed (%.400s): apt-get install wireguard-go", ifname, err->msg);
	*userspace = true;
	if (!pp_wg_link_exists(ifname))
		return pp_error_set(err, "%s: wireguard-go started but the interface is not there", ifname);
	return 0;
}

int
pp_wg_link_down(const char *ifname, struct pp_error *err)
{
	if (!pp_wg_link_exists(ifname))
		return 0;
	if (!is_wg(ifname))
		return pp_error_set(err, "%s is not a WireGuard interface: left alone (is relay_interface / [edge] "
		                    "interface the name of another interface?)", ifname);
	/* wireguard-go ends when its interface goes; the kernel's just goes. */
	char *del[] = { "ip", "link", "del", (char *)ifname, NULL };
	return run(del, err);
}

static struct pp_wg_peer *
peer_of(struct pp_wg_peer **v, size_t *n, const char *key, size_t klen)
{
	if (klen != PP_WG_KEY_LEN)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		if (strncmp((*v)[i].key, key, klen) == 0)
			return &(*v)[i];
	*v = pp_xrealloc(*v, (*n + 1) * sizeof **v);
	struct pp_wg_peer *p = &(*v)[(*n)++];
	memset(p, 0, sizeof *p);
	memcpy(p->key, key, klen);
	return p;
}

/* `wg show IF what`: lines of "KEY\tVALUE[\tVALUE]"; never the dump, which holds the private key. */
static int
show(const char *ifname, const char *what, struct pp_wg_peer **v, size_t *n, struct pp_error *err)
{
	char *out = NULL, *e = NULL;
	char *argv[] = { "wg", "show", (char *)ifname, (char *)what, NULL };
	int rc = pp_run(argv, NULL, &out, &e);
	if (rc != 0) {
		pp_error_set(err, "%s: wg show failed: %.300s", ifname, e && *e ? pp_trim(e) : "cannot run wg "
		             "(apt-get install wireguard-tools)");
		free(out);
		free(e);
		return -1;
	}
	for (char *l = out, *nl; l && *l; l = nl) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = '\0';
		char *tab = strchr(l, '\t');
		if (!tab)
			continue;
		struct pp_wg_peer *p = peer_of(v, n, l, (size_t)(tab - l));
		if (!p)
			continue;
		char *val = tab + 1;
		if (strcmp(what, "latest-handshakes") == 0)
			p->handshake = (time_t)strtoll(val, NULL, 10);
		else if (strcmp(what, "transfer") == 0)
			p->rx = strtoull(val, &val, 10), p->tx = strtoull(val, NULL, 10);
		else if (strcmp(val, "(none)") != 0)
			snprintf(p->endpoint, sizeof p->endpoint, "%s", val);
	}
	free(out);
	free(e);
	return 0;
}

int
pp_wg_peers(const char *ifname, struct pp_wg_peer **out, size_t *n, struct pp_error *err)
{
	*out = NULL;
	*n = 0;
	if (!pp_wg_link_exists(ifname))
		return pp_error_set(err, "%s: the WireGuard interface is not there (down)", ifname);
	static const char *const what[] = { "latest-handshakes", "transfer", "endpoints" };
	for (size_t i = 0; i < 3; i++)
		if (show(ifname, what[i], out, n, err) < 0) {
			free(*out);
			*out = NULL;
			*n = 0;
			return -1;
		}
	return 0;
}
