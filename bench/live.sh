#!/usr/bin/env bash
# Live channels per machine (issue 17): N channels in one process, each fed
# a 1080p30 6 Mb/s H.264 + AAC clip looped in real time, 2 s segments,
# HLS + DASH, clear or encrypted. One command measures the three goals and
# prints one Markdown table row per run, with a verdict for each:
#   - real time: no publisher falls more than a segment duration behind
#     (goal: 50 clear and 30 cenc channels);
#   - the segment availability delay (arrival of the sample completing a
#     segment → manifests naming it stored) p50/p99/max (goal: p99 < 5 ms);
#   - memory per channel: peak live heap and RSS growth, against two segment
#     durations of the measured bit rate plus 1 MiB (about 3.9 MiB).
#
#   bash bench/live.sh [RUN...]    RUN: clear:N, cenc:N, cbcs:N, or N (clear
#                                  and cenc); default: clear:50 cenc:30
#
# BENCH_INGEST=rtmp (the default) sends each channel's samples over RTMP on
# 127.0.0.1 to the RTMP ingest, from a Go RTMP client in the same process
# (gortmplib: the publishers' CPU is counted too; 50 ffmpeg encoders would
# need more than the machine); BENCH_INGEST=direct hands them to the
# channels' live.Publisher. BENCH_SECONDS (default 60) per run. Encodes the
# 20 s clip once first (as bench/run.sh). Runtime with the defaults: about
# 3 minutes on 2 idle cores. BENCH_DIR sets where channels write (default
# $TMPDIR or /tmp; /dev/shm leaves out disk writeback). BENCH_SMOKE=1 makes
# a 2 s 320x180 clip and runs 2 channels for 5 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=()
for a in "${@:-clear:50 cenc:30}"; do
	for r in $a; do
		case $r in
		*:*) runs+=("$r") ;;
		*) runs+=("clear:$r" "cenc:$r") ;;
		esac
	done
done
secs=${BENCH_SECONDS:-60}
ingest=${BENCH_INGEST:-rtmp}
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cmafkit-livebench.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v ffmpeg >/dev/null || { echo "bench: ffmpeg is required" >&2; exit 1; }
if [ -n "${BENCH_SMOKE:-}" ]; then size=320x180 clip=2 rate=500k runs=(clear:2 cenc:2) secs=5; else size=1920x1080 clip=20 rate=${BENCH_RATE:-6M}; fi
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=30" \
	-f lavfi -i sine=frequency=440:sample_rate=48000 -t "$clip" \
	-c:v libx264 -preset veryfast -b:v "$rate" -maxrate "$rate" -bufsize 2M \
	-g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 "$work/clip.mp4"
go build -o "$work/livebench" ./bench/livebench
header=-header
for r in "${runs[@]}"; do
	enc=${r%%:*} n=${r#*:}
	[ "$enc" = clear ] && enc=
	"$work/livebench" $header -channels "$n" -duration "${secs}s" -input "$work/clip.mp4" -dir "$work" -ingest "$ingest" ${enc:+-encryption "$enc"}
	header=
done
