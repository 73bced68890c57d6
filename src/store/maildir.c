/* maildir.c: durable Maildir delivery.
 *
 * A message is written once into tmp/ of the first maildir, then hard
 * linked into new/ of every recipient's maildir.  The order of the
 * commit is what makes a 250 safe (doc/QUEUE.md has every crash state):
 *   fdatasync(file), link() into each new/, fsync() each new/, unlink(tmp).
 * Error strings live in a thread-local buffer (see maildir.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/maildir.h"

#define MAILDIR_TMP_TRIES	5
#define MAILDIR_TMP_MAXAGE	(36 * 60 * 60)
/* Room kept in a base name for ",S=" and a 64-bit size. */
#define MAILDIR_SIZE_SUFFIX	24
/* Escaped host name inside a file name. */
#define MAILDIR_HOST_MAX	128
#define MAILDIR_COPY_BUF	(32 * 1024)

enum maildir_state {
	MAILDIR_ST_TODO,	/* nothing made yet */
	MAILDIR_ST_DUP,		/* same maildir as an earlier entry */
	MAILDIR_ST_LINKED,	/* DIR/new/NAME exists and is ours */
};

struct maildir_commit {
	struct maildir_tmp	*t;
	const char *const	*dirs;
	size_t			 n;
	unsigned char		*st;	/* enum maildir_state per dir */
	struct stat		 sb;	/* the tmp file */
	char			 fname[MAILDIR_NAME_MAX + 1]; /* NAME,S=SIZE */
};

struct maildir_sortent {
	const char	*dir;
	size_t		 idx;
};

static _Thread_local char	maildir_errbuf[2 * MAILDIR_PATH_MAX + 256];
static atomic_ulong		maildir_counter;

