/* conf.c: the configuration file (format in doc/CONFIG.md).
 *
 * Three layers, as for the protocol parsers: a line lexer over bytes
 * (words, "quoted strings", comments), an option table in the Postfix
 * CONFIG_*_TABLE style (name, type, field, default, bounds), and one
 * setter per type.  Every error is collected, one line each, as
 * "FILE:LINE:COL: message"; defaults are applied after parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "net/cidr.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/str.h"

#define CONF_TOKENS_MAX	66	/* name, values, the first extra one (lists
				 * take up to CONF_TOKENS_MAX - 2 values) */
#define CONF_NAME_MAX	64	/* longer unknown names get no suggestion */
#define CONF_SHOW_MAX	40	/* bytes of a token quoted in a message */
#define CONF_SHOW_BUF	(CONF_SHOW_MAX * 4 + 8)
#define CONF_NUM_BUF	32

enum conf_type {
	CONF_T_STRING,
	CONF_T_PATH,
	CONF_T_BOOL,		/* yes | no */
	CONF_T_UINT,
	CONF_T_SIZE,		/* bytes, K M G suffixes */
	CONF_T_DURATION,	/* seconds, s m h d suffixes */
	CONF_T_CHOICE,		/* words[0] | words[1], stored as a bool */
	CONF_T_LISTEN,		/* PROTO ADDRESS:PORT, repeatable */
	CONF_T_LIST,		/* WORD..., repeatable: the words add up */
};

struct conf_opt {
	const char	 *name;
	enum conf_type	  type;
	size_t		  off;		/* of the field in struct conf */
	uint64_t	  def, min, max;
	const char	 *def_str;	/* string, path: NULL = derived */
	const char *const *words;	/* choice */
	int		(*check)(struct str, const char **);
};

struct conf_unit {
	char		 c;
	uint64_t	 mult;
};

struct conf_token {
	struct str	 s;		/* unescaped value */
	size_t		 col;		/* 1-based byte column */
	size_t		 end;		/* column just past it */
};

struct conf_line {
	struct conf_token tok[CONF_TOKENS_MAX];
	size_t		 ntok;		/* at most CONF_TOKENS_MAX */
};

static int	conf_check_hostname(struct str, const char **);
static int	conf_check_cidr(struct str, const char **);
static int	conf_check_user(struct str, const char **);
static int	conf_check_postmaster(struct str, const char **);
static int	conf_check_dns_resolver(struct str, const char **);
static int	conf_parse_port(struct str, uint16_t *);
static int	conf_check_smarthost(struct str, const char **);
static int	conf_check_smarthost_tls(struct str, const char **);

/*
 * A field of struct conf, checked at compile time to be of type T: a
 * table typo must not write a size_t into an unsigned.
 */
#define CONF_FIELD(f, T) (offsetof(struct conf, f) + 0 * sizeof(char[	\
	_Generic(((struct conf *)0)->f, T: 1, default: -1)]))

#define OPT_STR(n, f, d, chk) \
	{ n, CONF_T_STRING, CONF_FIELD(f, char *), 0, 0, 0, d, NULL, chk }
#define OPT_PATH(n, f, d) \
	{ n, CONF_T_PATH, CONF_FIELD(f, char *), 0, 0, 0, d, NULL, NULL }
#define OPT_BOOL(n, f, d) \
	{ n, CONF_T_BOOL, CONF_FIELD(f, bool), d, 0, 1, NULL, NULL, NULL }
#define OPT_CHOICE(n, f, w) \
	{ n, CONF_T_CHOICE, CONF_FIELD(f, bool), 0, 0, 1, NULL, w, NULL }
#define OPT_UINT(n, f, d, lo, hi) \
	{ n, CONF_T_UINT, CONF_FIELD(f, unsigned), d, lo, hi, NULL, NULL, NULL }
#define OPT_DURATION(n, f, d, lo, hi) \
	{ n, CONF_T_DURATION, CONF_FIELD(f, unsigned), d, lo, hi, NULL, NULL, \
	    NULL }
#define OPT_SIZE(n, f, d, lo, hi) \
	{ n, CONF_T_SIZE, CONF_FIELD(f, size_t), d, lo, hi, NULL, NULL, NULL }
#define OPT_LIST(n, f, chk) \
	{ n, CONF_T_LIST, CONF_FIELD(f, char *), 0, 0, 0, NULL, NULL, chk }
#define OPT_LISTEN(n) \
	{ n, CONF_T_LISTEN, CONF_FIELD(nlisten, size_t), 0, 0, 0, NULL, NULL, \
	    NULL }

static const char *const conf_log_words[] = { "stderr", "syslog" };
static const char *const conf_level_words[] = { "info", "debug" };
static const char *const conf_prefer_words[] = { "ipv6", "ipv4" };

