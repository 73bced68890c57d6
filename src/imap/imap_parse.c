/* imap_parse.c: the IMAP command reader.  A byte state machine, fed any
 * chunking of the input, that reads a tag, a command name and a tree of
 * arguments, then hands the tree to the command grammar
 * (imap_parse_cmd.c).  See imap_parse.h and doc/IMAP.md. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/str.h"
#include "imap/imap_parse.h"
#include "imap/imap_parse_int.h"

enum {
	ST_START,	/* before a tag */
	ST_TAG,
	ST_NAME,	/* command name ("UID" then its command) */
	ST_ARGS,	/* between arguments */
	ST_ATOM,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_TILDE,	/* '~' at an argument start: literal8 or atom */
	ST_LIT_NUM,	/* "{123" */
	ST_LIT_CLOSE,	/* "{123+" */
	ST_LIT_CR,	/* "{123}" */
	ST_LIT_LF,	/* "{123}\r" */
	ST_LIT_WAIT,	/* synchronising literal: the caller decides */
	ST_LIT_DATA,
	ST_SUFFIX,	/* after a section's ']': "<0.100>" */
	ST_CR,		/* CR at the end of a command line */
	ST_SKIP,	/* dropping the rest of a bad command */
	ST_SKIP_LIT,	/* dropping a literal of a bad command */
	ST_RAW,		/* a raw line (imap_parse_want_line) */
};

#define STEP_AGAIN	0	/* state changed: look at the byte again */
#define STEP_NEXT	1	/* byte used */

static const char imap_parse_ws[] = "Missing space between arguments";

/* --- arena ------------------------------------------------------------ */

void *
imap_parse_alloc(struct imap_parser *p, size_t n)
{
	struct imap_parse_chunk *c = p->arena;
	size_t al = sizeof(max_align_t), size;
	void *r;

	n = (n + al - 1) / al * al;
	if (c == NULL || c->size - c->used < n) {
		size = n > 4096 ? n : 4096;
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = p->arena;
		p->arena = c;
	}
	r = (char *)c->data + c->used;
	c->used += n;
	memset(r, 0, n);
	return r;
}

static void
imap_parse_arena_free(struct imap_parser *p)
{
	struct imap_parse_chunk *c, *next;

	for (c = p->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->arena = NULL;
}

/* --- life cycle --------------------------------------------------------- */

struct imap_parser *
imap_parse_new(size_t line_max, uint64_t literal_max)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (line_max > IMAP_PARSE_LINE_MAX * 16)
		line_max = IMAP_PARSE_LINE_MAX * 16;
	/* node offsets are 32-bit */
	if (literal_max > UINT32_MAX - line_max - 64)
		literal_max = UINT32_MAX - line_max - 64;
	p->line_max = line_max;
	p->literal_max = literal_max;
	buf_init(&p->data, line_max + (size_t)literal_max + 16);
	buf_init(&p->scratch, 4 * line_max + 16);
	p->state = ST_START;
	return p;
}

/* Drop the command just delivered (or abandoned). */
static void
imap_parse_release(struct imap_parser *p)
{
	imap_parse_arena_free(p);
	buf_reset(&p->data);
	buf_shrink(&p->data);
	buf_reset(&p->scratch);
	buf_shrink(&p->scratch);
	if (p->nodes_cap > 64) {
		free(p->nodes);
		p->nodes = NULL;
		p->nodes_cap = 0;
	}
	p->nnodes = 0;
	p->tag_len = 0;
	p->done = false;
}

void
imap_parse_trim(struct imap_parser *p)
{
	if (p->state != ST_START && p->state != ST_SKIP &&
	    p->state != ST_SKIP_LIT)
		return;				/* a command is being read */
	imap_parse_release(p);
	buf_free(&p->data);
	buf_free(&p->scratch);
	free(p->nodes);
	p->nodes = NULL;
	p->nodes_cap = 0;
}

void
imap_parse_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_parse_arena_free(p);
	buf_free(&p->data);
	buf_free(&p->scratch);
	free(p->nodes);
	free(p);
	*pp = NULL;
}

