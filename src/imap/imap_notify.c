/* imap_notify.c: folder change notification for IMAP sessions, one
 * inotify instance per worker process (fs.inotify.max_user_instances is
 * 128 per user: one per session would run out at once).
 *
 * Every change to a folder is a file operation in DIR/new or DIR/cur:
 * a delivery (rename tmp -> new), APPEND or COPY (a link or rename into
 * cur), a flag change (rename inside cur), an expunge (unlink).  Both
 * directories are watched for IN_CREATE, IN_MOVED_TO, IN_MOVED_FROM and
 * IN_DELETE; attribute changes mean nothing to IMAP.
 *
 * A folder has one entry (struct nw_dir) however many sessions watch
 * it: the kernel watches are refcounted here, and each registration has
 * its callback.  Events are coalesced: the first one arms the folder's
 * timer, and IMAP_NOTIFY_DELAY_MS later every registration's callback
 * runs once, however many files changed meanwhile.
 *
 * Kernel limits: when the watch limit (max_user_watches) is reached
 * imap_notify_add() returns NULL, once logged; sessions then poll.  An
 * overflowed event queue (IN_Q_OVERFLOW) wakes every folder. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "imap/imap_session.h"

#define NW_BUCKETS	1024		/* hash chains, by path and by wd */
#define NW_MASK		(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | \
			    IN_DELETE | IN_ONLYDIR)
#define NW_READS_MAX	16		/* reads per wake-up: others wait */

struct nw_dir;

/* One kernel watch: DIR/new or DIR/cur. */
struct nw_wd {
	int		 wd;		/* -1: none (gone, or never had) */
	struct nw_dir	*dir;
	struct nw_wd	*next;		/* hash chain by wd */
};

struct nw_dir {
	struct imap_notify	*n;
	char			*path;
	struct nw_dir		*next;		/* hash chain by path */
	struct nw_wd		 w[2];		/* new/, cur/ */
	struct imap_notify_watch *regs;
	unsigned		 nregs;
	struct event		*timer;		/* coalescing delay */
	bool			 pending;
	/* callbacks under way: regs may go (cursor) and the entry must
	 * outlive them */
	bool			 in_cb;
	struct imap_notify_watch *cursor;
};

struct imap_notify_watch {
	struct nw_dir		*dir;
	struct imap_notify_watch *next, **prevp;
	void			(*cb)(void *);
	void			*arg;
};

struct imap_notify {
	struct event_base	*base;
	int			 fd;
	struct event		*ev;
	struct nw_dir		*by_path[NW_BUCKETS];
	struct nw_wd		*by_wd[NW_BUCKETS];
	unsigned		 ndirs;
	bool			 limit_logged;
};

static unsigned
nw_hash(const char *s)
{
	unsigned h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h % NW_BUCKETS;
}

static unsigned
nw_wd_hash(int wd)
{
	return (unsigned)wd % NW_BUCKETS;
}

static struct nw_dir *
nw_find_path(struct imap_notify *n, const char *path)
{
	struct nw_dir *d;

	for (d = n->by_path[nw_hash(path)]; d != NULL; d = d->next)
		if (strcmp(d->path, path) == 0)
			return d;
	return NULL;
}

static struct nw_wd *
nw_find_wd(struct imap_notify *n, int wd)
{
	struct nw_wd *w;

	for (w = n->by_wd[nw_wd_hash(wd)]; w != NULL; w = w->next)
		if (w->wd == wd)
			return w;
	return NULL;
}

static void
nw_wd_link(struct imap_notify *n, struct nw_wd *w)
{
	unsigned h = nw_wd_hash(w->wd);

	w->next = n->by_wd[h];
	n->by_wd[h] = w;
}

static void
nw_wd_unlink(struct imap_notify *n, struct nw_wd *w)
{
	struct nw_wd **wp;

	if (w->wd == -1)
		return;
	for (wp = &n->by_wd[nw_wd_hash(w->wd)]; *wp != NULL; wp = &(*wp)->next)
		if (*wp == w) {
			*wp = w->next;
			break;
		}
}

/* --- folders ------------------------------------------------------------- */

/* Wake the folder's sessions after the coalescing delay. */
static void
nw_schedule(struct nw_dir *d)
{
	struct timeval tv = { 0, IMAP_NOTIFY_DELAY_MS * 1000 };

	if (d->pending)
		return;
	d->pending = true;
	evtimer_add(d->timer, &tv);
}

static void
nw_dir_free(struct nw_dir *d)
{
	struct imap_notify *n = d->n;
	struct nw_dir **dp;

	for (int i = 0; i < 2; i++) {
		if (d->w[i].wd == -1)
			continue;
		nw_wd_unlink(n, &d->w[i]);
		/* the same wd for new/ and cur/ cannot happen (two inodes) */
		(void)inotify_rm_watch(n->fd, d->w[i].wd);
	}
	for (dp = &n->by_path[nw_hash(d->path)]; *dp != NULL; dp = &(*dp)->next)
		if (*dp == d) {
			*dp = d->next;
			break;
		}
	n->ndirs--;
	event_free(d->timer);
	free(d->path);
	free(d);
}

static void
nw_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct nw_dir *d = arg;
	struct imap_notify_watch *r;

	d->pending = false;
	d->in_cb = true;
	for (d->cursor = d->regs; (r = d->cursor) != NULL; ) {
		d->cursor = r->next;
		r->cb(r->arg);
	}
	d->in_cb = false;
	if (d->nregs == 0)
		nw_dir_free(d);
}

