/* buf.h: owned, capped byte buffers.  A length always travels with the
 * bytes; a buffer is never NUL-terminated unless buf_cstr() is asked. */
#ifndef FACTEUR_CORE_BUF_H
#define FACTEUR_CORE_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
	char	*p;
	size_t	 len;	/* bytes held */
	size_t	 cap;	/* bytes allocated */
	size_t	 max;	/* never grow past this: input from peers is capped */
};

void	 buf_init(struct buf *b, size_t max);
void	 buf_free(struct buf *b);
int	 buf_append(struct buf *b, const void *src, size_t n);
int	 buf_append_str(struct buf *b, const char *s);
int	 buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
int	 buf_reserve(struct buf *b, size_t n);
void	 buf_consume(struct buf *b, size_t n);
void	 buf_reset(struct buf *b);
const char *buf_cstr(struct buf *b);
void	 buf_shrink(struct buf *b);

#endif
