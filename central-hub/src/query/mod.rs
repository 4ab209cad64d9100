//! Turns an operator's free text, English or Vietnamese, into filters plus leftover words.
//! Unknown words never fail a query: they are kept as `terms`, only rank, and are listed as not
//! understood; a query in which nothing at all was understood selects nothing.

mod time;
mod typo;

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

pub use time::clock_label;

/// Queries longer than this are cut (at a character boundary) before parsing.
pub const MAX_QUERY_BYTES: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub classes: Vec<String>,
    pub color: Option<String>,
    pub upper_color: Option<String>,
    pub lower_color: Option<String>,
    pub plate: Option<Plate>,
    pub direction: Option<String>,
    pub kinds: Vec<String>,
    pub violation: Option<String>,
    /// Public-order alert rule (`loitering`, `crowding`, ...).
    pub alert: Option<String>,
    pub cameras: Vec<String>,
    /// Zone or line names ("sidewalk", "bus-lane").
    pub places: Vec<String>,
    /// Compass heading of travel (degrees clockwise from north; tracks within 45° of it).
    pub heading: Option<u16>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Local clock windows (minutes of the day, `to <= from` runs past midnight) on every day
    /// in `from..to` (or every stored day): "8pm" without a date.
    pub clock: Vec<(u32, u32)>,
    /// Words not understood: they only rank by similarity to captions.
    pub terms: Vec<String>,
    /// Misspelt lexicon words read as the word they were near ("motobike" → "motorbike").
    pub corrected: Vec<(String, String)>,
    /// Words typed without diacritics that several Vietnamese words share ("do": đỏ, đỗ, đó),
    /// with the readings: never a filter, shown so the operator can retype.
    pub ambiguous: Vec<(String, Vec<String>)>,
}

/// A plate fragment: upper-case alphanumerics. A province code or a province and series
/// ("51", "51F", "59X1") is the start of a plate; other fragments ("12345") match anywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Plate {
    pub text: String,
    pub at_start: bool,
}

impl Plate {
    /// The fragment as typed ("51F-123.45").
    pub fn new(typed: &str) -> Self {
        let text = crate::store::plate_norm(typed);
        let b = text.as_bytes();
        let province = b.len() >= 2 && b[..2].iter().all(u8::is_ascii_digit);
        let at_start = province && (b.len() == 2 || b[2].is_ascii_alphabetic());
        Plate { text, at_start }
    }
}

impl Query {
    /// Whether the operator typed words of which not one was understood: such a query answers
    /// nothing rather than the newest events. (A blank query browses the newest.)
    pub fn understood_nothing(&self) -> bool {
        let any_filter = !self.classes.is_empty()
            || self.color.is_some()
            || self.upper_color.is_some()
            || self.lower_color.is_some()
            || self.plate.is_some()
            || self.direction.is_some()
            || !self.kinds.is_empty()
            || self.violation.is_some()
            || self.alert.is_some()
            || !self.cameras.is_empty()
            || !self.places.is_empty()
            || self.heading.is_some()
            || self.from.is_some()
            || !self.clock.is_empty();
        !any_filter && (!self.terms.is_empty() || !self.ambiguous.is_empty())
    }
}

use crate::lexicon::Meaning::{self, *};

/// Folds Vietnamese letters to ASCII (đ → d, ế → e, ...) so unaccented typing matches too.
pub fn fold(s: &str) -> String {
    const GROUPS: [(&str, char); 12] = [
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", 'a'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ÈÉẺẼẸÊỀẾỂỄỆ", 'e'),
        ("ìíỉĩị", 'i'),
        ("ÌÍỈĨỊ", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", 'o'),
        ("ùúủũụưừứửữự", 'u'),
        ("ÙÚỦŨỤƯỪỨỬỮỰ", 'u'),
        ("ỳýỷỹỵ", 'y'),
        ("ỲÝỶỸỴ", 'y'),
    ];
    s.chars()
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c if c.is_ascii() => c.to_ascii_lowercase(),
            c => GROUPS
                .iter()
                .find(|(g, _)| g.contains(c))
                .map_or_else(|| c.to_lowercase().next().unwrap_or(c), |(_, r)| *r),
        })
        .collect()
}

static PLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{2}-?[a-z]{1,2}\d?(?:[-.]?\d{1,5}(?:\.\d{1,2})?)?$").expect("valid regex")
});

/// Parses `text` as typed at `now`; `cameras` are the known camera ids for place matching.
pub fn parse(text: &str, now: DateTime<Utc>, cameras: &[String]) -> Query {
    parse_with(text, now, cameras, &[])
}

