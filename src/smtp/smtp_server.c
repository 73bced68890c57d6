/* smtp_server.c: SMTP sessions: greeting, command table, check/act
 * handlers (OpenSMTPD's check/proceed), shutdown. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/account.h"
#include "config/conf.h"
#include "core/id.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/cidr.h"
#include "queue/queue_fs.h"
#include "smtp/smtp_session.h"


/* State masks */
#define ST(x)		(1u << SMTP_STATE_##x)
#define ST_ANY		(ST(CONNECTED) | ST(READY) | ST(MAIL) | ST(RCPT))

struct smtp_cmd {
	enum smtp_verb	 verb;
	unsigned	 states;	/* where the command is allowed */
	void		(*fn)(struct smtp_session *, struct str args);
	const char	*wrong_state;	/* reply outside those states */
};

static void	smtp_do_helo(struct smtp_session *, struct str);
static void	smtp_do_ehlo(struct smtp_session *, struct str);
static void	smtp_do_starttls(struct smtp_session *, struct str);
static void	smtp_do_mail(struct smtp_session *, struct str);
static void	smtp_do_rcpt(struct smtp_session *, struct str);
static void	smtp_do_data(struct smtp_session *, struct str);
static void	smtp_do_bdat(struct smtp_session *, struct str);
static void	smtp_do_rset(struct smtp_session *, struct str);
static void	smtp_do_noop(struct smtp_session *, struct str);
static void	smtp_do_quit(struct smtp_session *, struct str);
static void	smtp_do_help(struct smtp_session *, struct str);
static void	smtp_do_vrfy(struct smtp_session *, struct str);
static void	smtp_do_expn(struct smtp_session *, struct str);
static void	smtp_do_auth(struct smtp_session *, struct str);

/* RFC 2920 wants DATA, STARTTLS and QUIT last in a pipelined group.  No
 * flag is needed for that: after DATA the following bytes are content,
 * STARTTLS throws away what was pipelined behind it (conn_starttls), and
 * QUIT closes. */
static const struct smtp_cmd smtp_cmds[] = {
	{ SMTP_VERB_HELO, ST_ANY, smtp_do_helo, NULL },
	{ SMTP_VERB_EHLO, ST_ANY, smtp_do_ehlo, NULL },
	{ SMTP_VERB_STARTTLS, ST(CONNECTED) | ST(READY), smtp_do_starttls,
	    "503 5.5.1 Error: STARTTLS not allowed inside a transaction" },
	{ SMTP_VERB_MAIL, ST(READY), smtp_do_mail, NULL },
	{ SMTP_VERB_RCPT, ST(MAIL) | ST(RCPT), smtp_do_rcpt,
	    "503 5.5.1 Error: need MAIL command" },
	{ SMTP_VERB_DATA, ST(RCPT), smtp_do_data, NULL },
	{ SMTP_VERB_BDAT, ST_ANY, smtp_do_bdat, NULL },
	{ SMTP_VERB_RSET, ST_ANY, smtp_do_rset, NULL },
	{ SMTP_VERB_NOOP, ST_ANY, smtp_do_noop, NULL },
	{ SMTP_VERB_QUIT, ST_ANY, smtp_do_quit, NULL },
	{ SMTP_VERB_HELP, ST_ANY, smtp_do_help, NULL },
	{ SMTP_VERB_VRFY, ST_ANY, smtp_do_vrfy, NULL },
	{ SMTP_VERB_EXPN, ST_ANY, smtp_do_expn, NULL },
	{ SMTP_VERB_AUTH, ST_ANY, smtp_do_auth, NULL },
};

static const char *smtp_state_names[] = {
	"connected", "ready", "mail", "rcpt", "data", "bdat", "quit",
};

static void	smtp_on_readable(struct conn *, void *);
static void	smtp_on_tls(struct conn *, void *);
static void	smtp_on_timeout(struct conn *, void *);
static void	smtp_on_closed(struct conn *, void *, const char *);

