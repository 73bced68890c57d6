/* mta_live_test.c: the SMTP client (src/mta) against real peers.
 *
 * Starts a private unbound (as tests/unit/dns/dns_live_test.c does) with
 * a zone whose MX hosts are addresses in 127.0.5.0/24, and scripted SMTP
 * peers on those addresses (port 25, so root is needed) or other ports
 * (smarthosts), each in its own threads with blocking sockets and
 * OpenSSL.  The mta runs on this thread's event loop and is driven
 * through its API, as the queue process does.  Without unbound, or
 * without the right to bind port 25, every test is skipped.
 *
 * Covers: delivery by MX with PIPELINING and DSN/8BITMIME/SIZE
 * parameters, per-recipient results, the first MX down and the second
 * taking it, no MX (A), null MX, NXDOMAIN, a 4xx to MAIL moving to the
 * next MX, a 5xx greeting, HELO fallback and 8bit -> quoted-printable to
 * an old peer, STARTTLS, mta_tls_require, SIZE too small, SMTPUTF8
 * missing, connection reuse, the per-domain connection limit and rate,
 * timeouts, and smarthosts with AUTH PLAIN over STARTTLS and AUTH LOGIN
 * over implicit TLS, and a credentials file others can read. */
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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "config/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "dns/dns.h"
#include "mta/mta.h"
#include "smtp/smtp_parse.h"
#include "tls/tls.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define WAIT_MS		20000
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char live_zone[] =
    "  local-zone: \"mta.test.\" static\n"
    "  local-data: \"ok.mta.test. MX 10 mx1.mta.test.\"\n"
    "  local-data: \"mx1.mta.test. A 127.0.5.1\"\n"
    "  local-data: \"second.mta.test. MX 10 dead.mta.test.\"\n"
    "  local-data: \"second.mta.test. MX 20 mx2.mta.test.\"\n"
    "  local-data: \"dead.mta.test. A 127.0.5.99\"\n"
    "  local-data: \"mx2.mta.test. A 127.0.5.2\"\n"
    "  local-data: \"amx.mta.test. A 127.0.5.3\"\n"
    "  local-data: \"null.mta.test. MX 0 .\"\n"
    "  local-data: \"old.mta.test. MX 10 oldmx.mta.test.\"\n"
    "  local-data: \"oldmx.mta.test. A 127.0.5.4\"\n"
    "  local-data: \"tls.mta.test. MX 10 tlsmx.mta.test.\"\n"
    "  local-data: \"tlsmx.mta.test. A 127.0.5.5\"\n"
    "  local-data: \"busy.mta.test. MX 10 busymx.mta.test.\"\n"
    "  local-data: \"busy.mta.test. MX 20 mx1.mta.test.\"\n"
    "  local-data: \"busymx.mta.test. A 127.0.5.6\"\n"
    "  local-data: \"small.mta.test. MX 10 smallmx.mta.test.\"\n"
    "  local-data: \"smallmx.mta.test. A 127.0.5.7\"\n"
    "  local-data: \"big.mta.test. MX 10 smallmx.mta.test.\"\n"
    "  local-data: \"big.mta.test. MX 20 mx2.mta.test.\"\n"
    "  local-data: \"plain.mta.test. MX 10 plainmx.mta.test.\"\n"
    "  local-data: \"plainmx.mta.test. A 127.0.5.8\"\n"
    "  local-data: \"slow.mta.test. MX 10 slowmx.mta.test.\"\n"
    "  local-data: \"slowmx.mta.test. A 127.0.5.9\"\n"
    "  local-data: \"rude.mta.test. MX 10 rudemx.mta.test.\"\n"
    "  local-data: \"rude.mta.test. MX 20 mx2.mta.test.\"\n"
    "  local-data: \"rudemx.mta.test. A 127.0.5.10\"\n"
    "  local-data: \"rudeonly.mta.test. MX 10 rudemx.mta.test.\"\n"
    "  local-data: \"mute.mta.test. MX 10 mutemx.mta.test.\"\n"
    "  local-data: \"mutemx.mta.test. A 127.0.5.11\"\n"
    "  local-data: \"loop.mta.test. MX 10 client.mta.test.\"\n"
    "  local-data: \"client.mta.test. A 127.0.5.12\"\n"
    "  local-data: \"badtls.mta.test. MX 10 badtlsmx.mta.test.\"\n"
    "  local-data: \"badtlsmx.mta.test. A 127.0.5.13\"\n"
    "  local-data: \"relay.mta.test. A 127.0.5.20\"\n";

/*
 * Peers.
 */

struct peer {
	const char	*ip;
	uint16_t	 port;
	/* the script */
	const char	*greeting;	/* default "220 peer ESMTP" */
	const char	*exts;		/* EHLO keywords, '|' between */
	int		 ehlo_code;	/* 0: 250 */
	int		 mail_code;	/* 0: 250 */
	unsigned	 delay_ms;	/* before the greeting */
	unsigned	 dot_delay_ms;	/* before the reply to "." */
	bool		 starttls;
	bool		 implicit;
	const char	*user, *pass;	/* AUTH required */
	bool		 badtls;	/* 220 to STARTTLS, then garbage */
	/* the thread */
	int		 lfd;
	pthread_t	 th;
	/* what it saw (under mu) */
	pthread_mutex_t	 mu;
	unsigned	 nconn, cur, maxcur, nmsgs, nrset, nhelo, nauth;
	bool		 pipelined;	/* RCPT arrived with MAIL */
	bool		 tls_seen;
	char		 mail[512];
	char		 rcpts[2048];
	char		 authmech[16];
	char		*body;		/* the last message, as sent */
	size_t		 bodylen;
};

