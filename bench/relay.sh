#!/bin/sh
# bench/relay.sh: facteur vs Postfix, relaying: both take the same
# smtp-source load from 127.0.0.1 (a trusted network, no AUTH) for a
# non-local domain and relay it through a smarthost, an smtp-sink on
# loopback standing for the internet; end to end, printed as ratios
# (doc/BENCH-relay.md).  Standalone; bench/run.sh calls it.
#
#   sh bench/relay.sh [--postfix-only | --facteur-only]
#
# Environment:
#   BENCH_SCALE=1        multiply every message count (e.g. 0.2 or 3)
#   BENCH_RELAY_SIZES=5  message payload sizes in KB (smtp-source -l)
#   BENCH_CONC="1 10 50" parallel SMTP sessions (smtp-source -s)
#   BENCH_REUSE=0        1: each session sends all its messages over one
#                        connection (smtp-source -d); 0: one per connection
#   BENCH_REPEAT=1       runs per size and concurrency (table: medians)
#   BENCH_FROM=u1@bench.test       envelope sender
#   BENCH_RELAY_RCPT=rcpt@relay.example  recipient (a non-local domain)
#   BENCH_RELAY_DIR=${BENCH_DIR:-/var/tmp/facteur-bench}-relay  work dir
#                        (wiped at start; a fixed path: it is listed in
#                        /etc/postfix/main.cf)
#   BENCH_TIMEOUT=300    seconds allowed per run
#   FACTEUR_BIN=build/facteur
#
# Needs root (creates the user facteur, runs Postfix).  Stops everything
# it started on exit, failure or interrupt.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
BENCHPY="$ROOT/bench/bench.py"
HELPER="$ROOT/bench/relay.py"
W=${BENCH_RELAY_DIR:-${BENCH_DIR:-/var/tmp/facteur-bench}-relay}
FACTEUR_BIN=${FACTEUR_BIN:-$ROOT/build/facteur}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
SCALE=${BENCH_SCALE:-1}
SIZES=${BENCH_RELAY_SIZES:-5}
CONCS=${BENCH_CONC:-1 10 50}
REUSE=${BENCH_REUSE:-0}
REPEAT=${BENCH_REPEAT:-1}
FROM=${BENCH_FROM:-u1@bench.test}
RCPT=${BENCH_RELAY_RCPT:-rcpt@relay.example}
TIMEOUT=${BENCH_TIMEOUT:-300}
RESULTS_DIR="$ROOT/bench/results"

do_postfix=1 do_facteur=1
for arg in "$@"; do
	case "$arg" in
	--postfix-only) do_facteur=0 ;;
	--facteur-only) do_postfix=0 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" |
	    sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: sh bench/relay.sh [--postfix-only|--facteur-only]" >&2
	   exit 2 ;;
	esac
done

say() { echo "relay-bench: $*"; }
die() { echo "relay-bench: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (creates users, runs Postfix)"
case "$W" in
/?*) ;;
*) die "BENCH_RELAY_DIR must be an absolute path: $W" ;;
esac
[ -x "$SMTP_SOURCE" ] ||
    die "$SMTP_SOURCE missing (package postfix: sh scripts/deps.sh bench)"
[ -x "$SMTP_SINK" ] ||
    die "$SMTP_SINK missing (package postfix: sh scripts/deps.sh bench)"
if [ "$do_facteur" = 1 ] && [ ! -x "$FACTEUR_BIN" ]; then
	die "$FACTEUR_BIN missing (make build)"
fi

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

# --- one relay bench at a time, work dir ------------------------------------
mkdir -p "$W"
exec 9>"$W.lock"
flock -n 9 || die "another relay bench holds $W.lock"

PCONF="$W/postfix/etc"
FPID=""

alive() { # pid: running and not a zombie (kill -0 succeeds on zombies)
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

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
	rm -f "$W/facteur.pid"
}

