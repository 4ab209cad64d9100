use chrono::TimeZone;
use matthan_schema::{Counts, MovementCount};

use super::*;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    // 08:00 local (UTC+7) is 01:00 UTC.
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

fn mv(from: &str, to: Option<&str>, class: &str, count: u32, speeds: &[f32]) -> MovementCount {
    MovementCount {
        from: from.into(),
        to: to.map(Into::into),
        class: class.into(),
        count,
        speeds_kmh: speeds.to_vec(),
    }
}

/// One-minute count intervals starting at `start`, each carrying `movements`.
fn counts(start: DateTime<Utc>, movements: Vec<MovementCount>) -> Event {
    let end = start + Duration::minutes(1);
    Event::new(
        "hcmc",
        "cam-1",
        end,
        Body::Counts(Counts {
            interval_start: start,
            interval_end: end,
            lines: vec![],
            zones: vec![],
            movements,
        }),
    )
}

#[test]
fn intervals_fold_into_quarters_per_movement_and_class() {
    let events = vec![
        counts(
            at(1, 0),
            vec![mv("west", Some("east"), "car", 2, &[30.0, 40.0])],
        ),
        counts(at(1, 14), vec![mv("west", Some("east"), "car", 1, &[50.0])]),
        counts(at(1, 15), vec![mv("west", Some("east"), "car", 4, &[])]),
        counts(
            at(1, 16),
            vec![
                mv("west", Some("north"), "motorcycle", 3, &[]),
                mv("west", None, "car", 1, &[]),
            ],
        ),
    ];
    let r = fold(&events, 15, at(0, 0), at(3, 0));
    let got: Vec<(String, String, Option<&str>, &str, u32)> = r
        .rows
        .iter()
        .map(|w| {
            (
                w.start.format("%H:%M").to_string(),
                w.from.clone(),
                w.to.as_deref(),
                w.class.as_str(),
                w.count,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("01:00".into(), "west".into(), Some("east"), "car", 3),
            ("01:15".into(), "west".into(), None, "car", 1),
            ("01:15".into(), "west".into(), Some("east"), "car", 4),
            (
                "01:15".into(),
                "west".into(),
                Some("north"),
                "motorcycle",
                3
            ),
        ]
    );
    // Mean of 30, 40, 50 and the 85th percentile by nearest rank (ceil(0.85*3) = 3rd).
    assert_eq!(r.rows[0].mean_kmh, Some(40.0));
    assert_eq!(r.rows[0].p85_kmh, Some(50.0));
    assert_eq!(r.rows[2].mean_kmh, None, "no calibrated speeds, no figure");
    assert_eq!(r.totals["west→east"], 7);
    assert_eq!(r.totals["west→?"], 1);
    // Outside the asked period: not counted.
    let r = fold(&events, 15, at(1, 15), at(3, 0));
    assert_eq!(r.totals["west→east"], 4);
}

#[test]
fn peak_hour_and_its_factor() {
    // Quarters from 01:00: 10, 20, 30, 40, 15 vehicles. The busiest hour starts at 01:15
    // (20+30+40+15 = 105); PHF = 105 / (4 × 40) = 0.65625.
    let events: Vec<Event> = [10, 20, 30, 40, 15]
        .iter()
        .enumerate()
        .map(|(q, n)| {
            counts(
                at(1, 0) + Duration::minutes(15 * q as i64),
                vec![mv("north", Some("south"), "car", *n, &[])],
            )
        })
        .collect();
    let p = fold(&events, 15, at(0, 0), at(4, 0)).peak_hour.unwrap();
    assert_eq!(p.start, at(1, 15));
    assert_eq!(p.volume, 105);
    assert!((p.phf - 0.65625).abs() < 1e-9, "{}", p.phf);
    assert!(p.complete);
    // Twenty minutes of data: a peak "hour" is reported but marked incomplete.
    let short = vec![counts(at(1, 0), vec![mv("a", Some("b"), "car", 5, &[])])];
    let p = fold(&short, 15, at(0, 0), at(4, 0)).peak_hour.unwrap();
    assert_eq!((p.volume, p.complete), (5, false));
    assert!((p.phf - 0.25).abs() < 1e-9);
    assert_eq!(fold(&[], 15, at(0, 0), at(4, 0)).peak_hour, None);
}

#[test]
fn csv_has_local_times_and_blank_unknowns() {
    let events = vec![counts(
        at(1, 0),
        vec![
            mv("west", Some("east"), "car", 2, &[30.0, 40.0]),
            mv("west", None, "truck", 1, &[]),
        ],
    )];
    let text = csv(&fold(&events, 15, at(0, 0), at(3, 0)));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            "bin_start,bin_end,from,to,class,count,mean_kmh,p85_kmh",
            "2026-12-01T08:00+07:00,2026-12-01T08:15+07:00,west,,truck,1,,",
            "2026-12-01T08:00+07:00,2026-12-01T08:15+07:00,west,east,car,2,35.0,40.0",
        ]
    );
}
