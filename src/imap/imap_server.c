/* imap_server.c: IMAP sessions: greeting, TLS (STARTTLS and IMAPS), the
 * input loop over the command parser, the command table with the states
 * each command is valid in, the job runner, the commands of every state
 * (in imap_server_cmd.c), shutdown.  LOGIN and AUTHENTICATE live in
 * imap_auth.c, the store commands in imap_cmd_mbox.c and imap_cmd_msg.c.
 *
 * A session is never freed inside its own callback: every callback
 * holds a reference while it runs, and so does every piece of work in
 * flight (a job in the pool, a password check, the delay after a failed
 * login).  While a command runs the session is busy: the parser is not
 * fed (the command points into it) and the connection does not read,
 * so pipelined input waits in the kernel once IMAP_IN_MAX is buffered. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/conf.h"
#include "core/id.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "imap/imap_server_int.h"
#include "imap/imap_session.h"
#include "net/workq.h"

#define ST(x)		(1u << IMAP_STATE_##x)
#define ST_ANY		(ST(NOTAUTH) | ST(AUTH) | ST(SELECTED))
#define ST_USER		(ST(AUTH) | ST(SELECTED))

/* Where a command runs: on the loop (quick, or asynchronous in its own
 * way), or as a job in the pool (it touches the store). */
struct imap_cmd_def {
	unsigned	 states;
	void		(*loop)(struct imap_session *);
	imap_job_fn	 job;
};

static const struct imap_cmd_def imap_cmds[IMAP_CMD_COUNT_] = {
	[IMAP_CMD_CAPABILITY] =	{ ST_ANY, imap_do_capability, NULL },
	[IMAP_CMD_NOOP] =	{ ST_ANY, imap_do_noop, NULL },
	[IMAP_CMD_LOGOUT] =	{ ST_ANY, imap_do_logout, NULL },
	[IMAP_CMD_ID] =		{ ST_ANY, imap_do_id, NULL },
	[IMAP_CMD_STARTTLS] =	{ ST(NOTAUTH), imap_do_starttls, NULL },
	[IMAP_CMD_AUTHENTICATE] = { ST(NOTAUTH), imap_do_authenticate, NULL },
	[IMAP_CMD_LOGIN] =	{ ST(NOTAUTH), imap_do_login, NULL },
	/* RFC 5161 §3.1: before a SELECT, but servers need not check */
	[IMAP_CMD_ENABLE] =	{ ST_USER, imap_do_enable, NULL },
	[IMAP_CMD_IDLE] =	{ ST_USER, imap_do_idle, NULL },
	[IMAP_CMD_SELECT] =	{ ST_USER, NULL, imap_cmd_select },
	[IMAP_CMD_EXAMINE] =	{ ST_USER, NULL, imap_cmd_select },
	[IMAP_CMD_CREATE] =	{ ST_USER, NULL, imap_cmd_create },
	[IMAP_CMD_DELETE] =	{ ST_USER, NULL, imap_cmd_delete },
	[IMAP_CMD_RENAME] =	{ ST_USER, NULL, imap_cmd_rename },
	[IMAP_CMD_SUBSCRIBE] =	{ ST_USER, NULL, imap_cmd_subscribe },
	[IMAP_CMD_UNSUBSCRIBE] = { ST_USER, NULL, imap_cmd_subscribe },
	[IMAP_CMD_LIST] =	{ ST_USER, NULL, imap_cmd_list },
	[IMAP_CMD_LSUB] =	{ ST_USER, NULL, imap_cmd_list },
	[IMAP_CMD_NAMESPACE] =	{ ST_USER, NULL, imap_cmd_namespace },
	[IMAP_CMD_STATUS] =	{ ST_USER, NULL, imap_cmd_status },
	[IMAP_CMD_APPEND] =	{ ST_USER, NULL, imap_cmd_append },
	[IMAP_CMD_CHECK] =	{ ST(SELECTED), NULL, imap_cmd_check },
	[IMAP_CMD_CLOSE] =	{ ST(SELECTED), NULL, imap_cmd_close },
	[IMAP_CMD_UNSELECT] =	{ ST(SELECTED), NULL, imap_cmd_close },
	[IMAP_CMD_EXPUNGE] =	{ ST(SELECTED), NULL, imap_cmd_expunge },
	[IMAP_CMD_SEARCH] =	{ ST(SELECTED), NULL, imap_cmd_search },
	[IMAP_CMD_SORT] =	{ ST(SELECTED), NULL, imap_cmd_search },
	[IMAP_CMD_THREAD] =	{ ST(SELECTED), NULL, imap_cmd_search },
	[IMAP_CMD_FETCH] =	{ ST(SELECTED), NULL, imap_cmd_fetch },
	[IMAP_CMD_STORE] =	{ ST(SELECTED), NULL, imap_cmd_store },
	[IMAP_CMD_COPY] =	{ ST(SELECTED), NULL, imap_cmd_copy },
	[IMAP_CMD_MOVE] =	{ ST(SELECTED), NULL, imap_cmd_copy },
};

