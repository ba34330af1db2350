#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Boot a Debian root directory (systemd as /sbin/init, hdrlog installed in
# it) and run a test inside it under that systemd: by default under qemu
# (TCG) with Debian 12's cloud kernel from tests/vm/kernel.sh, or with
# --nspawn as a systemd-nspawn container on this machine's kernel. The test
# (tests/vm/service-test.sh unless another is given) runs as the oneshot
# unit hdrlog-boot-test.service after multi-user.target, prints TAP on a
# channel of its own and powers the machine off; this script judges the TAP
# as run.sh does. ROOTDIR is never written to. See tests/vm/README.
#
# Usage: boot-root.sh [--nspawn] ROOTDIR [GUEST-TEST-SCRIPT]
# Environment:
#   HDRLOG_VM_KVER, HDRLOG_VM_CACHE   the kernel (see kernel.sh)
#   HDRLOG_BOOT_TIMEOUT  seconds the machine may run (default 300)
#   HDRLOG_BOOT_LOG      console and test output (default tests/vm/boot-root.log)
#   HDRLOG_BOOT_TMP      where the disk image is built (default /var/tmp)
#   HDRLOG_VM_QEMU_ARGS  extra qemu arguments
# Exit status: 0 only if the test ran its whole plan and nothing failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
how=qemu
if [ "${1:-}" = --nspawn ]; then how=nspawn; shift; fi
ROOT=${1:-}
GUEST=${2:-$here/service-test.sh}
TIMEOUT=${HDRLOG_BOOT_TIMEOUT:-300}
LOG=${HDRLOG_BOOT_LOG:-$here/boot-root.log}
UNIT=hdrlog-boot-test.service
GUEST_PATH=/usr/local/sbin/hdrlog-boot-test

