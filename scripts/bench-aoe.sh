#!/bin/sh
# bench-aoe.sh - bootshelf-aoed against vblade, the same initiator
# (aoe_init), over a veth pair between two network namespaces, at MTU
# 1500 and 9000 with 1, 16 and 64 requests outstanding.  Prints each
# point's throughput, the initiator's CPU use (its own ceiling is about
# MB/s divided by its CPU share), the target's CPU time per GB served,
# and the aoed/vblade ratios of both.  On a shared machine throughput
# follows the CPU share the two processes get; CPU per GB does not.
#
# usage: scripts/bench-aoe.sh [BUILD_DIR]      (run as root)
# env:   BENCH_MIB (size of the exported file, default 512),
#        BENCH_RUNS (runs per point, median taken, default 3)
set -eu
B=${1:-build}
B=$(cd "$B" && pwd)
AOED=$B/bootshelf-aoed
INIT=$B/tools/aoe_init
MIB=${BENCH_MIB:-512}
RUNS=${BENCH_RUNS:-3}
for x in "$AOED" "$INIT"; do
	[ -x "$x" ] || { echo "bench-aoe: $x not built" >&2; exit 1; }
done
command -v vblade >/dev/null || { echo "bench-aoe: vblade missing" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-aoe: needs root" >&2; exit 1; }

id=$$
TNS=bsbencht$id INS=bsbenchi$id TIF=bsbt$id IIF=bsbi$id
work=$(mktemp -d /tmp/bench-aoe.XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$TNS" 2>/dev/null || true
	ip netns del "$INS" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$TNS"
ip netns add "$INS"
ip link add "$TIF" type veth peer name "$IIF"
ip link set "$TIF" netns "$TNS"
ip link set "$IIF" netns "$INS"
ip -n "$TNS" link set lo up
ip -n "$INS" link set lo up

img=$work/disk.img
echo "bench-aoe: making a ${MIB} MiB random file"
head -c $((MIB * 1048576)) /dev/urandom > "$img"
cat "$img" > /dev/null		# both targets read from the page cache

# start_target NAME: start it in the target namespace, wait for an answer
start_target() {
	case $1 in
	aoed) ip netns exec "$TNS" "$AOED" -f -q -i "$TIF" -e "1.1:$img" \
		2>"$work/aoed.log" & ;;
	vblade) ip netns exec "$TNS" vblade -r 1 1 "$TIF" "$img" \
		>"$work/vblade.log" 2>&1 & ;;
	esac
	pid=$!
	i=0
	until ip netns exec "$INS" "$INIT" -i "$IIF" -t 1.1 -r 1 -w 200 \
	    discover >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "bench-aoe: $1 does not answer" >&2; exit 1; }
	done
}

stop_target() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
}

ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
HZ=$(getconf CLK_TCK)

# run K: median MB/s (and the initiator CPU of that run) over RUNS runs
run() {
	for r in $(seq "$RUNS"); do
		ip netns exec "$INS" "$INIT" -i "$IIF" -t 1.1 -k "$1" -T 100 \
		    bench 2>/dev/null | sed -n 's/.*MBps=\([0-9.]*\) cpu=\([0-9.]*\)%.*retrans=\([0-9]*\).*/\1 \2 \3/p'
	done | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2) { print }'
}

res=$work/results
: > "$res"
for mtu in 1500 9000; do
	ip -n "$TNS" link set "$TIF" mtu $mtu up
	ip -n "$INS" link set "$IIF" mtu $mtu up
	for t in vblade aoed; do
		start_target $t
		for k in 1 16 64; do
			t0=$(ticks)
			set -- $(run $k)
			# target CPU seconds per GB over all runs of this point
			cpg=$(awk -v t=$(( $(ticks) - t0 )) -v hz="$HZ" \
			    -v runs="$RUNS" -v mib="$MIB" \
			    'BEGIN { printf "%.2f", t / hz / (runs * mib * 1048576 / 1e9) }')
			echo "$mtu $t $k $1 $2 $3 $cpg" >> "$res"
			printf 'mtu %-5s %-7s k=%-3s %8s MB/s  initiator cpu %5s%%  target cpu %6s s/GB  retrans %s\n' \
			    $mtu $t $k "$1" "$2" "$cpg" "$3"
		done
		stop_target
	done
done

echo
echo "summary (median of $RUNS runs, ${MIB} MiB, MB/s):"
printf '%-5s %-4s %9s %9s %7s %11s %11s %7s %18s\n' mtu k vblade aoed ratio \
    "vblade s/GB" "aoed s/GB" "cpu x" "initiator ceiling"
awk '
{ v[$1" "$3" "$2] = $4; c[$1" "$3" "$2] = $5; g[$1" "$3" "$2] = $7 }
END {
	split("1500 9000", m, " "); split("1 16 64", ks, " ")
	for (i = 1; i <= 2; i++) for (j = 1; j <= 3; j++) {
		key = m[i]" "ks[j]
		a = v[key" aoed"]; b = v[key" vblade"]; cpu = c[key" aoed"]
		ga = g[key" aoed"]; gb = g[key" vblade"]
		ceil = cpu > 0 ? a * 100 / cpu : 0
		printf "%-5s %-4s %9.1f %9.1f %6.2fx %11.2f %11.2f %6.2fx %13.0f MB/s\n", m[i], ks[j], b, a, (b > 0 ? a / b : 0), gb, ga, (ga > 0 ? gb / ga : 0), ceil
	}
}' "$res"