static const struct conn_ops smtp_conn_ops = {
	smtp_on_readable, smtp_on_tls, smtp_on_timeout, smtp_on_closed,
};

void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	log_debug(s->id, "smtp", "state", "from=%s to=%s",
	    smtp_state_names[s->state], smtp_state_names[st]);
	s->state = st;
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->conn == NULL)
		return;
	va_start(ap, fmt);
	conn_vline(s->conn, fmt, ap);
	va_end(ap);
}

static size_t
smtp_in_max(const struct conf *conf)
{
	size_t m = conf->smtp_max_line;

	if (m < SMTP_AUTH_LINE_MAX)
		m = SMTP_AUTH_LINE_MAX;
	return m < SMTP_DATA_LINE_MAX ? SMTP_DATA_LINE_MAX : m;
}

/* A local program: the kernel tells who runs it (SO_PEERCRED); that
 * user is the session's identity, allowed to send anywhere (as the
 * sendmail command always could). */
static void
smtp_local_identify(struct smtp_session *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd *pw;

	snprintf(s->conn->addr, sizeof(s->conn->addr), "local");
	if (getsockopt(s->conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		snprintf(s->auth_user, sizeof(s->auth_user), "unknown@%s",
		    s->srv->conf->hostname);
		return;
	}
	if ((pw = getpwuid(cred.uid)) != NULL)
		snprintf(s->auth_user, sizeof(s->auth_user), "%s@%s",
		    pw->pw_name, s->srv->conf->hostname);
	else
		snprintf(s->auth_user, sizeof(s->auth_user), "uid%u@%s",
		    (unsigned)cred.uid, s->srv->conf->hostname);
}

void
smtp_session_start(struct smtp_server *srv, int fd, const struct sockaddr *sa,
    socklen_t salen, enum smtp_kind kind)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->kind = kind;
	s->id = id_new();
	s->refs = 1;
	s->conn = conn_new(srv->base, fd, sa, salen, smtp_in_max(srv->conf),
	    &smtp_conn_ops, s);
	s->conn->id = s->id;
	if ((s->next = srv->sessions) != NULL)
		s->next->prevp = &s->next;
	srv->sessions = s;
	s->prevp = &srv->sessions;
	srv->nsessions++;
	if (kind == SMTP_KIND_LOCAL)
		smtp_local_identify(s);
	log_event(s->id, "smtp", "connected", "addr=%s kind=%s%s%s",
	    s->conn->addr, kind == SMTP_KIND_MX ? "mx" : kind ==
	    SMTP_KIND_LOCAL ? "local" : "submission",
	    s->auth_user[0] != '\0' ? " user=" : "", s->auth_user);
	conn_set_timeout(s->conn, srv->conf->smtp_timeout);
	if (kind == SMTP_KIND_SUBMISSIONS) {
		if (srv->ssl_ctx == NULL) {
			conn_abort(s->conn, "no TLS for an implicit-TLS port");
			return;
		}
		/* RFC 8314: the handshake first, the greeting inside it */
		conn_starttls(s->conn, srv->ssl_ctx);
		return;
	}
	smtp_reply(s, "220 %s ESMTP facteur", srv->conf->hostname);
}

static void
smtp_session_free(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;

	smtp_tx_reset(s);
	smtp_auth_cleanup(s);
	if ((*s->prevp = s->next) != NULL)
		s->next->prevp = s->prevp;
	srv->nsessions--;
	free(s);
}

void
smtp_session_unref(struct smtp_session *s)
{
	if (--s->refs == 0)
		smtp_session_free(s);
}

static void
smtp_on_closed(struct conn *c, void *arg, const char *reason)
{
	struct smtp_session *s = arg;

	struct smtp_server *srv = s->srv;
	struct sockaddr_storage peer = c->peer;

	log_event(s->id, "smtp", "disconnected", "addr=%s mails=%u reason=<%s>",
	    c->addr, s->mails, reason);
	s->conn = NULL;
	s->conn_gone = true;
	smtp_session_unref(s);
	/* after the unref: the worker's "all done?" check counts sessions */
	if (srv->session_ended != NULL)
		srv->session_ended(srv->ended_ctx, &peer);
}

