/* sendmail_msg.c: the message side of facteur sendmail: addresses
 * (RFC 5322 address lists), standard input read and normalised (CRLF,
 * lines of at most 998 bytes, a lone "." without -i, no NUL), the header
 * block kept in memory, the body in memory then spooled to an unlinked
 * file, and what -t and a missing From: need.  See cli_sendmail.c. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/sendmail.h"
#include "config/conf.h"
#include "core/mem.h"

int
sendmail_err(int rc, const char *fmt, ...)
{
	va_list ap;

	fputs(SENDMAIL_PREFIX, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return rc;
}

/* --- addresses --------------------------------------------------------- */

/* Check an address and qualify a bare local part with @HOSTNAME (as
 * Postfix appends $myorigin) but "postmaster" (RFC 5321 §4.5.1); out
 * holds SMTP_PATH_MAX + 1 bytes. */
static int
sendmail_addr_clean(struct sendmail_msg *m, const char *p, size_t n, char *out)
{
	const char *host = m->conf->hostname;
	bool at = memchr(p, '@', n) != NULL ||
	    str_eq_ci(str_make(p, n), STR_LIT("postmaster"));

	if (n + (at ? 0 : 1 + strlen(host)) > SMTP_PATH_MAX)
		return sendmail_err(-1, "address too long: %.*s", (int)n, p);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f || c == '<' || c == '>')
			return sendmail_err(-1, "bad address: %.*s", (int)n, p);
		if (c & 0x80)
			m->utf8_addr = true;
	}
	snprintf(out, SMTP_PATH_MAX + 1, "%.*s%s%s", (int)n, p,
	    at ? "" : "@", at ? "" : host);
	return 0;
}

static int
sendmail_rcpt_add(struct sendmail_msg *m, struct sendmail_rcpts *l,
    const char *p, size_t n)
{
	char addr[SMTP_PATH_MAX + 1];

	if (sendmail_addr_clean(m, p, n, addr) == -1)
		return -1;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 8 : l->cap * 2;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n].addr = xstrdup(addr);
	l->v[l->n++].state = SENDMAIL_R_PENDING;
	return 0;
}

/* One token of an address list: the display name or the address. */
struct sendmail_tok {
	char	p[SMTP_PATH_MAX + 1];
	size_t	len;
	bool	over;
};

static void
sendmail_tok_put(struct sendmail_tok *t, char c)
{
	if (t->len < sizeof(t->p))
		t->p[t->len++] = c;
	else
		t->over = true;
}

/* The address of one list element: <angle-addr> if any (its obsolete
 * route dropped), else the addr-spec; empty elements are skipped. */
static int
sendmail_addr_emit(struct sendmail_msg *m, struct sendmail_rcpts *l,
    struct sendmail_tok *cur, struct sendmail_tok *ang, bool angle)
{
	struct sendmail_tok *t = angle ? ang : cur;
	const char *p = t->p, *colon;
	size_t n = t->len;
	int rc = 0;

	if (n > 0 && p[0] == '@' && (colon = memchr(p, ':', n)) != NULL) {
		n -= (size_t)(colon + 1 - p);
		p = colon + 1;
	}
	if (t->over)
		rc = sendmail_err(-1, "address too long: %.40s...", t->p);
	else if (n > 0)
		rc = sendmail_rcpt_add(m, l, p, n);
	cur->len = ang->len = 0;
	cur->over = ang->over = false;
	return rc;
}

/* The state of sendmail_addrlist() between bytes. */
struct sendmail_alist {
	struct sendmail_tok	 cur, ang;	/* name or address, <address> */
	int			 depth;		/* comment nesting */
	bool			 quote, lit, esc;
	bool			 in_angle, angle;	/* in <>, <> seen */
};

/* One byte outside comments; 1: the element ends here. */
static int
sendmail_alist_byte(struct sendmail_alist *a, char c)
{
	struct sendmail_tok *t = a->in_angle ? &a->ang : &a->cur;

	if (a->quote || a->lit) {
		sendmail_tok_put(t, c);
		if (a->esc)
			a->esc = false;
		else if (c == '\\')
			a->esc = true;
		else if (c == (a->quote ? '"' : ']'))
			a->quote = a->lit = false;
		return 0;
	}
	switch (c) {
	case '(':
		a->depth = 1;
		return 0;
	case '"':
	case '[':
		a->quote = c == '"';
		a->lit = c == '[';
		break;
	case '<':
		a->in_angle = a->angle = true;
		a->ang.len = 0;
		return 0;
	case '>':
		a->in_angle = false;
		return 0;
	case ':':	/* a group's name, unless in a route */
		if (!a->in_angle)
			a->cur.len = 0;
		break;
	case ',':
	case ';':
		if (!a->in_angle)
			return 1;
		break;
	case ' ':
	case '\t':
	case '\r':
	case '\n':
		return 0;
	}
	if (!(c == ':' && !a->in_angle))
		sendmail_tok_put(t, c);
	return 0;
}

