//! MQTT topic names. `docs/events.md` is the human-readable copy of this file.

use crate::Kind;

pub const TOPIC_ROOT: &str = "matthan";

/// `matthan/{site}/{camera}/{kind}`: every event. Edge status uses the edge id as `camera`.
pub fn event_topic(site: &str, camera: &str, kind: Kind) -> String {
    format!("{TOPIC_ROOT}/{site}/{camera}/{}", kind.as_str())
}

/// The filter a hub subscribes to for every event of every site.
pub const ALL_EVENTS_FILTER: &str = "matthan/+/+/+";

/// Evidence blobs (snapshots, clips) travel outside the event tree, named by their sha256.
pub const EVIDENCE_ROOT: &str = "matthan-evidence";

/// The filter a hub subscribes to for every evidence blob.
pub const ALL_EVIDENCE_FILTER: &str = "matthan-evidence/+/+";

/// `matthan-evidence/{site}/{sha256}`.
pub fn evidence_topic(site: &str, sha256: &str) -> String {
    format!("{EVIDENCE_ROOT}/{site}/{sha256}")
}

/// Splits an event topic into (site, camera, kind), or says why it is not one.
pub fn parse_event_topic(topic: &str) -> Result<(&str, &str, Kind), String> {
    let mut parts = topic.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(TOPIC_ROOT), Some(site), Some(camera), Some(kind), None) => {
            let kind = Kind::parse(kind).ok_or_else(|| format!("unknown event kind {kind:?}"))?;
            Ok((site, camera, kind))
        }
        _ => Err(format!(
            "{topic:?} is not of the form {TOPIC_ROOT}/{{site}}/{{camera}}/{{kind}}"
        )),
    }
}

/// A site, camera or junction id must be usable as one MQTT topic level and as a file name.
pub fn validate_segment(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 64 {
        return Err(format!("{s:?} must be 1 to 64 characters"));
    }
    // Ids name folders (evidence bundles): "..", "." or a hidden name must never be one.
    if s.starts_with('.') {
        return Err(format!("{s:?} must not start with '.'"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{s:?} contains {c:?}; use letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// Whether `s` names an evidence blob: 64 lower-case hex digits, its sha256. Anything else in a
/// reference (a path, a URL) would make a viewer's browser fetch what a publisher chose.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `matthan/{site}/{junction}/signal/state`: a junction controller's phase changes, which the
/// edge reads to judge red-light violations. One level deeper than events, so the hub's event
/// filter does not take them.
pub fn signal_state_topic(site: &str, junction: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/{junction}/signal/state")
}

/// The filter an edge subscribes to for every junction controller of its site.
pub fn signal_state_filter(site: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/+/signal/state")
}

/// The junction a signal-state topic names, if it is one.
pub fn parse_signal_state_topic(topic: &str) -> Option<(&str, &str)> {
    parse_signal_topic(topic, "state")
}

/// `matthan/{site}/{junction}/signal/request`: a junction controller (or its gateway) asks the
/// edge for the next phase's green and may feed its own detectors' readings.
pub fn signal_request_topic(site: &str, junction: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/{junction}/signal/request")
}

/// The filter an edge subscribes to for requests to every junction of its site.
pub fn signal_request_filter(site: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/+/signal/request")
}

/// `matthan/{site}/{junction}/signal/decision`: the edge's answers to the junction's requests.
pub fn signal_decision_topic(site: &str, junction: &str) -> String {
    format!("{TOPIC_ROOT}/{site}/{junction}/signal/decision")
}

/// The site and junction a signal-request topic names, if it is one.
pub fn parse_signal_request_topic(topic: &str) -> Option<(&str, &str)> {
    parse_signal_topic(topic, "request")
}

fn parse_signal_topic<'a>(topic: &'a str, leaf: &str) -> Option<(&'a str, &'a str)> {
    let mut p = topic.split('/');
    match (p.next(), p.next(), p.next(), p.next(), p.next(), p.next()) {
        (Some(TOPIC_ROOT), Some(site), Some(junction), Some("signal"), Some(l), None)
            if l == leaf =>
        {
            Some((site, junction))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        let t = event_topic("hcmc", "ben-thanh-1", Kind::CameraStatus);
        assert_eq!(t, "matthan/hcmc/ben-thanh-1/camera_status");
        assert_eq!(
            parse_event_topic(&t).unwrap(),
            ("hcmc", "ben-thanh-1", Kind::CameraStatus)
        );
        assert!(parse_event_topic("matthan/a/b").is_err());
        assert!(parse_event_topic("matthan/a/b/c/d").is_err());
        assert!(parse_event_topic("matthan/a/b/nope").is_err());
    }

    #[test]
    fn signal_topics_name_their_junction_and_nothing_else() {
        let r = signal_request_topic("hcmc", "j1");
        assert_eq!(parse_signal_request_topic(&r), Some(("hcmc", "j1")));
        assert_eq!(parse_signal_state_topic(&r), None);
        let s = signal_state_topic("hcmc", "j1");
        assert_eq!(parse_signal_state_topic(&s), Some(("hcmc", "j1")));
        assert_eq!(parse_signal_request_topic(&s), None);
        let d = signal_decision_topic("hcmc", "j1");
        assert_eq!(parse_signal_request_topic(&d), None);
        assert_eq!(parse_signal_request_topic(&format!("{r}/x")), None);
    }

    #[test]
    fn segments_reject_wildcards_and_separators() {
        for bad in ["", "a/b", "+", "#", "a b", "đường"] {
            assert!(validate_segment(bad).is_err(), "{bad}");
        }
        validate_segment("cam-01_a.b").unwrap();
    }
}
