/* smtp_auth.c: SMTP AUTH (RFC 4954) on the submission ports, and the
 * rule that an authenticated user sends only as its own addresses.
 *
 * The mechanisms are auth/sasl.c's state machines; passwords and SCRAM
 * secrets are checked in the auth process.  AUTH is offered only over
 * TLS (or on loopback with auth_plaintext_loopback).  A failed attempt
 * is answered after a random delay of up to a second. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/account.h"
#include "config/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "smtp/smtp_session.h"

static void	smtp_auth_result(struct smtp_session *, enum sasl_res);

/* AUTH is for submission, over TLS (or loopback when configured). */
bool
smtp_auth_allowed(struct smtp_session *s)
{
	if (s->kind == SMTP_KIND_MX || s->kind == SMTP_KIND_LOCAL ||
	    s->srv->auth.check == NULL)
		return false;
	return s->conn->tls == CONN_TLS_ON ||
	    (s->srv->conf->auth_plaintext_loopback &&
	    conn_peer_loopback(s->conn));
}

void
smtp_auth_ehlo(struct smtp_session *s)
{
	if (smtp_auth_allowed(s) && s->auth_user[0] == '\0')
		smtp_reply(s, "250-AUTH %s", SASL_MECHS_ADVERTISED);
}

void
smtp_auth_cleanup(struct smtp_session *s)
{
	sasl_free(&s->sasl);
	if (s->ev_auth_delay != NULL) {
		event_free(s->ev_auth_delay);
		s->ev_auth_delay = NULL;
	}
}

static void
smtp_auth_success(struct smtp_session *s, const char *user)
{
	snprintf(s->auth_user, sizeof(s->auth_user), "%s", user);
	log_event(s->id, "smtp", "auth-ok", "user=<%s>", user);
	sasl_free(&s->sasl);
	smtp_reply(s, "235 2.7.0 Authentication successful");
}

/* A failed attempt: log now, answer after a random pause. */
static void
smtp_auth_on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (!s->conn_gone) {
		if (s->auth_res == SASL_MALFORMED)
			smtp_bad(s, "501 5.5.2 Error: cannot decode the response");
		else if (s->auth_res == SASL_CANCEL)
			smtp_bad(s, "501 5.7.0 Error: authentication cancelled");
		else
			smtp_bad(s, "535 5.7.8 Error: authentication failed");
	}
	smtp_session_resume(s);
	smtp_session_unref(s);
}

static void
smtp_auth_failure(struct smtp_session *s, enum sasl_res r)
{
	uint32_t ms = 0;
	struct timeval tv;

	log_event(s->id, "smtp", "auth-failed", "addr=%s user=<%s> reason=<%s>",
	    s->conn->addr, s->sasl != NULL ? sasl_authcid(s->sasl) : "",
	    r == SASL_CANCEL ? "cancelled" : s->sasl != NULL &&
	    sasl_error(s->sasl) != NULL ? sasl_error(s->sasl) : "rejected");
	sasl_free(&s->sasl);
	if (getrandom(&ms, sizeof(ms), 0) != sizeof(ms))
		ms = 500;
	ms %= 1000;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)ms * 1000;
	if (s->ev_auth_delay == NULL)
		s->ev_auth_delay = evtimer_new(s->srv->base, smtp_auth_on_delay,
		    s);
	s->auth_res = r;
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	evtimer_add(s->ev_auth_delay, &tv);
}

static void
smtp_auth_temp(struct smtp_session *s)
{
	sasl_free(&s->sasl);
	smtp_reply(s, "454 4.7.0 Temporary authentication failure");
}

static void
smtp_auth_checked(void *arg, int result, const char *user)
{
	struct smtp_session *s = arg;

	s->busy = false;
	if (!s->conn_gone) {
		if (result == MSG_CHECK_OK)
			smtp_auth_success(s, user);
		else if (result == MSG_CHECK_FAIL) {
			smtp_auth_failure(s, SASL_FAIL);
			smtp_session_unref(s);
			return;		/* answered after the delay */
		} else
			smtp_auth_temp(s);
	}
	smtp_session_resume(s);
	smtp_session_unref(s);
}

static void
smtp_auth_scram_done(void *arg, int result, const struct msg_scram_reply *rr,
    const char *user)
{
	struct smtp_session *s = arg;
	struct sasl_scram_secrets sec;
	enum sasl_res r;

	s->busy = false;
	if (s->conn_gone || s->sasl == NULL)
		goto out;
	if (result == MSG_CHECK_TEMP) {
		smtp_auth_temp(s);
		goto out;
	}
	memset(&sec, 0, sizeof(sec));
	if (result == MSG_CHECK_OK && rr->salt_len <= sizeof(sec.salt)) {
		sec.iterations = rr->iterations;
		sec.salt_len = rr->salt_len;
		memcpy(sec.salt, rr->salt, rr->salt_len);
		memcpy(sec.stored_key, rr->stored_key, sizeof(sec.stored_key));
		memcpy(sec.server_key, rr->server_key, sizeof(sec.server_key));
	}
	r = sasl_scram_secrets(s->sasl, result == MSG_CHECK_OK ? &sec : NULL,
	    user);
	sasl_scram_secrets_wipe(&sec);
	smtp_auth_result(s, r);
out:
	smtp_session_resume(s);
	smtp_session_unref(s);
}