/* RFC 5322 address-list, obsolete forms included: display names,
 * groups, comments and routes are dropped; each address goes to l. */
int
sendmail_addrlist(struct sendmail_msg *m, struct sendmail_rcpts *l,
    const char *p, size_t n)
{
	struct sendmail_alist *a = xcalloc(1, sizeof(*a));
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (a->depth > 0) {
			if (a->esc)
				a->esc = false;
			else if (p[i] == '\\')
				a->esc = true;
			else
				a->depth += p[i] == '(' ? 1 :
				    p[i] == ')' ? -1 : 0;
			continue;
		}
		if (sendmail_alist_byte(a, p[i]) == 1) {
			if (sendmail_addr_emit(m, l, &a->cur, &a->ang,
			    a->angle) == -1)
				rc = -1;
			a->angle = a->in_angle = false;
		}
	}
	if (sendmail_addr_emit(m, l, &a->cur, &a->ang, a->angle) == -1)
		rc = -1;
	free(a);
	return rc;
}

static void
sendmail_rcpts_free(struct sendmail_rcpts *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].addr);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Appends the addresses of src to dst; src ends empty. */
static void
sendmail_rcpts_move(struct sendmail_rcpts *dst, struct sendmail_rcpts *src)
{
	if (src->n == 0)
		return;
	if (dst->n + src->n > dst->cap) {
		dst->cap = dst->n + src->n;
		dst->v = xrealloc(dst->v, dst->cap * sizeof(*dst->v));
	}
	memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	src->n = 0;
}

static int
sendmail_rcpt_cmp(const void *a, const void *b)
{
	const struct sendmail_rcpt *x = *(struct sendmail_rcpt *const *)a;
	const struct sendmail_rcpt *y = *(struct sendmail_rcpt *const *)b;
	int d = strcasecmp(x->addr, y->addr);

	return d != 0 ? d : x < y ? -1 : x > y;
}

/* Drop repeated addresses (ASCII case ignored), keeping the order. */
static void
sendmail_rcpts_dedup(struct sendmail_rcpts *l)
{
	struct sendmail_rcpt **idx = xcalloc(l->n + 1, sizeof(*idx));
	size_t k = 0;

	for (size_t i = 0; i < l->n; i++)
		idx[i] = &l->v[i];
	qsort(idx, l->n, sizeof(*idx), sendmail_rcpt_cmp);
	for (size_t i = 1, kept = 0; i < l->n; i++) {
		if (strcasecmp(idx[i]->addr, idx[kept]->addr) != 0) {
			kept = i;
			continue;
		}
		free(idx[i]->addr);
		idx[i]->addr = NULL;
	}
	free(idx);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].addr != NULL)
			l->v[k++] = l->v[i];
	l->n = k;
}

/* --- reading the message ----------------------------------------------- */

static int
sendmail_data_err(struct sendmail_msg *m, int rc, const char *what)
{
	m->rc = rc;
	return sendmail_err(-1, "%s", what);
}

static int
sendmail_spool_open(struct sendmail_msg *m)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	m->body.fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (m->body.fd != -1)
		return 0;
	snprintf(path, sizeof(path), "%s/facteur-sendmail.XXXXXX", dir);
	if ((m->body.fd = mkostemp(path, O_CLOEXEC)) == -1) {
		m->rc = EX_TEMPFAIL;
		return sendmail_err(-1, "cannot spool the message: "
		    "mkstemp(%s): %s", path, strerror(errno));
	}
	unlink(path);
	return 0;
}

int
sendmail_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
sendmail_spool_flush(struct sendmail_msg *m)
{
	struct sendmail_spool *s = &m->body;

	if (s->fd == -1 && sendmail_spool_open(m) == -1)
		return -1;
	if (sendmail_write_all(s->fd, s->mem, s->len) == -1) {
		m->rc = EX_TEMPFAIL;
		return sendmail_err(-1, "cannot spool the message: write: %s",
		    strerror(errno));
	}
	s->len = 0;
	return 0;
}

