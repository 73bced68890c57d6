/* smtp_tx.c: one message: trace headers, DATA and BDAT content into a
 * Maildir tmp file, and the durable commit (in the thread pool) before
 * the 250 reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/workq.h"
#include "smtp/smtp_session.h"
#include "store/maildir.h"

struct smtp_commit {
	struct smtp_commit	*next;		/* in a group commit */
	struct smtp_session	*s;
	const char		*data_dir;
	struct maildir_tmp	 tmp;
	bool			 local;
	const char		**dirs;
	size_t			 ndirs;
	struct queue_new	 qn;
	bool			 queued;
	struct envelope		 env;
	int			 rc;
	char			 err[512];
	uint64_t		 qid;
	uint64_t		 size;
};

void
smtp_tx_reset(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;

	if (tx->tmp_open)
		maildir_tmp_abort(&tx->tmp);
	if (tx->qn_open)
		queue_fs_abort(&tx->qn);
	buf_free(&tx->hdr);
	for (size_t i = 0; i < tx->nrcpts; i++) {
		free(tx->rcpts[i].addr);
		free(tx->rcpts[i].orcpt);
	}
	free(tx->rcpts);
	for (size_t i = 0; i < tx->nremotes; i++)
		free(tx->remotes[i].addr);
	free(tx->remotes);
	for (size_t i = 0; i < tx->ntargets; i++) {
		free(tx->targets[i].maildir);
		free(tx->targets[i].user);
	}
	free(tx->targets);
	memset(tx, 0, sizeof(*tx));
}

static bool
smtp_tx_has_target(const struct smtp_tx *tx, const char *maildir)
{
	for (size_t i = 0; i < tx->ntargets; i++)
		if (strcmp(tx->targets[i].maildir, maildir) == 0)
			return true;
	return false;
}

int
smtp_tx_add_rcpt(struct smtp_session *s, const char *addr,
    const struct smtp_rcpt_args *args)
{
	struct smtp_tx *tx = &s->tx;
	struct smtp_rcpt *r;

	tx->rcpts = xrealloc(tx->rcpts, (tx->nrcpts + 1) * sizeof(*tx->rcpts));
	r = &tx->rcpts[tx->nrcpts++];
	r->addr = xstrdup(addr);
	r->orcpt = args->orcpt[0] != '\0' ? xstrdup(args->orcpt) : NULL;
	r->notify = args->notify;
	return 0;
}

static bool
smtp_tx_has_remote(const struct smtp_tx *tx, const char *addr)
{
	for (size_t i = 0; i < tx->nremotes; i++)
		if (strcasecmp(tx->remotes[i].addr, addr) == 0)
			return true;
	return false;
}

size_t
smtp_tx_new_remotes(struct smtp_session *s, const char *const *addrs,
    size_t n)
{
	size_t fresh = 0;

	for (size_t i = 0; i < n; i++) {
		bool dup = smtp_tx_has_remote(&s->tx, addrs[i]);

		for (size_t j = 0; j < i && !dup; j++)
			dup = strcasecmp(addrs[i], addrs[j]) == 0;
		fresh += !dup;
	}
	return fresh;
}

/* A remote address for the queue; the DSN parameters are those of the
 * recipient being accepted (the last one added). */
int
smtp_tx_add_remote(struct smtp_session *s, const char *addr)
{
	struct smtp_tx *tx = &s->tx;

	if (smtp_tx_has_remote(tx, addr))
		return 0;
	tx->remotes = xrealloc(tx->remotes,
	    (tx->nremotes + 1) * sizeof(*tx->remotes));
	tx->remotes[tx->nremotes].addr = xstrdup(addr);
	tx->remotes[tx->nremotes].rcpt = tx->nrcpts - 1;
	tx->nremotes++;
	return 0;
}

/* How many of these mailboxes the transaction does not have yet. */
size_t
smtp_tx_new_targets(struct smtp_session *s, const char *const *maildirs,
    size_t n)
{
	size_t fresh = 0;

	for (size_t i = 0; i < n; i++) {
		bool dup = smtp_tx_has_target(&s->tx, maildirs[i]);

		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(maildirs[i], maildirs[j]) == 0;
		fresh += !dup;
	}
	return fresh;
}