static const char *imap_state_names[] = {
	"notauth", "auth", "selected", "logout",
};

/* What every state offers (RFC 9051 and the extensions of doc/IMAP.md). */
static const char imap_caps_base[] = "IMAP4rev1 IMAP4rev2 LITERAL+ "
    "SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN "
    "SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE "
    "ESEARCH SEARCHRES CONDSTORE QRESYNC SORT SORT=DISPLAY "
    "THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY UTF8=ACCEPT WITHIN";

static void	imap_on_readable(struct conn *, void *);
static void	imap_on_tls(struct conn *, void *);
static void	imap_on_timeout(struct conn *, void *);
static void	imap_on_closed(struct conn *, void *, const char *);
static void	imap_process(struct imap_session *);
static void	imap_job_push(struct imap_session *);
static void	imap_idle_poll_arm(struct imap_session *);
static bool	imap_alive(const struct imap_session *);

static const struct conn_ops imap_conn_ops = {
	imap_on_readable, imap_on_tls, imap_on_timeout, imap_on_closed,
};

/* --- replies ---------------------------------------------------------------- */

/* Append "PREFIX text\r\n" to out, or queue it on the connection. */
static void
imap_vput(struct imap_session *s, struct buf *out, const char *p1,
    const char *p2, const char *fmt, va_list ap)
{
	struct buf *b = out;

	if (b == NULL) {
		if (s->conn == NULL || s->conn->dead || s->conn->closing)
			return;
		b = &s->conn->out;
	}
	if (p2 != NULL)
		(void)buf_printf(b, "%s %s ", p1, p2);
	else
		(void)buf_printf(b, "%s ", p1);
	(void)buf_vprintf(b, fmt, ap);
	if (buf_append(b, "\r\n", 2) == -1 && out == NULL)
		conn_abort(s->conn, "output buffer full");
	else if (out == NULL)
		conn_write(s->conn, "", 0);	/* schedule the flush */
}

void
imap_tagged(struct imap_session *s, struct buf *out, const char *resp,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vput(s, out, s->tag[0] != '\0' ? s->tag : "*", resp, fmt, ap);
	va_end(ap);
}

void
imap_untagged(struct imap_session *s, struct buf *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vput(s, out, "*", NULL, fmt, ap);
	va_end(ap);
}

void
imap_close(struct imap_session *s, const char *reason)
{
	if (s->state != IMAP_STATE_LOGOUT)
		imap_enter_state(s, IMAP_STATE_LOGOUT);
	if (s->conn != NULL)
		conn_close(s->conn, reason);
}

