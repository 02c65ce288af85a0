#!/bin/sh
# Install every build and test dependency of bootshelf with apt-get.
# Idempotent: when every package listed in scripts/packages/*.list is
# already installed it only checks and returns.  Servers are installed
# without being started (a policy-rc.d that exits 101 is put in place for
# the duration of the install), because the tests start their own.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(cat "$here"/packages/*.list | sed 's/#.*//' | tr -s ' \t' '\n\n' | grep -v '^$' | sort -u)
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed'; then
		missing="$missing $p"
	fi
done
# Package files the QEMU tests unpack but must not install (installing
# kiwi-dracut-live would replace initramfs-tools), listed in
# scripts/packages/*.fetch and kept in $debs.
debs=${BS_DEB_CACHE:-/var/cache/bootshelf/debs}
fetch() {
	for p in $(cat "$here"/packages/*.fetch 2>/dev/null |
		   sed 's/#.*//' | tr -s ' \t' '\n\n' | grep -v '^$'); do
		ls "$debs/${p}"_*.deb >/dev/null 2>&1 && continue
		mkdir -p "$debs"
		chown _apt "$debs" 2>/dev/null || true	# apt's download user
		echo "deps: fetching $p into $debs"
		(cd "$debs" && apt-get download -q "$p")
	done
}
if [ -z "$missing" ]; then
	echo "deps: all $(echo "$pkgs" | wc -l) packages present"
	fetch
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root (or: sudo make deps)" >&2
	exit 1
fi
echo "deps: installing:$missing"
prc=/usr/sbin/policy-rc.d
made_prc=0
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$prc"
	chmod 755 "$prc"
	made_prc=1
fi
trap 'if [ "$made_prc" = 1 ]; then rm -f "$prc"; fi' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing
fetch
