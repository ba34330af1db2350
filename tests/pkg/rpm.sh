#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The RPM package: build it with rpmbuild -ba from make dist's tarball in a
# temporary _topdir, then check what a user of the package gets: the exact
# file list, the config files kept on upgrade, /var/log/hdrlog's mode, the
# scriptlets (run against a stub systemctl: install, upgrade and removal
# neither enable nor start anything), runtime-only dependencies, a binary
# that runs, the source package, and rpmlint. packaging/rpm/README says
# which flags Debian's rpm needs and why; this script passes them.
#
# Usage: tests/pkg/rpm.sh [BUILDDIR]
#   BUILDDIR  a configured hdrlog build directory where `make dist` runs
#             (default: the source tree this script is in)
# Environment:
#   HDRLOG_PKG_TARBALL  use this hdrlog-VERSION.tar.gz instead of make dist
#                       (the name tests/pkg/run.sh and make check-pkg use)
#   HDRLOG_RPM_KEEP     if set, keep the temporary _topdir (its path is shown)
# Prints one line per check, then "N passed, N failed, N skipped";
# exit status 0 only if nothing failed. Installs rpm and rpmlint with
# apt-get if they are missing (as root). Installs no package: the RPM is
# only built and read.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
builddir=$(cd "${1:-$top}" 2>/dev/null && pwd) || builddir=${1:-$top}
spec=$top/packaging/rpm/hdrlog.spec
fallback=$top/packaging/rpm/macros.systemd-fallback
t0=$SECONDS

