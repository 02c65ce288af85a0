"""Build test ISO images with xorriso, one per boot-family layout, plus
malformed ones.  Nothing binary is committed: every image is made here,
from random bytes, in the test's own directory."""
import gzip
import os
import struct
import subprocess

# What each family's initramfs contains that tells the boot modes apart
# (the names bootshelf's initrd scanner looks for).
MODULES = ["lib/modules/6.1.0-18-amd64/kernel/fs/isofs/isofs.ko.xz",
           "lib/modules/6.1.0-18-amd64/kernel/drivers/block/loop.ko.xz",
           "lib/modules/6.1.0-18-amd64/kernel/fs/squashfs/squashfs.ko.xz",
           "lib/modules/6.1.0-18-amd64/kernel/fs/overlayfs/overlay.ko.xz"]
INITRD_FILES = {
    "fedora": ["lib/dracut/", "usr/sbin/dmsquash-live-root",
               "usr/sbin/livenetroot", "usr/sbin/nfsroot"] + MODULES,
    "ubuntu": ["scripts/casper", "scripts/functions",
               "usr/bin/nfsmount"] + MODULES,
    "debian-live": ["lib/live/boot/9990-main.sh", "scripts/live",
                    "scripts/functions", "usr/bin/nfsmount"] + MODULES,
    "arch": ["init_functions", "hooks/archiso", "hooks/archiso_pxe_http",
             "hooks/archiso_pxe_nfs"] + MODULES,
    "kiwi": ["lib/dracut/", "usr/lib/dracut/hooks/pre-mount/"
             "kiwi-live-root.sh", "lib/modules/6.1.0-18-amd64/kernel/"
             "drivers/block/aoe/aoe.ko.xz"] + MODULES,
    "debian-installer": ["init", "lib/debian-installer/menu"],
    "generic": ["init"],
}


def newc(names, pad_to=0):
    """A newc cpio archive of empty files (and directories for names
    ending in '/'), parents first, then a filler file to reach about
    pad_to bytes, then TRAILER!!!."""
    out = bytearray()
    ino = [1]

    def entry(name, mode, data=b""):
        hdr = "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X" % (
            ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0,
            len(name) + 1, 0)
        ino[0] += 1
        out.extend(hdr.encode() + name.encode() + b"\0")
        out.extend(b"\0" * ((4 - len(out) % 4) % 4))
        out.extend(data)
        out.extend(b"\0" * ((4 - len(out) % 4) % 4))

    made = set()
    for n in names:
        parts = n.rstrip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in made:
                made.add(d)
                entry(d, 0o40755)
        if n.endswith("/"):
            if n.rstrip("/") not in made:
                made.add(n.rstrip("/"))
                entry(n.rstrip("/"), 0o40755)
        else:
            entry(n, 0o100755)
    if pad_to > len(out):
        entry("filler", 0o100644, os.urandom(pad_to - len(out)))
    entry("TRAILER!!!", 0)
    return bytes(out)


def initrd_bytes(fam, size):
    """A gzip-compressed initramfs of about @size bytes, as distributions
    ship them (random filler keeps it from compressing away)."""
    return gzip.compress(newc(INITRD_FILES.get(fam, ["init"]), size),
                         compresslevel=1)

FAMILIES = {
    # name: (volume id, {path: size or text}, expected family, kernel, initrd)
    "fedora": ("Fedora-WS-Live", {
        "LiveOS/squashfs.img": 300000,
        "images/pxeboot/vmlinuz": 200001,
        "images/pxeboot/initrd.img": 150003,
        "isolinux/isolinux.cfg":
            "default vesamenu.c32\nlabel linux\n  menu label Start\n"
            "  kernel /images/pxeboot/vmlinuz\n"
            "  append initrd=/images/pxeboot/initrd.img "
            "root=live:CDLABEL=Fedora-WS-Live rd.live.image quiet\n"
            "  menu default\nlabel check\n  kernel /images/pxeboot/vmlinuz\n"
            "  append initrd=/images/pxeboot/initrd.img rd.live.check\n",
    }, "dracut-live", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"),
    "ubuntu": ("Ubuntu 24.04 LTS amd64", {
        "casper/filesystem.squashfs": 300000,
        "casper/vmlinuz": 200002,
        "casper/initrd": 150001,
        ".disk/info": "Ubuntu 24.04\n",
        "boot/grub/grub.cfg":
            "set timeout=30\nmenuentry 'Try or Install Ubuntu' {\n"
            "  linux /casper/vmlinuz boot=casper quiet splash ---\n"
            "  initrd /casper/initrd\n}\n",
    }, "casper", "casper/vmlinuz", "casper/initrd"),
    "debian-live": ("d-live 12 gn amd64", {
        "live/filesystem.squashfs": 300000,
        "live/vmlinuz-6.1.0-18-amd64": 200003,
        "live/initrd.img-6.1.0-18-amd64": 150002,
    }, "live-boot", "live/vmlinuz-6.1.0-18-amd64",
        "live/initrd.img-6.1.0-18-amd64"),
    "arch": ("ARCH_202411", {
        "arch/boot/x86_64/vmlinuz-linux": 200004,
        "arch/boot/x86_64/initramfs-linux.img": 150004,
        "arch/x86_64/airootfs.sfs": 300000,
    }, "archiso", "arch/boot/x86_64/vmlinuz-linux",
        "arch/boot/x86_64/initramfs-linux.img"),
    "kiwi": ("KIWI_LIVE", {
        "boot/x86_64/loader/linux": 200005,
        "boot/x86_64/loader/initrd": 150005,
        "LiveOS/squashfs.img": 300000,
    }, "kiwi-live", "boot/x86_64/loader/linux", "boot/x86_64/loader/initrd"),
    "debian-installer": ("Debian 12.8.0 amd64 n", {
        "install.amd/vmlinuz": 200006,
        "install.amd/initrd.gz": 150006,
        "dists/bookworm/Release": "Suite: stable\n",
    }, "debian-installer", "install.amd/vmlinuz", "install.amd/initrd.gz"),
    "generic": ("GENERIC", {
        "boot/kernel.bin": 200007,
        "boot/rootfs.cpio.gz": 150007,
        "syslinux/syslinux.cfg":
            "DEFAULT os\nLABEL os\n  KERNEL /boot/kernel.bin\n"
            "  INITRD /boot/rootfs.cpio.gz\n  APPEND console=ttyS0 quiet\n",
    }, "generic", "boot/kernel.bin", "boot/rootfs.cpio.gz"),
}


def make_tree(root, files, seed, initrd=None):
    """Write @files; the one named @initrd becomes a real initramfs for
    family @seed."""
    for rel, content in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            if rel == initrd:
                f.write(initrd_bytes(seed, content))
            elif isinstance(content, int):
                f.write(os.urandom(content))
            else:
                f.write(content.encode())


def xorriso(src, out, volid, extra=()):
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J",
                    "-V", volid, "-o", out] + list(extra) + [src],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)


