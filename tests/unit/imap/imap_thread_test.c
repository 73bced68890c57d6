/* imap_thread_test.c: RFC 5256 base subjects, THREAD=ORDEREDSUBJECT and
 * THREAD=REFERENCES (imap_thread_run() on messages described without a
 * store), with the response shapes of the RFC's examples, dummies,
 * subject merging, broken and looping references, deep chains without
 * recursion; SORT (imap_sort_run()) keys, REVERSE and ties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_msg_int.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* --- base subject ------------------------------------------------------- */

static void
base_is(const char *in, const char *want, bool want_reply)
{
	struct buf b;
	bool reply = !want_reply;

	buf_init(&b, 4096);
	imap_msg_base_subject(&b, str_cstr(in), &reply);
	if (b.len != strlen(want) || reply != want_reply ||
	    (b.len > 0 && memcmp(b.p, want, b.len) != 0))
		fail_msg("base subject of <%s>: want <%s> %d, got <%.*s> %d",
		    in, want, want_reply, (int)b.len, b.p ? b.p : "", reply);
	buf_free(&b);
}

static void
test_base_subject(void **state)
{
	(void)state;
	base_is("Hello", "Hello", false);
	base_is("  Hello   world \t ", "Hello world", false);
	base_is("Re: Hello", "Hello", true);
	base_is("RE:Hello", "Hello", true);
	base_is("re : Hello", "Hello", true);
	base_is("Fwd: Hello", "Hello", true);
	base_is("FW: Hello", "Hello", true);
	base_is("Re: Re: Fwd: Re: Hello", "Hello", true);
	base_is("Re[2]: Hello", "Hello", true);
	base_is("Re [2]: Hello", "Hello", true);
	base_is("[list] Re: Hello", "Hello", true);
	base_is("[list] [other] Re: Hello", "Hello", true);
	base_is("Re: [list] Hello", "Hello", true);
	base_is("[list] Hello", "Hello", false);
	base_is("[only a blob]", "[only a blob]", false);
	base_is("Hello (fwd)", "Hello", true);
	base_is("Hello (FWD) (fwd)  ", "Hello", true);
	base_is("[Fwd: Hello]", "Hello", true);
	base_is("[fwd: Re: [list] Hello (fwd)]", "Hello", true);
	base_is("Re: [Fwd: Re: Hello]", "Hello", true);
	base_is("Reply: Hello", "Reply: Hello", false);
	base_is("Re:", "", true);
	base_is("", "", false);
	base_is("Rex: a", "Rex: a", false);
	base_is("[a] [b]", "[b]", false);
	base_is("\xc3\x89t\xc3\xa9 Re: x", "\xc3\x89t\xc3\xa9 Re: x", false);
	{
		struct buf b;

		buf_init(&b, 64);
		imap_base_subject(&b, STR_LIT("Re: Fwd: x"));
		assert_int_equal(b.len, 1);
		assert_memory_equal(b.p, "x", 1);
		buf_free(&b);
	}
}

/* --- THREAD ------------------------------------------------------------- */

struct tmsg {
	uint32_t	 num;
	time_t		 date;
	const char	*subject;	/* raw: base subject taken here */
	const char	*id, *irt, *refs;
};

static char *
thread(const struct tmsg *tm, size_t n, enum imap_thread_alg alg)
{
	struct imap_thread_msg *m = calloc(n + 1, sizeof(*m));
	struct buf *subj = calloc(n + 1, sizeof(*subj));
	struct buf out;
	char *s;

	for (size_t i = 0; i < n; i++) {
		buf_init(&subj[i], 4096);
		imap_msg_base_subject(&subj[i], str_cstr(tm[i].subject),
		    &m[i].reply);
		m[i].num = tm[i].num;
		m[i].seq = (uint32_t)i + 1;
		m[i].date = tm[i].date;
		m[i].subject = str_make(subj[i].p != NULL ? subj[i].p : "",
		    subj[i].len);
		m[i].message_id = str_cstr(tm[i].id ? tm[i].id : "");
		m[i].in_reply_to = str_cstr(tm[i].irt ? tm[i].irt : "");
		m[i].references = str_cstr(tm[i].refs ? tm[i].refs : "");
	}
	buf_init(&out, 1 << 24);
	assert_int_equal(imap_thread_run(m, n, alg, &out), 0);
	s = strdup(buf_cstr(&out));
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		buf_free(&subj[i]);
	free(subj);
	free(m);
	return s;
}