void
imap_parse_set_flags(struct imap_parser *p, unsigned flags)
{
	p->flags = flags;
}

unsigned
imap_parse_flags(const struct imap_parser *p)
{
	return p->flags;
}

void
imap_parse_reset(struct imap_parser *p)
{
	imap_parse_release(p);
	p->state = ST_START;
	p->raw = p->skip_raw = false;
	p->line_len = 0;
}

void
imap_parse_want_line(struct imap_parser *p)
{
	p->raw = true;
}

/* --- errors ------------------------------------------------------------- */

static void
imap_parse_error(struct imap_parser *p, const char *code, const char *text)
{
	p->pending = IMAP_PARSE_ERROR;
	p->err_resp = "BAD";
	p->err_code = code;
	p->err_text = text;
	p->done = true;
}

/* The byte c broke the command: drop the rest of its line.  c is fed to
 * the literal detector so that "{5+}" right after it still counts. */
static void imap_parse_sk(struct imap_parser *p, unsigned char c);

static int
imap_parse_fail(struct imap_parser *p, unsigned char c, const char *text)
{
	imap_parse_error(p, NULL, text);
	p->state = ST_SKIP;
	p->sk_state = 0;
	imap_parse_sk(p, c);
	return STEP_NEXT;
}

/* Failure once a literal was announced: its bytes follow only when it
 * was non-synchronising. */
static int
imap_parse_fail_lit(struct imap_parser *p, const char *code, const char *text)
{
	imap_parse_error(p, code, text);
	if (p->lit_sync) {
		p->state = ST_START;
		p->line_len = 0;
	} else {
		p->state = ST_SKIP_LIT;
		p->skip_left = p->lit_size;
	}
	return STEP_NEXT;
}

int
imap_parse_bad(struct imap_parser *p, const char *text)
{
	p->err_resp = "BAD";
	p->err_code = NULL;
	p->err_text = text;
	return -1;
}

int
imap_parse_no(struct imap_parser *p, const char *code, const char *text)
{
	p->err_resp = "NO";
	p->err_code = code;
	p->err_text = text;
	return -1;
}

/* Skipping: a line ending in "{n+}" is followed by n literal bytes. */
static void
imap_parse_sk(struct imap_parser *p, unsigned char c)
{
	int s = p->sk_state;

	if (c == '\n') {
		p->sk_state = 0;
		p->line_len = 0;
		if (p->skip_raw || (s != 5 && s != 7)) {
			p->state = ST_START;
			p->skip_raw = false;
			return;
		}
		p->state = ST_SKIP_LIT;
		p->skip_left = p->sk_num;
		return;
	}
	if (c == '{')
		s = 1, p->sk_num = 0;
	else if (c >= '0' && c <= '9' && (s == 1 || s == 2)) {
		s = 2;
		if (p->sk_num < UINT64_MAX / 16)
			p->sk_num = p->sk_num * 10 + (uint64_t)(c - '0');
	} else if (c == '+' && s == 2)
		s = 3;
	else if (c == '}' && (s == 2 || s == 3))
		s = s == 2 ? 4 : 5;
	else if (c == '\r' && (s == 4 || s == 5))
		s = s == 4 ? 6 : 7;
	else
		s = 0;
	/* 6 (sync literal, CR seen) ends the line like 4 at the LF */
	p->sk_state = s == 6 ? 4 : s;
}

/* --- the tree ----------------------------------------------------------- */

static int
imap_parse_put(struct imap_parser *p, unsigned char c)
{
	if (p->data.len < p->data.cap)
		p->data.p[p->data.len++] = (char)c;
	else if (buf_append(&p->data, &c, 1) == -1)
		return -1;
	p->nodes[p->cur].len++;
	return 0;
}

