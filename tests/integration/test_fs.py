"""bootshelf-fs: byte-exact reads, read-only refusals, underlay, lookups.

Each test mounts a fresh tree over a private directory and unmounts it.
"""
import errno
import os
import random
import subprocess

import pytest

from conftest import binpath
from fsutil import (FsMount, expected_initrd, install_iso, make_iso,
                    osirrox_extract, pad4, parse_newc, read, write_catalog)


@pytest.fixture(scope="module")
def iso(tmp_path_factory):
    d = tmp_path_factory.mktemp("iso")
    ref = make_iso(str(d), "fed", seed=1)
    install_iso(ref)
    return ref


@pytest.fixture
def mnt(tmp_path, iso):
    cat = str(tmp_path / "catalog.conf")
    write_catalog(cat, [("fed", iso["iso"])])
    m = str(tmp_path / "tftpboot")
    os.mkdir(m)
    with open(os.path.join(m, "pxelinux.0"), "wb") as f:
        f.write(b"underlay pxelinux\n")
    os.makedirs(os.path.join(m, "sub", "deeper"))
    with open(os.path.join(m, "sub", "deeper", "file.txt"), "w") as f:
        f.write("deep underlay file\n")
    os.symlink("pxelinux.0", os.path.join(m, "inside-link"))
    os.symlink("/etc/passwd", os.path.join(m, "escape-abs"))
    os.symlink("../../../../../../etc/passwd",
               os.path.join(m, "escape-rel"))
    os.symlink("../..", os.path.join(m, "sub", "up"))
    os.makedirs(os.path.join(m, "boot"))     # hidden by the tree's boot/
    fs = FsMount(cat, m, allowed_log=("is hidden by the catalog tree",))
    yield fs
    bad = fs.bad_log_lines()
    assert fs.close() == 0
    assert not bad, bad


def test_reads_byte_identical(mnt, iso, tmp_path):
    boot = os.path.join(mnt.mnt, "boot", "fed")
    files = iso["files"]
    assert read(os.path.join(boot, "linux")) == \
        files["images/pxeboot/vmlinuz"]
    initrd = read(os.path.join(boot, "initrd"))
    assert initrd == expected_initrd(iso)
    isodata = read(iso["iso"])
    assert read(os.path.join(boot, "fed.iso")) == isodata

    # iso.cpio: one newc member holding the whole ISO, then the trailer
    cpio = read(os.path.join(boot, "iso.cpio"))
    members = parse_newc(cpio)
    assert len(members) == 1
    assert members[0][2] == isodata
    # initrd+iso = initrd, zero pad to 4, iso.cpio
    raw = files["images/pxeboot/initrd.img"]
    expect = raw + b"\0" * pad4(len(raw)) + cpio
    assert read(os.path.join(boot, "initrd+iso")) == expect

    # a file of the ISO's own tree, against xorriso's extraction
    ref = osirrox_extract(iso["iso"], "LiveOS/squashfs.img",
                          str(tmp_path / "squash.ref"))
    assert read(os.path.join(boot, "iso", "LiveOS", "squashfs.img")) == ref
    assert os.stat(os.path.join(boot, "initrd+iso")).st_size == len(expect)


def test_random_offset_reads(mnt, iso):
    """pread at odd offsets and sizes crossing segment boundaries."""
    raw = iso["files"]["images/pxeboot/initrd.img"]
    cpio = read(os.path.join(mnt.mnt, "boot", "fed", "iso.cpio"))
    expect = raw + b"\0" * pad4(len(raw)) + cpio
    rng = random.Random(7)
    fd = os.open(os.path.join(mnt.mnt, "boot", "fed", "initrd+iso"),
                 os.O_RDONLY)
    try:
        points = [len(raw) - 1, len(raw), len(raw) + 2, len(expect) - 5]
        points += [rng.randrange(len(expect)) for _ in range(200)]
        for off in points:
            n = rng.choice([1, 3, 4096, 65536, 300000])
            assert os.pread(fd, n, off) == expect[off:off + n], off
        assert os.pread(fd, 100, len(expect) + 10) == b""
    finally:
        os.close(fd)