static void
smtp_auth_result(struct smtp_session *s, enum sasl_res r)
{
	struct service_auth *a = &s->srv->auth;
	const char *pw, *c;
	size_t len;

	switch (r) {
	case SASL_CONTINUE:
		c = sasl_challenge(s->sasl, &len);
		smtp_reply(s, "334 %s", c);
		break;
	case SASL_CHECK:
		pw = sasl_password(s->sasl, &len);
		s->busy = true;
		s->refs++;
		conn_pause(s->conn);
		a->check(a->ctx, sasl_authcid(s->sasl), pw, len,
		    smtp_auth_checked, s);
		/* the password is wiped with the exchange */
		break;
	case SASL_NEED_SECRETS:
		s->busy = true;
		s->refs++;
		conn_pause(s->conn);
		a->scram(a->ctx, sasl_authcid(s->sasl), smtp_auth_scram_done, s);
		break;
	case SASL_OK:
		smtp_auth_success(s, sasl_user(s->sasl));
		break;
	default:
		smtp_auth_failure(s, r);
		break;
	}
}

void
smtp_auth_command(struct smtp_session *s, struct str args)
{
	struct sasl_params params = { 0 };
	enum sasl_mech mech;
	const char *sp, *ir = NULL;
	size_t mlen, irlen = 0;

	if (s->kind == SMTP_KIND_MX || s->kind == SMTP_KIND_LOCAL) {
		smtp_bad(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (s->state == SMTP_STATE_CONNECTED) {
		smtp_bad(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->auth_user[0] != '\0' || s->state != SMTP_STATE_READY) {
		smtp_bad(s, "503 5.5.1 Error: %s", s->auth_user[0] != '\0' ?
		    "already authenticated" : "AUTH not allowed in a "
		    "transaction");
		return;
	}
	if (!smtp_auth_allowed(s)) {
		smtp_bad(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	sp = memchr(args.p, ' ', args.len);
	mlen = sp != NULL ? (size_t)(sp - args.p) : args.len;
	if (sp != NULL) {
		ir = sp + 1;
		irlen = args.len - mlen - 1;
	}
	if (mlen == 0 || sasl_mech_lookup(args.p, mlen, &mech) == -1) {
		smtp_bad(s, "504 5.5.4 Error: unrecognized authentication type");
		return;
	}
	params.secret = s->srv->auth.sasl_secret;
	params.secret_len = s->srv->auth.sasl_secret_len;
	s->sasl = sasl_new(mech, &params);
	smtp_auth_result(s, sasl_start(s->sasl, ir, irlen));
}

void
smtp_auth_line(struct smtp_session *s, struct str line)
{
	smtp_auth_result(s, sasl_step(s->sasl, line.p, line.len));
}

/* --- the sender of a submitted message -------------------------------- */

static void
smtp_auth_sender_done(void *arg, const struct smtp_resolved *r)
{
	struct smtp_session *s = arg;
	bool own = false;

	if (s->conn_gone || s->state != SMTP_STATE_MAIL)
		goto out;
	for (size_t i = 0; r->result == ACCOUNT_FOUND && i < r->nlocal; i++)
		own |= strcasecmp(r->user[i], s->auth_user) == 0;
	if (own) {
		smtp_reply(s, "250 2.1.0 Ok");
	} else if (r->result == ACCOUNT_ERROR) {
		smtp_reply(s, "451 4.3.0 Error: temporary lookup failure");
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_STATE_READY);
	} else {
		log_event(s->tx.qid, "smtp", "sender-rejected", "user=<%s> "
		    "from=<%s>", s->auth_user, s->tx.mail.path.addr);
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_STATE_READY);
		smtp_bad(s, "553 5.7.1 Error: sender address not owned by the "
		    "authenticated user");
	}
out:
	smtp_session_resume(s);
	smtp_session_unref(s);
}

void
smtp_auth_check_sender(struct smtp_session *s)
{
	const char *from = s->tx.mail.path.addr;

	/* the null sender (read receipts, vacation replies) and the login
	 * itself need no lookup */
	if (from[0] == '\0' || !s->srv->conf->submission_sender_check ||
	    strcasecmp(from, s->auth_user) == 0) {
		smtp_reply(s, "250 2.1.0 Ok");
		return;
	}
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	s->srv->resolve(s->srv->resolve_ctx, from, smtp_auth_sender_done, s);
}
