/* mstore_name.c: names.  Folder names to Maildir++ directories and
 * back, Maildir file names (base, ",S=", ",U=", ":2," flags), and the
 * small files beside the messages (written whole, then renamed). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "imap/imap_parse.h"
#include "imap/imap_utf7.h"
#include "imap/mstore_int.h"

/* A '.' inside a component: mUTF-7 leaves it alone, Maildir++ cannot. */
#define MSTORE_DOT_ESC		"&AC4-"
#define MSTORE_DOT_ESC_LEN	5
#define MSTORE_DIRNAME_MAX	255

static atomic_ulong	mstore_tmp_counter;

bool
mstore_name_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* One UTF-8 component -> ".mUTF-7" with '.' escaped, appended to out. */
static int
mstore_name_enc_comp(struct str comp, struct buf *out)
{
	struct buf m;
	int rc = -1;

	buf_init(&m, MSTORE_DIRNAME_MAX * 2);
	if (imap_utf7_from_utf8(comp, &m) == -1 ||
	    buf_append(out, ".", 1) == -1)
		goto done;
	for (size_t i = 0; i < m.len; i++) {
		if (m.p[i] == '.') {
			if (buf_append(out, MSTORE_DOT_ESC,
			    MSTORE_DOT_ESC_LEN) == -1)
				goto done;
		} else if (buf_append(out, &m.p[i], 1) == -1)
			goto done;
	}
	rc = 0;
done:
	buf_free(&m);
	return rc;
}

/* Check name and give its canonical spelling (INBOX upper case) and its
 * directory.  EINVAL with a reason for names that could leave ROOT or
 * that Maildir++ cannot hold. */
int
mstore_name_dir(const struct mstore *st, const char *name, char *canon,
    size_t csize, char *dir, size_t dsize, const char **err_r)
{
	struct buf enc;
	const char *why, *p, *e;
	size_t len = strlen(name), depth = 0;
	int n;

	if (len > MSTORE_NAME_MAX)
		return mstore_failx(err_r, MSTORE_EINVAL, "mailbox name too "
		    "long");
	if (imap_utf7_mailbox_check(str_make(name, len), &why) == -1)
		return mstore_failx(err_r, MSTORE_EINVAL, "%s", why);
	if (len + 1 > csize)
		return mstore_failx(err_r, MSTORE_EINVAL, "name too long");
	memcpy(canon, name, len + 1);
	if (strncasecmp(canon, "INBOX", 5) == 0 &&
	    (canon[5] == '\0' || canon[5] == '/'))
		memcpy(canon, "INBOX", 5);
	if (strcmp(canon, "INBOX") == 0) {
		n = snprintf(dir, dsize, "%s", st->root);
		return n < 0 || (size_t)n >= dsize ? mstore_failx(err_r,
		    MSTORE_EINVAL, "path too long") : 0;
	}
	buf_init(&enc, MSTORE_DIRNAME_MAX);
	for (p = canon; *p != '\0'; p = *e == '\0' ? e : e + 1) {
		e = strchrnul(p, '/');
		if (*p == '.') {
			buf_free(&enc);
			return mstore_failx(err_r, MSTORE_EINVAL, "a name "
			    "component may not start with '.'");
		}
		if (++depth > MSTORE_DEPTH_MAX ||
		    mstore_name_enc_comp(str_make(p, (size_t)(e - p)),
		    &enc) == -1) {
			buf_free(&enc);
			return mstore_failx(err_r, MSTORE_EINVAL, "mailbox "
			    "name too long or too deep");
		}
	}
	n = snprintf(dir, dsize, "%s/%.*s", st->root, (int)enc.len, enc.p);
	buf_free(&enc);
	if (n < 0 || (size_t)n + 1 + MAILDIR_NAME_MAX + 8 >= dsize)
		return mstore_failx(err_r, MSTORE_EINVAL, "path too long");
	return 0;
}

/* One directory component (between dots) back to UTF-8. */
static int
mstore_name_dec_comp(struct str comp, struct buf *out)
{
	struct buf m;
	int rc = -1;
	size_t i = 0;

	if (comp.len == 0)
		return -1;
	buf_init(&m, MSTORE_DIRNAME_MAX);
	while (i < comp.len) {
		if (comp.len - i >= MSTORE_DOT_ESC_LEN && memcmp(comp.p + i,
		    MSTORE_DOT_ESC, MSTORE_DOT_ESC_LEN) == 0) {
			if (buf_append(&m, ".", 1) == -1)
				goto done;
			i += MSTORE_DOT_ESC_LEN;
		} else if (buf_append(&m, comp.p + i++, 1) == -1)
			goto done;
	}
	rc = imap_utf7_to_utf8(str_make(m.p, m.len), out);
done:
	buf_free(&m);
	return rc;
}

