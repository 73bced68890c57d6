/* sasl_test.c: src/auth/sasl.c — base64, PLAIN, LOGIN, SCRAM-SHA-256
 * (RFC 7677 vector and a client written here with OpenSSL), RFC 5803
 * secrets.  Every client line is also fed split at each offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/sasl.h"

#define TEST_LINE_MAX	(SASL_LINE_MAX + 16)

static const uint8_t test_secret[32] = "0123456789abcdef0123456789abcde";
static const struct sasl_params test_params = {
	.secret = test_secret, .secret_len = sizeof(test_secret),
};

/* --- helpers ---------------------------------------------------------- */

/* base64 of raw bytes into a static buffer (two in turn) */
static const char *
b64(const void *raw, size_t n)
{
	static char buf[2][TEST_LINE_MAX];
	static int k;
	size_t r;

	k ^= 1;
	r = sasl_base64_encode(raw, n, buf[k], sizeof(buf[k]));
	assert_true(r != (size_t)-1);
	return buf[k];
}

static const char *
b64s(const char *s)
{
	return b64(s, strlen(s));
}

/* The decoded challenge, NUL-terminated (static). */
static const char *
challenge(const struct sasl *s)
{
	static char out[SASL_CHALLENGE_MAX];
	const char *c;
	size_t len, n;

	c = sasl_challenge(s, &len);
	assert_int_equal(strlen(c), len);
	assert_int_equal(sasl_base64_decode(c, len, (uint8_t *)out,
	    sizeof(out) - 1, &n), 0);
	out[n] = '\0';
	return out;
}

/* One client line, fed whole (cut == -1) or in two pieces at cut. */
static enum sasl_res
feed(struct sasl *s, const char *line, size_t len, long cut)
{
	if (cut < 0)
		return sasl_step(s, line, len);
	sasl_feed(s, line, (size_t)cut);
	sasl_feed(s, line + cut, len - (size_t)cut);
	return sasl_end(s);
}

static enum sasl_res
feed_s(struct sasl *s, const char *line, long cut)
{
	return feed(s, line, strlen(line), cut);
}

/* --- base64 ----------------------------------------------------------- */

static void
test_base64_vectors(void **state)
{
	static const char *const v[][2] = {	/* RFC 4648 §10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	uint8_t out[16];
	char enc[16];
	size_t n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(sasl_base64_encode(v[i][0], strlen(v[i][0]),
		    enc, sizeof(enc)), strlen(v[i][1]));
		assert_string_equal(enc, v[i][1]);
		assert_int_equal(sasl_base64_decode(v[i][1], strlen(v[i][1]),
		    out, sizeof(out), &n), 0);
		assert_int_equal(n, strlen(v[i][0]));
		assert_memory_equal(out, v[i][0], n);
	}
	/* no room */
	assert_int_equal(sasl_base64_encode("foo", 3, enc, 4), (size_t)-1);
	assert_int_equal(sasl_base64_decode("Zm9v", 4, out, 2, &n), -1);
	/* all 256 byte values round-trip */
	{
		uint8_t all[256], back[256];
		char e[400];

		for (int i = 0; i < 256; i++)
			all[i] = (uint8_t)i;
		n = sasl_base64_encode(all, sizeof(all), e, sizeof(e));
		assert_int_equal(sasl_base64_decode(e, n, back, sizeof(back),
		    &n), 0);
		assert_int_equal(n, 256);
		assert_memory_equal(all, back, 256);
	}
}

static void
test_base64_strict(void **state)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm9", "Z", "=", "==", "====", "Zg==Zg==",
		"Z===", "Zm=v", "Zm9v=", "Zm9 v", " Zm9v", "Zm9v\r\n",
		"Zm9v\n", "Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm9\x80",
		"Zm9v====", "AA=A", "*",
	};
	uint8_t out[16];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sasl_base64_decode(bad[i], strlen(bad[i]),
		    out, sizeof(out), &n), -1);
	assert_int_equal(sasl_base64_decode("Zm\0v", 4, out, sizeof(out),
	    &n), -1);
}

static void
test_mech_lookup(void **state)
{
	enum sasl_mech m;

	assert_int_equal(sasl_mech_lookup("PLAIN", 5, &m), 0);
	assert_int_equal(m, SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_lookup("login", 5, &m), 0);
	assert_int_equal(m, SASL_MECH_LOGIN);
	assert_int_equal(sasl_mech_lookup("Scram-Sha-256", 13, &m), 0);
	assert_int_equal(m, SASL_MECH_SCRAM_SHA_256);
	assert_int_equal(sasl_mech_lookup("SCRAM-SHA-256-PLUS", 18, &m), -1);
	assert_int_equal(sasl_mech_lookup("SCRAM-SHA-1", 11, &m), -1);
	assert_int_equal(sasl_mech_lookup("CRAM-MD5", 8, &m), -1);
	assert_int_equal(sasl_mech_lookup("PLAI", 4, &m), -1);
	assert_int_equal(sasl_mech_lookup("", 0, &m), -1);
	assert_string_equal(sasl_mech_name(SASL_MECH_SCRAM_SHA_256),
	    "SCRAM-SHA-256");
}

/* --- PLAIN ------------------------------------------------------------ */

struct plain_case {
	const char	*raw;
	size_t		 len;
	enum sasl_res	 want;
	const char	*authcid;	/* when SASL_CHECK */
	const char	*password;
};

#define P(s)	(s), sizeof(s) - 1

static void
plain_check(const struct plain_case *tc, struct sasl *s, enum sasl_res r)
{
	size_t n;

	assert_int_equal(r, tc->want);
	if (r != SASL_CHECK) {
		assert_non_null(sasl_error(s));
		assert_string_equal(sasl_password(s, &n), "");
		return;
	}
	assert_string_equal(sasl_authcid(s), tc->authcid);
	assert_string_equal(sasl_password(s, &n), tc->password);
	assert_int_equal(n, strlen(tc->password));
	assert_null(sasl_error(s));
}

/* As an initial response, and after an empty challenge fed whole and
 * cut at every offset. */
static void
plain_run(const struct plain_case *tc)
{
	char line[TEST_LINE_MAX];
	struct sasl *s;
	size_t len;

	snprintf(line, sizeof(line), "%s", b64(tc->raw, tc->len));
	len = strlen(line);
	s = sasl_new(SASL_MECH_PLAIN, NULL);
	plain_check(tc, s, sasl_start(s, line, len));
	sasl_free(&s);
	assert_null(s);
	for (long cut = -1; cut <= (long)len; cut++) {
		s = sasl_new(SASL_MECH_PLAIN, NULL);
		assert_int_equal(sasl_start(s, NULL, 0), SASL_CONTINUE);
		assert_string_equal(sasl_challenge(s, NULL), "");
		plain_check(tc, s, feed(s, line, len, cut));
		sasl_free(&s);
	}
}

