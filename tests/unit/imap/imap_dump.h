/* imap_dump.h: print a parsed IMAP command in a canonical form, which
 * is itself valid IMAP (parsing it again gives the same form), and drive
 * the parser over input cut at chosen offsets, logging every event.
 * Shared by tests/unit/imap/imap_parse_test.c and fuzz/fuzz_imap.c. */
#ifndef FACTEUR_TESTS_IMAP_DUMP_H
#define FACTEUR_TESTS_IMAP_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_parse.h"

#define DUMP_MAX	(64u * 1024 * 1024)

static void
dump_raw(struct buf *b, const char *p, size_t n)
{
	(void)buf_append(b, p, n);
}

static void
dump_s(struct buf *b, const char *s)
{
	(void)buf_append_str(b, s);
}

/* A string: quoted, or a literal when it holds CR, LF or NUL. */
static void
dump_string(struct buf *b, struct str s)
{
	if (memchr(s.p, '\r', s.len) || memchr(s.p, '\n', s.len) ||
	    memchr(s.p, '\0', s.len)) {
		(void)buf_printf(b, "{%zu+}\r\n", s.len);
		dump_raw(b, s.p, s.len);
		return;
	}
	dump_s(b, "\"");
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\')
			dump_s(b, "\\");
		dump_raw(b, &s.p[i], 1);
	}
	dump_s(b, "\"");
}

/* An atom when it can be one (the bytes in also allowed too), else a
 * string. */
static void
dump_atom_or_string(struct buf *b, struct str s, const char *also)
{
	bool atom = s.len > 0 && !str_eq_ci_cstr(s, "NIL");

	for (size_t i = 0; i < s.len && atom; i++) {
		unsigned char c = (unsigned char)s.p[i];

		atom = c > 0x20 && c < 0x7f && (strchr("(){\"%*\\", c) == NULL
		    || strchr(also, c) != NULL);
	}
	if (atom)
		dump_raw(b, s.p, s.len);
	else
		dump_string(b, s);
}

static void
dump_astring(struct buf *b, struct str s)
{
	dump_atom_or_string(b, s, "");
}

static void
dump_nstring(struct buf *b, struct str s)
{
	if (s.p == NULL)
		dump_s(b, "NIL");
	else
		dump_string(b, s);
}

static void
dump_seqnum(struct buf *b, uint32_t n)
{
	if (n == IMAP_SEQ_STAR)
		dump_s(b, "*");
	else
		(void)buf_printf(b, "%u", n);
}

static void
dump_seqset(struct buf *b, const struct imap_seqset *set)
{
	if (set->last) {
		dump_s(b, "$");
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (i > 0)
			dump_s(b, ",");
		dump_seqnum(b, set->r[i].lo);
		if (set->r[i].hi != set->r[i].lo) {
			dump_s(b, ":");
			dump_seqnum(b, set->r[i].hi);
		}
	}
}

