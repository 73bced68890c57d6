/* mime_parse.c: the streaming MIME parser.
 *
 * Input is cut into lines at LF (CR LF and bare LF alike).  The parts
 * from the root to the one being read form a stack; the top part is in
 * its header or in its body.  A line can end the top part's header (a
 * blank line), or be a boundary of any multipart on the stack, which
 * closes every part above that multipart.  Only the head of a line is
 * kept (enough to recognise a boundary) and only the header fields we
 * use, so memory does not grow with the message.  Decisions are taken
 * at the end of a line from its bytes alone, which is why any cutting
 * of the input gives the same tree. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mime/mime_header.h"
#include "mime/mime_parse.h"
#include "mime/mime_pool.h"

/* "--" boundary, then "--" or padding and a CR */
#define MIME_PARSE_LBUF	(2 + MIME_BOUNDARY_MAX + 2 + MIME_PADDING_MAX + 1)

enum mime_parse_fstate {
	MIME_PARSE_F_NONE,	/* no field, or one we do not keep */
	MIME_PARSE_F_NAME,	/* reading a field name */
	MIME_PARSE_F_KEEP,	/* keeping this field's value */
};

struct mime_parser {
	struct mime_message	*msg;
	struct mime_pool	*pool;
	struct mime_part	*stack[MIME_DEPTH_MAX + 1];
	int			 top;		/* index of the top part */
	bool			 header;	/* top part: in header */
	bool			 frozen;	/* cap hit: no new parts */
	bool			 finished;
	unsigned		 nactive;	/* live boundaries */

	uint64_t		 off;		/* bytes fed */
	uint64_t		 lf;		/* LFs fed */
	uint64_t		 line_off;	/* this line's start */
	uint64_t		 line_len;	/* its bytes, no LF */
	bool			 last_lf_cr;	/* CR before the last LF */
	unsigned char		 prev;		/* last byte fed */
	unsigned char		 first;		/* first byte of this line */
	char			 lbuf[MIME_PARSE_LBUF];	/* head of a "-" line */
	size_t			 lbuf_len;

	enum mime_parse_fstate	 fstate;
	enum mime_header_kind	 fkind;
	struct buf		 fbuf;		/* name, then raw value */
	bool			 fcut;		/* value longer than the cap */
};

/* --- parts ------------------------------------------------------------ */

static struct mime_part *
mime_parse_part_new(struct mime_parser *p, struct mime_part *parent,
    uint64_t off, uint64_t lf, bool message)
{
	struct mime_part *part;

	if (p->frozen || p->msg->nparts >= MIME_PARTS_MAX ||
	    (part = mime_pool_alloc(p->pool, sizeof(*part))) == NULL)
		goto fail;
	if (message && (part->env = mime_pool_alloc(p->pool,
	    MIME_ENV_COUNT * sizeof(*part->env))) == NULL)
		goto fail;
	part->idx = p->msg->nparts++;
	part->hdr_off = part->body_off = part->end_off = off;
	part->lf_hdr = part->lf_body = lf;
	part->parent = parent;
	if (parent != NULL) {
		part->depth = parent->depth + 1;
		if (parent->last != NULL)
			parent->last->next = part;
		else
			parent->children = part;
		parent->last = part;
		parent->nchildren++;
	}
	return part;
fail:
	p->frozen = true;
	p->msg->flags |= MIME_MSG_PARTS_CAPPED;
	return NULL;
}

static void
mime_parse_push(struct mime_parser *p, struct mime_part *part)
{
	p->stack[++p->top] = part;
	p->header = true;
}

static bool
mime_parse_is_message(struct str type, struct str sub)
{
	return str_eq_ci_cstr(type, "message") &&
	    (str_eq_ci_cstr(sub, "rfc822") || str_eq_ci_cstr(sub, "global"));
}

