#!/bin/sh
# caps.sh CHANNEL_H PAGE
# Every capability bit IPCKIT_CAP_* that <ipckit/channel.h> defines is
# described in ipckit_caps(3).
set -eu
header=$1 page=$2
caps=$(sed -n 's/^ *\(IPCKIT_CAP_[A-Z0-9_]*\) *=.*/\1/p' "$header")
[ -n "$caps" ] || { echo "no IPCKIT_CAP_* found in $header"; exit 1; }
n=0 bad=0
for c in $caps; do
    n=$((n + 1))
    grep -q "^\.It Dv $c\$" "$page" || { echo "$(basename "$page") does not describe $c"; bad=$((bad + 1)); }
done
echo "$n capability bits, $bad not described in $(basename "$page")"
[ "$bad" = 0 ]
