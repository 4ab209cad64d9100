#!/usr/bin/env python3
"""Makes the tracing corridor: four cameras along one street, 44 vehicles driving past them.

Ground truth for plates on every vehicle and for tracing a vehicle across cameras (issue #16).
No real footage of a street with known plates exists offline, so each camera's clip is a
composite, like the violation scenarios (`test-videos/traffic/make.py`, whose vehicle sprites,
plate renderer and encoder this reuses): the pickup truck and the bicycle of darknet's `dog.jpg`
(the bicycle stands in for a motorbike; a larger truck plays the bus) drive east along a drawn
street seen from above at 0.05 m per pixel, each with its own tint (its colour) and its own
plate: one line on cars and buses ("51F-123.45"), two lines on motorbikes ("59-X1" over
"123.45"). The cameras are framed for plates (vehicles 1.2-1.25x the violation scenes' size).

The route: cam-1 → cam-2 (180 m) → cam-3 (240 m) → cam-4 (200 m), cars at 36 km/h, motorbikes
at 30 km/h, each hop with 0-6 s of waiting at lights. Some vehicles turn off after cam-2 or
cam-3, some join at cam-2 from a side street, and one is seen out of order: past cam-1, then
cam-3 (through a parallel street), then back west past cam-2. Among the plates are pairs that
differ in one character OCR confuses (3/8, 1/7, 6/8, 0/8, B/D).

Writes, for each camera, `<camera>.mp4` (H.264, 960x540, 10 fps; all clips start at the same
instant) and `corridor.json`: the cameras (with positions), every vehicle with its kind, plate,
tint and true sightings (camera, seconds in view, direction), and the look-alike pairs. Also
`crops/<vehicle>@<camera>.png`: the vehicle at the middle of its pass, cut from the rendered
frame (before encoding), for the single-frame reading figure beside the per-track one.

Usage: make.py --darknet DIR --out DIR
"""

import argparse
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "traffic"))
import make as traffic  # noqa: E402  (sprites, plate renderer)

W, H, FPS = 960, 540, 10
START_AT = "2026-11-27T17:30:00+07:00"
CAR_Y, BIKE_Y, WEST_Y = 330, 500, 200  # lane anchors (bottom of the sprite)
CAR_KMH, BIKE_KMH = 36.0, 30.0
CAMERAS = [  # id, metres from cam-1, lat, lon (along Nguyễn Thị Minh Khai, going east)
    ("cam-1", 0.0, 10.78000, 106.69500),
    ("cam-2", 180.0, 10.78000, 106.69664),
    ("cam-3", 420.0, 10.78000, 106.69883),
    ("cam-4", 620.0, 10.78000, 106.70066),
]
TINTS = {
    "red": (200, 30, 30), "blue": (30, 60, 200), "white": (235, 235, 235),
    "black": (25, 25, 25), "yellow": (230, 200, 30), "green": (30, 160, 60),
}
N_VEHICLES = 44
HEADWAY_S = 3.0


def sprites(darknet):
    base = traffic.load_sprites(darknet)
    return {
        "truck": base["truck"].resize((244, 96), Image.LANCZOS),
        "bus": base["bus"],
        "bike": base["bike"].resize((288, 178), Image.LANCZOS),
    }


def tinted(img, rgb):
    layer = Image.new("RGB", img.size, rgb)
    return Image.blend(img, layer, 0.25)


