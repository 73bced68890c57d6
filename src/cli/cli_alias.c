/* cli_alias.c: facteur alias add|del|list */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth/account.h"
#include "cli/cli.h"
#include "config/conf.h"

static int	cli_alias_fail(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

static int
cli_alias_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("facteur: alias: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void
cli_alias_usage(void)
{
	fprintf(stderr,
	    "usage: facteur alias add ALIAS TARGET...   (ALIAS @DOMAIN: "
	    "catch-all)\n"
	    "       facteur alias del ALIAS [TARGET]\n"
	    "       facteur alias list\n");
}

/* An address as stored (ASCII lowercase); it was validated already. */
static void
cli_alias_put(const char *addr)
{
	for (const char *c = addr; *c != '\0'; c++)
		putchar(*c >= 'A' && *c <= 'Z' ? *c + ('a' - 'A') : *c);
}

/* "VERB ALIAS[ -> T1, T2...]" */
static void
cli_alias_done(const char *verb, char **argv, int n)
{
	printf("%s ", verb);
	cli_alias_put(argv[0]);
	for (int i = 1; i < n; i++) {
		fputs(i == 1 ? " -> " : ", ", stdout);
		cli_alias_put(argv[i]);
	}
	putchar('\n');
}

static int
cli_alias_add(struct conf *conf, struct account_db *db, int n,
    char **argv)
{
	const char *err;

	if (account_alias_addv(db, argv[0], (const char *const *)argv + 1,
	    (size_t)n - 1, &err) == -1)
		return cli_alias_fail("%s", err);
	cli_alias_done("added", argv, n);
	return 0;
}

static int
cli_alias_del(struct conf *conf, struct account_db *db, int n,
    char **argv)
{
	const char *err;

	if (account_alias_del(db, argv[0], n > 1 ? argv[1] : NULL,
	    &err) == -1)
		return cli_alias_fail("%s", err);
	cli_alias_done("deleted", argv, n);
	return 0;
}

static void
cli_alias_print(void *arg, const char *a, const char *b)
{
	printf("%s -> %s\n", a, b != NULL ? b : "");
}

static int
cli_alias_list(struct conf *conf, struct account_db *db, int n,
    char **argv)
{
	const char *err;

	if (account_alias_list(db, cli_alias_print, NULL, &err) == -1)
		return cli_alias_fail("%s", err);
	return 0;
}

static const struct cli_cmd cli_alias_cmds[] = {
	{ "add",	2, 1 + ACCOUNT_TARGETS_MAX, cli_alias_add },
	{ "del",	1, 2, cli_alias_del },
	{ "list",	0, 0, cli_alias_list },
};

int
cli_alias(struct conf *conf, int argc, char **argv)
{
	return cli_run(conf, argc, argv, cli_alias_cmds,
	    sizeof(cli_alias_cmds) / sizeof(cli_alias_cmds[0]), cli_alias_usage);
}
