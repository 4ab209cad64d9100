#!/usr/bin/env python3
"""Makes the occlusion scenarios: one vehicle driving behind a larger one, hidden 1-3 s.

Ground truth for "identity through occlusion" (issue #16): a vehicle that disappears behind a
bus or a coach and comes out again must keep one track id, and the rules that need its path
(speed over the ground, the stop line in red) must still judge it. No footage exists offline,
so each clip is a composite on the violation scenes' drawn road (`test-videos/traffic/make.py`,
whose background, traffic light, sprites, plate renderer and encoder this reuses).

Each scenario is drawn at random from a seeded generator, then kept only if the vehicle is
fully hidden (its whole box inside the occluder's) for 1.0-3.0 s (0.5-3.0 s for the fast
ones, which cross the view in about 3 s; the suite reports the 1-3 s ones as the goal's figure):
- the occluded vehicle: the pickup truck or the stand-in motorbike (darknet's bicycle), east
  in the far eastbound lane or west in the far westbound lane, at 12-35 km/h or 52-70 km/h
  (40-52 km/h is left out: the speeding rule's limit is 40 + 5 km/h and its measurement
  error would make the expected verdict a coin toss);
- the occluder, in the near lane of the same direction (drawn in front): a bus (380x150 px),
  standing anywhere along the road or driving the same way more slowly (a 500x200 coach was
  tried first: NanoDet boxes that blown-up pickup twice, once across the whole road, and hardly
  finds a motorbike beside it, which measures the composite, not the tracker);
- the vehicle shows enough to be tracked: half of it or more for 0.5 s before it hides (it may
  enter the frame already behind the bus), and whole for 0.3 s after it comes out;
- where the vehicle enters: sometimes the occluder stands right at the frame's edge, so the
  vehicle is never seen whole before it hides.

Two sets from two seeds: `tune` (the tracker's constants were set looking at these) and
`held` (not looked at while tuning; the figure reported). Expected violations come from the
truth, written before any code ran on the clips: speeding when the vehicle drives at more than
52 km/h, red light when an eastbound vehicle reaches the stop line (x = 600) 0.5 s or more
into red.

Writes `<set>-<n>.mp4` and `<set>-<n>.json` (as the violation scenarios, with `hidden_s`,
`speed_kmh` and `set`) and `scenarios.json`: {"tune": [...], "held": [...]}.

Usage: make.py --darknet DIR --out DIR
"""

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "traffic"))
import make as traffic  # noqa: E402  (scene, sprites, renderer, encoder)

# name: (seed, scenarios). `tune-b` and then `tune-c` were each the held-out set until their
# failures were read while fixing (the re-link; a standing bus's false speeding), so each
# became tuning data and `held` was drawn afresh after.
# `held` had been run after each change since (its misses read), so `held-b` was drawn and
# run once (one id for 6 of 15: slow trucks unseen for over 5 s, trucks never seen whole);
# its misses were then read to fix the re-link, which made it tuning data too, and `held-c`
# was drawn and run once, after, for the figure reported.
SETS = {"tune": (11, 10), "tune-b": (29, 20), "tune-c": (53, 20), "held": (71, 20),
        "held-b": (97, 20), "held-c": (131, 20)}
LANES = {  # direction: (vehicle's lane, occluder's lane), anchor rows (bottom of the sprite)
    "east": (traffic.EAST_LANES[0], traffic.EAST_LANES[1]),
    "west": (traffic.WEST_LANES[0], traffic.WEST_LANES[1]),
}
SPEEDING_KMH = 52.0
RED_GRACE_S = 0.5


def sprites(darknet):
    return traffic.load_sprites(darknet)


def plate(rng, kind):
    digits = f"{rng.randrange(100, 1000)}.{rng.randrange(10, 100)}"
    if kind == "bike":
        return f"59-{rng.choice('BCDEFGHKLMNPSTUVXYZ')}{rng.randrange(1, 10)} {digits}"
    return f"51{rng.choice('ABCDFGHKLMN')}-{digits}"


