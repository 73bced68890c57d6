/* mstore.c: the store object, errors, and the SQLite index connection
 * (schema, prepared statements, transactions, checkpoints).  The index
 * is a cache: one that is corrupt or of another schema version is
 * renamed aside and rebuilt from the Maildir (doc/IMAP_STORE.md). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "imap/imap_parse.h"
#include "imap/mstore_int.h"

static _Thread_local char	mstore_errbuf[2 * MAILDIR_PATH_MAX + 256];

static const char *const mstore_sql[MS_STMT_COUNT] = {
	[MS_FOLDER_GET] = "SELECT id, uidvalidity, uidnext, highestmodseq, "
	    "recent_uid, use, cur_mtime, kw_mtime, floor_modseq "
	    "FROM folders WHERE name = ?1",
	[MS_FOLDER_INS] = "INSERT INTO folders (name, uidvalidity, uidnext, "
	    "highestmodseq, recent_uid, use, cur_mtime, kw_mtime, "
	    "floor_modseq) VALUES (?1, ?2, 1, ?3, 1, ?4, 0, 0, ?3)",
	[MS_FOLDER_SAVE] = "UPDATE folders SET uidnext = ?2, "
	    "highestmodseq = ?3, recent_uid = ?4, cur_mtime = ?5, "
	    "kw_mtime = ?6 WHERE id = ?1",
	[MS_FOLDER_DEL] = "DELETE FROM folders WHERE id = ?1",
	[MS_FOLDER_USE] = "UPDATE folders SET use = ?2 WHERE id = ?1",
	[MS_FOLDERS_ALL] = "SELECT name, use FROM folders",
	[MS_MSGS_FOLDER] = "SELECT uid, base, fname, flags, kw FROM msgs "
	    "WHERE folder = ?1",
	[MS_MSGS_VIEW] = "SELECT uid, flags, kw, modseq, size, idate "
	    "FROM msgs WHERE folder = ?1 ORDER BY uid",
	/* few rows above a modseq: the (folder, modseq) index, which the
	 * planner (without ANALYZE) would not pick over the primary key */
	[MS_MSGS_SINCE] = "SELECT uid, flags, kw, modseq FROM msgs "
	    "INDEXED BY msgs_modseq "
	    "WHERE folder = ?1 AND modseq > ?2 AND uid < ?3 ORDER BY uid",
	[MS_MSGS_NEWER] = "SELECT uid, flags, kw, modseq, size, idate "
	    "FROM msgs WHERE folder = ?1 AND uid >= ?2 ORDER BY uid",
	[MS_MSG_INS] = "INSERT INTO msgs (folder, uid, base, fname, flags, "
	    "kw, modseq, size, idate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9)",
	[MS_MSG_FLAGS] = "UPDATE msgs SET flags = ?3, kw = ?4, modseq = ?5, "
	    "fname = ?6 WHERE folder = ?1 AND uid = ?2",
	[MS_MSG_FNAME] = "UPDATE msgs SET fname = ?3 WHERE folder = ?1 AND "
	    "uid = ?2",
	[MS_MSG_GET] = "SELECT fname, flags, kw, modseq, size, idate "
	    "FROM msgs WHERE folder = ?1 AND uid = ?2",
	[MS_MSG_BY_BASE] = "SELECT uid FROM msgs WHERE folder = ?1 AND "
	    "base = ?2",
	[MS_MSG_DEL] = "DELETE FROM msgs WHERE folder = ?1 AND uid = ?2",
	[MS_MSG_DELETED] = "SELECT uid, fname FROM msgs WHERE folder = ?1 "
	    "AND uid < ?2 AND (flags & 4) != 0 ORDER BY uid",
	[MS_EXP_INS] = "INSERT OR REPLACE INTO expunged (folder, uid, "
	    "modseq) VALUES (?1, ?2, ?3)",
	[MS_EXP_SINCE] = "SELECT uid FROM expunged INDEXED BY expunged_modseq "
	    "WHERE folder = ?1 AND modseq > ?2 AND uid < ?3 ORDER BY uid",
	[MS_CACHE_DEL] = "DELETE FROM cache WHERE folder = ?1 AND uid = ?2",
	[MS_CACHE_GET] = "SELECT envelope, bodystructure, body, sent, "
	    "subject, addr_from, addr_to, addr_cc, display_from, display_to, "
	    "message_id, in_reply_to, refs, header FROM cache WHERE folder = ?1 "
	    "AND uid = ?2",
	[MS_CACHE_PUT] = "INSERT INTO cache (folder, uid, envelope, "
	    "bodystructure, body, sent, subject, addr_from, addr_to, addr_cc, "
	    "display_from, display_to, message_id, in_reply_to, refs, header) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?14, ?15, ?16) ON CONFLICT (folder, uid) DO UPDATE SET "
	    "envelope = coalesce(excluded.envelope, envelope), "
	    "bodystructure = coalesce(excluded.bodystructure, bodystructure), "
	    "body = coalesce(excluded.body, body), "
	    "sent = coalesce(excluded.sent, sent), "
	    "subject = coalesce(excluded.subject, subject), "
	    "addr_from = coalesce(excluded.addr_from, addr_from), "
	    "addr_to = coalesce(excluded.addr_to, addr_to), "
	    "addr_cc = coalesce(excluded.addr_cc, addr_cc), "
	    "display_from = coalesce(excluded.display_from, display_from), "
	    "display_to = coalesce(excluded.display_to, display_to), "
	    "message_id = coalesce(excluded.message_id, message_id), "
	    "in_reply_to = coalesce(excluded.in_reply_to, in_reply_to), "
	    "refs = coalesce(excluded.refs, refs), "
	    "header = coalesce(excluded.header, header)",
	[MS_KW_ALL] = "SELECT bit, name FROM keywords WHERE folder = ?1 "
	    "ORDER BY bit",
	[MS_KW_DEL] = "DELETE FROM keywords WHERE folder = ?1",
	[MS_KW_INS] = "INSERT OR REPLACE INTO keywords (folder, bit, name) "
	    "VALUES (?1, ?2, ?3)",
	[MS_STATUS] = "SELECT count(*), coalesce(sum((flags & 8) = 0), 0), "
	    "coalesce(sum((flags & 4) != 0), 0), "
	    "coalesce(sum(uid >= ?2), 0), coalesce(sum(size), 0) "
	    "FROM msgs WHERE folder = ?1",
	[MS_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[MS_META_SET] = "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
};

