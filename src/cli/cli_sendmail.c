/* cli_sendmail.c: facteur sendmail, also run through a "sendmail" link:
 * the options, the modes and the SMTP session.
 *
 * The message comes on standard input and goes to the running daemon
 * over DATA_DIR/run/sendmail.sock, which speaks SMTP and knows us by our
 * uid (SO_PEERCRED).  The input is read to its end first
 * (sendmail_msg.c): lines normalised to CRLF, the header block in
 * memory, the body in memory then in an unlinked temporary file (the
 * part Postfix's maildrop plays).  Only then do we connect: a slow
 * producer (cron pipes a job's output as it comes) never meets the
 * daemon's idle or DATA timeouts, and the SIZE we announce is exact.
 *
 * Exit codes are sysexits.h's, as with Sendmail and Postfix; errors go
 * to stderr as "facteur sendmail: <what>", server replies verbatim.
 * doc/SENDMAIL.md describes the options. */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/sendmail.h"
#include "config/conf.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/mem.h"
#include "core/str.h"

#define SENDMAIL_REPLY_MAX	16384		/* reply text kept */
#define SENDMAIL_ENVID_MAX	100		/* RFC 3461 §4.4 */
#define SENDMAIL_TIMEOUT	60		/* s per socket read or write */

/* A reply: its lines' text, '\n' between them. */
struct sendmail_reply {
	int			 code;
	char			 text[SENDMAIL_REPLY_MAX];
	size_t			 len;
};

struct sendmail_conn {
	int			 fd;
	bool			 verbose;
	bool			 at_bol;	/* dot-stuffing: line start */
	bool			 dsn, utf8, mime8;	/* EHLO keywords */
	char			 in[4096];
	size_t			 in_pos, in_len;
	char			 out[SENDMAIL_IO_MAX];
	size_t			 out_len;
	struct sendmail_reply	 r;		/* the last one */
	int			 rc;	/* exit code of a transport failure */
};

static int	sendmail_cmd(struct sendmail_conn *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));


static void
sendmail_usage(void)
{
	fprintf(stderr,
	    "usage: sendmail [-t] [-i] [-f SENDER] [-F NAME] [-C FILE] "
	    "[RECIPIENT...] < MESSAGE\n"
	    "       sendmail -bp       the queue (mailq)\n"
	    "       sendmail -bs       SMTP on standard input and output\n"
	    "  -t          recipients from To:, Cc:, Bcc: too (Bcc: removed)\n"
	    "  -i, -oi     a line with a single '.' does not end the message\n"
	    "  -f, -r ADDR envelope sender (default LOGIN@HOSTNAME)\n"
	    "  -F NAME     full name in the From: added when there is none\n"
	    "  -N DSN      never or success,delay,failure; -R full|hdrs; "
	    "-V ENVID\n"
	    "  -C FILE     configuration (default $FACTEUR_CONF, else "
	    "/etc/facteur/facteur.conf)\n"
	    "  -v          show the SMTP dialogue on stderr\n"
	    "ignored: -o* but -oi (-odb -odi -oem...), -A -B -d -G -h -L -m "
	    "-n -O -p -U -X\n");
}

/* --- options ----------------------------------------------------------- */

/* -bX, -oX, -AX, -dX: the rest of the argument is the value. */
static int
sendmail_opt_word(struct sendmail_opts *o, char c, const char *rest)
{
	if (c == 'o' && strcmp(rest, "i") == 0)
		o->ignore_dots = true;
	else if (c == 'o' && *rest == '\0')
		return sendmail_err(-1, "option -o needs a letter (-oi)");
	if (c != 'b')
		return 0;	/* other -o, -A, -d: accepted, ignored */
	if (strcmp(rest, "m") == 0)
		o->mode = SENDMAIL_MODE_DELIVER;
	else if (strcmp(rest, "p") == 0)
		o->mode = SENDMAIL_MODE_MAILQ;
	else if (strcmp(rest, "s") == 0)
		o->mode = SENDMAIL_MODE_SMTP;
	else if (strcmp(rest, "i") == 0)
		o->mode = SENDMAIL_MODE_NOOP;
	else
		return sendmail_err(-1, "-b%s is not supported", rest);
	return 0;
}

static void
sendmail_opt_value(struct sendmail_opts *o, char c, const char *val)
{
	switch (c) {
	case 'f':
	case 'r':
		o->sender = val;
		break;
	case 'F':
		o->fullname = val;
		break;
	case 'C':
		o->conf_path = val;
		break;
	case 'N':
		o->notify = val;
		break;
	case 'R':
		o->ret = val;
		break;
	case 'V':
		o->envid = val;
		break;
	default:	/* -B -h -L -O -p -X: accepted, ignored */
		break;
	}
}

