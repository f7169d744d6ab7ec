#!/usr/bin/env bash
# VOD packaging speed and memory of cmafkit against `cat` and GPAC MP4Box, in one run
# (issue 23). Prints one Markdown table of ratios taken in the same rounds.
#
#   bash bench/run.sh [SIZE_MB] [REPEATS]     (defaults: 1024 MB, 3 rounds)
#
# Three source shapes, each a 20 s clip (testsrc2 + 48 kHz stereo AAC, 2 s
# closed GOPs) encoded once and looped with `ffmpeg -stream_loop -c copy` to
# SIZE_MB:
#   6M  6 Mb/s 1080p25, x264 veryfast (B-frames)
#   8M  8 Mb/s 1080p30, x264 ultrafast (no B-frames)
#   1M  1 Mb/s 1080p30, x264 veryfast: ~4 KiB video frames, so many small
#       audio runs between them
# For each file system (tmpfs and disk) and source, every round runs back to
# back: `cat SRC > DST` (same file system), `cmafkit package` clear, cenc and
# cbcs (HLS + DASH), and `MP4Box -dash` (HLS + DASH, same segment duration)
# when MP4Box is found. Ratios are medians of the per-round ratios; times are
# medians of wall time (ns resolution); RSS is the peak (GNU time) over the
# rounds. Then the RSS sweep runs clear, cenc and cbcs once on SIZE_MB/4 and
# SIZE_MB*4 sources of each shape (on disk), to show memory flat in the input
# size.
#
# Environment:
#   BENCH_CACHE   base clips and looped sources, kept between runs
#                 (default /tmp/cmafkit-bench; a 4 GiB sweep needs ~16 GiB there)
#   BENCH_TMPFS   a tmpfs directory (default /dev/shm); sources are copied there
#                 for the run and removed afterwards
#   BENCH_FS      file systems to run, "tmpfs disk" (default both)
#   BENCH_SHAPES  sources to run, "6M 8M 1M" (default all three)
#   BENCH_SWEEP   0 skips the RSS sweep
#   BENCH_FFMPEG  1 adds FFmpeg's dash muxer as one more column (for history)
#   MP4BOX        MP4Box binary (default: MP4Box on PATH, else
#                 /tmp/gpac-build/bin/gcc/MP4Box); "none" skips it
#   BENCH_SMOKE   1 (CI): 320x180 2 s clips, nothing cached, a quick check
#                 that the script works: `BENCH_SMOKE=1 bash bench/run.sh 8 1`
# A faster subset: `BENCH_FS=tmpfs BENCH_SWEEP=0 bash bench/run.sh 1024 3`.
# Needs ffmpeg (libx264), GNU time and python3. Not part of go test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
size_mb=${1:-1024}
reps=${2:-3}
command -v ffmpeg >/dev/null || { echo "bench: ffmpeg is required" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required" >&2; exit 1; }

smoke=${BENCH_SMOKE:-}
cache=${BENCH_CACHE:-/tmp/cmafkit-bench}
[ -n "$smoke" ] && cache=""
mkdir -p "${cache:-/tmp}"
work=$(mktemp -d "${cache:-/tmp}/cmafkit-bench-run.XXXXXX")
[ -n "$smoke" ] && cache=$work
tmpfs=${BENCH_TMPFS:-/dev/shm}
fss=${BENCH_FS:-tmpfs disk}
shapes=${BENCH_SHAPES:-6M 8M 1M}
shmwork=""
cleanup() { rm -rf "$work"; [ -z "$shmwork" ] || rm -rf "$shmwork"; }
trap cleanup EXIT

mp4box=${MP4BOX:-}
if [ -z "$mp4box" ]; then
	mp4box=$(command -v MP4Box || true)
	[ -n "$mp4box" ] || [ ! -x /tmp/gpac-build/bin/gcc/MP4Box ] || mp4box=/tmp/gpac-build/bin/gcc/MP4Box
fi
[ "$mp4box" != none ] || mp4box=""
if [ -n "$mp4box" ] && ! "$mp4box" -version >/dev/null 2>&1; then
	echo "bench: $mp4box does not run; leaving MP4Box out" >&2
	mp4box=""
fi

go build -o "$work/cmafkit" ./cmd/cmafkit
key=00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef

# base SHAPE: prints the path of the shape's base clip, encoding it once.
base() {
	local size=1920x1080 secs=20 rate fps preset
	case $1 in
	6M) rate=6M fps=25 preset=veryfast ;;
	8M) rate=8M fps=30 preset=ultrafast ;;
	1M) rate=1M fps=30 preset=veryfast ;;
	*) echo "bench: unknown shape $1" >&2; exit 1 ;;
	esac
	[ -z "$smoke" ] || { size=320x180 secs=2 rate=$(( ${rate%M} * 100 ))k; }
	local out="$cache/base_${1}_${size}_${secs}s.mp4"
	if [ ! -s "$out" ]; then
		ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=$fps" \
			-f lavfi -i sine=frequency=440:sample_rate=48000 -t "$secs" \
			-c:v libx264 -preset "$preset" -b:v "$rate" -maxrate "$rate" -bufsize 2M \
			-g $((fps * 2)) -keyint_min $((fps * 2)) -sc_threshold 0 -pix_fmt yuv420p \
			-c:a aac -b:a 128k -ac 2 "$out.tmp.mp4"
		mv "$out.tmp.mp4" "$out"
	fi
	echo "$out"
}