static void
test_plain_table(void **state)
{
	const struct plain_case cases[] = {
		{ P("\0alice@example.test\0secret"), SASL_CHECK,
		    "alice@example.test", "secret" },
		{ P("alice@example.test\0alice@example.test\0pw"), SASL_CHECK,
		    "alice@example.test", "pw" },
		{ P("ALICE@example.TEST\0alice@example.test\0pw"), SASL_CHECK,
		    "alice@example.test", "pw" },
		{ P("\0alice\0p w \xc3\xa9t\xc3\xa9 \x01"), SASL_CHECK,
		    "alice", "p w \xc3\xa9t\xc3\xa9 \x01" },
		{ P(""), SASL_MALFORMED, NULL, NULL },
		{ P("alice"), SASL_MALFORMED, NULL, NULL },
		{ P("alice\0secret"), SASL_MALFORMED, NULL, NULL },
		{ P("\0\0secret"), SASL_MALFORMED, NULL, NULL },
		{ P("\0alice\0"), SASL_MALFORMED, NULL, NULL },
		{ P("\0\0"), SASL_MALFORMED, NULL, NULL },
		{ P("\0alice\0sec\0ret"), SASL_MALFORMED, NULL, NULL },
		{ P("\0ali\tce\0secret"), SASL_MALFORMED, NULL, NULL },
		{ P("\0alice\x7f\0secret"), SASL_MALFORMED, NULL, NULL },
		{ P("bo\nb\0alice\0secret"), SASL_MALFORMED, NULL, NULL },
		{ P("bob@example.test\0alice@example.test\0pw"), SASL_FAIL,
		    NULL, NULL },
		{ P("alice@example.tes\0alice@example.test\0pw"), SASL_FAIL,
		    NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		plain_run(&cases[i]);
}

/* authzid NUL authcid NUL password, of the given sizes */
static size_t
plain_make(char *raw, size_t zlen, size_t clen, size_t plen)
{
	size_t n = 0;

	memset(raw + n, 'z', zlen);
	n += zlen;
	raw[n++] = '\0';
	memset(raw + n, 'z', clen);	/* == authzid when the same size */
	n += clen;
	raw[n++] = '\0';
	memset(raw + n, 'p', plen);
	return n + plen;
}

static void
test_plain_limits(void **state)
{
	static char raw[1200], id[300], pw[600];
	struct plain_case tc = { raw, 0, SASL_CHECK, id, pw };

	memset(id, 'z', 256);
	memset(pw, 'p', 511);
	tc.len = plain_make(raw, 256, 256, 511);
	plain_run(&tc);
	tc.len = plain_make(raw, 0, 256, 1);
	pw[1] = '\0';
	plain_run(&tc);
	tc.want = SASL_MALFORMED;
	tc.len = plain_make(raw, 0, 257, 1);
	plain_run(&tc);
	tc.len = plain_make(raw, 257, 1, 1);
	plain_run(&tc);
	tc.len = plain_make(raw, 0, 1, 512);
	plain_run(&tc);
}

static void
test_plain_bad_lines(void **state)
{
	static const char *const bad[] = {
		"AGFsaWNlAHNlY3JldA",		/* no padding */
		"AGFsaWNlAHNlY3JldA=",		/* short padding */
		"AGFsaWNlAHNlY3JldB==",		/* unused bits set */
		"AGFsaWNl AHNlY3JldA==",
		"AGFsaWNlAHNlY3JldA==\r",
		"AGFsaWNlAHNlY3JldA==\n",
		"!!!!", "=", "**", "* ",
	};
	char big[SASL_LINE_MAX + 2];
	struct sasl *s;
	const char *ok = b64("\0alice\0secret", 13);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (long cut = -1; cut <= (long)strlen(bad[i]); cut++) {
			s = sasl_new(SASL_MECH_PLAIN, NULL);
			assert_int_equal(sasl_start(s, NULL, 0),
			    SASL_CONTINUE);
			assert_int_equal(feed_s(s, bad[i], cut),
			    SASL_MALFORMED);
			/* over: a later line is out of turn */
			assert_int_equal(sasl_step(s, ok, strlen(ok)),
			    SASL_FAIL);
			sasl_free(&s);
		}
	}
	/* "*" as the initial response is no cancel, just bad base64 */
	s = sasl_new(SASL_MECH_PLAIN, NULL);
	assert_int_equal(sasl_start(s, "*", 1), SASL_MALFORMED);
	sasl_free(&s);
	/* "=" is an empty initial response: PLAIN needs more */
	s = sasl_new(SASL_MECH_PLAIN, NULL);
	assert_int_equal(sasl_start(s, "=", 1), SASL_MALFORMED);
	sasl_free(&s);
	/* past SASL_LINE_MAX, in one piece or many */
	memset(big, 'A', sizeof(big));
	s = sasl_new(SASL_MECH_PLAIN, NULL);
	sasl_start(s, NULL, 0);
	assert_int_equal(sasl_step(s, big, SASL_LINE_MAX + 1),
	    SASL_MALFORMED);
	assert_string_equal(sasl_error(s), "response too long");
	sasl_free(&s);
	s = sasl_new(SASL_MECH_PLAIN, NULL);
	sasl_start(s, NULL, 0);
	for (size_t i = 0; i < SASL_LINE_MAX / 4 + 1; i++)
		sasl_feed(s, big, 4);
	assert_int_equal(sasl_end(s), SASL_MALFORMED);
	assert_string_equal(sasl_error(s), "response too long");
	sasl_free(&s);
	/* exactly SASL_LINE_MAX is read (and found wanting as PLAIN) */
	s = sasl_new(SASL_MECH_PLAIN, NULL);
	sasl_start(s, NULL, 0);
	assert_int_equal(sasl_step(s, big, SASL_LINE_MAX), SASL_MALFORMED);
	assert_string_equal(sasl_error(s), "PLAIN: bad identity");
	sasl_free(&s);
}

static void
test_plain_cancel(void **state)
{
	struct sasl *s;

	for (long cut = -1; cut <= 1; cut++) {
		s = sasl_new(SASL_MECH_PLAIN, NULL);
		assert_int_equal(sasl_start(s, NULL, 0), SASL_CONTINUE);
		assert_int_equal(feed_s(s, "*", cut), SASL_CANCEL);
		assert_int_equal(sasl_step(s, "*", 1), SASL_FAIL);
		sasl_free(&s);
	}
	sasl_free(&s);	/* NULL is fine */
}

/* --- LOGIN ------------------------------------------------------------ */

static void
test_login_ok(void **state)
{
	const char *user = b64s("alice@example.test");
	const char *pw = b64s("s3cret pass");
	struct sasl *s;
	size_t n;

	for (long cut = -1; cut <= (long)strlen(pw); cut++) {
		s = sasl_new(SASL_MECH_LOGIN, NULL);
		assert_int_equal(sasl_start(s, NULL, 0), SASL_CONTINUE);
		assert_string_equal(sasl_challenge(s, NULL), "VXNlcm5hbWU6");
		assert_int_equal(feed_s(s, user, cut < (long)strlen(user) ?
		    cut : -1), SASL_CONTINUE);
		assert_string_equal(sasl_challenge(s, NULL), "UGFzc3dvcmQ6");
		assert_string_equal(challenge(s), "Password:");
		assert_int_equal(feed_s(s, pw, cut), SASL_CHECK);
		assert_string_equal(sasl_authcid(s), "alice@example.test");
		assert_string_equal(sasl_password(s, &n), "s3cret pass");
		assert_int_equal(n, 11);
		sasl_free(&s);
	}
	/* the user name as initial response */
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	assert_int_equal(sasl_start(s, user, strlen(user)), SASL_CONTINUE);
	assert_string_equal(challenge(s), "Password:");
	assert_int_equal(sasl_step(s, pw, strlen(pw)), SASL_CHECK);
	assert_string_equal(sasl_authcid(s), "alice@example.test");
	sasl_free(&s);
}

static void
test_login_bad(void **state)
{
	char long_user[258], long_pw[513];
	const char *users[] = { "", "a\tb", "a\0b", long_user };
	const size_t ulen[] = { 0, 3, 3, 257 };
	const char *pws[] = { "", "a\0b", long_pw };
	const size_t plen[] = { 0, 3, 512 };
	struct sasl *s;
	const char *line;

	memset(long_user, 'u', sizeof(long_user));
	memset(long_pw, 'p', sizeof(long_pw));
	for (size_t i = 0; i < 4; i++) {
		line = b64(users[i], ulen[i]);
		for (long cut = -1; cut <= (long)strlen(line); cut++) {
			s = sasl_new(SASL_MECH_LOGIN, NULL);
			sasl_start(s, NULL, 0);
			assert_int_equal(feed_s(s, line, cut), SASL_MALFORMED);
			sasl_free(&s);
		}
	}
	for (size_t i = 0; i < 3; i++) {
		line = b64(pws[i], plen[i]);
		for (long cut = -1; cut <= (long)strlen(line); cut++) {
			s = sasl_new(SASL_MECH_LOGIN, NULL);
			sasl_start(s, NULL, 0);
			assert_int_equal(sasl_step(s, "YQ==", 4),
			    SASL_CONTINUE);
			assert_int_equal(feed_s(s, line, cut), SASL_MALFORMED);
			assert_string_equal(sasl_password(s, NULL), "");
			sasl_free(&s);
		}
	}
	/* 511 is fine */
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	sasl_start(s, "YQ==", 4);
	line = b64(long_pw, 511);
	assert_int_equal(sasl_step(s, line, strlen(line)), SASL_CHECK);
	sasl_free(&s);
	/* "=" initial response: an empty user name */
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	assert_int_equal(sasl_start(s, "=", 1), SASL_MALFORMED);
	sasl_free(&s);
	/* bad base64 at each step */
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	sasl_start(s, NULL, 0);
	assert_int_equal(sasl_step(s, "YQ=", 3), SASL_MALFORMED);
	sasl_free(&s);
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	sasl_start(s, "YQ==", 4);
	assert_int_equal(sasl_step(s, "YQ=\n", 4), SASL_MALFORMED);
	sasl_free(&s);
	/* started twice */
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	sasl_start(s, NULL, 0);
	assert_int_equal(sasl_start(s, NULL, 0), SASL_FAIL);
	sasl_free(&s);
	/* a line before start */
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	assert_int_equal(sasl_step(s, "YQ==", 4), SASL_FAIL);
	sasl_free(&s);
}

static void
test_login_cancel(void **state)
{
	struct sasl *s;

	s = sasl_new(SASL_MECH_LOGIN, NULL);
	sasl_start(s, NULL, 0);
	assert_int_equal(sasl_step(s, "*", 1), SASL_CANCEL);
	sasl_free(&s);
	s = sasl_new(SASL_MECH_LOGIN, NULL);
	sasl_start(s, "YQ==", 4);
	assert_int_equal(sasl_step(s, "*", 1), SASL_CANCEL);
	assert_string_equal(sasl_authcid(s), "a");
	assert_string_equal(sasl_password(s, NULL), "");
	sasl_free(&s);
}

/* --- SCRAM: a client -------------------------------------------------- */

struct client {
	char		gs2[600];	/* "n,," */
	char		bare[1200];	/* n=...,r=... */
	char		cnonce[300];
	char		nonce[400];	/* from server-first */
	uint8_t		salt[SASL_SCRAM_SALT_MAX];
	size_t		salt_len;
	unsigned	iter;
	uint8_t		salted[32];
	char		final_wp[1200];	/* client-final-without-proof */
	char		final[1300];
	char		am[3000];
	uint8_t		server_sig[32];
};

static void
client_init(struct client *c, const char *gs2, const char *user,
    const char *cnonce)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->gs2, sizeof(c->gs2), "%s", gs2);
	snprintf(c->cnonce, sizeof(c->cnonce), "%s", cnonce);
	snprintf(c->bare, sizeof(c->bare), "n=%s,r=%s", user, cnonce);
}

