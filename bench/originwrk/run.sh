#!/usr/bin/env bash
# bench/originwrk/run.sh — the just-in-time origin under wrk, against a ceiling
# measured in the same run.
#
#   bash bench/originwrk/run.sh [SIZE_MB]        (default 1024)
#
# Environment: BENCH_DIR (work directory, default /dev/shm), SRC (an existing
# source MP4 with a video_1080p_avc rendition, skips the encode), DUR (wrk
# duration per phase, default 10s; ROUNDS, default 3), CLIENTS (default 64), TITLES (unseen titles
# for the first-byte phase, default 40), CACHE_MB (the origin's --cache-mb,
# default 256).
#
# It makes a 1080p30 6 Mb/s H.264 + AAC source (2 s GOPs, 4 s segments of about
# 3 MB) as bench/originload does, then:
#   1. first byte of the first video segment of TITLES unseen titles (hard links
#      of the source, so one page cache), one at a time, with curl;
#   2. wrk (2 threads, CLIENTS connections, random video segments) against four
#      servers running side by side: the ceiling, `cmafkit serve` (Go net/http,
#      sendfile) serving the very segments the origin serves, written to files
#      beforehand; and one origin each for clear, /cenc/ and /cbcs/ (its media
#      playlist fetched first, as a player does). ROUNDS rounds of DUR a server,
#      alternating, so that a change in the machine's load hits all alike.
# It prints a markdown table: median requests/s (every round in brackets),
# median p50/p99 latency, the ratio to the ceiling's median, each server's CPU
# seconds (and per request) and peak RSS (VmHWM).
set -euo pipefail

size_mb=${1:-1024}
dir=${BENCH_DIR:-/dev/shm}
dur=${DUR:-10s}
clients=${CLIENTS:-64}
titles=${TITLES:-40}
cache_mb=${CACHE_MB:-256}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

command -v wrk >/dev/null || { echo "wrk not installed (Debian: apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 1; }

work=$(mktemp -d "$dir/cmafkit-originwrk.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/cmafkit" ./cmd/cmafkit)
mkdir -p "$work/titles"
if [[ -n "${SRC:-}" ]]; then
	ln "$SRC" "$work/titles/src.mp4" 2>/dev/null || cp "$SRC" "$work/titles/src.mp4"
else
	ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 \
		-f lavfi -i sine=frequency=440:sample_rate=48000 -t 20 -c:v libx264 -preset veryfast \
		-b:v 6M -maxrate 6M -bufsize 2M -g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -pix_fmt yuv420p \
		-c:a aac -b:a 128k -ac 2 "$work/base.mp4"
	loops=$(( (size_mb << 20) / $(stat -c %s "$work/base.mp4") ))
	ffmpeg -hide_banner -loglevel error -y -stream_loop "$loops" -i "$work/base.mp4" -c copy \
		-movflags +faststart "$work/titles/src.mp4"
fi
for i in $(seq -w 0 $((titles - 1))); do ln "$work/titles/src.mp4" "$work/titles/t$i.mp4"; done
cat "$work/titles/src.mp4" >/dev/null # into the page cache

# start_origin starts `cmafkit origin` and sets pid and base.
start_origin() {
	"$work/cmafkit" origin --addr 127.0.0.1:0 --quiet --cache-mb "$cache_mb" \
		--key 00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef "$work/titles" >"$work/origin.out" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 400); do
		base=$(grep -o 'http://[0-9.:]*' "$work/origin.out" | head -1 || true)
		[[ -n "$base" ]] && return
		sleep 0.05
	done
	echo "origin did not start: $(cat "$work/origin.out")" >&2
	exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; } # user + system seconds
peak() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# wrk_phase URL PREFIX prints "req/s p50ms p99ms".
wrk_phase() {
	wrk -t2 -c"$clients" -d"$dur" --latency -s "$here/random.lua" "$1" -- "$2" "$nseg" >"$work/wrk.out" 2>&1 ||
		{ echo "wrk failed: $(cat "$work/wrk.out")" >&2; exit 1; }
	awk '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/^ *50%/ { p50 = ms($2) } /^ *99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
		/Non-2xx/ { bad = $NF }
		END { if (bad) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 }; printf "%.0f %.1f %.1f", rps, p50, p99 }' "$work/wrk.out"
}

echo "load before: $(uptime)"
echo
echo "| phase | requests/s | p50 ms | p99 ms | ratio to ceiling | server CPU s | server peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"

# 1. First byte of unseen titles.
start_origin
c0=$(cpu "$pid")
for i in $(seq -w 0 $((titles - 1))); do
	curl -sSf -o /dev/null -w '%{time_starttransfer}\n' "$base/t$i.mp4/video_1080p_avc/seg-1.m4s"
