/* cli.h: the subcommands of the facteur binary.  Each takes the loaded
 * configuration (NULL for those that load it themselves) and its own
 * argv (argv[0] is the subcommand name); each returns an exit status
 * (0 ok, 1 failure, 2 usage) and prints errors to stderr as
 * "facteur: <subcommand>: <what>". */
#ifndef FACTEUR_CLI_CLI_H
#define FACTEUR_CLI_CLI_H

#include <stddef.h>

struct conf;

int	cli_serve(struct conf *conf, int argc, char **argv);
int	cli_check(const char *conf_path, int argc, char **argv);
int	cli_user(struct conf *conf, int argc, char **argv);
int	cli_domain(struct conf *conf, int argc, char **argv);
int	cli_alias(struct conf *conf, int argc, char **argv);
int	cli_queue(struct conf *conf, int argc, char **argv);
int	cli_sendmail(struct conf *conf, int argc, char **argv);
/* Run as "sendmail": its own options (-C FILE); loads the config. */
int	cli_sendmail_main(const char *conf_path, int argc, char **argv);

/* Shared helpers (cli_common.c) */
struct account_db;

/* One subcommand of user/domain/alias: its operands are argv[0..argc). */
struct cli_cmd {
	const char	*name;
	int		 min, max;	/* operands */
	int		(*fn)(struct conf *, struct account_db *, int argc,
			    char **argv);
};

/* Find argv[1] in cmds, check the operand count (else usage(), exit 2),
 * open the account database and run it. */
int	cli_run(struct conf *conf, int argc, char **argv,
	    const struct cli_cmd *cmds, size_t ncmds, void (*usage)(void));
struct account_db;
/* Open DATA_DIR/accounts.db read-write, creating DATA_DIR when needed. */
struct account_db *cli_open_accounts(struct conf *conf);
/* When running as root: uid/gid of conf->user, else -1/-1. */
void	cli_run_ids(struct conf *conf, unsigned *uid_r, unsigned *gid_r);
/* Read a password: from stdin (first line) when it is not a terminal,
 * else prompted twice without echo.  malloc'ed; NULL on error. */
char	*cli_read_password(const char *prompt);

#endif