void
smtp_close(struct smtp_session *s, const char *reason)
{
	smtp_enter_state(s, SMTP_STATE_QUIT);
	if (s->conn != NULL)
		conn_close(s->conn, reason);
}

static void
smtp_on_timeout(struct conn *c, void *arg)
{
	struct smtp_session *s = arg;

	if (s->busy) {		/* our own work is slow, not the client */
		conn_set_timeout(c, s->srv->conf->smtp_timeout);
		return;
	}
	log_event(s->id, "smtp", "timeout", "addr=%s state=%s", c->addr,
	    smtp_state_names[s->state]);
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    s->srv->conf->hostname);
	smtp_close(s, "timeout");
}

static void
smtp_on_tls(struct conn *c, void *arg)
{
	struct smtp_session *s = arg;

	log_event(s->id, "smtp", "starttls", "%s", c->tls_info);
	if (s->kind == SMTP_KIND_SUBMISSIONS && s->state == SMTP_STATE_CONNECTED &&
	    s->helo[0] == '\0' && !s->esmtp) {
		conn_set_timeout(c, s->srv->conf->smtp_timeout);
		smtp_reply(s, "220 %s ESMTP facteur", s->srv->conf->hostname);
		return;
	}
	/* RFC 3207 §4.2: forget everything learnt before TLS */
	smtp_tx_reset(s);
	s->esmtp = false;
	s->helo[0] = '\0';
	smtp_enter_state(s, SMTP_STATE_CONNECTED);
	conn_set_timeout(c, s->srv->conf->smtp_timeout);
}

/* Count a bad command; too many and the client is shown the door. */
void
smtp_bad(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	smtp_reply(s, "%s", line);
	if (++s->bad_cmds < s->srv->conf->smtp_max_bad_commands)
		return;
	log_event(s->id, "smtp", "too-many-errors", "addr=%s",
	    s->conn->addr);
	smtp_reply(s, "421 4.7.0 %s Error: too many errors",
	    s->srv->conf->hostname);
	smtp_close(s, "too many errors");
}

/* Between transactions, a stopping server says goodbye. */
static bool
smtp_stop_check(struct smtp_session *s)
{
	if (!s->srv->stopping || s->state > SMTP_STATE_READY ||
	    s->state == SMTP_STATE_QUIT || s->busy)
		return false;
	smtp_reply(s, "421 4.3.2 %s Service shutting down, try again later",
	    s->srv->conf->hostname);
	smtp_close(s, "shutdown");
	return true;
}

