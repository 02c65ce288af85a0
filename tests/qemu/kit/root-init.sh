#!/bin/sh
# /sbin/init of the test live root filesystem (busybox).  Reached only
# when a boot got all the way through the live initramfs into the root
# taken from the ISO (or the network).  Prints one marker line on the
# serial console and powers off; nothing else.
#   BOOTSHELF-ROOT-OK <flavour> <token> cmdline=<...>
# <flavour> and <token> come from /etc/bootshelf-kit, written when the
# kit was built, so a test can tell which root really came up.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk 2>/dev/null
. /etc/bootshelf-kit
line="BOOTSHELF-ROOT-OK $FLAVOUR $TOKEN cmdline=$(cat /proc/cmdline)"
for c in /dev/ttyS0 /dev/console; do
	[ -c "$c" ] && echo "$line" > "$c" 2>/dev/null && break
done
echo "$line"
sync
poweroff -f
