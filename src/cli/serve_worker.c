/* serve_worker.c: a worker process: accepts connections on its listeners,
 * runs SMTP, POP3 and IMAP sessions on one event loop, delivers through
 * its thread pool, asks the auth process where recipients' mail goes. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/account.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/cidr.h"
#include "net/conn.h"
#include "net/connlimit.h"
#include "net/workq.h"
#include "proc/msg.h"
#include "proc/proc.h"
#include "proc/service.h"
#include "queue/queue_fs.h"
#include "cli/serve.h"
#include "imap/imap_server.h"
#include "pop3/pop3_server.h"
#include "smtp/smtp_server.h"

#define WORKER_FSYNC_THREADS	8	/* doc/QUEUE.md: fsync rate peaks near 8 */
#define WORKER_RETIRE_MAX	600	/* seconds a retiring worker may linger */
#define WORKER_DOMAIN_CACHE	8	/* domains remembered as not ours */
#define WORKER_DOMAIN_MAX	255	/* longer ones are not remembered */

/* A question to the auth process awaiting its answer. */
struct worker_lookup {
	struct worker_lookup	*next;
	uint64_t		 id;
	smtp_resolve_done_fn	 done;		/* a recipient lookup */
	service_check_done_fn	 check_done;	/* or a password check */
	service_scram_done_fn	 scram_done;	/* or SCRAM secrets */
	int			 fail_result;	/* when answered without auth */
	time_t			 asked;
	void			*arg;
	/* a recipient lookup whose answer speaks for its whole domain:
	 * that domain, lower case (else "") */
	char			 domain[WORKER_DOMAIN_MAX + 1];
};

/* A domain the auth process said is not ours (ACCOUNT_NOT_LOCAL),
 * believed only during the second the question was asked, like
 * queue_domain_is_local(): a domain added with "facteur domain add" is
 * ours for every worker a second later at most.  Relaying then costs no
 * round trip to the auth process per recipient. */
struct worker_domain {
	char			 name[WORKER_DOMAIN_MAX + 1];	/* lower case */
	time_t			 when;				/* 0: unused */
};

/* An answer that takes longer than this means the auth process is stuck:
 * the session gets a temporary failure instead of waiting forever. */
#define WORKER_LOOKUP_TIMEOUT	30

struct worker_listener {
	struct worker		*w;
	enum conf_proto		 proto;
	struct event		*ev;
};

struct worker {
	struct worker_env	*env;
	struct event_base	*base;
	struct worker_listener	 listeners[CONF_LISTEN_MAX];
	struct event		*ev_local;	/* sendmail.sock */
	struct event		*ev_resume_accept;
	struct event		*ev_term, *ev_retire, *ev_hup, *ev_tick;
	struct event		*ev_grace, *ev_check;
	struct msgq		*parent;
	struct msgq		*auth;
	struct msgq		*auth_dead;	/* freed outside its callback */
	struct msgq		*queue;		/* to the queue process */
	struct msgq		*queue_dead;
	struct worker_lookup	*lookups;
	uint64_t		 next_lookup;
	struct worker_domain	 not_local[WORKER_DOMAIN_CACHE];
	struct smtp_server	 smtp;
	struct pop3_server	 pop3;
	struct imap_server	 imap;
	struct service_auth	 auth_svc;	/* password checks, for sessions */
	bool			 stopping;	/* not accepting any more */
	bool			 retiring;	/* ... after a reload */
};

static void	worker_check_done(struct worker *);
static void	worker_stop(struct worker *, unsigned, bool);

/* --- recipient lookups ---------------------------------------------------- */

/* The domain of addr, lower-cased into key_r, when a "not local" answer
 * for addr says the same of every address there: the auth process looked
 * addr up for real (not longer than ACCOUNT_ADDR_MAX, see
 * account_resolve_top()), and it has a local part, an '@' and a domain,
 * taken after the last '@' as the auth process does. */
