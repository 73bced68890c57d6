/* mta_qp.c: 8bit -> quoted-printable, streaming (see mta_qp.h).
 *
 * Input is cut into lines (a line longer than MTA_QP_LINE_MAX into
 * pieces, the later ones "mid-line": never a boundary, never a header
 * end).  Each line goes to the handler of the current state: HEADER
 * collects the entity's header block, BODY passes, encodes or walks a
 * multipart preamble/epilogue, RAW passes everything (gave up). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "mta/mta_qp.h"

#define MTA_QP_COLS	76	/* RFC 2045 §6.7 (5) */

enum mta_qp_state {
	MTA_QP_HEADER,
	MTA_QP_BODY,
	MTA_QP_RAW,
};

enum mta_qp_body {
	MTA_QP_PASS,		/* unchanged */
	MTA_QP_ENCODE,		/* 8bit -> quoted-printable */
	MTA_QP_MULTI,		/* preamble or epilogue: watch boundaries */
};

enum mta_qp_cte {
	MTA_QP_CTE_NONE,
	MTA_QP_CTE_7BIT,
	MTA_QP_CTE_8BIT,
	MTA_QP_CTE_BINARY,
	MTA_QP_CTE_OTHER,	/* base64, quoted-printable, x-... */
};

/* What the header block of an entity says. */
struct mta_qp_entity {
	enum mta_qp_cte	 cte;
	bool		 multipart;
	bool		 message;	/* message/rfc822 or message/global */
	bool		 has_boundary;
	char		 boundary[MTA_QP_BOUNDARY_MAX + 1];
	size_t		 boundary_len;
};

struct mta_qp {
	enum mta_qp_state state;
	enum mta_qp_body  body;
	char		  line[MTA_QP_LINE_MAX];
	size_t		  linelen;
	bool		  midline;	/* line[] continues a longer line */
	struct buf	  hdr;		/* the header block being collected */
	size_t		  col;		/* output column while encoding */
	char		 *bounds[MTA_QP_DEPTH];
	size_t		  boundlen[MTA_QP_DEPTH];
	size_t		  depth;
	const char	 *why;		/* gave up */
	unsigned	  converted;
	bool		  left_8bit;
};

struct mta_qp *
mta_qp_new(void)
{
	struct mta_qp *qp = xcalloc(1, sizeof(*qp));

	qp->state = MTA_QP_HEADER;
	buf_init(&qp->hdr, MTA_QP_HEADER_MAX);
	return qp;
}

void
mta_qp_free(struct mta_qp **qpp)
{
	struct mta_qp *qp;

	if (qpp == NULL || (qp = *qpp) == NULL)
		return;
	for (size_t i = 0; i < qp->depth; i++)
		free(qp->bounds[i]);
	buf_free(&qp->hdr);
	free(qp);
	*qpp = NULL;
}

const char *
mta_qp_gave_up(const struct mta_qp *qp)
{
	return qp->why;
}

unsigned
mta_qp_converted(const struct mta_qp *qp)
{
	return qp->converted;
}

bool
mta_qp_left_8bit(const struct mta_qp *qp)
{
	return qp->left_8bit;
}

/* Pass bytes through unchanged, noting 8bit ones. */
static int
mta_qp_pass(struct mta_qp *qp, const char *p, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len && !qp->left_8bit; i++)
		if ((unsigned char)p[i] >= 0x80)
			qp->left_8bit = true;
	return buf_append(out, p, len);
}

/* From now on everything passes unchanged. */
static int
mta_qp_give_up(struct mta_qp *qp, const char *why, struct buf *out)
{
	int rc;

	qp->why = why;
	qp->state = MTA_QP_RAW;
	rc = mta_qp_pass(qp, qp->hdr.p, qp->hdr.len, out);
	buf_reset(&qp->hdr);
	return rc;
}

/*
 * Quoted-printable.
 */

