/* imap_parse_cmd.c: each command's arguments, typed and checked (RFC
 * 9051 §9 and the extensions of doc/IMAP.md).  Works on the tree the
 * reader built; SEARCH keys are in imap_search_parse.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_parse.h"
#include "imap/imap_parse_int.h"
#include "imap/imap_utf7.h"

typedef int imap_parse_cmd_fn(struct imap_parser *, struct imap_command *,
    struct imap_pargs *);

struct imap_parse_cmd_def {
	const char		*name;
	bool			 uid;	/* has a UID form */
	imap_parse_cmd_fn	*fn;	/* NULL: no arguments */
};

static const struct imap_parse_cmd_def imap_parse_cmds[IMAP_CMD_COUNT_];

/* --- shared pieces ------------------------------------------------------ */

/* The name a mailbox argument stands for: UTF-8 or mUTF-7 on the wire,
 * "INBOX" upper-cased. */
static void
imap_parse_cmd_decode(struct imap_parser *p, struct imap_mailbox *m)
{
	struct str w = m->wire;
	char *name;

	buf_reset(&p->scratch);
	if (w.len > 4 * IMAP_MAILBOX_NAME_MAX) {
		m->err = "Mailbox name too long";
		return;
	}
	if (p->flags & IMAP_PARSE_F_UTF8) {
		if (!imap_utf7_utf8_valid(w)) {
			m->err = "Mailbox name is not valid UTF-8";
			return;
		}
		(void)buf_append(&p->scratch, w.p, w.len);
	} else if (imap_utf7_to_utf8(w, &p->scratch) == -1) {
		m->err = "Mailbox name is not valid modified UTF-7";
		return;
	}
	name = imap_parse_alloc(p, p->scratch.len + 1);
	if (p->scratch.len > 0)
		memcpy(name, p->scratch.p, p->scratch.len);
	if (p->scratch.len >= 5 && strncasecmp(name, "INBOX", 5) == 0 &&
	    (p->scratch.len == 5 || name[5] == IMAP_MAILBOX_SEP))
		memcpy(name, "INBOX", 5);
	m->name = str_make(name, p->scratch.len);
}

/* mailbox (astring), or with pattern list-mailbox (wildcards allowed,
 * name not checked). */
static int
imap_parse_cmd_mailbox(struct imap_parser *p, const struct imap_arg *a,
    struct imap_mailbox *m, bool pattern)
{
	memset(m, 0, sizeof(*m));
	if (pattern && a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_NIL)) {
		if (!imap_parse_atom_only(a->str, "%*]"))
			return imap_parse_bad(p, "Invalid mailbox pattern");
		m->wire = a->str;
	} else if (imap_parse_astring(p, a, &m->wire) == -1)
		return -1;
	imap_parse_cmd_decode(p, m);
	if (!pattern && m->err == NULL)
		(void)imap_utf7_mailbox_check(m->name, &m->err);
	return 0;
}

static const struct {
	const char	*name;
	unsigned	 bit;
} imap_parse_cmd_sysflags[] = {
	{ "\\Answered", IMAP_FLAG_ANSWERED },
	{ "\\Flagged", IMAP_FLAG_FLAGGED },
	{ "\\Deleted", IMAP_FLAG_DELETED },
	{ "\\Seen", IMAP_FLAG_SEEN },
	{ "\\Draft", IMAP_FLAG_DRAFT },
};

/* flag (STORE, APPEND): a system flag other than \Recent, or a keyword;
 * kw has room for every argument. */
