/* queue_sum.h: the checksum in a queue file's header line (doc/QUEUE.md,
 * "Files"): 64 bits over the rest of the file, to find a file torn by a
 * crash of the machine, or a bad block.  Not cryptographic.  The sum of
 * some bytes does not depend on how they are cut into updates. */
#ifndef FACTEUR_QUEUE_QUEUE_SUM_H
#define FACTEUR_QUEUE_QUEUE_SUM_H

#include <stddef.h>
#include <stdint.h>

struct queue_sum {
	uint64_t	v[4];
	unsigned char	buf[32];
	size_t		nbuf;
	uint64_t	total;
};

void		queue_sum_init(struct queue_sum *);
void		queue_sum_update(struct queue_sum *, const void *, size_t);
uint64_t	queue_sum_final(const struct queue_sum *);
/* The sum in a header line: of the block past the line, and of the
 * message, summed apart (the message is summed first, as it arrives). */
uint64_t	queue_sum_join(uint64_t block, uint64_t msg);

#endif
