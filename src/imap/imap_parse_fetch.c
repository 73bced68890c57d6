/* imap_parse_fetch.c: FETCH's arguments (RFC 9051 §6.4.5, RFC 3516
 * BINARY, RFC 7162 MODSEQ and CHANGEDSINCE/VANISHED): items, macros,
 * section specifiers with their header lists, partial ranges. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/str.h"
#include "imap/imap_parse.h"
#include "imap/imap_parse_int.h"

static const struct {
	const char		*name;
	enum imap_fetch_item	 item;
} imap_parse_fetch_items[] = {
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "UID", IMAP_FETCH_UID },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
}, imap_parse_fetch_sections[] = {
	{ "BODY", IMAP_FETCH_BODY_SECTION },
	{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION },
	{ "BINARY", IMAP_FETCH_BINARY },
	{ "BINARY.PEEK", IMAP_FETCH_BINARY },
	{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE },
};

static const char *const imap_parse_fetch_texts[] = {
	[IMAP_SECTION_HEADER] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[IMAP_SECTION_TEXT] = "TEXT",
	[IMAP_SECTION_MIME] = "MIME",
};

/* "1.2.HEADER.FIELDS": part numbers, then the text specifier. */
static int
imap_parse_fetch_spec(struct imap_parser *p, struct str s,
    struct imap_section *sec, bool binary)
{
	uint32_t part[IMAP_SECTION_PARTS_MAX], *copy;
	size_t pos = 0, end;
	struct str rest;

	while (pos < s.len && s.p[pos] >= '0' && s.p[pos] <= '9') {
		for (end = pos; end < s.len && s.p[end] != '.'; end++)
			;
		if (sec->nparts == IMAP_SECTION_PARTS_MAX)
			return imap_parse_bad(p, "Section too deep");
		if (imap_parse_nz_number(str_make(s.p + pos, end - pos),
		    &part[sec->nparts++]) == -1 || end + 1 == s.len)
			return imap_parse_bad(p, "Invalid section");
		pos = end == s.len ? end : end + 1;
	}
	copy = imap_parse_alloc(p, (sec->nparts + 1) * sizeof(*copy));
	memcpy(copy, part, sec->nparts * sizeof(*copy));
	sec->part = copy;
	rest = str_make(s.p + pos, s.len - pos);
	if (rest.len == 0)
		return 0;
	for (int t = IMAP_SECTION_HEADER; !binary && t <= IMAP_SECTION_MIME;
	    t++) {
		if (imap_parse_word(rest, imap_parse_fetch_texts[t]) &&
		    (t != IMAP_SECTION_MIME || sec->nparts > 0)) {
			sec->text = (enum imap_section_text)t;
			return 0;
		}
	}
	return imap_parse_bad(p, "Invalid section");
}

/* header-list: (astring ...) of RFC 5322 field names. */
static int
imap_parse_fetch_fields(struct imap_parser *p, const struct imap_arg *x,
    struct imap_section *sec)
{
	struct str *f;

	if (!imap_parse_is_list(x) || x->count == 0)
		return imap_parse_bad(p, "Invalid header field list");
	f = imap_parse_alloc(p, x->count * sizeof(*f));
	for (size_t i = 0; i < x->count; i++) {
		if (imap_parse_astring(p, &x->list[i], &f[i]) == -1)
			return -1;
		for (size_t k = 0; k < f[i].len; k++)
			if (f[i].p[k] <= 0x20 || f[i].p[k] >= 0x7f ||
			    f[i].p[k] == ':')
				return imap_parse_bad(p,
				    "Invalid header field name");
		if (f[i].len == 0)
			return imap_parse_bad(p, "Invalid header field name");
	}
	sec->fields = f;
	sec->nfields = x->count;
	return 0;
}

/* "<offset.count>" */
static int
imap_parse_fetch_partial(struct imap_parser *p, struct str s,
    struct imap_fetch_att *att)
{
	const char *dot;

	if (s.len < 5 || s.p[0] != '<' || s.p[s.len - 1] != '>' ||
	    (dot = memchr(s.p, '.', s.len)) == NULL ||
	    imap_parse_number64(str_make(s.p + 1, (size_t)(dot - s.p - 1)),
	    &att->offset) == -1 ||
	    imap_parse_number64(str_make(dot + 1, (size_t)(s.p + s.len - dot
	    - 2)), &att->count) == -1 || att->count == 0)
		return imap_parse_bad(p, "Invalid partial range");
	att->partial = true;
	return 0;
}

static int
imap_parse_fetch_section(struct imap_parser *p, const struct imap_arg *x,
    struct imap_fetch_att *att)
{
	size_t k, nk = sizeof(imap_parse_fetch_sections) /
	    sizeof(imap_parse_fetch_sections[0]);
	const struct imap_arg *ch = x->list;
	bool fields;