static bool
worker_domain_key(const char *addr, char key_r[WORKER_DOMAIN_MAX + 1])
{
	const char *at;
	size_t n;

	if (strnlen(addr, ACCOUNT_ADDR_MAX + 1) > ACCOUNT_ADDR_MAX ||
	    (at = strrchr(addr, '@')) == NULL || at == addr)
		return false;
	at++;
	if ((n = strlen(at)) == 0 || n > WORKER_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)at[i];

		key_r[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	key_r[n] = '\0';
	return true;
}

/* Did the auth process say, this very second, that key is not ours? */
static bool
worker_domain_not_local(struct worker *w, const char *key)
{
	struct worker_domain *d;
	time_t now = time(NULL);

	for (size_t i = 0; i < WORKER_DOMAIN_CACHE; i++) {
		d = &w->not_local[i];
		if (d->when > now)
			d->when = 0;	/* the clock went back: forget it */
		else if (d->when == now && strcmp(d->name, key) == 0)
			return true;
	}
	return false;
}

/* Remember the answer "not ours" to a question asked at asked, in place
 * of the same domain or else the oldest entry. */
static void
worker_domain_remember(struct worker *w, const char *key, time_t asked)
{
	struct worker_domain *d, *old = &w->not_local[0];

	if (asked != time(NULL))
		return;		/* too old to be believed already */
	for (size_t i = 0; i < WORKER_DOMAIN_CACHE; i++) {
		d = &w->not_local[i];
		if (strcmp(d->name, key) == 0) {
			old = d;
			break;
		}
		if (d->when < old->when)
			old = d;
	}
	memcpy(old->name, key, strlen(key) + 1);
	old->when = asked;
}

static void
worker_domain_forget(struct worker *w)
{
	memset(w->not_local, 0, sizeof(w->not_local));
}

static void
worker_fail_lookup(struct worker_lookup *l)
{
	struct smtp_resolved r = { .result = ACCOUNT_ERROR };

	if (l->check_done != NULL)
		l->check_done(l->arg, l->fail_result != 0 ? l->fail_result :
		    MSG_CHECK_TEMP, NULL);
	else if (l->scram_done != NULL)
		l->scram_done(l->arg, MSG_CHECK_TEMP, NULL, NULL);
	else
		l->done(l->arg, &r);
	free(l);
}

static void
worker_fail_lookups(struct worker *w)
{
	struct worker_lookup *l;

	while ((l = w->lookups) != NULL) {
		w->lookups = l->next;
		worker_fail_lookup(l);
	}
}

static void
worker_on_auth_closed(struct msgq *q, void *arg)
{
	struct worker *w = arg;

	log_warnx("worker %u: lost the auth process", w->env->slot);
	w->auth_dead = w->auth;
	w->auth = NULL;
	worker_fail_lookups(w);
}

/* Fail questions the auth process has sat on for too long. */
static void
worker_expire_lookups(struct worker *w)
{
	struct worker_lookup **lp = &w->lookups, *l;
	time_t now = time(NULL);

	while ((l = *lp) != NULL) {
		if (now - l->asked < WORKER_LOOKUP_TIMEOUT) {
			lp = &l->next;
			continue;
		}
		*lp = l->next;
		log_warnx("worker %u: no answer from the auth process",
		    w->env->slot);
		worker_fail_lookup(l);
	}
}

/* Parse MSG_AUTH_RESOLVE_REPLY into pointers into the payload. */
static int
worker_parse_resolved(const struct msg_hdr *h, const void *payload,
    struct smtp_resolved *r, const char **ptrs, size_t nptrs)
{
	struct msg_resolve_reply rr;
	const char *p, *end;
	size_t want;

	if (h->len < sizeof(rr))
		return -1;
	memcpy(&rr, payload, sizeof(rr));
	want = (size_t)rr.nlocal * 2 + rr.nremote;
	if (rr.nlocal > ACCOUNT_TARGETS_MAX || rr.nremote > ACCOUNT_TARGETS_MAX ||
	    want > nptrs)
		return -1;
	p = (const char *)payload + sizeof(rr);
	end = (const char *)payload + h->len;
	for (size_t i = 0; i < want; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (nul == NULL)
			return -1;
		ptrs[i] = p;
		p = nul + 1;
	}
	r->result = (int)rr.result;
	r->nlocal = rr.nlocal;
	r->nremote = rr.nremote;
	return 0;
}

static void
worker_check_reply(struct worker_lookup *l, const struct msg_hdr *h,
    const void *payload)
{
	struct msg_check_reply rr;
	const char *user = NULL;

	if (h->type != MSG_AUTH_CHECK_REPLY || l->check_done == NULL ||
	    h->len < sizeof(rr))
		fatalx("worker: malformed check reply");
	memcpy(&rr, payload, sizeof(rr));
	if (rr.result == MSG_CHECK_OK) {
		user = (const char *)payload + sizeof(rr);
		if (h->len == sizeof(rr) ||
		    memchr(user, '\0', h->len - sizeof(rr)) == NULL)
			fatalx("worker: malformed check reply");
	}
	l->check_done(l->arg, (int)rr.result, user);
	free(l);
}

static void
worker_scram_reply(struct worker_lookup *l, const struct msg_hdr *h,
    const void *payload)
{
	struct msg_scram_reply rr;
	const char *user = NULL;

	if (h->type != MSG_AUTH_SCRAM_REPLY || l->scram_done == NULL ||
	    h->len < sizeof(rr))
		fatalx("worker: malformed SCRAM reply");
	memcpy(&rr, payload, sizeof(rr));
	if (rr.result == MSG_CHECK_OK) {
		user = (const char *)payload + sizeof(rr);
		if (h->len == sizeof(rr) ||
		    memchr(user, '\0', h->len - sizeof(rr)) == NULL)
			fatalx("worker: malformed SCRAM reply");
	}
	l->scram_done(l->arg, (int)rr.result, &rr, user);
	explicit_bzero(&rr, sizeof(rr));
	free(l);
}

static void
worker_on_auth_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	struct worker *w = arg;
	struct worker_lookup **lp, *l;
	const char *ptrs[ACCOUNT_TARGETS_MAX * 4];
	const char *maildirs[ACCOUNT_TARGETS_MAX], *users[ACCOUNT_TARGETS_MAX];
	struct smtp_resolved r;
	size_t nl;

	if (fd != -1)
		close(fd);
	if (h->type != MSG_AUTH_RESOLVE_REPLY &&
	    h->type != MSG_AUTH_CHECK_REPLY && h->type != MSG_AUTH_SCRAM_REPLY)
		fatalx("worker: unexpected message %u from auth", h->type);
	for (lp = &w->lookups; (l = *lp) != NULL; lp = &l->next)
		if (l->id == h->id)
			break;
	if (l == NULL)
		return;		/* asked before a restart of auth */
	*lp = l->next;
	if (h->type == MSG_AUTH_CHECK_REPLY || l->check_done != NULL) {
		worker_check_reply(l, h, payload);
		return;
	}
	if (h->type == MSG_AUTH_SCRAM_REPLY || l->scram_done != NULL) {
		worker_scram_reply(l, h, payload);
		return;
	}
	if (worker_parse_resolved(h, payload, &r, ptrs,
	    sizeof(ptrs) / sizeof(ptrs[0])) == -1)
		fatalx("worker: malformed resolve reply");
	nl = r.nlocal;
	for (size_t i = 0; i < nl; i++) {
		maildirs[i] = ptrs[2 * i];
		users[i] = ptrs[2 * i + 1];
	}
	r.maildir = maildirs;
	r.user = users;
	r.remote = ptrs + 2 * nl;
	if (r.result == ACCOUNT_NOT_LOCAL && l->domain[0] != '\0')
		worker_domain_remember(w, l->domain, l->asked);
	l->done(l->arg, &r);
	free(l);
}

