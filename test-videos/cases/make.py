#!/usr/bin/env python3
"""Makes a forensic case: recorded videos as an investigator collects them (phones, recorders,
the web), each with a pickup truck crossing the street at a known moment, and their truth.

No real incident footage exists offline, so each video is a composite like the traffic clips
(`test-videos/traffic/make.py`: darknet's pickup truck over a drawn street), then scaled,
turned and encoded the way the source would: H.264, H.265, MPEG-4 part 2, VP8 and MJPEG in
MP4, MOV, 3GP, MKV, WebM, AVI and MPEG-TS; 352x288 to 1920x1080; 10 to 30 fps; phone videos
recorded sideways or upside down with the rotation in the container's orientation tag (the
frames are stored turned, as phones do, and the tag says how to turn them back); a phone held
upright sees a narrower stretch of the street. One video
has no truck (nothing should be found in it) and one file is not a video at all (its job must
fail with a reason while the rest carry on). One phone video has a variable frame rate, as a
phone in failing light records: 30 fps, then about 10 fps with jittered frame times and a
half-second stall while the truck crosses, then 30 fps again; its frames carry their real times
(written with PyAV, since GStreamer's command line cannot time frames irregularly), so a reader
that counted frames at the average rate would put the truck more than a second late.

Writes into --out: the videos and `case.json`: per video its file, the truck's first and last
second on screen (null when none), its resolution as shown (after turning) and its encoding.

Usage: make.py --darknet DIR --out DIR
"""

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "traffic"))
import make as traffic  # noqa: E402

# name, container, codec, shown size (w, h), fps, rotation tag, truck enters at (s).
# A rotation of 90 means the frames are stored turned 90 degrees anticlockwise and the tag
# says "rotate-90" (turn clockwise to show), as a phone held upright records.
VIDEOS = [
    ("phone-01.mp4", "mp4", "h264", (1280, 720), 30, 0, 1.0),
    ("phone-02.mov", "mov", "h264", (1920, 1080), 30, 0, 2.0),
    ("phone-03-portrait.mov", "mov", "h264", (720, 1280), 30, 90, 1.5),
    ("phone-04-hevc.mp4", "mp4", "h265", (1280, 720), 30, 0, 0.5),
    ("phone-05-hevc-portrait.mov", "mov", "h265", (720, 1280), 30, 90, 2.5),
    ("phone-06-upside-down.mp4", "mp4", "h264", (1280, 720), 30, 180, 1.0),
    ("phone-07-rot270.mp4", "mp4", "h264", (720, 1280), 25, 270, 2.0),
    ("phone-08-old.3gp", "3gp", "h264", (352, 288), 15, 0, 1.0),
    ("recorder-01.avi", "avi", "mpeg4", (704, 576), 25, 0, 1.5),
    ("recorder-02.avi", "avi", "mjpeg", (640, 480), 10, 0, 3.0),
    ("recorder-03.ts", "ts", "h264", (1280, 720), 25, 0, 0.5),
    ("recorder-04.mkv", "mkv", "h265", (960, 540), 25, 0, 2.0),
    ("recorder-05.mkv", "mkv", "h264", (960, 540), 15, 0, 1.0),
    ("recorder-06-h264.avi", "avi", "h264", (1280, 720), 25, 0, 2.5),
    ("recorder-07.mkv", "mkv", "mpeg4", (800, 600), 20, 0, 1.5),
    ("recorder-08-hevc.ts", "ts", "h265", (1280, 720), 25, 0, 1.0),
    ("web-01.webm", "webm", "vp8", (960, 540), 25, 0, 2.0),
    ("web-02.mkv", "mkv", "vp8", (640, 360), 30, 0, 1.0),
    ("web-03.mp4", "mp4", "h264", (854, 480), 30, 0, 3.0),
    ("web-04.mov", "mov", "mjpeg", (640, 360), 15, 0, 0.5),
    ("web-05.mp4", "mp4", "h264", (640, 360), 10, 0, 1.5),
    ("street-empty.mp4", "mp4", "h264", (960, 540), 25, 0, None),
]
# name, shown size, truck enters at (s): variable frame rate, H.264 in MP4 (see vfr_times).
VFR_VIDEO = ("phone-09-vfr.mp4", (1280, 720), 3.0)
DURATION = 6.0
TRUCK_S = 3.0  # seconds the truck takes to cross the full frame width

