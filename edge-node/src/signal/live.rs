//! Live control over MQTT: a junction's signal controller (or its gateway) publishes on
//! `matthan/{site}/{junction}/signal/request` and the edge answers on `.../signal/decision`.
//!
//! A request is one control message (`control::Msg`) with an envelope:
//! `{"id": "r17", "deadline_ms": 1764658800250, "green": {"phase": "ns", "t": 1764658800.0}}`
//! asks for the green of phase `ns`, which starts at `t` (seconds, the clock the controller's
//! other messages use; unix time when the cameras measure the junction). The answer,
//! `{"id": "r17", "junction": .., "phase": "ns", "green_s": 23.5, "inputs": [..]}`, is sent only
//! if it is ready by `deadline_ms` (unix milliseconds, edge clock): a controller that has no
//! answer by then runs its own plan for that phase, and so does the edge's record of it.
//! `crossing` and `queue` messages (the controller's own detectors) need no envelope and get no
//! answer. Anything refused is answered with `{"id": .., "error": ..}` naming what and why.
//! The same `control::handle` answers `edge-node signal-sim`, which the SUMO evaluation drives.

use chrono::{DateTime, Utc};
use matthan_schema::PhaseDecision;
use serde_json::{Map, Value, json};

use super::JunctionFeed;
use super::control::{self, Msg};

/// An answer to send: topic and payload.
pub type Answer = (String, Vec<u8>);

/// One message on a request topic for junction `junction`; the answer to publish, if any.
/// Requests for junctions this edge does not answer are left to the edge that does.
pub fn on_request(
    feeds: &mut [JunctionFeed],
    site: &str,
    junction: &str,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Option<Answer> {
    let feed = feeds
        .iter_mut()
        .find(|f| f.controller.junction.id == junction && f.controller.junction.answer_requests)?;
    let topic = matthan_schema::signal_decision_topic(site, junction);
    let (id, deadline_ms, msg) = match parse(payload) {
        Ok(x) => x,
        Err((id, reason)) => return Some(refusal(topic, junction, id, reason)),
    };
    match answer(feed, id.clone(), deadline_ms, msg, now) {
        Ok(Some(v)) => Some((topic, v.to_string().into_bytes())),
        Ok(None) => None,
        Err(reason) => Some(refusal(topic, junction, id, reason)),
    }
}

fn refusal(topic: String, junction: &str, id: Option<String>, reason: String) -> Answer {
    tracing::warn!(junction, id = ?id, %reason, "signal request refused");
    let v = json!({ "id": id, "junction": junction, "error": reason });
    (topic, v.to_string().into_bytes())
}

/// The envelope's id and deadline, and the control message inside it.
type Parsed = (Option<String>, Option<i64>, Msg);

fn parse(payload: &[u8]) -> Result<Parsed, (Option<String>, String)> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| (None, format!("not JSON: {e}")))?;
    let Value::Object(mut o) = v else {
        return Err((None, "a request is a JSON object".into()));
    };
    let id = match o.remove("id") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => Some(s),
        Some(_) => return Err((None, "id: must be a string of 1 to 128 characters".into())),
    };
    let deadline_ms = match o.remove("deadline_ms") {
        None => None,
        Some(d) => Some(
            d.as_i64()
                .ok_or_else(|| (id.clone(), "deadline_ms: must be unix milliseconds".into()))?,
        ),
    };
    let msg: Msg = serde_json::from_value(Value::Object(Map::from_iter(o)))
        .map_err(|e| (id.clone(), format!("message: {e}")))?;
    Ok((id, deadline_ms, msg))
}

