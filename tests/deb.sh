#!/usr/bin/env bash
# tests/deb.sh — the Debian packages of `make deb` (packaging/debian/), built, inspected,
# linted, installed, used and removed.
#
#  1. build: `make deb` makes exactly librtaio1, librtaio-dev and rtaio, each
#     <package>_<changelog version>_<dpkg architecture>.deb; a second `make deb` makes the
#     same bytes (reproducible: mtimes, gzip -n, deterministic archive);
#  2. dpkg-deb --info: Package, Version, Architecture, Section, Priority, Maintainer,
#     Description, Multi-Arch; librtaio1 Depends on libc6 (>= the newest GLIBC_x.y symbol
#     version the library needs, read with objdump -T) and libgcc-s1, the two others on
#     librtaio1 (= version);
#  3. dpkg-deb --contents: each package's file list is exactly the expected one (the man
#     pages from man/), owned by root/root, no file in two packages; librtaio.so.1 and
#     librtaio.so resolve, through the packages' symlinks, to the real file in librtaio1;
#  4. the unpacked packages: md5sums match, no maintainer scripts; librtaio1's triggers
#     (activate-noawait ldconfig), shlibs, and symbols listing exactly the library's exported
#     functions; the library has soname librtaio.so.1 and is stripped, the static library has
#     no debug sections, man pages and changelogs are gzip -n; rtaio.pc and the launcher point
#     at /usr/lib/<triplet>;
#  5. lintian (--pedantic, info tags shown): no E: and no W: line (overrides are listed);
#  6. install with dpkg -i into this system (root, or password-less sudo): status installed,
#     dpkg --verify and dpkg --audit clean, the ldconfig trigger ran (ldconfig -p), man finds
#     the pages;
#  7. a C program built with `cc prog.c $(pkg-config --cflags --libs rtaio)` calls aio_read and
#     rtaio.h's aio_readv; LD_DEBUG=bindings must show aio_read bound to the installed
#     /usr/lib/<triplet>/librtaio.so.1; the same program linked with the static library as
#     README and rtaio(7) say (librtaio.a named, from pkg-config's libdir) has no NEEDED
#     librtaio and works;
#  8. a plain `cc plain.c -lrt` program run through the installed `rtaio` launcher: aio_read
#     bound to librtaio.so.1 (and, run without it, to glibc's libc.so.6);
#  9. dpkg --purge: the packages are gone (dpkg -L fails, no /var/lib/dpkg/info files), no
#     file of theirs is left, and ldconfig no longer knows librtaio.so.1.
#
# Why the real system and not `dpkg --root` into a scratch tree: the installed launcher holds
# the absolute path /usr/lib/<triplet>/librtaio.so.1, programs find librtaio.so.1 through the
# loader's cache that the ldconfig trigger rebuilds, and cc/pkg-config look in /usr: none of
# this can be exercised in a scratch root without chroot, which would need a whole system in
# it. CI runs as root on a fresh Debian machine. The test refuses (FAIL, with what to do) to
# touch a system where librtaio is already installed, and purges what it installed on any exit.
# Without root or password-less sudo, steps 6-9 are reported as SKIP.
#
# Needs dpkg-dev, lintian, pkg-config, a C compiler (tests/deps.sh installs them). Without dpkg
# the suite prints SKIP and `deb: 0 passed, 0 failed`.
# One line per check: `PASS  name`, `FAIL  name` (with details), `SKIP  name (why)`; the last
# line is `deb: N passed, N failed`; exit status 1 if anything failed.
set -u

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) ||
    root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
OUT=$root/build/tests/deb
DEBDIR=$root/build/deb
CC=${CC:-cc}
export LC_ALL=C

pass=0 fail=0
ok() { printf 'PASS  %s\n' "$1"; pass=$((pass + 1)); }
ko() {
    printf 'FAIL  %s\n' "$1"
    fail=$((fail + 1))
    if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | head -n 40 | sed 's/^/      | /'; fi
}
skip() { printf 'SKIP  %s (%s)\n' "$1" "$2"; }
check() { # check NAME DETAILS-IF-FAILED — passes if DETAILS is empty
    if [ -z "$2" ]; then ok "$1"; else ko "$1" "$2"; fi
}
finish() {
    echo "deb: $pass passed, $fail failed"
    [ $fail -eq 0 ]
    exit
}