static const char *
client_first(const struct client *c)
{
	static char m[1800];

	snprintf(m, sizeof(m), "%s%s", c->gs2, c->bare);
	return m;
}

/* Parse r=,s=,i= from the decoded server-first. */
static void
client_server_first(struct client *c, const char *sf)
{
	char salt64[200];
	const char *s, *i;

	assert_memory_equal(sf, "r=", 2);
	s = strstr(sf, ",s=");
	i = strstr(sf, ",i=");
	assert_non_null(s);
	assert_non_null(i);
	snprintf(c->nonce, sizeof(c->nonce), "%.*s", (int)(s - sf - 2),
	    sf + 2);
	assert_memory_equal(c->nonce, c->cnonce, strlen(c->cnonce));
	snprintf(salt64, sizeof(salt64), "%.*s", (int)(i - s - 3), s + 3);
	assert_int_equal(sasl_base64_decode(salt64, strlen(salt64), c->salt,
	    sizeof(c->salt), &c->salt_len), 0);
	c->iter = (unsigned)strtoul(i + 3, NULL, 10);
}

static void
hmac256(const void *key, size_t klen, const void *d, size_t n, uint8_t *out)
{
	unsigned int len = 32;

	assert_non_null(HMAC(EVP_sha256(), key, (int)klen, d, n, out, &len));
}