static int
imap_parse_cmd_flag(struct imap_parser *p, const struct imap_arg *a,
    struct imap_flags *f, struct str *kw)
{
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return imap_parse_bad(p, "Invalid flag");
	if (a->str.p[0] != '\\')
		return imap_parse_keyword(p, a, &kw[f->nkw++]);
	for (size_t i = 0; i < sizeof(imap_parse_cmd_sysflags) /
	    sizeof(imap_parse_cmd_sysflags[0]); i++) {
		if (imap_parse_word(a->str, imap_parse_cmd_sysflags[i].name)) {
			f->sys |= imap_parse_cmd_sysflags[i].bit;
			return 0;
		}
	}
	return imap_parse_bad(p, imap_parse_word(a->str, "\\Recent") ?
	    "\\Recent cannot be set" : "Invalid system flag");
}

static int
imap_parse_cmd_flags(struct imap_parser *p, const struct imap_arg *a,
    size_t n, struct imap_flags *f)
{
	struct str *kw = imap_parse_alloc(p, (n + 1) * sizeof(*kw));

	memset(f, 0, sizeof(*f));
	f->kw = kw;
	for (size_t i = 0; i < n; i++)
		if (imap_parse_cmd_flag(p, &a[i], f, kw) == -1)
			return -1;
	return 0;
}

/* --- commands without mailboxes ----------------------------------------- */

static int
imap_parse_cmd_login(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	if (imap_parse_astring(p, imap_parse_next(a), &c->u.login.user) == -1)
		return -1;
	return imap_parse_astring(p, imap_parse_next(a), &c->u.login.pass);
}

static bool
imap_parse_cmd_base64(struct str s)
{
	size_t pad = 0;

	if (s.len % 4 != 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char ch = s.p[i];

		if (ch == '=')
			pad++;
		else if (pad > 0 || !((ch >= 'A' && ch <= 'Z') ||
		    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '+' || ch == '/'))
			return false;
	}
	return pad <= 2;
}

/* AUTHENTICATE mech [initial-response] (RFC 4959: "=" is empty). */
static int
imap_parse_cmd_authenticate(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *mech = imap_parse_next(a), *ir;

	if (mech == NULL || mech->type != IMAP_ARG_ATOM ||
	    !imap_parse_atom_only(mech->str, ""))
		return imap_parse_bad(p, "Invalid SASL mechanism");
	c->u.auth.mech = imap_parse_upper(p, mech->str);
	if ((ir = imap_parse_next(a)) == NULL)
		return 0;
	if (ir->type != IMAP_ARG_ATOM)
		return imap_parse_bad(p, "Invalid initial response");
	c->u.auth.has_ir = true;
	if (ir->str.len == 1 && ir->str.p[0] == '=')
		return 0;
	if (!imap_parse_cmd_base64(ir->str))
		return imap_parse_bad(p, "Invalid base64 initial response");
	c->u.auth.ir = ir->str;
	return 0;
}

static int
imap_parse_cmd_enable(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	struct str *caps = imap_parse_alloc(p, (a->n + 1) * sizeof(*caps));
	const struct imap_arg *x;

	if (a->n == 0)
		return imap_parse_bad(p, "Missing capability");
	while ((x = imap_parse_next(a)) != NULL) {
		if (x->type != IMAP_ARG_ATOM ||
		    !imap_parse_atom_only(x->str, ""))
			return imap_parse_bad(p, "Invalid capability");
		caps[c->u.enable.n++] = imap_parse_upper(p, x->str);
	}
	c->u.enable.caps = caps;
	return 0;
}

/* ID NIL / ID ("key" "value" "key" NIL ...) (RFC 2971). */
static int
imap_parse_cmd_id(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x = imap_parse_next(a);
	struct str *kv;

	if (x != NULL && x->type == IMAP_ARG_NIL)
		return 0;
	if (!imap_parse_is_list(x) || x->count % 2 != 0)
		return imap_parse_bad(p, "Invalid ID parameters");
	if (x->count / 2 > IMAP_ID_PAIRS_MAX)
		return imap_parse_bad(p, "Too many ID parameters");
	kv = imap_parse_alloc(p, (x->count + 1) * sizeof(*kv));
	for (size_t i = 0; i < x->count; i++) {
		const struct imap_arg *e = &x->list[i];

		if (i % 2 == 1 && e->type == IMAP_ARG_NIL)
			continue;		/* kv[i].p stays NULL */
		if (imap_parse_string(p, e, &kv[i]) == -1)
			return -1;
		if (kv[i].len > (i % 2 == 0 ? 30 : 1024))
			return imap_parse_bad(p, "ID parameter too long");
	}
	c->u.id.kv = kv;
	c->u.id.n = x->count / 2;
	return 0;
}

