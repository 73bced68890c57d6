/* sched.c: the retry policy (see sched.h and doc/QUEUE.md). */
#include <stdint.h>

#include "config/conf.h"
#include "queue/sched.h"

#define SCHED_NEVER	((time_t)-1)

void
sched_policy_default(struct sched_policy *p)
{
	p->retry_min = QUEUE_RETRY_MIN_DEFAULT;
	p->retry_max = QUEUE_RETRY_MAX_DEFAULT;
	p->lifetime = QUEUE_LIFETIME_DEFAULT;
	p->delay_warning = QUEUE_DELAY_WARNING_DEFAULT;
}

void
sched_policy_from_conf(struct sched_policy *p, const struct conf *conf)
{
	p->retry_min = conf->queue_retry_min > 0 ? conf->queue_retry_min : 1;
	p->retry_max = conf->queue_retry_max;
	if (p->retry_max < p->retry_min)
		p->retry_max = p->retry_min;
	p->lifetime = conf->queue_lifetime;
	p->delay_warning = conf->queue_delay_warning;
}

/* a + b, saturating (times here are far from the limits, but a policy
 * with huge values must not wrap into the past). */
static time_t
sched_add(time_t a, time_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	return a + b;
}

time_t
sched_next_try(unsigned attempts, time_t now, const struct sched_policy *p)
{
	time_t delay, min = p->retry_min > 0 ? p->retry_min : 1;
	time_t max = p->retry_max > min ? p->retry_max : min;

	if (attempts == 0)
		return now;
	delay = min;
	/* double attempts - 1 times, stopping at the cap (no overflow) */
	for (unsigned i = 1; i < attempts && delay < max; i++)
		delay = delay > max / 2 ? max : delay * 2;
	if (delay > max)
		delay = max;
	return sched_add(now, delay);
}

bool
sched_expired(time_t created, time_t now, const struct sched_policy *p)
{
	return now >= sched_add(created, p->lifetime);
}

bool
sched_want_delay_notice(const struct envelope *e,
    const struct envelope_rcpt *r, time_t now, const struct sched_policy *p)
{
	if (r->state != RCPT_PENDING || r->delay_notified ||
	    p->delay_warning <= 0 || p->delay_warning >= p->lifetime)
		return false;
	return now >= sched_add(e->created, p->delay_warning) &&
	    !sched_expired(e->created, now, p);
}

bool
sched_retry(const struct envelope *e, struct envelope_rcpt *r, time_t now,
    const struct sched_policy *p)
{
	time_t expiry = sched_add(e->created, p->lifetime), next;

	if (r->attempts < UINT32_MAX)
		r->attempts++;
	r->last_try = now;
	if (sched_expired(e->created, now, p))
		return true;
	next = sched_next_try(r->attempts, now, p);
	r->next_try = next < expiry ? next : expiry;
	return false;
}

time_t
sched_due(const struct envelope *e, const struct sched_policy *p)
{
	time_t due = SCHED_NEVER, t;
	const struct envelope_rcpt *r;

	if (e->hold)
		return SCHED_NEVER;
	for (size_t i = 0; i < e->nrcpts; i++) {
		r = &e->rcpts[i];
		if (r->state != RCPT_PENDING)
			continue;
		t = r->next_try;
		if (!r->delay_notified && p->delay_warning > 0 &&
		    p->delay_warning < p->lifetime &&
		    sched_add(e->created, p->delay_warning) < t)
			t = sched_add(e->created, p->delay_warning);
		if (due == SCHED_NEVER || t < due)
			due = t;
	}
	return due;
}