static struct peer peers[] = {
	{ "127.0.5.1", 25, NULL, "PIPELINING|SIZE 1000000|8BITMIME|SMTPUTF8|"
	    "DSN|ENHANCEDSTATUSCODES" },
	{ "127.0.5.2", 25, NULL, "PIPELINING|8BITMIME" },
	{ "127.0.5.3", 25, NULL, "8BITMIME" },
	{ "127.0.5.4", 25, "220 old SMTP", "", 502 },
	{ "127.0.5.5", 25, NULL, "PIPELINING|8BITMIME|STARTTLS", 0, 0, 0, 0,
	    true },
	{ "127.0.5.6", 25, NULL, "PIPELINING", 0, 451 },
	{ "127.0.5.7", 25, NULL, "SIZE 50|PIPELINING" },
	{ "127.0.5.8", 25, NULL, "PIPELINING|8BITMIME" },
	{ "127.0.5.9", 25, NULL, "PIPELINING", 0, 0, 0, 700 },
	{ "127.0.5.10", 25, "554 5.7.1 go away", "" },
	{ "127.0.5.11", 25, NULL, "PIPELINING", 0, 0, 5000 },
	{ "127.0.5.13", 25, NULL, "PIPELINING|STARTTLS", 0, 0, 0, 0, false,
	    false, NULL, NULL, true },
	{ "127.0.5.20", 2587, NULL, "PIPELINING|8BITMIME|STARTTLS|AUTH PLAIN "
	    "LOGIN", 0, 0, 0, 0, true, false, "joe", "s3cret pass" },
	{ "127.0.5.21", 2465, NULL, "PIPELINING|AUTH LOGIN", 0, 0, 0, 0,
	    false, true, "joe", "s3cret pass" },
};

enum {
	P_MX1, P_MX2, P_AMX, P_OLD, P_TLS, P_BUSY, P_SMALL, P_PLAIN, P_SLOW,
	P_RUDE, P_MUTE, P_BADTLS, P_RELAY, P_RELAYS,
};

struct live {
	bool		 have;
	pid_t		 pid;
	char		 dir[256];
	uint16_t	 port;
	struct event_base *base;
	struct dns	*dns;
	SSL_CTX		*sctx;
	char		 msgpath[300];
};

static struct live live;

struct pconn {
	struct peer	*p;
	int		 fd;
	SSL		*ssl;
	char		 buf[65536];
	size_t		 len;
};

static void
pc_write(struct pconn *c, const char *fmt, ...)
{
	char out[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	if (c->ssl != NULL)
		(void)SSL_write(c->ssl, out, n);
	else
		(void)!write(c->fd, out, (size_t)n);
}

static bool
pc_fill(struct pconn *c)
{
	ssize_t n;

	if (c->len == sizeof(c->buf))
		return false;
	if (c->ssl != NULL)
		n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) -
		    c->len));
	else
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	return true;
}

/* A line without its CRLF into line; false at EOF. */
static bool
pc_line(struct pconn *c, char *line, size_t size)
{
	char *nl;
	size_t n;

	while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
		if (!pc_fill(c))
			return false;
	n = (size_t)(nl - c->buf) + 1;
	snprintf(line, size, "%.*s", (int)(n > 1 && nl[-1] == '\r' ? n - 2 :
	    n - 1), c->buf);
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	return true;
}

static void
pc_ehlo(struct pconn *c, bool ehlo)
{
	struct peer *p = c->p;
	const char *e = p->exts, *bar;
	char kw[128];

	if (!ehlo) {
		pc_write(c, "250 peer\r\n");
		return;
	}
	if (p->ehlo_code != 0) {
		pc_write(c, "%d 5.5.1 no EHLO here\r\n", p->ehlo_code);
		return;
	}
	pc_write(c, "250%speer hello\r\n", e[0] != '\0' ? "-" : " ");
	while (*e != '\0') {
		bar = strchr(e, '|');
		snprintf(kw, sizeof(kw), "%.*s", (int)(bar != NULL ? bar - e :
		    (long)strlen(e)), e);
		if (c->ssl != NULL && strcmp(kw, "STARTTLS") == 0) {
			if (bar == NULL)
				pc_write(c, "250 NOOP\r\n");
		} else
			pc_write(c, "250%s%s\r\n", bar != NULL ? "-" : " ", kw);
		e = bar != NULL ? bar + 1 : "";
	}
}

static bool
pc_tls(struct pconn *c)
{
	c->ssl = SSL_new(live.sctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_accept(c->ssl) != 1)
		return false;
	pthread_mutex_lock(&c->p->mu);
	c->p->tls_seen = true;
	pthread_mutex_unlock(&c->p->mu);
	return true;
}

static bool
pc_b64_is(const char *b64, const char *want, size_t wlen)
{
	unsigned char out[512];
	int n = EVP_DecodeBlock(out, (const unsigned char *)b64,
	    (int)strlen(b64));

	while (n > 0 && b64[strlen(b64) - 1] == '=' && (size_t)n > wlen)
		n--;	/* EVP_DecodeBlock counts the padding */
	return n >= 0 && (size_t)n == wlen && memcmp(out, want, wlen) == 0;
}

