"""bootshelf-aoed over a veth pair between two namespaces, driven by the
aoe_init initiator: discovery, IDENTIFY, whole-ISO reads, errors, masks,
malformed frames, live replacement of the ISO, and vblade as the
reference target for the initiator itself."""
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from aoeutil import Net, kv, log_problems, make_iso, wait_for


@pytest.fixture
def net():
    n = Net()
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def net9000():
    n = Net(mtu=9000)
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def iso(tmp_path):
    return make_iso(str(tmp_path / "test.iso"), str(tmp_path), mib=3)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def targets(out):
    return [kv(l) for l in out.decode().splitlines()
            if l.startswith("target ")]


def test_help():
    from aoeutil import aoed_path
    p = subprocess.run([aoed_path(), "--help"], stdout=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 0
    assert b"-e S.L:FILE" in p.stdout
    p = subprocess.run([aoed_path(), "-i", "x"], stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 2


def test_discovery(net, iso, tmp_path):
    log = str(tmp_path / "aoed.log")
    net.start_aoed(["-b", "32", "-e", "5.7:" + iso, "-e", "5.8:" + iso],
                   log)
    ts = targets(net.init("-w", "700", "discover").stdout)
    got = sorted((t["shelf"], t["slot"]) for t in ts)
    assert got == [("5", "7"), ("5", "8")]
    for t in ts:
        assert t["bufcnt"] == "32"
        assert t["fw"] == "0x0001"
        assert t["scnt"] == "2"          # (1500 - 22) / 512
        assert t["ver"] == "1"
        assert t["flags"] == "0x8"
        assert t["mac"] == net.tmac
    # a query for one shelf.slot gets exactly that target
    ts = targets(net.init("-t", "5.8", "-w", "500", "discover").stdout)
    assert [(t["shelf"], t["slot"]) for t in ts] == [("5", "8")]
    # and one for a shelf nobody serves gets no answer
    p = net.init("-t", "6.7", "-w", "300", "-r", "2", "discover",
                 check=False)
    assert p.returncode == 2 and not targets(p.stdout)
    assert not log_problems(log)


def test_discovery_jumbo(net9000, iso, tmp_path):
    log = str(tmp_path / "aoed.log")
    net9000.start_aoed(["-e", "1.2:" + iso], log)
    (t,) = targets(net9000.init("discover").stdout)
    assert t["scnt"] == "17"             # (9000 - 22) / 512
    assert t["bufcnt"] == "64"
    # a read with 17-sector frames is byte-exact
    out = str(tmp_path / "out")
    net9000.init("-k", "16", "-o", out, "read")
    assert sha(out) == sha(iso)


def test_announcement(net, iso, tmp_path):
    """An unsolicited Config response at start and then periodically."""
    code = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88a2))
s.bind((sys.argv[1], 0x88a2))
s.settimeout(0.2)
print("listening", flush=True)
seen = []
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        f = s.recv(2000)
    except socket.timeout:
        continue
    if f[19] == 1 and f[14] == 0x18 and f[20:24] == b"\0\0\0\0":
        seen.append((time.time(), f[0:6].hex(), f[16] << 8 | f[17], f[18], f[28]))
for x in seen:
    print("%.3f %s %d %d %d" % x)
