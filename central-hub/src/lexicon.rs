//! The hub's vocabulary as data: `lexicon/phrases.tsv` (what words in a query mean) and
//! `lexicon/rules.toml` (each rule's English and Vietnamese names and search words), compiled
//! in and read once. Captions and the query parser both read rule names from here, so a new
//! rule is one entry in `rules.toml`.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

const PHRASES_TSV: &str = include_str!("../lexicon/phrases.tsv");
const RULES_TOML: &str = include_str!("../lexicon/rules.toml");
const HOMOGRAPHS_TSV: &str = include_str!("../lexicon/homographs.tsv");

/// A word whose folded form several Vietnamese words share.
#[derive(Debug, Clone, PartialEq)]
pub struct Homograph {
    /// The spelling the vocabulary means ("đỏ" for `do`).
    pub meant: &'static str,
    /// The other words it folds from ("đỗ", "đó", ...).
    pub others: Vec<&'static str>,
}

static HOMOGRAPHS: LazyLock<HashMap<&'static str, Homograph>> = LazyLock::new(|| {
    HOMOGRAPHS_TSV
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut c = l.split('\t');
            let (Some(key), Some(meant), Some(others)) = (c.next(), c.next(), c.next()) else {
                panic!("lexicon/homographs.tsv: needs folded<TAB>meant<TAB>others: {l:?}");
            };
            let others = others.split(',').map(str::trim).collect();
            (key, Homograph { meant, others })
        })
        .collect()
});

/// The homograph entry of a folded word, if several words share it.
pub fn homograph(folded: &str) -> Option<&'static Homograph> {
    HOMOGRAPHS.get(folded)
}

