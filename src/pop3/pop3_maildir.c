/* pop3_maildir.c: the POP3 view of a Maildir (see pop3_maildir.h).
 *
 * Names: new/NAME,S=SIZE is moved to cur/NAME,S=SIZE:2, at login; the
 * base name (before the first ',' or ':') never changes afterwards,
 * whatever flags IMAP or we add, so it gives the UIDL and lets a file
 * renamed under us be found again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "pop3/pop3_maildir.h"
#include "store/maildir.h"

static _Thread_local char	pop3_maildir_errbuf[MAILDIR_PATH_MAX + 256];

static const char *
pop3_maildir_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "call(args): strerror(errno)" into the thread-local buffer. */
static const char *
pop3_maildir_err(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(pop3_maildir_errbuf, sizeof(pop3_maildir_errbuf), fmt,
	    ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(pop3_maildir_errbuf))
		snprintf(pop3_maildir_errbuf + n,
		    sizeof(pop3_maildir_errbuf) - (size_t)n, ": %s",
		    strerror(saved));
	errno = saved;
	return pop3_maildir_errbuf;
}

struct pop3_mailbox *
pop3_mailbox_new(const char *dir)
{
	struct pop3_mailbox *mb = xcalloc(1, sizeof(*mb));

	mb->dir = xstrdup(dir);
	mb->lock_fd = -1;
	mb->cur_fd = -1;
	return mb;
}

void
pop3_mailbox_free(struct pop3_mailbox **mbp)
{
	struct pop3_mailbox *mb = *mbp;

	if (mb == NULL)
		return;
	*mbp = NULL;
	for (size_t i = 0; i < mb->n; i++)
		free(mb->msgs[i].name);
	free(mb->msgs);
	if (mb->cur_fd != -1)
		close(mb->cur_fd);
	if (mb->lock_fd != -1)
		close(mb->lock_fd);	/* releases the flock */
	free(mb->dir);
	free(mb);
}

static enum pop3_open_res
pop3_mailbox_lock(struct pop3_mailbox *mb, const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", mb->dir,
	    POP3_LOCK_NAME) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		*err_r = pop3_maildir_err("%s/%s", mb->dir, POP3_LOCK_NAME);
		return POP3_OPEN_ERROR;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		*err_r = pop3_maildir_err("open(%s)", path);
		return POP3_OPEN_ERROR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		enum pop3_open_res res = errno == EWOULDBLOCK ?
		    POP3_OPEN_LOCKED : POP3_OPEN_ERROR;

		*err_r = pop3_maildir_err("flock(%s)", path);
		close(fd);
		return res;
	}
	mb->lock_fd = fd;
	return POP3_OPEN_OK;
}

static int
pop3_mailbox_opendir(const char *dir, const char *sub, const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		*err_r = pop3_maildir_err("open(%s)", path);
	return fd;
}

/* A DIR * over the directory fd refers to.  Opened anew, not dup'ed: a
 * dup shares the file offset, and UPDATE's parts may list cur/ from
 * several threads at once. */
static DIR *
pop3_mailbox_dir(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (dfd == -1)
		return NULL;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return NULL;
	}
	return d;
}

/* new/NAME -> cur/NAME:2, for every message in new/.  One that vanished
 * meanwhile was moved by someone else (IMAP): it is in cur/ already. */
