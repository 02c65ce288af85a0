#!/bin/sh
# debian-live-iso.sh KERNEL INITRD ROOTDIR LABEL OUT
# A Debian live-build style ISO: live/filesystem.squashfs (ROOTDIR packed
# directly), live/vmlinuz and live/initrd.img (a live-boot initramfs), and
# an isolinux El Torito boot with "boot=live components".
set -eu
[ $# -eq 5 ] || { echo "usage: $0 KERNEL INITRD ROOTDIR LABEL OUT" >&2; exit 2; }
KERNEL=$1 INITRD=$2 ROOTDIR=$3 LABEL=$4 OUT=$5
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/iso/live" "$T/iso/isolinux"
mksquashfs "$ROOTDIR" "$T/iso/live/filesystem.squashfs" -quiet -no-progress \
	-noappend -comp xz >/dev/null
cp "$KERNEL" "$T/iso/live/vmlinuz"
cp "$INITRD" "$T/iso/live/initrd.img"
chmod 644 "$T/iso/live/"*
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 \
	"$T/iso/isolinux/"
cat > "$T/iso/isolinux/isolinux.cfg" <<CFG
default live
timeout 10
label live
  menu label Debian live (bootshelf test)
  kernel /live/vmlinuz
  append initrd=/live/initrd.img boot=live components
CFG
xorriso -as mkisofs -quiet -o "$OUT" -V "$LABEL" -R -J \
	-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
	-boot-load-size 4 -boot-info-table "$T/iso" 2>/dev/null
