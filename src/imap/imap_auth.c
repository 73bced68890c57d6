/* imap_auth.c: LOGIN and AUTHENTICATE (PLAIN with SASL-IR, SCRAM-SHA-256;
 * RFC 9051 §6.2, RFC 4959, RFC 7677), the password check in the auth
 * process, the random delay after a failure, and opening the user's
 * store in the pool.
 *
 * Passwords are accepted only over TLS, or in clear from loopback when
 * auth_plaintext_loopback is set (LOGINDISABLED otherwise).  The
 * mechanisms are auth/sasl.c's state machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/conf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "imap/imap_session.h"
#include "store/maildir.h"

#define IMAP_FAIL_DELAY_USEC	1000000		/* up to 1 s, as POP3 */

/* What the store-opening job needs (cmd_state). */
struct imap_open_state {
	const char	*method;
	char		 root[MAILDIR_PATH_MAX];
};

static void	imap_auth_result(struct imap_session *, enum sasl_res);

static bool
imap_auth_alive(const struct imap_session *s)
{
	return s->conn != NULL && !s->conn->dead && !s->conn->closing &&
	    s->state == IMAP_STATE_NOTAUTH;
}

/* --- failures ------------------------------------------------------------ */

static void
imap_on_fail_delay(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;

	s->user[0] = '\0';
	if (imap_auth_alive(s)) {
		imap_tagged(s, NULL, "NO", "[AUTHENTICATIONFAILED] "
		    "Authentication failed");
		if (s->auth_failures >= IMAP_AUTH_FAILURES_MAX) {
			log_event(s->id, "imap", "too-many-auth-failures",
			    "addr=%s", s->conn->addr);
			imap_untagged(s, NULL, "BYE Too many authentication "
			    "failures");
			imap_close(s, "too many authentication failures");
		}
	}
	imap_session_resume(s);
	imap_session_unref(s);
}

/* Answer a failed login after a random 0-1 s (a timer, never a sleep):
 * guessing gets slow, and timing tells nothing. */
static void
imap_auth_fail(struct imap_session *s, const char *login, const char *method,
    const char *reason)
{
	struct timeval tv;
	uint32_t usec = arc4random_uniform(IMAP_FAIL_DELAY_USEC + 1);

	log_event(s->id, "imap", "login-failed", "addr=%s login=<%s> "
	    "method=%s reason=<%s>", s->conn->addr, login, method, reason);
	sasl_free(&s->sasl);
	s->auth_failures++;
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	if (s->ev_delay == NULL &&
	    (s->ev_delay = evtimer_new(s->srv->base, imap_on_fail_delay,
	    s)) == NULL)
		fatalx("evtimer_new: out of memory");
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	evtimer_add(s->ev_delay, &tv);
}

/* --- the store ------------------------------------------------------------- */

static enum imap_job_res
imap_open_job(struct imap_session *s, struct buf *out)
{
	struct imap_open_state *o = s->cmd_state;
	const char *err = NULL;

	if (mstore_open(o->root, &s->store, &err) != 0) {
		log_event(s->id, "imap", "store-error", "user=%s reason=<%s>",
		    s->user, err != NULL ? err : "?");
		s->store = NULL;
		s->user[0] = '\0';
		imap_tagged(s, out, "NO", "[UNAVAILABLE] Cannot open the "
		    "mailbox, try again later");
		return IMAP_JOB_DONE;
	}
	imap_enter_state(s, IMAP_STATE_AUTH);
	log_event(s->id, "imap", "login", "user=%s method=%s", s->user,
	    o->method);
	(void)buf_printf(out, "%s OK [CAPABILITY ", s->tag);
	imap_capabilities(s, out);
	(void)buf_append_str(out, "] Logged in\r\n");
	return IMAP_JOB_DONE;
}

/* The credentials were right: open the store off the loop.  The caller's
 * busy flag passes to the job. */