static const char *const dump_months[] = { "", "Jan", "Feb", "Mar", "Apr",
    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static void
dump_date(struct buf *b, const struct imap_date *d)
{
	(void)buf_printf(b, "%u-%s-%04u", d->day, dump_months[d->mon], d->year);
}

static void
dump_datetime(struct buf *b, const struct imap_datetime *dt)
{
	int z = dt->zone < 0 ? -dt->zone : dt->zone;

	(void)buf_printf(b, "\"%2u-%s-%04u %02u:%02u:%02u %c%02d%02d\"",
	    dt->date.day, dump_months[dt->date.mon], dt->date.year, dt->hour,
	    dt->min, dt->sec, dt->zone < 0 ? '-' : '+', z / 60, z % 60);
}

static void
dump_flags(struct buf *b, const struct imap_flags *f)
{
	static const char *const sys[] = { "\\Answered", "\\Flagged",
	    "\\Deleted", "\\Seen", "\\Draft" };
	bool sp = false;

	dump_s(b, "(");
	for (unsigned i = 0; i < 5; i++) {
		if (f->sys & (1u << i)) {
			dump_s(b, sp ? " " : "");
			dump_s(b, sys[i]);
			sp = true;
		}
	}
	for (size_t i = 0; i < f->nkw; i++) {
		dump_s(b, sp ? " " : "");
		dump_raw(b, f->kw[i].p, f->kw[i].len);
		sp = true;
	}
	dump_s(b, ")");
}

static void
dump_bits(struct buf *b, unsigned bits, const char *const *names, size_t n)
{
	bool sp = false;

	dump_s(b, "(");
	for (size_t i = 0; i < n; i++) {
		if (bits & (1u << i)) {
			dump_s(b, sp ? " " : "");
			dump_s(b, names[i]);
			sp = true;
		}
	}
	dump_s(b, ")");
}

static const char *const dump_status_names[] = { "MESSAGES", "UIDNEXT",
    "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ" };

/* --- FETCH ------------------------------------------------------------- */

static void
dump_section(struct buf *b, const struct imap_fetch_att *a)
{
	static const char *const texts[] = { "", "HEADER", "HEADER.FIELDS",
	    "HEADER.FIELDS.NOT", "TEXT", "MIME" };
	static const char *const pfx[][2] = {
		{ "BODY", "BODY.PEEK" }, { "BINARY", "BINARY.PEEK" },
		{ "BINARY.SIZE", "BINARY.SIZE" } };
	const struct imap_section *s = &a->sec;

	dump_s(b, pfx[a->item - IMAP_FETCH_BODY_SECTION][a->peek]);
	dump_s(b, "[");
	for (size_t i = 0; i < s->nparts; i++)
		(void)buf_printf(b, "%s%u", i > 0 ? "." : "", s->part[i]);
	if (s->text != IMAP_SECTION_ALL)
		(void)buf_printf(b, "%s%s", s->nparts > 0 ? "." : "",
		    texts[s->text]);
	if (s->nfields > 0) {
		dump_s(b, " (");
		for (size_t i = 0; i < s->nfields; i++) {
			dump_s(b, i > 0 ? " " : "");
			dump_astring(b, s->fields[i]);
		}
		dump_s(b, ")");
	}
	dump_s(b, "]");
	if (a->partial)
		(void)buf_printf(b, "<%llu.%llu>",
		    (unsigned long long)a->offset,
		    (unsigned long long)a->count);
}

static void
dump_att(struct buf *b, const struct imap_fetch_att *a)
{
	static const char *const names[] = { "ENVELOPE", "FLAGS",
	    "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
	    "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ" };

	if (a->item >= IMAP_FETCH_BODY_SECTION)
		dump_section(b, a);
	else
		dump_s(b, names[a->item]);
}

static void
dump_fetch(struct buf *b, const struct imap_command *c)
{
	dump_seqset(b, &c->u.fetch.set);
	dump_s(b, " (");
	for (size_t i = 0; i < c->u.fetch.n; i++) {
		dump_s(b, i > 0 ? " " : "");
		dump_att(b, &c->u.fetch.att[i]);
	}
	dump_s(b, ")");
	if (c->u.fetch.has_changedsince)
		(void)buf_printf(b, " (CHANGEDSINCE %llu%s)",
		    (unsigned long long)c->u.fetch.changedsince,
		    c->u.fetch.vanished ? " VANISHED" : "");
}

/* --- SEARCH ------------------------------------------------------------ */

static void dump_key(struct buf *b, const struct imap_search_key *k);

static void
dump_keys(struct buf *b, const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		dump_key(b, k);
		dump_s(b, k->next != NULL ? " " : "");
	}
}