/* Start a node under the innermost open list; it becomes p->cur. */
static int
imap_parse_node_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_parse_node *n, *parent;
	uint32_t idx;

	if (p->nnodes > IMAP_PARSE_ARGS_MAX)
		return -1;
	if (p->nnodes == p->nodes_cap) {
		p->nodes_cap = p->nodes_cap == 0 ? 16 : p->nodes_cap * 2;
		p->nodes = xrealloc(p->nodes, p->nodes_cap * sizeof(*n));
	}
	idx = (uint32_t)p->nnodes++;
	n = &p->nodes[idx];
	memset(n, 0, sizeof(*n));
	n->type = (uint8_t)type;
	n->off = (uint32_t)p->data.len;
	if (idx > 0) {
		parent = &p->nodes[p->stack[p->depth]];
		if (parent->count++ == 0)
			parent->first = idx;
		else
			p->nodes[parent->last].next = idx;
		parent->last = idx;
	}
	p->cur = idx;
	return 0;
}

static struct str
imap_parse_text(const struct imap_parser *p, uint32_t off, uint32_t len)
{
	if (len == 0)
		return str_make("", 0);
	return str_make(p->data.p + off, len);
}

static void
imap_parse_fill(struct imap_parser *p, struct imap_arg *dst,
    const struct imap_parse_node *n)
{
	dst->type = (enum imap_arg_type)n->type;
	dst->lit8 = n->lit8;
	dst->str = imap_parse_text(p, n->off, n->len);
	dst->suffix = imap_parse_text(p, n->soff, n->slen);
	dst->list = NULL;
	dst->count = n->count;
}

/* Lay the tree out breadth first so that every list's children are one
 * array: out[k] is node order[k]. */
static void
imap_parse_finish(struct imap_parser *p)
{
	size_t total = p->nnodes - 1, head, tail = 0;
	struct imap_arg *out;
	uint32_t *order, c;

	out = imap_parse_alloc(p, (total + 1) * sizeof(*out));
	order = imap_parse_alloc(p, (total + 1) * sizeof(*order));
	for (c = p->nodes[0].first; c != 0; c = p->nodes[c].next)
		order[tail++] = c;
	for (head = 0; head < tail; head++) {
		const struct imap_parse_node *n = &p->nodes[order[head]];

		imap_parse_fill(p, &out[head], n);
		if (n->type != IMAP_ARG_LIST && n->type != IMAP_ARG_SECTION)
			continue;
		out[head].list = &out[tail];
		for (c = n->first; c != 0; c = p->nodes[c].next)
			order[tail++] = c;
	}
	p->cmd.args = out;
	p->cmd.argc = p->nodes[0].count;
}

/* --- characters --------------------------------------------------------- */

/* Bytes an atom may hold at this level: ATOM-CHAR plus what flags
 * ("\Seen"), sets ("1:*"), LIST patterns ("%") and astrings ("]") need;
 * the command grammar checks each use. */
static bool
imap_parse_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool
imap_parse_tag_char(unsigned char c)
{
	return imap_parse_atom_char(c) && c != '%' && c != '*' &&
	    c != '\\' && c != '+';
}

static bool
imap_parse_top_is(const struct imap_parser *p, enum imap_arg_type t)
{
	return p->depth > 0 && p->nodes[p->stack[p->depth]].type == t;
}

/* --- states: command start ---------------------------------------------- */

static void
imap_parse_begin(struct imap_parser *p)
{
	imap_parse_release(p);
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->id = IMAP_CMD_NONE;
	p->uid = p->need_sp = p->section = p->sect_open = false;
	p->name_len = 0;
	p->depth = 0;
	p->stack[0] = 0;
	p->lit_total = 0;
	(void)imap_parse_node_add(p, IMAP_ARG_LIST);	/* the top level */
}

static int
imap_parse_st_start(struct imap_parser *p, unsigned char c)
{
	if (p->raw) {
		p->raw = false;
		imap_parse_begin(p);
		p->state = ST_RAW;
		return STEP_AGAIN;
	}
	if (c == '\r' || c == '\n') {		/* empty lines are ignored */
		p->tag_len = 0;
		p->state = c == '\r' ? ST_CR : ST_START;
		p->line_len = 0;
		return STEP_NEXT;
	}
	if (!imap_parse_tag_char(c))
		return imap_parse_fail(p, c, "Invalid tag");
	imap_parse_begin(p);
	(void)buf_append(&p->data, &c, 1);
	p->tag_len = 1;
	p->state = ST_TAG;
	return STEP_NEXT;
}

