/* mstore_cache.c: parse results kept in the index (table cache, one row
 * per message), so that ENVELOPE, BODYSTRUCTURE, SORT and THREAD need
 * not read the file again, and the top header block (header SEARCH
 * keys, BODY[HEADER.FIELDS ...]).  Strings are stored as blobs, as
 * given.
 *
 * A FETCH of many messages not parsed yet puts one row per message: the
 * puts are queued in the store (MSTORE_CACHE_BATCH of them) and written
 * in one transaction when the queue is full, before any other
 * transaction of the store, and by mstore_idle() and mstore_close().
 * A put lost in a crash is only a parse to do again. */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "imap/mstore_int.h"

/* Column of each string field in MS_CACHE_GET (and + 2 for the
 * parameter in MS_CACHE_PUT); column 3 is sent. */
#define MSTORE_CACHE_SENT	3

static struct str *
mstore_cache_field(struct mstore_cache *c, int col)
{
	switch (col) {
	case 0: return &c->envelope;
	case 1: return &c->bodystructure;
	case 2: return &c->body;
	case 4: return &c->subject;
	case 5: return &c->from;
	case 6: return &c->to;
	case 7: return &c->cc;
	case 8: return &c->display_from;
	case 9: return &c->display_to;
	case 10: return &c->message_id;
	case 11: return &c->in_reply_to;
	case 12: return &c->references;
	case 13: return &c->header;
	}
	return NULL;
}

#define MSTORE_CACHE_COLS	14

static void
mstore_cache_copy(struct mstore_view *v, sqlite3_stmt *s,
    struct mstore_cache *c)
{
	size_t total = 0, off = 0;

	for (int col = 0; col < MSTORE_CACHE_COLS; col++)
		if (col != MSTORE_CACHE_SENT)
			total += (size_t)sqlite3_column_bytes(s, col) + 1;
	if (total > v->cbuf_len) {
		free(v->cbuf);
		v->cbuf = xmalloc(total);
		v->cbuf_len = total;
	}
	for (int col = 0; col < MSTORE_CACHE_COLS; col++) {
		struct str *f = mstore_cache_field(c, col);
		const void *p;
		size_t len;

		if (f == NULL || sqlite3_column_type(s, col) == SQLITE_NULL)
			continue;
		p = sqlite3_column_blob(s, col);
		len = (size_t)sqlite3_column_bytes(s, col);
		if (len > 0)
			memcpy(v->cbuf + off, p, len);
		v->cbuf[off + len] = '\0';
		*f = str_make(v->cbuf + off, len);
		off += len + 1;
	}
	if (sqlite3_column_type(s, MSTORE_CACHE_SENT) != SQLITE_NULL)
		c->sent = (time_t)sqlite3_column_int64(s, MSTORE_CACHE_SENT);
}

static void
mstore_cache_bind(sqlite3_stmt *s, const struct mstore_cput *q)
{
	struct mstore_cache tmp = q->c;
	bool sort = false;

	sqlite3_bind_int64(s, 1, q->folder);
	sqlite3_bind_int64(s, 2, q->uid);
	for (int col = 0; col < MSTORE_CACHE_COLS; col++) {
		struct str *f = mstore_cache_field(&tmp, col);

		if (f == NULL || f->p == NULL)
			continue;
		sqlite3_bind_blob64(s, col + 3, f->len > 0 ? f->p : "",
		    f->len, SQLITE_STATIC);
		if (col >= 4 && col <= 12)
			sort = true;
	}
	/* sent is cached with the SORT fields (0 is a valid answer) */
	if (sort)
		sqlite3_bind_int64(s, MSTORE_CACHE_SENT + 3,
		    (int64_t)q->c.sent);
}

static void
mstore_cache_drop(struct mstore *st)
{
	for (size_t i = 0; i < st->ncq; i++)
		free(st->cq[i].mem);
	/* nothing kept per idle session */
	free(st->cq);
	st->cq = NULL;
	st->ncq = 0;
}

