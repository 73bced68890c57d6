/* mstore_test.c: the IMAP store on real files and a real SQLite index:
 * special folders, delivery then UIDs, two sessions seeing each other's
 * changes, changes made by hand (mutt), index deletion and rebuild,
 * APPEND byte-exact with CRLF conversion, COPY/MOVE, keywords and their
 * limit, folder hierarchy and bad names, STATUS, VANISHED, the cache.
 * (mstore_proc_test.c has the tests with several processes.)
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

#include "imap/imap_parse.h"
#include "imap/mstore.h"
#include "store/maildir.h"

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
		snprintf(test_base, sizeof(test_base), "%s/mstore.XXXXXX", env);
	} else
		snprintf(test_base, sizeof(test_base), "/tmp/mstore.XXXXXX");
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

/* Deliver as SMTP does (maildir.c): into DIR/new. */
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
	int rc = mstore_open(root, &st, &err);

	if (rc != 0)
		fail_msg("mstore_open: %s", err);
	return st;
}

static struct mstore_view *
open_view(struct mstore *st, const char *name, bool ro)
{
	struct mstore_view *v;
	const char *err = NULL;
	int rc = mstore_view_open(st, name, ro, &v, &err);

	if (rc != 0)
		fail_msg("view_open %s: %d %s", name, rc, err);
	return v;
}

/* Names in DIR/sub. */
static size_t
list_dir(const char *dir, const char *sub, char names[][256], size_t max)
{
	char path[1024];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sub) >=
	    sizeof(path) || (d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n < max)
			snprintf(names[n], 256, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* The refresh callbacks write what they are told into a log. */
struct ev {
	char	log[4096];
};

static void
ev_expunge(void *arg, uint32_t i, uint32_t uid)
{
	struct ev *e = arg;
	size_t l = strlen(e->log);

	snprintf(e->log + l, sizeof(e->log) - l, "X%u:%u ", i, uid);
}

static void
ev_exists(void *arg, uint32_t n)
{
	struct ev *e = arg;
	size_t l = strlen(e->log);

	snprintf(e->log + l, sizeof(e->log) - l, "E%u ", n);
}

static void
ev_flags(void *arg, uint32_t i, const struct mstore_msg *m)
{
	struct ev *e = arg;
	size_t l = strlen(e->log);

	snprintf(e->log + l, sizeof(e->log) - l, "F%u:%u:%x:%x ", i, m->uid,
	    m->flags, m->kw);
}

static void
ev_keywords(void *arg)
{
	struct ev *e = arg;
	size_t l = strlen(e->log);

	snprintf(e->log + l, sizeof(e->log) - l, "K ");
}

static const struct mstore_update_ops ev_ops = {
	ev_expunge, ev_exists, ev_flags, ev_keywords
};

static void
refresh(struct mstore_view *v, bool allow, struct ev *e)
{
	const char *err = NULL;
	int rc;

	e->log[0] = '\0';
	rc = mstore_view_refresh(v, allow, &ev_ops, e, &err);
	if (rc != 0)
		fail_msg("refresh: %d %s", rc, err);
}

static void
store(struct mstore_view *v, uint32_t i, enum mstore_store_op op,
    unsigned flags, uint32_t kw)
{
	size_t nf;
	const char *err = NULL;
	int rc = mstore_view_store(v, &i, 1, op, flags, kw, 0, NULL, &nf,
	    &err);

	if (rc != 0)
		fail_msg("store: %d %s", rc, err);
}

static uint32_t
append(struct mstore *st, const char *folder, const char *msg,
    unsigned flags)
{
	uint32_t uv, uid;
	const char *err = NULL;
	int rc = mstore_append(st, folder, msg, strlen(msg), flags, NULL, 0,
	    0, &uv, &uid, &err);

	if (rc != 0)
		fail_msg("append: %d %s", rc, err);
	return uid;
}

static void
test_open_specials(void **state)
{
	static const struct {
		const char	*name;
		unsigned	 use;
	} want[] = {
		{ "INBOX", 0 }, { "Archive", IMAP_USE_ARCHIVE },
		{ "Drafts", IMAP_USE_DRAFTS }, { "Junk", IMAP_USE_JUNK },
		{ "Sent", IMAP_USE_SENT }, { "Trash", IMAP_USE_TRASH },
	};
	struct mstore_folder *list;
	struct mstore *st = open_store();
	char path[1024];
	const char *err;
	size_t n;

	assert_int_equal(mstore_list(st, &list, &n, &err), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(list[i].name, want[i].name);
		assert_int_equal(list[i].use, want[i].use);
		assert_int_equal(list[i].subscribed, i > 0);
		assert_false(list[i].noselect);
		assert_false(list[i].children);
	}
	mstore_list_free(list, n);
	snprintf(path, sizeof(path), "%s/.Sent/maildirfolder", root);
	assert_int_equal(access(path, F_OK), 0);
	mstore_close(&st);
	assert_null(st);
	/* a second open does not make them again */
	snprintf(path, sizeof(path), "%s/.Junk", root);
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	st = open_store();
	assert_int_equal(mstore_list(st, &list, &n, &err), 0);
	assert_int_equal(n, 6);	/* Junk: subscribed, noselect */
	assert_string_equal(list[3].name, "Junk");
	assert_true(list[3].noselect);
	assert_true(list[3].subscribed);
	mstore_list_free(list, n);
	mstore_close(&st);
}

static void
test_deliver_view(void **state)
{
	char names[8][256], path[1024];
	struct mstore *st = open_store();
	struct mstore_view *v, *v2;
	const struct mstore_msg *m;
	size_t n;

	deliver(root, "Subject: one\r\n\r\nbody one\r\n");
	deliver(root, "Subject: two\r\n\r\nbody two\r\n");
	deliver(root, "Subject: three\r\n\r\nbody three\r\n");
	v = open_view(st, "inbox", false);
	assert_int_equal(mstore_view_count(v), 3);
	assert_string_equal(mstore_view_dir(v), root);
	assert_int_equal(mstore_view_uidnext(v), 4);
	assert_true(mstore_view_uidvalidity(v) > 0);
	for (uint32_t i = 0; i < 3; i++) {
		m = mstore_view_msg(v, i);
		assert_int_equal(m->uid, i + 1);
		assert_true(m->recent);
		assert_false(m->gone);
		assert_int_equal(m->flags, 0);
		assert_true(m->size > 20);
		assert_true(m->internaldate > time(NULL) - 100);
		assert_int_equal(mstore_view_find_uid(v, i + 1), i);
	}
	assert_int_equal(mstore_view_find_uid(v, 9), -1);
	assert_null(mstore_view_msg(v, 3));
	/* the UIDs are in the names now */
	assert_int_equal(list_dir(root, "new", names, 8), 0);
	n = list_dir(root, "cur", names, 8);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(strstr(names[i], ",U="));
		assert_non_null(strstr(names[i], ",S="));
		assert_non_null(strstr(names[i], ":2,"));
	}
	/* \Recent: only the first read-write view */
	v2 = open_view(st, "INBOX", false);
	assert_false(mstore_view_msg(v2, 0)->recent);
	mstore_view_close(&v2);
	assert_null(v2);
	/* a file that is not a message is ignored */
	snprintf(path, sizeof(path), "%s/cur/.hidden-tmp", root);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/cur/notes.txt~", root);
	fclose(fopen(path, "w"));
	v2 = open_view(st, "INBOX", true);
	assert_int_equal(mstore_view_count(v2), 3);
	mstore_view_close(&v2);
	mstore_view_close(&v);
	mstore_close(&st);
}

