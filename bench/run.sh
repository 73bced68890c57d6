#!/bin/sh
# bench/run.sh: facteur vs Postfix, durable SMTP intake into Maildir, then
# facteur vs Dovecot, POP3 retrieval and deletion from a Maildir, then
# (bench/relay.sh) relaying, then (bench/imap.sh) facteur vs Dovecot, IMAP
# mixed workload and the memory of idle IDLE connections, side by side on
# 127.0.0.1, printed as ratios (doc/BENCH.md).
#
#   sh bench/run.sh [--smtp-only | --pop3-only | --imap-only]
#                   [--postfix-only | --dovecot-only | --facteur-only]
#
# Environment:
#   BENCH_SCALE=1        multiply every message count (e.g. 0.2 or 3)
#   BENCH_SIZES="5 100"  message payload sizes in KB (smtp-source -l)
#   BENCH_CONC="1 10 50" parallel SMTP sessions (smtp-source -s)
#   BENCH_REUSE=0        1: each session sends all its messages over one
#                        connection (smtp-source -d); 0: one per connection
#   BENCH_REPEAT=1       runs per size and concurrency (table: medians)
#   BENCH_FROM=u1@bench.test  envelope sender
#   BENCH_DIR=/var/tmp/facteur-bench  work dir (wiped at start; must be a
#                        fixed path: it is listed in /etc/postfix/main.cf)
#   BENCH_TIMEOUT=300    seconds allowed per run
#   BENCH_POP3_COUNT=10000  messages in the POP3 mailbox (x BENCH_SCALE)
#   BENCH_POP3_SIZE=5    POP3 message size in KB
#   BENCH_POP3_WINDOW="64 1"  POP3 commands outstanding at most, one table
#                        row each (1: lock-step, no pipelining)
#   BENCH_POP3_SYNC=1    0: no sync(2) after filling the mailbox
#   FACTEUR_BIN=build/facteur
#   BENCH_IMAP_*         the IMAP bench's settings (bench/imap.sh --help)
#
# Needs root (creates the users facteur, fbench and dbench, runs Postfix
# and Dovecot, installs dovecot-pop3d if missing).  Stops everything it
# started on exit, failure or interrupt.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
HELPER="$ROOT/bench/bench.py"
POP3="$ROOT/bench/pop3.py"
W=${BENCH_DIR:-/var/tmp/facteur-bench}
FACTEUR_BIN=${FACTEUR_BIN:-$ROOT/build/facteur}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SCALE=${BENCH_SCALE:-1}
SIZES=${BENCH_SIZES:-5 100}
CONCS=${BENCH_CONC:-1 10 50}
REUSE=${BENCH_REUSE:-0}
REPEAT=${BENCH_REPEAT:-1}
FROM=${BENCH_FROM:-u1@bench.test}
TIMEOUT=${BENCH_TIMEOUT:-300}
POP3_COUNT=${BENCH_POP3_COUNT:-10000}
POP3_SIZE=${BENCH_POP3_SIZE:-5}
POP3_WINDOWS=${BENCH_POP3_WINDOW:-64 1}
POP3_SYNC=${BENCH_POP3_SYNC:-1}
POP3_PASS=bench-pw	# the POP3 user's password on both servers
RESULTS_DIR="$ROOT/bench/results"
VUSER=fbench		# owner of Postfix's virtual mailboxes
DUSER=dbench		# owner of Dovecot's mailboxes

do_smtp=1 do_pop3=1 do_imap=1
do_postfix=1 do_dovecot=1 do_facteur=1
for arg in "$@"; do
	case "$arg" in
	--smtp-only) do_pop3=0 do_imap=0 ;;
	--pop3-only) do_smtp=0 do_imap=0 ;;
	--imap-only) do_smtp=0 do_pop3=0 ;;
	--postfix-only) do_facteur=0 do_dovecot=0 ;;
	--dovecot-only) do_facteur=0 do_postfix=0 ;;
	--facteur-only) do_postfix=0 do_dovecot=0 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" |
	    sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: sh bench/run.sh [--smtp-only|--pop3-only|--imap-only]" \
	    "[--postfix-only|--dovecot-only|--facteur-only]" >&2
	   exit 2 ;;
	esac
