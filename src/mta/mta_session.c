/* mta_session.c: one SMTP client connection (RFC 5321) and the
 * messages it carries.
 *
 *   RESOLVE -> CONNECT -> [TLS_IMPLICIT] -> GREETING -> EHLO [-> HELO]
 *   [-> STARTTLS -> TLS -> EHLO] [-> AUTH...] -> MAIL -> RCPT -> DATA
 *   -> BODY -> DOT -> (next message: RSET -> MAIL ...) | IDLE -> QUIT
 *
 * The session is created for one job and tries the destination's
 * addresses in order (MX preference, then each host's addresses): on a
 * connection failure, a 4xx/5xx greeting, a failed EHLO/HELO, a 4xx to
 * MAIL, or when TLS is required but missing, it moves to the next
 * address (RFC 5321 §5.1); once MAIL was accepted the outcome is the
 * message's.  When no address is left, the job gets the last failure,
 * and so do the jobs waiting for the same destination when the failure
 * was the destination's (mta_session_dest_down).
 *
 * The session is freed only where nothing touches it afterwards: in
 * the conn's closed() callback, or from its own timer/DNS callbacks
 * when it has no conn. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "config/conf.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/log.h"
#include "core/mem.h"
#include "mta/mta_int.h"
#include "mta/mta_qp.h"
#include "net/conn.h"
#include "tls/tls.h"

static const char *const mta_state_names[] = {
	"start", "resolve", "connect", "tls-implicit", "greeting", "ehlo",
	"helo", "starttls", "tls", "auth", "auth-user", "auth-pass", "rset",
	"mail", "rcpt", "data", "body", "dot", "idle", "quit",
};

static void	mta_session_ready(struct mta_session *);
static void	mta_on_readable(struct conn *, void *);
static void	mta_on_tls(struct conn *, void *);
static void	mta_on_timeout(struct conn *, void *);
static void	mta_on_closed(struct conn *, void *, const char *);

static const struct conn_ops mta_conn_ops = {
	mta_on_readable, mta_on_tls, mta_on_timeout, mta_on_closed,
};

static uint64_t
mta_session_qid(const struct mta_session *s)
{
	return s->job != NULL ? s->job->req->qid : 0;
}

void
mta_session_enter(struct mta_session *s, enum mta_state st)
{
	log_debug(s->id, "mta", "state", "from=%s to=%s",
	    mta_state_names[s->state], mta_state_names[st]);
	s->state = st;
}

static void
mta_session_free(struct mta_session *s)
{
	struct mta_dest *d = s->dest;
	struct mta_session **pp;

	for (pp = &d->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	d->nsessions--;
	if (s->dq != NULL)
		dns_cancel(s->dq);
	if (s->ev_step != NULL)
		event_free(s->ev_step);
	if (s->fd != -1)
		close(s->fd);
	mta_qp_free(&s->qp);
	free(s->chunk);
	buf_free(&s->qpout);
	buf_free(&s->stage);
	mta_dest_session_gone(d, s);
	free(s);
}

bool
mta_session_dest_down(const struct mta_session *s, enum mta_result *res_r,
    const char **status_r, const char **text_r, const char **relay_r)
{
	if (!s->dest_down)
		return false;
	*res_r = s->fres;
	*status_r = s->fstatus;
	*text_r = s->ftext;
	*relay_r = s->frelay;
	return true;
}

/* Remember why this attempt failed (the job's result if it is the last). */
void
mta_session_failure(struct mta_session *s, enum mta_result res,
    const char *status, bool job_only, const char *fmt, ...)
{
	va_list ap;

	s->fres = res;
	s->fjob_only = job_only;
	snprintf(s->fstatus, sizeof(s->fstatus), "%s", status);
	va_start(ap, fmt);
	vsnprintf(s->ftext, sizeof(s->ftext), fmt, ap);
	va_end(ap);
	snprintf(s->frelay, sizeof(s->frelay), "%s", s->relay);
}

/* The enhanced status of a reply, or one made from its class. */
void
mta_session_status(const struct mta_reply *r, char *buf, size_t size)
{
	if (r->status[0] != '\0')
		snprintf(buf, size, "%s", r->status);
	else
		snprintf(buf, size, "%d.0.0", r->code / 100);
}

