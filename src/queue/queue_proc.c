/* queue_proc.c: the queue process.
 *
 * It keeps one item per queued message (qid, when to try next, whether a
 * delivery runs).  When an item is due it loads the envelope, splits
 * the pending recipients into local ones (delivered into their Maildirs
 * in a worker thread) and one request per remote domain (handed to the
 * SMTP client, mta.h), records each result in the envelope, sends
 * bounces and delay notices (bounce.h), and removes the message once
 * every recipient is final.  Workers announce new messages with
 * MSG_QUEUE_NEW; the CLI talks to DATA_DIR/run/queue.sock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/account.h"
#include "config/conf.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/log.h"
#include "core/mem.h"
#include "dns/dns.h"
#include "mta/mta.h"
#include "net/workq.h"
#include "proc/msg.h"
#include "proc/proc.h"
#include "queue/bounce.h"
#include "queue/envelope.h"
#include "queue/queue_fs.h"
#include "queue/queue_proc.h"
#include "queue/sched.h"
#include "store/maildir.h"

#define QUEUE_WORKERS_MAX	(WORKERS_MAX * 2)
#define QUEUE_RUNNING_MAX	100	/* messages in delivery at once */
#define QUEUE_CTL_CLIENTS_MAX	8
#define QUEUE_CTL_LINE_MAX	256
#define QUEUE_REMOVE_DELAY_MS	20	/* removals gathered per batch */

struct queue_item {
	struct queue_item	*next;
	struct queue_proc	*q;
	uint64_t		 qid;
	time_t			 next_try;
	bool			 running;
	bool			 held;
	bool			 flush;		/* the operator said: try now */
	unsigned		 inflight;	/* requests outstanding */
	struct envelope		 env;
	int			 msg_fd;
	off_t			 msg_off;	/* where it starts */
	struct queue_fs_stamp	 stamp;		/* .env loaded */
	struct mta_request	*reqs;
	size_t			 nreqs;
};

#define QUEUE_DOMAIN_CACHE	8

struct queue_domain_cache {
	char			 name[256];
	bool			 local;
	time_t			 when;		/* of the answer; 0: empty */
};

struct queue_ctl_client {
	struct queue_proc	*q;
	int			 fd;
	struct event		*ev;
	struct buf		 in;
};

struct queue_proc {
	const struct conf	*conf;
	struct event_base	*base;
	struct msgq		*parent;
	struct msgq		*workers[QUEUE_WORKERS_MAX];
	struct event		*ev_sweep;
	struct event		*ev_run;
	struct event		*ev_ctl;
	int			 ctl_fd;
	char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct queue_item	*items;
	unsigned		 nrunning;
	struct dns		*dns;
	struct mta		*mta;
	struct workq		*wq;
	struct account_db	*db;
	struct sched_policy	 policy;
	struct queue_domain_cache domains[QUEUE_DOMAIN_CACHE];
	bool			 stopping;
	/* finished messages whose files are removed in the background, a
	 * batch at a time (one directory fsync for all) */
	uint64_t		*removals;
	size_t			 nremovals;
	bool			 removing;
	struct event		*ev_remove;	/* the next batch's start */
};

struct queue_removal {
	struct queue_proc	*q;
	uint64_t		*qids;
	size_t			 n;
	int			 rc;
	char			 err[256];
};

static void	queue_run_soon(struct queue_proc *);
static void	queue_item_finish(struct queue_proc *, struct queue_item *);

/* --- items ------------------------------------------------------------------ */

static struct queue_item *
queue_find(struct queue_proc *q, uint64_t qid)
{
	for (struct queue_item *it = q->items; it != NULL; it = it->next)
		if (it->qid == qid)
			return it;
	return NULL;
}

static struct queue_item *
queue_add(struct queue_proc *q, uint64_t qid)
{
	struct queue_item *it = queue_find(q, qid);

	if (it != NULL)
		return it;
	it = xcalloc(1, sizeof(*it));
	it->q = q;
	it->qid = qid;
	it->msg_fd = -1;
	it->next = q->items;
	q->items = it;
	return it;
}

