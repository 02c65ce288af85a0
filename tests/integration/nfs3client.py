"""A minimal NFSv3 client that keeps its file handles, for the tests.

libnfs's command-line clients look every path up again, so they cannot
show what happens to a handle a client holds across server restarts.
This one speaks just enough ONC RPC (RFC 5531: TCP with record marking,
AUTH_SYS credentials) for the portmapper (GETPORT), MOUNT v3 (MNT) and
NFSv3 (RFC 1813: GETATTR, LOOKUP, READ, READDIRPLUS).  File handles are
plain bytes the caller keeps and hands back, to this or a new connection.

Decoding is strict: every reply must be complete and consumed exactly,
booleans are 0 or 1, lengths within their XDR bounds, padding zero;
anything else raises XdrError.  A non-OK NFS or MOUNT status raises
NfsError with the status number and its name (e.g. NFS3ERR_STALE).  Every
socket operation has a timeout and every loop a bound.

The sockets can be opened inside a named network namespace (ip netns)
without moving the whole process: a short-lived thread enters it with
setns(2) and creates the socket there; the socket stays in that
namespace.

Left out: UDP, RPCSEC_GSS, every write or create procedure, FSINFO
(reads use a fixed size that any server accepts), retransmission.
"""
import ctypes
import os
import socket
import struct
import threading
import time

PMAP_PROG, PMAP_VERS, PMAPPROC_GETPORT = 100000, 2, 3
MOUNT_PROG, MOUNT_VERS, MOUNTPROC3_MNT = 100005, 3, 1
NFS_PROG, NFS_VERS = 100003, 3
NFSPROC3_GETATTR, NFSPROC3_LOOKUP = 1, 3
NFSPROC3_READ, NFSPROC3_READDIRPLUS = 6, 17
IPPROTO_TCP = 6

AUTH_NULL, AUTH_SYS = 0, 1
FHSIZE3 = 64
NFS3_COOKIEVERFSIZE = 8
MNTPATHLEN = 1024

NFS3_OK = 0
NFS3ERR_NOENT = 2
NFS3ERR_STALE = 70
NFS3ERR_BADHANDLE = 10001

NFS3_STATUS = {
    0: "NFS3_OK", 1: "NFS3ERR_PERM", 2: "NFS3ERR_NOENT", 5: "NFS3ERR_IO",
    6: "NFS3ERR_NXIO", 13: "NFS3ERR_ACCES", 17: "NFS3ERR_EXIST",
    18: "NFS3ERR_XDEV", 19: "NFS3ERR_NODEV", 20: "NFS3ERR_NOTDIR",
    21: "NFS3ERR_ISDIR", 22: "NFS3ERR_INVAL", 27: "NFS3ERR_FBIG",
    28: "NFS3ERR_NOSPC", 30: "NFS3ERR_ROFS", 31: "NFS3ERR_MLINK",
    63: "NFS3ERR_NAMETOOLONG", 66: "NFS3ERR_NOTEMPTY", 69: "NFS3ERR_DQUOT",
    70: "NFS3ERR_STALE", 71: "NFS3ERR_REMOTE", 10001: "NFS3ERR_BADHANDLE",
    10002: "NFS3ERR_NOT_SYNC", 10003: "NFS3ERR_BAD_COOKIE",
    10004: "NFS3ERR_NOTSUPP", 10005: "NFS3ERR_TOOSMALL",
    10006: "NFS3ERR_SERVERFAULT", 10007: "NFS3ERR_BADTYPE",
    10008: "NFS3ERR_JUKEBOX",
}

MNT3_STATUS = {
    0: "MNT3_OK", 1: "MNT3ERR_PERM", 2: "MNT3ERR_NOENT", 5: "MNT3ERR_IO",
    13: "MNT3ERR_ACCES", 20: "MNT3ERR_NOTDIR", 22: "MNT3ERR_INVAL",
    63: "MNT3ERR_NAMETOOLONG", 10004: "MNT3ERR_NOTSUPP",
    10006: "MNT3ERR_SERVERFAULT",
}