/* --- mailbox commands --------------------------------------------------- */

static int
imap_parse_cmd_qresync(struct imap_parser *p, const struct imap_arg *x,
    struct imap_command *c)
{
	struct imap_pargs l;
	const struct imap_arg *e;
	uint64_t v;

	if (!imap_parse_is_list(x))
		return imap_parse_bad(p, "Invalid QRESYNC parameters");
	l = imap_parse_sub(x);
	e = imap_parse_next(&l);
	if (e == NULL || e->type != IMAP_ARG_ATOM ||
	    imap_parse_nz_number(e->str, &c->u.select.uidvalidity) == -1)
		return imap_parse_bad(p, "Invalid QRESYNC UIDVALIDITY");
	if (imap_parse_modseq(p, imap_parse_next(&l), &v, false) == -1)
		return -1;
	c->u.select.modseq = v;
	e = imap_parse_next(&l);
	if (e != NULL && e->type == IMAP_ARG_ATOM) {
		c->u.select.has_known_uids = true;
		if (imap_parse_arg_seqset(p, e, &c->u.select.known_uids) == -1)
			return -1;
		e = imap_parse_next(&l);
	}
	if (e == NULL)
		return 0;
	if (!imap_parse_is_list(e) || e->count != 2 ||
	    imap_parse_next(&l) != NULL)
		return imap_parse_bad(p, "Invalid QRESYNC parameters");
	c->u.select.has_seq_match = true;
	if (imap_parse_arg_seqset(p, &e->list[0], &c->u.select.match_seqs)
	    == -1)
		return -1;
	return imap_parse_arg_seqset(p, &e->list[1], &c->u.select.match_uids);
}

/* SELECT / EXAMINE mailbox [(CONDSTORE QRESYNC (...))] (RFC 7162). */
static int
imap_parse_cmd_select(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x;
	struct imap_pargs l;

	if (imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.select.mbox,
	    false) == -1)
		return -1;
	if ((x = imap_parse_next(a)) == NULL)
		return 0;
	if (!imap_parse_is_list(x) || x->count == 0)
		return imap_parse_bad(p, "Invalid SELECT parameters");
	l = imap_parse_sub(x);
	while ((x = imap_parse_next(&l)) != NULL) {
		if (imap_parse_is_atom(x, "CONDSTORE") &&
		    !c->u.select.condstore)
			c->u.select.condstore = true;
		else if (imap_parse_is_atom(x, "QRESYNC") &&
		    !c->u.select.qresync) {
			c->u.select.qresync = true;
			if (imap_parse_cmd_qresync(p, imap_parse_next(&l), c)
			    == -1)
				return -1;
		} else
			return imap_parse_bad(p, "Unknown SELECT parameter");
	}
	return 0;
}

static const struct {
	const char	*name;
	unsigned	 bit;
} imap_parse_cmd_uses[] = {
	{ "\\All", IMAP_USE_ALL }, { "\\Archive", IMAP_USE_ARCHIVE },
	{ "\\Drafts", IMAP_USE_DRAFTS }, { "\\Flagged", IMAP_USE_FLAGGED },
	{ "\\Junk", IMAP_USE_JUNK }, { "\\Sent", IMAP_USE_SENT },
	{ "\\Trash", IMAP_USE_TRASH },
};

