/* fuzz_mta_reply.c: libFuzzer target for the SMTP client's reply parser
 * (src/mta/mta_reply.c) and its 8bit -> quoted-printable converter
 * (src/mta/mta_qp.c).
 *
 * Input: byte 0 = flags (bit 0: EHLO replies), bytes 1-2 = a cut offset,
 * the rest = what a peer sends.
 *  - The data is parsed as a sequence of replies three ways: whole, with
 *    the buffer growing at the cut, and byte by byte with checked lines
 *    consumed as the client does.  The replies (lengths, codes, status,
 *    text, extensions) must be the same; every reply's text is printable
 *    and its status well-formed.
 *  - The data is converted as a message, whole and split at the cut:
 *    the output must be the same; when nothing was given up and no 8bit
 *    byte was left, the output is 7bit. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/mta_qp.h"
#include "mta/mta_reply.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_mta_reply: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_INPUT	(64 * 1024)
#define FUZZ_MAX_REPLIES 64

struct fuzz_seen {
	size_t		 n;
	int		 rc[FUZZ_MAX_REPLIES];	/* last: -1 or 0 */
	struct mta_reply r[FUZZ_MAX_REPLIES];
};

static void
fuzz_check_reply(const struct mta_reply *r)
{
	FUZZ_CHECK(r->code >= 200 && r->code <= 599);
	FUZZ_CHECK(strlen(r->text) < MTA_REPLY_TEXT_MAX);
	for (const char *p = r->text; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	if (r->status[0] != '\0') {
		FUZZ_CHECK(r->status[0] == '0' + r->code / 100);
		FUZZ_CHECK(mta_reply_status_len(r->status, strlen(r->status),
		    0) == strlen(r->status));
	}
}

static void
fuzz_add(struct fuzz_seen *s, int rc, const struct mta_reply *r)
{
	if (s->n == FUZZ_MAX_REPLIES)
		return;
	s->rc[s->n] = rc;
	s->r[s->n] = *r;
	s->n++;
}

/* Whole: each reply from the start of what is left. */
static void
fuzz_whole(const char *p, size_t len, bool ehlo, struct fuzz_seen *s)
{
	struct mta_reply r;
	int rc;

	for (;;) {
		mta_reply_init(&r);
		r.ehlo = ehlo;
		rc = mta_reply_parse(&r, p, len);
		if (rc > 0)
			fuzz_check_reply(&r);
		fuzz_add(s, rc, &r);
		if (rc <= 0 || s->n == FUZZ_MAX_REPLIES)
			return;
		FUZZ_CHECK((size_t)rc <= len);
		p += rc;
		len -= (size_t)rc;
	}
}

/* The buffer grows to cut, then to len, per reply. */
static void
fuzz_split(const char *p, size_t len, size_t cut, bool ehlo,
    struct fuzz_seen *s)
{
	struct mta_reply r;
	int rc;

	for (;;) {
		mta_reply_init(&r);
		r.ehlo = ehlo;
		rc = mta_reply_parse(&r, p, cut < len ? cut : len);
		if (rc == 0)
			rc = mta_reply_parse(&r, p, len);
		fuzz_add(s, rc, &r);
		if (rc <= 0 || s->n == FUZZ_MAX_REPLIES)
			return;
		p += rc;
		len -= (size_t)rc;
		cut = cut > (size_t)rc ? cut - (size_t)rc : 0;
	}
}

/* Byte by byte, consuming the checked lines. */
static void
fuzz_trickle(const char *p, size_t len, bool ehlo, struct fuzz_seen *s)
{
	static char buf[FUZZ_MAX_INPUT];
	struct mta_reply r;
	size_t have = 0, used = 0;
	int rc = 0;

	mta_reply_init(&r);
	r.ehlo = ehlo;
	for (size_t i = 0; i < len && s->n < FUZZ_MAX_REPLIES; i++) {
		buf[have++] = p[i];
		rc = mta_reply_parse(&r, buf, have);
		if (rc == 0) {
			memmove(buf, buf + r.off, have - r.off);
			used += r.off;
			have -= r.off;
			r.off = 0;
			continue;
		}
		fuzz_add(s, rc > 0 ? rc + (int)used : rc, &r);
		if (rc < 0)
			return;
		have -= (size_t)rc;	/* nothing follows it in buf */
		used = 0;
		mta_reply_init(&r);
		r.ehlo = ehlo;
	}
	if (s->n < FUZZ_MAX_REPLIES)
		fuzz_add(s, 0, &r);
}

static void
fuzz_same(const struct fuzz_seen *a, const struct fuzz_seen *b)
{
	FUZZ_CHECK(a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		FUZZ_CHECK(a->rc[i] == b->rc[i]);
		if (a->rc[i] <= 0)
			continue;
		FUZZ_CHECK(a->r[i].code == b->r[i].code);
		FUZZ_CHECK(strcmp(a->r[i].status, b->r[i].status) == 0);
		FUZZ_CHECK(strcmp(a->r[i].text, b->r[i].text) == 0);
		FUZZ_CHECK(a->r[i].ext.flags == b->r[i].ext.flags);
		FUZZ_CHECK(a->r[i].ext.size_max == b->r[i].ext.size_max);
		FUZZ_CHECK(a->r[i].ext.auth == b->r[i].ext.auth);
	}
}

static void
fuzz_qp(const char *p, size_t len, size_t cut)
{
	struct mta_qp *a = mta_qp_new(), *b = mta_qp_new();
	struct buf oa, ob;

	if (cut > len)
		cut = len;
	buf_init(&oa, 8 * FUZZ_MAX_INPUT + MTA_QP_HEADER_MAX);
	buf_init(&ob, 8 * FUZZ_MAX_INPUT + MTA_QP_HEADER_MAX);
	FUZZ_CHECK(mta_qp_feed(a, p, len, &oa) == 0);
	FUZZ_CHECK(mta_qp_end(a, &oa) == 0);
	FUZZ_CHECK(mta_qp_feed(b, p, cut, &ob) == 0);
	FUZZ_CHECK(mta_qp_feed(b, p + cut, len - cut, &ob) == 0);
	FUZZ_CHECK(mta_qp_end(b, &ob) == 0);
	FUZZ_CHECK(oa.len == ob.len);
	FUZZ_CHECK(oa.len == 0 || memcmp(oa.p, ob.p, oa.len) == 0);
	if (mta_qp_gave_up(a) == NULL && !mta_qp_left_8bit(a))
		for (size_t i = 0; i < oa.len; i++)
			FUZZ_CHECK((unsigned char)oa.p[i] < 0x80);
	buf_free(&oa);
	buf_free(&ob);
	mta_qp_free(&a);
	mta_qp_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_seen s1, s2, s3;
	const char *p;
	size_t len, cut;
	bool ehlo;

	if (size < 3 || size > FUZZ_MAX_INPUT)
		return 0;
	ehlo = data[0] & 1;
	cut = (size_t)data[1] << 8 | data[2];
	p = (const char *)data + 3;
	len = size - 3;
	s1.n = s2.n = s3.n = 0;
	fuzz_whole(p, len, ehlo, &s1);
	fuzz_split(p, len, cut, ehlo, &s2);
	fuzz_trickle(p, len, ehlo, &s3);
	fuzz_same(&s1, &s2);
	fuzz_same(&s1, &s3);
	fuzz_qp(p, len, cut);
	return 0;
}