enum mta_result
mta_session_result(const struct mta_reply *r)
{
	return r->code < 400 ? MTA_OK : r->code < 500 ? MTA_TEMP : MTA_PERM;
}

/*
 * Ending.
 */

/* Close the conn (QUIT first when the peer listens for commands) and
 * go on in closed(); without a conn, go on at once. */
void
mta_session_drop(struct mta_session *s, const char *reason)
{
	if (s->conn == NULL) {
		if (s->next_host) {
			s->next_host = false;
			mta_session_try(s);
		} else
			mta_session_free(s);
		return;
	}
	if (s->state != MTA_ST_CONNECT && s->state != MTA_ST_TLS &&
	    s->state != MTA_ST_TLS_IMPLICIT && s->state != MTA_ST_BODY &&
	    s->state != MTA_ST_GREETING)
		conn_printf(s->conn, "QUIT\r\n");
	if (!s->next_host)
		mta_session_enter(s, MTA_ST_QUIT);
	conn_close(s->conn, reason);
}

/* This address failed: try the next one (advance) or this one again. */
void
mta_session_host_failed(struct mta_session *s, bool advance)
{
	log_event(mta_session_qid(s), "mta", "host-failed", "session=%016llx "
	    "relay=%s dsn=%s reason=<%s>", (unsigned long long)s->id,
	    s->relay, s->fstatus, s->ftext);
	if (advance) {
		s->cur++;
		s->no_tls = false;
	} else
		s->no_tls = true;
	s->next_host = true;
	mta_session_drop(s, s->ftext);
}

/* No address left, or the destination failed as a whole. */
void
mta_session_give_up(struct mta_session *s)
{
	struct mta_job *job = s->job;

	s->job = NULL;
	s->dest_down = !s->fjob_only;
	if (job != NULL)
		mta_job_fail(job, s->fres, s->fstatus, s->ftext, s->frelay);
	mta_session_free(s);
}

/* The job ends with the results in its recipients: report it. */
void
mta_session_job_done(struct mta_session *s)
{
	struct mta_job *job = s->job;

	s->job = NULL;
	s->nmsgs++;
	mta_job_finish(job);
}

static void
mta_on_start(evutil_socket_t fd, short what, void *arg)
{
	mta_route_resolve(arg);
}

/*
 * Connecting.
 */

static unsigned
mta_session_port(const struct mta_session *s)
{
	return s->dest->smarthost ? s->mta->sh_port : MTA_PORT_SMTP;
}

static void
mta_session_connected(struct mta_session *s)
{
	const struct mta_addr *a = &s->addrs[s->cur];
	struct sockaddr_storage ss;
	socklen_t len = dns_ip_sockaddr(&a->ip,
	    (uint16_t)mta_session_port(s), &ss);
	int fd = s->fd;

	s->fd = -1;
	s->conn = conn_new(s->mta->base, fd, (struct sockaddr *)&ss, len,
	    MTA_IN_MAX, &mta_conn_ops, s);
	s->conn->id = s->id;
	log_event(mta_session_qid(s), "mta", "connected", "session=%016llx "
	    "relay=%s", (unsigned long long)s->id, s->relay);
	mta_reply_init(&s->reply);
	if (s->dest->tls == MTA_TLS_IMPLICIT) {
		mta_session_enter(s, MTA_ST_TLS_IMPLICIT);
		conn_starttls_client(s->conn, s->mta->tls_ctx, a->name);
		return;
	}
	mta_session_enter(s, MTA_ST_GREETING);
	conn_set_timeout(s->conn, s->mta->conf->mta_timeout_greeting);
}

static void
mta_on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		mta_session_connected(s);
		return;
	}
	close(s->fd);
	s->fd = -1;
	mta_session_failure(s, MTA_TEMP, "4.4.1", false, "connect to %s: %s",
	    s->relay, strerror(err));
	mta_session_host_failed(s, true);
}

