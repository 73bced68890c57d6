/* pop3_server.c: POP3 sessions: greeting, TLS (STLS and POP3S), the
 * input loop, the command table with the states each command is valid
 * in, back-pressure on output, shutdown.  The commands themselves live
 * in pop3_auth.c (AUTHORIZATION) and pop3_cmd.c (TRANSACTION, UPDATE).
 *
 * Never freed inside its own callback: every callback holds a reference
 * while it runs, and so does every piece of work in flight (password
 * check, Maildir job, login delay). */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/conf.h"
#include "core/id.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "pop3/pop3_session.h"

/* Output back-pressure: produce up to HIGH, refill below LOW. */
#define POP3_OUT_HIGH		(128 * 1024)
#define POP3_OUT_LOW		(32 * 1024)
/* Input buffer: room for a few pipelined commands and the longest line. */
#define POP3_IN_MAX		(POP3_AUTH_LINE_MAX * 2)

#define ST(x)			(1u << POP3_STATE_##x)

struct pop3_cmd {
	enum pop3_verb	 verb;
	unsigned	 states;
	bool		 secret;	/* wipe the line afterwards */
	void		(*fn)(struct pop3_session *, const struct pop3_cmdline *);
};

static void	pop3_do_capa(struct pop3_session *, const struct pop3_cmdline *);
static void	pop3_do_stls(struct pop3_session *, const struct pop3_cmdline *);
static void	pop3_do_noop(struct pop3_session *, const struct pop3_cmdline *);
static void	pop3_do_quit(struct pop3_session *, const struct pop3_cmdline *);

static const struct pop3_cmd pop3_cmds[] = {
	{ POP3_VERB_CAPA, ST(AUTH) | ST(TRANSACTION), false, pop3_do_capa },
	{ POP3_VERB_STLS, ST(AUTH), false, pop3_do_stls },
	{ POP3_VERB_USER, ST(AUTH), false, pop3_do_user },
	{ POP3_VERB_PASS, ST(AUTH), true, pop3_do_pass },
	{ POP3_VERB_AUTH, ST(AUTH), true, pop3_do_auth },
	{ POP3_VERB_APOP, ST(AUTH), true, pop3_do_apop },
	{ POP3_VERB_STAT, ST(TRANSACTION), false, pop3_do_stat },
	{ POP3_VERB_LIST, ST(TRANSACTION), false, pop3_do_list },
	{ POP3_VERB_UIDL, ST(TRANSACTION), false, pop3_do_uidl },
	{ POP3_VERB_RETR, ST(TRANSACTION), false, pop3_do_retr },
	{ POP3_VERB_TOP, ST(TRANSACTION), false, pop3_do_top },
	{ POP3_VERB_DELE, ST(TRANSACTION), false, pop3_do_dele },
	{ POP3_VERB_RSET, ST(TRANSACTION), false, pop3_do_rset },
	{ POP3_VERB_NOOP, ST(TRANSACTION), false, pop3_do_noop },
	{ POP3_VERB_QUIT, ST(AUTH) | ST(TRANSACTION), false, pop3_do_quit },
};

static const char *pop3_state_names[] = {
	"authorization", "transaction", "update", "quit",
};

static void	pop3_on_readable(struct conn *, void *);
static void	pop3_on_tls(struct conn *, void *);
static void	pop3_on_timeout(struct conn *, void *);
static void	pop3_on_closed(struct conn *, void *, const char *);
static void	pop3_process(struct pop3_session *);

static const struct conn_ops pop3_conn_ops = {
	pop3_on_readable, pop3_on_tls, pop3_on_timeout, pop3_on_closed,
};

void
pop3_enter_state(struct pop3_session *s, enum pop3_state st)
{
	log_debug(s->id, "pop3", "state", "from=%s to=%s",
	    pop3_state_names[s->state], pop3_state_names[st]);
	s->state = st;
}

void
pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->conn == NULL)
		return;
	va_start(ap, fmt);
	conn_vline(s->conn, fmt, ap);
	va_end(ap);
}

void
pop3_close(struct pop3_session *s, const char *reason)
{
	if (s->state != POP3_STATE_QUIT)
		pop3_enter_state(s, POP3_STATE_QUIT);
	if (s->conn != NULL)
		conn_close(s->conn, reason);
}