static void
dump_key_arg(struct buf *b, const struct imap_search_key *k)
{
	static const char *const types[] = { "", "priv", "shared", "all" };

	switch (k->op) {
	case IMAP_SK_BCC: case IMAP_SK_BODY: case IMAP_SK_CC:
	case IMAP_SK_FROM: case IMAP_SK_SUBJECT: case IMAP_SK_TEXT:
	case IMAP_SK_TO: case IMAP_SK_KEYWORD: case IMAP_SK_UNKEYWORD:
		dump_s(b, " ");
		dump_astring(b, k->u.str);
		break;
	case IMAP_SK_HEADER:
		dump_s(b, " ");
		dump_astring(b, k->u.header.name);
		dump_s(b, " ");
		dump_astring(b, k->u.header.value);
		break;
	case IMAP_SK_BEFORE: case IMAP_SK_ON: case IMAP_SK_SINCE:
	case IMAP_SK_SENTBEFORE: case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE:
		dump_s(b, " ");
		dump_date(b, &k->u.date);
		break;
	case IMAP_SK_LARGER: case IMAP_SK_SMALLER: case IMAP_SK_OLDER:
	case IMAP_SK_YOUNGER:
		(void)buf_printf(b, " %llu", (unsigned long long)k->u.num);
		break;
	case IMAP_SK_UID:
		dump_s(b, " ");
		dump_seqset(b, &k->u.set);
		break;
	case IMAP_SK_NOT:
		dump_s(b, " ");
		dump_key(b, k->u.sub);
		break;
	case IMAP_SK_OR:
		dump_s(b, " ");
		dump_key(b, k->u.or.a);
		dump_s(b, " ");
		dump_key(b, k->u.or.b);
		break;
	case IMAP_SK_MODSEQ:
		if (k->u.modseq.type != IMAP_MODSEQ_ENTRY_NONE) {
			dump_s(b, " ");
			dump_string(b, k->u.modseq.entry);
			(void)buf_printf(b, " %s", types[k->u.modseq.type]);
		}
		(void)buf_printf(b, " %llu",
		    (unsigned long long)k->u.modseq.value);
		break;
	default:
		break;
	}
}

static void
dump_key(struct buf *b, const struct imap_search_key *k)
{
	if (k->op == IMAP_SK_AND) {
		dump_s(b, "(");
		dump_keys(b, k->u.sub);
		dump_s(b, ")");
	} else if (k->op == IMAP_SK_SEQSET)
		dump_seqset(b, &k->u.set);
	else {
		dump_s(b, imap_search_parse_key_name(k->op));
		dump_key_arg(b, k);
	}
}

static void
dump_return(struct buf *b, const struct imap_search *s)
{
	static const char *const names[] = { "MIN", "MAX", "ALL", "COUNT",
	    "SAVE" };

	if (!s->has_return)
		return;
	dump_s(b, "RETURN ");
	dump_bits(b, s->ret, names, 5);
	dump_s(b, " ");
}

static void
dump_search(struct buf *b, const struct imap_search *s, bool sort)
{
	if (!sort)
		dump_return(b, s);
	if (s->charset.len > 0) {
		dump_s(b, sort ? "" : "CHARSET ");
		dump_astring(b, s->charset);
		dump_s(b, " ");
	}
	dump_keys(b, s->root->u.sub);
}

static void
dump_sort(struct buf *b, const struct imap_command *c)
{
	static const char *const keys[] = { "ARRIVAL", "CC", "DATE", "FROM",
	    "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO" };

	dump_return(b, &c->u.sort.search);
	dump_s(b, "(");
	for (size_t i = 0; i < c->u.sort.n; i++) {
		dump_s(b, i > 0 ? " " : "");
		dump_s(b, c->u.sort.crit[i].reverse ? "REVERSE " : "");
		dump_s(b, keys[c->u.sort.crit[i].key]);
	}
	dump_s(b, ") ");
	dump_search(b, &c->u.sort.search, true);
}

/* --- mailbox commands -------------------------------------------------- */

