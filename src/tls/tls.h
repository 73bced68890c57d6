/* tls.h: OpenSSL 3 glue: server contexts and the self-signed demo
 * certificate. */
#ifndef FACTEUR_TLS_TLS_H
#define FACTEUR_TLS_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <sys/types.h>

/* A server context from PEM files; NULL with *err_r on failure. */
SSL_CTX	*tls_server_ctx(const char *cert, const char *key, const char **err_r);
/* When neither file exists, create a self-signed certificate for
 * hostname (EC P-256, 10 years) with the key mode 0600, owned by uid
 * when uid != (uid_t)-1.  0 when both exist or were made, else -1. */
int	 tls_ensure_selfsigned(const char *cert, const char *key,
	    const char *hostname, uid_t uid, gid_t gid, const char **err_r);
/* A client context for outbound SMTP (opportunistic TLS): security
 * level 1, so that old peers still get encryption rather than plain
 * text; the system's CA store is loaded, but a peer whose certificate
 * does not verify is not refused: tls_verified() tells, for the logs.
 * NULL with *err_r on failure. */
SSL_CTX	*tls_client_ctx(const char **err_r);
/* After a client handshake: did the chain verify, and the name set by
 * conn_starttls_client() match? */
bool	 tls_verified(SSL *ssl);
/* "TLSv1.3:TLS_AES_256_GCM_SHA384" style description for logs and
 * the Received header. */
void	 tls_describe(SSL *ssl, char *buf, size_t size);
/* The OpenSSL error queue as one line (and cleared). */
const char *tls_error(void);

#endif
