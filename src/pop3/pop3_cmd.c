/* pop3_cmd.c: the TRANSACTION state (STAT, LIST, UIDL, RETR, TOP, DELE,
 * RSET) and UPDATE (QUIT).
 *
 * Multi-line answers are produced as the output drains (pop3_xfer_fill):
 * a 35 MB message is read 32 KB at a time, never held whole, and a LIST
 * of 500,000 messages never sits in memory at once.
 *
 * DELE only marks; the files are unlinked in UPDATE, after QUIT, while
 * the mailbox lock is still held, so another POP3 session never sees a
 * half-applied QUIT.  A dropped connection or a timeout deletes
 * nothing.  RETR marks the message \Seen in UPDATE too (one rename that
 * adds 'S' to its Maildir flags); TOP does not. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/workq.h"
#include "pop3/pop3_session.h"

#define POP3_READ_CHUNK		(32 * 1024)
#define POP3_LIST_BATCH		(16 * 1024)
/* Output produced per fill before looking at the buffer again. */
#define POP3_FILL_HIGH		(128 * 1024)

/* UPDATE runs in parts on the thread pool, at most this many at once
 * (half the pool: deliveries keep the other half), each of at least
 * this many messages. */
#define POP3_UPDATE_PARTS_MAX	4
#define POP3_UPDATE_PART_MIN	256

struct pop3_update {
	struct pop3_session	*s;
	struct pop3_mailbox	*mb;
	unsigned		 pending;	/* parts not done yet */
	char			 err[512];	/* the first failure */
};

struct pop3_update_part {
	struct pop3_update	*u;
	size_t			 from, to;	/* messages [from, to) */
	struct pop3_update_res	 res;
};

void
pop3_maildrop_stat(const struct pop3_session *s, size_t *n_r,
    uint64_t *size_r)
{
	const struct pop3_mailbox *mb = s->mb;
	size_t n = 0;
	uint64_t size = 0;

	for (size_t i = 0; mb != NULL && i < mb->n; i++) {
		if (mb->msgs[i].deleted)
			continue;
		n++;
		size += mb->msgs[i].size;
	}
	*n_r = n;
	*size_r = size;
}

/* The message a number names; NULL (and the reply sent) when none. */
static struct pop3_msg *
pop3_msg_arg(struct pop3_session *s, struct str arg, size_t *idx_r)
{
	uint32_t n;

	if (pop3_parse_num(arg, &n) == -1) {
		pop3_bad(s, "-ERR Invalid message number");
		return NULL;
	}
	if (n == 0 || n > s->mb->n) {
		pop3_reply(s, "-ERR No such message");
		return NULL;
	}
	if (s->mb->msgs[n - 1].deleted) {
		pop3_reply(s, "-ERR Message %u already deleted", n);
		return NULL;
	}
	*idx_r = n - 1;
	return &s->mb->msgs[n - 1];
}

/* --- producing multi-line answers ---------------------------------------- */

void
pop3_xfer_abort(struct pop3_session *s)
{
	if (s->xfer.fd != -1)
		close(s->xfer.fd);
	s->xfer.fd = -1;
	s->xfer.kind = POP3_XFER_NONE;
}

static void
pop3_xfer_msg(struct pop3_session *s)
{
	static char in[POP3_READ_CHUNK], out[2 * POP3_READ_CHUNK + 8];
	struct pop3_xfer *x = &s->xfer;
	size_t o, used;
	ssize_t n;

	n = read(x->fd, in, sizeof(in));
	if (n == -1 && errno == EINTR)
		return;
	if (n == -1) {
		log_event(s->id, "pop3", "store-error", "user=%s "
		    "reason=<read: %s>", s->user, strerror(errno));
		pop3_xfer_abort(s);
		pop3_enter_state(s, POP3_STATE_QUIT);
		conn_abort(s->conn, "read error");
		return;
	}
	o = 0;
	if (n > 0) {
		x->sent += (uint64_t)n;
		o = pop3_stuff(&x->st, in, (size_t)n, out, &used);
	}
	if (n == 0 || x->st.done) {
		o += pop3_stuff_end(&x->st, out + o);
		pop3_xfer_abort(s);
	}
	conn_write(s->conn, out, o);
}