/* Build client-final for password (nonce: c->nonce unless given). */
static const char *
client_final(struct client *c, const char *password, const char *sf,
    const char *cbind_over)
{
	uint8_t ck[32], sk[32], stored[32], sig[32], proof[32];
	size_t i;

	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
	    c->salt, (int)c->salt_len, (int)c->iter, EVP_sha256(), 32,
	    c->salted), 1);
	hmac256(c->salted, 32, "Client Key", 10, ck);
	SHA256(ck, 32, stored);
	snprintf(c->final_wp, sizeof(c->final_wp), "c=%s,r=%s",
	    cbind_over != NULL ? cbind_over : b64s(c->gs2), c->nonce);
	assert_true((size_t)snprintf(c->am, sizeof(c->am), "%s,%s,%s", c->bare,
	    sf, c->final_wp) < sizeof(c->am));
	hmac256(stored, 32, c->am, strlen(c->am), sig);
	for (i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	snprintf(c->final, sizeof(c->final), "%s,p=%s", c->final_wp,
	    b64(proof, 32));
	hmac256(c->salted, 32, "Server Key", 10, sk);
	hmac256(sk, 32, c->am, strlen(c->am), c->server_sig);
	return c->final;
}

static void
client_check_server_final(const struct client *c, const char *sfin)
{
	char want[100];

	snprintf(want, sizeof(want), "v=%s", b64(c->server_sig, 32));
	assert_string_equal(sfin, want);
}

/* A SCRAM exchange with the server nonce fixed (NULL: random). */
static struct sasl *
scram_new(const char *nonce)
{
	struct sasl_params p = test_params;

	p.nonce = nonce;
	return sasl_new(SASL_MECH_SCRAM_SHA_256, &p);
}

/* secrets for "pencil" with a fixed salt */
static void
secrets(struct sasl_scram_secrets *sec, const char *pw, unsigned iter)
{
	static const uint8_t salt[16] = "0123456789ABCDEF";

	assert_int_equal(sasl_scram_secrets_derive(pw, strlen(pw), salt,
	    sizeof(salt), iter, sec), 0);
}

/* Run one exchange up to the final verdict; returns what the last
 * client-final got.  sf_r: the decoded server-first. */
static enum sasl_res
scram_run(struct sasl *s, struct client *c, const char *password,
    const struct sasl_scram_secrets *sec, long cut, char *sf_r)
{
	char line[TEST_LINE_MAX], sf[SASL_CHALLENGE_MAX];
	enum sasl_res r;

	assert_int_equal(sasl_start(s, NULL, 0), SASL_CONTINUE);
	assert_string_equal(sasl_challenge(s, NULL), "");
	snprintf(line, sizeof(line), "%s", b64s(client_first(c)));
	assert_int_equal(feed_s(s, line, cut <= (long)strlen(line) ? cut :
	    -1), SASL_NEED_SECRETS);
	assert_int_equal(sasl_scram_secrets(s, sec, NULL), SASL_CONTINUE);
	snprintf(sf, sizeof(sf), "%s", challenge(s));
	if (sf_r != NULL)
		strcpy(sf_r, sf);
	client_server_first(c, sf);
	snprintf(line, sizeof(line), "%s", b64s(client_final(c, password, sf,
	    NULL)));
	r = feed_s(s, line, cut <= (long)strlen(line) ? cut : -1);
	return r;
}

/* --- SCRAM: RFC 7677 §3 ------------------------------------------------ */

#define RFC_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_FIRST	"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SFIRST	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
			"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_FINAL	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)" \
			"hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void
rfc_secrets(struct sasl_scram_secrets *sec)
{
	uint8_t salt[16];
	size_t n;

	assert_int_equal(sasl_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24,
	    salt, sizeof(salt), &n), 0);
	assert_int_equal(sasl_scram_secrets_derive("pencil", 6, salt, n, 4096,
	    sec), 0);
}

static void
test_scram_rfc7677(void **state)
{
	struct sasl_scram_secrets sec;
	char first[200], final[200];
	struct sasl *s;

	rfc_secrets(&sec);
	snprintf(first, sizeof(first), "%s", b64s(RFC_FIRST));
	snprintf(final, sizeof(final), "%s", b64s(RFC_FINAL));
	for (long cut = -1; cut <= (long)strlen(final); cut++) {
		long c1 = cut <= (long)strlen(first) ? cut : -1;

		s = scram_new(RFC_SNONCE);
		assert_int_equal(sasl_start(s, NULL, 0), SASL_CONTINUE);
		assert_int_equal(feed_s(s, first, c1), SASL_NEED_SECRETS);
		assert_string_equal(sasl_authcid(s), "user");
		assert_int_equal(sasl_scram_secrets(s, &sec, "user"),
		    SASL_CONTINUE);
		assert_string_equal(challenge(s), RFC_SFIRST);
		assert_int_equal(feed_s(s, final, cut), SASL_CONTINUE);
		assert_string_equal(challenge(s), RFC_SFINAL);
		assert_string_equal(sasl_user(s), "");	/* not yet */
		assert_int_equal(sasl_step(s, "", 0), SASL_OK);
		assert_string_equal(sasl_user(s), "user");
		assert_null(sasl_error(s));
		assert_int_equal(sasl_step(s, "", 0), SASL_FAIL);
		sasl_free(&s);
	}
	/* client-first as the initial response */
	s = scram_new(RFC_SNONCE);
	assert_int_equal(sasl_start(s, first, strlen(first)),
	    SASL_NEED_SECRETS);
	assert_int_equal(sasl_scram_secrets(s, &sec, "User@Canonical"),
	    SASL_CONTINUE);
	assert_int_equal(sasl_step(s, final, strlen(final)), SASL_CONTINUE);
	assert_int_equal(sasl_step(s, "", 0), SASL_OK);
	assert_string_equal(sasl_user(s), "User@Canonical");
	sasl_free(&s);
	/* the wrong password for the same messages */
	secrets(&sec, "pencil", 4096);	/* another salt: another key */
	s = scram_new(RFC_SNONCE);
	sasl_start(s, first, strlen(first));
	sasl_scram_secrets(s, &sec, NULL);
	assert_int_equal(sasl_step(s, final, strlen(final)), SASL_FAIL);
	assert_string_equal(sasl_error(s), "SCRAM: wrong proof");
	assert_string_equal(sasl_challenge(s, NULL), "");
	sasl_free(&s);
}

