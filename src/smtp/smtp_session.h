/* smtp_session.h: the session object, shared by smtp_server.c (commands)
 * and smtp_tx.c (the message: DATA/BDAT, headers, delivery). */
#ifndef FACTEUR_SMTP_SMTP_SESSION_H
#define FACTEUR_SMTP_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "auth/sasl.h"
#include "net/conn.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_server.h"
#include "queue/queue_fs.h"
#include "store/maildir.h"

enum smtp_state {
	SMTP_STATE_CONNECTED,	/* greeting sent, no HELO/EHLO yet */
	SMTP_STATE_READY,	/* HELO/EHLO done, no transaction */
	SMTP_STATE_MAIL,	/* MAIL accepted */
	SMTP_STATE_RCPT,	/* at least one RCPT accepted */
	SMTP_STATE_DATA,	/* reading DATA content */
	SMTP_STATE_BDAT,	/* reading a BDAT chunk */
	SMTP_STATE_QUIT,	/* closing */
};

/* A local mailbox that receives the message (recipients deduplicated). */
struct smtp_target {
	char	*maildir;
	char	*user;
};

/* A recipient as the client gave it, with its DSN parameters. */
struct smtp_rcpt {
	char		*addr;
	char		*orcpt;		/* RFC 3461 ORCPT as received, or NULL */
	unsigned	 notify;	/* SMTP_NOTIFY_* */
};

/* An address in another domain: the message goes to the queue. */
struct smtp_remote {
	char		*addr;
	size_t		 rcpt;		/* index in rcpts: DSN parameters */
};

struct smtp_tx {
	uint64_t		 qid;
	struct smtp_mail_args	 mail;
	struct smtp_rcpt	*rcpts;
	size_t			 nrcpts;
	struct smtp_target	*targets;	/* local mailboxes */
	size_t			 ntargets;
	struct smtp_remote	*remotes;	/* for the outbound queue */
	size_t			 nremotes;
	struct maildir_tmp	 tmp;
	bool			 tmp_open;
	struct queue_new	 qn;
	bool			 qn_open;
	bool			 hdr_hold;	/* submission: header kept back */
	int			 hdr_state;
	struct buf		 hdr;
	const char		*write_err;	/* a write to tmp failed */
	struct smtp_data	 data;
	bool			 bdat;		/* BDAT used in this tx */
	uint64_t		 bdat_left;	/* bytes of the chunk to read */
	bool			 bdat_last;
	bool			 bdat_discard;	/* chunk read only to be dropped */
	int			 bdat_reply;	/* 0, or the error to send */
	const char		*bdat_reply_text;
	enum smtp_state		 data_prev_state;
};

struct smtp_session {
	struct smtp_session	*next, **prevp;	/* srv->sessions */
	struct smtp_server	*srv;
	struct conn		*conn;
	uint64_t		 id;
	enum smtp_state		 state;
	bool			 esmtp;
	char			 helo[256];
	unsigned		 bad_cmds;
	unsigned		 mails;		/* transactions so far */
	bool			 skipping;	/* discarding an over-long line */
	bool			 busy;		/* waiting for a lookup/commit */
	unsigned		 refs;		/* conn + pending async work */
	bool			 conn_gone;
	struct smtp_tx		 tx;
	time_t			 data_started;
	char			 auth_user[SMTP_PATH_MAX + 1];	/* "" = none */
	enum smtp_kind		 kind;
	struct sasl		*sasl;		/* an AUTH exchange under way */
	struct event		*ev_auth_delay;	/* answer of a failed AUTH */
	enum sasl_res		 auth_res;	/* ... and what it will say */
};

/* smtp_server.c */
void	smtp_reply(struct smtp_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	smtp_bad(struct smtp_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	smtp_close(struct smtp_session *s, const char *reason);
void	smtp_session_unref(struct smtp_session *s);
void	smtp_session_resume(struct smtp_session *s);
void	smtp_enter_state(struct smtp_session *s, enum smtp_state st);

/* smtp_auth.c */
void	smtp_auth_command(struct smtp_session *s, struct str args);
void	smtp_auth_line(struct smtp_session *s, struct str line);
void	smtp_auth_ehlo(struct smtp_session *s);
bool	smtp_auth_allowed(struct smtp_session *s);
void	smtp_auth_cleanup(struct smtp_session *s);
/* Submission: is this sender one of the authenticated user's
 * addresses?  Replies and resumes the session itself. */
void	smtp_auth_check_sender(struct smtp_session *s);

/* smtp_tx.c */
void	smtp_tx_reset(struct smtp_session *s);
size_t	smtp_tx_new_targets(struct smtp_session *s,
	    const char *const *maildirs, size_t n);
int	smtp_tx_add_rcpt(struct smtp_session *s, const char *addr,
	    const struct smtp_rcpt_args *args);
int	smtp_tx_add_remote(struct smtp_session *s, const char *addr);
size_t	smtp_tx_new_remotes(struct smtp_session *s, const char *const *addrs,
	    size_t n);
int	smtp_tx_add_target(struct smtp_session *s, const char *maildir,
	    const char *user);
/* DATA accepted: open the tmp file and write the trace headers. */
int	smtp_tx_begin(struct smtp_session *s);
/* Feed DATA bytes from the conn; at the end marker the message is
 * judged and, if accepted, committed (the session waits for that). */
void	smtp_tx_data_input(struct smtp_session *s);
/* BDAT n [LAST] */
void	smtp_tx_bdat(struct smtp_session *s, struct str args);
void	smtp_tx_bdat_input(struct smtp_session *s);

#endif
