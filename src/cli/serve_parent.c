/* serve_parent.c: the parent process: prepares the data directory and
 * TLS, binds the listeners (as root when started as root), forks the
 * auth process and the workers, restarts a child that crashes, reloads
 * on SIGHUP (new workers take the same sockets, old ones finish their
 * sessions), stops gracefully on SIGTERM.  It never reads network
 * input. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/account.h"
#include "auth/auth_proc.h"
#include "queue/queue_proc.h"
#include "cli/serve.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/connlimit.h"
#include "net/loop.h"
#include "proc/msg.h"
#include "proc/proc.h"
#include "tls/tls.h"

#define PARENT_RETIRED_MAX	64
#define PARENT_RESPAWN_DELAY	1	/* seconds before a restart */
#define PARENT_RESPAWN_MAX	60	/* ... growing to this in a crash loop */

struct parent_slot {
	pid_t		 pid;		/* 0: none running */
	unsigned	 row;		/* its connlimit row */
	struct msgq	*chan;
	time_t		 started;
	int		 listen_fds[CONF_LISTEN_MAX];
};

/* A service process that every worker talks to. */
enum parent_svc_id {
	PARENT_SVC_AUTH,
	PARENT_SVC_QUEUE,
	PARENT_SVC_MAX,
};

struct parent_svc {
	const char	*role;
	pid_t		 pid;
	struct msgq	*chan;
	uint32_t	 msg_worker_channel;	/* parent -> service */
	uint32_t	 msg_new_channel;	/* parent -> worker */
	void		(*main)(const struct conf *, int);
};

struct parent {
	struct conf		*conf;
	struct event_base	*base;
	SSL_CTX			*ssl_ctx;
	struct connlimit	*limits;
	uid_t			 uid;
	gid_t			 gid;
	unsigned		 nworkers;
	struct parent_slot	 slots[WORKERS_MAX];
	pid_t			 retired[PARENT_RETIRED_MAX];
	struct msgq		*retired_chan[PARENT_RETIRED_MAX];
	unsigned		 retired_row[PARENT_RETIRED_MAX];
	bool			 row_used[WORKERS_MAX + PARENT_RETIRED_MAX];
	struct parent_svc	 svcs[PARENT_SVC_MAX];	/* auth, queue */
	struct conf		*conf_first;	/* main()'s, freed there */
	uint8_t			 sasl_secret[32];
	int			 local_fd;	/* sendmail.sock */
	char			 local_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool			 stopping;
	time_t			 last_exit;
	unsigned		 respawn_delay;
	struct event		*ev_respawn;
	struct event		*ev_kill;
};

static void	parent_spawn_worker(struct parent *, unsigned);
static void	parent_spawn_svc(struct parent *, struct parent_svc *);

/* --- preparing ------------------------------------------------------------ */

static void
parent_mkdir(struct parent *p, const char *dir, mode_t mode)
{
	if (mkdir(dir, mode) == -1 && errno != EEXIST)
		fatal("mkdir(%s)", dir);
	if (chmod(dir, mode) == -1)
		fatal("chmod(%s)", dir);
	if (p->uid != (uid_t)-1 && chown(dir, p->uid, p->gid) == -1)
		fatal("chown(%s)", dir);
}

static void
parent_prepare_dirs(struct parent *p)
{
	char path[PATH_MAX];
	struct account_db *db;
	const char *err;
	static const char *const dbfiles[] = { "", "-wal", "-shm" };

	parent_mkdir(p, p->conf->data_dir, 0755);
	snprintf(path, sizeof(path), "%s/mail", p->conf->data_dir);
	parent_mkdir(p, path, 0755);
	snprintf(path, sizeof(path), "%s/tls", p->conf->data_dir);
	parent_mkdir(p, path, 0755);
	snprintf(path, sizeof(path), "%s/queue", p->conf->data_dir);
	parent_mkdir(p, path, 0700);
	snprintf(path, sizeof(path), "%s/queue/tmp", p->conf->data_dir);
	parent_mkdir(p, path, 0700);
	snprintf(path, sizeof(path), "%s/run", p->conf->data_dir);
	parent_mkdir(p, path, 0755);	/* sendmail.sock is for everyone */
	snprintf(path, sizeof(path), "%s/accounts.db", p->conf->data_dir);
	if (account_db_open(path, false, &db, &err) == -1)
		fatalx("%s: %s", path, err);
	account_db_close(&db);
	for (size_t i = 0; i < 3 && p->uid != (uid_t)-1; i++) {
		char f[PATH_MAX + 8];

		snprintf(f, sizeof(f), "%s%s", path, dbfiles[i]);
		if (chown(f, p->uid, p->gid) == -1 && errno != ENOENT)
			fatal("chown(%s)", f);
	}
}

