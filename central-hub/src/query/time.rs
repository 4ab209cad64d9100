//! Time expressions in Asia/Ho_Chi_Minh: clock times ("8pm", "20h30", "7 giờ tối") and ranges
//! ("8-9am", "từ 7 đến 9 giờ tối"), parts of day (sáng, ban đêm, at night, giờ cao điểm),
//! relative days (hôm qua, 3 ngày trước, thứ hai tuần trước, last Monday) and dates (25/11,
//! 25-11-2026).
//!
//! A clock time or part of day without a day means that time on *every* day (newest first):
//! an operator asking for "xe tải 8pm" wants the 8 pm trucks, not only today's. With a day it
//! is one window on that day.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use regex::{Captures, Regex};

/// Minutes either side of a single clock time ("8pm" is 19:30 to 20:30).
const AROUND_MIN: u32 = 30;
const DAY_MIN: u32 = 24 * 60;

/// Time words read from a query, turned into a window by [`window`].
#[derive(Debug, Default)]
pub(super) struct TimeWords {
    /// Local clock windows [from, to) in minutes of the day; `to <= from` runs past midnight.
    pub clock: Vec<(u32, u32)>,
    /// Days from today (hôm qua = -1).
    pub day: Option<i64>,
    pub date: Option<NaiveDate>,
    pub weekday: Option<Weekday>,
    /// "last" (Monday): the most recent one before today.
    pub prev: bool,
    /// "tuần trước": last week (with a weekday, that day of last week).
    pub prev_week: bool,
    /// "tuần này" / "this week": since Monday.
    pub this_week: bool,
    /// "đêm qua" / "tối qua": yesterday, at these windows unless a clock time was given.
    pub last_night: Option<&'static [(u32, u32)]>,
}

/// What the time words select: an absolute range and/or clock windows applied to every day.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub clock: Vec<(u32, u32)>,
}

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)\b(?:ngay\s+|on\s+)?(?:
            (?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})
          | (?P<d2>\d{1,2})[/.-](?P<m2>\d{1,2})[/.-](?P<y2>\d{4})
          | (?P<d3>\d{1,2})/(?P<m3>\d{1,2})
        )\b",
    )
    .expect("valid regex")
});

/// A part-of-day word after a clock time: it says which half of the day the hour is in.
const PART_AFTER: &str = r"(?:\s+(?:buoi\s+)?(?P<part>sang|trua|chieu|toi|dem))?";

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?x)\b(?P<lead>from\s+|between\s+|tu\s+)?
          (?P<h1>\d{{1,2}})(?:[:h](?P<m1>\d{{2}}))?\s*(?P<s1>am|pm|h|g|gio)?
          \s*(?:-|–|to|and|den|toi)\s*
          (?P<h2>\d{{1,2}})(?:[:h](?P<m2>\d{{2}}))?\s*(?P<s2>am|pm|h|g|gio)?\b{PART_AFTER}"
    ))
    .expect("valid regex")
});

static CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?x)\b(?P<h>\d{{1,2}})(?:
            [:h](?P<m>\d{{2}})(?:\s*(?P<ap>am|pm))?
          | \s*(?P<ap2>am|pm)
          | \s*(?:h|g|gio)
        )\b{PART_AFTER}"
    ))
    .expect("valid regex")
});

static DAYS_AGO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,3})\s*(?:ngay\s+truoc|hom\s+truoc|days?\s+ago)\b").expect("valid regex")
});

/// Reads dates, clock ranges, clock times and "N days ago" out of folded text (removing what
/// it read, so the tokens that remain are words).
pub(super) fn read_numeric(folded: &mut String, today: NaiveDate, t: &mut TimeWords) {
    if let Some((span, date)) = first(&DATE, folded, |c| date(c, today)) {
        cut(folded, span);
        t.date = Some(date);
    }
    if let Some((span, w)) = first(&RANGE, folded, range) {
        cut(folded, span);
        t.clock.push(w);
    } else if let Some((span, w)) = first(&CLOCK, folded, clock) {
        cut(folded, span);
        t.clock.push(w);
    }
    if let Some((span, n)) = first(&DAYS_AGO, folded, |c| c[1].parse::<i64>().ok()) {
        cut(folded, span);
        t.day = Some(-n);
    }
}

/// The first match whose captures `read` accepts, with its byte span.
fn first<T>(
    re: &Regex,
    text: &str,
    read: impl Fn(&Captures) -> Option<T>,
) -> Option<((usize, usize), T)> {
    re.captures_iter(text).find_map(|c| {
        let m = c.get(0).expect("whole match");
        read(&c).map(|v| ((m.start(), m.end()), v))
    })
}

fn cut(text: &mut String, (a, b): (usize, usize)) {
    text.replace_range(a..b, " ");
}

fn date(c: &Captures, today: NaiveDate) -> Option<NaiveDate> {
    let n = |k: &str| c.name(k).and_then(|m| m.as_str().parse::<i32>().ok());
    let (d, m, y) = match (n("d1"), n("d2"), n("d3")) {
        (Some(d), _, _) => (d, n("m1")?, n("y1")),
        (_, Some(d), _) => (d, n("m2")?, n("y2")),
        (_, _, Some(d)) => (d, n("m3")?, None),
        _ => return None,
    };
    let (d, m) = (u32::try_from(d).ok()?, u32::try_from(m).ok()?);
    match y {
        Some(y) => NaiveDate::from_ymd_opt(y, m, d),
        // Without a year: the most recent such day that is not in the future.
        None => {
            let this = NaiveDate::from_ymd_opt(today.year(), m, d)?;
            if this <= today {
                Some(this)
            } else {
                NaiveDate::from_ymd_opt(today.year() - 1, m, d)
            }
        }
    }
}