/* Watch DIR/sub; -1 with errno on failure. */
static int
nw_add_one(struct imap_notify *n, const char *dir, const char *sub)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len + 1 + strlen(sub) + 1 > sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len);
	path[len] = '/';
	strcpy(path + len + 1, sub);
	return inotify_add_watch(n->fd, path, NW_MASK);
}

static struct nw_dir *
nw_dir_new(struct imap_notify *n, const char *path)
{
	static const char *const subs[2] = { "new", "cur" };
	struct nw_dir *d = xcalloc(1, sizeof(*d));
	unsigned h;

	d->n = n;
	d->path = xstrdup(path);
	for (int i = 0; i < 2; i++) {
		d->w[i].dir = d;
		d->w[i].wd = nw_add_one(n, path, subs[i]);
		if (d->w[i].wd != -1 && nw_find_wd(n, d->w[i].wd) != NULL) {
			/* another path to a directory watched already (a
			 * link): the kernel gives the same watch, which is
			 * not ours to remove; such a session polls */
			d->w[i].wd = -1;
			goto fail;
		}
		if (d->w[i].wd != -1) {
			nw_wd_link(n, &d->w[i]);
			continue;
		}
		if (errno == ENOSPC && !n->limit_logged) {
			log_warnx("inotify watch limit reached "
			    "(fs.inotify.max_user_watches): IDLE sessions poll");
			n->limit_logged = true;
		}
		if (errno != ENOENT || i == 0)
			goto fail;
	}
	if ((d->timer = evtimer_new(n->base, nw_on_timer, d)) == NULL)
		fatalx("evtimer_new: out of memory");
	h = nw_hash(path);
	d->next = n->by_path[h];
	n->by_path[h] = d;
	n->ndirs++;
	return d;
fail:
	for (int i = 0; i < 2; i++)
		if (d->w[i].wd != -1) {
			nw_wd_unlink(n, &d->w[i]);
			(void)inotify_rm_watch(n->fd, d->w[i].wd);
		}
	free(d->path);
	free(d);
	return NULL;
}

/* --- events ------------------------------------------------------------------ */

static void
nw_wake_all(struct imap_notify *n)
{
	for (size_t i = 0; i < NW_BUCKETS; i++)
		for (struct nw_dir *d = n->by_path[i]; d != NULL; d = d->next)
			nw_schedule(d);
}

static void
nw_event(struct imap_notify *n, const struct inotify_event *ie)
{
	struct nw_wd *w;

	if (ie->mask & IN_Q_OVERFLOW) {
		nw_wake_all(n);
		return;
	}
	if ((w = nw_find_wd(n, ie->wd)) == NULL)
		return;		/* removed meanwhile */
	if (ie->mask & IN_IGNORED) {
		/* the directory went away (folder deleted or renamed): the
		 * kernel dropped the watch; the sessions find out why */
		nw_wd_unlink(n, w);
		w->wd = -1;
	}
	nw_schedule(w->dir);
}

static void
nw_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct imap_notify *n = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	const struct inotify_event *ie;
	ssize_t len;

	for (int reads = 0; reads < NW_READS_MAX; reads++) {
		len = read(n->fd, buf, sizeof(buf));
		if (len <= 0) {
			if (len == -1 && errno != EAGAIN && errno != EINTR)
				log_warn("inotify read");
			return;
		}
		for (char *p = buf; p < buf + len;
		    p += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)(void *)p;
			nw_event(n, ie);
		}
	}
}

/* --- the interface ------------------------------------------------------------- */

struct imap_notify *
imap_notify_new(struct event_base *base)
{
	struct imap_notify *n;
	int fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify_init1 (fs.inotify.max_user_instances?): "
		    "IDLE sessions poll");
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->base = base;
	n->fd = fd;
	n->ev = event_new(base, fd, EV_READ | EV_PERSIST, nw_on_read, n);
	if (n->ev == NULL)
		fatalx("event_new: out of memory");
	event_add(n->ev, NULL);
	return n;
}

void
imap_notify_free(struct imap_notify **np)
{
	struct imap_notify *n = *np;

	if (n == NULL)
		return;
	for (size_t i = 0; i < NW_BUCKETS; i++) {
		while (n->by_path[i] != NULL) {
			struct nw_dir *d = n->by_path[i];

			/* sessions are gone by now; the last removal frees d */
			while (d->regs != NULL) {
				struct imap_notify_watch *r = d->regs;

				imap_notify_remove(&r);
			}
		}
	}
	event_free(n->ev);
	close(n->fd);
	free(n);
	*np = NULL;
}

struct imap_notify_watch *
imap_notify_add(struct imap_notify *n, const char *dir, void (*cb)(void *),
    void *arg)
{
	struct nw_dir *d;
	struct imap_notify_watch *r;

	if (n == NULL || dir == NULL)
		return NULL;
	if ((d = nw_find_path(n, dir)) == NULL &&
	    (d = nw_dir_new(n, dir)) == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->dir = d;
	r->cb = cb;
	r->arg = arg;
	if ((r->next = d->regs) != NULL)
		r->next->prevp = &r->next;
	d->regs = r;
	r->prevp = &d->regs;
	d->nregs++;
	return r;
}

void
imap_notify_remove(struct imap_notify_watch **wp)
{
	struct imap_notify_watch *r = *wp;
	struct nw_dir *d;

	if (r == NULL)
		return;
	*wp = NULL;
	d = r->dir;
	if (d->cursor == r)
		d->cursor = r->next;
	if ((*r->prevp = r->next) != NULL)
		r->next->prevp = r->prevp;
	free(r);
	if (--d->nregs == 0 && !d->in_cb)
		nw_dir_free(d);
}

const char *
imap_notify_watch_dir(const struct imap_notify_watch *w)
{
	return w->dir->path;
}
