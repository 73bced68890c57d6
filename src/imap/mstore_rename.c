/* mstore_rename.c: RENAME.  A folder and the folders below it are
 * directories side by side (".A", ".A.B"): each is renamed, under the
 * index's write lock, and its row follows (UIDVALIDITY and UIDs stay).
 * Renaming INBOX moves its messages into a new folder (RFC 9051
 * §6.3.5). */
#include <dirent.h>
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

struct mstore_mv {
	char	*from_dir, *to_dir;
	char	*from_name, *to_name;
	bool	 done;
};

struct mstore_mvlist {
	struct mstore_mv	*v;
	size_t			 n;
};

static bool
mstore_path_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static void
mstore_mvlist_free(struct mstore_mvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].from_dir);
		free(l->v[i].to_dir);
		free(l->v[i].from_name);
		free(l->v[i].to_name);
	}
	free(l->v);
}

/* The folders to move: from itself and those below it that are real
 * directories. */
static int
mstore_mvlist_make(struct mstore *st, const char *from, const char *to,
    struct mstore_mvlist *l, const char **err_r)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX];
	char nname[MSTORE_NAME_MAX + 2];
	struct mstore_folder *list;
	size_t n, flen = strlen(from);
	int rc;

	if ((rc = mstore_list(st, &list, &n, err_r)) != 0)
		return rc;
	l->v = xcalloc(n, sizeof(*l->v));
	for (size_t i = 0; i < n; i++) {
		const char *name = list[i].name;
		struct mstore_mv *m;

		if (list[i].noselect || strncmp(name, from, flen) != 0 ||
		    (name[flen] != '\0' && name[flen] != '/'))
			continue;
		if ((size_t)snprintf(nname, sizeof(nname), "%s%s", to,
		    name + flen) >= sizeof(nname)) {
			rc = mstore_failx(err_r, MSTORE_EINVAL, "name too "
			    "long");
			break;
		}
		if ((rc = mstore_name_dir(st, nname, canon, sizeof(canon), dir,
		    sizeof(dir), err_r)) != 0)
			break;
		if (mstore_path_exists(dir)) {
			rc = mstore_failx(err_r, MSTORE_EEXIST, "mailbox %s "
			    "exists", canon);
			break;
		}
		m = &l->v[l->n++];
		m->from_name = xstrdup(name);
		m->to_name = xstrdup(canon);
		m->to_dir = xstrdup(dir);
		if ((rc = mstore_name_dir(st, name, canon, sizeof(canon), dir,
		    sizeof(dir), err_r)) != 0)
			break;
		m->from_dir = xstrdup(dir);
	}
	mstore_list_free(list, n);
	if (rc == 0 && l->n == 0)
		rc = mstore_failx(err_r, MSTORE_ENOENT, "no such mailbox: %s",
		    from);
	return rc;
}

static int
mstore_sql_rename(struct mstore *st, const char *from, const char *to,
    const char **err_r)
{
	sqlite3_stmt *s = NULL;
	int64_t stale = -1;
	int rc;

	/* a row left by a folder removed behind our back */
	if (sqlite3_prepare_v2(st->db, "SELECT id FROM folders WHERE "
	    "name = ?1", -1, &s, NULL) != SQLITE_OK)
		return mstore_dbfail(st, err_r, "rename");
	sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		stale = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (stale != -1 && (rc = mstore_fold_drop(st, stale, err_r)) != 0)
		return rc;
	if (sqlite3_prepare_v2(st->db, "UPDATE folders SET name = ?2 WHERE "
	    "name = ?1", -1, &s, NULL) != SQLITE_OK)
		return mstore_dbfail(st, err_r, "rename");
	sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return mstore_dbfail(st, err_r, "rename");
	return 0;
}

static int
mstore_rename_locked(struct mstore *st, struct mstore_mvlist *l,
    const char **err_r)
{
	int rc;

	for (size_t i = 0; i < l->n; i++) {
		struct mstore_mv *m = &l->v[i];

		if (mstore_rename_noreplace(AT_FDCWD, m->from_dir, AT_FDCWD,
		    m->to_dir) == -1)
			return mstore_fail(err_r, errno == EEXIST ||
			    errno == ENOTEMPTY ? MSTORE_EEXIST : MSTORE_ERROR,
			    "rename(%s, %s)", m->from_dir, m->to_dir);
		m->done = true;
		if ((rc = mstore_sql_rename(st, m->from_name, m->to_name,
		    err_r)) != 0)
			return rc;
	}
	return 0;
}

static void
mstore_rename_undo(struct mstore_mvlist *l)
{
	for (size_t i = l->n; i-- > 0; )
		if (l->v[i].done && rename(l->v[i].to_dir,
		    l->v[i].from_dir) == -1)
			log_warn("mstore: rename(%s, %s)", l->v[i].to_dir,
			    l->v[i].from_dir);
}

