/* sasl.c: server-side PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-
 * login) and SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel
 * binding.  No I/O: see sasl.h for how a session drives it.
 *
 * Every buffer that held a password, a decoded response or a key is
 * wiped with explicit_bzero() once it is no longer needed, and all of
 * the exchange is wiped by sasl_free(). */
#include <sys/random.h>

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/sasl.h"
#include "core/mem.h"
#include "core/str.h"

#define SASL_SCRAM_FIRST_MAX	512	/* our server-first message */
#define SASL_SCRAM_AM_MAX	(2 * SASL_SCRAM_MSG_MAX + SASL_SCRAM_FIRST_MAX)
#define SASL_SCRAM_PREFIX	"SCRAM-SHA-256$"
#define SASL_FAKE_LABEL_MAX	32

enum sasl_state {
	SASL_ST_INIT,
	SASL_ST_PLAIN,		/* waiting for the PLAIN message */
	SASL_ST_LOGIN_USER,	/* "Username:" sent */
	SASL_ST_LOGIN_PASS,	/* "Password:" sent */
	SASL_ST_SCRAM_FIRST,	/* waiting for client-first */
	SASL_ST_SCRAM_SECRETS,	/* waiting for sasl_scram_secrets() */
	SASL_ST_SCRAM_FINAL,	/* server-first sent */
	SASL_ST_SCRAM_ACK,	/* server-final sent: waiting for "" */
	SASL_ST_CHECK,		/* over: the caller checks the password */
	SASL_ST_DONE,		/* over: authenticated */
	SASL_ST_FAILED,		/* over: failed */
};

struct sasl_scram {
	struct sasl_scram_secrets sec;
	bool		fake;		/* unknown user: fail at the end */
	char		gs2[SASL_SCRAM_MSG_MAX];	/* "n,a=x," as sent */
	size_t		gs2_len;
	char		bare[SASL_SCRAM_MSG_MAX];	/* client-first-bare */
	size_t		bare_len;
	char		first[SASL_SCRAM_FIRST_MAX];	/* server-first */
	size_t		first_len;
	char		nonce[SASL_SCRAM_NONCE_MAX + SASL_SCRAM_SNONCE_MAX];
	size_t		nonce_len;	/* client's, then both */
};

struct sasl {
	enum sasl_mech	 mech;
	enum sasl_state	 st;
	uint8_t		 secret[SASL_SECRET_MAX];
	size_t		 secret_len;
	uint32_t	 fake_iterations;
	char		 fixed_nonce[SASL_SCRAM_SNONCE_MAX + 1];
	char		 in[SASL_LINE_MAX];	/* the line being fed */
	size_t		 in_len;
	bool		 in_over;
	uint8_t		 dec[SASL_DECODED_MAX];	/* ... decoded */
	char		 out[SASL_CHALLENGE_MAX];
	size_t		 out_len;
	char		 authcid[SASL_AUTHCID_MAX + 1];
	char		 user[SASL_AUTHCID_MAX + 1];
	char		 password[SASL_PASSWORD_MAX + 1];
	size_t		 password_len;
	const char	*error;
	struct sasl_scram scram;
};

static const char *const sasl_mech_names[SASL_MECH_COUNT] = {
	[SASL_MECH_PLAIN] = "PLAIN",
	[SASL_MECH_LOGIN] = "LOGIN",
	[SASL_MECH_SCRAM_SHA_256] = "SCRAM-SHA-256",
};

/* --- base64 ----------------------------------------------------------- */