/* Start connecting to addrs[cur]: 0, or -1 with the failure noted. */
static int
mta_session_connect(struct mta_session *s)
{
	const struct mta_addr *a = &s->addrs[s->cur];
	struct sockaddr_storage ss;
	struct timeval tv = { s->mta->conf->mta_timeout_connect, 0 };
	char ip[INET6_ADDRSTRLEN];
	socklen_t len;

	dns_ip_ntop(&a->ip, ip, sizeof(ip));
	snprintf(s->relay, sizeof(s->relay), "%.240s[%s]", a->name, ip);
	if (s->dest->smarthost && s->mta->sh_port != MTA_PORT_SMTP)
		snprintf(s->relay, sizeof(s->relay), "%.240s[%s]:%u", a->name, ip,
		    s->mta->sh_port);
	if (mta_dest_tls_required(s->dest) && s->mta->tls_ctx == NULL) {
		mta_session_failure(s, MTA_TEMP, "4.7.5", false,
		    "TLS is required but unavailable here");
		return -1;
	}
	len = dns_ip_sockaddr(&a->ip, (uint16_t)mta_session_port(s), &ss);
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd == -1 || (connect(s->fd, (struct sockaddr *)&ss, len) == -1
	    && errno != EINPROGRESS)) {
		mta_session_failure(s, MTA_TEMP, "4.4.1", false,
		    "connect to %s: %s", s->relay, strerror(errno));
		if (s->fd != -1)
			close(s->fd);
		s->fd = -1;
		return -1;
	}
	event_free(s->ev_step);
	s->ev_step = event_new(s->mta->base, s->fd, EV_WRITE, mta_on_connect,
	    s);
	if (s->ev_step == NULL)
		fatalx("event_new: out of memory");
	event_add(s->ev_step, &tv);
	return 0;
}

/* Try addrs[cur], or the next ones; give up when none is left. */
void
mta_session_try(struct mta_session *s)
{
	s->tls = s->tls_verified = s->authed = false;
	memset(&s->ext, 0, sizeof(s->ext));
	mta_session_enter(s, MTA_ST_CONNECT);
	while (s->cur < s->naddrs) {
		if (mta_session_connect(s) == 0)
			return;
		log_event(mta_session_qid(s), "mta", "host-failed",
		    "session=%016llx relay=%s dsn=%s reason=<%s>",
		    (unsigned long long)s->id, s->relay, s->fstatus, s->ftext);
		s->cur++;
		s->no_tls = false;
	}
	mta_session_give_up(s);
}

struct mta_session *
mta_session_new(struct mta_dest *dest, struct mta_job *job)
{
	struct mta_session *s = xcalloc(1, sizeof(*s));

	s->mta = dest->mta;
	s->dest = dest;
	s->id = id_new();
	s->fd = -1;
	s->job = job;
	job->sid = s->id;
	s->next = dest->sessions;
	dest->sessions = s;
	dest->nsessions++;
	buf_init(&s->qpout, MTA_STAGE_MAX);
	buf_init(&s->stage, MTA_STAGE_MAX);
	mta_session_failure(s, MTA_TEMP, "4.4.1", false, "no answer");
	/* begin from the loop: nothing reports inside mta_deliver() */
	s->ev_step = event_new(s->mta->base, -1, 0, mta_on_start, s);
	if (s->ev_step == NULL)
		fatalx("event_new: out of memory");
	event_active(s->ev_step, 0, 0);
	return s;
}

/*
 * Commands.
 */

void
mta_session_cmd(struct mta_session *s, enum mta_state st, unsigned timeout,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&s->stage, fmt, ap);
	va_end(ap);
	if (r == 0)
		conn_write(s->conn, s->stage.p, s->stage.len);
	buf_reset(&s->stage);
	mta_session_enter(s, st);
	conn_set_timeout(s->conn, timeout);
}

static void
mta_session_ehlo(struct mta_session *s)
{
	mta_session_cmd(s, MTA_ST_EHLO, s->mta->conf->mta_timeout_greeting,
	    "EHLO %s\r\n", s->mta->conf->hostname);
	s->reply.ehlo = true;
}

/* base64 of p[0..n) into out (4 * ((n + 2) / 3) + 1 bytes). */
static void
mta_session_b64(const char *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p,
	    (int)n);
}

