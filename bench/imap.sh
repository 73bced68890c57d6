#!/bin/sh
# bench/imap.sh: facteur vs Dovecot, IMAP, side by side on 127.0.0.1 in one
# run (doc/BENCH.md, "IMAP"):
#  1. a mixed workload from our load generator (bench/imapload.c): FETCH
#     envelopes, headers and bodies, STORE flags, SEARCH, APPEND, UID
#     EXPUNGE, NOOP, at several concurrencies; operations per second;
#  2. the memory (PSS of all the server's processes) of N connections
#     idling in IDLE (bench/idle_mem.py).
#
#   sh bench/imap.sh [--load-only | --idle-only]
#                    [--dovecot-only | --facteur-only]
#
# Environment:
#   BENCH_IMAP_MSGS=2000     messages in each user's INBOX (2-50 KB)
#   BENCH_IMAP_USERS=5       users; connection i logs in as user i mod N
#   BENCH_IMAP_CONC="1 10 50"  concurrent connections, one table row each
#   BENCH_IMAP_SECS=10       measured seconds per run
#   BENCH_IMAP_WARMUP=2      seconds of load before the measured ones
#   BENCH_IMAP_MIX=15,20,15,15,4,3,3,5,10  weights of FETCH window, UID FETCH
#                            header, body, UID STORE, SEARCH UNSEEN, FROM,
#                            SUBJECT, APPEND (+ its STORE and UID EXPUNGE), NOOP
#   BENCH_REPEAT=1           runs per concurrency, alternating servers
#                            (the table shows medians)
#   BENCH_IMAP_IDLE=10000    IDLE connections for the memory figure (0: none)
#   BENCH_IMAP_HIBERNATE=1   1: also measure Dovecot's IDLE memory with
#                            imap_hibernate_timeout = 5s (its own way of
#                            holding many IDLE connections), "dovecot-hib"
#   BENCH_IMAP_HASH_COST=1   the yescrypt cost (1-11) of the password hash
#                            both servers check (facteur's default is 5)
#   BENCH_IMAP_ADDRS=1-1     client source addresses 127.0.0.FIRST-LAST
#   BENCH_IMAP_DIR=$BENCH_DIR-imap  work dir (/var/tmp/facteur-bench-imap),
#                            wiped at start
#   FACTEUR_BIN=build/facteur
#
# Needs root (creates the users facteur and dbench, runs Dovecot, raises
# fs.inotify.max_user_instances during the IDLE test and puts it back).
# Stops everything it started on exit, failure or interrupt.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
IDLEMEM="$ROOT/bench/idle_mem.py"
W=${BENCH_IMAP_DIR:-${BENCH_DIR:-/var/tmp/facteur-bench}-imap}
FACTEUR_BIN=${FACTEUR_BIN:-$ROOT/build/facteur}
NMSG=${BENCH_IMAP_MSGS:-2000}
NUSERS=${BENCH_IMAP_USERS:-5}
CONCS=${BENCH_IMAP_CONC:-1 10 50}
SECS=${BENCH_IMAP_SECS:-10}
WARMUP=${BENCH_IMAP_WARMUP:-2}
REPEAT=${BENCH_REPEAT:-1}
MIX=${BENCH_IMAP_MIX:-15,20,15,15,4,3,3,5,10}
NIDLE=${BENCH_IMAP_IDLE:-10000}
ADDRS=${BENCH_IMAP_ADDRS:-1-1}
HIBERNATE=${BENCH_IMAP_HIBERNATE:-1}
HASH_COST=${BENCH_IMAP_HASH_COST:-1}
PASS=bench-pw		# every user's password on both servers
SEED=42			# the same data and the same commands for both
RESULTS_DIR="$ROOT/bench/results"
LOADGEN="$ROOT/build/bench/imapload"
DUSER=dbench		# owner of Dovecot's mailboxes

do_load=1 do_idle=1 do_dovecot=1 do_facteur=1
for arg in "$@"; do
	case "$arg" in
	--load-only) do_idle=0 ;;
	--idle-only) do_load=0 ;;
	--dovecot-only) do_facteur=0 ;;
	--facteur-only) do_dovecot=0 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" |
	    sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: sh bench/imap.sh [--load-only|--idle-only]" \
	    "[--dovecot-only|--facteur-only]" >&2
	   exit 2 ;;
	esac
