#!/usr/bin/env bash
# Live soak (issue 17): SOAK_MEDIA (default 2h) of media per channel fed as
# fast as possible through SOAK_CHANNELS (default 4) live channels in one
# process, clear and then cenc, 2 s segments, HLS + DASH, a 60 s window. The
# channels run on a media clock (their Clock advances with the media pushed),
# so window trimming and deletion behave as in a real-time stream of that
# length. Every SOAK_EVERY (default 250ms) of wall clock a line goes to the log:
# wall s, media s, RSS MiB, live heap MiB, objects and bytes stored.
#
#   bash bench/soak.sh [LOG]          (default log: /tmp/cmafkit-soak.log)
#
# The input is a 20 s 1080p30 6 Mb/s H.264 + AAC clip encoded once (as
# bench/live.sh), or SOAK_INPUT. SOAK_REALTIME=10m adds a real-time run of
# that wall-clock length (one channel per SOAK_CHANNELS, speed 1). Prints
# the livebench table row and a soak summary line per run: RSS after the
# first window, min/max/end, and the most objects/bytes stored at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log=${1:-/tmp/cmafkit-soak.log}
media=${SOAK_MEDIA:-2h}
n=${SOAK_CHANNELS:-4}
every=${SOAK_EVERY:-250ms}
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cmafkit-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
input=${SOAK_INPUT:-}
if [ -z "$input" ]; then
	command -v ffmpeg >/dev/null || { echo "soak: ffmpeg is required" >&2; exit 1; }
	input=$work/clip.mp4
	ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30" \
		-f lavfi -i sine=frequency=440:sample_rate=48000 -t 20 \
		-c:v libx264 -preset veryfast -b:v 6M -maxrate 6M -bufsize 2M \
		-g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 "$input"
fi
go build -o "$work/livebench" ./bench/livebench
: >"$log"
header=-header
for enc in "" cenc; do
	"$work/livebench" $header -channels "$n" -speed 0 -media "$media" -window 60s -input "$input" -dir "$work" \
		-log "$log" -every "$every" ${enc:+-encryption "$enc"}
	header=
done
if [ -n "${SOAK_REALTIME:-}" ]; then
	"$work/livebench" -channels "$n" -speed 1 -duration "$SOAK_REALTIME" -window 60s -input "$input" -dir "$work" \
		-log "$log" -every 10s
fi