void
pop3_bad(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pop3_reply(s, "%s", line);
	if (++s->bad_cmds < s->srv->conf->pop3_max_bad_commands)
		return;
	log_event(s->id, "pop3", "too-many-errors", "addr=%s",
	    s->conn != NULL ? s->conn->addr : "-");
	pop3_reply(s, "-ERR Too many errors, closing the connection");
	pop3_close(s, "too many errors");
}

/* Passwords only over TLS, or in clear from loopback when configured. */
bool
pop3_auth_allowed(const struct pop3_session *s)
{
	const struct conn *c = s->conn;

	if (c == NULL)
		return false;
	if (c->tls == CONN_TLS_ON)
		return true;
	return s->srv->conf->auth_plaintext_loopback &&
	    conn_peer_loopback(c);
}

/* --- life cycle ---------------------------------------------------------- */

void
pop3_session_start(struct pop3_server *srv, int fd, const struct sockaddr *sa,
    socklen_t salen, bool implicit_tls)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->id = id_new();
	s->refs = 1;
	s->implicit_tls = implicit_tls;
	s->xfer.fd = -1;
	pop3_lex_init(&s->lx, POP3_LINE_MAX, POP3_AUTH_LINE_MAX);
	s->conn = conn_new(srv->base, fd, sa, salen, POP3_IN_MAX,
	    &pop3_conn_ops, s);
	s->conn->id = s->id;
	if ((s->next = srv->sessions) != NULL)
		s->next->prevp = &s->next;
	srv->sessions = s;
	s->prevp = &srv->sessions;
	srv->nsessions++;
	log_event(s->id, "pop3", "connected", "addr=%s tls=%s", s->conn->addr,
	    implicit_tls ? "implicit" : "no");
	conn_set_timeout(s->conn, srv->conf->pop3_timeout);
	if (!implicit_tls) {
		pop3_reply(s, "+OK facteur ready");
		return;
	}
	if (srv->ssl_ctx == NULL) {
		log_event(s->id, "pop3", "no-tls", "addr=%s", s->conn->addr);
		pop3_close(s, "no TLS context");
		return;
	}
	conn_starttls(s->conn, srv->ssl_ctx);
}

static void
pop3_session_free(struct pop3_session *s)
{
	struct pop3_server *srv = s->srv;

	pop3_xfer_abort(s);
	pop3_mailbox_free(&s->mb);
	if (s->ev_delay != NULL)
		event_free(s->ev_delay);
	if ((*s->prevp = s->next) != NULL)
		s->next->prevp = s->prevp;
	srv->nsessions--;
	explicit_bzero(s->login, sizeof(s->login));
	free(s);
}

void
pop3_session_unref(struct pop3_session *s)
{
	if (--s->refs == 0)
		pop3_session_free(s);
}

static void
pop3_on_closed(struct conn *c, void *arg, const char *reason)
{
	struct pop3_session *s = arg;

	log_event(s->id, "pop3", "disconnected", "addr=%s user=%s retr=%u "
	    "dele=%u reason=<%s>", c->addr, s->user[0] != '\0' ? s->user : "-",
	    s->nretr, s->ndele, reason);
	if (s->srv->session_ended != NULL)
		s->srv->session_ended(s->srv->ended_ctx, &c->peer);
	if (s->ev_write != NULL) {	/* watches c->fd, which closes now */
		event_free(s->ev_write);
		s->ev_write = NULL;
	}
	pop3_xfer_abort(s);
	s->conn = NULL;
	s->conn_gone = true;
	pop3_session_unref(s);
}

static void
pop3_on_tls(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;

	log_event(s->id, "pop3", s->implicit_tls ? "tls" : "starttls", "%s",
	    c->tls_info);
	/* RFC 2595 §4: nothing learnt before TLS counts */
	pop3_lex_reset(&s->lx);
	s->user_given = false;
	conn_set_timeout(c, s->srv->conf->pop3_timeout);
	if (s->implicit_tls)
		pop3_reply(s, "+OK facteur ready");
}

