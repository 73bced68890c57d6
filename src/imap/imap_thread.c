/* imap_thread.c: THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256
 * §3), and the base subject (§2.1) that SORT uses too.
 *
 * Hostile input cannot make it recurse or loop: the trees are walked
 * with explicit stacks, a message brings at most IMAP_MSG_REFS_MAX
 * references (the cache keeps the last ones), the whole mailbox at
 * most IMAP_THREAD_IDS_MAX distinct ids, and the loop check before a
 * link takes at most IMAP_THREAD_CLIMB_MAX steps (past them the link is
 * not made). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "imap/imap_msg_int.h"
#include "mime/mime_2047.h"

/* Ids (Message-IDs and references) of one THREAD command beyond the
 * messages' own: past it a message links only to its last reference. */
#define IMAP_THREAD_IDS_MAX	(1024 * 1024)
/* Steps of the search that proves a link makes no loop. */
#define IMAP_THREAD_CLIMB_MAX	100000
/* Bytes of keys copied for one THREAD (bounded by the cache). */
#define IMAP_THREAD_KEYS_MAX	((size_t)1 << 34)

static int
imap_thread_fail(const char **err_r, const char *err, int r)
{
	if (err_r != NULL)
		*err_r = err;
	return r;
}

/* --- base subject (RFC 5256 §2.1) --------------------------------------- */