# an smtp-sink we started: its pid file, and the process must be smtp-sink
stop_sink() { # name
	f="$W/sink-$1.pid"
	[ -f "$f" ] || return 0
	spid=$(cat "$f" 2>/dev/null || true)
	case "$spid" in
	''|*[!0-9]*) rm -f "$f"; return 0 ;;
	esac
	if [ "$(cat "/proc/$spid/comm" 2>/dev/null)" = smtp-sink ]; then
		kill -TERM "$spid" 2>/dev/null || true
		i=0
		while alive "$spid" && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		alive "$spid" && kill -KILL "$spid" 2>/dev/null || true
	fi
	wait "$spid" 2>/dev/null || true
	rm -f "$f"
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	stop_facteur
	stop_postfix
	stop_sink postfix
	stop_sink facteur
	[ $rc -ne 0 ] && say "failed (exit $rc); logs under $W"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# leftovers of an interrupted run (a killed relay.sh cannot clean up)
stop_postfix
stop_sink postfix
stop_sink facteur
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
rm -rf "$W/postfix" "$W/facteur" "$W/sink-"* "$W/results.jsonl" \
    "$W/smtp-source.log"
chmod 755 "$W"

RESULTS="$W/results.jsonl"
: >"$RESULTS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

ensure_user() { # name
	id "$1" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$1" 2>/dev/null || id "$1" >/dev/null ||
	    die "cannot create user $1"
}

# --- the sinks: one per server, for the whole bench ---------------------------
# smtp-sink -c prints "sess=N quit=N mesg=N" (CR-separated) at each session
# end, QUIT and final dot: relay.py reads the last counter of its output.
start_sink() { # name -> SINKPORT
	SINKPORT=$($PY "$BENCHPY" freeport)
	"$SMTP_SINK" -4 -c -u nobody "127.0.0.1:$SINKPORT" 1024 \
	    </dev/null >"$W/sink-$1.out" 2>"$W/sink-$1.err" &
	echo $! >"$W/sink-$1.pid"
	$PY "$BENCHPY" waitsmtp "$SINKPORT" 10 ||
	    { cat "$W/sink-$1.err" >&2; die "smtp-sink did not come up"; }
	# waitsmtp's own session counts: relay.py takes differences anyway
}

# --- Postfix ------------------------------------------------------------------
setup_postfix() {
	start_sink postfix
	PSINK=$SINKPORT
	PPORT=$($PY "$BENCHPY" freeport)
	mkdir -p "$PCONF" "$W/postfix/queue" "$W/postfix/data"
	chown postfix "$W/postfix/data"

	# the default instance's main.cf must list our config directory
	if [ ! -f /etc/postfix/main.cf ]; then
		cat >/etc/postfix/main.cf <<-EOF
		# Minimal default main.cf written by facteur's bench/relay.sh: the
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
	# Private Postfix instance of facteur's relay bench (bench/relay.sh).
	# Accepts from 127.0.0.0/8 for any domain, relays everything to the
	# smtp-sink; default durability (the queue file is fsync'ed before 250).
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
	local_recipient_maps =
	local_transport = error:local delivery disabled
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	relayhost = [127.0.0.1]:$PSINK
	default_destination_concurrency_limit = 50
	smtp_tls_security_level = none
	alias_maps =
	alias_database =
	biff = no
	append_dot_mydomain = no
	smtpd_banner = \$myhostname ESMTP
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

	postfix -c "$PCONF" check >"$W/postfix/check.log" 2>&1 || {
		cat "$W/postfix/check.log" >&2; die "postfix check failed"; }
	postfix -c "$PCONF" start >"$W/postfix/start.log" 2>&1 || {
		cat "$W/postfix/start.log" >&2; die "postfix start failed"; }
	$PY "$BENCHPY" waitsmtp "$PPORT" 30 ||
	    { tail -20 "$W/postfix/maillog" >&2 || true; die "Postfix did not come up"; }
	say "postfix $(postconf -d -h mail_version) on 127.0.0.1:$PPORT" \
	    "-> smtp-sink :$PSINK (conf $PCONF)"
}

