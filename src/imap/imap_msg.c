/* imap_msg.c: one message for FETCH, SEARCH, SORT and THREAD: the file
 * mapped on demand, its MIME tree, and the cache fields (ENVELOPE,
 * BODYSTRUCTURE, SORT and THREAD keys) computed in one pass and kept in
 * the index.  Also the RFC 5322 date parser and the reader of our own
 * ENVELOPE text that SORT, THREAD and SEARCH SENT* use. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/imap_msg_int.h"
#include "mime/mime_2047.h"
#include "mime/mime_bodystructure.h"
#include "mime/mime_envelope.h"
#include "mime/mime_header.h"

static int
imap_msg_fail(const char **err_r, const char *err, int r)
{
	if (err_r != NULL)
		*err_r = err;
	return r;
}

void
imap_msg_init(struct imap_msg *md, struct mstore_view *v, uint32_t i)
{
	memset(md, 0, sizeof(*md));
	md->v = v;
	md->i = i;
	md->seq = i + 1;
	md->m = v != NULL ? mstore_view_msg(v, i) : NULL;
	buf_init(&md->cache_mem, IMAP_MSG_CACHE_MAX);
}

void
imap_msg_init_data(struct imap_msg *md, const struct mstore_msg *m,
    uint32_t seq, const char *data, size_t len)
{
	imap_msg_init(md, NULL, seq - 1);
	md->m = m;
	md->data = data != NULL ? data : "";
	md->len = len;
}

void
imap_msg_release(struct imap_msg *md)
{
	if (md->map != NULL)
		munmap(md->map, md->map_len);
	md->map = NULL;
	md->map_len = 0;
	md->data = NULL;
	md->len = 0;
	mime_parse_message_free(&md->mime);
	buf_free(&md->cache_mem);
	memset(&md->cache, 0, sizeof(md->cache));
	md->cache_loaded = md->cache_filled = false;
}

int
imap_msg_load(struct imap_msg *md, const char **err_r)
{
	struct stat st;
	void *p;
	int fd;

	if (md->data != NULL)
		return 0;
	if (md->gone)
		return imap_msg_fail(err_r, "message expunged", MSTORE_EGONE);
	if (md->v == NULL)
		return imap_msg_fail(err_r, "no store", MSTORE_ERROR);
	if ((fd = mstore_view_open_msg(md->v, md->i)) == -1) {
		if (errno != ENOENT)
			return imap_msg_fail(err_r, "cannot open message",
			    MSTORE_ERROR);
		md->gone = true;
		return imap_msg_fail(err_r, "message expunged", MSTORE_EGONE);
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		return imap_msg_fail(err_r, "fstat failed", MSTORE_ERROR);
	}
	if (st.st_size == 0) {
		close(fd);
		md->data = "";
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return imap_msg_fail(err_r, "mmap failed", MSTORE_ERROR);
	md->map = p;
	md->map_len = (size_t)st.st_size;
	md->data = p;
	md->len = md->map_len;
	return 0;
}

int
imap_msg_parse(struct imap_msg *md, const char **err_r)
{
	int r;

	if (md->mime != NULL)
		return 0;
	if ((r = imap_msg_load(md, err_r)) != 0)
		return r;
	if ((md->mime = mime_parse_buffer(md->data, md->len)) == NULL)
		return imap_msg_fail(err_r, "cannot parse message",
		    MSTORE_ERROR);
	return 0;
}

/* --- reading the bytes -------------------------------------------------- */

size_t
imap_msg_header_end(const char *p, size_t len)
{
	size_t i = 0;
	const char *nl;

	while (i < len) {
		if (p[i] == '\n')
			return i + 1;
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if ((nl = memchr(p + i, '\n', len - i)) == NULL)
			return len;
		i = (size_t)(nl - p) + 1;
	}
	return len;
}

struct str
imap_msg_header(const struct imap_msg *md)
{
	return str_make(md->data, imap_msg_header_end(md->data, md->len));
}

struct str
imap_msg_slice(const struct imap_msg *md, uint64_t a, uint64_t b)
{
	if (b > md->len)
		b = md->len;
	if (a > b)
		a = b;
	return str_make(md->data + a, (size_t)(b - a));
}

