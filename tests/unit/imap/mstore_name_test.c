/* mstore_name_test.c: folder names to Maildir++ directories and back
 * (tables of good and bad names), and Maildir file names: parsing,
 * rebuilding with a UID and flags, letters we do not know kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "imap/imap_parse.h"
#include "imap/mstore_int.h"

static struct mstore	test_st = { .root = "/r" };

static void
test_name_dir(void **state)
{
	static const struct {
		const char	*name, *canon, *dir;
	} good[] = {
		{ "INBOX", "INBOX", "/r" },
		{ "inbox", "INBOX", "/r" },
		{ "Inbox/Sub", "INBOX/Sub", "/r/.INBOX.Sub" },
		{ "Sent", "Sent", "/r/.Sent" },
		{ "a/b/c", "a/b/c", "/r/.a.b.c" },
		{ "v1.2", "v1.2", "/r/.v1&AC4-2" },
		{ "caf\xc3\xa9", "caf\xc3\xa9", "/r/.caf&AOk-" },
		{ "a&b", "a&b", "/r/.a&-b" },
		{ "x..y", "x..y", "/r/.x&AC4-&AC4-y" },
		{ "INBOXES", "INBOXES", "/r/.INBOXES" },
	};
	static const char *const bad[] = {
		"", "/", "../x", "a/../b", "a//b", "a/", "/a", ".hidden",
		"a/.b", ".", "..", "a/./b", "x\ty", "x\x7fy", "a*", "a%b",
		"\xc3", "\xed\xa0\x80",
	};
	char canon[MSTORE_NAME_MAX + 1], dir[MAILDIR_PATH_MAX], back[600];
	const char *err;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(mstore_name_dir(&test_st, good[i].name, canon,
		    sizeof(canon), dir, sizeof(dir), &err), 0);
		assert_string_equal(canon, good[i].canon);
		assert_string_equal(dir, good[i].dir);
		if (strcmp(canon, "INBOX") == 0)
			continue;
		assert_int_equal(mstore_name_from_dir(dir + 3, back,
		    sizeof(back)), 0);
		assert_string_equal(back, good[i].canon);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mstore_name_dir(&test_st, bad[i], canon,
		    sizeof(canon), dir, sizeof(dir), &err), MSTORE_EINVAL);
	/* too deep, too long once encoded */
	{
		char deep[100] = "a";

		for (int i = 1; i < 17; i++)
			strcat(deep, "/a");
		assert_int_equal(mstore_name_dir(&test_st, deep, canon,
		    sizeof(canon), dir, sizeof(dir), &err), MSTORE_EINVAL);
	}
	{
		char wide[201];

		/* 200 bytes of UTF-8: 267 of mUTF-7 */
		for (int i = 0; i < 100; i++)
			memcpy(wide + 2 * i, "\xc3\xa9", 2);
		wide[200] = '\0';
		assert_int_equal(mstore_name_dir(&test_st, wide, canon,
		    sizeof(canon), dir, sizeof(dir), &err), MSTORE_EINVAL);
	}
}

static void
test_from_dir(void **state)
{
	static const char *const notours[] = {
		"..", "..x", ".", ".a.", ".a..b", ".bad&", "x",
		"..facteur-deleted.0011",
	};
	char name[600];

	for (size_t i = 0; i < sizeof(notours) / sizeof(notours[0]); i++)
		assert_int_equal(mstore_name_from_dir(notours[i], name,
		    sizeof(name)), -1);
	assert_int_equal(mstore_name_from_dir(".a.b", name, sizeof(name)), 0);
	assert_string_equal(name, "a/b");
}

static void
test_fname(void **state)
{
	struct mstore_fname f;
	char out[MAILDIR_NAME_MAX + 1];
	unsigned flags;
	uint32_t kw;

	mstore_fname_parse("1700.M1P2.h,S=12,U=7:2,FSac", &f);
	assert_int_equal(f.base.len, 11);
	assert_true(f.has_size);
	assert_int_equal(f.size, 12);
	assert_true(f.has_uid);
	assert_int_equal(f.uid, 7);
	assert_true(f.has_info);
	mstore_fname_flags(&f, &flags, &kw);
	assert_int_equal(flags, IMAP_FLAG_FLAGGED | IMAP_FLAG_SEEN);
	assert_int_equal(kw, 5);

	mstore_fname_parse("1700.M1P2.h", &f);
	assert_int_equal(f.base.len, 11);
	assert_false(f.has_size || f.has_uid || f.has_info);
	mstore_fname_parse("1700.x,U=0:2,", &f);
	assert_false(f.has_uid);
	mstore_fname_parse("1700.x,U=99999999999:2,", &f);
	assert_false(f.has_uid);

	/* a UID added after the other fields, flags kept */
	assert_int_equal(mstore_fname_build(out, sizeof(out),
	    "1700.x,S=5,W=6:2,PS", 3, false, 0, 0), 0);
	assert_string_equal(out, "1700.x,S=5,W=6,U=3:2,PS");
	/* new flags: letters we don't know stay, ASCII order */
	assert_int_equal(mstore_fname_build(out, sizeof(out),
	    "1700.x,S=5,U=3:2,PSab", 0, true, IMAP_FLAG_DRAFT |
	    IMAP_FLAG_DELETED | IMAP_FLAG_ANSWERED, 1U << 25), 0);
	assert_string_equal(out, "1700.x,S=5,U=3:2,DPRTz");
	/* a UID replaced; new/ names get ":2," */
	assert_int_equal(mstore_fname_build(out, sizeof(out),
	    "1700.x,U=3,S=5", 9, false, 0, 0), 0);
	assert_string_equal(out, "1700.x,S=5,U=9:2,");
	/* too long */
	{
		char longname[300];

		memset(longname, 'x', 254);
		memcpy(longname, "17.", 3);
		longname[254] = '\0';
		assert_int_equal(mstore_fname_build(out, sizeof(out),
		    longname, 5, false, 0, 0), -1);
	}
	assert_true(mstore_fname_valid("1700.M1.h,S=3"));
	assert_false(mstore_fname_valid(".1700.x"));
	assert_false(mstore_fname_valid("notes~"));
	assert_false(mstore_fname_valid("1700"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_dir),
		cmocka_unit_test(test_from_dir),
		cmocka_unit_test(test_fname),
	};

	return cmocka_run_group_tests_name("imap/mstore_name", tests, NULL,
	    NULL);
}