static void
queue_unlink(struct queue_proc *q, struct queue_item *it)
{
	struct queue_item **pp;

	for (pp = &q->items; *pp != NULL; pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			break;
		}
	envelope_clear(&it->env);
	if (it->msg_fd != -1)
		close(it->msg_fd);
	for (size_t g = 0; g < it->nreqs; g++)
		free(it->reqs[g].rcpts);
	free(it->reqs);
	free(it);
}

/* Read an item's state from its envelope (after a scan or a CLI change). */
static void
queue_refresh(struct queue_proc *q, struct queue_item *it)
{
	struct envelope e;
	const char *err;
	time_t due;

	if (it->running)
		return;		/* picked up again when the delivery ends */
	if (queue_fs_load(q->conf->data_dir, it->qid, &e, &err) == -1) {
		queue_unlink(q, it);	/* deleted, or never complete */
		return;
	}
	due = sched_due(&e, &q->policy);
	it->held = e.hold || due == (time_t)-1;
	it->next_try = due == (time_t)-1 ? 0 : due;
	envelope_clear(&e);
}

/* --- local recipients ------------------------------------------------------ */

/* A local delivery done in a pool thread: copy the queued message into
 * a Maildir tmp file behind Return-Path and Delivered-To, then commit. */
struct queue_local {
	struct queue_proc	*q;
	struct queue_item	*it;
	struct mta_request	*req;
	off_t			 off;		/* of the message in msg_fd */
	char			 from[ENVELOPE_ADDR_MAX + 1];
	char			 maildirs[ACCOUNT_TARGETS_MAX][PATH_MAX];
	char			 users[ACCOUNT_TARGETS_MAX][ACCOUNT_ADDR_MAX + 1];
	size_t			 n;
	int			 rc;
	char			 err[512];
};

static void
queue_local_work(void *arg)
{
	struct queue_local *l = arg;
	struct maildir_tmp t;
	const char *dirs[ACCOUNT_TARGETS_MAX], *err = NULL;
	char head[2 * ACCOUNT_ADDR_MAX + 64], chunk[65536];
	off_t off = l->off;
	ssize_t n;
	int len;

	l->rc = -1;
	for (size_t i = 0; i < l->n; i++)
		dirs[i] = l->maildirs[i];
	if (maildir_tmp_open(dirs[0], &t, &err) == -1 &&
	    (maildir_create(dirs[0], (uid_t)-1, (gid_t)-1, &err) == -1 ||
	    maildir_tmp_open(dirs[0], &t, &err) == -1))
		goto fail;
	len = snprintf(head, sizeof(head), "Return-Path: <%s>\r\n", l->from);
	if (l->n == 1)
		len += snprintf(head + len, sizeof(head) - (size_t)len,
		    "Delivered-To: %s\r\n", l->users[0]);
	if (maildir_tmp_write(&t, head, (size_t)len, &err) == -1)
		goto abort;
	while ((n = pread(l->req->msg_fd, chunk, sizeof(chunk), off)) > 0) {
		if (maildir_tmp_write(&t, chunk, (size_t)n, &err) == -1)
			goto abort;
		off += n;
	}
	if (n == -1) {
		err = "reading the queued message failed";
		goto abort;
	}
	for (size_t i = 1; i < l->n; i++) {
		struct stat st;
		char p[PATH_MAX + 8];

		snprintf(p, sizeof(p), "%s/new", dirs[i]);
		if (stat(p, &st) == -1)
			(void)maildir_create(dirs[i], (uid_t)-1, (gid_t)-1,
			    &err);
	}
	if (maildir_tmp_commit(&t, dirs, l->n, &err) == -1)
		goto fail;
	l->rc = 0;
	return;
abort:
	maildir_tmp_abort(&t);
fail:
	snprintf(l->err, sizeof(l->err), "%s", err != NULL ? err : "failed");
}

static void
queue_request_done(struct mta_request *req, void *arg);

static void
queue_local_done(void *arg)
{
	struct queue_local *l = arg;
	struct mta_request *req = l->req;

	for (size_t i = 0; i < req->nrcpts; i++) {
		struct mta_rcpt *r = &req->rcpts[i];

		if (r->result != MTA_OK)	/* resolution already failed */
			continue;
		if (l->rc == 0) {
			snprintf(r->status, sizeof(r->status), "2.0.0");
			snprintf(r->text, sizeof(r->text), "delivered to mailbox");
			snprintf(r->relay, sizeof(r->relay), "local");
		} else {
			r->result = MTA_TEMP;
			snprintf(r->status, sizeof(r->status), "4.3.0");
			snprintf(r->text, sizeof(r->text), "%s", l->err);
		}
	}
	free(l);
	queue_request_done(req, req->arg);
}

