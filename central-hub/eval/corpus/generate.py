#!/usr/bin/env python3
"""Generates a search-evaluation corpus the way an outside publisher would: from docs/events.md
alone (the envelope, the topic table, the body fields, the palette and the JSON examples, used
as templates), never from the hub's code. Also turns each labelled query's predicate
(queries.toml, written from an operator's point of view) into the list of every object that
answers it.

    python3 generate.py --docs ../../../docs/events.md --queries queries.toml --out DIR

Writes DIR/events.tsv (topic<TAB>payload, one message per line, as published over MQTT) and
DIR/labels.json ({now, objects: {label: [camera, track_id]}, queries: [{q, relevant, ignore}]}).
Deterministic: a fixed-seed xorshift, no dependence on Python's `random` across versions.
"""

import argparse
import copy
import datetime as dt
import json
import re
import sys
import tomllib

TZ = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh, no daylight saving
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=TZ)  # a Friday
START = dt.datetime(2026, 11, 13, 0, 0, tzinfo=TZ)
OBJECTS = 3000
SITE = "hcmc"

# Six street cameras; bearing = the compass direction up the image points to (docs/events.md,
# heading_deg). bui-vien-3 has none, so its tracks carry no heading.
CAMERAS = {
    "ben-thanh-1": {"bearing": 0, "zones": ["sidewalk", "bus-stop"]},
    "nguyen-hue-2": {"bearing": 90, "zones": ["sidewalk", "crosswalk"]},
    "bui-vien-3": {"bearing": None, "zones": ["sidewalk", "market-gate"]},
    "cho-lon-4": {"bearing": 180, "zones": ["bus-lane", "market-gate"]},
    "le-loi-5": {"bearing": 270, "zones": ["bus-lane", "bus-stop"]},
    "vo-van-kiet-6": {"bearing": 45, "zones": []},
}
CLASSES = [("motorcycle", 55), ("car", 15), ("truck", 6), ("bus", 4), ("bicycle", 5), ("person", 15)]
COLOUR_WEIGHTS = {"black": 20, "white": 20, "grey": 15, "red": 10, "blue": 10, "yellow": 5,
                  "green": 5, "orange": 4, "brown": 4, "purple": 3, "pink": 4}
PROVINCES = [("51", 30), ("59", 25), ("50", 5), ("30", 10), ("29", 10), ("61", 8), ("72", 6), ("43", 6)]
# A few objects placed by hand so that the narrowest labelled queries have an answer at all
# (everything else about them is drawn like any other object's).
PLANTED = [
    {"camera": "ben-thanh-1", "class": "person", "upper": "white", "at": "2026-11-26T20:05"},
    {"camera": "ben-thanh-1", "class": "person", "upper": "white", "at": "2026-11-24T19:50"},
    {"camera": "cho-lon-4", "class": "truck", "color": "blue", "at": "2026-11-27T07:40"},
    {"camera": "le-loi-5", "class": "truck", "color": "green", "at": "2026-11-27T06:15"},
    {"camera": "le-loi-5", "class": "car", "plate": "51F-123.45", "at": "2026-11-25T10:00"},
    {"camera": "nguyen-hue-2", "class": "motorcycle", "plate": "59-X1 123.45", "at": "2026-11-21T15:00"},
    {"camera": "cho-lon-4", "class": "truck", "violation": "illegal_parking", "at": "2026-11-26T20:30"},
    {"camera": "ben-thanh-1", "class": "person", "zones": ["bus-stop"], "alert": "crowding",
     "at": "2026-11-26T19:10"},
]

VIOLATIONS = {
    "motorcycle": ["red_light", "no_helmet", "wrong_way"],
    "car": ["red_light", "illegal_parking", "speeding", "wrong_way"],
    "truck": ["illegal_parking", "red_light"],
    "bus": ["illegal_parking"],
}


class Rng:
    """xorshift64*: the same sequence on every Python."""

    def __init__(self, seed):
        self.x = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        x = self.x
        x ^= (x >> 12)
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27)
        self.x = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        return self.next() % n

    def unit(self):
        return self.next() / 2.0**64

    def chance(self, p):
        return self.unit() < p

    def pick(self, items):
        return items[self.below(len(items))]

    def weighted(self, pairs):
        total = sum(w for _, w in pairs)
        r = self.below(total)
        for v, w in pairs:
            if r < w:
                return v
            r -= w
        raise AssertionError

    def hex(self, n):
        return "".join("0123456789abcdef"[self.below(16)] for _ in range(n))


