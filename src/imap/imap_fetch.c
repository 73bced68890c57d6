/* imap_fetch.c: one FETCH response (RFC 9051 §6.4.5 and §7.5.2, RFC
 * 3501 for IMAP4rev1, RFC 3516 BINARY, RFC 7162 MODSEQ).
 *
 * Items that need only the index (FLAGS, UID, INTERNALDATE, RFC822.SIZE,
 * MODSEQ) never touch the file; ENVELOPE, BODY and BODYSTRUCTURE come
 * from the cache; so does the top header (HEADER, HEADER.FIELDS (.NOT),
 * RFC822.HEADER: the cached block, no file opened) unless it is larger
 * than the cache's cap; the top text is found by a scan for the blank
 * line; part numbers need the MIME tree.
 *
 * Output grows only with what was asked: a section is at most the
 * message, a BINARY decoding at most its encoded size. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "imap/imap_msg_int.h"
#include "mime/mime_decode.h"
#include "mime/mime_header.h"

/* Input bytes decoded at a time for BINARY. */
#define IMAP_FETCH_CHUNK	(64 * 1024)

/* A resolved section: bytes [off, off + len) of the message, or a
 * filtered copy in tmp (HEADER.FIELDS); exists false gives NIL. */
struct imap_fetch_range {
	bool			 exists;
	struct str		 bytes;
	const struct mime_part	*part;	/* whose encoding; NULL: none */
};

static int
imap_fetch_fail(const char **err_r, const char *err, int r)
{
	if (err_r != NULL)
		*err_r = err;
	return r;
}

/* --- flags -------------------------------------------------------------- */

void
imap_flags_write(struct buf *out, unsigned flags, uint32_t kw,
    bool recent, const char *const *kwnames, size_t nkw)
{
	static const struct { unsigned bit; const char *name; } sys[] = {
		{ IMAP_FLAG_ANSWERED, "\\Answered" },
		{ IMAP_FLAG_FLAGGED, "\\Flagged" },
		{ IMAP_FLAG_DELETED, "\\Deleted" },
		{ IMAP_FLAG_SEEN, "\\Seen" },
		{ IMAP_FLAG_DRAFT, "\\Draft" },
	};
	bool sp = false;
	size_t i;

	(void)buf_append(out, "(", 1);
	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if (!(flags & sys[i].bit))
			continue;
		(void)buf_printf(out, "%s%s", sp ? " " : "", sys[i].name);
		sp = true;
	}
	for (i = 0; i < nkw && i < 32; i++) {
		if (!(kw & (UINT32_C(1) << i)) || kwnames[i] == NULL)
			continue;
		(void)buf_printf(out, "%s%s", sp ? " " : "", kwnames[i]);
		sp = true;
	}
	if (recent)
		(void)buf_printf(out, "%s\\Recent", sp ? " " : "");
	(void)buf_append(out, ")", 1);
}

/* --- strings ------------------------------------------------------------ */

/* A string as a literal ("" when empty); ~{n} when lit8. */
static int
imap_fetch_literal(struct buf *out, struct str s, bool lit8)
{
	if (s.len == 0)
		return buf_append(out, "\"\"", 2);
	if (buf_printf(out, "%s{%zu}\r\n", lit8 ? "~" : "", s.len) == -1)
		return -1;
	return buf_append(out, s.p, s.len);
}

static struct str
imap_fetch_partial(struct str s, const struct imap_fetch_att *att)
{
	if (!att->partial)
		return s;
	if (att->offset >= s.len)
		return str_make(s.p, 0);
	s.p += att->offset;
	s.len -= (size_t)att->offset;
	if (att->count < s.len)
		s.len = (size_t)att->count;
	return s;
}

/* A header field name as an astring: an atom when it can be. */
static int
imap_fetch_astring(struct buf *out, struct str s)
{
	size_t i;
	int r = 0;

	for (i = 0; i < s.len; i++)
		if (strchr("(){ %*\"\\]", s.p[i]) != NULL)
			break;
	if (i == s.len && s.len > 0)
		return buf_append(out, s.p, s.len);
	r |= buf_append(out, "\"", 1);
	for (i = 0; i < s.len; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\')
			r |= buf_append(out, "\\", 1);
		r |= buf_append(out, s.p + i, 1);
	}
	r |= buf_append(out, "\"", 1);
	return r;
}