done
# what runs: Postfix only for SMTP, Dovecot only for POP3
run_postfix=$((do_smtp * do_postfix))
run_dovecot=$((do_pop3 * do_dovecot))
run_facteur=$(((do_smtp + do_pop3 > 0) * do_facteur))
# IMAP: bench/imap.sh runs its own Dovecot and facteur, after the rest
run_imap=$((do_imap * (do_dovecot + do_facteur > 0)))
imap_opts=""
[ "$do_dovecot" = 0 ] && imap_opts="--facteur-only"
[ "$do_facteur" = 0 ] && imap_opts="--dovecot-only"
if [ $((run_postfix + run_dovecot + run_facteur + run_imap)) -eq 0 ]; then
	echo "bench: nothing to run with these options: $*" >&2
	exit 2
fi

say() { echo "bench: $*"; }
die() { echo "bench: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (creates users, runs Postfix)"
case "$W" in
/?*) ;;
*) die "BENCH_DIR must be an absolute path: $W" ;;
esac
if [ $((do_smtp + do_pop3)) -eq 0 ]; then
	FACTEUR_BIN="$FACTEUR_BIN" exec sh "$ROOT/bench/imap.sh" $imap_opts
fi
if [ "$do_smtp" = 1 ] && [ ! -x "$SMTP_SOURCE" ]; then
	die "$SMTP_SOURCE missing (package postfix: sh scripts/deps.sh bench)"
fi
if [ "$run_facteur" = 1 ] && [ ! -x "$FACTEUR_BIN" ]; then
	die "$FACTEUR_BIN missing (make build)"
fi

# Dovecot's POP3 server: installed here, not by scripts/deps.sh (idempotent;
# the package may start the system's Dovecot, which we leave alone: the
# bench runs a private instance on its own port)
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
if [ "$run_dovecot" = 1 ] && ! installed dovecot-pop3d; then
	say "installing dovecot-pop3d"
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] ||
	    ! apt-get install -y -q dovecot-pop3d; then
		apt-get update -q || true
		apt-get install -y -q dovecot-pop3d ||
		    die "cannot install dovecot-pop3d"
	fi
fi

# the messages counts of a run: base counts (about 3-10 s each here) x SCALE
scaled() { # n
	awk -v n="$1" -v s="$SCALE" 'BEGIN { c = int(n * s + 0.5); if (c < 1) c = 1; print c }'
}
count_for() { # size_kb conc
	case "$1:$2" in
	5:1) n=1000 ;;
	5:*) n=3000 ;;
	*:1) n=500 ;;
	*) n=1000 ;;
	esac
	scaled "$n"
}

# --- one bench at a time, work dir ------------------------------------------
mkdir -p "$W"
exec 9>"$W.lock"
flock -n 9 || die "another bench holds $W.lock"

PCONF="$W/postfix/etc"
DCONF="$W/dovecot/dovecot.conf"
DPIDFILE="$W/dovecot/run/master.pid"
FPID=""
postfix_started=0

