/* conf_test.c: tests for src/config/conf.c.  Tables of valid configs
 * (with the field they set) and invalid ones (with the exact errors);
 * every case also runs with CRLF line ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/conf.h"
#include "core/limits.h"

#define NAME	"t.conf"
#define LISTEN	"listen smtp 127.0.0.1:25\n"
#define F(f)	offsetof(struct conf, f)

enum want_kind { W_UINT, W_SIZE, W_BOOL, W_STR };

struct valid_case {
	const char	*name;
	const char	*text;		/* after LISTEN */
	size_t		 off;
	enum want_kind	 kind;
	uint64_t	 num;
	const char	*str;
};

struct invalid_case {
	const char	*name;
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	bool		 raw;		/* no LISTEN after text */
	const char	*want;		/* the whole error string */
};

static const struct valid_case valid_cases[] = {
	/* strings, quoting, comments, spacing */
	{ "hostname", "hostname mail.example.test\n",
	    F(hostname), W_STR, 0, "mail.example.test" },
	{ "hostname/one-label", "hostname localhost\n",
	    F(hostname), W_STR, 0, "localhost" },
	{ "hostname/quoted", "hostname \"mx1.example.test\"\n",
	    F(hostname), W_STR, 0, "mx1.example.test" },
	{ "hostname/indented", "  \t hostname\t\tmx.example.test \t\n",
	    F(hostname), W_STR, 0, "mx.example.test" },
	{ "hostname/comment-after", "hostname mx.example.test # the MX\n",
	    F(hostname), W_STR, 0, "mx.example.test" },
	{ "hostname/comment-no-space", "hostname \"mx.example.test\"# x\n",
	    F(hostname), W_STR, 0, "mx.example.test" },
	{ "hostname/after-comments", "# facteur\n\n   # more\n\t\n"
	    "hostname a.example\n", F(hostname), W_STR, 0, "a.example" },
	{ "hostname/no-final-newline", "hostname a.example",
	    F(hostname), W_STR, 0, "a.example" },
	{ "data_dir", "data_dir ./var\n", F(data_dir), W_STR, 0, "./var" },
	{ "data_dir/spaces", "data_dir \"/srv/my mail\"\n",
	    F(data_dir), W_STR, 0, "/srv/my mail" },
	{ "data_dir/escapes", "data_dir \"/a\\\"b\\\\c\"\n",
	    F(data_dir), W_STR, 0, "/a\"b\\c" },
	{ "data_dir/hash-in-word", "data_dir /srv/a#b\n",
	    F(data_dir), W_STR, 0, "/srv/a#b" },
	{ "data_dir/hash-in-quotes", "data_dir \"/srv/a #b\"\n",
	    F(data_dir), W_STR, 0, "/srv/a #b" },
	{ "data_dir/utf8", "data_dir /srv/courrier-\xc3\xa9t\xc3\xa9\n",
	    F(data_dir), W_STR, 0, "/srv/courrier-\xc3\xa9t\xc3\xa9" },
	{ "user", "user _facteur-2.x\n", F(user), W_STR, 0, "_facteur-2.x" },
	{ "tls_cert", "tls_cert /etc/ssl/mx.pem\n",
	    F(tls_cert), W_STR, 0, "/etc/ssl/mx.pem" },
	{ "tls_key", "tls_key key.pem\n", F(tls_key), W_STR, 0, "key.pem" },
	{ "postmaster", "postmaster admin@example.test\n",
	    F(postmaster), W_STR, 0, "admin@example.test" },
	{ "postmaster/quoted-hash", "postmaster \"a#b@example.test\"\n",
	    F(postmaster), W_STR, 0, "a#b@example.test" },
	/* choices and bools */
	{ "log/stderr", "log stderr\n", F(log_syslog), W_BOOL, 0, NULL },
	{ "log/syslog", "log syslog\n", F(log_syslog), W_BOOL, 1, NULL },
	{ "log_level/info", "log_level info\n", F(log_debug), W_BOOL, 0, NULL },
	{ "log_level/debug", "log_level debug\n",
	    F(log_debug), W_BOOL, 1, NULL },
	{ "auth_plaintext_loopback/yes", "auth_plaintext_loopback yes\n",
	    F(auth_plaintext_loopback), W_BOOL, 1, NULL },
	{ "auth_plaintext_loopback/no", "auth_plaintext_loopback no\n",
	    F(auth_plaintext_loopback), W_BOOL, 0, NULL },
	/* numbers: bounds */
	{ "workers/min", "workers 0\n", F(workers), W_UINT, 0, NULL },
	{ "workers/max", "workers 256\n", F(workers), W_UINT, 256, NULL },
	{ "workers/leading-zero", "workers 007\n",
	    F(workers), W_UINT, 7, NULL },
	{ "max_connections/min", "max_connections 1\n",
	    F(max_connections), W_UINT, 1, NULL },
	{ "max_connections/max", "max_connections 1000000\n",
	    F(max_connections), W_UINT, 1000000, NULL },
	{ "max_connections_per_ip", "max_connections_per_ip 100000\n",
	    F(max_connections_per_ip), W_UINT, 100000, NULL },
	{ "smtp_max_recipients/min", "smtp_max_recipients 1\n",
	    F(smtp_max_rcpts), W_UINT, 1, NULL },
	{ "smtp_max_recipients/max", "smtp_max_recipients 100000\n",
	    F(smtp_max_rcpts), W_UINT, 100000, NULL },
	{ "smtp_max_messages_per_connection",
	    "smtp_max_messages_per_connection 5\n",
	    F(smtp_max_mails), W_UINT, 5, NULL },
	{ "smtp_max_bad_commands/max", "smtp_max_bad_commands 1000\n",
	    F(smtp_max_bad_commands), W_UINT, 1000, NULL },
	{ "imap_timeout/m", "imap_timeout 45m\n",
	    F(imap_timeout), W_UINT, 2700, NULL },
	{ "imap_max_bad_commands", "imap_max_bad_commands 5\n",
	    F(imap_max_bad_commands), W_UINT, 5, NULL },
	/* sizes */
	{ "smtp_max_line/min", "smtp_max_line 512\n",
	    F(smtp_max_line), W_SIZE, 512, NULL },
	{ "smtp_max_line/K", "smtp_max_line 64K\n",
	    F(smtp_max_line), W_SIZE, 65536, NULL },
	{ "smtp_max_line/k", "smtp_max_line 8k\n",
	    F(smtp_max_line), W_SIZE, 8192, NULL },
	{ "smtp_max_message_size/min", "smtp_max_message_size 1K\n",
	    F(smtp_max_message_size), W_SIZE, 1024, NULL },
	{ "smtp_max_message_size/M", "smtp_max_message_size 50M\n",
	    F(smtp_max_message_size), W_SIZE, 50UL << 20, NULL },
	{ "smtp_max_message_size/m", "smtp_max_message_size 2m\n",
	    F(smtp_max_message_size), W_SIZE, 2UL << 20, NULL },
	{ "smtp_max_message_size/max", "smtp_max_message_size 1G\n",
	    F(smtp_max_message_size), W_SIZE, 1UL << 30, NULL },
	{ "smtp_max_message_size/bytes", "smtp_max_message_size 1000000\n",
	    F(smtp_max_message_size), W_SIZE, 1000000, NULL },
	{ "smtp_max_header_size/max", "smtp_max_header_size 16M\n",
	    F(smtp_max_header_size), W_SIZE, 16UL << 20, NULL },
	{ "smtp_max_message_size/g", "smtp_max_message_size 1g\n",
	    F(smtp_max_message_size), W_SIZE, 1UL << 30, NULL },
	/* durations */
	{ "smtp_timeout/plain", "smtp_timeout 90\n",
	    F(smtp_timeout), W_UINT, 90, NULL },
	{ "smtp_timeout/s", "smtp_timeout 1s\n",
	    F(smtp_timeout), W_UINT, 1, NULL },
	{ "smtp_timeout/m", "smtp_timeout 5m\n",
	    F(smtp_timeout), W_UINT, 300, NULL },
	{ "smtp_timeout/h", "smtp_timeout 1h\n",
	    F(smtp_timeout), W_UINT, 3600, NULL },
	{ "smtp_data_timeout/d", "smtp_data_timeout 1d\n",
	    F(smtp_data_timeout), W_UINT, 86400, NULL },
	{ "shutdown_grace/min", "shutdown_grace 0\n",
	    F(shutdown_grace), W_UINT, 0, NULL },
	{ "shutdown_grace/max", "shutdown_grace 60m\n",
	    F(shutdown_grace), W_UINT, 3600, NULL },
	{ "shutdown_grace/quoted", "shutdown_grace \"10s\"\n",
	    F(shutdown_grace), W_UINT, 10, NULL },
};