static void
pop3_xfer_list(struct pop3_session *s)
{
	char out[POP3_LIST_BATCH], uidl[POP3_UIDL_MAX + 1];
	struct pop3_xfer *x = &s->xfer;
	const struct pop3_mailbox *mb = s->mb;
	size_t o = 0;
	int n;

	for (; x->next < mb->n && o + 128 < sizeof(out); x->next++) {
		const struct pop3_msg *m = &mb->msgs[x->next];

		if (m->deleted)
			continue;
		if (x->kind == POP3_XFER_LIST) {
			n = snprintf(out + o, sizeof(out) - o, "%zu %llu\r\n",
			    x->next + 1, (unsigned long long)m->size);
		} else {
			pop3_mailbox_uidl(mb, x->next, uidl);
			n = snprintf(out + o, sizeof(out) - o, "%zu %s\r\n",
			    x->next + 1, uidl);
		}
		o += (size_t)n;
	}
	if (x->next == mb->n) {
		memcpy(out + o, ".\r\n", 3);
		o += 3;
		x->kind = POP3_XFER_NONE;
	}
	conn_write(s->conn, out, o);
}

bool
pop3_xfer_fill(struct pop3_session *s)
{
	struct conn *c = s->conn;

	while (c != NULL && s->xfer.kind != POP3_XFER_NONE &&
	    c->out.len < POP3_FILL_HIGH && !c->dead && !c->closing) {
		if (s->xfer.kind == POP3_XFER_MSG)
			pop3_xfer_msg(s);
		else
			pop3_xfer_list(s);
	}
	if (c == NULL || c->dead || c->closing) {
		pop3_xfer_abort(s);
		return true;
	}
	if (s->xfer.kind != POP3_XFER_NONE) {
		/* a client that reads slowly but steadily is not idle */
		conn_set_timeout(c, s->srv->conf->pop3_timeout);
		pop3_wait_drain(s);
		return false;
	}
	if (!s->busy)
		conn_resume(c);
	return true;
}

static void
pop3_xfer_start(struct pop3_session *s, enum pop3_xfer_kind kind)
{
	s->xfer.kind = kind;
	s->xfer.next = 0;
	s->xfer.sent = 0;
	conn_pause(s->conn);
	pop3_xfer_fill(s);
}

/* --- commands ------------------------------------------------------------ */

void
pop3_do_stat(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	size_t n;
	uint64_t size;

	pop3_maildrop_stat(s, &n, &size);
	pop3_reply(s, "+OK %zu %llu", n, (unsigned long long)size);
}

static void
pop3_do_listing(struct pop3_session *s, const struct pop3_cmdline *cl,
    enum pop3_xfer_kind kind, const char *syntax)
{
	char uidl[POP3_UIDL_MAX + 1];
	struct pop3_msg *m;
	uint64_t size;
	size_t idx, n;

	if (cl->argc > 1 || cl->too_many) {
		pop3_bad(s, "%s", syntax);
		return;
	}
	if (cl->argc == 1) {
		if ((m = pop3_msg_arg(s, cl->argv[0], &idx)) == NULL)
			return;
		if (kind == POP3_XFER_LIST) {
			pop3_reply(s, "+OK %zu %llu", idx + 1,
			    (unsigned long long)m->size);
		} else {
			pop3_mailbox_uidl(s->mb, idx, uidl);
			pop3_reply(s, "+OK %zu %s", idx + 1, uidl);
		}
		return;
	}
	pop3_maildrop_stat(s, &n, &size);
	if (kind == POP3_XFER_LIST)
		pop3_reply(s, "+OK %zu messages (%llu octets)", n,
		    (unsigned long long)size);
	else
		pop3_reply(s, "+OK Unique-ID listing follows");
	pop3_xfer_start(s, kind);
}

