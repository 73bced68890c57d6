/* queue_fs_test.c: tests for src/queue/queue_fs.c: commit, group
 * commit, the leftovers a crash can leave and the scan rules (ages set
 * with utimensat), update and hold, remove, errors that name the call
 * and the path, and no fd left open; the one-file layout (header block,
 * two names, the checksum), the envelope that does not fit, pairs of
 * separate files, spare files (made at removal, reused in place, given
 * back, cleaned at the scan), the check of checksums after a reboot.
 *
 * Temp dirs live under $FACTEUR_TEST_TMP when set, else /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_fs.h"

#define MSG	"Subject: hi\r\n\r\nbody\r\n"

static char	test_base[1024];

static int
test_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(path);
}

static int
setup(void **state)
{
	char *dir = malloc(1200);

	snprintf(dir, 1200, "%s/t.XXXXXX", test_base);
	assert_non_null(mkdtemp(dir));
	*state = dir;
	return 0;
}

static int
teardown(void **state)
{
	nftw(*state, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static void
qpath(char *buf, size_t size, const char *dir, const char *sub, uint64_t qid,
    const char *ext)
{
	snprintf(buf, size, "%s/queue%s/%016llx%s", dir, sub,
	    (unsigned long long)qid, ext);
}

static bool
exists(const char *dir, const char *sub, uint64_t qid, const char *ext)
{
	char p[2048];
	struct stat sb;

	qpath(p, sizeof(p), dir, sub, qid, ext);
	return lstat(p, &sb) == 0;
}

/* Make a file older than it is. */
static void
age(const char *dir, const char *sub, uint64_t qid, const char *ext,
    time_t secs)
{
	struct timespec ts[2];
	char p[2048];

	qpath(p, sizeof(p), dir, sub, qid, ext);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void
touch(const char *dir, const char *sub, uint64_t qid, const char *ext)
{
	char p[2048];
	int fd;

	qpath(p, sizeof(p), dir, sub, qid, ext);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	close(fd);
}

static void
env_init(struct envelope *e, const char *from)
{
	memset(e, 0, sizeof(*e));
	e->created = 1764150000;
	strcpy(e->from, from);
	assert_int_equal(envelope_add_rcpt(e, "b@y.net", NULL, 0), 0);
}

/* Queue one message with qid; 0 or -1. */
static int
queue_one(const char *dir, uint64_t qid, const char *body)
{
	struct queue_new n;
	struct envelope e;
	const char *err;
	int rc;

	if (queue_fs_new(dir, qid, NULL, &n, &err) == -1)
		return -1;
	assert_int_equal(queue_fs_write(&n, body, strlen(body), &err), 0);
	env_init(&e, "a@x.org");
	rc = queue_fs_commit(dir, &n, &e, &err);
	envelope_clear(&e);
	return rc;
}

struct seen {
	uint64_t	qids[64];
	size_t		n;
};

static void
seen_add(void *arg, uint64_t qid)
{
	struct seen *s = arg;

	assert_true(s->n < 64);
	s->qids[s->n++] = qid;
}

static void
test_init(void **state)
{
	const char *dir = *state, *err;
	char p[2048];
	struct stat sb;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_fs_init(dir, &err), 0);	/* idempotent */
	snprintf(p, sizeof(p), "%s/queue", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/queue/tmp", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/nonexistent/x", dir);
	assert_int_equal(queue_fs_init(p, &err), -1);
	assert_non_null(strstr(err, "mkdir("));
	assert_non_null(strstr(err, "/nonexistent/x/queue): No such file"));
}

static void
test_commit(void **state)
{
	const char *dir = *state, *err;
	struct queue_new n;
	struct envelope e, back;
	char buf[256];
	ssize_t r;
	int fd, fds = count_fds();

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_fs_new(dir, 0xabc, NULL, &n, &err), 0);
	assert_true(n.fd >= 0);
	assert_true(exists(dir, "/tmp", 0xabc, ".msg"));
	assert_int_equal(queue_fs_write(&n, MSG, 10, &err), 0);
	assert_int_equal(queue_fs_write(&n, MSG + 10, strlen(MSG) - 10, &err),
	    0);
	assert_int_equal(n.size, strlen(MSG));
	env_init(&e, "a@x.org");
	assert_int_equal(queue_fs_commit(dir, &n, &e, &err), 0);
	assert_int_equal(n.fd, -1);
	assert_int_equal(e.qid, 0xabc);
	assert_int_equal(e.size, strlen(MSG));
	assert_false(exists(dir, "/tmp", 0xabc, ".msg"));
	assert_false(exists(dir, "/tmp", 0xabc, ".env"));
	assert_true(exists(dir, "", 0xabc, ".msg"));
	assert_true(exists(dir, "", 0xabc, ".env"));
	assert_int_equal(count_fds(), fds);

	assert_int_equal(queue_fs_load(dir, 0xabc, &back, &err), 0);
	assert_int_equal(back.qid, 0xabc);
	assert_int_equal(back.size, strlen(MSG));
	assert_string_equal(back.from, "a@x.org");
	assert_int_equal(back.nrcpts, 1);
	envelope_clear(&back);

	fd = queue_fs_open_msg(dir, 0xabc);
	assert_true(fd >= 0);
	r = read(fd, buf, sizeof(buf));
	assert_int_equal(r, strlen(MSG));
	assert_memory_equal(buf, MSG, strlen(MSG));
	close(fd);
	assert_int_equal(queue_fs_open_msg(dir, 0xabd), -1);
	assert_int_equal(errno, ENOENT);
	envelope_clear(&e);
	assert_int_equal(count_fds(), fds);
}

/* A qid already queued: a new message asking for it gets another one,
 * the queued message is untouched; a name that appears under a commit
 * makes it fail, and nothing of it stays. */