int
smtp_tx_add_target(struct smtp_session *s, const char *maildir,
    const char *user)
{
	struct smtp_tx *tx = &s->tx;

	if (smtp_tx_has_target(tx, maildir))
		return 0;	/* one copy per mailbox */
	if (tx->ntargets >= s->srv->conf->smtp_max_rcpts)
		return -1;
	tx->targets = xrealloc(tx->targets,
	    (tx->ntargets + 1) * sizeof(*tx->targets));
	tx->targets[tx->ntargets].maildir = xstrdup(maildir);
	tx->targets[tx->ntargets].user = xstrdup(user);
	tx->ntargets++;
	return 0;
}

static const char *
smtp_tx_protocol(struct smtp_session *s)
{
	bool tls = s->conn->tls == CONN_TLS_ON, auth = s->auth_user[0] != '\0';

	/* RFC 3848 */
	if (!s->esmtp)
		return "SMTP";
	if (auth)
		return tls ? "ESMTPSA" : "ESMTPA";
	return tls ? "ESMTPS" : "ESMTP";
}

/* Return-Path, Delivered-To (one mailbox only: several share one file)
 * for the Maildir copy; the Received header (RFC 5321 §4.4) for both. */
static void
smtp_tx_trace(struct smtp_session *s, struct buf *b, bool local)
{
	struct smtp_tx *tx = &s->tx;
	struct conn *c = s->conn;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (local) {
		buf_printf(b, "Return-Path: <%s>\r\n", tx->mail.path.addr);
		if (tx->ntargets == 1)
			buf_printf(b, "Delivered-To: %s\r\n",
			    tx->targets[0].user);
	}
	buf_printf(b, "Received: from %s ([%s])\r\n\tby %s (facteur) with %s "
	    "id %016llx", s->helo, c->addr, s->srv->conf->hostname,
	    smtp_tx_protocol(s), (unsigned long long)tx->qid);
	if (c->tls == CONN_TLS_ON)
		buf_printf(b, "\r\n\t(%s)", c->tls_info);
	if (tx->nrcpts == 1)
		buf_printf(b, "\r\n\tfor <%s>", tx->rcpts[0].addr);
	buf_printf(b, "; %s\r\n", date);
}

static int
smtp_tx_open_local(struct smtp_session *s, const char **err_r)
{
	struct smtp_tx *tx = &s->tx;
	const char *dir = tx->targets[0].maildir;

	if (maildir_tmp_open(dir, &tx->tmp, err_r) == -1 &&
	    (maildir_create(dir, (uid_t)-1, (gid_t)-1, err_r) == -1 ||
	    maildir_tmp_open(dir, &tx->tmp, err_r) == -1))
		return -1;
	tx->tmp_open = true;
	return 0;
}

static void	smtp_tx_envelope(struct smtp_session *, struct envelope *);

/* The queue file; its header block is sized for the envelope as known
 * now (the envelope itself is written at the commit). */
static int
smtp_tx_open_queue(struct smtp_session *s, const char **err_r)
{
	struct smtp_tx *tx = &s->tx;
	struct envelope proto;
	int rc;

	smtp_tx_envelope(s, &proto);
	rc = queue_fs_new(s->srv->conf->data_dir, tx->qid, &proto, &tx->qn,
	    err_r);
	envelope_clear(&proto);
	if (rc == -1)
		return -1;
	tx->qn_open = true;
	tx->qid = tx->qn.qid;	/* another when a spare's name was taken */
	return 0;
}

/* Write p to every open copy; a failure is remembered for the reply. */
static void
smtp_tx_write(struct smtp_session *s, const void *p, size_t n)
{
	struct smtp_tx *tx = &s->tx;
	const char *err;

	if (tx->write_err != NULL || n == 0)
		return;
	if (tx->tmp_open && maildir_tmp_write(&tx->tmp, p, n, &err) == -1)
		tx->write_err = err;
	else if (tx->qn_open && queue_fs_write(&tx->qn, p, n, &err) == -1)
		tx->write_err = err;
}

