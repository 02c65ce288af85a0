#!/bin/bash
# bench-tftp.sh - bootshelf-tftpd against tftp-hpa's in.tftpd over a link
# with latency, and on loopback.
#
#   scripts/bench-tftp.sh [BUILD_DIR]        (root; not part of make check)
#
# Two network namespaces joined by build/tools/delayline (two taps, a
# fixed delay each way, MTU 1500).  Before each run a UDP ping checks the
# added round trip.  Runs, all with the atftp client and blksize 1468:
#   1. one 64 MiB transfer, client asks windowsize 16 (in.tftpd 5.2
#      ignores it and runs lock-step)            goal: >= 5x in.tftpd
#   2. the same with windowsize 1 (lock-step)     goal: >= 1x
#   3. boot storm: 200 clients at once, 32 MiB each, windowsize 16:
#      aggregate throughput (goal >= 2x), failed transfers (goal 0),
#      peak RSS of each server (in.tftpd: sum over its forked children)
#   4. run 1 and 2 on plain loopback (no delay line)
# Sizes can be reduced for a quick look:
#   BENCH_TFTP_MIB (64) BENCH_TFTP_STORM (200) BENCH_TFTP_STORM_MIB (32)
#   BENCH_TFTP_DELAY_US (500, each way)
# and the single transfers over the delay line repeated, alternating the
# servers, with the median reported (the machine may be shared and noisy):
#   BENCH_TFTP_REPEAT (1)
set -eu

B=$(cd "${1:-build}" && pwd)
MIB=${BENCH_TFTP_MIB:-64}
STORM=${BENCH_TFTP_STORM:-200}
STORM_MIB=${BENCH_TFTP_STORM_MIB:-32}
DELAY_US=${BENCH_TFTP_DELAY_US:-500}
REPEAT=${BENCH_TFTP_REPEAT:-1}
HPA=/usr/sbin/in.tftpd
[ "$(id -u)" = 0 ] || { echo "bench-tftp: needs root" >&2; exit 1; }
for t in "$HPA" atftp python3 ip; do
	command -v "$t" >/dev/null || { echo "bench-tftp: missing $t" >&2; exit 1; }
done

id=$$
NS_S=bs-tftp-s-$id
NS_C=bs-tftp-c-$id
TA=bstA$id
TB=bstB$id
SRV_IP=10.231.0.1
CLI_IP=10.231.0.2
work=$(mktemp -d /tmp/bs-bench-tftp.XXXXXX)
pids=""

cleanup() {
	set +e
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

chmod 755 "$work"
mkdir -m 755 "$work/srv"
head -c $((MIB << 20)) /dev/urandom > "$work/srv/big"
head -c $((STORM_MIB << 20)) /dev/urandom > "$work/srv/storm"
chmod 644 "$work/srv/big" "$work/srv/storm"

echo "bench-tftp: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the link -----------------------------------------------------------
ip netns add "$NS_S"
ip netns add "$NS_C"
"$B/tools/delayline" "$TA" "$TB" "$DELAY_US" > "$work/delayline.out" &
dl=$!
pids="$pids $dl"
for _ in $(seq 100); do
	grep -q ready "$work/delayline.out" 2>/dev/null && break
	sleep 0.05
done
grep -q ready "$work/delayline.out" || { echo "delayline did not start" >&2; exit 1; }
ip link set "$TA" netns "$NS_S"
ip link set "$TB" netns "$NS_C"
for pair in "$NS_S $TA $SRV_IP" "$NS_C $TB $CLI_IP"; do
	set -- $pair
	ip -n "$1" link set lo up
	ip -n "$1" link set "$2" mtu 1500 txqueuelen 10000 up
	ip -n "$1" addr add "$3/24" dev "$2"
done

# Median UDP round trip in ms between two hosts (server side in $1).
udp_ping() {
	local sns=$1 cns=$2 ip=$3
	ip netns exec "$sns" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7777)); s.settimeout(10)
try:
    while True:
        d, a = s.recvfrom(64)
        if d == b"quit": break
        s.sendto(d, a)
