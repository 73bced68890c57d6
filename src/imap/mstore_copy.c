/* mstore_copy.c: COPY and MOVE.  A copy is a hard link with a new base
 * name (two distinct messages sharing their bytes), its flags and
 * keywords (by name) in its name, and a new UID in the destination,
 * all in one write transaction of the index; MOVE then unlinks the
 * originals in the same transaction. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "imap/mstore_int.h"

#define MSTORE_COPY_BUF		(64 * 1024)

struct mstore_copy {
	struct mstore_view	*v;
	struct mstore_fold	*d;		/* destination */
	int			 src_fd, dst_fd, tmp_fd;
	char			**made;		/* names linked in dst cur/ */
	char			**srcs;		/* their sources (MOVE) */
	uint32_t		*src_uids;
	size_t			 n;
	bool			 moved;		/* some original unlinked */
};

struct mstore_src {
	char		fname[MAILDIR_NAME_MAX + 1];
	unsigned	flags;
	uint32_t	kw;
	uint64_t	size;
	time_t		idate;
};

static int
mstore_copy_row(struct mstore_copy *c, uint32_t uid, struct mstore_src *r,
    const char **err_r)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = mstore_stmt(c->v->st, MS_MSG_GET, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, c->v->f.id);
	sqlite3_bind_int64(s, 2, uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(r->fname, sizeof(r->fname), "%s",
		    sqlite3_column_text(s, 0));
		r->flags = (unsigned)sqlite3_column_int64(s, 1);
		r->kw = (uint32_t)sqlite3_column_int64(s, 2);
		r->size = (uint64_t)sqlite3_column_int64(s, 4);
		r->idate = (time_t)sqlite3_column_int64(s, 5);
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : mstore_dbfail(c->v->st, err_r, "msg");
}

/* Source keyword bits -> destination bits, by name (created there; one
 * past the destination's limit is dropped). */
static int
mstore_copy_kw(struct mstore_copy *c, uint32_t kw, uint32_t *out,
    const char **err_r)
{
	struct mstore_view *v = c->v;
	int bit;

	*out = 0;
	if (c->d == &v->f) {
		*out = kw;
		return 0;
	}
	for (uint32_t b = 0; b < v->nkw; b++) {
		if (!(kw & (1U << b)) || v->kw[b] == NULL)
			continue;
		bit = mstore_keyword_add(v->st, c->d, str_cstr(v->kw[b]),
		    err_r);
		if (bit == MSTORE_ELIMIT || bit == MSTORE_EINVAL)
			continue;
		if (bit < 0)
			return bit;
		*out |= 1U << bit;
	}
	return 0;
}

