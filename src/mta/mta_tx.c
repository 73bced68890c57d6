/* mta_tx.c: one message on an open connection: MAIL with its
 * parameters and the RCPTs (in one write with PIPELINING), their
 * replies, DATA, and the body streamed from the queue file (pread: the
 * descriptor is shared), converted to quoted-printable for a peer
 * without 8BITMIME, dot-stuffed, with CRLF line ends, in chunks as the
 * connection's output drains. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "mta/mta_int.h"
#include "mta/mta_qp.h"
#include "net/conn.h"
#include "smtp/smtp_parse.h"

static void	mta_tx_on_drained(struct conn *, void *);

/* Recipients without a final result (not refused, or accepted but the
 * message did not go through) get this one. */
void
mta_tx_fail_rest(struct mta_session *s, enum mta_result res,
    const char *status, const char *text)
{
	struct mta_request *req = s->job->req;

	for (size_t i = 0; i < req->nrcpts; i++) {
		struct mta_rcpt *r = &req->rcpts[i];

		if (r->result != MTA_OK && r->status[0] != '\0')
			continue;	/* refused at RCPT */
		r->result = res;
		snprintf(r->status, sizeof(r->status), "%s", status);
		snprintf(r->text, sizeof(r->text), "%s", text);
		snprintf(r->relay, sizeof(r->relay), "%s", s->relay);
	}
}

/* xtext (RFC 3461 §4) of an address, for ORCPT. */
static int
mta_tx_xtext(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int r = c < 33 || c > 126 || c == '+' || c == '=' ?
		    buf_printf(b, "+%02X", c) : buf_append(b, s, 1);

		if (r == -1)
			return -1;
	}
	return 0;
}

static bool
mta_tx_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void
mta_tx_rcpt_cmd(struct mta_session *s, const struct mta_rcpt *r)
{
	struct buf *b = &s->stage;
	unsigned nt = r->notify;

	(void)buf_printf(b, "RCPT TO:<%s>", r->addr);
	if (s->ext.flags & MTA_EXT_DSN) {
		if (nt & SMTP_NOTIFY_NEVER)
			(void)buf_append_str(b, " NOTIFY=NEVER");
		else if (nt != 0)
			(void)buf_printf(b, " NOTIFY=%s%s%s%s%s",
			    nt & SMTP_NOTIFY_SUCCESS ? "SUCCESS" : "",
			    (nt & SMTP_NOTIFY_SUCCESS) && (nt &
			    (SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY)) ? "," : "",
			    nt & SMTP_NOTIFY_FAILURE ? "FAILURE" : "",
			    (nt & SMTP_NOTIFY_FAILURE) && (nt &
			    SMTP_NOTIFY_DELAY) ? "," : "",
			    nt & SMTP_NOTIFY_DELAY ? "DELAY" : "");
		if (r->orcpt != NULL && (mta_tx_ascii(r->orcpt) ||
		    (s->ext.flags & MTA_EXT_SMTPUTF8)))
			(void)buf_printf(b, " ORCPT=%s", r->orcpt);
		else if (r->orcpt == NULL && mta_tx_ascii(r->addr)) {
			(void)buf_append_str(b, " ORCPT=rfc822;");
			(void)mta_tx_xtext(b, r->addr);
		}
	}
	(void)buf_append(b, "\r\n", 2);
}

static void
mta_tx_mail_cmd(struct mta_session *s)
{
	const struct mta_request *req = s->job->req;
	struct buf *b = &s->stage;

	(void)buf_printf(b, "MAIL FROM:<%s>", req->from);
	if (s->ext.flags & MTA_EXT_SIZE)
		(void)buf_printf(b, " SIZE=%zu", req->size);
	if (req->eightbit && (s->ext.flags & MTA_EXT_8BITMIME))
		(void)buf_append_str(b, " BODY=8BITMIME");
	if (req->smtputf8)
		(void)buf_append_str(b, " SMTPUTF8");
	if (s->ext.flags & MTA_EXT_DSN) {
		if (req->ret == SMTP_RET_FULL)
			(void)buf_append_str(b, " RET=FULL");
		else if (req->ret == SMTP_RET_HDRS)
			(void)buf_append_str(b, " RET=HDRS");
		if (req->envid != NULL && req->envid[0] != '\0')
			(void)buf_printf(b, " ENVID=%s", req->envid);
	}
	(void)buf_append(b, "\r\n", 2);
}