/* ".A.B" -> "A/B" into name[size]; -1 when the directory is not a
 * folder of ours (or not in the one spelling we write). */
int
mstore_name_from_dir(const char *dname, char *name, size_t size)
{
	struct buf out;
	const char *p, *e;
	int rc = -1;

	if (dname[0] != '.' || dname[1] == '.' || dname[1] == '\0')
		return -1;
	buf_init(&out, MSTORE_NAME_MAX);
	for (p = dname + 1; *p != '\0'; p = *e == '\0' ? e : e + 1) {
		e = strchrnul(p, '.');
		if (p != dname + 1 && buf_append(&out, "/", 1) == -1)
			goto done;
		if (mstore_name_dec_comp(str_make(p, (size_t)(e - p)),
		    &out) == -1)
			goto done;
		if (*e == '.' && e[1] == '\0')
			goto done;	/* trailing '.' */
	}
	if (out.len + 1 > size)
		goto done;
	memcpy(name, out.p, out.len);
	name[out.len] = '\0';
	rc = 0;
done:
	buf_free(&out);
	return rc;
}

/*
 * Message file names.
 */

static bool
mstore_parse_u64(const char *p, const char *e, uint64_t *v_r)
{
	uint64_t v = 0;

	if (p == e || e - p > 19)
		return false;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*v_r = v;
	return true;
}

void
mstore_fname_parse(const char *name, struct mstore_fname *f)
{
	const char *p, *e;
	uint64_t v;

	memset(f, 0, sizeof(*f));
	p = name + strcspn(name, ",:");
	f->base = str_make(name, (size_t)(p - name));
	while (*p == ',') {
		p++;
		e = p + strcspn(p, ",:");
		if (e - p > 2 && p[1] == '=' && p[0] == 'S' &&
		    mstore_parse_u64(p + 2, e, &v)) {
			f->has_size = true;
			f->size = v;
		} else if (e - p > 2 && p[1] == '=' && p[0] == 'U' &&
		    mstore_parse_u64(p + 2, e, &v) && v > 0 &&
		    v < UINT32_MAX) {
			f->has_uid = true;
			f->uid = (uint32_t)v;
		}
		p = e;
	}
	if (p[0] == ':' && p[1] == '2' && p[2] == ',') {
		f->has_info = true;
		f->info = str_cstr(p + 3);
	}
}

/* Does a name in new/ or cur/ look like a message (not a dot file, an
 * editor's temp file, ...)?  Maildir names start with the time. */
bool
mstore_fname_valid(const char *name)
{
	size_t blen = strcspn(name, ",:");

	return isdigit((unsigned char)name[0]) &&
	    memchr(name, '.', blen) != NULL && strlen(name) <= MAILDIR_NAME_MAX;
}

static const struct {
	char		letter;
	unsigned	flag;
} mstore_letters[] = {
	{ 'D', IMAP_FLAG_DRAFT }, { 'F', IMAP_FLAG_FLAGGED },
	{ 'R', IMAP_FLAG_ANSWERED }, { 'S', IMAP_FLAG_SEEN },
	{ 'T', IMAP_FLAG_DELETED },
};

void
mstore_fname_flags(const struct mstore_fname *f, unsigned *flags_r,
    uint32_t *kw_r)
{
	*flags_r = 0;
	*kw_r = 0;
	for (size_t i = 0; f->has_info && i < f->info.len; i++) {
		char c = f->info.p[i];

		if (c >= 'a' && c <= 'z')
			*kw_r |= 1U << (c - 'a');
		for (size_t j = 0; j < 5; j++)
			if (c == mstore_letters[j].letter)
				*flags_r |= mstore_letters[j].flag;
	}
}

static bool
mstore_letter_ours(char c)
{
	return (c >= 'a' && c <= 'z') || strchr("DFRST", c) != NULL;
}

/* The info letters: letters we don't know kept, ours set, ASCII order. */
static void
mstore_fname_info(const struct mstore_fname *f, unsigned flags, uint32_t kw,
    char *out)
{
	bool set[128] = { false };
	size_t o = 0;

	for (size_t i = 0; f->has_info && i < f->info.len; i++) {
		unsigned char c = (unsigned char)f->info.p[i];

		if (c > ' ' && c < 0x7f && c != ',' && c != ':' && c != '/' &&
		    !mstore_letter_ours((char)c))
			set[c] = true;
	}
	for (size_t j = 0; j < 5; j++)
		if (flags & mstore_letters[j].flag)
			set[(unsigned char)mstore_letters[j].letter] = true;
	for (int b = 0; b < MSTORE_KEYWORDS_MAX; b++)
		if (kw & (1U << b))
			set['a' + b] = true;
	for (int c = 0; c < 128; c++)
		if (set[c])
			out[o++] = (char)c;
	out[o] = '\0';
}