static int
sendmail_spool_write(struct sendmail_msg *m, const char *p, size_t n)
{
	struct sendmail_spool *s = &m->body;

	if (s->len + n > SENDMAIL_MEM_MAX && sendmail_spool_flush(m) == -1)
		return -1;
	memcpy(s->mem + s->len, p, n);	/* n <= SENDMAIL_LINE_MAX + 2 */
	s->len += n;
	s->total += n;
	return 0;
}

static bool
sendmail_lone_dot(const struct sendmail_msg *m)
{
	return !m->o->ignore_dots && !m->cont && m->linelen == 1 &&
	    m->line[0] == '.';
}

static int
sendmail_body_line(struct sendmail_msg *m)
{
	if (sendmail_lone_dot(m)) {
		m->dot_end = true;
		return 0;
	}
	if (sendmail_spool_write(m, m->line, m->linelen) == -1)
		return -1;
	return sendmail_spool_write(m, "\r\n", 2);
}

/* field-name ":" (RFC 5322 §3.6.8, with obsolete WSP before the ':') */
static size_t
sendmail_field_name_len(const char *p, size_t n)
{
	size_t i = 0, len;

	while (i < n && p[i] > ' ' && p[i] < 0x7f && p[i] != ':')
		i++;
	len = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return len > 0 && i < n && p[i] == ':' ? len : 0;
}

static int
sendmail_header_line(struct sendmail_msg *m)
{
	const char *l = m->line;
	size_t n = m->linelen;
	bool folded = n > 0 && (l[0] == ' ' || l[0] == '\t');

	if (m->first && n >= 5 && memcmp(l, "From ", 5) == 0)
		return 0;	/* an mbox separator (Postfix drops it too) */
	if (sendmail_lone_dot(m)) {
		m->dot_end = true;
		return 0;
	}
	if (n == 0 || (!(folded && m->hdr.len > 0) &&
	    sendmail_field_name_len(l, n) == 0)) {
		/* the blank line, or text: a body without a blank line
		 * before it gets one */
		m->in_body = true;
		return n == 0 ? 0 : sendmail_body_line(m);
	}
	if (buf_append(&m->hdr, l, n) == -1 ||
	    buf_append(&m->hdr, "\r\n", 2) == -1)
		return sendmail_data_err(m, EX_DATAERR,
		    "the header block is larger than 1 MiB");
	return 0;
}

static int
sendmail_line_end(struct sendmail_msg *m)
{
	int rc = m->in_body ? sendmail_body_line(m) : sendmail_header_line(m);

	m->linelen = 0;
	m->cont = m->first = false;
	return rc;
}

/* A line reached SENDMAIL_LINE_MAX: end it; in the header the rest becomes
 * a continuation line (Postfix's smtp_line_length_limit does the same). */
static int
sendmail_line_break(struct sendmail_msg *m)
{
	if (sendmail_line_end(m) == -1)
		return -1;
	m->cont = true;
	if (!m->in_body)
		m->line[m->linelen++] = ' ';
	return 0;
}

static int
sendmail_feed(struct sendmail_msg *m, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !m->dot_end; i++) {
		char c = p[i];

		if (m->cr) {	/* CRLF, or a bare CR: both end the line */
			m->cr = false;
			if (sendmail_line_end(m) == -1)
				return -1;
			if (c == '\n' || m->dot_end)
				continue;
		}
		if (c == '\0')
			return sendmail_data_err(m, EX_DATAERR, "the message "
			    "holds a NUL byte, which mail cannot carry "
			    "(encode it: base64, uuencode)");
		if (c == '\r' || c == '\n') {
			if (c == '\r')
				m->cr = true;
			else if (sendmail_line_end(m) == -1)
				return -1;
			continue;
		}
		if ((unsigned char)c & 0x80)
			m->eightbit = true;
		if (m->linelen == SENDMAIL_LINE_MAX &&
		    sendmail_line_break(m) == -1)
			return -1;
		m->line[m->linelen++] = c;
	}
	return 0;
}

int
sendmail_read_input(struct sendmail_msg *m)
{
	char *buf = xmalloc(SENDMAIL_IO_MAX);
	ssize_t n;
	int rc = 0;

	while (!m->dot_end && rc == 0) {
		if ((n = read(STDIN_FILENO, buf, SENDMAIL_IO_MAX)) == -1) {
			if (errno == EINTR)
				continue;
			m->rc = EX_IOERR;
			rc = sendmail_err(-1, "read(standard input): %s",
			    strerror(errno));
		} else if (n == 0)
			break;
		else
			rc = sendmail_feed(m, buf, (size_t)n);
	}
	free(buf);
	if (rc == 0 && !m->dot_end && (m->cr || m->linelen > 0))
		rc = sendmail_line_end(m);	/* no line end at the end */
	if (rc == 0 && m->body.fd != -1)
		rc = sendmail_spool_flush(m);
	return rc;
}

