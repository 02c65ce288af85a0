#!/bin/sh
# aoe-initrd.sh KVER OUT
# The busybox initramfs (gzip'd newc) of the AoE client test: /init is
# aoe-init.sh, plus busybox-static and the modules of kernel KVER it
# loads (e1000, aoe, isofs and what they depend on), flat in /lib/mods
# with their load order in /lib/mods/order.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 KVER OUT" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R/bin" "$R/lib/mods" "$R/dev" "$R/proc" "$R/sys" "$R/mnt"
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
install -m 755 "$HERE/aoe-init.sh" "$R/init"
for m in e1000 aoe isofs; do
	modprobe -S "$1" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
	cp "$ko" "$R/lib/mods/"
	basename "$ko" >> "$R/lib/mods/order"
done
(cd "$R" && find . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 > "$2"