stop_postfix() {
	[ -f "$PCONF/main.cf" ] || return 0
	pidfile="$W/postfix/queue/pid/master.pid"
	postfix -c "$PCONF" status >/dev/null 2>&1 || return 0
	postfix -c "$PCONF" stop >/dev/null 2>&1 || true
	i=0
	while postfix -c "$PCONF" status >/dev/null 2>&1 && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if postfix -c "$PCONF" status >/dev/null 2>&1; then
		postfix -c "$PCONF" abort >/dev/null 2>&1 || true
		[ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
	fi
}

alive() { # pid: running and not a zombie (kill -0 succeeds on zombies)
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

stop_facteur() {
	[ -n "$FPID" ] || return 0
	if ! alive "$FPID"; then
		st=0
		wait "$FPID" 2>/dev/null || st=$?
		say "facteur (pid $FPID) had already exited, wait status $st" \
		    "(>128: killed by signal status-128)"
	else
		kill -TERM "$FPID" 2>/dev/null || true
		i=0
		while alive "$FPID" && [ $i -lt 150 ]; do
			sleep 0.1; i=$((i + 1))
		done
		if alive "$FPID"; then
			say "facteur did not stop on SIGTERM in 15 s: SIGKILL"
			kill -KILL "$FPID" 2>/dev/null || true
		fi
	fi
	wait "$FPID" 2>/dev/null || true
	FPID=""
}

# Dovecot: SIGTERM to the master (it stops its children), SIGKILL to the
# master and its children after 15 s.  Only a master started with our config.
stop_dovecot() {
	[ -f "$DPIDFILE" ] || return 0
	dpid=$(cat "$DPIDFILE" 2>/dev/null || true)
	case "$dpid" in
	''|*[!0-9]*) rm -f "$DPIDFILE"; return 0 ;;
	esac
	if ! tr '\0' ' ' 2>/dev/null <"/proc/$dpid/cmdline" |
	    grep -q -- "$DCONF"; then
		rm -f "$DPIDFILE"
		return 0
	fi
	kids=$(pgrep -P "$dpid" 2>/dev/null || true)
	kill -TERM "$dpid" 2>/dev/null || true
	i=0
	while alive "$dpid" && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if alive "$dpid"; then
		say "dovecot did not stop on SIGTERM in 15 s: SIGKILL"
		kids=$(pgrep -P "$dpid" 2>/dev/null || true)
		kill -KILL "$dpid" 2>/dev/null || true
	fi
	for k in $kids; do
		alive "$k" && kill -KILL "$k" 2>/dev/null || true
	done
	rm -f "$DPIDFILE"
}

cleanup() {
	rc=$?
	# bounded; a second signal must not cut it short
	trap - EXIT
	trap '' INT TERM
	stop_facteur
	stop_postfix
	stop_dovecot
	# the mail itself is not worth keeping; logs and configs are
	rm -rf "$W/postfix/vmail/bench.test" "$W/facteur/data/mail" \
	    "$W/dovecot/home" 2>/dev/null || true
	[ $rc -ne 0 ] && say "failed (exit $rc); logs under $W"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# leftovers of an interrupted run (a killed run.sh cannot clean up)
stop_postfix
stop_dovecot
if [ -f "$W/facteur.pid" ]; then
	old=$(cat "$W/facteur.pid")
	if [ -n "$old" ] && [ -r "/proc/$old/cmdline" ] &&
	    tr '\0' ' ' 2>/dev/null <"/proc/$old/cmdline" |
	    grep -q -- "$W/facteur/facteur.conf"; then
		kill -TERM "$old" 2>/dev/null || true
		sleep 1
		kill -KILL "$old" 2>/dev/null || true
	fi
	rm -f "$W/facteur.pid"
fi
rm -rf "$W/postfix" "$W/facteur" "$W/dovecot" "$W/results.jsonl" \
    "$W/pop3.jsonl" "$W/smtp-source.log"
chmod 755 "$W"

RESULTS="$W/results.jsonl"
PRESULTS="$W/pop3.jsonl"
: >"$RESULTS"
: >"$PRESULTS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

ensure_user() { # name
	id "$1" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$1" 2>/dev/null || id "$1" >/dev/null ||
	    die "cannot create user $1"
}

# --- Postfix ------------------------------------------------------------------
setup_postfix() {
	ensure_user "$VUSER"
	vuid=$(id -u "$VUSER")
	vgid=$(id -g "$VUSER")
	PPORT=$($PY "$HELPER" freeport)
	mkdir -p "$PCONF" "$W/postfix/queue" "$W/postfix/data" "$W/postfix/vmail"
	chown "$VUSER:$VUSER" "$W/postfix/vmail"
	chown postfix "$W/postfix/data"

	# the default instance's main.cf must list our config directory
	if [ ! -f /etc/postfix/main.cf ]; then
		cat >/etc/postfix/main.cf <<-EOF
		# Minimal default main.cf written by facteur's bench/run.sh: the
		# default instance is not used; private instances are listed here.
		compatibility_level = 3.6
		alternate_config_directories = $PCONF
		EOF
	else
		alt=$(postconf -c /etc/postfix -h alternate_config_directories 2>/dev/null || true)
		case " $(echo "$alt" | tr ',' ' ') " in
		*" $PCONF "*) ;;
		*) postconf -c /etc/postfix -e \
		    "alternate_config_directories = ${alt:+$alt, }$PCONF" ;;
		esac
	fi

	cat >"$PCONF/main.cf" <<-EOF
	# Private Postfix instance of facteur's bench (bench/run.sh).
	# Default durability: the queue file is fsync'ed before 250 and the
	# virtual(8) agent fsyncs each Maildir file before renaming it into new/.
	compatibility_level = 3.6
	queue_directory = $W/postfix/queue
	data_directory = $W/postfix/data
	mail_owner = postfix
	setgid_group = postdrop
	myhostname = postfix.bench.local
	mydomain = bench.local
	myorigin = \$myhostname
	mydestination =
	relay_domains =
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	alias_maps =
	alias_database =
	biff = no
	append_dot_mydomain = no
	smtpd_banner = \$myhostname ESMTP
	virtual_mailbox_domains = bench.test
	virtual_mailbox_base = $W/postfix/vmail
	virtual_mailbox_maps = hash:$PCONF/vmailbox
	virtual_uid_maps = static:$vuid
	virtual_gid_maps = static:$vgid
	virtual_minimum_uid = $vuid
	maillog_file = $W/postfix/maillog
	maillog_file_prefixes = $W/postfix
	default_process_limit = 200
	EOF
	# no chroot anywhere; smtpd on 127.0.0.1:PORT only
	cat >"$PCONF/master.cf" <<-EOF
	127.0.0.1:$PPORT inet n - n - - smtpd
	pickup    unix  n - n 60 1 pickup
	cleanup   unix  n - n - 0 cleanup
	qmgr      unix  n - n 300 1 qmgr
	tlsmgr    unix  - - n 1000? 1 tlsmgr
	rewrite   unix  - - n - - trivial-rewrite
	bounce    unix  - - n - 0 bounce
	defer     unix  - - n - 0 bounce
	trace     unix  - - n - 0 bounce
	verify    unix  - - n - 1 verify
	flush     unix  n - n 1000? 0 flush
	proxymap  unix  - - n - - proxymap
	proxywrite unix - - n - 1 proxymap
	smtp      unix  - - n - - smtp
	relay     unix  - - n - - smtp
	showq     unix  n - n - - showq
	error     unix  - - n - - error
	retry     unix  - - n - - error
	discard   unix  - - n - - discard
	local     unix  - n n - - local
	virtual   unix  - n n - - virtual
	lmtp      unix  - - n - - lmtp
	anvil     unix  - - n - 1 anvil
	scache    unix  - - n - 1 scache
	postlog   unix-dgram n - n - 1 postlogd
	EOF
	echo "u1@bench.test bench.test/u1/" >"$PCONF/vmailbox"
	postmap -c "$PCONF" "hash:$PCONF/vmailbox"

	postfix -c "$PCONF" check >"$W/postfix/check.log" 2>&1 || {
		cat "$W/postfix/check.log" >&2; die "postfix check failed"; }
	postfix -c "$PCONF" start >"$W/postfix/start.log" 2>&1 || {
		cat "$W/postfix/start.log" >&2; die "postfix start failed"; }
	postfix_started=1
	$PY "$HELPER" waitsmtp "$PPORT" 30 ||
	    { tail -20 "$W/postfix/maillog" >&2 || true; die "Postfix did not come up"; }
	PMAILDIR="$W/postfix/vmail/bench.test/u1"
	say "postfix $(postconf -d -h mail_version) on 127.0.0.1:$PPORT (conf $PCONF)"
}

