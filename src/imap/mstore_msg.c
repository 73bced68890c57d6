/* mstore_msg.c: changing messages: STORE (rename with new flags),
 * EXPUNGE (unlink), COPY and MOVE (hard links with new base names),
 * APPEND (tmp/, then cur/ with its UID).  Each runs in one write
 * transaction of the index; the file operations come first and are
 * made durable where a crash would otherwise lose or duplicate mail
 * (doc/IMAP_STORE.md lists the crash states). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "imap/imap_parse.h"
#include "imap/mstore_int.h"

#define MSTORE_COPY_BUF		(64 * 1024)

struct mstore_row1 {
	char		fname[MAILDIR_NAME_MAX + 1];
	unsigned	flags;
	uint32_t	kw;
	uint64_t	modseq, size;
	time_t		idate;
};

/* The row of uid in f: 1 found, 0 none, or an error. */
static int
mstore_row_get(struct mstore *st, const struct mstore_fold *f, uint32_t uid,
    struct mstore_row1 *r, const char **err_r)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = mstore_stmt(st, MS_MSG_GET, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(r->fname, sizeof(r->fname), "%s",
		    sqlite3_column_text(s, 0));
		r->flags = (unsigned)sqlite3_column_int64(s, 1);
		r->kw = (uint32_t)sqlite3_column_int64(s, 2);
		r->modseq = (uint64_t)sqlite3_column_int64(s, 3);
		r->size = (uint64_t)sqlite3_column_int64(s, 4);
		r->idate = (time_t)sqlite3_column_int64(s, 5);
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : mstore_dbfail(st, err_r, "msg");
}

/* cur/ of f opened, and whether the index was up to date with it
 * (then our own changes keep it so: see mstore_cur_done()). */
