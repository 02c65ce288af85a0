#!/bin/sh
# bench-aoe.sh - bootshelf-aoed against vblade, the same initiator
# (aoe_init), at MTU 1500 and 9000 with 1, 16 and 64 requests
# outstanding.
#
# Both targets export the same file and run side by side, each on its own
# veth pair between two network namespaces, and the runs alternate: for
# every run and every point, one initiator run against each target, the
# order swapped from one run to the next, so a change in the load of a
# shared machine hits both alike.  Per point it prints the median
# throughput of each, the median and the range of the per-run ratios
# (aoed/vblade), each target's CPU time per MiB served (from
# /proc/PID/schedstat), the initiator's CPU share and ceiling (MB/s
# divided by its CPU share), and what was lost on the way: the
# initiator's retransmissions and the replies its socket dropped, the
# requests aoed's socket dropped and the veth drop counters of each pair.
#
# usage: scripts/bench-aoe.sh [BUILD_DIR]      (run as root)
# env:   BENCH_MIB (size of the exported file, default 256),
#        BENCH_RUNS (runs per point, medians taken, default 5),
#        BENCH_AOED (another bootshelf-aoed binary, e.g. an older build),
#        BENCH_MTUS (default "1500 9000"), BENCH_KS (default "1 16 64")
set -eu
B=${1:-build}
B=$(cd "$B" && pwd)
AOED=${BENCH_AOED:-$B/bootshelf-aoed}
INIT=$B/tools/aoe_init
MIB=${BENCH_MIB:-256}
RUNS=${BENCH_RUNS:-5}
MTUS=${BENCH_MTUS:-1500 9000}
KS=${BENCH_KS:-1 16 64}
for x in "$AOED" "$INIT"; do
	[ -x "$x" ] || { echo "bench-aoe: $x not built" >&2; exit 1; }
done
command -v vblade >/dev/null || { echo "bench-aoe: vblade missing" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-aoe: needs root" >&2; exit 1; }

id=$$
TNS=bsbencht$id INS=bsbenchi$id
# target-side and initiator-side interface of each pair
TV=bsbtv$id IV=bsbiv$id TA=bsbta$id IA=bsbia$id
work=$(mktemp -d /tmp/bench-aoe.XXXXXX)
vpid="" apid=""
cleanup() {
	for p in $vpid $apid; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	ip netns del "$TNS" 2>/dev/null || true
	ip netns del "$INS" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$TNS"
ip netns add "$INS"
for p in "$TV $IV" "$TA $IA"; do
	set -- $p
	ip link add "$1" type veth peer name "$2"
	ip link set "$1" netns "$TNS"
	ip link set "$2" netns "$INS"
done
ip -n "$TNS" link set lo up
ip -n "$INS" link set lo up

img=$work/disk.img
echo "bench-aoe: making a ${MIB} MiB random file"
head -c $((MIB * 1048576)) /dev/urandom > "$img"
cat "$img" > /dev/null		# both targets read from the page cache

# answers IFACE: the target on the pair of initiator interface IFACE
# answers a Query Config
answers() {
	i=0
	until ip netns exec "$INS" "$INIT" -i "$1" -t 1.1 -r 1 -w 200 \
	    discover >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "bench-aoe: no answer on $1" >&2; exit 1; }
	done
}

start_targets() {
	ip netns exec "$TNS" vblade -r 1 1 "$TV" "$img" \
	    >"$work/vblade.log" 2>&1 &
	vpid=$!
	ip netns exec "$TNS" "$AOED" -f -i "$TA" -e "1.1:$img" \
	    2>"$work/aoed.log" &
	apid=$!
	answers "$IV"
	answers "$IA"
}

stop_targets() {
	kill "$vpid" "$apid"
	wait "$vpid" 2>/dev/null || true
	wait "$apid" 2>/dev/null || true
	vpid="" apid=""
}

cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

# veth drops of a pair: target side rx+tx, initiator side rx+tx
vdrops() {
	d=0
	for x in "$TNS $1" "$INS $2"; do
		set -- $x
		for s in rx_dropped tx_dropped; do
			d=$((d + $(ip netns exec "$1" cat \
			    "/sys/class/net/$2/statistics/$s")))
		done
	done
	echo $d
}

# one TARGET K: one initiator run; appends a result line
one() {
	case $1 in
	vblade) ifc=$IV pid=$vpid ;;
	aoed) ifc=$IA pid=$apid ;;
	esac
	c0=$(cpu_ns "$pid")
	line=$(ip netns exec "$INS" "$INIT" -i "$ifc" -t 1.1 -k "$2" -T 100 \
	    bench 2>/dev/null | grep '^RESULT' || true)
	c1=$(cpu_ns "$pid")
	set -- $1 $2 $(echo "$line" | sed -n 's/.*MBps=\([0-9.]*\) cpu=\([0-9.]*\)%.*retrans=\([0-9]*\).*drops=\([0-9]*\).*/\1 \2 \3 \4/p')
	[ $# -eq 6 ] || { echo "bench-aoe: initiator failed: $line" >&2; exit 1; }
	# mtu target k MBps initiator-cpu% retrans init-drops target-us/MiB
	echo "$mtu $1 $2 $3 $4 $5 $6 $(( (c1 - c0) / 1000 / MIB ))" >> "$res"
}