static int
imap_parse_st_tag(struct imap_parser *p, unsigned char c)
{
	if (c == ' ') {
		p->state = ST_NAME;
		return STEP_NEXT;
	}
	if (c == '\r' || c == '\n')
		return imap_parse_fail(p, c, "Missing command");
	if (!imap_parse_tag_char(c) || p->tag_len >= IMAP_PARSE_TAG_MAX) {
		p->tag_len = 0;
		return imap_parse_fail(p, c, imap_parse_tag_char(c) ?
		    "Tag too long" : "Invalid tag");
	}
	(void)buf_append(&p->data, &c, 1);
	p->tag_len++;
	return STEP_NEXT;
}

/* The command name ended at c (SP, CR or LF). */
static int
imap_parse_name_end(struct imap_parser *p, unsigned char c)
{
	struct str name = str_make(p->name, p->name_len);

	if (name.len == 0)
		return imap_parse_fail(p, c, "Missing command");
	if (!p->uid && imap_parse_word(name, "UID")) {
		if (c != ' ')
			return imap_parse_fail(p, c, "Missing UID command");
		p->uid = true;
		p->name_len = 0;
		return STEP_NEXT;
	}
	p->id = imap_parse_cmd_lookup(name, p->uid);
	if (p->id == IMAP_CMD_NONE)
		return imap_parse_fail(p, c, p->uid ? "Unknown UID command" :
		    "Unknown command");
	p->section = p->id == IMAP_CMD_FETCH;
	p->state = ST_ARGS;
	return STEP_AGAIN;
}

static int
imap_parse_st_name(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\r' || c == '\n')
		return imap_parse_name_end(p, c);
	if (!imap_parse_atom_char(c))
		return imap_parse_fail(p, c, "Invalid command name");
	if (p->name_len >= sizeof(p->name))
		return imap_parse_fail(p, c, "Unknown command");
	p->name[p->name_len++] = (char)c;
	return STEP_NEXT;
}

/* --- states: arguments -------------------------------------------------- */

/* LF: the command is complete. */
static int
imap_parse_eol(struct imap_parser *p)
{
	p->state = ST_START;
	p->line_len = 0;
	if (p->depth > 0) {
		imap_parse_error(p, NULL, p->sect_open ? "Missing ']'" :
		    "Missing ')'");
		return STEP_NEXT;
	}
	imap_parse_finish(p);
	p->cmd.tag = str_make(p->data.p, p->tag_len);
	p->cmd.id = p->id;
	p->cmd.uid = p->uid;
	p->done = true;
	if (imap_parse_cmd_args(p, &p->cmd) == -1) {
		p->pending = IMAP_PARSE_ERROR;
		return STEP_NEXT;
	}
	p->pending = IMAP_PARSE_COMMAND;
	return STEP_NEXT;
}

static int
imap_parse_open(struct imap_parser *p, unsigned char c,
    enum imap_arg_type type)
{
	size_t max = (p->flags & IMAP_PARSE_F_AUTH) ? IMAP_PARSE_DEPTH_MAX :
	    IMAP_PARSE_DEPTH_PREAUTH;

	if (p->depth + 1 > max)
		return imap_parse_fail(p, c, "Too deeply nested lists");
	if (type == IMAP_ARG_LIST && imap_parse_node_add(p, type) == -1)
		return imap_parse_fail(p, c, "Too many arguments");
	p->nodes[p->cur].type = (uint8_t)type;
	p->stack[++p->depth] = p->cur;
	p->need_sp = false;
	if (type == IMAP_ARG_SECTION)
		p->sect_open = true;
	p->state = ST_ARGS;
	return STEP_NEXT;
}