# source SHAPE MB: prints the path of a source of about MB MiB, looping the base
# clip once and caching the result.
source_of() {
	local b; b=$(base "$1")
	local out="$cache/src_${1}_${2}MB.mp4"
	if [ ! -s "$out" ]; then
		local loops=$(( ($2 * 1048576) / $(stat -c %s "$b") ))
		ffmpeg -hide_banner -loglevel error -y -stream_loop "$loops" -i "$b" -c copy -movflags +faststart "$out.tmp.mp4"
		mv "$out.tmp.mp4" "$out"
	fi
	echo "$out"
}

# measure FS SHAPE ROUND NAME CMD... : appends
# "fs shape round name wall_us rss_kb user_s sys_s" to $work/results. Wall
# time is taken around GNU time at ns resolution (its %e has 10 ms steps);
# GNU time gives peak RSS and CPU time. $out is emptied (and the disk synced)
# before each command, outside the timing.
measure() {
	local fs=$1 shape=$2 round=$3 name=$4; shift 4
	rm -rf "$out" "$out.copy"; mkdir -p "$out"
	sync
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f "%M %U %S" -o "$work/t" "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
	t1=$(date +%s%N)
	echo "$fs $shape $round $name $(( (t1 - t0) / 1000 )) $(cat "$work/t")" >> "$work/results"
}

# rounds FS SHAPE SRC: the commands of one table row, REPEATS rounds.
rounds() {
	local fs=$1 shape=$2 src=$3
	cat "$src" >/dev/null # warm the page cache
	echo "$fs $shape $(stat -c %s "$src")" >> "$work/sizes"
	for r in $(seq "$reps"); do
		measure "$fs" "$shape" "$r" cat sh -c "cat '$src' > '$out.copy'"
		measure "$fs" "$shape" "$r" clear "$work/cmafkit" package -q -o "$out" "$src"
		measure "$fs" "$shape" "$r" cenc "$work/cmafkit" package -q -o "$out" --encryption cenc --key "$key" "$src"
		measure "$fs" "$shape" "$r" cbcs "$work/cmafkit" package -q -o "$out" --encryption cbcs --key "$key" "$src"
		if [ -n "$mp4box" ]; then
			# Both manifests (":dual"), one representation per track, 4 s
			# segments (cmafkit's default) starting at keyframes, in files.
			measure "$fs" "$shape" "$r" mp4box "$mp4box" -quiet -dash 4000 -frag 4000 -rap -profile live \
				-segment-name 'seg_$RepresentationID$_$Number$' -out "$out/manifest.mpd:dual" "$src#video" "$src#audio"
		fi
		if [ -n "${BENCH_FFMPEG:-}" ]; then
			measure "$fs" "$shape" "$r" ffmpeg-dash ffmpeg -hide_banner -loglevel error -y -i "$src" -map 0 -c copy -f dash -seg_duration 4 "$out/manifest.mpd"
		fi
	done
}

