#!/bin/sh
# deps.sh [build|test|bench|fuzz]...: install the Debian packages that are
# missing for these purposes.  Idempotent; runs apt-get update only when
# the package lists are empty or an install fails.  Not root: prints what
# is missing and fails.
set -eu

build="cmake ninja-build gcc pkg-config libevent-dev libssl-dev libsqlite3-dev
libcrypt-dev libunbound-dev openssl"
test="libcmocka-dev python3 python3-pytest swaks clang libclang-rt-14-dev
sqlite3 postfix unbound fetchmail strace isync mutt"
bench="postfix dovecot-core dovecot-pop3d dovecot-imapd"
fuzz="clang libclang-rt-14-dev"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
	case "$group" in
	build) want="$want $build" ;;
	test) want="$want $build $test" ;;
	bench) want="$want $build $bench" ;;
	fuzz) want="$want $build $fuzz" ;;
	*) echo "deps.sh: unknown group: $group" >&2; exit 2 ;;
	esac
done

missing=""
for pkg in $want; do
	case " $missing " in *" $pkg "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $pkg"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# postfix asks what to configure; we run private instances only
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
echo "deps.sh: installing:$missing"
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] ||
    ! apt-get install -y -q $missing; then
	apt-get update -q
	apt-get install -y -q $missing
fi