/* One argument of options: "-ti", "-fSENDER", "-f SENDER", "-oi". */
static int
sendmail_parse_opt(struct sendmail_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *val;

	for (size_t j = 1; a[j] != '\0'; j++) {
		char c = a[j];

		if (c == 't')
			o->extract = true;
		else if (c == 'i')
			o->ignore_dots = true;
		else if (c == 'v')
			o->verbose = true;
		else if (strchr("mnUG", c) != NULL)
			continue;	/* metoo, no aliases, submission... */
		else if (strchr("boAd", c) != NULL)
			return sendmail_opt_word(o, c, a + j + 1);
		else if (strchr("fFrCNRVBhLOpX", c) == NULL)
			return sendmail_err(-1, "unknown option -%c", c);
		else {
			val = a[j + 1] != '\0' ? a + j + 1 :
			    *i + 1 < argc ? argv[++*i] : NULL;
			if (val == NULL)
				return sendmail_err(-1, "option -%c needs a "
				    "value", c);
			sendmail_opt_value(o, c, val);
			return 0;
		}
	}
	return 0;
}

/* Options may come after recipients (getopt's permutation); "--" ends
 * them.  An argument starting with '-' is never taken as an address. */
static int
sendmail_parse_opts(struct sendmail_opts *o, int argc, char **argv)
{
	o->args = xcalloc((size_t)argc + 1, sizeof(*o->args));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				o->args[o->nargs++] = argv[i];
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			o->args[o->nargs++] = argv[i];
		else if (sendmail_parse_opt(o, argc, argv, &i) == -1)
			return -1;
	}
	return 0;
}

/* --- the connection ---------------------------------------------------- */

static int
sendmail_connect(const struct conf *conf, int *fd_r)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/run/sendmail.sock", conf->data_dir) >= sizeof(sun.sun_path))
		return sendmail_err(EX_CONFIG, "%s/run/sendmail.sock: path too "
		    "long", conf->data_dir);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return sendmail_err(EX_OSERR, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
			return sendmail_err(EX_UNAVAILABLE, "the facteur "
			    "daemon is not running (%s)", sun.sun_path);
		return sendmail_err(EX_UNAVAILABLE, "connect(%s): %s",
		    sun.sun_path, strerror(e));
	}
	*fd_r = fd;
	return 0;
}

static void
sendmail_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = SENDMAIL_TIMEOUT };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int
sendmail_io_err(struct sendmail_conn *c, const char *what, int e)
{
	c->rc = EX_TEMPFAIL;
	if (e == EAGAIN || e == EWOULDBLOCK)
		return sendmail_err(-1, "%s: timed out after %d s", what,
		    SENDMAIL_TIMEOUT);
	if (e == 0)
		return sendmail_err(-1, "the daemon closed the connection");
	return sendmail_err(-1, "%s: %s", what, strerror(e));
}

static int
sendmail_flush(struct sendmail_conn *c)
{
	size_t off = 0;
	ssize_t w;

	while (off < c->out_len) {
		w = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return sendmail_io_err(c, "send", errno);
		off += (size_t)w;
	}
	c->out_len = 0;
	return 0;
}

static int
sendmail_send_raw(struct sendmail_conn *c, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(c->out) - c->out_len;

		if (k == 0 && sendmail_flush(c) == -1)
			return -1;
		k = n < sizeof(c->out) - c->out_len ? n :
		    sizeof(c->out) - c->out_len;
		memcpy(c->out + c->out_len, p, k);
		c->out_len += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Message bytes (CRLF lines), dot-stuffed. */
static int
sendmail_send_data(struct sendmail_conn *c, const char *p, size_t n)
{
	const char *end = p + n, *nl;
	size_t k;

	while (p < end) {
		if (c->at_bol && *p == '.' &&
		    sendmail_send_raw(c, ".", 1) == -1)
			return -1;
		nl = memchr(p, '\n', (size_t)(end - p));
		k = nl != NULL ? (size_t)(nl + 1 - p) : (size_t)(end - p);
		if (sendmail_send_raw(c, p, k) == -1)
			return -1;
		c->at_bol = nl != NULL;
		p += k;
	}
	return 0;
}

/* One reply line without its CRLF into line (truncated past cap). */
static int
sendmail_getline(struct sendmail_conn *c, char *line, size_t cap, size_t *n_r)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		if (c->in_pos == c->in_len) {
			r = recv(c->fd, c->in, sizeof(c->in), 0);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				return sendmail_io_err(c, "recv",
				    r == 0 ? 0 : errno);
			c->in_pos = 0;
			c->in_len = (size_t)r;
		}
		char ch = c->in[c->in_pos++];

		if (ch == '\n')
			break;
		if (n < cap)
			line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	*n_r = n;
	return 0;
}

