//! The scenarios of the behaviour-rule suite, as data: who moves where, under which rules,
//! and how many alerts of which rule a user would expect. The runner is `main.rs`.

use chrono::{DateTime, Utc};

use super::{Actor, BACKPACK, CAR, PERSON, SUITCASE, actor, between, noon, walk};

pub struct Case {
    pub name: &'static str,
    pub rule: &'static str,
    pub rules: String,
    pub actors: Vec<Actor>,
    pub secs: f64,
    pub start: DateTime<Utc>,
    pub expected: usize,
}

pub fn loitering() -> String {
    r#"
[[cameras.rules]]
kind = "loitering"
id = "loiter"
zone = "square"
min_s = 20
revisits = 3
window_s = 120
"#
    .into()
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, rule, rules: String, actors, secs, start, expected| {
        v.push(Case {
            name,
            rule,
            rules,
            actors,
            secs,
            start,
            expected,
        })
    };
    // Loitering.
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 30.0);
    case(
        "walks through the square",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        35.0,
        noon(),
        0,
    );
    case(
        "stands in the square 40 s",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some((20.0 + 0.05 * (t * 3.0).sin(), 10.0))
        })],
        45.0,
        noon(),
        1,
    );
    case(
        "stays 19 s, just under the limit",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some(if between(t, 2.0, 21.0) {
                (20.0, 10.0)
            } else {
                (35.0, 10.0)
            })
        })],
        30.0,
        noon(),
        0,
    );
    case(
        "jitters on the boundary for 40 s: one stay, one alert",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some((
                if ((t * 10.0) as i64) % 6 < 3 {
                    9.9
                } else {
                    10.1
                },
                10.0,
            ))
        })],
        45.0,
        noon(),
        1,
    );
    case(
        "comes back three times in a minute",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some(if ((t / 10.0) as i64) % 2 == 0 {
                (20.0, 10.0)
            } else {
                (35.0, 10.0)
            })
        })],
        55.0,
        noon(),
        1,
    );
    case(
        "detector misses every third frame",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            let f = (t * 10.0).round() as i64;
            (f % 3 != 0).then_some((20.0, 10.0))
        })],
        40.0,
        noon(),
        1,
    );
    case(
        "a parked car is not a loiterer",
        "loitering",
        loitering(),
        vec![actor(1, CAR, |_| Some((20.0, 10.0)))],
        60.0,
        noon(),
        0,
    );

    // Crowding: more than 5 people for 5 s.
    let crowd = r#"
[[cameras.rules]]
kind = "crowding"
id = "crowd"
zone = "square"
max_people = 5
min_s = 5
clear_s = 5
"#;
    let group = |n: u64, until: f64| -> Vec<Actor> {
        (0..n)
            .map(|i| {
                actor(10 + i, PERSON, move |t| {
                    (t < until).then_some((15.0 + i as f64, 10.0 + (i % 2) as f64))
                })
            })
            .collect()
    };
    case(
        "eight people gather for 20 s",
        "crowding",
        crowd.into(),
        group(8, 20.0),
        30.0,
        noon(),
        1,
    );
    case(
        "exactly at the limit for a minute",
        "crowding",
        crowd.into(),
        group(5, 60.0),
        60.0,
        noon(),
        0,
    );
    case(
        "seven people for only 3 s",
        "crowding",
        crowd.into(),
        group(7, 3.0),
        10.0,
        noon(),
        0,
    );
    case(
        "twelve people for half a minute",
        "crowding",
        crowd.into(),
        group(12, 30.0),
        40.0,
        noon(),
        1,
    );
    {
        // Six people, then one keeps stepping in and out every 2 s for 40 s: one episode.
        let mut a: Vec<Actor> = (0..5)
            .map(|i| {
                actor(10 + i, PERSON, move |t| {
                    (t < 60.0).then_some((15.0 + i as f64, 10.0))
                })
            })
            .collect();
        a.push(actor(20, PERSON, |t| {
            Some(if t < 10.0 || ((t / 2.0) as i64) % 2 == 0 {
                (21.0, 12.0)
            } else {
                (21.0, 17.0)
            })
        }));
        case(
            "a crowd hovering around the limit",
            "crowding",
            crowd.into(),
            a,
            70.0,
            noon(),
            1,
        );
    }

    // Running: above 3 m/s for 1 s.
    let running = r#"
