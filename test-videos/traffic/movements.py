#!/usr/bin/env python3
"""Makes a four-arm junction clip with turning vehicles and its true turning-movement counts.

No real junction footage exists offline, so, as for the violation scenarios (make.py, whose
sprites, encoder and path interpolation this reuses), real vehicle crops from Debian's darknet
photos move along scripted paths over a drawn junction seen from above: an east-west road
(westbound lanes on top, eastbound below) crossed by a north-south street (southbound on the
left half, northbound on the right), right-hand traffic. Each vehicle enters by one of the four
arms and leaves by another (through, left or right), at a steady speed; the truck crop stands
for cars and trucks, the bicycle for motorbikes (most of Ho Chi Minh City's traffic).

Vehicles are spaced so that no two boxes overlap in any frame (a later vehicle waits half a
second at a time until its whole path is clear): this measures movement counting, not the
detector in a jam. The seed picks the movements, kinds, speeds and order; seed 1 is the set the
line positions in movements.toml were placed with, seed 2 the one reported.

Writes `movements-<seed>.mp4` (H.264, 960x720, 10 fps) and `movements-<seed>.json`: every
vehicle with its entry, exit, kind, speed and path, and the true counts per movement.

Usage: movements.py --darknet DIR --out DIR [--seed N] [--vehicles N]
"""

import argparse
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

import make

# 4:3, taller than the violation clips: each arm needs room for a vehicle to be seen whole and
# tracked before it reaches its entry line, as a real junction camera is aimed.
W, H, FPS = 960, 720, make.FPS
ROAD = (270, 575)  # y extent of the east-west road
WB, EB = (325, 410), (495, 560)  # anchor rows: westbound lanes 1-2, eastbound lanes 1-2
STREET = (410, 550)  # x extent of the north-south street
SB, NB = 445, 515  # anchor columns: southbound, northbound
SCALE = 1.0
TURN_R = 90  # turning radius, px (4.5 m): vehicles turn on a curve, not a corner
START_AT = "2026-12-01T08:00:00+07:00"

# Where each arm's traffic comes in and goes out, and the turns that join them.
TURNS = {  # (entry, exit) -> weight; right-hand traffic, through movements most common
    ("west", "east"): 5, ("west", "south"): 2, ("west", "north"): 2,
    ("east", "west"): 5, ("east", "north"): 2, ("east", "south"): 2,
    ("north", "south"): 3, ("north", "east"): 1, ("north", "west"): 1,
    ("south", "north"): 3, ("south", "west"): 1, ("south", "east"): 1,
}


def route(entry, exit_, lane):
    """Anchor waypoints (x, y) from off-screen on `entry`'s arm to off-screen past `exit_`."""
    start = {"west": (-120, EB[lane]), "east": (W + 120, WB[lane]),
             "north": (SB, -40), "south": (NB, H + 100)}[entry]
    end = {"east": (W + 120, EB[lane]), "west": (-120, WB[lane]),
           "south": (SB, H + 100), "north": (NB, -40)}[exit_]
    if (entry, exit_) in {("west", "east"), ("east", "west"), ("north", "south"), ("south", "north")}:
        return [start, end]
    # A turn: drive along the entry's row or column towards where the exit's begins and turn
    # on a curve (a quadratic Bezier through the corner's tangent points, sampled).
    corner = (end[0], start[1]) if entry in ("west", "east") else (start[0], end[1])
    unit = lambda a, b: ((b[0] - a[0]) / abs(b[0] - a[0] or 1), (b[1] - a[1]) / abs(b[1] - a[1] or 1))
    d_in, d_out = unit(start, corner), unit(corner, end)
    p1 = (corner[0] - d_in[0] * TURN_R, corner[1] - d_in[1] * TURN_R)
    p2 = (corner[0] + d_out[0] * TURN_R, corner[1] + d_out[1] * TURN_R)
    curve = [((1 - s) ** 2 * p1[0] + 2 * (1 - s) * s * corner[0] + s * s * p2[0],
              (1 - s) ** 2 * p1[1] + 2 * (1 - s) * s * corner[1] + s * s * p2[1])
             for s in (i / 6 for i in range(7))]
    return [start] + curve + [end]


