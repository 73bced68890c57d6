/* bounce_test.c: tests for src/queue/bounce.c: the structure of the
 * report (RFC 3464 / 3462 / 3834), its required fields, who gets one
 * (NOTIFY, the null sender, double bounces), RET=HDRS vs FULL, and the
 * shape of every line (CRLF, at most 998 bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "queue/bounce.h"
#include "smtp/smtp_parse.h"

#define T0	((time_t)1764150000)	/* Wed, 26 Nov 2025 09:40:00 +0000 */
#define HOST	"mx.example.test"

#define ORIG_HDRS	"Received: from client.example.org\r\n" \
			"From: Alice <a@x.org>\r\n" \
			"To: b@y.net\r\n" \
			"Subject: lunch\r\n" \
			"Message-ID: <1@x.org>\r\n"
#define ORIG_BODY	"Shall we?\r\n-- \r\nAlice\r\n"
#define ORIG		ORIG_HDRS "\r\n" ORIG_BODY

struct report {
	struct buf	 out;
	struct envelope	 dsn;
	char		*text;		/* NUL-terminated copy */
	int		 n;
};

static int
msg_fd(const char *content, size_t len)
{
	int fd = memfd_create("msg", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	return fd;
}

static void
env_init(struct envelope *e, const char *from, size_t nrcpts)
{
	static const char *const addrs[] = { "b@y.net", "c@y.net", "d@z.org" };

	memset(e, 0, sizeof(*e));
	e->qid = 0x0f3c91aa11e4b7a2ULL;
	e->created = T0;
	e->size = strlen(ORIG);
	strcpy(e->from, from);
	strcpy(e->helo, "client.example.org");
	strcpy(e->client_addr, "192.0.2.7");
	for (size_t i = 0; i < nrcpts; i++)
		assert_int_equal(envelope_add_rcpt(e, addrs[i], NULL, 0), 0);
}

static void
fail_rcpt(struct envelope_rcpt *r)
{
	r->state = RCPT_FAILED;
	r->attempts = 1;
	r->last_try = T0 + 60;
	strcpy(r->status, "5.1.1");
	strcpy(r->text, "550 5.1.1 <b@y.net>: Recipient address rejected");
	strcpy(r->relay, "mx.y.net[198.51.100.3]");
}

static const struct bounce_params params = {
	.hostname = HOST,
	.postmaster = "postmaster@example.test",
	.now = T0 + 120,
	.retry_until = T0 + 5 * 86400,
	.dsn_qid = 0x1234,
};

/* Build a report of e (message content orig) into r; returns n. */
static int
build(struct report *r, const struct envelope *e, const char *orig,
    size_t orig_len, enum bounce_kind kind, const struct bounce_params *bp)
{
	const char *err = NULL;
	int fd = orig != NULL ? msg_fd(orig, orig_len) : -1;

	buf_init(&r->out, 4 * 1024 * 1024);
	memset(&r->dsn, 0, sizeof(r->dsn));
	r->n = bounce_build(e, fd, kind, bp != NULL ? bp : &params, &r->out,
	    &r->dsn, &err);
	if (r->n == -1)
		fail_msg("bounce_build: %s", err);
	if (fd != -1)
		close(fd);
	r->text = strndup(r->out.p != NULL ? r->out.p : "", r->out.len);
	return r->n;
}

static void
report_free(struct report *r)
{
	buf_free(&r->out);
	envelope_clear(&r->dsn);
	free(r->text);
}

/* Every line ends in CRLF, has no other CR or LF, and is at most 998
 * bytes (RFC 5322 §2.1.1). */
static void
check_lines(const struct report *r)
{
	const char *p = r->out.p, *end = p + r->out.len, *eol;

	assert_true(r->out.len >= 2);
	assert_memory_equal(end - 2, "\r\n", 2);
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(eol);
		assert_true(eol > p && eol[-1] == '\r');
		assert_null(memchr(p, '\r', (size_t)(eol - 1 - p)));
		if (eol - 1 - p > BOUNCE_LINE_MAX)
			fail_msg("line of %td bytes", eol - 1 - p);
		p = eol + 1;
	}
}

