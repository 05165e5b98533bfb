#!/usr/bin/env bash
# tests/man-check.sh — checks rtaio's manual pages under man/.
#
# For every page (a page that is only `.so OTHER` is checked through OTHER):
#   - roff lint: `groff -man -ww -z -t` must print nothing (groff: Debian package groff-base);
#   - `man --warnings -l` must render it to non-empty text without warnings, and lexgrog must
#     parse its NAME section (man, lexgrog: Debian package man-db);
#   - the sections its manual section needs are present, and .TH names the page;
#   - section 3: SYNOPSIS has `#include <rtaio.h>` and "Link with -lrtaio", the page's own
#     name is in its NAME section, and for every symbol of librt-aio/include/rtaio.h that its
#     SYNOPSIS shows, every errno the header's comment for that symbol mentions is in ERRORS;
#   - section 7: ENVIRONMENT names every RTAIO_* variable of docs/BEHAVIOUR.md.
# Every function declared in rtaio.h must have its man3 page, and rtaio.1 and rtaio.7 must
# exist: a missing page counts as a failed page.
# Output: `PASS  name` or `FAIL  name: reasons` per page, then `man-pages: N passed, N failed`.
# Exit status: 0 if every page passed, 1 otherwise. Installs nothing.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, the tally

mandir=$root/man
header=$root/librt-aio/include/rtaio.h
behaviour=$root/docs/BEHAVIOUR.md
export LC_ALL=C MANWIDTH=80 MANPAGER=cat PAGER=cat
unset MAN_KEEP_FORMATTING MANOPT