/* The secret SCRAM derives fake salts for unknown users from: made
 * once, kept in DATA_DIR/sasl.secret, the same for every worker. */
static void
parent_sasl_secret(struct parent *p)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/sasl.secret", p->conf->data_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, p->sasl_secret, sizeof(p->sasl_secret));
		close(fd);
		if (n == (ssize_t)sizeof(p->sasl_secret))
			return;
		fatalx("%s: short file; remove it to make a new one", path);
	}
	if (errno != ENOENT)
		fatal("open(%s)", path);
	if (getrandom(p->sasl_secret, sizeof(p->sasl_secret), 0) !=
	    (ssize_t)sizeof(p->sasl_secret))
		fatal("getrandom");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, p->sasl_secret, sizeof(p->sasl_secret)) !=
	    (ssize_t)sizeof(p->sasl_secret) || fsync(fd) == -1)
		fatal("write(%s)", path);
	close(fd);
}

static SSL_CTX *
parent_tls(struct parent *p, const struct conf *conf)
{
	const char *err;
	SSL_CTX *ctx;

	if (tls_ensure_selfsigned(conf->tls_cert, conf->tls_key,
	    conf->hostname, p->uid, p->gid, &err) == -1)
		fatalx("%s", err);
	if ((ctx = tls_server_ctx(conf->tls_cert, conf->tls_key, &err)) == NULL)
		log_warnx("TLS disabled: %s / %s: %s", conf->tls_cert,
		    conf->tls_key, err);
	return ctx;
}

static int
parent_bind(const struct conf_listen *l, bool probe)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (strcmp(l->addr, "*") == 0) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(l->port);
		len = sizeof(*sin6);
	} else if (inet_pton(AF_INET, l->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, l->addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		len = sizeof(*sin6);
	} else
		fatalx("listen %s: not a numeric address", l->addr);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* one socket per worker: the kernel spreads connections.  A probe
	 * without SO_REUSEPORT first: another running server must make
	 * this fail, not silently share the port with us. */
	if (!probe &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		fatal("setsockopt(SO_REUSEPORT)");
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		fatal("bind(%s port %u)", l->addr, l->port);
	if (probe) {
		close(fd);
		return -1;
	}
	if (listen(fd, 511) == -1)
		fatal("listen(%s port %u)", l->addr, l->port);
	return fd;
}

static void
parent_bind_all(struct parent *p)
{
	const struct conf *conf = p->conf;

	for (size_t i = 0; i < conf->nlisten; i++)
		if (serve_proto_served(conf->listen[i].proto))
			parent_bind(&conf->listen[i], true);
	for (unsigned w = 0; w < p->nworkers; w++) {
		for (size_t i = 0; i < CONF_LISTEN_MAX; i++)
			p->slots[w].listen_fds[i] = -1;
		for (size_t i = 0; i < conf->nlisten; i++) {
			if (!serve_proto_served(conf->listen[i].proto)) {
				if (w == 0)
					log_warnx("listen %s: not served yet",
					    conf_proto_name(conf->listen[i].proto));
				continue;
			}
			p->slots[w].listen_fds[i] = parent_bind(&conf->listen[i],
			    false);
		}
	}
	for (size_t i = 0; i < conf->nlisten; i++)
		if (serve_proto_served(conf->listen[i].proto))
			log_event(0, "parent", "listening", "proto=%s addr=%s "
			    "port=%u", conf_proto_name(conf->listen[i].proto),
			    conf->listen[i].addr, conf->listen[i].port);
}

/* The socket of `facteur sendmail`: every local user may connect (the
 * workers learn who with SO_PEERCRED). */
static void
parent_bind_local(struct parent *p)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/run/sendmail.sock", p->conf->data_dir) >= sizeof(sun.sun_path))
		fatalx("%s/run/sendmail.sock: path too long", p->conf->data_dir);
	unlink(sun.sun_path);
	p->local_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->local_fd == -1 ||
	    bind(p->local_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(sun.sun_path, 0666) == -1 || listen(p->local_fd, 128) == -1)
		fatal("local socket %s", sun.sun_path);
	snprintf(p->local_path, sizeof(p->local_path), "%s", sun.sun_path);
}