def hidden_span(veh_w, occ_w, v, u):
    """Seconds the vehicle's whole width is inside the occluder's, at speeds v and u (px/s)."""
    if occ_w <= veh_w or v <= u:
        return 0.0
    return (occ_w - veh_w) / (v - u)


def visible(vx, vw, ox, ow):
    """Share of the vehicle (centre vx, width vw) in the frame and not behind the occluder."""
    a, b = max(vx - vw / 2, 0.0), min(vx + vw / 2, float(traffic.W))
    if b <= a:
        return 0.0
    cut = max(0.0, min(b, ox + ow / 2) - max(a, ox - ow / 2))
    return (b - a - cut) / vw


def shows(c, vw, ow):
    """Whether the vehicle shows enough to be tracked at all: half of it or more for 0.5 s
    before it hides (it may enter the frame already behind the occluder, but not unseen), and
    whole for 0.3 s after it comes out (at 60 km/h a vehicle crosses the 48 m view in 3 s)."""
    before = after = 0
    for i in range(int(c["duration"] * traffic.FPS)):
        t = i / traffic.FPS
        if t < c["t0"]:
            continue
        vx = c["enter"] + c["v"] * (t - c["t0"])
        ox = c["meet_x"] + c["u"] * (t - c["t_meet"])
        f = visible(vx, vw, ox, ow)
        if t < c["t_meet"]:
            before += f >= 0.5
        else:
            after += f >= 0.99
    return before >= 0.5 * traffic.FPS and after >= 0.3 * traffic.FPS


def draw(rng, sp):
    """One candidate scenario, or None when it does not hide the vehicle 1-3 s in view."""
    kind = rng.choice(["truck", "truck", "bike"])
    direction = rng.choice(["east", "east", "west"])
    fast = rng.random() >= 0.65
    kmh = rng.uniform(52, 70) if fast else rng.uniform(12, 35)
    v = traffic.kmh(kmh)
    u = 0.0 if rng.random() < 0.5 else traffic.kmh(rng.uniform(5, min(35, kmh - 8)))
    occ = "bus"
    vw, ow = sp[kind].width, sp[occ].width
    hidden = hidden_span(vw, ow, v, u)
    # A speeding vehicle crosses the 48 m view in about 3 s, and one overtaking a moving bus
    # comes out of the view still behind it; behind a standing or slow bus it is hidden 0.5-1 s.
    if not (0.5 if fast else 1.0) <= hidden <= 3.0:
        return None
    # Where the vehicle is fully hidden (its centre passes the occluder's centre), along the road
    # as it drives: anywhere from the entering edge (never seen whole before) to 760 px in.
    meet_x = rng.uniform(ow / 2 - 40, 760)
    t_meet = rng.uniform(2.0, 17.0)
    enter = -vw / 2 - 10  # centre when the vehicle's front is just outside the frame
    t0 = t_meet - (meet_x - enter) / v
    if t0 < 0.0:
        return None
    t_end = t_meet + (traffic.W + vw / 2 + 10 - meet_x) / v
    duration = t_end + 0.5
    if duration > 24.0:
        return None
    c = {"t0": t0, "enter": enter, "v": v, "u": u, "meet_x": meet_x, "t_meet": t_meet, "duration": duration}
    if not shows(c, vw, ow):
        return None
    lane, occ_lane = LANES[direction]
    # Both move along +x in "road" coordinates; westbound mirrors them.
    def x(road_x):
        return road_x if direction == "east" else traffic.W - road_x
    veh_path = [(round(t0, 2), x(enter), lane), (round(t_end, 2), x(enter + v * (t_end - t0)), lane)]
    occ_path = [(0.0, x(meet_x - u * t_meet), occ_lane), (duration, x(meet_x + u * (duration - t_meet)), occ_lane)]
    vehicle = {"id": "a", "kind": kind, "plate": plate(rng, kind), "occluded": True,
               "flip": direction == "west", "path": veh_path}
    occluder = {"id": "occluder", "kind": occ, "plate": plate(rng, "truck"),
                "flip": direction == "west", "path": occ_path}
    # Seen whole before it hides: its rear is inside the frame when its front reaches the
    # occluder's rear.
    t_touch = t_meet - (ow + vw) / 2 / (v - u)
    seen_whole = meet_x - v * (t_meet - t_touch) - vw / 2 >= 0
    return {"seen_whole": seen_whole, "kind": kind, "occ": occ, "direction": direction, "kmh": kmh, "u_kmh": u * 3.6 * traffic.M_PER_PX,
            "hidden": hidden, "meet_x": meet_x, "duration": duration, "objects": [occluder, vehicle],
            "v": v, "t0": t0}