/* --- the cache ---------------------------------------------------------- */

static bool
imap_msg_cache_complete(const struct mstore_cache *c)
{
	return c->envelope.p != NULL && c->bodystructure.p != NULL &&
	    c->body.p != NULL && c->subject.p != NULL && c->from.p != NULL &&
	    c->to.p != NULL && c->cc.p != NULL && c->display_from.p != NULL &&
	    c->display_to.p != NULL && c->message_id.p != NULL &&
	    c->in_reply_to.p != NULL && c->references.p != NULL;
}

/* The store's strings live until its next call: keep copies. */
static int
imap_msg_cache_copy(struct imap_msg *md, const struct mstore_cache *in)
{
	struct str *dst[] = { &md->cache.envelope, &md->cache.bodystructure,
	    &md->cache.body, &md->cache.subject, &md->cache.from,
	    &md->cache.to, &md->cache.cc, &md->cache.display_from,
	    &md->cache.display_to, &md->cache.message_id,
	    &md->cache.in_reply_to, &md->cache.references,
	    &md->cache.header };
	const struct str src[] = { in->envelope, in->bodystructure, in->body,
	    in->subject, in->from, in->to, in->cc, in->display_from,
	    in->display_to, in->message_id, in->in_reply_to,
	    in->references, in->header };
	size_t off[sizeof(src) / sizeof(src[0])], i, n = sizeof(src) /
	    sizeof(src[0]);

	buf_reset(&md->cache_mem);
	if (buf_append(&md->cache_mem, "", 1) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		off[i] = md->cache_mem.len;
		if (buf_append(&md->cache_mem, src[i].p, src[i].len) == -1)
			return -1;
	}
	md->cache.sent = in->sent;
	for (i = 0; i < n; i++)
		*dst[i] = str_make(md->cache_mem.p + off[i], src[i].len);
	/* a header too large to cache stays NULL: read from the file */
	if (in->header.p == NULL)
		md->cache.header = (struct str){ NULL, 0 };
	return 0;
}

/* The index's cache of md, once: 1 when it filled md->cache, 0 when
 * the index has none (or an incomplete one), -1 on a copy failure. */
static int
imap_msg_cache_index(struct imap_msg *md)
{
	struct mstore_cache c;

	if (md->cache_filled)
		return 1;
	if (md->cache_loaded || md->v == NULL)
		return 0;
	md->cache_loaded = true;
	memset(&c, 0, sizeof(c));
	if (mstore_view_cache_get(md->v, md->i, &c, NULL) != 0 ||
	    !imap_msg_cache_complete(&c))
		return 0;
	if (imap_msg_cache_copy(md, &c) == -1)
		return -1;
	md->cache_filled = true;
	return 1;
}

int
imap_msg_cache(struct imap_msg *md, const char **err_r)
{
	int r;

	if ((r = imap_msg_cache_index(md)) == 1)
		return 0;
	if (r == -1)
		return imap_msg_fail(err_r, "cache too large", MSTORE_ERROR);
	if ((r = imap_msg_parse(md, err_r)) != 0)
		return r;
	if (imap_msg_cache_compute(&md->cache_mem, md->data, md->len,
	    md->mime, &md->cache) == -1)
		return imap_msg_fail(err_r, "message structure too large",
		    MSTORE_ERROR);
	md->cache_filled = true;
	/* a cache that cannot be written is only slower */
	if (md->v != NULL)
		(void)mstore_view_cache_put(md->v, md->i, &md->cache, NULL);
	return 0;
}

int
imap_msg_top_header(struct imap_msg *md, struct str *hdr_r,
    const char **err_r)
{
	int r;

	if (md->data == NULL && imap_msg_cache_index(md) == 1 &&
	    md->cache.header.p != NULL) {
		*hdr_r = md->cache.header;
		return 0;
	}
	/* no cache yet: computing it parses the whole message, which is
	 * worth it (the next time is fast) unless the message is huge */
	if (md->data == NULL && !md->cache_filled && md->m != NULL &&
	    md->m->size <= IMAP_MSG_HEADER_FILL_MAX &&
	    imap_msg_cache(md, NULL) == 0 && md->cache.header.p != NULL) {
		*hdr_r = md->cache.header;
		return 0;
	}
	if ((r = imap_msg_load(md, err_r)) != 0)
		return r;
	*hdr_r = imap_msg_header(md);
	return 0;
}

