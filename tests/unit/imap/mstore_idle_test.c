/* mstore_idle_test.c: a view packed by mstore_idle() (UID runs instead
 * of records) and rebuilt at its next use reports, at its next refresh,
 * exactly what a view that was never packed reports: expunges by
 * sequence number (allowed or not), flag changes by another session,
 * its own STOREs not told, new messages, \Recent kept; and its records
 * come back equal.
 *
 * Temp dirs live under $FACTEUR_TEST_TMP when set, else /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap_parse.h"
#include "imap/mstore.h"
#include "store/maildir.h"

static char	test_base[512];
static char	root[600];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	const char *env = getenv("FACTEUR_TEST_TMP");

	(void)state;
	if (env != NULL && *env != '\0') {
		mkdir(env, 0755);
		snprintf(test_base, sizeof(test_base), "%s/mstore_idle.XXXXXX",
		    env);
	} else
		snprintf(test_base, sizeof(test_base),
		    "/tmp/mstore_idle.XXXXXX");
	return mkdtemp(test_base) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	nftw(test_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
deliver(const char *dir, const char *body)
{
	struct maildir_tmp t;
	const char *err;

	assert_int_equal(maildir_tmp_open(dir, &t, &err), 0);
	assert_int_equal(maildir_tmp_write(&t, body, strlen(body), &err), 0);
	assert_int_equal(maildir_tmp_commit(&t, &dir, 1, &err), 0);
}

static struct mstore *
open_store(void)
{
	struct mstore *st;
	const char *err = NULL;

	if (mstore_open(root, &st, &err) != 0)
		fail_msg("mstore_open: %s", err);
	return st;
}

static struct mstore_view *
open_view(struct mstore *st, bool ro)
{
	struct mstore_view *v;
	const char *err = NULL;

	if (mstore_view_open(st, "INBOX", ro, &v, &err) != 0)
		fail_msg("view_open: %s", err);
	return v;
}

struct ev {
	char	log[4096];
};

static void
ev_add(struct ev *e, const char *fmt, ...)
{
	size_t l = strlen(e->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->log + l, sizeof(e->log) - l, fmt, ap);
	va_end(ap);
}

static void
ev_expunge(void *arg, uint32_t i, uint32_t uid)
{
	ev_add(arg, "X%u:%u ", i, uid);
}

static void
ev_exists(void *arg, uint32_t n)
{
	ev_add(arg, "E%u ", n);
}

static void
ev_flags(void *arg, uint32_t i, const struct mstore_msg *m)
{
	ev_add(arg, "F%u:%u:%x:%x ", i, m->uid, m->flags, m->kw);
}

static void
ev_keywords(void *arg)
{
	ev_add(arg, "K ");
}

static const struct mstore_update_ops ev_ops = {
	ev_expunge, ev_exists, ev_flags, ev_keywords
};

static void
refresh(struct mstore_view *v, bool allow, char *log, size_t size)
{
	struct ev e;
	const char *err = NULL;

	e.log[0] = '\0';
	if (mstore_view_refresh(v, allow, &ev_ops, &e, &err) != 0)
		fail_msg("refresh: %s", err);
	snprintf(log, size, "%s", e.log);
}

static void
store(struct mstore_view *v, uint32_t i, enum mstore_store_op op,
    unsigned flags, uint32_t kw)
{
	size_t nf;
	const char *err = NULL;

	if (mstore_view_store(v, &i, 1, op, flags, kw, 0, NULL, &nf,
	    &err) != 0)
		fail_msg("store: %s", err);
}

static void
expunge(struct mstore_view *v, uint32_t i)
{
	const char *err = NULL;

	store(v, i, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	if (mstore_view_expunge(v, &i, 1, &err) != 0)
		fail_msg("expunge: %s", err);
}

static void
append(struct mstore *st, const char *msg)
{
	uint32_t uv, uid;
	const char *err = NULL;

	if (mstore_append(st, "INBOX", msg, strlen(msg), IMAP_FLAG_FLAGGED,
	    NULL, 0, 0, &uv, &uid, &err) != 0)
		fail_msg("append: %s", err);
}

/* What a refresh told, and the records after it, as text. */
struct run {
	char	log[8][1024];
	char	recs[8][2048];
};

