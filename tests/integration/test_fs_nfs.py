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

from conftest import stop
from fsutil import (FsMount, install_iso, make_iso, read, wait_for,
                    write_catalog)

GANESHA_CONF = """
NFS_CORE_PARAM {{ Protocols = 3, 4; Enable_NLM = false;
                 Enable_RQUOTA = false; mount_path_pseudo = true; }}
NFSV4 {{ Graceless = true; RecoveryBackend = fs; }}
NFS_KRB5 {{ Active_krb5 = false; }}
EXPORT {{ Export_Id = 1; Path = {path}; Pseudo = /boot;
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

    def check(what):
        for ver in ("", "?version=4"):
            p = client("nfs-ls", base + ver)
            assert p.returncode == 0, (what, ver, p.stderr)
            names = p.stdout.decode()
            for n in ("LiveOS", "images", "EFI"):
                assert n in names, (what, ver, names)
            p = client("nfs-cat", base + "LiveOS/squashfs.img" + ver)
            assert p.returncode == 0, (what, ver, p.stderr)
            assert p.stdout == want, (what, ver, len(p.stdout))
            p = client("nfs-cat", "nfs://127.0.0.1/boot/boot/fed/linux" +
                       ver)
            assert p.stdout == ref["files"]["images/pxeboot/vmlinuz"], \
                (what, ver)

    check("first read")
    # the kernel forgets the FUSE inodes; ganesha's handles must still
    # resolve (LOOKUP(nodeid, ".") and (dir, ".."))
    for _ in range(2):
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        time.sleep(0.2)
        check("after drop_caches")
    # a reload that changes other entries keeps these handles valid
    other = make_iso(d, "other", seed=32)
    install_iso(other)
    write_catalog(cat, [("fed", ref["iso"]), ("other", other["iso"])])
    wait_for(lambda: os.path.exists(os.path.join(fs.mnt, "boot", "other")),
             5, "reload")
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")
    check("after reload")
    p = client("nfs-ls", "nfs://127.0.0.1/boot/boot/")
    assert "other" in p.stdout.decode()
