#!/bin/sh
# kiwi-live-iso.sh KERNEL INITRD ROOTDIR LABEL OUT
# A KIWI-style live ISO: the kernel and initramfs in boot/x86_64/loader/
# (linux, initrd: where KIWI puts them and how bootshelf tells a KIWI ISO)
# and LiveOS/squashfs.img holding LiveOS/rootfs.img (ext4 made from
# ROOTDIR), the layout KIWI's live module mounts.
set -eu
[ $# -eq 5 ] || { echo "usage: $0 KERNEL INITRD ROOTDIR LABEL OUT" >&2; exit 2; }
KERNEL=$1 INITRD=$2 ROOTDIR=$3 LABEL=$4 OUT=$5
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/sq/LiveOS" "$T/iso/LiveOS" "$T/iso/boot/x86_64/loader"
mkfs.ext4 -q -F -L bootshelf-root -d "$ROOTDIR" "$T/sq/LiveOS/rootfs.img" 24M
mksquashfs "$T/sq" "$T/iso/LiveOS/squashfs.img" -quiet -no-progress \
	-noappend -comp xz >/dev/null
cp "$KERNEL" "$T/iso/boot/x86_64/loader/linux"
cp "$INITRD" "$T/iso/boot/x86_64/loader/initrd"
chmod 644 "$T/iso/boot/x86_64/loader/"*
xorriso -as mkisofs -quiet -o "$OUT" -V "$LABEL" -R -J "$T/iso" 2>/dev/null
