/* cli_user.c: facteur user add|del|passwd|list */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/account.h"
#include "cli/cli.h"
#include "config/conf.h"
#include "store/maildir.h"

static int	cli_user_fail(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

static int
cli_user_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("facteur: user: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void
cli_user_usage(void)
{
	fprintf(stderr,
	    "usage: facteur user add ADDRESS      (password on stdin or asked)\n"
	    "       facteur user del ADDRESS\n"
	    "       facteur user passwd ADDRESS\n"
	    "       facteur user list [DOMAIN]\n");
}

/* The canonical address, or a message and -1. */
static int
cli_user_address(const char *in, char out[ACCOUNT_ADDR_MAX + 1])
{
	const char *why;

	if (account_address_normalize(in, out, &why) == -1) {
		cli_user_fail("invalid address: %s: %s", in, why);
		return -1;
	}
	return 0;
}

/* Checks before asking for a password: the domain is local and the
 * user does (exists) or does not (!exists) exist. */
static int
cli_user_need(struct account_db *db, const char *addr, int exists)
{
	const char *err, *domain = strrchr(addr, '@') + 1;
	int r;

	if ((r = account_domain_exists(db, domain, &err)) != 1)
		return r == -1 ? cli_user_fail("%s", err) :
		    cli_user_fail("no such domain: %s (add it first: facteur "
		    "domain add %s)", domain, domain);
	if ((r = account_user_exists(db, addr, &err)) == -1)
		return cli_user_fail("%s", err);
	if (r != exists)
		return cli_user_fail(exists ? "no such user: %s" :
		    "user exists: %s", addr);
	return 0;
}

static void
cli_user_forget(char **pwp)
{
	explicit_bzero(*pwp, strlen(*pwp));
	free(*pwp);
	*pwp = NULL;
}

/* DATA_DIR/mail/DOMAIN, the parent of the maildir, owned like the
 * maildirs in it so that the daemon can manage them. */
static int
cli_user_domain_dir(const char *maildir, unsigned uid, unsigned gid)
{
	char dir[MAILDIR_PATH_MAX];
	const char *slash = strrchr(maildir, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - maildir), maildir);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return cli_user_fail("mkdir(%s): %s", dir, strerror(errno));
	if (uid == (unsigned)-1)
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fchown(fd, (uid_t)uid, (gid_t)gid) == -1) {
		cli_user_fail("chown(%s, %u, %u): %s", dir, uid, gid,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

static int
cli_user_add(struct conf *conf, struct account_db *db, int argc,
    char **argv)
{
	char addr[ACCOUNT_ADDR_MAX + 1], dir[MAILDIR_PATH_MAX], prompt[300];
	const char *err, *ignore;
	unsigned uid, gid;
	char *pw;
	int r;

	if (cli_user_address(argv[0], addr) == -1 ||
	    cli_user_need(db, addr, 0) != 0)
		return 1;
	if (account_maildir_path(conf->data_dir, addr, dir, sizeof(dir)) == -1)
		return cli_user_fail("no maildir path for %s", addr);
	snprintf(prompt, sizeof(prompt), "Password for %s: ", addr);
	if ((pw = cli_read_password(prompt)) == NULL)
		return 1;
	r = account_user_add(db, addr, pw, &err);
	cli_user_forget(&pw);
	if (r == -1)
		return cli_user_fail("%s", err);
	cli_run_ids(conf, &uid, &gid);
	if (cli_user_domain_dir(dir, uid, gid) != 0) {
		account_user_del(db, addr, &ignore);
		return 1;
	}
	if (maildir_create(dir, (uid_t)uid, (gid_t)gid, &err) == -1) {
		account_user_del(db, addr, &ignore);
		return cli_user_fail("maildir %s: %s (user not added)", dir,
		    err);
	}
	printf("added %s\n", addr);
	return 0;
}

static int
cli_user_del(struct conf *conf, struct account_db *db, int argc,
    char **argv)
{
	char addr[ACCOUNT_ADDR_MAX + 1], dir[MAILDIR_PATH_MAX];
	const char *err;

	if (cli_user_address(argv[0], addr) == -1)
		return 1;
	if (account_user_del(db, addr, &err) == -1)
		return cli_user_fail("%s", err);
	if (account_maildir_path(conf->data_dir, addr, dir, sizeof(dir)) == 0)
		printf("deleted %s (mail kept in %s)\n", addr, dir);
	else
		printf("deleted %s\n", addr);
	return 0;
}

static int
cli_user_passwd(struct conf *conf, struct account_db *db, int argc,
    char **argv)
{
	char addr[ACCOUNT_ADDR_MAX + 1], prompt[300];
	const char *err;
	char *pw;
	int r;

	if (cli_user_address(argv[0], addr) == -1 ||
	    cli_user_need(db, addr, 1) != 0)
		return 1;
	snprintf(prompt, sizeof(prompt), "New password for %s: ", addr);
	if ((pw = cli_read_password(prompt)) == NULL)
		return 1;
	r = account_user_passwd(db, addr, pw, &err);
	cli_user_forget(&pw);
	if (r == -1)
		return cli_user_fail("%s", err);
	printf("changed the password of %s\n", addr);
	return 0;
}

static void
cli_user_print(void *arg, const char *a, const char *b)
{
	printf("%s\n", a);
}

static int
cli_user_list(struct conf *conf, struct account_db *db, int argc,
    char **argv)
{
	const char *err;

	if (account_user_list(db, argv[0], cli_user_print, NULL, &err) == -1)
		return cli_user_fail("%s", err);
	return 0;
}

static const struct cli_cmd cli_user_cmds[] = {
	{ "add",	1, 1, cli_user_add },
	{ "del",	1, 1, cli_user_del },
	{ "passwd",	1, 1, cli_user_passwd },
	{ "list",	0, 1, cli_user_list },
};

int
cli_user(struct conf *conf, int argc, char **argv)
{
	return cli_run(conf, argc, argv, cli_user_cmds,
	    sizeof(cli_user_cmds) / sizeof(cli_user_cmds[0]), cli_user_usage);
}