static void
mta_session_auth(struct mta_session *s)
{
	struct mta *mta = s->mta;
	size_t ul = strlen(mta->sh_user), pl = strlen(mta->sh_pass);
	size_t n = ul + pl + 2;
	char *plain = xmalloc(n), *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	unsigned t = mta->conf->mta_timeout_greeting;

	if (s->ext.auth & MTA_AUTH_PLAIN) {
		plain[0] = '\0';
		memcpy(plain + 1, mta->sh_user, ul);
		plain[1 + ul] = '\0';
		memcpy(plain + 2 + ul, mta->sh_pass, pl);
		mta_session_b64(plain, n, b64);
		mta_session_cmd(s, MTA_ST_AUTH, t, "AUTH PLAIN %s\r\n", b64);
	} else
		mta_session_cmd(s, MTA_ST_AUTH, t, "AUTH LOGIN\r\n");
	explicit_bzero(plain, n);
	explicit_bzero(b64, 4 * ((n + 2) / 3) + 1);
	free(plain);
	free(b64);
}

/* LOGIN: answer a 334 with the user name or the password. */
static void
mta_session_auth_login(struct mta_session *s, const char *secret,
    enum mta_state next)
{
	size_t n = strlen(secret);
	char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);

	mta_session_b64(secret, n, b64);
	mta_session_cmd(s, next, s->mta->conf->mta_timeout_greeting, "%s\r\n",
	    b64);
	explicit_bzero(b64, 4 * ((n + 2) / 3) + 1);
	free(b64);
}

void
mta_session_next_job(struct mta_session *s)
{
	struct mta_job *job;

	if (s->conn == NULL || s->conn->dead || s->conn->closing) {
		mta_session_drop(s, "done");
		return;
	}
	if (s->nmsgs >= MTA_SESSION_MESSAGES_MAX ||
	    (job = mta_dest_take(s->dest)) == NULL) {
		if (s->nmsgs >= MTA_SESSION_MESSAGES_MAX ||
		    s->mta->stopping) {
			mta_session_drop(s, "done");
			return;
		}
		mta_session_enter(s, MTA_ST_IDLE);
		conn_set_timeout(s->conn, MTA_IDLE_KEEP);
		return;
	}
	mta_session_reuse(s, job);
}

struct mta_session *
mta_session_idle(struct mta_dest *dest)
{
	for (struct mta_session *s = dest->sessions; s != NULL; s = s->next)
		if (s->state == MTA_ST_IDLE && s->conn != NULL &&
		    !s->conn->dead && !s->conn->closing)
			return s;
	return NULL;
}

/* RSET first: it also checks that the peer is still there.  With
 * PIPELINING it goes in one write with MAIL and the RCPTs (RFC 2920
 * §3.1: RSET may stand anywhere in a group), a round trip less per
 * message; the job is still handed back untouched if RSET fails. */
void
mta_session_reuse(struct mta_session *s, struct mta_job *job)
{
	s->job = job;
	job->sid = s->id;
	if (s->ext.flags & MTA_EXT_PIPELINING) {
		s->rset_first = true;
		mta_tx_start(s);
		return;
	}
	mta_session_cmd(s, MTA_ST_RSET, s->mta->conf->mta_timeout_mail,
	    "RSET\r\n");
}

/* After EHLO or HELO: STARTTLS, AUTH, then the job. */
static void
mta_session_after_ehlo(struct mta_session *s)
{
	struct mta *mta = s->mta;
	const struct conf *conf = mta->conf;
	bool required = mta_dest_tls_required(s->dest);

	if (!s->tls && !s->no_tls && s->dest->tls != MTA_TLS_NONE &&
	    mta->tls_ctx != NULL && (s->ext.flags & MTA_EXT_STARTTLS)) {
		mta_session_cmd(s, MTA_ST_STARTTLS, conf->mta_timeout_greeting,
		    "STARTTLS\r\n");
		return;
	}
	if (!s->tls && required) {
		mta_session_failure(s, MTA_TEMP, "4.7.4", false, "TLS is "
		    "required, but %s does not offer STARTTLS", s->relay);
		mta_session_host_failed(s, true);
		return;
	}
	if (s->dest->smarthost && mta->sh_user != NULL && s->tls &&
	    !s->authed && (s->ext.flags & MTA_EXT_AUTH)) {
		if (!(s->ext.auth & (MTA_AUTH_PLAIN | MTA_AUTH_LOGIN))) {
			mta_session_failure(s, MTA_TEMP, "4.7.0", false,
			    "%s offers neither AUTH PLAIN nor LOGIN", s->relay);
			mta_session_host_failed(s, true);
			return;
		}
		mta_session_auth(s);
		return;
	}
	mta_session_ready(s);
}