/* Parents of name that are missing become folders. */
static int
mstore_make_parents(struct mstore *st, char *canon, const char **err_r)
{
	int rc;

	for (char *p = strchr(canon, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		rc = strcmp(canon, "INBOX") == 0 ? 0 :
		    mstore_folder_make(st, canon, 0, err_r);
		*p = '/';
		if (rc != 0 && rc != MSTORE_EEXIST)
			return rc;
	}
	return 0;
}

/* Move every message file of INBOX's sub/ into dir's. */
static int
mstore_move_files(struct mstore *st, const char *sub, const char *dir,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int to;

	if (mstore_path(path, sizeof(path), dir, sub, NULL) == -1 ||
	    (to = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "open(%s/%s)", dir,
		    sub);
	if (mstore_path(path, sizeof(path), st->root, sub, NULL) == -1 ||
	    (d = opendir(path)) == NULL) {
		close(to);
		return mstore_fail(err_r, MSTORE_ERROR, "opendir(%s)", path);
	}
	while ((de = readdir(d)) != NULL)
		if (mstore_fname_valid(de->d_name) &&
		    mstore_rename_noreplace(dirfd(d), de->d_name, to,
		    de->d_name) == -1 && errno != ENOENT)
			log_warn("mstore: rename(%s/%s, %s/%s/%s)", path,
			    de->d_name, dir, sub, de->d_name);
	(void)fsync(dirfd(d));
	(void)fsync(to);
	closedir(d);
	close(to);
	return 0;
}

/* RENAME INBOX: a new folder gets its messages (and its keyword file,
 * so the letters keep their names; UIDs come along in the names). */
static int
mstore_rename_inbox(struct mstore *st, const char *to, const char **err_r)
{
	char src[MAILDIR_PATH_MAX], dst[MAILDIR_PATH_MAX], *data;
	struct mstore_fold f = { 0 }, inbox = { 0 };
	size_t len;
	int rc;

	if ((rc = mstore_create(st, to, 0, err_r)) != 0 ||
	    (rc = mstore_fold_load(st, to, &f, err_r)) != 0)
		goto done;
	if (mstore_path(src, sizeof(src), st->root, MSTORE_KEYWORDS_FILE,
	    NULL) == 0 && mstore_path(dst, sizeof(dst), f.dir,
	    MSTORE_KEYWORDS_FILE, NULL) == 0 &&
	    mstore_file_read(src, &data, &len, 64 * 1024) == 0) {
		rc = mstore_file_write(dst, data, len, err_r);
		free(data);
		if (rc != 0)
			goto done;
	}
	if ((rc = mstore_move_files(st, "cur", f.dir, err_r)) != 0 ||
	    (rc = mstore_move_files(st, "new", f.dir, err_r)) != 0 ||
	    (rc = mstore_fold_load(st, "INBOX", &inbox, err_r)) != 0 ||
	    (rc = mstore_sync(st, &inbox, MSTORE_SYNC_FORCE, err_r)) != 0)
		goto done;
	rc = mstore_sync(st, &f, MSTORE_SYNC_FORCE, err_r);
done:
	mstore_fold_clear(&f);
	mstore_fold_clear(&inbox);
	return rc;
}

int
mstore_rename(struct mstore *st, const char *from, const char *to,
    const char **err_r)
{
	char fcanon[MSTORE_NAME_MAX + 1], tcanon[MSTORE_NAME_MAX + 1];
	char fdir[MAILDIR_PATH_MAX], tdir[MAILDIR_PATH_MAX];
	struct mstore_mvlist l = { 0 };
	size_t flen;
	int rc;

	if ((rc = mstore_db(st, err_r)) != 0 ||
	    (rc = mstore_name_dir(st, from, fcanon, sizeof(fcanon), fdir,
	    sizeof(fdir), err_r)) != 0 ||
	    (rc = mstore_name_dir(st, to, tcanon, sizeof(tcanon), tdir,
	    sizeof(tdir), err_r)) != 0)
		return rc;
	flen = strlen(fcanon);
	if (strcmp(tcanon, "INBOX") == 0 || strcmp(fcanon, tcanon) == 0 ||
	    mstore_path_exists(tdir))
		return mstore_failx(err_r, MSTORE_EEXIST, "mailbox %s exists",
		    tcanon);
	if (strncmp(tcanon, fcanon, flen) == 0 && tcanon[flen] == '/')
		return mstore_failx(err_r, MSTORE_EINVAL, "cannot rename %s "
		    "into itself", fcanon);
	if (strcmp(fcanon, "INBOX") == 0)
		return mstore_rename_inbox(st, tcanon, err_r);
	if ((rc = mstore_mvlist_make(st, fcanon, tcanon, &l, err_r)) != 0 ||
	    (rc = mstore_make_parents(st, tcanon, err_r)) != 0)
		goto done;
	if ((rc = mstore_begin(st, true, err_r)) != 0)
		goto done;
	if ((rc = mstore_rename_locked(st, &l, err_r)) != 0 ||
	    (rc = mstore_commit(st, err_r)) != 0) {
		mstore_rollback(st);
		mstore_rename_undo(&l);
	}
done:
	mstore_mvlist_free(&l);
	return rc;
}