/* --- children ------------------------------------------------------------- */

/* In a new child: drop the parent's descriptors it must not hold: the
 * other children's channels and descriptors queued on them (a worker
 * holding the far end of its own channel would never see it close). */
static void
parent_child_close(struct parent *p, int keep_slot)
{
	for (unsigned w = 0; w < p->nworkers; w++) {
		if (p->slots[w].chan != NULL) {
			msgq_close_pending_fds(p->slots[w].chan);
			close(msgq_fd(p->slots[w].chan));
		}
		if ((int)w == keep_slot)
			continue;
		for (size_t i = 0; i < CONF_LISTEN_MAX; i++)
			if (p->slots[w].listen_fds[i] != -1)
				close(p->slots[w].listen_fds[i]);
	}
	for (size_t i = 0; i < PARENT_SVC_MAX; i++)
		if (p->svcs[i].chan != NULL) {
			msgq_close_pending_fds(p->svcs[i].chan);
			close(msgq_fd(p->svcs[i].chan));
		}
	for (size_t i = 0; i < PARENT_RETIRED_MAX; i++)
		if (p->retired_chan[i] != NULL)
			close(msgq_fd(p->retired_chan[i]));
	if (keep_slot == -1 && p->local_fd != -1)
		close(p->local_fd);
}

/* In a new child: let go of the parent's event base.  The epoll
 * instance is shared across fork, so freeing the base as it is would
 * delete the parent's registrations: event_reinit() gives the child its
 * own backend first (libevent's rule for bases used after fork). */
static void
parent_child_drop_base(struct parent *p)
{
	if (event_reinit(p->base) == -1)
		fatalx("event_reinit failed");
	event_base_free(p->base);
	p->base = NULL;
}

static void
parent_on_child_chan_closed(struct msgq *q, void *arg)
{
	/* SIGCHLD tells us what happened */
}

static void
parent_on_child_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	if (fd != -1)
		close(fd);
	log_warnx("parent: unexpected message %u from a child", h->type);
}

/* A new worker<->service channel: one end to the service, the other
 * returned for the worker. */
static int
parent_svc_pair(struct parent_svc *svc)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		fatal("socketpair");
	msgq_send(svc->chan, svc->msg_worker_channel, 0, NULL, 0, sv[1]);
	return sv[0];
}

/* Each worker process counts its connections in a row of its own. */
static unsigned
parent_row_take(struct parent *p)
{
	for (unsigned r = 0; r < connlimit_rows(p->limits); r++)
		if (!p->row_used[r]) {
			p->row_used[r] = true;
			connlimit_clear_row(p->limits, r);
			return r;
		}
	fatalx("no free connection-count row");
}

static void
parent_row_release(struct parent *p, unsigned row)
{
	connlimit_clear_row(p->limits, row);
	p->row_used[row] = false;
}

static void
parent_spawn_worker(struct parent *p, unsigned slot)
{
	struct parent_slot *s = &p->slots[slot];
	struct worker_env env;
	int pc[2], afd, qfd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    pc) == -1)
		fatal("socketpair");
	s->row = parent_row_take(p);
	afd = parent_svc_pair(&p->svcs[PARENT_SVC_AUTH]);
	qfd = parent_svc_pair(&p->svcs[PARENT_SVC_QUEUE]);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(pc[0]);
		parent_child_drop_base(p);
		parent_child_close(p, (int)slot);
		memset(&env, 0, sizeof(env));
		env.conf = p->conf;
		env.slot = slot;
		env.nworkers = p->nworkers;
		memcpy(env.listen_fds, s->listen_fds, sizeof(env.listen_fds));
		env.parent_fd = pc[1];
		env.auth_fd = afd;
		env.queue_fd = qfd;
		env.ssl_ctx = p->ssl_ctx;
		env.limits = p->limits;
		env.limits_row = s->row;
		env.local_fd = p->local_fd;
		memcpy(env.sasl_secret, p->sasl_secret, sizeof(env.sasl_secret));
		serve_worker_main(&env);
	}
	close(pc[1]);
	close(afd);
	close(qfd);
	msgq_free(&s->chan);
	s->chan = msgq_new(p->base, pc[0], parent_on_child_msg,
	    parent_on_child_chan_closed, p);
	s->pid = pid;
	s->started = time(NULL);
}

