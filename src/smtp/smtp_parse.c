/* smtp_parse.c: the pure SMTP tokenizers.  Command lines and verbs, the
 * MAIL and RCPT arguments (RFC 5321 §4.1.2 with the ESMTP parameters of
 * RFC 1870, 3030, 3461, 4954, 6152, 6531) and HELO/EHLO arguments.  The
 * DATA/BDAT byte state machine is in smtp_data.c.  No I/O, no
 * allocation. */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_parse.h"

_Static_assert(SMTP_PATH_MAX >= SMTP_LOCALPART_MAX + 3,
    "a path holds at least a local part");

/* --- lines and verbs ------------------------------------------------- */

int
smtp_parse_line(const char *in, size_t len, size_t max, struct str *line_r)
{
	const char *lf;
	size_t n, end;

	if (max > INT_MAX)
		max = INT_MAX;
	n = len < max ? len : max;
	lf = n > 0 ? memchr(in, '\n', n) : NULL;
	if (lf == NULL)
		return len < max ? 0 : -1;
	end = (size_t)(lf - in);
	*line_r = str_make(in, end > 0 && in[end - 1] == '\r' ? end - 1 : end);
	return (int)end + 1;
}

int
smtp_parse_skip_line(const char *in, size_t len, size_t *consumed_r)
{
	const char *lf;
	size_t n = len < INT_MAX ? len : INT_MAX;

	lf = n > 0 ? memchr(in, '\n', n) : NULL;
	if (lf == NULL) {
		*consumed_r = n;
		return 0;
	}
	*consumed_r = (size_t)(lf - in) + 1;
	return (int)*consumed_r;
}

static const char *const smtp_parse_verb_names[] = {
	[SMTP_VERB_UNKNOWN] = "UNKNOWN",
	[SMTP_VERB_HELO] = "HELO",
	[SMTP_VERB_EHLO] = "EHLO",
	[SMTP_VERB_MAIL] = "MAIL",
	[SMTP_VERB_RCPT] = "RCPT",
	[SMTP_VERB_DATA] = "DATA",
	[SMTP_VERB_BDAT] = "BDAT",
	[SMTP_VERB_RSET] = "RSET",
	[SMTP_VERB_NOOP] = "NOOP",
	[SMTP_VERB_QUIT] = "QUIT",
	[SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_VRFY] = "VRFY",
	[SMTP_VERB_EXPN] = "EXPN",
	[SMTP_VERB_STARTTLS] = "STARTTLS",
	[SMTP_VERB_AUTH] = "AUTH",
};
#define SMTP_PARSE_NVERBS \
	(sizeof(smtp_parse_verb_names) / sizeof(smtp_parse_verb_names[0]))

const char *
smtp_verb_name(enum smtp_verb verb)
{
	if ((unsigned)verb >= SMTP_PARSE_NVERBS)
		return smtp_parse_verb_names[SMTP_VERB_UNKNOWN];
	return smtp_parse_verb_names[verb];
}

static enum smtp_verb
smtp_parse_verb_lookup(const char *p, size_t len)
{
	size_t v;

	for (v = 1; v < SMTP_PARSE_NVERBS; v++) {
		if (strlen(smtp_parse_verb_names[v]) == len &&
		    strncasecmp(smtp_parse_verb_names[v], p, len) == 0)
			return (enum smtp_verb)v;
	}
	return SMTP_VERB_UNKNOWN;
}

enum smtp_verb
smtp_parse_verb(struct str line, struct str *args_r)
{
	const char *sp;
	size_t vlen, i, end;

	if (line.len == 0) {
		*args_r = line;
		return SMTP_VERB_UNKNOWN;
	}
	sp = memchr(line.p, ' ', line.len);
	vlen = sp != NULL ? (size_t)(sp - line.p) : line.len;
	for (i = vlen; i < line.len && line.p[i] == ' '; i++)
		;
	for (end = line.len; end > i && line.p[end - 1] == ' '; end--)
		;
	*args_r = str_make(line.p + i, end - i);
	return smtp_parse_verb_lookup(line.p, vlen);
}

/* --- characters ------------------------------------------------------ */

static bool
smtp_parse_is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