/// An hour on the 24-hour clock from what was typed: am/pm, or a Vietnamese part of day
/// after it ("7 giờ tối" is 19:00, "2 giờ đêm" is 02:00, "11 giờ đêm" is 23:00).
fn hour24(h: u32, ampm: Option<&str>, part: Option<&str>) -> Option<u32> {
    let h = match (ampm, part) {
        (Some(_), _) if h == 0 || h > 12 => return None,
        (Some("pm"), _) if h < 12 => h + 12,
        (Some("am"), _) if h == 12 => 0,
        (Some(_), _) => h,
        (None, Some("chieu" | "toi")) if h < 12 => h + 12,
        (None, Some("trua")) if h < 6 => h + 12,
        (None, Some("dem")) if (6..12).contains(&h) => h + 12,
        (None, Some("sang")) if h == 12 => 0,
        _ => h,
    };
    (h <= 24).then_some(h)
}

fn range(c: &Captures) -> Option<(u32, u32)> {
    let num = |k: &str| {
        c.name(k)
            .map_or(Some(0), |g| g.as_str().parse::<u32>().ok())
    };
    let s = |k: &str| c.name(k).map(|g| g.as_str());
    let (h1, m1, h2, m2) = (num("h1")?, num("m1")?, num("h2")?, num("m2")?);
    let part = s("part");
    let marked = [s("s1"), s("s2"), s("m1"), s("m2"), s("lead"), part]
        .iter()
        .any(Option::is_some);
    if !marked || h1 >= 24 || h2 > 24 || m1 >= 60 || m2 >= 60 {
        return None;
    }
    let ampm = |k: &str| s(k).filter(|v| matches!(*v, "am" | "pm"));
    // "7-9pm" and "7-9 giờ tối": the marker after the range covers both ends.
    let first_marker = ampm("s1").or_else(|| ampm("s2").filter(|_| h1 <= h2));
    let h1 = hour24(h1, first_marker, part)?;
    let h2 = hour24(h2, ampm("s2"), part)?;
    let (a, b) = (h1 * 60 + m1, h2 * 60 + m2);
    (a != b && a < DAY_MIN).then_some((a, b % DAY_MIN))
}

fn clock(c: &Captures) -> Option<(u32, u32)> {
    let h: u32 = c.name("h")?.as_str().parse().ok()?;
    let m: u32 = c.name("m").map_or(Some(0), |g| g.as_str().parse().ok())?;
    let ampm = c.name("ap").or_else(|| c.name("ap2")).map(|g| g.as_str());
    let h = hour24(h, ampm, c.name("part").map(|g| g.as_str()))?;
    if h >= 24 || m >= 60 {
        return None;
    }
    let t = h * 60 + m;
    Some((
        (t + DAY_MIN - AROUND_MIN) % DAY_MIN,
        (t + AROUND_MIN) % DAY_MIN,
    ))
}

/// The window the words describe, as of `now`.
pub(super) fn window(t: &TimeWords, now: DateTime<Utc>) -> Window {
    let tz = crate::caption::local_tz();
    let today = now.with_timezone(&tz).date_naive();
    let midnight = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
            .expect("fixed offset")
            .with_timezone(&Utc)
    };
    let minutes = |d: NaiveDate, m: u32| midnight(d) + Duration::minutes(m as i64);
    let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let day = if let Some(d) = t.date {
        Some(d)
    } else if let Some(n) = t.day {
        Some(today + Duration::days(n))
    } else if let Some(w) = t.weekday {
        let back = (today.weekday().num_days_from_monday() as i64
            - w.num_days_from_monday() as i64)
            .rem_euclid(7);
        Some(if t.prev_week {
            monday - Duration::days(7) + Duration::days(w.num_days_from_monday() as i64)
        } else if t.prev && back == 0 {
            today - Duration::days(7)
        } else {
            today - Duration::days(back)
        })
    } else if t.last_night.is_some() {
        Some(today - Duration::days(1))
    } else {
        None
    };
    let clock = match t.last_night {
        Some(w) if t.clock.is_empty() => w.to_vec(),
        _ => t.clock.clone(),
    };
    if let Some(d) = day {
        return match clock.as_slice() {
            [] => Window {
                from: Some(midnight(d)),
                to: Some(midnight(d + Duration::days(1))),
                clock: vec![],
            },
            [(a, b)] => {
                let next = if b <= a { 1 } else { 0 };
                Window {
                    from: Some(minutes(d, *a)),
                    to: Some(minutes(d + Duration::days(next), *b)),
                    clock: vec![],
                }
            }
            _ => Window {
                from: Some(midnight(d)),
                to: Some(midnight(d + Duration::days(1))),
                clock,
            },
        };
    }
    let span = if t.prev_week {
        Some((monday - Duration::days(7), monday))
    } else if t.this_week {
        Some((monday, today + Duration::days(1)))
    } else {
        None
    };
    match span {
        Some((a, b)) => Window {
            from: Some(midnight(a)),
            to: Some(midnight(b)),
            clock,
        },
        None => Window {
            from: None,
            to: None,
            clock,
        },
    }
}

/// "20:00–21:00" for a clock window, as the operator sees it.
pub fn clock_label((a, b): (u32, u32)) -> String {
    format!("{:02}:{:02}–{:02}:{:02}", a / 60, a % 60, b / 60, b % 60)
}