/* Count a BAD; past imap_max_bad_commands say goodbye. */
static void
imap_count_bad(struct imap_session *s)
{
	if (++s->bad_cmds < s->srv->conf->imap_max_bad_commands)
		return;
	log_event(s->id, "imap", "too-many-errors", "addr=%s",
	    s->conn != NULL ? s->conn->addr : "-");
	imap_untagged(s, NULL, "BYE Too many errors, closing the connection");
	imap_close(s, "too many errors");
}

void
imap_bad(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	if (!imap_alive(s))
		return;
	va_start(ap, fmt);
	(void)buf_vprintf(&s->conn->out, fmt, ap);
	va_end(ap);
	conn_write(s->conn, "\r\n", 2);
	imap_count_bad(s);
}

void
imap_enter_state(struct imap_session *s, enum imap_state st)
{
	log_debug(s->id, "imap", "state", "from=%s to=%s",
	    imap_state_names[s->state], imap_state_names[st]);
	s->state = st;
}

/* Passwords only over TLS, or in clear from loopback when configured. */
bool
imap_auth_allowed(const struct imap_session *s)
{
	const struct conn *c = s->conn;

	if (c == NULL || s->srv->auth.check == NULL)
		return false;
	if (c->tls == CONN_TLS_ON)
		return true;
	return s->srv->conf->auth_plaintext_loopback &&
	    conn_peer_loopback(c);
}

/* After login the list no longer depends on the connection (this runs
 * in jobs too: the LOGIN reply carries it). */
void
imap_capabilities(const struct imap_session *s, struct buf *out)
{
	(void)buf_append_str(out, imap_caps_base);
	if (s->state != IMAP_STATE_NOTAUTH || s->conn == NULL)
		return;
	if (s->conn->tls == CONN_TLS_NONE && s->srv->ssl_ctx != NULL)
		(void)buf_append_str(out, " STARTTLS");
	if (!imap_auth_allowed(s)) {
		(void)buf_append_str(out, " LOGINDISABLED");
		return;
	}
	(void)buf_append_str(out, " AUTH=PLAIN");
	if (s->srv->auth.scram != NULL && s->srv->auth.sasl_secret != NULL)
		(void)buf_append_str(out, " AUTH=SCRAM-SHA-256");
}

/* Parser flags follow the state and what ENABLE switched on. */
void
imap_sync_parser(struct imap_session *s)
{
	unsigned f = 0;

	if (s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED)
		f |= IMAP_PARSE_F_AUTH;
	if (s->utf8)
		f |= IMAP_PARSE_F_UTF8;
	imap_parse_set_flags(s->parser, f);
}

static void
imap_set_tag(struct imap_session *s, struct str tag)
{
	size_t n = tag.len < IMAP_PARSE_TAG_MAX ? tag.len : IMAP_PARSE_TAG_MAX;

	memcpy(s->tag, tag.p, n);
	s->tag[n] = '\0';
}

static bool
imap_alive(const struct imap_session *s)
{
	const struct conn *c = s->conn;

	return c != NULL && !c->dead && !c->closing &&
	    s->state != IMAP_STATE_LOGOUT;
}

/* --- change notification ------------------------------------------------- */

/* Enter or leave IDLE.  While idling only "DONE" is read: the input
 * buffer is capped small (the connection reserves that much for each
 * read, and 10,000 idle sessions must stay small), and whatever the
 * client pipelines behind DONE waits in the kernel. */
void
imap_idle_set(struct imap_session *s, bool on)
{
	struct conn *c = s->conn;

	s->idling = on;
	s->idle_dirty = false;
	if (c == NULL)
		return;
	if (on) {
		c->in.max = c->in.len > IMAP_IDLE_IN_MAX ? c->in.len :
		    IMAP_IDLE_IN_MAX;
		buf_shrink(&c->in);
	} else
		c->in.max = IMAP_IN_MAX > c->in.len ? IMAP_IN_MAX : c->in.len;
}

/* The selected folder changed on disk.  Outside IDLE nothing is said:
 * the next command announces it (imap_update). */