static void
parent_spawn_svc(struct parent *p, struct parent_svc *svc)
{
	int pc[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    pc) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(pc[0]);
		parent_child_drop_base(p);
		parent_child_close(p, -1);
		svc->main(p->conf, pc[1]);
	}
	close(pc[1]);
	msgq_free(&svc->chan);
	svc->chan = msgq_new(p->base, pc[0], parent_on_child_msg,
	    parent_on_child_chan_closed, p);
	svc->pid = pid;
}

/* After a service restarted: every worker gets a fresh channel to it. */
static void
parent_reconnect_workers(struct parent *p, struct parent_svc *svc)
{
	for (unsigned w = 0; w < p->nworkers; w++) {
		if (p->slots[w].pid == 0 || p->slots[w].chan == NULL)
			continue;
		msgq_send(p->slots[w].chan, svc->msg_new_channel, 0, NULL, 0,
		    parent_svc_pair(svc));
	}
}

static void
parent_signal_svcs(struct parent *p, int sig)
{
	for (size_t i = 0; i < PARENT_SVC_MAX; i++)
		if (p->svcs[i].pid != 0)
			kill(p->svcs[i].pid, sig);
}

static bool
parent_svcs_left(struct parent *p)
{
	for (size_t i = 0; i < PARENT_SVC_MAX; i++)
		if (p->svcs[i].pid != 0)
			return true;
	return false;
}

static bool
parent_children_left(struct parent *p, bool count_auth)
{
	for (unsigned w = 0; w < p->nworkers; w++)
		if (p->slots[w].pid != 0)
			return true;
	for (size_t i = 0; i < PARENT_RETIRED_MAX; i++)
		if (p->retired[i] != 0)
			return true;
	return count_auth && parent_svcs_left(p);
}

static void
parent_on_respawn(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	if (p->stopping)
		return;
	for (size_t i = 0; i < PARENT_SVC_MAX; i++)
		if (p->svcs[i].pid == 0) {
			parent_spawn_svc(p, &p->svcs[i]);
			parent_reconnect_workers(p, &p->svcs[i]);
		}
	for (unsigned w = 0; w < p->nworkers; w++)
		if (p->slots[w].pid == 0)
			parent_spawn_worker(p, w);
}

static void
parent_child_exited(struct parent *p, pid_t pid, int status)
{
	const char *role = "worker";
	struct timeval tv = { PARENT_RESPAWN_DELAY, 0 };
	bool crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	for (size_t i = 0; i < PARENT_RETIRED_MAX; i++)
		if (p->retired[i] == pid) {
			p->retired[i] = 0;
			parent_row_release(p, p->retired_row[i]);
			msgq_free(&p->retired_chan[i]);
			log_event(0, "parent", "retired-exit", "pid=%d", (int)pid);
			return;
		}
	for (size_t i = 0; i < PARENT_SVC_MAX; i++)
		if (pid == p->svcs[i].pid) {
			role = p->svcs[i].role;
			p->svcs[i].pid = 0;
		}
	if (strcmp(role, "worker") == 0) {
		for (unsigned w = 0; w < p->nworkers; w++)
			if (p->slots[w].pid == pid) {
				p->slots[w].pid = 0;
				parent_row_release(p, p->slots[w].row);
			}
	}
	if (WIFSIGNALED(status))
		log_event(0, "parent", "child-exit", "role=%s pid=%d signal=%d",
		    role, (int)pid, WTERMSIG(status));
	else
		log_event(0, "parent", "child-exit", "role=%s pid=%d status=%d",
		    role, (int)pid, WEXITSTATUS(status));
	/* a child that keeps dying at once is restarted less and less
	 * often (1 s doubling to a minute), so a crash loop cannot spin */
	if (crashed && time(NULL) - p->last_exit < PARENT_RESPAWN_MAX)
		p->respawn_delay = p->respawn_delay == 0 ? PARENT_RESPAWN_DELAY :
		    p->respawn_delay * 2 > PARENT_RESPAWN_MAX ?
		    PARENT_RESPAWN_MAX : p->respawn_delay * 2;
	else
		p->respawn_delay = PARENT_RESPAWN_DELAY;
	p->last_exit = time(NULL);
	tv.tv_sec = p->respawn_delay;
	if (!p->stopping && !evtimer_pending(p->ev_respawn, NULL))
		evtimer_add(p->ev_respawn, &tv);
}