static const struct conf_opt conf_opts[] = {
	OPT_STR("hostname", hostname, NULL, conf_check_hostname),
	OPT_PATH("data_dir", data_dir, "/var/lib/facteur"),
	OPT_STR("user", user, "facteur", conf_check_user),
	OPT_UINT("workers", workers, WORKERS_DEFAULT, WORKERS_MIN,
	    WORKERS_MAX),
	OPT_CHOICE("log", log_syslog, conf_log_words),
	OPT_CHOICE("log_level", log_debug, conf_level_words),
	OPT_PATH("tls_cert", tls_cert, NULL),
	OPT_PATH("tls_key", tls_key, NULL),
	OPT_STR("postmaster", postmaster, NULL, conf_check_postmaster),
	OPT_DURATION("shutdown_grace", shutdown_grace, SHUTDOWN_GRACE_DEFAULT,
	    SHUTDOWN_GRACE_MIN, SHUTDOWN_GRACE_MAX),
	OPT_BOOL("auth_plaintext_loopback", auth_plaintext_loopback, 0),
	OPT_BOOL("submission_sender_check", submission_sender_check, 1),
	OPT_LIST("relay_networks", relay_networks, conf_check_cidr),
	OPT_LISTEN("listen"),
	OPT_UINT("max_connections", max_connections, CONN_MAX_DEFAULT,
	    CONN_MAX_MIN, CONN_MAX_MAX),
	OPT_UINT("max_connections_per_ip", max_connections_per_ip,
	    CONN_PER_IP_MAX_DEFAULT, CONN_PER_IP_MAX_MIN, CONN_PER_IP_MAX_MAX),
	OPT_SIZE("smtp_max_line", smtp_max_line, SMTP_LINE_MAX_DEFAULT,
	    SMTP_LINE_MAX_MIN, SMTP_LINE_MAX_MAX),
	OPT_SIZE("smtp_max_message_size", smtp_max_message_size,
	    SMTP_MESSAGE_MAX_DEFAULT, SMTP_MESSAGE_MAX_MIN,
	    SMTP_MESSAGE_MAX_MAX),
	OPT_SIZE("smtp_max_header_size", smtp_max_header_size,
	    SMTP_HEADER_MAX_DEFAULT, SMTP_HEADER_MAX_MIN, SMTP_HEADER_MAX_MAX),
	OPT_UINT("smtp_max_recipients", smtp_max_rcpts, SMTP_RCPTS_MAX_DEFAULT,
	    SMTP_RCPTS_MAX_MIN, SMTP_RCPTS_MAX_MAX),
	OPT_UINT("smtp_max_messages_per_connection", smtp_max_mails,
	    SMTP_MAILS_MAX_DEFAULT, SMTP_MAILS_MAX_MIN, SMTP_MAILS_MAX_MAX),
	OPT_UINT("smtp_max_bad_commands", smtp_max_bad_commands,
	    SMTP_BAD_CMDS_MAX_DEFAULT, SMTP_BAD_CMDS_MAX_MIN,
	    SMTP_BAD_CMDS_MAX_MAX),
	OPT_DURATION("smtp_timeout", smtp_timeout, SMTP_TIMEOUT_DEFAULT,
	    SMTP_TIMEOUT_MIN, SMTP_TIMEOUT_MAX),
	OPT_DURATION("smtp_data_timeout", smtp_data_timeout,
	    SMTP_DATA_TIMEOUT_DEFAULT, SMTP_DATA_TIMEOUT_MIN,
	    SMTP_DATA_TIMEOUT_MAX),
	OPT_DURATION("pop3_timeout", pop3_timeout, POP3_TIMEOUT_DEFAULT,
	    POP3_TIMEOUT_MIN, POP3_TIMEOUT_MAX),
	OPT_UINT("pop3_max_bad_commands", pop3_max_bad_commands,
	    POP3_BAD_CMDS_MAX_DEFAULT, POP3_BAD_CMDS_MAX_MIN,
	    POP3_BAD_CMDS_MAX_MAX),
	OPT_DURATION("imap_timeout", imap_timeout, IMAP_TIMEOUT_DEFAULT,
	    IMAP_TIMEOUT_MIN, IMAP_TIMEOUT_MAX),
	OPT_UINT("imap_max_bad_commands", imap_max_bad_commands,
	    IMAP_BAD_CMDS_MAX_DEFAULT, IMAP_BAD_CMDS_MAX_MIN,
	    IMAP_BAD_CMDS_MAX_MAX),
	OPT_DURATION("queue_retry_min", queue_retry_min,
	    QUEUE_RETRY_MIN_DEFAULT, QUEUE_RETRY_MIN_MIN, QUEUE_RETRY_MIN_MAX),
	OPT_DURATION("queue_retry_max", queue_retry_max,
	    QUEUE_RETRY_MAX_DEFAULT, QUEUE_RETRY_MAX_MIN, QUEUE_RETRY_MAX_MAX),
	OPT_DURATION("queue_lifetime", queue_lifetime, QUEUE_LIFETIME_DEFAULT,
	    QUEUE_LIFETIME_MIN, QUEUE_LIFETIME_MAX),
	OPT_DURATION("queue_delay_warning", queue_delay_warning,
	    QUEUE_DELAY_WARNING_DEFAULT, QUEUE_DELAY_WARNING_MIN,
	    QUEUE_DELAY_WARNING_MAX),
	OPT_STR("dns_resolver", dns_resolver, NULL, conf_check_dns_resolver),
	OPT_BOOL("dns_dnssec", dns_dnssec, 0),
	OPT_PATH("dns_trust_anchor", dns_trust_anchor,
	    "/usr/share/dns/root.key"),
	OPT_CHOICE("dns_prefer", dns_prefer_ipv4, conf_prefer_words),
	OPT_DURATION("mta_timeout_connect", mta_timeout_connect,
	    MTA_TIMEOUT_CONNECT_DEFAULT, MTA_TIMEOUT_MIN, MTA_TIMEOUT_MAX),
	OPT_DURATION("mta_timeout_greeting", mta_timeout_greeting,
	    MTA_TIMEOUT_GREETING_DEFAULT, MTA_TIMEOUT_MIN, MTA_TIMEOUT_MAX),
	OPT_DURATION("mta_timeout_mail", mta_timeout_mail,
	    MTA_TIMEOUT_MAIL_DEFAULT, MTA_TIMEOUT_MIN, MTA_TIMEOUT_MAX),
	OPT_DURATION("mta_timeout_rcpt", mta_timeout_rcpt,
	    MTA_TIMEOUT_RCPT_DEFAULT, MTA_TIMEOUT_MIN, MTA_TIMEOUT_MAX),
	OPT_DURATION("mta_timeout_data", mta_timeout_data,
	    MTA_TIMEOUT_DATA_DEFAULT, MTA_TIMEOUT_MIN, MTA_TIMEOUT_MAX),
	OPT_DURATION("mta_timeout_data_block", mta_timeout_data_block,
	    MTA_TIMEOUT_DATA_BLOCK_DEFAULT, MTA_TIMEOUT_MIN, MTA_TIMEOUT_MAX),
	OPT_DURATION("mta_timeout_data_end", mta_timeout_data_end,
	    MTA_TIMEOUT_DATA_END_DEFAULT, MTA_TIMEOUT_MIN, MTA_TIMEOUT_MAX),
	OPT_UINT("mta_max_connections_per_domain", mta_max_conn_per_domain,
	    MTA_CONN_PER_DOMAIN_DEFAULT, MTA_CONN_PER_DOMAIN_MIN,
	    MTA_CONN_PER_DOMAIN_MAX),
	OPT_UINT("mta_max_rate_per_domain", mta_max_rate_per_domain,
	    MTA_RATE_PER_DOMAIN_DEFAULT, MTA_RATE_PER_DOMAIN_MIN,
	    MTA_RATE_PER_DOMAIN_MAX),
	OPT_LIST("mta_tls_require", mta_tls_require, conf_check_hostname),
	OPT_STR("smarthost", smarthost, NULL, conf_check_smarthost),
	OPT_STR("smarthost_tls", smarthost_tls, "starttls",
	    conf_check_smarthost_tls),
	OPT_PATH("smarthost_auth_file", smarthost_auth_file, NULL),
	OPT_LIST("smarthost_domains", smarthost_domains, conf_check_hostname),
};