# --- facteur ------------------------------------------------------------------
setup_facteur() {
	ensure_user facteur
	FPORT=$($PY "$HELPER" freeport)
	FDIR="$W/facteur"
	FCONF="$FDIR/facteur.conf"
	mkdir -p "$FDIR/data"
	chmod 755 "$FDIR"
	chown facteur: "$FDIR/data"
	FPOP3=""
	[ "$do_pop3" = 1 ] && FPOP3=$($PY "$HELPER" freeport)
	{
		echo "# facteur's side of the bench (bench/run.sh)"
		echo "hostname bench.test"
		echo "data_dir $FDIR/data"
		echo "user facteur"
		[ "$do_smtp" = 1 ] && echo "listen smtp 127.0.0.1:$FPORT"
		if [ "$do_pop3" = 1 ]; then
			echo "listen pop3 127.0.0.1:$FPOP3"
			echo "# USER/PASS without TLS from 127.0.0.1, as Dovecot's"
			echo "# disable_plaintext_auth = no"
			echo "auth_plaintext_loopback yes"
		fi
		echo "smtp_max_messages_per_connection 100000"
		echo "max_connections_per_ip 1000"
		echo "log_level info"
	} >"$FCONF"
	fcli() { "$FACTEUR_BIN" -c "$FCONF" "$@"; }
	fcli domain add bench.test >"$FDIR/cli.log" 2>&1 ||
	    { cat "$FDIR/cli.log" >&2; die "facteur domain add failed"; }
	printf 'pw\n' | fcli user add u1@bench.test >>"$FDIR/cli.log" 2>&1 ||
	    { cat "$FDIR/cli.log" >&2; die "facteur user add failed"; }
	if [ "$do_pop3" = 1 ]; then
		printf '%s\n' "$POP3_PASS" | fcli user add p1@bench.test \
		    >>"$FDIR/cli.log" 2>&1 ||
		    { cat "$FDIR/cli.log" >&2; die "facteur user add failed"; }
	fi
	"$FACTEUR_BIN" -c "$FCONF" serve </dev/null >"$FDIR/facteur.log" 2>&1 &
	FPID=$!
	echo "$FPID" >"$W/facteur.pid"
	if [ "$do_smtp" = 1 ]; then
		set -- "$HELPER" waitsmtp "$FPORT"
	else
		set -- "$POP3" waitpop3 "$FPOP3"
	fi
	if ! $PY "$@" 30; then
		tail -20 "$FDIR/facteur.log" >&2 || true
		die "facteur did not come up (log $FDIR/facteur.log)"
	fi
	FMAILDIR="$FDIR/data/mail/bench.test/u1"
	FPOP3MAILDIR="$FDIR/data/mail/bench.test/p1"
	on=""
	[ "$do_smtp" = 1 ] && on="smtp 127.0.0.1:$FPORT"
	[ "$do_pop3" = 1 ] && on="${on:+$on, }pop3 127.0.0.1:$FPOP3"
	say "facteur ($FACTEUR_BIN) on $on (conf $FCONF), pid $FPID"
}