static void
queue_local_nothing(void *arg)
{
}

/* Resolve each recipient of a local request; deliver to the mailboxes.
 * (Forwarding from a local alias to remote addresses happens when the
 * message is received, so remote targets here are not expected.) */
static void
queue_local_start(struct queue_proc *q, struct mta_request *req)
{
	struct queue_local *l = xcalloc(1, sizeof(*l));
	struct account_targets *t = xcalloc(1, sizeof(*t));
	const char *err;
	bool any = false;

	l->q = q;
	l->req = req;
	l->off = req->msg_off;
	snprintf(l->from, sizeof(l->from), "%s", req->from);
	for (size_t i = 0; i < req->nrcpts; i++) {
		struct mta_rcpt *r = &req->rcpts[i];
		enum account_resolve_res res;

		res = account_resolve(q->db, r->addr, q->conf->postmaster, t,
		    &err);
		r->result = MTA_OK;
		if (res == ACCOUNT_NO_USER || (res == ACCOUNT_FOUND &&
		    t->nlocal == 0)) {
			r->result = MTA_PERM;
			snprintf(r->status, sizeof(r->status), "5.1.1");
			snprintf(r->text, sizeof(r->text), "user unknown");
			continue;
		}
		if (res != ACCOUNT_FOUND) {
			r->result = MTA_TEMP;
			snprintf(r->status, sizeof(r->status), "4.3.0");
			snprintf(r->text, sizeof(r->text), "lookup failed");
			continue;
		}
		for (size_t k = 0; k < t->nlocal && l->n < ACCOUNT_TARGETS_MAX;
		    k++) {
			bool dup = false;

			if (account_maildir_path(q->conf->data_dir, t->local[k],
			    l->maildirs[l->n], sizeof(l->maildirs[0])) == -1)
				continue;
			for (size_t j = 0; j < l->n && !dup; j++)
				dup = strcmp(l->maildirs[j],
				    l->maildirs[l->n]) == 0;
			if (dup)
				continue;
			snprintf(l->users[l->n], sizeof(l->users[0]), "%s",
			    t->local[k]);
			l->n++;
			any = true;
		}
	}
	free(t);
	if (!any) {
		/* nothing to write: answer on the next loop turn */
		l->rc = -1;
		snprintf(l->err, sizeof(l->err), "no mailbox");
		workq_push(q->wq, queue_local_nothing, queue_local_done, l);
		return;
	}
	workq_push(q->wq, queue_local_work, queue_local_done, l);
}

/* --- delivery -------------------------------------------------------------- */

static const char *
queue_rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* Whether a domain is ours; answers are kept for a second (a look-up
 * in the accounts database per message is a good part of the cost of
 * relaying one). */
static bool
queue_domain_is_local(struct queue_proc *q, const char *domain)
{
	struct queue_domain_cache *c, *old = &q->domains[0];
	time_t now = time(NULL);
	const char *err;
	bool local;

	for (size_t i = 0; i < QUEUE_DOMAIN_CACHE; i++) {
		c = &q->domains[i];
		if (c->when == now && strcasecmp(c->name, domain) == 0)
			return c->local;
		if (c->when < old->when)
			old = c;
	}
	local = account_domain_exists(q->db, domain, &err) == 1;
	if (strlen(domain) < sizeof(old->name)) {
		snprintf(old->name, sizeof(old->name), "%s", domain);
		old->local = local;
		old->when = now;
	}
	return local;
}

