/* auth_proc.c: the auth process. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/account.h"
#include "auth/auth_proc.h"
#include "auth/sasl.h"
#include "config/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/workq.h"
#include "proc/msg.h"
#include "proc/proc.h"

#define AUTH_WORKERS_MAX	(WORKERS_MAX * 2)
/* yescrypt costs ~30 ms of CPU: a few threads, never the loop */
#define AUTH_HASH_THREADS	4
#define AUTH_CHECKS_MAX		256	/* queued checks; past it: temp fail */

struct auth_proc {
	const struct conf	*conf;
	struct event_base	*base;
	struct account_db	*db;
	struct msgq		*parent;
	struct msgq		*workers[AUTH_WORKERS_MAX];
	unsigned		 gen[AUTH_WORKERS_MAX];	/* bumped on reuse */
	struct event		*ev_sweep;
	struct workq		*wq;
	char			 db_path[PATH_MAX];
};

/* A password check on its way through the thread pool. */
struct auth_check {
	struct auth_proc	*a;
	size_t			 slot;
	unsigned		 gen;
	uint64_t		 id;
	char			 login[ACCOUNT_ADDR_MAX + 1];
	char			 password[ACCOUNT_PASSWORD_MAX + 1];
	char			 user[ACCOUNT_ADDR_MAX + 1];
	uint32_t		 result;
};

/* Each pool thread keeps its own handle (a handle is not thread-safe);
 * they are listed to be closed when the pool stops. */
static __thread struct account_db *auth_thread_db;
static pthread_mutex_t	 auth_dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct account_db *auth_dbs[AUTH_HASH_THREADS];
static size_t		 auth_ndbs;

static struct account_db *
auth_thread_handle(const char *path)
{
	const char *err;

	if (auth_thread_db != NULL)
		return auth_thread_db;
	if (account_db_open(path, false, &auth_thread_db, &err) == -1) {
		log_warnx("auth: %s: %s", path, err);
		return NULL;
	}
	pthread_mutex_lock(&auth_dbs_lock);
	auth_dbs[auth_ndbs++] = auth_thread_db;
	pthread_mutex_unlock(&auth_dbs_lock);
	return auth_thread_db;
}

/* Append maildir/user pairs, then remotes; -1 when they do not fit. */
static int
auth_proc_targets(struct auth_proc *a, const struct account_targets *t,
    struct buf *b, struct msg_resolve_reply *rr)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < t->nlocal; i++) {
		if (account_maildir_path(a->conf->data_dir, t->local[i], path,
		    sizeof(path)) == -1)
			continue;
		if (buf_append(b, path, strlen(path) + 1) == -1 ||
		    buf_append(b, t->local[i], strlen(t->local[i]) + 1) == -1)
			return -1;
		rr->nlocal++;
	}
	for (size_t i = 0; i < t->nremote; i++) {
		if (buf_append(b, t->remote[i], strlen(t->remote[i]) + 1) == -1)
			return -1;
		rr->nremote++;
	}
	if (rr->nlocal == 0 && rr->nremote == 0)
		rr->result = ACCOUNT_NO_USER;
	return 0;
}

/* Build the reply: header, then maildir/user pairs, then remotes. */
static void
auth_proc_resolve(struct auth_proc *a, struct msgq *q, uint64_t id,
    const char *payload, size_t len)
{
	struct msg_resolve_reply rr = { 0 };
	struct account_targets *t = xcalloc(1, sizeof(*t));
	char addr[ACCOUNT_ADDR_MAX + 1];
	const char *err = NULL;
	struct buf b;

	buf_init(&b, IMSG_PAYLOAD_MAX);
	rr.result = ACCOUNT_ERROR;
	if (len <= ACCOUNT_ADDR_MAX && memchr(payload, '\0', len) == NULL) {
		memcpy(addr, payload, len);
		addr[len] = '\0';
		rr.result = account_resolve(a->db, addr, a->conf->postmaster,
		    t, &err);
	} else
		rr.result = ACCOUNT_NO_USER;
	log_debug(0, "auth", "resolve", "addr=<%.*s> result=%u nlocal=%zu",
	    (int)len, payload, rr.result, t->nlocal);
	if (rr.result == ACCOUNT_ERROR)
		log_event(0, "auth", "lookup-error", "reason=<%s>",
		    err != NULL ? err : "?");
	buf_append(&b, &rr, sizeof(rr));
	if (rr.result == ACCOUNT_FOUND && auth_proc_targets(a, t, &b, &rr) == -1) {
		/* too much for one reply: a configuration problem, not the
		 * sender's; keep the mail waiting */
		log_event(0, "auth", "lookup-error", "reason=<too many targets "
		    "for <%s>>", addr);
		rr.result = ACCOUNT_ERROR;
		rr.nlocal = rr.nremote = 0;
		b.len = sizeof(rr);
	}
	memcpy(b.p, &rr, sizeof(rr));
	msgq_send(q, MSG_AUTH_RESOLVE_REPLY, id, b.p, b.len, -1);
	buf_free(&b);
	free(t);
}

