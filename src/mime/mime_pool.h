/* mime_pool.h: the memory of one parsed message.  A bump allocator
 * with a hard cap: allocation past the cap returns NULL and the caller
 * drops what it wanted to keep (a hostile message costs at most the
 * cap).  Everything goes at once with mime_pool_free(). */
#ifndef FACTEUR_MIME_MIME_POOL_H
#define FACTEUR_MIME_MIME_POOL_H

#include <stddef.h>

#include "core/str.h"

struct mime_pool;

struct mime_pool *mime_pool_new(size_t max);
void	 mime_pool_free(struct mime_pool **pp);
/* Zeroed memory, or NULL past the cap. */
void	*mime_pool_alloc(struct mime_pool *pool, size_t n);
/* A copy of the bytes (a NUL follows them, not counted), or a struct
 * str with p == NULL past the cap. */
struct str mime_pool_dup(struct mime_pool *pool, const void *p, size_t n);
size_t	 mime_pool_used(const struct mime_pool *pool);

#endif