static void
worker_on_failed_lookup(evutil_socket_t fd, short what, void *arg)
{
	worker_fail_lookup(arg);
}

/* The answer "not ours" from the cache, on the loop turn after the
 * question. */
static void
worker_on_not_local(evutil_socket_t fd, short what, void *arg)
{
	struct worker_lookup *l = arg;
	struct smtp_resolved r = { .result = ACCOUNT_NOT_LOCAL };

	l->done(l->arg, &r);
	free(l);
}

/* Register a question; false (answered as failed on the next loop
 * turn, never from inside) when the auth process is unreachable. */
static bool
worker_ask(struct worker *w, struct worker_lookup *l)
{
	struct timeval now = { 0, 0 };

	l->id = ++w->next_lookup;
	l->asked = time(NULL);
	if (w->auth == NULL) {
		event_base_once(w->base, -1, EV_TIMEOUT, worker_on_failed_lookup,
		    l, &now);
		return false;
	}
	l->next = w->lookups;
	w->lookups = l;
	return true;
}

static void
worker_resolve(void *ctx, const char *addr, smtp_resolve_done_fn done,
    void *arg)
{
	struct worker *w = ctx;
	struct worker_lookup *l = xcalloc(1, sizeof(*l));
	struct timeval now = { 0, 0 };

	l->done = done;
	l->arg = arg;
	if (worker_domain_key(addr, l->domain) &&
	    worker_domain_not_local(w, l->domain)) {
		/* answered on the next turn, never from inside */
		event_base_once(w->base, -1, EV_TIMEOUT, worker_on_not_local,
		    l, &now);
		return;
	}
	if (worker_ask(w, l))
		msgq_send(w->auth, MSG_AUTH_RESOLVE, l->id, addr, strlen(addr),
		    -1);
}