/* --- reading our ENVELOPE text ------------------------------------------ */

static void
imap_msg_env_space(struct str s, size_t *ip)
{
	while (*ip < s.len && s.p[*ip] == ' ')
		(*ip)++;
}

int
imap_msg_env_nstring(struct str s, size_t *ip, struct buf *tmp,
    struct str *r)
{
	size_t i, start, n;
	bool esc = false;

	imap_msg_env_space(s, ip);
	i = *ip;
	if (i + 3 <= s.len && memcmp(s.p + i, "NIL", 3) == 0) {
		*r = (struct str){ NULL, 0 };
		*ip = i + 3;
		return 0;
	}
	if (i < s.len && s.p[i] == '{') {
		for (n = 0, i++; i < s.len && isdigit((unsigned char)s.p[i]);
		    i++) {
			if (n > s.len)
				return -1;
			n = n * 10 + (size_t)(s.p[i] - '0');
		}
		if (i + 3 > s.len || memcmp(s.p + i, "}\r\n", 3) != 0 ||
		    n > s.len - i - 3)
			return -1;
		*r = str_make(s.p + i + 3, n);
		*ip = i + 3 + n;
		return 0;
	}
	if (i >= s.len || s.p[i] != '"')
		return -1;
	for (start = ++i; i < s.len && s.p[i] != '"'; i++) {
		if (s.p[i] == '\\') {
			esc = true;
			i++;
		}
	}
	if (i >= s.len)
		return -1;
	*ip = i + 1;
	if (!esc) {
		*r = str_make(s.p + start, i - start);
		return 0;
	}
	buf_reset(tmp);
	for (n = start; n < i; n++) {
		if (s.p[n] == '\\')
			n++;
		if (buf_append(tmp, s.p + n, 1) == -1)
			return -1;
	}
	*r = str_make(tmp->p != NULL ? tmp->p : "", tmp->len);
	return 0;
}

/* Skip a value: nstring or parenthesised list. */
static int
imap_msg_env_skip(struct str s, size_t *ip, struct buf *tmp)
{
	struct str dummy;
	size_t depth = 0;

	do {
		imap_msg_env_space(s, ip);
		if (*ip >= s.len)
			return -1;
		if (s.p[*ip] == '(') {
			depth++;
			(*ip)++;
		} else if (s.p[*ip] == ')') {
			if (depth == 0)
				return -1;
			depth--;
			(*ip)++;
		} else if (imap_msg_env_nstring(s, ip, tmp, &dummy) == -1)
			return -1;
	} while (depth > 0);
	return 0;
}

int
imap_msg_env_item(struct str env, int k, struct buf *tmp, struct str *r)
{
	size_t i = 0;

	if (env.len == 0 || env.p[0] != '(')
		return -1;
	i = 1;
	while (k-- > 0)
		if (imap_msg_env_skip(env, &i, tmp) == -1)
			return -1;
	return imap_msg_env_nstring(env, &i, tmp, r);
}

/* The first real address of an address list as mime_envelope writes it
 * (group markers have no host). */
struct imap_msg_addr {
	struct str	 name, mailbox, host;
};

static int
imap_msg_first_addr(struct str s, struct buf tmp[4], struct imap_msg_addr *a)
{
	struct str v[4];
	size_t i = 0;
	int k;

	if (s.len == 0 || s.p[0] != '(')
		return -1;
	for (i = 1; i < s.len && s.p[i] == '('; ) {
		i++;
		for (k = 0; k < 4; k++) {
			if (imap_msg_env_nstring(s, &i, &tmp[k], &v[k]) == -1)
				return -1;
		}
		if (i >= s.len || s.p[i] != ')')
			return -1;
		i++;
		if (v[3].p != NULL) {
			a->name = v[0];
			a->mailbox = v[2];
			a->host = v[3];
			return 0;
		}
	}
	return -1;
}

