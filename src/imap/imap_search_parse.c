/* imap_search_parse.c: SEARCH programs (RFC 9051 §6.4.4 and RFC 3501
 * §6.4.4 keys, RFC 4731 RETURN, RFC 5182 "$", RFC 5032 OLDER/YOUNGER,
 * RFC 7162 MODSEQ) into a tree of struct imap_search_key. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/str.h"
#include "imap/imap_parse.h"
#include "imap/imap_parse_int.h"

enum imap_search_kind {
	SK_NONE,	/* no argument */
	SK_ASTRING,
	SK_DATE,
	SK_NUM64,	/* LARGER, SMALLER */
	SK_NZ,		/* OLDER, YOUNGER (seconds) */
	SK_KEYWORD,
	SK_SET,		/* UID */
	SK_HEADER,
	SK_NOT,
	SK_OR,
	SK_MODSEQ,
};

static const struct {
	const char		*name;
	enum imap_search_kind	 kind;
} imap_search_parse_defs[IMAP_SK_COUNT_] = {
	[IMAP_SK_AND] = { "", SK_NONE },
	[IMAP_SK_OR] = { "OR", SK_OR },
	[IMAP_SK_NOT] = { "NOT", SK_NOT },
	[IMAP_SK_SEQSET] = { "", SK_NONE },
	[IMAP_SK_ALL] = { "ALL", SK_NONE },
	[IMAP_SK_ANSWERED] = { "ANSWERED", SK_NONE },
	[IMAP_SK_DELETED] = { "DELETED", SK_NONE },
	[IMAP_SK_DRAFT] = { "DRAFT", SK_NONE },
	[IMAP_SK_FLAGGED] = { "FLAGGED", SK_NONE },
	[IMAP_SK_NEW] = { "NEW", SK_NONE },
	[IMAP_SK_OLD] = { "OLD", SK_NONE },
	[IMAP_SK_RECENT] = { "RECENT", SK_NONE },
	[IMAP_SK_SEEN] = { "SEEN", SK_NONE },
	[IMAP_SK_UNANSWERED] = { "UNANSWERED", SK_NONE },
	[IMAP_SK_UNDELETED] = { "UNDELETED", SK_NONE },
	[IMAP_SK_UNDRAFT] = { "UNDRAFT", SK_NONE },
	[IMAP_SK_UNFLAGGED] = { "UNFLAGGED", SK_NONE },
	[IMAP_SK_UNSEEN] = { "UNSEEN", SK_NONE },
	[IMAP_SK_BCC] = { "BCC", SK_ASTRING },
	[IMAP_SK_BODY] = { "BODY", SK_ASTRING },
	[IMAP_SK_CC] = { "CC", SK_ASTRING },
	[IMAP_SK_FROM] = { "FROM", SK_ASTRING },
	[IMAP_SK_SUBJECT] = { "SUBJECT", SK_ASTRING },
	[IMAP_SK_TEXT] = { "TEXT", SK_ASTRING },
	[IMAP_SK_TO] = { "TO", SK_ASTRING },
	[IMAP_SK_KEYWORD] = { "KEYWORD", SK_KEYWORD },
	[IMAP_SK_UNKEYWORD] = { "UNKEYWORD", SK_KEYWORD },
	[IMAP_SK_HEADER] = { "HEADER", SK_HEADER },
	[IMAP_SK_BEFORE] = { "BEFORE", SK_DATE },
	[IMAP_SK_ON] = { "ON", SK_DATE },
	[IMAP_SK_SINCE] = { "SINCE", SK_DATE },
	[IMAP_SK_SENTBEFORE] = { "SENTBEFORE", SK_DATE },
	[IMAP_SK_SENTON] = { "SENTON", SK_DATE },
	[IMAP_SK_SENTSINCE] = { "SENTSINCE", SK_DATE },
	[IMAP_SK_LARGER] = { "LARGER", SK_NUM64 },
	[IMAP_SK_SMALLER] = { "SMALLER", SK_NUM64 },
	[IMAP_SK_OLDER] = { "OLDER", SK_NZ },
	[IMAP_SK_YOUNGER] = { "YOUNGER", SK_NZ },
	[IMAP_SK_UID] = { "UID", SK_SET },
	[IMAP_SK_MODSEQ] = { "MODSEQ", SK_MODSEQ },
};

const char *
imap_search_parse_key_name(enum imap_search_op op)
{
	if (op < 0 || op >= IMAP_SK_COUNT_)
		return "";
	return imap_search_parse_defs[op].name;
}

