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
# noisy: each ratio is the median over back-to-back pairs (the direct
# read and the file, each first in turn), never of figures taken minutes
# apart.  Not part of `make check`.
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
echo "bench-fs: bootshelf-fs readahead $(cat \
	"/sys/class/bdi/$(mountpoint -d "$work/mnt")/read_ahead_kb" \
	2>/dev/null || echo '?') KiB"

python3 - "$work" "$repeat" <<'EOF'
import os, random, sys, time
from statistics import median

work = sys.argv[1]
repeat = int(sys.argv[2])
iso = os.path.join(work, "bench.iso")
mnt = os.path.join(work, "mnt", "boot", "bench")
fiso = os.path.join(work, "fuseiso")
BS = 1 << 20
# Each figure against the direct read is the median of the ratios of
# back-to-back pairs (direct and the file, each first in turn): on a
# shared machine the load changes within seconds, and only neighbours
# are comparable.  In a virtual machine the host may cache the disk: the
# first read of the ISO after a while is slower than the next, so one
# untimed cold read of the ISO precedes the cold pairs.
PAIRS_HOT, PAIRS_COLD, CHUNKS = 4, 2, 6


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


def seq_cold(path):
    drop()
    return seq(path)


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


def warm(path):
    """Hot means settled in the page cache: the second read of a page
    also moves it to the active list, which is not what is measured."""
    for p in (iso, path, iso, path):
        seq(p)


def paired(path, measure, n, ref=iso):
    """n back-to-back pairs of ref and path, in turns first: medians of
    ref's figures, of path's figures, and of the ratios path/ref."""
    r, p, q = [], [], []
    for i in range(n):
        if i % 2:
            b = measure(path, i)
            a = measure(ref, i)
        else:
            a = measure(ref, i)
            b = measure(path, i)
        r.append(a)
        p.append(b)
        q.append(b / a)
    return median(r), median(p), median(q)


def one_round():
    """Print one round's figures; return its ratios by name."""
    ratios = {}
    sq_bs = os.path.join(mnt, "iso", "LiveOS", "squashfs.img")
    sq_fi = os.path.join(fiso, "LiveOS", "squashfs.img")
    targets = [("ISO via bootshelf-fs", os.path.join(mnt, "bench.iso")),
               ("initrd+iso via bootshelf-fs",
                os.path.join(mnt, "initrd+iso")),
               ("iso/LiveOS/squashfs.img via bootshelf-fs", sq_bs),
               ("LiveOS/squashfs.img via fuseiso", sq_fi)]
    rows, dir_hot, dir_cold = [], [], []
    for name, p in targets:
        warm(p)
        dh, h, rh = paired(p, lambda x, i: seq(x), PAIRS_HOT)
        seq_cold(iso)                   # see below
        dc, c, rc = paired(p, lambda x, i: seq_cold(x), PAIRS_COLD)
        dir_hot.append(dh)
        dir_cold.append(dc)
        rows.append((name, h, c, rh, rc))
        ratios[name + ": hot/dir"] = rh
        ratios[name + ": cold/dir"] = rc

    print("\nsequential reads, 1 MiB requests (MB/s; ratios: median of "
          "back-to-back pairs)")
    print("%-42s %9s %9s %8s %8s" % ("", "hot", "cold", "hot/dir",
                                     "cold/dir"))
    print("%-42s %9.0f %9.0f %7.2fx %7.2fx" % (
        "ISO direct", median(dir_hot), median(dir_cold), 1, 1))
    for name, h, c, rh, rc in rows:
        print("%-42s %9.0f %9.0f %7.2fx %7.2fx" % (name, h, c, rh, rc))
    fh = rows[2][3] / rows[3][3]
    fc = rows[2][4] / rows[3][4]
    print("bootshelf-fs / fuseiso (same file): hot %.2fx, cold %.2fx" %
          (fh, fc))
    ratios["squashfs.img bootshelf-fs/fuseiso: hot"] = fh
    ratios["squashfs.img bootshelf-fs/fuseiso: cold"] = fc

    print("\n4 KiB random reads over the ISO (reads/s)")
    rtargets = [("bootshelf-fs", os.path.join(mnt, "bench.iso")),
                ("fuseiso squashfs.img", sq_fi),
                ("bootshelf-fs squashfs.img", sq_bs)]
    res, dh, dc = {}, [], []
    for name, p in rtargets:
        warm(p)
        a, h, rh = paired(p, lambda x, i: rand4k(x, 10000, seed=i),
                          CHUNKS)
        b, c, rc = paired(p, lambda x, i: (drop(), rand4k(x, 3000,
                                                          seed=100 + i))[1],
                          PAIRS_COLD)
        dh.append(a)
        dc.append(b)
        res[name] = (h, c, rh, rc)
    print("%-28s hot %9.0f  cold %8.0f" % ("direct", median(dh), median(dc)))
    for name, _ in rtargets:
        print("%-28s hot %9.0f  cold %8.0f" % (name, res[name][0],
                                               res[name][1]))
    r = (res["bootshelf-fs"][2], res["bootshelf-fs"][3],
         res["bootshelf-fs squashfs.img"][2] /
         res["fuseiso squashfs.img"][2],
         res["bootshelf-fs squashfs.img"][3] /
         res["fuseiso squashfs.img"][3])
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
        print("%-50s %6.2fx  [%s]" % (k, median(v),
                                       " ".join("%.2f" % x for x in v)))
EOF