class Doc:
    """What docs/events.md says, read from its text."""

    def __init__(self, text):
        self.text = text
        m = re.search(r"palette((?:\s*`[a-z]+`,?)+)", text)
        if not m:
            sys.exit("docs/events.md: no colour palette found")
        self.palette = re.findall(r"`([a-z]+)`", m.group(1))
        self.examples = {}
        for block in re.findall(r"```json\n(.*?)```", text, re.S):
            for obj in decode_all(block):
                if obj.get("schema", "").startswith("matthan.event/"):
                    self.examples.setdefault(obj["kind"], obj)
        self.schema = self.examples["crossing"]["schema"]
        topics = re.findall(r"`matthan/\{site\}/\{(camera|junction|edge_id)\}/([a-z_]+)`", text)
        self.topic_kinds = {kind for _, kind in topics}

    def mentions(self, field):
        if f"`{field}`" not in self.text:
            sys.exit(f"docs/events.md does not document `{field}`; refusing to send it")
        return field

    def topic(self, camera, kind):
        if kind not in self.topic_kinds:
            sys.exit(f"docs/events.md has no topic for kind {kind}")
        return f"matthan/{SITE}/{camera}/{kind}"


def decode_all(block):
    dec, i, out = json.JSONDecoder(), 0, []
    while i < len(block):
        while i < len(block) and block[i].isspace():
            i += 1
        if i >= len(block):
            break
        obj, i = dec.raw_decode(block, i)
        out.append(obj)
    return out


def ts(t):
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def uuid7(t, rng):
    ms = int(t.timestamp() * 1000)
    hi = (ms << 16) | (0x7 << 12) | rng.below(1 << 12)
    lo = (0b10 << 62) | rng.below(1 << 62)
    h = f"{hi:016x}{lo:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def plate(rng, cls):
    prov = rng.weighted(PROVINCES)
    num = f"{rng.below(1000):03d}.{rng.below(100):02d}"
    if cls == "motorcycle":  # two lines, joined top first
        return f"{prov}-{rng.pick('BCDEFGHKLMNPSTUVXYZ')}{1 + rng.below(9)} {num}"
    letter = rng.pick("CD") if cls == "truck" else rng.pick("ABFGHK")
    return f"{prov}{letter}-{num}"


def make_object(i, rng, doc, planted=None):
    cam = rng.pick(sorted(CAMERAS))
    cls = rng.weighted(CLASSES)
    span = (NOW - START).total_seconds()
    at = START + dt.timedelta(seconds=int(rng.unit() * span))
    if planted:
        cam, cls = planted["camera"], planted["class"]
        at = dt.datetime.fromisoformat(planted["at"]).replace(tzinfo=TZ)
    o = {"label": f"o{i:04d}", "camera": cam, "class": cls, "at": at}
    colours = [(c, COLOUR_WEIGHTS.get(c, 1)) for c in doc.palette]
    if cls == "person":
        o["upper"], o["lower"] = rng.weighted(colours), rng.weighted(colours)
    elif cls != "bicycle":
        o["color"] = rng.weighted(colours)
    if cls in ("motorcycle", "car", "truck", "bus") and rng.chance(0.7):
        o["plate"] = plate(rng, cls)
    zones = CAMERAS[cam]["zones"]
    o["zones"] = [rng.pick(zones)] if zones and rng.chance(0.3) else []
    o["crossing"] = rng.pick(["in", "out"]) if cls != "person" and rng.chance(0.3) else None
    bearing = CAMERAS[cam]["bearing"]
    moved = rng.chance(0.9)
    # Along the road (up or down the image), people also across it; +-20 degrees of weave.
    turn = rng.pick([0, 180, 90, 270] if cls == "person" else [0, 180]) + rng.below(41) - 20
    o["image_angle"] = turn if moved else None
    o["heading"] = (bearing + turn) % 360 if bearing is not None and moved else None
    o["violation"] = rng.pick(VIOLATIONS[cls]) if cls in VIOLATIONS and rng.chance(0.05) else None
    o["alert"] = None
    if cls == "person" and o["zones"] and rng.chance(0.25):
        o["alert"] = "crowding" if rng.chance(0.25) else "loitering"
    for key, value in (planted or {}).items():
        if key not in ("camera", "class", "at"):
            o[key] = value
    return o


