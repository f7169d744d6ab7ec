#!/usr/bin/env bash
# Regenerates the small real media files under testdata/ with ffmpeg.
# The outputs are committed, so `go test` needs no ffmpeg; run this only to
# change them:  bash testdata/gen.sh
set -euo pipefail
cd "$(dirname "$0")"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
dur=8
vsrc="testsrc2=size=1280x720:rate=30000/1001:duration=$dur"
asrc="sine=frequency=440:sample_rate=48000:duration=$dur"
x264="-c:v libx264 -profile:v high -preset veryfast -bf 2 -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p"

# Two-rung H.264 ladder with identical 2 s GOPs and B-frames, AAC-LC stereo.
ff -f lavfi -i "$vsrc" -f lavfi -i "$asrc" -ac 2 $x264 -b:v 600k -maxrate 900k -bufsize 1200k \
   -c:a aac -b:a 96k -ac 2 -movflags +faststart ladder_720p.mp4
ff -f lavfi -i "$vsrc" -f lavfi -i "$asrc" -vf scale=640:360 $x264 -b:v 250k -maxrate 400k -bufsize 500k \
   -c:a aac -b:a 96k -ac 2 -movflags +faststart ladder_360p.mp4

# H.264 with four slices a picture (several protected ranges a sample, for
# the encryption schemes' subsample rules), video only.
ff -f lavfi -i "testsrc2=size=640x360:rate=25:duration=2" $x264 -slices 4 -b:v 400k -an -movflags +faststart slices4.mp4

# HEVC tagged hvc1 with B-frames, and AC-3 audio.
ff -f lavfi -i "testsrc2=size=640x360:rate=25:duration=4" -f lavfi -i "sine=frequency=330:sample_rate=48000:duration=4" \
   -c:v libx265 -preset ultrafast -x265-params "keyint=50:min-keyint=50:scenecut=0:bframes=2:log-level=error" \
   -b:v 200k -tag:v hvc1 -pix_fmt yuv420p -c:a ac3 -b:a 96k -ac 2 hevc_ac3.mp4

# AV1 (libaom if present, else SVT-AV1).
if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libaom-av1; then
  ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=2" -c:v libaom-av1 -cpu-used 8 -b:v 100k -g 25 -pix_fmt yuv420p av1.mp4
else
  ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=2" -c:v libsvtav1 -svtav1-params log-level=0 -preset 12 -b:v 100k -g 25 -pix_fmt yuv420p av1.mp4
fi

# E-AC-3 audio only (5.1).
ff -f lavfi -i "sine=frequency=550:sample_rate=48000:duration=4" -af "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0" \
   -c:a eac3 -b:a 192k eac3.mp4

# Opus audio only.
ff -f lavfi -i "sine=frequency=660:sample_rate=48000:duration=4" -c:a libopus -b:a 64k -ac 2 opus.mp4

# Fragmented MP4 (CMAF-like, 1 s fragments, with sidx) and a file with moov at the end.
ff -i ladder_360p.mp4 -c copy -movflags +frag_keyframe+empty_moov+default_base_moof+global_sidx \
   -frag_duration 1000000 fragmented.mp4
ff -i ladder_360p.mp4 -c copy moov_end.mp4

# MPEG-TS versions of the 360p rung, plain and with a PTS wrap (33-bit) mid-file.
ff -i ladder_360p.mp4 -c copy -bsf:v h264_mp4toannexb -f mpegts h264_aac.ts
ff -i ladder_360p.mp4 -c copy -bsf:v h264_mp4toannexb -output_ts_offset 95443.5 -f mpegts h264_aac_wrap.ts
ff -i hevc_ac3.mp4 -c copy -bsf:v hevc_mp4toannexb -f mpegts hevc_ac3.ts


# avc3/hev1 with in-band parameter sets repeated at every keyframe (converted
# to avc1/hvc1 by the packager), and an avc3 stream whose parameter sets
# change mid-stream (320x180 High, then 256x144 Main: kept avc3).
x264ps="-c:v libx264 -preset veryfast -g 50 -bf 2 -x264-params repeat-headers=1 -b:v 80k -pix_fmt yuv420p"
ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=4" $x264ps -tag:v avc3 avc3.mp4
ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=4" -c:v libx265 -preset ultrafast \
   -x265-params "keyint=50:min-keyint=50:scenecut=0:bframes=2:repeat-headers=1:log-level=error" \
   -b:v 80k -pix_fmt yuv420p -tag:v hev1 hev1.mp4
tmp=$(mktemp -d)
ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=2" $x264ps "$tmp/a.mp4"
ff -f lavfi -i "testsrc2=size=256x144:rate=25:duration=2" -profile:v main $x264ps "$tmp/b.mp4"
printf "file '%s'\nfile '%s'\n" "$tmp/a.mp4" "$tmp/b.mp4" > "$tmp/list.txt"
ff -f concat -safe 0 -i "$tmp/list.txt" -c copy -tag:v avc3 avc3_change.mp4
rm -r "$tmp"

# Text tracks from subtitles_en.vtt (hand-written, committed): a WebVTT
# (wvtt) text-only MP4 built in Go because FFmpeg 5.1 cannot mux wvtt into
# MP4; the 360p rung with a TTML (stpp, IMSC1 text) track (FFmpeg drops the
# TTML track when the WebVTT input has a STYLE block, hence the sed); and
# Opus audio with a 3GPP timed text (tx3g) track, which is skipped.
(cd .. && go run ./testdata/genwvtt -lang eng testdata/subtitles_en.vtt testdata/wvtt.mp4)
sed '/^STYLE/,/^$/d' subtitles_en.vtt > "${TMPDIR:-/tmp}/subtitles_nostyle.vtt"
ff -i ladder_360p.mp4 -i "${TMPDIR:-/tmp}/subtitles_nostyle.vtt" -map 0:v -map 0:a -map 1 -c:v copy -c:a copy \
   -c:s ttml -metadata:s:s:0 language=eng -movflags +faststart ladder_360p_text.mp4
ff -i opus.mp4 -i subtitles_en.vtt -map 0:a -map 1 -c:a copy -c:s mov_text -metadata:s:s:0 language=eng tx3g.mp4
rm "${TMPDIR:-/tmp}/subtitles_nostyle.vtt"

# The CLI embeds the ladder as its sample (cmafkit package with no input).
cp ladder_720p.mp4 ladder_360p.mp4 ../internal/sample/
