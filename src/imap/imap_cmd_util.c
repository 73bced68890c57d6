/* imap_cmd_util.c: what the store-backed command handlers share: store
 * errors as response codes, mailbox names on the wire, sequence sets
 * resolved against the selected view, compact sets in answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "imap/imap_cmd_int.h"
#include "imap/imap_msg.h"
#include "imap/imap_utf7.h"

/* --- errors ------------------------------------------------------------ */

void
imap_cmd_log_error(struct imap_session *s, const char *what, const char *err)
{
	log_event(s->id, "imap", "store-error", "user=%s op=%s reason=<%s>",
	    s->user, what, err != NULL ? err : "unknown");
}

enum imap_job_res
imap_cmd_fail(struct imap_session *s, struct buf *out, int rc,
    const char *err, const char *what)
{
	const char *code, *text;

	switch (rc) {
	case MSTORE_ENOENT:
		code = "NONEXISTENT";
		text = "No such mailbox";
		break;
	case MSTORE_EEXIST:
		code = "ALREADYEXISTS";
		text = "Mailbox already exists";
		break;
	case MSTORE_EINVAL:
		code = "CANNOT";
		text = err != NULL ? err : "Not possible with this mailbox";
		break;
	case MSTORE_ELIMIT:
		code = "LIMIT";
		text = err != NULL ? err : "Limit reached";
		break;
	case MSTORE_EGONE:
		code = "EXPUNGEISSUED";
		text = "Some messages were expunged";
		break;
	case MSTORE_EINUSE:
		code = "INUSE";
		text = err != NULL ? err : "Mailbox in use";
		break;
	default:
		imap_cmd_log_error(s, what, err);
		code = "SERVERBUG";
		text = "Internal error, see the server log";
		break;
	}
	imap_tagged(s, out, "NO", "[%s] %s", code, text);
	return IMAP_JOB_DONE;
}

/* --- mailbox names ----------------------------------------------------- */

bool
imap_cmd_mailbox_ok(struct imap_session *s, struct buf *out,
    const struct imap_mailbox *mb)
{
	if (mb->name.p != NULL && mb->err == NULL)
		return true;
	imap_tagged(s, out, "NO", "[CANNOT] Invalid mailbox name: %s",
	    mb->err != NULL ? mb->err : "cannot be decoded");
	return false;
}

void
imap_cmd_write_quoted(struct buf *out, struct str str)
{
	size_t i, start;

	buf_append(out, "\"", 1);
	for (i = start = 0; i < str.len; i++) {
		if (str.p[i] != '"' && str.p[i] != '\\')
			continue;
		buf_append(out, str.p + start, i - start);
		buf_append(out, "\\", 1);
		start = i;
	}
	buf_append(out, str.p + start, str.len - start);
	buf_append(out, "\"", 1);
}

void
imap_cmd_write_mailbox(const struct imap_session *s, struct buf *out,
    const char *name)
{
	struct buf tmp;

	if (s->utf8) {
		imap_cmd_write_quoted(out, str_cstr(name));
		return;
	}
	buf_init(&tmp, 8 * MSTORE_NAME_MAX);
	if (imap_utf7_from_utf8(str_cstr(name), &tmp) == 0)
		imap_cmd_write_quoted(out, str_make(tmp.p, tmp.len));
	else	/* the store keeps valid names only: not expected */
		imap_cmd_write_quoted(out, str_cstr(name));
	buf_free(&tmp);
}

/* --- sequence sets --------------------------------------------------- */

struct imap_cmd_span {
	uint32_t	a, b;		/* indexes [a, b) */
};

