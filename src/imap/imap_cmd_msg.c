/* imap_cmd_msg.c: the commands on messages of the selected folder:
 * FETCH, STORE, COPY, MOVE, EXPUNGE and their UID forms (SEARCH, SORT
 * and THREAD are in imap_cmd_search.c).
 *
 * FETCH is the one command whose answer can be large: it renders one
 * message at a time and hands out back to the loop (IMAP_JOB_MORE)
 * each time IMAP_JOB_CHUNK bytes are waiting, its place kept in
 * s->cmd_state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "imap/imap_cmd_int.h"
#include "imap/imap_msg.h"

static enum imap_job_res
imap_msg_bad_set(struct imap_session *s, struct buf *out)
{
	imap_tagged(s, out, "BAD", "Message number out of range");
	return IMAP_JOB_DONE;
}

/* --- FETCH ------------------------------------------------------------- */

struct imap_fetch_state {
	uint32_t		*idx;
	size_t			 n, pos;
	uint8_t			*seen_now;	/* \Seen just set: add FLAGS */
	struct imap_fetch_att	*att2;		/* the items plus FLAGS */
	size_t			 natt2;
	bool			 gone, unknown_cte, error;
};

static void
imap_fetch_state_free(void *arg)
{
	struct imap_fetch_state *st = arg;

	if (st == NULL)
		return;
	free(st->idx);
	free(st->seen_now);
	free(st->att2);
	free(st);
}