static const char sasl_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
sasl_base64_encode(const void *in, size_t len, char *out, size_t size)
{
	const uint8_t *p = in;
	size_t o = 0;
	uint32_t w;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || size < (len + 2) / 3 * 4 + 1)
		return (size_t)-1;
	for (size_t i = 0; i < len; i += 3) {
		w = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			w |= p[i + 2];
		out[o++] = sasl_b64_alphabet[w >> 18];
		out[o++] = sasl_b64_alphabet[(w >> 12) & 63];
		out[o++] = i + 1 < len ? sasl_b64_alphabet[(w >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? sasl_b64_alphabet[w & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static int
sasl_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of four: the 24 bits and how many '=' ended it, or -1. */
static int
sasl_b64_quad(const char *q, bool last, uint32_t *w_r, size_t *pad_r)
{
	uint32_t w = 0;
	size_t pad = 0;
	int v;

	for (size_t k = 0; k < 4; k++) {
		if (q[k] == '=' && last && k >= 2) {
			pad++;
			v = 0;
		} else if (pad > 0 || (v = sasl_b64_value((unsigned char)q[k]))
		    < 0)
			return -1;
		w = w << 6 | (uint32_t)v;
	}
	/* the bits that padding leaves unused must be zero (RFC 4648 §3.5) */
	if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
		return -1;
	*w_r = w;
	*pad_r = pad;
	return 0;
}

int
sasl_base64_decode(const char *in, size_t len, uint8_t *out, size_t size,
    size_t *len_r)
{
	size_t o = 0, pad, n;
	uint32_t w;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		if (sasl_b64_quad(in + i, i + 4 == len, &w, &pad) == -1)
			return -1;
		if ((n = 3 - pad) > size - o)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (n > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (n > 2)
			out[o++] = (uint8_t)w;
	}
	*len_r = o;
	return 0;
}

/* --- helpers ---------------------------------------------------------- */

static void
sasl_hmac(const uint8_t *key, size_t keylen, const void *data, size_t len,
    uint8_t out[SASL_SCRAM_KEY_LEN])
{
	unsigned int n = SASL_SCRAM_KEY_LEN;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n) == NULL)
		memset(out, 0, SASL_SCRAM_KEY_LEN);	/* then never matches */
}

static int
sasl_random(void *p, size_t n)
{
	ssize_t r;

	do
		r = getrandom(p, n, 0);
	while (r == -1 && errno == EINTR);
	return r == (ssize_t)n ? 0 : -1;
}

static bool
sasl_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* An identity: 1..SASL_AUTHCID_MAX bytes, no control bytes (and so no
 * NUL); they reach the log and the account lookup. */
static bool
sasl_name_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n > SASL_AUTHCID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (sasl_ctl(p[i]))
			return false;
	return true;
}

static bool
sasl_password_ok(const uint8_t *p, size_t n)
{
	return n > 0 && n <= SASL_PASSWORD_MAX && memchr(p, '\0', n) == NULL;
}

/* authzid empty or the authcid (addresses: ASCII case-insensitive) */
static bool
sasl_authzid_ok(const char *authcid, const uint8_t *z, size_t n)
{
	return n == 0 || str_eq_ci(str_cstr(authcid),
	    str_make((const char *)z, n));
}

static void
sasl_set_authcid(struct sasl *s, const void *p, size_t n)
{
	memcpy(s->authcid, p, n);
	s->authcid[n] = '\0';
}

static void
sasl_set_password(struct sasl *s, const void *p, size_t n)
{
	memcpy(s->password, p, n);
	s->password[n] = '\0';
	s->password_len = n;
}

/* The exchange is over for us: the caller checks the password. */
static enum sasl_res
sasl_check(struct sasl *s)
{
	s->st = SASL_ST_CHECK;
	s->out_len = 0;
	s->out[0] = '\0';
	return SASL_CHECK;
}

/* The next challenge: raw bytes, sent base64-encoded. */
static enum sasl_res
sasl_challenge_set(struct sasl *s, const void *raw, size_t n)
{
	s->out_len = sasl_base64_encode(raw, n, s->out, sizeof(s->out));
	assert(s->out_len != (size_t)-1);
	return SASL_CONTINUE;
}

static void
sasl_wipe_input(struct sasl *s)
{
	explicit_bzero(s->in, s->in_len);
	explicit_bzero(s->dec, sizeof(s->dec));
	s->in_len = 0;
	s->in_over = false;
}

/* Wipe the SCRAM state.  (Not inlined: gcc 12 -O2 with ASan then
 * mistakes the object for its first member, -Wstringop-overflow.) */
static void __attribute__((noinline))
sasl_scram_wipe(struct sasl_scram *sc)
{
	explicit_bzero(sc, sizeof(*sc));
}

/* End of the exchange on failure: nothing secret survives it. */
static enum sasl_res
sasl_fail(struct sasl *s, enum sasl_res r, const char *why)
{
	s->st = SASL_ST_FAILED;
	s->error = why;
	explicit_bzero(s->password, sizeof(s->password));
	s->password_len = 0;
	sasl_scram_wipe(&s->scram);
	s->out_len = 0;
	s->out[0] = '\0';
	return r;
}

/* --- PLAIN, LOGIN ----------------------------------------------------- */

/* authzid NUL authcid NUL passwd */
static enum sasl_res
sasl_plain(struct sasl *s, const uint8_t *m, size_t n)
{
	const uint8_t *nul1, *nul2, *authcid, *pw;
	size_t zlen, clen, plen;

	if ((nul1 = memchr(m, '\0', n)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - m))) ==
	    NULL)
		return sasl_fail(s, SASL_MALFORMED, "PLAIN: missing NUL");
	zlen = (size_t)(nul1 - m);
	authcid = nul1 + 1;
	clen = (size_t)(nul2 - authcid);
	pw = nul2 + 1;
	plen = n - (size_t)(pw - m);
	if (!sasl_name_ok(authcid, clen) || zlen > SASL_AUTHCID_MAX ||
	    (zlen > 0 && !sasl_name_ok(m, zlen)))
		return sasl_fail(s, SASL_MALFORMED, "PLAIN: bad identity");
	if (!sasl_password_ok(pw, plen))
		return sasl_fail(s, SASL_MALFORMED, "PLAIN: bad password");
	sasl_set_authcid(s, authcid, clen);
	if (!sasl_authzid_ok(s->authcid, m, zlen))
		return sasl_fail(s, SASL_FAIL, "PLAIN: authzid differs");
	sasl_set_password(s, pw, plen);
	return sasl_check(s);
}