static void
thread_is(const struct tmsg *tm, size_t n, enum imap_thread_alg alg,
    const char *want)
{
	char *got = thread(tm, n, alg);

	if (strcmp(got, want) != 0)
		fail_msg("THREAD: want <%s> got <%s>", want, got);
	free(got);
}

/* RFC 5256 §4's response "(2)(3 6 (4 23)(44 7 96))" from messages
 * built to give it. */
static void
test_references_rfc_shape(void **state)
{
	static const struct tmsg tm[] = {
		{ 2, 100, "other", "<2@x>", NULL, NULL },
		{ 3, 200, "topic", "<3@x>", NULL, NULL },
		{ 6, 300, "Re: topic", "<6@x>", "<3@x>", NULL },
		{ 4, 400, "Re: topic", "<4@x>", NULL, "<3@x> <6@x>" },
		{ 23, 500, "Re: topic", "<23@x>", NULL, "<3@x> <6@x> <4@x>" },
		{ 44, 600, "Re: topic", "<44@x>", "<6@x>", "<3@x> <6@x>" },
		{ 7, 700, "Re: topic", "<7@x>", NULL, "<6@x> <44@x>" },
		{ 96, 800, "Re: topic", "<96@x>", NULL,
		    "<3@x> <6@x> <44@x> <7@x>" },
	};

	(void)state;
	thread_is(tm, NELEM(tm), IMAP_THREAD_REFERENCES,
	    "(2)(3 6 (4 23)(44 7 96))");
	/* the order of the mailbox does not matter */
	{
		struct tmsg rev[NELEM(tm)];

		for (size_t i = 0; i < NELEM(tm); i++)
			rev[i] = tm[NELEM(tm) - 1 - i];
		thread_is(rev, NELEM(rev), IMAP_THREAD_REFERENCES,
		    "(2)(3 6 (4 23)(44 7 96))");
	}
}

static void
test_references_dummies(void **state)
{
	/* two replies to a message we do not have: a dummy parent */
	static const struct tmsg a[] = {
		{ 3, 100, "Re: lost", "<3@x>", NULL, "<gone@x>" },
		{ 5, 200, "Re: lost", "<5@x>", "<gone@x>", NULL },
		{ 1, 50, "alone", "<1@x>", NULL, NULL },
	};
	/* one reply to a lost message: the dummy goes, 4 is a root */
	static const struct tmsg b[] = {
		{ 4, 100, "Re: lost", "<4@x>", NULL, "<gone@x>" },
	};
	/* a lost message in the middle of a chain is skipped */
	static const struct tmsg c[] = {
		{ 1, 100, "start", "<1@x>", NULL, NULL },
		{ 3, 300, "Re: start", "<3@x>", NULL, "<1@x> <2@x>" },
	};

	(void)state;
	thread_is(a, NELEM(a), IMAP_THREAD_REFERENCES, "(1)((3)(5))");
	thread_is(b, NELEM(b), IMAP_THREAD_REFERENCES, "(4)");
	thread_is(c, NELEM(c), IMAP_THREAD_REFERENCES, "(1 3)");
}

static void
test_references_subjects(void **state)
{
	/* same subject, no references: a reply goes under the original */
	static const struct tmsg a[] = {
		{ 1, 100, "Lunch?", "<1@x>", NULL, NULL },
		{ 2, 200, "Re: lunch?", "<2@x>", NULL, NULL },
	};
	/* neither is a reply: siblings under a dummy */
	static const struct tmsg b[] = {
		{ 1, 100, "Lunch?", "<1@x>", NULL, NULL },
		{ 2, 200, "lunch?", "<2@x>", NULL, NULL },
		{ 3, 150, "other", "<3@x>", NULL, NULL },
	};
	/* both replies: siblings too; the reply seen first */
	static const struct tmsg c[] = {
		{ 1, 300, "Re: Lunch?", "<1@x>", NULL, NULL },
		{ 2, 200, "Re: Lunch?", "<2@x>", NULL, NULL },
	};
	/* empty subjects are never gathered */
	static const struct tmsg d[] = {
		{ 1, 100, "", "<1@x>", NULL, NULL },
		{ 2, 200, "Re:", "<2@x>", NULL, NULL },
	};
	/* the reply came first: the original still becomes the parent */
	static const struct tmsg e[] = {
		{ 7, 200, "Re: plans", "<7@x>", NULL, NULL },
		{ 8, 100, "plans", "<8@x>", NULL, NULL },
	};

	(void)state;
	thread_is(a, NELEM(a), IMAP_THREAD_REFERENCES, "(1 2)");
	thread_is(b, NELEM(b), IMAP_THREAD_REFERENCES, "((1)(2))(3)");
	thread_is(c, NELEM(c), IMAP_THREAD_REFERENCES, "((2)(1))");
	thread_is(d, NELEM(d), IMAP_THREAD_REFERENCES, "(1)(2)");
	thread_is(e, NELEM(e), IMAP_THREAD_REFERENCES, "(8 7)");
}

