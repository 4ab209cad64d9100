use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use central_hub::ingest::{IngestConfig, IngestStats};
use central_hub::store::Store;
use clap::{Parser, Subcommand};

/// Mắt Thần central hub: MQTT ingest into an event store, and description search.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest events from the broker into the store until SIGINT/SIGTERM.
    Serve {
        #[arg(long, default_value = "matthan-hub.db")]
        db: PathBuf,
        #[arg(long, default_value = "127.0.0.1")]
        mqtt_host: String,
        #[arg(long, default_value_t = 1883)]
        mqtt_port: u16,
        /// Shared-subscription group; hubs with the same group split the events.
        #[arg(long, default_value = "hubs")]
        group: String,
        #[arg(long, default_value = "central-hub")]
        client_id: String,
    },
    /// Search stored events by description, e.g. "người áo trắng 8-9h" or "red car inbound".
    Search {
        #[arg(long, default_value = "matthan-hub.db")]
        db: PathBuf,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print results as JSON lines instead of text.
        #[arg(long)]
        json: bool,
        query: String,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("central-hub: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve {
            db,
            mqtt_host,
            mqtt_port,
            group,
            client_id,
        } => {
            matthan_schema::validate_segment(&group)
                .map_err(|r| anyhow::anyhow!("--group: {r}"))?;
            let store = Store::open(&db)?;
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(sig, stop.clone())
                    .context("installing signal handlers")?;
            }
            let stats = Arc::new(IngestStats::default());
            let cfg = IngestConfig {
                host: mqtt_host,
                port: mqtt_port,
                client_id,
                group,
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(central_hub::ingest::run(cfg, store, stats.clone(), stop))?;
            println!(
                "central-hub: received {}, stored {}, duplicates {}, rejected {}",
                stats.received.load(Ordering::Relaxed),
                stats.stored.load(Ordering::Relaxed),
                stats.duplicates.load(Ordering::Relaxed),
                stats.rejected.load(Ordering::Relaxed)
            );
            Ok(())
        }
        Command::Search {
            db,
            limit,
            json,
            query,
        } => {
            if !db.exists() {
                anyhow::bail!(
                    "{}: no such database (run `central-hub serve` first)",
                    db.display()
                );
            }
            let store = Store::open(&db)?;
            let (q, hits) = central_hub::search::search(&store, &query, chrono::Utc::now(), limit)?;
            if json {
                for h in &hits {
                    println!(
                        "{}",
                        serde_json::json!({"id": h.row.id, "camera": h.row.camera, "kind": h.row.kind,
                            "ts": matthan_schema::format_ts(&h.row.ts), "caption": h.row.caption,
                            "score": h.score, "reasons": h.reasons})
                    );
                }
            } else {
                println!("query: {query:?}");
                println!("understood: {}", describe(&q));
                for (i, h) in hits.iter().enumerate() {
                    println!("{:2}. {}  [{}]", i + 1, h.row.caption, h.reasons.join("; "));
                }
                if hits.is_empty() {
                    println!("no matching events");
                }
            }
            Ok(())
        }
    }
}

fn describe(q: &central_hub::query::Query) -> String {
    let mut parts = Vec::new();
    if !q.classes.is_empty() {
        parts.push(format!("class={}", q.classes.join("|")));
    }
    for (k, v) in [
        ("colour", &q.color),
        ("top", &q.upper_color),
        ("bottom", &q.lower_color),
        ("plate", &q.plate),
        ("direction", &q.direction),
        ("violation", &q.violation),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if !q.cameras.is_empty() {
        parts.push(format!("camera={}", q.cameras.join("|")));
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        let tz = central_hub::caption::local_tz();
        parts.push(format!(
            "time={}..{}",
            f.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            t.with_timezone(&tz).format("%H:%M")
        ));
    }
    if !q.terms.is_empty() {
        parts.push(format!("words={}", q.terms.join(" ")));
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(", ")
    }
}
