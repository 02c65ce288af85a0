"""Helpers for the daemon fault tests (test_faults_daemons.py).

Slow TFTP readers in threads (so a fault lands mid-transfer: on
loopback curl finishes a few MiB before anything can happen to the
file), their outcomes classified, a world-readable scratch directory for
daemons that drop to nobody, and /proc status fields.
"""
import os
import shutil
import socket
import tempfile
import threading
import time

from tftputil import TftpClient, TftpError


class SlowReader(threading.Thread):
    """Fetch @name over TFTP, pausing after every block so a transfer
    takes seconds; .result is ("ok", bytes), ("error", TftpError) or
    ("timeout", exc)."""

    def __init__(self, port, name, pause=0.001, blksize=1468):
        super().__init__(daemon=True)
        self.port, self.name = port, name
        self.pause, self.blksize = pause, blksize
        self.result = None
        self.started_data = threading.Event()

    def run(self):
        c = TftpClient(self.port, timeout=1.0)

        def on_data(_c, blk):
            self.started_data.set()
            time.sleep(self.pause)
        try:
            data = c.get(self.name, opts=(("blksize", self.blksize),),
                         on_data=on_data, retries=3)
            self.result = ("ok", data)
        except TftpError as e:
            self.result = ("error", e)
        except (socket.timeout, OSError) as e:
            self.result = ("timeout", e)
        finally:
            c.close()
            self.started_data.set()


def start_readers(port, name, n=4, **kw):
    rs = [SlowReader(port, name, **kw) for _ in range(n)]
    for r in rs:
        r.start()
    for r in rs:
        assert r.started_data.wait(20), "no data for a reader"
    return rs


def join_readers(rs, timeout=60):
    deadline = time.monotonic() + timeout
    for r in rs:
        r.join(max(0.1, deadline - time.monotonic()))
        assert not r.is_alive(), "a TFTP reader hung"
    return [r.result for r in rs]


def check_outcomes(results, old):
    """Each transfer got exactly the old bytes or a TFTP ERROR packet:
    never other bytes, never silence.  Returns (ok, errors)."""
    ok = err = 0
    for kind, val in results:
        assert kind != "timeout", "transfer ended in silence: %r" % (val,)
        if kind == "ok":
            assert val == old, "a transfer got wrong bytes (%d vs %d)" % (
                len(val), len(old))
            ok += 1
        else:
            err += 1
    return ok, err


class PublicDir:
    """A directory nobody can read (0755), removed on close()."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="bsfault-")
        os.chmod(self.path, 0o755)

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_NET_RAW = 1, 2, 13


def wait_log(get_text, needle, timeout=10, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in get_text():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError("daemon exited %s while waiting for %r:\n%s"
                                 % (proc.returncode, needle, get_text()))
        time.sleep(0.05)
    raise AssertionError("log never said %r:\n%s" % (needle, get_text()))