/* The trace headers of each copy, then what the message lacks. */
static void
smtp_tx_write_trace(struct smtp_session *s, const char *extra)
{
	struct smtp_tx *tx = &s->tx;
	const char *err;
	struct buf b;

	buf_init(&b, 16384);
	if (tx->tmp_open) {
		smtp_tx_trace(s, &b, true);
		buf_append_str(&b, extra);
		if (maildir_tmp_write(&tx->tmp, b.p, b.len, &err) == -1)
			tx->write_err = err;
		buf_reset(&b);
	}
	if (tx->qn_open && tx->write_err == NULL) {
		smtp_tx_trace(s, &b, false);
		buf_append_str(&b, extra);
		if (queue_fs_write(&tx->qn, b.p, b.len, &err) == -1)
			tx->write_err = err;
	}
	buf_free(&b);
}

/* A header line starting at p names this field? */
static bool
smtp_tx_has_field(const struct buf *h, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i + n <= h->len; i++) {
		if (i > 0 && (i < 2 || h->p[i - 1] != '\n'))
			continue;
		if (strncasecmp(h->p + i, name, n) == 0)
			return true;
	}
	return false;
}

/* Submission (RFC 6409 §8): add Message-ID and Date when the client did
 * not; written right after our trace headers, before the client's. */
static void
smtp_tx_flush_header(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	char extra[512] = "", date[64];
	struct tm tm;
	time_t now = time(NULL);
	int n = 0;

	tx->hdr_hold = false;
	if (!smtp_tx_has_field(&tx->hdr, "message-id:"))
		n += snprintf(extra + n, sizeof(extra) - (size_t)n,
		    "Message-ID: <%016llx.%016llx@%s>\r\n",
		    (unsigned long long)tx->qid, (unsigned long long)s->id,
		    s->srv->conf->hostname);
	if (!smtp_tx_has_field(&tx->hdr, "date:")) {
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		snprintf(extra + n, sizeof(extra) - (size_t)n, "Date: %s\r\n",
		    date);
	}
	smtp_tx_write_trace(s, extra);
	smtp_tx_write(s, tx->hdr.p, tx->hdr.len);
	buf_free(&tx->hdr);
}

/* DATA or the first BDAT: open the Maildir copy (local recipients) and
 * the queue copy (remote ones).  Submitted messages keep their header
 * block in memory until it ends, to complete it. */
int
smtp_tx_begin(struct smtp_session *s)
{
	const struct conf *conf = s->srv->conf;
	struct smtp_tx *tx = &s->tx;
	const char *err = NULL;

	smtp_data_init(&tx->data, conf->smtp_max_message_size,
	    conf->smtp_max_header_size);
	if ((tx->ntargets > 0 && smtp_tx_open_local(s, &err) == -1) ||
	    (tx->nremotes > 0 && smtp_tx_open_queue(s, &err) == -1)) {
		log_event(tx->qid, "smtp", "store-error", "reason=<%s>", err);
		if (tx->tmp_open)
			maildir_tmp_abort(&tx->tmp);
		if (tx->qn_open)
			queue_fs_abort(&tx->qn);
		tx->tmp_open = tx->qn_open = false;
		return -1;
	}
	if (s->kind == SMTP_KIND_MX) {
		smtp_tx_write_trace(s, "");
		return 0;
	}
	/* submission and local programs: complete the header (RFC 6409) */
	tx->hdr_hold = true;
	tx->hdr_state = 2;	/* "just after a line end": an empty header */
	buf_init(&tx->hdr, conf->smtp_max_header_size + 4);
	return 0;
}

/* Hold header bytes until the empty line; returns how many of p[0..n)
 * belong to the header. */
static size_t
smtp_tx_hold(struct smtp_session *s, const char *p, size_t n)
{
	struct smtp_tx *tx = &s->tx;
	size_t i;

	for (i = 0; i < n && tx->hdr_hold; i++) {
		/* hdr_state: 0 in a line, 1 saw CR, 2 at a line start,
		 * 3 CR at a line start */
		switch (p[i]) {
		case '\r':
			tx->hdr_state = tx->hdr_state == 2 ? 3 : 1;
			break;
		case '\n':
			if (tx->hdr_state == 3)
				tx->hdr_hold = false;	/* the empty line */
			else
				tx->hdr_state = 2;
			break;
		default:
			tx->hdr_state = 0;
		}
	}
	if (buf_append(&tx->hdr, p, i) == -1)
		tx->hdr_hold = false;	/* too big: refused at the end */
	return i;
}