static bool
pc_auth(struct pconn *c, const char *args)
{
	struct peer *p = c->p;
	char plain[256], line[1024];
	size_t ul = strlen(p->user), pl = strlen(p->pass);
	bool ok;

	if (strncasecmp(args, "PLAIN ", 6) == 0) {
		plain[0] = '\0';
		memcpy(plain + 1, p->user, ul);
		plain[1 + ul] = '\0';
		memcpy(plain + 2 + ul, p->pass, pl);
		ok = pc_b64_is(args + 6, plain, ul + pl + 2);
	} else if (strcasecmp(args, "LOGIN") == 0) {
		pc_write(c, "334 VXNlcm5hbWU6\r\n");
		if (!pc_line(c, line, sizeof(line)))
			return false;
		ok = pc_b64_is(line, p->user, ul);
		pc_write(c, "334 UGFzc3dvcmQ6\r\n");
		if (!pc_line(c, line, sizeof(line)))
			return false;
		ok = ok && pc_b64_is(line, p->pass, pl);
	} else
		ok = false;
	pthread_mutex_lock(&p->mu);
	snprintf(p->authmech, sizeof(p->authmech), "%.5s", args);
	if (ok)
		p->nauth++;
	pthread_mutex_unlock(&p->mu);
	pc_write(c, ok ? "235 2.7.0 ok\r\n" : "535 5.7.8 bad credentials\r\n");
	return ok;
}

/* DATA: read to the dot; keep the bytes as sent. */
static bool
pc_data(struct pconn *c)
{
	struct peer *p = c->p;
	char *body = NULL, *end;
	size_t len = 0;

	for (;;) {
		if (c->len >= 5 || len > 0) {
			char *all = realloc(body, len + c->len + 1);

			assert_non_null(all);
			body = all;
			memcpy(body + len, c->buf, c->len);
			len += c->len;
			c->len = 0;
			body[len] = '\0';
			end = len >= 5 && memcmp(body + len - 5, "\r\n.\r\n", 5)
			    == 0 ? body + len - 5 : NULL;
			if (len == 3 && memcmp(body, ".\r\n", 3) == 0)
				end = body;
			if (end != NULL)
				break;
		}
		if (!pc_fill(c)) {
			free(body);
			return false;
		}
	}
	pthread_mutex_lock(&p->mu);
	free(p->body);
	p->body = body;
	p->bodylen = (size_t)(end - body) + (end == body ? 0 : 2);
	p->nmsgs++;
	pthread_mutex_unlock(&p->mu);
	if (p->dot_delay_ms > 0)
		usleep(p->dot_delay_ms * 1000);
	pc_write(c, "250 2.0.0 queued as X\r\n");
	return true;
}

static void
pc_rcpt(struct pconn *c, const char *line)
{
	struct peer *p = c->p;

	pthread_mutex_lock(&p->mu);
	if (strlen(p->rcpts) + strlen(line) + 2 < sizeof(p->rcpts)) {
		strcat(p->rcpts, line);
		strcat(p->rcpts, "\n");
	}
	pthread_mutex_unlock(&p->mu);
	if (strstr(line, "<bad") != NULL)
		pc_write(c, "550 5.1.1 no such user\r\n");
	else if (strstr(line, "<tmp") != NULL)
		pc_write(c, "452 4.2.2 mailbox full\r\n");
	else
		pc_write(c, "250 2.1.5 ok\r\n");
}

static void
pc_session(struct pconn *c)
{
	struct peer *p = c->p;
	char line[4096];
	bool authed = p->user == NULL, ok = true;

	if (p->delay_ms > 0)
		usleep(p->delay_ms * 1000);
	if (p->implicit && !pc_tls(c))
		return;
	pc_write(c, "%s\r\n", p->greeting != NULL ? p->greeting :
	    "220 peer ESMTP");
	if (p->greeting != NULL && p->greeting[0] != '2')
		return;
	while (ok && pc_line(c, line, sizeof(line))) {
		if (strncasecmp(line, "EHLO ", 5) == 0)
			pc_ehlo(c, true);
		else if (strncasecmp(line, "HELO ", 5) == 0) {
			pthread_mutex_lock(&p->mu);
			p->nhelo++;
			pthread_mutex_unlock(&p->mu);
			pc_ehlo(c, false);
		} else if (strcasecmp(line, "STARTTLS") == 0 && p->badtls) {
			pc_write(c, "220 2.0.0 go\r\nthis is no TLS\r\n");
			break;
		} else if (strcasecmp(line, "STARTTLS") == 0 && p->starttls &&
		    c->ssl == NULL) {
			pc_write(c, "220 2.0.0 go\r\n");
			c->len = 0;
			ok = pc_tls(c);
		} else if (strncasecmp(line, "AUTH ", 5) == 0 && p->user != NULL)
			ok = authed = pc_auth(c, line + 5);
		else if (strncasecmp(line, "MAIL ", 5) == 0) {
			pthread_mutex_lock(&p->mu);
			snprintf(p->mail, sizeof(p->mail), "%.500s", line);
			p->rcpts[0] = '\0';
			if (memmem(c->buf, c->len, "RCPT", 4) != NULL)
				p->pipelined = true;
			pthread_mutex_unlock(&p->mu);
			if (!authed)
				pc_write(c, "530 5.7.0 AUTH first\r\n");
			else if (p->mail_code != 0)
				pc_write(c, "%d 4.3.0 try later\r\n",
				    p->mail_code);
			else
				pc_write(c, "250 2.1.0 ok\r\n");
		} else if (strncasecmp(line, "RCPT ", 5) == 0)
			pc_rcpt(c, line);
		else if (strcasecmp(line, "DATA") == 0) {
			pc_write(c, "354 go\r\n");
			ok = pc_data(c);
		} else if (strcasecmp(line, "RSET") == 0) {
			pthread_mutex_lock(&p->mu);
			p->nrset++;
			pthread_mutex_unlock(&p->mu);
			pc_write(c, "250 2.0.0 ok\r\n");
		} else if (strcasecmp(line, "QUIT") == 0) {
			pc_write(c, "221 2.0.0 bye\r\n");
			break;
		} else
			pc_write(c, "500 5.5.2 what?\r\n");
	}
}