"""
    p = subprocess.Popen(["ip", "netns", "exec", net.ins, "/usr/bin/python3",
                          "-c", code, net.iif, "4.5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == b"listening"
        net.start_aoed(["-a", "2", "-e", "9.1:" + iso],
                       str(tmp_path / "aoed.log"))
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines = out.decode().split("\n")[:-1]
    # at start, and again every 2 s: at least two within 4.5 s
    assert len(lines) >= 2, err
    for l in lines:
        _, dst, shelf, slot, scnt = l.split()
        assert (dst, shelf, slot, scnt) == ("ffffffffffff", "9", "1", "2")


def test_identify_and_read(net, iso, tmp_path):
    log = str(tmp_path / "aoed.log")
    net.start_aoed(["-e", "0.1:" + iso], log)
    size = os.path.getsize(iso)
    assert size % 2048 == 0
    ident = kv(net.init("identify").stdout.decode().splitlines()[-1])
    assert int(ident["sectors"]) == size // 512
    assert int(ident["lba28"]) == size // 512
    assert ident["lba48"] == "1"
    assert ident["serial"] == "0.1"
    for k in ("1", "16", "64"):
        out = str(tmp_path / ("out" + k))
        p = net.init("-k", k, "-o", out, "read")
        assert sha(out) == sha(iso), "k=%s" % k
        assert b"retrans=0" in p.stdout or b"RESULT" in p.stdout
    # a range in the middle, to stdout
    p = net.init("-o", "-", "read", "100", "37")
    with open(iso, "rb") as f:
        f.seek(100 * 512)
        assert p.stdout == f.read(37 * 512)
    # LBA28 READ SECTORS with the device bits in lba3 is answered too
    r = kv(net.init("ata", "0x20", "0", str(0xe0000000 + 10), "2")
           .stdout.decode().splitlines()[-1])
    assert r["status"] == "0x40" and r["len"] == str(36 + 1024)
    assert not log_problems(log)


def test_errors(net, iso, tmp_path):
    log = str(tmp_path / "aoed.log")
    before = os.stat(iso)
    digest = sha(iso)
    net.start_aoed(["-e", "0.1:" + iso], log)
    n = os.path.getsize(iso) // 512

    def ata(*a):
        return kv(net.init("ata", *a).stdout.decode().splitlines()[-1])
    # past the end: ATA error IDNF, no data
    for lba, cnt in ((n - 1, 2), (n, 1), (2 ** 48 - 1, 1)):
        r = ata("0x24", "0x40", str(lba), str(cnt))
        assert (r["flags"], r["status"], r["error"], r["len"]) == \
            ("0x8", "0x41", "0x10", "60"), (lba, r)
    r = ata("0x24", "0x40", str(n - 1), "1")
    assert r["status"] == "0x40" and r["len"] == "548"
    # the initiator fails a read range that runs past the end
    p = net.init("-o", "-", "read", str(n - 1), "4", check=False)
    assert p.returncode == 3 and b"status 0x41" in p.stderr
    # more sectors than a frame holds: AoE error 2 (bad argument)
    r = ata("0x24", "0x40", "0", "3")
    assert (r["flags"], r["aoeerr"]) == ("0xc", "2")
    # writes of every kind: ATA ABORT, the file untouched
    for cmd, fl in (("0x34", "0x41"), ("0x30", "0x01"), ("0x34", "0x40"),
                    ("0xca", "0x01")):
        r = ata(cmd, fl, "0", "1", "data")
        assert (r["flags"], r["status"], r["error"]) == \
            ("0x8", "0x41", "0x04"), (cmd, r)
    # an unknown ATA opcode: ABORT as well
    r = ata("0x99", "0", "0", "0")
    assert (r["status"], r["error"]) == ("0x41", "0x04")
    after = os.stat(iso)
    assert sha(iso) == digest
    assert (after.st_mtime_ns, after.st_size) == \
        (before.st_mtime_ns, before.st_size)
    assert not log_problems(log)


def test_file_cut_short(net, iso, tmp_path):
    """A file truncated in place under the daemon (not replaced): sectors
    past the new end are answered with an ATA error, not a crash, and
    the rest is still served."""
    f = str(tmp_path / "cut.iso")
    with open(iso, "rb") as a, open(f, "wb") as b:
        b.write(a.read())
    log = str(tmp_path / "aoed.log")
    p = net.start_aoed(["-I", "3600", "-e", "0.1:" + f], log)

    def ata(lba):
        return kv(net.init("ata", "0x24", "0x40", str(lba),
                           "2").stdout.decode().splitlines()[-1])
    far = (2 << 20) // 512
    assert ata(far)["status"] == "0x40"
    os.truncate(f, 1 << 20)
    r = ata(far)
    assert (r["flags"], r["status"], r["error"], r["len"]) == \
        ("0x8", "0x41", "0x04", "60"), r
    r = ata(0)
    assert (r["status"], r["len"]) == ("0x40", "1060"), r
    assert p.poll() is None
    assert not log_problems(log)


def test_config_strings(net, iso, tmp_path):
    net.start_aoed(["-e", "0.1:" + iso], str(tmp_path / "aoed.log"))

    def cfg(*a, check=True):
        p = net.init("-w", "300", "-r", "1", "cfg", *a, check=check)
        return targets(p.stdout)
    assert cfg("3", "hello")[0]["cfg"] == "hello"       # set into empty
    r = cfg("3", "other")[0]                            # already set
    assert (r["flags"], r["err"], r["cfg"]) == ("0xc", "4", "hello")
    assert cfg("1", "hello")[0]["cfg"] == "hello"       # exact test
    assert cfg("1", "hell", check=False) == []          # no reply
    assert cfg("2", "hell")[0]["cfg"] == "hello"        # prefix test
    assert cfg("4", "forced")[0]["cfg"] == "forced"     # force set
    assert cfg("0")[0]["cfg"] == "forced"


def test_masks(net, iso, tmp_path):
    log = str(tmp_path / "aoed.log")
    net.start_aoed(["-e", "1.1:" + iso, "-e", "1.2:" + iso,
                    "-m", "1.1=02:00:00:00:00:99",
                    "-m", "1.2=02:00:00:00:00:98," + net.imac], log)
    ts = targets(net.init("-w", "700", "discover").stdout)
    assert [(t["shelf"], t["slot"]) for t in ts] == [("1", "2")]
    p = net.init("-t", "1.1", "-r", "2", "identify", check=False)
    assert p.returncode == 2
    ident = kv(net.init("-t", "1.2", "identify").stdout.decode()
               .splitlines()[-1])
    assert int(ident["sectors"]) == os.path.getsize(iso) // 512


def test_masks_all_targets(net, iso, tmp_path):
    net.start_aoed(["-e", "1.1:" + iso, "-m", "02:00:00:00:00:99"],
                   str(tmp_path / "aoed.log"))
    p = net.init("-w", "500", "-r", "2", "discover", check=False)
    assert p.returncode == 2 and not targets(p.stdout)


FUZZ = r"""
import json, os, random, socket, struct, sys, time
ifn, dst, mtu, sectors, count = sys.argv[1], bytes.fromhex(
    sys.argv[2].replace(":", "")), int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88a2))
