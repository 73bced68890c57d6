/* imap_search.c: does a message match a SEARCH program (RFC 9051
 * §6.4.4, RFC 5032 OLDER/YOUNGER, RFC 5182 "$", RFC 7162 MODSEQ)?
 *
 * Keys that need only the view's record are tried first in every AND,
 * then header keys, then BODY and TEXT, so a message is read only when
 * the cheaper ones all hold.  Header keys read the top header block the
 * index caches (imap_msg_top_header: a message not cached yet gets its
 * cache computed and stored, so the next SEARCH reads no file; one
 * whose header is too large to cache is scanned).  BODY and TEXT walk
 * the MIME tree and stream each text part through its transfer
 * decoding, its charset (to UTF-8) and case folding into a window that
 * keeps only the needle's length of the text before it: memory stays
 * bounded however large the message. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_msg_int.h"
#include "mime/mime_2047.h"
#include "mime/mime_decode.h"
#include "mime/mime_header.h"

/* Bytes of the body read at a time. */
#define IMAP_SEARCH_CHUNK	(64 * 1024)
/* Charset conversion can grow text (ISO-8859-1 doubles, U+FFFD for a
 * bad byte is 3 bytes) and case folding a little more. */
#define IMAP_SEARCH_GROW	4

static int
imap_search_fail(const char **err_r, const char *err, int r)
{
	if (err_r != NULL)
		*err_r = err;
	return r;
}

/* --- case folding ------------------------------------------------------- */

/* Simple case folding of the scripts mail is mostly written in: Latin
 * (Latin-1, Extended-A, most of Extended-B and Extended Additional),
 * Greek, Cyrillic, Armenian, fullwidth Latin: ranges, in order, each
 * adding arg, mapping to arg, or folding its even (odd) code points to
 * the next one. */
enum { IMAP_FOLD_ADD, IMAP_FOLD_MAP, IMAP_FOLD_EVEN, IMAP_FOLD_ODD };

static const struct {
	uint32_t	lo, hi;
	uint32_t	kind;
	uint32_t	arg;
} imap_search_folds[] = {
	{ 0x00b5, 0x00b5, IMAP_FOLD_MAP, 0x3bc },	/* micro sign */
	{ 0x00c0, 0x00d6, IMAP_FOLD_ADD, 32 },
	{ 0x00d8, 0x00de, IMAP_FOLD_ADD, 32 },
	{ 0x0100, 0x012f, IMAP_FOLD_EVEN, 0 },
	{ 0x0130, 0x0130, IMAP_FOLD_MAP, 'i' },
	{ 0x0132, 0x0137, IMAP_FOLD_EVEN, 0 },
	{ 0x0139, 0x0148, IMAP_FOLD_ODD, 0 },
	{ 0x014a, 0x0177, IMAP_FOLD_EVEN, 0 },
	{ 0x0178, 0x0178, IMAP_FOLD_MAP, 0xff },
	{ 0x0179, 0x017e, IMAP_FOLD_ODD, 0 },
	{ 0x017f, 0x017f, IMAP_FOLD_MAP, 's' },		/* long s */
	{ 0x01c4, 0x01c5, IMAP_FOLD_MAP, 0x1c6 },
	{ 0x01c7, 0x01c8, IMAP_FOLD_MAP, 0x1c9 },
	{ 0x01ca, 0x01cb, IMAP_FOLD_MAP, 0x1cc },
	{ 0x01cd, 0x01dc, IMAP_FOLD_ODD, 0 },
	{ 0x01de, 0x01ef, IMAP_FOLD_EVEN, 0 },
	{ 0x01f1, 0x01f2, IMAP_FOLD_MAP, 0x1f3 },
	{ 0x01f8, 0x021f, IMAP_FOLD_EVEN, 0 },
	{ 0x0222, 0x0233, IMAP_FOLD_EVEN, 0 },
	{ 0x0246, 0x024f, IMAP_FOLD_EVEN, 0 },
	{ 0x0386, 0x0386, IMAP_FOLD_MAP, 0x3ac },
	{ 0x0388, 0x038a, IMAP_FOLD_ADD, 37 },
	{ 0x038c, 0x038c, IMAP_FOLD_MAP, 0x3cc },
	{ 0x038e, 0x038f, IMAP_FOLD_ADD, 63 },
	{ 0x0391, 0x03a1, IMAP_FOLD_ADD, 32 },
	{ 0x03a3, 0x03ab, IMAP_FOLD_ADD, 32 },
	{ 0x03c2, 0x03c2, IMAP_FOLD_MAP, 0x3c3 },	/* final sigma */
	{ 0x03d8, 0x03ef, IMAP_FOLD_EVEN, 0 },
	{ 0x0400, 0x040f, IMAP_FOLD_ADD, 80 },
	{ 0x0410, 0x042f, IMAP_FOLD_ADD, 32 },
	{ 0x0460, 0x0481, IMAP_FOLD_EVEN, 0 },
	{ 0x048a, 0x04bf, IMAP_FOLD_EVEN, 0 },
	{ 0x04c0, 0x04c0, IMAP_FOLD_MAP, 0x4cf },
	{ 0x04c1, 0x04ce, IMAP_FOLD_ODD, 0 },
	{ 0x04d0, 0x052f, IMAP_FOLD_EVEN, 0 },
	{ 0x0531, 0x0556, IMAP_FOLD_ADD, 48 },		/* Armenian */
	{ 0x1e00, 0x1e95, IMAP_FOLD_EVEN, 0 },
	{ 0x1e9e, 0x1e9e, IMAP_FOLD_MAP, 0xdf },	/* capital sharp s */
	{ 0x1ea0, 0x1eff, IMAP_FOLD_EVEN, 0 },
	{ 0x212a, 0x212a, IMAP_FOLD_MAP, 'k' },		/* Kelvin sign */
	{ 0x212b, 0x212b, IMAP_FOLD_MAP, 0xe5 },	/* Angstrom sign */
	{ 0xff21, 0xff3a, IMAP_FOLD_ADD, 32 },		/* fullwidth */
};

