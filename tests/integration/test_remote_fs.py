"""bootshelf-fs over remote ISOs (nginx on loopback): files read through
the mount (spliced from the block cache) equal the references, parallel
readers agree also while a tiny cache evicts the blocks they are being
answered from, and a file held open
while the object is replaced and the tree reloaded reads the old bytes
or EIO, never a mix, while new opens see the new version."""
import contextlib
import errno
import mmap
import os
import shutil
import subprocess
import threading
import time

import pytest

import fsutil
from fsutil import FsMount, read, wait_for
from remoteutil import Nginx, remote_catalog

MiB = 1 << 20
KERNEL = "images/pxeboot/vmlinuz"


@pytest.fixture
def setup(tmp_path):
    d = str(tmp_path)
    ref = fsutil.make_iso(d, "x", 31, kernel=3 * MiB + 5, initrd=MiB + 3,
                          squash=6 * MiB)
    fsutil.install_iso(ref)
    ng = Nginx(tmp_path / "nginx")
    shutil.copy2(ref["iso"], os.path.join(ng.www, "x.iso"))
    cat = os.path.join(d, "catalog.conf")
    remote_catalog(cat, [("x", "url", ng.url + "/x.iso")],
                   "cache = %s\n" % os.path.join(d, "cache"))
    m = os.path.join(d, "mnt")
    os.mkdir(m)
    fs = FsMount(cat, m, allowed_log=("changed on the server",))
    yield d, ref, ng, cat, fs
    bad = fs.bad_log_lines()
    assert fs.close() == 0
    ng.close()
    assert not bad, bad


def test_read_through_mount(setup):
    d, ref, ng, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot", "x")
    assert read(os.path.join(boot, "linux")) == ref["files"][KERNEL]
    assert read(os.path.join(boot, "initrd")) == fsutil.expected_initrd(ref)
    iso = read(ref["iso"])
    assert read(os.path.join(boot, "x.iso")) == iso
    cp = fsutil.parse_newc(read(os.path.join(boot, "iso.cpio")))
    assert cp[0][2] == iso
    assert read(os.path.join(boot, "iso", "LiveOS", "squashfs.img")) == \
        ref["files"]["LiveOS/squashfs.img"]


