/* account_test.c: src/auth/account.c on a temporary database. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "auth/account.h"

#define PM	"admin@example.test"

static char	test_dir[PATH_MAX];
static char	test_path[PATH_MAX];
static int	test_seq;

/* --- fixture --------------------------------------------------------- */

static int
test_mkdirs(const char *dir)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -1;
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) == -1 && errno != EEXIST ? -1 : 0;
}

static int
group_setup(void **state)
{
	const char *base = getenv("FACTEUR_TEST_TMP");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (test_mkdirs(base) == -1)
		return -1;
	snprintf(test_dir, sizeof(test_dir), "%s/account_test.XXXXXX", base);
	return mkdtemp(test_dir) == NULL ? -1 : 0;
}

static int
test_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
group_teardown(void **state)
{
	return nftw(test_dir, test_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh database with domains example.test and other.test. */
static int
setup(void **state)
{
	struct account_db *db;
	const char *err;
	int n;


	n = snprintf(test_path, sizeof(test_path), "%s/accounts-%d.db",
	    test_dir, ++test_seq);
	if (n < 0 || (size_t)n >= sizeof(test_path))
		return -1;
	if (account_db_open(test_path, false, &db, &err) == -1) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	if (account_domain_add(db, "example.test", &err) == -1 ||
	    account_domain_add(db, "other.test", &err) == -1) {
		account_db_close(&db);
		return -1;
	}
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	struct account_db *db = *state;

	account_db_close(&db);
	assert_null(db);
	return 0;
}

/* --- helpers --------------------------------------------------------- */

struct listing {
	char	text[4096];
};

/* Lines "a" or "a b" joined by '\n'. */
static void
list_cb(void *arg, const char *a, const char *b)
{
	struct listing *l = arg;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof(l->text) - n, "%s%s%s%s",
	    n > 0 ? "\n" : "", a, b != NULL ? " " : "", b != NULL ? b : "");
}

static const char *
domains(struct account_db *db)
{
	static struct listing l;
	const char *err;

	l.text[0] = '\0';
	assert_int_equal(account_domain_list(db, list_cb, &l, &err), 0);
	return l.text;
}

static const char *
users(struct account_db *db, const char *domain)
{
	static struct listing l;
	const char *err;

	l.text[0] = '\0';
	assert_int_equal(account_user_list(db, domain, list_cb, &l, &err), 0);
	return l.text;
}

static const char *
aliases(struct account_db *db)
{
	static struct listing l;
	const char *err;

	l.text[0] = '\0';
	assert_int_equal(account_alias_list(db, list_cb, &l, &err), 0);
	return l.text;
}

static void
user(struct account_db *db, const char *address)
{
	const char *err = NULL;

	if (account_user_add(db, address, "pw", &err) != 0)
		fail_msg("user_add %s: %s", address, err);
}

static void
alias(struct account_db *db, const char *a, const char *t)
{
	const char *err = NULL;

	if (account_alias_add(db, a, t, &err) != 0)
		fail_msg("alias_add %s %s: %s", a, t, err);
}

/* Expect failure with an error containing want. */
#define FAILS(call, want) do {						\
	const char *err_ = NULL;					\
	assert_int_equal((call), -1);					\
	assert_non_null(err_);						\
	if (strstr(err_, (want)) == NULL)				\
		fail_msg("error <%s> lacks <%s>", err_, (want));	\
} while (0)
#define err_r	(&err_)

static struct account_targets	targets;

static enum account_resolve_res
resolve(struct account_db *db, const char *address, const char *pm)
{
	const char *err = NULL;
	enum account_resolve_res r;

	r = account_resolve(db, address, pm, &targets, &err);
	if (r == ACCOUNT_ERROR)
		assert_non_null(err);
	return r;
}

