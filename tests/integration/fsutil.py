"""Helpers for the bootshelf-fs integration tests.

Test ISOs are built with xorriso from a small Fedora-live-like tree
(images/pxeboot/vmlinuz, initrd.img, LiveOS/squashfs.img) filled with
random bytes; expected contents of the synthesized files are computed
here independently of bootshelf (newc cpio parsed by hand).  FsMount runs
bootshelf-fs in the foreground, waits for the mount with a deadline and
always unmounts (fusermount3 -u, then kill by PID).
"""
import hashlib
import os
import random
import subprocess
import time

from conftest import (ASAN_ENV, asan_binpath, binpath, stop,
                      wait_until)

MAC = "52:54:00:12:34:56"


def rand_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def make_iso(workdir, name, seed, kernel=3 << 20, initrd=(1 << 20) + 3,
             squash=2 << 20, extra=None):
    """Build WORKDIR/NAME.iso; returns a dict of reference bytes."""
    rng = random.Random(seed)
    src = os.path.join(workdir, name + "-src")
    files = {
        "images/pxeboot/vmlinuz": rand_bytes(rng, kernel),
        "images/pxeboot/initrd.img": rand_bytes(rng, initrd),
        "LiveOS/squashfs.img": rand_bytes(rng, squash),
        "EFI/BOOT/grub.cfg": b"menuentry test { linux /images/pxeboot/vmlinuz }\n",
    }
    files.update(extra or {})
    for rel, data in files.items():
        p = os.path.join(src, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    iso = os.path.join(workdir, name + ".iso")
    tmp = iso + ".tmp"
    subprocess.run(["xorriso", "-as", "mkisofs", "-R", "-J", "-V",
                    name.upper()[:32], "-o", tmp, src], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)
    return {"iso": tmp, "final": iso, "files": files, "src": src}


def install_iso(ref):
    """Move the freshly built ISO into place (atomic rename)."""
    os.rename(ref["iso"], ref["final"])
    ref["iso"] = ref["final"]
    return ref["final"]


def osirrox_extract(iso, path_in_iso, dest):
    """Reference extraction of one file with xorriso -osirrox."""
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract",
                    "/" + path_in_iso, dest], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60)
    with open(dest, "rb") as f:
        return f.read()


def pad4(n):
    return (4 - n % 4) % 4


def parse_newc(data):
    """Parse a newc cpio archive: list of (name, mode, bytes)."""
    out = []
    pos = 0
    while True:
        hdr = data[pos:pos + 110]
        assert hdr[:6] == b"070701", "bad cpio magic at %d" % pos
        fields = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, filesize, namesize = fields[1], fields[6], fields[11]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        assert data[pos + 110 + namesize - 1] == 0
        pos += 110 + namesize
        pos += pad4(pos)
        body = data[pos:pos + filesize]
        pos += filesize
        pos += pad4(pos)
        if name == "TRAILER!!!":
            assert pos == len(data), "bytes after the cpio trailer"
            return out
        out.append((name, mode, body))


def expected_initrd(ref):
    d = ref["files"]["images/pxeboot/initrd.img"]
    return d + b"\0" * pad4(len(d))


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_catalog(path, entries, hosts=(), extra=""):
    """entries: list of (name, iso path); atomic rename into place."""
    text = "[server]\naddress = 127.0.0.1\nhttp = http://127.0.0.1/boot\n\n"
    for name, iso in entries:
        text += "[iso %s]\npath = %s\nlabel = %s test\n\n" % (name, iso, name)
    for mac, name in hosts:
        text += "[host %s]\nboot = %s\n\n" % (mac, name)
    text += extra
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


# Log lines a healthy run may print at warning level or above.
ALLOWED = ("is hidden by the catalog tree", "reload failed",
           "rewritten in place", "error: ", "warning: ")



def daemon_fd_count(pid):
    """Descriptors a bootshelf-fs process manages.  libfuse's worker
    threads (their /dev/fuse clones and splice pipes) come and go with
    the load and are not counted."""
    n = 0
    d = "/proc/%d/fd" % pid
    for f in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, f))
        except FileNotFoundError:
            continue
        if not target.startswith("pipe:") and target != "/dev/fuse":
            n += 1
    return n

class FsMount:
    """bootshelf-fs CATALOG MNT in the foreground, stopped by PID."""

    def __init__(self, catalog, mnt, args=(), allowed_log=(), asan=False):
        """asan: run the ASan+UBSan build; any report fails close()."""
        self.catalog, self.mnt = catalog, mnt
        self.asan = asan
        exe = binpath("bootshelf-fs")
        if asan:
            exe = asan_binpath("bootshelf-fs")
            assert exe, "no ASan build: run 'make unit-asan' first"
        self.log = os.path.join(os.path.dirname(mnt) or ".",
                                os.path.basename(mnt) + ".log")
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [exe, "-f"] + list(args) + [catalog, mnt],
            stdout=self.logf, stderr=subprocess.STDOUT,
            env=ASAN_ENV if asan else None)
        self.allowed_log = allowed_log
        try:
            wait_until(lambda: os.path.ismount(mnt), 20, self.proc,
                       "bootshelf-fs mount")
        except Exception:
            self.close()
            raise

    def logtext(self):
        if not self.logf.closed:
            self.logf.flush()
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def bad_log_lines(self):
        """error/warning lines not explicitly allowed by the test."""
        bad = []
        for line in self.logtext().splitlines():
            if "error:" in line or "warning:" in line:
                if not any(a in line for a in self.allowed_log):
                    bad.append(line)
        return bad

    def fd_count(self):
        return daemon_fd_count(self.proc.pid)

    def hup(self):
        self.proc.send_signal(1)

    def close(self):
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-u", self.mnt],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            stop(self.proc)
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], timeout=30)
        self.logf.close()
        if self.asan:
            text = self.logtext()
            assert "Sanitizer" not in text and "runtime error" not in text, \
                text[-4000:]
        return self.proc.returncode


def wait_for(pred, timeout, what):
    """Poll pred(); return seconds it took."""
    t0 = time.monotonic()
    wait_until(pred, timeout, None, what)
    return time.monotonic() - t0