pass=0 failed=0 skipped=0	# nothing is skipped: what cannot run fails
ok()   { pass=$((pass + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; shift
	 [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/     /'; return 0; }
check() {	# check NAME CONDITION-STATUS [DETAIL...]
	local name=$1 status=$2; shift 2
	if [ "$status" -eq 0 ]; then ok "$name"; else fail "$name" "$@"; fi
}
finish() {
	printf 'rpm: %ss\n' $((SECONDS - t0))
	echo "$pass passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}
die() { fail "$@"; finish; }

# --- tools -------------------------------------------------------------------
need=()
command -v rpmbuild >/dev/null || need+=(rpm)
command -v rpmlint >/dev/null || need+=(rpmlint)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages: ${need[*]} (install them as root)"
	printf 'rpm: installing %s\n' "${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi

work=$(mktemp -d /tmp/hdrlog-rpm.XXXXXX) || die "mktemp failed"
if [ -n "${HDRLOG_RPM_KEEP:-}" ]; then
	printf 'rpm: keeping %s\n' "$work"
else
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS,tmp,unpack,stub}

# --- the tarball ---------------------------------------------------------------
if [ -n "${HDRLOG_PKG_TARBALL:-}" ]; then
	tarball=$HDRLOG_PKG_TARBALL
	[ -f "$tarball" ] || die "no tarball at $tarball"
	cp "$tarball" "$work/SOURCES/" || die "cannot copy $tarball"
else
	[ -f "$builddir/Makefile" ] ||
		die "no Makefile in $builddir (configure first, or set HDRLOG_PKG_TARBALL)"
	tarball=$builddir/hdrlog-$(sed -n 's/^PACKAGE_VERSION = //p' \
		"$builddir/Makefile").tar.gz
	if ! make -C "$builddir" dist >"$work/dist.log" 2>&1; then
		die "make dist" "$(tail -20 "$work/dist.log")"
	fi
	# Moved, not copied: the build directory is left as it was.
	mv "$tarball" "$work/SOURCES/" ||
		die "make dist made no $(basename "$tarball")"
fi
version=$(basename "$tarball" .tar.gz); version=${version#hdrlog-}

# The spec's Version must be the tarball's (configure.ac's AC_INIT). If it
# is not, say so, and build with the tarball's version so that the other
# checks still tell something.
spec_version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
check "spec Version ($spec_version) is the tarball's ($version)" \
	"$([ "$spec_version" = "$version" ]; echo $?)"
sed "s/^Version:\([[:space:]]*\).*/Version:\1$version/" "$spec" \
	>"$work/SPECS/hdrlog.spec"
# rpmbuild -ta reads the spec inside the tarball: it must be this one.
tar -xzOf "$work/SOURCES/$(basename "$tarball")" \
	"hdrlog-$version/packaging/rpm/hdrlog.spec" >"$work/dist.spec" 2>/dev/null
check "the tarball carries packaging/rpm/hdrlog.spec (for rpmbuild -ta)" \
	"$(cmp -s "$work/dist.spec" "$spec"; echo $?)"

# --- build ---------------------------------------------------------------------
# Debian's rpm: --nodeps, as its database holds none of the BuildRequires
# (they are installed as .debs); the systemd macros from the fallback file
# when systemd-rpm-macros is not there. See packaging/rpm/README.
# _tmppath: rpm's scriptlet files, which a failed build leaves behind, go
# where the cleanup finds them rather than /var/tmp.
rpmflags=(--nodeps -D "_topdir $work" -D "_tmppath $work/tmp")
if [ "$(rpm --eval '%{_vendor}')" = debian ]; then
	# Fedora's documentation directory names (%{name}, where Debian's rpm
	# has %{name}-%{version}); brp-compress run by bash, as it uses
	# bash's read -d and Debian's rpm runs it with dash, which leaves man
	# pages uncompressed.
	rpmflags+=(-D '_docdir_fmt %%{NAME}'
		   -D '__brp_compress /bin/bash %{_rpmconfigdir}/brp-compress %{?_prefix}')
fi
if [ -z "$(rpm --eval '%{?systemd_post:1}')" ]; then
	rpmflags+=(--load "$fallback")
fi
printf 'rpm: rpmbuild -ba %s\n' "${rpmflags[*]}"
if rpmbuild -ba "${rpmflags[@]}" "$work/SPECS/hdrlog.spec" \
	>"$work/build.log" 2>&1; then
	ok "rpmbuild -ba from $(basename "$tarball")"
else
	# A file %files names that make install did not install is the
	# likeliest cause: name each one.
	missing=$(sed -n 's/^ *\(File\|Directory\) not found: .*BUILDROOT\/[^/]*//p' \
		"$work/build.log" | sort -u)
	for f in $missing; do
		fail "make install installs $f"
	done
	die "rpmbuild -ba" "$(tail -25 "$work/build.log")"
fi

arch=$(rpm --eval '%{_arch}')
rpmfile=$(ls "$work/RPMS/$arch/hdrlog-$version-"*".$arch.rpm" 2>/dev/null)
[ -f "$rpmfile" ] || die "one binary package, hdrlog-$version-*.$arch.rpm" \
	"$(ls -R "$work/RPMS")"
release=$(rpm -qp --qf '%{RELEASE}' "$rpmfile")
srpm=$work/SRPMS/hdrlog-$version-$release.src.rpm
ok "binary package $(basename "$rpmfile")"

srpm_files=$(rpm -qlp "$srpm" 2>/dev/null | sort | tr '\n' ' ')
check "source package $(basename "$srpm") holds the spec and the tarball" \
	"$([ "$srpm_files" = "$(basename "$tarball") hdrlog.spec " ]; echo $?)" \
	"holds: ${srpm_files:-nothing (missing?)}"

# --- files ---------------------------------------------------------------------
# rpm adds /usr/lib/.build-id links for the binary; man pages may be
# compressed (brp-compress): compare without the suffix.
files=$(rpm -qlp "$rpmfile" | grep -v '^/usr/lib/\.build-id' |
	sed -E 's,^(/usr/share/man/.*)\.(gz|bz2|xz|zst)$,\1,' | sort)
expected="/etc/hdrlog
/usr/share/doc/hdrlog
/usr/share/licenses/hdrlog
/etc/hdrlog/hdrlog.conf
/etc/logrotate.d/hdrlog
/usr/lib/systemd/system/hdrlog.service
/usr/lib/systemd/system/hdrlog@.service
/usr/sbin/hdrlog
/usr/share/doc/hdrlog/README
/usr/share/licenses/hdrlog/COPYING
/usr/share/man/man5/hdrlog.conf.5
/usr/share/man/man8/hdrlog.8
/var/log/hdrlog"
extra=$(comm -13 <(sort <<<"$expected") <(echo "$files"))
check "the package holds nothing else than the agreed files" \
	"$([ -z "$extra" ]; echo $?)" "$extra"
for f in $expected; do
	check "the package holds $f" \
		"$(grep -qxF "$f" <<<"$files"; echo $?)"
done

# Flags: c = %config, n = noreplace, l = %license, d = %doc.
flags=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpmfile")
configs=$(rpm -qp --configfiles "$rpmfile" | sort | tr '\n' ' ')
check "config files are hdrlog.conf and the logrotate snippet only" \
	"$([ "$configs" = "/etc/hdrlog/hdrlog.conf /etc/logrotate.d/hdrlog " ]
	   echo $?)" "config files: $configs"
for f in /etc/hdrlog/hdrlog.conf /etc/logrotate.d/hdrlog; do
	check "$f is %config(noreplace): an upgrade keeps a user's edits" \
		"$(grep -qx 'cn '"$f" <<<"$flags"; echo $?)" \
		"$(grep " $f\$" <<<"$flags")"
done
check "COPYING is %license and README %doc" \
	"$(grep -qx 'l /usr/share/licenses/hdrlog/COPYING' <<<"$flags" &&
	   grep -qx 'd /usr/share/doc/hdrlog/README' <<<"$flags"; echo $?)"

modes=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' \
	"$rpmfile")
check "/var/log/hdrlog is drwxr-x--- root:root (records name hosts)" \
	"$(grep -qx 'drwxr-x--- root:root /var/log/hdrlog' <<<"$modes"; echo $?)" \
	"$(grep ' /var/log/hdrlog$' <<<"$modes")"
check "/usr/sbin/hdrlog is -rwxr-xr-x root:root" \
	"$(grep -qx -- '-rwxr-xr-x root:root /usr/sbin/hdrlog' <<<"$modes"; echo $?)" \
	"$(grep ' /usr/sbin/hdrlog$' <<<"$modes")"
writable=$(awk 'substr($1, 9, 1) == "w" && $1 !~ /^l/' <<<"$modes")
check "no file is world-writable" "$([ -z "$writable" ]; echo $?)" "$writable"

# The packaged binary runs and is this version.
(cd "$work/unpack" && rpm2cpio "$rpmfile" | cpio -idm --quiet) 2>/dev/null
got=$("$work/unpack/usr/sbin/hdrlog" --version 2>&1)
check "the packaged hdrlog --version says $version" \
	"$([[ $got == *"$version"* ]]; echo $?)" "$got"

# The BPF programs' BTF names their source files: by a relative path, not
# the build directory's (see %build).
leaks=$(strings "$work/unpack/usr/sbin/hdrlog" | grep -F "$work/BUILD" | head -3)
check "the packaged binary names no file by its build path" \
	"$([ -z "$leaks" ]; echo $?)" "$leaks"

# --- scriptlets ----------------------------------------------------------------
scripts=$(rpm -qp --scripts "$rpmfile")
check "the scriptlets call systemd's helper (%systemd_post, %systemd_preun)" \
	"$(grep -q 'install-system-units hdrlog.service hdrlog@.service' <<<"$scripts" &&
	   grep -q 'remove-system-units hdrlog.service' <<<"$scripts"
	   echo $?)" "$scripts"
bad=$(grep -vE '^[[:space:]]*#' <<<"$scripts" |
	grep -nwE 'enable|start|restart|try-restart|reload-or-restart|mark-restart-system-units')
check "no scriptlet enables, starts or restarts a unit" \
	"$([ -z "$bad" ]; echo $?)" "$bad"
triggers=$(rpm -qp --triggers --filetriggers "$rpmfile")
check "no triggers" "$([ -z "$triggers" ]; echo $?)" "$triggers"

# Run each scriptlet as rpm would, with $1 as rpm passes it, against stubs
# of systemd's update helper and systemctl that log their arguments, with
# "systemd is running" true. What they log is what would happen.
stub=$work/stub
mkdir -p "$stub/bin" "$stub/run/systemd/system"
for t in systemctl systemd-update-helper; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/log"\n' "$t" "$stub" >"$stub/bin/$t"
	chmod +x "$stub/bin/$t"
done
run_scriptlet() {	# run_scriptlet TAG ARG: what it logs, on stdout
	local body
	body=$(rpm -qp --qf "%{$1}" "$rpmfile")
	[ "$body" = "(none)" ] && return 0
	body=${body//\/usr\/lib\/systemd\/systemd-update-helper/$stub/bin/systemd-update-helper}
	body=${body//\/run\/systemd\/system/$stub/run/systemd/system}
	: >"$stub/log"
	PATH=$stub/bin:$PATH sh -euc "$body" scriptlet "$2" >/dev/null 2>&1 ||
		echo "scriptlet $1 $2 exited $?"
	cat "$stub/log"
}
syntax=""
for tag in PREIN POSTIN PREUN POSTUN PRETRANS POSTTRANS; do
	body=$(rpm -qp --qf "%{$tag}" "$rpmfile")
	[ "$body" = "(none)" ] || sh -n -c "$body" 2>/dev/null || syntax+="$tag "
done
check "every scriptlet is valid sh" "$([ -z "$syntax" ]; echo $?)" "$syntax"
got=$(run_scriptlet POSTIN 1)
check "first install: a preset of both units, nothing else" \
	"$([ "$got" = "systemd-update-helper install-system-units hdrlog.service hdrlog@.service" ]
	   echo $?)" "logged: ${got:-nothing}"
# An upgrade runs the new package's %post (2) and the old one's %preun
# and %postun (1).
got="$(run_scriptlet POSTIN 2)$(run_scriptlet PREUN 1)$(run_scriptlet POSTUN 1)"
check "upgrade: nothing is stopped, restarted or enabled" \
	"$([ -z "$got" ]; echo $?)" "logged: $got"
got="$(run_scriptlet PREUN 0)$(run_scriptlet POSTUN 0)"
want="systemd-update-helper remove-system-units hdrlog.service
systemctl --no-reload --quiet disable hdrlog@.service
systemctl stop hdrlog@*.service"
check "removal: both units disabled, hdrlog and every instance stopped" \
	"$([ "$got" = "$want" ]; echo $?)" "logged: ${got:-nothing}"

# --- dependencies --------------------------------------------------------------
requires=$(rpm -qp --requires "$rpmfile")
devel=$(grep -E -- '-devel|pkgconfig\(|\.so\(\)|^/usr/include' <<<"$requires")
check "no build-time package among the Requires" \
	"$([ -z "$devel" ]; echo $?)" "$devel"
other=$(grep -vE '^rpmlib\(|^lib[^ ]*\.so\.[0-9]|^rtld\(GNU_HASH\)$|^/bin/sh$|^config\(hdrlog\) = ' <<<"$requires")
check "Requires are shared libraries (and /bin/sh for the scriptlets) only" \
	"$([ -z "$other" ]; echo $?)" "$other"
needed=$(readelf -d "$work/unpack/usr/sbin/hdrlog" 2>/dev/null |
	sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
unlisted=""
for lib in $needed; do
	grep -q "^$lib" <<<"$requires" || unlisted+="$lib "
done
check "every library hdrlog links (${needed//$'\n'/ }) is a Requires" \
	"$([ -n "$needed" ] && [ -z "$unlisted" ]; echo $?)" \
	"not required: ${unlisted:-(readelf found no NEEDED)}"

# --- rpmlint -------------------------------------------------------------------
# hdrlog.rpmlintrc filters what is explained there; on Debian,
# rpmlint-debian.toml adds what Fedora's rpmlint configuration would say.
# Anything else, warning or error, fails.
lintflags=(-r "$top/packaging/rpm/hdrlog.rpmlintrc")
[ "$(rpm --eval '%{_vendor}')" = debian ] &&
	lintflags+=(-c "$top/packaging/rpm/rpmlint-debian.toml")
rpmlint "${lintflags[@]}" "$work/SPECS/hdrlog.spec" "$srpm" "$rpmfile" \
	>"$work/rpmlint.log" 2>&1
lint_status=$?
sed -n 's/^/rpmlint: /p' "$work/rpmlint.log" | grep -v '^rpmlint: *$'
messages=$(grep -E ': (E|W): ' "$work/rpmlint.log")
check "rpmlint: no error and no warning left" \
	"$([ "$lint_status" -eq 0 ] && [ -z "$messages" ]; echo $?)" "$messages"

finish
