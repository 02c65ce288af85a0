"""The QEMU boots again with bootshelf-tftpd in place of tftpd-hpa,
serving the same bootshelf-fs mount: the iPXE ROM (DHCP file boot.ipxe,
then ipxe/<mac>.ipxe, kernel and initrd by TFTP) and pxelinux are the
real clients.  Debian live with the ISO appended to the initrd."""
import os
import sys
import time

import pytest

from conftest import BUILD, binpath
import qemuutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "qemu"))
import qemukit  # noqa: E402

CASES = {
    "bstftpd-ipxe-debian-cpio": ("52:54:00:b6:00:01", "boot.ipxe"),
    "bstftpd-pxelinux-debian-cpio": ("52:54:00:b6:00:02", "pxelinux.0"),
}


@pytest.fixture(scope="module")
def boots(tmp_path_factory):
    kit = qemukit.build(BUILD)
    work = str(tmp_path_factory.mktemp("qemu-bstftpd"))
    cat = os.path.join(work, "catalog.conf")
    with open(cat, "w") as f:
        # no [server] http: iPXE fetches kernel and initrd over TFTP
        f.write("[server]\naddress = %s\n\n" % qemuutil.SERVER)
        f.write("[iso dlive]\npath = %s\nappend = console=ttyS0\n\n"
                % kit["isos"]["debian-live"])
        for mac, _ in CASES.values():
            f.write("[host %s]\nboot = dlive\n\n" % mac)
    root = os.path.join(work, "tftpboot")
    qemuutil.underlay(root)
    mount = qemuutil.FuseMount(binpath("bootshelf-fs"), cat, root,
                               os.path.join(work, "bootshelf-fs.log"))
    ns = None
    try:
        ns = qemuutil.Netns(work)
        ns.dhcp(list(CASES.values()))
        tftpd = ns.bootshelf_tftpd(binpath("bootshelf-tftpd"), root)
        guests = {name: qemuutil.Guest(ns, name, mac, timeout=900)
                  for name, (mac, _) in CASES.items()}
        t0 = time.monotonic()
        qemuutil.run_guests(list(guests.values()))
        wall = time.monotonic() - t0
        with open(os.path.join(work, "bootshelf-tftpd.log")) as f:
            log = f.read()
        yield guests, kit, log, wall
        assert tftpd.poll() is None, log
    finally:
        if ns:
            ns.close()
        mount.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_boot_with_bootshelf_tftpd(boots, case, capsys):
    guests, kit, log, wall = boots
    g = guests[case]
    with capsys.disabled():
        sys.stdout.write("\n  boot " + g.summary() + "\n")
    assert g.passed(), g.report()
    marker = "BOOTSHELF-ROOT-OK debian-live %s " % \
        kit["tokens"]["debian-live"]
    assert marker in g.text(), g.report()
    # the daemon logged every transfer: the initrd+iso came from it
    assert 'RRQ "boot/dlive/initrd+iso"' in log or \
        'RRQ "/boot/dlive/initrd+iso"' in log, log[-3000:]
