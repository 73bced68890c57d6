/* queue_fs.h: the durable outbound queue on disk, DATA_DIR/queue/.
 *
 *   <qid>.msg   the message as it will be sent (trace header included),
 *               behind a header block that holds its envelope
 *   <qid>.env   its envelope (envelope.h): a second name of the same
 *               file as long as the envelope is the one written at
 *               commit; a small file of its own once rewritten
 *   tmp/        files being written
 *   spare/      second names of spare files: files of removed messages,
 *               already under the names of a future qid, reused by new
 *               messages in place
 *   corrupt/    files whose checksum failed after a crash of the machine
 *
 * A message is in the queue once both names are in the directory and
 * durable, and its file is fdatasync'ed with its header; only then may
 * the SMTP server answer 250.
 * The layout and why: doc/QUEUE.md, "Files".
 * Crash states: doc/QUEUE.md.  Functions are synchronous (fsync): run
 * them off the event loop.  Writers: workers (new messages) and the queue
 * process (envelope updates, removal); both run as the same user.  The
 * CLI (hold, release, delete) also writes, maybe as root: changes to an
 * existing message (update, hold, remove) take an exclusive flock() on
 * the queue directory, and a rewritten .env keeps its owner.
 *
 * Errors: 0, or -1 with errno set and *err_r naming the call and its
 * path ("rename(/a, /b): No space left on device"), in a thread-local
 * buffer valid until the next queue_fs_* call in the same thread.
 * Safe to call from several threads at once. */
#ifndef FACTEUR_QUEUE_QUEUE_FS_H
#define FACTEUR_QUEUE_QUEUE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "queue/envelope.h"
#include "queue/queue_sum.h"

/* Strays (see queue_fs_scan) younger than this are left alone. */
#define QUEUE_FS_STRAY_AGE	3600
#define QUEUE_FS_PATH_MAX	4096

struct queue_new {
	uint64_t	qid;		/* may differ from the qid asked for */
	int		fd;		/* the .msg being written */
	char		tmp_path[4096];	/* its path: tmp/Q.msg, or Q.msg */
	size_t		size;		/* message bytes written */
	size_t		hdr;		/* the header block's size */
	uint64_t	old_size;	/* a reused file's size before */
	bool		reused;		/* a spare, written in place */
	const char	*data_dir;
	struct queue_sum	sum;	/* of the message bytes */
};

/* Which Q.env a reader saw (queue_fs_open_item, queue_fs_changed). */
struct queue_fs_stamp {
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	ctime;
};

/* mkdir DATA_DIR/queue and queue/tmp (0700). */
int	queue_fs_init(const char *data_dir, const char **err_r);
/* A qid for a new message: the name of a spare file when this process
 * knows one (queue_fs_new then reuses it: the commit needs no
 * directory fsync), else a random one. */
uint64_t	queue_fs_qid_new(const char *data_dir);
/* This process hands out only the spares whose qid is index modulo
 * count (workers: their slot), so that two processes never want the
 * same one; by default all are its own. */
void	queue_fs_share(unsigned index, unsigned count);
/* Start a new message file: the spare file named qid when there is one
 * (taken by this call; written in place), else a new file in
 * queue/tmp.  n->qid is the qid to use: another one when qid names a
 * file that is not free (a spare another process took).  proto: the envelope as known now, to size the header block
 * (its size, created and eightbit may change before the commit; the
 * rest must not, or the envelope goes to a file of its own); NULL:
 * room for a small envelope. */
int	queue_fs_new(const char *data_dir, uint64_t qid,
	    const struct envelope *proto, struct queue_new *n,
	    const char **err_r);
int	queue_fs_write(struct queue_new *n, const void *p, size_t len,
	    const char **err_r);
/* Write the envelope into the header block, fdatasync the file; for a
 * new file also rename its two names in (.msg first) and fsync the
 * directory.  Closes the fd.
 * On failure nothing is left in the queue. */
int	queue_fs_commit(const char *data_dir, struct queue_new *n,
	    struct envelope *e, const char **err_r);