done | sort -n >"$work/fb.txt"
c1=$(cpu "$pid")
awk -v cpu="$(echo "$c1 - $c0" | bc)" -v rss="$(peak "$pid")" '{a[NR] = $1 * 1000}
	END { i50 = int(NR * 0.5) + 1; i99 = int(NR * 0.99) + 1; if (i99 > NR) i99 = NR
		printf "| first byte, unseen 1 GiB title (%d titles, one at a time) | | %.1f | %.1f | | %.2f (%.1f ms a title) | %s |\n", NR, a[i50], a[i99], cpu, cpu * 1000 / NR, rss }' "$work/fb.txt"

# The segments the origin serves, as files for the ceiling.
nseg=$(curl -sf "$base/src.mp4/video_1080p_avc.m3u8" | grep -c '^#EXTINF')
mkdir -p "$work/pkg/video_1080p_avc"
for i in $(seq 1 "$nseg"); do curl -sSf -o "$work/pkg/video_1080p_avc/seg-$i.m4s" "$base/src.mp4/video_1080p_avc/seg-$i.m4s"; done
stop "$pid"
seg_mb=$(du -sm "$work/pkg" | awk -v n="$nseg" '{printf "%.1f", $1 / n}')

# Four servers at once — the ceiling and one origin per scheme (so that each
# origin's peak RSS is its own) — measured in ROUNDS rounds, alternating, so
# that a change of the machine's load hits them alike; medians are reported.
"$work/cmafkit" serve --addr 127.0.0.1:0 "$work/pkg" >"$work/serve.out" 2>&1 &
spid=$!
pids+=("$spid")
for _ in $(seq 400); do
	sbase=$(grep -o 'http://[0-9.:]*' "$work/serve.out" | head -1 || true)
	[[ -n "$sbase" ]] && break
	sleep 0.05
done
declare -A opid obase
for scheme in clear cenc cbcs; do
	start_origin
	opid[$scheme]=$pid
	obase[$scheme]=$base
	prefix=""
	[[ $scheme != clear ]] && prefix="$scheme/"
	curl -sSf -o /dev/null "$base/${prefix}src.mp4/video_1080p_avc.m3u8" # renders: sizes known, as after a player's first request
done
declare -A cpu0 reqs
for name in ceiling clear cenc cbcs; do
	p=${opid[$name]:-$spid}
	cpu0[$name]=$(cpu "$p")
	: >"$work/$name.txt"
done
for round in $(seq "${ROUNDS:-3}"); do
	for name in ceiling clear cenc cbcs; do
		case $name in
		ceiling) r=$(wrk_phase "$sbase" /video_1080p_avc/seg-) ;;
		clear) r=$(wrk_phase "${obase[clear]}" /src.mp4/video_1080p_avc/seg-) ;;
		*) r=$(wrk_phase "${obase[$name]}" "/$name/src.mp4/video_1080p_avc/seg-") ;;
		esac
		echo "$r $(awk '/^ *[0-9]+ requests in/ {print $1}' "$work/wrk.out")" >>"$work/$name.txt"
	done
done
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ceil=$(cut -d' ' -f1 "$work/ceiling.txt" | median)
for name in ceiling clear cenc cbcs; do
	p=${opid[$name]:-$spid}
	used=$(echo "$(cpu "$p") - ${cpu0[$name]}" | bc)
	n=$(awk '{s += $4} END {print s}' "$work/$name.txt")
	rps=$(cut -d' ' -f1 "$work/$name.txt" | median)
	p50=$(cut -d' ' -f2 "$work/$name.txt" | median)
	p99=$(cut -d' ' -f3 "$work/$name.txt" | median)
	label="origin, $name"
	[[ $name == ceiling ]] && label="ceiling: cmafkit serve (sendfile) of the same segment files"
	awk -v l="$label" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v c="$ceil" -v used="$used" -v n="$n" -v rss="$(peak "$p")" \
		-v all="$(cut -d' ' -f1 "$work/$name.txt" | paste -sd/)" \
		'BEGIN { printf "| %s | %s (%s) | %s | %s | %.2f | %.1f (%.2f ms a request) | %s |\n", l, rps, all, p50, p99, rps / c, used, used * 1000 / n, rss }'
done
echo
echo "$nseg video segments of $seg_mb MB; $clients connections, wrk -t2, ${ROUNDS:-3} rounds of $dur per server (medians; every round in brackets); origin --cache-mb $cache_mb"
echo "load after: $(uptime)"
