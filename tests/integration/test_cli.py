"""The bootshelf CLI over test ISOs of every family: detection, the
synthesized files byte for byte against references made by xorriso and
GNU cpio, malformed ISOs and catalogs, and catalog edits."""
import os
import subprocess

import pytest

import isokit

CPIO_LIMIT = 0xffffffff


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    d = tmp_path_factory.mktemp("kit")
    isos = {}
    for fam in isokit.FAMILIES:
        isos[fam] = isokit.make_family(str(d), fam)
    isos["eltorito"] = (isokit.make_eltorito(str(d)), None)
    bad = isokit.make_malformed(str(d))
    return d, isos, bad


def write_catalog(path, isos, extra=""):
    with open(path, "w") as f:
        f.write("# test catalog\n[server]\naddress = 10.0.0.1\n"
                "http = http://10.0.0.1/\n\n")
        for name, iso in isos.items():
            f.write("[iso %s]\npath = %s\n\n" % (name, iso))
        f.write(extra)


def xorriso_extract(iso, inner, dest):
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso,
                    "-extract", "/" + inner, dest], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60)
    return open(dest, "rb").read()


@pytest.mark.parametrize("fam", list(isokit.FAMILIES))
def test_inspect_detects_family(bs, kit, fam):
    d, isos, _ = kit
    _, _, family, kernel, initrd = isokit.FAMILIES[fam]
    out = bs("inspect", isos[fam][0]).stdout.decode()
    assert "family:    %s " % family in out
    assert "kernel:    %s\n" % kernel in out
    assert "initrd:    %s\n" % initrd in out


def test_inspect_eltorito(bs, kit):
    _, isos, _ = kit
    out = bs("inspect", isos["eltorito"][0]).stdout.decode()
    assert "family:    eltorito" in out
    assert "auto -> sanboot" in out


def test_inspect_explains_modes(bs, kit, tmp_path):
    _, isos, _ = kit
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {})
    out = bs("-c", cat, "inspect", isos["ubuntu"][0]).stdout.decode()
    assert "cpio     no   casper cannot loop-mount" in out
    assert "http     yes" in out
    assert "nfs      no   no [server] nfs export" in out
    assert "url=http://10.0.0.1/boot/NAME/NAME.iso" in out


@pytest.mark.parametrize("fam", ["fedora", "debian-live", "ubuntu"])
def test_tree_bytes_match_references(bs, kit, tmp_path, fam):
    d, isos, _ = kit
    iso = isos[fam][0]
    _, _, _, kernel, initrd = isokit.FAMILIES[fam]
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"x": iso})
    raw = open(iso, "rb").read()

    linux = bs("-c", cat, "cat", "boot/x/linux").stdout
    assert linux == xorriso_extract(iso, kernel, str(tmp_path / "k"))
    ird = bs("-c", cat, "cat", "boot/x/initrd").stdout
    ref_initrd = xorriso_extract(iso, initrd, str(tmp_path / "i"))
    assert ird == ref_initrd + b"\0" * ((4 - len(ref_initrd) % 4) % 4)
    assert bs("-c", cat, "cat", "boot/x/x.iso").stdout == raw

    cpio = bs("-c", cat, "cat", "boot/x/iso.cpio").stdout
    listing = subprocess.run(["cpio", "-t"], input=cpio,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=True)
    assert listing.stdout.decode().split() == ["x.iso"]
    ex = tmp_path / "ex"
    ex.mkdir()
    subprocess.run(["cpio", "-id", "--quiet"], input=cpio, cwd=str(ex),
                   check=True)
    assert open(str(ex / "x.iso"), "rb").read() == raw

    both = bs("-c", cat, "cat", "boot/x/initrd+iso").stdout
    pad = (4 - len(ref_initrd) % 4) % 4
    assert both == ref_initrd + b"\0" * pad + cpio

    # a file of the ISO's own tree
    some = isokit.FAMILIES[fam][3]
    assert bs("-c", cat, "cat", "boot/x/iso/" + some).stdout == linux


