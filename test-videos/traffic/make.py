#!/usr/bin/env python3
"""Makes the traffic-violation scenario clips and their ground truth.

No real moving-traffic footage exists offline, so each clip is a composite: real vehicle crops
from Debian's darknet photos (the pickup truck and the bicycle of `dog.jpg`; darknet is
GPL-3.0+ or MIT or WTFPL per Debian's copyright file, see README.md) move along scripted paths over a drawn road, a traffic light in the corner follows the
fixed signal plan the edge's config also holds, and each vehicle carries a rendered plate
(single-line for cars, two-line for motorbikes, as in Vietnam). The bicycle stands in for a
motorbike: no motorbike photo exists offline, and the detector sees it as `bicycle`.

Everything is deterministic: the same inputs make the same frames. For each scenario it writes
`<name>.mp4` (H.264, 960x540, 10 fps) and `<name>.json` (objects with their paths and plates,
the signal plan, the expected violations with times), plus `scenarios.json` listing them all.

Usage: make.py --darknet DIR --out DIR [--only NAME ...]
"""

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, H, FPS = 960, 540, 10
M_PER_PX = 0.05  # the drawn road is seen from above: 960 px = 48 m
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

# Geometry (pixels). Eastbound lanes below the centre line, westbound above.
SIDEWALK_N = (90, 150)
WEST_LANES = (205, 290)  # anchor (bottom-centre) rows of westbound lanes 1 and 2
CENTRE = 300
EAST_LANES = (375, 440)
SIDEWALK_S = (455, 540)
STOP_X = 600
CROSS_STREET = (620, 760)

# Fixed signal plan (the config's [junctions.plan]): the eastbound phase "ew" is green for 12 s,
# yellow 3 s, then red (2 s all-red, then the cross street's 20 s green, yellow and all-red).
GREEN, YELLOW, ALL_RED, CROSS_GREEN = 12.0, 3.0, 2.0, 20.0
CYCLE = GREEN + YELLOW + ALL_RED + CROSS_GREEN + YELLOW + ALL_RED
# Each clip starts at 08:00:00 local time (the config's start_at), the start of a cycle.
START_AT = "2026-11-26T08:00:00+07:00"


def light_at(t):
    c = t % CYCLE
    if c < GREEN:
        return "green"
    if c < GREEN + YELLOW:
        return "yellow"
    return "red"


def kmh(v):
    """km/h to pixels per second."""
    return v / 3.6 / M_PER_PX


def load_sprites(darknet):
    dog = Image.open(Path(darknet) / "dog.jpg").convert("RGB")
    truck = dog.crop((450, 72, 694, 168))
    bike = dog.crop((100, 115, 545, 390))
    return {
        "truck": truck.resize((195, 77), Image.LANCZOS),
        "bus": truck.resize((380, 150), Image.LANCZOS),
        "bike": bike.resize((240, 148), Image.LANCZOS),
    }