static int
mta_qp_put(struct mta_qp *qp, const char *tok, size_t n, struct buf *out)
{
	if (qp->col + n > MTA_QP_COLS - 1) {
		if (buf_append(out, "=\r\n", 3) == -1)
			return -1;
		qp->col = 0;
	}
	qp->col += n;
	return buf_append(out, tok, n);
}

/* Encode p[0..len); at_end: these bytes end the line (white space at
 * the very end must be encoded). */
static int
mta_qp_encode(struct mta_qp *qp, const char *p, size_t len, bool at_end,
    struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	char tok[3];

	for (size_t i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' ||
		    c == '\t') && !(at_end && i == len - 1))) {
			tok[0] = (char)c;
			if (mta_qp_put(qp, tok, 1, out) == -1)
				return -1;
			continue;
		}
		tok[0] = '=';
		tok[1] = hex[c >> 4];
		tok[2] = hex[c & 15];
		if (mta_qp_put(qp, tok, 3, out) == -1)
			return -1;
	}
	return 0;
}

/* A line of a body being encoded (without its end); eol: it had one. */
static int
mta_qp_encode_line(struct mta_qp *qp, const char *p, size_t len, bool eol,
    struct buf *out)
{
	if (mta_qp_encode(qp, p, len, true, out) == -1)
		return -1;
	if (!eol)
		return 0;
	qp->col = 0;
	return buf_append(out, "\r\n", 2);
}

/*
 * Headers.
 */

static bool
mta_qp_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip white space and (nested) comments. */
static size_t
mta_qp_skip_cfws(struct str s, size_t i)
{
	unsigned depth = 0;

	for (; i < s.len; i++) {
		if (depth > 0) {
			if (s.p[i] == '\\')
				i++;
			else if (s.p[i] == '(')
				depth++;
			else if (s.p[i] == ')')
				depth--;
			continue;
		}
		if (s.p[i] == '(')
			depth++;
		else if (!mta_qp_is_ws(s.p[i]))
			break;
	}
	return i;
}

static bool
mta_qp_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL || mta_qp_is_ws(c) ||
	    (unsigned char)c < 0x20;
}

/* A MIME token at s[*ip]. */
static struct str
mta_qp_token(struct str s, size_t *ip)
{
	size_t i = mta_qp_skip_cfws(s, *ip), start = i;

	while (i < s.len && !mta_qp_tspecial(s.p[i]))
		i++;
	*ip = i;
	return str_make(s.p + start, i - start);
}

/* A parameter value (token or quoted-string) into buf; its length or
 * -1 if it does not fit or is empty. */
static int
mta_qp_value(struct str s, size_t *ip, char *buf, size_t size)
{
	size_t i = mta_qp_skip_cfws(s, *ip), n = 0;

	if (i < s.len && s.p[i] == '"') {
		for (i++; i < s.len && s.p[i] != '"'; i++) {
			if (s.p[i] == '\\' && i + 1 < s.len)
				i++;
			if (s.p[i] == '\r' || s.p[i] == '\n')
				continue;	/* folding inside the quotes */
			if (n + 1 >= size)
				return -1;
			buf[n++] = s.p[i];
		}
		i++;
	} else {
		struct str t = mta_qp_token(s, &i);

		if (t.len + 1 > size)
			return -1;
		memcpy(buf, t.p, t.len);
		n = t.len;
	}
	*ip = i;
	buf[n] = '\0';
	return n > 0 ? (int)n : -1;
}