static void
test_two_sessions(void **state)
{
	struct mstore *st1 = open_store(), *st2 = open_store();
	struct mstore_view *v1, *v2;
	uint32_t idx[2] = { 0, 1 }, failed[2];
	const char *err;
	struct ev e;
	size_t nf;
	uint64_t ms;

	deliver(root, "a\r\n");
	deliver(root, "b\r\n");
	deliver(root, "c\r\n");
	v1 = open_view(st1, "INBOX", false);
	v2 = open_view(st2, "INBOX", false);
	refresh(v1, true, &e);
	assert_string_equal(e.log, "");
	/* flags from the other session */
	ms = mstore_view_highestmodseq(v1);
	store(v2, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_SEEN, 0);
	assert_int_equal(mstore_view_msg(v2, 1)->flags, IMAP_FLAG_SEEN);
	assert_true(mstore_view_msg(v2, 1)->modseq > ms);
	refresh(v2, true, &e);
	assert_string_equal(e.log, "");	/* its own STORE is not told */
	refresh(v1, true, &e);
	assert_string_equal(e.log, "F1:2:8:0 ");
	assert_true(mstore_view_highestmodseq(v1) > ms);
	/* expunge, then an append: expunge first, then exists */
	store(v2, 0, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	assert_int_equal(mstore_view_expunge(v2, NULL, 0, &err), 0);
	append(st2, "INBOX", "d\r\n", IMAP_FLAG_FLAGGED);
	store(v2, 2, MSTORE_FLAGS_ADD, IMAP_FLAG_ANSWERED, 0);
	refresh(v1, false, &e);		/* no expunge allowed: gone */
	assert_string_equal(e.log, "E4 F2:3:1:0 ");
	assert_true(mstore_view_msg(v1, 0)->gone);
	refresh(v1, true, &e);
	assert_string_equal(e.log, "X0:1 ");
	assert_int_equal(mstore_view_count(v1), 3);
	assert_int_equal(mstore_view_msg(v1, 2)->uid, 4);
	assert_int_equal(mstore_view_msg(v1, 2)->flags, IMAP_FLAG_FLAGGED);
	refresh(v2, true, &e);
	assert_string_equal(e.log, "X0:1 E3 ");
	/* \Recent of the appended message: whoever saw it first */
	assert_true(mstore_view_msg(v1, 2)->recent !=
	    mstore_view_msg(v2, 2)->recent);
	/* UNCHANGEDSINCE */
	ms = mstore_view_highestmodseq(v1);
	store(v2, 0, MSTORE_FLAGS_ADD, IMAP_FLAG_FLAGGED, 0);
	assert_int_equal(mstore_view_store(v1, idx, 2, MSTORE_FLAGS_ADD,
	    IMAP_FLAG_DRAFT, 0, ms, failed, &nf, &err), 0);
	assert_int_equal(nf, 1);
	assert_int_equal(failed[0], 0);
	assert_int_equal(mstore_view_msg(v1, 1)->flags,
	    IMAP_FLAG_DRAFT | IMAP_FLAG_ANSWERED);
	/* a STORE that changes nothing keeps the modseq */
	ms = mstore_view_msg(v1, 1)->modseq;
	store(v1, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_DRAFT, 0);
	assert_int_equal(mstore_view_msg(v1, 1)->modseq, ms);
	store(v1, 1, MSTORE_FLAGS_SET, 0, 0);
	assert_int_equal(mstore_view_msg(v1, 1)->flags, 0);
	refresh(v2, true, &e);
	assert_string_equal(e.log, "F1:3:0:0 ");
	refresh(v1, true, &e);
	assert_string_equal(e.log, "F0:2:a:0 ");
	mstore_view_close(&v1);
	mstore_view_close(&v2);
	mstore_close(&st1);
	mstore_close(&st2);
}

/* Rename and remove files by hand, as mutt does. */
static void
test_by_hand(void **state)
{
	char names[8][256], from[1024], to[1024], *colon;
	struct mstore *st = open_store();
	struct mstore_view *v;
	struct ev e;
	size_t n;

	deliver(root, "a\r\n");
	deliver(root, "b\r\n");
	v = open_view(st, "INBOX", false);
	n = list_dir(root, "cur", names, 8);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "%s/cur/%s", root, names[i]);
		if (strstr(names[i], ",U=1:") != NULL) {
			colon = strrchr(names[i], ',');
			*colon = '\0';
			/* a letter we don't know is kept */
			snprintf(to, sizeof(to), "%s/cur/%s,FPS", root,
			    names[i]);
			assert_int_equal(rename(from, to), 0);
		} else
			assert_int_equal(unlink(from), 0);
	}
	/* a file put in cur/ by hand, without UID */
	snprintf(to, sizeof(to), "%s/cur/1700000000.hand.host:2,S", root);
	fclose(fopen(to, "w"));
	refresh(v, true, &e);
	assert_string_equal(e.log, "X1:2 E2 F0:1:a:0 ");
	assert_int_equal(mstore_view_msg(v, 1)->uid, 3);
	assert_int_equal(mstore_view_msg(v, 1)->flags, IMAP_FLAG_SEEN);
	/* our STORE keeps the unknown letter */
	store(v, 0, MSTORE_FLAGS_REMOVE, IMAP_FLAG_FLAGGED, 0);
	n = list_dir(root, "cur", names, 8);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		if (strstr(names[i], ",U=1:") != NULL)
			assert_non_null(strstr(names[i], ":2,PS"));
		else
			assert_non_null(strstr(names[i], ",U=3:2,S"));
	/* copies made by hand: another base with a UID already used, and
	 * the same base twice (in new/ and cur/) */
	for (size_t i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "%s/cur/%s", root, names[i]);
		if (strstr(names[i], ",U=3:") != NULL)
			snprintf(to, sizeof(to), "%s/cur/1700000001.copy.host"
			    ",S=3,U=3:2,S", root);
		else
			snprintf(to, sizeof(to), "%s/new/%s", root, names[i]);
		assert_int_equal(link(from, to), 0);
	}
	refresh(v, true, &e);
	assert_string_equal(e.log, "E4 ");
	assert_int_equal(mstore_view_msg(v, 2)->uid, 4);
	assert_int_equal(mstore_view_msg(v, 3)->uid, 5);
	assert_int_equal(list_dir(root, "cur", names, 8), 4);
	assert_int_equal(list_dir(root, "new", names, 8), 0);
	/* two new files with one base: both messages, one renamed */
	snprintf(to, sizeof(to), "%s/cur/1700000002.twin.host,S=1:2,S", root);
	fclose(fopen(to, "w"));
	snprintf(to, sizeof(to), "%s/cur/1700000002.twin.host,S=1:2,F", root);
	fclose(fopen(to, "w"));
	refresh(v, true, &e);
	assert_string_equal(e.log, "E6 ");
	assert_int_equal(list_dir(root, "cur", names, 8), 6);
	refresh(v, true, &e);
	assert_string_equal(e.log, "");
	mstore_view_close(&v);
	mstore_close(&st);
}