/* --- the header block -------------------------------------------------- */

enum sendmail_fkind {
	SENDMAIL_F_OTHER,
	SENDMAIL_F_FROM,
	SENDMAIL_F_TO,		/* To, Cc */
	SENDMAIL_F_BCC,
	SENDMAIL_F_RTO,		/* Resent-To, Resent-Cc */
	SENDMAIL_F_RBCC,
};

static const struct {
	const char	*name;
	enum sendmail_fkind	 kind;
} sendmail_fields[] = {
	{ "From", SENDMAIL_F_FROM },
	{ "To", SENDMAIL_F_TO },
	{ "Cc", SENDMAIL_F_TO },
	{ "Bcc", SENDMAIL_F_BCC },
	{ "Resent-To", SENDMAIL_F_RTO },
	{ "Resent-Cc", SENDMAIL_F_RTO },
	{ "Resent-Bcc", SENDMAIL_F_RBCC },
};

/* The next field of the header block (its continuation lines
 * included) in *f; false at the end. */
bool
sendmail_field_next(const struct buf *hdr, size_t *pos, struct str *f)
{
	const char *p = hdr->p + *pos, *end = hdr->p + hdr->len, *nl = p;

	if (p >= end)
		return false;
	do	/* the block ends with CRLF */
		nl = (const char *)memchr(nl, '\n', (size_t)(end - nl)) + 1;
	while (nl < end && (*nl == ' ' || *nl == '\t'));
	*f = str_make(p, (size_t)(nl - p));
	*pos += f->len;
	return true;
}

static enum sendmail_fkind
sendmail_field_kind(struct str f)
{
	struct str name = str_make(f.p, sendmail_field_name_len(f.p, f.len));

	for (size_t i = 0; i < sizeof(sendmail_fields) /
	    sizeof(sendmail_fields[0]); i++)
		if (str_eq_ci(name, str_cstr(sendmail_fields[i].name)))
			return sendmail_fields[i].kind;
	return SENDMAIL_F_OTHER;
}

bool
sendmail_field_dropped(struct str f)
{
	enum sendmail_fkind k = sendmail_field_kind(f);

	return k == SENDMAIL_F_BCC || k == SENDMAIL_F_RBCC;
}

/* The addresses of a To:/Cc:/Bcc: field (CRLF inside are WSP to the
 * address-list parser). */
static int
sendmail_field_addrs(struct sendmail_msg *m, struct sendmail_rcpts *l,
    struct str f)
{
	const char *colon = memchr(f.p, ':', f.len);

	return sendmail_addrlist(m, l, colon + 1,
	    f.len - (size_t)(colon + 1 - f.p));
}

/* Looks at every field: From: present?  With -t, the recipients (the
 * Resent- ones when there are any, as Postfix does). */
static int
sendmail_scan_header(struct sendmail_msg *m, bool *has_from_r)
{
	size_t pos = 0;
	struct str f;
	int rc = 0;

	*has_from_r = false;
	while (sendmail_field_next(&m->hdr, &pos, &f)) {
		enum sendmail_fkind k = sendmail_field_kind(f);

		if (k == SENDMAIL_F_FROM)
			*has_from_r = true;
		else if (!m->o->extract)
			continue;
		else if ((k == SENDMAIL_F_TO || k == SENDMAIL_F_BCC) &&
		    sendmail_field_addrs(m, &m->to, f) == -1)
			rc = -1;
		else if ((k == SENDMAIL_F_RTO || k == SENDMAIL_F_RBCC) &&
		    sendmail_field_addrs(m, &m->resent, f) == -1)
			rc = -1;
	}
	if (rc == -1)
		m->rc = EX_DATAERR;
	return rc;
}

static void
sendmail_base64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 |
		    (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		char q[4] = { b64[v >> 18], b64[(v >> 12) & 63],
		    i + 1 < n ? b64[(v >> 6) & 63] : '=',
		    i + 2 < n ? b64[v & 63] : '=' };

		buf_append(b, q, 4);
	}
}

/* A non-ASCII name as RFC 2047 encoded words of whole UTF-8
 * characters, 45 bytes (60 of base64) at most each. */
static void
sendmail_name_2047(struct buf *b, const char *name, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = n - i < 45 ? n - i : 45;
		while (k > 1 && i + k < n &&
		    ((unsigned char)name[i + k] & 0xc0) == 0x80)
			k--;
		buf_append_str(b, i == 0 ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
		sendmail_base64(b, (const unsigned char *)name + i, k);
		buf_append_str(b, "?=");
		i += k;
	}
}