static int
sendmail_reply_line(struct sendmail_conn *c, const char *line, size_t n,
    bool first)
{
	int code;

	if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (n > 3 && line[3] != ' ' && line[3] != '-')) {
		c->rc = EX_SOFTWARE;
		return sendmail_err(-1, "malformed reply from the daemon: %.*s",
		    (int)n, line);
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (!first && code != c->r.code) {
		c->rc = EX_SOFTWARE;
		return sendmail_err(-1, "inconsistent reply codes from the "
		    "daemon");
	}
	c->r.code = code;
	if (c->verbose)
		fprintf(stderr, "<- %.*s\n", (int)n, line);
	if (!first && c->r.len < sizeof(c->r.text))
		c->r.text[c->r.len++] = '\n';
	n = n > 4 ? n - 4 : 0;
	if (n > sizeof(c->r.text) - c->r.len)
		n = sizeof(c->r.text) - c->r.len;
	memcpy(c->r.text + c->r.len, line + 4, n);
	c->r.len += n;
	return 0;
}

static int
sendmail_reply(struct sendmail_conn *c)
{
	char line[1024];
	size_t n = 0;

	c->r.len = 0;
	for (bool first = true;; first = false) {
		if (sendmail_getline(c, line, sizeof(line), &n) == -1 ||
		    sendmail_reply_line(c, line, n, first) == -1)
			return -1;
		if (n <= 3 || line[3] == ' ')
			return 0;
	}
}

static int
sendmail_cmd(struct sendmail_conn *c, const char *fmt, ...)
{
	char line[SMTP_PATH_MAX * 2 + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		c->rc = EX_SOFTWARE;
		return sendmail_err(-1, "command too long");
	}
	if (c->verbose)
		fprintf(stderr, "-> %s\n", line);
	memcpy(line + n, "\r\n", 2);
	if (sendmail_send_raw(c, line, (size_t)n + 2) == -1 ||
	    sendmail_flush(c) == -1)
		return -1;
	return sendmail_reply(c);
}

/* The reply, line by line, as "facteur sendmail: WHAT: CODE text". */
static void
sendmail_report(const struct sendmail_conn *c, const char *what)
{
	const char *p = c->r.text, *end = p + c->r.len, *nl;

	do {
		nl = memchr(p, '\n', (size_t)(end - p));
		fprintf(stderr, SENDMAIL_PREFIX "%s: %d %.*s\n", what,
		    c->r.code, (int)((nl != NULL ? nl : end) - p), p);
		p = nl + 1;
	} while (nl != NULL);
}

/* An unexpected reply to a command concerning the whole message. */
static int
sendmail_fail_reply(struct sendmail_conn *c, const char *what, int perm_rc)
{
	sendmail_report(c, what);
	c->rc = c->r.code >= 500 ? perm_rc : c->r.code >= 400 ? EX_TEMPFAIL :
	    EX_SOFTWARE;
	return -1;
}

/* --- the SMTP session -------------------------------------------------- */

static void
sendmail_ehlo_ext(struct sendmail_conn *c)
{
	const char *p = c->r.text, *end = p + c->r.len, *nl;
	size_t k;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		for (k = 0; p + k < nl && p[k] != ' '; k++)
			;
		if (str_eq_ci(str_make(p, k), STR_LIT("DSN")))
			c->dsn = true;
		else if (str_eq_ci(str_make(p, k), STR_LIT("SMTPUTF8")))
			c->utf8 = true;
		else if (str_eq_ci(str_make(p, k), STR_LIT("8BITMIME")))
			c->mime8 = true;
	}
}

static int
sendmail_hello(struct sendmail_conn *c)
{
	if (sendmail_reply(c) == -1)
		return -1;
	if (c->r.code != 220)
		return sendmail_fail_reply(c, "greeting", EX_UNAVAILABLE);
	if (sendmail_cmd(c, "EHLO localhost") == -1)
		return -1;
	if (c->r.code != 250)
		return sendmail_fail_reply(c, "EHLO", EX_UNAVAILABLE);
	sendmail_ehlo_ext(c);
	return 0;
}