static void
parent_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		parent_child_exited(p, pid, status);
	if (!p->stopping)
		return;
	if (!parent_children_left(p, false))
		parent_signal_svcs(p, SIGTERM);
	if (!parent_children_left(p, true))
		event_base_loopexit(p->base, NULL);
}

/* --- signals ---------------------------------------------------------------- */

static void
parent_signal_workers(struct parent *p, int sig)
{
	for (unsigned w = 0; w < p->nworkers; w++)
		if (p->slots[w].pid != 0)
			kill(p->slots[w].pid, sig);
	for (size_t i = 0; i < PARENT_RETIRED_MAX; i++)
		if (p->retired[i] != 0)
			kill(p->retired[i], sig);
}

static void
parent_on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	log_warnx("children still running after the grace period: killing");
	parent_signal_workers(p, SIGKILL);
	parent_signal_svcs(p, SIGKILL);
}

static void
parent_stop(struct parent *p)
{
	struct timeval tv = { p->conf->shutdown_grace + 15, 0 };

	if (p->stopping) {
		parent_signal_workers(p, SIGTERM);	/* hurry them */
		return;
	}
	p->stopping = true;
	log_event(0, "parent", "stopping", "grace=%u", p->conf->shutdown_grace);
	if (p->local_fd != -1) {
		close(p->local_fd);
		unlink(p->local_path);
		p->local_fd = -1;
	}
	/* new connections must be refused now, not left unanswered */
	for (unsigned w = 0; w < p->nworkers; w++)
		for (size_t i = 0; i < CONF_LISTEN_MAX; i++)
			if (p->slots[w].listen_fds[i] != -1) {
				close(p->slots[w].listen_fds[i]);
				p->slots[w].listen_fds[i] = -1;
			}
	parent_signal_workers(p, SIGTERM);
	evtimer_add(p->ev_kill, &tv);
	if (!parent_children_left(p, false))
		parent_signal_svcs(p, SIGTERM);
}

static bool
parent_same_listeners(const struct conf *a, const struct conf *b)
{
	if (a->nlisten != b->nlisten)
		return false;
	for (size_t i = 0; i < a->nlisten; i++)
		if (a->listen[i].proto != b->listen[i].proto ||
		    a->listen[i].port != b->listen[i].port ||
		    strcmp(a->listen[i].addr, b->listen[i].addr) != 0)
			return false;
	return true;
}

/* An old worker finishes its sessions; its channel stays open until it
 * exits (a closed channel means "the parent died" to a worker). */
static void
parent_retire(struct parent *p, unsigned slot)
{
	struct parent_slot *s = &p->slots[slot];

	for (size_t i = 0; i < PARENT_RETIRED_MAX; i++)
		if (p->retired[i] == 0) {
			p->retired[i] = s->pid;
			p->retired_chan[i] = s->chan;
			p->retired_row[i] = s->row;
			s->chan = NULL;
			s->pid = 0;
			kill(p->retired[i], SIGUSR2);
			return;
		}
	kill(s->pid, SIGTERM);	/* too many generations: stop it now */
	s->pid = 0;
}

static void
parent_reload(struct parent *p)
{
	struct conf *nconf, *old = p->conf;
	SSL_CTX *nctx;
	char *err = NULL;

	if ((nconf = conf_load(old->path, &err)) == NULL) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		free(err);
		return;
	}
	if (!parent_same_listeners(old, nconf)) {
		log_warnx("reload: listener changes need a restart; keeping "
		    "the current listeners");
		memcpy(nconf->listen, old->listen, sizeof(old->listen));
		nconf->nlisten = old->nlisten;
	}
	if (nconf->workers != old->workers || strcmp(nconf->user, old->user) ||
	    strcmp(nconf->data_dir, old->data_dir))
		log_warnx("reload: workers, user and data_dir changes need a "
		    "restart");
	nconf->workers = old->workers;
	nctx = parent_tls(p, nconf);
	p->conf = nconf;
	if (p->ssl_ctx != NULL)
		SSL_CTX_free(p->ssl_ctx);	/* workers hold their copies */
	p->ssl_ctx = nctx;
	for (unsigned w = 0; w < p->nworkers; w++) {
		if (p->slots[w].pid != 0)
			parent_retire(p, w);
		parent_spawn_worker(p, w);
	}
	/* the first configuration belongs to main(), which frees it */
	if (old != p->conf_first)
		conf_free(&old);
	log_event(0, "parent", "reloaded", "workers=%u", p->nworkers);
}

