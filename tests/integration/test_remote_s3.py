"""Remote ISOs on an S3 store: s3rver (npm, installed into the build
tree by tests/tools/s3rver-install.sh) on loopback.  Requests are signed
with SigV4 by libcurl; credentials come from the environment or from an
owner-only file.  s3rver does not verify signatures (it proves the
integration: the required x-amz headers and the path-style URL), so
the request inputs are unit-tested in test_remote.c."""
import os

import pytest

import fsutil
from remoteutil import S3rver, bs_run, remote_catalog

MiB = 1 << 20
KERNEL = "images/pxeboot/vmlinuz"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    d = tmp_path_factory.mktemp("s3")
    ref = fsutil.make_iso(str(d), "x", 21, kernel=2 * MiB + 1,
                          initrd=MiB + 3, squash=3 * MiB)
    fsutil.install_iso(ref)
    srv = S3rver(d / "srv", "isos")
    srv.put("dir/x.iso", ref["iso"])
    yield d, ref, srv
    srv.close()


def env_without_aws(**kw):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(kw)
    return e


def test_s3_env_credentials(s3, tmp_path):
    d, ref, srv = s3
    cat = str(tmp_path / "c.conf")
    remote_catalog(cat, [("x", "url", "s3://isos/dir/x.iso")],
                   "cache = none\ns3_endpoint = %s\ns3_region = us-east-1\n"
                   % srv.endpoint)
    env = env_without_aws(AWS_ACCESS_KEY_ID="S3RVER",
                          AWS_SECRET_ACCESS_KEY="S3RVER")
    r = bs_run(cat, "cat", "boot/x/linux", env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == ref["files"][KERNEL]
    r = bs_run(cat, "cat", "boot/x/x.iso", env=env)
    assert r.stdout == open(ref["iso"], "rb").read()


def test_s3_credentials_file(s3, tmp_path):
    d, ref, srv = s3
    cred = tmp_path / "s3.cred"
    cred.write_text("[default]\naccess_key = S3RVER\nsecret_key = S3RVER\n")
    os.chmod(str(cred), 0o600)
    cat = str(tmp_path / "c.conf")
    remote_catalog(cat, [("x", "url", "s3://isos/dir/x.iso")],
                   "cache = none\ns3_endpoint = %s\ns3_credentials = %s\n"
                   % (srv.endpoint, cred))
    r = bs_run(cat, "cat", "boot/x/initrd", env=env_without_aws())
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == fsutil.expected_initrd(ref)
    # a file others can read is refused, with the reason
    os.chmod(str(cred), 0o644)
    r = bs_run(cat, "check", env=env_without_aws())
    assert r.returncode == 1
    assert "readable by its owner only" in r.stderr.decode()


def test_s3_errors(s3, tmp_path):
    d, ref, srv = s3
    cat = str(tmp_path / "c.conf")
    remote_catalog(cat, [("x", "url", "s3://isos/dir/nope.iso")],
                   "cache = none\ns3_endpoint = %s\n" % srv.endpoint)
    env = env_without_aws(AWS_ACCESS_KEY_ID="S3RVER",
                          AWS_SECRET_ACCESS_KEY="S3RVER")
    r = bs_run(cat, "check", env=env)
    assert r.returncode == 1
    assert "s3://isos/dir/nope.iso" in r.stderr.decode()
    assert "HTTP 404" in r.stderr.decode()
    # no credentials at all: said plainly, and the secret never printed
    r = bs_run(cat, "check", env=env_without_aws())
    assert r.returncode == 1
    assert "no S3 credentials" in r.stderr.decode()