def track_event(o, tid, doc, rng):
    import math
    a = o["image_angle"]
    x0, y0 = 480.0, 400.0
    dx, dy = (0.0, 3.0) if a is None else (200 * math.sin(math.radians(a)), -200 * math.cos(math.radians(a)))
    attrs = {}
    for key, field in (("color", "color"), ("upper", "upper_color"), ("lower", "lower_color")):
        if key in o:
            attrs[doc.mentions(field)] = o[key]
    if "plate" in o:
        attrs[doc.mentions("plate")] = o["plate"]
        attrs[doc.mentions("plate_score")] = round(0.8 + rng.unit() * 0.19, 3)
    if o["heading"] is not None:
        attrs[doc.mentions("heading_deg")] = round(o["heading"] + rng.unit() - 0.5, 1) % 360
    first = o["at"] - dt.timedelta(seconds=4)
    body = {
        doc.mentions("phase"): "end",
        doc.mentions("track_id"): tid,
        doc.mentions("class"): o["class"],
        doc.mentions("score"): 0.8,
        doc.mentions("bbox"): {"x1": x0 + dx - 30, "y1": y0 + dy - 80, "x2": x0 + dx + 30, "y2": y0 + dy},
        doc.mentions("first_seen"): ts(first),
        doc.mentions("last_seen"): ts(o["at"]),
        doc.mentions("zones"): o["zones"],
        doc.mentions("path"): [[x0, y0], [x0 + dx / 2, y0 + dy / 2], [x0 + dx, y0 + dy]],
        doc.mentions("attributes"): attrs,
    }
    return "track", o["at"], body


def crossing_event(o, tid, doc):
    body = copy.deepcopy(doc.examples["crossing"]["body"])
    body.update({"line": "stop-line", "direction": o["crossing"], "class": o["class"], "track_id": tid})
    return "crossing", o["at"] - dt.timedelta(seconds=2), body


def zone_event(o, tid, zone, doc):
    body = {doc.mentions("zone"): zone, doc.mentions("action"): "enter", "class": o["class"],
            "track_id": tid, doc.mentions("duration_s"): 0}
    return "zone", o["at"] - dt.timedelta(seconds=3), body


def violation_event(o, tid, doc, rng):
    v = copy.deepcopy(doc.examples["violation"]["body"])
    rule = o["violation"]
    at = o["at"] - dt.timedelta(seconds=1)
    contexts = {
        "red_light": v["context"],
        "illegal_parking": {doc.mentions("dwell_s"): 240.0 + rng.below(600)},
        "speeding": {doc.mentions("speed_kmh"): 70.0 + rng.below(40), doc.mentions("limit_kmh"): 60.0,
                     doc.mentions("tolerance_kmh"): 5.0, doc.mentions("calibration"): "survey-2026-11"},
        "wrong_way": {doc.mentions("distance_m"): 12.0 + rng.below(30)},
        "no_helmet": {doc.mentions("label"): "no_helmet", doc.mentions("score"): 0.9,
                      doc.mentions("votes"): 5, doc.mentions("frames"): 6},
    }
    v.update({"rule": rule, "rule_id": f"{rule.replace('_', '-')}-1", "track_id": tid, "class": o["class"],
              "at": ts(at), "context": contexts[rule]})
    v["violation_id"] = at.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")[:-3] + f"-{tid}-{rng.hex(8)}"
    v.pop("line", None)
    v.pop("zone", None)
    if rule == "illegal_parking" or (rule == "wrong_way" and o["zones"]):
        v["zone"] = o["zones"][0] if o["zones"] else "no-parking"
    else:
        v["line"] = "stop-line"
    v.pop("plate", None)
    v.pop("plate_score", None)
    if "plate" in o:
        v["plate"], v["plate_score"] = o["plate"], 0.95
    if "color" in o:
        v[doc.mentions("color")] = o["color"]
    for e in v["evidence"]:
        e["sha256"], e["captured"] = rng.hex(64), ts(at)
    v["manifest"], v["signature"], v["public_key"] = rng.hex(64), rng.hex(128), rng.hex(64)
    return "violation", o["at"], v


def alert_event(o, tid, doc, rng):
    a = copy.deepcopy(doc.examples["alert"]["body"])
    started = o["at"] - dt.timedelta(seconds=40)
    crowd = o["alert"] == "crowding"
    a.update({"rule": o["alert"], "rule_id": f"{o['zones'][0]}-{o['alert']}", "phase": "start",
              "started": ts(started), "duration_s": 40.0, "zone": o["zones"][0], "track_ids": [tid],
              "class": "person", "measure": 12.0 if crowd else 40.0, "unit": "people" if crowd else "s",
              "snapshot": rng.hex(64)})
    if crowd:
        a[doc.mentions("count")] = 12
    return "alert", o["at"] - dt.timedelta(seconds=1), a