report() { # report NAME REASON... (no reason: pass); the reasons go on one line
    local name=$1
    shift
    if [ $# -eq 0 ]; then
        t_pass "$name"
    else
        local IFS=';'
        t_fail "$(echo "$name: $*" | sed 's/;/; /g')"
    fi
}

# --- tools -------------------------------------------------------------------------------
missing=()
command -v groff >/dev/null 2>&1 || missing+=("groff (Debian package: groff-base)")
command -v man >/dev/null 2>&1 || missing+=("man (Debian package: man-db)")
command -v lexgrog >/dev/null 2>&1 || missing+=("lexgrog (Debian package: man-db)")
for m in "${missing[@]+"${missing[@]}"}"; do
    echo "man-check: missing tool: $m"
done

# --- the header: symbol -> errnos its comment mentions -------------------------------------
# A comment block that starts a line applies to the declarations after it, until the next one.
declare -A sym_errnos=()
header_funcs=()
if [ -r "$header" ]; then
    while read -r sym errs; do
        sym_errnos[$sym]=$errs
    done < <(awk '
        function errnos(text,   out, t) {
            out = ""
            while (match(text, /(^|[^A-Za-z0-9_])E[A-Z][A-Z0-9]+([^A-Za-z0-9_]|$)/)) {
                t = substr(text, RSTART, RLENGTH)
                gsub(/[^A-Z0-9]/, "", t)
                if (index(" " out " ", " " t " ") == 0) out = out " " t
                text = substr(text, RSTART + RLENGTH - 1)
            }
            return out
        }
        incomment { buf = buf " " $0; if ($0 ~ /\*\//) { incomment = 0; last = buf }; next }
        /^[ \t]*\/\*/ { buf = $0; if ($0 ~ /\*\//) last = buf; else incomment = 1; next }
        /^#define[ \t]/ { print $2, errnos(last); next }
        /^[A-Za-z_][A-Za-z0-9_ \t*]*[ \t*][A-Za-z_][A-Za-z0-9_]*[ \t]*\(/ {
            line = $0
            sub(/[ \t]*\(.*/, "", line)
            n = split(line, w, /[ \t*]+/)
            print w[n], errnos(last)
        }' "$header")
    header_funcs=($(sed -nE 's/^[A-Za-z_][A-Za-z0-9_ *]*[ *]([a-z_][a-z0-9_]*)[ \t]*\(.*/\1/p' "$header"))
fi
env_vars=()
[ -r "$behaviour" ] && env_vars=($(grep -oE 'RTAIO_[A-Z_]+' "$behaviour" | sort -u))

# --- helpers -------------------------------------------------------------------------------
# section_text FILE HEADING: the source lines of one .SH section (without the .SH line).
section_text() {
    awk -v want="$2" '
        /^\.SH[ \t]/ { h = $0; sub(/^\.SH[ \t]+/, "", h); gsub(/"/, "", h); insec = (h == want); next }
        insec' "$1"
}
has_section() { grep -qE "^\.SH[ \t]+\"?$2\"?[ \t]*$" "$1"; }

# --- the pages -----------------------------------------------------------------------------
expected=(man1/rtaio.1 man7/rtaio.7)
for f in "${header_funcs[@]+"${header_funcs[@]}"}"; do
    expected+=("man3/$f.3")
done
pages=()
if [ -d "$mandir" ]; then
    while IFS= read -r p; do pages+=("${p#"$mandir"/}"); done \
        < <(find "$mandir" -type f -path "$mandir/man*/*" -name '*.[0-9]*' | sort)
fi
for e in "${expected[@]}"; do
    [ -e "$mandir/$e" ] || report "$(basename "$e")" "missing: man/$e"
done
[ -r "$header" ] || report "rtaio.h" "cannot read $header"

for rel in "${pages[@]+"${pages[@]}"}"; do
    page=$(basename "$rel")          # aio_reap.3
    name=${page%.*}                  # aio_reap
    sect=${page##*.}                 # 3
    reasons=()
    if [ ${#missing[@]} -gt 0 ]; then
        report "$page" "not checked, missing: ${missing[*]}"
        continue
    fi
    # Follow a .so link (the page must then hold nothing else but comments).
    src=$mandir/$rel
    so=$(sed -nE 's/^\.so[ \t]+([^ \t]+).*/\1/p' "$src" | head -n 1)
    if [ -n "$so" ]; then
        if grep -vqE '^(\.so[ \t]|\.\\"|$)' "$src"; then
            reasons+=("a .so page must contain only the .so request")
        fi
        if [ -r "$mandir/$so" ]; then
            src=$mandir/$so
        else
            report "$page" ".so target man/$so does not exist"
            continue
        fi
    fi
    if [ "$sect" != "${rel%%/*}" ] && [ "man$sect" != "${rel%%/*}" ]; then
        reasons+=("file in ${rel%%/*}/ but section $sect")
    fi

    # 1. roff lint, from man/ so that .so resolves as it does under MANDIR.
    lint=$(cd "$mandir" && groff -man -ww -z -t "$rel" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ -n "$lint" ]; then
        reasons+=("groff -man -ww -z -t (rc $rc): $(printf '%s' "$lint" | head -n 3 | tr '\n' ' ')")
    fi

    # 2. man renders it, without warnings, to non-empty text; lexgrog reads NAME.
    errf=$(mktemp)
    text=$(cd "$mandir" && man --warnings -l "$rel" 2>"$errf")
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$errf" ]; then
        reasons+=("man --warnings -l (rc $rc): $(head -n 3 "$errf" | tr '\n' ' ')")
    fi
    rm -f "$errf"
    if [ -z "$(printf '%s' "$text" | tr -d '[:space:]')" ]; then
        reasons+=("man -l renders nothing")
    fi
    whatis=$(cd "$mandir" && lexgrog "$rel" 2>&1)
    if [ $? -ne 0 ]; then
        reasons+=("lexgrog cannot parse NAME: $(printf '%s' "$whatis" | head -n 1)")
    elif ! printf '%s\n' "$whatis" | grep -qF ": \"$name - "; then
        reasons+=("NAME section does not list $name")
    fi

    # 3. Structure.
    th=$(grep -m1 -E '^\.TH[ \t]' "$src")
    read -r _ th_title th_sect _ <<<"$th"
    target=$(basename "$src")
    if [ "$th_title" != "$(printf '%s' "${target%.*}" | tr '[:lower:]' '[:upper:]')" ] \
        || [ "$th_sect" != "${target##*.}" ]; then
        reasons+=(".TH '$th_title $th_sect' does not match $target")
    fi
    need=(NAME SYNOPSIS DESCRIPTION "SEE ALSO")
    case $sect in
        3*) need+=("RETURN VALUE" ERRORS) ;;
        1*) need+=("EXIT STATUS" ENVIRONMENT) ;;
        7*) need+=(ENVIRONMENT) ;;
    esac
    for s in "${need[@]}"; do
        has_section "$src" "$s" || reasons+=("no $s section")
    done

    # 4. Section 3: synopsis lines, and the errnos rtaio.h gives each symbol shown.
    case $sect in 3*)
        synopsis=$(section_text "$src" SYNOPSIS)
        rendered=$(printf '%s\n' "$text" | tr -s ' \n' '  ')
        printf '%s' "$rendered" | grep -qF '#include <rtaio.h>' \
            || reasons+=("SYNOPSIS lacks #include <rtaio.h>")
        printf '%s' "$rendered" | grep -qF 'Link with -lrtaio' \
            || reasons+=("SYNOPSIS lacks 'Link with -lrtaio'")
        errors=$(section_text "$src" ERRORS)
        shown=0
        for sym in "${!sym_errnos[@]}"; do
            printf '%s\n' "$synopsis" | grep -qE "(^|[^A-Za-z0-9_])$sym([^A-Za-z0-9_]|$)" || continue
            shown=1
            for e in ${sym_errnos[$sym]}; do
                printf '%s\n' "$errors" | grep -qE "(^|[^A-Za-z0-9_])$e([^A-Za-z0-9_]|$)" \
                    || reasons+=("ERRORS lacks $e (rtaio.h, $sym)")
            done
        done
        [ $shown -eq 1 ] || reasons+=("SYNOPSIS shows no symbol of rtaio.h")
        ;;
    esac

    # 5. Section 7: every RTAIO_* variable of docs/BEHAVIOUR.md.
    case $sect in 7*)
        envtext=$(section_text "$src" ENVIRONMENT)
        for v in "${env_vars[@]+"${env_vars[@]}"}"; do
            printf '%s\n' "$envtext" | grep -qF "$v" \
                || reasons+=("ENVIRONMENT lacks $v (docs/BEHAVIOUR.md)")
        done
        ;;
    esac

    report "$page" "${reasons[@]+"${reasons[@]}"}"
done

if [ ${#pages[@]} -eq 0 ] && [ $failed -eq 0 ]; then
    report "man/" "no manual pages found"
fi
t_closing man-pages
