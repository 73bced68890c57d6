/* imapload.c: the IMAP load generator of bench/imap.sh (doc/BENCH.md).
 *
 *   imapload gen DIR COUNT SEED UID GID
 *	write COUNT messages (2-50 KB, CRLF, some multipart with an
 *	attachment) into DIR/cur, named like Maildir files
 *	"SECS.M<usec>P<pid>Q<n>R<rand>.bench.test,S=SIZE:2,FLAGS"
 *   imapload load [options]
 *	CONC connections: LOGIN, SELECT INBOX, then a mixed workload
 *	(FETCH, SEARCH, STORE, APPEND, UID EXPUNGE, NOOP), one command in
 *	flight per connection; counts the tagged OKs completed during the
 *	measured seconds after a warm-up
 *   imapload warm [options]
 *	one connection: FETCH of every message's envelope and
 *	bodystructure, of every body, and a header SEARCH (the servers
 *	build their indexes and caches), then LOGOUT
 *   imapload idle [options]
 *	N connections: LOGIN, SELECT INBOX, IDLE; prints "ready ..." once
 *	all are idling, holds them until stdin is closed, then closes them
 *
 * Options: -p PORT, -u USER, -w PASSWORD, -c CONC (load) or N (idle),
 * -d SECONDS measured, -W SECONDS warm-up, -s SEED, -n MESSAGES (the
 * mailbox's initial count: UIDs 1..n), -a FIRST-LAST (source addresses
 * 127.0.0.FIRST..LAST), -P N (idle: handshakes in progress at most),
 * -N NAME (the server, for the record), -o FILE (append the record),
 * -M W,W,... (load: the weights of the drawn commands, in the order of
 * enum op up to OP_NOOP; OP_DELETE and OP_EXPUNGE follow APPEND and
 * take no weight).
 *
 * Plaintext IMAP on 127.0.0.1, epoll, non-blocking sockets, one thread.
 * A command answered NO or BAD, or whose answer lacks what it must hold
 * (FETCH data, a SEARCH line, APPENDUID), is an error, not an operation:
 * a server that fails commands must not look fast. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define LOAD_INBUF	(1024 * 1024)	/* one response line at most */
#define IDLE_INBUF	8192
#define HEAD_MAX	200		/* kept of a response's first line */
#define APPEND_SIZE	5120
#define FETCH_WINDOW	50
#define NERRSHOW	12

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imapload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64*: the same seed gives every server the same commands */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static unsigned
rndn(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd(s) % n);
}

/* --- the messages ------------------------------------------------------ */

static const char *const words[] = {
	"invoice", "meeting", "budget", "report", "holiday", "project",
	"server", "release", "contract", "garden", "concert", "train",
	"coffee", "review", "schedule", "backup", "printer", "kernel",
	"letter", "museum", "orchard", "harbour", "lantern", "violin",
	"quarterly", "migration", "newsletter", "dinner", "ticket", "delivery",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const senders[] = {
	"Alice Martin", "Bruno Petit", "Chloe Bernard", "David Moreau",
	"Emma Laurent", "Farid Haddad", "Gaelle Roux", "Hugo Fournier",
	"Ines Girard", "Jules Bonnet", "Karim Dupont", "Lea Lambert",
	"Marc Fontaine", "Nina Chevalier", "Oscar Robin", "Paula Garnier",
	"Quentin Faure", "Rose Andre", "Simon Mercier", "Tara Blanc",
};
#define NSENDERS (sizeof(senders) / sizeof(senders[0]))

struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			die("out of memory");
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		die("sb_printf: too long");
	sb_add(b, tmp, (size_t)n);
}

/* Text lines of words until the body holds about `want` more octets. */
static void
gen_text(struct sbuf *b, size_t want, uint64_t *r)
{
	size_t end = b->len + want, col = 0;

	while (b->len < end) {
		const char *w = words[rndn(r, NWORDS)];
		size_t n = strlen(w);

		if (col + n + 1 > 72) {
			sb_add(b, "\r\n", 2);
			col = 0;
		} else if (col > 0) {
			sb_add(b, " ", 1);
			col++;
		}
		sb_add(b, w, n);
		col += n;
	}
	sb_add(b, "\r\n", 2);
}

static void
gen_base64(struct sbuf *b, size_t want, uint64_t *r)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];
	size_t end = b->len + want;

	while (b->len < end) {
		for (int i = 0; i < 76; i++)
			line[i] = a[rndn(r, 64)];
		line[76] = '\r';
		line[77] = '\n';
		sb_add(b, line, 78);
	}
}

/* Message i: headers, then plain text (70%), text + base64 attachment
 * (20%) or multipart/alternative text + html (10%). */