/* Group the due recipients by domain: one request each. */
static void
queue_item_requests(struct queue_proc *q, struct queue_item *it, time_t now)
{
	struct envelope *e = &it->env;
	size_t *group = xcalloc(e->nrcpts, sizeof(size_t));

	it->reqs = xcalloc(e->nrcpts, sizeof(*it->reqs));
	it->nreqs = 0;
	for (size_t i = 0; i < e->nrcpts; i++) {
		struct envelope_rcpt *r = &e->rcpts[i];
		const char *dom = queue_rcpt_domain(r->addr);
		size_t g;

		if (r->state != RCPT_PENDING || (r->next_try > now && !it->flush))
			continue;
		for (g = 0; g < it->nreqs; g++)
			if (strcasecmp(it->reqs[g].domain, dom) == 0)
				break;
		if (g == it->nreqs) {
			struct mta_request *req = &it->reqs[it->nreqs++];

			req->qid = it->qid;
			req->domain = dom;
			req->from = e->from;
			req->envid = e->envid[0] != '\0' ? e->envid : NULL;
			req->ret = e->ret;
			req->eightbit = e->eightbit;
			req->smtputf8 = e->smtputf8;
			req->msg_fd = it->msg_fd;
			req->msg_off = it->msg_off;
			req->size = e->size;
			req->rcpts = xcalloc(e->nrcpts, sizeof(*req->rcpts));
			req->done = queue_request_done;
			req->arg = it;
		}
		struct mta_rcpt *mr = &it->reqs[g].rcpts[it->reqs[g].nrcpts++];

		mr->addr = r->addr;
		mr->orcpt = r->orcpt[0] != '\0' ? r->orcpt : NULL;
		mr->notify = r->notify;
		group[i] = g;
	}
	free(group);
}

static void
queue_item_start(struct queue_proc *q, struct queue_item *it, time_t now)
{
	const char *err;

	if (queue_fs_open_item(q->conf->data_dir, it->qid, &it->env,
	    &it->msg_fd, &it->msg_off, &it->stamp, &err) == -1) {
		log_event(it->qid, "queue", "load-error", "reason=<%s>", err);
		queue_unlink(q, it);
		return;
	}
	queue_item_requests(q, it, now);
	it->flush = false;
	if (it->nreqs == 0) {
		queue_item_finish(q, it);
		return;
	}
	it->running = true;
	q->nrunning++;
	it->inflight = (unsigned)it->nreqs;
	for (size_t g = 0; g < it->nreqs; g++) {
		struct mta_request *req = &it->reqs[g];

		if (queue_domain_is_local(q, req->domain))
			queue_local_start(q, req);
		else
			mta_deliver(q->mta, req);
	}
}

/* Copy one request's results into the envelope. */
static void
queue_record(struct queue_proc *q, struct queue_item *it,
    const struct mta_request *req, time_t now)
{
	struct envelope *e = &it->env;

	for (size_t i = 0; i < req->nrcpts; i++) {
		const struct mta_rcpt *mr = &req->rcpts[i];
		struct envelope_rcpt *r = NULL;

		for (size_t k = 0; k < e->nrcpts && r == NULL; k++)
			if (e->rcpts[k].addr == mr->addr)
				r = &e->rcpts[k];
		if (r == NULL)
			continue;
		snprintf(r->status, sizeof(r->status), "%s", mr->status);
		snprintf(r->text, sizeof(r->text), "%s", mr->text);
		snprintf(r->relay, sizeof(r->relay), "%s", mr->relay);
		if (mr->result == MTA_OK) {
			r->attempts++;
			r->state = RCPT_DELIVERED;
			log_event(it->qid, "queue", "sent", "to=<%s> relay=%s "
			    "dsn=%s delay=%lld reply=<%s>", r->addr, r->relay,
			    r->status, (long long)(now - e->created), r->text);
			continue;
		}
		if (mr->result == MTA_PERM)
			r->attempts++;
		if (mr->result == MTA_PERM || sched_retry(e, r, now,
		    &q->policy)) {
			r->state = RCPT_FAILED;
			log_event(it->qid, "queue", "bounced", "to=<%s> relay=%s "
			    "dsn=%s reply=<%s>", r->addr, r->relay, r->status,
			    r->text);
		} else
			log_event(it->qid, "queue", "deferred", "to=<%s> "
			    "relay=%s dsn=%s next=%llds reply=<%s>", r->addr,
			    r->relay, r->status, (long long)(r->next_try - now),
			    r->text);
	}
}