/* ENVID is xtext (RFC 3461 §4). */
static void
sendmail_xtext(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x21 || ch > 0x7e || ch == '+' || ch == '=')
			n += (size_t)snprintf(out + n, cap - n, "+%02X", ch);
		else
			out[n++] = (char)ch;
	}
	out[n] = '\0';
}

static int
sendmail_mail(struct sendmail_conn *c, const struct sendmail_msg *m)
{
	const struct sendmail_opts *o = m->o;
	char envid[SENDMAIL_ENVID_MAX * 3 + 1] = "";

	if (o->envid != NULL)
		sendmail_xtext(envid, sizeof(envid), o->envid);
	if (sendmail_cmd(c, "MAIL FROM:<%s> SIZE=%llu%s%s%s%s%s%s", m->sender,
	    (unsigned long long)m->size,
	    m->eightbit && c->mime8 ? " BODY=8BITMIME" : "",
	    m->utf8_addr && c->utf8 ? " SMTPUTF8" : "",
	    o->ret != NULL && c->dsn ? " RET=" : "",
	    o->ret != NULL && c->dsn ? o->ret : "",
	    envid[0] != '\0' && c->dsn ? " ENVID=" : "",
	    c->dsn ? envid : "") == -1)
		return -1;
	if (c->r.code != 250)
		return sendmail_fail_reply(c, "MAIL FROM", EX_DATAERR);
	return 0;
}

static void
sendmail_rcpts_mark(struct sendmail_rcpts *l, enum sendmail_rstate from,
    enum sendmail_rstate to)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].state == from)
			l->v[i].state = to;
}

/* RCPT from *next on; stops early at a 452 "too many recipients" when
 * some were taken: the rest go in the next transaction. */
static int
sendmail_rcpt_all(struct sendmail_conn *c, struct sendmail_msg *m,
    size_t *next, size_t *ok_r)
{
	char what[SMTP_PATH_MAX + 3];
	size_t i;

	*ok_r = 0;
	for (i = *next; i < m->rcpts.n; i++) {
		struct sendmail_rcpt *r = &m->rcpts.v[i];

		if (sendmail_cmd(c, "RCPT TO:<%s>%s%s", r->addr,
		    m->o->notify != NULL && c->dsn ? " NOTIFY=" : "",
		    m->o->notify != NULL && c->dsn ? m->o->notify : "") == -1)
			return -1;
		if (c->r.code == 452 && *ok_r > 0)
			break;
		if (c->r.code / 100 == 2) {
			r->state = SENDMAIL_R_TRYING;
			(*ok_r)++;
			continue;
		}
		snprintf(what, sizeof(what), "<%s>", r->addr);
		sendmail_report(c, what);
		r->state = c->r.code >= 500 ? SENDMAIL_R_PERM : SENDMAIL_R_TEMP;
	}
	*next = i;
	return 0;
}

static int
sendmail_send_body(struct sendmail_conn *c, struct sendmail_msg *m)
{
	struct sendmail_spool *s = &m->body;
	ssize_t n;

	if (s->fd == -1)
		return sendmail_send_data(c, s->mem, s->len);
	if (lseek(s->fd, 0, SEEK_SET) == -1)
		return sendmail_io_err(c, "lseek(spool)", errno);
	for (;;) {
		n = read(s->fd, s->mem, SENDMAIL_MEM_MAX);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return sendmail_io_err(c, "read(spool)", errno);
		if (n == 0)
			return 0;
		if (sendmail_send_data(c, s->mem, (size_t)n) == -1)
			return -1;
	}
}

static int
sendmail_send_message(struct sendmail_conn *c, struct sendmail_msg *m)
{
	size_t pos = 0;
	struct str f;

	c->at_bol = true;
	while (sendmail_field_next(&m->hdr, &pos, &f))
		if (!sendmail_field_dropped(f) &&
		    sendmail_send_data(c, f.p, f.len) == -1)
			return -1;
	if (sendmail_send_data(c, m->from.p, m->from.len) == -1 ||
	    sendmail_send_data(c, "\r\n", 2) == -1 ||
	    sendmail_send_body(c, m) == -1 ||
	    sendmail_send_raw(c, ".\r\n", 3) == -1 || sendmail_flush(c) == -1)
		return -1;
	return sendmail_reply(c);
}