static void
gen_msg(struct sbuf *b, unsigned i, uint64_t *r)
{
	unsigned kind = rndn(r, 10), s = rndn(r, NSENDERS);
	unsigned pick = rndn(r, 100);
	size_t size;
	char first[32];
	const char *sp;

	/* sizes: 60% 2-8 KB, 30% 8-25 KB, 10% 25-50 KB */
	if (pick < 60)
		size = 2048 + rndn(r, 6 * 1024);
	else if (pick < 90)
		size = 8192 + rndn(r, 17 * 1024);
	else
		size = 25600 + rndn(r, 25 * 1024);
	sp = strchr(senders[s], ' ');
	snprintf(first, sizeof(first), "%.*s", (int)(sp - senders[s]),
	    senders[s]);
	b->len = 0;
	sb_printf(b, "Return-Path: <%s@example.org>\r\n", first);
	sb_printf(b, "Received: from mx.example.org (mx.example.org "
	    "[192.0.2.%u])\r\n\tby bench.test with ESMTPS id B%u;\r\n"
	    "\t%s\r\n", 1 + i % 250, i, "Tue, 14 Nov 2023 22:13:20 +0000");
	sb_printf(b, "From: %s <%s@example.org>\r\n", senders[s], first);
	sb_printf(b, "To: Bench User <i1@bench.test>\r\n");
	if (rndn(r, 4) == 0)
		sb_printf(b, "Cc: %s <%s@example.org>\r\n",
		    senders[(s + 3) % NSENDERS], "copy");
	if (rndn(r, 20) == 0)	/* RFC 2047: "Résumé" then the words */
		sb_printf(b, "Subject: =?UTF-8?Q?R=C3=A9sum=C3=A9?= %s %s "
		    "#%u\r\n", words[rndn(r, NWORDS)], words[rndn(r, NWORDS)],
		    i);
	else
		sb_printf(b, "Subject: %s %s about the %s #%u\r\n",
		    rndn(r, 3) == 0 ? "Re:" : "Fwd:", words[rndn(r, NWORDS)],
		    words[rndn(r, NWORDS)], i);
	sb_printf(b, "Date: %s, %02u Nov 2023 %02u:%02u:00 +0100\r\n",
	    "Tue", 1 + i % 28, i % 24, i % 60);
	sb_printf(b, "Message-ID: <%u.%u@example.org>\r\n", i, s);
	if (i > 0 && rndn(r, 3) == 0)
		sb_printf(b, "In-Reply-To: <%u.%u@example.org>\r\n",
		    i - 1 - rndn(r, i < 20 ? i : 20), s);
	sb_printf(b, "MIME-Version: 1.0\r\n");
	if (kind < 7) {
		sb_printf(b, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n");
		gen_text(b, size > b->len ? size - b->len : 64, r);
	} else if (kind < 9) {
		size_t text = 600 + rndn(r, 1500);
		size_t att = size > b->len + text + 600 ?
		    size - b->len - text - 600 : 1024;

		sb_printf(b, "Content-Type: multipart/mixed; "
		    "boundary=\"=_b%u\"\r\n\r\nThis is a MIME message.\r\n"
		    "\r\n--=_b%u\r\nContent-Type: text/plain; "
		    "charset=us-ascii\r\n\r\n", i, i);
		gen_text(b, text, r);
		sb_printf(b, "\r\n--=_b%u\r\nContent-Type: application/pdf; "
		    "name=\"%s-%u.pdf\"\r\nContent-Disposition: attachment; "
		    "filename=\"%s-%u.pdf\"\r\nContent-Transfer-Encoding: "
		    "base64\r\n\r\n", i, words[i % NWORDS], i,
		    words[i % NWORDS], i);
		gen_base64(b, att, r);
		sb_printf(b, "\r\n--=_b%u--\r\n", i);
	} else {
		size_t half = size > b->len ? (size - b->len) / 2 : 512;

		sb_printf(b, "Content-Type: multipart/alternative; "
		    "boundary=\"=_a%u\"\r\n\r\n--=_a%u\r\nContent-Type: "
		    "text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		    i, i);
		gen_text(b, half, r);
		sb_printf(b, "\r\n--=_a%u\r\nContent-Type: text/html; "
		    "charset=utf-8\r\n\r\n<html><body><p>\r\n", i);
		gen_text(b, half, r);
		sb_printf(b, "</p></body></html>\r\n\r\n--=_a%u--\r\n", i);
	}
}

static int
cmd_gen(int argc, char **argv)
{
	struct sbuf b = { 0 };
	char path[4096];
	unsigned count, uid, gid;
	uint64_t r;

	if (argc != 7)
		die("usage: imapload gen DIR COUNT SEED UID GID");
	count = (unsigned)strtoul(argv[3], NULL, 10);
	r = strtoull(argv[4], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;
	uid = (unsigned)strtoul(argv[5], NULL, 10);
	gid = (unsigned)strtoul(argv[6], NULL, 10);
	for (const char *sub = "cur"; sub; sub = strcmp(sub, "cur") == 0 ?
	    "new" : strcmp(sub, "new") == 0 ? "tmp" : NULL) {
		snprintf(path, sizeof(path), "%s/%s", argv[2], sub);
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			die("mkdir %s: %s", path, strerror(errno));
		if (chown(path, uid, gid) == -1)
			die("chown %s: %s", path, strerror(errno));
	}
	for (unsigned i = 0; i < count; i++) {
		unsigned long secs = 1700000000UL + i * 60UL;
		unsigned f = rndn(&r, 100);
		/* 60% seen, 5% seen and flagged, 35% unseen */
		const char *flags = f < 5 ? "FS" : f < 65 ? "S" : "";
		struct timeval tv[2];
		int fd;

		gen_msg(&b, i, &r);
		snprintf(path, sizeof(path),
		    "%s/cur/%lu.M%uP4242Q%uR%08x.bench.test,S=%zu:2,%s",
		    argv[2], secs, (i * 7919) % 1000000, i + 1,
		    (unsigned)rnd(&r), b.len, flags);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd == -1)
			die("open %s: %s", path, strerror(errno));
		if (write(fd, b.p, b.len) != (ssize_t)b.len)
			die("write %s: %s", path, strerror(errno));
		if (fchown(fd, uid, gid) == -1)
			die("fchown %s: %s", path, strerror(errno));
		/* the internal date: when it was delivered */
		tv[0].tv_sec = tv[1].tv_sec = (time_t)secs;
		tv[0].tv_usec = tv[1].tv_usec = 0;
		futimes(fd, tv);
		close(fd);
	}
	free(b.p);
	return 0;
}

/* --- the client --------------------------------------------------------- */

enum op {
	OP_FETCH_WIN, OP_FETCH_HDR, OP_FETCH_BODY, OP_STORE, OP_SEARCH_UNSEEN,
	OP_SEARCH_FROM, OP_SEARCH_SUBJ, OP_APPEND, OP_DELETE, OP_EXPUNGE, OP_NOOP,
	OP_LOGIN, OP_SELECT, OP_LOGOUT, OP_IDLE, OP_WARM, NOPS
};

static const char *const op_names[NOPS] = {
	"FETCH 50 envelopes", "UID FETCH header", "UID FETCH body",
	"UID STORE flags", "SEARCH UNSEEN", "SEARCH FROM", "SEARCH SUBJECT",
	"APPEND 5 KB", "UID STORE \\Deleted",
	"UID EXPUNGE", "NOOP", "LOGIN", "SELECT", "LOGOUT", "IDLE", "warm-up",
};

/* The mix: weights of the randomly drawn commands; every APPEND is
 * followed by the deletion of what it appended (OP_DELETE, then
 * OP_EXPUNGE), so the mailbox keeps its size. */
static unsigned op_weight[OP_LOGIN] = {
	[OP_FETCH_WIN] = 15, [OP_FETCH_HDR] = 20, [OP_FETCH_BODY] = 15,
	[OP_STORE] = 15, [OP_SEARCH_UNSEEN] = 4, [OP_SEARCH_FROM] = 3,
	[OP_SEARCH_SUBJ] = 3, [OP_APPEND] = 5, [OP_NOOP] = 10,
};

enum cstate {
	C_CONNECT, C_GREETING, C_CMD, C_APPEND_CONT, C_IDLE_CONT, C_IDLING,
	C_DONE
};

enum mode { M_LOAD, M_WARM, M_IDLE };

#define NBUCKETS 112	/* latency histogram: 2^(i/4) microseconds */

struct opstat {
	unsigned long	 ok, err;
	double		 sum, max;
	unsigned long	 hist[NBUCKETS];
};


struct conn {
	int		 fd;
	unsigned	 idx;
	enum cstate	 st;
	char		*in;
	size_t		 inlen, incap;
	/* the response being read: its first line, literals skipped */
	size_t		 lit_left;
	bool		 have_head;
	char		 head[HEAD_MAX + 1];
	/* output not yet written */
	char		*out;
	size_t		 outlen, outoff, outcap;
	bool		 want_out;
	/* the command in flight */
	unsigned	 tagn;
	char		 tag[16];
	enum op		 op;
	double		 t0;
	unsigned	 nfetch;
	size_t		 litbytes;
	bool		 got_search;
	unsigned	 nhits;		/* numbers in the SEARCH response */
	/* an appended message to delete next (OP_DELETE, OP_EXPUNGE) */
	unsigned long	 appended;
	enum op		 pending;
	unsigned	 warm_step;
	uint64_t	 rng;
	bool		 selected;
};

static struct {
	enum mode	 mode;
	const char	*name;
	int		 port;
	const char	*user;		/* printf pattern with %u, or a name */
	unsigned	 nusers;
	const char	*pass;
	unsigned	 conc;
	double		 duration, warmup;
	uint64_t	 seed;
	unsigned	 nmsg;
	unsigned	 addr_first, addr_last;
	unsigned	 parallel;
	const char	*out;
} opt = {
	.name = "server", .user = "i%u@bench.test", .nusers = 1,
	.pass = "bench-pw", .conc = 1, .duration = 10, .warmup = 2,
	.seed = 1, .nmsg = 2000, .addr_first = 1, .addr_last = 1,
	.parallel = 100,
};

static int ep;
static struct conn *conns;
static unsigned nstarted, nready, nclosed, nidling, nfailed, ndropped;
static double t_ready, t_m0, t_m1;
static bool stopping;
static struct opstat stats[NOPS];
static unsigned long errs_total, errs_window, ops_window;
static unsigned long long body_octets;
static char *errshow[NERRSHOW];
static unsigned long errshow_n[NERRSHOW];
static unsigned nerrshow;
static char append_msg[APPEND_SIZE];
/* warm-up: per step, FETCH responses or SEARCH hits summed over users
 * (the two servers must agree: the same data) */
static unsigned long warm_count[5];

static void
note_error(const char *what, const char *detail)
{
	char buf[HEAD_MAX + 64];

	snprintf(buf, sizeof(buf), "%s: %s", what, detail);
	errs_total++;
	for (unsigned i = 0; i < nerrshow; i++)
		if (strcmp(errshow[i], buf) == 0) {
			errshow_n[i]++;
			return;
		}
	if (nerrshow < NERRSHOW) {
		errshow[nerrshow] = strdup(buf);
		errshow_n[nerrshow++] = 1;
	}
}

static bool
in_window(double t)
{
	return opt.mode == M_LOAD && t_m0 > 0 && t >= t_m0 && t <= t_m1;
}

static void
conn_events(struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0);
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
}

static void conn_close(struct conn *c, const char *why);

static int
conn_flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_close(c, "write failed");
			return -1;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->want_out != (c->outlen > 0)) {
		c->want_out = c->outlen > 0;
		conn_events(c);
	}
	return 0;
}