void
pop3_do_list(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	pop3_do_listing(s, cl, POP3_XFER_LIST, "-ERR Syntax: LIST [msg]");
}

void
pop3_do_uidl(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	pop3_do_listing(s, cl, POP3_XFER_UIDL, "-ERR Syntax: UIDL [msg]");
}

/* RETR and TOP: open the file, answer, stream it. */
static void
pop3_send_msg(struct pop3_session *s, size_t idx, bool top, uint32_t lines)
{
	struct pop3_msg *m = &s->mb->msgs[idx];
	char uidl[POP3_UIDL_MAX + 1];
	int fd;

	if ((fd = pop3_mailbox_open_msg(s->mb, idx)) == -1) {
		if (errno == ENOENT) {
			pop3_reply(s, "-ERR Message %zu was removed by another "
			    "session", idx + 1);
			return;
		}
		log_event(s->id, "pop3", "store-error", "user=%s "
		    "reason=<open(%s): %s>", s->user, m->name, strerror(errno));
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot read the message");
		return;
	}
	pop3_mailbox_uidl(s->mb, idx, uidl);
	if (top) {
		log_debug(s->id, "pop3", "top", "user=%s msg=%zu uidl=%s "
		    "lines=%u", s->user, idx + 1, uidl, lines);
		pop3_reply(s, "+OK");
	} else {
		log_event(s->id, "pop3", "retr", "user=%s msg=%zu uidl=%s "
		    "size=%llu", s->user, idx + 1, uidl,
		    (unsigned long long)m->size);
		m->retrieved = true;
		s->nretr++;
		pop3_reply(s, "+OK %llu octets", (unsigned long long)m->size);
	}
	s->xfer.fd = fd;
	pop3_stuff_init(&s->xfer.st, top, lines);
	pop3_xfer_start(s, POP3_XFER_MSG);
}

void
pop3_do_retr(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	size_t idx;

	if (cl->argc != 1 || cl->too_many) {
		pop3_bad(s, "-ERR Syntax: RETR msg");
		return;
	}
	if (pop3_msg_arg(s, cl->argv[0], &idx) != NULL)
		pop3_send_msg(s, idx, false, 0);
}

void
pop3_do_top(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	uint32_t lines;
	size_t idx;

	if (cl->argc != 2 || cl->too_many) {
		pop3_bad(s, "-ERR Syntax: TOP msg lines");
		return;
	}
	if (pop3_parse_num(cl->argv[1], &lines) == -1) {
		pop3_bad(s, "-ERR Invalid number of lines");
		return;
	}
	if (pop3_msg_arg(s, cl->argv[0], &idx) != NULL)
		pop3_send_msg(s, idx, true, lines);
}

void
pop3_do_dele(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	char uidl[POP3_UIDL_MAX + 1];
	struct pop3_msg *m;
	size_t idx;

	if (cl->argc != 1 || cl->too_many) {
		pop3_bad(s, "-ERR Syntax: DELE msg");
		return;
	}
	if ((m = pop3_msg_arg(s, cl->argv[0], &idx)) == NULL)
		return;
	m->deleted = true;
	s->ndele++;
	pop3_mailbox_uidl(s->mb, idx, uidl);
	log_event(s->id, "pop3", "dele", "user=%s msg=%zu uidl=%s size=%llu",
	    s->user, idx + 1, uidl, (unsigned long long)m->size);
	pop3_reply(s, "+OK Message %zu deleted", idx + 1);
}

void
pop3_do_rset(struct pop3_session *s, const struct pop3_cmdline *cl)
{
	size_t n;
	uint64_t size;

	for (size_t i = 0; i < s->mb->n; i++)
		s->mb->msgs[i].deleted = false;
	if (s->ndele > 0)
		log_event(s->id, "pop3", "rset", "user=%s undeleted=%u",
		    s->user, s->ndele);
	s->ndele = 0;
	pop3_maildrop_stat(s, &n, &size);
	pop3_reply(s, "+OK maildrop has %zu messages (%llu octets)", n,
	    (unsigned long long)size);
}

