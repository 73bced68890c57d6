/* log_test.c: tests for src/core/log.c against the grammar of
 * doc/LOG.md.  stderr is pointed at a temp file (dup2) while a test
 * logs, then the file is read back and matched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define PREFIX_RE \
	"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z " \
	"[a-z]+\\[[0-9]+\\]: "

static char	test_dir[1024];
static char	*test_text;	/* the last capture, freed in teardown */

struct capture {
	int	saved;		/* the real stderr */
	int	fd;		/* the temp file */
	char	*text;		/* what was written, NUL-terminated */
	size_t	len;
};

static void
capture_start(struct capture *cap)
{
	char path[1100];

	snprintf(path, sizeof(path), "%s/log.XXXXXX", test_dir);
	fflush(stderr);
	cap->fd = mkstemp(path);
	assert_true(cap->fd >= 0);
	unlink(path);
	cap->saved = dup(STDERR_FILENO);
	assert_true(cap->saved >= 0);
	assert_int_equal(dup2(cap->fd, STDERR_FILENO), STDERR_FILENO);
	cap->text = NULL;
	cap->len = 0;
}

/* Restore stderr and read what was logged. */
static void
capture_end(struct capture *cap)
{
	struct stat sb;
	ssize_t n;

	fflush(stderr);
	assert_int_equal(dup2(cap->saved, STDERR_FILENO), STDERR_FILENO);
	close(cap->saved);
	assert_int_equal(fstat(cap->fd, &sb), 0);
	cap->len = (size_t)sb.st_size;
	free(test_text);
	test_text = cap->text = malloc(cap->len + 1);
	assert_non_null(cap->text);
	n = pread(cap->fd, cap->text, cap->len, 0);
	assert_int_equal(n, (ssize_t)cap->len);
	cap->text[cap->len] = '\0';
	close(cap->fd);
}

static void
capture_free(struct capture *cap)
{
	free(cap->text);
	cap->text = test_text = NULL;
}

static size_t
count_lines(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n')
			n++;
	return n;
}

static void
assert_match(const char *text, const char *re)
{
	regex_t rx;
	int r;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&rx, text, 0, NULL, 0);
	regfree(&rx);
	if (r != 0)
		fail_msg("line <%s> does not match /%s/", text, re);
}

/* Everything after "role[pid]: ", without the newline. */
static const char *
body_of(const char *line)
{
	const char *p = strstr(line, "]: ");

	assert_non_null(p);
	return p + 3;
}

static int
test_setup(void **state)
{
	log_init("tester", false);
	log_set_level(LOG_LEVEL_INFO);
	return 0;
}

static int
test_teardown(void **state)
{
	free(test_text);
	test_text = NULL;
	return 0;
}

/* One event with an id: the whole line, prefix included. */
static void
test_format_id(void **state)
{
	struct capture cap;
	char want[256];

	capture_start(&cap);
	log_event(0x3f2a9c0d11e4b7a2ULL, "smtp", "connected", "addr=%s",
	    "192.0.2.7");
	capture_end(&cap);
	assert_int_equal(count_lines(cap.text, cap.len), 1);
	assert_int_equal(cap.text[cap.len - 1], '\n');
	assert_match(cap.text, PREFIX_RE
	    "3f2a9c0d11e4b7a2 smtp connected addr=192\\.0\\.2\\.7\n$");
	snprintf(want, sizeof(want), " tester[%d]: ", (int)getpid());
	assert_non_null(strstr(cap.text, want));
	capture_free(&cap);
}

/* The id is always 16 hex digits, lower case, zero-padded; 0 is "-". */
static void
test_format_subject(void **state)
{
	static const struct {
		uint64_t	 id;
		const char	*want;
	} cases[] = {
		{ 1, "0000000000000001 q ev\n" },
		{ 0xabcdefULL, "0000000000abcdef q ev\n" },
		{ UINT64_MAX, "ffffffffffffffff q ev\n" },
		{ 0, "- q ev\n" },
	};
	struct capture cap;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capture_start(&cap);
		log_event(cases[i].id, "q", "ev", NULL);
		capture_end(&cap);
		assert_string_equal(body_of(cap.text), cases[i].want);
		capture_free(&cap);
	}
	capture_start(&cap);
	log_event(0, "parent", "stopped", NULL);
	capture_end(&cap);
	assert_string_equal(body_of(cap.text), "- parent stopped\n");
	capture_free(&cap);
}

/* Fields that format to nothing leave no trailing space: the line
 * still ends with the event (grammar: event *(SP field)). */
static void
test_format_empty_fields(void **state)
{
	struct capture cap;

	capture_start(&cap);
	log_event(0, "parent", "stopped", "%s", "");
	capture_end(&cap);
	assert_string_equal(body_of(cap.text), "- parent stopped\n");
	capture_free(&cap);
}

