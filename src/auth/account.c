/* account.c: domains, users and aliases in one SQLite database, with
 * yescrypt password hashes (libxcrypt).
 *
 * Every query is a prepared statement made once at open; every statement
 * is reset after use so that no read transaction outlives a call (WAL
 * readers would pin the log otherwise).  Addresses are validated and
 * ASCII-lowercased before they reach SQL. */
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/account.h"
#include "auth/sasl.h"
#include "core/limits.h"
#include "core/mem.h"

#define ACCOUNT_SCHEMA_VERSION	1
#define ACCOUNT_BUSY_MS		5000
#define ACCOUNT_ERR_MAX		512
#define ACCOUNT_SHOW_MAX	300	/* bytes of user input quoted in errors */
#define ACCOUNT_SEEN_MAX	1024	/* alias keys expanded for one address */
#define ACCOUNT_LABEL_MAX	63

enum account_st {
	ACCOUNT_ST_BEGIN,
	ACCOUNT_ST_COMMIT,
	ACCOUNT_ST_ROLLBACK,
	ACCOUNT_ST_DOMAIN_ADD,
	ACCOUNT_ST_DOMAIN_DEL,
	ACCOUNT_ST_DOMAIN_GET,
	ACCOUNT_ST_DOMAIN_LIST,
	ACCOUNT_ST_DOMAIN_USERS,
	ACCOUNT_ST_DOMAIN_ALIASES,
	ACCOUNT_ST_USER_ADD,
	ACCOUNT_ST_USER_DEL,
	ACCOUNT_ST_USER_GET,
	ACCOUNT_ST_USER_HASH,
	ACCOUNT_ST_USER_PASSWD,
	ACCOUNT_ST_USER_SCRAM,
	ACCOUNT_ST_USER_LIST,
	ACCOUNT_ST_USER_LIST_DOMAIN,
	ACCOUNT_ST_ALIAS_ADD,
	ACCOUNT_ST_ALIAS_DEL,
	ACCOUNT_ST_ALIAS_DEL_ALL,
	ACCOUNT_ST_ALIAS_TARGETS,
	ACCOUNT_ST_ALIAS_COUNT,
	ACCOUNT_ST_ALIAS_LIST,
	ACCOUNT_ST_COUNT
};

#define ACCOUNT_NOW	"CAST(strftime('%s', 'now') AS INTEGER)"

static const char *const account_sql[ACCOUNT_ST_COUNT] = {
	[ACCOUNT_ST_BEGIN] = "BEGIN IMMEDIATE",
	[ACCOUNT_ST_COMMIT] = "COMMIT",
	[ACCOUNT_ST_ROLLBACK] = "ROLLBACK",
	[ACCOUNT_ST_DOMAIN_ADD] =
	    "INSERT INTO domains (name, created) VALUES (?1, " ACCOUNT_NOW ")",
	[ACCOUNT_ST_DOMAIN_DEL] = "DELETE FROM domains WHERE name = ?1",
	[ACCOUNT_ST_DOMAIN_GET] = "SELECT 1 FROM domains WHERE name = ?1",
	[ACCOUNT_ST_DOMAIN_LIST] = "SELECT name FROM domains ORDER BY name",
	[ACCOUNT_ST_DOMAIN_USERS] =
	    "SELECT count(*) FROM users WHERE domain = ?1",
	[ACCOUNT_ST_DOMAIN_ALIASES] =
	    "SELECT count(DISTINCT alias) FROM aliases WHERE domain = ?1",
	[ACCOUNT_ST_USER_ADD] =
	    "INSERT INTO users (address, local, domain, hash, scram, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, " ACCOUNT_NOW ")",
	[ACCOUNT_ST_USER_DEL] = "DELETE FROM users WHERE address = ?1",
	[ACCOUNT_ST_USER_GET] = "SELECT 1 FROM users WHERE address = ?1",
	[ACCOUNT_ST_USER_HASH] = "SELECT hash FROM users WHERE address = ?1",
	[ACCOUNT_ST_USER_PASSWD] =
	    "UPDATE users SET hash = ?2, scram = ?3 WHERE address = ?1",
	[ACCOUNT_ST_USER_SCRAM] = "SELECT scram FROM users WHERE address = ?1",
	[ACCOUNT_ST_USER_LIST] =
	    "SELECT address FROM users ORDER BY domain, local",
	[ACCOUNT_ST_USER_LIST_DOMAIN] =
	    "SELECT address FROM users WHERE domain = ?1 ORDER BY local",
	[ACCOUNT_ST_ALIAS_ADD] =
	    "INSERT INTO aliases (alias, domain, target, created) "
	    "VALUES (?1, ?2, ?3, " ACCOUNT_NOW ")",
	[ACCOUNT_ST_ALIAS_DEL] =
	    "DELETE FROM aliases WHERE alias = ?1 AND target = ?2",
	[ACCOUNT_ST_ALIAS_DEL_ALL] = "DELETE FROM aliases WHERE alias = ?1",
	[ACCOUNT_ST_ALIAS_TARGETS] =
	    "SELECT target FROM aliases WHERE alias = ?1 ORDER BY target",
	[ACCOUNT_ST_ALIAS_COUNT] =
	    "SELECT count(*) FROM aliases WHERE alias = ?1",
	[ACCOUNT_ST_ALIAS_LIST] =
	    "SELECT alias, target FROM aliases ORDER BY domain, alias, target",
};

/* Version 1.  users.scram holds the SCRAM-SHA-256 secrets in the RFC
 * 5803 form "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>",
 * written with the yescrypt hash by user_add and user_passwd.  Users
 * made before SCRAM landed have NULL there: they cannot use SCRAM until
 * their password is set again (PLAIN and LOGIN work meanwhile). */
