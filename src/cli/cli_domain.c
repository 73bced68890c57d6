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
cli_domain_add(struct conf *conf, struct account_db *db, int argc,
    char **argv)
{
	const char *err;

	if (account_domain_add(db, argv[0], &err) == -1)
		return cli_domain_fail("%s", err);
	cli_domain_done("added", argv[0]);
	return 0;
}

static int
cli_domain_del(struct conf *conf, struct account_db *db, int argc,
    char **argv)
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
cli_domain_list(struct conf *conf, struct account_db *db, int argc,
    char **argv)
{
	const char *err;

	if (account_domain_list(db, cli_domain_print, NULL, &err) == -1)
		return cli_domain_fail("%s", err);
	return 0;
}

static const struct cli_cmd cli_domain_cmds[] = {
	{ "add",	1, 1, cli_domain_add },
	{ "del",	1, 1, cli_domain_del },
	{ "list",	0, 0, cli_domain_list },
};

int
cli_domain(struct conf *conf, int argc, char **argv)
{
	return cli_run(conf, argc, argv, cli_domain_cmds,
	    sizeof(cli_domain_cmds) / sizeof(cli_domain_cmds[0]), cli_domain_usage);
}
