#!/usr/bin/python3
"""make demo, last part: a QEMU guest PXE-boots a live ISO from the
bootshelf-fs mount, its serial console shown as it boots.

The guest kit (Debian kernel, a live-boot initramfs and a small live
ISO) is the one the boot tests build and cache under BUILD/qemu-kit
(a few minutes the first time).  The tree is served by the stock servers
a site runs, in a private network namespace: dnsmasq (DHCP), tftpd-hpa
reading the mount.  The guest boots pxelinux -> pxelinux.cfg/01-<mac> ->
the ISO appended to the initrd (boot/demo/initrd+iso).
"""
import os
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1])
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["BS_BUILD"] = BUILD
sys.path[:0] = [os.path.join(TOP, "tests", "integration"),
                os.path.join(TOP, "tests", "qemu")]
import qemukit    # noqa: E402
import qemuutil   # noqa: E402

MAC = "52:54:00:de:00:01"


def main():
    print("building or finding the guest kit (cached in %s/qemu-kit)"
          % BUILD, flush=True)
    kit = qemukit.build(BUILD)
    work = tempfile.mkdtemp(prefix="bootshelf-demo-boot.")
    cat = os.path.join(work, "bootshelf.conf")
    with open(cat, "w") as f:
        f.write("[server]\naddress = %s\n\n" % qemuutil.SERVER)
        f.write("[iso demo]\npath = %s\nlabel = Demo live (Debian "
                "live-boot)\nappend = console=ttyS0\n\n"
                % kit["isos"]["debian-live"])
        f.write("[host %s]\nboot = demo\n" % MAC)
    root = os.path.join(work, "tftpboot")
    qemuutil.underlay(root)
    mount = qemuutil.FuseMount(os.path.join(BUILD, "bootshelf-fs"), cat,
                               root, os.path.join(work, "bootshelf-fs.log"))
    ns = None
    try:
        print("\npxelinux.cfg/01-%s as served from the mount:"
              % MAC.replace(":", "-"))
        with open(os.path.join(root, "pxelinux.cfg", "01-" +
                               MAC.replace(":", "-"))) as f:
            sys.stdout.write(f.read())
        ns = qemuutil.Netns(work)
        ns.dhcp([(MAC, "pxelinux.0")])
        ns.tftpd(root)
        g = qemuutil.Guest(ns, "demo", MAC, timeout=900)
        print("\nQEMU guest %s booting (TCG, serial console below)\n" % MAC,
              flush=True)
        g.start()
        shown = 0
        while g.poll():
            text = g.text()
            if len(text) < shown:	# the harness retried the guest
                shown = 0
            sys.stdout.write(text[shown:])
            sys.stdout.flush()
            shown = len(text)
            time.sleep(0.5)
        sys.stdout.write(g.text()[shown:])
        print("\n" + g.summary())
        ok = g.passed() and ("BOOTSHELF-ROOT-OK debian-live %s"
                             % kit["tokens"]["debian-live"]) in g.text()
        print("demo boot: %s" % ("the live root came up" if ok else
                                 "FAILED"))
        return 0 if ok else 1
    finally:
        if ns:
            ns.close()
        mount.stop()


sys.exit(main())
