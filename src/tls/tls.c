/* tls.c: OpenSSL 3 glue. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "tls/tls.h"

const char *
tls_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, const char **err_r)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*err_r = tls_error();
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*err_r = tls_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
tls_client_ctx(const char **err_r)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*err_r = tls_error();
		return NULL;
	}
	SSL_CTX_set_security_level(ctx, 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();	/* no CA store: nothing verifies */
	return ctx;
}

bool
tls_verified(SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);

	return peer != NULL && SSL_get_verify_result(ssl) == X509_V_OK;
}

static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x509,
    uid_t uid, gid_t gid)
{
	FILE *f;
	int fd, ok;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1)
		return -1;
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1) {
		close(fd);
		return -1;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	if (pkey != NULL)
		ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, x509);
	if (fflush(f) != 0 || fsync(fileno(f)) == -1)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static X509 *
tls_make_cert(EVP_PKEY *pkey, const char *hostname)
{
	X509 *x;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	char san[300];

	if ((x = X509_new()) == NULL)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 24 * 3600);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	snprintf(san, sizeof(san), "DNS:%s", hostname);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x, ext, -1) ||
	    !X509_sign(x, pkey, EVP_sha256())) {
		X509_EXTENSION_free(ext);
		X509_free(x);
		return NULL;
	}
	X509_EXTENSION_free(ext);
	return x;
}

int
tls_ensure_selfsigned(const char *cert, const char *key,
    const char *hostname, uid_t uid, gid_t gid, const char **err_r)
{
	static char err[512];
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int rc = -1;

	if (access(cert, F_OK) == 0 || access(key, F_OK) == 0)
		return 0;	/* the operator's files: never overwrite */
	if ((pkey = EVP_EC_gen("P-256")) == NULL ||
	    (x = tls_make_cert(pkey, hostname)) == NULL) {
		snprintf(err, sizeof(err), "self-signed certificate: %s",
		    tls_error());
		goto fail;
	}
	if (tls_write_pem(key, 0600, pkey, NULL, uid, gid) == -1) {
		snprintf(err, sizeof(err), "write %s: %s", key,
		    strerror(errno));
		goto fail;
	}
	if (tls_write_pem(cert, 0644, NULL, x, uid, gid) == -1) {
		snprintf(err, sizeof(err), "write %s: %s", cert,
		    strerror(errno));
		unlink(key);
		goto fail;
	}
	log_event(0, "tls", "selfsigned", "cert=%s host=%s", cert, hostname);
	rc = 0;
fail:
	X509_free(x);
	EVP_PKEY_free(pkey);
	if (rc == -1)
		*err_r = err;
	return rc;
}

void
tls_describe(SSL *ssl, char *buf, size_t size)
{
	snprintf(buf, size, "version=%s cipher=%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
}