static int
pop3_mailbox_move_new(struct pop3_mailbox *mb, int new_fd, const char **err_r)
{
	char to[MAILDIR_NAME_MAX + 4];
	struct dirent *de;
	DIR *d;

	if ((d = pop3_mailbox_dir(new_fd)) == NULL) {
		*err_r = pop3_maildir_err("opendir(%s/new)", mb->dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		if (strchr(de->d_name, ':') != NULL)
			snprintf(to, sizeof(to), "%s", de->d_name);
		else
			snprintf(to, sizeof(to), "%s:2,", de->d_name);
		if (renameat(new_fd, de->d_name, mb->cur_fd, to) == 0)
			mb->moved++;
		else if (errno != ENOENT)
			log_warnx("%s", pop3_maildir_err("rename(%s/new/%s, "
			    "%s/cur/%s)", mb->dir, de->d_name, mb->dir, to));
	}
	closedir(d);
	return 0;
}

static void
pop3_mailbox_add(struct pop3_mailbox *mb, size_t *cap, const char *name,
    const struct pop3_mdname *md, uint64_t size)
{
	struct pop3_msg *m;

	if (mb->n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		mb->msgs = xrealloc(mb->msgs, *cap * sizeof(*mb->msgs));
	}
	m = &mb->msgs[mb->n++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->size = size;
	m->secs = md->secs;
	m->usecs = md->usecs;
	m->baselen = (uint32_t)md->base.len;
}

/* Delivery order: the time in the name, then the name. */
static int
pop3_mailbox_cmp(const void *a, const void *b)
{
	const struct pop3_msg *x = a, *y = b;

	if (x->secs != y->secs)
		return x->secs < y->secs ? -1 : 1;
	if (x->usecs != y->usecs)
		return x->usecs < y->usecs ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
pop3_mailbox_scan(struct pop3_mailbox *mb, const char **err_r)
{
	struct pop3_mdname md;
	struct dirent *de;
	struct stat sb;
	size_t cap = 0;
	uint64_t size;
	DIR *d;

	if ((d = pop3_mailbox_dir(mb->cur_fd)) == NULL) {
		*err_r = pop3_maildir_err("opendir(%s/cur)", mb->dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		pop3_parse_mdname(str_cstr(de->d_name), &md);
		size = md.size;
		if (!md.has_size) {
			if (fstatat(mb->cur_fd, de->d_name, &sb,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
				continue;
			size = (uint64_t)sb.st_size;
		}
		pop3_mailbox_add(mb, &cap, de->d_name, &md, size);
	}
	closedir(d);
	if (mb->n > 1)
		qsort(mb->msgs, mb->n, sizeof(*mb->msgs), pop3_mailbox_cmp);
	if (mb->n > POP3_MESSAGES_MAX) {
		for (size_t i = POP3_MESSAGES_MAX; i < mb->n; i++)
			free(mb->msgs[i].name);
		mb->hidden = mb->n - POP3_MESSAGES_MAX;
		mb->n = POP3_MESSAGES_MAX;
	}
	return 0;
}

enum pop3_open_res
pop3_mailbox_open(struct pop3_mailbox *mb, const char **err_r)
{
	enum pop3_open_res res;
	int new_fd;

	if (maildir_create(mb->dir, (uid_t)-1, (gid_t)-1, err_r) == -1)
		return POP3_OPEN_ERROR;
	if ((res = pop3_mailbox_lock(mb, err_r)) != POP3_OPEN_OK)
		return res;
	if ((mb->cur_fd = pop3_mailbox_opendir(mb->dir, "cur", err_r)) == -1)
		return POP3_OPEN_ERROR;
	if ((new_fd = pop3_mailbox_opendir(mb->dir, "new", err_r)) == -1)
		return POP3_OPEN_ERROR;
	if (pop3_mailbox_move_new(mb, new_fd, err_r) == -1) {
		close(new_fd);
		return POP3_OPEN_ERROR;
	}
	close(new_fd);
	if (pop3_mailbox_scan(mb, err_r) == -1)
		return POP3_OPEN_ERROR;
	return POP3_OPEN_OK;
}

/* The file of message i was renamed (flags changed elsewhere): look for
 * its base name in cur/ again.  0 found (name updated), -1 gone. */
static int
pop3_mailbox_refind(struct pop3_mailbox *mb, size_t i)
{
	struct pop3_msg *m = &mb->msgs[i];
	struct pop3_mdname md;
	struct dirent *de;
	int rc = -1;
	DIR *d;

	if ((d = pop3_mailbox_dir(mb->cur_fd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		pop3_parse_mdname(str_cstr(de->d_name), &md);
		if (md.base.len != m->baselen ||
		    memcmp(md.base.p, m->name, m->baselen) != 0)
			continue;
		free(m->name);
		m->name = xstrdup(de->d_name);
		rc = 0;
		break;
	}
	closedir(d);
	return rc;
}

int
pop3_mailbox_open_msg(struct pop3_mailbox *mb, size_t i)
{
	int fd;

	fd = openat(mb->cur_fd, mb->msgs[i].name,
	    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd != -1 || errno != ENOENT)
		return fd;
	if (pop3_mailbox_refind(mb, i) == -1) {
		errno = ENOENT;
		return -1;
	}
	return openat(mb->cur_fd, mb->msgs[i].name,
	    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

size_t
pop3_mailbox_uidl(const struct pop3_mailbox *mb, size_t i,
    char out[POP3_UIDL_MAX + 1])
{
	const struct pop3_msg *m = &mb->msgs[i];

	return pop3_parse_uidl(str_make(m->name, m->baselen), out);
}

static int
pop3_mailbox_unlink(struct pop3_mailbox *mb, size_t i, const char **err_r)
{
	struct pop3_msg *m = &mb->msgs[i];

	if (unlinkat(mb->cur_fd, m->name, 0) == 0)
		return 0;
	if (errno == ENOENT && pop3_mailbox_refind(mb, i) == -1)
		return 0;	/* already expunged elsewhere */
	if (errno == ENOENT && unlinkat(mb->cur_fd, m->name, 0) == 0)
		return 0;
	*err_r = pop3_maildir_err("unlink(%s/cur/%s)", mb->dir, m->name);
	return -1;
}

/* Add 'S' to the flags of message i (rename within cur/). */
static void
pop3_mailbox_mark_seen(struct pop3_mailbox *mb, size_t i,
    struct pop3_update_res *res)
{
	struct pop3_msg *m = &mb->msgs[i];
	char flags[MAILDIR_NAME_MAX + 1], to[MAILDIR_NAME_MAX + 8];
	struct pop3_mdname md;

	for (int tries = 0; tries < 2; tries++) {
		pop3_parse_mdname(str_cstr(m->name), &md);
		if (md.has_info && md.flags.len > 0 &&
		    memchr(md.flags.p, 'S', md.flags.len) != NULL)
			return;
		if (pop3_parse_add_seen(md.flags, flags, sizeof(flags)) == -1)
			return;
		if ((size_t)snprintf(to, sizeof(to), "%.*s:2,%s",
		    (int)strcspn(m->name, ":"), m->name, flags) >= sizeof(to))
			return;
		if (renameat(mb->cur_fd, m->name, mb->cur_fd, to) == 0) {
			free(m->name);
			m->name = xstrdup(to);
			res->seen++;
			return;
		}
		if (errno != ENOENT || pop3_mailbox_refind(mb, i) == -1)
			return;
	}
}

void
pop3_mailbox_update_range(struct pop3_mailbox *mb, size_t from, size_t to,
    struct pop3_update_res *res)
{
	const char *e;

	memset(res, 0, sizeof(*res));
	for (size_t i = from; i < to && i < mb->n; i++) {
		if (mb->msgs[i].deleted) {
			if (pop3_mailbox_unlink(mb, i, &e) == 0) {
				res->unlinked++;
				continue;
			}
			if (res->failed++ == 0)
				snprintf(res->err, sizeof(res->err), "%s", e);
		} else if (mb->msgs[i].retrieved) {
			pop3_mailbox_mark_seen(mb, i, res);
		}
	}
	/* the deletions survive a crash: no message comes back */
	if (res->unlinked > 0 && fsync(mb->cur_fd) == -1) {
		e = pop3_maildir_err("fsync(%s/cur)", mb->dir);
		if (res->failed++ == 0)
			snprintf(res->err, sizeof(res->err), "%s", e);
	}
}

int
pop3_mailbox_update(struct pop3_mailbox *mb, const char **err_r)
{
	struct pop3_update_res res;

	pop3_mailbox_update_range(mb, 0, mb->n, &res);
	mb->unlinked += res.unlinked;
	mb->seen += res.seen;
	mb->failed += res.failed;
	if (res.failed == 0)
		return 0;
	snprintf(pop3_maildir_errbuf, sizeof(pop3_maildir_errbuf), "%s",
	    res.err);
	*err_r = pop3_maildir_errbuf;
	return -1;
}
