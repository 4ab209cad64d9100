//! Prints recall@10, precision@10 and MRR of description search on the labelled query sets
//! (eval/).
//!
//! cargo run --release -p central-hub --example search_eval   (after scripts/setup.sh)

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = root.parent().expect("workspace").join("models");
    for set in ["queries.toml", "queries-times-typos-plates.toml"] {
        let dir = tempfile::tempdir()?;
        let mut store =
            central_hub::store::open(dir.path().join("eval.db").to_str().expect("utf-8 path"))?;
        let mut emb = central_hub::embed::Embedder::load(
            &models.join("minilm-l6-v2-int8.onnx"),
            &models.join("minilm-l6-v2-tokenizer.json"),
            None,
        )?;
        let report = central_hub::eval::run(&root.join("eval"), set, store.as_mut(), &mut emb)?;
        for q in &report.queries {
            let rank = q.first_rank.map_or("-".to_string(), |r| r.to_string());
            let miss = q.recall_at_10 < 1.0 || q.precision_at_10 < 1.0;
            println!(
                "{:>4}  recall@10 {:.2}  precision@10 {:.2}  first hit at {rank:>2}  {}",
                if miss { "MISS" } else { "" },
                q.recall_at_10,
                q.precision_at_10,
                q.query
            );
        }
        println!(
            "{set}: {} queries: recall@10 = {:.3}, precision@10 = {:.3}, MRR = {:.3}",
            report.queries.len(),
            report.recall_at_10,
            report.precision_at_10,
            report.mrr
        );
    }
    Ok(())
}