#define E(line_col)	NAME ":" line_col ": "
#define NO_LISTEN	NAME ": no listen line: facteur would accept " \
			"no connections"

static const struct invalid_case invalid_cases[] = {
	/* option names */
	{ "unknown/suggest", "hostnme x\n", 0, false,
	    E("1:1") "unknown option \"hostnme\"; did you mean \"hostname\"?" },
	{ "unknown/suggest-case", "Hostname x\n", 0, false,
	    E("1:1") "unknown option \"Hostname\"; "
	    "did you mean \"hostname\"?" },
	{ "unknown/suggest-long", "smtp_max_rcpts 5\n", 0, false,
	    E("1:1") "unknown option \"smtp_max_rcpts\"; did you mean "
	    "\"smtp_max_recipients\"?" },
	{ "unknown/no-suggestion", "frobnicate 1\n", 0, false,
	    E("1:1") "unknown option \"frobnicate\"" },
	{ "unknown/indented", "  \tfoo 1\n", 0, false,
	    E("1:4") "unknown option \"foo\"" },
	{ "unknown/escaped", "\xff\x7e 1\n", 0, false,
	    E("1:1") "unknown option \"\\xff~\"" },
	{ "unknown/truncated",
	    "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee 1\n", 0, false,
	    E("1:1") "unknown option "
	    "\"aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...\"" },
	{ "unknown/listen-typo", "lisen smtp *:25\n", 0, true,
	    E("1:1") "unknown option \"lisen\"; did you mean \"listen\"?\n"
	    NO_LISTEN },
	/* shape */
	{ "missing-value", "hostname\n", 0, false,
	    E("1:9") "hostname needs a value" },
	{ "missing-value/comment", "  hostname   # none\n", 0, false,
	    E("1:11") "hostname needs a value" },
	{ "missing-value/quoted-name", "\"workers\"\n", 0, false,
	    E("1:10") "workers needs a value" },
	{ "trailing", "hostname a.example b\n", 0, false,
	    E("1:20") "unexpected \"b\" after the value of hostname" },
	{ "trailing/many", "workers 1 2 3 4 5\n", 0, false,
	    E("1:11") "unexpected \"2\" after the value of workers" },
	{ "duplicate", "hostname a.example\n# x\nhostname b.example\n", 0,
	    false, E("3:1") "duplicate option hostname (first set at line 1)" },
	{ "duplicate/after-bad-value", "workers x\nworkers 2\n", 0, false,
	    E("1:9") "workers needs a number, got \"x\"\n"
	    E("2:1") "duplicate option workers (first set at line 1)" },
	/* lexer */
	{ "quote/unterminated", "hostname \"abc\n", 0, false,
	    E("1:10") "unterminated quote" },
	{ "quote/unterminated-backslash", "data_dir \"abc\\\n", 0, false,
	    E("1:10") "unterminated quote" },
	{ "quote/escaped-quote-at-end", "data_dir \"abc\\\"\n", 0, false,
	    E("1:10") "unterminated quote" },
	{ "quote/bad-escape", "data_dir \"a\\nb\"\n", 0, false,
	    E("1:12") "unknown escape (only \\\" and \\\\ may follow \\)" },
	{ "quote/in-word", "data_dir ab\"c\"\n", 0, false,
	    E("1:12") "quote inside a word (quote the whole value)" },
	{ "quote/glued", "data_dir \"a\"b\n", 0, false,
	    E("1:13") "expected a space after the closing quote" },
	{ "quote/empty", "data_dir \"\"\n", 0, false,
	    E("1:10") "data_dir must not be empty" },
	{ "bytes/nul", "hostname a\0b\n", 13, false, E("1:11") "NUL byte" },
	{ "bytes/nul-in-comment", "# \0\n", 4, false, E("1:3") "NUL byte" },
	{ "bytes/control", "hostname a\x01" "b\n", 0, false,
	    E("1:11") "control character 0x01" },
	{ "bytes/lone-cr", "hostname a\rb\n", 0, false,
	    E("1:11") "control character 0x0d" },
	{ "bytes/bom-columns", "\xef\xbb\xbfworkers x\n", 0, false,
	    E("1:9") "workers needs a number, got \"x\"" },
	{ "bytes/bom-not-first", "workers 1\n\xef\xbb\xbfhostname a\n", 0,
	    false, E("2:1") "unknown option \"\\xef\\xbb\\xbfhostname\"" },
	{ "bytes/del", "\x7f\n", 0, false, E("1:1") "control character 0x7f" },
	/* numbers */
	{ "uint/below", "smtp_max_recipients 0\n", 0, false,
	    E("1:21") "smtp_max_recipients must be between 1 and 100000, "
	    "got 0" },
	{ "uint/above", "smtp_max_recipients 100001\n", 0, false,
	    E("1:21") "smtp_max_recipients must be between 1 and 100000, "
	    "got 100001" },
	{ "uint/workers", "workers 257\n", 0, false,
	    E("1:9") "workers must be between 0 and 256, got 257" },
	{ "uint/overflow", "max_connections 99999999999999999999999\n",
	    0, false,
	    E("1:17") "max_connections must be between 1 and 1000000, got "
	    "99999999999999999999999" },
	{ "uint/negative", "workers -1\n", 0, false,
	    E("1:9") "workers needs a number, got \"-1\"" },
	{ "uint/suffix", "workers 4k\n", 0, false,
	    E("1:9") "workers needs a number, got \"4k\"" },
	{ "size/above", "smtp_max_message_size 2G\n", 0, false,
	    E("1:23") "smtp_max_message_size must be between 1K and 1G, "
	    "got 2G" },
	{ "size/below", "smtp_max_line 511\n", 0, false,
	    E("1:15") "smtp_max_line must be between 512 and 64K, got 511" },
	{ "size/header", "smtp_max_header_size 17M\n", 0, false,
	    E("1:22") "smtp_max_header_size must be between 1K and 16M, "
	    "got 17M" },
	{ "size/overflow", "smtp_max_message_size 99999999999G\n", 0, false,
	    E("1:23") "smtp_max_message_size must be between 1K and 1G, "
	    "got 99999999999G" },
	{ "size/bad-suffix", "smtp_max_message_size 10X\n", 0, false,
	    E("1:23") "bad size suffix \"X\" in \"10X\": use K, M or G" },
	{ "size/two-letters", "smtp_max_message_size 10MB\n", 0, false,
	    E("1:23") "bad size suffix \"MB\" in \"10MB\": use K, M or G" },
	{ "size/not-number", "smtp_max_line big\n", 0, false,
	    E("1:15") "smtp_max_line needs a size such as 10M, got \"big\"" },
	{ "duration/above", "smtp_timeout 2h\n", 0, false,
	    E("1:14") "smtp_timeout must be between 1s and 1h, got 2h" },
	{ "duration/zero", "smtp_timeout 0\n", 0, false,
	    E("1:14") "smtp_timeout must be between 1s and 1h, got 0" },
	{ "duration/grace", "shutdown_grace 3601\n", 0, false,
	    E("1:16") "shutdown_grace must be between 0 and 1h, got 3601" },
	{ "duration/data", "smtp_data_timeout 2d\n", 0, false,
	    E("1:19") "smtp_data_timeout must be between 1s and 1d, got 2d" },
	{ "duration/bad-suffix", "smtp_timeout 5M\n", 0, false,
	    E("1:14") "bad duration suffix \"M\" in \"5M\": use s, m, h or d" },
	{ "duration/empty", "smtp_timeout \"\"\n", 0, false,
	    E("1:14") "smtp_timeout needs a duration such as 5m, got \"\"" },
	/* words */
	{ "bool", "auth_plaintext_loopback on\n", 0, false,
	    E("1:25") "auth_plaintext_loopback must be yes or no, got \"on\"" },
	{ "bool/case", "auth_plaintext_loopback YES\n", 0, false,
	    E("1:25") "auth_plaintext_loopback must be yes or no, "
	    "got \"YES\"" },
	{ "log", "log file\n", 0, false,
	    E("1:5") "log must be stderr or syslog, got \"file\"" },
	{ "log_level", "log_level trace\n", 0, false,
	    E("1:11") "log_level must be info or debug, got \"trace\"" },
	{ "log/duplicate", "log syslog\nlog stderr\n", 0, false,
	    E("2:1") "duplicate option log (first set at line 1)" },
	/* checked strings */
	{ "hostname/dash", "hostname -a.example\n", 0, false,
	    E("1:10") "bad hostname \"-a.example\": a label starts or ends "
	    "with '-'" },
	{ "hostname/empty-label", "hostname a..example\n", 0, false,
	    E("1:10") "bad hostname \"a..example\": each label has 1 to 63 "
	    "bytes" },
	{ "hostname/trailing-dot", "hostname a.example.\n", 0, false,
	    E("1:10") "bad hostname \"a.example.\": each label has 1 to 63 "
	    "bytes" },
	{ "hostname/char", "hostname a_b.example\n", 0, false,
	    E("1:10") "bad hostname \"a_b.example\": use letters, digits, "
	    "'-' and '.'" },
	{ "user", "user root:x\n", 0, false,
	    E("1:6") "bad user \"root:x\": use at most 32 letters, digits, "
	    "'.', '_' or '-', not starting with '-'" },
	{ "user/dash", "user -x\n", 0, false,
	    E("1:6") "bad user \"-x\": use at most 32 letters, digits, "
	    "'.', '_' or '-', not starting with '-'" },
	{ "postmaster/no-at", "postmaster admin\n", 0, false,
	    E("1:12") "bad postmaster \"admin\": expected an address such as "
	    "postmaster@example.org" },
	{ "postmaster/space", "postmaster \"a b@example.test\"\n", 0, false,
	    E("1:12") "bad postmaster \"a b@example.test\": expected an "
	    "address such as postmaster@example.org" },
	{ "postmaster/empty-domain", "postmaster a@\n", 0, false,
	    E("1:12") "bad postmaster \"a@\": expected an address such as "
	    "postmaster@example.org" },
	/* listen */
	{ "listen/none", "", 0, true, NO_LISTEN },
	{ "listen/none-comments", "# nothing\n\nhostname a.example\n", 0, true,
	    NO_LISTEN },
	{ "listen/proto", "listen ftp 127.0.0.1:21\n", 0, true,
	    E("1:8") "unknown protocol \"ftp\": use smtp, submission, "
	    "submissions, imap, imaps, pop3 or pop3s" },
	{ "listen/proto-case", "listen SMTP *:25\n", 0, true,
	    E("1:8") "unknown protocol \"SMTP\": use smtp, submission, "
	    "submissions, imap, imaps, pop3 or pop3s" },
	{ "listen/missing", "listen smtp\n", 0, true,
	    E("1:12") "listen needs PROTOCOL ADDRESS:PORT" },
	{ "listen/missing-all", "listen\n", 0, true,
	    E("1:7") "listen needs PROTOCOL ADDRESS:PORT" },
	{ "listen/trailing", "listen smtp *:25 extra\n", 0, true,
	    E("1:18") "unexpected \"extra\" after the value of listen" },
	{ "listen/no-port", "listen smtp 127.0.0.1\n", 0, true,
	    E("1:13") "bad listen address \"127.0.0.1\": "
	    "expected ADDRESS:PORT" },
	{ "listen/empty", "listen smtp \"\"\n", 0, true,
	    E("1:13") "bad listen address \"\": expected ADDRESS:PORT" },
	{ "listen/port-zero", "listen smtp 127.0.0.1:0\n", 0, true,
	    E("1:13") "bad listen address \"127.0.0.1:0\": the port must be a "
	    "number from 1 to 65535" },
	{ "listen/port-big", "listen smtp *:65536\n", 0, true,
	    E("1:13") "bad listen address \"*:65536\": the port must be a "
	    "number from 1 to 65535" },
	{ "listen/port-name", "listen smtp *:smtp\n", 0, true,
	    E("1:13") "bad listen address \"*:smtp\": the port must be a "
	    "number from 1 to 65535" },
	{ "listen/port-empty", "listen smtp [::1]:\n", 0, true,
	    E("1:13") "bad listen address \"[::1]:\": the port must be a "
	    "number from 1 to 65535" },
	{ "listen/bad-v4", "listen smtp 256.0.0.1:25\n", 0, true,
	    E("1:13") "bad listen address \"256.0.0.1:25\": not an IPv4 "
	    "address or '*'" },
	{ "listen/name", "listen smtp localhost:25\n", 0, true,
	    E("1:13") "bad listen address \"localhost:25\": not an IPv4 "
	    "address or '*'" },
	{ "listen/no-addr", "listen smtp :25\n", 0, true,
	    E("1:13") "bad listen address \":25\": "
	    "not an IPv4 address or '*'" },
	{ "listen/v6-unbracketed", "listen smtp ::1:25\n", 0, true,
	    E("1:13") "bad listen address \"::1:25\": IPv6 addresses go in "
	    "brackets, as in [::1]:25" },
	{ "listen/v6-unclosed", "listen smtp [::1:25\n", 0, true,
	    E("1:13") "bad listen address \"[::1:25\": missing ']'" },
	{ "listen/v6-no-colon", "listen smtp [::1]25\n", 0, true,
	    E("1:13") "bad listen address \"[::1]25\": expected ADDRESS:PORT" },
	{ "listen/v6-bad", "listen smtp [1.2.3.4]:25\n", 0, true,
	    E("1:13") "bad listen address \"[1.2.3.4]:25\": not an IPv6 "
	    "address" },
	{ "listen/v6-star", "listen smtp [*]:25\n", 0, true,
	    E("1:13") "bad listen address \"[*]:25\": not an IPv6 address" },
	{ "listen/duplicate", "listen smtp 127.0.0.1:25\n"
	    "listen imap 127.0.0.1:25\n", 0, true,
	    E("2:13") "duplicate listen on \"127.0.0.1:25\" "
	    "(first at line 1)" },
	{ "listen/duplicate-v6", "listen smtp [::1]:25\nlisten smtp *:25\n"
	    "listen imap [::1]:25\n", 0, true,
	    E("3:13") "duplicate listen on \"[::1]:25\" (first at line 1)" },
	/* several errors, one per line, in order */
	{ "several", "hostnme a\nworkers x\n\nsmtp_timeout 0\n"
	    "data_dir \"open\n", 0, true,
	    E("1:1") "unknown option \"hostnme\"; did you mean \"hostname\"?\n"
	    E("2:9") "workers needs a number, got \"x\"\n"
	    E("4:14") "smtp_timeout must be between 1s and 1h, got 0\n"
	    E("5:10") "unterminated quote\n"
	    NO_LISTEN },
};