#define CONF_NOPTS	(sizeof(conf_opts) / sizeof(conf_opts[0]))

/* Size suffixes are also accepted in lower case. */
static const struct conf_unit conf_size_units[] = {
	{ 'K', 1024 }, { 'M', 1024 * 1024 }, { 'G', 1024 * 1024 * 1024 },
	{ '\0', 0 },
};

static const struct conf_unit conf_duration_units[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { '\0', 0 },
};

static const char *const conf_proto_names[] = {
	[CONF_PROTO_SMTP] = "smtp",
	[CONF_PROTO_SUBMISSION] = "submission",
	[CONF_PROTO_SUBMISSIONS] = "submissions",
	[CONF_PROTO_IMAP] = "imap",
	[CONF_PROTO_IMAPS] = "imaps",
	[CONF_PROTO_POP3] = "pop3",
	[CONF_PROTO_POP3S] = "pop3s",
};

#define CONF_NPROTOS	(sizeof(conf_proto_names) / sizeof(conf_proto_names[0]))

static const struct conf_unit *
conf_units(enum conf_type type)
{
	if (type == CONF_T_SIZE)
		return conf_size_units;
	if (type == CONF_T_DURATION)
		return conf_duration_units;
	return NULL;
}

struct conf_parser {
	const char	*name;		/* file name for messages */
	struct conf	*conf;
	struct buf	 errs;		/* messages, '\n' between them */
	size_t		 nerr;
	size_t		 lineno;
	char		*scratch;	/* unescaped tokens of one line */
	size_t		 seen[CONF_NOPTS];	/* first line using it, or 0 */
	size_t		 listen_line[CONF_LISTEN_MAX];
};

const char *
conf_proto_name(enum conf_proto proto)
{
	if ((size_t)proto >= CONF_NPROTOS)
		return "?";
	return conf_proto_names[proto];
}

/*
 * Messages.
 */

static void
conf_verror(struct conf_parser *cp, bool at_line, size_t col,
    const char *fmt, va_list ap)
{
	if (cp->nerr > CONF_ERRORS_MAX)
		return;
	if (cp->nerr++ > 0)
		(void)buf_append(&cp->errs, "\n", 1);
	if (cp->nerr > CONF_ERRORS_MAX) {
		(void)buf_printf(&cp->errs, "%s: too many errors, giving up",
		    cp->name);
		return;
	}
	if (at_line)
		(void)buf_printf(&cp->errs, "%s:%zu:%zu: ", cp->name,
		    cp->lineno, col);
	else
		(void)buf_printf(&cp->errs, "%s: ", cp->name);
	(void)buf_vprintf(&cp->errs, fmt, ap);
}

static void __attribute__((format(printf, 3, 4)))
conf_error(struct conf_parser *cp, size_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verror(cp, true, col, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
conf_error_file(struct conf_parser *cp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verror(cp, false, 0, fmt, ap);
	va_end(ap);
}

/* A token as "text" for a message: escaped, cut after CONF_SHOW_MAX. */
static const char *
conf_show(struct str s, char out[static CONF_SHOW_BUF])
{
	size_t n = 0;
	unsigned char c;

	out[n++] = '"';
	for (size_t i = 0; i < s.len && i < CONF_SHOW_MAX; i++) {
		c = (unsigned char)s.p[i];
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(out + n, 5, "\\x%02x", c);
			n += 4;
		} else
			out[n++] = (char)c;
	}
	if (s.len > CONF_SHOW_MAX) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n++] = '"';
	out[n] = '\0';
	return out;
}

/* A bound for a message, with the largest unit that divides it. */
static const char *
conf_show_num(enum conf_type type, uint64_t v, char out[static CONF_NUM_BUF])
{
	const struct conf_unit *u = conf_units(type), *best = NULL;

	for (; u != NULL && u->c != '\0' && v != 0; u++) {
		if (v % u->mult == 0)
			best = u;	/* units go from small to large */
	}
	if (best == NULL)
		snprintf(out, CONF_NUM_BUF, "%llu", (unsigned long long)v);
	else
		snprintf(out, CONF_NUM_BUF, "%llu%c",
		    (unsigned long long)(v / best->mult), best->c);
	return out;
}

/*
 * The lexer: one line, without its end, into tokens.
 */

static bool
conf_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* NUL and control bytes other than tab are refused, even in comments. */
static int
conf_lex_bytes(struct conf_parser *cp, const char *p, size_t len)
{
	unsigned char c;

	for (size_t i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (c == '\0') {
			conf_error(cp, i + 1, "NUL byte");
			return -1;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			conf_error(cp, i + 1, "control character 0x%02x", c);
			return -1;
		}
	}
	return 0;
}