static struct imap_search_key *imap_search_parse_key(struct imap_parser *p,
    struct imap_pargs *a, unsigned depth);

static struct imap_search_key *
imap_search_parse_fail(struct imap_parser *p, const char *text)
{
	imap_parse_bad(p, text);
	return NULL;
}

/* Keys up to the end of a: an AND list, linked by next. */
static struct imap_search_key *
imap_search_parse_list(struct imap_parser *p, struct imap_pargs *a,
    unsigned depth)
{
	struct imap_search_key *first = NULL, **tail = &first, *k;

	if (a->i == a->n)
		return imap_search_parse_fail(p, "Missing search key");
	while (a->i < a->n) {
		if ((k = imap_search_parse_key(p, a, depth)) == NULL)
			return NULL;
		*tail = k;
		tail = &k->next;
	}
	return first;
}

static struct imap_search_key *
imap_search_parse_new(struct imap_parser *p, enum imap_search_op op)
{
	struct imap_search_key *k = imap_parse_alloc(p, sizeof(*k));

	k->op = op;
	return k;
}

/* ( key ... ) */
static struct imap_search_key *
imap_search_parse_group(struct imap_parser *p, const struct imap_arg *x,
    unsigned depth)
{
	struct imap_pargs l = { x->list, x->count, 0 };
	struct imap_search_key *k = imap_search_parse_new(p, IMAP_SK_AND);

	if ((k->u.sub = imap_search_parse_list(p, &l, depth)) == NULL)
		return NULL;
	return k;
}

/* MODSEQ ["/flags/\Seen" priv|shared|all] n */
static int
imap_search_parse_modseq(struct imap_parser *p, struct imap_pargs *a,
    struct imap_search_key *k)
{
	static const char *const types[] = { "", "priv", "shared", "all" };
	const struct imap_arg *x = imap_parse_peek(a);

	if (x != NULL && x->type == IMAP_ARG_QUOTED) {
		imap_parse_next(a);
		if (x->str.len <= 7 || strncasecmp(x->str.p, "/flags/", 7) != 0)
			return imap_parse_bad(p, "Invalid MODSEQ entry name");
		k->u.modseq.entry = x->str;
		x = imap_parse_next(a);
		for (int t = IMAP_MODSEQ_ENTRY_PRIV; t <= IMAP_MODSEQ_ENTRY_ALL;
		    t++)
			if (imap_parse_is_atom(x, types[t]))
				k->u.modseq.type = (enum imap_modseq_entry)t;
		if (k->u.modseq.type == IMAP_MODSEQ_ENTRY_NONE)
			return imap_parse_bad(p, "Invalid MODSEQ entry type");
	}
	return imap_parse_arg_number64(p, imap_parse_next(a),
	    &k->u.modseq.value);
}

static int
imap_search_parse_nz(struct imap_parser *p, const struct imap_arg *x,
    uint64_t *r)
{
	uint32_t v;

	if (x == NULL || x->type != IMAP_ARG_ATOM ||
	    imap_parse_nz_number(x->str, &v) == -1)
		return imap_parse_bad(p, "Invalid number");
	*r = v;
	return 0;
}

/* The arguments of key k, by kind. */
static int
imap_search_parse_arg(struct imap_parser *p, struct imap_pargs *a,
    struct imap_search_key *k, unsigned depth)
{
	switch (imap_search_parse_defs[k->op].kind) {
	case SK_NONE:
		return 0;
	case SK_ASTRING:
		return imap_parse_astring(p, imap_parse_next(a), &k->u.str);
	case SK_DATE:
		return imap_parse_arg_date(p, imap_parse_next(a), &k->u.date);
	case SK_NUM64:
		return imap_parse_arg_number64(p, imap_parse_next(a),
		    &k->u.num);
	case SK_NZ:
		return imap_search_parse_nz(p, imap_parse_next(a), &k->u.num);
	case SK_KEYWORD:
		return imap_parse_keyword(p, imap_parse_next(a), &k->u.str);
	case SK_SET:
		return imap_parse_arg_seqset(p, imap_parse_next(a), &k->u.set);
	case SK_HEADER:
		if (imap_parse_astring(p, imap_parse_next(a),
		    &k->u.header.name) == -1)
			return -1;
		return imap_parse_astring(p, imap_parse_next(a),
		    &k->u.header.value);
	case SK_NOT:
		k->u.sub = imap_search_parse_key(p, a, depth + 1);
		return k->u.sub == NULL ? -1 : 0;
	case SK_OR:
		if ((k->u.or.a = imap_search_parse_key(p, a, depth + 1))
		    == NULL)
			return -1;
		k->u.or.b = imap_search_parse_key(p, a, depth + 1);
		return k->u.or.b == NULL ? -1 : 0;
	case SK_MODSEQ:
		return imap_search_parse_modseq(p, a, k);
	}
	return -1;
}