# --- Dovecot ------------------------------------------------------------------
setup_dovecot() {
	ensure_user "$DUSER"
	duid=$(id -u "$DUSER")
	dgid=$(id -g "$DUSER")
	DPORT=$($PY "$HELPER" freeport)
	DDIR="$W/dovecot"
	mkdir -p "$DDIR/home/bench.test/p1"
	chmod 755 "$DDIR" "$DDIR/home" "$DDIR/home/bench.test"
	chown "$DUSER:$DUSER" "$DDIR/home/bench.test/p1"
	echo "p1@bench.test:{PLAIN}$POP3_PASS" >"$DDIR/passwd"
	# read by Dovecot's auth process, which runs as dovecot
	chgrp dovecot "$DDIR/passwd" 2>/dev/null && chmod 640 "$DDIR/passwd" ||
	    chmod 644 "$DDIR/passwd"
	cat >"$DCONF" <<-EOF
	# Private Dovecot instance of facteur's bench (bench/run.sh), POP3 only.
	# Everything not set here is Dovecot's default (mail_fsync = optimized,
	# one pop3-login process per connection, pop3_uidl_format, ...).
	instance_name = facteur-bench
	base_dir = $DDIR/run
	state_dir = $DDIR/state
	protocols = pop3
	listen = 127.0.0.1
	ssl = no
	disable_plaintext_auth = no
	auth_mechanisms = plain
	log_path = $DDIR/dovecot.log
	first_valid_uid = $duid
	last_valid_uid = $duid
	mail_location = maildir:$DDIR/home/%d/%n/Maildir
	passdb {
	  driver = passwd-file
	  args = scheme=PLAIN username_format=%u $DDIR/passwd
	}
	userdb {
	  driver = static
	  args = uid=$duid gid=$dgid home=$DDIR/home/%d/%n
	}
	service pop3-login {
	  inet_listener pop3 {
	    address = 127.0.0.1
	    port = $DPORT
	  }
	  inet_listener pop3s {
	    port = 0
	  }
	}
	EOF
	doveconf -c "$DCONF" -n >"$DDIR/doveconf.log" 2>&1 ||
	    { cat "$DDIR/doveconf.log" >&2; die "dovecot config check failed"; }
	dovecot -c "$DCONF" >"$DDIR/start.log" 2>&1 ||
	    { cat "$DDIR/start.log" >&2; die "dovecot start failed"; }
	$PY "$POP3" waitpop3 "$DPORT" 30 ||
	    { tail -20 "$DDIR/dovecot.log" >&2 || true; die "Dovecot did not come up"; }
	DMAILDIR="$DDIR/home/bench.test/p1/Maildir"
	say "dovecot $(dovecot --version | cut -d' ' -f1) on 127.0.0.1:$DPORT (conf $DCONF)"
}