static void
queue_request_done(struct mta_request *req, void *arg)
{
	struct queue_item *it = arg;
	struct queue_proc *q = it->q;

	queue_record(q, it, req, time(NULL));
	free(req->rcpts);
	req->rcpts = NULL;
	if (--it->inflight == 0)
		queue_item_finish(q, it);
}

/* Queue a report we built (bounce_build gave its envelope). */
static void
queue_inject(struct queue_proc *q, struct buf *msg, struct envelope *dsn,
    uint64_t about)
{
	struct queue_new n;
	const char *err;

	if (queue_fs_new(q->conf->data_dir, dsn->qid, dsn, &n, &err) == -1 ||
	    queue_fs_write(&n, msg->p, msg->len, &err) == -1 ||
	    queue_fs_commit(q->conf->data_dir, &n, dsn, &err) == -1) {
		log_event(about, "queue", "dsn-error", "reason=<%s>", err);
		return;
	}
	log_event(about, "queue", "dsn", "dsn_qid=%016llx to=<%s>",
	    (unsigned long long)dsn->qid, dsn->nrcpts > 0 ?
	    dsn->rcpts[0].addr : "");
	queue_add(q, dsn->qid)->next_try = 0;
}

static bool
queue_delay_due(struct queue_proc *q, const struct envelope *e, time_t now)
{
	for (size_t i = 0; i < e->nrcpts; i++)
		if (sched_want_delay_notice(e, &e->rcpts[i], now, &q->policy))
			return true;
	return false;
}

/* Failure reports, delay notices, success notices as NOTIFY asks. */
static void
queue_item_reports(struct queue_proc *q, struct queue_item *it, time_t now)
{
	static const enum bounce_kind kinds[] = {
		BOUNCE_FAILURE, BOUNCE_DELAY, BOUNCE_SUCCESS,
	};
	struct bounce_params bp = {
		.hostname = q->conf->hostname,
		.postmaster = q->conf->postmaster,
		.now = now,
		.retry_until = it->env.created + q->policy.lifetime,
		.msg_off = it->msg_off,
	};
	struct envelope dsn;
	const char *err;
	struct buf out;
	int n;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (kinds[k] == BOUNCE_DELAY && !queue_delay_due(q, &it->env,
		    now))
			continue;
		memset(&dsn, 0, sizeof(dsn));
		bp.dsn_qid = id_new();
		buf_init(&out, BOUNCE_FULL_MAX + BOUNCE_HEADERS_MAX + 65536);
		n = bounce_build(&it->env, it->msg_fd, kinds[k], &bp, &out,
		    &dsn, &err);
		if (n > 0)
			queue_inject(q, &out, &dsn, it->qid);
		else if (n == -1)
			log_event(it->qid, "queue", "dsn-error", "reason=<%s>",
			    err);
		if (n >= 0)
			bounce_mark(&it->env, kinds[k]);
		envelope_clear(&dsn);
		buf_free(&out);
	}
}

static void	queue_remove_start(struct queue_proc *);

static void
queue_remove_work(void *arg)
{
	struct queue_removal *r = arg;
	const char *err;

	r->rc = queue_fs_remove_many(r->q->conf->data_dir, r->qids, r->n,
	    &err);
	if (r->rc == -1)
		snprintf(r->err, sizeof(r->err), "%s", err);
}

static void
queue_remove_done(void *arg)
{
	struct queue_removal *r = arg;
	struct queue_proc *q = r->q;

	for (size_t i = 0; i < r->n; i++)
		if (r->rc == 0)
			log_event(r->qids[i], "queue", "removed", NULL);
		else
			log_event(r->qids[i], "queue", "remove-error",
			    "reason=<%s>", r->err);
	free(r->qids);
	free(r);
	q->removing = false;
	if (q->nremovals > 0 && !q->stopping)	/* else removed at exit */
		queue_remove_start(q);
}

static void
queue_remove_start(struct queue_proc *q)
{
	struct queue_removal *r = xcalloc(1, sizeof(*r));

	r->q = q;
	r->qids = q->removals;
	r->n = q->nremovals;
	q->removals = NULL;
	q->nremovals = 0;
	q->removing = true;
	workq_push(q->wq, queue_remove_work, queue_remove_done, r);
}

