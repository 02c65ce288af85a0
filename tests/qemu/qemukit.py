"""Builds the guest kit for the QEMU boot tests, cached under the build tree.

The kit is a Debian kernel, two live ISOs whose root filesystem is a tiny
busybox tree (its /sbin/init prints BOOTSHELF-ROOT-OK <flavour> <token> on
the serial console and powers off) and the files around them:

  vmlinuz            the installed Debian kernel (linux-image-amd64)
  dracut.iso         Fedora-style: LiveOS/squashfs.img with LiveOS/rootfs.img,
                     images/pxeboot/{vmlinuz,initrd.img} (real dracut
                     initramfs with dmsquash-live, livenet, network-legacy)
  debian-live.iso    live-build style: live/{vmlinuz,initrd.img,
                     filesystem.squashfs} (live-boot initramfs)
  kiwi-initrd        busybox initramfs acting as a KIWI netboot client
  kiwi.img           random bytes standing for a KIWI system image
  aoe-initrd         busybox initramfs acting as a Linux AoE client (its
                     own small step: build_aoe() makes only that)
  kiwi-live.iso      KIWI-style live ISO (boot/x86_64/loader/{linux,
                     initrd}, LiveOS/squashfs.img) whose initramfs has
                     KIWI's own dracut live module (build_kiwi_live())
  kit.json           flavour -> token, label, kernel version

Every step's output lives in BUILD/qemu-kit/<step>-<key>, where key is a
hash of the step's scripts, the kernel version and the versions of the
Debian packages it uses, so a rerun with nothing changed costs nothing; the
dracut initramfs (~100 s) is its own step so that ISO changes do not rebuild
it.  Older versions of a step are deleted.  Run as a script
(python3 qemukit.py BUILD_DIR) to build by hand.
"""
import fcntl
import glob
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KITSRC = os.path.join(HERE, "kit")
DRACUT_LABEL = "BS-DRACUT-LIVE"
DEBIAN_LABEL = "BS-DEBIAN-LIVE"
KIWI_LABEL = "BS-KIWI-LIVE"


def kernel_version():
    """Newest kernel installed with its modules (linux-image-amd64)."""
    vers = [os.path.basename(p)[len("vmlinuz-"):]
            for p in glob.glob("/boot/vmlinuz-*")]
    vers = [v for v in vers if os.path.isdir("/lib/modules/" + v)]
    if not vers:
        raise RuntimeError("no kernel in /boot with modules in /lib/modules "
                           "(install linux-image-amd64)")

    def key(v):
        return [int(x) if x.isdigit() else x
                for x in v.replace("-", ".").split(".")]
    return sorted(vers, key=key)[-1]


def pkg_versions(pkgs):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version}\n"]
                         + list(pkgs), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode()
    return out


def _key(scripts, pkgs, extra=""):
    h = hashlib.sha256()
    for s in scripts:
        with open(os.path.join(KITSRC, s), "rb") as f:
            h.update(s.encode() + b"\0" + f.read() + b"\0")
    h.update(pkg_versions(pkgs).encode())
    h.update(extra.encode())
    return h.hexdigest()[:16]


def _run(cmd, log):
    with open(log, "ab") as f:
        f.write(("$ " + " ".join(cmd) + "\n").encode())
        f.flush()
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                           timeout=900)
    if p.returncode != 0:
        with open(log, "rb") as f:
            tail = f.read()[-3000:].decode(errors="replace")
        raise RuntimeError("%s failed (%d):\n%s" % (cmd[0], p.returncode,
                                                      tail))


def _step(top, name, key, build):
    """Directory of step NAME for KEY; build(tmpdir) fills it if missing."""
    final = os.path.join(top, "%s-%s" % (name, key))
    if os.path.exists(os.path.join(final, ".done")):
        return final
    for old in glob.glob(os.path.join(top, name + "-*")):
        shutil.rmtree(old, ignore_errors=True)
    tmp = final + ".tmp"
    os.makedirs(tmp)
    build(tmp)
    open(os.path.join(tmp, ".done"), "w").close()
    os.rename(tmp, final)
    return final


def build(build_dir):
    """Build (or find) the kit; returns a dict of paths and facts."""
    top = os.path.join(os.path.abspath(build_dir), "qemu-kit")
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(top)