/* The value of header field name in the top-level header block. */
static char *
header(const struct report *r, const char *name, char *buf, size_t size)
{
	const char *hend = strstr(r->text, "\r\n\r\n"), *p = r->text, *eol;
	size_t n = strlen(name);

	while (p < hend) {
		eol = strstr(p, "\r\n");
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			snprintf(buf, size, "%.*s", (int)(eol - p - n - 2),
			    p + n + 2);
			return buf;
		}
		p = eol + 2;
	}
	return NULL;
}

/* Part idx (1-based) of the report, its headers and body included. */
static char *
part(const struct report *r, int idx)
{
	char delim[128], *start, *next;
	const char *b = strstr(r->text, "boundary=\"");

	assert_non_null(b);
	b += 10;
	snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)strcspn(b, "\""), b);
	start = strstr(r->text, delim);
	for (int i = 1; i < idx && start != NULL; i++)
		start = strstr(start + 1, delim);
	if (start == NULL)
		return NULL;
	start += strlen(delim);
	if (strncmp(start, "--", 2) == 0)
		return NULL;	/* the close delimiter */
	next = strstr(start, delim);
	assert_non_null(next);
	return strndup(start + 2, (size_t)(next - start - 2));
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_failure_structure(void **state)
{
	struct envelope e;
	struct report r;
	char h[512], *p1, *p2, *p3;

	env_init(&e, "a@x.org", 2);
	fail_rcpt(&e.rcpts[0]);
	strcpy(e.rcpts[0].orcpt, "rfc822;B+2Bx@y.net");
	strcpy(e.envid, "QQ314159");
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE,
	    NULL), 1);
	check_lines(&r);

	/* top level */
	assert_string_equal(header(&r, "From", h, sizeof(h)),
	    "Mail Delivery System <MAILER-DAEMON@" HOST ">");
	assert_string_equal(header(&r, "To", h, sizeof(h)), "<a@x.org>");
	assert_string_equal(header(&r, "Subject", h, sizeof(h)),
	    "Undelivered Mail Returned to Sender");
	assert_string_equal(header(&r, "Auto-Submitted", h, sizeof(h)),
	    "auto-replied");
	assert_string_equal(header(&r, "MIME-Version", h, sizeof(h)), "1.0");
	assert_string_equal(header(&r, "Date", h, sizeof(h)),
	    "Wed, 26 Nov 2025 09:42:00 +0000");
	assert_string_equal(header(&r, "Message-ID", h, sizeof(h)),
	    "<0000000000001234.1764150120@" HOST ">");
	assert_non_null(strstr(r.text, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\""));

	/* part 1: people */
	p1 = part(&r, 1);
	assert_non_null(p1);
	assert_non_null(strstr(p1, "Content-Type: text/plain; charset=us-ascii"));
	assert_non_null(strstr(p1, "<b@y.net>: delivery failed\r\n"
	    "    host mx.y.net[198.51.100.3] said:\r\n"
	    "    550 5.1.1 <b@y.net>: Recipient address rejected\r\n"));
	assert_null(strstr(p1, "c@y.net"));	/* still pending */

	/* part 2: programs */
	p2 = part(&r, 2);
	assert_non_null(p2);
	assert_non_null(strstr(p2, "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(p2, "\r\n\r\nReporting-MTA: dns; " HOST "\r\n"));
	assert_non_null(strstr(p2, "Original-Envelope-Id: QQ314159\r\n"));
	assert_non_null(strstr(p2, "Received-From-MTA: dns; client.example.org "
	    "([192.0.2.7])\r\n"));
	assert_non_null(strstr(p2, "Arrival-Date: Wed, 26 Nov 2025 09:40:00 "
	    "+0000\r\n\r\n"));
	assert_non_null(strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; b@y.net\r\n"
	    "Original-Recipient: rfc822; B+x@y.net\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Remote-MTA: dns; mx.y.net\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <b@y.net>: Recipient address "
	    "rejected\r\n"
	    "Last-Attempt-Date: Wed, 26 Nov 2025 09:41:00 +0000\r\n"));
	assert_int_equal(count(p2, "Final-Recipient:"), 1);
	assert_null(strstr(p2, "Will-Retry-Until"));

	/* part 3: the headers only (no RET) */
	p3 = part(&r, 3);
	assert_non_null(p3);
	assert_non_null(strstr(p3, "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(p3, ORIG_HDRS));
	assert_null(strstr(p3, "Shall we?"));
	assert_null(part(&r, 4));
	assert_non_null(strstr(r.text, "--\r\n"));

	/* the report's envelope */
	assert_int_equal(r.dsn.qid, 0x1234);
	assert_string_equal(r.dsn.from, "");
	assert_true(r.dsn.is_bounce);
	assert_false(r.dsn.double_bounce);
	assert_false(r.dsn.eightbit);
	assert_int_equal(r.dsn.created, T0 + 120);
	assert_int_equal(r.dsn.size, r.out.len);
	assert_int_equal(r.dsn.nrcpts, 1);
	assert_string_equal(r.dsn.rcpts[0].addr, "a@x.org");
	free(p1);
	free(p2);
	free(p3);
	report_free(&r);
	envelope_clear(&e);
}

static void
test_notify(void **state)
{
	struct envelope e;
	struct report r;

	env_init(&e, "a@x.org", 3);
	for (int i = 0; i < 3; i++)
		fail_rcpt(&e.rcpts[i]);
	e.rcpts[0].notify = SMTP_NOTIFY_NEVER;
	e.rcpts[1].notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY;
	/* rcpt 2: no NOTIFY: failures are reported */
	assert_false(bounce_rcpt_wanted(&e, 0, BOUNCE_FAILURE));
	assert_false(bounce_rcpt_wanted(&e, 1, BOUNCE_FAILURE));
	assert_true(bounce_rcpt_wanted(&e, 2, BOUNCE_FAILURE));
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE,
	    NULL), 1);
	assert_non_null(strstr(r.text, "Final-Recipient: rfc822; d@z.org"));
	assert_null(strstr(r.text, "Final-Recipient: rfc822; b@y.net"));
	report_free(&r);
	/* already reported */
	e.rcpts[2].dsn_sent = true;
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE,
	    NULL), 0);
	assert_int_equal(r.out.len, 0);
	assert_int_equal(r.dsn.nrcpts, 0);
	report_free(&r);
	envelope_clear(&e);

	/* successes: only when asked */
	env_init(&e, "a@x.org", 3);
	for (int i = 0; i < 3; i++)
		e.rcpts[i].state = RCPT_DELIVERED;
	e.rcpts[0].notify = SMTP_NOTIFY_SUCCESS;
	e.rcpts[1].notify = SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY;
	assert_true(bounce_rcpt_wanted(&e, 0, BOUNCE_SUCCESS));
	assert_false(bounce_rcpt_wanted(&e, 1, BOUNCE_SUCCESS));
	assert_false(bounce_rcpt_wanted(&e, 2, BOUNCE_SUCCESS));
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_SUCCESS,
	    NULL), 1);
	check_lines(&r);
	assert_non_null(strstr(r.text, "Subject: Successful Mail Delivery "
	    "Report\r\n"));
	assert_non_null(strstr(r.text, "Action: delivered\r\nStatus: 2.0.0\r\n"));
	assert_non_null(strstr(r.text, "Content-Type: text/rfc822-headers"));
	report_free(&r);
	envelope_clear(&e);

	/* delays: by default and with DELAY, not with FAILURE alone */
	env_init(&e, "a@x.org", 3);
	e.rcpts[1].notify = SMTP_NOTIFY_FAILURE;
	e.rcpts[2].notify = SMTP_NOTIFY_DELAY;
	assert_true(bounce_rcpt_wanted(&e, 0, BOUNCE_DELAY));
	assert_false(bounce_rcpt_wanted(&e, 1, BOUNCE_DELAY));
	assert_true(bounce_rcpt_wanted(&e, 2, BOUNCE_DELAY));
	e.rcpts[0].delay_notified = true;
	assert_false(bounce_rcpt_wanted(&e, 0, BOUNCE_DELAY));
	envelope_clear(&e);
}

