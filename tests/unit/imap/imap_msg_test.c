/* imap_msg_test.c: the glue of imap_msg.c with a real store in a temp
 * dir: messages APPENDed, then mapped, parsed and cached through the
 * view; the cache written to the index and read back without parsing;
 * FETCH, SEARCH, SORT and THREAD over the view; a message whose file
 * vanished answers MSTORE_EGONE and writes nothing.
 * Temp dirs live under $FACTEUR_TEST_TMP when set, else /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "imap_msg_fixture.h"

static char test_base[512];

static int
rm_rf(const char *path)
{
	char cmd[1100];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int
setup(void **state)
{
	const char *env = getenv("FACTEUR_TEST_TMP");

	(void)state;
	fx_utc();
	if (env != NULL && *env != '\0') {
		mkdir(env, 0755);
		snprintf(test_base, sizeof(test_base), "%s/imap_msg.XXXXXX",
		    env);
	} else
		snprintf(test_base, sizeof(test_base), "/tmp/imap_msg.XXXXXX");
	return mkdtemp(test_base) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	fx_done();
	(void)rm_rf(test_base);
	return 0;
}

static const char m_a[] =
	"From: Zed <zed@example.com>" CRLF
	"Subject: Lunch" CRLF
	"Date: Mon, 02 Mar 2020 10:00:00 +0000" CRLF
	"Message-ID: <a@x>" CRLF
	CRLF
	"first" CRLF;
static const char m_b[] =
	"From: Amy <amy@example.com>" CRLF
	"Subject: Re: lunch" CRLF
	"Date: Tue, 03 Mar 2020 10:00:00 +0000" CRLF
	"Message-ID: <b@x>" CRLF
	"In-Reply-To: <a@x>" CRLF
	CRLF
	"second" CRLF;

static void
append(struct mstore *st, const char *msg, size_t len)
{
	const char *err = NULL;
	uint32_t uv, uid;

	if (mstore_append(st, "INBOX", msg, len, 0, NULL, 0, FX_IDATE, &uv,
	    &uid, &err) != 0)
		fail_msg("append: %s", err);
}

static char *
fetch_one(struct mstore_view *v, uint32_t i, const char *items, int *rc_r,
    bool *parsed_r)
{
	const struct imap_command *cmd;
	struct imap_fetch_ctx ctx;
	struct imap_msg md;
	struct buf out, line;
	const char *err = NULL;
	char *s;

	buf_init(&line, 4096);
	buf_printf(&line, "a FETCH 1 %s", items);
	cmd = fx_cmd(buf_cstr(&line));
	buf_free(&line);
	assert_non_null(cmd);
	memset(&ctx, 0, sizeof(ctx));
	ctx.att = cmd->u.fetch.att;
	ctx.n = cmd->u.fetch.n;
	ctx.uid = true;
	imap_msg_init(&md, v, i);
	buf_init(&out, 1 << 24);
	*rc_r = imap_fetch_write(&out, &ctx, &md, &err);
	if (parsed_r != NULL)
		*parsed_r = md.mime != NULL;
	imap_msg_release(&md);
	s = strndup(out.p != NULL ? out.p : "", out.len);
	buf_free(&out);
	return s;
}

static void
test_view(void **state)
{
	struct mstore *st = NULL;
	struct mstore_view *v = NULL;
	const char *err = NULL;
	char root[600], *s;
	bool parsed;
	int rc;

	(void)state;
	snprintf(root, sizeof(root), "%s/md", test_base);
	if (mstore_open(root, &st, &err) != 0)
		fail_msg("open: %s", err);
	append(st, fx_msg, sizeof(fx_msg) - 1);
	append(st, m_a, sizeof(m_a) - 1);
	append(st, m_b, sizeof(m_b) - 1);
	if (mstore_view_open(st, "INBOX", false, &v, &err) != 0)
		fail_msg("view: %s", err);
	assert_int_equal(mstore_view_count(v), 3);

	/* first ENVELOPE: parsed, and the cache written */
	s = fetch_one(v, 0, "(ENVELOPE BODY[1.1])", &rc, &parsed);
	assert_int_equal(rc, 0);
	assert_true(parsed);
	assert_non_null(strstr(s, "* 1 FETCH (UID 1 ENVELOPE (\"Tue, 03 Mar"));
	assert_non_null(strstr(s, "BODY[1.1] {38}\r\nHello caf=C3=A9 wor=\r\n"
	    "ld =C3=89T=C3=89)\r\n"));
	free(s);
	/* the second time it comes from the index: no parse */
	s = fetch_one(v, 0, "(BODYSTRUCTURE ENVELOPE FLAGS)", &rc, &parsed);
	assert_int_equal(rc, 0);
	assert_false(parsed);
	assert_non_null(strstr(s, "BODYSTRUCTURE (((\"text\" \"plain\""));
	assert_non_null(strstr(s, "\\Recent"));
	free(s);
	{
		struct imap_msg md;

		imap_msg_init(&md, v, 0);
		assert_int_equal(imap_msg_cache(&md, &err), 0);
		assert_null(md.mime);
		assert_null(md.data);		/* not even mapped */
		assert_int_equal(md.cache.sent, (time_t)1583191800);
		assert_int_equal(md.cache.from.len, 5);
		assert_memory_equal(md.cache.from.p, "joerg", 5);
		assert_non_null(md.cache.references.p);
		imap_msg_release(&md);
	}

	/* SEARCH through the view */
	{
		const struct imap_command *cmd;
		struct imap_search_ctx ctx;
		struct imap_msg md;
		int hits = 0;

		cmd = fx_cmd("a SEARCH BODY \"\xc3\xa9t\xc3\xa9\" OR FROM zed "
		    "FROM joerg");
		assert_non_null(cmd);
		memset(&ctx, 0, sizeof(ctx));
		ctx.count = mstore_view_count(v);
		ctx.uidmax = 3;
		for (uint32_t i = 0; i < ctx.count; i++) {
			imap_msg_init(&md, v, i);
			rc = imap_search_match(&ctx, cmd->u.search.root, &md,
			    &err);
			assert_true(rc >= 0);
			hits += rc << i;
			imap_msg_release(&md);
		}
		assert_int_equal(hits, 1);
	}

	/* SORT and THREAD */
	{
		struct imap_sort_crit crit[] = { { IMAP_SORT_FROM, false } };
		uint32_t idx[] = { 0, 1, 2 };
		struct buf out;

		assert_int_equal(imap_sort(v, crit, 1, idx, 3, &err), 0);
		assert_int_equal(idx[0], 2);	/* amy */
		assert_int_equal(idx[1], 0);	/* joerg */
		assert_int_equal(idx[2], 1);	/* zed */
		crit[0] = (struct imap_sort_crit){ IMAP_SORT_DATE, true };
		assert_int_equal(imap_sort(v, crit, 1, idx, 3, &err), 0);
		assert_int_equal(idx[0], 2);	/* 3 Mar 10:00 */
		assert_int_equal(idx[1], 0);	/* 2 Mar 23:30 UTC */
		assert_int_equal(idx[2], 1);	/* 2 Mar 10:00 */
		crit[0] = (struct imap_sort_crit){ IMAP_SORT_DISPLAYFROM,
		    false };
		assert_int_equal(imap_sort(v, crit, 1, idx, 3, &err), 0);
		assert_int_equal(idx[0], 2);	/* Amy */
		assert_int_equal(idx[1], 0);	/* Jörg */
		assert_int_equal(idx[2], 1);	/* Zed */

		buf_init(&out, 1 << 20);
		idx[0] = 0, idx[1] = 1, idx[2] = 2;
		assert_int_equal(imap_thread(v, IMAP_THREAD_REFERENCES, idx, 3,
		    false, &out, &err), 0);
		assert_string_equal(buf_cstr(&out), "(2 3)(1)");
		buf_reset(&out);
		assert_int_equal(imap_thread(v, IMAP_THREAD_ORDEREDSUBJECT,
		    idx, 3, true, &out, &err), 0);
		assert_string_equal(buf_cstr(&out), "(2 3)(1)");
		buf_free(&out);
	}

	/* the file vanishes: EGONE, nothing written */
	{
		char dir[700], path[1000];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/cur", root);
		assert_non_null(d = opendir(dir));
		while ((de = readdir(d)) != NULL) {
			if (strstr(de->d_name, ",U=2") == NULL)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			assert_int_equal(unlink(path), 0);
		}
		closedir(d);
		s = fetch_one(v, 1, "(FLAGS BODY.PEEK[])", &rc, NULL);
		assert_int_equal(rc, MSTORE_EGONE);
		assert_string_equal(s, "");
		free(s);
		/* what needs no file still works */
		s = fetch_one(v, 1, "(FLAGS RFC822.SIZE)", &rc, NULL);
		assert_int_equal(rc, 0);
		free(s);
	}
	mstore_view_close(&v);
	mstore_close(&st);
}

