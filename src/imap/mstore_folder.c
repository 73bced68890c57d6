/* mstore_folder.c: folders (LIST, CREATE, DELETE, RENAME, SUBSCRIBE,
 * STATUS).  A folder is a Maildir++ directory ROOT/.A.B; the index only
 * remembers its UIDVALIDITY, counters and SPECIAL-USE, which also live
 * in files beside its messages so that a rebuilt index finds them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "imap/mstore_int.h"

#define MSTORE_SUBS_FILE_MAX	(MSTORE_FOLDERS_MAX * (MSTORE_NAME_MAX + 1))

struct mstore_flist {
	struct mstore_folder	*v;
	size_t			 n, cap;
};

static int
mstore_folder_cmp(const void *a, const void *b)
{
	const struct mstore_folder *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0;
	bool yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct mstore_folder *
mstore_flist_add(struct mstore_flist *l, const char *name, size_t len,
    bool noselect)
{
	struct mstore_folder *f;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 32 : l->cap * 2;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	f = &l->v[l->n++];
	memset(f, 0, sizeof(*f));
	f->name = xstrndup(name, len);
	f->noselect = noselect;
	return f;
}

/* Sorted list: the entry named name[0..len), or NULL. */
static struct mstore_folder *
mstore_flist_find(struct mstore_flist *l, const char *name, size_t len)
{
	struct mstore_folder key = { .name = xstrndup(name, len) };
	struct mstore_folder *f;

	f = bsearch(&key, l->v, l->n, sizeof(*l->v), mstore_folder_cmp);
	free(key.name);
	return f;
}

static void
mstore_flist_sort(struct mstore_flist *l)
{
	size_t o = 0;

	qsort(l->v, l->n, sizeof(*l->v), mstore_folder_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (o > 0 && strcmp(l->v[o - 1].name, l->v[i].name) == 0) {
			/* a real folder wins over a name only implied */
			l->v[o - 1].noselect &= l->v[i].noselect;
			l->v[o - 1].subscribed |= l->v[i].subscribed;
			free(l->v[i].name);
			continue;
		}
		l->v[o++] = l->v[i];
	}
	l->n = o;
}

/* Is dname (".A.B") a folder of ours?  Its name into name[size]. */
static bool
mstore_list_dirent(struct mstore *st, int root_fd, const char *dname,
    char *name, size_t size, bool *noselect_r)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX], sub[300];
	const char *err, *slash;
	struct stat sb;

	if (mstore_name_from_dir(dname, name, size) == -1 ||
	    mstore_name_dir(st, name, canon, sizeof(canon), dir, sizeof(dir),
	    &err) != 0 || strcmp(canon, "INBOX") == 0)
		return false;
	slash = strrchr(dir, '/');
	if (slash == NULL || strcmp(slash + 1, dname) != 0)
		return false;	/* not the one spelling we write */
	if (fstatat(root_fd, dname, &sb, 0) == -1 || !S_ISDIR(sb.st_mode))
		return false;
	snprintf(sub, sizeof(sub), "%s/cur", dname);
	*noselect_r = fstatat(root_fd, sub, &sb, 0) == -1;
	return true;
}

static int
mstore_list_dirs(struct mstore *st, struct mstore_flist *l,
    const char **err_r)
{
	char name[MSTORE_NAME_MAX + 1];
	struct dirent *de;
	bool noselect;
	DIR *d;

	if ((d = opendir(st->root)) == NULL)
		return mstore_fail(err_r, MSTORE_ERROR, "opendir(%s)",
		    st->root);
	mstore_flist_add(l, "INBOX", 5, false);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || (de->d_type != DT_DIR &&
		    de->d_type != DT_UNKNOWN) ||
		    !mstore_list_dirent(st, dirfd(d), de->d_name, name,
		    sizeof(name), &noselect))
			continue;
		if (l->n > MSTORE_FOLDERS_MAX)
			break;
		mstore_flist_add(l, name, strlen(name), noselect);
	}
	closedir(d);
	return 0;
}

/* Parents that exist only as parts of longer names. */
static void
mstore_list_parents(struct mstore_flist *l)
{
	size_t n;

	mstore_flist_sort(l);
	n = l->n;
	for (size_t i = 0; i < n; i++) {
		const char *name = l->v[i].name, *p;

		for (p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/'))
			if (mstore_flist_find(l, name, (size_t)(p - name)) ==
			    NULL)
				mstore_flist_add(l, name, (size_t)(p - name),
				    true);
	}
	mstore_flist_sort(l);
}

static void
mstore_list_children(struct mstore_flist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *p = strrchr(l->v[i].name, '/');
		struct mstore_folder *parent;

		if (p == NULL)
			continue;
		parent = mstore_flist_find(l, l->v[i].name,
		    (size_t)(p - l->v[i].name));
		if (parent != NULL)
			parent->children = true;
	}
}