/* ')' or ']' closing the innermost list or section. */
static int
imap_parse_close(struct imap_parser *p, unsigned char c)
{
	if (c == ']') {
		p->cur = p->stack[p->depth--];
		p->sect_open = false;
		p->nodes[p->cur].soff = (uint32_t)p->data.len;
		p->state = ST_SUFFIX;
		return STEP_NEXT;
	}
	if (!imap_parse_top_is(p, IMAP_ARG_LIST))
		return imap_parse_fail(p, c, "Unexpected ')'");
	p->depth--;
	p->need_sp = true;
	return STEP_NEXT;
}

static int
imap_parse_start_arg(struct imap_parser *p, unsigned char c)
{
	enum imap_arg_type t = c == '"' ? IMAP_ARG_QUOTED : IMAP_ARG_ATOM;

	if (c == '(')
		return imap_parse_open(p, c, IMAP_ARG_LIST);
	if (c == '{' || c == '~') {
		p->lit8 = false;
		p->lit_size = 0;
		p->lit_digits = 0;
		p->state = c == '{' ? ST_LIT_NUM : ST_TILDE;
		return STEP_NEXT;
	}
	if (c != '"' && !imap_parse_atom_char(c))
		return imap_parse_fail(p, c, c >= 0x80 ? "8-bit data in atom" :
		    "Invalid characters in atom");
	if (imap_parse_node_add(p, t) == -1)
		return imap_parse_fail(p, c, "Too many arguments");
	p->state = c == '"' ? ST_QUOTED : ST_ATOM;
	return c == '"' ? STEP_NEXT : STEP_AGAIN;
}

static int
imap_parse_st_args(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		p->need_sp = false;
		return STEP_NEXT;
	case '\r':
		p->state = ST_CR;
		return STEP_NEXT;
	case '\n':
		return imap_parse_eol(p);
	case ')':
		return imap_parse_close(p, c);
	case ']':
		if (imap_parse_top_is(p, IMAP_ARG_SECTION))
			return imap_parse_close(p, c);
		break;
	}
	if (p->need_sp)
		return imap_parse_fail(p, c, imap_parse_ws);
	return imap_parse_start_arg(p, c);
}

static int
imap_parse_st_cr(struct imap_parser *p, unsigned char c)
{
	if (c != '\n')
		return imap_parse_fail(p, c, "CR without LF");
	if (p->tag_len == 0) {		/* an empty line */
		p->state = ST_START;
		p->line_len = 0;
		return STEP_NEXT;
	}
	return imap_parse_eol(p);
}

static void
imap_parse_atom_end(struct imap_parser *p)
{
	struct imap_parse_node *n = &p->nodes[p->cur];

	if (imap_parse_word(imap_parse_text(p, n->off, n->len), "NIL"))
		n->type = IMAP_ARG_NIL;
	p->need_sp = true;
	p->state = ST_ARGS;
}

static int
imap_parse_st_atom(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\r' || c == '\n' || c == ')' ||
	    (c == ']' && imap_parse_top_is(p, IMAP_ARG_SECTION))) {
		imap_parse_atom_end(p);
		return STEP_AGAIN;
	}
	if (c == '[' && p->section && !p->sect_open)
		return imap_parse_open(p, c, IMAP_ARG_SECTION);
	if (!imap_parse_atom_char(c))
		return imap_parse_fail(p, c, c >= 0x80 ? "8-bit data in atom" :
		    "Invalid characters in atom");
	if (imap_parse_put(p, c) == -1)
		return imap_parse_fail(p, c, "Command too long");
	return STEP_NEXT;
}

static int
imap_parse_st_suffix(struct imap_parser *p, unsigned char c)
{
	struct imap_parse_node *n = &p->nodes[p->cur];

	if (c == ' ' || c == '\r' || c == '\n' || c == ')') {
		p->need_sp = true;
		p->state = ST_ARGS;
		return STEP_AGAIN;
	}
	if (!imap_parse_atom_char(c) || c == '[' || c == ']')
		return imap_parse_fail(p, c, "Invalid characters after ']'");
	if (buf_append(&p->data, &c, 1) == -1)
		return imap_parse_fail(p, c, "Command too long");
	n->slen++;
	return STEP_NEXT;
}