/* "1.2.HEADER.FIELDS (A B)" as the client asked it. */
static int
imap_fetch_section_name(struct buf *out, const struct imap_section *sec)
{
	static const char *const texts[] = {
		[IMAP_SECTION_ALL] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};
	size_t i;
	int r = 0;

	r |= buf_append(out, "[", 1);
	for (i = 0; i < sec->nparts; i++)
		r |= buf_printf(out, "%s%" PRIu32, i > 0 ? "." : "",
		    sec->part[i]);
	if (sec->text != IMAP_SECTION_ALL)
		r |= buf_printf(out, "%s%s", sec->nparts > 0 ? "." : "",
		    texts[sec->text]);
	if (sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		r |= buf_append(out, " (", 2);
		for (i = 0; i < sec->nfields; i++) {
			if (i > 0)
				r |= buf_append(out, " ", 1);
			r |= imap_fetch_astring(out, sec->fields[i]);
		}
		r |= buf_append(out, ")", 1);
	}
	r |= buf_append(out, "]", 1);
	return r;
}

/* --- sections ----------------------------------------------------------- */

static bool
imap_fetch_field_wanted(const struct imap_section *sec, struct str name)
{
	size_t i;

	for (i = 0; i < sec->nfields; i++)
		if (str_eq_ci(name, sec->fields[i]))
			return true;
	return false;
}

/* HEADER.FIELDS (.NOT): the matching fields in message order, with
 * their folding, then the blank line. */
static int
imap_fetch_fields(struct buf *tmp, struct str block,
    const struct imap_section *sec)
{
	bool not = sec->text == IMAP_SECTION_HEADER_FIELDS_NOT;
	struct mime_header_field f;
	size_t i = 0;
	int r = 0;

	buf_reset(tmp);
	while (r == 0 && mime_header_next(block, &i, &f) == 1) {
		if (f.name.len == 0 ||
		    imap_fetch_field_wanted(sec, f.name) == not)
			continue;
		r |= buf_append(tmp, f.raw.p, f.raw.len);
		if (f.raw.p[f.raw.len - 1] != '\n')
			r |= buf_append(tmp, "\r\n", 2);
	}
	r |= buf_append(tmp, "\r\n", 2);
	return r;
}

/* The header or text of a message: the top one (by a scan), or the one
 * a message/rfc822 part holds. */
static int
imap_fetch_msg_text(struct imap_msg *md, const struct mime_part *msg,
    const struct imap_section *sec, struct buf *tmp,
    struct imap_fetch_range *rg)
{
	size_t hdr_off = 0, body_off, end = md->len;
	struct str hdr;

	if (msg == NULL) {
		body_off = imap_msg_header_end(md->data, md->len);
	} else {
		hdr_off = (size_t)msg->hdr_off;
		body_off = (size_t)msg->body_off;
		end = (size_t)msg->end_off;
	}
	hdr = str_make(md->data + hdr_off, body_off - hdr_off);
	rg->exists = true;
	switch (sec->text) {
	case IMAP_SECTION_HEADER:
		rg->bytes = hdr;
		return 0;
	case IMAP_SECTION_TEXT:
		rg->bytes = str_make(md->data + body_off, end - body_off);
		return 0;
	default:
		if (imap_fetch_fields(tmp, hdr, sec) == -1)
			return -1;
		rg->bytes = str_make(tmp->p, tmp->len);
		return 0;
	}
}

/* HEADER, HEADER.FIELDS (.NOT) of the top message: from the cached
 * header block, without the file when the index has it. */
static bool
imap_fetch_top_header_sec(const struct imap_section *sec)
{
	return sec->nparts == 0 && (sec->text == IMAP_SECTION_HEADER ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT);
}

static int
imap_fetch_top_header(struct imap_msg *md, const struct imap_section *sec,
    struct buf *tmp, struct imap_fetch_range *rg, const char **err_r)
{
	struct str hdr;
	int r;