if ! command -v dpkg >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "SKIP  deb: dpkg and dpkg-deb not available (not a Debian-based system)"
    echo "deb: 0 passed, 0 failed"
    exit 0
fi
missing=""
for t in dpkg-gencontrol dpkg-shlibdeps dpkg-gensymbols lintian pkg-config "$CC" objdump readelf nm; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
    ko "tools" "missing:$missing (tests/deps.sh installs dpkg-dev, lintian, pkg-config, gcc, binutils)"
    finish
fi

rm -rf "$OUT"
mkdir -p "$OUT"
VERSION=$(sed -nE 's/^VERSION[[:space:]]*:=[[:space:]]*//p' Makefile)
DEBVER=$(sed -nE '1s/^rtaio \(([^)]+)\).*/\1/p' packaging/debian/changelog)
ARCH=$(dpkg --print-architecture)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || "$CC" -print-multiarch)
LIBDIR=usr/lib/$TRIPLET
PKGS="librtaio1 librtaio-dev rtaio"
deb() { printf '%s/%s_%s_%s.deb' "$DEBDIR" "$1" "$DEBVER" "$ARCH"; }
echo "deb: version $DEBVER (upstream $VERSION), $ARCH, $TRIPLET"

# --- 1. build ------------------------------------------------------------------------------
if ! make --no-print-directory deb >"$OUT/make-deb.log" 2>&1; then
    ko "make deb" "$(tail -n 20 "$OUT/make-deb.log")"
    finish
fi
built=$(cd "$DEBDIR" && ls -1 -- *.deb 2>/dev/null | sort)
want=$(for p in $PKGS; do basename "$(deb "$p")"; done | sort)
check "make deb: $(echo $want)" "$(diff <(echo "$want") <(echo "$built") | grep '^[<>]')"
(cd "$DEBDIR" && sha256sum -- *.deb) >"$OUT/sha256.1"
if make --no-print-directory deb >"$OUT/make-deb-2.log" 2>&1; then
    (cd "$DEBDIR" && sha256sum -- *.deb) >"$OUT/sha256.2"
    check "make deb twice: the same bytes" "$(diff "$OUT/sha256.1" "$OUT/sha256.2")"
else
    ko "make deb (second run)" "$(tail -n 20 "$OUT/make-deb-2.log")"
fi
for p in $PKGS; do
    [ -f "$(deb "$p")" ] || { ko "package files" "$(deb "$p") missing"; finish; }
done

# --- 2. control fields ---------------------------------------------------------------------
field() { dpkg-deb --field "$(deb "$1")" "$2"; }
declare -A section=([librtaio1]=libs [librtaio-dev]=libdevel [rtaio]=utils)
declare -A multiarch=([librtaio1]=same [librtaio-dev]=same [rtaio]=no) # dpkg-deb: no field = "no"
for p in $PKGS; do
    errs=""
    [ "$(field "$p" Package)" = "$p" ] || errs+="Package: '$(field "$p" Package)'"$'\n'
    [ "$(field "$p" Version)" = "$DEBVER" ] || errs+="Version: '$(field "$p" Version)'"$'\n'
    [ "$(field "$p" Architecture)" = "$ARCH" ] || errs+="Architecture: '$(field "$p" Architecture)'"$'\n'
    [ "$(field "$p" Section)" = "${section[$p]}" ] || errs+="Section: '$(field "$p" Section)'"$'\n'
    [ "$(field "$p" Priority)" = optional ] || errs+="Priority: '$(field "$p" Priority)'"$'\n'
    [ "$(field "$p" Multi-Arch)" = "${multiarch[$p]}" ] || errs+="Multi-Arch: '$(field "$p" Multi-Arch)'"$'\n'
    field "$p" Maintainer | grep -qE '^[^<>]+ <[^<>@ ]+@[^<>@ ]+>$' || errs+="Maintainer: '$(field "$p" Maintainer)'"$'\n'
    [[ "$(field "$p" Installed-Size)" =~ ^[1-9][0-9]*$ ]] || errs+="Installed-Size: '$(field "$p" Installed-Size)'"$'\n'
    desc=$(field "$p" Description)
    [ "$(printf '%s\n' "$desc" | wc -l)" -ge 2 ] && [ "$(printf '%s\n' "$desc" | head -n1 | wc -c)" -le 81 ] ||
        errs+="Description: synopsis plus a long description expected"$'\n'
    check "$p: control fields" "$errs"
