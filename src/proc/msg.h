/* msg.h: typed messages between facteur's processes, over socketpairs.
 *
 * Frame: struct msg_hdr then len payload bytes; at most one descriptor
 * travels with a frame (SCM_RIGHTS).  A malformed frame from a child is
 * fatal for that channel (OpenSMTPD m_get_*): the receiver closes it. */
#ifndef FACTEUR_PROC_MSG_H
#define FACTEUR_PROC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/buf.h"

enum msg_type {
	MSG_NONE = 0,
	/* parent -> auth: a new worker channel (fd attached) */
	MSG_AUTH_WORKER_CHANNEL,
	/* parent -> worker: the new channel to the auth process (fd) */
	MSG_WORKER_AUTH_CHANNEL,
	/* worker -> auth: where does mail for this address go?
	 * payload: the address, not NUL-terminated */
	MSG_AUTH_RESOLVE,
	/* auth -> worker: struct msg_resolve_reply then the targets, each
	 * NUL-terminated: nlocal maildir paths, each followed by its user
	 * address, then nremote addresses */
	MSG_AUTH_RESOLVE_REPLY,
	/* worker -> auth: check a password.  payload: the login, NUL, the
	 * password (not NUL-terminated).  The password is wiped after use. */
	MSG_AUTH_CHECK,
	/* auth -> worker: struct msg_check_reply then the canonical user
	 * address, NUL-terminated, when result is MSG_CHECK_OK */
	MSG_AUTH_CHECK_REPLY,
	/* worker -> auth: the SCRAM-SHA-256 secrets of a login.  payload:
	 * the authcid, not NUL-terminated */
	MSG_AUTH_SCRAM,
	/* auth -> worker: struct msg_scram_reply then, when result is
	 * MSG_CHECK_OK, the canonical user address, NUL-terminated */
	MSG_AUTH_SCRAM_REPLY,
	/* parent -> queue: a new worker channel (fd attached) */
	MSG_QUEUE_WORKER_CHANNEL,
	/* parent -> worker: the new channel to the queue process (fd) */
	MSG_WORKER_QUEUE_CHANNEL,
	/* worker -> queue: a message was committed to the queue; id = qid */
	MSG_QUEUE_NEW,
	MSG_TYPE_MAX,
};

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;
	uint64_t	id;	/* request id: replies carry the request's */
};

struct msg_resolve_reply {
	uint32_t	result;		/* enum account_resolve_res */
	uint32_t	nlocal;
	uint32_t	nremote;
	uint32_t	pad;
};

#define MSG_CHECK_OK	1	/* password right */
#define MSG_CHECK_FAIL	2	/* wrong password or no such user */
#define MSG_CHECK_TEMP	3	/* database trouble: try again later */

struct msg_check_reply {
	uint32_t	result;		/* MSG_CHECK_* */
	uint32_t	pad;
};

/* Sizes as in auth/sasl.h (SASL_SCRAM_SALT_MAX, SASL_SCRAM_KEY_LEN). */
#define MSG_SCRAM_SALT_MAX	64
#define MSG_SCRAM_KEY_LEN	32

/* result: MSG_CHECK_OK (secrets found), MSG_CHECK_FAIL (no such user,
 * or no SCRAM secrets: the worker goes on with fake ones), or
 * MSG_CHECK_TEMP.  The rest is zero unless MSG_CHECK_OK. */
struct msg_scram_reply {
	uint32_t	result;		/* MSG_CHECK_* */
	uint32_t	iterations;
	uint32_t	salt_len;	/* <= MSG_SCRAM_SALT_MAX */
	uint32_t	pad;
	uint8_t		salt[MSG_SCRAM_SALT_MAX];
	uint8_t		stored_key[MSG_SCRAM_KEY_LEN];
	uint8_t		server_key[MSG_SCRAM_KEY_LEN];
};

struct msgq;

/* Called for each complete frame; fd is -1 when none came with it
 * (the callee owns it otherwise). */
typedef void (*msgq_fn)(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd);
/* Called once when the peer went away or sent garbage. */
typedef void (*msgq_closed_fn)(struct msgq *q, void *arg);

struct msgq	*msgq_new(struct event_base *base, int fd, msgq_fn fn,
		    msgq_closed_fn closed, void *arg);
void		 msgq_free(struct msgq **qp);
/* Queue a frame (with fd >= 0 to pass a descriptor; it is closed here
 * once sent). */
void		 msgq_send(struct msgq *q, uint32_t type, uint64_t id,
		    const void *payload, size_t len, int fd);
int		 msgq_fd(struct msgq *q);
/* In a child after fork: close the descriptors of frames not yet sent
 * (they belong to the parent's peers). */
void		 msgq_close_pending_fds(struct msgq *q);
/* The peer went away or misbehaved (closed() was called). */
bool		 msgq_dead(struct msgq *q);

#endif
