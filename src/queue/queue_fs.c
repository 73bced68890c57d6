/* queue_fs.c: the outbound queue on disk (queue_fs.h; every crash state
 * is in doc/QUEUE.md, "Outbound queue").
 *
 * A commit, for each message:
 *   fdatasync(tmp/Q.msg)
 *   write + fdatasync(tmp/Q.env)
 *   rename(tmp/Q.msg, Q.msg)      (RENAME_NOREPLACE)
 *   rename(tmp/Q.env, Q.env)      (RENAME_NOREPLACE)
 * then one fsync(queue/) for the whole batch.  A message exists once
 * its .env does: the .msg is renamed first so that a visible .env never
 * lacks its message, and removal unlinks the .env first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
	/* make both entries durable: the queue must not vanish */
	if (queue_fs_fsync_path(data_dir, err_r) == -1 ||
	    queue_fs_path(path, data_dir, false, 0, 0, "", err_r) == -1)
		return -1;
	return queue_fs_fsync_path(path, err_r);
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

int
queue_fs_new(const char *data_dir, uint64_t qid, struct queue_new *n,
    const char **err_r)
{
	n->qid = qid;
	n->fd = -1;
	n->size = 0;
	n->tmp_path[0] = '\0';
	if (qid == 0) {
		errno = EINVAL;
		return queue_fs_fail(err_r, "queue_fs_new: qid 0");
	}
	if (queue_fs_path(n->tmp_path, data_dir, true, qid, QUEUE_FS_MSG, "",
	    err_r) == -1)
		return -1;
	n->fd = open(n->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, QUEUE_FS_FILE_MODE);
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
	if (queue_fs_write_all(n->fd, p, len, n->tmp_path, err_r) == -1)
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
	bool	msg_in, env_in;		/* renamed into queue/ */
};

static int
queue_fs_rename(const char *from, const char *to, const char **err_r)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == -1)
		return queue_fs_fail(err_r, "rename(%s, %s)", from, to);
	return 0;
}

