use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use central_hub::config::HubConfig;
use clap::{Parser, Subcommand};

/// Mắt Thần central hub: MQTT ingest into an event store, description search, HTTP API and web UI.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest events from the broker and serve the API and web UI until SIGINT/SIGTERM.
    Serve {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Search stored events by description, e.g. "người áo trắng 8-9h" or "red car inbound".
    Search {
        #[arg(short, long)]
        config: PathBuf,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print results as JSON lines instead of text.
        #[arg(long)]
        json: bool,
        query: String,
    },
    /// Check the audit log's hash chain: names each edited row and each row whose predecessor
    /// was deleted; prints the head hash to record elsewhere. Exits 1 on any problem.
    AuditVerify {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Forensic cases and their progress (videos done, hours analysed, rate, time left) as
    /// progress bars; with --case, that case's videos; with --follow, redrawn until done.
    Cases {
        #[arg(short, long)]
        config: PathBuf,
        #[arg(long)]
        case: Option<i64>,
        #[arg(long)]
        follow: bool,
    },
    /// Print the sha256 of a token, for the [[tokens]] table of the config.
    HashToken { token: String },
    /// Validate a config file.
    CheckConfig { file: PathBuf },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: logs written to files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
        Command::Serve { config } => {
            let cfg = HubConfig::load(&config)?;
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(sig, stop.clone())
                    .context("installing signal handlers")?;
            }
            let rt = tokio::runtime::Runtime::new()?;
            let stats = rt.block_on(central_hub::server::serve(cfg, stop))?;
            println!(
                "central-hub: received {}, stored {}, duplicates {}, rejected {}, evidence {}",
                stats.received.load(Ordering::Relaxed),
                stats.stored.load(Ordering::Relaxed),
                stats.duplicates.load(Ordering::Relaxed),
                stats.rejected.load(Ordering::Relaxed),
                stats.evidence.load(Ordering::Relaxed),
            );
            Ok(())
        }
        Command::Search {
            config,
            limit,
            json,
            query,
        } => {
            let cfg = HubConfig::load(&config)?;
            let mut store = central_hub::store::open(&cfg.db)?;
            let e = &cfg.embedding;
            let mut embedder = central_hub::embed::Embedder::load(
                &e.model,
                &e.tokenizer,
                e.ort_library.as_deref(),
            )?;
            let (q, hits) = central_hub::search::search(
                store.as_mut(),
                &mut embedder,
                &query,
                chrono::Utc::now(),
                limit,
            )?;
            if json {
                for h in &hits {
                    println!("{}", serde_json::to_string(h)?);
                }
                return Ok(());
            }
            println!("query: {query:?}");
            println!("understood: {}", describe(&q));
            for (i, h) in hits.iter().enumerate() {
                println!("{:2}. {}  [{}]", i + 1, h.row.caption, h.reasons.join("; "));
            }
            if hits.is_empty() {
                println!("no matching events");
            }
            Ok(())
        }
        Command::Cases {
            config,
            case,
            follow,
        } => cases(&HubConfig::load(&config)?, case, follow),
        Command::AuditVerify { config } => {
            let cfg = HubConfig::load(&config)?;
            let mut store = central_hub::store::open(&cfg.db)?;
            let r = central_hub::store::verify_chain(&store.audit_chain()?);
            for p in &r.problems {
                println!("audit: {p}");
            }
            println!(
                "audit: {} rows chained, {} from before the chain, head {}",
                r.checked,
                r.before_chain,
                r.head.as_deref().unwrap_or("(empty)")
            );
            anyhow::ensure!(
                r.problems.is_empty(),
                "the audit log was changed: {} problem(s)",
                r.problems.len()
            );
            Ok(())
        }
        Command::HashToken { token } => {
            println!("{}", central_hub::config::sha256_hex(token.as_bytes()));
            Ok(())
        }
        Command::CheckConfig { file } => {
            let cfg = HubConfig::load(&file)?;
            println!(
                "{}: ok (db {}, listen {}, {} tokens)",
                file.display(),
                cfg.db.rsplit('@').next().unwrap_or(""),
                cfg.listen,
                cfg.tokens.len()
            );
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
        ("direction", &q.direction),
        ("violation", &q.violation),
        ("alert", &q.alert),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if let Some(p) = &q.plate {
        let how = if p.at_start { "^" } else { "~" };
        parts.push(format!("plate={how}{}", p.text));
    }
    if !q.cameras.is_empty() {
        parts.push(format!("camera={}", q.cameras.join("|")));
    }
    if !q.places.is_empty() {
        parts.push(format!("place={}", q.places.join("|")));
    }
    if let Some(h) = q.heading {
        parts.push(format!("heading={h}"));
    }
    if !q.clock.is_empty() {
        let w: Vec<String> = q
            .clock
            .iter()
            .map(|w| central_hub::query::clock_label(*w))
            .collect();
        parts.push(format!("clock={}", w.join("|")));
    }
    for (typed, read) in &q.corrected {
        parts.push(format!("{typed}→{read}"));
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        let tz = central_hub::caption::local_tz();
        parts.push(format!(
            "time={}..{}",
            f.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            t.with_timezone(&tz).format("%H:%M")
        ));
    }
    for (w, readings) in &q.ambiguous {
        parts.push(format!("{w}?={}", readings.join("|")));
    }
    if !q.terms.is_empty() {
        parts.push(format!("not understood={}", q.terms.join(" ")));
    }
    if q.understood_nothing() {
        "nothing understood (no results)".into()
    } else if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(", ")
    }
}

/// `[#####.....]  12/23 videos, 0.42 h of video, 4.1x, 00:03:10 left`
fn bar(p: &central_hub::api::Progress) -> String {
    let ended = p.done + p.failed;
    let filled = (20 * ended).checked_div(p.videos).unwrap_or(0);
    let hms = |s: f64| {
        let s = s.max(0.0) as u64;
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    };
    format!(
        "[{}{}] {ended}/{} videos{}, {:.2} h of video, {}, {} left",
        "#".repeat(filled),
        ".".repeat(20 - filled),
        p.videos,
        if p.failed > 0 {
            format!(" ({} failed)", p.failed)
        } else {
            String::new()
        },
        p.processed_s / 3600.0,
        p.rate
            .map_or("rate -".into(), |r| format!("{r:.1}x real time")),
        p.eta_s.map_or("-".into(), hms),
    )
}

/// `cases`: reads the store directly (run it on the hub's box).
fn cases(cfg: &HubConfig, only: Option<i64>, follow: bool) -> anyhow::Result<()> {
    let mut store = central_hub::store::open(&cfg.db)?;
    loop {
        let mut open = 0;
        for c in store.cases()? {
            if only.is_some_and(|id| id != c.id) {
                continue;
            }
            let (_, videos) = store.case(c.id)?.unwrap_or((c.clone(), Vec::new()));
            let p = central_hub::api::progress(&videos, chrono::Utc::now());
            open += p.queued + p.running;
            println!("case {} {:?}: {}", c.id, c.name, bar(&p));
            if only.is_some() {
                for v in &videos {
                    let state = serde_json::to_value(v.state)?;
                    println!(
                        "  {:>5} {:<8} {:>7.1}/{:<7} s  {}{}",
                        v.id,
                        state.as_str().unwrap_or(""),
                        v.processed_s,
                        v.duration_s.map_or("?".into(), |d| format!("{d:.1}")),
                        v.name,
                        v.error
                            .as_deref()
                            .map(|e| format!("  ({e})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        if !follow || open == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        println!();
    }
}