static void
mta_session_ready(struct mta_session *s)
{
	if (s->job == NULL) {
		mta_session_next_job(s);
		return;
	}
	mta_tx_start(s);
}

/*
 * Replies.
 */

static void
mta_session_greeting(struct mta_session *s, const struct mta_reply *r)
{
	char line[MTA_REPLY_TEXT_MAX + 32], st[MTA_STATUS_MAX];

	if (r->code / 100 == 2) {
		mta_session_ehlo(s);
		return;
	}
	/* a 5xx greeting says "no service here", often for a while (a
	 * blocklist, an overload): the next host, and never a bounce
	 * (Postfix smtp_skip_5xx_greeting) */
	mta_reply_line(r, line, sizeof(line));
	mta_session_status(r, st, sizeof(st));
	st[0] = '4';
	mta_session_failure(s, MTA_TEMP, st, false, "%s refused to talk to "
	    "me: %s", s->relay, line);
	mta_session_host_failed(s, true);
}

static void
mta_session_on_ehlo(struct mta_session *s, const struct mta_reply *r)
{
	char line[MTA_REPLY_TEXT_MAX + 32], st[MTA_STATUS_MAX];

	if (r->code / 100 == 2) {
		s->ext = r->ext;
		mta_session_after_ehlo(s);
		return;
	}
	if (r->code / 100 == 5 && s->state == MTA_ST_EHLO && !s->tls) {
		mta_session_cmd(s, MTA_ST_HELO, s->mta->conf->mta_timeout_greeting,
		    "HELO %s\r\n", s->mta->conf->hostname);
		return;
	}
	mta_reply_line(r, line, sizeof(line));
	mta_session_status(r, st, sizeof(st));
	mta_session_failure(s, mta_session_result(r), st, false, "%s refused "
	    "%s: %s", s->relay, s->state == MTA_ST_HELO ? "HELO" : "EHLO",
	    line);
	mta_session_host_failed(s, true);
}

static void
mta_session_on_starttls(struct mta_session *s, const struct mta_reply *r)
{
	char line[MTA_REPLY_TEXT_MAX + 32];

	if (r->code == 220) {
		mta_session_enter(s, MTA_ST_TLS);
		conn_starttls_client(s->conn, s->mta->tls_ctx,
		    s->addrs[s->cur].name);
		return;
	}
	if (!mta_dest_tls_required(s->dest)) {
		s->no_tls = true;	/* go on in clear */
		mta_session_after_ehlo(s);
		return;
	}
	mta_reply_line(r, line, sizeof(line));
	mta_session_failure(s, MTA_TEMP, "4.7.4", false, "TLS is required, but "
	    "%s refused STARTTLS: %s", s->relay, line);
	mta_session_host_failed(s, true);
}

static void
mta_session_on_auth(struct mta_session *s, const struct mta_reply *r)
{
	char line[MTA_REPLY_TEXT_MAX + 32], st[MTA_STATUS_MAX];

	if (r->code == 235) {
		s->authed = true;
		log_event(mta_session_qid(s), "mta", "authenticated",
		    "session=%016llx relay=%s user=%s", (unsigned long long)s->id,
		    s->relay, s->mta->sh_user);
		mta_session_ready(s);
		return;
	}
	if (r->code == 334 && s->state == MTA_ST_AUTH &&
	    !(s->ext.auth & MTA_AUTH_PLAIN)) {
		mta_session_auth_login(s, s->mta->sh_user, MTA_ST_AUTH_USER);
		return;
	}
	if (r->code == 334 && s->state == MTA_ST_AUTH_USER) {
		mta_session_auth_login(s, s->mta->sh_pass, MTA_ST_AUTH_PASS);
		return;
	}
	/* our credentials or the relay's trouble: never a bounce */
	mta_reply_line(r, line, sizeof(line));
	mta_session_status(r, st, sizeof(st));
	st[0] = '4';
	if (r->code == 334)
		conn_write(s->conn, "*\r\n", 3);	/* cancel the exchange */
	mta_session_failure(s, MTA_TEMP, st, false, "authentication to %s "
	    "failed: %s", s->relay, line);
	mta_session_host_failed(s, true);
}

