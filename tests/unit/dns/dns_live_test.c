/* dns_live_test.c: src/dns against a real DNS server.  Starts a private
 * unbound (Debian package "unbound") on a free loopback port serving a
 * test zone, and points libunbound at it as its forwarder.  Without the
 * unbound binary every test is skipped.
 *
 * Covers MX order and randomness among equal preferences, null MX, no MX
 * (the domain's own addresses), NXDOMAIN, an MX host without address,
 * CNAMEs, SERVFAIL and a dead server (DNS_TEMP), AAAA before A, TXT
 * concatenation, TLSA, cancellation, and that no answer ever arrives from
 * inside the call that asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns/dns_int.h"

#define LIVE_WAIT_MS	15000

static const char *const live_unbound_paths[] = {
	"/usr/sbin/unbound", "/usr/local/sbin/unbound", NULL,
};

static const char live_zone[] =
    "  local-zone: \"example.net.\" static\n"
    "  local-data: \"eq.example.net. MX 10 a.example.net.\"\n"
    "  local-data: \"eq.example.net. MX 10 b.example.net.\"\n"
    "  local-data: \"eq.example.net. MX 10 c.example.net.\"\n"
    "  local-data: \"eq.example.net. MX 5 first.example.net.\"\n"
    "  local-data: \"eq.example.net. MX 50 last.example.net.\"\n"
    "  local-data: \"a.example.net. A 127.0.1.1\"\n"
    "  local-data: \"b.example.net. A 127.0.1.2\"\n"
    "  local-data: \"c.example.net. A 127.0.1.3\"\n"
    "  local-data: \"first.example.net. A 127.0.1.4\"\n"
    "  local-data: \"first.example.net. AAAA 2001:db8::4\"\n"
    "  local-data: \"last.example.net. A 127.0.1.5\"\n"
    "  local-data: \"null.example.net. MX 0 .\"\n"
    "  local-data: \"implicit.example.net. A 127.0.2.1\"\n"
    "  local-data: \"implicit.example.net. AAAA 2001:db8::21\"\n"
    "  local-data: 'implicit.example.net. TXT \"no mx here\"'\n"
    "  local-data: 'bare.example.net. TXT \"nothing else\"'\n"
    "  local-data: \"ghost.example.net. MX 10 nohost.example.net.\"\n"
    "  local-data: \"half.example.net. MX 10 nohost.example.net.\"\n"
    "  local-data: \"half.example.net. MX 20 b.example.net.\"\n"
    "  local-data: \"viacname.example.net. MX 10 alias.example.net.\"\n"
    "  local-data: \"alias.example.net. CNAME c.example.net.\"\n"
    "  local-data: 'spf.example.net. TXT \"v=spf1 \" "
    "\"include:_spf.example.org\" \" -all\"'\n"
    "  local-data: 'spf.example.net. TXT \"other\"'\n"
    "  local-data: \"cancel.example.net. MX 10 d.example.net.\"\n"
    "  local-data: \"d.example.net. A 127.0.1.6\"\n"
    "  local-data: \"_25._tcp.a.example.net. TLSA 3 1 1 "
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\"\n"
    "  local-zone: \"refused.example.org.\" refuse\n"
    "  local-zone: \"mail.test.\" static\n"
    "  local-data: \"mail.test. MX 10 mx.mail.test.\"\n"
    "  local-data: \"mx.mail.test. A 127.0.3.1\"\n";

struct live {
	bool		 have;		/* unbound runs */
	pid_t		 pid;
	char		 dir[256];
	uint16_t	 port;		/* unbound's */
	uint16_t	 dead_port;	/* nothing listens there */
	struct event_base *base;
	struct dns	*dns;
};

static struct live live;

/* What a callback saw. */
struct got {
	bool		 done;
	bool		 in_call;	/* set around the dns_* call */
	bool		 from_inside;	/* the callback ran during it */
	enum dns_status	 status;
	char		 why[128];
	size_t		 nhosts, naddrs;
	char		 hosts[DNS_MX_HOSTS_MAX][DNS_NAME_TEXT_MAX];
	unsigned	 prefs[DNS_MX_HOSTS_MAX];
	size_t		 host_naddr[DNS_MX_HOSTS_MAX];
	char		 addrs[2 * DNS_ADDRS_MAX][INET6_ADDRSTRLEN];
	bool		 implicit;
	size_t		 ntxt;
	char		 txt[4][128];
	uint8_t		 tlsa[4];	/* usage selector mtype len */
	uint8_t		 tlsa_first, tlsa_last;
};