/* Content-Type: type "/" subtype *(";" attribute "=" value) */
static void
mta_qp_content_type(struct str v, struct mta_qp_entity *e)
{
	struct str type, sub, attr;
	char val[MTA_QP_BOUNDARY_MAX + 1];
	size_t i = 0;
	int n;

	type = mta_qp_token(v, &i);
	i = mta_qp_skip_cfws(v, i);
	if (i >= v.len || v.p[i] != '/')
		return;		/* unusable: text/plain by default */
	i++;
	sub = mta_qp_token(v, &i);
	e->multipart = str_eq_ci_cstr(type, "multipart");
	e->message = str_eq_ci_cstr(type, "message") &&
	    (str_eq_ci_cstr(sub, "rfc822") || str_eq_ci_cstr(sub, "global"));
	for (;;) {
		i = mta_qp_skip_cfws(v, i);
		if (i >= v.len || v.p[i] != ';')
			return;
		i++;
		attr = mta_qp_token(v, &i);
		i = mta_qp_skip_cfws(v, i);
		if (i >= v.len || v.p[i] != '=')
			return;
		i++;
		n = mta_qp_value(v, &i, val, sizeof(val));
		if (n > 0 && str_eq_ci_cstr(attr, "boundary") &&
		    !e->has_boundary) {
			memcpy(e->boundary, val, (size_t)n + 1);
			e->boundary_len = (size_t)n;
			e->has_boundary = true;
		}
	}
}

static enum mta_qp_cte
mta_qp_cte_parse(struct str v)
{
	size_t i = 0;
	struct str t = mta_qp_token(v, &i);

	if (str_eq_ci_cstr(t, "7bit"))
		return MTA_QP_CTE_7BIT;
	if (str_eq_ci_cstr(t, "8bit"))
		return MTA_QP_CTE_8BIT;
	if (str_eq_ci_cstr(t, "binary"))
		return MTA_QP_CTE_BINARY;
	return MTA_QP_CTE_OTHER;
}

/* The field starting at p (up to the start of the next field): its name
 * and its value (continuation lines included). */
static size_t
mta_qp_field(const char *p, size_t len, struct str *name_r, struct str *val_r)
{
	const char *colon, *nl;
	size_t end = 0;

	do {
		nl = memchr(p + end, '\n', len - end);
		end = nl == NULL ? len : (size_t)(nl - p) + 1;
	} while (end < len && (p[end] == ' ' || p[end] == '\t'));
	colon = memchr(p, ':', end);
	if (colon == NULL) {
		*name_r = str_make(p, 0);
		*val_r = str_make(p, 0);
		return end;
	}
	*name_r = str_make(p, (size_t)(colon - p));
	while (name_r->len > 0 && (name_r->p[name_r->len - 1] == ' ' ||
	    name_r->p[name_r->len - 1] == '\t'))
		name_r->len--;
	*val_r = str_make(colon + 1, end - (size_t)(colon + 1 - p));
	return end;
}

static void
mta_qp_entity_parse(const struct buf *h, struct mta_qp_entity *e)
{
	struct str name, val;
	size_t off = 0;
	bool seen_ct = false, seen_cte = false;

	memset(e, 0, sizeof(*e));
	while (off < h->len) {
		off += mta_qp_field(h->p + off, h->len - off, &name, &val);
		if (str_eq_ci_cstr(name, "Content-Type") && !seen_ct) {
			mta_qp_content_type(val, e);
			seen_ct = true;
		} else if (str_eq_ci_cstr(name, "Content-Transfer-Encoding") &&
		    !seen_cte) {
			e->cte = mta_qp_cte_parse(val);
			seen_cte = true;
		}
	}
}

/* Write the header block, every Content-Transfer-Encoding field
 * replaced by one saying cte (NULL: unchanged). */
static int
mta_qp_write_header(struct mta_qp *qp, const char *cte, struct buf *out)
{
	const struct buf *h = &qp->hdr;
	struct str name, val;
	size_t off = 0, n;
	int rc = 0;

	while (off < h->len && rc == 0) {
		n = mta_qp_field(h->p + off, h->len - off, &name, &val);
		if (cte != NULL &&
		    str_eq_ci_cstr(name, "Content-Transfer-Encoding"))
			rc = buf_printf(out, "Content-Transfer-Encoding: %s\r\n",
			    cte);
		else
			rc = mta_qp_pass(qp, h->p + off, n, out);
		off += n;
	}
	buf_reset(&qp->hdr);
	return rc;
}