/* --- computing the cache ------------------------------------------------ */

struct imap_msg_cbuild {
	struct buf	*mem;
	struct buf	 tmp[4];
};

/* Append s to mem, lower-cased when asked; its offset in *off_r. */
static int
imap_msg_cput(struct imap_msg_cbuild *b, struct str s, bool lower,
    size_t *off_r, size_t *len_r)
{
	size_t i, start = b->mem->len;

	*off_r = start;
	*len_r = 0;
	if (s.p == NULL)
		return 0;
	if (buf_append(b->mem, s.p, s.len) == -1)
		return -1;
	for (i = start; lower && i < b->mem->len; i++)
		b->mem->p[i] = (char)tolower((unsigned char)b->mem->p[i]);
	*len_r = s.len;
	return 0;
}

/* Mailbox of the first address (lower-case), and its display form:
 * the decoded name, else "mailbox@host". */
static int
imap_msg_caddr(struct imap_msg_cbuild *b, struct str value, size_t off[2],
    size_t len[2])
{
	struct imap_msg_addr a;
	struct buf addrs, name;
	int r = 0;

	off[0] = off[1] = b->mem->len;
	len[0] = len[1] = 0;
	if (value.p == NULL)
		return 0;
	/* "a," becomes (NIL NIL "a" "MISSING_DOMAIN"): 16 times */
	buf_init(&addrs, 32 * value.len + 1024);
	buf_init(&name, 4 * value.len + 64);
	if (mime_envelope_addresses(&addrs, value) == 0 &&
	    imap_msg_first_addr(str_make(addrs.p, addrs.len), b->tmp,
	    &a) == 0) {
		r |= imap_msg_cput(b, a.mailbox, true, &off[0], &len[0]);
		if (a.name.p != NULL)
			r |= mime_2047_decode(&name, a.name);
		if (name.len > 0) {
			r |= imap_msg_cput(b, str_make(name.p, name.len),
			    false, &off[1], &len[1]);
		} else {
			r |= imap_msg_cput(b, a.mailbox, false, &off[1],
			    &len[1]);
			r |= buf_append(b->mem, "@", 1);
			r |= buf_append(b->mem, a.host.p, a.host.len);
			len[1] = b->mem->len - off[1];
		}
	}
	buf_free(&addrs);
	buf_free(&name);
	return r == 0 ? 0 : -1;
}

static int
imap_msg_csubject(struct imap_msg_cbuild *b, struct str raw, size_t *off_r,
    size_t *len_r)
{
	struct buf dec;
	int r = 0;

	*off_r = b->mem->len;
	*len_r = 0;
	if (raw.p == NULL)
		return 0;
	buf_init(&dec, 4 * raw.len + 64);
	r = mime_2047_decode(&dec, raw);
	if (r == 0)
		imap_msg_base_subject(b->mem, str_make(dec.p, dec.len), NULL);
	*len_r = b->mem->len - *off_r;
	buf_free(&dec);
	return r;
}

/* The next "<id>" of a msg-id list at *ip: ids longer than
 * IMAP_MSG_ID_MAX and empty ones are skipped; in "<a <b>" the id is
 * "<b>". */
static bool
imap_msg_next_id(struct str v, size_t *ip, struct str *id)
{
	const char *lt, *gt, *lt2;
	size_t i = *ip;

	while (i < v.len) {
		if ((lt = memchr(v.p + i, '<', v.len - i)) == NULL)
			break;
		i = (size_t)(lt - v.p);
		if ((gt = memchr(lt, '>', v.len - i)) == NULL)
			break;
		if ((lt2 = memchr(lt + 1, '<', (size_t)(gt - lt) - 1)) !=
		    NULL) {
			i = (size_t)(lt2 - v.p);
			continue;
		}
		i = (size_t)(gt - v.p) + 1;
		if (gt - lt > 1 && (size_t)(gt - lt) < IMAP_MSG_ID_MAX) {
			*id = str_make(lt, (size_t)(gt - lt) + 1);
			*ip = i;
			return true;
		}
	}
	*ip = v.len;
	return false;
}

