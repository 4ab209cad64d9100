//! Detection on the part of a camera's frame that its lines and zones look at (issue #20).
//!
//! A camera that watches one stop line or one counting line spends most of its detector time on
//! pixels no rule reads. With `[cameras.detect_region]` the model runs on a window of its
//! whole-frame input instead: the same scale and the same sample positions, only fewer of them,
//! so an object inside the window looks to the model as it does in a whole-frame run, and the
//! model's cost falls with the window's area. The price is that nothing outside the window is
//! detected at all (no events, plates, colours or search hits from there), which is why it is
//! chosen per camera and never on by default.

use serde::Deserialize;

use crate::analytics::{Line, Zone};
use crate::config::{ConfigError, Scope};

/// Part of the frame as fractions (origin top-left), `x1 < x2` and `y1 < y2` within 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    rect: [f64; 4],
}

/// `[cameras.detect_region]`: `around = "geometry"` (with an optional `margin`) or `rect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    around: Option<String>,
    margin: Option<f64>,
    rect: Option<[f64; 4]>,
}

/// Room around the lines and zones, as a fraction of the frame on each side: a track must be
/// confirmed before its anchor reaches a line, and an object straddling the window's edge is
/// seen cut in two.
pub const DEFAULT_MARGIN: f64 = 0.1;

impl RawRegion {
    pub fn validate(
        self,
        s: &Scope,
        lines: &[Line],
        zones: &[Zone],
    ) -> Result<Region, ConfigError> {
        let rect = match (self.around.as_deref(), self.rect) {
            (Some(_), Some(_)) => return Err(s.err("", "give `around` or `rect`, not both")),
            (None, None) => {
                return Err(s.err(
                    "",
                    "needs `around = \"geometry\"` (the camera's lines and zones) or `rect = [x1, y1, x2, y2]`",
                ));
            }
            (None, Some(_)) if self.margin.is_some() => {
                return Err(s.err("margin", "only applies with `around`"));
            }
            (None, Some(r)) => r,
            (Some("geometry"), None) => {
                let margin = self.margin.unwrap_or(DEFAULT_MARGIN);
                if !(0.0..=0.5).contains(&margin) {
                    return Err(s.err(
                        "margin",
                        format!("{margin} is not within 0..=0.5 (a fraction of the frame)"),
                    ));
                }
                let boxes = lines.iter().map(Line::bounds);
                let [x1, y1, x2, y2] = boxes
                    .chain(zones.iter().map(Zone::bounds))
                    .reduce(|a, b| {
                        [
                            a[0].min(b[0]),
                            a[1].min(b[1]),
                            a[2].max(b[2]),
                            a[3].max(b[3]),
                        ]
                    })
                    .ok_or_else(|| {
                        s.err("around", "this camera has no lines or zones to look around")
                    })?;
                let rect =
                    [x1 - margin, y1 - margin, x2 + margin, y2 + margin].map(|v| v.clamp(0.0, 1.0));
                if rect[0] >= rect[2] || rect[1] >= rect[3] {
                    return Err(s.err(
                        "margin",
                        "the lines and zones have no area here (one straight line?); give a margin above 0",
                    ));
                }
                rect
            }
            (Some(other), None) => {
                return Err(s.err(
                    "around",
                    format!("{other:?} is not known; the one choice is \"geometry\" (the camera's lines and zones)"),
                ));
            }
        };
        Region::new(rect).map_err(|e| s.err("rect", e))
    }
}

/// A window of the model's whole-frame input, in its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Window {
    pub fn full(w: usize, h: usize) -> Self {
        Self { x: 0, y: 0, w, h }
    }
}

/// The coarsest feature map of the detectors we run is 32 times smaller than the input: windows
/// are multiples of it (the network needs that) and start on the whole-frame input's 32-pixel
/// grid, so their feature cells are the whole-frame run's cells.
const ALIGN: usize = 32;

impl Region {
    /// `rect` = [x1, y1, x2, y2] as fractions of the frame.
    pub fn new(rect: [f64; 4]) -> Result<Self, String> {
        let [x1, y1, x2, y2] = rect;
        if !rect.iter().all(|v| (0.0..=1.0).contains(v)) || x1 >= x2 || y1 >= y2 {
            return Err(format!(
                "{rect:?} is not [x1, y1, x2, y2] with 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1"
            ));
        }
        Ok(Self { rect })
    }

    pub fn rect(&self) -> [f64; 4] {
        self.rect
    }