def timed(points, t0, speed_px_s):
    path, t = [(t0, *points[0])], t0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        t += ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 / speed_px_s
        path.append((t, x1, y1))
    return path


def box(path, size, t):
    p = make.position(path, t)
    if p is None:
        return None
    (x, y), (w, h) = p, size
    return (x - w / 2 - 8, y - h - 8, x + w / 2 + 8, y + 8)


def clear(path, size, placed):
    """No frame where this vehicle's box meets another's (8 px margin)."""
    for t10 in range(int(path[0][0] * FPS), int(path[-1][0] * FPS) + 1):
        a = box(path, size, t10 / FPS)
        if a is None:
            continue
        for other_path, other_size in placed:
            b = box(other_path, other_size, t10 / FPS)
            if b and a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                return False
    return True


def plan(seed, n, sizes):
    rng = random.Random(seed)
    moves, weights = list(TURNS), list(TURNS.values())
    vehicles, placed, t = [], [], 0.5
    for i in range(n):
        entry, exit_ = rng.choices(moves, weights)[0]
        kind = "bike" if rng.random() < 0.6 else "truck"
        kmh = rng.uniform(20, 35)
        lane = rng.randrange(2)
        pts = route(entry, exit_, lane)
        start = t
        while True:
            path = timed(pts, start, make.kmh(kmh))
            if clear(path, sizes[kind], placed):
                break
            start += 0.5
        placed.append((path, sizes[kind]))
        vehicles.append({"id": f"v{i + 1:02d}", "kind": kind, "from": entry, "to": exit_,
                         "kmh": round(kmh, 2), "path": [[round(c, 3) for c in p] for p in path]})
        t = start + rng.uniform(0.8, 2.0)
    return vehicles


def background():
    im = Image.new("RGB", (W, H), (150, 146, 136))
    d = ImageDraw.Draw(im)
    d.rectangle([0, ROAD[0], W, ROAD[1]], fill=(88, 90, 93))
    d.rectangle([STREET[0], 0, STREET[1], H], fill=(92, 94, 96))
    mid_y, mid_x = (WB[1] + EB[0]) // 2 - 30, (SB + NB) // 2
    for x0, x1 in ((0, STREET[0]), (STREET[1], W)):
        d.rectangle([x0, mid_y - 3, x1, mid_y + 2], fill=(230, 200, 40))
    for y0, y1 in ((0, ROAD[0]), (ROAD[1], H)):
        d.rectangle([mid_x - 2, y0, mid_x + 2, y1], fill=(230, 200, 40))
    return im


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--darknet", required=True, help="folder holding darknet's dog.jpg")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--vehicles", type=int, default=48)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sprites = {k: v.resize((int(v.width * SCALE), int(v.height * SCALE)), Image.LANCZOS)
               for k, v in make.load_sprites(a.darknet).items() if k in ("truck", "bike")}
    sizes = {k: (s.width, s.height) for k, s in sprites.items()}
    vehicles = plan(a.seed, a.vehicles, sizes)
    duration = max(v["path"][-1][0] for v in vehicles) + 1.0
    name = f"movements-{a.seed}"
    bg = background()
    enc = make.encoder(out / f"{name}.mp4", (W, H))
    for i in range(int(duration * FPS)):
        im = bg.copy()
        placed = []
        for v in vehicles:
            p = make.position(v["path"], i / FPS)
            if p is not None:
                placed.append((p[1], p, sprites[v["kind"]]))
        for _, (x, y), sp in sorted(placed, key=lambda a: a[0]):
            im.paste(sp, (int(round(x - sp.width / 2)), int(round(y - sp.height))))
        enc.stdin.write(im.tobytes())
    make.finish(enc, out / f"{name}.mp4")
    counts = {}
    for v in vehicles:
        k = f"{v['from']}→{v['to']}"
        counts[k] = counts.get(k, 0) + 1
    truth = {"name": name, "seed": a.seed, "start_at": START_AT, "fps": FPS, "size": [W, H],
             "m_per_px": make.M_PER_PX, "duration": duration, "vehicles": vehicles,
             "counts": dict(sorted(counts.items()))}
    (out / f"{name}.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False))
    print(f"movements.py: {len(vehicles)} vehicles, {duration:.0f} s in {out / name}.mp4")


if __name__ == "__main__":
    main()