static void
test_commit_collision(void **state)
{
	const char *dir = *state, *err;
	struct queue_new n;
	struct envelope e, back;
	int fds;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_one(dir, 7, MSG), 0);
	fds = count_fds();
	assert_int_equal(queue_fs_new(dir, 7, NULL, &n, &err), 0);
	assert_true(n.qid != 7);
	assert_false(n.reused);
	assert_int_equal(queue_fs_write(&n, "other", 5, &err), 0);
	env_init(&e, "other@x.org");
	assert_int_equal(queue_fs_commit(dir, &n, &e, &err), 0);
	assert_int_equal(e.qid, n.qid);
	assert_int_equal(queue_fs_load(dir, 7, &back, &err), 0);
	assert_string_equal(back.from, "a@x.org");
	assert_int_equal(back.size, strlen(MSG));
	envelope_clear(&back);
	assert_int_equal(queue_fs_load(dir, n.qid, &back, &err), 0);
	assert_string_equal(back.from, "other@x.org");
	envelope_clear(&back);
	envelope_clear(&e);
	assert_int_equal(count_fds(), fds);

	/* Q.msg appears while the message is written: the rename fails */
	assert_int_equal(queue_fs_new(dir, 9, NULL, &n, &err), 0);
	assert_int_equal(n.qid, 9);
	assert_int_equal(queue_fs_write(&n, "other", 5, &err), 0);
	touch(dir, "", 9, ".msg");
	env_init(&e, "evil@x.org");
	assert_int_equal(queue_fs_commit(dir, &n, &e, &err), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "rename("));
	assert_non_null(strstr(err, "/queue/tmp/0000000000000009.msg, "));
	assert_non_null(strstr(err, "File exists"));
	assert_false(exists(dir, "/tmp", 9, ".msg"));
	assert_false(exists(dir, "/tmp", 9, ".env"));
	envelope_clear(&e);
	assert_int_equal(count_fds(), fds);

	/* a stray .env alone (a crash): the link into it fails, the new
	 * .msg is taken back, the stray stays */
	touch(dir, "", 8, ".env");
	assert_int_equal(queue_fs_new(dir, 8, NULL, &n, &err), 0);
	assert_int_equal(queue_fs_write(&n, MSG, strlen(MSG), &err), 0);
	env_init(&e, "a@x.org");
	assert_int_equal(queue_fs_commit(dir, &n, &e, &err), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "link("));
	assert_false(exists(dir, "", 8, ".msg"));
	assert_false(exists(dir, "/tmp", 8, ".msg"));
	assert_true(exists(dir, "", 8, ".env"));
	envelope_clear(&e);
	assert_int_equal(count_fds(), fds);
}

static void
test_new_errors(void **state)
{
	const char *dir = *state, *err;
	struct queue_new n, n2;

	/* no queue dir yet */
	assert_int_equal(queue_fs_new(dir, 5, NULL, &n, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "open("));
	assert_non_null(strstr(err, "/queue/tmp/0000000000000005.msg): No "
	    "such file or directory"));
	assert_int_equal(n.fd, -1);
	queue_fs_abort(&n);		/* harmless */
	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_fs_new(dir, 0, NULL, &n, &err), -1);
	assert_int_equal(queue_fs_new(dir, 5, NULL, &n, &err), 0);
	/* a second writer of the same qid at once */
	assert_int_equal(queue_fs_new(dir, 5, NULL, &n2, &err), -1);
	assert_int_equal(errno, EEXIST);
	queue_fs_abort(&n);
	assert_false(exists(dir, "/tmp", 5, ".msg"));
	queue_fs_abort(&n);
}

static void
test_batch(void **state)
{
	const char *dir = *state, *err;
	struct queue_new ns[8], *np[8];
	struct envelope es[8], *ep[8];
	struct seen seen = { .n = 0 };
	int results[8], fds;
	char body[32];

	assert_int_equal(queue_fs_init(dir, &err), 0);
	fds = count_fds();
	for (int i = 0; i < 8; i++) {
		assert_int_equal(queue_fs_new(dir, 100 + (uint64_t)i, NULL,
		    &ns[i], &err), 0);
		snprintf(body, sizeof(body), "message %d\r\n", i);
		assert_int_equal(queue_fs_write(&ns[i], body, strlen(body),
		    &err), 0);
		env_init(&es[i], "a@x.org");
		np[i] = &ns[i];
		ep[i] = &es[i];
	}
	/* 103 appears in the queue meanwhile (two names): collides */
	touch(dir, "", 103, ".msg");
	touch(dir, "", 103, ".env");
	/* 103 is queued already: rename into it fails */
	assert_int_equal(queue_fs_commit_batch(dir, np, ep, 8, results, &err),
	    -1);
	assert_non_null(strstr(err, "0000000000000067.msg"));
	for (int i = 0; i < 8; i++) {
		assert_int_equal(results[i], i == 3 ? EEXIST : 0);
		assert_int_equal(ns[i].fd, -1);
		envelope_clear(&es[i]);
	}
	assert_int_equal(count_fds(), fds);
	assert_int_equal(queue_fs_list(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 8);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(seen.qids[i], 100 + i);
	assert_false(exists(dir, "/tmp", 103, ".msg"));
	assert_false(exists(dir, "/tmp", 103, ".env"));
	assert_int_equal(queue_fs_commit_batch(dir, np, ep, 0, results, &err),
	    0);
}

static void
test_abort(void **state)
{
	const char *dir = *state, *err;
	struct queue_new n;
	int fds = count_fds();

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_fs_new(dir, 9, NULL, &n, &err), 0);
	assert_int_equal(queue_fs_write(&n, MSG, strlen(MSG), &err), 0);
	queue_fs_abort(&n);
	assert_false(exists(dir, "/tmp", 9, ".msg"));
	assert_int_equal(n.fd, -1);
	queue_fs_abort(&n);
	assert_int_equal(count_fds(), fds);
}