static int
imap_parse_st_quoted(struct imap_parser *p, unsigned char c)
{
	if (p->state == ST_QUOTED_ESC) {
		if (c != '"' && c != '\\')
			return imap_parse_fail(p, c,
			    "Invalid escape in quoted string");
		p->state = ST_QUOTED;
	} else if (c == '"') {
		p->need_sp = true;
		p->state = ST_ARGS;
		return STEP_NEXT;
	} else if (c == '\\') {
		p->state = ST_QUOTED_ESC;
		return STEP_NEXT;
	} else if (c == '\r' || c == '\n')
		return imap_parse_fail(p, c, "Unterminated quoted string");
	else if (c == '\0')
		return imap_parse_fail(p, c, "NUL in quoted string");
	if (imap_parse_put(p, c) == -1)
		return imap_parse_fail(p, c, "Command too long");
	return STEP_NEXT;
}

/* --- states: literals --------------------------------------------------- */

static int
imap_parse_st_tilde(struct imap_parser *p, unsigned char c)
{
	if (c == '{') {
		p->lit8 = true;
		p->state = ST_LIT_NUM;
		return STEP_NEXT;
	}
	if (imap_parse_node_add(p, IMAP_ARG_ATOM) == -1)
		return imap_parse_fail(p, c, "Too many arguments");
	(void)imap_parse_put(p, '~');
	p->state = ST_ATOM;
	return STEP_AGAIN;
}

static int
imap_parse_st_lit_num(struct imap_parser *p, unsigned char c)
{
	if (c >= '0' && c <= '9') {
		if (p->lit_size > ((uint64_t)INT64_MAX - (uint64_t)(c - '0'))
		    / 10)
			return imap_parse_fail(p, c, "Literal size too large");
		p->lit_size = p->lit_size * 10 + (uint64_t)(c - '0');
		p->lit_digits++;
		return STEP_NEXT;
	}
	if (p->lit_digits == 0 || (c != '+' && c != '}'))
		return imap_parse_fail(p, c, "Invalid literal size");
	p->lit_sync = c == '}';
	p->state = c == '}' ? ST_LIT_CR : ST_LIT_CLOSE;
	return STEP_NEXT;
}

/* Literal bytes this command may still send (few before login). */
static uint64_t
imap_parse_lit_room(const struct imap_parser *p)
{
	uint64_t max = p->literal_max;

	if (!(p->flags & IMAP_PARSE_F_AUTH) && max > IMAP_PARSE_PREAUTH_LITERAL)
		max = IMAP_PARSE_PREAUTH_LITERAL;
	return p->lit_total >= max ? 0 : max - p->lit_total;
}

/* The literal header is complete (its LF was just read). */
static int
imap_parse_announce(struct imap_parser *p)
{
	uint64_t room = imap_parse_lit_room(p);

	if (imap_parse_node_add(p, IMAP_ARG_LITERAL) == -1)
		return imap_parse_fail_lit(p, NULL, "Too many arguments");
	p->nodes[p->cur].lit8 = p->lit8;
	p->lit_left = p->lit_size;
	p->lit_nul = false;
	if (p->lit_sync) {
		p->state = ST_LIT_WAIT;
		p->pending = IMAP_PARSE_LITERAL;
		return STEP_NEXT;
	}
	if ((p->flags & IMAP_PARSE_F_LITERAL_MINUS) &&
	    room > IMAP_PARSE_NONSYNC_MINUS)
		room = IMAP_PARSE_NONSYNC_MINUS;
	if (p->lit_size > room)
		return imap_parse_fail_lit(p, "TOOBIG", "Literal too big");
	p->lit_total += p->lit_size;
	p->need_sp = true;
	p->state = p->lit_size == 0 ? ST_ARGS : ST_LIT_DATA;
	return STEP_NEXT;
}