/* The last max_ids ids of a msg-id list, written "<a> <b>". */
static int
imap_msg_cids(struct imap_msg_cbuild *b, struct str v, size_t max_ids,
    size_t *off_r, size_t *len_r)
{
	size_t i = 0, nids = 0, first = 0, start = b->mem->len;
	struct str id;

	*off_r = start;
	*len_r = 0;
	if (v.p == NULL)
		return 0;
	while (imap_msg_next_id(v, &i, &id))
		nids++;
	if (nids > max_ids)
		first = nids - max_ids;
	for (i = 0, nids = 0; imap_msg_next_id(v, &i, &id); ) {
		if (nids++ < first)
			continue;
		if (b->mem->len > start && buf_append(b->mem, " ", 1) == -1)
			return -1;
		if (buf_append(b->mem, id.p, id.len) == -1)
			return -1;
	}
	*len_r = b->mem->len - start;
	return 0;
}

/* The References field of the top header (not kept by the parser). */
static struct str
imap_msg_references(const char *data, const struct mime_part *root)
{
	struct mime_header_field f;
	struct str block;
	size_t i = 0;

	block = str_make(data + root->hdr_off,
	    (size_t)(root->body_off - root->hdr_off));
	while (mime_header_next(block, &i, &f) == 1)
		if (str_eq_ci_cstr(f.name, "References"))
			return f.value;
	return (struct str){ NULL, 0 };
}

enum {
	IMAP_MC_ENV, IMAP_MC_BS, IMAP_MC_BODY, IMAP_MC_SUBJ, IMAP_MC_FROM,
	IMAP_MC_DFROM, IMAP_MC_TO, IMAP_MC_DTO, IMAP_MC_CC, IMAP_MC_DCC,
	IMAP_MC_MID, IMAP_MC_IRT, IMAP_MC_REFS, IMAP_MC_N
};

static int
imap_msg_cache_fields(struct imap_msg_cbuild *b, const char *data,
    const struct mime_message *mime, size_t off[IMAP_MC_N],
    size_t len[IMAP_MC_N])
{
	static const struct str none[MIME_ENV_COUNT];
	const struct mime_part *root = mime->root;
	const struct str *env = root->env != NULL ? root->env : none;
	struct buf *mem = b->mem;
	int r = 0;

	off[IMAP_MC_ENV] = mem->len;
	r |= mime_envelope_write(mem, root);
	off[IMAP_MC_BS] = mem->len;
	r |= mime_bs_write(mem, root, true);
	off[IMAP_MC_BODY] = mem->len;
	r |= mime_bs_write(mem, root, false);
	len[IMAP_MC_ENV] = off[IMAP_MC_BS] - off[IMAP_MC_ENV];
	len[IMAP_MC_BS] = off[IMAP_MC_BODY] - off[IMAP_MC_BS];
	len[IMAP_MC_BODY] = mem->len - off[IMAP_MC_BODY];
	if (r != 0)
		return -1;
	r |= imap_msg_csubject(b, env[MIME_ENV_SUBJECT], &off[IMAP_MC_SUBJ],
	    &len[IMAP_MC_SUBJ]);
	r |= imap_msg_caddr(b, env[MIME_ENV_FROM], &off[IMAP_MC_FROM],
	    &len[IMAP_MC_FROM]);
	r |= imap_msg_caddr(b, env[MIME_ENV_TO], &off[IMAP_MC_TO],
	    &len[IMAP_MC_TO]);
	r |= imap_msg_caddr(b, env[MIME_ENV_CC], &off[IMAP_MC_CC],
	    &len[IMAP_MC_CC]);
	r |= imap_msg_cids(b, env[MIME_ENV_MESSAGE_ID], 1, &off[IMAP_MC_MID],
	    &len[IMAP_MC_MID]);
	r |= imap_msg_cids(b, env[MIME_ENV_IN_REPLY_TO], IMAP_MSG_REFS_MAX,
	    &off[IMAP_MC_IRT], &len[IMAP_MC_IRT]);
	r |= imap_msg_cids(b, imap_msg_references(data, root),
	    IMAP_MSG_REFS_MAX, &off[IMAP_MC_REFS], &len[IMAP_MC_REFS]);
	return r == 0 ? 0 : -1;
}