[[cameras.rules]]
kind = "running"
id = "run"
"#;
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.7);
    case(
        "walks at 1.4 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        0,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 14.4);
    case(
        "brisk walk at 2.5 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        16.0,
        noon(),
        0,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 2.0, 9.2);
    case(
        "sprints at 5 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        12.0,
        noon(),
        1,
    );
    let d = walk((38.0, 12.0), (5.0, 6.0), 1.0, 9.5);
    case(
        "sprints diagonally at 4 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(d(t)))],
        12.0,
        noon(),
        1,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.7);
    case(
        "walks with a jittery box",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| {
            let (x, y) = w(t);
            let f = (t * 10.0).round() as i64;
            Some((
                x + 0.06 * ((f * 7919) % 5 - 2) as f64,
                y + 0.06 * ((f * 104729) % 5 - 2) as f64,
            ))
        })],
        30.0,
        noon(),
        0,
    );

    // Dispersal: at least 4 people faster than 2 m/s, away from where they were.
    let dispersal = r#"
[[cameras.rules]]
kind = "dispersal"
id = "scatter"
zone = "square"
"#;
    let scatter = |speed: f64, radial: bool| -> Vec<Actor> {
        (0..6)
            .map(|i| {
                let ang = i as f64 * std::f64::consts::TAU / 6.0;
                let start = (20.0 + 1.5 * ang.cos(), 10.0 + 1.5 * ang.sin());
                let dir = if radial {
                    (ang.cos(), ang.sin())
                } else {
                    (1.0, 0.0)
                };
                actor(30 + i, PERSON, move |t| {
                    let k = (t - 10.0).clamp(0.0, 2.5) * speed;
                    Some((start.0 + dir.0 * k, start.1 + dir.1 * k))
                })
            })
            .collect()
    };
    case(
        "a group scatters at 4 m/s",
        "dispersal",
        dispersal.into(),
        scatter(4.0, true),
        16.0,
        noon(),
        1,
    );
    case(
        "a group scatters at 3 m/s",
        "dispersal",
        dispersal.into(),
        scatter(3.0, true),
        16.0,
        noon(),
        1,
    );
    case(
        "a group jogs off together",
        "dispersal",
        dispersal.into(),
        scatter(4.0, false),
        16.0,
        noon(),
        0,
    );
    case(
        "a group drifts apart at 1.2 m/s",
        "dispersal",
        dispersal.into(),
        scatter(1.2, true),
        16.0,
        noon(),
        0,
    );

    // Intrusion: the square is closed 22:00-05:00 local time.
    let intrusion = r#"
[[cameras.rules]]
kind = "intrusion"
id = "closed"
zone = "square"
classes = ["person"]
hours = ["22:00-05:00"]
"#;
    let night = DateTime::parse_from_rfc3339("2026-11-26T23:00:00+07:00")
        .unwrap()
        .to_utc();
    let before = DateTime::parse_from_rfc3339("2026-11-26T21:59:50+07:00")
        .unwrap()
        .to_utc();
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    case(
        "walks in at 23:00",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        night,
        1,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    case(
        "walks in at 14:00",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        0,
    );
    case(
        "inside when the zone arms at 22:00",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, |_| Some((20.0, 10.0)))],
        40.0,
        before,
        1,
    );
    case(
        "edge flicker one frame at a time",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, |t| {
            Some((
                if ((t * 10.0).round() as i64) % 2 == 0 {
                    9.9
                } else {
                    10.1
                },
                10.0,
            ))
        })],
        30.0,
        night,
        0,
    );

    // Abandoned object: a backpack still for 30 s with nobody within 2 m.
    let abandoned = r#"
[[cameras.rules]]
kind = "abandoned_object"
id = "bag"
"#;
    case(
        "bag left, owner walks away",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |t| {
                Some(if t < 5.0 {
                    (20.0, 10.0)
                } else {
                    (20.0 + (t - 5.0) * 1.4, 10.0)
                })
                .filter(|p| p.0 < 39.0)
            }),
            actor(2, BACKPACK, |_| Some((20.3, 10.0))),
        ],
        60.0,
        noon(),
        1,
    );
    case(
        "suitcase left at the square's edge",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |t| {
                Some(if t < 3.0 {
                    (12.0, 14.0)
                } else {
                    (12.0 - (t - 3.0) * 1.3, 14.0)
                })
                .filter(|p| p.0 > 0.5)
            }),
            actor(2, SUITCASE, |_| Some((12.4, 14.0))),
        ],
        50.0,
        noon(),
        1,
    );
    case(
        "bag beside a seated person",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |_| Some((20.0, 10.0))),
            actor(2, BACKPACK, |_| Some((21.0, 10.0))),
        ],
        120.0,
        noon(),
        0,
    );
    case(
        "owner comes back within 20 s",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |t| {
                Some(if !(5.0..=25.0).contains(&t) {
                    (20.0, 10.0)
                } else {
                    (30.0, 10.0)
                })
            }),
            actor(2, BACKPACK, |_| Some((20.3, 10.0))),
        ],
        60.0,
        noon(),
        0,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    let w2 = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    case(
        "bag carried across",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, move |t| Some(w(t))),
            actor(2, BACKPACK, move |t| Some(w2(t))),
        ],
        30.0,
        noon(),
        0,
    );

    // Wrong direction: the corridor is one-way, left to right.
    let oneway = r#"