/*
 * The server.
 */

/* FACTEUR_TEST_UNBOUND overrides the binary ("" or a missing file: skip). */
static const char *
live_unbound(void)
{
	const char *env = getenv("FACTEUR_TEST_UNBOUND");

	if (env != NULL)
		return access(env, X_OK) == 0 ? env : NULL;
	for (size_t i = 0; live_unbound_paths[i] != NULL; i++) {
		if (access(live_unbound_paths[i], X_OK) == 0)
			return live_unbound_paths[i];
	}
	return NULL;
}

/* A loopback port free for UDP and TCP at this moment. */
static uint16_t
live_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int u, t;
	uint16_t port;

	for (;;) {
		u = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(u >= 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(u, (struct sockaddr *)&sin, sizeof(sin)),
		    0);
		assert_int_equal(getsockname(u, (struct sockaddr *)&sin, &len),
		    0);
		port = ntohs(sin.sin_port);
		t = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(t >= 0);
		if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(t);
			close(u);
			return port;
		}
		close(t);
		close(u);
	}
}

static void
live_write_conf(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "server:\n"
	    "  interface: 127.0.0.1@%u\n"
	    "  interface-automatic: no\n"
	    "  do-daemonize: no\n"
	    "  chroot: \"\"\n"
	    "  username: \"\"\n"
	    "  directory: \"%s\"\n"
	    "  pidfile: \"%s/unbound.pid\"\n"
	    "  use-syslog: no\n"
	    "  verbosity: 0\n"
	    "  num-threads: 1\n"
	    "  so-reuseport: no\n"
	    "  outgoing-range: 32\n"
	    "  do-ip6: no\n"
	    "  access-control: 127.0.0.0/8 allow\n"
	    "  module-config: \"iterator\"\n"
	    "%s"
	    "remote-control:\n"
	    "  control-enable: no\n", live.port, live.dir, live.dir, live_zone);
	assert_int_equal(fclose(f), 0);
}

/* A query for "a.example.net" A over UDP: does it answer? */
static bool
live_answers(uint16_t port)
{
	static const uint8_t q[] = "\0\1\1\0\0\1\0\0\0\0\0\0"
	    "\1a\7example\3net\0\0\1\0\1";
	struct sockaddr_in sin;
	struct pollfd pfd;
	uint8_t buf[512];
	bool ok = false;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(s >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(s, q, sizeof(q) - 1, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) > 0) {
		pfd.fd = s;
		pfd.events = POLLIN;
		ok = poll(&pfd, 1, 200) == 1 &&
		    recv(s, buf, sizeof(buf), 0) > 12;
	}
	close(s);
	return ok;
}

static void
live_start(const char *bin)
{
	char conf[300], out[300];
	int fd;

	(void)snprintf(conf, sizeof(conf), "%s/unbound.conf", live.dir);
	(void)snprintf(out, sizeof(out), "%s/unbound.out", live.dir);
	live.port = live_free_port();
	live_write_conf(conf);
	if ((live.pid = fork()) == 0) {
		/* gone with us, even if a test crashes */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
		}
		execl(bin, "unbound", "-d", "-c", conf, (char *)NULL);
		_exit(127);
	}
	assert_true(live.pid > 0);
	for (int i = 0; i < 100; i++) {
		if (live_answers(live.port)) {
			live.have = true;
			return;
		}
		if (waitpid(live.pid, NULL, WNOHANG) == live.pid) {
			live.pid = 0;
			break;
		}
	}
	if (live.pid > 0) {
		(void)kill(live.pid, SIGTERM);
		(void)waitpid(live.pid, NULL, 0);
		live.pid = 0;
	}
	fail_msg("unbound did not start; see %s", out);
}

