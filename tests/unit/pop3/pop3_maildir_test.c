/* pop3_maildir_test.c: the POP3 view of a Maildir: new/ moved to cur/
 * at open, delivery order, sizes, UIDLs stable across sessions and
 * flag changes, the lock, files renamed or removed under an open
 * session, and UPDATE (unlink, \Seen).
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
#include <unistd.h>

#include "pop3/pop3_maildir.h"

static char	test_base[512];
static char	test_dir[600];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	const char *env = getenv("FACTEUR_TEST_TMP");

	if (env != NULL && *env != '\0') {
		mkdir(env, 0755);
		snprintf(test_base, sizeof(test_base), "%s/pop3_maildir.XXXXXX",
		    env);
	} else {
		snprintf(test_base, sizeof(test_base),
		    "/tmp/pop3_maildir.XXXXXX");
	}
	if (mkdtemp(test_base) == NULL)
		return -1;
	snprintf(test_dir, sizeof(test_dir), "%s/md", test_base);
	return 0;
}

static int
teardown(void **state)
{
	nftw(test_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
put(const char *sub, const char *name, const char *content)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", test_dir, sub);
	mkdir(test_dir, 0700);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/%s", test_dir, sub, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(content, f);
	fclose(f);
}

static bool
exists(const char *sub, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/%s", test_dir, sub, name);
	return access(path, F_OK) == 0;
}

static size_t
count(const char *sub)
{
	char path[1024];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", test_dir, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static struct pop3_mailbox *
open_ok(void)
{
	struct pop3_mailbox *mb = pop3_mailbox_new(test_dir);
	const char *err = NULL;

	assert_int_equal(pop3_mailbox_open(mb, &err), POP3_OPEN_OK);
	return mb;
}

static void
test_open_empty(void **state)
{
	struct pop3_mailbox *mb = open_ok();

	/* created on the fly, with the lock file */
	assert_int_equal(mb->n, 0);
	assert_true(exists("cur", "") && exists("new", "") &&
	    exists("tmp", ""));
	assert_true(exists("", POP3_LOCK_NAME));
	pop3_mailbox_free(&mb);
	assert_null(mb);
	pop3_mailbox_free(&mb);		/* NULL is fine */
}

static void
test_open_order(void **state)
{
	struct pop3_mailbox *mb;
	char u1[POP3_UIDL_MAX + 1], u2[POP3_UIDL_MAX + 1];

	put("new", "1700000002.M5P1Q1.h,S=5", "c\r\nc\r\n");
	put("new", "1700000001.M900P1Q1.h,S=3", "b\r\n");
	put("cur", "1700000001.M10P1Q1.h,S=3:2,S", "a\r\n");
	put("cur", "1700000001.M10P1Q2.h:2,", "bare\n");	/* no S= */
	put("new", ".hidden", "x");
	mb = open_ok();
	assert_int_equal(mb->moved, 2);
	assert_int_equal(count("new"), 0);
	assert_true(exists("new", ".hidden"));	/* not a message */
	assert_int_equal(mb->n, 4);
	assert_string_equal(mb->msgs[0].name, "1700000001.M10P1Q1.h,S=3:2,S");
	assert_string_equal(mb->msgs[1].name, "1700000001.M10P1Q2.h:2,");
	assert_string_equal(mb->msgs[2].name, "1700000001.M900P1Q1.h,S=3:2,");
	assert_string_equal(mb->msgs[3].name, "1700000002.M5P1Q1.h,S=5:2,");
	assert_int_equal(mb->msgs[0].size, 3);
	assert_int_equal(mb->msgs[1].size, 5);	/* from stat */
	assert_int_equal(mb->msgs[3].size, 5);
	pop3_mailbox_uidl(mb, 2, u1);
	assert_string_equal(u1, "1700000001.M900P1Q1.h");
	pop3_mailbox_free(&mb);

	/* the next session sees the same UIDLs in the same order */
	mb = open_ok();
	assert_int_equal(mb->moved, 0);
	assert_int_equal(mb->n, 4);
	pop3_mailbox_uidl(mb, 2, u2);
	assert_string_equal(u1, u2);
	pop3_mailbox_free(&mb);
}

