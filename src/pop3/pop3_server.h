/* pop3_server.h: POP3 sessions (RFC 1939, 2449, 2595, 5034) for one
 * worker, over the users' Maildirs.  Mirrors smtp_server.h: the worker
 * owns listeners and hands each accepted socket to pop3_session_start(). */
#ifndef FACTEUR_POP3_POP3_SERVER_H
#define FACTEUR_POP3_POP3_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "proc/service.h"

struct conf;
struct workq;
struct pop3_session;

struct pop3_server {
	const struct conf	*conf;
	struct event_base	*base;
	SSL_CTX			*ssl_ctx;	/* NULL: no STLS, no POP3S */
	struct workq		*wq;		/* for blocking Maildir work */
	struct service_auth	 auth;		/* password checks */
	/* Called when a session ends (connection accounting). */
	void			(*session_ended)(void *ctx,
				    const struct sockaddr_storage *peer);
	void			*ended_ctx;

	bool			 stopping;
	unsigned		 nsessions;
	struct pop3_session	*sessions;
};

/* implicit_tls: port 995, the handshake comes before the greeting. */
void	pop3_session_start(struct pop3_server *srv, int fd,
	    const struct sockaddr *sa, socklen_t salen, bool implicit_tls);
/* Graceful stop: sessions in AUTHORIZATION get "-ERR [SYS/TEMP]" and
 * close; TRANSACTION sessions close at their next command boundary
 * without entering UPDATE (no deletion), except that a QUIT still runs
 * UPDATE (the client asked to commit; the disk job is short). */
void	pop3_server_stop(struct pop3_server *srv);
/* Grace ran out: close every session without UPDATE (one already in
 * UPDATE finishes its disk job first). */
void	pop3_server_kill(struct pop3_server *srv);
bool	pop3_server_idle(struct pop3_server *srv);

#endif
