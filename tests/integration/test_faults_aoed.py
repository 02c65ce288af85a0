"""Faults under bootshelf-aoed, driven by the aoe_init initiator over a
veth pair: the exported ISO deleted, truncated or made unreadable while
initiators read the whole disk, a catalog replaced by garbage, SIGHUP
storms, SIGKILL and restart mid-read, and the sandbox (CAP_NET_RAW only,
seccomp) being in force, also in the ASan+UBSan build.

A read must return the old version's bytes or stop at an ATA error
(never other bytes, never past the end); the daemon must stay up, log
the problem and name it in its SIGUSR1 report, and serve the file again
once it is back."""
import hashlib
import os
import signal
import threading
import time

import pytest

from aoeutil import Net, kv, log_problems, make_iso
from conftest import asan_binpath, stop, wait_until
from faultutil import CAP_NET_RAW, fd_count, proc_status, wait_log


@pytest.fixture
def net():
    n = Net()
    try:
        yield n
    finally:
        n.close()


def sha_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def logtext(log):
    with open(log, "rb") as f:
        return f.read().decode(errors="replace")


class Readers:
    """An initiator reading the whole disk back to back, each read
    recorded as ("ok", sha256) or ("ata", message).  One per interface:
    two aoe_init on one MAC would take each other's replies (their tags
    are alike and it does not check a reply's LBA)."""

    def __init__(self, net, tmp_path, n=1, args=("-k", "4", "-n", "2")):
        self.net, self.results = net, []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(
            target=self.loop, args=(str(tmp_path / ("r%d" % i)), args),
            daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()

    def loop(self, out, args):
        while not self.stop.is_set():
            p = self.net.init(*(list(args) + ["-o", out, "read"]),
                              check=False, timeout=60)
            err = p.stderr.decode(errors="replace")
            if p.returncode == 0:
                r = ("ok", sha_file(out))
            elif p.returncode == 3 and "error reply" in err:
                r = ("ata", err.strip())
            else:
                r = ("bad", "rc %d: %s" % (p.returncode, err))
            with self.lock:
                self.results.append(r)

    def count(self):
        with self.lock:
            return len(self.results)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(90)
            assert not t.is_alive(), "an initiator hung"
        return list(self.results)


def check(results, old_sha):
    ok = ata = 0
    for kind, val in results:
        assert kind != "bad", val
        if kind == "ok":
            assert val == old_sha, "a read returned other bytes"
            ok += 1
        else:
            ata += 1
    return ok, ata


def report(p, log, needle):
    """SIGUSR1 and wait for the per-target line to contain @needle."""
    n = logtext(log).count("read errors")
    p.send_signal(signal.SIGUSR1)

    def has():
        lines = [l for l in logtext(log).splitlines() if "read errors" in l]
        return len(lines) > n and needle in lines[-1]
    deadline = time.monotonic() + 10
    while not has():
        assert time.monotonic() < deadline, logtext(log)
        time.sleep(0.1)


def identify_sectors(net):
    return int(kv(net.init("identify").stdout.decode().splitlines()[-1])
               ["sectors"])


def replace_with(path, data):
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@pytest.mark.parametrize("fault,build", [
    ("delete", "plain"), ("truncate", "plain"), ("unreadable", "plain"),
    ("truncate", "asan")])
def test_iso_fault_during_reads(net, tmp_path, fault, build):
    exe = None
    if build == "asan":
        exe = asan_binpath("bootshelf-aoed")
        assert exe, "no ASan build: run 'make unit-asan' first"
    log = str(tmp_path / "aoed.log")
    path = make_iso(str(tmp_path / "live.iso"), str(tmp_path), mib=4)
    with open(path, "rb") as f:
        old = f.read()
    old_sha = hashlib.sha256(old).hexdigest()
    # no -u: uid 0, but with CAP_NET_RAW only, file modes apply to it
    p = net.start_aoed(["-I", "1", "-a", "0", "-e", "0.1:" + path], log,
                       binary=exe)
    st = proc_status(p.pid)
    assert int(st["CapEff"], 16) == 1 << CAP_NET_RAW
    assert int(st["CapPrm"], 16) == 1 << CAP_NET_RAW
    assert st["Seccomp"].strip() == "2"
    rd = Readers(net, tmp_path)
    deadline = time.monotonic() + 30
    while rd.count() < 2:
        assert time.monotonic() < deadline, "no read finished"
        time.sleep(0.05)
    if fault == "delete":
        os.unlink(path)
        expect = "file gone from disk"
    elif fault == "truncate":
        os.truncate(path, len(old) // 2 + 1000)
        expect = "file shrank"
    else:
        os.chmod(path, 0)
        expect = "file not readable"
    n0 = rd.count()
    deadline = time.monotonic() + 30
    while rd.count() < n0 + 3:
        assert time.monotonic() < deadline, "reads stalled"
        time.sleep(0.05)
    wait_log(lambda: logtext(log), expect, proc=p)
    report(p, log, expect)
    ok, ata = check(rd.finish(), old_sha)
    if fault == "truncate":
        assert ata >= 1, (ok, ata)
        wait_log(lambda: logtext(log), "reads failed", proc=p)
        # idle: the shrunk file is switched to, never read past its end
        wait_log(lambda: logtext(log), "now serving", proc=p)
        assert identify_sectors(net) == (len(old) // 2 + 1000) // 512
        out = str(tmp_path / "short")
        net.init("-o", out, "read")
        with open(out, "rb") as f:
            assert f.read() == old[:(len(old) // 2 + 1000) // 512 * 512]
    else:
        assert ata == 0 and ok >= 4, (ok, ata)
    # the file is back: served (after the idle switch for a new file)
    served_before = logtext(log).count("now serving")
    if fault == "unreadable":
        os.chmod(path, 0o644)
        wait_log(lambda: logtext(log), "ok again", proc=p)
    else:
        replace_with(path, old)
        wait_until(lambda: logtext(log).count("now serving") >
                   served_before, timeout=15, proc=p,
                   what="the switch to the restored file")
    assert identify_sectors(net) == len(old) // 512
    out = str(tmp_path / "back")
    net.init("-o", out, "read")
    assert sha_file(out) == old_sha
    assert p.poll() is None
    stop(p)
    assert p.returncode == 0, logtext(log)
    assert not [l for l in log_problems(log) if "Sanitizer" in l or
                "runtime error" in l], logtext(log)
    assert "seccomp: system call" not in logtext(log)


def write_catalog(cat, entries):
    with open(cat, "w") as f:
        f.write("[server]\ncache = none\n\n")
        for name, path, addr in entries:
            f.write("[iso %s]\npath = %s\naoe = %s\n\n" % (name, path, addr))


def test_catalog_garbage_and_sighup_storm(net, tmp_path):
    log = str(tmp_path / "aoed.log")
    iso = make_iso(str(tmp_path / "a.iso"), str(tmp_path), mib=3)
    iso_sha = sha_file(iso)
    cat = str(tmp_path / "bootshelf.conf")
    write_catalog(cat, [("a", iso, "0.1")])
    p = net.start_aoed(["-a", "0", "-c", cat], log)
    net.init("-t", "0.1", "identify")
    time.sleep(0.3)
    base = fd_count(p.pid)
    # garbage: the old targets stay, the error is logged
    with open(cat, "wb") as f:
        f.write(b"[iso \xff\x00\n= = =\n[[[\naoe = 99999.1\n" +
                os.urandom(256))
    p.send_signal(signal.SIGHUP)
    wait_log(lambda: logtext(log), "reload failed", proc=p)
    out = str(tmp_path / "out")
    net.init("-t", "0.1", "-o", out, "read")
    assert sha_file(out) == iso_sha
    # a storm of SIGHUPs while initiators read (catalog still garbage,
    # then fixed halfway): reads stay correct, nothing leaks
    rd = Readers(net, tmp_path, args=("-t", "0.1", "-k", "4", "-n", "2"))
    for i in range(300):
        os.kill(p.pid, signal.SIGHUP)
        if i == 150:
            iso2 = make_iso(str(tmp_path / "b.iso"), str(tmp_path), mib=1)
            write_catalog(cat, [("a", iso, "0.1"), ("b", iso2, "0.2")])
    for _ in range(20):
        os.kill(p.pid, signal.SIGHUP)
        time.sleep(0.02)
    time.sleep(0.5)
    ok, ata = check(rd.finish(), iso_sha)
    assert ata == 0 and ok >= 2, (ok, ata)
    assert p.poll() is None, logtext(log)
    # the fixed catalog was picked up: the new target answers
    out2 = str(tmp_path / "out2")
    net.init("-t", "0.2", "-o", out2, "read")
    assert sha_file(out2) == sha_file(iso2)
    # back to the baseline plus the one new target's file
    deadline = time.monotonic() + 10
    while fd_count(p.pid) != base + 1:
        assert time.monotonic() < deadline, (fd_count(p.pid), base)
        time.sleep(0.1)
    stop(p)
    assert p.returncode == 0, logtext(log)


def test_kill_and_restart_mid_read(net, tmp_path):
    """The initiator retransmits: a read running across a SIGKILL and a
    restart of the daemon completes with the right bytes."""
    log = str(tmp_path / "aoed.log")
    iso = make_iso(str(tmp_path / "a.iso"), str(tmp_path), mib=6)
    args = ["-a", "0", "-e", "0.1:" + iso]
    p = net.start_aoed(args, log)
    out = str(tmp_path / "out")
    result = {}

    def read():
        # one request of one sector at a time: slow enough to be cut
        result["p"] = net.init("-t", "0.1", "-k", "1", "-n", "1",
                               "-T", "100", "-o", out, "read",
                               check=False, timeout=120)
    # stop the daemon while the read is under way (SIGSTOP first, so the
    # read cannot finish before the kill on a fast machine)
    for attempt in range(5):
        th = threading.Thread(target=read, daemon=True)
        th.start()
        time.sleep(0.05 / (attempt + 1))
        p.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        if th.is_alive():
            break
        p.send_signal(signal.SIGCONT)
    assert th.is_alive(), "every read finished before the daemon stopped"
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    time.sleep(1.0)
    p2 = net.start_aoed(args, log)
    th.join(120)
    assert not th.is_alive()
    r = result["p"]
    assert r.returncode == 0, r.stderr
    assert sha_file(out) == sha_file(iso)
    # it had to retransmit across the gap
    assert int(kv(r.stdout.decode().splitlines()[-1]).get("retrans", 0)) > 0
    # and a new read after the restart
    net.init("-t", "0.1", "-o", out, "read")
    assert sha_file(out) == sha_file(iso)
    stop(p2)
    assert p2.returncode == 0, logtext(log)


def test_sandbox_off(net, tmp_path):
    log = str(tmp_path / "aoed.log")
    iso = make_iso(str(tmp_path / "a.iso"), str(tmp_path), mib=1)
    p = net.start_aoed(["--no-sandbox", "-a", "0", "-e", "0.1:" + iso], log)
    assert proc_status(p.pid)["Seccomp"].strip() == "0"
    net.init("identify")
    stop(p)
    assert "sandbox:" not in logtext(log)


def test_sd_notify_under_sandbox(net, tmp_path, monkeypatch):
    """sd_notify's unix socket works from inside the filter: READY at
    start, RELOADING and READY around a SIGHUP, STOPPING at exit."""
    import socket
    path = str(tmp_path / "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    iso = make_iso(str(tmp_path / "a.iso"), str(tmp_path), mib=1)
    log = str(tmp_path / "aoed.log")
    try:
        p = net.start_aoed(["-a", "0", "-e", "0.1:" + iso], log)
        assert proc_status(p.pid)["Seccomp"].strip() == "2"
        assert b"READY=1" in s.recv(4096)
        p.send_signal(signal.SIGHUP)
        assert b"RELOADING=1" in s.recv(4096)
        assert b"READY=1" in s.recv(4096)
        stop(p)
        assert b"STOPPING=1" in s.recv(4096)
        assert p.returncode == 0, logtext(log)
    finally:
        s.close()
