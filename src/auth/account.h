/* account.h: domains, users and aliases in one SQLite database
 * (DATA_DIR/accounts.db, WAL mode).  The CLI writes it; the auth process
 * reads it.  Addresses are stored lowercased; local parts compare
 * case-insensitively. */
#ifndef FACTEUR_AUTH_ACCOUNT_H
#define FACTEUR_AUTH_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

struct account_db;
struct sasl_scram_secrets;

/* libxcrypt hashes at most 511 bytes (CRYPT_MAX_PASSPHRASE_SIZE - 1). */
#define ACCOUNT_PASSWORD_MAX	511
/* PBKDF2 iterations of new SCRAM-SHA-256 secrets (RFC 7677 asks at
 * least 4096; 10000 costs the client ~5 ms per login here). */
#define ACCOUNT_SCRAM_ITER	10000

/* Open (and when !readonly create, with the schema) the database. */
int	account_db_open(const char *path, bool readonly,
	    struct account_db **db_r, const char **err_r);
void	account_db_close(struct account_db **dbp);

/* Each returns 0, or -1 with a human-readable *err_r ("no such domain:
 * x", "user exists: a@b", "invalid address: ..."); *err_r points into a
 * buffer inside db, valid until the next call. */
int	account_domain_add(struct account_db *db, const char *domain,
	    const char **err_r);
int	account_domain_del(struct account_db *db, const char *domain,
	    const char **err_r);
/* 1 local, 0 not, -1 error */
int	account_domain_exists(struct account_db *db, const char *domain,
	    const char **err_r);
typedef void (*account_list_fn)(void *arg, const char *a, const char *b);
int	account_domain_list(struct account_db *db, account_list_fn fn,
	    void *arg, const char **err_r);

/* 1 a user of that exact address exists, 0 not, -1 error */
int	account_user_exists(struct account_db *db, const char *address,
	    const char **err_r);
/* The password is hashed with yescrypt here, and its SCRAM-SHA-256
 * secrets (RFC 5803) are stored beside the hash; it is never stored or
 * logged in clear. */
int	account_user_add(struct account_db *db, const char *address,
	    const char *password, const char **err_r);
int	account_user_del(struct account_db *db, const char *address,
	    const char **err_r);
int	account_user_passwd(struct account_db *db, const char *address,
	    const char *password, const char **err_r);
/* fn(arg, address, NULL) for each user, optionally of one domain */
int	account_user_list(struct account_db *db, const char *domain,
	    account_list_fn fn, void *arg, const char **err_r);
/* 1 password right, 0 wrong or no such user, -1 error.  Slow (~30 ms):
 * never on an event loop. */
int	account_user_check(struct account_db *db, const char *address,
	    const char *password, const char **err_r);
/* The stored SCRAM-SHA-256 secrets (struct in auth/sasl.h): 1 found,
 * 0 no such user or no secrets (a user whose password was last set
 * before SCRAM existed), -1 error (also for a corrupt stored value).
 * A cheap read, fine on the loop. */
int	account_user_scram(struct account_db *db, const char *address,
	    struct sasl_scram_secrets *out, const char **err_r);

/* ALIAS is "local@domain" or "@domain" (catch-all); TARGET an address,
 * local or remote. */
int	account_alias_add(struct account_db *db, const char *alias,
	    const char *target, const char **err_r);
/* Several targets at once: all are added or none. */
int	account_alias_addv(struct account_db *db, const char *alias,
	    const char *const *targets, size_t ntargets, const char **err_r);
/* target NULL: remove every target of the alias */
int	account_alias_del(struct account_db *db, const char *alias,
	    const char *target, const char **err_r);
/* fn(arg, alias, target) */
int	account_alias_list(struct account_db *db, account_list_fn fn,
	    void *arg, const char **err_r);

/* Where mail for one recipient goes.  Resolution, in order:
 *  1. "postmaster" (no domain) and postmaster@<any local domain> go to
 *     the configured postmaster address (itself resolved), unless a user
 *     or alias of that exact name exists.
 *  2. the domain must be local (else ACCOUNT_NOT_LOCAL);
 *  3. an exact user;  4. an exact alias (targets resolved recursively,
 *     depth <= ACCOUNT_ALIAS_DEPTH, duplicates removed, loops stopped);
 *  5. plus-addressing: "user+tag@d" tried as "user@d" (steps 3-4);
 *  6. the catch-all alias "@domain".
 * Targets in non-local domains are collected in remote[].  A local
 * target that resolves to nobody is dropped; when nothing is left the
 * answer is ACCOUNT_NO_USER.  An expansion deeper than
 * ACCOUNT_ALIAS_DEPTH aliases or with more than ACCOUNT_TARGETS_MAX
 * targets is a configuration error: ACCOUNT_ERROR (defer, fix, retry).
 * POSTMASTER may be NULL (then rule 1 is skipped). */
#define ACCOUNT_ALIAS_DEPTH	10
#define ACCOUNT_TARGETS_MAX	64
#define ACCOUNT_ADDR_MAX	256

enum account_resolve_res {
	ACCOUNT_FOUND,		/* local[] and/or remote[] filled */
	ACCOUNT_NO_USER,	/* local domain, nobody by that name: 550 5.1.1 */
	ACCOUNT_NOT_LOCAL,	/* not one of our domains: relay question */
	ACCOUNT_ERROR,		/* database trouble: 451 4.3.0 */
};

struct account_targets {
	/* canonical "user@domain" of local users */
	char	local[ACCOUNT_TARGETS_MAX][ACCOUNT_ADDR_MAX + 1];
	size_t	nlocal;
	char	remote[ACCOUNT_TARGETS_MAX][ACCOUNT_ADDR_MAX + 1];
	size_t	nremote;
};

enum account_resolve_res account_resolve(struct account_db *db,
	    const char *address, const char *postmaster,
	    struct account_targets *out, const char **err_r);

/* Check the syntax of ADDRESS ("local@domain": dot-atom local part of
 * at most 64 bytes, without '/'; a host name of at most 255 bytes) and
 * write it lowercased to out.  0, or -1 with a static *err_r. */
int	account_address_normalize(const char *address,
	    char out[ACCOUNT_ADDR_MAX + 1], const char **err_r);

/* Maildir of a canonical local user: DATA_DIR/mail/DOMAIN/LOCAL (the
 * local part and domain are checked to hold no '/', and no leading '.').
 * 0 or -1. */
int	account_maildir_path(const char *data_dir, const char *user,
	    char *path_r, size_t size);

#endif
