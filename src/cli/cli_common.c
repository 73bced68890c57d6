/* cli_common.c: what the account subcommands share: opening the
 * database with the right owner, and reading a password. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/account.h"
#include "cli/cli.h"
#include "config/conf.h"
#include "core/mem.h"

#define CLI_COMMON_PASSWORD_MAX	1024
#define CLI_COMMON_PATH_MAX	4096
#define CLI_COMMON_DIR_MODE	0755

/* --- ownership ------------------------------------------------------- */

/* The unprivileged user's ids; -1 (with a message) when it is unknown. */
static int
cli_common_user(struct conf *conf, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw;

	errno = 0;
	if (conf->user == NULL || (pw = getpwnam(conf->user)) == NULL) {
		fprintf(stderr, "facteur: user '%s' (option 'user' in %s) "
		    "does not exist: create it (adduser --system %s) or "
		    "name another one\n", conf->user != NULL ? conf->user : "",
		    conf->path != NULL ? conf->path : "the configuration",
		    conf->user != NULL ? conf->user : "facteur");
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

void
cli_run_ids(struct conf *conf, unsigned *uid_r, unsigned *gid_r)
{
	struct passwd *pw;

	*uid_r = *gid_r = (unsigned)-1;
	if (geteuid() != 0 || conf->user == NULL ||
	    (pw = getpwnam(conf->user)) == NULL)
		return;
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
}

/* Give path to uid:gid without following a symlink someone planted. */
static int
cli_common_chown(const char *path, uid_t uid, gid_t gid, bool must_exist)
{
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT && !must_exist)
			return 0;
		fprintf(stderr, "facteur: open(%s): %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fchown(fd, uid, gid) == -1) {
		fprintf(stderr, "facteur: fchown(%s, %u, %u): %s\n", path,
		    (unsigned)uid, (unsigned)gid, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* --- directories ----------------------------------------------------- */

/* mkdir -p; *created_r tells whether the last component is new (it then
 * gets exactly mode, whatever the umask). */
static int
cli_common_mkdirs(const char *dir, mode_t mode, bool *created_r)
{
	char tmp[CLI_COMMON_PATH_MAX];
	int n;

	*created_r = false;
	n = snprintf(tmp, sizeof(tmp), "%s", dir);
	if (n <= 0 || (size_t)n >= sizeof(tmp)) {
		fprintf(stderr, "facteur: data_dir too long: %s\n", dir);
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, CLI_COMMON_DIR_MODE) == -1 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(tmp, mode) == 0) {
		*created_r = true;
		if (chmod(tmp, mode) == -1)
			goto fail;
	} else if (errno != EEXIST)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "facteur: mkdir(%s): %s\n", tmp, strerror(errno));
	return -1;
}

/* out = a followed by b */
static int
cli_common_join(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s%s", a, b);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "facteur: path too long: %s%s\n", a, b);
		return -1;
	}
	return 0;
}

/* As root: the database, its WAL files and DATA_DIR/mail belong to the
 * unprivileged user that the daemon runs as. */
static int
cli_common_give(const char *data_dir, const char *db, uid_t uid, gid_t gid)
{
	static const char *const side[] = { "-wal", "-shm" };
	char path[CLI_COMMON_PATH_MAX];
	bool created;

	if (cli_common_chown(db, uid, gid, true) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		if (cli_common_join(path, sizeof(path), db, side[i]) == -1 ||
		    cli_common_chown(path, uid, gid, false) == -1)
			return -1;
	}
	if (cli_common_join(path, sizeof(path), data_dir, "/mail") == -1 ||
	    cli_common_mkdirs(path, CLI_COMMON_DIR_MODE, &created) == -1)
		return -1;
	return cli_common_chown(path, uid, gid, true);
}

struct account_db *
cli_open_accounts(struct conf *conf)
{
	char path[CLI_COMMON_PATH_MAX];
	struct account_db *db;
	const char *err;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	bool root = geteuid() == 0, created;

	if (conf->data_dir == NULL || *conf->data_dir == '\0') {
		fprintf(stderr, "facteur: no data_dir configured\n");
		return NULL;
	}
	if (root && cli_common_user(conf, &uid, &gid) == -1)
		return NULL;
	if (cli_common_mkdirs(conf->data_dir, CLI_COMMON_DIR_MODE,
	    &created) == -1)
		return NULL;
	/* a new DATA_DIR is the daemon's: it creates the WAL files there */
	if (root && created &&
	    cli_common_chown(conf->data_dir, uid, gid, true) == -1)
		return NULL;
	if (cli_common_join(path, sizeof(path), conf->data_dir,
	    "/accounts.db") == -1)
		return NULL;
	if (account_db_open(path, false, &db, &err) == -1) {
		fprintf(stderr, "facteur: %s: %s\n", path, err);
		return NULL;
	}
	if (root && cli_common_give(conf->data_dir, path, uid, gid) == -1) {
		account_db_close(&db);
		return NULL;
	}
	if (!root && (cli_common_join(path, sizeof(path), conf->data_dir,
	    "/mail") == -1 ||
	    cli_common_mkdirs(path, CLI_COMMON_DIR_MODE, &created) == -1)) {
		account_db_close(&db);
		return NULL;
	}
	return db;
}

/* --- passwords ------------------------------------------------------- */

static volatile sig_atomic_t	cli_common_interrupted;

static void
cli_common_on_signal(int sig)
{
	cli_common_interrupted = sig;
}

/* One line from fd 0 without its end; malloc'ed, NULL with *why_r. */
static char *
cli_common_read_line(const char **why_r)
{
	char *line = xmalloc(CLI_COMMON_PASSWORD_MAX + 1);
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR && !cli_common_interrupted)
			continue;
		if (r == -1) {
			*why_r = cli_common_interrupted ? "interrupted" :
			    "cannot read the password";
			goto fail;
		}
		if (r == 0 || c == '\n')
			break;
		if (n == CLI_COMMON_PASSWORD_MAX) {
			*why_r = "password longer than 1024 bytes";
			goto fail;
		}
		line[n++] = c;
	}
	if (r == 0 && n == 0) {
		*why_r = "no password on standard input";
		goto fail;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return line;
fail:
	explicit_bzero(line, CLI_COMMON_PASSWORD_MAX + 1);
	free(line);
	return NULL;
}