/* Sink for unstuffed content: into the open copies.  A failed write is
 * remembered; reading goes on to the end marker so the client's next
 * command is found, and the reply is then 451. */
static int
smtp_tx_out(void *arg, const char *p, size_t n)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	size_t used;

	if (tx->hdr_hold) {
		used = smtp_tx_hold(s, p, n);
		if (tx->hdr_hold)
			return 0;
		smtp_tx_flush_header(s);
		p += used;
		n -= used;
	}
	smtp_tx_write(s, p, n);
	return 0;
}

/* The envelope of the queued copy. */
static void
smtp_tx_envelope(struct smtp_session *s, struct envelope *e)
{
	struct smtp_tx *tx = &s->tx;

	memset(e, 0, sizeof(*e));
	e->qid = tx->qid;
	e->created = time(NULL);
	snprintf(e->from, sizeof(e->from), "%s", tx->mail.path.addr);
	snprintf(e->helo, sizeof(e->helo), "%s", s->helo);
	snprintf(e->client_addr, sizeof(e->client_addr), "%s", s->conn->addr);
	snprintf(e->auth_user, sizeof(e->auth_user), "%s", s->auth_user);
	snprintf(e->envid, sizeof(e->envid), "%s", tx->mail.envid);
	e->ret = tx->mail.ret;
	e->eightbit = tx->data.eightbit ||
	    tx->mail.body == SMTP_BODY_8BITMIME;
	e->smtputf8 = tx->mail.smtputf8;
	for (size_t i = 0; i < tx->nremotes; i++) {
		const struct smtp_rcpt *r = &tx->rcpts[tx->remotes[i].rcpt];

		envelope_add_rcpt(e, tx->remotes[i].addr,
		    r->orcpt != NULL ? r->orcpt : "", r->notify);
	}
}

static void
smtp_commit_work(void *arg)
{
	struct smtp_commit *cm = arg;
	char path[MAILDIR_PATH_MAX];
	struct stat st;
	const char *err;

	/* a mailbox deleted by hand comes back (the account still exists) */
	for (size_t i = 1; i < cm->ndirs; i++) {
		snprintf(path, sizeof(path), "%s/new", cm->dirs[i]);
		if (stat(path, &st) == -1)
			(void)maildir_create(cm->dirs[i], (uid_t)-1, (gid_t)-1,
			    &err);
	}
	/* the queue first: if the Maildir fails after it, the queued copy
	 * is taken back before anyone knows of it */
	cm->rc = 0;
	if (cm->queued && queue_fs_commit(cm->data_dir, &cm->qn, &cm->env,
	    &err) == -1) {
		snprintf(cm->err, sizeof(cm->err), "%s", err);
		cm->rc = -1;
		if (cm->local)
			maildir_tmp_abort(&cm->tmp);
		return;
	}
	if (cm->local && maildir_tmp_commit(&cm->tmp, cm->dirs, cm->ndirs,
	    &err) == -1) {
		snprintf(cm->err, sizeof(cm->err), "%s", err);
		cm->rc = -1;
		if (cm->queued)
			(void)queue_fs_remove(cm->data_dir, cm->qn.qid, &err);
	}
}

static void
smtp_commit_done(void *arg)
{
	struct smtp_commit *cm = arg;
	struct smtp_session *s = cm->s;
	struct smtp_tx *tx = &s->tx;

	if (cm->rc == 0) {
		for (size_t i = 0; i < tx->ntargets; i++)
			log_event(cm->qid, "smtp", "delivered",
			    "to=<%s> size=%llu", tx->targets[i].user,
			    (unsigned long long)cm->size);
		if (cm->queued && s->srv->queued != NULL)
			s->srv->queued(s->srv->queued_ctx, cm->qid);
		smtp_reply(s, "250 2.0.0 Ok: queued as %016llx",
		    (unsigned long long)cm->qid);
	} else {
		log_event(cm->qid, "smtp", "store-error", "reason=<%s>",
		    cm->err);
		smtp_reply(s, "451 4.3.0 Error: local delivery failed, try "
		    "again later");
	}
	free(cm->dirs);
	envelope_clear(&cm->env);
	free(cm);
	smtp_tx_reset(s);
	if (s->state != SMTP_STATE_QUIT)
		smtp_enter_state(s, SMTP_STATE_READY);
	smtp_session_resume(s);
	smtp_session_unref(s);
}