static void
test_format_fields(void **state)
{
	struct capture cap;

	capture_start(&cap);
	log_event(0x0f3c91aaULL, "smtp", "queued",
	    "qid=%016llx from=<%s> rcpts=%u size=%zu", 0x0f3c91aaULL,
	    "a@x.org", 2u, (size_t)5120);
	capture_end(&cap);
	assert_string_equal(body_of(cap.text), "000000000f3c91aa smtp queued "
	    "qid=000000000f3c91aa from=<a@x.org> rcpts=2 size=5120\n");
	capture_free(&cap);
}

/* The timestamp is UTC and now. */
static void
test_timestamp(void **state)
{
	struct capture cap;
	struct tm tm;
	time_t before, after, t;
	char *end;

	before = time(NULL);
	capture_start(&cap);
	log_event(0, "t", "now", NULL);
	capture_end(&cap);
	after = time(NULL);
	memset(&tm, 0, sizeof(tm));
	end = strptime(cap.text, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_non_null(end);
	assert_int_equal(*end, '.');
	t = timegm(&tm);
	assert_true(t >= before && t <= after);
	capture_free(&cap);
}

static void
test_role(void **state)
{
	struct capture cap;
	char want[64];

	log_set_role("worker");
	capture_start(&cap);
	log_event(0, "worker", "started", "slot=%u", 3u);
	capture_end(&cap);
	log_set_role("tester");
	snprintf(want, sizeof(want), "Z worker[%d]: - worker started slot=3\n",
	    (int)getpid());
	assert_non_null(strstr(cap.text, want));
	capture_free(&cap);
}

/* A peer's CR/LF or other control bytes never make a second line. */
static void
test_control_chars(void **state)
{
	struct capture cap;

	capture_start(&cap);
	log_event(7, "smtp", "rcpt", "to=<%s>",
	    "a\r\nfake 0000000000000001 smtp queued\x01\x1b[31m\tx\v\f\b");
	capture_end(&cap);
	assert_int_equal(count_lines(cap.text, cap.len), 1);
	assert_string_equal(body_of(cap.text), "0000000000000007 smtp rcpt "
	    "to=<a??fake 0000000000000001 smtp queued??[31m?x??" "?>\n");
	capture_free(&cap);

	/* in the subsystem and event too */
	capture_start(&cap);
	log_event(0, "s\nx", "e\rv", "k=%s", "v\n");
	capture_end(&cap);
	assert_int_equal(count_lines(cap.text, cap.len), 1);
	assert_string_equal(body_of(cap.text), "- s?x e?v k=v?\n");
	capture_free(&cap);

	/* bytes >= 0x80 (UTF-8) pass through */
	capture_start(&cap);
	log_event(0, "s", "e", "name=<%s>", "caf\xc3\xa9");
	capture_end(&cap);
	assert_string_equal(body_of(cap.text), "- s e name=<caf\xc3\xa9>\n");
	capture_free(&cap);
}

/* DEL (0x7f) is a control character too (iscntrl): doc/LOG.md says
 * control characters are replaced by '?'. */
static void
test_control_del(void **state)
{
	struct capture cap;

	capture_start(&cap);
	log_event(0, "s", "e", "v=%s", "a\x7f" "b");
	capture_end(&cap);
	assert_string_equal(body_of(cap.text), "- s e v=a?b\n");
	capture_free(&cap);
}

static void
check_long_line(const char *text, size_t len, const char *start)
{
	const char *body;

	/* one line, ending in a newline, of bounded length */
	assert_int_equal(count_lines(text, len), 1);
	assert_int_equal(text[len - 1], '\n');
	assert_true(len < 4096 + 128);
	body = body_of(text);
	assert_true(strncmp(body, start, strlen(start)) == 0);
	/* the truncated part holds nothing but what was logged */
	for (const char *p = body + strlen(start); *p != '\n'; p++)
		if (*p != 'x')
			fail_msg("unexpected byte 0x%02x at %td", *p, p - body);
}

static void
test_long_lines(void **state)
{
	static const size_t sizes[] = { 4000, 4070, 4080, 4090, 4095, 4096,
	    4097, 5000, 100000 };
	struct capture cap;
	char *big;

	big = malloc(100001);
	assert_non_null(big);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(big, 'x', sizes[i]);
		big[sizes[i]] = '\0';
		/* in a field */
		capture_start(&cap);
		log_event(1, "smtp", "long", "v=%s", big);
		capture_end(&cap);
		check_long_line(cap.text, cap.len,
		    "0000000000000001 smtp long v=");
		capture_free(&cap);
		/* in the subsystem: no fields fit any more */
		if (sizes[i] < 4096)
			continue;
		capture_start(&cap);
		log_event(0, big, "ev", "k=%s", "v");
		capture_end(&cap);
		check_long_line(cap.text, cap.len, "- ");
		capture_free(&cap);
		/* in a warning */
		capture_start(&cap);
		log_warnx("%s", big);
		capture_end(&cap);
		assert_int_equal(count_lines(cap.text, cap.len), 1);
		assert_int_equal(cap.text[cap.len - 1], '\n');
		assert_true(cap.len < 4096 + 128);
		assert_true(strncmp(body_of(cap.text), "- warning <x", 12) == 0);
		capture_free(&cap);
	}
	free(big);
}

