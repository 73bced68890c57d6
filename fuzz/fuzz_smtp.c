/* fuzz_smtp.c: libFuzzer target for src/smtp/smtp_parse.c.
 *
 * Input: byte 0 = flags, bytes 1-2 = a cut offset, the rest = data.
 * The data is read as command lines (line finder, verbs, MAIL, RCPT,
 * HELO), then as a DATA stream and as BDAT chunks.  DATA is fed whole,
 * split at the cut, in three pieces and byte by byte: any difference
 * aborts.  It is also checked against a naive byte-at-a-time reference
 * and for invariants: no LF in the output that the input did not have,
 * and a clean message re-stuffed gives back exactly the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/smtp_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_smtp: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_BIG	(1ULL << 40)

/* --- commands -------------------------------------------------------- */

static void
fuzz_smtp_check_path(const struct smtp_path *p, bool utf8_ok)
{
	size_t len = strnlen(p->addr, sizeof(p->addr));

	FUZZ_CHECK(len <= SMTP_PATH_MAX - 2);
	FUZZ_CHECK(p->local_len <= SMTP_LOCALPART_MAX);
	if (strcmp(p->addr, "postmaster") == 0)
		FUZZ_CHECK(p->local_len == len);
	else
		FUZZ_CHECK(len == 0 || (p->local_len < len &&
		    p->addr[p->local_len] == '@'));
	FUZZ_CHECK(utf8_ok || !p->utf8);
}

/* A parsed address must parse again to itself. */
static void
fuzz_smtp_reparse(const struct smtp_path *p, bool rcpt, bool utf8)
{
	struct smtp_parse_err err;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	char args[SMTP_PATH_MAX + 32];
	int n;

	n = snprintf(args, sizeof(args), "%s<%s>%s", rcpt ? "TO:" : "FROM:",
	    p->addr, !rcpt && utf8 ? " SMTPUTF8" : "");
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(args));
	if (rcpt) {
		FUZZ_CHECK(smtp_parse_rcpt(str_make(args, (size_t)n), utf8,
		    &r, &err) == 0);
		FUZZ_CHECK(strcmp(r.path.addr, p->addr) == 0);
	} else {
		FUZZ_CHECK(smtp_parse_mail(str_make(args, (size_t)n), &m,
		    &err) == 0);
		FUZZ_CHECK(strcmp(m.path.addr, p->addr) == 0);
	}
}

static void
fuzz_smtp_err_ok(const struct smtp_parse_err *err)
{
	FUZZ_CHECK(err->code == 501 || err->code == 553 || err->code == 555);
	FUZZ_CHECK(err->ecode != NULL && err->text != NULL);
}

static void
fuzz_smtp_mail_rcpt(struct str args, bool utf8_ok)
{
	struct smtp_parse_err err;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;

	if (smtp_parse_mail(args, &m, &err) == 0) {
		fuzz_smtp_check_path(&m.path, m.smtputf8);
		FUZZ_CHECK(strlen(m.envid) <= 100);
		fuzz_smtp_reparse(&m.path, false, m.smtputf8);
	} else
		fuzz_smtp_err_ok(&err);
	if (smtp_parse_rcpt(args, utf8_ok, &r, &err) == 0) {
		fuzz_smtp_check_path(&r.path, utf8_ok);
		FUZZ_CHECK(r.path.addr[0] != '\0');
		FUZZ_CHECK(strlen(r.orcpt) <= 500);
		fuzz_smtp_reparse(&r.path, true, utf8_ok);
	} else
		fuzz_smtp_err_ok(&err);
}

static void
fuzz_smtp_verb(struct str line, bool utf8_ok)
{
	struct str args;
	enum smtp_verb v;

	v = smtp_parse_verb(line, &args);
	FUZZ_CHECK(smtp_verb_name(v) != NULL);
	FUZZ_CHECK(args.len <= line.len);
	if (args.len > 0) {
		FUZZ_CHECK(args.p >= line.p &&
		    args.p + args.len <= line.p + line.len);
		FUZZ_CHECK(args.p[0] != ' ' && args.p[args.len - 1] != ' ');
	}
	(void)smtp_parse_helo_ok(args);
	(void)smtp_parse_helo_ok(line);
	fuzz_smtp_mail_rcpt(args, utf8_ok);
}