/// [`parse`], also knowing the zone and line names the edges have sent (`places`).
pub fn parse_with(text: &str, now: DateTime<Utc>, cameras: &[String], places: &[String]) -> Query {
    use unicode_normalization::UnicodeNormalization;
    let mut q = Query::default();
    let text: String = truncate(text).nfc().collect();
    let typed = typed_spellings(&text);
    let mut folded = fold(&text);
    // Cameras first: a camera id's words (ben-thanh-1 → "ben thanh") anywhere in the query.
    q.cameras = names(&mut folded, cameras);
    // Dates and clock times before tokens, because "8-9am" and "25/11" span what tokenising
    // would split.
    let today = now.with_timezone(&crate::caption::local_tz()).date_naive();
    let mut time = time::TimeWords::default();
    time::read_numeric(&mut folded, today, &mut time);
    let tokens = tokenise(&folded);
    let meanings = read_tokens(&tokens, &typed, &mut q, &mut time);
    if !q.places.is_empty() && q.direction.as_deref() == Some("in") {
        // "đi vào làn xe buýt", "entering the sidewalk": going into the zone, not across a line.
        q.direction = None;
        q.kinds.retain(|k| k != "crossing");
    }
    // Zone and line names the edges sent ("market-gate") among the words the vocabulary left:
    // after it, so a zone called "box" cannot take the word from "blocking the box".
    let mut rest = q.terms.join(" ");
    for p in names(&mut rest, places) {
        push_unique(&mut q.places, &p);
    }
    q.terms = rest.split_whitespace().map(String::from).collect();
    bind_colours(&meanings, &mut q);
    if (q.upper_color.is_some() || q.lower_color.is_some()) && q.classes.is_empty() {
        q.classes.push("person".into());
    }
    let w = time::window(&time, now);
    (q.from, q.to, q.clock) = (w.from, w.to, w.clock);
    q
}

fn tokenise(text: &str) -> Vec<String> {
    text.split(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | '!' | '?' | '"' | '\'' | '(' | ')')
    })
    .map(|t| t.trim_matches(|c: char| c == '.' || c == ':'))
    .filter(|t| !t.is_empty())
    .map(str::to_string)
    .collect()
}

/// How each word was typed: folded form → the lower-case spellings in the text ("do" → "đỗ").
fn typed_spellings(text: &str) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for t in tokenise(&text.to_lowercase()) {
        m.entry(fold(&t)).or_default().push(t);
    }
    m
}

/// What a word that several Vietnamese words fold to means here.
enum Reading {
    /// The vocabulary's word: typed so, or unaccented with context that settles it.
    Meant,
    /// Another word, typed with its own diacritics ("đỗ" is not "đỏ").
    Other,
    /// Unaccented with no context: it could be any of them.
    Ambiguous,
}

/// Reads homograph `t` (folded) at `i`: a colour right after "màu", a garment or a vehicle, or
/// a part of day after "buổi", is what it looks like even without diacritics.
fn reading(
    t: &str,
    h: &crate::lexicon::Homograph,
    m: Meaning,
    typed: &HashMap<String, Vec<String>>,
    tokens: &[String],
    i: usize,
    before: &[(Meaning, usize)],
) -> Reading {
    let spellings = typed.get(t).map(Vec::as_slice).unwrap_or(&[]);
    if spellings.iter().any(|s| s != t) {
        return if spellings.iter().any(|s| s == h.meant) {
            Reading::Meant
        } else {
            Reading::Other
        };
    }
    let prev_token = i.checked_sub(1).map(|p| tokens[p].as_str());
    let prev_meaning = before.iter().rev().map(|(m, _)| *m).find(|m| *m != Stop);
    let settled = match m {
        Color(_) => {
            prev_token == Some("mau")
                || matches!(prev_meaning, Some(Class(_) | Upper { .. } | Lower { .. }))
        }
        // "buổi tối", "sang nay", "toi hom qua": a part of day beside a day word.
        Part(..) => {
            let next = tokens.get(i + 1).map(String::as_str);
            prev_token == Some("buoi")
                || matches!(next, Some("nay" | "qua" | "hom"))
                || matches!(prev_meaning, Some(Day(_)))
        }
        _ => false,
    };
    if settled {
        Reading::Meant
    } else {
        Reading::Ambiguous
    }
}

