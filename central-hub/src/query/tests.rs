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
    assert_eq!((q.from, q.clock.clone()), (None, vec![(8 * 60, 9 * 60)]));
    assert!(q.terms.is_empty(), "{:?}", q.terms);
}

#[test]
fn a_place_is_whole_words_not_letters_across_words() {
    let cams = vec!["le-loi-5".to_string(), "ben-thanh-1".to_string()];
    // "peop-le loi-tering" holds "le loi" but names no street.
    let q = parse("people loitering", now(), &cams);
    assert!(q.cameras.is_empty(), "{:?}", q.cameras);
    assert_eq!(q.alert.as_deref(), Some("loitering"), "{q:?}");
    let q = parse("xe máy ở Lê Lợi, rồi Bến Thành", now(), &cams);
    assert_eq!(q.cameras, vec!["le-loi-5", "ben-thanh-1"]);
    assert_eq!(parse("le-loi-5", now(), &cams).cameras, vec!["le-loi-5"]);
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

fn plate(q: &Query) -> Option<(&str, bool)> {
    q.plate.as_ref().map(|p| (p.text.as_str(), p.at_start))
}

#[test]
fn plates_directions_and_time_words() {
    let q = parse("plate 59X1", now(), &[]);
    assert_eq!(plate(&q), Some(("59X1", true)));
    let q = parse("car 51F-123.45 outbound last night", now(), &[]);
    assert_eq!(plate(&q), Some(("51F12345", true)));
    assert_eq!(q.direction.as_deref(), Some("out"));
    assert_eq!(q.kinds, vec!["crossing"]);
    assert_eq!(q.from, Some(local("2026-11-25T18:00:00+07:00")));
    assert_eq!(q.to, Some(local("2026-11-26T06:00:00+07:00")));
    // A bare clock range is that time on every day, newest first.
    let q = parse("bus 8pm-9pm", now(), &[]);
    assert_eq!((q.from, q.clock.clone()), (None, vec![(20 * 60, 21 * 60)]));
    let q = parse("truck 7-8 pm", now(), &[]);
    assert_eq!(q.clock, vec![(19 * 60, 20 * 60)]);
}

#[test]
fn plate_fragments_match_where_operators_mean() {
    for (text, want) in [
        ("biển 51", ("51", true)),
        ("biển số 51F", ("51F", true)),
        ("xe máy biển 59-X1 123.45", ("59X112345", true)),
        ("biển số 123.45", ("12345", false)),
        ("plate 29B", ("29B", true)),
    ] {
        let q = parse(text, now(), &[]);
        assert_eq!(plate(&q), Some(want), "{text}: {q:?}");
    }
}

/// (query, from, to, clock windows) with `now` = Thursday 2026-11-26 10:30 local.
#[test]
fn time_expressions_in_both_languages() {
    let h = |a: u32, b: u32| (a * 60, b * 60);
    let every_day = [
        ("xe tải 8pm", vec![(19 * 60 + 30, 20 * 60 + 30)]),
        ("xe tải 20h", vec![(19 * 60 + 30, 20 * 60 + 30)]),
        ("xe tải lúc 20:30", vec![(20 * 60, 21 * 60)]),
        ("xe tải 20h30", vec![(20 * 60, 21 * 60)]),
        ("xe tải 7 giờ tối", vec![(18 * 60 + 30, 19 * 60 + 30)]),
        ("xe tai 7 gio toi", vec![(18 * 60 + 30, 19 * 60 + 30)]),
        ("xe máy 2 giờ đêm", vec![(60 + 30, 2 * 60 + 30)]),
        ("xe máy 11 giờ đêm", vec![(22 * 60 + 30, 23 * 60 + 30)]),
        ("xe máy 8 giờ sáng", vec![(7 * 60 + 30, 8 * 60 + 30)]),
        ("từ 7 đến 9 giờ tối", vec![h(19, 21)]),
        ("xe buýt 22h-2h", vec![h(22, 2)]),
        ("người đi bộ ban đêm", vec![h(18, 6)]),
        ("person at night", vec![h(18, 6)]),
        ("xe máy giờ cao điểm", vec![h(6, 9), h(16, 19)]),
        ("trucks in rush hour", vec![h(6, 9), h(16, 19)]),
        ("xe tải buổi trưa", vec![h(11, 13)]),
    ];
    for (text, clock) in every_day {
        let q = parse(text, now(), &[]);
        assert_eq!(
            (q.from, q.to, &q.clock),
            (None, None, &clock),
            "{text}: {q:?}"
        );
    }
    let windows = [
        ("xe tải hôm qua", "2026-11-25T00:00", "2026-11-26T00:00"),
        ("xe tải hôm kia", "2026-11-24T00:00", "2026-11-25T00:00"),
        (
            "xe tải 3 ngày trước",
            "2026-11-23T00:00",
            "2026-11-24T00:00",
        ),
        ("truck 3 days ago", "2026-11-23T00:00", "2026-11-24T00:00"),
        (
            "xe tải thứ hai tuần trước",
            "2026-11-16T00:00",
            "2026-11-17T00:00",
        ),
        ("truck last monday", "2026-11-23T00:00", "2026-11-24T00:00"),
        ("xe tải thứ năm", "2026-11-26T00:00", "2026-11-27T00:00"),
        (
            "truck last thursday",
            "2026-11-19T00:00",
            "2026-11-20T00:00",
        ),
        ("xe tải chủ nhật", "2026-11-22T00:00", "2026-11-23T00:00"),
        ("xe tải ngày 25/11", "2026-11-25T00:00", "2026-11-26T00:00"),
        ("xe tải 25-11-2026", "2026-11-25T00:00", "2026-11-26T00:00"),
        ("xe tải 24/12", "2025-12-24T00:00", "2025-12-25T00:00"),
        ("xe tải tuần trước", "2026-11-16T00:00", "2026-11-23T00:00"),
        ("xe tải tối qua 8pm", "2026-11-25T19:30", "2026-11-25T20:30"),
        (
            "xe tải 8 giờ tối hôm qua",
            "2026-11-25T19:30",
            "2026-11-25T20:30",
        ),
        ("xe máy tối hôm qua", "2026-11-25T18:00", "2026-11-26T00:00"),
        ("xe máy sáng nay", "2026-11-26T06:00", "2026-11-26T12:00"),
        (
            "people this morning",
            "2026-11-26T06:00",
            "2026-11-26T12:00",
        ),
        ("xe buýt đêm 25/11", "2026-11-25T22:00", "2026-11-26T05:00"),
    ];
    for (text, from, to) in windows {
        let q = parse(text, now(), &[]);
        let at = |s: &str| Some(local(&format!("{s}:00+07:00")));
        assert_eq!((q.from, q.to), (at(from), at(to)), "{text}: {q:?}");
        assert!(q.clock.is_empty(), "{text}: {q:?}");
    }
}

#[test]
fn typos_are_read_as_the_near_word_and_shown() {
    let q = parse("red motobike", now(), &[]);
    assert_eq!(q.classes, vec!["motorcycle"]);
    assert_eq!(q.color.as_deref(), Some("red"));
    assert_eq!(q.corrected, vec![("motobike".into(), "motorbike".into())]);
    // Real words are not typos: English ones, Vietnamese syllables, anything with diacritics.
    for text in [
        "man in white shirt while running",
        "người đi vào quảng trường",
        "nguoi di vao quang truong",
        "xe máy ở đường Lê Lợi",
    ] {
        let q = parse(text, now(), &[]);
        assert!(q.corrected.is_empty(), "{text}: {q:?}");
    }
}

#[test]
fn a_query_with_nothing_understood_says_so() {
    for text in [
        "đánh nhau",
        "🚗🚗🚗",
        "'; DROP TABLE events; --",
        "do",
        "\u{200f}abc\0",
    ] {
        let q = parse(text, now(), &[]);
        assert!(q.understood_nothing(), "{text}: {q:?}");
    }
    for text in [
        "",
        "xe máy",
        "hôm qua",
        "biển 51",
        "umbrella near ben thanh",
    ] {
        let q = parse(text, now(), &["ben-thanh-1".to_string()]);
        assert!(!q.understood_nothing(), "{text}: {q:?}");
    }
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
        ("xe tải đậu trái phép", None, Some("illegal_parking")),
        ("ô tô đậu sai quy định", None, Some("illegal_parking")),
        ("đầu xe màu đỏ", Some("red"), None),
        ("xe máy đèn pha", None, None),
        ("người sáng nay", None, None),
    ] {
        let q = parse(text, now(), &[]);
        assert_eq!(q.color.as_deref(), colour, "{text}: {q:?}");
        assert_eq!(q.violation.as_deref(), violation, "{text}: {q:?}");
    }
    // Time words: "tôi" (I) and "sang" (to cross) are not times.
    for text in ["tôi tìm xe máy", "người sang đường"] {
        let q = parse(text, now(), &[]);
        assert_eq!((q.from, &q.clock[..]), (None, &[][..]), "{text}: {q:?}");
    }
    let q = parse("xe máy buổi tối", now(), &[]);
    assert!(!q.clock.is_empty());
    let q = parse("xe máy tối", now(), &[]);
    assert!(
        !q.clock.is_empty(),
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

#[test]
fn everyday_vehicle_words_and_colours_on_the_edge_palette() {
    for (text, class, colour) in [
        ("xe ôm áo xanh", "motorcycle", None),
        ("xe container", "truck", None),
        ("xe bán tải màu ghi", "truck", Some("grey")),
        ("ba gác", "motorcycle", None),
        ("xe đầu kéo", "truck", None),
        ("silver car", "car", Some("grey")),
        ("ô tô màu bạc", "car", Some("grey")),
        ("xe cứu thương", "car", None),
    ] {
        let q = parse(text, now(), &[]);
        assert!(q.classes.contains(&class.to_string()), "{text}: {q:?}");
        assert_eq!(q.color.as_deref(), colour, "{text}: {q:?}");
    }
}