/* What a crash can leave, and what the scan makes of it. */
static void
test_scan_rules(void **state)
{
	const char *dir = *state, *err;
	struct seen seen = { .n = 0 };
	char p[2048];
	int fds;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_one(dir, 0x10, MSG), 0);		/* complete */
	assert_int_equal(queue_one(dir, 0x11, MSG), 0);		/* old, complete */
	age(dir, "", 0x11, ".msg", 30 * 86400);
	age(dir, "", 0x11, ".env", 30 * 86400);
	touch(dir, "", 0x20, ".msg");	/* commit under way: young */
	touch(dir, "", 0x21, ".msg");	/* crash between the renames */
	age(dir, "", 0x21, ".msg", 3601);
	touch(dir, "", 0x22, ".env");	/* lost .msg rename (power loss) */
	age(dir, "", 0x22, ".env", 7200);
	touch(dir, "", 0x23, ".env");	/* young: left alone */
	touch(dir, "/tmp", 0x30, ".msg");	/* DATA being written */
	touch(dir, "/tmp", 0x31, ".msg");	/* crash during DATA */
	age(dir, "/tmp", 0x31, ".msg", 3700);
	touch(dir, "/tmp", 0x32, ".env.new");	/* crashed update */
	age(dir, "/tmp", 0x32, ".env.new", 3700);
	touch(dir, "", 0x40, ".msg");	/* just under the hour */
	age(dir, "", 0x40, ".msg", 3500);
	/* not queue names: left alone, however old */
	snprintf(p, sizeof(p), "%s/queue/README", dir);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	snprintf(p, sizeof(p), "%s/queue/0000000000000041.MSG", dir);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	age(dir, "", 0x41, ".MSG", 86400);

	/* list: reports, removes nothing */
	fds = count_fds();
	assert_int_equal(queue_fs_list(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.qids[0], 0x10);
	assert_int_equal(seen.qids[1], 0x11);
	assert_true(exists(dir, "", 0x21, ".msg"));
	assert_true(exists(dir, "/tmp", 0x31, ".msg"));

	seen.n = 0;
	assert_int_equal(queue_fs_scan(dir, seen_add, &seen, &err), 0);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.qids[0], 0x10);
	assert_int_equal(seen.qids[1], 0x11);
	assert_true(exists(dir, "", 0x11, ".msg"));	/* old but complete */
	assert_true(exists(dir, "", 0x20, ".msg"));
	assert_false(exists(dir, "", 0x21, ".msg"));
	assert_false(exists(dir, "", 0x22, ".env"));
	assert_true(exists(dir, "", 0x23, ".env"));
	assert_true(exists(dir, "/tmp", 0x30, ".msg"));
	assert_false(exists(dir, "/tmp", 0x31, ".msg"));
	assert_false(exists(dir, "/tmp", 0x32, ".env.new"));
	assert_true(exists(dir, "", 0x40, ".msg"));	/* young stray */
	snprintf(p, sizeof(p), "%s/queue/README", dir);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/queue/0000000000000041.MSG", dir);
	assert_int_equal(access(p, F_OK), 0);
}

static void
test_scan_missing_dir(void **state)
{
	const char *dir = *state, *err;
	struct seen seen = { .n = 0 };

	assert_int_equal(queue_fs_list(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(queue_fs_scan(dir, seen_add, &seen, &err), -1);
	assert_non_null(strstr(err, "opendir("));
	assert_non_null(strstr(err, "/queue): No such file"));
}

static void
test_update_and_hold(void **state)
{
	const char *dir = *state, *err;
	struct envelope e, back;
	char p[2048];
	struct stat sb;
	int fds;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_one(dir, 0x55, MSG), 0);
	fds = count_fds();
	assert_int_equal(queue_fs_load(dir, 0x55, &e, &err), 0);
	e.rcpts[0].attempts = 3;
	e.rcpts[0].next_try = 1764160000;
	strcpy(e.rcpts[0].text, "451 4.4.1 try later");
	assert_int_equal(queue_fs_update(dir, &e, &err), 0);
	assert_int_equal(queue_fs_load(dir, 0x55, &back, &err), 0);
	assert_int_equal(back.rcpts[0].attempts, 3);
	assert_string_equal(back.rcpts[0].text, "451 4.4.1 try later");
	assert_false(back.hold);
	envelope_clear(&back);

	/* the operator holds it; the queue process's next update keeps it */
	assert_int_equal(queue_fs_set_hold(dir, 0x55, true, &err), 0);
	e.rcpts[0].attempts = 4;
	assert_int_equal(queue_fs_update(dir, &e, &err), 0);
	assert_int_equal(queue_fs_load(dir, 0x55, &back, &err), 0);
	assert_true(back.hold);
	assert_int_equal(back.rcpts[0].attempts, 4);
	envelope_clear(&back);
	/* and e->hold = true does not hold it either */
	assert_int_equal(queue_fs_set_hold(dir, 0x55, false, &err), 0);
	e.hold = true;
	assert_int_equal(queue_fs_update(dir, &e, &err), 0);
	assert_int_equal(queue_fs_load(dir, 0x55, &back, &err), 0);
	assert_false(back.hold);
	envelope_clear(&back);
	assert_false(exists(dir, "/tmp", 0x55, ".env.new"));

	/* root rewriting another user's envelope keeps its owner */
	if (geteuid() == 0) {
		qpath(p, sizeof(p), dir, "", 0x55, ".env");
		assert_int_equal(chown(p, 65534, 65534), 0);
		assert_int_equal(queue_fs_set_hold(dir, 0x55, true, &err), 0);
		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_uid, 65534);
		assert_int_equal(sb.st_gid, 65534);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}

	/* deleted by the operator: the update says ENOENT, creates nothing */
	assert_int_equal(queue_fs_remove(dir, 0x55, &err), 0);
	assert_int_equal(queue_fs_update(dir, &e, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "open("));
	assert_false(exists(dir, "", 0x55, ".env"));
	assert_int_equal(queue_fs_set_hold(dir, 0x55, true, &err), -1);
	assert_int_equal(errno, ENOENT);
	envelope_clear(&e);
	assert_int_equal(count_fds(), fds);
}

