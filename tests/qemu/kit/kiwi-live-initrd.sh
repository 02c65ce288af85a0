#!/bin/sh
# kiwi-live-initrd.sh KVER DEB OUT
# A dracut initramfs for kernel KVER with KIWI's own live-boot module
# (90kiwi-live, from Debian's kiwi-dracut-live package file DEB), the
# legacy network provider and the AoE driver: what a KIWI live ISO
# carries, booting root=live:AOEINTERFACE=eS.L (and root=live:CDLABEL=).
# The package is unpacked, not installed: it depends on the dracut
# metapackage, which would replace initramfs-tools.  dracut runs from a
# private copy of its module tree with the KIWI module added
# (dracutbasedir); kernel modules come from modtree.sh as for the other
# dracut image.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 KVER DEB OUT" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
dpkg-deb -x "$2" "$T/deb"
cp -a /usr/lib/dracut "$T/dracut"
cp -a "$T/deb/usr/lib/dracut/modules.d/90kiwi-live" "$T/dracut/modules.d/"
"$HERE/modtree.sh" "$1" "$T/mods" e1000 af_packet aoe loop isofs squashfs \
	overlay ext4 dm_mod cdrom nls_utf8 crc32c_generic libcrc32c
dracutbasedir="$T/dracut" dracut --no-hostonly --force --quiet --kver "$1" \
	--kmoddir "$T/mods/lib/modules/$1" \
	--add "kiwi-live network-legacy" \
	--omit "plymouth systemd-networkd i18n" \
	--add-drivers "aoe isofs loop squashfs overlay ext4 e1000" \
	--compress "zstd -10 -T0 -q" \
	"$3"