static void
worker_auth_check(void *ctx, const char *login, const char *password,
    size_t password_len, service_check_done_fn done, void *arg)
{
	struct worker *w = ctx;
	struct worker_lookup *l = xcalloc(1, sizeof(*l));
	size_t llen = strlen(login);
	char buf[ACCOUNT_ADDR_MAX + 1 + ACCOUNT_PASSWORD_MAX];

	l->check_done = done;
	l->arg = arg;
	if (llen > ACCOUNT_ADDR_MAX || password_len > ACCOUNT_PASSWORD_MAX) {
		struct timeval now = { 0, 0 };

		/* answered like a wrong password, on the next turn */
		l->fail_result = MSG_CHECK_FAIL;
		event_base_once(w->base, -1, EV_TIMEOUT, worker_on_failed_lookup,
		    l, &now);
		return;
	}
	if (!worker_ask(w, l))
		return;
	memcpy(buf, login, llen + 1);
	memcpy(buf + llen + 1, password, password_len);
	msgq_send(w->auth, MSG_AUTH_CHECK, l->id, buf, llen + 1 + password_len,
	    -1);
	explicit_bzero(buf, sizeof(buf));
}

static void
worker_auth_scram(void *ctx, const char *login, service_scram_done_fn done,
    void *arg)
{
	struct worker *w = ctx;
	struct worker_lookup *l = xcalloc(1, sizeof(*l));

	l->scram_done = done;
	l->arg = arg;
	if (worker_ask(w, l))
		msgq_send(w->auth, MSG_AUTH_SCRAM, l->id, login, strlen(login),
		    -1);
}

/* --- queue channel -------------------------------------------------------- */

static void
worker_on_queue_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	if (fd != -1)
		close(fd);
	log_warnx("worker: unexpected message %u from the queue", h->type);
}

static void
worker_on_queue_closed(struct msgq *q, void *arg)
{
	struct worker *w = arg;

	/* a new channel comes when the parent restarts the queue process;
	 * meanwhile messages wait on disk and are found by its scan */
	log_warnx("worker %u: lost the queue process", w->env->slot);
	w->queue_dead = w->queue;
	w->queue = NULL;
}

/* A message was committed to the queue: tell the queue process. */
static void
worker_queued(void *ctx, uint64_t qid)
{
	struct worker *w = ctx;

	if (w->queue != NULL)
		msgq_send(w->queue, MSG_QUEUE_NEW, qid, NULL, 0, -1);
}

/* --- parent channel ------------------------------------------------------- */

static void
worker_on_parent_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	struct worker *w = arg;

	if (fd == -1 || (h->type != MSG_WORKER_AUTH_CHANNEL &&
	    h->type != MSG_WORKER_QUEUE_CHANNEL))
		fatalx("worker: unexpected message %u from parent", h->type);
	if (h->type == MSG_WORKER_QUEUE_CHANNEL) {
		msgq_free(&w->queue_dead);
		msgq_free(&w->queue);
		w->queue = msgq_new(w->base, fd, worker_on_queue_msg,
		    worker_on_queue_closed, w);
		return;
	}
	msgq_free(&w->auth_dead);
	if (w->auth != NULL) {
		msgq_free(&w->auth);
		worker_fail_lookups(w);	/* asked of the old process */
	}
	w->auth = msgq_new(w->base, fd, worker_on_auth_msg,
	    worker_on_auth_closed, w);
	worker_domain_forget(w);	/* a new process may see other domains */
}

static void
worker_on_parent_closed(struct msgq *q, void *arg)
{
	/* the parent is gone: nobody supervises us any more */
	fatalx("worker: parent went away");
}

/* --- accepting ------------------------------------------------------------ */