/// What a phrase means to the query parser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Meaning {
    Class(&'static str),
    Color(&'static str),
    /// A garment word; `vi` = Vietnamese order (the colour follows the garment).
    Upper {
        vi: bool,
    },
    Lower {
        vi: bool,
    },
    Direction(&'static str),
    Kind(&'static str),
    Violation(&'static str),
    Alert(&'static str),
    Day(i64),
    /// Yesterday, at the clock windows given (or these when none: "tối qua" is the evening,
    /// "đêm qua" the night).
    LastNight(&'static [(u32, u32)]),
    /// Local clock windows (minutes of the day) a part of day covers.
    Part(&'static [(u32, u32)]),
    /// Day of the week, 1 = Monday.
    Weekday(u8),
    /// "last" before a weekday: the most recent one before today.
    Prev,
    PrevWeek,
    ThisWeek,
    PlateWord,
    /// Compass heading of travel, degrees clockwise from north.
    Heading(u16),
    /// A zone or line name (`sidewalk`, `bus-lane`).
    Place(&'static str),
    Stop,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleWords {
    pub en: String,
    pub vi: String,
    #[serde(default)]
    pub words: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    #[allow(dead_code)]
    version: u32,
    #[serde(default)]
    alert: BTreeMap<String, RuleWords>,
    #[serde(default)]
    violation: BTreeMap<String, RuleWords>,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    toml::from_str(RULES_TOML).expect("lexicon/rules.toml is valid (unit-tested)")
});

/// Every phrase with its meaning; the first listing of a phrase wins.
static PHRASES: LazyLock<HashMap<String, Meaning>> = LazyLock::new(|| {
    let mut out: Vec<(String, Meaning)> = PHRASES_TSV
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| parse_row(l).unwrap_or_else(|e| panic!("lexicon/phrases.tsv: {e}: {l:?}")))
        .collect();
    for (name, r) in &RULES.alert {
        let name: &'static str = leak(name);
        out.extend(r.words.iter().map(|w| (w.clone(), Meaning::Alert(name))));
    }
    for (name, r) in &RULES.violation {
        let name: &'static str = leak(name);
        out.extend(
            r.words
                .iter()
                .map(|w| (w.clone(), Meaning::Violation(name))),
        );
    }
    let mut map = HashMap::new();
    for (p, m) in out {
        map.entry(p).or_insert(m);
    }
    map
});

/// Rule names live as long as the process (they come from the compiled-in lexicon, read once).
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn parse_row(line: &'static str) -> Result<(String, Meaning), String> {
    let mut cols = line.split('\t');
    let (Some(phrase), Some(kind)) = (cols.next(), cols.next()) else {
        return Err("needs phrase<TAB>meaning[<TAB>value]".into());
    };
    let v = cols.next().unwrap_or("");
    let num = |s: &str| s.parse::<i64>().map_err(|e| format!("{s:?}: {e}"));
    let m = match kind {
        "class" => Meaning::Class(v),
        "color" => Meaning::Color(v),
        "upper" => Meaning::Upper { vi: v == "vi" },
        "lower" => Meaning::Lower { vi: v == "vi" },
        "direction" => Meaning::Direction(v),
        "kind" => Meaning::Kind(v),
        "day" => Meaning::Day(num(v)?),
        "last_night" => Meaning::LastNight(part_windows(if v.is_empty() { "18,6" } else { v })?),
        "part" => Meaning::Part(part_windows(v)?),
        "weekday" => match num(v)? {
            n @ 1..=7 => Meaning::Weekday(n as u8),
            n => return Err(format!("weekday {n}: 1 (Monday) to 7")),
        },
        "prev" => Meaning::Prev,
        "prev_week" => Meaning::PrevWeek,
        "this_week" => Meaning::ThisWeek,
        "plate_word" => Meaning::PlateWord,
        "heading" => match num(v)? {
            d @ 0..=359 => Meaning::Heading(d as u16),
            d => return Err(format!("heading {d}: 0 (north) to 359")),
        },
        "place" => Meaning::Place(v),
        "stop" => Meaning::Stop,
        other => return Err(format!("unknown meaning {other:?}")),
    };
    Ok((phrase.to_string(), m))
}

/// "6,9;16,19" (local hours, or h:mm) as minute windows, kept for the process's life.
fn part_windows(v: &str) -> Result<&'static [(u32, u32)], String> {
    let minutes = |t: &str| -> Result<u32, String> {
        let (h, m) = t.split_once(':').unwrap_or((t, "0"));
        let (h, m) = (h.trim().parse::<u32>(), m.trim().parse::<u32>());
        match (h, m) {
            (Ok(h), Ok(m)) if h <= 24 && m < 60 => Ok((h * 60 + m) % (24 * 60)),
            _ => Err(format!("part: {t:?} is not an hour")),
        }
    };
    let windows = v
        .split(';')
        .map(|w| {
            let (a, b) = w.split_once(',').ok_or("part needs from,to")?;
            Ok((minutes(a)?, minutes(b)?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Box::leak(windows.into_boxed_slice()))
}

/// Every one-word phrase of four or more letters that means something (not a stop word): what
/// a misspelt word may be read as.
pub fn single_words() -> impl Iterator<Item = (&'static str, Meaning)> {
    let phrases: &'static HashMap<String, Meaning> = &PHRASES;
    phrases
        .iter()
        .filter(|(p, m)| p.len() >= 4 && !p.contains(' ') && **m != Meaning::Stop)
        .map(|(p, m)| (p.as_str(), *m))
}

static PHRASE_WORDS: LazyLock<std::collections::HashSet<&'static str>> = LazyLock::new(|| {
    let phrases: &'static HashMap<String, Meaning> = &PHRASES;
    phrases.keys().flat_map(|p| p.split(' ')).collect()
});

/// Whether `word` is a word of some phrase ("nguoi" of "nguoi di bo"): a real word, not a typo.
pub fn is_phrase_word(word: &str) -> bool {
    PHRASE_WORDS.contains(word)
}

/// The meaning of an exact (folded) phrase.
pub fn phrase(p: &str) -> Option<Meaning> {
    PHRASES.get(p).copied()
}

/// English and Vietnamese names of an alert rule; an unknown kind is shown by its name.
pub fn alert_words(kind: &str) -> (String, String) {
    words(RULES.alert.get(kind), kind)
}

/// English and Vietnamese names of a traffic violation rule.
pub fn violation_words(rule: &str) -> (String, String) {
    words(RULES.violation.get(rule), rule)
}

fn words(r: Option<&RuleWords>, name: &str) -> (String, String) {
    match r {
        Some(r) => (r.en.clone(), r.vi.clone()),
        None => {
            let plain = name.replace('_', " ");
            (plain.clone(), plain)
        }
    }
}

/// The alert kinds the lexicon names (for the evaluation seed and documentation).
pub fn alert_kinds() -> impl Iterator<Item = &'static str> {
    RULES.alert.keys().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_files_load_and_every_violation_rule_is_named() {
        assert!(PHRASES.len() > 200, "{}", PHRASES.len());
        for r in matthan_schema::ViolationRule::ALL {
            assert!(RULES.violation.contains_key(r.as_str()), "{r:?}");
        }
        for (p, _) in PHRASES.iter() {
            assert_eq!(
                p,
                &crate::query::fold(p),
                "phrases are written folded: {p:?}"
            );
        }
        assert_eq!(phrase("xe may"), Some(Meaning::Class("motorcycle")));
        // Colours are exactly the edge's palette: a word for a colour it never gives would be a
        // filter that matches nothing.
        for (p, m) in PHRASES.iter() {
            if let Meaning::Color(c) = m {
                for one in c.split('|') {
                    assert!(matthan_schema::PALETTE.contains(&one), "{p}: {c}");
                }
            }
        }
        assert_eq!(phrase("lang vang"), Some(Meaning::Alert("loitering")));
        assert_eq!(alert_words("loitering").1, "lảng vảng");
        assert_eq!(alert_words("new_rule").0, "new rule");
        for (k, h) in HOMOGRAPHS.iter() {
            assert_eq!(crate::query::fold(h.meant), *k, "{h:?}");
            assert!(phrase(k).is_some(), "{k} is in the vocabulary");
            for o in &h.others {
                assert_eq!(crate::query::fold(o), *k, "{o}");
            }
        }
    }
}