static void
test_references_broken(void **state)
{
	/* references that loop: each names the other as its parent */
	static const struct tmsg a[] = {
		{ 1, 100, "a", "<1@x>", NULL, "<2@x>" },
		{ 2, 200, "b", "<2@x>", NULL, "<1@x>" },
	};
	/* a message that names itself, duplicate and missing ids */
	static const struct tmsg b[] = {
		{ 1, 100, "a", "<1@x>", NULL, "<1@x>" },
		{ 2, 200, "b", "<1@x>", NULL, NULL },
		{ 3, 300, "c", NULL, NULL, "<1@x>" },
		{ 4, 400, "d", "", "<nowhere@x>", NULL },
	};
	/* a references loop through several messages */
	static const struct tmsg c[] = {
		{ 1, 100, "a", "<1@x>", NULL, "<3@x> <2@x>" },
		{ 2, 200, "b", "<2@x>", NULL, "<1@x> <3@x>" },
		{ 3, 300, "c", "<3@x>", NULL, "<2@x> <1@x>" },
	};
	char *s;

	(void)state;
	s = thread(a, NELEM(a), IMAP_THREAD_REFERENCES);
	/* no loop: one of them is the root */
	assert_true(strcmp(s, "(1 2)") == 0 || strcmp(s, "(2 1)") == 0);
	free(s);
	thread_is(b, NELEM(b), IMAP_THREAD_REFERENCES, "(1 3)(2)(4)");
	s = thread(c, NELEM(c), IMAP_THREAD_REFERENCES);
	assert_true(strlen(s) == 7 && strchr(s, '1') && strchr(s, '2') &&
	    strchr(s, '3'));
	free(s);
}

/* A chain of 50,000 replies: no recursion, and it is one thread. */
static void
test_references_deep(void **state)
{
	enum { N = 50000 };
	struct tmsg *tm = calloc(N, sizeof(*tm));
	char (*ids)[32] = calloc(N, sizeof(*ids));
	char *s, *want;
	size_t k = 0;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "<%zu@x>", i);
		tm[i].num = (uint32_t)i + 1;
		tm[i].date = (time_t)i;
		tm[i].subject = "deep";
		tm[i].id = ids[i];
		tm[i].irt = i > 0 ? ids[i - 1] : NULL;
	}
	s = thread(tm, N, IMAP_THREAD_REFERENCES);
	want = malloc(N * 8 + 8);
	want[k++] = '(';
	for (size_t i = 0; i < N; i++)
		k += (size_t)sprintf(want + k, "%s%zu", i ? " " : "", i + 1);
	want[k++] = ')';
	want[k] = '\0';
	assert_string_equal(s, want);
	free(s);
	/* and ORDEREDSUBJECT: one parent, N - 1 children */
	s = thread(tm, N, IMAP_THREAD_ORDEREDSUBJECT);
	assert_true(strncmp(s, "(1 (2)(3)(4)", 12) == 0);
	assert_int_equal(s[strlen(s) - 1], ')');
	free(s);
	free(want);
	free(ids);
	free(tm);
}

static void
test_orderedsubject(void **state)
{
	static const struct tmsg a[] = {
		{ 1, 100, "a", NULL, NULL, NULL },
		{ 2, 400, "re: A", NULL, NULL, NULL },
		{ 3, 200, "b", NULL, NULL, NULL },
		{ 4, 300, "Fwd: a", NULL, NULL, NULL },
		{ 5, 50, "c", NULL, NULL, NULL },
		{ 6, 500, "B", NULL, NULL, NULL },
		{ 7, 500, "", NULL, NULL, NULL },
	};
	static const struct tmsg b[] = {
		{ 10, 100, "x", NULL, NULL, NULL },
		{ 11, 200, "x", NULL, NULL, NULL },
	};

	(void)state;
	/* threads by their first message's date; children by date */
	thread_is(a, NELEM(a), IMAP_THREAD_ORDEREDSUBJECT,
	    "(5)(1 (4)(2))(3 6)(7)");
	thread_is(b, NELEM(b), IMAP_THREAD_ORDEREDSUBJECT, "(10 11)");
	thread_is(b, 0, IMAP_THREAD_ORDEREDSUBJECT, "");
	thread_is(b, 0, IMAP_THREAD_REFERENCES, "");
}