static int
mstore_subs_read(struct mstore *st, char **data_r, const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", st->root, MSTORE_SUBS_FILE);
	if (mstore_file_read(path, data_r, &len, MSTORE_SUBS_FILE_MAX) == 0)
		return 0;
	if (errno == ENOENT) {
		*data_r = xstrdup("");
		return 0;
	}
	return mstore_fail(err_r, MSTORE_ERROR, "read(%s)", path);
}

static int
mstore_list_subs(struct mstore *st, struct mstore_flist *l,
    const char **err_r)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX];
	char *data, *line, *next;
	struct mstore_folder *f;
	const char *err;
	size_t sorted = l->n;

	if (mstore_subs_read(st, &data, err_r) != 0)
		return MSTORE_ERROR;
	for (line = data; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line == '\0' || l->n >= 2 * MSTORE_FOLDERS_MAX ||
		    mstore_name_dir(st, line, canon, sizeof(canon), dir,
		    sizeof(dir), &err) != 0 || strcmp(canon, line) != 0)
			continue;	/* edited by hand: not a name of ours */
		/* names not found are appended past the sorted part */
		f = bsearch(&(struct mstore_folder){ .name = line }, l->v,
		    sorted, sizeof(*l->v), mstore_folder_cmp);
		if (f == NULL)
			f = mstore_flist_add(l, line, strlen(line), true);
		f->subscribed = true;
	}
	free(data);
	mstore_flist_sort(l);
	return 0;
}

/* SPECIAL-USE of a folder the index has no row for yet (rebuilt). */
static unsigned
mstore_list_use_file(struct mstore *st, const char *name)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX];
	char path[MAILDIR_PATH_MAX], *data;
	const char *err;
	unsigned long v = 0;
	size_t len;

	if (mstore_name_dir(st, name, canon, sizeof(canon), dir, sizeof(dir),
	    &err) != 0 || mstore_path(path, sizeof(path), dir,
	    MSTORE_SPECIAL_USE_FILE, NULL) == -1 ||
	    mstore_file_read(path, &data, &len, 64) == -1)
		return 0;
	v = strtoul(data, NULL, 10);
	free(data);
	return (unsigned)v;
}

static void
mstore_list_use(struct mstore *st, struct mstore_flist *l)
{
	struct mstore_folder *f;
	sqlite3_stmt *s;
	const char *err;
	bool *known = xcalloc(l->n + 1, sizeof(*known));

	if ((s = mstore_stmt(st, MS_FOLDERS_ALL, &err)) != NULL) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(s,
			    0);

			f = mstore_flist_find(l, name, strlen(name));
			if (f == NULL || f->noselect)
				continue;
			f->use = (unsigned)sqlite3_column_int64(s, 1);
			known[f - l->v] = true;
		}
		sqlite3_reset(s);
	}
	for (size_t i = 1; i < l->n; i++)
		if (!known[i] && !l->v[i].noselect)
			l->v[i].use = mstore_list_use_file(st, l->v[i].name);
	free(known);
}

int
mstore_list(struct mstore *st, struct mstore_folder **list_r, size_t *n_r,
    const char **err_r)
{
	struct mstore_flist l = { 0 };
	int rc;

	*list_r = NULL;
	*n_r = 0;
	if ((rc = mstore_db(st, err_r)) != 0 ||
	    (rc = mstore_list_dirs(st, &l, err_r)) != 0)
		goto fail;
	mstore_list_parents(&l);
	if ((rc = mstore_list_subs(st, &l, err_r)) != 0)
		goto fail;
	mstore_list_children(&l);
	mstore_list_use(st, &l);
	*list_r = l.v;
	*n_r = l.n;
	return 0;
fail:
	mstore_list_free(l.v, l.n);
	return rc;
}

void
mstore_list_free(struct mstore_folder *list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		free(list[i].name);
	free(list);
}

/*
 * CREATE
 */

static bool
mstore_dir_has_cur(const char *dir)
{
	char path[MAILDIR_PATH_MAX];
	struct stat sb;

	return mstore_path(path, sizeof(path), dir, "cur", NULL) == 0 &&
	    stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static size_t
mstore_count_dirs(const char *root)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(root)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && de->d_name[1] != '.' &&
		    de->d_name[1] != '\0')
			n++;
	closedir(d);
	return n;
}