static void
imap_on_notify(void *arg)
{
	struct imap_session *s = arg;

	if (!s->idling || !imap_alive(s))
		return;
	if (s->busy) {
		s->idle_dirty = true;
		return;
	}
	imap_idle_refresh(s);
}

static void
imap_on_poll(evutil_socket_t fd, short what, void *arg)
{
	imap_on_notify(arg);
}

/* Watch the selected folder (loop context, after each job): a watch
 * while SELECTED, on the folder's directory, none otherwise. */
static void
imap_sync_watch(struct imap_session *s)
{
	const char *dir = NULL;

	if (s->state == IMAP_STATE_SELECTED && s->view != NULL &&
	    s->conn != NULL)
		dir = mstore_view_dir(s->view);
	if (s->watch != NULL && (dir == NULL ||
	    strcmp(imap_notify_watch_dir(s->watch), dir) != 0))
		imap_notify_remove(&s->watch);
	if (dir != NULL && s->watch == NULL)
		s->watch = imap_notify_add(s->srv->notify, dir, imap_on_notify,
		    s);
}

/* No watch could be had (inotify limits): an IDLE session looks every
 * IMAP_IDLE_POLL seconds instead. */
static void
imap_idle_poll_arm(struct imap_session *s)
{
	struct timeval tv = { IMAP_IDLE_POLL, 0 };

	if (!s->idling || s->watch != NULL ||
	    s->state != IMAP_STATE_SELECTED) {
		if (s->ev_poll != NULL)
			evtimer_del(s->ev_poll);
		return;
	}
	if (s->ev_poll == NULL &&
	    (s->ev_poll = evtimer_new(s->srv->base, imap_on_poll, s)) == NULL)
		fatalx("evtimer_new: out of memory");
	evtimer_add(s->ev_poll, &tv);
}

static unsigned	imap_timeout(const struct imap_session *);

/* --- the job runner ---------------------------------------------------------- */

void
imap_cmd_end(struct imap_session *s)
{
	if (s->cmd_state != NULL && s->cmd_state_free != NULL)
		s->cmd_state_free(s->cmd_state);
	s->cmd_state = NULL;
	s->cmd_state_free = NULL;
	s->cmd = NULL;
	s->job_fn = NULL;
}

static void
imap_job_work(void *arg)
{
	struct imap_session *s = arg;
	struct mstore *st = s->store;

	/* the job's cache reads share one read transaction (mstore.h) */
	if (st != NULL)
		mstore_batch(st, true);
	s->job_res = s->job_fn(s, &s->job_out);
	if (st != NULL && st == s->store)
		mstore_batch(st, false);
}

/* A stopping server sends sessions away between commands. */
static bool
imap_stop_check(struct imap_session *s)
{
	if (!s->srv->stopping || !imap_alive(s) || s->busy)
		return false;
	imap_untagged(s, NULL, "BYE [UNAVAILABLE] Server shutting down");
	imap_close(s, "shutdown");
	return true;
}

/* Work under way ended: carry on with pipelined input. */
void
imap_session_resume(struct imap_session *s)
{
	s->busy = false;
	if (s->conn == NULL)
		return;
	if (!s->out_wait)
		conn_resume(s->conn);
	if (!imap_stop_check(s))
		imap_process(s);
}

/* A job is over (loop context): the session is the loop's again. */
static void
imap_job_finish(struct imap_session *s)
{
	imap_cmd_end(s);
	if (!imap_alive(s)) {
		s->busy = false;
		return;
	}
	imap_sync_parser(s);
	imap_sync_watch(s);
	/* LOGIN lengthens it; an IDLE refresh is no client activity */
	if (s->conn->timeout != imap_timeout(s))
		conn_set_timeout(s->conn, imap_timeout(s));
	if (s->idling) {
		if (s->idle_dirty) {	/* changed again meanwhile */
			imap_idle_refresh(s);
			return;
		}
		imap_parse_trim(s->parser);
		buf_free(&s->job_out);
		buf_shrink(&s->conn->in);
		imap_idle_poll_arm(s);
	}
	imap_session_resume(s);
}