s.bind((ifn, 0x88a2))
s.setsockopt(263, 23, 1)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
s.setblocking(False)
me = bytes.fromhex(open("/sys/class/net/%s/address" % ifn).read()
                   .strip().replace(":", ""))
rnd = random.Random(4242)
sent = {}
replies = []

def hdr(vf, shelf, slot, cmd, tag, d=dst):
    return d + me + b"\x88\xa2" + bytes([vf, 0]) + struct.pack(
        "!HBBI", shelf, slot, cmd, tag)

def ata(af, scnt, cmd, lba):
    return bytes([af, 0, scnt, cmd]) + lba.to_bytes(6, "little") + b"\0\0"

def frame(i):
    kind = i % 10
    tag = kind << 24 | i
    addr = rnd.choice([(0, 1), (0xffff, 0xff), (0, 0xff), (0xffff, 1)])
    if kind == 0:       # random bytes after a valid EtherType
        f = dst + me + b"\x88\xa2" + os.urandom(rnd.randrange(0, mtu))
        f = f[:20] + struct.pack("!I", tag) + f[24:]
    elif kind == 1:     # a valid read, truncated anywhere
        f = (hdr(0x10, *addr, 0, tag) + ata(0x40, 2, 0x24, 0))
        f = f[:rnd.randrange(0, 36)]
    elif kind == 2:     # wrong versions
        f = hdr(rnd.choice([0x00, 0x20, 0x30, 0xf0]), *addr,
                rnd.randrange(4), tag) + ata(0x40, 1, 0x24, 0)
    elif kind == 3:     # response bits set: never answered
        f = hdr(rnd.choice([0x18, 0x1c, 0x08, 0x98]), *addr,
                rnd.randrange(256), tag) + ata(0x40, 1, 0x24, 0)
    elif kind == 4:     # huge sector counts
        f = hdr(0x10, *addr, 0, tag) + ata(0x40, rnd.randrange(3, 256),
                                           rnd.choice([0x20, 0x24]), 0)
    elif kind == 5:     # LBAs around and far past the end
        lba = rnd.choice([sectors - 1, sectors, sectors + 1,
                          rnd.randrange(2 ** 48)])
        f = hdr(0x10, *addr, 0, tag) + ata(0x40, rnd.randrange(0, 3),
                                           0x24, lba)
    elif kind == 6:     # unknown commands
        f = hdr(0x10, *addr, rnd.randrange(4, 256), tag) + os.urandom(20)
    elif kind == 7:     # config strings with lying lengths
        ln = rnd.choice([0, 5, 1024, 1025, 65535])
        f = hdr(0x10, *addr, 1, tag) + struct.pack(
            "!HHBBH", 0, 0, 0, 0x10 | rnd.randrange(16), ln) + \
            os.urandom(rnd.randrange(0, 40))
    elif kind == 8:     # writes, with and without data
        f = hdr(0x10, *addr, 0, tag) + ata(rnd.choice([0x41, 0x01, 0x40]),
                                           1, rnd.choice([0x30, 0x34]), 0)
        f += os.urandom(rnd.choice([0, 512]))
    else:               # random ATA arguments, mask and reserve commands
        f = hdr(0x10, *addr, rnd.choice([0, 0, 2, 3]), tag) + os.urandom(
            rnd.randrange(0, 600))
    return tag, f

