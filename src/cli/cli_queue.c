/* cli_queue.c: facteur queue list|show|flush|delete|hold|release, and
 * mailq (= queue list).
 *
 * list, show, delete, hold and release work on the queue files
 * directly (src/queue/queue_fs.h), whether the daemon runs or not.
 * flush asks the queue process over DATA_DIR/run/queue.sock; after a
 * delete, hold or release the process is told to re-read the message
 * ("reload QID") when it runs.  The protocol is in doc/QUEUE.md.
 *
 * Everything printed from an envelope or a message goes through
 * cli_queue_put(): control bytes and anything but well-formed UTF-8
 * are shown as \xNN, so a hostile reply text cannot drive the
 * operator's terminal. */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/conf.h"
#include "core/mem.h"
#include "queue/envelope.h"
#include "queue/queue_fs.h"
#include "smtp/smtp_parse.h"

#define CLI_QUEUE_SOCK		"/run/queue.sock"
#define CLI_QUEUE_TIMEOUT	10	/* seconds, each way */
#define CLI_QUEUE_REPLY_MAX	1024
#define CLI_QUEUE_QID_LEN	16
#define CLI_QUEUE_DATE_MAX	64

struct cli_queue_ids {
	uint64_t	*qids;
	size_t		 n, cap;
};

/* One message for list: its envelope, or why it could not be read. */
struct cli_queue_item {
	uint64_t	 qid;
	struct envelope	 e;
	char		*err;	/* NULL when e is loaded */
};

static int	cli_queue_fail(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

static int
cli_queue_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("facteur: queue: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void
cli_queue_usage(void)
{
	fprintf(stderr,
	    "usage: facteur queue list              (also: mailq)\n"
	    "       facteur queue show ID\n"
	    "       facteur queue flush [ID]\n"
	    "       facteur queue delete ID\n"
	    "       facteur queue hold ID\n"
	    "       facteur queue release ID\n"
	    "ID is a queue id, or a unique prefix of one\n");
}

/* Length of a well-formed UTF-8 sequence at p (code point >= U+00A0,
 * so no C1 control), or 0. */
static size_t
cli_queue_utf8(const unsigned char *p, size_t len)
{
	size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	uint32_t cp;

	if (n == 0 || n > len || p[0] > 0xf4)
		return 0;
	cp = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Bytes for the terminal: printable ASCII, tab and UTF-8 as they are,
 * everything else as \xNN. */
static void
cli_queue_put(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	for (size_t i = 0; i < len; i++) {
		if ((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t') {
			putchar(p[i]);
		} else if (p[i] >= 0x80 &&
		    (n = cli_queue_utf8(p + i, len - i)) > 0) {
			fwrite(p + i, 1, n, stdout);
			i += n - 1;
		} else
			printf("\\x%02x", p[i]);
	}
}

static void
cli_queue_puts(const char *s)
{
	cli_queue_put(s, strlen(s));
}

/* "<addr>", "<>" for the null sender. */
static void
cli_queue_addr(const char *addr)
{
	putchar('<');
	cli_queue_puts(addr);
	putchar('>');
}

static const char *
cli_queue_date(time_t t, bool full, char buf[static CLI_QUEUE_DATE_MAX])
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, CLI_QUEUE_DATE_MAX, full ? "%a %Y-%m-%d %H:%M:%S %z" :
	    "%a %b %e %H:%M:%S", &tm) == 0)
		snprintf(buf, CLI_QUEUE_DATE_MAX, "@%lld", (long long)t);
	return buf;
}

/*
 * Finding messages.
 */

static void
cli_queue_collect(void *arg, uint64_t qid)
{
	struct cli_queue_ids *ids = arg;

	if (ids->n == ids->cap) {
		ids->cap = ids->cap == 0 ? 64 : ids->cap * 2;
		ids->qids = xrealloc(ids->qids, ids->cap * sizeof(*ids->qids));
	}
	ids->qids[ids->n++] = qid;
}

static int
cli_queue_ids(const struct conf *conf, struct cli_queue_ids *ids)
{
	const char *err;

	memset(ids, 0, sizeof(*ids));
	if (queue_fs_list(conf->data_dir, cli_queue_collect, ids, &err) == -1)
		return cli_queue_fail("%s", err);
	return 0;
}

/* ID (a qid or a unique prefix of one) into *qid_r; 0, 1 not found or
 * ambiguous (printed), 2 bad syntax. */
static int
cli_queue_resolve(const struct conf *conf, const char *id, uint64_t *qid_r)
{
	struct cli_queue_ids ids;
	char buf[CLI_QUEUE_QID_LEN + 1];
	size_t len = strlen(id), found = 0;

	if (len == 0 || len > CLI_QUEUE_QID_LEN ||
	    strspn(id, "0123456789abcdef") != len) {
		cli_queue_fail("bad queue id \"%.40s\": 16 hex digits "
		    "(lower case), or a prefix", id);
		return 2;
	}
	if (len == CLI_QUEUE_QID_LEN && queue_fs_qid_parse(id, qid_r) == 0)
		return 0;
	if (cli_queue_ids(conf, &ids) != 0)
		return 1;
	for (size_t i = 0; i < ids.n; i++) {
		snprintf(buf, sizeof(buf), "%016llx",
		    (unsigned long long)ids.qids[i]);
		if (strncmp(buf, id, len) == 0) {
			*qid_r = ids.qids[i];
			found++;
		}
	}
	free(ids.qids);
	if (found == 1)
		return 0;
	return cli_queue_fail(found == 0 ? "no message %s in the queue" :
	    "%s matches several messages: give more digits", id);
}

/*
 * The control socket (doc/QUEUE.md, "Control socket").
 */

/* Connect to the queue process (with the timeouts set); 0 with *fd_r,
 * 1 when it is not running (no socket, nobody listening), -1. */
static int
cli_queue_connect(const struct conf *conf, struct sockaddr_un *sun,
    bool quiet, int *fd_r)
{
	struct timeval tv = { CLI_QUEUE_TIMEOUT, 0 };
	int fd, n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s"
	    CLI_QUEUE_SOCK, conf->data_dir);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path)) {
		if (!quiet)
			cli_queue_fail("socket path too long: %s"
			    CLI_QUEUE_SOCK, conf->data_dir);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		if (!quiet)
			cli_queue_fail("socket: %s", strerror(errno));
		return -1;
	}
	/* connect() on a unix socket also honours SO_SNDTIMEO */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)sun, sizeof(*sun)) == -1) {
		n = errno;
		close(fd);
		if (n == ENOENT || n == ECONNREFUSED)
			return 1;
		if (!quiet)
			cli_queue_fail("connect(%s): %s", sun->sun_path,
			    n == EAGAIN ? "timed out" : strerror(n));
		return -1;
	}
	*fd_r = fd;
	return 0;
}