static void
conn_queue(struct conn *c, const void *p, size_t n)
{
	if (c->outlen + n > c->outcap) {
		c->outcap = (c->outlen + n) * 2;
		if ((c->out = realloc(c->out, c->outcap)) == NULL)
			die("out of memory");
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

/* Send "TAG command\r\n" as operation op. */
static int
conn_cmd(struct conn *c, enum op op, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, k;

	snprintf(c->tag, sizeof(c->tag), "a%u", ++c->tagn);
	n = snprintf(line, sizeof(line), "%s ", c->tag);
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n - 2, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)(n + k) >= sizeof(line) - 2)
		die("command too long");
	n += k;
	line[n++] = '\r';
	line[n++] = '\n';
	c->op = op;
	c->t0 = now();
	c->nfetch = 0;
	c->litbytes = 0;
	c->got_search = false;
	c->nhits = 0;
	c->st = C_CMD;
	conn_queue(c, line, (size_t)n);
	return conn_flush(c);
}

static void
conn_user(struct conn *c, char *buf, size_t size)
{
	if (strchr(opt.user, '%'))
		snprintf(buf, size, opt.user, 1 + c->idx % opt.nusers);
	else
		snprintf(buf, size, "%s", opt.user);
}

static void
conn_close(struct conn *c, const char *why)
{
	if (c->fd == -1)
		return;
	if (why != NULL && !(c->op == OP_LOGOUT && c->st == C_CMD)) {
		if (c->st == C_IDLING)
			ndropped++;
		else
			nfailed++;
		note_error(c->st == C_IDLING ? "idling connection" :
		    op_names[c->op], why);
	}
	close(c->fd);
	c->fd = -1;
	c->st = C_DONE;
	nclosed++;
	free(c->in);
	c->in = NULL;
	free(c->out);
	c->out = NULL;
	c->outcap = c->outlen = c->outoff = 0;
}

