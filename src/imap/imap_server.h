/* imap_server.h: IMAP sessions (RFC 9051, RFC 3501 and the extensions
 * of doc/IMAP.md) for one worker, over the users' Maildirs.  Mirrors
 * pop3_server.h: the worker owns the listeners and hands each accepted
 * socket to imap_session_start(). */
#ifndef FACTEUR_IMAP_IMAP_SERVER_H
#define FACTEUR_IMAP_IMAP_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "proc/service.h"

struct conf;
struct workq;
struct imap_session;
struct imap_notify;

struct imap_server {
	const struct conf	*conf;
	struct event_base	*base;
	SSL_CTX			*ssl_ctx;	/* NULL: no STARTTLS, no IMAPS */
	struct workq		*wq;		/* for the store's blocking work */
	struct service_auth	 auth;		/* password checks */
	struct imap_notify	*notify;	/* folder change watches */
	/* Called when a session ends (connection accounting). */
	void			(*session_ended)(void *ctx,
				    const struct sockaddr_storage *peer);
	void			*ended_ctx;

	bool			 stopping;
	unsigned		 nsessions;
	struct imap_session	*sessions;
	struct event		*ev_sweep;	/* idle stores */
};

/* Set up srv->notify; 0 or -1. */
int	imap_server_init(struct imap_server *srv);
void	imap_server_free(struct imap_server *srv);
/* implicit_tls: port 993, the handshake comes before the greeting. */
void	imap_session_start(struct imap_server *srv, int fd,
	    const struct sockaddr *sa, socklen_t salen, bool implicit_tls);
/* Graceful stop: idle sessions get "* BYE" and close; a busy one
 * closes when its command is done. */
void	imap_server_stop(struct imap_server *srv);
/* Grace ran out: close every session now (jobs in flight finish in
 * the pool and are then dropped). */
void	imap_server_kill(struct imap_server *srv);
bool	imap_server_idle(struct imap_server *srv);

#endif