def test_parallel_readers(setup):
    d, ref, ng, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot", "x")
    want = {"linux": ref["files"][KERNEL], "x.iso": read(ref["iso"])}
    errors = []

    def reader(name, off):
        try:
            with open(os.path.join(boot, name), "rb", buffering=0) as f:
                f.seek(off)
                data = b""
                while True:
                    c = f.read(100000)
                    if not c:
                        break
                    data += c
            if data != want[name][off:]:
                errors.append("%s@%d differs" % (name, off))
        except OSError as e:
            errors.append("%s@%d: %s" % (name, off, e))

    ts = [threading.Thread(target=reader, args=(n, o))
          for n in want for o in (0, 12345, 2 * MiB + 7)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors


def status_counts(mnt):
    with open(os.path.join(mnt, ".bootshelf", "status")) as f:
        return {k: v for k, v in (line.split(": ", 1)
                                  for line in f.read().splitlines()
                                  if ": " in line)}


@contextlib.contextmanager
def remote_mount(tmp_path, name, seed, server_extra="", **sizes):
    """A fresh ISO NAME on a test nginx, its catalog indexed, mounted:
    yields (ref, nginx, mountpoint); the daemon must log nothing bad."""
    d = str(tmp_path)
    ref = fsutil.make_iso(d, name, seed, **sizes)
    ng = Nginx(tmp_path / "nginx")
    shutil.copy2(ref["iso"], os.path.join(ng.www, name + ".iso"))
    cat = os.path.join(d, "catalog.conf")
    remote_catalog(cat, [(name, "url", ng.url + "/%s.iso" % name)],
                   "cache = %s\n%s" % (os.path.join(d, "cache"),
                                       server_extra))
    subprocess.run([fsutil.binpath("bootshelf"), "-c", cat, "ls", "boot"],
                   check=True, stdout=subprocess.DEVNULL, timeout=60)
    m = os.path.join(d, "mnt")
    os.mkdir(m)
    fs = FsMount(cat, m)
    try:
        yield ref, ng, m
    finally:
        bad = fs.bad_log_lines()
        rc = fs.close()
        ng.close()
    assert rc == 0
    assert not bad, bad


def test_small_cache_readers_spliced(tmp_path):
    """A 2 MiB block cache under 6 parallel readers of the ISO and of a
    file in it: blocks replies are being spliced from are evicted and
    their slots wanted again all the time; pinned blocks must keep their
    bytes.  The READs are answered from the cache's pieces, not
    copied."""
    with remote_mount(tmp_path, "s", 7, "cache_size = 2M\n", kernel=MiB + 1,
                      initrd=2 * MiB + 9, squash=9 * MiB) as (ref, ng, m):
        iso = read(ref["iso"])
        path = os.path.join(m, "boot", "s", "s.iso")
        errors = []

        def reader(name, want, off, chunk):
            # O_DIRECT: every read is a READ request, none is answered
            # from the page cache the readers would otherwise share
            buf = mmap.mmap(-1, chunk)
            try:
                for _ in range(5):
                    got = []
                    fd = os.open(os.path.join(m, "boot", "s", name),
                                 os.O_RDONLY | os.O_DIRECT)
                    try:
                        pos = off
                        while True:
                            n = os.preadv(fd, [buf], pos)
                            if not n:
                                break
                            got.append(buf[:n])
                            pos += n
                    finally:
                        os.close(fd)
                    if b"".join(got) != want[off:]:
                        errors.append("%s at %d differs" % (name, off))
                        return
            except OSError as e:
                errors.append("%s at %d: %s" % (name, off, e))

        sq = ref["files"]["LiveOS/squashfs.img"]
        ts = [threading.Thread(target=reader, args=a)
              for a in (("s.iso", iso, 0, MiB), ("s.iso", iso, MiB, 65536),
                        ("s.iso", iso, 3 * MiB, 4096 * 77),
                        ("iso/LiveOS/squashfs.img", sq, 0, MiB),
                        ("iso/LiveOS/squashfs.img", sq, 2 * MiB,
                         4096 * 33),
                        ("iso/LiveOS/squashfs.img", sq, 4096, 8192))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not errors, errors
        st = status_counts(m)
        assert int(st["read_requests"]) > 0
        assert int(st["read_copies"]) == 0, st
        assert int(st["block_cache_cap_bytes"]) == 2 * MiB
        assert 0 < int(st["block_cache_bytes"]) <= 2 * MiB
        assert int(st["block_cache_evictions"]) > 0
        assert int(st["block_cache_misses"]) > 0


def test_two_streams_keep_their_read_ahead(tmp_path):
    """Two clients reading two files of one remote ISO at the same time
    (an initrd and the root image, say) are two sequential streams: each
    keeps its own read-ahead window, so the server sees a few large
    ranges, not a small request per READ as the two reset one shared
    window."""
    with remote_mount(tmp_path, "t", 11, kernel=MiB, initrd=24 * MiB,
                      squash=24 * MiB) as (ref, ng, m):
        ng.clear_log()
        want = {"initrd": fsutil.expected_initrd(ref),
                "iso/LiveOS/squashfs.img":
                    ref["files"]["LiveOS/squashfs.img"]}
        got, errors = {}, []
        barrier = threading.Barrier(len(want))

        def reader(name):
            try:
                out = []
                with open(os.path.join(m, "boot", "t", name), "rb",
                          buffering=0) as f:
                    barrier.wait(10)
                    while True:
                        c = f.read(128 * 1024)
                        if not c:
                            break
                        out.append(c)
                got[name] = b"".join(out)
            except (OSError, threading.BrokenBarrierError) as e:
                errors.append("%s: %s" % (name, e))

        ts = [threading.Thread(target=reader, args=(n,)) for n in want]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not errors, errors
        for n in want:
            assert got[n] == want[n], n
        ng.settle()
        gets = [e for e in ng.log() if e[0] == "GET"]
        # 48 MiB in two streams: windows of up to 8 MiB make about a
        # dozen ranges; one shared window made a request per READ
        assert len(gets) <= 24, (len(gets), [e[4] for e in gets])


def test_read_ahead_stays_in_the_file(tmp_path):
    """Read-ahead fetches the file being read and stops at its end (the
    bytes after a kernel are another file's, and a short kernel would
    otherwise cost as much again), and no range is fetched twice (a
    fetch that ended while its reader still copied from it once looked
    neither fetching nor cached, and its last blocks were fetched
    again)."""
    B = MiB
    with remote_mount(tmp_path, "e", 13, kernel=6 * MiB + 5,
                      initrd=20 * MiB + 3, squash=20 * MiB) as (ref, ng, m):
        iso = read(ref["iso"])
        for rel in (KERNEL, "images/pxeboot/initrd.img",
                    "LiveOS/squashfs.img"):
            want = ref["files"][rel]
            off = iso.find(want)
            assert off > 0 and iso[off:off + len(want)] == want
            first, last = off // B, (off + len(want) - 1) // B
            ng.clear_log()
            assert read(os.path.join(m, "boot", "e", "iso", rel)) == want
            ng.settle()
            seen = []
            for e in ng.log():
                assert e[0] == "GET", e
                lo, hi = (int(x) for x in e[4].split("=")[1].split("-"))
                assert first * B <= lo and hi < (last + 1) * B, \
                    (rel, "fetched %d-%d, file in blocks %d-%d" %
                     (lo, hi, first, last))
                for a, b in seen:
                    assert hi < a or lo > b, (rel, "fetched twice",
                                              (lo, hi), (a, b))
                seen.append((lo, hi))
            assert seen, rel


def test_read_ahead_fits_a_small_cache(tmp_path):
    """With a block cache smaller than the read-ahead window, a window
    would evict its own blocks before the reader gets to them and fetch
    them again: the window is bounded by a quarter of the cache, so a
    sequential read fetches each block once."""
    B = MiB
    with remote_mount(tmp_path, "w", 17, "cache_size = 4M\n",
                      kernel=MiB, initrd=MiB, squash=24 * MiB) as \
            (ref, ng, m):
        ng.clear_log()
        want = ref["files"]["LiveOS/squashfs.img"]
        got = []
        with open(os.path.join(m, "boot", "w", "iso", "LiveOS",
                               "squashfs.img"), "rb", buffering=0) as f:
            while True:
                c = f.read(128 * 1024)
                if not c:
                    break
                got.append(c)
                time.sleep(0.002)   # a reader slower than the network
        assert b"".join(got) == want
        ng.settle()
        ranges = sorted(tuple(int(x) for x in e[4].split("=")[1].split("-"))
                        for e in ng.log() if e[0] == "GET")
        fetched = sum(hi - lo + 1 for lo, hi in ranges)
        for (a, b), (c, d) in zip(ranges, ranges[1:]):
            assert c > b, ("fetched twice", (a, b), (c, d))
        assert fetched <= len(want) + 2 * B, (fetched, ranges)


def test_replaced_object_reload(setup):
    d, ref, ng, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot", "x")
    old_iso = read(ref["iso"])
    f = open(os.path.join(boot, "x.iso"), "rb", buffering=0)
    got = [f.read(65536)]
    new = replace_on_server(d, ng, 32, kernel=3 * MiB + 5,
                            squash=6 * MiB)
    fs.hup()
    new_kernel = new["files"][KERNEL]

    def renewed():
        # until the reload is done the old tree answers EIO: its
        # version is gone from the server
        try:
            return read(os.path.join(boot, "linux")) == new_kernel
        except OSError as e:
            assert e.errno == errno.EIO
            return False
    wait_for(renewed, 10, "new version after reload")
    # the old handle: old bytes, or EIO once uncached ranges are asked
    eio = False
    while True:
        try:
            c = f.read(65536)
        except OSError as e:
            assert e.errno == errno.EIO, e
            eio = True
            break
        if not c:
            break
        got.append(c)
    f.close()
    data = b"".join(got)
    assert data == old_iso[:len(data)], "reader saw a mix of versions"
    assert eio or data == old_iso
    assert read(os.path.join(boot, "x.iso")) == read(new["iso"])


def replace_on_server(d, ng, seed, kernel, squash):
    """A new version of x.iso (made under d/new, with a later mtime so
    its identity changes) renamed over the one nginx serves; returns
    make_iso's description of it."""
    os.makedirs(os.path.join(d, "new"))
    new = fsutil.make_iso(os.path.join(d, "new"), "x", seed,
                          kernel=kernel, initrd=MiB + 3, squash=squash)
    fsutil.install_iso(new)
    tmp = os.path.join(ng.www, "x.iso.new")
    shutil.copy(new["iso"], tmp)
    os.utime(tmp, (time.time() + 5, time.time() + 5))
    os.rename(tmp, os.path.join(ng.www, "x.iso"))
    return new


def generation(fs):
    st = read(os.path.join(fs.mnt, ".bootshelf", "status")).decode()
    for line in st.splitlines():
        if line.startswith("generation: "):
            return int(line.split()[1])
    raise AssertionError(st)


def reload(fs):
    g = generation(fs)
    fs.hup()
    wait_for(lambda: generation(fs) > g, 10, "reload")


def test_refresh_interval(tmp_path):
    """refresh = 1h: reloads trust the identity without a HEAD request,
    until a read finds the object replaced."""
    d = str(tmp_path)
    ref = fsutil.make_iso(d, "x", 41, kernel=MiB + 5, initrd=MiB + 3,
                          squash=6 * MiB)
    fsutil.install_iso(ref)
    ng = Nginx(tmp_path / "nginx")
    shutil.copy2(ref["iso"], os.path.join(ng.www, "x.iso"))
    cat = os.path.join(d, "catalog.conf")
    remote_catalog(cat, [("x", "url", ng.url + "/x.iso")],
                   "cache = none\nrefresh = 1h\n")
    m = os.path.join(d, "mnt")
    os.mkdir(m)
    fs = FsMount(cat, m, allowed_log=("changed on the server",))
    try:
        boot = os.path.join(m, "boot", "x")
        heads = lambda: [e[0] for e in ng.log()].count("HEAD")
        assert read(os.path.join(boot, "linux")) == ref["files"][KERNEL]
        assert heads() == 1
        reload(fs)
        reload(fs)
        assert heads() == 1, "a reload inside the refresh interval asked"
        new = replace_on_server(d, ng, 42, kernel=MiB + 5,
                                squash=6 * MiB)
        reload(fs)
        assert heads() == 1
        # an uncached range of the old version: EIO, and the source is
        # marked stale so the next reload asks the server
        with pytest.raises(OSError) as e:
            with open(os.path.join(boot, "x.iso"), "rb") as f:
                f.seek(5 * MiB)
                f.read(4096)
        assert e.value.errno == errno.EIO
        reload(fs)
        assert heads() == 2
        assert read(os.path.join(boot, "linux")) == new["files"][KERNEL]
    finally:
        bad = fs.bad_log_lines()
        assert fs.close() == 0
        ng.close()
    assert not bad, bad


def test_refresh_polls_the_server(tmp_path):
    """refresh = 1s: bootshelf-fs asks the server on that interval by
    itself; an unchanged object costs a HEAD and no reload, a replaced
    one is picked up without a SIGHUP."""
    d = str(tmp_path)
    ref = fsutil.make_iso(d, "x", 43, kernel=MiB + 5, initrd=MiB + 3,
                          squash=2 * MiB)
    fsutil.install_iso(ref)
    ng = Nginx(tmp_path / "nginx")
    shutil.copy2(ref["iso"], os.path.join(ng.www, "x.iso"))
    cat = os.path.join(d, "catalog.conf")
    remote_catalog(cat, [("x", "url", ng.url + "/x.iso")],
                   "cache = none\nrefresh = 1s\n")
    m = os.path.join(d, "mnt")
    os.mkdir(m)
    fs = FsMount(cat, m)
    try:
        boot = os.path.join(m, "boot", "x")
        heads = lambda: [e[0] for e in ng.log()].count("HEAD")
        assert read(os.path.join(boot, "linux")) == ref["files"][KERNEL]
        g0, h0 = generation(fs), heads()
        wait_for(lambda: heads() >= h0 + 2, 15,
                 "two HEAD requests on a 1 s refresh interval")
        assert generation(fs) == g0, "an unchanged object reloaded the tree"
        new = replace_on_server(d, ng, 44, kernel=MiB + 5,
                                squash=2 * MiB)
        wait_for(lambda: read(os.path.join(boot, "linux")) ==
                 new["files"][KERNEL], 15,
                 "the new version served without a SIGHUP")
        assert generation(fs) > g0
    finally:
        bad = fs.bad_log_lines()
        assert fs.close() == 0
        ng.close()
    assert not bad, bad


def test_server_down_at_reload_keeps_entry(setup):
    """A reload while the server is unreachable keeps the entry (and what
    the block cache holds) instead of dropping it from the menus."""
    d, ref, ng, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot", "x")
    with open(os.path.join(boot, "linux"), "rb") as f:
        assert f.read(4096) == ref["files"][KERNEL][:4096]
    fs.allowed_log = ("changed on the server", "keeping the version",
                      "onnect")
    ng.close()
    reload(fs)
    assert os.path.exists(os.path.join(boot, "linux"))
    menu = read(os.path.join(fs.mnt, "pxelinux.cfg", "default")).decode()
    assert "boot/x/linux" in menu
    st = read(os.path.join(fs.mnt, ".bootshelf", "status")).decode()
    assert "[iso x]\nstate: ok" in st
    # bytes not cached cannot be had: EIO, not a hang
    with pytest.raises(OSError) as e:
        with open(os.path.join(boot, "x.iso"), "rb") as f:
            f.seek(os.path.getsize(ref["iso"]) - 4096)
            f.read(4096)
    assert e.value.errno == errno.EIO
    assert "keeping the version known before" in fs.logtext()
