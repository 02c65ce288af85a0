#!/bin/sh
# dracut-initrd.sh KVER OUT
# A generic (not host-only) dracut initramfs for kernel KVER with the live
# modules a Fedora-style live ISO carries: dmsquash-live (ISO in the
# initramfs, root=live:/NAME.iso), livenet (root=live:http://...) and the
# legacy network provider livenet needs (with systemd-networkd the link
# comes up but livenet never fetches).  Debian's dracut-core, dracut-live
# and dracut-network are used, not the dracut metapackage (which would
# replace initramfs-tools).  Kernel modules come from a small tree of the
# drivers a QEMU guest needs (modtree.sh), zstd-compressed, so the image
# is small; still slow to build (~1 min): the caller caches the result.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 KVER OUT" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
MODS=$(mktemp -d)
trap 'rm -rf "$MODS"' EXIT
"$HERE/modtree.sh" "$1" "$MODS" e1000 virtio_net virtio_pci af_packet \
	loop isofs squashfs overlay ext4 dm_mod dm_snapshot sr_mod cdrom \
	nls_utf8 crc32c_generic libcrc32c
dracut --no-hostonly --force --quiet --kver "$1" \
	--kmoddir "$MODS/lib/modules/$1" \
	--add "dmsquash-live livenet network-legacy" \
	--omit "plymouth systemd-networkd i18n" \
	--add-drivers "isofs loop squashfs overlay ext4 e1000 virtio_net sr_mod cdrom" \
	--compress "zstd -10 -T0 -q" \
	"$2"
