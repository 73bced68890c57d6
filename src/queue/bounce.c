/* bounce.c: RFC 3464 delivery status notifications (see bounce.h).
 *
 * The report is built into a capped buffer with a sticky error: every
 * append after a failure does nothing, and the caller checks once.
 * Everything that comes from outside (addresses, reply texts, HELO
 * names) is cleaned of control bytes on the way in, and the fields are
 * short enough (envelope.h limits) that no line can pass 998 bytes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/id.h"
#include "core/mem.h"
#include "queue/bounce.h"
#include "smtp/smtp_parse.h"

#define BOUNCE_DATE_MAX		40
#define BOUNCE_BOUNDARY_MAX	64
#define BOUNCE_READ_CHUNK	(16 * 1024)

struct bounce_ctx {
	const struct envelope		*e;
	const struct bounce_params	*bp;
	enum bounce_kind		 kind;
	enum bounce_to			 to;
	struct buf			*out;
	bool				 failed;
	bool				 utf8;		/* SMTPUTF8 message */
	char				 boundary[BOUNCE_BOUNDARY_MAX];
	/* the original: what part 3 holds */
	char				*orig;
	size_t				 orig_len;
	bool				 full;		/* whole message */
	bool				 orig_cut;	/* headers cut at the cap */
	bool				 too_big;	/* FULL asked, headers sent */
	bool				 orig8;		/* it has 8-bit bytes */
};

static const char *const bounce_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const bounce_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec",
};

/*
 * Who and what.
 */

bool
bounce_rcpt_wanted(const struct envelope *e, size_t i, enum bounce_kind kind)
{
	const struct envelope_rcpt *r = &e->rcpts[i];
	unsigned notify = r->notify != 0 ? r->notify :
	    SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY;

	if (notify & SMTP_NOTIFY_NEVER)
		return false;
	switch (kind) {
	case BOUNCE_FAILURE:
		return r->state == RCPT_FAILED && !r->dsn_sent &&
		    (notify & SMTP_NOTIFY_FAILURE);
	case BOUNCE_DELAY:
		return r->state == RCPT_PENDING && !r->delay_notified &&
		    (notify & SMTP_NOTIFY_DELAY);
	case BOUNCE_SUCCESS:
		return r->state == RCPT_DELIVERED && !r->dsn_sent &&
		    (notify & SMTP_NOTIFY_SUCCESS);
	}
	return false;
}

enum bounce_to
bounce_recipient(const struct envelope *e, enum bounce_kind kind)
{
	if (e->from[0] != '\0')
		return BOUNCE_TO_SENDER;
	/* never a report to "<>": a failure goes to the postmaster, once */
	if (kind == BOUNCE_FAILURE && !e->double_bounce)
		return BOUNCE_TO_POSTMASTER;
	return BOUNCE_TO_NOBODY;
}

void
bounce_mark(struct envelope *e, enum bounce_kind kind)
{
	struct envelope_rcpt *r;

	for (size_t i = 0; i < e->nrcpts; i++) {
		r = &e->rcpts[i];
		if (kind == BOUNCE_FAILURE && r->state == RCPT_FAILED)
			r->dsn_sent = true;
		else if (kind == BOUNCE_SUCCESS && r->state == RCPT_DELIVERED)
			r->dsn_sent = true;
		else if (kind == BOUNCE_DELAY && r->state == RCPT_PENDING)
			r->delay_notified = true;
	}
}

/*
 * Output helpers.
 */

static void
bounce_put(struct bounce_ctx *c, const char *p, size_t n)
{
	if (!c->failed && buf_append(c->out, p, n) == -1)
		c->failed = true;
}

static void __attribute__((format(printf, 2, 3)))
bounce_printf(struct bounce_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	va_start(ap, fmt);
	if (buf_vprintf(c->out, fmt, ap) == -1)
		c->failed = true;
	va_end(ap);
}

/* s with control bytes as spaces and, unless utf8, bytes >= 0x80 as
 * '?': a header or text line that cannot be broken by its content. */
static void
bounce_put_clean(struct bounce_ctx *c, const char *s, bool utf8)
{
	char ch;

	for (; *s != '\0'; s++) {
		ch = *s;
		if ((unsigned char)ch < 0x20 || ch == 0x7f)
			ch = ' ';
		else if ((unsigned char)ch >= 0x80 && !utf8)
			ch = '?';
		bounce_put(c, &ch, 1);
	}
}

