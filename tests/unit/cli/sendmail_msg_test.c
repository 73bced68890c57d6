/* sendmail_msg_test.c: tests for src/cli/sendmail_msg.c: RFC 5322
 * address lists, and standard input normalised into the header block
 * and the body.  Each input is also fed trickled: standard input is a
 * SOCK_SEQPACKET socket, so each read() returns one of the two halves,
 * split at every offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/sendmail.h"
#include "config/conf.h"

static struct conf test_conf = { .hostname = "mx.example.test" };

/* --- address lists ------------------------------------------------------ */

struct addr_case {
	const char	*in;
	const char	*want;		/* addresses joined by ' ' */
	int		 rc;
};

static const struct addr_case addr_cases[] = {
	{ "a@x", "a@x", 0 },
	{ "a@x, b@y", "a@x b@y", 0 },
	{ "Alice <alice@x>", "alice@x", 0 },
	{ "\"Doe, John\" <j@x> (the boss), k@y", "j@x k@y", 0 },
	{ "friends: a@x, b@y;, c@z", "a@x b@y c@z", 0 },
	{ "undisclosed-recipients:;", "", 0 },
	{ "<@relay.example,@r2:a@x>", "a@x", 0 },
	{ "(comment (nested) \\) ) a@x", "a@x", 0 },
	{ "\"a b\"@x", "\"a b\"@x", 0 },
	{ "a@[IPv6:::1]", "a@[IPv6:::1]", 0 },
	{ "root", "root@mx.example.test", 0 },
	{ "postmaster", "postmaster", 0 },
	{ "=?UTF-8?B?w6k=?= <e@x>", "e@x", 0 },
	{ " , ,", "", 0 },
	{ "a@x\r\n\tb@y", "a@xb@y", 0 },	/* no comma: one address */
	{ "a\x01@x", "", -1 },
};

static void
test_addrlist(void **state)
{
	struct sendmail_opts o = { 0 };

	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *tc = &addr_cases[i];
		struct sendmail_msg m;
		char got[1024] = "";

		sendmail_msg_init(&m, &o, &test_conf);
		assert_int_equal(sendmail_addrlist(&m, &m.rcpts, tc->in,
		    strlen(tc->in)), tc->rc);
		for (size_t k = 0; k < m.rcpts.n; k++) {
			strcat(got, k > 0 ? " " : "");
			strcat(got, m.rcpts.v[k].addr);
		}
		if (tc->rc == 0 && strcmp(got, tc->want) != 0)
			fail_msg("%s: got <%s>, want <%s>", tc->in, got,
			    tc->want);
		sendmail_msg_free(&m);
	}
}

static void
test_too_long(void **state)
{
	struct sendmail_opts o = { 0 };
	struct sendmail_msg m;
	char in[600];

	memset(in, 'a', sizeof(in));
	memcpy(in + sizeof(in) - 2, "@x", 2);
	sendmail_msg_init(&m, &o, &test_conf);
	assert_int_equal(sendmail_addrlist(&m, &m.rcpts, in, sizeof(in)), -1);
	assert_int_equal(m.rcpts.n, 0);
	sendmail_msg_free(&m);
}

/* --- standard input --------------------------------------------------- */

struct input_case {
	const char	*in;
	size_t		 len;		/* 0: strlen */
	bool		 ignore_dots;
	const char	*hdr;
	const char	*body;
	int		 rc;		/* 0, or m.rc on failure */
};

