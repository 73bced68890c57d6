/* imap_notify_test.c: folder change notification over a real inotify
 * instance and a real event loop: deliveries, flag renames and unlinks
 * wake every registration of the folder once after the coalescing
 * delay; registrations share the folder's watch; removal (also from
 * inside a callback) stops the calls; a removed folder wakes its
 * sessions; a missing folder gives no watch.
 *
 * Temp dirs live under $FACTEUR_TEST_TMP when set, else /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "imap/imap_session.h"

static char	test_base[512];
static char	dir_a[600], dir_b[600];

struct counter {
	unsigned			 calls;
	struct imap_notify_watch	**remove_self;	/* from inside cb */
	struct imap_notify_watch	**remove_other;
};

static void
count_cb(void *arg)
{
	struct counter *c = arg;

	c->calls++;
	if (c->remove_self != NULL)
		imap_notify_remove(c->remove_self);
	if (c->remove_other != NULL)
		imap_notify_remove(c->remove_other);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
make_folder(const char *dir)
{
	char p[700];

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(p, sizeof(p), "%s/new", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/cur", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tmp", dir);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void
touch(const char *dir, const char *sub, const char *name)
{
	char p[800];
	int fd;

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\r\n", 3), 3);
	close(fd);
}

/* A delivery: written in tmp/, renamed into new/. */
static void
deliver(const char *dir, const char *name)
{
	char from[800], to[800];

	touch(dir, "tmp", name);
	snprintf(from, sizeof(from), "%s/tmp/%s", dir, name);
	snprintf(to, sizeof(to), "%s/new/%s", dir, name);
	assert_int_equal(rename(from, to), 0);
}

static void
run_ms(struct event_base *base, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static int
setup(void **state)
{
	const char *env = getenv("FACTEUR_TEST_TMP");

	if (env != NULL && *env != '\0') {
		mkdir(env, 0755);
		snprintf(test_base, sizeof(test_base), "%s/imap_notify.XXXXXX",
		    env);
	} else {
		snprintf(test_base, sizeof(test_base), "/tmp/imap_notify.XXXXXX");
	}
	if (mkdtemp(test_base) == NULL)
		return -1;
	snprintf(dir_a, sizeof(dir_a), "%s/a", test_base);
	snprintf(dir_b, sizeof(dir_b), "%s/.b", test_base);
	make_folder(dir_a);
	make_folder(dir_b);
	return 0;
}

static int
teardown(void **state)
{
	nftw(test_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
test_delivery_wakes_every_session(void **state)
{
	struct event_base *base = event_base_new();
	struct imap_notify *n = imap_notify_new(base);
	struct counter c1 = { 0 }, c2 = { 0 }, cb = { 0 };
	struct imap_notify_watch *w1, *w2, *wb;

	assert_non_null(n);
	w1 = imap_notify_add(n, dir_a, count_cb, &c1);
	w2 = imap_notify_add(n, dir_a, count_cb, &c2);
	wb = imap_notify_add(n, dir_b, count_cb, &cb);
	assert_non_null(w1);
	assert_non_null(w2);
	assert_non_null(wb);
	assert_string_equal(imap_notify_watch_dir(w1), dir_a);

	/* nothing happens: nobody is called */
	run_ms(base, 100);
	assert_int_equal(c1.calls, 0);

	/* one delivery: each session of the folder once, not the other */
	deliver(dir_a, "1.msg");
	run_ms(base, 10);
	assert_int_equal(c1.calls, 0);	/* not before the delay */
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c1.calls, 1);
	assert_int_equal(c2.calls, 1);
	assert_int_equal(cb.calls, 0);

	/* a burst is coalesced */
	for (int i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "burst%d", i);
		deliver(dir_a, name);
	}
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 4);
	/* 50 events, a few calls at most (a slow machine may span two
	 * delays) */
	assert_true(c1.calls >= 2 && c1.calls <= 5);
	assert_int_equal(c2.calls, c1.calls);

	/* a flag change (rename in cur/) and an expunge (unlink) */
	c1.calls = c2.calls = 0;
	touch(dir_a, "cur", "m:2,");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c1.calls, 1);
	{
		char from[800], to[800];

		snprintf(from, sizeof(from), "%s/cur/m:2,", dir_a);
		snprintf(to, sizeof(to), "%s/cur/m:2,S", dir_a);
		assert_int_equal(rename(from, to), 0);
		run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
		assert_int_equal(c1.calls, 2);
		assert_int_equal(unlink(to), 0);
		run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
		assert_int_equal(c1.calls, 3);
	}
	/* a change of attributes only is nothing to IMAP */
	{
		char p[800];

		snprintf(p, sizeof(p), "%s/new/1.msg", dir_a);
		assert_int_equal(chmod(p, 0600), 0);
		run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
		assert_int_equal(c1.calls, 3);
	}

	/* the other folder on its own */
	deliver(dir_b, "2.msg");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(cb.calls, 1);
	assert_int_equal(c1.calls, 3);

	/* one session leaves: the other still hears; then none */
	imap_notify_remove(&w1);
	assert_null(w1);
	deliver(dir_a, "3.msg");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c1.calls, 3);
	assert_int_equal(c2.calls, 4);
	imap_notify_remove(&w2);
	deliver(dir_a, "4.msg");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c2.calls, 4);

	/* the folder can be watched again afterwards */
	w1 = imap_notify_add(n, dir_a, count_cb, &c1);
	assert_non_null(w1);
	deliver(dir_a, "5.msg");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c1.calls, 4);
	imap_notify_remove(&w1);
	imap_notify_remove(&wb);
	imap_notify_remove(&wb);	/* NULL: nothing */
	imap_notify_free(&n);
	assert_null(n);
	event_base_free(base);
}

