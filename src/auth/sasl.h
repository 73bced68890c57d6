/* sasl.h: server-side SASL mechanisms (PLAIN, LOGIN, SCRAM-SHA-256) as
 * pure, resumable state machines: no I/O, no database, no logging.
 *
 * Input and output are the base64 lines of SMTP AUTH (RFC 4954), IMAP
 * AUTHENTICATE (RFC 9051) and POP3 AUTH (RFC 5034); base64 is handled
 * here, strictly.  A session drives one exchange like this:
 *
 *	s = sasl_new(mech, &params);
 *	r = sasl_start(s, ir, irlen);	    (ir NULL: none; "=": empty)
 *	loop:
 *	  SASL_CONTINUE	    send sasl_challenge() ("334 <it>", "+ <it>"),
 *			    read one line, r = sasl_step(s, line, len)
 *			    (or sasl_feed() pieces, then sasl_end())
 *	  SASL_CHECK	    PLAIN/LOGIN: have the auth process check
 *			    sasl_authcid() + sasl_password(), then
 *			    sasl_free() (which wipes the password).  The
 *			    answer of the auth process is the result.
 *	  SASL_NEED_SECRETS SCRAM: fetch the secrets of sasl_authcid()
 *			    (MSG_AUTH_SCRAM), then
 *			    r = sasl_scram_secrets(s, found ? &sec : NULL,
 *			    canonical user)
 *	  SASL_OK	    authenticated as sasl_user()
 *	  SASL_FAIL	    wrong credentials (535 / NO / -ERR)
 *	  SASL_MALFORMED    bad syntax or base64 (501 / BAD / -ERR)
 *	  SASL_CANCEL	    the client sent "*" (501 / BAD / -ERR)
 *	sasl_free(&s);
 *
 * FAIL and MALFORMED both count as failed attempts (the session adds its
 * delay); sasl_error() says why, for the log only (never the client).
 *
 * SCRAM's server-final message ("v=...") goes out as a last challenge
 * (SASL_CONTINUE); the client answers with an empty line, then SASL_OK.
 * This works in SMTP, IMAP and POP3 alike, none of which carries data
 * in its success reply.  An unknown user (or one without SCRAM secrets)
 * gets a salt and iteration count derived from the name and the server
 * secret, so the exchange looks the same until the final SASL_FAIL. */
#ifndef FACTEUR_AUTH_SASL_H
#define FACTEUR_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits (kept equal to ACCOUNT_ADDR_MAX, ACCOUNT_PASSWORD_MAX and
 * SMTP_AUTH_LINE_MAX). */
#define SASL_AUTHCID_MAX	256	/* authcid, authzid: bytes */
#define SASL_PASSWORD_MAX	511	/* PLAIN, LOGIN: bytes */
#define SASL_LINE_MAX		12288	/* one base64 response line */
#define SASL_DECODED_MAX	(SASL_LINE_MAX / 4 * 3)
#define SASL_CHALLENGE_MAX	2048	/* base64 challenge, NUL included */
#define SASL_SECRET_MIN		16	/* server secret for fake salts */
#define SASL_SECRET_MAX		64

/* SCRAM-SHA-256 */
#define SASL_SCRAM_MSG_MAX	1024	/* a decoded client message */
#define SASL_SCRAM_NONCE_MAX	256	/* client nonce: printable bytes */
#define SASL_SCRAM_SNONCE_RAND	24	/* random bytes in our nonce */
#define SASL_SCRAM_SNONCE_MAX	64	/* our nonce, printed */
#define SASL_SCRAM_ITER_MIN	4096	/* RFC 7677 §4: at least 4096 */
#define SASL_SCRAM_ITER_MAX	1000000
/* New secrets: ~5 ms of PBKDF2 here, spent once per password change
 * (the client pays it on each login; the server never does). */
#define SASL_SCRAM_ITER_DEFAULT	10000
#define SASL_SCRAM_SALT_MIN	8
#define SASL_SCRAM_SALT_MAX	64
#define SASL_SCRAM_SALT_LEN	16	/* new salts */
#define SASL_SCRAM_KEY_LEN	32	/* SHA-256 */
/* "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>", NUL included */
#define SASL_SCRAM_STORED_MAX	256

enum sasl_mech {
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
	SASL_MECH_SCRAM_SHA_256,
	SASL_MECH_COUNT,
};

/* What to advertise, strongest first (EHLO "AUTH ...", CAPABILITY
 * "AUTH=...", CAPA "SASL ..."). */
#define SASL_MECHS_ADVERTISED	"SCRAM-SHA-256 PLAIN LOGIN"

enum sasl_res {
	SASL_CONTINUE,		/* send sasl_challenge(), feed the answer */
	SASL_CHECK,		/* check sasl_authcid()/sasl_password() */
	SASL_NEED_SECRETS,	/* call sasl_scram_secrets() */
	SASL_OK,		/* authenticated as sasl_user() */
	SASL_FAIL,		/* authentication failed */
	SASL_MALFORMED,		/* protocol violation */
	SASL_CANCEL,		/* "*" from the client */
};