static int
conn_start(struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	unsigned naddr = opt.addr_last - opt.addr_first + 1;
	int one = 1;

	nstarted++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket: %s (ulimit -n?)", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (naddr > 1) {
		sa.sin_addr.s_addr = htonl(0x7f000000U +
		    opt.addr_first + c->idx % naddr);
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			die("bind: %s", strerror(errno));
	}
	sa.sin_addr.s_addr = htonl(0x7f000001U);
	sa.sin_port = htons((uint16_t)opt.port);
	c->incap = opt.mode == M_IDLE ? IDLE_INBUF : LOAD_INBUF;
	if ((c->in = malloc(c->incap)) == NULL)
		die("out of memory");
	c->st = C_CONNECT;
	c->op = OP_LOGIN;
	c->rng = (opt.seed + 1) * 0x9E3779B97F4A7C15ULL ^
	    ((uint64_t)(c->idx + 1) * 0xBF58476D1CE4E5B9ULL);
	if (c->rng == 0)
		c->rng = 1;
	c->want_out = true;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    errno != EINPROGRESS) {
		conn_close(c, strerror(errno));
		return -1;
	}
	return 0;
}

/* --- the workload ------------------------------------------------------- */

static unsigned
pick_uid(struct conn *c)
{
	return 1 + rndn(&c->rng, opt.nmsg);
}

static int
next_op(struct conn *c)
{
	unsigned total = 0, r;
	enum op op;

	if (stopping)
		return conn_cmd(c, OP_LOGOUT, "LOGOUT");
	if (c->pending == OP_DELETE)
		return conn_cmd(c, OP_DELETE, "UID STORE %lu +FLAGS.SILENT "
		    "(\\Deleted)", c->appended);
	if (c->pending == OP_EXPUNGE)
		return conn_cmd(c, OP_EXPUNGE, "UID EXPUNGE %lu", c->appended);
	for (op = 0; op < OP_LOGIN; op++)
		total += op_weight[op];
	r = rndn(&c->rng, total);
	for (op = 0; r >= op_weight[op]; op++)
		r -= op_weight[op];
	switch (op) {
	case OP_FETCH_WIN: {
		unsigned w = opt.nmsg < FETCH_WINDOW ? opt.nmsg : FETCH_WINDOW;
		unsigned s = 1 + rndn(&c->rng, opt.nmsg - w + 1);

		return conn_cmd(c, op, "FETCH %u:%u (FLAGS UID RFC822.SIZE "
		    "ENVELOPE)", s, s + w - 1);
	}
	case OP_FETCH_HDR:
		return conn_cmd(c, op, "UID FETCH %u BODY.PEEK[HEADER]",
		    pick_uid(c));
	case OP_FETCH_BODY:
		return conn_cmd(c, op, "UID FETCH %u BODY.PEEK[]",
		    pick_uid(c));
	case OP_STORE:
		return conn_cmd(c, op, "UID STORE %u %cFLAGS (\\Seen)",
		    pick_uid(c), rndn(&c->rng, 2) ? '+' : '-');
	case OP_SEARCH_UNSEEN:
		return conn_cmd(c, op, "SEARCH UNSEEN");
	case OP_SEARCH_FROM: {
		const char *s = senders[rndn(&c->rng, NSENDERS)];

		return conn_cmd(c, op, "SEARCH FROM \"%s\"", strchr(s, ' ') + 1);
	}
	case OP_SEARCH_SUBJ:
		return conn_cmd(c, op, "SEARCH SUBJECT \"%s\"",
		    words[rndn(&c->rng, NWORDS)]);
	case OP_APPEND:
		if (conn_cmd(c, op, "APPEND INBOX {%u}", APPEND_SIZE) == -1)
			return -1;
		c->st = C_APPEND_CONT;
		return 0;
	default:
		return conn_cmd(c, OP_NOOP, "NOOP");
	}
}