static bool
bounce_is_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

/* RFC 5322 date, in UTC. */
static const char *
bounce_date(time_t t, char out[static BOUNCE_DATE_MAX])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, BOUNCE_DATE_MAX, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    bounce_days[tm.tm_wday % 7], tm.tm_mday,
	    bounce_months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return out;
}

/* "Field: TYPE; address" with the address type RFC 6533 asks for. */
static void
bounce_addr_field(struct bounce_ctx *c, const char *field, const char *addr)
{
	bool ascii = bounce_is_ascii(addr);

	bounce_printf(c, "%s: %s; ", field, ascii ? "rfc822" : "utf-8");
	bounce_put_clean(c, addr, c->utf8);
	bounce_put(c, "\r\n", 2);
}

static int
bounce_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* ORCPT "rfc822;xtext" (RFC 3461 §4.2) as "rfc822; decoded"; other
 * address types (utf-8, RFC 6533) as received. */
static void
bounce_orcpt(struct bounce_ctx *c, const char *orcpt)
{
	char dec[ENVELOPE_ORCPT_MAX + 1];
	const char *semi = strchr(orcpt, ';'), *s;
	size_t n = 0;
	int hi, lo;

	if (semi == NULL || semi - orcpt != 6 ||
	    strncasecmp(orcpt, "rfc822", 6) != 0)
		goto raw;
	for (s = semi + 1; *s != '\0'; s++) {
		if (*s != '+') {
			dec[n++] = *s;
			continue;
		}
		if ((hi = bounce_hex(s[1])) < 0 || (lo = bounce_hex(s[2])) < 0)
			goto raw;
		dec[n++] = (char)(hi << 4 | lo);
		s += 2;
	}
	dec[n] = '\0';
	if (memchr(dec, '\0', n) != NULL || n == 0)
		goto raw;
	bounce_printf(c, "Original-Recipient: rfc822; ");
	bounce_put_clean(c, dec, c->utf8);
	bounce_put(c, "\r\n", 2);
	return;
raw:
	bounce_printf(c, "Original-Recipient: ");
	bounce_put_clean(c, orcpt, c->utf8);
	bounce_put(c, "\r\n", 2);
}

/* "mx.example.net[192.0.2.1]" -> "mx.example.net" (or the address). */
static void
bounce_remote_mta(struct bounce_ctx *c, const char *relay)
{
	char host[ENVELOPE_RELAY_MAX + 1];
	const char *br = strchr(relay, '[');
	size_t n = br != NULL ? (size_t)(br - relay) : strlen(relay);

	if (n == 0 && br != NULL) {	/* "[192.0.2.1]" */
		relay = br + 1;
		n = strcspn(relay, "]");
	}
	if (n == 0)
		return;
	memcpy(host, relay, n);
	host[n] = '\0';
	bounce_printf(c, "Remote-MTA: dns; ");
	bounce_put_clean(c, host, false);
	bounce_put(c, "\r\n", 2);
}

/* An SMTP reply ("550 5.1.1 ...") or a local reason. */
static bool
bounce_is_smtp_reply(const char *text)
{
	return text[0] >= '2' && text[0] <= '5' &&
	    text[1] >= '0' && text[1] <= '9' &&
	    text[2] >= '0' && text[2] <= '9' &&
	    (text[3] == '\0' || text[3] == ' ' || text[3] == '-');
}

/*
 * The parts.
 */

static const char *
bounce_subject(const struct bounce_ctx *c)
{
	if (c->to == BOUNCE_TO_POSTMASTER)
		return "Postmaster Copy: Undelivered Mail";
	switch (c->kind) {
	case BOUNCE_FAILURE:
		return "Undelivered Mail Returned to Sender";
	case BOUNCE_DELAY:
		return "Delayed Mail (still being retried)";
	case BOUNCE_SUCCESS:
		return "Successful Mail Delivery Report";
	}
	return "Delivery Status Notification";
}

static const char *
bounce_action(enum bounce_kind kind)
{
	return kind == BOUNCE_FAILURE ? "failed" :
	    kind == BOUNCE_DELAY ? "delayed" : "delivered";
}

