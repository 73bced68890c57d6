/* imap_server_cmd.c: the commands of every state (RFC 9051 §6.1, RFC 5161
 * ENABLE, RFC 2971 ID, RFC 2177 IDLE), run on the loop; split from
 * imap_server.c, which owns the session's life cycle and the command
 * table.  NOOP in SELECTED and IDLE's refreshes are jobs. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "imap/imap_server_int.h"
#include "imap/imap_session.h"

/* --- commands of every state ------------------------------------------------ */

void
imap_do_capability(struct imap_session *s)
{
	struct buf b;

	buf_init(&b, 4096);
	imap_capabilities(s, &b);
	imap_untagged(s, NULL, "CAPABILITY %s", buf_cstr(&b));
	buf_free(&b);
	imap_tagged(s, NULL, "OK", "CAPABILITY completed");
}

/* NOOP and the like in SELECTED: announce what changed. */
static enum imap_job_res
imap_noop_job(struct imap_session *s, struct buf *out)
{
	(void)imap_update(s, out, true);
	imap_tagged(s, out, "OK", "NOOP completed");
	return IMAP_JOB_DONE;
}

void
imap_do_noop(struct imap_session *s)
{
	if (s->state == IMAP_STATE_SELECTED) {
		imap_job_start(s, imap_noop_job);
		return;
	}
	imap_tagged(s, NULL, "OK", "NOOP completed");
}

void
imap_do_logout(struct imap_session *s)
{
	log_event(s->id, "imap", "logout", "addr=%s user=%s commands=%u",
	    s->conn->addr, s->user[0] != '\0' ? s->user : "-", s->ncmds);
	imap_untagged(s, NULL, "BYE facteur logging out");
	imap_tagged(s, NULL, "OK", "LOGOUT completed");
	imap_close(s, "logout");
}

void
imap_do_starttls(struct imap_session *s)
{
	if (s->conn->tls != CONN_TLS_NONE) {
		imap_bad(s, "%s BAD TLS is already active", s->tag);
		return;
	}
	if (s->srv->ssl_ctx == NULL) {
		imap_bad(s, "%s BAD STARTTLS is not available", s->tag);
		return;
	}
	imap_tagged(s, NULL, "OK", "Begin TLS negotiation now");
	/* CVE-2011-0411: what was pipelined after STARTTLS is dropped */
	imap_parse_reset(s->parser);
	conn_starttls(s->conn, s->srv->ssl_ctx);
}

void
imap_do_enable(struct imap_session *s)
{
	const struct imap_command *cmd = s->cmd;
	char line[256] = "ENABLED";
	size_t n = strlen(line);

	for (size_t i = 0; i < cmd->u.enable.n; i++) {
		struct str cap = cmd->u.enable.caps[i];
		const char *name = NULL;

		if (str_eq_ci_cstr(cap, "IMAP4REV2") && !s->rev2) {
			s->rev2 = s->utf8 = true;
			name = "IMAP4rev2";
		} else if (str_eq_ci_cstr(cap, "UTF8=ACCEPT") && !s->utf8) {
			s->utf8 = true;
			name = "UTF8=ACCEPT";
		} else if (str_eq_ci_cstr(cap, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			name = "CONDSTORE";
		} else if (str_eq_ci_cstr(cap, "QRESYNC") && !s->qresync) {
			/* RFC 7162 §3.2.3: QRESYNC implies CONDSTORE */
			s->qresync = s->condstore = true;
			name = "QRESYNC";
		}
		if (name != NULL && n + 1 + strlen(name) < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s",
			    name);
	}
	imap_untagged(s, NULL, "%s", line);
	imap_sync_parser(s);
	imap_tagged(s, NULL, "OK", "ENABLE completed");
}

/* Client fields for the log: printable ASCII, bounded. */
static void
imap_id_value(struct str v, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < v.len && n + 1 < size; i++) {
		unsigned char ch = (unsigned char)v.p[i];

		out[n++] = ch >= 0x20 && ch < 0x7f && ch != '<' && ch != '>' ?
		    (char)ch : '?';
	}
	out[n] = '\0';
}

void
imap_do_id(struct imap_session *s)
{
	const struct imap_command *cmd = s->cmd;
	char log[1024], key[32], val[128];
	size_t n = 0;

	log[0] = '\0';
	for (size_t i = 0; i < cmd->u.id.n && n < sizeof(log) - 1; i++) {
		struct str k = cmd->u.id.kv[2 * i], v = cmd->u.id.kv[2 * i + 1];
		int r;

		imap_id_value(k, key, sizeof(key));
		for (char *p = key; *p != '\0'; p++)
			if (*p == ' ' || *p == '=')
				*p = '_';
		if (v.p == NULL)
			snprintf(val, sizeof(val), "NIL");
		else
			imap_id_value(v, val, sizeof(val));
		r = snprintf(log + n, sizeof(log) - n, "%s%s=<%s>",
		    n > 0 ? " " : "", key, val);
		if (r < 0 || (size_t)r >= sizeof(log) - n)
			break;
		n += (size_t)r;
	}
	if (n > 0)
		log_event(s->id, "imap", "client-id", "%s", log);
	imap_untagged(s, NULL, "ID (\"name\" \"facteur\" \"version\" \"%s\")",
	    FACTEUR_VERSION);
	imap_tagged(s, NULL, "OK", "ID completed");
}

/* --- IDLE (RFC 2177) ----------------------------------------------------------- */

/* Announce what changed, then let the store go idle: an IDLE session
 * holds no database handle and no caches. */
static enum imap_job_res
imap_idle_job(struct imap_session *s, struct buf *out)
{
	if (s->state == IMAP_STATE_SELECTED)
		(void)imap_update(s, out, true);
	if (s->store != NULL) {
		mstore_idle(s->store);
		s->store_idle = true;
	}
	return IMAP_JOB_DONE;
}

void
imap_idle_refresh(struct imap_session *s)
{
	s->idle_dirty = false;
	imap_job_start(s, imap_idle_job);
}

void
imap_do_idle(struct imap_session *s)
{
	imap_idle_set(s, true);
	conn_printf(s->conn, "+ idling\r\n");
	/* only "DONE" is read now; anything pipelined after it waits */
	imap_parse_want_line(s->parser);
	imap_idle_refresh(s);
}