/// At most `MAX_QUERY_BYTES`, cut at a character boundary.
fn truncate(text: &str) -> &str {
    if text.len() <= MAX_QUERY_BYTES {
        return text;
    }
    let mut cut = MAX_QUERY_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Cameras (or places) named in the query, by id or by the words of their id, as whole words
/// ("le loi" is not in "people loitering"); their words are removed.
fn names(folded: &mut String, cameras: &[String]) -> Vec<String> {
    let base = |cam: &str| {
        fold(cam)
            .replace(['-', '_', '.'], " ")
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ')
            .to_string()
    };
    let mut found = Vec::new();
    for cam in cameras {
        let b = base(cam);
        if b.len() < 3 {
            continue;
        }
        let mut hit = false;
        for words in [fold(cam), b] {
            while let Some(at) = whole_words(folded, &words) {
                folded.replace_range(at..at + words.len(), " ");
                hit = true;
            }
        }
        if hit {
            found.push(cam.clone());
        }
    }
    found
}

/// Where `words` occur in `text` with no letter or digit right before or after.
fn whole_words(text: &str, words: &str) -> Option<usize> {
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(words).map(|(at, _)| at).find(|&at| {
        !alnum(text[..at].chars().next_back()) && !alnum(text[at + words.len()..].chars().next())
    })
}

/// Reads the tokens as phrases of the lexicon (longest first), filling the query and the time
/// words; words that mean nothing known stay as terms.
fn read_tokens(
    tokens: &[String],
    typed: &HashMap<String, Vec<String>>,
    q: &mut Query,
    time: &mut time::TimeWords,
) -> Vec<(Meaning, usize)> {
    let mut meanings: Vec<(Meaning, usize)> = Vec::new();
    let mut want_plate = false;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let plate_like = PLATE.is_match(t) && t.chars().any(|c| c.is_ascii_alphabetic());
        if (std::mem::take(&mut want_plate) && t.chars().any(|c| c.is_ascii_digit())) || plate_like
        {
            // A two-line plate typed as two words ("59-X1 123.45") is one plate.
            let tail = tokens.get(i + 1).filter(|n| {
                n.chars().all(|c| c.is_ascii_digit() || c == '.')
                    && n.chars().filter(char::is_ascii_digit).count() >= 3
            });
            q.plate = Some(Plate::new(&format!("{t}{}", tail.map_or("", |n| n))));
            i += 1 + usize::from(tail.is_some());
            continue;
        }
        let matched = (1..=5.min(tokens.len() - i))
            .rev()
            .find_map(|len| crate::lexicon::phrase(&tokens[i..i + len].join(" ")).map(|m| (m, len)))
            .or_else(|| {
                // Typed with diacritics, a word is spelled as meant: never a typo.
                let plain = typed.get(t).is_none_or(|s| s.iter().all(|s| s == t));
                let (word, m) = typo::nearest(t).filter(|_| plain)?;
                q.corrected.push((t.clone(), word.to_string()));
                Some((m, 1))
            });
        let Some((m, len)) = matched else {
            // Symbols ("🚗") are not understood either; bare punctuation is not a word.
            if t.chars().any(|c| !c.is_ascii_punctuation()) {
                q.terms.push(t.clone());
            }
            i += 1;
            continue;
        };
        if len == 1
            && let Some(h) = crate::lexicon::homograph(t)
        {
            match reading(t, h, m, typed, tokens, i, &meanings) {
                Reading::Meant => {}
                Reading::Other => {
                    q.terms.push(t.clone());
                    i += 1;
                    continue;
                }
                Reading::Ambiguous => {
                    let mut all = vec![h.meant.to_string()];
                    all.extend(h.others.iter().map(|o| o.to_string()));
                    q.ambiguous.push((t.clone(), all));
                    q.terms.push(t.clone());
                    i += 1;
                    continue;
                }
            }
        }
        match m {
            Day(d) => time.day = Some(d),
            LastNight(w) => time.last_night = Some(w),
            Part(w) => time.clock.extend_from_slice(w),
            Weekday(n) => time.weekday = chrono::Weekday::try_from(n - 1).ok(),
            Prev => time.prev = true,
            PrevWeek => time.prev_week = true,
            ThisWeek => time.this_week = true,
            PlateWord => want_plate = true,
            Direction(d) => {
                q.direction = Some(d.into());
                push_unique(&mut q.kinds, "crossing");
            }
            Kind(k) => push_unique(&mut q.kinds, k),
            Violation(v) => q.violation = Some(v.into()),
            Alert(a) => q.alert = Some(a.into()),
            Class(c) => push_unique(&mut q.classes, c),
            Heading(d) => q.heading = Some(d),
            Place(p) => push_unique(&mut q.places, p),
            _ => {}
        }
        meanings.push((m, i));
        i += len;
    }
    meanings
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// English puts the colour before the garment ("white shirt"), Vietnamese after ("áo trắng");
/// a colour next to no garment describes the vehicle body.
fn bind_colours(meanings: &[(Meaning, usize)], q: &mut Query) {
    for (k, (m, _)) in meanings.iter().enumerate() {
        let Color(c) = m else { continue };
        let prev = meanings[..k]
            .iter()
            .rev()
            .find(|(m, _)| !matches!(m, Stop))
            .map(|(m, _)| *m);
        let next = meanings.get(k + 1).map(|(m, _)| *m);
        match (prev, next) {
            (Some(Upper { vi: true }), _) if q.upper_color.is_none() => {
                q.upper_color = Some(c.to_string())
            }
            (Some(Lower { vi: true }), _) if q.lower_color.is_none() => {
                q.lower_color = Some(c.to_string())
            }
            (_, Some(Upper { vi: false })) => q.upper_color = Some(c.to_string()),
            (_, Some(Lower { vi: false })) => q.lower_color = Some(c.to_string()),
            _ if q.color.is_none() => q.color = Some(c.to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
