/* mta.h: outbound delivery: one request = one message to the recipients
 * of one domain (or all of them, through a smarthost).  The queue
 * process builds requests from envelopes and gets per-recipient results
 * back; everything here runs on the queue process's event loop.
 *
 * Routing: a smarthost when configured (all mail, or the domains listed
 * for it), else the domain's MX hosts (dns_mx: preference order, random
 * among equals, null MX = permanent failure, no MX = the domain's A/AAAA),
 * trying the next host on connection failure or a 4xx greeting/EHLO.
 * Sessions: EHLO (HELO fallback), STARTTLS when offered (required when
 * the per-destination policy says so), AUTH PLAIN/LOGIN to a smarthost,
 * PIPELINING, SIZE, 8BITMIME (or conversion to quoted-printable when the
 * peer lacks it), SMTPUTF8 (a message that needs it to a peer without it
 * fails permanently, RFC 6531), RFC 5321 §4.5.3.2 timeouts.  An idle
 * connection to a host is kept for a short while and reused for the next
 * request to the same destination; concurrent connections and messages
 * per minute are limited per destination. */
#ifndef FACTEUR_MTA_MTA_H
#define FACTEUR_MTA_MTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

struct conf;
struct dns;
struct mta;

enum mta_result {
	MTA_OK,		/* accepted by the next hop (2xx) */
	MTA_TEMP,	/* try again later (4xx, connection trouble, DNS TEMP) */
	MTA_PERM,	/* give up and bounce (5xx, null MX, NXDOMAIN) */
};

struct mta_rcpt {
	const char	*addr;
	const char	*orcpt;		/* RFC 3461 ORCPT xtext or NULL */
	unsigned	 notify;	/* SMTP_NOTIFY_* (0: none given) */
	/* results, filled in by the mta */
	enum mta_result	 result;
	char		 status[16];	/* enhanced status "5.1.1" */
	char		 text[512];	/* the reply or a reason, one line */
	char		 relay[300];	/* "host[addr]" it was handed to */
};

struct mta_request {
	uint64_t	 qid;		/* for logs */
	const char	*domain;	/* the recipients' domain */
	const char	*from;		/* "" = null sender */
	const char	*envid;		/* or NULL */
	int		 ret;		/* SMTP_RET_* */
	bool		 eightbit;
	bool		 smtputf8;
	int		 msg_fd;	/* the message, read from msg_off to
					 * its end; the mta does not close it */
	off_t		 msg_off;
	size_t		 size;
	struct mta_rcpt	*rcpts;
	size_t		 nrcpts;
	/* called once, later, on the loop; results are in rcpts[] */
	void		(*done)(struct mta_request *req, void *arg);
	void		*arg;
};

/* conf: the mta_*, smarthost* and hostname options (see doc/MTA.md);
 * the smarthost_auth_file is read here (a warning if unusable: mail for
 * the smarthost then waits).  conf and dns outlive the mta. */
struct mta	*mta_new(struct event_base *base, const struct conf *conf,
		    struct dns *dns);
void		 mta_free(struct mta **);
/* Start a delivery.  The request and what it points to stay valid until
 * done() is called. */
void		 mta_deliver(struct mta *mta, struct mta_request *req);
/* Stop: abort sessions and waiting requests.  Their recipients get
 * MTA_TEMP ("4.3.2", shutting down) but done() is not called for them:
 * the caller is going away and owns its requests again.  Requests given
 * after this end MTA_TEMP through done() as usual.  mta_free() does it
 * too. */
void		 mta_shutdown(struct mta *mta);

#endif
