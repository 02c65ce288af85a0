"""NFS export of the bootshelf-fs mount through nfs-ganesha (FSAL_VFS).

rpcbind and ganesha run inside a network namespace (so ports 111 and 2049
are private and nothing leaves the machine) and a private mount namespace
with its own /run (so rpcbind's socket does not clash with the host's).
libnfs clients (nfs-ls, nfs-cat) read over NFSv3 and NFSv4, also after
the kernel evicted the FUSE inodes (drop_caches), which is what breaks
filesystems without export support, and after a reload.

A client that keeps its NFSv3 handles (nfs3client) uses them again after
eviction, after an ISO was replaced, and after bootshelf-fs and ganesha
were restarted: they stay valid if the new mount has the same device
number, which ganesha puts in every handle (else they are all stale, a
documented limit that is also shown on purpose).
"""
import os
import socket
import struct
import subprocess
import time

import pytest

import nfs3client as nfs3
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
# ganesha exits if it cannot register: wait until rpcbind answers
n=0
until rpcinfo -p 127.0.0.1 >/dev/null 2>&1; do
    n=$((n + 1))
    if [ $n -gt 400 ]; then echo "rpcbind did not start" >&2; exit 1; fi
    sleep 0.05
done
exec ganesha.nfsd -F -f {d}/ganesha.conf -L {d}/ganesha.log \
    -p {d}/ganesha.pid
"""


class NfsServer:
    """rpcbind + ganesha exporting MNT, in network namespace NS, stopped
    and started again at will; every process is stopped by PID."""

    def __init__(self, d, ns, mnt):
        self.d, self.ns, self.mnt = d, ns, mnt
        self.proc = self.out = self.rpcbind = None
        self.nstart = 0
        with open(os.path.join(d, "ganesha.conf"), "w") as f:
            f.write(GANESHA_CONF.format(path=mnt))
        with open(os.path.join(d, "start.sh"), "w") as f:
            f.write(START.format(d=d))
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)

    def client(self, *args):
        """Run a client command inside the namespace."""
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(args),
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)

    def start(self):
        """Start rpcbind and ganesha in a new private mount namespace (so
        it sees the FUSE mount as it is now) and wait for the export."""
        assert self.proc is None
        pidfile = os.path.join(self.d, "rpcbind.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        self.nstart += 1
        self.out = open(os.path.join(self.d, "start%d.log" % self.nstart),
                        "wb")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "-m", "sh",
             os.path.join(self.d, "start.sh")],
            stdout=self.out, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                with open(self.out.name, "rb") as f:
                    raise AssertionError("ganesha exited: %s" %
                                         f.read().decode(errors="replace"))
            if self.rpcbind is None and os.path.exists(pidfile):
                with open(pidfile) as f:
                    self.rpcbind = int(f.read().strip() or 0) or None
            return self.client("nfs-ls",
                               "nfs://127.0.0.1/boot/").returncode == 0
        wait_for(ready, 60, "ganesha export")

    def stop(self):
        """Stop ganesha, then rpcbind, and wait until both are gone: the
        private mount namespace (and its reference to the FUSE mount)
        dies with its last process."""
        stop(self.proc)
        self.proc = None
        if self.out:
            self.out.close()
            self.out = None
        pid, self.rpcbind = self.rpcbind, None
        if pid:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                return

            def gone():
                try:
                    with open("/proc/%d/stat" % pid) as f:
                        return f.read().split(") ")[-1][:1] in ("Z", "X")
                except FileNotFoundError:
                    return True
            wait_for(gone, 10, "rpcbind exit")

    def close(self):
        try:
            self.stop()
        finally:
            subprocess.run(["ip", "netns", "del", self.ns], timeout=30)


def ns_name(tag):
    return "bs%s%d" % (tag, os.getpid())


@pytest.fixture
def nfs(tmp_path):
    d = str(tmp_path)
    ref = make_iso(d, "fed", seed=31)
    install_iso(ref)
    cat = os.path.join(d, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    m = os.path.join(d, "tftpboot")
    os.mkdir(m)
    fs = FsMount(cat, m)
    srv = None
    try:
        srv = NfsServer(d, ns_name("fs"), m)
        srv.start()
        yield d, ref, cat, fs, srv.client
    finally:
        if srv:
            srv.close()
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



def evict_inodes():
    """Make the kernel forget every unused FUSE inode and dentry."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")