static const char account_schema_sql[] =
	"CREATE TABLE domains (\n"
	"	name	TEXT PRIMARY KEY NOT NULL,\n"
	"	created	INTEGER NOT NULL\n"
	");\n"
	"CREATE TABLE users (\n"
	"	address	TEXT PRIMARY KEY NOT NULL,\n"	/* local@domain */
	"	local	TEXT NOT NULL,\n"
	"	domain	TEXT NOT NULL REFERENCES domains (name),\n"
	"	hash	TEXT NOT NULL,\n"		/* $y$... */
	"	scram	TEXT,\n"			/* RFC 5803 or NULL */
	"	created	INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX users_domain ON users (domain, local);\n"
	"CREATE TABLE aliases (\n"
	"	alias	TEXT NOT NULL,\n"		/* local@domain, @domain */
	"	domain	TEXT NOT NULL REFERENCES domains (name),\n"
	"	target	TEXT NOT NULL,\n"
	"	created	INTEGER NOT NULL,\n"
	"	PRIMARY KEY (alias, target)\n"
	");\n"
	"CREATE INDEX aliases_domain ON aliases (domain);\n"
	"PRAGMA user_version = 1;\n";

struct account_db {
	sqlite3		*sq;
	sqlite3_stmt	*st[ACCOUNT_ST_COUNT];
	char		 err[ACCOUNT_ERR_MAX];
};

/* A validated, lowercased address.  local is empty for "@domain". */
struct account_addr {
	char	full[ACCOUNT_ADDR_MAX + 1];
	char	local[SMTP_LOCALPART_MAX + 1];
	char	domain[SMTP_DOMAIN_MAX + 1];
};

/* --- errors ---------------------------------------------------------- */