/* Send line on fd, read one reply line (without its end) into reply. */
static int
cli_queue_exchange(int fd, const char *path, const char *line, char *reply,
    size_t size, bool quiet)
{
	size_t got = 0, len = strlen(line);
	ssize_t r = 0;
	int e = 0;

	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		if (!quiet)
			cli_queue_fail("send(%s): %s", path, errno == EAGAIN ?
			    "timed out" : strerror(errno));
		return -1;
	}
	while (got < size - 1 && memchr(reply, '\n', got) == NULL) {
		if ((r = recv(fd, reply + got, size - 1 - got, 0)) > 0)
			got += (size_t)r;
		else if (r == 0 || errno != EINTR)
			break;
	}
	e = r == -1 ? errno : 0;
	reply[got] = '\0';
	if (strchr(reply, '\n') == NULL) {
		if (!quiet)
			cli_queue_fail("%s: %s", path, e == EAGAIN ?
			    "no reply (timed out)" : e != 0 ? strerror(e) :
			    "no complete reply line");
		return -1;
	}
	reply[strcspn(reply, "\r\n")] = '\0';
	return 0;
}

/* One request: 0 with the reply; 1: the server is not running; -1:
 * another error (printed unless quiet). */
static int
cli_queue_ctl(const struct conf *conf, const char *line, char *reply,
    size_t size, bool quiet)
{
	struct sockaddr_un sun;
	int fd, rc;

	if ((rc = cli_queue_connect(conf, &sun, quiet, &fd)) != 0)
		return rc;
	rc = cli_queue_exchange(fd, sun.sun_path, line, reply, size, quiet);
	close(fd);
	return rc;
}

