# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The guest kernel of tests/vm, shared by run.sh and boot-root.sh (both
# source this file): Debian 12's cloud kernel package, downloaded once into
# a cache and unpacked there, and the modules an initramfs needs from it.
#
# The caller defines say and die, then calls kernel_fetch. Environment:
#   HDRLOG_VM_KVER    kernel ABI name (default: $KVER_PINNED below)
#   HDRLOG_VM_CACHE   cache for the kernel package (default /var/cache/hdrlog-vm)
# kernel_fetch sets KVER, CACHE, KTREE (the unpacked package), VMLINUZ,
# KCONFIG and MODDIR (its lib/modules/$KVER).

# The kernel package: linux-image-$KVER from Debian 12 (bookworm). Bump it
# when the mirror drops it; if it is gone and HDRLOG_VM_KVER is not set,
# kernel_fetch falls back to the newest 6.1 cloud kernel the mirror has.
KVER_PINNED=6.1.0-56-cloud-amd64

kernel_apt_updated=
kernel_fetch_one() {    # $1 = ABI name; leaves $CACHE/$1/tree
	local dir="$CACHE/$1" pkg="linux-image-$1"
	[ -f "$dir/tree/.complete" ] && return 0
	say "fetching $pkg into $dir"
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" || return 1
	# -o APT::Sandbox::User=root: _apt may not be able to write there.
	if ! (cd "$dir.tmp" && apt-get download -q -o APT::Sandbox::User=root \
		"$pkg" >/dev/null); then
		if [ -z "$kernel_apt_updated" ] && [ "$(id -u)" = 0 ]; then
			kernel_apt_updated=1
			say "apt-get download failed; running apt-get update once"
			apt-get update -q >/dev/null || true
			(cd "$dir.tmp" && apt-get download -q \
				-o APT::Sandbox::User=root "$pkg" >/dev/null) ||
				{ rm -rf "$dir.tmp"; return 1; }
		else
			rm -rf "$dir.tmp"; return 1
		fi
	fi
	dpkg-deb -x "$dir.tmp"/"$pkg"_*.deb "$dir.tmp/tree" ||
		{ rm -rf "$dir.tmp"; return 1; }
	touch "$dir.tmp/tree/.complete"
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

kernel_fetch() {
	local newest
	KVER=${HDRLOG_VM_KVER:-$KVER_PINNED}
	CACHE=${HDRLOG_VM_CACHE:-/var/cache/hdrlog-vm}
	if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
		CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hdrlog-vm
		mkdir -p "$CACHE" || die "cannot create a cache directory"
	fi
	# One fetch at a time (fd 9 stays open only while fetching).
	exec 9>"$CACHE/.lock"
	flock 9 || die "cannot lock $CACHE"
	if ! kernel_fetch_one "$KVER"; then
		[ -z "${HDRLOG_VM_KVER:-}" ] || die "cannot fetch linux-image-$KVER"
		newest=$(apt-cache search --names-only \
			'^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' |
			sed -n 's/^linux-image-\(6\.1\.0-[0-9]*-cloud-amd64\) .*/\1/p' |
			sort -V | tail -1)
		[ -n "$newest" ] && [ "$newest" != "$KVER" ] ||
			die "cannot fetch linux-image-$KVER and no other 6.1 cloud kernel found"
		say "warning: linux-image-$KVER is gone from the mirror; using $newest" \
			"(update KVER_PINNED in tests/vm/kernel.sh)"
		KVER=$newest
		kernel_fetch_one "$KVER" || die "cannot fetch linux-image-$KVER"
	fi
	flock -u 9
	exec 9>&-
	KTREE=$CACHE/$KVER/tree
	VMLINUZ=$KTREE/boot/vmlinuz-$KVER
	# shellcheck disable=SC2034 # (for the caller)
	KCONFIG=$KTREE/boot/config-$KVER
	MODDIR=$KTREE/lib/modules/$KVER
	[ -r "$VMLINUZ" ] || die "no $VMLINUZ in the package"
}

# add_module DIR NAME: NAME.ko (dashes or underscores) and whatever it
# depends on ("depends=" in its .modinfo: the package carries no
# modules.dep), decompressed into DIR, dependencies first; DIR/order lists
# them in load order. Built-in modules are left out.
kernel_find_module() {
	find "$MODDIR/kernel" -name "$1.ko" -o -name "$1.ko.xz" \
		-o -name "$1.ko.zst" -o -name "$1.ko.gz" | head -1
}
add_module() {
	local dest=$1 m=${2//-/_} src deps d
	touch "$dest/order" || return 1
	grep -qx "$m" "$dest/order" && return 0
	if grep -q "/${m//_/[-_]}\.ko$" "$MODDIR/modules.builtin" 2>/dev/null; then
		return 0
	fi
	src=$(kernel_find_module "$m")
	[ -z "$src" ] && src=$(kernel_find_module "${m//_/-}")
	[ -n "$src" ] || { echo "module $m not found in $MODDIR" >&2; return 1; }
	case $src in
	*.xz)  xz -dc "$src" ;;
	*.zst) zstd -dc "$src" ;;
	*.gz)  gzip -dc "$src" ;;
	*)     cat "$src" ;;
	esac >"$dest/$m.ko" || return 1
	deps=$(tr '\0' '\n' <"$dest/$m.ko" | sed -n 's/^depends=//p' |
		head -1 | tr ',' ' ')
	for d in $deps; do add_module "$dest" "$d" || return 1; done
	echo "$m" >>"$dest/order"
}