static struct imap_search_key *
imap_search_parse_key(struct imap_parser *p, struct imap_pargs *a,
    unsigned depth)
{
	const struct imap_arg *x = imap_parse_next(a);
	struct imap_search_key *k;
	int op;

	if (depth > IMAP_SEARCH_DEPTH_MAX)
		return imap_search_parse_fail(p, "Search program too deep");
	if (x == NULL)
		return imap_search_parse_fail(p, "Missing search key");
	if (x->type == IMAP_ARG_LIST)
		return imap_search_parse_group(p, x, depth + 1);
	if (x->type != IMAP_ARG_ATOM)
		return imap_search_parse_fail(p, "Invalid search key");
	if ((x->str.p[0] >= '0' && x->str.p[0] <= '9') || x->str.p[0] == '*' ||
	    x->str.p[0] == '$') {
		k = imap_search_parse_new(p, IMAP_SK_SEQSET);
		return imap_parse_arg_seqset(p, x, &k->u.set) == -1 ? NULL : k;
	}
	for (op = IMAP_SK_OR; op < IMAP_SK_COUNT_; op++)
		if (imap_search_parse_defs[op].name[0] != '\0' &&
		    imap_parse_word(x->str, imap_search_parse_defs[op].name))
			break;
	if (op == IMAP_SK_COUNT_)
		return imap_search_parse_fail(p, "Unknown search key");
	k = imap_search_parse_new(p, (enum imap_search_op)op);
	return imap_search_parse_arg(p, a, k, depth) == -1 ? NULL : k;
}

int
imap_search_parse_keys(struct imap_parser *p, struct imap_pargs *a,
    struct imap_search *s)
{
	s->root = imap_search_parse_new(p, IMAP_SK_AND);
	s->root->u.sub = imap_search_parse_list(p, a, 0);
	return s->root->u.sub == NULL ? -1 : 0;
}

int
imap_search_parse_return(struct imap_parser *p, struct imap_pargs *a,
    struct imap_search *s)
{
	static const char *const names[] = { "MIN", "MAX", "ALL", "COUNT",
	    "SAVE" };
	const struct imap_arg *x;
	size_t i, k;

	if (!imap_parse_is_atom(imap_parse_peek(a), "RETURN"))
		return 0;
	imap_parse_next(a);
	x = imap_parse_next(a);
	if (x == NULL || x->type != IMAP_ARG_LIST)
		return imap_parse_bad(p, "Invalid RETURN options");
	s->has_return = true;
	for (i = 0; i < x->count; i++) {
		for (k = 0; k < 5; k++)
			if (imap_parse_is_atom(&x->list[i], names[k]))
				break;
		if (k == 5)
			return imap_parse_bad(p, "Unknown RETURN option");
		s->ret |= 1u << k;
	}
	if (s->ret == 0)
		s->ret = IMAP_SEARCH_RET_ALL;	/* RFC 4731 §3.1 */
	return 0;
}

int
imap_search_parse_charset(struct imap_parser *p, const struct imap_arg *arg,
    struct imap_search *s)
{
	struct str cs;

	if (imap_parse_astring(p, arg, &cs) == -1)
		return -1;
	if (!imap_parse_word(cs, "UTF-8") && !imap_parse_word(cs, "US-ASCII"))
		return imap_parse_no(p, "BADCHARSET (US-ASCII UTF-8)",
		    "Unsupported charset");
	s->charset = imap_parse_upper(p, cs);
	return 0;
}

int
imap_search_parse(struct imap_parser *p, struct imap_pargs *a,
    struct imap_search *s)
{
	if (imap_search_parse_return(p, a, s) == -1)
		return -1;
	if (imap_parse_is_atom(imap_parse_peek(a), "CHARSET")) {
		imap_parse_next(a);
		if (imap_search_parse_charset(p, imap_parse_next(a), s) == -1)
			return -1;
	}
	return imap_search_parse_keys(p, a, s);
}