/* The warm-up pass, one connection per user. */
static int
warm_op(struct conn *c)
{
	switch (c->warm_step++) {
	case 0:
		return conn_cmd(c, OP_WARM, "FETCH 1:* (UID FLAGS INTERNALDATE "
		    "RFC822.SIZE ENVELOPE BODYSTRUCTURE)");
	case 1:
		return conn_cmd(c, OP_WARM, "FETCH 1:* BODY.PEEK[]");
	case 2:
		return conn_cmd(c, OP_WARM, "SEARCH FROM \"Martin\"");
	case 3:
		return conn_cmd(c, OP_WARM, "SEARCH SUBJECT \"invoice\"");
	case 4:
		return conn_cmd(c, OP_WARM, "SEARCH UNSEEN");
	default:
		return conn_cmd(c, OP_LOGOUT, "LOGOUT");
	}
}

static void
record(enum op op, double lat, bool ok)
{
	struct opstat *s = &stats[op];
	double us = lat * 1e6;
	int b = 0;

	if (ok)
		s->ok++;
	else
		s->err++;
	s->sum += lat;
	if (lat > s->max)
		s->max = lat;
	if (us >= 1)
		b = (int)(4 * log2(us));
	if (b >= NBUCKETS)
		b = NBUCKETS - 1;
	s->hist[b]++;
}

/* "[APPENDUID uidvalidity uid]" of the tagged OK, or 0. */
static unsigned long
appenduid(const char *head)
{
	const char *p = strstr(head, "[APPENDUID ");
	unsigned long v, u;

	if (p == NULL || sscanf(p + 11, "%lu %lu", &v, &u) != 2)
		return 0;
	return u;
}

/* The tagged answer of the command in flight. */
static int
conn_done(struct conn *c, const char *status, const char *head)
{
	double t = now(), lat = t - c->t0;
	bool ok = strncmp(status, "OK", 2) == 0;
	const char *why = ok ? NULL : head;
	enum op op = c->op;

	if (ok) {
		switch (op) {
		case OP_FETCH_WIN:
			if (c->nfetch < (opt.nmsg < FETCH_WINDOW ? opt.nmsg :
			    FETCH_WINDOW))
				why = "fewer FETCH responses than messages";
			break;
		case OP_FETCH_HDR:
		case OP_FETCH_BODY:
			if (c->nfetch == 0 || c->litbytes == 0)
				why = "no FETCH data (UID gone?)";
			break;
		case OP_SEARCH_UNSEEN:
		case OP_SEARCH_FROM:
		case OP_SEARCH_SUBJ:
			if (!c->got_search)
				why = "no SEARCH response";
			break;
		case OP_APPEND:
			c->appended = appenduid(head);
			if (c->appended == 0)
				why = "no APPENDUID";
			else
				c->pending = OP_DELETE;
			break;
		case OP_DELETE:
			c->pending = OP_EXPUNGE;
			break;
		case OP_EXPUNGE:
			c->pending = 0;
			break;
		default:
			break;
		}
	} else if (op == OP_DELETE || op == OP_EXPUNGE)
		c->pending = 0;
	if (op == OP_FETCH_BODY && why == NULL && in_window(t))
		body_octets += c->litbytes;
	if (op < OP_LOGIN && in_window(t)) {
		record(op, lat, why == NULL);
		if (why == NULL)
			ops_window++;
		else
			errs_window++;
	} else if (op == OP_WARM)
		record(op, lat, why == NULL);
	if (why != NULL)
		note_error(op_names[op], why);

	switch (op) {
	case OP_LOGIN:
		if (why != NULL) {
			conn_close(c, NULL);
			nfailed++;
			return -1;
		}
		return conn_cmd(c, OP_SELECT, "SELECT INBOX");
	case OP_SELECT:
		if (why != NULL) {
			conn_close(c, NULL);
			nfailed++;
			return -1;
		}
		c->selected = true;
		nready++;
		if (opt.mode == M_IDLE) {
			if (conn_cmd(c, OP_IDLE, "IDLE") == -1)
				return -1;
			c->st = C_IDLE_CONT;
			return 0;
		}
		if (opt.mode == M_WARM)
			return warm_op(c);
		if (nready == opt.conc) {
			t_ready = now();
			t_m0 = t_ready + opt.warmup;
			t_m1 = t_m0 + opt.duration;
		}
		return next_op(c);
	case OP_LOGOUT:
		conn_close(c, NULL);
		return -1;
	case OP_IDLE:		/* IDLE refused or ended */
		conn_close(c, why ? why : "IDLE ended");
		return -1;
	case OP_WARM:
		if (c->warm_step >= 1 && c->warm_step <= 5)
			warm_count[c->warm_step - 1] += c->warm_step <= 2 ?
			    c->nfetch : c->nhits;
		return warm_op(c);
	default:
		return next_op(c);
	}
}

