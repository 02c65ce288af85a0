#!/bin/sh
# /init of the KIWI netboot test initramfs (busybox).  Does what the
# start of KIWI's legacy netboot client does, and nothing more: DHCP,
# then over TFTP from the DHCP server KIWI/config.<MAC> (upper-case hex,
# dot separated), the image named in its IMAGE= line
# (device;name;version;server;blocksize) from image/<name>, and
# image/<name>.md5 if the server has one (checked against the image).
# Prints
#   BOOTSHELF-KIWI-OK <name> md5=<sum of the image> size=<bytes> \
#       md5file=<match|none>
# or BOOTSHELF-KIWI-FAIL <why>, then powers off.
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk
fail() { echo "BOOTSHELF-KIWI-FAIL $*"; sync; poweroff -f; }
echo "BOOTSHELF-KIWI-START"
insmod /lib/e1000.ko
for i in 1 2 3 4 5 6 7 8 9 10; do
	ip link show eth0 >/dev/null 2>&1 && break
	sleep 0.5
done
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -T 2 -s /bin/dhcp-env >/tmp/dhcp.log 2>&1 ||
	fail "no DHCP lease"
. /tmp/lease
ip addr add "$ip/${mask:-24}" dev eth0
SRV=${siaddr:-$serverid}
MAC=$(tr 'a-f:' 'A-F.' < /sys/class/net/eth0/address)
cd /tmp || fail "no /tmp"
tftp -g -r "KIWI/config.$MAC" -l config "$SRV" || fail "no KIWI/config.$MAC"
IMAGE=$(sed -n 's/^IMAGE="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' config | head -n 1)
[ -n "$IMAGE" ] || fail "no IMAGE= in KIWI/config.$MAC"
NAME=$(echo "$IMAGE" | cut -d';' -f2)
tftp -g -b 1408 -r "image/$NAME" -l image "$SRV" || fail "no image/$NAME"
got=$(md5sum image | cut -d' ' -f1)
md5file=none
if tftp -g -r "image/$NAME.md5" -l image.md5 "$SRV" 2>/dev/null; then
	want=$(cut -d' ' -f1 image.md5)
	[ "$want" = "$got" ] || fail "md5 mismatch $NAME want=$want got=$got"
	md5file=match
fi
echo "BOOTSHELF-KIWI-OK $NAME md5=$got size=$(wc -c < image) md5file=$md5file"
sync
poweroff -f