static int
mstore_cur_open(const struct mstore_fold *f, const char *sub, bool *clean_r,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	struct stat sb;
	int fd;

	if (mstore_path(path, sizeof(path), f->dir, sub, NULL) == -1 ||
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return mstore_fail(err_r, errno == ENOENT ? MSTORE_ENOENT :
		    MSTORE_ERROR, "open(%s/%s)", f->dir, sub);
	if (clean_r != NULL)
		*clean_r = fstat(fd, &sb) == 0 && f->cur_mtime > 0 &&
		    mstore_mtime_ns(&sb) == f->cur_mtime;
	return fd;
}

static void
mstore_cur_done(struct mstore_fold *f, int fd, bool clean)
{
	struct stat sb;

	if (clean && fstat(fd, &sb) == 0)
		f->cur_mtime = mstore_mtime_ns(&sb);
}

static void
mstore_apply(enum mstore_store_op op, unsigned flags, uint32_t kw,
    unsigned *f, uint32_t *k)
{
	switch (op) {
	case MSTORE_FLAGS_SET:
		*f = flags;
		*k = kw;
		break;
	case MSTORE_FLAGS_ADD:
		*f |= flags;
		*k |= kw;
		break;
	case MSTORE_FLAGS_REMOVE:
		*f &= ~flags;
		*k &= ~kw;
		break;
	}
}

static int
mstore_set_flags(struct mstore *st, struct mstore_fold *f, uint32_t uid,
    const char *fname, unsigned flags, uint32_t kw, const char **err_r)
{
	sqlite3_stmt *s;

	if ((s = mstore_stmt(st, MS_MSG_FLAGS, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, flags);
	sqlite3_bind_int64(s, 4, kw);
	sqlite3_bind_int64(s, 5, (int64_t)++f->modseq);
	sqlite3_bind_text(s, 6, fname, -1, SQLITE_STATIC);
	return mstore_step_done(st, s, err_r);
}

/* One message of a STORE: 0 (done, unchanged or gone), 1 (failed the
 * UNCHANGEDSINCE test) or an error. */
static int
mstore_store_one(struct mstore_view *v, int cur_fd, struct mstore_msg *m,
    enum mstore_store_op op, unsigned flags, uint32_t kw,
    uint64_t unchangedsince, const char **err_r)
{
	char to[MAILDIR_NAME_MAX + 1];
	struct mstore_row1 r;
	unsigned nf;
	uint32_t nk;
	int rc;

	for (int tries = 0; tries < 2; tries++) {
		if ((rc = mstore_row_get(v->st, &v->f, m->uid, &r,
		    err_r)) <= 0)
			return rc;	/* gone: the next refresh says so */
		if (unchangedsince != 0 && r.modseq > unchangedsince)
			return 1;
		nf = r.flags;
		nk = r.kw;
		mstore_apply(op, flags, kw, &nf, &nk);
		if (nf == r.flags && nk == r.kw) {
			m->flags = nf;
			m->kw = nk;
			return 0;
		}
		if (mstore_fname_build(to, sizeof(to), r.fname, 0, true, nf,
		    nk) == -1)
			return mstore_failx(err_r, MSTORE_ERROR, "%s: name "
			    "too long", r.fname);
		if (renameat(cur_fd, r.fname, cur_fd, to) == 0)
			break;
		if (errno != ENOENT || tries > 0)
			return errno == ENOENT ? 0 : mstore_fail(err_r,
			    MSTORE_ERROR, "rename(%s/cur/%s, %s)", v->f.dir,
			    r.fname, to);
		/* renamed or expunged by someone else: look again */
		if ((rc = mstore_sync(v->st, &v->f, MSTORE_SYNC_FORCE,
		    err_r)) != 0)
			return rc;
	}
	if ((rc = mstore_set_flags(v->st, &v->f, m->uid, to, nf, nk,
	    err_r)) != 0)
		return rc;
	m->flags = nf;
	m->kw = nk;
	m->modseq = v->f.modseq;
	return 0;
}

int
mstore_view_store(struct mstore_view *v, const uint32_t *idx, size_t n,
    enum mstore_store_op op, unsigned flags, uint32_t kw,
    uint64_t unchangedsince, uint32_t *failed_r, size_t *nfailed_r,
    const char **err_r)
{
	bool clean = false;
	int cur_fd = -1, rc;

	*nfailed_r = 0;
	mstore_view_unpack(v);
	if (mstore_begin(v->st, true, err_r) != 0)
		return MSTORE_ERROR;
	if ((rc = mstore_fold_reload(v->st, &v->f, err_r)) != 0 ||
	    (rc = cur_fd = mstore_cur_open(&v->f, "cur", &clean, err_r)) < 0)
		goto fail;
	for (size_t j = 0; j < n; j++) {
		if (idx[j] >= v->n || v->msgs[idx[j]].gone)
			continue;
		rc = mstore_store_one(v, cur_fd, &v->msgs[idx[j]], op, flags,
		    kw, unchangedsince, err_r);
		if (rc < 0)
			goto fail;
		if (rc == 1 && failed_r != NULL)
			failed_r[(*nfailed_r)++] = idx[j];
	}
	mstore_cur_done(&v->f, cur_fd, clean);
	close(cur_fd);
	if ((rc = mstore_fold_save(v->st, &v->f, err_r)) != 0) {
		mstore_rollback(v->st);
		return rc;
	}
	return mstore_commit(v->st, err_r);
fail:
	if (cur_fd >= 0)
		close(cur_fd);
	mstore_rollback(v->st);
	return rc;
}

/*
 * EXPUNGE
 */

struct mstore_victim {
	uint32_t	uid;
	char		*fname;
};

static int
mstore_victims(struct mstore_view *v, const uint32_t *idx, size_t n,
    struct mstore_victim **vs_r, size_t *nv_r, const char **err_r)
{
	struct mstore_victim *vs = NULL;
	struct mstore_row1 r;
	sqlite3_stmt *s;
	size_t nv = 0, cap = 0;
	int rc;

	*vs_r = NULL;
	*nv_r = 0;
	if (idx != NULL) {
		vs = xcalloc(n > 0 ? n : 1, sizeof(*vs));
		for (size_t j = 0; j < n; j++) {
			if (idx[j] >= v->n)
				continue;
			rc = mstore_row_get(v->st, &v->f, v->msgs[idx[j]].uid,
			    &r, err_r);
			if (rc < 0)
				goto fail;
			if (rc == 0 || !(r.flags & IMAP_FLAG_DELETED))
				continue;
			vs[nv].uid = v->msgs[idx[j]].uid;
			vs[nv++].fname = xstrdup(r.fname);
		}
		*vs_r = vs;
		*nv_r = nv;
		return 0;
	}
	if ((s = mstore_stmt(v->st, MS_MSG_DELETED, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, v->f.id);
	sqlite3_bind_int64(s, 2, v->uidnext);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (nv == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			vs = xrealloc(vs, cap * sizeof(*vs));
		}
		vs[nv].uid = (uint32_t)sqlite3_column_int64(s, 0);
		vs[nv++].fname = xstrdup((const char *)sqlite3_column_text(s,
		    1));
	}
	sqlite3_reset(s);
	*vs_r = vs;
	*nv_r = nv;
	if (rc != SQLITE_DONE)
		return mstore_dbfail(v->st, err_r, "msgs");
	return 0;
fail:
	*vs_r = vs;
	*nv_r = nv;
	return rc;
}

static void
mstore_victims_free(struct mstore_victim *vs, size_t n)
{
	for (size_t j = 0; j < n; j++)
		free(vs[j].fname);
	free(vs);
}

/* Unlink the files of vs[] in f's cur/ and expunge their rows; a file
 * renamed meanwhile is found again after a full sync. */
static int
mstore_unlink_all(struct mstore *st, struct mstore_fold *f, int cur_fd,
    struct mstore_victim *vs, size_t nv, const char **err_r)
{
	struct mstore_row1 r;
	bool lost = false;
	int rc;

	for (size_t j = 0; j < nv; j++) {
		if (unlinkat(cur_fd, vs[j].fname, 0) == -1) {
			if (errno != ENOENT)
				return mstore_fail(err_r, MSTORE_ERROR,
				    "unlink(%s/cur/%s)", f->dir, vs[j].fname);
			lost = true;
			continue;
		}
		free(vs[j].fname);
		vs[j].fname = NULL;
	}
	if (nv > 0 && fsync(cur_fd) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "fsync(%s/cur)",
		    f->dir);
	if (lost && (rc = mstore_sync(st, f, MSTORE_SYNC_FORCE, err_r)) != 0)
		return rc;
	for (size_t j = 0; j < nv; j++) {
		if (vs[j].fname != NULL) {
			if ((rc = mstore_row_get(st, f, vs[j].uid, &r,
			    err_r)) < 0)
				return rc;
			if (rc == 0)
				continue;	/* expunged by the sync */
			if (unlinkat(cur_fd, r.fname, 0) == -1 &&
			    errno != ENOENT)
				return mstore_fail(err_r, MSTORE_ERROR,
				    "unlink(%s/cur/%s)", f->dir, r.fname);
			(void)fsync(cur_fd);
		}
		if ((rc = mstore_expunge_row(st, f, vs[j].uid, err_r)) != 0)
			return rc;
	}
	return 0;
}

int
mstore_view_expunge(struct mstore_view *v, const uint32_t *idx, size_t n,
    const char **err_r)
{
	struct mstore_victim *vs = NULL;
	size_t nv = 0;
	bool clean = false;
	uint64_t before;
	int cur_fd = -1, rc;

	mstore_view_unpack(v);
	if (mstore_begin(v->st, true, err_r) != 0)
		return MSTORE_ERROR;
	if ((rc = mstore_fold_reload(v->st, &v->f, err_r)) != 0)
		goto fail;
	before = v->f.modseq;
	if ((rc = cur_fd = mstore_cur_open(&v->f, "cur", &clean, err_r)) < 0 ||
	    (rc = mstore_victims(v, idx, n, &vs, &nv, err_r)) != 0 ||
	    (rc = mstore_unlink_all(v->st, &v->f, cur_fd, vs, nv,
	    err_r)) != 0)
		goto fail;
	mstore_cur_done(&v->f, cur_fd, clean);
	if ((rc = mstore_fold_save(v->st, &v->f, err_r)) != 0)
		goto fail;
	mstore_expunged_prune(v->st, &v->f, before);
	close(cur_fd);
	mstore_victims_free(vs, nv);
	return mstore_commit(v->st, err_r);
fail:
	if (cur_fd >= 0)
		close(cur_fd);
	mstore_victims_free(vs, nv);
	mstore_rollback(v->st);
	return rc;
}

/*
 * APPEND
 */

/* Write msg with bare LF turned into CRLF. */
static int
mstore_write_crlf(struct maildir_tmp *t, const char *p, size_t len,
    const char **err_r)
{
	char buf[MSTORE_COPY_BUF];
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (o + 2 > sizeof(buf)) {
			if (maildir_tmp_write(t, buf, o, err_r) == -1)
				return MSTORE_ERROR;
			o = 0;
		}
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			buf[o++] = '\r';
		buf[o++] = p[i];
	}
	if (o > 0 && maildir_tmp_write(t, buf, o, err_r) == -1)
		return MSTORE_ERROR;
	return 0;
}

static int
mstore_append_kw(struct mstore *st, struct mstore_fold *f,
    const struct str *kw, size_t nkw, uint32_t *bits_r, const char **err_r)
{
	int bit;

	*bits_r = 0;
	for (size_t i = 0; i < nkw; i++) {
		if ((bit = mstore_keyword_add(st, f, kw[i], err_r)) < 0)
			return bit;
		*bits_r |= 1U << bit;
	}
	return 0;
}

/* Under the lock: the UID, the rename into cur/, the row. */
static int
mstore_append_locked(struct mstore *st, struct mstore_fold *f,
    struct maildir_tmp *t, unsigned flags, const struct str *kw, size_t nkw,
    uint32_t *uid_r, char *to, size_t tosize, const char **err_r)
{
	char sized[MAILDIR_NAME_MAX + 32];
	struct stat sb;
	uint32_t bits;
	bool clean;
	int cur_fd, tmp_fd, rc;

	if ((rc = mstore_fold_reload(st, f, err_r)) != 0 ||
	    (rc = mstore_append_kw(st, f, kw, nkw, &bits, err_r)) != 0)
		return rc;
	if (f->uidnext == UINT32_MAX)
		return mstore_failx(err_r, MSTORE_ERROR, "out of UIDs");
	snprintf(sized, sizeof(sized), "%s,S=%zu", t->name, t->size);
	if (mstore_fname_build(to, tosize, sized, f->uidnext, true, flags,
	    bits) == -1 || fstat(t->fd, &sb) == -1)
		return mstore_failx(err_r, MSTORE_ERROR, "append: bad name");
	if ((cur_fd = mstore_cur_open(f, "cur", &clean, err_r)) < 0)
		return cur_fd;
	if ((tmp_fd = mstore_cur_open(f, "tmp", NULL, err_r)) < 0) {
		close(cur_fd);
		return tmp_fd;
	}
	rc = mstore_rename_noreplace(tmp_fd, t->name, cur_fd, to);
	close(tmp_fd);
	if (rc == -1 || fsync(cur_fd) == -1) {
		rc = mstore_fail(err_r, MSTORE_ERROR, "rename(%s, %s/cur/%s)",
		    t->path, f->dir, to);
		close(cur_fd);
		return rc;
	}
	t->path[0] = '\0';	/* in cur/ now: not ours to remove */
	*uid_r = f->uidnext;
	rc = mstore_msg_insert(st, f, f->uidnext, to, t->size, sb.st_mtime,
	    err_r);
	mstore_cur_done(f, cur_fd, clean);
	if (rc == 0)
		rc = mstore_fold_save(st, f, err_r);
	close(cur_fd);
	return rc;
}

static int
mstore_append_file(struct maildir_tmp *t, const void *msg, size_t len,
    time_t internaldate, const char **err_r)
{
	struct timespec ts[2];

	if (mstore_write_crlf(t, msg, len, err_r) != 0)
		return MSTORE_ERROR;
	/* the internal date is the file's mtime: a rebuild keeps it */
	if (internaldate != 0) {
		ts[0].tv_sec = ts[1].tv_sec = internaldate;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(t->fd, ts) == -1)
			return mstore_fail(err_r, MSTORE_ERROR, "futimens(%s)",
			    t->path);
	}
	if (fdatasync(t->fd) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "fdatasync(%s)",
		    t->path);
	return 0;
}

int
mstore_append(struct mstore *st, const char *folder, const void *msg,
    size_t len, unsigned flags, const struct str *kw, size_t nkw,
    time_t internaldate, uint32_t *uidvalidity_r, uint32_t *uid_r,
    const char **err_r)
{
	char to[MAILDIR_NAME_MAX + 1], path[MAILDIR_PATH_MAX];
	struct maildir_tmp t;
	struct mstore_fold f = { 0 };
	const char *e2;
	uint32_t uid = 0;
	int rc;

	if (nkw > MSTORE_KEYWORDS_MAX)
		return mstore_failx(err_r, MSTORE_ELIMIT, "too many keywords");
	if ((rc = mstore_db(st, err_r)) != 0 ||
	    (rc = mstore_fold_load(st, folder, &f, err_r)) != 0 ||
	    (rc = mstore_sync(st, &f, 0, err_r)) != 0)
		goto out;
	if (maildir_tmp_open(f.dir, &t, err_r) == -1) {
		rc = MSTORE_ERROR;
		goto out;
	}
	if ((rc = mstore_append_file(&t, msg, len, internaldate, err_r)) != 0)
		goto fail;
	if ((rc = mstore_begin(st, true, err_r)) != 0)
		goto fail;
	to[0] = '\0';
	if ((rc = mstore_append_locked(st, &f, &t, flags, kw, nkw, &uid, to,
	    sizeof(to), err_r)) != 0 || (rc = mstore_commit(st, err_r)) != 0) {
		mstore_rollback(st);
		/* no message the index does not know: the file goes */
		if (t.path[0] == '\0' && to[0] != '\0' &&
		    mstore_path(path, sizeof(path), f.dir, "cur", to) == 0 &&
		    unlink(path) == 0)
			(void)mstore_fsync_dir(f.dir, "cur", &e2);
		goto fail;
	}
	maildir_tmp_abort(&t);	/* closes the fd; the file stays */
	if (uidvalidity_r != NULL)
		*uidvalidity_r = f.uidvalidity;
	if (uid_r != NULL)
		*uid_r = uid;
	mstore_fold_clear(&f);
	return 0;
fail:
	maildir_tmp_abort(&t);
out:
	mstore_fold_clear(&f);
	return rc;
}
