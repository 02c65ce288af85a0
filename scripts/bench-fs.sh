#!/bin/sh
# bench-fs.sh - read throughput of bootshelf-fs against reading the ISO
# file directly and against fuseiso mounting the same ISO.
#
# usage: scripts/bench-fs.sh [BUILD_DIR]   (root; needs xorriso, fuseiso)
#
# Builds a 1 GiB ISO (a large file of random 1 MiB blocks with holes,
# plus kernel and initrd), mounts it with bootshelf-fs and fuseiso, and
# times sequential reads (hot: page cache warm; cold: after
# `echo 3 > /proc/sys/vm/drop_caches`) and 4 KiB random reads.  Prints
# MB/s and ratios to the direct read.  Goals: hot >= 0.9x direct,
# cold >= 0.8x direct, >= 2x fuseiso.  Timings on a shared machine are
# noisy: compare the ratios of one run.  Not part of `make check`.
#
# env: BENCH_FS_MIB     size of the large file in the ISO in MiB (default
#                       940: a 1 GiB ISO; smaller for quick iterations)
#      BENCH_FS_REPEAT  measurement rounds over the same mounts (default
#                       1); with more, the median of each ratio follows
set -eu
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
mib=${BENCH_FS_MIB:-940}
repeat=${BENCH_FS_REPEAT:-1}
work=$(mktemp -d /var/tmp/bench-fs.XXXXXX)
fspid=""
cleanup() {
	for m in "$work/mnt" "$work/fuseiso"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" || fusermount3 -uz "$m" || true
		fi
	done
	if [ -n "$fspid" ]; then kill "$fspid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "bench-fs: building an ISO of about $((mib + 72)) MiB in $work"
mkdir -p "$work/src/LiveOS" "$work/src/images/pxeboot" "$work/mnt" \
	"$work/fuseiso"
head -c $((12 << 20)) /dev/urandom > "$work/src/images/pxeboot/vmlinuz"
head -c $((60 << 20)) /dev/urandom > "$work/src/images/pxeboot/initrd.img"
# "sparse-ish": random 1 MiB blocks with holes between some of them
python3 - "$work/src/LiveOS/squashfs.img" "$mib" <<'EOF'
import os, sys
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[2])):
        if i % 4 == 3:
            f.seek(1 << 20, 1)
        else:
            f.write(os.urandom(1 << 20))
    f.truncate()
EOF
xorriso -as mkisofs -R -J -V BENCH -o "$work/bench.iso" "$work/src" \
	>/dev/null 2>&1
rm -rf "$work/src"
cat > "$work/catalog.conf" <<EOF
[iso bench]
path = $work/bench.iso
EOF
"$build/bootshelf-fs" -f "$work/catalog.conf" "$work/mnt" \
	2>"$work/fs.log" &
fspid=$!
fuseiso "$work/bench.iso" "$work/fuseiso"
i=0
while ! mountpoint -q "$work/mnt"; do
	i=$((i + 1))
	if [ $i -gt 200 ]; then echo "bench-fs: mount timed out" >&2; exit 1; fi
	sleep 0.1
done
dev=$(stat -c %d "$work/mnt")
echo "bench-fs: bootshelf-fs readahead $(cat \
	/sys/class/bdi/0:$((dev & 255))/read_ahead_kb 2>/dev/null || echo '?') KiB"

python3 - "$work" "$repeat" <<'EOF'
import os, random, statistics, sys, time

work = sys.argv[1]
repeat = int(sys.argv[2])
iso = os.path.join(work, "bench.iso")
mnt = os.path.join(work, "mnt", "boot", "bench")
fiso = os.path.join(work, "fuseiso")
BS = 1 << 20


def drop():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def seq(path):
    fd = os.open(path, os.O_RDONLY)
    n = 0
    t0 = time.monotonic()
    while True:
        b = os.read(fd, BS)
        if not b:
            break
        n += len(b)
    dt = time.monotonic() - t0
    os.close(fd)
    return n / dt / 1e6


def rand4k(path, count, seed=1):
    size = os.stat(path).st_size
    rng = random.Random(seed)
    offs = [rng.randrange(0, size - 4096) & ~4095 for _ in range(count)]
    fd = os.open(path, os.O_RDONLY)
    t0 = time.monotonic()
    for o in offs:
        os.pread(fd, 4096, o)
    dt = time.monotonic() - t0
    os.close(fd)
    return count / dt