static void
fuzz_smtp_lines(const char *in, size_t len, size_t max, bool utf8_ok)
{
	struct str line;
	size_t used;
	int n;

	while (len > 0) {
		n = smtp_parse_line(in, len, max, &line);
		if (n == 0) {
			FUZZ_CHECK(len < max && memchr(in, '\n', len) == NULL);
			return;
		}
		if (n == -1) {
			FUZZ_CHECK(len >= max && memchr(in, '\n', max) == NULL);
			n = smtp_parse_skip_line(in, len, &used);
			FUZZ_CHECK(n == 0 ? used == len : (size_t)n == used);
			if (n == 0)
				return;
		} else {
			FUZZ_CHECK((size_t)n <= max && in[n - 1] == '\n');
			FUZZ_CHECK(line.p == in && line.len < (size_t)n);
			FUZZ_CHECK(memchr(line.p, '\n', line.len) == NULL);
			fuzz_smtp_verb(line, utf8_ok);
		}
		in += n;
		len -= (size_t)n;
	}
}

/* --- DATA ------------------------------------------------------------ */

struct fuzz_smtp_res {
	int		 status;
	size_t		 consumed;
	struct buf	 out;
	unsigned	 errors;
	bool		 eightbit;
	uint64_t	 size;
	size_t		 header_len;
};

static int
fuzz_smtp_out(void *arg, const char *p, size_t n)
{
	struct fuzz_smtp_res *r = arg;

	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(buf_append(&r->out, p, n) == 0);
	return 0;
}

static void
fuzz_smtp_res_done(struct fuzz_smtp_res *r, const struct smtp_data *d)
{
	r->errors = d->errors;
	r->eightbit = d->eightbit;
	r->size = d->size;
	r->header_len = d->header_len;
}

/* Feed in pieces of at most step bytes, cut first at cut. */
static void
fuzz_smtp_data_run(const char *in, size_t len, uint64_t max_size,
    size_t max_header, size_t cut, size_t step, struct fuzz_smtp_res *r)
{
	struct smtp_data d;
	size_t pos = 0, n, used;
	int st = SMTP_DATA_MORE;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 1 << 24);
	smtp_data_init(&d, max_size, max_header);
	do {
		n = pos < cut ? cut - pos : len - pos;
		if (step > 0 && n > step)
			n = step;
		st = smtp_data_feed(&d, in + pos, n, &used, fuzz_smtp_out, r);
		FUZZ_CHECK(used <= n);
		FUZZ_CHECK(st != SMTP_DATA_MORE || used == n);
		pos += used;
	} while (st == SMTP_DATA_MORE && pos < len);
	r->consumed = pos;
	r->status = st;
	fuzz_smtp_res_done(r, &d);
}

static void
fuzz_smtp_same(const struct fuzz_smtp_res *a, const struct fuzz_smtp_res *b)
{
	FUZZ_CHECK(a->status == b->status && a->consumed == b->consumed);
	FUZZ_CHECK(a->out.len == b->out.len);
	FUZZ_CHECK(a->out.len == 0 ||
	    memcmp(a->out.p, b->out.p, a->out.len) == 0);
	FUZZ_CHECK(a->errors == b->errors && a->eightbit == b->eightbit);
	FUZZ_CHECK(a->size == b->size && a->header_len == b->header_len);
}

/* The obvious byte-at-a-time reading of RFC 5321 §4.5.2 and of our
 * rules on bare CR and LF. */
static int
fuzz_smtp_ref(const char *in, size_t len, struct fuzz_smtp_res *r)
{
	size_t i = 0;
	bool bol = true;
	char c;

	while (i < len) {
		c = in[i];
		if (bol && c == '.') {
			bol = false;
			if (i + 1 < len && in[i + 1] == '\r') {
				if (i + 2 == len)
					break;
				if (in[i + 2] == '\n') {
					r->consumed = i + 3;
					return SMTP_DATA_DONE;
				}
				r->errors |= SMTP_DATA_ERR_BARE_CR;
				FUZZ_CHECK(buf_append(&r->out, "\r", 1) == 0);
				i += 2;
			} else
				i++;
			continue;
		}
		bol = false;
		if (c == '\n' && (i == 0 || in[i - 1] != '\r'))
			r->errors |= SMTP_DATA_ERR_BARE_LF;
		else if (c == '\n')
			bol = true;
		if (c == '\r' && i + 1 < len && in[i + 1] != '\n')
			r->errors |= SMTP_DATA_ERR_BARE_CR;
		if ((unsigned char)c & 0x80)
			r->eightbit = true;
		FUZZ_CHECK(buf_append(&r->out, &c, 1) == 0);
		i++;
	}
	r->consumed = len;
	return SMTP_DATA_MORE;
}

