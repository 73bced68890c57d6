/* queue_fs_test.c: tests for src/queue/queue_fs.c: commit, group
 * commit, the leftovers a crash can leave and the scan rules (ages set
 * with utimensat), update and hold, remove, errors that name the call
 * and the path, and no fd left open.
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

	if (queue_fs_new(dir, qid, &n, &err) == -1)
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
	assert_int_equal(queue_fs_new(dir, 0xabc, &n, &err), 0);
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

/* A qid already queued: the commit fails, nothing of it stays, the
 * queued message is untouched. */
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
	/* tmp/ is free again: a second writer with the same qid */
	assert_int_equal(queue_fs_new(dir, 7, &n, &err), 0);
	assert_int_equal(queue_fs_write(&n, "other", 5, &err), 0);
	env_init(&e, "evil@x.org");
	assert_int_equal(queue_fs_commit(dir, &n, &e, &err), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "rename("));
	assert_non_null(strstr(err, "/queue/tmp/0000000000000007.msg, "));
	assert_non_null(strstr(err, "File exists"));
	assert_false(exists(dir, "/tmp", 7, ".msg"));
	assert_false(exists(dir, "/tmp", 7, ".env"));
	assert_int_equal(queue_fs_load(dir, 7, &back, &err), 0);
	assert_string_equal(back.from, "a@x.org");
	assert_int_equal(back.size, strlen(MSG));
	envelope_clear(&back);
	envelope_clear(&e);
	assert_int_equal(count_fds(), fds);
}

static void
test_new_errors(void **state)
{
	const char *dir = *state, *err;
	struct queue_new n, n2;

	/* no queue dir yet */
	assert_int_equal(queue_fs_new(dir, 5, &n, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "open("));
	assert_non_null(strstr(err, "/queue/tmp/0000000000000005.msg): No "
	    "such file or directory"));
	assert_int_equal(n.fd, -1);
	queue_fs_abort(&n);		/* harmless */
	assert_int_equal(queue_fs_init(dir, &err), 0);
	assert_int_equal(queue_fs_new(dir, 0, &n, &err), -1);
	assert_int_equal(queue_fs_new(dir, 5, &n, &err), 0);
	/* a second writer of the same qid at once */
	assert_int_equal(queue_fs_new(dir, 5, &n2, &err), -1);
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
	assert_int_equal(queue_one(dir, 103, MSG), 0);	/* collides below */
	fds = count_fds();
	for (int i = 0; i < 8; i++) {
		assert_int_equal(queue_fs_new(dir, 100 + (uint64_t)i, &ns[i],
		    &err), 0);
		snprintf(body, sizeof(body), "message %d\r\n", i);
		assert_int_equal(queue_fs_write(&ns[i], body, strlen(body),
		    &err), 0);
		env_init(&es[i], "a@x.org");
		np[i] = &ns[i];
		ep[i] = &es[i];
	}
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
	assert_int_equal(queue_fs_new(dir, 9, &n, &err), 0);
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
		cmocka_unit_test(test_qid_parse),
	};

	snprintf(test_base, sizeof(test_base), "%s",
	    env != NULL && *env != '\0' ? env : "/tmp");
	mkdir(test_base, 0755);
	return cmocka_run_group_tests_name("queue/queue_fs", tests, NULL, NULL);
}