static bool
mime_parse_in_digest(const struct mime_part *part)
{
	const struct mime_part *parent = part->parent;

	return parent != NULL && (parent->flags & MIME_PART_MULTIPART) &&
	    str_eq_ci_cstr(parent->subtype, "digest");
}

/* A container that cannot be one: a leaf, written as text/plain. */
static void
mime_parse_degrade(struct mime_parser *p, struct mime_part *part)
{
	part->flags |= MIME_PART_DEGRADED | MIME_PART_TEXT;
	if (part->depth >= MIME_DEPTH_MAX)
		p->msg->flags |= MIME_MSG_DEPTH_CAPPED;
}

static void
mime_parse_multipart(struct mime_parser *p, struct mime_part *part)
{
	struct str b = mime_parse_param(part, "boundary");

	if (b.p == NULL || b.len == 0 || b.len > MIME_BOUNDARY_MAX ||
	    part->depth >= MIME_DEPTH_MAX || p->frozen) {
		mime_parse_degrade(p, part);
		return;
	}
	part->boundary = b;
	part->flags |= MIME_PART_MULTIPART | MIME_PART_ACTIVE;
	p->nactive++;
}

/* message/rfc822: the message it holds starts where its body does. */
static bool
mime_parse_message(struct mime_parser *p, struct mime_part *part)
{
	struct mime_part *child;

	if (part->depth >= MIME_DEPTH_MAX ||
	    (child = mime_parse_part_new(p, part, part->body_off,
	    part->lf_body, true)) == NULL) {
		mime_parse_degrade(p, part);
		return false;
	}
	part->flags |= MIME_PART_MESSAGE;
	mime_parse_push(p, child);
	return true;
}

/* The header of the top part ended; true when a child was pushed. */
static bool
mime_parse_header_done(struct mime_parser *p, uint64_t body_off,
    uint64_t lf)
{
	struct mime_part *part = p->stack[p->top];
	struct str type, sub;

	part->body_off = body_off;
	part->lf_body = lf;
	part->hdr_lines = lf - part->lf_hdr;
	p->header = false;
	if (part->type.p == NULL && mime_parse_in_digest(part))
		part->flags |= MIME_PART_DEFAULT_MSG;
	mime_parse_type(part, &type, &sub);
	if (str_eq_ci_cstr(type, "multipart"))
		mime_parse_multipart(p, part);
	else if (mime_parse_is_message(type, sub))
		return mime_parse_message(p, part);
	else if (str_eq_ci_cstr(type, "text"))
		part->flags |= MIME_PART_TEXT;
	return false;
}

/* --- closing parts ---------------------------------------------------- */

/* Where parts close: at line start l, after a line break of term bytes
 * (0, 1 or 2) that belongs to the boundary, with lf LFs before l. */
struct mime_parse_close {
	uint64_t	 l;
	uint64_t	 lf;
	unsigned	 term;
};

static uint64_t
mime_parse_close_end(const struct mime_parse_close *c, uint64_t start)
{
	if (c->term > 0 && c->l - c->term >= start)
		return c->l - c->term;
	return c->l > start ? c->l : start;
}

static uint64_t
mime_parse_close_lf(const struct mime_parse_close *c, uint64_t end)
{
	return c->term > 0 && end < c->l ? c->lf - 1 : c->lf;
}

static void
mime_parse_close_top(struct mime_parser *p, const struct mime_parse_close *c)
{
	struct mime_part *part = p->stack[p->top];
	uint64_t end = mime_parse_close_end(c, part->body_off);

	if (part->last != NULL && part->last->end_off > end)
		end = part->last->end_off;
	part->end_off = end;
	part->body_lines = mime_parse_close_lf(c, end) - part->lf_body;
	if (part->flags & MIME_PART_ACTIVE) {
		part->flags &= ~MIME_PART_ACTIVE;
		part->flags |= MIME_PART_OPEN;
		p->nactive--;
	}
	p->top--;
}

/* Close every part above stack index k.  A part still in its header
 * gets an empty body (and a message part an empty message). */
