/* mstore_proc_test.c: several processes on one user's store at once:
 * deliveries into new/, APPENDs, STATUS and SELECT syncs, STORE and
 * EXPUNGE racing; no file may get two UIDs, no UID two files, nothing
 * may be lost.  Also POP3 (pop3_maildir.c) working on the same Maildir
 * between IMAP sessions.
 *
 * Temp dirs live under $FACTEUR_TEST_TMP when set, else /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imap/imap_parse.h"
#include "imap/mstore.h"
#include "pop3/pop3_maildir.h"
#include "store/maildir.h"

#define PROCS	4
#define ROUNDS	30

static char	test_base[512];
static char	root[600];

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
		snprintf(test_base, sizeof(test_base), "%s/mstore_proc.XXXXXX",
		    env);
	} else
		snprintf(test_base, sizeof(test_base),
		    "/tmp/mstore_proc.XXXXXX");
	if (mkdtemp(test_base) == NULL)
		return -1;
	snprintf(root, sizeof(root), "%s/Maildir", test_base);
	return 0;
}

static int
teardown(void **state)
{
	nftw(test_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int
deliver(const char *dir, const char *body)
{
	struct maildir_tmp t;
	const char *err;

	if (maildir_tmp_open(dir, &t, &err) == -1 ||
	    maildir_tmp_write(&t, body, strlen(body), &err) == -1 ||
	    maildir_tmp_commit(&t, &dir, 1, &err) == -1)
		return -1;
	return 0;
}

/* One child: deliveries, appends, syncs; exit status = failures. */
static int
child(int id)
{
	struct mstore_status s;
	struct mstore_view *v;
	struct mstore *st;
	const char *err;
	char body[64];
	uint32_t uv, uid;
	int fails = 0;

	if (mstore_open(root, &st, &err) != 0)
		return 100;
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(body, sizeof(body), "From: %d\r\n\r\n%d\r\n", id, i);
		if (i % 3 == 0)
			fails += deliver(root, body) != 0;
		else
			fails += mstore_append(st, "INBOX", body, strlen(body),
			    0, NULL, 0, 0, &uv, &uid, &err) != 0;
		fails += mstore_status(st, "INBOX", &s, &err) != 0;
		if (i % 5 == 0) {
			if (mstore_view_open(st, "INBOX", i % 2, &v,
			    &err) != 0) {
				fails++;
				continue;
			}
			mstore_view_close(&v);
		}
		if (i % 7 == 0)
			mstore_idle(st);
	}
	mstore_close(&st);
	return fails;
}

static void
check_names(size_t want)
{
	char path[1024];
	struct dirent *de;
	uint32_t seen[PROCS * ROUNDS + 8] = { 0 };
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cur", root);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		const char *u;
		unsigned long uid;

		if (de->d_name[0] == '.')
			continue;
		n++;
		assert_non_null(u = strstr(de->d_name, ",U="));
		uid = strtoul(u + 3, NULL, 10);
		assert_true(uid >= 1 && uid <= want);
		assert_int_equal(seen[uid], 0);	/* one file per UID */
		seen[uid] = 1;
	}
	closedir(d);
	assert_int_equal(n, want);
}

static void
test_concurrent(void **state)
{
	struct mstore_view *v;
	struct mstore *st;
	const char *err;
	pid_t pids[PROCS];
	int status;

	/* created once before the race (as a login would) */
	assert_int_equal(mstore_open(root, &st, &err), 0);
	mstore_close(&st);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(child(i));
	}
	for (int i = 0; i < PROCS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(mstore_open(root, &st, &err), 0);
	assert_int_equal(mstore_view_open(st, "INBOX", false, &v, &err), 0);
	assert_int_equal(mstore_view_count(v), PROCS * ROUNDS);
	for (uint32_t i = 0; i < PROCS * ROUNDS; i++)
		assert_int_equal(mstore_view_msg(v, i)->uid, i + 1);
	mstore_view_close(&v);
	mstore_close(&st);
	check_names(PROCS * ROUNDS);
}

/* Sessions in two processes: one STOREs and EXPUNGEs while the other
 * refreshes; the refreshing side ends with the same state. */