static void
queue_on_remove_timer(evutil_socket_t fd, short what, void *arg)
{
	struct queue_proc *q = arg;

	if (!q->removing && q->nremovals > 0 && !q->stopping)
		queue_remove_start(q);
}

/* Every recipient is done: forget the message now, remove its files
 * in the background (a crash before that only means a second delivery
 * attempt, never a loss).  A batch starts QUEUE_REMOVE_DELAY_MS after
 * the first message that waits for it, or when the previous batch is
 * done: at a low rate too, one directory fsync covers several. */
static void
queue_remove_later(struct queue_proc *q, uint64_t qid)
{
	struct timeval tv = { 0, QUEUE_REMOVE_DELAY_MS * 1000 };

	q->removals = xrealloc(q->removals,
	    (q->nremovals + 1) * sizeof(*q->removals));
	q->removals[q->nremovals++] = qid;
	if (!q->removing && !q->stopping &&
	    !evtimer_pending(q->ev_remove, NULL))
		evtimer_add(q->ev_remove, &tv);
}

/* The CLI may delete or hold a message while it is being delivered:
 * look at the disk before writing our copy of the envelope back (a
 * stat when the .env is still the one loaded). */
static bool
queue_item_still_there(struct queue_proc *q, struct queue_item *it)
{
	struct envelope disk;
	const char *err;
	int changed = queue_fs_changed(q->conf->data_dir, it->qid, &it->stamp);

	if (changed == 0)
		return true;
	if (changed == -1 ||
	    queue_fs_load(q->conf->data_dir, it->qid, &disk, &err) == -1)
		return false;
	it->env.hold = disk.hold;
	envelope_clear(&disk);
	return true;
}

static void
queue_item_finish(struct queue_proc *q, struct queue_item *it)
{
	const char *err;
	time_t now = time(NULL);
	bool pending = false;

	if (it->running) {
		it->running = false;
		q->nrunning--;
	}
	queue_item_reports(q, it, now);
	for (size_t i = 0; i < it->env.nrcpts; i++)
		pending |= it->env.rcpts[i].state == RCPT_PENDING;
	if (!queue_item_still_there(q, it)) {
		log_event(it->qid, "queue", "deleted", "reason=<by operator>");
		queue_unlink(q, it);
	} else if (!pending) {
		queue_remove_later(q, it->qid);
		queue_unlink(q, it);
	} else {
		if (queue_fs_update(q->conf->data_dir, &it->env, &err) == -1)
			log_event(it->qid, "queue", "update-error",
			    "reason=<%s>", err);
		envelope_clear(&it->env);
		close(it->msg_fd);
		it->msg_fd = -1;
		for (size_t g = 0; g < it->nreqs; g++)
			free(it->reqs[g].rcpts);
		free(it->reqs);
		it->reqs = NULL;
		it->nreqs = 0;
		queue_refresh(q, it);
	}
	queue_run_soon(q);
}

/* Start what is due; re-arm the timer for the next due item. */
static void
queue_on_run(evutil_socket_t fd, short what, void *arg)
{
	struct queue_proc *q = arg;
	struct queue_item *it, *next;
	time_t now = time(NULL), soonest = 0;
	struct timeval tv;

	if (q->stopping)
		return;
	for (it = q->items; it != NULL; it = next) {
		next = it->next;
		if (it->running || it->held)
			continue;
		if (it->next_try <= now && q->nrunning < QUEUE_RUNNING_MAX) {
			queue_item_start(q, it, now);
			continue;
		}
		if (soonest == 0 || it->next_try < soonest)
			soonest = it->next_try;
	}
	if (soonest != 0) {
		tv.tv_sec = soonest > now ? soonest - now : 1;
		tv.tv_usec = 0;
		evtimer_add(q->ev_run, &tv);
	}
}

static void
queue_run_soon(struct queue_proc *q)
{
	struct timeval now = { 0, 0 };

	evtimer_add(q->ev_run, &now);
}

static void
queue_on_scan(void *arg, uint64_t qid)
{
	struct queue_proc *q = arg;

	queue_refresh(q, queue_add(q, qid));
}

/* --- channels ---------------------------------------------------------- */