static uint32_t
imap_search_fold_cp(uint32_t c)
{
	size_t lo = 0, hi = sizeof(imap_search_folds) /
	    sizeof(imap_search_folds[0]), mid;

	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c < imap_search_folds[mid].lo)
			hi = mid;
		else if (c > imap_search_folds[mid].hi)
			lo = mid + 1;
		else
			break;
	}
	if (lo >= hi)
		return c;
	switch (imap_search_folds[mid].kind) {
	case IMAP_FOLD_ADD:
		return c + imap_search_folds[mid].arg;
	case IMAP_FOLD_MAP:
		return imap_search_folds[mid].arg;
	case IMAP_FOLD_EVEN:
		return c % 2 == 0 ? c + 1 : c;
	default:
		return c % 2 == 1 ? c + 1 : c;
	}
}

/* Length of a UTF-8 sequence by its first byte; 0 when it cannot
 * start one. */
static size_t
imap_search_u8len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Are s[1..n) continuation bytes? */
static bool
imap_search_u8cont(const unsigned char *s, size_t n)
{
	for (size_t k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return false;
	return true;
}

static int
imap_search_u8put(struct buf *out, uint32_t c)
{
	unsigned char e[4];

	if (c < 0x80) {
		e[0] = (unsigned char)c;
		return buf_append(out, e, 1);
	}
	if (c < 0x800) {
		e[0] = (unsigned char)(0xc0 | c >> 6);
		e[1] = (unsigned char)(0x80 | (c & 0x3f));
		return buf_append(out, e, 2);
	}
	if (c < 0x10000) {
		e[0] = (unsigned char)(0xe0 | c >> 12);
		e[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		e[2] = (unsigned char)(0x80 | (c & 0x3f));
		return buf_append(out, e, 3);
	}
	e[0] = (unsigned char)(0xf0 | c >> 18);
	e[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
	e[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
	e[3] = (unsigned char)(0x80 | (c & 0x3f));
	return buf_append(out, e, 4);
}

/* Fold the sequence s[0..n) (n from imap_search_u8len, continuation
 * bytes checked). */
static int
imap_search_fold_seq(struct buf *out, const unsigned char *s, size_t n)
{
	uint32_t c = n == 1 ? s[0] : s[0] & (0xff >> (n + 1));

	for (size_t k = 1; k < n; k++)
		c = c << 6 | (s[k] & 0x3f);
	return imap_search_u8put(out, imap_search_fold_cp(c));
}

/* The carried start of a sequence, completed from s[*ip...]: folded
 * when whole, copied as it is when broken, kept when s ran out. */
static int
imap_search_fold_carry(struct buf *out, const unsigned char *s, size_t len,
    size_t *ip, char *carry, size_t *ncarry)
{
	size_t n = imap_search_u8len((unsigned char)carry[0]);
	int r;

	while (*ncarry < n && *ip < len && (s[*ip] & 0xc0) == 0x80)
		carry[(*ncarry)++] = (char)s[(*ip)++];
	if (*ncarry < n && *ip == len)
		return 0;
	if (*ncarry < n)
		r = buf_append(out, carry, *ncarry);
	else
		r = imap_search_fold_seq(out, (unsigned char *)carry, n);
	*ncarry = 0;
	return r;
}

int
imap_msg_fold(struct buf *out, const char *in, size_t len, char *carry,
    size_t *ncarry)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, n, start;
	int r = 0;

	if (carry != NULL && *ncarry > 0)
		r |= imap_search_fold_carry(out, s, len, &i, carry, ncarry);
	while (i < len && r == 0) {
		/* ASCII runs: no upper case letter, copy at once */
		for (start = i; i < len && s[i] < 0x80 &&
		    !(s[i] >= 'A' && s[i] <= 'Z'); i++)
			;
		r |= buf_append(out, s + start, i - start);
		if (i == len)
			break;
		n = imap_search_u8len(s[i]);
		if (n > 0 && i + n > len && carry != NULL &&
		    imap_search_u8cont(s + i, len - i)) {
			memcpy(carry, s + i, len - i);
			*ncarry = len - i;
			break;
		}
		if (n == 0 || i + n > len || !imap_search_u8cont(s + i, n)) {
			r |= buf_append(out, s + i++, 1);
			continue;
		}
		r |= imap_search_fold_seq(out, s + i, n);
		i += n;
	}
	return r == 0 ? 0 : -1;
}

/* --- the streaming matcher ---------------------------------------------- */

struct imap_search_stream {
	struct str	 needle;	/* folded */
	struct buf	 win;
	char		 carry[4];
	size_t		 ncarry;
	bool		 found;
};

static void
imap_search_stream_init(struct imap_search_stream *st, struct str needle)
{
	memset(st, 0, sizeof(*st));
	st->needle = needle;
	buf_init(&st->win, IMAP_SEARCH_GROW * IMAP_SEARCH_CHUNK +
	    needle.len + 16);
	st->found = needle.len == 0;
}

static void
imap_search_stream_reset(struct imap_search_stream *st)
{
	buf_reset(&st->win);
	st->ncarry = 0;
}

static void
imap_search_stream_free(struct imap_search_stream *st)
{
	buf_free(&st->win);
}

/* Feed UTF-8 text; -1 only on a broken cap. */
static int
imap_search_stream_feed(struct imap_search_stream *st, const char *p,
    size_t len)
{
	size_t n, keep;

	while (len > 0 && !st->found) {
		n = len < IMAP_SEARCH_CHUNK ? len : IMAP_SEARCH_CHUNK;
		if (imap_msg_fold(&st->win, p, n, st->carry, &st->ncarry) == -1)
			return -1;
		p += n;
		len -= n;
		if (st->win.len >= st->needle.len && memmem(st->win.p,
		    st->win.len, st->needle.p, st->needle.len) != NULL) {
			st->found = true;
			break;
		}
		keep = st->needle.len - 1;
		if (st->win.len > keep) {
			memmove(st->win.p, st->win.p + st->win.len - keep,
			    keep);
			st->win.len = keep;
		}
	}
	return 0;
}

/* --- headers ------------------------------------------------------------ */

/* A field's value unfolded and with its encoded words decoded (its
 * first IMAP_MSG_VALUE_MAX bytes). */
static struct str
imap_search_value(struct buf *tmp, struct buf *dec, struct str raw)
{
	if (raw.len > IMAP_MSG_VALUE_MAX)
		raw.len = IMAP_MSG_VALUE_MAX;
	buf_reset(tmp);
	buf_reset(dec);
	(void)mime_header_unfold(tmp, raw);
	(void)mime_2047_decode(dec, str_make(tmp->p != NULL ? tmp->p : "",
	    tmp->len));
	return str_make(dec->p != NULL ? dec->p : "", dec->len);
}

/* Fields named name of a header block: their decoded values, or every
 * field as "Name: value" when name.p is NULL (TEXT). */
static int
imap_search_header_block(struct imap_search_stream *st, struct str block,
    struct str name)
{
	struct mime_header_field f;
	struct buf tmp, dec;
	struct str v;
	size_t i = 0;
	int r = 0;

	/* decoding can triple a byte (a bad one becomes U+FFFD) */
	buf_init(&tmp, IMAP_MSG_VALUE_MAX + 16);
	buf_init(&dec, 4 * IMAP_MSG_VALUE_MAX);
	while (r == 0 && !st->found && mime_header_next(block, &i, &f) == 1) {
		if (f.name.len == 0 || (name.p != NULL &&
		    !str_eq_ci(f.name, name)))
			continue;
		if (name.p != NULL && st->needle.len == 0) {
			st->found = true;	/* the field exists */
			break;
		}
		v = imap_search_value(&tmp, &dec, f.value);
		imap_search_stream_reset(st);
		if (name.p == NULL) {
			r |= imap_search_stream_feed(st, f.name.p, f.name.len);
			r |= imap_search_stream_feed(st, ": ", 2);
		}
		r |= imap_search_stream_feed(st, v.p, v.len);
	}
	buf_free(&tmp);
	buf_free(&dec);
	return r;
}

/* --- bodies ------------------------------------------------------------- */

static bool
imap_search_is_text(const struct mime_part *part)
{
	struct str type, sub;

	if (part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
		return false;
	mime_parse_type(part, &type, &sub);
	return str_eq_ci_cstr(type, "text");
}

/* One text part, decoded and converted, into the matcher. */
static int
imap_search_body_part(struct imap_search_stream *st, const struct imap_msg *md,
    const struct mime_part *part)
{
	struct mime_decode d;
	struct mime_2047_conv *conv;
	struct buf dec, txt;
	enum mime_cte cte = mime_decode_cte(part->encoding);
	uint64_t off = part->body_off, end = part->end_off;
	int r = 0;

	if (end > md->len)
		end = md->len;
	if (cte == MIME_CTE_UNKNOWN)
		cte = MIME_CTE_8BIT;
	mime_decode_init(&d, cte);
	conv = mime_2047_conv_new(mime_parse_param(part, "charset"));
	buf_init(&dec, IMAP_SEARCH_CHUNK + MIME_DECODE_WS_MAX + 16);
	buf_init(&txt, IMAP_SEARCH_GROW * (IMAP_SEARCH_CHUNK +
	    MIME_DECODE_WS_MAX + 16));
	imap_search_stream_reset(st);
	while (r == 0 && !st->found) {
		size_t n = end - off < IMAP_SEARCH_CHUNK ? (size_t)(end - off) :
		    IMAP_SEARCH_CHUNK;

		buf_reset(&dec);
		buf_reset(&txt);
		if (n > 0)
			r |= mime_decode_feed(&d, &dec, md->data + off, n);
		off += n;
		if (off >= end)
			r |= mime_decode_finish(&d, &dec);
		if (dec.len > 0)
			r |= mime_2047_conv_feed(conv, &txt, dec.p, dec.len);
		if (off >= end)
			r |= mime_2047_conv_finish(conv, &txt);
		r |= imap_search_stream_feed(st, txt.p, txt.len);
		if (off >= end)
			break;
	}
	mime_2047_conv_free(&conv);
	buf_free(&dec);
	buf_free(&txt);
	return r;
}

/* Every text part, and the header of every message inside, in
 * pre-order, without recursion. */
static int
imap_search_body(struct imap_search_stream *st, const struct imap_msg *md)
{
	const struct mime_part *root = md->mime->root, *p = root;
	int r = 0;

	while (p != NULL && r == 0 && !st->found) {
		if (p != root && p->parent != NULL &&
		    (p->parent->flags & MIME_PART_MESSAGE))
			r |= imap_search_header_block(st,
			    imap_msg_slice(md, p->hdr_off, p->body_off),
			    (struct str){ NULL, 0 });
		else if (imap_search_is_text(p))
			r |= imap_search_body_part(st, md, p);
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != NULL && p != root && p->next == NULL)
			p = p->parent;
		p = p == NULL || p == root ? NULL : p->next;
	}
	return r;
}

/* --- text keys ---------------------------------------------------------- */

enum imap_search_where { IMAP_SW_FIELD, IMAP_SW_BODY, IMAP_SW_TEXT };

static int
imap_search_text(struct imap_msg *md, enum imap_search_where where,
    struct str field, struct str needle, const char **err_r)
{
	struct imap_search_stream st;
	struct buf folded;
	struct str hdr;
	int r;

	/* a header key reads the cached header block, not the file */
	if (where == IMAP_SW_FIELD)
		r = imap_msg_top_header(md, &hdr, err_r);
	else if ((r = imap_msg_parse(md, err_r)) == 0)
		hdr = imap_msg_header(md);
	if (r != 0)
		return r;
	buf_init(&folded, 2 * needle.len + 16);
	if (imap_msg_fold(&folded, needle.p, needle.len, NULL, NULL) == -1) {
		buf_free(&folded);
		return MSTORE_ERROR;
	}
	imap_search_stream_init(&st, str_make(folded.p != NULL ? folded.p :
	    "", folded.len));
	if (where == IMAP_SW_FIELD) {
		/* an empty string still needs the field */
		st.found = false;
		r = imap_search_header_block(&st, hdr, field);
	} else {
		r = 0;
		if (where == IMAP_SW_TEXT)
			r = imap_search_header_block(&st, hdr,
			    (struct str){ NULL, 0 });
		if (r == 0 && !st.found)
			r = imap_search_body(&st, md);
	}
	imap_search_stream_free(&st);
	buf_free(&folded);
	if (r != 0)
		return imap_search_fail(err_r, "search failed", MSTORE_ERROR);
	return st.found ? 1 : 0;
}

/* --- other keys --------------------------------------------------------- */

static bool
imap_search_saved(const struct imap_search_ctx *ctx, uint32_t uid)
{
	size_t lo = 0, hi = ctx->nsaved, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ctx->saved[mid] == uid)
			return true;
		if (ctx->saved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool
imap_search_in_set(const struct imap_search_ctx *ctx,
    const struct imap_seqset *set, uint32_t n, uint32_t star, uint32_t uid)
{
	uint32_t lo, hi, t;

	if (set->last)
		return imap_search_saved(ctx, uid);
	for (size_t i = 0; i < set->n; i++) {
		lo = set->r[i].lo == IMAP_SEQ_STAR ? star : set->r[i].lo;
		hi = set->r[i].hi == IMAP_SEQ_STAR ? star : set->r[i].hi;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}

static bool
imap_search_keyword(const struct imap_search_ctx *ctx, uint32_t kw,
    struct str name)
{
	for (size_t i = 0; i < ctx->nkw && i < 32; i++)
		if (ctx->kwnames[i] != NULL &&
		    str_eq_ci(str_cstr(ctx->kwnames[i]), name))
			return (kw & (UINT32_C(1) << i)) != 0;
	return false;
}

static int
imap_search_date(enum imap_search_op op, const struct imap_date *have,
    const struct imap_date *want)
{
	int c = imap_msg_date_cmp(have, want);

	switch (op) {
	case IMAP_SK_BEFORE:
	case IMAP_SK_SENTBEFORE:
		return c < 0;
	case IMAP_SK_ON:
	case IMAP_SK_SENTON:
		return c == 0;
	default:
		return c >= 0;
	}
}

/* The Date: header's own date (its zone disregarded), else the
 * internal date. */
static int
imap_search_sent(struct imap_msg *md, struct imap_date *d_r,
    const char **err_r)
{
	struct buf tmp;
	struct str date;
	time_t t;
	int r;

	if ((r = imap_msg_cache(md, err_r)) != 0)
		return r;
	buf_init(&tmp, md->cache.envelope.len + 1);
	r = imap_msg_env_item(md->cache.envelope, 0, &tmp, &date);
	if (r == -1 || date.p == NULL ||
	    imap_msg_date_parse(date, &t, d_r) == -1)
		imap_msg_local_date(md->m->internaldate, d_r);
	buf_free(&tmp);
	return 0;
}

static int imap_search_eval(const struct imap_search_ctx *,
    const struct imap_search_key *, struct imap_msg *, const char **);

static int
imap_search_flag(const struct imap_search_key *key, const struct mstore_msg *m)
{
	switch (key->op) {
	case IMAP_SK_ANSWERED: return (m->flags & IMAP_FLAG_ANSWERED) != 0;
	case IMAP_SK_DELETED: return (m->flags & IMAP_FLAG_DELETED) != 0;
	case IMAP_SK_DRAFT: return (m->flags & IMAP_FLAG_DRAFT) != 0;
	case IMAP_SK_FLAGGED: return (m->flags & IMAP_FLAG_FLAGGED) != 0;
	case IMAP_SK_SEEN: return (m->flags & IMAP_FLAG_SEEN) != 0;
	case IMAP_SK_UNANSWERED: return !(m->flags & IMAP_FLAG_ANSWERED);
	case IMAP_SK_UNDELETED: return !(m->flags & IMAP_FLAG_DELETED);
	case IMAP_SK_UNDRAFT: return !(m->flags & IMAP_FLAG_DRAFT);
	case IMAP_SK_UNFLAGGED: return !(m->flags & IMAP_FLAG_FLAGGED);
	case IMAP_SK_UNSEEN: return !(m->flags & IMAP_FLAG_SEEN);
	case IMAP_SK_NEW: return m->recent && !(m->flags & IMAP_FLAG_SEEN);
	case IMAP_SK_OLD: return !m->recent;
	case IMAP_SK_RECENT: return m->recent;
	default: return 0;
	}
}

/* Keys that read nothing but the view's record. */
static int
imap_search_cheap_key(const struct imap_search_ctx *ctx,
    const struct imap_search_key *key, const struct imap_msg *md)
{
	const struct mstore_msg *m = md->m;
	struct imap_date d;

	switch (key->op) {
	case IMAP_SK_ALL:
		return 1;
	case IMAP_SK_SEQSET:
		return imap_search_in_set(ctx, &key->u.set, md->seq,
		    ctx->count, m->uid);
	case IMAP_SK_UID:
		return imap_search_in_set(ctx, &key->u.set, m->uid,
		    ctx->uidmax, m->uid);
	case IMAP_SK_KEYWORD:
		return imap_search_keyword(ctx, m->kw, key->u.str);
	case IMAP_SK_UNKEYWORD:
		return !imap_search_keyword(ctx, m->kw, key->u.str);
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
		imap_msg_local_date(m->internaldate, &d);
		return imap_search_date(key->op, &d, &key->u.date);
	case IMAP_SK_LARGER:
		return m->size > key->u.num;
	case IMAP_SK_SMALLER:
		return m->size < key->u.num;
	case IMAP_SK_OLDER:
		return ctx->now - m->internaldate > (time_t)key->u.num;
	case IMAP_SK_YOUNGER:
		return ctx->now - m->internaldate <= (time_t)key->u.num;
	case IMAP_SK_MODSEQ:
		return m->modseq >= key->u.modseq.value;
	default:
		return imap_search_flag(key, m);
	}
}

/* What a key costs: the view's record only, the index's cache (header
 * keys, SENT*), or the file (BODY, TEXT). */
enum imap_search_cost {
	IMAP_SC_RECORD, IMAP_SC_CACHE, IMAP_SC_FILE, IMAP_SC_N
};

static enum imap_search_cost
imap_search_op_cost(enum imap_search_op op)
{
	switch (op) {
	case IMAP_SK_BODY: case IMAP_SK_TEXT:
		return IMAP_SC_FILE;
	case IMAP_SK_BCC: case IMAP_SK_CC:
	case IMAP_SK_FROM: case IMAP_SK_SUBJECT:
	case IMAP_SK_TO: case IMAP_SK_HEADER: case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE:
		return IMAP_SC_CACHE;
	default:
		return IMAP_SC_RECORD;
	}
}

static bool
imap_search_cheap_op(enum imap_search_op op)
{
	return imap_search_op_cost(op) == IMAP_SC_RECORD;
}

/* The dearest key of a program. */
static enum imap_search_cost
imap_search_cost(const struct imap_search_key *key)
{
	const struct imap_search_key *k;
	enum imap_search_cost c = IMAP_SC_RECORD, kc;

	/* NOT and OR nest at most IMAP_SEARCH_DEPTH_MAX deep */
	switch (key->op) {
	case IMAP_SK_AND:
		for (k = key->u.sub; k != NULL && c < IMAP_SC_FILE;
		    k = k->next)
			if ((kc = imap_search_cost(k)) > c)
				c = kc;
		return c;
	case IMAP_SK_OR:
		c = imap_search_cost(key->u.or.a);
		kc = imap_search_cost(key->u.or.b);
		return kc > c ? kc : c;
	case IMAP_SK_NOT:
		return imap_search_cost(key->u.sub);
	default:
		return imap_search_op_cost(key->op);
	}
}

bool
imap_search_cheap(const struct imap_search_key *key)
{
	return imap_search_cost(key) == IMAP_SC_RECORD;
}

static int
imap_search_field(const struct imap_search_key *key, struct imap_msg *md,
    const char **err_r)
{
	static const char *const names[IMAP_SK_COUNT_] = {
		[IMAP_SK_BCC] = "Bcc", [IMAP_SK_CC] = "Cc",
		[IMAP_SK_FROM] = "From", [IMAP_SK_SUBJECT] = "Subject",
		[IMAP_SK_TO] = "To",
	};

	if (key->op == IMAP_SK_HEADER)
		return imap_search_text(md, IMAP_SW_FIELD, key->u.header.name,
		    key->u.header.value, err_r);
	return imap_search_text(md, IMAP_SW_FIELD, str_cstr(names[key->op]),
	    key->u.str, err_r);
}

static int
imap_search_expensive(const struct imap_search_ctx *ctx,
    const struct imap_search_key *key, struct imap_msg *md,
    const char **err_r)
{
	struct imap_date d;
	int r;

	switch (key->op) {
	case IMAP_SK_AND:
		return imap_search_eval(ctx, key, md, err_r);
	case IMAP_SK_OR:
		if ((r = imap_search_eval(ctx, key->u.or.a, md, err_r)) != 0)
			return r;
		return imap_search_eval(ctx, key->u.or.b, md, err_r);
	case IMAP_SK_NOT:
		r = imap_search_eval(ctx, key->u.sub, md, err_r);
		return r < 0 ? r : !r;
	case IMAP_SK_BODY:
		return imap_search_text(md, IMAP_SW_BODY, (struct str){ NULL,
		    0 }, key->u.str, err_r);
	case IMAP_SK_TEXT:
		return imap_search_text(md, IMAP_SW_TEXT, (struct str){ NULL,
		    0 }, key->u.str, err_r);
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		if ((r = imap_search_sent(md, &d, err_r)) != 0)
			return r;
		return imap_search_date(key->op, &d, &key->u.date);
	default:
		return imap_search_field(key, md, err_r);
	}
}

static int
imap_search_one(const struct imap_search_ctx *ctx,
    const struct imap_search_key *key, struct imap_msg *md,
    const char **err_r)
{
	if (key->op != IMAP_SK_AND && key->op != IMAP_SK_OR &&
	    key->op != IMAP_SK_NOT && imap_search_cheap_op(key->op))
		return imap_search_cheap_key(ctx, key, md);
	return imap_search_expensive(ctx, key, md, err_r);
}

/* An AND: keys on the view's record first, then those on the cache,
 * then those that read the file. */
static int
imap_search_eval(const struct imap_search_ctx *ctx,
    const struct imap_search_key *key, struct imap_msg *md,
    const char **err_r)
{
	const struct imap_search_key *k;
	int r, pass;

	if (key->op != IMAP_SK_AND)
		return imap_search_one(ctx, key, md, err_r);
	for (pass = 0; pass < IMAP_SC_N; pass++) {
		for (k = key->u.sub; k != NULL; k = k->next) {
			if (imap_search_cost(k) != (enum imap_search_cost)pass)
				continue;
			if ((r = imap_search_one(ctx, k, md, err_r)) <= 0)
				return r;
		}
	}
	return 1;
}

int
imap_search_match(const struct imap_search_ctx *ctx,
    const struct imap_search_key *key, struct imap_msg *md,
    const char **err_r)
{
	if (md->m == NULL)
		return imap_search_fail(err_r, "no such message", MSTORE_ERROR);
	return imap_search_eval(ctx, key, md, err_r);
}
