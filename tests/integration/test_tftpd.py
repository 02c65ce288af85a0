"""bootshelf-tftpd against real clients (curl, tftp-hpa, atftp) and a
small Python client for what they cannot do (windowsize checks, rollover
to 1, malformed traffic, abandoned transfers).

Every test starts its own daemon on loopback on a free port, serving a
private directory; the daemon runs as root, so it chroots into that
directory and drops to nobody, as in production.
"""
import hashlib
import os
import random
import resource
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import have, wait_until
from tftputil import (ACK, DATA, ERROR, OACK, RRQ, WRQ, Tftpd, TftpClient,
                      TftpError, fd_count, parse_oack, request,
                      rss_kib)


def sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "srv"
    r.mkdir()
    os.chmod(r, 0o755)      # readable after dropping to nobody
    return r


def put(root, name, data):
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    os.chmod(p, 0o644)
    return data


@pytest.fixture
def tftpd(root, tmp_path):
    started = []

    def start(*args):
        d = Tftpd(root, tmp_path, args)
        started.append(d)
        return d
    yield start
    for d in started:
        assert d.alive(), "daemon died: " + d.text()
        d.stop()
        log = d.text()
        assert "error:" not in log, log
        # a clean exit on SIGTERM
        assert d.proc.returncode == 0, log


def curl_get(port, name, out, blksize=None, host="127.0.0.1"):
    cmd = ["curl", "-sS", "--max-time", "120", "-o", str(out)]
    if blksize:
        cmd += ["--tftp-blksize", str(blksize)]
    return subprocess.run(cmd + ["tftp://%s:%d/%s" % (host, port, name)],
                          stderr=subprocess.PIPE, timeout=150)


def test_tools_present():
    for t in ("curl", "tftp", "atftp", "in.tftpd"):
        assert have(t) or os.path.exists("/usr/sbin/" + t), t


@pytest.mark.parametrize("blksize", [512, 1468, 65464])
def test_curl_blksize(root, tftpd, tmp_path, blksize):
    data = put(root, "boot/img", os.urandom(3 * 1024 * 1024 + 777))
    exact = put(root, "exact", os.urandom(blksize * 7))
    put(root, "empty", b"")
    d = tftpd()
    for name, want in (("boot/img", data), ("exact", exact)):
        out = tmp_path / "out"
        r = curl_get(d.port, name, out, blksize)
        assert r.returncode == 0, r.stderr
        assert sha(out.read_bytes()) == sha(want), name
    # curl 7.88 fails on any empty file (getpeername), so not with curl
    c = TftpClient(d.port)
    assert c.get("empty", opts=[("blksize", blksize)]) == b""
    c.close()
    assert "blksize %d" % blksize in d.text()