	for (k = 0; k < nk; k++)
		if (imap_parse_word(x->str, imap_parse_fetch_sections[k].name))
			break;
	if (k == nk)
		return imap_parse_bad(p, "Unknown FETCH item");
	att->item = imap_parse_fetch_sections[k].item;
	att->peek = k == 1 || k == 3;
	if (x->count > 0 && ch[0].type != IMAP_ARG_ATOM)
		return imap_parse_bad(p, "Invalid section");
	if (x->count > 0 && imap_parse_fetch_spec(p, ch[0].str, &att->sec,
	    att->item != IMAP_FETCH_BODY_SECTION) == -1)
		return -1;
	fields = att->sec.text == IMAP_SECTION_HEADER_FIELDS ||
	    att->sec.text == IMAP_SECTION_HEADER_FIELDS_NOT;
	if (x->count != (fields ? 2u : x->count > 0 ? 1u : 0u))
		return imap_parse_bad(p, "Invalid section");
	if (fields && imap_parse_fetch_fields(p, &ch[1], &att->sec) == -1)
		return -1;
	if (x->suffix.len == 0)
		return 0;
	if (att->item == IMAP_FETCH_BINARY_SIZE)
		return imap_parse_bad(p, "Invalid partial range");
	return imap_parse_fetch_partial(p, x->suffix, att);
}

static int
imap_parse_fetch_att(struct imap_parser *p, const struct imap_arg *x,
    struct imap_fetch_att *att)
{
	size_t nk = sizeof(imap_parse_fetch_items) /
	    sizeof(imap_parse_fetch_items[0]);

	memset(att, 0, sizeof(*att));
	if (x->type == IMAP_ARG_SECTION)
		return imap_parse_fetch_section(p, x, att);
	for (size_t k = 0; k < nk; k++) {
		if (imap_parse_is_atom(x, imap_parse_fetch_items[k].name)) {
			att->item = imap_parse_fetch_items[k].item;
			return 0;
		}
	}
	return imap_parse_bad(p, "Unknown FETCH item");
}

/* ALL, FAST, FULL (RFC 9051 §6.4.5). */
static bool
imap_parse_fetch_macro(struct imap_parser *p, const struct imap_arg *x,
    struct imap_command *c)
{
	static const enum imap_fetch_item all[] = { IMAP_FETCH_FLAGS,
	    IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	    IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY };
	struct imap_fetch_att *att;
	size_t n;

	if (imap_parse_is_atom(x, "FAST"))
		n = 3;
	else if (imap_parse_is_atom(x, "ALL"))
		n = 4;
	else if (imap_parse_is_atom(x, "FULL"))
		n = 5;
	else
		return false;
	att = imap_parse_alloc(p, n * sizeof(*att));
	for (size_t i = 0; i < n; i++)
		att[i].item = all[i];
	c->u.fetch.att = att;
	c->u.fetch.n = n;
	return true;
}

static int
imap_parse_fetch_mods(struct imap_parser *p, const struct imap_arg *x,
    struct imap_command *c)
{
	struct imap_pargs l;
	const struct imap_arg *e;

	if (!imap_parse_is_list(x) || x->count == 0)
		return imap_parse_bad(p, "Invalid FETCH modifiers");
	l = imap_parse_sub(x);
	while ((e = imap_parse_next(&l)) != NULL) {
		if (imap_parse_is_atom(e, "CHANGEDSINCE") &&
		    !c->u.fetch.has_changedsince) {
			c->u.fetch.has_changedsince = true;
			if (imap_parse_modseq(p, imap_parse_next(&l),
			    &c->u.fetch.changedsince, false) == -1)
				return -1;
		} else if (imap_parse_is_atom(e, "VANISHED") &&
		    !c->u.fetch.vanished)
			c->u.fetch.vanished = true;
		else
			return imap_parse_bad(p, "Unknown FETCH modifier");
	}
	/* RFC 7162 §3.2.6: UID FETCH with CHANGEDSINCE only */
	if (c->u.fetch.vanished && (!c->uid || !c->u.fetch.has_changedsince))
		return imap_parse_bad(p, "VANISHED needs UID FETCH and "
		    "CHANGEDSINCE");
	return 0;
}

int
imap_parse_fetch_args(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x, *list;
	struct imap_fetch_att *att;
	size_t n;

	if (imap_parse_arg_seqset(p, imap_parse_next(a), &c->u.fetch.set) == -1)
		return -1;
	if ((x = imap_parse_next(a)) == NULL)
		return imap_parse_bad(p, "Missing FETCH items");
	if (!imap_parse_fetch_macro(p, x, c)) {
		list = x->type == IMAP_ARG_LIST ? x->list : x;
		n = x->type == IMAP_ARG_LIST ? x->count : 1;
		if (n == 0)
			return imap_parse_bad(p, "Missing FETCH items");
		att = imap_parse_alloc(p, n * sizeof(*att));
		for (size_t i = 0; i < n; i++)
			if (imap_parse_fetch_att(p, &list[i], &att[i]) == -1)
				return -1;
		c->u.fetch.att = att;
		c->u.fetch.n = n;
	}
	if ((x = imap_parse_next(a)) == NULL)
		return 0;
	return imap_parse_fetch_mods(p, x, c);
}