/* text with every "\n" turned into "\r\n"; malloc'ed */
static char *
crlf(const char *text, size_t len, size_t *len_r)
{
	char *out = malloc(len * 2 + 1);
	size_t n = 0;

	assert_non_null(out);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n')
			out[n++] = '\r';
		out[n++] = text[i];
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

enum add_listen { LISTEN_NONE, LISTEN_FIRST, LISTEN_LAST };

/* text with LISTEN added, then converted to CRLF if asked; malloc'ed */
static char *
make_text(const char *text, size_t len, enum add_listen listen,
    bool use_crlf, size_t *len_r)
{
	size_t ll = strlen(LISTEN), n;
	char *s = malloc(len + ll + 1), *c;

	assert_non_null(s);
	if (listen == LISTEN_FIRST) {
		memcpy(s, LISTEN, ll);
		memcpy(s + ll, text, len);
	} else {
		ll = listen == LISTEN_LAST ? ll : 0;
		memcpy(s, text, len);
		memcpy(s + len, LISTEN, ll);
	}
	s[len + ll] = '\0';
	n = len + ll;
	if (!use_crlf) {
		*len_r = n;
		return s;
	}
	c = crlf(s, n, len_r);
	free(s);
	return c;
}

static void
check_field(const struct valid_case *tc, const struct conf *conf,
    const char *mode)
{
	const char *f = (const char *)conf + tc->off;
	uint64_t got = 0;

	switch (tc->kind) {
	case W_STR:
		if (strcmp(*(char *const *)(const void *)f, tc->str) != 0)
			fail_msg("%s (%s): got \"%s\", want \"%s\"", tc->name,
			    mode, *(char *const *)(const void *)f, tc->str);
		return;
	case W_BOOL:
		got = *(const bool *)(const void *)f;
		break;
	case W_UINT:
		got = *(const unsigned *)(const void *)f;
		break;
	case W_SIZE:
		got = *(const size_t *)(const void *)f;
		break;
	}
	if (got != tc->num)
		fail_msg("%s (%s): got %llu, want %llu", tc->name, mode,
		    (unsigned long long)got, (unsigned long long)tc->num);
}

static void
test_valid(void **state)
{
	const struct valid_case *tc;
	struct conf *conf;
	char *text, *err;
	size_t len;

	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(*tc); i++) {
		tc = &valid_cases[i];
		for (int use_crlf = 0; use_crlf <= 1; use_crlf++) {
			text = make_text(tc->text, strlen(tc->text),
			    LISTEN_FIRST,
			    use_crlf, &len);
			err = NULL;
			conf = conf_parse(NAME, text, len, &err);
			if (conf == NULL)
				fail_msg("%s (%s): %s", tc->name,
				    use_crlf ? "crlf" : "lf", err);
			assert_null(err);
			check_field(tc, conf, use_crlf ? "crlf" : "lf");
			conf_free(&conf);
			assert_null(conf);
			free(text);
		}
	}
}