def line_time(path):
    """When an eastbound object's anchor (bottom centre, what the rules judge) reaches the stop
    line, or None."""
    (t0, x0, _), (t1, x1, _) = path[0], path[-1]
    if x1 <= x0 or not x0 <= traffic.STOP_X <= x1:
        return None
    return t0 + (traffic.STOP_X - x0) / (x1 - x0) * (t1 - t0)


def red_margin(t):
    """Seconds into red at t (negative before red starts), over the first cycle."""
    return t - (traffic.GREEN + traffic.YELLOW)


def expected(c):
    """The violations a careful officer would write from the truth, or None when one would be
    a coin toss (an object reaching the stop line within 0.3 s of the grace period's end)."""
    out = []
    if c["kmh"] > SPEEDING_KMH:
        out.append({"rule": "speeding", "object": "a", "t": round(c["t0"] + 500 / c["v"], 2)})
    if c["direction"] != "east":
        return out
    for o in c["objects"]:
        t = line_time(o["path"])
        if t is None or t >= c["duration"]:
            continue
        m = red_margin(t)
        if abs(m - RED_GRACE_S) < 0.3:
            return None
        if m > RED_GRACE_S:
            out.append({"rule": "red_light", "object": o["id"], "t": round(t, 2)})
    return out


def scenarios(set_name, seed, n, sp):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        c = draw(rng, sp)
        if c is None or (violations := expected(c)) is None:
            continue
        name = f"{set_name}-{len(out) + 1:02d}"
        where = "seen whole first" if c["seen_whole"] else "never seen whole before it hides"
        occ_speed = "standing" if c["u_kmh"] == 0 else "%.0f km/h" % c["u_kmh"]
        note = (f"{c['kind']} {c['direction']} at {c['kmh']:.0f} km/h behind a {occ_speed} {c['occ']}, "
                f"hidden {c['hidden']:.1f} s, {where}")
        out.append({"name": name, "set": set_name, "duration": round(c["duration"], 1),
                    "objects": c["objects"], "violations": violations, "note": note,
                    "hidden_s": round(c["hidden"], 2), "speed_kmh": round(c["kmh"], 1)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--darknet", required=True, help="folder holding darknet's dog.jpg")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sp = sprites(a.darknet)
    listing = {}
    for set_name, (seed, n) in SETS.items():
        listing[set_name] = []
        for sc in scenarios(set_name, seed, n, sp):
            traffic.render(sc, sp, out / f"{sc['name']}.mp4")
            truth = dict(sc, start_at=traffic.START_AT, fps=traffic.FPS, size=[traffic.W, traffic.H],
                         m_per_px=traffic.M_PER_PX)
            (out / f"{sc['name']}.json").write_text(json.dumps(truth, indent=1))
            listing[set_name].append(sc["name"])
    (out / "scenarios.json").write_text(json.dumps(listing, indent=1))
    print(f"make.py: {sum(len(v) for v in listing.values())} occlusion scenarios in {out}")


if __name__ == "__main__":
    main()