/* Does the command read a body without .PEEK (RFC 9051 §6.4.5)? */
static bool
imap_fetch_sets_seen(const struct imap_command *c)
{
	const struct imap_fetch_att *a;
	size_t i;

	for (i = 0; i < c->u.fetch.n; i++) {
		a = &c->u.fetch.att[i];
		switch (a->item) {
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_TEXT:
			return true;
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_BINARY:
			if (!a->peek)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

static bool
imap_fetch_has(const struct imap_command *c, enum imap_fetch_item item)
{
	size_t i;

	for (i = 0; i < c->u.fetch.n; i++)
		if (c->u.fetch.att[i].item == item)
			return true;
	return false;
}

/* Set \Seen on the messages about to be read that lack it; they get
 * FLAGS in their FETCH answer. */
static void
imap_fetch_mark_seen(struct imap_session *s, struct imap_fetch_state *st)
{
	const struct mstore_msg *m;
	uint32_t *todo, *failed;
	size_t i, n = 0, nfailed = 0;
	const char *err = NULL;

	todo = xcalloc(st->n, sizeof(*todo));
	failed = xcalloc(st->n, sizeof(*failed));
	for (i = 0; i < st->n; i++) {
		m = mstore_view_msg(s->view, st->idx[i]);
		if (!m->gone && !(m->flags & IMAP_FLAG_SEEN))
			todo[n++] = st->idx[i];
	}
	if (n > 0 && mstore_view_store(s->view, todo, n, MSTORE_FLAGS_ADD,
	    IMAP_FLAG_SEEN, 0, 0, failed, &nfailed, &err) != 0)
		imap_cmd_log_error(s, "fetch-seen", err);
	free(todo);
	free(failed);
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED): the UIDs of the set expunged
 * since m (RFC 7162 §3.2.6). */
static void
imap_fetch_vanished(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	uint32_t *uids = NULL, uidmax;
	size_t n = 0, i, k;
	const char *err = NULL;

	if (mstore_view_vanished(s->view, c->u.fetch.changedsince, &uids, &n,
	    &err) != 0) {
		imap_cmd_log_error(s, "vanished", err);
		return;
	}
	uidmax = mstore_view_uidnext(s->view) - 1;
	for (i = k = 0; i < n; i++)
		if (imap_cmd_set_has_uid(&c->u.fetch.set, uidmax, uids[i]))
			uids[k++] = uids[i];
	if (k > 0) {
		buf_append_str(out, "* VANISHED (EARLIER) ");
		imap_cmd_write_set(out, uids, k);
		buf_append_str(out, "\r\n");
	}
	free(uids);
}

/* The first call: resolve the set, filter, mark \Seen. */
static int
imap_fetch_begin(struct imap_session *s, struct buf *out,
    struct imap_fetch_state **st_r)
{
	const struct imap_command *c = s->cmd;
	struct imap_fetch_state *st;
	const struct mstore_msg *m;
	uint8_t *unseen = NULL;
	size_t i, k;

	st = xcalloc(1, sizeof(*st));
	if (imap_cmd_resolve(s, &c->u.fetch.set, c->uid, &st->idx,
	    &st->n) == -1) {
		imap_fetch_state_free(st);
		return -1;
	}
	if (c->u.fetch.has_changedsince) {
		for (i = k = 0; i < st->n; i++) {
			m = mstore_view_msg(s->view, st->idx[i]);
			if (m->modseq > c->u.fetch.changedsince)
				st->idx[k++] = st->idx[i];
		}
		st->n = k;
	}
	if (c->u.fetch.vanished)
		imap_fetch_vanished(s, out);
	if (st->n > 0 && !s->readonly && imap_fetch_sets_seen(c)) {
		unseen = xcalloc(st->n, 1);
		for (i = 0; i < st->n; i++) {
			m = mstore_view_msg(s->view, st->idx[i]);
			unseen[i] = !m->gone && !(m->flags & IMAP_FLAG_SEEN);
		}
		imap_fetch_mark_seen(s, st);
		st->seen_now = xcalloc(st->n, 1);
		for (i = 0; i < st->n; i++) {
			m = mstore_view_msg(s->view, st->idx[i]);
			st->seen_now[i] = unseen[i] &&
			    (m->flags & IMAP_FLAG_SEEN);
		}
		free(unseen);
	}
	if (!imap_fetch_has(c, IMAP_FETCH_FLAGS)) {
		st->natt2 = c->u.fetch.n + 1;
		st->att2 = xcalloc(st->natt2, sizeof(*st->att2));
		memcpy(st->att2, c->u.fetch.att,
		    c->u.fetch.n * sizeof(*st->att2));
		st->att2[c->u.fetch.n].item = IMAP_FETCH_FLAGS;
	}
	*st_r = st;
	return 0;
}

static void
imap_fetch_one(struct imap_session *s, struct buf *out,
    struct imap_fetch_state *st, const struct imap_fetch_ctx *ctx)
{
	struct imap_fetch_ctx ctx2;
	struct imap_msg md;
	const char *err = NULL;
	int rc;

	ctx2 = *ctx;
	if (st->seen_now != NULL && st->seen_now[st->pos]) {
		if (st->att2 != NULL) {
			ctx2.att = st->att2;
			ctx2.n = st->natt2;
		}
		ctx2.modseq = s->condstore;	/* and UID: RFC 7162 §3.1 */
		ctx2.uid = ctx->uid || s->condstore;
	}
	imap_msg_init(&md, s->view, st->idx[st->pos]);
	rc = imap_fetch_write(out, &ctx2, &md, &err);
	imap_msg_release(&md);
	if (rc == MSTORE_EGONE)
		st->gone = st->gone || !s->cmd->uid;
	else if (rc == IMAP_MSG_UNKNOWN_CTE)
		st->unknown_cte = true;
	else if (rc != 0) {
		imap_cmd_log_error(s, "fetch", err);
		st->error = true;
	}
}

static enum imap_job_res
imap_fetch_end(struct imap_session *s, struct buf *out,
    const struct imap_fetch_state *st)
{
	imap_update(s, out, s->cmd->uid);
	if (st->error)
		imap_tagged(s, out, "NO", "[SERVERBUG] Internal error, see "
		    "the server log");
	else if (st->unknown_cte)
		imap_tagged(s, out, "NO", "[UNKNOWN-CTE] Cannot decode a "
		    "part's transfer encoding");
	else if (st->gone)
		imap_tagged(s, out, "NO", "[EXPUNGEISSUED] Some messages "
		    "were expunged");
	else
		imap_tagged(s, out, "OK", "FETCH completed");
	return IMAP_JOB_DONE;
}

enum imap_job_res
imap_cmd_fetch(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	struct imap_fetch_state *st = s->cmd_state;
	struct imap_fetch_ctx ctx;

	if (st == NULL) {
		if (c->u.fetch.vanished && !s->qresync) {
			imap_tagged(s, out, "BAD", "QRESYNC is not enabled");
			return IMAP_JOB_DONE;
		}
		if (c->u.fetch.has_changedsince ||
		    imap_fetch_has(c, IMAP_FETCH_MODSEQ))
			s->condstore = true;	/* RFC 7162 §3.1 */
		if (imap_fetch_begin(s, out, &st) == -1)
			return imap_msg_bad_set(s, out);
		s->cmd_state = st;
		s->cmd_state_free = imap_fetch_state_free;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.att = c->u.fetch.att;
	ctx.n = c->u.fetch.n;
	ctx.uid = c->uid;
	ctx.modseq = c->u.fetch.has_changedsince;
	ctx.rev2 = s->rev2;
	ctx.nkw = mstore_view_keywords(s->view, &ctx.kwnames);
	while (st->pos < st->n && !st->error) {
		imap_fetch_one(s, out, st, &ctx);
		st->pos++;
		if (out->len >= IMAP_JOB_CHUNK && st->pos < st->n)
			return IMAP_JOB_MORE;
	}
	return imap_fetch_end(s, out, st);
}

/* --- STORE ---------------------------------------------------------------- */

/* The keyword bits of the command, created in the folder unless
 * removing; -1 after answering NO. */
static int
imap_store_keywords(struct imap_session *s, struct buf *out, uint32_t *kw_r)
{
	const struct imap_command *c = s->cmd;
	bool create = c->u.store.op != IMAP_STORE_REMOVE;
	size_t i;
	int bit;

	*kw_r = 0;
	for (i = 0; i < c->u.store.flags.nkw; i++) {
		bit = mstore_view_keyword(s->view, c->u.store.flags.kw[i],
		    create);
		if (bit == MSTORE_ELIMIT) {
			imap_tagged(s, out, "NO", "[LIMIT] Too many keywords "
			    "in this mailbox (%d)", MSTORE_KEYWORDS_MAX);
			return -1;
		}
		if (bit >= 0 && bit < 32)
			*kw_r |= 1u << bit;
	}
	return 0;
}

static enum mstore_store_op
imap_store_op(enum imap_store_op op)
{
	switch (op) {
	case IMAP_STORE_ADD:
		return MSTORE_FLAGS_ADD;
	case IMAP_STORE_REMOVE:
		return MSTORE_FLAGS_REMOVE;
	default:
		return MSTORE_FLAGS_SET;
	}
}

static int
imap_store_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The FETCH answers: FLAGS for each message of the set (RFC 9051
 * §6.4.6), or with .SILENT and CONDSTORE only the new MODSEQ of those
 * that changed (RFC 7162 §3.1.3). */
static void
imap_store_answer(struct imap_session *s, struct buf *out,
    const uint32_t *idx, size_t n, const uint64_t *before,
    const uint8_t *failed)
{
	const struct imap_command *c = s->cmd;
	const struct mstore_msg *m;
	size_t i;

	for (i = 0; i < n; i++) {
		m = mstore_view_msg(s->view, idx[i]);
		if (failed[i] || m->gone)
			continue;
		/* with CONDSTORE, UID and MODSEQ in every FETCH a flag
		 * change causes (RFC 7162 §3.1) */
		if (!c->u.store.silent)
			imap_cmd_write_flags_fetch(s, out, idx[i], true,
			    c->uid || s->condstore, s->condstore);
		else if (s->condstore && m->modseq != before[i])
			imap_cmd_write_flags_fetch(s, out, idx[i], false,
			    true, true);
	}
}

/* "[MODIFIED set] " of the messages that failed UNCHANGEDSINCE. */
static void
imap_store_modified(struct imap_session *s, struct buf *code,
    const uint32_t *failed, size_t nfailed)
{
	uint32_t *nums;
	size_t i;

	nums = xcalloc(nfailed, sizeof(*nums));
	for (i = 0; i < nfailed; i++)
		nums[i] = s->cmd->uid ?
		    mstore_view_msg(s->view, failed[i])->uid : failed[i] + 1;
	qsort(nums, nfailed, sizeof(*nums), imap_store_u32_cmp);
	buf_append_str(code, "[MODIFIED ");
	imap_cmd_write_set(code, nums, nfailed);
	buf_append_str(code, "] ");
	free(nums);
}

static int
imap_store_apply(struct imap_session *s, uint32_t kw, uint32_t *idx,
    size_t n, uint32_t *failed, size_t *nfailed, const char **err_r)
{
	const struct imap_command *c = s->cmd;
	size_t i;

	*nfailed = 0;
	/* UNCHANGEDSINCE 0 fails for every message (RFC 7162 §3.1.3);
	 * the store reads 0 as "no condition" */
	if (c->u.store.has_unchangedsince && c->u.store.unchangedsince == 0) {
		for (i = 0; i < n; i++)
			if (!mstore_view_msg(s->view, idx[i])->gone)
				failed[(*nfailed)++] = idx[i];
		return 0;
	}
	return mstore_view_store(s->view, idx, n,
	    imap_store_op(c->u.store.op), c->u.store.flags.sys, kw,
	    c->u.store.has_unchangedsince ? c->u.store.unchangedsince : 0,
	    failed, nfailed, err_r);
}

struct imap_store_work {
	uint32_t	*idx;		/* the set, view indexes */
	size_t		 n;
	uint32_t	*failed;	/* UNCHANGEDSINCE failures */
	size_t		 nfailed;
	uint8_t		*isfailed;	/* per position of idx */
	uint64_t	*before;	/* modseqs before the change */
};

static void
imap_store_work_free(struct imap_store_work *w)
{
	free(w->idx);
	free(w->failed);
	free(w->isfailed);
	free(w->before);
}

static void
imap_store_work_alloc(struct imap_session *s, struct imap_store_work *w)
{
	size_t i;

	w->failed = xcalloc(w->n + 1, sizeof(*w->failed));
	w->isfailed = xcalloc(w->n + 1, 1);
	w->before = xcalloc(w->n + 1, sizeof(*w->before));
	for (i = 0; i < w->n; i++)
		w->before[i] = mstore_view_msg(s->view, w->idx[i])->modseq;
}

/* Both lists ascend: mark the failed positions. */
static void
imap_store_work_mark(struct imap_store_work *w)
{
	size_t i, j;

	for (i = j = 0; i < w->n && j < w->nfailed; i++) {
		if (w->idx[i] == w->failed[j]) {
			w->isfailed[i] = 1;
			j++;
		}
	}
}

enum imap_job_res
imap_cmd_store(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	struct imap_store_work w = { 0 };
	const char *const *names;
	const char *err = NULL;
	size_t nkw0;
	struct buf code;
	uint32_t kw;
	int rc = 0;

	if (s->readonly) {
		imap_tagged(s, out, "NO", "Mailbox is read-only");
		return IMAP_JOB_DONE;
	}
	if (c->u.store.has_unchangedsince)
		s->condstore = true;
	if (imap_cmd_resolve(s, &c->u.store.set, c->uid, &w.idx, &w.n) == -1)
		return imap_msg_bad_set(s, out);
	nkw0 = mstore_view_keywords(s->view, &names);
	if (imap_store_keywords(s, out, &kw) == -1) {
		imap_store_work_free(&w);
		return IMAP_JOB_DONE;
	}
	/* new keywords: FLAGS and PERMANENTFLAGS before the FETCH answers
	 * that use them; the refresh says so once (no expunge here, the
	 * indexes must hold) */
	if (mstore_view_keywords(s->view, &names) != nkw0)
		imap_update(s, out, false);
	imap_store_work_alloc(s, &w);
	if (w.n > 0)
		rc = imap_store_apply(s, kw, w.idx, w.n, w.failed, &w.nfailed,
		    &err);
	if (rc != 0) {
		imap_store_work_free(&w);
		return imap_cmd_fail(s, out, rc, err, "store");
	}
	imap_store_work_mark(&w);
	imap_store_answer(s, out, w.idx, w.n, w.before, w.isfailed);
	buf_init(&code, 12 * w.nfailed + 64);	/* "n," each, the words */
	if (w.nfailed > 0)
		imap_store_modified(s, &code, w.failed, w.nfailed);
	imap_update(s, out, c->uid);
	imap_tagged(s, out, "OK", "%.*s%s", (int)code.len,
	    code.p != NULL ? code.p : "",
	    w.nfailed > 0 ? "Conditional STORE failed" : "STORE completed");
	buf_free(&code);
	imap_store_work_free(&w);
	return IMAP_JOB_DONE;
}

/* --- COPY, MOVE ------------------------------------------------------- */

enum imap_job_res
imap_cmd_copy(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	const struct imap_mailbox *mb = &c->u.copy.mbox;
	bool move = c->id == IMAP_CMD_MOVE;
	const char *name = move ? "MOVE" : "COPY", *err = NULL;
	uint32_t *idx = NULL, *src = NULL, *dst = NULL, uidvalidity = 0;
	size_t n = 0, ncopied = 0;
	struct buf code;
	int rc;

	if (move && s->readonly) {
		imap_tagged(s, out, "NO", "Mailbox is read-only");
		return IMAP_JOB_DONE;
	}
	if (!imap_cmd_mailbox_ok(s, out, mb))
		return IMAP_JOB_DONE;
	if (imap_cmd_resolve(s, &c->u.copy.set, c->uid, &idx, &n) == -1)
		return imap_msg_bad_set(s, out);
	src = xcalloc(n + 1, sizeof(*src));
	dst = xcalloc(n + 1, sizeof(*dst));
	rc = mstore_view_copy(s->view, idx, n, mb->name.p, move, &uidvalidity,
	    src, dst, &ncopied, &err);
	free(idx);
	if (rc == MSTORE_ENOENT) {
		imap_tagged(s, out, "NO", "[TRYCREATE] No such mailbox");
		goto done;
	}
	if (rc != 0) {
		imap_cmd_fail(s, out, rc, err, move ? "move" : "copy");
		goto done;
	}
	buf_init(&code, 24 * ncopied + 64);	/* two sets of "n," */
	if (ncopied > 0) {
		buf_printf(&code, "[COPYUID %u ", uidvalidity);
		imap_cmd_write_set(&code, src, ncopied);
		buf_append_str(&code, " ");
		imap_cmd_write_set(&code, dst, ncopied);
		buf_append_str(&code, "] ");
	}
	if (move && code.len > 0)	/* RFC 6851 §4.3 */
		buf_printf(out, "* OK %.*sMoved\r\n", (int)code.len, code.p);
	/* MOVE: the EXPUNGEs (or VANISHED) of the moved messages */
	imap_update(s, out, true);
	if (ncopied < n && !c->uid)
		imap_tagged(s, out, "NO", "[EXPUNGEISSUED] Some messages "
		    "were expunged");
	else
		imap_tagged(s, out, "OK", "%.*s%s completed",
		    move ? 0 : (int)code.len, code.p != NULL ? code.p : "",
		    name);
	buf_free(&code);
done:
	free(src);
	free(dst);
	return IMAP_JOB_DONE;
}

/* --- EXPUNGE, UID EXPUNGE ----------------------------------------------- */

enum imap_job_res
imap_cmd_expunge(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	uint32_t *idx = NULL;
	const char *err = NULL;
	size_t n = 0;
	int rc = 0;

	if (s->readonly) {
		imap_tagged(s, out, "NO", "Mailbox is read-only");
		return IMAP_JOB_DONE;
	}
	if (c->uid) {
		imap_cmd_resolve(s, &c->u.expunge.set, true, &idx, &n);
		if (n > 0)
			rc = mstore_view_expunge(s->view, idx, n, &err);
		free(idx);
	} else
		rc = mstore_view_expunge(s->view, NULL, 0, &err);
	if (rc != 0)
		return imap_cmd_fail(s, out, rc, err, "expunge");
	imap_update(s, out, true);
	imap_tagged(s, out, "OK", "EXPUNGE completed");
	return IMAP_JOB_DONE;
}