# --- facteur ------------------------------------------------------------------
setup_facteur() {
	start_sink facteur
	FSINK=$SINKPORT
	ensure_user facteur
	FPORT=$($PY "$BENCHPY" freeport)
	FDIR="$W/facteur"
	FCONF="$FDIR/facteur.conf"
	mkdir -p "$FDIR/data"
	chmod 755 "$FDIR"
	chown facteur: "$FDIR/data"
	cat >"$FCONF" <<-EOF
	# facteur's side of the relay bench (bench/relay.sh)
	hostname facteur.bench.local
	data_dir $FDIR/data
	user facteur
	listen smtp 127.0.0.1:$FPORT
	relay_networks 127.0.0.0/8
	smarthost [127.0.0.1]:$FSINK
	smarthost_tls none
	mta_max_connections_per_domain 20
	smtp_max_messages_per_connection 100000
	max_connections_per_ip 1000
	log_level info
	EOF
	"$FACTEUR_BIN" -c "$FCONF" serve </dev/null >"$FDIR/facteur.log" 2>&1 &
	FPID=$!
	echo "$FPID" >"$W/facteur.pid"
	if ! $PY "$BENCHPY" waitsmtp "$FPORT" 30; then
		tail -20 "$FDIR/facteur.log" >&2 || true
		die "facteur did not come up (log $FDIR/facteur.log)"
	fi
	say "facteur ($FACTEUR_BIN) on 127.0.0.1:$FPORT -> smtp-sink :$FSINK" \
	    "(conf $FCONF), pid $FPID"
}

[ "$do_postfix" = 1 ] && setup_postfix
[ "$do_facteur" = 1 ] && setup_facteur

reuse_flag=""
[ "$REUSE" = 1 ] && reuse_flag="--reuse"
fails=0

run_one() { # server size_kb conc count [--warmup]
	if [ "$1" = postfix ]; then
		set -- "$@" --port "$PPORT" --pid "@$W/postfix/queue/pid/master.pid" \
		    --kind postfix --queue-dir "$W/postfix/queue" \
		    --server-log "$W/postfix/maillog"
	else
		alive "$FPID" ||
		    { tail -5 "$FDIR/facteur.log" >&2; die "facteur is not running"; }
		set -- "$@" --port "$FPORT" --pid "$FPID" \
		    --kind facteur --queue-dir "$FDIR/data/queue" \
		    --server-log "$FDIR/facteur.log"
	fi
	name=$1 size=$2 conc=$3 n=$4
	shift 4
	if ! $PY "$HELPER" run --name "$name" --size $((size * 1024)) \
	    --conc "$conc" --count "$n" $reuse_flag --sender "$FROM" \
	    --rcpt "$RCPT" --smtp-source "$SMTP_SOURCE" --timeout "$TIMEOUT" \
	    --sink-out "$W/sink-$name.out" --sink-pid "$(cat "$W/sink-$name.pid")" \
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
[ "$do_postfix" = 1 ] && servers="$servers postfix"
[ "$do_facteur" = 1 ] && servers="$servers facteur"

# warm-up (not recorded): processes spawned, first connections to the sink
for s in $servers; do
	run_one "$s" 5 10 200 --warmup
done

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

# --- the table ------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
[ -f "$RESULTS_DIR/.gitignore" ] || printf '*\n!.gitignore\n' >"$RESULTS_DIR/.gitignore"
{
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -r), $(nproc) cores," \
	    "facteur $FACTEUR_BIN (git HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none))"
	echo "load average at start: $LOAD0 (other work on the machine skews the figures)"
	echo
	echo "facteur vs Postfix: relaying from 127.0.0.0/8 to a smarthost" \
	    "(smtp-sink on 127.0.0.1), end to end (accepted + at the sink + queue empty)"
	echo "postfix $(postconf -d -h mail_version 2>/dev/null):" \
	    "relayhost, destination concurrency 50;" \
	    "facteur: smarthost, mta_max_connections_per_domain 20"
	if [ "$REUSE" = 1 ]; then
		echo "smtp-source -d: each session sends its messages over one connection"
	else
		echo "one message per incoming SMTP connection; BENCH_SCALE=$SCALE"
	fi
	echo "cpu = user+system of the server's processes (not the sink's," \
	    "not smtp-source's)"
	echo
	$PY "$HELPER" table "$RESULTS"
} >"$RESULTS_DIR/relay.txt"
cp "$RESULTS" "$RESULTS_DIR/relay.jsonl"
echo
cat "$RESULTS_DIR/relay.txt"
[ "$fails" -eq 0 ] || die "$fails run(s) failed"