static int
mta_qp_push(struct mta_qp *qp, const struct mta_qp_entity *e)
{
	if (qp->depth == MTA_QP_DEPTH)
		return -1;
	qp->bounds[qp->depth] = xmemdup(e->boundary, e->boundary_len);
	qp->boundlen[qp->depth] = e->boundary_len;
	qp->depth++;
	return 0;
}

/* The header block is complete (its empty line is in hdr). */
static int
mta_qp_header_end(struct mta_qp *qp, struct buf *out)
{
	struct mta_qp_entity e;
	const char *cte = NULL;

	mta_qp_entity_parse(&qp->hdr, &e);
	if (e.cte == MTA_QP_CTE_BINARY)
		return mta_qp_give_up(qp, "a part is binary", out);
	if (e.multipart) {
		if (!e.has_boundary)
			return mta_qp_give_up(qp, "a multipart without boundary",
			    out);
		if (mta_qp_push(qp, &e) == -1)
			return mta_qp_give_up(qp, "MIME nesting too deep", out);
		qp->state = MTA_QP_BODY;
		qp->body = MTA_QP_MULTI;
		return mta_qp_write_header(qp, e.cte == MTA_QP_CTE_8BIT ?
		    "7bit" : NULL, out);
	}
	if (e.message) {
		/* the body is a message: its own header block follows */
		qp->state = MTA_QP_HEADER;
		return mta_qp_write_header(qp, e.cte == MTA_QP_CTE_8BIT ?
		    "7bit" : NULL, out);
	}
	qp->state = MTA_QP_BODY;
	qp->body = MTA_QP_PASS;
	if (e.cte == MTA_QP_CTE_8BIT) {
		qp->body = MTA_QP_ENCODE;
		qp->col = 0;
		qp->converted++;
		cte = "quoted-printable";
	}
	return mta_qp_write_header(qp, cte, out);
}

/*
 * Lines.
 */

/* Does the line (without its end) delimit a part of an open multipart?
 * The innermost match wins; its level in *level_r, closing in *close_r. */
