/* maildir_test.c: src/store/maildir.c on real directories.
 *
 * Temp dirs live under $FACTEUR_TEST_TMP when set, else /tmp.  The EXDEV
 * tests need /dev/shm on another filesystem and skip without it. */
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "store/maildir.h"

#define NAMES_PER_THREAD	1000

static char	test_base[1024];
static unsigned	test_seq;

/*
 * Helpers.
 */

static int
test_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void
test_rm_rf(const char *path)
{
	nftw(path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_mkdir_p(const char *path)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(tmp, 0755);
		*p = '/';
	}
	mkdir(tmp, 0755);
}

/* A fresh directory per test; the state is its path. */
static int
test_setup(void **state)
{
	char *dir = malloc(1100);

	assert_non_null(dir);
	snprintf(dir, 1100, "%s/t%u", test_base, ++test_seq);
	assert_int_equal(mkdir(dir, 0755), 0);
	*state = dir;
	return 0;
}

static int
test_teardown(void **state)
{
	test_rm_rf(*state);
	free(*state);
	return 0;
}

static char *
test_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return buf;
}

/* Number of entries in path; the last one's name into name_r. */
static int
test_count(const char *path, char *name_r, size_t size)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (name_r != NULL)
			snprintf(name_r, size, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static mode_t
test_mode(const char *path)
{
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	return sb.st_mode & 07777;
}

static void
test_maildir(char *buf, size_t size, const char *base, const char *name)
{
	const char *err = NULL;

	test_path(buf, size, "%s/%s", base, name);
	if (maildir_create(buf, (uid_t)-1, (gid_t)-1, &err) == -1)
		fail_msg("maildir_create: %s", err);
}

/* Message bytes: CRLF lines, 8-bit bytes, a NUL, and enough of them to
 * take several write() calls. */
static unsigned char *
test_message(size_t len)
{
	unsigned char *m = malloc(len);
	static const char head[] = "From: a@x\r\nSubject: caf\xc3\xa9\r\n\r\n";

	assert_non_null(m);
	for (size_t i = 0; i < len; i++)
		m[i] = (unsigned char)(i * 7 + 3);
	memcpy(m, head, sizeof(head) - 1);
	m[len - 2] = '\r';
	m[len - 1] = '\n';
	return m;
}

static void
test_check_file(const char *path, const unsigned char *want, size_t len)
{
	struct stat sb;
	unsigned char *got;
	int fd;

	fd = open(path, O_RDONLY);
	assert_true(fd != -1);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_size, len);
	assert_int_equal(sb.st_mode & 0777, 0600);
	got = malloc(len + 1);
	assert_non_null(got);
	assert_int_equal(read(fd, got, len + 1), len);
	assert_memory_equal(got, want, len);
	free(got);
	close(fd);
}

/* Open in dirs[0], write msg in uneven chunks, return the tmp. */
static void
test_write(struct maildir_tmp *t, const char *dir, const unsigned char *msg,
    size_t len)
{
	const char *err = NULL;
	size_t off = 0, chunk = 1;

	if (maildir_tmp_open(dir, t, &err) == -1)
		fail_msg("maildir_tmp_open: %s", err);
	while (off < len) {
		if (chunk > len - off)
			chunk = len - off;
		if (maildir_tmp_write(t, msg + off, chunk, &err) == -1)
			fail_msg("maildir_tmp_write: %s", err);
		off += chunk;
		chunk = chunk * 3 + 1;
	}
	assert_int_equal(t->size, len);
}

/* Each of dirs must hold exactly NAME,S=len in new/, and empty tmp/. */
static void
test_check_delivered(const char *const *dirs, size_t n, const char *name,
    const unsigned char *msg, size_t len, nlink_t nlink)
{
	char path[1400], got[300], want[300];
	struct stat sb, first;

	snprintf(want, sizeof(want), "%s,S=%zu", name, len);
	for (size_t i = 0; i < n; i++) {
		test_path(path, sizeof(path), "%s/new", dirs[i]);
		assert_int_equal(test_count(path, got, sizeof(got)), 1);
		assert_string_equal(got, want);
		test_path(path, sizeof(path), "%s/tmp", dirs[i]);
		assert_int_equal(test_count(path, NULL, 0), 0);
		test_path(path, sizeof(path), "%s/new/%s", dirs[i], want);
		test_check_file(path, msg, len);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_nlink, nlink);
		if (i == 0)
			first = sb;
		else if (nlink > 1)
			assert_int_equal(sb.st_ino, first.st_ino);
	}
}