done
# Depends. librtaio1: libc6 (>= X) with X at least the newest GLIBC_ version the library uses.
mkdir -p "$OUT/x"
for p in $PKGS; do dpkg-deb -R "$(deb "$p")" "$OUT/x/$p"; done
reallib=$OUT/x/librtaio1/$LIBDIR/librtaio.so.$VERSION
glibc_need=$(objdump -T "$reallib" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -uV | tail -n1)
dep=$(field librtaio1 Depends)
libc_dep=$(printf '%s\n' "$dep" | tr ',' '\n' | sed -nE 's/^ *libc6 \(>= ([^)]+)\) *$/\1/p')
if [ -n "$libc_dep" ] && [ -n "$glibc_need" ] && dpkg --compare-versions "$libc_dep" ge "$glibc_need"; then
    errs=""
else
    errs="Depends: '$dep': want libc6 (>= $glibc_need or later) (objdump -T: newest GLIBC_$glibc_need)"
fi
printf '%s\n' "$dep" | grep -qE '(^|, )libgcc-s1( \(>= [^)]+\))?(,|$)' ||
    errs+=$'\n'"Depends: '$dep' lacks libgcc-s1 (NEEDED libgcc_s.so.1)"
check "librtaio1: Depends: $dep (glibc symbols up to $glibc_need)" "$errs"
for p in librtaio-dev rtaio; do
    dep=$(field "$p" Depends)
    printf '%s\n' "$dep" | tr ',' '\n' | sed 's/^ *//' | grep -qxF "librtaio1 (= $DEBVER)" &&
        check "$p: Depends: $dep" "" || check "$p: Depends" "'$dep' lacks librtaio1 (= $DEBVER)"
done

# --- 3. file lists -------------------------------------------------------------------------
# contents PACKAGE: "type mode owner path [target]" per entry (path without ./, dirs skipped).
contents() {
    dpkg-deb --contents "$(deb "$1")" | awk '{
        path = $6; sub(/^\.\//, "", path)
        if ($1 ~ /^d/) next
        printf "%s %s %s %s", substr($1, 1, 1), $1, $2, path
        if ($7 == "->") printf " %s", $8
        printf "\n" }'
}
declare -A ftype ftarget owner_of
for p in $PKGS; do
    contents "$p" >"$OUT/$p.contents"
    while read -r t _ _ path target; do
        ftype[$path]=$t
        ftarget[$path]=${target:-}
        owner_of[$path]="${owner_of[$path]:+${owner_of[$path]} }$p"
    done <"$OUT/$p.contents"
