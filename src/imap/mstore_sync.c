/* mstore_sync.c: a folder's index rows kept in step with its files.
 *
 * Cheap when nothing changed: new/ is listed (usually empty), cur/ and
 * dovecot-keywords are only stat'ed and compared with the mtimes the
 * index stored after its last look.  Otherwise, under the index's write
 * lock (BEGIN IMMEDIATE: processes and threads sync the same user at
 * once), cur/ is listed and compared with the rows by base name, and
 * new/ is moved into cur/ with a UID in each name.  doc/IMAP_STORE.md
 * has the whole algorithm and its crash states. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "imap/mstore_int.h"

/* cur/ changed less than this before we looked: a change in the same
 * clock tick could follow unseen, so look again next time. */
#define MSTORE_MTIME_SETTLE_NS	(50 * 1000 * 1000)

struct mstore_row {
	char		*base;
	char		*fname;
	uint32_t	 uid;
	unsigned	 flags;
	uint32_t	 kw;
	bool		 seen;
};

struct mstore_new {
	char		*name;
	uint32_t	 uid;		/* from ",U=", 0 none/refused */
	bool		 dup;		/* base already used: rename */
};

struct mstore_scan {
	struct mstore		*st;
	struct mstore_fold	*f;
	int			 cur_fd;
	struct mstore_row	*rows;
	size_t			 nrows;
	struct mstore_new	*nw;
	size_t			 nnew, capnew;
	bool			 changed;	/* we renamed in cur/ */
};

/*
 * Folder rows.
 */