static bool
test_is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* No dirs[i]/new nor dirs[i]/tmp (those that exist) holds anything. */
static void
test_check_empty(const char *const *dirs, size_t n)
{
	static const char *const subs[] = { "new", "tmp" };
	char path[1400];

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < 2; j++) {
			test_path(path, sizeof(path), "%s/%s", dirs[i],
			    subs[j]);
			if (test_is_dir(path) && test_count(path, NULL, 0) != 0)
				fail_msg("%s is not empty", path);
		}
}

/*
 * maildir_create
 */

static void
test_create_modes(void **state)
{
	char md[1200], p[1300];
	const char *err = NULL;
	static const char *const subs[] = { "tmp", "new", "cur" };
	mode_t old = umask(077);

	test_path(md, sizeof(md), "%s/p1/p2/user", (char *)*state);
	assert_int_equal(maildir_create(md, (uid_t)-1, (gid_t)-1, &err), 0);
	assert_int_equal(test_mode(test_path(p, sizeof(p), "%s/p1",
	    (char *)*state)), 0755);
	assert_int_equal(test_mode(test_path(p, sizeof(p), "%s/p1/p2",
	    (char *)*state)), 0755);
	assert_int_equal(test_mode(md), 0700);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(test_mode(test_path(p, sizeof(p), "%s/%s",
		    md, subs[i])), 0700);
	/* idempotent, also with a trailing slash */
	assert_int_equal(maildir_create(md, (uid_t)-1, (gid_t)-1, &err), 0);
	strcat(md, "//");
	assert_int_equal(maildir_create(md, (uid_t)-1, (gid_t)-1, &err), 0);
	umask(old);
}

static void
test_create_repairs(void **state)
{
	char md[1200], p[1300];
	const char *err = NULL;

	/* a half-made maildir gets its missing subdirectories */
	test_path(md, sizeof(md), "%s/user", (char *)*state);
	assert_int_equal(mkdir(md, 0700), 0);
	assert_int_equal(mkdir(test_path(p, sizeof(p), "%s/new", md), 0700), 0);
	assert_int_equal(maildir_create(md, (uid_t)-1, (gid_t)-1, &err), 0);
	assert_int_equal(test_mode(test_path(p, sizeof(p), "%s/tmp", md)),
	    0700);
	assert_int_equal(test_mode(test_path(p, sizeof(p), "%s/cur", md)),
	    0700);
}

static void
test_create_not_dir(void **state)
{
	char md[1200], p[1300];
	const char *err = NULL;
	int fd;

	test_path(md, sizeof(md), "%s/file", (char *)*state);
	fd = open(md, O_CREAT | O_WRONLY, 0600);
	assert_true(fd != -1);
	close(fd);
	assert_int_equal(maildir_create(md, (uid_t)-1, (gid_t)-1, &err), -1);
	assert_non_null(strstr(err, md));
	assert_non_null(strstr(err, "Not a directory"));
	/* a parent that is a file */
	test_path(p, sizeof(p), "%s/sub/user", md);
	assert_int_equal(maildir_create(p, (uid_t)-1, (gid_t)-1, &err), -1);
}

static void
test_create_dotdot(void **state)
{
	static const char *const bad[] = {
		"..", "../x", "x/..", "x/../y", "x/../", "x//..//y",
	};
	static const char *const good[] = { "a..b", "..a", "b..", "./c" };
	char md[1200];
	const char *err = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_path(md, sizeof(md), "%s/%s", (char *)*state, bad[i]);
		assert_int_equal(maildir_create(md, (uid_t)-1, (gid_t)-1,
		    &err), -1);
		assert_non_null(strstr(err, "\"..\""));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		test_path(md, sizeof(md), "%s/%s", (char *)*state, good[i]);
		assert_int_equal(maildir_create(md, (uid_t)-1, (gid_t)-1,
		    &err), 0);
	}
	assert_int_equal(maildir_create("", (uid_t)-1, (gid_t)-1, &err), -1);
}