done
[ "$NIDLE" -gt 0 ] || do_idle=0
if [ $((do_load + do_idle)) -eq 0 ] || [ $((do_dovecot + do_facteur)) -eq 0 ]
then
	echo "imap bench: nothing to run with these options: $*" >&2
	exit 2
fi

say() { echo "imap bench: $*"; }
die() { echo "imap bench: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (creates users, runs Dovecot)"
case "$W" in
/?*) ;;
*) die "BENCH_IMAP_DIR must be an absolute path: $W" ;;
esac
if [ "$do_facteur" = 1 ] && [ ! -x "$FACTEUR_BIN" ]; then
	die "$FACTEUR_BIN missing (make build)"
fi

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
if [ "$do_dovecot" = 1 ] && ! installed dovecot-imapd; then
	say "installing dovecot-imapd"
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] ||
	    ! apt-get install -y -q dovecot-imapd; then
		apt-get update -q || true
		apt-get install -y -q dovecot-imapd ||
		    die "cannot install dovecot-imapd"
	fi
fi

# 10,000 connections: one descriptor each in the client and in the server,
# more in Dovecot's master; the servers inherit this limit
ulimit -Hn 65536 2>/dev/null || true
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# --- one bench at a time, work dir ------------------------------------------
mkdir -p "$W"
exec 8>"$W.lock"
flock -n 8 || die "another IMAP bench holds $W.lock"

DDIR="$W/dovecot"
DCONF="$DDIR/dovecot.conf"
DPIDFILE="$DDIR/run/master.pid"
FDIR="$W/facteur"
FCONF="$FDIR/facteur.conf"
FPID=""
INOTIFY0=""