static bool
imap_thread_ci(const char *p, size_t n, const char *word)
{
	size_t k = strlen(word);

	return n >= k && strncasecmp(p, word, k) == 0;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s[i]; the end, or 0. */
static size_t
imap_thread_blob(const char *s, size_t i, size_t end)
{
	if (i >= end || s[i] != '[')
		return 0;
	for (i++; i < end && s[i] != '[' && s[i] != ']'; i++)
		;
	if (i >= end || s[i] != ']')
		return 0;
	for (i++; i < end && s[i] == ' '; i++)
		;
	return i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static size_t
imap_thread_refwd(const char *s, size_t i, size_t end)
{
	size_t k;

	if (imap_thread_ci(s + i, end - i, "fwd"))
		i += 3;
	else if (imap_thread_ci(s + i, end - i, "fw") ||
	    imap_thread_ci(s + i, end - i, "re"))
		i += 2;
	else
		return 0;
	while (i < end && s[i] == ' ')
		i++;
	if ((k = imap_thread_blob(s, i, end)) != 0)
		i = k;
	return i < end && s[i] == ':' ? i + 1 : 0;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP */
static size_t
imap_thread_leader(const char *s, size_t i, size_t end)
{
	size_t k, j = i;

	if (i < end && s[i] == ' ')
		return i + 1;
	while ((k = imap_thread_blob(s, j, end)) != 0)
		j = k;
	return imap_thread_refwd(s, j, end);
}

/* Step 1: white space runs to one space. */
static void
imap_thread_spaces(struct buf *w, struct str subject)
{
	bool sp = false;

	for (size_t i = 0; i < subject.len; i++) {
		char c = subject.p[i];

		if (c == '\t' || c == '\r' || c == '\n' || c == ' ') {
			sp = true;
			continue;
		}
		if (sp && buf_append(w, " ", 1) == -1)
			return;
		sp = false;
		if (buf_append(w, &c, 1) == -1)
			return;
	}
	if (sp)
		(void)buf_append(w, " ", 1);
}

void
imap_msg_base_subject(struct buf *out, struct str subject, bool *reply_r)
{
	struct buf w;
	size_t a = 0, b, k;
	bool reply = false, again;
	const char *s;

	buf_init(&w, subject.len + 1);
	imap_thread_spaces(&w, subject);
	s = w.p != NULL ? w.p : "";
	b = w.len;
	do {
		/* (2) trailers: "(fwd)" and white space */
		for (;;) {
			if (b > a && s[b - 1] == ' ')
				b--;
			else if (b - a >= 5 &&
			    imap_thread_ci(s + b - 5, 5, "(fwd)")) {
				b -= 5;
				reply = true;
			} else
				break;
		}
		/* (3)-(5) leaders, and blobs that leave something */
		do {
			again = false;
			while ((k = imap_thread_leader(s, a, b)) != 0) {
				if (s[a] != ' ')
					reply = true;
				a = k;
				again = true;
			}
			if ((k = imap_thread_blob(s, a, b)) != 0 && k < b) {
				a = k;
				again = true;
			}
		} while (again);
		/* (6) "[fwd: ...]" */
		again = b - a >= 6 && imap_thread_ci(s + a, b - a, "[fwd:") &&
		    s[b - 1] == ']';
		if (again) {
			a += 5;
			b--;
			reply = true;
		}
	} while (again);
	(void)buf_append(out, s + a, b - a);
	buf_free(&w);
	if (reply_r != NULL)
		*reply_r = reply;
}

void
imap_base_subject(struct buf *out, struct str subject)
{
	imap_msg_base_subject(out, subject, NULL);
}

/* --- the containers ----------------------------------------------------- */

struct imap_thread_node {
	struct imap_thread_msg	*msg;		/* NULL: a dummy */
	struct imap_thread_node	*parent, *child, *last, *next, *prev;
	struct str		 id;
	/* for sorting: the message's, or a dummy's first child's */
	time_t			 date;
	uint32_t		 seq;
};

struct imap_thread {
	struct imap_thread_node	*nodes;
	size_t			 nnodes, cap;
	struct imap_thread_node	 top;	/* parent of the roots */
	struct imap_thread_node	**hash;	/* by id */
	size_t			 hmask;
	size_t			 ids;	/* ids made from references */
	size_t			 ids_max;
	struct imap_thread_node	**queue;/* for imap_thread_loops() */
};

static struct imap_thread_node *
imap_thread_new(struct imap_thread *t, struct imap_thread_msg *msg)
{
	struct imap_thread_node *n = &t->nodes[t->nnodes++];

	memset(n, 0, sizeof(*n));
	n->msg = msg;
	return n;
}

static size_t
imap_thread_hash(struct str s)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.p[i]) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of id: its node, or the empty slot where it goes. */
static struct imap_thread_node **
imap_thread_slot(struct imap_thread *t, struct str id)
{
	size_t i = imap_thread_hash(id) & t->hmask;

	while (t->hash[i] != NULL && !str_eq(t->hash[i]->id, id))
		i = (i + 1) & t->hmask;
	return &t->hash[i];
}

static void
imap_thread_unlink(struct imap_thread_node *n)
{
	struct imap_thread_node *p = n->parent;

	if (p == NULL)
		return;
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		p->child = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		p->last = n->prev;
	n->parent = n->next = n->prev = NULL;
}

/* Add n as the last child of p. */
static void
imap_thread_add(struct imap_thread_node *p, struct imap_thread_node *n)
{
	imap_thread_unlink(n);
	n->prev = p->last;
	if (p->last != NULL)
		p->last->next = n;
	else
		p->child = n;
	p->last = n;
	n->parent = p;
}

/* n takes old's place among its siblings; old is left alone. */
static void
imap_thread_replace(struct imap_thread_node *old, struct imap_thread_node *n)
{
	struct imap_thread_node *p = old->parent;

	n->parent = p;
	n->prev = old->prev;
	n->next = old->next;
	if (n->prev != NULL)
		n->prev->next = n;
	else
		p->child = n;
	if (n->next != NULL)
		n->next->prev = n;
	else
		p->last = n;
	old->parent = old->next = old->prev = NULL;
}

/* Set p's children to the list kids[0..k). */
static void
imap_thread_set_children(struct imap_thread_node *p,
    struct imap_thread_node **kids, size_t k)
{
	p->child = k > 0 ? kids[0] : NULL;
	p->last = k > 0 ? kids[k - 1] : NULL;
	for (size_t i = 0; i < k; i++) {
		kids[i]->parent = p;
		kids[i]->prev = i > 0 ? kids[i - 1] : NULL;
		kids[i]->next = i + 1 < k ? kids[i + 1] : NULL;
	}
}

/* Would making c a child of p close a loop, that is, is c p or one of
 * its ancestors?  Climbing from p and searching c's descendants in
 * turn costs the smaller of p's depth and c's subtree: a new message
 * (no children yet) at the end of a chain of 50,000 is found at once.
 * A search longer than IMAP_THREAD_CLIMB_MAX counts as a loop. */
static bool
imap_thread_loops(struct imap_thread *t, const struct imap_thread_node *p,
    struct imap_thread_node *c)
{
	const struct imap_thread_node *up = p;
	struct imap_thread_node *x, *k;
	size_t head = 0, n = 0, steps = 0;

	if (p == c)
		return true;
	t->queue[n++] = c;
	for (;;) {
		if ((up = up->parent) == c)
			return true;
		if (up == NULL || head == n)
			return false;
		x = t->queue[head++];
		for (k = x->child; k != NULL; k = k->next) {
			if (k == p)
				return true;
			t->queue[n++] = k;
		}
		if (++steps > IMAP_THREAD_CLIMB_MAX)
			return true;
	}
}

/* --- REFERENCES --------------------------------------------------------- */

/* The next "<id>" of a list built by imap_msg.c ("<a> <b>"); other
 * words are skipped. */
static bool
imap_thread_next_id(struct str s, size_t *ip, struct str *id)
{
	const char *sp;
	size_t i = *ip;

	for (;;) {
		while (i < s.len && s.p[i] == ' ')
			i++;
		if (i >= s.len) {
			*ip = i;
			return false;
		}
		sp = memchr(s.p + i, ' ', s.len - i);
		*id = str_make(s.p + i, sp != NULL ? (size_t)(sp - s.p) - i :
		    s.len - i);
		i += id->len;
		if (id->p[0] == '<') {
			*ip = i;
			return true;
		}
	}
}

static struct imap_thread_node *
imap_thread_ref(struct imap_thread *t, struct str id)
{
	struct imap_thread_node **slot = imap_thread_slot(t, id);

	if (*slot == NULL) {
		if (t->ids >= t->ids_max)
			return NULL;
		t->ids++;
		*slot = imap_thread_new(t, NULL);
		(*slot)->id = id;
	}
	return *slot;
}

/* Step 1 for one message: its container, its references linked in
 * order, and its parent. */
static void
imap_thread_message(struct imap_thread *t, struct imap_thread_msg *m)
{
	struct imap_thread_node *own, **slot, *prev = NULL, *c;
	struct str refs = m->references, id;
	size_t i = 0;

	slot = m->message_id.len > 0 ? imap_thread_slot(t, m->message_id) :
	    NULL;
	if (slot != NULL && *slot != NULL && (*slot)->msg == NULL) {
		own = *slot;		/* a reference to it came first */
		own->msg = m;
	} else {
		own = imap_thread_new(t, m);
		if (slot != NULL && *slot == NULL) {
			own->id = m->message_id;
			*slot = own;
		}
	}
	if (refs.len == 0 && imap_thread_next_id(m->in_reply_to, &i, &id))
		refs = id;
	for (i = 0; imap_thread_next_id(refs, &i, &id); ) {
		if (str_eq(id, m->message_id))
			continue;	/* a message is not its own parent */
		if ((c = imap_thread_ref(t, id)) == NULL)
			continue;
		if (prev != NULL && c->parent == NULL &&
		    !imap_thread_loops(t, prev, c))
			imap_thread_add(prev, c);
		prev = c;
	}
	if (prev == NULL)
		imap_thread_unlink(own);
	else if (prev != own->parent && !imap_thread_loops(t, prev, own))
		imap_thread_add(prev, own);
}

/* Step 4: drop empty dummies, promote the children of the others
 * (at the top only when they have one child), without recursion.
 * stack has room for every node; kids too. */
static void
imap_thread_prune(struct imap_thread *t, struct imap_thread_node **stack,
    struct imap_thread_node **kids)
{
	struct imap_thread_node *p, *c, *list, *k;
	size_t sp = 0, nk, base = 0;

	stack[sp++] = &t->top;
	while (sp > 0) {
		p = stack[--sp];
		list = p->child;
		nk = 0;
		while ((c = list) != NULL) {
			list = c->next;
			if (c->msg == NULL && c->child == NULL)
				continue;
			if (c->msg == NULL && (p != &t->top ||
			    c->child->next == NULL)) {
				/* its children are looked at in its place */
				c->last->next = list;
				list = c->child;
				continue;
			}
			kids[base + nk++] = c;
		}
		for (size_t i = 0; i < nk; i++) {
			k = kids[base + i];
			stack[sp++] = k;
		}
		imap_thread_set_children(p, kids + base, nk);
	}
}

/* Subject, and reply flag, of a root: a dummy's first child's. */
static const struct imap_thread_msg *
imap_thread_subj_msg(const struct imap_thread_node *n)
{
	while (n != NULL && n->msg == NULL)
		n = n->child;
	return n != NULL ? n->msg : NULL;
}

static bool
imap_thread_subj_eq(struct str a, struct str b)
{
	return imap_sort_casemap_cmp(a, b) == 0 && a.len == b.len;
}

static size_t
imap_thread_subj_hash(struct str s)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c >= 'a' && c <= 'z')
			c -= 32;
		h = (h ^ c) * 1099511628211ULL;
	}
	return (size_t)h;
}

