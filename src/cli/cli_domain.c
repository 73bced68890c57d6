/* cli_domain.c: facteur domain add|del|list */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth/account.h"
#include "cli/cli.h"
#include "config/conf.h"

static int	cli_domain_fail(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

static int
cli_domain_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("facteur: domain: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void
cli_domain_usage(void)
{
	fprintf(stderr,
	    "usage: facteur domain add DOMAIN\n"
	    "       facteur domain del DOMAIN\n"
	    "       facteur domain list\n");
}

/* Print "VERB domain" with the domain as stored (ASCII lowercase). */
static void
cli_domain_done(const char *verb, const char *domain)
{
	printf("%s ", verb);
	for (const char *c = domain; *c != '\0'; c++)
		putchar(*c >= 'A' && *c <= 'Z' ? *c + ('a' - 'A') : *c);
	putchar('\n');
}

static int
cli_domain_add(struct account_db *db, char **argv)
{
	const char *err;

	if (account_domain_add(db, argv[0], &err) == -1)
		return cli_domain_fail("%s", err);
	cli_domain_done("added", argv[0]);
	return 0;
}

static int
cli_domain_del(struct account_db *db, char **argv)
{
	const char *err;

	if (account_domain_del(db, argv[0], &err) == -1)
		return cli_domain_fail("%s", err);
	cli_domain_done("deleted", argv[0]);
	return 0;
}

static void
cli_domain_print(void *arg, const char *a, const char *b)
{
	printf("%s\n", a);
}

static int
cli_domain_list(struct account_db *db, char **argv)
{
	const char *err;

	if (account_domain_list(db, cli_domain_print, NULL, &err) == -1)
		return cli_domain_fail("%s", err);
	return 0;
}

static const struct cli_domain_cmd {
	const char	*name;
	int		 operands;
	int		(*fn)(struct account_db *, char **);
} cli_domain_cmds[] = {
	{ "add",	1, cli_domain_add },
	{ "del",	1, cli_domain_del },
	{ "list",	0, cli_domain_list },
};

int
cli_domain(struct conf *conf, int argc, char **argv)
{
	const struct cli_domain_cmd *cmd = NULL;
	struct account_db *db;
	int rc;

	for (size_t i = 0; argc >= 2 &&
	    i < sizeof(cli_domain_cmds) / sizeof(cli_domain_cmds[0]); i++)
		if (strcmp(argv[1], cli_domain_cmds[i].name) == 0)
			cmd = &cli_domain_cmds[i];
	if (cmd == NULL || argc - 2 != cmd->operands) {
		cli_domain_usage();
		return 2;
	}
	if ((db = cli_open_accounts(conf)) == NULL)
		return 1;
	rc = cmd->fn(db, argv + 2);
	account_db_close(&db);
	return rc;
}
