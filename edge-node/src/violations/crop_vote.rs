//! Rules read from a secondary classifier run on vehicle crops (no helmet, more than two
//! riders): a track is flagged once the classifier's `label` has scored at least `threshold` on
//! `min_votes` of its crops and on at least `min_ratio` of all its classified crops, so a few
//! bad crops (occlusion, blur) neither make nor break a case.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{ViolationContext, ViolationRule};

use super::{BuildCheck, Check, Cx, Env, Hit, allowed};
use crate::config::{CamScope, ConfigError, Registration};

#[derive(Debug, Clone)]
pub struct CropVoteParams {
    /// The `[[classifiers]]` id.
    pub classifier: String,
    pub label: String,
    pub threshold: f32,
    pub min_votes: u32,
    pub min_ratio: f32,
    pub classes: Vec<String>,
}

/// `kind = "no_helmet"` and `kind = "too_many_riders"`: votes of a secondary classifier.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    classifier: String,
    /// `no_helmet` / `three_riders` unless the classifier names it otherwise.
    #[serde(default)]
    label: Option<String>,
    #[serde(default = "d_threshold")]
    threshold: f32,
    #[serde(default = "d_votes")]
    min_votes: u32,
    #[serde(default = "d_ratio")]
    min_ratio: f32,
    #[serde(default = "d_two_wheelers")]
    classes: Vec<String>,
}

fn d_threshold() -> f32 {
    0.6
}
fn d_votes() -> u32 {
    3
}
fn d_ratio() -> f32 {
    0.5
}
fn d_two_wheelers() -> Vec<String> {
    vec!["motorcycle".into(), "bicycle".into()]
}

pub(super) const NO_HELMET: Registration<Arc<dyn BuildCheck>> = Registration {
    kind: "no_helmet",
    parse: |t, cx| parse(t, cx, ViolationRule::NoHelmet, "no_helmet"),
};

pub(super) const TOO_MANY_RIDERS: Registration<Arc<dyn BuildCheck>> = Registration {
    kind: "too_many_riders",
    parse: |t, cx| parse(t, cx, ViolationRule::TooManyRiders, "three_riders"),
};

fn parse(
    t: toml::Table,
    cx: &CamScope,
    rule: ViolationRule,
    default_label: &str,
) -> Result<Arc<dyn BuildCheck>, ConfigError> {
    let v: Raw = cx.deserialize(t)?;
    let label = v.label.unwrap_or_else(|| default_label.to_string());
    let Some((_, labels)) = cx
        .known
        .classifiers
        .iter()
        .find(|(id, _)| *id == v.classifier)
    else {
        return Err(cx.err(
            "classifier",
            format!("no [[classifiers]] entry with id {:?}", v.classifier),
        ));
    };
    if !labels.contains(&label) {
        return Err(cx.err(
            "label",
            format!(
                "classifier {:?} has no label {label:?} (labels: {})",
                v.classifier,
                labels.join(", ")
            ),
        ));
    }
    if !(v.threshold > 0.0 && v.threshold <= 1.0) {
        return Err(cx.err("threshold", "must be in (0, 1]"));
    }
    if v.min_votes == 0 {
        return Err(cx.err("min_votes", "must be at least 1"));
    }
    if !(0.0..=1.0).contains(&v.min_ratio) {
        return Err(cx.err("min_ratio", "must be in [0, 1]"));
    }
    let params = CropVoteParams {
        classifier: v.classifier,
        label,
        threshold: v.threshold,
        min_votes: v.min_votes,
        min_ratio: v.min_ratio,
        classes: cx.classes("classes", v.classes)?,
    };
    Ok(Arc::new(VoteRule { rule, params }))
}

/// A crop-vote rule: which violation it reports, and how it votes.
#[derive(Debug, Clone)]
struct VoteRule {
    rule: ViolationRule,
    params: CropVoteParams,
}

impl BuildCheck for VoteRule {
    fn build(&self, id: String, _env: &Env) -> Box<dyn Check + Send> {
        Box::new(CropVote::new(id, self.rule, self.params.clone()))
    }

    fn classifier(&self) -> Option<&str> {
        Some(&self.params.classifier)
    }
}

/// One classifier result on one track's crop this frame.
#[derive(Debug, Clone)]
pub struct Vote {
    pub track: u64,
    pub classifier: String,
    /// Score per label, in the classifier's label order.
    pub scores: Vec<(String, f32)>,
}

#[derive(Default)]
struct Tally {
    frames: u32,
    votes: u32,
    best: f32,
    first_vote: Option<DateTime<Utc>>,
    flagged: bool,
}

pub struct CropVote {
    id: String,
    rule: ViolationRule,
    p: CropVoteParams,
    tallies: HashMap<u64, Tally>,
}

impl CropVote {
    pub fn new(id: String, rule: ViolationRule, p: CropVoteParams) -> Self {
        Self {
            id,
            rule,
            p,
            tallies: HashMap::new(),
        }
    }
}

impl Check for CropVote {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>) {
        for v in cx
            .votes
            .iter()
            .filter(|v| v.classifier == self.p.classifier)
        {
            let Some(root) = cx.tracks.root_of(v.track) else {
                continue;
            };
            let Some(m) = cx.tracks.get(root) else {
                continue;
            };
            if !allowed(&self.p.classes, &m.class) {
                continue;
            }
            let score = v
                .scores
                .iter()
                .find(|(l, _)| *l == self.p.label)
                .map_or(0.0, |(_, s)| *s);
            let t = self.tallies.entry(root).or_default();
            t.frames += 1;
            if score >= self.p.threshold {
                t.votes += 1;
                t.best = t.best.max(score);
                t.first_vote.get_or_insert(cx.now);
            }
            if t.flagged
                || t.votes < self.p.min_votes
                || (t.votes as f32) < self.p.min_ratio * t.frames as f32
            {
                continue;
            }
            t.flagged = true;
            out.push(Hit {
                rule: self.rule,
                rule_id: self.id.clone(),
                track: v.track,
                class: m.class.clone(),
                at: cx.now,
                zone: None,
                line: None,
                context: ViolationContext {
                    label: Some(self.p.label.clone()),
                    score: Some(t.best),
                    votes: Some(t.votes),
                    frames: Some(t.frames),
                    ..ViolationContext::default()
                },
                moments: [t.first_vote.unwrap_or(cx.now), cx.now],
                color: None,
            });
        }
    }

    fn track_ended(&mut self, id: u64, _now: DateTime<Utc>) {
        self.tallies.remove(&id);
    }
}