/* The targets as "l:a,l:b,r:c" in the order found. */
static const char *
found(void)
{
	static char s[8192];
	size_t n = 0;

	s[0] = '\0';
	for (size_t i = 0; i < targets.nlocal; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%sl:%s",
		    n > 0 ? "," : "", targets.local[i]);
	for (size_t i = 0; i < targets.nremote; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%sr:%s",
		    n > 0 ? "," : "", targets.remote[i]);
	return s;
}

static void
resolves(struct account_db *db, const char *address, const char *pm,
    const char *want)
{
	enum account_resolve_res r = resolve(db, address, pm);

	if (r != ACCOUNT_FOUND)
		fail_msg("%s: result %d, want FOUND %s", address, r, want);
	if (strcmp(found(), want) != 0)
		fail_msg("%s: got <%s> want <%s>", address, found(), want);
}

/* --- domains --------------------------------------------------------- */

static void
test_domain_add_del_list(void **state)
{
	struct account_db *db = *state;
	const char *err;

	assert_string_equal(domains(db), "example.test\nother.test");
	assert_int_equal(account_domain_add(db, "B.Example.TEST", &err), 0);
	assert_string_equal(domains(db),
	    "b.example.test\nexample.test\nother.test");
	FAILS(account_domain_add(db, "EXAMPLE.test", err_r), "domain exists");
	assert_int_equal(account_domain_exists(db, "Example.Test", &err), 1);
	assert_int_equal(account_domain_exists(db, "nope.test", &err), 0);
	assert_int_equal(account_domain_exists(db, "bad domain", &err), 0);
	assert_int_equal(account_domain_del(db, "b.EXAMPLE.test", &err), 0);
	FAILS(account_domain_del(db, "b.example.test", err_r),
	    "no such domain");
	assert_string_equal(domains(db), "example.test\nother.test");
}