static void
test_delay(void **state)
{
	struct envelope e;
	struct report r;
	char h[256], *p3;

	env_init(&e, "a@x.org", 1);
	e.ret = SMTP_RET_FULL;	/* delays never carry the body */
	e.rcpts[0].attempts = 3;
	e.rcpts[0].last_try = T0 + 3600;
	strcpy(e.rcpts[0].status, "4.4.1");
	strcpy(e.rcpts[0].text, "connect to mx.y.net[198.51.100.3]:25: "
	    "Connection refused");
	strcpy(e.rcpts[0].relay, "mx.y.net[198.51.100.3]");
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_DELAY, NULL),
	    1);
	check_lines(&r);
	assert_string_equal(header(&r, "Subject", h, sizeof(h)),
	    "Delayed Mail (still being retried)");
	assert_non_null(strstr(r.text, "The mail system will keep trying until "
	    "Mon, 01 Dec 2025 09:40:00 +0000.\r\n"));
	assert_non_null(strstr(r.text, "Action: delayed\r\nStatus: 4.4.1\r\n"
	    "Remote-MTA: dns; mx.y.net\r\n"
	    "Diagnostic-Code: X-Facteur; connect to mx.y.net[198.51.100.3]:25: "
	    "Connection refused\r\n"
	    "Last-Attempt-Date: Wed, 26 Nov 2025 10:40:00 +0000\r\n"
	    "Will-Retry-Until: Mon, 01 Dec 2025 09:40:00 +0000\r\n"));
	p3 = part(&r, 3);
	assert_non_null(strstr(p3, "Content-Type: text/rfc822-headers"));
	assert_null(strstr(p3, "Shall we?"));
	free(p3);
	report_free(&r);
	/* a 5xx status is not a delay status */
	strcpy(e.rcpts[0].status, "5.1.1");
	build(&r, &e, ORIG, strlen(ORIG), BOUNCE_DELAY, NULL);
	assert_non_null(strstr(r.text, "Status: 4.0.0\r\n"));
	report_free(&r);
	envelope_clear(&e);
}