	if ((r = imap_msg_top_header(md, &hdr, err_r)) != 0)
		return r;
	rg->exists = true;
	if (sec->text == IMAP_SECTION_HEADER) {
		rg->bytes = hdr;
		return 0;
	}
	if (imap_fetch_fields(tmp, hdr, sec) == -1)
		return imap_fetch_fail(err_r, "response too large",
		    MSTORE_ERROR);
	rg->bytes = str_make(tmp->p, tmp->len);
	return 0;
}

static int
imap_fetch_resolve(struct imap_msg *md, const struct imap_section *sec,
    struct buf *tmp, struct imap_fetch_range *rg, const char **err_r)
{
	const struct mime_part *part;
	int r;

	memset(rg, 0, sizeof(*rg));
	if (imap_fetch_top_header_sec(sec))
		return imap_fetch_top_header(md, sec, tmp, rg, err_r);
	if ((r = imap_msg_load(md, err_r)) != 0)
		return r;
	if (sec->nparts == 0 && sec->text == IMAP_SECTION_ALL) {
		rg->exists = true;
		rg->bytes = str_make(md->data, md->len);
		return 0;
	}
	if (sec->nparts == 0)
		return imap_fetch_msg_text(md, NULL, sec, tmp, rg) == 0 ? 0 :
		    imap_fetch_fail(err_r, "response too large", MSTORE_ERROR);
	if ((r = imap_msg_parse(md, err_r)) != 0)
		return r;
	if (mime_parse_section(md->mime, sec->part, sec->nparts, &part) == -1)
		return 0;
	rg->part = part;
	switch (sec->text) {
	case IMAP_SECTION_ALL:
		rg->exists = true;
		rg->bytes = imap_msg_slice(md, part->body_off, part->end_off);
		return 0;
	case IMAP_SECTION_MIME:
		rg->exists = true;
		rg->bytes = imap_msg_slice(md, part->hdr_off, part->body_off);
		return 0;
	default:
		if (!(part->flags & MIME_PART_MESSAGE) ||
		    part->children == NULL)
			return 0;
		return imap_fetch_msg_text(md, part->children, sec, tmp,
		    rg) == 0 ? 0 : imap_fetch_fail(err_r,
		    "response too large", MSTORE_ERROR);
	}
}

static int
imap_fetch_body_section(struct buf *out, struct imap_msg *md,
    const struct imap_fetch_att *att, const char **err_r)
{
	struct imap_fetch_range rg;
	struct buf tmp;
	struct str hdr;
	size_t cap;
	int r = 0;

	/* tmp holds at most the message (or the top header) + the blank
	 * line and a last line end: so its length is known first */
	if (imap_fetch_top_header_sec(&att->sec)) {
		if ((r = imap_msg_top_header(md, &hdr, err_r)) != 0)
			return r;
		cap = hdr.len;
	} else {
		if ((r = imap_msg_load(md, err_r)) != 0)
			return r;
		cap = md->len;
	}
	buf_init(&tmp, cap + 16);
	if ((r = imap_fetch_resolve(md, &att->sec, &tmp, &rg, err_r)) != 0)
		goto done;
	r |= buf_append(out, "BODY", 4);
	r |= imap_fetch_section_name(out, &att->sec);
	if (att->partial)
		r |= buf_printf(out, "<%" PRIu64 ">", att->offset);
	r |= buf_append(out, " ", 1);
	if (!rg.exists)
		r |= buf_append(out, "NIL", 3);
	else
		r |= imap_fetch_literal(out, imap_fetch_partial(rg.bytes, att),
		    false);
done:
	buf_free(&tmp);
	return r;
}

/* --- BINARY ------------------------------------------------------------- */

/* The encoding BINARY removes: none for the whole message and for
 * multipart and message parts (never encoded, RFC 2045 §6.4). */
static enum mime_cte
imap_fetch_cte(const struct mime_part *part)
{
	if (part == NULL || (part->flags & (MIME_PART_MULTIPART |
	    MIME_PART_MESSAGE)))
		return MIME_CTE_BINARY;
	return mime_decode_cte(part->encoding);
}

/* Decode in, keeping the decoded bytes [skip, skip + max) in keep (max
 * 0: keep nothing); *total_r counts every decoded byte. */