static void
test_remove(void **state)
{
	const char *dir = *state, *err;
	int fds;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_one(dir, 0x66, MSG), 0);
	fds = count_fds();
	assert_int_equal(queue_fs_remove(dir, 0x66, &err), 0);
	assert_false(exists(dir, "", 0x66, ".env"));
	assert_false(exists(dir, "", 0x66, ".msg"));
	assert_int_equal(queue_fs_remove(dir, 0x66, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "unlink("));
	/* a .msg left by a crashed removal goes too */
	touch(dir, "", 0x67, ".msg");
	assert_int_equal(queue_fs_remove(dir, 0x67, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_false(exists(dir, "", 0x67, ".msg"));
	assert_int_equal(count_fds(), fds);
}

static void
test_load_errors(void **state)
{
	const char *dir = *state, *err;
	struct envelope e;
	char p[2048];
	FILE *f;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_fs_load(dir, 0x77, &e, &err), -1);
	assert_int_equal(errno, ENOENT);
	qpath(p, sizeof(p), dir, "", 0x77, ".env");
	f = fopen(p, "w");
	fputs("facteur-envelope 1\nqid 0000000000000078\ncreated 1\nsize 1\n"
	    "from\nrcpt r\nstate pending\nend\n", f);
	fclose(f);
	assert_int_equal(queue_fs_load(dir, 0x77, &e, &err), -1);
	assert_non_null(strstr(err, "holds qid 0000000000000078"));
	assert_null(e.rcpts);
	f = fopen(p, "w");
	fputs("facteur-envelope 1\ngarbage\n", f);
	fclose(f);
	assert_int_equal(queue_fs_load(dir, 0x77, &e, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "0000000000000077.env: line 2: unknown key"));
}


static void
spath(char *buf, size_t size, const char *dir, uint64_t qid)
{
	snprintf(buf, size, "%s/queue/spare/%016llx", dir,
	    (unsigned long long)qid);
}

/* The qids named in spare/ (at most max). */
static size_t
spare_names(const char *dir, uint64_t *qids, size_t max)
{
	char p[2048];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/queue/spare", dir);
	assert_non_null(d = opendir(p));
	while ((de = readdir(d)) != NULL && n < max)
		if (queue_fs_qid_parse(de->d_name, &qids[n]) == 0)
			n++;
	closedir(d);
	return n;
}

static bool
starts_with(const char *dir, uint64_t qid, const char *ext, const char *what)
{
	char p[2048], buf[64] = "";
	size_t len = strlen(what);
	int fd;

	qpath(p, sizeof(p), dir, "", qid, ext);
	if ((fd = open(p, O_RDONLY)) == -1)
		return false;
	assert_true(len < sizeof(buf));
	assert_true(read(fd, buf, len) >= 0);
	close(fd);
	return memcmp(buf, what, len) == 0;
}