/* A word: up to the next space; a quote inside it is an error. */
static int
conf_lex_word(struct conf_parser *cp, const char *p, size_t len, size_t *ip,
    size_t *op)
{
	size_t i = *ip;

	for (; i < len && !conf_is_space(p[i]); i++) {
		if (p[i] == '"') {
			conf_error(cp, i + 1,
			    "quote inside a word (quote the whole value)");
			return -1;
		}
		cp->scratch[(*op)++] = p[i];
	}
	*ip = i;
	return 0;
}

/* A "quoted string" at p[*ip], with \" and \\ as the only escapes. */
static int
conf_lex_quoted(struct conf_parser *cp, const char *p, size_t len,
    size_t *ip, size_t *op)
{
	size_t i = *ip + 1;

	for (; i < len && p[i] != '"'; i++) {
		if (p[i] == '\\' && i + 1 < len) {
			if (p[i + 1] != '"' && p[i + 1] != '\\') {
				conf_error(cp, i + 1, "unknown escape "
				    "(only \\\" and \\\\ may follow \\)");
				return -1;
			}
			i++;
		}
		cp->scratch[(*op)++] = p[i];
	}
	if (i >= len) {
		conf_error(cp, *ip + 1, "unterminated quote");
		return -1;
	}
	i++;
	if (i < len && !conf_is_space(p[i]) && p[i] != '#') {
		conf_error(cp, i + 1,
		    "expected a space after the closing quote");
		return -1;
	}
	*ip = i;
	return 0;
}

/* Tokens of a line into ln (the first CONF_TOKENS_MAX are kept). */
static int
conf_lex(struct conf_parser *cp, const char *p, size_t len,
    struct conf_line *ln)
{
	size_t i = 0, o = 0, start, ostart;
	int r;

	ln->ntok = 0;
	for (;;) {
		while (i < len && conf_is_space(p[i]))
			i++;
		if (i == len || p[i] == '#')
			return 0;
		start = i;
		ostart = o;
		if (p[i] == '"')
			r = conf_lex_quoted(cp, p, len, &i, &o);
		else
			r = conf_lex_word(cp, p, len, &i, &o);
		if (r == -1)
			return -1;
		if (ln->ntok == CONF_TOKENS_MAX)
			continue;
		ln->tok[ln->ntok++] = (struct conf_token){
			str_make(cp->scratch + ostart, o - ostart),
			start + 1, i + 1 };
	}
}

/*
 * Values.
 */

static void *
conf_field(struct conf *conf, const struct conf_opt *o)
{
	return (char *)conf + o->off;
}

static void
conf_store(struct conf *conf, const struct conf_opt *o, uint64_t v)
{
	void *f = conf_field(conf, o);

	switch (o->type) {
	case CONF_T_BOOL:
	case CONF_T_CHOICE:
		*(bool *)f = v != 0;
		break;
	case CONF_T_UINT:
	case CONF_T_DURATION:
		*(unsigned *)f = (unsigned)v;
		break;
	case CONF_T_SIZE:
		*(size_t *)f = (size_t)v;
		break;
	default:
		break;
	}
}

static bool
conf_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
conf_check_hostname(struct str s, const char **why_r)
{
	size_t label = 0;

	*why_r = "use letters, digits, '-' and '.'";
	if (s.len > SMTP_DOMAIN_MAX) {
		*why_r = "longer than 255 bytes";
		return -1;
	}
	for (size_t i = 0; i <= s.len; i++) {
		if (i < s.len && s.p[i] != '.') {
			if (!conf_is_alnum(s.p[i]) && s.p[i] != '-')
				return -1;
			label++;
			continue;
		}
		if (label == 0 || label > 63) {
			*why_r = "each label has 1 to 63 bytes";
			return -1;
		}
		if (s.p[i - label] == '-' || s.p[i - 1] == '-') {
			*why_r = "a label starts or ends with '-'";
			return -1;
		}
		label = 0;
	}
	return 0;
}

static int
conf_check_user(struct str s, const char **why_r)
{
	*why_r = "use at most 32 letters, digits, '.', '_' or '-', "
	    "not starting with '-'";
	if (s.len > 32 || s.p[0] == '-')
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (!conf_is_alnum(s.p[i]) && s.p[i] != '.' &&
		    s.p[i] != '_' && s.p[i] != '-')
			return -1;
	}
	return 0;
}

static int
conf_check_postmaster(struct str s, const char **why_r)
{
	const char *at = memrchr(s.p, '@', s.len);

	*why_r = "expected an address such as postmaster@example.org";
	if (s.len > SMTP_PATH_MAX || at == NULL || at == s.p ||
	    at == s.p + s.len - 1)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '<' ||
		    s.p[i] == '>')
			return -1;
	}
	return 0;
}

/* "ADDR" or "ADDR@PORT": a numeric IPv4 or IPv6 address (no brackets),
 * as libunbound's forward-addr takes it. */
static int
conf_check_dns_resolver(struct str s, const char **why_r)
{
	const char *at = memrchr(s.p, '@', s.len);
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t alen = at == NULL ? s.len : (size_t)(at - s.p);
	uint16_t port;

	*why_r = "expected a numeric address, optionally followed by @PORT, "
	    "as in 127.0.0.1@5353";
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s.p, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1)
		return -1;
	if (at != NULL && conf_parse_port(str_make(at + 1,
	    s.len - alen - 1), &port) == -1) {
		*why_r = "the port must be 1 to 65535";
		return -1;
	}
	return 0;
}

/* "192.0.2.0/24", "2001:db8::/32" or one address. */
static int
conf_check_cidr(struct str s, const char **why_r)
{
	struct cidr c;

	*why_r = "expected an address or a prefix, as in 192.0.2.0/24";
	return cidr_parse(s.p, s.len, &c);
}

/* "HOST", "HOST:PORT", "[ADDRESS]:PORT" or "[ADDRESS]" (the brackets
 * for IPv6; a bracketed name is taken as it is). */
