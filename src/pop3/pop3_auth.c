/* pop3_auth.c: the AUTHORIZATION state: USER/PASS (RFC 1939), AUTH
 * PLAIN (RFC 5034, with an initial response or a "+ " continuation,
 * "*" cancels), the password check in the auth process, the random
 * delay after a failure, and opening the mailbox off the loop.
 *
 * Passwords are accepted only over TLS, or in clear from loopback when
 * auth_plaintext_loopback is set; APOP is not offered (it needs the
 * password in clear on the server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/conf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/workq.h"
#include "pop3/pop3_session.h"
#include "store/maildir.h"

#define POP3_FAIL_DELAY_USEC	1000000		/* up to 1 s (OpenSMTPD) */

struct pop3_open_job {
	struct pop3_session	*s;
	struct pop3_mailbox	*mb;
	enum pop3_open_res	 res;
	char			 err[512];
};

static bool
pop3_auth_alive(const struct pop3_session *s)
{
	return s->conn != NULL && !s->conn->dead && !s->conn->closing &&
	    s->state == POP3_STATE_AUTH;
}

/* --- failures ------------------------------------------------------------ */

static void
pop3_on_fail_delay(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session *s = arg;

	if (pop3_auth_alive(s)) {
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
		if (s->auth_failures >= POP3_AUTH_FAILURES_MAX) {
			log_event(s->id, "pop3", "too-many-auth-failures",
			    "addr=%s", s->conn->addr);
			pop3_reply(s, "-ERR Too many authentication failures");
			pop3_close(s, "too many authentication failures");
		}
	}
	pop3_session_resume(s);
	pop3_session_unref(s);
}

/* Answer a failed login after a random 0-1 s (a timer, never a sleep):
 * guessing gets slow, and timing tells nothing. */
static void
pop3_auth_fail(struct pop3_session *s, const char *reason)
{
	struct timeval tv;
	uint32_t usec = arc4random_uniform(POP3_FAIL_DELAY_USEC + 1);

	log_event(s->id, "pop3", "login-failed", "addr=%s login=<%s> "
	    "method=%s reason=<%s>", s->conn->addr, s->login,
	    s->method != NULL ? s->method : "-", reason);
	s->auth_failures++;
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	if (event_base_once(s->srv->base, -1, EV_TIMEOUT, pop3_on_fail_delay,
	    s, &tv) == -1)
		fatalx("event_base_once failed");
}

/* --- the mailbox --------------------------------------------------------- */

static void
pop3_open_work(void *arg)
{
	struct pop3_open_job *j = arg;
	const char *err = NULL;

	j->res = pop3_mailbox_open(j->mb, &err);
	if (j->res != POP3_OPEN_OK)
		snprintf(j->err, sizeof(j->err), "%s", err != NULL ? err : "?");
}

static void
pop3_open_ok(struct pop3_session *s, struct pop3_mailbox *mb)
{
	size_t n;
	uint64_t size;

	s->mb = mb;
	pop3_enter_state(s, POP3_STATE_TRANSACTION);
	pop3_maildrop_stat(s, &n, &size);
	log_event(s->id, "pop3", "login", "addr=%s user=%s method=%s "
	    "messages=%zu size=%llu moved=%zu%s", s->conn->addr, s->user,
	    s->method, n, (unsigned long long)size, mb->moved,
	    mb->hidden > 0 ? " truncated=yes" : "");
	pop3_reply(s, "+OK Logged in, %zu messages (%llu octets)", n,
	    (unsigned long long)size);
}

static void
pop3_open_done(void *arg)
{
	struct pop3_open_job *j = arg;
	struct pop3_session *s = j->s;

	if (!pop3_auth_alive(s)) {
		pop3_mailbox_free(&j->mb);
	} else if (j->res == POP3_OPEN_OK) {
		pop3_open_ok(s, j->mb);
	} else if (j->res == POP3_OPEN_LOCKED) {
		log_event(s->id, "pop3", "in-use", "addr=%s user=%s",
		    s->conn->addr, s->user);
		pop3_reply(s, "-ERR [IN-USE] Mailbox is locked by another POP3 "
		    "session");
		pop3_mailbox_free(&j->mb);
	} else {
		log_event(s->id, "pop3", "store-error", "user=%s reason=<%s>",
		    s->user, j->err);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try "
		    "again later");
		pop3_mailbox_free(&j->mb);
	}
	if (s->state == POP3_STATE_AUTH)
		s->user[0] = '\0';
	free(j);
	pop3_session_resume(s);
	pop3_session_unref(s);
}

/* The password was right: open (lock, move new/, list) off the loop.
 * The session's reference and busy flag pass to the job. */
