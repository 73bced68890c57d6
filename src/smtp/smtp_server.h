/* smtp_server.h: SMTP server sessions (RFC 5321) for one worker.
 *
 * The worker owns listeners and hands each accepted socket to
 * smtp_session_start().  What a session needs from outside comes
 * through struct smtp_server: the config, the TLS context, the thread
 * pool for fsync, and the recipient lookup (answered by the auth
 * process). */
#ifndef FACTEUR_SMTP_SMTP_SERVER_H
#define FACTEUR_SMTP_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "proc/service.h"

struct cidr;
struct conf;
struct smtp_commit;
struct workq;
struct smtp_session;

/* What a listener is for. */
enum smtp_kind {
	SMTP_KIND_MX,		/* port 25: mail for our domains */
	SMTP_KIND_SUBMISSION,	/* 587: STARTTLS, then AUTH, then relay */
	SMTP_KIND_SUBMISSIONS,	/* 465: the same in implicit TLS */
	SMTP_KIND_LOCAL,	/* DATA_DIR/run/sendmail.sock: local programs
				 * (facteur sendmail); known by their uid */
};

/* The answer to a recipient lookup. */
struct smtp_resolved {
	int		  result;	/* enum account_resolve_res */
	size_t		  nlocal;
	const char	**maildir;	/* [nlocal] */
	const char	**user;		/* [nlocal] canonical addresses */
	size_t		  nremote;
	const char	**remote;	/* [nremote] */
};

typedef void (*smtp_resolve_done_fn)(void *arg, const struct smtp_resolved *);

struct smtp_server {
	const struct conf	*conf;
	struct event_base	*base;
	SSL_CTX			*ssl_ctx;	/* NULL: no STARTTLS */
	struct workq		*wq;
	/* Look up where mail for addr goes; done() is called later, on
	 * the loop (never from inside resolve itself). */
	void			(*resolve)(void *ctx, const char *addr,
				    smtp_resolve_done_fn done, void *arg);
	void			*resolve_ctx;
	struct service_auth	 auth;		/* password checks (AUTH) */
	struct cidr		*relay_nets;	/* relay_networks */
	size_t			 nrelay_nets;
	/* A message entered the outbound queue (tell the queue process). */
	void			(*queued)(void *ctx, uint64_t qid);
	void			*queued_ctx;
	/* Called when a session ends (connection accounting). */
	void			(*session_ended)(void *ctx,
				    const struct sockaddr_storage *peer);
	void			*ended_ctx;

	/* group commit of queued messages (smtp_tx.c): those that wait
	 * while a batch is being made durable */
	struct smtp_commit	*commit_pending;
	bool			 commit_busy;

	bool			 stopping;	/* graceful shutdown under way */
	unsigned		 nsessions;
	struct smtp_session	*sessions;	/* list, for shutdown */
};

void	smtp_session_start(struct smtp_server *srv, int fd,
	    const struct sockaddr *sa, socklen_t salen, enum smtp_kind kind);
/* Graceful stop: idle sessions get 421 now, the others after their
 * transaction ends.  smtp_server_idle() tells when all are gone. */
void	smtp_server_stop(struct smtp_server *srv);
/* Grace ran out: 421 and close every session, drop open transactions. */
void	smtp_server_kill(struct smtp_server *srv);
bool	smtp_server_idle(struct smtp_server *srv);

#endif
