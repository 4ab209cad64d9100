//! Events as the edges send them: a signal-timing recommendation, a signed violation, the
//! test edge box's key.

use chrono::{DateTime, Utc};
use matthan_schema::{Body, Event};

/// What the edge's signal-timing controller publishes for junction `ben-thanh-jct`: a 72 s
/// cycle, ns 35 s and ew 27 s, delay 31 s now and 22.5 s expected, beside the 90 s plan in
/// force (ns 40 s, ew 40 s).
pub fn recommendation(now: DateTime<Utc>) -> Event {
    recommendation_at(now - chrono::Duration::seconds(30), [620.0, 410.0])
}

/// The same recommendation at `ts` with measured flows (PCU/h) on the ns and ew approaches,
/// forecasts of 1.1× those flows 5, 10 and 15 minutes on, and two live green decisions (ns
/// 31.5 s answered, ew 24 s too late).
pub fn recommendation_at(ts: DateTime<Utc>, flows: [f32; 2]) -> Event {
    use matthan_schema::{ApproachInput, FlowForecast, PhaseTiming, PlanInForce};
    let phase = |p: &str, g: f32| PhaseTiming {
        phase: p.into(),
        green_s: g,
        yellow_s: 3.0,
        all_red_s: 2.0,
    };
    let approaches = ["ns", "ew"];
    Event::new(
        "hcmc",
        "ben-thanh-jct",
        ts,
        matthan_schema::Body::SignalRecommendation(matthan_schema::SignalRecommendation {
            junction: "ben-thanh-jct".into(),
            mode: "adaptive".into(),
            cycle_s: 72.0,
            phases: vec![phase("ns", 35.0), phase("ew", 27.0)],
            inputs: approaches
                .iter()
                .zip(flows)
                .map(|(a, f)| ApproachInput {
                    approach: (*a).into(),
                    flow_pcu_h: f,
                    saturation_pcu_h: 1800.0,
                    saturation_measured: false,
                    queue_veh: f / 60.0,
                    occupancy: 0.4,
                    flow_ratio: f / 1800.0,
                })
                .collect(),
            y_total: 0.62,
            oversaturated: false,
            delay_current_s: 31.0,
            delay_expected_s: 22.5,
            interval_start: ts - chrono::Duration::minutes(5),
            in_force: Some(PlanInForce {
                cycle_s: 90.0,
                phases: vec![phase("ns", 40.0), phase("ew", 40.0)],
            }),
            forecasts: approaches
                .iter()
                .zip(flows)
                .flat_map(|(a, f)| {
                    [5, 10, 15].map(|h| FlowForecast {
                        approach: (*a).into(),
                        horizon_min: h,
                        flow_pcu_h: f * 1.1,
                    })
                })
                .collect(),
            // The controller asked for two greens live; the second answer came too late.
            decisions: [("ns", 31.5, true), ("ew", 24.0, false)]
                .into_iter()
                .enumerate()
                .map(|(k, (p, g, answered))| matthan_schema::PhaseDecision {
                    phase: p.into(),
                    at: ts - chrono::Duration::seconds(60 - 35 * k as i64),
                    green_s: g,
                    answered,
                    inputs: approaches
                        .iter()
                        .zip(flows)
                        .map(|(a, f)| matthan_schema::DecisionInput {
                            approach: (*a).into(),
                            flow_pcu_h: f,
                            queue_pcu: f / 80.0,
                            saturation_pcu_h: 1800.0,
                        })
                        .collect(),
                })
                .collect(),
        }),
    )
}

/// The Ed25519 key of the test "edge box" whose evidence the test hub trusts.
pub fn edge_key() -> ring::signature::Ed25519KeyPair {
    ring::signature::Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap()
}

pub fn edge_key_hex(k: &ring::signature::Ed25519KeyPair) -> String {
    use ring::signature::KeyPair;
    k.public_key()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A red-light violation as an edge sends it: two images and a manifest listing them, signed
/// by `key`. Returns the event and the blobs (sha256, bytes) to publish first.
pub fn signed_violation(
    key: &ring::signature::Ed25519KeyPair,
    at: DateTime<Utc>,
) -> (Event, Vec<(String, Vec<u8>)>) {
    use matthan_schema::{Artefact, Violation, ViolationContext, ViolationRule};
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "overview-1.jpg",
            b"\xff\xd8 frame at the stop line".to_vec(),
        ),
        ("vehicle.jpg", b"\xff\xd8 the vehicle".to_vec()),
    ];
    let sha = |b: &[u8]| central_hub::config::sha256_hex(b);
    // The facts as the edge signs them (edge-node/src/evidence/bundle.rs).
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "schema": "matthan.evidence/1",
        "site": "hcmc",
        "camera": "ben-thanh-1",
        "subject": "red-east",
        "context": {
            "violation_id": "20261126T080017700-3-abcd1234",
            "rule": "red_light",
            "rule_id": "red-east",
            "track_id": 3,
            "class": "motorcycle",
            "at": matthan_schema::format_ts(&at),
            "zone": null,
            "line": "stop-east",
            "measured": ViolationContext::default(),
            "plate": {"text": "59-X1-123.45", "score": 0.97f32},
        },
        "files": files.iter().map(|(n, b)| serde_json::json!({"name": n, "sha256": sha(b), "bytes": b.len()})).collect::<Vec<_>>(),
        "public_key": edge_key_hex(key),
        "created": matthan_schema::format_ts(&at),
    }))
    .unwrap();
    let sig: String = key
        .sign(&manifest)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let v = Violation {
        rule: ViolationRule::RedLight,
        rule_id: "red-east".into(),
        violation_id: "20261126T080017700-3-abcd1234".into(),
        track_id: 3,
        class: "motorcycle".into(),
        at,
        zone: None,
        line: Some("stop-east".into()),
        context: ViolationContext::default(),
        plate: Some("59-X1-123.45".into()),
        plate_score: Some(0.97),
        color: Some("red".into()),
        evidence: files
            .iter()
            .map(|(n, b)| Artefact {
                name: n.to_string(),
                sha256: sha(b),
                bytes: b.len() as u64,
                mime: "image/jpeg".into(),
                captured: Some(at),
            })
            .collect(),
        manifest: Some(sha(&manifest)),
        signature: Some(sig),
        public_key: Some(edge_key_hex(key)),
    };
    let mut blobs: Vec<(String, Vec<u8>)> = files.into_iter().map(|(_, b)| (sha(&b), b)).collect();
    blobs.push((sha(&manifest), manifest));
    (
        Event::new("hcmc", "ben-thanh-1", at, Body::Violation(v)),
        blobs,
    )
}

// ---- The hub's ingest alone, against a real broker (ingest and fault tests). ----