done
doc() { printf 'usr/share/doc/%s/copyright\nusr/share/doc/%s/changelog.Debian.gz\nusr/share/lintian/overrides/%s\n' "$1" "$1" "$1"; }
manlist() { for f in man/man"$1"/*."$1"; do echo "usr/share/man/man$1/$(basename "$f").gz"; done; }
expect_librtaio1() { echo "$LIBDIR/librtaio.so.$VERSION"; echo "$LIBDIR/librtaio.so.1"; doc librtaio1; }
expect_librtaio_dev() {
    echo usr/include/rtaio.h; echo "$LIBDIR/librtaio.a"; echo "$LIBDIR/librtaio.so"
    echo "$LIBDIR/pkgconfig/rtaio.pc"; manlist 3; manlist 7; doc librtaio-dev
}
expect_rtaio() { echo usr/bin/rtaio; echo "$LIBDIR/rtaio/rtaio-doctor"; manlist 1; doc rtaio; }
for p in $PKGS; do
    fn=expect_${p//-/_}
    d=$(diff <($fn | sort) <(awk '{print $4}' "$OUT/$p.contents" | sort) | grep '^[<>]' |
        sed -e 's/^</missing:/' -e 's/^>/unexpected:/')
    d+=$(awk '$3 != "root/root" { printf "\n%s owned by %s", $4, $3 }' "$OUT/$p.contents")
    check "$p: contents ($(wc -l <"$OUT/$p.contents") files and links, root/root)" "$d"
done
dups=$(for path in "${!owner_of[@]}"; do
    case ${owner_of[$path]} in *" "*) echo "$path: ${owner_of[$path]}" ;; esac
done)
check "no file in two packages" "$dups"
modes=$(awk -v doctor="$LIBDIR/rtaio/rtaio-doctor" '
             function prog(p) { return p == "usr/bin/rtaio" || p == doctor }
             $1 == "-" && $2 != "-rw-r--r--" && !prog($4) { print $4 " " $2 }
             prog($4) && $2 != "-rwxr-xr-x" { print $4 " " $2 }' "$OUT"/*.contents)
check "modes: 0644 files, 0755 launcher and rtaio-doctor" "$modes"
# Follow symlinks through the union of the three packages down to a regular file.
resolve() {
    local path=$1 n=0
    while [ "${ftype[$path]:-}" = l ] && [ $n -lt 10 ]; do
        local t=${ftarget[$path]}
        case $t in /*) path=${t#/} ;; *) path=$(dirname "$path")/$t ;; esac
        n=$((n + 1))
    done
    [ "${ftype[$path]:-}" = - ] && echo "$path" || echo "unresolved:$path"
}
for link in "$LIBDIR/librtaio.so.1" "$LIBDIR/librtaio.so"; do
    r=$(resolve "$link")
    if [ "$r" = "$LIBDIR/librtaio.so.$VERSION" ] && [ "${owner_of[$r]}" = librtaio1 ]; then
        ok "$link (${owner_of[$link]}) -> ${ftarget[$link]} resolves to $r (librtaio1)"
    else
        ko "$link resolves" "${ftype[$link]:-absent} -> ${ftarget[$link]:-} ends at $r"
    fi
done

# --- 4. the unpacked packages --------------------------------------------------------------
for p in $PKGS; do
    x=$OUT/x/$p
    d=$( (cd "$x" && md5sum --quiet -c DEBIAN/md5sums 2>&1))
    d+=$(diff <(cd "$x" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | sort) \
        <(awk '{print $2}' "$x/DEBIAN/md5sums" | sort) | grep '^[<>]' | sed 's/^/md5sums: /')
    check "$p: md5sums" "$d"
    ctrl=$(find "$x/DEBIAN" -mindepth 1 -printf '%f\n' | sort)
    check "$p: control files $(echo $ctrl) (no maintainer scripts)" \
        "$(grep -vxE 'control|md5sums|shlibs|symbols|triggers' <<<"$ctrl")"
done
x=$OUT/x/librtaio1/DEBIAN
check "librtaio1: triggers: activate-noawait ldconfig" \
    "$(diff <(printf 'activate-noawait ldconfig\n') <(grep -v '^#' "$x/triggers"))"
read -r s_lib s_ver s_dep <"$x/shlibs"
[ "$s_lib $s_ver" = "librtaio 1" ] && [[ "$s_dep" =~ ^librtaio1\ \(\>=\ [0-9.]+\)$ ]] &&
    check "librtaio1: shlibs: $(cat "$x/shlibs")" "" || check "librtaio1: shlibs" "$(cat "$x/shlibs")"
exported=$(nm -D --defined-only "$reallib" | awk '$2 ~ /^[TW]$/ { print $3 }' | sort)
listed=$(awk '/^ / { sub(/@.*/, "", $1); print $1 }' "$x/symbols" | sort)
d=$(diff <(echo "$exported") <(echo "$listed") | grep '^[<>]' | sed -e 's/^</not in symbols:/' -e 's/^>/not exported:/')
[ "$(head -n1 "$x/symbols")" = "librtaio.so.1 librtaio1 #MINVER#" ] || d+=$'\n'"first line: $(head -n1 "$x/symbols")"
check "librtaio1: symbols: the $(echo "$exported" | wc -l) exported functions" "$d"
soname=$(objdump -p "$reallib" | awk '$1 == "SONAME" { print $2 }')
sections=$(readelf -SW "$reallib" | grep -oE '\.(symtab|debug_[a-z]+|comment)\b' | sort -u | tr '\n' ' ')
check "librtaio.so.$VERSION: SONAME $soname, stripped" \
    "$([ "$soname" = librtaio.so.1 ] || echo "SONAME '$soname'")$([ -z "$sections" ] || echo "sections left: $sections")"
check "librtaio.a: no debug sections" \
    "$(objdump -h "$OUT/x/librtaio-dev/$LIBDIR/librtaio.a" 2>/dev/null | grep -oE '\.debug_[a-z]+' | sort -u | tr '\n' ' ')"