static enum sasl_res
sasl_login_user(struct sasl *s, const uint8_t *m, size_t n)
{
	if (!sasl_name_ok(m, n))
		return sasl_fail(s, SASL_MALFORMED, "LOGIN: bad user name");
	sasl_set_authcid(s, m, n);
	s->st = SASL_ST_LOGIN_PASS;
	return sasl_challenge_set(s, "Password:", 9);
}

static enum sasl_res
sasl_login_pass(struct sasl *s, const uint8_t *m, size_t n)
{
	if (!sasl_password_ok(m, n))
		return sasl_fail(s, SASL_MALFORMED, "LOGIN: bad password");
	sasl_set_password(s, m, n);
	return sasl_check(s);
}

/* --- SCRAM: message syntax -------------------------------------------- */

/* "<name>=<value>" at *off, up to ',' or the end; *off ends past the
 * ',' and *more says whether there was one.  The value is non-empty. */
static int
sasl_scram_attr(const char *m, size_t n, size_t *off, char name,
    struct str *v, bool *more)
{
	const char *comma;
	size_t start = *off + 2;

	if (start > n || m[*off] != name || m[*off + 1] != '=')
		return -1;
	comma = memchr(m + start, ',', n - start);
	v->p = m + start;
	v->len = comma != NULL ? (size_t)(comma - v->p) : n - start;
	*more = comma != NULL;
	*off = start + v->len + (*more ? 1 : 0);
	return v->len > 0 ? 0 : -1;
}

/* An extension "x=value" (RFC 5802 attr-val); its name is any letter. */
static int
sasl_scram_ext(const char *m, size_t n, size_t *off, bool *more)
{
	struct str v;
	char c;

	if (*off >= n)
		return -1;
	c = m[*off];
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
		return -1;
	return sasl_scram_attr(m, n, off, c, &v, more);
}

/* saslname: "=2C" is ',', "=3D" is '=', any other '=' fails (RFC 5802
 * §5.1).  Written NUL-terminated into out[SASL_AUTHCID_MAX + 1]. */
static int
sasl_scram_name(struct str v, char *out)
{
	size_t o = 0;
	char c;

	out[0] = '\0';
	for (size_t i = 0; i < v.len; i++) {
		c = v.p[i];
		if (c == '=') {
			if (v.len - i < 3)
				goto fail;
			if (memcmp(v.p + i + 1, "2C", 2) == 0)
				c = ',';
			else if (memcmp(v.p + i + 1, "3D", 2) == 0)
				c = '=';
			else
				goto fail;
			i += 2;
		}
		if (o == SASL_AUTHCID_MAX)
			goto fail;
		out[o++] = c;
	}
	out[o] = '\0';
	if (sasl_name_ok((const uint8_t *)out, o))
		return 0;
fail:
	out[0] = '\0';
	return -1;
}

/* printable = %x21-2B / %x2D-7E */
static bool
sasl_scram_nonce_ok(const char *p, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e ||
		    p[i] == ',')
			return false;
	return true;
}

/* gs2-header: "n," / "y," then "" or "a=<saslname>", then ",". */
static enum sasl_res
sasl_scram_gs2(struct sasl *s, const char *m, size_t n, size_t *off,
    char *authzid)
{
	struct str v;
	bool more;

	authzid[0] = '\0';
	if (n >= 1 && m[0] == 'p')
		return sasl_fail(s, SASL_FAIL,
		    "SCRAM: channel binding not supported");
	if (n < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',')
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: bad gs2 header");
	*off = 2;
	if (m[2] == ',')
		*off = 3;
	else if (sasl_scram_attr(m, n, off, 'a', &v, &more) == -1 || !more ||
	    sasl_scram_name(v, authzid) == -1)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: bad authzid");
	memcpy(s->scram.gs2, m, *off);
	s->scram.gs2_len = *off;
	return SASL_CONTINUE;
}

