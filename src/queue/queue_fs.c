/* queue_fs.c: the outbound queue on disk (queue_fs.h; the layout and
 * every crash state are in doc/QUEUE.md, "Outbound queue").
 *
 * A message is one file: a header block (a line giving its length and
 * a checksum, the envelope, padding) and the message.  Most messages
 * reuse the file of a removed one, a spare, already under its final
 * names Q.msg and Q.env: the commit is
 *   ftruncate(Q.msg, H + size)        (when the old file was longer)
 *   pwrite(header block, offset 0)    (the message was written behind it)
 *   fdatasync(Q.msg)
 * and nothing else.  A new file (no spare) is committed as
 *   pwrite(header block, offset 0)
 *   fdatasync(tmp/Q.msg)
 *   rename(tmp/Q.msg, Q.msg)          (RENAME_NOREPLACE)
 *   link(Q.msg, Q.env)                (a second name, not a second file)
 * then one fsync(queue/) for the whole batch.  A message exists once
 * its .env does and is not marked spare: the .msg is renamed first so
 * that a visible .env never lacks its message (it is the same file
 * unless the envelope was too big for its room), and removal unlinks
 * or renames the .env first.  An envelope rewritten later (a retry, a
 * hold) is a small file of its own that replaces the Q.env name; the
 * header block in Q.msg is then stale and only skipped.  Creating and
 * freeing an inode per message costs more than everything else on the
 * disk, and a directory fsync per message as much as the data's
 * (doc/QUEUE.md, "Why one file, and spare files"). */
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

#include "core/id.h"
#include "core/log.h"
#include "core/mem.h"
#include "queue/queue_fs.h"
#include "queue/queue_sum.h"

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
/* The header block: the header line, the envelope, LF padding.  The
 * line is "facteur-queue 2 ", the block's length in exactly 10 digits
 * (the offset of the message), SP, the sum of the rest of the file in
 * 16 lower-case hex digits, LF.  Version 1 lines (no sum) are read.  A
 * spare file's line starts with QUEUE_FS_SPARE_MAGIC instead. */
#define QUEUE_FS_HDR_MAGIC	"facteur-queue 2 "
#define QUEUE_FS_HDR_MAGIC1	"facteur-queue 1 "
#define QUEUE_FS_SPARE_MAGIC	"facteur-spare 1 "
#define QUEUE_FS_HDR_MAGIC_LEN	(sizeof(QUEUE_FS_HDR_MAGIC) - 1)
#define QUEUE_FS_HDR_LINE1	(QUEUE_FS_HDR_MAGIC_LEN + 11)
#define QUEUE_FS_HDR_LINE	(QUEUE_FS_HDR_MAGIC_LEN + 10 + 1 + 16 + 1)
#define QUEUE_FS_HDR_MAX	(QUEUE_FS_HDR_LINE + ENVELOPE_FILE_MAX)
/* queue_fs_new without an envelope: room for a small one */
#define QUEUE_FS_HDR_SMALL	1024
/* Spare files: at most this many, each at most this big (a larger
 * file is removed instead); spare/ names are qids. */
#define QUEUE_FS_SPARE_MAX	256
#define QUEUE_FS_SPARE_SIZE_MAX	(64 * 1024)
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

