/* imap_cmd_mbox.c: the commands about whole mailboxes: SELECT, EXAMINE,
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, NAMESPACE, STATUS,
 * APPEND, CHECK, CLOSE, UNSELECT (LIST and LSUB are in
 * imap_cmd_list.c).  Job handlers: blocking store calls, answers
 * appended to out, the tagged reply last. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "imap/imap_cmd_int.h"
#include "imap/imap_msg.h"
#include "imap/imap_utf7.h"

/* --- SELECT, EXAMINE ---------------------------------------------------- */

void
imap_deselect(struct imap_session *s)
{
	mstore_view_close(&s->view);
	free(s->view_name);
	s->view_name = NULL;
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	s->readonly = false;
	if (s->state == IMAP_STATE_SELECTED)
		imap_enter_state(s, IMAP_STATE_AUTH);
}

static uint32_t
imap_select_first_unseen(const struct mstore_view *v)
{
	uint32_t i, count = mstore_view_count(v);

	for (i = 0; i < count; i++)
		if (!(mstore_view_msg(v, i)->flags & IMAP_FLAG_SEEN))
			return i + 1;
	return 0;
}

static uint32_t
imap_select_recent(const struct mstore_view *v)
{
	uint32_t i, n = 0, count = mstore_view_count(v);

	for (i = 0; i < count; i++)
		if (mstore_view_msg(v, i)->recent)
			n++;
	return n;
}

/* RFC 7162 §3.2.5: what changed since the client's last (uidvalidity,
 * modseq), restricted to its known UIDs when it gave them. */
static void
imap_select_qresync(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	const struct imap_seqset *known = &c->u.select.known_uids;
	bool has_known = c->u.select.has_known_uids;
	struct mstore_view *v = s->view;
	uint32_t *uids = NULL, uidmax, i, count;
	const struct mstore_msg *m;
	size_t n = 0, j, k;
	const char *err = NULL;

	if (c->u.select.uidvalidity != mstore_view_uidvalidity(v))
		return;		/* all is new to the client */
	uidmax = mstore_view_uidnext(v) - 1;
	if (mstore_view_vanished(v, c->u.select.modseq, &uids, &n,
	    &err) != 0) {
		imap_cmd_log_error(s, "vanished", err);
		n = 0;
	}
	for (j = k = 0; j < n; j++)
		if (!has_known || imap_cmd_set_has_uid(known, uidmax, uids[j]))
			uids[k++] = uids[j];
	if (k > 0) {
		buf_append_str(out, "* VANISHED (EARLIER) ");
		imap_cmd_write_set(out, uids, k);
		buf_append_str(out, "\r\n");
	}
	free(uids);
	count = mstore_view_count(v);
	for (i = 0; i < count; i++) {
		m = mstore_view_msg(v, i);
		if (m->modseq <= c->u.select.modseq)
			continue;
		if (has_known && !imap_cmd_set_has_uid(known, uidmax, m->uid))
			continue;
		imap_cmd_write_flags_fetch(s, out, i, true, true, true);
	}
}

static void
imap_select_answer(struct imap_session *s, struct buf *out)
{
	struct mstore_view *v = s->view;
	uint32_t unseen;
	const char *err = NULL;

	imap_update_flags_lines(s, out);
	buf_printf(out, "* %u EXISTS\r\n", mstore_view_count(v));
	if (!s->rev2) {
		buf_printf(out, "* %u RECENT\r\n", imap_select_recent(v));
		unseen = imap_select_first_unseen(v);
		if (unseen > 0)
			buf_printf(out, "* OK [UNSEEN %u] First unseen\r\n",
			    unseen);
	} else if (imap_cmd_list_one(s, out, s->view_name, &err) ==
	    MSTORE_ERROR)
		imap_cmd_log_error(s, "list", err);
	buf_printf(out, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	    mstore_view_uidvalidity(v));
	buf_printf(out, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	    mstore_view_uidnext(v));
	buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long)mstore_view_highestmodseq(v));
	if (s->cmd->u.select.qresync)
		imap_select_qresync(s, out);
}