static bool
smtp_parse_is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* RFC 5322 atext */
static bool
smtp_parse_is_atext(unsigned char c)
{
	return smtp_parse_is_alnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 qtextSMTP: printable and space, but not '"' or '\' */
static bool
smtp_parse_is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

static bool
smtp_parse_is_ldh(unsigned char c)
{
	return smtp_parse_is_alnum(c) || c == '-';
}

static bool
smtp_parse_is_ldh_lax(unsigned char c)
{
	return smtp_parse_is_ldh(c) || c == '_';
}

/* Length (2..4) of the well-formed UTF-8 sequence at p[0..n), or 0:
 * no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t
smtp_parse_utf8_seq(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* One character of class ok (ASCII) or one UTF-8 sequence at s[i]:
 * its length, or 0.  Non-ASCII sets *utf8. */
static size_t
smtp_parse_char(const char *s, size_t n, size_t i,
    bool (*ok)(unsigned char), bool *utf8_r)
{
	unsigned char c = (unsigned char)s[i];
	size_t k;

	if (c < 0x80)
		return ok(c) ? 1 : 0;
	if ((k = smtp_parse_utf8_seq(s + i, n - i)) > 0)
		*utf8_r = true;
	return k;
}

/* --- domains and address literals ------------------------------------ */

#define SMTP_PARSE_DOM_LAX	0x01	/* HELO: '_', '-' anywhere, final dot */
#define SMTP_PARSE_LABEL_MAX	63

/* One label at s[*pos..n), up to a dot or the end. */
static int
smtp_parse_label(const char *s, size_t n, size_t *pos, int flags,
    bool *utf8_r)
{
	bool (*ok)(unsigned char);
	size_t i = *pos, k;
	bool ascii = true;

	ok = flags & SMTP_PARSE_DOM_LAX ? smtp_parse_is_ldh_lax :
	    smtp_parse_is_ldh;
	while (i < n && s[i] != '.') {
		if ((k = smtp_parse_char(s, n, i, ok, utf8_r)) == 0)
			return -1;
		ascii = ascii && k == 1;
		i += k;
	}
	if (i == *pos || (ascii && i - *pos > SMTP_PARSE_LABEL_MAX))
		return -1;
	if (!(flags & SMTP_PARSE_DOM_LAX) &&
	    (s[*pos] == '-' || s[i - 1] == '-'))
		return -1;
	*pos = i;
	return 0;
}

/* RFC 5321 Domain, with U-labels (RFC 6531). */
static int
smtp_parse_domain(const char *s, size_t n, int flags, bool *utf8_r)
{
	size_t i = 0;

	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return -1;
	for (;;) {
		if (smtp_parse_label(s, n, &i, flags, utf8_r) == -1)
			return -1;
		if (i == n)
			return 0;
		i++;			/* the dot */
		if (i == n)
			return flags & SMTP_PARSE_DOM_LAX ? 0 : -1;
	}
}

/* Snum 3("." Snum), Snum being 0..255 in one to three digits. */
static int
smtp_parse_ipv4(const char *s, size_t n)
{
	size_t i = 0, part, digits;
	unsigned v;

	for (part = 0; part < 4; part++) {
		if (part > 0 && (i >= n || s[i++] != '.'))
			return -1;
		v = 0;
		for (digits = 0; digits < 3 && i < n &&
		    s[i] >= '0' && s[i] <= '9'; digits++)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (digits == 0 || v > 255)
			return -1;
	}
	return i == n ? 0 : -1;
}

/* Does s[0..n) end the address with an IPv4 tail (a dot, no colon)? */
static bool
smtp_parse_ipv6_v4_tail(const char *s, size_t n)
{
	return memchr(s, '.', n) != NULL && memchr(s, ':', n) == NULL;
}

/* RFC 5321 IPv6-addr: 8 groups, or at most 6 (a v4 tail counts for 2)
 * around one "::". */
static int
smtp_parse_ipv6(const char *s, size_t n)
{
	size_t i = 0, groups = 0, k;
	bool dcolon = false;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		dcolon = true;
		i = 2;
	}
	while (i < n) {
		if (smtp_parse_ipv6_v4_tail(s + i, n - i)) {
			if (smtp_parse_ipv4(s + i, n - i) == -1)
				return -1;
			groups += 2;
			break;
		}
		for (k = 0; k < 4 && i < n && smtp_parse_is_hex(s[i]); k++)
			i++;
		if (k == 0)
			return -1;
		groups++;
		if (i == n)
			break;
		if (s[i++] != ':' || i == n)
			return -1;
		if (s[i] == ':') {
			if (dcolon)
				return -1;
			dcolon = true;
			i++;
		}
	}
	return (dcolon ? groups <= 6 : groups == 8) ? 0 : -1;
}

