"""A real AoE client: a QEMU guest (TCG) running the Debian kernel loads
aoe.ko, discovers the catalog's ISO exported by bootshelf-aoed on the
host side of its tap, mounts /dev/etherd/eS.L read-only as iso9660 and
prints the sha256 of a file inside, which must be the one the test put
into the ISO.  The guest boots its kernel and a small busybox initramfs
(tests/qemu/kit/aoe-init.sh) directly: nothing but AoE is on the wire."""
import hashlib
import os
import re
import subprocess
import sys

import pytest

from conftest import BUILD
import qemuutil
from aoeutil import TapNet, log_problems

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "qemu"))
import qemukit  # noqa: E402

SHELF, SLOT = 0, 1
MAC = "52:54:00:b7:00:01"
FILE = "data/check.bin"
TIMEOUT = 150   # the guest needs ~20 s on a quiet host under TCG


def make_iso(workdir):
    """An ISO with a random file at FILE (and some padding around it);
    returns (path, sha256 of FILE, size of FILE)."""
    src = os.path.join(workdir, "isosrc")
    os.makedirs(os.path.join(src, "data"))
    body = os.urandom((3 << 20) + 4321)     # not a multiple of a sector
    with open(os.path.join(src, FILE), "wb") as f:
        f.write(body)
    with open(os.path.join(src, "data", "pad.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    iso = os.path.join(workdir, "aoe-client.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-V",
                    "BS-AOE-CLIENT", "-o", iso, src], check=True,
                   timeout=120, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return iso, hashlib.sha256(body).hexdigest(), len(body)


@pytest.fixture(scope="module")
def aoe_boot(tmp_path_factory):
    kit = qemukit.build_aoe(BUILD)
    work = str(tmp_path_factory.mktemp("qemu-aoe"))
    iso, want, size = make_iso(work)
    cat = os.path.join(work, "catalog.conf")
    with open(cat, "w") as f:
        f.write("[iso aoeclient]\npath = %s\naoe = %d.%d\n"
                % (iso, SHELF, SLOT))
    ns = TapNet(work)
    try:
        g = qemuutil.Guest(
            ns, "aoe-client", MAC, mem=256, timeout=TIMEOUT,
            expect=r"BOOTSHELF-AOE-OK .*", kernel=kit["vmlinuz"],
            initrd=kit["initrd"],
            append="console=ttyS0 panic=-1 bs.aoe=e%d.%d bs.aoe.file=%s"
            % (SHELF, SLOT, FILE))
        log = os.path.join(work, "aoed.log")
        aoed = ns.start_aoed(["-c", cat, "-i", g.tapname], log)
        qemuutil.run_guests([g])
        alive = aoed.poll() is None
        yield g, want, size, iso, log, alive
    finally:
        ns.close()


def test_linux_aoe_client_reads_catalog_iso(aoe_boot, capsys):
    g, want, size, iso, log, alive = aoe_boot
    with capsys.disabled():
        sys.stdout.write("\n  boot " + g.summary() + "\n")
    assert g.passed(), g.report()
    m = re.search(r"BOOTSHELF-AOE-OK e(\d+)\.(\d+) sha256=([0-9a-f]+) "
                  r"size=(\d+) sectors=(\d+)", g.text())
    assert m, g.report()
    assert (int(m.group(1)), int(m.group(2))) == (SHELF, SLOT)
    assert m.group(3) == want, g.report()
    assert int(m.group(4)) == size
    # the capacity the kernel took from IDENTIFY is the ISO's size
    assert int(m.group(5)) == os.path.getsize(iso) // 512
    assert alive, "bootshelf-aoed died:\n" + qemuutil.tail(log)
    assert not log_problems(log), qemuutil.tail(log)