static void
mta_session_on_rset(struct mta_session *s, const struct mta_reply *r)
{
	struct mta_job *job = s->job;

	if (r->code / 100 == 2) {
		if (s->rset_pipelined) {	/* MAIL's reply comes next */
			s->rset_pipelined = false;
			mta_session_enter(s, MTA_ST_MAIL);
			return;
		}
		mta_tx_start(s);
		return;
	}
	/* the connection is no good for more: the job waits for another
	 * (a MAIL sent with the RSET goes with the connection) */
	s->rset_pipelined = false;
	s->job = NULL;
	mta_dest_requeue(s->dest, job);
	mta_session_drop(s, "RSET refused");
}

static void
mta_session_on_reply(struct mta_session *s, const struct mta_reply *r)
{
	switch (s->state) {
	case MTA_ST_GREETING:
		mta_session_greeting(s, r);
		break;
	case MTA_ST_EHLO:
	case MTA_ST_HELO:
		mta_session_on_ehlo(s, r);
		break;
	case MTA_ST_STARTTLS:
		mta_session_on_starttls(s, r);
		break;
	case MTA_ST_AUTH:
	case MTA_ST_AUTH_USER:
	case MTA_ST_AUTH_PASS:
		mta_session_on_auth(s, r);
		break;
	case MTA_ST_RSET:
		mta_session_on_rset(s, r);
		break;
	case MTA_ST_MAIL:
		mta_tx_on_mail(s, r);
		break;
	case MTA_ST_RCPT:
		mta_tx_on_rcpt(s, r);
		break;
	case MTA_ST_DATA:
	case MTA_ST_DOT:
		mta_tx_on_final(s, r);
		break;
	case MTA_ST_IDLE:	/* "421 idle too long" and the like */
		mta_session_drop(s, "the peer spoke while idle");
		break;
	default:		/* BODY, QUIT: not waiting for one */
		break;
	}
}

static bool
mta_session_listening(const struct mta_session *s, const struct conn *c)
{
	return s->conn == c && !c->dead && !c->closing &&
	    s->state != MTA_ST_QUIT && s->state != MTA_ST_TLS &&
	    s->state != MTA_ST_TLS_IMPLICIT;
}

static void
mta_on_readable(struct conn *c, void *arg)
{
	struct mta_session *s = arg;
	struct mta_reply r;
	int n;

	while (mta_session_listening(s, c) && c->in.len > 0) {
		n = mta_reply_parse(&s->reply, c->in.p, c->in.len);
		if (n == 0) {
			buf_consume(&c->in, s->reply.off);
			s->reply.off = 0;
			return;
		}
		if (n < 0) {
			snprintf(s->why_status, sizeof(s->why_status), "4.5.0");
			snprintf(s->why, sizeof(s->why), "malformed reply from "
			    "%s", s->relay);
			conn_abort(c, s->why);
			return;
		}
		buf_consume(&c->in, (size_t)n);
		r = s->reply;
		mta_reply_init(&s->reply);
		mta_session_on_reply(s, &r);
	}
	if (s->conn == c && (s->state == MTA_ST_QUIT || s->state ==
	    MTA_ST_BODY))
		buf_reset(&c->in);
}

static void
mta_on_tls(struct conn *c, void *arg)
{
	struct mta_session *s = arg;
	bool implicit = s->state == MTA_ST_TLS_IMPLICIT;

	s->tls = true;
	s->tls_verified = tls_verified(c->ssl);
	log_event(mta_session_qid(s), "mta", "tls", "session=%016llx relay=%s "
	    "%s verified=%s", (unsigned long long)s->id, s->relay, c->tls_info,
	    s->tls_verified ? "yes" : "no");
	mta_reply_init(&s->reply);
	if (implicit) {
		mta_session_enter(s, MTA_ST_GREETING);
		conn_set_timeout(c, s->mta->conf->mta_timeout_greeting);
		return;
	}
	mta_session_ehlo(s);
}

