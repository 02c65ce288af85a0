"""Helpers for the bootshelf-aoed integration tests.

A veth pair between two network namespaces made for one test (names
carry the pid and a counter), the daemon started in the target namespace
and the aoe_init initiator run in the other.  Everything is removed by
name or PID afterwards.  $BS_AOED points the tests at another daemon
binary, e.g. an ASan build (make B=build-asan SAN=1 OPT=-O1 all).
"""
import itertools
import os
import subprocess
import time

from conftest import binpath, stop, wait_until

_count = itertools.count()


def aoed_path():
    return os.environ.get("BS_AOED") or binpath("bootshelf-aoed")



def start_aoed_in(ns, args, log, binary, procs):
    """bootshelf-aoed -f ARGS in namespace @ns, logging to @log and
    recorded in @procs for cleanup; returns the Popen once it says it is
    serving."""
    cmd = ["ip", "netns", "exec", ns, binary or aoed_path(),
           "-f"] + [str(a) for a in args]
    f = open(log, "ab")
    p = subprocess.Popen(cmd, stdout=f, stderr=f, stdin=subprocess.DEVNULL)
    f.close()
    procs.append(p)

    def ready():
        with open(log, "rb") as g:
            return b"serving" in g.read()
    wait_until(ready, timeout=15, proc=p, what="bootshelf-aoed start")
    return p

class Net:
    """Two namespaces joined by a veth pair: t (target) and i (initiator)."""

    def __init__(self, mtu=1500):
        n = "%d%d" % (os.getpid() % 100000, next(_count))
        self.tns, self.ins = "bsaoet" + n, "bsaoei" + n
        self.tif, self.iif = "bsat" + n, "bsai" + n
        self.procs = []
        sh = self.sh
        sh("ip", "netns", "add", self.tns)
        sh("ip", "netns", "add", self.ins)
        sh("ip", "link", "add", self.tif, "type", "veth", "peer", "name",
           self.iif)
        sh("ip", "link", "set", self.tif, "netns", self.tns)
        sh("ip", "link", "set", self.iif, "netns", self.ins)
        for ns, ifn in ((self.tns, self.tif), (self.ins, self.iif)):
            sh("ip", "-n", ns, "link", "set", ifn, "mtu", str(mtu))
            sh("ip", "-n", ns, "link", "set", ifn, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.imac = self.mac(self.ins, self.iif)
        self.tmac = self.mac(self.tns, self.tif)

    @staticmethod
    def sh(*args):
        subprocess.run(args, check=True, timeout=30)

    @staticmethod
    def mac(ns, ifn):
        out = subprocess.run(["ip", "netns", "exec", ns, "cat",
                              "/sys/class/net/%s/address" % ifn],
                             check=True, stdout=subprocess.PIPE, timeout=30)
        return out.stdout.decode().strip()

    def start_aoed(self, args, log, binary=None):
        """Start the daemon in the target namespace, logging to @log;
        returns the Popen once it says it is serving."""
        return start_aoed_in(self.tns, ["-i", self.tif] + list(args), log,
                             binary, self.procs)

    def start(self, cmd, log):
        """Start any program (vblade) in the target namespace."""
        f = open(log, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.tns] + cmd,
                             stdout=f, stderr=f)
        f.close()
        self.procs.append(p)
        return p

    def init(self, *args, check=True, timeout=120):
        """Run aoe_init in the initiator namespace."""
        cmd = ["ip", "netns", "exec", self.ins, binpath("aoe_init"), "-i",
               self.iif] + [str(a) for a in args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("aoe_init %s failed (%d): %s" % (
                " ".join(map(str, args)), p.returncode,
                p.stderr.decode(errors="replace")))
        return p

    def py(self, code, *args, timeout=300):
        """Run a Python snippet in the initiator namespace."""
        return subprocess.run(["ip", "netns", "exec", self.ins,
                               "/usr/bin/python3", "-c", code] +
                              [str(a) for a in args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)

    def close(self):
        for p in self.procs:
            stop(p)
        for ns in (self.tns, self.ins):
            subprocess.run(["ip", "netns", "del", ns], timeout=30)


def kv(line):
    """'target a=1 b=x' -> {'a': '1', 'b': 'x'} (the first word dropped)."""
    out = {}
    for w in line.split()[1:]:
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v.strip('"')
    return out


def make_iso(path, workdir, mib=3, seed=None):
    """An ISO 9660 image with a few MiB of random files, made by xorriso."""
    src = os.path.join(workdir, "isosrc-%d" % next(_count))
    os.makedirs(src)
    rnd = os.urandom
    for i in range(mib):
        with open(os.path.join(src, "f%d.bin" % i), "wb") as f:
            f.write(rnd(1 << 20))
    with open(os.path.join(src, "odd.bin"), "wb") as f:
        f.write(rnd(12345))
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", path,
                    src], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def log_problems(log):
    """Lines a healthy daemon should not print."""
    with open(log, "rb") as f:
        text = f.read().decode(errors="replace")
    return [l for l in text.splitlines()
            if "AddressSanitizer" in l or "runtime error" in l
            or "error:" in l]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class TapNet:
    """A network namespace holding tap devices and nothing else: the
    host side of QEMU guests' NICs, for bootshelf-aoed to serve on.  Has
    what qemuutil.Guest wants of a namespace (name, workdir, tap())."""

    def __init__(self, workdir):
        self.name = "bsaoeq%d%d" % (os.getpid() % 100000, next(_count))
        self.workdir = workdir
        self.ntaps = 0
        self.procs = []
        subprocess.run(["ip", "netns", "add", self.name], check=True,
                       timeout=30)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"],
                       check=True, timeout=30)

    def tap(self):
        name = "tap%d" % self.ntaps
        self.ntaps += 1
        ip = ["ip", "-n", self.name]
        subprocess.run(ip + ["tuntap", "add", "dev", name, "mode", "tap"],
                       check=True, timeout=30)
        subprocess.run(ip + ["link", "set", name, "up"], check=True,
                       timeout=30)
        return name

    def start_aoed(self, args, log, binary=None):
        """bootshelf-aoed in the namespace, logging to @log; returns the
        Popen once it says it is serving."""
        return start_aoed_in(self.name, args, log, binary, self.procs)

    def close(self):
        for p in self.procs:
            stop(p)
        self.procs = []
        subprocess.run(["ip", "netns", "del", self.name], timeout=30)
