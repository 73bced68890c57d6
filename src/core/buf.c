/* buf.c: owned, capped byte buffers. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

void
buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Make room for n more bytes; -1 when that would pass the cap. */
int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, cap;

	if (n > b->max - b->len)
		return -1;
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	/* +1 leaves room for buf_cstr()'s terminator */
	if (cap > b->max)
		cap = b->max;
	b->p = xrealloc(b->p, cap + 1);
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *src, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n == 0)
		return 0;
	/* the allocation always keeps a byte past cap for the NUL */
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Drop n bytes from the front. */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

/* A NUL-terminated view for syscall and printf edges. */
const char *
buf_cstr(struct buf *b)
{
	if (b->p == NULL) {
		b->p = xmalloc(1);
		b->cap = 0;
	}
	b->p[b->len] = '\0';
	return b->p;
}

/* Give memory back when a long-lived idle buffer is empty. */
void
buf_shrink(struct buf *b)
{
	if (b->len == 0 && b->cap > 4096) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}
