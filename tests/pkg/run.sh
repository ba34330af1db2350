#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Debian package, from the dist tarball to a removed package: build it
# in a fresh Debian 12 root holding build-essential and the Build-Depends
# only, install it into another fresh root, check what it put where, that
# it enabled and started nothing, that hdrlog runs there, and that it is
# removed and purged cleanly. The install root is left for the VM boot
# (tests/vm/boot-root.sh). See tests/pkg/README.
#
# Environment:
#   HDRLOG_PKG_TARBALL  the dist tarball (make check-pkg makes and passes it)
#   HDRLOG_PKG_CACHE    cache directory (default /var/cache/hdrlog-pkg)
#   HDRLOG_PKG_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   HDRLOG_PKG_EXTRA_PACKAGES  more packages for the install root
#   HDRLOG_PKG_BOOT     0: do not call tests/vm/boot-root.sh
#   HDRLOG_PKG_LOG      log of the build and of apt (default tests/pkg/check-pkg.log)
# Exit status: 0 only if nothing failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TARBALL=${HDRLOG_PKG_TARBALL:-}
CACHE=${HDRLOG_PKG_CACHE:-/var/cache/hdrlog-pkg}
MIRROR=${HDRLOG_PKG_MIRROR:-http://deb.debian.org/debian}
LOG=${HDRLOG_PKG_LOG:-$here/check-pkg.log}
SUITE=bookworm

# What the install root holds besides minbase: what booting it with systemd
# as init needs, and what tests/vm/service-test.sh uses in it (ip, ping);
# ip for the checks here too. One place: add a package here, not in
# tests/vm. (logrotate comes with the package, as its Recommends.)
ROOT_PACKAGES="systemd systemd-sysv udev kmod iproute2 iputils-ping ${HDRLOG_PKG_EXTRA_PACKAGES:-}"

say() { printf '# %s\n' "$*"; }
die() { printf 'pkg: error: %s\n' "$*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
[ -n "$TARBALL" ] && [ -r "$TARBALL" ] ||
	die "no dist tarball: run 'make check-pkg', or set HDRLOG_PKG_TARBALL"
TARBALL=$(cd "$(dirname "$TARBALL")" && pwd)/$(basename "$TARBALL")

# Every mount below lives in a mount namespace of this script's own, as well
# as following the rules for chroots (a root is bound onto itself and made
# private before anything is mounted in it, and all is unmounted in reverse
# order on any exit): should the script be killed outright, the kernel
# drops the namespace and its mounts with it, and nothing reaches the host.
if [ -z "${HDRLOG_PKG_UNSHARED:-}" ]; then
	HDRLOG_PKG_UNSHARED=1 HDRLOG_PKG_TARBALL=$TARBALL \
		exec unshare --mount --propagation private -- bash "$0" "$@"
	die "unshare --mount failed"
fi

mkdir -p "$(dirname "$LOG")" && : >"$LOG" || die "cannot write $LOG"
mkdir -p "$CACHE/archives/partial" || die "cannot create $CACHE"
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE"

# --- TAP and timing ----------------------------------------------------------
n=0 passed=0 failed=0 skipped=0 timings=""
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() {   # check DESCRIPTION COMMAND...: one result from a command's status
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
t_step=$SECONDS
step() {    # step NAME: the time since the last step goes to NAME
	timings="$timings $1=$((SECONDS - t_step))s"
	say "step $1: $((SECONDS - t_step)) s"
	t_step=$SECONDS
}
finish() {
	say "timings:$timings total=${SECONDS}s"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}
# The rest of a run is pointless without this step.
must() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fail_tail; finish; fi
}
quiet() { echo "+ $*" >>"$LOG"; "$@" >>"$LOG" 2>&1; }
# From here on an error is a failed result in the tally.
die() { echo "pkg: error: $*" >&2; not_ok "$*"; finish; }
fail_tail() { say "last lines of $LOG:"; tail -25 "$LOG" | sed 's/^/#   /'; }

# --- mounts: a stack unmounted in reverse order ------------------------------
MOUNTS=()
NETNS=
mnt() {     # mnt MOUNT-ARGS... TARGET
	mount "$@" || return 1
	MOUNTS+=("${!#}")
}
umount_all() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" ||
			echo "pkg: warning: cannot unmount ${MOUNTS[i]}" >&2
	done
	MOUNTS=()
}
cleanup() {
	umount_all
	[ -z "$NETNS" ] || ip netns del "$NETNS" 2>/dev/null
	NETNS=
	[ -z "${build_root:-}" ] || rm_root "$build_root"
}
# Interrupted: one failure and the tally, which CI reads; then the EXIT
# trap unmounts and removes what the run made.
interrupted() {
	trap - INT TERM
	not_ok "interrupted by SIG$1"
	say "timings:$timings total=${SECONDS}s"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit "$2"
}
trap cleanup EXIT
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM

# root_up ROOT [SYSFS-NETNS]: mount what apt and dpkg need in ROOT. /run is
# a tmpfs of its own, never the host's: with the host's /run, systemctl in
# the root would talk to the host's systemd. sysfs is mounted from the
# network namespace given, so that it shows that namespace's interfaces.
root_up() {
	local r=$1 ns=${2:-}
	mnt --bind "$r" "$r" && mount --make-rprivate "$r" &&
		mnt -t proc proc "$r/proc" || return 1
	if [ -n "$ns" ]; then
		nsenter --net="/run/netns/$ns" mount -t sysfs sysfs "$r/sys" &&
			MOUNTS+=("$r/sys") || return 1
	else
		mnt -t sysfs sysfs "$r/sys" || return 1
	fi
	mnt --bind /dev "$r/dev" && mount --make-private "$r/dev" &&
		mnt -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$r/dev/pts" &&
		mnt -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$r/run" &&
		mnt --bind "$CACHE/archives" "$r/var/cache/apt/archives" &&
		mount --make-private "$r/var/cache/apt/archives" || return 1
	cp /etc/resolv.conf "$r/etc/resolv.conf"
}
# in_root ROOT CMD...: run CMD in ROOT, output to the log.
in_root() {
	local r=$1; shift
	echo "+ [$(basename "$r")] $*" >>"$LOG"
	LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		chroot "$r" "$@" >>"$LOG" 2>&1
}
# apt-get in ROOT; on failure (a stale list after a mirror update) update
# the lists once and try again.
apt_in() {
	local r=$1; shift
	in_root "$r" apt-get -q -y "$@" && return 0
	in_root "$r" apt-get -q update && in_root "$r" apt-get -q -y "$@"
}
# rm -rf of a root, refused while anything is mounted below it (a bound
# /dev would lose the host's device nodes).
rm_root() {
	local r=$1
	[ -e "$r" ] || return 0
	if findmnt -rn -o TARGET | grep -q -F "$r"; then
		echo "pkg: error: something is mounted under $r; not removing it" >&2
		return 1
	fi
	rm -rf --one-file-system "$r"
}
# Fresh ROOT from the base tarball; apt keeps its downloads in the cache
# and never starts a daemon (policy-rc.d), recommends off for the roots'
# own packages.
root_new() {
	local r=$1
	rm_root "$r" && mkdir -p "$r" && tar -C "$r" -xf "$BASE" || return 1
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d" &&
		chmod 755 "$r/usr/sbin/policy-rc.d" &&
		printf 'APT::Install-Recommends "false";\nAPT::Keep-Downloaded-Packages "true";\n' \
			>"$r/etc/apt/apt.conf.d/99pkg-test"
}

# --- host tools --------------------------------------------------------------
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v lintian >/dev/null || need+=(lintian)
command -v unshare >/dev/null && command -v nsenter >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]} on the host"
	apt-get update -q >>"$LOG" 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${need[@]}" >>"$LOG" 2>&1 ||
		die "apt-get install ${need[*]} failed"
