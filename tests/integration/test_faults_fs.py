"""bootshelf-fs under faults: the ISO deleted, truncated or made unreadable
while clients read; a full disk under the index cache; the catalog
replaced by garbage; SIGHUP storms; the daemon killed and restarted on
its mountpoint; running without root.

Every completed read is compared with the reference bytes of the version
that was open; a read may fail (EIO, or ENOTCONN while the daemon is
down) but never return other bytes.  Readers drop their file's cached
pages at every open (POSIX_FADV_DONTNEED on the mount's file), so reads
really reach the daemon and the page cache cannot hide a fault.

The work directory is world-readable (not pytest's tmp_path, which is
private to root) because several daemons here run as `nobody`.
"""
import errno
import hashlib
import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import ASAN_ENV, asan_binpath, binpath, stop, wait_until
from fsutil import (daemon_fd_count, make_iso, install_iso, pad4, parse_newc,
                    read)

NOBODY = 65534
# log lines at warning level or above that these tests provoke
ALLOWED = ("reload failed", "catalog.conf", "rewritten in place",
           "error: ", "warning: ", "detached the dead mount",
           "index cache")


def write_catalog(path, entries, cache="none", inplace=False):
    text = "[server]\naddress = 127.0.0.1\ncache = %s\n\n" % cache
    for name, iso in entries:
        text += "[iso %s]\npath = %s\n\n" % (name, iso)
    if inplace:
        with open(path, "w") as f:
            f.write(text)
        return
    with open(path + ".new", "w") as f:
        f.write(text)
    os.chmod(path + ".new", 0o644)
    os.rename(path + ".new", path)


def setup_iso(d, name="fed", seed=7):
    ref = make_iso(d, name, seed=seed)
    install_iso(ref)
    os.chmod(ref["iso"], 0o644)
    # a copy to put back after a fault
    shutil.copyfile(ref["iso"], ref["iso"] + ".orig")
    return ref


class Bsfs:
    """bootshelf-fs -f CATALOG MNT, ready once it logged "mounted";
    stopped by PID, its mount always removed."""

    def __init__(self, catalog, mnt, args=(), user=None, asan=False):
        """asan: the ASan+UBSan build; any report fails close()."""
        self.catalog, self.mnt, self.asan = catalog, mnt, asan
        exe = binpath("bootshelf-fs")
        if asan:
            exe = asan_binpath("bootshelf-fs")
            assert exe, "no ASan build: run 'make unit-asan' first"
        if user is not None:
            # started as @user, who may not reach the checkout (a clone
            # under a 0700 home or mktemp -d): run a copy beside MNT,
            # whose directory the test made world-readable
            exe = shutil.copy2(exe, os.path.join(os.path.dirname(mnt),
                                                 os.path.basename(exe)))
        self.log = mnt + ".log"
        self.logf = open(self.log, "ab")
        self.start_at = self.logf.tell()
        kw = {"user": user, "group": user} if user is not None else {}
        self.proc = subprocess.Popen(
            [exe, "-f"] + list(args) + [catalog, mnt],
            stdout=self.logf, stderr=subprocess.STDOUT,
            env=ASAN_ENV if asan else None, **kw)
        try:
            wait_until(lambda: " on %s: generation" % mnt in self.logtext(),
                       30, self.proc, "bootshelf-fs mount")
        except Exception:
            self.close()
            raise

    def logtext(self):
        self.logf.flush()
        with open(self.log, "rb") as f:
            f.seek(self.start_at)
            return f.read().decode(errors="replace")

    def bad_log_lines(self):
        return [ln for ln in self.logtext().splitlines()
                if ("error:" in ln or "warning:" in ln)
                and not any(a in ln for a in ALLOWED)]

    def fd_count(self):
        return daemon_fd_count(self.proc.pid)

    def status(self):
        return read(os.path.join(self.mnt, ".bootshelf", "status")).decode()

    def close(self):
        if self.proc.poll() is None and mounted(self.mnt):
            # unmounting first lets the daemon answer the kernel's last
            # RELEASEs (SIGTERM would end the loop before them)
            subprocess.run(["fusermount3", "-u", self.mnt], timeout=30,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                stop(self.proc)
        if mounted(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], timeout=30)
        text = self.logtext()
        self.logf.close()
        if self.asan:
            assert "Sanitizer" not in text and "runtime error" not in text, \
                text[-4000:]
        return self.proc.returncode


