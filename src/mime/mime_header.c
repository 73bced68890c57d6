/* mime_header.c: reading Content-* values into a part.  Broken values
 * are read as far as they make sense: an unusable Content-Type counts
 * as absent (RFC 2045 §5.2), a broken parameter is skipped up to the
 * next ';', a Content-Transfer-Encoding that is not one token is
 * absent.  The first field of each kind counts. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mime/mime_header.h"

static const struct {
	const char		*name;
	enum mime_header_kind	 kind;
	bool			 env;
} mime_header_names[] = {
	{ "Content-Type",		MIME_HDR_TYPE,		false },
	{ "Content-Transfer-Encoding",	MIME_HDR_ENCODING,	false },
	{ "Content-Disposition",	MIME_HDR_DISPOSITION,	false },
	{ "Content-ID",			MIME_HDR_ID,		false },
	{ "Content-Description",	MIME_HDR_DESCRIPTION,	false },
	{ "Content-Language",		MIME_HDR_LANGUAGE,	false },
	{ "Content-Location",		MIME_HDR_LOCATION,	false },
	{ "Content-MD5",		MIME_HDR_MD5,		false },
	{ "Date",			(int)MIME_ENV_DATE,	true },
	{ "Subject",			(int)MIME_ENV_SUBJECT,	true },
	{ "From",			(int)MIME_ENV_FROM,	true },
	{ "Sender",			(int)MIME_ENV_SENDER,	true },
	{ "Reply-To",			(int)MIME_ENV_REPLY_TO,	true },
	{ "To",				(int)MIME_ENV_TO,	true },
	{ "Cc",				(int)MIME_ENV_CC,	true },
	{ "Bcc",			(int)MIME_ENV_BCC,	true },
	{ "In-Reply-To",		(int)MIME_ENV_IN_REPLY_TO, true },
	{ "Message-ID",			(int)MIME_ENV_MESSAGE_ID, true },
};

/* A parameter as written, before RFC 2231 sections are merged. */
struct mime_header_raw {
	struct str	 name, value;
	struct str	 base;		/* name less "*N*" */
	uint32_t	 idx;
	bool		 ext;		/* value is charset'lang'%xx */
	bool		 sect;		/* an RFC 2231 section */
	bool		 done;
};

struct mime_header_params {
	struct mime_header_raw	 raw[MIME_PARAMS_MAX];
	uint32_t		 n;
	bool			 truncated;
};

enum mime_header_kind
mime_header_lookup(struct str name, bool message)
{
	size_t i;

	for (i = 0; i < sizeof(mime_header_names) /
	    sizeof(mime_header_names[0]); i++) {
		if (mime_header_names[i].env && !message)
			continue;
		if (str_eq_ci_cstr(name, mime_header_names[i].name))
			return mime_header_names[i].kind;
	}
	return MIME_HDR_NONE;
}

bool
mime_header_is_tspecial(unsigned char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool
mime_header_is_token_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !mime_header_is_tspecial(c);
}

/* Skip one comment starting at *ip ('('); nested, with quoted pairs.
 * An unterminated comment runs to the end. */
static void
mime_header_skip_comment(struct str s, size_t *ip)
{
	size_t i = *ip + 1;
	unsigned depth = 1;

	while (i < s.len && depth > 0) {
		if (s.p[i] == '\\')
			i++;
		else if (s.p[i] == '(')
			depth++;
		else if (s.p[i] == ')')
			depth--;
		i++;
	}
	*ip = i < s.len ? i : s.len;
}