[[cameras.rules]]
kind = "wrong_direction"
id = "oneway"
zone = "corridor"
direction = [[0.1, 0.5], [0.9, 0.5]]
classes = ["person"]
"#;
    let w = walk((1.0, 10.0), (39.0, 10.0), 0.0, 27.0);
    case(
        "walks the right way",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        0,
    );
    let w = walk((39.0, 10.0), (1.0, 10.0), 0.0, 27.0);
    case(
        "walks against the flow",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        1,
    );
    let w = walk((30.0, 11.5), (8.0, 8.5), 0.0, 18.0);
    case(
        "cuts back diagonally against the flow",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        20.0,
        noon(),
        1,
    );
    case(
        "hesitates, steps back 1 m, goes on",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, |t| {
            Some(if t < 10.0 {
                (5.0 + t * 1.2, 10.0)
            } else if t < 12.0 {
                (17.0 - (t - 10.0) * 0.5, 10.0)
            } else {
                (16.0 + (t - 12.0) * 1.2, 10.0)
            })
        })],
        30.0,
        noon(),
        0,
    );
    case(
        "stands still in the corridor",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, |t| {
            Some((20.0 + 0.05 * (t * 5.0).sin(), 10.0))
        })],
        30.0,
        noon(),
        0,
    );
    // Stopped in the box (vehicles standing still in the junction box over 10 s).
    let the_box = r#"
[[cameras.rules]]
kind = "stopped_in_box"
id = "box"
zone = "square"
max_s = 10
"#;
    let stop_go = |stop_at: f64, go_at: f64| {
        move |t: f64| {
            let x = if t < stop_at {
                2.0 + t * 2.0
            } else if t < go_at {
                2.0 + stop_at * 2.0
            } else {
                2.0 + stop_at * 2.0 + (t - go_at) * 2.0
            };
            Some((x, 10.0))
        }
    };
    case(
        "car stops 15 s in the box, then drives on",
        "stopped_in_box",
        the_box.into(),
        vec![actor(1, CAR, stop_go(8.0, 23.0))],
        35.0,
        noon(),
        1,
    );
    case(
        "car stops 8 s in the box",
        "stopped_in_box",
        the_box.into(),
        vec![actor(1, CAR, stop_go(8.0, 16.0))],
        30.0,
        noon(),
        0,
    );
    case(
        "car crawls through the box at 0.5 m/s",
        "stopped_in_box",
        the_box.into(),
        vec![actor(1, CAR, |t| Some((8.0 + t * 0.5, 10.0)))],
        50.0,
        noon(),
        0,
    );
    case(
        "car waits 20 s before the box, then crosses",
        "stopped_in_box",
        the_box.into(),
        vec![actor(1, CAR, |t| {
            Some((
                if t < 20.0 {
                    6.0
                } else {
                    6.0 + (t - 20.0) * 3.0
                },
                10.0,
            ))
        })],
        35.0,
        noon(),
        0,
    );
    case(
        "stopped car's detection flickers (0.4 s gaps)",
        "stopped_in_box",
        the_box.into(),
        vec![actor(1, CAR, |t| {
            let gap = (t % 3.0) > 2.6;
            (!gap).then_some((20.0 + 0.05 * (t * 4.0).sin(), 10.0))
        })],
        25.0,
        noon(),
        1,
    );
    case(
        "a person standing in the box is not a vehicle",
        "stopped_in_box",
        the_box.into(),
        vec![actor(1, PERSON, |_| Some((20.0, 10.0)))],
        25.0,
        noon(),
        0,
    );
    case(
        "two cars queue in the box, both stuck",
        "stopped_in_box",
        the_box.into(),
        vec![
            actor(1, CAR, |_| Some((22.0, 10.0))),
            actor(2, CAR, |_| Some((16.0, 10.0))),
        ],
        20.0,
        noon(),
        2,
    );
    v
}