static void
dump_mbox(struct buf *b, const struct imap_mailbox *m)
{
	dump_astring(b, m->wire);
}

static void
dump_pattern(struct buf *b, const struct imap_mailbox *m)
{
	dump_atom_or_string(b, m->wire, "%*");
}

static void
dump_select(struct buf *b, const struct imap_command *c)
{
	dump_mbox(b, &c->u.select.mbox);
	if (!c->u.select.condstore && !c->u.select.qresync)
		return;
	dump_s(b, " (");
	dump_s(b, c->u.select.condstore ? "CONDSTORE" : "");
	dump_s(b, c->u.select.condstore && c->u.select.qresync ? " " : "");
	if (c->u.select.qresync) {
		(void)buf_printf(b, "QRESYNC (%u %llu",
		    c->u.select.uidvalidity,
		    (unsigned long long)c->u.select.modseq);
		if (c->u.select.has_known_uids) {
			dump_s(b, " ");
			dump_seqset(b, &c->u.select.known_uids);
		}
		if (c->u.select.has_seq_match) {
			dump_s(b, " (");
			dump_seqset(b, &c->u.select.match_seqs);
			dump_s(b, " ");
			dump_seqset(b, &c->u.select.match_uids);
			dump_s(b, ")");
		}
		dump_s(b, ")");
	}
	dump_s(b, ")");
}

static void
dump_list(struct buf *b, const struct imap_command *c)
{
	static const char *const sel[] = { "SUBSCRIBED", "REMOTE",
	    "RECURSIVEMATCH", "SPECIAL-USE" };
	static const char *const ret[] = { "SUBSCRIBED", "CHILDREN",
	    "SPECIAL-USE" };
	const bool ext = c->u.list.extended;

	if (ext) {
		dump_bits(b, c->u.list.sel, sel, 4);
		dump_s(b, " ");
	}
	dump_pattern(b, &c->u.list.ref);
	dump_s(b, ext ? " (" : " ");
	for (size_t i = 0; i < c->u.list.npat; i++) {
		dump_s(b, i > 0 ? " " : "");
		dump_pattern(b, &c->u.list.pat[i]);
	}
	if (!ext)
		return;
	dump_s(b, ") RETURN ");
	dump_bits(b, c->u.list.ret & 7, ret, 3);
	if (c->u.list.ret & IMAP_LIST_RET_STATUS) {
		b->len--;
		dump_s(b, c->u.list.ret & 7 ? " STATUS " : "STATUS ");
		dump_bits(b, c->u.list.status, dump_status_names, 8);
		dump_s(b, ")");
	}
}

static void
dump_append(struct buf *b, const struct imap_command *c)
{
	const struct imap_flags *f = &c->u.append.flags;

	dump_mbox(b, &c->u.append.mbox);
	if (f->sys != 0 || f->nkw > 0) {
		dump_s(b, " ");
		dump_flags(b, f);
	}
	if (c->u.append.has_date) {
		dump_s(b, " ");
		dump_datetime(b, &c->u.append.date);
	}
	(void)buf_printf(b, " %s{%zu+}\r\n", c->u.append.binary ? "~" : "",
	    c->u.append.msg.len);
	dump_raw(b, c->u.append.msg.p, c->u.append.msg.len);
}

static void
dump_store(struct buf *b, const struct imap_command *c)
{
	dump_seqset(b, &c->u.store.set);
	if (c->u.store.has_unchangedsince)
		(void)buf_printf(b, " (UNCHANGEDSINCE %llu)",
		    (unsigned long long)c->u.store.unchangedsince);
	(void)buf_printf(b, " %sFLAGS%s ",
	    c->u.store.op == IMAP_STORE_ADD ? "+" :
	    c->u.store.op == IMAP_STORE_REMOVE ? "-" : "",
	    c->u.store.silent ? ".SILENT" : "");
	dump_flags(b, &c->u.store.flags);
}

