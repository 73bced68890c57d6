/* serve.h: `facteur serve`: the parent (binds, supervises) and the
 * worker role (serves connections).  The auth role lives in
 * auth/auth_proc.c. */
#ifndef FACTEUR_CLI_SERVE_H
#define FACTEUR_CLI_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config/conf.h"

struct connlimit;

/* What a worker gets from the parent at fork. */
struct worker_env {
	const struct conf	*conf;
	unsigned		 slot;
	unsigned		 nworkers;	/* slots in all */
	int			 listen_fds[CONF_LISTEN_MAX]; /* -1: none */
	int			 parent_fd;
	int			 auth_fd;
	int			 queue_fd;
	int			 local_fd;	/* sendmail.sock, -1: none */
	SSL_CTX			*ssl_ctx;
	struct connlimit	*limits;
	unsigned		 limits_row;	/* this process's counters */
	uint8_t			 sasl_secret[32]; /* DATA_DIR/sasl.secret */
};

int	serve_parent_main(struct conf *conf);
/* Whether workers serve this protocol yet (the parent binds only those). */
bool	serve_proto_served(enum conf_proto proto);
void	serve_worker_main(struct worker_env *env) __attribute__((noreturn));

#endif