static void
imap_on_job_drained(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	/* the client reads: it is not idle, even if it sends nothing */
	conn_set_timeout(c, imap_timeout(s));
	s->draining = false;
	imap_job_push(s);
}

static void
imap_job_done(void *arg)
{
	struct imap_session *s = arg;
	struct conn *c = s->conn;

	if (c != NULL && s->job_out.len > 0)
		conn_write(c, s->job_out.p, s->job_out.len);
	buf_reset(&s->job_out);
	if (s->job_res == IMAP_JOB_MORE && imap_alive(s)) {
		/* the job's reference waits with it */
		s->draining = true;
		conn_want_drained(c, imap_on_job_drained);
		return;
	}
	imap_job_finish(s);
	imap_session_unref(s);
}

static void
imap_job_push(struct imap_session *s)
{
	workq_push(s->srv->wq, imap_job_work, imap_job_done, s);
}

void
imap_job_start(struct imap_session *s, imap_job_fn fn)
{
	s->store_idle = false;
	s->busy = true;
	s->job_fn = fn;
	s->refs++;
	if (s->conn != NULL)
		conn_pause(s->conn);
	imap_job_push(s);
}

/* --- life cycle -------------------------------------------------------------- */

static void
imap_greet(struct imap_session *s)
{
	struct buf b;

	buf_init(&b, 4096);
	imap_capabilities(s, &b);
	imap_untagged(s, NULL, "OK [CAPABILITY %s] facteur ready",
	    buf_cstr(&b));
	buf_free(&b);
}

static unsigned
imap_timeout(const struct imap_session *s)
{
	unsigned t = s->srv->conf->imap_timeout;

	if (s->state == IMAP_STATE_NOTAUTH && t > IMAP_PREAUTH_TIMEOUT)
		t = IMAP_PREAUTH_TIMEOUT;
	return t;
}

void
imap_session_start(struct imap_server *srv, int fd, const struct sockaddr *sa,
    socklen_t salen, bool implicit_tls)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	const struct conf *conf = srv->conf;

	s->srv = srv;
	s->id = id_new();
	s->refs = 1;
	s->implicit_tls = implicit_tls;
	s->parser = imap_parse_new(IMAP_PARSE_LINE_MAX,
	    conf->smtp_max_message_size);
	imap_parse_set_flags(s->parser, 0);
	/* a job's output between two sends: IMAP_JOB_CHUNK normally, a
	 * whole message at worst */
	buf_init(&s->job_out, conf->smtp_max_message_size * 2 +
	    IMAP_JOB_CHUNK * 4);
	s->conn = conn_new(srv->base, fd, sa, salen, IMAP_IN_MAX,
	    &imap_conn_ops, s);
	s->conn->id = s->id;
	if ((s->next = srv->sessions) != NULL)
		s->next->prevp = &s->next;
	srv->sessions = s;
	s->prevp = &srv->sessions;
	srv->nsessions++;
	log_event(s->id, "imap", "connected", "addr=%s tls=%s", s->conn->addr,
	    implicit_tls ? "implicit" : "no");
	conn_set_timeout(s->conn, imap_timeout(s));
	if (!implicit_tls) {
		imap_greet(s);
		return;
	}
	if (srv->ssl_ctx == NULL) {
		log_event(s->id, "imap", "no-tls", "addr=%s", s->conn->addr);
		imap_close(s, "no TLS context");
		return;
	}
	conn_starttls(s->conn, srv->ssl_ctx);
}

/* The store is closed in the pool (SQLite, files); the session is
 * freed once that is done. */