static int	maildir_fail(const char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	maildir_failx(const char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
maildir_vfail(const char **err_r, int errnum, const char *fmt, va_list ap)
{
	size_t len;

	vsnprintf(maildir_errbuf, sizeof(maildir_errbuf), fmt, ap);
	len = strlen(maildir_errbuf);
	if (errnum != 0)
		snprintf(maildir_errbuf + len, sizeof(maildir_errbuf) - len,
		    ": %s", strerror(errnum));
	if (err_r != NULL)
		*err_r = maildir_errbuf;
	errno = errnum;
	return -1;
}

/* Format "call(args): strerror(errno)" into *err_r; returns -1. */
static int
maildir_fail(const char **err_r, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	maildir_vfail(err_r, e, fmt, ap);
	va_end(ap);
	return -1;
}

/* Like maildir_fail() without an errno. */
static int
maildir_failx(const char **err_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	maildir_vfail(err_r, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* buf = "dir/sub/name" (name may be NULL). */
static int
maildir_path(char *buf, size_t size, const char *dir, const char *sub,
    const char *name, const char **err_r)
{
	int n;

	if (name != NULL)
		n = snprintf(buf, size, "%s/%s/%s", dir, sub, name);
	else
		n = snprintf(buf, size, "%s/%s", dir, sub);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return maildir_fail(err_r, "maildir path %s/%s", dir, sub);
	}
	return 0;
}

static int
maildir_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync DIR/sub. */
static int
maildir_fsync_dir(const char *dir, const char *sub, const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	int fd;

	if (maildir_path(path, sizeof(path), dir, sub, NULL, err_r) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return maildir_fail(err_r, "open(%s)", path);
	if (fsync(fd) == -1) {
		maildir_fail(err_r, "fsync(%s)", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Names.
 */

/* Maildir escapes '/' as "\057" and ':' as "\072"; we also escape ','
 * (",S=" must stay unambiguous), '\\' and anything not printable. */
static void
maildir_host(char *out, size_t size)
{
	char raw[256];
	size_t o = 0;

	if (gethostname(raw, sizeof(raw)) == -1 || raw[0] == '\0')
		strcpy(raw, "localhost");
	raw[sizeof(raw) - 1] = '\0';
	for (const unsigned char *c = (unsigned char *)raw; *c != '\0'; c++) {
		if (size - o < 5)
			break;
		if (*c == '/' || *c == ':' || *c == ',' || *c == '\\' ||
		    *c <= ' ' || *c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\%03o", *c);
		else
			out[o++] = (char)*c;
	}
	out[o] = '\0';
}

static int
maildir_random(uint64_t *r, const char **err_r)
{
	ssize_t n;

	do
		n = getrandom(r, sizeof(*r), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r))
		return maildir_fail(err_r, "getrandom(%zu)", sizeof(*r));
	return 0;
}

int
maildir_name_new(char *buf, size_t size, const char **err_r)
{
	char host[MAILDIR_HOST_MAX + 1];
	struct timespec ts;
	unsigned long q;
	uint64_t rnd;
	int n;

	if (maildir_random(&rnd, err_r) == -1)
		return -1;
	q = atomic_fetch_add(&maildir_counter, 1) + 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	maildir_host(host, sizeof(host));
	n = snprintf(buf, size, "%lld.M%06ldP%ldQ%luR%016llx.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(), q,
	    (unsigned long long)rnd, host);
	if (n < 0 || (size_t)n >= size)
		return maildir_failx(err_r, "maildir name: buffer of %zu "
		    "bytes too small", size);
	return 0;
}

/*
 * Writing.
 */

int
maildir_tmp_open(const char *dir, struct maildir_tmp *t, const char **err_r)
{
	t->fd = -1;
	t->size = 0;
	t->path[0] = '\0';
	for (int i = 0; i < MAILDIR_TMP_TRIES; i++) {
		if (maildir_name_new(t->name,
		    sizeof(t->name) - MAILDIR_SIZE_SUFFIX, err_r) == -1 ||
		    maildir_path(t->path, sizeof(t->path), dir, "tmp",
		    t->name, err_r) == -1)
			goto fail;
		t->fd = open(t->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (t->fd != -1)
			return 0;
		if (errno != EEXIST)
			break;
	}
	maildir_fail(err_r, "open(%s, O_CREAT|O_EXCL)", t->path);
fail:
	t->path[0] = '\0';
	return -1;
}

int
maildir_tmp_write(struct maildir_tmp *t, const void *p, size_t n,
    const char **err_r)
{
	if (t->fd == -1) {
		errno = EBADF;
		return maildir_fail(err_r, "write(%s)", t->path);
	}
	if (maildir_write_all(t->fd, p, n) == -1)
		return maildir_fail(err_r, "write(%s, %zu)", t->path, n);
	t->size += n;
	return 0;
}

void
maildir_tmp_abort(struct maildir_tmp *t)
{
	if (t->fd != -1) {
		close(t->fd);
		t->fd = -1;
	}
	if (t->path[0] != '\0') {
		if (unlink(t->path) == -1 && errno != ENOENT)
			log_warn("unlink(%s)", t->path);
		t->path[0] = '\0';
	}
}

/*
 * Commit.
 */

static int
maildir_sortent_cmp(const void *a, const void *b)
{
	const struct maildir_sortent *x = a, *y = b;
	int c = strcmp(x->dir, y->dir);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Mark every dir that repeats an earlier one (O(n log n): up to
 * SMTP_RCPTS_MAX_MAX recipients). */
static void
maildir_commit_dups(struct maildir_commit *c)
{
	struct maildir_sortent *v;

	v = xcalloc(c->n, sizeof(*v));
	for (size_t i = 0; i < c->n; i++) {
		v[i].dir = c->dirs[i];
		v[i].idx = i;
	}
	qsort(v, c->n, sizeof(*v), maildir_sortent_cmp);
	for (size_t i = 1; i < c->n; i++)
		if (strcmp(v[i].dir, v[i - 1].dir) == 0)
			c->st[v[i].idx] = MAILDIR_ST_DUP;
	free(v);
}

/* Copy the message into DIR/tmp/NAME and fdatasync it (the EXDEV case). */
static int
maildir_copy_tmp(struct maildir_commit *c, const char *copy,
    const char **err_r)
{
	char buf[MAILDIR_COPY_BUF];
	off_t off = 0;
	ssize_t r;
	int fd;

	fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return maildir_fail(err_r, "open(%s, O_CREAT|O_EXCL)", copy);
	while ((size_t)off < c->t->size) {
		r = pread(c->t->fd, buf, sizeof(buf), off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			maildir_fail(err_r, "read(%s)", c->t->path);
			goto fail;
		}
		if (maildir_write_all(fd, buf, (size_t)r) == -1) {
			maildir_fail(err_r, "write(%s)", copy);
			goto fail;
		}
		off += r;
	}
	if (fdatasync(fd) == -1) {
		maildir_fail(err_r, "fdatasync(%s)", copy);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	unlink(copy);
	return -1;
}

/* link() said EXDEV: copy into DIR/tmp/, then link that into DIR/new/. */
static int
maildir_commit_copy(struct maildir_commit *c, const char *dir,
    const char *dst, const char **err_r)
{
	char copy[MAILDIR_PATH_MAX];
	int rv = 0;

	if (maildir_path(copy, sizeof(copy), dir, "tmp", c->t->name,
	    err_r) == -1 || maildir_copy_tmp(c, copy, err_r) == -1)
		return -1;
	if (link(copy, dst) == -1)
		rv = maildir_fail(err_r, "link(%s, %s)", copy, dst);
	if (unlink(copy) == -1)
		log_warn("unlink(%s)", copy);
	return rv;
}

/* EEXIST: ours already (the same maildir spelled another way)? */
static int
maildir_commit_exists(struct maildir_commit *c, size_t i, const char *src,
    const char *dst, const char **err_r)
{
	struct stat sb;
	int e = errno;

	if (stat(dst, &sb) == 0 && sb.st_dev == c->sb.st_dev &&
	    sb.st_ino == c->sb.st_ino) {
		c->st[i] = MAILDIR_ST_DUP;
		return 0;
	}
	errno = e;
	return maildir_fail(err_r, "link(%s, %s)", src, dst);
}

static int
maildir_commit_link(struct maildir_commit *c, size_t i, const char **err_r)
{
	char dst[MAILDIR_PATH_MAX];
	const char *dir = c->dirs[i];

	if (maildir_path(dst, sizeof(dst), dir, "new", c->fname, err_r) == -1)
		return -1;
	if (link(c->t->path, dst) == 0) {
		c->st[i] = MAILDIR_ST_LINKED;
		return 0;
	}
	if (errno == EEXIST)
		return maildir_commit_exists(c, i, c->t->path, dst, err_r);
	if (errno != EXDEV)
		return maildir_fail(err_r, "link(%s, %s)", c->t->path, dst);
	if (maildir_commit_copy(c, dir, dst, err_r) == -1)
		return -1;
	c->st[i] = MAILDIR_ST_LINKED;
	return 0;
}

/* Undo: remove what we linked, then make the removal durable (best
 * effort: a link that survives a crash is a duplicate, never a loss). */
static void
maildir_commit_rollback(struct maildir_commit *c)
{
	char dst[MAILDIR_PATH_MAX];
	const char *err;

	for (size_t i = 0; i < c->n; i++) {
		if (c->st[i] != MAILDIR_ST_LINKED ||
		    maildir_path(dst, sizeof(dst), c->dirs[i], "new",
		    c->fname, &err) == -1)
			continue;
		if (unlink(dst) == -1)
			log_warn("unlink(%s)", dst);
		else
			(void)maildir_fsync_dir(c->dirs[i], "new", &err);
	}
}

static int
maildir_commit_prepare(struct maildir_commit *c, const char **err_r)
{
	struct maildir_tmp *t = c->t;
	int n;

	if (t->fd == -1 || t->path[0] == '\0') {
		errno = EBADF;
		return maildir_fail(err_r, "commit(%s)", t->path);
	}
	if (c->n == 0)
		return maildir_failx(err_r, "commit(%s): no maildir", t->path);
	if (fdatasync(t->fd) == -1)
		return maildir_fail(err_r, "fdatasync(%s)", t->path);
	if (fstat(t->fd, &c->sb) == -1)
		return maildir_fail(err_r, "fstat(%s)", t->path);
	if ((uintmax_t)c->sb.st_size != t->size)
		return maildir_failx(err_r, "commit(%s): %zu bytes written, "
		    "file has %jd", t->path, t->size, (intmax_t)c->sb.st_size);
	n = snprintf(c->fname, sizeof(c->fname), "%s,S=%zu", t->name,
	    t->size);
	if (n < 0 || (size_t)n >= sizeof(c->fname))
		return maildir_failx(err_r, "commit(%s): name too long",
		    t->path);
	return 0;
}

int
maildir_tmp_commit(struct maildir_tmp *t, const char *const *dirs, size_t n,
    const char **err_r)
{
	struct maildir_commit c = { .t = t, .dirs = dirs, .n = n };
	size_t i;

	if (maildir_commit_prepare(&c, err_r) == -1)
		goto fail;
	c.st = xcalloc(n, 1);
	maildir_commit_dups(&c);
	for (i = 0; i < n; i++)
		if (c.st[i] == MAILDIR_ST_TODO &&
		    maildir_commit_link(&c, i, err_r) == -1)
			goto fail;
	for (i = 0; i < n; i++)
		if (c.st[i] == MAILDIR_ST_LINKED &&
		    maildir_fsync_dir(dirs[i], "new", err_r) == -1)
			goto fail;
	/* Durable now.  A tmp file left behind is removed after 36 h. */
	close(t->fd);
	t->fd = -1;
	if (unlink(t->path) == -1)
		log_warn("unlink(%s)", t->path);
	t->path[0] = '\0';
	free(c.st);
	return 0;
fail:
	if (c.st != NULL)
		maildir_commit_rollback(&c);
	free(c.st);
	maildir_tmp_abort(t);
	return -1;
}

/*
 * Creating and cleaning.
 */

/* mkdir name under pfd (shown as path), open it, set mode and owner.
 * own: a directory of the maildir itself (chowned, no symlinks). */
static int
maildir_create_step(int pfd, const char *path, const char *name,
    mode_t mode, bool own, uid_t uid, gid_t gid, const char **err_r)
{
	bool made = false, chown_it = own && uid != (uid_t)-1;
	int fd, flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

	if (mkdirat(pfd, name, mode) == 0)
		made = true;
	else if (errno != EEXIST)
		return maildir_fail(err_r, "mkdir(%s, 0%o)", path,
		    (unsigned)mode);
	if (chown_it)
		flags |= O_NOFOLLOW;
	if ((fd = openat(pfd, name, flags)) == -1)
		return maildir_fail(err_r, "open(%s)", path);
	if (made && fchmod(fd, mode) == -1) {
		maildir_fail(err_r, "chmod(%s, 0%o)", path, (unsigned)mode);
		goto fail;
	}
	if (chown_it && fchown(fd, uid, gid) == -1) {
		maildir_fail(err_r, "chown(%s, %u, %u)", path, (unsigned)uid,
		    (unsigned)gid);
		goto fail;
	}
	if (made && (fsync(fd) == -1 || fsync(pfd) == -1)) {
		maildir_fail(err_r, "fsync(%s)", path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Reject "", "..", and paths that could never hold a message. */
static int
maildir_create_check(const char *dir, const char **err_r)
{
	size_t len = strlen(dir);
	const char *p = dir, *e;

	if (len == 0)
		return maildir_failx(err_r, "maildir_create: empty path");
	if (len + sizeof("/new/") + MAILDIR_NAME_MAX >= MAILDIR_PATH_MAX)
		return maildir_failx(err_r, "maildir_create(%s): path too "
		    "long", dir);
	for (; *p != '\0'; p = *e == '\0' ? e : e + 1) {
		e = strchrnul(p, '/');
		if (e - p == 2 && p[0] == '.' && p[1] == '.')
			return maildir_failx(err_r, "maildir_create(%s): "
			    "\"..\" in path", dir);
	}
	return 0;
}

/* Walk dir one component at a time from "/" or ".", creating as needed;
 * returns an fd on dir or -1. */
static int
maildir_create_walk(const char *dir, uid_t uid, gid_t gid,
    const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	size_t len = strlen(dir), b = 0, e;
	int fd, nfd;

	memcpy(path, dir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if ((fd = open(path[0] == '/' ? "/" : ".",
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return maildir_fail(err_r, "open(%s)", path[0] == '/' ?
		    "/" : ".");
	while (b < len) {
		for (; path[b] == '/'; b++)
			;
		for (e = b; path[e] != '/' && path[e] != '\0'; e++)
			;
		path[e] = '\0';
		nfd = maildir_create_step(fd, path, path + b,
		    e == len ? 0700 : 0755, e == len, uid, gid, err_r);
		if (e != len)
			path[e] = '/';
		close(fd);
		if ((fd = nfd) == -1)
			return -1;
		b = e;
	}
	return fd;
}

int
maildir_create(const char *dir, uid_t uid, gid_t gid, const char **err_r)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char path[MAILDIR_PATH_MAX];
	int fd, sfd = -1;

	if (maildir_create_check(dir, err_r) == -1 ||
	    (fd = maildir_create_walk(dir, uid, gid, err_r)) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (maildir_path(path, sizeof(path), dir, subs[i], NULL,
		    err_r) == -1 ||
		    (sfd = maildir_create_step(fd, path, subs[i], 0700, true,
		    uid, gid, err_r)) == -1)
			break;
		close(sfd);
	}
	close(fd);
	return sfd == -1 ? -1 : 0;
}

void
maildir_clean_tmp(const char *dir)
{
	char path[MAILDIR_PATH_MAX];
	time_t limit = time(NULL) - MAILDIR_TMP_MAXAGE;
	struct dirent *de;
	struct stat sb;
	const char *err;
	DIR *d;

	if (maildir_path(path, sizeof(path), dir, "tmp", NULL, &err) == -1) {
		log_warnx("%s", err);
		return;
	}
	if ((d = opendir(path)) == NULL) {
		log_warn("opendir(%s)", path);
		return;
	}
	/* mtime, not atime: noatime/relatime make atime useless here */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(sb.st_mode) || sb.st_mtime > limit)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 && errno != ENOENT)
			log_warn("unlink(%s/%s)", path, de->d_name);
	}
	closedir(d);
}