static int
imap_fetch_decode(struct str in, enum mime_cte cte, uint64_t skip,
    uint64_t max, struct buf *keep, uint64_t *total_r)
{
	struct mime_decode d;
	struct buf chunk;
	uint64_t total = 0, a, b;
	size_t off;
	int r = 0;

	buf_init(&chunk, IMAP_FETCH_CHUNK + MIME_DECODE_WS_MAX + 16);
	mime_decode_init(&d, cte);
	for (off = 0; r == 0 && off <= in.len; off += IMAP_FETCH_CHUNK) {
		size_t n = in.len - off < IMAP_FETCH_CHUNK ? in.len - off :
		    IMAP_FETCH_CHUNK;

		buf_reset(&chunk);
		if (n > 0)
			r |= mime_decode_feed(&d, &chunk, in.p + off, n);
		if (off + n == in.len)
			r |= mime_decode_finish(&d, &chunk);
		/* the part of [skip, skip + max) this chunk holds */
		a = skip > total ? skip - total : 0;
		b = skip + max > total ? skip + max - total : 0;
		if (a < chunk.len && b > a)
			r |= buf_append(keep, chunk.p + a,
			    (size_t)((b < chunk.len ? b : chunk.len) - a));
		total += chunk.len;
		if (off + n == in.len)
			break;
		if (max > 0 && total >= skip + max && total_r == NULL)
			break;
	}
	buf_free(&chunk);
	if (total_r != NULL)
		*total_r = total;
	return r;
}

static int
imap_fetch_binary(struct buf *out, struct imap_msg *md,
    const struct imap_fetch_att *att, const char **err_r)
{
	struct imap_fetch_range rg;
	struct buf dec;
	enum mime_cte cte;
	uint64_t skip = 0, max = UINT64_MAX / 2, total;
	bool size = att->item == IMAP_FETCH_BINARY_SIZE;
	int r = 0;

	if ((r = imap_fetch_resolve(md, &att->sec, NULL, &rg, err_r)) != 0)
		return r;
	cte = imap_fetch_cte(rg.part);
	if (rg.exists && cte == MIME_CTE_UNKNOWN)
		return imap_fetch_fail(err_r, "unknown transfer encoding",
		    IMAP_MSG_UNKNOWN_CTE);
	r |= buf_append_str(out, size ? "BINARY.SIZE" : "BINARY");
	r |= imap_fetch_section_name(out, &att->sec);
	r |= buf_append(out, " ", 1);
	if (!rg.exists)
		return buf_append_str(out, size ? "0" : "NIL") | r;
	if (att->partial) {
		skip = att->offset;
		max = att->count;
	}
	buf_init(&dec, rg.bytes.len + 16);
	if (size) {
		r |= imap_fetch_decode(rg.bytes, cte, 0, 0, &dec, &total);
		r |= buf_printf(out, "%" PRIu64, total);
	} else {
		r |= imap_fetch_decode(rg.bytes, cte, skip, max, &dec, NULL);
		r |= imap_fetch_literal(out, str_make(dec.p, dec.len),
		    dec.len > 0 && memchr(dec.p, '\0', dec.len) != NULL);
	}
	buf_free(&dec);
	return r;
}

/* --- the response ------------------------------------------------------- */

static int
imap_fetch_cached(struct buf *out, struct imap_msg *md, const char *name,
    int which, const char **err_r)
{
	struct str s;
	int r;

	if ((r = imap_msg_cache(md, err_r)) != 0)
		return r;
	s = which == 0 ? md->cache.envelope : which == 1 ?
	    md->cache.bodystructure : md->cache.body;
	if (buf_printf(out, "%s ", name) == -1 ||
	    buf_append(out, s.p, s.len) == -1)
		return -1;
	return 0;
}

/* RFC822, RFC822.HEADER, RFC822.TEXT: BODY[], [HEADER], [TEXT] under
 * their IMAP4rev1 names. */
static int
imap_fetch_rfc822(struct buf *out, struct imap_msg *md,
    enum imap_section_text text, const char *name, const char **err_r)
{
	struct imap_section sec;
	struct imap_fetch_range rg;
	int r;