alive() { # pid: running and not a zombie
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

stop_facteur() {
	[ -n "$FPID" ] || return 0
	if ! alive "$FPID"; then
		st=0
		wait "$FPID" 2>/dev/null || st=$?
		say "facteur (pid $FPID) had already exited, wait status $st"
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

# SIGTERM to Dovecot's master (it stops its children), SIGKILL to the
# master and its children after 15 s.  Only a master started with our
# config.
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
	kill -TERM "$dpid" 2>/dev/null || true
	i=0
	while alive "$dpid" && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if alive "$dpid"; then
		say "dovecot did not stop on SIGTERM in 15 s: SIGKILL"
		for k in $(pgrep -P "$dpid" 2>/dev/null || true); do
			kill -KILL "$k" 2>/dev/null || true
		done
		kill -KILL "$dpid" 2>/dev/null || true
	fi
	rm -f "$DPIDFILE"
}

cleanup() {
	rc=$?
	trap - EXIT
	trap '' INT TERM PIPE
	stop_facteur
	stop_dovecot
	if [ -n "$INOTIFY0" ]; then
		sysctl -q -w fs.inotify.max_user_instances="$INOTIFY0" \
		    >/dev/null 2>&1 || true
	fi
	rm -rf "$DDIR/home" "$FDIR/data/mail" "$W/data" 2>/dev/null || true
	[ $rc -ne 0 ] && say "failed (exit $rc); logs under $W"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

# leftovers of an interrupted run
stop_dovecot
if [ -f "$W/facteur.pid" ]; then
	old=$(cat "$W/facteur.pid")
	if [ -n "$old" ] && [ -r "/proc/$old/cmdline" ] &&
	    tr '\0' ' ' 2>/dev/null <"/proc/$old/cmdline" |
	    grep -q -- "$FCONF"; then
		kill -TERM "$old" 2>/dev/null || true
		sleep 1
		kill -KILL "$old" 2>/dev/null || true
	fi
	rm -f "$W/facteur.pid"
fi
rm -rf "$DDIR" "$FDIR" "$W/data" "$W/load.txt" "$W/idle.jsonl" "$W/runs.log"
chmod 755 "$W"
LOADRES="$W/load.txt"
IDLERES="$W/idle.jsonl"
: >"$LOADRES"
: >"$IDLERES"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

ensure_user() { # name
	id "$1" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$1" 2>/dev/null || id "$1" >/dev/null ||
	    die "cannot create user $1"
}

freeport() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

waitimap() { # port: an "* OK" greeting within 30 s
	$PY - "$1" <<-'EOF'
	import socket, sys, time
	port, end, last = int(sys.argv[1]), time.monotonic() + 30, "none"
	while time.monotonic() < end:
	    try:
	        with socket.create_connection(("127.0.0.1", port), 2) as s:
	            s.settimeout(5)
	            g = s.recv(512)
	            if g.startswith(b"* OK"):
	                s.sendall(b"a LOGOUT\r\n")
	                sys.exit(0)
	            last = repr(g[:80])
	    except OSError as e:
	        last = str(e)
	    time.sleep(0.1)
	print("no IMAP greeting on port %d: %s" % (port, last), file=sys.stderr)
	sys.exit(1)
	EOF
}

# The password hash both servers check at LOGIN: facteur's scheme
# (yescrypt, account.c), at a low cost by default: 10,000 logins at the
# default cost (60 ms each here) would take 10 minutes of CPU per server.
PWHASH=$($PY - "$PASS" "$HASH_COST" <<-'EOF'
	import ctypes, sys
	lib = ctypes.CDLL("libcrypt.so.1")
	lib.crypt_gensalt.restype = ctypes.c_char_p
	lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
	                              ctypes.c_char_p, ctypes.c_int]
	lib.crypt.restype = ctypes.c_char_p
	lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
	setting = lib.crypt_gensalt(b"$y$", int(sys.argv[2]), None, 0)
	h = lib.crypt(sys.argv[1].encode(), setting) if setting else None
	if not h or not h.startswith(b"$y$"):
	    sys.exit("cannot make a yescrypt hash")
	print(h.decode())
	EOF
) || die "no password hash"

# --- the load generator and the data ------------------------------------------
mkdir -p "$(dirname "$LOADGEN")"
cc -O2 -Wall -o "$LOADGEN" "$ROOT/bench/imapload.c" -lm ||
    die "cannot build $LOADGEN"
mkdir -p "$W/data"
"$LOADGEN" gen "$W/data" "$NMSG" "$SEED" 0 0
say "$NMSG messages, $(du -sk "$W/data" | cut -f1) KB, in each of" \
    "$NUSERS users' INBOX, on each server"

fill() { # maildir owner
	mkdir -p "$1"
	cp -a "$W/data/cur" "$W/data/new" "$W/data/tmp" "$1/"
	chown -R "$2:" "$1"
	chmod 700 "$1" "$1/cur" "$1/new" "$1/tmp"
}

# --- Dovecot ------------------------------------------------------------------
setup_dovecot() {
	ensure_user "$DUSER"
	duid=$(id -u "$DUSER")
	dgid=$(id -g "$DUSER")
	DPORT=$(freeport)
	mkdir -p "$DDIR/home/bench.test"
	chmod 755 "$DDIR" "$DDIR/home" "$DDIR/home/bench.test"
	: >"$DDIR/passwd"
	u=1
	while [ $u -le "$NUSERS" ]; do
		mkdir -p "$DDIR/home/bench.test/i$u"
		fill "$DDIR/home/bench.test/i$u/Maildir" "$DUSER"
		chown "$DUSER:" "$DDIR/home/bench.test/i$u"
		echo "i$u@bench.test:{CRYPT}$PWHASH" >>"$DDIR/passwd"
		u=$((u + 1))
	done
	chgrp dovecot "$DDIR/passwd" 2>/dev/null && chmod 640 "$DDIR/passwd" ||
	    chmod 644 "$DDIR/passwd"
	start_dovecot
}

# Dovecot's config, and Dovecot started on it; with an argument "hibernate",
# IDLE sessions are moved after 5 s to Dovecot's imap-hibernate process
start_dovecot() {
	cat >"$DCONF" <<-EOF
	# Private Dovecot instance of facteur's IMAP bench (bench/imap.sh).
	# Defaults except: plaintext LOGIN on loopback, no SSL, limits raised
	# for 10,000 connections of a handful of users from one address.
	instance_name = facteur-bench-imap
	base_dir = $DDIR/run
	state_dir = $DDIR/state
	protocols = imap
	listen = 127.0.0.1
	ssl = no
	disable_plaintext_auth = no
	auth_mechanisms = plain login
	log_path = $DDIR/dovecot.log
	first_valid_uid = $duid
	last_valid_uid = $duid
	mail_location = maildir:$DDIR/home/%d/%n/Maildir
	default_client_limit = 20000
	passdb {
	  driver = passwd-file
	  args = scheme=CRYPT username_format=%u $DDIR/passwd
	}
	userdb {
	  driver = static
	  args = uid=$duid gid=$dgid home=$DDIR/home/%d/%n
	}
	protocol imap {
	  mail_max_userip_connections = 20000
	}
	service imap-login {
	  inet_listener imap {
	    address = 127.0.0.1
	    port = $DPORT
	  }
	  inet_listener imaps {
	    port = 0
	  }
	  process_limit = 10100
	}
	service imap {
	  process_limit = 10100
	}
	EOF
	if [ "${1:-}" = hibernate ]; then
		# imap and imap-hibernate pass sessions over these sockets
		# (as the user dbench and the group dovecot)
		cat >>"$DCONF" <<-EOF
		imap_hibernate_timeout = 5s
		service imap {
		  unix_listener imap-master {
		    user = \$default_internal_user
		  }
		  extra_groups = \$default_internal_group
		}
		service imap-hibernate {
		  unix_listener imap-hibernate {
		    mode = 0660
		    group = \$default_internal_group
		  }
		}
		EOF
	fi
	doveconf -c "$DCONF" -n >"$DDIR/doveconf.log" 2>&1 ||
	    { cat "$DDIR/doveconf.log" >&2; die "dovecot config check failed"; }
	dovecot -c "$DCONF" >"$DDIR/start.log" 2>&1 8>&- ||
	    { cat "$DDIR/start.log" >&2; die "dovecot start failed"; }
	waitimap "$DPORT" ||
	    { tail -20 "$DDIR/dovecot.log" >&2 || true; die "Dovecot did not come up"; }
	say "dovecot $(dovecot --version | cut -d' ' -f1) on 127.0.0.1:$DPORT" \
	    "(conf $DCONF${1:+, $1})"
}

# --- facteur ------------------------------------------------------------------
setup_facteur() {
	ensure_user facteur
	FPORT=$(freeport)
	mkdir -p "$FDIR/data"
	chmod 755 "$FDIR"
	chown facteur: "$FDIR/data"
	cat >"$FCONF" <<-EOF
	# facteur's side of the IMAP bench (bench/imap.sh)
	hostname bench.test
	data_dir $FDIR/data
	user facteur
	listen imap 127.0.0.1:$FPORT
	# LOGIN without TLS from 127.0.0.1, as Dovecot's disable_plaintext_auth = no
	auth_plaintext_loopback yes
	max_connections 20000
	max_connections_per_ip 20000
	log_level info
	EOF
	fcli() { "$FACTEUR_BIN" -c "$FCONF" "$@"; }
	fcli domain add bench.test >"$FDIR/cli.log" 2>&1 ||
	    { cat "$FDIR/cli.log" >&2; die "facteur domain add failed"; }
	u=1
	while [ $u -le "$NUSERS" ]; do
		printf '%s\n' "$PASS" | fcli user add "i$u@bench.test" \
		    >>"$FDIR/cli.log" 2>&1 ||
		    { cat "$FDIR/cli.log" >&2; die "facteur user add failed"; }
		fill "$FDIR/data/mail/bench.test/i$u" facteur
		u=$((u + 1))
	done
	# the same hash as Dovecot's (the CLI has no option for the cost)
	$PY - "$FDIR/data/accounts.db" "$PWHASH" <<-'EOF' ||
	import os, sqlite3, sys
	db, h = sys.argv[1], sys.argv[2]
	st = os.stat(db)
	c = sqlite3.connect(db)
	n = c.execute("UPDATE users SET hash = ? WHERE domain = 'bench.test'",
	              (h,)).rowcount
	c.commit()
	c.close()
	for f in (db, db + "-wal", db + "-shm"):
	    if os.path.exists(f):
	        os.chown(f, st.st_uid, st.st_gid)
	sys.exit(0 if n > 0 else 1)
	EOF
	    die "cannot set the users' password hash in accounts.db"
	"$FACTEUR_BIN" -c "$FCONF" serve </dev/null >"$FDIR/facteur.log" 2>&1 8>&- &
	FPID=$!
	echo "$FPID" >"$W/facteur.pid"
	waitimap "$FPORT" ||
	    { tail -20 "$FDIR/facteur.log" >&2 || true; die "facteur did not come up (log $FDIR/facteur.log)"; }
	say "facteur ($FACTEUR_BIN) on imap 127.0.0.1:$FPORT (conf $FCONF), pid $FPID"
}

servers=""
if [ "$do_dovecot" = 1 ]; then
	setup_dovecot
	servers="$servers dovecot"
fi
if [ "$do_facteur" = 1 ]; then
	setup_facteur
	servers="$servers facteur"
fi
sync

port_of() { [ "$1" = dovecot ] && echo "$DPORT" || echo "$FPORT"; }
pid_of() { [ "$1" = dovecot ] && echo "@$DPIDFILE" || echo "$FPID"; }
log_of() { [ "$1" = dovecot ] && echo "$DDIR/dovecot.log" || echo "$FDIR/facteur.log"; }
check_alive() { # server
	if [ "$1" = facteur ] && ! alive "$FPID"; then
		tail -5 "$FDIR/facteur.log" >&2
		die "facteur is not running"
	fi
}
fails=0

# warm-up, not measured: each server reads every message once (Dovecot
# builds its index and cache, facteur its SQLite index)
for s in $servers; do
	check_alive "$s"
	if ! "$LOADGEN" warm -p "$(port_of "$s")" -k "$NUSERS" -w "$PASS" \
	    -N "$s" -n "$NMSG"; then
		fails=$((fails + 1))
		tail -5 "$(log_of "$s")" | sed "s/^/  $s log: /"
	fi
done

# --- the mixed workload -------------------------------------------------------
if [ "$do_load" = 1 ]; then
	for conc in $CONCS; do
		r=0
		while [ $r -lt "$REPEAT" ]; do
			for s in $servers; do
				check_alive "$s"
				if ! "$LOADGEN" load -p "$(port_of "$s")" \
				    -k "$NUSERS" -w "$PASS" -c "$conc" \
				    -d "$SECS" -W "$WARMUP" -s $((SEED + r)) \
				    -n "$NMSG" -a "$ADDRS" -N "$s" -M "$MIX" \
				    -o "$LOADRES"; then
					fails=$((fails + 1))
					tail -5 "$(log_of "$s")" |
					    sed "s/^/  $s log: /"
				fi
			done
			r=$((r + 1))
		done
	done
fi

# --- the memory of IDLE connections ------------------------------------------
if [ "$do_idle" = 1 ]; then
	# Dovecot's imap processes each take an inotify instance in IDLE (as
	# the user dbench); the default 128 per user would make it poll
	INOTIFY0=$(sysctl -n fs.inotify.max_user_instances)
	[ "$INOTIFY0" -ge $((NIDLE + 1000)) ] ||
	    sysctl -q -w fs.inotify.max_user_instances=$((NIDLE + 1000))
	idle_servers=$servers
	[ "$do_dovecot" = 1 ] && [ "$HIBERNATE" = 1 ] &&
	    idle_servers="$idle_servers dovecot-hib"
	for s in $idle_servers; do
		if [ "$s" = dovecot-hib ]; then
			stop_dovecot
			start_dovecot hibernate
			s=dovecot
			name=dovecot-hib
		else
			name=$s
		fi
		check_alive "$s"
		$PY "$IDLEMEM" run --name "$name" --port "$(port_of "$s")" \
		    --pid "$(pid_of "$s")" --conns "$NIDLE" \
		    --imapload "$LOADGEN" --users "$NUSERS" --password "$PASS" \
		    --addrs "$ADDRS" --out "$IDLERES" || {
			fails=$((fails + 1))
			tail -5 "$(log_of "$s")" | sed "s/^/  $s log: /"
		}
	done
fi

# --- the tables -------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
[ -f "$RESULTS_DIR/.gitignore" ] || printf '*\n!.gitignore\n' >"$RESULTS_DIR/.gitignore"
{
	echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -r), $(nproc) cores," \
	    "facteur $FACTEUR_BIN (git HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none))"
	echo "load average at start: $LOAD0 (other work on the machine skews the figures)"
	echo
	echo "facteur vs Dovecot: IMAP, dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1);"
	echo "$NUSERS users x $NMSG messages (2-50 KB, same files for both);" \
	    "plaintext LOGIN on 127.0.0.1; mix $MIX"
	$PY "$IDLEMEM" table --load "$LOADRES" --idle "$IDLERES" \
	    --secs "$SECS"
} >"$RESULTS_DIR/imap.txt"
cp "$LOADRES" "$RESULTS_DIR/imap-load.txt"
cp "$IDLERES" "$RESULTS_DIR/imap-idle.jsonl"
echo
cat "$RESULTS_DIR/imap.txt"
[ "$fails" -eq 0 ] || die "$fails run(s) failed"