def test_pxelinux_configs(bs, kit, tmp_path):
    _, isos, _ = kit
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"fed": isos["fedora"][0],
                             "ubu": isos["ubuntu"][0]},
                  "[host 52:54:00:12:34:56]\nboot = fed\n"
                  "append = rd.live.ram=1\n")
    menu = bs("-c", cat, "cat", "pxelinux.cfg/default").stdout.decode()
    assert "LABEL fed\n" in menu and "LABEL ubu\n" in menu
    assert "KERNEL boot/fed/linux" in menu
    host = bs("-c", cat, "cat",
              "pxelinux.cfg/01-52-54-00-12-34-56").stdout.decode()
    assert "DEFAULT fed" in host
    assert "INITRD boot/fed/initrd+iso" in host
    assert "root=live:/fed.iso rd.live.image" in host
    assert "rd.live.ram=1" in host
    assert "IPAPPEND 2" in host
    assert "rd.live.check" not in host
    ls = bs("-c", cat, "ls", "pxelinux.cfg").stdout.decode().split()
    assert ls == ["01-52-54-00-12-34-56", "default"]
    # with an address, the same config under pxelinux's hex-IP name
    with open(str(cat), "a") as f:
        f.write("ip = 192.0.2.91\n")
    ls = bs("-c", cat, "ls", "pxelinux.cfg").stdout.decode().split()
    assert ls == ["01-52-54-00-12-34-56", "C000025B", "default"]
    assert bs("-c", cat, "cat", "pxelinux.cfg/C000025B").stdout.decode() \
        == host


def test_missing_iso_is_reported_not_fatal(bs, kit, tmp_path):
    _, isos, _ = kit
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"good": isos["fedora"][0],
                             "gone": str(tmp_path / "nope.iso")})
    p = bs("-c", cat, "check", check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "entry 'gone'" in err and "No such file or directory" in err
    # the good entry still works
    assert bs("-c", cat, "ls", "boot").stdout.decode().split() == ["good"]


@pytest.mark.parametrize("kind,words", [
    ("truncated", "truncated"),
    ("zero-length", "too small"),
    ("random", "not an ISO 9660 image"),
    ("directory-loop", "directory loop"),
    ("absurd-extent", "beyond the end of the image"),
])
def test_malformed_iso(bs, bs_asan, kit, tmp_path, kind, words):
    _, isos, bad = kit
    for run in (lambda *a: bs(*a, check=False), bs_asan):
        p = run("inspect", bad[kind])
        assert p.returncode == 1
        assert words in p.stderr.decode()
    # as a catalog entry: reported, the rest of the tree still served
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"bad": bad[kind], "good": isos["generic"][0]})
    for run in (lambda *a: bs(*a, check=False), bs_asan):
        p = run("-c", cat, "check")
        assert p.returncode == 1 and words in p.stderr.decode()
    assert bs("-c", cat, "ls", "boot").stdout.decode().split() == ["good"]


@pytest.mark.parametrize("text,words", [
    ("[iso a]\npath = /x\nlable = A\n", "did you mean 'label'"),
    ("[iso a]\npath = /x\n[iso a]\npath = /y\n", "duplicate"),
    ("[host 52:54:00:zz:34:56]\nboot = a\n", "MAC"),
    ("[iso a]\npath = /x\n[host 52:54:00:12:34:56]\nboot = b\n", "'b'"),
    ("[iso a\npath = /x\n", ":1:"),
    ("[iso a]\npath = /x\naoe = 0.1\naoe_mask = 52:54:00:12:34:56,nope\n",
     "'nope' is not a MAC address"),
    ("[iso a]\npath = /x\n[host 52:54:00:12:34:56]\nboot = a\n"
     "ip = 10.0.0.300\n", "not an IPv4 address"),
])
def test_bad_catalog(bs, bs_asan, tmp_path, text, words):
    cat = tmp_path / "c.conf"
    cat.write_text(text)
    for run in (lambda *a: bs(*a, check=False), bs_asan):
        p = run("-c", cat, "check")
        assert p.returncode == 1
        err = p.stderr.decode()
        assert str(cat) + ":" in err and words in err


