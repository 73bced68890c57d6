/* imap_utf7.h: mailbox names.  Modified UTF-7 (RFC 3501 §5.1.3), the
 * form IMAP4rev1 clients send, to and from UTF-8 (IMAP4rev2, RFC 9051
 * §5.1), strict in both directions; and the check that keeps a mailbox
 * name inside the user's directory.  Pure functions, no I/O. */
#ifndef FACTEUR_IMAP_IMAP_UTF7_H
#define FACTEUR_IMAP_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

/* Longest mailbox name in UTF-8 bytes, and its deepest hierarchy.  A
 * Maildir++ folder is one directory named after the whole path, so the
 * name must fit NAME_MAX (255) once the store has encoded it. */
#define IMAP_MAILBOX_NAME_MAX	200
#define IMAP_MAILBOX_DEPTH_MAX	16
/* The hierarchy separator we present. */
#define IMAP_MAILBOX_SEP	'/'

/* mUTF-7 -> UTF-8, appended to out (out may be NULL: only check).
 * Strict: only the form our encoder produces is accepted, so that a
 * name has one spelling.  Refused: bytes outside 0x20..0x7E, '&'
 * without '-', a shifted run that encodes a printable ASCII character
 * or nothing, two shifted runs in a row ("&AOk-&AOk-"), leftover bits
 * (six or more, or not zero), characters outside the base64 alphabet
 * ("A-Za-z0-9+,"), unpaired UTF-16 surrogates.  0, or -1 (invalid, or
 * out's cap reached; out then holds a prefix). */
int	imap_utf7_to_utf8(struct str in, struct buf *out);
/* UTF-8 -> mUTF-7, appended to out.  Refuses invalid UTF-8 (overlong
 * forms, surrogates, past U+10FFFF, truncated sequences).  0 or -1. */
int	imap_utf7_from_utf8(struct str in, struct buf *out);
/* Is in a valid (canonical) mUTF-7 string? */
bool	imap_utf7_valid(struct str in);
/* Is in well-formed UTF-8 (no overlong forms, surrogates, > U+10FFFF)? */
bool	imap_utf7_utf8_valid(struct str in);
/* Decode one UTF-8 character from s[0..len): its length (1-4) with
 * *cp_r set, or -1 when malformed or truncated. */
int	imap_utf7_utf8_next(const unsigned char *s, size_t len,
	    uint32_t *cp_r);

/* Check a decoded (UTF-8) mailbox name before it is used to find a
 * directory: 1..IMAP_MAILBOX_NAME_MAX bytes of valid UTF-8, no control
 * characters (C0, DEL, C1), no "%" or "*" (LIST wildcards), components
 * separated by '/' that are never empty (no leading, trailing or double
 * '/') nor "." or "..", at most IMAP_MAILBOX_DEPTH_MAX of them.  0, or
 * -1 with a static reason in *err_r. */
int	imap_utf7_mailbox_check(struct str name, const char **err_r);

#endif
