"""Real AoE clients of bootshelf-aoed, QEMU guests (TCG) running the
Debian kernel.

- A bare client: the guest loads aoe.ko, discovers the catalog's ISO
  exported by bootshelf-aoed on the host side of its tap, mounts
  /dev/etherd/eS.L read-only as iso9660 and prints the sha256 of a file
  inside, which must be the one the test put into the ISO.  It boots its
  kernel and a small busybox initramfs (tests/qemu/kit/aoe-init.sh)
  directly: nothing but AoE is on the wire.
- A KIWI live boot: a KIWI-style live ISO whose initramfs holds KIWI's
  own dracut live module (Debian's kiwi-dracut-live) boots the kernel,
  initrd and command line the tree generates for the catalog entry
  (root=live:AOEINTERFACE=eS.L), gets an address from dnsmasq, finds the
  ISO over AoE and switches to the root filesystem inside it, which
  prints its marker.  The kernel and initrd are booted directly (read
  with `bootshelf cat` from the tree): the PXE loaders are covered by the
  other QEMU tests."""
import hashlib
import os
import re
import subprocess
import sys

import time

import pytest

from conftest import BUILD, binpath
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


KIWI_MAC = "52:54:00:b7:00:02"
KIWI_TIMEOUT = 420  # a dracut+systemd boot: ~100 s on a quiet host


def tree_file(cat, path, out):
    """A file of the tree of catalog cat, read with bootshelf cat."""
    with open(out, "wb") as f:
        subprocess.run([binpath("bootshelf"), "-c", cat, "cat", path],
                       stdout=f, check=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def kiwi_boot(tmp_path_factory):
    kit = qemukit.build_kiwi_live(BUILD)
    work = str(tmp_path_factory.mktemp("qemu-kiwi-aoe"))
    cat = os.path.join(work, "catalog.conf")
    with open(cat, "w") as f:
        f.write("[server]\naddress = %s\n\n" % qemuutil.SERVER)
        f.write("[iso kiwilive]\npath = %s\naoe = %d.%d\n"
                "append = console=ttyS0\n\n" % (kit["iso"], SHELF, SLOT))
        f.write("[host %s]\nboot = kiwilive\n" % KIWI_MAC)
    # what pxelinux would get for this host
    cfg = subprocess.run([binpath("bootshelf"), "-c", cat, "cat",
                          "pxelinux.cfg/01-" + KIWI_MAC.replace(":", "-")],
                         stdout=subprocess.PIPE, check=True,
                         timeout=60).stdout.decode()
    words = {}
    for line in cfg.splitlines():
        w = line.split(None, 1)
        if len(w) == 2 and w[0] in ("KERNEL", "INITRD", "APPEND"):
            words[w[0]] = w[1].strip()
    kernel = tree_file(cat, words["KERNEL"], os.path.join(work, "linux"))
    initrd = tree_file(cat, words["INITRD"], os.path.join(work, "initrd"))
    # IPAPPEND 2: pxelinux adds the boot interface
    append = "%s BOOTIF=01-%s" % (words["APPEND"],
                                  KIWI_MAC.replace(":", "-"))
    ns = qemuutil.Netns(work)
    try:
        ns.dhcp([(KIWI_MAC, "none")])
        g = qemuutil.Guest(ns, "kiwi-live-aoe", KIWI_MAC, mem=768,
                           timeout=KIWI_TIMEOUT, kernel=kernel,
                           initrd=initrd, append=append)
        # on the bridge the guest's tap is a port of; announcements
        # every 5 s (the guest loads aoe.ko before its link is up)
        log = os.path.join(work, "aoed.log")
        aoed = ns.bg("aoed.log", [binpath("bootshelf-aoed"), "-f", "-a",
                                  "5", "-c", cat, "-i", "br0"])
        deadline = time.monotonic() + 15
        while "serving" not in qemuutil.tail(log):
            assert aoed.poll() is None and time.monotonic() < deadline, \
                qemuutil.tail(log)
            time.sleep(0.1)
        qemuutil.run_guests([g])
        alive = aoed.poll() is None
        yield g, kit, words, log, alive
    finally:
        ns.close()


def test_kiwi_live_boots_over_aoe(kiwi_boot, capsys):
    g, kit, words, log, alive = kiwi_boot
    with capsys.disabled():
        sys.stdout.write("\n  boot " + g.summary() + "\n")
    # the tree chose AoE for the KIWI entry
    assert "root=live:AOEINTERFACE=e%d.%d" % (SHELF, SLOT) in \
        words["APPEND"], words
    assert g.passed(), g.report()
    marker = "BOOTSHELF-ROOT-OK kiwi-live %s " % kit["token"]
    assert marker in g.text(), g.report()
    assert alive, "bootshelf-aoed died:\n" + qemuutil.tail(log)
    assert not log_problems(log), qemuutil.tail(log)