static void
parent_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;

	if (sig == SIGHUP && !p->stopping)
		parent_reload(p);
	else if (sig == SIGTERM || sig == SIGINT)
		parent_stop(p);
}

int
serve_parent_main(struct conf *conf)
{
	struct parent p;
	struct event *ev[4];
	static const int sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	long ncpu;

	memset(&p, 0, sizeof(p));
	p.conf = p.conf_first = conf;
	log_init("parent", conf->log_syslog);
	loop_init();
	if (conf->log_debug)
		log_set_level(LOG_LEVEL_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	proc_run_ids(conf->user, &p.uid, &p.gid);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	p.nworkers = conf->workers != 0 ? conf->workers :
	    (unsigned)(ncpu > 0 ? ncpu : 1);
	if (p.nworkers > WORKERS_MAX)
		p.nworkers = WORKERS_MAX;
	parent_prepare_dirs(&p);
	parent_sasl_secret(&p);
	p.ssl_ctx = parent_tls(&p, conf);
	p.limits = connlimit_new(p.nworkers + PARENT_RETIRED_MAX);
	parent_bind_all(&p);
	parent_bind_local(&p);
	if ((p.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	p.ev_respawn = evtimer_new(p.base, parent_on_respawn, &p);
	p.ev_kill = evtimer_new(p.base, parent_on_kill, &p);
	for (size_t i = 0; i < 4; i++) {
		ev[i] = evsignal_new(p.base, sigs[i], sigs[i] == SIGCHLD ?
		    parent_on_sigchld : parent_on_signal, &p);
		event_add(ev[i], NULL);
	}
	p.svcs[PARENT_SVC_AUTH] = (struct parent_svc){ "auth", 0, NULL,
	    MSG_AUTH_WORKER_CHANNEL, MSG_WORKER_AUTH_CHANNEL, auth_proc_main };
	p.svcs[PARENT_SVC_QUEUE] = (struct parent_svc){ "queue", 0, NULL,
	    MSG_QUEUE_WORKER_CHANNEL, MSG_WORKER_QUEUE_CHANNEL,
	    queue_proc_main };
	for (size_t i = 0; i < PARENT_SVC_MAX; i++)
		parent_spawn_svc(&p, &p.svcs[i]);
	for (unsigned w = 0; w < p.nworkers; w++)
		parent_spawn_worker(&p, w);
	log_event(0, "parent", "started", "version=%s workers=%u user=%s "
	    "data_dir=%s", FACTEUR_VERSION, p.nworkers,
	    p.uid == (uid_t)-1 ? "(unchanged)" : conf->user, conf->data_dir);
	event_base_dispatch(p.base);
	log_event(0, "parent", "stopped", NULL);
	for (size_t i = 0; i < 4; i++)
		event_free(ev[i]);
	for (unsigned w = 0; w < p.nworkers; w++) {
		msgq_free(&p.slots[w].chan);
		for (size_t i = 0; i < CONF_LISTEN_MAX; i++)
			if (p.slots[w].listen_fds[i] != -1)
				close(p.slots[w].listen_fds[i]);
	}
	for (size_t i = 0; i < PARENT_SVC_MAX; i++)
		msgq_free(&p.svcs[i].chan);
	for (size_t i = 0; i < PARENT_RETIRED_MAX; i++)
		msgq_free(&p.retired_chan[i]);
	event_free(p.ev_respawn);
	event_free(p.ev_kill);
	event_base_free(p.base);
	if (p.ssl_ctx != NULL)
		SSL_CTX_free(p.ssl_ctx);
	if (p.conf != p.conf_first)
		conf_free(&p.conf);
	return 0;
}