static int
imap_parse_cmd_use(struct imap_parser *p, const struct imap_arg *x,
    unsigned *use)
{
	size_t i, k;

	if (!imap_parse_is_list(x))
		return imap_parse_bad(p, "Invalid USE parameter");
	for (i = 0; i < x->count; i++) {
		for (k = 0; k < sizeof(imap_parse_cmd_uses) /
		    sizeof(imap_parse_cmd_uses[0]); k++)
			if (imap_parse_is_atom(&x->list[i],
			    imap_parse_cmd_uses[k].name))
				break;
		if (k == sizeof(imap_parse_cmd_uses) /
		    sizeof(imap_parse_cmd_uses[0]))
			return imap_parse_no(p, "USEATTR",
			    "Unsupported special-use attribute");
		*use |= imap_parse_cmd_uses[k].bit;
	}
	return 0;
}

/* CREATE mailbox [(USE (\Sent ...))] (RFC 6154 §3). */
static int
imap_parse_cmd_create(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x;
	struct imap_pargs l;

	if (imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.create.mbox,
	    false) == -1)
		return -1;
	if ((x = imap_parse_next(a)) == NULL)
		return 0;
	if (!imap_parse_is_list(x) || x->count == 0)
		return imap_parse_bad(p, "Invalid CREATE parameters");
	l = imap_parse_sub(x);
	while ((x = imap_parse_next(&l)) != NULL) {
		if (!imap_parse_is_atom(x, "USE") || c->u.create.use != 0)
			return imap_parse_bad(p, "Unknown CREATE parameter");
		if (imap_parse_cmd_use(p, imap_parse_next(&l),
		    &c->u.create.use) == -1)
			return -1;
	}
	return 0;
}

static int
imap_parse_cmd_onebox(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	return imap_parse_cmd_mailbox(p, imap_parse_next(a),
	    &c->u.mailbox.mbox, false);
}

static int
imap_parse_cmd_rename(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	if (imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.rename.from,
	    false) == -1)
		return -1;
	return imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.rename.to,
	    false);
}

static const struct {
	const char	*name;
	unsigned	 bit;
} imap_parse_cmd_status_names[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "DELETED", IMAP_STATUS_DELETED },
	{ "SIZE", IMAP_STATUS_SIZE },
	{ "RECENT", IMAP_STATUS_RECENT },
	{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
};

static int
imap_parse_cmd_status_items(struct imap_parser *p, const struct imap_arg *x,
    unsigned *items)
{
	size_t i, k, nk = sizeof(imap_parse_cmd_status_names) /
	    sizeof(imap_parse_cmd_status_names[0]);

	if (!imap_parse_is_list(x) || x->count == 0)
		return imap_parse_bad(p, "Invalid STATUS items");
	for (i = 0; i < x->count; i++) {
		for (k = 0; k < nk; k++)
			if (imap_parse_is_atom(&x->list[i],
			    imap_parse_cmd_status_names[k].name))
				break;
		if (k == nk)
			return imap_parse_bad(p, "Unknown STATUS item");
		*items |= imap_parse_cmd_status_names[k].bit;
	}
	return 0;
}

static int
imap_parse_cmd_status(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	if (imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.status.mbox,
	    false) == -1)
		return -1;
	return imap_parse_cmd_status_items(p, imap_parse_next(a),
	    &c->u.status.items);
}

/* --- LIST, LSUB --------------------------------------------------------- */