/* Write the queued puts (errors only cost a parse later). */
void
mstore_cache_flush(struct mstore *st)
{
	sqlite3_stmt *s;
	const char *err;

	if (st->ncq == 0 || st->in_tx)
		return;
	st->flushing = true;
	if (mstore_begin(st, true, &err) == 0) {
		for (size_t i = 0; i < st->ncq; i++) {
			if ((s = mstore_stmt(st, MS_CACHE_PUT, &err)) == NULL)
				break;
			mstore_cache_bind(s, &st->cq[i]);
			if (mstore_step_done(st, s, &err) != 0)
				break;
		}
		(void)mstore_commit(st, &err);
	}
	st->flushing = false;
	mstore_cache_drop(st);
}

/* Is a put for uid of this folder still queued? */
static bool
mstore_cache_queued(const struct mstore *st, int64_t folder, uint32_t uid)
{
	for (size_t i = 0; i < st->ncq; i++)
		if (st->cq[i].folder == folder && st->cq[i].uid == uid)
			return true;
	return false;
}

/* Under mstore_view_batch(), the first cache read opens a read
 * transaction that the following ones share: one snapshot and one set
 * of WAL read locks for a whole FETCH or SEARCH slice, instead of one
 * per message (a third of the CPU of a busy IMAP server went there).
 * Any write (mstore_begin) ends it first. */
static void
mstore_read_hold(struct mstore *st)
{
	if (!st->read_want || st->read_held || st->in_tx || st->db == NULL)
		return;
	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		st->read_held = true;
}

void
mstore_read_release(struct mstore *st)
{
	if (!st->read_held)
		return;
	st->read_held = false;
	if (st->db != NULL)
		(void)sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
}

void
mstore_batch(struct mstore *st, bool on)
{
	st->read_want = on;
	if (!on)
		mstore_read_release(st);
}

int
mstore_view_cache_put(struct mstore_view *v, uint32_t i,
    const struct mstore_cache *c, const char **err_r)
{
	struct mstore *st = v->st;
	struct mstore_cput *q;
	size_t total = 0, off = 0;

	mstore_view_unpack(v);	/* packed by mstore_idle() */
	if (i >= v->n)
		return mstore_failx(err_r, MSTORE_EGONE, "no message %u", i + 1);
	if (st->ncq == MSTORE_CACHE_BATCH)
		mstore_cache_flush(st);
	if (st->cq == NULL)
		st->cq = xcalloc(MSTORE_CACHE_BATCH, sizeof(*st->cq));
	q = &st->cq[st->ncq++];
	q->folder = v->f.id;
	q->uid = v->msgs[i].uid;
	q->c = *c;
	for (int col = 0; col < MSTORE_CACHE_COLS; col++) {
		struct str *f = mstore_cache_field(&q->c, col);

		if (f != NULL && f->p != NULL)
			total += f->len + 1;
	}
	q->mem = xmalloc(total + 1);
	for (int col = 0; col < MSTORE_CACHE_COLS; col++) {
		struct str *f = mstore_cache_field(&q->c, col);

		if (f == NULL || f->p == NULL)
			continue;
		if (f->len > 0)
			memcpy(q->mem + off, f->p, f->len);
		f->p = q->mem + off;
		off += f->len + 1;
	}
	if (st->ncq == MSTORE_CACHE_BATCH)
		mstore_cache_flush(st);
	return 0;
}

int
mstore_view_cache_get(struct mstore_view *v, uint32_t i,
    struct mstore_cache *c, const char **err_r)
{
	sqlite3_stmt *s;
	int rc;

	memset(c, 0, sizeof(*c));
	mstore_view_unpack(v);	/* packed by mstore_idle() */
	if (i >= v->n)
		return mstore_failx(err_r, MSTORE_EGONE, "no message %u", i + 1);
	if (mstore_cache_queued(v->st, v->f.id, v->msgs[i].uid))
		mstore_cache_flush(v->st);
	if ((rc = mstore_db(v->st, err_r)) != 0 ||
	    (s = mstore_stmt(v->st, MS_CACHE_GET, err_r)) == NULL)
		return rc != 0 ? rc : MSTORE_ERROR;
	mstore_read_hold(v->st);
	sqlite3_bind_int64(s, 1, v->f.id);
	sqlite3_bind_int64(s, 2, v->msgs[i].uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		mstore_cache_copy(v, s, c);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return mstore_dbfail(v->st, err_r, "cache");
	return 0;
}