/* "[IPv4]" or "[IPv6:...]"; general literals (tag:content) are refused,
 * no tag other than IPv6 is registered. */
static int
smtp_parse_addr_literal(const char *s, size_t n)
{
	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return -1;
	s++;
	n -= 2;
	if (n >= 5 && strncasecmp(s, "IPv6:", 5) == 0)
		return smtp_parse_ipv6(s + 5, n - 5);
	return smtp_parse_ipv4(s, n);
}

bool
smtp_parse_helo_ok(struct str arg)
{
	bool utf8 = false;

	if (arg.len > 0 && arg.p[0] == '[')
		return smtp_parse_addr_literal(arg.p, arg.len) == 0;
	return smtp_parse_domain(arg.p, arg.len, SMTP_PARSE_DOM_LAX,
	    &utf8) == 0;
}

/* --- paths ----------------------------------------------------------- */

enum smtp_parse_path_res {
	SMTP_PARSE_PATH_OK = 0,
	SMTP_PARSE_PATH_SYNTAX,
	SMTP_PARSE_PATH_LOCAL_LONG,
	SMTP_PARSE_PATH_DOMAIN_LONG,
	SMTP_PARSE_PATH_LONG,
	SMTP_PARSE_PATH_NULL,
	SMTP_PARSE_PATH_UTF8,
};

/* What differs between MAIL and RCPT. */
struct smtp_parse_cmd {
	const char	*prefix;	/* "FROM:" */
	const char	*usage;		/* reply text for a syntax error */
	const char	*ecode;		/* bad address: 5.1.7 or 5.1.3 */
	const char	*bad;		/* bad address text */
	bool		 rcpt;
};

static const struct smtp_parse_cmd smtp_parse_cmd_mail = {
	"FROM:", "Syntax: MAIL FROM:<address> [parameters]", "5.1.7",
	"Bad sender address syntax", false,
};
static const struct smtp_parse_cmd smtp_parse_cmd_rcpt = {
	"TO:", "Syntax: RCPT TO:<address> [parameters]", "5.1.3",
	"Bad recipient address syntax", true,
};

static int
smtp_parse_fail(struct smtp_parse_err *err_r, int code, const char *ecode,
    const char *text)
{
	err_r->code = code;
	err_r->ecode = ecode;
	err_r->text = text;
	return -1;
}

/* Atom *("." Atom), atoms of atext or UTF-8. */
static int
smtp_parse_dot_string(const char *s, size_t n, size_t *pos, bool *utf8_r)
{
	size_t i = *pos, start, k;

	for (;;) {
		start = i;
		while (i < n && (k = smtp_parse_char(s, n, i,
		    smtp_parse_is_atext, utf8_r)) > 0)
			i += k;
		if (i == start)
			return -1;
		if (i == n || s[i] != '.')
			break;
		i++;
	}
	*pos = i;
	return 0;
}

/* DQUOTE *(qtextSMTP / "\" %d32-126 / UTF-8) DQUOTE at s[*pos]. */
static int
smtp_parse_quoted(const char *s, size_t n, size_t *pos, bool *utf8_r)
{
	size_t i = *pos + 1, k;

	while (i < n) {
		if (s[i] == '"') {
			*pos = i + 1;
			return 0;
		}
		if (s[i] == '\\') {
			if (i + 1 >= n || s[i + 1] < 32 || s[i + 1] > 126)
				return -1;
			i += 2;
			continue;
		}
		if ((k = smtp_parse_char(s, n, i, smtp_parse_is_qtext,
		    utf8_r)) == 0)
			return -1;
		i += k;
	}
	return -1;
}

/* A-d-l ":" (source route): "@dom,@dom:".  Checked, then dropped. */
static int
smtp_parse_route(const char *s, size_t n, size_t *pos)
{
	size_t i = 0, start;
	bool utf8 = false;

	for (;;) {
		if (i >= n || s[i] != '@')
			return -1;
		start = ++i;
		while (i < n && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= n ||
		    smtp_parse_domain(s + start, i - start, 0, &utf8) == -1)
			return -1;
		if (s[i++] == ':')
			break;
	}
	*pos = i;
	return 0;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), into path. */