static int
conf_check_smarthost(struct str s, const char **why_r)
{
	const char *colon = NULL, *close;
	struct str host = s;
	uint16_t port;

	*why_r = "expected HOST, HOST:PORT or [ADDRESS]:PORT";
	if (s.p[0] == '[') {
		if ((close = memchr(s.p, ']', s.len)) == NULL)
			return -1;
		host = str_make(s.p + 1, (size_t)(close - s.p - 1));
		if (close + 1 < s.p + s.len && close[1] != ':')
			return -1;
		if (close + 1 < s.p + s.len)
			colon = close + 1;
		if (host.len == 0 || host.len > SMTP_DOMAIN_MAX)
			return -1;
		if (memchr(host.p, ':', host.len) == NULL &&
		    conf_check_hostname(host, why_r) == -1)
			return -1;
	} else {
		if ((colon = memchr(s.p, ':', s.len)) != NULL)
			host = str_make(s.p, (size_t)(colon - s.p));
		if (conf_check_hostname(host, why_r) == -1)
			return -1;
	}
	if (colon != NULL && conf_parse_port(str_make(colon + 1,
	    (size_t)(s.p + s.len - colon - 1)), &port) == -1) {
		*why_r = "the port must be 1 to 65535";
		return -1;
	}
	return 0;
}

static int
conf_check_smarthost_tls(struct str s, const char **why_r)
{
	*why_r = "use starttls, implicit or none";
	return str_eq(s, STR_LIT("starttls")) || str_eq(s,
	    STR_LIT("implicit")) || str_eq(s, STR_LIT("none")) ? 0 : -1;
}

/* A list option: every word checked, added in lower case after the words
 * of earlier lines, one space between words. */
static void
conf_set_list(struct conf_parser *cp, const struct conf_opt *o,
    const struct conf_line *ln)
{
	char **dst = conf_field(cp->conf, o);
	char show[CONF_SHOW_BUF];
	const char *why;
	struct buf b;

	if (ln->ntok == CONF_TOKENS_MAX) {
		conf_error(cp, ln->tok[CONF_TOKENS_MAX - 1].col, "too many "
		    "values for %s on one line (at most %d): repeat the option",
		    o->name, CONF_TOKENS_MAX - 2);
		return;
	}
	for (size_t i = 1; i < ln->ntok; i++) {
		if (o->check != NULL && o->check(ln->tok[i].s, &why) == -1) {
			conf_error(cp, ln->tok[i].col, "bad %s %s: %s", o->name,
			    conf_show(ln->tok[i].s, show), why);
			return;
		}
	}
	buf_init(&b, CONF_FILE_MAX);
	if (*dst != NULL)
		(void)buf_append_str(&b, *dst);
	for (size_t i = 1; i < ln->ntok; i++) {
		if (b.len > 0)
			(void)buf_append(&b, " ", 1);
		for (size_t k = 0; k < ln->tok[i].s.len; k++) {
			char c = ln->tok[i].s.p[k];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			(void)buf_append(&b, &c, 1);
		}
	}
	free(*dst);
	*dst = xstrdup(buf_cstr(&b));
	buf_free(&b);
}

static void
conf_set_string(struct conf_parser *cp, const struct conf_opt *o,
    const struct conf_token *v)
{
	char **dst = conf_field(cp->conf, o);
	char show[CONF_SHOW_BUF];
	const char *why;

	if (v->s.len == 0) {
		conf_error(cp, v->col, "%s must not be empty", o->name);
		return;
	}
	if (o->check != NULL && o->check(v->s, &why) == -1) {
		conf_error(cp, v->col, "bad %s %s: %s", o->name,
		    conf_show(v->s, show), why);
		return;
	}
	free(*dst);
	*dst = xstrndup(v->s.p, v->s.len);
}

static void
conf_set_choice(struct conf_parser *cp, const struct conf_opt *o,
    const struct conf_token *v)
{
	static const char *const yes_no[] = { "no", "yes" };
	const char *const *w = o->words != NULL ? o->words : yes_no;
	char show[CONF_SHOW_BUF];

	for (size_t i = 0; i < 2; i++) {
		if (str_eq(v->s, str_cstr(w[i]))) {
			conf_store(cp->conf, o, i);
			return;
		}
	}
	conf_show(v->s, show);
	if (o->words == NULL)
		conf_error(cp, v->col, "%s must be yes or no, got %s",
		    o->name, show);
	else
		conf_error(cp, v->col, "%s must be %s or %s, got %s",
		    o->name, w[0], w[1], show);
}

/* Leading decimal digits of s: how many, their value in *n_r, and
 * *over_r set when that does not fit in 64 bits. */
