#!/usr/bin/env bash
# packaging/debian/build-debs.sh STAGE OUTDIR — called by `make deb`.
#
# STAGE is a `make install DESTDIR=STAGE` tree made with Debian's paths; the directories it used
# come in the environment, as the Makefile's variables: PREFIX LIBDIR INCDIR BINDIR PCDIR MANDIR
# PKGLIBDIR,
# and VERSION (upstream) and MULTIARCH (the triplet). This script
#   1. splits STAGE into the package trees OUTDIR/work/debian/<package>/ (every staged file must
#      land in exactly one package: a file no rule claims stops the build);
#   2. adds what Debian's helpers would: man pages gzipped -9n, /usr/share/doc/<package>/
#      copyright and changelog.Debian.gz, /usr/share/lintian/overrides/<package> (from
#      ./lintian-overrides: each override says why), dh_fixperms' modes, mtimes set to the
#      changelog date;
#   3. librtaio1: DEBIAN/symbols from librtaio1.symbols (dpkg-gensymbols -c4: the build fails if
#      the library exports a symbol more or less than the file lists), DEBIAN/shlibs,
#      DEBIAN/triggers (activate-noawait ldconfig: no maintainer scripts);
#   4. Depends from dpkg-shlibdeps (${shlibs:Depends}), DEBIAN/control from ./control with
#      dpkg-gencontrol (Version from ./changelog, Installed-Size), DEBIAN/md5sums;
#   5. dpkg-deb --root-owner-group --build into OUTDIR/<package>_<version>_<arch>.deb.
# Needs dpkg-dev (dpkg-gencontrol, dpkg-shlibdeps, dpkg-gensymbols, dpkg-parsechangelog).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 STAGE OUTDIR" >&2; exit 2; }
stage=$(realpath "$1")
out=$(realpath -m "$2")
for v in PREFIX LIBDIR INCDIR BINDIR PCDIR MANDIR PKGLIBDIR VERSION MULTIARCH; do
    [ -n "${!v:-}" ] || { echo "build-debs: $v is not set (run 'make deb')" >&2; exit 2; }
done
for t in dpkg-deb dpkg-gencontrol dpkg-shlibdeps dpkg-gensymbols dpkg-parsechangelog; do
    command -v "$t" >/dev/null 2>&1 ||
        { echo "build-debs: $t not found (Debian package dpkg-dev; tests/deps.sh installs it)" >&2; exit 1; }
done
die() { echo "build-debs: $*" >&2; exit 1; }

work=$out/work
rm -rf "$work"
mkdir -p "$work/debian"
cp "$here"/control "$here"/changelog "$here"/copyright "$here"/lintian-overrides "$here"/librtaio1.* \
    "$work/debian/"
cd "$work"

debversion=$(dpkg-parsechangelog -S Version)
[ "${debversion%-*}" = "$VERSION" ] ||
    die "packaging/debian/changelog is at $debversion, the Makefile at $VERSION: add a changelog entry"
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -S Timestamp)
export SOURCE_DATE_EPOCH

# The library package's name comes from the soname (Debian policy 8.1).
real=$LIBDIR/librtaio.so.$VERSION
soname=$(objdump -p "$stage$real" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = librtaio.so.1 ] || die "$real has soname '$soname', the packaging expects librtaio.so.1"
libpkg=librtaio1

# --- 1. split the staged tree ----------------------------------------------------------------
take() { # take PACKAGE PATTERN... — move the staged files (or links) matching each pattern
    local pkg=$1 pat f n
    shift
    for pat in "$@"; do
        n=0
        for f in "$stage"$pat; do
            [ -e "$f" ] || [ -L "$f" ] || continue
            local rel=${f#"$stage"}
            mkdir -p "debian/$pkg$(dirname "$rel")"
            mv "$f" "debian/$pkg$rel"
            n=$((n + 1))
        done
        [ $n -gt 0 ] || die "nothing staged matches $pat (for $pkg)"
    done
}
take "$libpkg" "$LIBDIR/librtaio.so.*"
take librtaio-dev "$LIBDIR/librtaio.so" "$LIBDIR/librtaio.a" "$PCDIR/rtaio.pc" "$INCDIR/rtaio.h" \
    "$MANDIR/man3/*" "$MANDIR/man7/*"
take rtaio "$BINDIR/rtaio" "$MANDIR/man1/*" "$PKGLIBDIR/rtaio-doctor"
left=$(cd "$stage" && find . ! -type d)
[ -z "$left" ] || die "staged files no package claims (add them to a take line):"$'\n'"$left"
rm -rf "$stage" # only empty directories are left

packages=$(sed -n 's/^Package: //p' debian/control)
for pkg in $packages; do
    root=debian/$pkg
    [ -d "$root" ] || die "debian/control lists $pkg, but nothing was put in it"
    # --- 2. what dh_installman, dh_installdocs, dh_installchangelogs and dh_fixperms do -----
    if [ -d "$root$MANDIR" ]; then
        find "$root$MANDIR" -type f ! -name '*.gz' -exec gzip -9n {} +
    fi
    install -D -m 0644 debian/copyright "$root/usr/share/doc/$pkg/copyright"
    gzip -9nc debian/changelog >"$root/usr/share/doc/$pkg/changelog.Debian.gz"
    install -D -m 0644 debian/lintian-overrides "$root/usr/share/lintian/overrides/$pkg"
    find "$root" -type d -exec chmod 0755 {} +
    find "$root" -type f -exec chmod 0644 {} +
    if [ -d "$root$BINDIR" ]; then find "$root$BINDIR" -type f -exec chmod 0755 {} +; fi
    if [ -d "$root$PKGLIBDIR" ]; then find "$root$PKGLIBDIR" -type f -exec chmod 0755 {} +; fi
    mkdir -p "$root/DEBIAN"
    : >"debian/$pkg.substvars"
done

# --- 3. the library package's control files --------------------------------------------------
dpkg-gensymbols -p"$libpkg" -P"debian/$libpkg" -c4 -O"debian/$libpkg/DEBIAN/symbols" ||
    die "the library's exported symbols differ from packaging/debian/librtaio1.symbols (see above)"
install -m 0644 "debian/$libpkg.shlibs" "debian/$libpkg/DEBIAN/shlibs"
install -m 0644 "debian/$libpkg.triggers" "debian/$libpkg/DEBIAN/triggers"

# --- 4. dependencies, control, md5sums -------------------------------------------------------
dpkg-shlibdeps -T"debian/$libpkg.substvars" "debian/$libpkg$real"
dpkg-shlibdeps -T"debian/rtaio.substvars" "debian/rtaio$PKGLIBDIR/rtaio-doctor"
for pkg in $packages; do
    root=debian/$pkg
    find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    (cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z |
        xargs -0r md5sum) >"$root/DEBIAN/md5sums"
    [ -s "$root/DEBIAN/md5sums" ] || rm "$root/DEBIAN/md5sums"
    dpkg-gencontrol -p"$pkg" -P"$root" -T"debian/$pkg.substvars" -f"debian/files"
    chmod 0644 "$root"/DEBIAN/*
    touch -h -d "@$SOURCE_DATE_EPOCH" "$root"/DEBIAN "$root"/DEBIAN/*
done

# --- 5. build -----------------------------------------------------------------------------
rm -f "$out"/*.deb
for pkg in $packages; do
    dpkg-deb --root-owner-group -Zxz --build "debian/$pkg" "$out/" >/dev/null
done
ls -1 "$out"/*.deb
