/* imap_session.h: the IMAP session object, shared by
 *   imap_server.c	life cycle, TLS, input, the command table and its
 *			states, the job runner, shutdown; with
 *			imap_server_cmd.c: CAPABILITY, NOOP, LOGOUT,
 *			STARTTLS, ENABLE, ID, IDLE;
 *   imap_auth.c	LOGIN, AUTHENTICATE (PLAIN, SCRAM-SHA-256), opening
 *			the user's store;
 *   imap_notify.c	one inotify instance per worker process, watches
 *			shared by every session on the same folder;
 *   imap_cmd_mbox.c	SELECT, EXAMINE, CREATE, DELETE, RENAME,
 *			(UN)SUBSCRIBE, LIST, LSUB, NAMESPACE, STATUS, APPEND,
 *			CHECK, CLOSE, UNSELECT;
 *   imap_cmd_msg.c	FETCH, STORE, SEARCH, SORT, THREAD, COPY, MOVE,
 *			EXPUNGE, UID EXPUNGE;
 *   imap_update.c	untagged EXISTS / EXPUNGE / VANISHED / FETCH for
 *			what other sessions and deliveries changed.
 *
 * The job model.  A command that touches the store runs as a job in the
 * worker's thread pool: while it runs the session is busy, reads no
 * input, and nothing else touches it, so a job handler is plain
 * blocking code with the session to itself.  It appends its untagged
 * responses and its tagged completion to out and returns
 * IMAP_JOB_DONE; a handler producing a lot (FETCH of big messages)
 * returns IMAP_JOB_MORE once out holds IMAP_JOB_CHUNK bytes or more:
 * the loop sends out, waits until it drains, and calls the handler
 * again (its progress kept in s->cmd_state).  The parser's command
 * (s->cmd) stays valid until the job is done.  A job never touches
 * s->conn: the loop may lose the connection meanwhile (the session
 * itself lives on until the job is done). */
#ifndef FACTEUR_IMAP_IMAP_SESSION_H
#define FACTEUR_IMAP_IMAP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/account.h"
#include "auth/sasl.h"
#include "core/buf.h"
#include "imap/imap_parse.h"
#include "imap/imap_server.h"
#include "imap/mstore.h"
#include "net/conn.h"

#define IMAP_JOB_CHUNK		(256 * 1024)

enum imap_state {
	IMAP_STATE_NOTAUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

enum imap_job_res { IMAP_JOB_DONE, IMAP_JOB_MORE };

struct imap_session;
/* A command run in the thread pool (see above). */
typedef enum imap_job_res (*imap_job_fn)(struct imap_session *s,
    struct buf *out);

struct imap_notify_watch;

struct imap_session {
	struct imap_session	*next, **prevp;	/* srv->sessions */
	struct imap_server	*srv;
	struct conn		*conn;
	uint64_t		 id;
	enum imap_state		 state;
	struct imap_parser	*parser;
	unsigned		 bad_cmds;
	unsigned		 auth_failures;
	unsigned		 refs;		/* conn + work in flight */
	bool			 busy;		/* a command is running */
	bool			 conn_gone;
	bool			 implicit_tls;

	/* ENABLE (RFC 5161) and what the client used */
	bool			 rev2;		/* ENABLE IMAP4rev2 */
	bool			 utf8;		/* ... or UTF8=ACCEPT */
	bool			 condstore;	/* ENABLE CONDSTORE, or a
						 * CONDSTORE command used */
	bool			 qresync;	/* ENABLE QRESYNC */

	/* the command under way */
	const struct imap_command *cmd;
	char			 tag[IMAP_PARSE_TAG_MAX + 1];
	imap_job_fn		 job_fn;
	void			*cmd_state;	/* the handler's progress */
	void			(*cmd_state_free)(void *);
	struct buf		 job_out;

	/* authentication */
	struct sasl		*sasl;		/* AUTHENTICATE under way */
	struct event		*ev_delay;	/* failed login: answer later */

	/* AUTH and SELECTED */
	char			 user[ACCOUNT_ADDR_MAX + 1];
	struct mstore		*store;
	struct mstore_view	*view;		/* SELECTED: the folder */
	char			*view_name;	/* its name, UTF-8 */
	bool			 readonly;	/* EXAMINE */
	uint32_t		*saved;		/* SEARCHRES "$": UIDs */
	size_t			 nsaved;

