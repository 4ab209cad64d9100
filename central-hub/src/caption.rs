//! A one-line English caption per event: what the operator reads on a result card, and the
//! text that free-text words of a query are ranked against.

use chrono::FixedOffset;
use matthan_schema::{AlertPhase, AlertRule, Body, Event, TrackPhase, ViolationRule, ZoneAction};

/// Asia/Ho_Chi_Minh has been UTC+7 without daylight saving since 1975.
pub fn local_tz() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

pub fn caption(e: &Event) -> String {
    let at = e.ts.with_timezone(&local_tz()).format("%Y-%m-%d %H:%M:%S");
    let what = match &e.body {
        Body::Track(t) => {
            let a = &t.attributes;
            let mut words = Vec::new();
            if let Some(c) = &a.color {
                words.push(c.clone());
            }
            words.push(t.class.clone());
            if let Some(u) = &a.upper_color {
                words.push(format!("in {u} top"));
            }
            if let Some(l) = &a.lower_color {
                words.push(format!("with {l} trousers"));
            }
            if let Some(p) = &a.plate {
                words.push(format!("plate {p}"));
            }
            let phase = match t.phase {
                TrackPhase::New => "appeared",
                TrackPhase::Update => "seen",
                TrackPhase::End => "left",
            };
            let zones = if t.zones.is_empty() {
                String::new()
            } else {
                format!(" after visiting {}", t.zones.join(", "))
            };
            format!("{} {phase}{zones} (track {})", words.join(" "), t.track_id)
        }
        Body::Crossing(c) => {
            let dir = match c.direction {
                matthan_schema::Direction::In => "inbound",
                matthan_schema::Direction::Out => "outbound",
            };
            format!(
                "{} crossed line {} {dir} (track {})",
                c.class, c.line, c.track_id
            )
        }
        Body::Zone(z) => {
            let act = match z.action {
                ZoneAction::Enter => "entered".to_string(),
                ZoneAction::Exit => format!("left after {:.0} s in", z.duration_s),
                ZoneAction::Dwell => format!("stayed {:.0} s in", z.duration_s),
            };
            format!("{} {act} zone {} (track {})", z.class, z.zone, z.track_id)
        }
        Body::Counts(c) => {
            let total: u32 = c.lines.iter().map(|l| l.in_count + l.out_count).sum();
            format!("counts: {total} crossings over {} lines", c.lines.len())
        }
        Body::CameraStatus(s) => format!(
            "camera {:?}{}",
            s.state,
            s.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        Body::EdgeStatus(s) => format!("edge {:?}", s.state),
        Body::SignalRecommendation(r) => format!(
            "signal plan for junction {}: cycle {:.0} s ({}), expected delay {:.0} s → {:.0} s per vehicle",
            r.junction,
            r.cycle_s,
            r.phases
                .iter()
                .map(|p| format!("{} {:.0} s", p.phase, p.green_s))
                .collect::<Vec<_>>()
                .join(", "),
            r.delay_current_s,
            r.delay_expected_s
        ),
        Body::CongestionWarning(w) => format!(
            "congestion expected at junction {} approach {} in {} min (degree of saturation {:.2})",
            w.junction, w.approach, w.horizon_min, w.forecast_degree
        ),
        Body::Alert(a) => {
            let phase = match a.phase {
                AlertPhase::Start => "ALERT",
                AlertPhase::End => "alert ended:",
            };
            let mut words = vec![phase.to_string(), alert_words(&a.rule).0];
            if let Some(z) = &a.zone {
                words.push(format!("in zone {z}"));
            }
            if let (Some(m), Some(u)) = (a.measure, &a.unit) {
                words.push(format!("({m:.1} {u})"));
            }
            words.push(format!("for {:.0} s", a.duration_s));
            if let Some(t) = a.track_ids.first() {
                words.push(format!("(track {t})"));
            }
            words.join(" ")
        }
        Body::Violation(v) => violation_caption(v),
    };
    format!("{what} at camera {} on {at}", e.camera)
}

/// A violation's caption: the rule in both languages, the vehicle and what was measured.
fn violation_caption(v: &matthan_schema::Violation) -> String {
    let (en, vi) = violation_words(v.rule);
    let mut words = vec![format!("VIOLATION {en} ({vi}):")];
    if let Some(c) = &v.color {
        words.push(c.clone());
    }
    words.push(v.class.clone());
    if let Some(p) = &v.plate {
        words.push(format!("plate {p}"));
    }
    let c = &v.context;
    if let Some(s) = &c.signal {
        words.push(format!(
            "crossed {:.1} s into red (phase {}, yellow {:.0} s)",
            s.into_red_s, s.phase, s.yellow_s
        ));
    }
    if let (Some(s), Some(l)) = (c.speed_kmh, c.limit_kmh) {
        words.push(format!("at {s:.0} km/h (limit {l:.0})"));
    }
    if let Some(d) = c.dwell_s {
        words.push(format!("stopped {d:.0} s"));
    }
    if let Some(m) = c.distance_m {
        words.push(format!("{m:.0} m against the flow"));
    }
    if let Some(z) = v.zone.as_ref().or(v.line.as_ref()) {
        words.push(format!("at {z}"));
    }
    words.push(format!("(track {})", v.track_id));
    words.join(" ")
}

/// What the event says about the object, without ids, times or camera: the text free-text query
/// words are ranked against by embedding. Few distinct values, so embeddings are cached by text.
pub fn semantic(e: &Event) -> String {
    match &e.body {
        Body::Track(t) => {
            let a = &t.attributes;
            let mut words: Vec<String> = Vec::new();
            if let Some(c) = &a.color {
                words.push(c.clone());
            }
            words.push(
                t.attributes
                    .subtype
                    .clone()
                    .unwrap_or_else(|| t.class.clone()),
            );
            if let Some(u) = &a.upper_color {
                words.push(format!("wearing a {u} shirt"));
            }
            if let Some(l) = &a.lower_color {
                words.push(format!("and {l} trousers"));
            }
            if !t.zones.is_empty() {
                words.push(format!(
                    "in {}",
                    t.zones.join(" and ").replace(['-', '_'], " ")
                ));
            }
            words.join(" ")
        }
        Body::Crossing(c) => {
            let dir = match c.direction {
                matthan_schema::Direction::In => "entering",
                matthan_schema::Direction::Out => "leaving",
            };
            format!(
                "{} {dir} across {}",
                c.class,
                c.line.replace(['-', '_'], " ")
            )
        }
        Body::Zone(z) => {
            let act = match z.action {
                ZoneAction::Enter => "entering",
                ZoneAction::Exit => "leaving",
                ZoneAction::Dwell => "loitering, staying a long time in",
            };
            format!("{} {act} {}", z.class, z.zone.replace(['-', '_'], " "))
        }
        Body::Alert(a) => {
            let (en, vi) = alert_words(&a.rule);
            let who = a.class.as_deref().unwrap_or("people");
            let place = a
                .zone
                .as_deref()
                .map(|z| format!(" near {}", z.replace(['-', '_'], " ")))
                .unwrap_or_default();
            format!("{who} {en}{place} ({vi})")
        }
        Body::Violation(v) => {
            let (en, vi) = violation_words(v.rule);
            let colour = v
                .color
                .as_deref()
                .map(|c| format!("{c} "))
                .unwrap_or_default();
            let place = v
                .zone
                .as_ref()
                .or(v.line.as_ref())
                .map(|z| format!(" at {}", z.replace(['-', '_'], " ")))
                .unwrap_or_default();
            format!("{colour}{} {en}{place} ({vi})", v.class)
        }
        _ => String::new(),
    }
}

/// English and Vietnamese names of an alert rule, for captions and result cards
/// (from `lexicon/rules.toml`).
pub fn alert_words(rule: &AlertRule) -> (String, String) {
    crate::lexicon::alert_words(rule.as_str())
}

/// English and Vietnamese names of a traffic violation, for captions and result cards.
pub fn violation_words(rule: ViolationRule) -> (String, String) {
    crate::lexicon::violation_words(rule.as_str())
}