static void
test_lock(void **state)
{
	struct pop3_mailbox *a = open_ok(), *b = pop3_mailbox_new(test_dir);
	const char *err = NULL;

	/* a second session, even in the same process, is refused */
	assert_int_equal(pop3_mailbox_open(b, &err), POP3_OPEN_LOCKED);
	assert_non_null(err);
	pop3_mailbox_free(&b);
	pop3_mailbox_free(&a);
	b = open_ok();		/* released with the first */
	pop3_mailbox_free(&b);
}

static void
test_renamed_and_removed(void **state)
{
	struct pop3_mailbox *mb;
	char from[1024], to[1024], buf[16];
	ssize_t n;
	int fd;

	put("new", "1700000001.M1P1Q1.h,S=3", "a\r\n");
	put("new", "1700000001.M2P1Q1.h,S=3", "b\r\n");
	mb = open_ok();
	assert_int_equal(mb->n, 2);
	/* IMAP sets \Flagged on the first, expunges the second */
	snprintf(from, sizeof(from), "%s/cur/1700000001.M1P1Q1.h,S=3:2,",
	    test_dir);
	snprintf(to, sizeof(to), "%s/cur/1700000001.M1P1Q1.h,S=3:2,F",
	    test_dir);
	assert_int_equal(rename(from, to), 0);
	snprintf(from, sizeof(from), "%s/cur/1700000001.M2P1Q1.h,S=3:2,",
	    test_dir);
	assert_int_equal(unlink(from), 0);
	/* a new delivery does not show in this session */
	put("new", "1700000009.M1P1Q1.h,S=3", "z\r\n");

	fd = pop3_mailbox_open_msg(mb, 0);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "a\r\n", 3);
	close(fd);
	assert_string_equal(mb->msgs[0].name, "1700000001.M1P1Q1.h,S=3:2,F");
	errno = 0;
	assert_int_equal(pop3_mailbox_open_msg(mb, 1), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mb->n, 2);

	/* UPDATE: the expunged one counts as deleted, \Seen merges with F */
	mb->msgs[0].retrieved = true;
	mb->msgs[1].deleted = true;
	const char *err = NULL;
	assert_int_equal(pop3_mailbox_update(mb, &err), 0);
	assert_int_equal(mb->unlinked, 1);
	assert_int_equal(mb->seen, 1);
	assert_int_equal(mb->failed, 0);
	pop3_mailbox_free(&mb);
	assert_true(exists("cur", "1700000001.M1P1Q1.h,S=3:2,FS"));
	assert_true(exists("new", "1700000009.M1P1Q1.h,S=3"));
}

static void
test_update(void **state)
{
	struct pop3_mailbox *mb;
	const char *err = NULL;

	put("new", "1700000001.M1P1Q1.h,S=3", "a\r\n");
	put("new", "1700000001.M2P1Q1.h,S=3", "b\r\n");
	put("new", "1700000001.M3P1Q1.h,S=3", "c\r\n");
	put("cur", "1700000001.M4P1Q1.h,S=3:2,RS", "d\r\n");
	mb = open_ok();
	assert_int_equal(mb->n, 4);
	mb->msgs[0].deleted = true;
	mb->msgs[0].retrieved = true;	/* deleted wins */
	mb->msgs[1].retrieved = true;
	mb->msgs[3].retrieved = true;	/* already seen: no rename */
	assert_int_equal(pop3_mailbox_update(mb, &err), 0);
	assert_int_equal(mb->unlinked, 1);
	assert_int_equal(mb->seen, 1);
	pop3_mailbox_free(&mb);
	assert_int_equal(count("cur"), 3);
	assert_false(exists("cur", "1700000001.M1P1Q1.h,S=3:2,"));
	assert_true(exists("cur", "1700000001.M2P1Q1.h,S=3:2,S"));
	assert_true(exists("cur", "1700000001.M3P1Q1.h,S=3:2,"));
	assert_true(exists("cur", "1700000001.M4P1Q1.h,S=3:2,RS"));
}

static void
test_bad_dir(void **state)
{
	struct pop3_mailbox *mb;
	const char *err = NULL;
	char path[1024];

	/* a file where the Maildir should be */
	snprintf(path, sizeof(path), "%s/file", test_base);
	fclose(fopen(path, "w"));
	mb = pop3_mailbox_new(path);
	assert_int_equal(pop3_mailbox_open(mb, &err), POP3_OPEN_ERROR);
	assert_non_null(err);
	pop3_mailbox_free(&mb);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renamed_and_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir, setup, teardown),
	};

	return cmocka_run_group_tests_name("pop3/pop3_maildir", tests, NULL,
	    NULL);
}