static void
worker_session_ended(void *ctx, const struct sockaddr_storage *peer)
{
	struct worker *w = ctx;

	if (peer->ss_family != AF_UNIX)	/* local programs are not counted */
		connlimit_release(w->env->limits, w->env->limits_row, peer);
	if (w->stopping)
		worker_check_done(w);
}

static void
worker_pause_accept(struct worker *w)
{
	struct timeval tv = { 1, 0 };

	for (size_t i = 0; i < CONF_LISTEN_MAX; i++)
		if (w->listeners[i].ev != NULL)
			event_del(w->listeners[i].ev);
	evtimer_add(w->ev_resume_accept, &tv);
}

static void
worker_on_resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->stopping)
		return;
	for (size_t i = 0; i < CONF_LISTEN_MAX; i++)
		if (w->listeners[i].ev != NULL)
			event_add(w->listeners[i].ev, NULL);
}

/* Hand an accepted socket to the session type of its listener. */
bool
serve_proto_served(enum conf_proto proto)
{
	switch (proto) {
	case CONF_PROTO_SMTP:
	case CONF_PROTO_SUBMISSION:
	case CONF_PROTO_SUBMISSIONS:
	case CONF_PROTO_POP3:
	case CONF_PROTO_POP3S:
	case CONF_PROTO_IMAP:
	case CONF_PROTO_IMAPS:
		return true;
	default:
		return false;
	}
}

/* Over a limit: one line in the listener's protocol, then close.  On
 * implicit-TLS ports nothing can be said in clear: just close. */
static void
worker_refuse(enum conf_proto proto, int fd, const struct sockaddr_storage *ss,
    socklen_t len, const char *why, const struct conf *conf)
{
	char addr[64], line[512];
	int n = 0;

	conn_addr_str((const struct sockaddr *)ss, addr, sizeof(addr));
	log_event(0, conf_proto_name(proto), "refused", "addr=%s reason=<%s>",
	    addr, why);
	if (proto == CONF_PROTO_SMTP || proto == CONF_PROTO_SUBMISSION)
		n = snprintf(line, sizeof(line), "421 4.7.0 %s Error: %s\r\n",
		    conf->hostname, why);
	else if (proto == CONF_PROTO_POP3)
		n = snprintf(line, sizeof(line), "-ERR [SYS/TEMP] %s\r\n", why);
	else if (proto == CONF_PROTO_IMAP)
		n = snprintf(line, sizeof(line), "* BYE %s\r\n", why);
	/* best effort, non-blocking: the peer may not read */
	if (n > 0 && write(fd, line, (size_t)n) < 0) {
		/* refused anyway */
	}
	close(fd);
}

static void
worker_start_session(struct worker *w, enum conf_proto proto, int fd,
    const struct sockaddr *sa, socklen_t len)
{
	switch (proto) {
	case CONF_PROTO_SMTP:
		smtp_session_start(&w->smtp, fd, sa, len, SMTP_KIND_MX);
		break;
	case CONF_PROTO_SUBMISSION:
		smtp_session_start(&w->smtp, fd, sa, len, SMTP_KIND_SUBMISSION);
		break;
	case CONF_PROTO_SUBMISSIONS:
		smtp_session_start(&w->smtp, fd, sa, len,
		    SMTP_KIND_SUBMISSIONS);
		break;
	case CONF_PROTO_POP3:
		pop3_session_start(&w->pop3, fd, sa, len, false);
		break;
	case CONF_PROTO_POP3S:
		pop3_session_start(&w->pop3, fd, sa, len, true);
		break;
	case CONF_PROTO_IMAP:
		imap_session_start(&w->imap, fd, sa, len, false);
		break;
	case CONF_PROTO_IMAPS:
		imap_session_start(&w->imap, fd, sa, len, true);
		break;
	default:
		/* the parent binds only what workers serve */
		fatalx("worker: no server for %s", conf_proto_name(proto));
	}
}

static void
worker_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct worker_listener *wl = arg;
	struct worker *w = wl->w;
	const struct conf *conf = w->env->conf;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	int fd, one = 1;

	for (int n = 0; n < 64; n++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept: pausing for a second");
				worker_pause_accept(w);
			}
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		len = conn_unmap_v4(&ss, len);
		if (!connlimit_take(w->env->limits, w->env->limits_row, &ss,
		    conf->max_connections,
		    conf->max_connections_per_ip, &why)) {
			worker_refuse(wl->proto, fd, &ss, len, why, conf);
			continue;
		}
		worker_start_session(w, wl->proto, fd, (struct sockaddr *)&ss,
		    len);
	}
}