static bool
word_at(const char *p, const char *w)
{
	size_t n = strlen(w);

	return strncasecmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == '\0' ||
	    p[n] == '(');
}

/* One complete response (its first line in c->head). */
static int
conn_response(struct conn *c)
{
	const char *h = c->head;
	size_t tl = strlen(c->tag);

	if (c->st == C_GREETING) {
		char user[256];

		if (strncmp(h, "* OK", 4) != 0) {
			conn_close(c, h);
			return -1;
		}
		conn_user(c, user, sizeof(user));
		return conn_cmd(c, OP_LOGIN, "LOGIN \"%s\" \"%s\"", user,
		    opt.pass);
	}
	if (h[0] == '+') {
		if (c->st == C_APPEND_CONT) {
			c->st = C_CMD;
			conn_queue(c, append_msg, APPEND_SIZE);
			conn_queue(c, "\r\n", 2);
			return conn_flush(c);
		}
		if (c->st == C_IDLE_CONT) {
			c->st = C_IDLING;
			nidling++;
			/* this one's handshake is done: start another */
			return 0;
		}
		note_error(op_names[c->op], "unexpected continuation");
		return 0;
	}
	if (h[0] == '*' && h[1] == ' ') {
		const char *p = h + 2;

		if (*p >= '0' && *p <= '9') {
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p == ' ')
				p++;
			if (word_at(p, "FETCH"))
				c->nfetch++;
		} else if (word_at(p, "SEARCH") || word_at(p, "ESEARCH"))
			c->got_search = true;
		else if (word_at(p, "BYE") && c->op != OP_LOGOUT)
			note_error(op_names[c->op], h);
		return 0;
	}
	if (strncmp(h, c->tag, tl) == 0 && h[tl] == ' ' &&
	    (c->st == C_CMD || c->st == C_APPEND_CONT ||
	    c->st == C_IDLE_CONT || c->st == C_IDLING))
		return conn_done(c, h + tl + 1, h);
	note_error(op_names[c->op], "unexpected response");
	note_error("unexpected response", h);
	return 0;
}

/* A literal announced at the end of a line: "{123}" or "{123+}". */
static bool
line_literal(const char *p, size_t len, size_t *n)
{
	size_t i = len, v = 0, mul = 1;

	if (len < 3 || p[len - 1] != '}')
		return false;
	i = len - 1;
	if (p[i - 1] == '+')
		i--;
	if (i == 0 || p[i - 1] < '0' || p[i - 1] > '9')
		return false;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9') {
		v += (size_t)(p[i - 1] - '0') * mul;
		mul *= 10;
		i--;
		if (len - i > 14)
			return false;
	}
	if (i == 0 || p[i - 1] != '{')
		return false;
	*n = v;
	return true;
}

static int
conn_read(struct conn *c)
{
	for (;;) {
		size_t pos = 0;
		ssize_t n;

		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			conn_close(c, n == 0 ? "connection closed by the server"
			    : strerror(errno));
			return -1;
		}
		c->inlen += (size_t)n;
		while (pos < c->inlen) {
			char *s = c->in + pos, *e;
			size_t len, k;

			if (c->lit_left > 0) {
				k = c->inlen - pos < c->lit_left ?
				    c->inlen - pos : c->lit_left;
				c->lit_left -= k;
				c->litbytes += k;
				pos += k;
				continue;
			}
			e = memmem(s, c->inlen - pos, "\r\n", 2);
			if (e == NULL) {
				if (pos == 0 && c->inlen == c->incap) {
					/* a line longer than the buffer: keep
					 * its start and its tail only */
					if (!c->have_head) {
						memcpy(c->head, s, HEAD_MAX);
						c->head[HEAD_MAX] = '\0';
						c->have_head = true;
					}
					memmove(c->in, c->in + c->inlen - 32,
					    32);
					c->inlen = 32;
				}
				break;
			}
			len = (size_t)(e - s);
			if (!c->have_head) {
				k = len < HEAD_MAX ? len : HEAD_MAX;
				memcpy(c->head, s, k);
				c->head[k] = '\0';
				c->have_head = true;
			}
			pos += len + 2;
			if (line_literal(s, len, &k)) {
				c->lit_left = k;
				continue;
			}
			c->have_head = false;
			if (len > 8 && memcmp(s, "* SEARCH", 8) == 0)
				for (k = 8; k + 1 < len; k++)
					if (s[k] == ' ' && s[k + 1] >= '0' &&
					    s[k + 1] <= '9')
						c->nhits++;
			if (conn_response(c) == -1)
				return -1;
		}
		if (pos > 0) {
			memmove(c->in, c->in + pos, c->inlen - pos);
			c->inlen -= pos;
		}
	}
}