static void
cli_common_free_password(char **pwp)
{
	if (*pwp == NULL)
		return;
	explicit_bzero(*pwp, strlen(*pwp));
	free(*pwp);
	*pwp = NULL;
}

/* Prompt on the terminal with echo off; the terminal is restored even
 * when the user presses ^C. */
static char *
cli_common_prompt(const char *prompt, const char **why_r)
{
	struct sigaction sa, old_int, old_term, old_quit;
	struct termios saved, quiet;
	char *line;

	if (tcgetattr(STDIN_FILENO, &saved) == -1) {
		*why_r = "cannot read the terminal settings";
		return NULL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_common_on_signal;	/* no SA_RESTART: read fails */
	sigemptyset(&sa.sa_mask);
	cli_common_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGQUIT, &sa, &old_quit);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	fputs(prompt, stderr);
	fflush(stderr);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	line = cli_common_read_line(why_r);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	fputc('\n', stderr);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (cli_common_interrupted)
		raise(cli_common_interrupted);
	return line;
}

static char *
cli_common_prompt_twice(const char *prompt, const char **why_r)
{
	char *first, *again;

	if ((first = cli_common_prompt(prompt, why_r)) == NULL)
		return NULL;
	if (*first == '\0')
		return first;		/* refused by the caller */
	if ((again = cli_common_prompt("Retype the password: ",
	    why_r)) == NULL) {
		cli_common_free_password(&first);
		return NULL;
	}
	if (strcmp(first, again) != 0) {
		*why_r = "the passwords do not match";
		cli_common_free_password(&first);
	}
	cli_common_free_password(&again);
	return first;
}

char *
cli_read_password(const char *prompt)
{
	const char *why = NULL;
	char *pw;

	if (isatty(STDIN_FILENO))
		pw = cli_common_prompt_twice(prompt, &why);
	else
		pw = cli_common_read_line(&why);
	if (pw != NULL && *pw == '\0') {
		why = "empty password";
		cli_common_free_password(&pw);
	}
	if (pw == NULL)
		fprintf(stderr, "facteur: %s\n", why);
	return pw;
}

int
cli_run(struct conf *conf, int argc, char **argv, const struct cli_cmd *cmds,
    size_t ncmds, void (*usage)(void))
{
	const struct cli_cmd *cmd = NULL;
	struct account_db *db;
	int rc;

	for (size_t i = 0; argc >= 2 && i < ncmds; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			cmd = &cmds[i];
	if (cmd == NULL || argc - 2 < cmd->min || argc - 2 > cmd->max) {
		usage();
		return 2;
	}
	if ((db = cli_open_accounts(conf)) == NULL)
		return 1;
	rc = cmd->fn(conf, db, argc - 2, argv + 2);
	account_db_close(&db);
	return rc;
}
