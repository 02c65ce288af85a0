"""Real network boots of QEMU guests from the bootshelf tree.

The tree of a catalog naming the kit's live ISOs (see tests/qemu/
qemukit.py) is mounted with bootshelf-fs over a directory holding the
loader files (the underlay) and served by the stock servers a site runs:
dnsmasq (DHCP), tftpd-hpa, nginx and nfs-ganesha, inside a private network
namespace.
Each guest has its own MAC, so the tree's per-host configs decide what it
boots; a boot passes only when the live root filesystem taken from the
ISO prints its marker with the token written into it when the kit was
built.  Every boot's time is printed and kept in BUILD/qemu-boot-times.txt.
The guests boot three at a time (TCG: each wants a host core).
"""
import hashlib
import os
import re
import sys
import time

import pytest

from conftest import BUILD, binpath
import qemuutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "qemu"))
import qemukit  # noqa: E402

# One guest per case: name -> (MAC, DHCP boot file, catalog entry,
# what must come up: the flavour of the live root, or "kiwi").
CASES = {  # longest first: they run at most three at a time
    "pxelinux-dracut-cpio": ("52:54:00:b5:00:01", "pxelinux.0",
                             "fedlive", "dracut"),
    "grub-dracut-http": ("52:54:00:b5:00:04", "grub/i386-pc/core.0",
                         "fedlive-http", "dracut"),
    "ipxe-dracut-http": ("52:54:00:b5:00:02", "boot.ipxe",
                         "fedlive-http", "dracut"),
    "pxelinux-debian-cpio": ("52:54:00:b5:00:03", "pxelinux.0",
                             "dlive", "debian-live"),
    "pxelinux-debian-nfs": ("52:54:00:b5:00:06", "pxelinux.0",
                            "dlive-nfs", "debian-live"),
    "pxelinux-kiwi": ("52:54:00:b5:00:05", "pxelinux.0",
                      "kiwitest", "kiwi"),
    # no [host] section: pxelinux.cfg/default, whose menu (menu.c32 from
    # the underlay) times out into the catalog's [menu] default
    "pxelinux-menu-debian": ("52:54:00:b5:00:07", "pxelinux.0",
                             None, "debian-live"),
}
NFS_PSEUDO = "/bootshelf"
TIMEOUT = 900  # per guest; a loaded 2-core host needed up to ~600 s
# BS_QEMU_CASES=a,b boots only those cases (the others' tests fail).
ONLY = [c for c in os.environ.get("BS_QEMU_CASES", "").split(",") if c]


def write_catalog(path, kit):
    with open(path, "w") as f:
        f.write("[server]\naddress = %s\nhttp = http://%s/\n"
                "nfs = %s:%s\n\n" % (qemuutil.SERVER, qemuutil.SERVER,
                                     qemuutil.SERVER, NFS_PSEUDO))
        f.write("[menu]\ndefault = dlive\ntimeout = 10\n\n")
        f.write("[iso fedlive]\npath = %s\nappend = console=ttyS0\n\n"
                % kit["isos"]["dracut"])
        f.write("[iso fedlive-http]\npath = %s\ndelivery = http\n"
                "append = console=ttyS0\n\n" % kit["isos"]["dracut"])
        f.write("[iso dlive]\npath = %s\nappend = console=ttyS0\n\n"
                % kit["isos"]["debian-live"])
        f.write("[iso dlive-nfs]\npath = %s\ndelivery = nfs\n"
                "append = console=ttyS0\n\n" % kit["isos"]["debian-live"])
        f.write("[image kiwitest]\nkernel = %s\ninitrd = %s\nimage = %s\n"
                "append = console=ttyS0\n\n" % (
                    kit["vmlinuz"], kit["kiwi_initrd"], kit["kiwi_image"]))
        for name, (mac, _, entry, _) in CASES.items():
            if entry:
                f.write("[host %s]\nboot = %s\n\n" % (mac, entry))