static const struct input_case input_cases[] = {
	{ "Subject: a\nTo: x@y\n\nbody\n", 0, false,
	    "Subject: a\r\nTo: x@y\r\n", "body\r\n", 0 },
	{ "Subject: a\r\n\r\nbody\r\n", 0, false,
	    "Subject: a\r\n", "body\r\n", 0 },
	{ "Subject: a\n folded\n\nno end", 0, false,
	    "Subject: a\r\n folded\r\n", "no end\r\n", 0 },
	{ "S: a\n\na\rb\r\rc\n", 0, false, "S: a\r\n", "a\r\nb\r\n\r\nc\r\n", 0 },
	{ "S: a\n\none\n.\ntwo\n", 0, false, "S: a\r\n", "one\r\n", 0 },
	{ "S: a\n\none\n.\r\ntwo\n", 0, false, "S: a\r\n", "one\r\n", 0 },
	{ "S: a\n\none\n.\ntwo\n", 0, true, "S: a\r\n", "one\r\n.\r\ntwo\r\n", 0 },
	{ "S: a\n\n..\n.x\n", 0, false, "S: a\r\n", "..\r\n.x\r\n", 0 },
	{ ".\nS: a\n", 0, false, "", "", 0 },
	{ "hello\nworld\n", 0, false, "", "hello\r\nworld\r\n", 0 },
	{ "S: a\nnot a header\n", 0, false, "S: a\r\n", "not a header\r\n", 0 },
	{ "From someone Mon Jan  1\nS: a\n\nb\n", 0, false, "S: a\r\n",
	    "b\r\n", 0 },
	{ "S : obsolete\n\n", 0, false, "S : obsolete\r\n", "", 0 },
	{ "S: a\n\n\xc3\xa9\n", 0, false, "S: a\r\n", "\xc3\xa9\r\n", 0 },
	{ "S: a\n\nab\0cd\n", 12, false, NULL, NULL, EX_DATAERR },
	{ "", 0, false, "", "", 0 },
};

/* Standard input: a SEQPACKET socket holding in[0..cut) and in[cut..). */
static void
input_feed(const char *in, size_t len, size_t cut)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	if (cut > 0)
		assert_int_equal(write(sv[1], in, cut), (ssize_t)cut);
	if (len > cut)
		assert_int_equal(write(sv[1], in + cut, len - cut),
		    (ssize_t)(len - cut));
	close(sv[1]);
	assert_int_equal(dup2(sv[0], STDIN_FILENO), STDIN_FILENO);
	close(sv[0]);
}

static void
input_check(const struct input_case *tc, size_t cut)
{
	struct sendmail_opts o = { .ignore_dots = tc->ignore_dots };
	size_t len = tc->len != 0 ? tc->len : strlen(tc->in);
	struct sendmail_msg m;
	int rc;

	input_feed(tc->in, len, cut);
	sendmail_msg_init(&m, &o, &test_conf);
	rc = sendmail_read_input(&m);
	if (tc->rc != 0) {
		assert_int_equal(rc, -1);
		assert_int_equal(m.rc, tc->rc);
	} else {
		assert_int_equal(rc, 0);
		if (m.hdr.len != strlen(tc->hdr) || (m.hdr.len > 0 &&
		    memcmp(m.hdr.p, tc->hdr, m.hdr.len) != 0))
			fail_msg("case %.20s cut %zu: header <%.*s>", tc->in,
			    cut, (int)m.hdr.len, m.hdr.p);
		if (m.body.len != strlen(tc->body) ||
		    memcmp(m.body.mem, tc->body, m.body.len) != 0)
			fail_msg("case %.20s cut %zu: body <%.*s>", tc->in,
			    cut, (int)m.body.len, m.body.mem);
		assert_int_equal(m.body.fd, -1);
	}
	sendmail_msg_free(&m);
}

static void
test_input(void **state)
{
	for (size_t i = 0; i < sizeof(input_cases) / sizeof(input_cases[0]);
	    i++) {
		const struct input_case *tc = &input_cases[i];
		size_t len = tc->len != 0 ? tc->len : strlen(tc->in);

		for (size_t cut = 0; cut <= len; cut++)
			input_check(tc, cut);
	}
}

