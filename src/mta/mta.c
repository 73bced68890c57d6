/* mta.c: outbound delivery: requests, destinations and their limits.
 *
 * A request goes to its destination (the smarthost, or the recipients'
 * domain) and waits in its queue.  mta_dest_pump() hands waiting jobs
 * to idle sessions of the destination, or opens new ones while fewer
 * than mta_max_connections_per_domain are open, and as fast as
 * mta_max_rate_per_domain allows (a token bucket: that many messages a
 * minute, evenly spread: bursts of at most a second's worth, or one).
 * A session that finishes a
 * message takes the next waiting one (mta_dest_take), or waits idle for
 * MTA_IDLE_KEEP seconds.  Results are reported from a deferred event,
 * never from inside mta_deliver() or a session's handler. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "mta/mta_int.h"
#include "tls/tls.h"

#define MTA_AUTH_FILE_MAX	4096

static void	mta_on_done(evutil_socket_t, short, void *);
static void	mta_on_sweep(evutil_socket_t, short, void *);
static void	mta_on_rate(evutil_socket_t, short, void *);

const char *
mta_result_name(enum mta_result res)
{
	return res == MTA_OK ? "sent" : res == MTA_TEMP ? "deferred" :
	    "failed";
}

/*
 * The smarthost.
 */

/* "[ADDR]:PORT", "[HOST]", "HOST:PORT", "HOST" into mta->sh_*. */
static void
mta_smarthost_parse(struct mta *mta, const char *spec)
{
	char host[DNS_NAME_TEXT_MAX];
	const char *colon = NULL, *close;
	unsigned char bin[sizeof(struct in6_addr)];
	size_t n;

	mta->sh_port = mta->sh_tls == MTA_TLS_IMPLICIT ? MTA_PORT_SUBMISSIONS :
	    MTA_PORT_SMTP;
	if (spec[0] == '[' && (close = strchr(spec, ']')) != NULL) {
		n = (size_t)(close - spec - 1);
		if (close[1] == ':')
			colon = close + 1;
		spec++;
	} else {
		colon = strchr(spec, ':');
		n = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	}
	if (n >= sizeof(host))
		n = sizeof(host) - 1;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (colon != NULL)
		mta->sh_port = (uint16_t)strtoul(colon + 1, NULL, 10);
	snprintf(mta->sh_host, sizeof(mta->sh_host), "%s", host);
	if (inet_pton(AF_INET, host, bin) == 1) {
		mta->sh_literal = true;
		mta->sh_ip.family = AF_INET;
		memcpy(&mta->sh_ip.u.v4, bin, sizeof(mta->sh_ip.u.v4));
	} else if (inet_pton(AF_INET6, host, bin) == 1) {
		mta->sh_literal = true;
		mta->sh_ip.family = AF_INET6;
		memcpy(&mta->sh_ip.u.v6, bin, sizeof(mta->sh_ip.u.v6));
	}
}

/* The credentials file: "username password" on its first line, not
 * accessible to group or others.  0, or -1 with mta->sh_auth_err. */
static int
mta_auth_file_read(struct mta *mta, const char *path)
{
	static char why[300];
	char buf[MTA_AUTH_FILE_MAX + 1], *nl, *sp;
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(why, sizeof(why), "open(%s): %s", path,
		    strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, sizeof(why), "%s: not a regular file", path);
		goto fail_close;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(why, sizeof(why), "%s: group or others may read it "
		    "(mode %04o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail_close;
	}
	n = read(fd, buf, MTA_AUTH_FILE_MAX);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	sp = strpbrk(buf, " \t");
	if (sp == NULL || sp == buf || sp[1] == '\0') {
		snprintf(why, sizeof(why), "%s: expected \"username password\" "
		    "on the first line", path);
		goto fail;
	}
	*sp++ = '\0';
	while (*sp == ' ' || *sp == '\t')
		sp++;
	mta->sh_user = xstrdup(buf);
	mta->sh_pass = xstrdup(sp);
	explicit_bzero(buf, sizeof(buf));
	return 0;
fail_close:
	close(fd);
fail:
	explicit_bzero(buf, sizeof(buf));
	mta->sh_auth_err = why;
	return -1;
}