def test_edits_are_validated_and_keep_comments(bs, kit, tmp_path):
    _, isos, _ = kit
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"fed": isos["fedora"][0]})
    before = cat.read_text()
    bs("-c", cat, "add", "ubu", isos["ubuntu"][0], "label=Ubuntu")
    after = cat.read_text()
    assert after.startswith(before)
    assert "[iso ubu]" in after and "label = Ubuntu" in after
    bs("-c", cat, "host", "52-54-00-AA-BB-CC", "ubu")
    assert "[host 52:54:00:aa:bb:cc]" in cat.read_text()
    # a host pointing at a missing entry is refused, file unchanged
    snap = cat.read_text()
    p = bs("-c", cat, "host", "52:54:00:aa:bb:cd", "nosuch", check=False)
    assert p.returncode == 1 and cat.read_text() == snap
    # an unreadable ISO is refused
    p = bs("-c", cat, "add", "junk", str(tmp_path / "nope.iso"), check=False)
    assert p.returncode == 1 and cat.read_text() == snap
    bs("-c", cat, "host", "rm", "52:54:00:aa:bb:cc")
    bs("-c", cat, "rm", "ubu")
    assert cat.read_text().rstrip("\n") == before.rstrip("\n")
    out = bs("-c", cat, "list").stdout.decode()
    assert "fed" in out and "ubu" not in out


def test_loader_configs_agree(bs, kit, tmp_path):
    """pxelinux, GRUB and iPXE give a host the same entry and arguments;
    KIWI configs for image entries; the per-host view."""
    d, isos, _ = kit
    src = isos["fedora"][1]
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"fed": isos["fedora"][0]},
                  "[image kiwi]\nkernel = %s/images/pxeboot/vmlinuz\n"
                  "initrd = %s/images/pxeboot/initrd.img\n"
                  "image = %s/LiveOS/squashfs.img\n"
                  "UNIONFS_CONFIG = tmpfs,aoe,overlay\n\n"
                  "[host 52:54:00:12:34:56]\nboot = fed\n"
                  "append = rd.live.ram=1\n\n"
                  "[host 52:54:00:00:00:07]\nboot = kiwi\n"
                  % (src, src, src))
    args = "root=live:/fed.iso rd.live.image quiet rd.live.ram=1"
    grub = bs("-c", cat, "cat",
              "grub/grub.cfg-01-52-54-00-12-34-56").stdout.decode()
    assert "linux /boot/fed/linux %s BOOTIF=01-52-54-00-12-34-56" % args \
        in grub
    assert "initrd /boot/fed/initrd+iso" in grub
    ipxe = bs("-c", cat, "cat",
              "ipxe/52-54-00-12-34-56.ipxe").stdout.decode()
    assert ipxe.startswith("#!ipxe\n")
    assert "kernel http://10.0.0.1/boot/fed/linux initrd=initrd %s" % args \
        in ipxe
    assert "initrd --name initrd http://10.0.0.1/boot/fed/initrd+iso" in ipxe
    menu = bs("-c", cat, "cat", "boot.ipxe").stdout.decode()
    assert "chain ipxe/${mac:hexhyp}.ipxe || goto menu" in menu
    gmenu = bs("-c", cat, "cat", "grub/grub.cfg").stdout.decode()
    assert '$net_default_mac' in gmenu and "configfile" in gmenu
    kiwi = bs("-c", cat, "cat",
              "KIWI/config.52.54.00.00.00.07").stdout.decode()
    assert 'IMAGE="/dev/ram1;kiwi;1;10.0.0.1;4096"' in kiwi
    assert 'UNIONFS_CONFIG="tmpfs,aoe,overlay"' in kiwi
    assert bs("-c", cat, "cat", "KIWI/config.default").stdout.decode() \
        .count("IMAGE=") == 1
    img = bs("-c", cat, "cat", "image/kiwi").stdout
    assert img == open(src + "/LiveOS/squashfs.img", "rb").read()
    view = bs("-c", cat, "ls", ".bootshelf/hosts/52-54-00-12-34-56") \
        .stdout.decode().split()
    assert view == ["boot.ipxe", "grub.cfg", "kiwi.config", "pxelinux.cfg"]
    assert bs("-c", cat, "cat", ".bootshelf/hosts/52-54-00-12-34-56/"
              "grub.cfg").stdout.decode() == grub