except socket.timeout:
    pass' "$ip" &
	local echo=$!
	sleep 0.3
	ip netns exec "$cns" python3 -c '
import socket, sys, time, statistics
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
rtt = []
for i in range(30):
    t = time.monotonic(); s.sendto(b"ping", (sys.argv[1], 7777))
    try:
        s.recvfrom(64); rtt.append((time.monotonic() - t) * 1000)
    except socket.timeout:
        pass
s.sendto(b"quit", (sys.argv[1], 7777))
print("%.3f" % statistics.median(rtt) if rtt else "lost")' "$ip"
	wait "$echo" 2>/dev/null || true
}

check_rtt() {
	local rtt
	rtt=$(udp_ping "$NS_S" "$NS_C" "$SRV_IP")
	echo "  udp ping rtt ${rtt} ms (expected >= $(awk "BEGIN{print 2*$DELAY_US/1000}"))"
	awk -v r="$rtt" -v d="$DELAY_US" 'BEGIN{ exit !(r != "lost" && r >= 1.8 * d / 1000) }' || {
		echo "bench-tftp: delay line not adding the expected delay" >&2
		exit 1
	}
}

# ---- servers ---------------------------------------------------------------
srv_pid=""
start_server() {	# $1 = ours|hpa, $2 = netns ("" = root ns), $3 = address
	local nsx=""
	[ -n "$2" ] && nsx="ip netns exec $2"
	if [ "$1" = ours ]; then
		$nsx "$B/bootshelf-tftpd" -L -s "$work/srv" -a "$3:69" -m 1000 \
			-B 1468 2> "$work/ours.log" &
	else
		$nsx "$HPA" -L -a "$3:69" -s "$work/srv" 2> "$work/hpa.log" &
	fi
	srv_pid=$!
	pids="$pids $srv_pid"
	sleep 0.5
	kill -0 "$srv_pid" || { echo "bench-tftp: $1 did not start" >&2; cat "$work"/*.log >&2; exit 1; }
}
stop_server() {
	kill "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
}

# RSS in KiB of a process and all its descendants.
tree_rss() {
	local p=$1 sum=0 c
	sum=$(awk '/^VmRSS:/{print $2}' /proc/"$p"/status 2>/dev/null || echo 0)
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
		sum=$((sum + $(tree_rss "$c")))
	done
	echo "${sum:-0}"
}

now() { date +%s.%N; }

# One transfer of srv/big; prints MB/s (to 3 decimals: lock-step over
# the delay line runs at about 1.2 MB/s, and ratios of figures rounded to
# one decimal were off by up to 8%).  $1 netns ("" root), $2 addr,
# $3 windowsize (1 = no option).
single() {
	local nsx="" opt=() t0 t1
	[ -n "$1" ] && nsx="ip netns exec $1"
	[ "$3" -gt 1 ] && opt=(--option "windowsize $3")
	t0=$(now)
	$nsx atftp --option "blksize 1468" "${opt[@]}" -g -r big \
		-l "$work/out" "$2" 2>/dev/null || { echo "FAILED"; return; }
	t1=$(now)
	cmp -s "$work/out" "$work/srv/big" || { echo "CORRUPT"; return; }
	rm -f "$work/out"
	awk -v s=$((MIB << 20)) -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", s/(b-a)/1e6}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 > 0) printf "%.2fx", a/b; else print "n/a" }'; }

# Median of the numbers given (a failure word counts as 0).
median() {
	printf '%s\n' "$@" | sed 's/^[A-Z]*$/0/' | sort -g |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

declare -A R
for rep in $(seq "$REPEAT"); do
	for srv in ours hpa; do
		echo "== $srv: single ${MIB} MiB over the delay line (${DELAY_US} us each way), round $rep of $REPEAT"
		start_server "$srv" "$NS_S" "$SRV_IP"
		for w in 16 1; do
			check_rtt
			v=$(single "$NS_C" "$SRV_IP" "$w")
			R[$srv,delay,$w]="${R[$srv,delay,$w]:-} $v"
			echo "  windowsize $w: $v MB/s"
			if [ "$srv" = ours ]; then
				tail -n 1 "$work/ours.log" | sed 's/^/    /'
			fi
		done
		stop_server
	done
done
for srv in ours hpa; do
	for w in 16 1; do
		# shellcheck disable=SC2086
		R[$srv,delay,$w]=$(median ${R[$srv,delay,$w]})
	done
done

for srv in ours hpa; do
	echo "== $srv: boot storm, $STORM clients x ${STORM_MIB} MiB, windowsize 16"
	start_server "$srv" "$NS_S" "$SRV_IP"
	check_rtt
	mkdir -p "$work/storm-$srv"
	peak=0
	t0=$(now)
	cpids=""
	for i in $(seq "$STORM"); do
		ip netns exec "$NS_C" sh -c '
			timeout 900 atftp --option "blksize 1468" \
				--option "windowsize 16" -g -r storm \
				-l /dev/stdout "$1" 2>/dev/null |
				cmp -s - "$2"; echo $? > "$3"' sh \
			"$SRV_IP" "$work/srv/storm" "$work/storm-$srv/$i" &
		cpids="$cpids $!"
	done
	while :; do
		r=$(tree_rss "$srv_pid")
		[ "$r" -gt "$peak" ] && peak=$r
		running=0
		for p in $cpids; do kill -0 "$p" 2>/dev/null && running=1 && break; done
		[ "$running" = 0 ] && break
		sleep 0.2
	done
	t1=$(now)
	for p in $cpids; do wait "$p" 2>/dev/null || true; done
	fails=$(cat "$work/storm-$srv"/* | grep -vc '^0$' || true)
	R[$srv,storm]=$(awk -v s=$((STORM * (STORM_MIB << 20))) -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", s/(b-a)/1e6}')
	R[$srv,stormfail]=$fails
	R[$srv,stormrss]=$((peak / 1024))
	if [ "$srv" = ours ]; then
		grep 'RRQ' "$work/ours.log" | grep -v ': ok$' | head -n 5 |
			sed 's/^/    /'
	fi
	echo "  aggregate ${R[$srv,storm]} MB/s in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, failed $fails of $STORM, peak RSS ${R[$srv,stormrss]} MiB"
	stop_server
done

for srv in ours hpa; do
	echo "== $srv: single ${MIB} MiB on loopback"
	start_server "$srv" "" 127.0.0.1
	for w in 16 1; do
		R[$srv,lo,$w]=$(single "" 127.0.0.1 "$w")
		echo "  windowsize $w: ${R[$srv,lo,$w]} MB/s"
	done
	stop_server
done

echo "== summary (bootshelf-tftpd / in.tftpd)"
echo "(delay line singles: median of $REPEAT round(s))"
echo "delay line, windowsize 16: ${R[ours,delay,16]} / ${R[hpa,delay,16]} MB/s = $(ratio "${R[ours,delay,16]}" "${R[hpa,delay,16]}") (goal >= 5x)"
echo "delay line, windowsize 1:  ${R[ours,delay,1]} / ${R[hpa,delay,1]} MB/s = $(ratio "${R[ours,delay,1]}" "${R[hpa,delay,1]}") (goal >= 1x)"
echo "boot storm aggregate:      ${R[ours,storm]} / ${R[hpa,storm]} MB/s = $(ratio "${R[ours,storm]}" "${R[hpa,storm]}") (goal >= 2x); failed ${R[ours,stormfail]} / ${R[hpa,stormfail]}; peak RSS ${R[ours,stormrss]} / ${R[hpa,stormrss]} MiB"
echo "loopback, windowsize 16:   ${R[ours,lo,16]} / ${R[hpa,lo,16]} MB/s = $(ratio "${R[ours,lo,16]}" "${R[hpa,lo,16]}")"
echo "loopback, windowsize 1:    ${R[ours,lo,1]} / ${R[hpa,lo,1]} MB/s = $(ratio "${R[ours,lo,1]}" "${R[hpa,lo,1]}")"
kill "$dl" 2>/dev/null && wait "$dl" 2>/dev/null || true
sed 's/^/delayline: /' "$work/delayline.out" | grep -v ready
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