/* No byte that could end a command early or confuse the peer (the
 * queue holds checked addresses: this is defence in depth). */
static bool
mta_tx_clean(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' ||
		    *s == '>')
			return false;
	return true;
}

static bool
mta_tx_envelope_clean(const struct mta_request *req)
{
	if (!mta_tx_clean(req->from) || !mta_tx_clean(req->envid))
		return false;
	for (size_t i = 0; i < req->nrcpts; i++)
		if (!mta_tx_clean(req->rcpts[i].addr) ||
		    !mta_tx_clean(req->rcpts[i].orcpt))
			return false;
	return true;
}

/* The job's message cannot go to this peer (a broken envelope,
 * SMTPUTF8, SIZE): false and the job is dealt with. */
static bool
mta_tx_fits(struct mta_session *s)
{
	const struct mta_request *req = s->job->req;
	uint64_t max = s->ext.size_max;

	if (!mta_tx_envelope_clean(req)) {
		mta_job_fail(s->job, MTA_PERM, "5.5.4", "control characters or "
		    "angle brackets in the envelope", "");
		s->job = NULL;
		mta_session_next_job(s);
		return false;
	}
	if (req->smtputf8 && !(s->ext.flags & MTA_EXT_SMTPUTF8)) {
		mta_job_fail(s->job, MTA_PERM, "5.6.7", "the message needs "
		    "SMTPUTF8, which the next hop does not offer", s->relay);
		s->job = NULL;
		s->nmsgs++;
		mta_session_next_job(s);
		return false;
	}
	if (!(s->ext.flags & MTA_EXT_SIZE) || max == 0 || req->size <= max)
		return true;
	mta_session_failure(s, MTA_PERM, "5.3.4", true, "message too big for "
	    "%s (%zu bytes, it takes at most %llu)", s->relay, req->size,
	    (unsigned long long)max);
	if (s->nmsgs == 0 && s->cur + 1 < s->naddrs) {
		mta_session_host_failed(s, true);	/* another may take it */
		return false;
	}
	mta_job_fail(s->job, s->fres, s->fstatus, s->ftext, s->relay);
	s->job = NULL;
	s->nmsgs++;
	mta_session_next_job(s);
	return false;
}

/* MAIL and, with PIPELINING, every RCPT in one write (behind an RSET
 * on a reused connection). */
void
mta_tx_start(struct mta_session *s)
{
	struct mta_request *req = s->job->req;
	const struct conf *conf = s->mta->conf;
	bool rset = s->rset_first;

	s->rset_first = false;
	s->job->sid = s->id;
	for (size_t i = 0; i < req->nrcpts; i++) {
		req->rcpts[i].result = MTA_TEMP;
		req->rcpts[i].status[0] = '\0';
	}
	if (!mta_tx_fits(s))
		return;
	s->nsent = s->nreplied = s->naccepted = 0;
	s->pipelined = (s->ext.flags & MTA_EXT_PIPELINING) != 0;
	buf_reset(&s->stage);
	if (rset)		/* a reused connection (mta_session_reuse) */
		(void)buf_append(&s->stage, "RSET\r\n", 6);
	mta_tx_mail_cmd(s);
	if (s->pipelined)
		for (; s->nsent < req->nrcpts; s->nsent++)
			mta_tx_rcpt_cmd(s, &req->rcpts[s->nsent]);
	conn_write(s->conn, s->stage.p, s->stage.len);
	buf_reset(&s->stage);
	s->rset_pipelined = rset;
	mta_session_enter(s, rset ? MTA_ST_RSET : MTA_ST_MAIL);
	conn_set_timeout(s->conn, conf->mta_timeout_mail);
}