def envelope(doc, rng, camera, kind, at, body):
    return {"schema": doc.schema, "id": uuid7(at, rng), "site": SITE, "camera": camera, "ts": ts(at),
            "kind": kind, "body": body}


def minutes(hhmm):
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_windows(t, windows, days):
    """Whether local time t falls in a window instance starting on one of `days` (any day if none)."""
    local = t.astimezone(TZ)
    for a, b in windows:
        a, b = minutes(a), minutes(b)
        for back in (0, 1):  # a window past midnight started the day before
            start_day = (local - dt.timedelta(days=back)).date()
            if days and start_day.isoformat() not in days:
                continue
            lo = dt.datetime.combine(start_day, dt.time(0), TZ) + dt.timedelta(minutes=a)
            end = b if b > a else b + 1440
            hi = dt.datetime.combine(start_day, dt.time(0), TZ) + dt.timedelta(minutes=end)
            if lo <= local < hi:
                return True
    return False


def norm_plate(p):
    return "".join(c for c in p.upper() if c.isalnum())


def attributes_match(o, w):
    checks = [
        ("class", lambda v: o["class"] in v),
        ("color", lambda v: o.get("color") in v),
        ("upper", lambda v: o.get("upper") in v),
        ("lower", lambda v: o.get("lower") in v),
        ("plate_start", lambda v: "plate" in o and norm_plate(o["plate"]).startswith(v)),
        ("plate_has", lambda v: "plate" in o and v in norm_plate(o["plate"])),
        ("camera", lambda v: o["camera"] in v),
        ("zone", lambda v: any(z in v for z in o["zones"])),
        ("heading", lambda v: o["heading"] is not None and abs((o["heading"] - v + 180) % 360 - 180) <= 45),
        ("crossing", lambda v: o["crossing"] == v),
        ("violation", lambda v: o["violation"] == v),
        ("alert", lambda v: o["alert"] == v),
    ]
    return all(f(w[k]) for k, f in checks if k in w)


def judge(o, w):
    """'yes', 'no' or 'ignore' (inside only the loose time band)."""
    if w.get("none") or not attributes_match(o, w):
        return "no"
    days = set(w.get("days", []))
    if "hours" not in w:
        return "yes" if not days or o["at"].astimezone(TZ).date().isoformat() in days else "no"
    if in_windows(o["at"], w["hours"], days):
        return "yes"
    if in_windows(o["at"], w.get("loose", []), days):
        return "ignore"
    return "no"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    doc = Doc(open(args.docs, encoding="utf-8").read())
    rng = Rng(0x4D61745468616E)  # "MatThan"
    objects, lines, next_tid = [], [], {c: 1 for c in CAMERAS}
    for i in range(OBJECTS + len(PLANTED)):
        o = make_object(i, rng, doc, PLANTED[i - OBJECTS] if i >= OBJECTS else None)
        tid = next_tid[o["camera"]]
        next_tid[o["camera"]] += 1
        o["track_id"] = tid
        objects.append(o)
        msgs = [track_event(o, tid, doc, rng)]
        if o["crossing"]:
            msgs.append(crossing_event(o, tid, doc))
        msgs += [zone_event(o, tid, z, doc) for z in o["zones"]]
        if o["violation"]:
            msgs.append(violation_event(o, tid, doc, rng))
        if o["alert"]:
            msgs.append(alert_event(o, tid, doc, rng))
        for kind, at, body in msgs:
            env = envelope(doc, rng, o["camera"], kind, at, body)
            lines.append((at, doc.topic(o["camera"], kind), json.dumps(env, ensure_ascii=False)))
    lines.sort(key=lambda x: x[0])  # published roughly in capture order
    with open(f"{args.out}/events.tsv", "w", encoding="utf-8") as f:
        for _, topic, payload in lines:
            f.write(f"{topic}\t{payload}\n")
    with open(args.queries, "rb") as f:
        queries = tomllib.load(f)["query"]
    labelled = []
    for q in queries:
        verdicts = [(o["label"], judge(o, q["want"])) for o in objects]
        labelled.append({"q": q["q"], "relevant": [l for l, v in verdicts if v == "yes"],
                         "ignore": [l for l, v in verdicts if v == "ignore"]})
    out = {"now": NOW.isoformat(), "objects": {o["label"]: [o["camera"], o["track_id"]] for o in objects},
           "queries": labelled}
    with open(f"{args.out}/labels.json", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"{len(objects)} objects, {len(lines)} messages, {len(labelled)} labelled queries", file=sys.stderr)


if __name__ == "__main__":
    main()