enum imap_job_res
imap_cmd_select(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	const struct imap_mailbox *mb = &c->u.select.mbox;
	bool examine = c->id == IMAP_CMD_EXAMINE;
	struct mstore_view *v = NULL;
	const char *err = NULL;
	int rc;

	if (c->u.select.qresync && !s->qresync) {
		imap_tagged(s, out, "BAD", "QRESYNC is not enabled");
		return IMAP_JOB_DONE;
	}
	/* a SELECT, even a failing one, first closes the current folder */
	if (s->view != NULL) {
		imap_deselect(s);
		buf_append_str(out, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (!imap_cmd_mailbox_ok(s, out, mb))
		return IMAP_JOB_DONE;
	if (c->u.select.condstore || c->u.select.qresync)
		s->condstore = true;
	rc = mstore_view_open(s->store, mb->name.p, examine, &v, &err);
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "select");
	s->view = v;
	s->view_name = xstrdup(mb->name.p);
	s->readonly = examine;
	imap_enter_state(s, IMAP_STATE_SELECTED);
	imap_select_answer(s, out);
	imap_tagged(s, out, "OK", "[%s] %s completed",
	    examine ? "READ-ONLY" : "READ-WRITE",
	    examine ? "EXAMINE" : "SELECT");
	return IMAP_JOB_DONE;
}

/* --- CREATE, DELETE, RENAME, SUBSCRIBE ----------------------------------- */

/* "CREATE a/b/" means "a/b" (RFC 9051 §6.3.4: a trailing separator
 * declares the intent to make children); the parser's name check
 * refuses the separator, so take it off and check again. */
static const char *
imap_create_name(const struct imap_mailbox *mb, char *tmp, size_t size)
{
	size_t len = mb->name.len;
	const char *why;

	if (mb->err == NULL)
		return mb->name.p;
	if (mb->name.p == NULL || len < 2 || mb->name.p[len - 1] != '/' ||
	    len >= size)
		return NULL;
	memcpy(tmp, mb->name.p, len - 1);
	tmp[len - 1] = '\0';
	if (imap_utf7_mailbox_check(str_make(tmp, len - 1), &why) != 0)
		return NULL;
	return tmp;
}

enum imap_job_res
imap_cmd_create(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	char tmp[MSTORE_NAME_MAX + 1];
	const char *name, *err = NULL;
	int rc;

	name = imap_create_name(&c->u.create.mbox, tmp, sizeof(tmp));
	if (name == NULL) {
		imap_cmd_mailbox_ok(s, out, &c->u.create.mbox);
		return IMAP_JOB_DONE;
	}
	rc = mstore_create(s->store, name, c->u.create.use, &err);
	if (rc == MSTORE_EINVAL && c->u.create.use != 0 &&
	    strcmp(name, "INBOX") != 0) {
		imap_tagged(s, out, "NO", "[USEATTR] %s",
		    err != NULL ? err : "Special use not possible here");
		return IMAP_JOB_DONE;
	}
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "create");
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "CREATE completed");
	return IMAP_JOB_DONE;
}

enum imap_job_res
imap_cmd_delete(struct imap_session *s, struct buf *out)
{
	const struct imap_mailbox *mb = &s->cmd->u.mailbox.mbox;
	const char *err = NULL;
	int rc;

	if (!imap_cmd_mailbox_ok(s, out, mb))
		return IMAP_JOB_DONE;
	if (strcmp(mb->name.p, "INBOX") == 0) {
		imap_tagged(s, out, "NO", "[CANNOT] INBOX cannot be deleted");
		return IMAP_JOB_DONE;
	}
	/* the folder under our feet goes away: close it first */
	if (s->view_name != NULL && strcmp(s->view_name, mb->name.p) == 0) {
		imap_deselect(s);
		buf_append_str(out, "* OK [CLOSED] Mailbox closed\r\n");
	}
	rc = mstore_delete(s->store, mb->name.p, &err);
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "delete");
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "DELETE completed");
	return IMAP_JOB_DONE;
}

/* The selected folder, or a parent of it, was renamed: follow it. */
static void
imap_rename_follow(struct imap_session *s, const char *from, const char *to)
{
	size_t flen = strlen(from);
	char *name;

	if (s->view_name == NULL || strcmp(from, "INBOX") == 0)
		return;
	if (strcmp(s->view_name, from) == 0) {
		name = xstrdup(to);
	} else if (strncmp(s->view_name, from, flen) == 0 &&
	    s->view_name[flen] == '/') {
		name = xmalloc(strlen(to) + strlen(s->view_name + flen) + 1);
		strcpy(name, to);
		strcat(name, s->view_name + flen);
	} else
		return;
	free(s->view_name);
	s->view_name = name;
}

enum imap_job_res
imap_cmd_rename(struct imap_session *s, struct buf *out)
{
	const struct imap_mailbox *from = &s->cmd->u.rename.from;
	const struct imap_mailbox *to = &s->cmd->u.rename.to;
	const char *err = NULL;
	int rc;

	if (!imap_cmd_mailbox_ok(s, out, from) ||
	    !imap_cmd_mailbox_ok(s, out, to))
		return IMAP_JOB_DONE;
	rc = mstore_rename(s->store, from->name.p, to->name.p, &err);
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "rename");
	imap_rename_follow(s, from->name.p, to->name.p);
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "RENAME completed");
	return IMAP_JOB_DONE;
}

enum imap_job_res
imap_cmd_subscribe(struct imap_session *s, struct buf *out)
{
	const struct imap_mailbox *mb = &s->cmd->u.mailbox.mbox;
	bool on = s->cmd->id == IMAP_CMD_SUBSCRIBE;
	const char *err = NULL;
	int rc;

	if (!imap_cmd_mailbox_ok(s, out, mb))
		return IMAP_JOB_DONE;
	rc = mstore_subscribe(s->store, mb->name.p, on, &err);
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err,
		    on ? "subscribe" : "unsubscribe");
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "%s completed",
	    on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	return IMAP_JOB_DONE;
}