static void
mta_smarthost_setup(struct mta *mta, const struct conf *conf)
{
	const char *tls = conf->smarthost_tls != NULL ? conf->smarthost_tls :
	    "starttls";

	mta->sh = true;
	mta->sh_tls = strcmp(tls, "implicit") == 0 ? MTA_TLS_IMPLICIT :
	    strcmp(tls, "none") == 0 ? MTA_TLS_NONE : MTA_TLS_STARTTLS;
	mta_smarthost_parse(mta, conf->smarthost);
	if (conf->smarthost_auth_file != NULL &&
	    mta_auth_file_read(mta, conf->smarthost_auth_file) == -1)
		log_warnx("mta: smarthost_auth_file: %s; mail for the "
		    "smarthost waits in the queue", mta->sh_auth_err);
	if (mta->sh_user != NULL && mta->sh_tls == MTA_TLS_NONE)
		log_warnx("mta: smarthost_tls none: the credentials of "
		    "smarthost_auth_file are not sent without TLS");
}

/*
 * Life.
 */

struct mta *
mta_new(struct event_base *base, const struct conf *conf, struct dns *dns)
{
	struct mta *mta = xcalloc(1, sizeof(*mta));
	struct timeval tv = { MTA_DEST_SWEEP, 0 };
	const char *err;

	mta->base = base;
	mta->conf = conf;
	mta->dns = dns;
	mta->done_tail = &mta->done;
	mta->ev_done = event_new(base, -1, 0, mta_on_done, mta);
	mta->ev_sweep = event_new(base, -1, EV_PERSIST, mta_on_sweep, mta);
	if (mta->ev_done == NULL || mta->ev_sweep == NULL)
		fatalx("event_new: out of memory");
	event_add(mta->ev_sweep, &tv);
	if ((mta->tls_ctx = tls_client_ctx(&err)) == NULL)
		log_warnx("mta: no TLS client context: %s", err);
	if (conf->smarthost != NULL && conf->smarthost[0] != '\0')
		mta_smarthost_setup(mta, conf);
	return mta;
}

static void
mta_dest_free(struct mta_dest *d)
{
	struct mta_dest **pp;

	for (pp = &d->mta->dests; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (d->ev_rate != NULL)
		event_free(d->ev_rate);
	free(d);
}

void
mta_shutdown(struct mta *mta)
{
	struct mta_dest *d;
	struct mta_job *job;

	mta->stopping = true;
	for (d = mta->dests; d != NULL; d = d->next) {
		while (d->sessions != NULL)
			mta_session_abort(d->sessions);
		while ((job = d->queue) != NULL) {
			d->queue = job->next;
			for (size_t i = 0; i < job->req->nrcpts; i++) {
				struct mta_rcpt *r = &job->req->rcpts[i];

				r->result = MTA_TEMP;
				snprintf(r->status, sizeof(r->status), "4.3.2");
				snprintf(r->text, sizeof(r->text),
				    "delivery stopped: shutting down");
			}
			free(job);
		}
		d->queue_tail = &d->queue;
		d->nqueued = 0;
	}
}

void
mta_free(struct mta **mtap)
{
	struct mta *mta;
	struct mta_job *job;

	if (mtap == NULL || (mta = *mtap) == NULL)
		return;
	mta_shutdown(mta);
	while (mta->dests != NULL)
		mta_dest_free(mta->dests);
	while ((job = mta->done) != NULL) {
		mta->done = job->next;
		free(job);	/* never reported: the owner is going away */
	}
	event_free(mta->ev_done);
	event_free(mta->ev_sweep);
	SSL_CTX_free(mta->tls_ctx);
	if (mta->sh_pass != NULL)
		explicit_bzero(mta->sh_pass, strlen(mta->sh_pass));
	free(mta->sh_user);
	free(mta->sh_pass);
	free(mta);
	*mtap = NULL;
}

/*
 * Destinations.
 */

/* Is name one of the words of list (space-separated, lower case)? */
static bool
mta_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list, *end;

	if (list == NULL)
		return false;
	while (*p != '\0') {
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) == n && strncasecmp(p, name, n) == 0)
			return true;
		p = *end == ' ' ? end + 1 : end;
	}
	return false;
}

static bool
mta_uses_smarthost(const struct mta *mta, const char *domain)
{
	const char *list = mta->conf->smarthost_domains;

	return mta->sh && (list == NULL || list[0] == '\0' ||
	    mta_list_has(list, domain));
}