static void
test_invalid(void **state)
{
	const struct invalid_case *tc;
	struct conf *conf;
	char *text, *err;
	size_t len;

	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(*tc); i++) {
		tc = &invalid_cases[i];
		for (int use_crlf = 0; use_crlf <= 1; use_crlf++) {
			text = make_text(tc->text, tc->len != 0 ? tc->len :
			    strlen(tc->text), tc->raw ? LISTEN_NONE :
			    LISTEN_LAST, use_crlf, &len);
			err = NULL;
			conf = conf_parse(NAME, text, len, &err);
			if (conf != NULL)
				fail_msg("%s (%s): parsed", tc->name,
				    use_crlf ? "crlf" : "lf");
			if (err == NULL || strcmp(err, tc->want) != 0)
				fail_msg("%s (%s):\n got: %s\nwant: %s",
				    tc->name, use_crlf ? "crlf" : "lf",
				    err == NULL ? "(null)" : err, tc->want);
			free(err);
			free(text);
		}
	}
}

static struct conf *
parse_ok(const char *text, size_t len)
{
	struct conf *conf;
	char *err = NULL;

	conf = conf_parse(NAME, text, len, &err);
	if (conf == NULL)
		fail_msg("%s", err);
	assert_null(err);
	return conf;
}

static void
expect_error(const char *text, size_t len, const char *want)
{
	struct conf *conf;
	char *err = NULL;

	conf = conf_parse(NAME, text, len, &err);
	assert_null(conf);
	assert_non_null(err);
	assert_string_equal(err, want);
	free(err);
}