/* Step 5C for one root r whose subject's table entry is *slot. */
static void
imap_thread_merge(struct imap_thread *t, struct imap_thread_node **slot,
    struct imap_thread_node *r)
{
	struct imap_thread_node *e = *slot, *d, *k;
	const struct imap_thread_msg *em, *rm;

	if (e->msg == NULL && r->msg == NULL) {
		while ((k = r->child) != NULL)
			imap_thread_add(e, k);
		imap_thread_unlink(r);
		return;
	}
	if (e->msg == NULL) {
		imap_thread_add(e, r);
		return;
	}
	em = e->msg;
	rm = imap_thread_subj_msg(r);
	if (r->msg != NULL && rm->reply && !em->reply) {
		imap_thread_add(e, r);
		return;
	}
	if (r->msg == NULL) {
		imap_thread_add(r, e);
		*slot = r;
		return;
	}
	/* siblings under a new dummy, where e was */
	d = imap_thread_new(t, NULL);
	imap_thread_replace(e, d);
	imap_thread_add(d, e);
	imap_thread_add(d, r);
	*slot = d;
}

/* Step 5: roots with the same base subject gathered. */
static void
imap_thread_subjects(struct imap_thread *t, struct imap_thread_node **roots)
{
	struct imap_thread_node **table, **slot, *r;
	const struct imap_thread_msg *m, *em;
	size_t n = 0, mask = 1, i;

	for (r = t->top.child; r != NULL; r = r->next)
		roots[n++] = r;
	while (mask < 2 * n + 2)
		mask <<= 1;
	table = xcalloc(mask, sizeof(*table));
	mask--;
	for (i = 0; i < n; i++) {
		if ((m = imap_thread_subj_msg(roots[i])) == NULL ||
		    m->subject.len == 0)
			continue;
		slot = &table[imap_thread_subj_hash(m->subject) & mask];
		while (*slot != NULL && !imap_thread_subj_eq(
		    imap_thread_subj_msg(*slot)->subject, m->subject))
			slot = &table[(size_t)(slot - table + 1) & mask];
		em = *slot != NULL ? imap_thread_subj_msg(*slot) : NULL;
		if (*slot == NULL || (roots[i]->msg == NULL &&
		    (*slot)->msg != NULL) || (em->reply && !m->reply &&
		    roots[i]->msg != NULL && (*slot)->msg != NULL))
			*slot = roots[i];
	}
	for (i = 0; i < n; i++) {
		r = roots[i];
		if ((m = imap_thread_subj_msg(r)) == NULL ||
		    m->subject.len == 0)
			continue;
		slot = &table[imap_thread_subj_hash(m->subject) & mask];
		while (!imap_thread_subj_eq(
		    imap_thread_subj_msg(*slot)->subject, m->subject))
			slot = &table[(size_t)(slot - table + 1) & mask];
		if (*slot != r)
			imap_thread_merge(t, slot, r);
	}
	free(table);
}