gzbad=""
while read -r gz; do
    # gzip header: byte 3 FLG (bit 3 = FNAME), bytes 4-7 MTIME; gzip -9n leaves both zero.
    read -r flg m0 m1 m2 m3 < <(od -An -tu1 -j3 -N5 "$gz")
    if [ $((flg & 8)) -ne 0 ] || [ "$m0$m1$m2$m3" != 0000 ] || ! gzip -t "$gz"; then gzbad+="${gz#"$OUT/x/"} "; fi
done < <(find "$OUT/x" -name '*.gz' -type f)
check "man pages and changelogs: gzip -n" "$gzbad"
pc=$OUT/x/librtaio-dev/$LIBDIR/pkgconfig/rtaio.pc
d=""
for kv in "libdir=/$LIBDIR" "includedir=/usr/include" "Version: $VERSION"; do
    grep -qxF "$kv" "$pc" || d+="rtaio.pc lacks '$kv'"$'\n'
done
check "rtaio.pc: libdir=/$LIBDIR, includedir=/usr/include, Version: $VERSION" "$d"
launcher=$OUT/x/rtaio/usr/bin/rtaio
d=$(sh -n "$launcher" 2>&1)
grep -qxF "lib=\"/$LIBDIR/librtaio.so.1\"" "$launcher" || d+=$'\n'"no lib=\"/$LIBDIR/librtaio.so.1\" line"
check "launcher: sh -n, preloads /$LIBDIR/librtaio.so.1" "$d"

# --- 5. lintian ----------------------------------------------------------------------------
lintian --pedantic -I --show-overrides "$(deb librtaio1)" "$(deb librtaio-dev)" "$(deb rtaio)" \
    >"$OUT/lintian.log" 2>&1
lrc=$?
grep -E '^[EWIPXOC]: ' "$OUT/lintian.log" | sed 's/^/      lintian | /'
nE=$(grep -c '^E: ' "$OUT/lintian.log")
nW=$(grep -c '^W: ' "$OUT/lintian.log")
nO=$(grep -c '^O: ' "$OUT/lintian.log")
if [ "$lrc" -ne 0 ] && [ "$nE" -eq 0 ]; then
    # exit status 1 without an error tag, or 2: lintian itself failed
    ko "lintian ran (rc $lrc)" "$(grep -vE '^(N|[EWIPXOC]): ' "$OUT/lintian.log" | tail -n 10)"
else
    check "lintian: $nE errors, $nW warnings ($nO overridden, each with its reason)" \
        "$(grep -E '^[EW]: ' "$OUT/lintian.log")"
fi

# --- 6-9. install, use, remove -------------------------------------------------------------
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        skip "install, use, remove" "not root and no password-less sudo: cannot install into this system"
        finish
    fi
fi
# dpkg, waiting up to 5 minutes while apt or another dpkg holds its lock.
dpkg_run() {
    local o rc
    for _ in $(seq 60); do
        o=$("${SUDO[@]}" dpkg "$@" 2>&1)
        rc=$?
        if [ $rc -ne 0 ] && grep -qE 'lock.*(locked|held)|frontend lock|unable to lock' <<<"$o"; then
            sleep 5
            continue
        fi
        printf '%s\n' "$o"
        return $rc
    done
    printf '%s\n' "$o"
    return $rc
}
status() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null; }
# Refuse to disturb an existing installation.
d=""
for p in $PKGS; do
    s=$(status "$p")
    case $s in "" | "un "* | "pn "*) ;; *) d+="$p is installed or known to dpkg ($s)"$'\n' ;; esac
done
for path in "${!ftype[@]}"; do
    if [ -e "/$path" ] || [ -L "/$path" ]; then d+="/$path exists"$'\n'; fi
done
known=$(ldconfig -p | grep -F 'librtaio.so.1 ')
[ -z "$known" ] || d+="the loader already knows another librtaio.so.1: $known"$'\n'
if [ -n "$d" ]; then
    ko "this system has no librtaio yet (the test installs and purges the packages)" \
        "$d(remove it first: dpkg --purge $PKGS; or make uninstall with the PREFIX it was installed with)"
    finish
fi
ok "this system has no librtaio yet"

