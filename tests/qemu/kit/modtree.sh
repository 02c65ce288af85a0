#!/bin/sh
# modtree.sh KVER DEST MODULE...
# Copies the named kernel modules of kernel KVER and everything they
# depend on (modprobe --show-depends) into DEST/lib/modules/KVER and runs
# depmod there.  The initramfs builders take their modules from this small
# tree instead of all of /lib/modules/KVER, so a generic initramfs holds
# the few drivers a QEMU guest needs (a few MB) instead of every driver of
# the distribution kernel (~130 MB unpacked).
set -eu
[ $# -ge 3 ] || { echo "usage: $0 KVER DEST MODULE..." >&2; exit 2; }
KVER=$1 DEST=$2
shift 2
SRC=/lib/modules/$KVER
OUT=$DEST/lib/modules/$KVER
mkdir -p "$OUT"
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -e "$SRC/$f" ] && cp "$SRC/$f" "$OUT/"
done
for m in "$@"; do
	modprobe -S "$KVER" --show-depends "$m" 2>/dev/null || true
done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r ko; do
	rel=${ko#"$SRC"/}
	mkdir -p "$OUT/$(dirname "$rel")"
	cp "$ko" "$OUT/$rel"
done
depmod -b "$DEST" "$KVER"