struct sasl_params {
	/* SCRAM: fake salts for unknown users are derived from this.  It
	 * must be the same in every worker and stay the same across
	 * restarts, or the salt of an unknown name would change and give
	 * it away.  SASL_SECRET_MIN..SASL_SECRET_MAX bytes. */
	const uint8_t	*secret;
	size_t		 secret_len;
	/* iteration count shown for unknown users; 0: the default.  Keep
	 * it equal to what real users' secrets were made with. */
	uint32_t	 fake_iterations;
	/* tests only: our SCRAM nonce instead of a random one (printable,
	 * no ',', at most SASL_SCRAM_SNONCE_MAX bytes); NULL normally */
	const char	*nonce;
};

/* A user's stored SCRAM-SHA-256 secrets (RFC 5802 §3, RFC 5803). */
struct sasl_scram_secrets {
	uint32_t	iterations;
	size_t		salt_len;
	uint8_t		salt[SASL_SCRAM_SALT_MAX];
	uint8_t		stored_key[SASL_SCRAM_KEY_LEN];
	uint8_t		server_key[SASL_SCRAM_KEY_LEN];
};

struct sasl;

/* 0 and *mech_r, or -1 for a mechanism we do not know (the name is
 * compared case-insensitively). */
int		 sasl_mech_lookup(const char *name, size_t len,
		    enum sasl_mech *mech_r);
const char	*sasl_mech_name(enum sasl_mech mech);

/* params is copied; for SCRAM its secret is required. */
struct sasl	*sasl_new(enum sasl_mech mech, const struct sasl_params *params);
/* Wipes every secret the exchange held. */
void		 sasl_free(struct sasl **sp);

/* Begin, with the initial response of the command if there was one
 * (ir NULL: none; "=": an empty one, RFC 4954 §4). */
enum sasl_res	 sasl_start(struct sasl *s, const char *ir, size_t len);
/* One client line (without CRLF) after SASL_CONTINUE. */
enum sasl_res	 sasl_step(struct sasl *s, const char *line, size_t len);
/* The same line in pieces: sasl_feed() any number of times, then
 * sasl_end().  Past SASL_LINE_MAX bytes the line is MALFORMED. */
void		 sasl_feed(struct sasl *s, const char *p, size_t len);
enum sasl_res	 sasl_end(struct sasl *s);
/* After SASL_NEED_SECRETS: sec NULL when the user is unknown or has no
 * SCRAM secrets (the exchange goes on and fails at the end); user is
 * the canonical address to authenticate as (NULL: the authcid).
 * Secrets out of bounds count as none. */
enum sasl_res	 sasl_scram_secrets(struct sasl *s,
		    const struct sasl_scram_secrets *sec, const char *user);

/* The base64 challenge to send after SASL_CONTINUE (maybe empty);
 * NUL-terminated, valid until the next call. */
const char	*sasl_challenge(const struct sasl *s, size_t *len_r);
/* NUL-terminated authentication identity (no control bytes), valid
 * from SASL_CHECK or SASL_NEED_SECRETS on, and kept after a later
 * failure (for the log); "" until parsed. */
const char	*sasl_authcid(const struct sasl *s);
/* After SASL_CHECK: the password (no NUL inside; NUL-terminated). */
const char	*sasl_password(const struct sasl *s, size_t *len_r);
/* After SASL_OK: the user to log in as. */
const char	*sasl_user(const struct sasl *s);
/* Why the last step failed (static text for the log), or NULL. */
const char	*sasl_error(const struct sasl *s);

/* --- SCRAM secrets ---------------------------------------------------- */

/* PBKDF2-HMAC-SHA-256 over the password bytes as given (no SASLprep:
 * printable ASCII is unchanged by it anyway), a fresh random salt of
 * SASL_SCRAM_SALT_LEN bytes.  0 or -1. */
int	sasl_scram_secrets_make(const char *password, size_t len,
	    uint32_t iterations, struct sasl_scram_secrets *out);
/* The same with a given salt (tests, RFC vectors).  0 or -1. */
int	sasl_scram_secrets_derive(const char *password, size_t len,
	    const uint8_t *salt, size_t salt_len, uint32_t iterations,
	    struct sasl_scram_secrets *out);
/* RFC 5803 text form.  0, or -1 when it does not fit. */
int	sasl_scram_secrets_format(const struct sasl_scram_secrets *sec,
	    char *out, size_t size);
/* Strict parse of the RFC 5803 form (bounds checked).  0 or -1. */
int	sasl_scram_secrets_parse(const char *in, size_t len,
	    struct sasl_scram_secrets *out);
void	sasl_scram_secrets_wipe(struct sasl_scram_secrets *sec);

/* --- base64 (RFC 4648 §4, padded) ------------------------------------- */

/* Writes the encoding and a NUL; the length, or (size_t)-1 when it
 * does not fit in size. */
size_t	sasl_base64_encode(const void *in, size_t len, char *out, size_t size);
/* Strict: only the alphabet, length a multiple of 4, padding only at
 * the end, unused bits zero.  0 and *len_r, or -1. */
int	sasl_base64_decode(const char *in, size_t len, uint8_t *out,
	    size_t size, size_t *len_r);

#endif