/* Files renamed behind the index's back just before a STORE or an
 * EXPUNGE: found again by their base. */
static void
hand_rename(const char *uidtag, const char *add)
{
	char names[8][256], from[1024], to[1100];
	size_t n = list_dir(root, "cur", names, 8);

	for (size_t i = 0; i < n; i++) {
		if (strstr(names[i], uidtag) == NULL)
			continue;
		snprintf(from, sizeof(from), "%s/cur/%s", root, names[i]);
		snprintf(to, sizeof(to), "%s%s", from, add);
		assert_int_equal(rename(from, to), 0);
		return;
	}
	fail_msg("no file with %s", uidtag);
}

static void
test_renamed_under(void **state)
{
	char names[8][256];
	struct mstore *st = open_store();
	struct mstore_view *v;
	const char *err;
	struct ev e;
	int fd;

	deliver(root, "a\r\n");
	deliver(root, "b\r\n");
	v = open_view(st, "INBOX", false);
	hand_rename(",U=1:", "P");
	store(v, 0, MSTORE_FLAGS_ADD, IMAP_FLAG_FLAGGED, 0);
	assert_int_equal(list_dir(root, "cur", names, 8), 2);
	assert_true(strstr(names[0], ":2,FP") != NULL ||
	    strstr(names[1], ":2,FP") != NULL);
	store(v, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	hand_rename(",U=2:", "P");
	assert_int_equal(mstore_view_expunge(v, NULL, 0, &err), 0);
	assert_int_equal(list_dir(root, "cur", names, 8), 1);
	refresh(v, true, &e);
	assert_string_equal(e.log, "X1:2 ");
	hand_rename(",U=1:", "S");
	fd = mstore_view_open_msg(v, 0);
	assert_true(fd >= 0);
	close(fd);
	refresh(v, true, &e);
	assert_string_equal(e.log, "F0:1:a:0 ");
	mstore_view_close(&v);
	mstore_close(&st);
}

static void
remove_index(void)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, MSTORE_INDEX_NAME);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/%s-wal", root, MSTORE_INDEX_NAME);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s-shm", root, MSTORE_INDEX_NAME);
	unlink(path);
}