/* Never a report to "<>": a failure goes to the postmaster, and a
 * failed double bounce is dropped. */
static void
test_null_sender(void **state)
{
	struct envelope e;
	struct report r;
	char h[256];

	env_init(&e, "", 1);
	e.is_bounce = true;
	fail_rcpt(&e.rcpts[0]);
	assert_int_equal(bounce_recipient(&e, BOUNCE_FAILURE),
	    BOUNCE_TO_POSTMASTER);
	assert_int_equal(bounce_recipient(&e, BOUNCE_DELAY), BOUNCE_TO_NOBODY);
	assert_int_equal(bounce_recipient(&e, BOUNCE_SUCCESS),
	    BOUNCE_TO_NOBODY);
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE,
	    NULL), 1);
	check_lines(&r);
	assert_string_equal(header(&r, "To", h, sizeof(h)),
	    "<postmaster@example.test>");
	assert_string_equal(header(&r, "Subject", h, sizeof(h)),
	    "Postmaster Copy: Undelivered Mail");
	assert_non_null(strstr(r.text, "X-Facteur-Sender: rfc822; <>\r\n"));
	assert_true(r.dsn.double_bounce);
	assert_true(r.dsn.is_bounce);
	assert_string_equal(r.dsn.from, "");
	assert_string_equal(r.dsn.rcpts[0].addr, "postmaster@example.test");
	report_free(&r);

	/* no postmaster configured: an error, not a report to "<>" */
	{
		struct bounce_params bp = params;
		struct buf out;
		const char *err;

		bp.postmaster = NULL;
		buf_init(&out, 1 << 20);
		assert_int_equal(bounce_build(&e, -1, BOUNCE_FAILURE, &bp,
		    &out, NULL, &err), -1);
		assert_int_equal(out.len, 0);
		buf_free(&out);
	}

	/* the double bounce fails too: dropped */
	e.double_bounce = true;
	assert_int_equal(bounce_recipient(&e, BOUNCE_FAILURE),
	    BOUNCE_TO_NOBODY);
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE,
	    NULL), 0);
	assert_int_equal(r.out.len, 0);
	report_free(&r);

	/* delays for "<>": none */
	e.double_bounce = false;
	e.rcpts[0].state = RCPT_PENDING;
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_DELAY, NULL),
	    0);
	report_free(&r);
	envelope_clear(&e);
}

