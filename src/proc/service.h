/* service.h: what sessions (SMTP, POP3, later IMAP) ask of other
 * processes, as callbacks the worker provides.  Answers always arrive
 * later, on the loop, never from inside the call. */
#ifndef FACTEUR_PROC_SERVICE_H
#define FACTEUR_PROC_SERVICE_H

#include "proc/msg.h"

/* result is MSG_CHECK_OK (user = canonical address), MSG_CHECK_FAIL or
 * MSG_CHECK_TEMP (user = NULL). */
typedef void (*service_check_done_fn)(void *arg, int result,
    const char *user);

/* result as above; sec is the reply (its secrets) when MSG_CHECK_OK. */
typedef void (*service_scram_done_fn)(void *arg, int result,
    const struct msg_scram_reply *sec, const char *user);

struct service_auth {
	/* Check login/password in the auth process.  The caller wipes its
	 * copy of the password after the call; no copy is kept here. */
	void	(*check)(void *ctx, const char *login, const char *password,
		    size_t password_len, service_check_done_fn done, void *arg);
	/* Fetch the SCRAM-SHA-256 secrets of a login. */
	void	(*scram)(void *ctx, const char *login,
		    service_scram_done_fn done, void *arg);
	void	*ctx;
	/* The server secret SCRAM derives unknown users' fake salts from
	 * (the same in every process and across restarts). */
	const uint8_t	*sasl_secret;
	size_t		 sasl_secret_len;
};

#endif