static void
conn_event(struct conn *c, uint32_t ev)
{
	if (c->st == C_CONNECT) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			conn_close(c, strerror(err));
			return;
		}
		c->st = C_GREETING;
		c->want_out = false;
		conn_events(c);
		return;
	}
	if ((ev & EPOLLOUT) && conn_flush(c) == -1)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_read(c);
}

/* --- main ------------------------------------------------------------- */

static void
build_append(void)
{
	static const char head[] =
	    "From: Imapload <load@example.org>\r\n"
	    "To: Bench User <i1@bench.test>\r\n"
	    "Subject: appended by imapload\r\n"
	    "Date: Wed, 15 Nov 2023 10:00:00 +0100\r\n"
	    "Message-ID: <append@imapload.example.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
	size_t n = sizeof(head) - 1;

	memcpy(append_msg, head, n);
	while (n < APPEND_SIZE) {
		size_t k = APPEND_SIZE - n < 72 ? APPEND_SIZE - n : 72;

		memset(append_msg + n, 'x', k);
		if (k >= 2) {
			append_msg[n + k - 2] = '\r';
			append_msg[n + k - 1] = '\n';
		}
		n += k;
	}
	append_msg[APPEND_SIZE - 2] = '\r';
	append_msg[APPEND_SIZE - 1] = '\n';
}

static double
pct(const struct opstat *s, double q)
{
	unsigned long n = s->ok + s->err, want, acc = 0;

	if (n == 0)
		return 0;
	want = (unsigned long)(q * n + 0.5);
	if (want < 1)
		want = 1;
	for (int b = 0; b < NBUCKETS; b++) {
		acc += s->hist[b];
		if (acc >= want)
			return exp2((b + 1) / 4.0) / 1000.0;	/* ms */
	}
	return s->max * 1000;
}

static void
report(double secs)
{
	FILE *f;

	if (opt.mode == M_LOAD) {
		struct rusage ru;
		double cpu = 0;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		printf("%-8s conc %3u: %8lu ops in %.1f s = %8.1f ops/s, "
		    "%lu errors (%lu in the window); client cpu %.2f s\n",
		    opt.name, opt.conc, ops_window, secs, ops_window / secs,
		    errs_total, errs_window, cpu);
		printf("  %-20s %8s %6s %9s %8s %8s %9s\n", "command", "ok",
		    "err", "mean ms", "p50 ms", "p99 ms", "max ms");
		for (int op = 0; op < OP_LOGIN; op++) {
			const struct opstat *s = &stats[op];
			unsigned long n = s->ok + s->err;

			if (n == 0)
				continue;
			printf("  %-20s %8lu %6lu %9.2f %8.2f %8.2f %9.1f\n",
			    op_names[op], s->ok, s->err, 1000 * s->sum / n,
			    pct(s, 0.5), pct(s, 0.99), 1000 * s->max);
		}
	} else if (opt.mode == M_WARM) {
		const struct opstat *s = &stats[OP_WARM];

		printf("%-8s warm-up: %lu commands in %.1f s, %lu errors; "
		    "FETCH responses %lu %lu, SEARCH hits FROM %lu SUBJECT %lu "
		    "UNSEEN %lu\n", opt.name, s->ok + s->err, secs, errs_total,
		    warm_count[0], warm_count[1], warm_count[2], warm_count[3],
		    warm_count[4]);
	}
	for (unsigned i = 0; i < nerrshow; i++)
		printf("  error x%lu: %s\n", errshow_n[i], errshow[i]);
	if (opt.out != NULL && opt.mode == M_LOAD) {
		if ((f = fopen(opt.out, "a")) == NULL)
			die("%s: %s", opt.out, strerror(errno));
		fprintf(f, "server=%s conc=%u secs=%.2f ops=%lu rate=%.1f "
		    "errors=%lu window_errors=%lu body_mb=%.1f", opt.name,
		    opt.conc, secs, ops_window, ops_window / secs, errs_total,
		    errs_window, body_octets / 1048576.0);
		for (int op = 0; op < OP_LOGIN; op++)
			fprintf(f, " p50_%d=%.2f p99_%d=%.2f n_%d=%lu", op,
			    pct(&stats[op], 0.5), op, pct(&stats[op], 0.99),
			    op, stats[op].ok);
		fputc('\n', f);
		fclose(f);
	}
	fflush(stdout);
}