def mounted(mnt):
    """A mount at mnt, from mountinfo (stat would need the daemon)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


def expected(fs, ref):
    """Reference bytes of the three files the readers read."""
    boot = os.path.join(fs.mnt, "boot", "fed")
    iso = read(ref["iso"])
    cpio = read(os.path.join(boot, "iso.cpio"))
    assert parse_newc(cpio)[0][2] == iso
    raw = ref["files"]["images/pxeboot/initrd.img"]
    return {
        "boot/fed/linux": ref["files"]["images/pxeboot/vmlinuz"],
        "boot/fed/initrd+iso": raw + b"\0" * pad4(len(raw)) + cpio,
        "boot/fed/iso/LiveOS/squashfs.img":
            ref["files"]["LiveOS/squashfs.img"],
    }


class Readers:
    """Threads reading files of the mount start to end, again and again,
    slowly; every outcome is recorded: ok, wrong (bytes that are not the
    reference), or the errno of a failed open or read."""

    def __init__(self, mnt, refs, per_file=2, chunk=65536, pause=0.002):
        self.mnt, self.refs = mnt, {k: hashlib.sha256(v).hexdigest()
                                    for k, v in refs.items()}
        self.sizes = {k: len(v) for k, v in refs.items()}
        self.chunk, self.pause = chunk, pause
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.wrong = []
        self.open_err, self.read_err = [], []
        self.threads = [threading.Thread(target=self.run, args=(k,))
                        for k in refs for _ in range(per_file)]
        for t in self.threads:
            t.start()

    def one(self, rel):
        try:
            fd = os.open(os.path.join(self.mnt, rel), os.O_RDONLY)
        except OSError as e:
            with self.lock:
                self.open_err.append(e.errno)
            return
        h = hashlib.sha256()
        n = 0
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            while True:
                b = os.read(fd, self.chunk)
                if not b:
                    break
                h.update(b)
                n += len(b)
                time.sleep(self.pause)
        except OSError as e:
            with self.lock:
                self.read_err.append(e.errno)
            return
        finally:
            os.close(fd)
        with self.lock:
            if h.hexdigest() == self.refs[rel]:
                self.ok += 1
            else:
                self.wrong.append((rel, n, self.sizes[rel]))

    def run(self, rel):
        while not self.stop.is_set():
            self.one(rel)
            if self.open_err or self.read_err:
                time.sleep(0.02)    # the tree may be down: do not spin

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads), "reader hung"
        return self


def entry_state(fs, name="fed"):
    """(state, error line) of [iso NAME] in the status file."""
    text = fs.status()
    sec = text.split("[iso %s]\n" % name, 1)
    if len(sec) < 2:
        return None, None
    lines = sec[1].split("\n\n", 1)[0].splitlines()
    state = lines[0].split(": ", 1)[1]
    err = next((ln for ln in lines if ln.startswith("error: ")), None)
    return state, err


def put_back(ref):
    """Install the original ISO again, the safe way (rename)."""
    shutil.copyfile(ref["iso"] + ".orig", ref["iso"] + ".tmp")
    os.chmod(ref["iso"] + ".tmp", 0o644)
    os.rename(ref["iso"] + ".tmp", ref["iso"])


def check_served(fs, refs):
    for rel, data in refs.items():
        assert read(os.path.join(fs.mnt, rel)) == data, rel


# ---- 1. the ISO deleted, truncated, made unreadable ----------------------

@pytest.mark.parametrize("fault", ["delete", "truncate", "unreadable"])
def test_iso_fault_under_readers(wdir, fault):
    """The daemon runs as nobody (started as root, --user nobody) so that
    chmod 000 really denies it: root would bypass the mode bits.  This
    also shows inotify and kernel cache invalidation working after the
    privilege drop."""
    ref = setup_iso(wdir)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    fs = Bsfs(cat, mnt, ["--user", "nobody"])
    try:
        assert open("/proc/%d/status" % fs.proc.pid).read().count(
            "\t%d" % NOBODY) >= 8, "daemon did not drop to nobody"
        refs = expected(fs, ref)
        fd0 = fs.fd_count()
        rd = Readers(mnt, refs)
        time.sleep(0.4)
        size = os.path.getsize(ref["iso"])
        if fault == "delete":
            os.unlink(ref["iso"])
            want = "No such file"
        elif fault == "truncate":
            os.truncate(ref["iso"], size // 2)
            want = "truncated"
        else:
            os.chmod(ref["iso"], 0)
            want = "Permission denied"
        wait_until(lambda: entry_state(fs)[0] == "error", 10, fs.proc,
                   "status names the fault")
        state, err = entry_state(fs)
        assert want in err and ref["iso"] in err, err
        # the entry left the tree (the kernel's cached name invalidated)
        wait_until(lambda: not os.path.exists(
            os.path.join(mnt, "boot", "fed")), 5, fs.proc, "entry gone")
        time.sleep(0.4)
        rd.finish()
        print("%s: %d reads ok, open errors %s, read errors %s" % (
            fault, rd.ok, sorted(set(rd.open_err)), sorted(set(rd.read_err))))
        assert not rd.wrong, rd.wrong
        assert rd.ok > 0
        # failed reads are EIO; failed opens name the missing entry
        assert set(rd.read_err) <= {errno.EIO}, rd.read_err
        assert set(rd.open_err) <= {errno.ENOENT, errno.ESTALE}, rd.open_err
        if fault == "truncate":
            assert rd.read_err, "no reader reached the cut-off part"
        assert fs.proc.poll() is None, "daemon died"

        # the file is back: the tree and correct reads come back
        put_back(ref)
        wait_until(lambda: entry_state(fs)[0] == "ok", 10, fs.proc,
                   "entry ok again")
        wait_until(lambda: os.path.exists(os.path.join(mnt, "boot", "fed",
                                                       "linux")),
                   5, fs.proc, "tree back")
        # (the cpio header of initrd+iso carries the new file's mtime)
        refs = expected(fs, ref)
        check_served(fs, refs)
        rd = Readers(mnt, refs, per_file=1)
        time.sleep(0.3)
        rd.finish()
        assert rd.ok > 0 and not (rd.wrong or rd.open_err or rd.read_err)
        # the old version's source fd is gone once nobody reads it
        wait_until(lambda: fs.fd_count() <= fd0, 5, fs.proc, "fds back")
        bad = fs.bad_log_lines()
        assert not bad, bad
    finally:
        assert fs.close() == 0


# ---- 2. a full disk under the index cache --------------------------------

def fill(path):
    """Write PATH until the filesystem is full (tmpfs: no page left)."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    f.write(b"\xa5" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    break