/* Local programs (facteur sendmail) on the unix socket: no address
 * limits, the kernel vouches for who they are. */
static void
worker_on_local_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct worker *w = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	for (int n = 0; n < 16; n++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				worker_pause_accept(w);
			return;
		}
		smtp_session_start(&w->smtp, fd, (struct sockaddr *)&ss, len,
		    SMTP_KIND_LOCAL);
	}
}

/* --- stopping ------------------------------------------------------------- */

static void
worker_check_done(struct worker *w)
{
	if (w->stopping && smtp_server_idle(&w->smtp) &&
	    pop3_server_idle(&w->pop3) && imap_server_idle(&w->imap) &&
	    workq_pending(w->smtp.wq) == 0)
		event_base_loopexit(w->base, NULL);
}

static void
worker_on_check(evutil_socket_t fd, short what, void *arg)
{
	worker_check_done(arg);
}

static void
worker_on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	log_event(0, "worker", "grace-expired", "slot=%u sessions=%u",
	    w->env->slot, w->smtp.nsessions + w->pop3.nsessions +
	    w->imap.nsessions);
	if (w->retiring) {	/* lingered long enough: stop gracefully */
		worker_stop(w, w->env->conf->shutdown_grace, false);
		return;
	}
	smtp_server_kill(&w->smtp);
	pop3_server_kill(&w->pop3);
	imap_server_kill(&w->imap);
}

static void
worker_close_listeners(struct worker *w)
{
	if (w->ev_local != NULL) {
		event_free(w->ev_local);
		w->ev_local = NULL;
		close(w->env->local_fd);
	}
	for (size_t i = 0; i < CONF_LISTEN_MAX; i++) {
		if (w->listeners[i].ev == NULL)
			continue;
		event_free(w->listeners[i].ev);
		w->listeners[i].ev = NULL;
		close(w->env->listen_fds[i]);
	}
}

/* Stop accepting.  A graceful stop lets transactions finish for the
 * grace period, then says 421 to everyone.  A retiring worker (after a
 * reload) lets its sessions go on undisturbed until they end, for at
 * most WORKER_RETIRE_MAX, then stops gracefully. */
static void
worker_stop(struct worker *w, unsigned grace, bool retire)
{
	struct timeval tv = { grace, 0 }, every = { 1, 0 };

	if (w->stopping && !w->retiring)
		return;
	if (!w->stopping) {
		worker_close_listeners(w);
		event_add(w->ev_check, &every);
	}
	w->stopping = true;
	w->retiring = retire;
	if (!retire) {
		smtp_server_stop(&w->smtp);
		pop3_server_stop(&w->pop3);
		imap_server_stop(&w->imap);
	}
	evtimer_add(w->ev_grace, &tv);
	worker_check_done(w);
}

static void
worker_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	if (sig == SIGUSR2) {
		log_event(0, "worker", "retiring", "slot=%u", w->env->slot);
		worker_stop(w, WORKER_RETIRE_MAX, true);
	} else if (sig == SIGTERM || sig == SIGINT) {
		log_event(0, "worker", "stopping", "slot=%u", w->env->slot);
		if (w->stopping && !w->retiring) {
			/* a second request: shorten the grace */
			smtp_server_kill(&w->smtp);
			pop3_server_kill(&w->pop3);
			imap_server_kill(&w->imap);
			return;
		}
		worker_stop(w, w->env->conf->shutdown_grace, false);
	}
	/* SIGHUP goes to the parent; workers ignore it */
}

static void
worker_on_tick(evutil_socket_t fd, short what, void *arg)
{
	worker_expire_lookups(arg);
}