static void *
pc_main(void *arg)
{
	struct pconn *c = arg;
	struct peer *p = c->p;

	pthread_mutex_lock(&p->mu);
	p->nconn++;
	if (++p->cur > p->maxcur)
		p->maxcur = p->cur;
	pthread_mutex_unlock(&p->mu);
	pc_session(c);
	pthread_mutex_lock(&p->mu);
	p->cur--;
	pthread_mutex_unlock(&p->mu);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	close(c->fd);
	free(c);
	return NULL;
}

static void *
peer_main(void *arg)
{
	struct peer *p = arg;
	pthread_t th;
	int fd;

	while ((fd = accept(p->lfd, NULL, NULL)) >= 0) {
		struct pconn *c = calloc(1, sizeof(*c));

		assert_non_null(c);
		c->p = p;
		c->fd = fd;
		if (pthread_create(&th, NULL, pc_main, c) != 0)
			abort();
		pthread_detach(th);
	}
	return NULL;
}

static bool
peer_start(struct peer *p)
{
	struct sockaddr_in sin;
	int one = 1, rc;

	pthread_mutex_init(&p->mu, NULL);
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->lfd >= 0);
	setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(p->port);
	inet_pton(AF_INET, p->ip, &sin.sin_addr);
	/* another run of this test (another build directory) may hold the
	 * addresses for a while: wait for it */
	for (int i = 0; (rc = bind(p->lfd, (struct sockaddr *)&sin,
	    sizeof(sin))) == -1 && errno == EADDRINUSE && i < 600; i++)
		usleep(100000);
	if (rc == -1 || listen(p->lfd, 64) == -1) {
		fprintf(stderr, "mta_live: bind %s:%u: %s: skipping\n", p->ip,
		    p->port, strerror(errno));
		close(p->lfd);
		p->lfd = -1;
		return false;
	}
	return pthread_create(&p->th, NULL, peer_main, p) == 0;
}

static void
peers_reset(void)
{
	for (size_t i = 0; i < NELEM(peers); i++) {
		struct peer *p = &peers[i];

		pthread_mutex_lock(&p->mu);
		p->nconn = p->maxcur = p->nmsgs = p->nrset = p->nhelo = 0;
		p->nauth = 0;
		p->pipelined = p->tls_seen = false;
		p->mail[0] = p->rcpts[0] = p->authmech[0] = '\0';
		free(p->body);
		p->body = NULL;
		p->bodylen = 0;
		pthread_mutex_unlock(&p->mu);
	}
}

/*
 * unbound, as in dns_live_test.c.
 */

static uint16_t
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int u = socket(AF_INET, SOCK_DGRAM, 0), t;
	uint16_t port;

	for (;;) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(u, (struct sockaddr *)&sin, sizeof(sin)),
		    0);
		assert_int_equal(getsockname(u, (struct sockaddr *)&sin, &len),
		    0);
		port = ntohs(sin.sin_port);
		t = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(t);
			close(u);
			return port;
		}
		close(t);
		close(u);
		u = socket(AF_INET, SOCK_DGRAM, 0);
	}
}

static bool
unbound_answers(uint16_t port)
{
	static const uint8_t q[] = "\0\1\1\0\0\1\0\0\0\0\0\0"
	    "\3mx1\3mta\4test\0\0\1\0\1";
	struct sockaddr_in sin;
	struct pollfd pfd;
	uint8_t buf[512];
	bool ok = false;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(s, q, sizeof(q) - 1, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) > 0) {
		pfd.fd = s;
		pfd.events = POLLIN;
		ok = poll(&pfd, 1, 200) == 1 && recv(s, buf, sizeof(buf), 0) >
		    12;
	}
	close(s);
	return ok;
}

static bool
unbound_start(void)
{
	char conf[300], out[300];
	FILE *f;
	int fd;

	if (access("/usr/sbin/unbound", X_OK) != 0) {
		fprintf(stderr, "mta_live: no unbound: skipping\n");
		return false;
	}
	snprintf(conf, sizeof(conf), "%s/unbound.conf", live.dir);
	snprintf(out, sizeof(out), "%s/unbound.out", live.dir);
	live.port = free_port();
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "server:\n  interface: 127.0.0.1@%u\n"
	    "  interface-automatic: no\n  do-daemonize: no\n  chroot: \"\"\n"
	    "  username: \"\"\n  directory: \"%s\"\n"
	    "  pidfile: \"%s/unbound.pid\"\n  use-syslog: no\n"
	    "  verbosity: 0\n  num-threads: 1\n  so-reuseport: no\n"
	    "  outgoing-range: 32\n  do-ip6: no\n"
	    "  access-control: 127.0.0.0/8 allow\n"
	    "  module-config: \"iterator\"\n%s"
	    "remote-control:\n  control-enable: no\n", live.port, live.dir,
	    live.dir, live_zone);
	assert_int_equal(fclose(f), 0);
	if ((live.pid = fork()) == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
		}
		execl("/usr/sbin/unbound", "unbound", "-d", "-c", conf,
		    (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (unbound_answers(live.port))
			return true;
		usleep(50000);
	}
	fail_msg("unbound did not start; see %s", out);
	return false;
}