ACCEPT_STAT = {1: "PROG_UNAVAIL", 2: "PROG_MISMATCH", 3: "PROC_UNAVAIL",
               4: "GARBAGE_ARGS", 5: "SYSTEM_ERR"}
AUTH_STAT = {1: "AUTH_BADCRED", 2: "AUTH_REJECTEDCRED", 3: "AUTH_BADVERF",
             4: "AUTH_REJECTEDVERF", 5: "AUTH_TOOWEAK", 6: "AUTH_INVALIDRESP",
             7: "AUTH_FAILED"}

# ftype3
NF3REG, NF3DIR, NF3BLK, NF3CHR, NF3LNK, NF3SOCK, NF3FIFO = range(1, 8)

# Largest reply record accepted (a READ of READ_CHUNK plus headers).
MAX_RECORD = 4 << 20
READ_CHUNK = 128 * 1024
MAX_READDIR_ROUNDS = 1000


class XdrError(Exception):
    """A reply that does not decode as the protocol says."""


class RpcError(Exception):
    """The RPC layer refused the call (denied, not accepted, bad reply)."""


class NfsError(Exception):
    """A MOUNT or NFS procedure answered a status other than OK."""

    def __init__(self, proc, status, names=NFS3_STATUS):
        self.proc, self.status = proc, status
        self.name = names.get(status, "unknown status %d" % status)
        super().__init__("%s: %s (%d)" % (proc, self.name, status))


# ---- XDR ------------------------------------------------------------------

class Packer:
    def __init__(self):
        self.parts = []

    def u32(self, v):
        self.parts.append(struct.pack(">I", v))
        return self

    def u64(self, v):
        self.parts.append(struct.pack(">Q", v))
        return self

    def fixed(self, data):
        self.parts.append(data + b"\0" * ((4 - len(data) % 4) % 4))
        return self

    def opaque(self, data, maxlen=None):
        if maxlen is not None and len(data) > maxlen:
            raise ValueError("opaque of %d bytes > %d" % (len(data), maxlen))
        self.u32(len(data))
        return self.fixed(data)

    def string(self, s, maxlen=None):
        return self.opaque(s.encode() if isinstance(s, str) else s, maxlen)

    def bytes(self):
        return b"".join(self.parts)


class Unpacker:
    def __init__(self, data, what):
        self.data, self.pos, self.what = data, 0, what

    def _take(self, n, field):
        if n > len(self.data) - self.pos:
            raise XdrError("%s: truncated at %s (offset %d, need %d, have %d)"
                           % (self.what, field, self.pos, n,
                              len(self.data) - self.pos))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u32(self, field):
        return struct.unpack(">I", self._take(4, field))[0]

    def u64(self, field):
        return struct.unpack(">Q", self._take(8, field))[0]

    def boolean(self, field):
        v = self.u32(field)
        if v > 1:
            raise XdrError("%s: %s is %d, not a boolean" %
                           (self.what, field, v))
        return v == 1

    def fixed(self, n, field):
        b = self._take(n, field)
        pad = self._take((4 - n % 4) % 4, field + " padding")
        if pad.strip(b"\0"):
            raise XdrError("%s: %s padding is not zero" % (self.what, field))
        return b

    def opaque(self, field, maxlen=None):
        n = self.u32(field + " length")
        if maxlen is not None and n > maxlen:
            raise XdrError("%s: %s length %d > %d" % (self.what, field, n,
                                                      maxlen))
        return self.fixed(n, field)

    def done(self):
        if self.pos != len(self.data):
            raise XdrError("%s: %d bytes left over" %
                           (self.what, len(self.data) - self.pos))


# ---- NFSv3 types ----------------------------------------------------------

class Fattr3:
    """fattr3 (RFC 1813 2.5)."""
    FIELDS = ("type", "mode", "nlink", "uid", "gid", "size", "used", "rdev",
              "fsid", "fileid", "atime", "mtime", "ctime")

    def __init__(self, **kw):
        for k in self.FIELDS:
            setattr(self, k, kw[k])

    def __repr__(self):
        return "Fattr3(%s)" % ", ".join("%s=%r" % (k, getattr(self, k))
                                        for k in self.FIELDS)