static int
mstore_make_locked(struct mstore *st, struct mstore_fold *f, unsigned use,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX], data[16], name[MSTORE_NAME_MAX + 1];
	int rc, fd, n;

	if (mstore_dir_has_cur(f->dir))
		return mstore_failx(err_r, MSTORE_EEXIST, "mailbox %s exists",
		    f->name);
	if (maildir_create(f->dir, (uid_t)-1, (gid_t)-1, err_r) == -1)
		return MSTORE_ERROR;
	(void)mstore_path(path, sizeof(path), f->dir, "maildirfolder", NULL);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) != -1)
		close(fd);
	f->uidvalidity = mstore_uidvalidity_new(st, err_r, &rc);
	if (rc != 0)
		return rc;
	(void)mstore_path(path, sizeof(path), f->dir, MSTORE_UIDVALIDITY_FILE,
	    NULL);
	n = snprintf(data, sizeof(data), "%u\n", f->uidvalidity);
	if ((rc = mstore_file_write(path, data, (size_t)n, err_r)) != 0)
		return rc;
	if (use != 0) {
		(void)mstore_path(path, sizeof(path), f->dir,
		    MSTORE_SPECIAL_USE_FILE, NULL);
		n = snprintf(data, sizeof(data), "%u\n", use);
		if ((rc = mstore_file_write(path, data, (size_t)n,
		    err_r)) != 0)
			return rc;
	}
	/* a stale row of that name (made by hand, then deleted) goes */
	snprintf(name, sizeof(name), "%s", f->name);
	return mstore_fold_load(st, name, f, err_r);
}

/* Make one folder (its parents exist or don't matter). */
int
mstore_folder_make(struct mstore *st, const char *name, unsigned use,
    const char **err_r)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX];
	struct mstore_fold f = { 0 };
	int rc;

	if ((rc = mstore_name_dir(st, name, canon, sizeof(canon), dir,
	    sizeof(dir), err_r)) != 0)
		return rc;
	if (strcmp(canon, "INBOX") == 0)
		return mstore_failx(err_r, MSTORE_EEXIST, "INBOX exists");
	if (mstore_begin(st, true, err_r) != 0)
		return MSTORE_ERROR;
	f.name = xstrdup(canon);
	f.dir = xstrdup(dir);
	rc = mstore_make_locked(st, &f, use, err_r);
	if (rc == 0)
		rc = mstore_commit(st, err_r);
	else
		mstore_rollback(st);
	mstore_fold_clear(&f);
	return rc;
}

int
mstore_create(struct mstore *st, const char *name, unsigned use,
    const char **err_r)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX];
	char *p;
	int rc;

	if ((rc = mstore_name_dir(st, name, canon, sizeof(canon), dir,
	    sizeof(dir), err_r)) != 0)
		return rc;
	if (strcmp(canon, "INBOX") == 0 || mstore_dir_has_cur(dir))
		return mstore_failx(err_r, MSTORE_EEXIST, "mailbox %s exists",
		    canon);
	if (mstore_count_dirs(st->root) >= MSTORE_FOLDERS_MAX)
		return mstore_failx(err_r, MSTORE_ELIMIT, "too many mailboxes "
		    "(%d)", MSTORE_FOLDERS_MAX);
	/* parents first ("a/b/c" makes "a" and "a/b") */
	for (p = strchr(canon, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (strcmp(canon, "INBOX") != 0)
			rc = mstore_folder_make(st, canon, 0, err_r);
		*p = '/';
		if (rc != 0 && rc != MSTORE_EEXIST)
			return rc;
		rc = 0;
	}
	return mstore_folder_make(st, canon, use, err_r);
}

/*
 * DELETE
 */

static int
mstore_rm_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1 && errno != ENOENT)
		log_warn("mstore: remove(%s)", path);
	return 0;
}

/* Any folder below name (a directory ".name.*")? */
static bool
mstore_has_children(struct mstore *st, const char *canon)
{
	struct mstore_folder *list;
	const char *err;
	size_t n, len = strlen(canon);
	bool any = false;

	if (mstore_list(st, &list, &n, &err) != 0)
		return false;
	for (size_t i = 0; i < n && !any; i++)
		any = strncmp(list[i].name, canon, len) == 0 &&
		    list[i].name[len] == '/' &&
		    (!list[i].noselect || list[i].children);
	mstore_list_free(list, n);
	return any;
}

static int
mstore_delete_locked(struct mstore *st, const char *canon, const char *dir,
    char *trash, size_t tsize, const char **err_r)
{
	struct mstore_fold f;
	uint64_t r;
	int rc;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = mstore_now_us();
	snprintf(trash, tsize, "%s/%s%016llx", st->root, MSTORE_TRASH_PREFIX,
	    (unsigned long long)r);
	/* aside first: a concurrent session never sees half a folder */
	if (rename(dir, trash) == -1) {
		if (errno == ENOENT)
			return mstore_failx(err_r, MSTORE_ENOENT, "no such "
			    "mailbox: %s", canon);
		return mstore_fail(err_r, MSTORE_ERROR, "rename(%s, %s)", dir,
		    trash);
	}
	memset(&f, 0, sizeof(f));
	f.name = xstrdup(canon);
	if ((rc = mstore_fold_reload(st, &f, err_r)) == 0)
		rc = mstore_fold_drop(st, f.id, err_r);
	else if (rc == MSTORE_ENOENT)
		rc = 0;
	mstore_fold_clear(&f);
	return rc;
}

