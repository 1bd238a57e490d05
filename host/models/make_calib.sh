#!/bin/sh
# make_calib.sh - writes the calibration set of `sampan quantize` for the
# Fashion-MNIST demo: the first N images (default 200) of the *training*
# split of Debian's dataset-fashion-mnist, as binary PGM files
# calib/train_NNNNN.pgm (the index in the training split), raw pixels as
# in the idx file. The test split is never used, so the accuracy measured on
# it stays a held-out figure.
#
#   sh host/models/make_calib.sh [N] [OUT_DIR] [IDX_FILE]
set -eu
n=${1:-200}
out=${2:-host/models/calib}
idx=${3:-/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz}

case $n in '' | *[!0-9]*) echo "make_calib: N must be a number" >&2; exit 2 ;; esac
test -r "$idx" || { echo "make_calib: $idx not found (Debian package dataset-fashion-mnist)" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# 16-byte header (magic 00 00 08 03, 60000, 28, 28), then 784 bytes per image.
zcat -f "$idx" | head -c $((16 + n * 784)) > "$tmp"
test "$(od -An -tx1 -N4 "$tmp" | tr -d ' \n')" = 00000803 ||
	{ echo "make_calib: $idx is not an idx3 image file" >&2; exit 1; }
test "$(wc -c < "$tmp")" -eq $((16 + n * 784)) ||
	{ echo "make_calib: $idx holds fewer than $n images" >&2; exit 1; }
mkdir -p "$out"
i=0
while [ "$i" -lt "$n" ]; do
	f=$(printf '%s/train_%05d.pgm' "$out" "$i")
	{ printf 'P5\n28 28\n255\n'; tail -c +$((17 + i * 784)) "$tmp" | head -c 784; } > "$f"
	i=$((i + 1))
done
echo "make_calib: $n images in $out"
