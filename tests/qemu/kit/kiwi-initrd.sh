#!/bin/sh
# kiwi-initrd.sh KVER OUT
# The busybox initramfs (gzip'd newc) of the KIWI netboot test: /init is
# kiwi-init.sh, plus busybox-static and the e1000 driver of kernel KVER.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 KVER OUT" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R/bin" "$R/lib" "$R/dev" "$R/proc" "$R/sys" "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
install -m 755 "$HERE/kiwi-init.sh" "$R/init"
# udhcpc hook: keep the lease's variables for /init
cat > "$R/bin/dhcp-env" <<'SH'
#!/bin/sh
[ "$1" = bound ] || exit 0
printf 'ip=%s\nmask=%s\nsiaddr=%s\nserverid=%s\n' \
	"$ip" "$mask" "$siaddr" "$serverid" > /tmp/lease
SH
chmod 755 "$R/bin/dhcp-env"
cp "$(modinfo -k "$1" -F filename e1000)" "$R/lib/e1000.ko"
(cd "$R" && find . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 > "$2"