static void
test_scram_secrets_text(void **state)
{
	struct sasl_scram_secrets sec, back;
	char text[SASL_SCRAM_STORED_MAX];

	rfc_secrets(&sec);
	assert_int_equal(sasl_scram_secrets_format(&sec, text, sizeof(text)),
	    0);
	/* known answer: the RFC 7677 user's StoredKey and ServerKey */
	assert_string_equal(text, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ"
	    "==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
	assert_int_equal(sasl_scram_secrets_parse(text, strlen(text), &back),
	    0);
	assert_memory_equal(&sec, &back, sizeof(sec));
	assert_int_equal(sasl_scram_secrets_format(&sec, text, 50), -1);
	/* fresh salts differ */
	assert_int_equal(sasl_scram_secrets_make("pencil", 6, 10000, &sec), 0);
	assert_int_equal(sasl_scram_secrets_make("pencil", 6, 10000, &back),
	    0);
	assert_int_equal(sec.salt_len, SASL_SCRAM_SALT_LEN);
	assert_int_equal(sec.iterations, 10000);
	assert_memory_not_equal(sec.salt, back.salt, SASL_SCRAM_SALT_LEN);
	assert_memory_not_equal(sec.stored_key, back.stored_key, 32);
	/* bounds */
	assert_int_equal(sasl_scram_secrets_make("pencil", 6, 4095, &sec), -1);
	assert_int_equal(sasl_scram_secrets_make("pencil", 6, 1000001, &sec),
	    -1);
	assert_int_equal(sasl_scram_secrets_derive("p", 1,
	    (const uint8_t *)"short", 5, 4096, &sec), -1);
}

static void
test_scram_secrets_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-1$4096:QSXCR+Q6sek8bf92:6dlGYMOdZcOPutkcNY8U2g7vK9Y="
		    ":D+CSWLOshSulAsxiupA+qs2/fTE=",
		"scram-sha-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$4095:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$1000001:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$04096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$+4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$4096:QUJD$"		/* salt of 3 bytes */
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU= ",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
		"SCRAM-SHA-256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"SCRAM-SHA-256$:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	};
	static const char good[] = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ"
	    "==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
	struct sasl_scram_secrets sec;

	assert_int_equal(sasl_scram_secrets_parse(good, strlen(good), &sec),
	    0);
	assert_int_equal(sec.iterations, 4096);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sasl_scram_secrets_parse(bad[i],
		    strlen(bad[i]), &sec), -1);
		assert_int_equal(sec.iterations, 0);	/* wiped */
	}
	/* every prefix of the good one is bad */
	for (size_t n = 0; n < strlen(good); n++)
		assert_int_equal(sasl_scram_secrets_parse(good, n, &sec), -1);
}

/* --- SCRAM: with the client -------------------------------------------- */

static void
test_scram_client_ok(void **state)
{
	struct sasl_scram_secrets sec;
	struct client c;
	struct sasl *s;
	const char *gs2[] = { "n,,", "y,,", "n,a=alice@example.test,",
	    "y,a=ALICE@example.test," };

	assert_int_equal(sasl_scram_secrets_make("correct horse", 13, 10000,
	    &sec), 0);
	for (size_t i = 0; i < 4; i++) {
		client_init(&c, gs2[i], "alice@example.test",
		    "fyko+d2lbbFgONRv9qkxdawL");
		s = scram_new(NULL);
		assert_int_equal(scram_run(s, &c, "correct horse", &sec, -1,
		    NULL), SASL_CONTINUE);
		client_check_server_final(&c, challenge(s));
		/* our nonce: 24 random bytes */
		assert_int_equal(strlen(c.nonce), strlen(c.cnonce) + 32);
		assert_int_equal(sasl_step(s, "", 0), SASL_OK);
		assert_string_equal(sasl_user(s), "alice@example.test");
		sasl_free(&s);
	}
}

/* Every line of the exchange cut at every offset. */
static void
test_scram_client_pieces(void **state)
{
	struct sasl_scram_secrets sec;
	struct client c;
	struct sasl *s;

	secrets(&sec, "pencil", 4096);
	for (long cut = 0; cut < 200; cut++) {
		client_init(&c, "n,,", "us=2Cer", "abcdefgh");
		s = scram_new("snonce");
		assert_int_equal(scram_run(s, &c, "pencil", &sec, cut, NULL),
		    SASL_CONTINUE);
		assert_string_equal(sasl_authcid(s), "us,er");
		client_check_server_final(&c, challenge(s));
		assert_int_equal(sasl_step(s, "", 0), SASL_OK);
		sasl_free(&s);
	}
}

static void
test_scram_wrong_password(void **state)
{
	struct sasl_scram_secrets sec;
	struct client c;
	struct sasl *s;

	secrets(&sec, "pencil", 4096);
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_new(NULL);
	assert_int_equal(scram_run(s, &c, "Pencil", &sec, -1, NULL),
	    SASL_FAIL);
	assert_string_equal(sasl_error(s), "SCRAM: wrong proof");
	assert_string_equal(sasl_user(s), "");
	assert_int_equal(sasl_step(s, "", 0), SASL_FAIL);
	sasl_free(&s);
}

/* Run up to server-first; the client's nonce is c->nonce after. */
static struct sasl *
scram_to_final(struct client *c, const struct sasl_scram_secrets *sec,
    const char *snonce, char *sf)
{
	struct sasl *s = scram_new(snonce);
	const char *first = b64s(client_first(c));

	assert_int_equal(sasl_start(s, first, strlen(first)),
	    SASL_NEED_SECRETS);
	assert_int_equal(sasl_scram_secrets(s, sec, NULL), SASL_CONTINUE);
	strcpy(sf, challenge(s));
	client_server_first(c, sf);
	return s;
}