static int
live_setup(void **state)
{
	const char *bin = live_unbound(), *tmp = getenv("FACTEUR_TEST_TMP");
	struct dns_options opt = { 0 };
	char resolver[64];
	const char *err = NULL;

	if (bin == NULL) {
		fprintf(stderr, "dns_live: no unbound binary: skipping "
		    "(apt-get install unbound)\n");
		return 0;
	}
	if (tmp == NULL)
		tmp = "/tmp";
	(void)mkdir(tmp, 0700);
	(void)snprintf(live.dir, sizeof(live.dir), "%s/dns-live.XXXXXX", tmp);
	assert_non_null(mkdtemp(live.dir));
	live.dead_port = live_free_port();
	live_start(bin);
	live.base = event_base_new();
	assert_non_null(live.base);
	(void)snprintf(resolver, sizeof(resolver), "127.0.0.1@%u", live.port);
	opt.resolver = resolver;
	opt.timeout_ms = 10000;
	live.dns = dns_new(live.base, &opt, &err);
	if (live.dns == NULL)
		fail_msg("dns_new: %s", err);
	return 0;
}

static void
live_rm(const char *name)
{
	char path[300];

	(void)snprintf(path, sizeof(path), "%s/%s", live.dir, name);
	(void)unlink(path);
}

static int
live_teardown(void **state)
{
	dns_free(&live.dns);
	if (live.base != NULL)
		event_base_free(live.base);
	if (live.pid > 0) {
		(void)kill(live.pid, SIGTERM);
		(void)waitpid(live.pid, NULL, 0);
	}
	if (live.dir[0] != '\0') {
		live_rm("unbound.conf");
		live_rm("unbound.out");
		live_rm("unbound.pid");
		(void)rmdir(live.dir);
	}
	return 0;
}

/*
 * Callbacks and the loop.
 */