bool
mta_dest_tls_required(const struct mta_dest *dest)
{
	return dest->tls == MTA_TLS_STARTTLS || dest->tls == MTA_TLS_IMPLICIT;
}

/* The bucket's size: a second's worth of messages, at least one. */
static double
mta_rate_burst(unsigned rate)
{
	return rate >= 60 ? (double)(rate / 60) : 1.0;
}

static struct mta_dest *
mta_dest_get(struct mta *mta, const char *domain)
{
	bool sh = mta_uses_smarthost(mta, domain);
	struct mta_dest *d;
	size_t i;

	for (d = mta->dests; d != NULL; d = d->next)
		if (d->smarthost ? sh : !sh && strcasecmp(d->name, domain) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->mta = mta;
	d->smarthost = sh;
	if (sh)
		snprintf(d->name, sizeof(d->name), "%s", mta->sh_host);
	else {
		for (i = 0; domain[i] != '\0' && i + 1 < sizeof(d->name); i++)
			d->name[i] = (char)(domain[i] >= 'A' && domain[i] <= 'Z'
			    ? domain[i] - 'A' + 'a' : domain[i]);
		d->name[i] = '\0';
	}
	d->tls = sh ? mta->sh_tls : mta_list_has(mta->conf->mta_tls_require,
	    d->name) ? MTA_TLS_STARTTLS : MTA_TLS_MAY;
	d->queue_tail = &d->queue;
	d->tokens = mta_rate_burst(mta->conf->mta_max_rate_per_domain);
	evutil_gettimeofday(&d->refilled, NULL);
	d->ev_rate = evtimer_new(mta->base, mta_on_rate, d);
	if (d->ev_rate == NULL)
		fatalx("event_new: out of memory");
	d->next = mta->dests;
	mta->dests = d;
	return d;
}

/* Refill the bucket; true if a message may start now (and takes its
 * token), else the timer is set for when one may. */
static bool
mta_dest_rate_ok(struct mta_dest *d)
{
	double rate = d->mta->conf->mta_max_rate_per_domain, wait;
	struct timeval now, tv;

	if (rate == 0)
		return true;
	evutil_gettimeofday(&now, NULL);
	d->tokens += ((double)(now.tv_sec - d->refilled.tv_sec) +
	    (double)(now.tv_usec - d->refilled.tv_usec) / 1e6) * rate / 60.0;
	if (d->tokens > mta_rate_burst((unsigned)rate))
		d->tokens = mta_rate_burst((unsigned)rate);
	d->refilled = now;
	if (d->tokens >= 1.0) {
		d->tokens -= 1.0;
		return true;
	}
	if (!evtimer_pending(d->ev_rate, NULL)) {
		wait = (1.0 - d->tokens) * 60.0 / rate;
		tv.tv_sec = (time_t)wait;
		tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6) + 1;
		evtimer_add(d->ev_rate, &tv);
	}
	return false;
}

static void
mta_on_rate(evutil_socket_t fd, short what, void *arg)
{
	mta_dest_pump(arg);
}

struct mta_job *
mta_dest_take(struct mta_dest *d)
{
	struct mta_job *job = d->queue;

	if (job == NULL || d->mta->stopping || !mta_dest_rate_ok(d))
		return NULL;
	if ((d->queue = job->next) == NULL)
		d->queue_tail = &d->queue;
	job->next = NULL;
	d->nqueued--;
	d->last_used = time(NULL);
	return job;
}

void
mta_dest_requeue(struct mta_dest *d, struct mta_job *job)
{
	double rate = d->mta->conf->mta_max_rate_per_domain;

	if ((job->next = d->queue) == NULL)
		d->queue_tail = &job->next;
	d->queue = job;
	d->nqueued++;
	if (rate > 0 && d->tokens + 1.0 <= mta_rate_burst((unsigned)rate))
		d->tokens += 1.0;	/* it did not start: its token back */
}

void
mta_dest_pump(struct mta_dest *d)
{
	struct mta_session *s;
	struct mta_job *job;

	while (d->queue != NULL && !d->mta->stopping) {
		s = mta_session_idle(d);
		if (s == NULL &&
		    d->nsessions >= d->mta->conf->mta_max_conn_per_domain)
			break;
		if ((job = mta_dest_take(d)) == NULL)
			break;
		if (s != NULL)
			mta_session_reuse(s, job);
		else
			(void)mta_session_new(d, job);
	}
}