/* First index whose UID is >= uid. */
static uint32_t
imap_cmd_uid_lower(const struct mstore_view *v, uint32_t count, uint32_t uid)
{
	uint32_t lo = 0, hi = count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mstore_view_msg(v, mid)->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
imap_cmd_span_cmp(const void *a, const void *b)
{
	const struct imap_cmd_span *x = a, *y = b;

	return x->a < y->a ? -1 : x->a > y->a;
}

/* A written range as indexes [a, b); -1 for a message number past the
 * end. */
static int
imap_cmd_range_span(const struct mstore_view *v, uint32_t count,
    struct imap_seq_range r, bool uid, struct imap_cmd_span *sp)
{
	uint32_t lo, hi, t, star;

	star = uid ? mstore_view_msg(v, count - 1)->uid : count;
	lo = r.lo == IMAP_SEQ_STAR ? star : r.lo;
	hi = r.hi == IMAP_SEQ_STAR ? star : r.hi;
	if (lo > hi) {
		t = lo;
		lo = hi;
		hi = t;
	}
	if (!uid) {
		if (hi > count)
			return -1;
		sp->a = lo - 1;
		sp->b = hi;
		return 0;
	}
	sp->a = imap_cmd_uid_lower(v, count, lo);
	sp->b = hi == UINT32_MAX ? count : imap_cmd_uid_lower(v, count, hi + 1);
	if (sp->b < sp->a)
		sp->b = sp->a;
	return 0;
}

static int
imap_cmd_resolve_saved(const struct imap_session *s, uint32_t **idx_r,
    size_t *n_r)
{
	uint32_t *idx;
	size_t i, n = 0;
	int64_t at;

	if (s->nsaved == 0)
		return 0;
	idx = xcalloc(s->nsaved, sizeof(*idx));
	for (i = 0; i < s->nsaved; i++) {
		at = mstore_view_find_uid(s->view, s->saved[i]);
		if (at >= 0 && (n == 0 || idx[n - 1] < (uint32_t)at))
			idx[n++] = (uint32_t)at;
	}
	if (n == 0) {
		free(idx);
		idx = NULL;
	}
	*idx_r = idx;
	*n_r = n;
	return 0;
}

int
imap_cmd_resolve(const struct imap_session *s, const struct imap_seqset *set,
    bool uid, uint32_t **idx_r, size_t *n_r)
{
	struct imap_cmd_span *sp;
	uint32_t count, *idx, j, end;
	size_t i, n, total;

	*idx_r = NULL;
	*n_r = 0;
	if (set->last)
		return imap_cmd_resolve_saved(s, idx_r, n_r);
	count = mstore_view_count(s->view);
	if (count == 0)
		return uid ? 0 : -1;	/* even "*" (RFC 9051 §9) */
	if (set->n == 0)
		return 0;
	sp = xcalloc(set->n, sizeof(*sp));
	for (i = 0; i < set->n; i++) {
		if (imap_cmd_range_span(s->view, count, set->r[i], uid,
		    &sp[i]) == -1) {
			free(sp);
			return -1;
		}
	}
	/* overlapping and unordered ranges: sort, then merge as we go */
	qsort(sp, set->n, sizeof(*sp), imap_cmd_span_cmp);
	total = 0;
	end = 0;
	for (i = 0; i < set->n; i++) {
		if (sp[i].b > end) {
			total += sp[i].b - (sp[i].a > end ? sp[i].a : end);
			end = sp[i].b;
		}
	}
	idx = total > 0 ? xcalloc(total, sizeof(*idx)) : NULL;
	n = 0;
	end = 0;
	for (i = 0; i < set->n; i++) {
		for (j = sp[i].a > end ? sp[i].a : end; j < sp[i].b; j++)
			idx[n++] = j;
		if (sp[i].b > end)
			end = sp[i].b;
	}
	free(sp);
	*idx_r = idx;
	*n_r = n;
	return 0;
}

bool
imap_cmd_set_has_uid(const struct imap_seqset *set, uint32_t uidmax,
    uint32_t uid)
{
	uint32_t lo, hi, t;
	size_t i;

	for (i = 0; i < set->n; i++) {
		lo = set->r[i].lo == IMAP_SEQ_STAR ? uidmax : set->r[i].lo;
		hi = set->r[i].hi == IMAP_SEQ_STAR ? uidmax : set->r[i].hi;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (uid >= lo && uid <= hi)
			return true;
	}
	return false;
}

void
imap_cmd_write_set(struct buf *out, const uint32_t *v, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j] == v[j - 1] + 1; j++)
			;
		if (j - 1 == i)
			buf_printf(out, "%s%u", i > 0 ? "," : "", v[i]);
		else
			buf_printf(out, "%s%u:%u", i > 0 ? "," : "", v[i],
			    v[j - 1]);
	}
}

/* --- flags ------------------------------------------------------------- */

void
imap_cmd_write_flags_fetch(const struct imap_session *s, struct buf *out,
    uint32_t i, bool flags, bool uid, bool modseq)
{
	const struct mstore_msg *m = mstore_view_msg(s->view, i);
	const char *const *kwnames;
	size_t nkw;
	const char *sep = "";

	buf_printf(out, "* %u FETCH (", i + 1);
	if (flags) {
		nkw = mstore_view_keywords(s->view, &kwnames);
		buf_append_str(out, "FLAGS ");
		imap_flags_write(out, m->flags, m->kw, m->recent && !s->rev2,
		    kwnames, nkw);
		sep = " ";
	}
	if (uid) {
		buf_printf(out, "%sUID %u", sep, m->uid);
		sep = " ";
	}
	if (modseq)
		buf_printf(out, "%sMODSEQ (%llu)", sep,
		    (unsigned long long)m->modseq);
	buf_append_str(out, ")\r\n");
}