/* modseqs are times: compared within one run only (with_modseq) */
static void
dump(struct mstore_view *v, char *out, size_t size, bool with_modseq)
{
	uint32_t n = mstore_view_count(v);
	size_t l = 0;

	out[0] = '\0';
	for (uint32_t i = 0; i < n && l < size; i++) {
		const struct mstore_msg *m = mstore_view_msg(v, i);

		/* a message expunged while the view was packed comes back
		 * gone, without its flags and size (never shown) */
		if (m->gone) {
			l += (size_t)snprintf(out + l, size - l, "%u:gone ",
			    m->uid);
			continue;
		}
		l += (size_t)snprintf(out + l, size - l,
		    "%u:%x:%x:%llu:%d%d:%llu ", m->uid, m->flags, m->kw,
		    with_modseq ? (unsigned long long)m->modseq : 0ULL,
		    m->recent, m->gone, (unsigned long long)m->size);
	}
}

/* Two sessions on one INBOX; session 1 (read-write view v1, and a
 * read-only view r1 of the same store) goes idle (packed when pack is
 * set) at each step while session 2 changes things. */
static void
scenario(bool pack, struct run *out)
{
	struct mstore *st1, *st2;
	struct mstore_view *v1, *r1, *v2;
	uint32_t kwbit;
	int k = 0;

	snprintf(root, sizeof(root), "%s/Maildir%d", test_base, pack);
	st1 = open_store();
	for (int i = 0; i < 8; i++) {
		char body[64];

		snprintf(body, sizeof(body), "Subject: %d\r\n\r\nbody %d\r\n",
		    i, i);
		deliver(root, body);
	}
	st2 = open_store();
	v2 = open_view(st2, false);
	expunge(v2, 5);			/* UIDs 1-5 7-8: two runs */
	refresh(v2, true, out->log[7], sizeof(out->log[7]));
	v1 = open_view(st1, false);	/* all \Recent here */
	r1 = open_view(st1, true);
	deliver(root, "Subject: late\r\n\r\nx\r\n");
	refresh(v1, true, out->log[k], sizeof(out->log[k]));	/* E8 */
	dump(v1, out->recs[k++], sizeof(out->recs[0]), false);
	/* own STOREs, one of them overridden later by session 2 */
	store(v1, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_SEEN, 0);
	store(v1, 2, MSTORE_FLAGS_ADD, IMAP_FLAG_FLAGGED, 0);
	if (pack)
		mstore_idle(st1);
	refresh(v2, true, out->log[6], sizeof(out->log[6]));
	store(v2, 0, MSTORE_FLAGS_ADD, IMAP_FLAG_SEEN, 0);
	store(v2, 2, MSTORE_FLAGS_ADD, IMAP_FLAG_ANSWERED, 0);
	kwbit = (uint32_t)mstore_view_keyword(v2, (struct str){ "$Junk", 5 },
	    true);
	store(v2, 6, MSTORE_FLAGS_ADD, 0, 1U << kwbit);
	expunge(v2, 3);
	append(st2, "Subject: new\r\n\r\ny\r\n");
	/* expunges not allowed: kept gone; then packed again with them */
	refresh(v1, false, out->log[k], sizeof(out->log[k]));
	dump(v1, out->recs[k++], sizeof(out->recs[0]), false);
	if (pack)
		mstore_idle(st1);
	expunge(v2, 0);
	refresh(v1, true, out->log[k], sizeof(out->log[k]));
	dump(v1, out->recs[k++], sizeof(out->recs[0]), false);
	refresh(r1, true, out->log[k], sizeof(out->log[k]));
	dump(r1, out->recs[k++], sizeof(out->recs[0]), false);
	/* a packed view with nothing changed comes back the same */
	dump(v1, out->recs[k], sizeof(out->recs[0]), true);
	if (pack)
		mstore_idle(st1);
	dump(v1, out->log[k], sizeof(out->log[0]), true);
	assert_string_equal(out->log[k], out->recs[k]);
	dump(v1, out->recs[k], sizeof(out->recs[0]), false);
	refresh(v1, true, out->log[k], sizeof(out->log[k]));
	k++;
	/* an own STORE then idle: not told back */
	store(v1, 0, MSTORE_FLAGS_SET, IMAP_FLAG_DRAFT, 0);
	if (pack)
		mstore_idle(st1);
	refresh(v1, true, out->log[k], sizeof(out->log[k]));
	dump(v1, out->recs[k++], sizeof(out->recs[0]), false);
	mstore_view_close(&r1);
	mstore_view_close(&v1);
	mstore_view_close(&v2);
	mstore_close(&st1);
	mstore_close(&st2);
}