static int
live_setup(void **state)
{
	const char *tmp = getenv("FACTEUR_TEST_TMP"), *err;
	char cert[300], key[300], resolver[64];
	struct dns_options opt = { 0 };

	signal(SIGPIPE, SIG_IGN);
	log_init("mta-live", false);
	if (getenv("MTA_LIVE_DEBUG") != NULL)
		log_set_level(LOG_LEVEL_DEBUG);
	if (tmp == NULL)
		tmp = "/tmp";
	(void)mkdir(tmp, 0700);
	snprintf(live.dir, sizeof(live.dir), "%s/mta-live.XXXXXX", tmp);
	assert_non_null(mkdtemp(live.dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", live.dir);
	snprintf(key, sizeof(key), "%s/key.pem", live.dir);
	assert_int_equal(tls_ensure_selfsigned(cert, key, "peer.mta.test",
	    (uid_t)-1, (gid_t)-1, &err), 0);
	live.sctx = tls_server_ctx(cert, key, &err);
	assert_non_null(live.sctx);
	for (size_t i = 0; i < NELEM(peers); i++)
		if (!peer_start(&peers[i]))
			return 0;
	if (!unbound_start())
		return 0;
	live.base = event_base_new();
	snprintf(resolver, sizeof(resolver), "127.0.0.1@%u", live.port);
	opt.resolver = resolver;
	opt.families = DNS_FAM_V4;
	opt.timeout_ms = 5000;
	live.dns = dns_new(live.base, &opt, &err);
	assert_non_null(live.dns);
	snprintf(live.msgpath, sizeof(live.msgpath), "%s/msg", live.dir);
	live.have = true;
	return 0;
}

static int
live_teardown(void **state)
{
	char path[400];

	dns_free(&live.dns);
	if (live.base != NULL)
		event_base_free(live.base);
	if (live.pid > 0) {
		kill(live.pid, SIGTERM);
		waitpid(live.pid, NULL, 0);
	}
	for (size_t i = 0; i < NELEM(peers); i++)
		if (peers[i].lfd > 0) {
			shutdown(peers[i].lfd, SHUT_RDWR);
			close(peers[i].lfd);
			pthread_join(peers[i].th, NULL);
			free(peers[i].body);
			peers[i].body = NULL;
		}
	SSL_CTX_free(live.sctx);
	static const char *const files[] = { "unbound.conf", "unbound.out",
	    "unbound.pid", "cert.pem", "key.pem", "msg", "auth" };
	for (size_t i = 0; i < NELEM(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", live.dir, files[i]);
		unlink(path);
	}
	rmdir(live.dir);
	return 0;
}

/*
 * Driving the mta.
 */

struct job {
	struct mta_request	 req;
	struct mta_rcpt		 rcpts[8];
	bool			 done;
	struct timespec		 when;
};

static void
job_done(struct mta_request *req, void *arg)
{
	struct job *j = arg;

	assert_false(j->done);
	j->done = true;
	clock_gettime(CLOCK_MONOTONIC, &j->when);
}

static struct conf *
make_conf(const char *extra)
{
	char text[2048], *err = NULL;
	struct conf *conf;

	snprintf(text, sizeof(text), "hostname client.mta.test\n"
	    "listen smtp 127.0.0.1:2525\n"
	    "dns_resolver 127.0.0.1@%u\n%s", live.port, extra);
	conf = conf_parse("test", text, strlen(text), &err);
	if (conf == NULL)
		fail_msg("conf: %s", err);
	return conf;
}

static int
write_msg(const char *msg)
{
	int fd = open(live.msgpath, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	close(fd);
	fd = open(live.msgpath, O_RDONLY);
	assert_true(fd >= 0);
	return fd;
}

static void
job_init(struct job *j, int fd, const char *domain, const char *rcpts)
{
	static char addrs[8][8][128];
	static size_t slot;
	char *copy = strdup(rcpts), *save = NULL, *w;
	struct stat st;

	memset(j, 0, sizeof(*j));
	slot = (slot + 1) % 8;
	j->req.qid = 0x1234000000000000ULL + slot;
	j->req.domain = domain;
	j->req.from = "sender@client.mta.test";
	j->req.msg_fd = fd;
	assert_int_equal(fstat(fd, &st), 0);
	j->req.size = (size_t)st.st_size;
	j->req.rcpts = j->rcpts;
	j->req.done = job_done;
	j->req.arg = j;
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		size_t k = j->req.nrcpts++;

		snprintf(addrs[slot][k], 128, "%s", w);
		j->rcpts[k].addr = addrs[slot][k];
	}
	free(copy);
}

static void
watchdog(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

static void
wait_jobs(struct job **jobs, size_t n)
{
	struct timeval tv = { WAIT_MS / 1000, 0 };
	bool expired = false, all = false;
	struct event *ev = evtimer_new(live.base, watchdog, &expired);

	evtimer_add(ev, &tv);
	while (!all && !expired) {
		event_base_loop(live.base, EVLOOP_ONCE);
		all = true;
		for (size_t i = 0; i < n; i++)
			all = all && jobs[i]->done;
	}
	event_free(ev);
	assert_true(all);
}

/* Run the loop for ms more (idle connections, QUIT...). */
static void
run_for(unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	bool expired = false;
	struct event *ev = evtimer_new(live.base, watchdog, &expired);

	evtimer_add(ev, &tv);
	while (!expired)
		event_base_loop(live.base, EVLOOP_ONCE);
	event_free(ev);
}

/* One request, run to its end with a fresh mta. */
static void
deliver(const char *conf_extra, const char *msg, const char *domain,
    const char *rcpts, struct job *j, void (*tweak)(struct job *))
{
	struct conf *conf = make_conf(conf_extra);
	struct mta *mta = mta_new(live.base, conf, live.dns);
	struct job *jobs[1] = { j };
	int fd = write_msg(msg);

	job_init(j, fd, domain, rcpts);
	if (tweak != NULL)
		tweak(j);
	mta_deliver(mta, &j->req);
	assert_false(j->done);		/* never from inside */
	wait_jobs(jobs, 1);
	run_for(50);
	mta_shutdown(mta);
	mta_free(&mta);
	conf_free(&conf);
	close(fd);
}

#define SKIP_UNLESS_LIVE() do {						\
	if (!live.have)							\
		skip();							\
	peers_reset();							\
} while (0)

static void
expect_rcpt(const struct job *j, size_t i, enum mta_result res,
    const char *status, const char *relay)
{
	const struct mta_rcpt *r = &j->rcpts[i];

	if (r->result != res || strcmp(r->status, status) != 0 ||
	    (relay != NULL && strcmp(r->relay, relay) != 0))
		fail_msg("rcpt %s: result %d status %s relay %s text <%s>; "
		    "want %d %s %s", r->addr, r->result, r->status, r->relay,
		    r->text, res, status, relay != NULL ? relay : "*");
}

static const char msg7[] = "From: <sender@client.mta.test>\r\n"
    "Subject: test\r\n\r\nHello\r\n.leading dot\r\n..two\r\nend\r\n";

/*
 * The tests.
 */

static void
dsn_tweak(struct job *j)
{
	j->req.ret = SMTP_RET_HDRS;
	j->req.envid = "QQ+2Bid";
	j->req.eightbit = true;
	j->rcpts[0].notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE;
	j->rcpts[1].orcpt = "rfc822;orig@x.test";
}

static void
test_mx_basic(void **state)
{
	struct job j;
	struct peer *p = &peers[P_MX1];
	char mail[200];

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "ok.mta.test", "a@ok.mta.test b@ok.mta.test "
	    "bad1@ok.mta.test tmp1@ok.mta.test", &j, dsn_tweak);
	snprintf(mail, sizeof(mail), "MAIL FROM:<sender@client.mta.test> "
	    "SIZE=%zu BODY=8BITMIME RET=HDRS ENVID=QQ+2Bid", strlen(msg7));
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "mx1.mta.test[127.0.5.1]");
	expect_rcpt(&j, 1, MTA_OK, "2.0.0", NULL);
	expect_rcpt(&j, 2, MTA_PERM, "5.1.1", NULL);
	expect_rcpt(&j, 3, MTA_TEMP, "4.2.2", NULL);
	assert_string_equal(j.rcpts[2].text, "550 5.1.1 no such user");
	assert_string_equal(j.rcpts[0].text, "250 2.0.0 queued as X");
	assert_true(p->pipelined);
	assert_string_equal(p->mail, mail);
	assert_non_null(strstr(p->rcpts, "RCPT TO:<a@ok.mta.test> "
	    "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@ok.mta.test\n"));
	assert_non_null(strstr(p->rcpts, "RCPT TO:<b@ok.mta.test> "
	    "ORCPT=rfc822;orig@x.test\n"));
	/* dot-stuffed, unchanged otherwise */
	assert_int_equal(p->bodylen, strlen(msg7) + 2);
	assert_memory_equal(p->body, "From: <sender@client.mta.test>\r\n"
	    "Subject: test\r\n\r\nHello\r\n..leading dot\r\n...two\r\nend\r\n",
	    p->bodylen);
	assert_int_equal(p->nconn, 1);
}

static void
test_second_mx(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "second.mta.test", "x@second.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "mx2.mta.test[127.0.5.2]");
	assert_int_equal(peers[P_MX2].nmsgs, 1);
}

static void
test_no_mx(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "amx.mta.test", "x@amx.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "amx.mta.test[127.0.5.3]");
}

static void
test_dns_failures(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "null.mta.test", "x@null.mta.test y@null.mta.test",
	    &j, NULL);
	expect_rcpt(&j, 0, MTA_PERM, "5.1.10", "");
	expect_rcpt(&j, 1, MTA_PERM, "5.1.10", "");
	deliver("", msg7, "nope.mta.test", "x@nope.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_PERM, "5.1.2", "");
	deliver("", msg7, "loop.mta.test", "x@loop.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_PERM, "5.4.6", "");
}

static void
test_mail_4xx_next_mx(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "busy.mta.test", "x@busy.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "mx1.mta.test[127.0.5.1]");
	assert_int_equal(peers[P_BUSY].nconn, 1);
}

static void
test_greeting_5xx(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "rude.mta.test", "x@rude.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "mx2.mta.test[127.0.5.2]");
	/* the only host: temporary, never a bounce */
	deliver("", msg7, "rudeonly.mta.test", "x@rudeonly.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_TEMP, "4.7.1", "rudemx.mta.test[127.0.5.10]");
	assert_non_null(strstr(j.rcpts[0].text, "554 5.7.1 go away"));
}

static const char msg8[] = "From: <sender@client.mta.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "Caf\xc3\xa9\r\n.x\r\n";

static void
eightbit_tweak(struct job *j)
{
	j->req.eightbit = true;
}

static void
test_old_peer_qp(void **state)
{
	struct job j;
	struct peer *p = &peers[P_OLD];
	static const char want[] = "From: <sender@client.mta.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Caf=C3=A9\r\n..x\r\n";

	SKIP_UNLESS_LIVE();
	deliver("", msg8, "old.mta.test", "x@old.mta.test y@old.mta.test", &j,
	    eightbit_tweak);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", NULL);
	expect_rcpt(&j, 1, MTA_OK, "2.0.0", NULL);
	assert_int_equal(p->nhelo, 1);
	assert_false(p->pipelined);
	assert_string_equal(p->mail, "MAIL FROM:<sender@client.mta.test>");
	assert_int_equal(p->bodylen, sizeof(want) - 1);
	assert_memory_equal(p->body, want, sizeof(want) - 1);
}

static void
test_starttls(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "tls.mta.test", "x@tls.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "tlsmx.mta.test[127.0.5.5]");
	assert_true(peers[P_TLS].tls_seen);
	assert_int_equal(peers[P_TLS].nmsgs, 1);
	/* required and offered */
	peers_reset();
	deliver("mta_tls_require other.test TLS.mta.test\n", msg7,
	    "tls.mta.test", "x@tls.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", NULL);
	assert_true(peers[P_TLS].tls_seen);
	/* required, not offered: never in clear */
	deliver("mta_tls_require plain.mta.test\n", msg7, "plain.mta.test",
	    "x@plain.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_TEMP, "4.7.4", "plainmx.mta.test[127.0.5.8]");
	assert_int_equal(peers[P_PLAIN].nmsgs, 0);
}

/* Opportunistic TLS that fails: the same host again, in clear. */
static void
test_starttls_fails(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "badtls.mta.test", "x@badtls.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "badtlsmx.mta.test[127.0.5.13]");
	assert_int_equal(peers[P_BADTLS].nconn, 2);
	assert_int_equal(peers[P_BADTLS].nmsgs, 1);
	/* required: never in clear */
	peers_reset();
	deliver("mta_tls_require badtls.mta.test\n", msg7, "badtls.mta.test",
	    "x@badtls.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_TEMP, "4.7.5", NULL);
	assert_int_equal(peers[P_BADTLS].nmsgs, 0);
}

static void
test_size_and_smtputf8(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "small.mta.test", "x@small.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_PERM, "5.3.4", NULL);
	assert_int_equal(peers[P_SMALL].nmsgs, 0);
	assert_non_null(strstr(j.rcpts[0].text, "at most 50"));
	/* a host with a smaller limit is skipped */
	deliver("", msg7, "big.mta.test", "x@big.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "mx2.mta.test[127.0.5.2]");
	assert_int_equal(peers[P_SMALL].nmsgs, 0);
}

static void
utf8_tweak(struct job *j)
{
	j->req.smtputf8 = true;
}

static void
test_smtputf8(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("", msg7, "plain.mta.test", "x@plain.mta.test", &j,
	    utf8_tweak);
	expect_rcpt(&j, 0, MTA_PERM, "5.6.7", NULL);
	deliver("", msg7, "ok.mta.test", "x@ok.mta.test", &j, utf8_tweak);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", NULL);
	assert_non_null(strstr(peers[P_MX1].mail, " SMTPUTF8"));
}

/* Several requests for one destination on one mta. */
static void
deliver_many(const char *conf_extra, const char *domain, size_t n,
    struct job *js, unsigned gap_ms)
{
	struct conf *conf = make_conf(conf_extra);
	struct mta *mta = mta_new(live.base, conf, live.dns);
	struct job *jobs[16];
	char rcpt[128];
	int fd = write_msg(msg7);

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		snprintf(rcpt, sizeof(rcpt), "r%zu@%s", i, domain);
		job_init(&js[i], fd, domain, rcpt);
		jobs[i] = &js[i];
		mta_deliver(mta, &js[i].req);
		if (gap_ms > 0)
			run_for(gap_ms);
	}
	wait_jobs(jobs, n);
	run_for(100);
	mta_shutdown(mta);
	mta_free(&mta);
	conf_free(&conf);
	close(fd);
}

static void
test_reuse(void **state)
{
	struct job js[3];

	SKIP_UNLESS_LIVE();
	/* the second and third come once the first connection is idle */
	deliver_many("", "ok.mta.test", 1, js, 0);
	peers_reset();
	{
		struct conf *conf = make_conf("");
		struct mta *mta = mta_new(live.base, conf, live.dns);
		struct job *jobs[3] = { &js[0], &js[1], &js[2] };
		int fd = write_msg(msg7);

		for (size_t i = 0; i < 3; i++) {
			job_init(&js[i], fd, "ok.mta.test", "r@ok.mta.test");
			mta_deliver(mta, &js[i].req);
			wait_jobs(&jobs[i], 1);
			run_for(100);
		}
		for (size_t i = 0; i < 3; i++)
			expect_rcpt(&js[i], 0, MTA_OK, "2.0.0", NULL);
		assert_int_equal(peers[P_MX1].nconn, 1);
		assert_int_equal(peers[P_MX1].nmsgs, 3);
		assert_int_equal(peers[P_MX1].nrset, 2);
		mta_shutdown(mta);
		mta_free(&mta);
		conf_free(&conf);
		close(fd);
	}
}

static void
test_concurrency_limit(void **state)
{
	struct job js[8];

	SKIP_UNLESS_LIVE();
	deliver_many("mta_max_connections_per_domain 2\n", "slow.mta.test", 8,
	    js, 0);
	for (size_t i = 0; i < 8; i++)
		expect_rcpt(&js[i], 0, MTA_OK, "2.0.0", NULL);
	assert_int_equal(peers[P_SLOW].maxcur, 2);
	assert_int_equal(peers[P_SLOW].nconn, 2);
	assert_int_equal(peers[P_SLOW].nmsgs, 8);
}

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1000.0 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void
test_rate_limit(void **state)
{
	struct job js[4];

	SKIP_UNLESS_LIVE();
	/* 120 a minute: bursts of 2, then one every 0.5 s */
	deliver_many("mta_max_rate_per_domain 120\n", "ok.mta.test", 4, js, 0);
	for (size_t i = 0; i < 4; i++)
		expect_rcpt(&js[i], 0, MTA_OK, "2.0.0", NULL);
	assert_true(ms_between(&js[0].when, &js[1].when) < 300);
	assert_true(ms_between(&js[0].when, &js[2].when) > 400);
	assert_true(ms_between(&js[0].when, &js[3].when) > 900);
	assert_int_equal(peers[P_MX1].nmsgs, 4);
	/* no limit */
	peers_reset();
	deliver_many("", "ok.mta.test", 4, js, 0);
	assert_true(ms_between(&js[0].when, &js[3].when) < 400);
}

static void
test_timeout(void **state)
{
	struct job j;

	SKIP_UNLESS_LIVE();
	deliver("mta_timeout_greeting 1s\n", msg7, "mute.mta.test",
	    "x@mute.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_TEMP, "4.4.2", "mutemx.mta.test[127.0.5.11]");
	assert_non_null(strstr(j.rcpts[0].text, "timeout"));
	/* the peer is slow but within the limits */
	deliver("mta_timeout_data_end 3s\n", msg7, "slow.mta.test",
	    "x@slow.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", NULL);
}

static void
write_auth(const char *text, mode_t mode)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/auth", live.dir);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_smarthost(void **state)
{
	struct job j;
	char extra[600];

	SKIP_UNLESS_LIVE();
	write_auth("joe s3cret pass\n", 0600);
	snprintf(extra, sizeof(extra), "smarthost relay.mta.test:2587\n"
	    "smarthost_auth_file %s/auth\n", live.dir);
	deliver(extra, msg7, "ok.mta.test", "x@ok.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "relay.mta.test[127.0.5.20]:2587");
	assert_true(peers[P_RELAY].tls_seen);
	assert_int_equal(peers[P_RELAY].nauth, 1);
	assert_string_equal(peers[P_RELAY].authmech, "PLAIN");
	assert_int_equal(peers[P_MX1].nmsgs, 0);
	/* only some domains go through it */
	snprintf(extra, sizeof(extra), "smarthost [127.0.5.20]:2587\n"
	    "smarthost_auth_file %s/auth\nsmarthost_domains other.test\n",
	    live.dir);
	deliver(extra, msg7, "ok.mta.test", "x@ok.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", "mx1.mta.test[127.0.5.1]");
	/* implicit TLS, AUTH LOGIN */
	peers_reset();
	snprintf(extra, sizeof(extra), "smarthost [127.0.5.21]:2465\n"
	    "smarthost_tls implicit\nsmarthost_auth_file %s/auth\n", live.dir);
	deliver(extra, msg7, "ok.mta.test", "x@ok.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", NULL);
	assert_true(peers[P_RELAYS].tls_seen);
	assert_string_equal(peers[P_RELAYS].authmech, "LOGIN");
	/* wrong password: wait, never bounce */
	write_auth("joe wrong\n", 0600);
	deliver(extra, msg7, "ok.mta.test", "x@ok.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_TEMP, "4.7.8", NULL);
	/* a file others may read is refused */
	write_auth("joe s3cret pass\n", 0644);
	deliver(extra, msg7, "ok.mta.test", "x@ok.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_TEMP, "4.7.0", "");
	assert_non_null(strstr(j.rcpts[0].text, "chmod 600"));
	/* STARTTLS required by default: a smarthost without it */
	snprintf(extra, sizeof(extra), "smarthost 127.0.5.8\n");
	deliver(extra, msg7, "ok.mta.test", "x@ok.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_TEMP, "4.7.4", NULL);
}

static void
test_large_body(void **state)
{
	struct job j;
	size_t n = 3 * 1024 * 1024;
	char *msg, *p;
	struct peer *pe = &peers[P_AMX];

	SKIP_UNLESS_LIVE();
	msg = malloc(n + 64);
	assert_non_null(msg);
	p = msg + sprintf(msg, "Subject: big\r\n\r\n");
	while ((size_t)(p - msg) < n) {
		memcpy(p, ".line of text\r\n", 15);
		p += 15;
	}
	memcpy(p, "no end", 7);
	deliver("", msg, "amx.mta.test", "x@amx.mta.test", &j, NULL);
	expect_rcpt(&j, 0, MTA_OK, "2.0.0", NULL);
	/* every line got its extra dot, the last line its CRLF */
	assert_int_equal(pe->bodylen, strlen(msg) + (strlen(msg) - 16) / 15 +
	    2);
	assert_memory_equal(pe->body + pe->bodylen - 8, "no end\r\n", 8);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_basic),
		cmocka_unit_test(test_second_mx),
		cmocka_unit_test(test_no_mx),
		cmocka_unit_test(test_dns_failures),
		cmocka_unit_test(test_mail_4xx_next_mx),
		cmocka_unit_test(test_greeting_5xx),
		cmocka_unit_test(test_old_peer_qp),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_fails),
		cmocka_unit_test(test_size_and_smtputf8),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_concurrency_limit),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_smarthost),
		cmocka_unit_test(test_large_body),
	};

	return cmocka_run_group_tests_name("mta/mta_live", tests, live_setup,
	    live_teardown);
}
