"""NFS export of the bootshelf-fs mount through nfs-ganesha (FSAL_VFS).

rpcbind and ganesha run inside a network namespace (so ports 111 and 2049
are private and nothing leaves the machine) and a private mount namespace
with its own /run (so rpcbind's socket does not clash with the host's).
libnfs clients (nfs-ls, nfs-cat) read over NFSv3 and NFSv4, also after
the kernel evicted the FUSE inodes (drop_caches), which is what breaks
filesystems without export support, and after a reload.
"""
import os
import subprocess
import time

import pytest

from conftest import binpath, stop
from fsutil import (FsMount, install_iso, make_iso, read, wait_for,
                    write_catalog)

GANESHA_CONF = """
NFS_CORE_PARAM {{ Protocols = 3, 4; Enable_NLM = false;
                 Enable_RQUOTA = false; mount_path_pseudo = true; }}
NFSV4 {{ Graceless = true; RecoveryBackend = fs; }}
NFS_KRB5 {{ Active_krb5 = false; }}
MDCACHE {{ Dir_Chunk = 0; }}
EXPORT {{ Export_Id = 1; Path = {path}; Pseudo = /boot;
         Attr_Expiration_Time = 0;
         Protocols = 3, 4; Transports = TCP, UDP; Access_Type = RO;
         Squash = No_root_squash; SecType = sys; FSAL {{ Name = VFS; }} }}
"""

START = """set -e
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /run
ip link set lo up
rpcbind -f -w &
echo $! > {d}/rpcbind.pid
exec ganesha.nfsd -F -f {d}/ganesha.conf -L {d}/ganesha.log \
    -p {d}/ganesha.pid
"""


@pytest.fixture
def nfs(tmp_path):
    d = str(tmp_path)
    ns = "bsfs%d" % os.getpid()
    ref = make_iso(d, "fed", seed=31)
    install_iso(ref)
    cat = os.path.join(d, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    m = os.path.join(d, "tftpboot")
    os.mkdir(m)
    fs = FsMount(cat, m)
    with open(os.path.join(d, "ganesha.conf"), "w") as f:
        f.write(GANESHA_CONF.format(path=m))
    with open(os.path.join(d, "start.sh"), "w") as f:
        f.write(START.format(d=d))
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
    proc = None
    rpcbind = None
    try:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "-m",
                                 "sh", os.path.join(d, "start.sh")],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)

        def client(*args):
            return subprocess.run(["ip", "netns", "exec", ns] + list(args),
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=60)

        def ready():
            if proc.poll() is not None:
                raise AssertionError("ganesha exited: %s" %
                                     proc.stdout.read().decode())
            return client("nfs-ls", "nfs://127.0.0.1/boot/").returncode == 0
        wait_for(ready, 60, "ganesha export")
        yield d, ref, cat, fs, client
    finally:
        if os.path.exists(os.path.join(d, "rpcbind.pid")):
            with open(os.path.join(d, "rpcbind.pid")) as f:
                rpcbind = int(f.read().strip() or 0)
        stop(proc)
        if rpcbind:
            try:
                os.kill(rpcbind, 15)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", ns], timeout=30)
        bad = fs.bad_log_lines()
        assert fs.close() == 0
        assert not bad, bad


def test_nfs_ganesha_export(nfs):
    d, ref, cat, fs, client = nfs
    want = ref["files"]["LiveOS/squashfs.img"]
    base = "nfs://127.0.0.1/boot/boot/fed/iso/"

    def ls(what, path, ver, names):
        p = client("nfs-ls", base + path + ver)
        assert p.returncode == 0, (what, ver, path, p.stderr)
        for n in names:
            assert n in p.stdout.decode(), (what, ver, path, p.stdout)

    def ncat(what, path, ver, data):
        p = client("nfs-cat", base + path + ver)
        assert p.returncode == 0, (what, ver, path, p.stderr)
        assert p.stdout == data, (what, ver, path, len(p.stdout))

    def evict():
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        time.sleep(0.2)

    def check(what):
        """Names first (ganesha keeps their handles, no open fds), then
        evict, then use the handles: the kernel must find the nodes
        again by nodeid."""
        for ver in ("", "?version=4"):
            ls(what, "", ver, ("LiveOS", "images", "EFI"))
            ls(what, "images/pxeboot/", ver, ("vmlinuz", "initrd.img"))
            ls(what, "EFI/BOOT/", ver, ("grub.cfg",))
            ls(what, "LiveOS/", ver, ("squashfs.img",))
            evict()
            ls(what, "images/pxeboot/", ver, ("vmlinuz", "initrd.img"))
            ncat(what, "EFI/BOOT/grub.cfg", ver,
                ref["files"]["EFI/BOOT/grub.cfg"])
            evict()
            ncat(what, "images/pxeboot/vmlinuz", ver,
                ref["files"]["images/pxeboot/vmlinuz"])
            evict()
            ncat(what, "LiveOS/squashfs.img", ver, want)

    check("first pass")
    check("second pass")
    # a reload that changes other entries keeps these handles valid
    other = make_iso(d, "other", seed=32)
    install_iso(other)
    write_catalog(cat, [("fed", ref["iso"]), ("other", other["iso"])])
    wait_for(lambda: os.path.exists(os.path.join(fs.mnt, "boot", "other")),
             5, "reload")
    check("after reload")
    p = client("nfs-ls", "nfs://127.0.0.1/boot/boot/")
    assert "other" in p.stdout.decode()