static void
mta_tx_stuff(struct mta_session *s, const char *p, size_t n)
{
	struct buf *b = &s->stage;
	char *o;

	const char *end = p + n, *nl;
	size_t len;

	if (buf_reserve(b, 2 * n) == -1)
		return;		/* cannot happen: the stage is emptied */
	o = b->p + b->len;
	/* a line at a time: a dot at its start doubled, a bare LF made
	 * CRLF */
	while (p < end) {
		if (s->bol && *p == '.')
			*o++ = '.';
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (len > 0) {
			memcpy(o, p, len);
			o += len;
			s->cr = p[len - 1] == '\r';
			s->bol = false;
			p += len;
		}
		if (nl == NULL)
			break;
		if (!s->cr)
			*o++ = '\r';
		*o++ = '\n';
		s->cr = false;
		s->bol = true;
		p++;
	}
	b->len = (size_t)(o - b->p);
}

static void
mta_tx_body_end(struct mta_session *s)
{
	if (s->qp != NULL) {
		buf_reset(&s->qpout);
		(void)mta_qp_end(s->qp, &s->qpout);
		mta_tx_stuff(s, s->qpout.p, s->qpout.len);
		log_event(s->job->req->qid, "mta", "converted", "session=%016llx "
		    "relay=%s parts=%u kept=<%s>", (unsigned long long)s->id,
		    s->relay, mta_qp_converted(s->qp), mta_qp_gave_up(s->qp) !=
		    NULL ? mta_qp_gave_up(s->qp) : mta_qp_left_8bit(s->qp) ?
		    "8bit bytes outside parts declared 8bit" : "");
		mta_qp_free(&s->qp);
	}
	if (!s->bol)
		(void)buf_append(&s->stage, "\r\n", 2);
	(void)buf_append(&s->stage, ".\r\n", 3);
	conn_write(s->conn, s->stage.p, s->stage.len);
	buf_reset(&s->stage);
	mta_session_enter(s, MTA_ST_DOT);
	conn_set_timeout(s->conn, s->mta->conf->mta_timeout_data_end);
}

static void
mta_tx_body_fill(struct mta_session *s)
{
	struct conn *c = s->conn;
	ssize_t n;

	while (c->out.len < MTA_BODY_HIGH) {
		n = pread(s->job->req->msg_fd, s->chunk, MTA_BODY_CHUNK,
		    s->off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(s->why_status, sizeof(s->why_status), "4.3.0");
			snprintf(s->why, sizeof(s->why), "reading the queued "
			    "message failed: %s", strerror(errno));
			conn_abort(c, s->why);
			return;
		}
		if (n == 0) {
			mta_tx_body_end(s);
			return;
		}
		s->off += n;
		buf_reset(&s->stage);
		if (s->qp != NULL) {
			buf_reset(&s->qpout);
			(void)mta_qp_feed(s->qp, s->chunk, (size_t)n, &s->qpout);
			mta_tx_stuff(s, s->qpout.p, s->qpout.len);
		} else
			mta_tx_stuff(s, s->chunk, (size_t)n);
		conn_write(c, s->stage.p, s->stage.len);
		buf_reset(&s->stage);
		if (c->dead)
			return;
	}
	conn_want_drained(c, mta_tx_on_drained);
}

