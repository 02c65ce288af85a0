#!/bin/sh
# live-initrd.sh KVER OUT
# A Debian live-boot initramfs (initramfs-tools' mkinitramfs with the
# live-boot hooks from live-boot-initramfs-tools) for kernel KVER.  A
# private configuration directory keeps the host's /etc/initramfs-tools
# out of it and lists the few modules a netbooted live guest needs, so the
# image stays small.  initramfs-tools and dracut-core are installed side
# by side: only the dracut metapackage conflicts with initramfs-tools.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 KVER OUT" >&2; exit 2; }
CONF=$(mktemp -d)
trap 'rm -rf "$CONF"' EXIT
mkdir -p "$CONF/conf.d" "$CONF/hooks" "$CONF/scripts"
cat > "$CONF/initramfs.conf" <<CONF
MODULES=list
BUSYBOX=y
COMPRESS=zstd
DEVICE=
NFSROOT=auto
RUNSIZE=10%
FSTYPE=auto
CONF
cat > "$CONF/modules" <<MODS
e1000
virtio_net
virtio_pci
af_packet
loop
isofs
squashfs
overlay
ext4
nfs
nfsv3
sunrpc
lockd
MODS
# live-boot's hook adds every network driver and the GPU drivers come
# along: drop all but the guest's NIC drivers (hooks in CONF run after
# the packaged ones, depmod after all hooks).
cat > "$CONF/hooks/zz-bootshelf-prune" <<'HOOK'
#!/bin/sh
[ "$1" = prereqs ] && exit 0
for k in "$DESTDIR"/lib/modules/*/kernel "$DESTDIR"/usr/lib/modules/*/kernel; do
	[ -d "$k" ] || continue
	rm -rf "$k/drivers/gpu"
	find "$k/drivers/net" -name '*.ko' ! -name e1000.ko \
		! -name virtio_net.ko ! -name net_failover.ko -delete
done
exit 0
HOOK
chmod 755 "$CONF/hooks/zz-bootshelf-prune"
mkinitramfs -d "$CONF" -o "$2" "$1"