static void
test_ret_full(void **state)
{
	struct bounce_params bp = params;
	struct envelope e;
	struct report r;
	char *p3, *big, *longl;
	size_t n;

	env_init(&e, "a@x.org", 1);
	fail_rcpt(&e.rcpts[0]);
	e.ret = SMTP_RET_FULL;
	build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE, NULL);
	check_lines(&r);
	p3 = part(&r, 3);
	assert_non_null(strstr(p3, "Content-Type: message/rfc822\r\n"));
	assert_non_null(strstr(p3, "\r\n\r\n" ORIG));
	free(p3);
	report_free(&r);

	/* RET=HDRS: headers */
	e.ret = SMTP_RET_HDRS;
	build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE, NULL);
	p3 = part(&r, 3);
	assert_non_null(strstr(p3, "Content-Type: text/rfc822-headers\r\n"));
	assert_null(strstr(p3, "Shall we?"));
	free(p3);
	report_free(&r);

	/* RET=FULL over the cap: headers, and a word about it */
	e.ret = SMTP_RET_FULL;
	n = BOUNCE_FULL_MAX + 1;
	big = malloc(n + 1);
	memcpy(big, ORIG, strlen(ORIG));
	for (size_t i = strlen(ORIG); i < n; i++)
		big[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : 'x';
	big[n] = '\0';
	build(&r, &e, big, n, BOUNCE_FAILURE, NULL);
	check_lines(&r);
	p3 = part(&r, 3);
	assert_non_null(strstr(p3, "Content-Type: text/rfc822-headers\r\n"));
	assert_null(strstr(p3, "xxxx"));
	assert_non_null(strstr(r.text, "could not be returned in full"));
	free(p3);
	report_free(&r);
	/* exactly at the cap: whole */
	build(&r, &e, big, n - 1, BOUNCE_FAILURE, NULL);
	assert_non_null(strstr(r.text, "Content-Type: message/rfc822"));
	report_free(&r);
	/* a smaller cap from the caller */
	bp.full_max = 100;
	build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE, &bp);
	assert_non_null(strstr(r.text, "Content-Type: text/rfc822-headers"));
	report_free(&r);
	free(big);

	/* a body line over 998 bytes cannot go in a message: headers */
	longl = malloc(strlen(ORIG) + 1200);
	n = (size_t)sprintf(longl, "%s", ORIG);
	memset(longl + n, 'y', 1100);
	memcpy(longl + n + 1100, "\r\n", 3);
	build(&r, &e, longl, strlen(longl), BOUNCE_FAILURE, NULL);
	check_lines(&r);
	assert_non_null(strstr(r.text, "Content-Type: text/rfc822-headers"));
	report_free(&r);
	free(longl);
	envelope_clear(&e);
}

/* A header field with an over-long line is left out; bare LF become
 * CRLF; a header block that never ends is cut at the cap. */
static void
test_header_shapes(void **state)
{
	struct envelope e;
	struct report r;
	char *orig, *p3;
	size_t n;

	env_init(&e, "a@x.org", 1);
	fail_rcpt(&e.rcpts[0]);
	orig = malloc(4096);
	n = (size_t)sprintf(orig, "From: a@x.org\nX-Long: ");
	memset(orig + n, 'z', 1000);
	n += 1000;
	n += (size_t)sprintf(orig + n, "\n\tcontinued\nSubject: hi\n\nbody\n");
	build(&r, &e, orig, n, BOUNCE_FAILURE, NULL);
	check_lines(&r);
	p3 = part(&r, 3);
	assert_non_null(strstr(p3, "\r\n\r\nFrom: a@x.org\r\nSubject: hi\r\n"));
	assert_null(strstr(p3, "X-Long"));
	assert_null(strstr(p3, "continued"));
	assert_null(strstr(p3, "body"));
	free(p3);
	report_free(&r);
	free(orig);

	/* no blank line at all, longer than the cap */
	n = BOUNCE_HEADERS_MAX + 5000;
	orig = malloc(n);
	for (size_t i = 0; i < n; i++)
		orig[i] = (i % 50 == 49) ? '\n' : (i % 50 == 0) ? 'X' :
		    (i % 50 == 1) ? ':' : 'h';
	build(&r, &e, orig, n, BOUNCE_FAILURE, NULL);
	check_lines(&r);
	assert_non_null(strstr(r.text, "they are cut short"));
	assert_true(r.out.len < BOUNCE_HEADERS_MAX + 8192);
	report_free(&r);
	free(orig);

	/* no message file: no third part */
	build(&r, &e, NULL, 0, BOUNCE_FAILURE, NULL);
	check_lines(&r);
	assert_null(part(&r, 3));
	report_free(&r);
	envelope_clear(&e);
}

