#!/bin/sh
# make bench: every component against its peer, in one run.  Each part
# prints its own figures and ratios; nothing here is a pass/fail test.
set -u
B=${1:?usage: bench.sh BUILDDIR}
here=$(cd "$(dirname "$0")" && pwd)
echo "== bench: $(date -u +%Y-%m-%dT%H:%MZ) load $(cut -d' ' -f1-3 /proc/loadavg) cores $(nproc)"
status=0
/usr/bin/python3 "$here/bench_core.py" "$B" || status=1
for part in fs tftp aoe remote; do
	if [ -x "$here/bench-$part.sh" ]; then
		"$here/bench-$part.sh" "$B" || status=1
	fi
done
exit $status