static void
mime_parse_close_to(struct mime_parser *p, int k,
    const struct mime_parse_close *c)
{
	while (p->top > k) {
		if (p->header) {
			struct mime_part *part = p->stack[p->top];
			uint64_t end = mime_parse_close_end(c, part->hdr_off);

			part->flags |= MIME_PART_NO_EOH;
			if (mime_parse_header_done(p, end,
			    mime_parse_close_lf(c, end)))
				continue;
		}
		mime_parse_close_top(p, c);
		p->header = false;
	}
}

/* --- header fields ---------------------------------------------------- */

/* Remove the line breaks of folding; drop leading white space. */
static struct str
mime_parse_unfold(struct buf *b)
{
	size_t i, j = 0;

	for (i = 0; i < b->len; i++) {
		if (b->p[i] == '\n' ||
		    (b->p[i] == '\r' && i + 1 < b->len && b->p[i + 1] == '\n'))
			continue;
		b->p[j++] = b->p[i];
	}
	b->len = j;
	for (i = 0; i < j && (b->p[i] == ' ' || b->p[i] == '\t'); i++)
		;
	return str_make(b->p + i, j - i);
}

static void
mime_parse_field_finish(struct mime_parser *p)
{
	struct mime_part *part = p->stack[p->top];

	if (p->fstate == MIME_PARSE_F_KEEP) {
		if (mime_header_apply(p->pool, part, p->fkind,
		    mime_parse_unfold(&p->fbuf)) == -1) {
			p->msg->flags |= MIME_MSG_STORE_CAPPED;
			part->flags |= MIME_PART_TRUNCATED;
		}
		if (p->fcut)
			part->flags |= MIME_PART_TRUNCATED;
	}
	p->fstate = MIME_PARSE_F_NONE;
	p->fcut = false;
	buf_reset(&p->fbuf);
}

static void
mime_parse_field_keep(struct mime_parser *p, const char *d, size_t n)
{
	size_t room = p->fbuf.max - p->fbuf.len;

	if (n > room) {
		p->fcut = true;
		n = room;
	}
	if (n > 0)
		(void)buf_append(&p->fbuf, d, n);
}

/* The name is complete: keep the field or not. */
static void
mime_parse_field_named(struct mime_parser *p)
{
	struct str name = str_make(p->fbuf.p, p->fbuf.len);

	while (name.len > 0 && (name.p[name.len - 1] == ' ' ||
	    name.p[name.len - 1] == '\t'))
		name.len--;
	p->fkind = mime_header_lookup(name,
	    p->stack[p->top]->env != NULL);
	p->fstate = p->fkind == MIME_HDR_NONE ? MIME_PARSE_F_NONE :
	    MIME_PARSE_F_KEEP;
	buf_reset(&p->fbuf);
}

static void
mime_parse_field_bytes(struct mime_parser *p, const char *d, size_t n)
{
	const char *colon;
	size_t k;

	if (p->fstate == MIME_PARSE_F_NAME) {
		colon = memchr(d, ':', n);
		k = colon != NULL ? (size_t)(colon - d) : n;
		if (k > MIME_NAME_MAX - p->fbuf.len) {
			p->fstate = MIME_PARSE_F_NONE;
			return;
		}
		(void)buf_append(&p->fbuf, d, k);
		if (colon == NULL)
			return;
		mime_parse_field_named(p);
		d += k + 1;
		n -= k + 1;
	}
	if (p->fstate == MIME_PARSE_F_KEEP)
		mime_parse_field_keep(p, d, n);
}

/* --- lines ------------------------------------------------------------ */

static void
mime_parse_line_bytes(struct mime_parser *p, const char *d, size_t n)
{
	size_t k;

	if (p->line_len == 0)
		p->first = (unsigned char)d[0];
	if (p->first == '-' && p->lbuf_len < sizeof(p->lbuf)) {
		k = sizeof(p->lbuf) - p->lbuf_len;
		k = k < n ? k : n;
		memcpy(p->lbuf + p->lbuf_len, d, k);
		p->lbuf_len += k;
	}
	p->line_len += n;
	p->off += n;
	p->prev = (unsigned char)d[n - 1];
}