static int
imap_parse_st_lit_end(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_LIT_CLOSE:
		if (c != '}')
			return imap_parse_fail(p, c, "Invalid literal size");
		p->state = ST_LIT_CR;
		return STEP_NEXT;
	case ST_LIT_CR:
		if (c == '\r') {
			p->state = ST_LIT_LF;
			return STEP_NEXT;
		}
		if (c == '\n')
			return imap_parse_announce(p);
		return imap_parse_fail(p, c, "Literal must end the line");
	default:
		if (c != '\n')
			return imap_parse_fail(p, c, "CR without LF");
		return imap_parse_announce(p);
	}
}

int
imap_parse_literal_accept(struct imap_parser *p)
{
	assert(p->state == ST_LIT_WAIT);
	if (p->lit_size > imap_parse_lit_room(p))
		return -1;
	p->lit_total += p->lit_size;
	p->need_sp = true;
	p->state = p->lit_size == 0 ? ST_ARGS : ST_LIT_DATA;
	return 0;
}

void
imap_parse_literal_reject(struct imap_parser *p)
{
	assert(p->state == ST_LIT_WAIT);
	p->state = ST_START;
	p->line_len = 0;
	p->done = true;
}

static size_t
imap_parse_lit_data(struct imap_parser *p, const char *in, size_t len)
{
	size_t n = len < p->lit_left ? len : (size_t)p->lit_left;

	if (!p->lit8 && memchr(in, '\0', n) != NULL)
		p->lit_nul = true;
	if (buf_append(&p->data, in, n) == -1) {	/* not reached */
		imap_parse_error(p, "TOOBIG", "Literal too big");
		p->state = ST_SKIP_LIT;
		p->skip_left = p->lit_left - n;
		return n;
	}
	p->nodes[p->cur].len += (uint32_t)n;
	p->lit_left -= n;
	if (p->lit_left == 0) {
		p->state = ST_ARGS;
		if (p->lit_nul)
			imap_parse_fail(p, 0, "NUL in literal");
	}
	return n;
}

/* --- raw lines and skipping --------------------------------------------- */

static size_t
imap_parse_raw(struct imap_parser *p, const char *in, size_t len)
{
	const char *lf = memchr(in, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - in) + 1 : len;

	if (p->data.len + n > p->line_max) {
		imap_parse_error(p, "TOOBIG", "Line too long");
		p->state = lf != NULL ? ST_START : ST_SKIP;
		p->skip_raw = lf == NULL;
		p->line_len = 0;
		return n;
	}
	(void)buf_append(&p->data, in, n);
	if (lf == NULL)
		return n;
	p->data.len--;
	if (p->data.len > 0 && p->data.p[p->data.len - 1] == '\r')
		p->data.len--;
	p->state = ST_START;
	p->line_len = 0;
	p->pending = IMAP_PARSE_LINE;
	p->done = true;
	return n;
}

/* Inside an atom or a quoted string: take the run of bytes that need no
 * decision at once (the line limit permitting), or 0. */
static size_t
imap_parse_run(struct imap_parser *p, const char *in, size_t len)
{
	size_t n = 0;

	if (p->state == ST_ATOM) {
		while (n < len && imap_parse_atom_char((unsigned char)in[n]) &&
		    in[n] != '[' && in[n] != ']')
			n++;
	} else {
		while (n < len && in[n] != '"' && in[n] != '\\' &&
		    in[n] != '\r' && in[n] != '\n' && in[n] != '\0')
			n++;
	}
	if (n == 0 || n > p->line_max - p->line_len ||
	    buf_append(&p->data, in, n) == -1)
		return 0;
	p->line_len += n;
	p->nodes[p->cur].len += (uint32_t)n;
	return n;
}

static size_t
imap_parse_skip(struct imap_parser *p, const char *in, size_t len)
{
	size_t n;

	if (p->state == ST_SKIP_LIT) {
		n = len < p->skip_left ? len : (size_t)p->skip_left;
		p->skip_left -= n;
		if (p->skip_left == 0) {
			p->state = ST_SKIP;
			p->sk_state = 0;
		}
		return n;
	}
	for (n = 0; n < len && p->state == ST_SKIP; n++)
		imap_parse_sk(p, (unsigned char)in[n]);
	return n;
}

