//! The labelled query sets (eval/): the first must keep recall@10 at or above 0.9; the second
//! (times, typos, plates, queries with nothing understood; every relevant object labelled) is
//! held to recall@10 and precision@10 of 0.95.

mod support;

fn score(set: &str) -> central_hub::eval::Report {
    let dir = tempfile::tempdir().unwrap();
    let mut store = central_hub::store::open(dir.path().join("eval.db").to_str().unwrap()).unwrap();
    let mut emb = support::embedder();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval");
    let report = central_hub::eval::run(&root, set, store.as_mut(), &mut emb).unwrap();
    let misses: Vec<_> = report
        .queries
        .iter()
        .filter(|q| q.recall_at_10 < 1.0 || q.precision_at_10 < 1.0)
        .map(|q| (&q.query, q.recall_at_10, q.precision_at_10))
        .collect();
    println!(
        "{set}: {} queries, recall@10 {:.3}, precision@10 {:.3}, MRR {:.3}, imperfect {misses:?}",
        report.queries.len(),
        report.recall_at_10,
        report.precision_at_10,
        report.mrr
    );
    report
}

#[test]
fn labelled_queries_meet_recall_goal() {
    let report = score("queries.toml");
    assert!(report.queries.len() >= 40, "at least 40 labelled queries");
    assert!(
        report.recall_at_10 >= 0.9,
        "recall@10 {:.3}",
        report.recall_at_10
    );
    assert!(report.mrr >= 0.8, "MRR {:.3}", report.mrr);
}

#[test]
fn times_typos_and_plates_meet_recall_and_precision_goals() {
    let report = score("queries-times-typos-plates.toml");
    assert!(report.queries.len() >= 35, "{}", report.queries.len());
    assert!(
        report.recall_at_10 >= 0.95,
        "recall@10 {:.3}",
        report.recall_at_10
    );
    assert!(
        report.precision_at_10 >= 0.95,
        "precision@10 {:.3}",
        report.precision_at_10
    );
}