/* --- group commit ------------------------------------------------------
 *
 * Messages for the queue are made durable in batches: while one batch is
 * on disk, the messages that arrive wait, then go together, sharing the
 * queue directory's fsync (queue_fs_commit_batch).  With one session the
 * batch is one message and nothing waits more than it would alone. */

struct smtp_batch {
	struct smtp_server	*srv;
	struct smtp_commit	**cms;
	size_t			 n;
};

static void	smtp_batch_start(struct smtp_server *);

static void
smtp_batch_work(void *arg)
{
	struct smtp_batch *b = arg;
	struct queue_new **ns = xcalloc(b->n, sizeof(*ns));
	struct envelope **es = xcalloc(b->n, sizeof(*es));
	int *results = xcalloc(b->n, sizeof(*results));
	const char *err;

	for (size_t i = 0; i < b->n; i++) {
		ns[i] = &b->cms[i]->qn;
		es[i] = &b->cms[i]->env;
	}
	(void)queue_fs_commit_batch(b->cms[0]->data_dir, ns, es, b->n,
	    results, &err);
	for (size_t i = 0; i < b->n; i++) {
		struct smtp_commit *cm = b->cms[i];

		cm->rc = 0;
		if (results[i] != 0) {
			snprintf(cm->err, sizeof(cm->err), "queue commit: %s",
			    strerror(results[i]));
			cm->rc = -1;
			if (cm->local)
				maildir_tmp_abort(&cm->tmp);
			continue;
		}
		/* the rare message with local recipients too */
		if (cm->local && maildir_tmp_commit(&cm->tmp, cm->dirs,
		    cm->ndirs, &err) == -1) {
			snprintf(cm->err, sizeof(cm->err), "%s", err);
			cm->rc = -1;
			(void)queue_fs_remove(cm->data_dir, cm->qid, &err);
		}
	}
	free(ns);
	free(es);
	free(results);
}

static void
smtp_batch_done(void *arg)
{
	struct smtp_batch *b = arg;
	struct smtp_server *srv = b->srv;

	for (size_t i = 0; i < b->n; i++)
		smtp_commit_done(b->cms[i]);
	free(b->cms);
	free(b);
	srv->commit_busy = false;
	if (srv->commit_pending != NULL)
		smtp_batch_start(srv);
}

static void
smtp_batch_start(struct smtp_server *srv)
{
	struct smtp_batch *b = xcalloc(1, sizeof(*b));
	struct smtp_commit *cm;
	size_t n = 0;

	for (cm = srv->commit_pending; cm != NULL; cm = cm->next)
		n++;
	b->srv = srv;
	b->cms = xcalloc(n, sizeof(*b->cms));
	for (cm = srv->commit_pending; cm != NULL; cm = cm->next)
		b->cms[b->n++] = cm;
	srv->commit_pending = NULL;
	srv->commit_busy = true;
	log_debug(0, "smtp", "group-commit", "messages=%zu", n);
	workq_push(srv->wq, smtp_batch_work, smtp_batch_done, b);
}

static void
smtp_batch_add(struct smtp_server *srv, struct smtp_commit *cm)
{
	struct smtp_commit **pp = &srv->commit_pending;

	while (*pp != NULL)	/* arrival order */
		pp = &(*pp)->next;
	cm->next = NULL;
	*pp = cm;
	if (!srv->commit_busy)
		smtp_batch_start(srv);
}

