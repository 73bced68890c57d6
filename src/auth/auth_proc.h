/* auth_proc.h: the auth process: owns the account database, answers
 * workers' recipient lookups (and, later, password checks in a thread
 * pool: workers never see hashes). */
#ifndef FACTEUR_AUTH_AUTH_PROC_H
#define FACTEUR_AUTH_AUTH_PROC_H

struct conf;

/* In the child after fork; never returns. */
void	auth_proc_main(const struct conf *conf, int parent_fd)
	    __attribute__((noreturn));

#endif
