//! Vietnamese plate formats: a province code (two digits), a series of one or two letters,
//! on motorbikes a series digit, then a number of four or five digits; one line on cars,
//! two on motorbikes ("59-X1" over "123.45"). An OCR reading is checked against the format
//! and read again where the format needs the other kind of character (a "5" where the series
//! letter stands is an "S", a "B" in the number an "8"): the look-alikes the reader confuses.
//! A reading that fits no format is not a plate. Tables: `edge-node/data/vn-plates.toml`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

#[derive(Deserialize)]
struct Tables {
    provinces: Vec<u8>,
    series_letters: String,
    special: Vec<String>,
    as_digit: HashMap<char, char>,
    as_letter: HashMap<char, char>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        toml::from_str(include_str!("../../data/vn-plates.toml")).expect("vn-plates.toml parses")
    })
}

/// A reading that fits a Vietnamese format, in the form the rest of the system uses.
#[derive(Debug, Clone, PartialEq)]
pub struct VnPlate {
    /// "51F-123.45" (one line) or "59-X1-123.45" (two lines joined top first).
    pub text: String,
    pub two_line: bool,
    /// Characters the format read differently from the OCR (look-alikes), for the record.
    pub corrected: usize,
}

fn digit(c: char, fixes: &mut usize) -> Option<char> {
    if c.is_ascii_digit() {
        return Some(c);
    }
    let d = *tables().as_digit.get(&c)?;
    *fixes += 1;
    Some(d)
}

fn letter(c: char, fixes: &mut usize) -> Option<char> {
    let t = tables();
    if c.is_ascii_uppercase() && t.series_letters.contains(c) {
        return Some(c);
    }
    let l = *t.as_letter.get(&c)?;
    *fixes += 1;
    Some(l)
}

/// Reads `raw` (any separators) as a plate; `two_line` when the reader saw two stacked lines.
pub fn parse(raw: &str, two_line: bool) -> Option<VnPlate> {
    let c: Vec<char> = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !(7..=10).contains(&c.len()) {
        return None;
    }
    // A second series letter is usual only on two-line plates and in the special pairs; on a
    // one-line reading a letter there is more often a misread first digit ("51F-B23.45"),
    // so it is tried second.
    read_as(&c, two_line, two_line).or_else(|| read_as(&c, two_line, !two_line))
}

fn read_as(c: &[char], two_line: bool, second_letter: bool) -> Option<VnPlate> {
    let t = tables();
    let mut fixes = 0;
    let province: String = [digit(c[0], &mut fixes)?, digit(c[1], &mut fixes)?]
        .iter()
        .collect();
    if !t.provinces.contains(&province.parse().ok()?) {
        return None;
    }
    let first = letter(c[2], &mut fixes)?;
    // A second series letter: only a real letter (a digit there is the series digit or the
    // number), and a pair the format knows when it is not a plain series letter.
    let pair: String = [first, c[3]].iter().collect();
    let second = ((second_letter && t.series_letters.contains(c[3])) || t.special.contains(&pair))
        .then_some(c[3]);
    let letters: String = std::iter::once(first).chain(second).collect();
    let rest = &c[2 + letters.len()..];
    let (series_digit, number) = match (rest.len(), two_line) {
        (6, _) => (Some(digit(rest[0], &mut fixes)?), &rest[1..]),
        (5, true) if second.is_none() => (Some(digit(rest[0], &mut fixes)?), &rest[1..]),
        (5, _) | (4, _) => (None, rest),
        _ => return None,
    };
    let number: String = number
        .iter()
        .map(|&ch| digit(ch, &mut fixes))
        .collect::<Option<_>>()?;
    let number = match number.len() {
        5 => format!("{}.{}", &number[..3], &number[3..]),
        _ => number,
    };
    let two_line = two_line || series_digit.is_some();
    let series: String = letters.chars().chain(series_digit).collect();
    let text = if two_line {
        format!("{province}-{series}-{number}")
    } else {
        format!("{province}{series}-{number}")
    };
    Some(VnPlate {
        text,
        two_line,
        corrected: fixes,
    })
}