def nfs3_outcome(op, *args):
    """Result of an NFSv3 call, or the name of its error status."""
    try:
        return op(*args)
    except nfs3.NfsError as e:
        return e.name


def test_nfs3_handles_across_restarts(tmp_path, capsys):
    """A client keeps NFSv3 file handles (bytes) and uses them again:
    after the kernel evicted the FUSE inodes; after a bootshelf-fs
    restart plus a ganesha restart, which keeps them valid when the new
    mount has the same device number (ganesha puts it in every handle;
    with another one they are all NFS3ERR_STALE, the documented limit);
    and after the ISO of a file was replaced by rename."""
    d = str(tmp_path)
    ref = make_iso(d, "fed", seed=51)
    install_iso(ref)
    alt = make_iso(d, "alt", seed=52)
    install_iso(alt)
    cat = os.path.join(d, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"]), ("alt", alt["iso"])])
    m = os.path.join(d, "tftpboot")
    os.mkdir(m)
    ns = ns_name("n3")
    host = "127.0.0.1"
    files = {
        "boot/fed/iso/LiveOS/squashfs.img":
            ref["files"]["LiveOS/squashfs.img"],
        "boot/fed/iso/EFI/BOOT/grub.cfg": ref["files"]["EFI/BOOT/grub.cfg"],
        "boot/fed/linux": ref["files"]["images/pxeboot/vmlinuz"],
    }
    dirs = ("boot/fed/iso", "boot/fed/iso/LiveOS")

    def check_fs_log(fs):
        bad = fs.bad_log_lines()
        assert not bad, bad

    def check_reads(c, fh, what):
        for p, want in files.items():
            got = c.read_all(fh[p])
            assert got == want, (what, p, len(got), len(want))
            a = c.getattr(fh[p])
            assert a.type == nfs3.NF3REG and a.size == len(want), (what, p, a)
        for p in dirs:
            ls = c.readdirplus(fh[p])
            names = sorted(os.listdir(os.path.join(m, p)))
            assert sorted(set(ls) - {".", ".."}) == names, (what, p, ls)

    def restart(avoid_dev=None):
        """Stop ganesha, restart bootshelf-fs on the same mountpoint,
        start ganesha.  avoid_dev: hold small tmpfs mounts while the new
        mount is made until one of them has that anonymous device
        number (numbers are handed out lowest free first), so the new
        mount gets another one.  Returns the new mount's st_dev."""
        nonlocal fs
        srv.stop()
        check_fs_log(fs)
        assert fs.close() == 0
        holds = []
        try:
            for i in range(16 if avoid_dev is not None else 0):
                h = os.path.join(d, "hold%d" % i)
                os.makedirs(h, exist_ok=True)
                subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k",
                                "hold", h], check=True, timeout=30)
                holds.append(h)
                if os.stat(h).st_dev == avoid_dev:
                    break
            fs = FsMount(cat, m)
        finally:
            for h in holds:
                subprocess.run(["umount", h], check=True, timeout=30)
        srv.start()
        return os.stat(m).st_dev

    def check_after_restart(c, dev, what):
        """Old handles work if the mount has the device number they were
        made on, else all of them are stale (the documented limit)."""
        if dev == dev_h:
            with capsys.disabled():
                print("\n%s: the mount has the same device number (%#x): "
                      "old handles must work" % (what, dev))
            check_reads(c, fh, what + ", same st_dev")
            assert c.getattr(root).type == nfs3.NF3DIR
            # the replaced ISO's files stay stale
            got = nfs3_outcome(c.getattr, alt_fh["iso/LiveOS/squashfs.img"])
            assert got == "NFS3ERR_STALE", got
            return
        with capsys.disabled():
            print("\nNOTE %s: the device number of the mount changed "
                  "(%#x -> %#x): every old NFS handle is stale (documented "
                  "limit)" % (what, dev_h, dev))
        for p in list(files) + list(dirs):
            got = nfs3_outcome(c.getattr, fh[p])
            assert got == "NFS3ERR_STALE", (what, p, got)
        assert nfs3_outcome(c.getattr, root) == "NFS3ERR_STALE", what
        got = nfs3_outcome(c.read, fh["boot/fed/linux"], 0, 4096)
        assert got == "NFS3ERR_STALE", (what, got)

    fs = FsMount(cat, m)
    srv = None
    try:
        srv = NfsServer(d, ns, m)
        srv.start()
        root = nfs3.mount(host, "/boot", netns=ns)
        dev_h = os.stat(m).st_dev      # ganesha puts it in the handles
        with nfs3.Nfs3(host, netns=ns) as c:
            fh = {p: c.walk(root, p) for p in list(files) + list(dirs)}
            # handles and numbers are the same whichever way they came
            ls = c.readdirplus(fh["boot/fed/iso"])
            assert ls["LiveOS"][1] == fh["boot/fed/iso/LiveOS"]
            for p in files:
                assert c.getattr(fh[p]).fileid == \
                    os.stat(os.path.join(m, p)).st_ino, p
            check_reads(c, fh, "first reads")
            # alt: linux is read (ganesha keeps it open), the other two
            # only looked up
            alt_fh = {p: c.walk(root, "boot/alt/" + p) for p in
                      ("linux", "iso/LiveOS/squashfs.img",
                       "iso/images/pxeboot/initrd.img")}
            alt_attr = {p: c.getattr(h) for p, h in alt_fh.items()}
            assert c.read_all(alt_fh["linux"]) == \
                alt["files"]["images/pxeboot/vmlinuz"]
        evict_inodes()
        with nfs3.Nfs3(host, netns=ns) as c:
            check_reads(c, fh, "after eviction")
            assert c.getattr(root).type == nfs3.NF3DIR

            # Replace alt's ISO by rename, then reload once more (the
            # daemon keeps the snapshot before the current one, so a
            # nodeid looked up just before a reload still resolves).
            new = make_iso(d, "alt", seed=53)
            install_iso(new)
            linux = os.path.join(m, "boot", "alt", "linux")
            wait_for(lambda: read(linux) ==
                     new["files"]["images/pxeboot/vmlinuz"], 10,
                     "reload with the new alt ISO")
            status = os.path.join(m, ".bootshelf", "status")
            st = read(status)
            fs.hup()
            wait_for(lambda: read(status) != st, 10, "second reload")
            evict_inodes()
            # Files that are gone from the tree: stale, never the new
            # file's attributes or bytes under the old handle.
            for p in ("iso/LiveOS/squashfs.img",
                      "iso/images/pxeboot/initrd.img"):
                got = nfs3_outcome(c.getattr, alt_fh[p])
                assert got == "NFS3ERR_STALE", (p, got)
                got = nfs3_outcome(c.read, alt_fh[p], 0, 4096)
                assert got == "NFS3ERR_STALE", (p, got)
            # The file ganesha holds open keeps the snapshot it was
            # opened in: old attributes, old bytes, never a mix.
            a = c.getattr(alt_fh["linux"])
            assert (a.fileid, a.size) == (alt_attr["linux"].fileid,
                                          alt_attr["linux"].size), a
            assert c.read_all(alt_fh["linux"]) == \
                alt["files"]["images/pxeboot/vmlinuz"]
            with capsys.disabled():
                print("\nISO replaced by rename: handles of its files "
                      "that were only looked up give NFS3ERR_STALE after "
                      "the next reload; the file ganesha keeps open still "
                      "reads the old bytes")

        dev = restart()
        with nfs3.Nfs3(host, netns=ns) as c:
            check_after_restart(c, dev, "restart")

        # The documented limit on purpose: another device number.
        dev = restart(avoid_dev=dev_h)
        assert dev != dev_h, "tmpfs mounts did not take %#x" % dev_h
        with nfs3.Nfs3(host, netns=ns) as c:
            check_after_restart(c, dev, "restart on another st_dev")
            # a client that mounts again gets working handles
            root = nfs3.mount(host, "/boot", netns=ns)
            p = "boot/fed/linux"
            assert c.read_all(c.walk(root, p)) == files[p]
    finally:
        if srv:
            srv.close()
        check_fs_log(fs)
        assert fs.close() == 0


