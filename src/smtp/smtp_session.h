/* smtp_session.h: the session object, shared by smtp_server.c (commands)
 * and smtp_tx.c (the message: DATA/BDAT, headers, delivery). */
#ifndef FACTEUR_SMTP_SMTP_SESSION_H
#define FACTEUR_SMTP_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "net/conn.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_server.h"
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

struct smtp_tx {
	uint64_t		 qid;
	struct smtp_mail_args	 mail;
	char			**rcpts;	/* as given, for the log */
	size_t			 nrcpts;
	struct smtp_target	*targets;
	size_t			 ntargets;
	struct maildir_tmp	 tmp;
	bool			 tmp_open;
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

/* smtp_tx.c */
void	smtp_tx_reset(struct smtp_session *s);
size_t	smtp_tx_new_targets(struct smtp_session *s,
	    const char *const *maildirs, size_t n);
int	smtp_tx_add_target(struct smtp_session *s, const char *maildir,
	    const char *user);
/* DATA accepted: open the tmp file and write the trace headers. */
int	smtp_tx_begin(struct smtp_session *s);
/* Feed DATA bytes from the conn; returns true when the message ended
 * (the session then waits for the commit). */
void	smtp_tx_data_input(struct smtp_session *s);
/* BDAT n [LAST] */
void	smtp_tx_bdat(struct smtp_session *s, struct str args);
void	smtp_tx_bdat_input(struct smtp_session *s);

#endif