/* Replace the bytes of uid's file, keeping its name: what comes from
 * the file changes, what comes from the cache does not. */
static void
rewrite(const char *root, uint32_t uid, const char *data)
{
	char dir[700], path[1000], tag[32];
	struct dirent *de;
	int found = 0;
	FILE *f;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/cur", root);
	snprintf(tag, sizeof(tag), ",U=%u:", uid);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, tag) == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_non_null(f = fopen(path, "w"));
		assert_int_equal(fputs(data, f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
		found++;
	}
	closedir(d);
	assert_int_equal(found, 1);
}

/* Bit i set when message i matches. */
static int
search_all(struct mstore_view *v, const char *line)
{
	const struct imap_command *cmd;
	struct imap_search_ctx ctx;
	struct imap_msg md;
	const char *err = NULL;
	int rc, hits = 0;

	assert_non_null(cmd = fx_cmd(line));
	memset(&ctx, 0, sizeof(ctx));
	ctx.count = mstore_view_count(v);
	ctx.uidmax = ctx.count;
	for (uint32_t i = 0; i < ctx.count; i++) {
		imap_msg_init(&md, v, i);
		rc = imap_search_match(&ctx, cmd->u.search.root, &md, &err);
		assert_true(rc >= 0);
		hits |= rc << i;
		imap_msg_release(&md);
	}
	return hits;
}