/* After a change on disk: "reload QID" if the daemon runs.  The change
 * is made either way: a failure here is only a warning. */
static void
cli_queue_notify(const struct conf *conf, uint64_t qid)
{
	char line[64], reply[CLI_QUEUE_REPLY_MAX];

	snprintf(line, sizeof(line), "reload %016llx\n",
	    (unsigned long long)qid);
	if (cli_queue_ctl(conf, line, reply, sizeof(reply), true) != 0 ||
	    strncmp(reply, "ok", 2) == 0)
		return;
	fputs("facteur: queue: warning: the queue process said: ", stderr);
	fflush(stdout);
	fprintf(stderr, "%.200s\n", reply);
}

/*
 * list
 */

static int
cli_queue_item_cmp(const void *a, const void *b)
{
	const struct cli_queue_item *x = a, *y = b;

	if (x->e.created != y->e.created)
		return x->e.created < y->e.created ? -1 : 1;
	return x->qid < y->qid ? -1 : x->qid > y->qid;
}

static void
cli_queue_list_rcpt(const struct envelope_rcpt *r)
{
	char date[CLI_QUEUE_DATE_MAX];

	printf("    %-9s ", envelope_state_name(r->state));
	cli_queue_addr(r->addr);
	if (r->state == RCPT_PENDING && r->attempts > 0)
		printf("  attempts=%u next=%s", r->attempts,
		    cli_queue_date(r->next_try, false, date));
	putchar('\n');
	if (r->text[0] == '\0' || r->state == RCPT_DELIVERED)
		return;
	printf("              (");
	if (r->status[0] != '\0')
		printf("%s ", r->status);
	cli_queue_puts(r->text);
	printf(")\n");
}

static void
cli_queue_list_one(const struct cli_queue_item *it)
{
	char date[CLI_QUEUE_DATE_MAX];
	const struct envelope *e = &it->e;

	if (it->err != NULL) {
		printf("%016llx  (unreadable: ", (unsigned long long)it->qid);
		cli_queue_puts(it->err);
		printf(")\n\n");
		return;
	}
	printf("%016llx%c %8zu %-20s ", (unsigned long long)it->qid,
	    e->hold ? '!' : ' ', e->size, cli_queue_date(e->created, false,
	    date));
	cli_queue_addr(e->from);
	putchar('\n');
	for (size_t i = 0; i < e->nrcpts; i++)
		cli_queue_list_rcpt(&e->rcpts[i]);
	putchar('\n');
}

static int
cli_queue_list(struct conf *conf, int argc, char **argv)
{
	struct cli_queue_item *items;
	struct cli_queue_ids ids;
	const char *err;
	size_t bytes = 0, bad = 0, shown = 0;

	if (cli_queue_ids(conf, &ids) != 0)
		return 1;
	if (ids.n == 0) {
		printf("Mail queue is empty\n");
		free(ids.qids);
		return 0;
	}
	items = xcalloc(ids.n, sizeof(*items));
	for (size_t i = 0; i < ids.n; i++) {
		items[i].qid = ids.qids[i];
		if (queue_fs_load(conf->data_dir, ids.qids[i], &items[i].e,
		    &err) == -1) {
			/* removed since the scan: not an error */
			if (errno == ENOENT)
				continue;
			items[i].err = xstrdup(err);
			bad++;
		}
		bytes += items[i].e.size;
	}
	qsort(items, ids.n, sizeof(*items), cli_queue_item_cmp);
	printf("-Queue ID-------  --Size-- ----Arrival Time---- "
	    "-Sender/Recipient-------\n");
	for (size_t i = 0; i < ids.n; i++) {
		if (items[i].err != NULL || items[i].e.nrcpts > 0) {
			cli_queue_list_one(&items[i]);
			shown++;
		}
		free(items[i].err);
		envelope_clear(&items[i].e);
	}
	printf("-- %zu Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024,
	    shown, shown == 1 ? "" : "s");
	free(items);
	free(ids.qids);
	fflush(stdout);
	if (bad > 0)
		return cli_queue_fail("%zu envelope%s could not be read", bad,
		    bad == 1 ? "" : "s");
	return 0;
}

/*
 * show
 */