/* --- sorting and writing ------------------------------------------------ */

static int
imap_thread_cmp(const void *a, const void *b)
{
	const struct imap_thread_node *x = *(const struct imap_thread_node *
	    const *)a, *y = *(const struct imap_thread_node *const *)b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Step 6: every set of siblings by date, the deepest first (a dummy
 * takes its first child's date). */
static void
imap_thread_sort(struct imap_thread *t, struct imap_thread_node **order)
{
	struct imap_thread_node *p, *c, **kids;
	size_t n = 0, head = 0, k;

	order[n++] = &t->top;
	while (head < n)
		for (c = order[head++]->child; c != NULL; c = c->next)
			order[n++] = c;
	kids = xcalloc(n + 1, sizeof(*kids));
	while (n-- > 0) {
		p = order[n];
		for (k = 0, c = p->child; c != NULL; c = c->next)
			kids[k++] = c;
		if (k > 1)
			qsort(kids, k, sizeof(*kids), imap_thread_cmp);
		imap_thread_set_children(p, kids, k);
		if (p->msg != NULL) {
			p->date = p->msg->date;
			p->seq = p->msg->seq;
		} else if (p->child != NULL) {
			p->date = p->child->date;
			p->seq = p->child->seq;
		}
	}
	free(kids);
}

/* "(3 6 (4 23)(44 7 96))" for one root, with a stack of the siblings
 * still to write at each open level. */
static int
imap_thread_write(struct buf *out, struct imap_thread_node *root,
    struct imap_thread_node **stack)
{
	struct imap_thread_node *n = root;
	size_t sp = 0;
	bool open = true;	/* just after "(" */
	int r = buf_append(out, "(", 1);

	for (;;) {
		while (n->msg != NULL) {
			r |= buf_printf(out, "%s%u", open ? "" : " ",
			    n->msg->num);
			open = false;
			if (n->child == NULL || n->child->next != NULL)
				break;
			n = n->child;
		}
		if (n->child != NULL) {
			/* two or more children (or a dummy): a list each */
			stack[sp++] = n->child->next;
			n = n->child;
			r |= buf_append(out, open ? "(" : " (", open ? 1 : 2);
			open = true;
			continue;
		}
		r |= buf_append(out, ")", 1);
		while (sp > 0 && stack[sp - 1] == NULL) {
			sp--;
			r |= buf_append(out, ")", 1);
		}
		if (sp == 0)
			break;
		n = stack[sp - 1];
		stack[sp - 1] = n->next;
		r |= buf_append(out, "(", 1);
		open = true;
	}
	return r;
}

static int
imap_thread_output(struct imap_thread *t, struct buf *out,
    struct imap_thread_node **stack)
{
	struct imap_thread_node *r;
	int rc = 0;

	for (r = t->top.child; r != NULL && rc == 0; r = r->next)
		rc |= imap_thread_write(out, r, stack);
	return rc;
}

/* --- ORDEREDSUBJECT ----------------------------------------------------- */

static int
imap_thread_subj_cmp(const void *a, const void *b)
{
	const struct imap_thread_node *x = *(const struct imap_thread_node *
	    const *)a, *y = *(const struct imap_thread_node *const *)b;
	int c = imap_sort_casemap_cmp(x->msg->subject, y->msg->subject);

	return c != 0 ? c : imap_thread_cmp(a, b);
}

/* Messages by subject, then date: each run of one subject is a thread
 * whose first message is the parent of the others. */
static void
imap_thread_ordered(struct imap_thread *t, struct imap_thread_msg *msgs,
    size_t n, struct imap_thread_node **arr)
{
	struct imap_thread_node *root = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		arr[i] = imap_thread_new(t, &msgs[i]);
		arr[i]->date = msgs[i].date;
		arr[i]->seq = msgs[i].seq;
	}
	qsort(arr, n, sizeof(*arr), imap_thread_subj_cmp);
	for (i = 0; i < n; i++) {
		if (root != NULL && imap_thread_subj_eq(root->msg->subject,
		    arr[i]->msg->subject)) {
			imap_thread_add(root, arr[i]);
			continue;
		}
		root = arr[i];
		imap_thread_add(&t->top, root);
	}
}

/* Ids in a list "<a> <b>": an upper bound, its '<'s. */
static size_t
imap_thread_count_ids(struct str s)
{
	const char *p = s.p, *end = s.p + s.len;
	size_t n = 0;

	while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

int
imap_thread_run(struct imap_thread_msg *msgs, size_t n,
    enum imap_thread_alg alg, struct buf *out)
{
	struct imap_thread t;
	struct imap_thread_node **scratch, **kids;
	size_t ids = 0, hsize = 1, i;
	int r;

	memset(&t, 0, sizeof(t));
	for (i = 0; alg == IMAP_THREAD_REFERENCES && i < n; i++)
		ids += imap_thread_count_ids(msgs[i].references) +
		    (msgs[i].in_reply_to.len > 0);
	if (ids > IMAP_THREAD_IDS_MAX)
		ids = IMAP_THREAD_IDS_MAX;
	/* nodes: a message's own, one per reference id, and at most one
	 * dummy per root (each holds a message) when subjects gather */
	t.ids_max = ids;
	t.cap = 2 * n + ids + 1;
	t.nodes = xcalloc(t.cap, sizeof(*t.nodes));
	scratch = xcalloc(t.cap + 1, sizeof(*scratch));
	if (alg == IMAP_THREAD_ORDEREDSUBJECT) {
		imap_thread_ordered(&t, msgs, n, scratch);
	} else {
		while (hsize < 2 * (n + ids) + 2)
			hsize <<= 1;
		t.hash = xcalloc(hsize, sizeof(*t.hash));
		t.hmask = hsize - 1;
		t.queue = xcalloc(t.cap + 1, sizeof(*t.queue));
		for (i = 0; i < n; i++)
			imap_thread_message(&t, &msgs[i]);
		free(t.queue);
		for (i = 0; i < t.nnodes; i++)
			if (t.nodes[i].parent == NULL)
				imap_thread_add(&t.top, &t.nodes[i]);
		free(t.hash);
		kids = xcalloc(t.cap + 1, sizeof(*kids));
		imap_thread_prune(&t, scratch, kids);
		free(kids);
		imap_thread_subjects(&t, scratch);
	}
	imap_thread_sort(&t, scratch);
	r = imap_thread_output(&t, out, scratch);
	free(scratch);
	free(t.nodes);
	return r == 0 ? 0 : -1;
}

/* --- over a view -------------------------------------------------------- */

/* Whether the message's subject is a reply or forward: its raw
 * subject, from the ENVELOPE, through the base subject steps. */
static bool
imap_thread_is_reply(struct str envelope)
{
	struct buf tmp, dec, base;
	struct str raw;
	bool reply = false;

	buf_init(&tmp, envelope.len + 1);
	buf_init(&dec, 4 * envelope.len + 64);
	buf_init(&base, 4 * envelope.len + 64);
	if (imap_msg_env_item(envelope, 1, &tmp, &raw) == 0 && raw.p != NULL &&
	    mime_2047_decode(&dec, raw) == 0)
		imap_msg_base_subject(&base, str_make(dec.p != NULL ? dec.p :
		    "", dec.len), &reply);
	buf_free(&tmp);
	buf_free(&dec);
	buf_free(&base);
	return reply;
}

static int
imap_thread_load(struct mstore_view *v, uint32_t i, bool uid,
    enum imap_thread_alg alg, struct imap_thread_msg *tm, struct buf *keys,
    size_t off[4][2], const char **err_r)
{
	struct imap_msg md;
	struct str s[4];
	int r;

	imap_msg_init(&md, v, i);
	memset(tm, 0, sizeof(*tm));
	memset(off, 0, 4 * 2 * sizeof(size_t));
	tm->seq = i + 1;
	tm->num = i + 1;
	if (md.m == NULL)
		return 0;
	if (uid)
		tm->num = md.m->uid;
	tm->date = md.m->internaldate;
	if ((r = imap_msg_cache(&md, err_r)) != 0) {
		imap_msg_release(&md);
		return r == MSTORE_EGONE ? 0 : r;
	}
	if (md.cache.sent != 0)
		tm->date = md.cache.sent;
	if (alg == IMAP_THREAD_REFERENCES)
		tm->reply = imap_thread_is_reply(md.cache.envelope);
	s[0] = md.cache.subject;
	s[1] = md.cache.message_id;
	s[2] = md.cache.in_reply_to;
	s[3] = md.cache.references;
	for (size_t k = 0; k < 4 && r == 0; k++) {
		off[k][0] = keys->len;
		off[k][1] = s[k].p != NULL ? s[k].len : 0;
		if (buf_append(keys, s[k].p, off[k][1]) == -1)
			r = imap_thread_fail(err_r, "too much to thread",
			    MSTORE_ERROR);
	}
	imap_msg_release(&md);
	return r;
}

int
imap_thread(struct mstore_view *v, enum imap_thread_alg alg,
    const uint32_t *idx, size_t n, bool uid, struct buf *out,
    const char **err_r)
{
	struct imap_thread_msg *msgs;
	size_t (*off)[4][2], i;
	struct buf keys;
	int r = 0;

	msgs = xcalloc(n + 1, sizeof(*msgs));
	off = xcalloc(n + 1, sizeof(*off));
	buf_init(&keys, IMAP_THREAD_KEYS_MAX);
	for (i = 0; i < n && r == 0; i++)
		r = imap_thread_load(v, idx[i], uid, alg, &msgs[i], &keys,
		    off[i], err_r);
	for (i = 0; i < n && r == 0; i++) {
		struct str *s[4] = { &msgs[i].subject, &msgs[i].message_id,
		    &msgs[i].in_reply_to, &msgs[i].references };

		for (size_t k = 0; k < 4; k++)
			*s[k] = str_make(keys.p != NULL ? keys.p +
			    off[i][k][0] : "", off[i][k][1]);
	}
	if (r == 0 && imap_thread_run(msgs, n, alg, out) == -1)
		r = imap_thread_fail(err_r, "response too large", MSTORE_ERROR);
	buf_free(&keys);
	free(off);
	free(msgs);
	return r;
}