    /// The window of a `w`×`h` model input that covers this region, where the frame fills
    /// `content` (x, y, width, height in input pixels; the whole input unless letterboxed).
    pub fn window(&self, w: usize, h: usize, content: [f64; 4]) -> Window {
        let [cx, cy, cw, ch] = content;
        let [x1, y1, x2, y2] = self.rect;
        let (x, ww) = span(cx + x1 * cw, cx + x2 * cw, w);
        let (y, hh) = span(cy + y1 * ch, cy + y2 * ch, h);
        Window { x, y, w: ww, h: hh }
    }
}

/// Start and length of the aligned span holding `a..b` within `0..n`; all of it when no
/// shorter span does.
fn span(a: f64, b: f64, n: usize) -> (usize, usize) {
    let mut start = (a.max(0.0).floor() as usize / ALIGN) * ALIGN;
    let end = (b.max(0.0).ceil() as usize).min(n);
    let mut len = end.saturating_sub(start).div_ceil(ALIGN).max(1) * ALIGN;
    if start + len > n {
        // Back onto the grid inside the input, growing to still reach `end`.
        start = n.saturating_sub(len) / ALIGN * ALIGN;
        len = (end - start).div_ceil(ALIGN) * ALIGN;
    }
    if len >= n || start + len > n {
        return (0, n);
    }
    (start, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_aligned_and_cover_the_region() {
        // A vertical line at x = 0.5 with the default margin on a 416-wide input.
        assert_eq!(span(0.4 * 416.0, 0.6 * 416.0, 416), (160, 96));
        // Touching the far edge: shifted back onto the grid, still covering.
        assert_eq!(span(390.0, 416.0, 416), (384, 32));
        assert_eq!(span(380.0, 416.0, 416), (352, 64));
        // Nearly everything: the whole input.
        assert_eq!(span(10.0, 410.0, 416), (0, 416));
        // An input that is not a multiple of 32 cannot hold an aligned span at its far edge.
        assert_eq!(span(380.0, 400.0, 400), (0, 400));
        for (a, b) in [(0.0, 1.0), (31.9, 32.1), (200.0, 300.0), (0.0, 415.0)] {
            let (s, l) = span(a, b, 416);
            assert!(
                s as f64 <= a && (s + l) as f64 >= b.min(416.0),
                "{a}..{b} -> {s}+{l}"
            );
            assert!(s % ALIGN == 0 && (l % ALIGN == 0 || l == 416));
        }
    }

    fn raw(toml: &str) -> RawRegion {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn validation_names_the_problem() {
        let file = std::path::Path::new("edge.toml");
        let s = Scope::root(file).at("cameras[0]").at("detect_region");
        let line = Line::new("l", &[[0.5, 0.2], [0.5, 0.6]], 0.0, None).unwrap();
        let zone = Zone::new("z", &[[0.1, 0.7], [0.3, 0.7], [0.3, 0.9]], None, None).unwrap();
        let r = raw("around = \"geometry\"")
            .validate(&s, std::slice::from_ref(&line), &[zone])
            .unwrap();
        let want = [0.0, 0.1, 0.6, 1.0];
        assert!(
            r.rect().iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9),
            "{r:?}"
        );
        // Each bad table, with the lines it sees, and what its error must say.
        let lines = std::slice::from_ref(&line);
        let cases: [(&str, &[Line], &[&str]); 5] = [
            // A vertical line alone has no width without a margin.
            (
                "around = \"geometry\"\nmargin = 0",
                lines,
                &["cameras[0].detect_region.margin", "no area"],
            ),
            (
                "around = \"geometry\"",
                &[],
                &["detect_region.around", "no lines or zones"],
            ),
            ("around = \"lines\"", lines, &["\"geometry\""]),
            ("rect = [0.5, 0.0, 0.4, 1.0]", &[], &["detect_region.rect"]),
            (
                "rect = [0.1, 0.0, 0.4, 1.0]\nmargin = 0.1",
                &[],
                &["detect_region.margin"],
            ),
        ];
        for (toml, lines, says) in cases {
            let e = raw(toml).validate(&s, lines, &[]).unwrap_err().to_string();
            assert!(says.iter().all(|w| e.contains(w)), "{toml}: {e}");
        }
        assert!(raw("").validate(&s, &[line], &[]).is_err());
        assert!(toml::from_str::<RawRegion>("around = \"geometry\"\nmargins = 1").is_err());
    }

    #[test]
    fn a_letterboxed_frame_maps_through_its_content() {
        let r = Region {
            rect: [0.0, 0.5, 1.0, 1.0],
        };
        // 640x480 content centred in a 640x640 input: rows 80..560, the region 320..560.
        assert_eq!(
            r.window(640, 640, [0.0, 80.0, 640.0, 480.0]),
            Window {
                x: 0,
                y: 320,
                w: 640,
                h: 256
            }
        );
    }
}
