/* mem.h: allocation that never returns NULL (OOM is fatal). */
#ifndef FACTEUR_CORE_MEM_H
#define FACTEUR_CORE_MEM_H

#include <stddef.h>

void	*xmalloc(size_t n);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *p, size_t n);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
void	*xmemdup(const void *p, size_t n);

#endif