void
mime_header_skip_cfws(struct str s, size_t *ip)
{
	size_t i = *ip;

	while (i < s.len) {
		unsigned char c = s.p[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			i++;
		else if (c == '(')
			mime_header_skip_comment(s, &i);
		else
			break;
	}
	*ip = i;
}

struct str
mime_header_token(struct str s, size_t *ip)
{
	size_t start = *ip, i = *ip;

	while (i < s.len && mime_header_is_token_char((unsigned char)s.p[i]))
		i++;
	*ip = i;
	return str_make(s.p + start, i - start);
}

/* Move past junk to the next ';' outside quotes (or the end). */
static void
mime_header_skip_junk(struct str s, size_t *ip)
{
	size_t i = *ip;
	bool quoted = false;

	for (; i < s.len; i++) {
		if (quoted && s.p[i] == '\\')
			i++;
		else if (s.p[i] == '"')
			quoted = !quoted;
		else if (!quoted && s.p[i] == ';')
			break;
	}
	*ip = i < s.len ? i : s.len;
}

/* A quoted string at *ip ('"'), unquoted into the pool.  An unclosed
 * one runs to the end. */
static struct str
mime_header_quoted(struct mime_pool *pool, struct str s, size_t *ip)
{
	size_t i = *ip + 1, n = 0;
	char *q;

	q = mime_pool_alloc(pool, s.len - *ip + 1);
	if (q == NULL)
		return (struct str){ NULL, 0 };
	for (; i < s.len && s.p[i] != '"'; i++) {
		if (s.p[i] == '\\' && i + 1 < s.len)
			i++;
		q[n++] = s.p[i];
	}
	*ip = i < s.len ? i + 1 : s.len;
	return str_make(q, n);
}

/* A parameter value: a quoted string, or (leniently) anything up to
 * ';', white space or a control. */
static struct str
mime_header_value(struct mime_pool *pool, struct str s, size_t *ip)
{
	size_t start = *ip, i = *ip;

	if (i < s.len && s.p[i] == '"')
		return mime_header_quoted(pool, s, ip);
	for (; i < s.len; i++) {
		unsigned char c = s.p[i];

		if (c == ';' || c == '"' || c <= 0x20 || c == 0x7f)
			break;
	}
	*ip = i;
	return mime_pool_dup(pool, s.p + start, i - start);
}

/* Split "name*N*" (RFC 2231 §3-4) into its base, index and flag. */
static void
mime_header_section(struct mime_header_raw *r)
{
	const char *star = memchr(r->name.p, '*', r->name.len);
	size_t i, end = r->name.len;
	uint32_t idx = 0;

	if (star == NULL || star == r->name.p)
		return;
	i = (size_t)(star - r->name.p) + 1;
	r->base = str_make(r->name.p, i - 1);
	if (i == end) {			/* name* */
		r->sect = r->ext = true;
		return;
	}
	for (; i < end && i - (size_t)(star - r->name.p) <= 4 &&
	    r->name.p[i] >= '0' && r->name.p[i] <= '9'; i++)
		idx = idx * 10 + (uint32_t)(r->name.p[i] - '0');
	if (i > (size_t)(star - r->name.p) + 1 &&
	    (i == end || (i + 1 == end && r->name.p[i] == '*'))) {
		r->sect = true;
		r->ext = i + 1 == end;
		r->idx = idx;
	}
}

/* Parse "; name=value" pairs from *ip to the end. */
static int
mime_header_params_read(struct mime_pool *pool, struct str v, size_t i,
    struct mime_header_params *ps)
{
	struct mime_header_raw *r;
	struct str name;

	for (;;) {
		mime_header_skip_cfws(v, &i);
		if (i >= v.len)
			return 0;
		if (v.p[i] != ';') {
			mime_header_skip_junk(v, &i);
			continue;
		}
		i++;
		mime_header_skip_cfws(v, &i);
		name = mime_header_token(v, &i);
		mime_header_skip_cfws(v, &i);
		if (name.len == 0 || i >= v.len || v.p[i] != '=') {
			mime_header_skip_junk(v, &i);
			continue;
		}
		i++;
		mime_header_skip_cfws(v, &i);
		if (ps->n == MIME_PARAMS_MAX) {
			ps->truncated = true;
			return 0;
		}
		r = &ps->raw[ps->n];
		memset(r, 0, sizeof(*r));
		r->name = mime_pool_dup(pool, name.p, name.len);
		r->value = mime_header_value(pool, v, &i);
		if (r->name.p == NULL || r->value.p == NULL)
			return -1;
		mime_header_section(r);
		ps->n++;
	}
}

/* Members of r[first]'s section group, by index into order[]; true
 * when the indexes are exactly 0..n-1. */
static bool
mime_header_group(struct mime_header_params *ps, uint32_t first,
    uint32_t *order, uint32_t *n_r)
{
	uint32_t j, n = 0;

	for (j = first; j < ps->n; j++) {
		struct mime_header_raw *r = &ps->raw[j];

		if (!r->sect || !str_eq_ci(r->base, ps->raw[first].base))
			continue;
		if (r->idx >= ps->n || order[r->idx] != UINT32_MAX)
			return false;	/* out of range or twice */
		order[r->idx] = j;
		n++;
	}
	for (j = 0; j < n; j++) {
		if (order[j] == UINT32_MAX)
			return false;
	}
	*n_r = n;
	return true;
}

/* A broken group (an index missing or twice): all of it stays as
 * written. */
static void
mime_header_ungroup(struct mime_header_params *ps, uint32_t first)
{
	struct str base = ps->raw[first].base;
	uint32_t j;

	for (j = first; j < ps->n; j++) {
		if (ps->raw[j].sect && str_eq_ci(ps->raw[j].base, base))
			ps->raw[j].sect = false;
	}
}

/* Length of a merged value: unencoded sections have '%' written as
 * "%25" when the whole is encoded (Dovecot's rule). */
static size_t
mime_header_merged_len(const struct mime_header_params *ps,
    const uint32_t *order, uint32_t n, bool ext)
{
	size_t len = 2, k;
	uint32_t j;

	for (j = 0; j < n; j++) {
		const struct mime_header_raw *r = &ps->raw[order[j]];

		len += r->value.len;
		for (k = 0; ext && !r->ext && k < r->value.len; k++)
			len += r->value.p[k] == '%' ? 2 : 0;
	}
	return len;
}

static int
mime_header_merge(struct mime_pool *pool, struct mime_header_params *ps,
    const uint32_t *order, uint32_t n, struct mime_param *out)
{
	bool ext = false;
	size_t len = 0, k;
	uint32_t j;
	char *q;

	for (j = 0; j < n; j++)
		ext = ext || ps->raw[order[j]].ext;
	q = mime_pool_alloc(pool, mime_header_merged_len(ps, order, n, ext));
	if (q == NULL)
		return -1;
	if (ext && !ps->raw[order[0]].ext) {
		q[len++] = '\'';
		q[len++] = '\'';
	}
	for (j = 0; j < n; j++) {
		struct mime_header_raw *r = &ps->raw[order[j]];

		r->done = true;
		for (k = 0; k < r->value.len; k++) {
			q[len++] = r->value.p[k];
			if (ext && !r->ext && r->value.p[k] == '%') {
				q[len++] = '2';
				q[len++] = '5';
			}
		}
	}
	out->value = str_make(q, len);
	out->name = ps->raw[order[0]].base;
	if (ext) {
		out->name = mime_pool_dup(pool, out->name.p, out->name.len + 1);
		if (out->name.p == NULL)
			return -1;
		((char *)out->name.p)[out->name.len - 1] = '*';
	}
	return 0;
}

/* Merge RFC 2231 sections; incomplete groups stay as written. */
static int
mime_header_params_merge(struct mime_pool *pool,
    struct mime_header_params *ps, struct mime_param **out_r,
    uint32_t *n_r)
{
	uint32_t order[MIME_PARAMS_MAX], i, j, n, nout = 0;
	struct mime_param *out;

	if (ps->n == 0)
		return 0;
	out = mime_pool_alloc(pool, ps->n * sizeof(*out));
	if (out == NULL)
		return -1;
	for (i = 0; i < ps->n; i++) {
		struct mime_header_raw *r = &ps->raw[i];

		if (r->done)
			continue;
		for (j = 0; j < ps->n; j++)
			order[j] = UINT32_MAX;
		if (r->sect && mime_header_group(ps, i, order, &n)) {
			if (mime_header_merge(pool, ps, order, n,
			    &out[nout++]) == -1)
				return -1;
			continue;
		}
		if (r->sect)
			mime_header_ungroup(ps, i);
		out[nout].name = r->name;
		out[nout++].value = r->value;
	}
	*out_r = out;
	*n_r = nout;
	return 0;
}

static int
mime_header_params(struct mime_pool *pool, struct mime_part *part,
    struct str v, size_t i, struct mime_param **out_r, uint32_t *n_r)
{
	struct mime_header_params ps;

	ps.n = 0;
	ps.truncated = false;
	if (mime_header_params_read(pool, v, i, &ps) == -1)
		return -1;
	if (ps.truncated)
		part->flags |= MIME_PART_TRUNCATED;
	return mime_header_params_merge(pool, &ps, out_r, n_r);
}

static int
mime_header_type(struct mime_pool *pool, struct mime_part *part,
    struct str v)
{
	struct str type, sub;
	size_t i = 0;

	mime_header_skip_cfws(v, &i);
	type = mime_header_token(v, &i);
	mime_header_skip_cfws(v, &i);
	if (type.len == 0 || i >= v.len || v.p[i] != '/')
		return 0;
	i++;
	mime_header_skip_cfws(v, &i);
	sub = mime_header_token(v, &i);
	if (sub.len == 0)
		return 0;
	part->type = mime_pool_dup(pool, type.p, type.len);
	part->subtype = mime_pool_dup(pool, sub.p, sub.len);
	if (part->type.p == NULL || part->subtype.p == NULL) {
		part->type = part->subtype = (struct str){ NULL, 0 };
		return -1;
	}
	return mime_header_params(pool, part, v, i, &part->params,
	    &part->nparams);
}

static int
mime_header_disposition(struct mime_pool *pool, struct mime_part *part,
    struct str v)
{
	struct str disp;
	size_t i = 0;

	mime_header_skip_cfws(v, &i);
	disp = mime_header_token(v, &i);
	if (disp.len == 0)
		return 0;
	part->disposition = mime_pool_dup(pool, disp.p, disp.len);
	if (part->disposition.p == NULL)
		return -1;
	return mime_header_params(pool, part, v, i, &part->disp_params,
	    &part->ndisp_params);
}

static int
mime_header_encoding(struct mime_pool *pool, struct mime_part *part,
    struct str v)
{
	struct str enc;
	size_t i = 0;

	mime_header_skip_cfws(v, &i);
	enc = mime_header_token(v, &i);
	mime_header_skip_cfws(v, &i);
	if (enc.len == 0 || i != v.len)
		return 0;
	part->encoding = mime_pool_dup(pool, enc.p, enc.len);
	return part->encoding.p == NULL ? -1 : 0;
}

static bool
mime_header_is_atext(unsigned char c)
{
	return c >= 0x80 || (c > 0x20 && c != 0x7f &&
	    strchr("()<>[]:;@\\,.\"", c) == NULL);
}

/* Content-Language: 1#Language-tag (RFC 3282), each an atom. */
static int
mime_header_language(struct mime_pool *pool, struct mime_part *part,
    struct str v)
{
	struct str langs[MIME_LANGS_MAX];
	uint32_t n = 0;
	size_t i = 0, start;

	for (;;) {
		mime_header_skip_cfws(v, &i);
		for (start = i; i < v.len &&
		    mime_header_is_atext((unsigned char)v.p[i]); i++)
			;
		if (i == start || n == MIME_LANGS_MAX)
			break;
		langs[n] = mime_pool_dup(pool, v.p + start, i - start);
		if (langs[n++].p == NULL)
			return -1;
		mime_header_skip_cfws(v, &i);
		if (i >= v.len || v.p[i] != ',')
			break;
		i++;
	}
	if (n == 0)
		return 0;
	part->langs = mime_pool_alloc(pool, n * sizeof(*langs));
	if (part->langs == NULL)
		return -1;
	memcpy(part->langs, langs, n * sizeof(*langs));
	part->nlangs = n;
	return 0;
}

static int
mime_header_raw(struct mime_pool *pool, struct str *dst, struct str v)
{
	*dst = mime_pool_dup(pool, v.p, v.len);
	return dst->p == NULL ? -1 : 0;
}

static int
mime_header_env(struct mime_pool *pool, struct mime_part *part,
    enum mime_header_kind kind, struct str v)
{
	if (part->env == NULL)
		return 0;
	return mime_header_raw(pool, &part->env[kind], v);
}

int
mime_header_apply(struct mime_pool *pool, struct mime_part *part,
    enum mime_header_kind kind, struct str v)
{
	if (kind == MIME_HDR_NONE || (part->seen & (1u << kind)) != 0)
		return 0;
	part->seen |= 1u << kind;
	switch (kind) {
	case MIME_HDR_TYPE:
		return mime_header_type(pool, part, v);
	case MIME_HDR_ENCODING:
		return mime_header_encoding(pool, part, v);
	case MIME_HDR_DISPOSITION:
		return mime_header_disposition(pool, part, v);
	case MIME_HDR_ID:
		return mime_header_raw(pool, &part->id, v);
	case MIME_HDR_DESCRIPTION:
		return mime_header_raw(pool, &part->description, v);
	case MIME_HDR_LANGUAGE:
		return mime_header_language(pool, part, v);
	case MIME_HDR_LOCATION:
		return mime_header_raw(pool, &part->location, v);
	case MIME_HDR_MD5:
		return mime_header_raw(pool, &part->md5, v);
	default:
		return mime_header_env(pool, part, kind, v);
	}
}

/* --- header blocks ---------------------------------------------------- */

/* The end of the line at i, its LF included. */
static size_t
mime_header_eol(struct str b, size_t i)
{
	const char *lf = memchr(b.p + i, '\n', b.len - i);

	return lf != NULL ? (size_t)(lf - b.p) + 1 : b.len;
}

int
mime_header_next(struct str block, size_t *ip, struct mime_header_field *f)
{
	size_t i = *ip, end, colon;
	const char *c;

	if (i >= block.len || block.p[i] == '\n' ||
	    (block.p[i] == '\r' && i + 1 < block.len &&
	    block.p[i + 1] == '\n'))
		return 0;
	end = mime_header_eol(block, i);
	while (end < block.len && (block.p[end] == ' ' ||
	    block.p[end] == '\t'))
		end = mime_header_eol(block, end);
	f->raw = str_make(block.p + i, end - i);
	c = memchr(f->raw.p, ':', f->raw.len);
	colon = c != NULL ? (size_t)(c - f->raw.p) : 0;
	if (c == NULL || memchr(f->raw.p, '\n', colon) != NULL) {
		f->name = str_make(f->raw.p, 0);
		f->value = str_make(f->raw.p + f->raw.len, 0);
	} else {
		f->name = str_make(f->raw.p, colon);
		while (f->name.len > 0 && (f->name.p[f->name.len - 1] == ' ' ||
		    f->name.p[f->name.len - 1] == '\t'))
			f->name.len--;
		f->value = str_make(f->raw.p + colon + 1,
		    f->raw.len - colon - 1);
	}
	*ip = end;
	return 1;
}

int
mime_header_unfold(struct buf *out, struct str v)
{
	size_t i, start, end = v.len;
	int r = 0;

	for (start = 0; start < end && strchr(" \t\r\n", v.p[start]) &&
	    v.p[start] != '\0'; start++)
		;
	while (end > start && strchr(" \t\r\n", v.p[end - 1]) &&
	    v.p[end - 1] != '\0')
		end--;
	for (i = start; i < end; i++) {
		if (v.p[i] == '\n' ||
		    (v.p[i] == '\r' && i + 1 < end && v.p[i + 1] == '\n'))
			continue;
		r |= buf_append(out, v.p + i, 1);
	}
	return r == 0 ? 0 : -1;
}
