/* mstore_view.c: a selected folder.  A view is a snapshot of the
 * folder's messages in UID order (the sequence numbers), moved forward
 * by mstore_view_refresh() from what the index records after the
 * view's own modseq and UIDNEXT: expunged rows, changed rows, new rows.
 * Nothing but struct mstore_msg is kept per message, and not even that
 * while the session is idle: mstore_idle() packs the view into UID runs
 * and the first use after rebuilds the records from the index. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/mem.h"
#include "imap/mstore_int.h"

static void
mstore_view_push(struct mstore_view *v, sqlite3_stmt *s, bool recent)
{
	struct mstore_msg *m;

	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 64 : v->cap * 2;
		v->msgs = xrealloc(v->msgs, (size_t)v->cap * sizeof(*v->msgs));
	}
	m = &v->msgs[v->n++];
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)sqlite3_column_int64(s, 0);
	m->flags = (unsigned)sqlite3_column_int64(s, 1);
	m->kw = (uint32_t)sqlite3_column_int64(s, 2);
	m->modseq = (uint64_t)sqlite3_column_int64(s, 3);
	m->size = (uint64_t)sqlite3_column_int64(s, 4);
	m->internaldate = (time_t)sqlite3_column_int64(s, 5);
	m->recent = recent;
}

/* Rows with uid >= from, appended (recent: those a read-write view takes
 * as \Recent). */
static int
mstore_view_load(struct mstore_view *v, enum mstore_stmt which,
    uint32_t from, const char **err_r)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = mstore_stmt(v->st, which, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, v->f.id);
	if (which == MS_MSGS_NEWER)
		sqlite3_bind_int64(s, 2, from);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && v->n < MSTORE_MSGS_MAX)
		mstore_view_push(v, s, !v->readonly &&
		    (uint32_t)sqlite3_column_int64(s, 0) >= v->f.recent_uid);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return mstore_dbfail(v->st, err_r, "msgs");
	return 0;
}

static int
mstore_view_kw(struct mstore_view *v, const char **err_r)
{
	char **names;
	uint32_t n;

	if (mstore_fold_read_kw(v->st, &v->f, &names, &n, err_r) != 0)
		return MSTORE_ERROR;
	mstore_kw_free(v->kw, MSTORE_KEYWORDS_MAX);
	v->kw = names;
	v->nkw = n;
	return 0;
}

/* A transaction to read the folder in; a write one when this view is to
 * take messages as \Recent (recent_uid moves). */
static int
mstore_view_begin(struct mstore_view *v, const char **err_r)
{
	int rc;

	if (mstore_begin(v->st, false, err_r) != 0)
		return MSTORE_ERROR;
	if ((rc = mstore_fold_reload(v->st, &v->f, err_r)) != 0)
		goto fail;
	if (v->readonly || v->f.recent_uid >= v->f.uidnext)
		return 0;
	mstore_rollback(v->st);
	if (mstore_begin(v->st, true, err_r) != 0)
		return MSTORE_ERROR;
	if ((rc = mstore_fold_reload(v->st, &v->f, err_r)) != 0)
		goto fail;
	return 0;
fail:
	mstore_rollback(v->st);
	return rc;
}

/* recent_uid moves past what this view took. */
static int
mstore_view_end(struct mstore_view *v, const char **err_r)
{
	if (!v->readonly && v->f.recent_uid < v->f.uidnext) {
		v->f.recent_uid = v->f.uidnext;
		if (mstore_fold_save(v->st, &v->f, err_r) != 0) {
			mstore_rollback(v->st);
			return MSTORE_ERROR;
		}
	}
	v->uidnext = v->f.uidnext;
	v->modseq = v->f.modseq;
	return mstore_commit(v->st, err_r);
}

int
mstore_view_open(struct mstore *st, const char *name, bool readonly,
    struct mstore_view **v_r, const char **err_r)
{
	struct mstore_view *v;
	int rc;

	*v_r = NULL;
	v = xcalloc(1, sizeof(*v));
	v->st = st;
	v->readonly = readonly;
	v->next = st->views;
	if (st->views != NULL)
		st->views->prev = v;
	st->views = v;
	v->linked = true;
	if ((rc = mstore_db(st, err_r)) != 0 ||
	    (rc = mstore_fold_load(st, name, &v->f, err_r)) != 0 ||
	    (rc = mstore_sync(st, &v->f, 0, err_r)) != 0 ||
	    (rc = mstore_view_begin(v, err_r)) != 0)
		goto fail;
	if ((rc = mstore_view_load(v, MS_MSGS_VIEW, 0, err_r)) != 0 ||
	    (rc = mstore_view_kw(v, err_r)) != 0) {
		mstore_rollback(st);
		goto fail;
	}
	if ((rc = mstore_view_end(v, err_r)) != 0)
		goto fail;
	v->nkw_told = v->nkw;
	*v_r = v;
	return 0;
fail:
	mstore_view_close(&v);
	return rc;
}