say() { printf 'boot: %s\n' "$*"; }
die() { printf 'boot: error: %s\n' "$*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
t0=$(date +%s)

[ -n "$ROOT" ] || die "usage: boot-root.sh [--nspawn] ROOTDIR [GUEST-TEST-SCRIPT]"
ROOT=$(cd "$ROOT" 2>/dev/null && pwd) || die "no root directory $1"
[ -e "$ROOT/sbin/init" ] || [ -L "$ROOT/sbin/init" ] ||
	die "$ROOT has no /sbin/init (install systemd-sysv in it)"
[ -r "$GUEST" ] || die "no guest test at $GUEST"
[ "$(id -u)" = 0 ] || die "must run as root"

# --- host dependencies -------------------------------------------------------
need=()
if [ $how = qemu ]; then
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	[[ $(ldd /bin/busybox 2>&1) == *"not a dynamic"* ]] || need+=(busybox-static)
	command -v cpio >/dev/null || need+=(cpio)
	command -v mke2fs >/dev/null || need+=(e2fsprogs)
else
	command -v systemd-nspawn >/dev/null || need+=(systemd-container)
fi
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi

work=$(mktemp -d "${HDRLOG_BOOT_TMP:-/var/tmp}/hdrlog-boot.XXXXXX") ||
	die "mktemp failed"
mpid=
cleanup() {
	[ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The test's unit: after the default target is reached, and the machine
# goes down when it ends, whatever its status. Its output has a channel
# of its own, so that no kernel or systemd message on the console lands
# inside a TAP line: under qemu a second serial port (ttyS1, which nothing
# else opens) that qemu writes to a file; in the container, a file bound
# from the host.
if [ $how = qemu ]; then
	out="tty
TTYPath=/dev/ttyS1"
else
	out=append:/run/hdrlog-boot-test.tap
fi
cat >"$work/$UNIT" <<EOF
[Unit]
Description=hdrlog service test (tests/vm/boot-root.sh)
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=$GUEST_PATH
StandardInput=null
StandardOutput=$out
StandardError=inherit
EOF
# What systemd reads from the kernel command line (or, in a container,
# from its own): the unit above is pulled in; no status lines or login
# prompt among the TAP lines.
INIT_ARGS="systemd.wants=$UNIT systemd.show_status=0 systemd.firstboot=0"
INIT_ARGS+=" systemd.mask=serial-getty@ttyS0.service systemd.mask=getty@tty1.service"
INIT_ARGS+=" systemd.mask=console-getty.service"

mkdir -p "$(dirname "$LOG")" || die "cannot create $(dirname "$LOG")"
: >"$work/tap" || die "cannot create $work/tap"
if [ $how = nspawn ]; then
	# --register=no --keep-unit: this machine's PID 1 is not systemd and
	# it has no system bus. --volatile=overlay: writes go to a tmpfs,
	# ROOTDIR stays as it is. --private-network: the container starts
	# with a network namespace of its own (only lo); the test makes its
	# veth and peer namespace there. hdrlog needs bpf() and
	# perf_event_open(), which nspawn's seccomp filter refuses, and
	# CAP_BPF and CAP_PERFMON, which its bounding set lacks.
	say "booting $ROOT with systemd-nspawn, console log in $LOG, timeout ${TIMEOUT}s"
	tb=$(date +%s)
	# shellcheck disable=SC2086
	timeout -k 5 "$TIMEOUT" systemd-nspawn --quiet --register=no --keep-unit \
		--machine="hdrlog-boot-$$" --directory="$ROOT" --volatile=overlay \
		--private-network --capability=CAP_BPF,CAP_PERFMON \
		--system-call-filter='bpf perf_event_open' \
		--bind-ro="$work/$UNIT:/etc/systemd/system/$UNIT" \
		--bind-ro="$GUEST:$GUEST_PATH" \
		--bind="$work/tap:/run/hdrlog-boot-test.tap" \
		--console=pipe --boot $INIT_ARGS </dev/null >"$work/console" 2>&1 &
	mpid=$!
	what="systemd-nspawn, $(uname -r)"
else
	# shellcheck source=tests/vm/kernel.sh
	. "$here/kernel.sh"
	kernel_fetch

	# --- the disk: ROOTDIR, its kernel's modules and the test ----
	# A copy of hard links (ROOTDIR is not written: only new files are
	# added), or a real copy across file systems; mke2fs -d makes the
	# image from it without mounting anything.
	stage=$work/root
	cp -al "$ROOT" "$stage" 2>/dev/null || {
		rm -rf "$stage"
		cp -a "$ROOT" "$stage" || die "cannot copy $ROOT"
	}
	mkdir -p "$stage/usr/lib/modules" || die "cannot make /usr/lib/modules"
	[ -L "$stage/lib" ] || mkdir -p "$stage/lib/modules"
	if [ ! -e "$stage/lib/modules/$KVER" ]; then
		cp -al "$MODDIR" "$stage/lib/modules/$KVER" 2>/dev/null ||
			cp -a "$MODDIR" "$stage/lib/modules/$KVER" ||
			die "cannot copy the modules"
		# modprobe in the guest needs modules.dep
		command -v depmod >/dev/null && depmod -b "$stage" "$KVER"
	fi
	mkdir -p "$stage/etc/systemd/system" "$stage$(dirname $GUEST_PATH)" &&
		rm -f "$stage/etc/systemd/system/$UNIT" "$stage$GUEST_PATH" &&
		cp "$work/$UNIT" "$stage/etc/systemd/system/$UNIT" &&
		install -m 755 "$GUEST" "$stage$GUEST_PATH" ||
		die "cannot add the test to the image"
	# room for the journal and the records
	mb=$(( $(du -sm "$stage" | cut -f1) * 5 / 4 + 256 ))
	mke2fs -q -F -t ext4 -L hdrlog-root -d "$stage" "$work/disk.img" "${mb}M" ||
		die "mke2fs -d failed"
	rm -rf "$stage"

	# --- the initramfs: load the disk's driver, mount it, switch ----
	# veth, sch_ingress and cls_bpf (tc's clsact and its BPF filter, which
	# the 6.1 kernel has no tcx to replace) are loaded here too: a minbase
	# root has no kmod, so the kernel cannot load them on demand as it
	# does on an installed system.
	ird=$work/initramfs
	mkdir -p "$ird"/{bin,dev,proc,sys,newroot,modules} || die "mkdir failed"
	cp /bin/busybox "$ird/bin/busybox" || die "cannot copy busybox"
	for m in virtio_pci virtio_blk veth sch_ingress cls_bpf; do
		add_module "$ird/modules" "$m" || die "cannot add module $m"
	done
	cat >"$ird/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/order); do insmod /modules/$m.ko; done
n=100
while [ ! -b /dev/vda ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
	echo "initramfs: cannot mount /dev/vda"
	poweroff -f
fi
umount /proc /sys /dev
exec switch_root /newroot /sbin/init "$@"
EOF
	chmod 755 "$ird/init"
	(cd "$ird" && find . | cpio -o -H newc --quiet -R 0:0 | gzip -1) \
		>"$work/initrd.gz" || die "cannot build the initramfs"
	say "disk ${mb} MB, initramfs modules: $(tr '\n' ' ' <"$ird/modules/order")"

	say "booting $ROOT on $KVER under qemu (TCG), console log in $LOG, timeout ${TIMEOUT}s"
	tb=$(date +%s)
	# TCG and one vCPU, as in run.sh (KVM hangs on CI's machines; two
	# vCPUs starved each other on a loaded host).
	# shellcheck disable=SC2086
	timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
		-accel tcg -cpu max -m 1024 -smp 1 -nodefaults -no-reboot \
		-display none -serial "file:$work/console" -serial "file:$work/tap" \
		-drive "file=$work/disk.img,format=raw,if=virtio,cache=unsafe" \
		-kernel "$VMLINUZ" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 net.ifnames=0 $INIT_ARGS" \
		${HDRLOG_VM_QEMU_ARGS:-} </dev/null >"$work/qemu.out" 2>&1 &
	mpid=$!
	what="qemu, $KVER"
fi
# The TAP as it comes, then the whole console once the machine is down.
tail -f --pid=$mpid "$work/tap" | sed -u 's/\r$//'
wait $mpid; qrc=$?
mpid=
tr=$(date +%s)
tr -d '\r' <"$work/tap" >"$work/tap.txt"
{
	echo "== console"; tr -d '\r' <"$work/console"
	[ -s "$work/qemu.out" ] && { echo "== qemu"; cat "$work/qemu.out"; }
	echo "== test"; cat "$work/tap.txt"
} >"$LOG"

# --- verdict -----------------------------------------------------------------
# shellcheck source=tests/vm/tap.sh
. "$here/tap.sh"
tap_judge "$work/tap.txt" "$qrc" "$TIMEOUT"
echo
echo "== boot summary ($what: machine ran $((tr - tb))s, $((tr - t0))s in all)"
sed -n 's/^# boot: /boot: /p' "$work/tap.txt"
tap_summary