def test_attributes(mnt):
    st = os.stat(os.path.join(mnt.mnt, "boot", "fed", "linux"))
    assert st.st_mode & 0o7777 == 0o444
    assert st.st_uid == 0
    dst = os.stat(os.path.join(mnt.mnt, "boot", "fed"))
    assert dst.st_mode & 0o7777 == 0o555
    # readdir's d_ino equals stat's st_ino (needed for NFS export)
    for d in ["", "boot", "boot/fed", "boot/fed/iso/LiveOS", "sub"]:
        p = os.path.join(mnt.mnt, d)
        with os.scandir(p) as it:
            for e in it:
                assert e.inode() == os.stat(e.path, follow_symlinks=False).st_ino, e.path
    # "." and ".." are listed by the filesystem itself
    out = subprocess.run(["ls", "-a", os.path.join(mnt.mnt, "boot")],
                         stdout=subprocess.PIPE, check=True).stdout.split()
    assert b"." in out and b".." in out
    # inode numbers are the same after a remount (content-derived)
    assert os.statvfs(mnt.mnt).f_flag & os.ST_RDONLY


def test_writes_refused(mnt):
    linux = os.path.join(mnt.mnt, "boot", "fed", "linux")
    under = os.path.join(mnt.mnt, "pxelinux.0")
    checks = [
        lambda: os.open(linux, os.O_WRONLY),
        lambda: os.open(linux, os.O_RDWR),
        lambda: os.open(under, os.O_WRONLY),
        lambda: os.open(linux, os.O_RDONLY | os.O_TRUNC),
        lambda: os.open(os.path.join(mnt.mnt, "new"),
                        os.O_CREAT | os.O_WRONLY, 0o644),
        lambda: os.mkdir(os.path.join(mnt.mnt, "newdir")),
        lambda: os.unlink(linux),
        lambda: os.unlink(under),
        lambda: os.rmdir(os.path.join(mnt.mnt, "sub")),
        lambda: os.rename(linux, linux + ".x"),
        lambda: os.symlink("x", os.path.join(mnt.mnt, "lnk")),
        lambda: os.link(linux, os.path.join(mnt.mnt, "hard")),
        lambda: os.chmod(linux, 0o644),
        lambda: os.truncate(linux, 0),
        lambda: os.setxattr(linux, "user.x", b"1"),
        lambda: os.mknod(os.path.join(mnt.mnt, "fifo"), 0o600 | 0o010000),
    ]
    for i, fn in enumerate(checks):
        with pytest.raises(OSError) as ei:
            fn()
        assert ei.value.errno == errno.EROFS, (i, ei.value)
    # nothing was written to the underlay either
    listing = set(os.listdir(mnt.mnt))
    assert not listing & {"new", "newdir", "lnk", "hard", "fifo"}
    assert {".bootshelf", "boot", "pxelinux.cfg", "pxelinux.0", "sub",
            "inside-link"} <= listing


def test_underlay(mnt):
    m = mnt.mnt
    assert read(os.path.join(m, "pxelinux.0")) == b"underlay pxelinux\n"
    assert read(os.path.join(m, "sub", "deeper", "file.txt")) == \
        b"deep underlay file\n"
    # a symlink inside the underlay is followed and shown as its target
    assert read(os.path.join(m, "inside-link")) == b"underlay pxelinux\n"
    assert not os.path.islink(os.path.join(m, "inside-link"))
    # symlinks leaving the underlay are refused, absolute or relative
    for name in ["escape-abs", "escape-rel", "sub/up"]:
        with pytest.raises(FileNotFoundError):
            read(os.path.join(m, name))
    with pytest.raises(FileNotFoundError):
        os.stat(os.path.join(m, "sub", "up", "pxelinux.0"))
    # ".." from an underlay directory is the tree's root
    assert os.stat(os.path.join(m, "sub", "deeper", "..", "..")).st_ino == \
        os.stat(m).st_ino
    # the catalog tree wins over an underlay name, and says so once
    assert sorted(os.listdir(os.path.join(m, "boot"))) == ["fed"]
    for _ in range(2):
        assert os.listdir(m).count("boot") == 1
    log = mnt.logtext()
    assert log.count('"boot" is hidden by the catalog tree') == 1
    # underlay inode numbers are in their own space
    assert os.stat(os.path.join(m, "pxelinux.0")).st_ino >= 1 << 63
    assert os.stat(os.path.join(m, "boot", "fed", "linux")).st_ino < 1 << 63