/* --- UPDATE ---------------------------------------------------------------- */

static void
pop3_update_work(void *arg)
{
	struct pop3_update_part *part = arg;

	pop3_mailbox_update_range(part->u->mb, part->from, part->to,
	    &part->res);
}

static void
pop3_quit_log(struct pop3_session *s, size_t deleted, size_t seen,
    size_t failed)
{
	size_t n;
	uint64_t size;

	pop3_maildrop_stat(s, &n, &size);
	log_event(s->id, "pop3", "quit", "user=%s deleted=%zu seen=%zu "
	    "failed=%zu kept=%zu", s->user, deleted, seen, failed, n);
}

/* Every part is done: answer, close, and only then release the lock. */
static void
pop3_update_finish(struct pop3_update *u)
{
	struct pop3_session *s = u->s;
	struct pop3_mailbox *mb = u->mb;

	pop3_quit_log(s, mb->unlinked, mb->seen, mb->failed);
	if (mb->failed > 0) {
		log_event(s->id, "pop3", "store-error", "user=%s reason=<%s>",
		    s->user, u->err);
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed");
	} else {
		pop3_reply(s, "+OK facteur signing off (%zu messages deleted)",
		    mb->unlinked);
	}
	pop3_close(s, "quit");
	pop3_mailbox_free(&s->mb);
	free(u);
	s->busy = false;
	pop3_session_unref(s);
}

static void
pop3_update_done(void *arg)
{
	struct pop3_update_part *part = arg;
	struct pop3_update *u = part->u;

	u->mb->unlinked += part->res.unlinked;
	u->mb->seen += part->res.seen;
	u->mb->failed += part->res.failed;
	if (part->res.failed > 0 && u->err[0] == '\0')
		snprintf(u->err, sizeof(u->err), "%s", part->res.err);
	free(part);
	if (--u->pending == 0)
		pop3_update_finish(u);
}

/* Split the messages to update into parts of about equal work. */
static void
pop3_update_start(struct pop3_session *s, size_t work)
{
	struct pop3_mailbox *mb = s->mb;
	struct pop3_update *u = xcalloc(1, sizeof(*u));
	struct pop3_update_part *part;
	size_t nparts, per, from = 0, acc = 0;

	nparts = (work + POP3_UPDATE_PART_MIN - 1) / POP3_UPDATE_PART_MIN;
	if (nparts > POP3_UPDATE_PARTS_MAX)
		nparts = POP3_UPDATE_PARTS_MAX;
	per = (work + nparts - 1) / nparts;
	u->s = s;
	u->mb = mb;
	for (size_t i = 0; i < mb->n; i++) {
		acc += mb->msgs[i].deleted || mb->msgs[i].retrieved;
		if (acc < per && (i + 1 < mb->n || acc == 0))
			continue;	/* a tail without work needs no part */
		part = xcalloc(1, sizeof(*part));
		part->u = u;
		part->from = from;
		part->to = i + 1;
		u->pending++;
		workq_push(s->srv->wq, pop3_update_work, pop3_update_done,
		    part);
		from = i + 1;
		acc = 0;
	}
}

void
pop3_do_quit_update(struct pop3_session *s)
{
	size_t work = 0;

	for (size_t i = 0; i < s->mb->n; i++)
		work += s->mb->msgs[i].deleted || s->mb->msgs[i].retrieved;
	pop3_enter_state(s, POP3_STATE_UPDATE);
	if (work == 0) {
		pop3_quit_log(s, 0, 0, 0);
		pop3_reply(s, "+OK facteur signing off (0 messages deleted)");
		pop3_close(s, "quit");
		pop3_mailbox_free(&s->mb);
		return;
	}
	s->busy = true;
	s->refs++;
	conn_pause(s->conn);
	pop3_update_start(s, work);
}
