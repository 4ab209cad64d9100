//! Per-class greedy non-maximum suppression.

use super::Candidate;

pub fn iou(a: &Candidate, b: &Candidate) -> f32 {
    let iw = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let ih = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = iw * ih;
    let union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Keeps, per class, the highest-scoring boxes that overlap no kept box by more than `max_iou`;
/// at most `limit` in all, best first.
pub fn nms_per_class(cands: Vec<Candidate>, max_iou: f32, limit: usize) -> Vec<Candidate> {
    nms_grouped(cands, max_iou, limit, &[])
}

/// As `nms_per_class`, but classes with the same `group[class]` suppress each other: COCO
/// detectors often see one vehicle as both a car and a truck, which would make two tracks.
/// Classes beyond `group`'s length are their own group.
pub fn nms_grouped(
    mut cands: Vec<Candidate>,
    max_iou: f32,
    limit: usize,
    group: &[usize],
) -> Vec<Candidate> {
    let g = |c: usize| group.get(c).copied().unwrap_or(c);
    cands.retain(|c| c.x2 > c.x1 && c.y2 > c.y1 && c.score.is_finite());
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::new();
    for c in cands {
        if kept.len() >= limit {
            break;
        }
        if kept
            .iter()
            .all(|k| g(k.class) != g(c.class) || iou(k, &c) <= max_iou)
        {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32, score: f32, class: usize) -> Candidate {
        Candidate {
            x1: x,
            y1: 0.0,
            x2: x + 10.0,
            y2: 10.0,
            score,
            class,
        }
    }

    #[test]
    fn suppresses_overlaps_within_a_class_only() {
        let out = nms_per_class(
            vec![
                b(0.0, 0.8, 0),
                b(1.0, 0.9, 0),
                b(1.0, 0.7, 1),
                b(30.0, 0.6, 0),
            ],
            0.5,
            100,
        );
        assert_eq!(out, vec![b(1.0, 0.9, 0), b(1.0, 0.7, 1), b(30.0, 0.6, 0)]);
    }

    #[test]
    fn drops_degenerate_boxes_and_respects_limit() {
        let mut flat = b(0.0, 0.99, 0);
        flat.y2 = flat.y1;
        let nan = Candidate {
            score: f32::NAN,
            ..b(50.0, 0.0, 0)
        };
        let out = nms_per_class(vec![flat, nan, b(100.0, 0.5, 0), b(200.0, 0.4, 0)], 0.5, 1);
        assert_eq!(out, vec![b(100.0, 0.5, 0)]);
    }

    #[test]
    fn iou_of_identical_and_disjoint() {
        assert_eq!(iou(&b(0.0, 1.0, 0), &b(0.0, 1.0, 0)), 1.0);
        assert_eq!(iou(&b(0.0, 1.0, 0), &b(20.0, 1.0, 0)), 0.0);
        assert!((iou(&b(0.0, 1.0, 0), &b(5.0, 1.0, 0)) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn grouped_classes_suppress_each_other() {
        // Classes 1 and 2 (car, truck) are one group; class 0 is on its own.
        let out = nms_grouped(
            vec![b(0.0, 0.5, 1), b(1.0, 0.6, 2), b(1.0, 0.7, 0)],
            0.5,
            100,
            &[0, 1, 1],
        );
        assert_eq!(out, vec![b(1.0, 0.7, 0), b(1.0, 0.6, 2)]);
    }
}