[ "$run_postfix" = 1 ] && setup_postfix
[ "$run_dovecot" = 1 ] && setup_dovecot
[ "$run_facteur" = 1 ] && setup_facteur

reuse_flag=""
[ "$REUSE" = 1 ] && reuse_flag="--reuse"
fails=0

run_one() { # server size_kb conc count [--warmup]
	if [ "$1" = postfix ]; then
		set -- "$@" --port "$PPORT" --pid "@$W/postfix/queue/pid/master.pid" \
		    --maildir "$PMAILDIR" --queue-dir "$W/postfix/queue"
	else
		set -- "$@" --port "$FPORT" --pid "$FPID" --maildir "$FMAILDIR"
		alive "$FPID" ||
		    { tail -5 "$FDIR/facteur.log" >&2; die "facteur is not running"; }
	fi
	name=$1 size=$2 conc=$3 n=$4
	shift 4
	if ! $PY "$HELPER" run --name "$name" --size $((size * 1024)) \
	    --conc "$conc" --count "$n" $reuse_flag --sender "$FROM" \
	    --smtp-source "$SMTP_SOURCE" --timeout "$TIMEOUT" \
	    --log "$W/smtp-source.log" --out "$RESULTS" "$@"; then
		fails=$((fails + 1))
		if [ "$name" = postfix ]; then
			tail -5 "$W/postfix/maillog" 2>/dev/null | sed 's/^/  maillog: /'
		else
			tail -5 "$FDIR/facteur.log" 2>/dev/null | sed 's/^/  facteur.log: /'
		fi
		tail -3 "$W/smtp-source.log" 2>/dev/null | sed 's/^/  smtp-source: /'
	fi
}

servers=""
[ "$run_postfix" = 1 ] && servers="$servers postfix"
[ "$do_smtp" = 1 ] && [ "$run_facteur" = 1 ] && servers="$servers facteur"

# warm-up (not recorded): processes spawned, caches filled, Maildirs created
for s in $servers; do
	run_one "$s" 5 10 200 --warmup
done

# the runs, each size and concurrency for one server then the other
for size in $SIZES; do
	for conc in $CONCS; do
		n=$(count_for "$size" "$conc")
		r=0
		while [ $r -lt "$REPEAT" ]; do
			for s in $servers; do
				run_one "$s" "$size" "$conc" "$n"
			done
			r=$((r + 1))
		done
	done
done

# --- POP3 -------------------------------------------------------------------
pop3_one() { # server window count [--warmup]
	if [ "$1" = dovecot ]; then
		set -- "$@" --port "$DPORT" --pid "@$DPIDFILE" \
		    --maildir "$DMAILDIR" --owner "$DUSER"
	else
		set -- "$@" --port "$FPOP3" --pid "$FPID" \
		    --maildir "$FPOP3MAILDIR" --owner facteur
		alive "$FPID" ||
		    { tail -5 "$FDIR/facteur.log" >&2; die "facteur is not running"; }
	fi
	name=$1 window=$2 n=$3
	shift 3
	[ "$POP3_SYNC" = 0 ] && set -- "$@" --no-sync
	if ! $PY "$POP3" run --name "$name" --size $((POP3_SIZE * 1024)) \
	    --count "$n" --window "$window" --user p1@bench.test \
	    --password "$POP3_PASS" --timeout "$TIMEOUT" --out "$PRESULTS" "$@"
	then
		fails=$((fails + 1))
		if [ "$name" = dovecot ]; then
			tail -5 "$DDIR/dovecot.log" 2>/dev/null | sed 's/^/  dovecot.log: /'
		else
			tail -5 "$FDIR/facteur.log" 2>/dev/null | sed 's/^/  facteur.log: /'
		fi
	fi
}