static void
queue_on_worker_msg(struct msgq *mq, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	struct queue_proc *q = arg;
	struct queue_item *it;

	if (fd != -1)
		close(fd);
	if (h->type != MSG_QUEUE_NEW) {
		log_warnx("queue: unexpected message %u from a worker", h->type);
		return;
	}
	it = queue_add(q, h->id);
	it->next_try = 0;
	queue_run_soon(q);
}

static void
queue_on_worker_closed(struct msgq *mq, void *arg)
{
	event_active(((struct queue_proc *)arg)->ev_sweep, 0, 0);
}

static void
queue_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct queue_proc *q = arg;

	for (size_t i = 0; i < QUEUE_WORKERS_MAX; i++)
		if (q->workers[i] != NULL && msgq_dead(q->workers[i]))
			msgq_free(&q->workers[i]);
}

static void
queue_on_parent_msg(struct msgq *mq, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	struct queue_proc *q = arg;

	if (h->type != MSG_QUEUE_WORKER_CHANNEL || fd == -1)
		fatalx("queue: unexpected message %u from parent", h->type);
	for (size_t i = 0; i < QUEUE_WORKERS_MAX; i++) {
		if (q->workers[i] != NULL)
			continue;
		q->workers[i] = msgq_new(q->base, fd, queue_on_worker_msg,
		    queue_on_worker_closed, q);
		return;
	}
	log_warnx("queue: too many worker channels");
	close(fd);
}

static void
queue_on_parent_closed(struct msgq *mq, void *arg)
{
	log_event(0, "queue", "exited", "reason=<parent gone>");
	exit(0);
}

/* --- control socket (doc/QUEUE.md) ----------------------------------------- */

static void
queue_ctl_free(struct queue_ctl_client *c)
{
	event_free(c->ev);
	close(c->fd);
	buf_free(&c->in);
	free(c);
}

static void
queue_ctl_reply(struct queue_ctl_client *c, const char *line)
{
	/* short replies on a local socket: one write, best effort */
	if (write(c->fd, line, strlen(line)) < 0) {
		/* the CLI went away */
	}
}

static int
queue_ctl_qid(const char *arg, uint64_t *qid_r)
{
	char *end;

	errno = 0;
	*qid_r = strtoull(arg, &end, 16);
	return errno != 0 || end == arg || *end != '\0' ? -1 : 0;
}

static void
queue_ctl_command(struct queue_ctl_client *c, char *line)
{
	struct queue_proc *q = c->q;
	char *arg = strchr(line, ' ');
	struct queue_item *it;
	uint64_t qid = 0;
	unsigned n = 0;

	if (arg != NULL)
		*arg++ = '\0';
	if (arg != NULL && queue_ctl_qid(arg, &qid) == -1) {
		queue_ctl_reply(c, "error bad queue id\n");
		return;
	}
	if (strcmp(line, "flush") == 0) {
		for (it = q->items; it != NULL; it = it->next)
			if (arg == NULL || it->qid == qid) {
				it->next_try = 0;
				it->flush = true;
				n++;
			}
		queue_run_soon(q);
		queue_ctl_reply(c, n > 0 || arg == NULL ? "ok flushing\n" :
		    "error no such message\n");
	} else if (strcmp(line, "reload") == 0 && arg != NULL) {
		/* a running item looks at the disk when it finishes */
		queue_refresh(q, queue_add(q, qid));
		queue_run_soon(q);
		queue_ctl_reply(c, "ok reloaded\n");
	} else
		queue_ctl_reply(c, "error unknown command\n");
}

static void
queue_on_ctl_read(evutil_socket_t fd, short what, void *arg)
{
	struct queue_ctl_client *c = arg;
	char tmp[QUEUE_CTL_LINE_MAX], *nl;
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0 || buf_append(&c->in, tmp, (size_t)n) == -1) {
		queue_ctl_free(c);
		return;
	}
	while ((nl = memchr(c->in.p, '\n', c->in.len)) != NULL) {
		*nl = '\0';
		queue_ctl_command(c, c->in.p);
		buf_consume(&c->in, (size_t)(nl - c->in.p) + 1);
	}
}