installed=0
cleanup() {
    if [ $installed -eq 1 ]; then
        dpkg_run --purge $PKGS >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP
o=$(dpkg_run -i "$(deb librtaio1)" "$(deb librtaio-dev)" "$(deb rtaio)")
rc=$?
installed=1
printf '%s\n' "$o" >"$OUT/dpkg-install.log"
check "dpkg -i (rc $rc)" "$([ $rc -eq 0 ] || echo "$o" | tail -n 20)"
d=""
for p in $PKGS; do
    s=$(status "$p")
    [ "$s" = "ii $DEBVER" ] || d+="$p: '$s'"$'\n'
done
check "dpkg-query: $PKGS installed at $DEBVER" "$d"
d=$("${SUDO[@]}" dpkg --verify $PKGS 2>&1)
d+=$("${SUDO[@]}" dpkg --audit 2>&1)
check "dpkg --verify, dpkg --audit: clean" "$d"
d=""
for p in $PKGS; do
    listed=$(dpkg -L "$p" 2>&1)
    while read -r _ _ _ path _; do
        grep -qxF "/$path" <<<"$listed" || d+="dpkg -L $p lacks /$path"$'\n'
    done <"$OUT/$p.contents"
done
check "dpkg -L lists every file" "$d"
real=$(readlink -f "/$LIBDIR/librtaio.so.1")
check "/$LIBDIR/librtaio.so.1 -> $real" \
    "$([ "$real" = "/$LIBDIR/librtaio.so.$VERSION" ] && [ -f "$real" ] || echo "resolves to '$real'")"
# is_installed_lib PATH: PATH is the installed librtaio.so.1 — /usr/lib/<triplet>/librtaio.so.1,
# or the same link reached through merged /usr's /lib -> usr/lib (the loader's cache uses /lib).
is_installed_lib() {
    [ "$(basename "$1")" = librtaio.so.1 ] && [ "$(readlink -f "$1")" = "/$LIBDIR/librtaio.so.$VERSION" ] &&
        [ "$(readlink -f "$(dirname "$1")")" = "/$LIBDIR" ]
}
cache=$(ldconfig -p | sed -nE 's/^[[:space:]]*librtaio\.so\.1 \(.*\) => (.*)$/\1/p')
check "ldconfig trigger ran: ldconfig -p: librtaio.so.1 => $cache" \
    "$(is_installed_lib "$cache" || echo "ldconfig -p gives '$cache', not the link to /$LIBDIR/librtaio.so.$VERSION")"
if command -v man >/dev/null 2>&1; then
    d=""
    # aio_writev(3) is `.so man3/aio_readv.3`: man -w names the page it leads to.
    for spf in "1 rtaio rtaio" "7 rtaio rtaio" "3 aio_reap aio_reap" "3 aio_writev aio_readv"; do
        set -- $spf
        w=$(man -w "$1" "$2" 2>&1)
        [ "$w" = "/usr/share/man/man$1/$3.$1.gz" ] || d+="man -w $1 $2: $w"$'\n'
    done
    check "man -w finds the installed pages" "$d"
else
    skip "man -w" "man not installed"
fi

# --- 7. a program built with pkg-config ----------------------------------------------------
T=$OUT/run
mkdir -p "$T"
printf '0123456789abcdef' >"$T/data"
cat >"$T/prog.c" <<'EOF'
/* aio_read of 16 bytes at offset 0; with rtaio.h also aio_readv of 4+6 bytes at offset 6. */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#ifdef WITH_RTAIO_H
#include <rtaio.h>
#endif

static ssize_t finish(struct aiocb *cb) {
    const struct aiocb *list[1] = {cb};
    while (aio_error(cb) == EINPROGRESS) aio_suspend(list, 1, NULL);
    return aio_return(cb);
}

int main(int argc, char **argv) {
    int fd = open(argc > 1 ? argv[1] : "data", O_RDONLY);
    if (fd < 0) { perror("open"); return 1; }
    char buf[16];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd; cb.aio_buf = buf; cb.aio_nbytes = sizeof buf;
    if (aio_read(&cb) != 0) { perror("aio_read"); return 1; }
    ssize_t n = finish(&cb);
    printf("aio_read %zd %.*s\n", n, n > 0 ? (int)n : 0, buf);
#ifdef WITH_RTAIO_H
    char a[4], b[6];
    struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
    struct aiocb vc;
    memset(&vc, 0, sizeof vc);
    vc.aio_fildes = fd; vc.aio_iov = iov; vc.aio_iovcnt = 2; vc.aio_offset = 6;
    if (aio_readv(&vc) != 0) { perror("aio_readv"); return 1; }
    ssize_t m = finish(&vc);
    printf("aio_readv %zd %.4s %.6s\nrtaio.h %d.%d\n", m, a, b, RTAIO_VERSION_MAJOR, RTAIO_VERSION_MINOR);
#endif
    return 0;
}
EOF
# Run a program with the environment of a user of the installed packages (no test overrides).
clean_env=(env -u LD_PRELOAD -u LD_LIBRARY_PATH -u RTAIO_LIBDIR -u PKG_CONFIG_PATH -u LD_DEBUG)
# bound_to PROGRAM SYMBOL FILE... : the objects LD_DEBUG=bindings shows PROGRAM's SYMBOL bound to.
bound_to() {
    local prog=$1 sym=$2
    shift 2
    cat "$@" 2>/dev/null | sed -nE "s/.*binding file ([^ ]*) \[[0-9]+\] to ([^ ]+) \[[0-9]+\]: normal symbol \`$sym'.*/\1 \2/p" |
        awk -v p="$prog" '{ n = split($1, a, "/"); if (a[n] == p) print $2 }' | sort -u
}
cflags=$("${clean_env[@]}" pkg-config --cflags rtaio 2>&1)
libs=$("${clean_env[@]}" pkg-config --libs rtaio 2>&1)
pclibdir=$("${clean_env[@]}" pkg-config --variable=libdir rtaio 2>&1)
pcver=$("${clean_env[@]}" pkg-config --modversion rtaio 2>&1)
check "pkg-config rtaio: --libs '$libs', --cflags '$cflags', libdir $pclibdir, version $pcver" \
    "$([ "$pclibdir" = "/$LIBDIR" ] && [ "$pcver" = "$VERSION" ] && grep -qw -- -lrtaio <<<"$libs" ||
        echo "want libdir /$LIBDIR, version $VERSION, -lrtaio")"
