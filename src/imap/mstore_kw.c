/* mstore_kw.c: a folder's keywords.  DIR/dovecot-keywords ("N name"
 * lines, N the letter 'a' + N in file names, as Dovecot writes it) is
 * the truth; the keywords table mirrors it, read again whenever the
 * file's mtime moves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/mem.h"
#include "imap/mstore_int.h"

#define MSTORE_KW_FILE_MAX	(MSTORE_KEYWORDS_MAX * (MSTORE_KEYWORD_MAX + 8))

static int64_t
mstore_kw_stat(const struct mstore_fold *f, char *path, size_t size)
{
	struct stat sb;

	if (mstore_path(path, size, f->dir, MSTORE_KEYWORDS_FILE,
	    NULL) == -1 || stat(path, &sb) == -1)
		return 0;
	return mstore_mtime_ns(&sb);
}

/* A keyword as IMAP allows it (atom chars but "]", RFC 9051 flag-
 * keyword) within our length. */
static int
mstore_kw_check(struct str name, const char **err_r)
{
	if (name.len == 0 || name.len > MSTORE_KEYWORD_MAX)
		return mstore_failx(err_r, name.len == 0 ? MSTORE_EINVAL :
		    MSTORE_ELIMIT, "keyword of %zu bytes", name.len);
	for (size_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.p[i];

		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return mstore_failx(err_r, MSTORE_EINVAL, "bad "
			    "character in keyword");
	}
	if (name.p[0] == '\\')
		return mstore_failx(err_r, MSTORE_EINVAL, "system flag");
	return 0;
}

static int
mstore_kw_insert(struct mstore *st, struct mstore_fold *f, long bit,
    struct str name, const char **err_r)
{
	sqlite3_stmt *s;