static void
test_debug_level(void **state)
{
	struct capture cap;

	assert_false(log_enabled(LOG_LEVEL_DEBUG));
	assert_true(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_ERR));
	capture_start(&cap);
	log_debug(5, "smtp", "state", "from=%s to=%s", "a", "b");
	capture_end(&cap);
	assert_int_equal(cap.len, 0);
	capture_free(&cap);

	log_set_level(LOG_LEVEL_DEBUG);
	assert_true(log_enabled(LOG_LEVEL_DEBUG));
	capture_start(&cap);
	log_debug(5, "smtp", "state", "from=%s to=%s", "a", "b");
	capture_end(&cap);
	assert_match(cap.text, PREFIX_RE
	    "0000000000000005 smtp state from=a to=b\n$");
	capture_free(&cap);

	log_set_level(LOG_LEVEL_WARN);
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	capture_start(&cap);
	log_debug(5, "smtp", "state", NULL);
	capture_end(&cap);
	assert_int_equal(cap.len, 0);
	capture_free(&cap);
	log_set_level(LOG_LEVEL_INFO);
}

/* Warnings: subject "-", event "warning", the text in <...>. */
static void
test_warnings(void **state)
{
	struct capture cap;

	capture_start(&cap);
	log_warnx("accept: %s", "pausing");
	errno = ENOENT;
	log_warn("open(%s)", "/x");
	log_warnx("evil\r\nline\x1b");
	capture_end(&cap);
	assert_int_equal(count_lines(cap.text, cap.len), 3);
	assert_match(cap.text, PREFIX_RE "- warning <accept: pausing>\n"
	    "[^\n]*\\]: - warning <open\\(/x\\): No such file or directory>\n"
	    "[^\n]*\\]: - warning <evil\\?\\?line\\?>\n$");
	capture_free(&cap);
}

static void
test_fatal(void **state)
{
	static const struct {
		int		 errnum;	/* -1: fatalx */
		const char	*want;
	} cases[] = {
		{ -1, "- fatal <bad 7>\n" },
		{ EACCES, "- fatal <bad 7: Permission denied>\n" },
	};
	struct capture cap;
	pid_t pid;
	int st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capture_start(&cap);
		if ((pid = fork()) == 0) {
			if (cases[i].errnum == -1)
				fatalx("bad %d", 7);
			errno = cases[i].errnum;
			fatal("bad %d", 7);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		capture_end(&cap);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 1);
		assert_int_equal(count_lines(cap.text, cap.len), 1);
		assert_string_equal(body_of(cap.text), cases[i].want);
		capture_free(&cap);
	}
}

/* Many events: exactly one line each, in order. */
static void
test_many_lines(void **state)
{
	struct capture cap;
	char want[64];
	const char *p;

	capture_start(&cap);
	for (unsigned i = 0; i < 500; i++)
		log_event(i + 1, "t", "n", "i=%u", i);
	capture_end(&cap);
	assert_int_equal(count_lines(cap.text, cap.len), 500);
	p = cap.text;
	for (unsigned i = 0; i < 500; i++) {
		snprintf(want, sizeof(want), "]: %016x t n i=%u\n", i + 1, i);
		p = strstr(p, want);
		if (p == NULL)
			fail_msg("line %u missing", i);
		p += strlen(want);
	}
	capture_free(&cap);
}

#define TEST(name, fn) \
	{ "core/log/" name, fn, test_setup, test_teardown, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST("format/id", test_format_id),
		TEST("format/subject", test_format_subject),
		TEST("format/fields", test_format_fields),
		TEST("format/empty_fields", test_format_empty_fields),
		TEST("format/timestamp", test_timestamp),
		TEST("format/role", test_role),
		TEST("control_chars", test_control_chars),
		TEST("control_chars/del", test_control_del),
		TEST("long_lines", test_long_lines),
		TEST("debug_level", test_debug_level),
		TEST("warnings", test_warnings),
		TEST("fatal", test_fatal),
		TEST("many_lines", test_many_lines),
	};
	const char *env = getenv("FACTEUR_TEST_TMP");

	snprintf(test_dir, sizeof(test_dir), "%s",
	    env != NULL && *env != '\0' ? env : "/tmp");
	mkdir(test_dir, 0755);
	return cmocka_run_group_tests_name("core/log", tests, NULL, NULL);
}