/* Everything but the directory fsync, for one message. */
static int
queue_fs_commit_prepare(const char *data_dir, struct queue_new *n,
    struct envelope *e, struct queue_fs_commit_one *c, const char **err_r)
{
	e->qid = n->qid;
	e->size = n->size;
	if (fdatasync(n->fd) == -1)
		return queue_fs_fail(err_r, "fdatasync(%s)", n->tmp_path);
	if (queue_fs_path(c->tmp_env, data_dir, true, n->qid, QUEUE_FS_ENV, "",
	    err_r) == -1 ||
	    queue_fs_path(c->msg, data_dir, false, n->qid, QUEUE_FS_MSG, "",
	    err_r) == -1 ||
	    queue_fs_path(c->env, data_dir, false, n->qid, QUEUE_FS_ENV, "",
	    err_r) == -1)
		return -1;
	memcpy(c->tmp_msg, n->tmp_path, sizeof(c->tmp_msg));
	if (queue_fs_write_env(c->tmp_env, e, true, NULL, err_r) == -1)
		return -1;
	if (queue_fs_rename(c->tmp_msg, c->msg, err_r) == -1)
		goto fail;
	c->msg_in = true;
	n->tmp_path[0] = '\0';	/* now c->msg */
	if (queue_fs_rename(c->tmp_env, c->env, err_r) == -1)
		goto fail;
	c->env_in = true;
	return 0;
fail:
	if (unlink(c->tmp_env) == -1 && errno != ENOENT)
		log_warn("unlink(%s)", c->tmp_env);
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
	c->env_in = c->msg_in = false;
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

/* Prepare every message, on threads when there are several. */
static void
queue_fs_batch_run(struct queue_fs_batch *b)
{
	pthread_t th[QUEUE_FS_BATCH_THREADS];
	size_t nth = 0, want = b->n < QUEUE_FS_BATCH_THREADS ? b->n :
	    QUEUE_FS_BATCH_THREADS;

	/* this thread is one of them; a failed pthread_create means fewer */
	while (nth + 1 < want && pthread_create(&th[nth], NULL,
	    queue_fs_batch_thread, b) == 0)
		nth++;
	queue_fs_batch_thread(b);
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

static int
queue_fs_read_env(const char *path, struct envelope *e, struct stat *sb,
    const char **err_r)
{
	const char *perr;
	char *text = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return queue_fs_fail(err_r, "open(%s)", path);
	if (fstat(fd, sb) == -1) {
		queue_fs_fail(err_r, "fstat(%s)", path);
		goto fail;
	}
	if (!S_ISREG(sb->st_mode) || sb->st_size > ENVELOPE_FILE_MAX) {
		errno = EFBIG;
		queue_fs_fail(err_r, "%s: not a regular file of at most %d "
		    "bytes", path, ENVELOPE_FILE_MAX);
		goto fail;
	}
	text = xmalloc((size_t)sb->st_size + 1);
	while (got <= (size_t)sb->st_size) {
		r = read(fd, text + got, (size_t)sb->st_size + 1 - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			queue_fs_fail(err_r, "read(%s)", path);
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (envelope_parse(text, got, e, &perr) == -1) {
		errno = EINVAL;
		snprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf), "%s: %s",
		    path, perr);
		*err_r = queue_fs_errbuf;
		goto fail;
	}
	rc = 0;
fail:
	free(text);
	close(fd);
	return rc;
}

int
queue_fs_load(const char *data_dir, uint64_t qid, struct envelope *e,
    const char **err_r)
{
	char path[QUEUE_FS_PATH_MAX];
	struct stat sb;

	memset(e, 0, sizeof(*e));
	if (queue_fs_path(path, data_dir, false, qid, QUEUE_FS_ENV, "",
	    err_r) == -1 || queue_fs_read_env(path, e, &sb, err_r) == -1)
		return -1;
	if (e->qid != qid) {
		snprintf(queue_fs_errbuf, sizeof(queue_fs_errbuf),
		    "%s: holds qid %016llx", path, (unsigned long long)e->qid);
		envelope_clear(e);
		errno = EINVAL;
		*err_r = queue_fs_errbuf;
		return -1;
	}
	return 0;
}

/* Under the lock: replace queue/Q.env by e, keeping the on-disk hold
 * flag unless set_hold is 0 or 1. */
static int
queue_fs_rewrite(const char *data_dir, const struct envelope *e,
    int set_hold, const char **err_r)
{
	char path[QUEUE_FS_PATH_MAX], tmp[QUEUE_FS_PATH_MAX];
	struct envelope cur, out = *e;
	struct stat sb;
	bool chown_it;

	if (queue_fs_path(path, data_dir, false, e->qid, QUEUE_FS_ENV, "",
	    err_r) == -1 || queue_fs_path(tmp, data_dir, true, e->qid,
	    QUEUE_FS_ENV, ".new", err_r) == -1)
		return -1;
	if (queue_fs_read_env(path, &cur, &sb, err_r) == -1)
		return -1;
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

/* Remove several messages: one lock, one directory fsync for all. */
int
queue_fs_remove_many(const char *data_dir, const uint64_t *qids, size_t n,
    const char **err_r)
{
	char env[QUEUE_FS_PATH_MAX], msg[QUEUE_FS_PATH_MAX];
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
		if (unlink(msg) == -1 && errno != ENOENT && rc == 0)
			rc = queue_fs_fail(err_r, "unlink(%s)", msg);
	}
	if (queue_fs_unlock(data_dir, dfd, true, rc == 0 ? err_r : NULL) == -1)
		rc = -1;
	return rc;
}

int
queue_fs_open_msg(const char *data_dir, uint64_t qid)
{
	char path[QUEUE_FS_PATH_MAX];
	const char *err;

	if (queue_fs_path(path, data_dir, false, qid, QUEUE_FS_MSG, "",
	    &err) == -1)
		return -1;
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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