/* Peer-controlled text cannot break the report. */
static void
test_hostile_text(void **state)
{
	struct envelope e;
	struct report r;

	env_init(&e, "a@x.org", 1);
	fail_rcpt(&e.rcpts[0]);
	strcpy(e.rcpts[0].text, "550 no\r\nX-Injected: yes\r\n\r\n--=_facteur\x1b[2J\xff");
	strcpy(e.helo, "evil\r\nBcc: x@y");
	strcpy(e.rcpts[0].orcpt, "rfc822;a+0D+0Ab");
	build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE, NULL);
	check_lines(&r);
	assert_null(strstr(r.text, "\r\nX-Injected"));
	assert_null(strstr(r.text, "\r\nBcc"));
	assert_null(strstr(r.text, "\x1b"));
	assert_null(strstr(r.text, "\xff"));
	assert_non_null(strstr(r.text, "Diagnostic-Code: smtp; 550 no  "
	    "X-Injected: yes    --=_facteur [2J?\r\n"));
	assert_non_null(strstr(r.text, "Original-Recipient: rfc822; a  b\r\n"));
	report_free(&r);
	envelope_clear(&e);
}

static void
test_boundary_not_in_content(void **state)
{
	struct envelope e;
	struct report r;
	char bnd[128], *orig;
	const char *b;

	env_init(&e, "a@x.org", 1);
	fail_rcpt(&e.rcpts[0]);
	e.ret = SMTP_RET_FULL;
	build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE, NULL);
	b = strstr(r.text, "boundary=\"") + 10;
	snprintf(bnd, sizeof(bnd), "%.*s", (int)strcspn(b, "\""), b);
	assert_int_equal(strncmp(bnd, "=_facteur-0f3c91aa11e4b7a2-", 27), 0);
	/* delimiter lines: 3 parts and the close */
	assert_int_equal(count(r.text, bnd), 1 + 4);
	report_free(&r);
	/* the quoted original holds boundary-like lines: still parses */
	orig = malloc(512);
	sprintf(orig, "Subject: x\r\n\r\n--=_facteur-0f3c91aa11e4b7a2-\r\n"
	    "--%s--\r\n", bnd);
	build(&r, &e, orig, strlen(orig), BOUNCE_FAILURE, NULL);
	b = strstr(r.text, "boundary=\"") + 10;
	assert_int_not_equal(strncmp(b, bnd, strlen(bnd)), 0);
	free(orig);
	report_free(&r);
	envelope_clear(&e);
}

static void
test_smtputf8(void **state)
{
	struct envelope e;
	struct report r;
	static const char orig[] = "Subject: caf\xc3\xa9\r\n\r\nd\xc3\xa9j\xc3\xa0\r\n";

	env_init(&e, "j\xc3\xb6rg@x.org", 1);
	e.smtputf8 = e.eightbit = true;
	e.ret = SMTP_RET_FULL;
	fail_rcpt(&e.rcpts[0]);
	strcpy(e.rcpts[0].addr, "\xc3\xa9lise@y.net");
	build(&r, &e, orig, sizeof(orig) - 1, BOUNCE_FAILURE, NULL);
	check_lines(&r);
	assert_non_null(strstr(r.text, "report-type=global-delivery-status"));
	assert_non_null(strstr(r.text, "Content-Type: message/global-delivery-status"));
	assert_non_null(strstr(r.text, "Content-Type: message/global\r\n"));
	assert_non_null(strstr(r.text, "Final-Recipient: utf-8; \xc3\xa9lise@y.net"));
	assert_non_null(strstr(r.text, "To: <j\xc3\xb6rg@x.org>"));
	assert_non_null(strstr(r.text, "charset=utf-8"));
	assert_true(r.dsn.smtputf8);
	assert_true(r.dsn.eightbit);
	report_free(&r);

	/* 8-bit body without SMTPUTF8: headers-only part stays 7bit */
	e.smtputf8 = false;
	strcpy(e.from, "a@x.org");
	strcpy(e.rcpts[0].addr, "b@y.net");
	e.ret = SMTP_RET_HDRS;
	build(&r, &e, "Subject: x\r\n\r\nd\xc3\xa9j\xc3\xa0\r\n", 20,
	    BOUNCE_FAILURE, NULL);
	assert_false(r.dsn.eightbit);
	assert_non_null(strstr(r.text, "Content-Transfer-Encoding: 7bit"));
	report_free(&r);
	envelope_clear(&e);
}