static size_t
count_dir(const char *dir, const char *sub)
{
	char p[2048];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/queue%s", dir, sub);
	if ((d = opendir(p)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
file_stat(const char *dir, uint64_t qid, const char *ext, struct stat *sb)
{
	char p[2048];

	qpath(p, sizeof(p), dir, "", qid, ext);
	assert_int_equal(lstat(p, sb), 0);
}

/* The whole file into a malloc'ed buffer. */
static char *
slurp(const char *dir, uint64_t qid, const char *ext, size_t *len_r)
{
	char p[2048], *buf;
	struct stat sb;
	int fd;

	qpath(p, sizeof(p), dir, "", qid, ext);
	fd = open(p, O_RDONLY);
	assert_true(fd != -1);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	buf[sb.st_size] = '\0';
	close(fd);
	*len_r = (size_t)sb.st_size;
	return buf;
}

/* Queue body under qid with an envelope sized in advance (proto); the
 * qid it got (another one when qid was not free). */
static uint64_t
queue_proto(const char *dir, uint64_t qid, const char *body, size_t nrcpts)
{
	struct queue_new n;
	struct envelope e;
	const char *err;
	char addr[64];

	memset(&e, 0, sizeof(e));
	e.created = 1764150000;
	strcpy(e.from, "a@x.org");
	for (size_t i = 0; i < nrcpts; i++) {
		snprintf(addr, sizeof(addr), "rcpt%zu@y.net", i);
		assert_int_equal(envelope_add_rcpt(&e, addr, NULL, 0), 0);
	}
	assert_int_equal(queue_fs_new(dir, qid, &e, &n, &err), 0);
	assert_int_equal(queue_fs_write(&n, body, strlen(body), &err), 0);
	e.eightbit = true;	/* learnt from the content */
	assert_int_equal(queue_fs_commit(dir, &n, &e, &err), 0);
	envelope_clear(&e);
	return n.qid;
}

/* Read fd from off to its end. */
static size_t
read_from(int fd, off_t off, char *buf, size_t size)
{
	ssize_t r = pread(fd, buf, size, off);

	assert_true(r >= 0);
	return (size_t)r;
}

/* One file, two names: the header block (length line, envelope, LF
 * padding), then the message. */
static void
test_layout(void **state)
{
	const char *dir = *state, *err;
	struct stat m, e;
	struct envelope env;
	struct queue_fs_stamp st;
	char *text, buf[256], line[32];
	size_t len, hdr;
	off_t off;
	int fd, fds;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	fds = count_fds();
	queue_proto(dir, 0x1a, MSG, 2);
	assert_int_equal(count_fds(), fds);
	file_stat(dir, 0x1a, ".msg", &m);
	file_stat(dir, 0x1a, ".env", &e);
	assert_int_equal(m.st_ino, e.st_ino);
	assert_int_equal(m.st_nlink, 2);
	assert_int_equal(m.st_mode & 0777, 0600);
	text = slurp(dir, 0x1a, ".msg", &len);
	assert_memory_equal(text, "facteur-queue 2 ", 16);
	hdr = strtoul(text + 16, NULL, 10);
	assert_int_equal(text[26], ' ');
	assert_int_equal(text[43], '\n');
	assert_int_equal(len, hdr + strlen(MSG));
	assert_memory_equal(text + hdr, MSG, strlen(MSG));
	assert_memory_equal(text + 44, "facteur-envelope 1\nqid "
	    "000000000000001a\n", 40);
	/* the sum: of the block past the line, of the message, joined */
	{
		struct queue_sum bs, ms, js;
		unsigned char j[16];
		uint64_t bsum, msum;
		char want[17];

		queue_sum_init(&bs);
		queue_sum_update(&bs, text + 44, hdr - 44);
		queue_sum_init(&ms);
		queue_sum_update(&ms, MSG, strlen(MSG));
		bsum = queue_sum_final(&bs);
		msum = queue_sum_final(&ms);
		for (int i = 0; i < 8; i++) {
			j[i] = (unsigned char)(bsum >> (8 * i));
			j[8 + i] = (unsigned char)(msum >> (8 * i));
		}
		queue_sum_init(&js);
		queue_sum_update(&js, j, sizeof(j));
		snprintf(want, sizeof(want), "%016llx",
		    (unsigned long long)queue_sum_final(&js));
		assert_memory_equal(text + 27, want, 16);
	}
	assert_non_null(strstr(text, "eightbit 1\nrcpt rcpt0@y.net\n"));
	assert_non_null(strstr(text, "rcpt rcpt1@y.net\nstate pending\nend\n"));
	assert_int_equal(text[hdr - 1], '\n');	/* padding */
	snprintf(line, sizeof(line), "size %zu\n", strlen(MSG));
	assert_non_null(strstr(text, line));
	free(text);

	/* the readers */
	assert_int_equal(queue_fs_load(dir, 0x1a, &env, &err), 0);
	assert_int_equal(env.size, strlen(MSG));
	assert_int_equal(env.nrcpts, 2);
	assert_true(env.eightbit);
	envelope_clear(&env);
	fd = queue_fs_open_msg(dir, 0x1a);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), strlen(MSG));
	assert_memory_equal(buf, MSG, strlen(MSG));
	close(fd);
	assert_int_equal(queue_fs_open_item(dir, 0x1a, &env, &fd, &off, &st,
	    &err), 0);
	assert_int_equal(off, hdr);
	assert_int_equal(env.nrcpts, 2);
	assert_int_equal(read_from(fd, off, buf, sizeof(buf)), strlen(MSG));
	assert_memory_equal(buf, MSG, strlen(MSG));
	close(fd);
	envelope_clear(&env);
	assert_int_equal(queue_fs_changed(dir, 0x1a, &st), 0);
	assert_int_equal(count_fds(), fds);

	/* an update makes Q.env a file of its own; Q.msg keeps its block */
	assert_int_equal(queue_fs_load(dir, 0x1a, &env, &err), 0);
	env.rcpts[0].attempts = 1;
	assert_int_equal(queue_fs_update(dir, &env, &err), 0);
	envelope_clear(&env);
	assert_int_equal(queue_fs_changed(dir, 0x1a, &st), 1);
	file_stat(dir, 0x1a, ".msg", &m);
	file_stat(dir, 0x1a, ".env", &e);
	assert_true(m.st_ino != e.st_ino);
	assert_int_equal(m.st_nlink, 1);
	text = slurp(dir, 0x1a, ".env", &len);
	assert_memory_equal(text, "facteur-envelope 1\n", 19);
	assert_non_null(strstr(text, "attempts 1\n"));
	free(text);
	assert_int_equal(queue_fs_open_item(dir, 0x1a, &env, &fd, &off, &st,
	    &err), 0);
	assert_int_equal(off, hdr);
	assert_int_equal(env.rcpts[0].attempts, 1);
	assert_int_equal(read_from(fd, off, buf, sizeof(buf)), strlen(MSG));
	assert_memory_equal(buf, MSG, strlen(MSG));
	close(fd);
	envelope_clear(&env);
	fd = queue_fs_open_msg(dir, 0x1a);
	assert_int_equal(read(fd, buf, sizeof(buf)), strlen(MSG));
	close(fd);
	assert_int_equal(queue_fs_changed(dir, 0x1a, &st), 0);
	assert_int_equal(queue_fs_remove(dir, 0x1a, &err), 0);
	assert_int_equal(queue_fs_changed(dir, 0x1a, &st), -1);
	assert_int_equal(queue_fs_open_item(dir, 0x1a, &env, &fd, &off, &st,
	    &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fd, -1);
	assert_int_equal(count_fds(), fds);
}

/* An envelope larger than the room reserved: a separate Q.env. */
static void
test_envelope_too_big(void **state)
{
	const char *dir = *state, *err;
	struct queue_new n;
	struct envelope e, back;
	struct queue_fs_stamp st;
	struct stat m, es;
	char addr[64], buf[256], *text;
	size_t len;
	off_t off;
	int fd;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	env_init(&e, "a@x.org");
	for (int i = 0; i < 40; i++) {
		snprintf(addr, sizeof(addr), "recipient-number-%d@y.net", i);
		assert_int_equal(envelope_add_rcpt(&e, addr, NULL, 0), 0);
	}
	assert_int_equal(queue_fs_new(dir, 0x2b, NULL, &n, &err), 0);
	assert_int_equal(queue_fs_write(&n, MSG, strlen(MSG), &err), 0);
	assert_int_equal(queue_fs_commit(dir, &n, &e, &err), 0);
	file_stat(dir, 0x2b, ".msg", &m);
	file_stat(dir, 0x2b, ".env", &es);
	assert_true(m.st_ino != es.st_ino);
	assert_int_equal(m.st_nlink, 1);
	text = slurp(dir, 0x2b, ".env", &len);
	assert_memory_equal(text, "facteur-envelope 1\n", 19);
	free(text);
	text = slurp(dir, 0x2b, ".msg", &len);
	assert_memory_equal(text, "facteur-queue 2 0000001024 ", 27);
	assert_memory_equal(text + 43, "\n\n\n", 3);
	assert_int_equal(len, 1024 + strlen(MSG));
	free(text);
	assert_int_equal(queue_fs_open_item(dir, 0x2b, &back, &fd, &off, &st,
	    &err), 0);
	assert_int_equal(back.nrcpts, 41);
	assert_int_equal(off, 1024);
	assert_int_equal(read_from(fd, off, buf, sizeof(buf)), strlen(MSG));
	close(fd);
	envelope_clear(&back);
	envelope_clear(&e);
	/* sized in advance, the same envelope fits */
	queue_proto(dir, 0x2c, MSG, 41);
	file_stat(dir, 0x2c, ".msg", &m);
	assert_int_equal(m.st_nlink, 2);
}

/* Files written by hand (or an older facteur): a plain message and a
 * plain envelope. */
static void
test_separate_files(void **state)
{
	const char *dir = *state, *err;
	struct envelope e, back;
	struct queue_fs_stamp st;
	char p[2048], buf[256], *text;
	size_t len;
	off_t off;
	int fd;
	FILE *f;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	env_init(&e, "a@x.org");
	e.qid = 0x3c;
	e.size = strlen(MSG);
	text = envelope_format(&e, &len);
	qpath(p, sizeof(p), dir, "", 0x3c, ".env");
	f = fopen(p, "w");
	fwrite(text, 1, len, f);
	fclose(f);
	free(text);
	envelope_clear(&e);
	qpath(p, sizeof(p), dir, "", 0x3c, ".msg");
	f = fopen(p, "w");
	fputs(MSG, f);
	fclose(f);
	assert_int_equal(queue_fs_load(dir, 0x3c, &back, &err), 0);
	envelope_clear(&back);
	assert_int_equal(queue_fs_open_item(dir, 0x3c, &back, &fd, &off, &st,
	    &err), 0);
	assert_int_equal(off, 0);
	assert_int_equal(read_from(fd, off, buf, sizeof(buf)), strlen(MSG));
	assert_memory_equal(buf, MSG, strlen(MSG));
	close(fd);
	envelope_clear(&back);
	fd = queue_fs_open_msg(dir, 0x3c);
	assert_int_equal(read(fd, buf, sizeof(buf)), strlen(MSG));
	close(fd);
	/* the message file missing */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(queue_fs_open_item(dir, 0x3c, &back, &fd, &off, &st,
	    &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/000000000000003c.msg): No such file"));
	assert_null(back.rcpts);
}

/* A header line that lies, a file cut short: refused. */
static void
test_bad_header(void **state)
{
	const char *dir = *state, *err;
	struct envelope e;
	char p[2048], *text;
	size_t len;
	FILE *f;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	queue_proto(dir, 0x4d, MSG, 1);
	text = slurp(dir, 0x4d, ".msg", &len);
	qpath(p, sizeof(p), dir, "", 0x4d, ".env");
	assert_int_equal(unlink(p), 0);
	/* cut short: the size in the envelope disagrees */
	f = fopen(p, "w");
	fwrite(text, 1, len - 1, f);
	fclose(f);
	assert_int_equal(queue_fs_load(dir, 0x4d, &e, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "bytes, not "));
	/* a block longer than the file */
	memcpy(text + 16, "9999999999", 10);
	f = fopen(p, "w");
	fwrite(text, 1, len, f);
	fclose(f);
	assert_int_equal(queue_fs_load(dir, 0x4d, &e, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "bad header line"));
	assert_null(e.rcpts);
	free(text);
}

/* Removed messages become spares: marked, under the names of a fresh
 * qid, and named in spare/; a new message given that qid is written
 * into the file in place, rewritten from the start and cut to its
 * length. */
static void
test_spare_reuse(void **state)
{
	const char *dir = *state, *err;
	static const char big[] = "Subject: a longer one\r\n\r\n"
	    "0123456789012345678901234567890123456789012345678901234567\r\n"
	    "0123456789012345678901234567890123456789012345678901234567\r\n";
	uint64_t qids[3] = { 0x51, 0x52, 0x53 }, sp[8], q, q2;
	struct stat sb, old[3];
	struct seen seen = { .n = 0 };
	char p[2048], buf[512], *text;
	struct envelope e;
	struct queue_fs_stamp st;
	struct queue_new n, n2;
	size_t len;
	off_t off;
	int fd, fds;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	for (int i = 0; i < 3; i++) {
		queue_proto(dir, qids[i], big, 1);
		file_stat(dir, qids[i], ".msg", &old[i]);
	}
	fds = count_fds();
	assert_int_equal(queue_fs_remove_many(dir, qids, 3, &err), 0);
	for (int i = 0; i < 3; i++) {
		assert_false(exists(dir, "", qids[i], ".msg"));
		assert_false(exists(dir, "", qids[i], ".env"));
	}
	assert_int_equal(spare_names(dir, sp, 8), 3);
	assert_int_equal(count_dir(dir, ""), 2 + 6);	/* tmp, spare */
	for (int i = 0; i < 3; i++) {
		struct stat esb;

		spath(p, sizeof(p), dir, sp[i]);
		assert_int_equal(lstat(p, &sb), 0);
		assert_int_equal(sb.st_nlink, 3);
		assert_true(sb.st_ino == old[0].st_ino ||
		    sb.st_ino == old[1].st_ino || sb.st_ino == old[2].st_ino);
		file_stat(dir, sp[i], ".env", &esb);
		assert_int_equal(esb.st_ino, sb.st_ino);
		assert_true(starts_with(dir, sp[i], ".msg", "facteur-spare 1 "));
		/* a spare is no message */
		assert_int_equal(queue_fs_load(dir, sp[i], &e, &err), -1);
		assert_int_equal(errno, ENOENT);
		assert_int_equal(queue_fs_open_item(dir, sp[i], &e, &fd, &off,
		    &st, &err), -1);
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(queue_fs_list(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 0);

	/* a shorter message in a longer file, under the spare's name */
	q = queue_fs_qid_new(dir);
	assert_true(q == sp[0] || q == sp[1] || q == sp[2]);
	queue_proto(dir, q, MSG, 1);
	assert_int_equal(count_dir(dir, "/spare"), 2);
	assert_false(exists(dir, "/tmp", q, ".msg"));
	file_stat(dir, q, ".msg", &sb);
	assert_true(sb.st_ino == old[0].st_ino || sb.st_ino == old[1].st_ino ||
	    sb.st_ino == old[2].st_ino);
	assert_int_equal(sb.st_nlink, 2);
	assert_true(starts_with(dir, q, ".msg", "facteur-queue 2 "));
	text = slurp(dir, q, ".msg", &len);
	assert_null(strstr(text, "longer"));
	free(text);
	assert_int_equal(queue_fs_open_item(dir, q, &e, &fd, &off, &st,
	    &err), 0);
	assert_int_equal(read_from(fd, off, buf, sizeof(buf)), strlen(MSG));
	assert_memory_equal(buf, MSG, strlen(MSG));
	assert_int_equal(sb.st_size, off + (off_t)strlen(MSG));
	close(fd);
	envelope_clear(&e);
	seen.n = 0;
	assert_int_equal(queue_fs_list(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.qids[0], q);
	assert_int_equal(count_fds(), fds);

	/* a message given up before its commit gives the spare back */
	q = queue_fs_qid_new(dir);
	assert_int_equal(queue_fs_new(dir, q, NULL, &n, &err), 0);
	assert_true(n.reused);
	assert_int_equal(n.qid, q);
	assert_int_equal(count_dir(dir, "/spare"), 1);
	/* the same name a second time (two processes): another qid */
	assert_int_equal(queue_fs_new(dir, q, NULL, &n2, &err), 0);
	assert_false(n2.reused);
	assert_true(n2.qid != q);
	queue_fs_abort(&n2);
	assert_int_equal(queue_fs_write(&n, big, strlen(big), &err), 0);
	queue_fs_abort(&n);
	assert_int_equal(count_dir(dir, "/spare"), 2);
	assert_true(starts_with(dir, q, ".msg", "facteur-spare 1 "));
	assert_int_equal(queue_fs_load(dir, q, &e, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_fds(), fds);

	/* a spare file with a name too many (a crash in the middle of a
	 * rename) is not taken, and left alone */
	assert_int_equal(spare_names(dir, sp, 8), 2);
	qpath(p, sizeof(p), dir, "", sp[0], ".msg");
	snprintf(buf, sizeof(buf), "%s/keep", dir);
	assert_int_equal(link(p, buf), 0);
	q = 0;
	for (int i = 0; i < 2 && q != sp[0]; i++)
		q = queue_fs_qid_new(dir);
	assert_int_equal(q, sp[0]);
	assert_int_equal(queue_fs_new(dir, q, NULL, &n, &err), 0);
	assert_false(n.reused);
	assert_true(n.qid != q);
	queue_fs_abort(&n);
	assert_int_equal(lstat(buf, &sb), 0);
	assert_int_equal(sb.st_nlink, 3);	/* keep, .msg, .env */
	assert_true(starts_with(dir, q, ".msg", "facteur-spare 1 "));

	/* the other one, a longer message in a shorter file */
	q2 = sp[1];
	queue_proto(dir, q2, big, 1);
	assert_int_equal(count_dir(dir, "/spare"), 0);
	assert_int_equal(queue_fs_open_item(dir, q2, &e, &fd, &off, &st,
	    &err), 0);
	assert_int_equal(read_from(fd, off, buf, sizeof(buf)), strlen(big));
	assert_memory_equal(buf, big, strlen(big));
	close(fd);
	envelope_clear(&e);
	/* no spare left: a new file (a name still in the list is taken
	 * now: another qid) */
	q = queue_proto(dir, queue_fs_qid_new(dir), big, 1);
	file_stat(dir, q, ".msg", &sb);
	for (int i = 0; i < 3; i++)
		assert_true(sb.st_ino != old[i].st_ino);
	/* a reused file becomes a spare again; gone already: no error */
	assert_int_equal(queue_fs_remove_many(dir, &q2, 1, &err), 0);
	assert_int_equal(count_dir(dir, "/spare"), 1);
	assert_false(exists(dir, "", q2, ".msg"));
	assert_int_equal(queue_fs_remove_many(dir, &q2, 1, &err), 0);
	assert_int_equal(count_fds(), fds);
}

/* The checksum does not depend on how the bytes come. */
static void
test_sum_chunks(void **state)
{
	static const size_t steps[] = { 1, 3, 7, 31, 32, 33, 64, 100, 1000 };
	struct queue_sum a, b;
	char data[3000];
	uint64_t whole;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 13);
	queue_sum_init(&a);
	queue_sum_update(&a, data, sizeof(data));
	whole = queue_sum_final(&a);
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		queue_sum_init(&b);
		for (size_t off = 0; off < sizeof(data); off += steps[k])
			queue_sum_update(&b, data + off,
			    sizeof(data) - off < steps[k] ?
			    sizeof(data) - off : steps[k]);
		assert_true(queue_sum_final(&b) == whole);
	}
	/* one byte changed, one byte fewer: another sum */
	data[1500] ^= 1;
	queue_sum_init(&b);
	queue_sum_update(&b, data, sizeof(data));
	assert_true(queue_sum_final(&b) != whole);
	data[1500] ^= 1;
	queue_sum_init(&b);
	queue_sum_update(&b, data, sizeof(data) - 1);
	assert_true(queue_sum_final(&b) != whole);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The first scan after a reboot checks the files written before it: a
 * torn one goes to corrupt/; later scans of the same boot check none. */
static void
test_scan_verify(void **state)
{
	const char *dir = *state, *err;
	struct seen seen = { .n = 0 };
	char p[2048], boot[64] = "", seen_id[64] = "";
	double up;
	FILE *f;
	int fd;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	queue_proto(dir, 0x81, MSG, 1);
	queue_proto(dir, 0x82, MSG, 1);
	queue_proto(dir, 0x83, MSG, 1);
	assert_int_equal(queue_fs_scan(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 3);
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	assert_non_null(f);
	assert_non_null(fgets(boot, sizeof(boot), f));
	fclose(f);
	snprintf(p, sizeof(p), "%s/queue/boot-id", dir);
	f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(seen_id, sizeof(seen_id), f));
	fclose(f);
	assert_string_equal(seen_id, boot);

	/* a byte of 0x81's message changed, 0x83's block: a new boot */
	qpath(p, sizeof(p), dir, "", 0x81, ".msg");
	fd = open(p, O_WRONLY);
	assert_int_equal(pwrite(fd, "X", 1, lseek(fd, 0, SEEK_END) - 3), 1);
	close(fd);
	qpath(p, sizeof(p), dir, "", 0x83, ".msg");
	fd = open(p, O_WRONLY);
	assert_int_equal(pwrite(fd, "Y", 1, 60), 1);
	close(fd);
	f = fopen("/proc/uptime", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lf", &up), 1);
	fclose(f);
	for (uint64_t q = 0x81; q <= 0x83; q++) {
		age(dir, "", q, ".msg", (time_t)up + 3600);
		age(dir, "", q, ".env", (time_t)up + 3600);
	}
	snprintf(p, sizeof(p), "%s/queue/boot-id", dir);
	write_file(p, "another boot\n");
	seen.n = 0;
	assert_int_equal(queue_fs_scan(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.qids[0], 0x82);
	for (uint64_t q = 0x81; q <= 0x83; q += 2) {
		assert_false(exists(dir, "", q, ".msg"));
		assert_false(exists(dir, "", q, ".env"));
		assert_true(exists(dir, "/corrupt", q, ".msg"));
	}
	/* this boot is now seen: a change is not looked for again */
	qpath(p, sizeof(p), dir, "", 0x82, ".msg");
	fd = open(p, O_WRONLY);
	assert_int_equal(pwrite(fd, "X", 1, lseek(fd, 0, SEEK_END) - 3), 1);
	close(fd);
	age(dir, "", 0x82, ".msg", (time_t)up + 3600);
	seen.n = 0;
	assert_int_equal(queue_fs_scan(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 1);
	/* files of this boot are never checked, even at its first scan */
	snprintf(p, sizeof(p), "%s/queue/boot-id", dir);
	write_file(p, "another boot\n");
	qpath(p, sizeof(p), dir, "", 0x82, ".msg");
	assert_int_equal(utimensat(AT_FDCWD, p, NULL, 0), 0);
	seen.n = 0;
	assert_int_equal(queue_fs_scan(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 1);
}

/* The scan at start: spare/ names that lead nowhere go, and a spare
 * without its spare/ name is a stray after an hour. */
static void
test_scan_spares(void **state)
{
	const char *dir = *state, *err;
	uint64_t qids[4] = { 0x91, 0x92, 0x93, 0x94 }, sp[8];
	struct seen seen = { .n = 0 };
	char p[2048];
	int fd;

	assert_int_equal(queue_fs_init(dir, &err), 0);
	for (int i = 0; i < 4; i++)
		queue_proto(dir, qids[i], MSG, 1);
	assert_int_equal(queue_fs_remove_many(dir, qids, 4, &err), 0);
	assert_int_equal(spare_names(dir, sp, 8), 4);
	/* an old spare whose mark was lost (a power loss: it is never
	 * synced) holds its old qid's envelope: a stray too */
	qpath(p, sizeof(p), dir, "", sp[3], ".msg");
	fd = open(p, O_WRONLY);
	assert_int_equal(pwrite(fd, "facteur-queue 2 ", 16, 0), 16);
	close(fd);
	age(dir, "", sp[3], ".msg", 2 * 3600);
	/* the old layout's name, a name of nothing, a young orphan, an
	 * old orphan */
	snprintf(p, sizeof(p), "%s/queue/spare/0001", dir);
	write_file(p, "old");
	spath(p, sizeof(p), dir, 0xabc);
	write_file(p, "nothing");
	spath(p, sizeof(p), dir, sp[0]);
	assert_int_equal(unlink(p), 0);
	spath(p, sizeof(p), dir, sp[1]);
	assert_int_equal(unlink(p), 0);
	age(dir, "", sp[1], ".msg", 2 * 3600);
	assert_int_equal(queue_fs_scan(dir, seen_add, &seen, &err), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(count_dir(dir, "/spare"), 1);
	spath(p, sizeof(p), dir, sp[2]);
	assert_true(access(p, F_OK) == 0);
	assert_true(exists(dir, "", sp[0], ".msg"));
	assert_true(exists(dir, "", sp[0], ".env"));
	assert_false(exists(dir, "", sp[1], ".msg"));
	assert_false(exists(dir, "", sp[1], ".env"));
	assert_true(exists(dir, "", sp[2], ".msg"));
	assert_false(exists(dir, "", sp[3], ".msg"));
	assert_false(exists(dir, "", sp[3], ".env"));
}

/* A big message's file is removed, not kept. */
static void
test_spare_big(void **state)
{
	const char *dir = *state, *err;
	uint64_t qid = 0x71;
	char *body = malloc(70 * 1024 + 1);

	assert_int_equal(queue_fs_init(dir, &err), 0);
	memset(body, 'x', 70 * 1024);
	body[70 * 1024] = '\0';
	queue_proto(dir, qid, body, 1);
	assert_int_equal(queue_fs_remove_many(dir, &qid, 1, &err), 0);
	assert_int_equal(count_dir(dir, "/spare"), 0);
	assert_false(exists(dir, "", qid, ".msg"));
	free(body);
}

static void
test_qid_parse(void **state)
{
	uint64_t q;

	assert_int_equal(queue_fs_qid_parse("0f3c91aa11e4b7a2", &q), 0);
	assert_int_equal(q, 0x0f3c91aa11e4b7a2ULL);
	assert_int_equal(queue_fs_qid_parse("0F3C91AA11E4B7A2", &q), -1);
	assert_int_equal(queue_fs_qid_parse("0f3c91aa11e4b7a", &q), -1);
	assert_int_equal(queue_fs_qid_parse("0f3c91aa11e4b7a22", &q), -1);
	assert_int_equal(queue_fs_qid_parse("0000000000000000", &q), -1);
	assert_int_equal(queue_fs_qid_parse("", &q), -1);
}

int
main(void)
{
	const char *env = getenv("FACTEUR_TEST_TMP");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_collision, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_new_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_missing_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_update_and_hold, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_too_big, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_separate_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spare_reuse, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sum_chunks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scan_verify, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scan_spares, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spare_big, setup,
		    teardown),
		cmocka_unit_test(test_qid_parse),
	};

	snprintf(test_base, sizeof(test_base), "%s",
	    env != NULL && *env != '\0' ? env : "/tmp");
	mkdir(test_base, 0755);
	return cmocka_run_group_tests_name("queue/queue_fs", tests, NULL, NULL);
}