fi
step host-tools

# --- the base root: Debian 12 minbase, debootstrapped once -------------------
BASE=$CACHE/$SUITE-minbase.tar
if [ ! -f "$BASE" ]; then
	say "debootstrap $SUITE minbase into $CACHE (once)"
	rm_root "$CACHE/base.tmp" || die "cannot remove $CACHE/base.tmp"
	rm -f "$BASE.tmp"
	# debootstrap's downloads are left out of the tarball; apt's lists
	# are in it.
	if debootstrap --variant=minbase "$SUITE" "$CACHE/base.tmp" "$MIRROR" \
		>>"$LOG" 2>&1 && rm -f "$CACHE"/base.tmp/var/cache/apt/archives/*.deb &&
		root_up "$CACHE/base.tmp" &&
		in_root "$CACHE/base.tmp" apt-get -q update &&
		rm -f "$CACHE/base.tmp/etc/resolv.conf"; then
		umount_all
		tar -C "$CACHE/base.tmp" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
	fi
	umount_all
	rm_root "$CACHE/base.tmp"
	rm -f "$BASE.tmp"
	must "debootstrap $SUITE minbase root, kept as $BASE" test -f "$BASE"
else
	ok "$SUITE minbase root from the cache ($BASE)"
fi
step debootstrap

# --- the source: the dist tarball as the .orig, packaging/debian as debian/ --
tarname=$(basename "$TARBALL")
upstream=${tarname#hdrlog-}
upstream=${upstream%.tar.gz}
dir=hdrlog-$upstream
changelog_version=$(tar -xzOf "$TARBALL" "$dir/packaging/debian/changelog" 2>/dev/null |
	sed -n '1s/^hdrlog (\(.*\)) .*/\1/p')
