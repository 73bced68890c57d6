/* mta_int.h: what mta.c (requests, destinations, limits) and
 * mta_session.c (one SMTP client connection) share. */
#ifndef FACTEUR_MTA_MTA_INT_H
#define FACTEUR_MTA_MTA_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "core/buf.h"
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
/* Commands and body pieces are staged here before conn_write(). */
#define MTA_STAGE_MAX		(4 * 1024 * 1024)

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

enum mta_state {
	MTA_ST_START,		/* waiting for the first step */
	MTA_ST_RESOLVE,
	MTA_ST_CONNECT,
	MTA_ST_TLS_IMPLICIT,
	MTA_ST_GREETING,
	MTA_ST_EHLO,
	MTA_ST_HELO,
	MTA_ST_STARTTLS,
	MTA_ST_TLS,
	MTA_ST_AUTH,		/* AUTH PLAIN with its response, AUTH LOGIN */
	MTA_ST_AUTH_USER,	/* LOGIN: the user name sent */
	MTA_ST_AUTH_PASS,	/* LOGIN: the password sent */
	MTA_ST_RSET,		/* before the next message */
	MTA_ST_MAIL,
	MTA_ST_RCPT,
	MTA_ST_DATA,
	MTA_ST_BODY,
	MTA_ST_DOT,
	MTA_ST_IDLE,
	MTA_ST_QUIT,
};

struct mta_addr {
	char		 name[DNS_NAME_TEXT_MAX];
	struct dns_ip	 ip;
};

struct mta_session {
	struct mta_session	*next;		/* in dest->sessions */
	struct mta		*mta;
	struct mta_dest		*dest;
	uint64_t		 id;
	enum mta_state		 state;
	struct event		*ev_step;	/* deferred start, connect */
	struct dns_query	*dq;
	int			 fd;		/* while connecting */
	struct conn		*conn;

	struct mta_addr		 addrs[DNS_MX_ADDRS_MAX];
	size_t			 naddrs, cur;
	bool			 no_tls;	/* this address again, in clear */
	char			 relay[MTA_RELAY_MAX];

	struct mta_reply	 reply;
	struct mta_ext		 ext;
	bool			 tls, tls_verified, authed;

	struct mta_job		*job;
	unsigned		 nmsgs;		/* messages carried */
	size_t			 nsent, nreplied, naccepted;
	bool			 pipelined;
	bool			 rset_first;	/* next MAIL: RSET in front */
	bool			 rset_pipelined; /* RSET sent with MAIL */

	/* the failure that ended the last attempt */
	enum mta_result		 fres;
	char			 fstatus[MTA_STATUS_MAX];
	char			 ftext[MTA_REPLY_TEXT_MAX];
	char			 frelay[MTA_RELAY_MAX];
	bool			 fjob_only;	/* about this message only */
	bool			 next_host;	/* once the conn is gone */
	bool			 dest_down;
	char			 why[MTA_REPLY_TEXT_MAX]; /* for closed() */
	char			 why_status[MTA_STATUS_MAX];

	/* the body */
	off_t			 off;
	bool			 bol, cr;
	struct mta_qp		*qp;
	char			*chunk;
	struct buf		 qpout, stage;
};

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

/* mta_session.c: the connection, the state machine */
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
/* For mta_route.c and mta_tx.c: */
void	mta_session_enter(struct mta_session *s, enum mta_state st);
/* Send a command (printf), enter st, arm the timer (seconds). */
void	mta_session_cmd(struct mta_session *s, enum mta_state st,
	    unsigned timeout, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Remember why this attempt failed (the job's result if the last). */
void	mta_session_failure(struct mta_session *s, enum mta_result res,
	    const char *status, bool job_only, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/* This address failed: the next one (advance) or this one in clear. */
void	mta_session_host_failed(struct mta_session *s, bool advance);
/* Try addrs[cur] and on; give up when none is left. */
void	mta_session_try(struct mta_session *s);
/* No address left: the job gets the last failure; the session ends. */
void	mta_session_give_up(struct mta_session *s);
/* Report the job (its results are in its recipients). */
void	mta_session_job_done(struct mta_session *s);
/* The next waiting job, or idle, or QUIT. */
void	mta_session_next_job(struct mta_session *s);
/* QUIT (when listening) and close; without a conn, go on at once. */
void	mta_session_drop(struct mta_session *s, const char *reason);
/* A reply's enhanced status, or "X.0.0" from its class; its result. */
void	mta_session_status(const struct mta_reply *r, char *buf, size_t size);
enum mta_result mta_session_result(const struct mta_reply *r);

/* mta_route.c: where the session's addresses come from */
void	mta_route_resolve(struct mta_session *s);

/* mta_tx.c: one message on an open connection */
void	mta_tx_start(struct mta_session *s);
void	mta_tx_on_mail(struct mta_session *s, const struct mta_reply *r);
void	mta_tx_on_rcpt(struct mta_session *s, const struct mta_reply *r);
/* The reply to DATA or to the final dot. */
void	mta_tx_on_final(struct mta_session *s, const struct mta_reply *r);
/* Recipients without a final result get this one. */
void	mta_tx_fail_rest(struct mta_session *s, enum mta_result res,
	    const char *status, const char *text);

#endif