static void
test_create_chown(void **state)
{
	static const char *const subs[] = { "", "/tmp", "/new", "/cur" };
	char md[1200], p[1300], link[1200];
	const char *err = NULL;
	struct stat sb;

	if (geteuid() != 0)
		skip();
	test_path(md, sizeof(md), "%s/dom/user", (char *)*state);
	assert_int_equal(maildir_create(md, 65534, 65534, &err), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(stat(test_path(p, sizeof(p), "%s%s", md,
		    subs[i]), &sb), 0);
		assert_int_equal(sb.st_uid, 65534);
		assert_int_equal(sb.st_gid, 65534);
	}
	/* parents stay root's */
	assert_int_equal(stat(test_path(p, sizeof(p), "%s/dom",
	    (char *)*state), &sb), 0);
	assert_int_equal(sb.st_uid, 0);
	/* chowning never follows a symlink */
	test_path(link, sizeof(link), "%s/dom/link", (char *)*state);
	assert_int_equal(symlink(md, link), 0);
	assert_int_equal(maildir_create(link, 0, 0, &err), -1);
	assert_non_null(strstr(err, "open("));
	assert_int_equal(stat(md, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
}

/*
 * Delivery
 */

static void
test_commit_one(void **state)
{
	char md[1200];
	const char *dirs[1], *err = NULL;
	struct maildir_tmp t;
	size_t len = 300 * 1024 + 17;
	unsigned char *msg = test_message(len);

	test_maildir(md, sizeof(md), *state, "user");
	dirs[0] = md;
	test_write(&t, md, msg, len);
	if (maildir_tmp_commit(&t, dirs, 1, &err) == -1)
		fail_msg("commit: %s", err);
	assert_int_equal(t.fd, -1);
	test_check_delivered(dirs, 1, t.name, msg, len, 1);
	maildir_tmp_abort(&t);		/* harmless after commit */
	test_check_delivered(dirs, 1, t.name, msg, len, 1);
	free(msg);
}

static void
test_commit_three(void **state)
{
	char md[3][1200];
	const char *dirs[3], *err = NULL;
	struct maildir_tmp t;
	size_t len = 5000;
	unsigned char *msg = test_message(len);

	for (size_t i = 0; i < 3; i++) {
		test_maildir(md[i], sizeof(md[i]), *state,
		    (const char *[]){ "a", "b", "c" }[i]);
		dirs[i] = md[i];
	}
	test_write(&t, md[1], msg, len);
	if (maildir_tmp_commit(&t, dirs, 3, &err) == -1)
		fail_msg("commit: %s", err);
	test_check_delivered(dirs, 3, t.name, msg, len, 3);
	free(msg);
}

static void
test_commit_dups(void **state)
{
	char a[1200], a2[1300], b[1200];
	const char *dirs[4], *err = NULL;
	struct maildir_tmp t;
	size_t len = 100;
	unsigned char *msg = test_message(len);

	test_maildir(a, sizeof(a), *state, "a");
	test_maildir(b, sizeof(b), *state, "b");
	test_path(a2, sizeof(a2), "%s/", a);	/* same dir, other spelling */
	dirs[0] = a;
	dirs[1] = b;
	dirs[2] = a;
	dirs[3] = a2;
	test_write(&t, a, msg, len);
	if (maildir_tmp_commit(&t, dirs, 4, &err) == -1)
		fail_msg("commit: %s", err);
	test_check_delivered(dirs, 2, t.name, msg, len, 2);
	free(msg);
}

static void
test_commit_empty_msg(void **state)
{
	char md[1200], p[1400];
	const char *dirs[1], *err = NULL;
	struct maildir_tmp t;

	test_maildir(md, sizeof(md), *state, "user");
	dirs[0] = md;
	assert_int_equal(maildir_tmp_open(md, &t, &err), 0);
	assert_int_equal(maildir_tmp_commit(&t, dirs, 1, &err), 0);
	test_path(p, sizeof(p), "%s/new/%s,S=0", md, t.name);
	assert_int_equal(access(p, F_OK), 0);
}

static void
test_abort(void **state)
{
	char md[1200], p[1300];
	const char *err = NULL;
	struct maildir_tmp t;
	unsigned char *msg = test_message(64);

	test_maildir(md, sizeof(md), *state, "user");
	test_write(&t, md, msg, 64);
	test_path(p, sizeof(p), "%s/tmp", md);
	assert_int_equal(test_count(p, NULL, 0), 1);
	maildir_tmp_abort(&t);
	maildir_tmp_abort(&t);
	assert_int_equal(t.fd, -1);
	assert_int_equal(test_count(p, NULL, 0), 0);
	assert_int_equal(maildir_tmp_write(&t, "x", 1, &err), -1);
	free(msg);
}

static void
test_commit_no_dirs(void **state)
{
	char md[1200], p[1300];
	const char *err = NULL;
	struct maildir_tmp t;

	test_maildir(md, sizeof(md), *state, "user");
	assert_int_equal(maildir_tmp_open(md, &t, &err), 0);
	assert_int_equal(maildir_tmp_commit(&t, NULL, 0, &err), -1);
	assert_int_equal(t.fd, -1);
	assert_int_equal(test_count(test_path(p, sizeof(p), "%s/tmp", md),
	    NULL, 0), 0);
}

enum test_break { BREAK_RMDIR_NEW, BREAK_NEW_IS_FILE, BREAK_NO_MAILDIR };

/* dirs a, b, c with one of them broken at position bad: nothing may be
 * left in any new/ or tmp/. */
static void
test_rollback_case(const char *base, size_t bad, enum test_break how)
{
	char md[3][1200], p[1300];
	const char *dirs[3], *err = NULL;
	struct maildir_tmp t;
	unsigned char *msg = test_message(4000);
	size_t first = bad == 0 ? 1 : 0;
	int fd;

	for (size_t i = 0; i < 3; i++) {
		test_path(p, sizeof(p), "%s/r%zu%d", base, bad, (int)how);
		test_maildir(md[i], sizeof(md[i]), p,
		    (const char *[]){ "a", "b", "c" }[i]);
		dirs[i] = md[i];
	}
	test_path(p, sizeof(p), "%s/new", md[bad]);
	if (how == BREAK_NO_MAILDIR)
		test_rm_rf(md[bad]);
	else
		assert_int_equal(rmdir(p), 0);
	if (how == BREAK_NEW_IS_FILE) {
		fd = open(p, O_CREAT | O_WRONLY, 0600);
		assert_true(fd != -1);
		close(fd);
	}
	test_write(&t, md[first], msg, 4000);
	assert_int_equal(maildir_tmp_commit(&t, dirs, 3, &err), -1);
	assert_int_equal(t.fd, -1);
	assert_non_null(err);
	assert_true(strncmp(err, "link(", 5) == 0);
	assert_non_null(strstr(err, md[bad]));
	assert_non_null(strstr(err, how == BREAK_NEW_IS_FILE ?
	    "Not a directory" : "No such file or directory"));
	test_check_empty(dirs, 3);
	free(msg);
}

static void
test_rollback(void **state)
{
	for (size_t bad = 0; bad < 3; bad++) {
		test_rollback_case(*state, bad, BREAK_RMDIR_NEW);
		test_rollback_case(*state, bad, BREAK_NEW_IS_FILE);
		test_rollback_case(*state, bad, BREAK_NO_MAILDIR);
	}
}

/*
 * Names
 */

struct test_names {
	const char	*dir;
	char		(*names)[MAILDIR_NAME_MAX + 1];
	int		 failed;
};

static void *
test_names_run(void *arg)
{
	struct test_names *tn = arg;
	struct maildir_tmp t;
	const char *err;

	for (size_t i = 0; i < NAMES_PER_THREAD; i++) {
		if (maildir_name_new(tn->names[2 * i], MAILDIR_NAME_MAX,
		    &err) == -1 ||
		    maildir_tmp_open(tn->dir, &t, &err) == -1) {
			tn->failed++;
			continue;
		}
		memcpy(tn->names[2 * i + 1], t.name, sizeof(t.name));
		close(t.fd);
	}
	return NULL;
}

static int
test_strcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_check_name(const char *name)
{
	unsigned long long secs, q;
	long usec, pid;
	char rnd[17], host[256];
	int n = 0;

	assert_int_equal(sscanf(name, "%llu.M%6ldP%ldQ%lluR%16[0-9a-f].%255s%n",
	    &secs, &usec, &pid, &q, rnd, host, &n), 6);
	assert_int_equal(n, strlen(name));
	assert_int_equal(strlen(rnd), 16);
	assert_int_equal(pid, getpid());
	assert_true(usec >= 0 && usec < 1000000);
	assert_true(llabs((long long)secs - (long long)time(NULL)) < 60);
	assert_null(strchr(name, '/'));
	assert_null(strchr(name, ':'));
}

static void
test_names_unique(void **state)
{
	char md[1200], p[1300];
	struct test_names tn[2];
	pthread_t th[2];
	char (*all)[MAILDIR_NAME_MAX + 1];
	size_t total = 2 * 2 * NAMES_PER_THREAD;

	test_maildir(md, sizeof(md), *state, "user");
	all = calloc(total, sizeof(*all));
	assert_non_null(all);
	for (size_t i = 0; i < 2; i++) {
		tn[i].dir = md;
		tn[i].names = all + i * 2 * NAMES_PER_THREAD;
		tn[i].failed = 0;
		assert_int_equal(pthread_create(&th[i], NULL, test_names_run,
		    &tn[i]), 0);
	}
	for (size_t i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(tn[i].failed, 0);
	}
	test_check_name(all[0]);
	test_check_name(all[total - 1]);
	qsort(all, total, sizeof(*all), test_strcmp);
	for (size_t i = 1; i < total; i++)
		if (strcmp(all[i - 1], all[i]) == 0)
			fail_msg("duplicate name %s", all[i]);
	test_path(p, sizeof(p), "%s/tmp", md);
	assert_int_equal(test_count(p, NULL, 0), 2 * NAMES_PER_THREAD);
	free(all);
}

/* In a new UTS namespace, a host name with '/', ':' and ',' is escaped. */
static void
test_names_host(void **state)
{
	static const char host[] = "mx/1:2,3";
	char name[MAILDIR_NAME_MAX + 1];
	const char *err, *want = ".mx\\0571\\0722\\0543";
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (unshare(CLONE_NEWUTS) == -1 ||
		    sethostname(host, sizeof(host) - 1) == -1)
			_exit(77);
		if (maildir_name_new(name, sizeof(name), &err) == -1)
			_exit(1);
		if (strlen(name) < strlen(want) ||
		    strcmp(name + strlen(name) - strlen(want), want) != 0) {
			fprintf(stderr, "name %s\n", name);
			_exit(2);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * maildir_clean_tmp
 */

static void
test_touch(const char *path, time_t age, bool dir)
{
	struct timespec ts[2];
	int fd;

	if (dir) {
		assert_int_equal(mkdir(path, 0700), 0);
	} else {
		fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
		assert_true(fd != -1);
		close(fd);
	}
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW),
	    0);
}

static void
test_clean_tmp(void **state)
{
	char md[1200], p[1400];
	const time_t h = 3600;

	test_maildir(md, sizeof(md), *state, "user");
	test_touch(test_path(p, sizeof(p), "%s/tmp/old", md), 37 * h, false);
	test_touch(test_path(p, sizeof(p), "%s/tmp/older", md), 900 * h,
	    false);
	test_touch(test_path(p, sizeof(p), "%s/tmp/young", md), 35 * h,
	    false);
	test_touch(test_path(p, sizeof(p), "%s/tmp/fresh", md), 0, false);
	test_touch(test_path(p, sizeof(p), "%s/tmp/olddir", md), 37 * h,
	    true);
	test_touch(test_path(p, sizeof(p), "%s/new/oldnew", md), 37 * h,
	    false);
	maildir_clean_tmp(md);
	assert_int_equal(access(test_path(p, sizeof(p), "%s/tmp/old", md),
	    F_OK), -1);
	assert_int_equal(access(test_path(p, sizeof(p), "%s/tmp/older", md),
	    F_OK), -1);
	assert_int_equal(access(test_path(p, sizeof(p), "%s/tmp/young", md),
	    F_OK), 0);
	assert_int_equal(access(test_path(p, sizeof(p), "%s/tmp/fresh", md),
	    F_OK), 0);
	assert_int_equal(access(test_path(p, sizeof(p), "%s/tmp/olddir", md),
	    F_OK), 0);
	assert_int_equal(access(test_path(p, sizeof(p), "%s/new/oldnew", md),
	    F_OK), 0);
	maildir_clean_tmp(test_path(p, sizeof(p), "%s/missing", md));
}

/*
 * EXDEV: the first maildir on disk, others on /dev/shm (tmpfs).
 */

struct test_shm {
	char	*disk;
	char	*shm;
};

static int
test_shm_setup(void **state)
{
	struct test_shm *ts = calloc(1, sizeof(*ts));
	struct stat a, b;

	assert_non_null(ts);
	test_setup(state);
	ts->disk = *state;
	*state = ts;
	if (stat("/dev/shm", &b) == -1 || stat(ts->disk, &a) == -1 ||
	    a.st_dev == b.st_dev || access("/dev/shm", W_OK) == -1)
		return 0;
	ts->shm = strdup("/dev/shm/maildir_test.XXXXXX");
	assert_non_null(ts->shm);
	assert_non_null(mkdtemp(ts->shm));
	return 0;
}

static int
test_shm_teardown(void **state)
{
	struct test_shm *ts = *state;

	if (ts->shm != NULL)
		test_rm_rf(ts->shm);
	free(ts->shm);
	test_rm_rf(ts->disk);
	free(ts->disk);
	free(ts);
	return 0;
}

static void
test_exdev(void **state)
{
	struct test_shm *ts = *state;
	char a[1200], b[1200], c[1200];
	const char *dirs[4], *err = NULL;
	struct maildir_tmp t;
	size_t len = 70000;
	unsigned char *msg;

	if (ts->shm == NULL)
		skip();
	msg = test_message(len);
	test_maildir(a, sizeof(a), ts->disk, "a");
	test_maildir(b, sizeof(b), ts->shm, "b");
	test_maildir(c, sizeof(c), ts->shm, "c");
	dirs[0] = a;
	dirs[1] = b;
	dirs[2] = c;
	dirs[3] = b;		/* listed twice: one copy */
	test_write(&t, a, msg, len);
	if (maildir_tmp_commit(&t, dirs, 4, &err) == -1)
		fail_msg("commit: %s", err);
	test_check_delivered(dirs, 3, t.name, msg, len, 1);
	free(msg);
}

static void
test_exdev_rollback(void **state)
{
	struct test_shm *ts = *state;
	char a[1200], b[1200], c[1200], p[1300];
	const char *dirs[3], *err = NULL;
	struct maildir_tmp t;
	unsigned char *msg;

	if (ts->shm == NULL)
		skip();
	msg = test_message(3000);
	test_maildir(a, sizeof(a), ts->disk, "a");
	test_maildir(b, sizeof(b), ts->shm, "b");
	test_maildir(c, sizeof(c), ts->shm, "c");
	assert_int_equal(rmdir(test_path(p, sizeof(p), "%s/tmp", c)), 0);
	dirs[0] = a;
	dirs[1] = b;
	dirs[2] = c;
	test_write(&t, a, msg, 3000);
	assert_int_equal(maildir_tmp_commit(&t, dirs, 3, &err), -1);
	assert_true(strncmp(err, "open(", 5) == 0);
	assert_non_null(strstr(err, c));
	test_check_empty(dirs, 3);
	free(msg);
}

#define TEST(name, fn) \
	{ "store/maildir/" name, fn, test_setup, test_teardown, NULL }
#define TEST_SHM(name, fn) \
	{ "store/maildir/" name, fn, test_shm_setup, test_shm_teardown, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST("create/modes", test_create_modes),
		TEST("create/repairs", test_create_repairs),
		TEST("create/not_dir", test_create_not_dir),
		TEST("create/dotdot", test_create_dotdot),
		TEST("create/chown", test_create_chown),
		TEST("commit/one", test_commit_one),
		TEST("commit/three", test_commit_three),
		TEST("commit/dups", test_commit_dups),
		TEST("commit/empty_msg", test_commit_empty_msg),
		TEST("commit/no_dirs", test_commit_no_dirs),
		TEST("abort", test_abort),
		TEST("commit/rollback", test_rollback),
		TEST("names/unique", test_names_unique),
		TEST("names/host", test_names_host),
		TEST("clean_tmp", test_clean_tmp),
		TEST_SHM("commit/exdev", test_exdev),
		TEST_SHM("commit/exdev_rollback", test_exdev_rollback),
	};
	const char *env = getenv("FACTEUR_TEST_TMP");
	int rv;

	if (env != NULL && *env != '\0') {
		test_mkdir_p(env);
		snprintf(test_base, sizeof(test_base), "%s/maildir_test.XXXXXX",
		    env);
	} else
		snprintf(test_base, sizeof(test_base),
		    "/tmp/maildir_test.XXXXXX");
	if (mkdtemp(test_base) == NULL) {
		perror(test_base);
		return 1;
	}
	rv = cmocka_run_group_tests_name("store/maildir", tests, NULL, NULL);
	test_rm_rf(test_base);
	return rv;
}