static void
dump_misc(struct buf *b, const struct imap_command *c)
{
	static const char *const uses[] = { "\\All", "\\Archive", "\\Drafts",
	    "\\Flagged", "\\Junk", "\\Sent", "\\Trash" };

	switch (c->id) {
	case IMAP_CMD_CREATE:
		dump_mbox(b, &c->u.create.mbox);
		if (c->u.create.use != 0) {
			dump_s(b, " (USE ");
			dump_bits(b, c->u.create.use, uses, 7);
			dump_s(b, ")");
		}
		break;
	case IMAP_CMD_DELETE: case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
		dump_mbox(b, &c->u.mailbox.mbox);
		break;
	case IMAP_CMD_RENAME:
		dump_mbox(b, &c->u.rename.from);
		dump_s(b, " ");
		dump_mbox(b, &c->u.rename.to);
		break;
	case IMAP_CMD_STATUS:
		dump_mbox(b, &c->u.status.mbox);
		dump_s(b, " ");
		dump_bits(b, c->u.status.items, dump_status_names, 8);
		break;
	case IMAP_CMD_COPY: case IMAP_CMD_MOVE:
		dump_seqset(b, &c->u.copy.set);
		dump_s(b, " ");
		dump_mbox(b, &c->u.copy.mbox);
		break;
	default:
		break;
	}
}

static void
dump_session(struct buf *b, const struct imap_command *c)
{
	switch (c->id) {
	case IMAP_CMD_LOGIN:
		dump_astring(b, c->u.login.user);
		dump_s(b, " ");
		dump_astring(b, c->u.login.pass);
		break;
	case IMAP_CMD_AUTHENTICATE:
		dump_raw(b, c->u.auth.mech.p, c->u.auth.mech.len);
		if (c->u.auth.has_ir && c->u.auth.ir.len == 0)
			dump_s(b, " =");
		else if (c->u.auth.has_ir)
			(void)buf_printf(b, " %.*s", (int)c->u.auth.ir.len,
			    c->u.auth.ir.p);
		break;
	case IMAP_CMD_ENABLE:
		for (size_t i = 0; i < c->u.enable.n; i++) {
			dump_s(b, i > 0 ? " " : "");
			dump_raw(b, c->u.enable.caps[i].p,
			    c->u.enable.caps[i].len);
		}
		break;
	case IMAP_CMD_ID:
		if (c->u.id.kv == NULL) {
			dump_s(b, "NIL");
			break;
		}
		dump_s(b, "(");
		for (size_t i = 0; i < 2 * c->u.id.n; i++) {
			dump_s(b, i > 0 ? " " : "");
			dump_nstring(b, c->u.id.kv[i]);
		}
		dump_s(b, ")");
		break;
	default:
		dump_misc(b, c);
		break;
	}
}

static void
dump_args(struct buf *b, const struct imap_command *c)
{
	switch (c->id) {
	case IMAP_CMD_SELECT: case IMAP_CMD_EXAMINE:
		dump_select(b, c);
		break;
	case IMAP_CMD_LIST: case IMAP_CMD_LSUB:
		dump_list(b, c);
		break;
	case IMAP_CMD_APPEND:
		dump_append(b, c);
		break;
	case IMAP_CMD_FETCH:
		dump_fetch(b, c);
		break;
	case IMAP_CMD_STORE:
		dump_store(b, c);
		break;
	case IMAP_CMD_SEARCH:
		dump_search(b, &c->u.search, false);
		break;
	case IMAP_CMD_SORT:
		dump_sort(b, c);
		break;
	case IMAP_CMD_THREAD:
		dump_s(b, c->u.thread.alg == IMAP_THREAD_REFERENCES ?
		    "REFERENCES " : "ORDEREDSUBJECT ");
		dump_search(b, &c->u.thread.search, true);
		break;
	case IMAP_CMD_EXPUNGE:
		if (c->uid)
			dump_seqset(b, &c->u.expunge.set);
		break;
	default:
		dump_session(b, c);
		break;
	}
}

