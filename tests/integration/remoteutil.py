"""Helpers for the remote-ISO integration tests: a private nginx on
loopback (its own config, a free port, an access log with the bytes sent
per request), s3rver (installed with npm into the build tree by
tests/tools/s3rver-install.sh), and the bootshelf CLI over a catalog.
Every server is started here and stopped by PID."""
import os
import shutil
import socket
import subprocess
import time

from conftest import BUILD, ROOT, binpath, free_port, stop, wait_until

NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    log_format bs '$request_method $uri $status $body_bytes_sent '
                  '"$http_range" "$http_if_match"';
    access_log {d}/access.log bs;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    keepalive_requests 10000;
    # as nginx serves files in production (the distributions' default
    # nginx.conf): without it every byte is read into a 32 KiB buffer and
    # written again, CPU time the client on the same small machine lacks
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
        # a server that trickles: 1 KiB/s exactly (sendfile would send
        # its first page at once)
        location /slow/ {{ limit_rate 1k; sendfile off; }}
    }}
}}
"""


def port_open(port):
    s = socket.socket()
    s.settimeout(0.2)
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


class Nginx:
    """nginx -c DIR/nginx.conf in the foreground; www is DIR/www."""

    def __init__(self, d):
        self.dir = str(d)
        self.www = os.path.join(self.dir, "www")
        os.makedirs(self.www, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.port = free_port(socket.SOCK_STREAM)
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            # workers read the test's private (0700) directories
            user = "user root root;" if os.geteuid() == 0 else ""
            f.write(NGINX_CONF.format(d=self.dir, port=self.port,
                                      user=user))
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen(
            [exe, "-p", self.dir, "-c",
             os.path.join(self.dir, "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: port_open(self.port), 10, self.proc, "nginx")
        self.url = "http://127.0.0.1:%d" % self.port

    def log(self):
        """Access log entries: (method, uri, status, bytes, range)."""
        p = os.path.join(self.dir, "access.log")
        out = []
        if not os.path.exists(p):
            return out
        with open(p) as f:
            for line in f:
                parts = line.split(" ", 4)
                rest = parts[4].split('"')
                out.append((parts[0], parts[1], int(parts[2]),
                            int(parts[3]), rest[1], rest[3]))
        return out

    def settle(self, quiet=0.3, limit=5.0):
        """Wait until the access log stops growing: a request the client
        gave up (read-ahead cut short when it exits) is logged when nginx
        notices, a moment later."""
        p = os.path.join(self.dir, "access.log")
        size = lambda: os.path.getsize(p) if os.path.exists(p) else 0
        t0 = last_change = time.monotonic()
        last = size()
        while time.monotonic() - t0 < limit:
            time.sleep(0.05)
            now = size()
            if now != last:
                last, last_change = now, time.monotonic()
            elif time.monotonic() - last_change >= quiet:
                break

    def clear_log(self):
        self.settle()
        open(os.path.join(self.dir, "access.log"), "w").close()
        # nginx keeps appending at its own offset: reopen the log
        os.kill(self.proc.pid, 10)  # SIGUSR1: reopen log files
        time.sleep(0.2)

    def close(self):
        # SIGTERM is a fast shutdown for nginx; the master reaps workers
        stop(self.proc)


class S3rver:
    """s3rver on a free port with bucket BUCKET; data in DIR."""

    def __init__(self, d, bucket):
        script = os.path.join(ROOT, "tests", "tools", "s3rver-install.sh")
        inst = os.path.join(BUILD, "s3rver")
        r = subprocess.run([script, inst], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
        assert r.returncode == 0, r.stderr.decode()
        exe = r.stdout.decode().strip()
        self.dir = str(d)
        self.port = free_port(socket.SOCK_STREAM)
        self.bucket = bucket
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "-d", os.path.join(self.dir, "data"), "-a", "127.0.0.1",
             "-p", str(self.port), "--configure-bucket", bucket],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: port_open(self.port), 30, self.proc, "s3rver")
        self.endpoint = "http://127.0.0.1:%d" % self.port
        # the bucket exists once it answers a listing
        wait_until(lambda: subprocess.run(
            ["curl", "-sf", "-o", "/dev/null", "--aws-sigv4",
             "aws:amz:us-east-1:s3", "--user", "S3RVER:S3RVER",
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
             "%s/%s/" % (self.endpoint, bucket)]).returncode == 0,
            30, self.proc, "s3rver bucket")

    def put(self, key, path):
        r = subprocess.run(
            ["curl", "-sf", "-X", "PUT", "--aws-sigv4",
             "aws:amz:us-east-1:s3", "--user", "S3RVER:S3RVER",
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
             "-H", "Content-Type: application/octet-stream",
             "--data-binary", "@" + path,
             "%s/%s/%s" % (self.endpoint, self.bucket, key)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        assert r.returncode == 0, r.stderr.decode()

    def close(self):
        stop(self.proc)


def bs_run(catalog, *args, timeout=60, env=None):
    """bootshelf -c CATALOG ARGS...; returns CompletedProcess (bytes)."""
    return subprocess.run([binpath("bootshelf"), "-c", catalog] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=env)


def remote_catalog(path, entries, server_extra=""):
    """entries: list of (name, key, value) with key 'path' or 'url'."""
    text = "[server]\naddress = 127.0.0.1\n" + server_extra + "\n"
    for name, key, value in entries:
        text += "[iso %s]\n%s = %s\n\n" % (name, key, value)
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)
