#!/usr/bin/env bash
# Puts the German credit data set (credit-g.arff, from Debian's weka package, examples folder)
# at $1, downloading the package with apt-get (no Java needed: nothing is installed).
set -euo pipefail
out="$1"
[ -s "$out" ] && exit 0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download weka >/dev/null 2>&1)
dpkg-deb -x "$work"/weka_*.deb "$work/root"
mkdir -p "$(dirname "$out")"
cp "$work/root/usr/share/doc/weka/examples/credit-g.arff" "$out"