/* New name for the file old: the same base and fields, ",U=uid" (uid 0:
 * keep old's), ":2," and the flags (when set_flags; else old's). */
int
mstore_fname_build(char *out, size_t size, const char *old, uint32_t uid,
    bool set_flags, unsigned flags, uint32_t kw)
{
	struct mstore_fname f;
	char info[128 + 1];
	const char *p, *e;
	size_t o;
	int n;

	mstore_fname_parse(old, &f);
	if (uid == 0 && f.has_uid)
		uid = f.uid;
	if (f.base.len + 1 > size)
		return -1;
	memcpy(out, f.base.p, f.base.len);
	o = f.base.len;
	for (p = old + f.base.len; *p == ','; p = e) {
		e = p + 1 + strcspn(p + 1, ",:");
		if (p[1] == 'U' && p[2] == '=')
			continue;
		if ((size_t)(e - p) + o + 1 > size)
			return -1;
		memcpy(out + o, p, (size_t)(e - p));
		o += (size_t)(e - p);
	}
	if (set_flags)
		mstore_fname_info(&f, flags, kw, info);
	else
		snprintf(info, sizeof(info), "%.*s", (int)f.info.len,
		    f.info.p != NULL ? f.info.p : "");
	if (uid != 0)
		n = snprintf(out + o, size - o, ",U=%u:2,%s", uid, info);
	else
		n = snprintf(out + o, size - o, ":2,%s", info);
	if (n < 0 || (size_t)n >= size - o || o + (size_t)n > MAILDIR_NAME_MAX)
		return -1;
	return 0;
}

/*
 * Files.
 */

int
mstore_path(char *buf, size_t size, const char *dir, const char *sub,
    const char *name)
{
	int n;

	if (name != NULL)
		n = snprintf(buf, size, "%s/%s/%s", dir, sub, name);
	else
		n = snprintf(buf, size, "%s/%s", dir, sub);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A small file, whole, NUL-terminated; -1 with errno (EFBIG past max). */
int
mstore_file_read(const char *path, char **data_r, size_t *len_r, size_t max)
{
	struct stat sb;
	char *p;
	ssize_t r;
	size_t len = 0;
	int fd;

	*data_r = NULL;
	*len_r = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > max) {
		if (errno == 0 || (uint64_t)sb.st_size > max)
			errno = EFBIG;
		close(fd);
		return -1;
	}
	p = xmalloc((size_t)sb.st_size + 1);
	while (len < (size_t)sb.st_size) {
		r = read(fd, p + len, (size_t)sb.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	p[len] = '\0';
	*data_r = p;
	*len_r = len;
	return 0;
}

int
mstore_fsync_dir(const char *dir, const char *sub, const char **err_r)
{
	char path[MAILDIR_PATH_MAX];
	int fd;

	if (mstore_path(path, sizeof(path), dir, sub, NULL) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "%s/%s", dir, sub);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "open(%s)", path);
	if (fsync(fd) == -1) {
		mstore_fail(err_r, MSTORE_ERROR, "fsync(%s)", path);
		close(fd);
		return MSTORE_ERROR;
	}
	close(fd);
	return 0;
}

/* Replace path with data: a temp file beside it, fsync'ed, renamed over
 * it, the directory fsync'ed (these files are written rarely). */
int
mstore_file_write(const char *path, const char *data, size_t len,
    const char **err_r)
{
	char tmp[MAILDIR_PATH_MAX + 64], dir[MAILDIR_PATH_MAX];
	const char *slash;
	ssize_t w;
	size_t off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld.%lu", path, (long)getpid(),
	    atomic_fetch_add(&mstore_tmp_counter, 1));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		return mstore_fail(err_r, MSTORE_ERROR, "open(%s)", tmp);
	while (off < len) {
		w = write(fd, data + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fdatasync(fd) == -1)
		goto fail;
	close(fd);
	if (rename(tmp, path) == -1) {
		mstore_fail(err_r, MSTORE_ERROR, "rename(%s, %s)", tmp, path);
		unlink(tmp);
		return MSTORE_ERROR;
	}
	slash = strrchr(path, '/');
	if (slash == NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return mstore_fsync_dir(dir, ".", err_r);
fail:
	mstore_fail(err_r, MSTORE_ERROR, "write(%s)", tmp);
	close(fd);
	unlink(tmp);
	return MSTORE_ERROR;
}

/* rename() that never replaces a file (two messages are never one). */
int
mstore_rename_noreplace(int ofd, const char *from, int nfd, const char *to)
{
	if (renameat2(ofd, from, nfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	return renameat(ofd, from, nfd, to);
}