res=$work/results
: > "$res"
lost=$work/lost
: > "$lost"
for mtu in $MTUS; do
	for x in "$TNS $TV" "$INS $IV" "$TNS $TA" "$INS $IA"; do
		set -- $x
		ip -n "$1" link set "$2" mtu $mtu up
	done
	start_targets
	dv0=$(vdrops "$TV" "$IV")
	da0=$(vdrops "$TA" "$IA")
	for r in $(seq "$RUNS"); do
		for k in $KS; do
			if [ $((r % 2)) = 1 ]; then
				one vblade $k
				one aoed $k
			else
				one aoed $k
				one vblade $k
			fi
		done
		printf 'mtu %s run %s/%s done (load %s)\n' $mtu $r "$RUNS" \
		    "$(cut -d' ' -f1 /proc/loadavg)"
	done
	dv=$(( $(vdrops "$TV" "$IV") - dv0 ))
	da=$(( $(vdrops "$TA" "$IA") - da0 ))
	stop_targets
	sd=$(sed -n 's/.*: \([0-9]*\) requests dropped by the kernel.*/\1/p' \
	    "$work/aoed.log" | tail -n 1)
	echo "$mtu $dv $da ${sd:-?}" >> "$lost"
done

echo
echo "bench-aoe: $MIB MiB, $RUNS alternating runs per point, medians;" \
    "ratio = aoed/vblade of the same run"
awk -v runs="$RUNS" -v mtus="$MTUS" -v kl="$KS" '
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(s,    a, n, i, m) {
	n = split(s, a, " "); m = a[1]
	for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]
	return m
}
function hi(s,    a, n, i, m) {
	n = split(s, a, " "); m = a[1]
	for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]
	return m
}
FILENAME == ARGV[1] {
	key = $1 " " $3
	run[key " " $2] = run[key " " $2] + 1
	i = run[key " " $2]
	mb[key " " $2] = mb[key " " $2] " " $4
	cpu[key " " $2] = cpu[key " " $2] " " $5
	rt[key " " $2] += $6
	idr[key " " $2] += $7
	us[key " " $2] = us[key " " $2] " " $8
	# the i-th run of each target at a point form a pair
	val[key " " $2 " " i] = $4
	if ($2 == "aoed") ceil[key] = ceil[key] " " ($5 > 0 ? $4 * 100 / $5 : 0)
	next
}
{ lostv[$1] = $2; losta[$1] = $3; sockd[$1] = $4 }
END {
	printf "%-5s %-3s %8s %8s %7s %13s %9s %9s %6s %9s %14s\n", \
	    "mtu", "k", "vblade", "aoed", "ratio", "ratio range", \
	    "vb us/MiB", "ao us/MiB", "cpu x", "init ceil", \
	    "retrans vb/ao"
	nm = split(mtus, m, " "); nk = split(kl, ks, " ")
	for (a = 1; a <= nm; a++) for (b = 1; b <= nk; b++) {
		key = m[a] " " ks[b]
		rs = ""
		for (i = 1; i <= runs; i++) {
			v = val[key " vblade " i]; w = val[key " aoed " i]
			if (v > 0) rs = rs " " w / v
		}
		uv = median(us[key " vblade"]); ua = median(us[key " aoed"])
		printf "%-5s %-3s %8.1f %8.1f %6.2fx %6.2f-%5.2fx %9d %9d %5.2fx %4.0f MB/s %6d/%d\n", \
		    m[a], ks[b], median(mb[key " vblade"]), \
		    median(mb[key " aoed"]), median(rs), lo(rs), hi(rs), \
		    uv, ua, (ua > 0 ? uv / ua : 0), median(ceil[key]), \
		    rt[key " vblade"], rt[key " aoed"]
		idrop[m[a]] += idr[key " vblade"] + idr[key " aoed"]
	}
	print ""
	for (a = 1; a <= nm; a++)
		printf "mtu %s losses: veth drops vblade pair %d, aoed pair %d;" \
		    " aoed socket drops %s; initiator socket drops %d\n", \
		    m[a], lostv[m[a]], losta[m[a]], sockd[m[a]], idrop[m[a]]
}' "$res" "$lost"