	/* IDLE */
	bool			 idling;
	bool			 idle_dirty;	/* a change came during IDLE */
	struct imap_notify_watch *watch;	/* on the selected folder */

	/* imap_server.c's own (loop side of the job runner, counters) */
	enum imap_job_res	 job_res;	/* what job_fn returned */
	bool			 draining;	/* IMAP_JOB_MORE: output must
						 * drain before the next call */
	bool			 out_wait;	/* input waits for output */
	struct event		*ev_poll;	/* IDLE without a watch */
	unsigned		 ncmds;
	time_t			 active;	/* last command */
	bool			 store_idle;	/* mstore_idle() since */
};

/* imap_server.c */
/* "TAG RESP text\r\n" into out (job context) or straight to the
 * connection (out == NULL, loop context). */
void	imap_tagged(struct imap_session *s, struct buf *out,
	    const char *resp, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	imap_untagged(struct imap_session *s, struct buf *out,
	    const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* BAD: counted; past the limit the connection is closed. */
void	imap_bad(struct imap_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	imap_close(struct imap_session *s, const char *reason);
void	imap_enter_state(struct imap_session *s, enum imap_state st);
/* Work in flight holds a reference (loop context); unref frees the
 * session at the last one. */
void	imap_session_unref(struct imap_session *s);
/* Asynchronous work of the loop (a password check, a delay) ended:
 * busy is cleared and pipelined input read on. */
void	imap_session_resume(struct imap_session *s);
/* Run fn as the current command's job (loop context). */
void	imap_job_start(struct imap_session *s, imap_job_fn fn);
/* Free the command's state (cmd_state) and forget the command. */
void	imap_cmd_end(struct imap_session *s);
bool	imap_auth_allowed(const struct imap_session *s);
/* The CAPABILITY list for the session's state (no "* CAPABILITY"). */
void	imap_capabilities(const struct imap_session *s, struct buf *out);

/* imap_auth.c (loop context) */
void	imap_do_login(struct imap_session *s);
void	imap_do_authenticate(struct imap_session *s);
/* A SASL response line after "+ ". */
void	imap_auth_line(struct imap_session *s, struct str line);

/* imap_notify.c: per-process folder change notification.  cb runs on
 * the loop, at most every IMAP_NOTIFY_DELAY_MS per watch, after files
 * changed in DIR/new or DIR/cur. */
#define IMAP_NOTIFY_DELAY_MS	50
struct imap_notify;
struct imap_notify *imap_notify_new(struct event_base *base);
void	imap_notify_free(struct imap_notify **np);
struct imap_notify_watch *imap_notify_add(struct imap_notify *n,
	    const char *dir, void (*cb)(void *arg), void *arg);
void	imap_notify_remove(struct imap_notify_watch **wp);
/* The directory a watch is on (as given to imap_notify_add). */
const char *imap_notify_watch_dir(const struct imap_notify_watch *w);

/* imap_update.c (job context): announce to the session what changed in
 * its selected folder (mstore_view_refresh): EXPUNGE, or VANISHED with
 * QRESYNC, only when allow_expunge (RFC 9051 §7.5.1: not during FETCH,
 * STORE, SEARCH); EXISTS; FETCH (FLAGS) with UID (and MODSEQ with
 * CONDSTORE) for flag changes; FLAGS and PERMANENTFLAGS when keywords
 * were added.  Does nothing outside SELECTED. */
int	imap_update(struct imap_session *s, struct buf *out,
	    bool allow_expunge);
/* Write "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]". */
void	imap_update_flags_lines(struct imap_session *s, struct buf *out);

/* imap_cmd_mbox.c and imap_cmd_msg.c: job handlers, one per command;
 * each ends with the tagged reply. */
enum imap_job_res imap_cmd_select(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_create(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_delete(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_rename(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_subscribe(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_list(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_namespace(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_status(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_append(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_check(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_close(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_fetch(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_store(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_search(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_copy(struct imap_session *, struct buf *);
enum imap_job_res imap_cmd_expunge(struct imap_session *, struct buf *);
/* SELECTED -> AUTH without expunging (UNSELECT, a failed SELECT, CLOSE
 * after its expunge): closes the view and frees the saved search.  The
 * watch is not touched here (job context): when a job ends, the loop
 * adds or drops s->watch to match s->view. */
void	imap_deselect(struct imap_session *s);

#endif