/* Judge the finished content; on success hand the commit to a thread. */
static void
smtp_tx_finish(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct smtp_commit *cm;
	unsigned e = tx->data.errors;

	if (tx->hdr_hold)	/* a message that is all header */
		smtp_tx_flush_header(s);
	s->mails++;
	smtp_enter_state(s, SMTP_STATE_READY);
	conn_set_timeout(s->conn, s->srv->conf->smtp_timeout);
	if (e != 0 || tx->write_err != NULL ||
	    (!tx->tmp_open && !tx->qn_open)) {
		const char *why;

		if (e & (SMTP_DATA_ERR_BARE_LF | SMTP_DATA_ERR_BARE_CR)) {
			why = "bare CR or LF";
			smtp_reply(s, "554 5.6.0 Error: bare CR or LF in message "
			    "refused (RFC 5321 section 2.3.8)");
		} else if (e & SMTP_DATA_ERR_TOO_BIG) {
			why = "too big";
			smtp_reply(s, "552 5.3.4 Error: message size exceeds "
			    "fixed limit");
		} else if (e & SMTP_DATA_ERR_HEADER) {
			why = "header too big";
			smtp_reply(s, "552 5.3.4 Error: message header size "
			    "exceeds limit");
		} else {
			why = tx->write_err != NULL ? tx->write_err :
			    "store unavailable";
			smtp_reply(s, "451 4.3.0 Error: local delivery failed, "
			    "try again later");
		}
		log_event(tx->qid, "smtp", "rejected", "from=<%s> size=%llu "
		    "reason=<%s>", tx->mail.path.addr,
		    (unsigned long long)tx->data.size, why);
		smtp_tx_reset(s);
		return;
	}
	log_event(tx->qid, "smtp", "queued", "session=%016llx from=<%s> "
	    "rcpts=%zu local=%zu remote=%zu size=%llu body=%s%s%s",
	    (unsigned long long)s->id, tx->mail.path.addr, tx->nrcpts,
	    tx->ntargets, tx->nremotes, (unsigned long long)tx->data.size,
	    tx->data.eightbit ? "8bit" : "7bit",
	    tx->mail.envid[0] ? " envid=" : "", tx->mail.envid);
	cm = xcalloc(1, sizeof(*cm));
	cm->s = s;
	cm->data_dir = s->srv->conf->data_dir;
	cm->tmp = tx->tmp;
	cm->local = tx->tmp_open;
	tx->tmp_open = false;	/* the commit owns the files now */
	cm->qn = tx->qn;
	cm->queued = tx->qn_open;
	tx->qn_open = false;
	if (cm->queued)
		smtp_tx_envelope(s, &cm->env);
	cm->qid = tx->qid;
	cm->size = tx->data.size;
	cm->ndirs = tx->ntargets;
	cm->dirs = xcalloc(tx->ntargets, sizeof(char *));
	for (size_t i = 0; i < tx->ntargets; i++)
		cm->dirs[i] = tx->targets[i].maildir;
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	if (cm->queued)
		smtp_batch_add(s->srv, cm);
	else
		workq_push(s->srv->wq, smtp_commit_work, smtp_commit_done, cm);
}

/* A live but slow transfer is bounded too (smtp_data_timeout); an idle
 * one is caught by the idle timer. */
static bool
smtp_tx_too_slow(struct smtp_session *s)
{
	if (time(NULL) - s->data_started <=
	    (time_t)s->srv->conf->smtp_data_timeout)
		return false;
	log_event(s->tx.qid, "smtp", "rejected", "reason=<data timeout>");
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    s->srv->conf->hostname);
	smtp_tx_reset(s);
	smtp_close(s, "data timeout");
	return true;
}

void
smtp_tx_data_input(struct smtp_session *s)
{
	struct conn *c = s->conn;
	size_t used = 0;
	int r;

	if (smtp_tx_too_slow(s))
		return;
	r = smtp_data_feed(&s->tx.data, c->in.p, c->in.len, &used,
	    smtp_tx_out, s);
	buf_consume(&c->in, used);
	if (r == -1) {		/* the sink failed: cannot happen today */
		smtp_reply(s, "451 4.3.0 Error: local delivery failed");
		smtp_tx_reset(s);
		smtp_close(s, "data sink failed");
		return;
	}
	if (r == SMTP_DATA_LINE_TOO_LONG) {
		log_event(s->tx.qid, "smtp", "rejected", "reason=<line too long>");
		smtp_reply(s, "500 5.5.2 Error: line too long in message");
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_STATE_QUIT);
		conn_close(c, "data line too long");
		return;
	}
	if (r == SMTP_DATA_DONE)
		smtp_tx_finish(s);
}

