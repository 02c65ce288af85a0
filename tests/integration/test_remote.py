"""Remote ISOs over HTTP: a private nginx on loopback serves a test ISO.
The tree of the remote ISO equals that of the same ISO read locally,
only the ranges read are fetched (counted in nginx's access log), the
on-disk index cache spares a restart any ISO read, a dead or silent
server gives clear errors and EIO within the timeout, and an object
replaced on the server is picked up by a reload while a source already
open never mixes the two versions."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

import fsutil
from conftest import binpath, free_port
from remoteutil import Nginx, bs_run, remote_catalog

MiB = 1 << 20
KERNEL = "images/pxeboot/vmlinuz"
INITRD = "images/pxeboot/initrd.img"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("remote")
    ref = fsutil.make_iso(str(d), "x", 11, kernel=3 * MiB + 5,
                          initrd=MiB + 3, squash=24 * MiB)
    fsutil.install_iso(ref)
    ng = Nginx(d / "nginx")
    shutil.copy2(ref["iso"], os.path.join(ng.www, "x.iso"))
    yield d, ref, ng
    ng.close()


def tree_listing(cat, top):
    """Every path under TOP with ls -l, recursively, via the CLI."""
    out = []
    todo = [top]
    while todo:
        p = todo.pop()
        r = bs_run(cat, "ls", "-l", p)
        assert r.returncode == 0, r.stderr.decode()
        for line in r.stdout.decode().splitlines():
            name = line.split()[-1] if "->" not in line else \
                line.split(" -> ")[0].split()[-1]
            # inode numbers derive from the source identity: differ
            out.append((p, re.sub(r" [0-9a-f]{16} ", " INO ", line)))
            if line.startswith("d"):
                todo.append(p + "/" + name)
    return sorted(out)


def cat_file(cat, path):
    r = bs_run(cat, "cat", path)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def gets(ng, uri="/x.iso"):
    ng.settle()
    return [e for e in ng.log() if e[0] == "GET" and e[1] == uri]


def test_remote_tree_equals_local(served, tmp_path):
    d, ref, ng = served
    rcat, lcat = str(tmp_path / "r.conf"), str(tmp_path / "l.conf")
    remote_catalog(rcat, [("x", "url", ng.url + "/x.iso")],
                   "cache = none\n")
    remote_catalog(lcat, [("x", "path", ref["iso"])], "cache = none\n")
    rl, ll = tree_listing(rcat, "boot/x"), tree_listing(lcat, "boot/x")
    assert rl == ll
    files = [p + "/" + line.split()[-1] for p, line in rl
             if line.startswith("-")]
    assert len(files) >= 8
    for f in files:
        assert cat_file(rcat, f) == cat_file(lcat, f), f
    assert cat_file(rcat, "boot/x/linux") == ref["files"][KERNEL]
    assert cat_file(rcat, "pxelinux.cfg/default") == \
        cat_file(lcat, "pxelinux.cfg/default")
    st = bs_run(rcat, "status").stdout.decode()
    assert "state: ok" in st and "family: dracut-live" in st


def test_only_ranges_fetched(served, tmp_path):
    d, ref, ng = served
    cat = str(tmp_path / "c.conf")
    remote_catalog(cat, [("x", "url", ng.url + "/x.iso")],
                   "cache = %s\n" % (tmp_path / "cache"))
    iso_size = os.path.getsize(ref["iso"])
    ng.clear_log()
    assert cat_file(cat, "boot/x/linux") == ref["files"][KERNEL]
    got = gets(ng)
    total = sum(e[3] for e in got)
    kernel = len(ref["files"][KERNEL])
    # index (one block) + kernel + block rounding + bounded read-ahead
    assert kernel <= total <= kernel + 1 * MiB + 2 * MiB + 8 * MiB, got
    assert total < iso_size / 2
    for e in got:
        assert e[2] == 206 and e[4].startswith("bytes="), e
        assert e[5] not in ("", "-"), "range request without If-Match"
    heads = [e for e in ng.log() if e[0] == "HEAD"]
    assert len(heads) == 1

    # a restart with the index and the initrd inspection on disk reads
    # nothing of the ISO: a HEAD per start for its identity, no GET
    ng.clear_log()
    tree_listing(cat, "boot/x")
    assert gets(ng) == []
    assert [e[0] for e in ng.log()].count("HEAD") >= 1
    r = bs_run(cat, "status")
    assert "initrd: " in r.stdout.decode(), r.stdout.decode()
    assert os.listdir(str(tmp_path / "cache"))


def test_corrupt_index_cache_is_rebuilt(served, tmp_path):
    d, ref, ng = served
    cat = str(tmp_path / "c.conf")
    cache = tmp_path / "cache"
    remote_catalog(cat, [("x", "url", ng.url + "/x.iso")],
                   "cache = %s\n" % cache)
    want = tree_listing(cat, "boot/x")
    (f,) = os.listdir(str(cache))
    p = os.path.join(str(cache), f)
    orig = open(p, "rb").read()
    for at in (0, 8, 20, len(orig) // 2, len(orig) - 1):
        data = bytearray(orig)
        data[at] ^= 0xff
        open(p, "wb").write(bytes(data))
        # not trusted: the tree is right and the file written anew
        assert tree_listing(cat, "boot/x") == want
        assert open(p, "rb").read() == orig, at
    open(p, "wb").write(orig[:len(orig) // 3])
    assert tree_listing(cat, "boot/x") == want
    assert open(p, "rb").read() == orig


def test_unreachable_server_is_a_clear_error(served, tmp_path):
    d, ref, ng = served
    cat = str(tmp_path / "c.conf")
    port = free_port(socket.SOCK_STREAM)
    remote_catalog(cat, [("x", "url", "http://127.0.0.1:%d/x.iso" % port),
                         ("y", "path", ref["iso"])],
                   "cache = none\ntimeout = 3s\nconnect_timeout = 1s\n")
    t0 = time.monotonic()
    r = bs_run(cat, "check")
    assert time.monotonic() - t0 < 10
    err = r.stderr.decode()
    assert r.returncode == 1
    assert "entry 'x'" in err and "127.0.0.1:%d" % port in err, err
    assert "onnect" in err, err
    # the other entry is served regardless
    assert cat_file(cat, "boot/y/linux") == ref["files"][KERNEL]


def hold(url, *args):
    p = subprocess.Popen([binpath("remote_hold")] + list(args) + [url],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline().split()
    assert first and first[0] == "open", (first, p.stderr.read())
    return p, int(first[1])


def ask(p, cmd):
    p.stdin.write(cmd + "\n")
    p.stdin.flush()
    return p.stdout.readline().split()


def test_server_down_gives_eio_within_timeout(served, tmp_path):
    d, ref, ng = served
    ng2 = Nginx(tmp_path / "ng2")
    try:
        shutil.copy(ref["iso"], os.path.join(ng2.www, "x.iso"))
        p, size = hold(ng2.url + "/x.iso", "-t", "2000")
        out = str(tmp_path / "o")
        assert ask(p, "read 0 4096 " + out) == ["ok", "4096"]
        ng2.close()
        a = ask(p, "read %d 4096 %s" % (size - 4096, out))
        assert a[0] == "err" and a[1] == "-5", a
        assert int(a[2]) < 4000, a
        # what is cached is still served
        assert ask(p, "read 0 4096 " + out) == ["ok", "4096"]
        p.stdin.close()
        p.wait(10)
        assert "127.0.0.1:%d" % ng2.port in p.stderr.read()
    finally:
        ng2.close()


def test_silent_server_times_out(served, tmp_path):
    """A server that accepts and never answers, or trickles: EIO within
    the configured timeout, not a hang."""
    d, ref, ng = served
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    port = s.getsockname()[1]
    try:
        t0 = time.monotonic()
        p = subprocess.run([binpath("remote_hold"), "-t", "1500",
                            "http://127.0.0.1:%d/x.iso" % port],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=20)
        took = time.monotonic() - t0
        assert p.returncode == 1
        assert p.stdout.startswith("error ") and "127.0.0.1" in p.stdout
        assert "1500 ms" in p.stdout or "imed out" in p.stdout, p.stdout
        assert took < 5, took
    finally:
        s.close()
    # nginx sends /slow/ at 1 KiB/s: a 1 MiB block cannot arrive in time
    os.makedirs(os.path.join(ng.www, "slow"), exist_ok=True)
    shutil.copy2(ref["iso"], os.path.join(ng.www, "slow", "x.iso"))
    p, size = hold(ng.url + "/slow/x.iso", "-t", "2000")
    try:
        a = ask(p, "read 0 4096 %s" % (tmp_path / "o"))
        assert a[:2] == ["err", "-5"], a
        assert 1500 <= int(a[2]) < 4000, a
    finally:
        p.stdin.close()
        p.wait(10)


def test_replaced_object_never_mixes(served, tmp_path):
    d, ref, ng = served
    ng3 = Nginx(tmp_path / "ng3")
    try:
        path = os.path.join(ng3.www, "x.iso")
        shutil.copy(ref["iso"], path)
        old = open(path, "rb").read()
        p, size = hold(ng3.url + "/x.iso")
        out = str(tmp_path / "o")
        assert ask(p, "read 0 %d %s" % (MiB, out)) == ["ok", str(MiB)]
        # the new version: other bytes, same size
        new = ref2 = fsutil.make_iso(str(tmp_path), "x", 12,
                                     kernel=3 * MiB + 5, initrd=MiB + 3,
                                     squash=24 * MiB)
        fsutil.install_iso(ref2)
        newdata = open(ref2["iso"], "rb").read()
        tmp = path + ".new"
        shutil.copy(ref2["iso"], tmp)
        os.utime(tmp, (time.time() + 5, time.time() + 5))
        os.rename(tmp, path)
        # every read of the held source: old bytes or EIO, never new
        for off in (0, 5 * MiB, 9 * MiB + 77, len(old) - 1000):
            a = ask(p, "read %d 65536 %s" % (off, out))
            if a[0] == "ok":
                got = open(out, "rb").read()
                assert got == old[off:off + len(got)], off
                assert got != newdata[off:off + len(got)]
            else:
                assert a[:2] == ["err", "-5"], a
        assert any(e[2] == 412 for e in ng3.log()), ng3.log()
        p.stdin.close()
        p.wait(10)
        assert "changed on the server" in p.stderr.read()
        # a reload (a new start) sees the new version
        cat = str(tmp_path / "c.conf")
        remote_catalog(cat, [("x", "url", ng3.url + "/x.iso")],
                       "cache = %s\n" % (tmp_path / "cache"))
        assert cat_file(cat, "boot/x/linux") == new["files"][KERNEL]
    finally:
        ng3.close()


def test_weird_urls_are_reported(served, tmp_path):
    d, ref, ng = served
    cat = str(tmp_path / "c.conf")
    remote_catalog(cat, [("x", "url", ng.url + "/missing.iso")],
                   "cache = none\n")
    r = bs_run(cat, "check")
    assert r.returncode == 1
    assert "missing.iso: HTTP 404" in r.stderr.decode()


def test_cli_add_url(served, tmp_path):
    d, ref, ng = served
    cat = str(tmp_path / "c.conf")
    remote_catalog(cat, [], "cache = none\n")
    r = bs_run(cat, "add", "net", ng.url + "/x.iso", "label=Net")
    assert r.returncode == 0, r.stderr.decode()
    text = open(cat).read()
    assert "[iso net]\nurl = %s/x.iso\nlabel = Net\n" % ng.url in text
    assert cat_file(cat, "boot/net/linux") == ref["files"][KERNEL]
    # an object that is not there is refused, naming it once
    r = bs_run(cat, "add", "bad", ng.url + "/nope.iso")
    err = r.stderr.decode()
    assert r.returncode == 1 and "HTTP 404" in err, err
    assert err.count("nope.iso") == 1, err
    assert "[iso bad]" not in open(cat).read()