def vehicle_sprite(v, sp):
    im = tinted(sp[v["kind"]].copy(), TINTS[v["tint"]])
    if v["kind"] == "bike":
        top, bottom = v["plate"].rsplit("-", 1)
        p = traffic.plate_image([top, bottom], 56, 40)
        im.paste(p, (im.width // 2 - 28, im.height - 52))
    else:
        w, h = (96, 26) if v["kind"] == "bus" else (90, 24)
        p = traffic.plate_image([v["plate"]], w, h)
        im.paste(p, (int(im.width * 0.55), int(im.height * 0.6)))
    return im


def plates(rng):
    """44 distinct plates in the system's form; the first ten make five look-alike pairs."""
    provinces = [29, 30, 43, 50, 51, 59, 61, 72, 92]
    letters = "ABCDEFGHKLMNPSTUVXYZ"

    def number():
        return f"{rng.randint(100, 999)}.{rng.randint(10, 99)}"

    out, pairs = [], []
    # Look-alike pairs: one character apart, a character the reader can confuse.
    for a, b in [("51F-133.45", "51F-138.45"), ("59-X1-117.23", "59-X1-177.23"),
                 ("30B-566.12", "30B-586.12"), ("59-H2-408.91", "59-H2-488.91"),
                 ("51B-224.60", "51D-224.60")]:
        out += [a, b]
        pairs.append([a, b])
    while len(out) < N_VEHICLES:
        prov = rng.choice(provinces)
        two = len(out) % 2 == 0
        s = rng.choice(letters)
        p = f"{prov}-{s}{rng.randint(1, 9)}-{number()}" if two else f"{prov}{s}-{number()}"
        if p not in out:
            out.append(p)
    return out, pairs


def vehicles(rng):
    ps, pairs = plates(rng)
    vs = []
    for i, p in enumerate(ps):
        two = p.count("-") == 2
        kind = "bike" if two else ("bus" if i % 5 == 1 else "truck")
        r = rng.random()
        route = [0, 1, 2, 3]
        if r < 0.12:
            route = [0, 1]  # turns off after cam-2
        elif r < 0.24:
            route = [0, 1, 2]  # after cam-3
        elif r < 0.32:
            route = [1, 2, 3]  # joins at cam-2
        vs.append({"id": f"v{i + 1:02d}", "kind": kind, "plate": p,
                   "lines": 2 if two else 1, "tint": rng.choice(sorted(TINTS)), "route": route})
    rng.shuffle(vs)
    # The one out of order: past cam-1, then cam-3, then back west past cam-2.
    odd = next(v for v in vs if v["kind"] == "truck" and v["route"] == [0, 1, 2, 3])
    odd["route"] = [0, 2, 1]
    odd["out_of_order"] = True
    return vs, pairs


def schedule(vs, rng):
    """True sightings: per camera and lane, vehicles in order of arrival, at least a headway apart."""
    ideal = {}
    for n, v in enumerate(vs):
        kmh = BIKE_KMH if v["kind"] == "bike" else CAR_KMH
        t = 2.0 + n * 1.5 + rng.uniform(0, 0.5)
        prev = None
        for c in v["route"]:
            if prev is not None:
                t += abs(CAMERAS[c][1] - CAMERAS[prev][1]) / (kmh / 3.6) + rng.uniform(0, 6)
            ideal[(v["id"], c)] = t
            prev = c
    for v in vs:
        v["sightings"] = []
    for c in range(len(CAMERAS)):
        lanes = {}
        for v in vs:
            if (v["id"], c) in ideal:
                west = v.get("out_of_order") and c == 1
                lane = "west" if west else ("bike" if v["kind"] == "bike" else "car")
                lanes.setdefault(lane, []).append(v)
        for lane, members in lanes.items():
            members.sort(key=lambda v: ideal[(v["id"], c)])
            last = -1e9
            for v in members:
                t = max(ideal[(v["id"], c)], last + HEADWAY_S)
                last = t
                kmh = BIKE_KMH if v["kind"] == "bike" else CAR_KMH
                v["sightings"].append({"camera": CAMERAS[c][0], "enter_s": round(t, 2),
                                       "speed_px_s": kmh / 3.6 / traffic.M_PER_PX,
                                       "direction": "west" if lane == "west" else "east",
                                       "lane_y": {"car": CAR_Y, "bike": BIKE_Y, "west": WEST_Y}[lane]})
    for v in vs:
        v["sightings"].sort(key=lambda s: s["enter_s"])


def background():
    im = Image.new("RGB", (W, H), (88, 90, 93))
    d = ImageDraw.Draw(im)
    for i, x in enumerate(range(0, W, 120)):  # buildings
        shade = 150 + (i * 37) % 60
        d.rectangle([x, 0, x + 118, 40], fill=(shade, shade - 15, shade - 30))
    d.rectangle([0, 40, W, 70], fill=(158, 152, 140))
    d.rectangle([0, 520, W, H], fill=(158, 152, 140))
    d.rectangle([0, 236, W, 240], fill=(230, 200, 40))
    for x in range(0, W, 70):
        d.rectangle([x, 410, x + 35, 413], fill=(225, 225, 225))
    return im


def placements(vs, sp, camera):
    """(vehicle, sprite, first frame time, x at time t) for the camera's passes."""
    out = []
    for v in vs:
        for s in v["sightings"]:
            if s["camera"] != camera:
                continue
            im = sp[v["id"]]
            if s["direction"] == "west":
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            w = im.width
            # Enters with its front at the frame's edge, leaves when its back has.
            s["exit_s"] = round(s["enter_s"] + (W + w) / s["speed_px_s"], 2)
            out.append((v, s, im))
    return out


def x_at(s, im, t):
    d = (t - s["enter_s"]) * s["speed_px_s"]
    return -im.width + d if s["direction"] == "east" else W - d


def render(camera, vs, sp, span, out: Path, crops: Path):
    """The camera's clip covers `span` (start, end) of the corridor's clock."""
    bg = background()
    placed = placements(vs, sp, camera)
    mids = {(v["id"], s["camera"]): (s["enter_s"] + s["exit_s"]) / 2 for v, s, _ in placed}
    enc = traffic.encoder(out)
    for i in range(int((span[1] - span[0]) * FPS)):
        t = span[0] + i / FPS
        im = bg.copy()
        boxes = []
        for v, s, sprite in sorted(placed, key=lambda a: a[1]["lane_y"]):
            if not (s["enter_s"] <= t <= s["exit_s"]):
                continue
            x, y = int(round(x_at(s, sprite, t))), s["lane_y"] - sprite.height
            im.paste(sprite, (x, y))
            boxes.append((v, s, (x, y, x + sprite.width, y + sprite.height)))
        for v, s, (x1, y1, x2, y2) in boxes:
            mid = mids[(v["id"], s["camera"])]
            if abs(t - mid) < 0.5 / FPS:
                im.crop((max(x1, 0), y1, min(x2, W), y2)).save(crops / f"{v['id']}@{camera}.png")
        enc.stdin.write(im.tobytes())
    traffic.finish(enc, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--darknet", required=True, help="folder holding darknet's dog.jpg")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = Path(a.out)
    crops = out / "crops"
    crops.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261201)
    vs, pairs = vehicles(rng)
    schedule(vs, rng)
    base = sprites(a.darknet)
    sp = {v["id"]: vehicle_sprite(v, base) for v in vs}
    for cam, *_ in CAMERAS:
        placements(vs, sp, cam)  # fills exit_s
    spans = {}
    for cam, *_ in CAMERAS:
        times = [(s["enter_s"], s["exit_s"]) for v in vs for s in v["sightings"] if s["camera"] == cam]
        # Whole tenths, so every clip's frames fall on the corridor's 10 Hz clock.
        spans[cam] = (max(0.0, round(min(a for a, _ in times) - 2.0)), round(max(b for _, b in times) + 2.0))
        render(cam, vs, sp, spans[cam], out / f"{cam}.mp4", crops)
    for v in vs:
        v.pop("route")
        for s in v["sightings"]:
            s.pop("speed_px_s")
            s.pop("lane_y")
    truth = {
        "start_at": START_AT, "fps": FPS, "size": [W, H],
        "m_per_px": traffic.M_PER_PX,
        # Each clip starts `offset_s` after `start_at`; sighting times are on that clock.
        "cameras": [{"id": c, "km_from_start": m / 1000, "lat": la, "lon": lo,
                     "offset_s": spans[c][0], "duration_s": spans[c][1] - spans[c][0]}
                    for c, m, la, lo in CAMERAS],
        "vehicles": sorted(vs, key=lambda v: v["id"]),
        "lookalike_pairs": pairs,
    }
    (out / "corridor.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False))
    n = sum(len(v["sightings"]) for v in vs)
    secs = sum(b - a for a, b in spans.values())
    print(f"make.py: {len(vs)} vehicles, {n} sightings on {len(CAMERAS)} cameras, {secs:.0f} s of video, in {out}")


if __name__ == "__main__":
    main()