_Static_assert(MSG_SCRAM_SALT_MAX == SASL_SCRAM_SALT_MAX &&
    MSG_SCRAM_KEY_LEN == SASL_SCRAM_KEY_LEN, "msg_scram_reply sizes");

/* payload: the authcid.  A cheap read, done on the loop: PBKDF2 is the
 * client's work in SCRAM.  An unknown user and one without secrets get
 * the same MSG_CHECK_FAIL. */
static void
auth_proc_scram(struct auth_proc *a, struct msgq *q, uint64_t id,
    const char *payload, size_t len)
{
	struct msg_scram_reply rr = { .result = MSG_CHECK_FAIL };
	struct sasl_scram_secrets sec = { 0 };
	char login[ACCOUNT_ADDR_MAX + 1];
	char reply[sizeof(rr) + ACCOUNT_ADDR_MAX + 1];
	const char *err = "?";
	size_t n = sizeof(rr);
	int r = 0;

	if (len <= ACCOUNT_ADDR_MAX && memchr(payload, '\0', len) == NULL) {
		memcpy(login, payload, len);
		login[len] = '\0';
		r = account_user_scram(a->db, login, &sec, &err);
	}
	if (r == 1 && account_address_normalize(login, reply + n, &err) == 0) {
		rr.result = MSG_CHECK_OK;
		rr.iterations = sec.iterations;
		rr.salt_len = (uint32_t)sec.salt_len;
		memcpy(rr.salt, sec.salt, sec.salt_len);
		memcpy(rr.stored_key, sec.stored_key, sizeof(rr.stored_key));
		memcpy(rr.server_key, sec.server_key, sizeof(rr.server_key));
		n += strlen(reply + n) + 1;
	} else if (r == -1) {
		rr.result = MSG_CHECK_TEMP;
		log_event(0, "auth", "lookup-error", "reason=<%s>", err);
	}
	log_debug(0, "auth", "scram-lookup", "result=%u", rr.result);
	memcpy(reply, &rr, sizeof(rr));
	msgq_send(q, MSG_AUTH_SCRAM_REPLY, id, reply, n, -1);
	sasl_scram_secrets_wipe(&sec);
	explicit_bzero(&rr, sizeof(rr));
	explicit_bzero(reply, sizeof(reply));
}

static void
auth_check_work(void *arg)
{
	struct auth_check *c = arg;
	struct account_db *db;
	const char *err;
	int r;

	c->result = MSG_CHECK_TEMP;
	if ((db = auth_thread_handle(c->a->db_path)) == NULL)
		goto out;
	r = account_user_check(db, c->login, c->password, &err);
	if (r == 1 && account_address_normalize(c->login, c->user, &err) == 0)
		c->result = MSG_CHECK_OK;
	else if (r == 0)
		c->result = MSG_CHECK_FAIL;
out:
	explicit_bzero(c->password, sizeof(c->password));
}

static void
auth_check_done(void *arg)
{
	struct auth_check *c = arg;
	struct auth_proc *a = c->a;
	struct msgq *q = a->workers[c->slot];
	struct msg_check_reply rr = { .result = c->result };
	char reply[sizeof(rr) + ACCOUNT_ADDR_MAX + 1];
	size_t len = sizeof(rr);

	log_event(0, "auth", c->result == MSG_CHECK_OK ? "login-ok" :
	    c->result == MSG_CHECK_FAIL ? "login-failed" : "login-error",
	    "user=<%s>", c->login);
	if (q != NULL && a->gen[c->slot] == c->gen && !msgq_dead(q)) {
		memcpy(reply, &rr, sizeof(rr));
		if (c->result == MSG_CHECK_OK) {
			memcpy(reply + len, c->user, strlen(c->user) + 1);
			len += strlen(c->user) + 1;
		}
		msgq_send(q, MSG_AUTH_CHECK_REPLY, c->id, reply, len, -1);
	}
	free(c);
}