static void
test_domain_bad(void **state)
{
	static const char *const bad[] = {
		"", ".", "a..test", ".a.test", "a.test.", "-a.test",
		"a-.test", "a b.test", "a/b.test", "a_b.test", "a@b.test",
		"a\x01.test", "caf\xc3\xa9.test", "a.test\n", "[192.0.2.1]",
		"..", "a\\b.test",
		/* a 64-byte label */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		".test",
	};
	struct account_db *db = *state;
	char name[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS(account_domain_add(db, bad[i], err_r), "invalid domain");
	/* 63-byte labels are fine; 255 bytes in all is the most */
	memset(name, 'a', 63);
	strcpy(name + 63, ".test");
	FAILS(account_domain_add(db, NULL, err_r), "invalid domain");
	{
		const char *err;

		assert_int_equal(account_domain_add(db, name, &err), 0);
	}
	for (size_t i = 0; i < 255; i++)
		name[i] = i % 2 == 0 ? 'a' : '.';
	name[255] = '\0';		/* "a.a.a...a": 255 bytes */
	{
		const char *err;

		assert_int_equal(account_domain_add(db, name, &err), 0);
	}
	name[255] = 'a';
	name[256] = '\0';		/* "a.a...a.aa": 256 bytes */
	FAILS(account_domain_add(db, name, err_r), "longer than 255");
}

static void
test_domain_del_in_use(void **state)
{
	struct account_db *db = *state;
	const char *err;

	user(db, "alice@example.test");
	alias(db, "info@other.test", "alice@example.test");
	FAILS(account_domain_del(db, "example.test", err_r), "1 user");
	FAILS(account_domain_del(db, "other.test", err_r), "1 alias");
	assert_int_equal(account_user_del(db, "alice@example.test", &err), 0);
	assert_int_equal(account_domain_del(db, "example.test", &err), 0);
	assert_int_equal(account_alias_del(db, "info@other.test", NULL, &err),
	    0);
	assert_int_equal(account_domain_del(db, "other.test", &err), 0);
	assert_string_equal(domains(db), "");
}

/* --- users ----------------------------------------------------------- */

static void
test_user_add_del_list(void **state)
{
	struct account_db *db = *state;
	const char *err;

	user(db, "bob@example.test");
	user(db, "Alice@Example.TEST");
	user(db, "carol@other.test");
	assert_string_equal(users(db, NULL),
	    "alice@example.test\nbob@example.test\ncarol@other.test");
	assert_string_equal(users(db, "EXAMPLE.test"),
	    "alice@example.test\nbob@example.test");
	FAILS(account_user_list(db, "nope.test", list_cb, NULL, err_r),
	    "no such domain");
	FAILS(account_user_add(db, "ALICE@example.test", "x", err_r),
	    "user exists: alice@example.test");
	FAILS(account_user_add(db, "dave@nope.test", "x", err_r),
	    "no such domain: nope.test");
	FAILS(account_user_add(db, "dave@example.test", "", err_r),
	    "empty password");
	FAILS(account_user_add(db, "dave@example.test", NULL, err_r),
	    "empty password");
	assert_int_equal(account_user_exists(db, "aLiCe@example.test", &err),
	    1);
	assert_int_equal(account_user_exists(db, "dave@example.test", &err),
	    0);
	assert_int_equal(account_user_del(db, "ALICE@example.TEST", &err), 0);
	FAILS(account_user_del(db, "alice@example.test", err_r),
	    "no such user");
	assert_string_equal(users(db, NULL),
	    "bob@example.test\ncarol@other.test");
}

static void
test_user_password_long(void **state)
{
	struct account_db *db = *state;
	char pw[ACCOUNT_PASSWORD_MAX + 2];

	memset(pw, 'x', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	FAILS(account_user_add(db, "dave@example.test", pw, err_r),
	    "password longer");
	assert_int_equal(account_user_check(db, "dave@example.test", pw,
	    &(const char *){ NULL }), 0);
}

static void
test_user_bad_addresses(void **state)
{
	static const char *const bad[] = {
		"", "alice", "@example.test", "alice@", "alice@@example.test",
		".alice@example.test", "alice.@example.test",
		"al..ice@example.test", "a/b@example.test", "../x@example.test",
		"a b@example.test", "a\tb@example.test", "a\x7f@example.test",
		"a\r\n@example.test", "\"a\"@example.test", "a@b@example.test",
		"a(b)@example.test", "a,b@example.test", "a:b@example.test",
		"a;b@example.test", "a<b@example.test", "a[b]@example.test",
		"a\\b@example.test", "j\xc3\xb6rg@example.test",
		"alice@example.test.", "alice@.example.test",
		"alice@exa mple.test", "alice@example/test",
		/* 65-byte local part */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"@example.test",
	};
	struct account_db *db = *state;
	const char *err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FAILS(account_user_add(db, bad[i], "pw", err_r),
		    "invalid address");
		if (bad[i][0] != '@')	/* "@domain" is a catch-all */
			FAILS(account_alias_add(db, bad[i], "x@example.test",
			    err_r), "invalid address");
		FAILS(account_alias_add(db, "x@example.test", bad[i], err_r),
		    "invalid address");
	}
	FAILS(account_user_add(db, NULL, "pw", err_r), "invalid address");
	/* control bytes never reach the message */
	assert_int_equal(account_user_add(db, "a\x1b[2J@example.test", "pw",
	    &err), -1);
	assert_non_null(strstr(err, "invalid address"));
	assert_null(strchr(err, '\x1b'));
	/* the edges that are fine */
	user(db, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@example.test");
	user(db, "o'brien.x+y=z!#$%&*^_`{|}~-@example.test");
	user(db, "x@example.test");
	assert_string_equal(users(db, "example.test"),
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@example.test\no'brien.x+y=z!#$%&*^_`{|}~-@example.test\n"
	    "x@example.test");
}

static void
test_user_normalize(void **state)
{
	char out[ACCOUNT_ADDR_MAX + 1];
	const char *err;

	assert_int_equal(account_address_normalize("Bob.Smith@Example.TEST",
	    out, &err), 0);
	assert_string_equal(out, "bob.smith@example.test");
	assert_int_equal(account_address_normalize("bob", out, &err), -1);
	assert_non_null(err);
	assert_int_equal(account_address_normalize("@example.test", out,
	    &err), -1);
}

static void
test_user_password(void **state)
{
	struct account_db *db = *state;
	const char *err = NULL;
	sqlite3 *sq;
	sqlite3_stmt *st;
	char *hash;

	assert_int_equal(account_user_add(db, "alice@example.test",
	    "correct horse", &err), 0);
	assert_int_equal(account_user_check(db, "alice@example.test",
	    "correct horse", &err), 1);
	assert_int_equal(account_user_check(db, "ALICE@Example.test",
	    "correct horse", &err), 1);
	assert_int_equal(account_user_check(db, "alice@example.test",
	    "correct horsE", &err), 0);
	assert_int_equal(account_user_check(db, "alice@example.test",
	    "correct hors", &err), 0);
	assert_int_equal(account_user_check(db, "alice@example.test", "",
	    &err), 0);
	assert_int_equal(account_user_check(db, "nobody@example.test",
	    "correct horse", &err), 0);
	assert_int_equal(account_user_check(db, "not an address",
	    "correct horse", &err), 0);

	/* stored as yescrypt, never in clear */
	assert_int_equal(sqlite3_open_v2(test_path, &sq, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(sq, "SELECT hash, scram FROM users",
	    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	hash = strdup((const char *)sqlite3_column_text(st, 0));
	assert_int_equal(sqlite3_column_type(st, 1), SQLITE_TEXT);
	sqlite3_finalize(st);
	sqlite3_close(sq);
	assert_memory_equal(hash, "$y$", 3);
	assert_null(strstr(hash, "correct"));

	FAILS(account_user_passwd(db, "bob@example.test", "x", err_r),
	    "no such user");
	FAILS(account_user_passwd(db, "alice@example.test", "", err_r),
	    "empty password");
	assert_int_equal(account_user_passwd(db, "Alice@example.test",
	    "battery staple", &err), 0);
	assert_int_equal(account_user_check(db, "alice@example.test",
	    "correct horse", &err), 0);
	assert_int_equal(account_user_check(db, "alice@example.test",
	    "battery staple", &err), 1);
	free(hash);
}

static void
test_db_reopen_readonly(void **state)
{
	struct account_db *db = *state, *ro;
	const char *err;
	struct stat st;

	user(db, "alice@example.test");
	assert_int_equal(stat(test_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(account_db_open(test_path, true, &ro, &err), 0);
	assert_int_equal(account_user_exists(ro, "alice@example.test", &err),
	    1);
	FAILS(account_domain_add(ro, "new.test", err_r), "database");
	account_db_close(&ro);
	assert_null(ro);
	account_db_close(&ro);		/* NULL is fine */

	assert_int_equal(account_db_open("/nonexistent/dir/a.db", false, &ro,
	    &err), -1);
	assert_null(ro);
	assert_non_null(strstr(err, "/nonexistent/dir/a.db"));
}

/* --- aliases --------------------------------------------------------- */

static void
test_alias_add_del_list(void **state)
{
	struct account_db *db = *state;
	const char *err;
	const char *const many[] = { "b@x.test", "a@x.test", "c@example.test" };
	const char *const dup[] = { "d@x.test", "a@x.test" };

	user(db, "alice@example.test");
	alias(db, "Info@Example.test", "Alice@Example.test");
	alias(db, "info@example.test", "bob@remote.test");
	alias(db, "@other.test", "alice@example.test");
	assert_int_equal(account_alias_addv(db, "list@example.test", many, 3,
	    &err), 0);
	assert_string_equal(aliases(db),
	    "info@example.test alice@example.test\n"
	    "info@example.test bob@remote.test\n"
	    "list@example.test a@x.test\n"
	    "list@example.test b@x.test\n"
	    "list@example.test c@example.test\n"
	    "@other.test alice@example.test");
	FAILS(account_alias_add(db, "info@example.test", "ALICE@example.test",
	    err_r), "alias exists");
	/* all or nothing */
	FAILS(account_alias_addv(db, "list@example.test", dup, 2, err_r),
	    "alias exists: list@example.test -> a@x.test");
	FAILS(account_alias_del(db, "list@example.test", "d@x.test", err_r),
	    "no such alias");
	FAILS(account_alias_addv(db, "list@example.test", dup, 0, err_r),
	    "no target");
	FAILS(account_alias_add(db, "x@nope.test", "alice@example.test",
	    err_r), "no such domain");
	FAILS(account_alias_add(db, "alice@example.test", "bob@remote.test",
	    err_r), "user exists");
	FAILS(account_user_add(db, "info@example.test", "pw", err_r),
	    "alias exists");
	FAILS(account_alias_add(db, "self@example.test", "SELF@example.test",
	    err_r), "itself");
	FAILS(account_alias_add(db, "x@example.test", "@other.test", err_r),
	    "invalid address");

	assert_int_equal(account_alias_del(db, "info@example.test",
	    "BOB@remote.test", &err), 0);
	FAILS(account_alias_del(db, "info@example.test", "bob@remote.test",
	    err_r), "no such alias: info@example.test -> bob@remote.test");
	assert_int_equal(account_alias_del(db, "list@example.test", NULL,
	    &err), 0);
	FAILS(account_alias_del(db, "list@example.test", NULL, err_r),
	    "no such alias: list@example.test");
	assert_int_equal(account_alias_del(db, "@OTHER.test", NULL, &err), 0);
	assert_string_equal(aliases(db), "info@example.test alice@example.test");
}

static void
test_alias_too_many(void **state)
{
	struct account_db *db = *state;
	const char *t[ACCOUNT_TARGETS_MAX + 1];
	char buf[ACCOUNT_TARGETS_MAX + 1][32];
	const char *err;

	for (size_t i = 0; i <= ACCOUNT_TARGETS_MAX; i++) {
		snprintf(buf[i], sizeof(buf[i]), "t%zu@remote.test", i);
		t[i] = buf[i];
	}
	FAILS(account_alias_addv(db, "big@example.test", t,
	    ACCOUNT_TARGETS_MAX + 1, err_r), "too many targets");
	assert_int_equal(account_alias_addv(db, "big@example.test", t,
	    ACCOUNT_TARGETS_MAX, &err), 0);
	FAILS(account_alias_add(db, "big@example.test", "one@more.test",
	    err_r), "too many targets");
	resolve(db, "big@example.test", PM);
	assert_int_equal(targets.nremote, ACCOUNT_TARGETS_MAX);
}

/* --- resolution ------------------------------------------------------ */

static void
test_resolve_basic(void **state)
{
	struct account_db *db = *state;

	user(db, "alice@example.test");
	resolves(db, "alice@example.test", PM, "l:alice@example.test");
	resolves(db, "ALICE@Example.Test", PM, "l:alice@example.test");
	assert_int_equal(resolve(db, "bob@example.test", PM),
	    ACCOUNT_NO_USER);
	assert_int_equal(targets.nlocal + targets.nremote, 0);
	assert_int_equal(resolve(db, "alice@remote.test", PM),
	    ACCOUNT_NOT_LOCAL);
	assert_int_equal(resolve(db, "alice@EXAMPLE.test.evil", PM),
	    ACCOUNT_NOT_LOCAL);
	assert_int_equal(resolve(db, "alice", PM), ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "", PM), ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "\"a b\"@example.test", PM),
	    ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "\"a b\"@remote.test", PM),
	    ACCOUNT_NOT_LOCAL);
}

static void
test_resolve_postmaster(void **state)
{
	struct account_db *db = *state;
	const char *err;

	user(db, "admin@example.test");
	resolves(db, "postmaster", PM, "l:admin@example.test");
	resolves(db, "PostMaster", PM, "l:admin@example.test");
	resolves(db, "postmaster@example.test", PM, "l:admin@example.test");
	resolves(db, "Postmaster@OTHER.test", PM, "l:admin@example.test");
	assert_int_equal(resolve(db, "postmaster@remote.test", PM),
	    ACCOUNT_NOT_LOCAL);
	/* the configured address is itself resolved */
	alias(db, "pm@example.test", "admin@example.test");
	alias(db, "pm@example.test", "ops@remote.test");
	resolves(db, "postmaster", "PM@example.test",
	    "l:admin@example.test,r:ops@remote.test");
	resolves(db, "postmaster", "boss@remote.test", "r:boss@remote.test");
	/* an exact user or alias wins */
	alias(db, "postmaster@other.test", "pm@example.test");
	resolves(db, "postmaster@other.test", "boss@remote.test",
	    "l:admin@example.test,r:ops@remote.test");
	user(db, "postmaster@example.test");
	resolves(db, "postmaster@example.test", PM,
	    "l:postmaster@example.test");
	/* bare "postmaster" always goes to the configured address */
	resolves(db, "postmaster", PM, "l:admin@example.test");
	/* no configured address */
	assert_int_equal(resolve(db, "postmaster", NULL), ACCOUNT_NO_USER);
	resolves(db, "postmaster@example.test", NULL,
	    "l:postmaster@example.test");
	assert_int_equal(account_user_del(db, "postmaster@example.test",
	    &err), 0);
	assert_int_equal(resolve(db, "postmaster@example.test", NULL),
	    ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "postmaster", "not an address"),
	    ACCOUNT_NO_USER);
}

static void
test_resolve_postmaster_self(void **state)
{
	struct account_db *db = *state;

	/* configured as postmaster@<local> with nobody there: no loop */
	assert_int_equal(resolve(db, "postmaster", "postmaster@example.test"),
	    ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "postmaster@example.test",
	    "postmaster@example.test"), ACCOUNT_NO_USER);
	/* ...but the catch-all of its domain still applies */
	user(db, "alice@example.test");
	alias(db, "@example.test", "alice@example.test");
	resolves(db, "postmaster", "postmaster@example.test",
	    "l:alice@example.test");
	/* postmaster reached twice through aliases: expanded once */
	alias(db, "abuse@other.test", "postmaster@other.test");
	alias(db, "abuse@other.test", "postmaster@example.test");
	resolves(db, "abuse@other.test", "ops@remote.test",
	    "r:ops@remote.test");
}

static void
test_resolve_plus(void **state)
{
	struct account_db *db = *state;

	user(db, "alice@example.test");
	user(db, "bob+exact@example.test");
	alias(db, "team@example.test", "alice@example.test");
	resolves(db, "alice+news@example.test", PM, "l:alice@example.test");
	resolves(db, "Alice+News+More@example.test", PM,
	    "l:alice@example.test");
	resolves(db, "team+x@example.test", PM, "l:alice@example.test");
	resolves(db, "bob+exact@example.test", PM,
	    "l:bob+exact@example.test");
	assert_int_equal(resolve(db, "bob+other@example.test", PM),
	    ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "+tag@example.test", PM),
	    ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "carol+tag@example.test", PM),
	    ACCOUNT_NO_USER);
	assert_int_equal(resolve(db, "alice+@example.test", PM),
	    ACCOUNT_FOUND);
}