static void
worker_setup(struct worker *w)
{
	const struct conf *conf = w->env->conf;
	struct timeval tick = { 5, 0 };

	w->base = event_base_new();
	if (w->base == NULL)
		fatalx("event_base_new failed");
	for (size_t i = 0; i < conf->nlisten; i++) {
		if (w->env->listen_fds[i] == -1)
			continue;
		w->listeners[i].w = w;
		w->listeners[i].proto = conf->listen[i].proto;
		w->listeners[i].ev = event_new(w->base, w->env->listen_fds[i],
		    EV_READ | EV_PERSIST, worker_on_accept, &w->listeners[i]);
		event_add(w->listeners[i].ev, NULL);
	}
	if (w->env->local_fd != -1) {
		w->ev_local = event_new(w->base, w->env->local_fd,
		    EV_READ | EV_PERSIST, worker_on_local_accept, w);
		event_add(w->ev_local, NULL);
	}
	w->ev_resume_accept = evtimer_new(w->base, worker_on_resume_accept, w);
	w->ev_grace = evtimer_new(w->base, worker_on_grace, w);
	w->ev_check = event_new(w->base, -1, EV_PERSIST, worker_on_check, w);
	w->ev_tick = event_new(w->base, -1, EV_PERSIST, worker_on_tick, w);
	event_add(w->ev_tick, &tick);
	w->ev_term = evsignal_new(w->base, SIGTERM, worker_on_signal, w);
	w->ev_retire = evsignal_new(w->base, SIGUSR2, worker_on_signal, w);
	w->ev_hup = evsignal_new(w->base, SIGHUP, worker_on_signal, w);
	event_add(w->ev_term, NULL);
	/* Ctrl-C reaches the whole process group: only the parent's
	 * SIGTERM counts, so the grace period is kept */
	signal(SIGINT, SIG_IGN);
	event_add(w->ev_retire, NULL);
	event_add(w->ev_hup, NULL);
	w->parent = msgq_new(w->base, w->env->parent_fd, worker_on_parent_msg,
	    worker_on_parent_closed, w);
	w->auth = msgq_new(w->base, w->env->auth_fd, worker_on_auth_msg,
	    worker_on_auth_closed, w);
	w->queue = msgq_new(w->base, w->env->queue_fd, worker_on_queue_msg,
	    worker_on_queue_closed, w);
	w->auth_svc.check = worker_auth_check;
	w->auth_svc.scram = worker_auth_scram;
	w->auth_svc.ctx = w;
	w->auth_svc.sasl_secret = w->env->sasl_secret;
	w->auth_svc.sasl_secret_len = sizeof(w->env->sasl_secret);
	w->smtp.conf = conf;
	w->smtp.base = w->base;
	w->smtp.ssl_ctx = w->env->ssl_ctx;
	w->smtp.wq = workq_new(w->base, WORKER_FSYNC_THREADS);
	w->smtp.resolve = worker_resolve;
	w->smtp.resolve_ctx = w;
	w->smtp.queued = worker_queued;
	w->smtp.auth = w->auth_svc;
	w->smtp.queued_ctx = w;
	w->smtp.session_ended = worker_session_ended;
	w->smtp.ended_ctx = w;
	if (cidr_parse_list(conf->relay_networks, &w->smtp.relay_nets,
	    &w->smtp.nrelay_nets) == -1)
		fatalx("relay_networks: bad prefix");	/* conf checked it */
	w->pop3.conf = conf;
	w->pop3.base = w->base;
	w->pop3.ssl_ctx = w->env->ssl_ctx;
	w->pop3.wq = w->smtp.wq;
	w->pop3.auth = w->auth_svc;
	w->pop3.session_ended = worker_session_ended;
	w->pop3.ended_ctx = w;
	w->imap.conf = conf;
	w->imap.base = w->base;
	w->imap.ssl_ctx = w->env->ssl_ctx;
	w->imap.wq = w->smtp.wq;
	w->imap.auth = w->auth_svc;
	w->imap.session_ended = worker_session_ended;
	w->imap.ended_ctx = w;
	if (imap_server_init(&w->imap) == -1)
		fatalx("worker: IMAP setup failed");
}

void
serve_worker_main(struct worker_env *env)
{
	struct worker w;

	memset(&w, 0, sizeof(w));
	w.env = env;
	proc_drop_privileges(env->conf->user);
	proc_child_init("worker");
	/* each worker hands out its own share of the spare files */
	queue_fs_share(env->slot, env->nworkers);
	worker_setup(&w);
	log_event(0, "worker", "started", "slot=%u", env->slot);
	event_base_dispatch(w.base);
	workq_free(&w.smtp.wq);
	imap_server_free(&w.imap);
	log_event(0, "worker", "exited", "slot=%u", env->slot);
	exit(0);
}