/* --- BDAT (RFC 3030) ---------------------------------------------------- */

static int
smtp_tx_parse_bdat(struct str args, uint64_t *size_r, bool *last_r)
{
	size_t i = 0;
	uint64_t n = 0;

	if (args.len == 0)
		return -1;
	for (; i < args.len && args.p[i] >= '0' && args.p[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(args.p[i] - '0');
	}
	if (i == 0)
		return -1;
	*size_r = n;
	*last_r = false;
	if (i == args.len)
		return 0;
	while (i < args.len && args.p[i] == ' ')
		i++;
	if (str_eq_ci(str_make(args.p + i, args.len - i), STR_LIT("LAST"))) {
		*last_r = true;
		return 0;
	}
	return -1;
}

void
smtp_tx_bdat(struct smtp_session *s, struct str args)
{
	struct smtp_tx *tx = &s->tx;
	uint64_t size;
	bool last;

	if (smtp_tx_parse_bdat(args, &size, &last) == -1) {
		/* the chunk size is unknown: the stream is lost */
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_close(s, "bad BDAT");
		return;
	}
	/* a chunk larger than any message is not read: the stream is lost,
	 * close.  A smaller one that overflows is read and refused (552) at
	 * its end, by the size check of the data machine. */
	if (size > s->srv->conf->smtp_max_message_size) {
		log_event(tx->qid, "smtp", "rejected", "reason=<BDAT chunk of "
		    "%llu bytes over the size limit>", (unsigned long long)size);
		smtp_reply(s, "552 5.3.4 Error: message size exceeds fixed "
		    "limit");
		smtp_tx_reset(s);
		smtp_close(s, "BDAT too big");
		return;
	}
	tx->bdat_left = size;
	tx->bdat_last = last;
	tx->bdat_discard = false;
	tx->bdat_reply = 0;
	if (s->state != SMTP_STATE_RCPT) {
		tx->bdat_discard = true;
		tx->bdat_reply = 503;
		tx->bdat_reply_text = s->state == SMTP_STATE_MAIL ?
		    "503 5.5.1 Error: need RCPT command" :
		    s->state == SMTP_STATE_CONNECTED ?
		    "503 5.5.1 Error: send HELO/EHLO first" :
		    "503 5.5.1 Error: need MAIL command";
	} else if (!tx->bdat) {
		if (smtp_tx_begin(s) == -1) {
			tx->bdat_discard = true;
			tx->bdat_reply = 451;
			tx->bdat_reply_text = "451 4.3.0 Error: cannot store "
			    "the message now";
		} else {
			tx->bdat = true;
			s->data_started = time(NULL);
		}
	}
	s->tx.data_prev_state = s->state;
	smtp_enter_state(s, SMTP_STATE_BDAT);
	if (size == 0)
		smtp_tx_bdat_input(s);
}

static void
smtp_tx_bdat_chunk_end(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;

	if (tx->bdat_discard) {
		smtp_enter_state(s, tx->data_prev_state);
		if (tx->bdat_reply == 451) {
			smtp_tx_reset(s);
			smtp_enter_state(s, SMTP_STATE_READY);
		}
		smtp_bad(s, "%s", tx->bdat_reply_text);
		return;
	}
	if (!tx->bdat_last) {
		smtp_enter_state(s, SMTP_STATE_RCPT);
		smtp_reply(s, "250 2.0.0 Ok: %llu octets received",
		    (unsigned long long)tx->data.size);
		return;
	}
	smtp_data_finish_chunks(&tx->data, smtp_tx_out, s);
	smtp_tx_finish(s);
}

void
smtp_tx_bdat_input(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct conn *c = s->conn;
	size_t n = c->in.len;

	if (tx->bdat && smtp_tx_too_slow(s))
		return;
	if (n > tx->bdat_left)
		n = (size_t)tx->bdat_left;
	if (n > 0 && !tx->bdat_discard)
		smtp_data_feed_chunk(&tx->data, c->in.p, n,
		    tx->mail.body == SMTP_BODY_BINARYMIME, smtp_tx_out, s);
	buf_consume(&c->in, n);
	tx->bdat_left -= n;
	if (tx->bdat_left == 0)
		smtp_tx_bdat_chunk_end(s);
}