/* Group commit: the same for ns[0..n) with envs es[0..n), sharing one
 * directory fsync.  results[i] is 0 when message i is durably queued,
 * else an errno value (nothing of it is left in the queue).  Returns 0
 * when all succeeded, else -1 with *err_r about the first failure.
 * Closes every fd.  e->qid and e->size are set from the queue_new. */
int	queue_fs_commit_batch(const char *data_dir, struct queue_new **ns,
	    struct envelope **es, size_t n, int *results, const char **err_r);
/* Close and unlink the tmp file (a reused file goes back to spare/);
 * harmless after commit or twice. */
void	queue_fs_abort(struct queue_new *n);

/* Rewrite an envelope atomically (tmp, fdatasync, rename, fsync of the
 * directory).  The hold flag is the operator's: the value on disk is
 * kept, e->hold is ignored (queue_fs_set_hold changes it).  -1 with
 * errno ENOENT when the message is no longer in the queue (deleted by
 * the operator): drop it. */
int	queue_fs_update(const char *data_dir, const struct envelope *e,
	    const char **err_r);
/* Set or clear the hold flag on disk (facteur queue hold|release). */
int	queue_fs_set_hold(const char *data_dir, uint64_t qid, bool hold,
	    const char **err_r);
/* Read and parse queue/<qid>.env; envelope_clear() it afterwards.
 * errno ENOENT: no such message. */
int	queue_fs_load(const char *data_dir, uint64_t qid, struct envelope *e,
	    const char **err_r);
/* For a delivery: the envelope, and the message open for reading in
 * *fd_r (O_RDONLY|O_CLOEXEC) from offset *off_r to its end; *stamp_r
 * identifies the envelope read.  ENOENT: no such message. */
int	queue_fs_open_item(const char *data_dir, uint64_t qid,
	    struct envelope *e, int *fd_r, off_t *off_r,
	    struct queue_fs_stamp *stamp_r, const char **err_r);
/* Whether queue/<qid>.env is still the file of the stamp: 0 yes, 1 it
 * was rewritten (by the CLI: load it again), -1 gone or unreadable. */
int	queue_fs_changed(const char *data_dir, uint64_t qid,
	    const struct queue_fs_stamp *stamp);
/* Remove both files (the .env first), fsync the directory.  -1 with
 * errno ENOENT when there was no .env (a leftover .msg is removed). */
int	queue_fs_remove(const char *data_dir, uint64_t qid, const char **err_r);
/* The same for n messages at once: one lock and one directory fsync
 * (the queue process batches the messages it is done with).  A file
 * already gone is not an error.  Message files go to spare/ for reuse
 * when there is room: only the queue process may call this (a reader
 * of the old file could see a new message in it). */
int	queue_fs_remove_many(const char *data_dir, const uint64_t *qids,
	    size_t n, const char **err_r);
/* Open the message for reading (O_RDONLY|O_CLOEXEC), positioned at
 * its first byte (after the header block); -1 on error. */
int	queue_fs_open_msg(const char *data_dir, uint64_t qid);
/* Every qid in the queue: fn(arg, qid) for each complete pair that is
 * not a spare, in qid order.  Stray files from a crash (a .msg without
 * .env, an .env without .msg, a spare without its spare/ name, tmp/
 * leftovers) older than QUEUE_FS_STRAY_AGE are removed (and logged):
 * younger ones may belong to a commit or a removal under way.  At the
 * first scan after a reboot, files written before it have their
 * checksum checked; a file that fails goes to queue/corrupt/ (logged).
 * Other names are left alone. */
int	queue_fs_scan(const char *data_dir, void (*fn)(void *, uint64_t),
	    void *arg, const char **err_r);
/* The same without removing anything (the CLI); in qid order.  A
 * missing queue directory is an empty queue. */
int	queue_fs_list(const char *data_dir, void (*fn)(void *, uint64_t),
	    void *arg, const char **err_r);
/* "0f3c91aa11e4b7a2" (16 lower-case hex digits, not all zero) into
 * *qid_r; 0 or -1. */
int	queue_fs_qid_parse(const char *s, uint64_t *qid_r);

#endif