int
imap_msg_cache_compute(struct buf *mem, const char *data, size_t len,
    const struct mime_message *mime, struct mstore_cache *c)
{
	struct imap_msg_cbuild b;
	size_t off[IMAP_MC_N], n[IMAP_MC_N];
	struct str *f[IMAP_MC_N] = { &c->envelope, &c->bodystructure,
	    &c->body, &c->subject, &c->from, &c->display_from, &c->to,
	    &c->display_to, &c->cc, NULL, &c->message_id, &c->in_reply_to,
	    &c->references };
	const struct str *env = mime->root->env;
	struct imap_date d;
	size_t hoff, hlen;
	int r;

	memset(c, 0, sizeof(*c));
	buf_reset(mem);
	/* a first byte so that empty strings are not NULL */
	if (buf_append(mem, "", 1) == -1)
		return -1;
	b.mem = mem;
	for (size_t i = 0; i < 4; i++)
		buf_init(&b.tmp[i], IMAP_MSG_VALUE_MAX);
	r = imap_msg_cache_fields(&b, data, mime, off, n);
	for (size_t i = 0; i < 4; i++)
		buf_free(&b.tmp[i]);
	if (r == -1)
		return -1;
	/* the top header as stored, when small enough (else, or when mem
	 * is full, NULL: read from the file) */
	hlen = imap_msg_header_end(data, len);
	hoff = mem->len;
	if (hlen > IMAP_MSG_HEADER_CACHE_MAX ||
	    buf_append(mem, data, hlen) == -1)
		hoff = SIZE_MAX;
	for (size_t i = 0; i < IMAP_MC_N; i++)
		if (f[i] != NULL)
			*f[i] = str_make(mem->p + off[i], n[i]);
	if (hoff != SIZE_MAX)
		c->header = str_make(mem->p + hoff, hlen);
	if (env == NULL || env[MIME_ENV_DATE].p == NULL ||
	    imap_msg_date_parse(env[MIME_ENV_DATE], &c->sent, &d) == -1)
		c->sent = 0;
	return 0;
}

/* --- dates -------------------------------------------------------------- */

