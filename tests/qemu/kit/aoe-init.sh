#!/bin/sh
# /init of the AoE client test initramfs (busybox).  Loads the Debian
# kernel's aoe driver, brings the NIC up, waits for the target named by
# bs.aoe=eS.L on the kernel command line (asking for discovery every half
# second), mounts /dev/etherd/eS.L read-only as iso9660 and prints the
# sha256 of the file named by bs.aoe.file=PATH inside it:
#   BOOTSHELF-AOE-OK eS.L sha256=<sum> size=<bytes> sectors=<n>
# or BOOTSHELF-AOE-FAIL <why>, then powers off.  Nothing else: no DHCP,
# no IP address (AoE is plain Ethernet).
/bin/busybox mkdir -p /proc /sys /dev /mnt /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk
fail() { echo "BOOTSHELF-AOE-FAIL $*"; sync; poweroff -f; }
AOE="" FILE=""
for w in $(cat /proc/cmdline); do
	case "$w" in
	bs.aoe=*) AOE=${w#bs.aoe=} ;;
	bs.aoe.file=*) FILE=${w#bs.aoe.file=} ;;
	esac
done
[ -n "$AOE" ] && [ -n "$FILE" ] || fail "no bs.aoe= or bs.aoe.file="
echo "BOOTSHELF-AOE-START $AOE"
# modules in dependency order (written by aoe-initrd.sh)
while read -r ko; do
	insmod "/lib/mods/$ko" || fail "insmod $ko"
done < /lib/mods/order
for i in $(seq 1 20); do
	ip link show eth0 >/dev/null 2>&1 && break
	sleep 0.5
done
ip link set eth0 up || fail "no eth0"
dev=/dev/etherd/$AOE
for i in $(seq 1 60); do
	[ -b "$dev" ] && break
	[ -w /dev/etherd/discover ] && echo > /dev/etherd/discover
	sleep 0.5
done
[ -b "$dev" ] || fail "no $dev after 30 s"
sectors=$(cat "/sys/block/etherd!$AOE/size" 2>/dev/null)
mount -t iso9660 -o ro "$dev" /mnt || fail "mount $dev"
[ -f "/mnt/$FILE" ] || fail "no $FILE in $dev"
sum=$(sha256sum "/mnt/$FILE" | cut -d' ' -f1)
size=$(wc -c < "/mnt/$FILE")
umount /mnt
echo "BOOTSHELF-AOE-OK $AOE sha256=$sum size=$size sectors=$sectors"
sync
poweroff -f
