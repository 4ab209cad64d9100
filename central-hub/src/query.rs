//! Turns an operator's free text, English or Vietnamese, into filters plus leftover words.
//! Unknown words never fail a query: they are kept as `terms` and only affect ranking.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use regex::Regex;

/// Queries longer than this are cut (at a character boundary) before parsing.
pub const MAX_QUERY_BYTES: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub classes: Vec<String>,
    pub color: Option<String>,
    pub upper_color: Option<String>,
    pub lower_color: Option<String>,
    pub plate: Option<String>,
    pub direction: Option<String>,
    pub kinds: Vec<String>,
    pub violation: Option<String>,
    /// Public-order alert rule (`loitering`, `crowding`, ...).
    pub alert: Option<String>,
    pub cameras: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub terms: Vec<String>,
    /// Words typed without diacritics that several Vietnamese words share ("do": đỏ, đỗ, đó),
    /// with the readings: never a filter, shown so the operator can retype.
    pub ambiguous: Vec<(String, Vec<String>)>,
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

static TIME_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)\b(?:from\s+|between\s+|tu\s+)?
          (\d{1,2})(?:[:h](\d{2}))?\s*(am|pm|h|g|gio)?
          \s*(?:-|–|to|and|den|toi)\s*
          (\d{1,2})(?:[:h](\d{2}))?\s*(am|pm|h|g|gio)?\b",
    )
    .expect("valid regex")
});

static PLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{2}-?[a-z]{1,2}\d?(?:[-.]?\d{1,5}(?:\.\d{1,2})?)?$").expect("valid regex")
});

/// Time words read from a query, turned into a window by `time_window`.
#[derive(Default)]
struct TimeWords {
    /// An hour range: from hour, minute, to hour, minute (local time).
    hours: Option<(u32, u32, u32, u32)>,
    day: Option<i64>,
    part: Option<(u32, u32)>,
    last_night: bool,
}