# shellcheck disable=SC2086 # pkg-config's output is a list of words
if out=$("${clean_env[@]}" "$CC" -DWITH_RTAIO_H -o "$T/prog" "$T/prog.c" $cflags $libs 2>&1); then
    ok "cc prog.c \$(pkg-config --cflags --libs rtaio)"
    needed=$(readelf -d "$T/prog" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | tr '\n' ' ')
    got=$(cd "$T" && "${clean_env[@]}" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$T/prog.bind" ./prog data 2>&1)
    rc=$?
    want=$'aio_read 16 0123456789abcdef\naio_readv 10 6789 abcdef\nrtaio.h 0.1'
    check "prog (NEEDED $needed) reads with aio_read and rtaio.h's aio_readv" \
        "$([ $rc -eq 0 ] && [ "$got" = "$want" ] || printf 'rc %s, output:\n%s' "$rc" "$got")"
    b=$(bound_to prog aio_read "$T"/prog.bind.*)
    check "prog: LD_DEBUG=bindings: aio_read bound to $b" \
        "$(is_installed_lib "$b" || echo "want the installed /$LIBDIR/librtaio.so.1")"
else
    ko "cc prog.c \$(pkg-config --cflags --libs rtaio)" "$out"
fi
# The static library, linked as README and rtaio(7) say (-lrtaio, even with pkg-config --static,
# takes librtaio.so).
slibs="$pclibdir/librtaio.a -lpthread -ldl -lgcc_s"
# shellcheck disable=SC2086
if out=$("${clean_env[@]}" "$CC" -DWITH_RTAIO_H -o "$T/prog-static" "$T/prog.c" $cflags $slibs 2>&1); then
    needed=$(readelf -d "$T/prog-static" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | tr '\n' ' ')
    got=$(cd "$T" && "${clean_env[@]}" ./prog-static data 2>&1)
    rc=$?
    d=""
    [ $rc -eq 0 ] && [ "$got" = "$want" ] || d="rc $rc, output: $got"
    case " $needed " in *" librtaio.so.1 "*) d+=" NEEDED librtaio.so.1 (not static)" ;; esac
    nm "$T/prog-static" | grep -qE ' T aio_readv$' || d+=" aio_readv not defined in the program"
    check "prog-static (librtaio.a; NEEDED $needed) works" "$d"
else
    ko "cc prog.c with librtaio.a ($slibs)" "$out"
fi

