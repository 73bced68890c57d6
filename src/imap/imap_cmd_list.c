/* imap_cmd_list.c: LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.8-9)
 * with LIST-EXTENDED (RFC 5258: selection SUBSCRIBED, REMOTE,
 * RECURSIVEMATCH, SPECIAL-USE; return SUBSCRIBED, CHILDREN,
 * SPECIAL-USE; several patterns; CHILDINFO), LIST-STATUS (RFC 5819),
 * CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154) attributes.
 *
 * The folder list comes from the store once per command; parents that
 * are only names of subscribed folders are added to it, so that LSUB
 * "%" and RECURSIVEMATCH can name them.  Patterns are matched with a
 * dynamic program over (pattern, name) positions: time bounded by
 * their product, never exponential as naive backtracking is on
 * "*%*%*%..." patterns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "imap/imap_cmd_int.h"

struct imap_list_ent {
	char		*name;
	unsigned	 use;		/* IMAP_USE_* */
	bool		 exists;	/* selectable */
	bool		 subscribed;
	bool		 children;	/* folders below it exist */
	bool		 sub_child;	/* a subscribed name below it */
};

struct imap_list {
	struct imap_list_ent	*e;
	size_t			 n, cap;
};

/* --- the folder list ---------------------------------------------------- */

/* INBOX first, then byte order. */
static int
imap_list_name_cmp(const char *a, const char *b)
{
	bool ia = strcmp(a, "INBOX") == 0, ib = strcmp(b, "INBOX") == 0;

	if (ia || ib)
		return ib - ia;
	return strcmp(a, b);
}

static int
imap_list_ent_cmp(const void *a, const void *b)
{
	const struct imap_list_ent *x = a, *y = b;

	return imap_list_name_cmp(x->name, y->name);
}

static struct imap_list_ent *
imap_list_find(struct imap_list *l, const char *name)
{
	struct imap_list_ent key = { .name = (char *)name };

	return bsearch(&key, l->e, l->n, sizeof(*l->e), imap_list_ent_cmp);
}

static struct imap_list_ent *
imap_list_add(struct imap_list *l, char *name)
{
	struct imap_list_ent *e;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 32 : l->cap * 2;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	e->name = name;
	return e;
}