def test_index_cache_full_disk(wdir):
    ref = setup_iso(wdir)
    tm = os.path.join(wdir, "tmpfs")
    os.mkdir(tm)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "bsfault",
                    tm], check=True, timeout=30)
    try:
        cache = os.path.join(tm, "cache")
        os.mkdir(cache)
        fill(os.path.join(tm, "filler"))
        cat = os.path.join(wdir, "catalog.conf")
        write_catalog(cat, [("fed", ref["iso"])], cache=cache)
        mnt = os.path.join(wdir, "mnt")
        os.mkdir(mnt)

        # full: indexing still works from the ISO, with a warning
        fs = Bsfs(cat, mnt)
        try:
            refs = expected(fs, ref)
            check_served(fs, refs)
            assert entry_state(fs)[0] == "ok"
            warn = [ln for ln in fs.logtext().splitlines()
                    if "warning: index cache %s" % cache in ln]
            assert warn and "No space left on device" in warn[0], \
                fs.logtext()
            # nothing half-written was left behind
            assert os.listdir(cache) == []
        finally:
            assert fs.close() == 0

        # space again: a restart writes the entry
        os.unlink(os.path.join(tm, "filler"))
        fs = Bsfs(cat, mnt)
        try:
            check_served(fs, refs)
            assert "index cache" not in fs.logtext()
        finally:
            assert fs.close() == 0
        files = os.listdir(cache)
        assert len(files) == 1, files
        entry = os.path.join(cache, files[0])
        good = read(entry)
        ino = os.stat(entry).st_ino

        # the next restart loads it (not rewritten: same inode)
        fs = Bsfs(cat, mnt)
        try:
            check_served(fs, refs)
        finally:
            assert fs.close() == 0
        assert os.stat(entry).st_ino == ino

        # a partial entry (as a crash mid-write without the rename would
        # leave) is not trusted: rebuilt from the ISO, reads correct
        with open(entry, "r+b") as f:
            f.truncate(len(good) // 2)
        fs = Bsfs(cat, mnt)
        try:
            check_served(fs, refs)
            assert entry_state(fs)[0] == "ok"
        finally:
            assert fs.close() == 0
        assert os.stat(entry).st_ino != ino and read(entry) == good
    finally:
        subprocess.run(["umount", "-l", tm], timeout=30)


# ---- 3. the catalog replaced by garbage; SIGHUP storms ----------------------

def catalog_state(fs):
    text = fs.status()
    state = text.split("catalog_state: ", 1)[1].split("\n", 1)[0]
    errs = [ln for ln in text.splitlines() if ln.startswith("catalog_error")]
    return state, errs


@pytest.mark.parametrize("how", ["rename", "inplace"])
def test_catalog_garbage(wdir, how):
    """In-place writes under ASan (reloads may catch a half-written
    file)."""
    ref = setup_iso(wdir)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    fs = Bsfs(cat, mnt, asan=(how == "inplace"))
    try:
        refs = expected(fs, ref)
        gen0 = fs.status().split("generation: ")[1].split("\n")[0]
        rng = random.Random(5)
        junk = [bytes(rng.getrandbits(8) for _ in range(4096)),
                b"[server]\naddress = 127.0.0.1\n[iso fed\npath = \n"
                b"= what\n[host zz:zz]\nboot = nowhere\n"]
        for n, data in enumerate(junk):
            rd = Readers(mnt, refs, per_file=1)
            if how == "rename":
                with open(cat + ".new", "wb") as f:
                    f.write(data)
                os.rename(cat + ".new", cat)
            else:
                with open(cat, "r+b") as f:
                    f.truncate(0)
                    f.write(data)
            wait_until(lambda: catalog_state(fs)[0].startswith("invalid")
                       and fs.status().count("reload_failures: %d" % (n + 1)),
                       10, fs.proc, "catalog error in status")
            state, errs = catalog_state(fs)
            assert errs and "catalog.conf" in errs[0], errs
            rd.finish()
            assert rd.ok > 0 and not (rd.wrong or rd.open_err or
                                      rd.read_err)
            # the previous snapshot is still served
            assert fs.status().split("generation: ")[1].split("\n")[0] \
                == gen0
            check_served(fs, refs)
        # a fixed catalog (with a second entry) is picked up
        write_catalog(cat, [("fed", ref["iso"]), ("two", ref["iso"])],
                      inplace=(how == "inplace"))
        wait_until(lambda: os.path.exists(os.path.join(mnt, "boot", "two")),
                   10, fs.proc, "fixed catalog")
        assert catalog_state(fs) == ("ok", [])
        check_served(fs, refs)
        assert read(os.path.join(mnt, "boot", "two", "linux")) == \
            refs["boot/fed/linux"]
        bad = fs.bad_log_lines()
        assert not bad, bad
    finally:
        assert fs.close() == 0


@pytest.mark.parametrize("asan", [False, True], ids=["plain", "asan"])
def test_sighup_storm(wdir, asan):
    ref = setup_iso(wdir)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    fs = Bsfs(cat, mnt, asan=asan)
    try:
        refs = expected(fs, ref)
        check_served(fs, refs)
        fd0 = fs.fd_count()
        reloads0 = int(fs.status().split("reloads: ")[1].split("\n")[0])
        rd = Readers(mnt, refs)
        for i in range(500):
            os.kill(fs.proc.pid, signal.SIGHUP)
            if i % 50 == 0:
                time.sleep(0.01)
        time.sleep(0.5)
        rd.finish()
        assert fs.proc.poll() is None, "daemon died in the SIGHUP storm"
        assert not (rd.wrong or rd.open_err or rd.read_err), \
            (rd.wrong, rd.open_err, rd.read_err)
        assert rd.ok > 0
        reloads = int(fs.status().split("reloads: ")[1].split("\n")[0])
        # signals coalesce while a reload is pending, but some ran
        print("500 SIGHUPs: %d reloads" % (reloads - reloads0))
        assert reloads > reloads0
        check_served(fs, refs)
        wait_until(lambda: fs.fd_count() <= fd0, 10, fs.proc,
                   "fd count back to %d" % fd0)
        bad = fs.bad_log_lines()
        assert not bad, bad
    finally:
        assert fs.close() == 0


# ---- 4. killed under load, restarted on the same mountpoint --------------

def test_sigkill_restart(wdir):
    ref = setup_iso(wdir)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    with open(os.path.join(mnt, "pxelinux.0"), "wb") as f:
        f.write(b"underlay\n")
    fs = Bsfs(cat, mnt)
    fs2 = None
    try:
        refs = expected(fs, ref)
        rd = Readers(mnt, refs)
        time.sleep(0.4)
        fs.proc.kill()
        fs.proc.wait(10)
        # the dead mount is still there and fails
        assert mounted(mnt)
        with pytest.raises(OSError) as e:
            os.statvfs(mnt)
        assert e.value.errno == errno.ENOTCONN
        fs2 = Bsfs(cat, mnt)
        assert "detached the dead mount of an earlier bootshelf-fs" in \
            fs2.logtext()
        time.sleep(0.4)
        rd.finish()
        assert not rd.wrong, rd.wrong
        print("across the restart: %d ok, open errors %s, read errors %s"
              % (rd.ok, sorted(set(rd.open_err)), sorted(set(rd.read_err))))
        # served again: the tree, the underlay, correct bytes
        check_served(fs2, refs)
        assert read(os.path.join(mnt, "pxelinux.0")) == b"underlay\n"
        rd = Readers(mnt, refs, per_file=1)
        time.sleep(0.3)
        rd.finish()
        assert rd.ok > 0 and not (rd.wrong or rd.open_err or rd.read_err)
        # only one mount left at the mountpoint
        with open("/proc/self/mountinfo") as f:
            assert sum(ln.split()[4] == mnt for ln in f) == 1
    finally:
        fs.close()
        if fs2:
            assert fs2.close() == 0


def test_live_mount_refused(wdir):
    ref = setup_iso(wdir)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    fs = Bsfs(cat, mnt)
    try:
        # a second daemon on a live bootshelf mount
        p = subprocess.run([binpath("bootshelf-fs"), "-f", cat, mnt],
                           capture_output=True, timeout=30)
        assert p.returncode == 1
        assert b"is busy" in p.stderr and b"detached" not in p.stderr
        assert fs.proc.poll() is None
        assert read(os.path.join(mnt, "boot", "fed", "linux")) == \
            ref["files"]["images/pxeboot/vmlinuz"]
    finally:
        assert fs.close() == 0
    # a live mount of something else
    other = os.path.join(wdir, "other")
    os.mkdir(other)
    subprocess.run(["mount", "-t", "tmpfs", "bsfault", other], check=True,
                   timeout=30)
    try:
        p = subprocess.run([binpath("bootshelf-fs"), "-f", cat, other],
                           capture_output=True, timeout=30)
        assert p.returncode == 1 and b"is busy" in p.stderr, p.stderr
        with open("/proc/self/mountinfo") as f:
            assert [ln.split(" - ")[1].split()[0] for ln in f
                    if ln.split()[4] == other] == ["tmpfs"]
    finally:
        subprocess.run(["umount", other], timeout=30)


# ---- 5. least privilege ---------------------------------------------------

def fuse_conf_allows_other():
    try:
        with open("/etc/fuse.conf") as f:
            return any(ln.strip("\r\n") == "user_allow_other" for ln in f)
    except FileNotFoundError:
        return False


def as_nobody(*cmd):
    return subprocess.run(list(cmd), user=NOBODY, group=NOBODY,
                          capture_output=True, timeout=60)


def test_run_as_non_root(wdir):
    """Started as nobody: libfuse mounts through fusermount3; without
    user_allow_other in /etc/fuse.conf the mount falls back to no
    allow_other with a warning, and then only nobody can read it."""
    ref = setup_iso(wdir)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    os.chown(mnt, NOBODY, NOBODY)   # fusermount3 wants it writable
    fs = Bsfs(cat, mnt, user=NOBODY)
    try:
        allow = fuse_conf_allows_other()
        warned = "no user_allow_other line" in fs.logtext()
        assert warned != allow, fs.logtext()
        with open("/proc/self/mountinfo") as f:
            opts = [ln.split(" - ")[1] for ln in f
                    if ln.split()[4] == mnt][0]
        assert "user_id=%d" % NOBODY in opts
        assert ("allow_other" in opts) == allow
        linux = "boot/fed/linux"
        p = as_nobody("sha256sum", os.path.join(mnt, linux))
        assert p.returncode == 0, p.stderr
        assert p.stdout.split()[0].decode() == hashlib.sha256(
            ref["files"]["images/pxeboot/vmlinuz"]).hexdigest()
        if not allow:
            # root is another user: FUSE keeps it out without allow_other
            with pytest.raises(PermissionError):
                os.stat(os.path.join(mnt, "boot"))
        # still read-only for its owner, and live updates work
        p = as_nobody("touch", os.path.join(mnt, "x"))
        assert p.returncode != 0 and b"Read-only" in p.stderr, p.stderr
        write_catalog(cat, [("fed", ref["iso"]), ("two", ref["iso"])])
        wait_until(lambda: as_nobody("test", "-e", os.path.join(
            mnt, "boot", "two", "linux")).returncode == 0, 10, fs.proc,
            "reload as nobody")
        # a second daemon (root) refuses this live mount, although it
        # may not even stat it
        p = subprocess.run([binpath("bootshelf-fs"), "-f", cat, mnt],
                           capture_output=True, timeout=30)
        assert p.returncode == 1 and b"is busy" in p.stderr, p.stderr
        assert fs.proc.poll() is None
    finally:
        # SIGTERM: the daemon unmounts through fusermount3 itself
        fs.proc.terminate()
        assert fs.proc.wait(15) == 0
        assert not mounted(mnt), "the daemon left its mount behind"
        fs.close()


def test_drop_to_user(wdir):
    """Started as root with --user nobody: mounted with allow_other, then
    running as nobody for good; the mount is nobody's, so the daemon can
    still unmount it at SIGTERM."""
    ref = setup_iso(wdir)
    cache = os.path.join(wdir, "cache")
    os.mkdir(cache)
    os.chown(cache, NOBODY, NOBODY)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])], cache=cache)
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    fs = Bsfs(cat, mnt, ["--user", "nobody"])
    try:
        # the startup indexing already ran with nobody's rights
        files = os.listdir(cache)
        assert len(files) == 1 and \
            os.stat(os.path.join(cache, files[0])).st_uid == NOBODY, files
        st = open("/proc/%d/status" % fs.proc.pid).read()
        uids = [ln.split()[1:] for ln in st.splitlines()
                if ln.startswith(("Uid:", "Gid:"))]
        assert uids == [[str(NOBODY)] * 4] * 2, uids
        groups = [ln for ln in st.splitlines() if ln.startswith("Groups:")]
        assert "0" not in groups[0].split()[1:], groups
        cap = [ln for ln in st.splitlines() if ln.startswith("CapEff:")]
        assert int(cap[0].split()[1], 16) == 0, cap
        assert "running as nobody" in fs.logtext()
        # allow_other: root (another user) reads the tree
        check_served(fs, expected(fs, ref))
        # inotify and cache invalidation after the drop
        os.unlink(ref["iso"])
        wait_until(lambda: not os.path.exists(
            os.path.join(mnt, "boot", "fed")), 10, fs.proc, "entry gone")
        put_back(ref)
        wait_until(lambda: os.path.exists(
            os.path.join(mnt, "boot", "fed", "linux")), 10, fs.proc,
            "entry back")
        check_served(fs, expected(fs, ref))
        # unknown users and root are refused up front
        for u, msg in (("no-such-user-bsf", b"unknown user"),
                       ("root", b"must not be root")):
            p = subprocess.run([binpath("bootshelf-fs"), "--user", u, cat,
                                mnt], capture_output=True, timeout=30)
            assert p.returncode == 2 and msg in p.stderr, p.stderr
    finally:
        fs.proc.terminate()
        assert fs.proc.wait(15) == 0
        assert not mounted(mnt), "the daemon left its mount behind"
        fs.close()