# --- 8. a plain -lrt program through the installed launcher --------------------------------
launcher=$(PATH=/usr/local/bin:/usr/bin:/bin command -v rtaio)
check "rtaio launcher on PATH: $launcher" "$([ "$launcher" = /usr/bin/rtaio ] || echo "want /usr/bin/rtaio")"
if out=$("${clean_env[@]}" "$CC" -o "$T/plain" "$T/prog.c" -lrt 2>&1); then
    needed=$(readelf -d "$T/plain" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | tr '\n' ' ')
    got=$(cd "$T" && "${clean_env[@]}" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$T/plain-glibc.bind" ./plain data 2>&1)
    b=$(bound_to plain aio_read "$T"/plain-glibc.bind.*)
    check "plain (cc -lrt; NEEDED $needed) alone: aio_read bound to $b" \
        "$([[ "$b" == */libc.so.6 ]] && [ "$got" = "aio_read 16 0123456789abcdef" ] || echo "want glibc's libc.so.6; output: $got")"
    got=$(cd "$T" && "${clean_env[@]}" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$T/plain-rtaio.bind" /usr/bin/rtaio ./plain data 2>&1)
    rc=$?
    check "rtaio ./plain: runs" \
        "$([ $rc -eq 0 ] && [ "$got" = "aio_read 16 0123456789abcdef" ] || printf 'rc %s, output: %s' "$rc" "$got")"
    b=$(bound_to plain aio_read "$T"/plain-rtaio.bind.*)
    check "rtaio ./plain: LD_DEBUG=bindings: aio_read bound to $b" \
        "$(is_installed_lib "$b" || echo "want the installed /$LIBDIR/librtaio.so.1")"
else
    ko "cc plain.c -lrt" "$out"
fi
got=$(cd "$T" && "${clean_env[@]}" /usr/bin/rtaio --stats -- ./plain data 2>&1)
rc=$?
check "rtaio --stats -- ./plain: runs, reports" \
    "$([ $rc -eq 0 ] && grep -q '^___ rtaio statistics' <<<"$got" || printf 'rc %s, output: %s' "$rc" "$got")"
"${clean_env[@]}" /usr/bin/rtaio --help >/dev/null 2>"$T/help.err"
rc=$?
check "rtaio --help: usage, exit 2" "$([ $rc -eq 2 ] && grep -q '^usage: rtaio' "$T/help.err" || echo "rc $rc: $(cat "$T/help.err")")"
"${clean_env[@]}" /usr/bin/rtaio --doctor "$T" >"$T/doctor.out" 2>&1
rc=$?
check "rtaio --doctor: the installed rtaio-doctor runs (exit 0 or 1, a verdict)" \
    "$({ [ $rc -le 1 ] && grep -q '^verdict: ' "$T/doctor.out"; } || echo "rc $rc: $(cat "$T/doctor.out")")"

# --- 9. remove -----------------------------------------------------------------------------
o=$(dpkg_run --purge $PKGS)
rc=$?
printf '%s\n' "$o" >"$OUT/dpkg-purge.log"
[ $rc -eq 0 ] && installed=0
check "dpkg --purge (rc $rc)" "$([ $rc -eq 0 ] || echo "$o" | tail -n 20)"
d=""
for p in $PKGS; do
    s=$(status "$p")
    case $s in "" | "un "* | "pn "*) ;; *) d+="$p: status '$s'"$'\n' ;; esac
    l=$(dpkg -L "$p" 2>/dev/null)
    [ -z "$l" ] || d+="dpkg -L $p still lists files"$'\n'
    [ ! -d "/usr/share/doc/$p" ] || d+="/usr/share/doc/$p left"$'\n'
done
infodir=$(dpkg-query --control-path dpkg 2>/dev/null | head -n1 | xargs -r dirname)
infodir=${infodir:-/var/lib/dpkg/info}
left=$(find "$infodir" -maxdepth 1 -printf '%f\n' 2>/dev/null | grep -E '^(librtaio1|librtaio-dev|rtaio)(:[a-z0-9-]+)?\.' | tr '\n' ' ')
[ -z "$left" ] || d+="$infodir: $left"$'\n'
check "dpkg: $PKGS gone (status, dpkg -L, $infodir)" "$d"
d=""
for path in "${!ftype[@]}"; do
    if [ -e "/$path" ] || [ -L "/$path" ]; then d+="/$path"$'\n'; fi
done
check "no file of the packages left" "$d"
known=$(ldconfig -p | grep -F 'librtaio.so.1 ')
check "ldconfig -p: librtaio.so.1 gone" "$known"
finish