def _build_locked(top):
    kver = kernel_version()
    kernel = "/boot/vmlinuz-" + kver
    sh = lambda s: os.path.join(KITSRC, s)  # noqa: E731

    def dracut(d):
        _run([sh("dracut-initrd.sh"), kver, os.path.join(d, "initrd.img")],
             os.path.join(d, "build.log"))
    ddir = _step(top, "dracut-initrd",
                 _key(["dracut-initrd.sh", "modtree.sh"], ["dracut-core", "dracut-live",
                                             "dracut-network", "systemd",
                                             "busybox-static"], kver),
                 dracut)

    def live(d):
        _run([sh("live-initrd.sh"), kver, os.path.join(d, "initrd.img")],
             os.path.join(d, "build.log"))
    ldir = _step(top, "live-initrd",
                 _key(["live-initrd.sh"], ["live-boot",
                                           "live-boot-initramfs-tools",
                                           "initramfs-tools-core",
                                           "busybox-static"], kver),
                 live)

    def isos(d):
        log = os.path.join(d, "build.log")
        info = {"kver": kver, "tokens": {}, "labels": {
            "dracut": DRACUT_LABEL, "debian-live": DEBIAN_LABEL}}
        shutil.copyfile(kernel, os.path.join(d, "vmlinuz"))
        for flav, script, initrd, label in (
                ("dracut", "dracut-iso.sh", ddir, DRACUT_LABEL),
                ("debian-live", "debian-live-iso.sh", ldir, DEBIAN_LABEL)):
            tok = secrets.token_hex(8)
            info["tokens"][flav] = tok
            root = os.path.join(d, "root-" + flav)
            _run([sh("rootfs.sh"), root, flav, tok], log)
            _run([sh(script), kernel, os.path.join(initrd, "initrd.img"),
                  root, label, os.path.join(d, flav + ".iso")], log)
            shutil.rmtree(root)
        _run([sh("kiwi-initrd.sh"), kver, os.path.join(d, "kiwi-initrd")],
             log)
        with open(os.path.join(d, "kiwi.img"), "wb") as f:
            f.write(os.urandom(3 << 20))
        with open(os.path.join(d, "kit.json"), "w") as f:
            json.dump(info, f, indent=1)
    kdir = _step(top, "kit",
                 _key(["rootfs.sh", "root-init.sh", "dracut-iso.sh",
                       "debian-live-iso.sh", "kiwi-init.sh",
                       "kiwi-initrd.sh"],
                      ["busybox-static", "squashfs-tools", "e2fsprogs",
                       "xorriso", "isolinux"],
                      kver + ddir + ldir),
                 isos)
    with open(os.path.join(kdir, "kit.json")) as f:
        info = json.load(f)
    info.update(dir=kdir, vmlinuz=os.path.join(kdir, "vmlinuz"),
                isos={fl: os.path.join(kdir, fl + ".iso")
                      for fl in info["tokens"]},
                dracut_initrd=os.path.join(ddir, "initrd.img"),
                live_initrd=os.path.join(ldir, "initrd.img"),
                kiwi_initrd=os.path.join(kdir, "kiwi-initrd"),
                kiwi_image=os.path.join(kdir, "kiwi.img"))
    return info


def build_aoe(build_dir):
    """Only what the AoE client test needs: the installed kernel and the
    busybox initramfs of aoe-init.sh (a few seconds, cached like the
    rest); returns {kver, vmlinuz, initrd}."""
    top = os.path.join(os.path.abspath(build_dir), "qemu-kit")
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, ".lock-aoe"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kver = kernel_version()

        def initrd(d):
            _run([os.path.join(KITSRC, "aoe-initrd.sh"), kver,
                  os.path.join(d, "initrd.img")],
                 os.path.join(d, "build.log"))
        d = _step(top, "aoe-initrd",
                  _key(["aoe-initrd.sh", "aoe-init.sh"],
                       ["busybox-static", "cpio", "kmod"], kver), initrd)
    return {"kver": kver, "vmlinuz": "/boot/vmlinuz-" + kver,
            "initrd": os.path.join(d, "initrd.img")}


def build_kiwi_live(build_dir):
    """A KIWI-style live ISO booting with KIWI's dracut module
    (kiwi-dracut-live, fetched by deps.sh with apt-get download and
    unpacked: installing it would replace initramfs-tools);
    returns {kver, iso, token, label}.  ~2 min the first time."""
    top = os.path.join(os.path.abspath(build_dir), "qemu-kit")
    os.makedirs(top, exist_ok=True)
    sh = lambda s: os.path.join(KITSRC, s)  # noqa: E731
    with open(os.path.join(top, ".lock-kiwi"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kver = kernel_version()
        # deps.sh fetched the package file (no network during tests)
        debs = glob.glob(os.path.join(
            os.environ.get("BS_DEB_CACHE", "/var/cache/bootshelf/debs"),
            "kiwi-dracut-live_*.deb"))
        if not debs:
            raise RuntimeError("kiwi-dracut-live_*.deb is missing: run "
                               "make deps (scripts/packages/aoe.fetch)")
        deb = sorted(debs)[-1]
        kiwi_ver = os.path.basename(deb).split("_")[1]

        def build(d):
            log = os.path.join(d, "build.log")
            initrd = os.path.join(d, "initrd.img")
            _run([sh("kiwi-live-initrd.sh"), kver, deb, initrd], log)
            tok = secrets.token_hex(8)
            root = os.path.join(d, "root")
            _run([sh("rootfs.sh"), root, "kiwi-live", tok], log)
            _run([sh("kiwi-live-iso.sh"), "/boot/vmlinuz-" + kver, initrd,
                  root, KIWI_LABEL, os.path.join(d, "kiwi-live.iso")], log)
            shutil.rmtree(root)
            os.remove(initrd)
            with open(os.path.join(d, "kiwi.json"), "w") as f:
                json.dump({"token": tok, "kiwi": kiwi_ver}, f)
        d = _step(top, "kiwi-live",
                  _key(["kiwi-live-initrd.sh", "kiwi-live-iso.sh",
                        "modtree.sh", "rootfs.sh", "root-init.sh"],
                       ["dracut-core", "dracut-network", "systemd",
                        "busybox-static", "squashfs-tools", "e2fsprogs",
                        "xorriso"], kver + kiwi_ver), build)
    with open(os.path.join(d, "kiwi.json")) as f:
        info = json.load(f)
    info.update(kver=kver, iso=os.path.join(d, "kiwi-live.iso"),
                label=KIWI_LABEL)
    return info


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: qemukit.py BUILD_DIR")
    print(json.dumps(build(sys.argv[1]), indent=1))
