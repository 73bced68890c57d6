/* imap_sort.c: SORT (RFC 5256 §2, RFC 5957 DISPLAYFROM/DISPLAYTO).
 * Keys come from each message's cache (computed on first use); strings
 * compare by i;ascii-casemap; equal keys fall back to the next
 * criterion, and finally to the sequence number. */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "imap/imap_msg_int.h"

/* Bytes of keys copied for one SORT (they are bounded by the cache). */
#define IMAP_SORT_KEYS_MAX	((size_t)1 << 34)

int
imap_sort_casemap_cmp(struct str a, struct str b)
{
	size_t i, n = a.len < b.len ? a.len : b.len;

	for (i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a.p[i];
		unsigned char y = (unsigned char)b.p[i];

		if (x >= 'a' && x <= 'z')
			x -= 32;
		if (y >= 'a' && y <= 'z')
			y -= 32;
		if (x != y)
			return x < y ? -1 : 1;
	}
	return a.len < b.len ? -1 : a.len > b.len;
}

struct imap_sort_how {
	const struct imap_sort_crit	*crit;
	size_t				 ncrit;
};

static int
imap_sort_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int
imap_sort_key(const struct imap_sort_msg *x, const struct imap_sort_msg *y,
    enum imap_sort_key key)
{
	switch (key) {
	case IMAP_SORT_ARRIVAL:
		/* Messages are in the folder in the order they arrived: within
		 * one second of internal date that order is the arrival order,
		 * so REVERSE ARRIVAL lists the newest first. */
		if (x->arrival != y->arrival)
			return x->arrival < y->arrival ? -1 : 1;
		return imap_sort_num(x->seq, y->seq);
	case IMAP_SORT_DATE:
		return x->date < y->date ? -1 : x->date > y->date;
	case IMAP_SORT_SIZE:
		return imap_sort_num(x->size, y->size);
	case IMAP_SORT_CC:
		return imap_sort_casemap_cmp(x->cc, y->cc);
	case IMAP_SORT_FROM:
		return imap_sort_casemap_cmp(x->from, y->from);
	case IMAP_SORT_TO:
		return imap_sort_casemap_cmp(x->to, y->to);
	case IMAP_SORT_SUBJECT:
		return imap_sort_casemap_cmp(x->subject, y->subject);
	case IMAP_SORT_DISPLAYFROM:
		return imap_sort_casemap_cmp(x->display_from, y->display_from);
	case IMAP_SORT_DISPLAYTO:
		return imap_sort_casemap_cmp(x->display_to, y->display_to);
	}
	return 0;
}

static int
imap_sort_cmp(const void *a, const void *b, void *arg)
{
	const struct imap_sort_msg *x = a, *y = b;
	const struct imap_sort_how *how = arg;
	int c;

	for (size_t i = 0; i < how->ncrit; i++) {
		c = imap_sort_key(x, y, how->crit[i].key);
		if (c != 0)
			return how->crit[i].reverse ? -c : c;
	}
	return imap_sort_num(x->seq, y->seq);
}

void
imap_sort_run(struct imap_sort_msg *msgs, size_t n,
    const struct imap_sort_crit *crit, size_t ncrit)
{
	struct imap_sort_how how = { crit, ncrit };

	qsort_r(msgs, n, sizeof(*msgs), imap_sort_cmp, &how);
}

/* --- over a view -------------------------------------------------------- */

static bool
imap_sort_needs_cache(const struct imap_sort_crit *crit, size_t ncrit)
{
	for (size_t i = 0; i < ncrit; i++)
		if (crit[i].key != IMAP_SORT_ARRIVAL &&
		    crit[i].key != IMAP_SORT_SIZE)
			return true;
	return false;
}

/* The string keys of one message into keys; offsets in off[]. */
static int
imap_sort_gather(struct buf *keys, const struct mstore_cache *c,
    size_t off[6][2])
{
	const struct str s[6] = { c->subject, c->from, c->to, c->cc,
	    c->display_from, c->display_to };

	for (size_t k = 0; k < 6; k++) {
		off[k][0] = keys->len;
		off[k][1] = s[k].p != NULL ? s[k].len : 0;
		if (buf_append(keys, s[k].p, off[k][1]) == -1)
			return -1;
	}
	return 0;
}

static int
imap_sort_load(struct mstore_view *v, uint32_t i, bool cache,
    struct imap_sort_msg *sm, struct buf *keys, size_t off[6][2],
    const char **err_r)
{
	struct imap_msg md;
	int r = 0;

	imap_msg_init(&md, v, i);
	memset(sm, 0, sizeof(*sm));
	memset(off, 0, 6 * 2 * sizeof(size_t));
	sm->idx = i;
	sm->seq = i + 1;
	if (md.m == NULL)
		return 0;
	sm->arrival = md.m->internaldate;
	sm->size = md.m->size;
	sm->date = md.m->internaldate;
	if (cache && (r = imap_msg_cache(&md, err_r)) == 0) {
		if (md.cache.sent != 0)
			sm->date = md.cache.sent;
		if (imap_sort_gather(keys, &md.cache, off) == -1)
			r = MSTORE_ERROR;
	} else if (r == MSTORE_EGONE) {
		r = 0;		/* sorted with empty keys */
	}
	imap_msg_release(&md);
	return r;
}

int
imap_sort(struct mstore_view *v, const struct imap_sort_crit *crit,
    size_t ncrit, uint32_t *idx, size_t n, const char **err_r)
{
	struct imap_sort_msg *msgs;
	size_t (*off)[6][2], i;
	struct buf keys;
	bool cache = imap_sort_needs_cache(crit, ncrit);
	int r = 0;

	msgs = xcalloc(n + 1, sizeof(*msgs));
	off = xcalloc(n + 1, sizeof(*off));
	buf_init(&keys, IMAP_SORT_KEYS_MAX);
	for (i = 0; i < n && r == 0; i++)
		r = imap_sort_load(v, idx[i], cache, &msgs[i], &keys, off[i],
		    err_r);
	if (r == 0) {
		for (i = 0; i < n; i++) {
			struct str *s[6] = { &msgs[i].subject, &msgs[i].from,
			    &msgs[i].to, &msgs[i].cc, &msgs[i].display_from,
			    &msgs[i].display_to };

			for (size_t k = 0; k < 6; k++)
				*s[k] = str_make(keys.p != NULL ? keys.p +
				    off[i][k][0] : "", off[i][k][1]);
		}
		imap_sort_run(msgs, n, crit, ncrit);
		for (i = 0; i < n; i++)
			idx[i] = msgs[i].idx;
	}
	buf_free(&keys);
	free(off);
	free(msgs);
	return r;
}