static void
cli_queue_show_field(const char *name, const char *value)
{
	if (value[0] == '\0')
		return;
	printf("%s: ", name);
	cli_queue_puts(value);
	putchar('\n');
}

static void
cli_queue_show_notify(unsigned notify)
{
	static const struct { unsigned bit; const char *name; } w[] = {
		{ SMTP_NOTIFY_NEVER, "NEVER" },
		{ SMTP_NOTIFY_SUCCESS, "SUCCESS" },
		{ SMTP_NOTIFY_FAILURE, "FAILURE" },
		{ SMTP_NOTIFY_DELAY, "DELAY" },
	};
	bool first = true;

	if (notify == 0)
		return;
	printf("  notify: ");
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		if (notify & w[i].bit) {
			printf("%s%s", first ? "" : ",", w[i].name);
			first = false;
		}
	}
	putchar('\n');
}

static void
cli_queue_show_rcpt(const struct envelope_rcpt *r)
{
	char date[CLI_QUEUE_DATE_MAX];

	printf("recipient: ");
	cli_queue_addr(r->addr);
	printf("\n  state: %s\n", envelope_state_name(r->state));
	if (r->orcpt[0] != '\0') {
		printf("  orcpt: ");
		cli_queue_puts(r->orcpt);
		putchar('\n');
	}
	cli_queue_show_notify(r->notify);
	printf("  attempts: %u\n", r->attempts);
	if (r->last_try != 0)
		printf("  last try: %s\n", cli_queue_date(r->last_try, true,
		    date));
	if (r->state == RCPT_PENDING)
		printf("  next try: %s\n", r->next_try == 0 ? "now" :
		    cli_queue_date(r->next_try, true, date));
	if (r->status[0] != '\0')
		printf("  status: %s\n", r->status);
	if (r->relay[0] != '\0') {
		printf("  relay: ");
		cli_queue_puts(r->relay);
		putchar('\n');
	}
	if (r->text[0] != '\0') {
		printf("  reply: ");
		cli_queue_puts(r->text);
		putchar('\n');
	}
	if (r->delay_notified)
		printf("  delay notice: sent\n");
	if (r->dsn_sent)
		printf("  report: sent\n");
}

static void
cli_queue_show_env(const struct envelope *e)
{
	char date[CLI_QUEUE_DATE_MAX];

	printf("queue id: %016llx\n", (unsigned long long)e->qid);
	printf("arrival: %s\n", cli_queue_date(e->created, true, date));
	printf("size: %zu\n", e->size);
	printf("sender: ");
	cli_queue_addr(e->from);
	putchar('\n');
	cli_queue_show_field("helo", e->helo);
	cli_queue_show_field("client", e->client_addr);
	cli_queue_show_field("auth", e->auth_user);
	cli_queue_show_field("envid", e->envid);
	if (e->ret != SMTP_RET_UNSPEC)
		printf("ret: %s\n", e->ret == SMTP_RET_FULL ? "FULL" : "HDRS");
	printf("body: %s%s\n", e->eightbit ? "8BITMIME" : "7BIT",
	    e->smtputf8 ? ", SMTPUTF8" : "");
	printf("held: %s\n", e->hold ? "yes" : "no");
	if (e->is_bounce)
		printf("delivery report: %s\n", e->double_bounce ?
		    "double bounce (to the postmaster)" : "yes");
	for (size_t i = 0; i < e->nrcpts; i++)
		cli_queue_show_rcpt(&e->rcpts[i]);
}

/* The message, line by line (CRLF shown as a line end). */
static int
cli_queue_show_msg(const struct conf *conf, uint64_t qid)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int fd = queue_fs_open_msg(conf->data_dir, qid);

	if (fd == -1 || (f = fdopen(fd, "r")) == NULL) {
		if (fd != -1)
			close(fd);
		return cli_queue_fail("%016llx: message file: %s",
		    (unsigned long long)qid, strerror(errno));
	}
	printf("-- message --\n");
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		cli_queue_put(line, (size_t)n);
		putchar('\n');
	}
	free(line);
	fclose(f);
	return 0;
}