static void
usage(void)
{
	die("usage: imapload gen DIR COUNT SEED UID GID\n"
	    "       imapload load|warm|idle -p PORT [-u USER%%u] [-k NUSERS] "
	    "[-w PASS] [-c CONC] [-d SECS] [-W SECS] [-s SEED] [-n NMSG] "
	    "[-a FIRST-LAST] [-P PARALLEL] [-N NAME] [-o FILE]");
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	double t_start, t_end, t_limit;
	bool stdin_open = true;
	int ch;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(argc, argv);
	if (strcmp(argv[1], "load") == 0)
		opt.mode = M_LOAD;
	else if (strcmp(argv[1], "warm") == 0)
		opt.mode = M_WARM;
	else if (strcmp(argv[1], "idle") == 0)
		opt.mode = M_IDLE;
	else
		usage();
	optind = 2;
	while ((ch = getopt(argc, argv, "p:u:k:w:c:d:W:s:n:a:P:N:o:M:")) != -1) {
		switch (ch) {
		case 'p': opt.port = atoi(optarg); break;
		case 'u': opt.user = optarg; break;
		case 'k': opt.nusers = (unsigned)atoi(optarg); break;
		case 'w': opt.pass = optarg; break;
		case 'c': opt.conc = (unsigned)atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'W': opt.warmup = atof(optarg); break;
		case 's': opt.seed = strtoull(optarg, NULL, 10); break;
		case 'n': opt.nmsg = (unsigned)atoi(optarg); break;
		case 'a':
			if (sscanf(optarg, "%u-%u", &opt.addr_first,
			    &opt.addr_last) != 2)
				opt.addr_last = opt.addr_first =
				    (unsigned)atoi(optarg);
			break;
		case 'P': opt.parallel = (unsigned)atoi(optarg); break;
		case 'N': opt.name = optarg; break;
		case 'o': opt.out = optarg; break;
		case 'M': {
			char *p = optarg, *e;
			unsigned total = 0;

			for (int op = 0; op < OP_LOGIN; op++) {
				if (op == OP_DELETE || op == OP_EXPUNGE) {
					op_weight[op] = 0;
					continue;
				}
				op_weight[op] = (unsigned)strtoul(p, &e, 10);
				total += op_weight[op];
				if (e == p || (*e != ',' && *e != '\0'))
					die("-M: %d weights, comma-separated",
					    OP_LOGIN - 2);
				p = *e == ',' ? e + 1 : e;
			}
			if (*p != '\0' || total == 0)
				die("-M: %d weights, not all 0", OP_LOGIN - 2);
			break;
		}
		default: usage();
		}
	}
	if (opt.port <= 0 || opt.conc < 1 || opt.nusers < 1 ||
	    opt.nmsg < 1 || opt.addr_first < 1 ||
	    opt.addr_last < opt.addr_first || opt.addr_last > 254 ||
	    opt.parallel < 1 || opt.duration <= 0 || opt.warmup < 0)
		usage();
	if (opt.mode == M_WARM)
		opt.conc = opt.nusers;
	raise_nofile();
	build_append();
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	if ((conns = calloc(opt.conc, sizeof(*conns))) == NULL)
		die("out of memory");
	for (unsigned i = 0; i < opt.conc; i++) {
		conns[i].idx = i;
		conns[i].fd = -1;
	}
	if (opt.mode == M_IDLE) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == -1)
			stdin_open = false;	/* /dev/null: hold forever */
	}
	t_start = now();
	/* setup must not take forever (a server refusing logins) */
	t_limit = t_start + 120 + opt.conc / 20.0;
	for (;;) {
		int n;
		double t;

		/* connections to open: all at once for load and warm,
		 * at most `parallel` handshakes at a time for idle */
		while (nstarted < opt.conc && (opt.mode != M_IDLE ||
		    nstarted - nidling - nfailed < opt.parallel))
			conn_start(&conns[nstarted]);
		n = epoll_wait(ep, evs, 256, 100);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				char b[256];

				if (read(0, b, sizeof(b)) <= 0) {
					epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
					stdin_open = false;
				}
				continue;
			}
			conn_event(evs[i].data.ptr, evs[i].events);
		}
		t = now();
		if (opt.mode == M_IDLE) {
			static bool said;

			if (!said && nidling + nfailed >= opt.conc) {
				said = true;
				printf("ready idling=%u failed=%u secs=%.1f\n",
				    nidling - ndropped, nfailed,
				    t - t_start);
				fflush(stdout);
			}
			if (!said && t > t_limit) {
				said = true;
				printf("ready idling=%u failed=%u secs=%.1f "
				    "(gave up waiting)\n", nidling - ndropped,
				    nfailed + opt.conc - nidling - nfailed,
				    t - t_start);
				fflush(stdout);
			}
			if (said && !stdin_open)
				break;
			continue;
		}
		if (opt.mode == M_LOAD && !stopping && t_m1 > 0 && t >= t_m1)
			stopping = true;
		if (opt.mode == M_LOAD && !stopping && t_m1 == 0 &&
		    t > t_limit) {
			note_error("setup", "not every connection logged in");
			stopping = true;
			t_m1 = t;
		}
		if (nclosed == opt.conc)
			break;
		if (stopping && t > t_m1 + 15)	/* LOGOUT unanswered */
			break;
		if (opt.mode == M_WARM && t > t_start + 600) {
			note_error("warm-up", "timed out");
			break;
		}
	}
	t_end = now();
	if (opt.mode != M_IDLE)		/* a command never answered */
		for (unsigned i = 0; i < opt.conc; i++)
			if (conns[i].fd != -1)
				note_error(op_names[conns[i].op],
				    "no answer by the end of the run");
	if (opt.mode == M_IDLE) {
		printf("closing idling=%u dropped=%u\n", nidling - ndropped,
		    ndropped);
		for (unsigned i = 0; i < opt.conc; i++)
			if (conns[i].fd != -1)
				close(conns[i].fd);
	}
	report(opt.mode == M_LOAD ? opt.duration : t_end - t_start);
	if (opt.mode == M_LOAD && t_m0 == 0)
		return 1;
	return errs_total > 0 ? 1 : 0;
}