static bool
mime_parse_is_padding(const char *s, size_t n)
{
	size_t i;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++) {
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	}
	return true;
}

/* Is the line a boundary of a multipart on the stack?  Its index, or
 * -1.  The longest boundary that matches wins, then the innermost. */
static int
mime_parse_boundary(const struct mime_parser *p, bool *close_r)
{
	bool whole = p->line_len == p->lbuf_len;
	size_t best_len = 0, rlen;
	const char *rest;
	int k, best = -1;

	if (p->nactive == 0 || p->frozen || p->lbuf_len < 3 ||
	    p->lbuf[0] != '-' || p->lbuf[1] != '-')
		return -1;
	for (k = p->top; k >= 0; k--) {
		const struct mime_part *m = p->stack[k];
		struct str b = m->boundary;
		bool close;

		if (!(m->flags & MIME_PART_ACTIVE) || b.len <= best_len ||
		    p->lbuf_len < 2 + b.len || memcmp(p->lbuf + 2, b.p, b.len))
			continue;
		rest = p->lbuf + 2 + b.len;
		rlen = p->lbuf_len - 2 - b.len;
		close = rlen >= 2 && rest[0] == '-' && rest[1] == '-';
		if (!close && !(whole && mime_parse_is_padding(rest, rlen)))
			continue;
		best = k;
		best_len = b.len;
		*close_r = close;
	}
	return best;
}

/* A boundary of the multipart at stack index k; the next line begins
 * at next_off after next_lf LFs. */
static void
mime_parse_boundary_found(struct mime_parser *p, int k, bool close,
    uint64_t next_off, uint64_t next_lf)
{
	struct mime_parse_close c;
	struct mime_part *m, *child;

	c.l = p->line_off;
	c.lf = p->lf;
	c.term = p->line_off == 0 ? 0 : p->last_lf_cr ? 2 : 1;
	mime_parse_close_to(p, k, &c);
	p->header = false;
	m = p->stack[k];
	if (close) {
		m->flags &= ~MIME_PART_ACTIVE;
		p->nactive--;
		return;
	}
	child = mime_parse_part_new(p, m, next_off, next_lf, false);
	if (child != NULL)
		mime_parse_push(p, child);
}

static bool
mime_parse_line_blank(const struct mime_parser *p)
{
	return p->line_len == 0 || (p->line_len == 1 && p->first == '\r');
}

/* A header line ended (at EOF too: next_off is then the end). */
static void
mime_parse_hdr_line_end(struct mime_parser *p, uint64_t next_off,
    uint64_t next_lf)
{
	bool close;
	int k;

	if (mime_parse_line_blank(p)) {
		mime_parse_field_finish(p);
		(void)mime_parse_header_done(p, next_off, next_lf);
		return;
	}
	if ((k = mime_parse_boundary(p, &close)) >= 0) {
		p->fstate = MIME_PARSE_F_NONE;
		mime_parse_boundary_found(p, k, close, next_off, next_lf);
		return;
	}
	if (p->fstate == MIME_PARSE_F_NAME)
		p->fstate = MIME_PARSE_F_NONE;	/* no colon */
	else if (p->fstate == MIME_PARSE_F_KEEP)
		mime_parse_field_keep(p, "\n", 1);
}

static void
mime_parse_body_line_end(struct mime_parser *p, uint64_t next_off,
    uint64_t next_lf)
{
	bool close;
	int k;

	if ((k = mime_parse_boundary(p, &close)) >= 0)
		mime_parse_boundary_found(p, k, close, next_off, next_lf);
}