	if ((s = mstore_stmt(st, MS_KW_INS, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, bit);
	sqlite3_bind_text(s, 3, name.p, (int)name.len, SQLITE_STATIC);
	return mstore_step_done(st, s, err_r);
}

static int
mstore_kw_parse(struct mstore *st, struct mstore_fold *f, char *data,
    const char **err_r)
{
	char *line, *next, *end;
	const char *e;
	long bit;

	for (line = data; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		errno = 0;
		bit = strtol(line, &end, 10);
		if (errno != 0 || end == line || *end != ' ' || bit < 0 ||
		    bit >= MSTORE_KEYWORDS_MAX ||
		    mstore_kw_check(str_cstr(end + 1), &e) != 0)
			continue;	/* not ours to judge: skipped */
		if (mstore_kw_insert(st, f, bit, str_cstr(end + 1),
		    err_r) != 0)
			return MSTORE_ERROR;
	}
	return 0;
}

/* dovecot-keywords changed: read it into the table (write lock held;
 * the caller saves f). */
int
mstore_sync_keywords(struct mstore *st, struct mstore_fold *f,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX], *data = NULL;
	sqlite3_stmt *s;
	int64_t m = mstore_kw_stat(f, path, sizeof(path));
	size_t len;
	int rc;

	if (m == f->kw_mtime)
		return 0;
	if ((s = mstore_stmt(st, MS_KW_DEL, err_r)) == NULL)
		return MSTORE_ERROR;
	sqlite3_bind_int64(s, 1, f->id);
	if (mstore_step_done(st, s, err_r) != 0)
		return MSTORE_ERROR;
	if (m != 0 && mstore_file_read(path, &data, &len,
	    MSTORE_KW_FILE_MAX * 4) == -1 && errno != ENOENT)
		return mstore_fail(err_r, MSTORE_ERROR, "read(%s)", path);
	rc = data != NULL ? mstore_kw_parse(st, f, data, err_r) : 0;
	free(data);
	if (rc == 0)
		f->kw_mtime = m;
	return rc;
}

void
mstore_kw_free(char **names, uint32_t n)
{
	for (uint32_t i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
}

/* The table's names, names[bit] (NULL for holes), *n_r = last bit + 1. */
int
mstore_fold_read_kw(struct mstore *st, struct mstore_fold *f,
    char ***names_r, uint32_t *n_r, const char **err_r)
{
	char **names = xcalloc(MSTORE_KEYWORDS_MAX, sizeof(*names));
	sqlite3_stmt *s;
	uint32_t n = 0;
	int rc;

	*names_r = NULL;
	*n_r = 0;
	if ((s = mstore_stmt(st, MS_KW_ALL, err_r)) == NULL) {
		free(names);
		return MSTORE_ERROR;
	}
	sqlite3_bind_int64(s, 1, f->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t bit = sqlite3_column_int64(s, 0);

		if (bit < 0 || bit >= MSTORE_KEYWORDS_MAX || names[bit])
			continue;
		names[bit] = xstrdup((const char *)sqlite3_column_text(s, 1));
		if ((uint32_t)bit + 1 > n)
			n = (uint32_t)bit + 1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		mstore_kw_free(names, MSTORE_KEYWORDS_MAX);
		return mstore_dbfail(st, err_r, "keywords");
	}
	*names_r = names;
	*n_r = n;
	return 0;
}

static int
mstore_kw_write(struct mstore_fold *f, char **names, uint32_t n,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	struct buf b;
	int rc;

	buf_init(&b, MSTORE_KW_FILE_MAX + 64);
	for (uint32_t i = 0; i < n; i++)
		if (names[i] != NULL && buf_printf(&b, "%u %s\n", i,
		    names[i]) == -1) {
			buf_free(&b);
			return mstore_failx(err_r, MSTORE_ERROR, "keywords "
			    "file too big");
		}
	if (mstore_path(path, sizeof(path), f->dir, MSTORE_KEYWORDS_FILE,
	    NULL) == -1)
		rc = mstore_fail(err_r, MSTORE_ERROR, "%s", f->dir);
	else
		rc = mstore_file_write(path, b.p != NULL ? b.p : "", b.len,
		    err_r);
	buf_free(&b);
	return rc;
}

/* The bit of keyword name, added to the folder when new (write lock
 * held, f current); MSTORE_ELIMIT when all 26 letters are taken. */
static int
mstore_kw_add_locked(struct mstore *st, struct mstore_fold *f,
    struct str name, const char **err_r)
{
	char path[MAILDIR_PATH_MAX], **names;
	uint32_t n, bit;
	int rc;

	if ((rc = mstore_sync_keywords(st, f, err_r)) != 0 ||
	    (rc = mstore_fold_read_kw(st, f, &names, &n, err_r)) != 0)
		return rc;
	for (bit = 0; bit < n; bit++)
		if (names[bit] != NULL && strlen(names[bit]) == name.len &&
		    strncasecmp(names[bit], name.p, name.len) == 0)
			goto done;
	for (bit = 0; bit < MSTORE_KEYWORDS_MAX && names[bit] != NULL; bit++)
		;
	if (bit == MSTORE_KEYWORDS_MAX) {
		rc = mstore_failx(err_r, MSTORE_ELIMIT, "too many keywords "
		    "in %s (%d)", f->name, MSTORE_KEYWORDS_MAX);
		goto done;
	}
	names[bit] = xstrndup(name.p, name.len);
	if (bit + 1 > n)
		n = bit + 1;
	if ((rc = mstore_kw_write(f, names, n, err_r)) != 0 ||
	    (rc = mstore_kw_insert(st, f, bit, name, err_r)) != 0)
		goto done;
	f->kw_mtime = mstore_kw_stat(f, path, sizeof(path));
	rc = mstore_fold_save(st, f, err_r);
done:
	mstore_kw_free(names, MSTORE_KEYWORDS_MAX);
	return rc == 0 ? (int)bit : rc;
}

int
mstore_keyword_add(struct mstore *st, struct mstore_fold *f, struct str name,
    const char **err_r)
{
	bool own = !st->in_tx;
	int rc;

	if ((rc = mstore_kw_check(name, err_r)) != 0)
		return rc;
	/* in a caller's transaction f is current (and may hold changes
	 * not saved yet): read it again only in our own */
	if (own && mstore_begin(st, true, err_r) != 0)
		return MSTORE_ERROR;
	if (own && (rc = mstore_fold_reload(st, f, err_r)) != 0) {
		mstore_rollback(st);
		return rc;
	}
	rc = mstore_kw_add_locked(st, f, name, err_r);
	if (own) {
		if (rc >= 0 && mstore_commit(st, err_r) != 0)
			rc = MSTORE_ERROR;
		else if (rc < 0)
			mstore_rollback(st);
	}
	return rc;
}