static void
pop3_on_timeout(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;

	if (s->busy) {		/* our own work is slow, not the client */
		conn_set_timeout(c, s->srv->conf->pop3_timeout);
		return;
	}
	log_event(s->id, "pop3", "timeout", "addr=%s state=%s", c->addr,
	    pop3_state_names[s->state]);
	if (s->xfer.kind != POP3_XFER_NONE) {
		/* nothing can be said in the middle of a message */
		pop3_enter_state(s, POP3_STATE_QUIT);
		conn_abort(c, "timeout");
		return;
	}
	/* RFC 1939 §3: autologout without UPDATE: nothing is deleted */
	pop3_reply(s, "-ERR Disconnected for inactivity");
	pop3_close(s, "timeout");
}

/* --- output back-pressure ------------------------------------------------ */

static void
pop3_on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session *s = arg;
	struct conn *c = s->conn;

	if (c == NULL || c->dead || c->closing) {
		event_del(s->ev_write);
		return;
	}
	if (c->out.len >= POP3_OUT_LOW)
		return;		/* the conn's own write event drains it */
	event_del(s->ev_write);
	s->refs++;
	if (s->xfer.kind == POP3_XFER_NONE || pop3_xfer_fill(s)) {
		if (!s->busy)
			conn_resume(c);
		pop3_process(s);
	}
	pop3_session_unref(s);
}

/* The conn has no "drained" callback: watch the socket for writability
 * beside it (level-triggered, so we look again after each of its
 * flushes) and refill once its buffer is below POP3_OUT_LOW.  Reading
 * pauses meanwhile, so that a peer's EOF cannot reap the conn while
 * answers are still to come. */
void
pop3_wait_drain(struct pop3_session *s)
{
	struct conn *c = s->conn;

	if (c == NULL || c->dead)
		return;
	if (s->ev_write == NULL) {
		s->ev_write = event_new(s->srv->base, c->fd,
		    EV_WRITE | EV_PERSIST, pop3_on_writable, s);
		if (s->ev_write == NULL)
			fatalx("event_new: out of memory");
	}
	conn_pause(c);
	event_add(s->ev_write, NULL);
}

/* --- input ----------------------------------------------------------------- */

static bool
pop3_alive(const struct pop3_session *s)
{
	const struct conn *c = s->conn;

	return c != NULL && !c->dead && !c->closing &&
	    s->state != POP3_STATE_QUIT;
}

/* A stopping server sends sessions that are not logged in away. */
static bool
pop3_stop_check(struct pop3_session *s)
{
	if (!s->srv->stopping || !pop3_alive(s) || s->busy ||
	    s->state != POP3_STATE_AUTH)
		return false;
	pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down, try again later");
	pop3_close(s, "shutdown");
	return true;
}

static const struct pop3_cmd *
pop3_find_cmd(enum pop3_verb verb)
{
	for (size_t i = 0; i < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]); i++)
		if (pop3_cmds[i].verb == verb)
			return &pop3_cmds[i];
	return NULL;
}

static void
pop3_dispatch(struct pop3_session *s, struct str line)
{
	const struct pop3_cmd *cmd;
	struct pop3_cmdline cl;

	if (s->lx.sasl) {
		s->lx.sasl = false;
		pop3_auth_response(s, line);
		explicit_bzero((char *)line.p, line.len);
		return;
	}
	if (pop3_parse_cmd(line, &cl) == -1 ||
	    (cmd = pop3_find_cmd(cl.verb)) == NULL) {
		s->user_given = false;
		pop3_bad(s, "-ERR Unknown command");
		return;
	}
	/* a stopping server ends TRANSACTION at a command boundary without
	 * UPDATE; QUIT is still honoured (the client asked to commit) */
	if (s->srv->stopping && cl.verb != POP3_VERB_QUIT) {
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
		pop3_close(s, "shutdown");
		return;
	}
	if (!(cmd->states & (1u << s->state))) {
		s->user_given = false;
		pop3_bad(s, "-ERR Command not valid in this state");
		return;
	}
	if (cl.verb != POP3_VERB_PASS && cl.verb != POP3_VERB_USER)
		s->user_given = false;
	cmd->fn(s, &cl);
	if (cmd->secret)
		explicit_bzero((char *)line.p, line.len);
}