def make_family(workdir, fam):
    volid, files, family, kernel, initrd = FAMILIES[fam]
    src = os.path.join(workdir, fam + ".src")
    make_tree(src, files, fam, initrd)
    out = os.path.join(workdir, fam + ".iso")
    xorriso(src, out, volid)
    return out, src


def make_eltorito(workdir):
    """An ISO whose only boot path is an El Torito image."""
    src = os.path.join(workdir, "eltorito.src")
    make_tree(src, {"boot/floppy.img": 1474560, "README": "x\n"}, 0)
    out = os.path.join(workdir, "eltorito.iso")
    xorriso(src, out, "ELTORITO", ["-b", "boot/floppy.img"])
    return out


def _dir_records(data, lba, length):
    off = lba * 2048
    end = off + length
    while off < end:
        reclen = data[off]
        if reclen == 0:
            off = (off // 2048 + 1) * 2048
            continue
        yield off, data[off:off + reclen]
        off += reclen


def _find(data, lba, length, name):
    for off, rec in _dir_records(data, lba, length):
        nlen = rec[32]
        ident = rec[33:33 + nlen].split(b";")[0]
        if ident == name:
            return off, struct.unpack_from("<I", rec, 2)[0], \
                struct.unpack_from("<I", rec, 10)[0]
    raise KeyError(name)


def make_malformed(workdir):
    """Returns {kind: path} of broken images."""
    out = {}
    good, _ = make_family(workdir, "fedora")
    data = open(good, "rb").read()

    p = os.path.join(workdir, "truncated.iso")
    open(p, "wb").write(data[:len(data) // 2])
    out["truncated"] = p
    p = os.path.join(workdir, "zero.iso")
    open(p, "wb").close()
    out["zero-length"] = p
    p = os.path.join(workdir, "random.iso")
    open(p, "wb").write(os.urandom(1 << 20))
    out["random"] = p

    # Plain ISO 9660 (no Rock Ridge/Joliet) so records are easy to patch.
    src = os.path.join(workdir, "plain.src")
    make_tree(src, {"A/B/FILE.TXT": "hello\n", "BIG.BIN": 5000}, 0)
    plain = os.path.join(workdir, "plain.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "PLAIN",
                    "-o", plain, src], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)
    pdata = bytearray(open(plain, "rb").read())
    root_lba, root_len = struct.unpack_from("<I", pdata, 32768 + 156 + 2)[0], \
        struct.unpack_from("<I", pdata, 32768 + 156 + 10)[0]

    # directory loop: A/B points back at A
    loop = bytearray(pdata)
    _, a_lba, a_len = _find(loop, root_lba, root_len, b"A")
    b_off, _, _ = _find(loop, a_lba, a_len, b"B")
    struct.pack_into("<I", loop, b_off + 2, a_lba)
    struct.pack_into(">I", loop, b_off + 6, a_lba)
    struct.pack_into("<I", loop, b_off + 10, a_len)
    struct.pack_into(">I", loop, b_off + 14, a_len)
    p = os.path.join(workdir, "loop.iso")
    open(p, "wb").write(loop)
    out["directory-loop"] = p

    # absurd extent: BIG.BIN starts far beyond the end of the image
    absurd = bytearray(pdata)
    f_off, _, _ = _find(absurd, root_lba, root_len, b"BIG.BIN")
    struct.pack_into("<I", absurd, f_off + 2, 0x7ffffff0)
    struct.pack_into(">I", absurd, f_off + 6, 0x7ffffff0)
    p = os.path.join(workdir, "absurd.iso")
    open(p, "wb").write(absurd)
    out["absurd-extent"] = p
    return out