static void
mime_parse_line_reset(struct mime_parser *p)
{
	p->line_off = p->off;
	p->line_len = 0;
	p->lbuf_len = 0;
	p->first = 0;
}

/* The LF at p->off ends the current line. */
static void
mime_parse_lf(struct mime_parser *p)
{
	bool cr = p->line_len > 0 && p->prev == '\r';

	if (p->header)
		mime_parse_hdr_line_end(p, p->off + 1, p->lf + 1);
	else
		mime_parse_body_line_end(p, p->off + 1, p->lf + 1);
	p->off++;
	p->lf++;
	p->last_lf_cr = cr;
	p->prev = '\n';
	mime_parse_line_reset(p);
}

static void
mime_parse_hdr_line_start(struct mime_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\t')
		return;			/* folded: the field goes on */
	mime_parse_field_finish(p);
	p->fstate = MIME_PARSE_F_NAME;
}

static void
mime_parse_hdr_8bit(struct mime_parser *p, const char *d, size_t n)
{
	struct mime_part *part = p->stack[p->top];
	size_t i;

	if (part->flags & MIME_PART_8BIT_HDR)
		return;
	for (i = 0; i < n; i++) {
		if ((unsigned char)d[i] >= 0x80) {
			part->flags |= MIME_PART_8BIT_HDR;
			return;
		}
	}
}

/* Up to and including one LF of header; bytes taken. */
static size_t
mime_parse_hdr_chunk(struct mime_parser *p, const char *d, size_t len)
{
	const char *lf = memchr(d, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - d) : len;

	if (n > 0) {
		if (p->line_len == 0)
			mime_parse_hdr_line_start(p, (unsigned char)d[0]);
		mime_parse_field_bytes(p, d, n);
		mime_parse_hdr_8bit(p, d, n);
		mime_parse_line_bytes(p, d, n);
	}
	if (lf == NULL)
		return n;
	mime_parse_lf(p);
	return n + 1;
}

/* Body with no boundary to look for: count lines, nothing else. */
static size_t
mime_parse_body_fast(struct mime_parser *p, const char *d, size_t len)
{
	const char *s = d, *end = d + len, *lf, *last = NULL;

	while ((lf = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		p->lf++;
		last = lf;
		s = lf + 1;
	}
	if (last != NULL) {
		p->last_lf_cr = last > d ? last[-1] == '\r' :
		    p->line_len > 0 && p->prev == '\r';
		p->line_off = p->off + (uint64_t)(last - d) + 1;
		p->line_len = (uint64_t)(end - last) - 1;
	} else
		p->line_len += len;
	p->off += len;
	p->prev = (unsigned char)end[-1];
	p->lbuf_len = 0;
	return len;
}

static size_t
mime_parse_body_chunk(struct mime_parser *p, const char *d, size_t len)
{
	const char *lf;
	size_t n;

	if (p->nactive == 0 || p->frozen)
		return mime_parse_body_fast(p, d, len);
	lf = memchr(d, '\n', len);
	n = lf != NULL ? (size_t)(lf - d) : len;
	if (n > 0)
		mime_parse_line_bytes(p, d, n);
	if (lf == NULL)
		return n;
	mime_parse_lf(p);
	return n + 1;
}

/* --- the interface ---------------------------------------------------- */

struct mime_parser *
mime_parse_new(void)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	p->msg = xcalloc(1, sizeof(*p->msg));
	p->pool = mime_pool_new(MIME_STORE_MAX);
	buf_init(&p->fbuf, MIME_FIELD_MAX);
	p->top = -1;
	p->msg->root = mime_parse_part_new(p, NULL, 0, 0, true);
	mime_parse_push(p, p->msg->root);
	return p;
}

int
mime_parse_feed(struct mime_parser *p, const void *data, size_t len,
    const char **err_r)
{
	const char *d = data;
	size_t n;

	if (p->finished) {
		*err_r = "mime parser fed after finish";
		return -1;
	}
	while (len > 0) {
		n = p->header ? mime_parse_hdr_chunk(p, d, len) :
		    mime_parse_body_chunk(p, d, len);
		d += n;
		len -= n;
	}
	return 0;
}