static const char mstore_schema[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    " k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS folders ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL,"
    " highestmodseq INTEGER NOT NULL,"
    " recent_uid INTEGER NOT NULL,"
    " use INTEGER NOT NULL DEFAULT 0,"
    " cur_mtime INTEGER NOT NULL DEFAULT 0,"
    " kw_mtime INTEGER NOT NULL DEFAULT 0,"
    " floor_modseq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS msgs ("
    " folder INTEGER NOT NULL, uid INTEGER NOT NULL,"
    " base TEXT NOT NULL, fname TEXT NOT NULL,"
    " flags INTEGER NOT NULL, kw INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL, size INTEGER NOT NULL,"
    " idate INTEGER NOT NULL,"
    " PRIMARY KEY (folder, uid)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX IF NOT EXISTS msgs_base ON msgs (folder, base);"
    "CREATE INDEX IF NOT EXISTS msgs_modseq ON msgs (folder, modseq);"
    "CREATE TABLE IF NOT EXISTS expunged ("
    " folder INTEGER NOT NULL, uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY (folder, uid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (folder, "
    " modseq);"
    "CREATE TABLE IF NOT EXISTS keywords ("
    " folder INTEGER NOT NULL, bit INTEGER NOT NULL, name TEXT NOT NULL,"
    " PRIMARY KEY (folder, bit)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS cache ("
    " folder INTEGER NOT NULL, uid INTEGER NOT NULL,"
    " envelope BLOB, bodystructure BLOB, body BLOB, sent INTEGER,"
    " subject BLOB, addr_from BLOB, addr_to BLOB, addr_cc BLOB,"
    " display_from BLOB, display_to BLOB, message_id BLOB,"
    " in_reply_to BLOB, refs BLOB, header BLOB,"
    " PRIMARY KEY (folder, uid));";

static int
mstore_vfail(const char **err_r, int code, int errnum, const char *fmt,
    va_list ap)
{
	size_t len;

	vsnprintf(mstore_errbuf, sizeof(mstore_errbuf), fmt, ap);
	len = strlen(mstore_errbuf);
	if (errnum != 0)
		snprintf(mstore_errbuf + len, sizeof(mstore_errbuf) - len,
		    ": %s", strerror(errnum));
	if (err_r != NULL)
		*err_r = mstore_errbuf;
	errno = errnum;
	return code;
}

/* "call(args): strerror(errno)" into *err_r; returns code. */
int
mstore_fail(const char **err_r, int code, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	mstore_vfail(err_r, code, e, fmt, ap);
	va_end(ap);
	return code;
}

int
mstore_failx(const char **err_r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mstore_vfail(err_r, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

/* A database error: the message, and a corrupt index marked for
 * rebuilding at the next call. */
int
mstore_dbfail(struct mstore *st, const char **err_r, const char *what)
{
	int rc = st->db != NULL ? sqlite3_errcode(st->db) : SQLITE_ERROR;

	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		st->corrupt = true;
	return mstore_failx(err_r, MSTORE_ERROR, "index %s: %s: %s",
	    st->index_path, what, st->db != NULL ? sqlite3_errmsg(st->db) :
	    "not open");
}

uint64_t
mstore_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int64_t
mstore_mtime_ns(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000000000 +
	    sb->st_mtim.tv_nsec;
}

static void
mstore_db_close(struct mstore *st)
{
	for (int i = 0; i < MS_STMT_COUNT; i++) {
		sqlite3_finalize(st->stmt[i]);
		st->stmt[i] = NULL;
	}
	if (st->db != NULL)
		sqlite3_close(st->db);
	st->db = NULL;
	st->in_tx = false;
}

/* Move a bad index (and its WAL) aside: kept for a post-mortem, never
 * read again. */
static void
mstore_db_aside(struct mstore *st, const char *why)
{
	char to[MAILDIR_PATH_MAX], side[MAILDIR_PATH_MAX];

	snprintf(to, sizeof(to), "%s.bad-%lld", st->index_path,
	    (long long)time(NULL));
	log_warnx("mstore: index %s %s: moved to %s, rebuilding",
	    st->index_path, why, to);
	if (rename(st->index_path, to) == -1 && errno != ENOENT)
		log_warn("rename(%s, %s)", st->index_path, to);
	snprintf(side, sizeof(side), "%s-wal", st->index_path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", st->index_path);
	unlink(side);
}

static int
mstore_exec(struct mstore *st, const char *sql, const char **err_r)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return mstore_dbfail(st, err_r, sql);
	return 0;
}

static int
mstore_user_version(struct mstore *st, int *v_r)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*v_r = sqlite3_column_int(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Create the tables in a fresh file (under the write lock: another
 * process may be doing the same). */
static int
mstore_db_schema(struct mstore *st, const char **err_r)
{
	char sql[64];
	int v = 0;

	if (mstore_exec(st, "BEGIN IMMEDIATE", err_r) != 0)
		return MSTORE_ERROR;
	if (mstore_user_version(st, &v) != SQLITE_OK)
		goto fail;
	if (v == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    MSTORE_SCHEMA_VERSION);
		if (sqlite3_exec(st->db, mstore_schema, NULL, NULL,
		    NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	if (mstore_exec(st, "COMMIT", err_r) != 0)
		goto fail;
	return 0;
fail:
	mstore_dbfail(st, err_r, "create schema");
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return MSTORE_ERROR;
}

/* Wait for another connection's lock.  SQLite's own busy_timeout
 * sleeps 1, 2, 5, 10 ... 100 ms between tries, far longer than our
 * write transactions hold the lock (a few hundred microseconds): with
 * ten sessions on one mailbox every command then waited tens of
 * milliseconds.  Yield first, then sleep 50 us growing slowly to 2 ms,
 * giving up after MSTORE_BUSY_MS in all. */
static int
mstore_busy(void *arg, int count)
{
	struct mstore *st = arg;
	struct timespec ts;
	uint64_t now;
	long us;

	if (st->no_wait)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	if (count == 0)
		st->busy_since = now;
	else if (now - st->busy_since >= (uint64_t)MSTORE_BUSY_MS * 1000)
		return 0;
	if (count < 4) {
		sched_yield();
		return 1;
	}
	/* 50 us doubling every 4 tries: 2 ms from the 24th on */
	us = count >= 24 ? 2000 : 50L << ((count - 4) / 4);
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

/* One attempt at opening the index: 0, MSTORE_ERROR, or 1 when the file
 * is of another version or corrupt (moved aside: try again). */
static int
mstore_db_try(struct mstore *st, const char **err_r)
{
	int rc, v = 0;

	rc = sqlite3_open_v2(st->index_path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_handler(st->db, mstore_busy, st);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL; "
	    "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    (rc = mstore_user_version(st, &v)) != SQLITE_OK)
		goto fail;
	if (v != 0 && v != MSTORE_SCHEMA_VERSION) {
		mstore_db_close(st);
		mstore_db_aside(st, "has another schema version");
		return 1;
	}
	if (v == 0 && mstore_db_schema(st, err_r) != 0)
		goto fail;
	return 0;
fail:
	rc = st->db != NULL ? sqlite3_errcode(st->db) : rc;
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
		mstore_db_close(st);
		mstore_db_aside(st, "is corrupt");
		return 1;
	}
	mstore_dbfail(st, err_r, "open");
	mstore_db_close(st);
	return MSTORE_ERROR;
}

/* Open the connection unless it is (mstore_idle() closed it). */
int
mstore_db(struct mstore *st, const char **err_r)
{
	int rc;

	if (st->corrupt) {
		mstore_db_close(st);
		mstore_db_aside(st, "is corrupt");
		st->corrupt = false;
	}
	if (st->db != NULL)
		return 0;
	for (int tries = 0; tries < 2; tries++)
		if ((rc = mstore_db_try(st, err_r)) <= 0)
			return rc;
	return mstore_failx(err_r, MSTORE_ERROR, "index %s: cannot be "
	    "rebuilt", st->index_path);
}

sqlite3_stmt *
mstore_stmt(struct mstore *st, enum mstore_stmt which, const char **err_r)
{
	sqlite3_stmt *s = st->stmt[which];

	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	if (mstore_db(st, err_r) != 0)
		return NULL;
	if (sqlite3_prepare_v3(st->db, mstore_sql[which], -1,
	    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		mstore_dbfail(st, err_r, "prepare");
		return NULL;
	}
	st->stmt[which] = s;
	return s;
}

/* Run a statement that returns no row. */
int
mstore_step_done(struct mstore *st, sqlite3_stmt *s, const char **err_r)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return mstore_dbfail(st, err_r, sqlite3_sql(s));
	return 0;
}

/* BEGIN IMMEDIATE takes the write lock at once (waiting up to the busy
 * timeout): a deferred transaction that later writes could fail with
 * SQLITE_BUSY without waiting. */
int
mstore_begin(struct mstore *st, bool write, const char **err_r)
{
	mstore_read_release(st);
	if (st->in_tx)
		return mstore_failx(err_r, MSTORE_ERROR, "index: nested "
		    "transaction");
	if (st->ncq > 0 && !st->flushing)
		mstore_cache_flush(st);
	if (mstore_db(st, err_r) != 0)
		return MSTORE_ERROR;
	if (mstore_exec(st, write ? "BEGIN IMMEDIATE" : "BEGIN", err_r) != 0)
		return MSTORE_ERROR;
	st->in_tx = true;
	return 0;
}

/* Readers that stay long keep the WAL from being reset; TRUNCATE now
 * and then gives the space back (without waiting for them). */
static void
mstore_checkpoint(struct mstore *st)
{
	if (++st->commits < MSTORE_CHECKPOINT_EVERY)
		return;
	st->commits = 0;
	st->no_wait = true;
	sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);
	st->no_wait = false;
}

int
mstore_commit(struct mstore *st, const char **err_r)
{
	if (!st->in_tx)
		return 0;
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		mstore_dbfail(st, err_r, "COMMIT");
		mstore_rollback(st);
		return MSTORE_ERROR;
	}
	st->in_tx = false;
	mstore_checkpoint(st);
	return 0;
}

void
mstore_rollback(struct mstore *st)
{
	if (!st->in_tx || st->db == NULL)
		return;
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = false;
}

/* A new UIDVALIDITY: the time, but never twice the same in this index
 * (a folder deleted and created again within a second).  Inside a write
 * transaction. */
uint32_t
mstore_uidvalidity_new(struct mstore *st, const char **err_r, int *rc_r)
{
	uint32_t v = (uint32_t)time(NULL), last = 0;
	sqlite3_stmt *s;

	*rc_r = MSTORE_ERROR;
	if ((s = mstore_stmt(st, MS_META_GET, err_r)) == NULL)
		return 0;
	sqlite3_bind_text(s, 1, "uidvalidity", -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		last = (uint32_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (v <= last)
		v = last + 1;
	if (v == 0)
		v = 1;
	if ((s = mstore_stmt(st, MS_META_SET, err_r)) == NULL)
		return 0;
	sqlite3_bind_text(s, 1, "uidvalidity", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	if (mstore_step_done(st, s, err_r) != 0)
		return 0;
	*rc_r = 0;
	return v;
}

/* Does ROOT hold any folder directory yet? */
static bool
mstore_has_folders(struct mstore *st)
{
	struct mstore_folder *list;
	const char *err;
	size_t n;
	bool any;

	if (mstore_list(st, &list, &n, &err) != 0)
		return true;
	any = n > 1;
	mstore_list_free(list, n);
	return any;
}

static void
mstore_specials(struct mstore *st)
{
	static const struct {
		const char	*name;
		unsigned	 use;
	} specials[] = {
		{ "Sent", IMAP_USE_SENT }, { "Drafts", IMAP_USE_DRAFTS },
		{ "Trash", IMAP_USE_TRASH }, { "Junk", IMAP_USE_JUNK },
		{ "Archive", IMAP_USE_ARCHIVE },
	};
	const char *err;
	int rc;

	if (mstore_has_folders(st))
		return;
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		rc = mstore_create(st, specials[i].name, specials[i].use, &err);
		if (rc == 0)
			rc = mstore_subscribe(st, specials[i].name, true, &err);
		if (rc != 0 && rc != MSTORE_EEXIST)
			log_warnx("mstore: %s: %s", specials[i].name, err);
	}
}

int
mstore_open(const char *root, struct mstore **st_r, const char **err_r)
{
	struct stat sb;
	struct mstore *st;
	bool fresh;
	size_t len = strlen(root);
	int rc;

	*st_r = NULL;
	if (len == 0 || len + 64 + MAILDIR_NAME_MAX > MAILDIR_PATH_MAX)
		return mstore_failx(err_r, MSTORE_ERROR, "mstore: root %s: "
		    "path too long", root);
	if (maildir_create(root, (uid_t)-1, (gid_t)-1, err_r) == -1)
		return MSTORE_ERROR;
	st = xcalloc(1, sizeof(*st));
	st->root = xstrdup(root);
	while (len > 1 && st->root[len - 1] == '/')
		st->root[--len] = '\0';
	st->index_path = xmalloc(len + sizeof(MSTORE_INDEX_NAME) + 1);
	snprintf(st->index_path, len + sizeof(MSTORE_INDEX_NAME) + 1,
	    "%s/%s", st->root, MSTORE_INDEX_NAME);
	fresh = stat(st->index_path, &sb) == -1;
	if ((rc = mstore_db(st, err_r)) != 0) {
		mstore_close(&st);
		return rc;
	}
	if (fresh)
		mstore_specials(st);
	*st_r = st;
	return 0;
}

void
mstore_close(struct mstore **stp)
{
	struct mstore *st = *stp;

	if (st == NULL)
		return;
	*stp = NULL;
	for (struct mstore_view *v = st->views; v != NULL; v = v->next)
		v->linked = false;	/* closed after the store */
	mstore_read_release(st);
	mstore_rollback(st);
	mstore_cache_flush(st);
	mstore_db_close(st);
	free(st->index_path);
	free(st->root);
	free(st);
}

void
mstore_idle(struct mstore *st)
{
	if (st == NULL)
		return;
	st->read_want = false;
	mstore_read_release(st);
	mstore_rollback(st);
	mstore_cache_flush(st);
	mstore_db_close(st);
	for (struct mstore_view *v = st->views; v != NULL; v = v->next)
		mstore_view_pack(v);
}