static void
imap_login_ok(struct imap_session *s, const char *user, const char *method)
{
	struct imap_open_state *o;

	snprintf(s->user, sizeof(s->user), "%s", user);
	sasl_free(&s->sasl);
	o = xcalloc(1, sizeof(*o));
	o->method = method;
	if (account_maildir_path(s->srv->conf->data_dir, s->user, o->root,
	    sizeof(o->root)) == -1) {
		log_event(s->id, "imap", "store-error", "user=%s "
		    "reason=<no maildir path>", s->user);
		imap_tagged(s, NULL, "NO", "[UNAVAILABLE] No mailbox for this "
		    "user");
		s->user[0] = '\0';
		free(o);
		imap_session_resume(s);
		return;
	}
	s->cmd_state = o;
	s->cmd_state_free = free;
	imap_job_start(s, imap_open_job);
}

/* --- the checks ----------------------------------------------------------- */

static void
imap_login_checked(void *arg, int result, const char *user)
{
	struct imap_session *s = arg;
	const char *method = s->sasl != NULL ? "PLAIN" : "LOGIN";

	if (!imap_auth_alive(s)) {
		sasl_free(&s->sasl);
		imap_session_resume(s);
	} else if (result == MSG_CHECK_OK && user != NULL &&
	    strlen(user) <= ACCOUNT_ADDR_MAX) {
		imap_login_ok(s, user, method);
	} else if (result == MSG_CHECK_TEMP) {
		log_event(s->id, "imap", "login-error", "addr=%s login=<%s> "
		    "reason=<authentication service unavailable>",
		    s->conn->addr, s->user);
		sasl_free(&s->sasl);
		s->user[0] = '\0';
		imap_tagged(s, NULL, "NO", "[UNAVAILABLE] Authentication "
		    "service unavailable, try again later");
		imap_session_resume(s);
	} else {
		s->busy = false;
		imap_auth_fail(s, s->user, method, "bad password or unknown "
		    "user");
	}
	imap_session_unref(s);
}

static void
imap_scram_done(void *arg, int result, const struct msg_scram_reply *rr,
    const char *user)
{
	struct imap_session *s = arg;
	struct sasl_scram_secrets sec;
	enum sasl_res r;

	s->busy = false;
	if (!imap_auth_alive(s) || s->sasl == NULL) {
		sasl_free(&s->sasl);
		goto out;
	}
	if (result == MSG_CHECK_TEMP) {
		sasl_free(&s->sasl);
		imap_tagged(s, NULL, "NO", "[UNAVAILABLE] Authentication "
		    "service unavailable, try again later");
		goto out;
	}
	memset(&sec, 0, sizeof(sec));
	if (result == MSG_CHECK_OK && rr != NULL &&
	    rr->salt_len <= sizeof(sec.salt)) {
		sec.iterations = rr->iterations;
		sec.salt_len = rr->salt_len;
		memcpy(sec.salt, rr->salt, rr->salt_len);
		memcpy(sec.stored_key, rr->stored_key, sizeof(sec.stored_key));
		memcpy(sec.server_key, rr->server_key, sizeof(sec.server_key));
	}
	r = sasl_scram_secrets(s->sasl, result == MSG_CHECK_OK ? &sec : NULL,
	    user);
	sasl_scram_secrets_wipe(&sec);
	imap_auth_result(s, r);
out:
	if (!s->busy)
		imap_session_resume(s);
	imap_session_unref(s);
}

/* Ask the auth process; the answer comes later, on the loop. */
static void
imap_check(struct imap_session *s, const char *login, const char *pw,
    size_t len)
{
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	s->srv->auth.check(s->srv->auth.ctx, login, pw, len,
	    imap_login_checked, s);
}

static bool
imap_auth_check_tls(struct imap_session *s)
{
	if (imap_auth_allowed(s))
		return true;
	imap_tagged(s, NULL, "NO", "[PRIVACYREQUIRED] Authentication is "
	    "disabled before STARTTLS");
	return false;
}

/* --- LOGIN ------------------------------------------------------------------ */

