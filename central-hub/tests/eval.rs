//! The labelled query set (eval/) must keep recall@10 at or above 0.9.

mod support;

#[test]
fn labelled_queries_meet_recall_goal() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = central_hub::store::open(dir.path().join("eval.db").to_str().unwrap()).unwrap();
    let mut emb = support::embedder();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval");
    let report = central_hub::eval::run(&root, store.as_mut(), &mut emb).unwrap();
    assert!(report.queries.len() >= 40, "at least 40 labelled queries");
    let misses: Vec<_> = report
        .queries
        .iter()
        .filter(|q| q.recall_at_10 < 1.0)
        .map(|q| &q.query)
        .collect();
    println!(
        "recall@10 {:.3}, MRR {:.3}, misses {misses:?}",
        report.recall_at_10, report.mrr
    );
    assert!(
        report.recall_at_10 >= 0.9,
        "recall@10 {:.3}; misses {misses:?}",
        report.recall_at_10
    );
    assert!(report.mrr >= 0.8, "MRR {:.3}", report.mrr);
}
