#!/bin/sh
# make demo: build a demo ISO and catalog, show what bootshelf makes of
# them, and (when the daemons are built) serve the tree and fetch from it.
set -eu
B=${1:?usage: demo.sh BUILDDIR}
BS="$B/bootshelf"
work=$(mktemp -d /tmp/bootshelf-demo.XXXXXX)
cleanup() {
	[ -n "${fspid:-}" ] && kill "$fspid" 2>/dev/null || true
	mountpoint -q "$work/tftpboot" 2>/dev/null &&
		fusermount3 -u "$work/tftpboot" 2>/dev/null || true
	[ -n "${tftppid:-}" ] && kill "$tftppid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "A Fedora-style live ISO (LiveOS/squashfs.img, images/pxeboot/)"
mkdir -p "$work/src/LiveOS" "$work/src/images/pxeboot" "$work/src/isolinux"
head -c 4000000 /dev/urandom > "$work/src/images/pxeboot/vmlinuz"
head -c 3000001 /dev/urandom > "$work/src/images/pxeboot/initrd.img"
head -c 20000000 /dev/urandom > "$work/src/LiveOS/squashfs.img"
cat > "$work/src/isolinux/isolinux.cfg" <<CFG
default vesamenu.c32
label linux
  menu label ^Start Demo Live
  kernel /images/pxeboot/vmlinuz
  append initrd=/images/pxeboot/initrd.img root=live:CDLABEL=Demo-Live rd.live.image quiet
  menu default
CFG
xorriso -as mkisofs -quiet -R -J -V Demo-Live -o "$work/demo-live.iso" \
	"$work/src" 2>/dev/null
ls -l "$work/demo-live.iso"

step "bootshelf inspect demo-live.iso"
"$BS" inspect "$work/demo-live.iso"

step "A catalog: one entry, one host (made with the CLI)"
cat > "$work/bootshelf.conf" <<CAT
# bootshelf demo catalog
[server]
address = 127.0.0.1
http = http://127.0.0.1/
CAT
"$BS" -c "$work/bootshelf.conf" add demo "$work/demo-live.iso" \
	label="Demo Live"
"$BS" -c "$work/bootshelf.conf" host 52:54:00:12:34:56 demo \
	append=rd.live.ram=1
cat "$work/bootshelf.conf"
"$BS" -c "$work/bootshelf.conf" check

step "The synthesized tree (nothing copied)"
"$BS" -c "$work/bootshelf.conf" ls -l boot/demo
"$BS" -c "$work/bootshelf.conf" cat pxelinux.cfg/01-52-54-00-12-34-56

step "boot/demo/iso.cpio is a newc archive holding the ISO"
"$BS" -c "$work/bootshelf.conf" cat boot/demo/iso.cpio | cpio -t 2>&1
mkdir "$work/x"
(cd "$work/x" && "$BS" -c "$work/bootshelf.conf" cat boot/demo/iso.cpio |
	cpio -id --quiet)
cmp "$work/x/demo.iso" "$work/demo-live.iso" &&
	echo "extracted demo.iso is byte-identical to the ISO"

if [ -x "$B/bootshelf-fs" ]; then
	step "bootshelf-fs: the tree mounted over a TFTP root"
	mkdir "$work/tftpboot"
	echo "an underlay file, e.g. pxelinux.0" > "$work/tftpboot/underlay.txt"
	"$B/bootshelf-fs" -f "$work/bootshelf.conf" "$work/tftpboot" \
		2>"$work/fs.log" &
	fspid=$!
	i=0
	until mountpoint -q "$work/tftpboot"; do
		i=$((i + 1))
		[ $i -gt 100 ] && { cat "$work/fs.log"; exit 1; }
		sleep 0.1
	done
	ls -l "$work/tftpboot" "$work/tftpboot/boot/demo"
	if [ -x "$B/bootshelf-tftpd" ] && command -v curl >/dev/null; then
		step "bootshelf-tftpd serving the mount; curl fetches over TFTP"
		port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		"$B/bootshelf-tftpd" -L -s "$work/tftpboot" -a "127.0.0.1:$port" \
			2>"$work/tftpd.log" &
		tftppid=$!
		sleep 0.5
		curl -s --tftp-blksize 1468 -o "$work/got" \
			"tftp://127.0.0.1:$port/boot/demo/initrd+iso"
		"$BS" -c "$work/bootshelf.conf" cat boot/demo/initrd+iso |
			cmp - "$work/got" &&
			echo "fetched boot/demo/initrd+iso over TFTP: $(stat -c %s "$work/got") bytes, identical"
		cat "$work/tftpd.log"
	fi
fi
if [ -x "$B/bootshelf-fs" ] && command -v qemu-system-x86_64 >/dev/null &&
	[ "${BOOTSHELF_DEMO_BOOT:-1}" != 0 ]; then
	step "A QEMU guest PXE-boots a live ISO from a bootshelf-fs mount"
	/usr/bin/python3 "$(dirname "$0")/demo_boot.py" "$B"
fi
step "Done"
