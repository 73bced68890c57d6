#!/bin/sh
# pytest.sh DIR...: run pytest; "no tests collected" (exit 5) is a failure
# only when asked for tests that should exist.
set -u
/usr/bin/python3 -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [ $rc -eq 5 ]; then
	echo "pytest.sh: no tests collected in $*" >&2
	exit 1
fi
exit $rc