/* n decimal (base 10) or lower-case hex (16) digits at p into *v_r. */
static bool
queue_fs_digits(const char *p, size_t n, int base, uint64_t *v_r)
{
	uint64_t v = 0;
	int d;

	for (size_t i = 0; i < n; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (base == 16 && p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*v_r = v;
	return true;
}

int
queue_fs_qid_parse(const char *s, uint64_t *qid_r)
{
	uint64_t q;

	if (strnlen(s, QUEUE_FS_QID_LEN + 1) != QUEUE_FS_QID_LEN ||
	    !queue_fs_digits(s, QUEUE_FS_QID_LEN, 16, &q) || q == 0)
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
 * Spare files.  Creating a file and making its name durable costs a
 * directory fsync per message, as much as the fdatasync of the data
 * (doc/QUEUE.md, "Why one file, and spare files").  So the queue process does not free
 * the file of a message it is done with: it marks it spare (the header
 * line starts with QUEUE_FS_SPARE_MAGIC), renames both its names to a
 * fresh qid N (N.msg, N.env), and once the directory fsync of the
 * removal batch made those names durable, links it as spare/N.  A new
 * message whose qid is N takes it by unlinking spare/N (one winner
 * among processes), writes into it in place, and its commit is one
 * fdatasync: no rename, no link, no directory fsync.
 * Each process keeps the names it saw in spare/ and hands them out as
 * qids (queue_fs_qid_new); it reads the directory again when they are
 * used up and its mtime moved.  Workers share the names out by qid
 * (queue_fs_share): two want the same one only across a reload (the
 * loser gets another qid and a new file).  A worker whose share is used
 * up makes a new file rather than take another's: taking from the
 * others made them run out in turn, and a lost claim costs the same new
 * file plus a read of spare/.
 */

struct queue_fs_spares {
	pthread_mutex_t	 mtx;
	char		 dir[QUEUE_FS_PATH_MAX];	/* DATA_DIR */
	uint64_t	 qids[QUEUE_FS_SPARE_MAX];
	size_t		 n, used;	/* names seen, names handed out */
	struct timespec	 mtime;		/* of spare/ when read */
	time_t		 when;		/* read last */
	unsigned	 index, count;	/* this process's share */
};

static struct queue_fs_spares queue_fs_spares = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.count = 1,
};

void
queue_fs_share(unsigned index, unsigned count)
{
	struct queue_fs_spares *sp = &queue_fs_spares;

	pthread_mutex_lock(&sp->mtx);
	sp->count = count > 0 ? count : 1;
	sp->index = index % sp->count;
	sp->n = sp->used = 0;
	sp->when = 0;
	pthread_mutex_unlock(&sp->mtx);
}

static int
queue_fs_spare_path(char *buf, const char *data_dir, uint64_t qid,
    const char **err_r)
{
	int n = snprintf(buf, QUEUE_FS_PATH_MAX, "%s/queue/spare/%016llx",
	    data_dir, (unsigned long long)qid);

	if (n < 0 || n >= QUEUE_FS_PATH_MAX) {
		errno = ENAMETOOLONG;
		return queue_fs_fail(err_r, "queue path %s/queue", data_dir);
	}
	return 0;
}

/* Read spare/ into the list (sp->mtx held), unless it has not changed
 * since it was last read, less than a second ago (names handed out for
 * messages that never came, to sessions that ended at RCPT, come
 * back). */
static void
queue_fs_spare_scan(struct queue_fs_spares *sp, const char *data_dir)
{
	char path[QUEUE_FS_PATH_MAX];
	struct dirent *de;
	struct stat sb;
	uint64_t qid;
	DIR *d;

	snprintf(path, sizeof(path), "%s/queue/spare", data_dir);
	if (stat(path, &sb) == -1 ||
	    (sb.st_mtim.tv_sec == sp->mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == sp->mtime.tv_nsec && sp->when == time(NULL)))
		return;
	sp->mtime = sb.st_mtim;
	sp->when = time(NULL);
	sp->n = sp->used = 0;
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && sp->n < QUEUE_FS_SPARE_MAX)
		if (queue_fs_qid_parse(de->d_name, &qid) == 0 &&
		    qid % sp->count == sp->index)
			sp->qids[sp->n++] = qid;
	closedir(d);
}

uint64_t
queue_fs_qid_new(const char *data_dir)
{
	struct queue_fs_spares *sp = &queue_fs_spares;
	uint64_t qid = 0;

	pthread_mutex_lock(&sp->mtx);
	if (strcmp(sp->dir, data_dir) != 0) {
		snprintf(sp->dir, sizeof(sp->dir), "%s", data_dir);
		sp->n = sp->used = 0;
		sp->mtime.tv_sec = sp->mtime.tv_nsec = 0;
	}
	if (sp->used == sp->n)
		queue_fs_spare_scan(sp, data_dir);
	if (sp->used < sp->n) {
		qid = sp->qids[sp->used++];
	}
	pthread_mutex_unlock(&sp->mtx);
	return qid != 0 ? qid : id_new();
}

/* Spare qid, handed out by this process, was taken by another: the
 * names it knows may be taken too, forget them. */
static void
queue_fs_spares_stale(const char *data_dir, uint64_t qid)
{
	struct queue_fs_spares *sp = &queue_fs_spares;

	pthread_mutex_lock(&sp->mtx);
	if (strcmp(sp->dir, data_dir) == 0)
		for (size_t i = 0; i < sp->used; i++)
			if (sp->qids[i] == qid) {
				sp->n = sp->used = 0;
				sp->when = 0;
				break;
			}
	pthread_mutex_unlock(&sp->mtx);
}

/* Whether the len bytes read at the start of a file are the spare
 * mark's. */
static bool
queue_fs_is_spare(const char *p, size_t len)
{
	return len >= QUEUE_FS_HDR_MAGIC_LEN &&
	    memcmp(p, QUEUE_FS_SPARE_MAGIC, QUEUE_FS_HDR_MAGIC_LEN) == 0;
}

/* Whether the open file starts with the spare mark. */
static bool
queue_fs_is_spare_fd(int fd)
{
	char magic[QUEUE_FS_HDR_MAGIC_LEN];
	ssize_t got = pread(fd, magic, sizeof(magic), 0);

	return got > 0 && queue_fs_is_spare(magic, (size_t)got);
}

/* Take spare qid for n: 0 and n->fd open on queue/Q.msg, or -1 (not a
 * spare, or taken: create a file). */
static int
queue_fs_spare_take(const char *data_dir, uint64_t qid, struct queue_new *n)
{
	char spare[QUEUE_FS_PATH_MAX], env[QUEUE_FS_PATH_MAX];
	struct stat sb, esb;
	const char *err;
	int fd;

	if (queue_fs_spare_path(spare, data_dir, qid, &err) == -1 ||
	    queue_fs_path(n->tmp_path, data_dir, false, qid, QUEUE_FS_MSG,
	    "", &err) == -1 ||
	    queue_fs_path(env, data_dir, false, qid, QUEUE_FS_ENV, "",
	    &err) == -1)
		return -1;
	if (unlink(spare) == -1) {
		/* not a spare, or another process took it: this process's
		 * list is behind, read spare/ again at the next qid */
		if (errno == ENOENT)
			queue_fs_spares_stale(data_dir, qid);
		n->tmp_path[0] = '\0';
		return -1;
	}
	/* ours now; only a plain file of ours, marked spare, with exactly
	 * its two queue names (a crash can leave anything else) */
	fd = open(n->tmp_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_nlink != 2 || sb.st_uid != geteuid() ||
	    lstat(env, &esb) == -1 || esb.st_ino != sb.st_ino ||
	    esb.st_dev != sb.st_dev || !queue_fs_is_spare_fd(fd)) {
		if (fd != -1)
			close(fd);
		log_warnx("queue: %s: not a usable spare file, left alone",
		    n->tmp_path);
		n->tmp_path[0] = '\0';
		return -1;
	}
	/* mtime: a spare without a spare/ name is a stray after an hour */
	(void)futimens(fd, NULL);
	n->fd = fd;
	n->old_size = (uint64_t)sb.st_size;
	n->reused = true;
	return 0;
}

/* Give back a reused file that was not committed: still marked spare
 * (the header is written last), it only needs its spare/ name again. */
static void
queue_fs_spare_give_back(struct queue_new *n)
{
	char spare[QUEUE_FS_PATH_MAX];
	const char *err;

	if (queue_fs_spare_path(spare, n->data_dir, n->qid, &err) == -1 ||
	    link(n->tmp_path, spare) == -1)
		log_warn("queue: cannot give back the spare %s", n->tmp_path);
}

/* Make removed message qid a spare under a fresh qid: *new_r.  0, or -1
 * when the file cannot be a spare (the caller removes it). */
static int
queue_fs_spare_make(const char *data_dir, uint64_t qid, uint64_t *new_r)
{
	char msg[QUEUE_FS_PATH_MAX], env[QUEUE_FS_PATH_MAX];
	char nmsg[QUEUE_FS_PATH_MAX], nenv[QUEUE_FS_PATH_MAX];
	struct stat sb, esb;
	const char *err;
	uint64_t nq = id_new();
	bool same;
	int fd;

	if (queue_fs_path(msg, data_dir, false, qid, QUEUE_FS_MSG, "",
	    &err) == -1 || queue_fs_path(env, data_dir, false, qid,
	    QUEUE_FS_ENV, "", &err) == -1 || queue_fs_path(nmsg, data_dir,
	    false, nq, QUEUE_FS_MSG, "", &err) == -1 || queue_fs_path(nenv,
	    data_dir, false, nq, QUEUE_FS_ENV, "", &err) == -1)
		return -1;
	if ((fd = open(msg, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_nlink > 2 || sb.st_uid != geteuid() ||
	    sb.st_size > QUEUE_FS_SPARE_SIZE_MAX ||
	    pwrite(fd, QUEUE_FS_SPARE_MAGIC, QUEUE_FS_HDR_MAGIC_LEN, 0) !=
	    (ssize_t)QUEUE_FS_HDR_MAGIC_LEN) {
		close(fd);
		return -1;
	}
	close(fd);
	same = lstat(env, &esb) == 0 && esb.st_ino == sb.st_ino &&
	    esb.st_dev == sb.st_dev;
	/* the .env goes first: a visible .env never lacks its .msg */
	if (same ? renameat2(AT_FDCWD, env, AT_FDCWD, nenv,
	    RENAME_NOREPLACE) == -1 : unlink(env) == -1 && errno != ENOENT)
		return -1;
	if (renameat2(AT_FDCWD, msg, AT_FDCWD, nmsg, RENAME_NOREPLACE) == -1) {
		if (same && unlink(nenv) == -1)
			log_warn("unlink(%s)", nenv);
		return -1;
	}
	if (!same && link(nmsg, nenv) == -1) {
		if (unlink(nmsg) == -1)
			log_warn("unlink(%s)", nmsg);
		return -1;	/* nothing left to remove */
	}
	*new_r = nq;
	return 0;
}

/* Spares in spare/ now (at most QUEUE_FS_SPARE_MAX are kept). */
static size_t
queue_fs_spare_count(const char *data_dir)
{
	char path[QUEUE_FS_PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/queue/spare", data_dir);
	if ((d = opendir(path)) == NULL)
		return QUEUE_FS_SPARE_MAX;	/* no spare/: keep none */
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
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
	char path[QUEUE_FS_PATH_MAX];
	struct stat sb;

	n->qid = qid;
	n->fd = -1;
	n->size = 0;
	n->old_size = 0;
	n->hdr = queue_fs_hdr_size(proto);
	n->tmp_path[0] = '\0';
	n->reused = false;
	n->data_dir = data_dir;
	queue_sum_init(&n->sum);
	if (qid == 0) {
		errno = EINVAL;
		return queue_fs_fail(err_r, "queue_fs_new: qid 0");
	}
	if (queue_fs_spare_take(data_dir, qid, n) == 0)
		return 0;
	/* a qid handed out as a spare that another process took (or
	 * that is not usable): the name is not free, take another */
	if (queue_fs_path(path, data_dir, false, qid, QUEUE_FS_MSG, "",
	    err_r) == -1)
		return -1;
	if (lstat(path, &sb) == 0)
		n->qid = id_new();
	if (queue_fs_path(n->tmp_path, data_dir, true, n->qid, QUEUE_FS_MSG,
	    "", err_r) == -1)
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
	if (queue_fs_pwrite_all(n->fd, p, len, (off_t)(n->hdr + n->size),
	    n->tmp_path, err_r) == -1)
		return -1;
	queue_sum_update(&n->sum, p, len);
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
		if (n->reused)
			queue_fs_spare_give_back(n);
		else if (unlink(n->tmp_path) == -1 && errno != ENOENT)
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
	bool	dir_sync;		/* a name changed in queue/ */
};

static int
queue_fs_rename(const char *from, const char *to, const char **err_r)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == -1)
		return queue_fs_fail(err_r, "rename(%s, %s)", from, to);
	return 0;
}

/* The header block of n: the header line, e when it fits (*in_r), LF
 * padding; malloc'ed, n->hdr bytes. */
static char *
queue_fs_hdr_build(const struct queue_new *n, const struct envelope *e,
    bool *in_r)
{
	char *hdr = xmalloc(n->hdr), *text;
	struct queue_sum bs;
	size_t len;
	char first;

	memset(hdr, '\n', n->hdr);
	text = envelope_format(e, &len);
	*in_r = QUEUE_FS_HDR_LINE + len < n->hdr;
	if (*in_r)
		memcpy(hdr + QUEUE_FS_HDR_LINE, text, len);
	free(text);
	queue_sum_init(&bs);
	queue_sum_update(&bs, hdr + QUEUE_FS_HDR_LINE,
	    n->hdr - QUEUE_FS_HDR_LINE);
	first = hdr[QUEUE_FS_HDR_LINE];
	snprintf(hdr, QUEUE_FS_HDR_LINE + 1, QUEUE_FS_HDR_MAGIC "%010zu %016llx\n",
	    n->hdr, (unsigned long long)queue_sum_join(
	    queue_sum_final(&bs), queue_sum_final(&n->sum)));
	hdr[QUEUE_FS_HDR_LINE] = first;	/* snprintf's NUL */
	return hdr;
}

/* Everything but the directory fsync, for one message.  A reused file
 * already has both names in queue/ (made durable when it became a
 * spare): it only needs its header and one fdatasync. */
static int
queue_fs_commit_prepare(const char *data_dir, struct queue_new *n,
    struct envelope *e, struct queue_fs_commit_one *c, const char **err_r)
{
	uint64_t total = n->hdr + n->size;
	const char *path = n->tmp_path;
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
	if (n->reused) {
		/* from here on the file is the commit's: on failure it goes
		 * (undo), it never returns to spare/ with a header written */
		n->tmp_path[0] = '\0';
		path = c->msg;
		c->msg_in = c->env_in = true;
	}
	/* a reused file may be longer: cut it while it is still marked
	 * spare, so that a process killed after the header leaves a
	 * whole message, never one with old bytes at its end */
	if (n->old_size > total && ftruncate(n->fd, (off_t)total) == -1)
		return queue_fs_fail(err_r, "ftruncate(%s)", path);
	hdr = queue_fs_hdr_build(n, e, &env_in_hdr);
	rc = queue_fs_pwrite_all(n->fd, hdr, n->hdr, 0, path, err_r);
	free(hdr);
	if (rc == -1)
		return -1;
	if (!env_in_hdr) {
		/* too big for the room reserved: a file of its own */
		if (queue_fs_write_env(c->tmp_env, e, true, NULL, err_r) == -1)
			return -1;
		c->tmp_env_in = true;
	}
	if (fdatasync(n->fd) == -1) {
		queue_fs_fail(err_r, "fdatasync(%s)", path);
		goto fail;
	}
	if (n->reused) {
		if (!env_in_hdr) {
			/* replaces the Q.env name of the reused file */
			if (rename(c->tmp_env, c->env) == -1) {
				queue_fs_fail(err_r, "rename(%s, %s)",
				    c->tmp_env, c->env);
				goto fail;
			}
			c->dir_sync = true;
		}
		c->tmp_env_in = false;
		return 0;
	}
	c->dir_sync = true;
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
	bool dir_sync = false;
	int dir_errno = 0;

	if (n == 0)
		return 0;
	b.cs = xcalloc(n, sizeof(*b.cs));
	b.errs = xcalloc(n, sizeof(*b.errs));
	queue_fs_batch_run(&b);
	for (size_t i = 0; i < n; i++) {
		ok += results[i] == 0;
		dir_sync |= results[i] == 0 && b.cs[i].dir_sync;
		if (err == NULL)
			err = b.errs[i];
		else
			free(b.errs[i]);
	}
	if (ok > 0 && dir_sync && (queue_fs_path(dir, data_dir, false, 0, 0, "",
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

/* A header line, parsed. */
struct queue_fs_hdr {
	size_t		len;		/* of the block: the message's offset */
	size_t		line;		/* of the header line */
	bool		has_sum;	/* version 2 */
	uint64_t	sum;
};

/* The header line at the start of p[0..len) into *h: the block's
 * length, or 0 when p does not start with one. */
static size_t
queue_fs_hdr_parse(const char *p, size_t len, struct queue_fs_hdr *h)
{
	uint64_t v;

	memset(h, 0, sizeof(*h));
	if (len >= QUEUE_FS_HDR_LINE1 &&
	    memcmp(p, QUEUE_FS_HDR_MAGIC1, QUEUE_FS_HDR_MAGIC_LEN) == 0 &&
	    p[QUEUE_FS_HDR_LINE1 - 1] == '\n' &&
	    queue_fs_digits(p + QUEUE_FS_HDR_MAGIC_LEN, 10, 10, &v))
		h->line = QUEUE_FS_HDR_LINE1;
	else if (len >= QUEUE_FS_HDR_LINE &&
	    memcmp(p, QUEUE_FS_HDR_MAGIC, QUEUE_FS_HDR_MAGIC_LEN) == 0 &&
	    p[QUEUE_FS_HDR_MAGIC_LEN + 10] == ' ' &&
	    p[QUEUE_FS_HDR_LINE - 1] == '\n' &&
	    queue_fs_digits(p + QUEUE_FS_HDR_MAGIC_LEN, 10, 10, &v) &&
	    queue_fs_digits(p + QUEUE_FS_HDR_MAGIC_LEN + 11, 16, 16,
	    &h->sum)) {
		h->line = QUEUE_FS_HDR_LINE;
		h->has_sum = true;
	} else
		return 0;
	h->len = (size_t)v;
	return h->len;
}

/* Parse the envelope of the open Q.env at path (either kind: a file of
 * its own, or the message file's second name).  *hdr_r: the offset of
 * the message when the file holds it too, else 0 (it is in Q.msg). */
static int
queue_fs_read_env_fd(int fd, const char *path, const struct stat *sb,
    struct envelope *e, size_t *hdr_r, const char **err_r)
{
	size_t size = (size_t)sb->st_size, want, len, start = 0, hdr;
	struct queue_fs_hdr h;
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
	if (queue_fs_is_spare(text, len)) {
		/* a spare file's names: no message */
		errno = ENOENT;
		queue_fs_fail(err_r, "%s: a spare file", path);
		goto fail;
	}
	if ((hdr = queue_fs_hdr_parse(text, len, &h)) != 0) {
		if (hdr <= h.line || hdr > size || hdr > QUEUE_FS_HDR_MAX) {
			errno = EINVAL;
			queue_fs_fail(err_r, "%s: bad header line", path);
			goto fail;
		}
		start = h.line;
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
	struct queue_fs_hdr h;
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
	if (got > 0 && queue_fs_is_spare(line, (size_t)got)) {
		close(fd);
		errno = ENOENT;
		return queue_fs_fail(err_r, "%s: a spare file", path);
	}
	hdr = queue_fs_hdr_parse(line, (size_t)got, &h);
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
 * message files become spares (queue_fs_spare_make) while there is
 * room; they are linked into spare/ only after the fsync made their
 * new names durable, so that a commit into one never needs it. */
int
queue_fs_remove_many(const char *data_dir, const uint64_t *qids, size_t n,
    const char **err_r)
{
	char env[QUEUE_FS_PATH_MAX], msg[QUEUE_FS_PATH_MAX];
	char spare[QUEUE_FS_PATH_MAX];
	uint64_t *made = xcalloc(n > 0 ? n : 1, sizeof(*made));
	size_t room = QUEUE_FS_SPARE_MAX, nmade = 0;
	const char *e2;
	int dfd, rc = 0;

	if ((dfd = queue_fs_lock(data_dir, err_r)) == -1) {
		free(made);
		return -1;
	}
	if (n > 0) {
		size_t have = queue_fs_spare_count(data_dir);

		room = have < room ? room - have : 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (nmade < room &&
		    queue_fs_spare_make(data_dir, qids[i], &made[nmade]) == 0) {
			nmade++;
			continue;
		}
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
	else
		for (size_t i = 0; i < nmade; i++) {
			/* no fsync of spare/: its names are not state */
			if (queue_fs_path(msg, data_dir, false, made[i],
			    QUEUE_FS_MSG, "", &e2) == 0 &&
			    queue_fs_spare_path(spare, data_dir, made[i],
			    &e2) == 0 && link(msg, spare) == -1)
				log_warn("link(%s, %s)", msg, spare);
		}
	free(made);
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

/* Whether the sum in path's header line is right (true also for a
 * version 1 file, which has none): *bad_r set when it is not. */
static int
queue_fs_verify(int fd, bool *bad_r)
{
	char *buf = xmalloc(64 * 1024);
	struct queue_sum bs, ms;
	struct queue_fs_hdr h;
	uint64_t off;
	ssize_t got;
	int rc = -1;

	*bad_r = false;
	if ((got = queue_fs_pread_all(fd, buf, QUEUE_FS_HDR_LINE, 0)) == -1)
		goto done;
	if (queue_fs_hdr_parse(buf, (size_t)got, &h) == 0 || !h.has_sum) {
		rc = 0;
		goto done;
	}
	queue_sum_init(&bs);
	queue_sum_init(&ms);
	for (off = h.line;; off += (uint64_t)got) {
		size_t want = 64 * 1024;

		if (off < h.len && h.len - off < want)
			want = h.len - off;	/* the block ends there */
		if ((got = queue_fs_pread_all(fd, buf, want, (off_t)off)) ==
		    -1)
			goto done;
		if (got == 0)
			break;
		queue_sum_update(off < h.len ? &bs : &ms, buf,
		    (size_t)got);
	}
	*bad_r = off < h.len || queue_sum_join(queue_sum_final(&bs),
	    queue_sum_final(&ms)) != h.sum;
	rc = 0;
done:
	free(buf);
	return rc;
}

/* Move a message whose sum is wrong to queue/corrupt/ for a human. */
static void
queue_fs_quarantine(const char *data_dir, uint64_t qid)
{
	char env[QUEUE_FS_PATH_MAX], msg[QUEUE_FS_PATH_MAX];
	char to[QUEUE_FS_PATH_MAX];
	const char *err;

	if (queue_fs_path(env, data_dir, false, qid, QUEUE_FS_ENV, "",
	    &err) == -1 || queue_fs_path(msg, data_dir, false, qid,
	    QUEUE_FS_MSG, "", &err) == -1)
		return;
	snprintf(to, sizeof(to), "%s/queue/corrupt", data_dir);
	if (queue_fs_mkdir(to, &err) == -1) {
		log_warnx("queue: %s", err);
		return;
	}
	snprintf(to, sizeof(to), "%s/queue/corrupt/%016llx.msg", data_dir,
	    (unsigned long long)qid);
	/* the file first: a crash in between leaves the .env alone, a
	 * stray, and the copy for a human */
	if (rename(msg, to) == -1)
		log_warn("rename(%s, %s)", msg, to);
	if (unlink(env) == -1 && errno != ENOENT)
		log_warn("unlink(%s)", env);
	log_event(qid, "queue", "corrupt", "reason=<the checksum of the "
	    "queue file does not match: cut short by a crash, or a disk "
	    "fault> path=<%s>", to);
}

/* What a pair in queue/ holds: 1 a message, 0 a spare or gone (removed
 * when a stray), -1 a message moved to corrupt/. */
static int
queue_fs_check_pair(int dfd, const char *data_dir, uint64_t qid,
    bool clean, time_t verify_before, time_t now)
{
	char name[QUEUE_FS_NAME_LEN + 1];
	struct stat sb;
	bool spare, marked, bad;
	int fd;

	snprintf(name, sizeof(name), "%016llx.msg", (unsigned long long)qid);
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 1;	/* the reader says what is wrong */
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return 1;
	}
	spare = marked = queue_fs_is_spare_fd(fd);
	if (!spare && clean && sb.st_mtime < verify_before &&
	    queue_fs_verify(fd, &bad) == 0 && bad) {
		close(fd);
		queue_fs_quarantine(data_dir, qid);
		return -1;
	}
	close(fd);
	if (!spare && clean && sb.st_mtime <= now - QUEUE_FS_STRAY_AGE) {
		struct envelope e;
		const char *err;

		/* a spare whose mark was lost with the machine (it is not
		 * synced): it still holds the envelope of its old qid */
		if (queue_fs_load(data_dir, qid, &e, &err) == 0) {
			envelope_clear(&e);
			return 1;
		}
		spare = errno == EINVAL && strstr(err, ": holds qid ") != NULL;
	}
	if (!spare)
		return 1;
	/* a spare without its spare/ name (a crash, a worker killed in
	 * the middle of a message): nobody will take it */
	if (clean && (sb.st_nlink < 3 || !marked)) {
		char dir[QUEUE_FS_PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/queue", data_dir);
		snprintf(name, sizeof(name), "%016llx.env",
		    (unsigned long long)qid);
		queue_fs_unlink_stray(dfd, dir, name, qid, now);
		snprintf(name, sizeof(name), "%016llx.msg",
		    (unsigned long long)qid);
		queue_fs_unlink_stray(dfd, dir, name, qid, now);
	}
	return 0;
}

/* At the start of the queue process: spare/ names that do not lead to
 * a usable spare go (and the old layout's 4-digit names). */
static void
queue_fs_clean_spares(const char *data_dir)
{
	char path[QUEUE_FS_PATH_MAX], msg[QUEUE_FS_PATH_MAX];
	struct stat sb, msb;
	struct dirent *de;
	const char *err;
	uint64_t qid;
	bool ok;
	int fd;
	DIR *d;

	snprintf(path, sizeof(path), "%s/queue/spare", data_dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		ok = false;
		if (queue_fs_qid_parse(de->d_name, &qid) == 0 &&
		    (fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) != -1) {
			ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    sb.st_nlink == 3 && queue_fs_is_spare_fd(fd) &&
			    queue_fs_path(msg, data_dir, false, qid,
			    QUEUE_FS_MSG, "", &err) == 0 &&
			    lstat(msg, &msb) == 0 && msb.st_ino == sb.st_ino &&
			    msb.st_dev == sb.st_dev;
			close(fd);
		}
		if (!ok && unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    errno != ENOENT)
			log_warn("unlink(%s/%s)", path, de->d_name);
	}
	closedir(d);
}

/* Files last written before this boot are checked once per boot: only
 * a crash of the machine (not of a process) can leave a torn file.
 * The time before which files are checked, or 0 (this boot was seen:
 * check none). */
static time_t
queue_fs_boot_check(const char *data_dir, char *boot_id, size_t size)
{
	char path[QUEUE_FS_PATH_MAX], seen[64] = "";
	struct timespec up;
	ssize_t got;
	int fd;

	boot_id[0] = '\0';
	if ((fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY |
	    O_CLOEXEC)) != -1) {
		got = read(fd, boot_id, size - 1);
		boot_id[got > 0 ? got : 0] = '\0';
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/queue/boot-id", data_dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
		got = read(fd, seen, sizeof(seen) - 1);
		seen[got > 0 ? got : 0] = '\0';
		close(fd);
	}
	if (boot_id[0] != '\0' && strcmp(seen, boot_id) == 0)
		return 0;
	if (clock_gettime(CLOCK_BOOTTIME, &up) == -1)
		return time(NULL);
	return time(NULL) - up.tv_sec - 1;
}

/* Remember that this boot's check was made. */
static void
queue_fs_boot_seen(const char *data_dir, const char *boot_id)
{
	char path[QUEUE_FS_PATH_MAX], tmp[QUEUE_FS_PATH_MAX];
	size_t len = strlen(boot_id);
	int fd;

	if (len == 0)
		return;
	snprintf(path, sizeof(path), "%s/queue/boot-id", data_dir);
	snprintf(tmp, sizeof(tmp), "%s/queue/tmp/boot-id", data_dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, QUEUE_FS_FILE_MODE)) == -1)
		return;
	if (write(fd, boot_id, len) != (ssize_t)len || rename(tmp, path) == -1)
		(void)unlink(tmp);
	close(fd);
}

static int
queue_fs_walk(const char *data_dir, bool clean, void (*fn)(void *, uint64_t),
    void *arg, const char **err_r)
{
	struct queue_fs_list_ctx ctx = { NULL, 0, 0 };
	char path[QUEUE_FS_PATH_MAX], name[QUEUE_FS_NAME_LEN + 1];
	char boot_id[64] = "";
	time_t now = time(NULL), verify_before = 0;
	DIR *d;

	if (queue_fs_path(path, data_dir, false, 0, 0, "", err_r) == -1)
		return -1;
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT && !clean)
			return 0;
		return queue_fs_fail(err_r, "opendir(%s)", path);
	}
	if (clean) {
		verify_before = queue_fs_boot_check(data_dir, boot_id,
		    sizeof(boot_id));
		queue_fs_clean_spares(data_dir);
	}
	queue_fs_collect(d, &ctx);
	for (size_t i = 0; i < ctx.n; i++) {
		if (ctx.ents[i].has == 3) {
			if (queue_fs_check_pair(dirfd(d), data_dir,
			    ctx.ents[i].qid, clean, verify_before, now) == 1)
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
	if (clean) {
		queue_fs_clean_tmp(data_dir, now);
		queue_fs_boot_seen(data_dir, boot_id);
	}
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