static void
test_resolve_catchall(void **state)
{
	struct account_db *db = *state;

	user(db, "alice@example.test");
	user(db, "bob@example.test");
	alias(db, "sales@example.test", "bob@example.test");
	alias(db, "@example.test", "alice@example.test");
	resolves(db, "anything@example.test", PM, "l:alice@example.test");
	resolves(db, "x+y@example.test", PM, "l:alice@example.test");
	resolves(db, "bob@example.test", PM, "l:bob@example.test");
	resolves(db, "sales@example.test", PM, "l:bob@example.test");
	assert_int_equal(resolve(db, "anything@other.test", PM),
	    ACCOUNT_NO_USER);
	/* a catch-all pointing into its own domain at nobody: no loop */
	alias(db, "@other.test", "ghost@other.test");
	assert_int_equal(resolve(db, "x@other.test", PM), ACCOUNT_NO_USER);
	/* a catch-all forwarding elsewhere */
	alias(db, "@other.test", "Ops@Remote.test");
	resolves(db, "x@other.test", PM, "r:ops@remote.test");
}

static void
test_resolve_chains(void **state)
{
	struct account_db *db = *state;

	user(db, "alice@example.test");
	user(db, "bob@other.test");
	alias(db, "a@example.test", "b@example.test");
	alias(db, "b@example.test", "c@other.test");
	alias(db, "c@other.test", "alice@example.test");
	alias(db, "c@other.test", "bob@other.test");
	alias(db, "c@other.test", "far@remote.test");
	resolves(db, "a@example.test", PM,
	    "l:alice@example.test,l:bob@other.test,r:far@remote.test");
	/* duplicates through several paths appear once */
	alias(db, "all@example.test", "a@example.test");
	alias(db, "all@example.test", "alice@example.test");
	alias(db, "all@example.test", "c@other.test");
	alias(db, "all@example.test", "Far@Remote.test");
	resolves(db, "all@example.test", PM,
	    "l:alice@example.test,l:bob@other.test,r:far@remote.test");
}