check "debian/changelog's version ($changelog_version) is AC_INIT's ($upstream) plus a revision" \
	test "${changelog_version%-*}" = "$upstream"
version=$changelog_version
arch=$(dpkg --print-architecture)
deb=hdrlog_${version}_$arch.deb

# --- (a) the build root: build-essential and the Build-Depends only ----------
build_root=$CACHE/build-root
OUT=$CACHE/out
rm -rf "$OUT" && mkdir -p "$OUT"
must "build root: a fresh copy with build-essential" \
	eval 'root_new "$build_root" && root_up "$build_root" &&
	apt_in "$build_root" install build-essential'
step build-root
mkdir -p "$build_root/build" &&
	cp "$TARBALL" "$build_root/build/hdrlog_$upstream.orig.tar.gz" &&
	tar -C "$build_root/build" -xzf "$TARBALL" &&
	cp -a "$build_root/build/$dir/packaging/debian" "$build_root/build/$dir/debian" ||
	die "cannot unpack $TARBALL in the build root"
if ! apt_in "$build_root" build-dep "./build/$dir"; then
	not_ok "apt-get build-dep installs the Build-Depends"; fail_tail; finish
fi
ok "apt-get build-dep installs the Build-Depends"
step build-deps
# dpkg-buildpackage checks the Build-Depends again (dpkg-checkbuilddeps);
# the tests are not run here (debian/rules says why).
if in_root "$build_root" env DEB_BUILD_OPTIONS=parallel="$(nproc)" \
	sh -c "cd /build/$dir && dpkg-buildpackage -us -uc -b"; then
	ok "dpkg-buildpackage -us -uc -b as root in the build root"
else
	not_ok "dpkg-buildpackage -us -uc -b as root in the build root"
	fail_tail; finish
