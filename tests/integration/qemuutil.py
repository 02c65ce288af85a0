"""Helpers for the QEMU PXE boot tests: a private network namespace with
the stock servers a site would run (dnsmasq for DHCP, tftpd-hpa, nginx)
serving the bootshelf tree, and QEMU guests (TCG, SeaBIOS + the iPXE
option ROM of ipxe-qemu) booting from it with their serial console in a
log file.

Everything runs inside a namespace created here (name unique per pid):
one bridge with 10.213.0.1/24 and a ULA /64 (dnsmasq sends router
adverts: without them iPXE waits ~10 s for IPv6 autoconfiguration), one
tap per guest.  No host interface is touched.  Processes are stopped by
PID (in.tftpd's per-transfer children by parent PID); the namespace is
deleted at the end.  Left out: KVM (TCG only), UEFI guests.
"""
import os
import re
import shutil
import signal
import subprocess
import time

from conftest import stop

NET = "10.213.0"
SERVER = NET + ".1"
NET6 = "fd00:213:0:0"
QEMU = "qemu-system-x86_64"

# Files a Syslinux 6 PXE client needs beside the generated configs: the
# tree's menus use menu.c32 (which needs libutil.c32).
PXELINUX_FILES = ["/usr/lib/PXELINUX/pxelinux.0",
                  "/usr/lib/syslinux/modules/bios/ldlinux.c32",
                  "/usr/lib/syslinux/modules/bios/menu.c32",
                  "/usr/lib/syslinux/modules/bios/libutil.c32"]

# Serial-console lines after which a boot can no longer succeed.
FAIL_RE = re.compile(
    r"Kernel panic|emergency mode|Initramfs unpacking failed|"
    r"Unable to find a medium|Could not find kernel image|"
    r"No more network devices|Could not boot|\(initramfs\) $|"
    r"BOOTSHELF-KIWI-FAIL.*|BOOTSHELF-AOE-FAIL.*")

ANSI_RE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[A-Za-z])")

# Milestones timed in every boot (seconds since QEMU started).
MILESTONES = [("ipxe", re.compile(r"iPXE")),
              ("pxelinux", re.compile(r"LINUX \d\.\d+ PXE")),
              ("grub", re.compile(r"GRUB")),
              ("kernel", re.compile(r"Linux version|Decompressing Linux"
                                    r"|Booting the kernel")),
              ("root", re.compile(r"BOOTSHELF-ROOT-OK"))]