int
mstore_delete(struct mstore *st, const char *name, const char **err_r)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX];
	char trash[MAILDIR_PATH_MAX + 64];
	int rc;

	if ((rc = mstore_name_dir(st, name, canon, sizeof(canon), dir,
	    sizeof(dir), err_r)) != 0)
		return rc;
	if (strcmp(canon, "INBOX") == 0)
		return mstore_failx(err_r, MSTORE_EINVAL, "INBOX cannot be "
		    "deleted");
	if (!mstore_dir_has_cur(dir)) {
		if (mstore_has_children(st, canon))
			return mstore_failx(err_r, MSTORE_EINUSE, "%s has "
			    "children and no messages", canon);
		return mstore_failx(err_r, MSTORE_ENOENT, "no such mailbox: "
		    "%s", canon);
	}
	if (mstore_begin(st, true, err_r) != 0)
		return MSTORE_ERROR;
	if ((rc = mstore_delete_locked(st, canon, dir, trash, sizeof(trash),
	    err_r)) != 0) {
		mstore_rollback(st);
		return rc;
	}
	if ((rc = mstore_commit(st, err_r)) != 0)
		return rc;
	nftw(trash, mstore_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/*
 * SUBSCRIBE
 */

static int
mstore_subs_update(struct mstore *st, const char *canon, bool on,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX], *data, *line, *next;
	struct buf out;
	size_t n = 0;
	bool found = false;
	int rc;

	if (mstore_subs_read(st, &data, err_r) != 0)
		return MSTORE_ERROR;
	buf_init(&out, MSTORE_SUBS_FILE_MAX + MSTORE_NAME_MAX + 2);
	for (line = data; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line == '\0')
			continue;
		if (strcmp(line, canon) == 0) {
			found = true;
			if (!on)
				continue;
		}
		n++;
		buf_printf(&out, "%s\n", line);
	}
	free(data);
	rc = 0;
	if (on && !found && n >= MSTORE_FOLDERS_MAX)
		rc = mstore_failx(err_r, MSTORE_ELIMIT, "too many "
		    "subscriptions");
	else if (on != found || (!on && found)) {
		if (on)
			buf_printf(&out, "%s\n", canon);
		snprintf(path, sizeof(path), "%s/%s", st->root,
		    MSTORE_SUBS_FILE);
		rc = mstore_file_write(path, out.p != NULL ? out.p : "",
		    out.len, err_r);
	}
	buf_free(&out);
	return rc;
}

int
mstore_subscribe(struct mstore *st, const char *name, bool on,
    const char **err_r)
{
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX];
	int rc;

	if ((rc = mstore_name_dir(st, name, canon, sizeof(canon), dir,
	    sizeof(dir), err_r)) != 0)
		return rc;
	/* the index's write lock serializes writers of the file */
	if (mstore_begin(st, true, err_r) != 0)
		return MSTORE_ERROR;
	rc = mstore_subs_update(st, canon, on, err_r);
	mstore_rollback(st);
	return rc;
}

/*
 * STATUS
 */

int
mstore_status(struct mstore *st, const char *name, struct mstore_status *out,
    const char **err_r)
{
	struct mstore_fold f = { 0 };
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = mstore_db(st, err_r)) != 0 ||
	    (rc = mstore_fold_load(st, name, &f, err_r)) != 0 ||
	    (rc = mstore_sync(st, &f, 0, err_r)) != 0 ||
	    (s = mstore_stmt(st, MS_STATUS, err_r)) == NULL) {
		mstore_fold_clear(&f);
		return rc != 0 ? rc : MSTORE_ERROR;
	}
	sqlite3_bind_int64(s, 1, f.id);
	sqlite3_bind_int64(s, 2, f.recent_uid);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		mstore_fold_clear(&f);
		return mstore_dbfail(st, err_r, "status");
	}
	out->messages = (uint32_t)sqlite3_column_int64(s, 0);
	out->unseen = (uint32_t)sqlite3_column_int64(s, 1);
	out->deleted = (uint32_t)sqlite3_column_int64(s, 2);
	out->recent = (uint32_t)sqlite3_column_int64(s, 3);
	out->size = (uint64_t)sqlite3_column_int64(s, 4);
	sqlite3_reset(s);
	out->uidnext = f.uidnext;
	out->uidvalidity = f.uidvalidity;
	out->highestmodseq = f.modseq;
	mstore_fold_clear(&f);
	return 0;
}