static void
test_scram_tampered(void **state)
{
	struct sasl_scram_secrets sec;
	char sf[SASL_CHALLENGE_MAX], fin[1300], *p;
	struct client c;
	struct sasl *s;

	secrets(&sec, "pencil", 4096);
	/* one bit of the proof flipped, at each byte */
	for (size_t i = 0; i < 32; i++) {
		uint8_t proof[32];
		size_t n;

		client_init(&c, "n,,", "user", "abcdefgh");
		s = scram_to_final(&c, &sec, NULL, sf);
		snprintf(fin, sizeof(fin), "%s", client_final(&c, "pencil", sf,
		    NULL));
		p = strstr(fin, ",p=") + 3;
		assert_int_equal(sasl_base64_decode(p, strlen(p), proof, 32,
		    &n), 0);
		proof[i] ^= 0x10;
		strcpy(p, b64(proof, 32));
		assert_int_equal(sasl_step(s, b64s(fin), strlen(b64s(fin))),
		    SASL_FAIL);
		assert_string_equal(sasl_error(s), "SCRAM: wrong proof");
		sasl_free(&s);
	}
	/* the AuthMessage is covered: a changed extension changes it */
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, NULL, sf);
	snprintf(fin, sizeof(fin), "%s", client_final(&c, "pencil", sf, NULL));
	p = strstr(fin, ",p=");
	memmove(p + 4, p, strlen(p) + 1);
	memcpy(p, ",x=y", 4);
	assert_int_equal(sasl_step(s, b64s(fin), strlen(b64s(fin))),
	    SASL_FAIL);
	sasl_free(&s);
}

static void
test_scram_nonce(void **state)
{
	struct sasl_scram_secrets sec;
	char sf[SASL_CHALLENGE_MAX], fin[1300], old[1300];
	struct client c;
	struct sasl *s;

	secrets(&sec, "pencil", 4096);
	/* replay: a good client-final of one exchange, in a second one
	 * with the same client nonce */
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, NULL, sf);
	snprintf(old, sizeof(old), "%s", b64s(client_final(&c, "pencil", sf,
	    NULL)));
	assert_int_equal(sasl_step(s, old, strlen(old)), SASL_CONTINUE);
	sasl_free(&s);
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, NULL, sf);
	assert_int_equal(sasl_step(s, old, strlen(old)), SASL_FAIL);
	assert_string_equal(sasl_error(s), "SCRAM: nonce differs");
	sasl_free(&s);
	/* only the client's part of the nonce; a changed server part; the
	 * nonce with a byte more */
	const char *bad_nonce[] = { "abcdefgh", "abcdefghsnoncX", "abcdefgh"
	    "snonce!", "abcdefgsnonce", "" };
	for (size_t i = 0; i < 5; i++) {
		client_init(&c, "n,,", "user", "abcdefgh");
		s = scram_to_final(&c, &sec, "snonce", sf);
		assert_string_equal(c.nonce, "abcdefghsnonce");
		snprintf(c.nonce, sizeof(c.nonce), "%s", bad_nonce[i]);
		snprintf(fin, sizeof(fin), "%s", b64s(client_final(&c,
		    "pencil", sf, NULL)));
		assert_int_equal(sasl_step(s, fin, strlen(fin)), i < 4 ?
		    SASL_FAIL : SASL_MALFORMED);
		sasl_free(&s);
	}
}

static void
test_scram_channel_binding(void **state)
{
	struct sasl_scram_secrets sec;
	char sf[SASL_CHALLENGE_MAX], fin[1300];
	struct client c;
	struct sasl *s;
	const char *first;
	/* c= must repeat the gs2 header exactly */
	const char *cb[][2] = {
		{ "n,,", "eSws" },		/* y,, */
		{ "y,,", "biws" },		/* n,, */
		{ "n,a=user,", "biws" },
		{ "n,,", "bixh PXVzZXIs" },
		{ "n,,", "cD10bHMtdW5pcXVlLCw=" },	/* p=tls-unique,, */
	};

	secrets(&sec, "pencil", 4096);
	for (size_t i = 0; i < sizeof(cb) / sizeof(cb[0]); i++) {
		client_init(&c, cb[i][0], "user", "abcdefgh");
		s = scram_to_final(&c, &sec, NULL, sf);
		snprintf(fin, sizeof(fin), "%s", b64s(client_final(&c,
		    "pencil", sf, cb[i][1])));
		assert_int_equal(sasl_step(s, fin, strlen(fin)), strchr(
		    cb[i][1], ' ') != NULL ? SASL_MALFORMED : SASL_FAIL);
		sasl_free(&s);
	}
	/* gs2 "p": channel binding asked for, refused at once */
	client_init(&c, "p=tls-unique,,", "user", "abcdefgh");
	s = scram_new(NULL);
	first = b64s(client_first(&c));
	assert_int_equal(sasl_start(s, first, strlen(first)), SASL_FAIL);
	assert_string_equal(sasl_error(s),
	    "SCRAM: channel binding not supported");
	sasl_free(&s);
}

