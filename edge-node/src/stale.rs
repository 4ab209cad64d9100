//! Frozen-picture detection: a stream can stay "alive" (frames keep coming) while the camera
//! sends the same image over and over (a hung encoder, a lens cap, a stuck frame buffer). Real
//! sensors add noise to every frame, so an exactly repeated picture for long is a fault.

use chrono::{DateTime, Utc};

use crate::frame::RgbImage;

/// Pixels sampled per frame: enough to see any change, cheap enough for every frame.
const SAMPLES: usize = 256;

#[derive(Debug)]
pub struct FrozenCheck {
    after: chrono::Duration,
    last: Option<u64>,
    since: Option<DateTime<Utc>>,
    frozen: bool,
}

/// What changed with this frame, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Froze,
    Thawed,
}

impl FrozenCheck {
    pub fn new(after_s: f64) -> Self {
        Self {
            after: chrono::Duration::milliseconds((after_s * 1000.0) as i64),
            last: None,
            since: None,
            frozen: false,
        }
    }

    pub fn observe(&mut self, image: &RgbImage, at: DateTime<Utc>) -> Option<Change> {
        let sig = signature(image);
        if self.last == Some(sig) {
            let since = *self.since.get_or_insert(at);
            if !self.frozen && at - since >= self.after {
                self.frozen = true;
                return Some(Change::Froze);
            }
            None
        } else {
            self.last = Some(sig);
            self.since = Some(at);
            if std::mem::take(&mut self.frozen) {
                Some(Change::Thawed)
            } else {
                None
            }
        }
    }
}

/// FNV-1a over a fixed grid of sampled pixels.
fn signature(img: &RgbImage) -> u64 {
    let (w, h) = (img.width as usize, img.height as usize);
    if w == 0 || h == 0 {
        return 0;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..SAMPLES {
        // A coprime stride walks the whole frame without a regular pattern.
        let k = (i * 7919) % (w * h);
        let (x, y) = (k % w, k / w);
        let p = &img.row(y)[x * 3..x * 3 + 3];
        for b in p {
            hash ^= *b as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash ^ ((w as u64) << 32 | h as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn same_picture_for_long_freezes_and_any_change_thaws() {
        let mut c = FrozenCheck::new(30.0);
        let a = RgbImage::filled(64, 48, [10, 20, 30]);
        let mut b = a.clone();
        b.data[3 * (64 * 20 + 10)] ^= 0xff;
        assert_eq!(c.observe(&a, t(0)), None);
        assert_eq!(c.observe(&a, t(29)), None, "not yet");
        assert_eq!(c.observe(&a, t(30)), Some(Change::Froze));
        assert_eq!(c.observe(&a, t(60)), None, "reported once");
        // A change anywhere the samples look; the sampled grid covers the frame.
        let mut moved = a.clone();
        for px in moved.data.chunks_exact_mut(3).step_by(97) {
            px[0] = px[0].wrapping_add(1);
        }
        assert_eq!(c.observe(&moved, t(61)), Some(Change::Thawed));
        assert_eq!(c.observe(&b, t(62)), None);
    }
}
