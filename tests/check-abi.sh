#!/usr/bin/env bash
# ABI checks of the built library (BEHAVIOUR.md "ABI"):
#  - librtaio.so is an x86-64 ELF shared object with SONAME librtaio.so.1, and the
#    librtaio.so.1 link next to it resolves to it;
#  - the dynamic symbol table defines exactly the 21 documented functions (the eight aio
#    functions, their 64 twins, aio_init, and rtaio.h's aio_readv, aio_writev, aio_reap,
#    aio_waitcomplete) and nothing else (standard linker symbols
#    _init/_fini/_edata/_end/__bss_start and version-node names are ignored);
#  - each of them is a function (STT_FUNC, global or weak, default visibility);
#  - no text relocations, non-executable stack;
#  - a program linked with -lrtaio records NEEDED librtaio.so.1 and loads it from
#    $RTAIO_LIBDIR;
#  - librtaio.a defines the same 21 functions;
#  - rtaio.h compiles on its own as C and C++, and its constants equal the library's.
# Last line: `check-abi: N passed, N failed`; exit 1 if anything failed.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, the tally

LIB=$LIBDIR/librtaio.so
HELPERS=$root/tests/helpers # the programs compiled below: abi_*.c, abi_header.cc
OUT=$root/build/tests/abi
mkdir -p "$OUT"

EXPECTED="aio_cancel aio_cancel64 aio_error aio_error64 aio_fsync aio_fsync64 aio_init
aio_read aio_read64 aio_return aio_return64 aio_suspend aio_suspend64 aio_write aio_write64
lio_listio lio_listio64 aio_readv aio_writev aio_reap aio_waitcomplete"
expected_sorted=$(printf '%s\n' $EXPECTED | sort)

if [ ! -f "$LIB" ]; then
    t_fail "library exists: $LIB" "not found (run 'make build')"
    t_closing check-abi
    exit 1
fi

# 1. ELF type
hdr=$(readelf -h "$LIB" 2>&1)
if grep -q 'Type:.*DYN' <<<"$hdr" && grep -q 'Machine:.*X86-64' <<<"$hdr"; then
    t_pass "ELF x86-64 shared object"
else
    t_fail "ELF x86-64 shared object" "$(grep -E 'Type|Machine' <<<"$hdr")"
fi

# 2. SONAME
soname=$(readelf -d "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" = "librtaio.so.1" ]; then
    t_pass "SONAME librtaio.so.1"
else
    t_fail "SONAME librtaio.so.1" "SONAME is '${soname:-<none>}'"
fi

# 3. soname link
if [ -e "$LIBDIR/librtaio.so.1" ] && [ "$(readlink -f "$LIBDIR/librtaio.so.1")" = "$(readlink -f "$LIB")" ]; then
    t_pass "librtaio.so.1 -> librtaio.so"
else
    t_fail "librtaio.so.1 -> librtaio.so" "$(ls -l "$LIBDIR"/librtaio.so* 2>&1)"
fi

# 4. exactly the 17 functions
IGNORE='^(_init|_fini|_edata|_end|__bss_start|_DYNAMIC|_GLOBAL_OFFSET_TABLE_)$'
nm_out=$(nm -D --defined-only "$LIB" 2>&1)
# "A" entries are version-node names (e.g. RTAIO_1) in older binutils: not symbols
actual_sorted=$(awk 'NF >= 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' <<<"$nm_out" |
    grep -Ev "$IGNORE" | sort -u)
missing=$(comm -23 <(echo "$expected_sorted") <(echo "$actual_sorted"))
extra=$(comm -13 <(echo "$expected_sorted") <(echo "$actual_sorted"))
if [ -z "$missing" ] && [ -z "$extra" ]; then
    t_pass "exports exactly the 21 documented functions"
else
    msg=""
    [ -n "$missing" ] && msg+="missing: $(echo $missing)"$'\n'
    [ -n "$extra" ] && msg+="extra ($(echo "$extra" | wc -l)): $(echo "$extra" | head -n 40 | tr '\n' ' ')"
    t_fail "exports exactly the 21 documented functions" "$msg"
fi

# 5. each is a global/weak default-visibility function
syms=$(readelf -W --dyn-syms "$LIB")
bad=""
for s in $EXPECTED; do
    line=$(awk -v s="$s" '{ n = $8; sub(/@.*/, "", n) } n == s && $7 != "UND" { print; exit }' <<<"$syms")
    if [ -z "$line" ]; then
        bad+="$s: not in .dynsym"$'\n'
        continue
    fi
    read -r _ _ _ type bind vis _ _ <<<"$line"
    if [ "$type" != FUNC ] || { [ "$bind" != GLOBAL ] && [ "$bind" != WEAK ]; } || [ "$vis" != DEFAULT ]; then
        bad+="$s: $type $bind $vis"$'\n'
    fi