void
mstore_view_close(struct mstore_view **vp)
{
	struct mstore_view *v = *vp;

	if (v == NULL)
		return;
	*vp = NULL;
	if (v->linked) {
		if (v->prev != NULL)
			v->prev->next = v->next;
		else
			v->st->views = v->next;
		if (v->next != NULL)
			v->next->prev = v->prev;
	}
	free(v->runs);
	free(v->own);
	mstore_fold_clear(&v->f);
	mstore_kw_free(v->kw, MSTORE_KEYWORDS_MAX);
	free(v->msgs);
	free(v->cbuf);
	free(v);
}

const char *
mstore_view_dir(const struct mstore_view *v)
{
	return v->f.dir;
}

/* The accessors take a const view but a packed one is rebuilt first:
 * views are always allocated writable (mstore_view_open()). */
uint32_t
mstore_view_count(const struct mstore_view *v)
{
	mstore_view_unpack((struct mstore_view *)v);
	return v->n;
}

const struct mstore_msg *
mstore_view_msg(const struct mstore_view *v, uint32_t i)
{
	mstore_view_unpack((struct mstore_view *)v);
	return i < v->n ? &v->msgs[i] : NULL;
}

uint32_t
mstore_view_uidvalidity(const struct mstore_view *v)
{
	return v->f.uidvalidity;
}

uint32_t
mstore_view_uidnext(const struct mstore_view *v)
{
	return v->uidnext;
}

uint64_t
mstore_view_highestmodseq(const struct mstore_view *v)
{
	return v->modseq;
}

int64_t
mstore_view_find_uid(const struct mstore_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi;

	mstore_view_unpack((struct mstore_view *)v);
	hi = v->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid == uid)
			return mid;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

size_t
mstore_view_keywords(const struct mstore_view *v, const char *const **names_r)
{
	*names_r = (const char *const *)v->kw;
	return v->nkw;
}

int
mstore_view_keyword(struct mstore_view *v, struct str name, bool create)
{
	const char *err;
	int bit;

	for (uint32_t i = 0; i < v->nkw; i++)
		if (v->kw[i] != NULL && strlen(v->kw[i]) == name.len &&
		    strncasecmp(v->kw[i], name.p, name.len) == 0)
			return (int)i;
	if (!create)
		return -1;
	if ((bit = mstore_keyword_add(v->st, &v->f, name, &err)) < 0)
		return bit;
	if (!v->st->in_tx)
		(void)mstore_view_kw(v, &err);
	return bit;
}

/*
 * Refresh.
 */

/* Messages marked gone leave the view in one pass; each expunge() is
 * told with the index it has once those before it are gone. */
static void
mstore_view_compact(struct mstore_view *v, const struct mstore_update_ops *ops,
    void *arg)
{
	uint32_t *uids = NULL, *pos = NULL, n = 0, o = 0;

	for (uint32_t i = 0; i < v->n; i++) {
		if (!v->msgs[i].gone) {
			v->msgs[o++] = v->msgs[i];
			continue;
		}
		if (uids == NULL) {
			uids = xcalloc(v->n - i, sizeof(*uids));
			pos = xcalloc(v->n - i, sizeof(*pos));
		}
		uids[n] = v->msgs[i].uid;
		pos[n] = i - n;
		n++;
	}
	v->n = o;
	for (uint32_t k = 0; k < n && ops->expunge != NULL; k++)
		ops->expunge(arg, pos[k], uids[k]);
	free(uids);
	free(pos);
}