static void
imap_free_work(void *arg)
{
	struct imap_session *s = arg;

	mstore_view_close(&s->view);
	mstore_close(&s->store);
}

static void
imap_free_done(void *arg)
{
	struct imap_session *s = arg;

	free(s->view_name);
	free(s->saved);
	free(s);
}

static void
imap_session_free(struct imap_session *s)
{
	struct imap_server *srv = s->srv;

	if ((*s->prevp = s->next) != NULL)
		s->next->prevp = s->prevp;
	srv->nsessions--;
	imap_notify_remove(&s->watch);
	if (s->ev_poll != NULL)
		event_free(s->ev_poll);
	if (s->ev_delay != NULL)
		event_free(s->ev_delay);
	sasl_free(&s->sasl);
	imap_cmd_end(s);
	imap_parse_free(&s->parser);
	buf_free(&s->job_out);
	explicit_bzero(s->tag, sizeof(s->tag));
	if (s->store != NULL || s->view != NULL) {
		workq_push(srv->wq, imap_free_work, imap_free_done, s);
		return;
	}
	imap_free_done(s);
}

void
imap_session_unref(struct imap_session *s)
{
	if (--s->refs == 0)
		imap_session_free(s);
}

static void
imap_on_closed(struct conn *c, void *arg, const char *reason)
{
	struct imap_session *s = arg;

	log_event(s->id, "imap", "disconnected", "addr=%s user=%s "
	    "commands=%u reason=<%s>", c->addr,
	    s->user[0] != '\0' ? s->user : "-", s->ncmds, reason);
	if (s->srv->session_ended != NULL)
		s->srv->session_ended(s->srv->ended_ctx, &c->peer);
	s->conn = NULL;
	s->conn_gone = true;
	imap_notify_remove(&s->watch);
	if (s->ev_poll != NULL)
		evtimer_del(s->ev_poll);
	if (s->draining) {	/* a job waited for output that never drains */
		s->draining = false;
		imap_cmd_end(s);
		s->busy = false;
		imap_session_unref(s);
	}
	imap_session_unref(s);
}

static void
imap_on_tls(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	log_event(s->id, "imap", s->implicit_tls ? "tls" : "starttls", "%s",
	    c->tls_info);
	/* RFC 9051 §6.2.1: nothing sent before TLS counts */
	imap_parse_reset(s->parser);
	conn_set_timeout(c, imap_timeout(s));
	if (s->implicit_tls)
		imap_greet(s);
}

static void
imap_on_timeout(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	if (s->draining) {
		/* the client stopped reading an answer: nothing can be said
		 * in the middle of it */
		log_event(s->id, "imap", "timeout", "addr=%s state=%s "
		    "reading=no", c->addr, imap_state_names[s->state]);
		imap_enter_state(s, IMAP_STATE_LOGOUT);
		conn_abort(c, "timeout");
		return;
	}
	if (s->busy) {		/* our own work is slow, not the client */
		conn_set_timeout(c, imap_timeout(s));
		return;
	}
	log_event(s->id, "imap", "timeout", "addr=%s state=%s idle=%s",
	    c->addr, imap_state_names[s->state], s->idling ? "yes" : "no");
	imap_untagged(s, NULL, "BYE Autologout; idle for too long");
	imap_close(s, "timeout");
}

/* --- input ------------------------------------------------------------------ */

static bool
imap_can_process(const struct imap_session *s)
{
	const struct conn *c = s->conn;

	return imap_alive(s) && !s->busy && !s->out_wait &&
	    c->tls != CONN_TLS_PENDING && c->tls != CONN_TLS_HANDSHAKE &&
	    c->in.len > 0;
}

static void
imap_on_out_drained(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	s->out_wait = false;
	s->refs++;
	if (!s->busy)
		imap_session_resume(s);
	imap_session_unref(s);
}

