#!/bin/sh
# run-demo.sh [CONF]: start the demo server in the foreground (make run).
# First run: creates ./var, the example.test domain and (when root) the
# unprivileged "facteur" user the server runs as.
set -eu
conf=${1:-etc/facteur.conf}
bin=build/facteur
if [ "$(id -u)" -eq 0 ] && ! getent passwd facteur >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin facteur
	echo "run-demo: created the system user facteur"
fi
"$bin" -c "$conf" check >/dev/null
if ! "$bin" -c "$conf" domain list 2>/dev/null | grep -qx example.test; then
	"$bin" -c "$conf" domain add example.test
fi
echo "run-demo: example.test on 127.0.0.1: SMTP 2525, submission 2587/2465, POP3 2110/2995; data in ./var"
echo "run-demo: add a user from another terminal:"
echo "    echo secret | $bin -c $conf user add alice@example.test"
echo "run-demo: Ctrl-C stops the server"
exec "$bin" -c "$conf" serve