static void
live_watchdog(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Run the loop until g->done, at most LIVE_WAIT_MS. */
static void
live_wait(struct got *g)
{
	struct timeval tv = { LIVE_WAIT_MS / 1000, 0 };
	bool expired = false;
	struct event *ev = evtimer_new(live.base, live_watchdog, &expired);

	evtimer_add(ev, &tv);
	while (!g->done && !expired)
		event_base_loop(live.base, EVLOOP_ONCE);
	event_free(ev);
	assert_true(g->done);
}

/* Run the loop for ms, whatever happens. */
static void
live_run_for(unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	bool expired = false;
	struct event *ev = evtimer_new(live.base, live_watchdog, &expired);

	evtimer_add(ev, &tv);
	while (!expired)
		event_base_loop(live.base, EVLOOP_ONCE);
	event_free(ev);
}

static void
got_common(struct got *g, enum dns_status st, const char *why)
{
	assert_false(g->done);
	g->done = true;
	g->from_inside = g->in_call;
	g->status = st;
	(void)snprintf(g->why, sizeof(g->why), "%s", why != NULL ? why : "");
}

static void
got_mx(void *arg, const struct dns_mx_result *res)
{
	struct got *g = arg;

	got_common(g, res->status, res->why);
	g->nhosts = res->nhosts;
	g->naddrs = res->naddrs;
	g->implicit = res->implicit;
	for (size_t i = 0; i < res->nhosts; i++) {
		memcpy(g->hosts[i], res->hosts[i].name, DNS_NAME_TEXT_MAX);
		g->prefs[i] = res->hosts[i].pref;
		g->host_naddr[i] = res->hosts[i].naddr;
	}
	for (size_t i = 0; i < res->naddrs; i++)
		(void)dns_ip_ntop(&res->addrs[i], g->addrs[i],
		    sizeof(g->addrs[i]));
}

static void
got_addr(void *arg, const struct dns_addr_result *res)
{
	struct got *g = arg;

	got_common(g, res->status, res->why);
	g->naddrs = res->naddrs;
	for (size_t i = 0; i < res->naddrs; i++)
		(void)dns_ip_ntop(&res->addrs[i], g->addrs[i],
		    sizeof(g->addrs[i]));
}

static void
got_txt(void *arg, const struct dns_txt_result *res)
{
	struct got *g = arg;

	got_common(g, res->status, res->why);
	g->ntxt = res->ntxt;
	for (size_t i = 0; i < res->ntxt && i < 4; i++) {
		assert_int_equal(res->txt[i].p[res->txt[i].len], '\0');
		(void)snprintf(g->txt[i], sizeof(g->txt[i]), "%.*s",
		    (int)res->txt[i].len, res->txt[i].p);
	}
}

static void
got_tlsa(void *arg, const struct dns_tlsa_result *res)
{
	struct got *g = arg;

	got_common(g, res->status, res->why);
	g->ntxt = res->ntlsa;
	if (res->ntlsa > 0) {
		g->tlsa[0] = res->tlsa[0].usage;
		g->tlsa[1] = res->tlsa[0].selector;
		g->tlsa[2] = res->tlsa[0].mtype;
		g->tlsa[3] = (uint8_t)res->tlsa[0].len;
		g->tlsa_first = res->tlsa[0].data[0];
		g->tlsa_last = res->tlsa[0].data[res->tlsa[0].len - 1];
	}
}

static void
never_mx(void *arg, const struct dns_mx_result *res)
{
	fail_msg("a cancelled lookup called back");
}

static void
live_mx(struct dns *dns, const char *domain, struct got *g)
{
	memset(g, 0, sizeof(*g));
	g->in_call = true;
	assert_non_null(dns_mx(dns, domain, got_mx, g));
	g->in_call = false;
	live_wait(g);
	assert_false(g->from_inside);
}

#define LIVE_NEED()	do { if (!live.have) { skip(); return; } } while (0)

/*
 * Tests.
 */

static void
test_mx_order(void **state)
{
	struct got g;

	LIVE_NEED();
	live_mx(live.dns, "eq.example.net", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_false(g.implicit);
	assert_int_equal(g.nhosts, 5);
	assert_string_equal(g.hosts[0], "first.example.net");
	assert_int_equal(g.prefs[0], 5);
	for (size_t i = 1; i <= 3; i++)
		assert_int_equal(g.prefs[i], 10);
	assert_string_equal(g.hosts[4], "last.example.net");
	assert_int_equal(g.prefs[4], 50);
	/* IPv6 first, then IPv4, hosts in order */
	assert_int_equal(g.naddrs, 6);
	assert_int_equal(g.host_naddr[0], 2);
	assert_string_equal(g.addrs[0], "2001:db8::4");
	assert_string_equal(g.addrs[1], "127.0.1.4");
	assert_string_equal(g.addrs[5], "127.0.1.5");
}

static void
test_mx_random(void **state)
{
	unsigned orders = 0;
	char first[4] = "", cur[4];
	struct got g;

	LIVE_NEED();
	for (int run = 0; run < 40; run++) {
		live_mx(live.dns, "eq.example.net.", &g);
		assert_int_equal(g.status, DNS_OK);
		for (size_t i = 0; i < 3; i++)
			cur[i] = g.hosts[1 + i][0];
		cur[3] = '\0';
		assert_true(strchr(cur, 'a') && strchr(cur, 'b') &&
		    strchr(cur, 'c'));
		if (first[0] == '\0')
			memcpy(first, cur, 4);
		else if (strcmp(first, cur) != 0)
			orders++;
	}
	assert_true(orders > 0);
}

static void
test_mx_null(void **state)
{
	struct got g;

	LIVE_NEED();
	live_mx(live.dns, "null.example.net", &g);
	assert_int_equal(g.status, DNS_NULL_MX);
	assert_int_equal(g.nhosts, 0);
	assert_non_null(strstr(g.why, "null MX"));
}

static void
test_mx_implicit(void **state)
{
	struct got g;

	LIVE_NEED();
	live_mx(live.dns, "implicit.example.net", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_true(g.implicit);
	assert_int_equal(g.nhosts, 1);
	assert_string_equal(g.hosts[0], "implicit.example.net");
	assert_int_equal(g.prefs[0], 0);
	assert_int_equal(g.naddrs, 2);
	assert_string_equal(g.addrs[0], "2001:db8::21");
	assert_string_equal(g.addrs[1], "127.0.2.1");

	/* a name with neither MX nor address */
	live_mx(live.dns, "bare.example.net", &g);
	assert_int_equal(g.status, DNS_PERM);
	assert_true(g.implicit);
	assert_string_equal(g.why, "no MX and no address record");
}

static void
test_mx_nxdomain(void **state)
{
	struct got g;

	LIVE_NEED();
	live_mx(live.dns, "nx.example.net", &g);
	assert_int_equal(g.status, DNS_PERM);
	assert_string_equal(g.why, "no such domain");

	/* an MX host without address: permanent */
	live_mx(live.dns, "ghost.example.net", &g);
	assert_int_equal(g.status, DNS_PERM);
	assert_int_equal(g.nhosts, 1);
	assert_int_equal(g.naddrs, 0);

	/* one host without address, the next has one */
	live_mx(live.dns, "half.example.net", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.nhosts, 2);
	assert_int_equal(g.host_naddr[0], 0);
	assert_int_equal(g.host_naddr[1], 1);
	assert_string_equal(g.addrs[0], "127.0.1.2");
}

static void
test_mx_cname(void **state)
{
	struct got g;

	LIVE_NEED();
	live_mx(live.dns, "viacname.example.net", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_string_equal(g.hosts[0], "alias.example.net");
	assert_int_equal(g.naddrs, 1);
	assert_string_equal(g.addrs[0], "127.0.1.3");
}

/* libunbound's own "test." zone gives way to the forwarder's */
static void
test_mx_dot_test(void **state)
{
	struct got g;

	LIVE_NEED();
	live_mx(live.dns, "mail.test", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.naddrs, 1);
	assert_string_equal(g.addrs[0], "127.0.3.1");
}

static void
test_mx_invalid(void **state)
{
	struct got g;

	LIVE_NEED();
	live_mx(live.dns, "bad name.example.net", &g);
	assert_int_equal(g.status, DNS_PERM);
	live_mx(live.dns, "", &g);
	assert_int_equal(g.status, DNS_PERM);
}

static void
test_temp_refused(void **state)
{
	struct got g;

	LIVE_NEED();
	/* the server refuses: libunbound turns that into SERVFAIL */
	live_mx(live.dns, "refused.example.org", &g);
	assert_int_equal(g.status, DNS_TEMP);
}

static void
test_temp_dead_server(void **state)
{
	struct dns_options opt = { 0 };
	struct dns *dead;
	char resolver[64];
	const char *err;
	struct got g;

	LIVE_NEED();
	(void)snprintf(resolver, sizeof(resolver), "127.0.0.1@%u",
	    live.dead_port);
	opt.resolver = resolver;
	opt.timeout_ms = 1500;
	dead = dns_new(live.base, &opt, &err);
	assert_non_null(dead);
	live_mx(dead, "eq.example.net", &g);
	assert_int_equal(g.status, DNS_TEMP);
	memset(&g, 0, sizeof(g));
	assert_non_null(dns_addr(dead, "a.example.net", got_addr, &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_TEMP);
	dns_free(&dead);
	assert_null(dead);
}

static void
test_addr(void **state)
{
	struct dns_options opt = { 0 };
	char resolver[64];
	struct dns *v4first;
	const char *err;
	struct got g;

	LIVE_NEED();
	memset(&g, 0, sizeof(g));
	assert_non_null(dns_addr(live.dns, "first.example.net", got_addr,
	    &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.naddrs, 2);
	assert_string_equal(g.addrs[0], "2001:db8::4");
	assert_string_equal(g.addrs[1], "127.0.1.4");

	memset(&g, 0, sizeof(g));
	assert_non_null(dns_addr(live.dns, "nx.example.net", got_addr, &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_NXDOMAIN);
	memset(&g, 0, sizeof(g));
	assert_non_null(dns_addr(live.dns, "bare.example.net", got_addr, &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_NODATA);

	(void)snprintf(resolver, sizeof(resolver), "127.0.0.1@%u", live.port);
	opt.resolver = resolver;
	opt.families = DNS_FAM_V4_V6;
	v4first = dns_new(live.base, &opt, &err);
	assert_non_null(v4first);
	memset(&g, 0, sizeof(g));
	assert_non_null(dns_addr(v4first, "first.example.net", got_addr, &g));
	live_wait(&g);
	assert_int_equal(g.naddrs, 2);
	assert_string_equal(g.addrs[0], "127.0.1.4");
	assert_string_equal(g.addrs[1], "2001:db8::4");
	dns_free(&v4first);
}

static void
test_txt(void **state)
{
	struct got g;
	int spf;

	LIVE_NEED();
	memset(&g, 0, sizeof(g));
	assert_non_null(dns_txt(live.dns, "spf.example.net", got_txt, &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.ntxt, 2);
	spf = strncmp(g.txt[0], "v=spf1", 6) == 0 ? 0 : 1;
	assert_string_equal(g.txt[spf],
	    "v=spf1 include:_spf.example.org -all");
	assert_string_equal(g.txt[1 - spf], "other");

	memset(&g, 0, sizeof(g));
	assert_non_null(dns_txt(live.dns, "a.example.net", got_txt, &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_NODATA);
	assert_int_equal(g.ntxt, 0);
}

static void
test_tlsa(void **state)
{
	struct got g;

	LIVE_NEED();
	memset(&g, 0, sizeof(g));
	assert_non_null(dns_tlsa(live.dns, "a.example.net", 25, got_tlsa, &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.ntxt, 1);
	assert_int_equal(g.tlsa[0], 3);
	assert_int_equal(g.tlsa[1], 1);
	assert_int_equal(g.tlsa[2], 1);
	assert_int_equal(g.tlsa[3], 32);
	assert_int_equal(g.tlsa_first, 1);
	assert_int_equal(g.tlsa_last, 0x20);

	memset(&g, 0, sizeof(g));
	assert_non_null(dns_tlsa(live.dns, "b.example.net", 25, got_tlsa, &g));
	live_wait(&g);
	assert_int_equal(g.status, DNS_NXDOMAIN);
}

static void
test_cancel(void **state)
{
	struct dns_options opt = { 0 };
	struct dns_query *q;
	char resolver[64];
	struct dns *tmp;
	const char *err;
	struct got g;

	LIVE_NEED();
	/* in flight */
	q = dns_mx(live.dns, "half.example.net", never_mx, NULL);
	dns_cancel(q);
	/* answered from libunbound's cache inside the call (libunbound 1.17
	 * calls back from ub_resolve_event then), not delivered */
	live_mx(live.dns, "eq.example.net", &g);
	q = dns_mx(live.dns, "eq.example.net", never_mx, NULL);
	dns_cancel(q);
	/* the MX answered, its hosts' lookups in flight */
	q = dns_mx(live.dns, "cancel.example.net", never_mx, NULL);
	for (int i = 0; i < 1000 && !q->mx_hosts; i++)
		event_base_loop(live.base, EVLOOP_ONCE);
	assert_true(q->mx_hosts);
	assert_true(q->nbusy > 0);
	dns_cancel(q);
	live_run_for(300);

	/* dns_free with lookups pending: no callback, nothing leaks */
	(void)snprintf(resolver, sizeof(resolver), "127.0.0.1@%u", live.port);
	opt.resolver = resolver;
	tmp = dns_new(live.base, &opt, &err);
	assert_non_null(tmp);
	(void)dns_mx(tmp, "eq.example.net", never_mx, NULL);
	(void)dns_mx(tmp, "bad name", never_mx, NULL);
	dns_free(&tmp);
	live_run_for(100);
}

static void
test_new_errors(void **state)
{
	struct dns_options opt = { 0 };
	struct event_base *base = event_base_new();
	const char *err = NULL;
	struct dns *dns;

	opt.resolver = "not an address";
	assert_null(dns_new(base, &opt, &err));
	assert_non_null(err);
	opt.resolver = NULL;
	opt.dnssec = true;
	opt.trust_anchor = "/nonexistent/root.key";
	assert_null(dns_new(base, &opt, &err));
	assert_non_null(strstr(err, "trust anchor"));
	/* the system's resolv.conf; nothing is asked */
	opt.dnssec = false;
	dns = dns_new(base, &opt, &err);
	if (dns == NULL)
		fail_msg("dns_new with resolv.conf: %s", err);
	dns_free(&dns);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_order),
		cmocka_unit_test(test_mx_random),
		cmocka_unit_test(test_mx_null),
		cmocka_unit_test(test_mx_implicit),
		cmocka_unit_test(test_mx_nxdomain),
		cmocka_unit_test(test_mx_cname),
		cmocka_unit_test(test_mx_dot_test),
		cmocka_unit_test(test_mx_invalid),
		cmocka_unit_test(test_temp_refused),
		cmocka_unit_test(test_temp_dead_server),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_tlsa),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_new_errors),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("dns/dns_live", tests, live_setup,
	    live_teardown);
}
