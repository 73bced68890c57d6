/* account_scram_test.c: the SCRAM-SHA-256 secrets that src/auth/
 * account.c stores beside the yescrypt hash (RFC 5803 text in
 * users.scram), and account_user_scram(). */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "auth/account.h"
#include "auth/sasl.h"

static char	test_path[4096];

static int
setup(void **state)
{
	const char *base = getenv("FACTEUR_TEST_TMP");
	struct account_db *db;
	const char *err;
	char dir[2048];

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (mkdir(base, 0755) == -1 && errno != EEXIST)
		return -1;
	snprintf(dir, sizeof(dir), "%s/account_scram_test.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(test_path, sizeof(test_path), "%s/accounts.db", dir);
	if (account_db_open(test_path, false, &db, &err) == -1 ||
	    account_domain_add(db, "example.test", &err) == -1) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	struct account_db *db = *state;
	char path[4096 + 8], *slash;

	account_db_close(&db);
	unlink(test_path);
	snprintf(path, sizeof(path), "%s-wal", test_path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", test_path);
	unlink(path);
	if ((slash = strrchr(test_path, '/')) != NULL) {
		*slash = '\0';
		rmdir(test_path);
	}
	return 0;
}

/* Run SQL on the file directly (another connection). */
static void
sql(const char *q)
{
	sqlite3 *sq;

	assert_int_equal(sqlite3_open(test_path, &sq), SQLITE_OK);
	assert_int_equal(sqlite3_exec(sq, q, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(sq);
}

/* users.scram of one address, or "NULL" (static) */
static const char *
stored(const char *address)
{
	static char out[512];
	sqlite3_stmt *st;
	sqlite3 *sq;

	assert_int_equal(sqlite3_open(test_path, &sq), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(sq, "SELECT scram FROM users "
	    "WHERE address = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, sizeof(out), "%s", sqlite3_column_type(st, 0) ==
	    SQLITE_NULL ? "NULL" : (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(sq);
	return out;
}

/* The secrets match password: derived again from the stored salt. */
static void
assert_secrets_for(const struct sasl_scram_secrets *sec, const char *pw,
    bool want)
{
	struct sasl_scram_secrets again;

	assert_int_equal(sasl_scram_secrets_derive(pw, strlen(pw), sec->salt,
	    sec->salt_len, sec->iterations, &again), 0);
	if (want)
		assert_memory_equal(&again, sec, sizeof(again));
	else
		assert_memory_not_equal(again.stored_key, sec->stored_key,
		    SASL_SCRAM_KEY_LEN);
}

static void
test_scram_on_add(void **state)
{
	struct account_db *db = *state;
	struct sasl_scram_secrets sec;
	const char *err = NULL, *text;

	assert_int_equal(account_user_add(db, "Alice@Example.test",
	    "correct horse", &err), 0);
	assert_int_equal(account_user_scram(db, "alice@example.test", &sec,
	    &err), 1);
	assert_int_equal(sec.iterations, ACCOUNT_SCRAM_ITER);
	assert_int_equal(sec.iterations, 10000);
	assert_int_equal(sec.salt_len, SASL_SCRAM_SALT_LEN);
	assert_secrets_for(&sec, "correct horse", true);
	assert_secrets_for(&sec, "correct horsE", false);
	/* case-insensitive, like every lookup */
	assert_int_equal(account_user_scram(db, "ALICE@example.TEST", &sec,
	    &err), 1);
	/* RFC 5803 text, no password in it */
	text = stored("alice@example.test");
	assert_memory_equal(text, "SCRAM-SHA-256$10000:", 20);
	assert_null(strstr(text, "correct"));
	assert_int_equal(strlen(text), 20 + 24 + 1 + 44 + 1 + 44);
}

static void
test_scram_on_passwd(void **state)
{
	struct account_db *db = *state;
	struct sasl_scram_secrets before, after;
	const char *err = NULL;

	assert_int_equal(account_user_add(db, "bob@example.test", "one",
	    &err), 0);
	assert_int_equal(account_user_scram(db, "bob@example.test", &before,
	    &err), 1);
	assert_int_equal(account_user_passwd(db, "bob@example.test", "two",
	    &err), 0);
	assert_int_equal(account_user_scram(db, "bob@example.test", &after,
	    &err), 1);
	assert_memory_not_equal(before.salt, after.salt, SASL_SCRAM_SALT_LEN);
	assert_secrets_for(&after, "two", true);
	assert_secrets_for(&after, "one", false);
	/* a failed change leaves them alone */
	assert_int_equal(account_user_passwd(db, "bob@example.test", "",
	    &err), -1);
	assert_int_equal(account_user_scram(db, "bob@example.test", &before,
	    &err), 1);
	assert_memory_equal(&before, &after, sizeof(after));
}

static void
test_scram_none(void **state)
{
	struct account_db *db = *state;
	struct sasl_scram_secrets sec;
	const char *err = NULL;

	assert_int_equal(account_user_scram(db, "nobody@example.test", &sec,
	    &err), 0);
	assert_int_equal(sec.iterations, 0);
	assert_int_equal(account_user_scram(db, "nobody@other.test", &sec,
	    &err), 0);
	assert_int_equal(account_user_scram(db, "not an address", &sec,
	    &err), 0);
	assert_int_equal(account_user_scram(db, "", &sec, &err), 0);
	assert_int_equal(account_user_scram(db, NULL, &sec, &err), 0);
	/* a user from before SCRAM: none until the password is set again */
	assert_int_equal(account_user_add(db, "old@example.test", "pw",
	    &err), 0);
	sql("UPDATE users SET scram = NULL WHERE address = 'old@example.test'");
	assert_string_equal(stored("old@example.test"), "NULL");
	assert_int_equal(account_user_scram(db, "old@example.test", &sec,
	    &err), 0);
	assert_int_equal(account_user_check(db, "old@example.test", "pw",
	    &err), 1);
	assert_int_equal(account_user_passwd(db, "old@example.test", "pw",
	    &err), 0);
	assert_int_equal(account_user_scram(db, "old@example.test", &sec,
	    &err), 1);
	/* deleted: gone */
	assert_int_equal(account_user_del(db, "old@example.test", &err), 0);
	assert_int_equal(account_user_scram(db, "old@example.test", &sec,
	    &err), 0);
}

static void
test_scram_corrupt(void **state)
{
	static const char *const bad[] = {
		"UPDATE users SET scram = 'garbage'",
		"UPDATE users SET scram = 'SCRAM-SHA-256$100:AAAAAAAAAAA=$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU='",
		"UPDATE users SET scram = ''",
	};
	struct account_db *db = *state;
	struct sasl_scram_secrets sec;
	const char *err = NULL;

	assert_int_equal(account_user_add(db, "eve@example.test", "pw", &err),
	    0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sql(bad[i]);
		err = NULL;
		assert_int_equal(account_user_scram(db, "eve@example.test",
		    &sec, &err), -1);
		assert_non_null(err);
		assert_non_null(strstr(err, "bad SCRAM secrets"));
		assert_int_equal(sec.iterations, 0);
	}
}

/* The stored secrets work in a SCRAM exchange (client below). */
static void
test_scram_exchange(void **state)
{
	static const uint8_t key[32] = "server secret for fake salts...";
	const struct sasl_params params = { .secret = key,
	    .secret_len = sizeof(key) };
	struct account_db *db = *state;
	struct sasl_scram_secrets sec;
	uint8_t salted[32], ck[32], stk[32], sig[32], proof[32], salt[64];
	char sf[600], am[2000], fin[800], line[1200], salt64[100];
	const char *err = NULL, *p, *s64, *i64, *first;
	unsigned int n = 32;
	size_t slen, dlen;
	struct sasl *s;

	assert_int_equal(account_user_add(db, "carol@example.test",
	    "p\xc3\xa4ss word", &err), 0);
	assert_int_equal(account_user_scram(db, "carol@example.test", &sec,
	    &err), 1);
	s = sasl_new(SASL_MECH_SCRAM_SHA_256, &params);
	first = "biwsbj1jYXJvbEBleGFtcGxlLnRlc3Qscj1ub25jZTEyMw==";
	assert_int_equal(sasl_start(s, first, strlen(first)),
	    SASL_NEED_SECRETS);
	assert_string_equal(sasl_authcid(s), "carol@example.test");
	assert_int_equal(sasl_scram_secrets(s, &sec, "carol@example.test"),
	    SASL_CONTINUE);
	p = sasl_challenge(s, &slen);
	assert_int_equal(sasl_base64_decode(p, slen, (uint8_t *)sf,
	    sizeof(sf) - 1, &dlen), 0);
	sf[dlen] = '\0';
	/* the client's side */
	assert_non_null(s64 = strstr(sf, ",s="));
	assert_non_null(i64 = strstr(sf, ",i=10000"));
	snprintf(salt64, sizeof(salt64), "%.*s", (int)(i64 - s64 - 3),
	    s64 + 3);
	assert_int_equal(sasl_base64_decode(salt64, strlen(salt64), salt,
	    sizeof(salt), &dlen), 0);
	assert_int_equal(PKCS5_PBKDF2_HMAC("p\xc3\xa4ss word", 10, salt,
	    (int)dlen, 10000, EVP_sha256(), 32, salted), 1);
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, ck,
	    &n);
	SHA256(ck, 32, stk);
	snprintf(fin, sizeof(fin), "c=biws,r=%.*s", (int)(s64 - sf - 2),
	    sf + 2);
	snprintf(am, sizeof(am), "n=carol@example.test,r=nonce123,%s,%s", sf,
	    fin);
	HMAC(EVP_sha256(), stk, 32, (const uint8_t *)am, strlen(am), sig,
	    &n);
	for (int i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	strcat(fin, ",p=");
	sasl_base64_encode(proof, 32, fin + strlen(fin), 50);
	sasl_base64_encode(fin, strlen(fin), line, sizeof(line));
	assert_int_equal(sasl_step(s, line, strlen(line)), SASL_CONTINUE);
	assert_int_equal(sasl_step(s, "", 0), SASL_OK);
	assert_string_equal(sasl_user(s), "carol@example.test");
	sasl_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scram_on_add, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scram_on_passwd, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scram_none, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scram_corrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scram_exchange, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