static void
test_mark(void **state)
{
	struct envelope e;

	env_init(&e, "a@x.org", 3);
	e.rcpts[0].state = RCPT_FAILED;
	e.rcpts[0].notify = SMTP_NOTIFY_NEVER;
	e.rcpts[1].state = RCPT_DELIVERED;
	bounce_mark(&e, BOUNCE_FAILURE);
	assert_true(e.rcpts[0].dsn_sent);	/* whatever its NOTIFY */
	assert_false(e.rcpts[1].dsn_sent);
	assert_false(e.rcpts[2].dsn_sent);
	bounce_mark(&e, BOUNCE_DELAY);
	assert_false(e.rcpts[0].delay_notified);
	assert_true(e.rcpts[2].delay_notified);
	bounce_mark(&e, BOUNCE_SUCCESS);
	assert_true(e.rcpts[1].dsn_sent);
	assert_false(bounce_rcpt_wanted(&e, 0, BOUNCE_FAILURE));
	assert_false(bounce_rcpt_wanted(&e, 2, BOUNCE_DELAY));
	envelope_clear(&e);
}

/* The buffer's cap: -1, and out as it was. */
static void
test_cap(void **state)
{
	struct envelope e, dsn;
	struct buf out;
	const char *err = NULL;
	int fd = msg_fd(ORIG, strlen(ORIG));

	env_init(&e, "a@x.org", 1);
	fail_rcpt(&e.rcpts[0]);
	buf_init(&out, 600);
	assert_int_equal(buf_append(&out, "keep", 4), 0);
	memset(&dsn, 0, sizeof(dsn));
	assert_int_equal(bounce_build(&e, fd, BOUNCE_FAILURE, &params, &out,
	    &dsn, &err), -1);
	assert_non_null(err);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.p, "keep", 4);
	assert_null(dsn.rcpts);
	buf_free(&out);
	close(fd);
	envelope_clear(&e);
}

/* Many recipients, all fields at their limits: still within 998. */
static void
test_long_fields(void **state)
{
	struct envelope e;
	struct report r;

	env_init(&e, "a@x.org", 0);
	memset(e.from, 'f', ENVELOPE_ADDR_MAX);
	memset(e.helo, 'h', ENVELOPE_HELO_MAX);
	memset(e.envid, 'i', ENVELOPE_ENVID_MAX);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(envelope_add_rcpt(&e, "x", NULL, 0), 0);
		fail_rcpt(&e.rcpts[i]);
		memset(e.rcpts[i].addr, 'a', ENVELOPE_ADDR_MAX);
		memset(e.rcpts[i].orcpt, 'o', ENVELOPE_ORCPT_MAX);
		memcpy(e.rcpts[i].orcpt, "rfc822;", 7);
		memset(e.rcpts[i].text, 't', ENVELOPE_TEXT_MAX);
		memset(e.rcpts[i].relay, 'r', ENVELOPE_RELAY_MAX);
	}
	assert_int_equal(build(&r, &e, ORIG, strlen(ORIG), BOUNCE_FAILURE,
	    NULL), 20);
	check_lines(&r);
	assert_int_equal(count(r.text, "Final-Recipient:"), 20);
	report_free(&r);
	envelope_clear(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_structure),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_null_sender),
		cmocka_unit_test(test_ret_full),
		cmocka_unit_test(test_header_shapes),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_boundary_not_in_content),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_mark),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_long_fields),
	};

	return cmocka_run_group_tests_name("queue/bounce", tests, NULL, NULL);
}
