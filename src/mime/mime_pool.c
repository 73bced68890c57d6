/* mime_pool.c: capped bump allocator for one parsed message. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mime/mime_pool.h"

#define MIME_POOL_BLOCK	8192

struct mime_pool_block {
	struct mime_pool_block	*next;
	size_t			 size, used;
	alignas(max_align_t) unsigned char data[];
};

struct mime_pool {
	struct mime_pool_block	*blocks;
	size_t			 max;	/* bytes that may be handed out */
	size_t			 used;
};

struct mime_pool *
mime_pool_new(size_t max)
{
	struct mime_pool *pool = xcalloc(1, sizeof(*pool));

	pool->max = max;
	return pool;
}

void
mime_pool_free(struct mime_pool **pp)
{
	struct mime_pool_block *b, *next;

	if (*pp == NULL)
		return;
	for (b = (*pp)->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(*pp);
	*pp = NULL;
}

static struct mime_pool_block *
mime_pool_block_new(struct mime_pool *pool, size_t n)
{
	struct mime_pool_block *b;
	size_t size = n > MIME_POOL_BLOCK ? n : MIME_POOL_BLOCK;

	b = xmalloc(sizeof(*b) + size);
	b->size = size;
	b->used = 0;
	if (n > MIME_POOL_BLOCK && pool->blocks != NULL) {
		/* a big one: keep filling the current block */
		b->next = pool->blocks->next;
		pool->blocks->next = b;
	} else {
		b->next = pool->blocks;
		pool->blocks = b;
	}
	return b;
}

void *
mime_pool_alloc(struct mime_pool *pool, size_t n)
{
	struct mime_pool_block *b = pool->blocks;
	size_t align = alignof(max_align_t);
	void *p;

	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (n > pool->max - pool->used)
		return NULL;
	if (b == NULL || b->size - b->used < n)
		b = mime_pool_block_new(pool, n);
	p = b->data + b->used;
	b->used += n;
	pool->used += n;
	memset(p, 0, n);
	return p;
}

struct str
mime_pool_dup(struct mime_pool *pool, const void *p, size_t n)
{
	char *q;

	if (n == SIZE_MAX || (q = mime_pool_alloc(pool, n + 1)) == NULL)
		return (struct str){ NULL, 0 };
	if (n > 0)
		memcpy(q, p, n);
	q[n] = '\0';
	return (struct str){ q, n };
}

size_t
mime_pool_used(const struct mime_pool *pool)
{
	return pool->used;
}