@pytest.fixture(scope="module")
def boots(tmp_path_factory):
    """Builds (or finds) the kit, serves the tree and boots every case
    concurrently; returns {case: Guest}."""
    kit = qemukit.build(BUILD)
    work = str(tmp_path_factory.mktemp("qemu"))
    cat = os.path.join(work, "catalog.conf")
    write_catalog(cat, kit)
    root = os.path.join(work, "tftproot")
    qemuutil.underlay(root)
    qemuutil.grub_underlay(root)
    mount = qemuutil.FuseMount(binpath("bootshelf-fs"), cat, root,
                               os.path.join(work, "bootshelf-fs.log"))
    ns = None
    guests = {}
    try:
        ns = qemuutil.Netns(work)
        ns.dhcp([(mac, boot) for mac, boot, _, _ in CASES.values()])
        ns.tftpd(root)
        ns.nginx(root)
        ns.nfs(root, NFS_PSEUDO)
        for name, (mac, _, _, what) in CASES.items():
            if ONLY and name not in ONLY:
                continue
            if what == "kiwi":
                guests[name] = qemuutil.Guest(
                    ns, name, mac, mem=256, timeout=TIMEOUT,
                    expect=r"BOOTSHELF-KIWI-OK")
            else:
                guests[name] = qemuutil.Guest(ns, name, mac,
                                              timeout=TIMEOUT)
        t0 = time.monotonic()
        qemuutil.run_guests(list(guests.values()))
        wall = time.monotonic() - t0
        with open(qemuutil.timings_file(BUILD), "w") as f:
            for g in guests.values():
                f.write(g.summary() + "\n")
            f.write("all guests (concurrent): %.1f s wall, kit %s\n"
                    % (wall, kit["dir"]))
        yield guests, kit
    finally:
        if ns:
            ns.close()
        mount.stop()


def check(boots, case, capsys):
    guests, kit = boots
    assert case in guests, "not booted (BS_QEMU_CASES)"
    g = guests[case]
    with capsys.disabled():
        sys.stdout.write("\n  boot " + g.summary() + "\n")
    assert g.passed(), g.report()
    flavour = CASES[case][3]
    marker = "BOOTSHELF-ROOT-OK %s %s " % (flavour, kit["tokens"][flavour])
    assert marker in g.text(), g.report()


def test_pxelinux_dracut_live_cpio(boots, capsys):
    """pxelinux -> pxelinux.cfg/01-<mac> -> the ISO appended to dracut's
    initramfs (boot/NAME/initrd+iso), root=live:/NAME.iso."""
    check(boots, "pxelinux-dracut-cpio", capsys)


def test_ipxe_dracut_live_http(boots, capsys):
    """iPXE runs boot.ipxe (DHCP file name), which chains
    ipxe/<mac-hexhyp>.ipxe; kernel and initrd over HTTP, then dracut's
    livenet fetches boot/NAME/NAME.iso from nginx
    (root=live:http://...)."""
    check(boots, "ipxe-dracut-http", capsys)


def test_pxelinux_debian_live_cpio(boots, capsys):
    """pxelinux -> live-boot initramfs + appended ISO, boot=live
    live-media=/NAME.iso live-media-offset=0."""
    check(boots, "pxelinux-debian-cpio", capsys)


def test_pxelinux_debian_live_nfs(boots, capsys):
    """pxelinux -> live-boot initramfs, which mounts the ISO's tree
    (boot/NAME/iso) from nfs-ganesha exporting the bootshelf-fs mount:
    boot=live netboot=nfs nfsroot=SERVER:/EXPORT/boot/NAME/iso."""
    check(boots, "pxelinux-debian-nfs", capsys)


def test_pxelinux_menu_default(boots, capsys):
    """A host the catalog does not name: pxelinux.cfg/default's menu
    boots the [menu] default (Debian live, cpio) when it times out."""
    check(boots, "pxelinux-menu-debian", capsys)


def test_grub_dracut_live_http(boots, capsys):
    """GRUB (i386-pc, grub-mknetdir in the underlay) reads grub/grub.cfg,
    which finds grub/grub.cfg-01-<mac>; kernel and initrd over TFTP, the
    ISO over HTTP."""
    check(boots, "grub-dracut-http", capsys)


def test_kiwi_netboot_image(boots, capsys):
    """A KIWI-style netboot client (busybox initramfs) fetches
    KIWI/config.<MAC>, then image/<name> named by its IMAGE= line, and
    image/<name>.md5, which must match the image; the image's md5 must
    also be the file's."""
    guests, kit = boots
    assert "pxelinux-kiwi" in guests, "not booted (BS_QEMU_CASES)"
    g = guests["pxelinux-kiwi"]
    with capsys.disabled():
        sys.stdout.write("\n  boot " + g.summary() + "\n")
    assert g.passed(), g.report()
    with open(kit["kiwi_image"], "rb") as f:
        data = f.read()
    m = re.search(r"BOOTSHELF-KIWI-OK (\S+) md5=(\S+) size=(\d+) "
                  r"md5file=(\S+)", g.text())
    assert m, g.report()
    assert m.group(1) == "kiwitest"
    assert m.group(2) == hashlib.md5(data).hexdigest()
    assert int(m.group(3)) == len(data)
    assert m.group(4) == "match", g.report()   # image/NAME.md5 served
