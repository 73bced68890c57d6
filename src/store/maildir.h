/* maildir.h: Maildir delivery (synchronous; callers run it off the
 * event loop).  Crash states: doc/QUEUE.md.
 *
 * Layout: DIR/{tmp,new,cur}; file names "SECS.M<usec>P<pid>Q<n>R<rand>.HOST,S=SIZE"
 * (Dovecot-compatible: ",S=" is the file size, so readers need no stat).
 * Messages are stored exactly as received (CRLF line ends).
 *
 * Errors: *err_r names the failed call and its arguments
 * ("link(/a, /b): No space left on device").  It points into a
 * thread-local buffer that stays valid until the next maildir_* call in
 * the same thread: copy it before calling again.  Every function here is
 * safe to call from several threads at once. */
#ifndef FACTEUR_STORE_MAILDIR_H
#define FACTEUR_STORE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MAILDIR_NAME_MAX	255
#define MAILDIR_PATH_MAX	4096

/* mkdir -p DIR, DIR/tmp, DIR/new, DIR/cur with mode 0700 (missing
 * parents: 0755; modes are set exactly, whatever the umask).  When uid
 * is not (uid_t)-1, DIR and its tmp/new/cur (never the parents) are
 * chowned to uid:gid, and then must not be symbolic links.  Idempotent;
 * what it creates is fsync'ed with its parent.  Rejects ".." components
 * and paths too long to hold a message.  0 or -1 with *err_r. */
int	maildir_create(const char *dir, uid_t uid, gid_t gid,
	    const char **err_r);

/* A unique base name "SECS.M<usec>P<pid>Q<n>R<rand>.HOST" (unique
 * across processes and threads) into buf[size]; 0 or -1 with *err_r. */
int	maildir_name_new(char *buf, size_t size, const char **err_r);

/* A message being written into the tmp/ of its first maildir. */
struct maildir_tmp {
	int	fd;
	char	path[MAILDIR_PATH_MAX];		/* DIR/tmp/NAME */
	char	name[MAILDIR_NAME_MAX + 1];	/* unique base name */
	size_t	size;				/* bytes written so far */
};

/* Create a unique file in DIR/tmp (O_EXCL, mode 0600). */
int	maildir_tmp_open(const char *dir, struct maildir_tmp *t,
	    const char **err_r);
/* Append bytes (retries short writes and EINTR). */
int	maildir_tmp_write(struct maildir_tmp *t, const void *p, size_t n,
	    const char **err_r);
/* Make the message visible in every maildir of dirs[0..n): fdatasync the
 * file, link it as DIR/new/NAME,S=SIZE in each (hard links: one write
 * serves every recipient; a copy when link() says EXDEV), fsync each
 * new/ directory, then remove the tmp file.  All or nothing: on failure
 * the links already made are removed again and -1 is returned (the
 * sender gets 451 and retries).  Closes the fd in every case.
 * A dir listed twice (same string) gets one copy.  Returns 0 only when
 * the message is durable in every maildir. */
int	maildir_tmp_commit(struct maildir_tmp *t, const char *const *dirs,
	    size_t n, const char **err_r);
/* Give up a message: close and unlink the tmp file.  Harmless after
 * commit and when called twice. */
void	maildir_tmp_abort(struct maildir_tmp *t);

/* Remove regular files in tmp/ not modified for 36 hours (Maildir
 * convention); failures are logged. */
void	maildir_clean_tmp(const char *dir);

#endif