/* Callbacks may remove their own registration and others. */
static void
test_remove_inside_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct imap_notify *n = imap_notify_new(base);
	struct counter c[3] = { { 0 } };
	struct imap_notify_watch *w[3];

	for (int i = 0; i < 3; i++)
		w[i] = imap_notify_add(n, dir_a, count_cb, &c[i]);
	/* registrations are called newest first: w[2] removes itself and
	 * w[1], which is then never called */
	c[2].remove_self = &w[2];
	c[2].remove_other = &w[1];
	deliver(dir_a, "x.msg");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c[2].calls, 1);
	assert_int_equal(c[1].calls, 0);
	assert_int_equal(c[0].calls, 1);
	assert_null(w[2]);
	assert_null(w[1]);

	/* the last one removes itself: the folder entry goes after the
	 * callbacks, and a new registration works */
	c[0].remove_self = &w[0];
	deliver(dir_a, "y.msg");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c[0].calls, 2);
	assert_null(w[0]);
	c[0].remove_self = NULL;
	w[0] = imap_notify_add(n, dir_a, count_cb, &c[0]);
	deliver(dir_a, "z.msg");
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_int_equal(c[0].calls, 3);
	imap_notify_remove(&w[0]);
	imap_notify_free(&n);
	event_base_free(base);
}

/* A folder deleted under its sessions wakes them (IN_IGNORED); the
 * registration can still be removed afterwards. */
static void
test_folder_removed(void **state)
{
	struct event_base *base = event_base_new();
	struct imap_notify *n = imap_notify_new(base);
	struct counter c = { 0 };
	struct imap_notify_watch *w;
	char gone[700];

	snprintf(gone, sizeof(gone), "%s/.gone", test_base);
	make_folder(gone);
	w = imap_notify_add(n, gone, count_cb, &c);
	assert_non_null(w);
	nftw(gone, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	run_ms(base, IMAP_NOTIFY_DELAY_MS * 3);
	assert_true(c.calls >= 1);
	imap_notify_remove(&w);

	/* a folder that does not exist cannot be watched */
	assert_null(imap_notify_add(n, gone, count_cb, &c));
	/* neither without a notify instance (sessions poll) */
	assert_null(imap_notify_add(NULL, dir_a, count_cb, &c));
	imap_notify_free(&n);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delivery_wakes_every_session,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_inside_callback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_removed, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
