/* queue_fs.c: the outbound queue on disk (queue_fs.h; the layout and
 * every crash state are in doc/QUEUE.md, "Outbound queue").
 *
 * A message is one file: a header block (a line giving its length, the
 * envelope, padding) and the message.  A commit, for each message:
 *   pwrite(header block, offset 0)    (the message was written behind it)
 *   fdatasync(tmp/Q.msg)
 *   rename(tmp/Q.msg, Q.msg)          (RENAME_NOREPLACE)
 *   link(Q.msg, Q.env)                (a second name, not a second file)
 * then one fsync(queue/) for the whole batch.  A message exists once
 * its .env does: the .msg is renamed first so that a visible .env never
 * lacks its message (it is the same file unless the envelope was too
 * big for its room), and removal unlinks the .env first.  An envelope
 * rewritten later (a retry, a hold) is a small file of its own that
 * replaces the Q.env name; the header block in Q.msg is then stale and
 * only skipped.  Files of removed messages are kept in spare/ and
 * reused: creating and freeing an inode per message costs more than
 * everything else on the disk (doc/QUEUE.md, "Why one file"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "queue/queue_fs.h"

#define QUEUE_FS_DIR_MODE	0700
#define QUEUE_FS_FILE_MODE	0600
#define QUEUE_FS_QID_LEN	16
/* Threads of one group commit (doc/QUEUE.md, "Group commit"); the
 * bench builds with -DQUEUE_FS_BATCH_THREADS=1 to compare. */
#ifndef QUEUE_FS_BATCH_THREADS
#define QUEUE_FS_BATCH_THREADS	8
#endif
/* "Q.msg" and "Q.env" */
#define QUEUE_FS_NAME_LEN	(QUEUE_FS_QID_LEN + 4)
/* The header block: "facteur-queue 1 " and its length in exactly 10
 * digits (the offset of the message), LF; the envelope; LF padding. */
#define QUEUE_FS_HDR_MAGIC	"facteur-queue 1 "
#define QUEUE_FS_HDR_MAGIC_LEN	(sizeof(QUEUE_FS_HDR_MAGIC) - 1)
#define QUEUE_FS_HDR_LINE	(QUEUE_FS_HDR_MAGIC_LEN + 11)
#define QUEUE_FS_HDR_MAX	(QUEUE_FS_HDR_LINE + ENVELOPE_FILE_MAX)
/* queue_fs_new without an envelope: room for a small one */
#define QUEUE_FS_HDR_SMALL	1024
/* Spare files: at most this many, each at most this big (a larger
 * file is removed instead); spare/ names are 4 hex digits. */
#define QUEUE_FS_SPARE_MAX	256
#define QUEUE_FS_SPARE_SIZE_MAX	(64 * 1024)
/* Names tried per reuse or recycling before giving up. */
#define QUEUE_FS_SPARE_TRIES	4
/* How much of an envelope file is read at first. */
#define QUEUE_FS_READ_FIRST	4096

enum queue_fs_kind {
	QUEUE_FS_MSG,
	QUEUE_FS_ENV,
};

static const char *const queue_fs_ext[] = { ".msg", ".env" };

/* One qid seen by a directory scan. */
struct queue_fs_ent {
	uint64_t	qid;
	unsigned char	has;	/* 1 << enum queue_fs_kind */
};

struct queue_fs_list_ctx {
	struct queue_fs_ent	*ents;
	size_t			 n, cap;
};

static _Thread_local char	queue_fs_errbuf[2 * QUEUE_FS_PATH_MAX + 256];

static int	queue_fs_fail(const char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* "call(args): strerror(errno)" into *err_r; keeps errno; returns -1. */
static int
queue_fs_fail(const char **err_r, const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf), fmt, ap);
	va_end(ap);
	len = strlen(queue_fs_errbuf);
	snprintf(queue_fs_errbuf + len, sizeof(queue_fs_errbuf) - len, ": %s",
	    strerror(e));
	if (err_r != NULL)
		*err_r = queue_fs_errbuf;
	errno = e;
	return -1;
}

