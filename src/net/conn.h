/* conn.h: one network connection: buffered, capped, optionally TLS,
 * driven by libevent.  Sessions (SMTP, later IMAP, POP3) sit on top
 * through struct conn_ops.
 *
 * A conn is never freed inside a callback: conn_close() marks it and a
 * deferred event reaps it on the next loop turn, calling ops->closed
 * exactly once (Redis freeClientAsync, OpenSMTPD io_frame). */
#ifndef FACTEUR_NET_CONN_H
#define FACTEUR_NET_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "core/buf.h"

struct conn;

struct conn_ops {
	/* new bytes in conn->in; consume what you use with buf_consume */
	void	(*readable)(struct conn *, void *arg);
	/* the TLS handshake finished (STARTTLS or implicit TLS) */
	void	(*tls_done)(struct conn *, void *arg);
	/* the idle timer fired; the session replies and closes */
	void	(*timeout)(struct conn *, void *arg);
	/* the conn is going away (reason for the log); the session frees
	 * itself here and must not touch the conn afterwards */
	void	(*closed)(struct conn *, void *arg, const char *reason);
};

enum conn_tls {
	CONN_TLS_NONE,
	CONN_TLS_PENDING,	/* handshake after the output drains */
	CONN_TLS_HANDSHAKE,
	CONN_TLS_ON,
};

struct conn {
	int			 fd;
	uint64_t		 id;		/* session id for logs */
	struct sockaddr_storage	 peer;
	char			 addr[64];	/* numeric peer address */
	struct buf		 in;
	struct buf		 out;
	SSL			*ssl;
	SSL_CTX			*ssl_ctx;
	enum conn_tls		 tls;
	char			 tls_info[128];	/* tls_describe() */

	const struct conn_ops	*ops;
	void			*arg;

	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timer;
	struct event		*ev_reap;
	unsigned		 timeout;	/* seconds; 0 = none */
	bool			 read_paused;
	bool			 want_read_on_write;	/* SSL_write said WANT_READ */
	bool			 want_write_on_read;	/* SSL_read said WANT_WRITE */
	bool			 write_blocked;	/* the socket said EAGAIN */
	bool			 eof;		/* peer closed its side */
	bool			 closing;	/* close once out is drained */
	bool			 dead;		/* reap scheduled */
	const char		*reason;
	bool			 tls_client;	/* we connected: TLS client side */
	bool			 want_drained;	/* call drained() when low */
	void			(*drained)(struct conn *, void *arg);
	char			*tls_name;	/* client: SNI and name to verify */
};

/* Take ownership of an accepted, non-blocking socket. in_max caps the
 * input buffer (the longest thing a session must hold). */
struct conn	*conn_new(struct event_base *base, int fd,
		    const struct sockaddr *sa, socklen_t salen, size_t in_max,
		    const struct conn_ops *ops, void *arg);
void	conn_write(struct conn *c, const void *p, size_t n);
void	conn_printf(struct conn *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A reply line: fmt's text, cut at CONN_LINE_MAX bytes, then CRLF. */
#define CONN_LINE_MAX	1021
void	conn_vline(struct conn *c, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* Re-arm the idle timer (seconds, 0 = off). */
void	conn_set_timeout(struct conn *c, unsigned secs);
/* Stop or resume reading (back-pressure while work is in flight). */
void	conn_pause(struct conn *c);
void	conn_resume(struct conn *c);
/* Start TLS once the output buffer has drained; everything already
 * buffered or received before the handshake is thrown away (command
 * injection, CVE-2011-0411). */
void	conn_starttls(struct conn *c, SSL_CTX *ctx);
/* The client side of STARTTLS (after the server's 220) or of implicit
 * TLS (at once).  name, when not NULL, is sent as SNI and is the name
 * the certificate is checked against (tls_verified() says the outcome;
 * a failed check does not stop the handshake). */
void	conn_starttls_client(struct conn *c, SSL_CTX *ctx, const char *name);
/* Call drained(c, arg) once the output buffer is at or below
 * CONN_DRAIN_LOW bytes (maybe on the next loop turn): a sender streaming
 * a large body refills the buffer there.  Once per call. */
void	conn_want_drained(struct conn *c,
	    void (*drained)(struct conn *, void *arg));
#define CONN_DRAIN_LOW		(64 * 1024)

/* Close after flushing what is queued. */
void	conn_close(struct conn *c, const char *reason);
/* Close now, dropping queued output. */
void	conn_abort(struct conn *c, const char *reason);
/* Free at once, without calling ops->closed: for an owner tearing
 * everything down (process exit), never from the conn's callbacks. */
void	conn_destroy(struct conn **cp);

/* The peer is on a loopback address (127/8, ::1, or 127/8 mapped into
 * IPv6): where a config switch allows passwords in clear. */
bool	conn_peer_loopback(const struct conn *c);
/* Turn an IPv4-mapped IPv6 address into plain IPv4; the new length. */
socklen_t conn_unmap_v4(struct sockaddr_storage *ss, socklen_t len);
/* A struct sockaddr as text, numeric. */
void	conn_addr_str(const struct sockaddr *sa, char *buf, size_t size);

#endif
