/* queue_proc.h: the queue process: owns the outbound queue, schedules
 * deliveries, runs the SMTP client (mta.h) and DNS, sends bounces, and
 * answers the queue control socket (DATA_DIR/run/queue.sock). */
#ifndef FACTEUR_QUEUE_QUEUE_PROC_H
#define FACTEUR_QUEUE_QUEUE_PROC_H

struct conf;

/* In the child after fork; never returns. */
void	queue_proc_main(const struct conf *conf, int parent_fd)
	    __attribute__((noreturn));

#endif
