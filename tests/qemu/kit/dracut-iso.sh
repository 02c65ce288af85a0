#!/bin/sh
# dracut-iso.sh KERNEL INITRD ROOTDIR LABEL OUT
# A Fedora-style dracut live ISO: LiveOS/squashfs.img holding
# LiveOS/rootfs.img (ext4 made from ROOTDIR: the classic layout that
# dmsquash-live 059 boots with systemd in the initramfs), the kernel and
# initramfs in images/pxeboot/, and an isolinux El Torito boot whose append
# line carries root=live:CDLABEL=LABEL rd.live.image, as Fedora's do.
set -eu
[ $# -eq 5 ] || { echo "usage: $0 KERNEL INITRD ROOTDIR LABEL OUT" >&2; exit 2; }
KERNEL=$1 INITRD=$2 ROOTDIR=$3 LABEL=$4 OUT=$5
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/sq/LiveOS" "$T/iso/LiveOS" "$T/iso/images/pxeboot" "$T/iso/isolinux"
mkfs.ext4 -q -F -L bootshelf-root -d "$ROOTDIR" "$T/sq/LiveOS/rootfs.img" 24M
mksquashfs "$T/sq" "$T/iso/LiveOS/squashfs.img" -quiet -no-progress \
	-noappend -comp xz >/dev/null
cp "$KERNEL" "$T/iso/images/pxeboot/vmlinuz"
cp "$INITRD" "$T/iso/images/pxeboot/initrd.img"
chmod 644 "$T/iso/images/pxeboot/"*
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 \
	"$T/iso/isolinux/"
cat > "$T/iso/isolinux/isolinux.cfg" <<CFG
default linux
timeout 10
label linux
  menu label Start bootshelf test live
  kernel /images/pxeboot/vmlinuz
  append initrd=/images/pxeboot/initrd.img root=live:CDLABEL=$LABEL rd.live.image
  menu default
label check
  menu label Test this media
  kernel /images/pxeboot/vmlinuz
  append initrd=/images/pxeboot/initrd.img root=live:CDLABEL=$LABEL rd.live.image rd.live.check
CFG
xorriso -as mkisofs -quiet -o "$OUT" -V "$LABEL" -R -J \
	-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
	-boot-load-size 4 -boot-info-table "$T/iso" 2>/dev/null