/* link() said EXDEV: copy the bytes through dst tmp/. */
static int
mstore_copy_bytes(struct mstore_copy *c, const struct mstore_src *r,
    const char *base, const char *to, const char **err_r)
{
	char buf[MSTORE_COPY_BUF];
	struct timespec ts[2];
	ssize_t n;
	int in, out, rc = MSTORE_ERROR;

	if ((in = openat(c->src_fd, r->fname, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : mstore_fail(err_r, MSTORE_ERROR,
		    "open(%s)", r->fname);
	out = openat(c->tmp_fd, base, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0600);
	if (out == -1) {
		close(in);
		return mstore_fail(err_r, MSTORE_ERROR, "open(tmp/%s)", base);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	ts[0].tv_sec = ts[1].tv_sec = r->idate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (n == 0 && futimens(out, ts) == 0 && fdatasync(out) == 0 &&
	    mstore_rename_noreplace(c->tmp_fd, base, c->dst_fd, to) == 0)
		rc = 1;
	else {
		mstore_fail(err_r, MSTORE_ERROR, "copy(%s, %s)", r->fname, to);
		unlinkat(c->tmp_fd, base, 0);
	}
	close(in);
	close(out);
	return rc;
}

/* Link the file of r as a new message of the destination (name in to):
 * 1 done, 0 the source is gone, or an error. */
static int
mstore_copy_link(struct mstore_copy *c, const struct mstore_src *r,
    uint32_t kw, char *to, size_t tosize, const char **err_r)
{
	char base[MAILDIR_NAME_MAX + 1], named[MAILDIR_NAME_MAX + 1];
	int n;

	if (maildir_name_new(base, sizeof(base) - 64, err_r) == -1)
		return MSTORE_ERROR;
	n = snprintf(named, sizeof(named), "%s%s", base,
	    r->fname + strcspn(r->fname, ",:"));
	if (n < 0 || (size_t)n >= sizeof(named) ||
	    mstore_fname_build(to, tosize, named, c->d->uidnext, true,
	    r->flags, kw) == -1)
		return mstore_failx(err_r, MSTORE_ERROR, "copy %s: name too "
		    "long", r->fname);
	if (linkat(c->src_fd, r->fname, c->dst_fd, to, 0) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	if (errno == EXDEV || errno == EPERM || errno == EMLINK)
		return mstore_copy_bytes(c, r, base, to, err_r);
	return mstore_fail(err_r, MSTORE_ERROR, "link(%s, %s)", r->fname, to);
}

static int
mstore_copy_one(struct mstore_copy *c, uint32_t uid, uint32_t *dst_uid_r,
    const char **err_r)
{
	char to[MAILDIR_NAME_MAX + 1];
	struct mstore_src r;
	uint32_t kw;
	int rc = 0;

	for (int tries = 0; tries < 2 && rc == 0; tries++) {
		if (tries > 0 && ((rc = mstore_fold_save(c->v->st, c->d,
		    err_r)) != 0 || (rc = mstore_sync(c->v->st, &c->v->f,
		    MSTORE_SYNC_FORCE, err_r)) != 0))
			return rc;
		if ((rc = mstore_copy_row(c, uid, &r, err_r)) <= 0)
			return rc;	/* expunged meanwhile */
		if (c->d->uidnext == UINT32_MAX)
			return mstore_failx(err_r, MSTORE_ERROR, "out of UIDs");
		if ((rc = mstore_copy_kw(c, r.kw, &kw, err_r)) != 0)
			return rc;
		rc = mstore_copy_link(c, &r, kw, to, sizeof(to), err_r);
	}
	if (rc <= 0)
		return rc;
	c->made[c->n] = xstrdup(to);
	c->srcs[c->n] = xstrdup(r.fname);
	c->src_uids[c->n++] = uid;
	*dst_uid_r = c->d->uidnext;
	if ((rc = mstore_msg_insert(c->v->st, c->d, c->d->uidnext, to, r.size,
	    r.idate, err_r)) != 0)
		return rc;
	return 1;
}

/* MOVE: the originals go, in the same transaction. */
static int
mstore_copy_unlink(struct mstore_copy *c, const char **err_r)
{
	struct mstore_fold *f = &c->v->f;
	int rc;

	c->moved = true;
	for (size_t j = 0; j < c->n; j++) {
		if (unlinkat(c->src_fd, c->srcs[j], 0) == -1 &&
		    errno != ENOENT)
			return mstore_fail(err_r, MSTORE_ERROR,
			    "unlink(%s/cur/%s)", f->dir, c->srcs[j]);
		if ((rc = mstore_expunge_row(c->v->st, f, c->src_uids[j],
		    err_r)) != 0)
			return rc;
	}
	if (c->n > 0 && fsync(c->src_fd) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "fsync(%s/cur)",
		    f->dir);
	return 0;
}

/* A failed COPY leaves nothing behind; a MOVE that has begun to
 * unlink keeps its copies (the next sync adopts them by their U=). */
static void
mstore_copy_undo(struct mstore_copy *c)
{
	if (c->moved)
		return;
	for (size_t j = 0; j < c->n; j++)
		if (unlinkat(c->dst_fd, c->made[j], 0) == -1 &&
		    errno != ENOENT)
			log_warn("mstore: unlink(%s/cur/%s)", c->d->dir,
			    c->made[j]);
	if (c->n > 0)
		(void)fsync(c->dst_fd);
}

static int
mstore_copy_fds(struct mstore_copy *c, bool *sclean, bool *dclean,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	struct stat sb;
	const struct {
		const struct mstore_fold *f;
		const char	*sub;
		int		*fd;
		bool		*clean;
	} o[] = {
		{ &c->v->f, "cur", &c->src_fd, sclean },
		{ c->d, "cur", &c->dst_fd, dclean },
		{ c->d, "tmp", &c->tmp_fd, NULL },
	};

	for (size_t i = 0; i < 3; i++) {
		if (mstore_path(path, sizeof(path), o[i].f->dir, o[i].sub,
		    NULL) == -1 || (*o[i].fd = open(path, O_RDONLY |
		    O_DIRECTORY | O_CLOEXEC)) == -1)
			return mstore_fail(err_r, errno == ENOENT ?
			    MSTORE_ENOENT : MSTORE_ERROR, "open(%s)", path);
		if (o[i].clean != NULL)
			*o[i].clean = fstat(*o[i].fd, &sb) == 0 &&
			    o[i].f->cur_mtime > 0 &&
			    mstore_mtime_ns(&sb) == o[i].f->cur_mtime;
	}
	return 0;
}

static void
mstore_copy_mtime(struct mstore_fold *f, int fd, bool clean)
{
	struct stat sb;

	if (clean && fstat(fd, &sb) == 0)
		f->cur_mtime = mstore_mtime_ns(&sb);
}

static int
mstore_copy_locked(struct mstore_copy *c, const uint32_t *idx, size_t n,
    bool move, uint32_t *dst_uids, const char **err_r)
{
	struct mstore_view *v = c->v;
	bool sclean = false, dclean = false;
	uint64_t before = v->f.modseq;
	uint32_t duid = 0;
	int rc;

	if ((rc = mstore_copy_fds(c, &sclean, &dclean, err_r)) != 0)
		return rc;
	for (size_t j = 0; j < n; j++) {
		if (idx[j] >= v->n || v->msgs[idx[j]].gone)
			continue;
		rc = mstore_copy_one(c, v->msgs[idx[j]].uid, &duid, err_r);
		if (rc < 0)
			return rc;
		if (rc == 1 && dst_uids != NULL)
			dst_uids[c->n - 1] = duid;
	}
	if (c->n > 0 && fsync(c->dst_fd) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "fsync(%s/cur)",
		    c->d->dir);
	if (move && (rc = mstore_copy_unlink(c, err_r)) != 0)
		return rc;
	mstore_copy_mtime(c->d, c->dst_fd, dclean);
	if (c->d != &v->f)
		mstore_copy_mtime(&v->f, c->src_fd, sclean && move);
	if ((rc = mstore_fold_save(v->st, c->d, err_r)) != 0)
		return rc;
	if (c->d != &v->f && (rc = mstore_fold_save(v->st, &v->f,
	    err_r)) != 0)
		return rc;
	if (move)
		mstore_expunged_prune(v->st, &v->f, before);
	return 0;
}

static void
mstore_copy_free(struct mstore_copy *c, size_t n)
{
	for (size_t j = 0; j < c->n; j++) {
		free(c->made[j]);
		free(c->srcs[j]);
	}
	free(c->made);
	free(c->srcs);
	free(c->src_uids);
	if (c->src_fd >= 0)
		close(c->src_fd);
	if (c->dst_fd >= 0)
		close(c->dst_fd);
	if (c->tmp_fd >= 0)
		close(c->tmp_fd);
	(void)n;
}

int
mstore_view_copy(struct mstore_view *v, const uint32_t *idx, size_t n,
    const char *dest, bool move, uint32_t *uidvalidity_r,
    uint32_t *src_uids_r, uint32_t *dst_uids_r, size_t *ncopied_r,
    const char **err_r)
{
	struct mstore_copy c = { .v = v, .src_fd = -1, .dst_fd = -1,
	    .tmp_fd = -1 };
	struct mstore_fold df = { 0 };
	int rc;

	*ncopied_r = 0;
	mstore_view_unpack(v);
	if ((rc = mstore_db(v->st, err_r)) != 0 ||
	    (rc = mstore_fold_load(v->st, dest, &df, err_r)) != 0 ||
	    (rc = mstore_sync(v->st, &df, 0, err_r)) != 0 ||
	    (rc = mstore_begin(v->st, true, err_r)) != 0) {
		mstore_fold_clear(&df);
		return rc;
	}
	c.made = xcalloc(n + 1, sizeof(*c.made));
	c.srcs = xcalloc(n + 1, sizeof(*c.srcs));
	c.src_uids = xcalloc(n + 1, sizeof(*c.src_uids));
	if ((rc = mstore_fold_reload(v->st, &v->f, err_r)) != 0)
		goto fail;
	c.d = df.id == v->f.id ? &v->f : &df;
	if (c.d == &df && (rc = mstore_fold_reload(v->st, &df, err_r)) != 0)
		goto fail;
	if ((rc = mstore_copy_locked(&c, idx, n, move, dst_uids_r,
	    err_r)) != 0 || (rc = mstore_commit(v->st, err_r)) != 0)
		goto fail;
	if (src_uids_r != NULL)
		memcpy(src_uids_r, c.src_uids, c.n * sizeof(*c.src_uids));
	*ncopied_r = c.n;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = c.d->uidvalidity;
	mstore_copy_free(&c, n);
	mstore_fold_clear(&df);
	return 0;
fail:
	mstore_rollback(v->st);
	mstore_copy_undo(&c);
	mstore_copy_free(&c, n);
	mstore_fold_clear(&df);
	return rc;
}