/* Header SEARCH keys and HEADER sections read the header block cached
 * in the index, not the file: a SEARCH fills the cache of messages
 * that lack it, and once filled, changing the file's bytes changes
 * nothing of them (but BODY[TEXT] does read the file).  A header over
 * the cap is not cached and read from the file. */
static void
test_header_cache(void **state)
{
	struct mstore *st = NULL;
	struct mstore_view *v = NULL;
	const char *err = NULL;
	struct buf big;
	struct imap_msg md;
	char root[600], *s;
	bool parsed;
	int rc;

	(void)state;
	snprintf(root, sizeof(root), "%s/md2", test_base);
	if (mstore_open(root, &st, &err) != 0)
		fail_msg("open: %s", err);
	append(st, m_a, sizeof(m_a) - 1);
	buf_init(&big, 1 << 20);
	buf_append_str(&big, "Subject: Big lunch" CRLF);
	for (int i = 0; i < 1000; i++)
		buf_printf(&big, "X-Pad-%d: %s" CRLF, i,
		    "padding padding padding");
	buf_append_str(&big, CRLF "big body" CRLF);
	assert_true(big.len > IMAP_MSG_HEADER_CACHE_MAX);
	append(st, big.p, big.len);
	buf_free(&big);
	if (mstore_view_open(st, "INBOX", false, &v, &err) != 0)
		fail_msg("view: %s", err);

	/* the first SEARCH computes and stores the cache */
	assert_int_equal(search_all(v, "a SEARCH SUBJECT lunch"), 3);
	imap_msg_init(&md, v, 0);
	assert_int_equal(imap_msg_cache(&md, &err), 0);
	assert_null(md.data);
	assert_non_null(md.cache.header.p);
	assert_int_equal(md.cache.header.len, sizeof(m_a) - 1 - 7);
	assert_memory_equal(md.cache.header.p, m_a, md.cache.header.len);
	imap_msg_release(&md);
	imap_msg_init(&md, v, 1);
	assert_int_equal(imap_msg_cache(&md, &err), 0);
	assert_null(md.cache.header.p);		/* over the cap */
	assert_non_null(md.cache.envelope.p);
	imap_msg_release(&md);

	rewrite(root, 1, "From: Other <o@x>" CRLF "Subject: Dinner" CRLF
	    CRLF "new body" CRLF);
	rewrite(root, 2, "Subject: Big dinner" CRLF CRLF "new" CRLF);

	/* header keys: the cache for 1, the file for 2 */
	assert_int_equal(search_all(v, "a SEARCH SUBJECT lunch"), 1);
	assert_int_equal(search_all(v, "a SEARCH SUBJECT dinner"), 2);
	assert_int_equal(search_all(v, "a SEARCH FROM zed"), 1);
	assert_int_equal(search_all(v, "a SEARCH HEADER Message-ID <a@x>"), 1);
	/* BODY reads the file, and runs after the header key */
	assert_int_equal(search_all(v, "a SEARCH BODY new SUBJECT lunch"), 1);
	assert_int_equal(search_all(v, "a SEARCH BODY first"), 0);

	s = fetch_one(v, 0, "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] "
	    "BODY.PEEK[HEADER.FIELDS.NOT (Date Message-ID)]<0.12> "
	    "RFC822.HEADER BODY.PEEK[TEXT])", &rc, &parsed);
	assert_int_equal(rc, 0);
	assert_false(parsed);
	assert_string_equal(s, "* 1 FETCH (UID 1 "
	    "BODY[HEADER.FIELDS (SUBJECT FROM)] {47}\r\n"
	    "From: Zed <zed@example.com>\r\nSubject: Lunch\r\n\r\n "
	    "BODY[HEADER.FIELDS.NOT (Date Message-ID)]<0> {12}\r\n"
	    "From: Zed <z "
	    "RFC822.HEADER {105}\r\n"
	    "From: Zed <zed@example.com>\r\nSubject: Lunch\r\n"
	    "Date: Mon, 02 Mar 2020 10:00:00 +0000\r\n"
	    "Message-ID: <a@x>\r\n\r\n "
	    "BODY[TEXT] {10}\r\nnew body\r\n)\r\n");
	free(s);
	s = fetch_one(v, 1, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])", &rc,
	    NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] "
	    "{23}\r\nSubject: Big dinner\r\n\r\n)\r\n");
	free(s);
	mstore_view_close(&v);
	mstore_close(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_header_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