def hot(path):
    seq(path)
    return max(seq(path) for _ in range(2))


def cold(path):
    best = 0
    for _ in range(2):
        drop()
        best = max(best, seq(path))
    return best


def one_round():
    """Print one round's figures; return its ratios by name."""
    ratios = {}
    rows = []
    direct_hot, direct_cold = hot(iso), cold(iso)
    rows.append(("ISO direct", direct_hot, direct_cold))
    for name, p in [("ISO via bootshelf-fs",
                     os.path.join(mnt, "bench.iso")),
                    ("initrd+iso via bootshelf-fs",
                     os.path.join(mnt, "initrd+iso"))]:
        rows.append((name, hot(p), cold(p)))
    sq_direct = os.path.join(mnt, "iso", "LiveOS", "squashfs.img")
    sq_fuseiso = os.path.join(fiso, "LiveOS", "squashfs.img")
    bs_sq = (hot(sq_direct), cold(sq_direct))
    fi_sq = (hot(sq_fuseiso), cold(sq_fuseiso))
    rows.append(("iso/LiveOS/squashfs.img via bootshelf-fs",) + bs_sq)
    rows.append(("LiveOS/squashfs.img via fuseiso",) + fi_sq)

    print("\nsequential reads, 1 MiB requests (MB/s)")
    print("%-42s %9s %9s %8s %8s" % ("", "hot", "cold", "hot/dir",
                                     "cold/dir"))
    for name, h, c in rows:
        print("%-42s %9.0f %9.0f %7.2fx %7.2fx" % (
            name, h, c, h / direct_hot, c / direct_cold))
        if name != "ISO direct":
            ratios[name + ": hot/dir"] = h / direct_hot
            ratios[name + ": cold/dir"] = c / direct_cold
    print("bootshelf-fs / fuseiso (same file): hot %.2fx, cold %.2fx" %
          (bs_sq[0] / fi_sq[0], bs_sq[1] / fi_sq[1]))
    ratios["squashfs.img bootshelf-fs/fuseiso: hot"] = bs_sq[0] / fi_sq[0]
    ratios["squashfs.img bootshelf-fs/fuseiso: cold"] = bs_sq[1] / fi_sq[1]

    print("\n4 KiB random reads over the ISO (reads/s)")
    targets = [("direct", iso),
               ("bootshelf-fs", os.path.join(mnt, "bench.iso")),
               ("fuseiso squashfs.img", sq_fuseiso),
               ("bootshelf-fs squashfs.img", sq_direct)]
    res = {}
    for name, p in targets:
        seq(p)                          # warm
        h = rand4k(p, 50000)
        drop()
        c = rand4k(p, 3000, seed=2)
        res[name] = (h, c)
        print("%-28s hot %9.0f  cold %8.0f" % (name, h, c))
    r = (res["bootshelf-fs"][0] / res["direct"][0],
         res["bootshelf-fs"][1] / res["direct"][1],
         res["bootshelf-fs squashfs.img"][0] / res["fuseiso squashfs.img"][0],
         res["bootshelf-fs squashfs.img"][1] / res["fuseiso squashfs.img"][1])
    print("bootshelf-fs/direct: hot %.2fx cold %.2fx; bootshelf-fs/fuseiso "
          "(squashfs.img): hot %.2fx cold %.2fx" % r)
    ratios["4 KiB random bootshelf-fs/direct: hot"] = r[0]
    ratios["4 KiB random bootshelf-fs/direct: cold"] = r[1]
    ratios["4 KiB random bootshelf-fs/fuseiso: hot"] = r[2]
    ratios["4 KiB random bootshelf-fs/fuseiso: cold"] = r[3]
    return ratios


rounds = []
for i in range(repeat):
    if repeat > 1:
        print("\n== round %d of %d (load %s)" % (
            i + 1, repeat, open("/proc/loadavg").read().split()[0]))
    rounds.append(one_round())
if repeat > 1:
    print("\nratios over %d rounds: median [each round]" % repeat)
    for k in rounds[0]:
        v = [r[k] for r in rounds]
        print("%-50s %6.2fx  [%s]" % (k, statistics.median(v),
                                       " ".join("%.2f" % x for x in v)))
EOF