static void
test_resolve_dups_and_dead(void **state)
{
	struct account_db *db = *state;

	user(db, "alice@example.test");
	alias(db, "a@example.test", "b@example.test");
	alias(db, "a@example.test", "alice@example.test");
	alias(db, "a@example.test", "far@remote.test");
	alias(db, "b@example.test", "alice@example.test");
	alias(db, "b@example.test", "far@remote.test");
	alias(db, "b@example.test", "ghost@example.test");	/* nobody */
	alias(db, "all@example.test", "a@example.test");
	alias(db, "all@example.test", "b@example.test");
	resolves(db, "all@example.test", PM,
	    "l:alice@example.test,r:far@remote.test");
	alias(db, "dead@example.test", "ghost@example.test");
	assert_int_equal(resolve(db, "dead@example.test", PM),
	    ACCOUNT_NO_USER);
	alias(db, "fwd@example.test", "x@remote.test");
	resolves(db, "fwd@example.test", PM, "r:x@remote.test");
}

static void
test_resolve_loops(void **state)
{
	struct account_db *db = *state;

	user(db, "alice@example.test");
	alias(db, "a@example.test", "b@example.test");
	alias(db, "b@example.test", "a@example.test");
	assert_int_equal(resolve(db, "a@example.test", PM), ACCOUNT_NO_USER);
	alias(db, "b@example.test", "alice@example.test");
	resolves(db, "a@example.test", PM, "l:alice@example.test");
	resolves(db, "b@example.test", PM, "l:alice@example.test");
	/* a loop through plus-addressing and the catch-all */
	alias(db, "c@example.test", "c+x@example.test");
	assert_int_equal(resolve(db, "c@example.test", PM), ACCOUNT_NO_USER);
	alias(db, "@other.test", "d@other.test");
	alias(db, "d@other.test", "e@other.test");
	assert_int_equal(resolve(db, "zz@other.test", PM), ACCOUNT_NO_USER);
}

