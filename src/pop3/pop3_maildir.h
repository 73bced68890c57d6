/* pop3_maildir.h: the mailbox as one POP3 session sees it: a snapshot of
 * a Maildir's cur/ taken at login, with the session's deletions and
 * retrievals applied at the end (RFC 1939 UPDATE state).
 *
 * pop3_mailbox_open() and pop3_mailbox_update() block (rename, unlink,
 * readdir of the whole Maildir): run them off the event loop.
 * pop3_mailbox_open_msg() opens one file: cheap enough for the loop.
 *
 * One POP3 session per Maildir: flock(LOCK_EX | LOCK_NB) on
 * DIR/facteur-pop3.lock, held until pop3_mailbox_free().  flock locks
 * belong to the open file, so they exclude sessions in the same process
 * as well as in other workers, and the kernel drops them when a process
 * dies.  Deliveries and IMAP do not take the lock: they never block on
 * a POP3 session. */
#ifndef FACTEUR_POP3_POP3_MAILDIR_H
#define FACTEUR_POP3_POP3_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/pop3_parse.h"

#define POP3_LOCK_NAME		"facteur-pop3.lock"

struct pop3_msg {
	char		*name;		/* current file name in cur/ */
	uint64_t	 size;		/* octets, CRLF line ends (",S=") */
	uint64_t	 secs, usecs;	/* delivery time from the name: order */
	uint32_t	 baselen;	/* bytes of the base name in name */
	bool		 deleted;	/* DELE in this session */
	bool		 retrieved;	/* RETR in this session: mark \Seen */
};

struct pop3_mailbox {
	char		*dir;
	int		 lock_fd;
	int		 cur_fd;	/* DIR/cur, O_DIRECTORY */
	struct pop3_msg	*msgs;
	size_t		 n;		/* messages in the snapshot */
	size_t		 moved;		/* new/ -> cur/ at open */
	size_t		 hidden;	/* past POP3_MESSAGES_MAX, not shown */
	/* totals of UPDATE */
	size_t		 unlinked, seen, failed;
};

enum pop3_open_res {
	POP3_OPEN_OK,
	POP3_OPEN_LOCKED,	/* another POP3 session holds the mailbox */
	POP3_OPEN_ERROR,	/* *err_r says what */
};

struct pop3_mailbox	*pop3_mailbox_new(const char *dir);
/* Create the Maildir if missing, lock it, move new/ to cur/ (Dovecot
 * does the same: the messages are no longer \Recent), and list cur/ in
 * delivery order.  *err_r points into a thread-local buffer. */
enum pop3_open_res	 pop3_mailbox_open(struct pop3_mailbox *mb,
			    const char **err_r);
/* Open message i (0-based) read-only; when its file was renamed (IMAP
 * changed its flags) it is found again by base name.  -1 with errno
 * ENOENT when it is gone (expunged elsewhere). */
int	pop3_mailbox_open_msg(struct pop3_mailbox *mb, size_t i);
/* The UIDL of message i into out (see pop3_parse_uidl). */
size_t	pop3_mailbox_uidl(const struct pop3_mailbox *mb, size_t i,
	    char out[POP3_UIDL_MAX + 1]);
/* What UPDATE did for a range of messages. */
struct pop3_update_res {
	size_t	unlinked;	/* deleted (or already gone) */
	size_t	seen;		/* renamed with 'S' added */
	size_t	failed;		/* deletions that failed */
	char	err[512];	/* the first failure, "" if none */
};

/* UPDATE for messages [from, to): unlink the deleted ones, add 'S' to
 * the flags of the retrieved ones (one rename each), then fsync cur/ if
 * anything was unlinked.  A message already gone counts as deleted.
 * Disjoint ranges may run at the same time in different threads: on a
 * disk where freeing blocks is slow (ext4 mounted with discard), unlinks
 * in parallel finish several times faster. */
void	pop3_mailbox_update_range(struct pop3_mailbox *mb, size_t from,
	    size_t to, struct pop3_update_res *res);
/* The whole mailbox in one go; fills unlinked/seen/failed of mb.  -1
 * when some deletion failed (*err_r: the first failure, valid until the
 * next call in this thread). */
int	pop3_mailbox_update(struct pop3_mailbox *mb, const char **err_r);
/* Release the lock and free. */
void	pop3_mailbox_free(struct pop3_mailbox **mbp);

#endif