done
if [ -z "$bad" ]; then t_pass "all 21 are global default-visibility functions"; else t_fail "all 21 are global default-visibility functions" "$bad"; fi

# 6. no text relocations, non-executable stack
dyn=$(readelf -d "$LIB")
if grep -q TEXTREL <<<"$dyn"; then t_fail "no text relocations" "$(grep TEXTREL <<<"$dyn")"; else t_pass "no text relocations"; fi
stack=$(readelf -W -l "$LIB" | grep GNU_STACK)
if [ -n "$stack" ] && ! grep -q 'RWE' <<<"$stack"; then
    t_pass "non-executable stack"
else
    t_fail "non-executable stack" "${stack:-no GNU_STACK header}"
fi

# 7. a program linked with -lrtaio
if gcc -O2 -Wall -Werror "$HELPERS/abi_linked.c" -o "$OUT/linked" -L"$LIBDIR" -lrtaio -Wl,-rpath,"$LIBDIR" >"$OUT/linked.log" 2>&1; then
    needed=$(readelf -d "$OUT/linked" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' | tr '\n' ' ')
    resolved=$(ldd "$OUT/linked" 2>&1 | awk '$1 == "librtaio.so.1" { print $3 }')
    if [[ " $needed " == *" librtaio.so.1 "* ]] &&
        [ "$(readlink -f "$resolved" 2>/dev/null)" = "$(readlink -f "$LIB")" ] &&
        "$OUT/linked"; then
        t_pass "program linked with -lrtaio: NEEDED librtaio.so.1, loads it, uses it"
    else
        t_fail "program linked with -lrtaio: NEEDED librtaio.so.1, loads it, uses it" \
            "NEEDED: $needed; librtaio.so.1 => ${resolved:-?}; exit $("$OUT/linked"; echo $?)"
    fi
else
    t_fail "program linked with -lrtaio builds" "$(cat "$OUT/linked.log")"
fi

# 8. the static library defines the same functions
if [ -f "$LIBDIR/librtaio.a" ]; then
    # readelf, not nm: binutils' nm reports "no symbols" for some of rustc's objects
    a_syms=$(readelf -sW "$LIBDIR/librtaio.a" 2>/dev/null |
        awk '$4 == "FUNC" && $5 == "GLOBAL" && $7 != "UND" { print $8 }' | sort -u)
    a_missing=$(comm -23 <(echo "$expected_sorted") <(echo "$a_syms"))
    if [ -z "$a_missing" ]; then t_pass "librtaio.a defines all 21"; else t_fail "librtaio.a defines all 21" "missing: $(echo $a_missing)"; fi
else
    t_fail "librtaio.a defines all 21" "$LIBDIR/librtaio.a not found"
fi

# 9. rtaio.h: self-contained in C and C++, constants equal to librt-aio/src/abi.rs
INC=$root/librt-aio/include
abi_const() { sed -n "s/^pub const $1: c_int = \(.*\);/\1/p" "$root/librt-aio/src/abi.rs"; }
hdr_log=$OUT/header.log
if gcc -std=c11 -Wall -Wextra -Werror -I"$INC" -DABI_SIGEV_EVENTFD="$(abi_const SIGEV_EVENTFD)" \
    -DABI_LIO_READV="$(abi_const LIO_READV)" -DABI_LIO_WRITEV="$(abi_const LIO_WRITEV)" \
    "$HELPERS/abi_header.c" -o "$OUT/header" -L"$LIBDIR" -lrtaio \
    -Wl,-rpath,"$LIBDIR" >"$hdr_log" 2>&1 && "$OUT/header"; then
    t_pass "rtaio.h compiles alone (C11), constants match the library"
else
    t_fail "rtaio.h compiles alone (C11), constants match the library" "$(cat "$hdr_log")"
fi
if command -v g++ >/dev/null 2>&1; then
    if g++ -Wall -Werror -I"$INC" "$HELPERS/abi_header.cc" -o "$OUT/headercc" -L"$LIBDIR" -lrtaio -Wl,-rpath,"$LIBDIR" \
        >"$hdr_log" 2>&1 && "$OUT/headercc"; then
        t_pass "rtaio.h compiles and links as C++ (extern \"C\")"
    else
        t_fail "rtaio.h compiles and links as C++ (extern \"C\")" "$(cat "$hdr_log")"
    fi
fi

t_closing check-abi