/* A client-first table: what each gets. */
static void
test_scram_first_table(void **state)
{
	static char long_nonce[400], long_user[400], long_msg[1100];
	const struct { const char *m; enum sasl_res want; const char *id; }
	    cases[] = {
		{ "n,,n=user,r=abc", SASL_NEED_SECRETS, "user" },
		{ "y,,n=user,r=abc", SASL_NEED_SECRETS, "user" },
		{ "n,,n=user,r=abc,x=ext,y=more", SASL_NEED_SECRETS, "user" },
		{ "n,,n=a=3Db=2Cc,r=abc", SASL_NEED_SECRETS, "a=b,c" },
		{ "n,a=a=3Db=2Cc,n=A=3DB=2CC,r=abc", SASL_NEED_SECRETS,
		    "A=B,C" },
		{ "n,,n=user,r=!\"#$%&'()*+-./~", SASL_NEED_SECRETS, "user" },
		{ "n,a=bob,n=user,r=abc", SASL_FAIL, "" },
		{ "p=tls-unique,,n=user,r=abc", SASL_FAIL, "" },
		{ "n,,m=ext,n=user,r=abc", SASL_FAIL, "" },
		{ "", SASL_MALFORMED, "" },
		{ "n", SASL_MALFORMED, "" },
		{ "n,", SASL_MALFORMED, "" },
		{ "n,,", SASL_MALFORMED, "" },
		{ "x,,n=user,r=abc", SASL_MALFORMED, "" },
		{ "N,,n=user,r=abc", SASL_MALFORMED, "" },
		{ "n,a=,n=user,r=abc", SASL_MALFORMED, "" },
		{ "n,b=x,n=user,r=abc", SASL_MALFORMED, "" },
		{ "n,a=user", SASL_MALFORMED, "" },
		{ "n,,r=abc", SASL_MALFORMED, "" },
		{ "n,,r=abc,n=user", SASL_MALFORMED, "" },
		{ "n,,n=user", SASL_MALFORMED, "" },
		{ "n,,n=user,", SASL_MALFORMED, "" },
		{ "n,,n=,r=abc", SASL_MALFORMED, "" },
		{ "n,,n=user,r=", SASL_MALFORMED, "" },
		{ "n,,n=user,r=abc,", SASL_MALFORMED, "" },
		{ "n,,n=user,r=a c", SASL_MALFORMED, "" },
		{ "n,,n=user,r=a\x7f", SASL_MALFORMED, "" },
		{ "n,,n=user,r=abc,1=x", SASL_MALFORMED, "" },
		{ "n,,n=user,r=abc,x=", SASL_MALFORMED, "" },
		{ "n,,n=user,r=abc,x", SASL_MALFORMED, "" },
		{ "n,,n=us=2Der,r=abc", SASL_MALFORMED, "" },
		{ "n,,n=us=2,r=abc", SASL_MALFORMED, "" },
		{ "n,,n=user=,r=abc", SASL_MALFORMED, "" },
		{ "n,,n=us=2cer,r=abc", SASL_MALFORMED, "" },
		{ "n,,n=us\ter,r=abc", SASL_MALFORMED, "" },
		{ " n,,n=user,r=abc", SASL_MALFORMED, "" },
		{ long_nonce, SASL_MALFORMED, "" },
		{ long_user, SASL_MALFORMED, "" },
		{ long_msg, SASL_MALFORMED, "" },
	};
	char line[TEST_LINE_MAX];
	struct sasl *s;

	snprintf(long_nonce, sizeof(long_nonce), "n,,n=u,r=%0257d", 0);
	snprintf(long_user, sizeof(long_user), "n,,n=%0257d,r=abc", 0);
	snprintf(long_msg, sizeof(long_msg), "n,,n=u,r=abc,x=%01010d", 0);
	assert_int_equal(strlen(long_msg), 1025);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "%s", b64s(cases[i].m));
		for (long cut = -1; cut <= (long)strlen(line); cut++) {
			s = scram_new(NULL);
			sasl_start(s, NULL, 0);
			if (feed_s(s, line, cut) != cases[i].want)
				fail_msg("case %zu: <%s>", i, cases[i].m);
			if (cases[i].want == SASL_NEED_SECRETS)
				assert_string_equal(sasl_authcid(s),
				    cases[i].id);
			sasl_free(&s);
		}
	}
	/* a NUL inside */
	s = scram_new(NULL);
	assert_int_equal(sasl_start(s, b64("n,,n=u\0,r=abc", 14),
	    strlen(b64("n,,n=u\0,r=abc", 14))), SASL_MALFORMED);
	sasl_free(&s);
	/* exactly 1024 bytes is fine */
	long_msg[1024] = '\0';
	s = scram_new(NULL);
	assert_int_equal(sasl_start(s, b64s(long_msg), strlen(b64s(long_msg))),
	    SASL_NEED_SECRETS);
	sasl_free(&s);
}

/* A client-final table, after a proper first round. */
static void
test_scram_final_table(void **state)
{
	const struct { const char *m; enum sasl_res want; } cases[] = {
		{ "", SASL_MALFORMED },
		{ "c=biws", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce,", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce,p=", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce,p=AAAA", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAA", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAA=,x=y", SASL_MALFORMED },
		{ "c=biw,r=abcdefghsnonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAA=", SASL_MALFORMED },
		{ "r=abcdefghsnonce,c=biws,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAA=", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce,x,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAA=", SASL_MALFORMED },
		{ "c=biws,r=abcdefghsnonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAA=", SASL_FAIL },
		{ "c=biws,r=abcdefghsnonce,x=y,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAA=", SASL_FAIL },
		{ "c=biws,r=abcdefghsnonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAA=\0", SASL_MALFORMED },
	};
	struct sasl_scram_secrets sec;
	char sf[SASL_CHALLENGE_MAX], line[TEST_LINE_MAX];
	struct client c;
	struct sasl *s;
	size_t len;

	secrets(&sec, "pencil", 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].m) + (i == sizeof(cases) /
		    sizeof(cases[0]) - 1);
		snprintf(line, sizeof(line), "%s", b64(cases[i].m, len));
		for (long cut = -1; cut <= (long)strlen(line); cut++) {
			client_init(&c, "n,,", "user", "abcdefgh");
			s = scram_to_final(&c, &sec, "snonce", sf);
			if (feed_s(s, line, cut) != cases[i].want)
				fail_msg("case %zu: <%s>", i, cases[i].m);
			sasl_free(&s);
		}
	}
	/* past SASL_SCRAM_MSG_MAX */
	snprintf(line, sizeof(line), "c=biws,r=abcdefghsnonce,x=%0999d", 0);
	assert_int_equal(strlen(line), 1025);
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, "snonce", sf);
	assert_int_equal(sasl_step(s, b64s(line), strlen(b64s(line))),
	    SASL_MALFORMED);
	assert_string_equal(sasl_error(s), "SCRAM: message too long");
	sasl_free(&s);
}