static size_t
fuzz_smtp_count(const char *p, size_t n, char c)
{
	size_t k = 0;
	const char *q;

	while (n > 0 && (q = memchr(p, c, n)) != NULL) {
		k++;
		n -= (size_t)(q - p) + 1;
		p = q + 1;
	}
	return k;
}

/* A clean finished message, dot-stuffed again as a relay would send it,
 * reads back as the same message, ending exactly at its end marker. */
static void
fuzz_smtp_restuff(const struct fuzz_smtp_res *r)
{
	struct fuzz_smtp_res again;
	struct buf b;
	size_t i;
	bool bol = true;

	buf_init(&b, 1 << 24);
	for (i = 0; i < r->out.len; i++) {
		if (bol && r->out.p[i] == '.')
			FUZZ_CHECK(buf_append(&b, ".", 1) == 0);
		FUZZ_CHECK(buf_append(&b, r->out.p + i, 1) == 0);
		bol = r->out.p[i] == '\n';
	}
	FUZZ_CHECK(buf_append(&b, ".\r\n", 3) == 0);
	FUZZ_CHECK(buf_append(&b, "\r\n.\r\n", 5) == 0);
	fuzz_smtp_data_run(b.p, b.len, FUZZ_BIG, 1 << 20, 0, 0, &again);
	FUZZ_CHECK(again.status == SMTP_DATA_DONE &&
	    again.consumed == b.len - 5 && again.errors == 0);
	FUZZ_CHECK(again.out.len == r->out.len && (r->out.len == 0 ||
	    memcmp(again.out.p, r->out.p, r->out.len) == 0));
	buf_free(&again.out);
	buf_free(&b);
}

static void
fuzz_smtp_invariants(const struct fuzz_smtp_res *r, const char *in)
{
	struct fuzz_smtp_res ref;
	size_t lf_in, lf_out;
	int st;

	/* every LF out came in; the end marker's LF does not go out */
	lf_in = fuzz_smtp_count(in, r->consumed, '\n');
	lf_out = fuzz_smtp_count(r->out.p, r->out.len, '\n');
	FUZZ_CHECK(lf_out + (r->status == SMTP_DATA_DONE ? 1 : 0) == lf_in);
	FUZZ_CHECK(r->out.len == r->size && r->out.len <= r->consumed);
	if (r->status == SMTP_DATA_DONE) {
		FUZZ_CHECK(r->consumed >= 3 &&
		    memcmp(in + r->consumed - 3, ".\r\n", 3) == 0);
		FUZZ_CHECK(r->consumed == 3 ||
		    memcmp(in + r->consumed - 5, "\r\n", 2) == 0);
		if (!(r->errors & (SMTP_DATA_ERR_BARE_LF |
		    SMTP_DATA_ERR_BARE_CR)))
			fuzz_smtp_restuff(r);
	}
	if (r->status == SMTP_DATA_LINE_TOO_LONG)
		return;
	memset(&ref, 0, sizeof(ref));
	buf_init(&ref.out, 1 << 24);
	st = fuzz_smtp_ref(in, r->consumed, &ref);
	FUZZ_CHECK(st == r->status && ref.consumed == r->consumed);
	FUZZ_CHECK(ref.out.len == r->out.len && (ref.out.len == 0 ||
	    memcmp(ref.out.p, r->out.p, ref.out.len) == 0));
	FUZZ_CHECK(ref.errors == (r->errors & (SMTP_DATA_ERR_BARE_LF |
	    SMTP_DATA_ERR_BARE_CR)));
	FUZZ_CHECK(ref.eightbit == r->eightbit);
	buf_free(&ref.out);
}