static enum smtp_parse_path_res
smtp_parse_mailbox(const char *s, size_t n, struct smtp_path *path)
{
	size_t i = 0, at;
	bool utf8 = false;
	int r;

	if (n > 0 && s[0] == '"')
		r = smtp_parse_quoted(s, n, &i, &utf8);
	else
		r = smtp_parse_dot_string(s, n, &i, &utf8);
	if (r == -1 || i >= n || s[i] != '@')
		return SMTP_PARSE_PATH_SYNTAX;
	if (i > SMTP_LOCALPART_MAX)
		return SMTP_PARSE_PATH_LOCAL_LONG;
	at = i++;
	if (n - i > SMTP_DOMAIN_MAX)
		return SMTP_PARSE_PATH_DOMAIN_LONG;
	if (n - i > 0 && s[i] == '[')
		r = smtp_parse_addr_literal(s + i, n - i);
	else
		r = smtp_parse_domain(s + i, n - i, 0, &utf8);
	if (r == -1)
		return SMTP_PARSE_PATH_SYNTAX;
	if (n > SMTP_PATH_MAX - 2)
		return SMTP_PARSE_PATH_LONG;
	memcpy(path->addr, s, n);
	path->addr[n] = '\0';
	path->local_len = at;
	path->utf8 = utf8;
	return SMTP_PARSE_PATH_OK;
}

/* The inside of "<...>": empty, "postmaster" (RCPT), or
 * [A-d-l ":"] Mailbox. */
static enum smtp_parse_path_res
smtp_parse_path(struct str in, bool rcpt, bool utf8_ok,
    struct smtp_path *path)
{
	enum smtp_parse_path_res res;
	size_t i = 0;

	if (in.len == 0)
		return rcpt ? SMTP_PARSE_PATH_NULL : SMTP_PARSE_PATH_OK;
	if (rcpt && str_eq_ci_cstr(in, "postmaster")) {
		memcpy(path->addr, "postmaster", sizeof("postmaster"));
		path->local_len = sizeof("postmaster") - 1;
		return SMTP_PARSE_PATH_OK;
	}
	if (in.p[0] == '@' && smtp_parse_route(in.p, in.len, &i) == -1)
		return SMTP_PARSE_PATH_SYNTAX;
	res = smtp_parse_mailbox(in.p + i, in.len - i, path);
	if (res == SMTP_PARSE_PATH_OK && path->utf8 && !utf8_ok)
		res = SMTP_PARSE_PATH_UTF8;
	return res;
}

static int
smtp_parse_path_fail(enum smtp_parse_path_res res,
    const struct smtp_parse_cmd *cmd, struct smtp_parse_err *err_r)
{
	switch (res) {
	case SMTP_PARSE_PATH_LOCAL_LONG:
		return smtp_parse_fail(err_r, 501, cmd->ecode,
		    "Local part too long");
	case SMTP_PARSE_PATH_DOMAIN_LONG:
		return smtp_parse_fail(err_r, 501, cmd->ecode,
		    "Domain too long");
	case SMTP_PARSE_PATH_LONG:
		return smtp_parse_fail(err_r, 501, cmd->ecode, "Path too long");
	case SMTP_PARSE_PATH_UTF8:
		return smtp_parse_fail(err_r, 553, "5.6.7",
		    "Non-ASCII address requires SMTPUTF8");
	default:
		return smtp_parse_fail(err_r, 501, cmd->ecode, cmd->bad);
	}
}

/* Index of the '>' closing the '<' at a.p[start], outside quotes. */
static int
smtp_parse_path_end(struct str a, size_t start, size_t *end_r)
{
	size_t i;
	bool quoted = false;

	for (i = start + 1; i < a.len; i++) {
		if (quoted && a.p[i] == '\\')
			i++;
		else if (a.p[i] == '"')
			quoted = !quoted;
		else if (!quoted && a.p[i] == '>') {
			*end_r = i;
			return 0;
		}
	}
	return -1;
}