pservers=""
[ "$run_dovecot" = 1 ] && pservers="$pservers dovecot"
[ "$do_pop3" = 1 ] && [ "$run_facteur" = 1 ] && pservers="$pservers facteur"
pn=$(scaled "$POP3_COUNT")
for s in $pservers; do
	pop3_one "$s" 64 200 --warmup
done
for window in $POP3_WINDOWS; do
	r=0
	while [ $r -lt "$REPEAT" ]; do
		for s in $pservers; do
			pop3_one "$s" "$window" "$pn"
		done
		r=$((r + 1))
	done
done

# --- the table ------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
[ -f "$RESULTS_DIR/.gitignore" ] || printf '*\n!.gitignore\n' >"$RESULTS_DIR/.gitignore"
{
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -r), $(nproc) cores," \
	    "facteur $FACTEUR_BIN (git HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none))"
	echo "cpu = user+system seconds of the server's processes during the run"
	echo "load average at start: $LOAD0 (other work on the machine skews the figures)"
	if [ "$do_smtp" = 1 ]; then
		echo
		echo "facteur vs Postfix: SMTP intake into Maildir, end to end (accepted + in new/)"
		echo "postfix $(postconf -d -h mail_version 2>/dev/null)"
		if [ "$REUSE" = 1 ]; then
			echo "smtp-source -d: each session sends its messages over one connection"
		else
			echo "one message per SMTP connection; BENCH_SCALE=$SCALE"
		fi
		echo
		$PY "$HELPER" table "$RESULTS"
	fi
	if [ "$do_pop3" = 1 ]; then
		echo
		echo "facteur vs Dovecot: POP3, one session: USER/PASS, LIST, UIDL," \
		    "RETR + DELE every message, QUIT (deletions done)"
		echo "dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1);" \
		    "$pn messages of $POP3_SIZE KB in Maildir new/, same files" \
		    "for both; plaintext on 127.0.0.1"
		if [ "$POP3_SYNC" = 0 ]; then
			echo "BENCH_POP3_SYNC=0: the messages were still dirty in" \
			    "the page cache (no sync after filling)"
		fi
		echo "window = commands in flight (1: lock-step, no pipelining);" \
		    "client cpu = the Python client's, dovecot/facteur run"
		echo
		$PY "$POP3" table "$PRESULTS"
	fi
} >"$RESULTS_DIR/latest.txt"
cp "$RESULTS" "$RESULTS_DIR/latest.jsonl"
cp "$PRESULTS" "$RESULTS_DIR/latest-pop3.jsonl"
echo
cat "$RESULTS_DIR/latest.txt"
# --- relaying: bench/relay.sh runs its own Postfix, facteur and smtp-sink --
if [ "$do_smtp" = 1 ] && [ "${BENCH_RELAY:-1}" = 1 ]; then
	sh "$ROOT/bench/relay.sh" $([ "$do_facteur" = 0 ] && echo --postfix-only) \
	    $([ "$do_postfix" = 0 ] && echo --facteur-only) ||
	    fails=$((fails + 1))
fi
# --- IMAP: bench/imap.sh runs its own Dovecot and facteur ----------------
if [ "$run_imap" = 1 ]; then
	# ours are idle by now; stopped so that they take no CPU or memory
	stop_facteur
	stop_postfix
	stop_dovecot
	FACTEUR_BIN="$FACTEUR_BIN" sh "$ROOT/bench/imap.sh" $imap_opts ||
	    fails=$((fails + 1))
fi

[ "$fails" -eq 0 ] || die "$fails run(s) failed"