static void
test_scram_cancel_and_ack(void **state)
{
	struct sasl_scram_secrets sec;
	char sf[SASL_CHALLENGE_MAX], fin[1300];
	struct client c;
	struct sasl *s;

	secrets(&sec, "pencil", 4096);
	/* cancel at each turn */
	s = scram_new(NULL);
	sasl_start(s, NULL, 0);
	assert_int_equal(sasl_step(s, "*", 1), SASL_CANCEL);
	sasl_free(&s);
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, NULL, sf);
	assert_int_equal(sasl_step(s, "*", 1), SASL_CANCEL);
	sasl_free(&s);
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, NULL, sf);
	snprintf(fin, sizeof(fin), "%s", b64s(client_final(&c, "pencil", sf,
	    NULL)));
	assert_int_equal(sasl_step(s, fin, strlen(fin)), SASL_CONTINUE);
	assert_int_equal(sasl_step(s, "*", 1), SASL_CANCEL);
	assert_string_equal(sasl_user(s), "");
	sasl_free(&s);
	/* anything but an empty answer to server-final */
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, NULL, sf);
	assert_int_equal(sasl_step(s, fin, strlen(fin)), SASL_FAIL);
	sasl_free(&s);	/* (random nonce: the old final is stale) */
	client_init(&c, "n,,", "user", "abcdefgh");
	s = scram_to_final(&c, &sec, NULL, sf);
	snprintf(fin, sizeof(fin), "%s", b64s(client_final(&c, "pencil", sf,
	    NULL)));
	assert_int_equal(sasl_step(s, fin, strlen(fin)), SASL_CONTINUE);
	assert_int_equal(sasl_step(s, "AA==", 4), SASL_MALFORMED);
	assert_string_equal(sasl_user(s), "");
	sasl_free(&s);
	/* a line while waiting for the secrets; secrets out of turn */
	s = scram_new(NULL);
	sasl_start(s, b64s("n,,n=u,r=abc"), strlen(b64s("n,,n=u,r=abc")));
	assert_int_equal(sasl_step(s, "", 0), SASL_FAIL);
	assert_int_equal(sasl_scram_secrets(s, &sec, NULL), SASL_FAIL);
	sasl_free(&s);
	s = scram_new(NULL);
	assert_int_equal(sasl_scram_secrets(s, &sec, NULL), SASL_FAIL);
	sasl_free(&s);
}

/* --- SCRAM: unknown users ---------------------------------------------- */

/* The decoded server-first for authcid user, the secrets given (NULL:
 * unknown), with the server secret key. */
static void
server_first_for(const char *user, const struct sasl_scram_secrets *sec,
    const uint8_t *key, char *sf)
{
	struct sasl_params p = test_params;
	struct sasl *s;
	char first[300];

	if (key != NULL)
		p.secret = key;
	p.nonce = "snonce";
	s = sasl_new(SASL_MECH_SCRAM_SHA_256, &p);
	snprintf(first, sizeof(first), "n,,n=%s,r=abc", user);
	assert_int_equal(sasl_start(s, b64s(first), strlen(b64s(first))),
	    SASL_NEED_SECRETS);
	assert_int_equal(sasl_scram_secrets(s, sec, NULL), SASL_CONTINUE);
	strcpy(sf, challenge(s));
	sasl_free(&s);
}

static void
test_scram_unknown_user(void **state)
{
	static const uint8_t other_key[32] = "another server secret, 32 bytes";
	char a[SASL_CHALLENGE_MAX], b[SASL_CHALLENGE_MAX];
	struct sasl_scram_secrets sec, bad;
	char sf[SASL_CHALLENGE_MAX], fin[1300];
	struct client c;
	struct sasl *s;

	/* a real user's server-first has the same shape: 16-byte salt,
	 * 10000 iterations */
	assert_int_equal(sasl_scram_secrets_make("pw", 2, 10000, &sec), 0);
	server_first_for("alice", &sec, NULL, a);
	server_first_for("nobody", NULL, NULL, b);
	assert_int_equal(strlen(a), strlen(b));
	assert_non_null(strstr(b, ",i=10000"));
	/* the same fake salt each time, and for any case */
	server_first_for("nobody", NULL, NULL, a);
	assert_string_equal(a, b);
	server_first_for("NoBody", NULL, NULL, a);
	assert_string_equal(a, b);
	/* another name or another server secret: another salt */
	server_first_for("nobody2", NULL, NULL, a);
	assert_string_not_equal(a, b);
	server_first_for("nobody", NULL, other_key, a);
	assert_string_not_equal(a, b);
	/* the exchange goes on and fails at the end only, whatever the
	 * password */
	client_init(&c, "n,,", "nobody", "abcdefgh");
	s = scram_to_final(&c, NULL, NULL, sf);
	snprintf(fin, sizeof(fin), "%s", b64s(client_final(&c, "pw", sf,
	    NULL)));
	assert_int_equal(sasl_step(s, fin, strlen(fin)), SASL_FAIL);
	assert_string_equal(sasl_error(s),
	    "SCRAM: no such user or no SCRAM secrets");
	sasl_free(&s);
	/* secrets out of bounds count as none */
	bad = sec;
	bad.iterations = 1000;
	client_init(&c, "n,,", "alice", "abcdefgh");
	s = scram_to_final(&c, &bad, NULL, sf);
	assert_non_null(strstr(sf, ",i=10000"));
	snprintf(fin, sizeof(fin), "%s", b64s(client_final(&c, "pw", sf,
	    NULL)));
	assert_int_equal(sasl_step(s, fin, strlen(fin)), SASL_FAIL);
	sasl_free(&s);
	bad = sec;
	bad.salt_len = 4;
	client_init(&c, "n,,", "alice", "abcdefgh");
	s = scram_to_final(&c, &bad, NULL, sf);
	assert_int_equal(c.salt_len, 16);
	sasl_free(&s);
	/* fake_iterations follows the params */
	{
		struct sasl_params p = test_params;
		const char *first = b64s("n,,n=nobody,r=abc");

		p.fake_iterations = 20000;
		s = sasl_new(SASL_MECH_SCRAM_SHA_256, &p);
		sasl_start(s, first, strlen(first));
		sasl_scram_secrets(s, NULL, NULL);
		assert_non_null(strstr(challenge(s), ",i=20000"));
		sasl_free(&s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_mech_lookup),
		cmocka_unit_test(test_plain_table),
		cmocka_unit_test(test_plain_limits),
		cmocka_unit_test(test_plain_bad_lines),
		cmocka_unit_test(test_plain_cancel),
		cmocka_unit_test(test_login_ok),
		cmocka_unit_test(test_login_bad),
		cmocka_unit_test(test_login_cancel),
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_secrets_text),
		cmocka_unit_test(test_scram_secrets_parse_bad),
		cmocka_unit_test(test_scram_client_ok),
		cmocka_unit_test(test_scram_client_pieces),
		cmocka_unit_test(test_scram_wrong_password),
		cmocka_unit_test(test_scram_tampered),
		cmocka_unit_test(test_scram_nonce),
		cmocka_unit_test(test_scram_channel_binding),
		cmocka_unit_test(test_scram_first_table),
		cmocka_unit_test(test_scram_final_table),
		cmocka_unit_test(test_scram_cancel_and_ack),
		cmocka_unit_test(test_scram_unknown_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