/* "FROM:" SP* "<" path ">" [SP+ params]: split into path and params. */
static int
smtp_parse_split(struct str a, const struct smtp_parse_cmd *cmd,
    struct str *path_r, struct str *params_r, struct smtp_parse_err *err_r)
{
	size_t i, end;

	if (!str_has_prefix_ci(a, cmd->prefix))
		return smtp_parse_fail(err_r, 501, "5.5.4", cmd->usage);
	for (i = strlen(cmd->prefix); i < a.len && a.p[i] == ' '; i++)
		;
	if (i == a.len || a.p[i] != '<')
		return smtp_parse_fail(err_r, 501, "5.5.4", cmd->usage);
	if (smtp_parse_path_end(a, i, &end) == -1)
		return smtp_parse_fail(err_r, 501, cmd->ecode, cmd->bad);
	*path_r = str_make(a.p + i + 1, end - i - 1);
	i = end + 1;
	if (i < a.len && a.p[i] != ' ')
		return smtp_parse_fail(err_r, 501, "5.5.4", cmd->usage);
	while (i < a.len && a.p[i] == ' ')
		i++;
	*params_r = str_make(a.p + i, a.len - i);
	return 0;
}

/* --- ESMTP parameters ------------------------------------------------ */

struct smtp_parse_rcpt_ctx {
	struct smtp_rcpt_args	*out;
	bool			 utf8_ok;
};

struct smtp_parse_param {
	const char	*name;
	/* val is empty when has_val is false */
	int		(*fn)(void *ctx, struct str val, bool has_val,
			    struct smtp_parse_err *err_r);
};

static int
smtp_parse_bad_value(struct smtp_parse_err *err_r, const char *text)
{
	return smtp_parse_fail(err_r, 501, "5.5.4", text);
}

/* xtext (RFC 3461 §4): "!".."~" but '+' and '=', or "+HH".  Lower-case
 * hex is tolerated.  UTF-8 too when utf8_ok (RFC 6533 unitext). */
static bool
smtp_parse_xtext_ok(struct str v, bool utf8_ok)
{
	size_t i = 0, k;
	unsigned char c;

	while (i < v.len) {
		c = (unsigned char)v.p[i];
		if (c == '+') {
			if (i + 2 >= v.len || !smtp_parse_is_hex(v.p[i + 1]) ||
			    !smtp_parse_is_hex(v.p[i + 2]))
				return false;
			i += 3;
		} else if (c >= '!' && c <= '~' && c != '=')
			i++;
		else if (c >= 0x80 && utf8_ok &&
		    (k = smtp_parse_utf8_seq(v.p + i, v.len - i)) > 0)
			i += k;
		else
			return false;
	}
	return true;
}

static int
smtp_parse_copy_value(char *dst, size_t size, struct str v)
{
	if (v.len >= size)
		return -1;
	memcpy(dst, v.p, v.len);
	dst[v.len] = '\0';
	return 0;
}

/* SIZE=1*20DIGIT (RFC 1870); a value past UINT64_MAX saturates, it is
 * too big either way. */
static int
smtp_parse_p_size(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_mail_args *out = ctx;
	uint64_t n = 0, d;
	size_t i;

	if (!has_val || v.len > 20)
		return smtp_parse_bad_value(err_r, "Bad SIZE value");
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return smtp_parse_bad_value(err_r, "Bad SIZE value");
		d = (uint64_t)(v.p[i] - '0');
		n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
	}
	out->has_size = true;
	out->size = n;
	return 0;
}

static int
smtp_parse_p_body(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_mail_args *out = ctx;

	if (str_eq_ci_cstr(v, "7BIT"))
		out->body = SMTP_BODY_7BIT;
	else if (str_eq_ci_cstr(v, "8BITMIME"))
		out->body = SMTP_BODY_8BITMIME;
	else if (str_eq_ci_cstr(v, "BINARYMIME"))
		out->body = SMTP_BODY_BINARYMIME;
	else
		return smtp_parse_bad_value(err_r, "Bad BODY value");
	return 0;
}

static int
smtp_parse_p_smtputf8(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_mail_args *out = ctx;

	if (has_val)
		return smtp_parse_bad_value(err_r, "SMTPUTF8 takes no value");
	out->smtputf8 = true;
	return 0;
}

