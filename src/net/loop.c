/* loop.c: libevent glue. */
#include <event2/event.h>

#include "core/log.h"
#include "net/loop.h"

static void
loop_log(int severity, const char *msg)
{
	if (severity == EVENT_LOG_DEBUG)
		return;
	log_warnx("libevent: %s", msg);
}

void
loop_init(void)
{
	event_set_log_callback(loop_log);
}