/* "<tag> [UID ]NAME args" */
static void
dump_command(struct buf *b, const struct imap_command *c)
{
	size_t before;

	dump_raw(b, c->tag.p, c->tag.len);
	(void)buf_printf(b, " %s%s ", c->uid ? "UID " : "",
	    imap_parse_cmd_name(c->id));
	before = b->len;
	dump_args(b, c);
	if (b->len == before)
		b->len--;		/* no arguments: drop the space */
}

/* The raw tree, for whole-versus-cut comparisons. */
static void
dump_tree(struct buf *b, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++, a++) {
		dump_s(b, i > 0 ? " " : "");
		switch (a->type) {
		case IMAP_ARG_ATOM: case IMAP_ARG_NIL:
			dump_raw(b, a->str.p, a->str.len);
			break;
		case IMAP_ARG_QUOTED:
			dump_string(b, a->str);
			break;
		case IMAP_ARG_LITERAL:
			(void)buf_printf(b, "%s{%zu}", a->lit8 ? "~" : "",
			    a->str.len);
			dump_raw(b, a->str.p, a->str.len);
			break;
		case IMAP_ARG_LIST:
			dump_s(b, "(");
			dump_tree(b, a->list, a->count);
			dump_s(b, ")");
			break;
		case IMAP_ARG_SECTION:
			dump_raw(b, a->str.p, a->str.len);
			dump_s(b, "[");
			dump_tree(b, a->list, a->count);
			dump_s(b, "]");
			dump_raw(b, a->suffix.p, a->suffix.len);
			break;
		}
	}
}

/* --- driving the parser ------------------------------------------------ */

/* API contract violations seen while driving (also marked in the log). */
static unsigned dump_anomalies;

static void
dump_anomaly(struct buf *log, const char *what)
{
	dump_anomalies++;
	dump_s(log, what);
}

struct dump_run {
	unsigned	flags;
	size_t		line_max;
	uint64_t	literal_max;
	bool		tree;		/* log the raw tree of commands too */
	const char	*raw_after;	/* want_line after a command with this
					 * name ("AUTHENTICATE", "IDLE") */
	bool		roundtrip;	/* check that every command, printed
					 * and parsed again, prints the same */
	bool		trim;		/* imap_parse_trim() after events */
};

static void dump_run_cuts(struct buf *log, const char *in, size_t len,
    const size_t *cuts, size_t ncuts, const struct dump_run *r);

/* The canonical form cmd[0..len) parsed again must print the same (a
 * command near IMAP_PARSE_ARGS_MAX may pass it once printed: macros
 * expand, STORE flags gain a list; and it is parsed as authenticated,
 * since "FETCH 1 BODY[]" becomes "FETCH 1 (BODY[])"). */
static void
dump_roundtrip(struct buf *log, size_t start, const struct dump_run *r0)
{
	struct dump_run r = *r0;
	struct buf in, out;
	size_t len = log->len - start;

	r.tree = r.roundtrip = false;
	r.raw_after = NULL;
	r.flags &= ~IMAP_PARSE_F_LITERAL_MINUS;
	r.flags |= IMAP_PARSE_F_AUTH;	/* "(BODY[])" is 2 levels deep */
	r.line_max = 16 * IMAP_PARSE_LINE_MAX;
	buf_init(&in, DUMP_MAX);
	buf_init(&out, DUMP_MAX);
	(void)buf_append(&in, log->p + start, len);
	(void)buf_append(&in, "\r\n", 2);
	dump_run_cuts(&out, in.p, in.len, NULL, 0, &r);
	if ((out.len != len + 1 || memcmp(out.p, in.p, len) != 0) &&
	    strstr(buf_cstr(&out), " BAD Too many arguments\n") == NULL) {
		fprintf(stderr, "round trip:\n%.*s\ngave:\n%.*s\n", (int)len,
		    in.p, (int)out.len, out.p);
		dump_anomaly(log, " ROUND TRIP?!");
	}
	buf_free(&in);
	buf_free(&out);
}