static int
smtp_parse_p_ret(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_mail_args *out = ctx;

	if (str_eq_ci_cstr(v, "FULL"))
		out->ret = SMTP_RET_FULL;
	else if (str_eq_ci_cstr(v, "HDRS"))
		out->ret = SMTP_RET_HDRS;
	else
		return smtp_parse_bad_value(err_r, "Bad RET value");
	return 0;
}

static int
smtp_parse_p_envid(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_mail_args *out = ctx;

	if (!has_val || !smtp_parse_xtext_ok(v, false) ||
	    smtp_parse_copy_value(out->envid, sizeof(out->envid), v) == -1)
		return smtp_parse_bad_value(err_r, "Bad ENVID value");
	return 0;
}

/* AUTH=xtext, or AUTH=<> which xtext already allows (RFC 4954 §5). */
static int
smtp_parse_p_auth(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_mail_args *out = ctx;

	if (!has_val || !smtp_parse_xtext_ok(v, false) ||
	    smtp_parse_copy_value(out->auth, sizeof(out->auth), v) == -1)
		return smtp_parse_bad_value(err_r, "Bad AUTH value");
	return 0;
}

static unsigned
smtp_parse_notify_flag(struct str w)
{
	if (str_eq_ci_cstr(w, "SUCCESS"))
		return SMTP_NOTIFY_SUCCESS;
	if (str_eq_ci_cstr(w, "FAILURE"))
		return SMTP_NOTIFY_FAILURE;
	if (str_eq_ci_cstr(w, "DELAY"))
		return SMTP_NOTIFY_DELAY;
	return 0;
}

/* NOTIFY=NEVER, or a comma list of SUCCESS, FAILURE, DELAY. */
static int
smtp_parse_p_notify(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_parse_rcpt_ctx *rc = ctx;
	size_t i = 0, start;
	unsigned f, flags = 0;

	if (str_eq_ci_cstr(v, "NEVER")) {
		rc->out->notify = SMTP_NOTIFY_NEVER;
		return 0;
	}
	do {
		start = i;
		while (i < v.len && v.p[i] != ',')
			i++;
		f = smtp_parse_notify_flag(str_make(v.p + start, i - start));
		if (f == 0)
			return smtp_parse_bad_value(err_r, "Bad NOTIFY value");
		flags |= f;
	} while (i++ < v.len);
	rc->out->notify = flags;
	return 0;
}

/* ORCPT=addr-type ";" xtext (RFC 3461 §4.2), at most 500 characters. */
static int
smtp_parse_p_orcpt(void *ctx, struct str v, bool has_val,
    struct smtp_parse_err *err_r)
{
	struct smtp_parse_rcpt_ctx *rc = ctx;
	const char *semi;
	size_t i, tlen;

	semi = v.len > 0 ? memchr(v.p, ';', v.len) : NULL;
	if (semi == NULL || v.len > 500)
		return smtp_parse_bad_value(err_r, "Bad ORCPT value");
	tlen = (size_t)(semi - v.p);
	for (i = 0; i < tlen; i++)
		if (!smtp_parse_is_atext((unsigned char)v.p[i]))
			break;
	if (tlen == 0 || i < tlen || tlen + 1 == v.len ||
	    !smtp_parse_xtext_ok(str_make(semi + 1, v.len - tlen - 1),
	    rc->utf8_ok) ||
	    smtp_parse_copy_value(rc->out->orcpt, sizeof(rc->out->orcpt),
	    v) == -1)
		return smtp_parse_bad_value(err_r, "Bad ORCPT value");
	return 0;
}

static const struct smtp_parse_param smtp_parse_mail_params[] = {
	{ "SIZE",	smtp_parse_p_size },
	{ "BODY",	smtp_parse_p_body },
	{ "SMTPUTF8",	smtp_parse_p_smtputf8 },
	{ "RET",	smtp_parse_p_ret },
	{ "ENVID",	smtp_parse_p_envid },
	{ "AUTH",	smtp_parse_p_auth },
	{ NULL,		NULL },
};

static const struct smtp_parse_param smtp_parse_rcpt_params[] = {
	{ "NOTIFY",	smtp_parse_p_notify },
	{ "ORCPT",	smtp_parse_p_orcpt },
	{ NULL,		NULL },
};

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool
smtp_parse_keyword_ok(struct str k)
{
	size_t i;

	if (k.len == 0 || !smtp_parse_is_alnum(k.p[0]))
		return false;
	for (i = 1; i < k.len; i++)
		if (!smtp_parse_is_ldh(k.p[i]))
			return false;
	return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126 / UTF-8 (RFC 6531)) */