/* The display name: as is when it is atoms, else a quoted-string, or
 * encoded words when it is not ASCII. */
static void
sendmail_name(struct buf *b, const char *name, size_t n)
{
	bool atoms = true;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)name[i] & 0x80) {
			sendmail_name_2047(b, name, n);
			return;
		}
		if (strchr("()<>[]:;@\\,.\"", name[i]) != NULL)
			atoms = false;
	}
	if (atoms) {
		buf_append(b, name, n);
		return;
	}
	buf_append(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '"' || name[i] == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, name + i, 1);
	}
	buf_append(b, "\"", 1);
}

/* "From: Full Name <sender>\r\n" (the login's address with -f <>). */
static int
sendmail_make_from(struct sendmail_msg *m, const char *login)
{
	const char *addr = m->sender[0] != '\0' ? m->sender : login;
	const char *name = m->o->fullname;
	char clean[SENDMAIL_NAME_MAX];
	size_t n = 0;

	buf_append_str(&m->from, "From: ");
	for (const char *c = name; c != NULL && *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			continue;	/* no header injection */
		if (n == sizeof(clean))
			return sendmail_data_err(m, EX_USAGE, "-F: the name is "
			    "longer than 256 bytes");
		clean[n++] = *c;
	}
	while (n > 0 && clean[n - 1] == ' ')
		n--;
	if (n == 0) {
		buf_printf(&m->from, "%s\r\n", addr);
		return 0;
	}
	sendmail_name(&m->from, clean, n);
	buf_printf(&m->from, " <%s>\r\n", addr);
	return 0;
}

/* After the input: the recipients of -t, the From: to add, the size. */
int
sendmail_prepare(struct sendmail_msg *m, const char *login)
{
	size_t pos = 0;
	bool has_from;
	struct str f;

	if (sendmail_scan_header(m, &has_from) == -1)
		return -1;
	sendmail_rcpts_move(&m->rcpts, m->resent.n > 0 ? &m->resent : &m->to);
	sendmail_rcpts_dedup(&m->rcpts);
	if (m->rcpts.n == 0)
		return sendmail_data_err(m, EX_DATAERR, "no recipient "
		    "addresses found in the message header");
	if (!has_from && sendmail_make_from(m, login) == -1)
		return -1;
	m->size = m->from.len + 2 + m->body.total;
	while (sendmail_field_next(&m->hdr, &pos, &f))
		m->size += sendmail_field_dropped(f) ? 0 : f.len;
	return 0;
}

/* --- the message ------------------------------------------------------ */

/* The envelope sender: -f (<> or empty: the null sender), else
 * LOGIN@HOSTNAME; login_r gets LOGIN@HOSTNAME for the From: header. */
int
sendmail_sender(struct sendmail_msg *m, char *login_r)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *f = m->o->sender;
	size_t n;

	if (pw != NULL)
		snprintf(login_r, SMTP_PATH_MAX + 1, "%s@%s", pw->pw_name,
		    m->conf->hostname);
	else
		snprintf(login_r, SMTP_PATH_MAX + 1, "uid%u@%s",
		    (unsigned)getuid(), m->conf->hostname);
	if (f == NULL) {
		snprintf(m->sender, sizeof(m->sender), "%s", login_r);
		return 0;
	}
	n = strlen(f);
	if (n >= 2 && f[0] == '<' && f[n - 1] == '>') {
		f++;
		n -= 2;
	}
	if (n == 0)
		return 0;	/* m->sender stays "" */
	return sendmail_addr_clean(m, f, n, m->sender);
}

void
sendmail_msg_init(struct sendmail_msg *m, const struct sendmail_opts *o,
    const struct conf *conf)
{
	memset(m, 0, sizeof(*m));
	m->o = o;
	m->conf = conf;
	m->first = true;
	m->body.fd = -1;
	m->body.mem = xmalloc(SENDMAIL_MEM_MAX);
	buf_init(&m->hdr, SENDMAIL_HEADER_MAX);
	buf_init(&m->from, 4096);
}

void
sendmail_msg_free(struct sendmail_msg *m)
{
	buf_free(&m->hdr);
	buf_free(&m->from);
	free(m->body.mem);
	if (m->body.fd != -1)
		close(m->body.fd);
	sendmail_rcpts_free(&m->rcpts);
	sendmail_rcpts_free(&m->to);
	sendmail_rcpts_free(&m->resent);
}
