#!/bin/sh
# manpages.sh LIB MANDIR
# Every symbol libipckit exports has a section-3 page, and every page renders
# without a warning with "man -l PATH" from a directory other than MANDIR,
# as a reader of the source tree runs it. A page for a function documented
# on another page is a symbolic link to that page in the same directory (the
# form Debian's dh_installman gives .so pages): man-db resolves ".so
# man3/page.3" only from the root of the manual, so such a page fails here.
# A section-3 page names, in NAME, the function its file is named after.
set -eu
lib=$1 mandir=$(realpath "$2")
command -v man >/dev/null || { echo "man is not installed (scripts/setup.sh installs man-db)"; exit 1; }
missing=0
for sym in $(nm -D --defined-only "$lib" | awk '{ print $NF }' | sed 's/@.*//' | grep '^ipckit_'); do
    if [ ! -f "$mandir/man3/$sym.3" ]; then
        echo "no man page for exported symbol $sym"
        missing=$((missing + 1))
    fi
done
elsewhere=$(mktemp -d)
trap 'rmdir "$elsewhere"' EXIT
cd "$elsewhere"
bad=0 pages=0 links=0
for page in "$mandir"/man1/*.1 "$mandir"/man3/*.3 "$mandir"/man7/*.7; do
    [ -e "$page" ] || [ -L "$page" ] || continue
    pages=$((pages + 1))
    rel=${page#"$mandir"/}
    if [ -L "$page" ]; then
        links=$((links + 1))
        target=$(readlink "$page")
        case "$target" in
        */*) echo "$rel: a link to $target, not to a page in the same directory"; bad=$((bad + 1)); continue ;;
        esac
        if [ ! -f "$page" ] || [ -L "$(dirname "$page")/$target" ]; then
            echo "$rel: a link to $target, which is not a page"; bad=$((bad + 1)); continue
        fi
    elif head -n1 "$page" | grep -q '^\.so'; then
        echo "$rel: a .so page, which \"man -l\" resolves only from the root of the manual;" \
            "make it a symbolic link to the page (ln -s $(basename "$(sed -n '1s/^\.so *//p' "$page")") $(basename "$page"))"
        bad=$((bad + 1))
        continue
    fi
    if ! text=$(MANWIDTH=80 man -l --warnings -E UTF-8 "$page" 2>"$elsewhere.err"); then
        echo "$rel: man failed: $(cat "$elsewhere.err")"
        bad=$((bad + 1))
    elif [ -s "$elsewhere.err" ]; then
        echo "$rel: $(cat "$elsewhere.err")"
        bad=$((bad + 1))
    else
        case "$rel" in
        man3/*)
            fn=$(basename "$page" .3)
            # NAME: the lines between the "NAME" heading and the next one.
            if ! printf '%s\n' "$text" | sed -n '/^NAME/,/^[A-Z]/p' | grep -qw -- "$fn"; then
                echo "$rel: NAME does not name $fn"
                bad=$((bad + 1))
            fi
            ;;
        esac
    fi
done
rm -f "$elsewhere.err"
echo "$pages pages checked ($links links), $missing symbol(s) without a page, $bad page(s) with problems"
[ "$missing" = 0 ] && [ "$bad" = 0 ]
