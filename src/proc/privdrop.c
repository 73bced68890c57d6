/* privdrop.c: leaving root. */
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/id.h"
#include "core/log.h"
#include "proc/proc.h"

void
proc_run_ids(const char *user, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw;

	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("user %s does not exist (create it with: useradd "
		    "--system --no-create-home %s)", user, user);
	if (pw->pw_uid == 0)
		fatalx("user %s is root: pick an unprivileged user",
		    user);
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
}

void
proc_drop_privileges(const char *user)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return;
	proc_run_ids(user, &uid, &gid);
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("dropping privileges to %s", user);
	if (setuid(0) != -1)
		fatalx("could regain root after dropping privileges");
	/* dumps of a process that held keys stay off */
	prctl(PR_SET_DUMPABLE, 0);
}

void
proc_child_init(const char *role)
{
	id_reset();
	log_set_role(role);
	signal(SIGPIPE, SIG_IGN);
	/* die with the parent: a lone worker must not keep serving */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}