static void
dump_event(struct buf *log, struct imap_parser *p, int st,
    const struct imap_parse_event *ev, const struct dump_run *r)
{
	size_t start;

	switch (st) {
	case IMAP_PARSE_COMMAND:
		start = log->len;
		dump_command(log, ev->cmd);
		if (r->roundtrip)
			dump_roundtrip(log, start, r);
		if (r->tree) {
			dump_s(log, " | ");
			dump_tree(log, ev->cmd->args, ev->cmd->argc);
		}
		if (r->raw_after != NULL && strcmp(r->raw_after,
		    imap_parse_cmd_name(ev->id)) == 0)
			imap_parse_want_line(p);
		break;
	case IMAP_PARSE_ERROR:
		(void)buf_printf(log, "%.*s %s%s%s%s %s",
		    ev->tag.len > 0 ? (int)ev->tag.len : 1,
		    ev->tag.len > 0 ? ev->tag.p : "*", ev->resp,
		    ev->code != NULL ? " [" : "",
		    ev->code != NULL ? ev->code : "",
		    ev->code != NULL ? "]" : "", ev->text);
		break;
	case IMAP_PARSE_LITERAL:
		(void)buf_printf(log, "+ %s%llu%s%s", ev->lit8 ? "~" : "",
		    (unsigned long long)ev->lit_size,
		    ev->lit_message ? " msg" : "",
		    ev->lit_too_big ? " too big" : "");
		if (ev->lit_too_big) {
			if (imap_parse_literal_accept(p) != -1)
				dump_anomaly(log, " ACCEPTED?!");
			imap_parse_literal_reject(p);
		} else if (imap_parse_literal_accept(p) == -1)
			dump_anomaly(log, " REFUSED?!");
		break;
	case IMAP_PARSE_LINE:		/* C escapes: one log line */
		dump_s(log, "L \"");
		for (size_t i = 0; i < ev->line.len; i++) {
			unsigned char c = (unsigned char)ev->line.p[i];

			if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
				(void)buf_printf(log, "\\x%02x", c);
			else
				dump_raw(log, ev->line.p + i, 1);
		}
		dump_s(log, "\"");
		break;
	}
	dump_s(log, "\n");
}

/* Feed in[from..to) until it is used up; log events. */
static void
dump_feed(struct buf *log, struct imap_parser *p, const char *in,
    size_t len, const struct dump_run *r)
{
	struct imap_parse_event ev;
	size_t used;
	int st;

	for (;;) {
		st = imap_parse_feed(p, in, len, &used, &ev);
		if (used > len || (st != IMAP_PARSE_MORE && used == 0)) {
			dump_anomaly(log, "BAD USED\n");
			return;
		}
		in += used;
		len -= used;
		if (st == IMAP_PARSE_MORE) {
			if (len != 0)
				dump_anomaly(log, "MORE WITH INPUT LEFT\n");
			return;
		}
		dump_event(log, p, st, &ev, r);
		if (r->trim)
			imap_parse_trim(p);
	}
}

/* Run the parser over in, cut at the offsets cuts[0..ncuts) (ascending);
 * the event log goes to log. */
static void
dump_run_cuts(struct buf *log, const char *in, size_t len,
    const size_t *cuts, size_t ncuts, const struct dump_run *r)
{
	struct imap_parser *p = imap_parse_new(r->line_max, r->literal_max);
	size_t from = 0;

	imap_parse_set_flags(p, r->flags);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		if (to < from || to > len)
			continue;
		dump_feed(log, p, in + from, to - from, r);
		from = to;
	}
	imap_parse_free(&p);
}

#endif