static void
test_defaults(void **state)
{
	char host[256], *want;
	struct conf *conf = parse_ok(LISTEN, strlen(LISTEN));

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	assert_string_equal(conf->path, NAME);
	assert_string_equal(conf->hostname, host);
	assert_string_equal(conf->data_dir, "/var/lib/facteur");
	assert_string_equal(conf->user, "facteur");
	assert_string_equal(conf->tls_cert, "/var/lib/facteur/tls/cert.pem");
	assert_string_equal(conf->tls_key, "/var/lib/facteur/tls/key.pem");
	assert_int_equal(asprintf(&want, "postmaster@%s", host) > 0, 1);
	assert_string_equal(conf->postmaster, want);
	free(want);
	assert_int_equal(conf->workers, 0);
	assert_false(conf->log_syslog);
	assert_false(conf->log_debug);
	assert_false(conf->auth_plaintext_loopback);
	assert_int_equal(conf->shutdown_grace, SHUTDOWN_GRACE_DEFAULT);
	assert_int_equal(conf->max_connections, CONN_MAX_DEFAULT);
	assert_int_equal(conf->max_connections_per_ip, CONN_PER_IP_MAX_DEFAULT);
	assert_int_equal(conf->smtp_max_line, SMTP_LINE_MAX_DEFAULT);
	assert_int_equal(conf->smtp_max_message_size, SMTP_MESSAGE_MAX_DEFAULT);
	assert_int_equal(conf->smtp_max_header_size, SMTP_HEADER_MAX_DEFAULT);
	assert_int_equal(conf->smtp_max_rcpts, SMTP_RCPTS_MAX_DEFAULT);
	assert_int_equal(conf->smtp_max_mails, SMTP_MAILS_MAX_DEFAULT);
	assert_int_equal(conf->smtp_max_bad_commands,
	    SMTP_BAD_CMDS_MAX_DEFAULT);
	assert_int_equal(conf->smtp_timeout, SMTP_TIMEOUT_DEFAULT);
	assert_int_equal(conf->smtp_data_timeout, SMTP_DATA_TIMEOUT_DEFAULT);
	assert_int_equal(conf->imap_timeout, IMAP_TIMEOUT_DEFAULT);
	assert_int_equal(conf->imap_max_bad_commands,
	    IMAP_BAD_CMDS_MAX_DEFAULT);
	conf_free(&conf);
}