static void
mta_on_timeout(struct conn *c, void *arg)
{
	struct mta_session *s = arg;

	if (s->state == MTA_ST_IDLE) {
		mta_session_drop(s, "idle");
		return;
	}
	snprintf(s->why_status, sizeof(s->why_status), "4.4.2");
	snprintf(s->why, sizeof(s->why), "timeout with %s in state %s",
	    s->relay, mta_state_names[s->state]);
	conn_abort(c, s->why);
}

/* The conn broke (or timed out) while the session was waiting. */
static void
mta_session_broken(struct mta_session *s, const char *reason)
{
	struct mta_job *job = s->job;
	char text[MTA_REPLY_TEXT_MAX], why_st[MTA_STATUS_MAX];
	const char *st = "4.4.2";

	if (s->why[0] != '\0')
		snprintf(text, sizeof(text), "%s", s->why);
	else
		snprintf(text, sizeof(text), "lost connection with %s in "
		    "state %s: %s", s->relay, mta_state_names[s->state], reason);
	if (s->why_status[0] != '\0') {
		memcpy(why_st, s->why_status, sizeof(why_st));
		st = why_st;
	}
	s->why[0] = s->why_status[0] = '\0';
	switch (s->state) {
	case MTA_ST_RSET:
		/* a reused connection that died while idle: another one */
		s->job = NULL;
		mta_dest_requeue(s->dest, job);
		mta_session_free(s);
		return;
	case MTA_ST_RCPT:
	case MTA_ST_DATA:
	case MTA_ST_BODY:
	case MTA_ST_DOT:
		mta_tx_fail_rest(s, MTA_TEMP, st, text);
		mta_session_job_done(s);
		mta_session_free(s);
		return;
	case MTA_ST_IDLE:
	case MTA_ST_QUIT:
		mta_session_free(s);
		return;
	default:		/* before MAIL was accepted: another address */
		break;
	}
	if (strcmp(st, "4.5.0") != 0 && (s->state == MTA_ST_TLS ||
	    s->state == MTA_ST_TLS_IMPLICIT)) {
		st = "4.7.5";
		snprintf(text, sizeof(text), "TLS handshake with %s failed: "
		    "%s", s->relay, reason);
	}
	mta_session_failure(s, MTA_TEMP, st, false, "%s", text);
	log_event(mta_session_qid(s), "mta", "host-failed", "session=%016llx "
	    "relay=%s dsn=%s reason=<%s>", (unsigned long long)s->id,
	    s->relay, s->fstatus, s->ftext);
	/* opportunistic TLS that failed: the same address in clear */
	if (s->state == MTA_ST_TLS && !mta_dest_tls_required(s->dest))
		s->no_tls = true;
	else {
		s->cur++;
		s->no_tls = false;
	}
	mta_session_try(s);
}

static void
mta_on_closed(struct conn *c, void *arg, const char *reason)
{
	struct mta_session *s = arg;

	s->conn = NULL;
	mta_qp_free(&s->qp);
	if (s->next_host) {
		s->next_host = false;
		mta_session_try(s);
		return;
	}
	mta_session_broken(s, reason);
}

void
mta_session_abort(struct mta_session *s)
{
	struct mta_job *job = s->job;

	if (job != NULL) {
		s->job = NULL;
		for (size_t i = 0; i < job->req->nrcpts; i++) {
			struct mta_rcpt *r = &job->req->rcpts[i];

			r->result = MTA_TEMP;
			snprintf(r->status, sizeof(r->status), "4.3.2");
			snprintf(r->text, sizeof(r->text),
			    "delivery stopped: shutting down");
		}
		free(job);
	}
	if (s->conn != NULL) {
		struct conn *c = s->conn;

		s->conn = NULL;
		conn_destroy(&c);
	}
	mta_session_free(s);
}
