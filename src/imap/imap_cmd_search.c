/* imap_cmd_search.c: SEARCH, SORT and THREAD and their UID forms (RFC
 * 9051 §6.4.4, RFC 3501, RFC 5256), with ESEARCH (RFC 4731; the only
 * SEARCH answer in IMAP4rev2), SEARCHRES (RFC 5182: RETURN (SAVE) and
 * "$"), CONDSTORE's MODSEQ key and result (RFC 7162 §3.1.5).
 *
 * Matching is imap_msg.c's: each message is looked at once, its file
 * mapped only when a key needs it.  A search that reads files gives the
 * thread pool back every IMAP_SEARCH_SLICE messages (IMAP_JOB_MORE with
 * its place in s->cmd_state), so one SEARCH BODY over a big mailbox
 * does not stall every other session of the worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "imap/imap_cmd_int.h"
#include "imap/imap_msg.h"

/* Messages whose files a search reads before it lets other sessions'
 * jobs have the thread pool (IMAP_JOB_MORE with nothing to send). */
#define IMAP_SEARCH_SLICE	2000

struct imap_search_res {
	uint32_t	*idx;		/* matching view indexes, ascending */
	size_t		 n;
	uint64_t	 modseq;	/* highest among them */
	uint32_t	 next;		/* the next message to look at */
	bool		 modseq_key;	/* the program has a MODSEQ key */
};

static void
imap_cmd_search_res_free(void *arg)
{
	struct imap_search_res *res = arg;

	if (res != NULL)
		free(res->idx);
	free(res);
}

static const struct imap_search *
imap_cmd_search_program(const struct imap_command *c)
{
	switch (c->id) {
	case IMAP_CMD_SORT:
		return &c->u.sort.search;
	case IMAP_CMD_THREAD:
		return &c->u.thread.search;
	default:
		return &c->u.search;
	}
}

static bool
imap_cmd_search_charset_ok(struct str cs)
{
	return cs.len == 0 || str_eq_ci_cstr(cs, "UTF-8") ||
	    str_eq_ci_cstr(cs, "US-ASCII");
}

/* Does the program use the MODSEQ key?  Bounded by the parser's
 * nesting limit. */
static bool
imap_cmd_search_has_modseq(const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		switch (k->op) {
		case IMAP_SK_MODSEQ:
			return true;
		case IMAP_SK_AND:
		case IMAP_SK_NOT:
			if (imap_cmd_search_has_modseq(k->u.sub))
				return true;
			break;
		case IMAP_SK_OR:
			if (imap_cmd_search_has_modseq(k->u.or.a) ||
			    imap_cmd_search_has_modseq(k->u.or.b))
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

/* Match messages from res->next on: 1 when a slice is done and more
 * remain, 0 when all were seen, or an MSTORE_E* code. */
static int
imap_cmd_search_run(struct imap_session *s, const struct imap_search *q,
    struct imap_search_res *res, const char **err_r)
{
	struct mstore_view *v = s->view;
	struct imap_search_ctx ctx;
	const struct mstore_msg *m;
	struct imap_msg md;
	uint32_t count = mstore_view_count(v), slice;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.count = count;
	ctx.uidmax = count > 0 ? mstore_view_msg(v, count - 1)->uid : 0;
	ctx.saved = s->saved;
	ctx.nsaved = s->nsaved;
	ctx.now = time(NULL);
	ctx.nkw = mstore_view_keywords(v, &ctx.kwnames);
	if (res->idx == NULL && count > 0)
		res->idx = xcalloc(count, sizeof(*res->idx));
	/* flags, sizes and dates only: no file is read, no need to pause */
	slice = imap_search_cheap(q->root) ? UINT32_MAX : IMAP_SEARCH_SLICE;
	for (; res->next < count && slice > 0; res->next++, slice--) {
		imap_msg_init(&md, v, res->next);
		r = imap_search_match(&ctx, q->root, &md, err_r);
		imap_msg_release(&md);
		if (r == MSTORE_EGONE)	/* expunged under us: no match */
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		res->idx[res->n++] = res->next;
		m = mstore_view_msg(v, res->next);
		if (m->modseq > res->modseq)
			res->modseq = m->modseq;
	}
	return res->next < count ? 1 : 0;
}

/* The number a client sees for index i. */
static uint32_t
imap_cmd_search_num(const struct imap_session *s, uint32_t i)
{
	return s->cmd->uid ? mstore_view_msg(s->view, i)->uid : i + 1;
}

static int
imap_cmd_search_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* RETURN (SAVE): remember the UIDs for "$"; with MIN and/or MAX but
 * neither ALL nor COUNT only those (RFC 5182 §2.1). */
static void
imap_cmd_search_save(struct imap_session *s, unsigned ret,
    const struct imap_search_res *res)
{
	bool only_ends = (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX))
	    && !(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT));
	size_t i;

	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	if (res->n == 0)
		return;
	s->saved = xcalloc(res->n, sizeof(*s->saved));
	if (!only_ends) {
		for (i = 0; i < res->n; i++)
			s->saved[i] = mstore_view_msg(s->view,
			    res->idx[i])->uid;
		s->nsaved = res->n;
	} else {
		if (ret & IMAP_SEARCH_RET_MIN)
			s->saved[s->nsaved++] = mstore_view_msg(s->view,
			    res->idx[0])->uid;
		if ((ret & IMAP_SEARCH_RET_MAX) &&
		    (s->nsaved == 0 || res->n > 1))
			s->saved[s->nsaved++] = mstore_view_msg(s->view,
			    res->idx[res->n - 1])->uid;
	}
	/* SORT gave them in its own order; "$" is kept ascending */
	qsort(s->saved, s->nsaved, sizeof(*s->saved), imap_cmd_search_u32_cmp);
}