static bool
mta_qp_boundary(struct mta_qp *qp, const char *p, size_t len,
    size_t *level_r, bool *close_r)
{
	size_t b;

	if (len < 2 || p[0] != '-' || p[1] != '-')
		return false;
	while (len > 2 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;		/* RFC 2046 allows trailing white space */
	for (size_t i = qp->depth; i-- > 0;) {
		b = qp->boundlen[i];
		if (len < 2 + b || memcmp(p + 2, qp->bounds[i], b) != 0)
			continue;
		if (len == 2 + b) {
			*close_r = false;
		} else if (len == 4 + b && p[2 + b] == '-' && p[3 + b] == '-') {
			*close_r = true;
		} else
			continue;
		*level_r = i;
		return true;
	}
	return false;
}

/* A delimiter line: close the levels inside it, then go on. */
static int
mta_qp_delimiter(struct mta_qp *qp, const char *line, size_t n, size_t level,
    bool close, struct buf *out)
{
	while (qp->depth > level + 1)
		free(qp->bounds[--qp->depth]);
	if (qp->state == MTA_QP_HEADER &&
	    mta_qp_write_header(qp, NULL, out) == -1)
		return -1;
	if (close) {
		free(qp->bounds[--qp->depth]);
		qp->state = MTA_QP_BODY;
		qp->body = MTA_QP_MULTI;	/* the epilogue */
	} else
		qp->state = MTA_QP_HEADER;
	return mta_qp_pass(qp, line, n, out);
}

/* The content of a line without its end (CRLF or LF). */
static size_t
mta_qp_content_len(const char *line, size_t n, bool eol)
{
	if (!eol)
		return n;
	n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	return n;
}

/* One line (or piece of one): eol says whether it ends with LF. */
static int
mta_qp_line(struct mta_qp *qp, const char *line, size_t n, bool eol,
    struct buf *out)
{
	size_t clen = mta_qp_content_len(line, n, eol), level;
	bool close, mid = qp->midline;

	qp->midline = !eol;
	if (qp->state == MTA_QP_RAW)
		return mta_qp_pass(qp, line, n, out);
	if (!mid && qp->depth > 0 &&
	    mta_qp_boundary(qp, line, clen, &level, &close))
		return mta_qp_delimiter(qp, line, n, level, close, out);
	if (qp->state == MTA_QP_HEADER) {
		if (buf_append(&qp->hdr, line, n) == -1) {
			if (mta_qp_give_up(qp, "a header block is too long",
			    out) == -1)
				return -1;
			return mta_qp_pass(qp, line, n, out);
		}
		if (!mid && eol && clen == 0)
			return mta_qp_header_end(qp, out);
		return 0;
	}
	if (qp->body == MTA_QP_ENCODE)
		return mta_qp_encode_line(qp, line, clen, eol, out);
	return mta_qp_pass(qp, line, n, out);
}

/* The line buffer is full without a line end: let a piece go.  While
 * encoding, trailing white space stays (it may end the line). */
static int
mta_qp_piece(struct mta_qp *qp, struct buf *out)
{
	size_t n = qp->linelen;
	bool encode = qp->state == MTA_QP_BODY && qp->body == MTA_QP_ENCODE;

	if (encode) {
		while (n > 0 && (qp->line[n - 1] == ' ' ||
		    qp->line[n - 1] == '\t' || qp->line[n - 1] == '\r'))
			n--;
		if (n == 0)
			n = qp->linelen - 1;	/* all blank: keep one */
		qp->midline = true;
		if (mta_qp_encode(qp, qp->line, n, false, out) == -1)
			return -1;
	} else if (mta_qp_line(qp, qp->line, n, false, out) == -1)
		return -1;
	memmove(qp->line, qp->line + n, qp->linelen - n);
	qp->linelen -= n;
	return 0;
}

int
mta_qp_feed(struct mta_qp *qp, const char *p, size_t len, struct buf *out)
{
	const char *nl;
	size_t n;

	if (qp->state == MTA_QP_RAW && qp->linelen == 0)
		return mta_qp_pass(qp, p, len, out);
	while (len > 0) {
		nl = memchr(p, '\n', len);
		n = nl == NULL ? len : (size_t)(nl - p) + 1;
		if (n > MTA_QP_LINE_MAX - qp->linelen)
			n = MTA_QP_LINE_MAX - qp->linelen;
		memcpy(qp->line + qp->linelen, p, n);
		qp->linelen += n;
		p += n;
		len -= n;
		if (qp->line[qp->linelen - 1] == '\n') {
			if (mta_qp_line(qp, qp->line, qp->linelen, true,
			    out) == -1)
				return -1;
			qp->linelen = 0;
		} else if (qp->linelen == MTA_QP_LINE_MAX &&
		    mta_qp_piece(qp, out) == -1)
			return -1;
	}
	return 0;
}

int
mta_qp_end(struct mta_qp *qp, struct buf *out)
{
	int rc = 0;

	if (qp->linelen > 0) {
		if (qp->state == MTA_QP_BODY && qp->body == MTA_QP_ENCODE)
			rc = mta_qp_encode(qp, qp->line, qp->linelen, true,
			    out);
		else if (qp->state == MTA_QP_HEADER)
			rc = buf_append(&qp->hdr, qp->line, qp->linelen);
		else
			rc = mta_qp_pass(qp, qp->line, qp->linelen, out);
		qp->linelen = 0;
	}
	if (rc == 0 && qp->state == MTA_QP_HEADER && qp->hdr.len > 0)
		rc = mta_qp_write_header(qp, NULL, out);
	return rc;
}