/* DATA for the recipients taken (SENDMAIL_R_TRYING). */
static int
sendmail_data(struct sendmail_conn *c, struct sendmail_msg *m)
{
	if (sendmail_cmd(c, "DATA") == -1)
		return -1;
	if (c->r.code != 354)
		return sendmail_fail_reply(c, "DATA", EX_DATAERR);
	if (sendmail_send_message(c, m) == -1)
		return -1;
	if (c->r.code / 100 != 2)
		return sendmail_fail_reply(c, "message", EX_DATAERR);
	sendmail_rcpts_mark(&m->rcpts, SENDMAIL_R_TRYING, SENDMAIL_R_SENT);
	return 0;
}

/* MAIL, RCPT..., DATA; *next: the first recipient not yet tried. */
static int
sendmail_transaction(struct sendmail_conn *c, struct sendmail_msg *m,
    size_t *next)
{
	size_t ok;

	if (sendmail_mail(c, m) == -1 ||
	    sendmail_rcpt_all(c, m, next, &ok) == -1)
		return -1;
	if (ok > 0)
		return sendmail_data(c, m);
	if (sendmail_cmd(c, "RSET") == -1)
		return -1;
	return 0;
}

/* The exit code from what became of each recipient. */
static int
sendmail_outcome(const struct sendmail_msg *m)
{
	size_t sent = 0, perm = 0, temp = 0;

	for (size_t i = 0; i < m->rcpts.n; i++) {
		sent += m->rcpts.v[i].state == SENDMAIL_R_SENT;
		perm += m->rcpts.v[i].state == SENDMAIL_R_PERM;
		temp += m->rcpts.v[i].state == SENDMAIL_R_TEMP;
	}
	if (sent > 0 && sent < m->rcpts.n)
		sendmail_err(0, "the message went to %zu of %zu recipients",
		    sent, m->rcpts.n);
	return perm > 0 ? EX_NOUSER : temp > 0 ? EX_TEMPFAIL : EX_OK;
}

static int
sendmail_session(struct sendmail_msg *m)
{
	struct sendmail_conn *c;
	size_t next = 0;
	int rc;

	c = xcalloc(1, sizeof(*c));
	c->verbose = m->o->verbose;
	if ((rc = sendmail_connect(m->conf, &c->fd)) != 0) {
		free(c);
		return rc;
	}
	sendmail_timeouts(c->fd);
	rc = sendmail_hello(c);
	while (rc == 0 && next < m->rcpts.n)
		rc = sendmail_transaction(c, m, &next);
	if (rc == 0) {
		(void)sendmail_cmd(c, "QUIT");
		rc = sendmail_outcome(m);
	} else
		rc = c->rc != 0 ? c->rc : EX_SOFTWARE;
	close(c->fd);
	free(c);
	return rc;
}

/* --- modes ------------------------------------------------------------- */

/* -N: "never" alone, or some of success, delay, failure; upper-cased
 * into notify. */
static int
sendmail_check_notify(struct sendmail_opts *o, char *notify, size_t cap)
{
	static const char *const words[] = { "never", "success", "delay",
	    "failure" };
	size_t n = strlen(o->notify), k, w;
	const char *p = o->notify;

	if (n == 0 || n >= cap)
		return sendmail_err(-1, "-N: never, or success,delay,failure");
	for (; *p != '\0'; p += k + (p[k] == ',')) {
		k = strcspn(p, ",");
		for (w = 0; w < 4; w++)
			if (strlen(words[w]) == k &&
			    strncasecmp(p, words[w], k) == 0)
				break;
		if (w == 4 || (w == 0 && k != n))
			return sendmail_err(-1, "-N: never, or "
			    "success,delay,failure");
	}
	for (size_t i = 0; i <= n; i++)
		notify[i] = (char)toupper((unsigned char)o->notify[i]);
	o->notify = notify;
	return 0;
}

/* Checks -N, -R and -V. */
static int
sendmail_check_dsn(struct sendmail_opts *o, char *notify, size_t cap)
{
	if (o->ret != NULL) {
		if (strcasecmp(o->ret, "full") != 0 &&
		    strcasecmp(o->ret, "hdrs") != 0)
			return sendmail_err(-1, "-R: full or hdrs");
		o->ret = strcasecmp(o->ret, "full") == 0 ? "FULL" : "HDRS";
	}
	if (o->envid != NULL && strlen(o->envid) > SENDMAIL_ENVID_MAX)
		return sendmail_err(-1, "-V: longer than %d bytes",
		    SENDMAIL_ENVID_MAX);
	return o->notify != NULL ? sendmail_check_notify(o, notify, cap) : 0;
}



