#!/bin/sh
# rootfs.sh DIR FLAVOUR TOKEN
# Makes a tiny live root filesystem tree in DIR: busybox-static with its
# applet links, /sbin/init (root-init.sh) and /etc/os-release (dracut's
# switch-root refuses a root without it).  Packing the tree into a squashfs
# or an ext4 image is left to the ISO builders.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DIR FLAVOUR TOKEN" >&2; exit 2; }
R=$1
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/proc" \
	"$R/sys" "$R/dev" "$R/run" "$R/tmp" "$R/root" "$R/mnt"
cp /bin/busybox "$R/bin/busybox"
for a in $("$R/bin/busybox" --list-full); do
	case "$a" in */init) continue ;; esac
	[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
install -m 755 "$HERE/root-init.sh" "$R/sbin/init"
cat > "$R/etc/os-release" <<OS
NAME="bootshelf test root"
ID=bootshelf-test
PRETTY_NAME="bootshelf test root ($2)"
OS
printf 'FLAVOUR=%s\nTOKEN=%s\n' "$2" "$3" > "$R/etc/bootshelf-kit"
: > "$R/etc/fstab"