/// Parses `text` as typed at `now`; `cameras` are the known camera ids for place matching.
pub fn parse(text: &str, now: DateTime<Utc>, cameras: &[String]) -> Query {
    use unicode_normalization::UnicodeNormalization;
    let mut q = Query::default();
    let text: String = truncate(text).nfc().collect();
    let typed = typed_spellings(&text);
    let mut folded = fold(&text);
    // Places first: a camera id's words (ben-thanh-1 → "ben thanh") anywhere in the query.
    q.cameras = places(&mut folded, cameras);
    // Hour ranges before tokens, because "8-9am" spans what tokenising would split.
    let mut time = TimeWords {
        hours: hour_range(&mut folded),
        ..TimeWords::default()
    };
    let tokens = tokenise(&folded);
    let meanings = read_tokens(&tokens, &typed, &mut q, &mut time);
    bind_colours(&meanings, &mut q);
    if (q.upper_color.is_some() || q.lower_color.is_some()) && q.classes.is_empty() {
        q.classes.push("person".into());
    }
    (q.from, q.to) = time_window(&time, now);
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
        Part(..) => prev_token == Some("buoi"),
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

/// Cameras named in the query, by id or by the words of their id; their words are removed.
fn places(folded: &mut String, cameras: &[String]) -> Vec<String> {
    let base = |cam: &str| {
        fold(cam)
            .replace(['-', '_', '.'], " ")
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ')
            .to_string()
    };
    let found: Vec<String> = cameras
        .iter()
        .filter(|cam| {
            let b = base(cam);
            b.len() >= 3 && (folded.contains(&b) || folded.contains(&fold(cam)))
        })
        .cloned()
        .collect();
    for cam in &found {
        *folded = folded.replace(&fold(cam), " ").replace(&base(cam), " ");
    }
    found
}

/// An hour range ("8-9am", "20h-22h", "từ 8h đến 9h"), removed from the text when found. Only
/// ranges that run forward within a day or across midnight count: "24-12am" is not a range.
fn hour_range(folded: &mut String) -> Option<(u32, u32, u32, u32)> {
    let text = folded.clone();
    let m = TIME_RANGE.captures(&text)?;
    let whole = m.get(0).map_or("", |g| g.as_str());
    let num = |i: usize| m.get(i).and_then(|g| g.as_str().parse::<u32>().ok());
    let suffix = |i: usize| m.get(i).map(|g| g.as_str().to_string());
    let (h1, m1, h2, m2) = (
        num(1).unwrap_or(0),
        num(2).unwrap_or(0),
        num(4).unwrap_or(0),
        num(5).unwrap_or(0),
    );
    let (s1, s2) = (suffix(3), suffix(6));
    let has_marker = s1.is_some()
        || s2.is_some()
        || m.get(2).is_some()
        || m.get(5).is_some()
        || whole.starts_with("from")
        || whole.starts_with("tu ");
    if !(has_marker && h1 < 24 && h2 <= 24 && m1 < 60 && m2 < 60) {
        return None;
    }
    let pm = |h: u32, s: &Option<String>| match s.as_deref() {
        Some("pm") if h < 12 => h + 12,
        Some("am") if h == 12 => 0,
        _ => h,
    };
    let s1_eff = if s1.is_none() && s2.as_deref() == Some("pm") && h1 <= h2 {
        s2.clone()
    } else {
        s1.clone()
    };
    let (h1, h2) = (pm(h1, &s1_eff), pm(h2, &s2));
    if h1 * 60 + m1 == h2 * 60 + m2 {
        return None;
    }
    *folded = folded.replace(whole, " ");
    Some((h1, m1, h2, m2))
}

/// Reads the tokens as phrases of the lexicon (longest first), filling the query and the time
/// words; words that mean nothing known stay as terms.
fn read_tokens(
    tokens: &[String],
    typed: &HashMap<String, Vec<String>>,
    q: &mut Query,
    time: &mut TimeWords,
) -> Vec<(Meaning, usize)> {
    let mut meanings: Vec<(Meaning, usize)> = Vec::new();
    let mut want_plate = false;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let plate_like = PLATE.is_match(t) && t.chars().any(|c| c.is_ascii_alphabetic());
        if (std::mem::take(&mut want_plate) && t.chars().any(|c| c.is_ascii_digit())) || plate_like
        {
            q.plate = Some(normalise_plate(t));
            i += 1;
            continue;
        }
        let matched = (1..=5.min(tokens.len() - i)).rev().find_map(|len| {
            crate::lexicon::phrase(&tokens[i..i + len].join(" ")).map(|m| (m, len))
        });
        let Some((m, len)) = matched else {
            if t.chars().any(|c| c.is_alphanumeric()) {
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
            LastNight => time.last_night = true,
            Part(a, b) => time.part = Some((a, b)),
            PlateWord => want_plate = true,
            Direction(d) => {
                q.direction = Some(d.into());
                push_unique(&mut q.kinds, "crossing");
            }
            Kind(k) => push_unique(&mut q.kinds, k),
            Violation(v) => q.violation = Some(v.into()),
            Alert(a) => q.alert = Some(a.into()),
            Class(c) => push_unique(&mut q.classes, c),
            _ => {}
        }
        meanings.push((m, i));
        i += len;
    }
    meanings
}

/// The time window the words describe, in local time; without a day word, the most recent
/// such window that has begun.
fn time_window(
    time: &TimeWords,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let tz = crate::caption::local_tz();
    let local_now = now.with_timezone(&tz);
    let midnight = |d: i64| {
        let date = local_now.date_naive() + Duration::days(d);
        tz.from_local_datetime(&date.and_time(NaiveTime::MIN))
            .single()
            .expect("fixed offset")
            .with_timezone(&Utc)
    };
    if time.last_night {
        return (
            Some(midnight(-1) + Duration::hours(18)),
            Some(midnight(0) + Duration::hours(6)),
        );
    }
    if let Some((h1, m1, h2, m2)) = time.hours {
        let start_of = |d: i64| midnight(d) + Duration::minutes((h1 * 60 + m1) as i64);
        let d = time.day.unwrap_or(if start_of(0) <= now { 0 } else { -1 });
        let from = start_of(d);
        let mut to = midnight(d) + Duration::minutes((h2 * 60 + m2) as i64);
        if to <= from {
            to += Duration::days(1);
        }
        return (Some(from), Some(to));
    }
    if let Some((a, b)) = time.part {
        let d = time
            .day
            .unwrap_or(if midnight(0) + Duration::hours(a as i64) <= now {
                0
            } else {
                -1
            });
        return (
            Some(midnight(d) + Duration::hours(a as i64)),
            Some(midnight(d) + Duration::hours(b as i64)),
        );
    }
    match time.day {
        Some(d) => (Some(midnight(d)), Some(midnight(d + 1))),
        None => (None, None),
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

fn normalise_plate(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_uppercase()
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
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // 2026-11-26 10:30 in Ho Chi Minh City.
        DateTime::parse_from_rfc3339("2026-11-26T10:30:00+07:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn english_vehicle_colour_violation_place_and_hours() {
        let cams = vec!["ben-thanh-1".to_string(), "nguyen-hue-2".to_string()];
        let q = parse(
            "red motorbike without helmet near Ben Thanh 8-9am",
            now(),
            &cams,
        );
        assert_eq!(q.classes, vec!["motorcycle"]);
        assert_eq!(q.color.as_deref(), Some("red"));
        assert_eq!(q.violation.as_deref(), Some("no_helmet"));
        assert_eq!(q.cameras, vec!["ben-thanh-1"]);
        assert_eq!(q.from, Some(local("2026-11-26T08:00:00+07:00")));
        assert_eq!(q.to, Some(local("2026-11-26T09:00:00+07:00")));
        assert!(q.terms.is_empty(), "{:?}", q.terms);
    }

    #[test]
    fn vietnamese_with_and_without_accents() {
        for text in [
            "xe máy màu đỏ không đội mũ bảo hiểm",
            "xe may mau do khong doi mu bao hiem",
        ] {
            let q = parse(text, now(), &[]);
            assert_eq!(q.classes, vec!["motorcycle"], "{text}");
            assert_eq!(q.color.as_deref(), Some("red"), "{text}");
            assert_eq!(q.violation.as_deref(), Some("no_helmet"), "{text}");
        }
        let q = parse(
            "người mặc áo trắng quần đen từ 8h đến 9h hôm qua",
            now(),
            &[],
        );
        assert_eq!(q.classes, vec!["person"]);
        assert_eq!(
            (q.upper_color.as_deref(), q.lower_color.as_deref()),
            (Some("white"), Some("black"))
        );
        assert_eq!(q.from, Some(local("2026-11-25T08:00:00+07:00")));
        assert_eq!(q.to, Some(local("2026-11-25T09:00:00+07:00")));
    }

    #[test]
    fn garment_colours_in_english() {
        let q = parse("man in white shirt and blue jeans", now(), &[]);
        assert_eq!(q.classes, vec!["person"]);
        assert_eq!(q.upper_color.as_deref(), Some("white"));
        assert_eq!(q.lower_color.as_deref(), Some("blue"));
        assert_eq!(q.color, None);
    }

    #[test]
    fn plates_directions_and_time_words() {
        let q = parse("plate 59X1", now(), &[]);
        assert_eq!(q.plate.as_deref(), Some("59X1"));
        let q = parse("car 51F-123.45 outbound last night", now(), &[]);
        assert_eq!(q.plate.as_deref(), Some("51F12345"));
        assert_eq!(q.direction.as_deref(), Some("out"));
        assert_eq!(q.kinds, vec!["crossing"]);
        assert_eq!(q.from, Some(local("2026-11-25T18:00:00+07:00")));
        let q = parse("bus 8pm-9pm", now(), &[]);
        // 20:00 has not come yet today, so it means yesterday evening.
        assert_eq!(q.from, Some(local("2026-11-25T20:00:00+07:00")));
        let q = parse("truck 7-8 pm", now(), &[]);
        assert_eq!(q.from, Some(local("2026-11-25T19:00:00+07:00")));
    }

    #[test]
    fn words_typed_with_diacritics_mean_only_themselves() {
        // (query, colour filter, violation) as an operator means them.
        for (text, colour, violation) in [
            ("xe tải đỗ trái phép", None, Some("illegal_parking")),
            ("xe tai do trai phep", None, Some("illegal_parking")),
            ("xe tải màu đỏ", Some("red"), None),
            ("xe tải đỏ", Some("red"), None),
            ("xe tai do", Some("red"), None),
            ("xe tai mau do", Some("red"), None),
            ("tìm xe máy", None, None),
            ("xe máy tím", Some("purple"), None),
            ("vượt đèn đỏ", None, Some("red_light")),
            ("xe máy đến ngã tư", None, None),
            ("xe máy đen", Some("black"), None),
            ("xe đi làn cấm", None, Some("forbidden_zone")),
            ("xe hỏng", None, None),
            ("đi về hướng bắc", None, None),
        ] {
            let q = parse(text, now(), &[]);
            assert_eq!(q.color.as_deref(), colour, "{text}: {q:?}");
            assert_eq!(q.violation.as_deref(), violation, "{text}: {q:?}");
        }
        // Time words: "tôi" (I) and "sang" (to cross) are not times.
        for text in ["tôi tìm xe máy", "người sang đường"] {
            let q = parse(text, now(), &[]);
            assert_eq!((q.from, q.to), (None, None), "{text}: {q:?}");
        }
        let q = parse("xe máy buổi tối", now(), &[]);
        assert!(q.from.is_some());
        let q = parse("xe máy tối", now(), &[]);
        assert!(
            q.from.is_some(),
            "typed with its diacritics, tối is the evening"
        );
        // Unaccented with no context: shown as readings, never a filter.
        let q = parse("do", now(), &[]);
        assert_eq!(q.color, None);
        assert_eq!(q.ambiguous.len(), 1);
        assert!(q.ambiguous[0].1.contains(&"đỗ".to_string()));
        // Decomposed input (base letters + combining marks) reads like precomposed.
        let q = parse("xe ta\u{0309}i ma\u{0300}u \u{0111}o\u{0309}", now(), &[]);
        assert_eq!(
            (q.classes.clone(), q.color.as_deref()),
            (vec!["truck".to_string()], Some("red"))
        );
    }

    #[test]
    fn unknown_and_hostile_text_only_becomes_terms() {
        let q = parse("'; DROP TABLE events; -- umbrella", now(), &[]);
        assert!(q.terms.contains(&"umbrella".to_string()));
        assert!(q.classes.is_empty());
        let long = "xe máy ".repeat(20_000);
        let q = parse(&long, now(), &[]);
        assert_eq!(q.classes, vec!["motorcycle"]);
        let q = parse("", now(), &[]);
        assert_eq!(q, Query::default());
        let q = parse("99-99", now(), &[]);
        assert_eq!(q.from, None, "not an hour range");
        // Found by the property test: an hour range must run forward.
        for text in ["24-12am", "12am-24", "8h-8h", "0-24h"] {
            let q = parse(text, now(), &[]);
            if let (Some(f), Some(t)) = (q.from, q.to) {
                assert!(f < t, "{text}: {f} .. {t}");
            }
        }
    }
}