static int
cli_queue_show(struct conf *conf, int argc, char **argv)
{
	struct envelope e;
	const char *err;
	uint64_t qid;
	int rc;

	if ((rc = cli_queue_resolve(conf, argv[0], &qid)) != 0)
		return rc;
	if (queue_fs_load(conf->data_dir, qid, &e, &err) == -1)
		return errno == ENOENT ? cli_queue_fail("no message %016llx in "
		    "the queue", (unsigned long long)qid) :
		    cli_queue_fail("%s", err);
	cli_queue_show_env(&e);
	envelope_clear(&e);
	return cli_queue_show_msg(conf, qid);
}

/*
 * Changes, and flush.
 */

static int
cli_queue_change(struct conf *conf, const char *id, int what)
{
	static const char *const done[] = { "deleted", "held", "released" };
	const char *err;
	uint64_t qid;
	int rc;

	if ((rc = cli_queue_resolve(conf, id, &qid)) != 0)
		return rc;
	if (what == 0)
		rc = queue_fs_remove(conf->data_dir, qid, &err);
	else
		rc = queue_fs_set_hold(conf->data_dir, qid, what == 1, &err);
	if (rc == -1)
		return errno == ENOENT ? cli_queue_fail("no message %016llx in "
		    "the queue", (unsigned long long)qid) :
		    cli_queue_fail("%s", err);
	printf("%s %016llx\n", done[what], (unsigned long long)qid);
	fflush(stdout);
	cli_queue_notify(conf, qid);
	return 0;
}

static int
cli_queue_delete(struct conf *conf, int argc, char **argv)
{
	return cli_queue_change(conf, argv[0], 0);
}

static int
cli_queue_hold(struct conf *conf, int argc, char **argv)
{
	return cli_queue_change(conf, argv[0], 1);
}

static int
cli_queue_release(struct conf *conf, int argc, char **argv)
{
	return cli_queue_change(conf, argv[0], 2);
}

static int
cli_queue_flush(struct conf *conf, int argc, char **argv)
{
	char line[64], reply[CLI_QUEUE_REPLY_MAX];
	uint64_t qid;
	int rc;

	if (argc == 0)
		snprintf(line, sizeof(line), "flush\n");
	else {
		if ((rc = cli_queue_resolve(conf, argv[0], &qid)) != 0)
			return rc;
		snprintf(line, sizeof(line), "flush %016llx\n",
		    (unsigned long long)qid);
	}
	rc = cli_queue_ctl(conf, line, reply, sizeof(reply), false);
	if (rc == 1)
		return cli_queue_fail("the server is not running (no queue "
		    "process at %s" CLI_QUEUE_SOCK ")", conf->data_dir);
	if (rc == -1)
		return 1;
	if (strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' ||
	    reply[2] == ' ')) {
		printf("flush: %s\n", reply[2] == ' ' ? reply + 3 : "ok");
		return 0;
	}
	if (strncmp(reply, "error ", 6) == 0)
		return cli_queue_fail("flush: %.200s", reply + 6);
	return cli_queue_fail("flush: unexpected reply: %.200s", reply);
}

static const struct cli_queue_cmd {
	const char	*name;
	int		 min, max;	/* operands */
	int		(*fn)(struct conf *, int, char **);
} cli_queue_cmds[] = {
	{ "list",	0, 0, cli_queue_list },
	{ "show",	1, 1, cli_queue_show },
	{ "flush",	0, 1, cli_queue_flush },
	{ "delete",	1, 1, cli_queue_delete },
	{ "hold",	1, 1, cli_queue_hold },
	{ "release",	1, 1, cli_queue_release },
};

int
cli_queue(struct conf *conf, int argc, char **argv)
{
	const struct cli_queue_cmd *cmd = NULL;

	for (size_t i = 0; argc >= 2 &&
	    i < sizeof(cli_queue_cmds) / sizeof(cli_queue_cmds[0]); i++)
		if (strcmp(argv[1], cli_queue_cmds[i].name) == 0)
			cmd = &cli_queue_cmds[i];
	if (cmd == NULL || argc - 2 < cmd->min || argc - 2 > cmd->max) {
		cli_queue_usage();
		return 2;
	}
	if (conf->data_dir == NULL || *conf->data_dir == '\0')
		return cli_queue_fail("no data_dir configured");
	return cmd->fn(conf, argc - 2, argv + 2);
}