int
queue_fs_qid_parse(const char *s, uint64_t *qid_r)
{
	uint64_t q = 0;
	size_t i;

	for (i = 0; i < QUEUE_FS_QID_LEN; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			q = q << 4 | (uint64_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			q = q << 4 | (uint64_t)(s[i] - 'a' + 10);
		else
			return -1;
	}
	if (s[i] != '\0' || q == 0)
		return -1;
	*qid_r = q;
	return 0;
}

/* buf = DATA_DIR/queue[/tmp][/Q.ext]; qid 0: the directory itself. */
static int
queue_fs_path(char *buf, const char *data_dir, bool tmp, uint64_t qid,
    enum queue_fs_kind kind, const char *suffix, const char **err_r)
{
	int n;

	if (qid == 0)
		n = snprintf(buf, QUEUE_FS_PATH_MAX, "%s/queue%s", data_dir,
		    tmp ? "/tmp" : "");
	else
		n = snprintf(buf, QUEUE_FS_PATH_MAX, "%s/queue%s/%016llx%s%s",
		    data_dir, tmp ? "/tmp" : "", (unsigned long long)qid,
		    queue_fs_ext[kind], suffix);
	if (n < 0 || n >= QUEUE_FS_PATH_MAX) {
		errno = ENAMETOOLONG;
		return queue_fs_fail(err_r, "queue path %s/queue", data_dir);
	}
	return 0;
}

static int
queue_fs_mkdir(const char *path, const char **err_r)
{
	if (mkdir(path, QUEUE_FS_DIR_MODE) == -1 && errno != EEXIST)
		return queue_fs_fail(err_r, "mkdir(%s)", path);
	return 0;
}

static int
queue_fs_fsync_path(const char *path, const char **err_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return queue_fs_fail(err_r, "open(%s)", path);
	if (fsync(fd) == -1) {
		queue_fs_fail(err_r, "fsync(%s)", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
queue_fs_init(const char *data_dir, const char **err_r)
{
	char path[QUEUE_FS_PATH_MAX];

	if (queue_fs_path(path, data_dir, false, 0, 0, "", err_r) == -1 ||
	    queue_fs_mkdir(path, err_r) == -1 ||
	    queue_fs_path(path, data_dir, true, 0, 0, "", err_r) == -1 ||
	    queue_fs_mkdir(path, err_r) == -1)
		return -1;
	if (snprintf(path, sizeof(path), "%s/queue/spare", data_dir) >=
	    (int)sizeof(path) || queue_fs_mkdir(path, err_r) == -1)
		return -1;
	/* make both entries durable: the queue must not vanish */
	if (queue_fs_fsync_path(data_dir, err_r) == -1 ||
	    queue_fs_path(path, data_dir, false, 0, 0, "", err_r) == -1)
		return -1;
	return queue_fs_fsync_path(path, err_r);
}

/* pwrite() all of p at off, retrying short writes and EINTR. */
static int
queue_fs_pwrite_all(int fd, const void *p, size_t len, off_t off,
    const char *path, const char **err_r)
{
	const char *c = p;
	ssize_t w;

	while (len > 0) {
		if ((w = pwrite(fd, c, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return queue_fs_fail(err_r, "write(%s)", path);
		}
		c += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

/* write() all of p, retrying short writes and EINTR. */
static int
queue_fs_write_all(int fd, const void *p, size_t len, const char *path,
    const char **err_r)
{
	const char *c = p;
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, c, len)) == -1) {
			if (errno == EINTR)
				continue;
			return queue_fs_fail(err_r, "write(%s)", path);
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Spare files.  The queue process moves the file of a removed message
 * to spare/XXXX (a slot among QUEUE_FS_SPARE_MAX, taken in turn; when
 * the slots tried are full the file is removed); a new message takes
 * one back with a rename into tmp/.  Each process keeps the names it
 * saw in spare/ and reads the directory again when they are used up
 * and its mtime moved.
 * Two processes may want the same name: the rename decides (ENOENT for
 * the loser, who tries the next).
 */

struct queue_fs_spares {
	pthread_mutex_t	 mtx;
	char		 dir[QUEUE_FS_PATH_MAX];	/* DATA_DIR */
	uint16_t	 slots[QUEUE_FS_SPARE_MAX];
	size_t		 n, used;	/* names seen, names tried */
	bool		 down;		/* tried from the last one */
	struct timespec	 mtime;		/* of spare/ when read */
	atomic_uint	 put;		/* next slot to fill */
};

static struct queue_fs_spares queue_fs_spares = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
};

static void
queue_fs_spare_path(char *buf, const char *data_dir, unsigned slot)
{
	snprintf(buf, QUEUE_FS_PATH_MAX, "%s/queue/spare/%04x", data_dir,
	    slot % QUEUE_FS_SPARE_MAX);
}

/* Read spare/ into the list (sp->mtx held), unless it has not changed
 * since it was last read. */
static void
queue_fs_spare_scan(struct queue_fs_spares *sp, const char *data_dir)
{
	char path[QUEUE_FS_PATH_MAX], *end;
	struct dirent *de;
	struct stat sb;
	unsigned long v;
	DIR *d;

	snprintf(path, sizeof(path), "%s/queue/spare", data_dir);
	if (stat(path, &sb) == -1 ||
	    (sb.st_mtim.tv_sec == sp->mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == sp->mtime.tv_nsec))
		return;
	sp->mtime = sb.st_mtim;
	sp->n = sp->used = 0;
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && sp->n < QUEUE_FS_SPARE_MAX) {
		if (strlen(de->d_name) != 4)
			continue;
		v = strtoul(de->d_name, &end, 16);
		if (*end != '\0' || v >= QUEUE_FS_SPARE_MAX)
			continue;
		sp->slots[sp->n++] = (uint16_t)v;
	}
	closedir(d);
	/* two workers reading the same names: one takes them from the
	 * first, the other from the last (they meet only at the end) */
	sp->down = getpid() % 2 != 0;
}

/* The next spare slot to try, or -1 when there seems to be none. */
static int
queue_fs_spare_next(const char *data_dir, size_t *tried)
{
	struct queue_fs_spares *sp = &queue_fs_spares;
	int slot = -1;

	pthread_mutex_lock(&sp->mtx);
	if (strcmp(sp->dir, data_dir) != 0) {
		snprintf(sp->dir, sizeof(sp->dir), "%s", data_dir);
		sp->n = sp->used = 0;
		sp->mtime.tv_sec = sp->mtime.tv_nsec = 0;
	}
	if (sp->used == sp->n && *tried == 0)
		queue_fs_spare_scan(sp, data_dir);
	if (sp->used < sp->n) {
		slot = sp->slots[sp->down ? sp->n - 1 - sp->used : sp->used];
		sp->used++;
	}
	pthread_mutex_unlock(&sp->mtx);
	(*tried)++;
	return slot;
}

/* Take a spare file as path (tmp/Q.msg): its fd, open for writing, or
 * -1 (none: create one).  *old_size_r: its size. */
static int
queue_fs_spare_take(const char *data_dir, const char *path,
    uint64_t *old_size_r)
{
	char spare[QUEUE_FS_PATH_MAX];
	struct stat sb;
	size_t tried = 0;
	int slot, fd;

	while (tried < QUEUE_FS_SPARE_TRIES &&
	    (slot = queue_fs_spare_next(data_dir, &tried)) != -1) {
		queue_fs_spare_path(spare, data_dir, (unsigned)slot);
		if (renameat2(AT_FDCWD, spare, AT_FDCWD, path,
		    RENAME_NOREPLACE) == -1) {
			if (errno == ENOENT)
				continue;	/* another process took it */
			return -1;	/* e.g. EEXIST: let open() say it */
		}
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		/* only a plain file of ours with no other name (a crash
		 * in the middle of a rename can leave two) */
		if (fd == -1 || fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
		    sb.st_nlink != 1 || sb.st_uid != geteuid()) {
			if (fd != -1)
				close(fd);
			if (unlink(path) == -1 && errno != ENOENT)
				log_warn("unlink(%s)", path);
			continue;
		}
		/* mtime: a tmp/ file is a stray only after an hour */
		(void)futimens(fd, NULL);
		*old_size_r = (uint64_t)sb.st_size;
		return fd;
	}
	return -1;
}

/* Give the message file at path to spare/, or remove it. */
static int
queue_fs_spare_put(const char *data_dir, const char *path,
    const char **err_r)
{
	struct queue_fs_spares *sp = &queue_fs_spares;
	char spare[QUEUE_FS_PATH_MAX];
	struct stat sb;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		return queue_fs_fail(err_r, "lstat(%s)", path);
	}
	if (S_ISREG(sb.st_mode) && sb.st_nlink == 1 &&
	    sb.st_size <= QUEUE_FS_SPARE_SIZE_MAX) {
		for (int i = 0; i < QUEUE_FS_SPARE_TRIES; i++) {
			queue_fs_spare_path(spare, data_dir,
			    atomic_fetch_add(&sp->put, 1));
			if (renameat2(AT_FDCWD, path, AT_FDCWD, spare,
			    RENAME_NOREPLACE) == 0)
				return 0;
			if (errno != EEXIST)
				break;	/* no spare/: remove it */
		}
	}
	if (unlink(path) == -1 && errno != ENOENT)
		return queue_fs_fail(err_r, "unlink(%s)", path);
	return 0;
}

/*
 * New messages.
 */

/* Bytes of the header block for an envelope like proto. */
static size_t
queue_fs_hdr_size(const struct envelope *proto)
{
	struct envelope e;
	size_t len;

	if (proto == NULL)
		return QUEUE_FS_HDR_SMALL;
	e = *proto;	/* the recipients stay proto's: only read */
	/* what may still change, at its longest */
	e.size = SIZE_MAX;
	e.created = (time_t)INT64_MAX;
	e.eightbit = true;
	free(envelope_format(&e, &len));
	len += QUEUE_FS_HDR_LINE + 1;	/* + a byte of padding */
	return len < QUEUE_FS_HDR_MAX ? len : QUEUE_FS_HDR_MAX;
}

int
queue_fs_new(const char *data_dir, uint64_t qid, const struct envelope *proto,
    struct queue_new *n, const char **err_r)
{
	n->qid = qid;
	n->fd = -1;
	n->size = 0;
	n->old_size = 0;
	n->hdr = queue_fs_hdr_size(proto);
	n->tmp_path[0] = '\0';
	if (qid == 0) {
		errno = EINVAL;
		return queue_fs_fail(err_r, "queue_fs_new: qid 0");
	}
	if (queue_fs_path(n->tmp_path, data_dir, true, qid, QUEUE_FS_MSG, "",
	    err_r) == -1)
		return -1;
	n->fd = queue_fs_spare_take(data_dir, n->tmp_path, &n->old_size);
	if (n->fd == -1)
		n->fd = open(n->tmp_path, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, QUEUE_FS_FILE_MODE);
	if (n->fd == -1) {
		queue_fs_fail(err_r, "open(%s)", n->tmp_path);
		n->tmp_path[0] = '\0';
		return -1;
	}
	return 0;
}

int
queue_fs_write(struct queue_new *n, const void *p, size_t len,
    const char **err_r)
{
	if (queue_fs_pwrite_all(n->fd, p, len, (off_t)(n->hdr + n->size),
	    n->tmp_path, err_r) == -1)
		return -1;
	n->size += len;
	return 0;
}

void
queue_fs_abort(struct queue_new *n)
{
	if (n->fd != -1) {
		close(n->fd);
		n->fd = -1;
	}
	if (n->tmp_path[0] != '\0') {
		if (unlink(n->tmp_path) == -1 && errno != ENOENT)
			log_warn("unlink(%s)", n->tmp_path);
		n->tmp_path[0] = '\0';
	}
}

/* Write e into a new file at path, fdatasync it.  excl: O_EXCL (a new
 * message), else truncate a leftover.  When owner is set (root
 * rewriting another user's file), the file is given to it. */
static int
queue_fs_write_env(const char *path, const struct envelope *e, bool excl,
    const struct stat *owner, const char **err_r)
{
	char *text;
	size_t len;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    (excl ? O_EXCL : O_TRUNC), QUEUE_FS_FILE_MODE);
	if (fd == -1)
		return queue_fs_fail(err_r, "open(%s)", path);
	text = envelope_format(e, &len);
	if (owner != NULL && fchown(fd, owner->st_uid, owner->st_gid) == -1) {
		queue_fs_fail(err_r, "fchown(%s)", path);
		goto fail;
	}
	if (queue_fs_write_all(fd, text, len, path, err_r) == -1)
		goto fail;
	if (fdatasync(fd) == -1) {
		queue_fs_fail(err_r, "fdatasync(%s)", path);
		goto fail;
	}
	rc = 0;
fail:
	free(text);
	close(fd);
	if (rc == -1 && unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink(%s)", path);
	return rc;
}

/*
 * Commit.
 */

/* The paths of one message being committed. */
struct queue_fs_commit_one {
	char	tmp_msg[QUEUE_FS_PATH_MAX], tmp_env[QUEUE_FS_PATH_MAX];
	char	msg[QUEUE_FS_PATH_MAX], env[QUEUE_FS_PATH_MAX];
	bool	tmp_env_in;		/* tmp/Q.env made */
	bool	msg_in, env_in;		/* renamed into queue/ */
};

static int
queue_fs_rename(const char *from, const char *to, const char **err_r)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == -1)
		return queue_fs_fail(err_r, "rename(%s, %s)", from, to);
	return 0;
}

/* The header block of n: the length line, e when it fits (*in_r), LF
 * padding; malloc'ed, n->hdr bytes. */
static char *
queue_fs_hdr_build(const struct queue_new *n, const struct envelope *e,
    bool *in_r)
{
	char *hdr = xmalloc(n->hdr), *text;
	size_t len;

	memset(hdr, '\n', n->hdr);
	snprintf(hdr, QUEUE_FS_HDR_LINE + 1, QUEUE_FS_HDR_MAGIC "%010zu\n",
	    n->hdr);
	hdr[QUEUE_FS_HDR_LINE] = '\n';	/* snprintf's NUL */
	text = envelope_format(e, &len);
	*in_r = QUEUE_FS_HDR_LINE + len < n->hdr;
	if (*in_r)
		memcpy(hdr + QUEUE_FS_HDR_LINE, text, len);
	free(text);
	return hdr;
}

/* Everything but the directory fsync, for one message. */
static int
queue_fs_commit_prepare(const char *data_dir, struct queue_new *n,
    struct envelope *e, struct queue_fs_commit_one *c, const char **err_r)
{
	uint64_t total = n->hdr + n->size;
	char *hdr;
	bool env_in_hdr;
	int rc;

	e->qid = n->qid;
	e->size = n->size;
	if (queue_fs_path(c->tmp_env, data_dir, true, n->qid, QUEUE_FS_ENV, "",
	    err_r) == -1 ||
	    queue_fs_path(c->msg, data_dir, false, n->qid, QUEUE_FS_MSG, "",
	    err_r) == -1 ||
	    queue_fs_path(c->env, data_dir, false, n->qid, QUEUE_FS_ENV, "",
	    err_r) == -1)
		return -1;
	memcpy(c->tmp_msg, n->tmp_path, sizeof(c->tmp_msg));
	hdr = queue_fs_hdr_build(n, e, &env_in_hdr);
	rc = queue_fs_pwrite_all(n->fd, hdr, n->hdr, 0, n->tmp_path, err_r);
	free(hdr);
	if (rc == -1)
		return -1;
	/* a reused file may be longer */
	if (n->old_size > total && ftruncate(n->fd, (off_t)total) == -1)
		return queue_fs_fail(err_r, "ftruncate(%s)", n->tmp_path);
	if (!env_in_hdr) {
		/* too big for the room reserved: a file of its own */
		if (queue_fs_write_env(c->tmp_env, e, true, NULL, err_r) == -1)
			return -1;
		c->tmp_env_in = true;
	}
	if (fdatasync(n->fd) == -1) {
		queue_fs_fail(err_r, "fdatasync(%s)", n->tmp_path);
		goto fail;
	}
	if (queue_fs_rename(c->tmp_msg, c->msg, err_r) == -1)
		goto fail;
	c->msg_in = true;
	n->tmp_path[0] = '\0';	/* now c->msg */
	if (env_in_hdr) {
		/* Q.env: a second name of the same file (link() never
		 * replaces a name).  The link count reaches the disk with
		 * the inode: a journal commits it with the directory's
		 * fsync; without one, e2fsck counts links after a power
		 * loss (as for the Maildir's links) */
		if (link(c->msg, c->env) == -1) {
			queue_fs_fail(err_r, "link(%s, %s)", c->msg, c->env);
			goto fail;
		}
	} else if (queue_fs_rename(c->tmp_env, c->env, err_r) == -1)
		goto fail;
	c->env_in = true;
	c->tmp_env_in = false;
	return 0;
fail:
	if (c->tmp_env_in && unlink(c->tmp_env) == -1 && errno != ENOENT)
		log_warn("unlink(%s)", c->tmp_env);
	c->tmp_env_in = false;
	return -1;
}

/* Take back whatever of one message reached queue/ (.env first). */
static void
queue_fs_commit_undo(struct queue_fs_commit_one *c)
{
	if (c->env_in && unlink(c->env) == -1 && errno != ENOENT)
		log_warn("unlink(%s)", c->env);
	if (c->msg_in && unlink(c->msg) == -1 && errno != ENOENT)
		log_warn("unlink(%s)", c->msg);
	if (c->tmp_env_in && unlink(c->tmp_env) == -1 && errno != ENOENT)
		log_warn("unlink(%s)", c->tmp_env);
	c->env_in = c->msg_in = c->tmp_env_in = false;
}

/* A group commit: the messages are prepared by up to
 * QUEUE_FS_BATCH_THREADS threads at once (fdatasync scales with
 * concurrency, bench/queue_commit.c), then one directory fsync. */
struct queue_fs_batch {
	const char			*data_dir;
	struct queue_new		**ns;
	struct envelope			**es;
	struct queue_fs_commit_one	*cs;
	int				*results;
	char				**errs;		/* per message, malloc'ed */
	size_t				 n;
	atomic_size_t			 next;
};

static void
queue_fs_batch_one(struct queue_fs_batch *b, size_t i)
{
	const char *err;

	b->results[i] = 0;
	if (queue_fs_commit_prepare(b->data_dir, b->ns[i], b->es[i], &b->cs[i],
	    &err) == -1) {
		b->results[i] = errno != 0 ? errno : EIO;
		b->errs[i] = xstrdup(err);	/* err is this thread's */
		queue_fs_commit_undo(&b->cs[i]);
	}
	queue_fs_abort(b->ns[i]);	/* closes; unlinks a tmp left */
}

static void *
queue_fs_batch_thread(void *arg)
{
	struct queue_fs_batch *b = arg;
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
		queue_fs_batch_one(b, i);
	return NULL;
}

/* Helper threads, started on first need and kept (a thread per batch
 * cost more than the rest of a small batch's CPU).  One batch at a
 * time uses them; a caller that finds them busy starts its own. */
static struct {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 work, done;
	struct queue_fs_batch	*b;
	size_t			 nthreads;	/* started */
	size_t			 tickets;	/* helpers still to come */
	size_t			 active;	/* helpers not finished */
	bool			 busy;
} queue_fs_pool = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static void *
queue_fs_pool_thread(void *arg)
{
	struct queue_fs_batch *b;

	pthread_mutex_lock(&queue_fs_pool.mtx);
	for (;;) {
		while (queue_fs_pool.tickets == 0)
			pthread_cond_wait(&queue_fs_pool.work,
			    &queue_fs_pool.mtx);
		queue_fs_pool.tickets--;
		b = queue_fs_pool.b;
		pthread_mutex_unlock(&queue_fs_pool.mtx);
		queue_fs_batch_thread(b);
		pthread_mutex_lock(&queue_fs_pool.mtx);
		if (--queue_fs_pool.active == 0)
			pthread_cond_signal(&queue_fs_pool.done);
	}
	return NULL;
}

/* Up to want helpers from the pool for b; how many (0: busy). */
static size_t
queue_fs_pool_start(struct queue_fs_batch *b, size_t want)
{
	sigset_t all, old;
	pthread_t th;

	pthread_mutex_lock(&queue_fs_pool.mtx);
	if (queue_fs_pool.busy) {
		pthread_mutex_unlock(&queue_fs_pool.mtx);
		return 0;
	}
	/* the helpers never take a signal */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (queue_fs_pool.nthreads < want &&
	    pthread_create(&th, NULL, queue_fs_pool_thread, NULL) == 0) {
		pthread_detach(th);
		queue_fs_pool.nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (want > queue_fs_pool.nthreads)
		want = queue_fs_pool.nthreads;
	queue_fs_pool.busy = want > 0;
	queue_fs_pool.b = b;
	queue_fs_pool.tickets = queue_fs_pool.active = want;
	for (size_t i = 0; i < want; i++)
		pthread_cond_signal(&queue_fs_pool.work);
	pthread_mutex_unlock(&queue_fs_pool.mtx);
	return want;
}

static void
queue_fs_pool_wait(void)
{
	pthread_mutex_lock(&queue_fs_pool.mtx);
	while (queue_fs_pool.active > 0)
		pthread_cond_wait(&queue_fs_pool.done, &queue_fs_pool.mtx);
	queue_fs_pool.b = NULL;
	queue_fs_pool.busy = false;
	pthread_mutex_unlock(&queue_fs_pool.mtx);
}

/* Prepare every message, on threads when there are several. */
static void
queue_fs_batch_run(struct queue_fs_batch *b)
{
	pthread_t th[QUEUE_FS_BATCH_THREADS];
	size_t nth = 0, pooled = 0, want = b->n < QUEUE_FS_BATCH_THREADS ?
	    b->n : QUEUE_FS_BATCH_THREADS;

	/* this thread is one of them; a failed pthread_create means fewer */
	if (want > 1 && (pooled = queue_fs_pool_start(b, want - 1)) == 0)
		while (nth + 1 < want && pthread_create(&th[nth], NULL,
		    queue_fs_batch_thread, b) == 0)
			nth++;
	queue_fs_batch_thread(b);
	if (pooled > 0)
		queue_fs_pool_wait();
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
}

int
queue_fs_commit_batch(const char *data_dir, struct queue_new **ns,
    struct envelope **es, size_t n, int *results, const char **err_r)
{
	struct queue_fs_batch b = { data_dir, ns, es, NULL, results, NULL, n,
	    0 };
	char dir[QUEUE_FS_PATH_MAX];
	const char *e2;
	char *err = NULL;
	size_t ok = 0;
	int dir_errno = 0;

	if (n == 0)
		return 0;
	b.cs = xcalloc(n, sizeof(*b.cs));
	b.errs = xcalloc(n, sizeof(*b.errs));
	queue_fs_batch_run(&b);
	for (size_t i = 0; i < n; i++) {
		ok += results[i] == 0;
		if (err == NULL)
			err = b.errs[i];
		else
			free(b.errs[i]);
	}
	if (ok > 0 && (queue_fs_path(dir, data_dir, false, 0, 0, "",
	    &e2) == -1 || queue_fs_fsync_path(dir, &e2) == -1)) {
		dir_errno = errno != 0 ? errno : EIO;
		if (err == NULL)
			err = xstrdup(e2);
	}
	for (size_t i = 0; i < n && dir_errno != 0; i++) {
		if (results[i] != 0)
			continue;
		results[i] = dir_errno;
		queue_fs_commit_undo(&b.cs[i]);
	}
	free(b.cs);
	free(b.errs);
	if (err == NULL)
		return 0;
	snprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf), "%s", err);
	free(err);
	*err_r = queue_fs_errbuf;
	return -1;
}

int
queue_fs_commit(const char *data_dir, struct queue_new *n,
    struct envelope *e, const char **err_r)
{
	int result;

	if (queue_fs_commit_batch(data_dir, &n, &e, 1, &result, err_r) == -1) {
		errno = result;
		return -1;
	}
	return 0;
}

/*
 * Changes to queued messages, under the queue lock.
 */

/* Open and flock() DATA_DIR/queue; the fd, or -1. */
static int
queue_fs_lock(const char *data_dir, const char **err_r)
{
	char path[QUEUE_FS_PATH_MAX];
	int fd;

	if (queue_fs_path(path, data_dir, false, 0, 0, "", err_r) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return queue_fs_fail(err_r, "open(%s)", path);
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		queue_fs_fail(err_r, "flock(%s)", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* fsync the locked directory, unlock. */
static int
queue_fs_unlock(const char *data_dir, int dfd, bool sync, const char **err_r)
{
	int rc = 0;

	if (sync && fsync(dfd) == -1)
		rc = queue_fs_fail(err_r, "fsync(%s/queue)", data_dir);
	close(dfd);	/* releases the lock */
	return rc;
}

/* pread() len bytes at off into p (fewer at the end of the file);
 * the count, or -1. */
static ssize_t
queue_fs_pread_all(int fd, char *p, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = pread(fd, p + got, len - got, off + (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The header line at the start of p[0..len): the block's length, or 0
 * when p does not start with one. */
static size_t
queue_fs_hdr_parse(const char *p, size_t len)
{
	size_t v = 0;

	if (len < QUEUE_FS_HDR_LINE ||
	    memcmp(p, QUEUE_FS_HDR_MAGIC, QUEUE_FS_HDR_MAGIC_LEN) != 0 ||
	    p[QUEUE_FS_HDR_LINE - 1] != '\n')
		return 0;
	for (size_t i = QUEUE_FS_HDR_MAGIC_LEN; i < QUEUE_FS_HDR_LINE - 1;
	    i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (size_t)(p[i] - '0');
	}
	return v;
}

/* Parse the envelope of the open Q.env at path (either kind: a file of
 * its own, or the message file's second name).  *hdr_r: the offset of
 * the message when the file holds it too, else 0 (it is in Q.msg). */
static int
queue_fs_read_env_fd(int fd, const char *path, const struct stat *sb,
    struct envelope *e, size_t *hdr_r, const char **err_r)
{
	size_t size = (size_t)sb->st_size, want, len, start = 0, hdr;
	const char *perr;
	char *text;
	ssize_t got;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	*hdr_r = 0;
	if (!S_ISREG(sb->st_mode)) {
		errno = EFBIG;
		return queue_fs_fail(err_r, "%s: not a regular file", path);
	}
	want = size < QUEUE_FS_READ_FIRST ? size : QUEUE_FS_READ_FIRST;
	text = xmalloc(want + 1);
	if ((got = queue_fs_pread_all(fd, text, want, 0)) == -1) {
		queue_fs_fail(err_r, "read(%s)", path);
		goto fail;
	}
	len = (size_t)got;
	if ((hdr = queue_fs_hdr_parse(text, len)) != 0) {
		if (hdr <= QUEUE_FS_HDR_LINE || hdr > size ||
		    hdr > QUEUE_FS_HDR_MAX) {
			errno = EINVAL;
			queue_fs_fail(err_r, "%s: bad header line", path);
			goto fail;
		}
		start = QUEUE_FS_HDR_LINE;
		want = hdr;
	} else if (size > ENVELOPE_FILE_MAX) {
		errno = EFBIG;
		queue_fs_fail(err_r, "%s: not a regular file of at most %d "
		    "bytes", path, ENVELOPE_FILE_MAX);
		goto fail;
	} else
		want = size;
	if (want > len) {
		text = xrealloc(text, want + 1);
		if ((got = queue_fs_pread_all(fd, text + len, want - len,
		    (off_t)len)) == -1) {
			queue_fs_fail(err_r, "read(%s)", path);
			goto fail;
		}
		len += (size_t)got;
	}
	if (hdr != 0) {
		len = hdr;	/* the envelope, then LF padding */
		while (len > start + 1 && text[len - 1] == '\n' &&
		    text[len - 2] == '\n')
			len--;
	}
	if (envelope_parse(text + start, len - start, e, &perr) == -1) {
		errno = EINVAL;
		snprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf), "%s: %s",
		    path, perr);
		*err_r = queue_fs_errbuf;
		goto fail;
	}
	if (hdr != 0 && (uint64_t)size != hdr + (uint64_t)e->size) {
		snprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf), "%s: %zu "
		    "bytes, not %zu + %zu", path, size, hdr, e->size);
		envelope_clear(e);
		errno = EINVAL;
		*err_r = queue_fs_errbuf;
		goto fail;
	}
	*hdr_r = hdr;
	rc = 0;
fail:
	free(text);
	return rc;
}

/* Open queue/Q.env, read it; the open fd (to close), or -1. */
static int
queue_fs_open_env(const char *data_dir, uint64_t qid, struct envelope *e,
    struct stat *sb, size_t *hdr_r, const char **err_r)
{
	char path[QUEUE_FS_PATH_MAX];
	int fd;

	memset(e, 0, sizeof(*e));
	if (queue_fs_path(path, data_dir, false, qid, QUEUE_FS_ENV, "",
	    err_r) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return queue_fs_fail(err_r, "open(%s)", path);
	if (fstat(fd, sb) == -1) {
		queue_fs_fail(err_r, "fstat(%s)", path);
		close(fd);
		return -1;
	}
	if (queue_fs_read_env_fd(fd, path, sb, e, hdr_r, err_r) == -1) {
		close(fd);
		return -1;
	}
	if (e->qid != qid) {
		snprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf),
		    "%s: holds qid %016llx", path, (unsigned long long)e->qid);
		envelope_clear(e);
		close(fd);
		errno = EINVAL;
		*err_r = queue_fs_errbuf;
		return -1;
	}
	return fd;
}

int
queue_fs_load(const char *data_dir, uint64_t qid, struct envelope *e,
    const char **err_r)
{
	struct stat sb;
	size_t hdr;
	int fd;

	if ((fd = queue_fs_open_env(data_dir, qid, e, &sb, &hdr, err_r)) == -1)
		return -1;
	close(fd);
	return 0;
}

/* Open queue/Q.msg; *off_r: where the message starts in it (after a
 * header block, if it has one). */
static int
queue_fs_open_msg_at(const char *data_dir, uint64_t qid, off_t *off_r,
    const char **err_r)
{
	char path[QUEUE_FS_PATH_MAX], line[QUEUE_FS_HDR_LINE];
	struct stat sb;
	ssize_t got;
	size_t hdr;
	int fd;

	if (queue_fs_path(path, data_dir, false, qid, QUEUE_FS_MSG, "",
	    err_r) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return queue_fs_fail(err_r, "open(%s)", path);
	if ((got = queue_fs_pread_all(fd, line, sizeof(line), 0)) == -1 ||
	    fstat(fd, &sb) == -1) {
		queue_fs_fail(err_r, "read(%s)", path);
		close(fd);
		return -1;
	}
	hdr = queue_fs_hdr_parse(line, (size_t)got);
	if (hdr > (size_t)sb.st_size) {
		close(fd);
		errno = EINVAL;
		return queue_fs_fail(err_r, "%s: bad header line", path);
	}
	*off_r = (off_t)hdr;
	return fd;
}

int
queue_fs_open_item(const char *data_dir, uint64_t qid, struct envelope *e,
    int *fd_r, off_t *off_r, struct queue_fs_stamp *stamp_r,
    const char **err_r)
{
	struct stat sb;
	size_t hdr;
	int fd;

	*fd_r = -1;
	if ((fd = queue_fs_open_env(data_dir, qid, e, &sb, &hdr, err_r)) == -1)
		return -1;
	stamp_r->dev = sb.st_dev;
	stamp_r->ino = sb.st_ino;
	stamp_r->size = sb.st_size;
	stamp_r->ctime = sb.st_ctim;
	if (hdr != 0) {		/* the message is in this very file */
		*fd_r = fd;
		*off_r = (off_t)hdr;
		return 0;
	}
	close(fd);
	if ((*fd_r = queue_fs_open_msg_at(data_dir, qid, off_r, err_r)) ==
	    -1) {
		envelope_clear(e);
		return -1;
	}
	return 0;
}

int
queue_fs_changed(const char *data_dir, uint64_t qid,
    const struct queue_fs_stamp *stamp)
{
	char path[QUEUE_FS_PATH_MAX];
	const char *err;
	struct stat sb;

	if (queue_fs_path(path, data_dir, false, qid, QUEUE_FS_ENV, "",
	    &err) == -1 || stat(path, &sb) == -1)
		return -1;
	return sb.st_dev != stamp->dev || sb.st_ino != stamp->ino ||
	    sb.st_size != stamp->size ||
	    sb.st_ctim.tv_sec != stamp->ctime.tv_sec ||
	    sb.st_ctim.tv_nsec != stamp->ctime.tv_nsec;
}

/* Under the lock: replace queue/Q.env by e, keeping the on-disk hold
 * flag unless set_hold is 0 or 1.  The new Q.env is a file of its own
 * (Q.msg keeps its header block, now stale). */
static int
queue_fs_rewrite(const char *data_dir, const struct envelope *e,
    int set_hold, const char **err_r)
{
	char path[QUEUE_FS_PATH_MAX], tmp[QUEUE_FS_PATH_MAX];
	struct envelope cur, out = *e;
	struct stat sb;
	size_t hdr;
	bool chown_it;
	int fd;

	if (queue_fs_path(path, data_dir, false, e->qid, QUEUE_FS_ENV, "",
	    err_r) == -1 || queue_fs_path(tmp, data_dir, true, e->qid,
	    QUEUE_FS_ENV, ".new", err_r) == -1)
		return -1;
	if ((fd = queue_fs_open_env(data_dir, e->qid, &cur, &sb, &hdr,
	    err_r)) == -1)
		return -1;
	close(fd);
	out.hold = set_hold >= 0 ? set_hold != 0 : cur.hold;
	envelope_clear(&cur);
	chown_it = geteuid() == 0 && (sb.st_uid != 0 || sb.st_gid != 0);
	if (queue_fs_write_env(tmp, &out, false, chown_it ? &sb : NULL,
	    err_r) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		queue_fs_fail(err_r, "rename(%s, %s)", tmp, path);
		if (unlink(tmp) == -1 && errno != ENOENT)
			log_warn("unlink(%s)", tmp);
		return -1;
	}
	return 0;
}

int
queue_fs_update(const char *data_dir, const struct envelope *e,
    const char **err_r)
{
	int dfd, rc;

	if ((dfd = queue_fs_lock(data_dir, err_r)) == -1)
		return -1;
	rc = queue_fs_rewrite(data_dir, e, -1, err_r);
	if (queue_fs_unlock(data_dir, dfd, rc == 0, err_r) == -1)
		rc = -1;
	return rc;
}

int
queue_fs_set_hold(const char *data_dir, uint64_t qid, bool hold,
    const char **err_r)
{
	struct envelope e;
	int dfd, rc = -1;

	if ((dfd = queue_fs_lock(data_dir, err_r)) == -1)
		return -1;
	if (queue_fs_load(data_dir, qid, &e, err_r) == 0) {
		rc = queue_fs_rewrite(data_dir, &e, hold, err_r);
		envelope_clear(&e);
	}
	if (queue_fs_unlock(data_dir, dfd, rc == 0, err_r) == -1)
		rc = -1;
	return rc;
}

int
queue_fs_remove(const char *data_dir, uint64_t qid, const char **err_r)
{
	char env[QUEUE_FS_PATH_MAX], msg[QUEUE_FS_PATH_MAX];
	int dfd, rc = 0, env_errno = 0;

	if (queue_fs_path(env, data_dir, false, qid, QUEUE_FS_ENV, "",
	    err_r) == -1 || queue_fs_path(msg, data_dir, false, qid,
	    QUEUE_FS_MSG, "", err_r) == -1)
		return -1;
	if ((dfd = queue_fs_lock(data_dir, err_r)) == -1)
		return -1;
	if (unlink(env) == -1) {
		env_errno = errno;
		rc = queue_fs_fail(err_r, "unlink(%s)", env);
	}
	if (unlink(msg) == -1 && errno != ENOENT && rc == 0)
		rc = queue_fs_fail(err_r, "unlink(%s)", msg);
	if (queue_fs_unlock(data_dir, dfd, true, rc == 0 ? err_r : NULL) == -1)
		rc = -1;
	if (env_errno != 0)
		errno = env_errno;
	return rc;
}

/* Remove several messages: one lock, one directory fsync for all.  The
 * message files go to spare/ (queue_fs_spare_put). */
int
queue_fs_remove_many(const char *data_dir, const uint64_t *qids, size_t n,
    const char **err_r)
{
	char env[QUEUE_FS_PATH_MAX], msg[QUEUE_FS_PATH_MAX];
	const char *e2;
	int dfd, rc = 0;

	if ((dfd = queue_fs_lock(data_dir, err_r)) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (queue_fs_path(env, data_dir, false, qids[i], QUEUE_FS_ENV,
		    "", err_r) == -1 || queue_fs_path(msg, data_dir, false,
		    qids[i], QUEUE_FS_MSG, "", err_r) == -1) {
			rc = -1;
			continue;
		}
		if (unlink(env) == -1 && errno != ENOENT && rc == 0)
			rc = queue_fs_fail(err_r, "unlink(%s)", env);
		if (queue_fs_spare_put(data_dir, msg, &e2) == -1 && rc == 0) {
			snprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf), "%s",
			    e2);
			*err_r = queue_fs_errbuf;
			rc = -1;
		}
	}
	if (queue_fs_unlock(data_dir, dfd, true, rc == 0 ? err_r : NULL) == -1)
		rc = -1;
	return rc;
}

int
queue_fs_open_msg(const char *data_dir, uint64_t qid)
{
	const char *err;
	off_t off;
	int fd;

	if ((fd = queue_fs_open_msg_at(data_dir, qid, &off, &err)) == -1)
		return -1;
	if (lseek(fd, off, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Scanning.
 */

/* "Q.msg" / "Q.env": its qid and kind, or -1. */
static int
queue_fs_name(const char *name, uint64_t *qid_r, enum queue_fs_kind *kind_r)
{
	char q[QUEUE_FS_QID_LEN + 1];

	if (strlen(name) != QUEUE_FS_NAME_LEN)
		return -1;
	for (size_t k = 0; k < 2; k++) {
		if (strcmp(name + QUEUE_FS_QID_LEN, queue_fs_ext[k]) != 0)
			continue;
		memcpy(q, name, QUEUE_FS_QID_LEN);
		q[QUEUE_FS_QID_LEN] = '\0';
		*kind_r = (enum queue_fs_kind)k;
		return queue_fs_qid_parse(q, qid_r);
	}
	return -1;
}

static int
queue_fs_ent_cmp(const void *a, const void *b)
{
	const struct queue_fs_ent *x = a, *y = b;

	return x->qid < y->qid ? -1 : x->qid > y->qid;
}

/* Remove dir/name if it is a regular file older than the stray age;
 * qid (0: none) names it in the log. */
static void
queue_fs_unlink_stray(int dfd, const char *dir, const char *name,
    uint64_t qid, time_t now)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(sb.st_mode) || sb.st_mtime > now - QUEUE_FS_STRAY_AGE)
		return;
	if (unlinkat(dfd, name, 0) == -1) {
		if (errno != ENOENT)
			log_warn("unlink(%s/%s)", dir, name);
		return;
	}
	log_event(qid, "queue", "stray-removed", "path=<%s/%s>", dir, name);
}

static void
queue_fs_clean_tmp(const char *data_dir, time_t now)
{
	char path[QUEUE_FS_PATH_MAX], q[QUEUE_FS_QID_LEN + 1];
	struct dirent *de;
	const char *err;
	uint64_t qid;
	DIR *d;

	if (queue_fs_path(path, data_dir, true, 0, 0, "", &err) == -1)
		return;
	if ((d = opendir(path)) == NULL) {
		if (errno != ENOENT)
			log_warn("opendir(%s)", path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		qid = 0;
		if (strlen(de->d_name) > QUEUE_FS_QID_LEN &&
		    de->d_name[QUEUE_FS_QID_LEN] == '.') {
			memcpy(q, de->d_name, QUEUE_FS_QID_LEN);
			q[QUEUE_FS_QID_LEN] = '\0';
			if (queue_fs_qid_parse(q, &qid) == -1)
				qid = 0;
		}
		queue_fs_unlink_stray(dirfd(d), path, de->d_name, qid, now);
	}
	closedir(d);
}

/* Collect the qids of dir into ctx (sorted, one entry per qid). */
static int
queue_fs_collect(DIR *d, struct queue_fs_list_ctx *ctx)
{
	struct dirent *de;
	enum queue_fs_kind kind;
	uint64_t qid;
	size_t j = 0;

	while ((de = readdir(d)) != NULL) {
		if (queue_fs_name(de->d_name, &qid, &kind) == -1)
			continue;
		if (ctx->n == ctx->cap) {
			ctx->cap = ctx->cap == 0 ? 64 : ctx->cap * 2;
			ctx->ents = xrealloc(ctx->ents,
			    ctx->cap * sizeof(*ctx->ents));
		}
		ctx->ents[ctx->n++] = (struct queue_fs_ent){ qid, 1u << kind };
	}
	if (ctx->n == 0)
		return 0;
	qsort(ctx->ents, ctx->n, sizeof(*ctx->ents), queue_fs_ent_cmp);
	for (size_t i = 1; i < ctx->n; i++) {
		if (ctx->ents[i].qid == ctx->ents[j].qid)
			ctx->ents[j].has |= ctx->ents[i].has;
		else
			ctx->ents[++j] = ctx->ents[i];
	}
	ctx->n = j + 1;
	return 0;
}

static int
queue_fs_walk(const char *data_dir, bool clean, void (*fn)(void *, uint64_t),
    void *arg, const char **err_r)
{
	struct queue_fs_list_ctx ctx = { NULL, 0, 0 };
	char path[QUEUE_FS_PATH_MAX], name[QUEUE_FS_NAME_LEN + 1];
	time_t now = time(NULL);
	DIR *d;

	if (queue_fs_path(path, data_dir, false, 0, 0, "", err_r) == -1)
		return -1;
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT && !clean)
			return 0;
		return queue_fs_fail(err_r, "opendir(%s)", path);
	}
	queue_fs_collect(d, &ctx);
	for (size_t i = 0; i < ctx.n; i++) {
		if (ctx.ents[i].has == 3) {
			fn(arg, ctx.ents[i].qid);
			continue;
		}
		if (!clean)
			continue;
		snprintf(name, sizeof(name), "%016llx%s",
		    (unsigned long long)ctx.ents[i].qid,
		    queue_fs_ext[ctx.ents[i].has == 1 ? QUEUE_FS_MSG :
		    QUEUE_FS_ENV]);
		queue_fs_unlink_stray(dirfd(d), path, name, ctx.ents[i].qid,
		    now);
	}
	closedir(d);
	free(ctx.ents);
	if (clean)
		queue_fs_clean_tmp(data_dir, now);
	return 0;
}

int
queue_fs_scan(const char *data_dir, void (*fn)(void *, uint64_t), void *arg,
    const char **err_r)
{
	return queue_fs_walk(data_dir, true, fn, arg, err_r);
}

int
queue_fs_list(const char *data_dir, void (*fn)(void *, uint64_t), void *arg,
    const char **err_r)
{
	return queue_fs_walk(data_dir, false, fn, arg, err_r);
}
