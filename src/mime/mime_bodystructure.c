/* mime_bodystructure.c: BODY and BODYSTRUCTURE.
 *
 * A multipart with no part (nothing between its boundaries) is written
 * with one empty text/plain part, since IMAP needs at least one.  A
 * container read as a leaf (too deep, no boundary, caps) is written as
 * text/plain, the type RFC 2045 gives to what cannot be read. */
#include <stdbool.h>

#include "mime/mime_bodystructure.h"
#include "mime/mime_envelope.h"
#include "mime/mime_imap.h"

#define MIME_BS_EMPTY \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
#define MIME_BS_CHARSET	"\"charset\" \"us-ascii\""

static int mime_bs_part(struct buf *, const struct mime_part *, bool);

static int
mime_bs_params(struct buf *out, const struct mime_param *params, uint32_t n,
    bool charset)
{
	bool seen = false;
	uint32_t i;
	int r = 0;

	if (n == 0 && !charset)
		return buf_append(out, "NIL", 3);
	r |= buf_append(out, "(", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			r |= buf_append(out, " ", 1);
		r |= mime_imap_string(out, params[i].name);
		r |= buf_append(out, " ", 1);
		r |= mime_imap_string(out, params[i].value);
		seen = seen || str_eq_ci_cstr(params[i].name, "charset");
	}
	if (charset && !seen) {
		if (n > 0)
			r |= buf_append(out, " ", 1);
		r |= buf_append(out, MIME_BS_CHARSET,
		    sizeof(MIME_BS_CHARSET) - 1);
	}
	return r | buf_append(out, ")", 1);
}

/* disposition, language, location: the tail of both kinds. */
static int
mime_bs_ext_common(struct buf *out, const struct mime_part *part)
{
	uint32_t i;
	int r = 0;

	r |= buf_append(out, " ", 1);
	if (part->disposition.p == NULL)
		r |= buf_append(out, "NIL", 3);
	else {
		r |= buf_append(out, "(", 1);
		r |= mime_imap_string(out, part->disposition);
		r |= buf_append(out, " ", 1);
		r |= mime_bs_params(out, part->disp_params,
		    part->ndisp_params, false);
		r |= buf_append(out, ")", 1);
	}
	if (part->nlangs == 0)
		r |= buf_append(out, " NIL", 4);
	else
		r |= buf_append(out, " (", 2);
	for (i = 0; i < part->nlangs; i++) {
		if (i > 0)
			r |= buf_append(out, " ", 1);
		r |= mime_imap_string(out, part->langs[i]);
	}
	if (part->nlangs > 0)
		r |= buf_append(out, ")", 1);
	r |= buf_append(out, " ", 1);
	return r | mime_imap_nstring(out, part->location);
}

static int
mime_bs_multipart(struct buf *out, const struct mime_part *part,
    bool extended)
{
	const struct mime_part *c;
	int r = 0;

	for (c = part->children; c != NULL; c = c->next)
		r |= mime_bs_part(out, c, extended);
	if (part->children == NULL) {
		r |= buf_append(out, MIME_BS_EMPTY, sizeof(MIME_BS_EMPTY) - 1);
		r |= buf_append(out, extended ? " NIL NIL NIL NIL)" : ")",
		    extended ? 17 : 1);
	}
	r |= buf_append(out, " ", 1);
	r |= mime_imap_string(out, part->subtype);
	if (!extended)
		return r;
	r |= buf_append(out, " ", 1);
	r |= mime_bs_params(out, part->params, part->nparams, false);
	return r | mime_bs_ext_common(out, part);
}

/* type subtype params id description encoding size */
static int
mime_bs_fields(struct buf *out, const struct mime_part *part)
{
	bool degraded = (part->flags & MIME_PART_DEGRADED) != 0;
	struct str type, sub;
	int r = 0;

	mime_parse_type(part, &type, &sub);
	r |= mime_imap_string(out, type);
	r |= buf_append(out, " ", 1);
	r |= mime_imap_string(out, sub);
	r |= buf_append(out, " ", 1);
	r |= mime_bs_params(out, part->params, degraded ? 0 : part->nparams,
	    (part->flags & MIME_PART_TEXT) != 0);
	r |= buf_append(out, " ", 1);
	r |= mime_imap_nstring(out, part->id);
	r |= buf_append(out, " ", 1);
	r |= mime_imap_nstring(out, part->description);
	r |= buf_append(out, " ", 1);
	r |= mime_imap_string(out, part->encoding.p != NULL ?
	    part->encoding : STR_LIT("7bit"));
	return r | buf_printf(out, " %llu",
	    (unsigned long long)(part->end_off - part->body_off));
}

static int
mime_bs_leaf(struct buf *out, const struct mime_part *part, bool extended)
{
	int r = mime_bs_fields(out, part);

	if (part->flags & MIME_PART_MESSAGE) {
		r |= buf_append(out, " ", 1);
		r |= mime_envelope_write(out, part->children);
		r |= buf_append(out, " ", 1);
		r |= mime_bs_part(out, part->children, extended);
	}
	if (part->flags & (MIME_PART_MESSAGE | MIME_PART_TEXT))
		r |= buf_printf(out, " %llu",
		    (unsigned long long)part->body_lines);
	if (!extended)
		return r;
	r |= buf_append(out, " ", 1);
	r |= mime_imap_nstring(out, part->md5);
	return r | mime_bs_ext_common(out, part);
}

static int
mime_bs_part(struct buf *out, const struct mime_part *part, bool extended)
{
	int r = 0;

	r |= buf_append(out, "(", 1);
	if (part->flags & MIME_PART_MULTIPART)
		r |= mime_bs_multipart(out, part, extended);
	else
		r |= mime_bs_leaf(out, part, extended);
	return r | buf_append(out, ")", 1);
}

int
mime_bs_write(struct buf *out, const struct mime_part *part, bool extended)
{
	return mime_bs_part(out, part, extended) == 0 ? 0 : -1;
}