static bool
smtp_parse_value_ok(struct str v)
{
	size_t i = 0, k;
	unsigned char c;

	if (v.len == 0)
		return false;
	while (i < v.len) {
		c = (unsigned char)v.p[i];
		if (c >= 33 && c <= 126 && c != '=')
			k = 1;
		else if ((k = c >= 0x80 ?
		    smtp_parse_utf8_seq(v.p + i, v.len - i) : 0) == 0)
			return false;
		i += k;
	}
	return true;
}

/* One "KEY[=value]" against tab; seen catches duplicates. */
static int
smtp_parse_param(struct str p, const struct smtp_parse_param *tab,
    unsigned *seen, void *ctx, struct smtp_parse_err *err_r)
{
	const char *eq = memchr(p.p, '=', p.len);
	struct str key, val;
	size_t k;

	key = str_make(p.p, eq != NULL ? (size_t)(eq - p.p) : p.len);
	val = str_make(p.p + p.len, 0);
	if (eq != NULL)
		val = str_make(eq + 1, p.len - key.len - 1);
	if (!smtp_parse_keyword_ok(key) ||
	    (eq != NULL && !smtp_parse_value_ok(val)))
		return smtp_parse_fail(err_r, 501, "5.5.4",
		    "Bad parameter syntax");
	for (k = 0; tab[k].name != NULL; k++)
		if (str_eq_ci_cstr(key, tab[k].name))
			break;
	if (tab[k].name == NULL)
		return smtp_parse_fail(err_r, 555, "5.5.4",
		    "Unsupported parameter");
	if (*seen & (1u << k))
		return smtp_parse_fail(err_r, 501, "5.5.4",
		    "Duplicate parameter");
	*seen |= 1u << k;
	return tab[k].fn(ctx, val, eq != NULL, err_r);
}

/* esmtp-param *(SP esmtp-param); extra spaces are tolerated. */
static int
smtp_parse_params(struct str s, const struct smtp_parse_param *tab,
    void *ctx, struct smtp_parse_err *err_r)
{
	size_t i = 0, start;
	unsigned seen = 0;

	while (i < s.len) {
		start = i;
		while (i < s.len && s.p[i] != ' ')
			i++;
		if (smtp_parse_param(str_make(s.p + start, i - start), tab,
		    &seen, ctx, err_r) == -1)
			return -1;
		while (i < s.len && s.p[i] == ' ')
			i++;
	}
	return 0;
}

int
smtp_parse_mail(struct str args, struct smtp_mail_args *out,
    struct smtp_parse_err *err_r)
{
	const struct smtp_parse_cmd *cmd = &smtp_parse_cmd_mail;
	enum smtp_parse_path_res res;
	struct str path, params;

	memset(out, 0, sizeof(*out));
	if (smtp_parse_split(args, cmd, &path, &params, err_r) == -1 ||
	    smtp_parse_params(params, smtp_parse_mail_params, out,
	    err_r) == -1)
		return -1;
	res = smtp_parse_path(path, false, out->smtputf8, &out->path);
	if (res != SMTP_PARSE_PATH_OK)
		return smtp_parse_path_fail(res, cmd, err_r);
	return 0;
}

int
smtp_parse_rcpt(struct str args, bool utf8_ok, struct smtp_rcpt_args *out,
    struct smtp_parse_err *err_r)
{
	const struct smtp_parse_cmd *cmd = &smtp_parse_cmd_rcpt;
	struct smtp_parse_rcpt_ctx ctx = { out, utf8_ok };
	enum smtp_parse_path_res res;
	struct str path, params;

	memset(out, 0, sizeof(*out));
	if (smtp_parse_split(args, cmd, &path, &params, err_r) == -1 ||
	    smtp_parse_params(params, smtp_parse_rcpt_params, &ctx,
	    err_r) == -1)
		return -1;
	res = smtp_parse_path(path, true, utf8_ok, &out->path);
	if (res != SMTP_PARSE_PATH_OK)
		return smtp_parse_path_fail(res, cmd, err_r);
	return 0;
}
