#!/usr/bin/env bash
# Live channels per machine: N channels in one process, each replaying a
# 1080p30 6 Mb/s H.264 + AAC clip in real time (looped on one clock), 2 s
# segments, HLS + DASH, clear and cenc.
#
#   bash bench/live.sh [CHANNEL_COUNTS...]      (default: 10 30 50)
#
# Encodes 20 s of 1080p30 H.264 (6 Mb/s, 2 s closed GOPs, B-frames) + AAC
# once (as bench/run.sh does), then runs `go run ./bench/livebench` for each
# count, clear and cenc, BENCH_SECONDS each (default 60), and prints one
# Markdown table: CPU cores used, cores per channel, the most a publisher
# fell behind real time, the segment availability delay (arrival of the
# sample completing a segment → manifests naming it stored) p50/p99/max,
# memory per channel. BENCH_DIR sets where channels write (default
# $TMPDIR or /tmp; /dev/shm leaves out disk writeback). BENCH_SMOKE=1 makes
# a 2 s 320x180 clip and runs 2 channels for 5 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10 30 50)
secs=${BENCH_SECONDS:-60}
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cmafkit-livebench.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v ffmpeg >/dev/null || { echo "bench: ffmpeg is required" >&2; exit 1; }
if [ -n "${BENCH_SMOKE:-}" ]; then size=320x180 clip=2 rate=500k counts=(2) secs=5; else size=1920x1080 clip=20 rate=${BENCH_RATE:-6M}; fi
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=30" \
	-f lavfi -i sine=frequency=440:sample_rate=48000 -t "$clip" \
	-c:v libx264 -preset veryfast -b:v "$rate" -maxrate "$rate" -bufsize 2M \
	-g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 "$work/clip.mp4"
go build -o "$work/livebench" ./bench/livebench
header=-header
for n in "${counts[@]}"; do
	for enc in "" cenc; do
		"$work/livebench" $header -channels "$n" -duration "${secs}s" -input "$work/clip.mp4" -dir "$work" ${enc:+-encryption "$enc"}
		header=
	done
done