def _time(u, field):
    sec, nsec = u.u32(field + ".seconds"), u.u32(field + ".nseconds")
    if nsec >= 1000000000:
        raise XdrError("%s: %s.nseconds %d out of range" % (u.what, field,
                                                            nsec))
    return sec + nsec / 1e9


def _fattr3(u):
    t = u.u32("fattr3.type")
    if not NF3REG <= t <= NF3FIFO:
        raise XdrError("%s: bad ftype3 %d" % (u.what, t))
    kw = {"type": t}
    for k in ("mode", "nlink", "uid", "gid"):
        kw[k] = u.u32("fattr3." + k)
    kw["size"] = u.u64("fattr3.size")
    kw["used"] = u.u64("fattr3.used")
    kw["rdev"] = (u.u32("fattr3.rdev.major"), u.u32("fattr3.rdev.minor"))
    kw["fsid"] = u.u64("fattr3.fsid")
    kw["fileid"] = u.u64("fattr3.fileid")
    for k in ("atime", "mtime", "ctime"):
        kw[k] = _time(u, "fattr3." + k)
    return Fattr3(**kw)


def _post_op_attr(u):
    return _fattr3(u) if u.boolean("post_op_attr.attributes_follow") else None


def _fh(u, field="nfs_fh3"):
    fh = u.opaque(field, FHSIZE3)
    if not fh:
        raise XdrError("%s: empty %s" % (u.what, field))
    return fh


# ---- ONC RPC over TCP -----------------------------------------------------

CLONE_NEWNET = 0x40000000


def connect(host, port, timeout, netns=None):
    """TCP connection to host:port, made inside network namespace netns
    (a name under /run/netns) when given."""
    if netns is None:
        return socket.create_connection((host, port), timeout)
    out = {}

    def run():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(os.path.join("/run/netns", netns), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, "setns %s: %s" % (netns, os.strerror(e)))
            finally:
                os.close(fd)
            out["sock"] = socket.create_connection((host, port), timeout)
        except BaseException as e:      # handed to the caller's thread
            out["err"] = e
    t = threading.Thread(target=run, name="netns-connect")
    t.start()
    t.join(timeout + 5)
    if t.is_alive():
        raise RpcError("connect to %s:%d in %s: thread hung" % (host, port,
                                                                 netns))
    if "err" in out:
        raise out["err"]
    return out["sock"]


def auth_sys(uid=0, gid=0, machine="bootshelf-test"):
    body = Packer().u32(int(time.time()) & 0xffffffff).string(machine, 255)
    return AUTH_SYS, body.u32(uid).u32(gid).u32(0).bytes()