static const struct {
	const char	*name;
	unsigned	 bit;
} imap_parse_cmd_listsel[] = {
	{ "SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED },
	{ "REMOTE", IMAP_LIST_SEL_REMOTE },
	{ "RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH },
	{ "SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE },
}, imap_parse_cmd_listret[] = {
	{ "SUBSCRIBED", IMAP_LIST_RET_SUBSCRIBED },
	{ "CHILDREN", IMAP_LIST_RET_CHILDREN },
	{ "SPECIAL-USE", IMAP_LIST_RET_SPECIAL_USE },
	{ "STATUS", IMAP_LIST_RET_STATUS },
};

static unsigned
imap_parse_cmd_listopt(const struct imap_arg *x, bool ret)
{
	for (size_t k = 0; k < 4; k++) {
		if (!ret && imap_parse_is_atom(x, imap_parse_cmd_listsel[k].name))
			return imap_parse_cmd_listsel[k].bit;
		if (ret && imap_parse_is_atom(x, imap_parse_cmd_listret[k].name))
			return imap_parse_cmd_listret[k].bit;
	}
	return 0;
}

static int
imap_parse_cmd_listsel_opts(struct imap_parser *p, const struct imap_arg *x,
    unsigned *sel)
{
	unsigned bit;

	for (size_t i = 0; i < x->count; i++) {
		if ((bit = imap_parse_cmd_listopt(&x->list[i], false)) == 0)
			return imap_parse_bad(p, "Unknown LIST selection option");
		*sel |= bit;
	}
	/* RFC 5258 §3.1: RECURSIVEMATCH needs another selection option */
	if ((*sel & IMAP_LIST_SEL_RECURSIVEMATCH) &&
	    (*sel & ~(IMAP_LIST_SEL_RECURSIVEMATCH | IMAP_LIST_SEL_REMOTE))
	    == 0)
		return imap_parse_bad(p, "RECURSIVEMATCH needs a selection");
	return 0;
}

static int
imap_parse_cmd_listret_opts(struct imap_parser *p, const struct imap_arg *x,
    struct imap_command *c)
{
	struct imap_pargs l;
	const struct imap_arg *e;
	unsigned bit;

	if (!imap_parse_is_list(x))
		return imap_parse_bad(p, "Invalid LIST return options");
	l = imap_parse_sub(x);
	while ((e = imap_parse_next(&l)) != NULL) {
		if ((bit = imap_parse_cmd_listopt(e, true)) == 0)
			return imap_parse_bad(p, "Unknown LIST return option");
		c->u.list.ret |= bit;
		if (bit == IMAP_LIST_RET_STATUS &&
		    imap_parse_cmd_status_items(p, imap_parse_next(&l),
		    &c->u.list.status) == -1)
			return -1;
	}
	return 0;
}

static int
imap_parse_cmd_patterns(struct imap_parser *p, const struct imap_arg *x,
    struct imap_command *c)
{
	struct imap_mailbox *pat;
	size_t n = 1;

	if (imap_parse_is_list(x)) {
		if (c->id != IMAP_CMD_LIST || x->count == 0)
			return imap_parse_bad(p, "Invalid mailbox pattern");
		c->u.list.extended = true;
		n = x->count;
	}
	pat = imap_parse_alloc(p, n * sizeof(*pat));
	for (size_t i = 0; i < n; i++)
		if (imap_parse_cmd_mailbox(p, x->type == IMAP_ARG_LIST ?
		    &x->list[i] : x, &pat[i], true) == -1)
			return -1;
	c->u.list.pat = pat;
	c->u.list.npat = n;
	return 0;
}

/* LIST [(sel)] ref (pat | (pat ...)) [RETURN (ret)] (RFC 5258); LSUB ref
 * pat. */
static int
imap_parse_cmd_list(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x = imap_parse_peek(a);

	if (c->id == IMAP_CMD_LIST && imap_parse_is_list(x)) {
		c->u.list.extended = true;
		if (imap_parse_cmd_listsel_opts(p, imap_parse_next(a),
		    &c->u.list.sel) == -1)
			return -1;
	}
	if (imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.list.ref,
	    true) == -1)
		return -1;
	if ((x = imap_parse_next(a)) == NULL)
		return imap_parse_bad(p, "Missing mailbox pattern");
	if (imap_parse_cmd_patterns(p, x, c) == -1)
		return -1;
	if (c->id != IMAP_CMD_LIST || (x = imap_parse_next(a)) == NULL)
		return 0;
	if (!imap_parse_is_atom(x, "RETURN"))
		return imap_parse_bad(p, "Unexpected extra arguments");
	c->u.list.extended = true;
	return imap_parse_cmd_listret_opts(p, imap_parse_next(a), c);
}

/* --- APPEND, COPY, MOVE, EXPUNGE ---------------------------------------- */

static int
imap_parse_cmd_append(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x;

	if (imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.append.mbox,
	    false) == -1)
		return -1;
	x = imap_parse_next(a);
	if (imap_parse_is_list(x)) {
		if (imap_parse_cmd_flags(p, x->list, x->count,
		    &c->u.append.flags) == -1)
			return -1;
		x = imap_parse_next(a);
	}
	if (x != NULL && x->type == IMAP_ARG_QUOTED) {
		if (imap_parse_datetime(x->str, &c->u.append.date) == -1)
			return imap_parse_bad(p, "Invalid date-time");
		c->u.append.has_date = true;
		x = imap_parse_next(a);
	}
	if (x == NULL || x->type != IMAP_ARG_LITERAL)
		return imap_parse_bad(p, "Missing message literal");
	c->u.append.msg = x->str;
	c->u.append.binary = x->lit8;
	return 0;
}

static int
imap_parse_cmd_copy(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	if (imap_parse_arg_seqset(p, imap_parse_next(a), &c->u.copy.set) == -1)
		return -1;
	return imap_parse_cmd_mailbox(p, imap_parse_next(a), &c->u.copy.mbox,
	    false);
}

static int
imap_parse_cmd_expunge(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	if (!c->uid)
		return 0;
	return imap_parse_arg_seqset(p, imap_parse_next(a),
	    &c->u.expunge.set);
}

/* --- STORE -------------------------------------------------------------- */

/* [+|-]FLAGS[.SILENT] */
static int
imap_parse_cmd_store_op(struct imap_parser *p, const struct imap_arg *x,
    struct imap_command *c)
{
	struct str s;

	if (x == NULL || x->type != IMAP_ARG_ATOM)
		return imap_parse_bad(p, "Invalid STORE item");
	s = x->str;
	c->u.store.op = IMAP_STORE_SET;
	if (s.p[0] == '+' || s.p[0] == '-') {
		c->u.store.op = s.p[0] == '+' ? IMAP_STORE_ADD :
		    IMAP_STORE_REMOVE;
		s.p++, s.len--;
	}
	if (imap_parse_word(s, "FLAGS.SILENT"))
		c->u.store.silent = true;
	else if (!imap_parse_word(s, "FLAGS"))
		return imap_parse_bad(p, "Invalid STORE item");
	return 0;
}

static int
imap_parse_cmd_store(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x, *m;

	if (imap_parse_arg_seqset(p, imap_parse_next(a), &c->u.store.set) == -1)
		return -1;
	x = imap_parse_next(a);
	if (imap_parse_is_list(x)) {	/* (UNCHANGEDSINCE n) */
		m = x->list;
		if (x->count != 2 || !imap_parse_is_atom(m, "UNCHANGEDSINCE"))
			return imap_parse_bad(p, "Invalid STORE modifier");
		if (imap_parse_modseq(p, &m[1], &c->u.store.unchangedsince,
		    true) == -1)
			return -1;
		c->u.store.has_unchangedsince = true;
		x = imap_parse_next(a);
	}
	if (imap_parse_cmd_store_op(p, x, c) == -1)
		return -1;
	x = imap_parse_next(a);
	if (x == NULL)
		return imap_parse_bad(p, "Missing flags");
	if (imap_parse_is_list(x) && a->i == a->n)
		return imap_parse_cmd_flags(p, x->list, x->count,
		    &c->u.store.flags);
	a->i = a->n;
	return imap_parse_cmd_flags(p, x, (size_t)(&a->a[a->n] - x),
	    &c->u.store.flags);
}

/* --- SEARCH, SORT, THREAD ----------------------------------------------- */

static int
imap_parse_cmd_search(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	return imap_search_parse(p, a, &c->u.search);
}

static const char *const imap_parse_cmd_sortkeys[] = {
	[IMAP_SORT_ARRIVAL] = "ARRIVAL", [IMAP_SORT_CC] = "CC",
	[IMAP_SORT_DATE] = "DATE", [IMAP_SORT_FROM] = "FROM",
	[IMAP_SORT_SIZE] = "SIZE", [IMAP_SORT_SUBJECT] = "SUBJECT",
	[IMAP_SORT_TO] = "TO", [IMAP_SORT_DISPLAYFROM] = "DISPLAYFROM",
	[IMAP_SORT_DISPLAYTO] = "DISPLAYTO",
};

static int
imap_parse_cmd_sort_crit(struct imap_parser *p, const struct imap_arg *x,
    struct imap_command *c)
{
	struct imap_sort_crit *crit;
	size_t i, k, n = 0;
	bool rev = false;

	if (!imap_parse_is_list(x) || x->count == 0)
		return imap_parse_bad(p, "Invalid sort criteria");
	crit = imap_parse_alloc(p, x->count * sizeof(*crit));
	for (i = 0; i < x->count; i++) {
		if (!rev && imap_parse_is_atom(&x->list[i], "REVERSE")) {
			rev = true;
			continue;
		}
		for (k = 0; k <= IMAP_SORT_DISPLAYTO; k++)
			if (imap_parse_is_atom(&x->list[i],
			    imap_parse_cmd_sortkeys[k]))
				break;
		if (k > IMAP_SORT_DISPLAYTO)
			return imap_parse_bad(p, "Invalid sort criteria");
		crit[n].key = (enum imap_sort_key)k;
		crit[n++].reverse = rev;
		rev = false;
	}
	if (rev)
		return imap_parse_bad(p, "Invalid sort criteria");
	c->u.sort.crit = crit;
	c->u.sort.n = n;
	return 0;
}

/* SORT [RETURN (...)] (criteria) charset keys (RFC 5256, 5267). */
static int
imap_parse_cmd_sort(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	struct imap_search *s = &c->u.sort.search;

	if (imap_search_parse_return(p, a, s) == -1 ||
	    imap_parse_cmd_sort_crit(p, imap_parse_next(a), c) == -1 ||
	    imap_search_parse_charset(p, imap_parse_next(a), s) == -1)
		return -1;
	return imap_search_parse_keys(p, a, s);
}

static int
imap_parse_cmd_thread(struct imap_parser *p, struct imap_command *c,
    struct imap_pargs *a)
{
	const struct imap_arg *x = imap_parse_next(a);

	if (imap_parse_is_atom(x, "ORDEREDSUBJECT"))
		c->u.thread.alg = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_parse_is_atom(x, "REFERENCES"))
		c->u.thread.alg = IMAP_THREAD_REFERENCES;
	else
		return imap_parse_bad(p, "Unknown THREAD algorithm");
	if (imap_search_parse_charset(p, imap_parse_next(a),
	    &c->u.thread.search) == -1)
		return -1;
	return imap_search_parse_keys(p, a, &c->u.thread.search);
}

