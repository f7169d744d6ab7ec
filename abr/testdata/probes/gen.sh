#!/bin/sh
# Measures real probe encodes of ../../../testdata/ladder_720p.mp4 (8 s,
# 1280x720, 29.97 fps) for the Hull calculator: libx264 veryfast at several
# sizes and bitrates, quality = PSNR (dB, luma+chroma average) of the encode
# scaled back to 1280x720 against the source. ffmpeg here has no libvmaf, so
# PSNR stands in for VMAF; the hull method only needs a monotone score.
# The 1920x1080 rows are upscaled encodes the calculator must ignore.
set -eu
cd "$(dirname "$0")"
src=../../../testdata/ladder_720p.mp4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=ladder_720p.csv
echo "width,height,bitrate,quality" > "$out"
for size in 320x180 640x360 960x540 1280x720 1920x1080; do
  w=${size%x*}; h=${size#*x}
  for kbps in 150 300 600 1200 2400 4800; do
    case $size in 1920x1080) [ "$kbps" -lt 2400 ] && continue;; esac
    ffmpeg -nostdin -v error -y -i "$src" -an -vf "scale=$w:$h" -c:v libx264 -preset veryfast \
      -b:v ${kbps}k -maxrate $((kbps*11/10))k -bufsize $((kbps*2))k "$tmp/e.mp4"
    br=$(ffprobe -v error -select_streams v:0 -show_entries stream=bit_rate -of csv=p=0 "$tmp/e.mp4")
    psnr=$(ffmpeg -nostdin -i "$tmp/e.mp4" -i "$src" -lavfi "[0:v]scale=1280:720:flags=bicubic[a];[a][1:v]psnr" -f null - 2>&1 |
      sed -n 's/.*average:\([0-9.]*\).*/\1/p' | tail -1)
    echo "$w,$h,$br,$psnr" >> "$out"
  done
done