echo "## cmafkit VOD packaging benchmark ($(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "- \`bash bench/run.sh $*\`${BENCH_FS:+ BENCH_FS=\"$BENCH_FS\"}${BENCH_SHAPES:+ BENCH_SHAPES=\"$BENCH_SHAPES\"}${BENCH_SWEEP:+ BENCH_SWEEP=$BENCH_SWEEP}; MP4Box: ${mp4box:-not found}"
echo "- load at start:$(uptime | sed 's/.*load average//')"
: > "$work/results"; : > "$work/sizes"
for shape in $shapes; do source_of "$shape" "$size_mb" >/dev/null; done
for fs in $fss; do
	case $fs in
	tmpfs)
		[ -d "$tmpfs" ] || { echo "bench: no tmpfs at $tmpfs; skipping" >&2; continue; }
		shmwork=$(mktemp -d "$tmpfs/cmafkit-bench.XXXXXX")
		out=$shmwork/out
		for shape in $shapes; do
			cp "$(source_of "$shape" "$size_mb")" "$shmwork/src.mp4"
			rounds tmpfs "$shape" "$shmwork/src.mp4"
			rm -f "$shmwork/src.mp4"
		done
		rm -rf "$shmwork"; shmwork=""
		;;
	disk)
		out=$work/out
		for shape in $shapes; do rounds disk "$shape" "$(source_of "$shape" "$size_mb")"; done
		;;
	*) echo "bench: unknown file system $fs (tmpfs or disk)" >&2; exit 1 ;;
	esac
done
rm -rf "$work/out" "$work/out.copy"

: > "$work/sweep"
if [ "${BENCH_SWEEP:-1}" != 0 ]; then
	out=$work/out
	for shape in $shapes; do
		for mb in $(( size_mb / 4 )) $(( size_mb * 4 )); do
			src=$(source_of "$shape" "$mb")
			bytes=$(stat -c %s "$src")
			cat "$src" >/dev/null
			for mode in clear cenc cbcs; do
				enc=(); [ $mode = clear ] || enc=(--encryption "$mode" --key "$key")
				/usr/bin/time -f "%M" -o "$work/t" "$work/cmafkit" package -q -o "$out" "${enc[@]}" "$src" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
				echo "$shape $bytes $mode $(cat "$work/t")" >> "$work/sweep"
				rm -rf "$out"
			done
		done
	done
fi
echo "- load at end:$(uptime | sed 's/.*load average//')"

python3 - "$work/results" "$work/sweep" "$work/sizes" <<'PY'
import sys, statistics as st
res = {}   # (fs, shape) -> name -> [(round, wall, rss, cpu)]
sizes = {}
for line in open(sys.argv[3]):
    fs, shape, size = line.split()
    sizes[(fs, shape)] = int(size)
for line in open(sys.argv[1]):
    fs, shape, rnd, name, wall_us, rss, user, sys_ = line.split()
    res.setdefault((fs, shape), {}).setdefault(name, []).append((rnd, int(wall_us) / 1e6, int(rss), float(user) + float(sys_)))

def paired(cmds, a, b):
    ra = {r: w for r, w, _, _ in cmds.get(a, [])}
    rb = {r: w for r, w, _, _ in cmds.get(b, [])}
    rs = [ra[r] / max(rb[r], 1e-6) for r in ra if r in rb]
    return st.median(rs) if rs else None

def med(cmds, n, i=1):
    return st.median(x[i] for x in cmds[n]) if n in cmds else None

def fmt(x, f="{:.3f}"):
    return "–" if x is None else f.format(x)

def mark(ok):
    return "" if ok is None else (" ✓" if ok else " ✗")

targets = []
shape_name = {"6M": "6 Mb/s 1080p25", "8M": "8 Mb/s 1080p30 ultrafast", "1M": "1 Mb/s 1080p30"}
if res:
    rounds = len(next(iter(next(iter(res.values())).values())))
    print(f"\nMedians of {rounds} rounds; ratios are medians of per-round ratios "
          "(targets: clear ≤ 1.0× cat, MP4Box ≥ 3× clear, cenc and cbcs ≤ 1.2× clear, RSS ≤ 32 MiB).\n")
    print("| fs | source | MiB | cat s | clear s | clear/cat | cenc s | cenc/clear | cbcs s | cbcs/clear | MP4Box s | MP4Box/clear | peak RSS MiB (clear/cenc/cbcs) | CPU s (cat/clear/cenc/cbcs/MP4Box) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (fs, shape), cmds in res.items():
        cc = paired(cmds, "clear", "cat")
        ce = paired(cmds, "cenc", "clear")
        cb = paired(cmds, "cbcs", "clear")
        mb = paired(cmds, "mp4box", "clear")
        rss = [max(x[2] for x in cmds[n]) / 1024 for n in ("clear", "cenc", "cbcs")]
        cpu = [med(cmds, n, 3) for n in ("cat", "clear", "cenc", "cbcs", "mp4box")]
        size = shape_name.get(shape, shape)
        print(f"| {fs} | {size} | {sizes.get((fs, shape), 0) / 2**20:.0f} | {fmt(med(cmds, 'cat'))} | {fmt(med(cmds, 'clear'))} | {fmt(cc, '{:.2f}×')}{mark(cc <= 1.0)} "
              f"| {fmt(med(cmds, 'cenc'))} | {fmt(ce, '{:.2f}×')}{mark(ce <= 1.2)} | {fmt(med(cmds, 'cbcs'))} | {fmt(cb, '{:.2f}×')}{mark(cb <= 1.2)} "
              f"| {fmt(med(cmds, 'mp4box'))} | {fmt(mb, '{:.1f}×')}{mark(None if mb is None else mb >= 3)} "
              f"| {'/'.join(f'{r:.1f}' for r in rss)}{mark(max(rss) <= 32)} | {'/'.join(fmt(c, '{:.2f}') for c in cpu)} |")
        if "ffmpeg-dash" in cmds:
            fd = paired(cmds, "ffmpeg-dash", "clear")
            print(f"| {fs} | {size} | ffmpeg -f dash {fmt(med(cmds, 'ffmpeg-dash'))} s, {fmt(fd, '{:.1f}×')} clear | | | | | | | | | | | |")

sweep = {}
for line in open(sys.argv[2]):
    shape, size, mode, rss = line.split()
    sweep.setdefault(shape, {}).setdefault(int(size), {})[mode] = int(rss) / 1024
for (fs, shape), cmds in res.items():
    if fs == "disk" and sweep:
        sweep.setdefault(shape, {})[sizes[(fs, shape)]] = {n: max(x[2] for x in cmds[n]) / 1024 for n in ("clear", "cenc", "cbcs")}
if sweep:
    print("\nPeak RSS (MiB, GNU time) by input size, on disk, one run each:\n")
    print("| source | input MiB | clear | cenc | cbcs |")
    print("|---|---|---|---|---|")
    for shape, sizes in sweep.items():
        for size, modes in sorted(sizes.items()):
            print(f"| {shape_name.get(shape, shape)} | {size / 2**20:.0f} | " +
                  " | ".join(f"{modes.get(m, 0):.1f}{mark(modes.get(m, 0) <= 32)}" for m in ("clear", "cenc", "cbcs")) + " |")
PY