static const char imap_msg_months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int
imap_msg_mdays(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
imap_msg_days(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

struct imap_msg_dscan {
	struct str	 s;
	size_t		 i;
};

static void
imap_msg_dskip(struct imap_msg_dscan *sc)
{
	mime_header_skip_cfws(sc->s, &sc->i);
}

static int
imap_msg_dnum(struct imap_msg_dscan *sc, int maxdigits, int *n_r,
    int *digits_r)
{
	int n = 0, k = 0;

	imap_msg_dskip(sc);
	while (sc->i < sc->s.len && isdigit((unsigned char)sc->s.p[sc->i]) &&
	    k < maxdigits) {
		n = n * 10 + (sc->s.p[sc->i++] - '0');
		k++;
	}
	if (k == 0)
		return -1;
	*n_r = n;
	if (digits_r != NULL)
		*digits_r = k;
	return 0;
}

static struct str
imap_msg_dword(struct imap_msg_dscan *sc)
{
	size_t start;

	imap_msg_dskip(sc);
	start = sc->i;
	while (sc->i < sc->s.len && isalpha((unsigned char)sc->s.p[sc->i]))
		sc->i++;
	return str_make(sc->s.p + start, sc->i - start);
}

static bool
imap_msg_dchar(struct imap_msg_dscan *sc, char c)
{
	imap_msg_dskip(sc);
	if (sc->i < sc->s.len && sc->s.p[sc->i] == c) {
		sc->i++;
		return true;
	}
	return false;
}

/* Zone in minutes east of UTC: "+hhmm", or an obsolete name (RFC 5322
 * §4.3; military letters count as 0). */
static int
imap_msg_dzone(struct imap_msg_dscan *sc)
{
	static const struct { const char *name; int min; } zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};
	struct str w;
	int sign, n = 0, k;

	imap_msg_dskip(sc);
	if (sc->i < sc->s.len && (sc->s.p[sc->i] == '+' ||
	    sc->s.p[sc->i] == '-')) {
		sign = sc->s.p[sc->i++] == '-' ? -1 : 1;
		for (k = 0; k < 4 && sc->i < sc->s.len &&
		    isdigit((unsigned char)sc->s.p[sc->i]); k++)
			n = n * 10 + (sc->s.p[sc->i++] - '0');
		if (k != 4 || n % 100 > 59)
			return 0;
		return sign * (n / 100 * 60 + n % 100);
	}
	w = imap_msg_dword(sc);
	for (size_t j = 0; j < sizeof(zones) / sizeof(zones[0]); j++)
		if (str_eq_ci_cstr(w, zones[j].name))
			return zones[j].min;
	return 0;
}

static int
imap_msg_dmonth(struct str w)
{
	for (int m = 0; m < 12; m++)
		if (w.len >= 3 && strncasecmp(w.p, imap_msg_months[m], 3) == 0)
			return m + 1;
	return -1;
}

int
imap_msg_date_parse(struct str s, time_t *t_r, struct imap_date *d_r)
{
	struct imap_msg_dscan sc = { s, 0 };
	int day, mon, year, hh, mm, ss = 0, digits, zone;
	size_t save;

	/* optional day of week */
	save = sc.i;
	if (imap_msg_dword(&sc).len == 0 || !imap_msg_dchar(&sc, ','))
		sc.i = save;
	if (imap_msg_dnum(&sc, 2, &day, NULL) == -1)
		return -1;
	/* "1-Jan-2020" is seen in the wild */
	(void)imap_msg_dchar(&sc, '-');
	if ((mon = imap_msg_dmonth(imap_msg_dword(&sc))) == -1)
		return -1;
	(void)imap_msg_dchar(&sc, '-');
	if (imap_msg_dnum(&sc, 4, &year, &digits) == -1)
		return -1;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	if (year < 1900 || year > 9999 || day < 1 ||
	    day > imap_msg_mdays(year, mon))
		return -1;
	if (imap_msg_dnum(&sc, 2, &hh, NULL) == -1 ||
	    !imap_msg_dchar(&sc, ':') || imap_msg_dnum(&sc, 2, &mm, NULL) == -1)
		return -1;
	if (imap_msg_dchar(&sc, ':') && imap_msg_dnum(&sc, 2, &ss, NULL) == -1)
		return -1;
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	zone = imap_msg_dzone(&sc);
	*t_r = (time_t)(imap_msg_days(year, mon, day) * 86400 + hh * 3600 +
	    mm * 60 + ss - zone * 60);
	d_r->year = (uint16_t)year;
	d_r->mon = (uint8_t)mon;
	d_r->day = (uint8_t)day;
	return 0;
}

void
imap_msg_local_date(time_t t, struct imap_date *d_r)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	d_r->year = (uint16_t)(tm.tm_year + 1900);
	d_r->mon = (uint8_t)(tm.tm_mon + 1);
	d_r->day = (uint8_t)tm.tm_mday;
}

int
imap_msg_date_cmp(const struct imap_date *a, const struct imap_date *b)
{
	uint32_t x = (uint32_t)a->year << 16 | (uint32_t)a->mon << 8 | a->day;
	uint32_t y = (uint32_t)b->year << 16 | (uint32_t)b->mon << 8 | b->day;

	return x < y ? -1 : x > y;
}

/* "dd-Mon-yyyy hh:mm:ss +zzzz" in the server's zone. */
int
imap_msg_internaldate(struct buf *out, time_t t)
{
	struct tm tm;
	long off;

	if (localtime_r(&t, &tm) == NULL)
		return buf_append_str(out, "\"01-Jan-1970 00:00:00 +0000\"");
	off = tm.tm_gmtoff / 60;
	return buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02ld%02ld\"",
	    tm.tm_mday, imap_msg_months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60);
}