def plate_image(lines, w, h):
    p = Image.new("RGB", (w, h), (245, 245, 238))
    d = ImageDraw.Draw(p)
    d.rectangle([0, 0, w - 1, h - 1], outline=(20, 20, 20), width=max(1, h // 16))
    n = len(lines)
    fs = int(h / n * 0.8)
    while fs > 6 and max(ImageFont.truetype(FONT, fs).getlength(t) for t in lines) > w * 0.9:
        fs -= 1
    f = ImageFont.truetype(FONT, fs)
    for i, t in enumerate(lines):
        tw = d.textlength(t, font=f)
        d.text(((w - tw) / 2, i * h / n + (h / n - fs) / 2 - fs * 0.1), t, fill=(15, 15, 15), font=f)
    return p


def sprite_for(obj, sprites):
    base = sprites[obj["kind"]].copy()
    if obj.get("flip"):
        base = base.transpose(Image.FLIP_LEFT_RIGHT)
    d = ImageDraw.Draw(base)
    # Riders' heads for the helmet/riders classifier: blue = helmet, orange = bare head,
    # green = a third rider. The classifier generated for the tests reads these colours.
    heads = obj.get("heads", [])
    for i, colour in enumerate(heads):
        rgb = {"helmet": (20, 60, 240), "bare": (240, 140, 40), "extra": (30, 220, 40)}[colour]
        cx = base.width * (0.35 + 0.15 * i)
        d.ellipse([cx - 16, 4, cx + 16, 36], fill=rgb)
    plate = obj.get("plate")
    if plate:
        if obj["kind"] == "bike":
            top, bottom = plate.split(" ", 1)
            p = plate_image([top, bottom], 40, 28)
            base.paste(p, (base.width // 2 - 20, base.height - 40))
        else:
            p = plate_image([plate], 64, 17)
            base.paste(p, (int(base.width * 0.55), int(base.height * 0.62)))
    return base


def position(path, t):
    """Anchor (x, y) at time t along keyframes [(t, x, y), ...], or None outside them."""
    if t < path[0][0] or t > path[-1][0]:
        return None
    for (t0, x0, y0), (t1, x1, y1) in zip(path, path[1:]):
        if t0 <= t <= t1:
            a = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
            return (x0 + a * (x1 - x0), y0 + a * (y1 - y0))
    return (path[-1][1], path[-1][2])


def background():
    im = Image.new("RGB", (W, H), (88, 90, 93))
    d = ImageDraw.Draw(im)
    for i, x in enumerate(range(0, W, 120)):  # buildings
        shade = 150 + (i * 37) % 60
        d.rectangle([x, 0, x + 118, SIDEWALK_N[0]], fill=(shade, shade - 15, shade - 30))
    d.rectangle([0, SIDEWALK_N[0], W, SIDEWALK_N[1]], fill=(158, 152, 140))
    d.rectangle([0, SIDEWALK_S[0], W, SIDEWALK_S[1]], fill=(158, 152, 140))
    d.rectangle([CROSS_STREET[0], SIDEWALK_N[0], CROSS_STREET[1], SIDEWALK_S[1]], fill=(96, 98, 100))
    for y in (CENTRE - 3, CENTRE + 2):
        d.rectangle([0, y, CROSS_STREET[0], y + 1], fill=(230, 200, 40))
        d.rectangle([CROSS_STREET[1], y, W, y + 1], fill=(230, 200, 40))
    for x in range(0, W, 70):  # lane dashes
        if CROSS_STREET[0] - 30 < x < CROSS_STREET[1]:
            continue
        for y in (228, 400):
            d.rectangle([x, y, x + 35, y + 3], fill=(225, 225, 225))
    d.rectangle([STOP_X - 4, CENTRE + 4, STOP_X + 4, SIDEWALK_S[0]], fill=(245, 245, 245))
    return im


def draw_light(im, colour):
    d = ImageDraw.Draw(im)
    d.rectangle([880, 8, 940, 84], fill=(25, 25, 25))
    for i, c in enumerate(("red", "yellow", "green")):
        on = {"red": (250, 30, 30), "yellow": (250, 200, 20), "green": (30, 230, 60)}[c]
        d.ellipse([896, 12 + i * 24, 916, 32 + i * 24], fill=on if c == colour else (60, 60, 60))


def scenarios():
    """name → objects and expected violations. Times in seconds from the clip's start."""
    T, B = "truck", "bike"
    E1, E2 = EAST_LANES
    W1, W2 = WEST_LANES
    S = []

    def add(name, duration, objects, violations, note):
        S.append({"name": name, "duration": duration, "objects": objects, "violations": violations, "note": note})

    # Red light: green 0-12 s, yellow 12-15 s, red from 15 s.
    v = kmh(36)
    add("red-run-truck", 20, [{"id": "a", "kind": T, "plate": "51F-987.65",
        "path": [(14.0, -100, E1), (14.0 + 700 / v, 600, E1), (20, 600 + v * (6 - 700 / v), E1)]}],
        [{"rule": "red_light", "object": "a", "t": 14.0 + 700 / v}], "crosses the stop line 2 s into red")
    vb = kmh(30)
    add("red-run-bike", 22, [{"id": "a", "kind": B, "plate": "59-X1 123.45",
        "path": [(15.5, -100, E2), (15.5 + 700 / vb, 600, E2), (22, 600 + vb * (6.5 - 700 / vb), E2)]}],
        [{"rule": "red_light", "object": "a", "t": 15.5 + 700 / vb}], "motorbike crosses 3.9 s into red")
    add("red-in-box", 20, [{"id": "a", "kind": T, "plate": "51G-123.45",
        "path": [(10.0, -100, E1), (13.5, 600, E1), (14.0, 680, E1), (19.0, 680, E1), (20.0, 850, E1)]}],
        [], "past the stop line in yellow, waits in the box while red starts: not a violation")
    add("red-stops", 20, [{"id": "a", "kind": T, "plate": "51H-246.80",
        "path": [(11.0, -100, E1), (15.5, 500, E1), (20.0, 500, E1)]}],
        [], "stops short of the line at red")
    add("green-pass", 12, [{"id": "a", "kind": T, "plate": "51K-135.79",
        "path": [(1.0, -100, E1), (5.0, 600, E1), (8.0, 1100, E1)]}],
        [], "crosses in green")
    add("yellow-pass-bike", 18, [{"id": "a", "kind": B, "plate": "59-Y2 246.81",
        "path": [(9.0, -100, E2), (13.2, 600, E2), (17.0, 1100, E2)]}],
        [], "crosses in yellow")

    # Wrong way in the eastbound lanes (allowed: left to right).
    add("wrong-way-truck", 12, [{"id": "a", "kind": T, "flip": True, "plate": "51L-111.22",
        "path": [(1.0, 1060, E1), (9.0, -150, E1)]}],
        [{"rule": "wrong_way", "object": "a", "t": 3.0}], "drives against the flow for 60 m")
    add("wrong-way-bike", 12, [{"id": "a", "kind": B, "flip": True, "plate": "59-Z3 333.44",
        "path": [(1.0, 1060, E2), (10.0, -150, E2)]}],
        [{"rule": "wrong_way", "object": "a", "t": 3.0}], "motorbike against the flow")
    add("u-turn", 14, [{"id": "a", "kind": B, "plate": "59-U4 444.55",
        "path": [(1.0, -100, E1), (5.0, 380, E1), (6.0, 420, 340), (7.0, 400, W2), (8.0, 340, W2), (12.0, -150, W2)]}],
        [], "U-turn into the westbound lanes: moves back less than 5 m inside the one-way zone")
    add("reversing", 14, [{"id": "a", "kind": T, "plate": "51M-555.66",
        "path": [(1.0, -100, E1), (4.0, 250, E1), (6.0, 250, E1), (8.0, 220, E1), (10.0, 220, E1), (13.0, 560, E1)]}],
        [], "backs up 1.5 m (a parking manoeuvre) and drives on")

    # Speeding (limit 40 km/h, tolerance 5 km/h): in green, eastbound.
    for name, kind, lane, speed, flagged, plate in [
        ("speeding-truck", T, E2, 65, True, "51N-777.88"),
        ("speeding-bike", B, E1, 60, True, "59-S5 555.66"),
        ("normal-speed", T, E2, 30, False, "51P-999.00"),
        ("near-limit", T, E1, 42, False, "51R-121.21"),
    ]:
        v = kmh(speed)
        t_end = 1.0 + 1250 / v
        add(name, min(12, math.ceil(t_end) + 1), [{"id": "a", "kind": kind, "plate": plate,
            "path": [(1.0, -150, lane), (t_end, 1100, lane)]}],
            [{"rule": "speeding", "object": "a", "t": 1.0 + 500 / v}] if flagged else [],
            f"{speed} km/h")

    # Illegal parking in westbound lane 1 (no stopping, 8 s allowed).
    vp = kmh(25)
    add("parked", 18, [{"id": "a", "kind": T, "flip": True, "plate": "51S-232.32",
        "path": [(0.5, 1060, W1), (0.5 + 730 / vp, 330, W1), (18.0, 330, W1)]}],
        [{"rule": "illegal_parking", "object": "a", "t": 0.5 + 730 / vp + 8.0}], "stops and stays")
    add("stop-and-go", 22, [{"id": "a", "kind": T, "flip": True, "plate": "51T-343.43",
        "path": [(0.5, 1060, W1), (4.0, 520, W1), (9.0, 520, W1), (10.0, 420, W1), (15.0, 420, W1), (16.0, 300, W1), (20.0, -150, W1)]}],
        [], "a queue that moves every 5 s: no stop reaches 8 s")
    # The rule cannot see the truck behind the bus: the violation comes when it is seen again,
    # about when the bus's rear clears the truck's middle.
    v_bus = kmh(14)
    t_clear = 4.0 + (1150 - 330 + 190) / v_bus
    add("parked-occluded", 24, [
        {"id": "a", "kind": T, "flip": True, "plate": "51U-454.54",
         "path": [(0.5, 1060, W1), (0.5 + 730 / vp, 330, W1), (24.0, 330, W1)]},
        {"id": "bus", "kind": "bus", "flip": True, "plate": "51B-010.10", "z": 1,
         "path": [(4.0, 1150, W2), (4.0 + 1400 / v_bus, -250, W2)]}],
        [{"rule": "illegal_parking", "object": "a", "t": t_clear}],
        "a bus hides the parked truck for a few seconds: still one violation")
    add("brief-stop", 16, [{"id": "a", "kind": T, "flip": True, "plate": "51V-565.65",
        "path": [(0.5, 1060, W1), (4.0, 400, W1), (9.0, 400, W1), (14.0, -150, W1)]}],
        [], "drops someone off in 5 s")

    # Occlusion: a bus stands in the near eastbound lane just before the stop line (x 210-590)
    # and hides whatever drives past it in the far lane. The vehicle must keep its identity
    # through it, or a rule that needs its path (the stop line, its speed) never sees it.
    # `occluded` names the object whose track ids are counted.
    bus = {"id": "bus", "kind": "bus", "plate": "51B-020.20", "path": [(0.0, 400, E2), (30.0, 400, E2)]}
    add("red-run-occluded", 21, [bus, {"id": "a", "kind": T, "plate": "51C-321.09", "occluded": True,
        "path": [(13.0, -100, E1), (16.5, 600, E1), (19.0, 1100, E1)]}],
        [{"rule": "red_light", "object": "a", "t": 16.5}],
        "behind a stopped bus for about 1 s (partly for 3 s), crosses the line 1.5 s into red")
    # Speeding behind a bus standing further on (x 370-750): a truck at 60 km/h is seen whole
    # for about 0.5 s before the bus, is wholly hidden for about 0.6 s, and comes out cut by the
    # bus and then by the frame's edge. Expected when it has been seen over the limit for the
    # rule's 0.3 s after a 0.6 s window: about when its front reaches the bus.
    v = kmh(60)
    add("speeding-occluded", 6, [
        {"id": "bus", "kind": "bus", "plate": "51B-030.30", "path": [(0.0, 560, E2), (6.0, 560, E2)]},
        {"id": "a", "kind": T, "plate": "51D-606.06", "occluded": True,
         "path": [(0.5, -150, E1), (0.5 + 1250 / v, 1100, E1)]}],
        [{"rule": "speeding", "object": "a", "t": 0.5 + 425 / v}],
        "60 km/h past a bus standing in the near lane, hidden about 0.6 s: one speeding violation")
    for name, kind, speed in [("occluded-slow", T, 20), ("occluded-car", T, 30), ("occluded-bike", B, 25)]:
        v = kmh(speed)
        add(name, 12, [bus, {"id": "a", "kind": kind, "plate": "51E-543.21" if kind == T else "59-K2 543.21",
            "occluded": True, "path": [(0.5, -150, E1), (0.5 + 1250 / v, 1100, E1)]}],
            [], f"{speed} km/h past the bus in green: one track, no violation")

    # Forbidden zone: the south sidewalk.
    add("sidewalk-bike", 12, [{"id": "a", "kind": B, "plate": "59-V6 666.77",
        "path": [(1.0, -100, 518), (10.0, 1000, 518)]}],
        [{"rule": "forbidden_zone", "object": "a", "t": 3.0}], "rides along the sidewalk")
    add("sidewalk-brush", 10, [{"id": "a", "kind": T, "plate": "51X-787.87",
        "path": [(1.0, -100, E2), (3.0, 300, E2), (3.3, 360, 470), (3.7, 440, 470), (4.0, 500, E2), (7.0, 1100, E2)]}],
        [], "brushes the kerb for under a second")
    add("kerb-lane-bike", 12, [{"id": "a", "kind": B, "plate": "59-W7 777.88",
        "path": [(1.0, -100, 448), (10.0, 1000, 448)]}],
        [], "rides on the road right by the sidewalk")

    # Helmet and riders (secondary classifier on motorbike crops), in green.
    for name, heads, rule in [
        ("no-helmet", ["bare"], "no_helmet"),
        ("helmet", ["helmet"], None),
        ("three-riders", ["extra", "extra", "extra"], "too_many_riders"),
    ]:
        add(name, 12, [{"id": "a", "kind": B, "heads": heads, "plate": "59-H8 " + str(100 + len(name)) + ".99",
            "path": [(1.0, -100, E1), (10.0, 1000, E1)]}],
            [{"rule": rule, "object": "a", "t": 4.0}] if rule else [], " ".join(heads))
    return S


def render(sc, sprites, out: Path):
    bg = background()
    objs = [(o, sprite_for(o, sprites)) for o in sc["objects"]]
    n = int(sc["duration"] * FPS)
    enc = encoder(out)
    for i in range(n):
        t = i / FPS
        im = bg.copy()
        draw_light(im, light_at(t))
        placed = []
        for o, sp in objs:
            p = position(o["path"], t)
            if p is not None:
                placed.append((o.get("z", 0), p[1], p, sp))
        for _, _, (x, y), sp in sorted(placed, key=lambda a: (a[0], a[1])):
            im.paste(sp, (int(round(x - sp.width / 2)), int(round(y - sp.height))))
        enc.stdin.write(im.tobytes())
    finish(enc, out)


def encoder(out, size=(W, H)):
    """GStreamer's x264 fed raw RGB frames on stdin; writes `out` once finished."""
    cmd = [
        "gst-launch-1.0", "-q", "fdsrc", "fd=0", "!",
        "rawvideoparse", f"width={size[0]}", f"height={size[1]}", "format=rgb", f"framerate={FPS}/1", "!",
        "videoconvert", "!", "video/x-raw,format=I420", "!",
        "x264enc", "speed-preset=veryfast", "pass=quant", "quantizer=16", "key-int-max=20", "!",
        "h264parse", "!", "mp4mux", "!", "filesink", f"location={out}.part",
    ]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE)


def finish(enc, out):
    enc.stdin.close()
    if enc.wait() != 0:
        sys.exit(f"make.py: encoding {out} failed")
    Path(f"{out}.part").rename(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--darknet", required=True, help="folder holding darknet's dog.jpg")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sprites = load_sprites(a.darknet)
    listing = []
    for sc in scenarios():
        if a.only and sc["name"] not in a.only:
            continue
        render(sc, sprites, out / f"{sc['name']}.mp4")
        truth = dict(sc, start_at=START_AT, fps=FPS, size=[W, H], m_per_px=M_PER_PX,
                     plan={"green_s": GREEN, "yellow_s": YELLOW, "all_red_s": ALL_RED,
                           "cross_green_s": CROSS_GREEN, "cycle_s": CYCLE})
        (out / f"{sc['name']}.json").write_text(json.dumps(truth, indent=1))
        listing.append(sc["name"])
    (out / "scenarios.json").write_text(json.dumps(listing, indent=1))
    print(f"make.py: {len(listing)} scenarios in {out}")


if __name__ == "__main__":
    main()