/* Lines past 998 bytes: the header's go on as continuation lines. */
static void
test_long_lines(void **state)
{
	struct sendmail_opts o = { 0 };
	struct sendmail_msg m;
	char in[4096], *p = in;

	p += sprintf(p, "X: ");
	memset(p, 'h', 1200);
	p += 1200;
	p += sprintf(p, "\n\n");
	memset(p, 'b', 1000);
	p += 1000;
	*p++ = '\n';
	input_feed(in, (size_t)(p - in), 0);
	sendmail_msg_init(&m, &o, &test_conf);
	assert_int_equal(sendmail_read_input(&m), 0);
	assert_int_equal(m.hdr.len, 998 + 2 + 1 + 205 + 2);
	assert_memory_equal(m.hdr.p + 998, "\r\n h", 4);
	assert_int_equal(m.body.len, 998 + 2 + 2 + 2);
	assert_memory_equal(m.body.mem + 998, "\r\nbb\r\n", 6);
	sendmail_msg_free(&m);
}

/* A body past the memory part goes to the spool file, unchanged. */
static void
test_spool(void **state)
{
	struct sendmail_opts o = { 0 };
	struct sendmail_msg m;
	size_t n = 0, len, lines = 0;
	char *in = malloc(300000), *back = malloc(400000);
	pid_t pid;
	ssize_t r;
	int sv[2];

	n += (size_t)sprintf(in, "S: a\n\n");
	for (int i = 0; n < 290000; i++)
		n += (size_t)sprintf(in + n, "line %d\n", i);
	/* a stream: one read() may take any part of it */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		_exit(write(sv[1], in, n) == (ssize_t)n ? 0 : 1);
	}
	close(sv[1]);
	assert_int_equal(dup2(sv[0], STDIN_FILENO), STDIN_FILENO);
	close(sv[0]);
	sendmail_msg_init(&m, &o, &test_conf);
	assert_int_equal(sendmail_read_input(&m), 0);
	assert_int_not_equal(m.body.fd, -1);
	assert_int_equal(lseek(m.body.fd, 0, SEEK_SET), 0);
	len = 0;
	while ((r = read(m.body.fd, back + len, 400000 - len)) > 0)
		len += (size_t)r;
	assert_int_equal(len, m.body.total);
	for (size_t i = 6; i < n; i++)
		lines += in[i] == '\n';
	assert_int_equal(len, n - 6 + lines);	/* each LF became CRLF */
	assert_memory_equal(back, "line 0\r\nline 1\r\n", 16);
	assert_memory_equal(back + len - 2, "\r\n", 2);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	sendmail_msg_free(&m);
	free(in);
	free(back);
}

/* -t: To/Cc/Bcc (the Resent- ones when present), From: added, Bcc:
 * not sent. */
static void
test_prepare(void **state)
{
	static const char in[] = "To: a@x, B <b@x>\nCc: c@x\nBcc: d@x,\n a@x\n"
	    "Subject: s\n\nbody\n";
	struct sendmail_opts o = { .extract = true, .fullname = "Ann Lee" };
	struct sendmail_msg m;
	size_t pos = 0, sent = 0;
	struct str f;

	input_feed(in, strlen(in), 0);
	sendmail_msg_init(&m, &o, &test_conf);
	assert_int_equal(sendmail_sender(&m, (char[SMTP_PATH_MAX + 1]){ 0 }),
	    0);
	assert_int_equal(sendmail_read_input(&m), 0);
	assert_int_equal(sendmail_prepare(&m, "ann@mx.example.test"), 0);
	assert_int_equal(m.rcpts.n, 4);		/* a@x once */
	assert_string_equal(m.rcpts.v[3].addr, "d@x");
	assert_int_equal(m.from.len, strlen("From: Ann Lee <") +
	    strlen(m.sender) + 3);
	while (sendmail_field_next(&m.hdr, &pos, &f))
		if (!sendmail_field_dropped(f))
			sent += f.len;
	assert_int_equal(sent, strlen("To: a@x, B <b@x>\r\nCc: c@x\r\n"
	    "Subject: s\r\n"));
	assert_int_equal(m.size, sent + m.from.len + 2 + strlen("body\r\n"));
	sendmail_msg_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addrlist),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_input),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_spool),
		cmocka_unit_test(test_prepare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