/// The shape of a reading in this module's form: two lines are written with two dashes.
pub fn shape_of(text: &str) -> matthan_schema::PlateFormat {
    if text.matches('-').count() >= 2 {
        matthan_schema::PlateFormat::TwoLine
    } else {
        matthan_schema::PlateFormat::OneLine
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn read(raw: &str, two: bool) -> Option<String> {
        parse(raw, two).map(|p| p.text)
    }

    #[test]
    fn the_usual_shapes_read_as_written() {
        assert_eq!(read("51F-123.45", false).as_deref(), Some("51F-123.45"));
        assert_eq!(read("59-X1-123.45", true).as_deref(), Some("59-X1-123.45"));
        assert_eq!(read("59X112345", false).as_deref(), Some("59-X1-123.45"));
        assert_eq!(read("51LD-123.45", false).as_deref(), Some("51LD-123.45"));
        assert_eq!(
            read("29-MD1-234.56", true).as_deref(),
            Some("29-MD1-234.56")
        );
        assert_eq!(read("59-AA-123.45", true).as_deref(), Some("59-AA-123.45"));
        assert_eq!(read("30E-1234", false).as_deref(), Some("30E-1234"));
    }

    #[test]
    fn look_alikes_are_read_where_the_format_needs_them() {
        // The demo's parked truck 51S-232.32 read as 515-232.32; a held-out 29B as 298.
        let p = parse("515-232.32", false).unwrap();
        assert_eq!((p.text.as_str(), p.corrected), ("51S-232.32", 1));
        assert_eq!(read("298-456.78", false).as_deref(), Some("29B-456.78"));
        // The number is digits: an O or a B there is a 0 or an 8.
        assert_eq!(read("51F-1O3.B5", false).as_deref(), Some("51F-103.85"));
        // The province is digits too.
        assert_eq!(read("5IF-123.45", false).as_deref(), Some("51F-123.45"));
        // A letter where the number starts is a misread digit on a one-line plate...
        assert_eq!(read("51F-B23.45", false).as_deref(), Some("51F-823.45"));
        // ...but a motorbike's two series letters read as one line still read.
        assert_eq!(read("59AA12345", false).as_deref(), Some("59AA-123.45"));
    }

    #[test]
    fn what_fits_no_format_is_not_a_plate() {
        for raw in [
            "TAXI",
            "12345",
            "13F-123.45",
            "51F-12",
            "51F-1234567",
            "HOTLINE 1900",
        ] {
            assert_eq!(read(raw, false), None, "{raw}");
        }
    }
}

/// Several readings of one plate (sightings of one vehicle) fused character by character:
/// among readings of the same shape, each position takes the character with the most
/// confidence behind it. The score is the group's mean confidence times the share of the
/// total confidence the group holds, so readings that disagree on the shape lower it.
pub fn fuse(readings: &[(String, f32)]) -> Option<(String, f32)> {
    let shape = |t: &str| -> String {
        t.chars()
            .map(|c| if c.is_ascii_alphanumeric() { 'x' } else { c })
            .collect()
    };
    let total: f32 = readings.iter().map(|r| r.1).sum();
    let mut groups: HashMap<String, Vec<&(String, f32)>> = HashMap::new();
    for r in readings {
        groups.entry(shape(&r.0)).or_default().push(r);
    }
    let (_, group) = groups.into_iter().max_by(|a, b| {
        let w = |g: &Vec<&(String, f32)>| g.iter().map(|r| r.1).sum::<f32>();
        w(&a.1).total_cmp(&w(&b.1)).then_with(|| b.0.cmp(&a.0))
    })?;
    let len = group[0].0.chars().count();
    let mut text = String::with_capacity(len);
    for i in 0..len {
        let mut votes: Vec<(char, f32)> = Vec::new();
        for (t, s) in &group {
            let c = t.chars().nth(i).expect("same shape, same length");
            match votes.iter_mut().find(|v| v.0 == c) {
                Some(v) => v.1 += s,
                None => votes.push((c, *s)),
            }
        }
        // Ties go to the earlier reading (the larger view: readings come largest first).
        let best = votes
            .iter()
            .fold(votes[0], |b, v| if v.1 > b.1 { *v } else { b });
        text.push(best.0);
    }
    let held: f32 = group.iter().map(|r| r.1).sum();
    let mean = held / group.len() as f32;
    Some((text, mean * held / total.max(f32::EPSILON)))
}

#[cfg(test)]
mod fuse_tests {
    use super::fuse;

    fn r(t: &str, s: f32) -> (String, f32) {
        (t.to_string(), s)
    }

    #[test]
    fn each_character_goes_to_the_readings_that_agree() {
        // Each view misreads a different character; together they read the plate.
        let (t, s) = fuse(&[
            r("59-X1-123.45", 0.9),
            r("59-X1-128.45", 0.8),
            r("59-X7-123.45", 0.7),
        ])
        .unwrap();
        assert_eq!(t, "59-X1-123.45");
        assert!((s - 0.8).abs() < 1e-5, "{s}");
        // A reading of another shape lowers the score and does not vote.
        let (t, s) = fuse(&[
            r("51F-123.45", 0.9),
            r("51F-123.45", 0.9),
            r("51-F1-234.5", 0.2),
        ])
        .unwrap();
        assert_eq!(t, "51F-123.45");
        assert!(s < 0.9 && s > 0.7, "{s}");
        assert_eq!(fuse(&[]), None);
    }
}