def run(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


def children(pid):
    """PIDs whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # the comm field may hold spaces: the ppid follows the last ')'
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def stop_pid(proc, timeout=5):
    """Stop a process we started (and its direct children) by PID."""
    if proc is None or proc.poll() is not None:
        return
    for c in children(proc.pid):
        try:
            os.kill(c, signal.SIGKILL)
        except ProcessLookupError:
            pass
    stop(proc, timeout)


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no log)"
    text = data.decode(errors="replace").replace("\r", "")
    return "\n".join(text.splitlines()[-n:])


GANESHA_CONF = """
NFS_CORE_PARAM { Protocols = 3, 4; Enable_NLM = false;
                 Enable_RQUOTA = false; mount_path_pseudo = true; }
NFSV4 { Graceless = true; RecoveryBackend = fs; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT { Export_Id = 1; Path = %(path)s; Pseudo = %(pseudo)s;
         Protocols = 3, 4; Transports = TCP, UDP; Access_Type = RO;
         Squash = No_root_squash; SecType = sys; FSAL { Name = VFS; } }
"""

GANESHA_START = """set -e
mount -t tmpfs -o mode=755 tmpfs /run
rpcbind -f -w &
exec ganesha.nfsd -F -f %(d)s/ganesha.conf -L %(d)s/ganesha.log \\
    -p %(d)s/ganesha.pid
"""


class Netns:
    """A network namespace with a bridge, taps and servers on it."""

    _count = 0

    def __init__(self, workdir):
        Netns._count += 1
        self.name = "bs-qemu-%d-%d" % (os.getpid(), Netns._count)
        self.workdir = workdir
        self.procs = []
        self.ntaps = 0
        self.hosts = []
        if os.path.exists("/run/netns/" + self.name):
            run(["ip", "netns", "del", self.name], check=False)
        run(["ip", "netns", "add", self.name])
        ip = ["ip", "-n", self.name]
        try:
            run(ip + ["link", "set", "lo", "up"])
            run(ip + ["link", "add", "br0", "type", "bridge", "stp_state",
                      "0", "forward_delay", "0"])
            run(ip + ["addr", "add", SERVER + "/24", "dev", "br0"])
            run(ip + ["addr", "add", NET6 + "::1/64", "dev", "br0",
                      "nodad"])
            run(ip + ["link", "set", "br0", "up"])
        except BaseException:
            self.close()
            raise

    def tap(self):
        """A new tap device on the bridge, for one guest."""
        name = "tap%d" % self.ntaps
        self.ntaps += 1
        ip = ["ip", "-n", self.name]
        run(ip + ["tuntap", "add", "dev", name, "mode", "tap"])
        run(ip + ["link", "set", name, "master", "br0"])
        run(ip + ["link", "set", name, "up"])
        return name

    def bg(self, logname, cmd):
        """Start cmd inside the namespace (ip netns exec execs it, so the
        PID is the server's own)."""
        log = open(os.path.join(self.workdir, logname), "wb")
        p = subprocess.Popen(["ip", "netns", "exec", self.name] + cmd,
                             stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append(p)
        return p

    def dhcp(self, hosts, default_boot="pxelinux.0"):
        """dnsmasq, DHCP only (port=0: no DNS).  hosts: [(mac, bootfile)].
        Option 175.176 (iPXE no-pxedhcp) stops iPXE waiting for a
        ProxyDHCP offer; --enable-ra answers its IPv6 solicitations."""
        cmd = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
               "--port=0", "--interface=br0", "--bind-interfaces",
               "--leasefile-ro", "--log-dhcp", "--log-facility=-",
               "--dhcp-range=%s.100,%s.150,255.255.255.0,10m" % (NET, NET),
               "--dhcp-option=encap:175,176,1b",
               "--enable-ra", "--dhcp-range=%s::,ra-only" % NET6,
               "--dhcp-boot=" + default_boot]
        for i, (mac, boot) in enumerate(hosts):
            cmd += ["--dhcp-host=%s,set:h%d" % (mac, i),
                    "--dhcp-boot=tag:h%d,%s" % (i, boot)]
        return self.bg("dnsmasq.log", cmd)

    def tftpd(self, root, user="tftp"):
        """Stock tftpd-hpa, foreground: chroots into root (-s), then
        drops to user (bootshelf-fs mounts with allow_other)."""
        p = self.bg("in.tftpd.log", ["in.tftpd", "-L", "-v", "-u", user,
                                  "-a", SERVER + ":69", "-s", root])
        self._wait_port(p, "udp", 69, "in.tftpd")
        return p

    def bootshelf_tftpd(self, exe, root, user="root"):
        """bootshelf-tftpd in place of tftpd-hpa, serving the same
        directory (the mount) on port 69."""
        p = self.bg("bootshelf-tftpd.log", [exe, "-L", "-u", user,
                                            "-a", SERVER + ":69", "-s",
                                            root])
        self._wait_port(p, "udp", 69, "bootshelf-tftpd")
        return p

    def nginx(self, root):
        """nginx serving root read-only on port 80 (one process, as root:
        the test directory is not readable by www-data)."""
        d = os.path.join(self.workdir, "nginx")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""daemon off;
master_process off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 64; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    default_type application/octet-stream;
    sendfile on;
    server {
        listen %(addr)s:80;
        root %(root)s;
    }
}
""" % {"d": d, "addr": SERVER, "root": root})
        p = self.bg("nginx.log", ["nginx", "-p", d, "-c", conf])
        self._wait_port(p, "tcp", 80, "nginx")
        return p

    def nfs(self, root, pseudo):
        """rpcbind + nfs-ganesha (FSAL_VFS) exporting root read-only as
        SERVER:pseudo over NFSv3 and v4, in a private mount namespace
        with its own /run (rpcbind's socket must not clash with the
        host's).  Returns the ganesha process; rpcbind is its sibling in
        the same shell, stopped with it by parent PID."""
        d = os.path.join(self.workdir, "nfs")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "ganesha.conf"), "w") as f:
            f.write(GANESHA_CONF % {"path": root, "pseudo": pseudo,
                                    "d": d})
        with open(os.path.join(d, "start.sh"), "w") as f:
            f.write(GANESHA_START % {"d": d})
        p = self.bg("ganesha.out", ["unshare", "-m", "--propagation",
                                    "private", "sh",
                                    os.path.join(d, "start.sh")])
        self._wait_port(p, "tcp", 2049, "ganesha", timeout=60)
        return p

    def _wait_port(self, proc, proto, port, what, timeout=10):
        deadline = time.monotonic() + timeout
        flag = "-lun" if proto == "udp" else "-ltn"
        while time.monotonic() < deadline:
            out = run(["ip", "netns", "exec", self.name, "ss", flag],
                      check=False).stdout.decode()
            if re.search(r"(%s|\*|0\.0\.0\.0|\[::\]):%d\s"
                         % (re.escape(SERVER), port), out):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("%s did not start: %s" % (
            what, tail(os.path.join(self.workdir, what + ".log"))))

    def close(self):
        for p in reversed(self.procs):
            stop_pid(p)
        self.procs = []
        run(["ip", "netns", "del", self.name], check=False)


class Guest:
    """One QEMU PXE client on its own tap, serial console in a log file.
    With kernel (and initrd, append) it boots that kernel directly
    instead of from the network."""

    def __init__(self, ns, name, mac, mem=768, expect=None,
                 nic="e1000", timeout=600, kernel=None, initrd=None,
                 append=""):
        self.ns = ns
        self.kernel = kernel
        self.initrd = initrd
        self.append = append
        self.name = name
        self.mac = mac
        self.mem = mem
        self.nic = nic
        self.timeout = timeout
        self.expect = re.compile(expect or r"BOOTSHELF-ROOT-OK")
        self.log = os.path.join(ns.workdir, "serial-%s.log" % name)
        self.tapname = ns.tap()
        self.proc = None
        self.t0 = None
        self.at = {}
        self.result = None    # "pass", "fail: ...", "timeout"
        self.elapsed = None
        self.attempts = 0
        self.first_failure = None

    def start(self):
        self.attempts += 1
        self.at = {}
        open(self.log, "wb").close()
        cmd = ["ip", "netns", "exec", self.ns.name, QEMU,
               "-accel", "tcg", "-cpu", "max", "-m", str(self.mem),
               "-smp", "1", "-nodefaults", "-machine", "pc,graphics=off",
               "-display", "none", "-vga", "none", "-monitor", "none",
               "-serial", "file:" + self.log, "-no-reboot"]
        if self.kernel:
            cmd += ["-kernel", self.kernel, "-append", self.append]
            if self.initrd:
                cmd += ["-initrd", self.initrd]
        else:
            cmd += ["-boot", "order=n"]
        cmd += ["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no"
               % self.tapname,
               "-device", "%s,netdev=n0,mac=%s" % (self.nic, self.mac)]
        qlog = open(self.log + ".qemu", "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=qlog,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        qlog.close()

    def text(self):
        """The serial log without carriage returns and terminal escapes
        (pxelinux moves the cursor in the middle of its banner)."""
        with open(self.log, "rb") as f:
            text = f.read().decode(errors="replace").replace("\r", "")
        return ANSI_RE.sub("", text)

    def poll(self):
        """Update milestones; returns True while the guest is still
        booting and may yet succeed."""
        if self.result is not None:
            return False
        now = time.monotonic() - self.t0
        text = self.text()
        for key, rx in MILESTONES:
            if key not in self.at and rx.search(text):
                self.at[key] = round(now, 1)
        fail = FAIL_RE.search(text)
        if self.expect.search(text):
            self.result = "pass"
        elif fail:
            self.result = "fail: " + fail.group(0)
        elif self.proc.poll() is not None:
            self.result = "fail: QEMU exited (%s)" % self.proc.returncode
        elif now > self.timeout:
            self.result = "timeout after %d s" % self.timeout
        if self.result is not None:
            self.elapsed = round(now, 1)
            self.stop()
            if self.result != "pass" and self.attempts == 1 and \
                    set(self.at) <= {"ipxe"}:
                # The firmware got no lease before any loader ran: on a
                # busy host the ROM's DHCP window can pass while its vCPU
                # waits for the host CPU.  Nothing of bootshelf was read
                # yet, so try that guest once more.
                self.first_failure = "%s at %ss" % (self.result,
                                                    self.elapsed)
                os.replace(self.log, self.log + ".1")
                self.result = None
                self.start()
                return True
            return False
        return True

    def stop(self):
        stop_pid(self.proc)

    def summary(self):
        ms = " ".join("%s=%s" % (k, self.at[k]) for k, _ in MILESTONES
                      if k in self.at)
        retry = (" (2nd try; 1st: %s)" % self.first_failure
                 if self.first_failure else "")
        return "%-22s %-5s %6ss  %s%s" % (self.name,
                                          "PASS" if self.passed() else "FAIL",
                                          self.elapsed, ms, retry)

    def passed(self):
        return self.result == "pass"

    def report(self):
        """Why a boot failed, with the serial log's tail."""
        return "%s: %s\n--- serial log tail (%s) ---\n%s\n--- qemu ---\n%s" \
            % (self.name, self.result, self.log, tail(self.log, 60),
               tail(self.log + ".qemu", 10))


def run_guests(guests, parallel=3, stagger=3.0, poll=0.2):
    """Boot guests, at most `parallel` at a time (TCG guests are CPU
    bound, and firmware DHCP times out when too many starve at once),
    starts `stagger` seconds apart; returns when every one has finished
    (marker seen, failure line seen, QEMU exited or timed out)."""
    waiting = list(guests)
    running = []
    last = 0.0
    try:
        while waiting or running:
            running = [g for g in running if g.poll()]
            if waiting and len(running) < parallel and \
                    time.monotonic() - last >= stagger:
                g = waiting.pop(0)
                g.start()
                running.append(g)
                last = time.monotonic()
            time.sleep(poll)
    finally:
        for g in guests:
            g.stop()


def underlay(root):
    """Put the loader files the tree refers to but does not hold into
    root (the directory bootshelf-fs is mounted over)."""
    os.makedirs(root, exist_ok=True)
    for f in PXELINUX_FILES:
        shutil.copy(f, root)


def grub_underlay(root):
    """A BIOS GRUB network tree in root/grub (core.0 and modules; its
    prefix is (tftp)/grub, where the tree's grub/grub.cfg is)."""
    run(["grub-mknetdir", "--net-directory=" + root, "--subdir=grub",
         "-d", "/usr/lib/grub/i386-pc"], timeout=120)


class FuseMount:
    """bootshelf-fs CATALOG ROOT in the foreground; stop() unmounts."""

    def __init__(self, exe, catalog, root, log):
        self.root = root
        self.log = open(log, "wb")
        self.proc = subprocess.Popen([exe, "-f", catalog, root],
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.ismount(root):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("bootshelf-fs did not mount: " +
                                     tail(log))
            time.sleep(0.05)

    def stop(self):
        stop_pid(self.proc, timeout=15)
        if os.path.ismount(self.root):
            subprocess.run(["fusermount3", "-u", "-z", self.root],
                           check=False)
        self.log.close()


def timings_file(build):
    return os.path.join(build, "qemu-boot-times.txt")
