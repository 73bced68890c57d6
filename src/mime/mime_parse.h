/* mime_parse.h: a streaming MIME parser.  It is fed a message in chunks
 * of any size (never the whole message at once) and builds the part tree
 * that IMAP needs: byte offsets of every part's header and body, line
 * counts, and the Content-* fields; for every message (the root and each
 * message/rfc822 or message/global part) the raw envelope fields.
 *
 * It never fails on content: broken MIME gives a tree that is still
 * well formed (doc/MIME.md says how each kind of damage is read), and
 * the result depends only on the bytes, never on how they were cut.
 * Everything it keeps is bounded by the limits below. */
#ifndef FACTEUR_MIME_MIME_PARSE_H
#define FACTEUR_MIME_MIME_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* Parts in one message; past it no part begins and no boundary is
 * looked for: the rest is body of the part being read. */
#define MIME_PARTS_MAX		10000
/* Nesting; a multipart or message part deeper than this is a leaf,
 * written as text/plain. */
#define MIME_DEPTH_MAX		64
/* Bytes kept of one header field (name, value, folding); the rest of a
 * longer field is dropped and the part is flagged. */
#define MIME_FIELD_MAX		(64 * 1024)
/* Longest field name that can be one we keep. */
#define MIME_NAME_MAX		64
/* Longest boundary (RFC 2046 says 70); longer ones are not boundaries. */
#define MIME_BOUNDARY_MAX	200
/* Transport padding allowed after a boundary on its line. */
#define MIME_PADDING_MAX	64
/* Parameters kept per Content-Type or Content-Disposition. */
#define MIME_PARAMS_MAX		64
/* Languages kept per Content-Language. */
#define MIME_LANGS_MAX		32
/* Memory for the parts and the values kept, per message. */
#define MIME_STORE_MAX		(16 * 1024 * 1024)

/* part flags */
#define MIME_PART_MULTIPART	0x0001	/* has children, from boundaries */
#define MIME_PART_MESSAGE	0x0002	/* message/rfc822|global: 1 child */
#define MIME_PART_TEXT		0x0004	/* a text type: BODYSTRUCTURE lines */
#define MIME_PART_DEGRADED	0x0008	/* container read as text/plain */
#define MIME_PART_TRUNCATED	0x0010	/* a header field was cut or lost */
#define MIME_PART_NO_EOH	0x0020	/* header ended without blank line */
#define MIME_PART_OPEN	0x0040	/* multipart never saw its close */
#define MIME_PART_DEFAULT_MSG	0x0080	/* no Content-Type, in a digest */
#define MIME_PART_ACTIVE	0x0100	/* internal: boundary is live */
#define MIME_PART_8BIT_HDR	0x0200	/* 8-bit bytes in its header */

/* message flags */
#define MIME_MSG_PARTS_CAPPED	0x01	/* MIME_PARTS_MAX or store hit */
#define MIME_MSG_STORE_CAPPED	0x02	/* a value was dropped: no memory */
#define MIME_MSG_DEPTH_CAPPED	0x04	/* MIME_DEPTH_MAX was hit */

/* Envelope fields kept for each message (RFC 9051 §7.5.2 order). */
enum mime_env_field {
	MIME_ENV_DATE,
	MIME_ENV_SUBJECT,
	MIME_ENV_FROM,
	MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO,
	MIME_ENV_TO,
	MIME_ENV_CC,
	MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO,
	MIME_ENV_MESSAGE_ID,
	MIME_ENV_COUNT
};

/* A parameter.  name is as written (less the RFC 2231 section suffix:
 * continuations are merged Dovecot's way, "name*" with the value still
 * encoded, see mime_2047_param()); value is unquoted. */
struct mime_param {
	struct str	 name;
	struct str	 value;
};

/* Values are unfolded, leading white space dropped; p == NULL means the
 * field is absent.  A field that appears twice: the first one counts. */
struct mime_part {
	struct mime_part	*parent;
	struct mime_part	*children;	/* first child */
	struct mime_part	*next;		/* next sibling */
	uint32_t		 idx;		/* pre-order number, root 0 */
	uint32_t		 depth;		/* root 0 */
	uint32_t		 nchildren;
	uint32_t		 flags;		/* MIME_PART_* */

	/* Offsets in the message: the header is [hdr_off, body_off), the
	 * body [body_off, end_off).  The line break before a boundary
	 * belongs to the boundary (RFC 2046), not to the body. */
	uint64_t		 hdr_off, body_off, end_off;
	uint64_t		 hdr_lines, body_lines;	/* LF counts */

	struct str		 type, subtype;	/* see mime_parse_type */
	struct mime_param	*params;
	uint32_t		 nparams;
	struct str		 disposition;
	struct mime_param	*disp_params;
	uint32_t		 ndisp_params;
	struct str		*langs;
	uint32_t		 nlangs;
	struct str		 id, description, encoding, md5, location;
	struct str		 boundary;	/* multipart only */

	/* Root and the child of each message part: raw header values. */
	struct str		*env;		/* [MIME_ENV_COUNT] or NULL */

	/* parser state */
	uint64_t		 lf_hdr, lf_body;
	uint32_t		 seen;		/* fields met, 1 << kind */
	struct mime_part	*last;		/* last child */
};

struct mime_message {
	struct mime_part	*root;
	uint64_t		 size;		/* bytes fed */
	uint64_t		 lines;		/* LFs fed */
	uint32_t		 nparts;
	uint32_t		 flags;		/* MIME_MSG_* */
	struct mime_pool	*pool;
};

struct mime_parser;

struct mime_parser *mime_parse_new(void);
/* Feed the next bytes.  Always takes all of them; never fails on
 * content.  -1 only when called after mime_parse_finish(). */
int	 mime_parse_feed(struct mime_parser *p, const void *data,
	    size_t len, const char **err_r);
/* End of input: closes every open part and hands over the tree (which
 * the caller frees with mime_parse_message_free()). */
int	 mime_parse_finish(struct mime_parser *p, struct mime_message **msg_r,
	    const char **err_r);
void	 mime_parse_free(struct mime_parser **pp);
void	 mime_parse_message_free(struct mime_message **mp);

/* One-shot: the whole message in memory (tests, small messages). */
struct mime_message *mime_parse_buffer(const void *data, size_t len);

/* Effective type and subtype (text/plain when absent or unusable,
 * message/rfc822 in a digest). */
void	 mime_parse_type(const struct mime_part *part, struct str *type_r,
	    struct str *subtype_r);
/* A Content-Type parameter by name (ASCII case-insensitive), or a
 * struct str with p == NULL. */
struct str mime_parse_param(const struct mime_part *part, const char *name);
/* The part an IMAP section number (RFC 9051 §6.4.5, "1.2.3") names:
 * n numbers; 0 numbers give the root.  -1 when there is no such part.
 * For a message part, its numbers continue inside the message it
 * holds; a non-multipart message has exactly one part, "1", which is
 * the message part itself. */
int	 mime_parse_section(const struct mime_message *msg,
	    const uint32_t *nums, size_t n, const struct mime_part **part_r);

#endif
