/* The conntrack flush's outcomes with ctnetlink faked: removed, refused, gone, unreadable. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include "portpilot/backend.h"

static int open_errno;                  /* nfct_open fails with it when set */
static int destroy_errno;               /* each NFCT_Q_DESTROY fails with it when set */
static size_t destroyed;                /* NFCT_Q_DESTROY requests seen */
static int (*dump_cb)(enum nf_conntrack_msg_type, struct nf_conntrack *, void *);
static void *dump_arg;
static int fake_handle;

int
__wrap_pp_sysctl_read(const char *name)
{
	(void)name;
	return 2;
}

struct nfct_handle *
__wrap_nfct_open(uint8_t subsys, unsigned groups)
{
	(void)subsys, (void)groups;
	if (open_errno) {
		errno = open_errno;
		return NULL;
	}
	return (struct nfct_handle *)&fake_handle;
}

int
__wrap_nfct_close(struct nfct_handle *h)
{
	(void)h;
	return 0;
}

int
__wrap_nfct_callback_register(struct nfct_handle *h, enum nf_conntrack_msg_type t,
                              int (*cb)(enum nf_conntrack_msg_type, struct nf_conntrack *, void *), void *arg)
{
	(void)h, (void)t;
	dump_cb = cb;
	dump_arg = arg;
	return 0;
}

void
__wrap_nfct_callback_unregister(struct nfct_handle *h)
{
	(void)h;
	dump_cb = NULL;
}

/* 203.0.113.10:40000 -> 203.0.113.1:dport, answered by reply_src. */
static void
one(uint16_t dport, const char *reply_src)
{
	struct nf_conntrack *ct = nfct_new();
	nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
	nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_TCP);
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, inet_addr("203.0.113.10"));
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, inet_addr("203.0.113.1"));
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(40000));
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(dport));
	nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, inet_addr(reply_src));
	dump_cb(NFCT_T_UPDATE, ct, dump_arg);
	nfct_destroy(ct);
}

int
__wrap_nfct_query(struct nfct_handle *h, enum nf_conntrack_query q, const void *data)
{
	(void)h, (void)data;
	if (q == NFCT_Q_DUMP) {
		one(8080, "192.168.2.101");     /* DNATed, a changed port: goes */
		one(8090, "192.168.2.102");     /* DNATed, another port: stays */
		one(8080, "198.51.100.7");      /* DNATed elsewhere on the changed port: goes */
		return 0;
	}
	destroyed++;
	if (destroy_errno) {
		errno = destroy_errno;
		return -1;
	}
	return 0;
}

static struct pp_flush port8080 = { PP_TCP, 8080, 8080 };

/* The flush of an apply that changed the mapping of TCP 8080. */
static struct pp_plan
flush8080(void)
{
	struct pp_plan p = { .flush = &port8080, .nflush = 1 };
	pp_conntrack_flush(&p);
	return p;
}

static int
reset(void **state)
{
	(void)state;
	open_errno = destroy_errno = 0;
	destroyed = 0;
	return 0;
}

static void
test_removes_only_the_changed_port(void **state)
{
	(void)state;
	struct pp_plan p = flush8080();
	assert_int_equal(destroyed, 2);
	assert_int_equal(p.flows_removed, 2);
	assert_int_equal(p.flows_failed, 0);
	assert_false(p.flows_unlisted);
}

static void
test_refused_removal_is_counted(void **state)
{
	(void)state;
	destroy_errno = EPERM;
	struct pp_plan p = flush8080();
	assert_int_equal(p.flows_removed, 0);
	assert_int_equal(p.flows_failed, 2);
	assert_int_equal(p.flows_errno, EPERM);
	assert_false(p.flows_unlisted);
}

static void
test_flow_gone_meanwhile_is_no_failure(void **state)
{
	(void)state;
	destroy_errno = ENOENT;
	struct pp_plan p = flush8080();
	assert_int_equal(p.flows_removed, 0);
	assert_int_equal(p.flows_failed, 0);
	assert_false(p.flows_unlisted);
}

static void
test_unreadable_table_is_reported(void **state)
{
	(void)state;
	open_errno = EPROTONOSUPPORT;
	struct pp_plan p = flush8080();
	assert_true(p.flows_unlisted);
	assert_int_equal(p.flows_errno, EPROTONOSUPPORT);
	assert_int_equal(destroyed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_removes_only_the_changed_port, reset),
		cmocka_unit_test_setup(test_refused_removal_is_counted, reset),
		cmocka_unit_test_setup(test_flow_gone_meanwhile_is_no_failure, reset),
		cmocka_unit_test_setup(test_unreadable_table_is_reported, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