static void
test_store_race(void **state)
{
	struct mstore_update_ops ops = { 0 };
	struct mstore_view *v;
	struct mstore *st;
	const char *err;
	pid_t pid;
	int status;

	assert_int_equal(mstore_open(root, &st, &err), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(deliver(root, "x\r\n"), 0);
	assert_int_equal(mstore_view_open(st, "INBOX", false, &v, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mstore_view *cv;
		struct mstore *cst;
		size_t nf;
		int fails = 0;

		if (mstore_open(root, &cst, &err) != 0 ||
		    mstore_view_open(cst, "INBOX", false, &cv, &err) != 0)
			_exit(100);
		for (uint32_t i = 0; i < 50; i++) {
			uint32_t idx = i;

			fails += mstore_view_store(cv, &idx, 1,
			    MSTORE_FLAGS_ADD, i % 2 ? IMAP_FLAG_DELETED :
			    IMAP_FLAG_SEEN, 0, 0, NULL, &nf, &err) != 0;
		}
		fails += mstore_view_expunge(cv, NULL, 0, &err) != 0;
		mstore_view_close(&cv);
		mstore_close(&cst);
		_exit(fails);
	}
	for (int i = 0; i < 200; i++)
		assert_int_equal(mstore_view_refresh(v, i % 2, &ops, NULL,
		    &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(mstore_view_refresh(v, true, &ops, NULL, &err), 0);
	assert_int_equal(mstore_view_count(v), 25);
	for (uint32_t i = 0; i < 25; i++) {
		assert_int_equal(mstore_view_msg(v, i)->uid, 2 * i + 1);
		assert_int_equal(mstore_view_msg(v, i)->flags, IMAP_FLAG_SEEN);
	}
	mstore_view_close(&v);
	mstore_close(&st);
}

/* POP3 and IMAP on one Maildir: POP3 moves new/ to cur/ without UIDs,
 * marks \Seen and deletes; IMAP follows, and POP3 reads IMAP's names. */
static void
test_pop3(void **state)
{
	struct mstore_update_ops ops = { 0 };
	struct pop3_mailbox *mb;
	struct mstore_view *v;
	struct mstore *st;
	const char *err;
	size_t nf;
	uint32_t idx = 0;
	int fd;

	assert_int_equal(maildir_create(root, (uid_t)-1, (gid_t)-1, &err), 0);
	assert_int_equal(deliver(root, "one\r\n"), 0);
	assert_int_equal(deliver(root, "two\r\n"), 0);
	assert_int_equal(deliver(root, "three\r\n"), 0);
	mb = pop3_mailbox_new(root);
	assert_int_equal(pop3_mailbox_open(mb, &err), POP3_OPEN_OK);
	assert_int_equal(mb->n, 3);
	mb->msgs[0].deleted = true;
	mb->msgs[1].retrieved = true;
	assert_int_equal(pop3_mailbox_update(mb, &err), 0);
	pop3_mailbox_free(&mb);

	assert_int_equal(mstore_open(root, &st, &err), 0);
	assert_int_equal(mstore_view_open(st, "INBOX", false, &v, &err), 0);
	assert_int_equal(mstore_view_count(v), 2);
	assert_int_equal(mstore_view_msg(v, 0)->flags, IMAP_FLAG_SEEN);
	assert_int_equal(mstore_view_msg(v, 1)->flags, 0);
	idx = 1;
	assert_int_equal(mstore_view_store(v, &idx, 1, MSTORE_FLAGS_ADD,
	    IMAP_FLAG_FLAGGED, 0, 0, NULL, &nf, &err), 0);

	/* POP3 again: UIDLs stable, sees IMAP's renamed files */
	mb = pop3_mailbox_new(root);
	assert_int_equal(pop3_mailbox_open(mb, &err), POP3_OPEN_OK);
	assert_int_equal(mb->n, 2);
	fd = pop3_mailbox_open_msg(mb, 1);
	assert_true(fd >= 0);
	close(fd);
	mb->msgs[1].retrieved = true;
	mb->msgs[0].deleted = true;
	assert_int_equal(pop3_mailbox_update(mb, &err), 0);
	pop3_mailbox_free(&mb);
	assert_int_equal(mstore_view_refresh(v, true, &ops, NULL, &err), 0);
	assert_int_equal(mstore_view_count(v), 1);
	assert_int_equal(mstore_view_msg(v, 0)->uid, 2);
	assert_int_equal(mstore_view_msg(v, 0)->flags,
	    IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED);
	mstore_view_close(&v);
	mstore_close(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_race, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pop3, setup, teardown),
	};

	return cmocka_run_group_tests_name("imap/mstore_proc", tests, NULL,
	    NULL);
}