def drain():
    while True:
        try:
            replies.append(s.recv(65536))
        except BlockingIOError:
            return

for i in range(count):
    tag, f = frame(i)
    sent[tag] = f
    if len(f) < 14:
        f = f.ljust(14, b"\0")
    try:
        s.send(f)
    except OSError:
        pass
    if i % 50 == 49:
        time.sleep(0.002)
        drain()
end = time.time() + 2
while time.time() < end:
    drain()
    time.sleep(0.05)

bad = []
kinds = {}
for r in replies:
    tag = struct.unpack("!I", r[20:24])[0]
    kind = tag >> 24
    kinds[kind] = kinds.get(kind, 0) + 1
    q = sent.get(tag)
    if len(r) > 14 + mtu or len(r) < 60:
        bad.append(("length", tag, len(r)))
    if r[0:6] != me or r[12:14] != b"\x88\xa2":
        bad.append(("addr", tag))
    if r[14] & 0xf8 != 0x18 or (r[16] << 8 | r[17], r[18]) != (0, 1):
        bad.append(("header", tag, r[14], r[16:19].hex()))
    if q is None or kind == 3:
        bad.append(("unasked", tag))
        continue
    if len(q) < 36:
        continue
    if r[19] == 0 and not r[14] & 4 and r[27] == 0x40 and q[27] in (
            0x20, 0x24):
        lba = int.from_bytes(q[28:34], "little")
        lba &= 0x0fffffff if q[27] == 0x20 else (1 << 48) - 1
        n = q[26]
        if lba + n > sectors or len(r) < 36 + 512 * n:
            bad.append(("out of bounds", tag, lba, n, len(r)))
    if r[19] == 0 and q[27] in (0x30, 0x34) and (r[27], r[25]) != (
            0x41, 0x04):
        bad.append(("write not refused", tag))
print(json.dumps({"sent": count, "replies": len(replies), "bad": bad[:20],
                  "nbad": len(bad), "kinds": kinds}))
