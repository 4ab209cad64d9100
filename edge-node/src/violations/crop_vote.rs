//! Rules read from a secondary classifier run on vehicle crops (no helmet, more than two
//! riders): a track is flagged once the classifier's `label` has scored at least `threshold` on
//! `min_votes` of its crops and on at least `min_ratio` of all its classified crops, so a few
//! bad crops (occlusion, blur) neither make nor break a case.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use matthan_schema::{ViolationContext, ViolationRule};

use super::{Check, Cx, Hit, allowed};

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
