"""Stock servers reading the bootshelf-fs mount: tftpd-hpa and nginx.

Both run as their usual unprivileged users (tftp, nobody), which also
checks that the mount is allow_other and world-readable.
"""
import http.client
import os
import re
import socket
import subprocess

import pytest

from conftest import free_port, stop, wait_until
from fsutil import (MAC, FsMount, expected_initrd, install_iso, make_iso,
                    pad4, read, write_catalog)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("peers"))
    ref = make_iso(d, "fed", seed=21)
    install_iso(ref)
    cat = os.path.join(d, "catalog.conf")
    write_catalog(cat, [("fed", ref["iso"])], hosts=[(MAC, "fed")])
    m = os.path.join(d, "tftpboot")
    os.mkdir(m)
    os.chmod(d, 0o755)
    with open(os.path.join(m, "ldlinux.c32"), "wb") as f:
        f.write(os.urandom(123457))
    os.chmod(os.path.join(m, "ldlinux.c32"), 0o644)
    fs = FsMount(cat, m)
    boot = os.path.join(m, "boot", "fed")
    exp = {
        "boot/fed/linux": ref["files"]["images/pxeboot/vmlinuz"],
        "boot/fed/initrd": expected_initrd(ref),
        "boot/fed/fed.iso": read(ref["iso"]),
        "ldlinux.c32": read(os.path.join(m, "ldlinux.c32")),
        "pxelinux.cfg/01-" + MAC.replace(":", "-"): None,
    }
    raw = ref["files"]["images/pxeboot/initrd.img"]
    exp["boot/fed/initrd+iso"] = (raw + b"\0" * pad4(len(raw)) +
                                  read(os.path.join(boot, "iso.cpio")))
    yield fs, exp
    bad = fs.bad_log_lines()
    assert fs.close() == 0
    assert not bad, bad


def test_tftpd_hpa(tree, tmp_path):
    fs, exp = tree
    port = free_port()
    # -L: foreground; -s: chroot into the mount; drops to user tftp
    proc = subprocess.Popen(["/usr/sbin/in.tftpd", "-L", "-s", fs.mnt,
                             "-a", "127.0.0.1:%d" % port],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def up():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return True
            finally:
                s.close()
            return False
        wait_until(up, 10, proc, "in.tftpd")
        for name, want in exp.items():
            out = str(tmp_path / "got")
            p = subprocess.run(["curl", "-sS", "--tftp-blksize", "1468",
                                "-o", out, "tftp://127.0.0.1:%d/%s" %
                                (port, name)], timeout=120,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            assert p.returncode == 0, (name, p.stdout)
            got = read(out)
            if want is None:
                # the per-host pxelinux entry names the kernel
                assert b"boot/fed/linux" in got, got
            else:
                assert got == want, name
        # the stock tftp-hpa client too (512-byte blocks)
        out = str(tmp_path / "got2")
        p = subprocess.run(["tftp", "127.0.0.1", str(port), "-m", "binary",
                            "-c", "get", "ldlinux.c32", out], timeout=120,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert read(out) == exp["ldlinux.c32"], p.stdout
        # a missing file is an error, not an empty file
        p = subprocess.run(["curl", "-sS", "-o", str(tmp_path / "none"),
                            "tftp://127.0.0.1:%d/pxelinux.cfg/01-00-00-00"
                            "-00-00-01" % port], timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert p.returncode != 0
    finally:
        stop(proc)


# user root: the test's work directory is private (0700); tftpd-hpa
# above already reads the mount as an unprivileged user.
NGINX_CONF = """
user root root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    types {{ }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def http_get(port, path, rng=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Range": "bytes=" + rng} if rng else {}
    c.request("GET", "/" + path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def parse_multipart(ctype, body):
    boundary = re.search(r"boundary=(\S+)", ctype).group(1).encode()
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        m = re.search(rb"Content-Range: bytes (\d+)-(\d+)/(\d+)", head)
        parts.append((int(m.group(1)), int(m.group(2)), data[:-2]))
    return parts


def test_nginx_ranges(tree, tmp_path):
    fs, exp = tree
    port = free_port(socket.SOCK_STREAM)
    d = str(tmp_path)
    os.mkdir(os.path.join(d, "tmp"))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(d=d, port=port, root=fs.mnt))
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", d, "-g",
                             "daemon off;"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False
        wait_until(up, 10, proc, "nginx")
        for name in ["boot/fed/fed.iso", "boot/fed/initrd+iso"]:
            want = exp[name]
            st, h, body = http_get(port, name)
            assert st == 200 and body == want, name
            n = len(want)
            st, h, body = http_get(port, name, "1000-2000999")
            assert st == 206 and body == want[1000:2001000], name
            st, h, body = http_get(port, name, "%d-" % (n - 777))
            assert st == 206 and body == want[n - 777:], name
            ranges = [(0, 99), (n // 2, n // 2 + 70000), (n - 10, n - 1)]
            st, h, body = http_get(port, name, ",".join(
                "%d-%d" % r for r in ranges))
            assert st == 206, name
            parts = parse_multipart(h["Content-Type"], body)
            assert [(a, b) for a, b, _ in parts] == ranges
            for a, b, data in parts:
                assert data == want[a:b + 1], (name, a, b)
    finally:
        stop(proc)
