#!/bin/sh
# make bench: every component against its peer, in one run.  Each part
# prints its own figures and ratios; nothing here is a pass/fail test.
set -u
B=${1:?usage: bench.sh BUILDDIR}
here=$(cd "$(dirname "$0")" && pwd)
echo "== bench: $(date -u +%Y-%m-%dT%H:%MZ) load $(cut -d' ' -f1-3 /proc/loadavg) cores $(nproc)"
# Let the work of the part before die down (the TFTP boot storm leaves a
# load of 10-15 behind it): each part starts on a quiet machine, at most
# two minutes later.
settle() {
	i=0
	while [ $i -lt 120 ] &&
	      awk '{ exit !($1 > 1.0) }' /proc/loadavg; do
		sleep 1
		i=$((i + 1))
	done
	echo "== (waited ${i} s for the load to settle: $(cut -d' ' -f1 /proc/loadavg))"
}
status=0
/usr/bin/python3 "$here/bench_core.py" "$B" || status=1
for part in fs tftp aoe remote; do
	if [ -x "$here/bench-$part.sh" ]; then
		settle
		"$here/bench-$part.sh" "$B" || status=1
	fi
done
exit $status