static void
test_rebuild(void **state)
{
	struct mstore *st = open_store();
	struct mstore_view *v;
	const char *const *names;
	const char *err;
	uint32_t uv, uvt, uids[3];
	uint64_t ms;
	int bit;

	deliver(root, "a\r\n");
	deliver(root, "b\r\n");
	deliver(root, "c\r\n");
	v = open_view(st, "INBOX", false);
	bit = mstore_view_keyword(v, STR_LIT("$Important"), true);
	assert_int_equal(bit, 0);
	assert_int_equal(mstore_view_keyword(v, STR_LIT("$important"), false),
	    0);
	assert_int_equal(mstore_view_keyword(v, STR_LIT("other"), false), -1);
	store(v, 0, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	assert_int_equal(mstore_view_expunge(v, NULL, 0, &err), 0);
	mstore_view_close(&v);
	v = open_view(st, "INBOX", false);
	store(v, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED,
	    1U << bit);
	assert_int_equal(mstore_view_count(v), 2);
	uv = mstore_view_uidvalidity(v);
	ms = mstore_view_highestmodseq(v);
	for (uint32_t i = 0; i < 2; i++)
		uids[i] = mstore_view_msg(v, i)->uid;
	mstore_view_close(&v);
	append(st, "Trash", "t\r\n", 0);
	v = open_view(st, "Trash", true);
	uvt = mstore_view_uidvalidity(v);
	mstore_view_close(&v);
	mstore_close(&st);

	remove_index();
	st = open_store();
	/* special-use kept, before any folder is opened */
	{
		struct mstore_folder *list;
		size_t n;

		assert_int_equal(mstore_list(st, &list, &n, &err), 0);
		assert_int_equal(n, 6);
		assert_string_equal(list[5].name, "Trash");
		assert_int_equal(list[5].use, IMAP_USE_TRASH);
		assert_string_equal(list[4].name, "Sent");
		assert_int_equal(list[4].use, IMAP_USE_SENT);
		mstore_list_free(list, n);
	}
	v = open_view(st, "INBOX", false);
	assert_int_equal(mstore_view_uidvalidity(v), uv);
	assert_int_equal(mstore_view_count(v), 2);
	for (uint32_t i = 0; i < 2; i++)
		assert_int_equal(mstore_view_msg(v, i)->uid, uids[i]);
	assert_int_equal(mstore_view_msg(v, 1)->flags,
	    IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED);
	assert_int_equal(mstore_view_msg(v, 1)->kw, 1U << bit);
	assert_int_equal(mstore_view_keywords(v, &names), 1);
	assert_string_equal(names[0], "$Important");
	assert_true(mstore_view_highestmodseq(v) > ms);
	assert_int_equal(mstore_view_uidnext(v), uids[1] + 1);
	mstore_view_close(&v);
	v = open_view(st, "Trash", true);
	assert_int_equal(mstore_view_uidvalidity(v), uvt);
	assert_int_equal(mstore_view_count(v), 1);
	mstore_view_close(&v);
	/* special-use kept too */
	{
		struct mstore_folder *list;
		size_t n;

		assert_int_equal(mstore_list(st, &list, &n, &err), 0);
		assert_int_equal(n, 6);
		assert_string_equal(list[5].name, "Trash");
		assert_int_equal(list[5].use, IMAP_USE_TRASH);
		mstore_list_free(list, n);
	}
	/* the UIDVALIDITY file gone too: new UIDVALIDITY, UIDs again */
	mstore_close(&st);
	remove_index();
	{
		char path[1024];

		snprintf(path, sizeof(path), "%s/facteur-uidvalidity", root);
		assert_int_equal(unlink(path), 0);
	}
	sleep(1);
	st = open_store();
	v = open_view(st, "INBOX", false);
	assert_int_not_equal(mstore_view_uidvalidity(v), uv);
	assert_int_equal(mstore_view_count(v), 2);
	assert_int_equal(mstore_view_msg(v, 0)->uid, 1);
	assert_int_equal(mstore_view_msg(v, 1)->uid, 2);
	mstore_view_close(&v);
	/* a corrupt index is set aside */
	mstore_close(&st);
	{
		char path[1024];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", root, MSTORE_INDEX_NAME);
		assert_non_null(f = fopen(path, "w"));
		fputs("this is not a database, not at all, no no no. "
		    "padding padding padding padding padding padding padding "
		    "padding padding padding padding padding padding", f);
		fclose(f);
	}
	st = open_store();
	v = open_view(st, "INBOX", false);
	assert_int_equal(mstore_view_count(v), 2);
	assert_int_equal(mstore_view_msg(v, 1)->uid, 2);
	mstore_view_close(&v);
	mstore_close(&st);
}

static void
read_all(int fd, char *buf, size_t size, size_t *len_r)
{
	ssize_t r;

	*len_r = 0;
	while ((r = read(fd, buf + *len_r, size - *len_r)) > 0)
		*len_r += (size_t)r;
	close(fd);
}

static void
test_append(void **state)
{
	static const char lf[] = "Subject: x\n\nline 1\nline 2\r\nend\n";
	static const char crlf[] =
	    "Subject: x\r\n\r\nline 1\r\nline 2\r\nend\r\n";
	const struct str kw[2] = { STR_LIT("$Label1"), STR_LIT("Work") };
	struct mstore *st = open_store();
	struct mstore_view *v;
	const char *const *names;
	char buf[256];
	const char *err;
	uint32_t uv, uid;
	size_t len;
	int fd;

	assert_int_equal(mstore_append(st, "Drafts", lf, strlen(lf),
	    IMAP_FLAG_DRAFT | IMAP_FLAG_SEEN, kw, 2, 1000000000, &uv, &uid,
	    &err), 0);
	assert_int_equal(uid, 1);
	assert_int_equal(mstore_append(st, "Drafts", crlf, strlen(crlf), 0,
	    NULL, 0, 0, &uv, &uid, &err), 0);
	assert_int_equal(uid, 2);
	v = open_view(st, "Drafts", false);
	assert_int_equal(mstore_view_uidvalidity(v), uv);
	assert_int_equal(mstore_view_count(v), 2);
	assert_int_equal(mstore_view_msg(v, 0)->flags,
	    IMAP_FLAG_DRAFT | IMAP_FLAG_SEEN);
	assert_int_equal(mstore_view_msg(v, 0)->kw, 3);
	assert_int_equal(mstore_view_msg(v, 0)->internaldate, 1000000000);
	assert_int_equal(mstore_view_msg(v, 0)->size, strlen(crlf));
	assert_true(mstore_view_msg(v, 0)->recent);
	assert_int_equal(mstore_view_keywords(v, &names), 2);
	assert_string_equal(names[0], "$Label1");
	assert_string_equal(names[1], "Work");
	for (uint32_t i = 0; i < 2; i++) {
		fd = mstore_view_open_msg(v, i);
		assert_true(fd >= 0);
		read_all(fd, buf, sizeof(buf), &len);
		assert_int_equal(len, strlen(crlf));
		assert_memory_equal(buf, crlf, len);
	}
	/* found again when renamed behind the index's back */
	{
		char names2[4][256], from[1100], to[1200];

		assert_int_equal(list_dir(mstore_view_dir(v), "cur", names2,
		    4), 2);
		for (int i = 0; i < 2; i++) {
			snprintf(from, sizeof(from), "%.600s/cur/%.255s",
			    mstore_view_dir(v), names2[i]);
			snprintf(to, sizeof(to), "%sF", from);
			assert_int_equal(rename(from, to), 0);
		}
		fd = mstore_view_open_msg(v, 1);
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(list_dir(mstore_view_dir(v), "cur", names2,
		    4), 2);
		for (int i = 0; i < 2; i++) {
			snprintf(from, sizeof(from), "%.600s/cur/%.255s",
			    mstore_view_dir(v), names2[i]);
			unlink(from);
		}
		fd = mstore_view_open_msg(v, 1);
		assert_int_equal(fd, -1);
		assert_int_equal(errno, ENOENT);
	}
	mstore_view_close(&v);
	/* no such folder, no tmp file left */
	assert_int_equal(mstore_append(st, "Nope", lf, strlen(lf), 0, NULL, 0,
	    0, &uv, &uid, &err), MSTORE_ENOENT);
	{
		char names2[4][256], dir[1024];

		snprintf(dir, sizeof(dir), "%s/.Drafts", root);
		assert_int_equal(list_dir(dir, "tmp", names2, 4), 0);
	}
	mstore_close(&st);
}

static void
test_copy_move(void **state)
{
	struct mstore *st = open_store();
	struct mstore_view *v, *t;
	uint32_t idx[3] = { 0, 1, 2 }, src[3], dst[3], uv;
	const char *const *names;
	const char *err;
	struct ev e;
	size_t n;
	int bit;

	deliver(root, "one\r\n");
	deliver(root, "two\r\n");
	deliver(root, "three\r\n");
	v = open_view(st, "INBOX", false);
	bit = mstore_view_keyword(v, STR_LIT("Red"), true);
	bit = mstore_view_keyword(v, STR_LIT("Blue"), true);
	assert_int_equal(bit, 1);
	store(v, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_FLAGGED, 1U << bit);
	refresh(v, true, &e);
	assert_string_equal(e.log, "K ");	/* it made keywords */
	assert_int_equal(mstore_view_copy(v, idx, 2, "Trash", false, &uv, src,
	    dst, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(src[0], 1);
	assert_int_equal(src[1], 2);
	assert_int_equal(dst[0], 1);
	assert_int_equal(dst[1], 2);
	t = open_view(st, "Trash", false);
	assert_int_equal(mstore_view_uidvalidity(t), uv);
	assert_int_equal(mstore_view_count(t), 2);
	assert_int_equal(mstore_view_msg(t, 1)->flags, IMAP_FLAG_FLAGGED);
	assert_int_equal(mstore_view_keywords(t, &names), 1);
	assert_string_equal(names[0], "Blue");
	assert_int_equal(mstore_view_msg(t, 1)->kw, 1);
	/* distinct messages: flags of one are not the other's */
	store(t, 1, MSTORE_FLAGS_SET, IMAP_FLAG_SEEN, 0);
	refresh(v, true, &e);
	assert_string_equal(e.log, "");
	assert_int_equal(mstore_view_msg(v, 1)->flags, IMAP_FLAG_FLAGGED);
	/* MOVE */
	assert_int_equal(mstore_view_copy(v, idx + 1, 2, "Trash", true, &uv,
	    src, dst, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(src[0], 2);
	assert_int_equal(dst[0], 3);
	assert_int_equal(dst[1], 4);
	refresh(v, true, &e);
	assert_string_equal(e.log, "X1:2 X1:3 ");
	refresh(t, true, &e);
	assert_string_equal(e.log, "E4 ");
	/* into the same folder */
	assert_int_equal(mstore_view_copy(v, idx, 1, "INBOX", false, &uv,
	    src, dst, &n, &err), 0);
	assert_int_equal(dst[0], 4);
	refresh(v, true, &e);
	assert_string_equal(e.log, "E2 ");
	assert_int_equal(mstore_view_copy(v, idx, 1, "Nope", false, &uv,
	    src, dst, &n, &err), MSTORE_ENOENT);
	mstore_view_close(&t);
	mstore_view_close(&v);
	mstore_close(&st);
}

static void
test_keywords(void **state)
{
	struct mstore *st = open_store();
	struct mstore_view *v, *v2;
	char name[32], big[MSTORE_KEYWORD_MAX + 2];
	struct ev e;

	deliver(root, "x\r\n");
	v = open_view(st, "INBOX", false);
	v2 = open_view(st, "INBOX", true);
	for (int i = 0; i < MSTORE_KEYWORDS_MAX; i++) {
		snprintf(name, sizeof(name), "kw%d", i);
		assert_int_equal(mstore_view_keyword(v, str_cstr(name), true),
		    i);
	}
	assert_int_equal(mstore_view_keyword(v, STR_LIT("one-more"), true),
	    MSTORE_ELIMIT);
	assert_int_equal(mstore_view_keyword(v, STR_LIT("KW3"), true), 3);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(mstore_view_keyword(v2, str_cstr(big), true) < 0);
	refresh(v2, true, &e);
	assert_string_equal(e.log, "K ");
	refresh(v, true, &e);
	assert_string_equal(e.log, "K ");
	refresh(v, true, &e);
	assert_string_equal(e.log, "");
	store(v, 0, MSTORE_FLAGS_SET, 0, 1U << 25 | 1U);
	refresh(v2, true, &e);
	assert_string_equal(e.log, "F0:1:0:2000001 ");
	mstore_view_close(&v2);
	mstore_view_close(&v);
	mstore_close(&st);
}

static bool
listed(struct mstore *st, const char *name, bool *noselect, bool *children)
{
	struct mstore_folder *list;
	const char *err;
	bool found = false;
	size_t n;

	assert_int_equal(mstore_list(st, &list, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0) {
			found = true;
			if (noselect != NULL)
				*noselect = list[i].noselect;
			if (children != NULL)
				*children = list[i].children;
		}
	mstore_list_free(list, n);
	return found;
}

static void
test_folders(void **state)
{
	static const char *const bad[] = { "../x", "a//b", ".hidden",
	    "a/../b", "a/./b", "/abs", "a/", "", "x\ty", "a/.b", "a*",
	    "bad\x80utf8" };
	struct mstore *st = open_store();
	struct mstore_view *v;
	struct mstore_status s;
	char path[1024];
	const char *err;
	bool ns, ch;
	uint32_t uv;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mstore_create(st, bad[i], 0, &err),
		    MSTORE_EINVAL);
	assert_int_equal(mstore_create(st, "INBOX", 0, &err), MSTORE_EEXIST);
	assert_int_equal(mstore_create(st, "Sent", 0, &err), MSTORE_EEXIST);
	assert_int_equal(mstore_create(st, "a/b/c", 0, &err), 0);
	assert_true(listed(st, "a", &ns, &ch));
	assert_false(ns);
	assert_true(ch);
	assert_true(listed(st, "a/b/c", &ns, &ch));
	assert_false(ch);
	/* a '.' and non-ASCII in a name */
	assert_int_equal(mstore_create(st, "v1.2/caf\xc3\xa9", 0, &err), 0);
	snprintf(path, sizeof(path), "%s/.v1&AC4-2.caf&AOk-/cur", root);
	assert_int_equal(access(path, F_OK), 0);
	assert_true(listed(st, "v1.2/caf\xc3\xa9", NULL, NULL));
	assert_true(listed(st, "v1.2", NULL, NULL));
	/* delete with children: loses messages, becomes noselect */
	append(st, "a/b", "m\r\n", 0);
	assert_int_equal(mstore_delete(st, "a/b", &err), 0);
	assert_true(listed(st, "a/b", &ns, &ch));
	assert_true(ns);
	assert_true(ch);
	assert_int_equal(mstore_delete(st, "a/b", &err), MSTORE_EINUSE);
	assert_int_equal(mstore_view_open(st, "a/b", false, &v, &err),
	    MSTORE_ENOENT);
	assert_int_equal(mstore_delete(st, "INBOX", &err), MSTORE_EINVAL);
	assert_int_equal(mstore_delete(st, "zz", &err), MSTORE_ENOENT);
	/* rename keeps UIDVALIDITY and children follow */
	append(st, "a", "m\r\n", 0);
	assert_int_equal(mstore_status(st, "a", &s, &err), 0);
	uv = s.uidvalidity;
	assert_int_equal(mstore_rename(st, "a", "x/y", &err), 0);
	assert_false(listed(st, "a", NULL, NULL));
	assert_true(listed(st, "x", &ns, NULL));
	assert_false(ns);
	assert_true(listed(st, "x/y/b/c", &ns, NULL));
	assert_false(ns);
	assert_int_equal(mstore_status(st, "x/y", &s, &err), 0);
	assert_int_equal(s.uidvalidity, uv);
	assert_int_equal(s.messages, 1);
	assert_int_equal(mstore_rename(st, "x/y", "Sent", &err),
	    MSTORE_EEXIST);
	assert_int_equal(mstore_rename(st, "x/y", "x/y/z", &err),
	    MSTORE_EINVAL);
	assert_int_equal(mstore_rename(st, "nope", "n2", &err),
	    MSTORE_ENOENT);
	assert_int_equal(mstore_rename(st, "x", "../up", &err),
	    MSTORE_EINVAL);
	/* rename INBOX: its messages move, INBOX stays, empty */
	deliver(root, "in1\r\n");
	append(st, "INBOX", "in2\r\n", IMAP_FLAG_SEEN);
	assert_int_equal(mstore_rename(st, "inbox", "Old", &err), 0);
	assert_int_equal(mstore_status(st, "INBOX", &s, &err), 0);
	assert_int_equal(s.messages, 0);
	assert_int_equal(mstore_status(st, "Old", &s, &err), 0);
	assert_int_equal(s.messages, 2);
	assert_int_equal(s.unseen, 1);
	/* subscriptions */
	assert_int_equal(mstore_subscribe(st, "gone/away", true, &err), 0);
	assert_true(listed(st, "gone/away", &ns, NULL));
	assert_true(ns);
	assert_int_equal(mstore_subscribe(st, "gone/away", false, &err), 0);
	assert_false(listed(st, "gone/away", NULL, NULL));
	assert_int_equal(mstore_subscribe(st, "../x", true, &err),
	    MSTORE_EINVAL);
	/* a name with a leading '.' on disk is nothing of ours */
	snprintf(path, sizeof(path), "%s/..evil", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.bad&-", root);
	mkdir(path, 0700);
	{
		struct mstore_folder *list;
		size_t n;

		assert_int_equal(mstore_list(st, &list, &n, &err), 0);
		for (size_t i = 0; i < n; i++)
			assert_null(strstr(list[i].name, "evil"));
		mstore_list_free(list, n);
	}
	mstore_close(&st);
}

static void
test_status_vanished_cache(void **state)
{
	struct mstore *st = open_store();
	struct mstore_view *v;
	struct mstore_status s;
	struct mstore_cache c, got;
	uint32_t *uids, idx[2] = { 1, 3 };
	const char *err;
	struct ev e;
	uint64_t ms;
	size_t n;

	for (int i = 0; i < 5; i++)
		deliver(root, "0123456789\r\n");
	assert_int_equal(mstore_status(st, "INBOX", &s, &err), 0);
	assert_int_equal(s.messages, 5);
	assert_int_equal(s.recent, 5);
	assert_int_equal(s.unseen, 5);
	assert_int_equal(s.size, 60);
	assert_int_equal(s.uidnext, 6);
	v = open_view(st, "INBOX", false);
	ms = mstore_view_highestmodseq(v);
	store(v, 0, MSTORE_FLAGS_ADD, IMAP_FLAG_SEEN, 0);
	store(v, 1, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	store(v, 3, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	store(v, 4, MSTORE_FLAGS_ADD, IMAP_FLAG_DELETED, 0);
	assert_int_equal(mstore_status(st, "INBOX", &s, &err), 0);
	assert_int_equal(s.recent, 0);
	assert_int_equal(s.unseen, 4);
	assert_int_equal(s.deleted, 3);
	assert_true(s.highestmodseq > ms);
	/* UID EXPUNGE of 2 and 4 only */
	assert_int_equal(mstore_view_expunge(v, idx, 2, &err), 0);
	refresh(v, true, &e);
	assert_string_equal(e.log, "X1:2 X2:4 ");
	assert_int_equal(mstore_view_vanished(v, ms, &uids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 4);
	free(uids);
	assert_int_equal(mstore_view_vanished(v, mstore_view_highestmodseq(v),
	    &uids, &n, &err), 0);
	assert_int_equal(n, 0);
	free(uids);
	/* below what the index remembers: every UID not there */
	assert_int_equal(mstore_view_vanished(v, 1, &uids, &n, &err), 0);
	assert_int_equal(n, 2);
	free(uids);
	/* cache */
	assert_int_equal(mstore_view_cache_get(v, 0, &got, &err), 0);
	assert_null(got.envelope.p);
	memset(&c, 0, sizeof(c));
	c.envelope = STR_LIT("(NIL \"subj\")");
	c.body = STR_LIT("");
	assert_int_equal(mstore_view_cache_put(v, 0, &c, &err), 0);
	memset(&c, 0, sizeof(c));
	c.subject = STR_LIT("subj");
	c.sent = 12345;
	c.references = str_make("a\0b", 3);
	assert_int_equal(mstore_view_cache_put(v, 0, &c, &err), 0);
	assert_int_equal(mstore_view_cache_get(v, 0, &got, &err), 0);
	assert_int_equal(got.envelope.len, 12);
	assert_memory_equal(got.envelope.p, "(NIL \"subj\")", 12);
	assert_non_null(got.body.p);
	assert_int_equal(got.body.len, 0);
	assert_null(got.bodystructure.p);
	assert_int_equal(got.sent, 12345);
	assert_int_equal(got.subject.len, 4);
	assert_int_equal(got.references.len, 3);
	assert_memory_equal(got.references.p, "a\0b", 3);
	assert_int_equal(mstore_view_cache_get(v, 1, &got, &err), 0);
	assert_null(got.subject.p);
	/* the connection closed while idle comes back */
	mstore_idle(st);
	assert_int_equal(mstore_view_cache_get(v, 0, &got, &err), 0);
	assert_int_equal(got.sent, 12345);
	/* expunge all \Deleted */
	assert_int_equal(mstore_view_expunge(v, NULL, 0, &err), 0);
	refresh(v, true, &e);
	assert_string_equal(e.log, "X2:5 ");
	mstore_view_close(&v);
	assert_int_equal(mstore_status(st, "Nope", &s, &err), MSTORE_ENOENT);
	assert_int_equal(mstore_status(st, "../x", &s, &err), MSTORE_EINVAL);
	mstore_close(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_specials, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver_view, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_two_sessions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_by_hand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renamed_under, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keywords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_vanished_cache,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("imap/mstore", tests, NULL, NULL);
}