# ---- the systemd unit ------------------------------------------------------

UNIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "systemd",
    "bootshelf-fs.service")


def unit_keys(path):
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")) and "=" in line:
                k, v = line.split("=", 1)
                keys.setdefault(k, []).append(v)
    return keys


def syscall_sets():
    """Every syscall group of this systemd, expanded."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"],
                         capture_output=True, text=True, check=True,
                         timeout=60).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.split()[0], [])
        elif cur is not None and line.strip() and \
                not line.strip().startswith("#"):
            cur.append(line.split()[0])

    def expand(name, seen=()):
        if not name.startswith("@"):
            return {name}
        r = set()
        for m in groups.get(name, []):
            if m not in seen:
                r |= expand(m, seen + (name,))
        return r
    return expand


def test_systemd_unit(wdir):
    """The unit parses, and the daemon run with its options (--user,
    after the drop: no capability) makes no syscall outside its
    SystemCallFilter=, through startup, reads, reloads (inotify and
    SIGHUP) and a clean stop (traced with strace -f)."""
    keys = unit_keys(UNIT)
    for k in ("NoNewPrivileges", "CapabilityBoundingSet", "SystemCallFilter",
              "RestrictAddressFamilies", "DevicePolicy"):
        assert k in keys, k
    # none of the options that would hide the mount from other servers
    for k in ("ProtectSystem", "PrivateTmp", "ProtectHome", "PrivateMounts",
              "ProtectKernelTunables", "ProtectControlGroups",
              "ReadOnlyPaths", "ReadWritePaths", "PrivateDevices"):
        assert k not in keys, k
    exe = binpath("bootshelf-fs")
    copy = os.path.join(wdir, "bootshelf-fs.service")
    with open(UNIT) as f:
        text = f.read().replace("/usr/local/sbin/bootshelf-fs", exe)
    with open(copy, "w") as f:
        f.write(text)
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", copy],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr
    assert "--user" in keys["ExecStart"][0]
    assert keys["CapabilityBoundingSet"] == [
        "CAP_SYS_ADMIN CAP_SETUID CAP_SETGID"]

    expand = syscall_sets()
    allowed = set()
    for g in keys["SystemCallFilter"][0].split():
        allowed |= expand(g)
    assert "mount" in allowed and "read" in allowed

    ref = setup_iso(wdir)
    cat = os.path.join(wdir, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])])
    mnt = os.path.join(wdir, "mnt")
    os.mkdir(mnt)
    trace = os.path.join(wdir, "strace.out")
    log = open(os.path.join(wdir, "strace.log"), "wb")
    proc = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", trace, exe, "-f", "--user", "nobody",
         cat, mnt], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b" on %s: generation" % mnt.encode() in
                   read(log.name), 60, proc, "traced mount")
        refs = expected(type("M", (), {"mnt": mnt}), ref)
        for rel, data in refs.items():
            assert read(os.path.join(mnt, rel)) == data
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            daemon = int(f.read().split()[0])
        os.kill(daemon, signal.SIGHUP)
        write_catalog(cat, [("fed", ref["iso"]), ("two", ref["iso"])])
        wait_until(lambda: os.path.exists(os.path.join(mnt, "boot", "two")),
                   10, proc, "reload")
        assert "status" in os.listdir(os.path.join(mnt, ".bootshelf"))
        read(os.path.join(mnt, ".bootshelf", "status"))
        os.kill(daemon, signal.SIGTERM)
        assert proc.wait(30) == 0   # strace exits with the daemon's status
    finally:
        stop(proc)
        if mounted(mnt):
            subprocess.run(["fusermount3", "-uz", mnt], timeout=30)
        log.close()
    used = set()
    with open(trace) as f:
        for line in f:
            name = line.split(None, 1)[1] if " " in line else ""
            if name.startswith(("+++", "---", "<...")):
                continue
            used.add(name.split("(", 1)[0])
    used.discard("")
    print("syscalls traced: %s" % " ".join(sorted(used)))
    assert len(used) > 20, used
    # execve of the daemon itself happens before the filter applies
    outside = sorted(used - allowed - {"execve"})
    assert not outside, "syscalls outside SystemCallFilter=: %s" % outside
