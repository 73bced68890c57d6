/* mta_int.h: what mta.c (requests, destinations, limits) and
 * mta_session.c (one SMTP client connection) share. */
#ifndef FACTEUR_MTA_MTA_INT_H
#define FACTEUR_MTA_MTA_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include <openssl/ssl.h>

#include "dns/dns.h"
#include "mta/mta.h"
#include "mta/mta_reply.h"

/* An idle connection waits this long for the next message. */
#define MTA_IDLE_KEEP		30
/* Messages carried by one connection before it is closed. */
#define MTA_SESSION_MESSAGES_MAX 100
/* The input buffer: reply lines are consumed as they are checked. */
#define MTA_IN_MAX		(64 * 1024)
/* Body streaming: refill the output buffer while below this. */
#define MTA_BODY_HIGH		(256 * 1024)
#define MTA_BODY_CHUNK		(64 * 1024)
/* Empty destinations are forgotten this long after their last use
 * (the rate limit's memory). */
#define MTA_DEST_SWEEP		60
/* RFC 5321 ports */
#define MTA_PORT_SMTP		25
#define MTA_PORT_SUBMISSIONS	465
#define MTA_RELAY_MAX		300	/* sizeof(mta_rcpt.relay) */

enum mta_tls_mode {
	MTA_TLS_MAY,		/* STARTTLS when offered */
	MTA_TLS_STARTTLS,	/* STARTTLS required */
	MTA_TLS_IMPLICIT,	/* TLS from the first byte */
	MTA_TLS_NONE,		/* never */
};

/* One request in the mta's hands. */
struct mta_job {
	struct mta_job		*next;
	struct mta_request	*req;
	struct mta		*mta;
	struct mta_dest		*dest;
	struct timeval		 start;
	uint64_t		 sid;		/* last session, for the log */
};

struct mta_session;

/* Where mail goes: one domain, or the smarthost. */
struct mta_dest {
	struct mta_dest		*next;
	struct mta		*mta;
	char			 name[DNS_NAME_TEXT_MAX];	/* lower case */
	bool			 smarthost;
	enum mta_tls_mode	 tls;
	struct mta_job		*queue;		/* waiting, FIFO */
	struct mta_job		**queue_tail;
	size_t			 nqueued;
	unsigned		 nsessions;	/* open or opening */
	struct mta_session	*sessions;	/* all of them */
	/* messages a minute: a token bucket */
	double			 tokens;
	struct timeval		 refilled;
	struct event		*ev_rate;
	time_t			 last_used;
};

struct mta {
	struct event_base	*base;
	const struct conf	*conf;
	struct dns		*dns;
	SSL_CTX			*tls_ctx;	/* NULL: TLS unavailable */
	struct mta_dest		*dests;
	struct mta_job		*done;		/* to report, FIFO */
	struct mta_job		**done_tail;
	struct event		*ev_done;
	struct event		*ev_sweep;
	bool			 stopping;
	/* the smarthost */
	bool			 sh;
	char			 sh_host[DNS_NAME_TEXT_MAX];
	bool			 sh_literal;	/* sh_ip holds it */
	struct dns_ip		 sh_ip;
	uint16_t		 sh_port;
	enum mta_tls_mode	 sh_tls;
	char			*sh_user;	/* from smarthost_auth_file */
	char			*sh_pass;
	const char		*sh_auth_err;	/* why the file is unusable */
};

/* mta.c */
/* Log each recipient's result, then report the job (done()) on the
 * next loop turn. */
void	mta_job_finish(struct mta_job *job);
/* Every recipient gets this result, then mta_job_finish(). */
void	mta_job_fail(struct mta_job *job, enum mta_result res,
	    const char *status, const char *text, const char *relay);
/* The next job for a session of dest (NULL: none now, or the rate
 * limit says wait). */
struct mta_job *mta_dest_take(struct mta_dest *dest);
/* Put a job back at the head of the queue (the connection died before
 * its transaction began). */
void	mta_dest_requeue(struct mta_dest *dest, struct mta_job *job);
/* A session ends; unreachable: fail the waiting jobs with its result. */
void	mta_dest_session_gone(struct mta_dest *dest, struct mta_session *s);
/* Start sessions for waiting jobs as the limits allow. */
void	mta_dest_pump(struct mta_dest *dest);
bool	mta_dest_tls_required(const struct mta_dest *dest);
const char *mta_result_name(enum mta_result res);

/* mta_session.c */
struct mta_session *mta_session_new(struct mta_dest *dest,
	    struct mta_job *job);
/* An idle session of dest, or NULL. */
struct mta_session *mta_session_idle(struct mta_dest *dest);
void	mta_session_reuse(struct mta_session *s, struct mta_job *job);
/* mta_shutdown: the job ends TEMP (unreported), the session is freed. */
void	mta_session_abort(struct mta_session *s);
/* After the last session failed to reach the destination: its result,
 * for the jobs still waiting (false: nothing to say). */
bool	mta_session_dest_down(const struct mta_session *s,
	    enum mta_result *res_r, const char **status_r,
	    const char **text_r, const char **relay_r);

#endif
