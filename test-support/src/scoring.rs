//! Scoring reported events against hand labels, shared by the vtest suite and the benches.

/// Greedy one-to-one matching of detections to labels of the same key within a tolerance: each
/// detection takes the nearest unused label. Returns (true positives, unmatched detections,
/// unmatched labels).
pub fn matched(
    found: &[(String, f64)],
    labels: &[(String, f64)],
    tol: f64,
) -> (usize, Vec<(String, f64)>, usize) {
    let mut used = vec![false; labels.len()];
    let mut tp = 0;
    let mut extra = Vec::new();
    for (k, t) in found {
        let best = labels
            .iter()
            .enumerate()
            .filter(|(i, (lk, lt))| !used[*i] && lk == k && (lt - t).abs() <= tol)
            .min_by(|a, b| (a.1.1 - t).abs().total_cmp(&(b.1.1 - t).abs()));
        match best {
            Some((i, _)) => {
                used[i] = true;
                tp += 1;
            }
            None => extra.push((k.clone(), *t)),
        }
    }
    (tp, extra, used.iter().filter(|u| !**u).count())
}
