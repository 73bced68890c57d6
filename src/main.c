/* main.c: the facteur binary: find the subcommand, load the config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/conf.h"
#include "core/log.h"

#define DEFAULT_CONF	"/etc/facteur/facteur.conf"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: facteur [-c FILE] COMMAND [ARGS]\n"
	    "commands:\n"
	    "  serve                       run the mail server (foreground)\n"
	    "  check                       validate the configuration\n"
	    "  user add|del|passwd|list    manage mail accounts\n"
	    "  domain add|del|list         manage local domains\n"
	    "  alias add|del|list          manage aliases and catch-alls\n"
	    "  queue list|show|flush|delete|hold|release\n"
	    "                              the outbound queue (also: mailq)\n"
	    "  sendmail [-t] [-i] [-f FROM] [RCPT...]\n"
	    "                              send a message from standard input\n"
	    "                              (also run as sendmail)\n"
	    "  version                     print the version\n"
	    "FILE defaults to $FACTEUR_CONF or " DEFAULT_CONF "\n");
}

struct command {
	const char	*name;
	int		(*fn)(struct conf *, int, char **);
};

static const struct command commands[] = {
	{ "serve",	cli_serve },
	{ "user",	cli_user },
	{ "domain",	cli_domain },
	{ "alias",	cli_alias },
	{ "queue",	cli_queue },
	{ "sendmail",	cli_sendmail },
};

int
main(int argc, char **argv)
{
	const char *conf_path = getenv("FACTEUR_CONF");
	struct conf *conf;
	char *err = NULL;
	int i = 1, rc;

	log_init("facteur", false);
	if (conf_path == NULL || *conf_path == '\0')
		conf_path = DEFAULT_CONF;
	/* invoked as "sendmail": "facteur sendmail ARGS", before -c is
	 * looked for (sendmail's options are its own; -C FILE) */
	if (argc > 0 && strcmp(strrchr(argv[0], '/') != NULL ?
	    strrchr(argv[0], '/') + 1 : argv[0], "sendmail") == 0)
		return cli_sendmail_main(conf_path, argc, argv);
	/* -c FILE may come before or right after the subcommand */
	for (int j = 1; j <= 2 && j < argc - 1; j++) {
		if (strcmp(argv[j], "-c") != 0)
			continue;
		conf_path = argv[j + 1];
		memmove(&argv[j], &argv[j + 2],
		    (size_t)(argc - j - 1) * sizeof(*argv));
		argc -= 2;
		break;
	}
	/* invoked as "mailq": "facteur queue list" (DESIGN.md) */
	if (argc > 0 && strcmp(strrchr(argv[0], '/') != NULL ?
	    strrchr(argv[0], '/') + 1 : argv[0], "mailq") == 0) {
		static char *mailq_argv[] = { "mailq", "queue", "list", NULL };

		argc = 3;
		argv = mailq_argv;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	if (strcmp(argv[i], "version") == 0 || strcmp(argv[i], "--version") == 0) {
		printf("facteur %s\n", FACTEUR_VERSION);
		return 0;
	}
	if (strcmp(argv[i], "help") == 0 || strcmp(argv[i], "-h") == 0 ||
	    strcmp(argv[i], "--help") == 0) {
		usage();
		return 0;
	}
	if (strcmp(argv[i], "check") == 0)
		return cli_check(conf_path, argc - i, argv + i);
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name) != 0)
			continue;
		if ((conf = conf_load(conf_path, &err)) == NULL) {
			fprintf(stderr, "%s\n", err);
			free(err);
			return 1;
		}
		rc = commands[k].fn(conf, argc - i, argv + i);
		conf_free(&conf);
		return rc;
	}
	fprintf(stderr, "facteur: unknown command: %s\n", argv[i]);
	usage();
	return 2;
}