static void
pop3_open_start(struct pop3_session *s)
{
	char dir[MAILDIR_PATH_MAX];
	struct pop3_open_job *j;

	if (account_maildir_path(s->srv->conf->data_dir, s->user, dir,
	    sizeof(dir)) == -1) {
		log_event(s->id, "pop3", "store-error", "user=%s "
		    "reason=<no maildir path>", s->user);
		pop3_reply(s, "-ERR [SYS/PERM] No mailbox for this user");
		s->user[0] = '\0';
		pop3_session_resume(s);
		pop3_session_unref(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->mb = pop3_mailbox_new(dir);
	workq_push(s->srv->wq, pop3_open_work, pop3_open_done, j);
}

/* --- the password check -------------------------------------------------- */

static void
pop3_login_done(void *arg, int result, const char *user)
{
	struct pop3_session *s = arg;

	if (!pop3_auth_alive(s)) {
		pop3_session_resume(s);
		pop3_session_unref(s);
		return;
	}
	if (result == MSG_CHECK_OK && user != NULL &&
	    strlen(user) <= ACCOUNT_ADDR_MAX) {
		snprintf(s->user, sizeof(s->user), "%s", user);
		pop3_open_start(s);
		return;
	}
	if (result == MSG_CHECK_TEMP) {
		log_event(s->id, "pop3", "login-error", "addr=%s login=<%s> "
		    "reason=<authentication service unavailable>",
		    s->conn->addr, s->login);
		pop3_reply(s, "-ERR [SYS/TEMP] Authentication service "
		    "unavailable, try again later");
		pop3_session_resume(s);
		pop3_session_unref(s);
		return;
	}
	s->busy = false;
	pop3_auth_fail(s, "bad password or unknown user");
	pop3_session_unref(s);
}

/* Ask the auth process; the answer comes later, on the loop. */
static void
pop3_login(struct pop3_session *s, const char *password, size_t len,
    const char *method)
{
	s->method = method;
	if (s->login[0] == '\0' || len == 0 || len > ACCOUNT_PASSWORD_MAX) {
		pop3_auth_fail(s, "malformed credentials");
		return;
	}
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	s->srv->auth.check(s->srv->auth.ctx, s->login, password, len,
	    pop3_login_done, s);
}

static bool
pop3_auth_check_tls(struct pop3_session *s)
{
	if (pop3_auth_allowed(s))
		return true;
	pop3_bad(s, "-ERR [AUTH] Plaintext authentication disallowed on "
	    "non-secure (SSL/TLS) connections");
	return false;
}

static void
pop3_set_login(struct pop3_session *s, struct str login)
{
	if (login.len == 0 || login.len > ACCOUNT_ADDR_MAX ||
	    memchr(login.p, '\0', login.len) != NULL) {
		s->login[0] = '\0';	/* PASS will fail like a wrong one */
		return;
	}
	memcpy(s->login, login.p, login.len);
	s->login[login.len] = '\0';
}

/* --- USER / PASS ----------------------------------------------------------- */

void
pop3_do_user(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	if (!pop3_auth_check_tls(s))
		return;
	if (cl->argc != 1 || cl->too_many) {
		s->user_given = false;
		pop3_bad(s, "-ERR Syntax: USER name");
		return;
	}
	pop3_set_login(s, cl->argv[0]);
	s->user_given = true;
	pop3_reply(s, "+OK");
}

void
pop3_do_pass(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	if (!pop3_auth_check_tls(s))
		return;
	if (!s->user_given) {
		pop3_bad(s, "-ERR USER first");
		return;
	}
	s->user_given = false;
	pop3_login(s, cl->rest.p, cl->rest.len, "USER");
}

void
pop3_do_apop(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	pop3_bad(s, "-ERR APOP is not supported");
}

/* --- AUTH PLAIN ----------------------------------------------------------- */

static void
pop3_auth_plain(struct pop3_session *s, struct str b64)
{
	unsigned char buf[POP3_AUTH_LINE_MAX];
	struct str authz, authc, pass;
	size_t len;

	s->method = "PLAIN";
	if (pop3_parse_base64(b64, buf, sizeof(buf), &len) == -1) {
		pop3_bad(s, "-ERR Invalid base64 data");
		return;
	}
	if (pop3_parse_plain(buf, len, &authz, &authc, &pass) == -1 ||
	    (authz.len > 0 && !str_eq_ci(authz, authc))) {
		s->login[0] = '\0';
		explicit_bzero(buf, sizeof(buf));
		pop3_auth_fail(s, authz.len > 0 ? "authorization identity "
		    "refused" : "malformed PLAIN response");
		return;
	}
	pop3_set_login(s, authc);
	pop3_login(s, pass.p, pass.len, "PLAIN");
	explicit_bzero(buf, sizeof(buf));
}

void
pop3_do_auth(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	if (cl->argc == 0) {	/* the mechanisms (pre-RFC 5034 clients) */
		pop3_reply(s, "+OK");
		if (pop3_auth_allowed(s))
			pop3_reply(s, "PLAIN");
		pop3_reply(s, ".");
		return;
	}
	if (!pop3_auth_check_tls(s))
		return;
	if (cl->too_many) {
		pop3_bad(s, "-ERR Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (!str_eq_ci_cstr(cl->argv[0], "PLAIN")) {
		pop3_bad(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (cl->argc == 2) {	/* initial response; "=" is an empty one */
		if (str_eq(cl->argv[1], STR_LIT("=")))
			pop3_auth_plain(s, str_make("", 0));
		else
			pop3_auth_plain(s, cl->argv[1]);
		return;
	}
	s->lx.sasl = true;
	pop3_reply(s, "+ ");
}

void
pop3_auth_response(struct pop3_session *s, struct str line)
{
	if (str_eq(line, STR_LIT("*"))) {
		pop3_reply(s, "-ERR Authentication cancelled");
		return;
	}
	pop3_auth_plain(s, line);
}
