/* pop3_session.h: the session object, shared by pop3_server.c (life
 * cycle, input, dispatch, shutdown), pop3_auth.c (USER/PASS, AUTH,
 * login) and pop3_cmd.c (the TRANSACTION commands, RETR streaming and
 * UPDATE). */
#ifndef FACTEUR_POP3_POP3_SESSION_H
#define FACTEUR_POP3_POP3_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/account.h"
#include "net/conn.h"
#include "pop3/pop3_maildir.h"
#include "pop3/pop3_parse.h"
#include "pop3/pop3_server.h"

enum pop3_state {
	POP3_STATE_AUTH,	/* AUTHORIZATION: greeting sent */
	POP3_STATE_TRANSACTION,	/* logged in, mailbox locked */
	POP3_STATE_UPDATE,	/* QUIT: applying deletions */
	POP3_STATE_QUIT,	/* closing */
};

/* A multi-line answer produced as the output drains. */
enum pop3_xfer_kind {
	POP3_XFER_NONE,
	POP3_XFER_MSG,		/* RETR, TOP: a file, dot-stuffed */
	POP3_XFER_LIST,		/* LIST without argument */
	POP3_XFER_UIDL,		/* UIDL without argument */
};

struct pop3_xfer {
	enum pop3_xfer_kind	 kind;
	size_t			 next;		/* LIST/UIDL: next message */
	int			 fd;		/* MSG: the file */
	struct pop3_stuffer	 st;
	uint64_t		 sent;		/* MSG: file bytes sent */
};

struct pop3_session {
	struct pop3_session	*next, **prevp;	/* srv->sessions */
	struct pop3_server	*srv;
	struct conn		*conn;
	uint64_t		 id;
	enum pop3_state		 state;
	struct pop3_lexer	 lx;
	unsigned		 bad_cmds;
	unsigned		 auth_failures;
	bool			 busy;		/* auth check, disk job, delay */
	unsigned		 refs;		/* conn + pending async work */
	bool			 conn_gone;
	bool			 implicit_tls;

	/* AUTHORIZATION */
	bool			 user_given;	/* USER accepted, PASS next */
	char			 login[ACCOUNT_ADDR_MAX + 1];
	const char		*method;	/* "USER" or "PLAIN" */
	struct event		*ev_delay;	/* failed login: answer later */

	/* TRANSACTION */
	char			 user[ACCOUNT_ADDR_MAX + 1];	/* canonical */
	struct pop3_mailbox	*mb;
	struct pop3_xfer	 xfer;
	struct event		*ev_write;	/* output drained below low */
	unsigned		 nretr, ndele;
};

/* pop3_server.c */
void	pop3_reply(struct pop3_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A bad command: reply, count, and close past the limit. */
void	pop3_bad(struct pop3_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	pop3_close(struct pop3_session *s, const char *reason);
void	pop3_enter_state(struct pop3_session *s, enum pop3_state st);
void	pop3_session_unref(struct pop3_session *s);
/* Asynchronous work ended: carry on with pipelined input. */
void	pop3_session_resume(struct pop3_session *s);
/* Wait until the output buffer drains, then fill or process more. */
void	pop3_wait_drain(struct pop3_session *s);
bool	pop3_auth_allowed(const struct pop3_session *s);

/* pop3_auth.c */
void	pop3_do_user(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_pass(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_auth(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_apop(struct pop3_session *, const struct pop3_cmdline *);
/* The line after "+ " in an AUTH exchange. */
void	pop3_auth_response(struct pop3_session *s, struct str line);

/* pop3_cmd.c */
void	pop3_do_stat(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_list(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_uidl(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_retr(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_top(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_dele(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_rset(struct pop3_session *, const struct pop3_cmdline *);
void	pop3_do_quit_update(struct pop3_session *);
/* Produce more of the multi-line answer under way; true when done. */
bool	pop3_xfer_fill(struct pop3_session *s);
void	pop3_xfer_abort(struct pop3_session *s);
/* Counts of the mailbox minus this session's deletions. */
void	pop3_maildrop_stat(const struct pop3_session *s, size_t *n_r,
	    uint64_t *size_r);

#endif