def fh_get(path):
    p = subprocess.run([binpath("fhandle"), "get", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().strip()


def fh_cat(mnt, handle):
    return subprocess.run([binpath("fhandle"), "cat", mnt, handle],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)


def test_file_handles(tmp_path):
    """What knfsd and FSAL_VFS do: name_to_handle_at, the kernel forgets
    the inodes, open_by_handle_at.  Also across a reload and a daemon
    restart (nodeids are content-derived), and ESTALE for a replaced
    file."""
    d = str(tmp_path)
    ref = make_iso(d, "fed", seed=41)
    install_iso(ref)
    cat = os.path.join(d, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    m = os.path.join(d, "tftpboot")
    os.makedirs(os.path.join(m, "sub"))
    with open(os.path.join(m, "sub", "pxelinux.0"), "wb") as f:
        f.write(b"underlay file\n")
    names = {
        "boot/fed/linux": ref["files"]["images/pxeboot/vmlinuz"],
        "boot/fed/iso/LiveOS/squashfs.img":
            ref["files"]["LiveOS/squashfs.img"],
        "boot/fed/iso/LiveOS": None,
        "boot/fed/iso/images/pxeboot": None,
        "sub/pxelinux.0": b"underlay file\n",
        "sub": None,
    }

    def evict():
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")

    def check(fs, handles, what):
        for name, want in names.items():
            p = fh_cat(fs.mnt, handles[name])
            assert p.returncode == 0, (what, name, p.stderr)
            if want is None:
                ino = os.stat(os.path.join(fs.mnt, name)).st_ino
                assert p.stdout == b"dir %d\n" % ino, (what, name)
            else:
                assert p.stdout == want, (what, name)

    fs = FsMount(cat, m)
    try:
        handles = {n: fh_get(os.path.join(m, n)) for n in names}
        evict()
        check(fs, handles, "after eviction")
        other = make_iso(d, "other", seed=42)
        install_iso(other)
        write_catalog(cat, [("fed", ref["iso"]), ("other", other["iso"])])
        wait_for(lambda: os.path.exists(os.path.join(m, "boot", "other")),
                 5, "reload")
        evict()
        check(fs, handles, "after a reload")
    finally:
        assert fs.close() == 0
    fs = FsMount(cat, m)
    try:
        evict()
        check(fs, handles, "after a restart")
        # replace the ISO: the old kernel's handle goes stale once the
        # snapshot it came from is gone (the previous one is kept)
        new = make_iso(d, "fed", seed=43)
        install_iso(new)
        linux = os.path.join(m, "boot", "fed", "linux")
        wait_for(lambda: read(linux) == new["files"]["images/pxeboot/vmlinuz"],
                 5, "new kernel")
        st = read(os.path.join(m, ".bootshelf", "status"))
        fs.hup()
        wait_for(lambda: read(os.path.join(m, ".bootshelf", "status")) != st,
                 5, "second reload")
        evict()
        p = fh_cat(m, handles["boot/fed/linux"])
        assert p.returncode == 3 and b"Stale" in p.stderr, p.stderr
        p = fh_cat(m, handles["boot/fed/iso/LiveOS"])
        assert p.returncode == 0     # directories keep their numbers
    finally:
        assert fs.close() == 0