static void
imap_list_free(struct imap_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static int
imap_list_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mark the parents of subscribed names; parents missing from the list
 * (a subscribed "a/b" with no "a") are added, not existing. */
static void
imap_list_parents(struct imap_list *l)
{
	struct imap_list_ent *p;
	char **missing = NULL, *name, *slash;
	size_t i, nmissing = 0, cap = 0;

	for (i = 0; i < l->n; i++) {
		if (!l->e[i].subscribed)
			continue;
		name = xstrdup(l->e[i].name);
		while ((slash = strrchr(name, '/')) != NULL) {
			*slash = '\0';
			if ((p = imap_list_find(l, name)) != NULL) {
				p->sub_child = true;
				continue;
			}
			if (nmissing == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				missing = xrealloc(missing,
				    cap * sizeof(*missing));
			}
			missing[nmissing++] = xstrdup(name);
		}
		free(name);
	}
	if (nmissing == 0)
		return;
	qsort(missing, nmissing, sizeof(*missing), imap_list_str_cmp);
	for (i = 0; i < nmissing; i++) {
		if (i > 0 && strcmp(missing[i], missing[i - 1]) == 0) {
			free(missing[i]);
			continue;
		}
		imap_list_add(l, missing[i])->sub_child = true;
	}
	free(missing);
	qsort(l->e, l->n, sizeof(*l->e), imap_list_ent_cmp);
}

static int
imap_list_load(struct imap_session *s, struct imap_list *l,
    const char **err_r)
{
	struct mstore_folder *f;
	struct imap_list_ent *e;
	size_t i, n;
	int rc;

	memset(l, 0, sizeof(*l));
	if ((rc = mstore_list(s->store, &f, &n, err_r)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		e = imap_list_add(l, xstrdup(f[i].name));
		e->use = f[i].use;
		e->exists = !f[i].noselect;
		e->subscribed = f[i].subscribed;
		e->children = f[i].children;
	}
	mstore_list_free(f, n);
	qsort(l->e, l->n, sizeof(*l->e), imap_list_ent_cmp);
	imap_list_parents(l);
	return 0;
}

/* --- patterns ------------------------------------------------------------ */

/* Pattern byte c against name byte at j; "INBOX" as the first component
 * of a name matches in any case. */
static bool
imap_list_byte_eq(char c, const char *name, size_t j, size_t ci)
{
	if (j < ci)
		return (c | 0x20) == (name[j] | 0x20);
	return c == name[j];
}

/* Does name match pat ('*' anything, '%' anything but '/')?  cur[j]:
 * the pattern read so far matches name[0..j). */
static bool
imap_list_match(struct str pat, const char *name)
{
	size_t nlen = strlen(name), i, j, lits = 0, ci = 0;
	bool *cur, *next, *t, any, star, res;

	for (i = 0; i < pat.len; i++)
		if (pat.p[i] != '*' && pat.p[i] != '%')
			lits++;
	if (lits > nlen)
		return false;	/* also bounds the work below */
	if (strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' ||
	    name[5] == '/'))
		ci = 5;
	cur = xcalloc(2 * (nlen + 1), sizeof(*cur));
	next = cur + nlen + 1;
	cur[0] = true;
	for (i = 0; i < pat.len; ) {
		if (pat.p[i] == '*' || pat.p[i] == '%') {
			/* a run of wildcards is one: '*' if it holds one */
			for (star = false; i < pat.len && (pat.p[i] == '*' ||
			    pat.p[i] == '%'); i++)
				star = star || pat.p[i] == '*';
			next[0] = cur[0];
			for (j = 1; j <= nlen; j++)
				next[j] = cur[j] || (next[j - 1] &&
				    (star || name[j - 1] != '/'));
		} else {
			next[0] = false;
			for (j = 1; j <= nlen; j++)
				next[j] = cur[j - 1] &&
				    imap_list_byte_eq(pat.p[i], name, j - 1, ci);
			i++;
		}
		t = cur;
		cur = next;
		next = t;
		for (any = false, j = 0; j <= nlen && !any; j++)
			any = cur[j];
		if (!any)
			break;
	}
	res = i >= pat.len && cur[nlen];
	free(cur < next ? cur : next);
	return res;
}

/* --- answers ------------------------------------------------------------- */

struct imap_list_req {
	bool		 lsub;
	bool		 extended;	/* RFC 5258 syntax, or IMAP4rev2 */
	unsigned	 sel, ret, status;
	struct str	*pats;		/* reference + pattern */
	size_t		 npats;
};

static const struct {
	unsigned	 bit;
	const char	*name;
} imap_list_uses[] = {
	{ IMAP_USE_ALL, "\\All" },
	{ IMAP_USE_ARCHIVE, "\\Archive" },
	{ IMAP_USE_DRAFTS, "\\Drafts" },
	{ IMAP_USE_FLAGGED, "\\Flagged" },
	{ IMAP_USE_JUNK, "\\Junk" },
	{ IMAP_USE_SENT, "\\Sent" },
	{ IMAP_USE_TRASH, "\\Trash" },
};

static void
imap_list_attr(struct buf *out, const char **sep, const char *attr)
{
	buf_printf(out, "%s%s", *sep, attr);
	*sep = " ";
}

static void
imap_list_write(struct imap_session *s, struct buf *out,
    const struct imap_list_req *rq, const struct imap_list_ent *e,
    bool childinfo)
{
	const char *sep = "";
	size_t i;

	buf_append_str(out, rq->lsub ? "* LSUB (" : "* LIST (");
	/* LSUB: a parent named only for its subscribed children is
	 * \Noselect even when it exists (RFC 3501 §6.3.9) */
	if (!e->exists || (rq->lsub && !e->subscribed))
		imap_list_attr(out, &sep, rq->extended && !rq->lsub ?
		    "\\NonExistent" : "\\Noselect");
	if (!rq->lsub) {
		imap_list_attr(out, &sep, e->children ? "\\HasChildren" :
		    "\\HasNoChildren");
		if (e->subscribed && ((rq->ret & IMAP_LIST_RET_SUBSCRIBED) ||
		    (rq->sel & IMAP_LIST_SEL_SUBSCRIBED)))
			imap_list_attr(out, &sep, "\\Subscribed");
		for (i = 0; i < sizeof(imap_list_uses) /
		    sizeof(imap_list_uses[0]); i++)
			if (e->use & imap_list_uses[i].bit)
				imap_list_attr(out, &sep,
				    imap_list_uses[i].name);
	}
	buf_append_str(out, ") \"/\" ");
	imap_cmd_write_mailbox(s, out, e->name);
	if (childinfo)
		buf_append_str(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_append_str(out, "\r\n");
}

static void
imap_list_status(struct imap_session *s, struct buf *out,
    const struct imap_list_req *rq, const struct imap_list_ent *e)
{
	struct mstore_status st;
	const char *err = NULL;
	int rc;

	if (!e->exists)
		return;
	memset(&st, 0, sizeof(st));
	rc = mstore_status(s->store, e->name, &st, &err);
	if (rc == MSTORE_ERROR)
		imap_cmd_log_error(s, "list-status", err);
	if (rc == 0)
		imap_cmd_write_status(s, out, e->name, rq->status, &st);
}

/* Which pattern e matches, or -1. */
static int
imap_list_matches(const struct imap_list_req *rq,
    const struct imap_list_ent *e)
{
	size_t i;

	for (i = 0; i < rq->npats; i++)
		if (imap_list_match(rq->pats[i], e->name))
			return (int)i;
	return -1;
}

/* Decide for one folder: not listed (false), or listed, and with a
 * CHILDINFO (RFC 5258 §3.5) or not. */
static bool
imap_list_select(const struct imap_list_req *rq,
    const struct imap_list_ent *e, int pat, bool *childinfo)
{
	bool recursive = rq->sel & IMAP_LIST_SEL_RECURSIVEMATCH;

	*childinfo = false;
	if (rq->lsub) {
		if (e->subscribed)
			return true;
		/* RFC 3501 §6.3.9: "%" names the parent of a subscribed
		 * folder, as \Noselect */
		return e->sub_child &&
		    memchr(rq->pats[pat].p, '%', rq->pats[pat].len) != NULL &&
		    memchr(rq->pats[pat].p, '*', rq->pats[pat].len) == NULL;
	}
	if ((rq->sel & IMAP_LIST_SEL_SPECIAL_USE) && e->use == 0)
		return false;
	if (rq->sel & IMAP_LIST_SEL_SUBSCRIBED) {
		*childinfo = recursive && e->sub_child;
		return e->subscribed || *childinfo;
	}
	/* subscription-only names are not folders */
	return e->exists || e->children;
}

static void
imap_list_run(struct imap_session *s, struct buf *out,
    const struct imap_list_req *rq, struct imap_list *l)
{
	struct imap_list_ent *e;
	bool childinfo;
	size_t i;
	int pat;

	for (i = 0; i < l->n; i++) {
		e = &l->e[i];
		if ((pat = imap_list_matches(rq, e)) < 0)
			continue;
		if (!imap_list_select(rq, e, pat, &childinfo))
			continue;
		imap_list_write(s, out, rq, e, childinfo);
		if (rq->ret & IMAP_LIST_RET_STATUS)
			imap_list_status(s, out, rq, e);
	}
}

/* reference + pattern, the pattern's "INBOX" in any case as INBOX is
 * left to the matcher. */
static struct str
imap_list_canon(const struct imap_mailbox *ref, const struct imap_mailbox *pat)
{
	size_t rlen = ref->name.p != NULL ? ref->name.len : 0;
	size_t plen = pat->name.p != NULL ? pat->name.len : 0;
	char *p;

	p = xmalloc(rlen + plen + 1);
	if (rlen > 0)
		memcpy(p, ref->name.p, rlen);
	if (plen > 0)
		memcpy(p + rlen, pat->name.p, plen);
	p[rlen + plen] = '\0';
	return str_make(p, rlen + plen);
}

enum imap_job_res
imap_cmd_list(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	struct imap_list_req rq;
	struct imap_list l;
	const char *err = NULL;
	bool delim = false;
	size_t i;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rq.lsub = c->id == IMAP_CMD_LSUB;
	rq.extended = !rq.lsub && (c->u.list.extended || s->rev2);
	rq.sel = c->u.list.sel;
	rq.ret = c->u.list.ret;
	rq.status = c->u.list.status;
	if (rq.ret & IMAP_LIST_RET_STATUS &&
	    rq.status & IMAP_STATUS_HIGHESTMODSEQ)
		s->condstore = true;
	rq.pats = xcalloc(c->u.list.npat + 1, sizeof(*rq.pats));
	for (i = 0; i < c->u.list.npat; i++) {
		/* undecodable patterns match nothing */
		if (c->u.list.pat[i].name.p == NULL ||
		    c->u.list.ref.name.p == NULL)
			continue;
		if (c->u.list.pat[i].name.len == 0) {
			delim = true;	/* LIST "" "": the separator */
			continue;
		}
		rq.pats[rq.npats++] = imap_list_canon(&c->u.list.ref,
		    &c->u.list.pat[i]);
	}
	if (delim && !rq.lsub)
		buf_append_str(out, "* LIST (\\Noselect) \"/\" \"\"\r\n");
	rc = 0;
	if (rq.npats > 0) {
		rc = imap_list_load(s, &l, &err);
		if (rc == 0) {
			imap_list_run(s, out, &rq, &l);
			imap_list_free(&l);
		}
	}
	for (i = 0; i < rq.npats; i++)
		free((char *)rq.pats[i].p);
	free(rq.pats);
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "list");
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "%s completed", rq.lsub ? "LSUB" : "LIST");
	return IMAP_JOB_DONE;
}

int
imap_cmd_list_one(struct imap_session *s, struct buf *out, const char *name,
    const char **err_r)
{
	struct imap_list_req rq = { .extended = true,
	    .ret = IMAP_LIST_RET_SUBSCRIBED };
	struct imap_list_ent *e;
	struct imap_list l;
	int rc;

	if ((rc = imap_list_load(s, &l, err_r)) != 0)
		return rc;
	if ((e = imap_list_find(&l, name)) != NULL)
		imap_list_write(s, out, &rq, e, false);
	imap_list_free(&l);
	return e != NULL ? 0 : MSTORE_ENOENT;
}