/* Derived defaults follow the options they derive from. */
static void
test_defaults_derived(void **state)
{
	static const char text[] = "data_dir ./var/\nhostname mx.example.test\n"
	    LISTEN;
	struct conf *conf = parse_ok(text, strlen(text));

	assert_string_equal(conf->tls_cert, "./var/tls/cert.pem");
	assert_string_equal(conf->tls_key, "./var/tls/key.pem");
	assert_string_equal(conf->postmaster, "postmaster@mx.example.test");
	conf_free(&conf);
}

/* A UTF-8 byte order mark is skipped at the start of the file only. */
static void
test_bom(void **state)
{
	static const char text[] = "\xef\xbb\xbfhostname a.example\n" LISTEN;
	struct conf *conf = parse_ok(text, strlen(text));

	assert_string_equal(conf->hostname, "a.example");
	conf_free(&conf);
}

static void
test_listen(void **state)
{
	static const char text[] =
	    "listen smtp 127.0.0.1:25\n"
	    "listen submission *:587\n"
	    "listen submissions [::1]:465\n"
	    "listen imap [2001:db8::1]:143\n"
	    "listen imaps 0.0.0.0:993\n"
	    "listen pop3 \"[::]:110\"\n"
	    "listen pop3s 192.0.2.1:65535\n"
	    "listen smtp 127.0.0.1:1\n";
	static const struct conf_listen want[] = {
		{ CONF_PROTO_SMTP, "127.0.0.1", 25 },
		{ CONF_PROTO_SUBMISSION, "*", 587 },
		{ CONF_PROTO_SUBMISSIONS, "::1", 465 },
		{ CONF_PROTO_IMAP, "2001:db8::1", 143 },
		{ CONF_PROTO_IMAPS, "0.0.0.0", 993 },
		{ CONF_PROTO_POP3, "::", 110 },
		{ CONF_PROTO_POP3S, "192.0.2.1", 65535 },
		{ CONF_PROTO_SMTP, "127.0.0.1", 1 },
	};
	struct conf *conf = parse_ok(text, strlen(text));

	assert_int_equal(conf->nlisten, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < conf->nlisten; i++) {
		assert_int_equal(conf->listen[i].proto, want[i].proto);
		assert_string_equal(conf->listen[i].addr, want[i].addr);
		assert_int_equal(conf->listen[i].port, want[i].port);
	}
	conf_free(&conf);
}