static const struct imap_cmd_def *
imap_cmd_def(enum imap_cmd_id id)
{
	if (id <= IMAP_CMD_NONE || id >= IMAP_CMD_COUNT_)
		return NULL;
	if (imap_cmds[id].loop == NULL && imap_cmds[id].job == NULL)
		return NULL;
	return &imap_cmds[id];
}

static bool
imap_cmd_allowed(const struct imap_session *s, enum imap_cmd_id id)
{
	const struct imap_cmd_def *d = imap_cmd_def(id);

	return d != NULL && (d->states & (1u << s->state)) != 0;
}

static void
imap_dispatch(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_cmd_def *d = imap_cmd_def(cmd->id);

	imap_set_tag(s, cmd->tag);
	s->ncmds++;
	s->active = time(NULL);
	if (d == NULL) {
		imap_bad(s, "%s BAD Unknown command", s->tag);
		return;
	}
	if (!(d->states & (1u << s->state))) {
		imap_bad(s, "%s BAD Command not valid in this state", s->tag);
		return;
	}
	s->cmd = cmd;
	if (d->job != NULL) {
		imap_job_start(s, d->job);
		return;
	}
	d->loop(s);
	if (!s->busy)
		s->cmd = NULL;	/* points into the parser */
}

/* A malformed command (or SASL line, or IDLE continuation). */
static void
imap_parse_failed(struct imap_session *s, const struct imap_parse_event *ev)
{
	char tag[IMAP_PARSE_TAG_MAX + 1] = "*";
	bool bad = strcmp(ev->resp, "BAD") == 0;

	if (ev->tag.len > 0 && ev->tag.len <= IMAP_PARSE_TAG_MAX) {
		memcpy(tag, ev->tag.p, ev->tag.len);
		tag[ev->tag.len] = '\0';
	}
	if (s->sasl != NULL || s->idling) {
		/* the raw line of an exchange was refused: it ends */
		sasl_free(&s->sasl);
		imap_idle_set(s, false);
		imap_idle_poll_arm(s);
		snprintf(tag, sizeof(tag), "%s", s->tag);
	}
	if (ev->code != NULL)
		conn_printf(s->conn, "%s %s [%s] %s\r\n", tag, ev->resp,
		    ev->code, ev->text);
	else
		conn_printf(s->conn, "%s %s %s\r\n", tag, ev->resp, ev->text);
	if (bad)
		imap_count_bad(s);
}

/* A synchronising literal was announced: "+" only for a command this
 * state allows and a size within the limit. */
static void
imap_literal(struct imap_session *s, const struct imap_parse_event *ev)
{
	char tag[IMAP_PARSE_TAG_MAX + 1] = "*";

	if (ev->tag.len > 0 && ev->tag.len <= IMAP_PARSE_TAG_MAX) {
		memcpy(tag, ev->tag.p, ev->tag.len);
		tag[ev->tag.len] = '\0';
	}
	if (!imap_cmd_allowed(s, ev->id)) {
		imap_parse_literal_reject(s->parser);
		imap_bad(s, "%s BAD Command not valid in this state", tag);
		return;
	}
	if (ev->lit_too_big || imap_parse_literal_accept(s->parser) == -1) {
		imap_parse_literal_reject(s->parser);
		if (ev->lit_message) {
			conn_printf(s->conn, "%s NO [TOOBIG] Message too "
			    "big\r\n", tag);
			return;
		}
		imap_bad(s, "%s BAD [TOOBIG] Literal too big", tag);
		return;
	}
	conn_printf(s->conn, "+ Ready for literal data\r\n");
}

static void
imap_idle_end(struct imap_session *s, struct str line)
{
	imap_idle_set(s, false);
	imap_idle_poll_arm(s);
	if (str_eq_ci_cstr(line, "DONE"))
		imap_tagged(s, NULL, "OK", "IDLE terminated");
	else
		imap_bad(s, "%s BAD Expected DONE", s->tag);
}