static const char *
bounce_default_status(enum bounce_kind kind)
{
	return kind == BOUNCE_FAILURE ? "5.0.0" :
	    kind == BOUNCE_DELAY ? "4.0.0" : "2.0.0";
}

static void
bounce_headers(struct bounce_ctx *c, const char *to, uint64_t msgid)
{
	char date[BOUNCE_DATE_MAX];
	bool eight = c->utf8 || c->orig8;

	bounce_printf(c, "Date: %s\r\n", bounce_date(c->bp->now, date));
	bounce_printf(c, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    c->bp->hostname);
	bounce_printf(c, "To: <");
	bounce_put_clean(c, to, c->utf8);
	bounce_printf(c, ">\r\n");
	bounce_printf(c, "Subject: %s\r\n", bounce_subject(c));
	bounce_printf(c, "Message-ID: <%016llx.%lld@%s>\r\n",
	    (unsigned long long)msgid, (long long)c->bp->now,
	    c->bp->hostname);
	bounce_printf(c, "Auto-Submitted: auto-replied\r\n");
	bounce_printf(c, "MIME-Version: 1.0\r\n");
	bounce_printf(c, "Content-Type: multipart/report; "
	    "report-type=%s;\r\n\tboundary=\"%s\"\r\n",
	    c->utf8 ? "global-delivery-status" : "delivery-status",
	    c->boundary);
	bounce_printf(c, "Content-Transfer-Encoding: %s\r\n",
	    eight ? "8bit" : "7bit");
	bounce_printf(c, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");
}

static void
bounce_intro(struct bounce_ctx *c)
{
	char date[BOUNCE_DATE_MAX];

	bounce_printf(c, "This is the mail system at host %s.\r\n\r\n",
	    c->bp->hostname);
	if (c->to == BOUNCE_TO_POSTMASTER) {
		bounce_printf(c, "A message with the null sender (a delivery "
		    "report or a similar\r\nautomatic message) could not be "
		    "delivered. Since it cannot\r\nbe returned to its sender, "
		    "this copy goes to the postmaster.\r\n\r\n");
		return;
	}
	switch (c->kind) {
	case BOUNCE_FAILURE:
		bounce_printf(c, "Your message could not be delivered to one "
		    "or more recipients.\r\nThe mail system gave up; the "
		    "reasons are below.\r\n\r\n");
		break;
	case BOUNCE_DELAY:
		bounce_printf(c, "Your message has not been delivered yet to "
		    "one or more recipients.\r\nThis is only a warning: "
		    "nothing needs to be done.\r\n");
		if (c->bp->retry_until != 0)
			bounce_printf(c, "The mail system will keep trying "
			    "until %s.\r\n", bounce_date(c->bp->retry_until,
			    date));
		bounce_printf(c, "\r\n");
		break;
	case BOUNCE_SUCCESS:
		bounce_printf(c, "Your message was delivered to the "
		    "recipients below, as you asked.\r\n\r\n");
		break;
	}
}

/* Part 1: for people. */
static void
bounce_part_text(struct bounce_ctx *c)
{
	const struct envelope *e = c->e;
	const struct envelope_rcpt *r;

	bounce_printf(c, "--%s\r\nContent-Type: text/plain; charset=%s\r\n"
	    "Content-Description: Notification\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", c->boundary,
	    c->utf8 ? "utf-8" : "us-ascii", c->utf8 ? "8bit" : "7bit");
	bounce_intro(c);
	for (size_t i = 0; i < e->nrcpts; i++) {
		if (!bounce_rcpt_wanted(e, i, c->kind))
			continue;
		r = &e->rcpts[i];
		bounce_put(c, "<", 1);
		bounce_put_clean(c, r->addr, c->utf8);
		bounce_printf(c, ">: %s\r\n", c->kind == BOUNCE_SUCCESS ?
		    "delivered" : c->kind == BOUNCE_DELAY ? "not delivered "
		    "yet" : "delivery failed");
		if (r->relay[0] != '\0' && c->kind != BOUNCE_SUCCESS) {
			bounce_printf(c, "    host ");
			bounce_put_clean(c, r->relay, false);
			bounce_printf(c, " said:\r\n");
		}
		if (r->text[0] != '\0') {
			bounce_printf(c, "    ");
			bounce_put_clean(c, r->text, false);
			bounce_put(c, "\r\n", 2);
		}
		bounce_put(c, "\r\n", 2);
	}
	if (c->too_big)
		bounce_printf(c, "The message could not be returned in full "
		    "(too big, or lines\r\ntoo long for mail): only its "
		    "headers are attached.\r\n\r\n");
	if (c->orig_cut)
		bounce_printf(c, "The headers of the message were too long: "
		    "they are cut short.\r\n\r\n");
}

static void
bounce_per_message(struct bounce_ctx *c)
{
	const struct envelope *e = c->e;
	char date[BOUNCE_DATE_MAX];

	bounce_printf(c, "Reporting-MTA: dns; %s\r\n", c->bp->hostname);
	bounce_printf(c, "X-Facteur-Queue-ID: %016llx\r\n",
	    (unsigned long long)e->qid);
	bounce_addr_field(c, "X-Facteur-Sender",
	    e->from[0] != '\0' ? e->from : "<>");
	if (e->envid[0] != '\0') {
		bounce_printf(c, "Original-Envelope-Id: ");
		bounce_put_clean(c, e->envid, false);
		bounce_put(c, "\r\n", 2);
	}
	if (e->helo[0] != '\0') {
		bounce_printf(c, "Received-From-MTA: dns; ");
		bounce_put_clean(c, e->helo, false);
		if (e->client_addr[0] != '\0') {
			bounce_printf(c, " ([");
			bounce_put_clean(c, e->client_addr, false);
			bounce_printf(c, "])");
		}
		bounce_put(c, "\r\n", 2);
	}
	bounce_printf(c, "Arrival-Date: %s\r\n", bounce_date(e->created, date));
}

static void
bounce_per_rcpt(struct bounce_ctx *c, const struct envelope_rcpt *r)
{
	char date[BOUNCE_DATE_MAX];
	const char *status = r->status;

	/* the class of Status matches the Action (RFC 3464 §2.3.4) */
	if (status[0] == '\0' || (c->kind == BOUNCE_SUCCESS &&
	    status[0] != '2') || (c->kind != BOUNCE_SUCCESS && status[0] == '2') ||
	    (c->kind == BOUNCE_DELAY && status[0] != '4'))
		status = bounce_default_status(c->kind);
	bounce_put(c, "\r\n", 2);
	bounce_addr_field(c, "Final-Recipient", r->addr);
	if (r->orcpt[0] != '\0')
		bounce_orcpt(c, r->orcpt);
	bounce_printf(c, "Action: %s\r\n", bounce_action(c->kind));
	bounce_printf(c, "Status: %s\r\n", status);
	if (r->relay[0] != '\0')
		bounce_remote_mta(c, r->relay);
	if (r->text[0] != '\0') {
		bounce_printf(c, "Diagnostic-Code: %s; ",
		    bounce_is_smtp_reply(r->text) ? "smtp" : "X-Facteur");
		bounce_put_clean(c, r->text, false);
		bounce_put(c, "\r\n", 2);
	}
	if (r->last_try != 0)
		bounce_printf(c, "Last-Attempt-Date: %s\r\n",
		    bounce_date(r->last_try, date));
	if (c->kind == BOUNCE_DELAY && c->bp->retry_until != 0)
		bounce_printf(c, "Will-Retry-Until: %s\r\n",
		    bounce_date(c->bp->retry_until, date));
}

/* Part 2: for programs. */
static void
bounce_part_status(struct bounce_ctx *c)
{
	bounce_printf(c, "--%s\r\nContent-Type: message/%s\r\n"
	    "Content-Description: Delivery report\r\n\r\n", c->boundary,
	    c->utf8 ? "global-delivery-status" : "delivery-status");
	bounce_per_message(c);
	for (size_t i = 0; i < c->e->nrcpts; i++) {
		if (bounce_rcpt_wanted(c->e, i, c->kind))
			bounce_per_rcpt(c, &c->e->rcpts[i]);
	}
	bounce_put(c, "\r\n", 2);
}

/* The line at p[*pos..len), its length without CR LF or LF; *pos moves
 * past its end. */
static size_t
bounce_next_line(const char *p, size_t len, size_t *pos, const char **line_r)
{
	const char *line = p + *pos, *nl = memchr(line, '\n', len - *pos);
	size_t n = nl != NULL ? (size_t)(nl - line) : len - *pos;

	*pos += n + (nl != NULL);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	*line_r = line;
	return n;
}

/* Copy the lines of p[0..len) with CRLF ends.  headers: a field (with
 * its continuation lines) that has a line over 998 bytes is left out
 * (a whole message with such a line is never copied: see
 * bounce_load_orig). */
static void
bounce_copy_lines(struct bounce_ctx *c, const char *p, size_t len,
    bool headers)
{
	const char *line;
	size_t pos = 0, fpos, n;
	bool bad;

	while (pos < len) {
		fpos = pos;
		bad = false;
		do {
			bad |= bounce_next_line(p, len, &pos, &line) >
			    BOUNCE_LINE_MAX;
		} while (headers && pos < len &&
		    (p[pos] == ' ' || p[pos] == '\t'));
		if (bad)
			continue;
		while (fpos < pos) {
			n = bounce_next_line(p, pos, &fpos, &line);
			bounce_put(c, line, n);
			bounce_put(c, "\r\n", 2);
		}
	}
}

/* Part 3: the original, or its headers. */
static void
bounce_part_orig(struct bounce_ctx *c)
{
	const char *type;

	if (c->orig == NULL)
		return;
	if (c->full)
		type = c->utf8 ? "message/global" : "message/rfc822";
	else
		type = c->utf8 ? "message/global-headers" :
		    "text/rfc822-headers";
	bounce_printf(c, "--%s\r\nContent-Type: %s\r\n"
	    "Content-Description: %s\r\n", c->boundary, type,
	    c->full ? "Undelivered Message" : c->kind == BOUNCE_FAILURE ?
	    "Undelivered Message Headers" : "Message Headers");
	if (c->orig8)
		bounce_printf(c, "Content-Transfer-Encoding: 8bit\r\n");
	bounce_put(c, "\r\n", 2);
	bounce_copy_lines(c, c->orig, c->orig_len, !c->full);
	bounce_put(c, "\r\n", 2);
}

/*
 * Reading the original.
 */

/* Up to max bytes from offset off of fd into a malloc'ed buffer. */
static int
bounce_read(int fd, off_t off, size_t max, char **p_r, size_t *len_r,
    const char **err_r)
{
	size_t got = 0, cap = max < BOUNCE_READ_CHUNK ? max : BOUNCE_READ_CHUNK;
	char *p = xmalloc(cap + 1);
	ssize_t r;

	while (got < max) {
		if (got == cap) {
			cap = cap * 2 < max ? cap * 2 : max;
			p = xrealloc(p, cap + 1);
		}
		r = pread(fd, p + got, cap - got, off + (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(p);
			*err_r = "pread of the queued message failed";
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*p_r = p;
	*len_r = got;
	return 0;
}

/* Length of the header block at the start of p[0..len) (its blank line
 * excluded).  eof: p holds the whole message; else a last line without
 * its end is cut off, and *cut_r tells that the block goes on. */
static size_t
bounce_header_len(const char *p, size_t len, bool eof, bool *cut_r)
{
	const char *line;
	size_t pos = 0, start;

	*cut_r = false;
	while (pos < len) {
		start = pos;
		if (memchr(p + pos, '\n', len - pos) == NULL && !eof) {
			*cut_r = true;
			return start;
		}
		if (bounce_next_line(p, len, &pos, &line) == 0)
			return start;
	}
	*cut_r = !eof;	/* no blank line within the cap */
	return pos;
}

/* Any line of p over the limit. */
static bool
bounce_long_line(const char *p, size_t len)
{
	const char *line;
	size_t pos = 0;

	while (pos < len) {
		if (bounce_next_line(p, len, &pos, &line) > BOUNCE_LINE_MAX)
			return true;
	}
	return false;
}

static bool
bounce_has8(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)p[i] >= 0x80)
			return true;
	}
	return false;
}

static int
bounce_load_orig(struct bounce_ctx *c, int fd, const char **err_r)
{
	size_t full_max = c->bp->full_max != 0 ? c->bp->full_max :
	    BOUNCE_FULL_MAX, hlen;
	struct stat sb;

	if (fd == -1)
		return 0;
	if (fstat(fd, &sb) == -1) {
		*err_r = "fstat of the queued message failed";
		return -1;
	}
	if (c->kind == BOUNCE_FAILURE && c->e->ret == SMTP_RET_FULL) {
		if (sb.st_size >= c->bp->msg_off &&
		    (size_t)(sb.st_size - c->bp->msg_off) <= full_max) {
			if (bounce_read(fd, c->bp->msg_off, full_max, &c->orig,
			    &c->orig_len, err_r) == -1)
				return -1;
			if (!bounce_long_line(c->orig, c->orig_len)) {
				c->full = true;
				c->orig8 = bounce_has8(c->orig, c->orig_len);
				return 0;
			}
			free(c->orig);
			c->orig = NULL;
		}
		c->too_big = true;
	}
	if (bounce_read(fd, c->bp->msg_off, BOUNCE_HEADERS_MAX, &c->orig,
	    &c->orig_len, err_r) == -1)
		return -1;
	hlen = bounce_header_len(c->orig, c->orig_len,
	    c->orig_len < BOUNCE_HEADERS_MAX, &c->orig_cut);
	c->orig_len = hlen;
	c->orig8 = bounce_has8(c->orig, c->orig_len);
	return 0;
}

/* A boundary found nowhere in the original. */
static void
bounce_make_boundary(struct bounce_ctx *c)
{
	do {
		snprintf(c->boundary, sizeof(c->boundary),
		    "=_facteur-%016llx-%016llx",
		    (unsigned long long)c->e->qid,
		    (unsigned long long)id_new());
	} while (c->orig != NULL && memmem(c->orig, c->orig_len, c->boundary,
	    strlen(c->boundary)) != NULL);
}

/*
 * The whole report.
 */

static int
bounce_envelope(struct bounce_ctx *c, const char *to, uint64_t qid,
    size_t size, struct envelope *dsn)
{
	memset(dsn, 0, sizeof(*dsn));
	dsn->qid = qid;
	dsn->created = c->bp->now;
	dsn->is_bounce = true;
	dsn->double_bounce = c->to == BOUNCE_TO_POSTMASTER;
	dsn->smtputf8 = c->utf8;
	dsn->size = size;
	for (size_t i = c->out->len - size; i < c->out->len; i++) {
		if ((unsigned char)c->out->p[i] >= 0x80) {
			dsn->eightbit = true;
			break;
		}
	}
	return envelope_add_rcpt(dsn, to, NULL, 0);
}

static int
bounce_count(const struct envelope *e, enum bounce_kind kind)
{
	int n = 0;

	for (size_t i = 0; i < e->nrcpts; i++)
		n += bounce_rcpt_wanted(e, i, kind);
	return n;
}

int
bounce_build(const struct envelope *e, int msg_fd, enum bounce_kind kind,
    const struct bounce_params *bp, struct buf *out, struct envelope *dsn_r,
    const char **err_r)
{
	struct bounce_ctx c = { .e = e, .bp = bp, .kind = kind, .out = out };
	const char *to;
	uint64_t qid = bp->dsn_qid != 0 ? bp->dsn_qid : id_new();
	size_t start = out->len;
	int n;

	c.to = bounce_recipient(e, kind);
	if (c.to == BOUNCE_TO_NOBODY || (n = bounce_count(e, kind)) == 0)
		return 0;
	to = c.to == BOUNCE_TO_SENDER ? e->from : bp->postmaster;
	if (to == NULL || *to == '\0' || strlen(to) > ENVELOPE_ADDR_MAX) {
		*err_r = "no postmaster address for a double bounce";
		return -1;
	}
	c.utf8 = e->smtputf8;
	if (bounce_load_orig(&c, msg_fd, err_r) == -1)
		return -1;
	bounce_make_boundary(&c);
	bounce_headers(&c, to, qid);
	bounce_part_text(&c);
	bounce_part_status(&c);
	bounce_part_orig(&c);
	bounce_printf(&c, "--%s--\r\n", c.boundary);
	free(c.orig);
	if (c.failed) {
		out->len = start;
		*err_r = "delivery report too big for its buffer";
		return -1;
	}
	if (dsn_r != NULL && bounce_envelope(&c, to, qid, out->len - start,
	    dsn_r) == -1) {
		out->len = start;
		envelope_clear(dsn_r);
		*err_r = "bad recipient for the delivery report";
		return -1;
	}
	return n;
}
