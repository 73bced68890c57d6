/* mime_2047.c: encoded words, RFC 2231 values, charsets to UTF-8. */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mime/mime_2047.h"
#include "mime/mime_decode.h"

#define MIME_2047_CHARSET_MAX	64
#define MIME_2047_CARRY		16	/* longest incomplete sequence kept */
#define MIME_2047_U_FFFD	"\xef\xbf\xbd"

enum mime_2047_mode {
	MIME_2047_UTF8,		/* declared UTF-8: validate */
	MIME_2047_RAW,		/* unknown: UTF-8 if valid, else Latin-1 */
	MIME_2047_ICONV,
};

struct mime_2047_conv {
	enum mime_2047_mode	 mode;
	iconv_t			 cd;
	size_t			 ncarry;
	char			 carry[MIME_2047_CARRY];
};

/* --- charsets --------------------------------------------------------- */

/* "utf-8*en" (RFC 2231 §5 language) less the language, NUL-ended. */
static bool
mime_2047_charset_name(struct str cs, char *name, size_t size)
{
	const char *star = cs.p != NULL ? memchr(cs.p, '*', cs.len) : NULL;
	size_t n = star != NULL ? (size_t)(star - cs.p) : cs.len;

	if (cs.p == NULL || n == 0 || n >= size || memchr(cs.p, '\0', n))
		return false;
	memcpy(name, cs.p, n);
	name[n] = '\0';
	return true;
}

struct mime_2047_conv *
mime_2047_conv_new(struct str charset)
{
	struct mime_2047_conv *c = xcalloc(1, sizeof(*c));
	char name[MIME_2047_CHARSET_MAX];

	c->mode = MIME_2047_RAW;
	if (!mime_2047_charset_name(charset, name, sizeof(name)))
		return c;
	if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0) {
		c->mode = MIME_2047_UTF8;
		return c;
	}
	if (strcasecmp(name, "us-ascii") == 0 || strcasecmp(name, "ascii") == 0)
		return c;		/* 8-bit in "ascii": read it anyway */
	c->cd = iconv_open("UTF-8", name);
	if (c->cd != (iconv_t)-1)
		c->mode = MIME_2047_ICONV;
	return c;
}

bool
mime_2047_conv_known(const struct mime_2047_conv *c)
{
	return c->mode != MIME_2047_RAW;
}

