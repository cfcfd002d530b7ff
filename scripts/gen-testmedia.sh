#!/bin/sh
# Regenerates the camera simulator's recordings under sim/testdata. Run it
# once after changing a parameter and commit the output; tests and the demo
# never run ffmpeg themselves.
#
# Each recording is 10 s of ffmpeg's testsrc pattern, whose built-in counter
# (drawn without a font file, so no fonts package is needed) shows the
# seconds since the start of the recording. The simulator starts every loop
# on a wall-clock multiple of 10 s, so the number on screen is the wall
# clock's seconds modulo 10: a person can check a clip's timing by eye.
#
# 640x360, 25 fps, a keyframe every 25 frames (1 s GOP, no scene-cut
# keyframes), no B-frames (like most traffic cameras), in MPEG-TS so that the
# simulator reads timestamps with mediacommon's demuxer.
set -eu
out=$(dirname "$0")/../sim/testdata
mkdir -p "$out"
common="-hide_banner -loglevel error -y -f lavfi -i testsrc=size=640x360:rate=25:duration=10 -pix_fmt yuv420p -an"
ffmpeg $common -c:v libx264 -profile:v main -preset veryfast -bf 0 \
	-g 25 -keyint_min 25 -sc_threshold 0 -b:v 250k -maxrate 300k -bufsize 300k \
	-f mpegts "$out/camera-h264.ts"
ffmpeg $common -c:v libx265 -preset veryfast \
	-x265-params "log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=0:bitrate=250:vbv-maxrate=300:vbv-bufsize=300:repeat-headers=1" \
	-f mpegts "$out/camera-h265.ts"
ls -l "$out"
