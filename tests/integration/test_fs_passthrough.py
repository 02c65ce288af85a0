"""bootshelf-fs FUSE passthrough: run as root without --user, the whole
ISO file (boot/<name>/<name>.iso) is read by the kernel straight from the
ISO, with no READ request reaching the daemon; --no-passthrough and
--user turn it off.  One backing file per inode, so many opens, reloads
and an ISO replaced under a reader all keep working."""
import hashlib
import os
import threading

import pytest

from fsutil import FsMount, install_iso, make_iso, read, wait_for, \
    write_catalog


def kernel_has_passthrough():
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    return (major, minor) >= (6, 9)


pytestmark = pytest.mark.skipif(
    not kernel_has_passthrough(),
    reason="FUSE passthrough needs Linux 6.9 or later (running %s)" %
    os.uname().release)


def status(mnt):
    """The top block of .bootshelf/status as a dict."""
    text = read(os.path.join(mnt, ".bootshelf", "status")).decode()
    return dict(l.split(": ", 1) for l in text.split("\n\n")[0].splitlines())


def read_bytes(mnt):
    return int(status(mnt)["read_request_bytes"])


@pytest.fixture
def setup(wdir):
    d = wdir
    ref = make_iso(d, "fed", seed=21, squash=8 << 20)
    install_iso(ref)
    cat = os.path.join(d, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    m = os.path.join(d, "mnt")
    os.mkdir(m)
    return d, ref, cat, m


def test_iso_read_by_the_kernel(setup):
    d, ref, cat, m = setup
    fs = FsMount(cat, m)
    try:
        assert status(m)["passthrough"] == "on", fs.logtext()
        boot = os.path.join(m, "boot", "fed")
        before = read_bytes(m)
        assert read(os.path.join(boot, "fed.iso")) == read(ref["iso"])
        # mmap and pread through the same file, too
        with open(os.path.join(boot, "fed.iso"), "rb") as f:
            assert os.pread(f.fileno(), 4096, 1 << 20) == \
                read(ref["iso"])[1 << 20:(1 << 20) + 4096]
        assert read_bytes(m) == before, "ISO reads reached the daemon"
        st = status(m)
        assert int(st["passthrough_opens"]) == 2, st
        # files that are a part of the ISO still go through the daemon
        assert read(os.path.join(boot, "linux")) == \
            ref["files"]["images/pxeboot/vmlinuz"]
        assert read_bytes(m) >= before + (3 << 20)
        assert "passthrough on" in fs.logtext()
        assert not fs.bad_log_lines(), fs.bad_log_lines()
    finally:
        assert fs.close() == 0


@pytest.mark.parametrize("args", [["--no-passthrough"],
                                  ["--user", "nobody"]])
def test_off(setup, args):
    d, ref, cat, m = setup
    fs = FsMount(cat, m, args)
    try:
        assert status(m)["passthrough"] == "off"
        before = read_bytes(m)
        iso = read(ref["iso"])
        assert read(os.path.join(m, "boot", "fed", "fed.iso")) == iso
        assert read_bytes(m) >= before + len(iso)
        assert status(m)["passthrough_opens"] == "0"
        assert "passthrough" not in fs.logtext()
    finally:
        assert fs.close() == 0


def test_replaced_under_reader_and_reloads(setup):
    """A reader keeps the ISO it opened while a new one is renamed over
    it; 8 threads opening and reading the ISO over and over through 20
    reloads all get whole, right files (one backing file per inode: a
    second one for the same inode would make the kernel refuse the
    open)."""
    d, ref, cat, m = setup
    fs = FsMount(cat, m)
    try:
        assert status(m)["passthrough"] == "on"
        path = os.path.join(m, "boot", "fed", "fed.iso")
        old = read(ref["iso"])
        f = open(path, "rb")
        head = f.read(1 << 20)
        new_ref = make_iso(d, "fed2", seed=22, squash=8 << 20)
        new = read(new_ref["iso"])
        os.rename(new_ref["iso"], ref["iso"])
        wait_for(lambda: read(path) == new, 5, "new ISO served")
        rest = f.read()
        f.close()
        assert head + rest == old, "old reader saw other bytes"

        sums = {hashlib.sha256(new).hexdigest()}
        errors, done = [], threading.Event()

        def reader():
            while not done.is_set():
                try:
                    with open(path, "rb") as g:
                        h = hashlib.sha256(g.read()).hexdigest()
                    if h not in sums:
                        errors.append("wrong bytes")
                except OSError as e:
                    errors.append(e.errno)

        ts = [threading.Thread(target=reader) for _ in range(8)]
        for t in ts:
            t.start()
        try:
            for i in range(20):
                g = status(m)["generation"]
                fs.hup()
                wait_for(lambda: status(m)["generation"] != g, 5,
                         "reload %d" % i)
        finally:
            done.set()
            for t in ts:
                t.join(30)
        assert not errors, errors[:10]
        assert int(status(m)["passthrough_opens"]) > 20
        assert not fs.bad_log_lines(), fs.bad_log_lines()
    finally:
        assert fs.close() == 0