static int
sendmail_deliver_run(struct sendmail_msg *m, struct sendmail_opts *o)
{
	char login[SMTP_PATH_MAX + 1], notify[64];

	if (sendmail_check_dsn(o, notify, sizeof(notify)) == -1 ||
	    sendmail_sender(m, login) == -1)
		return EX_USAGE;
	for (int i = 0; i < o->nargs; i++)
		if (sendmail_addrlist(m, &m->rcpts, o->args[i],
		    strlen(o->args[i])) == -1)
			return EX_USAGE;
	if (!o->extract && m->rcpts.n == 0) {
		sendmail_err(0, "no recipients: give them as arguments, or "
		    "use -t");
		return EX_USAGE;
	}
	if (sendmail_read_input(m) == -1 || sendmail_prepare(m, login) == -1)
		return m->rc != 0 ? m->rc : EX_SOFTWARE;
	return sendmail_session(m);
}

static int
sendmail_deliver(const struct conf *conf, struct sendmail_opts *o)
{
	struct sendmail_msg *m = xcalloc(1, sizeof(*m));
	int rc;

	sendmail_msg_init(m, o, conf);
	rc = sendmail_deliver_run(m, o);
	sendmail_msg_free(m);
	free(m);
	return rc;
}

/* -bs: bytes both ways; a bare LF from the program becomes CRLF (the
 * daemon refuses bare LF). */
static int
sendmail_relay_in(int fd, bool *last_cr)
{
	char in[8192], out[16384];
	size_t k = 0;
	ssize_t n;

	if ((n = read(STDIN_FILENO, in, sizeof(in))) == -1)
		return errno == EINTR ? 0 : -1;
	if (n == 0) {
		shutdown(fd, SHUT_WR);
		return 1;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (in[i] == '\n' && !*last_cr)
			out[k++] = '\r';
		out[k++] = in[i];
		*last_cr = in[i] == '\r';
	}
	for (size_t off = 0; off < k;) {
		ssize_t w = send(fd, out + off, k - off, MSG_NOSIGNAL);

		if (w == -1 && errno != EINTR)
			return -1;
		off += w > 0 ? (size_t)w : 0;
	}
	return 0;
}

static int
sendmail_relay(const struct conf *conf)
{
	struct pollfd pfd[2];
	char buf[8192];
	bool last_cr = false;
	int fd, rc, in_open = 1;
	ssize_t n;

	if ((rc = sendmail_connect(conf, &fd)) != 0) {
		printf("421 4.3.2 the facteur daemon is not running\r\n");
		return rc;
	}
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = in_open ? STDIN_FILENO : -1,
		    .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents != 0) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0 || sendmail_write_all(STDOUT_FILENO, buf,
			    (size_t)n) == -1)
				break;
		}
		if (pfd[0].revents != 0 &&
		    (rc = sendmail_relay_in(fd, &last_cr)) != 0) {
			if (rc == -1)
				break;
			in_open = 0;
		}
	}
	close(fd);
	return EX_OK;
}

static int
sendmail_run(struct conf *conf, const char *conf_path, int argc, char **argv)
{
	struct sendmail_opts o;
	struct conf *own = NULL;
	char *err = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	signal(SIGPIPE, SIG_IGN);
	if (sendmail_parse_opts(&o, argc, argv) == -1) {
		sendmail_usage();
		rc = EX_USAGE;
		goto done;
	}
	if (o.conf_path != NULL || conf == NULL) {
		if ((own = conf_load(o.conf_path != NULL ? o.conf_path :
		    conf_path, &err)) == NULL) {
			rc = sendmail_err(EX_CONFIG, "%s", err);
			goto done;
		}
		conf = own;
	}
	switch (o.mode) {
	case SENDMAIL_MODE_DELIVER:
		rc = sendmail_deliver(conf, &o);
		break;
	case SENDMAIL_MODE_MAILQ:
		rc = cli_queue(conf, 2, (char *[]){ "queue", "list", NULL });
		break;
	case SENDMAIL_MODE_SMTP:
		rc = sendmail_relay(conf);
		break;
	default:
		rc = EX_OK;
		break;
	}
done:
	free(err);
	conf_free(&own);
	free(o.args);
	return rc;
}

int
cli_sendmail(struct conf *conf, int argc, char **argv)
{
	return sendmail_run(conf, NULL, argc, argv);
}

int
cli_sendmail_main(const char *conf_path, int argc, char **argv)
{
	return sendmail_run(NULL, conf_path, argc, argv);
}