	memset(&sec, 0, sizeof(sec));
	sec.text = text;
	if ((r = imap_fetch_resolve(md, &sec, NULL, &rg, err_r)) != 0)
		return r;
	if (buf_printf(out, "%s ", name) == -1)
		return -1;
	return imap_fetch_literal(out, rg.bytes, false);
}

static int
imap_fetch_item(struct buf *out, const struct imap_fetch_ctx *ctx,
    struct imap_msg *md, const struct imap_fetch_att *att,
    const char **err_r)
{
	const struct mstore_msg *m = md->m;

	switch (att->item) {
	case IMAP_FETCH_FLAGS:
		if (buf_append_str(out, "FLAGS ") == -1)
			return -1;
		imap_flags_write(out, m->flags, m->kw, m->recent && !ctx->rev2,
		    ctx->kwnames, ctx->nkw);
		return 0;
	case IMAP_FETCH_INTERNALDATE:
		return buf_append_str(out, "INTERNALDATE ") |
		    imap_msg_internaldate(out, m->internaldate);
	case IMAP_FETCH_RFC822_SIZE:
		return buf_printf(out, "RFC822.SIZE %" PRIu64, m->size);
	case IMAP_FETCH_UID:
		return buf_printf(out, "UID %" PRIu32, m->uid);
	case IMAP_FETCH_MODSEQ:
		return buf_printf(out, "MODSEQ (%" PRIu64 ")", m->modseq);
	case IMAP_FETCH_ENVELOPE:
		return imap_fetch_cached(out, md, "ENVELOPE", 0, err_r);
	case IMAP_FETCH_BODYSTRUCTURE:
		return imap_fetch_cached(out, md, "BODYSTRUCTURE", 1, err_r);
	case IMAP_FETCH_BODY:
		return imap_fetch_cached(out, md, "BODY", 2, err_r);
	case IMAP_FETCH_RFC822:
		return imap_fetch_rfc822(out, md, IMAP_SECTION_ALL, "RFC822",
		    err_r);
	case IMAP_FETCH_RFC822_HEADER:
		return imap_fetch_rfc822(out, md, IMAP_SECTION_HEADER,
		    "RFC822.HEADER", err_r);
	case IMAP_FETCH_RFC822_TEXT:
		return imap_fetch_rfc822(out, md, IMAP_SECTION_TEXT,
		    "RFC822.TEXT", err_r);
	case IMAP_FETCH_BODY_SECTION:
		return imap_fetch_body_section(out, md, att, err_r);
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		return imap_fetch_binary(out, md, att, err_r);
	}
	return imap_fetch_fail(err_r, "unknown FETCH item", MSTORE_ERROR);
}

static bool
imap_fetch_asked(const struct imap_fetch_ctx *ctx, enum imap_fetch_item it)
{
	for (size_t i = 0; i < ctx->n; i++)
		if (ctx->att[i].item == it)
			return true;
	return false;
}

int
imap_fetch_write(struct buf *out, const struct imap_fetch_ctx *ctx,
    struct imap_msg *md, const char **err_r)
{
	size_t mark = out->len, i;
	bool sp = false;
	int r = 0;

	if (md->m == NULL)
		return imap_fetch_fail(err_r, "no such message", MSTORE_ERROR);
	r = buf_printf(out, "* %" PRIu32 " FETCH (", md->seq);
	if (r == 0 && ctx->uid && !imap_fetch_asked(ctx, IMAP_FETCH_UID)) {
		r = buf_printf(out, "UID %" PRIu32, md->m->uid);
		sp = true;
	}
	/* what a failed append means; failures deeper say their own */
	(void)imap_fetch_fail(err_r, "response too large", 0);
	for (i = 0; r == 0 && i < ctx->n; i++) {
		if (sp && buf_append(out, " ", 1) == -1)
			r = -1;
		else
			r = imap_fetch_item(out, ctx, md, &ctx->att[i], err_r);
		sp = true;
	}
	if (r == 0 && ctx->modseq && !imap_fetch_asked(ctx, IMAP_FETCH_MODSEQ))
		r = buf_printf(out, "%sMODSEQ (%" PRIu64 ")", sp ? " " : "",
		    md->m->modseq);
	if (r == 0)
		r = buf_append(out, ")\r\n", 3);
	if (r != 0)
		out->len = mark;	/* nothing written */
	return r;
}