class RpcClient:
    """One ONC RPC program/version over one TCP connection; one call at
    a time."""

    def __init__(self, sock, prog, vers, timeout=10.0, cred=None):
        self.sock, self.prog, self.vers = sock, prog, vers
        self.timeout = timeout
        self.cred = cred or (AUTH_NULL, b"")
        self.xid = struct.unpack(">I", os.urandom(4))[0]
        sock.settimeout(timeout)

    def close(self):
        self.sock.close()

    def _recv_exact(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RpcError("prog %d: reply timed out" % self.prog)
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise RpcError("prog %d: reply timed out" % self.prog)
            if not b:
                raise RpcError("prog %d: connection closed by the server"
                               % self.prog)
            buf += b
        return bytes(buf)

    def _recv_record(self, deadline):
        data = bytearray()
        for _ in range(MAX_RECORD // 4):
            mark = struct.unpack(">I", self._recv_exact(4, deadline))[0]
            n = mark & 0x7fffffff
            if len(data) + n > MAX_RECORD:
                raise RpcError("record longer than %d bytes" % MAX_RECORD)
            data += self._recv_exact(n, deadline)
            if mark & 0x80000000:
                return bytes(data)
        raise RpcError("too many record fragments")

    def call(self, proc, args, what):
        """Send one call; returns an Unpacker positioned at the results."""
        self.xid = (self.xid + 1) & 0xffffffff
        p = Packer().u32(self.xid).u32(0).u32(2)
        p.u32(self.prog).u32(self.vers).u32(proc)
        p.u32(self.cred[0]).opaque(self.cred[1], 400)
        p.u32(AUTH_NULL).opaque(b"")
        msg = p.bytes() + args
        deadline = time.monotonic() + self.timeout
        self.sock.settimeout(self.timeout)
        self.sock.sendall(struct.pack(">I", 0x80000000 | len(msg)) + msg)
        u = Unpacker(self._recv_record(deadline), what)
        xid = u.u32("xid")
        if xid != self.xid:
            raise RpcError("%s: reply xid %#x for call %#x" % (what, xid,
                                                               self.xid))
        if u.u32("msg_type") != 1:
            raise XdrError("%s: not a REPLY" % what)
        stat = u.u32("reply_stat")
        if stat == 1:
            rej = u.u32("reject_stat")
            if rej == 0:
                raise RpcError("%s: RPC_MISMATCH %d..%d" % (
                    what, u.u32("low"), u.u32("high")))
            if rej == 1:
                a = u.u32("auth_stat")
                raise RpcError("%s: AUTH_ERROR %s" % (
                    what, AUTH_STAT.get(a, str(a))))
            raise XdrError("%s: bad reject_stat %d" % (what, rej))
        if stat != 0:
            raise XdrError("%s: bad reply_stat %d" % (what, stat))
        u.u32("verf.flavor")
        u.opaque("verf.body", 400)
        acc = u.u32("accept_stat")
        if acc == 2:
            raise RpcError("%s: PROG_MISMATCH %d..%d" % (
                what, u.u32("low"), u.u32("high")))
        if acc != 0:
            raise RpcError("%s: %s" % (what, ACCEPT_STAT.get(acc, str(acc))))
        return u


def getport(host, prog, vers, timeout=10.0, netns=None, pmap_port=111):
    """Port of prog/vers over TCP from the portmapper (v2 GETPORT)."""
    s = connect(host, pmap_port, timeout, netns)
    c = RpcClient(s, PMAP_PROG, PMAP_VERS, timeout)
    try:
        u = c.call(PMAPPROC_GETPORT, Packer().u32(prog).u32(vers)
                   .u32(IPPROTO_TCP).u32(0).bytes(), "PMAP GETPORT")
        port = u.u32("port")
        u.done()
    finally:
        c.close()
    if not 0 < port < 65536:
        raise RpcError("program %d v%d is not registered (port %d)" %
                       (prog, vers, port))
    return port


def mount(host, path, timeout=10.0, netns=None):
    """MOUNT v3 MNT path: the root file handle (bytes)."""
    port = getport(host, MOUNT_PROG, MOUNT_VERS, timeout, netns)
    c = RpcClient(connect(host, port, timeout, netns), MOUNT_PROG,
                  MOUNT_VERS, timeout, auth_sys())
    try:
        u = c.call(MOUNTPROC3_MNT, Packer().string(path, MNTPATHLEN).bytes(),
                   "MNT " + path)
        st = u.u32("mountstat3")
        if st != 0:
            u.done()
            raise NfsError("MNT " + path, st, MNT3_STATUS)
        fh = _fh(u, "fhandle3")
        n = u.u32("auth_flavors count")
        if n > 64:
            raise XdrError("MNT: %d auth flavors" % n)
        for i in range(n):
            u.u32("auth_flavors[%d]" % i)
        u.done()
        return fh
    finally:
        c.close()


class Nfs3:
    """NFSv3 over one TCP connection.  Handles are bytes."""

    def __init__(self, host, timeout=10.0, netns=None, port=None):
        if port is None:
            port = getport(host, NFS_PROG, NFS_VERS, timeout, netns)
        self.rpc = RpcClient(connect(host, port, timeout, netns), NFS_PROG,
                             NFS_VERS, timeout, auth_sys())

    def close(self):
        self.rpc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def getattr(self, fh):
        what = "GETATTR"
        u = self.rpc.call(NFSPROC3_GETATTR, Packer().opaque(fh, FHSIZE3)
                          .bytes(), what)
        st = u.u32("nfsstat3")
        if st != NFS3_OK:
            u.done()
            raise NfsError(what, st)
        a = _fattr3(u)
        u.done()
        return a

    def lookup(self, dirfh, name):
        """(handle, attributes or None) of name in directory dirfh."""
        what = "LOOKUP " + name
        u = self.rpc.call(NFSPROC3_LOOKUP, Packer().opaque(dirfh, FHSIZE3)
                          .string(name).bytes(), what)
        st = u.u32("nfsstat3")
        if st != NFS3_OK:
            _post_op_attr(u)
            u.done()
            raise NfsError(what, st)
        fh = _fh(u)
        attr = _post_op_attr(u)
        _post_op_attr(u)
        u.done()
        return fh, attr

    def walk(self, root, path):
        """Handle of the slash-separated path below root."""
        fh = root
        for name in path.strip("/").split("/"):
            fh, _ = self.lookup(fh, name)
        return fh

    def read(self, fh, offset, count):
        """(data, eof) of one READ."""
        what = "READ @%d" % offset
        u = self.rpc.call(NFSPROC3_READ, Packer().opaque(fh, FHSIZE3)
                          .u64(offset).u32(count).bytes(), what)
        st = u.u32("nfsstat3")
        if st != NFS3_OK:
            _post_op_attr(u)
            u.done()
            raise NfsError(what, st)
        _post_op_attr(u)
        n = u.u32("count")
        eof = u.boolean("eof")
        data = u.opaque("data", count)
        u.done()
        if n != len(data):
            raise XdrError("%s: count %d but %d data bytes" % (what, n,
                                                               len(data)))
        return data, eof

    def read_all(self, fh, limit=1 << 30):
        """The whole file, READ_CHUNK at a time, until eof."""
        out = bytearray()
        for _ in range(limit // READ_CHUNK + 2):
            data, eof = self.read(fh, len(out), READ_CHUNK)
            out += data
            if eof:
                return bytes(out)
            if not data:
                raise XdrError("READ @%d: no data and no eof" % len(out))
        raise XdrError("file longer than %d bytes" % limit)

    def readdirplus(self, dirfh):
        """{name: (fileid, handle or None, attributes or None)}."""
        out = {}
        cookie, verf = 0, b"\0" * NFS3_COOKIEVERFSIZE
        for _ in range(MAX_READDIR_ROUNDS):
            what = "READDIRPLUS @%d" % cookie
            u = self.rpc.call(NFSPROC3_READDIRPLUS,
                              Packer().opaque(dirfh, FHSIZE3).u64(cookie)
                              .fixed(verf).u32(8192).u32(65536).bytes(),
                              what)
            st = u.u32("nfsstat3")
            if st != NFS3_OK:
                _post_op_attr(u)
                u.done()
                raise NfsError(what, st)
            _post_op_attr(u)
            verf = u.fixed(NFS3_COOKIEVERFSIZE, "cookieverf")
            n = 0
            while u.boolean("entry follows"):
                fileid = u.u64("fileid")
                name = u.opaque("name").decode("utf-8", "surrogateescape")
                cookie = u.u64("cookie")
                attr = _post_op_attr(u)
                fh = _fh(u) if u.boolean("handle follows") else None
                if name in out:
                    raise XdrError("%s: %s listed twice" % (what, name))
                out[name] = (fileid, fh, attr)
                n += 1
            eof = u.boolean("eof")
            u.done()
            if eof:
                return out
            if n == 0:
                raise XdrError("%s: no entries and no eof" % what)
        raise XdrError("READDIRPLUS: more than %d rounds" % MAX_READDIR_ROUNDS)