static void
test_resolve_depth(void **state)
{
	struct account_db *db = *state;
	char a[32], b[32];
	const char *err = NULL;

	user(db, "alice@example.test");
	/* l0 -> l1 -> ... -> l9 -> alice: ten aliases deep is allowed */
	for (int i = 0; i < ACCOUNT_ALIAS_DEPTH; i++) {
		snprintf(a, sizeof(a), "l%d@example.test", i);
		snprintf(b, sizeof(b), "l%d@example.test", i + 1);
		alias(db, a, i == ACCOUNT_ALIAS_DEPTH - 1 ?
		    "alice@example.test" : b);
	}
	resolves(db, "l0@example.test", PM, "l:alice@example.test");
	/* one more level is a configuration error: defer */
	alias(db, "top@example.test", "l0@example.test");
	assert_int_equal(account_resolve(db, "top@example.test", PM, &targets,
	    &err), ACCOUNT_ERROR);
	assert_non_null(strstr(err, "deeper"));
	assert_int_equal(targets.nlocal + targets.nremote, 0);
}

static void
test_resolve_too_many(void **state)
{
	struct account_db *db = *state;
	char a[32], t[32];
	const char *err = NULL;

	/* two aliases of 40 distinct remote targets each: 80 > 64 */
	for (int i = 0; i < 80; i++) {
		snprintf(a, sizeof(a), "half%d@example.test", i / 40);
		snprintf(t, sizeof(t), "t%d@remote.test", i);
		alias(db, a, t);
	}
	alias(db, "both@example.test", "half0@example.test");
	alias(db, "both@example.test", "half1@example.test");
	assert_int_equal(resolve(db, "half1@example.test", PM), ACCOUNT_FOUND);
	assert_int_equal(targets.nremote, 40);
	assert_int_equal(account_resolve(db, "both@example.test", PM, &targets,
	    &err), ACCOUNT_ERROR);
	assert_non_null(strstr(err, "targets"));
}

