#!/bin/sh
# citations.sh SOURCE_DIR
# Every test that the documentation cites as proof exists: a citation is
# `test_SUITE: name` (or `conformance: name`), optionally followed by more
# names as `, \`name\``; each name must be a START_TEST() of that suite's
# source (tests/*/test_SUITE.c, plugins/*/tests/; a test_ prefix is allowed)
# or one of its test cases (tk_tcase("name")).
set -eu
src=$1
cd "$src"
files="README.md tests/README.md $(ls docs/*.md docs/backends/*.md 2>/dev/null)"
[ -d plugins ] && files="$files $(find plugins -name '*.md' 2>/dev/null)"
n=0 bad=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# one citation group per line: "FILE<TAB>suite: a`, `b ..."
for f in $files; do
    tr '\n' ' ' < "$f" |
        grep -oE '`(test_[a-z0-9_]+|conformance)(\.[a-z]+)?: [a-z0-9_]+`(,? (and )?`[a-z0-9_]+`)*' |
        sed "s|^|$f	|" >> "$tmp" || true
done
while IFS='	' read -r f cite; do
    suite=$(echo "$cite" | sed 's/^`\([a-z0-9_]*\).*/\1/')
    if [ "$suite" = conformance ]; then
        cfile=tests/conformance/test_conformance.c
    else
        cfile=$(find tests plugins -name "$suite.c" 2>/dev/null | head -n1)
    fi
    names=$(echo "$cite" | sed 's/^`[a-z0-9_.]*: //' | tr -c 'a-z0-9_\n' ' ')
    for name in $names; do
        [ "$name" = and ] && continue
        n=$((n + 1))
        if [ -z "$cfile" ]; then
            echo "$f: cites $suite: $name, but there is no $suite.c"
            bad=$((bad + 1))
        elif ! grep -qE "START_TEST\\((test_)?$name\\)|tk_tcase\\(\"$name\"|^$name\\(" "$cfile"; then
            echo "$f: cites $suite: $name, which $cfile does not have"
            bad=$((bad + 1))
        fi
    done
done < "$tmp"
echo "$n citations of tests, $bad that name no test"
[ "$n" -gt 0 ] || { echo "no citation found: is the pattern still right?"; exit 1; }
[ "$bad" = 0 ]
