"""Helpers for the bootshelf-tftpd integration tests.

TftpClient is a small TFTP client that can negotiate windowsize
(RFC 7440) and follow either block-number rollover convention, so the
tests do not depend on what the Debian clients can do.  start_tftpd runs
the daemon in the foreground with its log in a file and waits until it
answers a request.
"""
import os
import socket
import struct
import subprocess
import time

from conftest import binpath, free_port, stop  # noqa: F401

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6


class TftpError(Exception):
    def __init__(self, code, msg):
        super().__init__("TFTP error %d: %s" % (code, msg))
        self.code = code
        self.msg = msg


def request(op, name, mode=b"octet", opts=()):
    if isinstance(name, str):
        name = name.encode()
    pkt = struct.pack("!H", op) + name + b"\0" + mode + b"\0"
    for k, v in opts:
        pkt += k.encode() + b"\0" + str(v).encode() + b"\0"
    return pkt


def parse_oack(pkt):
    parts = pkt[2:].split(b"\0")
    return {parts[i].decode().lower(): parts[i + 1].decode()
            for i in range(0, len(parts) - 1, 2)}


def wire_block(b, rollover):
    if rollover == 1:
        return (b - 1) % 65535 + 1 if b else 0
    return b & 0xFFFF


class TftpClient:
    """One read transfer at a time from host:port."""

    def __init__(self, port, host="127.0.0.1", timeout=2.0, family=None):
        self.addr = (host, port)
        fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.server = None          # the transfer's (TID) address
        self.oack = None
        self.packets = 0
        self.duplicates = 0

    def close(self):
        self.sock.close()

    def first_reply(self, pkt):
        self.sock.sendto(pkt, self.addr)
        data, self.server = self.sock.recvfrom(70000)
        return data

    def get(self, name, opts=(), rollover=0, on_data=None, retries=5,
            ack_every=None):
        """Fetch name; returns bytes.  on_data(client, abs_block) is
        called for every DATA received (to inject traffic)."""
        reply = self.first_reply(request(RRQ, name, opts=opts))
        blksize, window = 512, 1
        op = struct.unpack("!H", reply[:2])[0]
        if op == ERROR:
            raise TftpError(struct.unpack("!H", reply[2:4])[0],
                            reply[4:].split(b"\0")[0].decode(errors="replace"))
        pending = None
        if op == OACK:
            self.oack = parse_oack(reply)
            blksize = int(self.oack.get("blksize", 512))
            window = int(self.oack.get("windowsize", 1))
            self.ack(0)
        else:
            pending = reply
        window = ack_every or window
        out = bytearray()
        last = 0            # highest in-order absolute block
        in_window = 0
        misses = 0
        while True:
            if pending is not None:
                data, pending = pending, None
            else:
                try:
                    data, src = self.sock.recvfrom(70000)
                except socket.timeout:
                    misses += 1
                    if misses > retries:
                        raise
                    self.ack(wire_block(last, rollover))
                    in_window = 0
                    continue
                if src != self.server:
                    continue
            misses = 0
            op, blk = struct.unpack("!HH", data[:4])
            if op == ERROR:
                raise TftpError(blk, data[4:].split(b"\0")[0].decode(
                    errors="replace"))
            if op != DATA:
                continue
            self.packets += 1
            if blk != wire_block(last + 1, rollover):
                self.duplicates += 1
                continue
            last += 1
            out += data[4:]
            if on_data:
                on_data(self, last)
            in_window += 1
            if len(data) - 4 < blksize:
                self.ack(blk)
                return bytes(out)
            if in_window >= window:
                self.ack(blk)
                in_window = 0

    def ack(self, blk):
        self.sock.sendto(struct.pack("!HH", ACK, blk), self.server)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Tftpd:
    """A running bootshelf-tftpd; .port, .proc, .log_path."""

    def __init__(self, root, workdir, args=(), host="127.0.0.1",
                 catalog=None):
        """Serve directory root, or with catalog= that catalog's tree."""
        self.port = free_port()
        self.host = host
        self.log_path = os.path.join(str(workdir), "tftpd.log")
        self.log = open(self.log_path, "wb")
        addr = ("[%s]:%d" if ":" in host else "%s:%d") % (host, self.port)
        src = ["-c", str(catalog)] if catalog else ["-s", str(root)]
        self.argv = [binpath("bootshelf-tftpd"), "-L"] + src + \
            ["-a", addr] + [str(a) for a in args]
        self.proc = subprocess.Popen(self.argv, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("bootshelf-tftpd exited %s: %s" % (
                    self.proc.returncode, self.text()))
            c = TftpClient(self.port, self.host, timeout=0.2)
            try:
                c.get("-readiness-probe-")
            except TftpError:
                return
            except OSError:
                pass
            finally:
                c.close()
        raise AssertionError("bootshelf-tftpd not answering: " + self.text())

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        stop(self.proc)
        self.log.close()
        return self.proc.returncode