/* --- the table ---------------------------------------------------------- */

static const struct imap_parse_cmd_def imap_parse_cmds[IMAP_CMD_COUNT_] = {
	[IMAP_CMD_CAPABILITY] =	{ "CAPABILITY", false, NULL },
	[IMAP_CMD_NOOP] =	{ "NOOP", false, NULL },
	[IMAP_CMD_LOGOUT] =	{ "LOGOUT", false, NULL },
	[IMAP_CMD_STARTTLS] =	{ "STARTTLS", false, NULL },
	[IMAP_CMD_AUTHENTICATE] = { "AUTHENTICATE", false,
				    imap_parse_cmd_authenticate },
	[IMAP_CMD_LOGIN] =	{ "LOGIN", false, imap_parse_cmd_login },
	[IMAP_CMD_ENABLE] =	{ "ENABLE", false, imap_parse_cmd_enable },
	[IMAP_CMD_ID] =		{ "ID", false, imap_parse_cmd_id },
	[IMAP_CMD_SELECT] =	{ "SELECT", false, imap_parse_cmd_select },
	[IMAP_CMD_EXAMINE] =	{ "EXAMINE", false, imap_parse_cmd_select },
	[IMAP_CMD_CREATE] =	{ "CREATE", false, imap_parse_cmd_create },
	[IMAP_CMD_DELETE] =	{ "DELETE", false, imap_parse_cmd_onebox },
	[IMAP_CMD_RENAME] =	{ "RENAME", false, imap_parse_cmd_rename },
	[IMAP_CMD_SUBSCRIBE] =	{ "SUBSCRIBE", false, imap_parse_cmd_onebox },
	[IMAP_CMD_UNSUBSCRIBE] = { "UNSUBSCRIBE", false,
				   imap_parse_cmd_onebox },
	[IMAP_CMD_LIST] =	{ "LIST", false, imap_parse_cmd_list },
	[IMAP_CMD_LSUB] =	{ "LSUB", false, imap_parse_cmd_list },
	[IMAP_CMD_NAMESPACE] =	{ "NAMESPACE", false, NULL },
	[IMAP_CMD_STATUS] =	{ "STATUS", false, imap_parse_cmd_status },
	[IMAP_CMD_APPEND] =	{ "APPEND", false, imap_parse_cmd_append },
	[IMAP_CMD_IDLE] =	{ "IDLE", false, NULL },
	[IMAP_CMD_CHECK] =	{ "CHECK", false, NULL },
	[IMAP_CMD_CLOSE] =	{ "CLOSE", false, NULL },
	[IMAP_CMD_UNSELECT] =	{ "UNSELECT", false, NULL },
	[IMAP_CMD_EXPUNGE] =	{ "EXPUNGE", true, imap_parse_cmd_expunge },
	[IMAP_CMD_SEARCH] =	{ "SEARCH", true, imap_parse_cmd_search },
	[IMAP_CMD_FETCH] =	{ "FETCH", true, imap_parse_fetch_args },
	[IMAP_CMD_STORE] =	{ "STORE", true, imap_parse_cmd_store },
	[IMAP_CMD_COPY] =	{ "COPY", true, imap_parse_cmd_copy },
	[IMAP_CMD_MOVE] =	{ "MOVE", true, imap_parse_cmd_copy },
	[IMAP_CMD_SORT] =	{ "SORT", true, imap_parse_cmd_sort },
	[IMAP_CMD_THREAD] =	{ "THREAD", true, imap_parse_cmd_thread },
};

enum imap_cmd_id
imap_parse_cmd_lookup(struct str name, bool uid)
{
	for (int i = 1; i < IMAP_CMD_COUNT_; i++)
		if (imap_parse_word(name, imap_parse_cmds[i].name) &&
		    (!uid || imap_parse_cmds[i].uid))
			return (enum imap_cmd_id)i;
	return IMAP_CMD_NONE;
}

const char *
imap_parse_cmd_name(enum imap_cmd_id id)
{
	if (id <= IMAP_CMD_NONE || id >= IMAP_CMD_COUNT_)
		return "?";
	return imap_parse_cmds[id].name;
}

int
imap_parse_cmd_args(struct imap_parser *p, struct imap_command *c)
{
	struct imap_pargs a = { c->args, c->argc, 0 };
	const struct imap_parse_cmd_def *d = &imap_parse_cmds[c->id];

	if (d->fn != NULL && d->fn(p, c, &a) == -1)
		return -1;
	if (a.i < a.n)
		return imap_parse_bad(p, "Unexpected extra arguments");
	return 0;
}