/* A last line without LF: a boundary or the blank line still count. */
static void
mime_parse_last_line(struct mime_parser *p)
{
	if (p->line_len == 0)
		return;
	if (p->header)
		mime_parse_hdr_line_end(p, p->off, p->lf);
	else
		mime_parse_body_line_end(p, p->off, p->lf);
	mime_parse_line_reset(p);
}

int
mime_parse_finish(struct mime_parser *p, struct mime_message **msg_r,
    const char **err_r)
{
	struct mime_parse_close c = { p->off, p->lf, 0 };

	if (p->finished) {
		*err_r = "mime parser finished twice";
		return -1;
	}
	p->finished = true;
	mime_parse_last_line(p);
	if (p->header)
		mime_parse_field_finish(p);
	mime_parse_close_to(p, -1, &c);
	p->msg->size = p->off;
	p->msg->lines = p->lf;
	p->msg->pool = p->pool;
	p->pool = NULL;
	*msg_r = p->msg;
	p->msg = NULL;
	return 0;
}

void
mime_parse_free(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;

	if (p == NULL)
		return;
	mime_pool_free(&p->pool);
	free(p->msg);
	buf_free(&p->fbuf);
	free(p);
	*pp = NULL;
}

void
mime_parse_message_free(struct mime_message **mp)
{
	if (*mp == NULL)
		return;
	mime_pool_free(&(*mp)->pool);
	free(*mp);
	*mp = NULL;
}

struct mime_message *
mime_parse_buffer(const void *data, size_t len)
{
	struct mime_parser *p = mime_parse_new();
	struct mime_message *msg = NULL;
	const char *err;

	(void)mime_parse_feed(p, data, len, &err);
	(void)mime_parse_finish(p, &msg, &err);
	mime_parse_free(&p);
	return msg;
}

/* --- reading the tree ------------------------------------------------- */

void
mime_parse_type(const struct mime_part *part, struct str *type_r,
    struct str *subtype_r)
{
	if (!(part->flags & MIME_PART_DEGRADED) && part->type.p != NULL) {
		*type_r = part->type;
		*subtype_r = part->subtype;
	} else if (!(part->flags & MIME_PART_DEGRADED) &&
	    (part->flags & MIME_PART_DEFAULT_MSG)) {
		*type_r = STR_LIT("message");
		*subtype_r = STR_LIT("rfc822");
	} else {
		*type_r = STR_LIT("text");
		*subtype_r = STR_LIT("plain");
	}
}

struct str
mime_parse_param(const struct mime_part *part, const char *name)
{
	uint32_t i;

	for (i = 0; i < part->nparams; i++) {
		if (str_eq_ci_cstr(part->params[i].name, name))
			return part->params[i].value;
	}
	return (struct str){ NULL, 0 };
}

static const struct mime_part *
mime_parse_child(const struct mime_part *part, uint32_t k)
{
	const struct mime_part *c = part->children;

	while (c != NULL && --k > 0)
		c = c->next;
	return c;
}

int
mime_parse_section(const struct mime_message *msg, const uint32_t *nums,
    size_t n, const struct mime_part **part_r)
{
	const struct mime_part *cur = msg->root;
	bool message = true;	/* cur is a message's top part */
	size_t i;

	for (i = 0; i < n; i++) {
		if (nums[i] == 0)
			return -1;
		if (cur->flags & MIME_PART_MULTIPART)
			cur = mime_parse_child(cur, nums[i]);
		else if (!message || nums[i] != 1)
			return -1;
		message = false;
		if (cur == NULL)
			return -1;
		if (i + 1 < n && (cur->flags & MIME_PART_MESSAGE)) {
			cur = cur->children;
			message = true;
		}
	}
	*part_r = cur;
	return 0;
}