"""


def test_malformed_frames(net, iso, tmp_path):
    log = str(tmp_path / "aoed.log")
    p = net.start_aoed(["-e", "0.1:" + iso], log)
    n = os.path.getsize(iso) // 512
    r = net.py(FUZZ, net.iif, net.tmac, 1500, n, 10000)
    assert r.returncode == 0, r.stderr.decode()
    res = json.loads(r.stdout)
    assert res["nbad"] == 0, res
    # every kind that deserves an answer got some, response bits none
    assert "3" not in res["kinds"]
    for kind in ("2", "4", "5", "6", "8"):
        assert res["kinds"].get(kind, 0) > 100, res
    assert p.poll() is None, "daemon died"
    # still serving correctly afterwards
    out = str(tmp_path / "out")
    net.init("-k", "16", "-o", out, "read")
    assert sha(out) == sha(iso)
    p.send_signal(signal.SIGTERM)
    assert p.wait(15) == 0
    assert not log_problems(log), log_problems(log)


def test_replace_when_idle(net, tmp_path):
    """A replaced ISO is switched to only after the idle time, then its
    new capacity is announced and served; readers never see a mix."""
    log = str(tmp_path / "aoed.log")
    path = str(tmp_path / "live.iso")
    old = make_iso(str(tmp_path / "old.iso"), str(tmp_path), mib=2)
    new = make_iso(str(tmp_path / "new.iso"), str(tmp_path), mib=3)
    os.link(old, path)
    p = net.start_aoed(["-I", "2", "-a", "0", "-e", "0.1:" + path], log)
    out = str(tmp_path / "out")
    net.init("-o", out, "read")
    assert sha(out) == sha(old)
    os.rename(new, path)
    # keep reading for 3 s with gaps well under the idle time: every
    # read is the whole old image
    end = time.monotonic() + 3
    reads = 0
    while time.monotonic() < end:
        net.init("-k", "8", "-o", out, "read")
        assert sha(out) == sha(old)
        reads += 1
    assert reads >= 3
    # idle: the new file is switched to
    def switched():
        with open(log, "rb") as f:
            return b"now serving" in f.read()
    wait_for(switched, 10, "switch to the new ISO")
    ident = kv(net.init("identify").stdout.decode().splitlines()[-1])
    assert int(ident["sectors"]) == os.path.getsize(path) // 512
    net.init("-o", out, "read")
    assert sha(out) == sha(path)
    # SIGHUP reloads and the daemon keeps serving
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: b"reloading" in open(log, "rb").read(), 10, "reload")
    net.init("identify")
    assert p.poll() is None
    assert not log_problems(log)


def test_vblade_reference(net, iso, tmp_path):
    """The initiator against vblade: proves aoe_init itself is right."""
    vb = net.start(["vblade", "-r", "3", "4", net.tif, iso],
                   str(tmp_path / "vblade.log"))
    ts = []

    def found():
        ts[:] = targets(net.init("-r", "1", "-w", "300", "discover",
                                 check=False).stdout)
        return bool(ts)
    wait_for(found, 15, "vblade to answer")
    assert vb.poll() is None
    assert (ts[0]["shelf"], ts[0]["slot"], ts[0]["scnt"]) == ("3", "4", "2")
    ident = kv(net.init("identify").stdout.decode().splitlines()[-1])
    assert int(ident["sectors"]) == os.path.getsize(iso) // 512
    out = str(tmp_path / "out")
    net.init("-k", "8", "-o", out, "read")
    assert sha(out) == sha(iso)
    # vblade answers a read past the end with ATA error, as we do
    n = os.path.getsize(iso) // 512
    r = kv(net.init("ata", "0x24", "0x40", str(n), "1").stdout.decode()
           .splitlines()[-1])
    assert (r["status"], r["error"]) == ("0x41", "0x10")


def test_privileges_dropped(net, tmp_path):
    """-u: the daemon runs as the user with CAP_NET_RAW only, and opens
    the ISO as that user."""
    import pwd
    import shutil
    import tempfile
    nobody = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="bsaoe-")
    try:
        os.chmod(d, 0o755)
        iso = make_iso(os.path.join(d, "pub.iso"), str(tmp_path), mib=1)
        os.chmod(iso, 0o644)
        log = str(tmp_path / "aoed.log")
        p = net.start_aoed(["-u", "nobody", "-e", "0.1:" + iso], log)
        with open("/proc/%d/status" % p.pid) as f:
            st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        assert st["Uid"].split()[0] == str(nobody.pw_uid)
        assert st["Gid"].split()[0] == str(nobody.pw_gid)
        net_raw = 1 << 13
        assert int(st["CapEff"], 16) == net_raw
        assert int(st["CapPrm"], 16) == net_raw
        assert int(st["CapBnd"], 16) == net_raw
        assert st["NoNewPrivs"].strip() == "1"
        out = str(tmp_path / "out")
        net.init("-o", out, "read")
        assert sha(out) == sha(iso)
        assert not log_problems(log)
    finally:
        shutil.rmtree(d)


def test_two_interfaces(net, iso, tmp_path):
    """Several interfaces share one epoll loop; each advertises the
    sectors per frame of its own MTU."""
    log = str(tmp_path / "aoed.log")
    p = net.start_aoed(["-i", net.tif + ",lo", "-e", "4.2:" + iso], log)
    with open(log, "rb") as f:
        text = f.read()
    assert b"lo: MTU 65536, 127 sectors per frame" in text
    (t,) = targets(net.init("discover").stdout)
    assert (t["shelf"], t["slot"], t["scnt"]) == ("4", "2", "2")
    out = str(tmp_path / "out")
    net.init("-k", "16", "-o", out, "read")
    assert sha(out) == sha(iso)
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: b"reloading" in open(log, "rb").read(), 10, "reload")
    net.init("identify")
    p.send_signal(signal.SIGTERM)
    assert p.wait(15) == 0
    assert not log_problems(log)
