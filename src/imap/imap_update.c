/* imap_update.c: tell a session what changed in its selected folder
 * since it last looked (other sessions, deliveries, its own COPY into
 * itself, EXPUNGE, MOVE): EXPUNGE or VANISHED, EXISTS (and RECENT for
 * IMAP4rev1), FLAGS when keywords appeared, then FETCH for flag
 * changes.
 *
 * The store reports expunges first, one at a time, each index already
 * shifted by the ones before: exactly the numbering "* n EXPUNGE" needs
 * (RFC 9051 §7.5.1).  With QRESYNC the UIDs are collected into one
 * "* VANISHED" instead (RFC 7162 §3.2.10).  FETCH lines are held back
 * until the end so that a new keyword's FLAGS line comes before the
 * first FETCH that uses it, and so that they name it (the store loads
 * new keyword names after it reports flag changes). */
#include <stdlib.h>

#include "core/mem.h"
#include "imap/imap_cmd_int.h"
#include "imap/imap_msg.h"

struct imap_update {
	struct imap_session	*s;
	struct buf		*out;
	uint32_t		*vanished;	/* QRESYNC: expunged UIDs */
	size_t			 nvanished, capvanished;
	bool			 exists;
	uint32_t		 count;
	bool			 keywords;
	uint32_t		*changed;	/* indexes whose flags changed */
	size_t			 nchanged, capchanged;
};

static void
imap_update_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

static void
imap_update_on_expunge(void *arg, uint32_t i, uint32_t uid)
{
	struct imap_update *u = arg;

	if (!u->s->qresync)
		buf_printf(u->out, "* %u EXPUNGE\r\n", i + 1);
	else
		imap_update_push(&u->vanished, &u->nvanished,
		    &u->capvanished, uid);
}

static void
imap_update_on_exists(void *arg, uint32_t count)
{
	struct imap_update *u = arg;

	u->exists = true;
	u->count = count;
}

static void
imap_update_on_flags(void *arg, uint32_t i, const struct mstore_msg *m)
{
	struct imap_update *u = arg;

	/* written at the end: the keyword names this message may use
	 * are loaded after the flags are reported, and no expunge comes
	 * after a flags report to shift i */
	(void)m;
	imap_update_push(&u->changed, &u->nchanged, &u->capchanged, i);
}

static void
imap_update_on_keywords(void *arg)
{
	struct imap_update *u = arg;

	u->keywords = true;
}

static const struct mstore_update_ops imap_update_ops = {
	.expunge = imap_update_on_expunge,
	.exists = imap_update_on_exists,
	.flags = imap_update_on_flags,
	.keywords = imap_update_on_keywords,
};

static int
imap_update_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t
imap_update_recent(const struct mstore_view *v)
{
	uint32_t i, n = 0, count = mstore_view_count(v);

	for (i = 0; i < count; i++)
		if (mstore_view_msg(v, i)->recent)
			n++;
	return n;
}

static void
imap_update_flush(struct imap_update *u)
{
	struct imap_session *s = u->s;
	size_t i;

	if (u->nvanished > 0) {
		qsort(u->vanished, u->nvanished, sizeof(*u->vanished),
		    imap_update_uid_cmp);
		buf_append_str(u->out, "* VANISHED ");
		imap_cmd_write_set(u->out, u->vanished, u->nvanished);
		buf_append_str(u->out, "\r\n");
	}
	if (u->exists) {
		buf_printf(u->out, "* %u EXISTS\r\n", u->count);
		if (!s->rev2)
			buf_printf(u->out, "* %u RECENT\r\n",
			    imap_update_recent(s->view));
	}
	if (u->keywords)
		imap_update_flags_lines(s, u->out);
	for (i = 0; i < u->nchanged; i++)
		imap_cmd_write_flags_fetch(s, u->out, u->changed[i], true,
		    true, s->condstore);
}

int
imap_update(struct imap_session *s, struct buf *out, bool allow_expunge)
{
	struct imap_update u = { .s = s, .out = out };
	const char *err = NULL;
	int rc;

	if (s->state != IMAP_STATE_SELECTED || s->view == NULL)
		return 0;
	rc = mstore_view_refresh(s->view, allow_expunge, &imap_update_ops, &u,
	    &err);
	if (rc != 0)
		imap_cmd_log_error(s, "refresh", err);
	/* what was learnt before a failure is still true: say it */
	imap_update_flush(&u);
	free(u.vanished);
	free(u.changed);
	return rc;
}

void
imap_update_flags_lines(struct imap_session *s, struct buf *out)
{
	const char *const *kw;
	size_t i, nkw = 0;

	if (s->view != NULL)
		nkw = mstore_view_keywords(s->view, &kw);
	buf_append_str(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft");
	for (i = 0; i < nkw; i++)
		buf_printf(out, " %s", kw[i]);
	buf_append_str(out, ")\r\n* OK [PERMANENTFLAGS (");
	if (!s->readonly) {
		buf_append_str(out, "\\Answered \\Flagged \\Deleted \\Seen "
		    "\\Draft");
		for (i = 0; i < nkw; i++)
			buf_printf(out, " %s", kw[i]);
		if (nkw < MSTORE_KEYWORDS_MAX)
			buf_append_str(out, " \\*");
	}
	buf_append_str(out, ")] Flags permitted\r\n");
}