static int
mstore_view_expunges(struct mstore_view *v, bool allow,
    const struct mstore_update_ops *ops, void *arg, const char **err_r)
{
	sqlite3_stmt *s;
	int64_t i;
	int rc;

	if ((s = mstore_stmt(v->st, MS_EXP_SINCE, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, v->f.id);
	sqlite3_bind_int64(s, 2, (int64_t)v->modseq);
	sqlite3_bind_int64(s, 3, v->uidnext);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((i = mstore_view_find_uid(v,
		    (uint32_t)sqlite3_column_int64(s, 0))) >= 0)
			v->msgs[i].gone = true;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return mstore_dbfail(v->st, err_r, "expunged");
	/* without allow, they stay (gone) until a refresh that may */
	if (allow)
		mstore_view_compact(v, ops, arg);
	return 0;
}

/* Rows changed since the view's modseq: records updated, their indexes
 * into *changed_r for the flags() calls. */
static int
mstore_view_changes(struct mstore_view *v, uint32_t **changed_r,
    size_t *n_r, const char **err_r)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int64_t i;
	int rc;

	if ((s = mstore_stmt(v->st, MS_MSGS_SINCE, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, v->f.id);
	sqlite3_bind_int64(s, 2, (int64_t)v->modseq);
	sqlite3_bind_int64(s, 3, v->uidnext);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct mstore_msg *m;
		unsigned flags = (unsigned)sqlite3_column_int64(s, 1);
		uint32_t kw = (uint32_t)sqlite3_column_int64(s, 2);
		uint64_t modseq = (uint64_t)sqlite3_column_int64(s, 3);

		i = mstore_view_find_uid(v, (uint32_t)sqlite3_column_int64(s,
		    0));
		if (i < 0 || (m = &v->msgs[i])->gone)
			continue;
		if (m->flags == flags && m->kw == kw && m->modseq == modseq)
			continue;	/* our own STORE */
		m->flags = flags;
		m->kw = kw;
		m->modseq = modseq;
		if (*n_r == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			*changed_r = xrealloc(*changed_r, cap * sizeof(**changed_r));
		}
		(*changed_r)[(*n_r)++] = (uint32_t)i;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return mstore_dbfail(v->st, err_r, "msgs");
	return 0;
}

static int
mstore_view_refresh_tx(struct mstore_view *v, bool allow, int64_t kw_mtime,
    const struct mstore_update_ops *ops, void *arg, const char **err_r)
{
	uint32_t *changed = NULL, n0;
	size_t nchanged = 0;
	int rc;

	if ((rc = mstore_view_begin(v, err_r)) != 0)
		return rc;
	/* names first: flags() may show keywords new to this view */
	if (kw_mtime != v->f.kw_mtime && (rc = mstore_view_kw(v, err_r)) != 0)
		goto fail;
	if ((rc = mstore_view_expunges(v, allow, ops, arg, err_r)) != 0 ||
	    (rc = mstore_view_changes(v, &changed, &nchanged, err_r)) != 0)
		goto fail;
	n0 = v->n;
	if ((rc = mstore_view_load(v, MS_MSGS_NEWER, v->uidnext, err_r)) != 0)
		goto fail;
	if ((rc = mstore_view_end(v, err_r)) != 0) {
		free(changed);
		return rc;
	}
	if (v->n != n0 && ops->exists != NULL)
		ops->exists(arg, v->n);
	for (size_t j = 0; j < nchanged; j++)
		if (ops->flags != NULL)
			ops->flags(arg, changed[j], &v->msgs[changed[j]]);
	free(changed);
	return 0;
fail:
	mstore_rollback(v->st);
	free(changed);
	return rc;
}

int
mstore_view_refresh(struct mstore_view *v, bool allow_expunge,
    const struct mstore_update_ops *ops, void *arg, const char **err_r)
{
	int64_t kw_mtime = v->f.kw_mtime;
	int rc;

	mstore_view_unpack(v);
	if ((rc = mstore_db(v->st, err_r)) != 0 ||
	    (rc = mstore_sync(v->st, &v->f, 0, err_r)) != 0 ||
	    (rc = mstore_view_refresh_tx(v, allow_expunge, kw_mtime, ops, arg,
	    err_r)) != 0)
		return rc;
	if (v->nkw != v->nkw_told) {
		v->nkw_told = v->nkw;
		if (ops->keywords != NULL)
			ops->keywords(arg);
	}
	return 0;
}

/*
 * Reading messages.
 */

/* The file name of uid in cur/ into name[size]: 0, MSTORE_EGONE. */
static int
mstore_view_fname(struct mstore_view *v, uint32_t uid, char *name,
    size_t size, const char **err_r)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = mstore_stmt(v->st, MS_MSG_GET, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, v->f.id);
	sqlite3_bind_int64(s, 2, uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(name, size, "%s", sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return mstore_dbfail(v->st, err_r, "msg");
	return mstore_failx(err_r, MSTORE_EGONE, "message %u expunged", uid);
}

int
mstore_view_open_msg(struct mstore_view *v, uint32_t i)
{
	char name[MAILDIR_NAME_MAX + 1], path[MAILDIR_PATH_MAX];
	const char *err;
	int fd, rc;

	mstore_view_unpack(v);
	if (i >= v->n) {
		errno = EINVAL;
		return -1;
	}
	if (mstore_db(v->st, &err) != 0) {
		errno = EIO;
		return -1;
	}
	for (bool waited = false, synced = false;;) {
		rc = mstore_view_fname(v, v->msgs[i].uid, name, sizeof(name),
		    &err);
		if (rc == MSTORE_ERROR) {
			errno = EIO;
			return -1;
		}
		if (rc == 0 && mstore_path(path, sizeof(path), v->f.dir, "cur",
		    name) == 0 && (fd = open(path, O_RDONLY | O_CLOEXEC |
		    O_NOFOLLOW)) != -1)
			return fd;
		if (rc == 0 && errno != ENOENT)
			return -1;
		/* Most often another session's STORE renamed it and its
		 * row is committed now, or about to be: wait for the write
		 * lock to be free and read the row again.  (A forced sync
		 * lists all of cur/ under the lock: a SEARCH that opened
		 * every message beside sessions storing flags did it
		 * dozens of times a second.) */
		if (rc == 0 && !waited && !synced && !v->st->in_tx) {
			waited = true;
			if (mstore_begin(v->st, true, &err) == 0)
				mstore_rollback(v->st);
			continue;
		}
		if (synced)
			break;
		/* renamed or removed behind the index's back: look again
		 * (all of cur/ when the index names a file not there; when
		 * the row is gone, expunged, only if cur/ changed) */
		synced = true;
		if (mstore_sync(v->st, &v->f, rc == 0 ? MSTORE_SYNC_FORCE : 0,
		    &err) != 0) {
			errno = EIO;
			return -1;
		}
	}
	errno = ENOENT;
	return -1;
}

/* The history is gone below floor_modseq (index rebuilt): every UID
 * below UIDNEXT that is not a message may have been expunged. */
static int
mstore_view_vanished_all(struct mstore_view *v, uint32_t **uids_r,
    size_t *n_r, const char **err_r)
{
	uint32_t *uids, next = 1;
	size_t n = 0, cap = 64;

	if ((uint64_t)v->uidnext - 1 - v->n > MSTORE_VANISHED_MAX)
		return mstore_failx(err_r, MSTORE_ERROR, "too many UIDs to "
		    "report as vanished");
	uids = xmalloc(cap * sizeof(*uids));
	for (uint32_t i = 0; i <= v->n; i++) {
		uint32_t end = i < v->n ? v->msgs[i].uid : v->uidnext;

		for (; next < end; next++) {
			if (n == cap)
				uids = xrealloc(uids, (cap *= 2) *
				    sizeof(*uids));
			uids[n++] = next;
		}
		next = end + 1;
	}
	*uids_r = uids;
	*n_r = n;
	return 0;
}

int
mstore_view_vanished(struct mstore_view *v, uint64_t modseq, uint32_t **uids_r,
    size_t *n_r, const char **err_r)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int rc;

	*uids_r = NULL;
	*n_r = 0;
	mstore_view_unpack(v);
	if ((rc = mstore_db(v->st, err_r)) != 0)
		return rc;
	if (modseq < v->f.floor_modseq)
		return mstore_view_vanished_all(v, uids_r, n_r, err_r);
	if ((s = mstore_stmt(v->st, MS_EXP_SINCE, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, v->f.id);
	sqlite3_bind_int64(s, 2, (int64_t)modseq);
	sqlite3_bind_int64(s, 3, v->uidnext);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n_r == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			*uids_r = xrealloc(*uids_r, cap * sizeof(**uids_r));
		}
		(*uids_r)[(*n_r)++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(*uids_r);
		*uids_r = NULL;
		*n_r = 0;
		return mstore_dbfail(v->st, err_r, "expunged");
	}
	return 0;
}

/*
 * Packing (idle sessions).
 *
 * A view's records hold, after a refresh, what the index held at the
 * view's modseq, except for the flags the view stored itself since
 * (their modseq is above the view's) and messages expunged elsewhere
 * but not yet announced (gone).  So a packed view keeps the UIDs as
 * runs (with the recent and gone bits), those few records whole, and
 * its modseq and UIDNEXT (kept in the view as always); unpacking reads
 * the rows back, gives those changed since the view's modseq by someone
 * else the view's modseq (not theirs), so that the next refresh reports
 * them, and marks UIDs no longer in the index gone, so that it reports
 * the expunges: the refresh then says what it would have said without
 * packing.
 */

static void
mstore_view_run_add(struct mstore_view *v, uint32_t *cap,
    const struct mstore_msg *m)
{
	struct mstore_run *r = v->nruns > 0 ? &v->runs[v->nruns - 1] : NULL;

	if (r != NULL && r->uid + r->n == m->uid && r->recent == m->recent &&
	    r->gone == m->gone && r->n < (1U << 30) - 1) {
		r->n++;
		return;
	}
	if (v->nruns == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		v->runs = xrealloc(v->runs, (size_t)*cap * sizeof(*v->runs));
	}
	r = &v->runs[v->nruns++];
	r->uid = m->uid;
	r->n = 1;
	r->recent = m->recent;
	r->gone = m->gone;
}

void
mstore_view_pack(struct mstore_view *v)
{
	uint32_t cap = 0, ocap = 0;

	if (v->packed)
		return;
	v->nruns = 0;
	v->nown = 0;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct mstore_msg *m = &v->msgs[i];

		mstore_view_run_add(v, &cap, m);
		if (m->modseq <= v->modseq && !m->gone)
			continue;
		if (v->nown == ocap) {
			ocap = ocap == 0 ? 4 : ocap * 2;
			v->own = xrealloc(v->own, (size_t)ocap *
			    sizeof(*v->own));
		}
		v->own[v->nown++] = *m;
	}
	if (v->nruns > 0 && v->nruns < cap)
		v->runs = xrealloc(v->runs, (size_t)v->nruns *
		    sizeof(*v->runs));
	v->npacked = v->n;
	free(v->msgs);
	v->msgs = NULL;
	v->n = v->cap = 0;
	free(v->cbuf);
	v->cbuf = NULL;
	v->cbuf_len = 0;
	v->packed = true;
}

/* Records from the index rows (merged by UID); 0 or MSTORE_ERROR. */
static int
mstore_view_unpack_rows(struct mstore_view *v)
{
	const char *err;
	sqlite3_stmt *s;
	uint32_t j = 0;
	int rc = SQLITE_DONE;

	if (mstore_db(v->st, &err) != 0 ||
	    (s = mstore_stmt(v->st, MS_MSGS_VIEW, &err)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, v->f.id);
	while (j < v->n && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(s, 0);
		struct mstore_msg *m;
		uint64_t modseq;

		for (; j < v->n && v->msgs[j].uid < uid; j++)
			v->msgs[j].gone = true;	/* expunged meanwhile */
		if (j == v->n || v->msgs[j].uid != uid)
			continue;
		m = &v->msgs[j++];
		m->flags = (unsigned)sqlite3_column_int64(s, 1);
		m->kw = (uint32_t)sqlite3_column_int64(s, 2);
		modseq = (uint64_t)sqlite3_column_int64(s, 3);
		/* changed since the view looked: the refresh tells (its
		 * flags() sees the modseq differ); until then a valid
		 * modseq, not the newer one */
		if (modseq > v->modseq)
			modseq = v->modseq > 0 ? v->modseq : 1;
		m->modseq = modseq;
		m->size = (uint64_t)sqlite3_column_int64(s, 4);
		m->internaldate = (time_t)sqlite3_column_int64(s, 5);
	}
	if (j < v->n && rc == SQLITE_DONE)
		for (; j < v->n; j++)
			v->msgs[j].gone = true;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		mstore_dbfail(v->st, &err, "msgs");
		return MSTORE_ERROR;
	}
	return 0;
}

/* Cannot fail: when the index cannot be read the records have UIDs
 * and no flags, and the view's modseq becomes 0 so that the next
 * refresh that works reports the flags of every message. */
void
mstore_view_unpack(struct mstore_view *v)
{
	int64_t i;

	if (!v->packed)
		return;
	v->packed = false;
	v->cap = v->npacked > 0 ? v->npacked : 1;
	v->msgs = xcalloc(v->cap, sizeof(*v->msgs));
	v->n = 0;
	for (uint32_t r = 0; r < v->nruns; r++)
		for (uint32_t k = 0; k < v->runs[r].n; k++) {
			struct mstore_msg *m = &v->msgs[v->n++];

			m->uid = v->runs[r].uid + k;
			m->modseq = v->modseq > 0 ? v->modseq : 1;
			m->recent = v->runs[r].recent;
			m->gone = v->runs[r].gone;
		}
	if (mstore_view_unpack_rows(v) != 0)
		v->modseq = 0;
	for (uint32_t k = 0; k < v->nown; k++)
		if ((i = mstore_view_find_uid(v, v->own[k].uid)) >= 0)
			v->msgs[i] = v->own[k];
	free(v->runs);
	free(v->own);
	v->runs = NULL;
	v->own = NULL;
	v->nruns = v->nown = 0;
}