static int	account_fail(struct account_db *db, const char **err_r,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Format an error into db->err (control bytes made harmless). -1. */
static int
account_fail(struct account_db *db, const char **err_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
	for (char *c = db->err; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (err_r != NULL)
		*err_r = db->err;
	return -1;
}

/* -1 with the message already in db->err. */
static int
account_err(struct account_db *db, const char **err_r)
{
	if (err_r != NULL)
		*err_r = db->err;
	return -1;
}

static int
account_sqlfail(struct account_db *db, const char **err_r, const char *what)
{
	return account_fail(db, err_r, "database: %s: %s", what,
	    sqlite3_errmsg(db->sq));
}

/* --- address syntax -------------------------------------------------- */

static bool
account_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5322 atext without '/', which would make a path. */
static bool
account_atext(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-=?^_`{|}~";

	return account_alnum(c) || (c != '\0' && memchr(extra, c,
	    sizeof(extra) - 1) != NULL);
}

static void
account_lower(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	dst[n] = '\0';
}

/* NULL when p[0..n) is a dot-atom local part, else why not. */
static const char *
account_local_check(const char *p, size_t n)
{
	if (n == 0)
		return "empty local part";
	if (n > SMTP_LOCALPART_MAX)
		return "local part longer than 64 bytes";
	if (p[0] == '.' || p[n - 1] == '.')
		return "local part starts or ends with '.'";
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.' && i + 1 < n && p[i + 1] == '.')
			return "'..' in local part";
		if (p[i] != '.' && !account_atext((unsigned char)p[i]))
			return "invalid character in local part";
	}
	return NULL;
}

/* NULL when p[0..n) is a host name (LDH labels of 1..63), else why. */
static const char *
account_domain_check(const char *p, size_t n)
{
	size_t label = 0;

	if (n == 0)
		return "empty domain";
	if (n > SMTP_DOMAIN_MAX)
		return "domain longer than 255 bytes";
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (label == 0)
				return "empty label in domain";
			if (p[i - 1] == '-')
				return "domain label ends with '-'";
			label = 0;
			continue;
		}
		if (!account_alnum((unsigned char)p[i]) && p[i] != '-')
			return "invalid character in domain";
		if (label == 0 && p[i] == '-')
			return "domain label starts with '-'";
		if (++label > ACCOUNT_LABEL_MAX)
			return "domain label longer than 63 bytes";
	}
	return NULL;
}

/* Split and check "local@domain" (or "@domain" when catchall). */
static const char *
account_addr_parse(const char *in, bool catchall, struct account_addr *a)
{
	const char *at, *why;
	size_t len, llen;

	if ((len = strnlen(in, ACCOUNT_ADDR_MAX + 1)) > ACCOUNT_ADDR_MAX)
		return "address longer than 256 bytes";
	if ((at = strrchr(in, '@')) == NULL)
		return "no @domain";
	llen = (size_t)(at - in);
	if (llen == 0 && !catchall)
		return "empty local part";
	if (llen > 0 && (why = account_local_check(in, llen)) != NULL)
		return why;
	if ((why = account_domain_check(at + 1, len - llen - 1)) != NULL)
		return why;
	account_lower(a->full, in, len);
	account_lower(a->local, in, llen);
	account_lower(a->domain, at + 1, len - llen - 1);
	return NULL;
}

static int
account_addr_norm(struct account_db *db, const char *in, bool catchall,
    struct account_addr *a, const char **err_r)
{
	const char *why;

	if (in == NULL)
		return account_fail(db, err_r, "invalid address: (null)");
	if ((why = account_addr_parse(in, catchall, a)) != NULL)
		return account_fail(db, err_r, "invalid address: %.*s: %s",
		    ACCOUNT_SHOW_MAX, in, why);
	return 0;
}

static int
account_domain_norm(struct account_db *db, const char *in,
    char out[SMTP_DOMAIN_MAX + 1], const char **err_r)
{
	const char *why;
	size_t n;

	if (in == NULL)
		return account_fail(db, err_r, "invalid domain: (null)");
	n = strnlen(in, SMTP_DOMAIN_MAX + 1);
	if ((why = account_domain_check(in, n)) != NULL)
		return account_fail(db, err_r, "invalid domain: %.*s: %s",
		    ACCOUNT_SHOW_MAX, in, why);
	account_lower(out, in, n);
	return 0;
}

int
account_address_normalize(const char *address, char out[ACCOUNT_ADDR_MAX + 1],
    const char **err_r)
{
	struct account_addr a;
	const char *why;

	if ((why = account_addr_parse(address, false, &a)) != NULL) {
		*err_r = why;
		return -1;
	}
	memcpy(out, a.full, strlen(a.full) + 1);
	return 0;
}

/* --- statements ------------------------------------------------------ */

/* The statement, reset, with its text parameters bound (NULL on error). */
static sqlite3_stmt *
account_stmt(struct account_db *db, enum account_st i,
    const char *const *v, size_t n)
{
	sqlite3_stmt *st = db->st[i];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (size_t k = 0; k < n; k++) {
		if (sqlite3_bind_text(st, (int)k + 1, v[k], -1,
		    SQLITE_STATIC) != SQLITE_OK) {
			account_sqlfail(db, NULL, "bind");
			return NULL;
		}
	}
	return st;
}

#define ACCOUNT_STMT(db, i, ...)					\
	account_stmt((db), (i), (const char *const[]){ __VA_ARGS__ },	\
	    sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))

/* Step a statement that returns no row.  The sqlite result code; on an
 * error db->err already holds a message. */
static int
account_step(struct account_db *db, sqlite3_stmt *st)
{
	int rc;

	if (st == NULL)
		return SQLITE_ERROR;
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		account_sqlfail(db, NULL, sqlite3_sql(st));
	sqlite3_reset(st);
	return rc;
}

static int
account_exec(struct account_db *db, sqlite3_stmt *st, const char **err_r)
{
	if (account_step(db, st) != SQLITE_DONE)
		return account_err(db, err_r);
	return 0;
}

/* First column of the first row as an integer (0 when no row). */
static int
account_int(struct account_db *db, sqlite3_stmt *st, long long *n_r,
    const char **err_r)
{
	int rc;

	*n_r = 0;
	if (st == NULL)
		return account_err(db, err_r);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n_r = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		account_sqlfail(db, err_r, sqlite3_sql(st));
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* 1 when the statement returns a row, 0 not, -1 error. */
static int
account_any(struct account_db *db, sqlite3_stmt *st, const char **err_r)
{
	long long n;

	if (account_int(db, st, &n, err_r) == -1)
		return -1;
	return n != 0;
}

static int
account_each(struct account_db *db, sqlite3_stmt *st, account_list_fn fn,
    void *arg, const char **err_r)
{
	const char *a, *b;
	int rc;

	if (st == NULL)
		return account_err(db, err_r);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = (const char *)sqlite3_column_text(st, 0);
		b = sqlite3_column_count(st) > 1 ?
		    (const char *)sqlite3_column_text(st, 1) : NULL;
		if (a != NULL)
			fn(arg, a, b);
	}
	if (rc != SQLITE_DONE)
		account_sqlfail(db, err_r, sqlite3_sql(st));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
account_rollback(struct account_db *db)
{
	char keep[ACCOUNT_ERR_MAX];

	memcpy(keep, db->err, sizeof(keep));
	account_step(db, account_stmt(db, ACCOUNT_ST_ROLLBACK, NULL, 0));
	memcpy(db->err, keep, sizeof(keep));
}

/* --- open, schema ---------------------------------------------------- */

/* Create the file 0600 ourselves: it holds password hashes, and SQLite
 * gives its -wal and -shm files the mode of the database. */
static int
account_precreate(struct account_db *db, const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1 && errno != EEXIST)
		return account_fail(db, NULL, "open(%s): %s", path,
		    strerror(errno));
	if (fd != -1)
		close(fd);
	return 0;
}

static int
account_connect(struct account_db *db, const char *path, bool readonly)
{
	int flags;

	if (!readonly && account_precreate(db, path) == -1)
		return -1;
	flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &db->sq, flags, NULL) != SQLITE_OK)
		return account_fail(db, NULL, "%s: %s", path,
		    db->sq != NULL ? sqlite3_errmsg(db->sq) : "out of memory");
	sqlite3_extended_result_codes(db->sq, 1);
	sqlite3_busy_timeout(db->sq, ACCOUNT_BUSY_MS);
	if (sqlite3_exec(db->sq, "PRAGMA foreign_keys = ON; "
	    "PRAGMA secure_delete = ON", NULL, NULL, NULL) != SQLITE_OK)
		return account_sqlfail(db, NULL, "pragma");
	return 0;
}

/* Run a one-row pragma and copy its first column. */
static int
account_pragma(struct account_db *db, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st;
	const char *v;
	int rc;

	if (sqlite3_prepare_v2(db->sq, sql, -1, &st, NULL) != SQLITE_OK)
		return account_sqlfail(db, NULL, sql);
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	snprintf(out, size, "%s", v != NULL ? v : "");
	if (rc != SQLITE_ROW)
		account_sqlfail(db, NULL, sql);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
account_version(struct account_db *db, int *version_r)
{
	char v[32];

	if (account_pragma(db, "PRAGMA user_version", v, sizeof(v)) == -1)
		return -1;
	*version_r = atoi(v);
	return 0;
}

static int
account_create_schema(struct account_db *db)
{
	int version;

	if (sqlite3_exec(db->sq, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return account_sqlfail(db, NULL, "begin");
	/* another process may have won the race */
	if (account_version(db, &version) == -1)
		goto fail;
	if (version == 0 && sqlite3_exec(db->sq, account_schema_sql, NULL,
	    NULL, NULL) != SQLITE_OK) {
		account_sqlfail(db, NULL, "create schema");
		goto fail;
	}
	if (sqlite3_exec(db->sq, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		account_sqlfail(db, NULL, "commit");
		goto fail;
	}
	return 0;
fail:
	sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
account_schema(struct account_db *db, bool readonly)
{
	char mode[32];
	int version;

	if (!readonly) {
		if (account_pragma(db, "PRAGMA journal_mode = WAL", mode,
		    sizeof(mode)) == -1)
			return -1;
		if (strcmp(mode, "wal") != 0)
			return account_fail(db, NULL,
			    "cannot switch to WAL mode (journal_mode %s)", mode);
	}
	if (account_version(db, &version) == -1)
		return -1;
	if (version > ACCOUNT_SCHEMA_VERSION)
		return account_fail(db, NULL, "schema version %d is newer "
		    "than this facteur knows (%d)", version,
		    ACCOUNT_SCHEMA_VERSION);
	if (version == ACCOUNT_SCHEMA_VERSION)
		return 0;
	if (readonly)
		return account_fail(db, NULL, "database has no schema yet "
		    "(add a domain with 'facteur domain add')");
	return account_create_schema(db);
}

static int
account_prepare(struct account_db *db)
{
	for (int i = 0; i < ACCOUNT_ST_COUNT; i++)
		if (sqlite3_prepare_v3(db->sq, account_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) != SQLITE_OK)
			return account_sqlfail(db, NULL, account_sql[i]);
	return 0;
}

int
account_db_open(const char *path, bool readonly, struct account_db **db_r,
    const char **err_r)
{
	static _Thread_local char open_err[ACCOUNT_ERR_MAX];
	struct account_db *db;

	*db_r = NULL;
	db = xcalloc(1, sizeof(*db));
	if (account_connect(db, path, readonly) == -1 ||
	    account_schema(db, readonly) == -1 ||
	    account_prepare(db) == -1) {
		memcpy(open_err, db->err, sizeof(open_err));
		*err_r = open_err;
		account_db_close(&db);
		return -1;
	}
	*db_r = db;
	return 0;
}

void
account_db_close(struct account_db **dbp)
{
	struct account_db *db = *dbp;

	if (db == NULL)
		return;
	for (int i = 0; i < ACCOUNT_ST_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->sq);
	free(db);
	*dbp = NULL;
}

/* --- domains --------------------------------------------------------- */

static int
account_domain_known(struct account_db *db, const char *domain,
    const char **err_r)
{
	return account_any(db, ACCOUNT_STMT(db, ACCOUNT_ST_DOMAIN_GET, domain),
	    err_r);
}

/* 0 when domain (normalized) is local, else -1 with a message. */
static int
account_domain_need(struct account_db *db, const char *domain,
    const char **err_r)
{
	int r;

	if ((r = account_domain_known(db, domain, err_r)) == -1)
		return -1;
	if (r == 0)
		return account_fail(db, err_r, "no such domain: %s", domain);
	return 0;
}

int
account_domain_add(struct account_db *db, const char *domain,
    const char **err_r)
{
	char d[SMTP_DOMAIN_MAX + 1];
	int rc;

	if (account_domain_norm(db, domain, d, err_r) == -1)
		return -1;
	rc = account_step(db, ACCOUNT_STMT(db, ACCOUNT_ST_DOMAIN_ADD, d));
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return account_fail(db, err_r, "domain exists: %s", d);
	if (rc != SQLITE_DONE)
		return account_err(db, err_r);
	return 0;
}

/* Refuse to delete a domain that still has users or aliases. */
static int
account_domain_empty(struct account_db *db, const char *d, const char **err_r)
{
	long long n;

	if (account_int(db, ACCOUNT_STMT(db, ACCOUNT_ST_DOMAIN_USERS, d), &n,
	    err_r) == -1)
		return -1;
	if (n > 0)
		return account_fail(db, err_r, "domain %s has %lld user%s: "
		    "delete them first", d, n, n == 1 ? "" : "s");
	if (account_int(db, ACCOUNT_STMT(db, ACCOUNT_ST_DOMAIN_ALIASES, d), &n,
	    err_r) == -1)
		return -1;
	if (n > 0)
		return account_fail(db, err_r, "domain %s has %lld alias%s: "
		    "delete them first", d, n, n == 1 ? "" : "es");
	return 0;
}

int
account_domain_del(struct account_db *db, const char *domain,
    const char **err_r)
{
	char d[SMTP_DOMAIN_MAX + 1];
	int rc;

	if (account_domain_norm(db, domain, d, err_r) == -1 ||
	    account_domain_need(db, d, err_r) == -1 ||
	    account_domain_empty(db, d, err_r) == -1)
		return -1;
	rc = account_step(db, ACCOUNT_STMT(db, ACCOUNT_ST_DOMAIN_DEL, d));
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)	/* filled meanwhile */
		return account_fail(db, err_r, "domain %s is in use", d);
	if (rc != SQLITE_DONE)
		return account_err(db, err_r);
	return 0;
}

int
account_domain_exists(struct account_db *db, const char *domain,
    const char **err_r)
{
	char d[SMTP_DOMAIN_MAX + 1];
	const char *ignore;

	if (account_domain_norm(db, domain, d, &ignore) == -1)
		return 0;
	return account_domain_known(db, d, err_r);
}

int
account_domain_list(struct account_db *db, account_list_fn fn, void *arg,
    const char **err_r)
{
	return account_each(db, account_stmt(db, ACCOUNT_ST_DOMAIN_LIST,
	    NULL, 0), fn, arg, err_r);
}

/* --- passwords ------------------------------------------------------- */

static int
account_password_ok(struct account_db *db, const char *password,
    const char **err_r)
{
	if (password == NULL || *password == '\0')
		return account_fail(db, err_r, "empty password");
	if (strnlen(password, ACCOUNT_PASSWORD_MAX + 1) > ACCOUNT_PASSWORD_MAX)
		return account_fail(db, err_r, "password longer than %d bytes",
		    ACCOUNT_PASSWORD_MAX);
	return 0;
}

/* crypt_ra() into a malloc'ed copy; its work area (which held the
 * password) is wiped.  NULL on failure. */
static char *
account_crypt(const char *password, const char *setting)
{
	void *data = NULL;
	int size = 0;
	const char *h;
	char *out = NULL;

	h = crypt_ra(password, setting, &data, &size);
	if (h != NULL && h[0] != '*')
		out = xstrdup(h);
	if (data != NULL) {
		explicit_bzero(data, (size_t)size);
		free(data);
	}
	return out;
}

/* A new yescrypt hash of password (malloc'ed), or NULL. */
static char *
account_hash(struct account_db *db, const char *password, const char **err_r)
{
	char *setting, *hash;

	if ((setting = crypt_gensalt_ra("$y$", 0, NULL, 0)) == NULL) {
		account_fail(db, err_r, "crypt_gensalt: %s", strerror(errno));
		return NULL;
	}
	hash = account_crypt(password, setting);
	free(setting);
	if (hash == NULL)
		account_fail(db, err_r, "yescrypt failed");
	return hash;
}

static bool
account_ct_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	volatile unsigned char diff = 0;

	if (strlen(b) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static void
account_free_hash(char **hashp)
{
	if (*hashp == NULL)
		return;
	explicit_bzero(*hashp, strlen(*hashp));
	free(*hashp);
	*hashp = NULL;
}

/* The RFC 5803 SCRAM-SHA-256 secrets of password (fresh salt,
 * ACCOUNT_SCRAM_ITER iterations) into out.  The password bytes are used
 * as given, without SASLprep (doc/AUTH.md). */
static int
account_scram_make(struct account_db *db, const char *password,
    char out[SASL_SCRAM_STORED_MAX], const char **err_r)
{
	struct sasl_scram_secrets sec;
	int r = 0;

	if (sasl_scram_secrets_make(password, strlen(password),
	    ACCOUNT_SCRAM_ITER, &sec) == -1 ||
	    sasl_scram_secrets_format(&sec, out, SASL_SCRAM_STORED_MAX) == -1)
		r = account_fail(db, err_r, "SCRAM secrets: cannot compute");
	sasl_scram_secrets_wipe(&sec);
	return r;
}

/* --- users ----------------------------------------------------------- */

static int
account_user_known(struct account_db *db, const char *address,
    const char **err_r)
{
	return account_any(db, ACCOUNT_STMT(db, ACCOUNT_ST_USER_GET, address),
	    err_r);
}

static int
account_alias_known(struct account_db *db, const char *alias,
    const char **err_r)
{
	return account_any(db, ACCOUNT_STMT(db, ACCOUNT_ST_ALIAS_COUNT, alias),
	    err_r);
}

int
account_user_exists(struct account_db *db, const char *address,
    const char **err_r)
{
	struct account_addr a;
	const char *ignore;

	if (account_addr_norm(db, address, false, &a, &ignore) == -1)
		return 0;
	return account_user_known(db, a.full, err_r);
}

/* Checks before a user is added, so that errors come before hashing. */
static int
account_user_addable(struct account_db *db, const struct account_addr *a,
    const char **err_r)
{
	int r;

	if (account_domain_need(db, a->domain, err_r) == -1)
		return -1;
	if ((r = account_user_known(db, a->full, err_r)) != 0)
		return r == -1 ? -1 :
		    account_fail(db, err_r, "user exists: %s", a->full);
	if ((r = account_alias_known(db, a->full, err_r)) != 0)
		return r == -1 ? -1 :
		    account_fail(db, err_r, "alias exists: %s", a->full);
	return 0;
}

int
account_user_add(struct account_db *db, const char *address,
    const char *password, const char **err_r)
{
	struct account_addr a;
	char scram[SASL_SCRAM_STORED_MAX];
	char *hash;
	int rc;

	if (account_addr_norm(db, address, false, &a, err_r) == -1 ||
	    account_password_ok(db, password, err_r) == -1 ||
	    account_user_addable(db, &a, err_r) == -1)
		return -1;
	if (account_scram_make(db, password, scram, err_r) == -1)
		return -1;
	if ((hash = account_hash(db, password, err_r)) == NULL) {
		explicit_bzero(scram, sizeof(scram));
		return -1;
	}
	rc = account_step(db, ACCOUNT_STMT(db, ACCOUNT_ST_USER_ADD, a.full,
	    a.local, a.domain, hash, scram));
	account_free_hash(&hash);
	explicit_bzero(scram, sizeof(scram));
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return account_fail(db, err_r, "user exists: %s", a.full);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return account_fail(db, err_r, "no such domain: %s", a.domain);
	if (rc != SQLITE_DONE)
		return account_err(db, err_r);
	return 0;
}

int
account_user_del(struct account_db *db, const char *address,
    const char **err_r)
{
	struct account_addr a;

	if (account_addr_norm(db, address, false, &a, err_r) == -1 ||
	    account_exec(db, ACCOUNT_STMT(db, ACCOUNT_ST_USER_DEL, a.full),
	    err_r) == -1)
		return -1;
	if (sqlite3_changes(db->sq) == 0)
		return account_fail(db, err_r, "no such user: %s", a.full);
	return 0;
}

int
account_user_passwd(struct account_db *db, const char *address,
    const char *password, const char **err_r)
{
	struct account_addr a;
	char scram[SASL_SCRAM_STORED_MAX];
	char *hash;
	int r;

	if (account_addr_norm(db, address, false, &a, err_r) == -1 ||
	    account_password_ok(db, password, err_r) == -1)
		return -1;
	if ((r = account_user_known(db, a.full, err_r)) != 1)
		return r == -1 ? -1 :
		    account_fail(db, err_r, "no such user: %s", a.full);
	if (account_scram_make(db, password, scram, err_r) == -1)
		return -1;
	if ((hash = account_hash(db, password, err_r)) == NULL) {
		explicit_bzero(scram, sizeof(scram));
		return -1;
	}
	r = account_exec(db, ACCOUNT_STMT(db, ACCOUNT_ST_USER_PASSWD, a.full,
	    hash, scram), err_r);
	account_free_hash(&hash);
	explicit_bzero(scram, sizeof(scram));
	if (r == 0 && sqlite3_changes(db->sq) == 0)
		return account_fail(db, err_r, "no such user: %s", a.full);
	return r;
}

int
account_user_list(struct account_db *db, const char *domain,
    account_list_fn fn, void *arg, const char **err_r)
{
	char d[SMTP_DOMAIN_MAX + 1];

	if (domain == NULL)
		return account_each(db, account_stmt(db, ACCOUNT_ST_USER_LIST,
		    NULL, 0), fn, arg, err_r);
	if (account_domain_norm(db, domain, d, err_r) == -1 ||
	    account_domain_need(db, d, err_r) == -1)
		return -1;
	return account_each(db, ACCOUNT_STMT(db, ACCOUNT_ST_USER_LIST_DOMAIN,
	    d), fn, arg, err_r);
}

/* The stored hash of a user (malloc'ed) in *hash_r, NULL when none. */
static int
account_user_hash(struct account_db *db, const char *address, char **hash_r,
    const char **err_r)
{
	sqlite3_stmt *st;
	const char *h;
	int rc;

	*hash_r = NULL;
	if ((st = ACCOUNT_STMT(db, ACCOUNT_ST_USER_HASH, address)) == NULL)
		return account_err(db, err_r);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    (h = (const char *)sqlite3_column_text(st, 0)) != NULL)
		*hash_r = xstrdup(h);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		account_sqlfail(db, err_r, "user hash");
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
account_user_check(struct account_db *db, const char *address,
    const char *password, const char **err_r)
{
	struct account_addr a;
	const char *ignore;
	char *stored = NULL, *computed = NULL;
	int ok = 0;

	if (password == NULL || *password == '\0' ||
	    strnlen(password, ACCOUNT_PASSWORD_MAX + 1) > ACCOUNT_PASSWORD_MAX)
		return 0;
	if (account_addr_norm(db, address, false, &a, &ignore) == 0 &&
	    account_user_hash(db, a.full, &stored, err_r) == -1)
		return -1;
	if (stored == NULL) {
		/* hash anyway: unknown users take as long as known ones */
		stored = crypt_gensalt_ra("$y$", 0, NULL, 0);
		computed = stored != NULL ? account_crypt(password, stored) :
		    NULL;
		free(stored);
		account_free_hash(&computed);
		return 0;
	}
	computed = account_crypt(password, stored);
	if (computed != NULL)
		ok = account_ct_equal(computed, stored);
	account_free_hash(&computed);
	account_free_hash(&stored);
	return ok;
}

int
account_user_scram(struct account_db *db, const char *address,
    struct sasl_scram_secrets *out, const char **err_r)
{
	struct account_addr a;
	sqlite3_stmt *st;
	const char *ignore, *v;
	int rc, r = 0;

	memset(out, 0, sizeof(*out));
	if (account_addr_norm(db, address, false, &a, &ignore) == -1)
		return 0;
	if ((st = ACCOUNT_STMT(db, ACCOUNT_ST_USER_SCRAM, a.full)) == NULL)
		return account_err(db, err_r);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    (v = (const char *)sqlite3_column_text(st, 0)) != NULL) {
		r = 1;
		if (sasl_scram_secrets_parse(v, (size_t)sqlite3_column_bytes(st,
		    0), out) == -1)
			r = account_fail(db, err_r, "bad SCRAM secrets "
			    "stored for %s", a.full);
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = account_sqlfail(db, err_r, "user scram");
	sqlite3_reset(st);
	return r;
}

/* --- aliases --------------------------------------------------------- */

/* Checks the alias side of alias_add: local domain, no user shadowed,
 * room for n more targets. */
static int
account_alias_addable(struct account_db *db, const struct account_addr *al,
    size_t n, const char **err_r)
{
	long long have;
	int r;

	if (account_domain_need(db, al->domain, err_r) == -1)
		return -1;
	if ((r = account_user_known(db, al->full, err_r)) != 0)
		return r == -1 ? -1 : account_fail(db, err_r,
		    "user exists: %s (an alias cannot hide a user)", al->full);
	if (account_int(db, ACCOUNT_STMT(db, ACCOUNT_ST_ALIAS_COUNT, al->full),
	    &have, err_r) == -1)
		return -1;
	if ((size_t)have + n > ACCOUNT_TARGETS_MAX)
		return account_fail(db, err_r, "too many targets for %s "
		    "(at most %d)", al->full, ACCOUNT_TARGETS_MAX);
	return 0;
}

static int
account_alias_insert(struct account_db *db, const struct account_addr *al,
    const struct account_addr *t, size_t n, const char **err_r)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		rc = account_step(db, ACCOUNT_STMT(db, ACCOUNT_ST_ALIAS_ADD,
		    al->full, al->domain, t[i].full));
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return account_fail(db, err_r, "alias exists: %s -> %s",
			    al->full, t[i].full);
		if (rc != SQLITE_DONE)
			return account_err(db, err_r);
	}
	return 0;
}

int
account_alias_addv(struct account_db *db, const char *alias,
    const char *const *targets, size_t ntargets, const char **err_r)
{
	struct account_addr al, *t = NULL;
	int r = -1;

	if (account_addr_norm(db, alias, true, &al, err_r) == -1)
		return -1;
	if (ntargets == 0)
		return account_fail(db, err_r, "no target for %s", al.full);
	if (account_alias_addable(db, &al, ntargets, err_r) == -1)
		return -1;
	t = xcalloc(ntargets, sizeof(*t));
	for (size_t i = 0; i < ntargets; i++) {
		if (account_addr_norm(db, targets[i], false, &t[i],
		    err_r) == -1)
			goto fail;
		if (strcmp(t[i].full, al.full) == 0) {
			account_fail(db, err_r, "alias points to itself: %s",
			    al.full);
			goto fail;
		}
	}
	if (account_exec(db, account_stmt(db, ACCOUNT_ST_BEGIN, NULL, 0),
	    err_r) == -1)
		goto fail;
	if (account_alias_insert(db, &al, t, ntargets, err_r) == -1 ||
	    account_exec(db, account_stmt(db, ACCOUNT_ST_COMMIT, NULL, 0),
	    err_r) == -1) {
		account_rollback(db);
		goto fail;
	}
	r = 0;
fail:
	free(t);
	return r;
}

int
account_alias_add(struct account_db *db, const char *alias,
    const char *target, const char **err_r)
{
	return account_alias_addv(db, alias, &target, 1, err_r);
}

int
account_alias_del(struct account_db *db, const char *alias,
    const char *target, const char **err_r)
{
	struct account_addr al, t;
	sqlite3_stmt *st;

	if (account_addr_norm(db, alias, true, &al, err_r) == -1)
		return -1;
	if (target != NULL) {
		if (account_addr_norm(db, target, false, &t, err_r) == -1)
			return -1;
		st = ACCOUNT_STMT(db, ACCOUNT_ST_ALIAS_DEL, al.full, t.full);
	} else
		st = ACCOUNT_STMT(db, ACCOUNT_ST_ALIAS_DEL_ALL, al.full);
	if (account_exec(db, st, err_r) == -1)
		return -1;
	if (sqlite3_changes(db->sq) > 0)
		return 0;
	if (target != NULL)
		return account_fail(db, err_r, "no such alias: %s -> %s",
		    al.full, t.full);
	return account_fail(db, err_r, "no such alias: %s", al.full);
}

int
account_alias_list(struct account_db *db, account_list_fn fn, void *arg,
    const char **err_r)
{
	return account_each(db, account_stmt(db, ACCOUNT_ST_ALIAS_LIST,
	    NULL, 0), fn, arg, err_r);
}

/* --- resolution ------------------------------------------------------ */

enum account_pm_state {
	ACCOUNT_PM_UNUSED,
	ACCOUNT_PM_EXPANDING,	/* resolving the configured address itself */
	ACCOUNT_PM_DONE,
};

struct account_resolver {
	struct account_db	*db;
	const char		*postmaster;
	struct account_targets	*out;
	char			**seen;		/* alias keys expanded */
	size_t			 nseen;
	enum account_pm_state	 pm;
	const char		**err_r;
};

/* The targets of an alias, copied (they are resolved recursively, and
 * the statement cannot stay open across that).  *n_r = 0: no alias. */
static int
account_alias_targets(struct account_resolver *r, const char *key,
    char ***targets_r, size_t *n_r)
{
	struct account_db *db = r->db;
	sqlite3_stmt *st;
	const char *t;
	int rc;

	*targets_r = NULL;
	*n_r = 0;
	if ((st = ACCOUNT_STMT(db, ACCOUNT_ST_ALIAS_TARGETS, key)) == NULL)
		return account_err(db, r->err_r);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    *n_r < ACCOUNT_TARGETS_MAX) {
		if ((t = (const char *)sqlite3_column_text(st, 0)) == NULL)
			continue;
		*targets_r = xrealloc(*targets_r, (*n_r + 1) * sizeof(char *));
		(*targets_r)[(*n_r)++] = xstrdup(t);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		account_sqlfail(db, r->err_r, "alias targets");
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static void
account_free_list(char ***listp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((*listp)[i]);
	free(*listp);
	*listp = NULL;
}

/* Add to local[] or remote[] unless already there. */
static int
account_collect(struct account_resolver *r, const char *addr, bool local)
{
	char (*list)[ACCOUNT_ADDR_MAX + 1];
	size_t *n;

	list = local ? r->out->local : r->out->remote;
	n = local ? &r->out->nlocal : &r->out->nremote;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i], addr) == 0)
			return 0;
	if (*n == ACCOUNT_TARGETS_MAX)
		return account_fail(r->db, r->err_r, "more than %d targets",
		    ACCOUNT_TARGETS_MAX);
	snprintf(list[(*n)++], ACCOUNT_ADDR_MAX + 1, "%s", addr);
	return 0;
}

/* Remember an alias key: false when it was expanded before (a loop or
 * a duplicate path). */
static int
account_seen(struct account_resolver *r, const char *key, bool *first_r)
{
	for (size_t i = 0; i < r->nseen; i++) {
		if (strcmp(r->seen[i], key) == 0) {
			*first_r = false;
			return 0;
		}
	}
	if (r->nseen == ACCOUNT_SEEN_MAX)
		return account_fail(r->db, r->err_r,
		    "alias expansion too large");
	r->seen = xrealloc(r->seen, (r->nseen + 1) * sizeof(char *));
	r->seen[r->nseen++] = xstrdup(key);
	*first_r = true;
	return 0;
}

static int	account_resolve_addr(struct account_resolver *, const char *,
		    int);

/* Step 4 or 6: 1 alias found (and expanded), 0 none, -1 error. */
static int
account_resolve_alias(struct account_resolver *r, const char *key, int depth)
{
	char **targets;
	size_t n;
	bool first;
	int rc = 1;

	if (account_alias_targets(r, key, &targets, &n) == -1)
		return -1;
	if (n == 0)
		return 0;
	if (account_seen(r, key, &first) == -1)
		rc = -1;
	else if (first && depth >= ACCOUNT_ALIAS_DEPTH)
		rc = account_fail(r->db, r->err_r, "aliases nested deeper "
		    "than %d at %s", ACCOUNT_ALIAS_DEPTH, key);
	for (size_t i = 0; first && rc == 1 && i < n; i++)
		if (account_resolve_addr(r, targets[i], depth + 1) == -1)
			rc = -1;
	account_free_list(&targets, n);
	return rc;
}

/* Steps 3-4 for one exact address. */
static int
account_resolve_exact(struct account_resolver *r, const char *addr,
    int depth)
{
	int k;

	if ((k = account_user_known(r->db, addr, r->err_r)) == -1)
		return -1;
	if (k == 1)
		return account_collect(r, addr, true) == -1 ? -1 : 1;
	return account_resolve_alias(r, addr, depth);
}

/* Rule 1 for postmaster@<local>: 1 handled, 0 fall through, -1 error. */
static int
account_resolve_pm(struct account_resolver *r, int depth)
{
	struct account_addr pm;
	int k;

	if (r->postmaster == NULL || r->pm == ACCOUNT_PM_EXPANDING)
		return 0;
	if (r->pm == ACCOUNT_PM_DONE)
		return 1;
	if (account_addr_parse(r->postmaster, false, &pm) != NULL)
		return 0;
	r->pm = ACCOUNT_PM_EXPANDING;
	k = account_resolve_addr(r, pm.full, depth + 1);
	r->pm = ACCOUNT_PM_DONE;
	return k;
}

/* "local+tag@domain" as "local@domain"; 0 when there is no tag. */
static int
account_resolve_plus(struct account_resolver *r, const struct account_addr *a,
    int depth)
{
	char base[ACCOUNT_ADDR_MAX + 1];
	const char *plus;
	int n;

	if ((plus = strchr(a->local, '+')) == NULL || plus == a->local)
		return 0;
	n = snprintf(base, sizeof(base), "%.*s@%s", (int)(plus - a->local),
	    a->local, a->domain);
	if (n < 0 || (size_t)n >= sizeof(base) ||
	    account_local_check(base, (size_t)(plus - a->local)) != NULL)
		return 0;
	return account_resolve_exact(r, base, depth);
}

/* Resolve one address (steps 1, 3-6; remote when not local).
 * 1 something matched, 0 nobody, -1 error. */
static int
account_resolve_addr(struct account_resolver *r, const char *addr, int depth)
{
	struct account_addr a;
	char key[ACCOUNT_ADDR_MAX + 1];
	int k;

	if (account_addr_parse(addr, false, &a) != NULL)
		return 0;
	if ((k = account_domain_known(r->db, a.domain, r->err_r)) != 1)
		return k == -1 ? -1 :
		    account_collect(r, a.full, false) == -1 ? -1 : 1;
	if ((k = account_resolve_exact(r, a.full, depth)) != 0)
		return k;
	if (strcmp(a.local, "postmaster") == 0 &&
	    (k = account_resolve_pm(r, depth)) != 0)
		return k;
	if ((k = account_resolve_plus(r, &a, depth)) != 0)
		return k;
	snprintf(key, sizeof(key), "@%s", a.domain);
	return account_resolve_alias(r, key, depth);
}

/* The top level: bare "postmaster", and a non-local domain is an
 * answer rather than a remote target. */
static enum account_resolve_res
account_resolve_top(struct account_resolver *r, const char *address)
{
	char lower[ACCOUNT_ADDR_MAX + 1];
	const char *at;
	size_t n;
	int k;

	if ((n = strnlen(address, ACCOUNT_ADDR_MAX + 1)) > ACCOUNT_ADDR_MAX)
		return ACCOUNT_NOT_LOCAL;
	account_lower(lower, address, n);
	if (strcmp(lower, "postmaster") == 0)
		k = account_resolve_pm(r, 0);
	else if ((at = strrchr(lower, '@')) == NULL)
		return ACCOUNT_NO_USER;
	else if ((k = account_domain_exists(r->db, at + 1, r->err_r)) != 1)
		return k == -1 ? ACCOUNT_ERROR : ACCOUNT_NOT_LOCAL;
	else
		k = account_resolve_addr(r, lower, 0);
	if (k == -1)
		return ACCOUNT_ERROR;
	return r->out->nlocal + r->out->nremote > 0 ? ACCOUNT_FOUND :
	    ACCOUNT_NO_USER;
}

enum account_resolve_res
account_resolve(struct account_db *db, const char *address,
    const char *postmaster, struct account_targets *out, const char **err_r)
{
	struct account_resolver r = {
		.db = db, .postmaster = postmaster, .out = out,
		.pm = ACCOUNT_PM_UNUSED, .err_r = err_r,
	};
	enum account_resolve_res res;

	out->nlocal = out->nremote = 0;
	*err_r = NULL;
	res = account_resolve_top(&r, address);
	account_free_list(&r.seen, r.nseen);
	if (res == ACCOUNT_ERROR && *err_r == NULL)
		*err_r = db->err;
	if (res == ACCOUNT_ERROR)
		out->nlocal = out->nremote = 0;
	return res;
}

/* --- maildir path ---------------------------------------------------- */

int
account_maildir_path(const char *data_dir, const char *user, char *path_r,
    size_t size)
{
	struct account_addr a;
	int n;

	if (data_dir == NULL || *data_dir == '\0' || user == NULL ||
	    account_addr_parse(user, false, &a) != NULL)
		return -1;
	/* the syntax above already excludes '/', leading '.', controls */
	if (strchr(a.local, '/') != NULL || strchr(a.domain, '/') != NULL ||
	    a.local[0] == '.' || a.domain[0] == '.')
		return -1;
	n = snprintf(path_r, size, "%s/mail/%s/%s", data_dir, a.domain,
	    a.local);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}