static void
fuzz_smtp_data(const char *in, size_t len, size_t cut, uint64_t max_size,
    size_t max_header)
{
	struct fuzz_smtp_res whole, split, three, bytes;
	size_t keep;

	fuzz_smtp_data_run(in, len, FUZZ_BIG, max_header, 0, 0, &whole);
	fuzz_smtp_invariants(&whole, in);
	fuzz_smtp_data_run(in, len, FUZZ_BIG, max_header, cut, 0, &split);
	fuzz_smtp_same(&whole, &split);
	fuzz_smtp_data_run(in, len, FUZZ_BIG, max_header, cut, cut / 2 + 1,
	    &three);
	fuzz_smtp_same(&whole, &three);
	fuzz_smtp_data_run(in, len, FUZZ_BIG, max_header, 0, 1, &bytes);
	fuzz_smtp_same(&whole, &bytes);
	buf_free(&split.out);
	buf_free(&three.out);
	buf_free(&bytes.out);

	/* with a size limit: the same run, output cut at max_size */
	fuzz_smtp_data_run(in, len, max_size, max_header, cut, 0, &split);
	fuzz_smtp_data_run(in, len, max_size, max_header, 0, 1, &bytes);
	fuzz_smtp_same(&split, &bytes);
	keep = whole.size < max_size ? (size_t)whole.size : (size_t)max_size;
	FUZZ_CHECK(split.status == whole.status &&
	    split.consumed == whole.consumed && split.size == whole.size);
	FUZZ_CHECK(split.out.len == keep &&
	    (keep == 0 || memcmp(split.out.p, whole.out.p, keep) == 0));
	FUZZ_CHECK(!!(split.errors & SMTP_DATA_ERR_TOO_BIG) ==
	    (whole.size > max_size));
	buf_free(&split.out);
	buf_free(&bytes.out);
	buf_free(&whole.out);
}

/* --- BDAT ------------------------------------------------------------ */

static void
fuzz_smtp_chunks_run(const char *in, size_t len, bool binary, size_t cut,
    size_t step, struct fuzz_smtp_res *r)
{
	struct smtp_data d;
	size_t pos = 0, n;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 1 << 24);
	smtp_data_init(&d, FUZZ_BIG, 64);
	while (pos < len) {
		n = pos < cut ? cut - pos : len - pos;
		if (step > 0 && n > step)
			n = step;
		FUZZ_CHECK(smtp_data_feed_chunk(&d, in + pos, n, binary,
		    fuzz_smtp_out, r) == 0);
		pos += n;
	}
	FUZZ_CHECK(smtp_data_finish_chunks(&d, fuzz_smtp_out, r) == 0);
	fuzz_smtp_res_done(r, &d);
}

static void
fuzz_smtp_chunks(const char *in, size_t len, bool binary, size_t cut)
{
	struct fuzz_smtp_res whole, split, bytes;

	fuzz_smtp_chunks_run(in, len, binary, 0, 0, &whole);
	FUZZ_CHECK(whole.out.len >= len && whole.out.len <= len + 2);
	FUZZ_CHECK(len == 0 || memcmp(whole.out.p, in, len) == 0);
	FUZZ_CHECK(whole.out.len == 0 ||
	    whole.out.p[whole.out.len - 1] == '\n');
	FUZZ_CHECK(whole.out.len == 0 || binary ||
	    (whole.errors & SMTP_DATA_ERR_BARE_LF) ||
	    whole.out.p[whole.out.len - 2] == '\r');
	fuzz_smtp_chunks_run(in, len, binary, cut, 0, &split);
	fuzz_smtp_same(&whole, &split);
	fuzz_smtp_chunks_run(in, len, binary, 0, 1, &bytes);
	fuzz_smtp_same(&whole, &bytes);
	buf_free(&whole.out);
	buf_free(&split.out);
	buf_free(&bytes.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 3;
	size_t len, cut, line_max;
	uint8_t flags;

	if (size < 3)
		return 0;
	flags = data[0];
	len = size - 3;
	cut = len == 0 ? 0 : ((size_t)data[1] << 8 | data[2]) % (len + 1);
	line_max = flags & 0x01 ? 16 : 512;
	fuzz_smtp_lines(in, len, line_max, flags & 0x02);
	fuzz_smtp_data(in, len, cut, (flags >> 2) & 0x3f, flags & 0x80 ?
	    8 : 1 << 20);
	fuzz_smtp_chunks(in, len, flags & 0x02, cut);
	return 0;
}