/* --- the feed ----------------------------------------------------------- */

static int
imap_parse_step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_START:		return imap_parse_st_start(p, c);
	case ST_TAG:		return imap_parse_st_tag(p, c);
	case ST_NAME:		return imap_parse_st_name(p, c);
	case ST_ARGS:		return imap_parse_st_args(p, c);
	case ST_ATOM:		return imap_parse_st_atom(p, c);
	case ST_QUOTED:
	case ST_QUOTED_ESC:	return imap_parse_st_quoted(p, c);
	case ST_TILDE:		return imap_parse_st_tilde(p, c);
	case ST_LIT_NUM:	return imap_parse_st_lit_num(p, c);
	case ST_LIT_CLOSE:
	case ST_LIT_CR:
	case ST_LIT_LF:		return imap_parse_st_lit_end(p, c);
	case ST_SUFFIX:		return imap_parse_st_suffix(p, c);
	case ST_CR:		return imap_parse_st_cr(p, c);
	}
	abort();
}

/* One byte in a line state; the line limit counts it first. */
static size_t
imap_parse_byte(struct imap_parser *p, unsigned char c)
{
	if (++p->line_len > p->line_max && p->state != ST_START) {
		p->tag_len = p->state == ST_TAG ? 0 : p->tag_len;
		imap_parse_fail(p, c, "Command line too long");
		p->err_code = "TOOBIG";
		return 1;
	}
	while (imap_parse_step(p, c) == STEP_AGAIN)
		if (p->state == ST_RAW)
			return 0;
	return 1;
}

static void
imap_parse_event(struct imap_parser *p, struct imap_parse_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->tag = str_make(p->data.p != NULL ? p->data.p : "", p->tag_len);
	ev->id = p->id;
	ev->uid = p->uid;
	if (p->pending == IMAP_PARSE_COMMAND)
		ev->cmd = &p->cmd;
	else if (p->pending == IMAP_PARSE_LITERAL) {
		ev->lit_size = p->lit_size;
		ev->lit8 = p->lit8;
		ev->lit_too_big = p->lit_size > imap_parse_lit_room(p);
		ev->lit_message = p->id == IMAP_CMD_APPEND && p->depth == 0 &&
		    p->nodes[0].count >= 2;
	} else if (p->pending == IMAP_PARSE_ERROR) {
		ev->resp = p->err_resp;
		ev->code = p->err_code;
		ev->text = p->err_text;
	} else if (p->pending == IMAP_PARSE_LINE) {
		ev->line = str_make(p->data.p != NULL ? p->data.p : "",
		    p->data.len);
		ev->tag = str_make("", 0);
	}
}

enum imap_parse_status
imap_parse_feed(struct imap_parser *p, const char *in, size_t len,
    size_t *used_r, struct imap_parse_event *ev)
{
	size_t i = 0, n;

	assert(p->state != ST_LIT_WAIT);
	if (p->done)
		imap_parse_release(p);
	p->pending = IMAP_PARSE_MORE;
	while (i < len && p->pending == IMAP_PARSE_MORE) {
		if (p->state == ST_LIT_DATA)
			i += imap_parse_lit_data(p, in + i, len - i);
		else if (p->state == ST_SKIP || p->state == ST_SKIP_LIT)
			i += imap_parse_skip(p, in + i, len - i);
		else if (p->state == ST_RAW)
			i += imap_parse_raw(p, in + i, len - i);
		else if ((p->state != ST_ATOM && p->state != ST_QUOTED) ||
		    (n = imap_parse_run(p, in + i, len - i)) == 0)
			i += imap_parse_byte(p, (unsigned char)in[i]);
		else
			i += n;
	}
	*used_r = i;
	imap_parse_event(p, ev);
	return (enum imap_parse_status)p->pending;
}
