#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# hdrlog on a second kernel: boot Debian 12's cloud kernel under qemu (TCG)
# with an initramfs holding busybox, iproute2's ip, hdrlog and
# tests/vm/guest.sh as /init, and check the TAP the guest prints.
# See tests/vm/README.
#
# Environment:
#   HDRLOG            hdrlog binary (default: the build's src/hdrlog)
#   HDRLOG_VM_KVER    kernel ABI name (default: KVER_PINNED in kernel.sh)
#   HDRLOG_VM_CACHE   cache for the kernel package (default /var/cache/hdrlog-vm)
#   HDRLOG_VM_TIMEOUT seconds qemu may run (default 150)
#   HDRLOG_VM_LOG     where the guest console goes (default tests/vm/check-vm.log)
#   HDRLOG_VM_QEMU_ARGS  extra qemu arguments
#   HDRLOG_VM_GUEST   the guest's /init (default tests/vm/guest.sh)
# Exit status: 0 only if the guest ran its whole plan and nothing failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
HDRLOG=${HDRLOG:-$top/src/hdrlog}
GUEST=${HDRLOG_VM_GUEST:-$here/guest.sh}
TIMEOUT=${HDRLOG_VM_TIMEOUT:-150}
LOG=${HDRLOG_VM_LOG:-$here/check-vm.log}

say() { printf 'vm: %s\n' "$*"; }
die() { printf 'vm: error: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 1; }
t0=$(date +%s)

[ -x "$HDRLOG" ] || die "no hdrlog binary at $HDRLOG (build first, or set HDRLOG)"
[ -r "$GUEST" ] || die "no guest script at $GUEST"

# --- host dependencies -------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
static_busybox() {   # (no pipes: pipefail and grep -q's early exit)
	local applets linked
	[ -x /bin/busybox ] || return 1
	applets=$(/bin/busybox --list 2>/dev/null)
	linked=$(ldd /bin/busybox 2>&1)
	[[ $'\n'$applets$'\n' == *$'\n'nsenter$'\n'* ]] &&
		[[ $linked == *"not a dynamic"* ]]
}
static_busybox || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
[[ $(ip -V 2>&1) == *iproute2* ]] || need+=(iproute2)
command -v ldd >/dev/null || need+=(libc-bin)
# tcpecho, the guest's TCP client and server, is built static
command -v gcc >/dev/null || need+=(gcc)
[ -r /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages: ${need[*]} (install them as root)"
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi
IP=$(command -v ip)

# --- the kernel package, cached ----------------------------------------------
# shellcheck source=tests/vm/kernel.sh
. "$here/kernel.sh"
kernel_fetch

# Kernel configuration facts the attach methods depend on.
if [ -r "$KCONFIG" ]; then
	facts=
	for o in BPF_SYSCALL BPF_JIT DEBUG_INFO_BTF DYNAMIC_FTRACE_WITH_DIRECT_CALLS \
		FUNCTION_TRACER KPROBES KPROBE_EVENTS FPROBE BPF_EVENTS TRACEPOINTS; do
		v=$(sed -n "s/^CONFIG_$o=//p" "$KCONFIG")
		facts="$facts $o=${v:-n}"
	done
	say "kernel $KVER config:$facts"
fi

# --- the initramfs -----------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/hdrlog-vm.XXXXXX") || die "mktemp failed"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib64,lib/x86_64-linux-gnu,etc} \
	"$root"/{proc,sys,dev,run,tmp,modules,var} || die "mkdir failed"
ln -s ../run "$root/var/run"

cp /bin/busybox "$root/bin/busybox" || die "cannot copy busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
# iproute2's ip (busybox's lacks netns and veth), reached first in PATH.
cp "$IP" "$root/usr/sbin/ip" && cp "$HDRLOG" "$root/usr/sbin/hdrlog" ||
	die "cannot copy ip or hdrlog"
cp "$GUEST" "$root/init" && chmod 755 "$root/init" || die "cannot copy guest.sh"
# iproute2's tc: what the clsact case reads hdrlog's filters with
TC=$(command -v tc || echo /usr/sbin/tc)
cp "$TC" "$root/usr/sbin/tc" || die "cannot copy tc"
# tcpecho: one TCP connection with known byte counts (tests/vm/tcpecho.c)
gcc -static -O2 -Wall -Wextra -o "$root/usr/bin/tcpecho" \
	"$here/tcpecho.c" || die "cannot build tests/vm/tcpecho.c"

# Shared libraries of both, with the dynamic loader, at the paths ldd names.
copy_libs() {
	local f
	ldd "$1" | awk '/=> \//{print $3} /^[ \t]*\//{print $1}' |
	while read -r f; do
		mkdir -p "$root$(dirname "$f")" &&
		cp -L "$f" "$root$f" || exit 1
	done
}
for b in "$HDRLOG" "$IP" "$TC"; do
	copy_libs "$b" || die "cannot copy the libraries of $b"
done
for f in /etc/protocols /etc/services; do
	[ -r "$f" ] && cp "$f" "$root/etc/"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"

# Modules: veth, and for tc without tcx the clsact qdisc (sch_ingress) and
# cls_bpf, with what they depend on; /modules/order lists them.
for m in veth sch_ingress cls_bpf; do add_module "$root/modules" "$m" || die "cannot add module $m"; done

(cd "$root" && find . | cpio -o -H newc --quiet -R 0:0 | gzip -1) \
	>"$work/initrd.gz" || die "cannot build the initramfs"
say "initramfs $(du -k "$work/initrd.gz" | cut -f1) KiB," \
	"modules: $(tr '\n' ' ' <"$root/modules/order")"

# --- boot --------------------------------------------------------------------
mkdir -p "$(dirname "$LOG")" || die "cannot create $(dirname "$LOG")"
say "booting $KVER under qemu (TCG), console log in $LOG, timeout ${TIMEOUT}s"
# TCG: -enable-kvm hangs on CI's machines. No NIC, no VGA (-nodefaults).
# One vCPU: with two, a loaded host starved one while the other waited
# for it (text patching at attach), and the guest reported soft lockups.
# shellcheck disable=SC2086
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
	-accel tcg -cpu max -m 1024 -smp 1 -nodefaults -no-reboot \
	-display none -serial stdio \
	-kernel "$VMLINUZ" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet hdrlog.kver=$KVER" \
	${HDRLOG_VM_QEMU_ARGS:-} </dev/null 2>&1 | tr -d '\r' | tee "$LOG"
qrc=${PIPESTATUS[0]}

# --- verdict -----------------------------------------------------------------
# shellcheck source=tests/vm/tap.sh
. "$here/tap.sh"
tap_judge "$LOG" "$qrc" "$TIMEOUT"
echo
echo "== vm summary ($KVER, $(( $(date +%s) - t0 ))s)"
methods=$(sed -n 's/^# attach-method: //p' "$LOG")
if [ -n "$methods" ]; then
	echo "socket-event attach methods:"
	printf '%s\n' "$methods" | sed 's/^/  /'
fi
tap_summary