/* CONF_LISTEN_MAX listen lines are fine; one more is an error. */
static void
test_listen_max(void **state)
{
	char text[CONF_LISTEN_MAX * 32 + 64], want[128];
	size_t len = 0;
	struct conf *conf;

	for (int i = 0; i < CONF_LISTEN_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "listen smtp 127.0.0.1:%d\n", 1000 + i);
	conf = parse_ok(text, len);
	assert_int_equal(conf->nlisten, CONF_LISTEN_MAX);
	conf_free(&conf);
	len += (size_t)snprintf(text + len, sizeof(text) - len,
	    "listen smtp 127.0.0.1:999\n");
	snprintf(want, sizeof(want), NAME ":%d:1: too many listen lines "
	    "(at most %d)", CONF_LISTEN_MAX + 1, CONF_LISTEN_MAX);
	expect_error(text, len, want);
}

/* A line may hold CONF_LINE_MAX bytes, its end excluded. */
static void
test_line_max(void **state)
{
	size_t len = CONF_LINE_MAX + 2 + strlen(LISTEN);
	char *text = malloc(len + 2), want[128];
	struct conf *conf;

	assert_non_null(text);
	text[0] = '#';
	memset(text + 1, 'x', CONF_LINE_MAX - 1);
	memcpy(text + CONF_LINE_MAX, "\r\n" LISTEN, 2 + strlen(LISTEN));
	conf = parse_ok(text, len);
	conf_free(&conf);
	text[CONF_LINE_MAX] = 'x';	/* the \r becomes the 4097th byte */
	snprintf(want, sizeof(want), NAME ":1:%d: line too long (more than "
	    "%d bytes)", CONF_LINE_MAX + 1, CONF_LINE_MAX);
	expect_error(text, len, want);
	free(text);
}

static void
test_file_max(void **state)
{
	size_t len = CONF_FILE_MAX;
	char *text = malloc(len + 1), want[128];
	struct conf *conf;

	assert_non_null(text);
	memset(text, '\n', len);
	memcpy(text, LISTEN, strlen(LISTEN));
	conf = parse_ok(text, len);
	conf_free(&conf);
	text[len] = '\n';
	snprintf(want, sizeof(want), NAME ": file too big (more than %d "
	    "bytes)", CONF_FILE_MAX);
	expect_error(text, len + 1, want);
	free(text);
}

/* Past CONF_ERRORS_MAX errors the parser stops and says so. */
static void
test_errors_max(void **state)
{
	size_t n = CONF_ERRORS_MAX + 50, len = n * 4, lines = 1;
	char *text = malloc(len), *err = NULL, *last;

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * 4, "xyz\n", 4);
	assert_null(conf_parse(NAME, text, len, &err));
	assert_non_null(err);
	for (const char *p = err; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, CONF_ERRORS_MAX + 1);
	last = strrchr(err, '\n');
	assert_non_null(last);
	assert_string_equal(last + 1, NAME ": too many errors, giving up");
	assert_memory_equal(err, NAME ":1:1: unknown option \"xyz\"\n",
	    strlen(NAME ":1:1: unknown option \"xyz\"\n"));
	free(err);
	free(text);
}

static void
test_free_null(void **state)
{
	struct conf *conf = NULL;

	conf_free(NULL);
	conf_free(&conf);
	assert_null(conf);
}