/* payload: login NUL password */
static void
auth_proc_check(struct auth_proc *a, size_t slot, uint64_t id,
    const char *payload, size_t len)
{
	struct msg_check_reply rr = { .result = MSG_CHECK_FAIL };
	const char *nul = memchr(payload, '\0', len);
	struct auth_check *c;
	size_t llen, plen;

	if (nul == NULL || (llen = (size_t)(nul - payload)) == 0 ||
	    llen > ACCOUNT_ADDR_MAX ||
	    (plen = len - llen - 1) > ACCOUNT_PASSWORD_MAX) {
		msgq_send(a->workers[slot], MSG_AUTH_CHECK_REPLY, id, &rr,
		    sizeof(rr), -1);
		return;
	}
	if (workq_pending(a->wq) >= AUTH_CHECKS_MAX) {
		rr.result = MSG_CHECK_TEMP;
		msgq_send(a->workers[slot], MSG_AUTH_CHECK_REPLY, id, &rr,
		    sizeof(rr), -1);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->a = a;
	c->slot = slot;
	c->gen = a->gen[slot];
	c->id = id;
	memcpy(c->login, payload, llen);
	memcpy(c->password, nul + 1, plen);
	workq_push(a->wq, auth_check_work, auth_check_done, c);
}

static void
auth_proc_on_worker_closed(struct msgq *q, void *arg)
{
	/* freed by the sweep, outside the queue's own callback */
	event_active(((struct auth_proc *)arg)->ev_sweep, 0, 0);
}

static void
auth_proc_on_worker_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	struct auth_proc *a = arg;
	size_t slot;

	if (fd != -1)
		close(fd);
	for (slot = 0; slot < AUTH_WORKERS_MAX; slot++)
		if (a->workers[slot] == q)
			break;
	if (h->type == MSG_AUTH_RESOLVE)
		auth_proc_resolve(a, q, h->id, payload, h->len);
	else if (h->type == MSG_AUTH_CHECK && slot < AUTH_WORKERS_MAX)
		auth_proc_check(a, slot, h->id, payload, h->len);
	else if (h->type == MSG_AUTH_SCRAM)
		auth_proc_scram(a, q, h->id, payload, h->len);
	else
		log_warnx("auth: unexpected message %u from a worker", h->type);
}

static void
auth_proc_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct auth_proc *a = arg;

	for (size_t i = 0; i < AUTH_WORKERS_MAX; i++)
		if (a->workers[i] != NULL && msgq_dead(a->workers[i]))
			msgq_free(&a->workers[i]);
}

static void
auth_proc_on_parent_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	struct auth_proc *a = arg;

	if (h->type != MSG_AUTH_WORKER_CHANNEL || fd == -1)
		fatalx("auth: unexpected message %u from parent", h->type);
	for (size_t i = 0; i < AUTH_WORKERS_MAX; i++) {
		if (a->workers[i] != NULL)
			continue;
		a->workers[i] = msgq_new(a->base, fd, auth_proc_on_worker_msg,
		    auth_proc_on_worker_closed, a);
		a->gen[i]++;
		return;
	}
	log_warnx("auth: too many worker channels");
	close(fd);
}

static void
auth_proc_on_parent_closed(struct msgq *q, void *arg)
{
	log_event(0, "auth", "exited", "reason=<parent gone>");
	exit(0);
}

static void
auth_proc_on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(((struct auth_proc *)arg)->base, NULL);
}

void
auth_proc_main(const struct conf *conf, int parent_fd)
{
	struct auth_proc a;
	const char *err, *path = a.db_path;
	struct event *ev_term;

	memset(&a, 0, sizeof(a));
	a.conf = conf;
	proc_drop_privileges(conf->user);
	proc_child_init("auth");
	snprintf(a.db_path, sizeof(a.db_path), "%s/accounts.db",
	    conf->data_dir);
	if (account_db_open(path, false, &a.db, &err) == -1)
		fatalx("auth: %s: %s", path, err);
	if ((a.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	a.parent = msgq_new(a.base, parent_fd, auth_proc_on_parent_msg,
	    auth_proc_on_parent_closed, &a);
	a.ev_sweep = event_new(a.base, -1, 0, auth_proc_on_sweep, &a);
	a.wq = workq_new(a.base, AUTH_HASH_THREADS);
	ev_term = evsignal_new(a.base, SIGTERM, auth_proc_on_term, &a);
	event_add(ev_term, NULL);
	signal(SIGINT, SIG_IGN);	/* the parent stops us last */
	signal(SIGHUP, SIG_IGN);
	log_event(0, "auth", "started", "db=%s", path);
	event_base_dispatch(a.base);
	workq_free(&a.wq);
	for (size_t i = 0; i < auth_ndbs; i++)
		account_db_close(&auth_dbs[i]);
	account_db_close(&a.db);
	log_event(0, "auth", "exited", NULL);
	exit(0);
}
