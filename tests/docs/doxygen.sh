#!/bin/sh
# doxygen.sh DOXYGEN DOXYFILE HTMLDIR SRCDIR BINDIR
# Build the API reference (warnings are errors), then check that it has a
# page for every public header, SRCDIR/include/ipckit/*.h and the generated
# BINDIR/include/ipckit/*.h, and that each function a header declares with
# IPCKIT_API is documented on that page. Doxygen leaves out, without a
# warning, a header whose first comment lacks "@file".
set -eu
doxygen=$1 doxyfile=$2 html=$3 src=$4 bin=$5
rm -rf "$html"
(cd "$(dirname "$doxyfile")" && "$doxygen" "$doxyfile")
[ -f "$html/index.html" ] || { echo "no reference in $html"; exit 1; }
headers=0 functions=0 bad=0
for h in "$src"/include/ipckit/*.h "$bin"/include/ipckit/*.h; do
    [ -f "$h" ] || continue
    name=$(basename "$h")
    # Doxygen's page name: "_" doubled, "." as "_8".
    page="$html/$(printf '%s' "$name" | sed 's/_/__/g; s/\./_8/g').html"
    headers=$((headers + 1))
    if [ ! -f "$page" ]; then
        echo "<ipckit/$name> is not in the reference (no $(basename "$page"); does its first comment say @file?)"
        bad=$((bad + 1))
        continue
    fi
    for fn in $(sed -n 's/^IPCKIT_API.*[ *]\(ipckit_[a-z0-9_]*\)(.*/\1/p' "$h"); do
        functions=$((functions + 1))
        if ! grep -q "</span>$fn()</h2>" "$page"; then
            echo "<ipckit/$name>: $fn() is not documented in the reference"
            bad=$((bad + 1))
        fi
    done
done
echo "reference: $headers headers, $functions functions checked, $bad missing"
[ "$headers" -gt 0 ] && [ "$bad" = 0 ]