static void
test_packed_same(void **state)
{
	static struct run plain, packed;

	(void)state;
	scenario(false, &plain);
	scenario(true, &packed);
	for (int k = 0; k < 8; k++) {
		assert_string_equal(packed.log[k], plain.log[k]);
		assert_string_equal(packed.recs[k], plain.recs[k]);
	}
	/* the scenario shows what it means to */
	assert_string_equal(plain.log[0], "E8 ");
	assert_non_null(strstr(plain.log[1], "E9 "));
	assert_null(strstr(plain.log[1], "X"));
	assert_non_null(strstr(plain.log[1], "F0:1:8:0 "));
	assert_non_null(strstr(plain.log[1], "F2:3:"));
	assert_null(strstr(plain.log[1], "F1:2:"));	/* own STORE */
	assert_string_equal(plain.log[2], "X0:1 X2:4 ");
	assert_string_equal(plain.log[4], "");
	assert_string_equal(plain.log[5], "");
}

/* Store on a packed view, expunge from a packed view, the cache, and
 * opening a message another session renamed or expunged. */
static void
test_packed_use(void **state)
{
	struct mstore *st, *st2;
	struct mstore_view *v, *v2;
	int fd;
	struct mstore_cache c = { .sent = 42, .subject = { "s", 1 } }, got;
	const char *err = NULL;
	char log[1024];

	(void)state;
	snprintf(root, sizeof(root), "%s/Maildir", test_base);
	st = open_store();
	deliver(root, "a\r\n");
	deliver(root, "b\r\n");
	v = open_view(st, false);
	mstore_idle(st);
	store(v, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	mstore_idle(st);
	assert_int_equal(mstore_view_expunge(v, NULL, 0, &err), 0);
	mstore_idle(st);
	refresh(v, true, log, sizeof(log));
	assert_string_equal(log, "X1:2 ");
	mstore_idle(st);
	assert_int_equal(mstore_view_cache_put(v, 0, &c, &err), 0);
	mstore_idle(st);
	assert_int_equal(mstore_view_cache_get(v, 0, &got, &err), 0);
	assert_int_equal(got.sent, 42);
	mstore_idle(st);
	assert_int_equal(mstore_view_find_uid(v, 1), 0);
	/* open_msg on a packed view after another session renamed the
	 * file (STORE), then expunged it */
	st2 = open_store();
	v2 = open_view(st2, false);
	mstore_idle(st);
	store(v2, 0, MSTORE_FLAGS_ADD, IMAP_FLAG_SEEN, 0);
	assert_true((fd = mstore_view_open_msg(v, 0)) >= 0);
	close(fd);
	expunge(v2, 0);
	errno = 0;
	assert_int_equal(mstore_view_open_msg(v, 0), -1);
	assert_int_equal(errno, ENOENT);
	mstore_view_close(&v2);
	mstore_close(&st2);
	mstore_idle(st);
	/* the store closed before its view */
	mstore_close(&st);
	mstore_view_close(&v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_packed_same, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_packed_use, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("imap/mstore_idle", tests, NULL,
	    NULL);
}
