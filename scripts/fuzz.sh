#!/bin/sh
# fuzz.sh BUILD_DIR SECONDS: run every fuzz target for SECONDS each, from
# its corpus in fuzz/corpus/<target>/ (new inputs go to a scratch copy).
set -eu
dir=$1
secs=$2
top=$(cd "$(dirname "$0")/.." && pwd)
for bin in "$dir"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	work=$(mktemp -d)
	[ -d "$top/fuzz/corpus/$name" ] && cp -r "$top/fuzz/corpus/$name/." "$work/"
	dict=""
	[ -f "$top/fuzz/$name.dict" ] && dict="-dict=$top/fuzz/$name.dict"
	mkdir -p "$top/fuzz/artifacts"
	echo "fuzz: $name for ${secs}s"
	rc=0
	ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" \
	    -artifact_prefix="$top/fuzz/artifacts/$name-" $dict "$work" \
	    -print_final_stats=1 >"$work.log" 2>&1 || rc=$?
	tail -n 12 "$work.log"
	rm -rf "$work" "$work.log"
	if [ $rc -ne 0 ]; then
		echo "fuzz: $name failed (exit $rc); see fuzz/artifacts/" >&2
		exit 1
	fi
done
