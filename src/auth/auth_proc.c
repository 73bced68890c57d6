/* auth_proc.c: the auth process. */
#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/account.h"
#include "auth/auth_proc.h"
#include "config/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "proc/msg.h"
#include "proc/proc.h"

#define AUTH_WORKERS_MAX	(WORKERS_MAX * 2)

struct auth_proc {
	const struct conf	*conf;
	struct event_base	*base;
	struct account_db	*db;
	struct msgq		*parent;
	struct msgq		*workers[AUTH_WORKERS_MAX];
	struct event		*ev_sweep;
};

/* Build the reply: header, then maildir/user pairs, then remotes. */
static void
auth_proc_resolve(struct auth_proc *a, struct msgq *q, uint64_t id,
    const char *payload, size_t len)
{
	struct msg_resolve_reply rr = { 0 };
	struct account_targets *t = xcalloc(1, sizeof(*t));
	char addr[ACCOUNT_ADDR_MAX + 1], path[PATH_MAX];
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
	if (rr.result == ACCOUNT_FOUND) {
		for (size_t i = 0; i < t->nlocal; i++) {
			if (account_maildir_path(a->conf->data_dir,
			    t->local[i], path, sizeof(path)) == -1)
				continue;
			buf_append(&b, path, strlen(path) + 1);
			buf_append(&b, t->local[i], strlen(t->local[i]) + 1);
			rr.nlocal++;
		}
		for (size_t i = 0; i < t->nremote; i++) {
			buf_append(&b, t->remote[i], strlen(t->remote[i]) + 1);
			rr.nremote++;
		}
		if (rr.nlocal == 0 && rr.nremote == 0)
			rr.result = ACCOUNT_NO_USER;
		memcpy(b.p, &rr, sizeof(rr));
	}
	msgq_send(q, MSG_AUTH_RESOLVE_REPLY, id, b.p, b.len, -1);
	buf_free(&b);
	free(t);
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

	if (fd != -1)
		close(fd);
	if (h->type != MSG_AUTH_RESOLVE) {
		log_warnx("auth: unexpected message %u from a worker", h->type);
		return;
	}
	auth_proc_resolve(a, q, h->id, payload, h->len);
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
	char path[PATH_MAX];
	const char *err;
	struct event *ev_term;

	memset(&a, 0, sizeof(a));
	a.conf = conf;
	proc_drop_privileges(conf->user);
	proc_child_init("auth");
	snprintf(path, sizeof(path), "%s/accounts.db", conf->data_dir);
	if (account_db_open(path, false, &a.db, &err) == -1)
		fatalx("auth: %s: %s", path, err);
	if ((a.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	a.parent = msgq_new(a.base, parent_fd, auth_proc_on_parent_msg,
	    auth_proc_on_parent_closed, &a);
	a.ev_sweep = event_new(a.base, -1, 0, auth_proc_on_sweep, &a);
	ev_term = evsignal_new(a.base, SIGTERM, auth_proc_on_term, &a);
	event_add(ev_term, NULL);
	signal(SIGINT, SIG_IGN);	/* the parent stops us last */
	signal(SIGHUP, SIG_IGN);
	log_event(0, "auth", "started", "db=%s", path);
	event_base_dispatch(a.base);
	account_db_close(&a.db);
	log_event(0, "auth", "exited", NULL);
	exit(0);
}