void
imap_do_login(struct imap_session *s)
{
	struct str user = s->cmd->u.login.user, pass = s->cmd->u.login.pass;

	if (!imap_auth_check_tls(s)) {
		explicit_bzero((char *)pass.p, pass.len);
		return;
	}
	if (user.len == 0 || user.len > ACCOUNT_ADDR_MAX ||
	    memchr(user.p, '\0', user.len) != NULL) {
		explicit_bzero((char *)pass.p, pass.len);
		imap_auth_fail(s, "", "LOGIN", "malformed login");
		return;
	}
	memcpy(s->user, user.p, user.len);
	s->user[user.len] = '\0';
	if (pass.len == 0 || pass.len > ACCOUNT_PASSWORD_MAX ||
	    memchr(pass.p, '\0', pass.len) != NULL) {
		explicit_bzero((char *)pass.p, pass.len);
		imap_auth_fail(s, s->user, "LOGIN", "malformed password");
		return;
	}
	imap_check(s, s->user, pass.p, pass.len);
	explicit_bzero((char *)pass.p, pass.len);
}

/* --- AUTHENTICATE --------------------------------------------------------- */

static void
imap_auth_result(struct imap_session *s, enum sasl_res r)
{
	const char *c, *pw;
	size_t len;

	switch (r) {
	case SASL_CONTINUE:
		c = sasl_challenge(s->sasl, &len);
		conn_printf(s->conn, "+ %s\r\n", c);
		imap_parse_want_line(s->parser);
		break;
	case SASL_CHECK:
		snprintf(s->user, sizeof(s->user), "%s", sasl_authcid(s->sasl));
		pw = sasl_password(s->sasl, &len);
		/* the password is wiped with the exchange */
		imap_check(s, s->user, pw, len);
		break;
	case SASL_NEED_SECRETS:
		s->busy = true;
		s->refs++;
		conn_pause(s->conn);
		s->srv->auth.scram(s->srv->auth.ctx, sasl_authcid(s->sasl),
		    imap_scram_done, s);
		break;
	case SASL_OK:
		imap_login_ok(s, sasl_user(s->sasl), "SCRAM-SHA-256");
		break;
	case SASL_CANCEL:
		sasl_free(&s->sasl);
		imap_tagged(s, NULL, "BAD", "Authentication cancelled");
		break;
	case SASL_MALFORMED:
		log_event(s->id, "imap", "login-failed", "addr=%s login=<%s> "
		    "method=AUTHENTICATE reason=<%s>", s->conn->addr,
		    sasl_authcid(s->sasl), sasl_error(s->sasl) != NULL ?
		    sasl_error(s->sasl) : "malformed");
		sasl_free(&s->sasl);
		s->auth_failures++;
		imap_bad(s, "%s BAD Malformed SASL response", s->tag);
		break;
	case SASL_FAIL:
	default:
		snprintf(s->user, sizeof(s->user), "%s", sasl_authcid(s->sasl));
		imap_auth_fail(s, s->user, "AUTHENTICATE",
		    sasl_error(s->sasl) != NULL ? sasl_error(s->sasl) :
		    "rejected");
		break;
	}
}

void
imap_do_authenticate(struct imap_session *s)
{
	const struct imap_command *cmd = s->cmd;
	struct sasl_params params = { 0 };
	enum sasl_mech mech;
	struct str ir = cmd->u.auth.ir;

	if (!imap_auth_check_tls(s))
		return;
	if (sasl_mech_lookup(cmd->u.auth.mech.p, cmd->u.auth.mech.len,
	    &mech) == -1 || mech == SASL_MECH_LOGIN ||
	    (mech == SASL_MECH_SCRAM_SHA_256 && (s->srv->auth.scram == NULL ||
	    s->srv->auth.sasl_secret == NULL))) {
		imap_tagged(s, NULL, "NO", "Unsupported authentication "
		    "mechanism");
		return;
	}
	params.secret = s->srv->auth.sasl_secret;
	params.secret_len = s->srv->auth.sasl_secret_len;
	s->sasl = sasl_new(mech, &params);
	if (!cmd->u.auth.has_ir)
		imap_auth_result(s, sasl_start(s->sasl, NULL, 0));
	else if (ir.len == 0)	/* "=": an empty initial response */
		imap_auth_result(s, sasl_start(s->sasl, "=", 1));
	else {
		imap_auth_result(s, sasl_start(s->sasl, ir.p, ir.len));
		explicit_bzero((char *)ir.p, ir.len);
	}
}

void
imap_auth_line(struct imap_session *s, struct str line)
{
	enum sasl_res r = sasl_step(s->sasl, line.p, line.len);

	explicit_bzero((char *)line.p, line.len);
	imap_auth_result(s, r);
}