static int
mstore_fold_row(struct mstore *st, struct mstore_fold *f, const char **err_r)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = mstore_stmt(st, MS_FOLDER_GET, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_text(s, 1, f->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		f->id = sqlite3_column_int64(s, 0);
		f->uidvalidity = (uint32_t)sqlite3_column_int64(s, 1);
		f->uidnext = (uint32_t)sqlite3_column_int64(s, 2);
		f->modseq = (uint64_t)sqlite3_column_int64(s, 3);
		f->recent_uid = (uint32_t)sqlite3_column_int64(s, 4);
		f->use = (unsigned)sqlite3_column_int64(s, 5);
		f->cur_mtime = sqlite3_column_int64(s, 6);
		f->kw_mtime = sqlite3_column_int64(s, 7);
		f->floor_modseq = (uint64_t)sqlite3_column_int64(s, 8);
		sqlite3_reset(s);
		return 1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return mstore_dbfail(st, err_r, "folder");
	return 0;
}

static uint32_t
mstore_fold_file_u32(const struct mstore_fold *f, const char *file)
{
	char path[MAILDIR_PATH_MAX], *data, *end;
	unsigned long v;
	size_t len;

	if (mstore_path(path, sizeof(path), f->dir, file, NULL) == -1 ||
	    mstore_file_read(path, &data, &len, 64) == -1)
		return 0;
	errno = 0;
	v = strtoul(data, &end, 10);
	if (errno != 0 || end == data || v > UINT32_MAX)
		v = 0;
	free(data);
	return (uint32_t)v;
}

static int
mstore_fold_file_put(const struct mstore_fold *f, const char *file,
    uint32_t v, const char **err_r)
{
	char path[MAILDIR_PATH_MAX], data[16];
	int n;

	if (mstore_path(path, sizeof(path), f->dir, file, NULL) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "%s/%s", f->dir, file);
	n = snprintf(data, sizeof(data), "%u\n", v);
	return mstore_file_write(path, data, (size_t)n, err_r);
}

/* A folder the index does not know yet (new, or the index was rebuilt):
 * its UIDVALIDITY from the file beside its messages, or a new one (and
 * then the UIDs in the file names mean nothing: cur_mtime -1). */
static int
mstore_fold_create(struct mstore *st, struct mstore_fold *f, uint32_t uv,
    const char **err_r)
{
	sqlite3_stmt *s;
	int64_t mark = 0;
	int rc;

	if (uv == 0) {
		uv = mstore_uidvalidity_new(st, err_r, &rc);
		if (rc != 0 || mstore_fold_file_put(f, MSTORE_UIDVALIDITY_FILE,
		    uv, err_r) != 0)
			return MSTORE_ERROR;
		mark = -1;
	}
	if ((s = mstore_stmt(st, MS_FOLDER_INS, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_text(s, 1, f->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, uv);
	/* modseqs start at the time: a rebuilt index never goes back */
	sqlite3_bind_int64(s, 3, (int64_t)mstore_now_us());
	sqlite3_bind_int64(s, 4, mstore_fold_file_u32(f,
	    MSTORE_SPECIAL_USE_FILE));
	if (mstore_step_done(st, s, err_r) != 0)
		return MSTORE_ERROR;
	if ((rc = mstore_fold_row(st, f, err_r)) != 1)
		return rc == 0 ? mstore_failx(err_r, MSTORE_ERROR, "folder "
		    "row vanished") : rc;
	f->cur_mtime = mark;
	return mstore_fold_save(st, f, err_r);
}

int
mstore_fold_drop(struct mstore *st, int64_t id, const char **err_r)
{
	static const char *const tables[] = { "msgs", "expunged", "keywords",
	    "cache", "folders" };
	char sql[128];

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s = %lld",
		    tables[i], i == 4 ? "id" : "folder", (long long)id);
		if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return mstore_dbfail(st, err_r, sql);
	}
	return 0;
}

/* Row missing, or stale (the directory was replaced: its UIDVALIDITY
 * file says another value): (re)create it under the write lock. */
static int
mstore_fold_fix(struct mstore *st, struct mstore_fold *f, uint32_t uv,
    const char **err_r)
{
	bool own = !st->in_tx;
	int rc;

	if (own && mstore_begin(st, true, err_r) != 0)
		return MSTORE_ERROR;
	rc = mstore_fold_row(st, f, err_r);
	if (rc == 1 && (uv == 0 || uv == f->uidvalidity)) {
		rc = 0;
		if (uv == 0)	/* file lost: write it again */
			rc = mstore_fold_file_put(f, MSTORE_UIDVALIDITY_FILE,
			    f->uidvalidity, err_r);
		goto done;
	}
	if (rc == 1)
		rc = mstore_fold_drop(st, f->id, err_r);
	if (rc >= 0)
		rc = mstore_fold_create(st, f, uv, err_r);
done:
	if (own) {
		if (rc == 0)
			rc = mstore_commit(st, err_r);
		else
			mstore_rollback(st);
	}
	return rc;
}

/* Find folder name: its directory must exist; its row is made when
 * missing. */
int
mstore_fold_load(struct mstore *st, const char *name, struct mstore_fold *f,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX], canon[MSTORE_NAME_MAX + 1];
	char dir[MAILDIR_PATH_MAX];
	struct stat sb;
	uint32_t uv;
	int rc;

	/* name may be f->name: used before f is cleared */
	rc = mstore_name_dir(st, name, canon, sizeof(canon), dir, sizeof(dir),
	    err_r);
	mstore_fold_clear(f);
	if (rc != 0)
		return rc;
	f->name = xstrdup(canon);
	f->dir = xstrdup(dir);
	if (mstore_path(path, sizeof(path), f->dir, "cur", NULL) == -1 ||
	    stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return mstore_failx(err_r, MSTORE_ENOENT, "no such mailbox: "
		    "%s", f->name);
	uv = mstore_fold_file_u32(f, MSTORE_UIDVALIDITY_FILE);
	if ((rc = mstore_fold_row(st, f, err_r)) < 0)
		return rc;
	if (rc == 1 && uv == f->uidvalidity)
		return 0;
	return mstore_fold_fix(st, f, uv, err_r);
}

/* Free what f owns (f zeroed, or filled by mstore_fold_load()). */
void
mstore_fold_clear(struct mstore_fold *f)
{
	free(f->name);
	free(f->dir);
	memset(f, 0, sizeof(*f));
}

int
mstore_fold_reload(struct mstore *st, struct mstore_fold *f,
    const char **err_r)
{
	int rc = mstore_fold_row(st, f, err_r);

	if (rc == 0)
		return mstore_failx(err_r, MSTORE_ENOENT, "mailbox %s was "
		    "deleted", f->name);
	return rc < 0 ? rc : 0;
}

int
mstore_fold_save(struct mstore *st, const struct mstore_fold *f,
    const char **err_r)
{
	sqlite3_stmt *s;

	if ((s = mstore_stmt(st, MS_FOLDER_SAVE, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, f->uidnext);
	sqlite3_bind_int64(s, 3, (int64_t)f->modseq);
	sqlite3_bind_int64(s, 4, f->recent_uid);
	sqlite3_bind_int64(s, 5, f->cur_mtime);
	sqlite3_bind_int64(s, 6, f->kw_mtime);
	return mstore_step_done(st, s, err_r);
}

/*
 * Message rows.
 */

int
mstore_msg_insert(struct mstore *st, struct mstore_fold *f, uint32_t uid,
    const char *fname, uint64_t size, time_t idate, const char **err_r)
{
	struct mstore_fname fn;
	sqlite3_stmt *s;
	unsigned flags;
	uint32_t kw;

	mstore_fname_parse(fname, &fn);
	mstore_fname_flags(&fn, &flags, &kw);
	if ((s = mstore_stmt(st, MS_MSG_INS, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_text(s, 3, fn.base.p, (int)fn.base.len, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, fname, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, flags);
	sqlite3_bind_int64(s, 6, kw);
	sqlite3_bind_int64(s, 7, (int64_t)++f->modseq);
	sqlite3_bind_int64(s, 8, (int64_t)size);
	sqlite3_bind_int64(s, 9, (int64_t)idate);
	if (uid >= f->uidnext)
		f->uidnext = uid + 1;
	return mstore_step_done(st, s, err_r);
}

/* The row of uid goes to expunged with a new modseq. */
int
mstore_expunge_row(struct mstore *st, struct mstore_fold *f, uint32_t uid,
    const char **err_r)
{
	static const enum mstore_stmt del[] = { MS_MSG_DEL, MS_CACHE_DEL };
	sqlite3_stmt *s;

	for (size_t i = 0; i < 2; i++) {
		if ((s = mstore_stmt(st, del[i], err_r)) == NULL)
			return MSTORE_ERROR;
		sqlite3_bind_int64(s, 1, f->id);
		sqlite3_bind_int64(s, 2, uid);
		if (mstore_step_done(st, s, err_r) != 0)
			return MSTORE_ERROR;
	}
	if ((s = mstore_stmt(st, MS_EXP_INS, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (int64_t)++f->modseq);
	return mstore_step_done(st, s, err_r);
}

/* Keep the expunge history of f to its last MSTORE_EXPUNGED_KEEP rows
 * once f's modseq crossed a multiple of MSTORE_EXPUNGED_EVERY since
 * before (write lock held).  floor_modseq says where it starts now. */
void
mstore_expunged_prune(struct mstore *st, struct mstore_fold *f,
    uint64_t before)
{
	sqlite3_stmt *s = NULL;
	int64_t cut = -1;
	char sql[160];

	if (before / MSTORE_EXPUNGED_EVERY == f->modseq / MSTORE_EXPUNGED_EVERY)
		return;
	if (sqlite3_prepare_v2(st->db, "SELECT modseq FROM expunged INDEXED BY "
	    "expunged_modseq WHERE folder = ?1 ORDER BY modseq DESC "
	    "LIMIT 1 OFFSET ?2", -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, MSTORE_EXPUNGED_KEEP);
	if (sqlite3_step(s) == SQLITE_ROW)
		cut = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (cut < 0)
		return;
	snprintf(sql, sizeof(sql), "DELETE FROM expunged WHERE folder = %lld "
	    "AND modseq <= %lld; UPDATE folders SET floor_modseq = %lld "
	    "WHERE id = %lld", (long long)f->id, (long long)cut,
	    (long long)cut, (long long)f->id);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		f->floor_modseq = (uint64_t)cut;
}

static int
mstore_row_update(struct mstore_scan *sc, struct mstore_row *r,
    const char *fname, unsigned flags, uint32_t kw)
{
	sqlite3_stmt *s;
	const char *err;
	bool fl = flags != r->flags || kw != r->kw;

	if ((s = mstore_stmt(sc->st, fl ? MS_MSG_FLAGS : MS_MSG_FNAME,
	    &err)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, sc->f->id);
	sqlite3_bind_int64(s, 2, r->uid);
	if (fl) {
		sqlite3_bind_int64(s, 3, flags);
		sqlite3_bind_int64(s, 4, kw);
		sqlite3_bind_int64(s, 5, (int64_t)++sc->f->modseq);
		sqlite3_bind_text(s, 6, fname, -1, SQLITE_STATIC);
	} else
		sqlite3_bind_text(s, 3, fname, -1, SQLITE_STATIC);
	return mstore_step_done(sc->st, s, &err);
}

/*
 * Listing.
 */

static int
mstore_row_cmp(const void *a, const void *b)
{
	const struct mstore_row *x = a, *y = b;

	return strcmp(x->base, y->base);
}

static struct mstore_row *
mstore_row_find(struct mstore_scan *sc, struct str base)
{
	size_t lo = 0, hi = sc->nrows;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *b = sc->rows[mid].base;
		int c = strncmp(b, base.p, base.len);

		if (c == 0 && b[base.len] != '\0')
			c = 1;
		if (c == 0)
			return &sc->rows[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
mstore_rows_load(struct mstore_scan *sc, const char **err_r)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int rc;

	if ((s = mstore_stmt(sc->st, MS_MSGS_FOLDER, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, sc->f->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct mstore_row *r;

		if (sc->nrows == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			sc->rows = xrealloc(sc->rows, cap * sizeof(*sc->rows));
		}
		r = &sc->rows[sc->nrows++];
		r->uid = (uint32_t)sqlite3_column_int64(s, 0);
		r->base = xstrdup((const char *)sqlite3_column_text(s, 1));
		r->fname = xstrdup((const char *)sqlite3_column_text(s, 2));
		r->flags = (unsigned)sqlite3_column_int64(s, 3);
		r->kw = (uint32_t)sqlite3_column_int64(s, 4);
		r->seen = false;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return mstore_dbfail(sc->st, err_r, "msgs");
	if (sc->nrows > 1)
		qsort(sc->rows, sc->nrows, sizeof(*sc->rows), mstore_row_cmp);
	return 0;
}

static void
mstore_new_add(struct mstore_scan *sc, const char *name, uint32_t uid,
    bool dup)
{
	struct mstore_new *n;

	if (sc->nnew == sc->capnew) {
		sc->capnew = sc->capnew == 0 ? 64 : sc->capnew * 2;
		sc->nw = xrealloc(sc->nw, sc->capnew * sizeof(*sc->nw));
	}
	n = &sc->nw[sc->nnew++];
	n->name = xstrdup(name);
	n->uid = uid;
	n->dup = dup;
}

static void
mstore_scan_free(struct mstore_scan *sc)
{
	for (size_t i = 0; i < sc->nrows; i++) {
		free(sc->rows[i].base);
		free(sc->rows[i].fname);
	}
	free(sc->rows);
	for (size_t i = 0; i < sc->nnew; i++)
		free(sc->nw[i].name);
	free(sc->nw);
}

/* A file known by its base: flags from its name, its UID put back in
 * its name when missing or wrong. */
static int
mstore_scan_known(struct mstore_scan *sc, struct mstore_row *r,
    const char *name, const struct mstore_fname *fn)
{
	char fixed[MAILDIR_NAME_MAX + 1];
	unsigned flags;
	uint32_t kw;

	r->seen = true;
	if (strcmp(name, r->fname) == 0)
		return 0;
	mstore_fname_flags(fn, &flags, &kw);
	if ((!fn->has_uid || fn->uid != r->uid) &&
	    mstore_fname_build(fixed, sizeof(fixed), name, r->uid, false, 0,
	    0) == 0 && mstore_rename_noreplace(sc->cur_fd, name, sc->cur_fd,
	    fixed) == 0) {
		sc->changed = true;
		name = fixed;
	}
	return mstore_row_update(sc, r, name, flags, kw);
}

static int
mstore_scan_list(struct mstore_scan *sc, bool ignore_uids, const char **err_r)
{
	struct mstore_fname fn;
	struct mstore_row *r;
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;

	if ((dfd = openat(sc->cur_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		return mstore_fail(err_r, MSTORE_ERROR, "opendir(%s/cur)",
		    sc->f->dir);
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (!mstore_fname_valid(de->d_name) || de->d_type == DT_DIR)
			continue;
		mstore_fname_parse(de->d_name, &fn);
		r = mstore_row_find(sc, fn.base);
		if (r != NULL && !r->seen)
			rc = mstore_scan_known(sc, r, de->d_name, &fn);
		else
			mstore_new_add(sc, de->d_name, fn.has_uid &&
			    !ignore_uids ? fn.uid : 0, r != NULL);
	}
	closedir(d);
	if (rc != 0)
		return mstore_dbfail(sc->st, err_r, "sync");
	return 0;
}

/* Accepted UIDs first (ascending), then the others in name order. */
static int
mstore_new_cmp(const void *a, const void *b)
{
	const struct mstore_new *x = a, *y = b;

	if ((x->uid != 0) != (y->uid != 0))
		return x->uid != 0 ? -1 : 1;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* A second file with a known base (a copy made by hand): it gets a base
 * of its own. */
static int
mstore_new_base(const char *name, char *out, size_t size)
{
	char base[MAILDIR_NAME_MAX + 1];
	const char *err;
	int n;

	if (maildir_name_new(base, sizeof(base) - 32, &err) == -1)
		return -1;
	n = snprintf(out, size, "%s%s", base, name + strcspn(name, ",:"));
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Has the folder a row with this base already? */
static bool
mstore_base_taken(struct mstore_scan *sc, struct str base)
{
	sqlite3_stmt *s;
	const char *err;
	bool taken;

	if ((s = mstore_stmt(sc->st, MS_MSG_BY_BASE, &err)) == NULL)
		return false;
	sqlite3_bind_int64(s, 1, sc->f->id);
	sqlite3_bind_text(s, 2, base.p, (int)base.len, SQLITE_STATIC);
	taken = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return taken;
}

/* Give file name in cur/ (or moved from new/ when from_fd != -1) the
 * UID uid, then its row. */
static int
mstore_take(struct mstore_scan *sc, int from_fd, const char *name,
    uint32_t uid, bool dup, const char **err_r)
{
	char fresh[MAILDIR_NAME_MAX + 1], to[MAILDIR_NAME_MAX + 1];
	struct mstore_fname fn;
	struct stat sb;
	const char *src = name;
	int fd = from_fd != -1 ? from_fd : sc->cur_fd;

	/* two new files with one base (copies made by hand) */
	mstore_fname_parse(name, &fn);
	if (!dup && mstore_base_taken(sc, fn.base))
		dup = true;
	if (dup) {
		if (mstore_new_base(name, fresh, sizeof(fresh)) == -1)
			return 0;
		name = fresh;
	}
	mstore_fname_parse(name, &fn);
	if (mstore_fname_build(to, sizeof(to), name, uid, false, 0, 0) == -1)
		return 0;
	if (strcmp(src, to) != 0) {
		if (mstore_rename_noreplace(fd, src, sc->cur_fd, to) == -1) {
			if (errno != ENOENT)
				log_warn("mstore: rename(%s/%s, %s/cur/%s)",
				    sc->f->dir, src, sc->f->dir, to);
			return 0;	/* someone else took it */
		}
		sc->changed = true;
	}
	if (fstatat(sc->cur_fd, to, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(sb.st_mode))
		return 0;
	return mstore_msg_insert(sc->st, sc->f, uid, to, fn.has_size ?
	    fn.size : (uint64_t)sb.st_size, sb.st_mtime, err_r);
}

static int
mstore_scan_new(struct mstore_scan *sc, int from_fd, uint32_t floor,
    const char **err_r)
{
	uint32_t last = 0;

	if (sc->nnew > 1)
		qsort(sc->nw, sc->nnew, sizeof(*sc->nw), mstore_new_cmp);
	for (size_t i = 0; i < sc->nnew; i++) {
		struct mstore_new *n = &sc->nw[i];
		uint32_t uid = n->uid;

		if (uid == 0 || uid < floor || uid == last || n->dup)
			uid = sc->f->uidnext;
		else
			last = uid;
		if (uid == UINT32_MAX)
			return mstore_failx(err_r, MSTORE_ERROR, "%s: out of "
			    "UIDs", sc->f->name);
		if (mstore_take(sc, from_fd, n->name, uid, n->dup, err_r) != 0)
			return MSTORE_ERROR;
	}
	return 0;
}

/* Read cur/ whole: vanished files expunged, renamed ones updated, new
 * ones given UIDs. */
static int
mstore_scan_cur(struct mstore_scan *sc, const char **err_r)
{
	bool ignore = sc->f->cur_mtime == -1;
	int rc;

	if ((rc = mstore_rows_load(sc, err_r)) != 0 ||
	    (rc = mstore_scan_list(sc, ignore, err_r)) != 0)
		return rc;
	for (size_t i = 0; i < sc->nrows; i++)
		if (!sc->rows[i].seen && mstore_expunge_row(sc->st, sc->f,
		    sc->rows[i].uid, err_r) != 0)
			return MSTORE_ERROR;
	return mstore_scan_new(sc, -1, sc->f->uidnext, err_r);
}

/* Names of messages in new/ (usually none). */
static int
mstore_list_new(struct mstore_scan *sc, int new_fd, const char **err_r)
{
	struct dirent *de;
	DIR *d;
	int dfd;

	if ((dfd = openat(new_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		return mstore_fail(err_r, MSTORE_ERROR, "opendir(%s/new)",
		    sc->f->dir);
	}
	while ((de = readdir(d)) != NULL)
		if (mstore_fname_valid(de->d_name) && de->d_type != DT_DIR)
			mstore_new_add(sc, de->d_name, 0, false);
	closedir(d);
	return 0;
}

/* new/ files: those whose base the index has already are renamed. */
static int
mstore_move_new(struct mstore_scan *sc, int new_fd, const char **err_r)
{
	struct mstore_fname fn;
	sqlite3_stmt *s;

	for (size_t i = 0; i < sc->nnew; i++) {
		mstore_fname_parse(sc->nw[i].name, &fn);
		if ((s = mstore_stmt(sc->st, MS_MSG_BY_BASE, err_r)) == NULL)
			return MSTORE_ERROR;
		sqlite3_bind_int64(s, 1, sc->f->id);
		sqlite3_bind_text(s, 2, fn.base.p, (int)fn.base.len,
		    SQLITE_STATIC);
		sc->nw[i].dup = sqlite3_step(s) == SQLITE_ROW;
		sc->nw[i].uid = 0;
		sqlite3_reset(s);
	}
	return mstore_scan_new(sc, new_fd, UINT32_MAX, err_r);
}

static int
mstore_open_sub(const struct mstore_fold *f, const char *sub,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	int fd;

	if (mstore_path(path, sizeof(path), f->dir, sub, NULL) == -1 ||
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return mstore_failx(err_r, MSTORE_ENOENT, "mailbox %s "
			    "vanished", f->name);
		return mstore_fail(err_r, MSTORE_ERROR, "open(%s/%s)", f->dir,
		    sub);
	}
	return fd;
}

static int64_t
mstore_kw_mtime(const struct mstore_fold *f)
{
	char path[MAILDIR_PATH_MAX];
	struct stat sb;

	if (mstore_path(path, sizeof(path), f->dir, MSTORE_KEYWORDS_FILE,
	    NULL) == -1 || stat(path, &sb) == -1)
		return 0;
	return mstore_mtime_ns(&sb);
}

/* The mtime to store for cur/: m, unless so recent that a change in the
 * same tick may still come (then 0: look again next time). */
static int64_t
mstore_settled(int64_t m)
{
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return now - m < MSTORE_MTIME_SETTLE_NS ? 0 : m;
}

static int
mstore_sync_locked(struct mstore_scan *sc, int new_fd, unsigned flags,
    bool own, const char **err_r)
{
	struct stat sb;
	bool scanned;
	int64_t m0;
	int rc;

	/* in a caller's transaction f is current, maybe with changes not
	 * saved yet */
	if (own && (rc = mstore_fold_reload(sc->st, sc->f, err_r)) != 0)
		return rc;
	if (fstat(sc->cur_fd, &sb) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "fstat(%s/cur)",
		    sc->f->dir);
	m0 = mstore_mtime_ns(&sb);
	scanned = (flags & MSTORE_SYNC_FORCE) || m0 != sc->f->cur_mtime ||
	    sc->f->cur_mtime <= 0;
	if (scanned) {
		if ((rc = mstore_scan_cur(sc, err_r)) != 0)
			return rc;
		for (size_t i = 0; i < sc->nnew; i++)
			free(sc->nw[i].name);
		sc->nnew = 0;
	}
	if ((rc = mstore_list_new(sc, new_fd, err_r)) != 0 ||
	    (rc = mstore_move_new(sc, new_fd, err_r)) != 0 ||
	    (rc = mstore_sync_keywords(sc->st, sc->f, err_r)) != 0)
		return rc;
	if (sc->changed) {
		/* UIDs in names are durable before the index says so */
		if (fsync(sc->cur_fd) == -1 || fsync(new_fd) == -1)
			return mstore_fail(err_r, MSTORE_ERROR, "fsync(%s)",
			    sc->f->dir);
		if (fstat(sc->cur_fd, &sb) == -1)
			return mstore_fail(err_r, MSTORE_ERROR, "fstat(%s/cur)",
			    sc->f->dir);
		/* our own renames: what we listed is what is there (but
		 * a listing that raced with a fresh change is redone) */
		sc->f->cur_mtime = scanned && mstore_settled(m0) == 0 ? 0 :
		    mstore_mtime_ns(&sb);
	} else
		sc->f->cur_mtime = scanned ? mstore_settled(m0) : m0;
	return mstore_fold_save(sc->st, sc->f, err_r);
}

/* Quick look: anything in new/, cur/ or dovecot-keywords changed? */
static bool
mstore_sync_needed(struct mstore_scan *sc, int new_fd, unsigned flags)
{
	struct dirent *de;
	struct stat sb;
	bool any = false;
	DIR *d;
	int dfd;

	if ((flags & MSTORE_SYNC_FORCE) || sc->f->cur_mtime <= 0 ||
	    fstat(sc->cur_fd, &sb) == -1 ||
	    mstore_mtime_ns(&sb) != sc->f->cur_mtime ||
	    mstore_kw_mtime(sc->f) != sc->f->kw_mtime)
		return true;
	if ((dfd = openat(new_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		return true;
	}
	while (!any && (de = readdir(d)) != NULL)
		any = mstore_fname_valid(de->d_name);
	closedir(d);
	return any;
}

/* Bring f's rows in step with its files.  Inside a caller's write
 * transaction (f then read in it), or in one of its own. */
int
mstore_sync(struct mstore *st, struct mstore_fold *f, unsigned flags,
    const char **err_r)
{
	struct mstore_scan sc = { .st = st, .f = f, .cur_fd = -1 };
	bool own = false;
	int new_fd = -1, rc;

	if ((sc.cur_fd = rc = mstore_open_sub(f, "cur", err_r)) < 0 ||
	    (new_fd = rc = mstore_open_sub(f, "new", err_r)) < 0)
		goto done;
	/* the row may have moved on since f was read (other sessions) */
	if (!st->in_tx && ((rc = mstore_fold_reload(st, f, err_r)) != 0 ||
	    !mstore_sync_needed(&sc, new_fd, flags)))
		goto done;
	if (!st->in_tx) {
		if ((rc = mstore_begin(st, true, err_r)) != 0)
			goto done;
		own = true;
	}
	rc = mstore_sync_locked(&sc, new_fd, flags, own, err_r);
	if (own) {
		if (rc == 0)
			rc = mstore_commit(st, err_r);
		else
			mstore_rollback(st);
	}
done:
	mstore_scan_free(&sc);
	if (sc.cur_fd >= 0)
		close(sc.cur_fd);
	if (new_fd >= 0)
		close(new_fd);
	return rc;
}