fi
cp "$build_root"/build/*.deb "$build_root"/build/*.changes \
	"$build_root"/build/*.buildinfo "$OUT"/ || die "no build results"
umount_all
rm_root "$build_root"
build_root=
step build
say "packages: $(cd "$OUT" && echo *.deb)"

# --- the package itself ------------------------------------------------------
depends=$(dpkg-deb -f "$OUT/$deb" Depends)
say "Depends: $depends"
check "Depends names runtime libraries only (no -dev package)" \
	eval '[ -n "$depends" ] && [[ $depends != *-dev* ]]'
# lintian on the host: warnings and errors fail, info and pedantic tags
# are shown; every override sits in packaging/debian with its reason.
if command -v lintian >/dev/null; then
	lint=$(lintian --pedantic --display-info --display-experimental --fail-on error,warning \
		"$OUT"/*.changes 2>&1)
	lint_status=$?
	lint=$(grep -v '^running with root privileges' <<<"$lint")
	[ -z "$lint" ] || sed 's/^/#   lintian: /' <<<"$lint"
	check "lintian --pedantic: no error or warning" test "$lint_status" -eq 0
else
	skip "lintian" "lintian is not installed"
fi
step lintian

# --- (b) the install root: fresh, with systemd, then the package -------------
ROOT=$CACHE/root
rm -f "$CACHE/root.ready"
NETNS=hdrlog-pkg-$$
# A network namespace for everything that runs in the root once the package
# is there, with a default route through a veth of its own: had the
# package started hdrlog, it would have attached there, where the test
# sees it, and never to one of the machine's interfaces.
ip netns add "$NETNS" &&
	ip -n "$NETNS" link add hp0 type veth peer name hp1 &&
	ip -n "$NETNS" addr add 198.51.100.1/24 dev hp0 &&
	ip -n "$NETNS" link set hp0 up && ip -n "$NETNS" link set hp1 up &&
	ip -n "$NETNS" link set lo up &&
	ip -n "$NETNS" route add default via 198.51.100.2 dev hp0 ||
	die "cannot set up network namespace $NETNS"
must "install root: a fresh copy with $ROOT_PACKAGES" \
	eval 'root_new "$ROOT" && root_up "$ROOT" "$NETNS" &&
	apt_in "$ROOT" install $ROOT_PACKAGES'
cp "$OUT/$deb" "$ROOT/tmp/" || die "cannot copy $deb"
# Downloads happen here, in the host's network namespace; the install
# itself runs in the test's and needs none.
must "apt-get resolves the runtime Depends of ./$deb" \
	apt_in "$ROOT" install --download-only -o APT::Install-Recommends=true "/tmp/$deb"
step install-root

in_ns_root() {   # in_ns_root CMD...: in the root and the test's namespace
	echo "+ [root, netns] $*" >>"$LOG"
	LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		nsenter --net="/run/netns/$NETNS" chroot "$ROOT" "$@"
}
# Make deb-systemd-invoke believe systemd runs, so that a start or restart
# the package asked for reaches policy-rc.d, which notes it and refuses.
mkdir -p "$ROOT/run/systemd/system"
printf '#!/bin/sh\necho "$@" >>/run/policy-rc.d.log\nexit 101\n' \
	>"$ROOT/usr/sbin/policy-rc.d"
: >"$ROOT/run/policy-rc.d.log"
install_pkg() {
	# Everything is in apt's cache already, so this needs no network (not
	# --no-download: apt 2.6 then refuses a local .deb, "Pathname to
	# install is not absolute").
	in_ns_root apt-get install -q -y \
		-o APT::Install-Recommends=true "/tmp/$deb" >>"$LOG" 2>&1
}
must "apt-get install ./$deb (with its Recommends, as a user would)" install_pkg

# path type mode owner: what the package must have put there.
EXPECTED="
/usr/sbin/hdrlog f 755 root:root
/etc/hdrlog d 755 root:root
/etc/hdrlog/hdrlog.conf f 644 root:root
/lib/systemd/system/hdrlog.service f 644 root:root
/lib/systemd/system/hdrlog@.service f 644 root:root
/etc/logrotate.d/hdrlog f 644 root:root
/usr/share/man/man8/hdrlog.8.gz f 644 root:root
/usr/share/man/man5/hdrlog.conf.5.gz f 644 root:root
/usr/share/doc/hdrlog/copyright f 644 root:root
/usr/share/doc/hdrlog/README.Debian f 644 root:root
/var/log/hdrlog d 750 root:root
"
while read -r path type mode owner; do
	[ -n "$path" ] || continue
	got=$(stat -c '%F %a %U:%G' "$ROOT$path" 2>/dev/null) || got=missing
	case $type in f) want="regular file";; d) want=directory;; esac
	if [ "$got" = "$want $mode $owner" ]; then
		ok "$path: $want, $mode, $owner"
	else
		not_ok "$path: $want, $mode, $owner (found: $got)"
	fi
done <<<"$EXPECTED"
[ -e "$ROOT/usr/share/doc/hdrlog/README" ] || [ -e "$ROOT/usr/share/doc/hdrlog/README.gz" ]
check "the README is in /usr/share/doc/hdrlog" test $? -eq 0
conffiles=$(in_ns_root dpkg-query -W -f='${Conffiles}\n' hdrlog 2>>"$LOG")
for f in /etc/hdrlog/hdrlog.conf /etc/logrotate.d/hdrlog; do
	check "$f is a conffile" grep -q "^ $f " <<<"$conffiles"
done

# Installing enabled nothing and started nothing.
wants=$(find "$ROOT/etc/systemd/system" -name 'hdrlog*' 2>/dev/null)
check "no hdrlog unit is enabled (no link in /etc/systemd/system${wants:+: $wants})" \
	test -z "$wants"
for u in hdrlog.service; do
	state=$(in_ns_root systemctl --root=/ is-enabled "$u" 2>&1)
	check "systemctl is-enabled $u says disabled ($state)" test "$state" = disabled
done
asked=$(grep hdrlog "$ROOT/run/policy-rc.d.log")
check "the package asked to start nothing${asked:+ (asked: $asked)}" test -z "$asked"
pids=
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && pids="$pids ${p#/proc/}"
done
check "no process runs in the root${pids:+ (pids:$pids)}" test -z "$pids"
xdp_attached() { ip -n "$NETNS" -d link show | grep -q 'xdp\|prog/xdp'; }
check "no XDP program on the default route's interface" eval '! xdp_attached'

# hdrlog itself, in the root.
v=$(in_ns_root /usr/sbin/hdrlog --version 2>&1)
check "hdrlog --version in the root says hdrlog $upstream ($v)" test "$v" = "hdrlog $upstream"
if in_ns_root /usr/sbin/hdrlog --help 2>&1 | grep -q -- '--check'; then
	out=$(in_ns_root /usr/sbin/hdrlog --config /etc/hdrlog/hdrlog.conf --check 2>&1)
	st=$?
	sed 's/^/#   /' <<<"$out"
	check "hdrlog --config /etc/hdrlog/hdrlog.conf --check exits 0 in the root" test $st -eq 0
	check "--check attached nothing" eval '! xdp_attached'
else
	skip "hdrlog --config /etc/hdrlog/hdrlog.conf --check" "this hdrlog has no --check yet"
fi
# The units as this Debian's systemd reads them: directives it does not
# know, a command that is not there. (--man=no: minbase has no man, and
# the pages are checked above.) A template is verified as instance "i".
for u in hdrlog.service hdrlog@.service; do
	if [ -f "$ROOT/lib/systemd/system/$u" ]; then
		out=$(in_ns_root systemd-analyze verify --man=no "/lib/systemd/system/$u" 2>&1)
		st=$?
		[ -z "$out" ] || sed 's/^/#   /' <<<"$out"
		check "systemd-analyze verify $u (systemd $(in_ns_root dpkg-query -W -f='${Version}' systemd))" \
			eval '[ $st -eq 0 ] && [ -z "$out" ]'
	else
		skip "systemd-analyze verify $u" "not installed"
	fi
done
step checks

# What the maintainer scripts ask of systemd, as policy-rc.d hears it.
asked() { tr '\n' ';' <"$ROOT/run/policy-rc.d.log"; : >"$ROOT/run/policy-rc.d.log"; }
asked >/dev/null
# An upgrade (a reinstall runs the same scripts) stops and restarts nothing:
# a restart would open a window in the lists (debian/rules).
check "apt-get install --reinstall ./$deb (an upgrade's maintainer scripts)" \
	quiet in_ns_root apt-get install -q -y --reinstall "/tmp/$deb"
a=$(asked)
check "an upgrade asks nothing of systemd (asked: ${a:-nothing})" \
	test -z "$a"

# Remove, then purge: the conffiles stay after a removal, nothing stays
# after a purge.
check "dpkg -r hdrlog" quiet in_ns_root dpkg -r hdrlog
a=$(asked)
check "dpkg -r asks to stop hdrlog.service (asked: ${a:-nothing})" \
	test "$a" = "hdrlog.service stop;"
status=$(in_ns_root dpkg-query -W -f='${db:Status-Abbrev}' hdrlog 2>/dev/null)
check "after dpkg -r: state rc, binary gone, config and logs kept" eval \
	'[ "${status% }" = rc ] && [ ! -e "$ROOT/usr/sbin/hdrlog" ] &&
	[ -f "$ROOT/etc/hdrlog/hdrlog.conf" ] && [ -d "$ROOT/var/log/hdrlog" ]'
check "dpkg --purge hdrlog" quiet in_ns_root dpkg --purge hdrlog
left=$(cd "$ROOT" && find etc usr var -path var/cache/apt -prune -o \
	-name '*hdrlog*' -print 2>/dev/null)
check "after dpkg --purge nothing named hdrlog is left${left:+: $(echo $left)}" test -z "$left"
a=$(asked)
check "dpkg --purge asks systemd for nothing (asked: ${a:-nothing})" test -z "$a"

# Install it again and leave the root for the VM boot.
check "apt-get install ./$deb again after the purge" install_pkg
rm -rf "$ROOT/run/systemd/system" "$ROOT/tmp/$deb" "$ROOT/usr/sbin/policy-rc.d" \
	"$ROOT/etc/apt/apt.conf.d/99pkg-test"
umount_all
ip netns del "$NETNS"; NETNS=
step remove
echo "$deb" >"$CACHE/root.ready"
# In this script's mount namespace and in the machine's (pid 1's).
left=$( (findmnt -rn -o TARGET; findmnt --task 1 -rn -o TARGET) | grep -F "$CACHE")
check "nothing is left mounted under $CACHE" test -z "$left"
say "install root left at $ROOT (HDRLOG_PKG_ROOT=$ROOT); packages in $OUT"

# --- that root booted with systemd as init: under qemu on Debian 12's 6.1
# kernel, and as a systemd-nspawn container on this machine's kernel -------
# Their tallies join this script's; each one's own line is shown as
# "boot MODE: ..." so that only the last line here is a tally.
boot_root() {	# boot_root MODE [boot-root.sh options]
	local mode=$1 log=$CACHE/boot-root-$1.log tally bp bf bs boot_status
	shift
	say "booting the install root ($mode): tests/vm/boot-root.sh $* $ROOT"
	HDRLOG_PKG_ROOT=$ROOT "$top/tests/vm/boot-root.sh" "$@" "$ROOT" 2>&1 |
		tee "$log" | sed -E "s/^([0-9]+ passed, )/boot $mode: \1/"
	boot_status=${PIPESTATUS[0]}
	tally=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -n "$tally" ]; then
		read -r bp _ bf _ bs _ <<<"${tally//,/}"
		passed=$((passed + bp)) failed=$((failed + bf)) skipped=$((skipped + ${bs:-0}))
		[ "$boot_status" -eq 0 ] || [ "$bf" -gt 0 ] || failed=$((failed + 1))
	else
		not_ok "tests/vm/boot-root.sh $* printed no tally (status $boot_status)"
	fi
	step "boot-$mode"
}
if [ "${HDRLOG_PKG_BOOT:-1}" != 0 ] && [ -x "$top/tests/vm/boot-root.sh" ]; then
	boot_root qemu
	boot_root nspawn --nspawn
fi
finish