/* --- NAMESPACE, STATUS ----------------------------------------------- */

enum imap_job_res
imap_cmd_namespace(struct imap_session *s, struct buf *out)
{
	/* one personal namespace, no prefix (RFC 2342) */
	buf_append_str(out, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "NAMESPACE completed");
	return IMAP_JOB_DONE;
}

void
imap_cmd_write_status(const struct imap_session *s, struct buf *out,
    const char *name, unsigned items, const struct mstore_status *st)
{
	const char *sep = "";

	buf_append_str(out, "* STATUS ");
	imap_cmd_write_mailbox(s, out, name);
	buf_append_str(out, " (");
#define STATUS_ITEM(bit, fmt, val) do {					\
	if (items & (bit)) {						\
		buf_printf(out, "%s" fmt, sep, val);			\
		sep = " ";						\
	}								\
} while (0)
	STATUS_ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %u", st->messages);
	STATUS_ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", st->uidnext);
	STATUS_ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u",
	    st->uidvalidity);
	STATUS_ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %u", st->unseen);
	STATUS_ITEM(IMAP_STATUS_DELETED, "DELETED %u", st->deleted);
	STATUS_ITEM(IMAP_STATUS_SIZE, "SIZE %llu",
	    (unsigned long long)st->size);
	STATUS_ITEM(IMAP_STATUS_RECENT, "RECENT %u", st->recent);
	STATUS_ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	    (unsigned long long)st->highestmodseq);
#undef STATUS_ITEM
	buf_append_str(out, ")\r\n");
}

enum imap_job_res
imap_cmd_status(struct imap_session *s, struct buf *out)
{
	const struct imap_mailbox *mb = &s->cmd->u.status.mbox;
	unsigned items = s->cmd->u.status.items;
	struct mstore_status st;
	const char *err = NULL;
	int rc;

	if (!imap_cmd_mailbox_ok(s, out, mb))
		return IMAP_JOB_DONE;
	if (items & IMAP_STATUS_HIGHESTMODSEQ)
		s->condstore = true;	/* RFC 7162 §3.1: enables CONDSTORE */
	memset(&st, 0, sizeof(st));
	rc = mstore_status(s->store, mb->name.p, &st, &err);
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "status");
	imap_cmd_write_status(s, out, mb->name.p, items, &st);
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "STATUS completed");
	return IMAP_JOB_DONE;
}

/* --- APPEND --------------------------------------------------------- */

enum imap_job_res
imap_cmd_append(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	const struct imap_mailbox *mb = &c->u.append.mbox;
	uint32_t uidvalidity = 0, uid = 0;
	time_t date = 0;
	const char *err = NULL;
	int rc;

	if (!imap_cmd_mailbox_ok(s, out, mb))
		return IMAP_JOB_DONE;
	if (c->u.append.msg.len == 0) {
		imap_tagged(s, out, "NO", "Empty message refused");
		return IMAP_JOB_DONE;
	}
	if (c->u.append.has_date)
		date = imap_parse_datetime_time(&c->u.append.date);
	rc = mstore_append(s->store, mb->name.p, c->u.append.msg.p,
	    c->u.append.msg.len, c->u.append.flags.sys, c->u.append.flags.kw,
	    c->u.append.flags.nkw, date, &uidvalidity, &uid, &err);
	if (rc == MSTORE_ENOENT) {
		imap_tagged(s, out, "NO", "[TRYCREATE] No such mailbox");
		return IMAP_JOB_DONE;
	}
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "append");
	/* into the selected folder: EXISTS comes with this reply */
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "[APPENDUID %u %u] APPEND completed",
	    uidvalidity, uid);
	return IMAP_JOB_DONE;
}

/* --- CHECK, CLOSE, UNSELECT ------------------------------------------- */

enum imap_job_res
imap_cmd_check(struct imap_session *s, struct buf *out)
{
	/* every change is durable when made: CHECK is a NOOP */
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "CHECK completed");
	return IMAP_JOB_DONE;
}

enum imap_job_res
imap_cmd_close(struct imap_session *s, struct buf *out)
{
	bool unselect = s->cmd->id == IMAP_CMD_UNSELECT;
	const char *err = NULL;
	int rc;

	/* CLOSE expunges silently: no EXPUNGE responses (RFC 9051 §6.4.1) */
	if (!unselect && !s->readonly && s->view != NULL) {
		rc = mstore_view_expunge(s->view, NULL, 0, &err);
		if (rc != 0)
			imap_cmd_log_error(s, "close-expunge", err);
	}
	imap_deselect(s);
	imap_tagged(s, out, "OK", "%s completed",
	    unselect ? "UNSELECT" : "CLOSE");
	return IMAP_JOB_DONE;
}