static void
imap_line(struct imap_session *s, struct str line)
{
	if (s->sasl != NULL)
		imap_auth_line(s, line);
	else if (s->idling)
		imap_idle_end(s, line);
}

static void
imap_process(struct imap_session *s)
{
	struct imap_parse_event ev;
	struct conn *c;
	size_t used;
	enum imap_parse_status st;

	while (imap_can_process(s)) {
		c = s->conn;
		if (c->out.len >= IMAP_OUT_HIGH) {
			/* a client that does not read stops being read */
			s->out_wait = true;
			conn_pause(c);
			conn_want_drained(c, imap_on_out_drained);
			break;
		}
		st = imap_parse_feed(s->parser, c->in.p, c->in.len, &used, &ev);
		buf_consume(&c->in, used);
		if (st == IMAP_PARSE_MORE)
			break;
		switch (st) {
		case IMAP_PARSE_COMMAND:
			imap_dispatch(s, ev.cmd);
			break;
		case IMAP_PARSE_ERROR:
			imap_parse_failed(s, &ev);
			break;
		case IMAP_PARSE_LITERAL:
			imap_literal(s, &ev);
			break;
		case IMAP_PARSE_LINE:
			imap_line(s, ev.line);
			break;
		default:
			break;
		}
	}
	/* all input used and nothing under way: give the memory back (an
	 * idle session holds as little as possible) */
	if (s->conn != NULL && s->conn->in.len == 0 && !s->busy) {
		buf_shrink(&s->conn->in);
		imap_parse_trim(s->parser);
	}
}

static void
imap_on_readable(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	s->refs++;
	imap_process(s);
	imap_session_unref(s);
}

/* --- the server ------------------------------------------------------------- */

static enum imap_job_res
imap_store_idle_job(struct imap_session *s, struct buf *out)
{
	mstore_idle(s->store);
	s->store_idle = true;
	return IMAP_JOB_DONE;
}

/* Sessions silent for IMAP_STORE_IDLE_AFTER let their store go idle, as
 * IDLE does: a client polling every few minutes holds no database
 * handle in between. */
static void
imap_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	struct imap_session *s;
	time_t now = time(NULL);

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->store == NULL || s->store_idle || s->busy ||
		    s->idling || s->sasl != NULL || !imap_alive(s) ||
		    now - s->active < IMAP_STORE_IDLE_AFTER)
			continue;
		imap_job_start(s, imap_store_idle_job);
	}
}

int
imap_server_init(struct imap_server *srv)
{
	struct timeval tv = { IMAP_STORE_IDLE_AFTER / 2, 0 };

	srv->notify = imap_notify_new(srv->base);
	/* without inotify IDLE sessions poll: not fatal */
	srv->ev_sweep = event_new(srv->base, -1, EV_PERSIST, imap_on_sweep,
	    srv);
	if (srv->ev_sweep == NULL)
		return -1;
	event_add(srv->ev_sweep, &tv);
	return 0;
}

void
imap_server_free(struct imap_server *srv)
{
	if (srv->ev_sweep != NULL)
		event_free(srv->ev_sweep);
	srv->ev_sweep = NULL;
	imap_notify_free(&srv->notify);
}

void
imap_server_stop(struct imap_server *srv)
{
	struct imap_session *s, *next;

	srv->stopping = true;
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		imap_stop_check(s);
	}
}

void
imap_server_kill(struct imap_server *srv)
{
	struct imap_session *s;

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (!imap_alive(s))
			continue;
		log_event(s->id, "imap", "shutdown-abort", "state=%s busy=%s",
		    imap_state_names[s->state], s->busy ? "yes" : "no");
		if (!s->busy || !s->draining)
			imap_untagged(s, NULL, "BYE [UNAVAILABLE] Server "
			    "shutting down");
		imap_close(s, "shutdown");
	}
}

bool
imap_server_idle(struct imap_server *srv)
{
	return srv->nsessions == 0;
}
