//! Colour names from pixels, for description search ("red motorbike", "man in a white shirt").
//! No colour model with a clean licence exists offline, so this is plain HSV arithmetic on the
//! middle of the box: chromatic pixels keep their hue name even in shadow (a red jacket in
//! shade is still red), and only unsaturated pixels are called white, grey or black.

use matthan_schema::BBox;

use crate::frame::RgbImage;

/// A name must cover at least this share of the sampled pixels to be given.
const MIN_SHARE: f32 = 0.3;
/// At most this many pixels are sampled per region.
const SAMPLES: usize = 600;

/// The named palette (shared with the hub through the schema).
pub use matthan_schema::PALETTE;

/// One pixel's colour name.
pub fn name(rgb: [u8; 3]) -> &'static str {
    let [r, g, b] = rgb.map(|c| c as f32 / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let v = max;
    let s = if max > 0.0 { (max - min) / max } else { 0.0 };
    // Saturated enough to name by hue, even in shadow.
    if s >= 0.35 && v >= 0.18 {
        let d = max - min;
        let mut h = if max == r {
            60.0 * ((g - b) / d)
        } else if max == g {
            60.0 * ((b - r) / d + 2.0)
        } else {
            60.0 * ((r - g) / d + 4.0)
        };
        if h < 0.0 {
            h += 360.0;
        }
        return match h {
            h if !(15.0..345.0).contains(&h) => {
                if v < 0.45 && s < 0.6 {
                    "brown"
                } else {
                    "red"
                }
            }
            h if h < 40.0 => {
                if v < 0.6 {
                    "brown"
                } else {
                    "orange"
                }
            }
            h if h < 70.0 => {
                if v < 0.45 {
                    "brown"
                } else {
                    "yellow"
                }
            }
            h if h < 165.0 => "green",
            h if h < 255.0 => "blue",
            h if h < 290.0 => "purple",
            _ => "pink",
        };
    }
    if v < 0.22 {
        "black"
    } else if v > 0.78 && s < 0.2 {
        "white"
    } else {
        "grey"
    }
}

/// The dominant name over a region of the box given as fractions of its width and height.
fn dominant(image: &RgbImage, bbox: &BBox, xs: (f32, f32), ys: (f32, f32)) -> Option<&'static str> {
    if !bbox.is_valid() {
        return None;
    }
    let (w, h) = (bbox.x2 - bbox.x1, bbox.y2 - bbox.y1);
    let x1 = (bbox.x1 + w * xs.0).max(0.0) as u32;
    let x2 = ((bbox.x1 + w * xs.1) as u32).min(image.width);
    let y1 = (bbox.y1 + h * ys.0).max(0.0) as u32;
    let y2 = ((bbox.y1 + h * ys.1) as u32).min(image.height);
    if x2 <= x1 || y2 <= y1 {
        return None;
    }
    let area = ((x2 - x1) * (y2 - y1)) as usize;
    let step = ((area as f32 / SAMPLES as f32).sqrt().ceil() as u32).max(1);
    let mut counts = [0usize; PALETTE.len()];
    let mut n = 0;
    for y in (y1..y2).step_by(step as usize) {
        let row = image.row(y as usize);
        for x in (x1..x2).step_by(step as usize) {
            let i = x as usize * 3;
            let px = [row[i], row[i + 1], row[i + 2]];
            let k = PALETTE
                .iter()
                .position(|p| *p == name(px))
                .expect("in palette");
            counts[k] += 1;
            n += 1;
        }
    }
    let (k, best) = counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
    (n > 0 && *best as f32 >= MIN_SHARE * n as f32).then_some(PALETTE[k])
}

/// Colours of one sighting: the body for vehicles, upper and lower clothing for people.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Colours {
    pub body: Option<&'static str>,
    pub upper: Option<&'static str>,
    pub lower: Option<&'static str>,
}

pub fn of_box(image: &RgbImage, bbox: &BBox, person: bool) -> Colours {
    if person {
        // Torso below the head and above the belt; legs above the feet. The middle of the
        // width keeps the background out.
        Colours {
            body: None,
            upper: dominant(image, bbox, (0.3, 0.7), (0.2, 0.45)),
            lower: dominant(image, bbox, (0.3, 0.7), (0.55, 0.85)),
        }
    } else {
        // The middle of a vehicle is bodywork; its top (windows, rider) and bottom (wheels,
        // road) are not.
        Colours {
            body: dominant(image, bbox, (0.2, 0.8), (0.3, 0.75)),
            ..Colours::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_plain_colours_and_keeps_hue_in_shadow() {
        assert_eq!(name([220, 30, 30]), "red");
        assert_eq!(name([110, 15, 15]), "red", "red in shadow is still red");
        assert_eq!(name([240, 240, 240]), "white");
        assert_eq!(name([128, 128, 128]), "grey");
        assert_eq!(name([20, 20, 25]), "black");
        assert_eq!(name([30, 60, 200]), "blue");
        assert_eq!(name([30, 160, 40]), "green");
        assert_eq!(name([230, 210, 40]), "yellow");
        assert_eq!(name([240, 140, 20]), "orange");
        assert_eq!(name([110, 70, 30]), "brown");
        assert_eq!(name([220, 90, 170]), "pink");
    }

    #[test]
    fn a_person_in_a_white_shirt_and_black_trousers() {
        let mut img = RgbImage::filled(100, 200, [60, 140, 60]); // grass
        for y in 20..200 {
            for x in 30..70 {
                let c = if y < 110 {
                    [235, 235, 235]
                } else {
                    [15, 15, 20]
                };
                let i = y * img.stride + x * 3;
                img.data[i..i + 3].copy_from_slice(&c);
            }
        }
        let b = BBox {
            x1: 25.0,
            y1: 0.0,
            x2: 75.0,
            y2: 200.0,
        };
        let c = of_box(&img, &b, true);
        assert_eq!((c.upper, c.lower), (Some("white"), Some("black")));
        let v = of_box(&img, &b, false);
        assert_eq!(v.upper, None);
    }

    #[test]
    fn a_mixed_box_has_no_dominant_colour() {
        let mut img = RgbImage::filled(90, 90, [0, 0, 0]);
        for y in 0..90 {
            for x in 0..90 {
                let c = [[220, 30, 30], [30, 60, 200], [30, 160, 40], [230, 210, 40]]
                    [(x / 10 + y / 10) % 4];
                let i = y * img.stride + x * 3;
                img.data[i..i + 3].copy_from_slice(&c);
            }
        }
        let b = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 90.0,
            y2: 90.0,
        };
        assert_eq!(of_box(&img, &b, false).body, None);
    }
}
