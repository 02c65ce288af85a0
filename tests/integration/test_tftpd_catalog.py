"""bootshelf-tftpd -c CATALOG: the catalog's tree served in-process,
byte for byte what the CLI (and bootshelf-fs) show; reloads keep a
transfer on the version it started with."""
import os
import shutil
import subprocess
import time

import pytest

import isokit
from conftest import binpath
from tftputil import Tftpd, TftpClient, TftpError


def cli(cat, *args):
    return subprocess.run([binpath("bootshelf"), "-c", str(cat)] +
                          [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True,
                          timeout=60).stdout


@pytest.fixture
def served(tmp_path):
    d = str(tmp_path)
    iso, _ = isokit.make_family(d, "fedora")
    live = os.path.join(d, "live.iso")
    shutil.copyfile(iso, live)
    cat = tmp_path / "c.conf"
    cat.write_text("[iso fed]\npath = %s\n\n[host 52:54:00:12:34:56]\n"
                   "boot = fed\n" % live)
    # the test's directories are private to root: stay root to read them
    t = Tftpd(None, tmp_path, args=("-u", "root"), catalog=cat)
    yield tmp_path, cat, t
    assert t.alive(), t.text()
    t.stop()
    assert t.proc.returncode == 0, t.text()


def get(t, name, opts=(("blksize", "1468"),)):
    c = TftpClient(t.port)
    try:
        return c.get(name, opts=opts)
    finally:
        c.close()


def test_tree_files_match_cli(served):
    tmp, cat, t = served
    for name in ("boot/fed/linux", "boot/fed/initrd+iso",
                 "boot/fed/iso.cpio", "pxelinux.cfg/default",
                 "pxelinux.cfg/01-52-54-00-12-34-56", "grub/grub.cfg",
                 "boot/fed/iso/LiveOS/squashfs.img"):
        assert get(t, name) == cli(cat, "cat", name), name
    assert b"[iso fed]" in get(t, ".bootshelf/status")
    # curl, a real client, with a leading slash as PXE ROMs send it
    out = tmp / "got"
    subprocess.run(["curl", "-sS", "--max-time", "60", "-o", str(out),
                    "tftp://127.0.0.1:%d//boot/fed/initrd" % t.port],
                   check=True, timeout=90)
    assert out.read_bytes() == cli(cat, "cat", "boot/fed/initrd")


def test_missing_and_refused(served):
    _, _, t = served
    for name, code in (("pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", 1),
                       ("boot", 2), ("boot/../boot/fed/linux", 2)):
        with pytest.raises(TftpError) as e:
            get(t, name)
        assert e.value.code == code, (name, e.value)


def test_reload_keeps_transfers_on_their_version(served):
    tmp, cat, t = served
    old = cli(cat, "cat", "boot/fed/fed.iso")
    other, _ = isokit.make_family(str(tmp), "ubuntu")
    new = open(other, "rb").read()
    c = TftpClient(t.port)
    swapped = []

    def swap(client, block):
        # mid-transfer: replace the ISO by rename and make the daemon
        # reload (SIGHUP), then carry on reading
        if block == 20 and not swapped:
            cli(cat, "update", "fed", other)
            t.proc.send_signal(1)
            time.sleep(0.5)
            swapped.append(block)
    got = c.get("boot/fed/fed.iso", opts=(("blksize", "512"),),
                on_data=swap)
    c.close()
    assert swapped and got == old
    assert "reloaded" in t.text()
    assert get(t, "boot/fed/fed.iso") == new
    # a catalog with an error keeps the old tree; editing the file is
    # noticed without a signal
    text = cat.read_text()
    cat.write_text(text + "\n[iso broken\n")
    time.sleep(1.2)
    assert get(t, "boot/fed/fed.iso") == new
    assert "reload failed" in t.text()
    cat.write_text(text.replace("[host 52:54:00:12:34:56]\nboot = fed\n",
                                ""))
    time.sleep(1.2)
    with pytest.raises(TftpError):
        get(t, "pxelinux.cfg/01-52-54-00-12-34-56")