def test_nfs3client_strict_decoding():
    """The client the test above relies on rejects malformed replies
    with clear errors (canned replies over a socketpair)."""

    def reply(body, xid=0x1001, frags=1, stat=(0, 0)):
        """RPC reply record: accepted SUCCESS + body, or a raw stat."""
        hdr = struct.pack(">II", xid, 1)
        if stat == (0, 0):
            hdr += struct.pack(">IIII", 0, 0, 0, 0)   # accepted, null verf
        else:
            hdr += struct.pack(">%dI" % len(stat), *stat)
        msg = hdr + body
        cut = len(msg) // frags
        out = b""
        for i in range(frags):
            part = msg[i * cut:] if i == frags - 1 else \
                msg[i * cut:(i + 1) * cut]
            out += struct.pack(">I", len(part) | (0x80000000 if i ==
                                                  frags - 1 else 0)) + part
        return out

    fattr = struct.pack(">IIIII", 1, 0o444, 1, 0, 0) + \
        struct.pack(">QQII QQ", 5, 512, 0, 0, 7, 42) + \
        struct.pack(">IIIIII", 1, 0, 2, 0, 3, 999999999)

    def run(canned, op, *args, timeout=2.0):
        a, b = socket.socketpair()
        try:
            c = nfs3.Nfs3.__new__(nfs3.Nfs3)
            c.rpc = nfs3.RpcClient(a, nfs3.NFS_PROG, nfs3.NFS_VERS, timeout)
            c.rpc.xid = 0x1000
            b.sendall(canned)
            try:
                return getattr(c, op)(*args)
            except (nfs3.XdrError, nfs3.RpcError, nfs3.NfsError) as e:
                return e
        finally:
            a.close()
            b.close()

    ok = struct.pack(">I", 0)
    a = run(reply(ok + fattr), "getattr", b"fh")
    assert isinstance(a, nfs3.Fattr3), a
    assert (a.type, a.size, a.fileid, a.mtime) == (1, 5, 42, 2.0), a
    a = run(reply(ok + fattr, frags=3), "getattr", b"fh")
    assert isinstance(a, nfs3.Fattr3) and a.fileid == 42, a

    cases = [
        (reply(ok + fattr[:-4]), nfs3.XdrError, "truncated"),
        (reply(ok + fattr + b"\0\0\0\0"), nfs3.XdrError, "left over"),
        (reply(ok + struct.pack(">I", 9) + fattr[4:]), nfs3.XdrError,
         "bad ftype3"),
        (reply(ok + fattr[:-4] + struct.pack(">I", 10 ** 9)),
         nfs3.XdrError, "out of range"),
        (reply(ok + fattr, xid=0x2002), nfs3.RpcError, "reply xid"),
        (reply(struct.pack(">I", 70)), nfs3.NfsError, "NFS3ERR_STALE"),
        (reply(b"", stat=(1, 1, 5)), nfs3.RpcError, "AUTH_TOOWEAK"),
        (reply(b"", stat=(0, 0, 0, 1)), nfs3.RpcError, "PROG_UNAVAIL"),
        (reply(b"", stat=(0, 0, 0, 2, 2, 2)), nfs3.RpcError,
         "PROG_MISMATCH 2..2"),
        (b"", nfs3.RpcError, "timed out"),
    ]
    for canned, kind, text in cases:
        t0 = time.monotonic()
        e = run(canned, "getattr", b"fh", timeout=0.5)
        assert isinstance(e, kind) and text in str(e), (text, e)
        assert time.monotonic() - t0 < 5, text
    e = run(reply(struct.pack(">I", 70)), "getattr", b"fh")
    assert e.status == nfs3.NFS3ERR_STALE

    # READ: a boolean that is not 0/1, a data length over the count asked
    post = struct.pack(">I", 0)
    e = run(reply(ok + post + struct.pack(">II", 3, 2) + b"\0\0\0\3abc\0"),
            "read", b"fh", 0, 16)
    assert isinstance(e, nfs3.XdrError) and "not a boolean" in str(e), e
    e = run(reply(ok + post + struct.pack(">III", 3, 1, 20) + b"x" * 20),
            "read", b"fh", 0, 16)
    assert isinstance(e, nfs3.XdrError) and "length 20 > 16" in str(e), e
    e = run(reply(ok + post + struct.pack(">III", 3, 1, 3) + b"abc\1"),
            "read", b"fh", 0, 16)
    assert isinstance(e, nfs3.XdrError) and "padding" in str(e), e
    got = run(reply(ok + post + struct.pack(">III", 3, 1, 3) + b"abc\0"),
              "read", b"fh", 0, 16)
    assert got == (b"abc", True), got
