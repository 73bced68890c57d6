/* sched.h: the retry policy of the outbound queue (doc/QUEUE.md,
 * "Retry policy").  Pure functions of the envelope and the clock: the
 * queue process decides when to look at a message again from these.
 *
 * After the n-th failed attempt (n >= 1) a recipient is tried again
 * retry_min * 2^(n-1) seconds later, at most retry_max later, and never
 * later than the message's expiry (created + lifetime), so that the
 * last attempt falls on the expiry.  A message still pending at its
 * expiry is bounced after its next failed attempt.  A delay notice goes
 * out once per recipient, delay_warning after arrival. */
#ifndef FACTEUR_QUEUE_SCHED_H
#define FACTEUR_QUEUE_SCHED_H

#include <stdbool.h>
#include <time.h>

#include "queue/envelope.h"

struct conf;

struct sched_policy {
	time_t	retry_min;	/* first retry after this; >= 1 */
	time_t	retry_max;	/* backoff cap; >= retry_min */
	time_t	lifetime;	/* bounce after this; 0 = after the first
				 * failed attempt */
	time_t	delay_warning;	/* delay notice after this; 0 = never */
};

/* The defaults: 5m, 4h, 5d, 4h. */
void	sched_policy_default(struct sched_policy *p);
/* From queue_retry_min, queue_retry_max, queue_lifetime and
 * queue_delay_warning; retry_max is raised to retry_min if below. */
void	sched_policy_from_conf(struct sched_policy *p, const struct conf *conf);

/* When to try again after `attempts` failed attempts (0: now). */
time_t	sched_next_try(unsigned attempts, time_t now,
	    const struct sched_policy *p);
/* The message arrived at `created` and is past its lifetime at now. */
bool	sched_expired(time_t created, time_t now, const struct sched_policy *p);
/* Recipient r of e is pending, has not been told of the delay yet, and
 * its message has waited delay_warning (but is not expired: then the
 * failure report says it all).  Whether r's NOTIFY wants the notice is
 * bounce_rcpt_wanted()'s business. */
bool	sched_want_delay_notice(const struct envelope *e,
	    const struct envelope_rcpt *r, time_t now,
	    const struct sched_policy *p);
/* After a temporary failure of r at now: attempts++, last_try = now,
 * next_try = sched_next_try() capped at the expiry.  Returns true when
 * the message is expired: the caller then fails r (RCPT_FAILED, status
 * kept) and bounces it instead. */
bool	sched_retry(const struct envelope *e, struct envelope_rcpt *r,
	    time_t now, const struct sched_policy *p);
/* The earliest time anything is due for e: a pending recipient's
 * next_try, or its delay notice; (time_t)-1 when nothing is (every
 * recipient done, or the message held). */
time_t	sched_due(const struct envelope *e, const struct sched_policy *p);

#endif