fn answer(
    feed: &mut JunctionFeed,
    id: Option<String>,
    deadline_ms: Option<i64>,
    msg: Msg,
    now: DateTime<Utc>,
) -> Result<Option<Value>, String> {
    match msg {
        Msg::Crossing { .. } | Msg::Queue { .. } => control::handle(&mut feed.controller, msg),
        Msg::Tick { .. } | Msg::Webster { .. } => Err(
            "only crossing, queue and green are taken over MQTT: the edge measures its own \
             intervals and publishes its recommendations"
                .into(),
        ),
        Msg::Green { ref phase, t } => {
            let id = id.ok_or("a green request needs an id to answer to")?;
            let deadline = deadline_ms.ok_or(
                "a green request needs deadline_ms: the unix time after which the controller \
                 runs its own plan",
            )?;
            let phase = phase.clone();
            // Applied even when late: the green started all the same, and the discharge it
            // measures is what the next decisions learn saturation flow from.
            let reply = control::handle(&mut feed.controller, msg)?.unwrap_or_default();
            feed.live = true;
            let green_s = reply["green_s"].as_f64().unwrap_or_default();
            let inputs = feed.controller.decision_inputs(t);
            let answered = Utc::now().timestamp_millis() <= deadline;
            if !answered {
                tracing::warn!(junction = %feed.controller.junction.id, %phase, id,
                    "green decided after the controller's deadline; not sent");
            }
            feed.record(PhaseDecision {
                phase: phase.clone(),
                at: now,
                green_s: green_s as f32,
                answered,
                inputs: inputs.clone(),
            });
            Ok(answered.then(|| {
                json!({
                    "id": id, "junction": feed.controller.junction.id, "phase": phase,
                    "green_s": green_s, "t": t, "inputs": inputs,
                })
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{Controller, Junction, RawJunction};

    fn feeds() -> Vec<JunctionFeed> {
        let raw: RawJunction = toml::from_str(
            r#"
            id = "j1"
            camera = "c"
            answer_requests = true
            [[approaches]]
            id = "a"
            line = "l"
            [[approaches]]
            id = "b"
            line = "l"
            [[phases]]
            id = "pa"
            approaches = ["a"]
            [[phases]]
            id = "pb"
            approaches = ["b"]
            "#,
        )
        .unwrap();
        let j = Junction::validate(raw, |_, _| true, |_, _| true).unwrap();
        vec![JunctionFeed::new(Controller::new(j, None))]
    }

    fn send(f: &mut [JunctionFeed], body: Value) -> Option<Value> {
        let (topic, payload) = on_request(f, "s", "j1", body.to_string().as_bytes(), Utc::now())?;
        assert_eq!(topic, "matthan/s/j1/signal/decision");
        Some(serde_json::from_slice(&payload).unwrap())
    }

    #[test]
    fn a_green_in_time_is_answered_and_recorded() {
        let mut f = feeds();
        let deadline = Utc::now().timestamp_millis() + 5_000;
        for t in [1.0, 2.0, 3.0] {
            let q = json!({"queue": {"approach": "a", "t": t, "classes": ["car", "car", "bus"]}});
            assert_eq!(send(&mut f, q), None);
        }
        let d = send(
            &mut f,
            json!({"id": "r1", "deadline_ms": deadline, "green": {"phase": "pa", "t": 3.0}}),
        )
        .unwrap();
        assert_eq!(d["id"], "r1");
        assert_eq!(d["phase"], "pa");
        assert!(d["green_s"].as_f64().unwrap() >= 7.0, "{d}");
        assert_eq!(d["inputs"][0]["queue_pcu"], 4.0, "{d}");
        assert!(f[0].live && f[0].decisions.len() == 1 && f[0].decisions[0].answered);
    }

    #[test]
    fn a_late_green_is_applied_and_recorded_but_not_sent() {
        let mut f = feeds();
        let past = Utc::now().timestamp_millis() - 1;
        let late = json!({"id": "r2", "deadline_ms": past, "green": {"phase": "pb", "t": 9.0}});
        assert_eq!(send(&mut f, late), None, "a late answer is never sent");
        assert_eq!(f[0].decisions.len(), 1);
        assert!(!f[0].decisions[0].answered);
    }

    #[test]
    fn refusals_name_what_is_wrong_and_other_junctions_are_left_alone() {
        let mut f = feeds();
        let cases = [
            (
                json!({"id": "x", "deadline_ms": 1, "green": {"phase": "pz", "t": 1.0}}),
                "pz",
            ),
            (json!({"green": {"phase": "pa", "t": 1.0}}), "needs an id"),
            (
                json!({"id": "y", "green": {"phase": "pa", "t": 1.0}}),
                "deadline_ms",
            ),
            (
                json!({"tick": {"t": 1.0, "adaptive": true}}),
                "only crossing, queue and green",
            ),
            (
                json!({"crossing": {"approach": "zz", "t": 1.0, "class": "car"}}),
                "zz",
            ),
            (json!({"id": 5, "green": {}}), "id:"),
            (json!([1, 2]), "JSON object"),
        ];
        for (body, want) in cases {
            let d = send(&mut f, body.clone()).unwrap();
            let e = d["error"].as_str().unwrap();
            assert!(e.contains(want), "{body} → {e}");
        }
        assert!(f[0].decisions.is_empty() && !f[0].live);
        let other = on_request(&mut f, "s", "j9", b"{}", Utc::now());
        assert!(other.is_none(), "another edge's junction");
    }
}