void
mta_dest_session_gone(struct mta_dest *d, struct mta_session *s)
{
	enum mta_result res;
	const char *status, *text, *relay;
	struct mta_job *job;

	/* unreachable: the jobs waiting for it would fare no better */
	if (mta_session_dest_down(s, &res, &status, &text, &relay)) {
		while ((job = d->queue) != NULL) {
			if ((d->queue = job->next) == NULL)
				d->queue_tail = &d->queue;
			d->nqueued--;
			job->next = NULL;
			mta_job_fail(job, res, status, text, relay);
		}
	}
	d->last_used = time(NULL);
	mta_dest_pump(d);
}

/* Forget destinations with nothing to do whose rate memory is full. */
static void
mta_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct mta *mta = arg;
	struct mta_dest *d, *next;
	time_t now = time(NULL);

	for (d = mta->dests; d != NULL; d = next) {
		next = d->next;
		if (d->queue == NULL && d->sessions == NULL &&
		    now - d->last_used >= MTA_DEST_SWEEP)
			mta_dest_free(d);
	}
}

/*
 * Jobs.
 */

void
mta_deliver(struct mta *mta, struct mta_request *req)
{
	struct mta_job *job = xcalloc(1, sizeof(*job));
	struct mta_dest *d;

	job->req = req;
	job->mta = mta;
	evutil_gettimeofday(&job->start, NULL);
	for (size_t i = 0; i < req->nrcpts; i++) {
		req->rcpts[i].result = MTA_TEMP;
		req->rcpts[i].status[0] = '\0';
		req->rcpts[i].text[0] = '\0';
		req->rcpts[i].relay[0] = '\0';
	}
	if (mta->stopping) {
		mta_job_fail(job, MTA_TEMP, "4.3.2", "delivery stopped: "
		    "shutting down", "");
		return;
	}
	if (req->nrcpts == 0) {
		mta_job_finish(job);	/* nothing to do: report it */
		return;
	}
	d = mta_dest_get(mta, req->domain);
	job->dest = d;
	*d->queue_tail = job;
	d->queue_tail = &job->next;
	d->nqueued++;
	mta_dest_pump(d);
}

void
mta_job_fail(struct mta_job *job, enum mta_result res, const char *status,
    const char *text, const char *relay)
{
	struct mta_request *req = job->req;

	for (size_t i = 0; i < req->nrcpts; i++) {
		struct mta_rcpt *r = &req->rcpts[i];

		r->result = res;
		snprintf(r->status, sizeof(r->status), "%s", status);
		snprintf(r->text, sizeof(r->text), "%s", text);
		snprintf(r->relay, sizeof(r->relay), "%s", relay);
	}
	mta_job_finish(job);
}

void
mta_job_finish(struct mta_job *job)
{
	struct mta_request *req = job->req;
	struct mta *mta = job->mta;
	struct timeval now;
	double delay;
	char sid[17] = "-";

	evutil_gettimeofday(&now, NULL);
	delay = (double)(now.tv_sec - job->start.tv_sec) +
	    (double)(now.tv_usec - job->start.tv_usec) / 1e6;
	if (job->sid != 0)
		snprintf(sid, sizeof(sid), "%016llx",
		    (unsigned long long)job->sid);
	for (size_t i = 0; i < req->nrcpts; i++) {
		const struct mta_rcpt *r = &req->rcpts[i];

		log_event(req->qid, "mta", mta_result_name(r->result),
		    "to=<%s> relay=%s session=%s dsn=%s delay=%.1f reply=<%s>",
		    r->addr, r->relay[0] != '\0' ? r->relay : "none", sid,
		    r->status, delay, r->text);
	}
	job->next = NULL;
	*mta->done_tail = job;
	mta->done_tail = &job->next;
	event_active(mta->ev_done, 0, 0);
}

static void
mta_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct mta *mta = arg;
	struct mta_job *job;

	/* done() may call mta_deliver(): take the whole list first */
	while ((job = mta->done) != NULL) {
		if ((mta->done = job->next) == NULL)
			mta->done_tail = &mta->done;
		job->req->done(job->req, job->req->arg);
		free(job);
	}
}