static bool
pop3_can_process(const struct pop3_session *s)
{
	const struct conn *c = s->conn;

	return pop3_alive(s) && !s->busy && s->xfer.kind == POP3_XFER_NONE &&
	    (s->state == POP3_STATE_AUTH ||
	    s->state == POP3_STATE_TRANSACTION) &&
	    c->tls != CONN_TLS_PENDING && c->tls != CONN_TLS_HANDSHAKE &&
	    c->in.len > 0;
}

static void
pop3_process(struct pop3_session *s)
{
	struct conn *c;
	struct str line;
	size_t used;
	enum pop3_lex r;

	while (pop3_can_process(s)) {
		c = s->conn;
		if (c->out.len >= POP3_OUT_HIGH) {
			pop3_wait_drain(s);
			break;
		}
		r = pop3_lex_line(&s->lx, c->in.p, c->in.len, &line, &used);
		if (r == POP3_LEX_MORE) {
			if (used == 0)
				break;
			buf_consume(&c->in, used);
			continue;
		}
		if (r == POP3_LEX_TOOLONG) {
			buf_consume(&c->in, used);
			s->lx.sasl = false;	/* an AUTH exchange ends */
			pop3_bad(s, "-ERR line too long");
			continue;
		}
		pop3_dispatch(s, line);
		/* STLS emptied the buffer: consuming then leaves it empty */
		buf_consume(&c->in, used);
	}
}

static void
pop3_on_readable(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;

	s->refs++;
	pop3_process(s);
	pop3_session_unref(s);
}

void
pop3_session_resume(struct pop3_session *s)
{
	s->busy = false;
	if (s->conn == NULL)
		return;
	if (s->xfer.kind == POP3_XFER_NONE)
		conn_resume(s->conn);
	if (!pop3_stop_check(s))
		pop3_process(s);
}

/* --- commands of every state ---------------------------------------------- */

static void
pop3_do_capa(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	bool pre = s->state == POP3_STATE_AUTH;

	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	if (pre && pop3_auth_allowed(s)) {
		pop3_reply(s, "USER");
		pop3_reply(s, "SASL PLAIN");
	}
	if (pre && s->srv->ssl_ctx != NULL && s->conn->tls == CONN_TLS_NONE)
		pop3_reply(s, "STLS");
	pop3_reply(s, "IMPLEMENTATION facteur");
	pop3_reply(s, ".");
}

static void
pop3_do_stls(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	if (s->conn->tls != CONN_TLS_NONE) {
		pop3_bad(s, "-ERR Command not permitted when TLS active");
		return;
	}
	if (s->srv->ssl_ctx == NULL) {
		pop3_bad(s, "-ERR TLS not available");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	/* RFC 2595 §4 and CVE-2011-0411: pipelined bytes are dropped */
	pop3_lex_reset(&s->lx);
	conn_starttls(s->conn, s->srv->ssl_ctx);
}

static void
pop3_do_noop(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	pop3_reply(s, "+OK");
}

static void
pop3_do_quit(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	if (s->state == POP3_STATE_TRANSACTION) {
		pop3_do_quit_update(s);
		return;
	}
	pop3_reply(s, "+OK facteur signing off");
	pop3_close(s, "quit");
}

/* --- shutdown -------------------------------------------------------------- */

void
pop3_server_stop(struct pop3_server *srv)
{
	struct pop3_session *s, *next;

	srv->stopping = true;
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		pop3_stop_check(s);
	}
}

void
pop3_server_kill(struct pop3_server *srv)
{
	struct pop3_session *s;

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (!pop3_alive(s) || s->state == POP3_STATE_UPDATE)
			continue;
		log_event(s->id, "pop3", "shutdown-abort", "state=%s",
		    pop3_state_names[s->state]);
		if (s->xfer.kind != POP3_XFER_NONE) {
			pop3_enter_state(s, POP3_STATE_QUIT);
			conn_abort(s->conn, "shutdown");
			continue;
		}
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
		pop3_close(s, "shutdown");
	}
}

bool
pop3_server_idle(struct pop3_server *srv)
{
	return srv->nsessions == 0;
}