/* --- maildir paths --------------------------------------------------- */

static void
test_maildir_path(void **state)
{
	static const char *const bad[] = {
		"../x@example.test", "x@..", "a/b@example.test",
		".x@example.test", "x@.example.test", "x@example/../test",
		"x", "@example.test", "x@", "", "x@example.test/../../etc",
		"x\n@example.test", "..@example.test",
	};
	char path[64];

	assert_int_equal(account_maildir_path("/var/lib/facteur",
	    "Alice@Example.test", path, sizeof(path)), 0);
	assert_string_equal(path, "/var/lib/facteur/mail/example.test/alice");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (account_maildir_path("/d", bad[i], path, sizeof(path)) !=
		    -1)
			fail_msg("accepted <%s> as <%s>", bad[i], path);
	assert_int_equal(account_maildir_path(NULL, "a@example.test", path,
	    sizeof(path)), -1);
	assert_int_equal(account_maildir_path("/d", NULL, path,
	    sizeof(path)), -1);
	/* too small a buffer is an error, not a truncated path */
	assert_int_equal(account_maildir_path("/var/lib/facteur",
	    "alice@example.test", path, 20), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_domain_add_del_list),
		T(test_domain_bad),
		T(test_domain_del_in_use),
		T(test_user_add_del_list),
		T(test_user_password_long),
		T(test_user_bad_addresses),
		T(test_user_normalize),
		T(test_user_password),
		T(test_db_reopen_readonly),
		T(test_alias_add_del_list),
		T(test_alias_too_many),
		T(test_resolve_basic),
		T(test_resolve_postmaster),
		T(test_resolve_postmaster_self),
		T(test_resolve_plus),
		T(test_resolve_catchall),
		T(test_resolve_chains),
		T(test_resolve_dups_and_dead),
		T(test_resolve_loops),
		T(test_resolve_depth),
		T(test_resolve_too_many),
		T(test_maildir_path),
#undef T
	};

	return cmocka_run_group_tests_name("auth/account", tests,
	    group_setup, group_teardown);
}
