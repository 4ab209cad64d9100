//! Motion windows (`[cameras.motion] windows`): where on a frame that moved the detector looks.
//!
//! Changed cells are grouped into blobs (cells within a couple of cells of each other are one
//! moving thing), each blob becomes a window with some room around it, and the windows grow
//! over the tracks they touch so that no tracked object is cut by a window's edge (a cut box
//! is dropped by the detector, and the track would read it as a miss). One bounding window
//! around everything that moved would be the whole frame on a busy square with people at both
//! ends; several small ones cost the model only their own area.

/// A rectangle as fractions of the frame: x1, y1, x2, y2.
pub type Rect = [f64; 4];

/// Bounds of the groups of `changed` cells (row, column) of a `cols`×`rows` grid, a group
/// being cells no more than `gap` cells apart either way; fractions of the frame.
pub fn blobs(changed: &[(usize, usize)], cols: usize, rows: usize, gap: usize) -> Vec<Rect> {
    let mut grid = vec![false; cols * rows];
    for &(r, c) in changed {
        grid[r * cols + c] = true;
    }
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for &(r0, c0) in changed {
        if !grid[r0 * cols + c0] {
            continue;
        }
        // Flood fill, clearing cells as they join (each cell is visited once).
        grid[r0 * cols + c0] = false;
        stack.push((r0, c0));
        let mut b = [c0, r0, c0 + 1, r0 + 1];
        while let Some((r, c)) = stack.pop() {
            b = [b[0].min(c), b[1].min(r), b[2].max(c + 1), b[3].max(r + 1)];
            for rr in r.saturating_sub(gap)..(r + gap + 1).min(rows) {
                for cc in c.saturating_sub(gap)..(c + gap + 1).min(cols) {
                    if grid[rr * cols + cc] {
                        grid[rr * cols + cc] = false;
                        stack.push((rr, cc));
                    }
                }
            }
        }
        let (w, h) = (cols as f64, rows as f64);
        out.push([
            b[0] as f64 / w,
            b[1] as f64 / h,
            b[2] as f64 / w,
            b[3] as f64 / h,
        ]);
    }
    out
}

fn grow(r: Rect, m: f64) -> Rect {
    [r[0] - m, r[1] - m, r[2] + m, r[3] + m].map(|v| v.clamp(0.0, 1.0))
}

fn union(a: Rect, b: Rect) -> Rect {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

fn touches(a: &Rect, b: &Rect) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

fn area(r: &Rect) -> f64 {
    (r[2] - r[0]) * (r[3] - r[1])
}

/// The windows to detect in around `moved` (blobs, fractions of the frame): each grown by
/// `margin` on each side; every moving track (with room for where it may have gone since: a
/// vehicle hidden behind a bus makes no motion of its own) a window too; then every window
/// grown over the track boxes it touches, and windows that touch merged, until nothing changes.
/// None when they would cover more than `whole_above` of the frame together, or number more
/// than `most`: a whole-frame run then costs little more and sees everything.
pub fn windows(
    moved: &[Rect],
    tracks: &[(Rect, bool)],
    margin: f64,
    whole_above: f64,
    most: usize,
) -> Option<Vec<Rect>> {
    let mut ws: Vec<Rect> = moved.iter().map(|b| grow(*b, margin)).collect();
    // A moving track may have gone up to half its size further by this frame.
    for (b, _) in tracks.iter().filter(|(_, moving)| *moving) {
        let half = (b[2] - b[0]).max(b[3] - b[1]) / 2.0;
        ws.push(grow(*b, margin + half));
    }
    let boxes: Vec<Rect> = tracks.iter().map(|(b, _)| grow(*b, margin)).collect();
    // Each pass only grows or merges windows, and there are finitely many boxes: it ends.
    loop {
        let before = ws.clone();
        for w in &mut ws {
            *w = boxes
                .iter()
                .filter(|b| touches(b, w))
                .fold(*w, |a, b| union(a, *b));
        }
        let mut merged: Vec<Rect> = Vec::with_capacity(ws.len());
        for w in ws {
            let mut w = w;
            // Fold in every kept window it touches (repeatedly: the union may touch more).
            while let Some(i) = merged.iter().position(|m| touches(m, &w)) {
                w = union(w, merged.swap_remove(i));
            }
            merged.push(w);
        }
        ws = merged;
        if ws == before {
            break;
        }
    }
    let covered: f64 = ws.iter().map(area).sum();
    (!ws.is_empty() && ws.len() <= most && covered <= whole_above).then_some(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[Rect], b: &[Rect]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-9))
    }

    #[test]
    fn changed_cells_near_each_other_are_one_blob() {
        // A 10x10 grid: a 2x2 group at the top left, one cell two columns right of it (joins),
        // one three columns right (does not), and a cell at the bottom right.
        let changed = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 3), (0, 6), (9, 9)];
        let b = blobs(&changed, 10, 10, 2);
        let want = [
            [0.0, 0.0, 0.4, 0.2],
            [0.6, 0.0, 0.7, 0.1],
            [0.9, 0.9, 1.0, 1.0],
        ];
        assert!(close(&b, &want), "{b:?}");
        assert!(blobs(&[], 10, 10, 2).is_empty());
    }

    #[test]
    fn windows_take_in_the_tracks_they_touch_and_moving_ones() {
        let moved = [[0.40, 0.40, 0.50, 0.50]];
        let parked_far = ([0.0, 0.0, 0.1, 0.1], false);
        let parked_near = ([0.48, 0.45, 0.70, 0.60], false);
        let hidden_mover = ([0.80, 0.80, 0.90, 0.90], true);
        let w = windows(&moved, &[parked_far], 0.04, 0.6, 8).unwrap();
        assert!(close(&w, &[[0.36, 0.36, 0.54, 0.54]]), "{w:?}");
        // A parked car the window touches is taken in whole (with the margin), not cut.
        let w = windows(&moved, &[parked_far, parked_near], 0.04, 0.6, 8).unwrap();
        assert!(close(&w, &[[0.36, 0.36, 0.74, 0.64]]), "{w:?}");
        // A moving track far away gets a window of its own, with room for where it has gone.
        let w = windows(&moved, &[hidden_mover], 0.04, 0.6, 8).unwrap();
        assert!(
            close(&w, &[[0.36, 0.36, 0.54, 0.54], [0.71, 0.71, 0.99, 0.99]]),
            "{w:?}"
        );
        // Most of the frame, or too many windows: detect it whole.
        assert_eq!(windows(&[[0.0, 0.0, 0.8, 0.8]], &[], 0.04, 0.6, 8), None);
        assert_eq!(windows(&moved, &[hidden_mover], 0.04, 0.6, 1), None);
    }

    #[test]
    fn windows_that_touch_merge_into_one() {
        // People at both ends of a square: two windows, not one across the frame.
        let apart = [[0.05, 0.5, 0.15, 0.7], [0.85, 0.5, 0.95, 0.7]];
        let w = windows(&apart, &[], 0.04, 0.6, 8).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        // A track box bridging them joins both into one.
        let bridge = ([0.1, 0.55, 0.9, 0.6], false);
        let w = windows(&apart, &[bridge], 0.04, 0.6, 8).unwrap();
        assert!(close(&w, &[[0.01, 0.46, 0.99, 0.74]]), "{w:?}");
    }
}