def test_update_replaces_by_rename(bs, kit, tmp_path):
    _, isos, bad = kit
    import shutil
    live = tmp_path / "live.iso"
    shutil.copyfile(isos["fedora"][0], str(live))
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"x": str(live)})
    held = open(str(live), "rb")		# a reader of the old version
    old = held.read()
    ino = os.stat(str(live)).st_ino
    # a broken image is refused and nothing changes
    p = bs("-c", cat, "update", "x", bad["truncated"], check=False)
    assert p.returncode == 1 and "truncated" in p.stderr.decode()
    assert os.stat(str(live)).st_ino == ino
    bs("-c", cat, "update", "x", isos["ubuntu"][0])
    assert os.stat(str(live)).st_ino != ino
    assert open(str(live), "rb").read() == open(isos["ubuntu"][0],
                                                "rb").read()
    held.seek(0)
    assert held.read() == old
    held.close()
    out = bs("-c", cat, "list").stdout.decode()
    assert "casper" in out
    assert not [f for f in os.listdir(str(tmp_path)) if "bootshelf-" in f]


def test_sha256_integrity(bs, kit, tmp_path):
    """A wrong sha256 withdraws the entry with a clear error; the right
    one keeps it."""
    import hashlib
    _, isos, _ = kit
    iso = isos["generic"][0]
    good = hashlib.sha256(open(iso, "rb").read()).hexdigest()
    cat = tmp_path / "c.conf"
    cat.write_text("[iso ok]\npath = %s\nsha256 = %s\n\n"
                   "[iso bad]\npath = %s\nsha256 = %s\n"
                   % (iso, good, iso, "0" * 64))
    p = bs("-c", cat, "check", check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "entry 'bad'" in err and "sha256 mismatch" in err and good in err
    assert bs("-c", cat, "ls", "boot").stdout.decode().split() == ["ok"]


def test_image_md5(bs, kit, tmp_path):
    import hashlib
    _, isos, _ = kit
    src = isos["fedora"][1]
    img = src + "/LiveOS/squashfs.img"
    cat = tmp_path / "c.conf"
    cat.write_text("[image k]\nkernel = %s/images/pxeboot/vmlinuz\n"
                   "initrd = %s/images/pxeboot/initrd.img\nimage = %s\n"
                   % (src, src, img))
    data = open(img, "rb").read()
    line = bs("-c", cat, "cat", "image/k.md5").stdout.decode()
    assert line == "%s %d 4096\n" % (hashlib.md5(data).hexdigest(),
                                     (len(data) + 4095) // 4096)


def test_initrd_decides_auto_mode(bs, kit, tmp_path, monkeypatch):
    """A live-boot ISO whose initrd has no iso9660 driver (a module list
    without isofs) can neither loop-mount an appended ISO nor a fetched
    one: auto passes over cpio and http and picks the NFS root, and
    inspect says why."""
    mods = [m for m in isokit.MODULES if "isofs" not in m]
    monkeypatch.setitem(isokit.INITRD_FILES, "debian-live",
                        ["lib/live/boot/9990-main.sh", "scripts/live",
                         "scripts/functions", "usr/bin/nfsmount",
                         "lib/modules/6.1.0-18-amd64/modules.builtin",
                         "lib/modules/6.1.0-18-amd64/kernel/fs/nfs/"
                         "nfs.ko.xz"] + mods)
    iso, _ = isokit.make_family(str(tmp_path), "debian-live")
    cat = tmp_path / "c.conf"
    write_catalog(str(cat), {"f": iso})
    text = cat.read_text().replace(
        "[server]\n", "[server]\nnfs = 10.0.0.1:/srv/tftpboot\n")
    cat.write_text(text)
    out = bs("-c", cat, "inspect", iso).stdout.decode()
    assert "live-boot" in out and "no isofs module" in out
    menu = bs("-c", cat, "cat", "pxelinux.cfg/default").stdout.decode()
    assert "auto -> nfs" in menu
    assert "nfsroot=10.0.0.1:/srv/tftpboot/boot/f/iso" in menu
    status = bs("-c", cat, "cat", ".bootshelf/status").stdout.decode()
    assert "initrd: gzip" in status
