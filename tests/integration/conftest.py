"""Shared fixtures for bootshelf integration tests.

Binaries come from $BS_BUILD (set by `make integration`).  Every test gets
a private work directory (pytest's tmp_path); daemons are started with
helpers here that wait for readiness with a deadline and are always
stopped by PID.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BS_BUILD", os.path.join(ROOT, "build"))


def binpath(name):
    """Path of a built program (bootshelf, bootshelf-fs, ...) or tool."""
    for d in (BUILD, os.path.join(BUILD, "tools")):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name + " not built in " + BUILD)


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout=10.0, proc=None, what="condition"):
    """Poll pred() until true; fail early if proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s: process exited with %s" % (what, proc.returncode))
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def stop(proc, timeout=10):
    """Terminate a process we started, by PID; kill if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def have(cmd):
    return shutil.which(cmd) is not None


ASAN_BUILD = os.environ.get("BS_ASAN_BUILD", os.path.join(ROOT, "build-asan"))
ASAN_ENV = dict(os.environ,
                ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99")


def asan_binpath(name):
    """The ASan+UBSan build of a program, or None if not built."""
    p = os.path.join(ASAN_BUILD, name)
    return p if os.path.exists(p) else None


def assert_no_sanitizer_report(proc):
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode != 99 and "Sanitizer" not in err \
        and "runtime error" not in err, err


@pytest.fixture
def bs_asan():
    """Run the ASan+UBSan CLI; fails the test on any sanitizer report."""
    exe = asan_binpath("bootshelf")
    if exe is None:
        pytest.fail("no ASan build: run 'make unit-asan' first")

    def run(*args):
        p = subprocess.run([exe] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=ASAN_ENV, timeout=300)
        assert_no_sanitizer_report(p)
        return p
    return run


@pytest.fixture
def bs():
    """Run the bootshelf CLI; returns CompletedProcess (bytes stdout)."""
    def run(*args, check=True, input=None):
        p = subprocess.run([binpath("bootshelf")] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           input=input, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("bootshelf %s failed (%d): %s" %
                                 (" ".join(map(str, args)), p.returncode,
                                  p.stderr.decode(errors="replace")))
        return p
    return run


@pytest.fixture
def wdir():
    """A world-readable work directory (for daemons that drop to
    nobody), unmounted and removed after."""
    d = tempfile.mkdtemp(prefix="bootshelf-test-")
    os.chmod(d, 0o755)
    yield d
    for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
        mp = line.split()[4].replace("\\040", " ")
        if mp.startswith(d + "/"):
            subprocess.run(["umount", "-l", mp], timeout=30)
    shutil.rmtree(d, ignore_errors=True)