static void
queue_on_ctl_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct queue_proc *q = arg;
	struct queue_ctl_client *c;
	struct timeval tv = { 10, 0 };
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	c = xcalloc(1, sizeof(*c));
	c->q = q;
	c->fd = fd;
	buf_init(&c->in, QUEUE_CTL_LINE_MAX);
	c->ev = event_new(q->base, fd, EV_READ | EV_PERSIST, queue_on_ctl_read,
	    c);
	event_add(c->ev, &tv);
}

static void
queue_ctl_listen(struct queue_proc *q)
{
	struct sockaddr_un sun;
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/run", q->conf->data_dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("mkdir(%s)", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/queue.sock", dir) >= sizeof(sun.sun_path))
		fatalx("%s/queue.sock: path too long", dir);
	snprintf(q->ctl_path, sizeof(q->ctl_path), "%s", sun.sun_path);
	unlink(sun.sun_path);
	q->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (q->ctl_fd == -1 ||
	    bind(q->ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(sun.sun_path, 0600) == -1 || listen(q->ctl_fd, 8) == -1)
		fatal("control socket %s", sun.sun_path);
	q->ev_ctl = event_new(q->base, q->ctl_fd, EV_READ | EV_PERSIST,
	    queue_on_ctl_accept, q);
	event_add(q->ev_ctl, NULL);
}

/* --- main ------------------------------------------------------------------ */

static void
queue_on_term(evutil_socket_t sig, short what, void *arg)
{
	struct queue_proc *q = arg;

	q->stopping = true;
	/* deliveries under way end as "try again": nothing is lost, the
	 * envelopes on disk are the truth */
	event_base_loopexit(q->base, NULL);
}

static void
queue_setup(struct queue_proc *q)
{
	struct dns_options dopt;
	char path[PATH_MAX];
	const char *err;

	if (queue_fs_init(q->conf->data_dir, &err) == -1)
		fatalx("queue: %s", err);
	snprintf(path, sizeof(path), "%s/accounts.db", q->conf->data_dir);
	if (account_db_open(path, true, &q->db, &err) == -1)
		fatalx("queue: %s: %s", path, err);
	dns_options_conf(&dopt, q->conf);
	if ((q->dns = dns_new(q->base, &dopt, &err)) == NULL)
		fatalx("queue: DNS: %s", err);
	q->mta = mta_new(q->base, q->conf, q->dns);
	q->wq = workq_new(q->base, 2);
	sched_policy_from_conf(&q->policy, q->conf);
	q->ev_run = evtimer_new(q->base, queue_on_run, q);
	q->ev_remove = evtimer_new(q->base, queue_on_remove_timer, q);
	q->ev_sweep = event_new(q->base, -1, 0, queue_on_sweep, q);
	queue_ctl_listen(q);
	if (queue_fs_scan(q->conf->data_dir, queue_on_scan, q, &err) == -1)
		log_warnx("queue: scan: %s", err);
}

void
queue_proc_main(const struct conf *conf, int parent_fd)
{
	struct queue_proc q;
	struct event *ev_term;
	unsigned n = 0;

	memset(&q, 0, sizeof(q));
	q.conf = conf;
	proc_drop_privileges(conf->user);
	proc_child_init("queue");
	if ((q.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	q.parent = msgq_new(q.base, parent_fd, queue_on_parent_msg,
	    queue_on_parent_closed, &q);
	ev_term = evsignal_new(q.base, SIGTERM, queue_on_term, &q);
	event_add(ev_term, NULL);
	signal(SIGINT, SIG_IGN);	/* the parent stops us last */
	signal(SIGHUP, SIG_IGN);
	queue_setup(&q);
	for (struct queue_item *it = q.items; it != NULL; it = it->next)
		n++;
	log_event(0, "queue", "started", "messages=%u", n);
	queue_run_soon(&q);
	event_base_dispatch(q.base);
	mta_shutdown(q.mta);
	mta_free(&q.mta);
	workq_free(&q.wq);	/* removals under way finish first */
	if (q.nremovals > 0) {
		const char *err;

		(void)queue_fs_remove_many(conf->data_dir, q.removals,
		    q.nremovals, &err);
	}
	free(q.removals);
	dns_free(&q.dns);
	while (q.items != NULL)
		queue_unlink(&q, q.items);
	unlink(q.ctl_path);
	account_db_close(&q.db);
	log_event(0, "queue", "exited", NULL);
	exit(0);
}
