/* imap_server_int.h: shared by imap_server.c and imap_server_cmd.c only. */
#ifndef FACTEUR_IMAP_IMAP_SERVER_INT_H
#define FACTEUR_IMAP_IMAP_SERVER_INT_H

#include <stdbool.h>

struct imap_session;

/* imap_server_cmd.c: commands of every state, on the loop (s->cmd set) */
void	imap_do_capability(struct imap_session *);
void	imap_do_noop(struct imap_session *);
void	imap_do_logout(struct imap_session *);
void	imap_do_starttls(struct imap_session *);
void	imap_do_enable(struct imap_session *);
void	imap_do_id(struct imap_session *);
void	imap_do_idle(struct imap_session *);
/* IDLE: announce what changed in the folder (a job). */
void	imap_idle_refresh(struct imap_session *);

/* imap_server.c */
/* Parser flags from the state and ENABLE. */
void	imap_sync_parser(struct imap_session *);
/* Enter or leave IDLE (s->idling, the input buffer's cap). */
void	imap_idle_set(struct imap_session *, bool);

#endif
