#!/usr/bin/env bash
# Packaging speed and memory of cmafkit against cat, cp and ffmpeg, in one run.
#
#   bash bench/run.sh [SIZE_MB] [REPEATS]     (defaults: 1024 MB, 3 repeats)
#
# Encodes 20 s of 1080p30 H.264 (6 Mb/s, 2 s closed GOPs, B-frames) + AAC
# stereo once, loops it with `ffmpeg -stream_loop -c copy` into a source of
# SIZE_MB (no long encode) and one of a quarter of the size, then alternates
# the commands REPEATS times each and prints a Markdown table of median wall
# time, MB/s and peak RSS with the ratios cmafkit/cat, cmafkit/cp and
# ffmpeg/cmafkit. Needs ffmpeg (libx264) and GNU time.
# BENCH_RATE sets the video bit rate of the base clip (default 6M): FFmpeg's cost
# is per packet, so a lower rate (more packets per GiB) slows it down more than us.
# BENCH_DIR sets where the sources and outputs go (default $TMPDIR or /tmp); on a
# tmpfs such as /dev/shm the figures leave out disk writeback, which dominates the
# variance on a busy machine.
# Not part of go test. CI runs `BENCH_SMOKE=1 bash bench/run.sh 8 1` (a 2 s
# 320x180 base clip) so that the script cannot rot.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
size_mb=${1:-1024}
reps=${2:-3}
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cmafkit-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v ffmpeg >/dev/null || { echo "bench: ffmpeg is required" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required" >&2; exit 1; }

go build -o "$work/cmafkit" ./cmd/cmafkit
key=00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef

base="$work/base.mp4"
if [ -n "${BENCH_SMOKE:-}" ]; then base_size=320x180 base_secs=2 base_rate=500k; else base_size=1920x1080 base_secs=20 base_rate=${BENCH_RATE:-6M}; fi
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=$base_size:rate=30" \
	-f lavfi -i sine=frequency=440:sample_rate=48000 -t "$base_secs" \
	-c:v libx264 -preset veryfast -b:v "$base_rate" -maxrate "$base_rate" -bufsize 2M \
	-g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 "$base"

make_source() { # $1 = MB, $2 = output
	local loops=$(( ($1 * 1048576) / $(stat -c %s "$base") ))
	ffmpeg -hide_banner -loglevel error -y -stream_loop "$loops" -i "$base" -c copy -movflags +faststart "$2"
}

# measure ROUND NAME CMD... : appends "round name wall_us rss_kb user_s sys_s"
# to $work/results. Wall time is taken around GNU time at nanosecond
# resolution (its own %e has 10 ms steps, too coarse for runs of a tenth of a
# second); GNU time gives the peak RSS and the CPU time, which a busy shared
# machine disturbs less than wall time.
measure() {
	local round=$1 name=$2; shift 2
	rm -rf "$work/out" "$work/copy"; mkdir -p "$work/out"
	sync
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f "%M %U %S" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	t1=$(date +%s%N)
	echo "$round $name $(( (t1 - t0) / 1000 )) $(cat "$work/t")" >> "$work/results"
}

run_size() { # $1 = MB
	local in="$work/in_$1.mp4"
	make_source "$1" "$in"
	local bytes; bytes=$(stat -c %s "$in")
	: > "$work/results"
	cat "$in" > /dev/null # warm the page cache once
	for r in $(seq "$reps"); do
		measure "$r" cat sh -c "cat '$in' > '$work/copy'"
		measure "$r" cp cp "$in" "$work/copy"
		measure "$r" cmafkit "$work/cmafkit" package -q -o "$work/out" "$in"
		measure "$r" cmafkit-cenc "$work/cmafkit" package -q -o "$work/out" --encryption cenc --key "$key" "$in"
		measure "$r" cmafkit-cbcs "$work/cmafkit" package -q -o "$work/out" --encryption cbcs --key "$key" "$in"
		measure "$r" ffmpeg-dash ffmpeg -hide_banner -loglevel error -y -i "$in" -map 0 -c copy -f dash -seg_duration 4 "$work/out/manifest.mpd"
		measure "$r" ffmpeg-hls ffmpeg -hide_banner -loglevel error -y -i "$in" -map 0 -c copy -f hls -hls_time 4 -hls_segment_type fmp4 -hls_playlist_type vod "$work/out/master.m3u8"
	done
	python3 - "$work/results" "$bytes" <<'PY'
import sys, statistics as st
rows, rounds = {}, {}
for line in open(sys.argv[1]):
    rnd, name, wall_us, rss, user, sys_ = line.split()
    w = int(wall_us) / 1e6
    rows.setdefault(name, []).append((w, int(rss), float(user) + float(sys_)))
    rounds.setdefault(rnd, {})[name] = w
size = int(sys.argv[2])
med = {n: (st.median(x[0] for x in v), max(x[1] for x in v), st.median(x[2] for x in v)) for n, v in rows.items()}
print(f"\n### input {size/2**20:.0f} MiB (median of {len(next(iter(rows.values())))} runs)\n")
print("| command | wall s | MB/s | peak RSS MiB | CPU s | vs cat | vs cp |")
print("|---|---|---|---|---|---|---|")
for n, (w, r, cpu) in med.items():
    print(f"| {n} | {w:.3f} | {size/1e6/max(w,1e-3):.0f} | {r/1024:.1f} | {cpu:.2f} | {w/max(med['cat'][0],1e-3):.2f}× | {w/max(med['cp'][0],1e-3):.2f}× |")
c = med["cmafkit"][0]
# Ratios within each round (the commands of a round ran back to back), then
# their median: steadier on a shared machine than a ratio of medians.
def paired(a, b):
    return st.median(r[a] / r[b] for r in rounds.values())
print(f"\ncmafkit clear vs ffmpeg: dash {med['ffmpeg-dash'][0]/max(c,1e-3):.1f}× faster, hls {med['ffmpeg-hls'][0]/max(c,1e-3):.1f}× faster "
      f"(median of per-round ratios: {paired('ffmpeg-dash', 'cmafkit'):.1f}×, {paired('ffmpeg-hls', 'cmafkit'):.1f}×); "
      f"cenc/clear {med['cmafkit-cenc'][0]/max(c,1e-3):.2f}, cbcs/clear {med['cmafkit-cbcs'][0]/max(c,1e-3):.2f} "
      f"(per round: {paired('cmafkit-cenc', 'cmafkit'):.2f}, {paired('cmafkit-cbcs', 'cmafkit'):.2f}; "
      f"CPU time: {med['cmafkit-cenc'][2]/max(med['cmafkit'][2],1e-3):.2f}, {med['cmafkit-cbcs'][2]/max(med['cmafkit'][2],1e-3):.2f})")
PY
}

echo "## cmafkit packaging benchmark ($(nproc) cores, $(date -u +%Y-%m-%d))"
run_size "$size_mb"
run_size $(( size_mb / 4 ))
