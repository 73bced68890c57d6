/* proc.h: process helpers shared by facteur's roles (DESIGN.md: the
 * parent binds and supervises, workers serve connections, the auth
 * process owns the account database). */
#ifndef FACTEUR_PROC_PROC_H
#define FACTEUR_PROC_PROC_H

#include <sys/types.h>

/* Become user when root (setgroups, setgid, setuid); fatal on failure.
 * No-op when not root. */
void	proc_drop_privileges(const char *user);
/* uid/gid of user when root; -1/-1 otherwise.  Fatal when the user does
 * not exist or is root. */
void	proc_run_ids(const char *user, uid_t *uid_r, gid_t *gid_r);
/* Child-side set-up after fork (and after dropping privileges): fresh
 * ids, SIGPIPE ignored, death with the parent. */
void	proc_child_init(const char *role);

#endif