static void
smtp_dispatch(struct smtp_session *s, struct str line)
{
	const struct smtp_cmd *cmd = NULL;
	enum smtp_verb verb;
	struct str args;

	verb = smtp_parse_verb(line, &args);
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
		if (smtp_cmds[i].verb == verb)
			cmd = &smtp_cmds[i];
	if (cmd == NULL) {
		smtp_bad(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if (!(cmd->states & (1u << s->state))) {
		if (cmd->wrong_state != NULL)
			smtp_bad(s, "%s", cmd->wrong_state);
		else if (s->state == SMTP_STATE_CONNECTED)
			smtp_bad(s, "503 5.5.1 Error: send HELO/EHLO first");
		else if (verb == SMTP_VERB_MAIL)
			smtp_bad(s, "503 5.5.1 Error: nested MAIL command");
		else
			smtp_bad(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	cmd->fn(s, args);
}

/* AUTH lines carry SASL payloads (RFC 4954 §4: up to 12288 octets). */
static size_t
smtp_line_max(const struct smtp_session *s)
{
	size_t max = s->srv->conf->smtp_max_line;

	if (s->kind != SMTP_KIND_MX && max < SMTP_AUTH_LINE_MAX)
		max = SMTP_AUTH_LINE_MAX;
	return max;
}

static bool
smtp_can_process(struct smtp_session *s)
{
	struct conn *c = s->conn;

	return c != NULL && !c->dead && !c->closing && !s->busy &&
	    s->state != SMTP_STATE_QUIT && c->tls != CONN_TLS_PENDING &&
	    c->tls != CONN_TLS_HANDSHAKE && c->in.len > 0;
}

/* Process whatever input is complete.  Called on new input and when
 * an asynchronous step ends. */
static void
smtp_process(struct smtp_session *s)
{
	struct conn *c;
	struct str line;
	size_t skipped;
	int n;

	while (smtp_can_process(s)) {
		c = s->conn;
		if (s->state == SMTP_STATE_DATA) {
			smtp_tx_data_input(s);
			continue;
		}
		if (s->state == SMTP_STATE_BDAT) {
			smtp_tx_bdat_input(s);
			continue;
		}
		if (s->skipping) {
			if (smtp_parse_skip_line(c->in.p, c->in.len,
			    &skipped) > 0)
				s->skipping = false;
			buf_consume(&c->in, skipped);
			continue;
		}
		n = smtp_parse_line(c->in.p, c->in.len, smtp_line_max(s),
		    &line);
		if (n == 0)
			break;
		if (n < 0) {
			s->skipping = true;
			smtp_bad(s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (s->sasl != NULL) {	/* a line of an AUTH exchange */
			smtp_auth_line(s, line);
			buf_consume(&c->in, (size_t)n);
			continue;
		}
		if (smtp_stop_check(s))
			break;
		smtp_dispatch(s, line);
		/* STARTTLS may have emptied the buffer: consuming past its
		 * end just leaves it empty */
		buf_consume(&c->in, (size_t)n);
	}
}

static void
smtp_on_readable(struct conn *c, void *arg)
{
	struct smtp_session *s = arg;

	s->refs++;
	smtp_process(s);
	smtp_session_unref(s);
}

/* An asynchronous step (lookup, commit) ended: carry on with input. */
void
smtp_session_resume(struct smtp_session *s)
{
	s->busy = false;
	if (s->conn == NULL)
		return;
	conn_resume(s->conn);
	if (!smtp_stop_check(s))
		smtp_process(s);
}

/* --- commands ---------------------------------------------------------- */

static void
smtp_do_helo_common(struct smtp_session *s, struct str args, bool esmtp)
{
	size_t n;

	if (args.len == 0 || !smtp_parse_helo_ok(args)) {
		smtp_bad(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return;
	}
	n = args.len < sizeof(s->helo) - 1 ? args.len : sizeof(s->helo) - 1;
	memcpy(s->helo, args.p, n);
	s->helo[n] = '\0';
	s->esmtp = esmtp;
	smtp_tx_reset(s);	/* RFC 5321 §4.1.4: EHLO resets the state */
	smtp_enter_state(s, SMTP_STATE_READY);
}

static void
smtp_do_helo(struct smtp_session *s, struct str args)
{
	smtp_do_helo_common(s, args, false);
	if (s->state == SMTP_STATE_READY)
		smtp_reply(s, "250 %s", s->srv->conf->hostname);
}

static void
smtp_do_ehlo(struct smtp_session *s, struct str args)
{
	const struct conf *conf = s->srv->conf;
	struct conn *c = s->conn;

	smtp_do_helo_common(s, args, true);
	if (s->state != SMTP_STATE_READY)
		return;
	smtp_reply(s, "250-%s Hello %s [%s]", conf->hostname, s->helo, c->addr);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %zu", conf->smtp_max_message_size);
	if (s->srv->ssl_ctx != NULL && c->tls == CONN_TLS_NONE &&
	    s->kind != SMTP_KIND_LOCAL)
		smtp_reply(s, "250-STARTTLS");
	smtp_auth_ehlo(s);
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-CHUNKING");
	smtp_reply(s, "250 DSN");
}

static void
smtp_do_starttls(struct smtp_session *s, struct str args)
{
	if (args.len != 0) {
		smtp_bad(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->conn->tls != CONN_TLS_NONE) {
		smtp_bad(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->srv->ssl_ctx == NULL) {
		smtp_bad(s, "454 4.7.0 TLS not available");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	conn_starttls(s->conn, s->srv->ssl_ctx);
}

static void
smtp_do_mail(struct smtp_session *s, struct str args)
{
	const struct conf *conf = s->srv->conf;
	struct smtp_parse_err err;
	struct smtp_tx *tx = &s->tx;

	if (s->mails >= conf->smtp_max_mails) {
		smtp_reply(s, "421 4.7.0 %s Error: too many messages in "
		    "one connection", conf->hostname);
		smtp_close(s, "too many messages");
		return;
	}
	if ((s->kind == SMTP_KIND_SUBMISSION || s->kind == SMTP_KIND_SUBMISSIONS) &&
	    s->auth_user[0] == '\0') {
		smtp_bad(s, "530 5.7.0 Error: authentication required");
		return;
	}
	smtp_tx_reset(s);
	if (smtp_parse_mail(args, &tx->mail, &err) == -1) {
		smtp_bad(s, "%d %s %s", err.code, err.ecode, err.text);
		return;
	}
	if (tx->mail.body == SMTP_BODY_BINARYMIME) {
		smtp_bad(s, "555 5.5.4 Error: BINARYMIME is not supported");
		return;
	}
	if (tx->mail.has_size && tx->mail.size > conf->smtp_max_message_size) {
		smtp_reply(s, "552 5.3.4 Error: message size exceeds fixed "
		    "limit");
		return;
	}
	tx->qid = queue_fs_qid_new(conf->data_dir);
	smtp_enter_state(s, SMTP_STATE_MAIL);
	if (s->kind == SMTP_KIND_SUBMISSION || s->kind == SMTP_KIND_SUBMISSIONS) {
		/* the sender must be one of the user's addresses */
		smtp_auth_check_sender(s);
		return;
	}
	smtp_reply(s, "250 2.1.0 Ok");
}

struct smtp_rcpt_lookup {
	struct smtp_session	*s;
	struct smtp_rcpt_args	 args;
};

/* Take the recipient: all of its mailboxes and remote targets, or none
 * (an alias must not be half-accepted). */
static void
smtp_rcpt_accept(struct smtp_session *s, const struct smtp_rcpt_args *args,
    const struct smtp_resolved *r)
{
	struct smtp_tx *tx = &s->tx;
	const char *addr = args->path.addr;
	size_t max = s->srv->conf->smtp_max_rcpts;

	if (smtp_tx_new_targets(s, r->maildir, r->nlocal) +
	    smtp_tx_new_remotes(s, r->remote, r->nremote) >
	    max - tx->ntargets - tx->nremotes) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	smtp_tx_add_rcpt(s, addr, args);
	for (size_t i = 0; i < r->nlocal; i++)
		smtp_tx_add_target(s, r->maildir[i], r->user[i]);
	for (size_t i = 0; i < r->nremote; i++)
		smtp_tx_add_remote(s, r->remote[i]);
	smtp_enter_state(s, SMTP_STATE_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}

static void
smtp_rcpt_relay(struct smtp_session *s, const struct smtp_rcpt_args *args)
{
	const char *addr = args->path.addr;
	struct smtp_resolved r = { .result = ACCOUNT_FOUND, .nremote = 1,
	    .remote = &addr };

	if (s->auth_user[0] == '\0' && !cidr_match_any(s->srv->relay_nets,
	    s->srv->nrelay_nets, &s->conn->peer)) {
		log_event(s->tx.qid, "smtp", "rcpt-rejected",
		    "to=<%s> reason=<relay denied>", addr);
		smtp_bad(s, "554 5.7.1 <%s>: Relay access denied", addr);
		return;
	}
	smtp_rcpt_accept(s, args, &r);
}

static void
smtp_rcpt_done(void *arg, const struct smtp_resolved *r)
{
	struct smtp_rcpt_lookup *l = arg;
	struct smtp_session *s = l->s;
	const char *addr = l->args.path.addr;

	if (s->conn_gone || (s->state != SMTP_STATE_MAIL &&
	    s->state != SMTP_STATE_RCPT))
		goto done;
	switch (r->result) {
	case ACCOUNT_FOUND:
		smtp_rcpt_accept(s, &l->args, r);
		break;
	case ACCOUNT_NO_USER:
		log_event(s->tx.qid, "smtp", "rcpt-rejected",
		    "to=<%s> reason=<unknown user>", addr);
		smtp_bad(s, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown", addr);
		break;
	case ACCOUNT_NOT_LOCAL:
		smtp_rcpt_relay(s, &l->args);
		break;
	default:
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		break;
	}
done:
	free(l);
	smtp_session_resume(s);
	smtp_session_unref(s);
}

static void
smtp_do_rcpt(struct smtp_session *s, struct str args)
{
	struct smtp_parse_err err;
	struct smtp_rcpt_lookup *l = xcalloc(1, sizeof(*l));

	if (smtp_parse_rcpt(args, s->tx.mail.smtputf8, &l->args, &err) == -1) {
		free(l);
		smtp_bad(s, "%d %s %s", err.code, err.ecode, err.text);
		return;
	}
	if (s->tx.nrcpts >= s->srv->conf->smtp_max_rcpts) {
		free(l);
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	l->s = s;
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	s->srv->resolve(s->srv->resolve_ctx, l->args.path.addr,
	    smtp_rcpt_done, l);
}

static void
smtp_do_data(struct smtp_session *s, struct str args)
{
	if (args.len != 0) {
		smtp_bad(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->tx.bdat) {
		smtp_bad(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (smtp_tx_begin(s) == -1) {
		smtp_reply(s, "451 4.3.0 Error: cannot store the message now");
		return;
	}
	smtp_enter_state(s, SMTP_STATE_DATA);
	s->data_started = time(NULL);
	conn_set_timeout(s->conn, s->srv->conf->smtp_timeout);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
smtp_do_bdat(struct smtp_session *s, struct str args)
{
	smtp_tx_bdat(s, args);
}

static void
smtp_do_rset(struct smtp_session *s, struct str args)
{
	smtp_tx_reset(s);
	if (s->state != SMTP_STATE_CONNECTED)
		smtp_enter_state(s, SMTP_STATE_READY);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
smtp_do_noop(struct smtp_session *s, struct str args)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
smtp_do_quit(struct smtp_session *s, struct str args)
{
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_close(s, "quit");
}

static void
smtp_do_help(struct smtp_session *s, struct str args)
{
	smtp_reply(s, "214-2.0.0 Commands: HELO EHLO STARTTLS MAIL RCPT DATA "
	    "BDAT RSET NOOP QUIT HELP VRFY");
	smtp_reply(s, "214 2.0.0 facteur: see RFC 5321");
}

static void
smtp_do_vrfy(struct smtp_session *s, struct str args)
{
	if (args.len == 0) {
		smtp_bad(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

static void
smtp_do_expn(struct smtp_session *s, struct str args)
{
	smtp_reply(s, "502 5.5.1 Error: EXPN not implemented");
}

static void
smtp_do_auth(struct smtp_session *s, struct str args)
{
	smtp_auth_command(s, args);
}

/* --- shutdown ---------------------------------------------------------- */

void
smtp_server_stop(struct smtp_server *srv)
{
	struct smtp_session *s, *next;

	srv->stopping = true;
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->conn != NULL)
			smtp_stop_check(s);
	}
}

void
smtp_server_kill(struct smtp_server *srv)
{
	struct smtp_session *s;

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->conn == NULL || s->state == SMTP_STATE_QUIT || s->busy)
			continue;
		log_event(s->id, "smtp", "shutdown-abort", "state=%s",
		    smtp_state_names[s->state]);
		smtp_reply(s, "421 4.3.2 %s Service shutting down",
		    srv->conf->hostname);
		smtp_close(s, "shutdown");
	}
}

bool
smtp_server_idle(struct smtp_server *srv)
{
	return srv->nsessions == 0;
}