ENCODERS = {
    "h264": ["x264enc", "speed-preset=ultrafast", "key-int-max=30", "!", "h264parse"],
    "h265": ["x265enc", "speed-preset=ultrafast", "key-int-max=30", "!", "h265parse"],
    # No mpeg4videoparse: with it matroskamux keeps only the first frames.
    "mpeg4": ["avenc_mpeg4", "bitrate=2000000"],
    "vp8": ["vp8enc", "deadline=1", "cpu-used=8", "keyframe-max-dist=30"],
    "mjpeg": ["jpegenc", "quality=80"],
}
MUXERS = {"mp4": "mp4mux", "mov": "qtmux", "3gp": "3gppmux", "mkv": "matroskamux",
          "webm": "webmmux", "avi": "avimux", "ts": "mpegtsmux"}
# The track header's matrix (a, b, c, d in 16.16 fixed point) a phone writes for each turn;
# GStreamer's qtdemux reads it back as the `image-orientation` tag. (GStreamer's muxers do not
# write it from a tag, so the generator sets it in the finished file, as a phone does.)
MATRIX = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}
# Turning the shown picture into what is stored: the tag turns it back clockwise.
STORE = {90: Image.ROTATE_90, 180: Image.ROTATE_180, 270: Image.ROTATE_270}


def encoder(out, size, fps, codec, container, rotation):
    cmd = ["gst-launch-1.0", "-q", "fdsrc", "fd=0", "!",
           "rawvideoparse", f"width={size[0]}", f"height={size[1]}", "format=rgb",
           f"framerate={fps}/1", "!", "videoconvert", "!", "video/x-raw,format=I420", "!"]
    cmd += ENCODERS[codec] + ["!"]
    cmd += [MUXERS[container], "!", "filesink", f"location={out}.part"]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE)


def scene(truck, t, enter):
    """The street at time t, 960x540, with the truck crossing from `enter` on."""
    im = BG.copy()
    if enter is not None and enter <= t <= enter + TRUCK_S:
        x = -truck.width + (traffic.W + truck.width) * (t - enter) / TRUCK_S
        im.paste(truck, (int(x), traffic.EAST_LANES[0] - truck.height))
    return im


def framing(shown):
    """How the 960x540 street fills the shown frame: (scale, first visible scene column, last).
    Landscape frames show the whole street, letterboxed; a phone held upright sees a narrower
    stretch of it, the street filling 60 % of the frame's height."""
    if shown[0] >= shown[1]:
        scale = min(shown[0] / traffic.W, shown[1] / traffic.H)
        return scale, 0.0, float(traffic.W)
    scale = shown[1] * 0.6 / traffic.H
    seen = shown[0] / scale
    return scale, (traffic.W - seen) / 2, (traffic.W + seen) / 2


def truck_seen(truck, enter, shown):
    """The first and last second the truck is on the shown frame (half its length at least)."""
    _, x0, x1 = framing(shown)
    speed = (traffic.W + truck.width) / TRUCK_S
    # Its left edge at t is -width + speed (t - enter); half of it shows from x0 - width/2 on.
    first = enter + (x0 + truck.width / 2) / speed
    last = enter + (x1 + truck.width / 2) / speed
    return [round(first, 2), round(min(last, DURATION), 2)]