static void
test_proto_name(void **state)
{
	assert_string_equal(conf_proto_name(CONF_PROTO_SMTP), "smtp");
	assert_string_equal(conf_proto_name(CONF_PROTO_SUBMISSION),
	    "submission");
	assert_string_equal(conf_proto_name(CONF_PROTO_SUBMISSIONS),
	    "submissions");
	assert_string_equal(conf_proto_name(CONF_PROTO_IMAP), "imap");
	assert_string_equal(conf_proto_name(CONF_PROTO_IMAPS), "imaps");
	assert_string_equal(conf_proto_name(CONF_PROTO_POP3), "pop3");
	assert_string_equal(conf_proto_name(CONF_PROTO_POP3S), "pop3s");
	assert_string_equal(conf_proto_name((enum conf_proto)99), "?");
}

/*
 * conf_load() on real files.
 */

static char tmpdir[4096];

static int
setup_tmp(void **state)
{
	const char *base = getenv("FACTEUR_TEST_TMP");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (mkdir(base, 0700) == -1 && errno != EEXIST)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/conf_test.XXXXXX", base);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	return rmdir(tmpdir);
}

static void
write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void
test_load(void **state)
{
	static const char text[] = "# demo\r\nhostname mx.example.test\r\n"
	    "smtp_max_message_size 10M\r\nlisten smtp [::1]:2525\r\n";
	char path[4200], want[8800], *err = NULL;
	struct conf *conf;

	snprintf(path, sizeof(path), "%s/ok.conf", tmpdir);
	write_file(path, text, strlen(text));
	conf = conf_load(path, &err);
	assert_non_null(conf);
	assert_null(err);
	assert_string_equal(conf->path, path);
	assert_string_equal(conf->hostname, "mx.example.test");
	assert_int_equal(conf->smtp_max_message_size, 10 << 20);
	assert_string_equal(conf->listen[0].addr, "::1");
	conf_free(&conf);

	write_file(path, "hostname\n", 9);
	assert_null(conf_load(path, &err));
	snprintf(want, sizeof(want), "%s:1:9: hostname needs a value\n"
	    "%s: no listen line: facteur would accept no connections",
	    path, path);
	assert_string_equal(err, want);
	free(err);
	assert_int_equal(unlink(path), 0);
}

static void
test_load_errors(void **state)
{
	char path[4200], want[8800], *err = NULL, *big;

	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	assert_null(conf_load(path, &err));
	snprintf(want, sizeof(want), "%s: open: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
	free(err);

	assert_null(conf_load(tmpdir, &err));
	snprintf(want, sizeof(want), "%s: read: %s", tmpdir, strerror(EISDIR));
	assert_string_equal(err, want);
	free(err);

	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	big = malloc(CONF_FILE_MAX + 10);
	assert_non_null(big);
	memset(big, '#', CONF_FILE_MAX + 10);
	write_file(path, big, CONF_FILE_MAX + 10);
	free(big);
	assert_null(conf_load(path, &err));
	snprintf(want, sizeof(want), "%s: file too big (more than %d bytes)",
	    path, CONF_FILE_MAX);
	assert_string_equal(err, want);
	free(err);
	assert_int_equal(unlink(path), 0);
}

/* etc/facteur.conf, found from this file's path, loads as documented. */
static void
test_demo_config(void **state)
{
	static const char self[] = "tests/unit/config/conf_test.c";
	size_t n = strlen(__FILE__) - strlen(self);
	char path[4096], *err = NULL;
	struct conf *conf;

	if (strlen(__FILE__) < strlen(self) ||
	    strcmp(__FILE__ + n, self) != 0)
		skip();
	snprintf(path, sizeof(path), "%.*setc/facteur.conf", (int)n, __FILE__);
	if ((conf = conf_load(path, &err)) == NULL)
		fail_msg("%s", err);
	assert_string_equal(conf->hostname, "mail.example.test");
	assert_string_equal(conf->data_dir, "./var");
	assert_string_equal(conf->user, "facteur");
	assert_string_equal(conf->postmaster, "postmaster@example.test");
	assert_false(conf->log_syslog);
	assert_int_equal(conf->nlisten, 7);
	assert_int_equal(conf->listen[5].proto, CONF_PROTO_IMAP);
	assert_int_equal(conf->listen[5].port, 2143);
	assert_int_equal(conf->listen[6].proto, CONF_PROTO_IMAPS);
	assert_int_equal(conf->listen[6].port, 2993);
	assert_int_equal(conf->listen[1].proto, CONF_PROTO_SUBMISSION);
	assert_int_equal(conf->listen[1].port, 2587);
	assert_int_equal(conf->listen[4].proto, CONF_PROTO_POP3S);
	assert_int_equal(conf->listen[4].port, 2995);
	assert_int_equal(conf->listen[0].proto, CONF_PROTO_SMTP);
	assert_string_equal(conf->listen[0].addr, "127.0.0.1");
	assert_int_equal(conf->listen[0].port, 2525);
	conf_free(&conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_defaults_derived),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_listen_max),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_file_max),
		cmocka_unit_test(test_errors_max),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_proto_name),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_demo_config),
	};

	return cmocka_run_group_tests_name("config/conf", tests, setup_tmp,
	    teardown_tmp);
}
