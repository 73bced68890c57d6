/* serve.h: `facteur serve`: the parent (binds, supervises) and the
 * worker role (serves connections).  The auth role lives in
 * auth/auth_proc.c. */
#ifndef FACTEUR_CLI_SERVE_H
#define FACTEUR_CLI_SERVE_H

#include <openssl/ssl.h>

#include "config/conf.h"

struct connlimit;

/* What a worker gets from the parent at fork. */
struct worker_env {
	const struct conf	*conf;
	unsigned		 slot;
	int			 listen_fds[CONF_LISTEN_MAX]; /* -1: none */
	int			 parent_fd;
	int			 auth_fd;
	int			 queue_fd;
	SSL_CTX			*ssl_ctx;
	struct connlimit	*limits;
	unsigned		 limits_row;	/* this process's counters */
};

int	serve_parent_main(struct conf *conf);
void	serve_worker_main(struct worker_env *env) __attribute__((noreturn));

#endif