def render(v, truck, out):
    name, container, codec, shown, fps, rotation, enter = v
    stored = shown if rotation in (0, 180) else (shown[1], shown[0])
    enc = encoder(out, stored, fps, codec, container, rotation)
    scale, x0, _ = framing(shown)
    for i in range(int(DURATION * fps)):
        im = scene(truck, i / fps, enter)
        fitted = im.resize((max(2, int(im.width * scale)), max(2, int(im.height * scale))), Image.BILINEAR)
        frame = Image.new("RGB", shown, (40, 40, 40))
        frame.paste(fitted, (int((shown[0] - fitted.width) / 2) if x0 == 0 else -int(x0 * scale),
                             (shown[1] - fitted.height) // 2))
        if rotation:
            frame = frame.transpose(STORE[rotation])
        enc.stdin.write(frame.tobytes())
    traffic.finish(enc, out)
    if rotation:
        set_rotation(out, rotation)


def vfr_times():
    """Frame times of the variable-rate video: 30 fps for 3 s, then 10 fps with ±20 ms of
    jitter and a stall from 4.4 to 4.9 s, then 30 fps from 5.5 s to the end."""
    rng = random.Random(9)
    times = [i / 30 for i in range(90)]
    # Tenths of a second from 3.0 to 5.4 (counted in integers: summed floats drift past 5.5).
    times += [k / 10 + rng.uniform(-0.02, 0.02) for k in range(30, 55) if not 44 <= k < 49]
    times += [5.5 + i / 30 for i in range(int((DURATION - 5.5) * 30))]
    return times


def render_vfr(truck, out):
    """The variable-rate phone video: each frame stamped with its own time (90 kHz clock)."""
    import av  # PyAV: only this video needs it
    from fractions import Fraction
    name, shown, enter = VFR_VIDEO
    scale, _, _ = framing(shown)
    part = out.with_suffix(".part.mp4")
    c = av.open(str(part), mode="w")
    st = c.add_stream("libx264", rate=30, options={"preset": "ultrafast", "g": "30"})
    st.width, st.height, st.pix_fmt = shown[0], shown[1], "yuv420p"
    st.time_base = st.codec_context.time_base = Fraction(1, 90000)
    for t in vfr_times():
        im = scene(truck, t, enter)
        fitted = im.resize((int(im.width * scale), int(im.height * scale)), Image.BILINEAR)
        frame = Image.new("RGB", shown, (40, 40, 40))
        frame.paste(fitted, ((shown[0] - fitted.width) // 2, (shown[1] - fitted.height) // 2))
        f = av.VideoFrame.from_image(frame)
        f.pts, f.time_base = round(t * 90000), Fraction(1, 90000)
        for p in st.encode(f):
            c.mux(p)
    for p in st.encode():
        c.mux(p)
    c.close()
    part.rename(out)


def set_rotation(path, rotation):
    """Writes the rotation into the (only) track header of an MP4/MOV file."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    if at < 0 or data.find(b"tkhd", at + 4) >= 0:
        sys.exit(f"make.py: {path}: expected exactly one track header")
    version = data[at + 4]
    # After the box type: version+flags, times, track id, reserved, duration (32 or 64 bit),
    # 8 reserved bytes, layer, alternate group, volume, 2 reserved bytes, then the matrix.
    matrix_at = at + 4 + 4 + (8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4) + 8 + 8
    a, b, c, d = MATRIX[rotation]
    for i, v in ((0, a), (1, b), (3, c), (4, d)):
        data[matrix_at + 4 * i: matrix_at + 4 * i + 4] = (v * 65536 & 0xFFFFFFFF).to_bytes(4, "big")
    path.write_bytes(bytes(data))


def main():
    global BG
    ap = argparse.ArgumentParser()
    ap.add_argument("--darknet", required=True, help="folder holding darknet's dog.jpg")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    BG = traffic.background()
    truck = traffic.load_sprites(a.darknet)["truck"].resize((290, 114), Image.LANCZOS)
    truth = []
    for v in VIDEOS:
        render(v, truck, out / v[0])
        name, container, codec, shown, fps, rotation, enter = v
        truth.append({"file": name, "container": container, "codec": codec, "size": list(shown),
                      "fps": fps, "rotation": rotation,
                      "truck": None if enter is None else truck_seen(truck, enter, shown)})
    render_vfr(truck, out / VFR_VIDEO[0])
    name, shown, enter = VFR_VIDEO
    truth.append({"file": name, "container": "mp4", "codec": "h264", "size": list(shown),
                  "fps": None, "vfr": True, "rotation": 0, "truck": truck_seen(truck, enter, shown)})
    # Not a video: what a mislabelled download or a damaged card gives.
    rng = random.Random(19)
    (out / "damaged-card.mp4").write_bytes(bytes(rng.randrange(256) for _ in range(50_000)))
    truth.append({"file": "damaged-card.mp4", "not_video": True, "truck": None})
    (out / "case.json").write_text(json.dumps({"duration_s": DURATION, "videos": truth}, indent=1))
    print(f"make.py: {len(VIDEOS) + 1} videos and a damaged file in {out}")


if __name__ == "__main__":
    main()
