//! Prints recall@10 and MRR of description search on the labelled query set (eval/).
//!
//! cargo run --release -p central-hub --example search_eval   (after scripts/setup.sh)

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = root.parent().expect("workspace").join("models");
    let dir = tempfile::tempdir()?;
    let mut store =
        central_hub::store::open(dir.path().join("eval.db").to_str().expect("utf-8 path"))?;
    let mut emb = central_hub::embed::Embedder::load(
        &models.join("minilm-l6-v2-int8.onnx"),
        &models.join("minilm-l6-v2-tokenizer.json"),
        None,
    )?;
    let report = central_hub::eval::run(&root.join("eval"), store.as_mut(), &mut emb)?;
    for q in &report.queries {
        let rank = q.first_rank.map_or("-".to_string(), |r| r.to_string());
        println!(
            "{:>4}  recall@10 {:.2}  first hit at {rank:>2}  {}",
            if q.recall_at_10 < 1.0 { "MISS" } else { "" },
            q.recall_at_10,
            q.query
        );
    }
    println!(
        "{} queries: recall@10 = {:.3} (goal >= 0.9), MRR = {:.3}",
        report.queries.len(),
        report.recall_at_10,
        report.mrr
    );
    Ok(())
}