def test_negative_lookup_twice(mnt):
    p = os.path.join(mnt.mnt, "pxelinux.cfg", "01-aa-bb-cc-dd-ee-ff")
    for _ in range(2):
        assert not os.path.exists(p)
        with pytest.raises(FileNotFoundError):
            open(p, "rb")
    assert os.path.exists(os.path.join(mnt.mnt, "pxelinux.cfg", "default"))


def test_status_file(mnt):
    text = read(os.path.join(mnt.mnt, ".bootshelf", "status")).decode()
    assert "[iso fed]" in text
    assert "state: ok" in text
    # no remote ISO: no block cache made, none reported
    assert "block_cache_bytes" not in text


def test_process_name(mnt):
    """The daemon executes itself again to set glibc's malloc tunable:
    it must keep its name (ps, pidof, journal), not become "exe"."""
    with open("/proc/%d/comm" % mnt.proc.pid) as f:
        assert f.read().strip() == "bootshelf-fs"


def test_busy_mountpoint_refused(mnt, tmp_path):
    p = subprocess.run([binpath("bootshelf-fs"), "-f", mnt.catalog, mnt.mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    assert p.returncode != 0
    assert b"busy" in p.stdout


def test_help_and_version():
    p = subprocess.run([binpath("bootshelf-fs"), "--help"],
                       stdout=subprocess.PIPE, check=True, timeout=10)
    assert b"usage: bootshelf-fs" in p.stdout and b"--uid" in p.stdout
    p = subprocess.run([binpath("bootshelf-fs"), "--version"],
                       stdout=subprocess.PIPE, check=True, timeout=10)
    assert p.stdout.startswith(b"bootshelf-fs ")


def test_invalid_catalog_refused_at_start(tmp_path):
    cat = tmp_path / "bad.conf"
    cat.write_text("[iso broken\npath = relative\n")
    m = tmp_path / "m"
    m.mkdir()
    p = subprocess.run([binpath("bootshelf-fs"), "-f", str(cat), str(m)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    assert p.returncode == 1
    assert b"bad.conf:1" in p.stdout
    assert not os.path.ismount(str(m))


def test_sigterm_unmounts(tmp_path, iso):
    cat = str(tmp_path / "catalog.conf")
    write_catalog(cat, [("fed", iso["iso"])])
    m = str(tmp_path / "m")
    os.mkdir(m)
    fs = FsMount(cat, m)
    try:
        assert os.listdir(os.path.join(m, "boot")) == ["fed"]
        fs.proc.terminate()
        assert fs.proc.wait(20) == 0
        assert not os.path.ismount(m)
    finally:
        fs.close()


def test_missing_dev_fuse_refused(tmp_path, iso):
    cat = str(tmp_path / "catalog.conf")
    write_catalog(cat, [("fed", iso["iso"])])
    m = str(tmp_path / "m")
    os.mkdir(m)
    # a private mount namespace whose /dev has no fuse device
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-c", 'mount -t tmpfs none /dev && exec "$0" -f '
                        '"$1" "$2"', binpath("bootshelf-fs"), cat, m],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    assert p.returncode == 1, p.stdout
    assert b"/dev/fuse" in p.stdout and b"modprobe fuse" in p.stdout


def test_uid_gid_options(tmp_path, iso):
    cat = str(tmp_path / "catalog.conf")
    write_catalog(cat, [("fed", iso["iso"])])
    m = str(tmp_path / "m")
    os.mkdir(m)
    fs = FsMount(cat, m, args=("--uid", "65534", "--gid", "nogroup"))
    try:
        for p in ("boot", "boot/fed/linux", "pxelinux.cfg/default"):
            st = os.stat(os.path.join(m, p))
            assert (st.st_uid, st.st_gid) == (65534, 65534), p
    finally:
        assert fs.close() == 0
