//! When a rule is armed: daily time windows (which may run past midnight) on chosen weekdays,
//! in the camera's local time zone (Asia/Ho_Chi_Minh unless configured).

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;

#[derive(Debug, Clone)]
pub struct Schedule {
    tz: Tz,
    /// Minutes after local midnight, [start, end); start > end runs past midnight.
    windows: Vec<(u32, u32)>,
    days: Option<Vec<Weekday>>,
}

fn minutes(s: &str) -> Result<u32, String> {
    let t = NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| format!("{s:?} is not a time like 22:30"))?;
    Ok(t.hour() * 60 + t.minute())
}

impl Schedule {
    pub fn always() -> Self {
        Self {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            windows: Vec::new(),
            days: None,
        }
    }

    /// `hours` like `["22:00-05:30"]` (empty: always armed), `days` like `["mon", "sat"]`.
    pub fn new(
        tz: Option<&str>,
        hours: &[String],
        days: Option<&[String]>,
    ) -> Result<Self, String> {
        let tz: Tz = match tz {
            None => chrono_tz::Asia::Ho_Chi_Minh,
            Some(name) => name
                .parse()
                .map_err(|_| format!("tz: {name:?} is not an IANA time zone name"))?,
        };
        let mut windows = Vec::new();
        for (i, h) in hours.iter().enumerate() {
            let (a, b) = h
                .split_once('-')
                .ok_or_else(|| format!("hours[{i}]: {h:?} is not a range like 22:00-05:00"))?;
            let (a, b) = (
                minutes(a).map_err(|e| format!("hours[{i}]: {e}"))?,
                minutes(b).map_err(|e| format!("hours[{i}]: {e}"))?,
            );
            if a == b {
                return Err(format!("hours[{i}]: {h:?} is empty"));
            }
            windows.push((a, b));
        }
        let days = match days {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for (i, d) in list.iter().enumerate() {
                    out.push(
                        d.parse::<Weekday>()
                            .map_err(|_| format!("days[{i}]: {d:?} is not a weekday like mon"))?,
                    );
                }
                Some(out)
            }
        };
        Ok(Self { tz, windows, days })
    }

    pub fn active(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        let m = local.hour() * 60 + local.minute();
        if self.windows.is_empty() {
            return self
                .days
                .as_ref()
                .is_none_or(|d| d.contains(&local.weekday()));
        }
        self.windows.iter().any(|&(a, b)| {
            // A window past midnight belongs to the day it started on.
            let (inside, day) = if a < b {
                (a <= m && m < b, local.weekday())
            } else if m >= a {
                (true, local.weekday())
            } else {
                (m < b, local.weekday().pred())
            };
            inside && self.days.as_ref().is_none_or(|d| d.contains(&day))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn windows_past_midnight_in_local_time() {
        let s = Schedule::new(None, &["22:00-05:00".into()], None).unwrap();
        assert!(s.active(at("2026-11-26T23:30:00+07:00")));
        assert!(s.active(at("2026-11-27T04:59:00+07:00")));
        assert!(!s.active(at("2026-11-27T05:00:00+07:00")));
        // 16:00 UTC is 23:00 in Ho Chi Minh City.
        assert!(s.active(at("2026-11-26T16:00:00Z")));
        assert!(!s.active(at("2026-11-26T12:00:00Z")));
    }

    #[test]
    fn weekdays_count_from_the_window_start() {
        let s = Schedule::new(None, &["22:00-02:00".into()], Some(&["fri".into()])).unwrap();
        // 2026-11-27 is a Friday; 01:00 on Saturday still belongs to Friday night.
        assert!(s.active(at("2026-11-27T23:00:00+07:00")));
        assert!(s.active(at("2026-11-28T01:00:00+07:00")));
        assert!(!s.active(at("2026-11-28T23:00:00+07:00")));
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        assert!(
            Schedule::new(Some("Mars/Olympus"), &[], None)
                .unwrap_err()
                .contains("tz")
        );
        assert!(
            Schedule::new(None, &["25:00-01:00".into()], None)
                .unwrap_err()
                .contains("hours[0]")
        );
        assert!(
            Schedule::new(None, &["10:00".into()], None)
                .unwrap_err()
                .contains("range")
        );
        assert!(
            Schedule::new(None, &[], Some(&["someday".into()]))
                .unwrap_err()
                .contains("days[0]")
        );
    }
}