static size_t
conf_digits(struct str s, uint64_t *n_r, bool *over_r)
{
	uint64_t n = 0, d;
	size_t i;

	*over_r = false;
	for (i = 0; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
		d = (uint64_t)(s.p[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			*over_r = true;
		else
			n = n * 10 + d;
	}
	*n_r = n;
	return i;
}

static const struct conf_unit *
conf_unit_find(enum conf_type type, char c)
{
	const struct conf_unit *u = conf_units(type);

	if (type == CONF_T_SIZE && c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	for (; u != NULL && u->c != '\0'; u++) {
		if (u->c == c)
			return u;
	}
	return NULL;
}

static void
conf_not_number(struct conf_parser *cp, const struct conf_opt *o,
    const struct conf_token *v, size_t ndigits)
{
	char show[CONF_SHOW_BUF], suffix[CONF_SHOW_BUF];
	struct str rest = str_make(v->s.p + ndigits, v->s.len - ndigits);

	conf_show(v->s, show);
	if (o->type == CONF_T_UINT || ndigits == 0)
		conf_error(cp, v->col, "%s needs %s, got %s", o->name,
		    o->type == CONF_T_UINT ? "a number" :
		    o->type == CONF_T_SIZE ? "a size such as 10M" :
		    "a duration such as 5m", show);
	else if (o->type == CONF_T_SIZE)
		conf_error(cp, v->col, "bad size suffix %s in %s: use K, M "
		    "or G", conf_show(rest, suffix), show);
	else
		conf_error(cp, v->col, "bad duration suffix %s in %s: use s, "
		    "m, h or d", conf_show(rest, suffix), show);
}

static void
conf_set_number(struct conf_parser *cp, const struct conf_opt *o,
    const struct conf_token *v)
{
	const struct conf_unit *u = NULL;
	char lo[CONF_NUM_BUF], hi[CONF_NUM_BUF];
	uint64_t n;
	size_t nd;
	bool over;

	nd = conf_digits(v->s, &n, &over);
	if (nd == 0 || (nd < v->s.len && (nd + 1 < v->s.len ||
	    (u = conf_unit_find(o->type, v->s.p[nd])) == NULL))) {
		conf_not_number(cp, o, v, nd);
		return;
	}
	if (nd < v->s.len) {
		if (n > UINT64_MAX / u->mult)
			over = true;
		n *= u->mult;
	}
	if (over || n < o->min || n > o->max) {
		conf_error(cp, v->col, "%s must be between %s and %s, got %.*s",
		    o->name, conf_show_num(o->type, o->min, lo),
		    conf_show_num(o->type, o->max, hi), (int)v->s.len, v->s.p);
		return;
	}
	conf_store(cp->conf, o, n);
}

/*
 * listen PROTO ADDRESS:PORT
 */

static int
conf_proto_find(struct str s, enum conf_proto *proto_r)
{
	for (size_t i = 0; i < CONF_NPROTOS; i++) {
		if (str_eq(s, str_cstr(conf_proto_names[i]))) {
			*proto_r = (enum conf_proto)i;
			return 0;
		}
	}
	return -1;
}

static int
conf_parse_port(struct str s, uint16_t *port_r)
{
	uint64_t n;
	bool over;

	if (conf_digits(s, &n, &over) != s.len || s.len == 0 || over ||
	    n < 1 || n > 65535)
		return -1;
	*port_r = (uint16_t)n;
	return 0;
}

static int
conf_parse_ip(struct str host, int family, struct conf_listen *l,
    const char **why_r)
{
	unsigned char bin[sizeof(struct in6_addr)];

	if (family == AF_INET && str_eq(host, STR_LIT("*"))) {
		memcpy(l->addr, "*", 2);
		return 0;
	}
	*why_r = family == AF_INET ? "not an IPv4 address or '*'" :
	    "not an IPv6 address";
	if (host.len == 0 || host.len >= sizeof(l->addr))
		return -1;
	memcpy(l->addr, host.p, host.len);
	l->addr[host.len] = '\0';
	return inet_pton(family, l->addr, bin) == 1 ? 0 : -1;
}

/* "[IPv6]:PORT", "IPv4:PORT" or "*:PORT" into l. */
static int
conf_parse_hostport(struct str s, struct conf_listen *l, const char **why_r)
{
	const char *colon, *close;
	struct str host;
	int family = AF_INET;

	if (s.p[0] == '[') {
		if ((close = memchr(s.p, ']', s.len)) == NULL) {
			*why_r = "missing ']'";
			return -1;
		}
		host = str_make(s.p + 1, (size_t)(close - s.p - 1));
		colon = close + 1;
		family = AF_INET6;
	} else {
		colon = memrchr(s.p, ':', s.len);
		host = str_make(s.p, colon == NULL ? s.len :
		    (size_t)(colon - s.p));
		if (memchr(host.p, ':', host.len) != NULL) {
			*why_r = "IPv6 addresses go in brackets, "
			    "as in [::1]:25";
			return -1;
		}
	}
	if (colon == NULL || colon == s.p + s.len || *colon != ':') {
		*why_r = "expected ADDRESS:PORT";
		return -1;
	}
	if (conf_parse_port(str_make(colon + 1, (size_t)(s.p + s.len -
	    colon - 1)), &l->port) == -1) {
		*why_r = "the port must be a number from 1 to 65535";
		return -1;
	}
	return conf_parse_ip(host, family, l, why_r);
}

static int
conf_listen_dup(struct conf_parser *cp, const struct conf_listen *l,
    const struct conf_token *t)
{
	const struct conf *c = cp->conf;
	char show[CONF_SHOW_BUF];

	for (size_t i = 0; i < c->nlisten; i++) {
		if (c->listen[i].port == l->port &&
		    strcmp(c->listen[i].addr, l->addr) == 0) {
			conf_error(cp, t->col, "duplicate listen on %s "
			    "(first at line %zu)", conf_show(t->s, show),
			    cp->listen_line[i]);
			return -1;
		}
	}
	return 0;
}

static void
conf_set_listen(struct conf_parser *cp, const struct conf_line *ln)
{
	const struct conf_token *tp = &ln->tok[1], *ta = &ln->tok[2];
	struct conf *c = cp->conf;
	struct conf_listen l;
	char show[CONF_SHOW_BUF];
	const char *why;

	memset(&l, 0, sizeof(l));
	if (conf_proto_find(tp->s, &l.proto) == -1) {
		conf_error(cp, tp->col, "unknown protocol %s: use smtp, "
		    "submission, submissions, imap, imaps, pop3 or pop3s",
		    conf_show(tp->s, show));
		return;
	}
	if (ta->s.len == 0 || conf_parse_hostport(ta->s, &l, &why) == -1) {
		conf_error(cp, ta->col, "bad listen address %s: %s",
		    conf_show(ta->s, show), ta->s.len == 0 ?
		    "expected ADDRESS:PORT" : why);
		return;
	}
	if (conf_listen_dup(cp, &l, ta) == -1)
		return;
	if (c->nlisten == CONF_LISTEN_MAX) {
		conf_error(cp, ln->tok[0].col, "too many listen lines "
		    "(at most %d)", CONF_LISTEN_MAX);
		return;
	}
	cp->listen_line[c->nlisten] = cp->lineno;
	c->listen[c->nlisten++] = l;
}

/*
 * Lines.
 */

static const struct conf_opt *
conf_opt_find(struct str name, size_t *idx_r)
{
	for (size_t i = 0; i < CONF_NOPTS; i++) {
		if (str_eq(name, str_cstr(conf_opts[i].name))) {
			*idx_r = i;
			return &conf_opts[i];
		}
	}
	return NULL;
}

/* Edit distance between a (at most CONF_NAME_MAX bytes) and b, ignoring
 * ASCII case; past limit, stops early and returns limit + 1. */
static size_t
conf_distance(struct str a, const char *b, size_t limit)
{
	size_t row[CONF_NAME_MAX + 1], diag, up, best, low;
	char ca;

	for (size_t i = 0; i <= a.len; i++)
		row[i] = i;
	for (size_t j = 1; b[j - 1] != '\0'; j++) {
		diag = row[0];
		low = row[0] = j;
		for (size_t i = 1; i <= a.len; i++) {
			up = row[i];
			ca = a.p[i - 1];
			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			best = diag + (ca != b[j - 1]);
			if (row[i] + 1 < best)
				best = row[i] + 1;
			if (row[i - 1] + 1 < best)
				best = row[i - 1] + 1;
			row[i] = best;
			diag = up;
			low = best < low ? best : low;
		}
		if (low > limit)
			return limit + 1;	/* rows never decrease */
	}
	return row[a.len];
}

static void
conf_unknown(struct conf_parser *cp, const struct conf_token *t)
{
	const struct conf_opt *best = NULL;
	size_t d, n, bestd = 1, bestn = 0;
	char show[CONF_SHOW_BUF];

	/* the closest name relative to its length, if within a third */
	for (size_t i = 0; i < CONF_NOPTS && t->s.len <= CONF_NAME_MAX; i++) {
		n = strlen(conf_opts[i].name);
		if ((t->s.len > n ? t->s.len - n : n - t->s.len) > n / 3)
			continue;
		d = conf_distance(t->s, conf_opts[i].name, n / 3);
		if (d <= n / 3 && d * bestn < bestd * n) {
			bestd = d;
			bestn = n;
			best = &conf_opts[i];
		}
	}
	conf_show(t->s, show);
	if (best != NULL)
		conf_error(cp, t->col, "unknown option %s; did you mean "
		    "\"%s\"?", show, best->name);
	else
		conf_error(cp, t->col, "unknown option %s", show);
}

static void
conf_set(struct conf_parser *cp, const struct conf_opt *o,
    const struct conf_line *ln)
{
	switch (o->type) {
	case CONF_T_STRING:
	case CONF_T_PATH:
		conf_set_string(cp, o, &ln->tok[1]);
		break;
	case CONF_T_BOOL:
	case CONF_T_CHOICE:
		conf_set_choice(cp, o, &ln->tok[1]);
		break;
	case CONF_T_UINT:
	case CONF_T_SIZE:
	case CONF_T_DURATION:
		conf_set_number(cp, o, &ln->tok[1]);
		break;
	case CONF_T_LISTEN:
		conf_set_listen(cp, ln);
		break;
	case CONF_T_LIST:
		conf_set_list(cp, o, ln);
		break;
	}
}

/* Check the shape of an option line (known, once, right number of
 * values), then set it. */
static void
conf_apply(struct conf_parser *cp, const struct conf_line *ln)
{
	const struct conf_opt *o;
	size_t idx, nargs;
	char show[CONF_SHOW_BUF];

	if ((o = conf_opt_find(ln->tok[0].s, &idx)) == NULL) {
		conf_unknown(cp, &ln->tok[0]);
		return;
	}
	if (cp->seen[idx] != 0 && o->type != CONF_T_LISTEN &&
	    o->type != CONF_T_LIST) {
		conf_error(cp, ln->tok[0].col, "duplicate option %s (first set "
		    "at line %zu)", o->name, cp->seen[idx]);
		return;
	}
	if (cp->seen[idx] == 0)
		cp->seen[idx] = cp->lineno;
	nargs = o->type == CONF_T_LISTEN ? 2 : 1;
	if (ln->ntok < 1 + nargs) {
		conf_error(cp, ln->tok[ln->ntok - 1].end, "%s needs %s",
		    o->name, o->type == CONF_T_LISTEN ?
		    "PROTOCOL ADDRESS:PORT" : "a value");
		return;
	}
	if (ln->ntok > 1 + nargs && o->type != CONF_T_LIST) {
		conf_error(cp, ln->tok[1 + nargs].col, "unexpected %s after "
		    "the value of %s", conf_show(ln->tok[1 + nargs].s, show),
		    o->name);
		return;
	}
	conf_set(cp, o, ln);
}

static void
conf_parse_line(struct conf_parser *cp, const char *p, size_t len)
{
	struct conf_line ln;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len > CONF_LINE_MAX) {
		conf_error(cp, CONF_LINE_MAX + 1, "line too long (more than %d "
		    "bytes)", CONF_LINE_MAX);
		return;
	}
	if (conf_lex_bytes(cp, p, len) == -1 || conf_lex(cp, p, len, &ln) == -1)
		return;
	if (ln.ntok > 0)
		conf_apply(cp, &ln);
}

static void
conf_parse_text(struct conf_parser *cp, const char *text, size_t len)
{
	const char *nl;
	size_t pos = 0, end;

	/* a UTF-8 byte order mark, as some editors write, is skipped */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len && cp->nerr <= CONF_ERRORS_MAX) {
		nl = memchr(text + pos, '\n', len - pos);
		end = nl == NULL ? len : (size_t)(nl - text);
		cp->lineno++;
		conf_parse_line(cp, text + pos, end - pos);
		pos = end + 1;
	}
}

/*
 * Defaults, after parsing.
 */

static char *
conf_concat(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = xmalloc(la + lb + lc + 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

/* DIR/REL, without doubling a '/' that ends DIR. */
static char *
conf_join(const char *dir, const char *rel)
{
	size_t n = strlen(dir);

	return conf_concat(dir, n > 0 && dir[n - 1] == '/' ? "" : "/", rel);
}

static int
conf_default_hostname(struct conf_parser *cp)
{
	char name[HOST_NAME_MAX + 1], show[CONF_SHOW_BUF];
	const char *why;

	if (gethostname(name, sizeof(name)) == -1) {
		conf_error_file(cp, "gethostname: %s; set hostname",
		    strerror(errno));
		return -1;
	}
	name[HOST_NAME_MAX] = '\0';
	if (conf_check_hostname(str_cstr(name), &why) == -1) {
		conf_error_file(cp, "the system hostname %s is not usable "
		    "(%s); set hostname", conf_show(str_cstr(name), show), why);
		return -1;
	}
	cp->conf->hostname = xstrdup(name);
	return 0;
}

static void
conf_defaults(struct conf_parser *cp)
{
	const struct conf_opt *o;
	char **s;

	for (size_t i = 0; i < CONF_NOPTS; i++) {
		o = &conf_opts[i];
		if (cp->seen[i] != 0 || o->type == CONF_T_LISTEN)
			continue;
		if (o->type != CONF_T_STRING && o->type != CONF_T_PATH) {
			conf_store(cp->conf, o, o->def);
			continue;
		}
		s = conf_field(cp->conf, o);
		if (o->def_str != NULL)
			*s = xstrdup(o->def_str);
	}
}

static void
conf_derive(struct conf_parser *cp)
{
	struct conf *c = cp->conf;

	if (c->hostname == NULL && conf_default_hostname(cp) == -1)
		return;
	if (c->tls_cert == NULL)
		c->tls_cert = conf_join(c->data_dir, "tls/cert.pem");
	if (c->tls_key == NULL)
		c->tls_key = conf_join(c->data_dir, "tls/key.pem");
	if (c->postmaster == NULL)
		c->postmaster = conf_concat("postmaster@", c->hostname, "");
}

static void
conf_finish(struct conf_parser *cp)
{
	bool listen = false;

	for (size_t i = 0; i < CONF_NOPTS; i++) {
		if (conf_opts[i].type == CONF_T_LISTEN && cp->seen[i] != 0)
			listen = true;
	}
	if (!listen)
		conf_error_file(cp, "no listen line: facteur would accept "
		    "no connections");
	if (cp->nerr > 0)
		return;
	conf_defaults(cp);
	conf_derive(cp);
}

/*
 * The API.
 */

static void
conf_parser_init(struct conf_parser *cp, const char *name)
{
	memset(cp, 0, sizeof(*cp));
	cp->name = name;
	cp->conf = xcalloc(1, sizeof(*cp->conf));
	cp->conf->path = xstrdup(name);
	buf_init(&cp->errs, SIZE_MAX / 2);
	cp->scratch = xmalloc(CONF_LINE_MAX);
}

static struct conf *
conf_parser_end(struct conf_parser *cp, char **err_r)
{
	struct conf *conf = cp->conf;

	free(cp->scratch);
	cp->scratch = NULL;
	if (cp->nerr == 0) {
		buf_free(&cp->errs);
		if (err_r != NULL)
			*err_r = NULL;
		return conf;
	}
	conf_free(&conf);
	(void)buf_cstr(&cp->errs);
	if (err_r != NULL)
		*err_r = cp->errs.p;	/* the caller owns it now */
	else
		buf_free(&cp->errs);
	return NULL;
}

struct conf *
conf_parse(const char *name, const char *text, size_t len, char **err_r)
{
	struct conf_parser cp;

	conf_parser_init(&cp, name);
	if (len > CONF_FILE_MAX)
		conf_error_file(&cp, "file too big (more than %d bytes)",
		    CONF_FILE_MAX);
	else {
		conf_parse_text(&cp, text, len);
		conf_finish(&cp);
	}
	return conf_parser_end(&cp, err_r);
}

/* Read fd into b, stopping once b is full (b->max bytes). */
static int
conf_read(int fd, struct buf *b)
{
	size_t want;
	ssize_t n;

	for (;;) {
		want = b->max - b->len < 65536 ? b->max - b->len : 65536;
		if (want == 0 || buf_reserve(b, want) == -1)
			return 0;
		n = read(fd, b->p + b->len, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

static void
conf_load_error(const char *path, const char *call, int err, char **err_r)
{
	struct buf b;

	if (err_r == NULL)
		return;
	buf_init(&b, SIZE_MAX / 2);
	(void)buf_printf(&b, "%s: %s: %s", path, call, strerror(err));
	(void)buf_cstr(&b);
	*err_r = b.p;
}

struct conf *
conf_load(const char *path, char **err_r)
{
	struct conf *conf = NULL;
	struct buf b;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		conf_load_error(path, "open", errno, err_r);
		return NULL;
	}
	/* one byte more than allowed, so that conf_parse() sees it */
	buf_init(&b, CONF_FILE_MAX + 1);
	if (conf_read(fd, &b) == -1) {
		saved = errno;
		conf_load_error(path, "read", saved, err_r);
	} else
		conf = conf_parse(path, b.len > 0 ? b.p : "", b.len, err_r);
	close(fd);
	buf_free(&b);
	return conf;
}

void
conf_free(struct conf **confp)
{
	struct conf *c;

	if (confp == NULL || (c = *confp) == NULL)
		return;
	for (size_t i = 0; i < CONF_NOPTS; i++) {
		if (conf_opts[i].type == CONF_T_STRING ||
		    conf_opts[i].type == CONF_T_PATH ||
		    conf_opts[i].type == CONF_T_LIST)
			free(*(char **)conf_field(c, &conf_opts[i]));
	}
	free(c->path);
	free(c);
	*confp = NULL;
}