void
mime_2047_conv_free(struct mime_2047_conv **cp)
{
	if (*cp == NULL)
		return;
	if ((*cp)->mode == MIME_2047_ICONV)
		iconv_close((*cp)->cd);
	free(*cp);
	*cp = NULL;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid, -1
 * when it may be valid but is cut short. */
static int
mime_2047_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	int len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	for (i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;		/* overlong, surrogate, past U+10FFFF */
	return len;
}

static int
mime_2047_latin1(struct buf *out, unsigned char c)
{
	char u[2] = { (char)(0xc0 | c >> 6), (char)(0x80 | (c & 0x3f)) };

	return buf_append(out, u, 2);
}

/* Valid UTF-8 as is; an invalid byte as U+FFFD or Latin-1.  An
 * incomplete sequence at the end is left (its length returned) unless
 * last. */
static size_t
mime_2047_utf8(struct mime_2047_conv *c, struct buf *out,
    const unsigned char *p, size_t n, bool last, int *r)
{
	size_t i = 0, start = 0;
	int len;

	while (i < n) {
		len = mime_2047_utf8_len(p + i, n - i);
		if (len > 0) {
			i += (size_t)len;
			continue;
		}
		if (len < 0 && !last)
			break;
		*r |= buf_append(out, p + start, i - start);
		if (c->mode == MIME_2047_UTF8)
			*r |= buf_append(out, MIME_2047_U_FFFD, 3);
		else
			*r |= mime_2047_latin1(out, p[i]);
		start = ++i;
	}
	*r |= buf_append(out, p + start, i - start);
	return n - i;
}

/* iconv what it can; EILSEQ: U+FFFD and skip a byte. */
static size_t
mime_2047_iconv(struct mime_2047_conv *c, struct buf *out, const char *p,
    size_t n, bool last, int *r)
{
	char tmp[1024], *in = (char *)p, *o;
	size_t inleft = n, oleft;

	while (inleft > 0) {
		o = tmp;
		oleft = sizeof(tmp);
		if (iconv(c->cd, &in, &inleft, &o, &oleft) != (size_t)-1 ||
		    errno == E2BIG) {
			*r |= buf_append(out, tmp, sizeof(tmp) - oleft);
			continue;
		}
		*r |= buf_append(out, tmp, sizeof(tmp) - oleft);
		if (errno == EINVAL && !last && inleft < MIME_2047_CARRY)
			return inleft;
		*r |= buf_append(out, MIME_2047_U_FFFD, 3);
		in++;
		inleft--;
	}
	return 0;
}

static size_t
mime_2047_run(struct mime_2047_conv *c, struct buf *out, const char *p,
    size_t n, bool last, int *r)
{
	if (c->mode == MIME_2047_ICONV)
		return mime_2047_iconv(c, out, p, n, last, r);
	return mime_2047_utf8(c, out, (const unsigned char *)p, n, last, r);
}

/* Join a carried incomplete sequence with the first bytes of p; the
 * bytes of p used. */
static size_t
mime_2047_carry(struct mime_2047_conv *c, struct buf *out, const char *p,
    size_t n, int *r)
{
	char tmp[2 * MIME_2047_CARRY];
	size_t k = sizeof(c->carry) - c->ncarry, left, done;

	k = k < n ? k : n;
	memcpy(tmp, c->carry, c->ncarry);
	memcpy(tmp + c->ncarry, p, k);
	left = mime_2047_run(c, out, tmp, c->ncarry + k, false, r);
	done = c->ncarry + k - left;
	if (done >= c->ncarry) {
		done -= c->ncarry;
		c->ncarry = 0;
		return done;
	}
	memmove(c->carry, tmp + done, left);
	c->ncarry = left;
	return k;
}

int
mime_2047_conv_feed(struct mime_2047_conv *c, struct buf *out,
    const void *in, size_t len)
{
	const char *p = in;
	size_t used, left;
	int r = 0;

	while (c->ncarry > 0 && len > 0) {
		used = mime_2047_carry(c, out, p, len, &r);
		p += used;
		len -= used;
	}
	if (len > 0) {
		left = mime_2047_run(c, out, p, len, false, &r);
		memcpy(c->carry, p + len - left, left);
		c->ncarry = left;
	}
	return r == 0 ? 0 : -1;
}

int
mime_2047_conv_finish(struct mime_2047_conv *c, struct buf *out)
{
	int r = 0;

	if (c->ncarry > 0)
		(void)mime_2047_run(c, out, c->carry, c->ncarry, true, &r);
	c->ncarry = 0;
	if (c->mode == MIME_2047_ICONV)
		iconv(c->cd, NULL, NULL, NULL, NULL);
	return r == 0 ? 0 : -1;
}

int
mime_2047_to_utf8(struct buf *out, struct str charset, const void *in,
    size_t len)
{
	struct mime_2047_conv *c = mime_2047_conv_new(charset);
	int r = 0;

	r |= mime_2047_conv_feed(c, out, in, len);
	r |= mime_2047_conv_finish(c, out);
	mime_2047_conv_free(&c);
	return r;
}

/* --- encoded words ---------------------------------------------------- */

struct mime_2047_word {
	struct str	 charset;
	char		 enc;		/* 'B' or 'Q' */
	struct str	 text;
	size_t		 end;		/* just past "?=" */
};

/* "=?charset?B|Q?text?=" at s[i]. */
static bool
mime_2047_word(struct str s, size_t i, struct mime_2047_word *w)
{
	const char *q1, *q3;
	size_t j;

	if (i + 8 > s.len || s.p[i] != '=' || s.p[i + 1] != '?')
		return false;
	q1 = memchr(s.p + i + 2, '?', s.len - i - 2);
	if (q1 == NULL || q1 == s.p + i + 2 || q1 + 3 >= s.p + s.len ||
	    q1[2] != '?' || strchr("BbQq", q1[1]) == NULL || q1[1] == '\0')
		return false;
	w->charset = str_make(s.p + i + 2, (size_t)(q1 - s.p) - i - 2);
	w->enc = (char)(q1[1] & ~0x20);
	j = (size_t)(q1 - s.p) + 3;
	q3 = memchr(s.p + j, '?', s.len - j);
	if (q3 == NULL || q3 + 1 >= s.p + s.len || q3[1] != '=')
		return false;
	w->text = str_make(s.p + j, (size_t)(q3 - s.p) - j);
	w->end = (size_t)(q3 - s.p) + 2;
	return memchr(w->charset.p, ' ', w->charset.len) == NULL &&
	    memchr(w->text.p, '\n', w->text.len) == NULL;
}

static int
mime_2047_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "=XX" at t[i]: the byte, or -1. */
static int
mime_2047_pct(struct str t, size_t i)
{
	int h, l;

	if (i + 2 >= t.len || (h = mime_2047_hex(t.p[i + 1])) < 0 ||
	    (l = mime_2047_hex(t.p[i + 2])) < 0)
		return -1;
	return h << 4 | l;
}

/* Q (RFC 2047 §4.2): '_' is a space, "=XX" a byte. */
static int
mime_2047_q(struct buf *out, struct str t)
{
	size_t i;
	int r = 0, v;
	char c;

	for (i = 0; i < t.len; i++) {
		c = t.p[i] == '_' ? ' ' : t.p[i];
		if (c == '=' && (v = mime_2047_pct(t, i)) >= 0) {
			c = (char)v;
			i += 2;
		}
		r |= buf_append(out, &c, 1);
	}
	return r;
}

struct mime_2047_dec {
	struct buf	*out;
	struct buf	 raw;		/* bytes of the pending words */
	struct str	 charset;	/* their charset */
	int		 r;
};

static void
mime_2047_flush(struct mime_2047_dec *d)
{
	if (d->raw.len > 0)
		d->r |= mime_2047_to_utf8(d->out, d->charset, d->raw.p,
		    d->raw.len);
	buf_reset(&d->raw);
}

static void
mime_2047_add(struct mime_2047_dec *d, const struct mime_2047_word *w)
{
	struct mime_decode b64;

	if (d->raw.len > 0 && !str_eq_ci(d->charset, w->charset))
		mime_2047_flush(d);
	d->charset = w->charset;
	if (w->enc == 'Q') {
		d->r |= mime_2047_q(&d->raw, w->text);
		return;
	}
	mime_decode_init(&b64, MIME_CTE_BASE64);
	d->r |= mime_decode_feed(&b64, &d->raw, w->text.p, w->text.len);
	d->r |= mime_decode_finish(&b64, &d->raw);
}

static void
mime_2047_plain(struct mime_2047_dec *d, const char *p, size_t n)
{
	mime_2047_flush(d);
	d->r |= mime_2047_to_utf8(d->out, (struct str){ NULL, 0 }, p, n);
}

static bool
mime_2047_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The end of the run at i: white space, or text up to white space or
 * a "=?". */
static size_t
mime_2047_run_end(struct str v, size_t i)
{
	bool ws = mime_2047_is_ws(v.p[i]);

	for (i++; i < v.len; i++) {
		if (mime_2047_is_ws(v.p[i]) != ws)
			break;
		if (!ws && v.p[i] == '=' && i + 1 < v.len && v.p[i + 1] == '?')
			break;
	}
	return i;
}

int
mime_2047_decode(struct buf *out, struct str v)
{
	struct mime_2047_dec d = { .out = out, .r = 0 };
	struct mime_2047_word w;
	bool after_word = false;
	size_t i = 0, k;

	buf_init(&d.raw, v.len + 16);
	while (i < v.len) {
		if (mime_2047_word(v, i, &w)) {
			mime_2047_add(&d, &w);
			i = w.end;
			after_word = true;
			continue;
		}
		k = mime_2047_run_end(v, i);
		if (!(after_word && mime_2047_is_ws(v.p[i]) &&
		    mime_2047_word(v, k, &w)))
			mime_2047_plain(&d, v.p + i, k - i);
		after_word = false;
		i = k;
	}
	mime_2047_flush(&d);
	buf_free(&d.raw);
	return d.r == 0 ? 0 : -1;
}

/* RFC 2231 §4: charset'language'%XX-encoded */
static int
mime_2047_2231(struct buf *out, struct str v)
{
	const char *q1 = memchr(v.p, '\'', v.len), *q2 = NULL;
	struct str cs = { NULL, 0 }, t = v;
	struct buf raw;
	size_t i;
	int r = 0, c;

	if (q1 != NULL)
		q2 = memchr(q1 + 1, '\'', v.len - (size_t)(q1 + 1 - v.p));
	if (q2 != NULL) {
		cs = str_make(v.p, (size_t)(q1 - v.p));
		t = str_make(q2 + 1, v.len - (size_t)(q2 + 1 - v.p));
	}
	buf_init(&raw, t.len + 1);
	for (i = 0; i < t.len; i++) {
		char b = t.p[i];

		if (b == '%' && (c = mime_2047_pct(t, i)) >= 0) {
			b = (char)c;
			i += 2;
		}
		r |= buf_append(&raw, &b, 1);
	}
	r |= mime_2047_to_utf8(out, cs, raw.p, raw.len);
	buf_free(&raw);
	return r == 0 ? 0 : -1;
}

int
mime_2047_param(struct buf *out, const struct mime_param *param)
{
	struct str n = param->name;

	if (n.len > 0 && n.p[n.len - 1] == '*')
		return mime_2047_2231(out, param->value);
	return mime_2047_decode(out, param->value);
}