def test_tftp_hpa_client(root, tftpd, tmp_path):
    data = put(root, "pxelinux.0", os.urandom(200000))
    d = tftpd()
    out = tmp_path / "out"
    r = subprocess.run(["tftp", "127.0.0.1", str(d.port), "-m", "binary",
                        "-c", "get", "pxelinux.0", str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    assert r.returncode == 0, r.stdout
    assert out.read_bytes() == data


def test_atftp_windowsize(root, tftpd, tmp_path):
    data = put(root, "big", os.urandom(4 * 1024 * 1024 + 5))
    d = tftpd()
    out = tmp_path / "out"
    r = subprocess.run(["atftp", "--trace", "--option", "windowsize 16",
                        "--option", "blksize 1468", "--option", "tsize 0",
                        "-g", "-r", "big", "-l", str(out), "127.0.0.1",
                        str(d.port)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert sha(out.read_bytes()) == sha(data)
    trace = r.stdout.decode(errors="replace")
    assert "windowsize" in trace and "16" in trace, trace[:2000]
    assert "windowsize 16" in d.text()


def test_window_negotiation_and_sas(root, tftpd):
    """The server sends a whole window before waiting, restarts the
    window after a partial ACK, and never answers a duplicate ACK."""
    data = put(root, "f", os.urandom(1000 * 100 + 3))
    d = tftpd("-W", "8")
    c = TftpClient(d.port)
    reply = c.first_reply(request(RRQ, "f", opts=[
        ("blksize", 100), ("windowsize", 50), ("tsize", 0),
        ("timeout", 3), ("unknownopt", 7)]))
    assert reply[:2] == b"\0\6"
    oack = parse_oack(reply)
    assert oack == {"blksize": "100", "windowsize": "8",
                    "tsize": str(len(data)), "timeout": "3"}
    c.ack(0)
    blocks = [c.sock.recvfrom(2000)[0] for _ in range(8)]
    assert [struct.unpack("!HH", b[:4]) for b in blocks] == \
        [(DATA, i) for i in range(1, 9)]
    c.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        c.sock.recvfrom(2000)       # nothing beyond the window
    c.ack(3)                        # "lost 4": window restarts at 4
    c.sock.settimeout(5)
    again = [struct.unpack("!HH", c.sock.recvfrom(2000)[0][:4])[1]
             for _ in range(8)]
    assert again == list(range(4, 12))
    c.ack(11)
    c.ack(11)                       # duplicate: must not double traffic
    c.ack(11)
    c.sock.settimeout(5)
    got = [struct.unpack("!HH", c.sock.recvfrom(2000)[0][:4])[1]]
    c.sock.settimeout(0.5)
    while True:
        try:
            got.append(struct.unpack("!HH", c.sock.recvfrom(2000)[0][:4])[1])
        except socket.timeout:
            break
    assert got == list(range(12, 20)), got
    c.sock.sendto(struct.pack("!HH5s", ERROR, 0, b"done\0"), c.server)
    c.close()
    wait_until(lambda: 'client error 0 "done"' in d.text(), 5, d.proc,
               "client error logged")


def test_rollover_curl_512(root, tftpd, tmp_path):
    """More than 65535 blocks of 512: block numbers wrap to 0."""
    data = put(root, "large", os.urandom(33 * 1024 * 1024 + 1234))
    d = tftpd()
    out = tmp_path / "out"
    r = curl_get(d.port, "large", out, 512)
    assert r.returncode == 0, r.stderr
    assert sha(out.read_bytes()) == sha(data)


@pytest.mark.parametrize("rollover", [0, 1])
def test_rollover_python(root, tftpd, rollover):
    data = put(root, "wrap", os.urandom(70000 * 8 + 5))
    d = tftpd("--rollover", rollover)
    c = TftpClient(d.port)
    got = c.get("wrap", opts=[("blksize", 8), ("windowsize", 64)],
                rollover=rollover)
    c.close()
    assert got == data


def test_wrq_refused(root, tftpd, tmp_path):
    d = tftpd()
    c = TftpClient(d.port)
    reply = c.first_reply(request(WRQ, "upload"))
    assert struct.unpack("!HH", reply[:4]) == (ERROR, 2)
    c.close()
    src = tmp_path / "up"
    src.write_bytes(b"x" * 100)
    r = subprocess.run(["tftp", "127.0.0.1", str(d.port), "-m", "binary",
                        "-c", "put", str(src), "upload"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    assert b"Read-only" in r.stdout or b"Access" in r.stdout, r.stdout
    assert not (root / "upload").exists()


def test_paths(root, tftpd, tmp_path):
    data = put(root, "dir/file", b"hello\n" * 100)
    secret = tmp_path / "secret"
    secret.write_bytes(b"outside")
    os.chmod(secret, 0o644)
    os.symlink(str(secret), str(root / "escape"))
    os.symlink("../secret", str(root / "escape-rel"))
    os.symlink("dir/file", str(root / "inside"))
    d = tftpd()

    def code(name):
        c = TftpClient(d.port)
        try:
            c.get(name)
        except TftpError as e:
            return e.code
        finally:
            c.close()
        return 0
    for name in ("../secret", "dir/../../secret", "/etc/passwd",
                 "/" + str(secret), "escape", "escape-rel", "dir",
                 "dir/../dir/file"):
        assert code(name) == 2, name
    assert code("missing") == 1
    assert code("dir/missing") == 1
    for name in ("dir/file", "/dir/file", str(root) + "/dir/file",
                 "inside", "dir//file"):
        c = TftpClient(d.port)
        assert c.get(name) == data, name
        c.close()
    # netascii: LF becomes CR LF on the wire
    c = TftpClient(d.port)
    c.first_reply(request(RRQ, "dir/file", mode=b"NETASCII"))
    c.close()
    out = tmp_path / "asc"
    r = subprocess.run(["tftp", "127.0.0.1", str(d.port), "-m", "ascii",
                        "-c", "get", "dir/file", str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    assert r.returncode == 0 and out.read_bytes() == data, r.stdout
    r = curl_get(d.port, "missing", tmp_path / "m")
    assert r.returncode == 68


def test_remap_and_case(root, tftpd):
    data = put(root, "pxelinux.cfg/default", b"DEFAULT menu\n")
    d = tftpd("--remap-backslash", "--case-insensitive")
    for name in ("PXELINUX.CFG\\Default", "pxelinux.cfg\\default",
                 "PxeLinux.Cfg/DEFAULT"):
        c = TftpClient(d.port)
        assert c.get(name) == data, name
        c.close()


def test_privileges_dropped(root, tftpd):
    d = tftpd()
    with open("/proc/%d/status" % d.proc.pid) as f:
        uid = [l for l in f if l.startswith("Uid:")][0].split()[1:]
    if os.geteuid() == 0:
        assert set(uid) == {str(__import__("pwd").getpwnam("nobody").pw_uid)}
        assert os.readlink("/proc/%d/root" % d.proc.pid) == \
            os.path.realpath(root)


def junk_packets(rng, n):
    """Malformed and hostile datagrams: truncated, unterminated,
    unknown opcodes, huge option lists, ACK/ERROR/DATA for nobody."""
    out = []
    for i in range(n):
        k = i % 10
        if k == 0:
            p = rng.randbytes(rng.randrange(0, 600))
        elif k == 1:
            p = struct.pack("!H", 1) + rng.randbytes(rng.randrange(0, 40))
        elif k == 2:
            p = b"\0\1" + b"f" * rng.randrange(1, 3000)   # unterminated
        elif k == 3:
            p = struct.pack("!H", rng.randrange(7, 65536)) + b"x\0octet\0"
        elif k == 4:
            p = request(RRQ, "f", opts=[("o%d" % j, j) for j in
                                        range(rng.randrange(100, 900))])
        elif k == 5:
            p = struct.pack("!HH", ACK, rng.randrange(65536))
        elif k == 6:
            p = struct.pack("!HH", ERROR, rng.randrange(9)) + b"bye"
        elif k == 7:
            p = struct.pack("!HH", DATA, rng.randrange(65536)) + b"z" * 10
        elif k == 8:
            p = request(RRQ, "f", mode=b"mail")
        else:
            p = bytes(rng.randrange(4))
        out.append(p)
    return out


def test_malformed_flood(root, tftpd):
    data = put(root, "f", os.urandom(2 * 1024 * 1024))
    d = tftpd("-m", "10000")
    rng = random.Random(1234)
    junk = junk_packets(rng, 10000)
    sent = [0]
    stop_flag = threading.Event()
    tid = {}

    def flood():
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                 for _ in range(8)]
        try:
            for i, p in enumerate(junk):
                s = socks[i % len(socks)]
                s.sendto(p, ("127.0.0.1", d.port))
                if "server" in tid:
                    s.sendto(p, tid["server"])
                sent[0] += 1
                if i % 200 == 0:
                    time.sleep(0.001)
        finally:
            for s in socks:
                s.close()
            stop_flag.set()

    def inject(client, blk):
        tid.setdefault("server", client.server)
        # garbage from the client's own address: never a valid ACK/ERROR
        if blk % 4 == 0:
            client.sock.sendto(rng.choice([b"\0\4\0", b"\0\3\0\1abc",
                                           b"\0\6x\0", b"\0\1f\0octet\0",
                                           b"\xff\xff", b""]), client.server)

    t = threading.Thread(target=flood)
    t.start()
    c = TftpClient(d.port, timeout=2.0)
    got = c.get("f", opts=[("blksize", 512)], on_data=inject)
    c.close()
    t.join(120)
    assert stop_flag.is_set() and sent[0] == 10000
    assert sha(got) == sha(data)
    assert d.alive()
    c = TftpClient(d.port)
    assert c.get("f", opts=[("blksize", 1468)]) == data
    c.close()


def test_abandoned_transfers(root, tftpd):
    """1000 clients send an RRQ and never answer: every transfer times
    out and is freed, fds and RSS return to the baseline."""
    put(root, "f", os.urandom(100000))
    d = tftpd("-T", "100000", "--retries", "2", "-m", "2000")
    c = TftpClient(d.port)
    c.get("f", opts=[("blksize", 1468), ("windowsize", 4)])
    c.close()
    time.sleep(0.2)
    base_fd, base_rss = fd_count(d.proc.pid), rss_kib(d.proc.pid)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    socks = []
    try:
        for i in range(1000):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            opts = [("blksize", 1468), ("windowsize", 16)] if i % 2 else []
            s.sendto(request(RRQ, "f", opts=opts), ("127.0.0.1", d.port))
            socks.append(s)
        wait_until(lambda: fd_count(d.proc.pid) > base_fd + 500, 10,
                   d.proc, "transfers started")
        peak = fd_count(d.proc.pid)
        wait_until(lambda: fd_count(d.proc.pid) <= base_fd, 20, d.proc,
                   "transfers timed out (fds %d -> %d)" % (
                       base_fd, fd_count(d.proc.pid)))
    finally:
        for s in socks:
            s.close()
    assert peak > base_fd + 500
    assert d.text().count(": timed out") == 1000
    assert fd_count(d.proc.pid) == base_fd
    assert rss_kib(d.proc.pid) <= base_rss + 1024, (base_rss,
                                                    rss_kib(d.proc.pid))


def test_busy_limit(root, tftpd):
    put(root, "f", os.urandom(10000))
    d = tftpd("-m", "2", "-T", "2000000")
    holders = []
    for _ in range(2):
        c = TftpClient(d.port)
        c.first_reply(request(RRQ, "f"))
        holders.append(c)
    c = TftpClient(d.port)
    with pytest.raises(TftpError) as e:
        c.get("f")
    assert e.value.code == 0 and "busy" in e.value.msg.lower()
    assert "transfer limit reached" in d.text()
    for h in holders + [c]:
        h.sock.sendto(struct.pack("!HH", ERROR, 0) + b"x\0", h.server or
                      ("127.0.0.1", d.port))
        h.close()


def test_ipv6_and_signals(root, tmp_path):
    data = put(root, "f", os.urandom(50000))
    d = Tftpd(root, tmp_path, host="::1")
    try:
        c = TftpClient(d.port, host="::1")
        assert c.get("f", opts=[("blksize", 1468)]) == data
        c.close()
        d.proc.send_signal(1)       # SIGHUP: harmless
        time.sleep(0.2)
        assert d.alive()
        c = TftpClient(d.port, host="::1")
        assert c.get("f") == data
        c.close()
    finally:
        assert d.stop() == 0
    assert "SIGHUP" in d.text()


def test_socket_activation_and_notify(root, tmp_path):
    """systemd hands over the UDP socket and gets READY=1."""
    from conftest import free_port as fp
    data = put(root, "f", os.urandom(30000))
    port = fp()
    nsock_path = str(tmp_path / "notify")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(nsock_path)
    nsock.settimeout(10)
    log = open(tmp_path / "sa.log", "wb")
    p = subprocess.Popen(["systemd-socket-activate", "-d", "-l",
                          "127.0.0.1:%d" % port, "-E",
                          "NOTIFY_SOCKET=" + nsock_path,
                          __import__("conftest").binpath("bootshelf-tftpd"),
                          "-L", "-s", str(root), "-a", "127.0.0.1:1"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b"Listening" in (tmp_path / "sa.log").read_bytes(),
                   10, p, "systemd-socket-activate listening")
        # systemd-socket-activate only execs on the first datagram
        c = TftpClient(port)
        assert c.get("f") == data
        c.close()
        msg = nsock.recv(4096)
        assert b"READY=1" in msg
    finally:
        p.terminate()
        p.wait(10)
        nsock.close()
        log.close()
    text = (tmp_path / "sa.log").read_text()
    assert "systemd sockets" in text, text
    assert p.returncode == 0, text


def test_same_as_tftpd_hpa(root, tftpd, tmp_path):
    """The same requests against in.tftpd (tftp-hpa) give the same
    bytes and the same curl results."""
    from conftest import free_port as fp
    data = put(root, "a/b.bin", os.urandom(700000))
    d = tftpd()
    hport = fp()
    hpa = subprocess.Popen(["/usr/sbin/in.tftpd", "-L", "-a",
                            "127.0.0.1:%d" % hport, "-s", str(root)],
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        assert hpa.poll() is None
        for name, bs in (("a/b.bin", 1468), ("a/b.bin", 512),
                         ("a/none", 512)):
            rs = []
            for port in (d.port, hport):
                out = tmp_path / ("o%d" % port)
                r = curl_get(port, name, out, bs)
                rs.append((r.returncode, out.read_bytes()
                           if r.returncode == 0 else None))
            assert rs[0] == rs[1], name
            if name == "a/b.bin":
                assert rs[0] == (0, data)
        assert rs[0][0] == 68
    finally:
        hpa.terminate()
        hpa.wait(10)


def test_netascii_no_window_no_tsize(root, tftpd):
    """netascii changes the length: neither tsize nor a window is
    granted for it, and the bytes on the wire use CR LF."""
    put(root, "t", b"a\nb\rc\n" * 300)
    d = tftpd()
    c = TftpClient(d.port)
    reply = c.first_reply(request(RRQ, "t", mode=b"netascii", opts=[
        ("tsize", 0), ("windowsize", 8), ("blksize", 100)]))
    assert parse_oack(reply) == {"blksize": "100"}
    c.close()
    c = TftpClient(d.port)
    c.sock.sendto(request(RRQ, "t", mode=b"netascii"), c.addr)
    wire = bytearray()
    blk = 1
    while True:
        data, c.server = c.sock.recvfrom(2000)
        assert struct.unpack("!HH", data[:4]) == (DATA, blk)
        wire += data[4:]
        c.ack(blk)
        if len(data) < 516:
            break
        blk += 1
    c.close()
    assert bytes(wire) == b"a\r\nb\r\0c\r\n" * 300