/* "* ESEARCH (TAG "t") [UID] MIN MAX COUNT ALL [MODSEQ]" over idx in
 * the order given (ascending for SEARCH, sorted for SORT). */
static void
imap_cmd_search_esearch(struct imap_session *s, struct buf *out,
    unsigned ret, const uint32_t *idx, size_t n, bool modseq, uint64_t ms)
{
	uint32_t *nums;
	size_t i;

	buf_printf(out, "* ESEARCH (TAG \"%s\")%s", s->tag,
	    s->cmd->uid ? " UID" : "");
	if (n > 0 && (ret & IMAP_SEARCH_RET_MIN))
		buf_printf(out, " MIN %u", imap_cmd_search_num(s, idx[0]));
	if (n > 0 && (ret & IMAP_SEARCH_RET_MAX))
		buf_printf(out, " MAX %u", imap_cmd_search_num(s, idx[n - 1]));
	if (ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(out, " COUNT %zu", n);
	if (n > 0 && (ret & IMAP_SEARCH_RET_ALL)) {
		nums = xcalloc(n, sizeof(*nums));
		for (i = 0; i < n; i++)
			nums[i] = imap_cmd_search_num(s, idx[i]);
		buf_append_str(out, " ALL ");
		imap_cmd_write_set(out, nums, n);
		free(nums);
	}
	if (modseq && n > 0)
		buf_printf(out, " MODSEQ %llu", (unsigned long long)ms);
	buf_append_str(out, "\r\n");
}

/* "* SEARCH 1 2 3 (MODSEQ m)" or "* SORT ..." in the order given. */
static void
imap_cmd_search_plain(struct imap_session *s, struct buf *out,
    const char *what, const uint32_t *idx, size_t n, bool modseq,
    uint64_t ms)
{
	size_t i;

	buf_printf(out, "* %s", what);
	for (i = 0; i < n; i++)
		buf_printf(out, " %u", imap_cmd_search_num(s, idx[i]));
	if (modseq && n > 0)
		buf_printf(out, " (MODSEQ %llu)", (unsigned long long)ms);
	buf_append_str(out, "\r\n");
}

static void
imap_cmd_search_results(struct imap_session *s, struct buf *out,
    const struct imap_search *q, const char *what,
    const struct imap_search_res *res, bool modseq)
{
	unsigned ret = q->ret;

	if (q->ret & IMAP_SEARCH_RET_SAVE)
		imap_cmd_search_save(s, q->ret, res);
	/* IMAP4rev2 answers SEARCH with ESEARCH only (RFC 9051 §7.3.4) */
	if (!q->has_return && (!s->rev2 || s->cmd->id != IMAP_CMD_SEARCH)) {
		imap_cmd_search_plain(s, out, what, res->idx, res->n, modseq,
		    res->modseq);
		return;
	}
	if ((ret & ~IMAP_SEARCH_RET_SAVE) == 0) {
		/* RETURN (SAVE) alone answers nothing (RFC 5182 §2.1);
		 * RETURN () and rev2 without RETURN mean ALL */
		if (q->has_return && ret != 0)
			return;
		ret |= IMAP_SEARCH_RET_ALL;
	}
	imap_cmd_search_esearch(s, out, ret, res->idx, res->n, modseq,
	    res->modseq);
}

static int
imap_cmd_search_thread(struct imap_session *s, struct buf *out,
    const struct imap_search_res *res, const char **err_r)
{
	const struct imap_command *c = s->cmd;
	struct buf th;
	int rc;

	buf_init(&th, 64 * 1024 * 1024);
	rc = imap_thread(s->view, c->u.thread.alg, res->idx, res->n, c->uid,
	    &th, err_r);
	if (rc == 0) {
		buf_append_str(out, "* THREAD");
		/* "* THREAD (1)(2 3)", "* THREAD" when empty */
		if (th.len > 0 && th.p[0] != ' ')
			buf_append_str(out, " ");
		buf_append(out, th.p, th.len);
		buf_append_str(out, "\r\n");
	}
	buf_free(&th);
	return rc;
}

static enum imap_job_res
imap_cmd_search_failed(struct imap_session *s, struct buf *out,
    const struct imap_search *q, const char *err)
{
	if (q->ret & IMAP_SEARCH_RET_SAVE) {
		/* a failed SAVE empties "$" (RFC 5182 §2.1) */
		free(s->saved);
		s->saved = NULL;
		s->nsaved = 0;
	}
	return imap_cmd_fail(s, out, MSTORE_ERROR, err, "search");
}

/* The first call: check the program, set up the state. */
static struct imap_search_res *
imap_cmd_search_begin(struct imap_session *s, struct buf *out,
    const struct imap_search *q)
{
	struct imap_search_res *res;

	if (!imap_cmd_search_charset_ok(q->charset)) {
		imap_tagged(s, out, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return NULL;
	}
	res = xcalloc(1, sizeof(*res));
	res->modseq_key = imap_cmd_search_has_modseq(q->root);
	if (res->modseq_key)
		s->condstore = true;	/* RFC 7162 §3.1 */
	s->cmd_state = res;
	s->cmd_state_free = imap_cmd_search_res_free;
	return res;
}

enum imap_job_res
imap_cmd_search(struct imap_session *s, struct buf *out)
{
	const struct imap_command *c = s->cmd;
	const struct imap_search *q = imap_cmd_search_program(c);
	const char *what = imap_parse_cmd_name(c->id), *err = NULL;
	struct imap_search_res *res = s->cmd_state;
	int rc;

	if (res == NULL && (res = imap_cmd_search_begin(s, out, q)) == NULL)
		return IMAP_JOB_DONE;
	if ((rc = imap_cmd_search_run(s, q, res, &err)) == 1)
		return IMAP_JOB_MORE;
	if (rc == 0 && c->id == IMAP_CMD_SORT && res->n > 1)
		rc = imap_sort(s->view, c->u.sort.crit, c->u.sort.n, res->idx,
		    res->n, &err);
	if (rc == 0 && c->id == IMAP_CMD_THREAD)
		rc = imap_cmd_search_thread(s, out, res, &err);
	else if (rc == 0)
		imap_cmd_search_results(s, out, q, what, res, res->modseq_key);
	if (rc != 0)
		return imap_cmd_search_failed(s, out, q, err);
	imap_update(s, out, c->uid);
	imap_tagged(s, out, "OK", "%s completed", what);
	return IMAP_JOB_DONE;
}