/* client-first-message-bare: [m=...,] n=user,r=nonce[,ext...] */
static enum sasl_res
sasl_scram_bare(struct sasl *s, const char *m, size_t n, size_t off)
{
	struct str user, nonce;
	bool more;

	if (off + 1 < n && m[off] == 'm' && m[off + 1] == '=')
		return sasl_fail(s, SASL_FAIL,
		    "SCRAM: unsupported mandatory extension");
	memcpy(s->scram.bare, m + off, n - off);
	s->scram.bare_len = n - off;
	if (sasl_scram_attr(m, n, &off, 'n', &user, &more) == -1 || !more ||
	    sasl_scram_name(user, s->authcid) == -1)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: bad user name");
	if (sasl_scram_attr(m, n, &off, 'r', &nonce, &more) == -1 ||
	    !sasl_scram_nonce_ok(nonce.p, nonce.len, SASL_SCRAM_NONCE_MAX))
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: bad nonce");
	while (more)
		if (sasl_scram_ext(m, n, &off, &more) == -1)
			return sasl_fail(s, SASL_MALFORMED,
			    "SCRAM: bad extension");
	memcpy(s->scram.nonce, nonce.p, nonce.len);
	s->scram.nonce_len = nonce.len;
	return SASL_CONTINUE;
}

static enum sasl_res
sasl_scram_client_first(struct sasl *s, const uint8_t *raw, size_t n)
{
	const char *m = (const char *)raw;
	char authzid[SASL_AUTHCID_MAX + 1];
	enum sasl_res r;
	size_t off;

	if (n > SASL_SCRAM_MSG_MAX)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: message too long");
	if (memchr(m, '\0', n) != NULL)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: NUL in message");
	if ((r = sasl_scram_gs2(s, m, n, &off, authzid)) != SASL_CONTINUE ||
	    (r = sasl_scram_bare(s, m, n, off)) != SASL_CONTINUE)
		return r;
	if (!sasl_authzid_ok(s->authcid, (const uint8_t *)authzid,
	    strlen(authzid)))
		return sasl_fail(s, SASL_FAIL, "SCRAM: authzid differs");
	s->st = SASL_ST_SCRAM_SECRETS;
	return SASL_NEED_SECRETS;
}

/* --- SCRAM: secrets, server-first -------------------------------------- */

/* HMAC(secret, label NUL lowercased-authcid): the same for every
 * spelling of a name, as the account lookup is case-insensitive. */
