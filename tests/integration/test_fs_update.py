"""bootshelf-fs live updates: ISO replaced by rename, catalog edits,
invalid catalogs, reload storms with readers, ISO rewritten in place."""
import hashlib
import os
import threading
import time

import pytest

from fsutil import (FsMount, install_iso, make_iso, pad4, parse_newc, read,
                    wait_for, write_catalog)


def initrd_iso_expect(ref, isodata, cpio_from_mount):
    raw = ref["files"]["images/pxeboot/initrd.img"]
    assert parse_newc(cpio_from_mount)[0][2] == isodata
    return raw + b"\0" * pad4(len(raw)) + cpio_from_mount


@pytest.fixture
def setup(tmp_path, request):
    d = str(tmp_path)
    ref = make_iso(d, "fed", seed=11)
    install_iso(ref)
    cat = os.path.join(d, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    m = os.path.join(d, "mnt")
    os.mkdir(m)
    fs = FsMount(cat, m, allowed_log=("reload failed", "catalog.conf:",
                                      "rewritten in place"),
                 asan=getattr(request, "param", False))
    yield d, ref, cat, fs
    bad = fs.bad_log_lines()
    assert fs.close() == 0
    assert not bad, bad


def test_iso_replaced_by_rename(setup):
    d, ref, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot", "fed")
    old_iso = read(ref["iso"])
    old = initrd_iso_expect(ref, old_iso, read(os.path.join(boot, "iso.cpio")))
    old_ino = os.stat(os.path.join(boot, "initrd+iso")).st_ino

    # a slow reader holds initrd+iso open across the replacement
    f = open(os.path.join(boot, "initrd+iso"), "rb", buffering=0)
    got = [f.read(65536)]
    new = make_iso(d, "fed", seed=12, initrd=(1 << 20) + 1)
    t0 = time.monotonic()
    install_iso(new)
    # the tree shows the change (new inode number) within a second
    wait_for(lambda: os.stat(os.path.join(boot, "initrd+iso")).st_ino
             != old_ino, 5, "new initrd+iso")
    took = time.monotonic() - t0
    print("ISO replaced by rename: visible in the tree after %.3f s" % took)
    assert took < 1.0

    while True:
        chunk = f.read(65536)
        if not chunk:
            break
        got.append(chunk)
        time.sleep(0.001)
    f.close()
    assert b"".join(got) == old, "reader saw a mix of versions"

    new_iso = read(new["iso"])
    assert read(os.path.join(boot, "fed.iso")) == new_iso
    assert read(os.path.join(boot, "linux")) == \
        new["files"]["images/pxeboot/vmlinuz"]
    assert read(os.path.join(boot, "initrd+iso")) == initrd_iso_expect(
        new, new_iso, read(os.path.join(boot, "iso.cpio")))


def test_catalog_rename_adds_entry(setup):
    d, ref, cat, fs = setup
    second = os.path.join(fs.mnt, "boot", "second")
    assert not os.path.exists(second)     # cached as a negative entry
    t0 = time.monotonic()
    write_catalog(cat, [("fed", ref["iso"]), ("second", ref["iso"])])
    wait_for(lambda: os.path.exists(os.path.join(second, "linux")), 5,
             "boot/second")
    print("catalog edit: visible after %.3f s" % (time.monotonic() - t0))
    assert read(os.path.join(second, "linux")) == \
        ref["files"]["images/pxeboot/vmlinuz"]
    assert sorted(os.listdir(os.path.join(fs.mnt, "boot"))) == \
        ["fed", "second"]
    # and removed again
    write_catalog(cat, [("fed", ref["iso"])])
    wait_for(lambda: not os.path.exists(second), 5, "boot/second gone")


def test_catalog_syntax_error_keeps_tree(setup):
    d, ref, cat, fs = setup
    status = os.path.join(fs.mnt, ".bootshelf", "status")
    linux = os.path.join(fs.mnt, "boot", "fed", "linux")
    tmp = cat + ".new"
    with open(tmp, "w") as f:
        f.write("[iso fed]\npath = %s\n[iso broken\n" % ref["iso"])
    os.rename(tmp, cat)
    wait_for(lambda: b"catalog_state: invalid" in read(status), 5,
             "status shows error")
    text = read(status).decode()
    assert "catalog.conf:3" in text, text
    assert read(linux) == ref["files"]["images/pxeboot/vmlinuz"]
    assert "reload failed" in fs.logtext()
    # fixing the file recovers
    write_catalog(cat, [("fed", ref["iso"]), ("again", ref["iso"])])
    wait_for(lambda: os.path.exists(os.path.join(fs.mnt, "boot", "again")),
             5, "recovered")
    assert b"catalog_state: ok" in read(status)


@pytest.mark.parametrize("setup", [True], indirect=True, ids=["asan"])
def test_parallel_readers_during_reloads(setup):
    d, ref, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot", "fed")
    names = ["initrd+iso", "linux", "fed.iso", "iso.cpio"]
    want = {n: hashlib.sha256(read(os.path.join(boot, n))).hexdigest()
            for n in names}
    time.sleep(0.3)
    fds_before = fs.fd_count()
    errors = []
    stop = threading.Event()
    rounds = [0] * 16

    def reader(i):
        try:
            while not stop.is_set() or rounds[i] < 2:
                n = names[(i + rounds[i]) % len(names)]
                h = hashlib.sha256()
                with open(os.path.join(boot, n), "rb") as f:
                    while True:
                        b = f.read(100000 + i * 1000)
                        if not b:
                            break
                        h.update(b)
                if h.hexdigest() != want[n]:
                    errors.append("reader %d: %s differs" % (i, n))
                rounds[i] += 1
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append("reader %d: %r" % (i, e))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    status = os.path.join(fs.mnt, ".bootshelf", "status")
    for _ in range(50):
        fs.hup()
        time.sleep(0.01)
    wait_for(lambda: b"reloads: 0\n" not in read(status), 10, "reloads")
    stop.set()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert fs.proc.poll() is None
    text = read(status).decode()
    reloads = int(text.split("reloads: ")[1].split()[0])
    print("50 SIGHUPs -> %d reloads, %s reader passes" % (reloads,
                                                         sum(rounds)))
    assert reloads >= 1
    # no leaked descriptors once every handle is released
    try:
        wait_for(lambda: fs.fd_count() == fds_before, 10, "fd count settles")
    except AssertionError:
        raise AssertionError("fds %d -> %d: %s" % (
            fds_before, fs.fd_count(),
            sorted(os.readlink("/proc/%d/fd/%s" % (fs.proc.pid, f))
                   for f in os.listdir("/proc/%d/fd" % fs.proc.pid))))


def test_iso_rewritten_in_place_warns(setup):
    d, ref, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot", "fed")
    with open(os.path.join(boot, "fed.iso"), "rb") as f:
        f.read(4096)
        with open(ref["iso"], "r+b") as w:
            w.seek(1 << 20)
            w.write(b"rewritten")
        os.utime(ref["iso"], (1, 1))
        time.sleep(1.1)
        f.read(1 << 20)
    wait_for(lambda: "rewritten in place" in fs.logtext(), 5, "warning")
    assert "replace ISO files by rename" in fs.logtext()


def test_dropin_and_late_iso(setup):
    """A catalog.d/ drop-in adds an entry; an ISO that appears later at a
    path the catalog already names shows up, and goes away when removed."""
    d, ref, cat, fs = setup
    boot = os.path.join(fs.mnt, "boot")
    dropin = os.path.join(d, "catalog.d")
    os.mkdir(dropin)
    tmp = os.path.join(dropin, "late.conf.tmp")
    late_path = os.path.join(d, "isos", "late.iso")
    os.mkdir(os.path.dirname(late_path))
    with open(tmp, "w") as f:
        f.write("[iso late]\npath = %s\n" % late_path)
    os.rename(tmp, os.path.join(dropin, "late.conf"))
    status = os.path.join(fs.mnt, ".bootshelf", "status")
    wait_for(lambda: b"[iso late]" in read(status), 5, "drop-in read")
    assert not os.path.exists(os.path.join(boot, "late"))
    late = make_iso(os.path.dirname(late_path), "late", seed=13)
    t0 = time.monotonic()
    install_iso(late)
    wait_for(lambda: os.path.exists(os.path.join(boot, "late", "linux")), 5,
             "late ISO")
    print("ISO added: visible after %.3f s" % (time.monotonic() - t0))
    assert read(os.path.join(boot, "late", "linux")) == \
        late["files"]["images/pxeboot/vmlinuz"]
    os.unlink(late_path)
    wait_for(lambda: not os.path.exists(os.path.join(boot, "late")), 5,
             "late ISO removed")


def test_unchanged_files_keep_inodes(setup):
    """A reload that changes one host leaves every other file (and its
    cached pages) alone: same inode numbers, generated configs
    included."""
    d, ref, cat, fs = setup
    hosts = [("52:54:00:00:00:%02x" % i, "fed") for i in range(4)]
    write_catalog(cat, [("fed", ref["iso"])], hosts)
    pxe = os.path.join(fs.mnt, "pxelinux.cfg")
    wait_for(lambda: os.path.exists(os.path.join(pxe, "01-52-54-00-00-00-03")),
             5, "host configs")

    def inodes():
        out = {}
        for top in ("pxelinux.cfg", "grub", "ipxe", "boot/fed"):
            for e in os.scandir(os.path.join(fs.mnt, top)):
                out[top + "/" + e.name] = e.inode()
        return out

    before = inodes()
    fs.hup()                                   # nothing changed
    write_catalog(cat, [("fed", ref["iso"]), ("two", ref["iso"])],
                  hosts[:3] + [(hosts[3][0], "two")])
    wait_for(lambda: os.path.exists(os.path.join(fs.mnt, "boot", "two")), 5,
             "boot/two")
    after = inodes()
    changed = sorted(k for k in before if after.get(k) != before[k])
    # only the moved host's configs (and menus that list the new entry)
    assert changed and all("52-54-00-00-00-03" in k or k in (
        "pxelinux.cfg/default", "grub/grub.cfg", "ipxe/boot.ipxe")
        for k in changed), changed
    for k in ("pxelinux.cfg/01-52-54-00-00-00-00", "boot/fed/linux",
              "boot/fed/initrd+iso"):
        assert after[k] == before[k], k
