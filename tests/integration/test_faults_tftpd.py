"""Faults under bootshelf-tftpd, in directory mode (-s) and catalog mode
(-c): the file deleted, truncated or made unreadable while slow clients
transfer it, a catalog replaced by garbage, SIGHUP storms, SIGKILL and
restart under load, and the sandbox (seccomp, no privileges) being in
force, also in the ASan+UBSan build.

A transfer must end with exactly the old bytes or with a TFTP ERROR
packet; the daemon must stay up, say what happened in its log (and, with
a catalog, in .bootshelf/status), and serve the file again once it is
back."""
import os
import shutil
import signal
import subprocess
import time

import pytest

import isokit
from conftest import ASAN_ENV, asan_binpath, binpath, free_port, stop
from faultutil import (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PublicDir,
                       check_outcomes, fd_count, join_readers, proc_status,
                       start_readers, wait_log)
from tftputil import Tftpd, TftpClient, TftpError

BIG = "LiveOS/squashfs.img"


class FTftpd(Tftpd):
    """Tftpd with a choice of binary, environment and port (restarts)."""

    def __init__(self, root, workdir, args=(), catalog=None, exe=None,
                 env=None, port=None, name="tftpd.log"):
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log_path = os.path.join(str(workdir), name)
        self.log = open(self.log_path, "ab")
        src = ["-c", str(catalog)] if catalog else ["-s", str(root)]
        self.argv = [exe or binpath("bootshelf-tftpd"), "-L"] + src + \
            ["-a", "127.0.0.1:%d" % self.port] + [str(a) for a in args]
        self.proc = subprocess.Popen(self.argv, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        self.wait_ready()


def fetch(port, name):
    c = TftpClient(port, timeout=1.0)
    try:
        return c.get(name, opts=(("blksize", "1468"),), retries=3)
    finally:
        c.close()


def curl(port, name, out):
    return subprocess.run(["curl", "-sS", "--max-time", "20",
                           "--tftp-blksize", "1468", "-o", str(out),
                           "tftp://127.0.0.1:%d/%s" % (port, name)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=40)


def no_sanitizer(text):
    assert "Sanitizer" not in text and "runtime error" not in text, text


# ---- directory mode ----------------------------------------------------

@pytest.fixture
def dirsrv(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    data = os.urandom(3 << 20)
    (root / "big.iso").write_bytes(data)
    t = FTftpd(root, tmp_path)
    yield root, data, t
    assert t.alive(), t.text()
    t.stop()
    assert t.proc.returncode == 0, t.text()


@pytest.mark.parametrize("fault", ["delete", "truncate", "unreadable"])
def test_dir_file_fault_during_transfers(dirsrv, fault):
    root, old, t = dirsrv
    path = root / "big.iso"
    st = proc_status(t.proc.pid)
    # the daemon really cannot bypass file modes: it is nobody, no caps
    assert st["Uid"].split()[1] != "0"
    assert int(st["CapEff"], 16) == 0
    readers = start_readers(t.port, "big.iso", n=4)
    if fault == "delete":
        os.unlink(path)
    elif fault == "truncate":
        os.truncate(path, len(old) // 3)
    else:
        os.chmod(path, 0)
    ok, err = check_outcomes(join_readers(readers), old)
    if fault == "truncate":
        # every reader was below the cut: each gets an ERROR packet
        assert err == 4, (ok, err)
        assert "Input/output error" in t.text()
    else:
        # the open file is the old version: transfers finish with it
        assert ok == 4, (ok, err)
    # new requests are refused with an ERROR packet, and logged
    with pytest.raises(TftpError) as e:
        fetch(t.port, "big.iso") if fault != "truncate" else \
            fetch(t.port, "missing.iso")
    assert e.value.code in (1, 2)
    expect = {"delete": "File not found", "truncate": "File not found",
              "unreadable": "Access violation"}[fault]
    wait_log(t.text, expect)
    # the file is back: served again, to curl too
    if fault == "unreadable":
        os.chmod(path, 0o644)
    else:
        path.write_bytes(old)
    assert fetch(t.port, "big.iso") == old
    out = root.parent / "curl.out"
    p = curl(t.port, "big.iso", out)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == old
    assert t.alive()


@pytest.mark.parametrize("fault", ["delete", "truncate"])
def test_fuse_mount_iso_fault_during_transfers(tmp_path, fault):
    """Serving a bootshelf-fs mount: the ISO under the mount changes
    while transfers read a file inside it through FUSE."""
    import fsutil
    d = str(tmp_path)
    ref = fsutil.make_iso(d, "fed", seed=9, squash=3 << 20)
    iso = fsutil.install_iso(ref)
    saved = iso + ".saved"
    shutil.copyfile(iso, saved)
    cat = os.path.join(d, "catalog.conf")
    fsutil.write_catalog(cat, [("fed", iso)])
    mnt = os.path.join(d, "tftpboot")
    os.mkdir(mnt)
    fs = fsutil.FsMount(cat, mnt,
                        allowed_log=("fed", "index", "initrd", "warning"))
    t = None
    try:
        t = FTftpd(mnt, tmp_path)
        name = "boot/fed/iso/" + BIG
        old = ref["files"][BIG]
        readers = start_readers(t.port, name, n=4)
        if fault == "delete":
            os.unlink(iso)
        else:
            os.truncate(iso, os.path.getsize(iso) // 3)
        ok, err = check_outcomes(join_readers(readers), old)
        if fault == "truncate":
            # pages the kernel already cached for the mount's file are
            # still the old bytes; the rest fails with an ERROR packet
            if err:
                wait_log(t.text, "Input/output error")
        else:
            # the mount's open handles keep the deleted ISO's bytes
            assert ok == 4, (ok, err)
        # the ISO is back: the mount and the server serve it again
        os.replace(saved, iso)

        def served():
            try:
                return fetch(t.port, name) == old
            except TftpError:
                return False
        deadline = time.monotonic() + 20
        while not served():
            assert time.monotonic() < deadline, t.text() + fs.logtext()
            time.sleep(0.3)
        assert t.alive(), t.text()
    finally:
        if t:
            t.stop()
        assert fs.close() == 0
    assert t.proc.returncode == 0, t.text()


# ---- catalog mode ------------------------------------------------------

def make_iso(d, name="live.iso", big=3 << 20):
    """A Fedora-like live ISO with a big squashfs.img to transfer."""
    volid, files, _fam, _k, initrd = isokit.FAMILIES["fedora"]
    files = dict(files)
    files[BIG] = big
    src = os.path.join(d, name + ".src")
    isokit.make_tree(src, files, "fedora", initrd)
    out = os.path.join(d, name)
    isokit.xorriso(src, out, volid)
    shutil.rmtree(src)
    os.chmod(out, 0o644)
    return out


def write_catalog(cat, isos):
    text = "[server]\ncache = none\n\n"
    for name, path in isos:
        text += "[iso %s]\npath = %s\n\n" % (name, path)
    with open(cat, "w") as f:
        f.write(text)
    os.chmod(cat, 0o644)


@pytest.fixture
def catsrv(tmp_path):
    """-c mode as nobody: everything in a world-readable directory."""
    pub = PublicDir()
    iso = make_iso(pub.path)
    cat = os.path.join(pub.path, "bootshelf.conf")
    write_catalog(cat, [("fed", iso)])
    t = FTftpd(None, tmp_path, args=("-u", "nobody"), catalog=cat)
    try:
        yield pub.path, iso, cat, t
        assert t.alive(), t.text()
    finally:
        t.stop()
        pub.close()
    assert t.proc.returncode == 0, t.text()


def status(t):
    return fetch(t.port, ".bootshelf/status").decode()


@pytest.mark.parametrize("fault", ["delete", "truncate", "unreadable"])
def test_catalog_iso_fault_during_transfers(catsrv, fault):
    d, iso, cat, t = catsrv
    name = "boot/fed/iso/" + BIG
    old = fetch(t.port, name)
    assert len(old) == 3 << 20
    st = proc_status(t.proc.pid)
    assert st["Uid"].split()[1] != "0"
    assert int(st["CapEff"], 16) & (1 << CAP_DAC_OVERRIDE |
                                    1 << CAP_DAC_READ_SEARCH) == 0
    saved = iso + ".saved"
    shutil.copyfile(iso, saved)
    readers = start_readers(t.port, name, n=4)
    if fault == "delete":
        os.unlink(iso)
    elif fault == "truncate":
        os.truncate(iso, os.path.getsize(iso) // 3)
    else:
        os.chmod(iso, 0)
    ok, err = check_outcomes(join_readers(readers), old)
    if fault == "truncate":
        assert err == 4, (ok, err)
    else:
        assert ok == 4, (ok, err)
    # a reload notices: the entry leaves the tree, log and status say why
    t.proc.send_signal(signal.SIGHUP)
    wait_log(t.text, "entry fed left out", proc=t.proc)
    s = status(t)
    assert "[iso fed]" in s and "state: error" in s, s
    with pytest.raises(TftpError) as e:
        fetch(t.port, name)
    assert e.value.code == 1
    # back: a reload serves it again
    if fault == "unreadable":
        os.chmod(iso, 0o644)
    else:
        os.replace(saved, iso)
        os.chmod(iso, 0o644)
    t.proc.send_signal(signal.SIGHUP)

    def served():
        try:
            return fetch(t.port, name) == old
        except TftpError:
            return False
    deadline = time.monotonic() + 15
    while not served():
        assert time.monotonic() < deadline, t.text()
        time.sleep(0.2)
    assert "state: ok" in status(t)


def test_catalog_garbage_keeps_tree(catsrv):
    d, iso, cat, t = catsrv
    name = "boot/fed/iso/" + BIG
    old = fetch(t.port, name)
    good = open(cat).read()
    readers = start_readers(t.port, name, n=2)
    with open(cat, "wb") as f:
        f.write(b"[iso \x00\xff broken\nthis is = = not\n[[[\n" +
                os.urandom(512))
    t.proc.send_signal(signal.SIGHUP)
    wait_log(t.text, "reload failed", proc=t.proc)
    check_outcomes(join_readers(readers), old)
    assert all(r.result[0] == "ok" for r in readers)
    assert fetch(t.port, name) == old
    s = status(t)
    assert "invalid (serving the previous generation)" in s, s
    assert "catalog_error:" in s
    # a fixed catalog (with a second entry) is picked up
    iso2 = make_iso(d, "second.iso", big=1 << 20)
    write_catalog(cat, [("fed", iso), ("two", iso2)])
    t.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while "[iso two]" not in status(t):
        assert time.monotonic() < deadline, t.text()
        time.sleep(0.2)
    assert len(fetch(t.port, "boot/two/iso/" + BIG)) == 1 << 20
    assert "catalog_state: ok" in status(t)
    assert good  # the original text was readable before the damage


@pytest.mark.parametrize("mode", ["catalog", "directory"])
def test_sighup_storm(tmp_path, mode):
    pub = PublicDir()
    try:
        if mode == "catalog":
            iso = make_iso(pub.path)
            cat = os.path.join(pub.path, "bootshelf.conf")
            write_catalog(cat, [("fed", iso)])
            t = FTftpd(None, tmp_path, args=("-u", "nobody"), catalog=cat)
            name = "boot/fed/iso/" + BIG
        else:
            with open(os.path.join(pub.path, "big.iso"), "wb") as f:
                f.write(os.urandom(3 << 20))
            t = FTftpd(pub.path, tmp_path)
            name = "big.iso"
        old = fetch(t.port, name)
        time.sleep(0.3)
        base = fd_count(t.proc.pid)
        readers = start_readers(t.port, name, n=4)
        for _ in range(300):
            os.kill(t.proc.pid, signal.SIGHUP)
        for _ in range(20):
            os.kill(t.proc.pid, signal.SIGHUP)
            time.sleep(0.02)
        ok, err = check_outcomes(join_readers(readers), old)
        assert ok == 4, (ok, err)
        assert t.alive(), t.text()
        assert fetch(t.port, name) == old
        deadline = time.monotonic() + 10
        while fd_count(t.proc.pid) != base:
            assert time.monotonic() < deadline, (fd_count(t.proc.pid), base)
            time.sleep(0.1)
        t.stop()
        assert t.proc.returncode == 0, t.text()
    finally:
        pub.close()


def test_kill_and_restart_under_load(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    old = os.urandom(3 << 20)
    (root / "big.iso").write_bytes(old)
    t = FTftpd(root, tmp_path)
    readers = start_readers(t.port, "big.iso", n=4)
    t0 = time.monotonic()
    t.proc.send_signal(signal.SIGKILL)
    t.proc.wait(10)
    results = join_readers(readers, timeout=30)
    # every client mid-transfer fails cleanly: an error or a timeout,
    # within its retry budget, and never with bytes claimed complete
    for kind, _ in results:
        assert kind in ("timeout", "error"), kind
    assert time.monotonic() - t0 < 20
    # restarted on the same port: new transfers succeed
    t2 = FTftpd(root, root.parent, port=t.port, name="tftpd2.log")
    try:
        rs = start_readers(t2.port, "big.iso", n=3)
        ok, err = check_outcomes(join_readers(rs), old)
        assert ok == 3
        p = curl(t2.port, "big.iso", root.parent / "c.out")
        assert p.returncode == 0 and (root.parent / "c.out").read_bytes() \
            == old
    finally:
        t2.stop()
    assert t2.proc.returncode == 0, t2.text()
    t.log.close()


# ---- sandbox -----------------------------------------------------------

@pytest.mark.parametrize("build", ["plain", "asan"])
@pytest.mark.parametrize("mode", ["directory", "catalog"])
def test_sandbox_active(tmp_path, build, mode):
    """Seccomp filter on (Seccomp: 2), no new privileges, no
    capabilities; transfers and reloads work under it, also in the
    ASan+UBSan build, which exits cleanly (leak check included)."""
    exe, env = binpath("bootshelf-tftpd"), None
    if build == "asan":
        exe, env = asan_binpath("bootshelf-tftpd"), ASAN_ENV
        assert exe, "no ASan build: run 'make unit-asan' first"
    pub = PublicDir()
    try:
        if mode == "catalog":
            iso = make_iso(pub.path, big=1 << 20)
            cat = os.path.join(pub.path, "bootshelf.conf")
            write_catalog(cat, [("fed", iso)])
            t = FTftpd(None, tmp_path, args=("-u", "nobody"), catalog=cat,
                       exe=exe, env=env)
            name = "boot/fed/iso/" + BIG
        else:
            with open(os.path.join(pub.path, "f.bin"), "wb") as f:
                f.write(os.urandom(1 << 20))
            if env:
                # the leak check reads /proc, which is outside the
                # chroot of directory mode (sandbox or not)
                env = dict(env, ASAN_OPTIONS=env["ASAN_OPTIONS"].replace(
                    "detect_leaks=1", "detect_leaks=0"))
            t = FTftpd(pub.path, tmp_path, exe=exe, env=env)
            name = "f.bin"
        st = proc_status(t.proc.pid)
        assert st["Seccomp"].strip() == "2", st
        assert st["NoNewPrivs"].strip() == "1"
        assert int(st["CapEff"], 16) == 0
        assert "sandbox: seccomp filter" in t.text()
        assert len(fetch(t.port, name)) == 1 << 20
        with pytest.raises(TftpError):
            fetch(t.port, "../../etc/passwd")
        for _ in range(3):
            t.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert len(fetch(t.port, name)) == 1 << 20
        assert t.alive(), t.text()
        t.stop()
        assert t.proc.returncode == 0, t.text()
        assert "seccomp: system call" not in t.text()
        no_sanitizer(t.text())
    finally:
        pub.close()


def test_sandbox_off(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    (root / "f").write_bytes(b"x" * 1000)
    t = FTftpd(root, tmp_path, args=("--no-sandbox",))
    try:
        st = proc_status(t.proc.pid)
        assert st["Seccomp"].strip() == "0"
        assert fetch(t.port, "f") == b"x" * 1000
    finally:
        t.stop()
    assert "sandbox:" not in t.text()



@pytest.mark.parametrize("build", ["plain", "asan"])
def test_sandbox_remote_iso_and_index_cache(tmp_path, build):
    """-c with an ISO over HTTP: libcurl's threads and TCP sockets work
    under the filter, and the index cache directory (the one place
    Landlock leaves writable) is written."""
    from remoteutil import Nginx
    exe, env = binpath("bootshelf-tftpd"), None
    if build == "asan":
        exe, env = asan_binpath("bootshelf-tftpd"), ASAN_ENV
        assert exe, "no ASan build: run 'make unit-asan' first"
    iso = make_iso(str(tmp_path), big=1 << 20)
    ng = Nginx(tmp_path / "nginx")
    t = None
    try:
        shutil.copy(iso, os.path.join(ng.www, "x.iso"))
        cache = tmp_path / "cache"
        cat = tmp_path / "c.conf"
        cat.write_text("[server]\ncache = %s\n\n[iso x]\nurl = %s/x.iso\n"
                       % (cache, ng.url))
        t = FTftpd(None, tmp_path, args=("-u", "root"), catalog=cat,
                   exe=exe, env=env)
        assert proc_status(t.proc.pid)["Seccomp"].strip() == "2"
        assert "read-write below %s" % cache in t.text()
        name = "boot/x/iso/" + BIG
        data = fetch(t.port, name)
        assert len(data) == 1 << 20
        n0 = len(os.listdir(cache))
        assert n0, "index cache not written"
        # a second ISO added: indexed and cached under the sandbox
        shutil.copy(iso, os.path.join(ng.www, "y.iso"))
        cat.write_text("[server]\ncache = %s\n\n[iso x]\nurl = %s/x.iso\n"
                       "\n[iso y]\nurl = %s/y.iso\n" % (cache, ng.url,
                                                          ng.url))
        t.proc.send_signal(signal.SIGHUP)
        wait_log(t.text, "reloaded", proc=t.proc)
        assert fetch(t.port, name) == data
        assert fetch(t.port, "boot/y/iso/" + BIG) == data
        assert len(os.listdir(cache)) > n0, "second index not cached"
        t.stop()
        assert t.proc.returncode == 0, t.text()
        assert "seccomp: system call" not in t.text()
        no_sanitizer(t.text())
    finally:
        if t and t.alive():
            t.stop()
        ng.close()


@pytest.mark.parametrize("mode", ["catalog", "chroot"])
def test_sd_notify_under_sandbox(tmp_path, mode):
    """READY before the sandbox, STOPPING from inside it; in directory
    mode from inside the chroot too, which hides the notify socket's
    path (a socket connected before the chroot carries it)."""
    import socket
    path = str(tmp_path / "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    cat = root = None
    if mode == "catalog":
        iso = make_iso(str(tmp_path), big=1 << 20)
        cat = str(tmp_path / "c.conf")
        write_catalog(cat, [("fed", iso)])
    else:
        root = tmp_path / "root"
        root.mkdir()
        (root / "f").write_bytes(b"x" * 1000)
    try:
        t = FTftpd(root, tmp_path, args=("-u", "root"), catalog=cat,
                   env=dict(os.environ, NOTIFY_SOCKET=path))
        assert proc_status(t.proc.pid)["Seccomp"].strip() == "2"
        if mode == "chroot":
            assert os.readlink("/proc/%d/root" % t.proc.pid) == str(root)
        assert b"READY=1" in s.recv(4096)
        t.stop()
        assert b"STOPPING=1" in s.recv(4096)
        assert t.proc.returncode == 0, t.text()
    finally:
        s.close()