static void
mta_tx_body(struct mta_session *s)
{
	const struct mta_request *req = s->job->req;

	mta_session_enter(s, MTA_ST_BODY);
	s->off = req->msg_off;
	s->bol = true;
	s->cr = false;
	if (req->eightbit && !(s->ext.flags & MTA_EXT_8BITMIME))
		s->qp = mta_qp_new();
	if (s->chunk == NULL)
		s->chunk = xmalloc(MTA_BODY_CHUNK);
	conn_set_timeout(s->conn, s->mta->conf->mta_timeout_data_block);
	mta_tx_body_fill(s);
}

static void
mta_tx_on_drained(struct conn *c, void *arg)
{
	struct mta_session *s = arg;

	if (s->state != MTA_ST_BODY)
		return;
	conn_set_timeout(c, s->mta->conf->mta_timeout_data_block);
	mta_tx_body_fill(s);
}

void
mta_tx_on_mail(struct mta_session *s, const struct mta_reply *r)
{
	char line[MTA_REPLY_TEXT_MAX + 32], st[MTA_STATUS_MAX];
	struct mta_request *req = s->job->req;

	if (r->code / 100 == 2) {
		mta_session_enter(s, MTA_ST_RCPT);
		conn_set_timeout(s->conn, s->mta->conf->mta_timeout_rcpt);
		if (!s->pipelined) {
			buf_reset(&s->stage);
			mta_tx_rcpt_cmd(s, &req->rcpts[s->nsent++]);
			conn_write(s->conn, s->stage.p, s->stage.len);
			buf_reset(&s->stage);
		}
		return;
	}
	mta_reply_line(r, line, sizeof(line));
	mta_session_status(r, st, sizeof(st));
	if (r->code / 100 == 4) {
		/* RFC 5321 §5.1: another MX may take it */
		mta_session_failure(s, MTA_TEMP, st, false, "%s said to MAIL: %s",
		    s->relay, line);
		mta_session_host_failed(s, true);
		return;
	}
	mta_job_fail(s->job, MTA_PERM, st, line, s->relay);
	s->job = NULL;
	s->nmsgs++;
	/* pipelined RCPT replies are still to come: start afresh */
	mta_session_drop(s, "MAIL refused");
}

void
mta_tx_on_rcpt(struct mta_session *s, const struct mta_reply *r)
{
	struct mta_request *req = s->job->req;
	struct mta_rcpt *rc = &req->rcpts[s->nreplied++];

	if (r->code / 100 == 2) {
		rc->result = MTA_OK;	/* so far: the DATA reply decides */
		s->naccepted++;
	} else {
		rc->result = mta_session_result(r);
		mta_session_status(r, rc->status, sizeof(rc->status));
		mta_reply_line(r, rc->text, sizeof(rc->text));
		snprintf(rc->relay, sizeof(rc->relay), "%s", s->relay);
	}
	if (s->nreplied < req->nrcpts) {
		if (!s->pipelined) {
			buf_reset(&s->stage);
			mta_tx_rcpt_cmd(s, &req->rcpts[s->nsent++]);
			conn_write(s->conn, s->stage.p, s->stage.len);
			buf_reset(&s->stage);
		}
		conn_set_timeout(s->conn, s->mta->conf->mta_timeout_rcpt);
		return;
	}
	if (s->naccepted == 0) {
		mta_session_job_done(s);
		mta_session_next_job(s);
		return;
	}
	mta_session_cmd(s, MTA_ST_DATA, s->mta->conf->mta_timeout_data,
	    "DATA\r\n");
}

/* The reply to DATA (not 354) or to the final dot. */
void
mta_tx_on_final(struct mta_session *s, const struct mta_reply *r)
{
	char line[MTA_REPLY_TEXT_MAX + 32], st[MTA_STATUS_MAX];

	if (r->code == 354 && s->state == MTA_ST_DATA) {
		mta_tx_body(s);
		return;
	}
	mta_reply_line(r, line, sizeof(line));
	mta_session_status(r, st, sizeof(st));
	mta_tx_fail_rest(s, mta_session_result(r), st, line);
	mta_session_job_done(s);
	mta_session_next_job(s);
}