/* --- SORT --------------------------------------------------------------- */

static void
test_sort(void **state)
{
	struct imap_sort_msg m[5];
	struct imap_sort_crit crit[3];
	static const char *const subj[] = { "b", "A", "a", "c", "B" };
	static const char *const from[] = { "zed", "amy", "Bob", "amy", "" };

	(void)state;
	memset(m, 0, sizeof(m));
	for (size_t i = 0; i < 5; i++) {
		m[i].idx = (uint32_t)i;
		m[i].seq = (uint32_t)i + 1;
		m[i].subject = str_cstr(subj[i]);
		m[i].from = str_cstr(from[i]);
		m[i].date = (time_t)(100 - (i % 2) * 10);
		m[i].arrival = (time_t)(5 - i);
		m[i].size = 10 * (i % 3);
	}
	/* SUBJECT: casemap, ties by sequence */
	crit[0] = (struct imap_sort_crit){ IMAP_SORT_SUBJECT, false };
	imap_sort_run(m, 5, crit, 1);
	assert_int_equal(m[0].seq, 2);
	assert_int_equal(m[1].seq, 3);
	assert_int_equal(m[2].seq, 1);
	assert_int_equal(m[3].seq, 5);
	assert_int_equal(m[4].seq, 4);
	/* REVERSE SUBJECT: ties still by ascending sequence */
	crit[0].reverse = true;
	imap_sort_run(m, 5, crit, 1);
	assert_int_equal(m[0].seq, 4);
	assert_int_equal(m[1].seq, 1);
	assert_int_equal(m[2].seq, 5);
	assert_int_equal(m[3].seq, 2);
	assert_int_equal(m[4].seq, 3);
	/* FROM then REVERSE DATE; "" first */
	crit[0] = (struct imap_sort_crit){ IMAP_SORT_FROM, false };
	crit[1] = (struct imap_sort_crit){ IMAP_SORT_DATE, true };
	imap_sort_run(m, 5, crit, 2);
	assert_int_equal(m[0].seq, 5);
	assert_int_equal(m[1].seq, 2);	/* amy, date 90 */
	assert_int_equal(m[2].seq, 4);	/* amy, date 90: seq */
	assert_int_equal(m[3].seq, 3);
	assert_int_equal(m[4].seq, 1);
	/* SIZE, ARRIVAL */
	crit[0] = (struct imap_sort_crit){ IMAP_SORT_SIZE, false };
	crit[1] = (struct imap_sort_crit){ IMAP_SORT_ARRIVAL, false };
	imap_sort_run(m, 5, crit, 2);
	assert_int_equal(m[0].seq, 4);	/* size 0, arrival 2 */
	assert_int_equal(m[1].seq, 1);
	assert_int_equal(m[2].seq, 5);	/* size 10, arrival 1 */
	assert_int_equal(m[3].seq, 2);
	assert_int_equal(m[4].seq, 3);
	/* casemap is ASCII only */
	assert_true(imap_sort_casemap_cmp(STR_LIT("abc"), STR_LIT("ABD")) < 0);
	assert_int_equal(imap_sort_casemap_cmp(STR_LIT("aBc"), STR_LIT("AbC")),
	    0);
	assert_true(imap_sort_casemap_cmp(STR_LIT("ab"), STR_LIT("abc")) < 0);
	assert_true(imap_sort_casemap_cmp(STR_LIT("["), STR_LIT("a")) > 0);
	assert_true(imap_sort_casemap_cmp(STR_LIT("\xc3\xa9"),
	    STR_LIT("\xc3\x89")) != 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_references_rfc_shape),
		cmocka_unit_test(test_references_dummies),
		cmocka_unit_test(test_references_subjects),
		cmocka_unit_test(test_references_broken),
		cmocka_unit_test(test_references_deep),
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_sort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