static void
sasl_scram_fake_mac(const struct sasl *s, const char *label,
    uint8_t out[SASL_SCRAM_KEY_LEN])
{
	char data[SASL_FAKE_LABEL_MAX + 1 + SASL_AUTHCID_MAX];
	size_t l = strlen(label), n = strlen(s->authcid);

	assert(l <= SASL_FAKE_LABEL_MAX);
	memcpy(data, label, l + 1);
	for (size_t i = 0; i < n; i++) {
		char c = s->authcid[i];

		data[l + 1 + i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	sasl_hmac(s->secret, s->secret_len, data, l + 1 + n, out);
}

static void
sasl_scram_fake(struct sasl *s)
{
	struct sasl_scram_secrets *sec = &s->scram.sec;
	uint8_t mac[SASL_SCRAM_KEY_LEN];

	sasl_scram_fake_mac(s, "facteur scram salt", mac);
	memcpy(sec->salt, mac, SASL_SCRAM_SALT_LEN);
	sec->salt_len = SASL_SCRAM_SALT_LEN;
	sec->iterations = s->fake_iterations;
	sasl_scram_fake_mac(s, "facteur scram stored", sec->stored_key);
	sasl_scram_fake_mac(s, "facteur scram server", sec->server_key);
	s->scram.fake = true;
	explicit_bzero(mac, sizeof(mac));
}

static bool
sasl_scram_secrets_ok(const struct sasl_scram_secrets *sec)
{
	return sec->iterations >= SASL_SCRAM_ITER_MIN &&
	    sec->iterations <= SASL_SCRAM_ITER_MAX &&
	    sec->salt_len >= SASL_SCRAM_SALT_MIN &&
	    sec->salt_len <= SASL_SCRAM_SALT_MAX;
}

/* Append our nonce (fixed for tests, else random) to the client's. */
static int
sasl_scram_snonce(struct sasl *s)
{
	uint8_t rnd[SASL_SCRAM_SNONCE_RAND];
	char *dst = s->scram.nonce + s->scram.nonce_len;
	size_t n;

	if (s->fixed_nonce[0] != '\0') {
		n = strlen(s->fixed_nonce);
		memcpy(dst, s->fixed_nonce, n);
	} else {
		if (sasl_random(rnd, sizeof(rnd)) == -1)
			return -1;
		n = sasl_base64_encode(rnd, sizeof(rnd), dst,
		    SASL_SCRAM_SNONCE_MAX + 1);
	}
	s->scram.nonce_len += n;
	return 0;
}

/* r=<nonce>,s=<salt>,i=<iterations> */
static enum sasl_res
sasl_scram_server_first(struct sasl *s)
{
	struct sasl_scram *sc = &s->scram;
	char salt[SASL_SCRAM_SALT_MAX / 3 * 4 + 5];
	int n;

	if (sasl_scram_snonce(s) == -1)
		return sasl_fail(s, SASL_FAIL, "SCRAM: getrandom failed");
	sasl_base64_encode(sc->sec.salt, sc->sec.salt_len, salt, sizeof(salt));
	n = snprintf(sc->first, sizeof(sc->first), "r=%.*s,s=%s,i=%u",
	    (int)sc->nonce_len, sc->nonce, salt, sc->sec.iterations);
	assert(n > 0 && (size_t)n < sizeof(sc->first));
	sc->first_len = (size_t)n;
	s->st = SASL_ST_SCRAM_FINAL;
	return sasl_challenge_set(s, sc->first, sc->first_len);
}

enum sasl_res
sasl_scram_secrets(struct sasl *s, const struct sasl_scram_secrets *sec,
    const char *user)
{
	if (s->st != SASL_ST_SCRAM_SECRETS)
		return sasl_fail(s, SASL_FAIL, "SCRAM: secrets out of turn");
	if (sec != NULL && sasl_scram_secrets_ok(sec)) {
		s->scram.sec = *sec;
		snprintf(s->user, sizeof(s->user), "%s",
		    user != NULL ? user : s->authcid);
	} else
		sasl_scram_fake(s);
	return sasl_scram_server_first(s);
}

/* --- SCRAM: client-final ---------------------------------------------- */

/* c=<base64 gs2 header>,r=<nonce>[,ext...],p=<proof>.  *wp_r: length
 * of client-final-without-proof. */
static enum sasl_res
sasl_scram_final_parse(struct sasl *s, const char *m, size_t n,
    uint8_t proof[SASL_SCRAM_KEY_LEN], size_t *wp_r)
{
	struct sasl_scram *sc = &s->scram;
	uint8_t cb[SASL_SCRAM_MSG_MAX];
	struct str c, r, p;
	size_t off = 0, cblen, plen, wp;
	bool more;

	if (sasl_scram_attr(m, n, &off, 'c', &c, &more) == -1 || !more ||
	    sasl_base64_decode(c.p, c.len, cb, sizeof(cb), &cblen) == -1 ||
	    sasl_scram_attr(m, n, &off, 'r', &r, &more) == -1 || !more)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: bad final message");
	while (off + 1 < n && !(m[off] == 'p' && m[off + 1] == '='))
		if (sasl_scram_ext(m, n, &off, &more) == -1 || !more)
			return sasl_fail(s, SASL_MALFORMED,
			    "SCRAM: bad final message");
	wp = off - 1;
	if (sasl_scram_attr(m, n, &off, 'p', &p, &more) == -1 || more ||
	    sasl_base64_decode(p.p, p.len, proof, SASL_SCRAM_KEY_LEN,
	    &plen) == -1 || plen != SASL_SCRAM_KEY_LEN)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: bad proof");
	if (cblen != sc->gs2_len || memcmp(cb, sc->gs2, cblen) != 0)
		return sasl_fail(s, SASL_FAIL, "SCRAM: channel binding "
		    "differs from the gs2 header");
	if (r.len != sc->nonce_len || memcmp(r.p, sc->nonce, r.len) != 0)
		return sasl_fail(s, SASL_FAIL, "SCRAM: nonce differs");
	*wp_r = wp;
	return SASL_CONTINUE;
}

/* AuthMessage = client-first-bare "," server-first "," final-w/o-proof */
static size_t
sasl_scram_authmsg(const struct sasl *s, const char *final, size_t wp,
    char *am)
{
	const struct sasl_scram *sc = &s->scram;
	size_t n = 0;

	memcpy(am + n, sc->bare, sc->bare_len);
	n += sc->bare_len;
	am[n++] = ',';
	memcpy(am + n, sc->first, sc->first_len);
	n += sc->first_len;
	am[n++] = ',';
	memcpy(am + n, final, wp);
	return n + wp;
}

/* H(ClientProof XOR HMAC(StoredKey, AM)) == StoredKey, in constant
 * time; a fake user never matches. */
static bool
sasl_scram_proof_ok(const struct sasl *s, const char *am, size_t amlen,
    uint8_t proof[SASL_SCRAM_KEY_LEN])
{
	const struct sasl_scram *sc = &s->scram;
	uint8_t sig[SASL_SCRAM_KEY_LEN], h[SASL_SCRAM_KEY_LEN];
	bool ok;

	sasl_hmac(sc->sec.stored_key, SASL_SCRAM_KEY_LEN, am, amlen, sig);
	for (size_t i = 0; i < SASL_SCRAM_KEY_LEN; i++)
		proof[i] ^= sig[i];	/* now ClientKey */
	SHA256(proof, SASL_SCRAM_KEY_LEN, h);
	ok = CRYPTO_memcmp(h, sc->sec.stored_key, SASL_SCRAM_KEY_LEN) == 0;
	ok = ok && !sc->fake;
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(h, sizeof(h));
	return ok;
}

/* v=<base64 HMAC(ServerKey, AM)> */
static enum sasl_res
sasl_scram_server_final(struct sasl *s, const char *am, size_t amlen)
{
	uint8_t sig[SASL_SCRAM_KEY_LEN];
	char v[2 + SASL_SCRAM_KEY_LEN * 2];
	size_t n;

	sasl_hmac(s->scram.sec.server_key, SASL_SCRAM_KEY_LEN, am, amlen, sig);
	memcpy(v, "v=", 2);
	n = sasl_base64_encode(sig, sizeof(sig), v + 2, sizeof(v) - 2);
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(&s->scram.sec, sizeof(s->scram.sec));
	s->st = SASL_ST_SCRAM_ACK;
	return sasl_challenge_set(s, v, 2 + n);
}

static enum sasl_res
sasl_scram_client_final(struct sasl *s, const uint8_t *raw, size_t n)
{
	const char *m = (const char *)raw;
	uint8_t proof[SASL_SCRAM_KEY_LEN];
	char am[SASL_SCRAM_AM_MAX];
	size_t wp = 0, amlen;
	enum sasl_res r;

	if (n > SASL_SCRAM_MSG_MAX)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: message too long");
	if (memchr(m, '\0', n) != NULL)
		return sasl_fail(s, SASL_MALFORMED, "SCRAM: NUL in message");
	if ((r = sasl_scram_final_parse(s, m, n, proof, &wp)) !=
	    SASL_CONTINUE)
		return r;
	amlen = sasl_scram_authmsg(s, m, wp, am);
	if (!sasl_scram_proof_ok(s, am, amlen, proof))
		r = sasl_fail(s, SASL_FAIL, s->scram.fake ? "SCRAM: no "
		    "such user or no SCRAM secrets" : "SCRAM: wrong proof");
	else
		r = sasl_scram_server_final(s, am, amlen);
	explicit_bzero(proof, sizeof(proof));
	explicit_bzero(am, sizeof(am));
	return r;
}

static enum sasl_res
sasl_scram_ack(struct sasl *s, const uint8_t *m, size_t n)
{
	if (n != 0)
		return sasl_fail(s, SASL_MALFORMED,
		    "SCRAM: data after server-final");
	s->st = SASL_ST_DONE;
	s->out_len = 0;
	s->out[0] = '\0';
	return SASL_OK;
}

/* --- driving ---------------------------------------------------------- */

int
sasl_mech_lookup(const char *name, size_t len, enum sasl_mech *mech_r)
{
	for (int i = 0; i < SASL_MECH_COUNT; i++) {
		if (str_eq_ci(str_make(name, len),
		    str_cstr(sasl_mech_names[i]))) {
			*mech_r = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

const char *
sasl_mech_name(enum sasl_mech mech)
{
	return mech < SASL_MECH_COUNT ? sasl_mech_names[mech] : "?";
}

struct sasl *
sasl_new(enum sasl_mech mech, const struct sasl_params *params)
{
	struct sasl *s = xcalloc(1, sizeof(*s));

	assert(mech < SASL_MECH_COUNT);
	s->mech = mech;
	s->st = SASL_ST_INIT;
	s->fake_iterations = params != NULL && params->fake_iterations != 0 ?
	    params->fake_iterations : SASL_SCRAM_ITER_DEFAULT;
	if (params != NULL && params->secret != NULL) {
		assert(params->secret_len <= SASL_SECRET_MAX);
		memcpy(s->secret, params->secret, params->secret_len);
		s->secret_len = params->secret_len;
	}
	if (params != NULL && params->nonce != NULL) {
		assert(sasl_scram_nonce_ok(params->nonce,
		    strlen(params->nonce), SASL_SCRAM_SNONCE_MAX));
		snprintf(s->fixed_nonce, sizeof(s->fixed_nonce), "%s",
		    params->nonce);
	}
	assert(mech != SASL_MECH_SCRAM_SHA_256 ||
	    s->secret_len >= SASL_SECRET_MIN);
	return s;
}

void
sasl_free(struct sasl **sp)
{
	if (*sp == NULL)
		return;
	explicit_bzero(*sp, sizeof(**sp));
	free(*sp);
	*sp = NULL;
}

/* One decoded response, by state. */
static enum sasl_res
sasl_dispatch(struct sasl *s, const uint8_t *m, size_t n)
{
	switch (s->st) {
	case SASL_ST_PLAIN:
		return sasl_plain(s, m, n);
	case SASL_ST_LOGIN_USER:
		return sasl_login_user(s, m, n);
	case SASL_ST_LOGIN_PASS:
		return sasl_login_pass(s, m, n);
	case SASL_ST_SCRAM_FIRST:
		return sasl_scram_client_first(s, m, n);
	case SASL_ST_SCRAM_FINAL:
		return sasl_scram_client_final(s, m, n);
	case SASL_ST_SCRAM_ACK:
		return sasl_scram_ack(s, m, n);
	default:
		return sasl_fail(s, SASL_FAIL, "response out of turn");
	}
}

/* The line in s->in: cancel, decode, dispatch. */
static enum sasl_res
sasl_line(struct sasl *s, bool initial)
{
	size_t n;
	enum sasl_res r;

	if (s->in_over)
		r = sasl_fail(s, SASL_MALFORMED, "response too long");
	else if (!initial && s->in_len == 1 && s->in[0] == '*')
		r = sasl_fail(s, SASL_CANCEL, "cancelled by the client");
	else if (initial && s->in_len == 1 && s->in[0] == '=')
		r = sasl_dispatch(s, s->dec, 0);
	else if (sasl_base64_decode(s->in, s->in_len, s->dec, sizeof(s->dec),
	    &n) == -1)
		r = sasl_fail(s, SASL_MALFORMED, "bad base64");
	else
		r = sasl_dispatch(s, s->dec, n);
	sasl_wipe_input(s);
	return r;
}

void
sasl_feed(struct sasl *s, const char *p, size_t len)
{
	if (s->in_over || len > sizeof(s->in) - s->in_len) {
		s->in_over = true;
		return;
	}
	memcpy(s->in + s->in_len, p, len);
	s->in_len += len;
}

enum sasl_res
sasl_end(struct sasl *s)
{
	if (s->st == SASL_ST_INIT || s->st == SASL_ST_SCRAM_SECRETS ||
	    s->st >= SASL_ST_CHECK) {
		sasl_wipe_input(s);
		return sasl_fail(s, SASL_FAIL, "response out of turn");
	}
	return sasl_line(s, false);
}

enum sasl_res
sasl_step(struct sasl *s, const char *line, size_t len)
{
	sasl_feed(s, line, len);
	return sasl_end(s);
}

enum sasl_res
sasl_start(struct sasl *s, const char *ir, size_t len)
{
	static const enum sasl_state first[SASL_MECH_COUNT] = {
		[SASL_MECH_PLAIN] = SASL_ST_PLAIN,
		[SASL_MECH_LOGIN] = SASL_ST_LOGIN_USER,
		[SASL_MECH_SCRAM_SHA_256] = SASL_ST_SCRAM_FIRST,
	};

	if (s->st != SASL_ST_INIT)
		return sasl_fail(s, SASL_FAIL, "exchange started twice");
	s->st = first[s->mech];
	if (ir == NULL) {
		if (s->mech == SASL_MECH_LOGIN)
			return sasl_challenge_set(s, "Username:", 9);
		return sasl_challenge_set(s, "", 0);
	}
	sasl_feed(s, ir, len);
	return sasl_line(s, true);
}

const char *
sasl_challenge(const struct sasl *s, size_t *len_r)
{
	if (len_r != NULL)
		*len_r = s->out_len;
	return s->out;
}

const char *
sasl_authcid(const struct sasl *s)
{
	return s->authcid;
}

const char *
sasl_password(const struct sasl *s, size_t *len_r)
{
	if (len_r != NULL)
		*len_r = s->password_len;
	return s->password;
}

const char *
sasl_user(const struct sasl *s)
{
	return s->st == SASL_ST_DONE ? s->user : "";
}

const char *
sasl_error(const struct sasl *s)
{
	return s->error;
}

/* --- SCRAM secrets: making, RFC 5803 text ------------------------------ */

void
sasl_scram_secrets_wipe(struct sasl_scram_secrets *sec)
{
	explicit_bzero(sec, sizeof(*sec));
}

int
sasl_scram_secrets_derive(const char *password, size_t len,
    const uint8_t *salt, size_t salt_len, uint32_t iterations,
    struct sasl_scram_secrets *out)
{
	uint8_t salted[SASL_SCRAM_KEY_LEN], client_key[SASL_SCRAM_KEY_LEN];
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (salt_len < SASL_SCRAM_SALT_MIN || salt_len > SASL_SCRAM_SALT_MAX ||
	    iterations < SASL_SCRAM_ITER_MIN ||
	    iterations > SASL_SCRAM_ITER_MAX || len > SASL_PASSWORD_MAX)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len,
	    (int)iterations, EVP_sha256(), sizeof(salted), salted) != 1)
		goto fail;
	sasl_hmac(salted, sizeof(salted), "Client Key", 10, client_key);
	SHA256(client_key, sizeof(client_key), out->stored_key);
	sasl_hmac(salted, sizeof(salted), "Server Key", 10, out->server_key);
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	r = 0;
fail:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return r;
}

int
sasl_scram_secrets_make(const char *password, size_t len,
    uint32_t iterations, struct sasl_scram_secrets *out)
{
	uint8_t salt[SASL_SCRAM_SALT_LEN];

	memset(out, 0, sizeof(*out));
	if (sasl_random(salt, sizeof(salt)) == -1)
		return -1;
	return sasl_scram_secrets_derive(password, len, salt, sizeof(salt),
	    iterations, out);
}

int
sasl_scram_secrets_format(const struct sasl_scram_secrets *sec, char *out,
    size_t size)
{
	char salt[SASL_SCRAM_SALT_MAX / 3 * 4 + 5];
	char stored[SASL_SCRAM_KEY_LEN / 3 * 4 + 5];
	char server[SASL_SCRAM_KEY_LEN / 3 * 4 + 5];
	int n;

	if (!sasl_scram_secrets_ok(sec))
		return -1;
	sasl_base64_encode(sec->salt, sec->salt_len, salt, sizeof(salt));
	sasl_base64_encode(sec->stored_key, SASL_SCRAM_KEY_LEN, stored,
	    sizeof(stored));
	sasl_base64_encode(sec->server_key, SASL_SCRAM_KEY_LEN, server,
	    sizeof(server));
	n = snprintf(out, size, SASL_SCRAM_PREFIX "%u:%s$%s:%s",
	    sec->iterations, salt, stored, server);
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(server, sizeof(server));
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Decimal without sign or leading zero, in the iteration bounds. */
static int
sasl_scram_iter_parse(const char *p, size_t n, uint32_t *iter_r)
{
	uint32_t v = 0;

	if (n == 0 || n > 7 || p[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v < SASL_SCRAM_ITER_MIN || v > SASL_SCRAM_ITER_MAX)
		return -1;
	*iter_r = v;
	return 0;
}

/* The field of in[*off..] up to sep (or the end when sep is 0). */
static struct str
sasl_scram_field(const char *in, size_t len, size_t *off, char sep)
{
	const char *end = sep != '\0' ?
	    memchr(in + *off, sep, len - *off) : NULL;
	struct str f = { in + *off, end != NULL ? (size_t)(end - in) - *off :
	    len - *off };

	*off += f.len + (end != NULL ? 1 : 0);
	if (sep != '\0' && end == NULL)
		f.p = NULL;	/* the separator is missing */
	return f;
}

int
sasl_scram_secrets_parse(const char *in, size_t len,
    struct sasl_scram_secrets *out)
{
	size_t pre = sizeof(SASL_SCRAM_PREFIX) - 1, off = pre, n1, n2;
	struct str iter, salt, stored, server;

	memset(out, 0, sizeof(*out));
	if (len < pre || memcmp(in, SASL_SCRAM_PREFIX, pre) != 0)
		return -1;
	iter = sasl_scram_field(in, len, &off, ':');
	salt = sasl_scram_field(in, len, &off, '$');
	stored = sasl_scram_field(in, len, &off, ':');
	server = sasl_scram_field(in, len, &off, '\0');
	if (iter.p == NULL || salt.p == NULL || stored.p == NULL ||
	    sasl_scram_iter_parse(iter.p, iter.len, &out->iterations) == -1 ||
	    sasl_base64_decode(salt.p, salt.len, out->salt, sizeof(out->salt),
	    &out->salt_len) == -1 || out->salt_len < SASL_SCRAM_SALT_MIN ||
	    sasl_base64_decode(stored.p, stored.len, out->stored_key,
	    SASL_SCRAM_KEY_LEN, &n1) == -1 || n1 != SASL_SCRAM_KEY_LEN ||
	    sasl_base64_decode(server.p, server.len, out->server_key,
	    SASL_SCRAM_KEY_LEN, &n2) == -1 || n2 != SASL_SCRAM_KEY_LEN) {
		sasl_scram_secrets_wipe(out);
		return -1;
	}
	return 0;
}
