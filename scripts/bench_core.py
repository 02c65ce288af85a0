#!/usr/bin/python3
"""Library benchmarks: indexing many ISOs, and reading a synthesized
initrd+iso against reading the same bytes from plain files."""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

B = sys.argv[1]
BS = os.path.join(B, "bootshelf")
NISO = int(os.environ.get("BENCH_NISO", "200"))
BIG_MB = int(os.environ.get("BENCH_BIG_MB", "1024"))


def xorriso(src, out, volid):
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V",
                    volid, "-o", out, src], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def write_random(path, size):
    with open(path, "wb") as f:
        chunk = os.urandom(1 << 20)
        left = size
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n


def live_tree(root, kernel, initrd, squash):
    os.makedirs(os.path.join(root, "LiveOS"))
    os.makedirs(os.path.join(root, "images/pxeboot"))
    write_random(os.path.join(root, "images/pxeboot/vmlinuz"), kernel)
    write_random(os.path.join(root, "images/pxeboot/initrd.img"), initrd)
    write_random(os.path.join(root, "LiveOS/squashfs.img"), squash)


def timed(cmd, out=subprocess.DEVNULL):
    """Wall time, peak RSS (KiB) and CPU seconds of this one command."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=out)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise subprocess.CalledProcessError(p.returncode, cmd)
    return dt, ru.ru_maxrss, ru.ru_utime + ru.ru_stime


def main():
    work = tempfile.mkdtemp(prefix="bs-bench-")
    try:
        # --- indexing 200 ISOs -----------------------------------------
        src = os.path.join(work, "small")
        os.makedirs(src)
        # many small files so the index has real work
        for d in range(20):
            os.makedirs(os.path.join(src, "pool/d%02d" % d))
            for f in range(50):
                open(os.path.join(src, "pool/d%02d/f%02d" % (d, f)),
                     "wb").write(b"x" * 100)
        live_tree(src, 100000, 100000, 200000)
        base = os.path.join(work, "base.iso")
        xorriso(src, base, "BENCH")
        cat = os.path.join(work, "many.conf")
        with open(cat, "w") as f:
            for i in range(NISO):
                p = os.path.join(work, "i%03d.iso" % i)
                shutil.copyfile(base, p)	# distinct files, same layout
                f.write("[iso e%03d]\npath = %s\n\n" % (i, p))
        dt, rss, cpu = timed([BS, "-c", cat, "check"])
        print("index: %d ISOs (%d files each) in %.2f s (%.1f ms/ISO), "
              "peak RSS %.1f MiB" % (NISO, 1000 + 4, dt, dt * 1000 / NISO,
                                     rss / 1024))

        # --- 1 GiB initrd+iso read ------------------------------------
        big = os.path.join(work, "big")
        live_tree(big, 8 << 20, 64 << 20, (BIG_MB << 20) - (80 << 20))
        iso = os.path.join(work, "big.iso")
        xorriso(big, iso, "BIGBENCH")
        for f in ("many.conf",) + tuple("i%03d.iso" % i for i in range(NISO)):
            os.unlink(os.path.join(work, f))
        cat = os.path.join(work, "big.conf")
        open(cat, "w").write("[iso big]\npath = %s\n" % iso)
        initrd = os.path.join(big, "images/pxeboot/initrd.img")
        size = int(subprocess.run([BS, "-c", cat, "ls", "-l",
                                   "boot/big/initrd+iso"], check=True,
                                  stdout=subprocess.PIPE).stdout.split()[1])
        bs_cmd = [BS, "-c", cat, "cat", "boot/big/initrd+iso"]
        plain_cmd = ["cat", initrd, iso]
        rows = []
        for rnd in range(3):	# warm, then take the best of the rest
            t_bs, _, _ = timed(bs_cmd)
            t_pl, _, _ = timed(plain_cmd)
            if rnd:
                rows.append((t_bs, t_pl))
        t_bs = min(r[0] for r in rows)
        t_pl = min(r[1] for r in rows)
        mb = size / 1e6
        print("read: initrd+iso %.0f MB: bootshelf cat %.0f MB/s, plain cat "
              "of the same files %.0f MB/s, ratio %.2fx (goal >= 0.9x)" %
              (mb, mb / t_bs, mb / t_pl, t_pl / t_bs))
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
